// Experts on demand in the reference: with a provider, the routed experts are requested when the
// router first picks them, and the logits must be those of the same model with every expert read
// at load (the same computation, so exactly equal), on every MoE architecture option.
import { describe, expect, it } from 'vitest';
import { makeModel } from '../../tools/factory/make-model.ts';
import { GRANITE_SCALES } from '../../tools/oracle/llamacpp-suite.ts';
import { readGGUF } from '../gguf/reader.ts';
import { bytesSource } from '../gguf/source.ts';
import { GGMLType, type GGUFFile } from '../gguf/types.ts';
import type { HParams } from '../model/hparams.ts';
import { expertRanges, type ExpertProvider } from '../model/experts.ts';
import { planModel } from '../model/plan.ts';
import { ExpertsNotLoadedError } from './experts.ts';
import { greedy, greedyAsync } from './generate.ts';
import { ReferenceModel } from './model.ts';

const PROMPT = [1, 7, 42, 99, 5, 300];

/** Expert bytes cut from the file with the storage layout's ranges; logs every request. */
function fileProvider(bytes: Uint8Array, file: GGUFFile, log: string[] = []): ExpertProvider {
  return async (layer, expert) => {
    log.push(`${layer}/${expert}`);
    const r = expertRanges(planModel(file), layer, expert);
    const cut = (x: { offset: number; length: number }) => bytes.slice(x.offset, x.offset + x.length);
    return { gate: cut(r.gate), up: cut(r.up), down: cut(r.down) };
  };
}

const CASES: { label: string; arch: string; type: GGMLType; hp?: Partial<HParams> }[] = [
  { label: 'qwen3moe Q4_K', arch: 'qwen3moe', type: GGMLType.Q4_K },
  { label: 'qwen2moe Q8_0 (sigmoid-gated shared expert)', arch: 'qwen2moe', type: GGMLType.Q8_0 },
  { label: 'llama 8x top-2 Q4_1 (Q8_1 activations, block mins)', arch: 'llama', type: GGMLType.Q4_1, hp: { nExpert: 8, nExpertUsed: 2 } },
  { label: 'olmoe F16', arch: 'olmoe', type: GGMLType.F16 },
  { label: 'granitemoe + shared expert Q6_K', arch: 'granitemoe', type: GGMLType.Q6_K, hp: { ...GRANITE_SCALES, nFfShexp: 512 } },
  { label: 'grok Q5_0 (GELU experts, post norms)', arch: 'grok', type: GGMLType.Q5_0 },
];

describe('reference: routed experts on demand', () => {
  for (const c of CASES) {
    it(`${c.label}: same logits and greedy tokens as with every expert read at load`, async () => {
      const bytes = makeModel({ arch: c.arch, type: c.type, seed: 3, hp: c.hp });
      const file = await readGGUF(bytesSource(bytes));
      const eager = await ReferenceModel.load(bytesSource(bytes), { nCtx: 32 });
      const log: string[] = [];
      const lazy = await ReferenceModel.load(bytesSource(bytes), { nCtx: 32, experts: fileProvider(bytes, file, log) });
      expect(lazy.experts).toBeDefined();

      const want = eager.forward(PROMPT, true);
      const got = await lazy.forwardAsync(PROMPT, true);
      expect(got).toEqual(want);
      // Each expert is requested once at most, however many tokens route to it.
      expect(new Set(log).size).toBe(log.length);
      expect(lazy.experts!.stats.experts).toBe(log.length);

      const ids = greedy(eager, PROMPT, 8);
      expect(await greedyAsync(lazy, PROMPT, 8)).toEqual(ids);
      expect(new Set(log).size).toBe(log.length);
    });
  }

  it('forward() refuses to run an expert that is not loaded, and leaves the cache position alone', async () => {
    const bytes = makeModel({ arch: 'qwen3moe', type: GGMLType.Q8_0, seed: 4 });
    const file = await readGGUF(bytesSource(bytes));
    const eager = await ReferenceModel.load(bytesSource(bytes), { nCtx: 32 });
    const lazy = await ReferenceModel.load(bytesSource(bytes), { nCtx: 32, experts: fileProvider(bytes, file) });
    expect(() => lazy.forward(PROMPT)).toThrow(ExpertsNotLoadedError);
    expect(lazy.nPast).toBe(0);
    await lazy.forwardAsync(PROMPT);
    // Now every expert these tokens route to is loaded: the synchronous pass runs and agrees.
    lazy.reset();
    eager.reset();
    expect(lazy.forward(PROMPT)).toEqual(eager.forward(PROMPT));
  });

  it('a failing provider leaves the model as it was; the same call then succeeds', async () => {
    const bytes = makeModel({ arch: 'qwen3moe', type: GGMLType.Q8_0, seed: 5 });
    const file = await readGGUF(bytesSource(bytes));
    const good = fileProvider(bytes, file);
    let down = true;
    const flaky: ExpertProvider = async (l, e) => {
      if (down) throw new Error('link down');
      return good(l, e);
    };
    const lazy = await ReferenceModel.load(bytesSource(bytes), { nCtx: 32, experts: flaky });
    await expect(lazy.forwardAsync(PROMPT)).rejects.toThrow('link down');
    expect(lazy.nPast).toBe(0);
    expect(lazy.experts!.stats.experts).toBe(0);
    down = false;
    const [logits] = await lazy.forwardAsync(PROMPT);
    const eager = await ReferenceModel.load(bytesSource(bytes), { nCtx: 32 });
    expect(logits).toEqual(eager.forward(PROMPT)[0]);
    expect(lazy.nPast).toBe(PROMPT.length);
  });

  it('bytes of the wrong length are refused with a named error', async () => {
    const bytes = makeModel({ arch: 'qwen3moe', type: GGMLType.Q8_0, seed: 6 });
    const file = await readGGUF(bytesSource(bytes));
    const good = fileProvider(bytes, file);
    const short: ExpertProvider = async (l, e) => {
      const x = await good(l, e);
      return { ...x, up: x.up.subarray(1) };
    };
    const lazy = await ReferenceModel.load(bytesSource(bytes), { nCtx: 32, experts: short });
    await expect(lazy.forwardAsync(PROMPT)).rejects.toThrow(expect.objectContaining({ name: 'ModelFormatError' }));
  });

  it('a dense model ignores the provider', async () => {
    const bytes = makeModel({ arch: 'qwen3', type: GGMLType.Q8_0, seed: 7 });
    const never: ExpertProvider = () => Promise.reject(new Error('a dense model has no routed experts'));
    const m = await ReferenceModel.load(bytesSource(bytes), { nCtx: 32, experts: never });
    const eager = await ReferenceModel.load(bytesSource(bytes), { nCtx: 32 });
    expect(m.experts).toBeUndefined();
    expect(m.forward(PROMPT)).toEqual(eager.forward(PROMPT));
  });
});
