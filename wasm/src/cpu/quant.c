// Activation conversion and dot products, as llama.cpp's CPU build computes them (ggml-cpu
// quants.c and its x86 flavour, the build node-llama-cpp loads here):
//  - a matrix's input row is converted once to the weight type's vec_dot_type: Q8_0 for
//    Q4_0/Q5_0/Q8_0 weights, Q8_1 (Q8_0 plus the f16 sum d*Σq) for Q4_1/Q5_1, Q8_K for the
//    K-quants, f16-rounded for F16, bf16-rounded for BF16, unchanged for F32;
//  - each block's dot product is exact in integers, scaled by the weight's scale times the
//    activation's (an exact f32 product for the f16 scales of Q4_0..Q8_0).
// ggml then sums the blocks in f32 lanes in an order of its own (FMA in the x86 build); here they
// are summed in f64, which is within an f32 rounding of any order: the summation noise that could
// push an activation across a Q8 rounding boundary of the next matrix (and, over layers, move
// logits by a whole quantization step) is as small as it can be. Every rounding that moves a
// result by more (Q8 quants, f16 scales) is ggml's own.
// Except for Q2_K, IQ4_NL and MXFP4, whose x86 kernels are not within rounding noise of the exact
// sum (Q2_K subtracts two f32 sums each many times their difference; the 32-blocks accumulate one
// f32 rounding per block): their products are formed in ggml's own order, f32 and FMA, on the path
// llama.cpp takes (PATH_*, as src/reference/ggml-dot.ts does), so they are llama.cpp's bit for bit.
#include "cpu.h"

float cpu_f16_table[65536];
static uint64_t bits_to_16[256]; // byte b -> 8 bytes, byte i = 16 if bit i of b is set (Q5 high bits)

// Exact f16 -> f32 (normals, subnormals, inf, nan).
static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 31, m = h & 1023, x;
  if (e == 31) x = sign | 0x7f800000u | (m << 13);
  else if (e) x = sign | ((e + 112) << 23) | (m << 13);
  else if (!m) x = sign;
  else {
    e = 113;
    while (!(m & 1024)) { m <<= 1; e--; }
    x = sign | (e << 23) | ((m & 1023) << 13);
  }
  float f;
  memcpy(&f, &x, 4);
  return f;
}

__attribute__((constructor)) static void init_tables(void) {
  for (uint32_t h = 0; h < 65536; h++) cpu_f16_table[h] = half_to_float((uint16_t)h);
  for (int b = 0; b < 256; b++) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) if (b >> i & 1) v |= (uint64_t)16 << (8 * i);
    bits_to_16[b] = v;
  }
}

// Round half to even (ggml's nearest_int; _mm256_round_ps with _MM_ROUND_NEAREST).
static inline int nearest_int(float v) { return (int)__builtin_rintf(v); }

