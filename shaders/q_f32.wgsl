// F32 weights: 32 words per block in the quant region.
fn load_w32(g: u32) -> W32 {
  let o = params.q4 + g * 8u;
  return W32(
    bitcast<vec4<f32>>(w4[o]), bitcast<vec4<f32>>(w4[o + 1u]), bitcast<vec4<f32>>(w4[o + 2u]), bitcast<vec4<f32>>(w4[o + 3u]),
    bitcast<vec4<f32>>(w4[o + 4u]), bitcast<vec4<f32>>(w4[o + 5u]), bitcast<vec4<f32>>(w4[o + 6u]), bitcast<vec4<f32>>(w4[o + 7u]),
    vec2<f32>(1.0), vec2<f32>(0.0), 0.0,
  );
}
