// The tokenizer: a vocabulary loaded from GGUF metadata (tokenizer.ggml.*) and the scratch
// buffers one encode call needs. Behaviour follows llama.cpp's llama-vocab.cpp (the oracle the
// tests compare against); each file names the llama.cpp function it mirrors.
#pragma once
#include "wm.h"

enum { WM_MODEL_SPM = 1, WM_MODEL_BPE = 2 };                  // "llama", "gpt2"
enum { WM_SPLIT_NONE = 0, WM_SPLIT_GPT2, WM_SPLIT_LLAMA3, WM_SPLIT_QWEN2 };

// Token attributes, numbered as llama.h's llama_token_attr.
enum {
  WM_ATTR_UNKNOWN = 1 << 0,
  WM_ATTR_UNUSED = 1 << 1,
  WM_ATTR_NORMAL = 1 << 2,
  WM_ATTR_CONTROL = 1 << 3,
  WM_ATTR_USER_DEFINED = 1 << 4,
  WM_ATTR_BYTE = 1 << 5,
};

// Special token slots, in the order llama.cpp reads their GGUF keys (the last three are the
// deprecated names of the FIM ids and override them when present).
enum {
  WM_SP_BOS, WM_SP_EOS, WM_SP_EOT, WM_SP_EOM, WM_SP_UNK, WM_SP_SEP, WM_SP_PAD, WM_SP_MASK,
  WM_SP_FIM_PRE, WM_SP_FIM_SUF, WM_SP_FIM_MID, WM_SP_FIM_PAD, WM_SP_FIM_REP, WM_SP_FIM_SEP,
  WM_SP_PREFIX, WM_SP_SUFFIX, WM_SP_MIDDLE, WM_SP_KEYS,
  WM_SP_COUNT = WM_SP_FIM_SEP + 1,
};
#define WM_KEY_ABSENT INT32_MIN

// Configuration written by the TypeScript wrapper: every field is 32 bits, in this order.
typedef struct {
  uint32_t model_ptr, model_len;      // tokenizer.ggml.model, UTF-8
  uint32_t pre_ptr, pre_len;          // tokenizer.ggml.pre, UTF-8 (length 0 when absent)
  int32_t n_tokens;
  uint32_t text_ptr, text_len;        // token texts, concatenated
  uint32_t text_off_ptr;              // n_tokens + 1 u32 byte offsets into the texts
  uint32_t types_ptr;                 // n_tokens i32 (tokenizer.ggml.token_type) or 0
  uint32_t scores_ptr;                // n_tokens f32 (tokenizer.ggml.scores) or 0
  int32_t n_merges;                   // -1 when tokenizer.ggml.merges is absent
  uint32_t merges_ptr, merges_len, merges_off_ptr;
  int32_t special[WM_SP_KEYS];        // GGUF value, or WM_KEY_ABSENT
  int32_t add_bos, add_eos, add_space_prefix; // 0/1, or -1 when absent
} wm_tok_config;

typedef struct { uint32_t l, r; int32_t rank, res; } wm_pair_slot;  // l == UINT32_MAX: empty

// One symbol of a merge loop: a byte range of the word being merged.
typedef struct {
  int32_t prev, next;
  uint32_t start, len;
  int32_t id;          // BPE: string id; SPM: unused
  double best;         // priority of the pair (this, next); lower merges first; INFINITY: none
  int32_t best_res;    // id the pair (this, next) merges into
} wm_sym;

typedef struct {
  double prio;
  int32_t left, right;
  uint32_t left_len, right_len;
  int32_t res;
} wm_heap_item;

typedef struct {
  uint32_t pos, len;
  int32_t token;       // -1 for raw text
} wm_frag;

// Node of the special-token trie: children form a sibling list; `term` is the first rank (index
// in sp_cache) whose text ends here, or -1.
typedef struct {
  int32_t child, sibling, term;
  uint8_t byte;
} wm_trie_node;

typedef struct wm_tok {
  int model, split;
  int add_bos, add_eos, add_space_prefix, clean_spaces, ignore_merges;
  int32_t n_vocab;

  // String store: ids [0, n_vocab) are the tokens, [n_vocab, n_str) strings that merges
  // mention but the vocabulary lacks (BPE merges are looked up by string, as llama.cpp does).
  wm_bytes blob;
  uint32_t *str_off, *str_len;
  int32_t n_str, str_cap;
  int32_t *map;        // open addressing over string content -> id; -1 empty
  uint32_t map_mask;

  uint16_t *attr;
  float *score;
  wm_pair_slot *pairs;
  uint32_t pair_mask;
  int32_t n_merges;
  int32_t byte_sym[256];   // BPE: string id of byte b's GPT-2 character; SPM: token of byte b
  int32_t special[WM_SP_COUNT];
  uint8_t *is_eog;

  int32_t *sp_cache;       // special tokens, longest text first (tokenizer_st_partition order)
  int32_t n_sp;
  int32_t n_sp_plain;      // how many of them split text without parse_special (user-defined)
  wm_trie_node *trie;      // byte trie of their texts (partition.c)
  int32_t n_trie;
  int32_t trie_root[256];  // first-level node per byte, -1 for none
  int32_t *term_next;      // per rank: the next rank whose text ends at the same node, or -1

  wm_bytes piece;          // token_to_piece(id, special = true) of every token
  uint32_t *piece_off;     // n_vocab + 1

  int spm_chunkable;       // no token joins a non-U+2581 character to a following U+2581

  // Scratch reused across calls.
  wm_ints out;
  wm_bytes text, word, dec;
  uint32_t *cps;
  size_t cps_cap;
  wm_sym *syms;
  size_t syms_cap;
  wm_heap_item *heap;
  size_t heap_cap;
  wm_frag *frags;
  size_t frags_cap, n_frags;
  int64_t *recs;
  size_t recs_cap;
  uint8_t *claimed;
  size_t claimed_cap;
} wm_tok;

// vocab.c
int wm_tok_load(wm_tok *t, const wm_tok_config *cfg);
void wm_tok_destroy(wm_tok *t);
int32_t wm_tok_find(const wm_tok *t, const uint8_t *s, size_t n);   // string id or -1

// bpe.c, spm.c: tokenize one raw-text fragment, appending ids to t->out.
int wm_bpe_fragment(wm_tok *t, const uint8_t *s, size_t n);
int wm_spm_fragment(wm_tok *t, const uint8_t *s, size_t n, int prefix_space);

// merge.c: the merge loop shared by BPE and SPM. `pair` gives the priority (lower first) and
// result of merging symbols a and b, or INFINITY. Symbols in t->syms[0..n).
typedef double (*wm_pair_fn)(wm_tok *t, const uint8_t *buf, const wm_sym *a, const wm_sym *b, int32_t *res);
int wm_merge(wm_tok *t, const uint8_t *buf, size_t n, wm_pair_fn pair);

// pretok.c: split code points into words; calls `word` with each [start, end) range.
typedef int (*wm_word_fn)(void *ctx, size_t start, size_t end);
int wm_pretok_split(int split, const uint32_t *cp, size_t n, wm_word_fn word, void *ctx);

// partition.c: special tokens in the text -> t->frags; the trie it matches with.
int wm_partition(wm_tok *t, const uint8_t *s, size_t n, int parse_special);
int wm_special_trie_build(wm_tok *t);

// detok.c
int32_t wm_piece(const wm_tok *t, int32_t id, int special, const uint8_t **p);