// quantize_row_q8_0 / q8_1, x86: amax over 32, d = amax/127 stored as f16, q = rint(x * 127/amax)
// (127/amax, not 1/d); Q8_1 also s = f16(d * Σq) with the f32 d.
static void convert_q8(const float *x, int n, act_q8 *y, int with_sum) {
  for (int b = 0; b < n / QK; b++, x += QK) {
    v128_t m = wasm_f32x4_splat(0);
    for (int j = 0; j < QK; j += 4) m = wasm_f32x4_max(m, wasm_f32x4_abs(wasm_v128_load(x + j)));
    m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
    m = wasm_f32x4_max(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
    const float amax = wasm_f32x4_extract_lane(m, 0);
    const float d = amax / 127.f;
    const float id = amax != 0.f ? 127.f / amax : 0.f;
    int sum = 0;
    for (int j = 0; j < QK; j++) {
      int q = nearest_int(x[j] * id);
      y[b].qs[j] = (int16_t)q;
      sum += q;
    }
    y[b].d = round_f16(d);
    y[b].s = with_sum ? round_f16(d * (float)sum) : 0.f;
  }
}

// quantize_row_q8_K_ref: max = the value of largest |x| (the first such), iscale = -127/max,
// q = min(127, nearest_int(iscale * x)), d = 1/iscale (f32), bsums over each 16.
static void convert_q8k(const float *x, int n, act_q8k *y) {
  for (int b = 0; b < n / QK_K; b++, x += QK_K) {
    float amax = 0, max = 0;
    for (int j = 0; j < QK_K; j++) {
      float ax = __builtin_fabsf(x[j]);
      if (ax > amax) { amax = ax; max = x[j]; }
    }
    if (amax == 0.f) {
      memset(&y[b], 0, sizeof(act_q8k));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < QK_K; j++) {
      int v = nearest_int(iscale * x[j]);
      y[b].qs[j] = (int16_t)(v < 127 ? v : 127);
    }
    for (int j = 0; j < QK_K / 16; j++) {
      int s = 0;
      for (int i = 0; i < 16; i++) s += y[b].qs[16 * j + i];
      y[b].bsums[j] = (int16_t)s;
    }
    y[b].d = 1 / iscale;
  }
}

// Bytes of a converted row of n values for a `type` weight; 0 if n does not fit its blocks.
size_t cpu_act_bytes(int type, int n) {
  switch (type) {
    case T_F32: case T_F16: case T_BF16: return (size_t)n * 4;
    case T_Q4_0: case T_Q4_1: case T_Q5_0: case T_Q5_1: case T_Q8_0:
      return n % QK ? 0 : (size_t)(n / QK) * sizeof(act_q8);
    case T_IQ4_NL: case T_MXFP4:
      return n % QK ? 0 : (size_t)(n / QK) * sizeof(act_q8);
    case T_Q2_K: case T_Q3_K: case T_Q4_K: case T_Q5_K: case T_Q6_K: case T_IQ4_XS:
      return n % QK_K ? 0 : (size_t)(n / QK_K) * sizeof(act_q8k);
    default: return 0;
  }
}

int cpu_convert(int type, const float *x, int n, void *out) {
  if (!cpu_act_bytes(type, n)) return CPU_ERR_ARG;
  float *o = out;
  switch (type) {
    case T_F32: memcpy(o, x, (size_t)n * 4); break;
    case T_F16: for (int i = 0; i < n; i++) o[i] = round_f16(x[i]); break;
    case T_BF16: for (int i = 0; i < n; i++) o[i] = bf16_to_f32(f32_to_bf16(x[i])); break;
    case T_Q4_1: case T_Q5_1: convert_q8(x, n, out, 1); break;
    case T_Q4_0: case T_Q5_0: case T_Q8_0: case T_IQ4_NL: case T_MXFP4: convert_q8(x, n, out, 0); break;
    default: convert_q8k(x, n, out); break;
  }
  return CPU_OK;
}

static inline double hsum_f64(v128_t v) { return wasm_f64x2_extract_lane(v, 0) + wasm_f64x2_extract_lane(v, 1); }

static inline uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

// acc (f64x2) += d * isum (i32x4 lanes): exact products, f64 sums.
static inline v128_t fmadd_block(v128_t acc, float d, v128_t isum) {
  const v128_t dd = wasm_f64x2_splat(d);
  acc = wasm_f64x2_add(acc, wasm_f64x2_mul(dd, wasm_f64x2_convert_low_i32x4(isum)));
  return wasm_f64x2_add(acc, wasm_f64x2_mul(dd, wasm_f64x2_convert_low_i32x4(wasm_i32x4_shuffle(isum, isum, 2, 3, 0, 1))));
}

static float dot_f32(const float *w, const float *x, int n) {
  v128_t acc = wasm_f64x2_splat(0);
  int i = 0;
  for (; i + 2 <= n; i += 2) {
    v128_t a = wasm_v128_load64_zero(w + i), b = wasm_v128_load64_zero(x + i);
    acc = wasm_f64x2_add(acc, wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4(a), wasm_f64x2_promote_low_f32x4(b)));
  }
  double s = hsum_f64(acc);
  for (; i < n; i++) s += (double)w[i] * x[i];
  return (float)s;
}

// 4 f16 -> 4 f32 (finite values, subnormals included): shift into f32 position, scale by 2^112.
static inline v128_t f16x4_to_f32(v128_t h32) {
  v128_t sign = wasm_i32x4_shl(wasm_v128_and(h32, wasm_i32x4_splat(0x8000)), 16);
  v128_t mag = wasm_f32x4_mul(wasm_i32x4_shl(wasm_v128_and(h32, wasm_i32x4_splat(0x7fff)), 13), wasm_f32x4_splat(0x1p112f));
  return wasm_v128_or(mag, sign);
}

// F16: the products of f16 values are exact in f32; summed in f64 lanes here (ggml sums them in
// f32 lanes, in an order of its own: summing exactly keeps this backend within rounding noise of
// both that and the reference, whose sums are exact).
static float dot_f16(const uint8_t *w, const float *x, int n) {
  v128_t acc0 = wasm_f64x2_splat(0), acc1 = wasm_f64x2_splat(0);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    v128_t h = wasm_v128_load(w + 2 * i);
    v128_t p0 = wasm_f32x4_mul(f16x4_to_f32(wasm_u32x4_extend_low_u16x8(h)), wasm_v128_load(x + i));
    v128_t p1 = wasm_f32x4_mul(f16x4_to_f32(wasm_u32x4_extend_high_u16x8(h)), wasm_v128_load(x + i + 4));
    acc0 = wasm_f64x2_add(acc0, wasm_f64x2_add(wasm_f64x2_promote_low_f32x4(p0), wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(p0, p0, 2, 3, 0, 1))));
    acc1 = wasm_f64x2_add(acc1, wasm_f64x2_add(wasm_f64x2_promote_low_f32x4(p1), wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(p1, p1, 2, 3, 0, 1))));
  }
  acc0 = wasm_f64x2_add(acc0, acc1);
  double s = wasm_f64x2_extract_lane(acc0, 0) + wasm_f64x2_extract_lane(acc0, 1);
  for (; i < n; i++) s += (double)(f16_to_f32(rd16(w + 2 * i)) * x[i]);
  return (float)s;
}

