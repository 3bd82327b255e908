// Exports of tokenizer.wasm. Pointers are offsets in this module's memory, written by the
// TypeScript wrapper (src/tokenizer/); every range is checked against the memory size, so a
// wrong argument gives a status code, never an out-of-bounds access.
#include "detok.h"
#include "tok.h"

WM_EXPORT(wm_malloc) void *wm_malloc(size_t n) { return malloc(n ? n : 1); }
WM_EXPORT(wm_free) void wm_free(void *p) { free(p); }

// Builds a tokenizer; writes the status to *status and returns the handle (0 on failure).
WM_EXPORT(tok_create) wm_tok *tok_create(const wm_tok_config *cfg, int32_t *status) {
  if (!in_memory((uint32_t)(uintptr_t)status, 4)) return NULL;
  if (!in_memory((uint32_t)(uintptr_t)cfg, sizeof(wm_tok_config))) { *status = WM_ERR_ARG; return NULL; }
  wm_tok *t = malloc(sizeof(wm_tok));
  if (!t) { *status = WM_ERR_NOMEM; return NULL; }
  int st = wm_tok_load(t, cfg);
  if (st) { wm_tok_destroy(t); free(t); *status = st; return NULL; }
  *status = WM_OK;
  return t;
}

WM_EXPORT(tok_destroy) void tok_destroy(wm_tok *t) {
  if (!t) return;
  wm_tok_destroy(t);
  free(t);
}

static int push_special(wm_tok *t, int slot, int err) {
  int32_t id = t->special[slot];
  return id < 0 ? err : wm_ints_push(&t->out, id);
}

// Encodes text[0..len) (UTF-8, any bytes). flags: 1 = add BOS/EOS as the model asks (llama.cpp's
// add_special), 2 = recognise special tokens in the text (parse_special). Returns the number of
// ids (read them with tok_result) or a status.
WM_EXPORT(tok_encode) int32_t tok_encode(wm_tok *t, const uint8_t *text, uint32_t len, uint32_t flags) {
  if (!t || (len && !in_memory((uint32_t)(uintptr_t)text, len))) return WM_ERR_ARG;
  if (len > 0x7FFFFFFF) return WM_ERR_TOO_LARGE;
  int add_special = flags & 1, parse_special = (flags >> 1) & 1;
  t->out.n = 0;
  int st = wm_partition(t, text, len, parse_special);
  if (st) return st;
  if (add_special && t->add_bos && (st = push_special(t, WM_SP_BOS, WM_ERR_NO_BOS))) return st;
  int prev_special = 1;  // SentencePiece: a space is added before text that follows a special token
  for (size_t i = 0; i < t->n_frags && !st; i++) {
    wm_frag f = t->frags[i];
    if (f.token >= 0) { st = wm_ints_push(&t->out, f.token); prev_special = 1; continue; }
    if (t->model == WM_MODEL_SPM) st = wm_spm_fragment(t, text + f.pos, f.len, t->add_space_prefix && prev_special);
    else st = wm_bpe_fragment(t, text + f.pos, f.len);
    prev_special = 0;
  }
  if (st) return st;
  if (add_special && t->add_eos && (st = push_special(t, WM_SP_EOS, WM_ERR_NO_EOS))) return st;
  if (t->out.n > 0x7FFFFFFF) return WM_ERR_TOO_LARGE;
  return (int32_t)t->out.n;
}

WM_EXPORT(tok_result) int32_t *tok_result(wm_tok *t) { return t ? t->out.p : NULL; }

// Queries: 0 vocabulary size, 1 model (1 SPM, 2 BPE), 2 add_bos, 3 add_eos, 4 add_space_prefix,
// 5 clean_spaces, 6 number of special tokens, 7 splitter, 8 ignore_merges;
// 100 + slot: special token id of that slot (-1 when none).
WM_EXPORT(tok_info) int32_t tok_info(wm_tok *t, int32_t key) {
  if (!t) return WM_ERR_ARG;
  switch (key) {
    case 0: return t->n_vocab;
    case 1: return t->model;
    case 2: return t->add_bos;
    case 3: return t->add_eos;
    case 4: return t->add_space_prefix;
    case 5: return t->clean_spaces;
    case 6: return t->n_sp;
    case 7: return t->split;
    case 8: return t->ignore_merges;
  }
  if (key >= 100 && key < 100 + WM_SP_COUNT) return t->special[key - 100];
  return WM_ERR_ARG;
}

WM_EXPORT(tok_attr) int32_t tok_attr(wm_tok *t, int32_t id) {
  if (!t) return WM_ERR_ARG;
  return id >= 0 && id < t->n_vocab ? t->attr[id] : WM_ERR_TOKEN;
}

WM_EXPORT(tok_is_eog) int32_t tok_is_eog(wm_tok *t, int32_t id) {
  if (!t) return WM_ERR_ARG;
  return id >= 0 && id < t->n_vocab ? t->is_eog[id] : WM_ERR_TOKEN;
}

// The GGUF text of a token: tok_text_ptr / tok_text_len.
WM_EXPORT(tok_text_ptr) const uint8_t *tok_text_ptr(wm_tok *t, int32_t id) {
  return t && id >= 0 && id < t->n_vocab ? t->blob.p + t->str_off[id] : NULL;
}
WM_EXPORT(tok_text_len) int32_t tok_text_len(wm_tok *t, int32_t id) {
  if (!t) return WM_ERR_ARG;
  return id >= 0 && id < t->n_vocab ? (int32_t)t->str_len[id] : WM_ERR_TOKEN;
}

// Detokenizes ids[0..n). flags: 1 = drop the BOS/EOS the model adds (remove_special),
// 2 = render control tokens (unparse_special). Returns the byte length (bytes at tok_bytes).
WM_EXPORT(tok_decode) int32_t tok_decode(wm_tok *t, const int32_t *ids, uint32_t n, uint32_t flags) {
  if (!t || (n && !in_memory((uint32_t)(uintptr_t)ids, (uint64_t)n * 4))) return WM_ERR_ARG;
  return wm_detokenize(t, ids, n, flags & 1, (flags >> 1) & 1, &t->dec);
}
WM_EXPORT(tok_bytes) const uint8_t *tok_bytes(wm_tok *t) { return t ? t->dec.p : NULL; }

WM_EXPORT(tok_stream_new) wm_stream *tok_stream_new(wm_tok *t, int32_t special) {
  if (!t) return NULL;
  wm_stream *s = calloc(1, sizeof(wm_stream));
  if (!s) return NULL;
  s->t = t;
  s->special = special != 0;
  return s;
}

// Adds one token; returns the number of bytes of whole characters released (at tok_stream_bytes).
WM_EXPORT(tok_stream_push) int32_t tok_stream_push(wm_stream *s, int32_t id) {
  if (!s) return WM_ERR_ARG;
  return wm_stream_push(s, id, 0);
}

// Releases what is held back (an unfinished character becomes U+FFFD).
WM_EXPORT(tok_stream_flush) int32_t tok_stream_flush(wm_stream *s) {
  if (!s) return WM_ERR_ARG;
  return wm_stream_push(s, -1, 1);
}

WM_EXPORT(tok_stream_bytes) const uint8_t *tok_stream_bytes(wm_stream *s) { return s ? s->out.p : NULL; }

WM_EXPORT(tok_stream_free) void tok_stream_free(wm_stream *s) {
  if (!s) return;
  wm_bytes_free(&s->out);
  free(s);
}
