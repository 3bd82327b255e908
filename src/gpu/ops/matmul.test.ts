// matmul.wgsl and matmul_hw.wgsl (prefill products) for every weight type against CPU math on a
// batch of tokens: dequantized weights, activations converted by the CPU version of ggml's
// quantizers, float64. Both kernel shapes: software, and hardware (with more than one 64-row and
// 32-token tile: odd row and token counts across tile edges). The hardware matmul reduces nothing
// across lanes, so it is one kernel with or without subgroups; its activations are converted in
// the hardware shape too. A weight split over buffers in both shapes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dequantize } from '../../gguf/dequant.ts';
import { f16ToF32 } from '../../gguf/half.ts';
import { quantize } from '../../gguf/quant.ts';
import { GGMLType } from '../../gguf/types.ts';
import { actKind, GPU_TYPES, weightLayout } from '../layout.ts';
import { runOps } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { cpuConvert, readF32, relErr, rng, testSession, upload } from '../testing.ts';
import type { KernelShape } from '../variant.ts';
import { uploadWeight } from '../weights.ts';
import type { MatvecMode } from './matvec.ts';
import { MatmulOp } from './matmul.ts';
import { createAct, quantOp } from './quant.ts';

let session: GPUSession;
beforeAll(async () => { session = await testSession(); });
afterAll(() => session?.destroy());

interface Case {
  kernels: KernelShape; type: GGMLType; k: number; n: number; tokens: number; mode: MatvecMode; bias: boolean;
  /** Largest buffer of the weight in rows (splits it), default one buffer. */
  splitRows?: number;
}

const TYPES = Object.keys(GPU_TYPES).map(Number) as GGMLType[];
const kOf = (type: GGMLType) => (GPU_TYPES[type]!.super ? 512 : 160);
const split = { type: GGMLType.Q4_0, k: 96, n: 150, tokens: 9, mode: 'store', bias: true, splitRows: 64 } as const;
const CASES: Case[] = [
  ...TYPES.map((type, i) => ({ kernels: 'software' as const, type, k: kOf(type), n: 37 + 2 * i, tokens: [5, 8, 1, 3][i % 4], mode: 'store' as const, bias: i % 2 === 0 })),
  { kernels: 'software', type: GGMLType.Q8_0, k: 96, n: 33, tokens: 6, mode: 'add', bias: false },
  { kernels: 'software', type: GGMLType.Q4_K, k: 256, n: 2 * 19, tokens: 7, mode: 'glu_silu', bias: false },
  { kernels: 'software', type: GGMLType.Q5_0, k: 64, n: 2 * 12, tokens: 4, mode: 'glu_gelu', bias: false },
  { kernels: 'software', ...split },
  // hardware: rows over two 64-row tiles, tokens over two 32-token tiles (some cases)
  ...TYPES.map((type, i) => ({ kernels: 'hardware' as const, type, k: kOf(type), n: 67 + 2 * i, tokens: [33, 5, 40, 1][i % 4], mode: 'store' as const, bias: i % 2 === 1 })),
  { kernels: 'hardware', type: GGMLType.Q8_0, k: 96, n: 33, tokens: 35, mode: 'add', bias: false },
  { kernels: 'hardware', type: GGMLType.Q4_K, k: 256, n: 2 * 37, tokens: 7, mode: 'glu_silu', bias: false },
  { kernels: 'hardware', type: GGMLType.Q5_0, k: 64, n: 2 * 12, tokens: 34, mode: 'glu_gelu', bias: false },
  { kernels: 'hardware', ...split },
];

const silu = (v: number) => v / (1 + Math.exp(-v));
const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * v * (1 + 0.044715 * v * v)));

describe('matmul.wgsl', () => {
  it.each(CASES)('$kernels $mode type=$type k=$k n=$n tokens=$tokens bias=$bias split=$splitRows', async (c) => {
    const r = rng(c.k + c.n * 3 + c.tokens);
    const bytes = quantize(c.type, r.vec(c.n * c.k, 1 / Math.sqrt(c.k)));
    const wd = dequantize(c.type, bytes, c.n * c.k);
    const bs = c.type === GGMLType.Q4_1 ? 20 : c.type === GGMLType.Q5_1 ? 24 : 0;
    const maxBinding = c.splitRows ? weightLayout(c.type, c.k, c.splitRows).words * 4 : session.limits.maxStorageBufferBindingSize;
    const weight = uploadWeight(session.device, session.buffers, 'w', c.type, c.k, c.n, 1, bytes, maxBinding);
    if (c.splitRows) expect(weight.parts.length).toBeGreaterThan(1);
    const kind = actKind(c.type, 'ggml');
    const x = r.vec(c.tokens * c.k);
    const act = createAct(session, kind, c.k, c.tokens, 'act');
    const glu = c.mode.startsWith('glu');
    const outLen = glu ? c.n / 2 : c.n;
    const y0 = r.vec(c.tokens * outLen);
    const yb = upload(session, y0);
    const bias = r.vec(c.n);
    const mm = await MatmulOp.create(session, { weight, act, y: yb, mode: c.mode, bias: c.bias ? upload(session, bias) : undefined, kernels: c.kernels });
    runOps(session, [await quantOp(session, { x: upload(session, x), rows: c.tokens, out: act, kernels: c.kernels }), ...mm.set(c.tokens)]);
    const got = await readF32(session, yb, c.tokens * outLen);

    const want = new Float64Array(c.tokens * outLen);
    for (let t = 0; t < c.tokens; t++) {
      const { a, s } = cpuConvert(kind, x.subarray(t * c.k, (t + 1) * c.k));
      const row = (rr: number) => {
        let acc = 0;
        for (let j = 0; j < c.k; j++) acc += wd[rr * c.k + j] * a[j];
        if (bs) { // Q4_1/Q5_1: ggml multiplies m by Q8_1's stored sum s
          const dv = new DataView(bytes.buffer, bytes.byteOffset);
          for (let b = 0; b < c.k / 32; b++) {
            let exact = 0;
            for (let j = 0; j < 32; j++) exact += a[32 * b + j];
            acc += f16ToF32(dv.getUint16((rr * (c.k / 32) + b) * bs + 2, true)) * (s[2 * b] - exact);
          }
        }
        return acc;
      };
      for (let i = 0; i < outLen; i++) {
        const o = t * outLen + i;
        if (c.mode === 'store') want[o] = row(i) + (c.bias ? bias[i] : 0);
        else if (c.mode === 'add') want[o] = y0[o] + row(i);
        else want[o] = (c.mode === 'glu_silu' ? silu(row(i)) : gelu(row(i))) * row(outLen + i);
      }
    }
    expect(relErr(got, want)).toBeLessThan(c.mode === 'glu_gelu' ? 2e-3 : 2e-5);
  });
});
