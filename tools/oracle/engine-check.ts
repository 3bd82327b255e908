// Test helper: the engine's greedy run set against the CPU reference and llama.cpp (engine tests
// on either KV cache type). Tolerances and the evidence a token difference needs:
// tools/oracle/llamacpp-agreement.ts.
import { expect } from 'vitest';
import type { WebGPUEngine } from '../../src/engine/engine.ts';
import { bytesSource } from '../../src/gguf/source.ts';
import type { KvType } from '../../src/reference/attention.ts';
import { ReferenceModel } from '../../src/reference/model.ts';
import { agreement, explainStep, FlipProbe, LOGIT_TOL } from './llamacpp-agreement.ts';
import type { GreedyOutput } from './llamacpp.ts';

/** The engine's greedy run from `prompt`, with its logits at every step, in the oracle's format. */
export async function gpuGreedy(engine: WebGPUEngine, prompt: readonly number[], nTokens: number): Promise<GreedyOutput> {
  const gpu: GreedyOutput = { type: 'greedy', ids: [], steps: [] };
  let r = await engine.forward(prompt, { logits: 'last' });
  for (let s = 0; s < nTokens; s++) {
    gpu.ids.push(r.next);
    gpu.steps.push({ token: r.next, top: [], logits: Array.from(r.logits![0]) });
    if (s + 1 < nTokens) r = await engine.forward([r.next], { logits: 'last' });
  }
  return gpu;
}

/** Expects the GPU's run to be the reference's ('ggml' numerics, same KV type) up to explained
 *  roundings, and llama.cpp's run to be too when it differs from the GPU's. Returns whether the
 *  GPU's tokens equal llama.cpp's outright. */
export async function expectAgreement(bytes: Uint8Array, prompt: readonly number[], gpu: GreedyOutput, llama: GreedyOutput | Error | undefined, opts: { nCtx: number; kvType?: KvType }): Promise<boolean> {
  const probe = new FlipProbe();
  const ref = await ReferenceModel.load(bytesSource(bytes), { numerics: 'ggml', nCtx: opts.nCtx, probe, kvType: opts.kvType });
  // the prompt's logits: within LOGIT_TOL, or within it once a few ambiguous roundings turn
  const first = explainStep(ref, probe, prompt, gpu, 0);
  expect(first.diff, `prompt logits, ${first.found.length} roundings overturned`).toBeLessThan(LOGIT_TOL);
  // every step: the reference's tokens, or a difference explained the same way
  expect(agreement(ref, probe, prompt, gpu).mismatch, 'GPU vs reference').toBeUndefined();
  if (llama instanceof Error) throw llama;
  if (!llama) throw new Error('no llama.cpp result');
  if (JSON.stringify(llama.ids) === JSON.stringify(gpu.ids)) return true;
  // llama.cpp must be the reference up to ambiguous roundings too
  expect(agreement(ref, probe, prompt, llama).mismatch, 'llama.cpp vs reference').toBeUndefined();
  return false;
}
