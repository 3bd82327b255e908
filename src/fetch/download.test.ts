// Downloads end to end in Node: fault server → range fetcher → chunk store, on every backend.
import 'fake-indexeddb/auto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_RETRY, sameBytes, TEST_CHUNK_BYTES, testModel } from '../../tools/faultserver/fixtures.ts';
import { startFaultServer, type FaultConfig, type FaultServer } from '../../tools/faultserver/server.ts';
import { readGGUF } from '../gguf/reader.ts';
import { bytesSource } from '../gguf/source.ts';
import { CHUNK_HEADER_BYTES, encodeChunk } from '../storage/chunk.ts';
import { fsStore } from '../storage/fs.ts';
import { idbStore } from '../storage/idb.ts';
import { expertRanges } from '../model/experts.ts';
import { keys, loadManifest, saveManifest } from '../storage/manifest.ts';
import { memoryStore } from '../storage/memory.ts';
import { deleteModel, listModels } from '../storage/models.ts';
import { StorageQuotaError, type ByteStore } from '../storage/store.ts';
import type { ModelDownload } from './download.ts';
import { FileChangedError, FileHashMismatchError } from './errors.ts';
import { openModel, type OpenModelOptions } from './open.ts';
import type { ChunkEvent, DownloadEvent } from './progress.ts';

const model = testModel(1);
const modelB = testModel(2); // same size, other bytes
let server: FaultServer;
let n = 0;
const dirs: string[] = [];

