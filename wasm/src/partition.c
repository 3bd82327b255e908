// Special tokens in the text (llama_vocab::impl::tokenizer_st_partition). llama.cpp takes the
// special tokens longest first and, for each, splits every remaining raw-text fragment at the
// token's leftmost non-overlapping occurrences. Rather than rescanning the text once per special
// token, this finds every occurrence of every special token in one pass (candidates grouped by
// first byte), then replays the same order: token by token, an occurrence is taken when it lies
// in text no earlier token took and starts after the token's previous occurrence ends.
// Without parse_special only user-defined tokens split the text (control and unknown do not).
// The LSTRIP/RSTRIP attributes llama.cpp sets for a few models by name are not applied.
#include "tok.h"

static int add_frag(wm_tok *t, uint32_t pos, uint32_t len, int32_t token) {
  if (t->n_frags == t->frags_cap) {
    int st = wm_grow((void **)&t->frags, &t->frags_cap, t->n_frags + 1, sizeof(wm_frag));
    if (st) return st;
  }
  t->frags[t->n_frags++] = (wm_frag){pos, len, token};
  return WM_OK;
}

// Occurrence records: (rank << 32) | position, so sorting orders by token rank, then position.
static int cmp_rec(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : (x > y);
}

static inline int active(const wm_tok *t, int32_t id, int parse_special) {
  return parse_special || !(t->attr[id] & (WM_ATTR_CONTROL | WM_ATTR_UNKNOWN));
}

int wm_special_trie_build(wm_tok *t) {
  size_t nodes = 1;
  for (int32_t r = 0; r < t->n_sp; r++) nodes += t->str_len[t->sp_cache[r]];
  t->trie = malloc(nodes * sizeof(wm_trie_node));
  t->term_next = malloc(((size_t)t->n_sp + 1) * sizeof(int32_t));
  if (!t->trie || !t->term_next) return WM_ERR_NOMEM;
  for (int b = 0; b < 256; b++) t->trie_root[b] = -1;
  t->n_trie = 0;
  for (int32_t r = 0; r < t->n_sp; r++) {
    int32_t id = t->sp_cache[r], node = -1;
    const uint8_t *txt = t->blob.p + t->str_off[id];
    for (uint32_t i = 0; i < t->str_len[id]; i++) {
      int32_t *link = node < 0 ? &t->trie_root[txt[i]] : &t->trie[node].child;
      int32_t c = *link;
      if (node >= 0) while (c >= 0 && t->trie[c].byte != txt[i]) c = t->trie[c].sibling;
      if (c < 0) {
        c = t->n_trie++;
        t->trie[c] = (wm_trie_node){-1, node < 0 ? -1 : t->trie[node].child, -1, txt[i]};
        *link = c;
      }
      node = c;
    }
    // Ranks ending at a node, in rank order (texts are unique unless the GGUF repeats one).
    t->term_next[r] = -1;
    if (t->trie[node].term < 0) t->trie[node].term = r;
    else {
      int32_t q = t->trie[node].term;
      while (t->term_next[q] >= 0) q = t->term_next[q];
      t->term_next[q] = r;
    }
  }
  return WM_OK;
}

int wm_partition(wm_tok *t, const uint8_t *s, size_t n, int parse_special) {
  t->n_frags = 0;
  if (n == 0) return WM_OK;
  if (n > 0x7FFFFFFF) return WM_ERR_TOO_LARGE;
  if (!(parse_special ? t->n_sp : t->n_sp_plain)) return add_frag(t, 0, (uint32_t)n, -1);
  size_t n_rec = 0;
  int st;
  for (size_t p = 0; p < n; p++) {
    int32_t node = t->trie_root[s[p]];
    for (size_t q = p + 1; node >= 0; q++) {
      for (int32_t r = t->trie[node].term; r >= 0; r = t->term_next[r]) {
        if (!active(t, t->sp_cache[r], parse_special)) continue;
        if (n_rec == t->recs_cap && (st = wm_grow((void **)&t->recs, &t->recs_cap, n_rec + 1, sizeof(int64_t)))) return st;
        t->recs[n_rec++] = ((int64_t)r << 32) | (int64_t)p;
      }
      if (q >= n) break;
      int32_t c = t->trie[node].child;
      while (c >= 0 && t->trie[c].byte != s[q]) c = t->trie[c].sibling;
      node = c;
    }
  }
  if (n_rec == 0) return add_frag(t, 0, (uint32_t)n, -1);

  qsort(t->recs, n_rec, sizeof(int64_t), cmp_rec);
  if (n > t->claimed_cap && (st = wm_grow((void **)&t->claimed, &t->claimed_cap, n, 1))) return st;
  uint8_t *claimed = t->claimed;
  memset(claimed, 0, n);
  // Taken occurrences are kept in recs[0..n_taken) as (position << 32) | rank.
  size_t n_taken = 0, last_end = 0;
  int32_t cur_rank = -1;
  for (size_t i = 0; i < n_rec; i++) {
    int32_t r = (int32_t)(t->recs[i] >> 32);
    size_t p = (size_t)(uint32_t)t->recs[i];
    uint32_t len = t->str_len[t->sp_cache[r]];
    if (r != cur_rank) { cur_rank = r; last_end = 0; }
    if (p < last_end) continue;
    int free_run = 1;
    for (size_t j = p; j < p + len; j++) {
      if (claimed[j]) { free_run = 0; break; }
    }
    if (!free_run) continue;
    memset(claimed + p, 1, len);
    last_end = p + len;
    t->recs[n_taken++] = ((int64_t)p << 32) | r;  // n_taken <= i: never overwrites unread records
  }
  qsort(t->recs, n_taken, sizeof(int64_t), cmp_rec);
  size_t pos = 0;
  for (size_t i = 0; i < n_taken; i++) {
    size_t p = (size_t)(t->recs[i] >> 32);
    int32_t id = t->sp_cache[(int32_t)(uint32_t)t->recs[i]];
    if (p > pos && (st = add_frag(t, (uint32_t)pos, (uint32_t)(p - pos), -1))) return st;
    if ((st = add_frag(t, (uint32_t)p, t->str_len[id], id))) return st;
    pos = p + t->str_len[id];
  }
  if (pos < n) return add_frag(t, (uint32_t)pos, (uint32_t)(n - pos), -1);
  return WM_OK;
}
