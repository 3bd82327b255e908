// Qwen 1.5/2 MoE: routed experts without renormalization, plus a shared expert whose output is
// scaled by sigmoid(x · ffn_gate_inp_shexp). Untied output head.
import type { ArchSpec } from '../arch.ts';

export const qwen2moe: ArchSpec = {
  name: 'qwen2moe',
  rope: 'neox',
  logitScale: 'none',
  attention: { qkvBias: true, qkNorm: 'none', grokSoftcap: false, outNorm: false },
  ffn: { act: 'silu', normTopK: false, shared: 'sigmoid-gated', postNorm: false },
  tiedOutputAllowed: false,
  experts: 'always',
};
