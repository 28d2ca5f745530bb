/*
 * id — UUIDv7: 48 bits of Unix milliseconds, 12 bits of per-millisecond
 * counter (RFC 9562 method 1), 62 random bits.
 */
#include "core/id.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include "core/clock.h"

void loom_random_bytes(void *out, size_t len) {
  unsigned char *p = out;
  while (len > 0) {
    ssize_t n = getrandom(p, len, 0);
    if (n <= 0) {
      /* getrandom only fails before the pool is seeded or on EINTR. */
      continue;
    }
    p += n;
    len -= (size_t)n;
  }
}

/* Guards last_ms/counter so ids from many threads stay ordered. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_ms;
static uint16_t counter;

char *loom_id_new(char out[LOOM_ID_LEN + 1]) {
  unsigned char rnd[10];
  loom_random_bytes(rnd, sizeof rnd);

  pthread_mutex_lock(&lock);
  uint64_t ms = loom_clock_wall_ms();
  if (ms <= last_ms) {
    ms = last_ms;
    if (++counter > 0x0fff) { /* counter exhausted: borrow the next ms */
      ms = ++last_ms;
      counter = 0;
    }
  } else {
    last_ms = ms;
    counter = (uint16_t)(rnd[0] & 0x03); /* small random start, room to grow */
  }
  uint16_t seq = counter;
  pthread_mutex_unlock(&lock);

  unsigned char b[16];
  for (int i = 0; i < 6; i++)
    b[i] = (unsigned char)(ms >> (40 - 8 * i));
  b[6] = (unsigned char)(0x70 | (seq >> 8));
  b[7] = (unsigned char)(seq & 0xff);
  b[8] = (unsigned char)(0x80 | (rnd[1] & 0x3f));
  for (int i = 9; i < 16; i++)
    b[i] = rnd[i - 7];

  snprintf(out, LOOM_ID_LEN + 1,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x%02x%02x%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
           b[11], b[12], b[13], b[14], b[15]);
  return out;
}

bool loom_id_is_uuid(const char *s) {
  for (int i = 0; i < LOOM_ID_LEN; i++) {
    char c = s[i];
    bool dash = (i == 8 || i == 13 || i == 18 || i == 23);
    if (dash ? c != '-'
             : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                 (c >= 'A' && c <= 'F')))
      return false;
  }
  return s[LOOM_ID_LEN] == 0;
}
