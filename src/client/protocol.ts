// What the page and the engine worker say to each other: one union of requests, one of events
// (download progress, load steps, generated tokens) and one of replies, each tagged by `type`, so
// both sides narrow them without casts. comlink carries them: the worker exposes one `call`
// function; events come back through a callback the page passes as a comlink proxy.
// Everything here is plain data (structured-clone safe).
import type { EngineStats } from '../engine/engine.ts';
import type { ExpertStats } from '../engine/engine.ts';
import type { PolicyName } from '../engine/eviction.ts';
import type { KernelChoice, KernelShape } from '../gpu/variant.ts';
import type { ChunkEvent, DownloadEvent } from '../fetch/progress.ts';
import type { ChatHistory } from '../generate/chat-prompt.ts';
import type { StopReason } from '../generate/loop.ts';
import type { StoredModel } from '../storage/models.ts';
import type { BackendChoice, BackendKind } from '../wasm-backend/choose.ts';
import type { HeapExpertStats } from '../wasm-backend/experts.ts';
import type { ChatMessage } from '../tokenizer/chat.ts';
import type { ChatTemplateOptions, RenderedChat } from '../tokenizer/chat-template.ts';

export type { BackendChoice, BackendKind, ChatHistory, ChatMessage, ChatTemplateOptions, StopReason, StoredModel };

export interface LoadOptions {
  /** The whole file's SHA-256 (hex), checked once every byte is stored. */
  sha256?: string;
  /** KV cache length in positions (default: min(2048, the model's training context)). */
  nCtx?: number;
  /** Tokens per prefill step (default 64). */
  maxBatch?: number;
  /** Extra request headers, e.g. { Authorization: 'Bearer hf_…' } for a gated model. */
  headers?: Record<string, string>;
  /** MoE models: GPU bytes (on the WASM backend: WebAssembly heap bytes) for routed experts. Set,
   *  only the experts the router picks are paged into GPU memory (into heap slots) at most this
   *  many bytes of them, fetched ahead of the download when not stored yet, and the model is ready
   *  before its download completes. Unset: every expert is uploaded (copied into the heap) and
   *  the load waits for the whole file. */
  expertBudget?: number;
  /** With expertBudget: bytes of experts kept in the worker's memory below the GPU (heap)
   *  slots. Default: a quarter of navigator.deviceMemory, at most 4 GiB; more than half of it is
   *  clamped (a `notice` event says so). */
  ramBudget?: number;
  /** With expertBudget: the eviction policy ('lru' default, 'lfu-decay', 'lru-2', 'layer-quota'). */
  expertPolicy?: PolicyName;
  /** Kernel shapes: 'auto' (default: software on CPU-backed adapters such as SwiftShader, hardware
   *  on GPUs), 'software' or 'hardware' (src/gpu/variant.ts). ModelInfo.kernels says which ran. */
  kernels?: KernelChoice;
  /** Where the model runs: 'webgpu' (the WebGPU engine), 'wasm' (the WASM CPU backend, no GPU
   *  needed) or 'auto' (default: WebGPU on a hardware adapter, WASM where there is no usable
   *  adapter or only a software one such as SwiftShader, where it was measured faster; explicit
   *  kernels keep a software adapter on WebGPU). ModelInfo.backend and backendReason say which
   *  ran and why. The WASM backend has no kernel shapes: with backend 'wasm' kernels other than
   *  'auto' are refused (WasmBackendError 'unsupported-option'); auto without any adapter
   *  ignores them (a notice says so). Expert paging both have (the WASM backend pages experts
   *  into its heap and prefetches the next layer's likely experts too). */
  backend?: BackendChoice;
}

export interface SamplingParams {
  /** 0: greedy (the most likely token). Default 0.8. */
  temperature?: number;
  /** Keep the k most likely tokens; 0: off. Default 40. */
  topK?: number;
  /** Keep the most likely tokens whose probabilities sum to p; 1: off. Default 0.95. */
  topP?: number;
  /** Drop tokens below minP times the most likely one's probability; 0: off. Default 0.05. */
  minP?: number;
  /** Penalize the last repeatLastN tokens (prompt included); 1: off. Default 1. */
  repeatPenalty?: number;
  /** Default 64. */
  repeatLastN?: number;
  /** Seed of the sampler's generator (an integer below 2^53). Default: a random one, reported back. */
  seed?: number;
}

