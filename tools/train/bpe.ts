// A small, plain byte-level BPE encoder (GPT-2 style) for the training pipeline.
// Text -> GPT-2 pre-tokenizer pieces -> UTF-8 bytes -> GPT-2 byte-to-unicode symbols -> merges
// applied lowest rank first -> token ids. Works with any prefix of GPT-2's merge list
// (tools/factory/vocab.ts), so the ids it makes are exactly what llama.cpp's "gpt-2" BPE makes
// on the exported GGUF vocabulary.
import type { Vocab } from '../factory/vocab.ts';

/** GPT-2's pre-tokenizer: contractions, letters, numbers, other symbols, whitespace runs. */
export const GPT2_PRETOKENIZER = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's reversible byte -> printable unicode char table (256 entries). */
export function byteToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);   // '!'..'~'
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);   // '¡'..'¬'
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);   // '®'..'ÿ'
  const table = new Array<string>(256);
  for (const b of printable) table[b] = String.fromCodePoint(b);
  // Bytes that are not printable get code points 256, 257, ... in byte order.
  let n = 0;
  for (let b = 0; b < 256; b++) if (table[b] === undefined) table[b] = String.fromCodePoint(256 + n++);
  return table;
}

export class BpeEncoder {
  private readonly ranks = new Map<string, number>();   // "left right" -> merge rank
  private readonly ids = new Map<string, number>();     // token text -> id
  private readonly byteSym = byteToUnicode();
  private readonly cache = new Map<string, number[]>(); // pre-token piece -> ids
  private readonly utf8 = new TextEncoder();

  constructor(vocab: Pick<Vocab, 'tokens' | 'merges'>) {
    vocab.merges.forEach((m, r) => this.ranks.set(m, r));
    vocab.tokens.forEach((t, i) => this.ids.set(t, i));
  }

  /** Token ids of `text` (no special tokens are recognized inside it). */
  encode(text: string): number[] {
    const out: number[] = [];
    for (const m of text.matchAll(GPT2_PRETOKENIZER)) {
      const piece = m[0];
      let ids = this.cache.get(piece);
      if (!ids) {
        ids = this.encodePiece(piece);
        if (this.cache.size < 200_000) this.cache.set(piece, ids); // bound memory on odd input
      }
      for (const id of ids) out.push(id);
    }
    return out;
  }

  private encodePiece(piece: string): number[] {
    let syms = Array.from(this.utf8.encode(piece), (b) => this.byteSym[b]);
    // Repeatedly merge the adjacent pair of lowest rank (all its occurrences, left to right).
    while (syms.length > 1) {
      let best = Infinity;
      let bestPair = '';
      for (let i = 0; i + 1 < syms.length; i++) {
        const r = this.ranks.get(syms[i] + ' ' + syms[i + 1]);
        if (r !== undefined && r < best) { best = r; bestPair = syms[i] + ' ' + syms[i + 1]; }
      }
      if (best === Infinity) break;
      const next: string[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] + ' ' + syms[i + 1] === bestPair) { next.push(syms[i] + syms[i + 1]); i++; }
        else next.push(syms[i]);
      }
      syms = next;
    }
    return syms.map((s) => {
      const id = this.ids.get(s);
      if (id === undefined) throw new Error(`BPE produced "${s}", which is not in the vocabulary`);
      return id;
    });
  }
}
