// The dequantizers of Q2_K, Q3_K, IQ4_NL and IQ4_XS (q_q2_k.wgsl ...) on weights split over
// several buffers (layout.ts regions per part: the split falls inside a matrix, or between the
// matrices of a gated expert stack), against plain CPU math: the weight dequantized by src/gguf
// (checked against gguf-py), the activation converted by the CPU version of ggml's quantizers,
// the product in float64. (matvec.test.ts, matmul.test.ts and embed.test.ts cover every GPU type,
// these included, on one buffer.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dequantize } from '../../gguf/dequant.ts';
import { quantize } from '../../gguf/quant.ts';
import { GGMLType, typeName } from '../../gguf/types.ts';
import { actKind, weightLayout } from '../layout.ts';
import { runOps } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { cpuConvert, readF32, relErr, rng, testSession, upload } from '../testing.ts';
import { uploadWeight } from '../weights.ts';
import { matvecOps, type MatvecMode } from './matvec.ts';
import { createAct, quantOp } from './quant.ts';

let session: GPUSession;
beforeAll(async () => { session = await testSession(); });
afterAll(() => session?.destroy());

const T = GGMLType;
interface Case { type: GGMLType; k: number; n: number; count: number; mode: MatvecMode; slots: number; splitRows: number }
const CASES: Case[] = [
  { type: T.Q2_K, k: 512, n: 150, count: 1, mode: 'store', slots: 1, splitRows: 64 },
  { type: T.IQ4_NL, k: 96, n: 150, count: 1, mode: 'store', slots: 1, splitRows: 64 },
  { type: T.Q3_K, k: 256, n: 2 * 9, count: 3, mode: 'glu_silu', slots: 2, splitRows: 18 },
  { type: T.IQ4_XS, k: 256, n: 2 * 9, count: 3, mode: 'glu_silu', slots: 2, splitRows: 18 },
];

const silu = (v: number) => v / (1 + Math.exp(-v));

describe('matvec.wgsl on split weights of the low-bit and non-linear types', () => {
  it.each(CASES.map((c) => ({ ...c, name: typeName(c.type) })))('$name $mode k=$k n=$n count=$count, parts of $splitRows rows', async (c) => {
    const r = rng(c.k * 17 + c.n + c.type);
    const wf = r.vec(c.count * c.n * c.k, 1 / Math.sqrt(c.k));
    const bytes = quantize(c.type, wf);
    const wd = dequantize(c.type, bytes, wf.length);
    const weight = uploadWeight(session.device, session.buffers, `w_${typeName(c.type)}`, c.type, c.k, c.n, c.count, bytes, weightLayout(c.type, c.k, c.splitRows).words * 4);
    expect(weight.parts.length).toBeGreaterThan(1);

    const x = r.vec(c.k);
    const kind = actKind(c.type, 'ggml');
    const act = createAct(session, kind, c.k, 1, 'act');
    const ids = Uint32Array.from({ length: c.slots }, (_, s) => (c.count - 1 - s + c.count) % c.count);
    const glu = c.mode === 'glu_silu';
    const outLen = glu ? c.n / 2 : c.n;
    const yb = upload(session, new Float32Array(c.slots * outLen), 'y');
    runOps(session, [
      await quantOp(session, { x: upload(session, x, 'x'), rows: 1, out: act }),
      ...(await matvecOps(session, { weight, act, y: yb, mode: c.mode, slots: c.slots, ids: c.count > 1 ? upload(session, ids, 'ids') : undefined })),
    ]);
    const got = await readF32(session, yb, c.slots * outLen);

    const { a } = cpuConvert(kind, x);
    const row = (mat: number, rr: number) => {
      let acc = 0;
      for (let j = 0; j < c.k; j++) acc += wd[(mat * c.n + rr) * c.k + j] * a[j];
      return acc;
    };
    const want = new Float64Array(c.slots * outLen);
    for (let s = 0; s < c.slots; s++) {
      const mat = c.count > 1 ? ids[s] : 0;
      for (let i = 0; i < outLen; i++) want[s * outLen + i] = glu ? silu(row(mat, i)) * row(mat, outLen + i) : row(mat, i);
    }
    expect(relErr(got, want)).toBeLessThan(2e-5);
  });
});

// IQ4_NL and IQ4_XS products must be as accurate as ggml's (an exact integer sum per block, then
// f32): each row within 0.5 f32 ulps of the sum of its terms' magnitudes (measured: 0.10 IQ4_NL and
// 0.15 IQ4_XS on SwiftShader, 0.27 and 0.25 on lavapipe; before the fix 0.73 and 1.29 on SwiftShader).
// The kernels once multiplied the activation by the table value + 128 and took 128 * (block sum)
// off after (c = -128): on all-positive activations that sum dwarfs the result, and its f32
// rounding moved products enough to turn Q8 roundings of the next conversion no single ambiguous
// rounding of the reference explains (qwen3 IQ4_XS in src/engine/quant-formats.test.ts).
// MXFP4 had the same c = -128 (measured 9.44 ulps on SwiftShader before, 0.04 after); gpt-oss on
// the engine (src/engine/gpt-oss.test.ts) in exact numerics: logits 2e-4 from the float64 reference before, 1.4e-5 after.
describe('IQ4 products without cancellation', () => {
  it.each([T.IQ4_NL, T.IQ4_XS, T.MXFP4].map((type) => ({ type, name: typeName(type) })))('$name: each row within 0.5 ulps of the sum of |terms|', async ({ type }) => {
    const k = 1024, n = 64;
    const r = rng(k + type);
    const bytes = quantize(type, r.vec(n * k, 1 / Math.sqrt(k)));
    const wd = dequantize(type, bytes, n * k);
    const weight = uploadWeight(session.device, session.buffers, `w_${typeName(type)}_acc`, type, k, n, 1, bytes, session.limits.maxStorageBufferBindingSize);
    const x = Float32Array.from(r.vec(k, 0.1), (v) => 1 + v); // all positive: a large block sum
    const kind = actKind(type, 'ggml');
    const act = createAct(session, kind, k, 1, 'act');
    const yb = upload(session, new Float32Array(n), 'y');
    runOps(session, [
      await quantOp(session, { x: upload(session, x, 'x'), rows: 1, out: act }),
      ...(await matvecOps(session, { weight, act, y: yb, mode: 'store' })),
    ]);
    const got = await readF32(session, yb, n);
    const { a } = cpuConvert(kind, x);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      let acc = 0, mag = 0;
      for (let j = 0; j < k; j++) { acc += wd[i * k + j] * a[j]; mag += Math.abs(wd[i * k + j] * a[j]); }
      worst = Math.max(worst, Math.abs(got[i] - acc) / (mag * 2 ** -24));
    }
    console.log(`${typeName(type)}: worst row error ${worst.toFixed(2)} ulps of the sum of |terms|`);
    expect(worst).toBeLessThan(0.5);
  });
});
