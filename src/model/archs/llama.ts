// Llama 2/3 dense, and Mixtral-style MoE under the same name (experts when expert_count > 0);
// Llama 3.1+ files carry rope_freqs.weight (per-pair RoPE frequency divisors).
// No shared expert: llama.cpp never reads expert_shared_feed_forward_length for llama, its graph
// has no shared-expert branch, and it refuses a llama file that carries ffn_*_shexp tensors.
import { defineArch } from '../arch.ts';

export const llama = defineArch({
  name: 'llama',
  ropeFreqFactors: true,
  ffn: { expertWeightsNorm: true },
  experts: 'optional',
});
