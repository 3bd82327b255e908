// The library API that pages import:
//
//   const llm = await WebMoE.load(url, { onProgress, signal });   // backend: auto (default), webgpu or wasm
//   for await (const chunk of llm.generate('Once upon a time', { maxTokens: 64 })) show(chunk.text);
//   for await (const chunk of llm.chat([{ role: 'user', content: 'Hi' }])) show(chunk.text);
//   await llm.chat.completions.create({ messages, max_tokens: 64 });   // OpenAI's shapes (openai.ts)
//   const conv = llm.conversation({ system: 'Be brief.' });   // multi-turn, the KV cache reused
//   for await (const chunk of conv.send('Hi')) show(chunk.text);
//   await llm.stats(); await llm.unload();
//   await WebMoE.listModels(); await WebMoE.deleteModel(id);
//
// Each loaded model has its own engine worker (workers/engine.worker.ts) that owns fetch,
// IndexedDB, WebAssembly and WebGPU; this side only sends requests and receives events.
import { proxy, wrap, type Endpoint, type Remote } from 'comlink';
import type { DownloadProgress } from '../fetch/progress.ts';
import { deleteModelShared } from '../fetch/share.ts';
import { idbStore } from '../storage/idb.ts';
import { listModels } from '../storage/models.ts';
import { Conversation, type ConversationOptions } from './conversation.ts';
import { HostError, WebMoEError } from './errors.ts';
import { Generation } from './generation.ts';
import { chatMethod, type ChatMethod } from './openai.ts';
import type {
  ChatHistory, ChatMessage, ChatTemplateOptions, EngineWorkerApi, EventSink, GenerateParams, GenerationResult, LoadOptions, LoadStepEvent, ModelInfo,
  PromptInput, Reply, Request, StoredModel, WorkerEvent, WorkerStats,
} from './protocol.ts';

/** Where the engine runs: by default a module worker; tests pass a MessagePort to an EngineHost. */
export interface WorkerConnection {
  endpoint: Endpoint;
  terminate(): void;
  /** Rejects if the worker dies (its script failed to load, or it crashed). */
  died?: Promise<never>;
}

/** A new engine worker (Vite bundles the worker from this `new Worker(new URL(...))` form). */
export function engineWorker(): WorkerConnection {
  const worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'webmoe-engine' });
  const died = new Promise<never>((_, reject) => {
    worker.addEventListener('error', (ev) => {
      reject(new HostError('worker-failed', `the WebMoE engine worker failed (${ev.message || 'its script did not load'}); ` +
        'reload the page, and check the browser console for the cause'));
    });
  });
  died.catch(() => {});
  return { endpoint: worker, terminate: () => worker.terminate(), died };
}

/** Load progress for a UI: download progress (bytes, rate, ETA, phase) and the engine's steps. */
export type LoadProgress = DownloadProgress | LoadStepEvent;

export interface WebMoELoadOptions extends LoadOptions {
  onProgress?: (p: LoadProgress) => void;
  /** Every event: progress, notices (persistence, offline, ...), retries, download errors. */
  onEvent?: (e: WorkerEvent) => void;
  /** Aborting stops the download (what is stored stays for the next load) and rejects with an AbortError. */
  signal?: AbortSignal;
  /** Where to run the engine (default: a new module worker). */
  connect?: () => WorkerConnection;
}

export interface GenerateOptions extends GenerateParams {
  /** Aborting stops the generation within one token; the result's `stop` is 'aborted'. */
  signal?: AbortSignal;
}

export interface ChatOptions extends GenerateOptions, ChatTemplateOptions {
  /** The ids of the conversation's first `messages` messages as an earlier turn left them (its
   *  promptIds, then its ids): the prompt continues from them (see PromptInput). Conversation
   *  keeps this for you. */
  history?: ChatHistory;
}

/** The page's end of one engine worker. */
class Channel {
  private nextId = 1;
  private readonly remote: Remote<EngineWorkerApi>;
  private readonly died: Promise<never>;

  constructor(readonly conn: WorkerConnection) {
    this.remote = wrap<EngineWorkerApi>(conn.endpoint);
    this.died = conn.died ?? new Promise<never>(() => {});
  }

  id(): number {
    return this.nextId++;
  }

  /** Sends a request; an error reply throws as a WebMoEError with the worker's name, code and stack. */
  async send(request: Request, onEvent?: EventSink): Promise<Reply> {
    const reply = await Promise.race([this.remote.call(request, onEvent ? proxy(onEvent) : undefined), this.died]);
    if (reply.type === 'error') throw new WebMoEError(reply.error);
    return reply;
  }

  cancel(id: number): void {
    this.send({ type: 'cancel', id }).catch(() => {});
  }
}

function unexpected(reply: Reply, wanted: string): Error {
  return new HostError('worker-failed', `the engine worker answered "${reply.type}" where "${wanted}" was expected: the page and the worker are from different builds; reload the page`);
}

