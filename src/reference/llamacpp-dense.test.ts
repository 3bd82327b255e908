// Acceptance: the CPU reference generates what llama.cpp generates (greedy, 16 tokens) on factory
// models of the dense architectures, every weight type, plus tied-embedding heads.
// Criteria and tolerances: tools/oracle/llamacpp-agreement.ts and llamacpp-suite.ts.
import { GGMLType } from '../gguf/types.ts';
import { acceptance, ALL_TYPES, cases } from '../../tools/oracle/llamacpp-suite.ts';

acceptance('reference vs llama.cpp: dense', [
  ...cases('llama', 'llama', ALL_TYPES),
  ...cases('qwen2', 'qwen2', ALL_TYPES),
  ...cases('qwen3', 'qwen3', ALL_TYPES),
  ...cases('llama tied', 'llama', [GGMLType.F32, GGMLType.Q8_0, GGMLType.Q4_K], { tied: true }),
  ...cases('qwen2 tied', 'qwen2', [GGMLType.Q4_0, GGMLType.Q6_K], { tied: true }),
]);
