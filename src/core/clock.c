/*
 * clock — clock_gettime wrappers.
 */
#include "core/clock.h"

#include <stdio.h>
#include <time.h>

uint64_t loom_clock_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t loom_clock_thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double loom_clock_mono_s(void) { return (double)loom_clock_mono_ns() / 1e9; }

uint64_t loom_clock_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

char *loom_clock_format_iso(uint64_t ms, char out[33]) {
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  size_t n = strftime(out, 33, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 33 - n, ".%03u000+00:00", (unsigned)(ms % 1000));
  return out;
}
