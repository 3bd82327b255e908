import { describe, expect, it } from 'vitest';
import { makeModel } from '../../tools/factory/make-model.ts';
import { readGGUF } from '../gguf/reader.ts';
import { bytesSource } from '../gguf/source.ts';
import { GGMLType } from '../gguf/types.ts';
import { expertProvider, expertRanges } from './experts.ts';
import { planModel } from './plan.ts';

const bytes = makeModel({ arch: 'qwen3moe', type: GGMLType.Q4_K, seed: 2, hp: { nLayer: 2, nExpert: 8 } });
const plan = planModel(await readGGUF(bytesSource(bytes)));

describe('expert ranges', () => {
  it('finds each expert as one range inside its stacked tensor', () => {
    const t = plan.file.tensors.find((x) => x.name === 'blk.1.ffn_down_exps.weight')!;
    const per = t.nBytes / 8;
    const r = expertRanges(plan, 1, 5);
    expect(r.down).toEqual({ offset: plan.file.dataOffset + t.offset + 5 * per, length: per });
    expect(r.gate.length).toBe(per); // gate/up/down are the same size in this model
    expect(() => expertRanges(plan, 1, 8)).toThrow(/experts 0..7, not 8/);
    expect(() => expertRanges(plan, 9, 0)).toThrow(/layer 9 of this qwen3moe model has no routed experts \(layers 0..1\)/);
  });

  it('a provider over a reader gives the bytes of those ranges, and refuses a short read', async () => {
    const read = async (o: number, n: number) => bytes.subarray(o, o + n);
    const got = await expertProvider(plan, read)(0, 3);
    const r = expertRanges(plan, 0, 3);
    expect(got.up).toEqual(bytes.subarray(r.up.offset, r.up.offset + r.up.length));
    const short = expertProvider(plan, async (o, n) => bytes.subarray(o, o + n - 1));
    await expect(short(0, 3)).rejects.toThrow(/expert 3 of layer 0: gate is cut short/);
  });
});
