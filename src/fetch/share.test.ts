// Several openers of one model on one store (tabs, in a browser), in Node: they share a lock
// manager with the Web Locks semantics share.ts uses, and Node's BroadcastChannel. One opener
// downloads; the other waits for its turn (seeing its progress) and opens what was stored, fetching
// nothing; an opener closed mid-download leaves the other one resuming from the store and fetching
// only what is missing; a waiting opener can be cancelled.
import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_RETRY, sameBytes, TEST_CHUNK_BYTES, testModel } from '../../tools/faultserver/fixtures.ts';
import { startFaultServer, type FaultServer } from '../../tools/faultserver/server.ts';
import { idbStore } from '../storage/idb.ts';
import { memoryStore } from '../storage/memory.ts';
import type { ByteStore } from '../storage/store.ts';
import { openModel } from './open.ts';
import type { DownloadEvent } from './progress.ts';
import { listModels } from '../storage/models.ts';
import { deleteModelShared, memoryLocks, ModelDownloadingError, tabShare, type DownloadShare } from './share.ts';

const model = testModel(1); // 2.4 MB: ~40 chunks of 64 KiB
const sha256 = createHash('sha256').update(model).digest('hex');
let server: FaultServer;
let n = 0;
const channel = (name: string) => new BroadcastChannel(name);

beforeAll(async () => {
  server = await startFaultServer();
});
afterAll(() => server.close());

/** The model at a new path, its body sent at `rate` bytes/s. */
function serve(rate: number) {
  const path = `/s${n++}.gguf`;
  server.serve(path, model, { rate });
  return { path, url: server.url(path) };
}

/** One opener ("tab") on `store`, its events recorded. */
function open(url: string, store: ByteStore, share: DownloadShare, signal?: AbortSignal) {
  const events: DownloadEvent[] = [];
  const p = openModel({ url, store, share, sha256, signal, chunkBytes: TEST_CHUNK_BYTES, retry: FAST_RETRY, onEvent: (e) => events.push(e) });
  const notices = () => events.flatMap((e) => (e.type === 'notice' ? [e.what] : []));
  return { p, events, notices };
}

const stores: [string, () => [ByteStore, ByteStore]][] = [
  ['memory', () => {
    const s = memoryStore();
    return [s, s];
  }],
  // Two connections to one database, as two tabs have.
  ['indexeddb', () => {
    const name = `share-test-${n++}`;
    return [idbStore({ name }), idbStore({ name })];
  }],
];

describe.each(stores)('two openers of one model in the %s store', (_kind, make) => {
  it('one downloads, the other waits and opens the stored file: the server sends it once', async () => {
    const [sa, sb] = make();
    const share = { locks: memoryLocks(), scope: sa.scope ?? 'memory', channel };
    expect(sb.scope ?? 'memory').toBe(share.scope);
    const { path, url } = serve(4_000_000); // ~0.6 s
    // One after the other: opened together, either may take the turn first (modelId hashes the URL
    // asynchronously), and the test starts only a's download.
    const a = open(url, sa, share);
    const da = await a.p;
    const b = open(url, sb, share);
    await new Promise((r) => setTimeout(r, 50));
    expect(b.notices()).toEqual(['shared']); // waiting
    await da.start();
    const db = await b.p;
    expect(db.complete).toBe(true);
    expect(db.progress()).toMatchObject({ bytesFetched: 0, chunksResumed: db.progress().chunksTotal });
    // While it waited, it heard how the other one's download went.
    const heard = b.events.flatMap((e) => (e.type === 'progress' && e.phase === 'download' && e.bytesDone > 0 ? [e] : []));
    expect(heard.length).toBeGreaterThan(0);
    expect(heard.every((e) => e.bytesFetched === 0 && e.bytesTotal === model.length)).toBe(true);
    expect(sameBytes(await da.ensureRange(0, da.size), model)).toBe(true);
    expect(sameBytes(await db.ensureRange(0, db.size), model)).toBe(true);
    const sent = server.bytesSent(path);
    console.log('share: two openers', JSON.stringify({ file: model.length, sent, ratio: +(sent / model.length).toFixed(3) }));
    expect(sent).toBeLessThanOrEqual(1.1 * model.length);
    await Promise.all([da.close(), db.close()]);
  });
});

describe('several openers of one model', () => {
  it('the downloading one is closed mid-download: the next one resumes from the store', async () => {
    const store = memoryStore();
    const share = { locks: memoryLocks(), scope: 'memory', channel };
    const { path, url } = serve(1_500_000); // ~1.6 s
    const a = open(url, store, share);
    const da = await a.p;
    const b = open(url, store, share);
    void da.start().catch(() => {});
    // The waiting one hears when a third is stored.
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (b.events.some((e) => e.type === 'progress' && e.bytesDone >= model.length / 3)) resolve(clearInterval(t));
      }, 10);
    });
    expect(b.notices()).toEqual(['shared']);
    const third = da.progress();
    await da.close();
    const db = await b.p;
    expect(db.complete).toBe(false);
    expect(db.progress().chunksResumed).toBeGreaterThan(0);
    await db.start();
    expect(db.complete).toBe(true); // and checked against the file's SHA-256
    const fetched = db.progress().bytesFetched;
    // At most what was not stored when the first one was closed (+ the 1-byte check of the file).
    expect(fetched).toBeLessThanOrEqual(model.length - third.bytesDone + 1);
    expect(sameBytes(await db.ensureRange(0, db.size), model)).toBe(true);
    console.log('share: closed mid-download', JSON.stringify({ file: model.length, storedAtClose: third.bytesDone, fetchedAfter: fetched, sent: server.bytesSent(path) }));
    await db.close();
  });

  it('an opener waiting for its turn can be cancelled; the next one in line gets the turn', async () => {
    const store = memoryStore();
    const share = { locks: memoryLocks(), scope: 'memory', channel };
    const { url } = serve(1_000_000);
    const da = await open(url, store, share).p;
    const ac = new AbortController();
    const b = open(url, store, share, ac.signal);
    const c = open(url, store, share);
    await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    await expect(b.p).rejects.toMatchObject({ name: 'AbortError' });
    await da.close();
    const dc = await c.p;
    expect(c.notices()).toContain('shared');
    await dc.close();
  });

  it('a model being downloaded is not deleted (ModelDownloadingError, nothing removed); once its turn ends, it is', async () => {
    const store = memoryStore();
    const share = { locks: memoryLocks(), scope: 'memory' };
    const { url } = serve(1_000_000);
    const da = await open(url, store, share).p;
    const stored = await store.list('');
    expect(stored.length).toBeGreaterThan(0);
    await expect(deleteModelShared(store, url, share)).rejects.toBeInstanceOf(ModelDownloadingError);
    expect(await store.list('')).toEqual(stored);
    await da.close();
    expect(await deleteModelShared(store, url, share)).toBe(stored.length);
    expect(await listModels(store)).toEqual([]);
    expect(await store.list('')).toEqual([]);
  });

  it('tabShare: nothing to share for a store private to this process', () => {
    expect(tabShare(memoryStore())).toBeUndefined();
    expect(idbStore({ name: 'x' }).scope).toBe('indexeddb/x');
  });
});
