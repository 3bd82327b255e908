// Architectures as data: each supported `general.architecture` is one small file under archs/ that
// states how it differs from the defaults below (options named by mechanism, not by model). The
// tensor table `archTensors` is the one place that spells GGUF tensor names: the plan resolves it
// against a file into typed records, the factory writes it. Nothing switches on architecture names.
import type { HParamDefaults, HParams, ScaleName } from './hparams.ts';

export type RopeMode = 'norm' | 'neox'; // norm: rotate (x[2i], x[2i+1]); neox: (x[i], x[i + d/2])

export interface AttentionOptions {
  /** Real models of this arch carry q/k/v biases (the factory writes them; loading accepts
   *  biases for every arch, as llama.cpp does). */
  qkvBias: boolean;
  /** RMSNorm on q and k before RoPE: per head (weight [headDim]) or over the whole projection
   *  (weight [nHead*headDim] / [nHeadKv*headDim], OLMoE). */
  qkNorm: 'none' | 'head' | 'full';
  /** kq = cap * tanh(kq * outScale / cap) before the softmax, whose kq scale is then 1 (Grok;
   *  hyperparameters attnSoftcap and attnOutScale). */
  logitSoftcap: boolean;
  /** RMSNorm on the attention output before the residual add (blk.N.attn_output_norm, Grok). */
  postNorm: boolean;
  /** A bias added after the output projection (blk.N.attn_output.bias, required; gpt-oss). */
  outputBias: boolean;
  /** A learned logit per head (blk.N.attn_sinks.weight, [nHead] F32) that joins the softmax's
   *  denominator and nothing else: attention may give weight to no position (gpt-oss). */
  sinks: boolean;
  /** Sliding-window attention on some layers (0: none). The arch's default pattern n: layer il
   *  slides when il % n < n - 1 (llama.cpp set_swa_pattern; 2: even layers); the file's
   *  attention.sliding_window_pattern overrides it, attention.sliding_window is the window and
   *  rope.freq_base_swa the RoPE base of sliding layers (default: rope.freq_base). */
  swaPattern: number;
  /** q/k heads are sized by rope.dimension_count and the kq scale is 1/sqrt of it, which must
   *  then equal the head size (llama.cpp's gpt-oss graph). */
  headDimIsRopeDim: boolean;
}

export interface FfnOptions {
  /** The gated activation: silu(gate) * up, gelu(gate) * up, or gpt-oss's clamped SwiGLU
   *  (ggml_swiglu_oai: g = min(gate, 7), u = clamp(up, -7, 7), g * sigmoid(1.702 g) * (u + 1)). */
  act: 'silu' | 'gelu' | 'swiglu-oai';
  /** How routed experts are weighed: 'softmax' over all router logits, then the top-k
   *  probabilities (llama.cpp's SOFTMAX); 'softmax-topk': the top-k logits chosen, then a
   *  softmax over those k (SOFTMAX_WEIGHT, gpt-oss). */
  expertGating: 'softmax' | 'softmax-topk';
  /** A bias added to the router logits (blk.N.ffn_gate_inp.bias, required; gpt-oss). */
  routerBias: boolean;
  /** Per-expert biases after each expert matrix (blk.N.ffn_{gate,up,down}_exps.bias,
   *  [width, nExpert] F32, required; gpt-oss). */
  expertBiases: boolean;
  /** Routed experts: the top-k weights renormalized to sum 1. */
  expertWeightsNorm: boolean;
  /** Shared expert: none, always added when the file has one (Granite), or scaled by
   *  sigmoid(x·w) (Qwen2-MoE). */
  shared: 'none' | 'plain' | 'sigmoid-gated';
  /** RMSNorm on the FFN output before the residual add (blk.N.layer_output_norm, Grok). */
  postNorm: boolean;
  /** Which layers have routed experts: all, or (hyperparameters leading_dense_block_count and
   *  interleave_moe_layer_step) none of the first nLayerDenseLead, then every moeLayerStep-th;
   *  the others have a dense FFN. */
  moeLayers: 'all' | 'after-dense-lead';
  /** A per-expert bias (blk.N.exp_probs_b, when the file has one) added to the router's
   *  probabilities to choose the experts, not to weigh them (DeepSeek-V3, ERNIE-4.5). */
  selectionBias: boolean;
}

