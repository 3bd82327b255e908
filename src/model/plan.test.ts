// The model plan on factory files of every architecture: hyperparameters equal what gguf-py reads
// from the same metadata keys, every planned tensor is the file's tensor (shape as gguf-py reads
// it), and each way a header can describe a model wrongly gives a ModelFormatError that names it.
import { beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, fixtures, type Fixture } from '../../tools/factory/fixtures.ts';
import { llama3RopeFreqs, makeModel, type Llama3Rope } from '../../tools/factory/make-model.ts';
import { type PyGGUF, pyReadGGUF } from '../../tools/oracle/gguf-py-reader.ts';
import { readGGUF } from '../gguf/reader.ts';
import { bytesSource } from '../gguf/source.ts';
import { GGMLType, GGUFValueType, tensorBytes, type GGUFEntry, type GGUFFile } from '../gguf/types.ts';
import { gv, writeGGUF } from '../gguf/writer.ts';
import { ModelFormatError } from './hparams.ts';
import { planModel, UnsupportedArchError } from './plan.ts';

let files: Fixture[];
let py: Map<string, PyGGUF>;
beforeAll(() => {
  files = fixtures();
  py = new Map(pyReadGGUF(files.map((f) => f.path)).map((p) => [p.path, p]));
});

describe('plans every fixture as gguf-py reads it', () => {
  it.each(FIXTURES.map((f, i) => [f.label, i] as const))('%s', async (_label, i) => {
    const f = files[i];
    const p = py.get(f.path)!;
    const plan = planModel(await readGGUF(bytesSource(f.bytes)));
    const arch = f.options.arch;
    const field = (k: string) => p.fields.find((x) => x.key === `${arch}.${k}`);
    const n = (k: string) => { const x = field(k); return x === undefined ? undefined : Number(x.value); };
    expect(plan.arch.name).toBe(arch);
    expect(plan.hp.nLayer).toBe(n('block_count'));
    expect(plan.hp.nEmbd).toBe(n('embedding_length'));
    expect(plan.hp.nHead).toBe(n('attention.head_count'));
    expect(plan.hp.nHeadKv).toBe(n('attention.head_count_kv'));
    expect(plan.hp.headDim).toBe(n('attention.key_length'));
    expect(plan.hp.nCtxTrain).toBe(n('context_length'));
    expect(plan.hp.nVocab).toBe(n('vocab_size'));
    expect(plan.hp.eps).toBe(n('attention.layer_norm_rms_epsilon'));
    expect(plan.hp.ropeBase).toBe(n('rope.freq_base'));
    expect(plan.hp.nExpert).toBe(n('expert_count') ?? 0);
    expect(plan.hp.nExpertUsed).toBe(n('expert_used_count') ?? 0);
    expect(plan.hp.nFfExp).toBe(n('expert_feed_forward_length') ?? 0);
    expect(plan.hasExperts).toBe((n('expert_count') ?? 0) > 0);
    // Every tensor of the file is planned (the factory writes only what the arch uses), and
    // each planned tensor is the file's tensor of that name, with gguf-py's shape.
    const pyTensors = new Map(p.tensors.map((t) => [t.name, t]));
    expect(plan.tensors.map((t) => t.name).sort()).toEqual([...pyTensors.keys()].sort());
    for (const t of plan.tensors) expect(t.shape.map(String)).toEqual(pyTensors.get(t.name)!.shape);
    expect(plan.output.name).toBe(pyTensors.has('output.weight') ? 'output.weight' : 'token_embd.weight');
    expect(plan.tied).toBe(!!f.options.tied);
    // The records: every layer's attention and FFN or experts are the file's tensors of those names.
    plan.layers.forEach((L, i) => {
      expect(L.attn.q.name).toBe(`blk.${i}.attn_q.weight`);
      expect(L.attn.o.name).toBe(`blk.${i}.attn_output.weight`);
      expect(L.ffnNorm.name).toBe(`blk.${i}.ffn_norm.weight`);
      // MoE layers: all of them, or after the leading dense ones (ERNIE)
      expect(!!L.moe).toBe(plan.hasExperts && i >= plan.hp.nLayerDenseLead);
      if (L.moe) {
        expect(L.moe.experts.down.name).toBe(`blk.${i}.ffn_down_exps.weight`);
        expect(plan.expertTensors.has(L.moe.experts.gate)).toBe(true);
      } else expect(L.ffn!.up.name).toBe(`blk.${i}.ffn_up.weight`);
    });
  });
});

