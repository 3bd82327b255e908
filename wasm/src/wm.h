// Shared by the tokenizer and the sampler: status codes, exports, growable buffers.
// Every exported function returns a status (< 0) instead of trapping or exiting; every index that
// comes from outside is bounds-checked before use.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WM_EXPORT(name) __attribute__((export_name(#name), used))

// Status codes; src/tokenizer/errors.ts maps them to TokenizerError codes.
enum {
  WM_OK = 0,
  WM_ERR_NOMEM = -1,        // memory could not grow (input too large for this tab)
  WM_ERR_ARG = -2,          // null pointer, negative length, bad option
  WM_ERR_VOCAB = -3,        // vocabulary is empty or inconsistent
  WM_ERR_MODEL = -4,        // tokenizer.ggml.model not supported
  WM_ERR_PRE = -5,          // tokenizer.ggml.pre not supported
  WM_ERR_TOKEN = -6,        // token id out of range
  WM_ERR_STATE = -7,        // call made in the wrong state (e.g. encode before finalize)
  WM_ERR_BYTE_TOKEN = -8,   // byte fallback needs a <0xXX> token the vocabulary lacks
  WM_ERR_TOO_LARGE = -9,    // input length beyond 2^31 bytes
  WM_ERR_NO_BOS = -10,      // add_bos is set but the vocabulary has no BOS token
  WM_ERR_NO_EOS = -11,      // add_eos is set but the vocabulary has no EOS token
};

// Growable byte buffer.
typedef struct {
  uint8_t *p;
  size_t n, cap;
} wm_bytes;

// Growable int32 buffer.
typedef struct {
  int32_t *p;
  size_t n, cap;
} wm_ints;

static inline int wm_grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return WM_OK;
  size_t c = *cap ? *cap : 64;
  while (c < need) {
    if (c > ((size_t)1 << 30)) { c = need; break; }
    c *= 2;
  }
  if (c > SIZE_MAX / elem) return WM_ERR_NOMEM;
  void *q = realloc(*p, c * elem);
  if (!q) return WM_ERR_NOMEM;
  *p = q;
  *cap = c;
  return WM_OK;
}

static inline int wm_bytes_reserve(wm_bytes *b, size_t extra) {
  if (extra > SIZE_MAX - b->n) return WM_ERR_NOMEM;
  return wm_grow((void **)&b->p, &b->cap, b->n + extra, 1);
}

static inline int wm_bytes_push(wm_bytes *b, const uint8_t *src, size_t n) {
  int st = wm_bytes_reserve(b, n);
  if (st) return st;
  if (n) memcpy(b->p + b->n, src, n);
  b->n += n;
  return WM_OK;
}

static inline int wm_ints_push(wm_ints *v, int32_t x) {
  if (v->n == v->cap) {
    int st = wm_grow((void **)&v->p, &v->cap, v->n + 1, sizeof(int32_t));
    if (st) return st;
  }
  v->p[v->n++] = x;
  return WM_OK;
}

static inline void wm_bytes_free(wm_bytes *b) { free(b->p); b->p = NULL; b->n = b->cap = 0; }
static inline void wm_ints_free(wm_ints *v) { free(v->p); v->p = NULL; v->n = v->cap = 0; }

// FNV-1a over bytes: token texts are short, so a byte loop is as fast as anything fancier.
static inline uint32_t wm_hash_bytes(const uint8_t *s, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
  return h;
}

// Mixes two 32-bit ids into a table index (murmur3 finalizer).
static inline uint32_t wm_hash_pair(uint32_t a, uint32_t b) {
  uint32_t h = a * 0x9E3779B1u ^ (b + 0x7F4A7C15u + (a << 6) + (a >> 2));
  h ^= h >> 16; h *= 0x85EBCA6Bu; h ^= h >> 13; h *= 0xC2B2AE35u; h ^= h >> 16;
  return h;
}

// True when [ptr, ptr + len) lies inside this module's linear memory (and ptr is not null).
static inline int in_memory(uint32_t ptr, uint64_t len) {
  uint64_t mem = (uint64_t)__builtin_wasm_memory_size(0) * 65536u;
  return ptr != 0 && (uint64_t)ptr + len <= mem;
}

// Exported allocator, so TypeScript can place inputs in this module's memory.
void *wm_malloc(size_t n);
void wm_free(void *p);
