// Activation conversion before a matrix product, optionally after an RMSNorm, one workgroup per
// row (token). llama.cpp's CPU backend converts the activation to the weight type's vec_dot_type
// before every quantized matmul; doing the same here makes the products see the same numbers.
//
// Output: per 32-block of each row, 36 floats: the 32 converted values, then (S.x, S.y, 0, 0) for
// quant_common.wgsl (one struct per block, so a matrix kernel reads a block in one access: each
// access to a runtime-sized array costs a bounds clamp, and on SwiftShader that is expensive):
//   "split" family (q8_0, q8_k, f16, bf16, none): S = (sum of values 0..15, sum of values 16..31)
//   "s32" family (q8_1, none_s32):                S = (s of the whole block, sum of values 16..31)
// where Q8_1's s is f16(d * sum q) with the unrounded d, as ggml stores it. With B3 = 1 the sums
// leave out elements 3, 7, 11, ... (byte 3 of each word: see q_q8_0.wgsl).
// Q8_0, Q8_1 and Q8_K also store their block scale d (f16 value, f16 value, f32) as the third
// float: the kernels in ggml's order recover the integer sums with it (matvec_ggml32.wgsl,
// matvec_ggml_q2_k.wgsl); the other conversions leave it 0.
//
// Positional scaling (POS): the weight kernels take a field from a word with a mask, leaving it
// 2^(8b) or 2^(8b+4) too large (b = its byte), instead of shifting it down (shifts are slow on
// SwiftShader); the activation a value meets is stored 2^-(8b) (or 2^-(8b+4)) times smaller
// instead, exactly (a power of two). POS 0: none; 1 ("nib", 4-bit layouts): element j < 16 of a
// block gets 2^-(8b), j >= 16 gets 2^-(8b+4), except b = 3 (1: that nibble is shifted down);
// 2 ("byte", 5-, 6- and 8-bit layouts): 2^-(8b); 3 ("2-bit", Q2_K and Q3_K: element 4k + b of
// a 16-element word at bits 8b + 2k): 2^-(8b+2k), except k = 3: 2^-(8b). b = j % 4, k = (j / 4) % 4.
// Sums are of the unscaled values.
//
// Needs half.wgsl, sum.wgsl and pos_scale.wgsl (POS, B3, pos_scale, in_sum) before it. Entry points: quant_none, quant_none_s32, quant_q8_0, quant_q8_1, quant_q8_k, quant_f16, quant_bf16.

struct Params {
  k: u32,        // elements per row
  x_off: u32,    // float offset of row 0 of x
  x_stride: u32, // floats between rows of x
  norm: u32,     // 1: y = rmsnorm(x) * nw first
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> nw: array<f32>;
@group(0) @binding(3) var<storage, read_write> a: array<f32>;

// Float offset of block blk of row r in a.
fn aidx(r: u32, blk: u32) -> u32 {
  return (r * (params.k >> 5u) + blk) * 36u;
}

fn put_sums(r: u32, blk: u32, v: vec2<f32>) {
  let o = aidx(r, blk) + 32u;
  a[o] = v.x;
  a[o + 1u] = v.y;
  a[o + 2u] = 0.0;
  a[o + 3u] = 0.0;
}

override WG: u32 = 64;

var<workgroup> red: array<vec2<f32>, WG>;
var<workgroup> row_scale: f32;

// Sets row_scale for row r: 1/sqrt(mean(x^2) + eps) (f32, as ggml_compute_forward_rms_norm_f32), or 1.
fn prepare(r: u32, t: u32) {
  if (params.norm == 0u) {
    if (t == 0u) { row_scale = 1.0; }
    workgroupBarrier();
    return;
  }
  let base = params.x_off + r * params.x_stride;
  var acc = vec2<f32>(0.0);
  for (var i = t; i < params.k; i += WG) {
    let v = x[base + i];
    acc = two_sum(acc, vec2<f32>(v * v, 0.0));
  }
  red[t] = acc;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w /= 2u) {
    if (t < w) { red[t] = two_sum(red[t], red[t + w]); }
    workgroupBarrier();
  }
  if (t == 0u) {
    row_scale = rms_scale_of(red[0], params.k, params.eps);
  }
  workgroupBarrier();
}

// Value i of row r after the optional norm: (x * scale) * w, each product rounded to f32.
fn val(r: u32, i: u32) -> f32 {
  let v = x[params.x_off + r * params.x_stride + i] * row_scale;
  if (params.norm == 0u) { return v; }
  return v * nw[i];
}

