// Matrix-vector products of one token (matvec.wgsl), for every weight type: plain, accumulate
// into y, or gated (SwiGLU/GeGLU/gpt-oss's clamped SwiGLU over a gate+up matrix). With `slots`, one product per selected
// expert (matrix index from `ids`) or per input row (act stride). Two shapes (variant.ts):
// matvec.wgsl for software adapters, matvec_hw.wgsl for GPUs, with subgroup or workgroup-memory
// reduction.
import { GGMLType } from '../../gguf/types.ts';
import { dotPath, hasGgmlDot } from '../../reference/ggml-dot.ts';
import { actKind, gpuType } from '../layout.ts';
import { Op } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { DEQUANT_SHADERS, SHADERS } from '../shaders.ts';
import { hardwareLanes, type KernelShape } from '../variant.ts';
import type { GpuWeight } from '../weights.ts';
import { ShapeError, type ActBuffers } from './quant.ts';

export type MatvecMode = 'store' | 'add' | 'glu_silu' | 'glu_gelu' | 'glu_oai';

/** Rows per invocation in matvec.wgsl, and invocations per workgroup. */
export const MATVEC_R = 8;
export const MATVEC_WG = 16;

export interface MatvecArgs {
  weight: GpuWeight;
  act: ActBuffers;
  y: GPUBuffer;
  yOff?: number;
  /** Floats between slots' outputs (default: the output length). */
  yStride?: number;
  mode?: MatvecMode;
  /** Products per token (workgroup y). */
  slots?: number;
  /** Tokens (workgroup z; set per call with op.workgroups) and their strides: activation rows
   *  between tokens (default slots if perSlotInput, else 1), output floats (default slots *
   *  yStride), ids entries (default slots). */
  tokens?: number;
  actTokRows?: number;
  yTok?: number;
  idsTok?: number;
  /** Each slot reads its own activation row (MoE down projection) instead of row 0. */
  perSlotInput?: boolean;
  /** Matrix index of slot s = ids[idsOff + s] (MoE); otherwise matrix 0. */
  ids?: GPUBuffer;
  idsOff?: number;
  /** Added per row (store and gated modes; gated: gate rows' then up rows', as the matrix). */
  bias?: GPUBuffer;
  /** Per-expert biases (nExpert, n): slot s adds the rows of expert biasIds[ids index of s] (the
   *  router's ids; `ids` may hold pool slots). */
  biasIds?: GPUBuffer;
  numerics?: 'ggml' | 'exact';
  /** The kernel shape (default 'software'; the engine resolves its option with resolveKernels). */
  kernels?: KernelShape;
  /** Hardware shape: reduce through subgroups (default: where the session has them; false forces
   *  the workgroup-memory reduction, for tests). */
  subgroups?: boolean;
  label?: string;
}

/** How the software shapes (matvec.wgsl, matmul.wgsl) sum a row. In 'ggml' numerics, in
 *  llama.cpp's x86 order as the CPU reference takes it (ggml-dot.ts):
 *  - Q2_K ('q2k': ggml_q2_k.wgsl), IQ4_NL, Q4_0, MXFP4 ('b32': matvec_ggml32.wgsl /
 *    matmul_ggml32.wgsl) where llama.cpp repacks the matrix (hasGgmlDot; rows a multiple of 8, a
 *    fused matrix judged by its total);
 *  - Q8_0, never repacked, in vec_dot's 8 lanes for any rows ('lanes': ggml_lanes.wgsl).
 *  Else near-exactly ('twoSum': matvec_rows.wgsl / matmul_rows.wgsl): 'exact' numerics, the other
 *  types, and those four types' matrices that llama.cpp multiplies by vec_dot (rows not a
 *  multiple of 8). */
export type RowOrder = 'twoSum' | 'b32' | 'q2k' | 'lanes';
export function rowOrder(type: GGMLType, numerics: 'ggml' | 'exact', rows: number): RowOrder {
  if (numerics === 'ggml' && type === GGMLType.Q8_0) return 'lanes';
  if (numerics !== 'ggml' || !hasGgmlDot(type) || dotPath(rows, true, false) === 'vec') return 'twoSum';
  return type === GGMLType.Q2_K ? 'q2k' : 'b32';
}
/** The gate activation's overrides (glu_act.wgsl) for a gated mode: ggml's GELU table in 'ggml'
 *  numerics; ggml's SiLU exp where the software shapes take the products in ggml's order
 *  (`order` not 'twoSum'), so the gated output is llama.cpp's bit for bit. Elsewhere (near-exact
 *  sums, hardware shapes) the products already differ from ggml's by ulps, and the WGSL exp stays:
 *  there ggml's exp moved granitemoe F16's prompt logits (engine.test.ts) by f16 roundings that
 *  three overturned ones no longer explain. */
