// make-model's flags to FactoryOptions: each flag lands in its field, defaults are the factory's,
// and flags are checked before any weight is made. (End to end, with gguf-py reading the written
// file back, is in src/cli/cli.test.ts.)
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/io.ts';
import { readGGUF } from '../../src/gguf/reader.ts';
import { bytesSource } from '../../src/gguf/source.ts';
import { GGMLType } from '../../src/gguf/types.ts';
import { FACTORY_TYPES, parseMakeModelArgs } from './cli.ts';
import { makeModel, type FactoryOptions } from './make-model.ts';

describe('parseMakeModelArgs', () => {
  it('defaults: F32, seed 1, untied, no overrides', () => {
    expect(parseMakeModelArgs(['--arch', 'qwen3', '--out', 'm.gguf'])).toEqual({
      options: { arch: 'qwen3', type: GGMLType.F32, seed: 1, tied: false, hp: {} }, out: 'm.gguf', help: false,
    });
  });

  it('every size flag lands in its hyperparameter', () => {
    const { options } = parseMakeModelArgs([
      '--arch', 'qwen2moe', '--type', 'q6_k', '--seed=-5', '--merges', '77', '--gguf-version', '2', '--alignment', '128',
      '--layers', '3', '--embd', '512', '--heads', '8', '--kv-heads', '4', '--head-dim', '64', '--rope-dim', '32',
      '--ff', '256', '--ff-exp', '512', '--ff-shexp', '768', '--experts', '16', '--experts-used', '4', '--ctx', '8192',
      '--eps', '1e-6', '--rope-base', '1000000', '--out', 'x',
    ]);
    expect(options).toEqual({
      arch: 'qwen2moe', type: GGMLType.Q6_K, seed: -5, tied: false, nMerges: 77, version: 2, alignment: 128,
      hp: {
        nLayer: 3, nEmbd: 512, nHead: 8, nHeadKv: 4, headDim: 64, ropeDim: 32, nFf: 256, nFfExp: 512, nFfShexp: 768,
        nExpert: 16, nExpertUsed: 4, nCtxTrain: 8192, eps: 1e-6, ropeBase: 1000000,
      },
    });
  });

  it('RoPE scaling flags: type, factor, original context, Llama 3 rope_freqs', () => {
    const yarn = parseMakeModelArgs(['--arch', 'qwen3', '--rope-scaling', 'yarn', '--rope-factor', '4', '--rope-orig-ctx', '32768', '--out', 'x']);
    expect(yarn.options.hp).toEqual({ ropeScaling: 'yarn', ropeScaleFactor: 4, nCtxOrigYarn: 32768 });
    const l3 = parseMakeModelArgs(['--arch', 'llama', '--rope-base', '500000', '--llama3-rope', '32,1,4,8192', '--out', 'x']);
    expect(l3.options.llama3Rope).toEqual({ factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 });
  });

  it('--head-dim without --rope-dim rotates the whole head', () => {
    expect(parseMakeModelArgs(['--arch', 'llama', '--head-dim', '32', '--heads', '8', '--out', 'x']).options.hp).toEqual({ headDim: 32, nHead: 8, ropeDim: 32 });
  });

  it('offers exactly the types the quantizer writes, F32 first', () => {
    expect(FACTORY_TYPES[0]).toBe(GGMLType.F32);
    expect(FACTORY_TYPES).toContain(GGMLType.Q4_K);
    expect(FACTORY_TYPES).not.toContain(GGMLType.IQ2_XS);
  });

  it('--help wins over missing flags', () => {
    expect(parseMakeModelArgs(['--help']).help).toBe(true);
  });

  it.each([
    [['--arch', 'llama', '--out', 'x', '--seed', '1.5']],
    [['--arch', 'llama', '--out', 'x', '--rope-dim', '66']], // larger than the 64-element head
    [['--arch', 'llama', '--out', 'x', '--rope-dim', '31', '--head-dim', '64']], // odd
    [['--arch', 'llama', '--out', 'x', '--ff', '0']], // a dense model without an FFN
    [['--arch', 'llama', '--out', 'x', '--type', 'Q8_0', '--ff', '48']], // not whole Q8_0 blocks of 32
    [['--arch', 'qwen3moe', '--out', 'x', '--type', 'Q2_K', '--ff-exp', '48']], // nor any 32-block fallback
    [['--arch', 'llama', '--out', 'x', '--merges', '50001']],
    [['--arch', 'llama', '--out', 'x', '--bogus']],
    [['--arch', 'llama', '--out', 'x', '--rope-scaling', 'longrope']],
    [['--arch', 'llama', '--out', 'x', '--llama3-rope', '32,4,1,8192']], // high below low
    [['--arch', 'qwen3', '--out', 'x', '--llama3-rope', '32,1,4,8192']], // qwen3 has no rope_freqs
  ])('refuses %j with a UsageError', (argv) => {
    expect(() => parseMakeModelArgs(argv)).toThrow(UsageError);
  });

  it('rows that are not whole 256-blocks take llama.cpp\'s 32-block fallback type', async () => {
    const { options } = parseMakeModelArgs(['--arch', 'qwen3moe', '--out', 'x', '--type', 'IQ4_XS', '--ff-exp', '96']);
    const types = async (o: FactoryOptions) => new Map((await readGGUF(bytesSource(makeModel({ ...o, nMerges: 20 })))).tensors.map((t) => [t.name, t.type]));
    const t = await types(options);
    expect(t.get('blk.0.ffn_down_exps.weight')).toBe(GGMLType.IQ4_NL);
    expect(t.get('blk.0.ffn_up_exps.weight')).toBe(GGMLType.IQ4_XS);
    expect((await types({ ...options, type: GGMLType.Q3_K })).get('blk.1.ffn_down_exps.weight')).toBe(GGMLType.Q4_0);
    expect((await types({ ...options, type: GGMLType.Q6_K })).get('blk.1.ffn_down_exps.weight')).toBe(GGMLType.Q8_0);
  });
});
