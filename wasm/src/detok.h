// Detokenization: whole sequences and a streaming decoder.
#pragma once
#include "tok.h"

typedef struct {
  wm_tok *t;
  int special;      // render control tokens' text
  uint8_t pend[4];  // start of a UTF-8 character whose remaining bytes have not arrived yet
  int npend;
  wm_bytes out;     // bytes released by the last push
} wm_stream;

// Bytes of ids[0..n) into out; returns the length or a status.
int32_t wm_detokenize(wm_tok *t, const int32_t *ids, size_t n, int remove_special, int special, wm_bytes *out);

// Adds token `id` (or nothing when id < 0) and releases every complete character into s->out;
// `final` also releases an incomplete tail as U+FFFD. Returns the number of bytes released.
int32_t wm_stream_push(wm_stream *s, int32_t id, int final);