static float dot_bf16(const uint8_t *w, const float *x, int n) {
  v128_t acc = wasm_f64x2_splat(0);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t p = wasm_f32x4_mul(wasm_i32x4_shl(wasm_u32x4_extend_low_u16x8(wasm_v128_load64_zero(w + 2 * i)), 16), wasm_v128_load(x + i));
    acc = wasm_f64x2_add(acc, wasm_f64x2_add(wasm_f64x2_promote_low_f32x4(p), wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(p, p, 2, 3, 0, 1))));
  }
  double s = hsum_f64(acc);
  for (; i < n; i++) s += (double)(bf16_to_f32(rd16(w + 2 * i)) * x[i]);
  return (float)s;
}

// Q4_0 (18 bytes: f16 d, 16 bytes of nibbles: low = elements 0..15, high = 16..31), value d*(q-8).
static float dot_q4_0(const uint8_t *w, const act_q8 *a, int n) {
  v128_t acc = wasm_f64x2_splat(0);
  const v128_t m4 = wasm_i8x16_splat(0x0f), eight = wasm_i8x16_splat(8);
  for (int b = 0; b < n / QK; b++, w += 18) {
    v128_t q = wasm_v128_load(w + 2);
    v128_t lo = wasm_i8x16_sub(wasm_v128_and(q, m4), eight), hi = wasm_i8x16_sub(wasm_u8x16_shr(q, 4), eight);
    v128_t s = wasm_i32x4_add(dot_w8(lo, a[b].qs), dot_w8(hi, a[b].qs + 16));
    acc = fmadd_block(acc, f16_to_f32(rd16(w)) * a[b].d, s);
  }
  return (float)hsum_f64(acc);
}

// Q4_1 (20 bytes: f16 d, f16 m, nibbles), value d*q + m; the m term uses the activation's s.
static float dot_q4_1(const uint8_t *w, const act_q8 *a, int n) {
  v128_t acc = wasm_f64x2_splat(0);
  double sm = 0;
  const v128_t m4 = wasm_i8x16_splat(0x0f);
  for (int b = 0; b < n / QK; b++, w += 20) {
    v128_t q = wasm_v128_load(w + 4);
    v128_t s = wasm_i32x4_add(dot_w8(wasm_v128_and(q, m4), a[b].qs), dot_w8(wasm_u8x16_shr(q, 4), a[b].qs + 16));
    acc = fmadd_block(acc, f16_to_f32(rd16(w)) * a[b].d, s);
    sm += (double)f16_to_f32(rd16(w + 2)) * a[b].s;
  }
  return (float)(hsum_f64(acc) + sm);
}

// The fifth bits of a Q5 block (32 bits, element j = bit j) as 16 * bit, 2 x 16 bytes.
static inline void q5_high(const uint8_t *qh, v128_t *h0, v128_t *h1) {
  *h0 = wasm_i64x2_make((int64_t)bits_to_16[qh[0]], (int64_t)bits_to_16[qh[1]]);
  *h1 = wasm_i64x2_make((int64_t)bits_to_16[qh[2]], (int64_t)bits_to_16[qh[3]]);
}

// Q5_0 (22 bytes: f16 d, 4 bytes of high bits, nibbles), value d*(q-16).
static float dot_q5_0(const uint8_t *w, const act_q8 *a, int n) {
  v128_t acc = wasm_f64x2_splat(0);
  const v128_t m4 = wasm_i8x16_splat(0x0f), sixteen = wasm_i8x16_splat(16);
  for (int b = 0; b < n / QK; b++, w += 22) {
    v128_t h0, h1;
    q5_high(w + 2, &h0, &h1);
    v128_t q = wasm_v128_load(w + 6);
    v128_t lo = wasm_i8x16_sub(wasm_v128_or(wasm_v128_and(q, m4), h0), sixteen);
    v128_t hi = wasm_i8x16_sub(wasm_v128_or(wasm_u8x16_shr(q, 4), h1), sixteen);
    v128_t s = wasm_i32x4_add(dot_w8(lo, a[b].qs), dot_w8(hi, a[b].qs + 16));
    acc = fmadd_block(acc, f16_to_f32(rd16(w)) * a[b].d, s);
  }
  return (float)hsum_f64(acc);
}