// ---- models described wrongly ------------------------------------------------------------------

/** A factory file, re-written with metadata entries replaced or removed and tensors dropped or
 *  renamed; planned. */
async function planEdited(
  arch: string,
  edit: { meta?: Record<string, GGUFEntry | null>; drop?: string[]; rename?: Record<string, string>; reshape?: Record<string, number[]>; hp?: Record<string, number>; llama3Rope?: Llama3Rope; retype?: Record<string, GGMLType> } = {},
) {
  const bytes = makeModel({ arch, nMerges: 20, hp: edit.hp, llama3Rope: edit.llama3Rope });
  const g = await readGGUF(bytesSource(bytes));
  const meta: [string, GGUFEntry][] = [];
  for (const [k, e] of g.metadata) {
    const r = edit.meta && k in edit.meta ? edit.meta[k] : e;
    if (r) meta.push([k, r]);
  }
  for (const [k, e] of Object.entries(edit.meta ?? {})) if (e && !g.metadata.has(k)) meta.push([k, e]);
  const tensors = g.tensors.filter((t) => !edit.drop?.includes(t.name)).map((t) => ({
    name: edit.rename?.[t.name] ?? t.name, shape: edit.reshape?.[t.name] ?? t.shape, type: edit.retype?.[t.name] ?? t.type,
    // a retyped tensor: its first bytes, as many as the new type needs
    data: bytes.subarray(g.dataOffset + t.offset, g.dataOffset + t.offset + (edit.retype?.[t.name] !== undefined ? tensorBytes(edit.retype[t.name], t.nElements)! : t.nBytes)),
  }));
  const file: GGUFFile = await readGGUF(bytesSource(writeGGUF(meta, tensors)));
  return () => planModel(file);
}

describe('named errors for models described wrongly', () => {
  it('an architecture WebMoE does not run: UnsupportedArchError listing those it does', async () => {
    const plan = await planEdited('llama', { meta: { 'general.architecture': gv.str('mamba') } });
    expect(plan).toThrow(UnsupportedArchError);
    expect(plan).toThrow(/"mamba" is not supported; WebMoE runs: llama, qwen2, qwen3, qwen2moe, qwen3moe, olmoe, granitemoe, grok, ernie4_5-moe/);
  });

  it.each([
    ['no general.architecture', 'llama', { meta: { 'general.architecture': null } }, /lacks general.architecture/],
    ['no block_count', 'qwen2', { meta: { 'qwen2.block_count': null } }, /lacks qwen2.block_count/],
    ['head count as a string', 'llama', { meta: { 'llama.attention.head_count': gv.str('4') } }, /head_count is a string/],
    ['per-layer head_count_kv that varies', 'llama', { meta: { 'llama.attention.head_count_kv': gv.arr(GGUFValueType.UINT32, [2, 4]) } }, /varies per layer/],
    ['kv heads that do not divide the heads', 'llama', { meta: { 'llama.attention.head_count_kv': gv.u32(3) } }, /attention heads do not fit/],
    ['embedding not a multiple of heads, no key_length', 'llama', { meta: { 'llama.attention.key_length': null, 'llama.embedding_length': gv.u32(250) } }, /attention heads do not fit: 4 heads, 2 kv heads, embedding 250/],
    ['MoE arch with 0 experts', 'qwen2moe', { meta: { 'qwen2moe.expert_count': gv.u32(0) } }, /qwen2moe needs qwen2moe.expert_count > 0/],
    ['more experts used than exist', 'olmoe', { meta: { 'olmoe.expert_used_count': gv.u32(9) } }, /expert_used_count is 9, must be 1..8/],
    ['no vocabulary size at all', 'llama', { meta: { 'llama.vocab_size': null, 'tokenizer.ggml.tokens': null } }, /no vocabulary size/],
    ['block_count larger than the tensors', 'llama', { meta: { 'llama.block_count': gv.u32(1000) } }, /block_count is 1000, but the file has only \d+ tensors/],
    ['a required tensor missing', 'qwen3', { drop: ['blk.1.attn_k_norm.weight'] }, /qwen3 model lacks tensor blk.1.attn_k_norm.weight \[64\]/],
    ['untied head missing where the arch needs it', 'qwen2moe', { drop: ['output.weight'] }, /lacks tensor output.weight/],
    ['a tensor of the wrong shape', 'llama', { meta: { 'llama.embedding_length': gv.u32(512), 'llama.attention.head_count': gv.u32(8) } }, /tensor token_embd.weight has shape \[256,277\] \(F32\), llama with these hyperparameters needs \[512,277\]/],
  ] as [string, string, Parameters<typeof planEdited>[1], RegExp][])('%s', async (_label, arch, edit, message) => {
    const plan = await planEdited(arch, edit);
    expect(plan).toThrow(ModelFormatError);
    expect(plan).toThrow(message);
  });
});

