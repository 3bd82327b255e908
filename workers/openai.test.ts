// OpenAI's chat completions on the real engine (src/client/openai.ts), reached as a page reaches
// it: the client API over comlink to an EngineHost that downloads the embedded default model from a
// loopback server into a memory store and runs it on WebGPU (Dawn, SwiftShader). Every greedy
// completion's content, finish reason and usage must be those of the CPU reference's greedy ids on
// the conversation in the model's chat template; the shapes are OpenAI's (ids, objects, choices,
// streamed chunks with the role first, the finish reason last, usage on request); a seed repeats a
// sampled completion; aborts and invalid requests give named errors; llm.chat() works as before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebMoE } from '../src/client/webmoe.ts';
import type { ChatCompletionChunk, ChatCompletionMessageParam } from '../src/client/openai.ts';
import type { ChatMessage } from '../src/client/protocol.ts';
import { chatPromptIds } from '../src/generate/chat-prompt.ts';
import type { Tokenizer } from '../src/tokenizer/tokenizer.ts';
import { defaultModelBytes, serveAndLoad, type Loaded, type ReferenceOracle } from './testing.ts';

const N_CTX = 128;

describe('llm.chat.completions.create on the engine', () => {
  let loaded: Loaded;
  let llm: WebMoE;
  let url: string;
  let tok: Tokenizer;
  let expected: ReferenceOracle['expected'];
  const hello: ChatCompletionMessageParam[] = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }];
  const plain = (messages: ChatCompletionMessageParam[]): ChatMessage[] =>
    messages.map((m) => ({ role: m.role === 'developer' ? 'system' : m.role, content: typeof m.content === 'string' ? m.content : '' }));

  /** The CPU reference's greedy answer to `messages` in the chat template, as OpenAI would report it. */
  function reference(messages: ChatMessage[], maxTokens: number) {
    const promptIds = chatPromptIds(tok, messages, { nCtx: N_CTX, room: 0 }).ids;
    const ids = expected(promptIds, maxTokens);
    return {
      promptIds, ids, text: tok.decode(ids), finish: ids.length < maxTokens ? 'stop' : 'length',
      usage: { prompt_tokens: promptIds.length, completion_tokens: ids.length, total_tokens: promptIds.length + ids.length },
    };
  }

  beforeAll(async () => {
    const bytes = defaultModelBytes();
    loaded = await serveAndLoad(bytes, N_CTX);
    ({ tok, expected, llm, url } = loaded);
  }, 120_000);
  afterAll(() => loaded?.close());

  it('returns a chat.completion with the reference\'s greedy answer and usage', async () => {
    const t0 = Math.floor(Date.now() / 1000);
    const r = await llm.chat.completions.create({ messages: hello, temperature: 0, max_tokens: 24 });
    const want = reference(plain(hello), 24);
    expect(want.text.length).toBeGreaterThan(0);
    expect(r).toMatchObject({ object: 'chat.completion', model: url });
    expect(r.id).toMatch(/^chatcmpl-[0-9a-f]{24}$/);
    expect(r.created).toBeGreaterThanOrEqual(t0);
    expect(r.choices).toEqual([{ index: 0, message: { role: 'assistant', content: want.text, refusal: null }, finish_reason: want.finish, logprobs: null }]);
    expect(r.usage).toEqual(want.usage);
    console.log('openai: completion', JSON.stringify({ content: r.choices[0].message.content, finish: r.choices[0].finish_reason, usage: r.usage }));
  });

  it('streams chat.completion.chunk objects: the role first, the text, the finish reason, then usage', async () => {
    const want = reference(plain(hello), 24);
    const stream = await llm.chat.completions.create({ messages: hello, temperature: 0, max_tokens: 24, stream: true, stream_options: { include_usage: true } });
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === url)).toBe(true);
    expect(chunks[0].choices).toEqual([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }]);
    const text = chunks.slice(1, -2);
    expect(text.length).toBeGreaterThan(1); // streamed, not at once
    expect(text.every((c) => c.choices[0].finish_reason === null && c.choices[0].delta.content)).toBe(true);
    expect(text.map((c) => c.choices[0].delta.content).join('')).toBe(want.text);
    expect(chunks.at(-2)!.choices).toEqual([{ index: 0, delta: {}, finish_reason: want.finish, logprobs: null }]);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: want.usage });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);

    // Without include_usage: no usage field, and the finish chunk is the last.
    const again: ChatCompletionChunk[] = [];
    for await (const c of await llm.chat.completions.create({ messages: hello, temperature: 0, max_tokens: 24, stream: true })) again.push(c);
    expect(again.every((c) => !('usage' in c))).toBe(true);
    expect(again.at(-1)!.choices[0].finish_reason).toBe(want.finish);
    expect(again.map((c) => c.choices[0].delta.content ?? '').join('')).toBe(want.text);
  });

  it('finish reasons: max_tokens → length, a stop string → stop (left out of the content)', async () => {
    const full = reference(plain(hello), 24);
    const short = await llm.chat.completions.create({ messages: hello, temperature: 0, max_tokens: 3 });
    expect(short.choices[0]).toMatchObject({ finish_reason: 'length', message: { content: tok.decode(full.ids.slice(0, 3)) } });
    expect(short.usage.completion_tokens).toBe(3);

    expect(full.text.length).toBeGreaterThanOrEqual(6);
    const mid = Math.floor(full.text.length / 2);
    const stop = full.text.slice(mid, mid + 3);
    for (const s of [stop, [stop, '\u{F8FF}never']]) {
      const cut = await llm.chat.completions.create({ messages: hello, temperature: 0, max_tokens: 24, stop: s });
      expect(cut.choices[0]).toMatchObject({ finish_reason: 'stop', message: { content: full.text.slice(0, full.text.indexOf(stop)) } });
    }
  });

  it('a conversation sent again with the answer and a new question: the reference on the whole conversation', async () => {
    const first = await llm.chat.completions.create({ messages: hello, temperature: 0, max_tokens: 16 });
    const conv: ChatCompletionMessageParam[] = [
      { role: 'developer', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'Hel' }, { type: 'text', text: 'lo' }] },
      first.choices[0].message, { role: 'user', content: 'And then?' },
    ];
    const second = await llm.chat.completions.create({ messages: conv, temperature: 0, max_tokens: 16 });
    const want = reference([...plain(hello), { role: 'assistant', content: first.choices[0].message.content }, { role: 'user', content: 'And then?' }], 16);
    expect(second.choices[0]).toMatchObject({ finish_reason: want.finish, message: { content: want.text } });
    expect(second.usage).toEqual(want.usage);
  });

  it('a seed repeats a sampled completion (the same as llm.chat with that seed)', async () => {
    const body = { messages: hello, temperature: 0.9, top_p: 0.95, seed: 7, max_tokens: 16 };
    const a = await llm.chat.completions.create(body);
    const b = await llm.chat.completions.create(body);
    expect(b.choices[0].message.content).toBe(a.choices[0].message.content);
    const c = await llm.chat(plain(hello), { temperature: 0.9, topP: 0.95, seed: 7, maxTokens: 16 }).result;
    expect(c.text).toBe(a.choices[0].message.content);
  });

  it('an abort rejects with an AbortError; leaving a stream early stops it; the next completion is right', async () => {
    const ac = new AbortController();
    const stream = await llm.chat.completions.create({ messages: hello, temperature: 0, max_tokens: 100, stream: true }, { signal: ac.signal });
    let n = 0;
    const err = await (async () => {
      for await (const c of stream) if (c.choices[0]?.delta.content && ++n === 2) ac.abort();
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'AbortError' });

    const ac2 = new AbortController();
    const pending = llm.chat.completions.create({ messages: hello, temperature: 0, max_tokens: 100 }, { signal: ac2.signal });
    ac2.abort(); // the request is on its way: the worker cancels it before its first token
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await expect(llm.chat.completions.create({ messages: hello }, { signal: ac2.signal })).rejects.toMatchObject({ name: 'AbortError' });

    // left after the role chunk, before any token (the generation is stopped): the next one is right
    for await (const c of await llm.chat.completions.create({ messages: hello, temperature: 0, max_tokens: 100, stream: true })) if (c) break;
    const r = await llm.chat.completions.create({ messages: hello, temperature: 0, max_tokens: 24 });
    expect(r.choices[0].message.content).toBe(reference(plain(hello), 24).text);
  });

  it('refuses what it cannot do, naming the field', async () => {
    const bad = async (body: object) => llm.chat.completions.create({ messages: hello, ...body }).catch((e: unknown) => e);
    expect(await bad({ n: 2 })).toMatchObject({ name: 'InvalidRequestError', code: 'invalid-request', param: 'n' });
    expect(await bad({ frequency_penalty: 0.5 })).toMatchObject({ name: 'InvalidRequestError', param: 'frequency_penalty' });
    expect(await bad({ logprobs: true })).toMatchObject({ param: 'logprobs' });
    expect(await bad({ tools: [{ type: 'function' }] })).toMatchObject({ param: 'tools' });
    expect(await bad({ response_format: { type: 'json_object' } })).toMatchObject({ param: 'response_format' });
    expect(await bad({ temperature: 3 })).toMatchObject({ param: 'temperature' });
    expect(await bad({ top_p: 0 })).toMatchObject({ param: 'top_p' });
    expect(await bad({ seed: -1 })).toMatchObject({ param: 'seed' });
    expect(await bad({ max_tokens: 0 })).toMatchObject({ param: 'max_tokens' });
    expect(await bad({ max_tokens: 2.5 })).toMatchObject({ param: 'max_tokens' });
    expect(await bad({ stop: [''] })).toMatchObject({ param: 'stop' });
    expect(await bad({ messages: [] })).toMatchObject({ param: 'messages' });
    expect(await bad({ messages: [null] })).toMatchObject({ param: 'messages[0]' });
    expect(await bad({ messages: [{ role: 'tool', content: 'x' }] })).toMatchObject({ param: 'messages[0].role' });
    expect(await bad({ messages: [{ role: 'user', content: 5 }] })).toMatchObject({ param: 'messages[0].content' });
    expect(await bad({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }))
      .toMatchObject({ param: 'messages[0].content[0]' });
    // n: 1, zero penalties and a text response format are fine.
    const ok = await llm.chat.completions.create({ messages: hello, n: 1, frequency_penalty: 0, presence_penalty: 0, response_format: { type: 'text' }, max_tokens: 2, temperature: 0 });
    expect(ok.choices).toHaveLength(1);
  });

  it('llm.chat is still the chat function, bound to its model', async () => {
    const { chat } = llm;
    const r = await chat(plain(hello), { temperature: 0, maxTokens: 8 }).result;
    const want = reference(plain(hello), 8);
    expect(r.ids).toEqual(want.ids);
    expect(r.promptIds).toEqual(want.promptIds);
    expect(llm.chat).toBe(llm.chat); // one function per model
  });
});
