// Qwen 3 dense: per-head RMSNorm on q and k before RoPE, no biases.
import type { ArchSpec } from '../arch.ts';

export const qwen3: ArchSpec = {
  name: 'qwen3',
  rope: 'neox',
  logitScale: 'none',
  attention: { qkvBias: false, qkNorm: 'head', grokSoftcap: false, outNorm: false },
  ffn: { act: 'silu', normTopK: false, shared: 'none', postNorm: false },
  tiedOutputAllowed: true,
  experts: 'never',
};
