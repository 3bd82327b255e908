// Batched products for prefill (matmul.wgsl): a dense weight times T token activations, tiles of
// 8 rows by 4 tokens. Same modes as matvec (store [+ bias], add, gated).
import { actKind, gpuType } from '../layout.ts';
import { Op } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { DEQUANT_SHADERS, SHADERS } from '../shaders.ts';
import type { GpuWeight } from '../weights.ts';
import { MATVEC_WG, type MatvecMode } from './matvec.ts';

/** Rows per invocation in matmul.wgsl (by 4 tokens). */
const MATMUL_R = 8;
import { ShapeError, type ActBuffers } from './quant.ts';

export interface MatmulArgs {
  weight: GpuWeight;
  act: ActBuffers;
  y: GPUBuffer;
  yOff?: number;
  /** Floats between tokens' outputs (default: the output length). */
  yTok?: number;
  mode?: MatvecMode;
  bias?: GPUBuffer;
  numerics?: 'ggml' | 'exact';
  label?: string;
}

export class MatmulOp {
  private constructor(readonly ops: Op[], private readonly base: Record<string, number>[], private readonly outLen: number) {}

  static async create(session: GPUSession, args: MatmulArgs): Promise<MatmulOp> {
    const { weight: w, act } = args;
    const mode = args.mode ?? 'store';
    const numerics = args.numerics ?? 'ggml';
    const t = gpuType(w.type, w.name);
    if (w.count !== 1) throw new ShapeError(`${w.name}: matmul takes one matrix, not a stack of ${w.count}`);
    const want = actKind(w.type, numerics);
    if (act.kind !== want) throw new ShapeError(`${w.name}: the activation is converted as ${act.kind}, this weight needs ${want}`);
    if (act.k !== w.k) throw new ShapeError(`${w.name}: input of ${act.k} values, the weight's rows have ${w.k}`);
    const glu = mode === 'glu_silu' || mode === 'glu_gelu';
    if (glu && w.parts.length > 1) throw new ShapeError(`${w.name}: a gated matrix must fit one storage binding`);
    const outLen = glu ? w.n / 2 : w.n;
    const kernel = await session.pipelines.get({
      sources: [SHADERS.half, SHADERS.quantCommon, DEQUANT_SHADERS[t.file], SHADERS.dot32, SHADERS.gluAct, SHADERS.matmul],
      entry: mode === 'store' ? 'matmul' : mode === 'add' ? 'matmul_add' : `matmul_${mode}`,
      overrides: { WG: MATVEC_WG, ...(mode === 'glu_gelu' ? { GGML_GELU: numerics === 'ggml' ? 1 : 0 } : {}) },
    });
    const groups = Math.ceil(outLen / (MATMUL_R * MATVEC_WG));
    const base = w.parts.map((p) => ({
      k: w.k, n: w.n, q_off: p.layout.qOff, h_off: p.layout.hOff, m_off: p.layout.mOff, q4: p.layout.qOff / 4, m4: p.layout.mOff / 4, row0: p.row0, row_end: p.rowEnd,
      tokens: 1, act_tok: w.k / 32, y_off: args.yOff ?? 0, y_tok: args.yTok ?? outLen, has_bias: args.bias ? 1 : 0,
    }));
    const ops = w.parts.map((p, i) => new Op(session, kernel, {
      w4: p.buffer, w1: p.buffer, act: act.a, y: args.y, bias: args.bias ?? session.dummy,
    }, base[i], [groups, 1], `${args.label ?? w.name}${w.parts.length > 1 ? `#${i}` : ''}`));
    return new MatmulOp(ops, base, outLen);
  }

  /** For a batch of `tokens` tokens. */
  set(tokens: number): Op[] {
    this.ops.forEach((op, i) => {
      op.setParams({ ...this.base[i], tokens });
      op.workgroups = [op.workgroups[0], Math.ceil(tokens / 4)];
    });
    return this.ops;
  }
}
