// elementwise.wgsl against CPU math: residual adds with and without post-norm and scale, logit
// scaling with soft cap, argmax (first index on ties, rows longer than the workgroup).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOps } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { readF32, readU32, relErr, rng, testSession, upload, zeros } from '../testing.ts';
import { argmaxOp, logitsPostOp, residualOp } from './elementwise.ts';

let session: GPUSession;
beforeAll(async () => { session = await testSession(); });
afterAll(() => session?.destroy());

describe('elementwise.wgsl', () => {
  it.each([
    { norm: false, scale: 1 }, { norm: true, scale: 1 }, { norm: false, scale: 0.22 }, { norm: true, scale: 0.5 },
  ])('residual norm=$norm scale=$scale', async ({ norm, scale }) => {
    const r = rng(norm ? 5 : 6), n = 200, rows = 3, eps = 1e-6;
    const a = r.vec(rows * n), x = r.vec(rows * n), w = r.vec(n);
    const xb = upload(session, x);
    runOps(session, [await residualOp(session, { n, rows, a: upload(session, a), x: xb, norm: norm ? { w: upload(session, w), eps } : undefined, scale })]);
    const got = await readF32(session, xb, rows * n);
    const want = new Float64Array(rows * n);
    for (let t = 0; t < rows; t++) {
      let ss = 0;
      for (let i = 0; i < n; i++) ss += a[t * n + i] ** 2;
      const rs = norm ? 1 / Math.sqrt(ss / n + eps) : 1;
      for (let i = 0; i < n; i++) want[t * n + i] = x[t * n + i] + (norm ? a[t * n + i] * rs * w[i] : a[t * n + i]) * scale;
    }
    expect(relErr(got, want)).toBeLessThan(1e-6);
  });

  it('scales and soft-caps logits', async () => {
    const x = rng(9).vec(300, 20);
    const b = upload(session, x);
    runOps(session, [await logitsPostOp(session, b, 300, 0.5, 30)]);
    const got = await readF32(session, b, 300);
    expect(relErr(got, Array.from(x, (v) => 30 * Math.tanh((v * 0.5) / 30)))).toBeLessThan(2e-6);
  });

  it.each([{ n: 1 }, { n: 7 }, { n: 1000 }, { n: 50257 }])('argmax of $n logits, first of equal maxima', async ({ n }) => {
    const x = rng(n).vec(n);
    const top = Math.floor(n / 3), dup = Math.floor((2 * n) / 3);
    x[top] = 100;
    if (dup !== top) x[dup] = 100; // a later equal maximum must not win
    const idx = zeros(session, 16);
    runOps(session, [await argmaxOp(session, upload(session, x), n, idx, 0, 2)]);
    expect((await readU32(session, idx, 3))[2]).toBe(top);
  });
});
