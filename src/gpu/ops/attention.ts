// Attention over the KV cache (attention.wgsl): split over positions when the context is long,
// merged by attn_combine. Splits are chosen per call from the longest query's length.
import { USAGE } from '../buffers.ts';
import type { Kernel } from '../kernel.ts';
import { Op } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { KV_SHADERS, SHADERS, type KvType } from '../shaders.ts';
import type { KernelShape } from '../variant.ts';
import { AttentionHwOp } from './attention-hw.ts';
import { ShapeError } from './quant.ts';

/** Positions per split (workgroup memory for scores: 4 bytes each). */
export const ATTN_CHUNK = 512;
/** Positions per split of the tiled batch kernel (16 queries' scores in workgroup memory). */
export const ATTN_TILE_CHUNK = 256;
const WG = 64;
/** Queries per workgroup of attn_tile, and the largest head dimension it takes. */
const TILE_QUERIES = 16;
const TILE_MAX_HEAD_DIM = 128;

export interface AttentionArgs {
  nHead: number;
  nHeadKv: number;
  headDim: number;
  /** Context length: the caches hold this many positions. */
  nCtx: number;
  /** Queries per call at most (batch). */
  maxQueries: number;
  q: GPUBuffer;
  kCache: GPUBuffer;
  vCache: GPUBuffer;
  out: GPUBuffer;
  scale: number;
  softcap: number;
  capScale: number;
  /** Element type of the caches (default 'f32'; 'f16' needs shader-f16 and takes ggml's f16
   *  numerics: attention.wgsl). */
  kvType?: KvType;
  /** Sliding window: positions a query sees, itself included (default 0: all). */
  window?: number;
  /** A logit per query head (nHead f32) that joins the softmax's max and denominator (gpt-oss). */
  sinks?: GPUBuffer;
  /** 'hardware': one query at a time through attention_hw.wgsl where AttentionHwOp.fits (up to
   *  8 query heads per KV head, head_dim up to 128). */
  kernels?: KernelShape;
  label?: string;
}

export class AttentionOp {
  private constructor(
    private readonly attn: Op, private readonly comb: Op, private readonly base: Record<string, number>,
    private readonly maxSplit: number,
    /** The tiled kernel for batches, and its combine (chunk = ATTN_TILE_CHUNK); absent for heads
     *  over TILE_MAX_HEAD_DIM. */
    private readonly tile?: { attn: Op; comb: Op; qh: number; tq: number },
    /** f16 cache: the statistics launch (mode 1) before `attn` (mode 2) when there are splits. */
    private readonly stats?: Op,
    /** The hardware shape's decode kernel (one query). */
    private readonly hw?: AttentionHwOp,
  ) {}

  static async create(session: GPUSession, a: AttentionArgs): Promise<AttentionOp> {
    if (a.headDim % 4 || a.headDim / 4 > WG) throw new ShapeError(`head dimension ${a.headDim}: attention.wgsl takes multiples of 4 up to ${4 * WG}`);
    if (a.nHead % a.nHeadKv) throw new ShapeError(`${a.nHead} query heads do not group over ${a.nHeadKv} KV heads`);
    const overrides = { WG, CHUNK: ATTN_CHUNK, TCH: ATTN_TILE_CHUNK };
    const f16 = a.kvType === 'f16';
    const useTile = !f16 && a.maxQueries > 1 && a.headDim <= TILE_MAX_HEAD_DIM;
    const sources = [KV_SHADERS[a.kvType ?? 'f32'], SHADERS.half, SHADERS.attention];
    const [ka, kt]: (Kernel | undefined)[] = await Promise.all([
      session.pipelines.get({ sources, entry: 'attn', overrides }),
      useTile ? session.pipelines.get({ sources, entry: 'attn_tile', overrides }) : undefined,
    ]);
    const maxSplit = Math.ceil(a.nCtx / ATTN_CHUNK);
    const maxSplitTile = useTile && a.maxQueries > 1 ? Math.ceil(a.nCtx / ATTN_TILE_CHUNK) : 0;
    const splits = Math.max(maxSplit, maxSplitTile);
    const part = splits > 1
      ? session.buffers.create(16 * a.maxQueries * a.nHead * splits * (a.headDim / 4 + 1), USAGE.STORAGE, `${a.label ?? 'attn'}.part`, 'scratch')
      : session.dummyRW;
    // attn_tile: the most heads of one KV group (a divisor of the group, <= 16), then tokens
    const group = a.nHead / a.nHeadKv;
    let qh = Math.min(group, TILE_QUERIES);
    while (group % qh) qh--;
    const tq = Math.floor(TILE_QUERIES / qh);
    const base = {
      n_head: a.nHead, n_head_kv: a.nHeadKv, head_dim: a.headDim, pos0: 0, n_split: 1, chunk: ATTN_CHUNK,
      kv_stride: a.nHeadKv * a.headDim, q_off: 0, out_off: 0, scale: a.scale, softcap: a.softcap, cap_scale: a.capScale,
      qh, tq, n_tok: 1, mode: f16 ? 2 : 0, window: a.window ?? 0, sinks: a.sinks ? 1 : 0,
    };
    const buffers = { q: a.q, kc: a.kCache, vc: a.vCache, out: a.out, part, sink: a.sinks ?? session.dummy };
    const attn = new Op(session, ka!, buffers, base, [a.nHead, 1, 1], a.label ?? 'attn');
    const comb = await combineOp(session, { out: a.out, part, sink: a.sinks }, base, `${a.label ?? 'attn'}.combine`);
    const tile = kt ? {
      attn: new Op(session, kt, buffers, base, [a.nHead / qh, 1, 1], `${a.label ?? 'attn'}.tile`),
      comb: await combineOp(session, { out: a.out, part, sink: a.sinks }, base, `${a.label ?? 'attn'}.tile.combine`),
      qh, tq,
    } : undefined;
    const stats = f16 ? new Op(session, ka!, buffers, { ...base, mode: 1 }, [a.nHead, 1, 1], `${a.label ?? 'attn'}.stats`) : undefined;
    const hw = a.kernels === 'hardware' && AttentionHwOp.fits(a) ? await AttentionHwOp.create(session, a) : undefined;
    return new AttentionOp(attn, comb, base, maxSplit, tile, stats, hw);
  }

