#!/usr/bin/env bash
# HTTP stack benchmark: builds and starts bench_http_server on a free port,
# checks that keep-alive reuses connections (curl -v), runs wrk with 64
# connections against GET /healthz and POST /echo, and prints req/s and
# latency p50/p99 per route; then N concurrent requests from loom's own
# HTTP client (bench_http_client) to GET /sleep?ms=1000.
#   bench/http/run.sh [seconds] [server loops] [wrk threads] [client N]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
loops=${2:-1}
threads=${3:-1}
clients=${4:-10000}
build=${BUILD:-build}

cmake -S . -B "$build" >/dev/null
cmake --build "$build" --target bench_http_server bench_http_client -j2 >/dev/null

out=$(mktemp)
"$build/bench_http_server" 0 "$loops" >"$out" 2>/dev/null &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q '^port ' "$out" && break; sleep 0.05; done
port=$(awk '/^port /{print $2}' "$out")
base="http://127.0.0.1:$port"

# Two requests in one curl run must share one connection.
reuse=$(curl -sv -o /dev/null -o /dev/null "$base/healthz" "$base/healthz" 2>&1 |
  grep -c -i 're-using existing connection' || true)
[ "$reuse" -ge 1 ] && keepalive=yes || keepalive=NO
echo "keep-alive (curl -v, 2 requests on 1 connection): $keepalive"

run() { # name, wrk args...
  local name=$1; shift
  local res
  res=$(wrk -t"$threads" -c64 -d"${secs}s" --latency "$@")
  local rps p50 p99 errs non2xx
  rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$res")
  p50=$(awk '$1=="50%"{print $2}' <<<"$res")
  p99=$(awk '$1=="99%"{print $2}' <<<"$res")
  errs=$(awk -F'Socket errors: ' '/Socket errors/{print $2}' <<<"$res")
  non2xx=$(awk -F': ' '/Non-2xx/{print $2}' <<<"$res")
  printf '%-14s %12s %10s %10s  %s\n' "$name" "$rps" "$p50" "$p99" \
    "${errs:-none}${non2xx:+, non-2xx $non2xx}"
}

printf '\n%-14s %12s %10s %10s  %s\n' route req/s p50 p99 "socket errors"
run "GET /healthz" "$base/healthz"
run "POST /echo" -s bench/http/echo.lua "$base/echo"
echo "(wrk: $threads thread(s), 64 connections, ${secs}s per route; server: $loops loop(s); $(nproc) cores shared)"

echo
echo "loom_http_client, $clients concurrent requests to a 1 s endpoint:"
"$build/bench_http_client" "$base/sleep?ms=1000" "$clients"
