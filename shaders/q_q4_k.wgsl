// Q4_K: super-blocks of 256, x = d * sc_j * n - dmin * m_j for sub-block j (6-bit sc, m).
// Quant region: per sub-block 4 words of nibbles in Q4_0 order (repacked at upload from GGML's
// 64-element chunks). Meta region: per super-block one vec4 (d | dmin << 16, scales 0..3, 4..7, 8..11).
fn load_w32(g: u32) -> W32 {
  let v = w4[params.q_off / 4u + g];
  let mw = w4[params.m_off / 4u + g / 8u];
  let dm = unpack2x16float(mw.x);
  let sm = scale_min_k4(g % 8u, mw.y, mw.z, mw.w);
  let d = dm.x * sm.x;
  let m = -dm.y * sm.y;
  return W32(
    lo4_s24(v.x),
    lo4_s24(v.y),
    lo4_s24(v.z),
    lo4_s24(v.w),
    hi4_s24(v.x),
    hi4_s24(v.y),
    hi4_s24(v.z),
    hi4_s24(v.w),
    vec2<f32>(d * P24),
    vec2<f32>(m),
  );
}
