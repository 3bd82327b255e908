// See sampler.h. Costs per token over a vocabulary of n: one SIMD pass for the maximum, one for
// top-k (a k-entry heap fed only by values above its minimum) or for exp() (a polynomial, 4 lanes
// at a time, with partial sums per block so the draw skips whole blocks); sorting touches only
// the candidates that survive, and top-p over the whole vocabulary sorts only its last bucket.
#include "sampler.h"

#include <math.h>
#include <wasm_simd128.h>

#include "vecmath.h"

// ---- random numbers: xoshiro256** seeded through splitmix64 ---------------------------------

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

double wm_rng_uniform(uint64_t s[4]) {
  uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
  s[2] ^= t; s[3] = rotl(s[3], 45);
  return (double)(r >> 11) * 0x1.0p-53;
}

void wm_sampler_seed(wm_sampler *s, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) s->rng[i] = splitmix64(&x);
}

// ---- state ----------------------------------------------------------------------------------

int wm_sampler_init(wm_sampler *s, int32_t n) {
  memset(s, 0, sizeof(*s));
  if (n <= 0) return WM_ERR_ARG;
  s->n_vocab = n;
  s->temperature = 1.0f; s->top_p = 1.0f; s->repeat = 1.0f; s->min_keep = 1;
  size_t sz = (size_t)n + 4;  // +4: SIMD loads never read past the end
  s->logits = calloc(sz, sizeof(float));
  s->work = calloc(sz, sizeof(float));
  s->cand = calloc(sz, sizeof(int32_t));
  s->cval = calloc(sz, sizeof(float));
  s->count = calloc(sz, sizeof(int32_t));
  s->stamp = calloc(sz, sizeof(uint32_t));
  s->blk = calloc((size_t)n / WM_BLOCK + 2, sizeof(double));
  s->bidx = calloc(sz, sizeof(uint16_t));
  if (!s->logits || !s->work || !s->cand || !s->cval || !s->count || !s->stamp || !s->blk || !s->bidx) return WM_ERR_NOMEM;
  wm_sampler_seed(s, 0);
  return WM_OK;
}

void wm_sampler_free(wm_sampler *s) {
  free(s->logits); free(s->work); free(s->cand); free(s->cval); free(s->count); free(s->stamp);
  free(s->blk); free(s->bidx);
  free(s->ring); free(s->bias_id); free(s->bias_val);
  memset(s, 0, sizeof(*s));
}

void wm_sampler_reset(wm_sampler *s) {
  for (int32_t i = 0; i < s->ring_n; i++) s->count[s->ring[i]] = 0;
  s->ring_n = s->ring_pos = 0;
}

int wm_sampler_set(wm_sampler *s, int32_t key, float v) {
  if (v != v) return WM_ERR_ARG;  // NaN
  switch (key) {
    case WM_P_TEMPERATURE: s->temperature = v; return WM_OK;
    case WM_P_TOP_K: s->top_k = v < 0 ? 0 : (v > (float)s->n_vocab ? s->n_vocab : (int32_t)v); return WM_OK;
    case WM_P_TOP_P: s->top_p = v; return WM_OK;
    case WM_P_MIN_P: s->min_p = v; return WM_OK;
    case WM_P_REPEAT: if (v <= 0) return WM_ERR_ARG; s->repeat = v; return WM_OK;
    case WM_P_PRESENCE: s->presence = v; return WM_OK;
    case WM_P_FREQUENCY: s->frequency = v; return WM_OK;
    case WM_P_MIN_KEEP: s->min_keep = v < 1 ? 1 : (int32_t)v; return WM_OK;
    case WM_P_LAST_N: {
      if (v < 0 || v > 1 << 20) return WM_ERR_ARG;
      wm_sampler_reset(s);
      free(s->ring);
      s->ring = NULL;
      s->ring_cap = s->last_n = (int32_t)v;
      if (s->last_n && !(s->ring = malloc((size_t)s->last_n * sizeof(int32_t)))) { s->ring_cap = s->last_n = 0; return WM_ERR_NOMEM; }
      return WM_OK;
    }
  }
  return WM_ERR_ARG;
}

int wm_sampler_accept(wm_sampler *s, int32_t id) {
  if (id < 0 || id >= s->n_vocab) return WM_ERR_ARG;
  if (!s->last_n) return WM_OK;
  if (s->ring_n == s->last_n) s->count[s->ring[s->ring_pos]]--;
  else s->ring_n++;
  s->ring[s->ring_pos] = id;
  s->count[id]++;
  s->ring_pos = (s->ring_pos + 1) % s->last_n;
  return WM_OK;
}

// ---- sampling -------------------------------------------------------------------------------

