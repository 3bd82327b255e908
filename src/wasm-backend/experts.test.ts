// Expert paging in the WASM backend (experts.ts): with an expert budget of the fewest slots (one
// token's experts of a layer), routed experts come into heap slots as the router picks them, and
// the logits of a prompt and 16 greedy steps must equal the resident backend's bit for bit (the
// resident backend equals llama.cpp's greedy tokens: wasm-backend.test.ts). maxBatch 4 makes
// prompt batches route to more experts than there are slots, so layers run in several rounds.
import { describe, expect, it } from 'vitest';
import { ExpertBudgetError } from '../engine/expert-pool.ts';
import { bytesSource } from '../gguf/source.ts';
import { GGMLType } from '../gguf/types.ts';
import { makeModel, type FactoryOptions } from '../../tools/factory/make-model.ts';
import { GGUF_FORM, HeapExperts } from './experts.ts';
import { ExpertTiers } from '../engine/expert-tiers.ts';
import { readGGUF } from '../gguf/reader.ts';
import { expertProvider } from '../model/experts.ts';
import { planModel } from '../model/plan.ts';
import { CpuKernels } from './kernels.ts';
import { WasmBackendError } from './kernels.ts';
import { WasmModel, type WasmModelOptions } from './model.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMANDS, main } from '../cli/main.ts';

const PROMPT = [11, 250, 3, 97, 1000, 42];
const STEPS = 16;
const T = GGMLType;

/** Logits of every prompt token, then of 16 greedy steps. */
async function run(model: WasmModel): Promise<Float32Array[]> {
  const r = await model.forwardAsync(PROMPT, { logits: 'all' });
  const out = [...r.logits!];
  let next = r.next;
  for (let s = 0; s < STEPS; s++) {
    const x = await model.forwardAsync([next], { logits: 'last' });
    out.push(x.logits![0]);
    next = x.next;
  }
  return out;
}

const routedBytes = (m: WasmModel) => m.plan.layers.reduce((s, L) => s + (L.moe ? L.moe.experts.gate.nBytes + L.moe.experts.up.nBytes + L.moe.experts.down.nBytes : 0), 0);

const CASES: { label: string; opts: FactoryOptions }[] = [
  { label: 'qwen3moe Q4_K', opts: { arch: 'qwen3moe', type: T.Q4_K } },
  { label: 'qwen2moe Q4_K (gated shared expert)', opts: { arch: 'qwen2moe', type: T.Q4_K } },
  { label: 'qwen3moe Q4_K, layer 0 down in Q6_K (slots sized for the largest)', opts: { arch: 'qwen3moe', type: T.Q4_K, typeOverrides: [{ match: /blk\.0\.ffn_down_exps/, type: T.Q6_K }] } },
];

