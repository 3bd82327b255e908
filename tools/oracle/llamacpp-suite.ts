// The acceptance suite's machinery: factory models of every architecture and weight type, their
// greedy continuations by llama.cpp (one child process for all), and the comparison of each with
// the CPU reference (tokens, logits, 'ggml' vs 'exact' numerics). The test files pick the cases.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileSource } from '../../src/gguf/source-node.ts';
import { GGMLType } from '../../src/gguf/types.ts';
import type { HParams } from '../../src/model/hparams.ts';
import type { KvType } from '../../src/reference/attention.ts';
import { forcedLogits } from '../../src/reference/generate.ts';
import { ReferenceModel } from '../../src/reference/model.ts';
import type { Vec } from '../../src/reference/numerics.ts';
import { makeModel, type FactoryOptions } from '../factory/make-model.ts';
import { greedyResult, runJobs, type GreedyOutput } from './llamacpp.ts';
import { agreement, FlipProbe, LOGIT_TOL, type Agreement } from './llamacpp-agreement.ts';

/** Prompt ids (the factory vocabulary has 1257 tokens) and continuation length. */
export const PROMPT = [10, 200, 33, 480, 77, 901, 5];
export const N_TOKENS = 16;

export interface SuiteCase {
  label: string;
  arch: string;
  type: GGMLType;
  hp?: Partial<HParams>;
  tied?: boolean;
  /** KV cache type of both llama.cpp and the reference (default 'f32'). */
  kvType?: KvType;
  /** Per-tensor types (a llama.cpp-style mix): FactoryOptions.typeOverrides. */
  typeOverrides?: FactoryOptions['typeOverrides'];
}

export const ALL_TYPES = [
  GGMLType.F32, GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_0, GGMLType.Q4_1,
  GGMLType.Q5_0, GGMLType.Q5_1, GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K,
];

/** The formats of low-memory and MoE uploads (llamacpp-quants.test.ts). */
export const NEW_TYPES = [GGMLType.Q2_K, GGMLType.Q3_K, GGMLType.IQ4_NL, GGMLType.IQ4_XS];

/** Granite's multipliers as real Granite MoE models set them (embedding 12, residual 0.22,
 *  attention 1/128, logits / 8), so the scale paths are exercised. */
export const GRANITE_SCALES: Partial<HParams> = { embeddingScale: 12, residualScale: 0.22, attentionScale: 0.0078125, logitScale: 8 };

export function cases(label: string, arch: string, types: GGMLType[], extra: Omit<SuiteCase, 'label' | 'arch' | 'type'> = {}): SuiteCase[] {
  return types.map((type) => ({ label, arch, type, ...extra }));
}

export interface Prepared {
  dir: string;
  paths: string[];
  oracle: GreedyOutput[];
  dispose(): void;
}

