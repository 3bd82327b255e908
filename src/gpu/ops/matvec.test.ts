// matvec.wgsl for every weight type against plain CPU math: the weight dequantized by src/gguf
// (checked against gguf-py), the activation converted by the CPU version of ggml's quantizers,
// the product in float64. Odd row counts, several column counts, experts selected by id, weights
// split over several buffers; in every kernel shape: software, hardware with subgroups (where the
// adapter has them: SwiftShader and lavapipe do), hardware with the workgroup-memory reduction
// (the activation converted in the same shape: quant_act.wgsl's Q8_K has one of each).
// gpt-oss's experts: the clamped SwiGLU and per-expert biases found through the router's ids while
// the matrices are found through other ids (pool slots), large enough to reach the clamps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dequantize } from '../../gguf/dequant.ts';
import { f16ToF32 } from '../../gguf/half.ts';
import { quantize } from '../../gguf/quant.ts';
import { GGMLType, typeName } from '../../gguf/types.ts';
import { actKind, GPU_TYPES, parseActKind, weightLayout } from '../layout.ts';
import { runOps } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { cpuConvert, readF32, relErr, rng, testSession, upload, zeros } from '../testing.ts';
import { uploadWeight } from '../weights.ts';
import type { KernelShape } from '../variant.ts';
import { matvecOps, type MatvecMode } from './matvec.ts';
import { createAct, quantOp } from './quant.ts';

let session: GPUSession;
beforeAll(async () => { session = await testSession(); });
afterAll(() => session?.destroy());

const TYPES = Object.keys(GPU_TYPES).map(Number) as GGMLType[];
const isSuper = (t: GGMLType) => GPU_TYPES[t]!.super;

/** Per-block offsets m of Q4_1/Q5_1 (ggml adds m * s, s = the activation block's f16 sum). */
function mins(type: GGMLType, bytes: Uint8Array): Float64Array | undefined {
  const bs = type === GGMLType.Q4_1 ? 20 : type === GGMLType.Q5_1 ? 24 : 0;
  if (!bs) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float64Array.from({ length: bytes.length / bs }, (_, b) => f16ToF32(dv.getUint16(b * bs + 2, true)));
}

type Variant = 'software' | 'hardware-sg' | 'hardware-wg';
const VARIANTS: Variant[] = ['software', 'hardware-sg', 'hardware-wg'];

interface Case {
  type: GGMLType; k: number; n: number; count: number; mode: MatvecMode; numerics: 'ggml' | 'exact'; slots: number;
  /** Largest buffer of the weight in rows (splits it), default one buffer. */
  splitRows?: number;
  /** Per-expert biases (count, n), looked up by other ids than the matrices'. */
  expertBias?: boolean;
}

function cases(): (Case & { variant: Variant })[] {
  const base: Case[] = [], hw: (Case & { variant: Variant })[] = [];
  for (const type of TYPES) {
    const k1 = isSuper(type) ? 256 : 96, k2 = isSuper(type) ? 512 : 288;
    const store: Case = { type, k: k1, n: 37, count: 1, mode: 'store', numerics: 'ggml', slots: 1 };
    const add: Case = { type, k: k2, n: 70, count: 3, mode: 'add', numerics: 'ggml', slots: 2 };
    base.push(store, add, { type, k: k1, n: 9, count: 1, mode: 'store', numerics: 'exact', slots: 1 });
    // each type through both reductions of the hardware shape (a case each: pipelines are slow to build here)
    hw.push({ ...add, variant: 'hardware-sg' }, { ...store, variant: 'hardware-wg' });
  }
  base.push({ type: GGMLType.Q4_K, k: 256, n: 2 * 21, count: 4, mode: 'glu_silu', numerics: 'ggml', slots: 2 });
  base.push({ type: GGMLType.Q8_0, k: 64, n: 2 * 35, count: 1, mode: 'glu_gelu', numerics: 'ggml', slots: 1 });
  base.push({ type: GGMLType.F32, k: 64, n: 2 * 5, count: 1, mode: 'glu_gelu', numerics: 'exact', slots: 1 });
  // split weights: a buffer boundary inside a matrix (plain), between matrices (gated experts)
  base.push({ type: GGMLType.Q4_0, k: 96, n: 150, count: 1, mode: 'store', numerics: 'ggml', slots: 1, splitRows: 64 });
  base.push({ type: GGMLType.Q6_K, k: 256, n: 2 * 9, count: 3, mode: 'glu_silu', numerics: 'ggml', slots: 2, splitRows: 18 });
  // gpt-oss experts (MXFP4): gate+up with the clamped SwiGLU, down, both with expert biases
  base.push({ type: GGMLType.MXFP4, k: 128, n: 2 * 20, count: 4, mode: 'glu_oai', numerics: 'ggml', slots: 3, expertBias: true });
  base.push({ type: GGMLType.MXFP4, k: 64, n: 24, count: 4, mode: 'store', numerics: 'ggml', slots: 3, expertBias: true });
  const glusAndSplits = base.slice(-7);
  // rows of more blocks than the hardware shape has lanes (k/32 > 256: several blocks per lane)
  // (and for Q8_K activations, more 32-blocks than the converter's 64 lanes)
  const wide: Case[] = [
    { type: GGMLType.Q8_0, k: 9024, n: 11, count: 1, mode: 'add', numerics: 'ggml', slots: 1 },
    { type: GGMLType.Q4_K, k: 2304, n: 9, count: 1, mode: 'store', numerics: 'ggml', slots: 1 },
  ];
  return [
    ...base.map((c) => ({ ...c, variant: 'software' as const })),
    ...hw,
    ...[...glusAndSplits, ...wide].flatMap((c) => VARIANTS.slice(1).map((variant) => ({ ...c, variant }))),
  ];
}