describe('what the plan accepts', () => {
  it('a per-layer array that is uniform counts as one value', async () => {
    const plan = (await planEdited('llama', { meta: { 'llama.feed_forward_length': gv.arr(GGUFValueType.UINT32, [512, 512]) } }))();
    expect(plan.hp.nFf).toBe(512);
  });

  it('grok\'s layer_output_norm under llama.cpp\'s other name post_ffw_norm', async () => {
    const plan = (await planEdited('grok', { rename: { 'blk.0.layer_output_norm.weight': 'blk.0.post_ffw_norm.weight' } }))();
    expect(plan.layers[0].postNorm?.name).toBe('blk.0.post_ffw_norm.weight');
  });

  it('a tensor with trailing dimensions of 1, as llama.cpp\'s converter writes ffn_gate_inp_shexp', async () => {
    const plan = (await planEdited('qwen2moe', { reshape: { 'blk.1.ffn_gate_inp_shexp.weight': [256, 1] } }))();
    expect(plan.layers[1].moe!.sharedGate!.shape).toEqual([256]);
    const wrong = await planEdited('qwen2moe', { reshape: { 'blk.1.ffn_gate_inp_shexp.weight': [128, 2] } });
    expect(wrong).toThrow(/tensor blk.1.ffn_gate_inp_shexp.weight has shape \[128,2\] \(F32\), qwen2moe with these hyperparameters needs \[256\]/);
  });

  it('grok without its scale keys takes llama.cpp\'s defaults', async () => {
    const plan = (await planEdited('grok', { meta: { 'grok.embedding_scale': null, 'grok.attn_logit_softcapping': null } }))();
    expect(plan.hp.embeddingScale).toBeCloseTo(78.38367176906169, 12);
    expect(plan.hp.attnSoftcap).toBe(30);
  });

  it('a tied llama uses token_embd as the head; vocab size from the tokens when vocab_size is absent', async () => {
    const bytes = makeModel({ arch: 'llama', nMerges: 20, tied: true });
    const plan = planModel(await readGGUF(bytesSource(bytes)));
    expect(plan.output).toBe(plan.embd);
    expect(plan.tied).toBe(true);
    const noSize = (await planEdited('llama', { meta: { 'llama.vocab_size': null } }))();
    expect(noSize.hp.nVocab).toBe(256 + 20 + 1);
  });
});

