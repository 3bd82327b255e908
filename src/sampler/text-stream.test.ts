// TextStream: the text of a token stream up to an end-of-generation token or a stop string,
// released in whole characters, with the reason it ended.
import { expect, test } from 'vitest';
import { vocabFile } from '../../tools/vocab/index.ts';
import { tokenizerFromFile } from '../tokenizer/testing.ts';
import { Sampler } from './sampler.ts';
import { TextStream } from './text-stream.ts';

test('stops at end-of-generation tokens and at stop strings split across tokens', async () => {
  const tok = await tokenizerFromFile(await vocabFile('qwen3'));
  const sampler = await Sampler.create(tok.nVocab);
  const run = (text: string, opts: ConstructorParameters<typeof TextStream>[2]) => {
    const s = new TextStream(tok, sampler, opts);
    const ids = tok.encode(text, { parseSpecial: true });
    const chunks = Array.from(ids, (id) => s.push(id));
    const out = chunks.join('') + s.finish();
    const r = { out, chunks, stopped: s.stopped, stopString: s.stopString };
    s.dispose();
    return r;
  };
  const eog = run('Hello, world 你好<|im_end|>ignored', {});
  expect(eog.out).toBe('Hello, world 你好');
  expect(eog.stopped).toBe('eog');
  // Past the end-of-generation token, control tokens render as nothing unless `special`.
  expect(run('Hello<|im_end|>more', { ignoreEog: true }).out).toBe('Hellomore');
  expect(run('Hello<|im_end|>more', { ignoreEog: true, special: true }).out).toBe('Hello<|im_end|>more');

  const text = 'The answer is 42.\n\nUser: and then?';
  const stop = run(text, { stop: ['\n\nUser:'] });
  expect(stop.out).toBe('The answer is 42.');
  expect(stop.stopped).toBe('stop-string');
  expect(stop.stopString).toBe('\n\nUser:');
  // The stop string spans several tokens: some chunk was held back (empty) before it completed.
  expect(tok.encode('\n\nUser:').length).toBeGreaterThan(1);
  expect(stop.chunks.some((c) => c === '')).toBe(true);
  expect(stop.chunks.join('').includes('\n\nUser')).toBe(false);
  // Not found: everything comes out at the end.
  const none = run(text, { stop: ['\n\nAssistant:'] });
  expect(none.out).toBe(text);
  expect(none.stopped).toBeUndefined();
  sampler.dispose();
  tok.dispose();
});
