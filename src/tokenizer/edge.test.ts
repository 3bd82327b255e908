// Bad and extreme input: invalid UTF-8, empty text, a 10 MB text, files without a vocabulary,
// unsupported tokenizers, ids outside the vocabulary. Each gets a correct result (checked against
// llama.cpp where it can take the input) or a TokenizerError with a code, never a trap.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readGGUF } from '../gguf/reader.ts';
import { bytesSource } from '../gguf/source.ts';
import { GGUFValueType } from '../gguf/types.ts';
import { gv, writeGGUF } from '../gguf/writer.ts';
import { makeModel } from '../../tools/factory/make-model.ts';
import { expectOk, llamaTokenizer } from '../../tools/oracle/tokenize.ts';
import { ALL_TEXTS } from '../../tools/vocab/corpus.ts';
import { vocabFile } from '../../tools/vocab/index.ts';
import { TokenizerError } from './errors.ts';
import { firstDiffs, tokenizerFromFile } from './testing.ts';
import { Tokenizer } from './tokenizer.ts';

// llama.cpp reads text with unicode_cpts_from_utf8: a byte that does not start a well-formed
// sequence (by its lead byte and continuation bytes) becomes U+FFFD on its own. node-llama-cpp
// only takes JS strings, so the oracle gets the text with those replacements already made.
function llamaCppReading(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length;) {
    const c = b[i], cont = (k: number) => i + k < b.length && (b[i + k] & 0xc0) === 0x80;
    const len = c < 0x80 ? 1 : c >= 0xc0 && c < 0xe0 && cont(1) ? 2 : c >= 0xe0 && c < 0xf0 && cont(1) && cont(2) ? 3
      : c >= 0xf0 && c < 0xf8 && cont(1) && cont(2) && cont(3) ? 4 : 0;
    if (len === 0) { s += '\uFFFD'; i++; continue; }
    s += new TextDecoder().decode(b.subarray(i, i + len));
    i += len;
  }
  return s;
}

const INVALID: number[][] = [
  [0xff], [0x80], [0xc3], [0xe4, 0xbd], [0x61, 0xc3, 0x28, 0x62], [0xf0, 0x9f, 0xa6], [0x68, 0x69, 0xfe, 0xff, 0x20, 0x6f, 0x6b],
  [0xe4, 0xbd, 0xa0, 0xe5, 0xa5], [0x20, 0x80, 0x80, 0x20], [0xf8, 0x88, 0x80, 0x80, 0x80],
];

describe('invalid UTF-8', () => {
  test.each(['qwen3', 'llama3'] as const)('%s: as llama.cpp reads it', async (name) => {
    const path = await vocabFile(name);
    const tok = await tokenizerFromFile(path);
    const inputs = INVALID.map((b) => new Uint8Array(b));
    const ours = inputs.map((b) => tok.encode(b));
    const res = await llamaTokenizer(path, inputs.map((b) => ({ type: 'tokenize' as const, text: llamaCppReading(b), special: false })));
    const want = res.map((r) => expectOk(r, 'tokenize').ids);
    expect(firstDiffs(inputs.map((b) => JSON.stringify(Array.from(b))), ours, want)).toEqual([]);
    // Overlong forms and surrogates are accepted as code points, as llama.cpp does.
    for (const b of [[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]]) {
      const ids = tok.encode(new Uint8Array(b));
      expect(ids.length).toBeGreaterThan(0);
      for (const id of ids) expect(id).toBeLessThan(tok.nVocab);
    }
    tok.dispose();
  }, 60_000);

  test('SentencePiece keeps every byte (byte-fallback tokens)', async () => {
    const tok = await tokenizerFromFile(await vocabFile('llama2'));
    // Without spaces: llama.cpp cuts SentencePiece text into characters by lead byte alone, so an
    // invalid lead byte swallows the next bytes, and a space among them stays an escaped U+2581.
    for (const b of INVALID.filter((x) => !x.includes(0x20))) {
      const ids = tok.encode(new Uint8Array(b));
      // Decoding drops the one space SentencePiece puts in front of the text.
      expect(Array.from(tok.decodeBytes(ids))).toEqual(b);
    }
    tok.dispose();
  });
});

describe('empty and huge text', () => {
  test.each(['qwen3', 'llama2'] as const)('%s: empty text', async (name) => {
    const path = await vocabFile(name);
    const tok = await tokenizerFromFile(path);
    const [info] = await llamaTokenizer(path, [{ type: 'info' }]);
    const { bos, addBos } = expectOk(info, 'info').info;
    expect(Array.from(tok.encode(''))).toEqual([]);
    expect(Array.from(tok.encode('', { addSpecial: true }))).toEqual(addBos ? [bos] : []);
    expect(tok.decode([])).toBe('');
    tok.dispose();
  }, 60_000);

  // A 10 MB text made of a unit that ends with a newline and starts with a letter: no word of the
  // pre-tokenizer crosses from one copy to the next, so llama.cpp's ids for one copy, repeated,
  // are its ids for the whole text.
  test.each(['qwen3', 'llama3'] as const)('%s: 10 MB text', async (name) => {
    const path = await vocabFile(name);
    const tok = await tokenizerFromFile(path);
    const unit = ALL_TEXTS.join('\n') + '\n';
    expect(unit[0]).toMatch(/\p{L}/u);
    const reps = Math.ceil(10e6 / new TextEncoder().encode(unit).length);
    const text = unit.repeat(reps);
    const [r] = await llamaTokenizer(path, [{ type: 'tokenize', text: unit, special: false }]);
    const unitIds = expectOk(r, 'tokenize').ids;
    const ids = tok.encode(text);
    expect(ids.length).toBe(unitIds.length * reps);
    let firstBad = -1;
    for (let i = 0; i < ids.length && firstBad < 0; i++) if (ids[i] !== unitIds[i % unitIds.length]) firstBad = i;
    expect(firstBad).toBe(-1);
    const d = tok.createDecoder();
    expect(d.push(ids[0]) + new TextDecoder().decode(tok.decodeBytes(ids.subarray(1)))).toBe(name === 'qwen3' ? text : tok.decode(ids));
    d.dispose();
    if (name === 'qwen3') expect(tok.decode(ids)).toBe(text);  // Qwen does not clean up spaces
    tok.dispose();
  }, 120_000);
});

