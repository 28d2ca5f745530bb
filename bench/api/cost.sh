#!/usr/bin/env bash
# What a stateless runs.wait costs the loom server itself, without the SDK:
# wrk keeps CONNS keep-alive connections posting the SDK's exact body
# ({"input":{"log":[]},"assistant_id":"chain3"}) to /runs/wait for SECONDS,
# and the server's CPU time (user + system, from /proc) is divided by the
# runs it answered. Each binary gets its own server and fresh data
# directory; the rounds alternate between them so load from elsewhere
# falls on all alike.
#   bench/api/cost.sh [ROUNDS] [SECONDS] [CONNS] [loom binary ...]
#   (default: 3 rounds of 4 s at 50 connections on build-bench/loom)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
seconds=${2:-4}
conns=${3:-50}
shift $(($# < 3 ? $# : 3))
build=${BUILD:-build-bench}
if [ $# -eq 0 ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" --target loom -j2 >/dev/null
  set -- "$build/loom"
fi
command -v wrk >/dev/null || { echo "cost.sh needs wrk (scripts/deps.sh bench)" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
cat >"$tmp/wait.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"input":{"log":[]},"assistant_id":"chain3"}'
wrk.headers["Content-Type"] = "application/json"
EOF
port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
ports=()
for i in $(seq $#); do
  p=$(port)
  LOOM_ADDR=127.0.0.1:$p LOOM_DATA_DIR=$tmp/d$i LOOM_GRAPHS=$PWD/bench/api LOOM_LOG_LEVEL=error \
    setsid "${!i}" serve >"$tmp/$i.log" 2>&1 &
  pids+=($!)
  ports+=("$p")
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$p/readyz" >/dev/null && break; sleep 0.05; done
done
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # clock ticks

printf '%-28s %5s %8s %9s %11s\n' binary round runs runs/s srv_us/run
for r in $(seq "$rounds"); do
  for i in $(seq $#); do
    k=$((i - 1))
    c0=$(cpu "${pids[$k]}")
    out=$(wrk -t1 -c"$conns" -d"${seconds}s" -s "$tmp/wait.lua" "http://127.0.0.1:${ports[$k]}/runs/wait")
    c1=$(cpu "${pids[$k]}")
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    errs=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    [ -z "$errs" ] || { echo "${!i}: $errs answers were not 2xx" >&2; exit 1; }
    awk -v b="${!i}" -v r="$r" -v n="$n" -v s="$seconds" -v t="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" \
      'BEGIN { printf "%-28s %5d %8d %9.0f %11.1f\n", b, r, n, n / s, t / hz * 1e6 / n }'
  done
done
echo "(wrk -c$conns, ${seconds} s a round; $(nproc) cores shared by wrk and the servers; load: $(cut -d' ' -f1-3 /proc/loadavg))"
