// Qwen 3 MoE: per-head q/k RMSNorm, routed experts with top-k weights renormalized.
import { defineArch } from '../arch.ts';

export const qwen3moe = defineArch({
  name: 'qwen3moe',
  rope: 'neox',
  attention: { qkNorm: 'head' },
  ffn: { expertWeightsNorm: true },
  experts: 'always',
});
