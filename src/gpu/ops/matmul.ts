// Batched products for prefill: a dense weight times T token activations. Same modes as matvec
// (store [+ bias], add, gated). Two shapes (variant.ts): matmul.wgsl for software adapters, one
// lane per tile of 8 rows by 4 tokens; matmul_hw.wgsl for GPUs, a workgroup per tile of 64 rows
// by 32 tokens staged through workgroup memory. Both give the same numbers.
import { actKind, gpuType } from '../layout.ts';
import { Op } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { DEQUANT_SHADERS, SHADERS } from '../shaders.ts';
import type { KernelShape } from '../variant.ts';
import type { GpuWeight } from '../weights.ts';
import { gluOverrides, MATVEC_WG, rowOrder, type MatvecMode } from './matvec.ts';
import { ShapeError, type ActBuffers } from './quant.ts';

/** Params.mode of matmul_hw.wgsl. */
const MODES: readonly MatvecMode[] = ['store', 'add', 'glu_silu', 'glu_gelu'];

/** matmul.wgsl's tile, by rowOrder. */
const TILES = { twoSum: [SHADERS.matmulRows], b32: [SHADERS.matmulGgml32], q2k: [SHADERS.ggmlQ2k, SHADERS.matmulGgmlQ2k], lanes: [SHADERS.ggmlLanes, SHADERS.matmulGgmlLanes] };

/** Rows and tokens of a tile: per lane in matmul.wgsl, per workgroup in matmul_hw.wgsl. */
const TILE = { software: { rows: 8 * MATVEC_WG, tokens: 4 }, hardware: { rows: 64, tokens: 32 } } as const;

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
  /** The kernel shape (default 'software'; the engine resolves its option with resolveKernels). */
  kernels?: KernelShape;
  label?: string;
}

export class MatmulOp {
  private constructor(readonly ops: Op[], private readonly base: Record<string, number>[], private readonly tokensPerTile: number) {}

  static async create(session: GPUSession, args: MatmulArgs): Promise<MatmulOp> {
    const { weight: w, act } = args;
    const mode = args.mode ?? 'store';
    const numerics = args.numerics ?? 'ggml';
    const t = gpuType(w.type, w.name);
    if (w.count !== 1) throw new ShapeError(`${w.name}: matmul takes one matrix, not a stack of ${w.count}`);
    const want = actKind(w.type, numerics);
    if (act.kind !== want) throw new ShapeError(`${w.name}: the activation is converted as ${act.kind}, this weight needs ${want}`);
    if (act.k !== w.k) throw new ShapeError(`${w.name}: input of ${act.k} values, the weight's rows have ${w.k}`);
    if (!MODES.includes(mode)) throw new ShapeError(`${w.name}: matmul has no mode ${mode}`);
    const glu = mode === 'glu_silu' || mode === 'glu_gelu';
    if (glu && w.parts.length > 1) throw new ShapeError(`${w.name}: a gated matrix must fit one storage binding`);
    const outLen = glu ? w.n / 2 : w.n;
    const hw = args.kernels === 'hardware';
    const tile = TILE[hw ? 'hardware' : 'software'];
    const order = rowOrder(w.type, numerics, outLen);
    const kernel = await session.pipelines.get({
      sources: [SHADERS.half, SHADERS.quantCommon, DEQUANT_SHADERS[t.file], SHADERS.dot32, SHADERS.gluAct, SHADERS.matmulCommon, ...(hw ? [SHADERS.matmulHw] : [SHADERS.rowBlocks, ...TILES[order], SHADERS.matmul])],
      // hardware: one entry point for every mode (Params.mode), one pipeline per weight type
      entry: hw || mode === 'store' ? 'matmul' : mode === 'add' ? 'matmul_add' : `matmul_${mode}`,
      overrides: hw ? { GGML_GELU: numerics === 'ggml' ? 1 : 0 } : { WG: MATVEC_WG, ...gluOverrides(mode, numerics, order) },
    });
    // a gated hardware tile holds its gate rows and their up rows
    const groups = Math.ceil(outLen / (hw && glu ? tile.rows / 2 : tile.rows));
    const base = w.parts.map((p) => ({
      k: w.k, n: w.n, q_off: p.layout.qOff, h_off: p.layout.hOff, m_off: p.layout.mOff, q4: p.layout.qOff / 4, m4: p.layout.mOff / 4, row0: p.row0, row_end: p.rowEnd,
      tokens: 1, act_tok: w.k / 32, y_off: args.yOff ?? 0, y_tok: args.yTok ?? outLen, has_bias: args.bias ? 1 : 0, mode: MODES.indexOf(mode),
    }));
    const ops = w.parts.map((p, i) => new Op(session, kernel, {
      w4: p.buffer, w1: p.buffer, act: act.a, y: args.y, bias: args.bias ?? session.dummy,
    }, base[i], [groups, 1], `${args.label ?? w.name}${w.parts.length > 1 ? `#${i}` : ''}`));
    return new MatmulOp(ops, base, tile.tokens);
  }

  /** For a batch of `tokens` tokens. */
  set(tokens: number): Op[] {
    this.ops.forEach((op, i) => {
      op.setParams({ ...this.base[i], tokens });
      op.workgroups = [op.workgroups[0], Math.ceil(tokens / this.tokensPerTile)];
    });
    return this.ops;
  }
}
