// The shared generate loop on the CPU reference with the embedded default model: greedy ids equal
// the reference's own greedy(), the text equals the tokenizer's decode of them, and each way to
// end (end-of-generation, stop string, maxTokens, context, abort) stops where it should.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGGUF } from '../gguf/reader.ts';
import { fileSource } from '../gguf/source-node.ts';
import { greedy } from '../reference/generate.ts';
import { ReferenceModel } from '../reference/model.ts';
import { argmax } from '../reference/ops.ts';
import { Tokenizer } from '../tokenizer/tokenizer.ts';
import { PromptTooLongError, runGeneration, type StepBackend } from './loop.ts';

const MODEL = 'public/models/webmoe-tiny-moe.q8_0.gguf';

describe('runGeneration', () => {
  const source = fileSource(MODEL);
  let tok: Tokenizer;
  let model: ReferenceModel;
  /** Forward passes run, and the ids each saw. */
  let calls: number[][];
  const backend: StepBackend = {
    forward: async (ids) => {
      calls.push(ids);
      const [logits] = model.forward(ids);
      return { next: argmax(logits), logits };
    },
  };
  const fresh = () => {
    model.reset();
    calls = [];
  };
  const encode = (s: string) => [...tok.encode(s)];

  beforeAll(async () => {
    tok = await Tokenizer.fromGGUF(await readGGUF(source));
    model = await ReferenceModel.load(source, { numerics: 'ggml', nCtx: 96 });
  });
  afterAll(async () => {
    tok.dispose();
    await source.close?.();
  });

  it('greedy: the reference greedy ids, their text streamed in pieces', async () => {
    const prompt = encode('The');
    const want = greedy(model, prompt, 24);
    fresh();
    const pieces: string[] = [];
    const r = await runGeneration(backend, {
      promptIds: prompt, maxTokens: 24, nVocab: tok.nVocab, sampling: { temperature: 0 }, tokenizer: tok,
      onToken: (_id, s) => pieces.push(s),
    });
    expect(r.ids).toEqual(want);
    expect(r.stop).toBe('max-tokens');
    expect(r.text).toBe(tok.decode(want));
    expect(pieces.join('')).toBe(r.text);
    expect(r.decodeTokens).toBe(23); // the last token is never run through the model
    expect(calls.length).toBe(24);
  });

  it('stops at the end-of-generation token, which is left out', async () => {
    // Greedy from this prompt ends with <|endoftext|> within 48 tokens (a fortune's attribution).
    const prompt = encode('Once upon a time');
    const all = greedy(model, prompt, 48);
    const eog = all.findIndex((id) => tok.isEog(id));
    expect(eog).toBeGreaterThan(0);
    fresh();
    const r = await runGeneration(backend, { promptIds: prompt, maxTokens: 48, nVocab: tok.nVocab, sampling: { temperature: 0 }, tokenizer: tok });
    expect(r.stop).toBe('eog');
    expect(r.ids).toEqual(all.slice(0, eog));
    const ignored = (fresh(), await runGeneration(backend, {
      promptIds: prompt, maxTokens: eog + 3, nVocab: tok.nVocab, sampling: { temperature: 0 }, tokenizer: tok, ignoreEos: true,
    }));
    expect(ignored.ids).toEqual(all.slice(0, eog + 3));
  });

  it('a stop string ends the text before it', async () => {
    const prompt = encode('The');
    const full = (fresh(), await runGeneration(backend, { promptIds: prompt, maxTokens: 24, nVocab: tok.nVocab, sampling: { temperature: 0 }, tokenizer: tok }));
    const stop = ' the B'; // spans tokens of " and the Bermans"
    expect(full.text).toContain(stop);
    fresh();
    const r = await runGeneration(backend, { promptIds: prompt, maxTokens: 24, nVocab: tok.nVocab, sampling: { temperature: 0 }, tokenizer: tok, stop: [stop] });
    expect(r.stop).toBe('stop-string');
    expect(r.stopString).toBe(stop);
    expect(r.text).toBe(full.text.slice(0, full.text.indexOf(stop)));
  });

  it('an abort ends it before the next forward pass', async () => {
    const ac = new AbortController();
    fresh();
    const r = await runGeneration(backend, {
      promptIds: encode('The'), maxTokens: 40, nVocab: tok.nVocab, sampling: { temperature: 0 }, tokenizer: tok, signal: ac.signal,
      onToken: (id) => { if (id !== undefined && calls.length === 5) ac.abort(); },
    });
    expect(r.stop).toBe('aborted');
    expect(r.ids.length).toBe(5);
    expect(calls.length).toBe(5); // no pass ran after the abort
  });

  it('stops at the end of the context, and refuses a prompt longer than it', async () => {
    fresh();
    const prompt = encode('In the morning the');
    const r = await runGeneration(backend, { promptIds: prompt, maxTokens: 50, nVocab: tok.nVocab, sampling: { temperature: 0 }, ignoreEos: true, nCtx: prompt.length + 6 });
    expect(r.stop).toBe('context-full');
    expect(r.decodeTokens).toBe(6);
    expect(r.ids.length).toBe(7);
    await expect(runGeneration(backend, { promptIds: prompt, maxTokens: 5, nVocab: tok.nVocab, sampling: { temperature: 0 }, nCtx: 2 }))
      .rejects.toThrow(PromptTooLongError);
  });

  it('cached: only the prompt tokens past the cache run, and the tokens are those of a fresh run', async () => {
    // A first generation leaves its prompt and all but its last token in the cache; the next prompt
    // extends those ids, as a chat's next turn does.
    fresh();
    const first = await runGeneration(backend, { promptIds: encode('The'), maxTokens: 8, nVocab: tok.nVocab, sampling: { temperature: 0 }, ignoreEos: true });
    const inCache = calls.flat();
    const prompt = [...inCache, ...encode(' and then')];
    expect(inCache.length).toBe(encode('The').length + first.ids.length - 1);
    // sampling with a repeat penalty: the penalty must see the cached part of the prompt too
    const opts = { promptIds: prompt, maxTokens: 12, nVocab: tok.nVocab, ignoreEos: true, sampling: { temperature: 0.7, repeatPenalty: 1.3, seed: 5 } };
    calls = [];
    const cont = await runGeneration(backend, { ...opts, cached: inCache.length });
    expect(calls[0]).toEqual(encode(' and then'));
    expect(cont.prefilledTokens).toBe(calls[0].length);
    expect(cont.promptTokens).toBe(prompt.length);
    fresh();
    const scratch = await runGeneration(backend, opts);
    expect(scratch.prefilledTokens).toBe(prompt.length);
    expect(cont.ids).toEqual(scratch.ids);
    await expect(runGeneration(backend, { ...opts, cached: prompt.length })).rejects.toThrow(RangeError);
  });

  it('a seed gives the same sampled tokens twice, another seed other ones', async () => {
    const run = async (seed: number) => {
      fresh();
      return (await runGeneration(backend, {
        promptIds: encode('He said that'), maxTokens: 20, nVocab: tok.nVocab, ignoreEos: true,
        sampling: { temperature: 1, topK: 40, topP: 0.95, seed },
      })).ids;
    };
    const a = await run(7);
    expect(await run(7)).toEqual(a);
    expect(await run(8)).not.toEqual(a);
  });
});