const silu = (v: number) => v / (1 + Math.exp(-v));
const swigluOai = (g: number, u: number) => {
  const x = Math.min(g, 7), y = Math.min(Math.max(u, -7), 7);
  return (x / (1 + Math.exp(-1.702 * x))) * (y + 1);
};
const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * v * (1 + 0.044715 * v * v)));

describe('matvec.wgsl', () => {
  it.each(cases())('$variant $mode $numerics %# type=$type k=$k n=$n count=$count slots=$slots', async (c) => {
    const hw = c.variant !== 'software';
    if (c.variant === 'hardware-sg' && !session.features.subgroups) return; // not on this adapter
    const kernels: KernelShape = hw ? 'hardware' : 'software';
    const r = rng(c.k * 31 + c.n + c.type);
    const wf = r.vec(c.count * c.n * c.k, 1 / Math.sqrt(c.k));
    const bytes = quantize(c.type, wf);
    const wd = dequantize(c.type, bytes, wf.length);
    const m = mins(c.type, bytes);
    const maxBinding = c.splitRows ? weightLayout(c.type, c.k, c.splitRows).words * 4 : session.limits.maxStorageBufferBindingSize;
    const weight = uploadWeight(session.device, session.buffers, `w_${typeName(c.type)}`, c.type, c.k, c.n, c.count, bytes, maxBinding);
    if (c.splitRows) expect(weight.parts.length).toBeGreaterThan(1);

    const x = r.vec(c.k);
    const kind = actKind(c.type, c.numerics);
    const act = createAct(session, kind, c.k, 1, 'act');
    const xb = upload(session, x, 'x');
    const ids = Uint32Array.from({ length: c.slots }, (_, s) => (c.count - 1 - s + c.count) % c.count);
    const glu = c.mode.startsWith('glu');
    const outLen = glu ? c.n / 2 : c.n;
    const y0 = r.vec(c.slots * outLen);
    const yb = upload(session, y0, 'y');
    // the biases' expert of slot s (the matrices' ids stand for pool slots then)
    const biasIds = Uint32Array.from(ids, (e) => (e + 1) % c.count);
    const bias = c.expertBias ? r.vec(c.count * c.n, 8) : undefined;
    const biasArgs = bias ? { bias: upload(session, bias, 'bias'), biasIds: upload(session, biasIds, 'bias_ids') } : {};
    const ops = [
      await quantOp(session, { x: xb, rows: 1, out: act, kernels }),
      ...(await matvecOps(session, { weight, act, y: yb, mode: c.mode, slots: c.slots, ids: c.count > 1 ? upload(session, ids, 'ids') : undefined, numerics: c.numerics,
        kernels, subgroups: c.variant === 'hardware-sg', ...biasArgs })),
    ];
    runOps(session, ops);
    const got = await readF32(session, yb, c.slots * outLen);

    const { a, s } = cpuConvert(kind, x);
    const want = new Float64Array(c.slots * outLen);
    const row = (mat: number, rr: number) => {
      let acc = 0;
      const base = (mat * c.n + rr) * c.k;
      for (let j = 0; j < c.k; j++) acc += wd[base + j] * a[j];
      // Q8_1 consumers: ggml multiplies m by the stored sum s instead of the block's exact sum
      if (m && parseActKind(kind).conv === 'q8_1') {
        for (let b = 0; b < c.k / 32; b++) {
          let exact = 0;
          for (let j = 0; j < 32; j++) exact += a[32 * b + j];
          acc += m[(mat * c.n + rr) * (c.k / 32) + b] * (s[2 * b] - exact);
        }
      }
      return acc;
    };
    for (let sl = 0; sl < c.slots; sl++) {
      const mat = c.count > 1 ? ids[sl] : 0;
      const b = (rr: number) => (bias ? bias[biasIds[sl] * c.n + rr] : 0);
      for (let i = 0; i < outLen; i++) {
        const o = sl * outLen + i;
        if (c.mode === 'store') want[o] = row(mat, i) + b(i);
        else if (c.mode === 'add') want[o] = y0[o] + row(mat, i);
        else {
          const g = row(mat, i) + b(i), u = row(mat, outLen + i) + b(outLen + i);
          want[o] = c.mode === 'glu_oai' ? swigluOai(g, u) : (c.mode === 'glu_silu' ? silu(g) : gelu(g)) * u;
        }
      }
    }
    // f32 products and sums vs float64; ggml's GELU reads an f16 table (relative step 2^-11)
    const tol = c.mode === 'glu_gelu' && c.numerics === 'ggml' ? 2e-3 : 2e-5;
    expect(relErr(got, want)).toBeLessThan(tol);
  });
});
