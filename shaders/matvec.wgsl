// Matrix-vector products for decoding one token: y[r] = sum_k W[mat][r][k] a[k], for any weight
// type, in the shape for CPU-backed adapters (SwiftShader, llvmpipe; matvec_hw.wgsl is the GPU
// shape, kernels.ts chooses). matvec_common.wgsl comes before this file. One invocation computes
// R = 8 rows; a workgroup WG invocations. The activation block is read once per 32 columns and
// used for the 8 rows, which is what makes this faster than one row per invocation on
// SwiftShader, where every buffer read is a per-lane gather.
//
// dispatch (ceil(n / (8 * WG)), slots, tokens): slot = workgroup_id.y is the selected expert
// (MoE: its matrix is ids[ids_off + z * ids_tok + slot]) or 0, z = workgroup_id.z the token; the
// input is act + z * act_tok + slot * act_stride, the output y + y_off + z * y_tok + slot * y_stride.
// (A batch of tokens through this kernel reads the weights once per token: matmul.wgsl is the
// batched kernel for dense weights.) A weight split over several buffers is run once per buffer:
// rows outside [row0, row_end) of the flattened (matrix, row) index are skipped.
//
// dot_rows (8 rows' products) comes from the file before this one: matvec_rows.wgsl (TwoSum), or
// in ggml's order for the types ggml-dot.ts emulates, matvec_ggml32.wgsl or matvec_ggml_q2_k.wgsl;
// row_blocks.wgsl (where the 8 rows start in the weight) before that.
//
// Entry points: matvec (y = Wa [+ bias]), matvec_add (y += Wa), matvec_glu_silu / _gelu / _oai
// (y = act(Wg a [+ bias]) * (Wu a [+ bias]); _oai: gpt-oss's clamped SwiGLU): the gate and up matrices are uploaded as one matrix of n rows, gate
// rows first, so output row r reads rows r and n/2 + r.

override WG: u32 = 16;
const R: u32 = 8u;

// Flattened first row of this invocation, or past row_end when the slot's matrix is elsewhere.
fn first_row(gid: u32, slot: u32, z: u32) -> u32 {
  var mat = 0u;
  if (params.use_ids == 1u) { mat = ids[params.ids_off + z * params.ids_tok + slot]; }
  return mat * params.n + gid * R;
}

fn act_base(wg: vec3<u32>) -> u32 {
  return wg.z * params.act_tok + wg.y * params.act_stride;
}

fn out_base(wg: vec3<u32>) -> u32 {
  return params.y_off + wg.z * params.y_tok + wg.y * params.y_stride;
}

// Whether row (within the matrix) r0 + i of this invocation exists and lives in this buffer.
fn owns(fr: u32, r: u32) -> bool {
  return (fr % params.n) + r < params.n && fr + r >= params.row0 && fr + r < params.row_end;
}

@compute @workgroup_size(WG)
fn matvec(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let slot = wg.y;
  let fr = first_row(gid.x, slot, wg.z);
  if (fr + R <= params.row0 || fr >= params.row_end || gid.x * R >= params.n) { return; }
  let v = dot_rows(fr, act_base(wg));
  let r0 = gid.x * R;
  let o = out_base(wg) + r0;
  for (var i = 0u; i < R; i++) {
    if (owns(fr, i)) {
      var out = row_at(v, i);
      if (params.has_bias != 0u) { out += bias_at(wg, (fr % params.n) + i); }
      y[o + i] = out;
    }
  }
}

@compute @workgroup_size(WG)
fn matvec_add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let slot = wg.y;
  let fr = first_row(gid.x, slot, wg.z);
  if (fr + R <= params.row0 || fr >= params.row_end || gid.x * R >= params.n) { return; }
  let v = dot_rows(fr, act_base(wg));
  let o = out_base(wg) + gid.x * R;
  for (var i = 0u; i < R; i++) {
    if (owns(fr, i)) { y[o + i] = row_at(v, i) + y[o + i]; }
  }
}

fn glu(gid: vec3<u32>, wg: vec3<u32>, kind: u32) {
  let half_n = params.n / 2u;
  var mat = 0u;
  if (params.use_ids == 1u) { mat = ids[params.ids_off + wg.z * params.ids_tok + wg.y]; }
  let r0 = gid.x * R;
  let fg = mat * params.n + r0;
  // A split buffer holds whole matrices here (gate and up rows of a matrix stay together).
  if (r0 >= half_n || mat * params.n < params.row0 || mat * params.n + params.n > params.row_end) { return; }
  let g = dot_rows(fg, act_base(wg));
  let u = dot_rows(fg + half_n, act_base(wg));
  let o = out_base(wg) + r0;
  for (var i = 0u; i < R; i++) {
    if (r0 + i < half_n) {
      var gi = row_at(g, i);
      var ui = row_at(u, i);
      if (params.has_bias != 0u) { gi += bias_at(wg, r0 + i); ui += bias_at(wg, half_n + r0 + i); }
      y[o + i] = gated(kind, gi, ui);
    }
  }
}

@compute @workgroup_size(WG)
fn matvec_glu_silu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  glu(gid, wg, 0u);
}

@compute @workgroup_size(WG)
fn matvec_glu_gelu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  glu(gid, wg, 1u);
}

@compute @workgroup_size(WG)
fn matvec_glu_oai(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  glu(gid, wg, 2u);
}
