// Granite MoE: Llama-style blocks with multipliers from the metadata (embedding_scale,
// residual_scale, attention.scale, logits divided by logit_scale) and an optional shared expert.
import type { ArchSpec } from '../arch.ts';

export const granitemoe: ArchSpec = {
  name: 'granitemoe',
  rope: 'norm',
  scales: ['logitScale', 'residualScale', 'embeddingScale', 'attentionScale'],
  logitScale: 'divide',
  attention: { qkvBias: false, qkNorm: 'none', grokSoftcap: false, outNorm: false },
  ffn: { act: 'silu', normTopK: true, shared: 'plain', postNorm: false },
  tiedOutputAllowed: true,
  experts: 'always',
};
