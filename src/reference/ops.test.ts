// The reference's operations against straightforward float64 math written out here, on small
// random inputs. 'exact' numerics must agree to float64 rounding; 'ggml' numerics to f32 rounding
// (or to the precision of the format ggml converts to).
import { describe, expect, it } from 'vitest';
import { GGMLType } from '../gguf/types.ts';
import type { RopeConstants } from '../model/plan.ts';
import { attend, storeKV, type AttentionShape } from './attention.ts';
import { route } from './ffn.ts';
import { convertActivation, matvec, type Weight } from './matmul.ts';
import { expf, numerics, roundHalfEven, roundQ, roundTo, ulpF32, vExpf, type Num, type RoundingKind } from './numerics.ts';
import { roundF16 } from '../gguf/half.ts';
import { f16Neighbours } from './matmul.ts';
import { geluScalar, rmsNorm, rope, ropeCosSin, softmax, swiglu } from './ops.ts';
import { seededRandom } from '../util/random.ts';

const EXACT = numerics('exact'), GGML = numerics('ggml');

/** n values uniform in [-scale, scale), from the shared seeded PRNG. */
function rng(seed: number) {
  const r = seededRandom(seed);
  return (n: number, scale = 1) => Float64Array.from({ length: n }, () => (r.uniform() * 2 - 1) * scale);
}

/** |a - b| <= tol * max(1, |b|) elementwise. */
function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number) {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= tol * Math.max(1, Math.abs(b[i])))) {
      throw new Error(`element ${i}: ${a[i]} vs ${b[i]} (tolerance ${tol})`);
    }
  }
}

const vecOf = (num: Num, x: ArrayLike<number>) => {
  const v = num.vec(x.length);
  v.set(x);
  return v;
};

describe('rmsNorm', () => {
  const rand = rng(1);
  const x = rand(96, 3), w = rand(32, 2);
  // rows of 32: y = x / sqrt(mean(x^2) + eps) * w
  const want = new Float64Array(96);
  for (let o = 0; o < 96; o += 32) {
    let ss = 0;
    for (let i = 0; i < 32; i++) ss += x[o + i] ** 2;
    for (let i = 0; i < 32; i++) want[o + i] = (x[o + i] / Math.sqrt(ss / 32 + 1e-5)) * w[i];
  }
  it('exact numerics match float64', () => expectClose(rmsNorm(EXACT, vecOf(EXACT, x), w, 1e-5, 32), want, 1e-12));
  it('ggml numerics match to f32 rounding', () => expectClose(rmsNorm(GGML, vecOf(GGML, x), Float32Array.from(w), Math.fround(1e-5), 32), want, 1e-6));
});

const unscaled = (base: number): RopeConstants => ({ base, freqScale: 1, extFactor: 0, attnFactor: 1, corrDims: [0, 0] });

describe('rope', () => {
  const nHeads = 3, headDim = 16, pos = 37, base = 10000;
  for (const mode of ['norm', 'neox'] as const) {
    for (const nDims of [16, 8]) {
      it(`${mode}, ${nDims} of ${headDim} dims rotated: each pair turned by pos * base^(-2i/nDims)`, () => {
        const x = rng(2)(nHeads * headDim);
        const want = Float64Array.from(x);
        for (let h = 0; h < nHeads; h++) {
          for (let i = 0; i < nDims / 2; i++) {
            const [a, b] = mode === 'norm' ? [h * headDim + 2 * i, h * headDim + 2 * i + 1] : [h * headDim + i, h * headDim + i + nDims / 2];
            const t = pos / base ** ((2 * i) / nDims);
            want[a] = x[a] * Math.cos(t) - x[b] * Math.sin(t);
            want[b] = x[a] * Math.sin(t) + x[b] * Math.cos(t);
          }
        }
        const e = vecOf(EXACT, x), g = vecOf(GGML, x);
        rope(EXACT, e, nHeads, headDim, nDims, ropeCosSin(EXACT, pos, nDims, unscaled(base)), mode);
        rope(GGML, g, nHeads, headDim, nDims, ropeCosSin(GGML, pos, nDims, unscaled(base)), mode);
        expectClose(e, want, 1e-12);
        // f32 theta accumulation: theta_i = pos * scale^i rounded i times, ~i ulps of pos
        expectClose(g, want, 2e-5);
      });
    }
  }
});

