// Matrix-vector products for decoding one token: y[r] = sum_k W[mat][r][k] a[k], for any weight
// type (half.wgsl, quant_common.wgsl and the q_<type>.wgsl file that supplies load_w32 come
// before this file). One invocation computes R = 8 rows; a workgroup WG invocations. The
// activation block is read once per 32 columns and used for the 8 rows, which is what makes this
// faster than one row per invocation on SwiftShader, where every buffer read is a per-lane gather.
//
// dispatch (ceil(n / (8 * WG)), slots, tokens): slot = workgroup_id.y is the selected expert
// (MoE: its matrix is ids[ids_off + z * ids_tok + slot]) or 0, z = workgroup_id.z the token; the
// input is act + z * act_tok + slot * act_stride, the output y + y_off + z * y_tok + slot * y_stride.
// (A batch of tokens through this kernel reads the weights once per token: matmul.wgsl is the
// batched kernel for dense weights.) A weight split over several buffers is run once per buffer:
// rows outside [row0, row_end) of the flattened (matrix, row) index are skipped.
//
// Entry points: matvec (y = Wa [+ bias]), matvec_add (y += Wa), matvec_glu_silu / _gelu
// (y = act(Wg a) * (Wu a)): the gate and up matrices are uploaded as one matrix of n rows, gate
// rows first, so output row r reads rows r and n/2 + r.

