// What the engine worker does, without the worker: one model at a time, downloaded (or resumed)
// into the byte store, its weights on WebGPU or in the WASM CPU backend's heap (LoadOptions.backend:
// src/wasm-backend/choose.ts), its tokenizer and sampler in WebAssembly, and
// generations streamed token by token. Requests and replies are the protocol's unions
// (src/client/protocol.ts); `call` never throws, failures are `error` replies with the error's
// name, message, stack and code. engine.worker.ts exposes it through comlink; tests run it in Node.
import { abortReason } from '../src/fetch/errors.ts';
import { openModel } from '../src/fetch/open.ts';
import type { ModelDownload } from '../src/fetch/download.ts';
import { deleteModelShared, tabShare, type DownloadShare } from '../src/fetch/share.ts';
import { chatPromptIds } from '../src/generate/chat-prompt.ts';
import { runGeneration, type LoopSampling, type StepBackend } from '../src/generate/loop.ts';
import { WebGPUEngine } from '../src/engine/engine.ts';
import { deviceMemoryBytes, ramBudget } from '../src/engine/memory.ts';
import { chooseBackend, forModel, type BackendDecision } from '../src/wasm-backend/choose.ts';
import { WasmBackendError } from '../src/wasm-backend/kernels.ts';
import { WasmModel, wasmUnsupported, type WasmModelOptions } from '../src/wasm-backend/model.ts';
import { HeapExperts } from '../src/wasm-backend/experts.ts';
import { defaultThreads } from '../src/wasm-backend/threads.ts';
import type { ModelPlan } from '../src/model/plan.ts';
import { GPUEngineError } from '../src/gpu/session.ts';
import { expertRanges } from '../src/model/experts.ts';
import { planModel } from '../src/model/plan.ts';
import { listModels } from '../src/storage/models.ts';
import type { ByteStore } from '../src/storage/store.ts';
import { Tokenizer } from '../src/tokenizer/tokenizer.ts';
import { abortError, HostError, serializeError } from '../src/client/errors.ts';
import type {
  EventSink, GenerateParams, GenerateRequest, GenerationResult, LoadRequest, ModelInfo, PromptInput, Reply, Request,
  WorkerEvent, WorkerStats,
} from '../src/client/protocol.ts';
import { gpuRunner, wasmRunner, type Runner } from './runners.ts';

export interface HostOptions {
  /** Where models are stored: idbStore() in a browser, fsStore/memoryStore in Node. */
  store: ByteStore;
  /** fetch for the downloads (tests); default globalThis.fetch. */
  fetch?: typeof fetch;
  /** How downloads are shared with the other tabs and workers that open the same store (one of
   *  them fetches, the others wait for it: src/fetch/share.ts). Default tabShare(store): Web Locks
   *  where the store is shared (IndexedDB), else none. */
  share?: DownloadShare;
}

/** Library defaults of the sampling options (llama.cpp's, but for the random seed). */
export const GENERATE_DEFAULTS = {
  maxTokens: 128, temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1, repeatLastN: 64, keepCache: false,
} as const;

/** Minimum time between two weight-upload events, ms. */
const LOAD_EVENT_MS = 100;

interface Loaded {
  dl: ModelDownload;
  run: Runner;
  tok: Tokenizer;
  info: ModelInfo;
  storedMs: number;
  readyMs: number;
  last?: GenerationResult;
  /** The ids whose keys and values the engine's KV cache holds (positions 0..): the last
   *  generation's prompt and the tokens it ran. Emptied while a generation runs, so one that
   *  fails leaves nothing to reuse. */
  kv: number[];
}

export class EngineHost {
  private model?: Loaded;
  /** Load, generate and unload run one at a time, in the order they came. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Cancel handles of queued or running loads and generations, by request id. */
  private readonly running = new Map<number, AbortController>();

  private readonly share?: DownloadShare;

  constructor(private readonly opts: HostOptions) {
    this.share = opts.share ?? tabShare(opts.store);
  }

