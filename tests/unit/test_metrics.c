/*
 * Unit tests for src/obs/metrics: values, labels, histograms, escaping, and
 * the rendered page accepted by Prometheus's own checker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "obs/metrics.h"
#include "obs/process.h"

static int reset(void **state) {
  (void)state;
  loom_metrics_reset();
  return 0;
}

static void counters_and_gauges_by_label(void **state) {
  (void)state;
  const char *const labels[] = {"status", NULL};
  struct loom_metric *c = loom_metrics_counter("runs_total", "Runs.", labels);
  assert_ptr_equal(c, loom_metrics_counter("runs_total", "Runs.", labels));
  loom_metric_inc(c, (const char *const[]){"success"}, 1);
  loom_metric_inc(c, (const char *const[]){"success"}, 2);
  loom_metric_inc(c, (const char *const[]){"error"}, 1);
  assert_true(loom_metric_value(c, (const char *const[]){"success"}) == 3);
  assert_true(loom_metric_value(c, (const char *const[]){"error"}) == 1);

  struct loom_metric *g = loom_metrics_gauge("queue_depth", "Depth.", NULL);
  loom_metric_set(g, NULL, 7);
  loom_metric_inc(g, NULL, -2);
  assert_true(loom_metric_value(g, NULL) == 5);
}

static void histogram_renders_cumulative_buckets(void **state) {
  (void)state;
  const double bounds[] = {0.1, 1};
  struct loom_metric *h =
      loom_metrics_histogram("op_seconds", "Op time.", NULL, bounds, 2);
  loom_metric_observe(h, NULL, 0.05);
  loom_metric_observe(h, NULL, 0.5);
  loom_metric_observe(h, NULL, 5);
  char *page = loom_metrics_render();
  assert_non_null(strstr(page, "# TYPE op_seconds histogram\n"));
  assert_non_null(strstr(page, "op_seconds_bucket{le=\"0.1\"} 1\n"));
  assert_non_null(strstr(page, "op_seconds_bucket{le=\"1\"} 2\n"));
  assert_non_null(strstr(page, "op_seconds_bucket{le=\"+Inf\"} 3\n"));
  assert_non_null(strstr(page, "op_seconds_sum 5.55\n"));
  assert_non_null(strstr(page, "op_seconds_count 3\n"));
  loom_free(page);
}

static void label_values_are_escaped(void **state) {
  (void)state;
  const char *const labels[] = {"route", NULL};
  struct loom_metric *c =
      loom_metrics_counter("odd_total", "Help with \\ and\nnewline.", labels);
  loom_metric_inc(c, (const char *const[]){"a\"b\\c\nd"}, 1);
  char *page = loom_metrics_render();
  assert_non_null(strstr(page, "odd_total{route=\"a\\\"b\\\\c\\nd\"} 1\n"));
  assert_non_null(
      strstr(page, "# HELP odd_total Help with \\\\ and\\nnewline.\n"));
  loom_free(page);
}

static void process_metrics_are_present(void **state) {
  (void)state;
  assert_true(loom_process_rss_bytes() > 1024 * 1024);
  char *page = loom_metrics_render();
  assert_non_null(strstr(page, "process_resident_memory_bytes "));
  assert_non_null(strstr(page, "process_cpu_seconds_total "));
  assert_non_null(strstr(page, "process_open_fds "));
  assert_non_null(strstr(page, "process_start_time_seconds "));
  loom_free(page);
}

/* The page must satisfy `promtool check metrics` (Prometheus's own linter)
 * when it is installed, as it is by `make test`. */
static void promtool_accepts_the_page(void **state) {
  (void)state;
  if (system("command -v promtool >/dev/null 2>&1") != 0) {
    skip();
  }
  const char *const labels[] = {"method", "route", "status", NULL};
  struct loom_metric *h = loom_metrics_histogram(
      "http_request_duration_seconds", "HTTP request latency.", labels,
      loom_metrics_latency_buckets, loom_metrics_latency_nbuckets);
  loom_metric_observe(h, (const char *const[]){"GET", "/healthz", "200"},
                      0.001);
  char *page = loom_metrics_render();
  FILE *p = popen("promtool check metrics >/tmp/loom-promtool.out 2>&1", "w");
  assert_non_null(p);
  fputs(page, p);
  int status = pclose(p);
  if (status != 0)
    system("cat /tmp/loom-promtool.out >&2");
  assert_int_equal(status, 0);
  loom_free(page);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(counters_and_gauges_by_label, reset),
      cmocka_unit_test_setup(histogram_renders_cumulative_buckets, reset),
      cmocka_unit_test_setup(label_values_are_escaped, reset),
      cmocka_unit_test_setup(process_metrics_are_present, reset),
      cmocka_unit_test_setup(promtool_accepts_the_page, reset),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  loom_metrics_reset();
  return failed;
}
