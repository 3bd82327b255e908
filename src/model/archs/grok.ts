// Grok-1: GELU experts, RMSNorm after attention and after the FFN, kq soft-capped with tanh,
// embeddings and logits scaled. Defaults are llama.cpp's for GGUFs that omit the keys.
import type { ArchSpec } from '../arch.ts';

export const grok: ArchSpec = {
  name: 'grok',
  rope: 'neox',
  scales: ['logitScale', 'embeddingScale', 'attnOutScale', 'attnSoftcap', 'finalSoftcap'],
  defaults: {
    embeddingScale: 78.38367176906169,
    attnOutScale: 0.08838834764831845,
    attnSoftcap: 30,
    logitScale: 0.5773502691896257,
    finalSoftcap: 0,
  },
  logitScale: 'multiply',
  attention: { qkvBias: false, qkNorm: 'none', grokSoftcap: true, outNorm: true },
  ffn: { act: 'gelu', normTopK: true, shared: 'none', postNorm: true },
  tiedOutputAllowed: true,
  experts: 'always',
};
