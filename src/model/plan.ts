// The model plan: what the GGUF header says the model is, checked against its architecture's
// table entry before a single weight is read. The CPU reference and the GPU engine work from it.
import { GGMLType, typeName, type GGUFFile, type GGUFTensorInfo } from '../gguf/types.ts';
import { archTensors, hasExperts, type ArchSpec, type ModelTensors } from './arch.ts';
import { ARCHS } from './archs/index.ts';
import { type HParams, ModelFormatError, readHParams } from './hparams.ts';

export type Tensor = GGUFTensorInfo;

/** Numbers derived from the hyperparameters once, as llama.cpp derives them (f32). */
export interface PlanConstants {
  /** Multiplier of kq inside the softmax: attention.scale if set, else 1/sqrt(headDim); 1 when
   *  the arch soft-caps kq (llama.cpp's grok graph passes 1). */
  kqScale: number;
  /** kq = attnSoftcap * tanh(kq * attnCapScale) before the softmax; attnSoftcap 0 = off. */
  attnSoftcap: number;
  attnCapScale: number;
  /** Multipliers; 1 when the arch has none. */
  embeddingScale: number;
  residualScale: number;
  logitScale: number;
  /** logits = cap * tanh(logits / cap); 0 = off. */
  finalSoftcap: number;
  rope: RopeConstants;
  /** Sliding-window attention: the window (positions a query sees, itself included; 0 = none),
   *  which layers slide, and RoPE on those (their own base; equal to `rope` when it is not). */
  swaWindow: number;
  swaLayers: boolean[];
  ropeSwa: RopeConstants;
}

/** RoPE as llama.cpp hands it to ggml_rope_ext (llama-context.cpp sets the YaRN values), all f32.
 *  Pair i of a head at position p turns by theta = p * base^(-2i/ropeDim) / freqFactor[i], with
 *  freqScale * theta interpolated towards theta by YaRN's ramp, and cos/sin times attnFactor. */
export interface RopeConstants {
  base: number;
  /** 1 / rope.scaling.factor ('linear', 'yarn'); 1 when unscaled. */
  freqScale: number;
  /** YaRN's weight of the unscaled theta where the ramp is 1; 0 = no YaRN (ggml ext_factor). */
  extFactor: number;
  /** Multiplier of cos and sin (llama.cpp's yarn_attn_factor; ggml further multiplies it by
   *  1 + 0.1 ln(1/freqScale) when extFactor is not 0). */
  attnFactor: number;
  /** YaRN's ramp runs from pair corrDims[0] (1: unscaled theta) to corrDims[1] (0: scaled theta);
   *  ggml_rope_yarn_corr_dims with beta fast and slow. */
  corrDims: [number, number];
}

/** What the header says the model is: hyperparameters, derived constants, and every tensor as a
 *  typed record (ModelTensors), checked against the architecture's table. The CPU reference, the
 *  GPU engine, the expert pool and the download read tensors from these records, never by name. */
export interface ModelPlan extends Omit<ModelTensors<Tensor>, 'output'> {
  arch: ArchSpec;
  hp: HParams;
  file: GGUFFile;
  hasExperts: boolean;
  /** The output head: output.weight, or `embd` itself when tied. */
  output: Tensor;
  tied: boolean;
  /** Every tensor the plan uses, once each (a tied head once). */
  tensors: Tensor[];
  /** The stacked routed-expert tensors (read per expert when paged). */
  expertTensors: Set<Tensor>;
  consts: PlanConstants;
}

/** Other names llama.cpp accepts for a canonical tensor name's suffix. */
const ALIASES: Record<string, string[]> = {
  'layer_output_norm.weight': ['post_ffw_norm.weight'],
};

export class UnsupportedArchError extends Error {
  override name = 'UnsupportedArchError';
  constructor(readonly arch: string) {
    super(`architecture "${arch}" is not supported; WebMoE runs: ${Object.keys(ARCHS).join(', ')}`);
  }
}

