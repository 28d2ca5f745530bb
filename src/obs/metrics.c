/*
 * metrics — families in a registry list; series of a family in a small
 * chained hash keyed by the joined label values. A histogram series keeps
 * per-bucket counts (not cumulative: cumulated at render time).
 */
#include "obs/metrics.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "obs/process.h"

enum kind { COUNTER, GAUGE, HISTOGRAM };

#define SERIES_SLOTS 64
#define MAX_LABELS 8

struct series {
  struct series *next;
  char *key;     /* label values joined by \x1f */
  char **values; /* one per label name */
  double value;  /* counter / gauge */
  double sum;    /* histogram */
  unsigned long long count;
  unsigned long long *buckets; /* nbuckets + 1 (the last is +Inf) */
};

struct loom_metric {
  struct loom_metric *next;
  char *name;
  char *help;
  enum kind kind;
  char *labels[MAX_LABELS];
  size_t nlabels;
  double *bounds;
  size_t nbounds;
  pthread_mutex_t lock; /* guards the series table and their numbers */
  struct series *slots[SERIES_SLOTS];
};

const double loom_metrics_latency_buckets[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25,   0.5,   1,      2.5,   5,    10,    30,   60};
const size_t loom_metrics_latency_nbuckets =
    sizeof loom_metrics_latency_buckets /
    sizeof loom_metrics_latency_buckets[0];

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct loom_metric *families; /* registration order, reversed */

static struct loom_metric *lookup_or_add(const char *name, const char *help,
                                         enum kind kind,
                                         const char *const *labels,
                                         const double *bounds, size_t nbounds) {
  pthread_mutex_lock(&registry_lock);
  struct loom_metric *m = families;
  while (m && strcmp(m->name, name) != 0)
    m = m->next;
  if (m) {
    if (m->kind != kind) {
      fprintf(stderr, "loom: metric %s registered twice as different types\n",
              name);
      abort();
    }
    pthread_mutex_unlock(&registry_lock);
    return m;
  }
  m = LOOM_NEW(struct loom_metric);
  m->name = loom_strdup(name);
  m->help = loom_strdup(help);
  m->kind = kind;
  for (; labels && labels[m->nlabels]; m->nlabels++) {
    if (m->nlabels == MAX_LABELS)
      abort(); /* a programming error, not input */
    m->labels[m->nlabels] = loom_strdup(labels[m->nlabels]);
  }
  if (nbounds) {
    m->bounds = loom_malloc(nbounds * sizeof *bounds);
    memcpy(m->bounds, bounds, nbounds * sizeof *bounds);
    m->nbounds = nbounds;
  }
  pthread_mutex_init(&m->lock, NULL);
  m->next = families;
  families = m;
  pthread_mutex_unlock(&registry_lock);
  return m;
}

struct loom_metric *loom_metrics_counter(const char *name, const char *help,
                                         const char *const *labels) {
  return lookup_or_add(name, help, COUNTER, labels, NULL, 0);
}

struct loom_metric *loom_metrics_gauge(const char *name, const char *help,
                                       const char *const *labels) {
  return lookup_or_add(name, help, GAUGE, labels, NULL, 0);
}

struct loom_metric *loom_metrics_histogram(const char *name, const char *help,
                                           const char *const *labels,
                                           const double *buckets,
                                           size_t nbuckets) {
  return lookup_or_add(name, help, HISTOGRAM, labels, buckets, nbuckets);
}

