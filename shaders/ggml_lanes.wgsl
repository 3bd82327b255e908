// Q8_0 rows in ggml's order ('ggml' numerics, any number of rows): llama.cpp's x86 build does not
// repack Q8_0, so every product is ggml_vec_dot_q8_0_q8_0's (a batch's, llamafile's tinyBLAS_Q0_AVX,
// keeps its lanes): 8 f32 lanes per row, lane u the integer sum of elements 4u..4u+3 of each
// block (word u of q_q8_0.wgsl's block) times d_w·d_a added with one FMA (fma_rn4), block after
// block, then hsum_float_8 (src/reference/ggml-dot.ts dotNibble32, path 'vec'). Needs dot32.wgsl,
// q_q8_0.wgsl and row_blocks.wgsl before it.

// A row's 8 lanes: lanes 0..3 and 4..7.
struct Lanes8 {
  lo: vec4<f32>,
  hi: vec4<f32>,
}

// The 4 elements of word u (bytes 0..2 as q + 128, scaled by pos_scale's 2^-(8b) in x) times the
// Q8_0 activation's, as an integer: d_a times an integer below 4·255·127, off by far less than
// d_a / 2, over d_a; byte 0..2's +128 undone with their activations' own sum.
fn lane_int(q: vec4<f32>, v: vec4<f32>, c: f32, inv: f32) -> f32 {
  let s = (v.x + v.y * 256.0) + v.z * 65536.0;
  return round(dot(q, v) * inv) + c * round(s * inv);
}

fn lane_step(w: W32, x: A32, inv: f32, acc: Lanes8) -> Lanes8 {
  let lo = vec4<f32>(lane_int(w.q0, x.v0, w.c, inv), lane_int(w.q1, x.v1, w.c, inv), lane_int(w.q2, x.v2, w.c, inv), lane_int(w.q3, x.v3, w.c, inv));
  let hi = vec4<f32>(lane_int(w.q4, x.v4, w.c, inv), lane_int(w.q5, x.v5, w.c, inv), lane_int(w.q6, x.v6, w.c, inv), lane_int(w.q7, x.v7, w.c, inv));
  let dd = vec4<f32>(w.d.x * x.s.z);
  return Lanes8(fma_rn4(dd, lo, acc.lo), fma_rn4(dd, hi, acc.hi));
}

// hsum_float_8: ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
fn lanes_sum(l: Lanes8) -> f32 {
  let s = l.lo + l.hi;
  return (s.x + s.z) + (s.y + s.w);
}

// Rows from blocks g (row_blocks) times the activation at block abase: rows 0..3 and 4..7.
fn lane_rows(g: RowBlocks, abase: u32) -> array<vec4<f32>, 2> {
  let nb = (params.k >> 5u);
  let z = Lanes8(vec4<f32>(0.0), vec4<f32>(0.0));
  var l0 = z; var l1 = z; var l2 = z; var l3 = z;
  var l4 = z; var l5 = z; var l6 = z; var l7 = z;
  for (var b = 0u; b < nb; b++) {
    let x = load_a32(abase, b);
    let inv = select(0.0, 1.0 / x.s.z, x.s.z != 0.0);
    l0 = lane_step(load_w32(g.a.x + b), x, inv, l0);
    l1 = lane_step(load_w32(g.a.y + b), x, inv, l1);
    l2 = lane_step(load_w32(g.a.z + b), x, inv, l2);
    l3 = lane_step(load_w32(g.a.w + b), x, inv, l3);
    l4 = lane_step(load_w32(g.b.x + b), x, inv, l4);
    l5 = lane_step(load_w32(g.b.y + b), x, inv, l5);
    l6 = lane_step(load_w32(g.b.z + b), x, inv, l6);
    l7 = lane_step(load_w32(g.b.w + b), x, inv, l7);
  }
  return array<vec4<f32>, 2>(
    vec4<f32>(lanes_sum(l0), lanes_sum(l1), lanes_sum(l2), lanes_sum(l3)),
    vec4<f32>(lanes_sum(l4), lanes_sum(l5), lanes_sum(l6), lanes_sum(l7)),
  );
}
