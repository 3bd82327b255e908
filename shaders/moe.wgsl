// Mixture-of-experts routing and combination, one workgroup per token.
//
// route (llama-graph.cpp build_moe_ffn): the router logits come from the matrix kernels
// (matvec/matmul of the F32 router, whose row n_expert is Qwen2-MoE's shared-expert gate when
// there is one); here, with a lane per expert: softmax over all logits, the k largest
// probabilities by rank (first index on ties; with a selection bias, the k largest probability +
// bias, weighed by the probability alone), optionally renormalized to sum 1 (the sum clamped at
// 2^-14) and scaled; the shared expert's gate sigmoid(g), computed as silu(g) / g like
// qwen2moe.cpp. Writes ids[t][0..k) and wts[t][0..k] (slot k: the shared expert's weight, 1 when
// it is ungated). gpt-oss: a router bias added to the logits, and 'softmax-topk' gating
// (top_k = 1): the k largest logits chosen, then a softmax over those k (llama.cpp's
// SOFTMAX_WEIGHT).
//
// Needs sum.wgsl before it.
//
// combine: out = w_0 y_0 + w_1 y_1 + ... in routing order (ggml_mul then ggml_add one by one),
// plus the shared expert's output times its weight, then the optional post-norm and residual
// scale, added to x.

struct Params {
  d: u32,          // model width
  n_expert: u32,
  k: u32,          // experts used per token
  norm_topk: u32,  // 1: renormalize the selected weights
  w_scale: f32,    // expert_weights_scale; applied unless 0 or 1
  shexp: u32,      // 0 none, 1 plain shared expert, 2 sigmoid-gated shared expert
  x_off: u32,      // unused
  x_stride: u32,   // route: floats between tokens' logits in lg (n_expert, + 1 with a gated shared expert)
  y_off: u32,      // combine: float offset of token 0's slot outputs in `a` (k + shared rows of d)
  norm: u32,       // combine: 1 = RMSNorm the sum (Grok)
  eps: f32,
  res_scale: f32,  // combine: multiplier before the residual add (1 = none)
  out_off: u32,    // combine: float offset of token 0 in x
  sel_bias: u32,   // route: 1 = add sel_b to the probabilities to choose (not to weigh)
  r_bias: u32,     // route: 1 = add r_b to the router logits
  top_k: u32,      // route: 1 = softmax over the chosen k logits instead of all
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> lg: array<f32>;
@group(0) @binding(4) var<storage, read> nw: array<f32>;
@group(0) @binding(5) var<storage, read_write> ids: array<u32>;
@group(0) @binding(6) var<storage, read_write> wts: array<f32>;
@group(0) @binding(7) var<storage, read_write> x: array<f32>;
@group(0) @binding(8) var<storage, read> sel_b: array<f32>;
@group(0) @binding(9) var<storage, read> r_b: array<f32>;

override WG: u32 = 64;
const MAX_EXPERTS: u32 = 512u;

var<workgroup> logit: array<f32, MAX_EXPERTS>;
var<workgroup> sel: array<f32, MAX_EXPERTS>; // what each expert is chosen by
var<workgroup> red2: array<vec2<f32>, WG>;

// softmax over all router logits in place, every lane on its experts: the max, then the sum of
// exps as (sum, error) pairs through a tree (close to the float64 sum llama.cpp's CPU backend takes)
fn softmax_all(t: u32) {
  var mx = -3.0e38;
  for (var e = t; e < params.n_expert; e += WG) { mx = max(mx, logit[e]); }
  red2[t] = vec2<f32>(mx, 0.0);
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w /= 2u) {
    if (t < w) { red2[t].x = max(red2[t].x, red2[t + w].x); }
    workgroupBarrier();
  }
  mx = red2[0].x;
  workgroupBarrier();
  var acc = vec2<f32>(0.0);
  for (var e = t; e < params.n_expert; e += WG) { let v = exp(logit[e] - mx); logit[e] = v; acc = two_sum(acc, vec2<f32>(v, 0.0)); }
  red2[t] = acc;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w /= 2u) {
    if (t < w) { red2[t] = two_sum(red2[t], red2[t + w]); }
    workgroupBarrier();
  }
  let inv = 1.0 / (red2[0].x + red2[0].y);
  for (var e = t; e < params.n_expert; e += WG) { logit[e] = logit[e] * inv; }
  workgroupBarrier();
}