export function gluOverrides(mode: MatvecMode, numerics: 'ggml' | 'exact', order: RowOrder | 'hardware'): Record<string, number> {
  if (mode === 'glu_gelu') return { GGML_GELU: numerics === 'ggml' ? 1 : 0 };
  if (mode === 'glu_silu') return { GGML_SILU: numerics === 'ggml' && order !== 'twoSum' && order !== 'hardware' ? 1 : 0 };
  return {};
}

const ROWS = { twoSum: [SHADERS.matvecRows], b32: [SHADERS.matvecGgml32], q2k: [SHADERS.ggmlQ2k, SHADERS.matvecGgmlQ2k], lanes: [SHADERS.ggmlLanes, SHADERS.matvecGgmlLanes] };

export async function matvecOps(session: GPUSession, args: MatvecArgs): Promise<Op[]> {
  const { weight: w, act } = args;
  const mode = args.mode ?? 'store';
  const numerics = args.numerics ?? 'ggml';
  const t = gpuType(w.type, w.name);
  const want = actKind(w.type, numerics);
  if (act.kind !== want) throw new ShapeError(`${w.name}: the activation is converted as ${act.kind}, this weight needs ${want}`);
  if (act.k !== w.k) throw new ShapeError(`${w.name}: input of ${act.k} values, the weight's rows have ${w.k}`);
  const glu = mode.startsWith('glu_');
  if (glu && w.n % 2) throw new ShapeError(`${w.name}: a gated matrix needs gate and up halves`);
  if (mode === 'add' && args.bias) throw new ShapeError(`${w.name}: bias is added in store and gated modes, not in add mode`);
  const outLen = glu ? w.n / 2 : w.n;
  const slots = args.slots ?? 1;
  const hw = args.kernels === 'hardware';
  const sg = hw && (args.subgroups ?? session.features.subgroups);
  if (sg && !session.features.subgroups) throw new ShapeError(`${w.name}: subgroup kernels need the subgroups feature and WGSL subgroup_id, which ${session.adapterName} lacks`);
  const front = sg ? [SHADERS.subgroups, SHADERS.lanesSg] : [];
  const order = rowOrder(w.type, numerics, outLen);
  const kernel = await session.pipelines.get({
    sources: [...front, SHADERS.half, ...(hw ? [SHADERS.sum] : []), SHADERS.quantCommon, DEQUANT_SHADERS[t.file], SHADERS.dot32, SHADERS.gluAct, SHADERS.matvecCommon, ...(hw ? [sg ? SHADERS.reduceSg : SHADERS.reduceWg, SHADERS.matvecHw] : [SHADERS.rowBlocks, ...ROWS[order], SHADERS.matvec])],
    entry: mode === 'store' ? 'matvec' : mode === 'add' ? 'matvec_add' : `matvec_${mode}`,
    overrides: { WG: hw ? hardwareLanes(w.k / 32) : MATVEC_WG, ...gluOverrides(mode, numerics, hw ? 'hardware' : order) },
  });
  // software: 8 rows per lane; hardware: 8 row products per workgroup (4 outputs when gated)
  const groups = hw ? Math.ceil(outLen / (glu ? 4 : 8)) : Math.ceil(outLen / (MATVEC_R * MATVEC_WG));
  return w.parts.map((p, i) => new Op(session, kernel, {
    w4: p.buffer, w1: p.buffer, act: act.a, y: args.y,
    ids: args.ids ?? session.dummy, bias: args.bias ?? session.dummy, bias_ids: args.biasIds ?? session.dummy,
  }, {
    k: w.k, n: w.n, q_off: p.layout.qOff, h_off: p.layout.hOff, m_off: p.layout.mOff, q4: p.layout.qOff / 4, m4: p.layout.mOff / 4,
    row0: p.row0, row_end: p.rowEnd,
    act_stride: args.perSlotInput ? w.k / 32 : 0,
    y_off: args.yOff ?? 0, y_stride: args.yStride ?? outLen,
    ids_off: args.idsOff ?? 0, use_ids: args.ids ? 1 : 0, has_bias: args.bias ? (args.biasIds ? 2 : 1) : 0,
    act_tok: (args.actTokRows ?? (args.perSlotInput ? slots : 1)) * (w.k / 32),
    y_tok: args.yTok ?? slots * (args.yStride ?? outLen),
    ids_tok: args.idsTok ?? slots,
  }, [groups, slots, args.tokens ?? 1], `${args.label ?? w.name}${w.parts.length > 1 ? `#${i}` : ''}`));
}
