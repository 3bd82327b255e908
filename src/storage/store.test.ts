// The same contract for every backend: memory, filesystem, IndexedDB (fake-indexeddb in Node).
import 'fake-indexeddb/auto';
import { forceCloseDatabase } from 'fake-indexeddb';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fsStore } from './fs.ts';
import { idbStore } from './idb.ts';
import { memoryStore } from './memory.ts';
import { StorageQuotaError, type ByteStore } from './store.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

let dbCount = 0;
const backends: [string, () => Promise<ByteStore>][] = [
  ['memory', async () => memoryStore()],
  ['fs', async () => {
    const d = await mkdtemp(join(tmpdir(), 'webmoe-store-'));
    dirs.push(d);
    return fsStore(join(d, 'store'));
  }],
  ['indexeddb', async () => idbStore({ name: `store-test-${dbCount++}` })],
];

const bytes = (...v: number[]) => new Uint8Array(v);

describe.each(backends)('%s store', (_name, make) => {
  it('writes, reads whole and by range, overwrites, lists by prefix, deletes', async () => {
    const s = await make();
    expect(await s.read('a/b')).toBeUndefined();
    expect(await s.has('a/b')).toBe(false);
    await s.write('a/b', bytes(1, 2, 3, 4, 5));
    await s.write('a/c', bytes(9));
    await s.write('z', bytes(7, 7));
    expect(await s.has('a/b')).toBe(true);
    expect([...(await s.read('a/b'))!]).toEqual([1, 2, 3, 4, 5]);
    expect([...(await s.read('a/b', { offset: 1, length: 3 }))!]).toEqual([2, 3, 4]);
    expect([...(await s.read('a/b', { offset: 3, length: 100 }))!]).toEqual([4, 5]); // clipped
    expect([...(await s.read('a/b', { offset: 10, length: 2 }))!]).toEqual([]);
    await s.write('a/b', bytes(6)); // replaces, not appends
    expect([...(await s.read('a/b'))!]).toEqual([6]);
    expect(await s.list('a/')).toEqual(['a/b', 'a/c']);
    expect(await s.list()).toEqual(['a/b', 'a/c', 'z']);
    await s.delete('a/b');
    await s.delete('a/missing'); // absent is fine
    expect(await s.list('a/')).toEqual(['a/c']);
    const e = await s.estimate();
    expect(e.usage).toBeGreaterThanOrEqual(0);
    expect(e.quota).toBeGreaterThan(0);
    await s.close?.();
  });

  it('stores a view of a larger buffer as just the view', async () => {
    const s = await make();
    const big = new Uint8Array(1000).map((_, i) => i & 255);
    await s.write('v', big.subarray(10, 14));
    expect([...(await s.read('v'))!]).toEqual([10, 11, 12, 13]);
  });

  it('refuses keys that could escape or collide', async () => {
    const s = await make();
    for (const k of ['../x', 'a//b', '', 'a/./b', 'a b', 'a\\b']) await expect(s.write(k, bytes(1)), k).rejects.toThrow(/bad store key/);
  });
});

describe('memory store', () => {
  it('throws StorageQuotaError past its quota', async () => {
    const s = memoryStore({ quota: 10 });
    await s.write('a', new Uint8Array(8));
    await expect(s.write('b', new Uint8Array(3))).rejects.toBeInstanceOf(StorageQuotaError);
    await s.write('a', new Uint8Array(10)); // a replacement counts the old value out
    expect((await s.estimate()).usage).toBe(10);
  });
});

describe('fs store', () => {
  it('leaves no temporary files behind', async () => {
    const d = await mkdtemp(join(tmpdir(), 'webmoe-store-'));
    dirs.push(d);
    const s = fsStore(d);
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.write('k/x', new Uint8Array(1000).fill(i))));
    expect(await readdir(join(d, 'k'))).toEqual(['x']);
    const v = (await s.read('k/x'))!;
    expect(v.every((b) => b === v[0])).toBe(true); // one whole write won, not a mix
  });
});

describe('indexeddb store', () => {
  it('reopens a connection the browser closed', async () => {
    const opened: IDBDatabase[] = [];
    const factory = {
      open: (name: string, version?: number) => {
        const req = indexedDB.open(name, version);
        req.addEventListener('success', () => opened.push(req.result));
        return req;
      },
    } as IDBFactory;
    const s = idbStore({ name: 'reopen-test', indexedDB: factory });
    await s.write('k', bytes(1, 2));
    expect(s.opens).toBe(1);
    // What a browser does when the user clears site data. (fake-indexeddb types the argument as the
    // class, not an instance.)
    forceCloseDatabase(opened[0] as unknown as Parameters<typeof forceCloseDatabase>[0]);
    expect([...(await s.read('k'))!]).toEqual([1, 2]);
    expect(s.opens).toBe(2);
  });

  it('steps aside when another tab upgrades the schema, then reports the newer version clearly', async () => {
    const s = idbStore({ name: 'upgrade-test' });
    await s.write('k', bytes(3));
    const other = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open('upgrade-test', 99);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    other.close();
    await expect(s.read('k')).rejects.toThrow(/upgraded by a newer WebMoE.*reload this page/);
  });
});
