// Download events: one union tagged by `type`, plain data (they cross the worker boundary as they
// are). Rates are bytes per second over a sliding window.
import type { ChunkKind } from './chunks.ts';

export type DownloadPhase =
  | 'probe' // asking the server what the file is
  | 'header' // reading the GGUF header
  | 'resume' // reconciling the stored chunks with the manifest
  | 'download' // fetching chunks
  | 'verify' // checking the whole file's SHA-256
  | 'complete'
  | 'failed'
  | 'closed';

export interface DownloadProgress {
  type: 'progress';
  phase: DownloadPhase;
  modelId: string;
  url: string;
  /** Bytes of the file stored and verified-on-write. */
  bytesDone: number;
  bytesTotal: number;
  chunksDone: number;
  chunksTotal: number;
  /** Chunks found in the store when the model was opened (not fetched again). */
  chunksResumed: number;
  /** Body bytes received from the network in this session, retries and aborted transfers included. */
  bytesFetched: number;
  /** Network rate over the last few seconds, bytes/s. */
  rate: number;
  /** Seconds to the end at that rate; undefined while the rate is unknown. */
  etaSeconds?: number;
  retries: number;
}

/** A chunk was stored ('network') or a damaged stored chunk was found and dropped ('corrupt'). */
export interface ChunkEvent {
  type: 'chunk';
  index: number;
  kind: ChunkKind;
  offset: number;
  length: number;
  status: 'stored' | 'corrupt';
  /** True when a caller waited for it (ensureRange / ensureExpert), false for the background. */
  urgent: boolean;
}

export interface RetryEvent {
  type: 'retry';
  offset: number;
  length: number;
  attempt: number;
  delayMs: number;
  /** Name and message of what failed. */
  error: string;
}

export interface ErrorEvent {
  type: 'error';
  name: string;
  code?: string;
  message: string;
}

export interface NoticeEvent {
  type: 'notice';
  /** persisted: whether the browser promised to keep the data; restarted: the stored file was
   *  another version and its chunks were discarded; offline: a stored model is used unchecked;
   *  no-validators: the server cannot show a same-length replacement of the file; ram-budget: a
   *  RAM budget for experts was clamped to what the machine can spare; shared: another tab of this
   *  site is downloading the model, this one waits for it (src/fetch/share.ts); ignored-option:
   *  a load option the chosen backend does not have (backend 'auto' fell back to WASM). */
  what: 'persisted' | 'not-persisted' | 'restarted' | 'offline' | 'no-validators' | 'ram-budget' | 'shared' | 'ignored-option';
  message: string;
}

export type DownloadEvent = DownloadProgress | ChunkEvent | RetryEvent | ErrorEvent | NoticeEvent;

/** Bytes over time in a sliding window. */
export class RateMeter {
  private samples: { t: number; n: number }[] = [];
  constructor(private windowMs = 5000, private now: () => number = () => performance.now()) {}

  add(n: number): void {
    const t = this.now();
    this.samples.push({ t, n });
    while (this.samples.length > 1 && t - this.samples[0].t > this.windowMs) this.samples.shift();
  }

  /** Bytes per second; 0 with fewer than two samples. */
  rate(): number {
    const t = this.now();
    const s = this.samples.filter((x) => t - x.t <= this.windowMs);
    if (s.length < 2) return 0;
    const span = Math.max(t - s[0].t, 1);
    const bytes = s.slice(1).reduce((a, x) => a + x.n, 0);
    return (bytes * 1000) / span;
  }
}

/** Listeners, counters and the rate meter of one download. */
export class Emitter {
  private listeners = new Set<(e: DownloadEvent) => void>();
  readonly meter = new RateMeter();
  /** Body bytes received this session; retries this session. */
  bytesFetched = 0;
  retries = 0;

  constructor(private onEvent?: (e: DownloadEvent) => void) {}

  on(listener: (e: DownloadEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(e: DownloadEvent): void {
    // A throwing listener must not break the download.
    for (const l of [this.onEvent, ...this.listeners]) {
      try {
        l?.(e);
      } catch (err) {
        console.error('WebMoE download listener threw:', err);
      }
    }
  }

  fetched(n: number): void {
    this.bytesFetched += n;
    this.meter.add(n);
  }
}
