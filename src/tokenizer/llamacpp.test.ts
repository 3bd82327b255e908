// The tokenizer against llama.cpp (node-llama-cpp, in a child process) on GGUFs carrying real
// vocabularies: token ids byte for byte (with and without special-token parsing), detokenized
// text, round trips, and what llama.cpp makes of the vocabulary at load time (BOS/EOS, add_bos,
// the end-of-generation set, every token's attributes).
import { afterAll, describe, expect, test } from 'vitest';
import { expectOk, llamaTokenizer, type TokenizeTask } from '../../tools/oracle/tokenize.ts';
import { ALL_TEXTS, brownText } from '../../tools/vocab/corpus.ts';
import { VOCAB_NAMES, vocabFile, type VocabName } from '../../tools/vocab/index.ts';
import { firstDiffs, tokenizerFromFile } from './testing.ts';
import type { Tokenizer } from './tokenizer.ts';

const TEXTS = [...ALL_TEXTS, brownText(1)];
// Loading a vocabulary's attributes token by token through node-llama-cpp takes seconds: only the
// four base vocabularies are checked that way (the variants differ from them only in `pre`).
const WITH_INFO = new Set<VocabName>(['llama3', 'qwen3', 'gpt2', 'llama2']);
const summary: Record<string, unknown> = {};

afterAll(() => console.log('tokenizer vs llama.cpp:', JSON.stringify(summary)));

describe.each(VOCAB_NAMES)('vocabulary %s', (name) => {
  test('matches llama.cpp', async () => {
    const path = await vocabFile(name);
    const tok: Tokenizer = await tokenizerFromFile(path);
    const modes = [false, true];
    const ours = modes.map((parseSpecial) => TEXTS.map((t) => tok.encode(t, { parseSpecial })));
    const tasks: TokenizeTask[] = [];
    for (const special of modes) for (const text of TEXTS) tasks.push({ type: 'tokenize', text, special });
    // llama.cpp detokenizes our ids (with and without control-token text).
    for (const special of modes) for (const ids of ours[0]) tasks.push({ type: 'detokenize', ids: Array.from(ids), special });
    for (const ids of ours[1]) tasks.push({ type: 'detokenize', ids: Array.from(ids), special: true });
    if (WITH_INFO.has(name)) tasks.push({ type: 'info' });
    const res = await llamaTokenizer(path, tasks);
    let k = 0;
    const n = TEXTS.length;

    for (const [m, parseSpecial] of modes.entries()) {
      const want = TEXTS.map(() => expectOk(res[k++], 'tokenize').ids);
      expect(firstDiffs(TEXTS, ours[m], want), `token ids, parseSpecial=${parseSpecial}`).toEqual([]);
    }
    let roundTrips = 0;
    for (const special of modes) {
      for (let i = 0; i < n; i++) {
        const want = expectOk(res[k++], 'detokenize').text;
        expect(tok.decode(ours[0][i], { special }), `decode ${JSON.stringify(TEXTS[i])}`).toBe(want);
        // Where llama.cpp gives the text back, so must we (it does not where clean-up of
        // tokenization spaces applies, e.g. " ," in GPT-2 and Llama 3).
        if (!special && want === TEXTS[i]) roundTrips++;
      }
    }
    for (let i = 0; i < n; i++) {
      expect(tok.decode(ours[1][i], { special: true })).toBe(expectOk(res[k++], 'detokenize').text);
    }
    // The streaming decoder has no clean-up step: its output is the text itself (SentencePiece
    // adds one leading space, which a prompt continuation would keep).
    for (let i = 0; i < n; i++) {
      const d = tok.createDecoder();
      let s = '';
      for (const id of ours[0][i]) s += d.push(id);
      s += d.flush();
      d.dispose();
      expect(tok.model === 'llama' ? s.replace(/^ /, '') : s, `stream ${JSON.stringify(TEXTS[i])}`).toBe(TEXTS[i]);
    }
    expect(roundTrips).toBeGreaterThan(n * 0.8);

    if (WITH_INFO.has(name)) {
      const info = expectOk(res[k++], 'info').info;
      expect(tok.nVocab).toBe(info.nVocab);
      expect(tok.bos ?? null).toBe(info.bos);
      expect(tok.eos ?? null).toBe(info.eos);
      expect([tok.addBos, tok.addEos]).toEqual([info.addBos, info.addEos]);
      const eog: number[] = [];
      for (let id = 0; id < tok.nVocab; id++) if (tok.isEog(id)) eog.push(id);
      expect(eog).toEqual(info.eog);
      const badAttr: number[] = [];
      for (let id = 0; id < tok.nVocab; id++) if (tok.attr(id) !== info.attrs[id]) badAttr.push(id);
      expect(badAttr.slice(0, 10)).toEqual([]);
    }
    summary[name] = { texts: n, tokens: ours[0].reduce((a, b) => a + b.length, 0), mismatches: 0, roundTrips };
    tok.dispose();
  }, 240_000);
});
