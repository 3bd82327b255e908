// RoPE scaling on the WASM CPU backend against llama.cpp (node-llama-cpp, CPU) over a prompt of
// 1,100 tokens, on the models of src/engine/rope-scaling.test.ts: a Llama-3.2-1B-shaped model
// (head dim 64, rope base 500000, rope_freqs from Llama 3's rule with factor 32, frequency factors
// 1 and 4, original context 8192; narrow and shallow), and Qwen3-shaped models with YaRN (factor 4
// over an original 32k context) and with linear scaling (factor 4).
//
// F32 weights and the backend's f32 KV cache: no activation is rounded to a coarser type, so the
// backend and llama.cpp differ by f32 summation order only: the 16 greedy tokens must be llama.cpp's
// and every logit of every step within LOGIT_TOL of its. The prompt runs in batches of 64. The
// backend on each model's unscaled twin (same weights) must land far from llama.cpp's scaled
// logits: the agreement is not reached by ignoring the scaling.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../gguf/source.ts';
import { makeModel } from '../../tools/factory/make-model.ts';
import { LOGIT_TOL } from '../../tools/oracle/llamacpp-agreement.ts';
import { greedyResult, runJobs, type GreedyOutput } from '../../tools/oracle/llamacpp.ts';
import { WasmModel } from './model.ts';
import { maxAbsDiff, ROPE_SCALING } from '../../tools/factory/test-models.ts';

const { nCtx: N_CTX, prompt: PROMPT, cases: CASES } = ROPE_SCALING;
const N_PROMPT = PROMPT.length;
const N_TOKENS = 16;

/** The backend's greedy run: ids and the logits of every step. */
async function wasmGreedy(bytes: Uint8Array, nTokens: number): Promise<{ ids: number[]; logits: Float32Array[] }> {
  const model = await WasmModel.load(bytesSource(bytes), { nCtx: N_CTX, maxBatch: 64 });
  const ids: number[] = [], logits: Float32Array[] = [];
  let r = await model.forward(PROMPT, { logits: 'last' });
  for (let s = 0; s < nTokens; s++) {
    ids.push(r.next);
    logits.push(r.logits![0]);
    if (s + 1 < nTokens) r = await model.forward([r.next], { logits: 'last' });
  }
  return { ids, logits };
}

let dir: string;
const bytes: Uint8Array[] = [];
const oracle: GreedyOutput[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'webmoe-wasm-rope-'));
  const paths = CASES.map((c, i) => {
    bytes.push(makeModel(c.options));
    const path = join(dir, `${i}.gguf`);
    writeFileSync(path, bytes[i]);
    return path;
  });
  const results = await runJobs(paths.map((model) => ({ type: 'greedy', model, prompt: PROMPT, nTokens: N_TOKENS, logits: true, contextSize: N_CTX })));
  results.forEach((r) => oracle.push(greedyResult(r)));
}, 300_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe(`WASM backend: RoPE scaling vs llama.cpp over a ${N_PROMPT}-token prompt`, () => {
  it.each(CASES.map((c, i) => ({ ...c, i })))('$label: 16 greedy tokens and every logit', async ({ label, i }) => {
    const got = await wasmGreedy(bytes[i], N_TOKENS);
    expect(got.ids).toEqual(oracle[i].ids);
    const max = Math.max(...got.logits.map((l, s) => maxAbsDiff(l, oracle[i].steps[s].logits!)));
    console.log(`wasm ${label}: max |logit - llama.cpp's| over ${N_TOKENS} steps ${max.toExponential(1)}`);
    expect(max).toBeLessThanOrEqual(LOGIT_TOL);
  }, 120_000);

  it.each(CASES.map((c, i) => ({ ...c, i })))('$label: the unscaled twin lands far from llama.cpp\'s scaled logits', async ({ label, unscaled, i }) => {
    const twin = await wasmGreedy(makeModel(unscaled), 1);
    const d = maxAbsDiff(twin.logits[0], oracle[i].steps[0].logits!);
    console.log(`wasm ${label}, unscaled twin: max |logit - llama.cpp's scaled| ${d.toFixed(2)}`);
    expect(d).toBeGreaterThan(100 * LOGIT_TOL);
  }, 120_000);
});
