// Llama 2/3 dense, and Mixtral-style MoE under the same name (experts when expert_count > 0).
import type { ArchSpec } from '../arch.ts';

export const llama: ArchSpec = {
  name: 'llama',
  rope: 'norm',
  logitScale: 'none',
  attention: { qkvBias: false, qkNorm: 'none', grokSoftcap: false, outNorm: false },
  ffn: { act: 'silu', normTopK: true, shared: 'plain', postNorm: false },
  tiedOutputAllowed: true,
  experts: 'optional',
};