@compute @workgroup_size(WG)
fn route(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let tok = wg.x;
  let lo = tok * params.x_stride;
  for (var e = t; e < params.n_expert; e += WG) {
    logit[e] = select(lg[lo + e], lg[lo + e] + r_b[e], params.r_bias == 1u);
  }
  workgroupBarrier();
  if (params.top_k == 0u) { softmax_all(t); }
  // what each expert is chosen by: its probability, plus its selection bias when the model has one
  for (var e = t; e < params.n_expert; e += WG) {
    sel[e] = select(logit[e], logit[e] + sel_b[e], params.sel_bias == 1u);
  }
  workgroupBarrier();
  // top-k by rank: expert e is pick j when j experts come before it (a larger probability plus
  // bias, or an equal one at a lower index), as k rounds of first-index argmax would order them
  for (var e = t; e < params.n_expert; e += WG) {
    let v = sel[e];
    var rank = 0u;
    for (var f = 0u; f < params.n_expert && rank < params.k; f++) {
      let u = sel[f];
      if (u > v || (u == v && f < e)) { rank++; }
    }
    if (rank < params.k) {
      ids[tok * params.k + rank] = e;
      wts[tok * (params.k + 1u) + rank] = logit[e];
    }
  }
  storageBarrier();
  if (t != 0u) { return; }
  // the k weights (few): softmaxed (top_k), summed in pick order, renormalized and scaled by one lane
  if (params.top_k == 1u) {
    let w0 = tok * (params.k + 1u);
    var mk = wts[w0];
    for (var j = 1u; j < params.k; j++) { mk = max(mk, wts[w0 + j]); }
    var sk = 0.0;
    for (var j = 0u; j < params.k; j++) { let v = exp(wts[w0 + j] - mk); wts[w0 + j] = v; sk += v; }
    let inv = 1.0 / sk;
    for (var j = 0u; j < params.k; j++) { wts[w0 + j] = wts[w0 + j] * inv; }
  }
  var wsum = 0.0;
  for (var j = 0u; j < params.k; j++) { wsum += wts[tok * (params.k + 1u) + j]; }
  if (params.norm_topk == 1u) {
    let s = max(wsum, 6.103515625e-5);
    for (var j = 0u; j < params.k; j++) { wts[tok * (params.k + 1u) + j] = wts[tok * (params.k + 1u) + j] / s; }
  }
  if (params.w_scale != 0.0 && params.w_scale != 1.0) {
    for (var j = 0u; j < params.k; j++) { wts[tok * (params.k + 1u) + j] = wts[tok * (params.k + 1u) + j] * params.w_scale; }
  }
  var gate = 1.0;
  if (params.shexp == 2u) {
    let g = lg[lo + params.n_expert];
    gate = (g / (1.0 + exp(-g))) / g;
  }
  wts[tok * (params.k + 1u) + params.k] = gate;
}

// Element i of the combined expert outputs: ((w0 y0 + w1 y1) + ...) + shared.
fn combined(yo: u32, wo: u32, i: u32) -> f32 {
  var v = a[yo + i] * wts[wo];
  for (var s = 1u; s < params.k; s++) { v = v + a[yo + s * params.d + i] * wts[wo + s]; }
  if (params.shexp == 2u) { v = v + a[yo + params.k * params.d + i] * wts[wo + params.k]; }
  if (params.shexp == 1u) { v = v + a[yo + params.k * params.d + i]; }
  return v;
}

@compute @workgroup_size(WG)
fn combine(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let tok = wg.x;
  let slots = params.k + select(0u, 1u, params.shexp != 0u);
  let yo = params.y_off + tok * slots * params.d;
  let wo = tok * (params.k + 1u);
  // pass 1 (for the norm only): sum of squares of the combined row; pass 2 recomputes the row
  var rs = 1.0;
  if (params.norm == 1u) {
    var acc = vec2<f32>(0.0);
    for (var i = t; i < params.d; i += WG) { let v = combined(yo, wo, i); acc = two_sum(acc, vec2<f32>(v * v, 0.0)); }
    red2[t] = acc;
    workgroupBarrier();
    for (var w = WG / 2u; w > 0u; w /= 2u) {
      if (t < w) { red2[t] = two_sum(red2[t], red2[t + w]); }
      workgroupBarrier();
    }
    rs = rms_scale_of(red2[0], params.d, params.eps);
  }
  let xo = params.out_off + tok * params.d;
  for (var i = t; i < params.d; i += WG) {
    var v = combined(yo, wo, i);
    if (params.norm == 1u) { v = (v * rs) * nw[i]; }
    if (params.res_scale != 1.0) { v = v * params.res_scale; }
    x[xo + i] = v + x[xo + i];
  }
}
