#!/usr/bin/env bash
# Model-call concurrency benchmark: N calls in flight at once against an
# OpenAI-compatible server answering every request after 2 s
# (bench_model_server, C); loom (libcurl multi on libuv) and, side by side,
# the same workload as LangGraph.js runs (one-node graph calling
# ChatOpenAI) against the same server, when its packages can be installed.
#   bench/models/run.sh [calls] [loom loops]      (LG_RUNS=n for LangGraph.js)
set -euo pipefail
cd "$(dirname "$0")/../.."
calls=${1:-10000}
loops=${2:-1}
lg_runs=${LG_RUNS:-$calls}
build=${BUILD:-build}

cmake -S . -B "$build" >/dev/null
cmake --build "$build" --target bench_models bench_model_server -j2 >/dev/null
ulimit -n "$(ulimit -Hn)"

out=$(mktemp)
"$build/bench_model_server" 2000 1 >"$out" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q '^port ' "$out" && break; sleep 0.05; done
base="http://127.0.0.1:$(awk '/^port /{print $2}' "$out")/v1"

printf '\n%-12s %-8s %-6s %-7s %-9s %-10s %-8s %s\n' who calls ok failed wall_s peak_rss_mb cpu_s mode
row() { printf '%-12s %s\n' "$1" "$2"; }
row "loom" "$("$build/bench_models" "$base" "$calls" "$loops")"
row "loom" "$("$build/bench_models" "$base" "$calls" "$loops" stream)"
if (cd bench/models && npm install --no-audit --no-fund --silent >/dev/null 2>&1); then
  row "langgraph.js" "$(node bench/models/langgraph_bench.mjs "$base" "$lg_runs")"
else
  echo "langgraph.js: packages could not be installed; skipped"
fi
echo "(server answers after 2 s; loom: $loops loop(s); $(nproc) cores shared with the server; load: $(cut -d' ' -f1-3 /proc/loadavg))"
