// Chat templates as the model states them. tokenizer.chat_template is a Jinja template, written
// for transformers (which renders it with Python's jinja2); @huggingface/jinja interprets it here
// (a lexer, a parser and a tree walker: no eval or new Function, so it runs in the worker under a
// CSP without 'unsafe-eval'), so Qwen3's thinking switch, gpt-oss's harmony channels and the rest
// render as their authors wrote them. The inputs are those llama.cpp's common_chat_templates_apply
// gives: messages, add_generation_prompt, bos_token and eos_token as the vocabulary spells them,
// no tools; enable_thinking and other template variables only when asked (else the template's
// own default applies, as its model card describes: Qwen3 thinks unless told not to). As llama.cpp
// does, a BOS text the template writes first is left out when the tokenizer adds BOS itself, and
// a template that refuses or drops the system role gets the system message at the start of the
// first user message (llama.cpp's workaround: Mistral v0.2, Phi-3, Gemma 2 ...).
//
// A template that is absent, does not parse or throws while rendering (some call Python string
// methods or raise_exception on a system message) falls back to the built-in families of chat.ts
// (llama.cpp's detection and formatter), and the result says which was used and why.
import { Template } from '@huggingface/jinja';
import { chatFamily, formatChat, type ChatFamily, type ChatMessage } from './chat.ts';
import type { Tokenizer } from './tokenizer.ts';

/** What a chat asks of the template beyond the messages. */
export interface ChatTemplateOptions {
  /** The template's `enable_thinking` (Qwen3 and others); absent: the template's default. */
  enableThinking?: boolean;
  /** More template variables, e.g. `{ reasoning_effort: 'low' }` for gpt-oss. */
  templateKwargs?: Record<string, unknown>;
}

/** The vocabulary's side of a template's inputs. */
export interface ChatVocab {
  /** bos_token / eos_token: the tokens' texts ('' when the model has none). */
  bosToken: string;
  eosToken: string;
  /** The tokenizer adds BOS / EOS itself (tokenizer.ggml.add_bos_token / add_eos_token). */
  addBos: boolean;
  addEos: boolean;
}

export interface RenderedChat {
  text: string;
  /** 'jinja': the model's own template was rendered; else the built-in family that formatted it. */
  via: 'jinja' | ChatFamily;
  /** Why the model's template was not rendered (its parse or render error); absent when it was
   *  rendered or the model has none. */
  fallback?: string;
}

/** A template's bos_token and eos_token as llama.cpp gives them (the tokens' text, specials written out). */
export function chatVocab(tok: Tokenizer): ChatVocab {
  const text = (id: number | undefined) => (id === undefined ? '' : tok.decode([id], { special: true }));
  return { bosToken: text(tok.bos), eosToken: text(tok.eos), addBos: tok.addBos, addEos: tok.addEos };
}

// Parsing Qwen3's template takes a few milliseconds; a chat renders it two or three times a turn.
let parsed: { source: string; template: Template | Error; systemRole: boolean } | undefined;

function parse(source: string): { template: Template; systemRole: boolean } {
  if (parsed?.source !== source) {
    let template: Template | Error;
    try {
      template = new Template(source);
    } catch (e) {
      template = e instanceof Error ? e : new Error(String(e));
    }
    parsed = { source, template, systemRole: !(template instanceof Error) && supportsSystemRole(template) };
  }
  if (parsed.template instanceof Error) throw parsed.template;
  return { template: parsed.template, systemRole: parsed.systemRole };
}

/** Whether the template writes a system message's content (some refuse the role with
 *  raise_exception, some drop it): llama.cpp's capability check, on the output. */
function supportsSystemRole(t: Template): boolean {
  const needle = '\u{F8FF}webmoe-system\u{F8FF}';
  try {
    const text = t.render({
      messages: [{ role: 'system', content: needle }, { role: 'user', content: 'User message' }],
      add_generation_prompt: true, bos_token: '', eos_token: '',
    });
    return text.includes(needle);
  } catch {
    return false;
  }
}

/** llama.cpp's workaround for a template without a system role: the system message becomes the
 *  start of the next one ("system\nuser"), or is left out when it is alone. */
function withoutSystemRole(messages: ChatMessage[]): ChatMessage[] {
  if (messages[0]?.role !== 'system') return messages;
  if (messages.length === 1) return [];
  return [{ ...messages[1], content: `${messages[0].content}\n${messages[1].content}` }, ...messages.slice(2)];
}

type RenderOptions = ChatTemplateOptions & { addGenerationPrompt?: boolean };

/** The variables a template is rendered with (throws the template's parse error). */
export function templateContext(messages: ChatMessage[], template: string, vocab: ChatVocab, o: RenderOptions = {}): Record<string, unknown> {
  return {
    ...o.templateKwargs,
    messages: (parse(template).systemRole ? messages : withoutSystemRole(messages)).map((m) => ({ ...m })),
    add_generation_prompt: o.addGenerationPrompt ?? true,
    bos_token: vocab.bosToken,
    eos_token: vocab.eosToken,
    ...(o.enableThinking !== undefined && { enable_thinking: o.enableThinking }),
  };
}

/** The template's text for the conversation: tokenize it with { addSpecial: true, parseSpecial: true }. */
export function renderChat(messages: ChatMessage[], template: string | undefined, vocab: ChatVocab, o: RenderOptions = {}): RenderedChat {
  const addGenerationPrompt = o.addGenerationPrompt ?? true;
  if (!template) return { text: formatChat(messages, 'plain', addGenerationPrompt), via: 'plain' };
  try {
    let text = parse(template).template.render(templateContext(messages, template, vocab, o));
    if (vocab.addBos && vocab.bosToken && text.startsWith(vocab.bosToken)) text = text.slice(vocab.bosToken.length);
    if (vocab.addEos && vocab.eosToken && text.endsWith(vocab.eosToken)) text = text.slice(0, -vocab.eosToken.length);
    return { text, via: 'jinja' };
  } catch (e) {
    const family = chatFamily(template);
    const why = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return { text: formatChat(messages, family, addGenerationPrompt), via: family, fallback: why };
  }
}
