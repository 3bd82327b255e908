// rope.wgsl against a CPU version: q/k norms (none, per head, whole projection), RoPE norm and
// neox with partial rotation, several tokens at an offset, KV-cache stores; and the cos/sin table
// against float64 math. With an f16 cache (shader-f16 only), K and V are stored rounded to nearest
// even f16.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOps } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { f16ToF32, roundF16 } from '../../gguf/half.ts';
import type { KvType } from '../shaders.ts';
import { needF16, readBytes, readF32, relErr, rng, testSession, upload, zeros } from '../testing.ts';
import { RopeOp, ropeTable } from './rope.ts';

let session: GPUSession;
beforeAll(async () => { session = await testSession(); });
afterAll(() => session?.destroy());

describe('ropeTable', () => {
  it('follows cos/sin(pos * base^(-2i/d)) to f32 accuracy', () => {
    const t = ropeTable(40, 64, 10000);
    for (const [p, i] of [[0, 0], [1, 0], [7, 5], [39, 31], [23, 17]]) {
      const theta = p * Math.pow(10000, (-2 * i) / 64);
      expect(t[2 * (p * 32 + i)]).toBeCloseTo(Math.cos(theta), 5);
      expect(t[2 * (p * 32 + i) + 1]).toBeCloseTo(Math.sin(theta), 5);
    }
  });
});

interface Case { mode: 'norm' | 'neox'; qkNorm: 'none' | 'head' | 'full'; nHead: number; nHeadKv: number; headDim: number; ropeDim: number }

const CASES: Case[] = [
  { mode: 'norm', qkNorm: 'none', nHead: 4, nHeadKv: 2, headDim: 64, ropeDim: 64 },
  { mode: 'neox', qkNorm: 'head', nHead: 4, nHeadKv: 2, headDim: 32, ropeDim: 32 },
  { mode: 'neox', qkNorm: 'full', nHead: 3, nHeadKv: 3, headDim: 16, ropeDim: 16 },
  { mode: 'norm', qkNorm: 'head', nHead: 6, nHeadKv: 1, headDim: 48, ropeDim: 32 },
  { mode: 'neox', qkNorm: 'none', nHead: 2, nHeadKv: 2, headDim: 64, ropeDim: 24 },
];

function rms(x: ArrayLike<number>, o: number, n: number, eps: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[o + i] * x[o + i];
  return 1 / Math.sqrt(s / n + eps);
}

const KV_TYPES: KvType[] = ['f32', 'f16'];

describe.each(KV_TYPES)('rope.wgsl, %s cache', (kvType) => {
  it.for(CASES)('$mode rope, $qkNorm q/k norm, $nHead/$nHeadKv heads of $headDim, rope $ropeDim', async (c, ctx) => {
    if (kvType === 'f16') needF16(session, (note) => ctx.skip(note));
    const eb = kvType === 'f16' ? 2 : 4;
    const r = rng(c.headDim + c.nHead);
    const q = c.nHead * c.headDim, kv = c.nHeadKv * c.headDim, stride = q + 2 * kv;
    const T = 3, pos0 = 5, nCtx = 16, eps = 1e-5;
    const qkv = r.vec(T * stride);
    const qn = Float32Array.from({ length: c.qkNorm === 'full' ? q : c.headDim }, () => 1 + 0.1 * r.gauss());
    const kn = Float32Array.from({ length: c.qkNorm === 'full' ? kv : c.headDim }, () => 1 + 0.1 * r.gauss());
    const table = ropeTable(nCtx, c.ropeDim, 10000);
    const qOut = zeros(session, 4 * T * q), kc = zeros(session, eb * nCtx * kv), vc = zeros(session, eb * nCtx * kv);
    const op = await RopeOp.create(session, {
      ...c, eps, qkv: upload(session, qkv), qNorm: upload(session, qn), kNorm: upload(session, kn),
      table: upload(session, table), qOut, kCache: kc, vCache: vc, tokens: T, pos0, kvType,
    });
    runOps(session, [op.op]);
    const gotQ = await readF32(session, qOut, T * q);
    const readCache = async (b: GPUBuffer) => (eb === 4 ? readF32(session, b, T * kv, pos0 * kv)
      : Float32Array.from(new Uint16Array(await readBytes(session, b, 2 * T * kv, 2 * pos0 * kv)), f16ToF32));
    const gotK = await readCache(kc);
    const gotV = await readCache(vc);

    const wantQ = new Float64Array(T * q), wantK = new Float64Array(T * kv), wantV = new Float64Array(T * kv);
    const half = c.ropeDim / 2;
    const apply = (src: number, nh: number, w: Float32Array, out: Float64Array, o: number, pos: number) => {
      const full = c.qkNorm === 'full' ? rms(qkv, src, nh * c.headDim, eps) : 1;
      for (let h = 0; h < nh; h++) {
        const hs = c.qkNorm === 'head' ? rms(qkv, src + h * c.headDim, c.headDim, eps) : full;
        const v = (e: number) => {
          const x = qkv[src + h * c.headDim + e];
          if (c.qkNorm === 'none') return x;
          return x * hs * w[c.qkNorm === 'full' ? h * c.headDim + e : e];
        };
        for (let e = c.ropeDim; e < c.headDim; e++) out[o + h * c.headDim + e] = v(e);
        for (let i = 0; i < half; i++) {
          const [i0, i1] = c.mode === 'neox' ? [i, i + half] : [2 * i, 2 * i + 1];
          const theta = pos * Math.pow(10000, (-2 * i) / c.ropeDim);
          const x0 = v(i0), x1 = v(i1);
          out[o + h * c.headDim + i0] = x0 * Math.cos(theta) - x1 * Math.sin(theta);
          out[o + h * c.headDim + i1] = x0 * Math.sin(theta) + x1 * Math.cos(theta);
        }
      }
    };
    for (let t = 0; t < T; t++) {
      apply(t * stride, c.nHead, qn, wantQ, t * q, pos0 + t);
      apply(t * stride + q, c.nHeadKv, kn, wantK, t * kv, pos0 + t);
      for (let i = 0; i < kv; i++) wantV[t * kv + i] = qkv[t * stride + q + kv + i];
    }
    expect(relErr(gotQ, wantQ)).toBeLessThan(1e-5);
    // f16: K within half an f16 ulp (2^-11 relative) of the exact value; V rounded exactly
    expect(relErr(gotK, wantK)).toBeLessThan(eb === 4 ? 1e-5 : 5e-4);
    expect(Array.from(gotV)).toEqual(Array.from(wantV, (v) => (eb === 4 ? v : roundF16(v))));
  });
});
