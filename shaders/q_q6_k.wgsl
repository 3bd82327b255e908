// Q6_K: x = d * sc * (u - 32), u = 4 low bits | 2 high bits << 4, one int8 scale per 16 elements.
// Quant region: per sub-block of 32, 4 words of low nibbles in Q4_0 order. High region: per
// sub-block 2 words, one per half; in a half's word, byte b holds the high bits of element
// 4k + b of the half at bits 2k, 2k + 1 (k = 0..3), so each group of 4 comes out with a multiply
// and a mask. Meta region: per super-block 5 words: the 16 scales, then d (f16, low half).
fn q6x4(nib: u32, hi: u32) -> vec4<f32> {
  return bytes_pos((nib & 0x0f0f0f0fu) | (hi & 0x30303030u));
}

fn load_w32(g: u32) -> W32 {
  let v = w4[params.q4 + g];
  let ha = w1[params.h_off + 2u * g];
  let hb = w1[params.h_off + 2u * g + 1u];
  let s = (g >> 3u);
  let j = (g & 7u);
  let mo = params.m_off + 5u * s;
  let d = unpack2x16float(w1[mo + 4u]).x;
  let scw = w1[mo + (j >> 1u)]; // scales 2j and 2j + 1
  let d0 = d * i8_at(scw, 2u * (j & 1u));
  let d1 = d * i8_at(scw, 2u * (j & 1u) + 1u);
  return W32(
    q6x4(v.x, ha * 16u),
    q6x4(v.y, ha * 4u),
    q6x4(v.z, ha),
    q6x4(v.w, ha >> 2u),
    q6x4(v.x >> 4u, hb * 16u),
    q6x4(v.y >> 4u, hb * 4u),
    q6x4(v.z >> 4u, hb),
    q6x4(v.w >> 4u, hb >> 2u),
    vec2<f32>(d0, d1),
    vec2<f32>(0.0),
    -32.0,
  );
}
