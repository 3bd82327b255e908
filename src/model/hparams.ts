// Hyperparameters of a model, read from GGUF metadata (`{arch}.*` keys, as llama.cpp names them),
// and written back by the model factory. Scales are 0 when the architecture does not use them.
import type { GGUFEntry, GGUFFile } from '../gguf/types.ts';
import { gv } from '../gguf/writer.ts';

export interface HParams {
  arch: string;
  nLayer: number;
  nEmbd: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;      // key/value length per head (elements)
  nFf: number;          // dense FFN width (elements); 0 when the model has none
  nCtxTrain: number;
  nVocab: number;
  eps: number;          // RMSNorm epsilon
  ropeDim: number;      // elements of each head that RoPE rotates
  ropeBase: number;
  /** RoPE scaling (rope.scaling.type; llama.cpp reads 'linear' when the key is absent, which with
   *  no factor scales nothing): positions divided by the factor ('linear'), or YaRN. */
  ropeScaling: RopeScaling;
  ropeScaleFactor: number; // rope.scaling.factor (or rope.scale_linear); 0 = none
  ropeAttnFactor: number;  // rope.scaling.attn_factor: multiplies cos/sin (default 1)
  nCtxOrigYarn: number;    // rope.scaling.original_context_length (default: the training context)
  /** Sliding-window attention (archs with AttentionOptions.swaPattern): a query at position p
   *  sees keys at p - nSwa + 1 .. p on sliding layers (attention.sliding_window; 0 = none). */
  nSwa: number;
  /** Layer il slides when swaPattern is 0 or il % swaPattern < swaPattern - 1
   *  (attention.sliding_window_pattern, else the arch's default). */
  swaPattern: number;
  ropeBaseSwa: number;     // rope.freq_base_swa: the RoPE base of sliding layers (default ropeBase)
  nExpert: number;      // 0 for dense models
  nExpertUsed: number;
  nFfExp: number;       // width of one routed expert (elements)
  nFfShexp: number;     // width of the shared expert, 0 if none
  nLayerDenseLead: number; // leading layers with a dense FFN before the MoE ones (0: none)
  moeLayerStep: number;    // after those, every moeLayerStep-th layer is MoE (1: all)
  expertWeightsScale: number;
  embeddingScale: number;
  residualScale: number;
  attentionScale: number; // kq scale; 0 means 1/sqrt(headDim)
  logitScale: number;
  attnOutScale: number;   // grok: multiplier of kq before the soft cap
  attnSoftcap: number;
  finalSoftcap: number;
  /** YaRN keys that only some archs read (grok); otherwise llama.cpp's defaults below. */
  yarnExtFactor: number;  // < 0: 1 for YaRN, 0 otherwise
  yarnAttnFactor: number; // cos/sin multiplier when the ext factor is 0
  yarnBetaFast: number;
  yarnBetaSlow: number;
}

export type RopeScaling = 'none' | 'linear' | 'yarn';
const ROPE_SCALINGS: readonly string[] = ['none', 'linear', 'yarn'];

/** A model this build cannot run, or a GGUF missing what its architecture needs. */
export class ModelFormatError extends Error {
  override name = 'ModelFormatError';
}

type Meta = GGUFFile['metadata'];

function num(meta: Meta, key: string): number | undefined {
  const v = meta.get(key)?.value;
  if (v === undefined) return undefined;
  if (Array.isArray(v)) {
    // Per-layer arrays (e.g. feed_forward_length): WebMoE needs them uniform.
    const first = Number(v[0]);
    if (!v.every((x) => Number(x) === first)) throw new ModelFormatError(`${key} varies per layer; WebMoE needs one value`);
    return first;
  }
  if (typeof v === 'string') throw new ModelFormatError(`${key} is a string, expected a number`);
  return Number(v);
}

function need(meta: Meta, key: string): number {
  const v = num(meta, key);
  if (v === undefined) throw new ModelFormatError(`GGUF metadata lacks ${key}`);
  return v;
}

/** Scale hyperparameters and their `{arch}.` metadata keys. llama.cpp reads each only for some
 *  architectures (ArchSpec.scales lists them); elsewhere a key in the file is ignored. */
