// Loading a vocabulary from GGUF metadata, as llama.cpp's llama_vocab::impl::load does: model
// and pre-tokenizer names, special token ids with their defaults, token attributes (including
// the attributes llama.cpp forces on tokens by their text), the end-of-generation set, the
// special-token list used to split text, and the text of every token.
#include <math.h>

#include "tok.h"
#include "unicode.h"

#define WM_NULL (-1)

// ---- string store and lookup ----------------------------------------------------------------

// Appends a string; the id arrays were sized for every string a load can add (see wm_tok_load).
static int store_add(wm_tok *t, const uint8_t *s, size_t n) {
  if (t->n_str >= t->str_cap) return WM_ERR_VOCAB;
  if (t->blob.n + n > UINT32_MAX) return WM_ERR_TOO_LARGE;
  t->str_off[t->n_str] = (uint32_t)t->blob.n;
  t->str_len[t->n_str] = (uint32_t)n;
  int st = wm_bytes_push(&t->blob, s, n);
  if (st) return st;
  t->n_str++;
  return WM_OK;
}

static inline const uint8_t *str_ptr(const wm_tok *t, int32_t id) { return t->blob.p + t->str_off[id]; }

static int map_init(wm_tok *t, size_t n_expected) {
  size_t cap = 1024;
  while (cap < n_expected * 2) cap *= 2;
  t->map = malloc(cap * sizeof(int32_t));
  if (!t->map) return WM_ERR_NOMEM;
  memset(t->map, 0xFF, cap * sizeof(int32_t));
  t->map_mask = (uint32_t)(cap - 1);
  return WM_OK;
}

// Slot of string s: the slot holding it, or the empty slot where it belongs.
static uint32_t map_slot(const wm_tok *t, const uint8_t *s, size_t n) {
  uint32_t i = wm_hash_bytes(s, n) & t->map_mask;
  for (;;) {
    int32_t id = t->map[i];
    if (id < 0) return i;
    if (t->str_len[id] == n && memcmp(str_ptr(t, id), s, n) == 0) return i;
    i = (i + 1) & t->map_mask;
  }
}

int32_t wm_tok_find(const wm_tok *t, const uint8_t *s, size_t n) {
  return t->map[map_slot(t, s, n)];
}

// String id of s, adding it (beyond the vocabulary) when it is new. The map is sized for every
// string the load can add, so it never fills up.
static int32_t intern(wm_tok *t, const uint8_t *s, size_t n) {
  uint32_t slot = map_slot(t, s, n);
  if (t->map[slot] >= 0) return t->map[slot];
  if (store_add(t, s, n)) return WM_ERR_NOMEM;
  t->map[slot] = t->n_str - 1;
  return t->n_str - 1;
}

// ---- names ----------------------------------------------------------------------------------

static int name_is(const uint8_t *s, size_t n, const char *name) {
  size_t m = strlen(name);
  return n == m && memcmp(s, name, m) == 0;
}

// Pre-tokenizer names that map to one of the three splitters implemented here, with the flags
// llama.cpp sets for each name (llama_vocab::impl::load).
typedef struct {
  const char *name;
  int8_t split, clean_spaces, ignore_merges, add_bos, bos_null;
} pre_entry;

