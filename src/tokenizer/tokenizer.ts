// Typed wrapper of tokenizer.wasm: a tokenizer built from GGUF metadata that encodes text to ids
// and decodes ids to text exactly as llama.cpp does, plus a streaming decoder.
import type { GGUFFile } from '../gguf/types.ts';
import { statusError, TokenizerError } from './errors.ts';
import { SPECIAL_KEYS, tokenizerMetadata, type TokenizerMetadata } from './metadata.ts';
import { instantiate, WasmMemory, type WasmSource } from './wasm.ts';

type Ptr = number;
interface Exports {
  memory: WebAssembly.Memory;
  wm_malloc(n: number): Ptr;
  wm_free(p: Ptr): void;
  tok_create(cfg: Ptr, status: Ptr): Ptr;
  tok_destroy(t: Ptr): void;
  tok_encode(t: Ptr, text: Ptr, len: number, flags: number): number;
  tok_result(t: Ptr): Ptr;
  tok_info(t: Ptr, key: number): number;
  tok_attr(t: Ptr, id: number): number;
  tok_is_eog(t: Ptr, id: number): number;
  tok_text_ptr(t: Ptr, id: number): Ptr;
  tok_text_len(t: Ptr, id: number): number;
  tok_decode(t: Ptr, ids: Ptr, n: number, flags: number): number;
  tok_bytes(t: Ptr): Ptr;
  tok_stream_new(t: Ptr, special: number): Ptr;
  tok_stream_push(s: Ptr, id: number): number;
  tok_stream_flush(s: Ptr): number;
  tok_stream_bytes(s: Ptr): Ptr;
  tok_stream_free(s: Ptr): void;
}

/** Token attributes as llama.h numbers them (after llama.cpp's load-time adjustments). */
export const TokenAttr = {
  unknown: 1, unused: 2, normal: 4, control: 8, userDefined: 16, byte: 32,
} as const;

export interface EncodeOptions {
  /** Add BOS/EOS where the model asks for them (llama.cpp's add_special). Default false. */
  addSpecial?: boolean;
  /** Turn special-token text such as "<|im_start|>" into that token (parse_special). Default false:
   *  such text is tokenized as plain text (user-defined tokens still match, as in llama.cpp). */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Render control tokens (e.g. "<|eot_id|>") as their text. Default false. */
  special?: boolean;
  /** Drop the BOS/EOS the model adds at the ends. Default false. */
  removeSpecial?: boolean;
}

const SPECIAL_SLOTS = { bos: 0, eos: 1, eot: 2, eom: 3, unk: 4, sep: 5, pad: 6, mask: 7 } as const;
const NO_KEY = -0x80000000; // WM_KEY_ABSENT
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');

export class Tokenizer {
  readonly nVocab: number;
  readonly model: 'llama' | 'gpt2';
  /** Whether encode() with addSpecial adds BOS / EOS (tokenizer.ggml.add_bos_token, ...). */
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly chatTemplate?: string;
  private readonly mem: WasmMemory;
  private handle: Ptr;

  private constructor(private readonly x: Exports, handle: Ptr, meta: TokenizerMetadata) {
    this.mem = new WasmMemory(x.memory);
    this.handle = handle;
    this.nVocab = x.tok_info(handle, 0);
    this.model = x.tok_info(handle, 1) === 1 ? 'llama' : 'gpt2';
    this.addBos = x.tok_info(handle, 2) === 1;
    this.addEos = x.tok_info(handle, 3) === 1;
    this.chatTemplate = meta.chatTemplate;
  }

  /** A tokenizer for the vocabulary of a GGUF file (its header, from readGGUF). */
  static async fromGGUF(file: GGUFFile, wasm?: WasmSource): Promise<Tokenizer> {
    return Tokenizer.fromMetadata(tokenizerMetadata(file), wasm);
  }

