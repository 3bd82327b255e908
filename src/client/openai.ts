// OpenAI's chat completions on a loaded model, for code written for WebLLM or the OpenAI SDK:
//
//   const llm = await WebMoE.load(url);
//   const r = await llm.chat.completions.create({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 64 });
//   r.choices[0].message.content; r.choices[0].finish_reason; r.usage.total_tokens;
//
//   const stream = await llm.chat.completions.create({ messages, stream: true, stream_options: { include_usage: true } });
//   for await (const chunk of stream) show(chunk.choices[0]?.delta.content ?? '');
//
// `llm.chat` stays what it was, a function that returns a Generation; it also carries
// `completions` (chatMethod below), so the OpenAI path reads as it does with WebLLM's engine. Each
// call runs llm.chat() with the whole conversation, as the API is stateless; the KV cache of the
// previous call is reused for the prompt's leading tokens it shares (the same tokens come out:
// see keepCache), so resending a growing conversation prefills mostly its new part.
import { abortError } from './errors.ts';
import type { Generation } from './generation.ts';
import type { ChatMessage, GenerationResult, ModelInfo, StopReason } from './protocol.ts';
import type { ChatOptions } from './webmoe.ts';

export interface ChatCompletionContentPartText {
  type: 'text';
  text: string;
}

export interface ChatCompletionMessageParam {
  /** 'developer' is OpenAI's newer name for 'system'. Tool messages are refused (no tools here). */
  role: 'system' | 'developer' | 'user' | 'assistant';
  /** Text, or text parts (joined). Null for an assistant message without text. */
  content: string | ChatCompletionContentPartText[] | null;
  name?: string;
}

interface CreateParamsBase {
  messages: ChatCompletionMessageParam[];
  /** Accepted and ignored: the loaded model answers (the response names it). */
  model?: string | null;
  /** Tokens to generate at most. Default: until the end of the context (OpenAI's meaning). */
  max_tokens?: number | null;
  /** OpenAI's newer name for max_tokens. */
  max_completion_tokens?: number | null;
  /** 0 = greedy. Unset options take WebMoE's defaults (llama.cpp's: temperature 0.8, top_p 0.95,
   *  top_k 40, min_p 0.05), as llama.cpp's server does. */
  temperature?: number | null;
  top_p?: number | null;
  /** Stop before these strings; they are left out of the content. */
  stop?: string | string[] | null;
  /** Seed of the sampler: the same seed and options give the same completion. */
  seed?: number | null;
  /** Only 1. */
  n?: number | null;
  /** Only 0 (or unset): WebMoE's sampler has llama.cpp's repeat penalty instead (repetition_penalty). */
  frequency_penalty?: number | null;
  presence_penalty?: number | null;
  /** Not supported: set, they are refused with an InvalidRequestError. */
  logprobs?: boolean | null;
  tools?: readonly unknown[] | null;
  response_format?: { type: string } | null;
  /** Extensions, as llama.cpp's server and WebLLM name them. */
  top_k?: number | null;
  min_p?: number | null;
  repetition_penalty?: number | null;
}

export interface ChatCompletionCreateParamsNonStreaming extends CreateParamsBase {
  stream?: false | null;
}

export interface ChatCompletionCreateParamsStreaming extends CreateParamsBase {
  stream: true;
  /** include_usage: one more chunk at the end, with `usage` and no choices (the others carry usage: null). */
  stream_options?: { include_usage?: boolean } | null;
}

export type ChatCompletionCreateParams = ChatCompletionCreateParamsNonStreaming | ChatCompletionCreateParamsStreaming;

/** The OpenAI SDK's second argument. */
export interface RequestOptions {
  /** Aborting stops the generation within one token; create() (or the stream) rejects with an AbortError. */
  signal?: AbortSignal;
}

/** 'stop': an end-of-generation token or a stop string; 'length': max_tokens or the end of the context. */
export type FinishReason = 'stop' | 'length';

export interface CompletionUsage {
  /** Tokens of the prompt as the chat template rendered it. */
  prompt_tokens: number;
  /** Tokens of the content (the end-of-generation token that ended it not counted). */
  completion_tokens: number;
  total_tokens: number;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  /** Seconds since the epoch. */
  created: number;
  /** The loaded model's URL. */
  model: string;
  choices: {
    index: number;
    message: { role: 'assistant'; content: string; refusal: null };
    finish_reason: FinishReason;
    logprobs: null;
  }[];
  usage: CompletionUsage;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  /** One choice; none in the usage chunk. */
  choices: {
    index: number;
    /** The first chunk: { role: 'assistant', content: '' }; then text; the last: {}. */
    delta: { role?: 'assistant'; content?: string };
    finish_reason: FinishReason | null;
    logprobs: null;
  }[];
  /** With stream_options.include_usage: null, and the totals in the last chunk. */
  usage?: CompletionUsage | null;
}

