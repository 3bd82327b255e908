// ERNIE-4.5 MoE (ERNIE-4.5-21B-A3B): a leading dense layer, then routed experts with a
// selection bias (exp_probs_b) and a shared expert; Llama-style RoPE pairs.
import { defineArch } from '../arch.ts';

export const ernie45moe = defineArch({
  name: 'ernie4_5-moe',
  ffn: { expertWeightsNorm: true, shared: 'plain', moeLayers: 'after-dense-lead', selectionBias: true },
  experts: 'always',
});
