// The generate loop shared by the CLI (src/cli/generate.ts) and the engine worker (workers/):
// prompt ids → forward passes on any backend → greedy argmax or the WASM sampler → streamed text,
// ending at an end-of-generation token, a stop string, maxTokens, the end of the context, or an
// abort (checked before every forward pass, so it takes effect within one token).
import { Sampler, type SamplingOptions } from '../sampler/sampler.ts';
import { TextStream } from '../sampler/text-stream.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';

/** One forward pass of a model that keeps its own KV cache: ids go at the next positions. */
export interface StepBackend {
  /** The argmax of the last id's logits (greedy choice), and those logits when asked for. */
  forward(ids: number[], wantLogits: boolean): Promise<{ next: number; logits?: ArrayLike<number> }>;
}

export type StopReason = 'eog' | 'stop-string' | 'max-tokens' | 'context-full' | 'aborted';

/** Sampling as the sampler module takes it; temperature 0 is greedy. */
export type LoopSampling = SamplingOptions & { temperature: number };

export interface LoopOptions {
  /** The prompt's token ids (at least one); the backend's cache must be empty, or hold the first
   *  `cached` of them. */
  promptIds: readonly number[];
  /** The first `cached` prompt ids are in the backend's KV cache already (an earlier generation
   *  ran them): only the rest is run. At least one must be left, for the next token's logits.
   *  Default 0. */
  cached?: number;
  /** Tokens to generate at most. */
  maxTokens: number;
  nVocab: number;
  sampling: LoopSampling;
  /** Strings that end the generation; the text stops before them (needs `tokenizer`). */
  stop?: readonly string[];
  /** Keep going past end-of-generation tokens. */
  ignoreEos?: boolean;
  /** Positions the backend holds, prompt included; the loop stops ('context-full') at the end. */
  nCtx?: number;
  /** Aborting ends the generation before the next forward pass ('aborted'). */
  signal?: AbortSignal;
  /** Text out, llama.cpp's end-of-generation set and stop strings; without it only ids come out. */
  tokenizer?: Tokenizer;
  /** End-of-generation test when there is no tokenizer (e.g. the metadata's EOS/EOT ids). */
  isEog?: (id: number) => boolean;
  /** Each generated token with the text it releases ('' while a character or a possible stop string
   *  is incomplete); at the end, the held-back text with `id` undefined. */
  onToken?: (id: number | undefined, text: string) => void;
}

export interface LoopResult {
  /** Generated ids: the one completing a stop string included, an end-of-generation id not. */
  ids: number[];
  /** The text released by onToken, concatenated (a stop string is never in it). */
  text: string;
  stop: StopReason;
  /** The stop string that ended it, if one did. */
  stopString?: string;
  promptTokens: number;
  /** Prompt tokens run by this generation (promptTokens - cached). */
  prefilledTokens: number;
  /** Wall time of the prompt's forward pass (prefill) and of the one-token passes after it, ms. */
  prefillMs: number;
  decodeMs: number;
  /** One-token forward passes after the prompt. */
  decodeTokens: number;
}

/** The prompt does not fit in the context. */
export class PromptTooLongError extends Error {
  override name = 'PromptTooLongError';
  readonly code = 'prompt-too-long';
  constructor(readonly promptTokens: number, readonly nCtx: number) {
    super(`the prompt has ${promptTokens} tokens but the context holds ${nCtx}: shorten the prompt` +
      ' (or load the model with a larger context)');
  }
}

/** Sampling needs the logits (read back from the GPU); plain greedy only the backend's argmax. */
export function needsLogits(s: LoopSampling): boolean {
  return s.temperature > 0 || (s.repeatPenalty ?? 1) !== 1 || (s.presencePenalty ?? 0) !== 0 ||
    (s.frequencyPenalty ?? 0) !== 0 || (s.logitBias !== undefined);
}

export async function runGeneration(backend: StepBackend, o: LoopOptions): Promise<LoopResult> {
  const prompt = [...o.promptIds];
  if (prompt.length === 0) throw new RangeError('the prompt gives no tokens: it needs at least one');
  const nCtx = o.nCtx ?? Infinity;
  if (prompt.length > nCtx) throw new PromptTooLongError(prompt.length, nCtx);
  const cached = o.cached ?? 0;
  if (!Number.isInteger(cached) || cached < 0 || cached >= prompt.length) {
    throw new RangeError(`cached must be an integer in 0..${prompt.length - 1} (the prompt's last token must run), not ${cached}`);
  }
  const stops = o.stop?.filter((s) => s.length > 0) ?? [];
  if (stops.length && !o.tokenizer) throw new TypeError('stop strings need the tokenizer (text)');
  const choose = needsLogits(o.sampling);
  const sampler = choose || stops.length ? await Sampler.create(o.nVocab, o.sampling) : undefined;
  const text = o.tokenizer ? new TextStream(o.tokenizer, sampler, { stop: stops, ignoreEog: true }) : undefined;
  const isEog = (id: number) => (o.tokenizer ? o.tokenizer.isEog(id) : o.isEog?.(id) ?? false);
  const result: LoopResult = { ids: [], text: '', stop: 'max-tokens', promptTokens: prompt.length, prefilledTokens: prompt.length - cached, prefillMs: 0, decodeMs: 0, decodeTokens: 0 };
  const release = (id: number | undefined, s: string) => {
    result.text += s;
    o.onToken?.(id, s);
  };
  try {
    if (choose) for (const p of prompt) sampler!.accept(p); // the whole prompt, cached or not: the same penalties
    const step = async (ids: number[]) => {
      const r = await backend.forward(ids, choose);
      const next = choose ? sampler!.sample(r.logits!) : r.next;
      if (choose) sampler!.accept(next);
      return next;
    };
    if (o.signal?.aborted) {
      result.stop = 'aborted';
      return result;
    }
    const t1 = performance.now();
    let id = await step(prompt.slice(cached));
    result.prefillMs = performance.now() - t1;
    const t2 = performance.now();
    for (;;) {
      if (result.ids.length >= o.maxTokens) break;
      if (!o.ignoreEos && isEog(id)) {
        result.stop = 'eog';
        break;
      }
      result.ids.push(id);
      release(id, text ? text.push(id) : '');
      if (text?.stopped === 'stop-string') {
        result.stop = 'stop-string';
        result.stopString = text.stopString;
        break;
      }
      if (result.ids.length >= o.maxTokens) break;
      if (o.signal?.aborted) {
        result.stop = 'aborted';
        break;
      }
      if (prompt.length + result.decodeTokens + 1 > nCtx) {
        result.stop = 'context-full';
        break;
      }
      id = await step([id]);
      result.decodeTokens++;
    }
    result.decodeMs = performance.now() - t2;
    const tail = text?.finish() ?? '';
    if (tail) release(undefined, tail);
    return result;
  } finally {
    text?.dispose();
    sampler?.dispose();
  }
}
