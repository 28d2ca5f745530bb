/*
 * process — the standard process_* metrics (CPU seconds, resident and
 * virtual memory, open and maximum file descriptors, start time), read
 * from /proc when /metrics is rendered.
 */
#ifndef LOOM_OBS_PROCESS_H
#define LOOM_OBS_PROCESS_H

#include <stddef.h>

/* Refreshes the process_* gauges in the metrics registry. */
void loom_process_metrics_update(void);

/* Resident set size of this process in bytes (0 if unreadable). */
size_t loom_process_rss_bytes(void);

#endif
