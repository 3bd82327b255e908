// Residual add with optional post-norm and scale, logit scaling/soft cap, greedy argmax
// (elementwise.wgsl).
import type { Kernel } from '../kernel.ts';
import { Op } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { SHADERS } from '../shaders.ts';

const WG = 64;
const BASE = { n: 0, a_off: 0, a_stride: 0, x_off: 0, x_stride: 0, norm: 0, eps: 0, scale: 1, softcap: 0, out_off: 0 };

function kernel(session: GPUSession, entry: string): Promise<Kernel> {
  return session.pipelines.get({ sources: [SHADERS.sum, SHADERS.elementwise], entry, overrides: { WG: entry === 'argmax' ? 256 : WG } });
}

export interface ResidualArgs {
  n: number;
  rows: number;
  a: GPUBuffer;
  aOff?: number;
  x: GPUBuffer;
  xOff?: number;
  norm?: { w: GPUBuffer; eps: number };
  scale?: number;
  label?: string;
}

/** x[r] += scale * norm(a[r]) for `rows` rows of n. */
export async function residualOp(session: GPUSession, a: ResidualArgs): Promise<Op> {
  return new Op(session, await kernel(session, 'residual'), { a: a.a, nw: a.norm?.w ?? session.dummy, x: a.x, idx: session.dummyRW }, {
    ...BASE, n: a.n, a_off: a.aOff ?? 0, a_stride: a.n, x_off: a.xOff ?? 0, x_stride: a.n,
    norm: a.norm ? 1 : 0, eps: a.norm?.eps ?? 0, scale: a.scale ?? 1,
  }, [a.rows], a.label ?? 'residual');
}

/** logits = softcap(logits * scale) in place. */
export async function logitsPostOp(session: GPUSession, logits: GPUBuffer, n: number, scale: number, softcap: number, xOff = 0): Promise<Op> {
  return new Op(session, await kernel(session, 'logits_post'), { a: session.dummy, nw: session.dummy, x: logits, idx: session.dummyRW }, {
    ...BASE, n, x_off: xOff, scale, softcap,
  }, [Math.ceil(n / WG)], 'logits_post');
}

/** idx[outOff] = argmax of logits[xOff .. xOff + n). */
export async function argmaxOp(session: GPUSession, logits: GPUBuffer, n: number, idx: GPUBuffer, xOff = 0, outOff = 0): Promise<Op> {
  return new Op(session, await kernel(session, 'argmax'), { a: session.dummy, nw: session.dummy, x: logits, idx }, {
    ...BASE, n, x_off: xOff, out_off: outOff,
  }, [1], 'argmax');
}
