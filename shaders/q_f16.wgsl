// F16 weights: 16 words (two halves each, element 2j in the low half) per block.
fn f16x4(a: u32, b: u32) -> vec4<f32> {
  return vec4<f32>(unpack2x16float(a), unpack2x16float(b));
}

fn load_w32(g: u32) -> W32 {
  let o = params.q4 + g * 4u;
  let v0 = w4[o];
  let v1 = w4[o + 1u];
  let v2 = w4[o + 2u];
  let v3 = w4[o + 3u];
  return W32(
    f16x4(v0.x, v0.y), f16x4(v0.z, v0.w), f16x4(v1.x, v1.y), f16x4(v1.z, v1.w),
    f16x4(v2.x, v2.y), f16x4(v2.z, v2.w), f16x4(v3.x, v3.y), f16x4(v3.z, v3.w),
    vec2<f32>(1.0), vec2<f32>(0.0), 0.0,
  );
}