describe('errors', () => {
  const meta = (extra: [string, ReturnType<typeof gv.str>][]) =>
    readGGUF(bytesSource(writeGGUF([['general.architecture', gv.str('llama')], ...extra], [])));

  test('a GGUF without a vocabulary', async () => {
    const err = await Tokenizer.fromGGUF(await meta([])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenizerError);
    expect((err as TokenizerError).code).toBe('no-vocab');
    const none = await Tokenizer.fromGGUF(await meta([['tokenizer.ggml.model', gv.str('none')]])).catch((e: unknown) => e);
    expect((none as TokenizerError).code).toBe('no-vocab');
  });

  test('unsupported model and pre-tokenizer, wrong key types', async () => {
    const tokens: [string, ReturnType<typeof gv.str>] = ['tokenizer.ggml.tokens', gv.arr(GGUFValueType.STRING, ['a', 'b', 'ab'])];
    const merges: [string, ReturnType<typeof gv.str>] = ['tokenizer.ggml.merges', gv.arr(GGUFValueType.STRING, ['a b'])];
    const codeOf = async (extra: [string, ReturnType<typeof gv.str>][]) =>
      ((await Tokenizer.fromGGUF(await meta(extra)).catch((e: unknown) => e)) as TokenizerError).code;
    expect(await codeOf([['tokenizer.ggml.model', gv.str('t5')], tokens])).toBe('unsupported-model');
    expect(await codeOf([['tokenizer.ggml.model', gv.str('gpt2')], ['tokenizer.ggml.pre', gv.str('default')], tokens, merges])).toBe('unsupported-pre');
    expect(await codeOf([['tokenizer.ggml.model', gv.str('gpt2')], tokens, merges])).toBe('unsupported-pre');
    expect(await codeOf([['tokenizer.ggml.model', gv.str('gpt2')], ['tokenizer.ggml.pre', gv.str('gpt-2')], tokens])).toBe('no-vocab');
    expect(await codeOf([['tokenizer.ggml.model', gv.str('llama')], tokens, ['tokenizer.ggml.token_type', gv.arr(GGUFValueType.FLOAT32, [1, 1, 1])]])).toBe('bad-metadata');
    expect(await codeOf([['tokenizer.ggml.model', gv.str('llama')], tokens, ['tokenizer.ggml.token_type', gv.arr(GGUFValueType.INT32, [1])]])).toBe('bad-metadata');
  });

  test('ids outside the vocabulary, use after dispose', async () => {
    const tok = await tokenizerFromFile(await vocabFile('gpt2'));
    for (const bad of [[-1], [tok.nVocab], [0, 2 ** 31 - 1]]) {
      expect(() => tok.decode(bad)).toThrow(expect.objectContaining({ code: 'bad-token' }));
    }
    const d = tok.createDecoder();
    expect(() => d.push(tok.nVocab)).toThrow(expect.objectContaining({ code: 'bad-token' }));
    d.dispose();
    tok.dispose();
    expect(() => tok.encode('x')).toThrow(expect.objectContaining({ code: 'bad-state' }));
  });
});

describe('stream decoder', () => {
  test('a character split over byte tokens comes out whole', async () => {
    const tok = await tokenizerFromFile(await vocabFile('llama2'));
    const ids = tok.encode('🦙!');  // no piece for the emoji: four <0xXX> byte tokens
    const pieces = Array.from(ids).map((id) => tok.tokenText(id));
    expect(pieces.filter((p) => /^<0x[0-9A-F]{2}>$/.test(p)).length).toBe(4);
    const d = tok.createDecoder();
    const out = Array.from(ids).map((id) => d.push(id));
    expect(out.join('') + d.flush()).toBe(' 🦙!');
    // Nothing is released until the fourth byte arrives; no chunk holds a replacement character.
    expect(out.some((s) => s.includes('\uFFFD'))).toBe(false);
    expect(out.filter((s) => s.length > 0).length).toBeLessThan(ids.length);
    // An unfinished character at the end becomes one U+FFFD when flushed.
    const d2 = tok.createDecoder();
    const emojiBytes = Array.from(ids).filter((id) => /^<0x/.test(tok.tokenText(id)));
    expect(emojiBytes.slice(0, 3).map((id) => d2.push(id)).join('') + d2.flush()).toBe('\uFFFD');
    d.dispose();
    d2.dispose();
    tok.dispose();
  });
});

test('model factory vocabulary (GPT-2 cut to 2000 merges) matches llama.cpp', async () => {
  const path = join(mkdtempSync(join(tmpdir(), 'webmoe-tok-')), 'factory.gguf');
  writeFileSync(path, makeModel({ arch: 'llama', seed: 1, nMerges: 2000 }));
  const tok = await tokenizerFromFile(path);
  const texts = ALL_TEXTS.slice(0, 60);
  const res = await llamaTokenizer(path, texts.map((text) => ({ type: 'tokenize' as const, text, special: true })));
  expect(firstDiffs(texts, texts.map((t) => tok.encode(t, { parseSpecial: true })), res.map((r) => expectOk(r, 'tokenize').ids))).toEqual([]);
  tok.dispose();
}, 60_000);
