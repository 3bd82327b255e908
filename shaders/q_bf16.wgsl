// BF16 weights: 16 words per block; a bf16 is the top half of an f32, so the low half moves up
// with a multiply and the high half is masked in place.
fn bf16x4(a: u32, b: u32) -> vec4<f32> {
  return bitcast<vec4<f32>>(vec4<u32>(a * 65536u, a & 0xffff0000u, b * 65536u, b & 0xffff0000u));
}

fn load_w32(g: u32) -> W32 {
  let o = params.q4 + g * 4u;
  let v0 = w4[o];
  let v1 = w4[o + 1u];
  let v2 = w4[o + 2u];
  let v3 = w4[o + 3u];
  return W32(
    bf16x4(v0.x, v0.y), bf16x4(v0.z, v0.w), bf16x4(v1.x, v1.y), bf16x4(v1.z, v1.w),
    bf16x4(v2.x, v2.y), bf16x4(v2.z, v2.w), bf16x4(v3.x, v3.y), bf16x4(v3.z, v3.w),
    vec2<f32>(1.0), vec2<f32>(0.0), 0.0,
  );
}