describe('RoPE scaling as llama.cpp reads it', () => {
  const LLAMA3: Llama3Rope = { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 };
  /** YaRN's ramp ends (pairs) for a head of d rotated dims, Hugging Face's find_correction_range. */
  const hfCorrDims = (d: number, base: number, orig: number, fast: number, slow: number) => {
    const dim = (rot: number) => (d * Math.log(orig / (rot * 2 * Math.PI))) / (2 * Math.log(base));
    return [Math.max(0, Math.floor(dim(fast))), Math.min(d - 1, Math.ceil(dim(slow)))];
  };
  const yarn = (arch: string, extra: Record<string, GGUFEntry> = {}) => ({
    [`${arch}.rope.scaling.type`]: gv.str('yarn'), [`${arch}.rope.scaling.factor`]: gv.f32(4),
    [`${arch}.rope.scaling.original_context_length`]: gv.u32(32768), [`${arch}.rope.freq_base`]: gv.f32(1e6), ...extra,
  });

  it('llama: rope_freqs.weight, one for all layers, and no other scaling', async () => {
    const plan = (await planEdited('llama', { llama3Rope: LLAMA3 }))();
    expect(plan.ropeFreqs?.name).toBe('rope_freqs.weight');
    expect(plan.ropeFreqs?.shape).toEqual([32]);
    expect(plan.tensors).toContain(plan.ropeFreqs);
    expect(plan.consts.rope).toMatchObject({ freqScale: 1, extFactor: 0, attnFactor: 1 });
    // Llama 3's rule: high-frequency pairs keep 1, the lowest ones get the factor
    const f = llama3RopeFreqs(LLAMA3, 10000, 64);
    expect([f[0], f[31]]).toEqual([1, 32]);
    // an arch llama.cpp does not read it for has no record of it
    expect((await planEdited('qwen3'))().ropeFreqs).toBeUndefined();
  });

  it('qwen3 YaRN: factor, original context, ramp ends as Hugging Face defines them, attention factor', async () => {
    const plan = (await planEdited('qwen3', { meta: yarn('qwen3') }))();
    expect(plan.hp).toMatchObject({ ropeScaling: 'yarn', ropeScaleFactor: 4, nCtxOrigYarn: 32768 });
    const r = plan.consts.rope;
    expect(r.freqScale).toBe(0.25);
    expect(r.extFactor).toBe(1);
    expect(r.corrDims).toEqual(hfCorrDims(64, 1e6, 32768, 32, 1));
    // llama.cpp divides its mscale by the 1 + 0.1 ln(factor) that ggml multiplies in again
    expect(r.attnFactor).toBeCloseTo(1, 6);
    // qwen3 does not read the YaRN beta keys (llama.cpp reads them for grok and mistral3 only)
    const beta = (await planEdited('qwen3', { meta: yarn('qwen3', { 'qwen3.rope.scaling.yarn_beta_fast': gv.f32(8) }) }))();
    expect(beta.consts.rope.corrDims).toEqual(r.corrDims);
  });

  it('grok reads the YaRN beta keys, beta fast 8 by default', async () => {
    const plan = (await planEdited('grok', { meta: yarn('grok') }))();
    expect(plan.hp.yarnBetaFast).toBe(8);
    expect(plan.consts.rope.corrDims).toEqual(hfCorrDims(64, 1e6, 32768, 8, 1));
    const set = (await planEdited('grok', { meta: yarn('grok', { 'grok.rope.scaling.yarn_beta_fast': gv.f32(16), 'grok.rope.scaling.yarn_ext_factor': gv.f32(0) }) }))();
    expect(set.consts.rope.corrDims).toEqual(hfCorrDims(64, 1e6, 32768, 16, 1));
    expect(set.consts.rope.extFactor).toBe(0);
  });

  it.each([
    ['linear', { 'llama.rope.scaling.type': gv.str('linear'), 'llama.rope.scaling.factor': gv.f32(4) }, 0.25],
    ['the old key rope.scale_linear', { 'llama.rope.scale_linear': gv.f32(2) }, 0.5],
    ['type none, whatever the factor', { 'llama.rope.scaling.type': gv.str('none'), 'llama.rope.scaling.factor': gv.f32(4) }, 1],
    ['no keys', {}, 1],
  ] as [string, Record<string, GGUFEntry>, number][])('%s: freqScale as llama.cpp sets it', async (_label, meta, freqScale) => {
    const plan = (await planEdited('llama', { meta }))();
    expect(plan.consts.rope).toMatchObject({ freqScale, extFactor: 0, attnFactor: 1 });
  });

  it.each([
    ['longrope (Phi-3), which WebMoE does not run', { meta: { 'llama.rope.scaling.type': gv.str('longrope') } }, /llama.rope.scaling.type is longrope; WebMoE supports RoPE scaling none, linear, yarn/],
    ['a scaling type llama.cpp does not know', { meta: { 'llama.rope.scaling.type': gv.str('dynamic') } }, /llama.rope.scaling.type is "dynamic"; llama.cpp knows none, linear, yarn, longrope/],
    ['a negative factor', { meta: { 'llama.rope.scaling.factor': gv.f32(-2) } }, /ropeScaleFactor is -2, must be a finite number >= 0/],
    ['a zero rope base', { meta: { 'llama.rope.freq_base': gv.f32(0) } }, /ropeBase is 0, must be a finite number > 0/],
    ['rope_freqs of the wrong shape', { llama3Rope: LLAMA3, reshape: { 'rope_freqs.weight': [16, 2] } }, /tensor rope_freqs.weight has shape \[16,2\] \(F32\), llama with these hyperparameters needs \[32\]/],
    ['rope_freqs in F16', { llama3Rope: LLAMA3, retype: { 'rope_freqs.weight': GGMLType.F16 } }, /rope_freqs.weight is F16; llama.cpp reads RoPE frequency factors as F32 only/],
  ] as [string, Parameters<typeof planEdited>[1], RegExp][])('%s: a named error', async (_label, edit, message) => {
    const plan = await planEdited('llama', edit);
    expect(plan).toThrow(ModelFormatError);
    expect(plan).toThrow(message);
  });
});

