// openModel: the entry point for a model at a URL. A new model: its GGUF header is read by small
// ranges, the file is cut into chunks, the quota is checked and persistence asked for, and a manifest
// is written. A stored one: the server is asked whether the file is still the same (a changed file
// restarts the download), and the manifest is reconciled with the chunks actually in the store.
// With `share`, one tab at a time downloads a model: the others wait for its turn (share.ts).
import { readGGUF } from '../gguf/reader.ts';
import type { GGUFFile } from '../gguf/types.ts';
import { ModelFormatError } from '../model/hparams.ts';
import { planModel, UnsupportedArchError, type ModelPlan } from '../model/plan.ts';
import { ChunkCorruptError, decodeChunk, encodeChunk } from '../storage/chunk.ts';
import {
  chunkIndexOf, decodeBitmap, encodeBitmap, keys, loadManifest, MANIFEST_FORMAT, modelId, saveManifest, type ModelManifest,
} from '../storage/manifest.ts';
import { deleteModel } from '../storage/models.ts';
import { mb, StorageQuotaError, type ByteStore } from '../storage/store.ts';
import { chunksFromEnds, kindLetters, chunkEnds, planChunks, type Chunk } from './chunks.ts';
import { ModelDownload, type SchedulerOptions } from './download.ts';
import { abortReason, FetchError, FileChangedError, isAbort } from './errors.ts';
import { Emitter, type DownloadEvent } from './progress.ts';
import { fetchContext, fetchRange, identityChange, type FetchContext } from './range.ts';
import { remoteSource } from './remote-source.ts';
import { retryPolicy, type RetryPolicy } from './retry.ts';
import { downloadTurn, type DownloadShare, type Turn } from './share.ts';

export interface OpenModelOptions extends Partial<SchedulerOptions> {
  /** An http(s) URL that serves byte ranges. */
  url: string;
  store: ByteStore;
  /** The whole file's SHA-256 (hex), checked once every chunk is stored. */
  sha256?: string;
  /** Target chunk size in bytes (a new download only; a stored one keeps its own). */
  chunkBytes?: number;
  /** Target size of chunks of expert weights, bytes (default 1 MiB; never above chunkBytes). */
  expertChunkBytes?: number;
  retry?: Partial<RetryPolicy>;
  /** fetch to use (tests); default globalThis.fetch. */
  fetch?: typeof fetch;
  /** Extra request options, e.g. headers: { Authorization: 'Bearer hf_…' } for a gated model. */
  init?: RequestInit;
  /** Aborting closes the download: requests stop, stored chunks stay for the next open. */
  signal?: AbortSignal;
  onEvent?: (e: DownloadEvent) => void;
  /** When the stored chunks belong to an older version of the file: start over (default) or throw
   *  FileChangedError. */
  ifChanged?: 'restart' | 'error';
  /** Ask the server whether a complete stored model is still current (default: no request at all). */
  revalidate?: boolean;
  /** Downloads shared with the other tabs and workers of this origin that open the same model in
   *  the same store (tabShare(store) from share.ts): one of them fetches, the others wait for it and
   *  then open what it stored. Default: none. */
  share?: DownloadShare;
}

const DEFAULTS: SchedulerOptions = { concurrency: 4, urgentExtra: 2, cacheBytes: 32 << 20, progressIntervalMs: 250 };

/** Opens the model at `opts.url`: ready to read its header and, through ensureRange / ensureExpert,
 *  its weights; call start() to download the rest in the background. */
