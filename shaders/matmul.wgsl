// Matrix products for a batch of tokens (prefill): Y[t][r] = sum_k W[r][k] A[t][k] for any weight
// type (half.wgsl, quant_common.wgsl and a q_<type>.wgsl come first). One invocation computes a
// tile of R = 4 rows by TT = 4 tokens, so each dequantized weight block serves 4 tokens and each
// activation block 4 rows; a workgroup WG invocations along the rows.
//
// dispatch (ceil(n / (4 * WG)), ceil(tokens / 4)). Token t reads act + t * act_tok and writes
// y + y_off + t * y_tok. Entry points as matvec.wgsl: matmul, matmul_add, matmul_glu_silu,
// matmul_glu_gelu. Dense weights only (matrix 0); rows outside [row0, row_end) live in another
// buffer of a split weight.

struct Params {
  k: u32,          // columns
  n: u32,          // rows
  q_off: u32,      // regions of this buffer (words)
  h_off: u32,
  m_off: u32,
  q4: u32,         // q_off / 4, m_off / 4 (vec4 offsets)
  m4: u32,
  row0: u32,       // rows held by this buffer
  row_end: u32,
  tokens: u32,     // tokens in the batch
  act_tok: u32,    // blocks between tokens' activations
  y_off: u32,      // float offset of token 0's output
  y_tok: u32,      // floats between tokens' outputs
  has_bias: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> w4: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> w1: array<u32>;
@group(0) @binding(3) var<storage, read> act: array<A32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;

override WG: u32 = 16;
const R: u32 = 4u;

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

// TwoSum of 4 rows at once (see matvec.wgsl).
fn two_sum4(a: vec4<f32>, b: vec4<f32>, err: ptr<function, vec4<f32>>) -> vec4<f32> {
  let s = a + b;
  let bb = s - a;
  *err += (a - (s - bb)) + (b - bb);
  return s;
}

// Rows r..r+3 (local to this buffer, clamped) for tokens t..t+3 (clamped): 4 x vec4.
struct Tile {
  t0: vec4<f32>,
  t1: vec4<f32>,
  t2: vec4<f32>,
  t3: vec4<f32>,
}

fn tile(r: u32, t: u32) -> Tile {
  let nb = (params.k >> 5u);
  let last = params.row_end - 1u - params.row0;
  let g0 = min(r, last) * nb;
  let g1 = min(r + 1u, last) * nb;
  let g2 = min(r + 2u, last) * nb;
  let g3 = min(r + 3u, last) * nb;
  let tl = params.tokens - 1u;
  let a0 = min(t, tl) * params.act_tok;
  let a1 = min(t + 1u, tl) * params.act_tok;
  let a2 = min(t + 2u, tl) * params.act_tok;
  let a3 = min(t + 3u, tl) * params.act_tok;
  var s0 = vec4<f32>(0.0);
  var s1 = vec4<f32>(0.0);
  var s2 = vec4<f32>(0.0);
  var s3 = vec4<f32>(0.0);
  var e0 = vec4<f32>(0.0);
  var e1 = vec4<f32>(0.0);
  var e2 = vec4<f32>(0.0);
  var e3 = vec4<f32>(0.0);
  for (var b = 0u; b < nb; b++) {
    let w0 = load_w32(g0 + b);
    let w1v = load_w32(g1 + b);
    let w2 = load_w32(g2 + b);
    let w3 = load_w32(g3 + b);
    let x0 = load_a32(a0, b);
    s0 = two_sum4(s0, vec4<f32>(dot32(w0, x0), dot32(w1v, x0), dot32(w2, x0), dot32(w3, x0)), &e0);
    let x1 = load_a32(a1, b);
    s1 = two_sum4(s1, vec4<f32>(dot32(w0, x1), dot32(w1v, x1), dot32(w2, x1), dot32(w3, x1)), &e1);
    let x2 = load_a32(a2, b);
    s2 = two_sum4(s2, vec4<f32>(dot32(w0, x2), dot32(w1v, x2), dot32(w2, x2), dot32(w3, x2)), &e2);
    let x3 = load_a32(a3, b);
    s3 = two_sum4(s3, vec4<f32>(dot32(w0, x3), dot32(w1v, x3), dot32(w2, x3), dot32(w3, x3)), &e3);
  }
  return Tile(s0 + e0, s1 + e1, s2 + e2, s3 + e3);
}

fn tile_at(v: Tile, j: u32) -> vec4<f32> {
  switch (j) {
    case 0u: { return v.t0; }
    case 1u: { return v.t1; }
    case 2u: { return v.t2; }
    default: { return v.t3; }
  }
}

// Writes y (mode 0: store [+ bias], 1: add) for the rows of this buffer that exist.
fn write_tile(v: Tile, r: u32, t: u32, mode: u32) {
  for (var j = 0u; j < 4u; j++) {
    if (t + j >= params.tokens) { return; }
    let row = tile_at(v, j);
    let o = params.y_off + (t + j) * params.y_tok;
    for (var i = 0u; i < R; i++) {
      let gr = r + i; // global row
      if (gr < params.n && gr >= params.row0 && gr < params.row_end) {
        if (mode == 1u) {
          y[o + gr] = row[i] + y[o + gr];
        } else {
          var out = row[i];
          if (params.has_bias == 1u) { out += bias[gr]; }
          y[o + gr] = out;
        }
      }
    }
  }
}

@compute @workgroup_size(WG)
fn matmul(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let r = gid.x * R;
  let t = wg.y * 4u;
  // parts of a split weight start at multiples of 64 rows (weights.ts), so a tile never straddles
  if (r >= params.n || r < params.row0 || r >= params.row_end) { return; }
  write_tile(tile(r - params.row0, t), r, t, 0u);
}

@compute @workgroup_size(WG)
fn matmul_add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  let r = gid.x * R;
  let t = wg.y * 4u;
  if (r >= params.n || r < params.row0 || r >= params.row_end) { return; }
  write_tile(tile(r - params.row0, t), r, t, 1u);
}

// ggml's GELU (see matvec.wgsl).
fn gelu_f32(v: f32) -> f32 {
  let inner = (0.7978845608028654 * v) * (1.0 + (0.044715 * v) * v);
  return (0.5 * v) * (1.0 + tanh(inner));
}

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

// Gate rows r.., up rows n/2 + r..; the buffer holds the whole matrix (not split).
fn glu(gid: vec3<u32>, wg: vec3<u32>, is_gelu: bool) {
  let half_n = params.n / 2u;
  let r = gid.x * R;
  let t = wg.y * 4u;
  if (r >= half_n) { return; }
  let g = tile(r, t);
  let u = tile(half_n + r, t);
  for (var j = 0u; j < 4u; j++) {
    if (t + j >= params.tokens) { return; }
    let gv = tile_at(g, j);
    let uv = tile_at(u, j);
    let o = params.y_off + (t + j) * params.y_tok;
    for (var i = 0u; i < R; i++) {
      if (r + i < half_n) { y[o + r + i] = select(silu(gv[i]), gelu(gv[i]), is_gelu) * uv[i]; }
    }
  }
}

@compute @workgroup_size(WG)
fn matmul_glu_silu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  glu(gid, wg, false);
}

@compute @workgroup_size(WG)
fn matmul_glu_gelu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  glu(gid, wg, true);
}
