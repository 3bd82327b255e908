// The model factory: a GGUF file of any supported architecture and weight type, with seeded random
// weights and a real byte-level BPE vocabulary, made at test time (nothing large is committed).
import { GGMLType, TYPE_TRAITS, type GGUFEntry } from '../../src/gguf/types.ts';
import { quantize } from '../../src/gguf/quant.ts';
import { gv, writeGGUF, type TensorInput } from '../../src/gguf/writer.ts';
import { tensorSpecs, type TensorSpec } from '../../src/model/arch.ts';
import { ARCHS } from '../../src/model/archs/index.ts';
import { hparamsMetadata, scaleDefault, type HParams } from '../../src/model/hparams.ts';
import { seededRandom, type Random } from '../../src/util/random.ts';
import { gpt2Vocab, vocabMetadata } from './vocab.ts';

export interface FactoryOptions {
  arch: string;
  /** Type of the weight matrices, embeddings and experts; norms, biases and routers stay F32. */
  type?: GGMLType;
  /** Other types for the matrices whose names match, first match wins (llama.cpp's mixes such as
   *  Q4_K_M: some layers' ffn_down in Q6_K). */
  typeOverrides?: { match: RegExp; type: GGMLType }[];
  seed?: number;
  /** BPE merges kept from GPT-2's list (vocabulary = 256 + nMerges + 1). */
  nMerges?: number;
  /** Leave out output.weight where the arch allows it, so the head reuses token_embd. Random tied
   *  models mostly repeat the last token (its embedding dominates the final state), so untied is
   *  the default. */
  tied?: boolean;
  /** Overrides of the default tiny hyperparameters. */
  hp?: Partial<HParams>;
  /** GGUF version (2 and 3 differ only in that 3 may be big-endian; both little-endian here). */
  version?: 2 | 3;
  /** Tensor data alignment in bytes (power of two); 32 is GGUF's default. */
  alignment?: number;
  /** Write rope_freqs.weight as Llama 3.1's converter computes it from these (archs with
   *  ropeFreqFactors). RoPE scaling by metadata (linear, YaRN): hp.ropeScaling and its fields. */
  llama3Rope?: Llama3Rope;
}

/** Llama 3.1's rope_scaling (config.json, rope_type "llama3"); Llama 3.2 1B/3B: factor 32,
 *  low/high frequency factors 1 and 4, original context 8192. */
export interface Llama3Rope {
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalContext: number;
}

/** The rope_freqs of Llama 3 (llama.cpp's conversion/llama.py generate_extra_tensors): per pair,
 *  1 for wavelengths below originalContext / highFreqFactor, `factor` above originalContext /
 *  lowFreqFactor, and a smooth blend between. */
export function llama3RopeFreqs(r: Llama3Rope, base: number, ropeDim: number): Float32Array {
  const out = new Float32Array(ropeDim / 2);
  const lowWavelen = r.originalContext / r.lowFreqFactor, highWavelen = r.originalContext / r.highFreqFactor;
  for (let i = 0; i < out.length; i++) {
    const wavelen = 2 * Math.PI * Math.pow(base, (2 * i) / ropeDim);
    const smooth = (r.originalContext / wavelen - r.lowFreqFactor) / (r.highFreqFactor - r.lowFreqFactor);
    out[i] = wavelen < highWavelen ? 1 : wavelen > lowWavelen ? r.factor : 1 / ((1 - smooth) / r.factor + smooth);
  }
  return out;
}

export { seededRandom } from '../../src/util/random.ts';

/** Tiny defaults: every matrix row is a multiple of 256 elements, so K-quants apply everywhere. */
export function defaultHParams(arch: string, nVocab: number, over: Partial<HParams> = {}): HParams {
  const spec = ARCHS[arch];
  if (!spec) throw new Error(`unknown architecture "${arch}"; known: ${Object.keys(ARCHS).join(', ')}`);
  const moe = spec.experts === 'always';
  return {
    arch,
    // Whole-projection q/k norms (OLMoE) are sized n_embd in llama.cpp: no GQA there. An arch
    // with leading dense layers gets one, then two MoE layers.
    nLayer: spec.ffn.moeLayers === 'after-dense-lead' ? 3 : 2, nEmbd: 256, nHead: 4, nHeadKv: spec.attention.qkNorm === 'full' ? 4 : 2, headDim: 64,
    nFf: moe ? 256 : 512, // MoE: the expert width, for the archs that read it from feed_forward_length
    nCtxTrain: 4096, nVocab, eps: 1e-5, ropeDim: 64, ropeBase: 10000,
    nExpert: moe ? 8 : 0, nExpertUsed: moe ? 2 : 0, nFfExp: moe ? 256 : 0,
    nFfShexp: spec.ffn.shared === 'sigmoid-gated' ? 512 : 0,
    nLayerDenseLead: spec.ffn.moeLayers === 'after-dense-lead' ? 1 : 0, moeLayerStep: 1,
    expertWeightsScale: 0,
    embeddingScale: spec.defaults?.embeddingScale ?? 0,
    residualScale: 0,
    attentionScale: 0,
    logitScale: spec.logitScale === 'none' ? 0 : (spec.defaults?.logitScale ?? 1),
    attnOutScale: spec.defaults?.attnOutScale ?? 0,
    attnSoftcap: spec.defaults?.attnSoftcap ?? 0,
    finalSoftcap: spec.defaults?.finalSoftcap ?? 0,
    ropeScaling: 'linear', ropeScaleFactor: 0, ropeAttnFactor: 1,
    yarnExtFactor: scaleDefault('yarnExtFactor', spec.defaults),
    yarnAttnFactor: scaleDefault('yarnAttnFactor', spec.defaults),
    yarnBetaFast: scaleDefault('yarnBetaFast', spec.defaults),
    yarnBetaSlow: scaleDefault('yarnBetaSlow', spec.defaults),
    // sliding-window archs: gpt-oss's window of 128 positions on even layers, one RoPE base
    nSwa: spec.attention.swaPattern ? 128 : 0, swaPattern: spec.attention.swaPattern,
    ...over,
    nCtxOrigYarn: over.nCtxOrigYarn ?? over.nCtxTrain ?? 4096,
    ropeBaseSwa: over.ropeBaseSwa ?? over.ropeBase ?? 10000,
  };
}