static const pre_entry PRE[] = {
  {"llama3", WM_SPLIT_LLAMA3, 1, 1, 1, 0},     {"llama-v3", WM_SPLIT_LLAMA3, 1, 1, 1, 0},
  {"llama-bpe", WM_SPLIT_LLAMA3, 1, 1, 1, 0},  {"falcon3", WM_SPLIT_LLAMA3, 1, 1, 1, 0},
  {"falcon-h1", WM_SPLIT_LLAMA3, 1, 1, 1, 0},  {"pixtral", WM_SPLIT_LLAMA3, 1, 1, 1, 0},
  {"midm-2.0", WM_SPLIT_LLAMA3, 1, 1, 1, 0},   {"lfm2", WM_SPLIT_LLAMA3, 1, 1, 1, 0},
  {"jina-v5-nano", WM_SPLIT_LLAMA3, 1, 1, 1, 0},
  {"dbrx", WM_SPLIT_LLAMA3, 1, 0, 0, 0},       {"smaug-bpe", WM_SPLIT_LLAMA3, 1, 0, 0, 0},
  {"glm4", WM_SPLIT_LLAMA3, 1, 0, 0, 1},       {"chatglm-bpe", WM_SPLIT_LLAMA3, 1, 0, 0, 1},
  {"gpt-2", WM_SPLIT_GPT2, 1, 0, 0, 0},        {"phi-2", WM_SPLIT_GPT2, 1, 0, 0, 0},
  {"jina-es", WM_SPLIT_GPT2, 1, 0, 0, 0},      {"jina-de", WM_SPLIT_GPT2, 1, 0, 0, 0},
  {"gigachat", WM_SPLIT_GPT2, 1, 0, 0, 0},     {"jina-v2-es", WM_SPLIT_GPT2, 1, 0, 0, 0},
  {"jina-v2-de", WM_SPLIT_GPT2, 1, 0, 0, 0},   {"a.x-4.0", WM_SPLIT_GPT2, 1, 0, 0, 0},
  {"mellum", WM_SPLIT_GPT2, 1, 0, 0, 0},       {"modern-bert", WM_SPLIT_GPT2, 1, 0, 0, 0},
  {"exaone4", WM_SPLIT_GPT2, 1, 0, 0, 0},      {"mpt", WM_SPLIT_GPT2, 1, 0, 0, 0},
  {"olmo", WM_SPLIT_GPT2, 1, 0, 0, 0},         {"jais", WM_SPLIT_GPT2, 1, 0, 0, 0},
  {"trillion", WM_SPLIT_GPT2, 0, 0, 0, 0},     {"granite-docling", WM_SPLIT_GPT2, 0, 0, 0, 0},
  {"qwen2", WM_SPLIT_QWEN2, 0, 0, 0, 0},       {"deepseek-r1-qwen", WM_SPLIT_QWEN2, 0, 0, 0, 0},
  {"kormo", WM_SPLIT_QWEN2, 0, 0, 0, 0},       {"f2llmv2", WM_SPLIT_QWEN2, 0, 0, 0, 0},
  {"megrez", WM_SPLIT_QWEN2, 1, 0, 0, 0},      {"stablelm2", WM_SPLIT_QWEN2, 1, 0, 0, 0},
  {"hunyuan", WM_SPLIT_QWEN2, 0, 0, 0, 0},     {"solar-open", WM_SPLIT_QWEN2, 0, 0, 0, 0},
  {"grok-2", WM_SPLIT_QWEN2, 0, 0, 0, 0},
};

// Token texts llama.cpp recognises (llama_vocab::impl::load, "auto-detect special tokens").
static const char *EOT_TEXTS[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
  "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
  "<end_of_utterance>", NULL};
static const char *EOM_TEXTS[] = {"<|eom_id|>", NULL};
static const char *FIM_PRE_TEXTS[] = {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
  "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>", "<PRE>", "\xE2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>", NULL};
static const char *FIM_SUF_TEXTS[] = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
  "<\xEF\xBD\x9C" "fim\xE2\x96\x81hole\xEF\xBD\x9C>", "<SUF>", "\xE2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>", NULL};
static const char *FIM_MID_TEXTS[] = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
  "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>", "<MID>", "\xE2\x96\x81<MID>", "<|code_middle|>", "<|middle|>", NULL};
static const char *FIM_PAD_TEXTS[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL};
static const char *FIM_REP_TEXTS[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL};
static const char *FIM_SEP_TEXTS[] = {"<|file_sep|>", NULL};
static const char *EOG_TEXTS[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
  "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
  "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
  "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>", "[e~[", NULL};
