// Q3_K: super-blocks of 256, 16 sub-blocks of 16: x = d * (sc - 32) * (u - 4), u = 2 low bits |
// the high bit << 2, 6-bit sc per 16 elements (d.x, d.y of a 32-block's halves).
// Quant region: the 2 low bits as Q2_K's (q_q2_k.wgsl: element 4k + b of a word at bits 8b + 2k,
// k = 3 shifted down to 8b; POS 3). High region: one word per block, bit e = element e; each
// group of 4 bits is spread to the bit above its elements' low bits. Meta region: per super-block
// 5 words: the 16 scales sc - 32 as int8, then d (f16, low half), as Q6_K's.
fn q3x4(w: u32, k: u32, h4: u32) -> vec4<f32> {
  let lo = select(w & (0x03030303u << (2u * k)), (w >> 6u) & 0x03030303u, k == 3u);
  let up = spread4(h4) << select(2u * k + 2u, 2u, k == 3u);
  return bytes_pos(lo | up);
}

fn load_w32(g: u32) -> W32 {
  let v = w4[params.q4 + (g >> 1u)];
  let odd = (g & 1u) == 1u;
  let a = select(v.x, v.z, odd);
  let b = select(v.y, v.w, odd);
  let h = w1[params.h_off + g];
  let j = (g & 7u);
  let mo = params.m_off + 5u * (g >> 3u);
  let d = unpack2x16float(w1[mo + 4u]).x;
  let scw = w1[mo + (j >> 1u)]; // scales 2j and 2j + 1
  return W32(
    q3x4(a, 0u, h & 15u), q3x4(a, 1u, (h >> 4u) & 15u), q3x4(a, 2u, (h >> 8u) & 15u), q3x4(a, 3u, (h >> 12u) & 15u),
    q3x4(b, 0u, (h >> 16u) & 15u), q3x4(b, 1u, (h >> 20u) & 15u), q3x4(b, 2u, (h >> 24u) & 15u), q3x4(b, 3u, h >> 28u),
    vec2<f32>(d * i8_at(scw, 2u * (j & 1u)), d * i8_at(scw, 2u * (j & 1u) + 1u)), vec2<f32>(0.0), -4.0,
  );
}
