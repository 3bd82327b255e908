// Token ids back to text: llama_vocab::impl::detokenize (pieces, the leading space SentencePiece
// added, clean_up_tokenization_spaces), and a streaming decoder that only ever releases whole
// UTF-8 characters, holding back a character split across tokens until it completes.
#include "detok.h"

int32_t wm_piece(const wm_tok *t, int32_t id, int special, const uint8_t **p) {
  if (id < 0 || id >= t->n_vocab) return WM_ERR_TOKEN;
  if (!special && (t->attr[id] & (WM_ATTR_UNKNOWN | WM_ATTR_CONTROL))) { *p = t->piece.p; return 0; }
  *p = t->piece.p + t->piece_off[id];
  return (int32_t)(t->piece_off[id + 1] - t->piece_off[id]);
}

// clean_up_tokenization_spaces, in place; returns the new length. Three passes as in llama.cpp:
// " ?" " !" " ." " ," lose the space; a lone "'" between spaces loses both; " 's" " 'm" " 're"
// " 've" lose the space.
static size_t clean_spaces(uint8_t *s, size_t total) {
  if (total == 0) return 0;
  size_t n = total, w = 1;
  for (size_t i = 1; i < n; i++) {
    uint8_t x = s[i];
    if (s[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) w--;
    s[w++] = x;
  }
  n = w; w = 1;
  for (size_t i = 1; i < n; i++) {
    uint8_t x = s[i];
    if (x == '\'' && i + 1 < n && s[i - 1] == ' ' && s[i + 1] == ' ') {
      w--;
      s[++i] = 0;  // the next space is overwritten and skipped, as llama.cpp does
    }
    s[w++] = x;
  }
  n = w; w = 1;
  for (size_t i = 1; i < n; i++) {
    uint8_t x = s[i];
    if (s[i - 1] == ' ' && x == '\'' && i + 1 < n) {
      uint8_t x1 = s[i + 1];
      if (x1 == 's' || x1 == 'm') w--;
      else if (x1 != 't' && x1 != 'd' && i + 2 < n) {
        uint8_t x2 = s[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) w--;
      }
    }
    s[w++] = x;
  }
  return w;
}

int32_t wm_detokenize(wm_tok *t, const int32_t *ids, size_t n, int remove_special, int special, wm_bytes *out) {
  out->n = 0;
  int remove_space = t->add_space_prefix;
  int32_t bos = t->special[WM_SP_BOS], eos = t->special[WM_SP_EOS];
  if (remove_special && t->add_bos && n > 0 && ids[0] == bos) { remove_space = 0; ids++; n--; }
  if (remove_special && t->add_eos && n > 0 && ids[n - 1] == eos) n--;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *p;
    int32_t len = wm_piece(t, ids[i], special, &p);
    if (len < 0) return len;
    if (remove_space && len > 0 && p[0] == ' ') { p++; len--; }
    remove_space = 0;
    int st = wm_bytes_push(out, p, (size_t)len);
    if (st) return st;
  }
  if (t->clean_spaces) out->n = clean_spaces(out->p, out->n);
  if (out->n > 0x7FFFFFFF) return WM_ERR_TOO_LARGE;
  return (int32_t)out->n;
}

// ---- streaming ------------------------------------------------------------------------------

static const uint8_t FFFD[3] = {0xEF, 0xBF, 0xBD};

// Appends the valid UTF-8 prefix of s to out (each ill-formed subsequence as U+FFFD, as the
// WHATWG decoder does) and returns how many trailing bytes form an incomplete, so far valid,
// character; with `final` those become U+FFFD too.
static int utf8_release(const uint8_t *s, size_t n, int final, wm_bytes *out, size_t *held) {
  size_t i = 0;
  int st;
  *held = 0;
  while (i < n) {
    uint8_t b = s[i];
    if (b < 0x80) { if ((st = wm_bytes_push(out, &b, 1))) return st; i++; continue; }
    int need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) need = 1;
    else if (b >= 0xE0 && b <= 0xEF) { need = 2; if (b == 0xE0) lo = 0xA0; if (b == 0xED) hi = 0x9F; }
    else if (b >= 0xF0 && b <= 0xF4) { need = 3; if (b == 0xF0) lo = 0x90; if (b == 0xF4) hi = 0x8F; }
    else { if ((st = wm_bytes_push(out, FFFD, 3))) return st; i++; continue; }
    size_t j = i + 1;
    int k = 0, bad = 0;
    while (k < need) {
      if (j >= n) break;
      uint8_t c = s[j];
      if (c < (k == 0 ? lo : 0x80) || c > (k == 0 ? hi : 0xBF)) { bad = 1; break; }
      j++; k++;
    }
    if (k == need) { if ((st = wm_bytes_push(out, s + i, j - i))) return st; i = j; continue; }
    if (!bad && !final) { *held = n - i; return WM_OK; }  // incomplete at the end: wait
    if ((st = wm_bytes_push(out, FFFD, 3))) return st;  // ill-formed: one U+FFFD, resume at j
    i = j;
  }
  return WM_OK;
}

int32_t wm_stream_push(wm_stream *s, int32_t id, int final) {
  s->out.n = 0;
  uint8_t buf[4 + 64];
  const uint8_t *p = NULL;
  int32_t len = 0;
  if (id >= 0) {
    len = wm_piece(s->t, id, s->special, &p);
    if (len < 0) return len;
  }
  // Work on pending bytes + piece; short pieces avoid an allocation.
  const uint8_t *src;
  size_t n = s->npend + (size_t)len;
  uint8_t *heap = NULL;
  if (n <= sizeof(buf)) src = buf;
  else if (!(src = heap = malloc(n))) return WM_ERR_NOMEM;
  memcpy((uint8_t *)src, s->pend, s->npend);
  if (len) memcpy((uint8_t *)src + s->npend, p, (size_t)len);
  size_t held;
  int st = utf8_release(src, n, final, &s->out, &held);
  if (!st) {
    memcpy(s->pend, src + n - held, held);
    s->npend = (int)held;
  }
  free(heap);
  if (st) return st;
  return (int32_t)s->out.n;
}