export interface GenerateParams extends SamplingParams {
  /** Tokens to generate at most. Default 128. */
  maxTokens?: number;
  /** Stop when the text contains one of these; it is left out. */
  stop?: string[];
  /** Keep going past end-of-generation tokens. */
  ignoreEos?: boolean;
  /** Keep the KV cache of the model's previous generation for as many leading prompt tokens as
   *  it shares with this prompt: only the rest is prefilled (the result's prefilledTokens). The
   *  cache holds exactly those tokens' keys and values, so the output is the one without it.
   *  Default false: the cache is cleared first. */
  keepCache?: boolean;
}

/** What to run: text as it is, a conversation in the model's chat template, or token ids.
 *  A chat's `history` gives the ids of its first messages as an earlier turn left them (that
 *  turn's promptIds and generated ids): the prompt continues from them and the template's text
 *  after them, so the model sees its own tokens and that turn's KV cache serves the whole prefix
 *  (src/generate/chat-prompt.ts). A chat that would leave less than maxTokens (at most half the
 *  context) for the answer drops its oldest turns, down to half the context (droppedMessages).
 *  `template` gives the chat template's enable_thinking and other variables. */
export type PromptInput =
  | { kind: 'text'; text: string }
  | { kind: 'chat'; messages: ChatMessage[]; history?: ChatHistory; template?: ChatTemplateOptions }
  | { kind: 'ids'; ids: number[] };

// ---- requests (page → worker) ----

export interface LoadRequest { type: 'load'; id: number; url: string; options: LoadOptions }
export interface GenerateRequest { type: 'generate'; id: number; input: PromptInput; params: GenerateParams }
/** Ends the load or generation started by request `id` (a generation within one token). */
export interface CancelRequest { type: 'cancel'; id: number }
export interface StatsRequest { type: 'stats' }
export interface UnloadRequest { type: 'unload' }
export interface ListModelsRequest { type: 'list-models' }
export interface DeleteModelRequest { type: 'delete-model'; idOrUrl: string }

export type Request =
  | LoadRequest | GenerateRequest | CancelRequest | StatsRequest | UnloadRequest | ListModelsRequest | DeleteModelRequest;

// ---- events (worker → page, during a request) ----

/** Steps of a load after (and overlapping) the download: WebGPU device, weights to the GPU,
 *  tokenizer. `done`/`total` are bytes for 'weights', else 0/0. */
export interface LoadStepEvent {
  type: 'load';
  step: 'gpu' | 'weights' | 'tokenizer' | 'ready';
  done: number;
  total: number;
  /** 'weights': where they go ('wasm': copied into the WebAssembly heap); default WebGPU. */
  backend?: BackendKind;
}

/** Generated tokens and the text they release ('' while a character or a stop string is incomplete;
 *  the final held-back text comes with no ids). */
export interface TokensEvent {
  type: 'tokens';
  /** The generate request's id. */
  id: number;
  ids: number[];
  text: string;
}

/** Download events as src/fetch emits them, without the per-chunk ones. */
export type DownloadEventOut = Exclude<DownloadEvent, ChunkEvent>;

export type WorkerEvent = DownloadEventOut | LoadStepEvent | TokensEvent;

/** The page's event callback. Through comlink the worker gets a function returning a promise that
 *  settles once the page has handled the event: the worker awaits the last one before it replies,
 *  because events (the callback's port) and replies (the worker's port) are not ordered together. */
export type EventSink = (e: WorkerEvent) => void | Promise<void>;

// ---- replies (worker → page, one per request) ----

export interface ModelInfo {
  /** The storage id (from the URL). */
  id: string;
  url: string;
  name?: string;
  architecture: string;
  nLayer: number;
  nEmbd: number;
  nVocab: number;
  /** 0 for dense models. */
  nExpert: number;
  nExpertUsed: number;
  /** Positions of the KV cache, and the context the model was trained with. */
  nCtx: number;
  nCtxTrain: number;
  /** Bytes of the GGUF file. */
  fileBytes: number;
  /** Which backend runs the model (LoadOptions.backend resolved), and why, in a sentence. */
  backend: BackendKind;
  backendReason: string;
  /** The GPU adapter, e.g. "google swiftshader"; on the WASM backend the one seen and not used,
   *  or '' (none asked for, or none found). */
  adapter: string;
  /** Kernels use shader-f16 (false on the WASM backend). */
  f16: boolean;
  /** The kernel shapes in use (LoadOptions.kernels resolved for the adapter); 'wasm' on the WASM
   *  backend (its C kernels with SIMD128). */
  kernels: KernelShape | 'wasm';
  /** WASM backend: the threads sharing its matrix products (one per core, at most 8, in a
   *  cross-origin isolated page; else 1). Absent on WebGPU. */
  threads?: number;
  /** The tokenizer's chat template is present (chat() uses it; else a plain User/Assistant form). */
  chatTemplate: boolean;
}