export interface ArchSpec {
  name: string;
  rope: RopeMode;
  /** Reads the optional rope_freqs.weight ([ropeDim/2] f32: theta of pair i divided by it, Llama 3.1
   *  and later); llama.cpp loads it for llama and granite. */
  ropeFreqFactors: boolean;
  /** Scale hyperparameters read from the metadata (llama.cpp ignores the others for this arch). */
  scales: readonly ScaleName[];
  /** Values set before the metadata is read (llama.cpp's defaults for old GGUFs). */
  defaults: HParamDefaults;
  /** The final logits are multiplied (grok), divided (granite) by logitScale, or neither. */
  logitScale: 'none' | 'multiply' | 'divide';
  attention: AttentionOptions;
  ffn: FfnOptions;
  /** Name of the norm before the FFN (gpt-oss calls it post_attention_norm). */
  ffnNormTensor: 'ffn_norm' | 'post_attention_norm';
  /** Whether `output.weight` may be absent (the head then reuses token_embd). */
  tiedOutputAllowed: boolean;
  /** Whether the arch has routed experts: always, never, or when expert_count > 0 (llama). */
  experts: 'always' | 'never' | 'optional';
}

/** What an arch file states: its name and what differs from the defaults. */
export type ArchDef = Partial<Omit<ArchSpec, 'attention' | 'ffn'>> & {
  name: string;
  attention?: Partial<AttentionOptions>;
  ffn?: Partial<FfnOptions>;
};

export function defineArch(def: ArchDef): ArchSpec {
  return {
    rope: 'norm', ropeFreqFactors: false, scales: [], defaults: {}, logitScale: 'none', ffnNormTensor: 'ffn_norm', tiedOutputAllowed: true, experts: 'never',
    ...def,
    attention: {
      qkvBias: false, qkNorm: 'none', logitSoftcap: false, postNorm: false, outputBias: false, sinks: false, swaPattern: 0, headDimIsRopeDim: false,
      ...def.attention,
    },
    ffn: {
      act: 'silu', expertGating: 'softmax', routerBias: false, expertBiases: false, expertWeightsNorm: false, shared: 'none', postNorm: false,
      moeLayers: 'all', selectionBias: false, ...def.ffn,
    },
  };
}

// ---- the tensor table --------------------------------------------------------------------------

export interface TensorSpec {
  name: string;
  /** GGUF order: innermost first. Expert tensors: [in, out, nExpert]. */
  shape: number[];
  required: boolean;
  /** What the factory fills it with. */
  role: 'embedding' | 'norm' | 'matrix' | 'bias' | 'router' | 'selection' | 'experts' | 'rope-freqs' | 'sinks' | 'expert-bias';
}

/** A gated feed-forward: down · act(gate · x) * (up · x). Matrices (in, out); for routed experts
 *  stacked (in, out, nExpert), expert index outermost, so one expert is one contiguous range. */
export interface GatedTensors<T> {
  gate: T;
  up: T;
  down: T;
}

export interface AttentionTensors<T> {
  norm: T;
  q: T; k: T; v: T;
  o: T;
  qBias?: T; kBias?: T; vBias?: T;
  /** attn_output.bias (AttentionOptions.outputBias). */
  oBias?: T;
  /** attn_sinks (nHead), F32 (AttentionOptions.sinks). */
  sinks?: T;
  /** Per head [headDim] or over the whole projection (AttentionOptions.qkNorm). */
  qNorm?: T; kNorm?: T;
  /** attn_output_norm (AttentionOptions.postNorm). */
  postNorm?: T;
}

