// Q2_K: super-blocks of 256, 16 sub-blocks of 16: x = d * sc * q - dmin * m, q in 0..3, 4-bit sc
// and m per 16 elements (a 32-block's two halves have one each: d.x, d.y, m.x, m.y).
// Quant region: per block 2 words (elements 0..15, 16..31), element i of a word (4k + b) at bits
// 8b + 2k, so 4 elements come out with one mask: scaled 2^(8b + 2k) (POS 3, pos_scale.wgsl);
// k = 3 is shifted down to bits 8b (scaled 2^(8b)) to keep byte 3 positive. Blocks 2p, 2p + 1
// share one vec4. Meta region: per super-block 5 words: d | dmin << 16, then GGML's 16 scale bytes
// (sc | m << 4), sub-block 2j and 2j + 1 of block j as the low and high byte of a half word.
fn q2x4(w: u32, k: u32) -> vec4<f32> {
  return bytes_pos(select(w & (0x03030303u << (2u * k)), (w >> 6u) & 0x03030303u, k == 3u));
}

// Sub-blocks 2j and 2j + 1 of block g's scales and mins: (sc, sc', m, m').
fn q2k_scales(g: u32) -> vec4<f32> {
  let sw = w1[params.m_off + 5u * (g >> 3u) + 1u + ((g & 7u) >> 1u)];
  let t = select(sw, sw >> 16u, (g & 1u) == 1u);
  return vec4<f32>(f32(t & 15u), f32((t >> 8u) & 15u), f32((t >> 4u) & 15u), f32((t >> 12u) & 15u));
}

// The super-block's (d, dmin).
fn q2k_dm(g: u32) -> vec2<f32> {
  return unpack2x16float(w1[params.m_off + 5u * (g >> 3u)]);
}

fn load_w32(g: u32) -> W32 {
  let v = w4[params.q4 + (g >> 1u)];
  let odd = (g & 1u) == 1u;
  let a = select(v.x, v.z, odd);
  let b = select(v.y, v.w, odd);
  let mo = params.m_off + 5u * (g >> 3u);
  let dm = unpack2x16float(w1[mo]);
  let sw = w1[mo + 1u + ((g & 7u) >> 1u)];
  let t = select(sw, sw >> 16u, odd);
  let sc = vec2<f32>(f32(t & 15u), f32((t >> 8u) & 15u));
  let mn = vec2<f32>(f32((t >> 4u) & 15u), f32((t >> 12u) & 15u));
  return W32(
    q2x4(a, 0u), q2x4(a, 1u), q2x4(a, 2u), q2x4(a, 3u),
    q2x4(b, 0u), q2x4(b, 1u), q2x4(b, 2u), q2x4(b, 3u),
    dm.x * sc, -dm.y * mn, 0.0,
  );
}
