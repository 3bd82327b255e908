// moe.wgsl against CPU math: routing over the router logits of the matvec kernels (each kernel
// shape; softmax, top-k in order, renormalization, weight scale, Qwen2-MoE shared gate as the
// router's last row; ties taken at the lower index; gpt-oss's router bias and softmax over the
// top-k logits) and the combination of slot outputs with post-norm and residual.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GGMLType } from '../../gguf/types.ts';
import { runOps } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { readF32, readU32, relErr, rng, testSession, upload, zeros } from '../testing.ts';
import type { KernelShape } from '../variant.ts';
import { uploadWeight } from '../weights.ts';
import { matvecOps } from './matvec.ts';
import { combineOp, routeOp, routerRows, type MoeShape } from './moe.ts';
import { createAct, quantOp } from './quant.ts';

let session: GPUSession;
beforeAll(async () => { session = await testSession(); });
afterAll(() => session?.destroy());

const SHAPES: MoeShape[] = [
  { d: 64, nExpert: 8, k: 2, normTopK: true, weightsScale: 0, shexp: 0 },
  { d: 96, nExpert: 60, k: 4, normTopK: false, weightsScale: 0, shexp: 2 },
  { d: 32, nExpert: 64, k: 8, normTopK: false, weightsScale: 2.5, shexp: 1 },
  // more experts than the kernel's 64 lanes, and ties: the second half's router rows copy the first's
  { d: 64, nExpert: 160, k: 8, normTopK: true, weightsScale: 0, shexp: 0 },
  // gpt-oss: router bias, softmax over the chosen logits (32 experts, top-4 as gpt-oss-20b)
  { d: 64, nExpert: 32, k: 4, normTopK: false, weightsScale: 0, shexp: 0, softmaxTopK: true },
];

// each shape once, the kernel shapes of the router's product taken in turn
const CASES = SHAPES.map((s, i) => ({ ...s, kernels: (['software', 'hardware', 'hardware-wg'] as const)[i % 3] }));

describe('moe.wgsl', () => {
  it.each(CASES)('routes $nExpert experts top-$k norm=$normTopK scale=$weightsScale shexp=$shexp ($kernels router), then combines', async (s) => {
    const r = rng(s.nExpert), T = 3;
    const x = r.vec(T * s.d), router = r.vec(s.nExpert * s.d, 0.5), shg = r.vec(s.d, 0.3);
    const bias = s.softmaxTopK ? r.vec(s.nExpert) : undefined;
    if (s.nExpert > 64) router.copyWithin((s.nExpert / 2) * s.d, 0, (s.nExpert / 2) * s.d);
    const slots = s.k + (s.shexp ? 1 : 0);
    const y = r.vec(T * slots * s.d), res = r.vec(T * s.d), nw = r.vec(s.d);
    const ids = zeros(session, 4 * T * s.k), wts = zeros(session, 4 * T * (s.k + 1)), xb = upload(session, res);
    // the router's matrix as the engine uploads it: the shared gate as its last row
    const nR = routerRows(s);
    const rw = new Float32Array(nR * s.d);
    rw.set(router);
    if (s.shexp === 2) rw.set(shg, s.nExpert * s.d);
    const weight = uploadWeight(session.device, session.buffers, 'router', GGMLType.F32, s.d, nR, 1, new Uint8Array(rw.buffer), 1 << 30);
    const act = createAct(session, 'none', s.d, T, 'router.in');
    const logits = zeros(session, 4 * T * nR);
    const kernels: KernelShape = s.kernels === 'software' ? 'software' : 'hardware';
    const mv = await matvecOps(session, { weight, act, y: logits, yTok: nR, tokens: T, kernels, subgroups: s.kernels === 'hardware' ? undefined : false });
    const norm = s.shexp === 1 ? { w: upload(session, nw), eps: 1e-5 } : undefined;
    runOps(session, [
      await quantOp(session, { x: upload(session, x), rows: T, out: act }),
      ...mv,
      await routeOp(session, { shape: s, logits, routerBias: bias && upload(session, bias), ids, wts, tokens: T }),
      await combineOp(session, { shape: s, y: upload(session, y), wts, ids, x: xb, tokens: T, norm, resScale: 0.7 }),
    ]);
    const gotIds = await readU32(session, ids, T * s.k);
    const gotW = await readF32(session, wts, T * (s.k + 1));
    const gotX = await readF32(session, xb, T * s.d);

    for (let t = 0; t < T; t++) {
      const logits = Array.from({ length: s.nExpert }, (_, e) => {
        let a = 0;
        for (let i = 0; i < s.d; i++) a += router[e * s.d + i] * x[t * s.d + i];
        return a + (bias?.[e] ?? 0);
      });
      const m = Math.max(...logits);
      const e = logits.map((v) => Math.exp(v - m));
      const sum = e.reduce((a, b) => a + b, 0);
      const p = s.softmaxTopK ? logits : e.map((v) => v / sum);
      const order = p.map((_, i) => i).sort((a, b) => p[b] - p[a] || a - b).slice(0, s.k);
      let w = order.map((i) => p[i]);
      if (s.softmaxTopK) { const ek = w.map((v) => Math.exp(v - w[0])); const sk = ek.reduce((a, b) => a + b, 0); w = ek.map((v) => v / sk); }
      if (s.normTopK) { const ws = w.reduce((a, b) => a + b, 0); w = w.map((v) => v / ws); }
      if (s.weightsScale) w = w.map((v) => v * s.weightsScale);
      let g = 0;
      for (let i = 0; i < s.d; i++) g += shg[i] * x[t * s.d + i];
      const gate = s.shexp === 2 ? 1 / (1 + Math.exp(-g)) : 1;
      expect(Array.from(gotIds.subarray(t * s.k, (t + 1) * s.k))).toEqual(order);
      expect(relErr(gotW.subarray(t * (s.k + 1), (t + 1) * (s.k + 1)), [...w, gate])).toBeLessThan(1e-5);

      const comb = new Float64Array(s.d);
      for (let i = 0; i < s.d; i++) {
        for (let j = 0; j < s.k; j++) comb[i] += w[j] * y[(t * slots + j) * s.d + i];
        if (s.shexp) comb[i] += gate * y[(t * slots + s.k) * s.d + i];
      }
      const rs = norm ? 1 / Math.sqrt(comb.reduce((a, v) => a + v * v, 0) / s.d + 1e-5) : 1;
      const want = Array.from(comb, (v, i) => res[t * s.d + i] + (norm ? v * rs * nw[i] : v) * 0.7);
      expect(relErr(gotX.subarray(t * s.d, (t + 1) * s.d), want)).toBeLessThan(1e-5);
    }
  });
});
