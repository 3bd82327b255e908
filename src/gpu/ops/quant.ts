// Activation conversion (quant_act.wgsl): rows of k values, optionally RMS-normalized, converted
// to what a weight type's matmul multiplies (ggml's vec_dot_type), plus per-block sums.
import { USAGE } from '../buffers.ts';
import { parseActKind, type ActKind } from '../layout.ts';
import { Op } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { SHADERS } from '../shaders.ts';
import type { KernelShape } from '../variant.ts';

export class ShapeError extends Error {
  override name = 'ShapeError';
}

/** A converted activation: per row, per 32-block, 36 floats: the 32 values (positionally scaled,
 *  see quant_act.wgsl), then the block's sums (S.x, S.y, 0, 0). */
export interface ActBuffers {
  kind: ActKind;
  k: number;
  rows: number;
  a: GPUBuffer;
}

/** Float offset of element i of row r in an ActBuffers' `a` (for kernels reading plain values). */
export const actIndex = (k: number, r: number, i: number) => (r * (k / 32) + Math.floor(i / 32)) * 36 + (i % 32);

export function createAct(session: GPUSession, kind: ActKind, k: number, rows: number, label: string): ActBuffers {
  if (k % 32) throw new ShapeError(`${label}: activations of ${k} values are not whole 32-blocks`);
  const usage = USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST;
  return {
    kind, k, rows,
    a: session.buffers.create(144 * (k / 32) * rows, usage, `${label}.a`, 'scratch'),
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
  /** Kernel shape (variant.ts): 'hardware' spreads a row over k / 256 workgroups, 8 lanes per
   *  32-block (quant_act_hw.wgsl; same results bit for bit). */
  kernels?: KernelShape;
  label?: string;
}

export async function quantOp(session: GPUSession, args: QuantArgs): Promise<Op> {
  const { out } = args;
  const { conv, pos, b3 } = parseActKind(out.kind);
  if (conv === 'q8_k' && out.k % 256) throw new ShapeError(`Q8_K activations need a multiple of 256 values, not ${out.k}`);
  if (args.rows > out.rows) throw new ShapeError(`${args.rows} rows do not fit an activation buffer of ${out.rows}`);
  const hw = args.kernels === 'hardware';
  const kernel = await session.pipelines.get({
    sources: [SHADERS.half, SHADERS.sum, SHADERS.posScale, SHADERS.quantAct, ...(hw ? [SHADERS.quantActHw] : [])],
    entry: hw ? `quant_hw_${conv}` : `quant_${conv}`, overrides: { POS: pos, B3: b3 ? 1 : 0 },
  });
  return new Op(session, kernel, { x: args.x, nw: args.norm?.w ?? session.dummy, a: out.a }, {
    k: out.k, x_off: args.xOff ?? 0, x_stride: args.xStride ?? out.k, norm: args.norm ? 1 : 0, eps: args.norm?.eps ?? 0,
  }, [args.rows, quantChunks(out.k, args.kernels)], args.label ?? `quant_${out.kind}`);
}

/** Workgroups per row of quantOp (dispatch: rows, this): 1 in the software shape. */
export const quantChunks = (k: number, kernels: KernelShape = 'software') => (kernels === 'hardware' ? Math.ceil(k / 256) : 1);
