// Routed experts paged into GPU memory under a byte budget (expert-pool.ts): the same kernels read
// the experts from pool slots instead of the resident stacks, so logits must equal the resident
// engine's bit for bit, whatever the budget: one slot (every top-2 choice in two rounds), a few
// (evictions), all (no eviction). Also the GPU bytes saved, a budget too small for one expert,
// and a provider that fails once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../gguf/source.ts';
import { GGMLType, typeName } from '../gguf/types.ts';
import { GPUSession } from '../gpu/session.ts';
import { makeModel } from '../../tools/factory/make-model.ts';
import { WebGPUEngine, type EngineOptions } from './engine.ts';
import { ExpertBudgetError, ExpertPool } from './expert-pool.ts';

const PROMPT = [11, 250, 3, 97, 1000, 42];
const STEPS = 8;
const T = GGMLType;

let session: GPUSession;
beforeAll(async () => { session = await GPUSession.create(); });
afterAll(() => session?.destroy());

/** Logits of the prompt and of STEPS greedy steps (the resident engine's tokens fed to both). */
async function run(bytes: Uint8Array, opts: EngineOptions, tokens?: number[]): Promise<{ logits: Float32Array[]; tokens: number[]; engine: WebGPUEngine }> {
  const engine = await WebGPUEngine.load(bytesSource(bytes), { session, nCtx: 64, maxBatch: 8, ...opts });
  const logits: Float32Array[] = [];
  const out: number[] = [];
  let r = await engine.forward(PROMPT, { logits: 'last' });
  for (let s = 0; s < STEPS; s++) {
    logits.push(r.logits![0]);
    out.push(r.next);
    r = await engine.forward([tokens?.[s] ?? r.next], { logits: 'last' });
  }
  return { logits, tokens: out, engine };
}

describe('paged experts', () => {
  it.each([
    { arch: 'qwen3moe', type: T.Q4_K },
    { arch: 'qwen2moe', type: T.Q8_0 }, // with a sigmoid-gated shared expert (resident)
    { arch: 'olmoe', type: T.Q5_0 },
    { arch: 'grok', type: T.Q4_0 }, // GELU experts
    { arch: 'llama', type: T.Q6_K, hp: { nExpert: 4, nExpertUsed: 2, nFf: 256 } }, // Mixtral layout
  ].map((c) => ({ ...c, t: typeName(c.type) })))('$arch $t: logits equal the resident engine\'s bit for bit with 1, 3 and all slots', async (c) => {
    const bytes = makeModel({ arch: c.arch, type: c.type, seed: 7, hp: c.hp });
    const resident = await run(bytes, {});
    const per = ExpertPool.bytesPerExpert(resident.engine.plan);
    const all = resident.engine.hp.nExpert * resident.engine.hp.nLayer;
    const residentBytes = resident.engine.stats.gpuBytes.weights;
    resident.engine.destroy();
    for (const slots of [1, 3, all]) {
      const paged = await run(bytes, { expertBudget: slots * per }, resident.tokens);
      try {
        for (let s = 0; s < STEPS; s++) expect(paged.logits[s], `${slots} slots, step ${s}`).toEqual(resident.logits[s]);
        const st = paged.engine.expertStats!;
        expect(st.slots).toBe(slots);
        expect(st.misses).toBeGreaterThan(0);
        // the routed experts' GPU bytes are the pool's, not all of them
        expect(paged.engine.stats.gpuBytes.weights).toBeLessThanOrEqual(residentBytes - (all - slots) * per * 0.9);
        if (slots === 1) expect(st.extraRounds).toBeGreaterThan(0); // top-2 in one slot: two rounds
        if (slots === all) expect(st.misses).toBeLessThanOrEqual(all); // nothing fetched twice
      } finally {
        paged.engine.destroy();
      }
    }
  });

  it('layers with experts of different types (a Q4_K_M-style mix) get a pool each; logits still equal', async () => {
    const bytes = makeModel({ arch: 'qwen3moe', type: T.Q4_K, seed: 9, typeOverrides: [{ match: /^blk\.1\.ffn_down_exps/, type: T.Q6_K }] });
    const resident = await run(bytes, {});
    const per = ExpertPool.bytesPerExpert(resident.engine.plan);
    resident.engine.destroy();
    const paged = await run(bytes, { expertBudget: 6 * per }, resident.tokens);
    try {
      for (let s = 0; s < STEPS; s++) expect(paged.logits[s], `step ${s}`).toEqual(resident.logits[s]);
      // two pools (Q4_K and Q6_K down projections), each with half the budget
      expect(paged.engine.expertStats!.slots).toBeGreaterThanOrEqual(4);
      expect(paged.engine.expertStats!.slots).toBeLessThanOrEqual(6);
    } finally {
      paged.engine.destroy();
    }
  });

  it('refuses a budget below one expert, saying how much is needed', async () => {
    const bytes = makeModel({ arch: 'qwen3moe', type: T.Q4_0, seed: 3 });
    await expect(WebGPUEngine.load(bytesSource(bytes), { session, nCtx: 16, expertBudget: 1000 }))
      .rejects.toThrow(ExpertBudgetError);
    await expect(WebGPUEngine.load(bytesSource(bytes), { session, nCtx: 16, expertBudget: 1000 }))
      .rejects.toThrow(/less than one expert \(\d+ bytes on the GPU\); give at least \d+ bytes/);
  });

  it('a provider that fails leaves the engine usable: the same call then succeeds', async () => {
    const bytes = makeModel({ arch: 'qwen3moe', type: T.Q8_0, seed: 5 });
    const resident = await run(bytes, {});
    resident.engine.destroy();
    const src = bytesSource(bytes);
    let fail = true;
    const { expertProvider } = await import('../model/experts.ts');
    const { readGGUF } = await import('../gguf/reader.ts');
    const { planModel } = await import('../model/plan.ts');
    const fromFile = expertProvider(planModel(await readGGUF(src)), (o, n) => src.read(o, n));
    const engine = await WebGPUEngine.load(src, {
      session, nCtx: 64, maxBatch: 8, expertBudget: 4 * 1e6,
      experts: async (l, e) => {
        if (fail) { fail = false; throw new Error('network down'); }
        return fromFile(l, e);
      },
    });
    try {
      await expect(engine.forward(PROMPT, { logits: 'last' })).rejects.toThrow('network down');
      expect(engine.nPast).toBe(0);
      const r = await engine.forward(PROMPT, { logits: 'last' });
      expect(r.logits![0]).toEqual(resident.logits[0]);
    } finally {
      engine.destroy();
    }
  });
});
