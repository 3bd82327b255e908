// Q2_K in ggml's order ('ggml' numerics; matvec_ggml_q2_k.wgsl, matmul_ggml_q2_k.wgsl):
// llama.cpp's x86 build repacks Q2_K matrices (AVX-512) and its gemv forms, per super-block, two
// integer sums, Σ sc·(Σ q·q8) and Σ m·(Σ q8) over the 16 sub-blocks, and adds each times its f32
// scale (d·d8, dmin·d8) into its own f32 sum with one FMA; its 4-token gemm does so per 128-half.
// The row is the first sum minus the second (src/reference/ggml-dot.ts dotQ2K). The activation
// values are d8·q8 rounded to f32 (Q8_K's d8 is an f32), so the integer sums are recovered by
// rounding the sub-block sums over d8 (quant_act.wgsl stores d8 at s.z): they are below 16·3·127
// and off by far less than 1/2. q_q2_k.wgsl and dot32.wgsl come first.

// 4 rows' f32 sums and the integer sums not yet added to them.
struct Q2kAcc {
  acc: vec4<f32>,
  mins: vec4<f32>,
  isum: vec4<f32>,
  imin: vec4<f32>,
}

const Q2K_ZERO = Q2kAcc(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));

// The sub-block integer sums of block g: (Σ sc·(Σ q·q8), Σ m·(Σ q8)).
fn q2k_ints(g: u32, x: A32, inv: f32, q8s: vec2<f32>) -> vec2<f32> {
  let s = round(halves32(load_w32(g), x) * inv);
  let m = q2k_scales(g);
  return vec2<f32>(m.x * s.x + m.y * s.y, m.z * q8s.x + m.w * q8s.y);
}

// Block g of 4 rows (g.x .. g.w) for one token; with `flush` (the last block of a super-block,
// or of a half in the gemm) the integer sums go into the f32 sums.
fn q2k_step4(a: Q2kAcc, g: vec4<u32>, x: A32, flush: bool) -> Q2kAcc {
  let d8 = x.s.z;
  let inv = select(0.0, 1.0 / d8, d8 != 0.0);
  let q8s = round(vec2<f32>(x.s.x, x.s.y) * inv);
  let i0 = q2k_ints(g.x, x, inv, q8s);
  let i1 = q2k_ints(g.y, x, inv, q8s);
  let i2 = q2k_ints(g.z, x, inv, q8s);
  let i3 = q2k_ints(g.w, x, inv, q8s);
  let isum = a.isum + vec4<f32>(i0.x, i1.x, i2.x, i3.x);
  let imin = a.imin + vec4<f32>(i0.y, i1.y, i2.y, i3.y);
  if (!flush) { return Q2kAcc(a.acc, a.mins, isum, imin); }
  let m0 = q2k_dm(g.x);
  let m1 = q2k_dm(g.y);
  let m2 = q2k_dm(g.z);
  let m3 = q2k_dm(g.w);
  return Q2kAcc(
    fma_rn4(isum, vec4<f32>(m0.x, m1.x, m2.x, m3.x) * d8, a.acc),
    fma_rn4(imin, vec4<f32>(m0.y, m1.y, m2.y, m3.y) * d8, a.mins),
    vec4<f32>(0.0), vec4<f32>(0.0),
  );
}

fn q2k_rows(a: Q2kAcc) -> vec4<f32> {
  return a.acc - a.mins;
}
