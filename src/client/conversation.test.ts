// Conversation's bookkeeping with a fake model: what each turn sends (messages, history ids,
// keepCache), what it records when the turn ends, dropped turns, clear() and one turn at a time.
import { describe, expect, it } from 'vitest';
import { Conversation, type ChatRunner } from './conversation.ts';
import { Generation } from './generation.ts';
import type { ChatMessage, GenerationResult } from './protocol.ts';
import type { ChatOptions } from './webmoe.ts';

/** A model whose chats end, in order, when the test finishes or fails them. */
function fakeModel() {
  const calls: { messages: ChatMessage[]; opts: ChatOptions }[] = [];
  const pending: { resolve: (r: GenerationResult) => void; reject: (e: Error) => void }[] = [];
  const runner: ChatRunner = {
    chat(messages, opts = {}) {
      calls.push({ messages: structuredClone(messages), opts });
      return new Generation(() => new Promise<GenerationResult>((resolve, reject) => pending.push({ resolve, reject })), () => {});
    },
  };
  const finish = (r: Partial<GenerationResult>) => pending.shift()!.resolve({
    promptIds: [], ids: [], text: '', stop: 'eog', prefilledTokens: 0, reusedTokens: 0, droppedMessages: 0,
    prefillMs: 0, decodeMs: 0, prefillTokS: 0, decodeTokS: null, ...r,
  });
  return { runner, calls, finish, fail: (e: Error) => pending.shift()!.reject(e) };
}

describe('Conversation', () => {
  it("passes the chat template's options of the conversation to every turn, a turn's own winning", async () => {
    const m = fakeModel();
    const conv = new Conversation(m.runner, { enableThinking: false, templateKwargs: { reasoning_effort: 'low' } });
    const g = conv.send('Hi');
    expect(m.calls[0].opts).toMatchObject({ enableThinking: false, templateKwargs: { reasoning_effort: 'low' }, keepCache: true });
    m.finish({ promptIds: [1], ids: [2], text: 'Hello' });
    await g.result;
    conv.send('Think now', { enableThinking: true });
    expect(m.calls[1].opts).toMatchObject({ enableThinking: true, templateKwargs: { reasoning_effort: 'low' } });
  });

  it('sends the whole conversation with the last turn\'s ids as history, and keepCache', async () => {
    const m = fakeModel();
    const conv = new Conversation(m.runner, { system: 'Be brief.' });
    const g1 = conv.send('Hi', { temperature: 0 });
    expect(m.calls[0].messages).toEqual([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }]);
    expect(m.calls[0].opts).toMatchObject({ temperature: 0, keepCache: true, history: undefined });
    expect(() => conv.send('too soon')).toThrow(/still running/);
    m.finish({ promptIds: [1, 2, 3], ids: [4, 5], text: '\n\nHello there ' });
    const r1 = await g1.result;
    expect(r1.text).toBe('\n\nHello there ');
    expect(conv.messages).toEqual([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello there' }]);

    const g2 = conv.send('And then?');
    expect(m.calls[1].messages.map((x) => x.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(m.calls[1].opts.history).toEqual({ ids: [1, 2, 3, 4, 5], messages: 3 });
    m.finish({ promptIds: [1, 2, 3, 4, 5, 6, 7], ids: [8], text: 'Bye' });
    await g2.result;

    // a new system prompt: no history, the conversation is rendered whole
    conv.system = 'Be verbose.';
    conv.send('More');
    expect(m.calls[2].opts.history).toBeUndefined();
    expect(m.calls[2].messages[0]).toEqual({ role: 'system', content: 'Be verbose.' });
  });

  it('turns the worker dropped stay out of later prompts; the history follows the kept ones', async () => {
    const m = fakeModel();
    const conv = new Conversation(m.runner);
    for (const [i, q] of ['a', 'b'].entries()) {
      const g = conv.send(q);
      m.finish({ promptIds: [i], ids: [i], text: q.toUpperCase() });
      await g.result;
    }
    const g = conv.send('c');
    expect(m.calls[2].messages.map((x) => x.content)).toEqual(['a', 'A', 'b', 'B', 'c']);
    m.finish({ promptIds: [9, 9], ids: [7], text: 'C', droppedMessages: 2 }); // 'a' and 'A' dropped
    await g.result;
    expect(conv.dropped).toBe(2);
    expect(conv.messages.length).toBe(6); // all still shown
    conv.send('d');
    expect(m.calls[3].messages.map((x) => x.content)).toEqual(['b', 'B', 'c', 'C', 'd']);
    expect(m.calls[3].opts.history).toEqual({ ids: [9, 9, 7], messages: 4 });
  });

  it('a failed turn keeps the question, unanswered, and drops the history; clear() forgets all', async () => {
    const m = fakeModel();
    const conv = new Conversation(m.runner);
    const g1 = conv.send('a');
    m.finish({ promptIds: [1], ids: [2], text: 'A' });
    await g1.result;
    const g2 = conv.send('b');
    m.fail(new Error('device lost'));
    await expect(g2.result).rejects.toThrow('device lost');
    expect(conv.messages.map((x) => x.content)).toEqual(['a', 'A', 'b']);
    conv.send('c');
    expect(m.calls[2].opts.history).toBeUndefined();

    conv.clear(); // while 'c' runs: its answer is not recorded
    expect(conv.messages).toEqual([]);
    m.finish({ promptIds: [5], ids: [6], text: 'late' });
    await Promise.resolve();
    conv.send('fresh');
    expect(m.calls[3].messages).toEqual([{ role: 'user', content: 'fresh' }]);
    expect(m.calls[3].opts.history).toBeUndefined();
  });
});
