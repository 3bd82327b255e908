// The CPU backend's kernels (cpu.wasm): shared types and helpers. Numerics follow llama.cpp's CPU
// build (ggml-cpu): a matrix's input is converted to its weight type's vec_dot_type first (Q8_0,
// Q8_1, Q8_K, F16, BF16 or F32), integer dot products per block, f32 scales; see quant.c.
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <wasm_simd128.h>

#define CPU_EXPORT(name) __attribute__((export_name(#name), used))

// Status codes; src/cpu/errors.ts names them.
enum {
  CPU_OK = 0,
  CPU_ERR_NOMEM = -1, // memory could not grow
  CPU_ERR_ARG = -2,   // null pointer, length not a whole number of blocks
  CPU_ERR_TYPE = -3,  // weight type without a kernel
};

// GGML type ids (ggml.h; src/gguf/types.ts).
enum {
  T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q5_1 = 7, T_Q8_0 = 8,
  T_Q2_K = 10, T_Q3_K = 11, T_Q4_K = 12, T_Q5_K = 13, T_Q6_K = 14, T_IQ4_NL = 20, T_IQ4_XS = 23,
  T_BF16 = 30, T_MXFP4 = 39,
};

// How llama.cpp's x86 build multiplies a matrix's rows, for the types whose products follow its
// accumulation order (Q2_K, IQ4_NL, MXFP4; see quant.c): ggml_vec_dot_* (rows not a multiple of
// 8), or after repacking, the 8x8 gemv (one token) or gemm (a group of 4 tokens, dense matrices).
enum { PATH_VEC = 0, PATH_GEMV = 1, PATH_GEMM = 2 };

#define QK 32
#define QK_K 256

// A converted activation block for Q8_0 and Q8_1 weights: d is the f16-rounded scale as f32; s
// (Q8_1 only) is the f16-rounded d*sum(q) as f32. The quants are stored widened to 16 bits: an
// activation meets every row of the matrix, so it is widened once here, not once per row.
typedef struct {
  float d, s;
  int16_t qs[QK];
} act_q8;

// quantize_row_q8_K: d is f32, bsums are the sums of each 16 quants (quants widened as above).
typedef struct {
  float d;
  int16_t qs[QK_K];
  int16_t bsums[QK_K / 16];
} act_q8k;

extern float cpu_f16_table[65536];

static inline float f16_to_f32(uint16_t h) { return cpu_f16_table[h]; }

// f32 -> f16 bits, round to nearest even (as F16C's _cvtss_sh, which ggml's x86 build uses).
static inline uint16_t f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0)); // inf, nan
  if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); // rounds past 65504: inf
  if (ax < 0x38800000u) { // below 2^-14: subnormal or zero
    if (ax < 0x33000000u) return (uint16_t)sign; // below half the smallest subnormal
    uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e; // x = m * 2^(e-150), in units of 2^-24: m >> (126 - e)
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    return (uint16_t)(sign | q);
  }
  uint32_t r = ax - 0x38000000u; // rebias exponent 127 -> 15
  uint32_t q = r >> 13, rem = r & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (q & 1))) q++;
  return (uint16_t)(sign | q);
}

static inline float round_f16(float f) { return f16_to_f32(f32_to_f16(f)); }

static inline float bf16_to_f32(uint16_t h) {
  uint32_t x = (uint32_t)h << 16;
  float f;
  memcpy(&f, &x, 4);
  return f;
}

// ggml_compute_fp32_to_bf16: round to nearest even, NaN kept quiet.
static inline uint16_t f32_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 64);
  return (uint16_t)((x + (0x7fffu + ((x >> 16) & 1))) >> 16);
}

// Sum of the 4 i32 lanes.
static inline int32_t hsum_i32(v128_t v) {
  return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) + wasm_i32x4_extract_lane(v, 2) + wasm_i32x4_extract_lane(v, 3);
}

// 16 products of int8 weights w and 16-bit activation quants a[0..16), summed pairwise into 4
// i32 lanes.
static inline v128_t dot_w8(v128_t w, const int16_t *a) {
  v128_t lo = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(w), wasm_v128_load(a));
  v128_t hi = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(w), wasm_v128_load(a + 8));
  return wasm_i32x4_add(lo, hi);
}

// quant.c
size_t cpu_act_bytes(int type, int n);
int cpu_convert(int type, const float *x, int n, void *out);
float cpu_dot(int type, const void *w, const void *act, int n, int path);
float cpu_exp_vec(float x);