/** Random values for one tensor: norms near 1, matrices scaled by 1/sqrt(fan-in) so activations
 *  keep unit size, embeddings and the output head at unit scale so logits are well spread. */
function fill(spec: TensorSpec, hp: HParams, rnd: Random): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(n);
  const fanIn = spec.shape[0];
  // a selection bias of the size of the probabilities it is added to (~1/nExpert), so it moves
  // some choices without deciding all
  // sinks: logits of the size of log(positions seen), so they take a real share of attention
  if (spec.role === 'sinks') return Float32Array.from({ length: n }, () => 2 + rnd.gauss());
  const std = spec.role === 'norm' ? 0.1
    : spec.role === 'bias' || spec.role === 'expert-bias' ? 0.2
    : spec.role === 'selection' ? 0.5 / Math.max(1, hp.nExpert)
    : spec.role === 'embedding' || spec.name === 'output.weight' ? 1 / Math.max(1, Math.sqrt(hp.embeddingScale || 1))
    : 1 / Math.sqrt(fanIn);
  for (let i = 0; i < n; i++) x[i] = (spec.role === 'norm' ? 1 : 0) + std * rnd.gauss();
  return x;
}

/** llama.cpp's type for a matrix whose rows (ncols elements) do not fit `type`'s blocks
 *  (llama-quant.cpp tensor_type_fallback): 256-blocks fall back to a 32-block type, and a row
 *  that fits no block at all to F16. So DeepSeek-V2-Lite's or gpt-oss's IQ4_XS files hold IQ4_NL
 *  matrices, and Q2_K/Q3_K files Q4_0 ones. */
export function fallbackType(type: GGMLType, ncols: number): GGMLType {
  const block = TYPE_TRAITS[type]?.blockSize ?? 1;
  if (ncols % block === 0) return type;
  const to = FALLBACK[type] ?? type;
  return ncols % TYPE_TRAITS[to]!.blockSize === 0 ? to : GGMLType.F16;
}

const FALLBACK: Partial<Record<GGMLType, GGMLType>> = {
  [GGMLType.IQ4_XS]: GGMLType.IQ4_NL,
  [GGMLType.Q2_K]: GGMLType.Q4_0, [GGMLType.Q3_K]: GGMLType.Q4_0,
  [GGMLType.Q4_K]: GGMLType.Q5_0, [GGMLType.Q5_K]: GGMLType.Q5_1, [GGMLType.Q6_K]: GGMLType.Q8_0,
};

/** Makes the GGUF bytes of a random model. */
export function makeModel(opts: FactoryOptions): Uint8Array {
  const arch = ARCHS[opts.arch];
  if (!arch) throw new Error(`unknown architecture "${opts.arch}"; known: ${Object.keys(ARCHS).join(', ')}`);
  const vocab = gpt2Vocab(opts.nMerges ?? 1000);
  const hp = defaultHParams(opts.arch, vocab.tokens.length, opts.hp);
  const type = opts.type ?? GGMLType.F32;
  const rnd = seededRandom(opts.seed ?? 1);
  if (opts.llama3Rope && !arch.ropeFreqFactors) throw new Error(`${opts.arch} does not read rope_freqs (llama.cpp loads it for llama and granite)`);

  const tensors: TensorInput[] = [];
  for (const spec of tensorSpecs(arch, hp)) {
    const wanted = spec.required || (spec.name === 'output.weight' && !opts.tied) || (spec.role === 'bias' && arch.attention.qkvBias) || spec.role === 'selection';
    if (spec.role === 'rope-freqs') {
      if (opts.llama3Rope) tensors.push({ name: spec.name, shape: spec.shape, type: GGMLType.F32, data: quantize(GGMLType.F32, llama3RopeFreqs(opts.llama3Rope, hp.ropeBase, hp.ropeDim)) });
      continue;
    }
    if (!wanted) continue;
    const x = fill(spec, hp, rnd);
    const small = ['norm', 'bias', 'expert-bias', 'sinks', 'router', 'selection'].includes(spec.role);
    const t = small ? GGMLType.F32
      : opts.typeOverrides?.find((o) => o.match.test(spec.name))?.type ?? type;
    const ft = fallbackType(t, spec.shape[0]);
    tensors.push({ name: spec.name, shape: spec.shape, type: ft, data: quantize(ft, x) });
  }

  const metadata: [string, GGUFEntry][] = [
    ['general.architecture', gv.str(opts.arch)],
    ['general.name', gv.str(`webmoe-factory-${opts.arch}`)],
    ...hparamsMetadata(hp, arch.ffn.moeLayers === 'after-dense-lead'),
    ...vocabMetadata(vocab),
  ];
  return writeGGUF(metadata, tensors, { version: opts.version, alignment: opts.alignment });
}
