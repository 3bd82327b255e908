// OLMoE: RMSNorm over the whole q and k projections (not per head), 64 experts top-8 without
// renormalization, untied output head.
import type { ArchSpec } from '../arch.ts';

export const olmoe: ArchSpec = {
  name: 'olmoe',
  rope: 'neox',
  logitScale: 'none',
  attention: { qkvBias: false, qkNorm: 'full', grokSoftcap: false, outNorm: false },
  ffn: { act: 'silu', normTopK: false, shared: 'none', postNorm: false },
  tiedOutputAllowed: false,
  experts: 'always',
};
