/*
 * bench_vector — loom's side of bench/vector/run.sh.
 *
 *   bench_vector convert IMAGES.idx OUT.fvecs      IDX ubyte images -> floats
 *   bench_vector truth BASE QUERY K OUT            exact top-K by brute force
 *   bench_vector run BASE QUERY TRUTH [--quant] [--m M] [--efc EF]
 *                [--ef 10,20,...] [--passes P] [--snapshot PATH]
 *                                                  build, then sweep ef
 *
 * Files: .fvecs (per vector: int32 dim, dim floats) and the truth file
 * (per query: K int32 ids then K float distances). Output lines, shared
 * with hnswlib_bench so run.sh can tabulate both:
 *   BUILD <name> <seconds> <index MB (RSS growth)> <peak RSS MB>
 *   RESULT <name> <ef> <recall@10> <queries/s>
 * Recall counts a returned id as correct when its exact distance is within
 * the 10th true distance (ann-benchmarks' rule, so ties do not matter).
 * Queries run on one thread, one at a time. Times are the thread's CPU
 * time, not wall time: the machine is shared, and CPU time is what the
 * index costs whoever else is running. Before the sweep, one untimed pass
 * of all queries at the first ef warms caches and scratch (hnswlib_bench
 * does the same); then each ef is run `--passes` times (default 1) and a
 * RESULT line is printed per pass (run.sh keeps the best, see there).
 * --snapshot PATH loads the index from PATH when it exists, else builds it
 * and saves it there (run.sh builds once, then queries in rounds).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stores/hnsw.h"
#include "stores/vector_kernels.h"

enum { K = 10 };

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double rss_mb(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  double kb = 0;
  size_t n = strlen(field);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, field, n) == 0)
      kb = atof(line + n + 1);
  if (f)
    fclose(f);
  return kb / 1024.0;
}

static void die(const char *msg, const char *arg) {
  fprintf(stderr, "bench_vector: %s %s\n", msg, arg ? arg : "");
  exit(1);
}

static float *read_fvecs(const char *path, size_t *n, size_t *dim) {
  FILE *f = fopen(path, "rb");
  if (!f)
    die("cannot open", path);
  int32_t d;
  if (fread(&d, 4, 1, f) != 1 || d <= 0)
    die("bad fvecs", path);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  size_t rec = 4 + (size_t)d * 4, count = (size_t)len / rec;
  float *v = malloc(count * (size_t)d * sizeof *v);
  for (size_t i = 0; i < count; i++)
    if (fread(&d, 4, 1, f) != 1 ||
        fread(v + i * (size_t)d, 4, (size_t)d, f) != (size_t)d)
      die("short fvecs", path);
  fclose(f);
  *n = count;
  *dim = (size_t)d;
  return v;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

static int cmd_convert(const char *in, const char *out) {
  FILE *f = fopen(in, "rb");
  unsigned char hd[16];
  if (!f || fread(hd, 1, 16, f) != 16 || be32(hd) != 0x803)
    die("not an IDX image file:", in);
  uint32_t n = be32(hd + 4), dim = be32(hd + 8) * be32(hd + 12);
  FILE *o = fopen(out, "wb");
  if (!o)
    die("cannot write", out);
  unsigned char *px = malloc(dim);
  float *v = malloc(dim * sizeof *v);
  int32_t d = (int32_t)dim;
  for (uint32_t i = 0; i < n; i++) {
    if (fread(px, 1, dim, f) != dim)
      die("short IDX file", in);
    for (uint32_t j = 0; j < dim; j++)
      v[j] = px[j];
    fwrite(&d, 4, 1, o);
    fwrite(v, 4, dim, o);
  }
  fclose(f);
  if (fclose(o) != 0)
    die("cannot write", out);
  free(px), free(v);
  fprintf(stderr, "converted %u vectors of %u dims\n", n, dim);
  return 0;
}

static int cmd_truth(const char *bp, const char *qp, int k, const char *out) {
  size_t nb, nq, db, dq;
  float *base = read_fvecs(bp, &nb, &db), *qs = read_fvecs(qp, &nq, &dq);
  if (db != dq || k <= 0 || k > 100)
    die("bad arguments", NULL);
  const struct loom_vk *vk = loom_vk_best();
  FILE *o = fopen(out, "wb");
  if (!o)
    die("cannot write", out);
  int32_t ids[100];
  float ds[100];
  for (size_t q = 0; q < nq; q++) {
    int got = 0;
    for (size_t i = 0; i < nb; i++) {
      float d = vk->l2sq(qs + q * dq, base + i * db, db);
      if (got == k && d >= ds[k - 1])
        continue;
      int j = got < k ? got++ : k - 1;
      while (j > 0 && ds[j - 1] > d) {
        ds[j] = ds[j - 1];
        ids[j] = ids[j - 1];
        j--;
      }
      ds[j] = d;
      ids[j] = (int32_t)i;
    }
    fwrite(ids, 4, (size_t)k, o);
    fwrite(ds, 4, (size_t)k, o);
  }
  fclose(o);
  free(base), free(qs);
  return 0;
}

static void parse_efs(const char *s, size_t *efs, size_t *n) {
  *n = 0;
  while (*s && *n < 64) {
    efs[(*n)++] = strtoul(s, (char **)&s, 10);
    if (*s == ',')
      s++;
  }
}

/* What `run` works on: base vectors, queries and the truth file. */
struct data {
  float *base, *qs;
  size_t nb, nq, dim;
  int32_t *tids;
  float *tds; /* per query, the K true distances, nearest first */
};

