#include "unicode.h"

#include "unicode_tables.h"  // generated into wasm/build/gen by wasm/gen-unicode.mjs

uint8_t wm_uni_flags(uint32_t cp) {
  if (cp >= 0x110000u) return 0;
  return wm_uni_stage2[((uint32_t)wm_uni_stage1[cp >> WM_UNI_BLOCK_SHIFT] << WM_UNI_BLOCK_SHIFT) | (cp & WM_UNI_BLOCK_MASK)];
}

uint32_t wm_uni_lower_ascii(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  // The table is tiny (ASCII capitals plus a couple of compatibility letters): scan it.
  for (int i = 0; i < WM_UNI_LOWER_ASCII_N; i++) {
    if (wm_uni_lower_tab[i][0] == cp) return wm_uni_lower_tab[i][1];
  }
  return cp;
}

static inline int is_cont(uint8_t b) { return (b & 0xC0) == 0x80; }

size_t wm_utf8_decode(const uint8_t *s, size_t n, uint32_t *out) {
  size_t i = 0, k = 0;
  while (i < n) {
    uint8_t b = s[i];
    if (b < 0x80) { out[k++] = b; i += 1; continue; }
    if (b >= 0xC0 && b < 0xE0) {
      if (i + 1 < n && is_cont(s[i + 1])) {
        out[k++] = ((uint32_t)(b & 0x1F) << 6) | (s[i + 1] & 0x3F);
        i += 2;
        continue;
      }
    } else if (b >= 0xE0 && b < 0xF0) {
      if (i + 2 < n && is_cont(s[i + 1]) && is_cont(s[i + 2])) {
        out[k++] = ((uint32_t)(b & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
        i += 3;
        continue;
      }
    } else if (b >= 0xF0 && b < 0xF8) {
      if (i + 3 < n && is_cont(s[i + 1]) && is_cont(s[i + 2]) && is_cont(s[i + 3])) {
        uint32_t cp = ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
                      ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
        if (cp <= 0x10FFFF) {
          out[k++] = cp;
          i += 4;
          continue;
        }
      }
    }
    // Not the start of a sequence llama.cpp accepts: this one byte becomes U+FFFD.
    out[k++] = WM_REPLACEMENT;
    i += 1;
  }
  return k;
}

int wm_utf8_encode(uint32_t cp, uint8_t *o) {
  if (cp < 0x80) { o[0] = (uint8_t)cp; return 1; }
  if (cp < 0x800) { o[0] = 0xC0 | (cp >> 6); o[1] = 0x80 | (cp & 0x3F); return 2; }
  if (cp < 0x10000) {
    o[0] = 0xE0 | (cp >> 12); o[1] = 0x80 | ((cp >> 6) & 0x3F); o[2] = 0x80 | (cp & 0x3F);
    return 3;
  }
  o[0] = 0xF0 | (cp >> 18); o[1] = 0x80 | ((cp >> 12) & 0x3F);
  o[2] = 0x80 | ((cp >> 6) & 0x3F); o[3] = 0x80 | (cp & 0x3F);
  return 4;
}

uint16_t wm_gpt2_byte_cp[256];
static int16_t cp_byte[512];  // every mapped code point is below 0x144
static int gpt2_ready = 0;

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF)
// map to themselves; the other 68 bytes map, in byte order, to U+0100, U+0101, ...
void wm_gpt2_init(void) {
  if (gpt2_ready) return;
  int next = 256;
  for (int b = 0; b < 256; b++) {
    int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    wm_gpt2_byte_cp[b] = (uint16_t)(printable ? b : next++);
  }
  for (int i = 0; i < 512; i++) cp_byte[i] = -1;
  for (int b = 0; b < 256; b++) cp_byte[wm_gpt2_byte_cp[b]] = (int16_t)b;
  gpt2_ready = 1;
}

int wm_gpt2_cp_byte(uint32_t cp) { return cp < 512 ? cp_byte[cp] : -1; }
