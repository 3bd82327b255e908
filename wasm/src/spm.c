// SentencePiece BPE (tokenizer.ggml.model = "llama"), as llm_tokenizer_spm_session: spaces become
// U+2581, the text starts as one symbol per UTF-8 character (by lead byte, unvalidated), the
// adjacent pair whose concatenation is the highest-scoring token merges first, and a final
// symbol that is not a token falls back to byte tokens (<0xXX>).
#include <math.h>

#include "tok.h"
#include "unicode.h"

static double spm_pair(wm_tok *t, const uint8_t *buf, const wm_sym *a, const wm_sym *b, int32_t *res) {
  int32_t id = wm_tok_find(t, buf + a->start, (size_t)a->len + b->len);
  if (id < 0 || id >= t->n_vocab) return INFINITY;
  *res = id;
  return -(double)t->score[id];  // higher score merges first
}

static int emit_symbol(wm_tok *t, const uint8_t *buf, const wm_sym *s) {
  int32_t id = s->id >= 0 ? s->id : wm_tok_find(t, buf + s->start, s->len);
  if (id >= 0 && id < t->n_vocab) return wm_ints_push(&t->out, id);
  for (uint32_t j = 0; j < s->len; j++) {
    int32_t b = t->byte_sym[buf[s->start + j]];
    if (b < 0) return WM_ERR_BYTE_TOKEN;
    int st = wm_ints_push(&t->out, b);
    if (st) return st;
  }
  return WM_OK;
}

static inline int is_ws_mark(const uint8_t *p, size_t avail) {
  return avail >= 3 && p[0] == 0xE2 && p[1] == 0x96 && p[2] == 0x81;
}

// Merges the symbols of buf[from..to) (which start at character boundaries) and emits them.
static int run_chunk(wm_tok *t, const uint8_t *buf, size_t from, size_t to) {
  size_t k = 0, n = 0;
  for (size_t o = from; o < to; n++) o += (size_t)wm_utf8_len(buf[o]);
  int st;
  if (n > t->syms_cap && (st = wm_grow((void **)&t->syms, &t->syms_cap, n, sizeof(wm_sym)))) return st;
  wm_sym *s = t->syms;
  for (size_t o = from; o < to; k++) {
    size_t len = (size_t)wm_utf8_len(buf[o]);
    if (len > to - o) len = to - o;
    s[k].prev = (int32_t)k - 1;
    s[k].next = o + len < to ? (int32_t)k + 1 : -1;
    s[k].start = (uint32_t)o;
    s[k].len = (uint32_t)len;
    s[k].id = -1;
    o += len;
  }
  if ((st = wm_merge(t, buf, n, spm_pair))) return st;
  for (int32_t i = 0; n && i >= 0; i = s[i].next) {
    if ((st = emit_symbol(t, buf, &s[i]))) return st;
  }
  return WM_OK;
}

int wm_spm_fragment(wm_tok *t, const uint8_t *s, size_t n, int prefix_space) {
  // Escaped text: optional leading space, every ' ' as U+2581.
  t->text.n = 0;
  int st = wm_bytes_reserve(&t->text, (n + 1) * 3);
  if (st) return st;
  uint8_t *o = t->text.p;
  size_t m = 0;
  if (prefix_space) { o[m++] = 0xE2; o[m++] = 0x96; o[m++] = 0x81; }
  for (size_t i = 0; i < n; i++) {
    if (s[i] == ' ') { o[m++] = 0xE2; o[m++] = 0x96; o[m++] = 0x81; }
    else o[m++] = s[i];
  }
  t->text.n = m;
  if (m > 0xFFFFFFF) return WM_ERR_TOO_LARGE;
  if (!t->spm_chunkable) return run_chunk(t, o, 0, m);
  // Cut before each U+2581 that follows another character (see spm_chunkable in vocab.c).
  size_t from = 0, pos = 0;
  int prev_mark = 0;
  while (pos < m) {
    int mark = is_ws_mark(o + pos, m - pos);
    if (mark && pos > from && !prev_mark) {
      if ((st = run_chunk(t, o, from, pos))) return st;
      from = pos;
    }
    size_t len = (size_t)wm_utf8_len(o[pos]);
    prev_mark = mark && len == 3;
    pos += len < m - pos ? len : m - pos;
  }
  return run_chunk(t, o, from, m);
}
