// Stop strings over streamed text: bytes go in as they are generated; what comes out is the text
// that can no longer be part of a stop string. A stop string split across tokens is caught
// because the tail that could still begin one is held back until the next bytes decide.
#include "stop.h"

int wm_stop_init(wm_stop *s, const uint8_t *blob, const uint32_t *off, int32_t n) {
  memset(s, 0, sizeof(*s));
  if (n < 0) return WM_ERR_ARG;
  uint32_t total = n ? off[n] : 0;
  for (int32_t i = 0; i < n; i++) {
    if (off[i] > off[i + 1] || off[i + 1] > total) return WM_ERR_ARG;
    if (off[i + 1] == off[i]) return WM_ERR_ARG;  // an empty stop string would match everywhere
  }
  s->n = n;
  s->off = malloc(((size_t)n + 1) * sizeof(uint32_t));
  s->blob = malloc(total ? total : 1);
  if (!s->off || !s->blob) return WM_ERR_NOMEM;
  memcpy(s->off, off, ((size_t)n + 1) * sizeof(uint32_t));
  if (total) memcpy(s->blob, blob, total);
  return WM_OK;
}

void wm_stop_free(wm_stop *s) {
  free(s->off); free(s->blob);
  wm_bytes_free(&s->pending); wm_bytes_free(&s->out);
  memset(s, 0, sizeof(*s));
}

// Longest suffix of p[0..n) that is a proper prefix of pattern q[0..m).
static size_t partial(const uint8_t *p, size_t n, const uint8_t *q, size_t m) {
  size_t k = m - 1 < n ? m - 1 : n;
  for (; k > 0; k--) {
    if (memcmp(p + n - k, q, k) == 0) return k;
  }
  return 0;
}

int32_t wm_stop_feed(wm_stop *s, const uint8_t *b, size_t n, int final) {
  s->out.n = 0;
  if (s->stopped) return 0;
  int st = wm_bytes_push(&s->pending, b, n);
  if (st) return st;
  uint8_t *p = s->pending.p;
  size_t len = s->pending.n, cut = len, hold = 0;
  // Earliest match of any stop string.
  for (int32_t i = 0; i < s->n; i++) {
    const uint8_t *q = s->blob + s->off[i];
    size_t m = s->off[i + 1] - s->off[i];
    for (size_t j = 0; j + m <= len && j < cut; j++) {
      if (p[j] == q[0] && memcmp(p + j, q, m) == 0) { cut = j; s->stopped = 1; s->which = i; break; }
    }
  }
  if (!s->stopped && !final) {
    for (int32_t i = 0; i < s->n; i++) {
      size_t k = partial(p, len, s->blob + s->off[i], s->off[i + 1] - s->off[i]);
      if (k > hold) hold = k;
    }
    cut = len - hold;
  }
  if ((st = wm_bytes_push(&s->out, p, cut))) return st;
  // Keep the held tail (nothing after a match is kept: generation is over).
  if (s->stopped) s->pending.n = 0;
  else { memmove(p, p + cut, len - cut); s->pending.n = len - cut; }
  return (int32_t)s->out.n;
}