export interface MoeTensors<T> {
  /** ffn_gate_inp (nEmbd, nExpert). */
  router: T;
  /** ffn_gate_inp.bias (nExpert), added to the router logits (FfnOptions.routerBias). */
  routerBias?: T;
  /** exp_probs_b (nExpert): added to the probabilities to choose experts only (FfnOptions.selectionBias). */
  selectionBias?: T;
  experts: GatedTensors<T>;
  /** ffn_{gate,up,down}_exps.bias: (width, nExpert) and (nEmbd, nExpert), F32 (FfnOptions.expertBiases). */
  expertBiases?: GatedTensors<T>;
  shared?: GatedTensors<T>;
  /** ffn_gate_inp_shexp (nEmbd): the sigmoid gate of the shared expert. */
  sharedGate?: T;
}

export interface LayerTensors<T> {
  attn: AttentionTensors<T>;
  ffnNorm: T;
  /** Dense FFN, or routed experts (exactly one of the two). */
  ffn?: GatedTensors<T>;
  moe?: MoeTensors<T>;
  /** layer_output_norm (FfnOptions.postNorm). */
  postNorm?: T;
}

export interface ModelTensors<T> {
  embd: T;
  outNorm: T;
  /** Absent when tied: the head reuses `embd`. */
  output?: T;
  /** rope_freqs (ropeDim/2), one for all layers (ArchSpec.ropeFreqFactors). */
  ropeFreqs?: T;
  layers: LayerTensors<T>[];
}

export function hasExperts(arch: ArchSpec, hp: HParams): boolean {
  return arch.experts === 'always' || (arch.experts === 'optional' && hp.nExpert > 0);
}

/** Whether layer `i` has routed experts (else a dense FFN). */
export function isMoeLayer(arch: ArchSpec, hp: HParams, i: number): boolean {
  if (!hasExperts(arch, hp)) return false;
  return arch.ffn.moeLayers === 'all' || (i >= hp.nLayerDenseLead && (i + 1) % hp.moeLayerStep === 0);
}

/** The tensors a model of `arch` with `hp` has, as records. `pick` resolves each spec (the plan:
 *  the file's tensor, or undefined for an absent optional one; it throws for a missing required
 *  one). Optional specs whose `pick` gives undefined are left out. */
