// Decode attention in the hardware shape (attention_hw.wgsl): a workgroup per KV head and split
// serving the query heads of that KV head, splits of ATTN_HW_CHUNK positions merged by
// attention_combine.wgsl (as attention.wgsl's). f32 or f16 cache (the f16 one with attention.wgsl's
// ggml numerics: a statistics launch before the output launch when there are splits), sliding
// window, sink logits; the softmax statistics by subgroups where the adapter has them, else
// through workgroup memory. AttentionOp runs it for one query with kernels 'hardware' where
// `fits` says it applies.
import { USAGE } from '../buffers.ts';
import { Op } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { combineOp, combineParams, type AttentionArgs } from './attention.ts';
import { KV_SHADERS, SHADERS } from '../shaders.ts';
import { ShapeError } from './quant.ts';

/** Positions per split (scores of up to 8 heads in workgroup memory: 8 KiB). */
export const ATTN_HW_CHUNK = 256;
const WG = 128;
/** Query heads per KV head, and head_dim / 4, at most (attention_hw.wgsl's workgroup arrays). */
const MAX_GROUP = 8;
const MAX_HD4 = 32;

export type AttentionHwArgs = Omit<AttentionArgs, 'kernels'> & {
  /** Softmax statistics by subgroups (default: where the session has them; false forces the
   *  workgroup-memory reduction, for tests and benchmarks). */
  subgroups?: boolean;
};

export class AttentionHwOp {
  /** Whether this kernel takes the attention `a` describes (else attention.wgsl's attn does). */
  static fits(a: { nHead: number; nHeadKv: number; headDim: number }): boolean {
    return a.nHead % a.nHeadKv === 0 && a.nHead / a.nHeadKv <= MAX_GROUP && a.headDim % 4 === 0 && a.headDim / 4 <= MAX_HD4;
  }

  private constructor(
    private readonly attn: Op, private readonly comb: Op, private readonly base: Record<string, number>, private readonly maxSplit: number,
    /** f16 cache: the statistics launch (mode 1) before `attn` (mode 2) when there are splits. */
    private readonly stats?: Op,
  ) {}

  static async create(session: GPUSession, a: AttentionHwArgs): Promise<AttentionHwOp> {
    if (a.nHead % a.nHeadKv) throw new ShapeError(`${a.nHead} query heads do not group over ${a.nHeadKv} KV heads`);
    const group = a.nHead / a.nHeadKv;
    if (a.headDim % 4 || a.headDim / 4 > MAX_HD4) throw new ShapeError(`head dimension ${a.headDim}: attention_hw.wgsl takes multiples of 4 up to ${4 * MAX_HD4}`);
    if (group > MAX_GROUP) throw new ShapeError(`${group} query heads per KV head: attention_hw.wgsl takes at most ${MAX_GROUP}`);
    const sg = a.subgroups ?? session.features.subgroups;
    if (sg && !session.features.subgroups) throw new ShapeError(`attention_hw.wgsl with subgroups needs the subgroups feature and WGSL subgroup_id, which ${session.adapterName} lacks`);
    const f16 = a.kvType === 'f16';
    const kv = KV_SHADERS[a.kvType ?? 'f32'];
    // lanes_sg.wgsl after kv_f16.wgsl's `enable f16;`
    const sources = [...(sg ? [SHADERS.subgroups, kv, SHADERS.lanesSg] : [kv]), SHADERS.half, sg ? SHADERS.attentionHwSg : SHADERS.attentionHwWg, SHADERS.attentionHw];
    const ka = await session.pipelines.get({ sources, entry: 'attn_hw', overrides: { WG, G: group } });
    const maxSplit = Math.ceil(a.nCtx / ATTN_HW_CHUNK);
    const label = a.label ?? 'attn_hw';
    const part = maxSplit > 1
      ? session.buffers.create(16 * a.maxQueries * a.nHead * maxSplit * (a.headDim / 4 + 1), USAGE.STORAGE, `${label}.part`, 'scratch')
      : session.dummyRW;
    const base = {
      n_head: a.nHead, n_head_kv: a.nHeadKv, head_dim: a.headDim, pos0: 0, n_split: 1, chunk: ATTN_HW_CHUNK,
      kv_stride: a.nHeadKv * a.headDim, q_off: 0, out_off: 0, scale: a.scale, softcap: a.softcap, cap_scale: a.capScale,
      mode: f16 ? 2 : 0, window: a.window ?? 0, sinks: a.sinks ? 1 : 0,
    };
    const buffers = { q: a.q, kc: a.kCache, vc: a.vCache, out: a.out, part, sink: a.sinks ?? session.dummy };
    const attn = new Op(session, ka, buffers, base, [a.nHeadKv, 1, 1], label);
    const comb = await combineOp(session, { out: a.out, part, sink: a.sinks }, base, `${label}.combine`);
    const stats = f16 ? new Op(session, ka, buffers, { ...base, mode: 1 }, [a.nHeadKv, 1, 1], `${label}.stats`) : undefined;
    return new AttentionHwOp(attn, comb, base, maxSplit, stats);
  }

  /** Queries of `queries` tokens at positions pos0..; returns the ops to encode. */
  set(queries: number, pos0: number): Op[] {
    const nSplit = Math.ceil((pos0 + queries) / ATTN_HW_CHUNK);
    if (nSplit > this.maxSplit) throw new ShapeError(`position ${pos0 + queries - 1} is past the context`);
    const p = { ...this.base, pos0, n_split: nSplit };
    this.attn.setParams(p);
    this.attn.workgroups = [this.base.n_head_kv, nSplit, queries];
    if (nSplit === 1) return [this.attn];
    this.comb.setParams(combineParams(p));
    this.comb.workgroups = [this.base.n_head, 1, queries];
    if (!this.stats) return [this.attn, this.comb];
    this.stats.setParams({ ...p, mode: 1 });
    this.stats.workgroups = this.attn.workgroups;
    return [this.stats, this.attn, this.comb];
  }
}
