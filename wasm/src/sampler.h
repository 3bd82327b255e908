// Token sampling over a logits vector: logit bias, repetition/presence/frequency penalties over
// the last accepted tokens, then greedy, or top-k -> top-p -> min-p -> temperature -> a seeded
// random draw (llama.cpp's default chain order). Deterministic: the same seed, logits and
// history give the same token in every WebAssembly engine.
#pragma once
#include "wm.h"

// Parameter keys of smp_set.
enum {
  WM_P_TEMPERATURE = 0,   // <= 0: greedy (argmax)
  WM_P_TOP_K = 1,         // <= 0: off
  WM_P_TOP_P = 2,         // >= 1: off
  WM_P_MIN_P = 3,         // <= 0: off
  WM_P_REPEAT = 4,        // 1: off; > 1 discourages repeats (positive logits divided, negative multiplied)
  WM_P_PRESENCE = 5,      // subtracted once from each token seen in the window
  WM_P_FREQUENCY = 6,     // subtracted once per occurrence in the window
  WM_P_LAST_N = 7,        // window of accepted tokens the penalties look at; 0: off
  WM_P_MIN_KEEP = 8,      // top-p and min-p keep at least this many tokens (>= 1)
};

typedef struct {
  int32_t n_vocab;
  float temperature, top_p, min_p, repeat, presence, frequency;
  int32_t top_k, last_n, min_keep;

  int32_t *bias_id;
  float *bias_val;
  int32_t n_bias;

  int32_t *ring;        // last `last_n` accepted tokens
  int32_t ring_n, ring_pos, ring_cap;
  int32_t *count;       // occurrences of each token in the ring
  uint32_t *stamp;      // per-token marker so a penalty applies once per distinct token
  uint32_t epoch;

  uint64_t rng[4];      // xoshiro256**

  float *logits;        // n_vocab: written by the caller before smp_sample
  float *work;          // n_vocab: exp values
  int32_t *cand;        // n_vocab: candidate ids
  float *cval;          // n_vocab: candidate logits
  double *blk;          // partial sums of `work` per block (vecmath.h)
  uint16_t *bidx;       // n_vocab: top-p bucket of each token
} wm_sampler;

int wm_sampler_init(wm_sampler *s, int32_t n_vocab);
void wm_sampler_free(wm_sampler *s);
void wm_sampler_seed(wm_sampler *s, uint64_t seed);
int wm_sampler_set(wm_sampler *s, int32_t key, float value);
int wm_sampler_accept(wm_sampler *s, int32_t id);
void wm_sampler_reset(wm_sampler *s);
int32_t wm_sampler_sample(wm_sampler *s);

// Uniform double in [0, 1) (53 random bits).
double wm_rng_uniform(uint64_t st[4]);