  /** The loaded model's WebGPU engine (diagnostics and tests); undefined on the WASM backend. */
  get engine(): WebGPUEngine | undefined {
    return this.model?.run.engine;
  }

  async call(req: Request, onEvent?: EventSink): Promise<Reply> {
    let delivered: Promise<unknown> = Promise.resolve();
    const emit = (e: WorkerEvent) => {
      try {
        const r = onEvent?.(e);
        if (r) delivered = r.catch(() => {});
      } catch {
        // A listener that throws must not break the worker.
      }
    };
    const reply = await this.handle(req, emit);
    await delivered; // every event reaches the page before the reply does
    return reply;
  }

  private async handle(req: Request, emit: EventSink): Promise<Reply> {
    try {
      switch (req.type) {
        case 'load':
          return { type: 'loaded', model: await this.cancellable(req.id, (signal) => this.load(req, signal, emit)) };
        case 'generate':
          return { type: 'generated', result: await this.cancellable(req.id, (signal) => this.generate(req, signal, emit)) };
        case 'cancel':
          this.running.get(req.id)?.abort(abortError(`request ${req.id}`));
          return { type: 'ok' };
        case 'stats':
          return { type: 'stats', stats: this.stats() };
        case 'unload':
          await this.exclusive(() => this.unloadNow());
          return { type: 'ok' };
        case 'list-models':
          return { type: 'models', models: await listModels(this.opts.store) };
        case 'delete-model':
          await deleteModelShared(this.opts.store, req.idOrUrl, this.share);
          return { type: 'ok' };
      }
    } catch (e) {
      return { type: 'error', error: serializeError(e) };
    }
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => {});
    return run;
  }

  /** Runs fn in turn with a signal that request `id`'s cancel aborts, even while it waits its turn. */
  private async cancellable<T>(id: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ac = new AbortController();
    this.running.set(id, ac);
    try {
      return await this.exclusive(() => fn(ac.signal));
    } finally {
      this.running.delete(id);
    }
  }

  // ---- load ----

  private async load(req: LoadRequest, signal: AbortSignal, emit: EventSink): Promise<ModelInfo> {
    await this.unloadNow();
    const t0 = performance.now();
    signal.throwIfAborted();
    const { options } = req;
    // The backend first: a browser without WebGPU, asked for it, learns so before any byte is
    // downloaded; auto asks for an adapter and picks by it.
    if (options.backend !== 'wasm') emit({ type: 'load', step: 'gpu', done: 0, total: 0 });
    let choice = await chooseBackend(options.backend, options);
    for (const what of choice.ignored) {
      emit({ type: 'notice', what: 'ignored-option', message: `${what} is ignored: ${choice.reason}, and the WASM backend has no such option` });
    }

    const dl = await openModel({
      url: req.url, store: this.opts.store, sha256: options.sha256, signal, share: this.share,
      ...(this.opts.fetch && { fetch: this.opts.fetch }),
      ...(options.headers && { init: { headers: options.headers } }),
      onEvent: (e) => { if (e.type !== 'chunk') emit(e); },
    });
    let tok: Tokenizer | undefined;
    let run: Runner | undefined;
    let failed = false;
    try {
      // From the header alone: an unsupported architecture or vocabulary fails before the download,
      // and so does a model the WASM backend cannot run (auto keeps it on a software adapter), or an
      // expert budget below its heap slots' minimum.
      const plan = planModel(dl.file);
      if (choice.backend === 'wasm') choice = forModel(choice, wasmUnsupported(plan));
      if (choice.backend === 'wasm' && options.expertBudget !== undefined && plan.hasExperts) HeapExperts.check(plan, options.expertBudget);
      emit({ type: 'load', step: 'tokenizer', done: 0, total: 0 });
      tok = await Tokenizer.fromGGUF(dl.file);
      let storedMs = 0;
      const stored = dl.start().then(() => {
        storedMs = performance.now() - t0;
        if (this.model?.dl === dl) this.model.storedMs = storedMs; // stored after ready (paged experts)
      });
      // The backend reads every weight through the download: a missing chunk is fetched ahead of
      // the background order, so uploading overlaps downloading.
      let lastEvent = 0;
      const onProgress = (done: number, total: number) => {
        const now = performance.now();
        if (done < total && now - lastEvent < LOAD_EVENT_MS) return;
        lastEvent = now;
        emit({ type: 'load', step: 'weights', done, total, ...(choice.backend === 'wasm' && { backend: 'wasm' as const }) });
      };
      // Paged experts come through the download as the router picks them (ahead of the
      // background order), so the model is ready once the rest is on the GPU (in the heap).
      const paged = options.expertBudget !== undefined && plan.hasExperts;
      const loading = choice.backend === 'wasm'
        ? loadWasm(dl, plan, options, paged, onProgress, emit).then(wasmRunner)
        : this.loadEngine(dl, plan, req, paged, onProgress, emit).then(gpuRunner);
      // A failed download closes it, which fails the backend's pending reads; a backend that
      // still finishes after a failure is freed.
      loading.then((r) => { if (failed) r.destroy(); }, () => {});
      // (a background download that fails later fails the expert reads that wait for it)
      if (paged) stored.catch(() => {});
      [run] = await Promise.all([loading, paged ? undefined : stored]);
      signal.throwIfAborted(); // cancelled while the pipelines were built (not interruptible)
      const hp = plan.hp;
      const name = dl.file.metadata.get('general.name')?.value;
      const info: ModelInfo = {
        id: dl.id, url: dl.url, name: typeof name === 'string' ? name : undefined, architecture: hp.arch,
        nLayer: hp.nLayer, nEmbd: hp.nEmbd, nVocab: hp.nVocab, nExpert: hp.nExpert, nExpertUsed: hp.nExpertUsed,
        nCtx: run.nCtx, nCtxTrain: hp.nCtxTrain, fileBytes: dl.size, chatTemplate: tok.chatTemplate !== undefined,
        ...backendInfo(run, choice),
      };
      this.model = { dl, run, tok, info, storedMs, readyMs: performance.now() - t0, kv: [] };
      emit({ type: 'load', step: 'ready', done: 0, total: 0 });
      return info;
    } catch (e) {
      failed = true;
      run?.destroy();
      tok?.dispose();
      await dl.close(signal.aborted ? abortReason(signal) : e);
      throw signal.aborted ? abortReason(signal) : e;
    }
  }

  /** The WebGPU engine on the download; with paging, routed experts come through it as the
   *  router picks them. */
  private loadEngine(dl: ModelDownload, plan: ModelPlan, req: LoadRequest, paged: boolean, onProgress: (done: number, total: number) => void, emit: EventSink): Promise<WebGPUEngine> {
    const { options } = req;
    const ram = ramBudget(options.ramBudget, deviceMemoryBytes());
    if (paged && ram.warning) emit({ type: 'notice', what: 'ram-budget', message: ram.warning });
    return WebGPUEngine.load(dl.source(), {
      nCtx: options.nCtx, maxBatch: options.maxBatch, kernels: options.kernels, onProgress,
      ...(paged && {
        expertBudget: options.expertBudget, ramBudget: ram.bytes, paging: { policy: options.expertPolicy },
        experts: (l: number, e: number) => dl.ensureExpert(l, e),
      }),
    });
  }

  private async unloadNow(): Promise<void> {
    const m = this.model;
    if (!m) return;
    this.model = undefined;
    m.run.destroy();
    m.tok.dispose();
    await m.dl.close(); // stored chunks stay; an unfinished download resumes on the next load
  }

  // ---- generate ----

  /** The prompt's ids, and for a chat the messages dropped to leave room for the answer and the
   *  template used. */
  private promptIds(m: Loaded, input: PromptInput, maxTokens: number): { ids: number[]; dropped: number; template?: GenerationResult['template'] } {
    const checked = (ids: number[]) => {
      const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= m.info.nVocab);
      if (bad !== undefined) throw new HostError('bad-token', `token id ${bad} is outside the vocabulary (0..${m.info.nVocab - 1})`);
      return ids;
    };
    if (input.kind === 'ids') {
      if (input.ids.length === 0) throw new HostError('empty-prompt', 'the prompt is empty: give at least one token id');
      return { ids: checked(input.ids), dropped: 0 };
    }
    if (input.kind === 'chat') {
      const nCtx = m.run.nCtx;
      const history = input.history && { ...input.history, ids: checked(input.history.ids) };
      const c = chatPromptIds(m.tok, input.messages, { history, nCtx, room: Math.min(maxTokens, Math.floor(nCtx / 2)), template: input.template });
      return { ids: c.ids, dropped: c.dropped, template: { via: c.template, ...(c.fallback !== undefined && { fallback: c.fallback }) } };
    }
    // Special-token texts are parsed and BOS is added when the model asks, as llama.cpp (and the CLI) do.
    const ids = [...m.tok.encode(input.text, { addSpecial: true, parseSpecial: true })];
    if (ids.length === 0) throw new HostError('empty-prompt', 'the prompt is empty: type some text');
    return { ids, dropped: 0 };
  }

  private async generate(req: GenerateRequest, signal: AbortSignal, emit: EventSink): Promise<GenerationResult> {
    const m = this.model;
    if (!m) throw new HostError('no-model', 'no model is loaded: load one first (WebMoE.load(url))');
    const p = { ...GENERATE_DEFAULTS, ...definedOnly(req.params) };
    const { ids: promptIds, dropped, template } = this.promptIds(m, req.input, p.maxTokens);
    const seed = p.temperature > 0 ? (p.seed ?? Math.floor(Math.random() * 2 ** 32)) : undefined;
    const sampling: LoopSampling = {
      temperature: p.temperature, topK: p.topK, topP: p.topP, minP: p.minP,
      repeatPenalty: p.repeatPenalty, penaltyLastN: p.repeatLastN, ...(seed !== undefined && { seed }),
    };
    const run = m.run;
    // KV cache reuse: the positions holding this prompt's leading ids are kept (all but its last
    // id, which must run for the next token's logits).
    const cache = m.kv;
    m.kv = [];
    const reused = p.keepCache && run.nPast === cache.length ? Math.min(commonPrefix(cache, promptIds), promptIds.length - 1) : 0;
    run.truncate(reused);
    const kv = promptIds.slice(0, reused);
    const backend: StepBackend = {
      forward: async (ids, wantLogits) => {
        const r = await run.forward(ids, wantLogits);
        kv.push(...ids);
        return r;
      },
    };
    try {
      const r = await runGeneration(backend, {
        promptIds, cached: reused, maxTokens: p.maxTokens, nVocab: m.info.nVocab, sampling, stop: p.stop, ignoreEos: p.ignoreEos,
        nCtx: run.nCtx, signal, tokenizer: m.tok,
        onToken: (id, text) => emit({ type: 'tokens', id: req.id, ids: id === undefined ? [] : [id], text }),
      });
      m.kv = kv;
      const result: GenerationResult = {
        promptIds, ids: r.ids, text: r.text, stop: r.stop, stopString: r.stopString, seed,
        prefilledTokens: r.prefilledTokens, reusedTokens: reused, droppedMessages: dropped, ...(template && { template }),
        prefillMs: r.prefillMs, decodeMs: r.decodeMs,
        prefillTokS: r.prefillMs > 0 ? (r.prefilledTokens * 1000) / r.prefillMs : 0,
        decodeTokS: r.decodeTokens > 0 ? (r.decodeTokens * 1000) / r.decodeMs : null,
      };
      m.last = result;
      return result;
    } catch (e) {
      if (e instanceof GPUEngineError) throw await this.recover(m, e);
      throw e;
    }
  }

  /** After a GPU failure the session is unusable: recreate the engine on a new device (its weights
   *  are read back from the store) and return the error to report, which says so. */
  private async recover(m: Loaded, e: GPUEngineError): Promise<GPUEngineError> {
    try {
      m.run = gpuRunner(await m.run.engine!.recreate());
      return new GPUEngineError(e.code, `${e.message}\nWebMoE recreated the engine on a new device: run the generation again.`, { cause: e });
    } catch (again) {
      if (this.model === m) this.model = undefined;
      m.tok.dispose();
      await m.dl.close();
      return new GPUEngineError(e.code, `${e.message}\nRecreating the engine failed too (${String(again)}): load the model again, or reload the page.`, { cause: e });
    }
  }

  // ---- stats ----

  private stats(): WorkerStats {
    const m = this.model;
    if (!m) throw new HostError('no-model', 'no model is loaded: load one first (WebMoE.load(url))');
    const p = m.dl.progress();
    const heap = m.run.heap();
    return {
      model: m.info,
      load: { storedMs: m.storedMs, readyMs: m.readyMs },
      download: { bytesTotal: p.bytesTotal, bytesStored: p.bytesDone, bytesFetched: p.bytesFetched, chunksResumed: p.chunksResumed, complete: m.dl.complete },
      engine: m.run.stats(),
      ...(heap && { wasm: heap }),
      residency: this.residency(m),
      last: m.last,
    };
  }

  /** Each routed expert's tier: the engine's (GPU, RAM), else whether the download has stored it. */
  private residency(m: Loaded): WorkerStats['residency'] {
    const r = m.run.residency();
    const plan = m.dl.plan;
    if (!r || !plan) return undefined;
    const { nExpert } = plan.hp;
    const tier = Array.from(r.tier, (t, i) => {
      if (t) return t + 1;
      const ranges = expertRanges(plan, r.layers[Math.floor(i / nExpert)], i % nExpert);
      return Object.values(ranges).every((x) => m.dl.isStored(x.offset, x.length)) ? 1 : 0;
    });
    return { layers: r.layers, nExpert, tier, lastPicks: r.lastPicks };
  }
}