export class WebMoE {
  private closed = false;
  private chatFn?: ChatMethod;

  private constructor(private readonly ch: Channel, readonly model: ModelInfo) {}

  /** Downloads the GGUF at `url` into IndexedDB (resuming what an earlier load stored) and loads it
   *  in a new worker, on WebGPU or the WASM CPU backend (opts.backend; model.backend and
   *  model.backendReason say which and why). Rejects with the worker's error (name, code, a message saying what
   *  to do), or an AbortError when `signal` aborts. */
  static async load(url: string, opts: WebMoELoadOptions = {}): Promise<WebMoE> {
    opts.signal?.throwIfAborted();
    const { onProgress, onEvent, signal, connect, ...options } = opts;
    const ch = new Channel((connect ?? engineWorker)());
    const id = ch.id();
    const onAbort = () => ch.cancel(id);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // The worker resolves nothing against the page: a relative URL is made absolute here.
      const absolute = new URL(url, globalThis.location?.href).href;
      const reply = await ch.send({ type: 'load', id, url: absolute, options }, (e) => {
        onEvent?.(e);
        if (e.type === 'progress' || e.type === 'load') onProgress?.(e);
      });
      if (reply.type !== 'loaded') throw unexpected(reply, 'loaded');
      return new WebMoE(ch, reply.model);
    } catch (e) {
      ch.conn.terminate();
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Generates from a text prompt (tokenized as llama.cpp does: special tokens parsed, BOS when
   *  the model asks) or from token ids. */
  generate(prompt: string | number[], opts: GenerateOptions = {}): Generation {
    return this.start(typeof prompt === 'string' ? { kind: 'text', text: prompt } : { kind: 'ids', ids: prompt }, opts);
  }

  /** Generates the assistant's reply to a conversation, in the model's chat template:
   *  `llm.chat(messages, opts)` gives a Generation. It also has OpenAI's chat completions,
   *  `llm.chat.completions.create({ messages, stream, max_tokens, ... })` (openai.ts). */
  get chat(): ChatMethod {
    return (this.chatFn ??= chatMethod((messages, opts) => this.chatGeneration(messages, opts), () => this.model));
  }

  private chatGeneration(messages: ChatMessage[], opts: ChatOptions): Generation {
    const { history, enableThinking, templateKwargs, ...rest } = opts;
    const template = { ...(enableThinking !== undefined && { enableThinking }), ...(templateKwargs && { templateKwargs }) };
    return this.start({ kind: 'chat', messages, ...(history && { history }), ...(Object.keys(template).length > 0 && { template }) }, rest);
  }

  /** A multi-turn conversation on this model: each turn continues from the tokens of the ones
   *  before and reuses their KV cache, so only its new tokens are prefilled. */
  conversation(opts: ConversationOptions = {}): Conversation {
    return new Conversation(this, opts);
  }

  private start(input: PromptInput, opts: GenerateOptions): Generation {
    const { signal, ...params } = opts;
    const id = this.ch.id();
    const cancel = () => this.ch.cancel(id);
    return new Generation(async (push) => {
      this.live();
      signal?.addEventListener('abort', cancel, { once: true });
      try {
        const reply = await this.ch.send({ type: 'generate', id, input, params }, (e) => {
          if (e.type === 'tokens' && e.id === id) push({ text: e.text, ids: e.ids });
        });
        if (reply.type !== 'generated') throw unexpected(reply, 'generated');
        return reply.result;
      } finally {
        signal?.removeEventListener('abort', cancel);
      }
    }, cancel);
  }

  /** Speeds, bytes downloaded and stored, GPU bytes, and the last generation's result. */
  async stats(): Promise<WorkerStats> {
    this.live();
    const reply = await this.ch.send({ type: 'stats' });
    if (reply.type !== 'stats') throw unexpected(reply, 'stats');
    return reply.stats;
  }

  /** The last generation's result, if any. */
  async lastResult(): Promise<GenerationResult | undefined> {
    return (await this.stats()).last;
  }

  /** Frees the GPU memory and ends the worker. The model stays stored for the next load. */
  async unload(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.ch.send({ type: 'unload' });
    } finally {
      this.ch.conn.terminate();
    }
  }

  private live(): void {
    if (this.closed) throw new HostError('no-model', 'this model was unloaded: load it again with WebMoE.load(url)');
  }

  /** Every model stored in this browser (complete or not), with its URL, size and bytes stored. */
  static listModels(): Promise<StoredModel[]> {
    return listModels(idbStore());
  }

  /** Deletes a stored model by id or URL (unload it first if it is loaded). Throws
   *  ModelDownloadingError while a tab or worker of this origin downloads it. */
  static async deleteModel(idOrUrl: string): Promise<void> {
    await deleteModelShared(idbStore(), idOrUrl);
  }
}
