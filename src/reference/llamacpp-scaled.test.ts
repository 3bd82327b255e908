// Acceptance: the CPU reference generates what llama.cpp generates (greedy, 16 tokens) on factory
// models of the architectures with multipliers and extra norms: Granite MoE (embedding, residual,
// attention and logit scales; with and without a shared expert) and Grok (kq soft cap, attention
// output and FFN post norms, GELU experts, embedding and logit scales, final soft cap).
// Criteria and tolerances: tools/oracle/llamacpp-agreement.ts and llamacpp-suite.ts.
import { GGMLType } from '../gguf/types.ts';
import { acceptance, ALL_TYPES, cases, GRANITE_SCALES } from '../../tools/oracle/llamacpp-suite.ts';

acceptance('reference vs llama.cpp: scaled', [
  ...cases('granitemoe', 'granitemoe', ALL_TYPES, { hp: GRANITE_SCALES }),
  ...cases('granitemoe + shared expert', 'granitemoe', ALL_TYPES, { hp: { ...GRANITE_SCALES, nFfShexp: 512 } }),
  ...cases('grok', 'grok', ALL_TYPES),
  ...cases('grok final softcap 30', 'grok', [GGMLType.F32, GGMLType.Q8_0, GGMLType.Q4_K], { hp: { finalSoftcap: 30 } }),
  ...cases('granitemoe tied', 'granitemoe', [GGMLType.Q4_1], { hp: GRANITE_SCALES, tied: true }),
  ...cases('grok tied', 'grok', [GGMLType.Q5_0], { tied: true }),
]);
