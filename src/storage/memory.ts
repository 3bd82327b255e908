// In-memory store: tests, and a fallback where nothing persists. `quota` (bytes) makes a write that
// would exceed it throw StorageQuotaError, as a full browser origin does.
import { checkKey, clip, StorageQuotaError, type ByteRange, type ByteStore, type StoreEstimate } from './store.ts';

export interface MemoryStore extends ByteStore {
  /** The values themselves (tests flip bits in them). */
  readonly map: Map<string, Uint8Array>;
}

export function memoryStore(opts: { quota?: number } = {}): MemoryStore {
  const map = new Map<string, Uint8Array>();
  const usage = () => [...map.values()].reduce((n, v) => n + v.length, 0);
  return {
    kind: 'memory',
    map,
    read: async (key: string, range?: ByteRange) => {
      const v = map.get(key);
      return v && clip(v, range).slice();
    },
    write: async (key: string, bytes: Uint8Array) => {
      checkKey(key);
      const quota = opts.quota ?? Infinity;
      const after = usage() - (map.get(key)?.length ?? 0) + bytes.length;
      if (after > quota) throw new StorageQuotaError(bytes.length, quota - usage(), `memory store quota ${quota} bytes`);
      map.set(key, bytes.slice());
    },
    has: async (key: string) => map.has(key),
    list: async (prefix = '') => [...map.keys()].filter((k) => k.startsWith(prefix)).sort(),
    delete: async (key: string) => {
      map.delete(key);
    },
    estimate: async (): Promise<StoreEstimate> => ({ usage: usage(), quota: opts.quota ?? Infinity }),
    persist: async () => false,
  };
}
