// Use before complete, end to end: a factory MoE model served by the throttled loopback fault server,
// an empty store, and the CPU reference loading its dense weights from the download and each routed
// expert through ModelDownload.ensureExpert the first time the router picks it. The first token must
// come out while the download is still incomplete, and the greedy tokens must be those of the same
// model with every weight read up front from the file's own bytes. A damaged stored expert chunk
// must be fetched again, never computed with.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_RETRY, sameBytes } from '../../tools/faultserver/fixtures.ts';
import { startFaultServer, type FaultConfig, type FaultServer } from '../../tools/faultserver/server.ts';
import { makeModel } from '../../tools/factory/make-model.ts';
import { bytesSource } from '../gguf/source.ts';
import { GGMLType } from '../gguf/types.ts';
import { expertRanges, type ExpertBytes, type ExpertProvider } from '../model/experts.ts';
import { greedy, greedyAsync } from '../reference/generate.ts';
import { ReferenceModel } from '../reference/model.ts';
import { CHUNK_HEADER_BYTES } from '../storage/chunk.ts';
import { chunkAt } from './chunks.ts';
import { keys } from '../storage/manifest.ts';
import { memoryStore } from '../storage/memory.ts';
import type { ByteStore } from '../storage/store.ts';
import type { ModelDownload } from './download.ts';
import { openModel } from './open.ts';
import type { ChunkEvent, DownloadEvent } from './progress.ts';

// 2 layers x 32 experts top-2: 7.7 MB, of which a 3-token prompt needs the dense 0.6 MB and at most
// 12 of the 64 experts (110 KB each).
const model = makeModel({ arch: 'qwen3moe', type: GGMLType.Q4_K, seed: 21, hp: { nLayer: 2, nExpert: 32, nExpertUsed: 2 } });
const PROMPT = [3, 141, 59];
const N = 8;
const RATE = 4e6; // bytes/s: the whole file takes ~1.9 s
const CHUNKS = { chunkBytes: 256 << 10, expertChunkBytes: 40_000 }; // one expert slice (36 KiB) per expert chunk

let server: FaultServer;
let expected: number[];
let n = 0;

beforeAll(async () => {
  server = await startFaultServer();
  expected = greedy(await ReferenceModel.load(bytesSource(model), { nCtx: 32 }), PROMPT, N);
});
afterAll(async () => {
  await server.close();
});

function serve(config: FaultConfig = {}) {
  const path = `/lazy${n++}.gguf`;
  server.serve(path, model, config);
  return { path, url: server.url(path) };
}

function open(url: string, store: ByteStore, events: DownloadEvent[] = []): Promise<ModelDownload> {
  return openModel({ url, store, ...CHUNKS, retry: FAST_RETRY, onEvent: (e) => events.push(e) });
}

/** ensureExpert as the reference's provider, keeping what it returned. */
function provider(dl: ModelDownload, got = new Map<string, ExpertBytes>()): ExpertProvider {
  return async (layer, expert) => {
    const x = await dl.ensureExpert(layer, expert);
    got.set(`${layer}/${expert}`, x);
    return x;
  };
}

/** The file's own bytes of an expert projection. */
function slice(dl: ModelDownload, layer: number, expert: number, part: keyof ExpertBytes): Uint8Array {
  const r = expertRanges(dl.plan!, layer, expert)[part];
  return model.subarray(r.offset, r.offset + r.length);
}

describe('experts on demand from a download', () => {
  for (const [label, faults] of [
    ['a clean link', {}],
    ['a faulty link (drops, 503, truncated bodies, wrong Content-Range)', { seed: 9, drop: 0.08, status503: 0.05, truncate: 0.05, wrongRange: 0.05 }],
  ] as [string, FaultConfig][]) {
    it(`generates before the download is complete, the same tokens as from the whole file: ${label}`, async () => {
      const { path, url } = serve({ rate: RATE, ...faults });
      const dl = await open(url, memoryStore());
      const complete = dl.start();
      await dl.ensureDense();
      const got = new Map<string, ExpertBytes>();
      const ref = await ReferenceModel.load(dl.source(), { nCtx: 32, experts: provider(dl, got) });
      let atFirst: { complete: boolean; bytesDone: number; sent: number } | undefined;
      const ids = await greedyAsync(ref, PROMPT, N, (_id, i) => {
        if (i === 0) atFirst = { complete: dl.complete, bytesDone: dl.progress().bytesDone, sent: server.bytesSent(path) };
      });
      expect(atFirst!.complete).toBe(false);
      expect(atFirst!.bytesDone).toBeLessThan(model.length);
      expect(atFirst!.sent).toBeLessThan(model.length);
      expect(ids).toEqual(expected);
      // Every expert computed with is the file's own bytes.
      expect(got.size).toBeGreaterThan(0);
      for (const [key, x] of got) {
        const [l, e] = key.split('/').map(Number);
        for (const part of ['gate', 'up', 'down'] as const) expect(sameBytes(x[part], slice(dl, l, e, part))).toBe(true);
      }
      await complete;
      if (faults.seed) expect(Object.values(server.faults(path)).reduce((a, b) => a + b, 0)).toBeGreaterThan(0); // faults did happen
      expect(sameBytes(await dl.ensureRange(0, dl.size), model)).toBe(true);
      await dl.close();
    });
  }

  it('a damaged stored expert chunk is dropped and fetched again, never computed with', async () => {
    const store = memoryStore();
    const { path, url } = serve();
    const first = await open(url, store);
    await first.start();
    // The first expert the model asks for (layer 0, the top pick for the first prompt token).
    const asked: string[] = [];
    const firstProvider = provider(first);
    const probe = await ReferenceModel.load(first.source(), { nCtx: 32, experts: (l, e) => (asked.push(`${l}/${e}`), firstProvider(l, e)) });
    await probe.forwardAsync(PROMPT.slice(0, 1));
    await first.close();
    const [l, e] = asked[0].split('/').map(Number);
    const r = expertRanges(first.plan!, l, e).up;
    const c = first.chunks[chunkAt(first.chunks, r.offset)];
    const key = keys.chunk(first.id, c.index);
    const record = (await store.read(key))!;
    record[CHUNK_HEADER_BYTES + (r.offset - c.offset) + 1000] ^= 0x04; // one bit of the expert's up projection
    await store.write(key, record);

    // Reopened: complete, so no request until the damaged chunk is read.
    const events: DownloadEvent[] = [];
    const logFrom = server.log.length;
    const dl = await open(url, store, events);
    expect(dl.complete).toBe(true);
    const got = new Map<string, ExpertBytes>();
    const ref = await ReferenceModel.load(dl.source(), { nCtx: 32, experts: provider(dl, got) });
    expect(await greedyAsync(ref, PROMPT, N)).toEqual(expected);
    const corrupt = events.filter((x): x is ChunkEvent => x.type === 'chunk' && x.status === 'corrupt');
    expect(corrupt.map((x) => x.index)).toEqual([c.index]);
    const asks = server.log.slice(logFrom).filter((x) => x.path === path);
    expect(asks.map((x) => x.range)).toEqual([`bytes=${c.offset}-${c.offset + c.length - 1}`]); // that chunk, nothing else
    expect(sameBytes(got.get(`${l}/${e}`)!.up, slice(dl, l, e, 'up'))).toBe(true);
    expect(sameBytes((await store.read(key))!.subarray(CHUNK_HEADER_BYTES), model.subarray(c.offset, c.offset + c.length))).toBe(true);
    await dl.close();
  });
});
