// Q4_0: x = d * (n - 8). 4 words per block (byte j: element j low nibble, element j + 16 high),
// f16 scales two per word in the meta region.
fn load_w32(g: u32) -> W32 {
  let v = w4[params.q4 + g];
  let d = half_of(w1[params.m_off + (g >> 1u)], (g & 1u));
  return W32(
    lo4_pos(v.x), lo4_pos(v.y), lo4_pos(v.z), lo4_pos(v.w),
    hi4_pos(v.x), hi4_pos(v.y), hi4_pos(v.z), hi4_pos(v.w),
    vec2<f32>(d), vec2<f32>(0.0), -8.0,
  );
}