/** ModelInfo's backend fields: which runs, why, and on WebGPU the adapter and kernels. */
/** The WASM backend with threads where the page is cross-origin isolated (SharedArrayBuffer) and
 *  the model reads enough bytes per token to gain from them (defaultThreads), else one; one too
 *  when workers cannot start (a Content-Security-Policy without blob: workers). */
async function loadWasm(dl: ModelDownload, plan: ModelPlan, options: LoadRequest['options'], paged: boolean, onProgress: (done: number, total: number) => void, emit: EventSink): Promise<WasmModel> {
  const ram = ramBudget(options.ramBudget, deviceMemoryBytes());
  if (paged && ram.warning) emit({ type: 'notice', what: 'ram-budget', message: ram.warning });
  const opts: WasmModelOptions = {
    nCtx: options.nCtx, maxBatch: options.maxBatch, onProgress,
    ...(paged && { expertBudget: options.expertBudget, ramBudget: ram.bytes, expertPolicy: options.expertPolicy, experts: (l: number, e: number) => dl.ensureExpert(l, e) }),
  };
  const threads = defaultThreads(plan);
  try {
    return await WasmModel.load(dl.source(), { ...opts, threads });
  } catch (e) {
    if (threads === 1 || !(e instanceof WasmBackendError && e.code === 'threads-unavailable')) throw e;
    return WasmModel.load(dl.source(), { ...opts, threads: 1 });
  }
}

function backendInfo(run: Runner, choice: BackendDecision): Pick<ModelInfo, 'backend' | 'backendReason' | 'adapter' | 'f16' | 'kernels' | 'threads'> {
  const base = { backend: choice.backend, backendReason: choice.reason };
  const e = run.engine;
  if (!e) return { ...base, adapter: choice.adapter ?? '', f16: false, kernels: 'wasm', threads: run.heap()?.threads ?? 1 };
  return { ...base, adapter: e.session.adapterName, f16: e.session.features.f16, kernels: e.kernels };
}

/** How many leading ids a and b share. */
function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/** The options given, without keys set to undefined (which would hide the defaults). */
function definedOnly(p: GenerateParams): GenerateParams {
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined));
}
