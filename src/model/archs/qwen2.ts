// Qwen 2 / 2.5 dense: q/k/v biases, NeoX RoPE.
import type { ArchSpec } from '../arch.ts';

export const qwen2: ArchSpec = {
  name: 'qwen2',
  rope: 'neox',
  logitScale: 'none',
  attention: { qkvBias: true, qkNorm: 'none', grokSoftcap: false, outNorm: false },
  ffn: { act: 'silu', normTopK: false, shared: 'none', postNorm: false },
  tiedOutputAllowed: true,
  experts: 'never',
};
