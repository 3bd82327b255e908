// Loaded models shared by the <webmoe-chat> elements of a page: elements that ask for the same
// model (URL and expert budgets) get one WebMoE, so one engine worker and one copy of the weights.
// Each holds a lease; the model is unloaded (its worker ended) when the last lease is released,
// one task later, so an element moved in the DOM (disconnected, then connected again) keeps it.
// Their generations queue in order in the worker, which runs one at a time.
import { WebMoE, type LoadProgress, type WebMoELoadOptions } from '../client/webmoe.ts';
import type { NoticeEvent } from '../fetch/progress.ts';
import type { KernelChoice } from '../gpu/variant.ts';
import type { BackendChoice } from '../wasm-backend/choose.ts';

export interface ModelRequest {
  url: string;
  sha256?: string;
  /** MoE: GPU bytes for routed experts, and the RAM tier under them (LoadOptions). */
  expertBudget?: number;
  ramBudget?: number;
  /** Kernel shapes (LoadOptions.kernels). */
  kernels?: KernelChoice;
  /** WebGPU, WASM or auto (LoadOptions.backend). */
  backend?: BackendChoice;
}

export interface Lease<M = WebMoE> {
  /** Resolves once the model is loaded; rejects with the load's error. */
  readonly model: Promise<M>;
  /** Stops this holder's progress events; the last release unloads the model. */
  release(): void;
}

/** What the registry needs of a model (WebMoE; tests give a fake). */
interface Unloadable {
  unload(): Promise<void>;
}

type Loader<M> = (url: string, opts: WebMoELoadOptions) => Promise<M>;

/** What a holder hears of the load: progress, and the notices (another tab downloads it, offline,
 *  an option the backend ignores, ...). */
export type LoadUpdate = LoadProgress | NoticeEvent;

interface Entry<M> {
  model: Promise<M>;
  refs: number;
  listeners: Set<(p: LoadUpdate) => void>;
  /** The notices so far, for holders that arrive mid-load. */
  notices: NoticeEvent[];
  /** The latest progress, for holders that arrive mid-load. */
  last(): LoadProgress | undefined;
  abort: AbortController;
}

export class ModelRegistry<M extends Unloadable = WebMoE> {
  private readonly entries = new Map<string, Entry<M>>();

  constructor(private readonly load: Loader<M>) {}

  /** Models loaded or loading, for tests and diagnostics. */
  get size(): number {
    return this.entries.size;
  }

  private start(key: string, req: ModelRequest): Entry<M> {
    const listeners = new Set<(p: LoadUpdate) => void>();
    const abort = new AbortController();
    const notices: NoticeEvent[] = [];
    let last: LoadProgress | undefined;
    const model = this.load(req.url, {
      sha256: req.sha256, expertBudget: req.expertBudget, ramBudget: req.ramBudget, kernels: req.kernels, backend: req.backend, signal: abort.signal,
      onProgress: (p) => {
        last = p;
        for (const l of listeners) l(p);
      },
      onEvent: (e) => {
        if (e.type !== 'notice') return;
        notices.push(e);
        for (const l of listeners) l(e);
      },
    });
    const entry: Entry<M> = { model, refs: 0, listeners, notices, abort, last: () => last };
    // A failed load is forgotten, so the next holder tries again.
    model.catch(() => { if (this.entries.get(key) === entry) this.entries.delete(key); });
    this.entries.set(key, entry);
    return entry;
  }

  acquire(req: ModelRequest, onProgress?: (p: LoadUpdate) => void): Lease<M> {
    const key = JSON.stringify([req.url, req.expertBudget ?? null, req.ramBudget ?? null, req.kernels ?? 'auto', req.backend ?? 'auto']);
    const entry = this.entries.get(key) ?? this.start(key, req);
    entry.refs++;
    if (onProgress) {
      entry.listeners.add(onProgress);
      for (const n of entry.notices) onProgress(n);
      const last = entry.last();
      if (last) onProgress(last);
    }
    let released = false;
    return {
      model: entry.model,
      release: () => {
        if (released) return;
        released = true;
        if (onProgress) entry.listeners.delete(onProgress);
        if (--entry.refs > 0) return;
        setTimeout(() => {
          if (entry.refs > 0 || this.entries.get(key) !== entry) return;
          this.entries.delete(key);
          entry.abort.abort();
          entry.model.then((m) => m.unload(), () => {}).catch(() => {});
        }, 0);
      },
    };
  }
}

/** The registry of the page's elements. */
export const sharedModels = new ModelRegistry<WebMoE>((url, opts) => WebMoE.load(url, opts));
