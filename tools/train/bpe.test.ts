// Our BPE encoder against npm gpt-3-encoder (GPT-2's reference port) on real text, full vocabulary;
// and the truncated vocabulary's ids round-trip to the same bytes.
import { describe, expect, it } from 'vitest';
import { encode as gpt3Encode } from 'gpt-3-encoder';
import { gpt2Vocab } from '../factory/vocab.ts';
import { BpeEncoder, byteToUnicode } from './bpe.ts';
import { brownDocuments, fortuneDocuments } from './corpus.ts';

const brown = brownDocuments();
const fortunes = fortuneDocuments();
// A few thousand words of each source, plus edge cases of the pre-tokenizer.
const samples = [
  brown[0].text.slice(0, 12000),
  brown[250].text.slice(0, 8000),
  brown[499].text.slice(0, 8000),
  fortunes.slice(0, 300).map((d) => d.text).join('\n\n'),
  "I'm sure they'll've done it; she's 'quoted' -- isn't it?  \t\n\n  trailing   ",
  'Numbers 3.14159, 1,000,000 and 2024-06-01; café naïve Ünïcödé 日本語 🙂 emoji…',
];

describe('BpeEncoder', () => {
  const full = new BpeEncoder(gpt2Vocab(50000));
  it.each(samples.map((s, i) => [i, s]))('sample %i equals gpt-3-encoder with all 50000 merges', (_, text) => {
    expect(full.encode(text as string)).toEqual(gpt3Encode(text as string));
  });

  it('the truncated vocabulary decodes back to the input bytes', () => {
    const vocab = gpt2Vocab(3000);
    const bpe = new BpeEncoder(vocab);
    const unicodeToByte = new Map(byteToUnicode().map((c, b) => [c, b]));
    for (const text of samples) {
      const ids = bpe.encode(text);
      expect(Math.max(...ids)).toBeLessThan(vocab.tokens.length - 1); // never <|endoftext|>
      const bytes = ids.flatMap((id) => Array.from(vocab.tokens[id], (c) => unicodeToByte.get(c)!));
      expect(new TextDecoder().decode(new Uint8Array(bytes))).toBe(text);
    }
  });
});
