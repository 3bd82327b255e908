// Activation conversion in the hardware shape (after quant_act.wgsl, whose Params, bindings,
// prepare and val it uses): the software kernel gives a row one workgroup and a block (or a Q8_K
// super-block) one lane, so a d = 2048 row keeps 64 lanes (8 for Q8_K) of one workgroup busy;
// here a row is spread over k / 256 workgroups (workgroup y), and the 64 lanes of one take 256
// values, 8 lanes per 32-block, 4 values each. The results are the software kernel's bit for
// bit: the row's norm is the same reduction (every workgroup of the row repeats it), block
// maxima are exact whatever the order, the first largest |x| of a Q8_K super-block is found by
// scanning the lanes in order, the sums of integers q are exact, and the sums of plain values
// are taken one after another in element order by the block's first lane, as there. Q8_0, Q8_1
// and Q8_K blocks also get their scale d as the third float after the sums.
//
// Dispatch: (rows, ceil(k / 256)).

var<workgroup> vals: array<f32, 256>;           // this chunk's values as the sums take them
var<workgroup> lane_max: array<vec2<f32>, 64>;  // per lane: (largest |x|, the x)
var<workgroup> lane_q: array<vec3<f32>, 64>;    // per lane: sums of q over elements < 16, >= 16, all

// Element i of the row taken by lane t of chunk c: 4 consecutive values per lane.
fn chunk_elem(c: u32, t: u32) -> u32 {
  return 256u * c + 4u * t;
}

// Plain values rounded by `mode` (0 none, 1 f16, 2 bf16), split or s32 sums.
fn convert_plain_hw(r: u32, c: u32, t: u32, mode: u32, s32: bool) {
  let i0 = chunk_elem(c, t);
  let live = i0 < params.k;
  let b = i0 / 32u;
  let j0 = i0 % 32u;
  if (live) {
    for (var u = 0u; u < 4u; u++) {
      var v = val(r, i0 + u);
      if (mode == 1u) { v = f16_round(v); }
      if (mode == 2u) { v = bf16_round(v); }
      a[aidx(r, b) + j0 + u] = v * pos_scale(j0 + u);
      vals[4u * t + u] = v;
    }
  }
  workgroupBarrier();
  if (live && j0 == 0u) {
    var lo = 0.0;
    var hi = 0.0;
    for (var j = 0u; j < 32u; j++) {
      if (in_sum(j)) { if (j < 16u) { lo += vals[4u * t + j]; } else { hi += vals[4u * t + j]; } }
    }
    put_sums(r, b, select(vec2<f32>(lo, hi), vec2<f32>(lo + hi, hi), s32));
  }
}

// This lane's (sum of q over elements < 16, over >= 16, over all) into lane_q, then the block's
// totals (exact: integers) in every lane of the block.
fn block_q_sums(t: u32, q: vec4<f32>, j0: u32) -> vec3<f32> {
  var lo = 0.0;
  var hi = 0.0;
  for (var u = 0u; u < 4u; u++) {
    if (in_sum(j0 + u)) { if (j0 + u < 16u) { lo += q[u]; } else { hi += q[u]; } }
  }
  lane_q[t] = vec3<f32>(lo, hi, (q.x + q.y) + (q.z + q.w));
  workgroupBarrier();
  let first = t & ~7u;
  var s = vec3<f32>(0.0);
  for (var l = first; l < first + 8u; l++) { s += lane_q[l]; }
  return s;
}

