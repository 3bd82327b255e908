// Q5_0: x = d * (u - 16), u = nibble | fifth bit << 4. 4 words of nibbles per block as Q4_0, the
// 32 fifth bits in one word of the high region (bit e = element e), f16 scales in the meta region.
// Each group of 4 values is assembled one per byte, then taken with byte masks.
fn q5x4(nib: u32, bits4: u32) -> vec4<f32> {
  return bytes_pos((nib & 0x0f0f0f0fu) | (spread4(bits4) * 16u));
}

fn load_w32(g: u32) -> W32 {
  let v = w4[params.q4 + g];
  let h = w1[params.h_off + g];
  let d = half_of(w1[params.m_off + (g >> 1u)], (g & 1u));
  return W32(
    q5x4(v.x, h & 15u), q5x4(v.y, (h >> 4u) & 15u), q5x4(v.z, (h >> 8u) & 15u), q5x4(v.w, (h >> 12u) & 15u),
    q5x4(v.x >> 4u, (h >> 16u) & 15u), q5x4(v.y >> 4u, (h >> 20u) & 15u), q5x4(v.z >> 4u, (h >> 24u) & 15u), q5x4(v.w >> 4u, h >> 28u),
    vec2<f32>(d), vec2<f32>(0.0), -16.0,
  );
}