describe('WASM backend: routed experts paged into heap slots', () => {
  it.each(CASES)('$label: paged logits equal resident ones bit for bit', async ({ opts }) => {
    const bytes = makeModel({ ...opts, seed: 5 });
    const base: WasmModelOptions = { nCtx: 32, maxBatch: 4 };
    const resident = await WasmModel.load(bytesSource(bytes), base);
    const want = await run(resident);
    expect(resident.expertStats).toBeNull();
    const budget = HeapExperts.minBudget(resident.plan);
    for (const ramBudget of [0, 1 << 30]) {
      const paged = await WasmModel.load(bytesSource(bytes), { ...base, expertBudget: budget, ramBudget });
      const got = await run(paged);
      expect(got.length).toBe(want.length);
      for (let i = 0; i < want.length; i++) expect(Array.from(got[i]), `logits ${i}`).toEqual(Array.from(want[i]));
      const s = paged.expertStats!;
      expect(s.slots).toBe(paged.hp.nExpertUsed);
      // the routed experts stayed out of the heap; the slots are within the budget
      expect(paged.stats.weightBytes).toBe(resident.stats.weightBytes - routedBytes(resident));
      expect(s.slotBytes).toBeLessThanOrEqual(budget);
      expect(s.misses).toBeGreaterThan(0);
      // every miss served by a read (its own or a prefetch's) or the RAM tier; some guesses right
      expect(s.storeReads + s.ramHits).toBeGreaterThanOrEqual(s.misses);
      expect(s.guessHits).toBeGreaterThan(0);
      if (ramBudget) expect(s.ramHits).toBeGreaterThan(0);
      else expect(s.ramPeakBytes).toBe(0); // (prefetched experts wait in the tiers' hand-over area)
      paged.close();
    }
    resident.close();
  }, 60_000);

  it('paged on 2 threads (cpu-mt.wasm, shared heap): the resident logits too', async () => {
    const bytes = makeModel({ arch: 'qwen3moe', type: T.Q8_0, seed: 5 });
    const resident = await WasmModel.load(bytesSource(bytes), { nCtx: 32, maxBatch: 4 });
    const want = await run(resident);
    const paged = await WasmModel.load(bytesSource(bytes), { nCtx: 32, maxBatch: 4, threads: 2, expertBudget: HeapExperts.minBudget(resident.plan) });
    expect(paged.threads).toBe(2);
    expect(await run(paged)).toEqual(want);
    expect(paged.kernels.threadedProducts).toBeGreaterThan(0);
    paged.close();
    resident.close();
  }, 60_000);

  it('a budget of every expert reads each expert once and then only hits', async () => {
    const bytes = makeModel({ arch: 'qwen3moe', type: T.Q4_K, seed: 5 });
    const m = await WasmModel.load(bytesSource(bytes), { nCtx: 32, maxBatch: 4, expertBudget: 1 << 30 });
    const first = await run(m);
    const reads = m.expertStats!.storeReads;
    const nMoe = m.plan.layers.filter((L) => L.moe).length;
    expect(m.expertStats!.slots).toBe(m.hp.nExpert * nMoe);
    expect(reads).toBeLessThanOrEqual(m.hp.nExpert * nMoe);
    m.reset();
    expect(await run(m)).toEqual(first);
    expect(m.expertStats!.storeReads).toBe(reads);
    m.close();
  }, 60_000);

  it('slots in several heap runs (as above 1 GiB of slots): each expert lands whole where ensure says, LRU evicts the oldest', async () => {
    const bytes = makeModel({ arch: 'qwen3moe', type: T.Q4_K, seed: 5 });
    const source = bytesSource(bytes);
    const plan = planModel(await readGGUF(source));
    const provider = expertProvider(plan, (o, n) => source.read(o, n));
    const kernels = await CpuKernels.create();
    const pitch = HeapExperts.minBudget(plan) / plan.hp.nExpertUsed;
    // 5 slots in runs of 2 slots
    const h = HeapExperts.create(kernels, plan, 5 * pitch, new ExpertTiers(provider, 0, GGUF_FORM), undefined, 2 * pitch);
    expect(h.slots).toBe(5);
    const check = async (layer: number, experts: number[]) => {
      const at = await h.ensure(layer, experts);
      for (const [i, e] of experts.entries()) {
        const b = await provider(layer, e);
        const want = new Uint8Array([...b.gate, ...b.up, ...b.down]);
        expect(Buffer.compare(kernels.mem.u8.subarray(at[i], at[i] + want.length), want), `expert ${e} of layer ${layer}`).toBe(0);
      }
      return at;
    };
    const first = await check(0, [1, 2, 3, 4, 5]);
    expect(new Set(first).size).toBe(5);
    expect(h.stats).toMatchObject({ hits: 0, misses: 5 });
    await check(1, [0, 7]); // evicts layer 0's experts 1 and 2, the least recently used
    await check(0, [3, 4, 5]);
    expect(h.stats).toMatchObject({ hits: 3, misses: 7 });
    await check(0, [1]);
    expect(h.stats.misses).toBe(8);
    kernels.close();
  });

  it('refuses a budget below one token\'s experts, and the synchronous forward when paged', async () => {
    const bytes = makeModel({ arch: 'qwen3moe', type: T.Q4_K, seed: 5 });
    const probe = await WasmModel.load(bytesSource(bytes), { nCtx: 8 });
    const need = HeapExperts.minBudget(probe.plan);
    probe.close();
    const err = await WasmModel.load(bytesSource(bytes), { nCtx: 8, expertBudget: need - 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExpertBudgetError);
    expect((err as Error).message).toMatch(new RegExp(`give at least .* \\(${need} bytes\\)`));
    const m = await WasmModel.load(bytesSource(bytes), { nCtx: 8, expertBudget: need });
    expect(() => m.forward(PROMPT)).toThrow(WasmBackendError);
    m.close();
  });

  it('webmoe generate --backend wasm --expert-budget: the resident ids, the slots\' figures in --json; too small a budget is refused', async () => {
    const bytes = makeModel({ arch: 'qwen3moe', type: T.Q4_K, seed: 5 });
    const dir = mkdtempSync(join(tmpdir(), 'webmoe-wasm-paged-'));
    try {
      const model = join(dir, 'm.gguf');
      writeFileSync(model, bytes);
      const probe = await WasmModel.load(bytesSource(bytes), { nCtx: 8 });
      const need = HeapExperts.minBudget(probe.plan);
      probe.close();
      const run = async (...extra: string[]) => {
        let out = '', err = '';
        const code = await main(['generate', '--model', model, '--prompt-ids', PROMPT.join(','), '--max-tokens', '12', '--ignore-eos', '--backend', 'wasm', '--json', ...extra],
          { out: (s) => { out += s; }, err: (s) => { err += s; } }, COMMANDS);
        return { code, out, err };
      };
      const resident = await run();
      expect(resident.code).toBe(0);
      const paged = await run('--expert-budget', String(need / 1e6), '--ram-budget', '0', '--no-prefetch');
      expect(paged.err).toBe('');
      const r = JSON.parse(resident.out), p = JSON.parse(paged.out);
      expect(r.experts).toBeNull();
      expect(p.ids).toEqual(r.ids);
      expect(p.experts).toMatchObject({ slots: 2, ramBudget: 0, ramHits: 0, guesses: 0 });
      expect(p.experts.misses).toBe(p.experts.storeReads);
      expect(p.weightBytes).toBeLessThan(r.weightBytes);
      const small = await run('--expert-budget', String((need - 64) / 1e6));
      expect(small.code).not.toBe(0);
      expect(small.err).toMatch(/cannot hold one token's 2 experts of a layer .* give at least/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