export async function openModel(opts: OpenModelOptions): Promise<ModelDownload> {
  opts.signal?.throwIfAborted();
  const sched: SchedulerOptions = {
    concurrency: opts.concurrency ?? DEFAULTS.concurrency, urgentExtra: opts.urgentExtra ?? DEFAULTS.urgentExtra,
    cacheBytes: opts.cacheBytes ?? DEFAULTS.cacheBytes, progressIntervalMs: opts.progressIntervalMs ?? DEFAULTS.progressIntervalMs,
  };
  const { url, store } = opts;
  const id = await modelId(url);
  const ev = new Emitter(opts.onEvent);
  const abort = new AbortController();
  const onAbort = () => abort.abort(abortReason(opts.signal!));
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const policy = retryPolicy(opts.retry);
  const newCtx = (): FetchContext => fetchContext(url, policy, {
    ...(opts.fetch && { fetch: opts.fetch }), init: opts.init, signal: abort.signal,
    onBytes: (n) => ev.fetched(n),
    onRetry: (r) => {
      ev.retries++;
      ev.emit({ type: 'retry', offset: r.offset, length: r.length, attempt: r.attempt, delayMs: r.delayMs, error: `${r.error.name}: ${r.error.message}` });
    },
  });

  let turn: Turn | undefined;
  try {
    if (opts.share) {
      turn = await downloadTurn(opts.share, id, {
        signal: opts.signal,
        onWait: () => ev.emit({
          type: 'notice', what: 'shared',
          message: `another tab of this site is downloading ${url}: this one waits for it, then loads the model from the store`,
        }),
        onProgress: (p) => ev.emit({ ...p, bytesFetched: 0 }), // that tab's download, none of this one's
      });
    }
    let manifest = await loadManifest(store, id);
    if (manifest && (!manifest.complete || opts.revalidate)) manifest = await revalidate(manifest, newCtx(), opts, ev);
    const dl = manifest
      ? await resume(manifest, newCtx(), opts, ev, abort, sched)
      : await fresh(id, newCtx(), opts, ev, abort, sched);
    opts.signal?.addEventListener('abort', () => void dl.close(abortReason(opts.signal!)), { once: true });
    // The turn ends when this tab stops downloading: the next tab in line opens what it stored.
    if (turn && dl.complete) turn.release();
    else if (turn) {
      const t = turn;
      const off = dl.on((e) => {
        if (e.type !== 'progress') return;
        t.progress(e);
        if (e.phase === 'complete' || e.phase === 'failed' || e.phase === 'closed') {
          off();
          t.release();
        }
      });
    }
    if (opts.signal?.aborted) await dl.close(abortReason(opts.signal));
    return dl;
  } catch (e) {
    turn?.release();
    abort.abort(e);
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** Asks the server for one byte: the same file goes on; another one restarts (or throws). Offline
 *  with a complete model is fine. Returns the manifest to resume, or undefined to start over. */
async function revalidate(m: ModelManifest, ctx: FetchContext, opts: OpenModelOptions, ev: Emitter): Promise<ModelManifest | undefined> {
  let changed: string | undefined;
  try {
    await fetchRange(ctx, 0, 1, true); // sets ctx.identity from the answer
    changed = identityChange(m.identity, ctx.identity!);
  } catch (e) {
    if (e instanceof FileChangedError) changed = e.what;
    else if (m.complete && e instanceof FetchError && !isAbort(e)) {
      ev.emit({ type: 'notice', what: 'offline', message: `${m.url} could not be checked (${e.message}); using the stored model` });
      return m;
    } else throw e;
  }
  if (!changed) return m;
  if (opts.ifChanged === 'error') throw new FileChangedError(m.url, changed);
  ev.emit({ type: 'notice', what: 'restarted', message: `${m.url} changed on the server (${changed}); its stored chunks were discarded and the download starts over` });
  await deleteModel(opts.store, m.id);
  return undefined;
}

/** Needs `bytes` more in the store, with a margin for records and manifest. */
async function checkQuota(s: ByteStore, bytes: number, chunks: number): Promise<void> {
  if (bytes <= 0) return;
  const e = await s.estimate();
  const available = e.quota - e.usage;
  const needed = bytes + chunks * 64 + (1 << 20);
  if (needed > available) throw new StorageQuotaError(needed, Math.max(0, available), `${mb(e.usage)} used of a ${mb(e.quota)} quota`);
}

async function fresh(id: string, ctx: FetchContext, opts: OpenModelOptions, ev: Emitter, abort: AbortController, sched: SchedulerOptions): Promise<ModelDownload> {
  const s = opts.store;
  // Chunks left without a manifest (an interrupted delete, an unreadable manifest) are of no use.
  await deleteModel(s, id);
  ev.emit(blankProgress('header', id, opts.url));
  const src = remoteSource(opts.url, { ctx });
  const file = await readGGUF(src);
  const identity = ctx.identity!;
  if (!identity.etag && !identity.lastModified) {
    ev.emit({ type: 'notice', what: 'no-validators', message: `${opts.url} sends neither ETag nor Last-Modified: if the file is replaced by one of the same length during the download, only a SHA-256 given to openModel can tell` });
  }
  const plan = planIfSupported(file);
  const chunks = planChunks(file, identity.size, { experts: plan?.expertTensors, target: opts.chunkBytes, expertTarget: opts.expertChunkBytes });
  await checkQuota(s, identity.size, chunks.length);
  const persisted = s.persist ? await s.persist() : false;
  ev.emit({
    type: 'notice', what: persisted ? 'persisted' : 'not-persisted',
    message: persisted ? 'the browser will keep the model under storage pressure' : 'the browser may evict the model under storage pressure (persistent storage was not granted)',
  });
  const name = file.metadata.get('general.name')?.value;
  const now = Date.now();
  const manifest: ModelManifest = {
    format: MANIFEST_FORMAT, id, url: opts.url, name: typeof name === 'string' ? name : undefined, identity, sha256: opts.sha256?.toLowerCase(),
    verified: false, headerBytes: file.dataOffset, chunkEnds: chunkEnds(chunks), chunkKinds: kindLetters(chunks),
    done: encodeBitmap(chunks.map(() => false)), complete: false,
    generation: (Math.random() * 2 ** 32) >>> 0, createdAt: now, updatedAt: now,
  };
  // The bytes read for the header cover the first chunks: store those instead of fetching them again.
  const prefix = src.prefix();
  const done = chunks.map(() => false);
  for (const c of chunks) {
    if (c.offset + c.length > prefix.length) break;
    await s.write(keys.chunk(id, c.index), await encodeChunk(c.offset, prefix.subarray(c.offset, c.offset + c.length), manifest.generation));
    done[c.index] = true;
  }
  manifest.done = encodeBitmap(done);
  await saveManifest(s, manifest);
  const dl = new ModelDownload(id, opts.url, s, manifest, chunks, done, [], ctx, ev, abort, sched);
  dl.file = file;
  dl.plan = plan;
  return dl;
}

async function resume(m: ModelManifest, ctx: FetchContext, opts: OpenModelOptions, ev: Emitter, abort: AbortController, sched: SchedulerOptions): Promise<ModelDownload> {
  const s = opts.store;
  ev.emit(blankProgress('resume', m.id, m.url));
  ctx.identity = m.identity;
  const chunks = chunksFromEnds(m.chunkEnds, m.chunkKinds);
  const done = reconcile(m, chunks, await s.list(keys.chunkPrefix(m.id)));
  for (const i of done.adopt) {
    // Stored but not yet in the manifest (a crash between the two writes): keep it if it checks out.
    const key = keys.chunk(m.id, i);
    const record = await s.read(key);
    try {
      if (!record) continue;
      await decodeChunk(key, record, chunks[i].offset, chunks[i].length, m.generation);
      done.bits[i] = true;
    } catch (e) {
      if (!(e instanceof ChunkCorruptError)) throw e;
      await s.delete(key);
    }
  }
  for (const key of done.stray) await s.delete(key);
  if (opts.sha256 && opts.sha256.toLowerCase() !== m.sha256) {
    m.sha256 = opts.sha256.toLowerCase();
    m.verified = false;
  }
  if (m.complete && (!done.bits.every(Boolean) || (m.sha256 && !m.verified))) m.complete = false;
  const missing = chunks.reduce((n, c) => n + (done.bits[c.index] ? 0 : c.length), 0);
  await checkQuota(s, missing, chunks.length);
  const resumed = chunks.filter((c) => done.bits[c.index]).map((c) => c.index);
  const dl = new ModelDownload(m.id, m.url, s, m, chunks, done.bits, resumed, ctx, ev, abort, sched);
  dl.file = await readGGUF(dl.source());
  dl.plan = planIfSupported(dl.file);
  return dl;
}

/** The model plan, or undefined for a file WebMoE cannot run (it can still be downloaded). */
function planIfSupported(file: GGUFFile): ModelPlan | undefined {
  try {
    return planModel(file);
  } catch (e) {
    if (e instanceof ModelFormatError || e instanceof UnsupportedArchError) return undefined;
    throw e;
  }
}

/** Which chunks are done: listed in the manifest and present; present but unlisted ones are to be
 *  checked (`adopt`); keys of no chunk are `stray`. */
function reconcile(m: ModelManifest, chunks: Chunk[], present: string[]): { bits: boolean[]; adopt: number[]; stray: string[] } {
  const listed = decodeBitmap(m.done, chunks.length);
  const bits = chunks.map(() => false);
  const adopt: number[] = [], stray: string[] = [];
  for (const key of present) {
    const i = chunkIndexOf(key);
    if (i === undefined || i >= chunks.length) stray.push(key);
    else if (listed[i]) bits[i] = true;
    else adopt.push(i);
  }
  return { bits, adopt, stray };
}

function blankProgress(phase: 'header' | 'resume', modelId: string, url: string): DownloadEvent {
  return {
    type: 'progress', phase, modelId, url, bytesDone: 0, bytesTotal: 0, chunksDone: 0, chunksTotal: 0, chunksResumed: 0,
    bytesFetched: 0, rate: 0, retries: 0,
  };
}
