// Q4_K: super-blocks of 256, x = d * sc_j * n - dmin * m_j for sub-block j (6-bit sc, m).
// Quant region: per sub-block 4 words of nibbles in Q4_0 order (repacked at upload from GGML's
// 64-element chunks). Meta region: per super-block 5 words: d | dmin << 16, then the (scale, min)
// bytes of sub-blocks (0, 1), (2, 3), (4, 5), (6, 7).
fn load_w32(g: u32) -> W32 {
  let v = w4[params.q4 + g];
  let mo = params.m_off + 5u * (g >> 3u);
  let dm = unpack2x16float(w1[mo]);
  let sm = scale_min_pair(w1[mo + 1u + ((g & 7u) >> 1u)], g);
  return W32(
    lo4_pos(v.x), lo4_pos(v.y), lo4_pos(v.z), lo4_pos(v.w),
    hi4_pos(v.x), hi4_pos(v.y), hi4_pos(v.z), hi4_pos(v.w),
    vec2<f32>(dm.x * sm.x), vec2<f32>(-dm.y * sm.y), 0.0,
  );
}
