// Exports of sampler.wasm (see tok_api.c for the conventions).
#include "sampler.h"
#include "stop.h"

WM_EXPORT(wm_malloc) void *wm_malloc(size_t n) { return malloc(n ? n : 1); }
WM_EXPORT(wm_free) void wm_free(void *p) { free(p); }

WM_EXPORT(smp_create) wm_sampler *smp_create(int32_t n_vocab, int32_t *status) {
  if (!in_memory((uint32_t)(uintptr_t)status, 4)) return NULL;
  wm_sampler *s = malloc(sizeof(wm_sampler));
  if (!s) { *status = WM_ERR_NOMEM; return NULL; }
  int st = wm_sampler_init(s, n_vocab);
  if (st) { wm_sampler_free(s); free(s); *status = st; return NULL; }
  *status = WM_OK;
  return s;
}

WM_EXPORT(smp_destroy) void smp_destroy(wm_sampler *s) {
  if (!s) return;
  wm_sampler_free(s);
  free(s);
}

// Where the caller writes the n_vocab logits before each smp_sample (they are modified in place).
WM_EXPORT(smp_logits) float *smp_logits(wm_sampler *s) { return s ? s->logits : NULL; }

WM_EXPORT(smp_set) int32_t smp_set(wm_sampler *s, int32_t key, float value) {
  return s ? wm_sampler_set(s, key, value) : WM_ERR_ARG;
}

WM_EXPORT(smp_seed) int32_t smp_seed(wm_sampler *s, uint32_t lo, uint32_t hi) {
  if (!s) return WM_ERR_ARG;
  wm_sampler_seed(s, ((uint64_t)hi << 32) | lo);
  return WM_OK;
}

// Replaces the logit bias: ids[0..n) get vals[0..n) added before sampling (-inf bans a token).
WM_EXPORT(smp_set_bias) int32_t smp_set_bias(wm_sampler *s, const int32_t *ids, const float *vals, int32_t n) {
  if (!s || n < 0) return WM_ERR_ARG;
  if (n && (!in_memory((uint32_t)(uintptr_t)ids, (uint64_t)n * 4) || !in_memory((uint32_t)(uintptr_t)vals, (uint64_t)n * 4))) return WM_ERR_ARG;
  for (int32_t i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= s->n_vocab || vals[i] != vals[i]) return WM_ERR_ARG;
  }
  int32_t *ni = malloc(((size_t)n + 1) * sizeof(int32_t));
  float *nv = malloc(((size_t)n + 1) * sizeof(float));
  if (!ni || !nv) { free(ni); free(nv); return WM_ERR_NOMEM; }
  if (n) { memcpy(ni, ids, (size_t)n * 4); memcpy(nv, vals, (size_t)n * 4); }
  free(s->bias_id); free(s->bias_val);
  s->bias_id = ni; s->bias_val = nv; s->n_bias = n;
  return WM_OK;
}

// Records a generated (or prompt) token for the penalties.
WM_EXPORT(smp_accept) int32_t smp_accept(wm_sampler *s, int32_t id) { return s ? wm_sampler_accept(s, id) : WM_ERR_ARG; }
WM_EXPORT(smp_reset) int32_t smp_reset(wm_sampler *s) { if (!s) return WM_ERR_ARG; wm_sampler_reset(s); return WM_OK; }

// Samples from the logits at smp_logits; returns the token id or a status.
WM_EXPORT(smp_sample) int32_t smp_sample(wm_sampler *s) { return s ? wm_sampler_sample(s) : WM_ERR_ARG; }

// Uniform draw in [0, 1) from the sampler's generator (tests of the generator itself).
WM_EXPORT(smp_uniform) double smp_uniform(wm_sampler *s) { return s ? wm_rng_uniform(s->rng) : -1.0; }

WM_EXPORT(stop_create) wm_stop *stop_create(const uint8_t *blob, const uint32_t *off, int32_t n, int32_t *status) {
  if (!in_memory((uint32_t)(uintptr_t)status, 4)) return NULL;
  if (n < 0 || (n && !in_memory((uint32_t)(uintptr_t)off, ((uint64_t)n + 1) * 4)) ||
      (n && off[n] && !in_memory((uint32_t)(uintptr_t)blob, off[n]))) { *status = WM_ERR_ARG; return NULL; }
  wm_stop *s = malloc(sizeof(wm_stop));
  if (!s) { *status = WM_ERR_NOMEM; return NULL; }
  int st = wm_stop_init(s, blob, off, n);
  if (st) { wm_stop_free(s); free(s); *status = st; return NULL; }
  *status = WM_OK;
  return s;
}

WM_EXPORT(stop_feed) int32_t stop_feed(wm_stop *s, const uint8_t *b, uint32_t n, int32_t final) {
  if (!s || (n && !in_memory((uint32_t)(uintptr_t)b, n))) return WM_ERR_ARG;
  return wm_stop_feed(s, b, n, final != 0);
}
WM_EXPORT(stop_bytes) const uint8_t *stop_bytes(wm_stop *s) { return s ? s->out.p : NULL; }
// Index of the stop string found, or -1.
WM_EXPORT(stop_found) int32_t stop_found(wm_stop *s) { return s && s->stopped ? s->which : -1; }
WM_EXPORT(stop_destroy) void stop_destroy(wm_stop *s) {
  if (!s) return;
  wm_stop_free(s);
  free(s);
}
