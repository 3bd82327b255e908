// Q5_1: x = d * u + m. Nibbles as Q4_0; meta: two words per block, (d | m << 16) and the fifth
// bits. Activations come with S = (s, sum of elements 16..31) as for Q4_1.
fn q5x4(nib: u32, bits4: u32) -> vec4<f32> {
  return bytes_pos((nib & 0x0f0f0f0fu) | (spread4(bits4) * 16u));
}

fn load_w32(g: u32) -> W32 {
  let v = w4[params.q4 + g];
  let dm = unpack2x16float(w1[params.m_off + 2u * g]);
  let h = w1[params.m_off + 2u * g + 1u];
  return W32(
    q5x4(v.x, h & 15u), q5x4(v.y, (h >> 4u) & 15u), q5x4(v.z, (h >> 8u) & 15u), q5x4(v.w, (h >> 12u) & 15u),
    q5x4(v.x >> 4u, (h >> 16u) & 15u), q5x4(v.y >> 4u, (h >> 20u) & 15u), q5x4(v.z >> 4u, (h >> 24u) & 15u), q5x4(v.w >> 4u, h >> 28u),
    vec2<f32>(dm.x), vec2<f32>(dm.y, 0.0), 0.0,
  );
}