describe('softmax', () => {
  it('matches exp(x - max) / sum in both numerics, with masked entries 0', () => {
    const x = rng(3)(40, 8);
    x[37] = x[38] = x[39] = -Infinity;
    const e = x.map((v) => Math.exp(0.5 * v - 0.5 * Math.max(...x.slice(0, 37))));
    const sum = e.reduce((a, b) => a + b, 0);
    const want = e.map((v) => v / sum);
    expectClose(softmax(EXACT, vecOf(EXACT, x), 0.5), want, 1e-14);
    expectClose(softmax(GGML, vecOf(GGML, x), 0.5), want, 1e-6);
  });
  it("ggml's vector exp stays within 2 ulps of exp on its range", () => {
    for (let x = -87; x < 88; x += 0.37) {
      const f = Math.fround(x);
      const rel = Math.abs(vExpf(f) - Math.exp(f)) / Math.exp(f);
      expect(rel).toBeLessThan(2 * 2 ** -23);
      expect(Math.abs(expf(f) - Math.exp(f)) / Math.exp(f)).toBeLessThanOrEqual(2 ** -24);
    }
    expect(vExpf(-Infinity)).toBe(0);
    expect(vExpf(-200)).toBe(0);
    expect(vExpf(200)).toBe(Infinity);
  });
});

describe('activations', () => {
  it('swiglu is silu(gate) * up', () => {
    const g = rng(4)(40, 6), u = rng(5)(40, 2);
    const want = g.map((v, i) => (v / (1 + Math.exp(-v))) * u[i]);
    expectClose(swiglu(EXACT, vecOf(EXACT, g), vecOf(EXACT, u)), want, 1e-14);
    expectClose(swiglu(GGML, vecOf(GGML, g), vecOf(GGML, u)), want, 1e-6);
  });
  it('gelu: exact is the tanh formula; ggml reads an f16 table (f16 precision)', () => {
    for (let x = -12; x < 12; x += 0.013) {
      const want = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
      expect(geluScalar(EXACT, x)).toBeCloseTo(want, 12);
      // input rounded to f16 (2^-11 relative), output stored as f16
      expect(Math.abs(geluScalar(GGML, Math.fround(x)) - want)).toBeLessThan(2 ** -10 * Math.max(1, Math.abs(x)) * 1.2);
    }
  });
});

describe('matvec and activation conversion', () => {
  const cols = 256, rows = 5;
  const rand = rng(6);
  const w: Weight = { name: 'w', type: GGMLType.F32, cols, rows, count: 1, data: Float32Array.from(rand(cols * rows)) };
  const x = Float32Array.from(rand(cols, 4));
  const want = Array.from({ length: rows }, (_, r) => w.data.subarray(r * cols, (r + 1) * cols).reduce((s, v, j) => s + v * x[j], 0));
  it('F32 weight: the float64 dot product, rounded once to f32 in ggml numerics', () => {
    expectClose(matvec(EXACT, w, vecOf(EXACT, x)), want, 1e-12);
    const g = matvec(GGML, w, vecOf(GGML, x));
    for (let r = 0; r < rows; r++) expect(g[r]).toBe(Math.fround(want[r]));
  });
  it('Q8_0 activation: d = f16(amax/127), q = round-half-even(x * 127/amax)', () => {
    const v = convertActivation(GGML, GGMLType.Q8_0, x).v;
    for (let o = 0; o < cols; o += 32) {
      const amax = Math.max(...Array.from(x.subarray(o, o + 32), Math.abs));
      const d = v[o] / roundHalfEven(Math.fround(x[o] * Math.fround(127 / amax)));
      for (let j = 0; j < 32; j++) {
        const q = v[o + j] / d;
        expect(Number.isInteger(Math.round(q * 1e6) / 1e6)).toBe(true);
        expect(Math.abs(q)).toBeLessThanOrEqual(127);
        expect(Math.abs(v[o + j] - x[o + j])).toBeLessThanOrEqual((amax / 127) * 0.5 * 1.01 + Math.abs(x[o + j]) * 2 ** -10);
      }
    }
  });
  it('Q8_K activation: 256-blocks, error at most half a step of max/127', () => {
    const v = convertActivation(GGML, GGMLType.Q4_K, x).v;
    const amax = Math.max(...Array.from(x, Math.abs));
    for (let j = 0; j < cols; j++) expect(Math.abs(v[j] - x[j])).toBeLessThanOrEqual((amax / 127) * 0.5 * 1.0001);
  });
});

