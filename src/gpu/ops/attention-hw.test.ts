// attention_hw.wgsl (decode attention in the hardware shape) against float64 math, and for one
// query (the decode step AttentionOp gives it) against attention.wgsl's attn (the software kernel)
// on the same inputs: query-head groups of 1 to 8 per KV head (7: a group that does not divide the
// workgroup), head dimensions of 32 to 128 (80:
// head_dim/4 not dividing the workgroup), odd lengths, one split and several merged by
// attn_combine, several causal queries, Grok's soft cap, gpt-oss's sliding window (splits before
// the window: none of their positions seen) and sink logits; with an f32 cache and with an f16
// cache (shader-f16 only) against ggml's f16-cache numerics as attention.test.ts states them (K,
// V, q and the normalized softmax output rounded to f16); softmax statistics by subgroups (where
// the adapter has them) and through workgroup memory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { f32ToF16, roundF16 } from '../../gguf/half.ts';
import { runOps } from '../op.ts';
import type { GPUSession } from '../session.ts';
import type { KvType } from '../shaders.ts';
import { attentionRef, needF16, readF32, relErr, rng, testSession, upload, zeros, type AttentionCase } from '../testing.ts';
import { AttentionOp } from './attention.ts';
import { AttentionHwOp, ATTN_HW_CHUNK } from './attention-hw.ts';
import { ShapeError } from './quant.ts';

let session: GPUSession;
beforeAll(async () => { session = await testSession(); });
afterAll(() => session?.destroy());

const CASES: AttentionCase[] = [
  { nHead: 2, nHeadKv: 2, headDim: 64, queries: 1, pos0: 0, softcap: 0 },
  { nHead: 8, nHeadKv: 2, headDim: 128, queries: 1, pos0: ATTN_HW_CHUNK + 44, softcap: 0 },
  { nHead: 8, nHeadKv: 1, headDim: 64, queries: 1, pos0: 2 * ATTN_HW_CHUNK + 100, softcap: 0 },
  { nHead: 14, nHeadKv: 2, headDim: 32, queries: 3, pos0: 40, softcap: 30 },
  { nHead: 7, nHeadKv: 1, headDim: 80, queries: 2, pos0: ATTN_HW_CHUNK - 1, softcap: 0 },
  // gpt-oss: window and sinks in one split; over 3 splits, the first outside the window; sinks
  // alone over 2 splits; a window alone (groups of 1, 4, 7 and 8 only: a pipeline each)
  { nHead: 8, nHeadKv: 2, headDim: 64, queries: 1, pos0: 40, softcap: 0, window: 16, sinks: true },
  { nHead: 14, nHeadKv: 2, headDim: 64, queries: 2, pos0: 2 * ATTN_HW_CHUNK + 30, softcap: 0, window: 100, sinks: true },
  { nHead: 8, nHeadKv: 1, headDim: 64, queries: 1, pos0: ATTN_HW_CHUNK + 50, softcap: 0, sinks: true },
  { nHead: 7, nHeadKv: 1, headDim: 32, queries: 1, pos0: 176, softcap: 0, window: 33 },
];

/** f16 weights p the GPU may round either way: within 2^-19 of p (the f32 exp, sum and
 *  division's error, a few f32 ulps) of a midpoint between two halves; returns that spacing
 *  (the output moves by it times V), else 0. */
function ambiguousF16(p: number): number {
  const ulp = p < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(p)) - 10);
  const mid = (Math.floor(p / ulp) + 0.5) * ulp;
  return Math.abs(p - mid) <= p * 2 ** -19 ? ulp : 0;
}

const VARIANTS: { kvType: KvType; subgroups: boolean }[] = [
  { kvType: 'f32', subgroups: false }, { kvType: 'f32', subgroups: true },
  { kvType: 'f16', subgroups: false }, { kvType: 'f16', subgroups: true },
];

