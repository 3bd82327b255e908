// Grok-1: GELU experts, RMSNorm after attention and after the FFN, kq soft-capped with tanh,
// embeddings and logits scaled. Defaults are llama.cpp's for GGUFs that omit the keys.
import { defineArch } from '../arch.ts';

export const grok = defineArch({
  name: 'grok',
  rope: 'neox',
  scales: ['logitScale', 'embeddingScale', 'attnOutScale', 'attnSoftcap', 'finalSoftcap', 'yarnExtFactor', 'yarnAttnFactor', 'yarnBetaFast', 'yarnBetaSlow'],
  defaults: {
    yarnBetaFast: 8,
    embeddingScale: 78.38367176906169,
    attnOutScale: 0.08838834764831845,
    attnSoftcap: 30,
    logitScale: 0.5773502691896257,
    finalSoftcap: 0,
  },
  logitScale: 'multiply',
  attention: { logitSoftcap: true, postNorm: true },
  ffn: { act: 'gelu', expertWeightsNorm: true, postNorm: true },
  experts: 'always',
});
