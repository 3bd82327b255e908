// Q4_1: x = d * n + m. 4 words per block as Q4_0; meta: one word (d | m << 16) per block.
// Activations come with S = (s, sum of elements 16..31), s being Q8_1's sum of the whole block.
fn load_w32(g: u32) -> W32 {
  let v = w4[params.q4 + g];
  let dm = unpack2x16float(w1[params.m_off + g]);
  return W32(
    lo4_pos(v.x), lo4_pos(v.y), lo4_pos(v.z), lo4_pos(v.w),
    hi4_pos(v.x), hi4_pos(v.y), hi4_pos(v.z), hi4_pos(v.w),
    vec2<f32>(dm.x), vec2<f32>(dm.y, 0.0), 0.0,
  );
}
