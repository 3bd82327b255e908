// Matrix products for a batch of tokens (prefill) in the shape for hardware GPUs: the same
// products, Params, bindings and entry points as matmul.wgsl (matmul_common.wgsl), with the work
// split as GPU matrix products split it (ggml-webgpu's mul_mat_reg_tile, TVM dlight's matmul
// rule): a workgroup of 128 lanes computes a tile of 64 rows by 32 tokens. For each 32-block of
// the rows, lanes 0..63 dequantize the tile's 64 weight blocks (load_w32) and lanes 64..95 read
// its 32 tokens' activation blocks into workgroup memory (14.5 KiB, within WebGPU's 16 KiB
// minimum); then lane l computes rows l % 16 + 16 i by tokens l / 16 + 8 j (i, j < 4), a register
// tile of 16 outputs: each dequantized block serves 32 tokens, each activation block 64 rows.
// A lane owns its outputs over the whole row and sums the exact block partials in block order
// with TwoSum (f32 sum and error), as matmul.wgsl does: the same numbers to the last bit, and no
// reduction across lanes (so one kernel with or without subgroups). Gated: tile rows 0..31 are
// 32 gate rows, 32..63 their up rows. One entry point, `matmul`, the mode in Params.
//
// dispatch (ceil(n / 64) or, gated, ceil(n / 2 / 32), ceil(tokens / 32)).

const TM: u32 = 64u; // rows per workgroup tile
const TN: u32 = 32u; // tokens per workgroup tile

var<workgroup> wt: array<W32, TM>;
var<workgroup> at: array<A32, TN>;

// Per token j (0..3) of the lane: rows i = 0..3 of the lane as one vec4.
struct Acc {
  s: array<vec4<f32>, 4>,
  e: array<vec4<f32>, 4>,
}

// The lane's 4 x 4 outputs (sum and TwoSum error). wrow: the first block of the tile row that
// lane l < 64 loads (local row * k/32); abase: the activation of the token lane l - 64 loads.
fn tile(l: u32, wrow: u32, abase: u32) -> Acc {
  let nb = params.k >> 5u;
  let lr = l & 15u;
  let lt = l >> 4u;
  var acc: Acc;
  for (var b = 0u; b < nb; b++) {
    workgroupBarrier(); // the last block's reads are done
    if (l < TM) {
      wt[l] = load_w32(wrow + b);
    } else if (l < TM + TN) {
      at[l - TM] = load_a32(abase, b);
    }
    workgroupBarrier();
    let w0 = wt[lr];
    let w1v = wt[lr + 16u];
    let w2 = wt[lr + 32u];
    let w3 = wt[lr + 48u];
    for (var j = 0u; j < 4u; j++) {
      let x = at[lt + 8u * j];
      acc.s[j] = two_sum4(acc.s[j], vec4<f32>(dot32(w0, x), dot32(w1v, x), dot32(w2, x), dot32(w3, x)), &acc.e[j]);
    }
  }
  return acc;
}

// The activation lane l (64..95) loads: token t0 + l - 64, clamped.
fn act_base(l: u32, t0: u32) -> u32 {
  return min(t0 + (l & 31u), params.tokens - 1u) * params.act_tok;
}

// Rows r0..r0+63 of this buffer that exist: stored [+ bias] or added.
fn write_plain(v: Acc, l: u32, r0: u32, t0: u32) {
  for (var j = 0u; j < 4u; j++) {
    let t = t0 + (l >> 4u) + 8u * j;
    if (t >= params.tokens) { return; }
    let o = params.y_off + t * params.y_tok;
    for (var i = 0u; i < 4u; i++) {
      let gr = r0 + (l & 15u) + 16u * i; // global row
      if (gr < params.n && gr < params.row_end) {
        var out = v.s[j][i] + v.e[j][i];
        if (params.mode == 1u) {
          out += y[o + gr];
        } else if (params.has_bias == 1u) {
          out += bias[gr];
        }
        y[o + gr] = out;
      }
    }
  }
}

// Outputs g0..g0+31: act(gate) * up, from the lane's rows i = 0, 1 (gate) and 2, 3 (up).
fn write_glu(v: Acc, l: u32, g0: u32, t0: u32) {
  let half_n = params.n / 2u;
  for (var j = 0u; j < 4u; j++) {
    let t = t0 + (l >> 4u) + 8u * j;
    if (t >= params.tokens) { return; }
    let o = params.y_off + t * params.y_tok;
    for (var i = 0u; i < 2u; i++) {
      let r = g0 + (l & 15u) + 16u * i;
      if (r < half_n) {
        let g = v.s[j][i] + v.e[j][i];
        let u = v.s[j][i + 2u] + v.e[j][i + 2u];
        y[o + r] = select(silu(g), gelu(g), params.mode == 3u) * u;
      }
    }
  }
}

// One entry point for every mode (params.mode), so that a weight type needs one pipeline.
@compute @workgroup_size(128)
fn matmul(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let glu = params.mode >= 2u;
  let lo = l & 63u;
  var first: u32; // first output row (gated: gate row) of the tile
  var row: u32;   // the row lane l < 64 loads, local to this buffer
  if (glu) {
    // gate rows g0.., up rows n/2 + g0..; the buffer holds the whole matrix
    let half_n = params.n / 2u;
    first = wg.x * (TM / 2u);
    if (first >= half_n) { return; }
    row = select(first + lo, half_n + first + lo - 32u, lo >= 32u);
  } else {
    first = wg.x * TM;
    // parts of a split weight start at multiples of 64 rows (weights.ts): a tile never straddles
    if (first >= params.n || first < params.row0 || first >= params.row_end) { return; }
    row = first - params.row0 + lo;
  }
  let t0 = wg.y * TN;
  let v = tile(l, min(row, params.row_end - 1u - params.row0) * (params.k >> 5u), act_base(l, t0));
  if (glu) {
    write_glu(v, l, first, t0);
  } else {
    write_plain(v, l, first, t0);
  }
}
