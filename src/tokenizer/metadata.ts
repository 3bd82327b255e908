// The tokenizer.ggml.* keys of a GGUF file, checked for type: what the WebAssembly tokenizer is
// built from. A file without a vocabulary gives TokenizerError('no-vocab').
import { GGUFValueType, type GGUFEntry, type GGUFFile } from '../gguf/types.ts';
import { TokenizerError } from './errors.ts';

/** GGUF keys of the special token ids, in the order the C side reads them (wasm/src/tok.h). */
export const SPECIAL_KEYS = [
  'bos_token_id', 'eos_token_id', 'eot_token_id', 'eom_token_id', 'unknown_token_id', 'seperator_token_id',
  'padding_token_id', 'mask_token_id', 'fim_pre_token_id', 'fim_suf_token_id', 'fim_mid_token_id',
  'fim_pad_token_id', 'fim_rep_token_id', 'fim_sep_token_id', 'prefix_token_id', 'suffix_token_id',
  'middle_token_id',
] as const;

export interface TokenizerMetadata {
  model: string;                 // tokenizer.ggml.model
  pre?: string;                  // tokenizer.ggml.pre
  tokens: string[];
  types?: ArrayLike<number>;     // tokenizer.ggml.token_type
  scores?: ArrayLike<number>;    // tokenizer.ggml.scores
  merges?: string[];
  /** Values of SPECIAL_KEYS, undefined where the key is absent. */
  special: (number | undefined)[];
  addBos?: boolean;
  addEos?: boolean;
  addSpacePrefix?: boolean;
  chatTemplate?: string;         // tokenizer.chat_template
}

type Meta = Map<string, GGUFEntry>;

function bad(key: string, what: string): never {
  throw new TokenizerError('bad-metadata', `tokenizer.ggml.${key}: ${what}`);
}

function str(m: Meta, key: string): string | undefined {
  const e = m.get(key);
  if (!e) return undefined;
  if (e.type !== GGUFValueType.STRING) bad(key.replace('tokenizer.ggml.', ''), 'expected a string');
  return e.value as string;
}

function arr(m: Meta, short: string, itemTypes: GGUFValueType[], n?: number) {
  const e = m.get(`tokenizer.ggml.${short}`);
  if (!e) return undefined;
  if (e.type !== GGUFValueType.ARRAY || !itemTypes.includes(e.itemType!)) bad(short, `expected an array of ${itemTypes.map((t) => GGUFValueType[t]).join(' or ')}`);
  const v = e.value as unknown[];
  if (n !== undefined && v.length < n) bad(short, `has ${v.length} entries for ${n} tokens`);
  return v;
}

function num(m: Meta, key: string): number | undefined {
  const e = m.get(`tokenizer.ggml.${key}`);
  if (!e) return undefined;
  if (typeof e.value === 'number' || typeof e.value === 'bigint') return Number(e.value);
  bad(key, 'expected an integer');
}

function bool(m: Meta, key: string): boolean | undefined {
  const e = m.get(`tokenizer.ggml.${key}`);
  if (!e) return undefined;
  if (typeof e.value === 'boolean') return e.value;
  bad(key, 'expected a bool');
}

/** Reads the tokenizer keys of a GGUF file (or its metadata map). */
export function tokenizerMetadata(file: GGUFFile | Meta): TokenizerMetadata {
  const m: Meta = file instanceof Map ? file : file.metadata;
  const model = str(m, 'tokenizer.ggml.model');
  const tokens = arr(m, 'tokens', [GGUFValueType.STRING]) as string[] | undefined;
  if (!model || model === 'none' || model === 'no_vocab' || !tokens || tokens.length === 0) {
    throw new TokenizerError('no-vocab',
      'this GGUF carries no vocabulary (tokenizer.ggml.model and tokenizer.ggml.tokens are required); use a GGUF converted with its tokenizer');
  }
  const n = tokens.length;
  return {
    model,
    pre: str(m, 'tokenizer.ggml.pre'),
    tokens,
    types: arr(m, 'token_type', [GGUFValueType.INT32], n) as number[] | undefined,
    scores: arr(m, 'scores', [GGUFValueType.FLOAT32, GGUFValueType.INT32], n) as number[] | undefined,
    merges: arr(m, 'merges', [GGUFValueType.STRING]) as string[] | undefined,
    special: SPECIAL_KEYS.map((k) => num(m, k)),
    addBos: bool(m, 'add_bos_token'),
    addEos: bool(m, 'add_eos_token'),
    addSpacePrefix: bool(m, 'add_space_prefix'),
    chatTemplate: str(m, 'tokenizer.chat_template'),
  };
}
