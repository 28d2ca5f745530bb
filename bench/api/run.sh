#!/usr/bin/env bash
# LangGraph API benchmark: the same 3-node graph (chain3) served by loom and
# by the JS LangGraph server (@langchain/langgraph-cli dev, in memory,
# offline on loopback, analytics off), both driven by the official SDK:
# sequential runs.wait p50/p95, runs.wait throughput with 1, 10 and 100
# concurrent clients, and streamed runs (time to the last event and to the
# stream's close, apart). The same client against a trivial Node server
# that does no work (floor.mjs) shows what the SDK itself costs: loom cannot
# be faster than that row. BEFORE=path/to/an/older/loom adds its rows too,
# measured in the same run. The concurrent clients run in CLIENT_THREADS
# (default 2) worker threads for every server alike; srv_ms/run is the
# server's CPU time (its whole process group, user + system) per run.
# The SDK gets a lean node:http fetch through its own callerOptions.fetch
# hook (httpfetch.mjs), for all alike; SDK_FETCH=global leaves it on the
# global fetch, which costs the client 1-2 ms of CPU per call and caps
# every server's row (the no-op floor's too) on two cores.
#   bench/api/run.sh [seconds per concurrency level]
#   (SEQ_RUNS, STREAM_RUNS, BEFORE, CLIENT_THREADS, SDK_FETCH)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-5}
build=${BUILD:-build-bench}
root=$PWD

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target loom -j2 >/dev/null
(cd bench/api && npm ci --no-audit --no-fund --silent >/dev/null 2>&1 || npm install --no-audit --no-fund --silent >/dev/null)

port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_up() { for _ in $(seq 400); do curl -sf "$1" >/dev/null && return 0; sleep 0.05; done; echo "server at $1 did not start" >&2; return 1; }

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

printf '\n%-12s %-22s %7s %7s %9s %9s %9s %11s\n' who test clients runs p50_ms p95_ms runs/s srv_ms/run

# bench_loom BINARY LABEL: one loom server, fresh data directory.
bench_loom() {
  local lp
  lp=$(port)
  LOOM_ADDR=127.0.0.1:$lp LOOM_DATA_DIR=$tmp/$2 LOOM_GRAPHS=$root/bench/api LOOM_LOG_LEVEL=warn \
    setsid "$1" serve >"$tmp/$2.log" 2>&1 &
  local pid=$!
  pids+=($pid)
  wait_up "http://127.0.0.1:$lp/readyz"
  (cd bench/api && SERVER_PGID=$pid node bench.mjs "http://127.0.0.1:$lp" "$2" "$seconds")
  kill -TERM -- "-$pid"
}
bench_loom "$build/loom" loom
if [ -n "${BEFORE:-}" ]; then bench_loom "$BEFORE" loom-before; fi

fp=$(port)
setsid node bench/api/floor.mjs "$fp" &
pids+=($!)
wait_up "http://127.0.0.1:$fp/ok"
(cd bench/api && SERVER_PGID=${pids[-1]} node bench.mjs "http://127.0.0.1:$fp" sdk-floor "$seconds")
kill -TERM -- "-${pids[-1]}"

# The JS server writes its state next to its config: run it from a copy.
mkdir -p "$tmp/js" && cp bench/api/js/graph.mjs bench/api/js/langgraph.json "$tmp/js/"
ln -s "$root/bench/api/node_modules" "$tmp/js/node_modules"
jp=$(port)
(cd "$tmp/js" && exec env LANGGRAPH_CLI_NO_ANALYTICS=1 LANGSMITH_TRACING=false LANGCHAIN_TRACING_V2=false \
  setsid "$root/bench/api/node_modules/.bin/langgraphjs" dev --no-browser --no-reload \
  --host 127.0.0.1 --port "$jp" >"$tmp/js.log" 2>&1) &
pids+=($!)
wait_up "http://127.0.0.1:$jp/ok"
(cd bench/api && SERVER_PGID=${pids[-1]} node bench.mjs "http://127.0.0.1:$jp" langgraph.js "$seconds")
echo "(SDK fetch: ${SDK_FETCH:-http}; client threads: ${CLIENT_THREADS:-2}; loom: SQLite, stateless waits keep no checkpoints; sdk-floor: a Node server doing no work; JS: in-memory dev server; $(nproc) cores shared by server and clients; load: $(cut -d' ' -f1-3 /proc/loadavg))"
