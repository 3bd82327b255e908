// Row and elementwise operations of the forward pass, each as the ggml-cpu kernel named in its
// comment computes it (ops.cpp, vec.h, vec.cpp), in the same f32/f64 precision; the TypeScript
// reference (src/reference/ops.ts) follows the same kernels.
#include <math.h>
#include "cpu.h"

// f32 fused multiply-add: a*b is exact in f64, so one f64 add and one f32 rounding.
static inline float fma32(float a, float b, float c) { return (float)((double)a * b + c); }

// ggml_v_expf (one lane): n = round(x/ln2), b = x - n ln2 in two steps, a degree-5 polynomial,
// scaled by 2^n; |n| > 192 flushes to 0 or inf.
float cpu_exp_vec(float x) {
  const float R = 0x1.8p23f, LOG2E = 0x1.715476p+0f, LN2_HI = 0x1.62e4p-1f, LN2_LO = 0x1.7f7d1cp-20f;
  const float C5 = 0x1.0e4020p-7f, C4 = 0x1.573e2ep-5f, C3 = 0x1.555e66p-3f, C2 = 0x1.fffdb6p-2f, C1 = 0x1.ffffecp-1f;
  const float z = fma32(x, LOG2E, R);
  const float n = z - R;
  const float b = fma32(-n, LN2_LO, fma32(-n, LN2_HI, x));
  if (fabsf(n) > 192) return n <= 0 ? 0.f : INFINITY;
  const float u = b * b;
  const float j = fma32(fma32(fma32(C5, b, C4), u, fma32(C3, b, C2)), u, fma32(C1, b, 1));
  return (float)ldexp((double)j, (int)n);
}

// ggml's vectorised loops run 16 lanes (the AVX-512 build); elements past the last full vector of
// a row take the scalar path (libm expf).
#define LANES 16

// _mm512_reduce_add_ps of 16 floats: halves, quarters, pairs.
static float reduce16(const float *x) {
  float t3[8], t6[4];
  for (int i = 0; i < 8; i++) t3[i] = x[i + 8] + x[i];
  for (int i = 0; i < 4; i++) t6[i] = t3[i + 4] + t3[i];
  return (t6[0] + t6[2]) + (t6[1] + t6[3]);
}

// ggml_compute_forward_rms_norm_f32 then ggml_mul: per row of len, sum of f32 squares in double,
// mean and 1/sqrt in f32, y = (x * scale) * w (w null: no weight, broadcast over rows).
CPU_EXPORT(cpu_rms_norm) void cpu_rms_norm(const float *x, const float *w, float *y, int n, int len, float eps) {
  for (int o = 0; o < n; o += len) {
    double sum = 0;
    for (int i = 0; i < len; i++) sum += (double)(x[o + i] * x[o + i]);
    const float mean = (float)(sum / len);
    const float scale = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < len; i++) {
      const float v = x[o + i] * scale;
      y[o + i] = w ? v * w[i] : v;
    }
  }
}

// RoPE's cos and sin at position pos for the n_dims/2 pairs, into cs (cos in cs[0, half), sin in
// cs[half, n_dims)), as ggml_rope_cache_init with rope_yarn computes them (and the CPU reference's
// ropeCosSin): theta starts at pos and is multiplied by theta_scale = base^(-2/n_dims) per pair in
// f32; per pair the unscaled angle theta / freq_factors[i] (rope_freqs; null: 1) and the scaled
// one freq_scale times it are mixed by YaRN's ramp (1 below pair corr_lo, 0 above corr_hi) times
// ext_factor; cos and sin times attn_factor, which YaRN (ext_factor != 0) multiplies by
// 1 + 0.1 ln(1/freq_scale). pow, log, cos and sin in f64 rounded to f32, as the reference.
CPU_EXPORT(cpu_rope_cache) void cpu_rope_cache(float *cs, int pos, int n_dims, float base, float freq_scale, float ext_factor,
                                               float attn_factor, float corr_lo, float corr_hi, const float *freq_factors) {
  const int half = n_dims / 2;
  float mscale = attn_factor;
  if (ext_factor != 0.f) mscale = mscale * (1.0f + 0.1f * (float)log((double)(1.0f / freq_scale)));
  const float theta_scale = (float)pow((double)base, (double)(-2.0f / (float)n_dims));
  float theta = (float)pos;
  for (int i = 0; i < half; i++) {
    const float extrap = theta / (freq_factors ? freq_factors[i] : 1.0f);
    const float interp = freq_scale * extrap;
    float t = interp;
    if (ext_factor != 0.f) {
      const float y = (float)(i - corr_lo) / fmaxf(0.001f, corr_hi - corr_lo);
      const float mix = (1.0f - fminf(1.0f, fmaxf(0.0f, y))) * ext_factor;
      t = interp * (1.0f - mix) + extrap * mix;
    }
    cs[i] = (float)cos((double)t) * mscale;
    cs[half + i] = (float)sin((double)t) * mscale;
    theta = theta * theta_scale;
  }
}

