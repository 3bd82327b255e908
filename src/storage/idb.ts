// IndexedDB store: one object store of key → ArrayBuffer, in a database whose schema is versioned
// (upgrade() migrates step by step). A connection the browser closes (storage cleared, another tab
// upgrading the schema) is dropped and reopened on the next call. Each write is one transaction,
// so it commits whole or not at all.
import {
  checkKey, clip, ownBuffer, StorageQuotaError, StoreUnavailableError,
  type ByteRange, type ByteStore, type StoreEstimate,
} from './store.ts';

/** Schema version: bump it and add a step to upgrade() to change the layout. */
export const IDB_VERSION = 1;
const OBJECTS = 'bytes';

export interface IdbStoreOptions {
  /** Database name; default 'webmoe'. */
  name?: string;
  /** The IDBFactory (fake-indexeddb in Node tests); default globalThis.indexedDB. */
  indexedDB?: IDBFactory;
}

export interface IdbStore extends ByteStore {
  /** Times a connection was opened (1 + reopens): tests check that a closed one is replaced. */
  readonly opens: number;
}

function upgrade(db: IDBDatabase, oldVersion: number): void {
  // Version 1: values are ArrayBuffers under out-of-line string keys.
  if (oldVersion < 1) db.createObjectStore(OBJECTS);
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export function idbStore(opts: IdbStoreOptions = {}): IdbStore {
  const name = opts.name ?? 'webmoe';
  let db: Promise<IDBDatabase> | undefined;
  let opens = 0;

  const open = (): Promise<IDBDatabase> => {
    const factory = opts.indexedDB ?? globalThis.indexedDB;
    if (!factory) return Promise.reject(new StoreUnavailableError('IndexedDB is not available here; WebMoE stores models in IndexedDB (in Node, use the filesystem store)'));
    opens++;
    return new Promise<IDBDatabase>((resolve, reject) => {
      const req = factory.open(name, IDB_VERSION);
      req.onupgradeneeded = (e) => upgrade(req.result, e.oldVersion);
      req.onblocked = () => reject(new StoreUnavailableError(`IndexedDB "${name}" is held open at an older version by another tab of this site: close it and reload`));
      req.onerror = () => reject(req.error?.name === 'VersionError'
        ? new StoreUnavailableError(`IndexedDB "${name}" was upgraded by a newer WebMoE (another tab?): reload this page`, { cause: req.error })
        : new StoreUnavailableError(`cannot open IndexedDB "${name}" (${req.error?.name}: ${req.error?.message}); private windows and some browser settings disable it`, { cause: req.error }));
      req.onsuccess = () => {
        const conn = req.result;
        // Another tab wants a newer schema: let it. The next call reopens, and says "reload" if
        // that schema is newer than this code knows.
        conn.onversionchange = () => {
          conn.close();
          db = undefined;
        };
        // The browser closed the connection (storage cleared, disk error).
        conn.onclose = () => {
          db = undefined;
        };
        resolve(conn);
      };
    });
  };

  /** Runs `fn` in a transaction, reopening once if the connection turned out to be closed. */
  const run = async <T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> => {
    for (let tries = 0; ; tries++) {
      const conn = await (db ??= open().catch((e) => {
        db = undefined;
        throw e;
      }));
      let tx: IDBTransaction;
      try {
        tx = conn.transaction(OBJECTS, mode);
      } catch (e) {
        // InvalidStateError: the connection is closing or closed under us.
        db = undefined;
        if (tries === 0) continue;
        throw new StoreUnavailableError(`IndexedDB "${name}" keeps closing: ${String(e)}`, { cause: e });
      }
      const result = request(fn(tx.objectStore(OBJECTS)));
      result.catch(() => {}); // its error also aborts the transaction, reported below
      // The transaction's completion, not the request's success, means the write is committed.
      await new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onabort = tx.onerror = () => reject(tx.error);
      }).catch((e: unknown) => {
        if (e instanceof DOMException && e.name === 'QuotaExceededError') throw new StorageQuotaError(undefined, undefined, 'IndexedDB refused the write');
        throw e;
      });
      return result;
    }
  };

  return {
    kind: 'indexeddb',
    scope: `indexeddb/${name}`,
    get opens() {
      return opens;
    },
    read: async (key: string, range?: ByteRange) => {
      const v = await run('readonly', (s) => s.get(key) as IDBRequest<ArrayBuffer | undefined>);
      return v === undefined ? undefined : clip(new Uint8Array(v), range);
    },
    write: async (key: string, bytes: Uint8Array) => {
      checkKey(key);
      await run('readwrite', (s) => s.put(ownBuffer(bytes), key));
    },
    has: async (key: string) => (await run('readonly', (s) => s.getKey(key))) !== undefined,
    list: async (prefix = '') => {
      const keys = await run('readonly', (s) => s.getAllKeys(prefix ? IDBKeyRange.bound(prefix, prefix + '\uffff') : undefined));
      return (keys as string[]).sort();
    },
    delete: async (key: string) => {
      await run('readwrite', (s) => s.delete(key));
    },
    estimate: async (): Promise<StoreEstimate> => {
      const storage = globalThis.navigator?.storage;
      if (!storage?.estimate) return { usage: 0, quota: Infinity };
      const e = await storage.estimate();
      const persisted = storage.persisted ? await storage.persisted() : undefined;
      return { usage: e.usage ?? 0, quota: e.quota ?? Infinity, persisted };
    },
    persist: async () => {
      const storage = globalThis.navigator?.storage;
      return storage?.persist ? storage.persist() : false;
    },
    close: async () => {
      const conn = db;
      db = undefined;
      if (conn) (await conn).close();
    },
  };
}