describe('gpt-oss as llama.cpp loads it (src/models/openai-moe.cpp)', () => {
  it('records: sinks, biases, the FFN norm named post_attention_norm; even layers slide', async () => {
    const plan = (await planEdited('gpt-oss', { hp: { nLayer: 3 } }))();
    const L = plan.layers[1];
    expect(L.attn.sinks?.name).toBe('blk.1.attn_sinks.weight');
    expect(L.attn.sinks?.shape).toEqual([4]);
    expect([L.attn.qBias?.name, L.attn.oBias?.name]).toEqual(['blk.1.attn_q.bias', 'blk.1.attn_output.bias']);
    expect(L.ffnNorm.name).toBe('blk.1.post_attention_norm.weight');
    expect(L.moe!.routerBias?.name).toBe('blk.1.ffn_gate_inp.bias');
    expect(L.moe!.expertBiases?.down.shape).toEqual([256, 8]);
    expect(L.moe!.expertBiases?.gate.shape).toEqual([256, 8]);
    // the biases stay resident: only the stacked expert matrices are paged
    expect(plan.expertTensors.has(L.moe!.expertBiases!.up)).toBe(false);
    expect(plan.consts.swaLayers).toEqual([true, false, true]);
    expect(plan.consts.swaWindow).toBe(128);
    expect(plan.consts.ropeSwa).toEqual(plan.consts.rope);
  });

  it('sliding_window_pattern and rope.freq_base_swa from the file', async () => {
    const plan = (await planEdited('gpt-oss', {
      hp: { nLayer: 4 },
      meta: { 'gpt-oss.attention.sliding_window_pattern': gv.u32(3), 'gpt-oss.rope.freq_base_swa': gv.f32(500) },
    }))();
    expect(plan.consts.swaLayers).toEqual([true, true, false, true]);
    expect(plan.consts.ropeSwa.base).toBe(500);
    expect(plan.consts.rope.base).toBe(10000);
    // pattern 0: every layer slides (llama.cpp set_swa_pattern)
    const all = (await planEdited('gpt-oss', { meta: { 'gpt-oss.attention.sliding_window_pattern': gv.u32(0) } }))();
    expect(all.consts.swaLayers).toEqual([true, true]);
  });

  it.each([
    ['no sliding_window', { meta: { 'gpt-oss.attention.sliding_window': null } }, /lacks gpt-oss.attention.sliding_window/],
    ['a window of 0', { meta: { 'gpt-oss.attention.sliding_window': gv.u32(0) } }, /sliding_window is 0, must be a whole number >= 1/],
    ['a per-layer pattern array', { meta: { 'gpt-oss.attention.sliding_window_pattern': gv.arr(GGUFValueType.BOOL, [true, false]) } }, /sliding_window_pattern is a per-layer array/],
    ['rope dims other than the head size', { meta: { 'gpt-oss.rope.dimension_count': gv.u32(32) } }, /gpt-oss sizes heads by rope.dimension_count \(32\), which must equal attention.key_length \(64\)/],
    ['no attention sinks', { drop: ['blk.1.attn_sinks.weight'] }, /gpt-oss model lacks tensor blk.1.attn_sinks.weight \[4\]/],
    ['sinks in F16', { retype: { 'blk.0.attn_sinks.weight': GGMLType.F16 } }, /attn_sinks.weight is F16; llama.cpp reads attention sinks and expert biases as F32 only/],
    ['an expert bias in F16', { retype: { 'blk.1.ffn_up_exps.bias': GGMLType.F16 } }, /ffn_up_exps.bias is F16; llama.cpp reads attention sinks and expert biases as F32 only/],
    ['no output bias', { drop: ['blk.0.attn_output.bias'] }, /lacks tensor blk.0.attn_output.bias \[256\]/],
    ['no router bias', { drop: ['blk.0.ffn_gate_inp.bias'] }, /lacks tensor blk.0.ffn_gate_inp.bias \[8\]/],
    ['the FFN norm under the name other archs use', { rename: { 'blk.0.post_attention_norm.weight': 'blk.0.ffn_norm.weight' } }, /lacks tensor blk.0.post_attention_norm.weight/],
    ['a down-projection bias of the wrong shape', { reshape: { 'blk.0.ffn_down_exps.bias': [8, 256] } }, /ffn_down_exps.bias has shape \[8,256\] \(F32\), gpt-oss with these hyperparameters needs \[256,8\]/],
  ] as [string, Parameters<typeof planEdited>[1], RegExp][])('%s: a named error', async (_label, edit, message) => {
    const plan = await planEdited('gpt-oss', edit);
    expect(plan).toThrow(ModelFormatError);
    expect(plan).toThrow(message);
  });
});
