// Stop strings over streamed text (see stop.c).
#pragma once
#include "wm.h"

typedef struct {
  uint8_t *blob;     // stop strings, concatenated
  uint32_t *off;     // n + 1 offsets
  int32_t n;
  wm_bytes pending;  // text not yet released: a tail that may start a stop string
  wm_bytes out;      // text released by the last feed
  int stopped;       // a stop string was found (the text before it was released)
  int32_t which;     // index of that stop string
} wm_stop;

int wm_stop_init(wm_stop *s, const uint8_t *blob, const uint32_t *off, int32_t n);
void wm_stop_free(wm_stop *s);
// Adds n bytes; releases into s->out what can no longer belong to a stop string (with `final`,
// everything left). Returns the number of bytes released or a status.
int32_t wm_stop_feed(wm_stop *s, const uint8_t *b, size_t n, int final);