/* `run`'s options. */
struct run_opts {
  struct loom_hnsw_params p;
  size_t efs[64], nef, passes;
  const char *snap; /* --snapshot: reuse a saved build (profiling) */
};

/* Reads BASE, QUERY and TRUTH (argv[2..4]). */
static void load_data(char **argv, struct data *d) {
  size_t dq;
  d->base = read_fvecs(argv[2], &d->nb, &d->dim);
  d->qs = read_fvecs(argv[3], &d->nq, &dq);
  FILE *tf = fopen(argv[4], "rb");
  if (!tf || d->dim != dq)
    die("bad truth or dimensions", argv[4]);
  d->tids = malloc(d->nq * K * 4);
  d->tds = malloc(d->nq * K * 4);
  for (size_t q = 0; q < d->nq; q++)
    if (fread(d->tids + q * K, 4, K, tf) != K ||
        fread(d->tds + q * K, 4, K, tf) != K)
      die("short truth file", argv[4]);
  fclose(tf);
}

/* Reads the options after TRUTH (argv[5..]); dies on an unknown one. */
static void parse_run_opts(int argc, char **argv, size_t dim,
                           struct run_opts *o) {
  *o = (struct run_opts){.p = {.dim = (uint32_t)dim,
                               .metric = LOOM_METRIC_EUCLIDEAN,
                               .m = 16,
                               .ef_construction = 200},
                         .passes = 1};
  parse_efs("10,16,24,32,48,64,96,128,192,256,384,512", o->efs, &o->nef);
  for (int i = 5; i < argc; i++) {
    if (strcmp(argv[i], "--quant") == 0)
      o->p.quantize = true;
    else if (strcmp(argv[i], "--m") == 0 && i + 1 < argc)
      o->p.m = (uint32_t)atoi(argv[++i]);
    else if (strcmp(argv[i], "--efc") == 0 && i + 1 < argc)
      o->p.ef_construction = (uint32_t)atoi(argv[++i]);
    else if (strcmp(argv[i], "--ef") == 0 && i + 1 < argc)
      parse_efs(argv[++i], o->efs, &o->nef);
    else if (strcmp(argv[i], "--passes") == 0 && i + 1 < argc)
      o->passes = (size_t)atoi(argv[++i]);
    else if (strcmp(argv[i], "--snapshot") == 0 && i + 1 < argc)
      o->snap = argv[++i];
    else
      die("unknown option", argv[i]);
  }
}

static const char *index_name(bool quantize) {
  return quantize ? "loom-int8" : "loom-f32";
}

/* Loads the index from --snapshot when it is there, else builds it (and
 * saves it there); prints the BUILD line. A loaded index sets d->nb: the
 * vectors it holds are the ones searched. */
