// Activation conversion (quant_act.wgsl): rows of k values, optionally RMS-normalized, converted
// to what a weight type's matmul multiplies (ggml's vec_dot_type), plus per-block sums.
import { USAGE } from '../buffers.ts';
import type { ActKind } from '../layout.ts';
import { Op } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { SHADERS } from '../shaders.ts';

export class ShapeError extends Error {
  override name = 'ShapeError';
}

/** A converted activation: `a` (rows, k) f32 values, `s` (rows, k/32) pairs of sums. */
export interface ActBuffers {
  kind: ActKind;
  k: number;
  rows: number;
  a: GPUBuffer;
  s: GPUBuffer;
}

export function createAct(session: GPUSession, kind: ActKind, k: number, rows: number, label: string): ActBuffers {
  if (k % 32) throw new ShapeError(`${label}: activations of ${k} values are not whole 32-blocks`);
  const usage = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;
  return {
    kind, k, rows,
    a: session.buffers.create(4 * k * rows, usage, `${label}.a`, 'scratch'),
    s: session.buffers.create(8 * (k / 32) * rows, usage, `${label}.s`, 'scratch'),
  };
}

export interface QuantArgs {
  x: GPUBuffer;
  /** Float offset of row 0 of x, and floats between rows (default k). */
  xOff?: number;
  xStride?: number;
  rows: number;
  out: ActBuffers;
  /** RMSNorm first: y = x / rms(x) * w. */
  norm?: { w: GPUBuffer; eps: number };
  label?: string;
}

export async function quantOp(session: GPUSession, args: QuantArgs): Promise<Op> {
  const { out } = args;
  const kind = out.kind;
  if (kind === 'q8_k' && out.k % 256) throw new ShapeError(`Q8_K activations need a multiple of 256 values, not ${out.k}`);
  if (args.rows > out.rows) throw new ShapeError(`${args.rows} rows do not fit an activation buffer of ${out.rows}`);
  const kernel = await session.pipelines.get({ sources: [SHADERS.half, SHADERS.sum, SHADERS.quantAct], entry: `quant_${kind}` });
  return new Op(session, kernel, { x: args.x, nw: args.norm?.w ?? session.dummy, a: out.a, s: out.s }, {
    k: out.k, x_off: args.xOff ?? 0, x_stride: args.xStride ?? out.k, norm: args.norm ? 1 : 0, eps: args.norm?.eps ?? 0,
  }, [args.rows], args.label ?? `quant_${kind}`);
}
