// Acceptance: the CPU reference generates what llama.cpp generates (greedy, 16 tokens) in the
// weight formats low-memory and MoE uploads use: Q2_K, Q3_K, IQ4_NL and IQ4_XS on every
// architecture, and llama.cpp-style mixes: expert widths that are not a multiple of 256, whose
// down projections the quantizer writes in a 32-block fallback type (IQ4_XS → IQ4_NL, Q2_K → Q4_0,
// Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0: make-model.ts fallbackType), and a Q8_0/Q5_1/Q5_0 mix.
// Criteria and tolerances: tools/oracle/llamacpp-agreement.ts and llamacpp-suite.ts.
import { GGMLType } from '../gguf/types.ts';
import { acceptance, cases, GRANITE_SCALES, NEW_TYPES } from '../../tools/oracle/llamacpp-suite.ts';

const T = GGMLType;
const ODD = { nFfExp: 96 }; // ffn_down_exps rows of 96 elements

// Every architecture in every format (WEBMOE_QUANT_ALL=1: 46 files, ~15 min on 2 busy cores) or,
// in CI, each format on a few architectures.
const ALL = [
  ...cases('llama', 'llama', NEW_TYPES),
  ...cases('qwen2', 'qwen2', NEW_TYPES),
  ...cases('qwen3', 'qwen3', NEW_TYPES),
  ...cases('llama 8x top-2 (Mixtral)', 'llama', NEW_TYPES, { hp: { nExpert: 8, nExpertUsed: 2 } }),
  ...cases('qwen2moe', 'qwen2moe', NEW_TYPES),
  ...cases('qwen3moe', 'qwen3moe', NEW_TYPES),
  ...cases('olmoe', 'olmoe', NEW_TYPES),
  ...cases('ernie4_5-moe', 'ernie4_5-moe', NEW_TYPES, { hp: { nFfShexp: 256 } }),
  ...cases('granitemoe', 'granitemoe', NEW_TYPES, { hp: GRANITE_SCALES }),
  ...cases('grok', 'grok', NEW_TYPES),
];
const MIXES = [
  ...cases('qwen3moe, experts 96 wide (fallback down)', 'qwen3moe', [T.IQ4_XS, T.Q2_K, T.Q4_K, T.Q5_K, T.Q6_K], { hp: ODD }),
  ...cases('qwen2moe Q8_0, attn_v Q5_1, experts Q5_0', 'qwen2moe', [T.Q8_0], {
    typeOverrides: [{ match: /attn_v/, type: T.Q5_1 }, { match: /_exps/, type: T.Q5_0 }],
  }),
];
const CI = [
  ...cases('qwen3moe', 'qwen3moe', NEW_TYPES),
  ...cases('llama', 'llama', [T.Q2_K]),
  ...cases('olmoe', 'olmoe', [T.Q3_K]),
  ...cases('grok', 'grok', [T.IQ4_NL]),
  ...cases('ernie4_5-moe', 'ernie4_5-moe', [T.IQ4_XS], { hp: { nFfShexp: 256 } }),
  MIXES[0], MIXES[5],
];

acceptance('reference vs llama.cpp: Q2_K, Q3_K, IQ4_NL, IQ4_XS and mixes', process.env.WEBMOE_QUANT_ALL ? [...ALL, ...MIXES] : CI);
