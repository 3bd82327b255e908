// Multi-turn chat with the KV cache reused, through the client API over comlink to an EngineHost
// (as engine-host.test.ts reaches it) running the embedded default model on Dawn/SwiftShader and
// on the WASM CPU backend:
// a second turn prefills only its new tokens, and its tokens are those of a run from scratch on
// the whole conversation (the GPU's and the CPU reference's), greedy and sampled; a generation on
// another prompt in between, a stopped turn, a rewind to a shorter prefix and a full context
// (oldest turns dropped) never leave a wrong cache.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebMoE } from '../src/client/webmoe.ts';
import type { GenerationResult } from '../src/client/protocol.ts';
import type { Tokenizer } from '../src/tokenizer/tokenizer.ts';
import { defaultModelBytes, serveAndLoad, type Loaded, type ReferenceOracle } from './testing.ts';

const bytes = defaultModelBytes();
const N_CTX = 128;
const GREEDY = { temperature: 0, maxTokens: 32 } as const;

describe.each(['webgpu', 'wasm'] as const)('multi-turn chat with the KV cache reused (%s)', (backend) => {
  let loaded: Loaded;
  let tok: Tokenizer;
  let expected: ReferenceOracle['expected'];
  let llm: WebMoE;

  /** Ids a finished generation left in the KV cache: its prompt and every token it ran (the last
   *  sampled one runs only if another came after it, i.e. when it stopped at end-of-generation). */
  const inCache = (r: GenerationResult) => [...r.promptIds, ...(r.stop === 'eog' ? r.ids : r.ids.slice(0, -1))];
  const common = (a: number[], b: number[]) => {
    let n = 0;
    while (n < a.length && a[n] === b[n]) n++;
    return n;
  };

  beforeAll(async () => {
    loaded = await serveAndLoad(bytes, N_CTX, backend);
    ({ tok, expected, llm } = loaded);
  }, 120_000);
  afterAll(() => loaded?.close());

  it('a second turn prefills only its new tokens and equals a run from scratch on the whole conversation', async () => {
    const conv = llm.conversation();
    const r1 = await conv.send('Hi there', GREEDY).result;
    expect(r1.prefilledTokens + r1.reusedTokens).toBe(r1.promptIds.length);
    expect(r1.ids).toEqual(expected(r1.promptIds, GREEDY.maxTokens));
    expect(r1.stop).toBe('eog'); // (this model ends its answers within 32 tokens)

    let streamed = '';
    const gen = conv.send('And then?', GREEDY);
    for await (const c of gen) streamed += c.text;
    const r2 = await gen.result;
    // The prompt continues from the first turn's tokens: the plain template's text after the
    // answer is all that is new.
    const fresh = [...tok.encode('\nUser: And then?\nAssistant:')];
    expect(r2.promptIds).toEqual([...r1.promptIds, ...r1.ids, ...fresh]);
    expect(r2.reusedTokens).toBe(inCache(r1).length);
    expect(r2.prefilledTokens).toBe(fresh.length);
    expect(r2.droppedMessages).toBe(0);
    expect(r2.ids).toEqual(expected(r2.promptIds, GREEDY.maxTokens));
    expect(streamed).toBe(r2.text);
    expect(r2.text).toBe(tok.decode(r2.ids));

    // the same prompt from scratch (keepCache off: the cache is cleared)
    const scratch = await llm.generate(r2.promptIds, GREEDY).result;
    expect(scratch.reusedTokens).toBe(0);
    expect(scratch.prefilledTokens).toBe(r2.promptIds.length);
    expect(scratch.ids).toEqual(r2.ids);
    const figures = { turn2: { prefilled: r2.prefilledTokens, reused: r2.reusedTokens, prefillMs: +r2.prefillMs.toFixed(1) },
      scratch: { prefilled: scratch.prefilledTokens, prefillMs: +scratch.prefillMs.toFixed(1) } };
    console.log('kv reuse:', JSON.stringify(figures));

    // the cache is its ids, whichever generation ran them: scratch left those of the second turn
    const r3 = await conv.send('Why?', GREEDY).result;
    expect(inCache(scratch)).toEqual(inCache(r2));
    expect(r3.reusedTokens).toBe(inCache(r2).length);
    expect(r3.ids).toEqual(expected(r3.promptIds, GREEDY.maxTokens));
  });

  it('sampled with a repeat penalty: the same tokens as without the cache', async () => {
    const opts = { temperature: 0.9, topK: 40, repeatPenalty: 1.3, seed: 21, maxTokens: 24 };
    const conv = llm.conversation({ system: 'You tell stories.' });
    await conv.send('A story, please.', opts).result;
    const r2 = await conv.send('Go on.', opts).result;
    expect(r2.reusedTokens).toBeGreaterThan(r2.prefilledTokens);
    const scratch = await llm.generate(r2.promptIds, opts).result;
    expect(scratch.ids).toEqual(r2.ids);
  });

  it('another prompt in between, a repeated prompt, a shorter prefix: only common tokens are reused', async () => {
    const conv = llm.conversation();
    const r1 = await conv.send('Hi there', GREEDY).result;
    // another conversation (another element on the same model) runs in between
    const other = await llm.chat([{ role: 'user', content: 'Who are you?' }], { ...GREEDY, keepCache: true }).result;
    const shared = common(inCache(r1), other.promptIds); // "User:" of "User: Hi there"
    expect(shared).toBeGreaterThan(0);
    expect(shared).toBeLessThan(r1.promptIds.length);
    expect(other.reusedTokens).toBe(shared);
    expect(other.ids).toEqual(expected(other.promptIds, GREEDY.maxTokens));
    const r2 = await conv.send('And then?', GREEDY).result;
    expect(r2.reusedTokens).toBe(common(inCache(other), r2.promptIds));
    expect(r2.prefilledTokens).toBe(r2.promptIds.length - r2.reusedTokens);
    expect(r2.promptIds.slice(0, inCache(r1).length)).toEqual(inCache(r1));
    expect(r2.ids).toEqual(expected(r2.promptIds, GREEDY.maxTokens));

    // the same prompt again: all but its last token reused (the cache is moved back past the answer)
    const again = await llm.generate(r2.promptIds, { ...GREEDY, keepCache: true }).result;
    expect(again.reusedTokens).toBe(r2.promptIds.length - 1);
    expect(again.ids).toEqual(r2.ids);
    // a prompt that leaves the cached answer halfway
    const cut = [...inCache(r2).slice(0, r2.promptIds.length + 3), ...tok.encode(' but')];
    const shorter = await llm.generate(cut, { ...GREEDY, keepCache: true }).result;
    expect(shorter.reusedTokens).toBe(r2.promptIds.length + 3);
    expect(shorter.ids).toEqual(expected(cut, GREEDY.maxTokens));
  });

  it('a stopped turn: the next one continues from the tokens generated so far', async () => {
    const conv = llm.conversation();
    const ac = new AbortController();
    const gen = conv.send('Write a poem.', { ...GREEDY, signal: ac.signal });
    let n = 0;
    for await (const c of gen) if ((n += c.ids.length) >= 3) ac.abort();
    const r1 = await gen.result;
    expect(r1.stop).toBe('aborted');
    expect(r1.ids.length).toBeLessThan(expected(r1.promptIds, GREEDY.maxTokens).length);
    const r2 = await conv.send('Go on.', GREEDY).result;
    expect(r2.reusedTokens).toBe(inCache(r1).length);
    expect(r2.ids).toEqual(expected(r2.promptIds, GREEDY.maxTokens));
  });

  it('a full context drops the oldest turns and says so; the turns after it reuse the cache again', async () => {
    const conv = llm.conversation({ system: 'Short answers.' });
    const results: GenerationResult[] = [];
    // (questions whose greedy answers have no near-tie, where the GPU's f32 sums and the
    // reference's may pick differently: the smallest top-2 logit gap is 0.02 here)
    for (const q of ['Tell me a story.', 'And then?', 'What now?']) results.push(await conv.send(q, GREEDY).result);
    const dropping = results.at(-1)!;
    expect(dropping.droppedMessages).toBeGreaterThan(0);
    expect(dropping.droppedMessages % 2).toBe(0); // whole turns
    expect(dropping.promptIds.length).toBeLessThanOrEqual(N_CTX / 2);
    expect(tok.decode(dropping.promptIds)).toMatch(/^System: Short answers\.\nUser: And then\?\n/);
    expect(dropping.ids).toEqual(expected(dropping.promptIds, GREEDY.maxTokens));
    expect(conv.dropped).toBe(dropping.droppedMessages);
    // before the drop every turn reused the one before it
    for (let i = 1; i < results.length - 1; i++) expect(results[i].reusedTokens).toBe(inCache(results[i - 1]).length);

    const next = await conv.send('Thanks.', GREEDY).result;
    expect(next.droppedMessages).toBe(0);
    expect(next.reusedTokens).toBe(inCache(dropping).length);
    expect(next.ids).toEqual(expected(next.promptIds, GREEDY.maxTokens));
  });
});
