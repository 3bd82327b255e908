// Llama 2/3 dense, and Mixtral-style MoE under the same name (experts when expert_count > 0).
// No shared expert: llama.cpp never reads expert_shared_feed_forward_length for llama, its graph
// has no shared-expert branch, and it refuses a llama file that carries ffn_*_shexp tensors.
import type { ArchSpec } from '../arch.ts';

export const llama: ArchSpec = {
  name: 'llama',
  rope: 'norm',
  logitScale: 'none',
  attention: { qkvBias: false, qkNorm: 'none', grokSoftcap: false, outNorm: false },
  ffn: { act: 'silu', normTopK: true, shared: 'none', postNorm: false },
  tiedOutputAllowed: true,
  experts: 'optional',
};