// quantize_row_q8_0 / q8_1 as convert_q8 does, the block's |max| over its 8 lanes.
fn convert_q8_hw(r: u32, c: u32, t: u32, with_s: bool) {
  let i0 = chunk_elem(c, t);
  let live = i0 < params.k;
  let b = i0 / 32u;
  let j0 = i0 % 32u;
  var x = vec4<f32>(0.0);
  if (live) { x = vec4<f32>(val(r, i0), val(r, i0 + 1u), val(r, i0 + 2u), val(r, i0 + 3u)); }
  let ax = abs(x);
  lane_max[t] = vec2<f32>(max(max(ax.x, ax.y), max(ax.z, ax.w)), 0.0);
  workgroupBarrier();
  let first = t & ~7u;
  var amax = 0.0;
  for (var l = first; l < first + 8u; l++) { amax = max(amax, lane_max[l].x); }
  let d = amax / 127.0;
  let id = select(0.0, 127.0 / amax, amax != 0.0);
  let d16 = f16_round(d);
  let q = round(x * id);
  if (live) {
    for (var u = 0u; u < 4u; u++) { a[aidx(r, b) + j0 + u] = (d16 * q[u]) * pos_scale(j0 + u); }
  }
  let s = block_q_sums(t, q, j0);
  if (live && j0 == 0u) {
    put_sums(r, b, select(vec2<f32>(d16 * s.x, d16 * s.y), vec2<f32>(f16_round(d * s.z), d16 * s.y), with_s));
    a[aidx(r, b) + 34u] = d16; // the block's scale, for the kernels in ggml's order
  }
}

// quantize_row_q8_K_ref as convert_q8_k does: the chunk is one super-block; its max is the first
// value of largest |x|, found by scanning the lanes (each over its 4 values) in order.
fn convert_q8_k_hw(r: u32, c: u32, t: u32) {
  let i0 = chunk_elem(c, t);
  let b = i0 / 32u;
  let j0 = i0 % 32u;
  let x = vec4<f32>(val(r, i0), val(r, i0 + 1u), val(r, i0 + 2u), val(r, i0 + 3u));
  var m = vec2<f32>(0.0);
  for (var u = 0u; u < 4u; u++) { if (abs(x[u]) > m.x) { m = vec2<f32>(abs(x[u]), x[u]); } }
  lane_max[t] = m;
  workgroupBarrier();
  var amax = 0.0;
  var mx = 0.0;
  for (var l = 0u; l < 64u; l++) { if (lane_max[l].x > amax) { amax = lane_max[l].x; mx = lane_max[l].y; } }
  let iscale = select(0.0, -127.0 / mx, amax != 0.0);
  let d = select(0.0, 1.0 / iscale, amax != 0.0);
  let q = min(vec4<f32>(127.0), round(iscale * x));
  for (var u = 0u; u < 4u; u++) { a[aidx(r, b) + j0 + u] = (d * q[u]) * pos_scale(j0 + u); }
  let s = block_q_sums(t, q, j0);
  if (j0 == 0u) {
    put_sums(r, b, vec2<f32>(d * s.x, d * s.y));
    a[aidx(r, b) + 34u] = d;
  }
}

@compute @workgroup_size(64)
fn quant_hw_none(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  prepare(wg.x, t);
  convert_plain_hw(wg.x, wg.y, t, 0u, false);
}

@compute @workgroup_size(64)
fn quant_hw_none_s32(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  prepare(wg.x, t);
  convert_plain_hw(wg.x, wg.y, t, 0u, true);
}

@compute @workgroup_size(64)
fn quant_hw_f16(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  prepare(wg.x, t);
  convert_plain_hw(wg.x, wg.y, t, 1u, false);
}

@compute @workgroup_size(64)
fn quant_hw_bf16(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  prepare(wg.x, t);
  convert_plain_hw(wg.x, wg.y, t, 2u, false);
}

@compute @workgroup_size(64)
fn quant_hw_q8_0(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  prepare(wg.x, t);
  convert_q8_hw(wg.x, wg.y, t, false);
}

@compute @workgroup_size(64)
fn quant_hw_q8_1(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  prepare(wg.x, t);
  convert_q8_hw(wg.x, wg.y, t, true);
}

@compute @workgroup_size(64)
fn quant_hw_q8_k(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  prepare(wg.x, t);
  convert_q8_k_hw(wg.x, wg.y, t);
}