export const SCALE_KEYS = {
  expertWeightsScale: 'expert_weights_scale',
  embeddingScale: 'embedding_scale',
  residualScale: 'residual_scale',
  attentionScale: 'attention.scale',
  logitScale: 'logit_scale',
  attnOutScale: 'attention.output_scale',
  attnSoftcap: 'attn_logit_softcapping',
  finalSoftcap: 'final_logit_softcapping',
  yarnExtFactor: 'rope.scaling.yarn_ext_factor',
  yarnAttnFactor: 'rope.scaling.yarn_attn_factor',
  yarnBetaFast: 'rope.scaling.yarn_beta_fast',
  yarnBetaSlow: 'rope.scaling.yarn_beta_slow',
} as const;
export type ScaleName = keyof typeof SCALE_KEYS;

/** llama.cpp's values of the scales that are not 0 when unset (llama-hparams.h). */
const SCALE_DEFAULTS: Partial<Record<ScaleName, number>> = { yarnExtFactor: -1, yarnAttnFactor: 1, yarnBetaFast: 32, yarnBetaSlow: 1 };

/** The value of scale `name` for an arch with `defaults` when its file has no key for it. */
export function scaleDefault(name: ScaleName, defaults: HParamDefaults = {}): number {
  return defaults[name] ?? SCALE_DEFAULTS[name] ?? 0;
}

/** Defaults an architecture sets before reading its keys (llama.cpp's load_arch_hparams). */
export type HParamDefaults = Partial<Record<ScaleName, number>>;

function scales(meta: Meta, arch: string, reads: readonly ScaleName[], defaults: HParamDefaults): Record<ScaleName, number> {
  const out = {} as Record<ScaleName, number>;
  for (const [name, key] of Object.entries(SCALE_KEYS) as [ScaleName, string][]) {
    out[name] = (reads.includes(name) ? num(meta, `${arch}.${key}`) : undefined) ?? scaleDefault(name, defaults);
  }
  return out;
}

function ropeScaling(meta: Meta, arch: string): RopeScaling {
  const key = `${arch}.rope.scaling.type`;
  const v = meta.get(key)?.value ?? 'linear';
  if (v === 'longrope') throw new ModelFormatError(`${key} is longrope; WebMoE supports RoPE scaling ${ROPE_SCALINGS.join(', ')}`);
  if (typeof v !== 'string' || !ROPE_SCALINGS.includes(v)) throw new ModelFormatError(`${key} is ${JSON.stringify(v)}; llama.cpp knows none, linear, yarn, longrope`);
  return v as RopeScaling;
}

/** The sliding-window keys of an arch whose default pattern is `pattern` (> 0), as llama.cpp's
 *  gpt-oss loader reads them: the window is required, a per-layer pattern array is not supported. */
function slidingWindow(meta: Meta, arch: string, pattern: number, ropeBase: number): Pick<HParams, 'nSwa' | 'swaPattern' | 'ropeBaseSwa'> {
  const key = `${arch}.attention.sliding_window_pattern`;
  if (Array.isArray(meta.get(key)?.value)) throw new ModelFormatError(`${key} is a per-layer array; WebMoE reads it as one number (the period)`);
  const nSwa = need(meta, `${arch}.attention.sliding_window`);
  if (!Number.isSafeInteger(nSwa) || nSwa < 1) throw new ModelFormatError(`${arch}.attention.sliding_window is ${nSwa}, must be a whole number >= 1`);
  const swaPattern = num(meta, key) ?? pattern;
  if (!Number.isSafeInteger(swaPattern) || swaPattern < 0) throw new ModelFormatError(`${key} is ${swaPattern}, must be a whole number >= 0`);
  const ropeBaseSwa = num(meta, `${arch}.rope.freq_base_swa`) ?? ropeBase;
  if (!Number.isFinite(ropeBaseSwa) || ropeBaseSwa <= 0) throw new ModelFormatError(`${arch}.rope.freq_base_swa is ${ropeBaseSwa}, must be a finite number > 0`);
  return { nSwa, swaPattern, ropeBaseSwa };
}

