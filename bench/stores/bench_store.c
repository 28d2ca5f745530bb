/*
 * bench_store — checkpoint and cache costs on this machine.
 *
 * Checkpoints: a state of 8 channels (one 64 KiB document, seven small),
 * 1,000 steps that each change one small channel, written two ways in
 * separate databases: "incremental" (loom's model: only the changed
 * channel's blob) and "full copy" (every channel stored at every step, the
 * naive peer). Then reads of the latest checkpoint, a history page, and
 * the same writes from 4 threads. Cache: set and get on the in-process
 * backend. Prints one table.
 */
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/id.h"
#include "stores/cache.h"
#include "stores/store.h"

enum { CHANNELS = 8, STEPS = 1000, DOC = 64 * 1024, THREADS = 4 };

static void row(const char *what, long n, double seconds, const char *extra) {
  printf("| %-34s | %7ld | %10.1f | %-18s |\n", what, n, seconds * 1e6 / n,
         extra);
}

static void die(const char *what, const struct loom_error *e) {
  fprintf(stderr, "bench_store: %s: %s\n", what, e ? e->message : "");
  exit(1);
}

static int rm_cb(const char *p, const struct stat *s, int f, struct FTW *w) {
  (void)s, (void)f, (void)w;
  return remove(p);
}

static long long file_bytes(const char *dir) {
  struct stat st;
  long long total = 0;
  const char *names[] = {"loom.db", "loom.db-wal"};
  for (int i = 0; i < 2; i++) {
    char *p = loom_asprintf("%s/%s", dir, names[i]);
    if (stat(p, &st) == 0)
      total += st.st_size;
    loom_free(p);
  }
  return total;
}

/* Writes STEPS checkpoints to `thread`. Incremental: the first stores
 * every channel, later ones only the channel that changed. Full: every
 * channel gets a new version and a blob at every step. */
static void write_steps(struct loom_store *s, const char *thread, bool full,
                        json_t *doc) {
  char names[CHANNELS][8], vers[CHANNELS][16];
  char id[LOOM_ID_LEN + 1], prev[LOOM_ID_LEN + 1] = "";
  struct loom_error e = {0};
  for (int c = 0; c < CHANNELS; c++) {
    snprintf(names[c], sizeof names[c], "ch%d", c);
    snprintf(vers[c], sizeof vers[c], "%08d", 0);
  }
  for (int step = 0; step < STEPS; step++) {
    int changed = 1 + step % (CHANNELS - 1);
    struct loom_blob blobs[CHANNELS];
    json_t *vals[CHANNELS] = {0}, *cv = json_object();
    size_t n = 0;
    for (int c = 0; c < CHANNELS; c++) {
      if (full || c == changed)
        snprintf(vers[c], sizeof vers[c], "%08d", step + 1);
      json_object_set_new(cv, names[c], json_string(vers[c]));
      if (!(full || step == 0 || c == changed))
        continue;
      vals[c] = c == 0 ? json_incref(doc) : json_pack("{s:i}", "step", step);
      blobs[n++] = (struct loom_blob){names[c], vers[c], vals[c]};
    }
    json_t *cp_doc = json_pack("{s:i, s:o}", "v", 1, "channel_versions", cv);
    loom_id_new(id);
    struct loom_checkpoint cp = {.thread_id = (char *)thread,
                                 .id = id,
                                 .parent_id = *prev ? prev : NULL,
                                 .checkpoint = cp_doc};
    if (loom_store_put_checkpoint(s, "bench", &cp, blobs, n, &e))
      die("put_checkpoint", &e);
    json_decref(cp_doc);
    for (int c = 0; c < CHANNELS; c++)
      json_decref(vals[c]);
    memcpy(prev, id, sizeof prev);
  }
}

struct worker {
  struct loom_store *s;
  json_t *doc;
  char thread[32];
};

static void *worker_main(void *arg) {
  struct worker *w = arg;
  write_steps(w->s, w->thread, false, w->doc);
  return NULL;
}

static bool count_cb(const struct loom_checkpoint *cp, void *arg) {
  (void)cp;
  (*(int *)arg)++;
  return true;
}

static struct loom_store *open_in(const char *base, const char *name,
                                  char **dir) {
  struct loom_error e = {0};
  struct loom_store *s;
  *dir = loom_asprintf("%s/%s", base, name);
  if (loom_store_open("", *dir, &s, &e) || loom_store_migrate(s, &e))
    die("open", &e);
  return s;
}

