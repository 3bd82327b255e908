// Grouped-query attention over a KV cache (llama-graph.cpp build_attn_mha, non-flash branch):
// kq = K·q per head, optional Grok soft cap, softmax(kq * kq_scale) over the cached positions
// (a sliding window masks those `window` or more positions back; a sink logit per head joins the
// denominator: ggml_soft_max_add_sinks), out = V·p. Query head h reads kv head floor(h / (nHead / nHeadKv)) (ggml_mul_mat broadcast).
//
// KV cache types (llama.cpp's --cache-type-k/-v, without flash attention):
//  - 'f32': K and V are the f32 values computed here; both products are plain f32 dot products.
//  - 'f16' (llama.cpp's default): K and V are stored rounded to f16, and ggml_mul_mat converts
//    its f32 operand to the f16 cache's vec_dot_type, so q (for K·q) and the softmax output p
//    (for V·p) are rounded to f16 too; the products of f16 values are exact in f32 and summed
//    in f32, in ggml's order in 'ggml' numerics (dotLanes).
import { roundF16 } from '../gguf/half.ts';
import { f16Neighbours } from './matmul.ts';
import { dotLanes } from './ggml-dot.ts';
import { roundTo, SIMD_F32, type Num, type Vec } from './numerics.ts';
import { softmax, tanh } from './ops.ts';

/** Keys and values of one layer for positions 0..nCtx-1: (nCtx, nHeadKv * headDim) each. */
export interface LayerCache {
  k: Vec;
  v: Vec;
}

export interface AttentionShape {
  nHead: number;
  nHeadKv: number;
  headDim: number;
  /** Multiplier of kq inside the softmax. */
  kqScale: number;
  /** kq = softcap * tanh(kq * capScale) before the softmax (Grok); 0 = off. */
  softcap: number;
  capScale: number;
  /** KV cache type (default 'f32'). */
  kvType?: KvType;
}

/** What differs between layers: a sliding window (positions seen, itself included; 0 = all)
 *  and the sink logit of each head (nHead). */
export interface AttentionLayer {
  window?: number;
  sinks?: ArrayLike<number>;
}

export type KvType = 'f32' | 'f16';

const toF16 = (num: Num, x: Vec, o = 0, n = x.length - o): Vec => {
  const out = num.vec(n);
  for (let i = 0; i < n; i++) out[i] = roundTo(num, x[o + i], roundF16, f16Neighbours, 'f16');
  return out;
};

/** Stores k and v (nHeadKv * headDim each) of position pos in the cache, as the cache's type. */
export function storeKV(num: Num, cache: LayerCache, k: Vec, v: Vec, pos: number, kvType: KvType = 'f32'): void {
  cache.k.set(kvType === 'f16' ? toF16(num, k) : k, pos * k.length);
  cache.v.set(kvType === 'f16' ? toF16(num, v) : v, pos * v.length);
}

/** Attention of query q (nHead * headDim) at position pos over cached positions 0..pos.
 *  Returns (nHead * headDim), heads concatenated as ggml's kqv permute + cont leaves them. */
export function attend(num: Num, q: Vec, cache: LayerCache, pos: number, s: AttentionShape, layer: AttentionLayer = {}): Vec {
  const { nHead, nHeadKv, headDim } = s;
  const kvDim = nHeadKv * headDim;
  const group = nHead / nHeadKv;
  const n = pos + 1;
  // llama_hparams::is_masked_swa (standard): key t is masked when pos - t >= window
  const first = layer.window ? Math.max(0, pos - layer.window + 1) : 0;
  // ggml runs the softmax over the KV cache's padded length (a multiple of 256 cells); the
  // masked cells are -inf and add nothing, but they keep every vector of 16 full, so pad to 16.
  const nPad = num.mode === 'ggml' ? Math.ceil(n / SIMD_F32) * SIMD_F32 : n;
  const out = num.vec(nHead * headDim);
  const kq = num.vec(nPad);
  const f16 = s.kvType === 'f16';
  // ggml's order for f16 products; the f32 cache's products are summed exactly
  const lanesF16 = f16 && num.mode === 'ggml';
  const batch = !!num.batch;
  // llama.cpp's n_kv: the cache view padded to 256 cells (a row length of the V·p product)
  const nKv = Math.ceil(n / 256) * 256;
  if (f16) q = toF16(num, q);
  for (let h = 0; h < nHead; h++) {
    const qo = h * headDim, ko = Math.floor(h / group) * headDim;
    for (let t = 0; t < n; t++) {
      let dot = 0;
      if (lanesF16) dot = dotLanes(cache.k, t * kvDim + ko, 1, q, qo, headDim, headDim, nKv, batch);
      else for (let d = 0; d < headDim; d++) dot += cache.k[t * kvDim + ko + d] * q[qo + d];
      kq[t] = dot; // (n_kv) per head: f32 result of the K·q dot product
      if (s.softcap) kq[t] = tanh(num, num.r(kq[t] * s.capScale)) * s.softcap;
    }
    kq.fill(-Infinity, 0, first);
    kq.fill(-Infinity, n);
    let p = softmax(num, kq, s.kqScale, kq.length, layer.sinks?.[h]);
    if (f16) p = toF16(num, p, 0, n);
    for (let d = 0; d < headDim; d++) {
      let acc = 0;
      if (lanesF16) acc = dotLanes(cache.v, ko + d, kvDim, p, 0, n, nKv, headDim, batch);
      else for (let t = 0; t < n; t++) acc += cache.v[t * kvDim + ko + d] * p[t];
      out[qo + d] = acc;
    }
  }
  return out;
}