export interface GenerationResult {
  promptIds: number[];
  /** Generated ids (an end-of-generation id excluded). */
  ids: number[];
  /** The text shown (a stop string excluded). */
  text: string;
  stop: StopReason;
  stopString?: string;
  /** Prompt tokens run by this generation, and those whose KV cache an earlier one left
   *  (option keepCache): prefilledTokens + reusedTokens = promptIds.length. */
  prefilledTokens: number;
  reusedTokens: number;
  /** Chat: messages left out of the front of the conversation (after its system messages) to
   *  leave room for the answer; everything was prefilled again. 0 when it fit. */
  droppedMessages: number;
  /** Chat: the template that made the prompt: 'jinja' (the model's tokenizer.chat_template) or the
   *  built-in family used instead, and why (`fallback`: the template's error) when it had one. */
  template?: { via: RenderedChat['via']; fallback?: string };
  /** The seed used when sampling (give it back to repeat the same tokens). */
  seed?: number;
  prefillMs: number;
  decodeMs: number;
  /** Tokens per second of the prompt pass (its prefilled tokens) and of the one-token passes
   *  (null without any). */
  prefillTokS: number;
  decodeTokS: number | null;
}

export interface WorkerStats {
  model: ModelInfo;
  /** Wall times of the last load, ms: until the weights were stored, until the engine ran. */
  load: { storedMs: number; readyMs: number };
  download: {
    bytesTotal: number;
    /** Stored in IndexedDB (resumed or fetched). */
    bytesStored: number;
    /** Received from the network by this load (0 for a model opened from IndexedDB). */
    bytesFetched: number;
    chunksResumed: number;
    complete: boolean;
  };
  /** The engine's counters (gpuBytes: bytes on the GPU by role) and, for paged experts
   *  (LoadOptions.expertBudget) the tiers' figures (slots, hits, RAM hits, store reads, bytes
   *  uploaded, prefetch guesses and hits, readbacks and their waits); null when resident. */
  engine: Omit<EngineStats, 'bytesRead'> & { experts: ExpertStats | null };
  /** The WASM backend's WebAssembly heap (weights, KV cache, activations) and its threads;
   *  absent on WebGPU (whose engine counters above then hold the GPU's figures; on WASM
   *  launchesPerToken and gpuBytes are 0); with paged experts (LoadOptions.expertBudget) the
   *  heap slots' and tiers' figures (src/wasm-backend/experts.ts), else null. */
  wasm?: { heapBytes: number; weightBytes: number; threads: number; experts: HeapExpertStats | null };
  /** Paged experts: the layers with routed experts, where each of their experts is (layers x
   *  nExpert, layer-major): 3 on the GPU (WASM: in a heap slot), 2 in the worker's RAM tier, 1 stored (IndexedDB), 0 not
   *  downloaded yet; and the experts the last token chose per such layer (empty for a layer that
   *  ran without reading its routing back). */
  residency?: { layers: number[]; nExpert: number; tier: number[]; lastPicks: number[][] };
  last?: GenerationResult;
}

/** An error as it crosses the boundary: its name, message, stack and code kept. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string;
  cause?: SerializedError;
}

export type Reply =
  | { type: 'loaded'; model: ModelInfo }
  | { type: 'generated'; result: GenerationResult }
  | { type: 'stats'; stats: WorkerStats }
  | { type: 'models'; models: StoredModel[] }
  | { type: 'ok' }
  | { type: 'error'; error: SerializedError };

/** What the worker exposes through comlink. It never throws: failures are `error` replies. */
export interface EngineWorkerApi {
  call(request: Request, onEvent?: EventSink): Promise<Reply>;
}