describe.each(VARIANTS)('attention_hw.wgsl, $kvType cache, subgroups $subgroups', ({ kvType, subgroups }) => {
  it.for(CASES)('$queries queries at $pos0, $nHead/$nHeadKv heads of $headDim, softcap $softcap, window $window, sinks $sinks', async (c, ctx) => {
    if (kvType === 'f16') needF16(session, (note) => ctx.skip(note));
    if (subgroups && !session.features.subgroups) ctx.skip(`${session.adapterName} has no subgroups`);
    const f16 = kvType === 'f16';
    const r = rng(c.pos0 + c.headDim + c.nHead);
    const nCtx = c.pos0 + c.queries + 3;
    const kv = c.nHeadKv * c.headDim, qd = c.nHead * c.headDim;
    const K = r.vec(nCtx * kv), V = r.vec(nCtx * kv), Q = r.vec(c.queries * qd);
    const sinks = c.sinks ? Float32Array.from(r.vec(c.nHead), (v) => 4 * v) : undefined;
    const scale = 1 / Math.sqrt(c.headDim), capScale = 0.08;
    const asCache = (x: Float32Array) => (f16 ? Uint16Array.from(x, f32ToF16) : x);
    const args = {
      nHead: c.nHead, nHeadKv: c.nHeadKv, headDim: c.headDim, nCtx, maxQueries: c.queries,
      q: upload(session, Q), kCache: upload(session, asCache(K)), vCache: upload(session, asCache(V)),
      scale: c.softcap ? 1 : scale, softcap: c.softcap, capScale, kvType, window: c.window, sinks: sinks && upload(session, sinks),
    };
    const out = zeros(session, 4 * c.queries * qd), soft = zeros(session, 4 * qd);
    const op = await AttentionHwOp.create(session, { ...args, out, subgroups });
    const ops = op.set(c.queries, c.pos0);
    const splits = c.pos0 + c.queries > ATTN_HW_CHUNK;
    expect(ops.length).toBe(splits ? (f16 ? 3 : 2) : 1);
    runOps(session, ops);
    if (c.queries === 1) runOps(session, (await AttentionOp.create(session, { ...args, out: soft })).set(1, c.pos0));
    const got = await readF32(session, out, c.queries * qd);

    const h16 = (x: Float32Array) => (f16 ? Float32Array.from(x, roundF16) : x);
    // attention.test.ts's reference, with a slack per output: how far the f16 roundings of p that
    // could go either way (ambiguousF16) may move it
    const { want, slack } = attentionRef(c, { k: h16(K), v: h16(V), q: h16(Q), sinks }, { scale, capScale, f16, either: f16 ? ambiguousF16 : undefined });
    // attention.test.ts's tolerances; f16: a p next to an f16 rounding boundary may round either
    // way, the kernels' exp and sums being f32 (the soft-cap case has a p of 0.91723647, 1.6e-7
    // of itself from a midpoint, rounded up in float64 and down by both kernels: 4e-4 apart
    // without the slack), and so between the two kernels, whose sums run in different orders
    const tol = f16 ? 5e-5 : 2e-5;
    expect(relErr(got, want, slack)).toBeLessThan(tol);
    if (c.queries === 1) expect(relErr(got, await readF32(session, soft, qd), slack)).toBeLessThan(tol);
  });
});

describe('AttentionHwOp', () => {
  it('refuses shapes its workgroup arrays cannot hold, by name', async () => {
    const b = zeros(session, 16);
    const args = { nHead: 16, nHeadKv: 1, headDim: 64, nCtx: 8, maxQueries: 1, q: b, kCache: b, vCache: b, out: b, scale: 1, softcap: 0, capScale: 0 };
    expect(AttentionHwOp.fits(args)).toBe(false);
    await expect(AttentionHwOp.create(session, args)).rejects.toThrow(ShapeError);
    await expect(AttentionHwOp.create(session, { ...args, nHead: 2, headDim: 256 })).rejects.toThrow(/head dimension 256/);
  });
});