  static async fromMetadata(meta: TokenizerMetadata, wasm?: WasmSource): Promise<Tokenizer> {
    const x = (await instantiate('tokenizer', wasm)).exports as unknown as Exports;
    const mem = new WasmMemory(x.memory);
    const allocs: Ptr[] = [];
    const alloc = (n: number) => {
      const p = x.wm_malloc(Math.max(1, n));
      if (!p) throw new TokenizerError('out-of-memory', `cannot allocate ${n} bytes for the vocabulary`);
      allocs.push(p);
      return p;
    };
    // Strings concatenated as UTF-8, with n + 1 byte offsets.
    const putStrings = (list: string[]) => {
      let cap = 0;
      for (const s of list) cap += s.length * 3;
      const text = alloc(cap);
      const off = alloc((list.length + 1) * 4);
      let pos = 0;
      for (let i = 0; i < list.length; i++) {
        mem.i32[(off >> 2) + i] = pos;
        pos += encoder.encodeInto(list[i], mem.u8.subarray(text + pos, text + cap)).written;
      }
      mem.i32[(off >> 2) + list.length] = pos;
      return { text, off, len: pos };
    };
    const putArray = (v: ArrayLike<number>, float: boolean) => {
      const p = alloc(v.length * 4);
      (float ? mem.f32 : mem.i32).set(v, p >> 2);
      return p;
    };
    const putUtf8 = (s: string | undefined) => {
      if (!s) return [0, 0];
      const b = encoder.encode(s);
      const p = alloc(b.length);
      mem.u8.set(b, p);
      return [p, b.length];
    };
    try {
      const [modelPtr, modelLen] = putUtf8(meta.model);
      const [prePtr, preLen] = putUtf8(meta.pre);
      const tok = putStrings(meta.tokens);
      const types = meta.types ? putArray(meta.types, false) : 0;
      const scores = meta.scores ? putArray(meta.scores, true) : 0;
      const mg = meta.merges ? putStrings(meta.merges) : null;
      const flag = (b: boolean | undefined) => (b === undefined ? -1 : b ? 1 : 0);
      // wm_tok_config, field by field (wasm/src/tok.h).
      const fields = [
        modelPtr, modelLen, prePtr, preLen, meta.tokens.length, tok.text, tok.len, tok.off, types, scores,
        mg ? meta.merges!.length : -1, mg?.text ?? 0, mg?.len ?? 0, mg?.off ?? 0,
        ...SPECIAL_KEYS.map((_, i) => {
          const v = meta.special[i];
          return v === undefined ? NO_KEY : Math.max(-1, Math.min(v, 0x7fffffff));
        }),
        flag(meta.addBos), flag(meta.addEos), flag(meta.addSpacePrefix),
      ];
      const cfg = alloc(fields.length * 4);
      const status = alloc(4);
      fields.forEach((v, i) => (mem.i32[(cfg >> 2) + i] = v));
      const handle = x.tok_create(cfg, status);
      const st = mem.i32[status >> 2];
      if (!handle || st < 0) {
        const err = statusError(st || -1, `cannot build the tokenizer (model "${meta.model}", pre "${meta.pre ?? ''}")`);
        if (err.code === 'unsupported-pre') {
          err.message += '; supported: gpt-2, olmo, llama-bpe (llama3), qwen2, grok-2 and other names of those three families';
        }
        throw err;
      }
      return new Tokenizer(x, handle, meta);
    } finally {
      for (const p of allocs) x.wm_free(p);
    }
  }

  private live(): Ptr {
    if (!this.handle) throw new TokenizerError('bad-state', 'this tokenizer was disposed');
    return this.handle;
  }

  /** Token ids of `text` (a string, or UTF-8 bytes: invalid sequences are read as llama.cpp reads them). */
  encode(text: string | Uint8Array, opts: EncodeOptions = {}): Int32Array {
    const h = this.live();
    const cap = typeof text === 'string' ? text.length * 3 : text.length;
    const p = this.x.wm_malloc(Math.max(1, cap));
    if (!p) throw new TokenizerError('out-of-memory', `cannot hold a ${cap}-byte text in WebAssembly memory; split it`);
    try {
      let len: number;
      if (typeof text === 'string') len = encoder.encodeInto(text, this.mem.u8.subarray(p, p + cap)).written;
      else { this.mem.u8.set(text, p); len = text.length; }
      const n = this.x.tok_encode(h, p, len, (opts.addSpecial ? 1 : 0) | (opts.parseSpecial ? 2 : 0));
      if (n < 0) throw statusError(n, `cannot tokenize a ${len}-byte text`);
      const r = this.x.tok_result(h) >> 2;
      return this.mem.i32.slice(r, r + n);
    } finally {
      this.x.wm_free(p);
    }
  }