export function archOf(file: GGUFFile): ArchSpec {
  const name = file.metadata.get('general.architecture')?.value;
  if (typeof name !== 'string') throw new ModelFormatError('GGUF metadata lacks general.architecture');
  const arch = ARCHS[name];
  if (!arch) throw new UnsupportedArchError(name);
  return arch;
}

/** The hyperparameters of `file` as its architecture reads them. */
export function archHParams(file: GGUFFile, arch = archOf(file)): HParams {
  const hp = readHParams(file, arch.name, arch.scales, arch.defaults, arch.attention.swaPattern);
  if (arch.attention.headDimIsRopeDim && hp.ropeDim !== hp.headDim) {
    throw new ModelFormatError(`${arch.name} sizes heads by rope.dimension_count (${hp.ropeDim}), which must equal attention.key_length (${hp.headDim})`);
  }
  if (arch.logitScale === 'divide' && !hp.logitScale) {
    throw new ModelFormatError(`${arch.name} needs ${arch.name}.logit_scale (its logits are divided by it)`);
  }
  return hp;
}

/** `shape` as the table's `want`, or `want` with trailing dimensions of 1 (llama.cpp accepts
 *  those: its converter writes Qwen2-MoE's ffn_gate_inp_shexp as [n_embd, 1]). */
function shapeMatches(shape: number[], want: number[]): boolean {
  return shape.length >= want.length && shape.every((n, i) => (i < want.length ? n === want[i] : n === 1));
}

/** The hyperparameters RoPE reads. */
export type RopeHParams = Pick<HParams, 'ropeDim' | 'ropeBase' | 'ropeScaling' | 'ropeScaleFactor' | 'ropeAttnFactor' | 'nCtxOrigYarn' | 'yarnExtFactor' | 'yarnAttnFactor' | 'yarnBetaFast' | 'yarnBetaSlow'>;

/** RoPE's constants from the hyperparameters, as llama.cpp derives them (f32). */
export function ropeConstants(hp: RopeHParams): RopeConstants {
  const fr = Math.fround;
  const logf = (x: number) => fr(Math.log(x));
  const freqScale = hp.ropeScaling === 'none' || !hp.ropeScaleFactor ? 1 : fr(1 / fr(hp.ropeScaleFactor));
  const extFactor = hp.yarnExtFactor >= 0 ? fr(hp.yarnExtFactor) : hp.ropeScaling === 'yarn' ? 1 : 0;
  let attnFactor = fr(hp.yarnAttnFactor);
  if (extFactor !== 0) {
    // llama.cpp's mscale of the factor, divided by the 1 + 0.1 ln(factor) that ggml multiplies in
    const factor = fr(1 / freqScale);
    const mscale = factor <= 1 ? 1 : fr(fr(fr(0.1) * logf(factor)) + 1);
    attnFactor = fr(mscale * fr(1 / fr(1 + fr(fr(0.1) * logf(factor)))));
  }
  attnFactor = fr(attnFactor * fr(hp.ropeAttnFactor));
  const base = fr(hp.ropeBase);
  // the pair whose wavelength fits beta times into the original context (ggml_rope_yarn_corr_dim)
  const corrDim = (beta: number) => fr(fr(hp.ropeDim * logf(fr(hp.nCtxOrigYarn / fr(fr(fr(beta) * 2) * fr(Math.PI))))) / fr(2 * logf(base)));
  const corrDims: [number, number] = [
    Math.max(0, Math.floor(corrDim(hp.yarnBetaFast))),
    Math.min(hp.ropeDim - 1, Math.ceil(corrDim(hp.yarnBetaSlow))),
  ];
  return { base, freqScale, extFactor, attnFactor, corrDims };
}

