// Q4_1: x = d * n + m. 4 words per block as Q4_0; meta: one word (d | m << 16) per block.
// Activations come with S = (s, sum of elements 16..31), s being Q8_1's sum of the whole block.
fn load_w32(g: u32) -> W32 {
  let v = w4[params.q_off / 4u + g];
  let dm = unpack2x16float(w1[params.m_off + g]);
  return W32(
    lo4_s24(v.x),
    lo4_s24(v.y),
    lo4_s24(v.z),
    lo4_s24(v.w),
    hi4_s24(v.x),
    hi4_s24(v.y),
    hi4_s24(v.z),
    hi4_s24(v.w),
    vec2<f32>(dm.x * P24),
    vec2<f32>(dm.y, 0.0),
  );
}
