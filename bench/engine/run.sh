#!/usr/bin/env bash
# bench/engine/run.sh — loom's graph engine against LangGraph.js, same run.
#
# Builds bench_engine (Release) and runs, one after the other on the same
# machine: a 10-node linear graph (each node appends to a list) in loom —
# with no store, the in-memory store and durable SQLite checkpoints (sync
# and async) — and
# in LangGraph.js (@langchain/langgraph with MemorySaver, installed here
# from the committed package-lock.json); then a 200-node chain and a
# 100-way fan-out in both; then the bytes loom writes per step for a graph
# whose 100 KiB channel never changes. Prints both tables and the ratios
# of time per step (LangGraph.js / loom).
#
#   bench/engine/run.sh [runs]     (default 200 runs of the 10-node graph)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-200}
build=${BUILD:-build-release}
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target bench_engine -j2 >/dev/null
if [ ! -d bench/engine/node_modules/@langchain/langgraph ]; then
  (cd bench/engine && npm ci --no-audit --no-fund >/dev/null)
fi

echo "== loom"
loom=$("$build/bench_engine" "$runs" "$data")
grep -v '^RESULT' <<<"$loom"
echo
echo "== LangGraph.js $(node -p 'require("./bench/engine/node_modules/@langchain/langgraph/package.json").version') (node $(node --version))"
lg=$(cd bench/engine && node --no-warnings langgraph.mjs "$runs")
grep -v '^RESULT' <<<"$lg" | grep -v '^warmup'
echo

us() { awk -v k="$2" '$1=="RESULT" { $1=""; sub(/^ /,""); n=split($0,a," "); v=a[n]; sub(" "v"$","",$0); if ($0==k) print v }' <<<"$1"; }
ratio() { # label, langgraph key, loom key
  local a b
  a=$(us "$lg" "$2"); b=$(us "$loom" "$3")
  awk -v l="$1" -v a="$a" -v b="$b" \
    'BEGIN { printf "%-44s %10.2f %10.2f %8.1fx\n", l, a, b, a / b }'
}
echo "== time per step, microseconds (LangGraph.js / loom)"
printf "%-44s %10s %10s %9s\n" "case" "langgraph" "loom" "ratio"
ratio "linear10, no checkpointer" "linear10/none" "linear10 (lua nodes)/none"
ratio "linear10, MemorySaver vs loom memory" "linear10/memory" "linear10 (lua nodes)/memory"
ratio "linear10, MemorySaver vs loom SQLite sync" "linear10/memory" "linear10 (lua nodes)/sqlite"
ratio "linear10, MemorySaver vs loom SQLite async" "linear10/memory" "linear10 (lua nodes)/sqlite-async"
ratio "linear10, MemorySaver vs loom native nodes" "linear10/memory" "linear10 (native nodes)/memory"
ratio "chain200, MemorySaver vs loom memory" "chain200/memory" "chain200 (lua nodes)/memory"
ratio "chain200, MemorySaver vs loom SQLite" "chain200/memory" "chain200 (lua nodes)/sqlite"
ratio "fanout100, MemorySaver vs loom memory" "fanout100/memory" "fanout100 (lua nodes)/memory"
ratio "fanout100, MemorySaver vs loom SQLite" "fanout100/memory" "fanout100 (lua nodes)/sqlite"