/** Reads `{arch}.*` hyperparameters; `swaPattern` > 0: the arch has sliding-window layers with
 *  that default pattern (AttentionOptions.swaPattern). */
export function readHParams(file: GGUFFile, arch: string, reads: readonly ScaleName[] = [], defaults: HParamDefaults = {}, swaPattern = 0): HParams {
  const m = file.metadata;
  const k = (s: string) => `${arch}.${s}`;
  const nEmbd = need(m, k('embedding_length'));
  const nHead = need(m, k('attention.head_count'));
  const headDim = num(m, k('attention.key_length')) ?? nEmbd / nHead;
  const nExpert = num(m, k('expert_count')) ?? 0;
  const nFf = num(m, k('feed_forward_length')) ?? 0;
  const tokens = m.get('tokenizer.ggml.tokens')?.value;
  const hp: HParams = {
    arch,
    nLayer: need(m, k('block_count')),
    nEmbd,
    nHead,
    nHeadKv: num(m, k('attention.head_count_kv')) ?? nHead,
    headDim,
    nFf,
    nCtxTrain: need(m, k('context_length')),
    nVocab: num(m, k('vocab_size')) ?? (Array.isArray(tokens) ? tokens.length : 0),
    eps: need(m, k('attention.layer_norm_rms_epsilon')),
    ropeDim: num(m, k('rope.dimension_count')) ?? headDim,
    ropeBase: num(m, k('rope.freq_base')) ?? 10000,
    ropeScaling: ropeScaling(m, arch),
    ropeScaleFactor: num(m, k('rope.scaling.factor')) ?? num(m, k('rope.scale_linear')) ?? 0,
    ropeAttnFactor: num(m, k('rope.scaling.attn_factor')) ?? 1,
    nCtxOrigYarn: num(m, k('rope.scaling.original_context_length')) ?? 0,
    nSwa: 0, swaPattern: 0, ropeBaseSwa: 0,
    nExpert,
    nExpertUsed: num(m, k('expert_used_count')) ?? 0,
    nFfExp: num(m, k('expert_feed_forward_length')) ?? 0,
    nFfShexp: num(m, k('expert_shared_feed_forward_length')) ?? 0,
    nLayerDenseLead: num(m, k('leading_dense_block_count')) ?? 0,
    moeLayerStep: num(m, k('interleave_moe_layer_step')) ?? 1,
    ...scales(m, arch, reads, defaults),
  };
  // Sizes count layers, heads, elements or experts: whole numbers. A float, a negative or a value
  // past 2^53 is a damaged file (found by src/gguf/fuzz.test.ts), refused before anything loops on it.
  for (const f of ['nLayer', 'nEmbd', 'nHead', 'nHeadKv', 'nFf', 'nCtxTrain', 'nVocab', 'ropeDim', 'nCtxOrigYarn', 'nExpert', 'nExpertUsed', 'nFfExp', 'nFfShexp', 'nLayerDenseLead', 'moeLayerStep'] as const) {
    const min = f === 'nLayer' || f === 'nEmbd' || f === 'nHead' || f === 'nHeadKv' || f === 'moeLayerStep' ? 1 : 0;
    if (!Number.isSafeInteger(hp[f]) || hp[f] < min) throw new ModelFormatError(`${arch}: hyperparameter ${f} is ${hp[f]}, must be a whole number >= ${min}`);
  }
  if (!hp.nCtxOrigYarn) hp.nCtxOrigYarn = hp.nCtxTrain;
  for (const f of ['ropeBase', 'ropeScaleFactor', 'ropeAttnFactor'] as const) {
    const min = f === 'ropeBase' ? '> 0' : '>= 0';
    if (!Number.isFinite(hp[f]) || hp[f] < 0 || (f === 'ropeBase' && hp[f] === 0)) throw new ModelFormatError(`${arch}: hyperparameter ${f} is ${hp[f]}, must be a finite number ${min}`);
  }
  hp.ropeBaseSwa = hp.ropeBase;
  if (swaPattern > 0) Object.assign(hp, slidingWindow(m, arch, swaPattern, hp.ropeBase));
  if (hp.nVocab <= 0) throw new ModelFormatError('GGUF metadata gives no vocabulary size (no vocab_size and no tokenizer.ggml.tokens)');
  if (!Number.isInteger(hp.headDim) || hp.nHead % hp.nHeadKv !== 0) {
    throw new ModelFormatError(`attention heads do not fit: ${nHead} heads, ${hp.nHeadKv} kv heads, embedding ${nEmbd}`);
  }
  if (nExpert > 0 && (hp.nExpertUsed < 1 || hp.nExpertUsed > nExpert)) {
    throw new ModelFormatError(`${arch}.expert_used_count is ${hp.nExpertUsed}, must be 1..${nExpert}`);
  }
  return hp;
}

