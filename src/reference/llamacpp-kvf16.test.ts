// Acceptance: with llama.cpp's default F16 KV cache (K, V, and the f32 operands of K·q and V·p
// rounded to f16; src/reference/attention.ts), the CPU reference still generates what llama.cpp
// generates, on a dense, a QK-norm, an MoE and a Grok model. Criteria: llamacpp-suite.ts.
import { GGMLType } from '../gguf/types.ts';
import { acceptance, cases } from '../../tools/oracle/llamacpp-suite.ts';

const T = GGMLType;
acceptance('reference vs llama.cpp: F16 KV cache', [
  ...cases('llama', 'llama', [T.F32, T.Q8_0, T.Q4_K], { kvType: 'f16' }),
  ...cases('qwen3', 'qwen3', [T.Q5_K], { kvType: 'f16' }),
  ...cases('qwen3moe', 'qwen3moe', [T.Q4_0], { kvType: 'f16' }),
  ...cases('grok', 'grok', [T.Q8_0], { kvType: 'f16' }),
]);
