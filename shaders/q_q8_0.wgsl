// Q8_0: x = d * q. Quant region: 8 words of bytes per block, bytes 0..2 of each word stored as
// q + 128 (layout.ts flips their top bit) and byte 3 as q, so one mask per byte gives every value
// without a sign extension: sum (q+128) a over bytes 0..2 = sum q a + 128 S (S: those elements'
// sum, quant_act.wgsl B3), undone by c = -128. Meta region: the f16 scales, two per word.
fn load_w32(g: u32) -> W32 {
  let o = params.q4 + g * 2u;
  let d = half_of(w1[params.m_off + (g >> 1u)], (g & 1u));
  let a = w4[o];
  let b = w4[o + 1u];
  return W32(
    bytes_pos(a.x), bytes_pos(a.y), bytes_pos(a.z), bytes_pos(a.w),
    bytes_pos(b.x), bytes_pos(b.y), bytes_pos(b.z), bytes_pos(b.w),
    vec2<f32>(d), vec2<f32>(0.0), -128.0,
  );
}
