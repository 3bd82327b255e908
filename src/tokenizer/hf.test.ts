// The tokenizer against a second implementation nobody here wrote: @huggingface/tokenizers, loaded
// with the same vocabularies (Qwen3's own tokenizer.json; GPT-2's and Llama 3's assembled from the
// same npm data with their standard pre-tokenizers). Special-token text is parsed on both sides.
// Two differences between llama.cpp (which we follow) and Hugging Face are kept out of the
// comparison: Qwen's tokenizer.json NFC-normalizes text and llama.cpp does not (so inputs are
// given in NFC), and llama.cpp promotes tokens whose text names an end of generation ("</s>")
// to control tokens, which Qwen's tokenizer.json does not list as added tokens.
import { Tokenizer as HFTokenizer } from '@huggingface/tokenizers';
import { describe, expect, test } from 'vitest';
import { ALL_TEXTS, brownText } from '../../tools/vocab/corpus.ts';
import { realVocab, vocabFile } from '../../tools/vocab/index.ts';
import { firstDiffs, tokenizerFromFile } from './testing.ts';

const TEXTS = [...new Set([...ALL_TEXTS, brownText(1)].map((t) => t.normalize('NFC')))];
const PROMOTED_BY_LLAMA_CPP: Record<string, string[]> = { qwen3: ['</s>'] };

describe.each(['gpt2', 'llama3', 'qwen3'] as const)('%s', (name) => {
  test('matches @huggingface/tokenizers', async () => {
    const hfData = (await realVocab(name)).hf!();
    const hf = new HFTokenizer(hfData.json, hfData.config);
    const tok = await tokenizerFromFile(await vocabFile(name));
    const skip = PROMOTED_BY_LLAMA_CPP[name] ?? [];
    const texts = TEXTS.filter((t) => !skip.some((s) => t.includes(s)));
    expect(texts.length).toBeGreaterThan(TEXTS.length - 5);
    const ours = texts.map((t) => tok.encode(t, { parseSpecial: true }));
    const theirs = texts.map((t) => hf.encode(t, { add_special_tokens: false }).ids);
    expect(firstDiffs(texts, ours, theirs)).toEqual([]);
    tok.dispose();
  }, 120_000);
});