// Q5_1 (24 bytes: f16 d, f16 m, high bits, nibbles), value d*q + m.
static float dot_q5_1(const uint8_t *w, const act_q8 *a, int n) {
  v128_t acc = wasm_f64x2_splat(0);
  double sm = 0;
  const v128_t m4 = wasm_i8x16_splat(0x0f);
  for (int b = 0; b < n / QK; b++, w += 24) {
    v128_t h0, h1;
    q5_high(w + 4, &h0, &h1);
    v128_t q = wasm_v128_load(w + 8);
    v128_t lo = wasm_v128_or(wasm_v128_and(q, m4), h0), hi = wasm_v128_or(wasm_u8x16_shr(q, 4), h1);
    v128_t s = wasm_i32x4_add(dot_w8(lo, a[b].qs), dot_w8(hi, a[b].qs + 16));
    acc = fmadd_block(acc, f16_to_f32(rd16(w)) * a[b].d, s);
    sm += (double)f16_to_f32(rd16(w + 2)) * a[b].s;
  }
  return (float)(hsum_f64(acc) + sm);
}

// Q8_0 (34 bytes: f16 d, 32 int8).
static float dot_q8_0(const uint8_t *w, const act_q8 *a, int n) {
  v128_t acc = wasm_f64x2_splat(0);
  for (int b = 0; b < n / QK; b++, w += 34) {
    v128_t s = wasm_i32x4_add(dot_w8(wasm_v128_load(w + 2), a[b].qs), dot_w8(wasm_v128_load(w + 18), a[b].qs + 16));
    acc = fmadd_block(acc, f16_to_f32(rd16(w)) * a[b].d, s);
  }
  return (float)hsum_f64(acc);
}

// fmaf, inline (libm's is a call): a*b is exact in f64 (24 + 24 bits at most here), so the f64
// sum p + c is rounded to f32 once, unless that sum was inexact and fell on an f32 midpoint (the
// double rounding case, ~1 in 2^29): then it is moved one f64 ulp towards the exact sum first.
// (Results in the f32 subnormal range are not corrected; block sums of weights never get there.)
static inline float fma32(float a, float b, float c) {
  const double p = (double)a * b;
  double s = p + c;
  const double t = s - p, err = (p - (s - t)) + (c - t); // s + err = p + c exactly (TwoSum)
  uint64_t u;
  memcpy(&u, &s, 8);
  if (err != 0 && (u & 0x1fffffffu) == 0x10000000u) {
    u += (err > 0) == (s > 0) ? 1 : -1;
    memcpy(&s, &u, 8);
  }
  return (float)s;
}

// 16 int8 weights times 16 activation quants into 4 i32 lanes, lane i the sum over elements
// 4i..4i+3: the lanes of ggml's x86 kernels (maddubs, then madd with ones).
static inline v128_t dot_w8_quads(v128_t w, const int16_t *a) {
  v128_t p0 = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(w), wasm_v128_load(a));
  v128_t p1 = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(w), wasm_v128_load(a + 8));
  return wasm_i32x4_add(wasm_i32x4_shuffle(p0, p1, 0, 2, 4, 6), wasm_i32x4_shuffle(p0, p1, 1, 3, 5, 7));
}

// hsum_float_8: (l0 + l4) .. (l3 + l7), then (s0 + s2) + (s1 + s3), in f32.
static inline float hsum_f32_8(const float *l) {
  float s0 = l[0] + l[4], s1 = l[1] + l[5], s2 = l[2] + l[6], s3 = l[3] + l[7];
  return (s0 + s2) + (s1 + s3);
}

// acc[i] = fma(d, lanes i of s (4 i32), acc[i]), f32.
static inline void fma_lanes(float *acc, float d, v128_t s) {
  acc[0] = fma32(d, (float)wasm_i32x4_extract_lane(s, 0), acc[0]);
  acc[1] = fma32(d, (float)wasm_i32x4_extract_lane(s, 1), acc[1]);
  acc[2] = fma32(d, (float)wasm_i32x4_extract_lane(s, 2), acc[2]);
  acc[3] = fma32(d, (float)wasm_i32x4_extract_lane(s, 3), acc[3]);
}