describe('attention', () => {
  const s: AttentionShape = { nHead: 4, nHeadKv: 2, headDim: 8, kqScale: 1 / Math.sqrt(8), softcap: 0, capScale: 0 };
  const nPos = 21, kvDim = s.nHeadKv * s.headDim;
  const rand = rng(7);
  const K = rand(nPos * kvDim, 2), V = rand(nPos * kvDim, 2), q = rand(s.nHead * s.headDim, 2);
  function naive(pos: number, cap = 0, capScale = 0): Float64Array {
    const out = new Float64Array(s.nHead * s.headDim);
    for (let h = 0; h < s.nHead; h++) {
      const kh = Math.floor(h / (s.nHead / s.nHeadKv)); // GQA: consecutive q heads share a kv head
      const scores = Array.from({ length: pos + 1 }, (_, t) => {
        let d = 0;
        for (let i = 0; i < s.headDim; i++) d += q[h * s.headDim + i] * K[t * kvDim + kh * s.headDim + i];
        return cap ? cap * Math.tanh((d * capScale) / cap) : d * s.kqScale;
      });
      const m = Math.max(...scores);
      const e = scores.map((x) => Math.exp(x - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let i = 0; i < s.headDim; i++) {
        for (let t = 0; t <= pos; t++) out[h * s.headDim + i] += (e[t] / z) * V[t * kvDim + kh * s.headDim + i];
      }
    }
    return out;
  }
  for (const num of [EXACT, GGML]) {
    it(`${num.mode}: softmax(q K^T * scale) V with grouped kv heads, causal`, () => {
      const cache = { k: num.vec(nPos * kvDim), v: num.vec(nPos * kvDim) };
      for (let t = 0; t < nPos; t++) {
        storeKV(num, cache, vecOf(num, K.subarray(t * kvDim, (t + 1) * kvDim)), vecOf(num, V.subarray(t * kvDim, (t + 1) * kvDim)), t);
      }
      for (const pos of [0, 5, 20]) expectClose(attend(num, vecOf(num, q), cache, pos, s), naive(pos), num.mode === 'exact' ? 1e-12 : 1e-5);
      const grok = { ...s, kqScale: 1, softcap: 30, capScale: num.r(0.0884 / 30) };
      expectClose(attend(num, vecOf(num, q), cache, 20, grok), naive(20, 30, 0.0884), num.mode === 'exact' ? 1e-12 : 1e-5);
    });
  }
});

describe('MoE routing', () => {
  const nExpert = 8, cols = 32;
  const rand = rng(8);
  const router: Weight = { name: 'router', type: GGMLType.F32, cols, rows: nExpert, count: 1, data: Float32Array.from(rand(cols * nExpert)) };
  for (const normTopK of [true, false]) {
    for (const k of [1, 2, 3]) {
      it(`top-${k} of softmax(router · x) by brute force${normTopK ? ', renormalized' : ''}, weights scale 2.5`, () => {
        for (let trial = 0; trial < 20; trial++) {
          const x = rand(cols, 3);
          const logits = Array.from({ length: nExpert }, (_, e) => router.data.subarray(e * cols, (e + 1) * cols).reduce((s, w, j) => s + w * x[j], 0));
          const z = logits.reduce((s, l) => s + Math.exp(l), 0);
          const probs = logits.map((l) => Math.exp(l) / z);
          // brute force: the k-subset with the largest total probability is the top k
          let best: number[] = [], bestSum = -1;
          for (let mask = 0; mask < 1 << nExpert; mask++) {
            const set = [...Array(nExpert).keys()].filter((e) => mask & (1 << e));
            if (set.length !== k) continue;
            const sum = set.reduce((s, e) => s + probs[e], 0);
            if (sum > bestSum) [best, bestSum] = [set, sum];
          }
          for (const num of [EXACT, GGML]) {
            const r = route(num, router, vecOf(num, x), { nExpertUsed: k, opts: { act: 'silu', expertGating: 'softmax', routerBias: false, expertBiases: false, expertWeightsNorm: normTopK, shared: 'none', postNorm: false, moeLayers: 'all', selectionBias: false }, weightsScale: 2.5 });
            expect([...r.experts].sort()).toEqual(best);
            expect(r.experts.map((e) => probs[e])).toEqual([...r.experts.map((e) => probs[e])].sort((a, b) => b - a)); // best first
            const want = r.experts.map((e) => (probs[e] / (normTopK ? bestSum : 1)) * 2.5);
            expectClose(r.weights, want, num.mode === 'exact' ? 1e-12 : 1e-6);
          }
        }
      });
    }
  }

  it('a selection bias chooses the experts by probability + bias and weighs them by probability alone', () => {
    const bias: Weight = { name: 'exp_probs_b', type: GGMLType.F32, cols: nExpert, rows: 1, count: 1, data: Float32Array.from(rand(nExpert), (v) => v * 0.3) };
    const opts = { act: 'silu' as const, expertGating: 'softmax' as const, routerBias: false, expertBiases: false, expertWeightsNorm: false, shared: 'none' as const, postNorm: false, moeLayers: 'all' as const, selectionBias: true };
    let changed = 0;
    for (let trial = 0; trial < 20; trial++) {
      const x = rand(cols, 3);
      const plain = route(EXACT, router, vecOf(EXACT, x), { nExpertUsed: 2, opts, weightsScale: 0 });
      const biased = route(EXACT, router, vecOf(EXACT, x), { nExpertUsed: 2, opts, weightsScale: 0 }, bias);
      const logits = Array.from({ length: nExpert }, (_, e) => router.data.subarray(e * cols, (e + 1) * cols).reduce((s, w, j) => s + w * x[j], 0));
      const z = logits.reduce((s, l) => s + Math.exp(l), 0);
      const probs = logits.map((l) => Math.exp(l) / z);
      const bySel = [...probs.keys()].sort((a, b) => probs[b] + bias.data[b] - (probs[a] + bias.data[a]));
      expect(biased.experts).toEqual(bySel.slice(0, 2));
      expectClose(biased.weights, biased.experts.map((e) => probs[e]), 1e-12);
      if (plain.experts.join() !== biased.experts.join()) changed++;
    }
    expect(changed).toBeGreaterThan(0); // the bias is not too small to matter here
  });
});

describe('rounding probe', () => {
  /** Flips every ambiguous rounding it is shown and records what it saw. */
  function flipAll(window: number) {
    const seen: [number, RoundingKind][] = [];
    return { seen, num: numerics('ggml', { window, ambiguous: (d, k) => (seen.push([d, k]), true) }) };
  }
  it('Q8 roundings: half to even, and only values within the window of .5 are shown and flipped', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, 2.5001].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, 2, 3]);
    const { num, seen } = flipAll(4);
    expect(roundQ(num, 2.5)).toBe(3); // tie: even (2) overturned
    expect(roundQ(num, 2.5 + 3 * 2 ** -17)).toBe(2); // 3 units past .5: ambiguous
    expect(roundQ(num, 2.5 + 5 * 2 ** -17)).toBe(3); // 5 units: outside the window, not shown
    expect(roundQ(num, -7.5)).toBe(-7);
    expect(seen.map(([d]) => d)).toEqual([0, 3, 0]);
    expect(roundQ(GGML, 2.5 + 3 * 2 ** -17)).toBe(3); // no probe: plain rounding
  });
  it('f16 roundings: the neighbour across the midpoint, within the window in f32 ulps', () => {
    const { num, seen } = flipAll(8);
    const [lo, hi] = f16Neighbours(Math.fround(1 + 2 ** -11)); // midpoint of 1 and 1 + 2^-10
    expect([lo, hi]).toEqual([1, 1 + 2 ** -10]);
    const near = Math.fround(1 + 2 ** -11 + 2 * ulpF32(1));
    expect(roundF16(near)).toBe(hi);
    expect(roundTo(num, near, roundF16, f16Neighbours, 'f16')).toBe(lo);
    expect(roundTo(num, Math.fround(1 + 2 ** -11 + 100 * ulpF32(1)), roundF16, f16Neighbours, 'f16')).toBe(hi);
    expect(roundTo(num, -near, roundF16, f16Neighbours, 'f16')).toBe(-lo);
    expect(seen).toEqual([[2, 'f16'], [2, 'f16']]);
  });
});
