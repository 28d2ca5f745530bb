#!/usr/bin/env bash
# What `make bench` runs: every bench/*/run.sh in turn (or the ones named:
# scripts/bench.sh http engine). Each prints its own table, with the peer
# measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build -j"$(nproc)" >/dev/null
names=("$@")
if [ ${#names[@]} = 0 ]; then
  for d in bench/*/; do names+=("$(basename "$d")"); done
fi
for name in "${names[@]}"; do
  script=bench/$name/run.sh
  [ -x "$script" ] || { echo "bench: no $script" >&2; continue; }
  printf '\n== bench/%s\n' "$name"
  "$script"
done
