// SIMD passes over float vectors for the sampler (4 lanes of f32; WebAssembly SIMD is
// deterministic, so results are the same in every engine).
#pragma once
#include <stdint.h>

#define WM_BLOCK 256  // elements per partial sum of wm_exp_blocks

// Replaces NaN by -inf in place and returns the maximum (-inf when n == 0).
float wm_max_sanitize(float *v, int32_t n);

// First index i with v[i] == x, or -1.
int32_t wm_first_equal(const float *v, int32_t n, float x);

// out[i] = e^((v[i] - max) * inv_t) for v[i] <= max; blk[b] = sum of out over block b
// (WM_BLOCK elements; blk needs n / WM_BLOCK + 1 entries). Returns the total.
double wm_exp_blocks(const float *v, float *out, int32_t n, float max, float inv_t, double *blk);

// Index of the draw for `target` in [0, total): the first i whose prefix sum of w exceeds target,
// found block by block; the last nonzero weight when rounding leaves target unreached; -1 if all
// weights are zero.
int32_t wm_walk(const float *w, const double *blk, int32_t n, double target);

// Bucket of each element by distance below max: min(nb - 1, floor((max - v[i]) * per_unit)).
void wm_buckets(const float *v, uint16_t *out, int32_t n, float max, float per_unit, int nb);

// e^x for x <= 0 (scalar; the same polynomial as the SIMD lanes).
float wm_exp_neg(float x);
