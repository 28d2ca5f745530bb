/*
 * metrics — a process-wide registry of counters, gauges and histograms with
 * labels, rendered in the Prometheus text format 0.0.4 for /metrics.
 *
 * Any layer registers a family once (registering the same name again
 * returns the same family, so modules need no start-up order) and updates
 * a series by its label values. Updates are thread-safe: each family has
 * one lock, held only to find the series and add to it; there is no
 * allocation after a series first appears.
 */
#ifndef LOOM_OBS_METRICS_H
#define LOOM_OBS_METRICS_H

#include <stddef.h>

struct loom_metric;

/* Default histogram buckets for request and query latencies, in seconds. */
extern const double loom_metrics_latency_buckets[];
extern const size_t loom_metrics_latency_nbuckets;

/*
 * Registers (or finds) a family. `labels` is a NULL-terminated list of
 * label names, or NULL for none. Names must be valid Prometheus names;
 * a programming error aborts. The registry owns the family.
 */
struct loom_metric *loom_metrics_counter(const char *name, const char *help,
                                         const char *const *labels);
struct loom_metric *loom_metrics_gauge(const char *name, const char *help,
                                       const char *const *labels);
/* `buckets`: ascending upper bounds, +Inf implied. */
struct loom_metric *loom_metrics_histogram(const char *name, const char *help,
                                           const char *const *labels,
                                           const double *buckets,
                                           size_t nbuckets);

/* `values` has one entry per label name (NULL when the family has none). */
void loom_metric_inc(struct loom_metric *m, const char *const *values,
                     double by);
void loom_metric_set(struct loom_metric *m, const char *const *values,
                     double value);
void loom_metric_observe(struct loom_metric *m, const char *const *values,
                         double value);

/* Current value of a counter or gauge series (0 if it never appeared). */
double loom_metric_value(struct loom_metric *m, const char *const *values);

/*
 * Renders every family, plus the process_* metrics (CPU, memory, file
 * descriptors, start time), as Prometheus text. Caller frees (loom_free).
 */
char *loom_metrics_render(void);

/* Forgets every family (tests and shutdown). Not safe while others update. */
void loom_metrics_reset(void);

#endif
