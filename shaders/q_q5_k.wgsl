// Q5_K: as Q4_K with a fifth bit: x = d * sc_j * u - dmin * m_j, u = n | bit << 4.
// Meta region: per super-block 3 vec4: (d | dmin << 16, scales 0..3, 4..7, 8..11), then the fifth
// bits of sub-blocks 0..7, one word each (bit e = element e of the sub-block).
fn q5x4(nib: u32, bits4: u32) -> vec4<f32> {
  return i8x4_s24((nib & 0x0f0f0f0fu) | (spread4(bits4) * 16u));
}

fn load_w32(g: u32) -> W32 {
  let v = w4[params.q_off / 4u + g];
  let s = g / 8u;
  let mw = w4[params.m_off / 4u + 3u * s];
  let h = w1[params.m_off + 12u * s + 4u + g % 8u];
  let dm = unpack2x16float(mw.x);
  let sm = scale_min_k4(g % 8u, mw.y, mw.z, mw.w);
  return W32(
    q5x4(v.x, h & 15u),
    q5x4(v.y, (h >> 4u) & 15u),
    q5x4(v.z, (h >> 8u) & 15u),
    q5x4(v.w, (h >> 12u) & 15u),
    q5x4(v.x >> 4u, (h >> 16u) & 15u),
    q5x4(v.y >> 4u, (h >> 20u) & 15u),
    q5x4(v.z >> 4u, (h >> 24u) & 15u),
    q5x4(v.w >> 4u, h >> 28u),
    vec2<f32>(dm.x * sm.x * P24),
    vec2<f32>(-dm.y * sm.y),
  );
}
