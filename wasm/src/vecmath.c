// See vecmath.h.
#include "vecmath.h"

#include <math.h>
#include <wasm_simd128.h>

// e^x for x <= 0 (Cephes expf: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial; relative error
// ~1e-7). Below -87 the result is clamped to e^-87 (about 1e-38), which no sum notices.
#define EXP_LO (-87.0f)
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f
#define LN2_LO (-2.12194440e-4f)
#define C0 1.9875691500e-4f
#define C1 1.3981999507e-3f
#define C2 8.3334519073e-3f
#define C3 4.1665795894e-2f
#define C4 1.6666665459e-1f
#define C5 5.0000001201e-1f

float wm_exp_neg(float x) {
  if (!(x >= EXP_LO)) x = EXP_LO;
  float n = __builtin_nearbyintf(x * LOG2E);
  float r = x - n * LN2_HI - n * LN2_LO;
  float p = ((((C0 * r + C1) * r + C2) * r + C3) * r + C4) * r + C5;
  p = p * r * r + r + 1.0f;
  union { float f; int32_t i; } u = {p};
  u.i += (int32_t)n << 23;
  return u.f;
}

static inline v128_t exp_neg4(v128_t x) {
  x = wasm_f32x4_pmax(x, wasm_f32x4_splat(EXP_LO));
  v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(LOG2E)));
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(LN2_HI)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(LN2_LO)));
  v128_t p = wasm_f32x4_splat(C0);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(C1));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(C2));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(C3));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(C4));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(C5));
  p = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(p, r), r), r), wasm_f32x4_splat(1.0f));
  return wasm_i32x4_add(p, wasm_i32x4_shl(wasm_i32x4_trunc_sat_f32x4(n), 23));
}

static inline float hsum(v128_t v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) +
         wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
}

float wm_max_sanitize(float *v, int32_t n) {
  v128_t m = wasm_f32x4_splat(-INFINITY), ninf = m;
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t x = wasm_v128_load(v + i);
    v128_t ok = wasm_f32x4_eq(x, x);  // false for NaN
    if (!wasm_i32x4_all_true(ok)) { x = wasm_v128_bitselect(x, ninf, ok); wasm_v128_store(v + i, x); }
    m = wasm_f32x4_pmax(m, x);
  }
  float r = -INFINITY;
  for (int k = 0; k < 4; k++) {
    float x = k == 0 ? wasm_f32x4_extract_lane(m, 0) : k == 1 ? wasm_f32x4_extract_lane(m, 1)
            : k == 2 ? wasm_f32x4_extract_lane(m, 2) : wasm_f32x4_extract_lane(m, 3);
    if (x > r) r = x;
  }
  for (; i < n; i++) {
    if (v[i] != v[i]) v[i] = -INFINITY;
    if (v[i] > r) r = v[i];
  }
  return r;
}

int32_t wm_first_equal(const float *v, int32_t n, float x) {
  v128_t s = wasm_f32x4_splat(x);
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    if (wasm_v128_any_true(wasm_f32x4_eq(wasm_v128_load(v + i), s))) break;
  }
  for (; i < n; i++) if (v[i] == x) return i;
  return -1;
}

double wm_exp_blocks(const float *v, float *out, int32_t n, float max, float inv_t, double *blk) {
  v128_t m = wasm_f32x4_splat(max), it = wasm_f32x4_splat(inv_t);
  double total = 0;
  for (int32_t b = 0; b * WM_BLOCK < n; b++) {
    int32_t i = b * WM_BLOCK, end = i + WM_BLOCK < n ? i + WM_BLOCK : n;
    v128_t acc = wasm_f32x4_splat(0);
    for (; i + 4 <= end; i += 4) {
      v128_t e = exp_neg4(wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(v + i), m), it));
      wasm_v128_store(out + i, e);
      acc = wasm_f32x4_add(acc, e);
    }
    double sum = hsum(acc);
    for (; i < end; i++) {
      out[i] = wm_exp_neg((v[i] - max) * inv_t);
      sum += out[i];
    }
    blk[b] = sum;
    total += sum;
  }
  return total;
}

int32_t wm_walk(const float *w, const double *blk, int32_t n, double target) {
  double cum = 0;
  int32_t last = -1, b = 0;
  // Whole blocks that end at or before the target are skipped.
  for (; b * WM_BLOCK < n && cum + blk[b] <= target; b++) cum += blk[b];
  for (int32_t i = b * WM_BLOCK; i < n; i++) {
    if (w[i] <= 0) continue;
    cum += w[i];
    last = i;
    if (cum > target) return i;
  }
  if (last < 0) {  // target at the very end: the last nonzero weight
    for (int32_t i = n - 1; i >= 0; i--) if (w[i] > 0) return i;
  }
  return last;
}

void wm_buckets(const float *v, uint16_t *out, int32_t n, float max, float per_unit, int nb) {
  v128_t m = wasm_f32x4_splat(max), s = wasm_f32x4_splat(per_unit), top = wasm_f32x4_splat((float)(nb - 1));
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t d = wasm_f32x4_min(wasm_f32x4_mul(wasm_f32x4_sub(m, wasm_v128_load(v + i)), s), top);  // -inf logits: +inf -> top
    v128_t k = wasm_i32x4_trunc_sat_f32x4(d);
    out[i] = (uint16_t)wasm_i32x4_extract_lane(k, 0);
    out[i + 1] = (uint16_t)wasm_i32x4_extract_lane(k, 1);
    out[i + 2] = (uint16_t)wasm_i32x4_extract_lane(k, 2);
    out[i + 3] = (uint16_t)wasm_i32x4_extract_lane(k, 3);
  }
  for (; i < n; i++) {
    float d = (max - v[i]) * per_unit;
    out[i] = (uint16_t)(d < (float)(nb - 1) ? (int)d : nb - 1);
  }
}
