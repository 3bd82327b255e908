// The model plan: what the GGUF header says the model is, checked against its architecture's
// table entry before a single weight is read. The CPU reference and the GPU engine work from it.
import { typeName, type GGUFFile, type GGUFTensorInfo } from '../gguf/types.ts';
import { type ArchSpec, tensorSpecs } from './arch.ts';
import { ARCHS } from './archs/index.ts';
import { type HParams, ModelFormatError, readHParams } from './hparams.ts';

export interface ModelPlan {
  arch: ArchSpec;
  hp: HParams;
  file: GGUFFile;
  hasExperts: boolean;
  /** Tensors by canonical name (the names tensorSpecs gives); absent optional ones are missing. */
  tensors: Map<string, GGUFTensorInfo>;
  /** Name of the output head's weight: output.weight, or token_embd.weight when tied. */
  outputName: string;
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
  const hp = readHParams(file, arch.name, arch.scales, arch.defaults);
  if (arch.logitScale === 'divide' && !hp.logitScale) {
    throw new ModelFormatError(`${arch.name} needs ${arch.name}.logit_scale (its logits are divided by it)`);
  }
  return hp;
}

export function planModel(file: GGUFFile): ModelPlan {
  const arch = archOf(file);
  const hp = archHParams(file, arch);
  // Every layer has tensors of its own: more layers than tensors is a damaged block_count, and
  // would make tensorSpecs build billions of specs (found by src/gguf/fuzz.test.ts).
  if (hp.nLayer > file.tensors.length) {
    throw new ModelFormatError(`${arch.name}.block_count is ${hp.nLayer}, but the file has only ${file.tensors.length} tensors`);
  }
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const hasExperts = arch.experts === 'always' || (arch.experts === 'optional' && hp.nExpert > 0);
  if (arch.experts === 'always' && hp.nExpert === 0) throw new ModelFormatError(`${arch.name} needs ${arch.name}.expert_count > 0`);
  const tensors = new Map<string, GGUFTensorInfo>();
  for (const spec of tensorSpecs(arch, hp)) {
    const suffix = spec.name.replace(/^blk\.\d+\./, '');
    const prefix = spec.name.slice(0, spec.name.length - suffix.length);
    const names = [spec.name, ...(ALIASES[suffix] ?? []).map((a) => prefix + a)];
    const t = names.map((n) => byName.get(n)).find((x) => x !== undefined);
    if (!t) {
      if (spec.required) throw new ModelFormatError(`${arch.name} model lacks tensor ${spec.name} [${spec.shape}]`);
      continue;
    }
    if (t.shape.length !== spec.shape.length || t.shape.some((n, i) => n !== spec.shape[i])) {
      throw new ModelFormatError(`tensor ${t.name} has shape [${t.shape}] (${typeName(t.type)}), ${arch.name} with these hyperparameters needs [${spec.shape}]`);
    }
    tensors.set(spec.name, t);
  }
  const outputName = tensors.has('output.weight') ? 'output.weight' : 'token_embd.weight';
  return { arch, hp, file, hasExperts, tensors, outputName };
}
