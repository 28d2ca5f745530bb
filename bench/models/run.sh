#!/usr/bin/env bash
# Model-call concurrency benchmark: N graph runs in flight at once, each a
# one-node graph whose llm node makes one chat call to an OpenAI-compatible
# server answering every request after 2 s (bench_model_server, C). loom
# (engine runs parked on their model calls, which go out through loom's
# own HTTP/1.1 client over libuv; LOOM_HTTP_CLIENT=curl for libcurl's
# multi interface instead), streamed with token
# events and in one piece, and, side by side against the same server, the
# same workload in LangGraph.js (one-node graph calling ChatOpenAI, in one
# piece), when its packages can be installed. The ratio compares like with
# like: loom's one-piece row. A last row shows the machine's floor: the
# same requests sent with raw sockets and no HTTP library
# (bench_models_floor), which on two cores shared with the server bounds
# how soon 10,000 requests can all be out.
#   bench/models/run.sh [runs] [loops]     (LG_RUNS=n for LangGraph.js)
# loops: loom's model loops (LOOM_LLM_LOOPS) and run-owning loops.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-10000}
loops=${2:-1}
lg_runs=${LG_RUNS:-$runs}
build=${BUILD:-build}

cmake -S . -B "$build" >/dev/null
cmake --build "$build" --target bench_models bench_models_floor \
  bench_model_server -j2 >/dev/null
ulimit -n "$(ulimit -Hn)"

out=$(mktemp)
"$build/bench_model_server" 2000 1 >"$out" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q '^port ' "$out" && break; sleep 0.05; done
base="http://127.0.0.1:$(awk '/^port /{print $2}' "$out")/v1"

printf '\n%-12s %-8s %-6s %-7s %-9s %-10s %-8s %s\n' who runs ok failed wall_s peak_rss_mb cpu_s mode
row() { printf '%-12s %s\n' "$1" "$2"; }
row "loom" "$("$build/bench_models" "$base" "$runs" "$loops" stream)"
# The one-piece row three times (a 2-core VM's speed swings by some 10 %
# from one half-minute to the next); the ratios use the median.
json_rows=$(for _ in 1 2 3; do
  "$build/bench_models" "$base" "$runs" "$loops" json
done)
while read -r r; do row "loom" "$r"; done <<<"$json_rows"
# The same through libcurl, for the difference loom's own client makes.
row "loom (curl)" "$(LOOM_HTTP_CLIENT=curl "$build/bench_models" "$base" \
  "$runs" "$loops" json | sed 's/json;/json, libcurl;/')"
loom=$(sort -n -k4,4 <<<"$json_rows" | awk '{ r[NR] = $0 } END { print r[int((NR + 1) / 2)] }')
lg=""
if (cd bench/models && npm install --no-audit --no-fund --silent >/dev/null 2>&1); then
  lg=$(node bench/models/langgraph_bench.mjs "$base" "$lg_runs" 2>/dev/null)
  row "langgraph.js" "$lg"
else
  echo "langgraph.js: packages could not be installed; skipped"
fi
if [ -n "$lg" ] && [ -n "$loom" ] && [ "$lg_runs" = "$runs" ]; then
  # columns: runs ok failed wall rss cpu (loom: the median row)
  read -r _ _ _ lw lr lc _ <<<"$loom"
  read -r _ _ _ jw jr jc _ <<<"$lg"
  awk -v lw="$lw" -v jw="$jw" -v lr="$lr" -v jr="$jr" -v lc="$lc" -v jc="$jc" \
    'BEGIN { printf "langgraph.js / loom: wall %.1fx, peak RSS %.1fx, CPU %.1fx\n", jw / lw, jr / lr, jc / lc }'
fi
row "floor" "$("$build/bench_models_floor" "$base" "$runs" "$loops")"
echo "(server answers after 2 s; loom: $loops loop(s); $(nproc) cores shared with the server; load: $(cut -d' ' -f1-3 /proc/loadavg))"
