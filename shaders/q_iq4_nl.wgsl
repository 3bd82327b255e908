// IQ4_NL: x = d * KV[n], KV the non-linear table of 16 values (quant_common.wgsl IQ4_KV, iq4x4).
// Layout as Q4_0's: 4 words per block (byte j: element j low nibble, element j + 16 high), f16
// scales two per word in the meta region. Each nibble is shifted down and looked up (POS 0, c = 0).
fn load_w32(g: u32) -> W32 {
  let v = w4[params.q4 + g];
  let d = half_of(w1[params.m_off + (g >> 1u)], (g & 1u));
  return W32(
    iq4x4(v.x), iq4x4(v.y), iq4x4(v.z), iq4x4(v.w),
    iq4x4(v.x >> 4u), iq4x4(v.y >> 4u), iq4x4(v.z >> 4u), iq4x4(v.w >> 4u),
    vec2<f32>(d), vec2<f32>(0.0), 0.0,
  );
}