static void time_gets(struct loom_store *s, const char *thread,
                      const char *what) {
  struct loom_error e = {0};
  double t0 = loom_clock_mono_s();
  for (int i = 0; i < STEPS; i++) {
    struct loom_checkpoint *cp;
    if (loom_store_get_checkpoint(s, "bench", thread, "", NULL, &cp, &e))
      die("get", &e);
    loom_checkpoint_free(cp);
  }
  row(what, STEPS, loom_clock_mono_s() - t0, "");
}

/* The same 1,000 steps stored incrementally and as full copies. */
static void bench_write_models(const char *base, json_t *doc) {
  long long bytes[2];
  for (int full = 0; full < 2; full++) {
    char *dir;
    struct loom_store *s = open_in(base, full ? "full" : "incr", &dir);
    double t0 = loom_clock_mono_s();
    write_steps(s, "th", full, doc);
    row(full ? "put_checkpoint, full copy (peer)"
             : "put_checkpoint, incremental",
        STEPS, loom_clock_mono_s() - t0, "");
    if (!full)
      time_gets(s, "th", "get latest (8 channels, 64 KiB)");
    loom_store_close(s); /* the last connection folds the WAL in */
    bytes[full] = file_bytes(dir);
    loom_free(dir);
  }
  char extra[64];
  snprintf(extra, sizeof extra, "%.2f MB vs %.1f MB", bytes[0] / 1e6,
           bytes[1] / 1e6);
  printf("| %-34s | %7d | %10s | %-18s |\n", "db size, incremental vs full",
         STEPS, "-", extra);
}

static void bench_reads_and_threads(const char *base, json_t *doc) {
  char *dir;
  struct loom_store *s = open_in(base, "extra", &dir);
  struct loom_error e = {0};
  json_t *small = json_string("small");
  write_steps(s, "small", false, small);
  json_decref(small);
  time_gets(s, "small", "get latest (8 small channels)");
  double t0 = loom_clock_mono_s();
  int listed = 0;
  for (int i = 0; i < 100; i++) {
    struct loom_checkpoint_query q = {.thread_id = "small", .limit = 100};
    if (loom_store_list_checkpoints(s, "bench", &q, count_cb, &listed, &e))
      die("list", &e);
  }
  row("list 100 newest", 100, loom_clock_mono_s() - t0, "");
  struct worker ws[THREADS];
  pthread_t tids[THREADS];
  t0 = loom_clock_mono_s();
  for (int i = 0; i < THREADS; i++) {
    ws[i] = (struct worker){s, doc, ""};
    snprintf(ws[i].thread, sizeof ws[i].thread, "par-%d", i);
    pthread_create(&tids[i], NULL, worker_main, &ws[i]);
  }
  for (int i = 0; i < THREADS; i++)
    pthread_join(tids[i], NULL);
  row("put_checkpoint, 4 threads", (long)STEPS * THREADS,
      loom_clock_mono_s() - t0, "wall time per op");
  loom_store_close(s);
  loom_free(dir);
}

static void bench_cache(void) {
  enum { N = 200000 };
  struct loom_cache *c = loom_cache_memory_new(8u << 20);
  char key[32], value[256];
  memset(value, 'x', sizeof value);
  double t0 = loom_clock_mono_s();
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof key, "api:t:%d", i % 50000);
    (void)loom_cache_set(c, key, value, sizeof value, 60000);
  }
  row("cache set (256 B, 8 MiB budget)", N, loom_clock_mono_s() - t0, "");
  t0 = loom_clock_mono_s();
  for (int i = 0; i < N; i++) {
    char *out;
    snprintf(key, sizeof key, "api:t:%d", (i * 7) % 50000);
    if (loom_cache_get(c, key, &out, NULL) == LOOM_OK)
      loom_free(out);
  }
  struct loom_cache_stats st;
  loom_cache_stats(c, &st);
  char extra[64];
  snprintf(extra, sizeof extra, "hit rate %.0f%%",
           100.0 * st.hits / (st.hits + st.misses));
  row("cache get", N, loom_clock_mono_s() - t0, extra);
  loom_cache_free(c);
}

int main(void) {
  char base[] = "/tmp/loom-bench-store-XXXXXX";
  if (!mkdtemp(base))
    return 1;
  char *text = loom_malloc(DOC + 1);
  memset(text, 'd', DOC);
  text[DOC] = '\0';
  json_t *doc = json_string(text);
  loom_free(text);
  printf("| %-34s | %7s | %10s | %-18s |\n", "operation", "ops", "us/op", "");
  printf("|%s|%s|%s|%s|\n", "------------------------------------", "---------",
         "------------", "--------------------");
  bench_write_models(base, doc);
  bench_reads_and_threads(base, doc);
  bench_cache();
  json_decref(doc);
  nftw(base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}
