// Vocabulary-only GGUF files carrying real vocabularies, made on first use into .cache/vocab/
// (nothing large is committed). Besides the four vocabularies, two variants exercise the
// pre-tokenizer names of the MoE families we run: OLMoE GGUFs declare `olmo` (GPT-2's regex) and
// Grok-2 GGUFs `grok-2` (Qwen2's regex).
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vocabGGUF } from './gguf.ts';
import { gpt2, llama2, llama3, qwen3, type RealVocab } from './real.ts';

export type { HFTokenizer, RealVocab } from './real.ts';
export type { VocabData } from './gguf.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const CACHE = resolve(HERE, '../../.cache/vocab');

export const VOCAB_NAMES = ['llama3', 'qwen3', 'gpt2', 'llama2', 'olmo', 'grok2'] as const;
export type VocabName = (typeof VOCAB_NAMES)[number];

async function variant(base: () => RealVocab | Promise<RealVocab>, name: string, pre: string): Promise<RealVocab> {
  const v = await base();
  return { data: { ...v.data, name, pre }, hf: v.hf };
}

export async function realVocab(name: VocabName): Promise<RealVocab> {
  switch (name) {
    case 'llama3': return llama3();
    case 'qwen3': return qwen3();
    case 'gpt2': return gpt2();
    case 'llama2': return llama2();
    case 'olmo': return variant(gpt2, 'olmo', 'olmo');
    case 'grok2': return variant(qwen3, 'grok2', 'grok-2');
  }
}

/** Path of the vocabulary's GGUF, written when missing or older than these builders. */
export async function vocabFile(name: VocabName): Promise<string> {
  const path = join(CACHE, `${name}.gguf`);
  const built = existsSync(path) ? statSync(path).mtimeMs : -1;
  const sources = ['index.ts', 'real.ts', 'gguf.ts'].map((f) => statSync(join(HERE, f)).mtimeMs);
  if (built >= Math.max(...sources)) return path;
  const bytes = vocabGGUF((await realVocab(name)).data);
  mkdirSync(CACHE, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  // Rename is atomic: a concurrent test process sees the old file or the new one, never half.
  renameSync(tmp, path);
  return path;
}
