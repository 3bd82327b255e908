// attention_hw.wgsl (decode attention in the hardware shape) against float64 math: query-head
// groups of 1 to 8 per KV head (a group that does not divide the workgroup), head dimensions of
// 32 to 128 (80: head_dim/4 not dividing the workgroup), one split and several merged by
// attn_hw_combine, several causal queries, Grok's soft cap. f32 cache.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOps } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { readF32, relErr, rng, testSession, upload, zeros } from '../testing.ts';
import { AttentionHwOp, ATTN_HW_CHUNK } from './attention-hw.ts';
import { ShapeError } from './quant.ts';

let session: GPUSession;
beforeAll(async () => { session = await testSession(); });
afterAll(() => session?.destroy());

interface Case { nHead: number; nHeadKv: number; headDim: number; queries: number; pos0: number; softcap: number }

const CASES: Case[] = [
  { nHead: 2, nHeadKv: 2, headDim: 64, queries: 1, pos0: 0, softcap: 0 },
  { nHead: 8, nHeadKv: 2, headDim: 128, queries: 1, pos0: ATTN_HW_CHUNK + 44, softcap: 0 },
  { nHead: 8, nHeadKv: 1, headDim: 64, queries: 1, pos0: 2 * ATTN_HW_CHUNK + 100, softcap: 0 },
  { nHead: 14, nHeadKv: 2, headDim: 32, queries: 3, pos0: 40, softcap: 30 },
  { nHead: 7, nHeadKv: 1, headDim: 80, queries: 2, pos0: ATTN_HW_CHUNK - 1, softcap: 0 },
];

describe('attention_hw.wgsl', () => {
  it.each(CASES)('$queries queries at $pos0, $nHead/$nHeadKv heads of $headDim, softcap $softcap', async (c) => {
    const r = rng(c.pos0 + c.headDim + c.nHead);
    const nCtx = c.pos0 + c.queries + 3;
    const kv = c.nHeadKv * c.headDim, qd = c.nHead * c.headDim;
    const K = r.vec(nCtx * kv), V = r.vec(nCtx * kv), Q = r.vec(c.queries * qd);
    const scale = 1 / Math.sqrt(c.headDim), capScale = 0.08;
    const out = zeros(session, 4 * c.queries * qd);
    const op = await AttentionHwOp.create(session, {
      nHead: c.nHead, nHeadKv: c.nHeadKv, headDim: c.headDim, nCtx, maxQueries: c.queries,
      q: upload(session, Q), kCache: upload(session, K), vCache: upload(session, V), out,
      scale: c.softcap ? 1 : scale, softcap: c.softcap, capScale,
    });
    const ops = op.set(c.queries, c.pos0);
    expect(ops.length).toBe(c.pos0 + c.queries > ATTN_HW_CHUNK ? 2 : 1);
    runOps(session, ops);
    const got = await readF32(session, out, c.queries * qd);

    const want = new Float64Array(c.queries * qd);
    const group = c.nHead / c.nHeadKv;
    for (let z = 0; z < c.queries; z++) {
      const n = c.pos0 + z + 1;
      for (let h = 0; h < c.nHead; h++) {
        const ko = Math.floor(h / group) * c.headDim, qo = z * qd + h * c.headDim;
        const s = Array.from({ length: n }, (_, p) => {
          let d = 0;
          for (let i = 0; i < c.headDim; i++) d += K[p * kv + ko + i] * Q[qo + i];
          return c.softcap ? Math.tanh(d * capScale) * c.softcap : d * scale;
        });
        const m = Math.max(...s);
        const e = s.map((v) => Math.exp(v - m));
        const l = e.reduce((a, b) => a + b, 0);
        for (let i = 0; i < c.headDim; i++) {
          let acc = 0;
          for (let p = 0; p < n; p++) acc += e[p] * V[p * kv + ko + i];
          want[qo + i] = acc / l;
        }
      }
    }
    expect(relErr(got, want)).toBeLessThan(2e-5); // as attention.wgsl's f32 cache
  });

  it('refuses shapes its workgroup arrays cannot hold, by name', async () => {
    const b = zeros(session, 16);
    const args = { nHead: 16, nHeadKv: 1, headDim: 64, nCtx: 8, maxQueries: 1, q: b, kCache: b, vCache: b, out: b, scale: 1, softcap: 0, capScale: 0 };
    await expect(AttentionHwOp.create(session, args)).rejects.toThrow(ShapeError);
    await expect(AttentionHwOp.create(session, { ...args, nHead: 2, headDim: 256 })).rejects.toThrow(/head dimension 256/);
  });
});
