/*
 * bench_engine — graph engine throughput, printed as a table.
 *
 *   bench_engine [runs] [dir]
 *
 * Cases: a 10-node linear graph (each node appends its name to a list)
 * with Lua nodes and with a native C node, on no store, the in-memory
 * store (like LangGraph's MemorySaver) and durable SQLite checkpoints
 * (sync, and async: written by a background thread); a 200-node chain; a
 * 100-way fan-out; and bytes written per step for a graph whose large channel
 * never changes. Each line also goes out as "RESULT <case> <microseconds per
 * step>" for run.sh to compare.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/json.h"
#include "engine/engine.h"

static void append_start(struct loom_task *t) {
  json_t *w = json_pack("{s[s]}", "log", loom_task_node(t)->name);
  loom_task_done(t, w);
}
static const struct loom_node_kind append_kind = {.name = "append_name",
                                                  .start = append_start};

/* A chain of n nodes; `native` uses the C kind instead of Lua. */
static char *chain_spec(int n, bool native) {
  struct loom_buf b;
  loom_buf_init(&b, 1 << 22);
  (void)!loom_buf_append_str(&b, "state:\n  log: {reducer: append}\n"
                                 "  big: {type: string}\nnodes:\n");
  for (int i = 0; i < n; i++) {
    if (native)
      (void)!loom_buf_appendf(&b, "  n%d: {kind: append_name}\n", i);
    else
      (void)!loom_buf_appendf(&b, "  n%d: {lua: 'return {log = {\"n%d\"}}'}\n",
                              i, i);
  }
  (void)!loom_buf_append_str(&b, "edges:\n  - START -> n0\n");
  for (int i = 0; i + 1 < n; i++)
    (void)!loom_buf_appendf(&b, "  - n%d -> n%d\n", i, i + 1);
  return loom_buf_take(&b, NULL);
}

static const char *fanout_spec =
    "state:\n"
    "  items: {type: array}\n"
    "  out: {reducer: append}\n"
    "nodes:\n"
    "  split: {lua: 'local xs = {} for i = 1, 100 do xs[i] = i end "
    "return {items = xs}'}\n"
    "  work: {lua: 'return {out = {item * 2}}'}\n"
    "  join: {lua: 'return nil'}\n"
    "edges:\n"
    "  - START -> split\n"
    "  - {from: split, to: work, each: items}\n"
    "  - work -> join\n";

/* ---- a store wrapper that counts the bytes handed to the store ---- */

struct counting {
  struct loom_store base;
  struct loom_store *inner;
  struct loom_store_ops ops;
  size_t bytes, checkpoints;
};

static size_t json_bytes(const json_t *v) {
  if (!v)
    return 0;
  char *s = loom_json_dump(v);
  size_t n = strlen(s);
  loom_free(s);
  return n;
}

static loom_err count_put_cp(struct loom_store *s, const char *tenant,
                             const struct loom_checkpoint *cp,
                             const struct loom_blob *blobs, size_t n,
                             struct loom_error *e) {
  struct counting *c = (struct counting *)s;
  c->checkpoints++;
  c->bytes += json_bytes(cp->checkpoint) + json_bytes(cp->metadata);
  for (size_t i = 0; i < n; i++)
    c->bytes += json_bytes(blobs[i].value) + strlen(blobs[i].channel) +
                strlen(blobs[i].version);
  return c->inner->ops->put_checkpoint(c->inner, tenant, cp, blobs, n, e);
}

static loom_err count_put_writes(struct loom_store *s, const char *tenant,
                                 const char *thread, const char *ns,
                                 const char *cp, const char *task,
                                 const json_t *writes, struct loom_error *e) {
  struct counting *c = (struct counting *)s;
  c->bytes += json_bytes(writes) + strlen(task);
  return c->inner->ops->put_writes(c->inner, tenant, thread, ns, cp, task,
                                   writes, e);
}

static loom_err count_get_cp(struct loom_store *s, const char *tenant,
                             const char *thread, const char *ns, const char *id,
                             struct loom_checkpoint **out,
                             struct loom_error *e) {
  struct counting *c = (struct counting *)s;
  return c->inner->ops->get_checkpoint(c->inner, tenant, thread, ns, id, out,
                                       e);
}

static void counting_init(struct counting *c, struct loom_store *inner) {
  c->inner = inner;
  c->ops = *inner->ops;
  c->ops.put_checkpoint = count_put_cp;
  c->ops.put_writes = count_put_writes;
  c->ops.get_checkpoint = count_get_cp;
  c->base.ops = &c->ops;
}

/* ---- timing ---- */

/* Runs `g` `runs` times on fresh threads; returns microseconds per step. */
static enum loom_durability durability;

