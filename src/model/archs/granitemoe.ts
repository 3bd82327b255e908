// Granite MoE: Llama-style blocks with multipliers from the metadata (embedding_scale,
// residual_scale, attention.scale, logits divided by logit_scale) and an optional shared expert.
import { defineArch } from '../arch.ts';

export const granitemoe = defineArch({
  name: 'granitemoe',
  ropeFreqFactors: true,
  scales: ['logitScale', 'residualScale', 'embeddingScale', 'attentionScale'],
  logitScale: 'divide',
  ffn: { expertWeightsNorm: true, shared: 'plain' },
  experts: 'always',
});