// RoPE in place on n_heads heads of head_dim, the first n_dims of each, by the angles of cs
// (cpu_rope_cache): mode 0 pairs (x[2i], x[2i+1]), mode 2 (neox) pairs (x[i], x[i + n_dims/2]);
// ggml rotate_pairs: x0 cos - x1 sin, x0 sin + x1 cos.
CPU_EXPORT(cpu_rope) void cpu_rope(float *x, int n_heads, int head_dim, int n_dims, const float *cs, int mode) {
  const int half = n_dims / 2;
  const float *sn = cs + half;
  for (int h = 0; h < n_heads; h++) {
    float *v = x + h * head_dim;
    for (int i = 0; i < half; i++) {
      const int a = mode == 2 ? i : 2 * i, b = mode == 2 ? i + half : 2 * i + 1;
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * cs[i] - x1 * sn[i];
      v[b] = x0 * sn[i] + x1 * cs[i];
    }
  }
}

// ggml_vec_soft_max_f32 of x*scale (n values, -inf = masked), into y: exp(x - max) by the vector
// exp on full 16-lane vectors (each reduced in f32, summed in double), libm expf after them,
// then every value times (float)(1/sum). A sink logit (attention sinks, not scaled; null: none)
// joins the max and adds expf(sink - max) to the sum (ggml_soft_max_add_sinks).
static void softmax_sink(const float *x, float *y, int n, float scale, const float *sink) {
  float max = -INFINITY;
  for (int i = 0; i < n; i++) {
    y[i] = x[i] * scale;
    if (y[i] > max) max = y[i];
  }
  if (sink && *sink > max) max = *sink;
  double sum = 0;
  int i = 0;
  for (; i + LANES <= n; i += LANES) {
    for (int l = 0; l < LANES; l++) y[i + l] = cpu_exp_vec(y[i + l] - max);
    sum += reduce16(y + i);
  }
  for (; i < n; i++) sum += (y[i] = expf(y[i] - max));
  if (sink) sum += expf(*sink - max);
  const float inv = (float)(1 / sum);
  for (int j = 0; j < n; j++) y[j] *= inv;
}

CPU_EXPORT(cpu_softmax) void cpu_softmax(const float *x, float *y, int n, float scale) {
  softmax_sink(x, y, n, scale, NULL);
}

// SiLU of element i of a row of len (ggml_v_silu on full vectors, ggml_silu_f32 after them).
static inline float silu_at(float x, int i, int len) {
  const float e = i < len - len % LANES ? cpu_exp_vec(-x) : expf(-x);
  return x / (1.0f + e);
}

// y = silu(gate) * up over rows of len (ggml_vec_swiglu_f32).
CPU_EXPORT(cpu_swiglu) void cpu_swiglu(const float *gate, const float *up, float *y, int n, int len) {
  for (int i = 0; i < n; i++) y[i] = silu_at(gate[i], i % len, len) * up[i];
}

// y = silu(x) (ggml_vec_silu_f32), one row.
CPU_EXPORT(cpu_silu) void cpu_silu(const float *x, float *y, int n) {
  for (int i = 0; i < n; i++) y[i] = silu_at(x[i], i, n);
}

// gpt-oss's clamped SwiGLU (ggml_compute_forward_swiglu_oai_f32, alpha 1.702, limit 7):
// g = min(gate, 7), u = clamp(up, -7, 7), y = g / (1 + expf(-1.702 g)) * (u + 1), libm expf.
CPU_EXPORT(cpu_swiglu_oai) void cpu_swiglu_oai(const float *gate, const float *up, float *y, int n) {
  const float alpha = 1.702f, limit = 7.0f;
  for (int i = 0; i < n; i++) {
    const float g = fminf(gate[i], limit), u = fminf(fmaxf(up[i], -limit), limit);
    y[i] = g / (1.0f + expf(alpha * -g)) * (u + 1.0f);
  }
}

// GELU, tanh approximation, through ggml's f16 table (GGML_GELU_FP16): for -10 < x < 10, x
// rounded to f16 indexes results computed once in f32 and stored as f16; x <= -10 gives 0,
// x >= 10 gives x.
static float *gelu_table;

static float gelu_f32(float x) {
  const float a = 0.044715f, s = 0.79788456080286535587989211986876f;
  const float inner = (s * x) * (1.0f + (a * x) * x);
  return (0.5f * x) * (1.0f + tanhf(inner));
}

