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
// Context policy: a prompt that leaves fewer than `room` positions for the answer drops the
// conversation's oldest turns (its leading system messages and its last user message stay) until
// it fills at most half of the context, so the turns after it have room again; the conversation is
// then rendered (a new start: nothing of the cache is reused) and `dropped` says how many messages
// were left out. A prompt still longer than the context is refused by the generate loop.
import { applyChatTemplate, type ChatMessage } from '../tokenizer/chat.ts';
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
}

/** Stands for the history's last message while the template renders the rest around it: private
 *  use characters, which no template changes (they trim whitespace at most). */
const MARK = '\u{F8FF}webmoe-history\u{F8FF}';

export function chatPromptIds(
  tok: Tokenizer, messages: ChatMessage[], o: { history?: ChatHistory; nCtx: number; room: number },
): ChatPrompt {
  const fits = (ids: number[]) => ids.length + o.room <= o.nCtx;
  // A continued prompt that does not fit drops turns even if the rendered one would fit (it can
  // be shorter: "Assistant: " + the answer trimmed), which would only put the drop off a turn.
  let overflow = false;
  if (o.history) {
    const ids = continued(tok, messages, o.history);
    if (ids && fits(ids)) return { ids, dropped: 0, continued: true };
    overflow = ids !== undefined;
  }
  let kept = messages;
  let ids = rendered(tok, kept);
  let dropped = 0;
  if (!overflow && fits(ids)) return { ids, dropped, continued: false };
  for (let next = dropOldestTurn(kept); next; next = dropOldestTurn(kept)) {
    dropped += kept.length - next.length;
    kept = next;
    ids = rendered(tok, kept);
    if (ids.length <= o.nCtx / 2) break;
  }
  return { ids, dropped, continued: false };
}

/** The whole conversation as llama.cpp tokenizes a prompt: BOS when the model asks, specials parsed. */
function rendered(tok: Tokenizer, messages: ChatMessage[]): number[] {
  return [...tok.encode(applyChatTemplate(messages, tok.chatTemplate), { addSpecial: true, parseSpecial: true })];
}

/** The history's ids and the template's text after its last message, or undefined when that text
 *  cannot be tokenized alone (then the conversation is rendered whole). */
function continued(tok: Tokenizer, messages: ChatMessage[], h: ChatHistory): number[] | undefined {
  const k = h.messages;
  if (!Number.isInteger(k) || k < 1 || k > messages.length || h.ids.length === 0) return undefined;
  const text = applyChatTemplate(messages.map((m, i) => (i === k - 1 ? { ...m, content: MARK } : m)), tok.chatTemplate);
  const at = text.indexOf(MARK);
  if (at < 0 || text.includes(MARK, at + 1)) return undefined; // the mark was in a message already
  const after = text.slice(at + MARK.length);
  const delta = [...tok.encode(after, { parseSpecial: true })];
  // Tokenized alone, the text must come back as it is: a SentencePiece vocabulary puts a space in
  // front of a text that starts a tokenization, which the whole conversation would not have.
  if (tok.decode(delta, { special: true }) !== after) return undefined;
  return [...h.ids, ...delta];
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
