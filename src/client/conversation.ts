// A multi-turn conversation on a loaded model. It keeps the messages (to show and to send) and
// the token ids of its last turn (that turn's prompt and answer), which the next turn continues
// from with keepCache: the worker reuses the KV cache of those ids and prefills only the new ones.
//
//   const conv = llm.conversation({ system: 'Be brief.' });
//   for await (const c of conv.send('Hi')) show(c.text);
//   const r = await conv.send('And then?').result;   // r.prefilledTokens: the new turn's tokens
//
// When a turn would leave no room for its answer, the worker drops the oldest turns from the
// prompt (r.droppedMessages); the conversation leaves them out of later prompts too, so those
// reuse the cache again. They stay in `messages`.
import { HostError } from './errors.ts';
import type { Generation } from './generation.ts';
import type { ChatMessage, ChatTemplateOptions } from './protocol.ts';
import type { ChatOptions, GenerateOptions } from './webmoe.ts';

/** `enableThinking` and `templateKwargs` apply to every turn (a turn's own options win). */
export interface ConversationOptions extends ChatTemplateOptions {
  /** The system prompt, the first message of every prompt (changing it starts the token history
   *  over: the next turn is rendered whole). */
  system?: string;
}

/** What a conversation needs of a model (WebMoE; tests give a fake). */
export interface ChatRunner {
  chat(messages: ChatMessage[], opts?: ChatOptions): Generation;
}

export class Conversation {
  /** User and assistant messages, in order (the system prompt apart). */
  readonly messages: ChatMessage[] = [];
  system: string;
  /** Messages before this index were dropped from the prompts to fit the context. */
  private first = 0;
  /** The last turn's prompt and generated ids, and the system prompt they were made with. */
  private history?: { ids: number[]; system: string };
  private pending?: Generation;
  /** Bumped by clear(): a turn that ends afterwards records nothing. */
  private epoch = 0;

  private readonly template: ChatTemplateOptions;

  constructor(private readonly llm: ChatRunner, opts: ConversationOptions = {}) {
    const { system, ...template } = opts;
    this.system = system ?? '';
    this.template = template;
  }

  /** Messages at the front of `messages` that prompts no longer hold (dropped to fit the context). */
  get dropped(): number {
    return this.first;
  }

  /** Adds a user message and generates the answer, which is added when the generation ends
   *  (stopped too: the text so far). One turn at a time: await the last one's result first. */
  send(text: string, opts: GenerateOptions & ChatTemplateOptions = {}): Generation {
    if (this.pending) throw new HostError('busy', "this conversation's last turn is still running: await its result (or abort it) before sending the next");
    const system = this.system;
    this.messages.push({ role: 'user', content: text });
    const sent: ChatMessage[] = [...(system ? [{ role: 'system', content: system }] : []), ...this.messages.slice(this.first)];
    const history = this.history?.system === system ? { ids: this.history.ids, messages: sent.length - 1 } : undefined;
    const gen = this.llm.chat(sent, { ...this.template, ...opts, keepCache: true, history });
    this.pending = gen;
    const epoch = this.epoch;
    // Registered before the caller's own handlers, so the turn is recorded when they run.
    gen.result.then((r) => {
      if (epoch !== this.epoch) return;
      this.pending = undefined;
      this.first += r.droppedMessages;
      // Trimmed: prompts rendered whole (after a drop) put the template's own separators around it.
      this.messages.push({ role: 'assistant', content: r.text.trim() });
      this.history = { ids: [...r.promptIds, ...r.ids], system };
    }, () => {
      if (epoch !== this.epoch) return;
      this.pending = undefined;
      this.history = undefined; // the user message stays, unanswered; the next prompt is rendered whole
    });
    return gen;
  }

  /** Forgets every message (and stops a running turn). */
  clear(): void {
    this.pending?.abort();
    this.pending = undefined;
    this.epoch++;
    this.messages.length = 0;
    this.first = 0;
    this.history = undefined;
  }
}