// Sets l[id] = x (NaN as -inf), keeping *max the maximum or flagging that it must be recomputed.
static inline void update(float *l, int32_t id, float x, float *max, int *stale) {
  if (x != x) x = -INFINITY;
  if (l[id] == *max && x < *max) *stale = 1;
  if (x > *max) *max = x;
  l[id] = x;
}

// Logit bias, then the penalties; returns the new maximum given the old one.
static float apply_bias_and_penalties(wm_sampler *s, float max) {
  float *l = s->logits;
  int stale = 0;
  for (int32_t i = 0; i < s->n_bias; i++) update(l, s->bias_id[i], l[s->bias_id[i]] + s->bias_val[i], &max, &stale);
  if (s->ring_n && (s->repeat != 1.0f || s->presence != 0.0f || s->frequency != 0.0f)) {
    s->epoch++;
    for (int32_t j = 0; j < s->ring_n; j++) {
      int32_t id = s->ring[j];
      if (s->stamp[id] == s->epoch) continue;
      s->stamp[id] = s->epoch;
      float x = l[id];
      x = x <= 0 ? x * s->repeat : x / s->repeat;
      update(l, id, x - (float)s->count[id] * s->frequency - s->presence, &max, &stale);
    }
  }
  return stale ? wm_max_sanitize(l, s->n_vocab) : max;
}

// "a ranks before b": higher logit, then lower id.
static inline int before(float va, int32_t a, float vb, int32_t b) { return va > vb || (va == vb && a < b); }

static void sort_cands(int32_t *id, float *v, int32_t n) {
  // Insertion sort for short lists, heap sort beyond (no allocation, deterministic).
  if (n <= 64) {
    for (int32_t i = 1; i < n; i++) {
      int32_t ki = id[i]; float kv = v[i]; int32_t j = i - 1;
      while (j >= 0 && before(kv, ki, v[j], id[j])) { id[j + 1] = id[j]; v[j + 1] = v[j]; j--; }
      id[j + 1] = ki; v[j + 1] = kv;
    }
    return;
  }
  // Heap sort with the "last" element at the root, then reversed order fill.
  for (int32_t start = n / 2 - 1, end = n;; ) {
    int32_t root;
    if (start >= 0) root = start--;
    else {
      if (--end <= 0) break;
      int32_t ti = id[0]; float tv = v[0]; id[0] = id[end]; v[0] = v[end]; id[end] = ti; v[end] = tv;
      root = 0;
    }
    for (;;) {
      int32_t c = 2 * root + 1;
      if (c >= end) break;
      if (c + 1 < end && before(v[c], id[c], v[c + 1], id[c + 1])) c++;  // c = the later-ranked child
      if (!before(v[root], id[root], v[c], id[c])) break;
      int32_t ti = id[root]; float tv = v[root]; id[root] = id[c]; v[root] = v[c]; id[c] = ti; v[c] = tv;
      root = c;
    }
  }
}

// The k best (logit, id) into cand/cval, sorted best first.
static int32_t top_k(wm_sampler *s, int32_t k) {
  const float *l = s->logits;
  int32_t *hid = s->cand, n = s->n_vocab, m = 0;
  float *hv = s->cval;
  // Min-heap on "rank": the root is the worst of the kept k.
  #define WORSE(a, b) before(hv[b], hid[b], hv[a], hid[a])
  for (int32_t i = 0; i < n; i++) {
    if (m == k) {
      // Skip blocks of four that cannot enter (the common case).
      if ((i & 3) == 0 && i + 4 <= n &&
          !wasm_v128_any_true(wasm_f32x4_gt(wasm_v128_load(l + i), wasm_f32x4_splat(hv[0])))) { i += 3; continue; }
      if (!(l[i] > hv[0])) continue;
      hv[0] = l[i]; hid[0] = i;
      for (int32_t r = 0;;) {
        int32_t c = 2 * r + 1;
        if (c >= m) break;
        if (c + 1 < m && WORSE(c + 1, c)) c++;
        if (!WORSE(c, r)) break;
        float tv = hv[r]; int32_t ti = hid[r]; hv[r] = hv[c]; hid[r] = hid[c]; hv[c] = tv; hid[c] = ti;
        r = c;
      }
      continue;
    }
    hv[m] = l[i]; hid[m] = i;
    for (int32_t c = m++; c > 0;) {
      int32_t p = (c - 1) / 2;
      if (!WORSE(c, p)) break;
      float tv = hv[p]; int32_t ti = hid[p]; hv[p] = hv[c]; hid[p] = hid[c]; hv[c] = tv; hid[c] = ti;
      c = p;
    }
  }
  #undef WORSE
  sort_cands(hid, hv, m);
  return m;
}

