// Shared by every weight type: one 32-element block of a weight row, dequantized to floats.
//
// A block contributes  d.x * (sum_{i<16} q_i a_i + c S.x) + d.y * (sum_{i>=16} q_i a_i + c S.y)
// + m.x S.x + m.y S.y, where a are the (converted) activations and S the per-block activation
// sums that quant_act.wgsl writes for the weight type's family (see there). q holds small
// integers times 2^(8b) or 2^(8b+4) (b: the field's byte in its word): fields are taken with a
// mask and no shift (shifts are slow on SwiftShader), and the activations come scaled by the
// inverse power of two (quant_act.wgsl POS), so the products are the plain ones, exactly.
//
// Exactness: a Q8 activation is d_a * q_a with an f16 d_a (11 significant bits), so the products,
// partial sums and c*S of a block are exact multiples of d_a's last bit while they stay below
// 2^24 of it (|Σ q_w q_a| below 2^13 in the worst case; IQ4_NL's and Q8_0's products of up to
// 127 x 127 can exceed that and round), and when d.x == d.y the block's value d * (sum + c S) is
// rounded about once, as ggml's (d_w * d_a) * sumi. (Where ggml's order is taken, the integer
// sums are recovered exactly instead: dot32.wgsl int32.)
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
  c: f32,        // integer offset of q (Q4_0's -8, Q8_0's -128), applied to S inside d
}

const BYTE_MASK: vec4<u32> = vec4<u32>(0xffu, 0xff00u, 0xff0000u, 0xff000000u);
const LO_MASK: vec4<u32> = vec4<u32>(0x0fu, 0x0f00u, 0x0f0000u, 0x0f000000u);
const HI_MASK: vec4<u32> = vec4<u32>(0xf0u, 0xf000u, 0xf00000u, 0x0fu);

// The 4 bytes of w, byte b times 2^(8b); byte 3 as a signed byte (two's complement), bytes 0..2
// unsigned. (5- and 6-bit fields, below 128, read the same either way.)
fn bytes_pos(w: u32) -> vec4<f32> {
  return vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(w) & BYTE_MASK));
}

// Low nibbles of the 4 bytes of w, byte b's times 2^(8b).
fn lo4_pos(w: u32) -> vec4<f32> {
  return vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(w) & LO_MASK));
}

// High nibbles of the 4 bytes of w: byte b's times 2^(8b+4) for b < 3; byte 3's shifted down
// (masked in place it would be a negative i32).
fn hi4_pos(w: u32) -> vec4<f32> {
  return vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(w, w, w, w >> 28u) & HI_MASK));
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
  let top = array<u32, 4>(16777216u, 65536u, 256u, 1u); // moves byte b to byte 3
  return f32(bitcast<i32>((w * top[b]) & 0xff000000u)) * 5.9604644775390625e-8;
}

// (scale, min) of K-quant sub-block j from the word holding sub-blocks j & ~1 and j | 1 as bytes
// (sc, m, sc', m'), as layout.ts repacks them.
fn scale_min_pair(word: u32, j: u32) -> vec2<f32> {
  let t = select(word, word >> 16u, (j & 1u) == 1u);
  return vec2<f32>(f32(t & 0xffu), f32((t >> 8u) & 0xffu));
}

// IQ4_NL's and IQ4_XS's 16 values (ggml-common.h kvalues_iq4nl) plus 128, as bytes of 4 words:
// value n is byte n % 4 of word n / 4. (A lookup in an array indexed at run time is slow on
// SwiftShader; two vector selects and a shift are not.)
const IQ4_W0 = vec4<u32>(0x3f2d1801u);
const IQ4_W1 = vec4<u32>(0x766a5d4fu);
const IQ4_W2 = vec4<u32>(0xa6998d81u);
const IQ4_W3 = vec4<u32>(0xf1d9c5b5u);

// The table values of the low nibbles of the 4 bytes of w. The bytes hold value + 128; the 128
// is taken off here, exactly, not through the block sum (c = -128): that sum is many times the
// product and its rounding moved IQ4 products further from ggml's exact integer sums.
fn iq4x4(w: u32) -> vec4<f32> {
  let n = (vec4<u32>(w) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(15u);
  let b2 = (n & vec4<u32>(4u)) != vec4<u32>(0u);
  let b3 = (n & vec4<u32>(8u)) != vec4<u32>(0u);
  let t = select(select(IQ4_W0, IQ4_W1, b2), select(IQ4_W2, IQ4_W3, b2), b3);
  return vec4<f32>((t >> ((n & vec4<u32>(3u)) * 8u)) & vec4<u32>(255u)) - vec4<f32>(128.0);
}
