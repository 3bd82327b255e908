// Shared by every weight type: one 32-element block of a weight row, dequantized to floats.
//
// A block contributes  d.x * sum_{i<16} q_i a_i + d.y * sum_{i>=16} q_i a_i + m.x * S.x + m.y * S.y
// where a are the (converted) activations and S the per-block activation sums that quant_act.wgsl
// writes for the weight type's family (see there). q holds small integers, possibly times a power
// of two that d undoes: the byte tricks below move a field to the top of a word with a multiply
// (shifts are slow on SwiftShader) and convert it as a signed integer.
//
// Exactness: a Q8 activation is d_a * q_a with an f16 d_a, so the products and partial sums of a
// block are exact multiples of d_a (integers below 2^24 of them), and when d.x == d.y the block's
// value d * (sum) is rounded once, as ggml's (d_w * d_a) * sumi. Types give both halves the same
// d and power of two whenever their format allows it, and offsets such as Q4_0's -8 go into q
// (not into m), so that no large correction term cancels against the sum.
// Built with a constructor expression, never as a `var`: SwiftShader keeps a composite value in
// registers, but a function variable (and any array indexed in a loop) in per-lane memory.
struct W32 {
  q0: vec4<f32>, // elements 4i..4i+3 in qi
  q1: vec4<f32>,
  q2: vec4<f32>,
  q3: vec4<f32>,
  q4: vec4<f32>,
  q5: vec4<f32>,
  q6: vec4<f32>,
  q7: vec4<f32>,
  d: vec2<f32>,  // scale of elements 0..15 and 16..31
  m: vec2<f32>,  // multiplier of S.x and S.y
}

const P24: f32 = 5.9604644775390625e-8;  // 2^-24
const P28: f32 = 3.7252902984809875e-9;  // 2^-28
// Multipliers that move byte b of a word to byte 3 (b = 0, 1, 2, 3).
const TO_TOP: vec4<u32> = vec4<u32>(16777216u, 65536u, 256u, 1u);

// The 4 bytes of w as signed 8-bit integers times 2^24, byte 0 first (also 5- and 6-bit values,
// which are below 128 and so read the same signed or not).
fn i8x4_s24(w: u32) -> vec4<f32> {
  return vec4<f32>(bitcast<vec4<i32>>((vec4<u32>(w) * TO_TOP) & vec4<u32>(0xff000000u)));
}

// Low nibbles of the 4 bytes of w times 2^24.
fn lo4_s24(w: u32) -> vec4<f32> {
  return vec4<f32>(bitcast<vec4<i32>>((vec4<u32>(w) * TO_TOP) & vec4<u32>(0x0f000000u)));
}

// High nibbles of the 4 bytes of w times 2^24 (one shift per word: unsigned nibbles must not be
// offset by 8 as below, or the block's sum would cancel against a large correction term).
fn hi4_s24(w: u32) -> vec4<f32> {
  return lo4_s24(w >> 4u);
}

// High nibbles of the 4 bytes of w, minus 8, times 2^28 (the xor turns n into n - 8 as a signed
// top nibble, so no shift is needed).
fn hi4m8_s28(w: u32) -> vec4<f32> {
  return vec4<f32>(bitcast<vec4<i32>>(((vec4<u32>(w) * TO_TOP) & vec4<u32>(0xf0000000u)) ^ vec4<u32>(0x80000000u)));
}

// Low nibbles of the 4 bytes of w, minus 8, times 2^28 (the nibble moved to the top with a
// multiply 16 times larger, then the same xor).
fn lo4m8_s28(w: u32) -> vec4<f32> {
  return vec4<f32>(bitcast<vec4<i32>>(((vec4<u32>(w) * (TO_TOP * 16u)) & vec4<u32>(0xf0000000u)) ^ vec4<u32>(0x80000000u)));
}

// Bits 0..3 of x spread to bit 0 of bytes 0..3 (x < 16): the 4 shifted copies do not overlap.
fn spread4(x: u32) -> u32 {
  return (x * 0x00204081u) & 0x01010101u;
}

// Half h (0 or 1) of the word at w1[i] as f32 (an f16 pair).
fn half_of(word: u32, h: u32) -> f32 {
  let v = unpack2x16float(word);
  return select(v.x, v.y, h == 1u);
}

// Signed byte b (0..3) of w as f32.
fn i8_at(w: u32, b: u32) -> f32 {
  return f32(bitcast<i32>((w * TO_TOP[b]) & 0xff000000u)) * P24;
}

// Byte b (0..3) of w.
fn u8_at(w: u32, b: u32) -> u32 {
  return (w >> (8u * b)) & 0xffu;
}

// K-quant 6-bit scale and min of sub-block j (0..7) from the 12 scale bytes in s0, s1, s2.
fn scale_min_k4(j: u32, s0: u32, s1: u32, s2: u32) -> vec2<f32> {
  if (j < 4u) {
    return vec2<f32>(f32(u8_at(s0, j) & 63u), f32(u8_at(s1, j) & 63u));
  }
  let b = j - 4u;
  let t = u8_at(s2, b);
  return vec2<f32>(f32((t & 15u) | ((u8_at(s0, b) >> 6u) << 4u)), f32((t >> 4u) | ((u8_at(s1, b) >> 6u) << 4u)));
}