// Plain values (rounded by `mode`: 0 none, 1 f16, 2 bf16) with split or s32 sums.
fn convert_plain(r: u32, t: u32, mode: u32, s32: bool) {
  let nb = params.k / 32u;
  for (var b = t; b < nb; b += WG) {
    var lo = 0.0;
    var hi = 0.0;
    for (var j = 0u; j < 32u; j++) {
      var v = val(r, 32u * b + j);
      if (mode == 1u) { v = f16_round(v); }
      if (mode == 2u) { v = bf16_round(v); }
      a[aidx(r, b) + j] = v * pos_scale(j);
      if (in_sum(j)) { if (j < 16u) { lo += v; } else { hi += v; } }
    }
    put_sums(r, b, select(vec2<f32>(lo, hi), vec2<f32>(lo + hi, hi), s32));
  }
}

// quantize_row_q8_0 / q8_1 (ggml-cpu x86): d = amax / 127, q = round(x * (127 / amax)), values d16 * q.
fn convert_q8(r: u32, t: u32, with_s: bool) {
  let nb = params.k / 32u;
  for (var b = t; b < nb; b += WG) {
    var amax = 0.0;
    for (var j = 0u; j < 32u; j++) { amax = max(amax, abs(val(r, 32u * b + j))); }
    let d = amax / 127.0;
    let id = select(0.0, 127.0 / amax, amax != 0.0);
    let d16 = f16_round(d);
    var lo = 0.0; // sums of q: exact small integers
    var hi = 0.0;
    var all = 0.0; // Q8_1's s is over the whole block
    for (var j = 0u; j < 32u; j++) {
      let q = round(val(r, 32u * b + j) * id);
      a[aidx(r, b) + j] = (d16 * q) * pos_scale(j);
      all += q;
      if (in_sum(j)) { if (j < 16u) { lo += q; } else { hi += q; } }
    }
    if (with_s) {
      put_sums(r, b, vec2<f32>(f16_round(d * all), d16 * hi));
    } else {
      put_sums(r, b, vec2<f32>(d16 * lo, d16 * hi));
    }
    a[aidx(r, b) + 34u] = d16;
  }
}

// quantize_row_q8_K_ref: per 256, max = the value of largest |x| (the first of equal ones),
// iscale = -127 / max, q = min(127, round(iscale * x)), d = 1 / iscale; values d * q. A lane per
// 256-value super-block (the hardware shape, quant_act_hw.wgsl, spreads it over 64 lanes).
fn convert_q8_k(r: u32, t: u32) {
  let nsb = params.k / 256u;
  for (var b = t; b < nsb; b += WG) {
    var amax = 0.0;
    var mx = 0.0;
    for (var j = 0u; j < 256u; j++) {
      let v = val(r, 256u * b + j);
      if (abs(v) > amax) { amax = abs(v); mx = v; }
    }
    let iscale = select(0.0, -127.0 / mx, amax != 0.0);
    let d = select(0.0, 1.0 / iscale, amax != 0.0);
    for (var sb = 0u; sb < 8u; sb++) {
      var lo = 0.0;
      var hi = 0.0;
      for (var j = 0u; j < 32u; j++) {
        let i = 256u * b + 32u * sb + j;
        let q = min(127.0, round(iscale * val(r, i)));
        a[aidx(r, 8u * b + sb) + j] = (d * q) * pos_scale(j);
        if (in_sum(j)) { if (j < 16u) { lo += q; } else { hi += q; } }
      }
      put_sums(r, 8u * b + sb, vec2<f32>(d * lo, d * hi));
      a[aidx(r, 8u * b + sb) + 34u] = d;
    }
  }
}

@compute @workgroup_size(WG)
fn quant_none(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  prepare(wg.x, t);
  convert_plain(wg.x, t, 0u, false);
}

@compute @workgroup_size(WG)
fn quant_none_s32(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  prepare(wg.x, t);
  convert_plain(wg.x, t, 0u, true);
}

@compute @workgroup_size(WG)
fn quant_f16(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  prepare(wg.x, t);
  convert_plain(wg.x, t, 1u, false);
}

@compute @workgroup_size(WG)
fn quant_bf16(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  prepare(wg.x, t);
  convert_plain(wg.x, t, 2u, false);
}

@compute @workgroup_size(WG)
fn quant_q8_0(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  prepare(wg.x, t);
  convert_q8(wg.x, t, false);
}

@compute @workgroup_size(WG)
fn quant_q8_1(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  prepare(wg.x, t);
  convert_q8(wg.x, t, true);
}

@compute @workgroup_size(WG)
fn quant_q8_k(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  prepare(wg.x, t);
  convert_q8_k(wg.x, t);
}
