// Does the CPU reference reproduce llama.cpp's greedy generation? And where it does not, why?
//
// The reference in 'ggml' numerics computes what llama.cpp computes, except that it sums each dot
// product in another order, so its f32 activations differ from llama.cpp's by a few ulps. Before
// most matmuls ggml rounds the activation to a coarser format (Q8 integers with an f16 block
// scale, f16, bf16); when a value lies that close to a rounding boundary, the two programs can
// round it to different neighbours, and one such rounding moves the logits by up to ~0.5 (one
// quantization step of one element, or one f16 step of a whole block's scale). Measured on the
// factory models: llama.cpp's top-2 logit gap was 0.10 and 0.22 at the two steps where greedy
// tokens parted, far above any "tiny" tie tolerance, and in both cases overturning a single
// rounding (1 and 0 ulps from its boundary) reproduced all of llama.cpp's logits to 1e-5.
// So a token mismatch is accepted only with evidence:
//  - 'rounding': taking at most MAX_FLIPS ambiguous roundings of the reference the other way
//    (each within WINDOW of its boundary) reproduces every one of llama.cpp's logits at that step
//    to within LOGIT_TOL, and all its tokens up to there; or
//  - 'near-tie': llama.cpp's own top-2 logits at that step are within LOGIT_TOL.
// Anything else is a mismatch. The caller decides how many allowances a sequence may use.
import { argmax } from '../../src/reference/ops.ts';
import type { ReferenceModel } from '../../src/reference/model.ts';
import type { RoundingKind, RoundingProbe, Vec } from '../../src/reference/numerics.ts';
import type { GreedyOutput } from './llamacpp-protocol.ts';

/** Half-width of the ambiguous band: Q8 quants within 512 * 2^-17 (0.4% of a quantization step)
 *  of a boundary; f16/bf16 values and Q8 block scales within 512 f32 ulps of a midpoint. A dot
 *  product summed in another order moves by up to ~n ulps of its largest terms, which is many
 *  ulps of a small result (seen: a block scale 178 ulps from its f16 midpoint, flipped). */
export const WINDOW = 512;
/** Candidates tried per overturned rounding, closest to their boundary first. */
export const MAX_CANDIDATES = 256;
/** Logit agreement that counts as "reproduced", and the top-2 gap that counts as a tie. Logits
 *  of factory models are ~50 in size; with no rounding flip, reference and llama.cpp differ by
 *  at most ~5e-5 (f32 summation order). */
export const LOGIT_TOL = 1e-3;
/** Most roundings one allowance may overturn. */
export const MAX_FLIPS = 3;

/** A probe that records each ambiguous rounding (index in evaluation order, step, distance) and
 *  overturns the ones whose index is in `flips`. */
export class FlipProbe implements RoundingProbe {
  readonly window = WINDOW;
  flips = new Set<number>();
  seen: Flip[] = [];
  step = 0;
  private next = 0;

  reset(flips: Set<number>): void {
    this.flips = flips;
    this.seen = [];
    this.next = 0;
    this.step = 0;
  }

  ambiguous(distance: number, kind: RoundingKind): boolean {
    const index = this.next++;
    this.seen.push({ index, step: this.step, distance, kind });
    return this.flips.has(index);
  }
}

export interface Flip {
  index: number;
  step: number;
  /** Distance from the rounding boundary (f32 ulps; Q8: units of 2^-17). */
  distance: number;
  kind: RoundingKind;
}

export interface Allowance {
  step: number;
  kind: 'rounding' | 'near-tie';
  /** llama.cpp's top-2 logit gap at the step. */
  gap: number;
  /** 'rounding': the overturned roundings. */
  flips?: Flip[];
  /** 'rounding': max |logit difference| at the step once they are overturned. */
  diffAfter?: number;
}

