// Several tabs, one download. The tabs (and the installed app) of one origin share IndexedDB: two of
// them loading the same model at once would each fetch every byte and race on its manifest. So a
// download holds a Web Lock named after the store and the model while it fetches (openModel takes
// it before it reads the manifest and lets it go when the file is complete, the download fails or
// is closed). A second tab that opens the model meanwhile waits in line for the lock: it fetches
// nothing, and when its turn comes it opens what the first one stored as any stored model, complete
// (nothing to fetch) or not (the first tab was closed or crashed, and the browser let its lock go:
// the second resumes from the chunks in the store, each checked against its SHA-256 as always).
// Meanwhile the downloading tab tells the waiting ones its progress on a BroadcastChannel of the
// lock's name, so they can show it. The cost: the waiting tab generates once the file is complete,
// not before.
import { deleteModel, idOf } from '../storage/models.ts';
import type { ByteStore } from '../storage/store.ts';
import { abortReason } from './errors.ts';
import type { DownloadProgress } from './progress.ts';

/** The part of the Web Locks API used here (navigator.locks; memoryLocks() in Node tests). */
export interface Locks {
  request(name: string, options: LockOptions, callback: (lock: Lock | null) => Promise<void>): Promise<unknown>;
}

/** The part of BroadcastChannel used here. */
export interface Channel {
  postMessage(message: unknown): void;
  onmessage: ((ev: MessageEvent) => unknown) | null;
  close(): void;
}

/** How downloads into one store are shared: the lock manager, and the store's name in it. */
export interface DownloadShare {
  locks: Locks;
  /** Stores of the same scope hold the same bytes (ByteStore.scope). */
  scope: string;
  /** Opens a channel to the other tabs (BroadcastChannel), for the progress; none: no progress. */
  channel?: (name: string) => Channel;
}

/** This tab's turn to download a model. */
export interface Turn {
  /** Tells the tabs waiting in line how the download goes. */
  progress(p: DownloadProgress): void;
  /** Ends the turn: the next tab in line goes on. */
  release(): void;
}

export interface TurnOptions {
  signal?: AbortSignal;
  /** Another tab downloads the model: this one waits (called once, first). */
  onWait?: () => void;
  /** That tab's progress, while this one waits. */
  onProgress?: (p: DownloadProgress) => void;
}

/** Sharing between the tabs and workers of this origin that open models in `store`, or undefined
 *  where there is nothing to share or no Web Locks: a store private to this process (no scope), Node,
 *  an insecure context. */
export function tabShare(store: Pick<ByteStore, 'scope'>): DownloadShare | undefined {
  const locks = globalThis.navigator?.locks;
  const channel = typeof BroadcastChannel === 'function' ? (name: string) => new BroadcastChannel(name) : undefined;
  return store.scope && locks ? { locks, scope: store.scope, channel } : undefined;
}

/** Waits for this tab's turn to download model `id`. Rejects with the signal's reason when it
 *  aborts while waiting. */
export async function downloadTurn(share: DownloadShare, id: string, opts: TurnOptions = {}): Promise<Turn> {
  const name = lockName(share, id);
  let release = await hold(share.locks, name, { ifAvailable: true });
  if (!release) {
    opts.onWait?.();
    const heard = share.channel?.(name);
    if (heard) heard.onmessage = (ev) => opts.onProgress?.(ev.data as DownloadProgress);
    try {
      release = (await hold(share.locks, name, opts.signal ? { signal: opts.signal } : {}))!;
    } catch (e) {
      throw opts.signal?.aborted ? abortReason(opts.signal) : e;
    } finally {
      heard?.close();
    }
  }
  const tell = share.channel?.(name);
  return {
    progress: (p) => tell?.postMessage(p),
    release: () => {
      tell?.close();
      release();
    },
  };
}

/** A model cannot be deleted while a tab or worker of this origin downloads it. */
export class ModelDownloadingError extends Error {
  override readonly name = 'ModelDownloadingError';
  readonly code = 'downloading';
  constructor(readonly modelId: string) {
    super(`model ${modelId} is being downloaded by another tab or worker: close it (or wait for the download to end), then delete`);
  }
}

/** Deletes a stored model (storage/models.ts deleteModel) in its download turn, so no tab is writing
 *  chunks meanwhile; throws ModelDownloadingError rather than wait when one is. Returns the keys removed. */
export async function deleteModelShared(store: ByteStore, idOrUrl: string, share = tabShare(store)): Promise<number> {
  if (!share) return deleteModel(store, idOrUrl);
  const id = await idOf(idOrUrl);
  const release = await hold(share.locks, lockName(share, id), { ifAvailable: true });
  if (!release) throw new ModelDownloadingError(id);
  try {
    return await deleteModel(store, id);
  } finally {
    release();
  }
}

const lockName = (share: DownloadShare, id: string) => `webmoe-download/${share.scope}/${id}`;

/** Requests the lock; resolves with its release once granted, or undefined if not available. */
function hold(locks: Locks, name: string, options: LockOptions): Promise<(() => void) | undefined> {
  return new Promise((resolve, reject) => {
    locks.request(name, options, async (lock) => {
      if (!lock) return resolve(undefined);
      await new Promise<void>((release) => resolve(release)); // held until released
    }).catch(reject);
  });
}

/** Exclusive locks within this process, with the Web Locks semantics used above (ifAvailable,
 *  signal, release when the callback settles): Node tests. */
export function memoryLocks(): Locks {
  const queues = new Map<string, (() => void)[]>(); // the holder's run first, then the waiting ones
  const next = (name: string) => {
    const q = queues.get(name)!;
    q.shift();
    if (q.length) q[0]();
    else queues.delete(name);
  };
  return {
    request(name, options, callback) {
      return new Promise<void>((resolve, reject) => {
        const q = queues.get(name) ?? [];
        if (q.length && options.ifAvailable) return void callback(null).then(resolve, reject);
        const run = () => void callback({ name, mode: 'exclusive' }).then(resolve, reject).finally(() => next(name));
        queues.set(name, q);
        q.push(run);
        if (q.length === 1) return run();
        options.signal?.addEventListener('abort', () => {
          const at = q.indexOf(run);
          if (at < 1) return; // granted already: the signal no longer matters
          q.splice(at, 1);
          reject(options.signal!.reason);
        }, { once: true });
      });
    },
  };
}
