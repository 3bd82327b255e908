// The dequantizers of Q2_K, Q3_K, IQ4_NL and IQ4_XS (q_q2_k.wgsl ...) on weights split over
// several buffers (layout.ts regions per part: the split falls inside a matrix, or between the
// matrices of a gated expert stack), against plain CPU math: the weight dequantized by src/gguf
// (checked against gguf-py), the activation converted by the CPU version of ggml's quantizers,
// the product in float64. (matvec.test.ts, matmul.test.ts and embed.test.ts cover every GPU type,
// these included, on one buffer.) The software shape's products in ggml's order (Q2_K, IQ4_NL,
// Q4_0, MXFP4 in 'ggml' numerics) against the CPU reference's emulation of llama.cpp's own
// kernels (src/reference/ggml-dot.ts, checked against llama.cpp's logits), bit for bit; and the
// FMA the kernels emulate (dot32.wgsl fma_rn4) against an exactly rounded one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dequantize } from '../../gguf/dequant.ts';
import { quantize } from '../../gguf/quant.ts';
import { GGMLType, typeName } from '../../gguf/types.ts';
import { actKind, weightLayout } from '../layout.ts';
import { Op, runOps } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { cpuConvert, readF32, relErr, rng, testSession, upload, zeros } from '../testing.ts';
import { uploadWeight } from '../weights.ts';
import { makeWeight, matvec as refMatvec } from '../../reference/matmul.ts';
import { numerics } from '../../reference/numerics.ts';
import { SHADERS } from '../shaders.ts';
import { MatmulOp } from './matmul.ts';
import { matvecOps, rowOrder, type MatvecMode } from './matvec.ts';
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
// 63 rows: IQ4_NL and MXFP4 matrices of a multiple of 8 rows take ggml's order instead (below).
describe('IQ4 products without cancellation', () => {
  it.each([T.IQ4_NL, T.IQ4_XS, T.MXFP4].map((type) => ({ type, name: typeName(type) })))('$name: each row within 0.5 ulps of the sum of |terms|', async ({ type }) => {
    const k = 1024, n = 63;
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

// The k-th of 4 lanes: a·b + c once rounded to f32. In float64 the product of two floats is exact;
// the sum rounded to odd (nudged one unit off an even result when inexact) then rounds to f32 as
// the exact value would (53 >= 24 + 2 bits).
function fmaF32(a: number, b: number, c: number): number {
  const p = a * b, s = p + c;
  const bb = s - p, t = (p - (s - bb)) + (c - bb);
  if (t === 0) return Math.fround(s);
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, s);
  const bits = v.getBigUint64(0);
  if ((bits & 1n) === 0n) v.setBigUint64(0, (t > 0) === (s > 0) ? bits + 1n : bits - 1n);
  return Math.fround(v.getFloat64(0));
}

describe('ggml\'s order', () => {
  const GGML_CASES = [T.Q2_K, T.IQ4_NL, T.Q4_0, T.MXFP4, T.Q8_0].map((type) => ({ type, name: typeName(type) }));
  it.each(GGML_CASES)('$name matvec of 2 of 3 experts: the reference\'s llama.cpp products bit for bit', async ({ type }) => {
    const k = type === T.Q2_K ? 512 : 288, n = type === T.Q8_0 ? 20 : 24, count = 3, slots = 2; // Q8_0: vec_dot's lanes at any rows
    expect(rowOrder(type, 'ggml', n)).not.toBe('twoSum');
    const r = rng(k + n + type);
    const bytes = quantize(type, r.vec(count * n * k, 1 / Math.sqrt(k)));
    const weight = uploadWeight(session.device, session.buffers, `w_${typeName(type)}_ggml`, type, k, n, count, bytes, session.limits.maxStorageBufferBindingSize);
    const x = r.vec(k);
    const act = createAct(session, actKind(type, 'ggml'), k, 1, 'act');
    const ids = Uint32Array.from({ length: slots }, (_, s) => count - 1 - s);
    const yb = upload(session, new Float32Array(slots * n), 'y');
    runOps(session, [
      await quantOp(session, { x: upload(session, x, 'x'), rows: 1, out: act }),
      ...(await matvecOps(session, { weight, act, y: yb, slots, ids: upload(session, ids, 'ids') })),
    ]);
    const got = await readF32(session, yb, slots * n);
    const ref = makeWeight('w', type, [k, n, count], bytes);
    const want = new Float32Array(slots * n);
    for (let s = 0; s < slots; s++) want.set(refMatvec(numerics('ggml'), ref, x, ids[s]), s * n);
    expect(Array.from(got)).toEqual(Array.from(want));
  });

  it.each(GGML_CASES)('$name matmul of 6 tokens (a 4-token gemm, 2 by gemv): the reference\'s products bit for bit', async ({ type }) => {
    const k = type === T.Q2_K ? 512 : 288, n = type === T.Q8_0 ? 20 : 24, tokens = 6;
    const r = rng(k + n + type + 5);
    const bytes = quantize(type, r.vec(n * k, 1 / Math.sqrt(k)));
    const weight = uploadWeight(session.device, session.buffers, `w_${typeName(type)}_ggmm`, type, k, n, 1, bytes, session.limits.maxStorageBufferBindingSize);
    const x = r.vec(tokens * k);
    const act = createAct(session, actKind(type, 'ggml'), k, tokens, 'act');
    const yb = upload(session, new Float32Array(tokens * n), 'y');
    const op = await MatmulOp.create(session, { weight, act, y: yb });
    runOps(session, [await quantOp(session, { x: upload(session, x, 'x'), rows: tokens, out: act }), ...op.set(tokens)]);
    const got = await readF32(session, yb, tokens * n);
    const ref = makeWeight('w', type, [k, n], bytes);
    const want = new Float32Array(tokens * n);
    for (let t = 0; t < tokens; t++) want.set(refMatvec({ ...numerics('ggml'), gemm: t < 4 }, ref, x.subarray(t * k, (t + 1) * k)), t * n);
    expect(Array.from(got)).toEqual(Array.from(want));
  });

  it('fma_rn4 rounds a·b + c once, as an FMA instruction', async () => {
    const r = rng(99);
    const n = 4 * 4096;
    const f = Math.fround;
    const a = new Float32Array(n), b = new Float32Array(n), c = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      // integer sums times f32 scales (as the kernels pass them), plain floats; sums that cancel
      const kind = i % 4;
      a[i] = kind === 0 ? Math.round(r.vec(1, 2 ** 20)[0]) : f(r.vec(1)[0] * 2 ** Math.round(r.vec(1, 8)[0]));
      b[i] = f(r.vec(1, 1e-4)[0]);
      const p = a[i] * b[i];
      c[i] = kind === 2 ? f(-p) : kind === 3 ? f(-p * (1 + 2 ** -12)) : f(r.vec(1)[0] * Math.abs(p) * 4);
    }
    const q = n / 4;
    const test = { name: 'fma-test.wgsl', text: `
@group(0) @binding(0) var<storage, read> act: array<A32>;
@group(0) @binding(1) var<storage, read_write> buf: array<vec4<f32>>;
fn rt_zero() -> u32 { return select(0u, 1u, arrayLength(&buf) == 0u); }
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < ${q}u) { buf[${3 * q}u + id.x] = fma_rn4(buf[id.x], buf[${q}u + id.x], buf[${2 * q}u + id.x]); }
}` };
    const kernel = await session.pipelines.get({ sources: [SHADERS.quantCommon, SHADERS.dot32, test], entry: 'main' });
    const all = new Float32Array(4 * n);
    all.set(a, 0); all.set(b, n); all.set(c, 2 * n);
    const buf = upload(session, all, 'fma');
    runOps(session, [new Op(session, kernel, { act: zeros(session, 144), buf }, undefined, [q / 64])]);
    const got = await readF32(session, buf, n, 3 * n);
    let wrong = 0, unfused = 0;
    for (let i = 0; i < n; i++) {
      const want = fmaF32(a[i], b[i], c[i]);
      if (!Object.is(got[i], want) && !(got[i] === 0 && want === 0)) wrong++;
      if (f(f(a[i] * b[i]) + c[i]) !== want) unfused++;
    }
    console.log(`fma_rn4: ${wrong} of ${n} differ from a correctly rounded FMA (a product and a sum rounded apart: ${unfused})`);
    expect(unfused).toBeGreaterThan(n / 8); // the cases are ones where fusing matters
    expect(wrong).toBe(0);
  });
});