export interface Agreement {
  /** The reference's own greedy tokens. */
  ids: number[];
  /** Greedy tokens identical to llama.cpp's. */
  equal: boolean;
  allowances: Allowance[];
  /** The first step teacher forcing could not explain, if any. */
  mismatch?: { step: number; ours: number; theirs: number; gap: number; diff: number };
  /** Teacher forced with llama.cpp's tokens, no rounding overturned: the logits of each step,
   *  their max |difference| from llama.cpp's per step, and its maximum. */
  logits: Vec[];
  stepDiff: number[];
  maxLogitDiff: number;
  /** The same once the allowances' roundings are overturned (equals maxLogitDiff if none). */
  maxLogitDiffAfter: number;
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

function top2Gap(logits: readonly number[]): number {
  let a = -Infinity, b = -Infinity;
  for (const l of logits) {
    if (l > a) [a, b] = [l, a];
    else if (l > b) b = l;
  }
  return a - b;
}

function oracleLogits(oracle: GreedyOutput): number[][] {
  return oracle.steps.map((s) => {
    if (!s.logits) throw new Error('comparing logits needs the oracle run with logits: true');
    return s.logits;
  });
}

/** Teacher forcing with `flips` overturned: logits of steps 0..last (probe records tagged). */
function forced(model: ReferenceModel, probe: FlipProbe, prompt: readonly number[], ids: readonly number[], flips: Set<number>, last: number): Vec[] {
  probe.reset(flips);
  model.reset();
  const out: Vec[] = [];
  for (let s = 0; s <= last; s++) {
    probe.step = s;
    out.push(model.forward(s === 0 ? prompt : [ids[s - 1]])[0]);
  }
  return out;
}

export interface Explanation {
  /** All overturned roundings (those given plus those found). */
  flips: Set<number>;
  found: Flip[];
  /** max |logit difference| at the step with them overturned. */
  diff: number;
  /** Teacher-forced logits of steps 0..step with them overturned. */
  run: Vec[];
}

/** Overturns, one at a time, the ambiguous rounding (at or before `step`) that brings the
 *  reference's logits at `step` closest to llama.cpp's, until they agree within LOGIT_TOL or
 *  MAX_FLIPS more are used. The reference is fed llama.cpp's tokens (teacher forcing). */
export function explainStep(model: ReferenceModel, probe: FlipProbe, prompt: readonly number[], oracle: GreedyOutput, step: number, given = new Set<number>()): Explanation {
  const llama = oracleLogits(oracle)[step];
  let flips = given;
  let run = forced(model, probe, prompt, oracle.ids, flips, step);
  let seen = probe.seen;
  let diff = maxAbsDiff(run[step], llama);
  for (let k = 0; k < MAX_FLIPS && diff > LOGIT_TOL; k++) {
    let best: { set: Set<number>; run: Vec[]; seen: Flip[]; diff: number } | undefined;
    const candidates = seen.filter((c) => c.step <= step && !flips.has(c.index))
      .sort((a, b) => a.distance - b.distance).slice(0, MAX_CANDIDATES);
    for (const c of candidates) {
      const set = new Set([...flips, c.index]);
      const r = forced(model, probe, prompt, oracle.ids, set, step);
      const d = maxAbsDiff(r[step], llama);
      if (!best || d < best.diff) best = { set, run: r, seen: probe.seen, diff: d };
    }
    if (!best || best.diff >= diff) break;
    ({ set: flips, run, seen, diff } = best);
  }
  const found = seen.filter((c) => flips.has(c.index) && !given.has(c.index));
  return { flips, found, diff, run };
}

/** Compares the reference (a 'ggml' model built with `probe`) with llama.cpp's greedy output
 *  (run with logits) for the same prompt. */
export function agreement(model: ReferenceModel, probe: FlipProbe, prompt: readonly number[], oracle: GreedyOutput): Agreement {
  const theirs = oracle.ids, n = theirs.length;
  const llama = oracleLogits(oracle);

  // Teacher forcing, nothing overturned. While its argmax follows llama.cpp's tokens, it is also
  // the reference's own greedy run; past a difference, greedy is run on its own.
  let flips = new Set<number>();
  let run = forced(model, probe, prompt, theirs, flips, n - 1);
  const logits = run;
  let ids = run.map((l) => argmax(l));
  const first = ids.findIndex((t, i) => t !== theirs[i]);
  const equal = first < 0;
  if (!equal) {
    probe.reset(new Set());
    model.reset();
    ids = [];
    let [l] = model.forward(prompt);
    for (let s = 0; s < n; s++) {
      ids.push(argmax(l));
      if (s + 1 < n) [l] = model.forward([ids[s]]);
    }
  }
  const stepDiff = run.map((l, s) => maxAbsDiff(l, llama[s]));
  const maxLogitDiff = Math.max(...stepDiff);
  const result: Agreement = { ids, equal, allowances: [], logits, stepDiff, maxLogitDiff, maxLogitDiffAfter: maxLogitDiff };
  if (equal) return result;

  for (let s = 0; s < n; s++) {
    if (argmax(run[s]) === theirs[s]) continue;
    const gap = top2Gap(llama[s]);
    if (gap < LOGIT_TOL) {
      result.allowances.push({ step: s, kind: 'near-tie', gap });
      continue;
    }
    const e = explainStep(model, probe, prompt, oracle, s, flips);
    const explained = e.diff <= LOGIT_TOL && e.run.every((l, t) => argmax(l) === theirs[t]);
    if (!explained) {
      result.mismatch = { step: s, ours: argmax(run[s]), theirs: theirs[s], gap, diff: maxAbsDiff(run[s], llama[s]) };
      return result;
    }
    result.allowances.push({ step: s, kind: 'rounding', gap, flips: e.found, diffAfter: e.diff });
    flips = e.flips;
    run = forced(model, probe, prompt, theirs, flips, n - 1);
  }
  result.maxLogitDiffAfter = Math.max(...run.map((l, s) => maxAbsDiff(l, llama[s])));
  return result;
}