// Nucleus over the whole vocabulary: the best tokens whose probabilities (at temperature 1) sum
// to at least top_p. Tokens are bucketed by distance below the maximum; every bucket before the
// one where the mass reaches top_p is taken whole (those tokens all rank above the rest), and
// only that last bucket is sorted to find where the nucleus ends. Candidates end up in cand/cval:
// the whole buckets in id order, then the sorted part. Returns their number.
#define NB 1024
#define BUCKETS_PER_NAT 16.0f
static int32_t top_p_all(wm_sampler *s, float max) {
  int32_t n = s->n_vocab;
  double total = wm_exp_blocks(s->logits, s->work, n, max, 1.0f, s->blk);
  double target = (double)s->top_p * total, bsum[NB] = {0}, cum = 0;
  wm_buckets(s->logits, s->bidx, n, max, BUCKETS_PER_NAT, NB);
  for (int32_t i = 0; i < n; i++) bsum[s->bidx[i]] += s->work[i];
  int last = NB - 1;
  for (int b = 0; b < NB; b++) {
    if (cum + bsum[b] >= target) { last = b; break; }
    cum += bsum[b];
  }
  // One pass: whole buckets to the front of cand (id order), the last bucket to the back of
  // cand/cval (reversed id order: it is sorted next anyway).
  int32_t m = 0, k = 0;
  for (int32_t i = 0; i < n; i++) {
    uint16_t b = s->bidx[i];
    if (b < last) { s->cand[m] = i; s->cval[m] = s->logits[i]; m++; }
    else if (b == last) { k++; s->cand[n - k] = i; s->cval[n - k] = s->logits[i]; }
  }
  memmove(s->cand + m, s->cand + n - k, (size_t)k * sizeof(int32_t));
  memmove(s->cval + m, s->cval + n - k, (size_t)k * sizeof(float));
  sort_cands(s->cand + m, s->cval + m, k);
  int32_t end = m;
  for (int32_t j = 0; j < k; j++) {
    cum += s->work[s->cand[m + j]];
    end = m + j + 1;
    if (cum >= target && end >= s->min_keep) break;
  }
  if (end < s->min_keep && s->min_keep < n) return top_k(s, s->min_keep);
  return end;
}

// Cut a best-first candidate list (the top-k) to its nucleus.
static int32_t top_p_sorted(wm_sampler *s, int32_t m) {
  double total = wm_exp_blocks(s->cval, s->work, m, s->cval[0], 1.0f, s->blk), cum = 0, target = (double)s->top_p * total;
  for (int32_t i = 0; i < m; i++) {
    cum += s->work[i];
    if (cum >= target && i + 1 >= s->min_keep) return i + 1;
  }
  return m;
}

static int32_t draw(wm_sampler *s, const float *v, const int32_t *ids, int32_t m, float max) {
  double total = wm_exp_blocks(v, s->work, m, max, 1.0f / s->temperature, s->blk);
  int32_t i = wm_walk(s->work, s->blk, m, wm_rng_uniform(s->rng) * total);
  if (i < 0) return WM_ERR_ARG;
  return ids ? ids[i] : i;
}

int32_t wm_sampler_sample(wm_sampler *s) {
  int32_t n = s->n_vocab;
  float *l = s->logits;
  float max = wm_max_sanitize(l, n);  // NaN logits become -inf: never sampled
  max = apply_bias_and_penalties(s, max);
  if (max == -INFINITY) return WM_ERR_ARG;  // every token is banned
  if (s->temperature <= 0 || max == INFINITY) return wm_first_equal(l, n, max);
  int32_t m = n;           // candidates: the whole vocabulary until a filter runs
  int listed = 0;          // candidates are in cand/cval
  int sorted = 0;          // ... and sorted best first
  if (s->top_k > 0 && s->top_k < n) { m = top_k(s, s->top_k); listed = sorted = 1; }
  if (s->top_p < 1.0f) {
    if (listed) m = top_p_sorted(s, m);
    else { m = top_p_all(s, max); listed = 1; }
  }
  if (s->min_p > 0.0f) {
    float floor_ = max + logf(s->min_p);
    int32_t k = 0;
    if (listed) {
      // Keep the candidates at or above the floor, or the min_keep best if fewer are.
      for (int32_t i = 0; i < m; i++) k += s->cval[i] >= floor_;
      if (k < s->min_keep) {
        if (!sorted) sort_cands(s->cand, s->cval, m);
        k = s->min_keep < m ? s->min_keep : m;
      } else {
        k = 0;
        for (int32_t i = 0; i < m; i++) {
          if (s->cval[i] >= floor_) { s->cand[k] = s->cand[i]; s->cval[k] = s->cval[i]; k++; }
        }
      }
    } else {
      for (int32_t i = 0; i < n; i++) if (l[i] >= floor_) { s->cand[k] = i; s->cval[k] = l[i]; k++; }
      if (k < s->min_keep) k = top_k(s, s->min_keep);
    }
    m = k;
    listed = 1;
  }
  if (!listed) return draw(s, l, NULL, n, max);
  return draw(s, s->cval, s->cand, m, max);  // every filter keeps the maximum
}
