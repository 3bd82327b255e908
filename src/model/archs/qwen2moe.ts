// Qwen 1.5/2 MoE: routed experts without renormalization, plus a shared expert whose output is
// scaled by sigmoid(x · ffn_gate_inp_shexp). Untied output head.
import { defineArch } from '../arch.ts';

export const qwen2moe = defineArch({
  name: 'qwen2moe',
  rope: 'neox',
  attention: { qkvBias: true },
  ffn: { shared: 'sigmoid-gated' },
  tiedOutputAllowed: false,
  experts: 'always',
});
