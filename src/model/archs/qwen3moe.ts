// Qwen 3 MoE: per-head q/k RMSNorm, routed experts with top-k weights renormalized.
import type { ArchSpec } from '../arch.ts';

export const qwen3moe: ArchSpec = {
  name: 'qwen3moe',
  rope: 'neox',
  logitScale: 'none',
  attention: { qkvBias: false, qkNorm: 'head', grokSoftcap: false, outNorm: false },
  ffn: { act: 'silu', normTopK: true, shared: 'none', postNorm: false },
  tiedOutputAllowed: true,
  experts: 'always',
};
