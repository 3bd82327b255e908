// After the fused QKV product, per token: the optional RMSNorm of q and k (per head, or over the
// whole projection for OLMoE), RoPE on q and k, q written out, k and v stored in the KV cache.
// One workgroup per token. Rotation (ggml rope_f32): x0' = x0 cos - x1 sin, x1' = x0 sin + x1 cos
// for pairs (2i, 2i+1) ("norm") or (i, i + rope_dim/2) ("neox"), i < rope_dim/2; the cos/sin table
// (position, pair) comes from the CPU, computed as ggml does (theta in f32, libm cos/sin), since
// WGSL's sin/cos are not accurate for large arguments; RoPE scaling (rope_freqs divisors, linear,
// YaRN's ramp and its attention factor on cos/sin) is in the table, so this kernel has no variant. The cache's element type KV comes from
// kv_f32.wgsl or kv_f16.wgsl (f16: rounded to nearest even).

struct Params {
  n_head: u32,
  n_head_kv: u32,
  head_dim: u32,
  rope_dim: u32,
  neox: u32,       // 1: pairs (i, i + rope_dim/2); 0: pairs (2i, 2i+1)
  qk_norm: u32,    // 0 none, 1 per head, 2 over the whole q / k
  eps: f32,
  qkv_off: u32,    // float offset of token 0's q in qkv
  qkv_stride: u32, // floats between tokens in qkv
  pos0: u32,       // position of token 0
  q_off: u32,      // float offset of token 0's rotated q in q_out
  kv_stride: u32,  // floats per position in the caches (n_head_kv * head_dim)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> qn: array<f32>;
@group(0) @binding(3) var<storage, read> kn: array<f32>;
@group(0) @binding(4) var<storage, read> rope: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read_write> q_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> kc: array<KV>;
@group(0) @binding(7) var<storage, read_write> vc: array<KV>;

override WG: u32 = 64;

var<workgroup> red: array<vec2<f32>, WG>;
var<workgroup> full_scale: vec2<f32>; // whole-q and whole-k norm scales
const MAX_HEADS: u32 = 512u;
var<workgroup> head_scales: array<f32, MAX_HEADS>; // per-head norm scales: q heads, then k heads

fn reduce(t: u32, v: vec2<f32>) -> vec2<f32> {
  red[t] = v;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w /= 2u) {
    if (t < w) { red[t] = two_sum(red[t], red[t + w]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

// Normalized value e of head h (elements at src + h*head_dim), as ggml: (x * scale) * w.
fn normed(src: u32, h: u32, e: u32, scale: f32, nw_is_q: bool) -> f32 {
  let v = qkv[src + h * params.head_dim + e];
  if (params.qk_norm == 0u) { return v; }
  let wi = select(e, h * params.head_dim + e, params.qk_norm == 2u);
  let s = v * scale;
  return s * select(kn[wi], qn[wi], nw_is_q);
}

fn head_scale(src: u32, h: u32) -> f32 {
  var acc = vec2<f32>(0.0);
  for (var e = 0u; e < params.head_dim; e++) {
    let v = qkv[src + h * params.head_dim + e];
    acc = two_sum(acc, vec2<f32>(v * v, 0.0));
  }
  return rms_scale_of(acc, params.head_dim, params.eps);
}

// Rotates heads [0, n) at src and writes them at dst[h * head_dim + e]; their per-head norm
// scales are head_scales[s0 + h].
fn rotate(t: u32, src: u32, n: u32, is_q: bool, pos: u32, to_cache: bool, dst: u32, s0: u32) {
  let hd = params.head_dim;
  let half_r = params.rope_dim / 2u;
  // one invocation per (head, pair) or copied tail element
  let per_head = half_r + (hd - params.rope_dim);
  for (var i = t; i < n * per_head; i += WG) {
    let h = i / per_head;
    let j = i % per_head;
    var scale = 1.0;
    if (params.qk_norm == 1u) { scale = head_scales[s0 + h]; }
    if (params.qk_norm == 2u) { scale = select(full_scale.y, full_scale.x, is_q); }
    var o = dst + h * hd;
    if (j < half_r) {
      let i0 = select(2u * j, j, params.neox == 1u);
      let i1 = select(2u * j + 1u, j + half_r, params.neox == 1u);
      let x0 = normed(src, h, i0, scale, is_q);
      let x1 = normed(src, h, i1, scale, is_q);
      let cs = rope[pos * half_r + j];
      let r0 = x0 * cs.x - x1 * cs.y;
      let r1 = x0 * cs.y + x1 * cs.x;
      if (to_cache) { kc[o + i0] = KV(kv_round(r0)); kc[o + i1] = KV(kv_round(r1)); } else { q_out[o + i0] = r0; q_out[o + i1] = r1; }
    } else {
      let e = params.rope_dim + (j - half_r);
      let v = normed(src, h, e, scale, is_q);
      if (to_cache) { kc[o + e] = KV(kv_round(v)); } else { q_out[o + e] = v; }
    }
  }
}

@compute @workgroup_size(WG)
fn qk_rope(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let tok = wg.x;
  let pos = params.pos0 + tok;
  let qsrc = params.qkv_off + tok * params.qkv_stride;
  let nq = params.n_head * params.head_dim;
  let nk = params.n_head_kv * params.head_dim;
  let ksrc = qsrc + nq;
  let vsrc = ksrc + nk;
  if (params.qk_norm == 2u) {
    var aq = vec2<f32>(0.0);
    for (var i = t; i < nq; i += WG) { let v = qkv[qsrc + i]; aq = two_sum(aq, vec2<f32>(v * v, 0.0)); }
    let sq = reduce(t, aq);
    var ak = vec2<f32>(0.0);
    for (var i = t; i < nk; i += WG) { let v = qkv[ksrc + i]; ak = two_sum(ak, vec2<f32>(v * v, 0.0)); }
    let sk = reduce(t, ak);
    if (t == 0u) { full_scale = vec2<f32>(rms_scale_of(sq, nq, params.eps), rms_scale_of(sk, nk, params.eps)); }
    workgroupBarrier();
  }
  if (params.qk_norm == 1u) {
    for (var h = t; h < params.n_head + params.n_head_kv; h += WG) { head_scales[h] = head_scale(qsrc, h); }
    workgroupBarrier();
  }
  rotate(t, qsrc, params.n_head, true, pos, false, params.q_off + tok * nq, 0u);
  rotate(t, ksrc, params.n_head_kv, false, pos, true, pos * params.kv_stride, params.n_head);
  for (var i = t; i < nk; i += WG) { vc[pos * params.kv_stride + i] = KV(kv_round(qkv[vsrc + i])); }
}
