// RoPE scaling against llama.cpp (node-llama-cpp) over a prompt of 1,100 tokens, on the CPU
// reference and the WebGPU engine: a Llama-3.2-1B-shaped model (head dim 64, rope base 500000,
// rope_freqs from Llama 3's rule with factor 32, frequency factors 1 and 4, original context 8192;
// far narrower and shallower than the real 1B), and Qwen3-shaped models with YaRN (factor 4 over an
// original 32k context, as Qwen3's long-context files state it) and with linear scaling.
//
// F32 weights and an F32 KV cache: no activation is rounded to a coarser type anywhere, so the
// three programs differ by f32 summation order only and every logit of every step must agree
// within LOGIT_TOL (tools/oracle/llamacpp-agreement.ts), with the same 16 greedy tokens. Each
// model's unscaled twin (same weights, no scaling) is run by llama.cpp too, to show the scaling
// moves its logits by far more than the tolerance: agreement is not reached by ignoring it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../gguf/source.ts';
import { ReferenceModel } from '../reference/model.ts';
import { GPUSession } from '../gpu/session.ts';
import { makeModel } from '../../tools/factory/make-model.ts';
import { agreement, FlipProbe, LOGIT_TOL } from '../../tools/oracle/llamacpp-agreement.ts';
import { greedyResult, runJobs, type GreedyOutput } from '../../tools/oracle/llamacpp.ts';
import { gpuGreedy } from '../../tools/oracle/engine-check.ts';
import { WebGPUEngine } from './engine.ts';
import { maxAbsDiff, ROPE_SCALING } from '../../tools/factory/test-models.ts';

const { nCtx: N_CTX, prompt: PROMPT, cases: CASES } = ROPE_SCALING;
const N_PROMPT = PROMPT.length;
const N_TOKENS = 16;

let dir: string;
let session: GPUSession;
const bytes: Uint8Array[] = [];
const oracle: GreedyOutput[] = [];
const twin: GreedyOutput[] = [];

beforeAll(async () => {
  session = await GPUSession.create();
  dir = mkdtempSync(join(tmpdir(), 'webmoe-rope-'));
  const paths: string[] = [];
  CASES.forEach((c, i) => {
    bytes.push(makeModel(c.options));
    for (const [kind, o] of [['scaled', c.options], ['unscaled', c.unscaled]] as const) {
      const path = join(dir, `${i}-${kind}.gguf`);
      writeFileSync(path, kind === 'scaled' ? bytes[i] : makeModel(o));
      paths.push(path);
    }
  });
  const results = await runJobs(paths.map((model, j) => ({ type: 'greedy', model, prompt: PROMPT, nTokens: j % 2 ? 1 : N_TOKENS, logits: true, contextSize: N_CTX })));
  results.forEach((r, j) => (j % 2 ? twin : oracle).push(greedyResult(r)));
}, 300_000);

afterAll(() => {
  session?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe(`RoPE scaling vs llama.cpp over a ${N_PROMPT}-token prompt`, () => {
  it.each(CASES.map((c, i) => ({ ...c, i })))('$label: the scaling moves llama.cpp\'s logits', ({ i }) => {
    expect(maxAbsDiff(oracle[i].steps[0].logits!, twin[i].steps[0].logits!)).toBeGreaterThan(100 * LOGIT_TOL);
  });

  it.each(CASES.map((c, i) => ({ ...c, i })))('$label: CPU reference, 16 greedy tokens and every logit', async ({ i }) => {
    const probe = new FlipProbe();
    const ref = await ReferenceModel.load(bytesSource(bytes[i]), { numerics: 'ggml', nCtx: N_CTX, probe });
    const a = agreement(ref, probe, PROMPT, oracle[i]);
    expect(a.ids).toEqual(oracle[i].ids);
    expect(a.maxLogitDiff).toBeLessThanOrEqual(LOGIT_TOL);
  }, 300_000);

  it.each(CASES.map((c, i) => ({ ...c, i })))('$label: WebGPU engine, 16 greedy tokens and every logit', async ({ i }) => {
    const engine = await WebGPUEngine.load(bytesSource(bytes[i]), { session, nCtx: N_CTX, maxBatch: 64, kvType: 'f32' });
    try {
      const gpu = await gpuGreedy(engine, PROMPT, N_TOKENS);
      expect(gpu.ids).toEqual(oracle[i].ids);
      const diffs = gpu.steps.map((s, k) => maxAbsDiff(s.logits!, oracle[i].steps[k].logits!));
      expect(Math.max(...diffs)).toBeLessThanOrEqual(LOGIT_TOL);
    } finally {
      engine.destroy();
    }
  }, 300_000);
});
