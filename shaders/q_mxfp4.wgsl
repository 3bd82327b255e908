// MXFP4: x = 2^(e - 128) * KV[n], KV the 16 doubled E2M1 values (0, 1, 2, 3, 4, 6, 8, 12 and their
// negatives; ggml-common.h kvalues_mxfp4), e the block's E8M0 byte. Nibbles as Q4_0's (4 words per
// block), the E8M0 bytes four per word in the meta region. Each nibble is looked up as the value +
// 128, the 128 taken off exactly per value (c = 0, POS 0; as iq4x4: taken off through the block
// sum, c = -128, its rounding turned Q8 roundings downstream the other way); the scale is a power
// of two, exact in f32.
const MX_W0 = vec4<u32>(0x83828180u); // 0, 1, 2, 3 (+ 128)
const MX_W1 = vec4<u32>(0x8c888684u); // 4, 6, 8, 12
const MX_W2 = vec4<u32>(0x7d7e7f80u); // 0, -1, -2, -3
const MX_W3 = vec4<u32>(0x74787a7cu); // -4, -6, -8, -12

// The table values of the low nibbles of the 4 bytes of w.
fn mx4(w: u32) -> vec4<f32> {
  let n = (vec4<u32>(w) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(15u);
  let b2 = (n & vec4<u32>(4u)) != vec4<u32>(0u);
  let b3 = (n & vec4<u32>(8u)) != vec4<u32>(0u);
  let t = select(select(MX_W0, MX_W1, b2), select(MX_W2, MX_W3, b2), b3);
  return vec4<f32>((t >> ((n & vec4<u32>(3u)) * 8u)) & vec4<u32>(255u)) - vec4<f32>(128.0);
}

// 2^(e - 128) (ggml_e8m0_to_fp32_half): the exponent field e - 1, or a subnormal for e < 2.
fn e8m0_half(e: u32) -> f32 {
  return bitcast<f32>(select((e - 1u) << 23u, 0x00200000u << e, e < 2u));
}

fn load_w32(g: u32) -> W32 {
  let v = w4[params.q4 + g];
  let d = e8m0_half((w1[params.m_off + (g >> 2u)] >> ((g & 3u) * 8u)) & 0xffu);
  return W32(
    mx4(v.x), mx4(v.y), mx4(v.z), mx4(v.w),
    mx4(v.x >> 4u), mx4(v.y >> 4u), mx4(v.z >> 4u), mx4(v.w >> 4u),
    vec2<f32>(d), vec2<f32>(0.0), 0.0,
  );
}
