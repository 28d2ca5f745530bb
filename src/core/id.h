/*
 * id — time-sortable unique ids (UUID version 7).
 *
 * Ids sort by creation time as strings, which checkpoints, runs and events
 * rely on ("newest first" is ORDER BY id DESC). Within one millisecond a
 * counter keeps ids from one process strictly increasing; the rest is
 * random, so ids from many processes do not collide.
 */
#ifndef LOOM_CORE_ID_H
#define LOOM_CORE_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOOM_ID_LEN 36 /* "xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx" */

/* Writes a new id and its terminator into `out`; returns `out`. Thread-safe. */
char *loom_id_new(char out[LOOM_ID_LEN + 1]);

/* True when `s` has the shape of a UUID (any version), case-insensitive. */
bool loom_id_is_uuid(const char *s);

/* Fills `out` with `len` bytes from the kernel's random source. */
void loom_random_bytes(void *out, size_t len);

/* 64 random bits from the same per-thread pool as ids (one getrandom per
 * 256 bytes): for seeds made at a high rate, e.g. one per run. */
uint64_t loom_random_u64(void);

#endif