static unsigned hash(const char *s) {
  unsigned h = 2166136261u; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

/* Finds the series for `values`, creating it; call with m->lock held. */
static struct series *series_of(struct loom_metric *m,
                                const char *const *values) {
  /* "v1\x1fv2\x1f", copied by hand: snprintf was most of the cost of a
   * model call's metrics, eight series per call. */
  char key[1024];
  size_t off = 0;
  for (size_t i = 0; i < m->nlabels; i++) {
    const char *v = values[i] ? values[i] : "";
    size_t n = strlen(v);
    if (n + 1 >= sizeof key - off)
      break; /* absurdly long label values share a truncated key */
    memcpy(key + off, v, n);
    key[off + n] = '\x1f';
    off += n + 1;
  }
  key[off] = 0;
  unsigned slot = hash(key) % SERIES_SLOTS;
  for (struct series *s = m->slots[slot]; s; s = s->next)
    if (strcmp(s->key, key) == 0)
      return s;
  struct series *s = LOOM_NEW(struct series);
  s->key = loom_strdup(key);
  s->values = loom_calloc(m->nlabels ? m->nlabels : 1, sizeof(char *));
  for (size_t i = 0; i < m->nlabels; i++)
    s->values[i] = loom_strdup(values[i] ? values[i] : "");
  if (m->kind == HISTOGRAM)
    s->buckets = loom_calloc(m->nbounds + 1, sizeof *s->buckets);
  s->next = m->slots[slot];
  m->slots[slot] = s;
  return s;
}

void loom_metric_inc(struct loom_metric *m, const char *const *values,
                     double by) {
  pthread_mutex_lock(&m->lock);
  series_of(m, values)->value += by;
  pthread_mutex_unlock(&m->lock);
}

void loom_metric_set(struct loom_metric *m, const char *const *values,
                     double value) {
  pthread_mutex_lock(&m->lock);
  series_of(m, values)->value = value;
  pthread_mutex_unlock(&m->lock);
}

void loom_metric_observe(struct loom_metric *m, const char *const *values,
                         double value) {
  size_t b = 0;
  while (b < m->nbounds && value > m->bounds[b])
    b++;
  pthread_mutex_lock(&m->lock);
  struct series *s = series_of(m, values);
  s->buckets[b]++;
  s->sum += value;
  s->count++;
  pthread_mutex_unlock(&m->lock);
}

double loom_metric_value(struct loom_metric *m, const char *const *values) {
  pthread_mutex_lock(&m->lock);
  double v = series_of(m, values)->value;
  pthread_mutex_unlock(&m->lock);
  return v;
}

/* Text-format escaping: label values escape \ " and newline; help text
 * escapes \ and newline. The page is written to a memory stream: it has
 * no outside input to cap. */
static void put_escaped(FILE *out, const char *s, bool quote) {
  for (; *s; s++) {
    if (*s == '\\')
      fputs("\\\\", out);
    else if (*s == '\n')
      fputs("\\n", out);
    else if (quote && *s == '"')
      fputs("\\\"", out);
    else
      fputc(*s, out);
  }
}

/* The shortest decimal that reads back as the same double: 0.1, not
 * 0.10000000000000001. */
static void format_number(char *out, size_t size, double v) {
  for (int precision = 15; precision <= 17; precision++) {
    snprintf(out, size, "%.*g", precision, v);
    if (strtod(out, NULL) == v)
      return;
  }
}

static void put_number(FILE *out, double v) {
  if (v != v)
    fputs("NaN", out);
  else if (v > 1e308)
    fputs("+Inf", out);
  else if (v < -1e308)
    fputs("-Inf", out);
  else {
    char text[32];
    format_number(text, sizeof text, v);
    fputs(text, out);
  }
}

/* name{l1="v1",l2="v2"[,le="x"]} value */
static void put_sample(FILE *out, const struct loom_metric *m,
                       const char *suffix, const struct series *s,
                       const char *le, double value) {
  fprintf(out, "%s%s", m->name, suffix);
  if (m->nlabels || le) {
    fputc('{', out);
    for (size_t i = 0; i < m->nlabels; i++) {
      fprintf(out, "%s%s=\"", i ? "," : "", m->labels[i]);
      put_escaped(out, s->values[i], true);
      fputc('"', out);
    }
    if (le)
      fprintf(out, "%sle=\"%s\"", m->nlabels ? "," : "", le);
    fputc('}', out);
  }
  fputc(' ', out);
  put_number(out, value);
  fputc('\n', out);
}

static void put_histogram(FILE *out, const struct loom_metric *m,
                          const struct series *s) {
  unsigned long long cumulative = 0;
  char le[32];
  for (size_t i = 0; i < m->nbounds; i++) {
    cumulative += s->buckets[i];
    format_number(le, sizeof le, m->bounds[i]);
    put_sample(out, m, "_bucket", s, le, (double)cumulative);
  }
  cumulative += s->buckets[m->nbounds];
  put_sample(out, m, "_bucket", s, "+Inf", (double)cumulative);
  put_sample(out, m, "_sum", s, NULL, s->sum);
  put_sample(out, m, "_count", s, NULL, (double)s->count);
}

static void put_family(FILE *out, struct loom_metric *m) {
  static const char *const type_names[] = {"counter", "gauge", "histogram"};
  fprintf(out, "# HELP %s ", m->name);
  put_escaped(out, m->help, false);
  fprintf(out, "\n# TYPE %s %s\n", m->name, type_names[m->kind]);
  pthread_mutex_lock(&m->lock);
  for (size_t i = 0; i < SERIES_SLOTS; i++)
    for (struct series *s = m->slots[i]; s; s = s->next) {
      if (m->kind == HISTOGRAM)
        put_histogram(out, m, s);
      else
        put_sample(out, m, "", s, NULL, s->value);
    }
  pthread_mutex_unlock(&m->lock);
}

char *loom_metrics_render(void) {
  loom_process_metrics_update();
  char *page = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&page, &size);
  if (!out)
    return loom_strdup("");
  pthread_mutex_lock(&registry_lock);
  /* The list is newest first; render oldest first for a stable page.
   * Families are never freed while the server runs, so the snapshot of
   * pointers stays valid after the registry lock is dropped. */
  size_t n = 0;
  for (struct loom_metric *m = families; m; m = m->next)
    n++;
  struct loom_metric **order = loom_calloc(n, sizeof *order);
  size_t i = n;
  for (struct loom_metric *m = families; m; m = m->next)
    order[--i] = m;
  pthread_mutex_unlock(&registry_lock);
  for (i = 0; i < n; i++)
    put_family(out, order[i]);
  loom_free(order);
  fclose(out);
  /* open_memstream allocates with malloc; hand back a loom_free-able copy. */
  char *copy = loom_strndup(page, size);
  free(page);
  return copy;
}

static void free_family(struct loom_metric *m) {
  for (size_t i = 0; i < SERIES_SLOTS; i++) {
    struct series *s = m->slots[i];
    while (s) {
      struct series *next = s->next;
      for (size_t j = 0; j < m->nlabels; j++)
        loom_free(s->values[j]);
      loom_free(s->values);
      loom_free(s->buckets);
      loom_free(s->key);
      loom_free(s);
      s = next;
    }
  }
  for (size_t i = 0; i < m->nlabels; i++)
    loom_free(m->labels[i]);
  pthread_mutex_destroy(&m->lock);
  loom_free(m->bounds);
  loom_free(m->name);
  loom_free(m->help);
  loom_free(m);
}

void loom_metrics_reset(void) {
  pthread_mutex_lock(&registry_lock);
  struct loom_metric *m = families;
  families = NULL;
  pthread_mutex_unlock(&registry_lock);
  while (m) {
    struct loom_metric *next = m->next;
    free_family(m);
    m = next;
  }
}
