// Code point classes (generated tables), UTF-8 decoding as llama.cpp does it, and the GPT-2
// byte <-> character map of byte-level BPE.
#pragma once
#include <stddef.h>
#include <stdint.h>

// Flag bits of the generated table (wasm/gen-unicode.mjs).
enum {
  WM_UF_N = 0x01,   // \p{N}
  WM_UF_L = 0x02,   // \p{L}
  WM_UF_Z = 0x04,   // \p{Z}
  WM_UF_M = 0x08,   // \p{M}
  WM_UF_P = 0x10,   // \p{P}
  WM_UF_S = 0x20,   // \p{S}
  WM_UF_C = 0x40,   // \p{C} except Cn
  WM_UF_WS = 0x80,  // White_Space (what \s means in the pre-tokenizer regexes)
};

#define WM_REPLACEMENT 0xFFFDu

uint8_t wm_uni_flags(uint32_t cp);

// Lowercase of cp when it is an ASCII letter after lowercasing, else cp itself. The
// pre-tokenizers only compare lowercased code points with ASCII letters.
uint32_t wm_uni_lower_ascii(uint32_t cp);

// Decodes `n` bytes into code points the way llama.cpp's unicode_cpts_from_utf8 does: the lead
// byte gives the length, continuation bytes are checked, and each byte that does not start a
// well-formed sequence becomes U+FFFD (overlong forms and surrogates are accepted as llama.cpp
// accepts them; a 4-byte form above U+10FFFF, on which llama.cpp throws, becomes U+FFFD).
// `out` must hold n entries. Returns the number of code points.
size_t wm_utf8_decode(const uint8_t *s, size_t n, uint32_t *out);

// Writes cp as UTF-8 (1..4 bytes) and returns the length. cp must be <= 0x10FFFF.
int wm_utf8_encode(uint32_t cp, uint8_t *out);

// Length of the UTF-8 sequence a lead byte announces (1 for continuation/invalid bytes < 0xC0,
// 2, 3 or 4), as llama.cpp's unicode_len_utf8.
static inline int wm_utf8_len(uint8_t lead) {
  static const uint8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return len[lead >> 4];
}

// GPT-2 byte-level BPE maps every byte to one printable character so that token texts are valid
// strings: byte b <-> code point wm_gpt2_byte_cp[b].
extern uint16_t wm_gpt2_byte_cp[256];
void wm_gpt2_init(void);
// Byte for a code point of the map, or -1.
int wm_gpt2_cp_byte(uint32_t cp);