function constants(arch: ArchSpec, hp: HParams): PlanConstants {
  const fr = Math.fround;
  const cap = arch.attention.logitSoftcap;
  return {
    kqScale: cap ? 1 : hp.attentionScale ? fr(hp.attentionScale) : fr(1 / fr(Math.sqrt(hp.headDim))),
    attnSoftcap: cap ? fr(hp.attnSoftcap) : 0,
    attnCapScale: cap ? fr(hp.attnOutScale / hp.attnSoftcap) : 0,
    embeddingScale: hp.embeddingScale ? fr(hp.embeddingScale) : 1,
    residualScale: hp.residualScale ? fr(hp.residualScale) : 1,
    logitScale: arch.logitScale === 'multiply' ? fr(hp.logitScale) : arch.logitScale === 'divide' ? fr(1 / fr(hp.logitScale)) : 1,
    finalSoftcap: hp.finalSoftcap ? fr(hp.finalSoftcap) : 0,
    rope: ropeConstants(hp),
    swaWindow: hp.nSwa,
    // llama.cpp set_swa_pattern (dense_first false): pattern 0 slides every layer
    swaLayers: Array.from({ length: hp.nLayer }, (_, il) => hp.nSwa > 0 && (hp.swaPattern === 0 || il % hp.swaPattern < hp.swaPattern - 1)),
    ropeSwa: ropeConstants({ ...hp, ropeBase: hp.ropeBaseSwa }),
  };
}

export function planModel(file: GGUFFile): ModelPlan {
  const arch = archOf(file);
  const hp = archHParams(file, arch);
  // Every layer has tensors of its own: more layers than tensors is a damaged block_count, and
  // would make the tensor table build billions of specs (found by src/gguf/fuzz.test.ts).
  if (hp.nLayer > file.tensors.length) {
    throw new ModelFormatError(`${arch.name}.block_count is ${hp.nLayer}, but the file has only ${file.tensors.length} tensors`);
  }
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  if (arch.experts === 'always' && hp.nExpert === 0) throw new ModelFormatError(`${arch.name} needs ${arch.name}.expert_count > 0`);
  const used: Tensor[] = [];
  const expertTensors = new Set<Tensor>();
  const records = archTensors(arch, hp, (spec) => {
    const suffix = spec.name.replace(/^blk\.\d+\./, '');
    const prefix = spec.name.slice(0, spec.name.length - suffix.length);
    const names = [spec.name, ...(ALIASES[suffix] ?? []).map((a) => prefix + a)];
    const found = names.map((n) => byName.get(n)).find((x) => x !== undefined);
    if (!found) {
      if (spec.required) throw new ModelFormatError(`${arch.name} model lacks tensor ${spec.name} [${spec.shape}]`);
      return undefined;
    }
    if (!shapeMatches(found.shape, spec.shape)) {
      throw new ModelFormatError(`tensor ${found.name} has shape [${found.shape}] (${typeName(found.type)}), ${arch.name} with these hyperparameters needs [${spec.shape}]`);
    }
    // ggml_rope reads the frequency factors as f32 only
    if (spec.role === 'rope-freqs' && found.type !== GGMLType.F32) {
      throw new ModelFormatError(`tensor ${found.name} is ${typeName(found.type)}; llama.cpp reads RoPE frequency factors as F32 only`);
    }
    // ggml_soft_max_add_sinks and ggml_add_id (the per-expert biases) take F32 only
    if ((spec.role === 'sinks' || spec.role === 'expert-bias') && found.type !== GGMLType.F32) {
      throw new ModelFormatError(`tensor ${found.name} is ${typeName(found.type)}; llama.cpp reads attention sinks and expert biases as F32 only`);
    }
    const t = found.shape.length === spec.shape.length ? found : { ...found, shape: spec.shape };
    used.push(t);
    if (spec.role === 'experts') expertTensors.add(t);
    return t;
  });
  const { output, ...rest } = records;
  return {
    ...rest, arch, hp, file, hasExperts: hasExperts(arch, hp), output: output ?? records.embd, tied: !output,
    tensors: used, expertTensors, consts: constants(arch, hp),
  };
}
