// q/k norm + RoPE + KV-cache store after the QKV product (rope.wgsl), and the cos/sin table.
import type { RopeMode } from '../../model/arch.ts';
import type { RopeConstants } from '../../model/plan.ts';
import { numerics, type Numerics } from '../../reference/numerics.ts';
import { ropeCosSin } from '../../reference/ops.ts';
import { Op } from '../op.ts';
import type { GPUSession } from '../session.ts';
import { KV_SHADERS, SHADERS, type KvType } from '../shaders.ts';
import { ShapeError } from './quant.ts';

/** cos/sin of every (position, pair), as the CPU reference computes them (ropeCosSin: ggml's
 *  rope cache in 'ggml' numerics, scaling included: rope_freqs, linear, YaRN's ramp and attention
 *  factor), stored f32. Layout: (nPos, ropeDim/2) pairs (cos, sin). */
export function ropeTable(nPos: number, ropeDim: number, rope: RopeConstants, freqFactors?: ArrayLike<number>, mode: Numerics = 'ggml'): Float32Array<ArrayBuffer> {
  const half = ropeDim / 2;
  const out = new Float32Array(nPos * half * 2);
  const num = numerics(mode);
  for (let p = 0; p < nPos; p++) {
    const { cos, sin } = ropeCosSin(num, p, ropeDim, rope, freqFactors);
    for (let i = 0; i < half; i++) {
      out[2 * (p * half + i)] = cos[i];
      out[2 * (p * half + i) + 1] = sin[i];
    }
  }
  return out;
}

export interface RopeArgs {
  nHead: number;
  nHeadKv: number;
  headDim: number;
  ropeDim: number;
  mode: RopeMode;
  qkNorm: 'none' | 'head' | 'full';
  eps: number;
  qNorm?: GPUBuffer;
  kNorm?: GPUBuffer;
  qkv: GPUBuffer;
  qkvOff?: number;
  /** Floats between tokens in qkv (default nHead*headDim + 2*nHeadKv*headDim). */
  qkvStride?: number;
  table: GPUBuffer;
  qOut: GPUBuffer;
  kCache: GPUBuffer;
  vCache: GPUBuffer;
  tokens: number;
  pos0: number;
  /** Element type of the caches (default 'f32'; 'f16' needs shader-f16). */
  kvType?: KvType;
  label?: string;
}

export class RopeOp {
  private constructor(readonly op: Op, private readonly base: Record<string, number>) {}

  static async create(session: GPUSession, a: RopeArgs): Promise<RopeOp> {
    if (a.ropeDim % 2 || a.ropeDim > a.headDim) throw new ShapeError(`rope dimension ${a.ropeDim} does not fit heads of ${a.headDim}`);
    if (a.qkNorm !== 'none' && (!a.qNorm || !a.kNorm)) throw new ShapeError('q/k norm weights missing');
    if (a.nHead + a.nHeadKv > 512) throw new ShapeError(`${a.nHead + a.nHeadKv} heads; rope.wgsl takes up to 512`);
    const kernel = await session.pipelines.get({ sources: [KV_SHADERS[a.kvType ?? 'f32'], SHADERS.half, SHADERS.sum, SHADERS.rope], entry: 'qk_rope' });
    const kv = a.nHeadKv * a.headDim;
    const base = {
      n_head: a.nHead, n_head_kv: a.nHeadKv, head_dim: a.headDim, rope_dim: a.ropeDim,
      neox: a.mode === 'neox' ? 1 : 0, qk_norm: { none: 0, head: 1, full: 2 }[a.qkNorm], eps: a.eps,
      qkv_off: a.qkvOff ?? 0, qkv_stride: a.qkvStride ?? a.nHead * a.headDim + 2 * kv,
      pos0: a.pos0, q_off: 0, kv_stride: kv,
    };
    const op = new Op(session, kernel, {
      qkv: a.qkv, qn: a.qNorm ?? session.dummy, kn: a.kNorm ?? session.dummy, rope: a.table,
      q_out: a.qOut, kc: a.kCache, vc: a.vCache,
    }, base, [a.tokens], a.label ?? 'qk_rope');
    return new RopeOp(op, base);
  }

  /** Tokens at positions pos0.. */
  set(tokens: number, pos0: number): void {
    this.op.setParams({ ...this.base, pos0 });
    this.op.workgroups = [tokens];
  }
}
