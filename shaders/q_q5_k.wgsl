// Q5_K: as Q4_K with a fifth bit: x = d * sc_j * u - dmin * m_j, u = n | bit << 4.
// Meta region: per super-block 13 words: d | dmin << 16, the (scale, min) bytes of sub-blocks
// (0, 1) .. (6, 7) as for Q4_K, then the fifth bits of sub-blocks 0..7, one word each (bit e =
// element e of the sub-block).
fn q5x4(nib: u32, bits4: u32) -> vec4<f32> {
  return bytes_pos((nib & 0x0f0f0f0fu) | (spread4(bits4) * 16u));
}

fn load_w32(g: u32) -> W32 {
  let v = w4[params.q4 + g];
  let s = (g >> 3u);
  let mo = params.m_off + 13u * s;
  let h = w1[mo + 5u + (g & 7u)];
  let dm = unpack2x16float(w1[mo]);
  let sm = scale_min_pair(w1[mo + 1u + ((g & 7u) >> 1u)], g);
  return W32(
    q5x4(v.x, h & 15u),
    q5x4(v.y, (h >> 4u) & 15u),
    q5x4(v.z, (h >> 8u) & 15u),
    q5x4(v.w, (h >> 12u) & 15u),
    q5x4(v.x >> 4u, (h >> 16u) & 15u),
    q5x4(v.y >> 4u, (h >> 20u) & 15u),
    q5x4(v.z >> 4u, (h >> 24u) & 15u),
    q5x4(v.w >> 4u, h >> 28u),
    vec2<f32>(dm.x * sm.x),
    vec2<f32>(-dm.y * sm.y),
    0.0,
  );
}