static const char *ALWAYS_RENDER_TEXTS[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>", NULL};

static int32_t find_text(const wm_tok *t, const char *s) {
  int32_t id = wm_tok_find(t, (const uint8_t *)s, strlen(s));
  return id < t->n_vocab ? id : WM_NULL;
}

// First token (lowest id) whose text is in the list; marks it CONTROL as llama.cpp does.
// llama.cpp walks an unordered_map here, so when several texts match, which one it picks is
// unspecified; the lowest id is this implementation's choice.
static void detect(wm_tok *t, int slot, const char **texts) {
  if (t->special[slot] != WM_NULL) return;
  int32_t best = WM_NULL;
  for (int k = 0; texts[k]; k++) {
    int32_t id = find_text(t, texts[k]);
    if (id != WM_NULL && (best == WM_NULL || id < best)) best = id;
  }
  if (best == WM_NULL) return;
  t->special[slot] = best;
  t->attr[best] |= WM_ATTR_CONTROL;
}

static int is_text(const wm_tok *t, int32_t id, const char *s) {
  size_t n = strlen(s);
  return t->str_len[id] == n && memcmp(str_ptr(t, id), s, n) == 0;
}

static void set_eog(wm_tok *t) {
  int32_t n = t->n_vocab;
  memset(t->is_eog, 0, (size_t)n);
  for (int s = WM_SP_FIM_PAD; s <= WM_SP_FIM_SEP; s++) {
    if (t->special[s] != WM_NULL) t->is_eog[t->special[s]] = 1;
  }
  for (int k = 0; EOG_TEXTS[k]; k++) {
    int32_t id = find_text(t, EOG_TEXTS[k]);
    if (id == WM_NULL) continue;
    t->is_eog[id] = 1;
    t->attr[id] |= WM_ATTR_CONTROL;
  }
  // gpt-oss: these are always rendered.
  for (int k = 0; ALWAYS_RENDER_TEXTS[k]; k++) {
    int32_t id = find_text(t, ALWAYS_RENDER_TEXTS[k]);
    if (id != WM_NULL) t->attr[id] = WM_ATTR_USER_DEFINED;
  }
  const int slots[3] = {WM_SP_EOS, WM_SP_EOT, WM_SP_EOM};
  for (int k = 0; k < 3; k++) {
    if (t->special[slots[k]] != WM_NULL) t->is_eog[t->special[slots[k]]] = 1;
  }
  // o200k_harmony and solar-open: "<|end|>" ends a message, not the generation.
  int has_return = 0, has_call = 0, has_flush = 0;
  int32_t end_id = WM_NULL, tool_resp = WM_NULL, s_id = WM_NULL;
  for (int32_t id = 0; id < n; id++) {
    if (!t->is_eog[id]) continue;
    if (is_text(t, id, "<|return|>")) has_return = 1;
    else if (is_text(t, id, "<|call|>") || is_text(t, id, "<|calls|>")) has_call = 1;
    else if (is_text(t, id, "<|flush|>")) has_flush = 1;
    else if (is_text(t, id, "<|end|>")) end_id = id;
    if (is_text(t, id, "<|tool_response>")) tool_resp = id;
    else if (is_text(t, id, "</s>")) s_id = id;
  }
  if (end_id != WM_NULL && ((has_return && has_call) || (has_call && has_flush))) {
    t->is_eog[end_id] = 0;
    t->attr[end_id] = WM_ATTR_USER_DEFINED;
  }
  // gemma4 and paddleocr: "</s>" is not an end of generation there.
  if (tool_resp != WM_NULL && s_id != WM_NULL) {
    t->is_eog[s_id] = 0;
    t->attr[s_id] = WM_ATTR_NORMAL;
  }
}

// ---- pieces (llama_vocab::impl::token_to_piece with special = true) ------------------------

static int hexval(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The byte of a "<0xXX>" token: strtol over the two characters after "<0x".
static uint8_t token_byte(const uint8_t *s, uint32_t n) {
  int v = 0;
  for (uint32_t i = 3; i < 5 && i < n; i++) {
    int h = hexval(s[i]);
    if (h < 0) break;
    v = v * 16 + h;
  }
  return (uint8_t)v;
}

static int piece_of(wm_tok *t, int32_t id) {
  const uint8_t *s = str_ptr(t, id);
  uint32_t n = t->str_len[id];
  uint16_t a = t->attr[id];
  wm_bytes *o = &t->piece;
  if (a & (WM_ATTR_UNKNOWN | WM_ATTR_CONTROL | WM_ATTR_USER_DEFINED)) return wm_bytes_push(o, s, n);
  if (a & WM_ATTR_NORMAL) {
    if (t->model == WM_MODEL_SPM) {
      // U+2581 (E2 96 81) stands for a space.
      for (uint32_t i = 0; i < n;) {
        int st;
        if (i + 2 < n && s[i] == 0xE2 && s[i + 1] == 0x96 && s[i + 2] == 0x81) { st = wm_bytes_push(o, (const uint8_t *)" ", 1); i += 3; }
        else { st = wm_bytes_push(o, s + i, 1); i++; }
        if (st) return st;
      }
      return WM_OK;
    }
    // Byte-level BPE: each character of the text stands for one byte.
    uint32_t cps[64];
    uint32_t *cp = n <= 64 ? cps : malloc(n * sizeof(uint32_t));
    if (!cp) return WM_ERR_NOMEM;
    size_t m = wm_utf8_decode(s, n, cp);
    int st = WM_OK;
    for (size_t i = 0; i < m && !st; i++) {
      int b = wm_gpt2_cp_byte(cp[i]);
      if (b >= 0) { uint8_t c = (uint8_t)b; st = wm_bytes_push(o, &c, 1); continue; }
      // llama_decode_text's marker for a character that is not a byte: "[UNK_BYTE_0x<hex>" + text + "]"
      uint8_t u[4], buf[32];
      int k = wm_utf8_encode(cp[i], u), len = 0;
      memcpy(buf, "[UNK_BYTE_0x", 12); len = 12;
      for (int j = 0; j < k; j++) { buf[len++] = "0123456789abcdef"[u[j] >> 4]; buf[len++] = "0123456789abcdef"[u[j] & 15]; }
      st = wm_bytes_push(o, buf, (size_t)len);
      if (!st) st = wm_bytes_push(o, s, n);
      if (!st) st = wm_bytes_push(o, (const uint8_t *)"]", 1);
    }
    if (cp != cps) free(cp);
    return st;
  }
  if (a & WM_ATTR_BYTE) {
    uint8_t b = token_byte(s, n);
    return wm_bytes_push(o, &b, 1);
  }
  return WM_OK;  // unused or undefined: no text
}

// ---- special tokens list (tokenizer_st_partition order) -------------------------------------

static int32_t *g_sort_len;  // qsort has no context argument
static int cmp_special(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  int32_t lx = g_sort_len[x], ly = g_sort_len[y];
  if (lx != ly) return lx > ly ? -1 : 1;  // longer first
  return x < y ? -1 : (x > y);            // ties: lower id first (llama.cpp leaves them unordered)
}

static int build_specials(wm_tok *t) {
  int32_t n = t->n_vocab, k = 0;
  for (int32_t id = 0; id < n; id++) {
    if (t->attr[id] & (WM_ATTR_CONTROL | WM_ATTR_USER_DEFINED | WM_ATTR_UNKNOWN)) k++;
  }
  t->sp_cache = malloc(((size_t)k + 1) * sizeof(int32_t));
  if (!t->sp_cache) return WM_ERR_NOMEM;
  k = 0;
  for (int32_t id = 0; id < n; id++) {
    if (t->attr[id] & (WM_ATTR_CONTROL | WM_ATTR_USER_DEFINED | WM_ATTR_UNKNOWN)) t->sp_cache[k++] = id;
  }
  t->n_sp = k;
  g_sort_len = (int32_t *)t->str_len;
  qsort(t->sp_cache, (size_t)k, sizeof(int32_t), cmp_special);
  t->n_sp_plain = 0;
  for (int32_t r = 0; r < k; r++) t->n_sp_plain += !(t->attr[t->sp_cache[r]] & (WM_ATTR_CONTROL | WM_ATTR_UNKNOWN));
  return wm_special_trie_build(t);
}

// ---- load -----------------------------------------------------------------------------------

static int load_merges(wm_tok *t, const wm_tok_config *c) {
  int32_t n = c->n_merges;
  if (n < 0) return WM_ERR_VOCAB;  // llama.cpp: "cannot find tokenizer merges in model file"
  const uint8_t *blob = (const uint8_t *)(uintptr_t)c->merges_ptr;
  const uint32_t *off = (const uint32_t *)(uintptr_t)c->merges_off_ptr;
  if (n > 0 && (!in_memory(c->merges_off_ptr, ((uint64_t)n + 1) * 4) || !in_memory(c->merges_ptr, c->merges_len))) return WM_ERR_ARG;
  size_t cap = 1024;
  while (cap < (size_t)n * 2) cap *= 2;
  t->pairs = malloc(cap * sizeof(wm_pair_slot));
  if (!t->pairs) return WM_ERR_NOMEM;
  memset(t->pairs, 0xFF, cap * sizeof(wm_pair_slot));
  t->pair_mask = (uint32_t)(cap - 1);
  uint8_t *joined = NULL;
  size_t joined_cap = 0;
  for (int32_t r = 0; r < n; r++) {
    uint32_t a = off[r], b = off[r + 1];
    if (a > b || b > c->merges_len) { free(joined); return WM_ERR_ARG; }
    const uint8_t *m = blob + a;
    size_t len = b - a, sp = 1;
    // "left right", split at the first space after the first byte (a token may be a space).
    while (sp < len && m[sp] != ' ') sp++;
    if (sp >= len) continue;  // llama.cpp maps such a line to the empty pair, which never matches
    size_t ln = sp, rn = len - sp - 1;
    if (ln == 0 || rn == 0) continue;
    int32_t l = intern(t, m, ln), rr = intern(t, m + sp + 1, rn);
    if (wm_grow((void **)&joined, &joined_cap, ln + rn, 1)) { free(joined); return WM_ERR_NOMEM; }
    memcpy(joined, m, ln);
    memcpy(joined + ln, m + sp + 1, rn);
    int32_t res = intern(t, joined, ln + rn);
    if (l < 0 || rr < 0 || res < 0) { free(joined); return WM_ERR_NOMEM; }
    uint32_t i = wm_hash_pair((uint32_t)l, (uint32_t)rr) & t->pair_mask;
    while (t->pairs[i].l != UINT32_MAX && !(t->pairs[i].l == (uint32_t)l && t->pairs[i].r == (uint32_t)rr)) i = (i + 1) & t->pair_mask;
    if (t->pairs[i].l == UINT32_MAX) {  // the first rank of a repeated pair wins (emplace)
      t->pairs[i].l = (uint32_t)l;
      t->pairs[i].r = (uint32_t)rr;
      t->pairs[i].rank = r;
      t->pairs[i].res = res;
    }
  }
  free(joined);
  t->n_merges = n;
  return WM_OK;
}

int wm_tok_load(wm_tok *t, const wm_tok_config *c) {
  memset(t, 0, sizeof(*t));
  wm_gpt2_init();
  if (!c) return WM_ERR_ARG;
  const uint8_t *model = (const uint8_t *)(uintptr_t)c->model_ptr;
  const uint8_t *pre = (const uint8_t *)(uintptr_t)c->pre_ptr;
  if (c->model_len && !in_memory(c->model_ptr, c->model_len)) return WM_ERR_ARG;
  if (c->pre_len && !in_memory(c->pre_ptr, c->pre_len)) return WM_ERR_ARG;
  if (c->model_len == 0 || name_is(model, c->model_len, "no_vocab") || name_is(model, c->model_len, "none")) return WM_ERR_VOCAB;

  // Defaults per model (llama.cpp), before the GGUF keys override them.
  for (int s = 0; s < WM_SP_COUNT; s++) t->special[s] = WM_NULL;
  if (name_is(model, c->model_len, "llama")) {
    t->model = WM_MODEL_SPM;
    t->special[WM_SP_BOS] = 1; t->special[WM_SP_EOS] = 2; t->special[WM_SP_UNK] = 0;
    t->add_space_prefix = 1; t->clean_spaces = 0; t->add_bos = 1; t->add_eos = 0;
  } else if (name_is(model, c->model_len, "gpt2")) {
    t->model = WM_MODEL_BPE;
    t->special[WM_SP_BOS] = 11; t->special[WM_SP_EOS] = 11;
    t->clean_spaces = 1;
    const pre_entry *pe = NULL;
    for (size_t k = 0; k < sizeof(PRE) / sizeof(PRE[0]); k++) {
      if (c->pre_len && name_is(pre, c->pre_len, PRE[k].name)) pe = &PRE[k];
    }
    if (!pe) return WM_ERR_PRE;  // missing, "default" (std::regex in llama.cpp) or unknown
    t->split = pe->split;
    t->clean_spaces = pe->clean_spaces;
    t->ignore_merges = pe->ignore_merges;
    if (pe->add_bos) t->add_bos = 1;
    if (pe->bos_null) t->special[WM_SP_BOS] = WM_NULL;
  } else {
    return WM_ERR_MODEL;
  }
  if (c->add_space_prefix >= 0) t->add_space_prefix = c->add_space_prefix != 0;

  // Tokens.
  int32_t n = c->n_tokens;
  if (n <= 0) return WM_ERR_VOCAB;
  if (!in_memory(c->text_off_ptr, ((uint64_t)n + 1) * 4) || (c->text_len && !in_memory(c->text_ptr, c->text_len))) return WM_ERR_ARG;
  if (c->types_ptr && !in_memory(c->types_ptr, (uint64_t)n * 4)) return WM_ERR_ARG;
  if (c->scores_ptr && !in_memory(c->scores_ptr, (uint64_t)n * 4)) return WM_ERR_ARG;
  const uint8_t *text = (const uint8_t *)(uintptr_t)c->text_ptr;
  const uint32_t *off = (const uint32_t *)(uintptr_t)c->text_off_ptr;
  const int32_t *types = (const int32_t *)(uintptr_t)c->types_ptr;
  const float *scores = (const float *)(uintptr_t)c->scores_ptr;
  t->n_vocab = n;
  int32_t extra = c->n_merges > 0 ? c->n_merges : 0;
  size_t n_strings_max = (size_t)n + (size_t)extra * 3 + 512;
  if (wm_bytes_reserve(&t->blob, c->text_len + 16) || map_init(t, n_strings_max)) return WM_ERR_NOMEM;
  t->str_off = malloc(n_strings_max * sizeof(uint32_t));
  t->str_len = malloc(n_strings_max * sizeof(uint32_t));
  if (!t->str_off || !t->str_len) return WM_ERR_NOMEM;
  t->str_cap = (int32_t)n_strings_max;
  t->attr = malloc((size_t)n * sizeof(uint16_t));
  t->score = malloc((size_t)n * sizeof(float));
  t->is_eog = malloc((size_t)n);
  if (!t->attr || !t->score || !t->is_eog) return WM_ERR_NOMEM;
  for (int32_t i = 0; i < n; i++) {
    uint32_t a = off[i], b = off[i + 1];
    if (a > b || b > c->text_len) return WM_ERR_ARG;
    int st;
    if (a == b) {  // llama.cpp renames empty tokens "[EMPTY_<id>]"
      char buf[32];
      int len = 0;
      const char *pfx = "[EMPTY_";
      while (pfx[len]) { buf[len] = pfx[len]; len++; }
      char digits[12];
      int d = 0;
      uint32_t v = (uint32_t)i;
      do { digits[d++] = (char)('0' + v % 10); v /= 10; } while (v);
      while (d) buf[len++] = digits[--d];
      buf[len++] = ']';
      st = store_add(t, (const uint8_t *)buf, (size_t)len);
    } else {
      st = store_add(t, text + a, b - a);
    }
    if (st) return st;
    t->map[map_slot(t, str_ptr(t, i), t->str_len[i])] = i;  // a repeated text maps to its last id
    t->score[i] = scores ? scores[i] : 0.0f;
    uint16_t attr = WM_ATTR_NORMAL;
    if (types) {
      switch (types[i]) {
        case 1: attr = WM_ATTR_NORMAL; break;
        case 2: attr = WM_ATTR_UNKNOWN; break;
        case 3: attr = WM_ATTR_CONTROL; break;
        case 4: attr = WM_ATTR_USER_DEFINED; break;
        case 5: attr = WM_ATTR_UNUSED; break;
        case 6: attr = WM_ATTR_BYTE; break;
        default: attr = 0; break;  // undefined
      }
    }
    t->attr[i] = attr;
  }

  if (t->model == WM_MODEL_BPE) {
    int st = load_merges(t, c);
    if (st) return st;
    for (int b = 0; b < 256; b++) {
      uint8_t u[4];
      int k = wm_utf8_encode(wm_gpt2_byte_cp[b], u);
      t->byte_sym[b] = wm_tok_find(t, u, (size_t)k);
    }
  } else {
    // byte_to_token: "<0xXX>", else the byte itself as a one-byte token, else none.
    for (int b = 0; b < 256; b++) {
      char buf[7] = {'<', '0', 'x', "0123456789ABCDEF"[b >> 4], "0123456789ABCDEF"[b & 15], '>', 0};
      int32_t id = find_text(t, buf);
      if (id == WM_NULL) {
        uint8_t c1 = (uint8_t)b;
        id = wm_tok_find(t, &c1, 1);
        if (id >= n) id = WM_NULL;
      }
      t->byte_sym[b] = id;
    }
  }

  // Special token ids: a default outside the vocabulary is dropped; a GGUF value inside it wins.
  static const int key_slot[WM_SP_KEYS] = {WM_SP_BOS, WM_SP_EOS, WM_SP_EOT, WM_SP_EOM, WM_SP_UNK, WM_SP_SEP,
    WM_SP_PAD, WM_SP_MASK, WM_SP_FIM_PRE, WM_SP_FIM_SUF, WM_SP_FIM_MID, WM_SP_FIM_PAD, WM_SP_FIM_REP,
    WM_SP_FIM_SEP, WM_SP_FIM_PRE, WM_SP_FIM_SUF, WM_SP_FIM_MID};
  for (int k = 0; k < WM_SP_KEYS; k++) {
    int32_t *id = &t->special[key_slot[k]];
    if (*id >= n) *id = WM_NULL;
    int32_t v = c->special[k];
    if (v != WM_KEY_ABSENT && v >= 0 && v < n) *id = v;
  }
  if (c->add_bos >= 0) t->add_bos = c->add_bos != 0;
  if (c->add_eos >= 0) t->add_eos = c->add_eos != 0;

  detect(t, WM_SP_EOT, EOT_TEXTS);
  detect(t, WM_SP_EOM, EOM_TEXTS);
  detect(t, WM_SP_FIM_PRE, FIM_PRE_TEXTS);
  detect(t, WM_SP_FIM_SUF, FIM_SUF_TEXTS);
  detect(t, WM_SP_FIM_MID, FIM_MID_TEXTS);
  detect(t, WM_SP_FIM_PAD, FIM_PAD_TEXTS);
  detect(t, WM_SP_FIM_REP, FIM_REP_TEXTS);
  detect(t, WM_SP_FIM_SEP, FIM_SEP_TEXTS);
  // Control tokens whose text says "unused" are unused.
  for (int32_t id = 0; id < n; id++) {
    if (!(t->attr[id] & WM_ATTR_CONTROL)) continue;
    const uint8_t *s = str_ptr(t, id);
    uint32_t len = t->str_len[id];
    for (uint32_t i = 0; i + 6 <= len; i++) {
      if (memcmp(s + i, "unused", 6) == 0) { t->attr[id] |= WM_ATTR_UNUSED; break; }
    }
  }
  set_eog(t);

  int st = build_specials(t);
  if (st) return st;
  t->piece_off = malloc(((size_t)n + 1) * sizeof(uint32_t));
  if (!t->piece_off) return WM_ERR_NOMEM;
  for (int32_t id = 0; id < n; id++) {
    t->piece_off[id] = (uint32_t)t->piece.n;
    if ((st = piece_of(t, id))) return st;
  }
  t->piece_off[n] = (uint32_t)t->piece.n;

  // SPM text may be cut before a U+2581 that follows another character when no token contains
  // such a pair: no merge can cross the cut, so pieces tokenize independently (and in bounded
  // memory on long texts).
  t->spm_chunkable = 1;
  if (t->model == WM_MODEL_SPM) {
    for (int32_t id = 0; id < n && t->spm_chunkable; id++) {
      const uint8_t *s = str_ptr(t, id);
      uint32_t len = t->str_len[id];
      for (uint32_t i = 1; i + 3 <= len; i++) {
        if (s[i] == 0xE2 && s[i + 1] == 0x96 && s[i + 2] == 0x81 &&
            !(i >= 3 && s[i - 3] == 0xE2 && s[i - 2] == 0x96 && s[i - 1] == 0x81)) {
          t->spm_chunkable = 0;
          break;
        }
      }
    }
  }
  return WM_OK;
}

void wm_tok_destroy(wm_tok *t) {
  wm_bytes_free(&t->blob);
  free(t->str_off); free(t->str_len); free(t->map); free(t->attr); free(t->score);
  free(t->pairs); free(t->is_eog); free(t->sp_cache); free(t->trie); free(t->term_next);
  wm_bytes_free(&t->piece); free(t->piece_off);
  wm_ints_free(&t->out);
  wm_bytes_free(&t->text); wm_bytes_free(&t->word); wm_bytes_free(&t->dec);
  free(t->cps); free(t->syms); free(t->heap); free(t->frags); free(t->recs); free(t->claimed);
  memset(t, 0, sizeof(*t));
}
