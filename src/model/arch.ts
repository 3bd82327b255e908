// Architectures as data: each supported `general.architecture` maps to an ArchSpec (one small file
// each under archs/), which names its tensors and sets the options of the shared blocks. The CPU
// reference and the WebGPU engine read these options; nothing switches on architecture names.
import type { HParamDefaults, HParams, ScaleName } from './hparams.ts';

export type RopeMode = 'norm' | 'neox'; // norm: rotate (x[2i], x[2i+1]); neox: (x[i], x[i + d/2])

export interface AttentionOptions {
  /** Real models of this arch carry q/k/v biases (the factory writes them; loading accepts
   *  biases for every arch, as llama.cpp does). */
  qkvBias: boolean;
  /** RMSNorm on q and k before RoPE: per head (weight [headDim]) or over the whole projection
   *  (weight [nHead*headDim] / [nHeadKv*headDim], OLMoE). */
  qkNorm: 'none' | 'head' | 'full';
  /** Grok: kq = softcap * tanh(kq * attnOutScale / softcap) before the softmax (kq scale 1). */
  grokSoftcap: boolean;
  /** Grok: RMSNorm on the attention output before the residual add (blk.N.attn_output_norm). */
  outNorm: boolean;
}

export interface FfnOptions {
  act: 'silu' | 'gelu';
  /** Routed experts: renormalize the top-k weights to sum 1. */
  normTopK: boolean;
  /** Shared expert: none, always added (Granite), or scaled by sigmoid(x·w) (Qwen2-MoE). */
  shared: 'none' | 'plain' | 'sigmoid-gated';
  /** Grok: RMSNorm on the FFN output before the residual add (blk.N.layer_output_norm). */
  postNorm: boolean;
}

export interface ArchSpec {
  name: string;
  rope: RopeMode;
  /** Scale hyperparameters read from the metadata (llama.cpp ignores the others for this arch). */
  scales?: readonly ScaleName[];
  /** Values set before the metadata is read (llama.cpp's defaults for old GGUFs). */
  defaults?: HParamDefaults;
  /** The final logits are multiplied (grok), divided (granite) by logitScale, or neither. */
  logitScale: 'none' | 'multiply' | 'divide';
  attention: AttentionOptions;
  ffn: FfnOptions;
  /** Whether `output.weight` may be absent (the head then reuses token_embd). */
  tiedOutputAllowed: boolean;
  /** Whether the arch has routed experts: always, never, or when expert_count > 0 (llama). */
  experts: 'always' | 'never' | 'optional';
}

export interface TensorSpec {
  name: string;
  /** GGUF order: innermost first. Expert tensors: [in, out, nExpert]. */
  shape: number[];
  required: boolean;
  /** What the factory fills it with, and how the engine treats it. */
  role: 'embedding' | 'norm' | 'matrix' | 'bias' | 'router' | 'experts';
}

/** The tensors a model of `arch` with `hp` has, derived from the shared block options. */
export function tensorSpecs(arch: ArchSpec, hp: HParams): TensorSpec[] {
  const { nEmbd: d, headDim, nHead, nHeadKv, nVocab } = hp;
  const q = nHead * headDim, kv = nHeadKv * headDim;
  const t = (name: string, shape: number[], role: TensorSpec['role'], required = true): TensorSpec => ({ name, shape, role, required });
  const specs: TensorSpec[] = [
    t('token_embd.weight', [d, nVocab], 'embedding'),
    t('output_norm.weight', [d], 'norm'),
    t('output.weight', [d, nVocab], 'matrix', !arch.tiedOutputAllowed),
  ];
  const hasExperts = arch.experts === 'always' || (arch.experts === 'optional' && hp.nExpert > 0);
  const ffExp = hp.nFfExp || hp.nFf;
  for (let i = 0; i < hp.nLayer; i++) {
    const b = `blk.${i}.`;
    specs.push(
      t(b + 'attn_norm.weight', [d], 'norm'),
      t(b + 'attn_q.weight', [d, q], 'matrix'),
      t(b + 'attn_k.weight', [d, kv], 'matrix'),
      t(b + 'attn_v.weight', [d, kv], 'matrix'),
      t(b + 'attn_q.bias', [q], 'bias', false),
      t(b + 'attn_k.bias', [kv], 'bias', false),
      t(b + 'attn_v.bias', [kv], 'bias', false),
      t(b + 'attn_output.weight', [q, d], 'matrix'),
      t(b + 'ffn_norm.weight', [d], 'norm'),
    );
    if (arch.attention.qkNorm !== 'none') {
      const full = arch.attention.qkNorm === 'full';
      specs.push(t(b + 'attn_q_norm.weight', [full ? q : headDim], 'norm'), t(b + 'attn_k_norm.weight', [full ? kv : headDim], 'norm'));
    }
    if (arch.attention.outNorm) specs.push(t(b + 'attn_output_norm.weight', [d], 'norm'));
    if (arch.ffn.postNorm) specs.push(t(b + 'layer_output_norm.weight', [d], 'norm'));
    if (!hasExperts) {
      specs.push(
        t(b + 'ffn_gate.weight', [d, hp.nFf], 'matrix'),
        t(b + 'ffn_up.weight', [d, hp.nFf], 'matrix'),
        t(b + 'ffn_down.weight', [hp.nFf, d], 'matrix'),
      );
      continue;
    }
    specs.push(
      t(b + 'ffn_gate_inp.weight', [d, hp.nExpert], 'router'),
      t(b + 'ffn_gate_exps.weight', [d, ffExp, hp.nExpert], 'experts'),
      t(b + 'ffn_up_exps.weight', [d, ffExp, hp.nExpert], 'experts'),
      t(b + 'ffn_down_exps.weight', [ffExp, d, hp.nExpert], 'experts'),
    );
    const shared = arch.ffn.shared === 'sigmoid-gated' || (arch.ffn.shared === 'plain' && hp.nFfShexp > 0);
    if (shared) {
      const ffs = hp.nFfShexp || hp.nFf;
      specs.push(
        t(b + 'ffn_gate_shexp.weight', [d, ffs], 'matrix'),
        t(b + 'ffn_up_shexp.weight', [d, ffs], 'matrix'),
        t(b + 'ffn_down_shexp.weight', [ffs, d], 'matrix'),
      );
      if (arch.ffn.shared === 'sigmoid-gated') specs.push(t(b + 'ffn_gate_inp_shexp.weight', [d], 'router'));
    }
  }
  return specs;
}