static const int8_t KV_IQ4NL[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
static const int8_t KV_MXFP4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// ggml_e8m0_to_fp32_half: 2^(e - 128), subnormal below e = 2.
static inline float e8m0_half(uint8_t e) {
  uint32_t x = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
  float f;
  memcpy(&f, &x, 4);
  return f;
}

// IQ4_NL (18 bytes: f16 d, 16 bytes of nibbles in Q4_0's order, each an index into kvalues_iq4nl)
// and MXFP4 (17 bytes: E8M0 byte e, the same nibbles into twice the E2M1 values, scale
// 2^(e - 128)). ggml's order: each block's integer sum times the f32 d_w*d_a, accumulated by FMA
// in f32 one block at a time (repacked gemv and gemm alike), or, in vec_dot, in 8 lanes (sums of 4
// elements) kept twice (even and odd blocks), added and summed by hsum_float_8, an odd last block
// added after by one FMA.
static float dot_nl32(const uint8_t *w, const act_q8 *a, int n, int path, int mx) {
  const int bytes = mx ? 17 : 18, nb = n / QK;
  const v128_t kv = wasm_v128_load(mx ? KV_MXFP4 : KV_IQ4NL), m4 = wasm_i8x16_splat(0x0f);
  float acc = 0, tail = 0, lanes[2][8] = {{0}};
  for (int b = 0; b < nb; b++, w += bytes) {
    const float d = (mx ? e8m0_half(w[0]) : f16_to_f32(rd16(w))) * a[b].d;
    const v128_t q = wasm_v128_load(w + bytes - 16);
    const v128_t lo = wasm_i8x16_swizzle(kv, wasm_v128_and(q, m4)), hi = wasm_i8x16_swizzle(kv, wasm_u8x16_shr(q, 4));
    if (path != PATH_VEC) {
      acc = fma32((float)hsum_i32(wasm_i32x4_add(dot_w8(lo, a[b].qs), dot_w8(hi, a[b].qs + 16))), d, acc);
    } else if (!(nb % 2 && b == nb - 1)) {
      fma_lanes(lanes[b % 2], d, dot_w8_quads(lo, a[b].qs));
      fma_lanes(lanes[b % 2] + 4, d, dot_w8_quads(hi, a[b].qs + 16));
    } else {
      tail = d;
      acc = (float)hsum_i32(wasm_i32x4_add(dot_w8(lo, a[b].qs), dot_w8(hi, a[b].qs + 16)));
    }
  }
  if (path != PATH_VEC) return acc;
  for (int u = 0; u < 8; u++) lanes[0][u] += lanes[1][u];
  const float s = hsum_f32_8(lanes[0]);
  return nb % 2 ? fma32(tail, acc, s) : s;
}

// Q2_K (84 bytes: 16 bytes of scales, low nibble the scale and high nibble the min of each 16
// elements; 64 bytes of 2-bit quants, per 128 elements 32 bytes whose bits 2k..2k+1 are elements
// 32k..32k+31; f16 d, f16 dmin), value d*scale*q - dmin*min. ggml's order, Q8_K activations:
//  - vec_dot: 8 f32 lanes; per super-block each lane takes fma(-d_a*dmin, Σ min*bsum of two 16s)
//    then fma(d_a*d, Σ scale*(sum of 4 elements), over the 8 groups of 32);
//  - repacked gemv: per super-block fma(Σ scale*Σq*q8, d*d_a) into one sum and fma(Σ min*bsum,
//    dmin*d_a) into another (gemm: per 128 elements), subtracted at the end.
static float dot_q2_K(const uint8_t *w, const act_q8k *a, int n, int path) {
  const v128_t m3 = wasm_i8x16_splat(3);
  float lanes[8] = {0}, acc = 0, accm = 0;
  for (int b = 0; b < n / QK_K; b++, w += 84) {
    const uint8_t *sc = w;
    const float d16 = f16_to_f32(rd16(w + 80)), dmin16 = f16_to_f32(rd16(w + 82));
    const int16_t *y = a[b].qs, *bs = a[b].bsums;
    v128_t sumi[2][2]; // [half of 128][lanes 0..3, 4..7]
    for (int h = 0; h < 2; h++) {
      const v128_t q0 = wasm_v128_load(w + 16 + 32 * h), q1 = wasm_v128_load(w + 32 + 32 * h);
      sumi[h][0] = sumi[h][1] = wasm_i32x4_splat(0);
      for (int k = 0; k < 4; k++) {
        const int g = 4 * h + k; // group of 32: sub-blocks 2g, 2g + 1
        const v128_t v0 = wasm_v128_and(wasm_u8x16_shr(q0, 2 * k), m3), v1 = wasm_v128_and(wasm_u8x16_shr(q1, 2 * k), m3);
        sumi[h][0] = wasm_i32x4_add(sumi[h][0], wasm_i32x4_mul(dot_w8_quads(v0, y + 32 * g), wasm_i32x4_splat(sc[2 * g] & 15)));
        sumi[h][1] = wasm_i32x4_add(sumi[h][1], wasm_i32x4_mul(dot_w8_quads(v1, y + 32 * g + 16), wasm_i32x4_splat(sc[2 * g + 1] & 15)));
      }
    }
    if (path == PATH_VEC) {
      const float d = a[b].d * d16, dmin = -a[b].d * dmin16;
      for (int u = 0; u < 8; u++) lanes[u] = fma32(dmin, (float)((sc[2 * u] >> 4) * bs[2 * u] + (sc[2 * u + 1] >> 4) * bs[2 * u + 1]), lanes[u]);
      fma_lanes(lanes, d, wasm_i32x4_add(sumi[0][0], sumi[1][0]));
      fma_lanes(lanes + 4, d, wasm_i32x4_add(sumi[0][1], sumi[1][1]));
      continue;
    }
    const float dd = d16 * a[b].d, ddm = dmin16 * a[b].d;
    int isum = 0, imin = 0;
    for (int h = 0; h < 2; h++) {
      isum += hsum_i32(wasm_i32x4_add(sumi[h][0], sumi[h][1]));
      for (int s = 8 * h; s < 8 * h + 8; s++) imin += (sc[s] >> 4) * bs[s];
      if (path == PATH_GEMM || h == 1) {
        acc = fma32((float)isum, dd, acc);
        accm = fma32((float)imin, ddm, accm);
        isum = imin = 0;
      }
    }
  }
  return path == PATH_VEC ? hsum_f32_8(lanes) : acc - accm;
}

// The 16 6-bit scales of a Q3_K super-block, minus 32: low 4 bits from byte j % 8 (nibble j / 8),
// high 2 bits from byte 8 + j % 4 (bits 2 * (j / 4)).
static inline void q3_scales(const uint8_t *s, int8_t *out) {
  for (int j = 0; j < 16; j++) out[j] = (int8_t)((((s[j % 8] >> (4 * (j / 8))) & 15) | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32);
}

// Q3_K (110 bytes: 32 bytes of high bits, 64 bytes of 2-bit quants as in Q2_K, 12 bytes of
// scales, f16 d): element 128h + 32k + l is ((qs[32h + l] >> 2k) & 3) - 4 unless bit 4h + k of
// hmask[l] is set; value d * scale[element / 16] * q.
static float dot_q3_K(const uint8_t *w, const act_q8k *a, int n) {
  double sumf = 0;
  const v128_t m3 = wasm_i8x16_splat(3), four = wasm_i8x16_splat(4), zero = wasm_i8x16_splat(0);
  for (int b = 0; b < n / QK_K; b++, w += 110) {
    int8_t sc[16];
    q3_scales(w + 96, sc);
    const v128_t h0 = wasm_v128_load(w), h1 = wasm_v128_load(w + 16);
    const int16_t *y = a[b].qs;
    v128_t isum = wasm_i32x4_splat(0);
    for (int h = 0; h < 2; h++) {
      const v128_t q0 = wasm_v128_load(w + 32 + 32 * h), q1 = wasm_v128_load(w + 48 + 32 * h);
      for (int k = 0; k < 4; k++) {
        const int g = 4 * h + k;
        const v128_t bit = wasm_i8x16_splat((int8_t)(1 << g));
#define LOW(hm) wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(hm, bit), zero), four)
        const v128_t v0 = wasm_i8x16_sub(wasm_v128_and(wasm_u8x16_shr(q0, 2 * k), m3), LOW(h0));
        const v128_t v1 = wasm_i8x16_sub(wasm_v128_and(wasm_u8x16_shr(q1, 2 * k), m3), LOW(h1));
#undef LOW
        isum = wasm_i32x4_add(isum, wasm_i32x4_add(wasm_i32x4_mul(dot_w8(v0, y + 32 * g), wasm_i32x4_splat(sc[2 * g])),
          wasm_i32x4_mul(dot_w8(v1, y + 32 * g + 16), wasm_i32x4_splat(sc[2 * g + 1]))));
      }
    }
    sumf += (double)(f16_to_f32(rd16(w + 108)) * a[b].d) * hsum_i32(isum);
  }
  return (float)sumf;
}

// IQ4_XS (136 bytes: f16 d, u16 scales_h, 4 bytes scales_l, 128 bytes of nibbles): per 32
// elements ib, 16 bytes of indices into kvalues_iq4nl in Q4_0's order and a 6-bit scale
// (scales_l nibble ib % 2 of byte ib / 2, high bits 2ib of scales_h), value d * (scale - 32) * kv.
static float dot_iq4_xs(const uint8_t *w, const act_q8k *a, int n) {
  double sumf = 0;
  const v128_t kv = wasm_v128_load(KV_IQ4NL), m4 = wasm_i8x16_splat(0x0f);
  for (int b = 0; b < n / QK_K; b++, w += 136) {
    const uint16_t sh = rd16(w + 2);
    const int16_t *y = a[b].qs;
    v128_t isum = wasm_i32x4_splat(0);
    for (int ib = 0; ib < 8; ib++, y += 32) {
      const int ls = (((w[4 + ib / 2] >> (4 * (ib % 2))) & 15) | (((sh >> (2 * ib)) & 3) << 4)) - 32;
      const v128_t q = wasm_v128_load(w + 8 + 16 * ib);
      const v128_t s = wasm_i32x4_add(dot_w8(wasm_i8x16_swizzle(kv, wasm_v128_and(q, m4)), y), dot_w8(wasm_i8x16_swizzle(kv, wasm_u8x16_shr(q, 4)), y + 16));
      isum = wasm_i32x4_add(isum, wasm_i32x4_mul(s, wasm_i32x4_splat(ls)));
    }
    sumf += (double)(f16_to_f32(rd16(w)) * a[b].d) * hsum_i32(isum);
  }
  return (float)sumf;
}

// The 8 6-bit scales and mins of a Q4_K/Q5_K super-block (get_scale_min_k4).
static inline void scale_min_k4(const uint8_t *q, uint8_t *sc, uint8_t *mn) {
  for (int j = 0; j < 8; j++) {
    if (j < 4) {
      sc[j] = q[j] & 63;
      mn[j] = q[j + 4] & 63;
    } else {
      sc[j] = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
      mn[j] = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
  }
}

// Σ mins[j/2] * bsums[j] over a super-block (the K-quants' offset term).
static inline int k_mins(const uint8_t *mn, const int16_t *bsums) {
  int s = 0;
  for (int j = 0; j < QK_K / 16; j++) s += bsums[j] * mn[j / 2];
  return s;
}

// Q4_K (144 bytes: f16 d, f16 dmin, 12 bytes of scales/mins, 128 bytes of nibbles: per 64
// elements, 32 bytes whose low nibbles are the first 32 and high nibbles the next 32).
static float dot_q4_K(const uint8_t *w, const act_q8k *a, int n) {
  double sumf = 0;
  const v128_t m4 = wasm_i8x16_splat(0x0f);
  for (int b = 0; b < n / QK_K; b++, w += 144) {
    uint8_t sc[8], mn[8];
    scale_min_k4(w + 4, sc, mn);
    const uint8_t *q = w + 16;
    const int16_t *y = a[b].qs;
    v128_t isum = wasm_i32x4_splat(0);
    for (int j = 0; j < 4; j++, q += 32, y += 64) {
      v128_t q0 = wasm_v128_load(q), q1 = wasm_v128_load(q + 16);
      v128_t lo = wasm_i32x4_add(dot_w8(wasm_v128_and(q0, m4), y), dot_w8(wasm_v128_and(q1, m4), y + 16));
      v128_t hi = wasm_i32x4_add(dot_w8(wasm_u8x16_shr(q0, 4), y + 32), dot_w8(wasm_u8x16_shr(q1, 4), y + 48));
      isum = wasm_i32x4_add(isum, wasm_i32x4_add(wasm_i32x4_mul(lo, wasm_i32x4_splat(sc[2 * j])), wasm_i32x4_mul(hi, wasm_i32x4_splat(sc[2 * j + 1]))));
    }
    const float d = f16_to_f32(rd16(w)) * a[b].d, dmin = f16_to_f32(rd16(w + 2)) * a[b].d;
    sumf += (double)d * hsum_i32(isum) - (double)dmin * k_mins(mn, a[b].bsums);
  }
  return (float)sumf;
}

// Q5_K (176 bytes: d, dmin, scales, 32 bytes of fifth bits, 128 bytes of nibbles): as Q4_K, plus
// 16 where bit 2j (low nibbles) or 2j+1 (high nibbles) of qh[l] is set, chunk j of 64.
static float dot_q5_K(const uint8_t *w, const act_q8k *a, int n) {
  double sumf = 0;
  const v128_t m4 = wasm_i8x16_splat(0x0f), sixteen = wasm_i8x16_splat(16), zero = wasm_i8x16_splat(0);
  for (int b = 0; b < n / QK_K; b++, w += 176) {
    uint8_t sc[8], mn[8];
    scale_min_k4(w + 4, sc, mn);
    const v128_t h0 = wasm_v128_load(w + 16), h1 = wasm_v128_load(w + 32);
    const uint8_t *q = w + 48;
    const int16_t *y = a[b].qs;
    v128_t isum = wasm_i32x4_splat(0);
    for (int j = 0; j < 4; j++, q += 32, y += 64) {
      v128_t bl = wasm_i8x16_splat((int8_t)(1 << (2 * j))), bh = wasm_i8x16_splat((int8_t)(1 << (2 * j + 1)));
#define HB(h, bit) wasm_v128_and(wasm_i8x16_ne(wasm_v128_and(h, bit), zero), sixteen)
      v128_t q0 = wasm_v128_load(q), q1 = wasm_v128_load(q + 16);
      v128_t l0 = wasm_v128_or(wasm_v128_and(q0, m4), HB(h0, bl)), l1 = wasm_v128_or(wasm_v128_and(q1, m4), HB(h1, bl));
      v128_t u0 = wasm_v128_or(wasm_u8x16_shr(q0, 4), HB(h0, bh)), u1 = wasm_v128_or(wasm_u8x16_shr(q1, 4), HB(h1, bh));
#undef HB
      v128_t lo = wasm_i32x4_add(dot_w8(l0, y), dot_w8(l1, y + 16));
      v128_t hi = wasm_i32x4_add(dot_w8(u0, y + 32), dot_w8(u1, y + 48));
      isum = wasm_i32x4_add(isum, wasm_i32x4_add(wasm_i32x4_mul(lo, wasm_i32x4_splat(sc[2 * j])), wasm_i32x4_mul(hi, wasm_i32x4_splat(sc[2 * j + 1]))));
    }
    const float d = f16_to_f32(rd16(w)) * a[b].d, dmin = f16_to_f32(rd16(w + 2)) * a[b].d;
    sumf += (double)d * hsum_i32(isum) - (double)dmin * k_mins(mn, a[b].bsums);
  }
  return (float)sumf;
}

// Q6_K (210 bytes: 128 bytes of low nibbles, 64 of 2-bit highs, 16 int8 scales, f16 d); per 128
// elements: ql[0..64), qh[0..32): element l = ql[l]&15 | (qh[l]&3)<<4, l+32 = ql[l+32]&15 |
// (qh[l]>>2&3)<<4, l+64 = ql[l]>>4 | (qh[l]>>4&3)<<4, l+96 = ql[l+32]>>4 | (qh[l]>>6)<<4; value
// d * scale[element/16] * (q - 32).
static float dot_q6_K(const uint8_t *w, const act_q8k *a, int n) {
  double sumf = 0;
  const v128_t m4 = wasm_i8x16_splat(0x0f), m3 = wasm_i8x16_splat(3), off = wasm_i8x16_splat(32);
  for (int b = 0; b < n / QK_K; b++, w += 210) {
    const int8_t *scales = (const int8_t *)(w + 192);
    const int16_t *y = a[b].qs;
    v128_t isum = wasm_i32x4_splat(0);
    for (int half = 0; half < 2; half++) {
      const uint8_t *ql = w + 64 * half, *qh = w + 128 + 32 * half;
      for (int k = 0; k < 2; k++) { // 16 of the 32 l's at a time
        v128_t l0 = wasm_v128_load(ql + 16 * k), l1 = wasm_v128_load(ql + 32 + 16 * k), h = wasm_v128_load(qh + 16 * k);
        v128_t v[4] = {
          wasm_v128_or(wasm_v128_and(l0, m4), wasm_i8x16_shl(wasm_v128_and(h, m3), 4)),
          wasm_v128_or(wasm_v128_and(l1, m4), wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(h, 2), m3), 4)),
          wasm_v128_or(wasm_u8x16_shr(l0, 4), wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(h, 4), m3), 4)),
          wasm_v128_or(wasm_u8x16_shr(l1, 4), wasm_i8x16_shl(wasm_u8x16_shr(h, 6), 4)),
        };
        for (int g = 0; g < 4; g++) { // elements 128*half + 32*g + 16*k .. +16
          int e = 128 * half + 32 * g + 16 * k;
          v128_t s = dot_w8(wasm_i8x16_sub(v[g], off), y + e);
          isum = wasm_i32x4_add(isum, wasm_i32x4_mul(s, wasm_i32x4_splat(scales[e / 16])));
        }
      }
    }
    sumf += (double)(f16_to_f32(rd16(w + 208)) * a[b].d) * hsum_i32(isum);
  }
  return (float)sumf;
}

float cpu_dot(int type, const void *w, const void *act, int n, int path) {
  switch (type) {
    case T_F32: return dot_f32(w, act, n);
    case T_F16: return dot_f16(w, act, n);
    case T_BF16: return dot_bf16(w, act, n);
    case T_Q4_0: return dot_q4_0(w, act, n);
    case T_Q4_1: return dot_q4_1(w, act, n);
    case T_Q5_0: return dot_q5_0(w, act, n);
    case T_Q5_1: return dot_q5_1(w, act, n);
    case T_Q8_0: return dot_q8_0(w, act, n);
    case T_Q4_K: return dot_q4_K(w, act, n);
    case T_Q5_K: return dot_q5_K(w, act, n);
    case T_Q6_K: return dot_q6_K(w, act, n);
    case T_IQ4_NL: return dot_nl32(w, act, n, path, 0);
    case T_MXFP4: return dot_nl32(w, act, n, path, 1);
    case T_Q2_K: return dot_q2_K(w, act, n, path);
    case T_Q3_K: return dot_q3_K(w, act, n);
    case T_IQ4_XS: return dot_iq4_xs(w, act, n);
    default: return 0;
  }
}