/** The `{arch}.*` metadata entries llama.cpp reads for these hyperparameters (factory output);
 *  `moeLayerKeys`: the arch places its MoE layers by leading_dense_block_count and
 *  interleave_moe_layer_step (llama.cpp requires the latter there). */
export function hparamsMetadata(hp: HParams, moeLayerKeys = false): [string, GGUFEntry][] {
  const k = (s: string) => `${hp.arch}.${s}`;
  const out: [string, GGUFEntry][] = [
    [k('context_length'), gv.u32(hp.nCtxTrain)],
    [k('embedding_length'), gv.u32(hp.nEmbd)],
    [k('block_count'), gv.u32(hp.nLayer)],
    [k('attention.head_count'), gv.u32(hp.nHead)],
    [k('attention.head_count_kv'), gv.u32(hp.nHeadKv)],
    [k('attention.key_length'), gv.u32(hp.headDim)],
    [k('attention.value_length'), gv.u32(hp.headDim)],
    [k('attention.layer_norm_rms_epsilon'), gv.f32(hp.eps)],
    [k('rope.dimension_count'), gv.u32(hp.ropeDim)],
    [k('rope.freq_base'), gv.f32(hp.ropeBase)],
    [k('vocab_size'), gv.u32(hp.nVocab)],
  ];
  if (hp.ropeScaling !== 'linear' || hp.ropeScaleFactor) out.push([k('rope.scaling.type'), gv.str(hp.ropeScaling)]);
  if (hp.ropeScaleFactor) out.push([k('rope.scaling.factor'), gv.f32(hp.ropeScaleFactor)]);
  if (hp.ropeAttnFactor !== 1) out.push([k('rope.scaling.attn_factor'), gv.f32(hp.ropeAttnFactor)]);
  if (hp.nCtxOrigYarn !== hp.nCtxTrain) out.push([k('rope.scaling.original_context_length'), gv.u32(hp.nCtxOrigYarn)]);
  if (hp.nSwa) out.push([k('attention.sliding_window'), gv.u32(hp.nSwa)]);
  if (hp.nSwa && hp.ropeBaseSwa !== hp.ropeBase) out.push([k('rope.freq_base_swa'), gv.f32(hp.ropeBaseSwa)]);
  if (hp.nFf) out.push([k('feed_forward_length'), gv.u32(hp.nFf)]);
  if (hp.nExpert) {
    out.push([k('expert_count'), gv.u32(hp.nExpert)], [k('expert_used_count'), gv.u32(hp.nExpertUsed)]);
  }
  if (hp.nFfExp) out.push([k('expert_feed_forward_length'), gv.u32(hp.nFfExp)]);
  if (hp.nFfShexp) out.push([k('expert_shared_feed_forward_length'), gv.u32(hp.nFfShexp)]);
  if (moeLayerKeys) {
    out.push([k('leading_dense_block_count'), gv.u32(hp.nLayerDenseLead)], [k('interleave_moe_layer_step'), gv.u32(hp.moeLayerStep)]);
  }
  for (const [field, key] of Object.entries(SCALE_KEYS) as [ScaleName, string][]) {
    if (hp[field] !== scaleDefault(field)) out.push([k(key), gv.f32(hp[field])]);
  }
  return out;
}

