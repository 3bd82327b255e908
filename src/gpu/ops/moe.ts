// MoE routing (softmax, top-k, renormalization, shared-expert gate over the router logits that
// the matrix kernels computed) and the combination of the selected experts' outputs with the
// residual (moe.wgsl).
import { Op } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { SHADERS } from '../shaders.ts';
import { ShapeError } from './quant.ts';

const WG = 64;

export interface MoeShape {
  d: number;
  nExpert: number;
  k: number;
  normTopK: boolean;
  weightsScale: number;
  /** 0 none, 1 plain shared expert, 2 sigmoid-gated (Qwen2-MoE). */
  shexp: 0 | 1 | 2;
  /** The k largest logits chosen, then a softmax over those k (gpt-oss; default: softmax over all). */
  softmaxTopK?: boolean;
}

const base = (s: MoeShape) => ({
  d: s.d, n_expert: s.nExpert, k: s.k, norm_topk: s.normTopK ? 1 : 0, w_scale: s.weightsScale, shexp: s.shexp,
  x_off: 0, x_stride: s.d, y_off: 0, norm: 0, eps: 0, res_scale: 1, out_off: 0, sel_bias: 0, r_bias: 0, top_k: s.softmaxTopK ? 1 : 0,
});

/** Floats per token of the router's output: a logit per expert, then the shared expert's gate
 *  logit when it is sigmoid-gated (the router weight's last row, engine/weights.ts). */
export const routerRows = (s: MoeShape) => s.nExpert + (s.shexp === 2 ? 1 : 0);

export interface RouteArgs {
  shape: MoeShape;
  /** The router's product (tokens, routerRows(shape)) f32, as matvec/matmul store it. */
  logits: GPUBuffer;
  /** Per-expert bias added to the probabilities to choose the experts (f32, nExpert). */
  selectionBias?: GPUBuffer;
  /** Added to the router logits (f32, nExpert; gpt-oss). */
  routerBias?: GPUBuffer;
  /** Outputs: ids (tokens, k) u32, weights (tokens, k + 1) f32. */
  ids: GPUBuffer;
  wts: GPUBuffer;
  tokens: number;
  label?: string;
}

export async function routeOp(session: GPUSession, a: RouteArgs): Promise<Op> {
  const s = a.shape;
  if (s.nExpert > 512 || s.k > s.nExpert) throw new ShapeError(`MoE of ${s.nExpert} experts, ${s.k} used: moe.wgsl takes up to 512`);
  const kernel = await session.pipelines.get({ sources: [SHADERS.sum, SHADERS.moe], entry: 'route', overrides: { WG } });
  return new Op(session, kernel, {
    a: session.dummy, lg: a.logits, nw: session.dummy, ids: a.ids, wts: a.wts, x: session.dummyRW,
    sel_b: a.selectionBias ?? session.dummy, r_b: a.routerBias ?? session.dummy,
  }, { ...base(s), x_stride: routerRows(s), sel_bias: a.selectionBias ? 1 : 0, r_bias: a.routerBias ? 1 : 0 }, [a.tokens], a.label ?? 'route');
}

export interface CombineArgs {
  shape: MoeShape;
  /** Slot outputs: per token k (+1 shared) rows of d. */
  y: GPUBuffer;
  wts: GPUBuffer;
  ids: GPUBuffer;
  x: GPUBuffer;
  norm?: { w: GPUBuffer; eps: number };
  resScale?: number;
  tokens: number;
  label?: string;
}

export async function combineOp(session: GPUSession, a: CombineArgs): Promise<Op> {
  const kernel = await session.pipelines.get({ sources: [SHADERS.sum, SHADERS.moe], entry: 'combine', overrides: { WG } });
  return new Op(session, kernel, {
    a: a.y, lg: session.dummy, nw: a.norm?.w ?? session.dummy, ids: session.dummyRW, wts: a.wts, x: a.x,
    sel_b: session.dummy, r_b: session.dummy,
  }, { ...base(a.shape), norm: a.norm ? 1 : 0, eps: a.norm?.eps ?? 0, res_scale: a.resScale ?? 1 }, [a.tokens], a.label ?? 'combine');
}

export interface SlotMapArgs {
  /** Router choices (tokens, k) u32 and the slot table (expert-pool.ts SlotTable). */
  ids: GPUBuffer;
  table: GPUBuffer;
  /** Out: (tokens, k) slots. */
  slots: GPUBuffer;
  /** Entries per token (k), and this layer's first table entry. */
  k: number;
  tableOff: number;
  tokens: number;
  label?: string;
}

/** slots = table[tableOff + ids] (moe_slots.wgsl); set op.workgroups with slotMapGroups for T tokens. */
export async function slotMapOp(session: GPUSession, a: SlotMapArgs): Promise<Op> {
  const kernel = await session.pipelines.get({ sources: [SHADERS.moeSlots], entry: 'slot_map', overrides: { WG } });
  return new Op(session, kernel, { ids: a.ids, table: a.table, slots: a.slots }, { n: a.tokens * a.k, table_off: a.tableOff }, [slotMapGroups(a.tokens, a.k)], a.label ?? 'slot_map');
}

export const slotMapGroups = (tokens: number, k: number) => Math.ceil((tokens * k) / WG);