/** A request the facade cannot run as asked; `param` names the field (as OpenAI's 400 errors do). */
export class InvalidRequestError extends Error {
  override name = 'InvalidRequestError';
  readonly code = 'invalid-request';
  constructor(readonly param: string, message: string) {
    super(`${param}: ${message}`);
  }
}

/** The chunks of a streamed completion, as they are generated. Leaving the loop early stops the
 *  generation; abort() (or the request's signal) stops it and the loop throws an AbortError. */
export class ChatCompletionStream implements AsyncIterable<ChatCompletionChunk> {
  constructor(
    private readonly gen: Generation,
    private readonly head: Pick<ChatCompletionChunk, 'id' | 'created' | 'model'>,
    private readonly includeUsage: boolean,
  ) {}

  abort(): void {
    this.gen.abort();
  }

  private chunk(delta: ChatCompletionChunk['choices'][0]['delta'], finish: FinishReason | null): ChatCompletionChunk {
    return {
      ...this.head, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
      ...(this.includeUsage && { usage: null }),
    };
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChatCompletionChunk> {
    try {
      yield this.chunk({ role: 'assistant', content: '' }, null);
      for await (const c of this.gen) if (c.text) yield this.chunk({ content: c.text }, null);
      const r = await this.gen.result;
      if (r.stop === 'aborted') throw abortError('the chat completion');
      yield this.chunk({}, finishReason(r.stop));
      if (this.includeUsage) yield { ...this.head, object: 'chat.completion.chunk', choices: [], usage: usage(r) };
    } finally {
      this.gen.abort(); // the loop was left early (even before the first token): stop the worker
    }
  }
}

export interface ChatCompletions {
  create(body: ChatCompletionCreateParamsNonStreaming, options?: RequestOptions): Promise<ChatCompletion>;
  create(body: ChatCompletionCreateParamsStreaming, options?: RequestOptions): Promise<ChatCompletionStream>;
  create(body: ChatCompletionCreateParams, options?: RequestOptions): Promise<ChatCompletion | ChatCompletionStream>;
}

/** How a chat runs: WebMoE's chat() (tests pass a fake). */
export type ChatRun = (messages: ChatMessage[], opts: ChatOptions) => Generation;

/** `llm.chat`: call it for a Generation, or use `.completions.create()` for OpenAI's shapes. */
export type ChatMethod = ((messages: ChatMessage[], opts?: ChatOptions) => Generation) & { readonly completions: ChatCompletions };

/** The chat function with OpenAI's completions on it. `model` gives the loaded model's info. */
export function chatMethod(run: ChatRun, model: () => Pick<ModelInfo, 'url' | 'nCtx'>): ChatMethod {
  return Object.assign((messages: ChatMessage[], opts: ChatOptions = {}) => run(messages, opts), { completions: chatCompletions(run, model) });
}

export function chatCompletions(run: ChatRun, model: () => Pick<ModelInfo, 'url' | 'nCtx'>): ChatCompletions {
  async function create(body: ChatCompletionCreateParamsNonStreaming, options?: RequestOptions): Promise<ChatCompletion>;
  async function create(body: ChatCompletionCreateParamsStreaming, options?: RequestOptions): Promise<ChatCompletionStream>;
  async function create(body: ChatCompletionCreateParams, options?: RequestOptions): Promise<ChatCompletion | ChatCompletionStream>;
  async function create(body: ChatCompletionCreateParams, options: RequestOptions = {}): Promise<ChatCompletion | ChatCompletionStream> {
    options.signal?.throwIfAborted();
    const info = model();
    const messages = toMessages(body.messages);
    const opts = toOptions(body, info.nCtx);
    const head = { id: completionId(), created: Math.floor(Date.now() / 1000), model: info.url };
    const gen = run(messages, { ...opts, keepCache: true, signal: options.signal });
    if (body.stream) return new ChatCompletionStream(gen, head, body.stream_options?.include_usage === true);
    const r = await gen.result;
    if (r.stop === 'aborted') throw abortError('the chat completion');
    return {
      ...head, object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: r.text, refusal: null }, finish_reason: finishReason(r.stop), logprobs: null }],
      usage: usage(r),
    };
  }
  return { create };
}

