// Byte-level BPE (tokenizer.ggml.model = "gpt2"), as llm_tokenizer_bpe_session::tokenize: the
// fragment is split into words by the pre-tokenizer, each word's bytes start as one symbol per
// byte (the GPT-2 character of that byte), and merges apply by rank. Merges are looked up by
// string id pairs, so a merge whose sides or result are missing from the vocabulary still
// behaves as llama.cpp's string-keyed table does.
#include <math.h>

#include "tok.h"
#include "unicode.h"

static double bpe_pair(wm_tok *t, const uint8_t *buf, const wm_sym *a, const wm_sym *b, int32_t *res) {
  (void)buf;
  if (a->id < 0 || b->id < 0) return INFINITY;
  uint32_t i = wm_hash_pair((uint32_t)a->id, (uint32_t)b->id) & t->pair_mask;
  for (;;) {
    const wm_pair_slot *p = &t->pairs[i];
    if (p->l == UINT32_MAX) return INFINITY;
    if (p->l == (uint32_t)a->id && p->r == (uint32_t)b->id) {
      *res = p->res;
      return (double)p->rank;
    }
    i = (i + 1) & t->pair_mask;
  }
}

// The GPT-2 characters of bytes w[0..n) into t->dec.
static int encode_bytes(wm_tok *t, const uint8_t *w, size_t n) {
  t->dec.n = 0;
  int st = wm_bytes_reserve(&t->dec, n * 2);
  if (st) return st;
  for (size_t i = 0; i < n; i++) t->dec.n += (size_t)wm_utf8_encode(wm_gpt2_byte_cp[w[i]], t->dec.p + t->dec.n);
  return WM_OK;
}

// A final symbol that is not a token: each byte of its GPT-2 text that is itself a one-byte
// token is emitted, the others are dropped (llama.cpp does the same).
static int emit_fallback(wm_tok *t, const uint8_t *w, size_t n) {
  int st = encode_bytes(t, w, n);
  for (size_t i = 0; i < t->dec.n && !st; i++) {
    int32_t id = wm_tok_find(t, &t->dec.p[i], 1);
    if (id >= 0 && id < t->n_vocab) st = wm_ints_push(&t->out, id);
  }
  return st;
}

static int bpe_word(wm_tok *t, const uint8_t *w, size_t n) {
  int st;
  if (t->ignore_merges) {
    // A word that is already a token is emitted whole (llama3 family).
    if ((st = encode_bytes(t, w, n))) return st;
    int32_t id = wm_tok_find(t, t->dec.p, t->dec.n);
    if (id >= 0 && id < t->n_vocab) return wm_ints_push(&t->out, id);
  }
  if (n > 0xFFFFFFF) return WM_ERR_TOO_LARGE;
  if (n > t->syms_cap && (st = wm_grow((void **)&t->syms, &t->syms_cap, n, sizeof(wm_sym)))) return st;
  wm_sym *s = t->syms;
  for (size_t i = 0; i < n; i++) {
    s[i].prev = (int32_t)i - 1;
    s[i].next = i + 1 < n ? (int32_t)i + 1 : -1;
    s[i].start = (uint32_t)i;
    s[i].len = 1;
    s[i].id = t->byte_sym[w[i]];
  }
  if ((st = wm_merge(t, w, n, bpe_pair))) return st;
  for (int32_t i = 0; i >= 0; i = s[i].next) {
    if (s[i].id >= 0 && s[i].id < t->n_vocab) st = wm_ints_push(&t->out, s[i].id);
    else st = emit_fallback(t, w + s[i].start, s[i].len);
    if (st) return st;
  }
  return WM_OK;
}

// Word callback of the pre-tokenizer: code points [a, b) back to UTF-8, then BPE.
static int on_word(void *ctx, size_t a, size_t b) {
  wm_tok *t = ctx;
  t->word.n = 0;
  int st = wm_bytes_reserve(&t->word, (b - a) * 4);
  if (st) return st;
  for (size_t i = a; i < b; i++) t->word.n += (size_t)wm_utf8_encode(t->cps[i], t->word.p + t->word.n);
  return bpe_word(t, t->word.p, t->word.n);
}

int wm_bpe_fragment(wm_tok *t, const uint8_t *s, size_t n) {
  int st;
  if (n > t->cps_cap && (st = wm_grow((void **)&t->cps, &t->cps_cap, n, sizeof(uint32_t)))) return st;
  size_t m = wm_utf8_decode(s, n, t->cps);
  return wm_pretok_split(t->split, t->cps, m, on_word, t);
}