export function archTensors<T>(arch: ArchSpec, hp: HParams, pick: (spec: TensorSpec) => T | undefined): ModelTensors<T> {
  const { nEmbd: d, headDim, nHead, nHeadKv, nVocab } = hp;
  const q = nHead * headDim, kv = nHeadKv * headDim;
  type Role = TensorSpec['role'];
  const req = (name: string, shape: number[], role: Role): T => {
    const t = pick({ name, shape, role, required: true });
    if (t === undefined) throw new Error(`required tensor ${name} was not resolved`);
    return t;
  };
  const opt = (name: string, shape: number[], role: Role): T | undefined => pick({ name, shape, role, required: false });
  const gated = (b: string, suffix: string, width: number, n?: number): GatedTensors<T> => {
    const stack = n === undefined ? [] : [n];
    const role: Role = n === undefined ? 'matrix' : 'experts';
    return {
      gate: req(`${b}ffn_gate${suffix}.weight`, [d, width, ...stack], role),
      up: req(`${b}ffn_up${suffix}.weight`, [d, width, ...stack], role),
      down: req(`${b}ffn_down${suffix}.weight`, [width, d, ...stack], role),
    };
  };
  const out: ModelTensors<T> = {
    embd: req('token_embd.weight', [d, nVocab], 'embedding'),
    outNorm: req('output_norm.weight', [d], 'norm'),
    output: arch.tiedOutputAllowed ? opt('output.weight', [d, nVocab], 'matrix') : req('output.weight', [d, nVocab], 'matrix'),
    layers: [],
  };
  const ropeFreqs = arch.ropeFreqFactors ? opt('rope_freqs.weight', [hp.ropeDim / 2], 'rope-freqs') : undefined;
  if (ropeFreqs !== undefined) out.ropeFreqs = ropeFreqs;
  for (let i = 0; i < hp.nLayer; i++) {
    const b = `blk.${i}.`;
    const full = arch.attention.qkNorm === 'full';
    // Specs in the order the factory has always written them (its random stream follows it).
    const attn: AttentionTensors<T> = {
      norm: req(b + 'attn_norm.weight', [d], 'norm'),
      q: req(b + 'attn_q.weight', [d, q], 'matrix'),
      k: req(b + 'attn_k.weight', [d, kv], 'matrix'),
      v: req(b + 'attn_v.weight', [d, kv], 'matrix'),
      qBias: opt(b + 'attn_q.bias', [q], 'bias'),
      kBias: opt(b + 'attn_k.bias', [kv], 'bias'),
      vBias: opt(b + 'attn_v.bias', [kv], 'bias'),
      o: req(b + 'attn_output.weight', [q, d], 'matrix'),
    };
    if (arch.attention.outputBias) attn.oBias = req(b + 'attn_output.bias', [d], 'bias');
    if (arch.attention.sinks) attn.sinks = req(b + 'attn_sinks.weight', [nHead], 'sinks');
    const layer: LayerTensors<T> = { attn, ffnNorm: req(`${b}${arch.ffnNormTensor}.weight`, [d], 'norm') };
    if (arch.attention.qkNorm !== 'none') {
      attn.qNorm = req(b + 'attn_q_norm.weight', [full ? q : headDim], 'norm');
      attn.kNorm = req(b + 'attn_k_norm.weight', [full ? kv : headDim], 'norm');
    }
    if (arch.attention.postNorm) attn.postNorm = req(b + 'attn_output_norm.weight', [d], 'norm');
    if (arch.ffn.postNorm) layer.postNorm = req(b + 'layer_output_norm.weight', [d], 'norm');
    if (!isMoeLayer(arch, hp, i)) {
      layer.ffn = gated(b, '', hp.nFf);
    } else {
      const width = hp.nFfExp || hp.nFf;
      const m: MoeTensors<T> = {
        router: req(b + 'ffn_gate_inp.weight', [d, hp.nExpert], 'router'),
        experts: gated(b, '_exps', width, hp.nExpert),
      };
      if (arch.ffn.routerBias) m.routerBias = req(b + 'ffn_gate_inp.bias', [hp.nExpert], 'bias');
      if (arch.ffn.expertBiases) {
        m.expertBiases = {
          gate: req(b + 'ffn_gate_exps.bias', [width, hp.nExpert], 'expert-bias'),
          up: req(b + 'ffn_up_exps.bias', [width, hp.nExpert], 'expert-bias'),
          down: req(b + 'ffn_down_exps.bias', [d, hp.nExpert], 'expert-bias'),
        };
      }
      if (arch.ffn.selectionBias) m.selectionBias = opt(b + 'exp_probs_b.bias', [hp.nExpert], 'selection');
      if (arch.ffn.shared === 'sigmoid-gated' || (arch.ffn.shared === 'plain' && hp.nFfShexp > 0)) {
        m.shared = gated(b, '_shexp', hp.nFfShexp || hp.nFf);
        if (arch.ffn.shared === 'sigmoid-gated') m.sharedGate = req(b + 'ffn_gate_inp_shexp.weight', [d], 'router');
      }
      layer.moe = m;
    }
    out.layers.push(layer);
  }
  return out;
}

/** The tensor table as a flat list (every spec, optional ones included), in file order. */
export function tensorSpecs(arch: ArchSpec, hp: HParams): TensorSpec[] {
  const specs: TensorSpec[] = [];
  archTensors(arch, hp, (s) => { specs.push(s); return s; });
  return specs;
}