export function finishReason(stop: Exclude<StopReason, 'aborted'>): FinishReason {
  switch (stop) {
    case 'eog':
    case 'stop-string':
      return 'stop';
    case 'max-tokens':
    case 'context-full':
      return 'length';
  }
}

function usage(r: GenerationResult): CompletionUsage {
  return { prompt_tokens: r.promptIds.length, completion_tokens: r.ids.length, total_tokens: r.promptIds.length + r.ids.length };
}

function completionId(): string {
  const b = crypto.getRandomValues(new Uint8Array(12));
  return `chatcmpl-${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')}`;
}

const ROLES = new Set(['system', 'developer', 'user', 'assistant']);

function toMessages(list: readonly ChatCompletionMessageParam[]): ChatMessage[] {
  if (!Array.isArray(list) || list.length === 0) throw new InvalidRequestError('messages', 'give at least one message');
  return list.map((m: ChatCompletionMessageParam | null, i) => {
    if (typeof m !== 'object' || m === null) throw new InvalidRequestError(`messages[${i}]`, 'must be an object { role, content }');
    if (!ROLES.has(m.role)) {
      throw new InvalidRequestError(`messages[${i}].role`, `"${String(m.role)}" is not supported (WebMoE runs no tools): use system, developer, user or assistant`);
    }
    const parts: unknown = m.content ?? '';
    if (typeof parts !== 'string' && !Array.isArray(parts)) throw new InvalidRequestError(`messages[${i}].content`, 'must be a string or an array of text parts');
    const content = typeof parts === 'string' ? parts : parts.map((part: Partial<ChatCompletionContentPartText> | null, j: number) => {
      if (part?.type !== 'text' || typeof part.text !== 'string') {
        throw new InvalidRequestError(`messages[${i}].content[${j}]`, `${JSON.stringify(part?.type)} parts are not supported: give { type: 'text', text }`);
      }
      return part.text;
    }).join('');
    return { role: m.role === 'developer' ? 'system' : m.role, content };
  });
}

/** Generation options from the request, every field checked. */
function toOptions(b: ChatCompletionCreateParams, nCtx: number): Omit<ChatOptions, 'signal'> {
  const num = (param: string, v: number | null | undefined, ok: (x: number) => boolean, what: string): number | undefined => {
    if (v === null || v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new InvalidRequestError(param, `${String(v)} is not ${what}`);
    return v;
  };
  num('n', b.n, (x) => x === 1, '1 (WebMoE makes one choice; call create() again for another)');
  for (const p of ['frequency_penalty', 'presence_penalty'] as const) {
    num(p, b[p], (x) => x === 0, '0: not supported (use repetition_penalty, llama.cpp\'s repeat penalty, 1 = off)');
  }
  if (b.logprobs) throw new InvalidRequestError('logprobs', 'not supported');
  if (b.tools?.length) throw new InvalidRequestError('tools', 'not supported: WebMoE runs no tools');
  if (b.response_format && b.response_format.type !== 'text') throw new InvalidRequestError('response_format', `"${b.response_format.type}" is not supported: text only`);
  const stop = b.stop === null || b.stop === undefined ? undefined : typeof b.stop === 'string' ? [b.stop] : b.stop;
  if (stop && !(Array.isArray(stop) && stop.every((s) => typeof s === 'string' && s.length > 0))) {
    throw new InvalidRequestError('stop', 'must be a non-empty string or an array of them');
  }
  const positiveInt = (x: number) => Number.isInteger(x) && x > 0;
  const maxTokens = num('max_completion_tokens', b.max_completion_tokens, positiveInt, 'a positive integer') ??
    num('max_tokens', b.max_tokens, positiveInt, 'a positive integer') ?? nCtx;
  return {
    maxTokens, stop,
    temperature: num('temperature', b.temperature, (x) => x >= 0 && x <= 2, 'between 0 and 2'),
    topP: num('top_p', b.top_p, (x) => x > 0 && x <= 1, 'in (0, 1]'),
    seed: num('seed', b.seed, (x) => Number.isSafeInteger(x) && x >= 0, 'a non-negative integer'),
    topK: num('top_k', b.top_k, (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer (0 = off)'),
    minP: num('min_p', b.min_p, (x) => x >= 0 && x <= 1, 'in [0, 1]'),
    repeatPenalty: num('repetition_penalty', b.repetition_penalty, (x) => x > 0, 'positive (1 = off)'),
  };
}
