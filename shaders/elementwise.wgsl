// Small row kernels around the matrix products.
//   residual:   x[t] += post(a[t]), post = optional RMSNorm times w (Grok's attention-output and
//               layer-output norms), then optional scale (Granite's residual_scale); one
//               workgroup per token.
//   logits_post: logits * scale (or / scale), then an optional tanh soft cap.
//   argmax:     index of the largest logit of a row (first on ties, as llama.cpp's greedy
//               sampler), one workgroup.
// Needs sum.wgsl before it.

struct Params {
  n: u32,          // elements per row
  a_off: u32,      // float offsets of row 0 and floats between rows
  a_stride: u32,
  x_off: u32,
  x_stride: u32,
  norm: u32,       // residual: 1 = RMSNorm a first
  eps: f32,
  scale: f32,      // residual / logits_post multiplier (1 = none)
  softcap: f32,    // logits_post: cap * tanh(x / cap); 0 = off
  out_off: u32,    // argmax: where to write the index in idx
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> nw: array<f32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> idx: array<u32>;

override WG: u32 = 64;

var<workgroup> red: array<f32, WG>;
var<workgroup> red2: array<vec2<f32>, WG>;
var<workgroup> redi: array<u32, WG>;

@compute @workgroup_size(WG)
fn residual(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let ao = params.a_off + wg.x * params.a_stride;
  let xo = params.x_off + wg.x * params.x_stride;
  var rs = 1.0;
  if (params.norm == 1u) {
    var acc = vec2<f32>(0.0);
    for (var i = t; i < params.n; i += WG) { let v = a[ao + i]; acc = two_sum(acc, vec2<f32>(v * v, 0.0)); }
    red2[t] = acc;
    workgroupBarrier();
    for (var w = WG / 2u; w > 0u; w /= 2u) {
      if (t < w) { red2[t] = two_sum(red2[t], red2[t + w]); }
      workgroupBarrier();
    }
    rs = rms_scale_of(red2[0], params.n, params.eps);
  }
  for (var i = t; i < params.n; i += WG) {
    var v = a[ao + i];
    if (params.norm == 1u) { v = (v * rs) * nw[i]; }
    if (params.scale != 1.0) { v = v * params.scale; }
    x[xo + i] = v + x[xo + i];
  }
}

@compute @workgroup_size(WG)
fn logits_post(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= params.n) { return; }
  var v = x[params.x_off + i] * params.scale;
  if (params.softcap != 0.0) { v = tanh(v * (1.0 / params.softcap)) * params.softcap; }
  x[params.x_off + i] = v;
}

@compute @workgroup_size(WG)
fn argmax(@builtin(local_invocation_index) t: u32) {
  var best = -3.4028234663852886e38;
  var bi = 0xffffffffu;
  for (var i = t; i < params.n; i += WG) {
    let v = x[params.x_off + i];
    if (v > best || bi == 0xffffffffu) { best = v; bi = i; }
  }
  red[t] = best;
  redi[t] = bi;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w /= 2u) {
    if (t < w) {
      let v = red[t + w];
      let j = redi[t + w];
      if (j != 0xffffffffu && (v > red[t] || (v == red[t] && j < redi[t]) || redi[t] == 0xffffffffu)) {
        red[t] = v;
        redi[t] = j;
      }
    }
    workgroupBarrier();
  }
  if (t == 0u) { idx[params.out_off] = redi[0]; }
}
