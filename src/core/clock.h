/*
 * clock — monotonic time for durations, wall time for timestamps.
 */
#ifndef LOOM_CORE_CLOCK_H
#define LOOM_CORE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic nanoseconds since an arbitrary start; for measuring durations. */
uint64_t loom_clock_mono_ns(void);

/* CPU time the calling thread has used, in nanoseconds: what a piece of
 * work cost, whatever the scheduler did meanwhile. */
uint64_t loom_clock_thread_cpu_ns(void);

/* Monotonic seconds as a double, for metrics. */
double loom_clock_mono_s(void);

/* Wall-clock milliseconds since the Unix epoch. */
uint64_t loom_clock_wall_ms(void);

/*
 * Formats wall time `ms` as RFC 3339 UTC with microseconds, the form the
 * LangGraph API uses ("2026-11-25T22:09:36.123000+00:00"). `out` needs 33
 * bytes; returns `out`.
 */
char *loom_clock_format_iso(uint64_t ms, char out[33]);

#endif
