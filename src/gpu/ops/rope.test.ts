// rope.wgsl against a CPU version: q/k norms (none, per head, whole projection), RoPE norm and
// neox with partial rotation, several tokens at an offset, KV-cache stores, with each RoPE
// scaling (Llama 3 rope_freqs, linear, YaRN) at positions past 1,000 (cos/sin: the CPU
// reference's); and the cos/sin table against float64 math of each scaling's definition. With an f16 cache (shader-f16 only), K and V are stored rounded to nearest
// even f16.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOps } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { f16ToF32, roundF16 } from '../../gguf/half.ts';
import type { KvType } from '../shaders.ts';
import { needF16, readBytes, readF32, relErr, rng, testSession, upload, zeros } from '../testing.ts';
import { RopeOp, ropeTable } from './rope.ts';
import { ropeConstants, type RopeHParams } from '../../model/plan.ts';
import { numerics } from '../../reference/numerics.ts';
import { ropeCosSin } from '../../reference/ops.ts';
import { llama3RopeFreqs } from '../../../tools/factory/make-model.ts';

let session: GPUSession;
beforeAll(async () => { session = await testSession(); });
afterAll(() => session?.destroy());

// RoPE hyperparameters of real models: Llama 3.2 (rope_freqs from factor 32, frequency factors 1
// and 4, original context 8192), Qwen3 long-context YaRN (factor 4 over 32k), linear factor 4.
const BASE_HP: RopeHParams = {
  ropeDim: 64, ropeBase: 10000, ropeScaling: 'linear', ropeScaleFactor: 0, ropeAttnFactor: 1, nCtxOrigYarn: 4096,
  yarnExtFactor: -1, yarnAttnFactor: 1, yarnBetaFast: 32, yarnBetaSlow: 1,
};
const LLAMA3 = { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 };
interface Scaling { name: string; hp: RopeHParams; freqs?: Float32Array }
const SCALINGS: Scaling[] = [
  { name: 'none', hp: BASE_HP },
  { name: 'rope_freqs', hp: { ...BASE_HP, ropeBase: 500000 }, freqs: llama3RopeFreqs(LLAMA3, 500000, 64) },
  { name: 'linear', hp: { ...BASE_HP, ropeBase: 1e6, ropeScaleFactor: 4 } },
  { name: 'yarn', hp: { ...BASE_HP, ropeBase: 1e6, ropeScaling: 'yarn', ropeScaleFactor: 4, nCtxOrigYarn: 32768 } },
  { name: 'yarn, rope dim 24', hp: { ...BASE_HP, ropeDim: 24, ropeScaling: 'yarn', ropeScaleFactor: 8, nCtxOrigYarn: 2048 } },
];

/** Angle and magnitude of pair i at pos, in float64, as Hugging Face transformers defines each
 *  scaling (modeling_rope_utils: default, linear, yarn; llama3 as the divisors in rope_freqs). */
function expected(sc: Scaling, pos: number, i: number): { theta: number; mag: number } {
  const { ropeDim: d, ropeBase: base, ropeScaleFactor: factor } = sc.hp;
  const invFreq = Math.pow(base, (-2 * i) / d);
  if (sc.freqs) return { theta: (pos * invFreq) / sc.freqs[i], mag: 1 };
  if (sc.hp.ropeScaling === 'linear') return { theta: (pos * invFreq) / (factor || 1), mag: 1 };
  // YaRN: below pair `low` the unscaled frequency, above `high` the interpolated one, a linear
  // ramp between; cos and sin times 0.1 ln(factor) + 1
  const corr = (rot: number) => (d * Math.log(sc.hp.nCtxOrigYarn / (rot * 2 * Math.PI))) / (2 * Math.log(base));
  const low = Math.max(0, Math.floor(corr(sc.hp.yarnBetaFast))), high = Math.min(d - 1, Math.ceil(corr(sc.hp.yarnBetaSlow)));
  const ramp = Math.min(1, Math.max(0, (i - low) / (high === low ? 0.001 : high - low)));
  const extrapolate = 1 - ramp;
  const inv = (invFreq / factor) * (1 - extrapolate) + invFreq * extrapolate;
  return { theta: pos * inv, mag: 0.1 * Math.log(factor) + 1 };
}