struct Params {
  k: u32,          // columns (elements per row)
  n: u32,          // rows per matrix
  q_off: u32,      // word offset of the quant region in w (multiple of 4)
  h_off: u32,      // word offset of the high-bit region
  m_off: u32,      // word offset of the meta region
  q4: u32,         // q_off / 4 and m_off / 4: vec4 offsets (a division per read costs ~8 adds on SwiftShader)
  m4: u32,
  row0: u32,       // first flattened row held by this buffer
  row_end: u32,    // one past the last
  act_stride: u32, // blocks between the activations of consecutive slots (0: one shared input)
  y_off: u32,      // float offset of slot 0's output
  y_stride: u32,   // floats between consecutive slots' outputs
  ids_off: u32,    // offset of this token's expert list in ids
  use_ids: u32,    // 1: matrix = ids[ids_off + slot]; 0: matrix 0
  has_bias: u32,   // 1: add bias[row] (matvec only)
  act_tok: u32,    // blocks between tokens' activations
  y_tok: u32,      // floats between tokens' outputs
  ids_tok: u32,    // entries between tokens' expert lists
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> w4: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> w1: array<u32>;
@group(0) @binding(3) var<storage, read> act: array<A32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<storage, read> ids: array<u32>;
@group(0) @binding(7) var<storage, read> bias: array<f32>;

override WG: u32 = 16;
const R: u32 = 8u;

// 32 activation values and their sums S (quant_act.wgsl): one struct per block, read in one
// access (see quant_act.wgsl); a value, never a `var`.
struct A32 {
  v0: vec4<f32>,
  v1: vec4<f32>,
  v2: vec4<f32>,
  v3: vec4<f32>,
  v4: vec4<f32>,
  v5: vec4<f32>,
  v6: vec4<f32>,
  v7: vec4<f32>,
  s: vec4<f32>, // (S.x, S.y, 0, 0)
}

fn load_a32(base: u32, b: u32) -> A32 {
  return act[base + b];
}

fn dot32(w: W32, x: A32) -> f32 {
  let lo = fma(w.q3, x.v3, fma(w.q2, x.v2, fma(w.q1, x.v1, w.q0 * x.v0)));
  let hi = fma(w.q7, x.v7, fma(w.q6, x.v6, fma(w.q5, x.v5, w.q4 * x.v4)));
  let sl = (lo.x + lo.y) + (lo.z + lo.w);
  let sh = (hi.x + hi.y) + (hi.z + hi.w);
  // one rounding of the block's exact sum when both halves share a scale (see quant_common.wgsl)
  let split = w.d.x * (sl + w.c * x.s.x) + w.d.y * (sh + w.c * x.s.y);
  let ds = select(split, w.d.x * ((sl + sh) + w.c * (x.s.x + x.s.y)), w.d.x == w.d.y);
  return ds + w.m.x * x.s.x + w.m.y * x.s.y;
}

// a + b as (sum, error) for 4 rows at once (TwoSum): block results are summed with their
// rounding errors carried, so a row's dot product is close to correctly rounded, as the CPU
// reference's float64 sums are; llama.cpp's own sum is within an ulp or two of it.
fn two_sum4(a: vec4<f32>, b: vec4<f32>, err: ptr<function, vec4<f32>>) -> vec4<f32> {
  let s = a + b;
  let bb = s - a;
  *err += (a - (s - bb)) + (b - bb);
  return s;
}

// Flattened first row of this invocation, or past row_end when the slot's matrix is elsewhere.
fn first_row(gid: u32, slot: u32, z: u32) -> u32 {
  var mat = 0u;
  if (params.use_ids == 1u) { mat = ids[params.ids_off + z * params.ids_tok + slot]; }
  return mat * params.n + gid * R;
}

// Dot products of rows fr..fr+3 (clamped into this buffer) with the activation at vec4 abase.
// 8 rows' results.
struct Rows {
  a: vec4<f32>, // rows 0..3
  b: vec4<f32>, // rows 4..7
}

fn row_at(v: Rows, i: u32) -> f32 {
  return select(v.b[i & 3u], v.a[i & 3u], i < 4u);
}

fn dot_rows(fr: u32, abase: u32) -> Rows {
  let nb = (params.k >> 5u);
  let last = params.row_end - 1u - params.row0;
  let l0 = fr - params.row0;
  let g0 = min(l0, last) * nb;
  let g1 = min(l0 + 1u, last) * nb;
  let g2 = min(l0 + 2u, last) * nb;
  let g3 = min(l0 + 3u, last) * nb;
  let g4 = min(l0 + 4u, last) * nb;
  let g5 = min(l0 + 5u, last) * nb;
  let g6 = min(l0 + 6u, last) * nb;
  let g7 = min(l0 + 7u, last) * nb;
  var acc = Rows(vec4<f32>(0.0), vec4<f32>(0.0));
  var err = Rows(vec4<f32>(0.0), vec4<f32>(0.0));
  for (var b = 0u; b < nb; b++) {
    // the activation block (the costly read: a gather per lane) serves all 8 rows
    let x = load_a32(abase, b);
    let va = vec4<f32>(dot32(load_w32(g0 + b), x), dot32(load_w32(g1 + b), x), dot32(load_w32(g2 + b), x), dot32(load_w32(g3 + b), x));
    let vb = vec4<f32>(dot32(load_w32(g4 + b), x), dot32(load_w32(g5 + b), x), dot32(load_w32(g6 + b), x), dot32(load_w32(g7 + b), x));
    acc.a = two_sum4(acc.a, va, &err.a);
    acc.b = two_sum4(acc.b, vb, &err.b);
  }
  return Rows(acc.a + err.a, acc.b + err.b);
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
      if (params.has_bias == 1u) { out += bias[(fr % params.n) + i]; }
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

// ggml's GELU (tanh form) in f32, in C's evaluation order.
fn gelu_f32(v: f32) -> f32 {
  let inner = (0.7978845608028654 * v) * (1.0 + (0.044715 * v) * v);
  return (0.5 * v) * (1.0 + tanh(inner));
}

// 1: GELU as ggml's CPU backend computes it (GGML_GELU_FP16): the input rounded to f16 and the
// result read from a table of f16 values; 0: plain f32 GELU.
override GGML_GELU: u32 = 1;

fn gelu(v: f32) -> f32 {
  if (GGML_GELU == 0u) { return gelu_f32(v); }
  if (v <= -10.0) { return 0.0; }
  if (v >= 10.0) { return v; }
  return f16_round(gelu_f32(f16_round(v)));
}

fn silu(v: f32) -> f32 {
  return v / (1.0 + exp(-v));
}

fn glu(gid: vec3<u32>, wg: vec3<u32>, is_gelu: bool) {
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
      let gi = row_at(g, i);
      let a = select(silu(gi), gelu(gi), is_gelu);
      y[o + i] = a * row_at(u, i);
    }
  }
}

@compute @workgroup_size(WG)
fn matvec_glu_silu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  glu(gid, wg, false);
}

@compute @workgroup_size(WG)
fn matvec_glu_gelu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  glu(gid, wg, true);
}
