// Activation conversion (quant_act.wgsl, quant_act_hw.wgsl): the hardware shape (a row over
// k / 256 workgroups, 8 lanes per 32-block) writes the software kernel's bytes exactly (values,
// sums, Q8 block scales), for every conversion, with and without the RMSNorm, positional scaling and byte-3 sums,
// odd widths (not a multiple of 256) and rows read at an offset and stride; on plain rows its
// output is ggml's quantization (testing.ts cpuConvert, written from ggml's C code) and each Q8
// block's scale.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roundF16 } from '../../gguf/half.ts';
import type { ActKind } from '../layout.ts';
import { runOps } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { cpuConvert, readBytes, relErr, rng, testSession, upload } from '../testing.ts';
import { actIndex, createAct, quantOp } from './quant.ts';

let session: GPUSession;
beforeAll(async () => { session = await testSession(); });
afterAll(() => session?.destroy());

interface Case { kind: ActKind; k: number; norm: boolean }
const CASES: Case[] = [
  { kind: 'none', k: 96, norm: true },
  { kind: 'none_s32', k: 2080, norm: false },
  { kind: 'f16', k: 288, norm: true },
  { kind: 'bf16', k: 64, norm: false },
  { kind: 'q8_0.pos2.b3', k: 2080, norm: true }, // Q8_0 weights
  { kind: 'q8_0', k: 96, norm: false },
  { kind: 'q8_1.pos1', k: 320, norm: true }, // Q4_1
  { kind: 'q8_1', k: 64, norm: false },
  { kind: 'q8_k.pos1', k: 2048, norm: true }, // Q4_K
  { kind: 'q8_k.pos3', k: 768, norm: true }, // Q2_K, Q3_K
  { kind: 'q8_k', k: 512, norm: false },
];

/** The scale d of block b that a Q8 conversion stores (ggml: f16 amax / 127 for Q8_0 and Q8_1;
 *  Q8_K: 1 / (-127 / x) for the super-block's first x of largest |x|); 0 for the others. */
function blockScale(kind: ActKind, row: Float32Array, b: number): number {
  if (kind === 'q8_0' || kind === 'q8_1') return roundF16(Math.fround(row.subarray(32 * b, 32 * b + 32).reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 127));
  if (kind !== 'q8_k') return 0;
  let max = 0;
  for (const v of row.subarray(256 * (b >> 3), 256 * (b >> 3) + 256)) if (Math.abs(v) > Math.abs(max)) max = v;
  return max ? Math.fround(1 / Math.fround(-127 / max)) : 0;
}

describe('quant_act_hw.wgsl', () => {
  it.each(CASES)('$kind k=$k norm=$norm: the software kernel\'s bytes', async (c) => {
    const rows = 3, stride = c.k + 32, off = 16;
    const r = rng(c.k);
    const x = r.vec(off + rows * stride, 2);
    const xb = upload(session, x);
    const norm = c.norm ? { w: upload(session, r.vec(c.k, 1)), eps: 1e-5 } : undefined;
    const out = { software: createAct(session, c.kind, c.k, rows, 'sw'), hardware: createAct(session, c.kind, c.k, rows, 'hw') };
    runOps(session, await Promise.all((['software', 'hardware'] as const).map((kernels) =>
      quantOp(session, { x: xb, xOff: off, xStride: stride, rows, out: out[kernels], norm, kernels }))));
    const bytes = 144 * (c.k / 32) * rows;
    const sw = new Uint32Array(await readBytes(session, out.software.a, bytes));
    const hw = new Uint32Array(await readBytes(session, out.hardware.a, bytes));
    expect(sw.filter((v) => v !== 0).length, 'nonzero words').toBeGreaterThan(bytes / 8);
    expect(hw.findIndex((v, i) => v !== sw[i]), 'first differing word').toBe(-1);
    if (c.norm || c.kind.includes('.')) return;
    // plain rows: ggml's conversion, and the block scales
    const f = new Float32Array(hw.buffer);
    for (let t = 0; t < rows; t++) {
      const row = x.subarray(off + t * stride, off + t * stride + c.k);
      const { a, s } = cpuConvert(c.kind, row);
      const got = Array.from({ length: c.k }, (_, i) => f[actIndex(c.k, t, i)]);
      expect(got).toEqual(Array.from(a, Math.fround));
      const sums = Array.from({ length: c.k / 16 }, (_, i) => f[actIndex(c.k, t, 32 * (i >> 1)) + 32 + (i & 1)]);
      expect(relErr(sums, s)).toBeLessThan(1e-6);
      const scales = Array.from({ length: c.k / 32 }, (_, b) => f[actIndex(c.k, t, 32 * b) + 34]);
      expect(scales).toEqual(Array.from({ length: c.k / 32 }, (_, b) => blockScale(c.kind, row, b)));
    }
  });
});