describe('ropeTable', () => {
  it.for(SCALINGS)('$name: cos/sin of every pair as the scaling defines them, to f32 accuracy', (sc) => {
    const nPos = 1501, half = sc.hp.ropeDim / 2;
    const t = ropeTable(nPos, sc.hp.ropeDim, ropeConstants(sc.hp), sc.freqs);
    for (const p of [0, 1, 7, 500, 1100, 1500]) {
      for (let i = 0; i < half; i++) {
        const { theta, mag } = expected(sc, p, i);
        const c = t[2 * (p * half + i)], s = t[2 * (p * half + i) + 1];
        expect(Math.hypot(c, s)).toBeCloseTo(mag, 5);
        // ggml accumulates theta in f32 (one rounding per pair): allow a few ulps per pair
        let diff = Math.abs(Math.atan2(s, c) - theta) % (2 * Math.PI);
        diff = Math.min(diff, 2 * Math.PI - diff);
        expect(diff, `pos ${p} pair ${i}`).toBeLessThanOrEqual(1e-6 + Math.abs(p * Math.pow(sc.hp.ropeBase, (-2 * i) / sc.hp.ropeDim)) * (i + 2) * 2.4e-7);
      }
    }
  });

  it('each scaling turns the pairs it should: not all the same as unscaled', () => {
    const plain = ropeTable(1101, 64, ropeConstants({ ...BASE_HP, ropeBase: 500000 }));
    const scaled = ropeTable(1101, 64, ropeConstants({ ...BASE_HP, ropeBase: 500000 }), SCALINGS[1].freqs);
    // Llama 3: high-frequency pairs (factor 1) unchanged, low-frequency ones (factor 32) changed
    const at = (t: Float32Array, i: number) => t[2 * (1100 * 32 + i) + 1];
    expect(at(scaled, 0)).toBe(at(plain, 0));
    expect(Math.abs(at(scaled, 31) - at(plain, 31))).toBeGreaterThan(1e-3);
  });
});

interface Case {
  mode: 'norm' | 'neox'; qkNorm: 'none' | 'head' | 'full'; nHead: number; nHeadKv: number; headDim: number; ropeDim: number;
  /** RoPE scaling (SCALINGS by name; default none) and the first token's position (default 5). */
  scaling?: string; pos0?: number;
}

const CASES: Case[] = [
  { mode: 'norm', qkNorm: 'none', nHead: 4, nHeadKv: 2, headDim: 64, ropeDim: 64 },
  { mode: 'neox', qkNorm: 'head', nHead: 4, nHeadKv: 2, headDim: 32, ropeDim: 32 },
  { mode: 'neox', qkNorm: 'full', nHead: 3, nHeadKv: 3, headDim: 16, ropeDim: 16 },
  { mode: 'norm', qkNorm: 'head', nHead: 6, nHeadKv: 1, headDim: 48, ropeDim: 32 },
  { mode: 'neox', qkNorm: 'none', nHead: 2, nHeadKv: 2, headDim: 64, ropeDim: 24 },
  { mode: 'norm', qkNorm: 'none', nHead: 4, nHeadKv: 2, headDim: 64, ropeDim: 64, scaling: 'rope_freqs', pos0: 1100 },
  { mode: 'neox', qkNorm: 'head', nHead: 4, nHeadKv: 2, headDim: 64, ropeDim: 64, scaling: 'linear', pos0: 1100 },
  { mode: 'neox', qkNorm: 'head', nHead: 4, nHeadKv: 2, headDim: 64, ropeDim: 64, scaling: 'yarn', pos0: 1100 },
  { mode: 'neox', qkNorm: 'none', nHead: 2, nHeadKv: 1, headDim: 32, ropeDim: 24, scaling: 'yarn, rope dim 24', pos0: 700 },
];

function rms(x: ArrayLike<number>, o: number, n: number, eps: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[o + i] * x[o + i];
  return 1 / Math.sqrt(s / n + eps);
}

const KV_TYPES: KvType[] = ['f32', 'f16'];

describe.each(KV_TYPES)('rope.wgsl, %s cache', (kvType) => {
  it.for(CASES.map((c) => ({ scaling: 'none', ...c })))('$mode rope, $qkNorm q/k norm, $nHead/$nHeadKv heads of $headDim, rope $ropeDim, scaling $scaling', async (c, ctx) => {
    if (kvType === 'f16') needF16(session, (note) => ctx.skip(note));
    const eb = kvType === 'f16' ? 2 : 4;
    const r = rng(c.headDim + c.nHead);
    const q = c.nHead * c.headDim, kv = c.nHeadKv * c.headDim, stride = q + 2 * kv;
    const T = 3, pos0 = c.pos0 ?? 5, nCtx = pos0 + 11, eps = 1e-5;
    const sc = SCALINGS.find((x) => x.name === (c.scaling ?? 'none'))!;
    const consts = ropeConstants({ ...sc.hp, ropeDim: c.ropeDim });
    const qkv = r.vec(T * stride);
    const qn = Float32Array.from({ length: c.qkNorm === 'full' ? q : c.headDim }, () => 1 + 0.1 * r.gauss());
    const kn = Float32Array.from({ length: c.qkNorm === 'full' ? kv : c.headDim }, () => 1 + 0.1 * r.gauss());
    const table = ropeTable(nCtx, c.ropeDim, consts, sc.freqs);
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
    // the CPU reference's cos/sin (src/reference/ops.ts, 'ggml' numerics), rotation in float64
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
        const { cos, sin } = ropeCosSin(numerics('ggml'), pos, c.ropeDim, consts, sc.freqs);
        for (let i = 0; i < half; i++) {
          const [i0, i1] = c.mode === 'neox' ? [i, i + half] : [2 * i, 2 * i + 1];
          const x0 = v(i0), x1 = v(i1);
          out[o + h * c.headDim + i0] = x0 * cos[i] - x1 * sin[i];
          out[o + h * c.headDim + i1] = x0 * sin[i] + x1 * cos[i];
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
