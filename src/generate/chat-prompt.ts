// The prompt ids of a chat turn, in one of two ways:
//
// - continued: `history` gives the ids of the conversation's first messages as the model saw and
//   generated them (an earlier turn's promptIds followed by its generated ids). The prompt is those
//   ids plus the template's text after them (the end of that answer, the new messages, the
//   generation prompt), tokenized alone. The model sees its own tokens rather than a
//   re-tokenization of their text, which can differ: the plain template writes "Assistant: " +
//   content, while the model generated after "Assistant:" (the default model's answers begin with
//   "\n", so the rendered text never matches them). This is llama.cpp's conversation mode
//   (common_chat_format_single: only the new part is tokenized), and it is what lets the KV cache
//   of the earlier turns serve the whole prefix.
// - rendered: the whole conversation in the template, tokenized as one text (llama-server's way),
//   when there is no usable history.
//
// The template is the model's own (tokenizer.chat_template rendered by a Jinja engine), or the
// built-in family when it cannot be rendered (src/tokenizer/chat-template.ts); `template` says
// which. A Jinja template re-renders the whole history, and what it makes of earlier turns need
// not be what the model generated: Qwen3's leaves out the thinking of earlier answers, gpt-oss's
// closes an answer with <|end|> where the model ended it with <|return|>. A continued prompt does
// not rely on the re-rendered history: it keeps the ids as they are and takes from the template
// only the text after the last history message, so the KV cache of the earlier turns holds
// whatever template renders them (the model sees its earlier thinking, as in llama.cpp's
// conversation mode). Only a rendered prompt (no history, or after a drop) follows the template
// over the whole history; the worker then reuses the positions it shares with the cache (none
// past the first changed token) and prefills the rest.
//
// Context policy: a prompt that leaves fewer than `room` positions for the answer drops the
// conversation's oldest turns (its leading system messages and its last user message stay) until
// it fills at most half of the context, so the turns after it have room again; the conversation is
// then rendered (a new start: nothing of the cache is reused) and `dropped` says how many messages
// were left out. A prompt still longer than the context is refused by the generate loop.
import type { ChatMessage } from '../tokenizer/chat.ts';
import { chatVocab, renderChat, type ChatTemplateOptions, type RenderedChat } from '../tokenizer/chat-template.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';

/** Token ids that stand for a conversation's first `messages` messages: an earlier turn's
 *  promptIds followed by its generated ids. */
export interface ChatHistory {
  ids: number[];
  messages: number;
}

export interface ChatPrompt {
  ids: number[];
  /** Messages left out of the front of the conversation (after its system messages). */
  dropped: number;
  /** Built from the history's ids (else rendered whole). */
  continued: boolean;
  /** 'jinja': the model's template; else the built-in family used (and `fallback`, why). */
  template: RenderedChat['via'];
  fallback?: string;
}

/** Stands for the history's last message while the template renders the rest around it: private
 *  use characters, which no template changes (they trim whitespace at most). */
const MARK = '\u{F8FF}webmoe-history\u{F8FF}';

export function chatPromptIds(
  tok: Tokenizer, messages: ChatMessage[], o: { history?: ChatHistory; nCtx: number; room: number; template?: ChatTemplateOptions },
): ChatPrompt {
  const vocab = chatVocab(tok);
  const render = (m: ChatMessage[]) => renderChat(m, tok.chatTemplate, vocab, o.template);
  const used = (r: RenderedChat) => ({ template: r.via, ...(r.fallback !== undefined && { fallback: r.fallback }) });
  const fits = (ids: number[]) => ids.length + o.room <= o.nCtx;
  // A continued prompt that does not fit drops turns even if the rendered one would fit (it can
  // be shorter: "Assistant: " + the answer trimmed), which would only put the drop off a turn.
  let overflow = false;
  if (o.history) {
    const c = continued(tok, messages, o.history, render);
    if (c && fits(c.ids)) return { ids: c.ids, dropped: 0, continued: true, ...used(c.rendered) };
    overflow = c !== undefined;
  }
  let kept = messages;
  let r = render(kept);
  let ids = encodeWhole(tok, r.text);
  let dropped = 0;
  if (!overflow && fits(ids)) return { ids, dropped, continued: false, ...used(r) };
  for (let next = dropOldestTurn(kept); next; next = dropOldestTurn(kept)) {
    dropped += kept.length - next.length;
    kept = next;
    r = render(kept);
    ids = encodeWhole(tok, r.text);
    if (ids.length <= o.nCtx / 2) break;
  }
  return { ids, dropped, continued: false, ...used(r) };
}

/** A whole conversation's text as llama.cpp tokenizes a prompt: BOS when the model asks, specials parsed. */
function encodeWhole(tok: Tokenizer, text: string): number[] {
  return [...tok.encode(text, { addSpecial: true, parseSpecial: true })];
}

/** The history's ids and the template's text after its last message, or undefined when that text
 *  cannot be tokenized alone (then the conversation is rendered whole). */
function continued(
  tok: Tokenizer, messages: ChatMessage[], h: ChatHistory, render: (m: ChatMessage[]) => RenderedChat,
): { ids: number[]; rendered: RenderedChat } | undefined {
  const k = h.messages;
  if (!Number.isInteger(k) || k < 1 || k > messages.length || h.ids.length === 0) return undefined;
  const rendered = render(messages.map((m, i) => (i === k - 1 ? { ...m, content: MARK } : m)));
  const text = rendered.text;
  const at = text.indexOf(MARK);
  if (at < 0 || text.includes(MARK, at + 1)) return undefined; // the mark was in a message already, or the template dropped it
  const after = text.slice(at + MARK.length);
  const delta = [...tok.encode(after, { parseSpecial: true })];
  // Tokenized alone, the text must come back as it is: a SentencePiece vocabulary puts a space in
  // front of a text that starts a tokenization, which the whole conversation would not have.
  if (tok.decode(delta, { special: true }) !== after) return undefined;
  return { ids: [...h.ids, ...delta], rendered };
}

/** The conversation without its oldest turn (the first message after the leading system messages
 *  and the rest up to the next user message); undefined when only the last user turn is left. */
export function dropOldestTurn(messages: ChatMessage[]): ChatMessage[] | undefined {
  let first = 0;
  while (first < messages.length && messages[first].role === 'system') first++;
  let lastUser = -1;
  messages.forEach((m, i) => { if (m.role === 'user') lastUser = i; });
  if (first >= lastUser) return undefined;
  let end = first + 1;
  while (messages[end].role !== 'user') end++;
  return [...messages.slice(0, first), ...messages.slice(end)];
}
