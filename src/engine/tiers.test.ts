// The tiers of expert paging over a real download (loopback server, memory store): the store is
// the bottom tier, so when it loses an expert's chunk mid-run (deleted, or a bit flipped) the
// next time that expert comes up from the store it is fetched again from the server and the
// logits are still the resident engine's, bit for bit; never computed from damaged bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_RETRY } from '../../tools/faultserver/fixtures.ts';
import { startFaultServer, type FaultServer } from '../../tools/faultserver/server.ts';
import { makeModel } from '../../tools/factory/make-model.ts';
import { openModel } from '../fetch/open.ts';
import type { ChunkEvent } from '../fetch/progress.ts';
import { chunkAt } from '../fetch/chunks.ts';
import { bytesSource } from '../gguf/source.ts';
import { GGMLType } from '../gguf/types.ts';
import { GPUSession } from '../gpu/session.ts';
import { expertRanges } from '../model/experts.ts';
import { CHUNK_HEADER_BYTES } from '../storage/chunk.ts';
import { keys } from '../storage/manifest.ts';
import { memoryStore } from '../storage/memory.ts';
import { WebGPUEngine } from './engine.ts';
import { ExpertPool } from './expert-pool.ts';

const model = makeModel({ arch: 'qwen3moe', type: GGMLType.Q4_K, seed: 23, hp: { nLayer: 2, nExpert: 16, nExpertUsed: 2 } });
const PROMPT = [3, 141, 59, 26];
const STEPS = 10;

let server: FaultServer;
let session: GPUSession;
beforeAll(async () => {
  server = await startFaultServer();
  session = await GPUSession.create();
});
afterAll(async () => {
  session?.destroy();
  await server.close();
});

describe('expert tiers over a download', () => {
  it('an expert chunk deleted or damaged in the store mid-run is fetched again; logits unchanged', async () => {
    const resident = await WebGPUEngine.load(bytesSource(model), { session, nCtx: 64, maxBatch: 8 });
    const want: Float32Array[] = [];
    const tokens: number[] = [];
    let r = await resident.forward(PROMPT, { logits: 'last' });
    for (let s = 0; s < STEPS; s++) {
      want.push(r.logits![0]);
      tokens.push(r.next);
      r = await resident.forward([r.next], { logits: 'last' });
    }
    resident.destroy();

    server.serve('/tiers.gguf', model);
    const store = memoryStore();
    // no chunk cache in the download: every expert read comes from the store
    const events: ChunkEvent[] = [];
    const dl = await openModel({
      url: server.url('/tiers.gguf'), store, chunkBytes: 256 << 10, expertChunkBytes: 40_000, cacheBytes: 0, retry: FAST_RETRY,
      onEvent: (e) => { if (e.type === 'chunk') events.push(e); },
    });
    await dl.ensureDense();
    const plan = dl.plan!;
    const per = ExpertPool.bytesPerExpert(plan);
    // the fewest slots and no RAM tier: experts keep coming up from the store
    const engine = await WebGPUEngine.load(dl.source(), { session, nCtx: 64, maxBatch: 8, expertBudget: 2 * per, ramBudget: 0, experts: (l, e) => dl.ensureExpert(l, e) });
    const got: Float32Array[] = [];
    try {
      let g = await engine.forward(PROMPT, { logits: 'last' });
      const damageAt = 4;
      let damaged = new Set<number>();
      for (let s = 0; s < STEPS; s++) {
        got.push(g.logits![0]);
        if (s === damageAt) {
          // every stored expert chunk of layer 0: half deleted, half with one bit flipped
          const stored = new Set<number>();
          for (let e = 0; e < plan.hp.nExpert; e++) {
            for (const x of Object.values(expertRanges(plan, 0, e))) {
              const c = chunkAt(dl.chunks, x.offset);
              if (await store.read(keys.chunk(dl.id, c))) stored.add(c);
            }
          }
          expect(stored.size).toBeGreaterThan(2);
          damaged = stored;
          let i = 0;
          for (const c of stored) {
            const key = keys.chunk(dl.id, c);
            if (i++ % 2) await store.delete(key);
            else {
              const rec = (await store.read(key))!;
              rec[CHUNK_HEADER_BYTES + 100] ^= 0x10;
              await store.write(key, rec);
            }
          }
        }
        g = await engine.forward([tokens[s]], { logits: 'last' });
      }
      for (let s = 0; s < STEPS; s++) expect(got[s], `step ${s}`).toEqual(want[s]);
      const st = engine.expertStats!;
      expect(st.storeReads).toBeGreaterThan(st.slots); // experts came up from the store again and again
      // the damaged chunks the later steps needed were found (deleted: missing; flipped: hash),
      // dropped, and stored again from the network before use
      const found = events.flatMap((e, at) => (e.status === 'corrupt' && damaged.has(e.index) ? [at] : []));
      expect(found.length).toBeGreaterThan(0);
      for (const at of found) expect(events.slice(at).some((e) => e.status === 'stored' && e.index === events[at].index)).toBe(true);
    } finally {
      engine.destroy();
      await dl.close();
    }
  });
});
