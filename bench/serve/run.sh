#!/usr/bin/env bash
# The real `loom serve` on the embedded default, measured as an operator
# sees it: time from exec to the first 200 from /readyz, resident memory
# when idle, and GET /healthz throughput and latency under wrk with 64
# keep-alive connections.
#   bench/serve/run.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
build=${BUILD:-build}
cmake --build "$build" --target loom -j2 >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data=$(mktemp -d)
base="http://127.0.0.1:$port"
t0=$(date +%s%N)
LOOM_ADDR=127.0.0.1:$port LOOM_DATA_DIR=$data LOOM_LOG_LEVEL=warn \
  LOOM_GRAPHS=examples/graphs:examples/crews "$build/loom" serve &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
until curl -sf -o /dev/null "$base/readyz"; do sleep 0.002; done
t1=$(date +%s%N)
sleep 1
rss=$(awk '/VmRSS/{print $2}' /proc/$pid/status)

res=$(wrk -t1 -c64 -d"${secs}s" --latency "$base/healthz")
rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$res")
p50=$(awk '$1=="50%"{print $2}' <<<"$res")
p99=$(awk '$1=="99%"{print $2}' <<<"$res")
errs=$(awk -F'Socket errors: ' '/Socket errors/{print $2}' <<<"$res")
rss_after=$(awk '/VmRSS/{print $2}' /proc/$pid/status)

printf '%-34s %s\n' "start to ready (exec → /readyz 200)" "$(( (t1 - t0) / 1000000 )) ms"
printf '%-34s %s\n' "idle RSS" "$((rss / 1024)) MiB ($rss KiB)"
printf '%-34s %s\n' "GET /healthz, 64 connections" "$rps req/s, p50 $p50, p99 $p99"
printf '%-34s %s\n' "socket errors" "${errs:-none}"
printf '%-34s %s\n' "RSS after the load" "$((rss_after / 1024)) MiB"
echo "(wrk: 1 thread, ${secs}s; loom: one event loop per core; $(nproc) cores shared with wrk)"