static double time_runs(const struct loom_graph *g, struct loom_store *store,
                        const json_t *input, int runs, int *steps_out) {
  uint64_t t0 = loom_clock_mono_ns();
  int steps = 0;
  for (int i = 0; i < runs; i++) {
    char thread[64];
    snprintf(thread, sizeof(thread), "bench-%d-%llu", i,
             (unsigned long long)t0);
    struct loom_run_opts o = {.store = store,
                              .thread_id = thread,
                              .input = input,
                              .recursion_limit = 1000,
                              .durability = durability};
    struct loom_run *r = NULL;
    struct loom_error e = {0};
    if (loom_run_new(g, &o, &r, &e) || loom_run_start(r) != LOOM_RUN_SUCCESS) {
      fprintf(stderr, "bench run failed: %s %s\n", e.message,
              r ? loom_run_error(r)->message : "");
      exit(1);
    }
    steps += loom_run_steps(r);
    loom_run_free(r);
  }
  double us = (double)(loom_clock_mono_ns() - t0) / 1e3;
  *steps_out = steps / runs;
  return us / steps;
}

static struct loom_graph *load(const char *text) {
  struct loom_graph *g = NULL;
  struct loom_error e = {0};
  if (loom_graph_load(text, strlen(text), "bench.yaml", &g, &e)) {
    fprintf(stderr, "%s\n", e.message);
    exit(1);
  }
  return g;
}

static void row(const char *name, const char *store, int steps, double us) {
  printf("%-28s %-12s %6d %14.2f %14.1f\n", name, store, steps, us, us * steps);
  printf("RESULT %s/%s %.3f\n", name, store, us);
}

static void bench_graph(const char *name, const char *spec, int runs,
                        struct loom_store *mem, struct loom_store *sql) {
  struct loom_graph *g = load(spec);
  json_t *in = json_object();
  int steps;
  double us = time_runs(g, NULL, in, runs, &steps);
  row(name, "none", steps, us);
  us = time_runs(g, mem, in, runs, &steps);
  row(name, "memory", steps, us);
  us = time_runs(g, sql, in, runs > 20 ? runs / 10 : 2, &steps);
  row(name, "sqlite", steps, us);
  durability = LOOM_DURABILITY_ASYNC;
  us = time_runs(g, sql, in, runs > 20 ? runs / 10 : 2, &steps);
  row(name, "sqlite-async", steps, us);
  durability = LOOM_DURABILITY_SYNC;
  json_decref(in);
  loom_graph_free(g);
}

static void bench_bytes(struct loom_store *sql) {
  char *spec = chain_spec(10, false);
  struct loom_graph *g = load(spec);
  struct loom_buf big;
  loom_buf_init(&big, 1 << 20);
  for (int i = 0; i < 100 * 1024 / 8; i++)
    (void)!loom_buf_append_str(&big, "abcdefg ");
  json_t *in = json_pack("{ss}", "big", big.data);
  struct counting c = {0};
  counting_init(&c, sql);
  int steps;
  time_runs(g, &c.base, in, 1, &steps);
  size_t first = c.bytes; /* includes the input checkpoint with `big` */
  printf("\nstorage: 10 steps, a 100 KiB channel written once by the input\n");
  printf("  bytes to the store, whole run:          %zu\n", first);
  printf("  bytes per loop step (after the input):  %.0f\n",
         (double)(first - json_bytes(json_object_get(in, "big"))) /
             (steps + 1));
  printf("  a full snapshot per step would be:      >= %zu\n",
         json_bytes(in) * (size_t)(steps + 1));
  printf("RESULT bytes_per_step %.0f\n",
         (double)(first - json_bytes(json_object_get(in, "big"))) /
             (steps + 1));
  json_decref(in);
  loom_buf_cleanup(&big);
  loom_graph_free(g);
  loom_free(spec);
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 200;
  const char *dir = argc > 2 ? argv[2] : "bench-engine-data";
  if (loom_engine_node_kind_register(&append_kind))
    return 1;
  struct loom_store *mem = loom_engine_memstore_new(), *sql = NULL;
  struct loom_error e = {0};
  if (loom_store_open("", dir, &sql, &e) || loom_store_migrate(sql, &e)) {
    fprintf(stderr, "%s\n", e.message);
    return 1;
  }
  printf("%-28s %-12s %6s %14s %14s\n", "case", "store", "steps", "us/step",
         "us/run");
  char *lin = chain_spec(10, false), *nat = chain_spec(10, true);
  char *chain = chain_spec(200, false);
  bench_graph("linear10 (lua nodes)", lin, runs, mem, sql);
  bench_graph("linear10 (native nodes)", nat, runs, mem, sql);
  bench_graph("chain200 (lua nodes)", chain, runs / 10 ? runs / 10 : 1, mem,
              sql);
  bench_graph("fanout100 (lua nodes)", fanout_spec, runs / 4 ? runs / 4 : 1,
              mem, sql);
  bench_bytes(sql);
  loom_free(lin), loom_free(nat), loom_free(chain);
  loom_store_close(mem);
  loom_store_close(sql);
  return 0;
}