  /** Queries of `queries` tokens at positions pos0..; returns the ops to encode. */
  set(queries: number, pos0: number): Op[] {
    if (queries === 1 && this.hw) return this.hw.set(1, pos0);
    if (queries > 1 && this.tile) {
      const { qh, tq } = this.tile;
      const nSplit = Math.ceil((pos0 + queries) / ATTN_TILE_CHUNK);
      const p = { ...this.base, pos0, n_split: nSplit, chunk: ATTN_TILE_CHUNK, n_tok: queries };
      this.tile.attn.setParams(p);
      this.tile.attn.workgroups = [this.base.n_head / qh, nSplit, Math.ceil(queries / tq)];
      if (nSplit === 1) return [this.tile.attn];
      this.tile.comb.setParams(combineParams(p));
      this.tile.comb.workgroups = [this.base.n_head, 1, queries];
      return [this.tile.attn, this.tile.comb];
    }
    const nSplit = Math.ceil((pos0 + queries) / ATTN_CHUNK);
    if (nSplit > this.maxSplit) throw new ShapeError(`position ${pos0 + queries - 1} is past the context`);
    const p = { ...this.base, pos0, n_split: nSplit };
    this.attn.setParams(p);
    this.attn.workgroups = [this.base.n_head, nSplit, queries];
    if (nSplit === 1) return [this.attn];
    this.comb.setParams(combineParams(p));
    this.comb.workgroups = [this.base.n_head, 1, queries];
    if (!this.stats) return [this.attn, this.comb];
    this.stats.setParams({ ...p, mode: 1 });
    this.stats.workgroups = this.attn.workgroups;
    return [this.stats, this.attn, this.comb];
  }
}

/** attention_combine.wgsl's Params from a split kernel's (attn, attn_tile, attn_hw: mode and
 *  sinks 0 where absent). */
export function combineParams(p: Readonly<Record<string, number>>): Record<string, number> {
  return { n_head: p.n_head, head_dim: p.head_dim, pos0: p.pos0, n_split: p.n_split, chunk: p.chunk, out_off: p.out_off, mode: p.mode ?? 0, sinks: p.sinks ?? 0 };
}

/** The merge of a split kernel's partials in `part` into `out` (attention_combine.wgsl); `p` are
 *  that kernel's Params. Set its workgroups to (n_head, 1, queries) per call. */
export async function combineOp(session: GPUSession, b: { out: GPUBuffer; part: GPUBuffer; sink?: GPUBuffer }, p: Readonly<Record<string, number>>, label: string): Promise<Op> {
  const kernel = await session.pipelines.get({ sources: [SHADERS.attentionCombine], entry: 'attn_combine', overrides: { WG } });
  return new Op(session, kernel, { out: b.out, part: b.part, sink: b.sink ?? session.dummy }, combineParams(p), [0], label);
}
