// The merge loop shared by BPE (llm_tokenizer_bpe_session) and SPM (llm_tokenizer_spm_session):
// repeatedly merge the adjacent pair with the lowest priority, the leftmost on ties, until no
// pair can merge. llama.cpp keeps every candidate pair in a priority queue ordered by
// (priority, left index) and skips entries made stale by earlier merges; the set of live entries
// is always "every adjacent pair that can merge", so picking the minimum over the current pairs
// gives the same merges. Short words use that direct scan, long ones a heap.
#include <math.h>

#include "tok.h"

// Words up to this many symbols are merged by scanning (no heap); most words are shorter.
#define SCAN_MAX 48

static void eval_pair(wm_tok *t, const uint8_t *buf, wm_sym *s, int32_t i, wm_pair_fn pair) {
  wm_sym *a = &s[i];
  if (a->next < 0) { a->best = INFINITY; return; }
  a->best = pair(t, buf, a, &s[a->next], &a->best_res);
}

static void merge_into(wm_sym *s, int32_t i, int32_t res) {
  wm_sym *a = &s[i], *b = &s[a->next];
  a->len += b->len;
  a->id = res;
  b->len = 0;
  a->next = b->next;
  if (b->next >= 0) s[b->next].prev = i;
}

static void merge_scan(wm_tok *t, const uint8_t *buf, wm_sym *s, size_t n, wm_pair_fn pair) {
  for (size_t i = 0; i < n; i++) eval_pair(t, buf, s, (int32_t)i, pair);
  for (;;) {
    double best = INFINITY;
    int32_t bi = -1;
    for (int32_t i = 0; i >= 0; i = s[i].next) {
      if (s[i].best < best) { best = s[i].best; bi = i; }
    }
    if (bi < 0) return;
    merge_into(s, bi, s[bi].best_res);
    if (s[bi].prev >= 0) eval_pair(t, buf, s, s[bi].prev, pair);
    eval_pair(t, buf, s, bi, pair);
  }
}

static inline int heap_less(const wm_heap_item *x, const wm_heap_item *y) {
  return x->prio < y->prio || (x->prio == y->prio && x->left < y->left);
}

static int heap_push(wm_tok *t, size_t *n, wm_heap_item it) {
  if (*n == t->heap_cap) {
    int st = wm_grow((void **)&t->heap, &t->heap_cap, *n + 1, sizeof(wm_heap_item));
    if (st) return st;
  }
  wm_heap_item *h = t->heap;
  size_t i = (*n)++;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!heap_less(&it, &h[p])) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = it;
  return WM_OK;
}

static wm_heap_item heap_pop(wm_tok *t, size_t *n) {
  wm_heap_item *h = t->heap, top = h[0], last = h[--(*n)];
  size_t i = 0, m = *n;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= m) break;
    if (c + 1 < m && heap_less(&h[c + 1], &h[c])) c++;
    if (!heap_less(&h[c], &last)) break;
    h[i] = h[c];
    i = c;
  }
  if (m) h[i] = last;
  return top;
}

static int push_pair(wm_tok *t, const uint8_t *buf, wm_sym *s, int32_t i, size_t *hn, wm_pair_fn pair) {
  if (i < 0 || s[i].next < 0) return WM_OK;
  int32_t j = s[i].next, res;
  double p = pair(t, buf, &s[i], &s[j], &res);
  if (p == INFINITY) return WM_OK;
  wm_heap_item it = {p, i, j, s[i].len, s[j].len, res};
  return heap_push(t, hn, it);
}

static int merge_heap(wm_tok *t, const uint8_t *buf, wm_sym *s, size_t n, wm_pair_fn pair) {
  size_t hn = 0;
  int st;
  for (size_t i = 0; i + 1 < n; i++) {
    if ((st = push_pair(t, buf, s, (int32_t)i, &hn, pair))) return st;
  }
  while (hn) {
    wm_heap_item it = heap_pop(t, &hn);
    wm_sym *a = &s[it.left], *b = &s[it.right];
    // Stale: one side was merged away or has grown since the pair was queued.
    if (a->len == 0 || b->len == 0 || a->len != it.left_len || b->len != it.right_len) continue;
    merge_into(s, it.left, it.res);
    if ((st = push_pair(t, buf, s, a->prev, &hn, pair))) return st;
    if ((st = push_pair(t, buf, s, it.left, &hn, pair))) return st;
  }
  return WM_OK;
}

int wm_merge(wm_tok *t, const uint8_t *buf, size_t n, wm_pair_fn pair) {
  if (n < 2) return WM_OK;
  if (n <= SCAN_MAX) { merge_scan(t, buf, t->syms, n, pair); return WM_OK; }
  return merge_heap(t, buf, t->syms, n, pair);
}