static inline float gelu(float x) {
  if (x <= -10.f) return 0.f;
  if (x >= 10.f) return x;
  return gelu_table[f32_to_f16(x)];
}

// y = gelu(gate) * up (ggml_vec_geglu_f32). Status: CPU_ERR_NOMEM if the table cannot be made.
CPU_EXPORT(cpu_geglu) int cpu_geglu(const float *gate, const float *up, float *y, int n) {
  if (!gelu_table) {
    float *t = malloc(65536 * sizeof(float));
    if (!t) return CPU_ERR_NOMEM;
    for (uint32_t h = 0; h < 65536; h++) t[h] = round_f16(gelu_f32(f16_to_f32((uint16_t)h)));
    gelu_table = t;
  }
  for (int i = 0; i < n; i++) y[i] = gelu(gate[i]) * up[i];
  return CPU_OK;
}

// Grouped-query attention of q (n_head * head_dim) over cached positions 0..n_kv-1 of kc, vc
// ((n_ctx, n_head_kv * head_dim) each, f32): per head kq = K·q, optional soft cap
// kq = softcap * tanh(kq * cap_scale), softmax(kq * kq_scale) over the positions padded to 16
// with -inf (ggml's masked KV cells), out = V·p. Positions before `first` are masked too (a
// sliding window); `sinks` (n_head, null: none) is each head's sink logit in the softmax. Both
// products are summed in f64 (ggml: f32 lanes, see quant.c on why). `scratch` holds
// 2 * (n_kv + 16) floats; head_dim <= 1024.
CPU_EXPORT(cpu_attend) void cpu_attend(const float *q, const float *kc, const float *vc, int n_kv, int first, int n_head, int n_head_kv,
                                       int head_dim, float kq_scale, float softcap, float cap_scale, const float *sinks,
                                       float *out, float *scratch) {
  const int kv_dim = n_head_kv * head_dim, group = n_head / n_head_kv;
  const int n_pad = (n_kv + LANES - 1) / LANES * LANES;
  float *kq = scratch, *p = scratch + n_pad;
  double acc[1024];
  if (head_dim > 1024) return;
  if (first < 0) first = 0;
  for (int h = 0; h < n_head; h++) {
    const float *qh = q + h * head_dim;
    const int ko = (h / group) * head_dim;
    for (int t = 0; t < first; t++) kq[t] = -INFINITY;
    for (int t = first; t < n_kv; t++) {
      const float *k = kc + (size_t)t * kv_dim + ko;
      v128_t a = wasm_f64x2_splat(0);
      int d = 0;
      for (; d + 2 <= head_dim; d += 2) {
        a = wasm_f64x2_add(a, wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4(wasm_v128_load64_zero(k + d)), wasm_f64x2_promote_low_f32x4(wasm_v128_load64_zero(qh + d))));
      }
      double s = wasm_f64x2_extract_lane(a, 0) + wasm_f64x2_extract_lane(a, 1);
      for (; d < head_dim; d++) s += (double)k[d] * qh[d];
      float f = (float)s;
      if (softcap != 0.f) f = tanhf(f * cap_scale) * softcap;
      kq[t] = f;
    }
    for (int t = n_kv; t < n_pad; t++) kq[t] = -INFINITY;
    softmax_sink(kq, p, n_pad, kq_scale, sinks ? sinks + h : NULL);
    for (int d = 0; d < head_dim; d++) acc[d] = 0;
    for (int t = first; t < n_kv; t++) {
      const float *v = vc + (size_t)t * kv_dim + ko;
      const v128_t pt = wasm_f64x2_splat(p[t]);
      int d = 0;
      for (; d + 2 <= head_dim; d += 2) {
        wasm_v128_store(acc + d, wasm_f64x2_add(wasm_v128_load(acc + d), wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4(wasm_v128_load64_zero(v + d)), pt)));
      }
      for (; d < head_dim; d++) acc[d] += (double)v[d] * p[t];
    }
    float *o = out + h * head_dim;
    for (int d = 0; d < head_dim; d++) o[d] = (float)acc[d];
  }
}

// y = a + b (ggml_add), y = a * s (ggml_scale), y += a * s (a routed expert's weighted output).
CPU_EXPORT(cpu_add) void cpu_add(const float *a, const float *b, float *y, int n) {
  for (int i = 0; i < n; i++) y[i] = a[i] + b[i];
}
CPU_EXPORT(cpu_scale) void cpu_scale(const float *a, float s, float *y, int n) {
  for (int i = 0; i < n; i++) y[i] = a[i] * s;
}