  /** UTF-8 bytes of ids (llama_detokenize). */
  decodeBytes(ids: ArrayLike<number>, opts: DecodeOptions = {}): Uint8Array {
    const h = this.live();
    const p = this.x.wm_malloc(Math.max(4, ids.length * 4));
    if (!p) throw new TokenizerError('out-of-memory', `cannot hold ${ids.length} ids`);
    try {
      this.mem.i32.set(ids, p >> 2);
      const n = this.x.tok_decode(h, p, ids.length, (opts.removeSpecial ? 1 : 0) | (opts.special ? 2 : 0));
      if (n < 0) throw statusError(n, 'cannot detokenize');
      const b = this.x.tok_bytes(h);
      return this.mem.u8.slice(b, b + n);
    } finally {
      this.x.wm_free(p);
    }
  }

  /** Text of ids; bytes that are not valid UTF-8 become U+FFFD. */
  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    return decoder.decode(this.decodeBytes(ids, opts));
  }

  /** A decoder fed one id at a time that only ever returns whole characters. */
  createDecoder(opts: { special?: boolean } = {}): StreamDecoder {
    const s = this.x.tok_stream_new(this.live(), opts.special ? 1 : 0);
    if (!s) throw new TokenizerError('out-of-memory', 'cannot create a stream decoder');
    return new StreamDecoder(this.x, this.mem, s);
  }

  /** The id in a special slot, or undefined. */
  special(slot: keyof typeof SPECIAL_SLOTS): number | undefined {
    const v = this.x.tok_info(this.live(), 100 + SPECIAL_SLOTS[slot]);
    return v >= 0 ? v : undefined;
  }
  get bos() { return this.special('bos'); }
  get eos() { return this.special('eos'); }

  /** True for tokens that end a generation (EOS, EOT, <|im_end|>, ...: llama.cpp's EOG set). */
  isEog(id: number): boolean {
    return this.x.tok_is_eog(this.live(), id) === 1;
  }

  /** llama_token_attr bits of a token (TokenAttr). */
  attr(id: number): number {
    const a = this.x.tok_attr(this.live(), id);
    if (a < 0) throw statusError(a, `token ${id}`);
    return a;
  }

  /** The token's text as stored in the GGUF (byte-level BPE tokens are in GPT-2's character map). */
  tokenText(id: number): string {
    const h = this.live();
    const n = this.x.tok_text_len(h, id);
    if (n < 0) throw statusError(n, `token ${id}`);
    const p = this.x.tok_text_ptr(h, id);
    return decoder.decode(this.mem.u8.subarray(p, p + n));
  }

  /** Frees the WebAssembly memory; the tokenizer (and its decoders) cannot be used afterwards. */
  dispose(): void {
    if (this.handle) this.x.tok_destroy(this.handle);
    this.handle = 0;
  }
}

/** Streaming detokenization: push(id) returns the text that is complete so far. */
export class StreamDecoder {
  constructor(private readonly x: Exports, private readonly mem: WasmMemory, private handle: Ptr) {}

  private take(n: number): string {
    if (n < 0) throw statusError(n, 'stream decoder');
    const p = this.x.tok_stream_bytes(this.handle);
    return n ? decoder.decode(this.mem.u8.subarray(p, p + n)) : '';
  }

  push(id: number): string {
    if (!this.handle) throw new TokenizerError('bad-state', 'this decoder was disposed');
    return this.take(this.x.tok_stream_push(this.handle, id));
  }

  /** What is still held back (an unfinished character comes out as U+FFFD). */
  flush(): string {
    if (!this.handle) return '';
    return this.take(this.x.tok_stream_flush(this.handle));
  }

  dispose(): void {
    if (this.handle) this.x.tok_stream_free(this.handle);
    this.handle = 0;
  }
}
