// The table of supported architectures, keyed by GGUF `general.architecture`.
import type { ArchSpec } from '../arch.ts';
import { ernie45moe } from './ernie4_5-moe.ts';
import { gptOss } from './gpt-oss.ts';
import { granitemoe } from './granitemoe.ts';
import { grok } from './grok.ts';
import { llama } from './llama.ts';
import { olmoe } from './olmoe.ts';
import { qwen2 } from './qwen2.ts';
import { qwen2moe } from './qwen2moe.ts';
import { qwen3 } from './qwen3.ts';
import { qwen3moe } from './qwen3moe.ts';

export const ARCHS: Readonly<Record<string, ArchSpec>> = Object.fromEntries(
  [llama, qwen2, qwen3, qwen2moe, qwen3moe, olmoe, granitemoe, grok, ernie45moe, gptOss].map((a) => [a.name, a]),
);
