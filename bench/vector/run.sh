#!/usr/bin/env bash
# bench/vector/run.sh — loom's HNSW against hnswlib on Fashion-MNIST.
#
# 60,000 training images are the base vectors and 10,000 test images the
# queries (784 dims, float, Euclidean). Exact top-10 by brute force is
# computed once and cached in bench/results/vector/ (git-ignored). Then, on
# one thread, each engine builds its index (M=16, efConstruction=200) and
# answers all queries at each ef; the table shows recall@10 and queries/s,
# and the qps ratio loom/hnswlib is interpolated at recall 0.95 and 0.99.
# Both programs are compiled with the same flags ($BENCH_CFLAGS).
#
#   bench/vector/run.sh                 full run (a few minutes)
#   EFS=32,64,128 bench/vector/run.sh   fewer ef points
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/results/vector
mkdir -p "$out"
flags=${BENCH_CFLAGS:-"-O3 -march=native"}
m=${M:-16}
efc=${EFC:-200}
efs=${EFS:-10,16,24,32,48,64,96,128,192,256,384,512}

gz=$(dpkg -L dataset-fashion-mnist 2>/dev/null | grep 'train-images-idx3-ubyte.gz$' || true)
if [ -z "$gz" ]; then
  echo "needs the Debian package dataset-fashion-mnist (scripts/deps.sh bench)" >&2
  exit 1
fi
data=$(dirname "$gz")

echo "== build (flags: $flags)" >&2
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS_RELEASE="$flags -DNDEBUG" >/dev/null
cmake --build build-bench -j2 --target bench_vector >/dev/null
g++ -std=c++17 $flags -DNDEBUG -o "$out/hnswlib_bench" bench/vector/hnswlib_bench.cpp -lpthread
bv=build-bench/bench_vector

for set in train:base t10k:query; do
  name=${set#*:}
  if [ ! -s "$out/$name.fvecs" ]; then
    gunzip -c "$data/${set%%:*}-images-idx3-ubyte.gz" >"$out/$name.idx"
    "$bv" convert "$out/$name.idx" "$out/$name.fvecs"
    rm -f "$out/$name.idx"
  fi
done
if [ ! -s "$out/truth10.bin" ]; then
  echo "== exact ground truth (brute force, once)" >&2
  "$bv" truth "$out/base.fvecs" "$out/query.fvecs" 10 "$out/truth10.tmp"
  mv "$out/truth10.tmp" "$out/truth10.bin"
fi

args=("$out/base.fvecs" "$out/query.fvecs" "$out/truth10.bin" --m "$m" --efc "$efc" --ef "$efs")
echo "== hnswlib" >&2
"$out/hnswlib_bench" "${args[@]}" | tee "$out/hnswlib.txt" >&2
echo "== loom f32" >&2
"$bv" run "${args[@]}" | tee "$out/loom-f32.txt" >&2
echo "== loom int8 + exact re-rank" >&2
"$bv" run "${args[@]}" --quant | tee "$out/loom-int8.txt" >&2

cat "$out/hnswlib.txt" "$out/loom-f32.txt" "$out/loom-int8.txt" | awk '
  $1 == "BUILD" { build[$2] = $3; mem[$2] = $4; peak[$2] = $5; names[++nn] = $2 }
  $1 == "RESULT" { n = ++cnt[$2]; ef[$2, n] = $3; rec[$2, n] = $4; qps[$2, n] = $5 }
  function at(name, target,   i, r0, r1, q0, q1, t) {
    for (i = 1; i <= cnt[name]; i++) {
      if (rec[name, i] >= target) {
        if (i == 1) return qps[name, 1]
        r0 = rec[name, i - 1]; r1 = rec[name, i]; q0 = qps[name, i - 1]; q1 = qps[name, i]
        t = (target - r0) / (r1 - r0)
        return exp(log(q0) + t * (log(q1) - log(q0)))
      }
    }
    return 0
  }
  END {
    printf "\nFashion-MNIST 60000 x 784, 10000 queries, Euclidean, M=16, efConstruction=200, 1 thread\n\n"
    printf "%-10s %8s %10s %12s\n", "engine", "build s", "index MB", "peak RSS MB"
    for (i = 1; i <= nn; i++) printf "%-10s %8s %10s %12s\n", names[i], build[names[i]], mem[names[i]], peak[names[i]]
    printf "\n%5s", "ef"
    for (i = 1; i <= nn; i++) printf " | %-10s %7s %7s", names[i], "recall", "qps"
    printf "\n"
    for (j = 1; j <= cnt[names[1]]; j++) {
      printf "%5s", ef[names[1], j]
      for (i = 1; i <= nn; i++) printf " | %-10s %7.4f %7d", "", rec[names[i], j], qps[names[i], j]
      printf "\n"
    }
    printf "\nqueries/s at a given recall@10 (interpolated), and ratio to hnswlib\n"
    split("0.95 0.99", targets, " ")
    for (t = 1; t <= 2; t++) {
      base = at("hnswlib", targets[t])
      printf "recall %s: hnswlib %d", targets[t], base
      for (i = 1; i <= nn; i++) {
        if (names[i] == "hnswlib") continue
        q = at(names[i], targets[t])
        printf ", %s %d (%.2fx)", names[i], q, (base > 0 ? q / base : 0)
      }
      printf "\n"
    }
  }'
