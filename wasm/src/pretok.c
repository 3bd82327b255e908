// Pre-tokenizers of byte-level BPE: hand-written matchers for the regexes llama.cpp runs for each
// tokenizer.ggml.pre (llm_tokenizer_bpe, unicode_regex_split_custom_*), over the code point
// classes of the generated Unicode table. Each matcher walks the code points once and reports
// the words; alternatives are tried in the regex's order, as a backtracking regex engine would.
//
//   GPT2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   LLAMA3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   QWEN2:  as LLAMA3 with \p{N} (one digit) instead of \p{N}{1,3}
#include "tok.h"
#include "unicode.h"

typedef struct {
  const uint32_t *cp;
  size_t n;
} text_t;

// Class flags at i; 0 past the end (where every class test fails).
static inline uint8_t fl(const text_t *x, size_t i) {
  if (i >= x->n) return 0;
  uint32_t c = x->cp[i];
  if (c < 0x80) {
    // ASCII fast path: same bits as the table.
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return WM_UF_L;
    if (c >= '0' && c <= '9') return WM_UF_N;
  }
  return wm_uni_flags(c);
}

static inline int is_rn(uint32_t c) { return c == '\r' || c == '\n'; }

// Length of a contraction at i ('s 't 'm 'd: 2, 're 've 'll: 3), else 0. `fold` lowercases.
static size_t contraction(const text_t *x, size_t i, int fold) {
  if (x->cp[i] != '\'' || i + 1 >= x->n) return 0;
  uint32_t a = x->cp[i + 1];
  if (fold) a = wm_uni_lower_ascii(a);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 >= x->n) return 0;
  uint32_t b = x->cp[i + 2];
  if (fold) b = wm_uni_lower_ascii(b);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// Whitespace alternatives at i. LLAMA3/QWEN2 first try \s*[\r\n]+ (the run up to its last CR/LF);
// then \s+(?!\S): a run followed by a non-space keeps its last space for the next word.
static size_t spaces(const text_t *x, size_t i, int crlf) {
  size_t k = 0, last_rn = 0;
  while (fl(x, i + k) & WM_UF_WS) {
    if (is_rn(x->cp[i + k])) last_rn = k + 1;
    k++;
  }
  if (crlf && last_rn) return last_rn;
  if (k > 1 && i + k < x->n) return k - 1;
  if (k > 0) return k;
  return 1;  // no alternative matched: the character is a word by itself
}

#define EMIT(END)                                   \
  do {                                              \
    size_t e_ = (END);                              \
    if (e_ > prev) {                                \
      int st_ = word(ctx, prev, e_);                \
      if (st_) return st_;                          \
    }                                               \
    prev = pos = e_;                                \
  } while (0)

static int split_gpt2(const text_t *x, wm_word_fn word, void *ctx) {
  size_t pos = 0, prev = 0, n = x->n;
  const uint8_t LNW = WM_UF_L | WM_UF_N | WM_UF_WS;
  while (pos < n) {
    size_t k = contraction(x, pos, 0);
    if (k) { EMIT(pos + k); continue; }
    int sp = x->cp[pos] == ' ';
    uint8_t f = fl(x, pos + sp);  // the class after an optional leading space
    if (f & WM_UF_L) {
      size_t e = pos + sp;
      while (fl(x, e) & WM_UF_L) e++;
      EMIT(e);
      continue;
    }
    if (f & WM_UF_N) {
      size_t e = pos + sp;
      while (fl(x, e) & WM_UF_N) e++;
      EMIT(e);
      continue;
    }
    if (!(f & LNW) && pos + sp < n) {
      size_t e = pos + sp;
      while (e < n && !(fl(x, e) & LNW)) e++;
      EMIT(e);
      continue;
    }
    EMIT(pos + spaces(x, pos, 0));
  }
  return WM_OK;
}

static int split_llama3(const text_t *x, wm_word_fn word, void *ctx, int max_digits) {
  size_t pos = 0, prev = 0, n = x->n;
  const uint8_t LNW = WM_UF_L | WM_UF_N | WM_UF_WS;
  while (pos < n) {
    size_t k = contraction(x, pos, 1);
    if (k) { EMIT(pos + k); continue; }
    uint32_t c = x->cp[pos];
    uint8_t f = fl(x, pos);
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (!is_rn(c) && !(f & WM_UF_N) && ((f & WM_UF_L) || (fl(x, pos + 1) & WM_UF_L))) {
      size_t e = pos + 1;
      while (fl(x, e) & WM_UF_L) e++;
      EMIT(e);
      continue;
    }
    // \p{N}{1,max_digits}
    if (f & WM_UF_N) {
      size_t e = pos;
      while (e - pos < (size_t)max_digits && (fl(x, e) & WM_UF_N)) e++;
      EMIT(e);
      continue;
    }
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    int sp = c == ' ';
    uint8_t f2 = sp ? fl(x, pos + 1) : f;
    if (!(f2 & LNW)) {
      size_t e = pos + sp;
      while (e < n && !(fl(x, e) & LNW)) e++;
      while (e < n && is_rn(x->cp[e])) e++;
      EMIT(e);
      continue;
    }
    EMIT(pos + spaces(x, pos, 1));
  }
  return WM_OK;
}

int wm_pretok_split(int split, const uint32_t *cp, size_t n, wm_word_fn word, void *ctx) {
  text_t x = {cp, n};
  switch (split) {
    case WM_SPLIT_GPT2: return split_gpt2(&x, word, ctx);
    case WM_SPLIT_LLAMA3: return split_llama3(&x, word, ctx, 3);
    case WM_SPLIT_QWEN2: return split_llama3(&x, word, ctx, 1);
    default: return WM_ERR_PRE;
  }
}
