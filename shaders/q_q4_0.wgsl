// Q4_0: x = d * (n - 8). 4 words per block (byte j: element j low nibble, element j + 16 high),
// f16 scales two per word in the meta region.
fn load_w32(g: u32) -> W32 {
  let v = w4[params.q_off / 4u + g];
  let d = half_of(w1[params.m_off + g / 2u], g % 2u);
  return W32(
    lo4m8_s28(v.x),
    lo4m8_s28(v.y),
    lo4m8_s28(v.z),
    lo4m8_s28(v.w),
    hi4m8_s28(v.x),
    hi4m8_s28(v.y),
    hi4m8_s28(v.z),
    hi4m8_s28(v.w),
    vec2<f32>(d * P28),
    vec2<f32>(0.0),
  );
}
