// hnswlib_bench — hnswlib's side of bench/vector/run.sh, the reference loom
// is measured against. Same input files, same parameters (M, efConstruction,
// ef sweep), same single-threaded query loop and the same output lines as
// bench_vector.c:
//   BUILD hnswlib <seconds> <index MB (RSS growth)> <peak RSS MB>
//   RESULT hnswlib <ef> <recall@10> <queries/s>
// usage: hnswlib_bench BASE.fvecs QUERY.fvecs TRUTH [--m M] [--efc EF]
//                      [--ef 10,20,...] [--passes P] [--index PATH]
// Warm-up and passes exactly as bench_vector.c: one untimed pass of all
// queries at the first ef, then `--passes` timed passes per ef, a RESULT
// line each. --index PATH loads the index from PATH when it exists, else
// builds it and saves it there.
#include <hnswlib/hnswlib.h>

#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

static const size_t K = 10;

// Thread CPU time, as in bench_vector.c (the machine is shared).
static double now() {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double rss_mb(const char *field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(field, 0) == 0) return atof(line.c_str() + strlen(field)) / 1024.0;
  return 0;
}

static std::vector<float> read_fvecs(const char *path, size_t &n, size_t &dim) {
  FILE *f = fopen(path, "rb");
  int32_t d = 0;
  if (!f || fread(&d, 4, 1, f) != 1 || d <= 0) {
    fprintf(stderr, "hnswlib_bench: bad fvecs %s\n", path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  size_t len = (size_t)ftell(f), rec = 4 + (size_t)d * 4;
  fseek(f, 0, SEEK_SET);
  n = len / rec;
  dim = (size_t)d;
  std::vector<float> v(n * dim);
  for (size_t i = 0; i < n; i++)
    if (fread(&d, 4, 1, f) != 1 || fread(&v[i * dim], 4, dim, f) != dim) exit(1);
  fclose(f);
  return v;
}

struct Opts {
  size_t M = 16, efc = 200, passes = 1;
  const char *saved = nullptr;  // --index PATH: reuse a saved build (profiling)
  std::vector<size_t> efs = {10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512};
};

// The options after TRUTH (argv[4..]), each with a value; others are ignored.
static Opts parse_opts(int argc, char **argv) {
  Opts o;
  for (int i = 4; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--m")) o.M = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--index")) o.saved = argv[i + 1];
    else if (!strcmp(argv[i], "--efc")) o.efc = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--passes")) o.passes = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--ef")) {
      o.efs.clear();
      for (char *s = argv[i + 1]; *s;) {
        o.efs.push_back(strtoul(s, &s, 10));
        if (*s == ',') s++;
      }
    }
  }
  return o;
}

// The truth file: per query, K ids then the K true distances.
static void read_truth(const char *path, size_t nq, std::vector<int32_t> &tids,
                       std::vector<float> &tds) {
  tids.resize(nq * K);
  tds.resize(nq * K);
  FILE *tf = fopen(path, "rb");
  for (size_t q = 0; tf && q < nq; q++)
    if (fread(&tids[q * K], 4, K, tf) != K || fread(&tds[q * K], 4, K, tf) != K) exit(1);
  if (tf) fclose(tf);
}

// Loads the index from --index when it is there, else builds it (and saves
// it there); prints the BUILD line. `space` must outlive the index.
static hnswlib::HierarchicalNSW<float> &build_index(const Opts &o, hnswlib::L2Space &space,
                                                    const std::vector<float> &base,
                                                    size_t nb, size_t db, double rss0,
                                                    double t0) {
  FILE *have = o.saved ? fopen(o.saved, "rb") : nullptr;
  if (have) fclose(have);
  hnswlib::HierarchicalNSW<float> *loaded =
      have ? new hnswlib::HierarchicalNSW<float>(&space, o.saved) : nullptr;
  hnswlib::HierarchicalNSW<float> &index =
      loaded ? *loaded : *new hnswlib::HierarchicalNSW<float>(&space, nb, o.M, o.efc, 100);
  for (size_t i = 0; !loaded && i < nb; i++) index.addPoint(&base[i * db], i);
  if (o.saved && !loaded) index.saveIndex(o.saved);
  double build = now() - t0;
  printf("BUILD hnswlib %.1f %.0f %.0f\n", build, rss_mb("VmRSS:") - rss0,
         rss_mb("VmHWM:"));
  fflush(stdout);
  return index;
}

// How many of the labels found are correct: within the 10th true distance.
static size_t count_hits(const std::vector<float> &base, const std::vector<float> &qs,
                         size_t db, size_t dq, size_t nq, const std::vector<float> &tds,
                         const std::vector<size_t> &got, const std::vector<size_t> &ngot) {
  size_t hit = 0;
  for (size_t q = 0; q < nq; q++)
    for (size_t i = 0; i < ngot[q]; i++) {
      const float *a = &qs[q * dq], *b = &base[got[q * K + i] * db];
      float d = 0;
      for (size_t j = 0; j < db; j++) d += (a[j] - b[j]) * (a[j] - b[j]);
      hit += d <= tds[q * K + K - 1] * 1.0001f + 1e-3f;
    }
  return hit;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: hnswlib_bench BASE QUERY TRUTH [--m M] [--efc EF] [--ef LIST]\n");
    return 2;
  }
  size_t nb, nq, db, dq;
  Opts o = parse_opts(argc, argv);
  std::vector<float> base = read_fvecs(argv[1], nb, db);
  std::vector<float> qs = read_fvecs(argv[2], nq, dq);
  std::vector<int32_t> tids;
  std::vector<float> tds;
  read_truth(argv[3], nq, tids, tds);

  double rss0 = rss_mb("VmRSS:"), t0 = now();
  hnswlib::L2Space space(db);
  hnswlib::HierarchicalNSW<float> &index = build_index(o, space, base, nb, db, rss0, t0);

  std::vector<size_t> got(nq * K), ngot(nq);
  if (!o.efs.empty()) {  // warm-up, untimed
    index.setEf(o.efs[0]);
    for (size_t q = 0; q < nq; q++) ngot[q] = index.searchKnn(&qs[q * dq], K).size();
  }
  for (size_t ef : o.efs) {
    index.setEf(ef);
    for (size_t pass = 0; pass < o.passes; pass++) {
      double t = now();
      for (size_t q = 0; q < nq; q++) {
        auto res = index.searchKnn(&qs[q * dq], K);
        ngot[q] = res.size();
        for (size_t i = 0; !res.empty(); i++, res.pop()) got[q * K + i] = res.top().second;
      }
      double secs = now() - t;
      size_t hit = count_hits(base, qs, db, dq, nq, tds, got, ngot);
      printf("RESULT hnswlib %zu %.4f %.0f\n", ef, (double)hit / (nq * K), nq / secs);
      fflush(stdout);
    }
  }
  return 0;
}
