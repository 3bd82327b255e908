// The byte store behind model downloads: a small key → bytes interface with three backends
// (IndexedDB in the browser, the filesystem in Node, memory for tests). Keys are '/'-separated
// paths of [A-Za-z0-9._-] segments. A write is atomic: after a crash a key holds the old value or
// the new one, never a mix.

/** Bytes [offset, offset + length) of a value. */
export interface ByteRange {
  offset: number;
  length: number;
}

export interface StoreEstimate {
  /** Bytes used by this origin (browser) or by the store's directory (Node). */
  usage: number;
  /** Bytes this origin may use in all (browser), or usage + free disk (Node). Infinity when unknown. */
  quota: number;
  /** Whether the browser promised not to evict this origin's data; undefined when unknown. */
  persisted?: boolean;
}

export interface ByteStore {
  /** 'indexeddb', 'fs', 'memory': for messages. */
  readonly kind: string;
  /** Names the bytes for everyone who can open the same store: every tab and worker of this origin
   *  that opens IndexedDB database "webmoe" gets 'indexeddb/webmoe'. Downloads into stores with the
   *  same scope are shared between tabs (src/fetch/share.ts). Undefined: private to this process. */
  readonly scope?: string;
  /** The value's bytes (or the range of them, clipped to the value), or undefined if absent. */
  read(key: string, range?: ByteRange): Promise<Uint8Array | undefined>;
  /** Stores a value atomically, replacing any old one. Throws StorageQuotaError when full. */
  write(key: string, bytes: Uint8Array): Promise<void>;
  has(key: string): Promise<boolean>;
  /** Keys that start with `prefix`, sorted. */
  list(prefix?: string): Promise<string[]>;
  /** Removes a key; absent keys are fine. */
  delete(key: string): Promise<void>;
  estimate(): Promise<StoreEstimate>;
  /** Asks that the data not be evicted under storage pressure (browser); true if granted. */
  persist?(): Promise<boolean>;
  close?(): Promise<void>;
}

/** The store would exceed its quota (or the disk is full). Nothing of a model is marked complete
 *  that was not fully written. */
export class StorageQuotaError extends Error {
  override name = 'StorageQuotaError';
  readonly code = 'quota';
  constructor(readonly neededBytes: number | undefined, readonly availableBytes: number | undefined, detail = '') {
    super(`not enough storage${neededBytes !== undefined ? `: the model needs ${mb(neededBytes)} more` : ''}` +
      `${availableBytes !== undefined ? `, ${mb(availableBytes)} is available` : ''}${detail ? ` (${detail})` : ''}. ` +
      'Delete stored models you no longer need (listModels / deleteModel), free disk space, or use a smaller model; ' +
      'downloads resume from where they stopped');
  }
}

/** The store cannot be opened or used (IndexedDB missing or blocked, a private window, a bad path). */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  readonly code = 'store-unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function mb(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Throws unless `key` is a valid store key (also keeps fs keys inside their directory). */
export function checkKey(key: string): void {
  const parts = key.split('/');
  if (!parts.every((p) => SEGMENT.test(p) && p !== '.' && p !== '..')) {
    throw new TypeError(`bad store key "${key}": use '/'-separated segments of letters, digits, '.', '_', '-'`);
  }
}

/** A tight copy unless `bytes` already spans its whole buffer (structured clone and transfer copy
 *  whole buffers, so a small view of a large buffer must not be stored as it is). */
export function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes.buffer;
  return bytes.slice().buffer as ArrayBuffer;
}

export function clip(bytes: Uint8Array, range?: ByteRange): Uint8Array {
  if (!range) return bytes;
  const start = Math.min(bytes.length, range.offset);
  return bytes.subarray(start, Math.min(bytes.length, start + range.length));
}
