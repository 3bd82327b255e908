// IQ4_XS: super-blocks of 256, 8 sub-blocks of 32 as IQ4_NL blocks (q_iq4_nl.wgsl; the table and
// lookup in quant_common.wgsl) with scale d * (ls - 32), ls 6-bit. Quant region as IQ4_NL's. Meta region:
// per super-block 3 words: d (f16, low half), then ls of sub-blocks 0..7 as bytes.
fn load_w32(g: u32) -> W32 {
  let v = w4[params.q4 + g];
  let j = (g & 7u);
  let mo = params.m_off + 3u * (g >> 3u);
  let d = unpack2x16float(w1[mo]).x;
  let ls = (w1[mo + 1u + (j >> 2u)] >> (8u * (j & 3u))) & 63u;
  let dl = d * (f32(ls) - 32.0);
  return W32(
    iq4x4(v.x), iq4x4(v.y), iq4x4(v.z), iq4x4(v.w),
    iq4x4(v.x >> 4u), iq4x4(v.y >> 4u), iq4x4(v.z >> 4u), iq4x4(v.w >> 4u),
    vec2<f32>(dl), vec2<f32>(0.0), 0.0,
  );
}
