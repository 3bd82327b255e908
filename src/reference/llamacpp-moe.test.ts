// Acceptance: the CPU reference generates what llama.cpp generates (greedy, 16 tokens) on factory
// models of the MoE architectures with softmax routers (Mixtral-style llama, Qwen2-MoE with its
// sigmoid-gated shared expert, Qwen3-MoE, OLMoE, ERNIE-4.5 MoE with its leading dense layer,
// selection bias and shared expert), every weight type.
// Criteria and tolerances: tools/oracle/llamacpp-agreement.ts and llamacpp-suite.ts.
import { GGMLType } from '../gguf/types.ts';
import { acceptance, ALL_TYPES, cases } from '../../tools/oracle/llamacpp-suite.ts';

acceptance('reference vs llama.cpp: MoE', [
  ...cases('llama 8x top-2 (Mixtral)', 'llama', ALL_TYPES, { hp: { nExpert: 8, nExpertUsed: 2 } }),
  ...cases('qwen2moe', 'qwen2moe', ALL_TYPES),
  ...cases('qwen3moe', 'qwen3moe', ALL_TYPES),
  ...cases('olmoe', 'olmoe', ALL_TYPES),
  ...cases('qwen3moe tied', 'qwen3moe', [GGMLType.Q8_0, GGMLType.Q5_K], { tied: true }),
  ...cases('ernie4_5-moe', 'ernie4_5-moe', ALL_TYPES, { hp: { nFfShexp: 256 } }),
  ...cases('ernie4_5-moe, no dense layer, no shared expert', 'ernie4_5-moe', [GGMLType.Q4_K], { hp: { nLayer: 2, nLayerDenseLead: 0 } }),
]);
