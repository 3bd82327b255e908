// A model being downloaded (or already stored): the chunk scheduler and the API the engine reads
// weights through. Chunks are fetched in the background (header and dense weights first, then the
// experts) with a few in flight; a chunk someone waits for (ensureRange, readTensor, ensureExpert)
// jumps the queue and may use extra slots, so generation can start long before the file is complete.
// Every chunk read from the store is checked against its SHA-256; a damaged one is dropped and fetched
// again, never returned. openModel (open.ts) creates these.
import type { GGUFFile } from '../gguf/types.ts';
import type { RangeSource } from '../gguf/source.ts';
import { ChunkCorruptError, decodeChunk, encodeChunk } from '../storage/chunk.ts';
import { chunkAt, type Chunk } from './chunks.ts';
import { expertProvider, expertRanges, type ExpertBytes } from '../model/experts.ts';
import type { ModelPlan } from '../model/plan.ts';
import { encodeBitmap, keys, saveManifest, type ModelManifest } from '../storage/manifest.ts';
import { Sha256, toHex } from '../storage/sha256.ts';
import type { ByteStore } from '../storage/store.ts';
import { abortReason, FileChangedError, FileHashMismatchError, isAbort } from './errors.ts';
import type { DownloadEvent, DownloadPhase, DownloadProgress, Emitter } from './progress.ts';
import { fetchRange, type FetchContext } from './range.ts';

export interface SchedulerOptions {
  /** Chunk fetches in flight for the background download. */
  concurrency: number;
  /** Extra fetches allowed for chunks a caller waits for, when the background fills the slots. */
  urgentExtra: number;
  /** Verified chunk bytes kept in memory (bytes), so reading several experts of a chunk reads it once. */
  cacheBytes: number;
  /** Minimum time between two progress events, ms. */
  progressIntervalMs: number;
}

export interface WaitOptions {
  /** Stops waiting (the fetch itself goes on: its bytes are useful). */
  signal?: AbortSignal;
}

interface Waiter {
  promise: Promise<Uint8Array>;
  resolve: (b: Uint8Array) => void;
  reject: (e: unknown) => void;
}