beforeAll(async () => {
  server = await startFaultServer();
});
afterAll(async () => {
  await server.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function serve(config: FaultConfig = {}, bytes = model) {
  const path = `/m${n++}.gguf`;
  server.serve(path, bytes, config);
  return { path, url: server.url(path) };
}

function open(url: string, store: ByteStore, extra: Partial<OpenModelOptions> = {}) {
  const events: DownloadEvent[] = [];
  const p = openModel({ url, store, chunkBytes: TEST_CHUNK_BYTES, retry: FAST_RETRY, onEvent: (e) => events.push(e), ...extra });
  return { p, events };
}

async function everything(dl: ModelDownload): Promise<Uint8Array> {
  return dl.ensureRange(0, dl.size);
}

const stores: [string, () => Promise<ByteStore>][] = [
  ['memory', async () => memoryStore()],
  ['fs', async () => {
    const d = await mkdtemp(join(tmpdir(), 'webmoe-dl-'));
    dirs.push(d);
    return fsStore(d);
  }],
  ['indexeddb', async () => idbStore({ name: `dl-test-${n++}` })],
];

/** Byte ranges [first, last] asked of `path` at log positions >= from. */
function rangesAsked(path: string, from = 0): [number, number][] {
  return server.log.slice(from).filter((e) => e.path === path && e.range).map((e) => {
    const [a, b] = e.range!.slice(6).split('-').map(Number);
    return [a, b];
  });
}

describe.each(stores)('download into the %s store', (_kind, make) => {
  it('downloads a model bit-identical, with typed progress', async () => {
    const store = await make();
    const { url } = serve();
    const { p, events } = open(url, store);
    const dl = await p;
    expect(dl.file.tensors.length).toBeGreaterThan(10);
    await dl.start();
    expect(dl.complete).toBe(true);
    expect(sameBytes(await everything(dl), model)).toBe(true);
    const progress = events.filter((e) => e.type === 'progress');
    expect(progress.map((e) => e.phase)).toContain('header');
    expect(progress.at(-1)).toMatchObject({ phase: 'complete', bytesDone: model.length, bytesTotal: model.length, chunksDone: dl.chunks.length, etaSeconds: 0 });
    const stored = events.filter((e): e is ChunkEvent => e.type === 'chunk' && e.status === 'stored');
    // Every chunk but those the header read already brought arrives once.
    expect(stored.length + dl.chunks.filter((c) => c.offset + c.length <= 256 * 1024).length).toBe(dl.chunks.length);
    const listed = await listModels(store);
    expect(listed).toEqual([expect.objectContaining({ url, size: model.length, storedBytes: model.length, complete: true, chunksTotal: dl.chunks.length })]);
    await dl.close();
  });

  it('resumes after an abort without fetching a stored chunk again', async () => {
    const store = await make();
    const { path, url } = serve();
    const ac = new AbortController();
    let stored = 0;
    const first = await openModel({
      url, store, chunkBytes: TEST_CHUNK_BYTES, retry: FAST_RETRY, signal: ac.signal, concurrency: 3,
      onEvent: (e) => {
        if (e.type === 'chunk' && e.status === 'stored' && ++stored === 20) ac.abort(new Error('page closed'));
      },
    });
    await expect(first.start()).rejects.toThrow('page closed');
    await first.close();
    const logFrom = server.log.length;

    const { p } = open(url, store, { init: { headers: { 'X-Test-Tag': 'second' } } });
    const dl = await p;
    expect(dl.resumedChunks.length).toBeGreaterThanOrEqual(20);
    await dl.start();
    expect(sameBytes(await everything(dl), model)).toBe(true);
    // Nothing asked again of a chunk that was stored, beyond the one-byte identity check.
    const resumed = dl.resumedChunks.map((i) => dl.chunks[i]);
    for (const [a, b] of rangesAsked(path, logFrom)) { // (the first session's late requests included)
      if (a === 0 && b === 0) continue;
      for (const c of resumed) expect(b < c.offset || a >= c.offset + c.length, `bytes ${a}-${b} overlap stored chunk ${c.index}`).toBe(true);
    }
    // Bytes sent for the second session's requests: exactly the missing chunks and the probe byte.
    const resumedBytes = resumed.reduce((s, c) => s + c.length, 0);
    const sent = server.log.filter((e) => e.path === path && e.tag === 'second').reduce((s, e) => s + e.bytes, 0);
    expect(sent).toBe(model.length - resumedBytes + 1);
    await dl.close();
  });

  it('detects a flipped bit in a stored chunk, drops it and fetches it again', async () => {
    const store = await make();
    const { path, url } = serve();
    const dl = await open(url, store).p;
    await dl.start();
    const t = dl.file.tensors.find((x) => x.name === 'blk.1.attn_q.weight')!;
    const at = dl.file.dataOffset + t.offset + 100;
    const c = dl.chunks.find((x) => at >= x.offset && at < x.offset + x.length)!;
    await dl.close();

    const key = keys.chunk(dl.id, c.index);
    const record = (await store.read(key))!;
    record[CHUNK_HEADER_BYTES + (at - c.offset)] ^= 0x10; // one bit of the tensor's bytes
    await store.write(key, record);

    const again = open(url, store);
    const dl2 = await again.p;
    const logFrom = server.log.length;
    const bytes = await dl2.readTensor('blk.1.attn_q.weight');
    expect(sameBytes(bytes, model.subarray(dl.file.dataOffset + t.offset, dl.file.dataOffset + t.offset + t.nBytes))).toBe(true);
    expect(again.events).toContainEqual(expect.objectContaining({ type: 'chunk', index: c.index, status: 'corrupt' }));
    expect(rangesAsked(path, logFrom)).toEqual([[c.offset, c.offset + c.length - 1]]); // that chunk, nothing else
    expect(sameBytes((await store.read(key))!.subarray(CHUNK_HEADER_BYTES), model.subarray(c.offset, c.offset + c.length))).toBe(true);
    await dl2.start();
    expect((await loadManifest(store, dl.id))!.complete).toBe(true);
    await dl2.close();
  });
});

describe('use before complete', () => {
  it('fetches a requested expert ahead of the background download', async () => {
    const { path, url } = serve({ rate: 2_000_000 }); // ~1.2 s for the file
    const { p, events } = open(url, memoryStore(), { concurrency: 2 });
    const dl = await p;
    const all = dl.start();
    const t0 = performance.now();
    const ex = await dl.ensureExpert(1, 7); // the last expert of the last layer: the background's last
    const tExpert = performance.now() - t0;
    const r = expertRanges(dl.plan!, 1, 7);
    expect(sameBytes(ex.down, model.subarray(r.down.offset, r.down.offset + r.down.length))).toBe(true);
    expect(sameBytes(ex.gate, model.subarray(r.gate.offset, r.gate.offset + r.gate.length))).toBe(true);
    expect(dl.progress().chunksDone).toBeLessThan(dl.chunks.length / 2);
    await all;
    const tAll = performance.now() - t0;
    expect(tExpert).toBeLessThan(tAll / 3);
    const stored = events.filter((e): e is ChunkEvent => e.type === 'chunk' && e.status === 'stored');
    expect(stored.filter((e) => e.urgent).length).toBe(3); // gate, up, down: one chunk each
    // The background asked for header and dense chunks before any expert chunk.
    const urgentAt = new Set(stored.filter((e) => e.urgent).map((e) => e.offset));
    const kinds = rangesAsked(path).filter(([a]) => a > 0 && !urgentAt.has(a)).map(([a]) => dl.chunks.find((c) => c.offset === a)!.kind);
    expect(kinds.length).toBe(dl.chunks.filter((c) => c.offset + c.length > 256 * 1024).length - 3); // all but what the header read brought
    expect(kinds.lastIndexOf('dense')).toBeLessThan(kinds.indexOf('expert'));
    expect(server.peakConcurrent(path)).toBeLessThanOrEqual(2 + 2); // concurrency + urgentExtra
  });

  it('reads what it needs without a background download, and ensureDense waits for the dense part only', async () => {
    const { path, url } = serve();
    const dl = await open(url, memoryStore()).p;
    await dl.ensureDense();
    const dense = dl.chunks.filter((c) => c.kind !== 'expert');
    expect(dl.progress().bytesDone).toBe(dense.reduce((s, c) => s + c.length, 0));
    await dl.ensureExpert(0, 3);
    const expertBytes = Object.values(expertRanges(dl.plan!, 0, 3)).reduce((s, r) => s + r.length, 0);
    // Sent: the first read (256 KiB), the dense chunks beyond it, and the expert.
    const denseAfterFirstRead = dense.filter((c) => c.offset + c.length > 256 * 1024).reduce((s, c) => s + c.length, 0);
    expect(server.bytesSent(path)).toBe(256 * 1024 + denseAfterFirstRead + expertBytes);
    expect(dl.complete).toBe(false);
    const src = dl.source();
    expect(await readGGUF(src)).toEqual(await readGGUF(bytesSource(model)));
  });
});

describe('quota', () => {
  it('refuses before writing anything when the model cannot fit', async () => {
    const store = memoryStore({ quota: model.length / 2 });
    const { url } = serve();
    const e = await open(url, store).p.catch((x) => x);
    expect(e).toBeInstanceOf(StorageQuotaError);
    expect(e.message).toMatch(/needs .* MB more, .* MB is available.*delete stored models/i);
    expect(await store.list()).toEqual([]);
  });

  it('stops with StorageQuotaError when the store fills up mid-way, never marks the model complete, and resumes', async () => {
    const inner = memoryStore({ quota: model.length / 2 });
    // A store whose estimate promises room it does not have (estimates are estimates).
    const lying: ByteStore = { ...inner, estimate: async () => ({ usage: 0, quota: Infinity }) };
    const { url } = serve();
    const dl = await open(url, lying).p;
    await expect(dl.start()).rejects.toBeInstanceOf(StorageQuotaError);
    await dl.close();
    const [m] = await listModels(inner);
    expect(m.complete).toBe(false);
    expect(m.storedBytes).toBeLessThan(model.length);
    // Room again: the same store resumes and completes.
    const roomy = memoryStore();
    for (const [k, v] of inner.map) await roomy.write(k, v);
    const dl2 = await open(url, roomy).p;
    expect(dl2.resumedChunks.length).toBe(m.chunksStored);
    await dl2.start();
    expect(sameBytes(await everything(dl2), model)).toBe(true);
  });
});

describe('whole-file SHA-256', () => {
  const hex = async (b: Uint8Array) => Buffer.from(await crypto.subtle.digest('SHA-256', b as Uint8Array<ArrayBuffer>)).toString('hex');

  it('marks the model verified when it matches', async () => {
    const store = memoryStore();
    const { url } = serve();
    const dl = await open(url, store, { sha256: (await hex(model)).toUpperCase() }).p;
    await dl.start();
    expect(dl.manifest).toMatchObject({ complete: true, verified: true });
  });

  it('deletes the chunks and names the mismatch when it does not', async () => {
    const store = memoryStore();
    const { url } = serve();
    const dl = await open(url, store, { sha256: await hex(modelB) }).p;
    const e = await dl.start().catch((x) => x);
    expect(e).toBeInstanceOf(FileHashMismatchError);
    expect(e.message).toContain(await hex(model));
    expect(await store.list()).toEqual([]);
    await expect(dl.readTensor('output.weight')).rejects.toBeInstanceOf(FileHashMismatchError);
  });
});

describe('a file that changes', () => {
  it('mid-download: FileChangedError; opened again: starts over on the new file', async () => {
    const store = memoryStore();
    const { url } = serve({ replaceAfterBytes: 1_000_000, replacement: modelB });
    const dl = await open(url, store).p;
    const e = await dl.start().catch((x) => x);
    expect(e).toBeInstanceOf(FileChangedError);
    expect(e.message).toMatch(/ETag "v0-\d+" → "v1-\d+"/);
    await expect(dl.readTensor('blk.1.ffn_up_exps.weight')).rejects.toBeInstanceOf(FileChangedError);
    await dl.close();

    const again = open(url, store);
    const dl2 = await again.p;
    expect(again.events).toContainEqual(expect.objectContaining({ type: 'notice', what: 'restarted' }));
    expect(dl2.resumedChunks.length).toBe(0);
    await dl2.start();
    expect(sameBytes(await everything(dl2), modelB)).toBe(true);
  });

  it("with ifChanged: 'error', opening names the change and keeps the old chunks", async () => {
    const store = memoryStore();
    const { path, url } = serve();
    const ac = new AbortController();
    const dl = await openModel({ url, store, chunkBytes: TEST_CHUNK_BYTES, retry: FAST_RETRY, signal: ac.signal });
    dl.start().catch(() => {});
    await dl.ensureExpert(0, 0);
    ac.abort();
    await dl.close();
    server.configure(path, { replaceAfterBytes: 0, replacement: modelB }); // replaced at the next request
    const before = await store.list();
    await expect(open(url, store, { ifChanged: 'error' }).p).rejects.toBeInstanceOf(FileChangedError);
    expect(await store.list()).toEqual(before);
  });
});

describe('stored models', () => {
  it('catches a flipped bit in a chunk record\'s own checksum or header too', async () => {
    const store = memoryStore();
    const { path, url } = serve();
    const dl = await open(url, store).p;
    await dl.start();
    await dl.close();
    const [a, b] = dl.chunks.filter((c) => c.kind === 'expert');
    store.map.get(keys.chunk(dl.id, a.index))![30] ^= 1; // inside the stored SHA-256
    store.map.get(keys.chunk(dl.id, b.index))![9] ^= 1; // inside the stored file offset
    const again = open(url, store);
    const dl2 = await again.p;
    const logFrom = server.log.length;
    expect(sameBytes(await dl2.ensureRange(a.offset, b.offset + b.length - a.offset), model.subarray(a.offset, b.offset + b.length))).toBe(true);
    expect(again.events.filter((e) => e.type === 'chunk' && e.status === 'corrupt').map((e) => (e as ChunkEvent).index).sort()).toEqual([a.index, b.index]);
    expect(rangesAsked(path, logFrom).sort((x, y) => x[0] - y[0])).toEqual([[a.offset, a.offset + a.length - 1], [b.offset, b.offset + b.length - 1]]);
  });

  it('adopts chunks written before a crash kept the manifest from listing them, rejects stale ones', async () => {
    const store = memoryStore();
    const { path, url } = serve();
    const dl = await open(url, store).p;
    await dl.start();
    await dl.close();
    const m = (await loadManifest(store, dl.id))!;
    // The manifest as it was before any chunk was listed; one chunk from an older download.
    await saveManifest(store, { ...m, done: btoa(''), complete: false });
    const stale = dl.chunks.find((c) => c.kind === 'expert')!;
    await store.write(keys.chunk(dl.id, stale.index), await encodeChunk(stale.offset, model.subarray(stale.offset, stale.offset + stale.length), m.generation + 1));
    const logFrom = server.log.length;
    const dl2 = await open(url, store).p;
    expect(dl2.resumedChunks.length).toBe(dl.chunks.length - 1);
    await dl2.start();
    expect(rangesAsked(path, logFrom)).toEqual([[0, 0], [stale.offset, stale.offset + stale.length - 1]]);
    expect(sameBytes(await everything(dl2), model)).toBe(true);
  });

  it('lists partial and complete models with sizes, deletes by id or URL, and works offline', async () => {
    const store = memoryStore();
    const a = serve();
    const b = serve({}, modelB);
    const dlA = await open(a.url, store).p;
    await dlA.start();
    await dlA.close();
    const dlB = await open(b.url, store).p;
    await dlB.ensureExpert(1, 1);
    await dlB.close();
    const list = await listModels(store);
    expect(list.map((x) => [x.url, x.complete])).toEqual([[a.url, true], [b.url, false]]);
    expect(list[1].storedBytes).toBeGreaterThan(0);
    expect(list[1].storedBytes).toBeLessThan(model.length);
    expect(list[0].name).toBe('webmoe-factory-qwen3moe');

    // A complete model opens without the network; revalidate asks, and copes with no answer.
    const fetchDown = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    const dlA2 = await open(a.url, store, { fetch: fetchDown }).p;
    const out = dlA2.file.tensors.find((t) => t.name === 'output.weight')!;
    const at = dlA2.file.dataOffset + out.offset;
    expect(sameBytes(await dlA2.readTensor('output.weight'), model.subarray(at, at + out.nBytes))).toBe(true);
    const re = open(a.url, store, { fetch: fetchDown, revalidate: true, retry: { ...FAST_RETRY, maxAttempts: 2 } });
    await re.p;
    expect(re.events).toContainEqual(expect.objectContaining({ type: 'notice', what: 'offline' }));
    // An incomplete one cannot start without the network, and says why.
    await expect(open(b.url, store, { fetch: fetchDown, retry: { ...FAST_RETRY, maxAttempts: 2 } }).p).rejects.toThrow(/gave up after 2 attempts.*fetch failed/);

    await deleteModel(store, a.url);
    await deleteModel(store, list[1].id);
    expect(await listModels(store)).toEqual([]);
    expect(await store.list()).toEqual([]);
  });
});
