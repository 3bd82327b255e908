// Q8_0: 8 words of signed bytes per block in the quant region; the f16 scales two per word in
// the meta region.
fn load_w32(g: u32) -> W32 {
  let o = params.q_off / 4u + g * 2u;
  let d = half_of(w1[params.m_off + g / 2u], g % 2u) * P24;
  let a = w4[o];
  let b = w4[o + 1u];
  return W32(
    i8x4_s24(a.x),
    i8x4_s24(a.y),
    i8x4_s24(a.z),
    i8x4_s24(a.w),
    i8x4_s24(b.x),
    i8x4_s24(b.y),
    i8x4_s24(b.z),
    i8x4_s24(b.w),
    vec2<f32>(d),
    vec2<f32>(0.0),
  );
}
