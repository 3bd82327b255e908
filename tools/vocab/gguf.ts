// Vocabulary-only GGUF files: the tokenizer.ggml.* keys of a real vocabulary plus the few
// general/llama keys llama.cpp reads before it loads a vocabulary (node-llama-cpp's
// loadModel({ vocabOnly: true }) opens such a file without tensors).
import { GGUFValueType, type GGUFEntry } from '../../src/gguf/types.ts';
import { gv, writeGGUF } from '../../src/gguf/writer.ts';

export { TOKEN_TYPE } from '../factory/vocab.ts';

export interface VocabData {
  name: string;
  model: 'gpt2' | 'llama';
  pre?: string;
  tokens: string[];
  types: number[];
  scores?: number[];
  merges?: string[];
  bos?: number;
  eos?: number;
  unk?: number;
  pad?: number;
  addBos?: boolean;
  addEos?: boolean;
  chatTemplate?: string;
}

/** GGUF bytes (architecture "llama", no tensors) carrying the vocabulary. */
export function vocabGGUF(v: VocabData): Uint8Array {
  const kv: [string, GGUFEntry][] = [
    ['general.architecture', gv.str('llama')],
    ['general.name', gv.str(`vocab-${v.name}`)],
    // Hyperparameters llama.cpp requires for the architecture; tiny, since nothing is computed.
    ['llama.block_count', gv.u32(1)],
    ['llama.context_length', gv.u32(4096)],
    ['llama.embedding_length', gv.u32(64)],
    ['llama.feed_forward_length', gv.u32(128)],
    ['llama.attention.head_count', gv.u32(1)],
    ['llama.attention.head_count_kv', gv.u32(1)],
    ['llama.attention.layer_norm_rms_epsilon', gv.f32(1e-5)],
    ['llama.rope.dimension_count', gv.u32(64)],
    ['llama.vocab_size', gv.u32(v.tokens.length)],
    ['tokenizer.ggml.model', gv.str(v.model)],
  ];
  if (v.pre !== undefined) kv.push(['tokenizer.ggml.pre', gv.str(v.pre)]);
  kv.push(['tokenizer.ggml.tokens', gv.arr(GGUFValueType.STRING, v.tokens)]);
  if (v.scores) kv.push(['tokenizer.ggml.scores', gv.arr(GGUFValueType.FLOAT32, v.scores)]);
  kv.push(['tokenizer.ggml.token_type', gv.arr(GGUFValueType.INT32, v.types)]);
  if (v.merges) kv.push(['tokenizer.ggml.merges', gv.arr(GGUFValueType.STRING, v.merges)]);
  const ids: [string, number | undefined][] = [
    ['bos_token_id', v.bos], ['eos_token_id', v.eos], ['unknown_token_id', v.unk], ['padding_token_id', v.pad],
  ];
  for (const [k, id] of ids) if (id !== undefined) kv.push([`tokenizer.ggml.${k}`, gv.u32(id)]);
  if (v.addBos !== undefined) kv.push(['tokenizer.ggml.add_bos_token', gv.bool(v.addBos)]);
  if (v.addEos !== undefined) kv.push(['tokenizer.ggml.add_eos_token', gv.bool(v.addEos)]);
  if (v.chatTemplate !== undefined) kv.push(['tokenizer.chat_template', gv.str(v.chatTemplate)]);
  return writeGGUF(kv, []);
}

/** llama.cpp's test for tokens that look special (convert_hf_to_gguf's does_token_look_special). */
export function looksSpecial(t: string): boolean {
  return ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(t) ||
    (t.startsWith('<|') && t.endsWith('|>')) ||
    (t.startsWith('<\uFF5C') && t.endsWith('\uFF5C>')) ||
    (t.startsWith('<unused') && t.endsWith('>'));
}
