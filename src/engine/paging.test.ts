// Routed experts paged into GPU memory under a byte budget (expert-pool.ts, expert-tiers.ts): the
// same kernels read the experts from pool slots instead of the resident stacks, so logits must
// equal the resident engine's bit for bit, whatever the budgets and the way paging runs: the
// fewest slots (one token's experts: the prompt runs in rounds), a few slots under a RAM tier,
// the old readback-first path without prefetch, all slots (layers then run without a readback).
// Also the GPU bytes saved, budgets too small for one token, and a provider that fails once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytesSource } from '../gguf/source.ts';
import { GGMLType, typeName } from '../gguf/types.ts';
import { GPUSession } from '../gpu/session.ts';
import { makeModel } from '../../tools/factory/make-model.ts';
import { WebGPUEngine, type EngineOptions } from './engine.ts';
import { ExpertBudgetError, ExpertPool } from './expert-pool.ts';
import { readGGUF } from '../gguf/reader.ts';
import { expertProvider } from '../model/experts.ts';
import { planModel } from '../model/plan.ts';

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
    { arch: 'ernie4_5-moe', type: T.Q5_K, hp: { nFfShexp: 256 } }, // a dense first layer, selection bias
  ].map((c) => ({ ...c, t: typeName(c.type) })))('$arch $t: logits equal the resident engine\'s bit for bit under every budget and paging mode', async (c) => {
    const bytes = makeModel({ arch: c.arch, type: c.type, seed: 7, hp: c.hp });
    const resident = await run(bytes, {});
    const per = ExpertPool.bytesPerExpert(resident.engine.plan);
    const moeLayers = resident.engine.plan.layers.filter((L) => L.moe).length;
    const all = resident.engine.hp.nExpert * moeLayers;
    const residentBytes = resident.engine.stats.gpuBytes.weights;
    resident.engine.destroy();
    const k = resident.engine.hp.nExpertUsed;
    const configs: { slots: number; opts: EngineOptions; label: string }[] = [
      { slots: k, opts: { paging: { overlap: true } }, label: 'k slots, overlap' },
      { slots: 3, opts: { ramBudget: 4 * per, paging: { policy: 'lfu-decay', overlap: true } }, label: '3 slots, RAM for 4, lfu-decay, overlap' },
      { slots: 3, opts: { paging: { overlap: false, prefetch: false } }, label: '3 slots, readback first, no prefetch' },
      { slots: all, opts: { ramBudget: all * per, paging: { policy: 'lru-2', overlap: false } }, label: 'all slots, lru-2, readback first' },
    ];
    for (const { slots, opts, label } of configs) {
      const paged = await run(bytes, { expertBudget: slots * per, ...opts }, resident.tokens);
      try {
        for (let s = 0; s < STEPS; s++) expect(paged.logits[s], `${label}, step ${s}`).toEqual(resident.logits[s]);
        const st = paged.engine.expertStats!;
        expect(st.slots).toBe(slots);
        expect(st.misses).toBeGreaterThan(0);
        expect(st.storeReads, label).toBeLessThanOrEqual(st.misses + st.guesses); // a read per miss or guess at most
        expect(st.readbacks + st.inlineLayers).toBe(moeLayers * (1 + STEPS)); // every MoE layer of every call
        // the routed experts' GPU bytes are the pool's, not all of them
        expect(paged.engine.stats.gpuBytes.weights).toBeLessThanOrEqual(residentBytes - (all - slots) * per * 0.9);
        if (slots === k) expect(st.extraRounds).toBeGreaterThan(0); // the prompt needs more experts than slots: rounds
        if (slots === all) expect(st.storeReads).toBeLessThanOrEqual(all); // nothing fetched twice
        if (opts.ramBudget) expect(st.ramPeakBytes).toBeLessThanOrEqual(opts.ramBudget);
        if (opts.paging?.prefetch === false) expect(st.guesses).toBe(0);
        else if (slots < all) expect(st.guesses).toBeGreaterThan(0);
      } finally {
        paged.engine.destroy();
      }
    }
  });

  it.each([true, false])('once every expert of a layer is resident, the layer runs without a readback (overlap %s)', async (overlap) => {
    const bytes = makeModel({ arch: 'qwen3moe', type: T.Q8_0, seed: 4, hp: { nExpert: 4 } });
    const prompt = Array.from({ length: 32 }, (_, i) => 7 + 13 * i); // 64 routings per layer: all 4 experts
    const engine = await WebGPUEngine.load(bytesSource(bytes), { session, nCtx: 64, maxBatch: 8, expertBudget: 1e9, paging: { overlap } });
    const resident = await WebGPUEngine.load(bytesSource(bytes), { session, nCtx: 64, maxBatch: 8 });
    try {
      const a = await engine.forward(prompt, { logits: 'last' });
      const b = await resident.forward(prompt, { logits: 'last' });
      expect(a.logits![0]).toEqual(b.logits![0]);
      const before = engine.expertStats!;
      expect(before.slots).toBe(8);
      expect(before.storeReads).toBe(8);
      const c = await engine.forward([a.next], { logits: 'last' });
      const d = await resident.forward([b.next], { logits: 'last' });
      expect(c.logits![0]).toEqual(d.logits![0]);
      const after = engine.expertStats!;
      expect(after.readbacks).toBe(before.readbacks); // no readback in the decode step
      expect(after.inlineLayers - before.inlineLayers).toBe(2);
    } finally {
      engine.destroy();
      resident.destroy();
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

  it('refuses a budget below one token\'s experts of a layer, saying how much is needed', async () => {
    const bytes = makeModel({ arch: 'qwen3moe', type: T.Q4_0, seed: 3 });
    const plan = planModel(await readGGUF(bytesSource(bytes)));
    const need = plan.hp.nExpertUsed * ExpertPool.bytesPerExpert(plan);
    const load = (budget: number) => WebGPUEngine.load(bytesSource(bytes), { session, nCtx: 16, expertBudget: budget });
    await expect(load(need - 1)).rejects.toThrow(ExpertBudgetError);
    await expect(load(need - 1)).rejects.toThrow(new RegExp(`cannot hold one token's 2 experts of a layer .*give at least [\\d.]+ MB \\(${need} bytes\\)`));
    (await load(need)).destroy();
  });

  it('a provider that fails leaves the engine usable: the same call then succeeds', async () => {
    const bytes = makeModel({ arch: 'qwen3moe', type: T.Q8_0, seed: 5 });
    const resident = await run(bytes, {});
    resident.engine.destroy();
    const src = bytesSource(bytes);
    let fail = true;
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