/** Writes every case's model to a temp dir and runs llama.cpp on all of them in one process. */
export async function prepare(list: SuiteCase[]): Promise<Prepared> {
  const dir = mkdtempSync(join(tmpdir(), 'webmoe-suite-'));
  const paths = list.map((c, i) => {
    const path = join(dir, `${i}-${c.label}-${GGMLType[c.type]}.gguf`);
    writeFileSync(path, makeModel({ arch: c.arch, type: c.type, seed: 7, hp: c.hp, tied: c.tied, typeOverrides: c.typeOverrides }));
    return path;
  });
  const results = await runJobs(paths.map((model, i) => ({ type: 'greedy', model, prompt: PROMPT, nTokens: N_TOKENS, logits: true, kvType: list[i].kvType })));
  return { dir, paths, oracle: results.map(greedyResult), dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface CaseResult {
  case: SuiteCase;
  agreement: Agreement;
  /** Teacher forced on llama.cpp's tokens, per step: max |logit difference| of the reference in
   *  'ggml' and 'exact' numerics from llama.cpp, and between the two. */
  ggmlDiff: number[];
  exactDiff: number[];
  ggmlVsExact: number[];
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

export const median = (x: number[]) => {
  const s = [...x].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export async function check(c: SuiteCase, path: string, oracle: GreedyOutput): Promise<CaseResult> {
  const source = fileSource(path);
  try {
    const probe = new FlipProbe();
    const ggml = await ReferenceModel.load(source, { numerics: 'ggml', nCtx: 64, probe, kvType: c.kvType });
    const exact = await ReferenceModel.load(source, { numerics: 'exact', nCtx: 64, kvType: c.kvType });
    const a = agreement(ggml, probe, PROMPT, oracle);
    const e: Vec[] = forcedLogits(exact, PROMPT, oracle.ids);
    const llama = oracle.steps.map((s) => s.logits!);
    return {
      case: c,
      agreement: a,
      ggmlDiff: a.stepDiff,
      exactDiff: e.map((l, s) => maxAbsDiff(l, llama[s])),
      ggmlVsExact: e.map((l, s) => maxAbsDiff(l, a.logits[s])),
    };
  } finally {
    await source.close?.();
  }
}

const sci = (x: number) => x.toExponential(1);

/** A markdown table of results: arch × type → equal / allowance, and the logit figures. */
export function table(results: CaseResult[]): string {
  const rows = [
    '| model | type | 16 greedy tokens | Δlogit ggml–llama.cpp: max (median over steps) | after overturning | exact–llama.cpp: max (median) | max ggml–exact |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const a = r.agreement;
    const verdict = a.mismatch ? `MISMATCH at ${a.mismatch.step}`
      : a.equal ? 'equal'
      : a.allowances.map((x) => `${x.kind} at step ${x.step} (llama.cpp gap ${x.gap.toFixed(3)}${x.flips ? `; ${x.flips.map((f) => `${f.kind} ${f.distance.toFixed(0)} from boundary`).join(', ')}` : ''})`).join(', ');
    const after = a.equal ? '' : sci(a.maxLogitDiffAfter);
    rows.push(`| ${r.case.label} | ${GGMLType[r.case.type]} | ${verdict} | ${sci(Math.max(...r.ggmlDiff))} (${sci(median(r.ggmlDiff))}) | ${after} | ${sci(Math.max(...r.exactDiff))} (${sci(median(r.exactDiff))}) | ${sci(Math.max(...r.ggmlVsExact))} |`);
  }
  return rows.join('\n');
}

/** The acceptance test over `list`: greedy tokens of the reference ('ggml' numerics) equal
 *  llama.cpp's, or differ at one step at most, explained by an ambiguous rounding or a tie (see
 *  llamacpp-agreement.ts); F32 models' logits agree within LOGIT_TOL at every step; for the
 *  other types, 'ggml' numerics are closer to llama.cpp than 'exact' ones. */
export function acceptance(title: string, list: SuiteCase[]): void {
  describe(title, () => {
    let prep: Prepared;
    const results: CaseResult[] = [];
    beforeAll(async () => {
      prep = await prepare(list);
    }, 900_000);
    afterAll(() => {
      prep?.dispose();
      if (results.length) console.log(`\n${title}\n${table(results)}\n`);
    });
    list.forEach((c, i) => {
      it(`${c.label} ${GGMLType[c.type]}`, async () => {
        const r = await check(c, prep.paths[i], prep.oracle[i]);
        results.push(r);
        const a = r.agreement;
        expect(a.mismatch, `unexplained mismatch: ${JSON.stringify(a.mismatch)}`).toBeUndefined();
        // At most one allowance per sequence (the brief's rule for teacher forcing).
        expect(a.allowances.length).toBeLessThanOrEqual(1);
        if (c.type === GGMLType.F32 && c.kvType !== 'f16') {
          // No activation is converted, so nothing can flip: every logit of every step agrees.
          expect(Math.max(...r.ggmlDiff)).toBeLessThanOrEqual(LOGIT_TOL);
        } else {
          // Mimicking ggml's conversions must bring the logits closer to llama.cpp's. (Single
          // ambiguous roundings, see llamacpp-agreement.ts, keep some steps ~0.5 off.)
          expect(median(r.ggmlDiff)).toBeLessThan(median(r.exactDiff));
        }
      }, 300_000);
    });
  });
}