static struct loom_hnsw *build_index(const struct run_opts *o, struct data *d) {
  fprintf(stderr, "%s: kernels %s\n", index_name(o->p.quantize),
          loom_vk_best()->isa);
  double rss0 = rss_mb("VmRSS:"), t0 = now();
  struct loom_hnsw *h;
  uint64_t lsn;
  bool loaded = o->snap && loom_hnsw_load(o->snap, &h, &lsn, NULL) == LOOM_OK;
  if (loaded) {
    d->nb = loom_hnsw_count(h);
  } else if (loom_hnsw_new(&o->p, &h, NULL) != LOOM_OK) {
    die("bad parameters", NULL);
  }
  for (size_t i = loom_hnsw_count(h); i < d->nb; i++) {
    char id[24];
    snprintf(id, sizeof id, "%zu", i);
    if (loom_hnsw_upsert(h, id, d->base + i * d->dim, NULL, NULL) != LOOM_OK)
      die("upsert failed", id);
  }
  double build = now() - t0;
  const char *name = index_name(loom_hnsw_params(h)->quantize);
  if (o->snap && !loaded && loom_hnsw_save(h, o->snap, 0, NULL) != LOOM_OK)
    die("cannot save", o->snap);
  printf("BUILD %s %.1f %.0f %.0f\n", name, build, rss_mb("VmRSS:") - rss0,
         rss_mb("VmHWM:"));
  fflush(stdout);
  return h;
}

/* Runs every query at `ef`, keeping the slots found (K per query in
 * `got`, how many in `ngot`); returns the CPU seconds it took. */
static double search_all(struct loom_hnsw *h, const struct data *d, size_t ef,
                         uint32_t *got, size_t *ngot) {
  struct loom_hnsw_hit out[K];
  double t = now();
  for (size_t q = 0; q < d->nq; q++) {
    struct loom_hnsw_query query = {
        .vector = d->qs + q * d->dim, .k = K, .ef = ef};
    ngot[q] = loom_hnsw_search(h, &query, out);
    for (size_t i = 0; i < ngot[q]; i++)
      got[q * K + i] = out[i].slot;
  }
  return now() - t;
}

/* How many of the slots found are correct: within the 10th true distance
 * (slot s holds base vector label[s]). */
static size_t count_hits(const struct data *d, const uint32_t *label,
                         const uint32_t *got, const size_t *ngot) {
  const struct loom_vk *vk = loom_vk_best();
  size_t hit = 0;
  for (size_t q = 0; q < d->nq; q++)
    for (size_t i = 0; i < ngot[q]; i++) {
      float dist =
          vk->l2sq(d->qs + q * d->dim,
                   d->base + (size_t)label[got[q * K + i]] * d->dim, d->dim);
      hit += dist <= d->tds[q * K + K - 1] * 1.0001f + 1e-3f;
    }
  return hit;
}

/* Warms up with one untimed pass at the first ef, then prints a RESULT
 * line per ef and pass. */
static void sweep(struct loom_hnsw *h, const struct run_opts *o,
                  const struct data *d) {
  const char *name = index_name(loom_hnsw_params(h)->quantize);
  uint32_t *label = malloc(d->nb * sizeof *label);
  for (uint32_t s = 0; s < d->nb; s++)
    label[s] = (uint32_t)atoi(loom_hnsw_slot_id(h, s));
  struct loom_hnsw_hit out[K];
  uint32_t *got = malloc(d->nq * K * sizeof *got);
  size_t *ngot = malloc(d->nq * sizeof *ngot);
  for (size_t q = 0; o->nef && q < d->nq; q++) { /* warm-up, untimed */
    struct loom_hnsw_query query = {
        .vector = d->qs + q * d->dim, .k = K, .ef = o->efs[0]};
    ngot[q] = loom_hnsw_search(h, &query, out);
  }
  for (size_t e = 0; e < o->nef; e++)
    for (size_t pass = 0; pass < o->passes; pass++) {
      double secs = search_all(h, d, o->efs[e], got, ngot);
      size_t hit = count_hits(d, label, got, ngot);
      printf("RESULT %s %zu %.4f %.0f\n", name, o->efs[e],
             (double)hit / (d->nq * K), d->nq / secs);
      fflush(stdout);
    }
  free(label), free(got), free(ngot);
}

static int cmd_run(int argc, char **argv) {
  struct data d;
  struct run_opts o;
  load_data(argv, &d);
  parse_run_opts(argc, argv, d.dim, &o);
  struct loom_hnsw *h = build_index(&o, &d);
  sweep(h, &o, &d);
  loom_hnsw_free(h);
  free(d.base), free(d.qs), free(d.tids), free(d.tds);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "convert") == 0)
    return cmd_convert(argv[2], argv[3]);
  if (argc >= 6 && strcmp(argv[1], "truth") == 0)
    return cmd_truth(argv[2], argv[3], atoi(argv[4]), argv[5]);
  if (argc >= 5 && strcmp(argv[1], "run") == 0)
    return cmd_run(argc, argv);
  fprintf(stderr, "usage: bench_vector convert|truth|run ... (see source)\n");
  return 2;
}