function deferred<T>() {
  let resolve!: (v: T) => void, reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export class ModelDownload {
  /** The GGUF header (set by openModel before the download is returned). */
  file!: GGUFFile;
  /** The model plan, when WebMoE can run the file (else undefined: it can still be downloaded). */
  plan?: ModelPlan;
  readonly size: number;
  private done: boolean[];
  private bytesDone = 0;
  private chunksDone = 0;
  private inflight = new Map<number, Promise<Uint8Array>>();
  private waiters = new Map<number, Waiter>();
  private urgent: number[] = [];
  private soon: number[] = [];
  /** Background order: header, dense, then expert chunks, each in file order. */
  private order: number[];
  private bgPos = 0;
  private background = false;
  private active = 0;
  private cache = new Map<number, Uint8Array>();
  private cachedBytes = 0;
  private run?: ReturnType<typeof deferred<void>>;
  private finishing?: Promise<void>;
  private saving?: Promise<void>;
  private dirty = false;
  /** A sticky failure: the file changed, its hash is wrong, or the download was closed. */
  private fatal?: unknown;
  private phase: DownloadPhase = 'download';
  private lastProgress = 0;

  constructor(
    readonly id: string,
    readonly url: string,
    private store: ByteStore,
    readonly manifest: ModelManifest,
    readonly chunks: Chunk[],
    done: boolean[],
    /** Chunks that were already stored when the model was opened. */
    readonly resumedChunks: number[],
    private ctx: FetchContext,
    private ev: Emitter,
    private abort: AbortController,
    private opts: SchedulerOptions,
  ) {
    this.size = manifest.identity.size;
    this.done = done;
    done.forEach((d, i) => {
      if (d) {
        this.chunksDone++;
        this.bytesDone += chunks[i].length;
      }
    });
    const rank = { header: 0, dense: 1, expert: 2 };
    this.order = chunks.map((c) => c.index).sort((a, b) => rank[chunks[a].kind] - rank[chunks[b].kind] || a - b);
  }

  /** Every chunk stored (and the file's SHA-256 checked, if one was given). */
  get complete(): boolean {
    return this.manifest.complete;
  }

  /** Listens to progress, chunk, retry, notice and error events; returns the unsubscribe. */
  on(listener: (e: DownloadEvent) => void): () => void {
    return this.ev.on(listener);
  }

  progress(): DownloadProgress {
    const rate = this.ev.meter.rate();
    const left = this.size - this.bytesDone;
    return {
      type: 'progress', phase: this.phase, modelId: this.id, url: this.url,
      bytesDone: this.bytesDone, bytesTotal: this.size, chunksDone: this.chunksDone, chunksTotal: this.chunks.length,
      chunksResumed: this.resumedChunks.length, bytesFetched: this.ev.bytesFetched, rate,
      etaSeconds: left === 0 ? 0 : rate > 0 ? left / rate : undefined, retries: this.ev.retries,
    };
  }

  /** Downloads every missing chunk in the background. Resolves when the model is complete; rejects
   *  with a named error when it cannot be (calling start() again retries). */
  start(): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.manifest.complete) return this.settled();
    this.run ??= deferred<void>();
    const { promise } = this.run;
    this.background = true;
    this.bgPos = 0;
    this.setPhase('download');
    this.pump();
    this.maybeFinish();
    return promise;
  }

  /** Resolves once the manifest saves and the completion check under way are done. */
  private async settled(): Promise<void> {
    await this.finishing;
    while (this.saving) await this.saving;
  }

  /** Bytes [offset, offset + length) of the file, fetched first if not stored yet. The result is the
   *  caller's own buffer (transferable). */
  async ensureRange(offset: number, length: number, opts: WaitOptions = {}): Promise<Uint8Array> {
    if (!(Number.isInteger(offset) && Number.isInteger(length) && offset >= 0 && length >= 0 && offset + length <= this.size)) {
      throw new RangeError(`bytes [${offset}, ${offset + length}) are not inside the ${this.size}-byte file`);
    }
    if (this.fatal) throw this.fatal;
    const out = new Uint8Array(length);
    if (length === 0) return out;
    const first = chunkAt(this.chunks, offset);
    const last = chunkAt(this.chunks, offset + length - 1);
    const wanted: number[] = [];
    for (let i = first; i <= last; i++) {
      wanted.push(i);
      if (!this.done[i]) this.want(i, 'urgent').catch(() => {}); // queue every missing one now; read (and fail) below
    }
    // At most a few chunks in memory at once, whatever the range's size.
    const window = this.opts.concurrency + this.opts.urgentExtra;
    let next = 0;
    const worker = async () => {
      while (next < wanted.length) {
        const c = this.chunks[wanted[next++]];
        const bytes = await this.chunkBytes(c.index, opts.signal);
        const from = Math.max(offset, c.offset);
        const to = Math.min(offset + length, c.offset + c.length);
        out.set(bytes.subarray(from - c.offset, to - c.offset), from - offset);
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, wanted.length) }, worker));
    return out;
  }

  /** Whether bytes [offset, offset + length) are stored (every chunk they touch). */
  isStored(offset: number, length: number): boolean {
    if (length <= 0) return true;
    const last = chunkAt(this.chunks, offset + length - 1);
    for (let i = chunkAt(this.chunks, offset); i <= last; i++) if (!this.done[i]) return false;
    return true;
  }

  /** The bytes of a tensor, by its GGUF name. */
  readTensor(name: string, opts?: WaitOptions): Promise<Uint8Array> {
    const t = this.file.tensors.find((x) => x.name === name);
    if (!t) return Promise.reject(new RangeError(`the model has no tensor "${name}"`));
    return this.ensureRange(this.file.dataOffset + t.offset, t.nBytes, opts);
  }

  /** The gate, up and down bytes of one routed expert (each in GGUF block layout, the expert's
   *  slice of its stacked tensor). Fetched on demand, ahead of the background download. */
  ensureExpert(layer: number, expert: number, opts?: WaitOptions): Promise<ExpertBytes> {
    return expertProvider(this.needPlan(), (o, n) => this.ensureRange(o, n, opts))(layer, expert);
  }

  /** Moves experts ahead of the background download without waiting (the router's guess of what the
   *  next layers need). */
  prefetchExperts(list: { layer: number; expert: number }[]): void {
    for (const { layer, expert } of list) {
      for (const r of Object.values(expertRanges(this.needPlan(), layer, expert))) this.prefetchRange(r.offset, r.length);
    }
  }

  private needPlan(): ModelPlan {
    if (!this.plan) throw new RangeError(`${this.url}: WebMoE cannot plan this model, so it has no routed experts to fetch`);
    return this.plan;
  }

  prefetchRange(offset: number, length: number): void {
    if (length <= 0) return;
    const last = chunkAt(this.chunks, Math.min(this.size - 1, offset + length - 1));
    for (let i = chunkAt(this.chunks, offset); i <= last; i++) if (!this.done[i]) this.want(i, 'soon').catch(() => {});
  }

  /** Waits until the header and every dense tensor are stored: enough to start generating, with
   *  experts fetched as the router asks for them. */
  async ensureDense(opts: WaitOptions = {}): Promise<void> {
    const missing = this.chunks.filter((c) => c.kind !== 'expert' && !this.done[c.index]);
    await abortable(Promise.all(missing.map((c) => this.want(c.index, 'soon'))), opts.signal);
  }

  /** A RangeSource over this model: reads wait for the bytes. */
  source(): RangeSource {
    return {
      name: this.url,
      size: async () => this.size,
      read: (offset, length) => this.ensureRange(offset, Math.max(0, Math.min(length, this.size - offset))),
    };
  }

  /** Stops the download (in-flight requests are aborted, stored chunks stay) and saves the manifest.
   *  Pending waits reject with an AbortError. */
  async close(reason: unknown = new DOMException('the model download was closed', 'AbortError')): Promise<void> {
    if (this.fatal && this.phase === 'closed') return;
    this.fatal ??= reason;
    this.background = false;
    this.abort.abort(reason);
    for (const w of this.waiters.values()) w.reject(reason);
    this.waiters.clear();
    this.run?.reject(reason);
    this.run = undefined;
    await Promise.allSettled([...this.inflight.values()]);
    await this.finishing?.catch(() => {});
    if (this.dirty || this.saving) await this.saveSoon().catch(() => {});
    this.setPhase('closed');
  }

  // ---- scheduling ----

  /** A promise for chunk i's bytes, queueing it at `level` (again at a higher level if needed). */
  private want(i: number, level: 'urgent' | 'soon'): Promise<Uint8Array> {
    if (this.fatal) return Promise.reject(this.fatal);
    let w = this.waiters.get(i);
    if (!w) {
      w = deferred<Uint8Array>();
      w.promise.catch(() => {}); // prefetches may never be awaited
      this.waiters.set(i, w);
    }
    if (!this.inflight.has(i)) (level === 'urgent' ? this.urgent : this.soon).push(i);
    this.pump();
    return w.promise;
  }

  private settle(i: number, bytes?: Uint8Array, error?: unknown): void {
    const w = this.waiters.get(i);
    if (!w) return;
    this.waiters.delete(i);
    if (bytes) w.resolve(bytes);
    else w.reject(error);
  }

  private peek(list: number[]): number | undefined {
    while (list.length && (this.done[list[0]] || this.inflight.has(list[0]))) list.shift();
    return list[0];
  }

  private pump(): void {
    if (this.fatal) return;
    for (;;) {
      const u = this.peek(this.urgent);
      if (u !== undefined) {
        if (this.active >= this.opts.concurrency + this.opts.urgentExtra) return;
        this.urgent.shift();
        this.fetchChunk(u);
        continue;
      }
      if (this.active >= this.opts.concurrency) return;
      const s = this.peek(this.soon);
      if (s !== undefined) {
        this.soon.shift();
        this.fetchChunk(s);
        continue;
      }
      if (!this.background) return;
      while (this.bgPos < this.order.length && (this.done[this.order[this.bgPos]] || this.inflight.has(this.order[this.bgPos]))) this.bgPos++;
      if (this.bgPos >= this.order.length) return;
      this.fetchChunk(this.order[this.bgPos++]);
    }
  }

  private fetchChunk(i: number): void {
    const c = this.chunks[i];
    const urgent = this.waiters.has(i);
    this.active++;
    const p = (async () => {
      const bytes = await fetchRange(this.ctx, c.offset, c.length);
      // The checksum is of the bytes as received; the store holds them with it, atomically.
      await this.store.write(keys.chunk(this.id, i), await encodeChunk(c.offset, bytes, this.manifest.generation));
      return bytes;
    })();
    this.inflight.set(i, p);
    p.then(
      (bytes) => {
        this.active--;
        this.inflight.delete(i);
        this.markDone(i);
        if (this.waiters.has(i)) this.remember(i, bytes);
        this.ev.emit({ type: 'chunk', index: i, kind: c.kind, offset: c.offset, length: c.length, status: 'stored', urgent });
        this.settle(i, bytes);
        this.pump();
        this.maybeFinish();
      },
      (e: unknown) => {
        this.active--;
        this.inflight.delete(i);
        this.settle(i, undefined, e);
        if (!this.abort.signal.aborted || !isAbort(e)) this.failWith(e);
        this.pump();
      },
    );
  }

  /** Chunk i's verified bytes: from memory, from the store (checked; dropped and re-fetched when
   *  damaged or missing), or from the network. */
  private async chunkBytes(i: number, signal?: AbortSignal): Promise<Uint8Array> {
    for (;;) {
      if (this.fatal) throw this.fatal;
      const hit = this.cache.get(i);
      if (hit) {
        this.cache.delete(i);
        this.cache.set(i, hit); // most recently used last
        return hit;
      }
      if (!this.done[i]) return abortable(this.want(i, 'urgent'), signal);
      const c = this.chunks[i];
      const key = keys.chunk(this.id, i);
      const record = await this.store.read(key);
      try {
        if (!record) throw new ChunkCorruptError(key, 'missing from the store');
        const bytes = await decodeChunk(key, record, c.offset, c.length, this.manifest.generation);
        this.remember(i, bytes);
        return bytes;
      } catch (e) {
        if (!(e instanceof ChunkCorruptError)) throw e;
        await this.drop(i);
      }
    }
  }

  private remember(i: number, bytes: Uint8Array): void {
    if (bytes.length > this.opts.cacheBytes) return;
    this.cache.set(i, bytes);
    this.cachedBytes += bytes.length;
    for (const [k, v] of this.cache) {
      if (this.cachedBytes <= this.opts.cacheBytes) break;
      this.cache.delete(k);
      this.cachedBytes -= v.length;
    }
  }

  private markDone(i: number): void {
    if (this.done[i]) return;
    this.done[i] = true;
    this.chunksDone++;
    this.bytesDone += this.chunks[i].length;
    this.saveSoon().catch((e) => this.failWith(e));
    this.emitProgress(false);
  }

  /** Forgets a damaged stored chunk so it is fetched again. */
  private async drop(i: number): Promise<void> {
    const c = this.chunks[i];
    this.ev.emit({ type: 'chunk', index: i, kind: c.kind, offset: c.offset, length: c.length, status: 'corrupt', urgent: true });
    await this.store.delete(keys.chunk(this.id, i));
    if (!this.done[i]) return;
    this.done[i] = false;
    this.chunksDone--;
    this.bytesDone -= c.length;
    this.manifest.complete = false;
    this.manifest.verified = false; // the re-fetched bytes are checked against the file's SHA-256 again
    await this.saveSoon();
  }

  private maybeFinish(): void {
    if (this.chunksDone < this.chunks.length || this.manifest.complete || this.finishing || this.fatal) return;
    this.finishing = this.finish()
      .catch((e) => this.failWith(e))
      .finally(() => {
        this.finishing = undefined;
      });
  }

  private async finish(): Promise<void> {
    const m = this.manifest;
    if (m.sha256 && !m.verified) {
      this.setPhase('verify');
      const h = new Sha256();
      for (let i = 0; i < this.chunks.length; i++) h.update(await this.chunkBytes(i));
      const actual = toHex(h.digest());
      if (actual !== m.sha256.toLowerCase()) {
        const e = new FileHashMismatchError(this.url, m.sha256, actual);
        this.fatal = e;
        await this.store.delete(keys.manifest(this.id));
        for (const key of await this.store.list(keys.chunkPrefix(this.id))) await this.store.delete(key);
        throw e;
      }
      m.verified = true;
    }
    if (this.chunksDone < this.chunks.length) return; // a chunk was dropped meanwhile: finish later
    m.complete = true;
    await this.saveSoon();
    this.setPhase('complete');
    this.run?.resolve();
    this.run = undefined;
  }

  private failWith(e: unknown): void {
    if (this.fatal && this.fatal !== e) return; // closed or already failed for good: nothing new to say
    if (e instanceof FileChangedError || e instanceof FileHashMismatchError) {
      this.fatal = e;
      for (const w of this.waiters.values()) w.reject(e);
      this.waiters.clear();
    }
    this.background = false;
    const err = e instanceof Error ? e : new Error(String(e));
    this.ev.emit({ type: 'error', name: err.name, code: (err as { code?: string }).code, message: err.message });
    this.setPhase('failed');
    this.run?.reject(e);
    this.run = undefined;
  }

  // ---- manifest and events ----

  /** Saves the manifest; saves requested while one is running coalesce into one more. */
  private saveSoon(): Promise<void> {
    this.dirty = true;
    this.saving ??= (async () => {
      try {
        while (this.dirty) {
          this.dirty = false;
          this.manifest.done = encodeBitmap(this.done);
          this.manifest.updatedAt = Date.now();
          await saveManifest(this.store, this.manifest);
        }
      } finally {
        this.saving = undefined;
      }
    })();
    return this.saving;
  }

  private setPhase(phase: DownloadPhase): void {
    if (this.phase === phase) return;
    this.phase = phase;
    this.emitProgress(true);
  }

  private emitProgress(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastProgress < this.opts.progressIntervalMs && this.chunksDone < this.chunks.length) return;
    this.lastProgress = now;
    this.ev.emit(this.progress());
  }
}
