// A 2k-token context on the GPU: a prompt of 2000 tokens (prefill in batches of 64 through the
// batched kernels, attention split over positions) and 32 greedy tokens after it, equal to the
// CPU reference's; and the KV cache refusing a token past its length.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../gguf/source.ts';
import { GGMLType } from '../gguf/types.ts';
import { rng } from '../gpu/testing.ts';
import { GPUSession } from '../gpu/session.ts';
import { greedy } from '../reference/generate.ts';
import { ReferenceModel } from '../reference/model.ts';
import { makeModel } from '../../tools/factory/make-model.ts';
import { ContextFullError, WebGPUEngine } from './engine.ts';

let session: GPUSession;
beforeAll(async () => { session = await GPUSession.create(); });
afterAll(() => session?.destroy());

describe('long context', () => {
  it('2000 prompt tokens then 32 greedy tokens equal the reference', async () => {
    const bytes = makeModel({ arch: 'qwen3moe', type: GGMLType.Q8_0, seed: 11 });
    const r = rng(5);
    const prompt = Array.from({ length: 2000 }, () => r.int(1200));
    const engine = await WebGPUEngine.load(bytesSource(bytes), { session, nCtx: 2048, maxBatch: 64 });
    try {
      const ids = await engine.generate(prompt, 32);
      expect(engine.nPast).toBe(2000 + 31);
      const ref = await ReferenceModel.load(bytesSource(bytes), { numerics: 'ggml', nCtx: 2048 });
      expect(ids).toEqual(greedy(ref, prompt, 32));
    } finally {
      engine.destroy();
    }
  }, 600_000);

  it('refuses tokens past the KV cache with a named error', async () => {
    const bytes = makeModel({ arch: 'llama', type: GGMLType.Q4_0, seed: 2 });
    const engine = await WebGPUEngine.load(bytesSource(bytes), { session, nCtx: 8, maxBatch: 4 });
    try {
      await engine.forward([1, 2, 3, 4, 5, 6]);
      await expect(engine.forward([7, 8, 9])).rejects.toBeInstanceOf(ContextFullError);
      await expect(engine.forward([7, 8])).resolves.toHaveProperty('next');
      await expect(engine.forward([9999999])).rejects.toThrow(/outside the vocabulary/);
    } finally {
      engine.destroy();
    }
  });
});
