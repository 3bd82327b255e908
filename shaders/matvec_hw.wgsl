// Matrix-vector products in the shape for hardware GPUs: the same products, Params, bindings and
// dispatch axes as matvec.wgsl (matvec_common.wgsl), with a different split of the work. A
// workgroup of WG lanes computes 8 row products (store/add: 8 rows; gated: 4 gate rows and their
// 4 up rows). Lane t takes blocks b = t, t + WG, ... of each of its rows; a row's blocks are
// consecutive in the repacked layout (layout.ts: block g = row * k/32 + b, 16 bytes of 4-bit
// quants or 32 of 8-bit per block, scales per block or per 8 blocks), so adjacent lanes read
// adjacent 16- or 32-byte pieces of the same row: each vec4 load of a subgroup covers one
// contiguous stretch. Each lane sums its blocks' exact partials with TwoSum as matvec.wgsl does,
// then the lanes' (sum, error) pairs are combined by reduce_rows: reduce_sg.wgsl (subgroup
// shuffles, then one partial per subgroup through workgroup memory; the entry points' `Lanes`
// builtins in lanes_sg.wgsl) or reduce_wg.wgsl (workgroup memory only; defines `Lanes`). sum.wgsl
// comes first. Same rounding behaviour, same tolerances as matvec.wgsl; the order of the sum
// differs, so the last bit may.
//
// dispatch (ceil(outputs / 8) or, gated, ceil(outputs / 4), slots, tokens).

override WG: u32 = 128;

var<workgroup> wmat: u32;

// The slot's matrix, the same value in every lane: read once and handed out through workgroup
// memory, so that the returns that depend on it keep the reduction's barriers in uniform flow.
fn matrix_of(wg: vec3<u32>, t: u32) -> u32 {
  if (t == 0u) {
    var m = 0u;
    if (params.use_ids == 1u) { m = ids[params.ids_off + wg.z * params.ids_tok + wg.y]; }
    wmat = m;
  }
  return workgroupUniformLoad(&wmat);
}

// This lane's share of the dot products of flattened rows fa..fa+3 and fb..fb+3 (clamped into
// this buffer) with the activation at abase: sums and their TwoSum errors.
struct Part {
  sa: vec4<f32>,
  sb: vec4<f32>,
  ea: vec4<f32>,
  eb: vec4<f32>,
}

fn lane_dots(fa: u32, fb: u32, abase: u32, t: u32) -> Part {
  let nb = (params.k >> 5u);
  let last = params.row_end - 1u - params.row0;
  let la = fa - params.row0;
  let lb = fb - params.row0;
  let g0 = min(la, last) * nb;
  let g1 = min(la + 1u, last) * nb;
  let g2 = min(la + 2u, last) * nb;
  let g3 = min(la + 3u, last) * nb;
  let g4 = min(lb, last) * nb;
  let g5 = min(lb + 1u, last) * nb;
  let g6 = min(lb + 2u, last) * nb;
  let g7 = min(lb + 3u, last) * nb;
  var p = Part(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  for (var b = t; b < nb; b += WG) {
    let x = load_a32(abase, b);
    let va = vec4<f32>(dot32(load_w32(g0 + b), x), dot32(load_w32(g1 + b), x), dot32(load_w32(g2 + b), x), dot32(load_w32(g3 + b), x));
    let vb = vec4<f32>(dot32(load_w32(g4 + b), x), dot32(load_w32(g5 + b), x), dot32(load_w32(g6 + b), x), dot32(load_w32(g7 + b), x));
    p.sa = two_sum4(p.sa, va, &p.ea);
    p.sb = two_sum4(p.sb, vb, &p.eb);
  }
  return p;
}

// The 8 products of the workgroup (every lane gets them).
fn dots(fa: u32, fb: u32, abase: u32, l: Lanes) -> Rows {
  return reduce_rows(lane_dots(fa, fb, abase, l.t), l);
}

fn act_base(wg: vec3<u32>) -> u32 {
  return wg.z * params.act_tok + wg.y * params.act_stride;
}

fn out_base(wg: vec3<u32>) -> u32 {
  return params.y_off + wg.z * params.y_tok + wg.y * params.y_stride;
}

// Rows r0..r0+7 of the slot's matrix (flattened from fr), stored or added: lanes 0..7 write one each.
fn plain(wg: vec3<u32>, l: Lanes, add: bool) {
  let r0 = wg.x * 8u;
  let fr = matrix_of(wg, l.t) * params.n + r0;
  if (fr + 8u <= params.row0 || fr >= params.row_end || r0 >= params.n) { return; }
  let v = dots(fr, fr + 4u, act_base(wg), l);
  let i = l.t;
  if (i < 8u && r0 + i < params.n && fr + i >= params.row0 && fr + i < params.row_end) {
    let o = out_base(wg) + r0 + i;
    var out = row_at(v, i);
    if (add) { out += y[o]; } else if (params.has_bias != 0u) { out += bias_at(wg, r0 + i); }
    y[o] = out;
  }
}

@compute @workgroup_size(WG)
fn matvec(l: Lanes, @builtin(workgroup_id) wg: vec3<u32>) {
  plain(wg, l, false);
}

@compute @workgroup_size(WG)
fn matvec_add(l: Lanes, @builtin(workgroup_id) wg: vec3<u32>) {
  plain(wg, l, true);
}

// Outputs r0..r0+3 = act(gate rows) * (up rows); a split buffer holds whole matrices here.
fn glu(wg: vec3<u32>, l: Lanes, kind: u32) {
  let half_n = params.n / 2u;
  let r0 = wg.x * 4u;
  let mat = matrix_of(wg, l.t);
  if (r0 >= half_n || mat * params.n < params.row0 || mat * params.n + params.n > params.row_end) { return; }
  let fg = mat * params.n + r0;
  let v = dots(fg, fg + half_n, act_base(wg), l);
  let i = l.t;
  if (i < 4u && r0 + i < half_n) {
    var g = v.a[i];
    var u = v.b[i];
    if (params.has_bias != 0u) { g += bias_at(wg, r0 + i); u += bias_at(wg, half_n + r0 + i); }
    y[out_base(wg) + r0 + i] = gated(kind, g, u);
  }
}

@compute @workgroup_size(WG)
fn matvec_glu_silu(l: Lanes, @builtin(workgroup_id) wg: vec3<u32>) {
  glu(wg, l, 0u);
}

@compute @workgroup_size(WG)
fn matvec_glu_gelu(l: Lanes, @builtin(workgroup_id) wg: vec3<u32>) {
  glu(wg, l, 1u);
}

@compute @workgroup_size(WG)
fn matvec_glu_oai(l: Lanes, @builtin(workgroup_id) wg: vec3<u32>) {
  glu(wg, l, 2u);
}
