// attention.wgsl against float64 math: one query and batches of causal queries (attn, attn_tile),
// short and long contexts (one split and several merged by attn_combine), GQA, Grok's soft cap;
// with an f32 cache, and with an f16 cache (shader-f16 only) against ggml's f16-cache numerics:
// K, V, q and the normalized softmax output rounded to f16 (src/reference/attention.ts).
// gpt-oss's sliding window and sink logits in each kernel: one split, several, and the tile.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOps } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { f32ToF16, roundF16 } from '../../gguf/half.ts';
import type { KvType } from '../shaders.ts';
import { attentionRef, needF16, readF32, relErr, rng, testSession, upload, zeros, type AttentionCase } from '../testing.ts';
import { AttentionOp, ATTN_CHUNK } from './attention.ts';

let session: GPUSession;
beforeAll(async () => { session = await testSession(); });
afterAll(() => session?.destroy());

const CASES: AttentionCase[] = [
  { nHead: 4, nHeadKv: 2, headDim: 64, queries: 1, pos0: 0, softcap: 0 },
  { nHead: 4, nHeadKv: 2, headDim: 64, queries: 1, pos0: 36, softcap: 0 },
  { nHead: 2, nHeadKv: 1, headDim: 128, queries: 1, pos0: ATTN_CHUNK + 187, softcap: 0 },
  { nHead: 3, nHeadKv: 3, headDim: 32, queries: 5, pos0: 3, softcap: 30 },
  { nHead: 4, nHeadKv: 1, headDim: 16, queries: 4, pos0: 2 * ATTN_CHUNK - 2, softcap: 0 },
  // batches through attn_tile: 4 heads x 4 tokens per workgroup over 2 splits of 256 positions,
  // 16 heads of one KV head (a group larger than a tile would take whole), ragged last tile
  { nHead: 8, nHeadKv: 2, headDim: 128, queries: 21, pos0: 300, softcap: 0 },
  { nHead: 32, nHeadKv: 1, headDim: 16, queries: 3, pos0: 10, softcap: 0 },
  // gpt-oss: window and sinks, decode in one split and in several, a tiled batch over 2 splits
  { nHead: 4, nHeadKv: 2, headDim: 64, queries: 1, pos0: 40, softcap: 0, window: 16, sinks: true },
  { nHead: 4, nHeadKv: 2, headDim: 64, queries: 2, pos0: ATTN_CHUNK + 100, softcap: 0, window: 128, sinks: true },
  { nHead: 8, nHeadKv: 2, headDim: 64, queries: 20, pos0: 250, softcap: 0, window: 24, sinks: true },
  { nHead: 8, nHeadKv: 2, headDim: 64, queries: 20, pos0: 3, softcap: 0, sinks: true },
];

const KV_TYPES: KvType[] = ['f32', 'f16'];

describe.each(KV_TYPES)('attention.wgsl, %s cache', (kvType) => {
  it.for(CASES)('$queries queries at $pos0, $nHead/$nHeadKv heads of $headDim, softcap $softcap, window $window, sinks $sinks', async (c, ctx) => {
    if (kvType === 'f16') needF16(session, (note) => ctx.skip(note));
    const f16 = kvType === 'f16';
    const r = rng(c.pos0 + c.headDim);
    const nCtx = c.pos0 + c.queries + 3;
    const kv = c.nHeadKv * c.headDim, qd = c.nHead * c.headDim;
    const K = r.vec(nCtx * kv), V = r.vec(nCtx * kv), Q = r.vec(c.queries * qd);
    const sinks = c.sinks ? Float32Array.from(r.vec(c.nHead), (v) => 4 * v) : undefined;
    const scale = 1 / Math.sqrt(c.headDim), capScale = 0.08;
    const out = zeros(session, 4 * c.queries * qd);
    const asCache = (x: Float32Array) => (f16 ? Uint16Array.from(x, f32ToF16) : x);
    const op = await AttentionOp.create(session, {
      nHead: c.nHead, nHeadKv: c.nHeadKv, headDim: c.headDim, nCtx, maxQueries: c.queries,
      q: upload(session, Q), kCache: upload(session, asCache(K)), vCache: upload(session, asCache(V)), out,
      scale: c.softcap ? 1 : scale, softcap: c.softcap, capScale, kvType, window: c.window, sinks: sinks && upload(session, sinks),
    });
    runOps(session, op.set(c.queries, c.pos0));
    const got = await readF32(session, out, c.queries * qd);

    // what the kernel sees and rounds: f16 K, V and q; p rounded after normalization
    const h16 = (x: Float32Array) => (f16 ? Float32Array.from(x, roundF16) : x);
    const { want } = attentionRef(c, { k: h16(K), v: h16(V), q: h16(Q), sinks }, { scale, capScale, f16 });
    // f16: a p within an ulp of an f16 rounding boundary may round the other way (the GPU's exp
    // and sums are f32), moving an output by ~2^-11 of one term: seen up to 2e-5. (Leaving p
    // unrounded misses by 1.2e-4 to 3.6e-4 on these cases.)
    expect(relErr(got, want)).toBeLessThan(f16 ? 5e-5 : 2e-5);
  });
});
