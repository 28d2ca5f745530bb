#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, starting from
# its seed corpus in tests/fuzz/corpus/<target>/ (new finds go to a scratch
# copy, so the committed corpus only changes by hand).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?build directory}
seconds=${2:-60}
for bin in "$build"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  seeds=tests/fuzz/corpus/$name
  work=$(mktemp -d)
  [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
  echo "fuzz: $name for ${seconds}s"
  # The status is the fuzzer's own (after "|| true", PIPESTATUS would be
  # true's, and a crash went unnoticed); a crashing input is kept in $build.
  status=0
  "$bin" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$build/" "$work" >"$work.log" 2>&1 || status=$?
  grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' "$work.log" || true
  rm -rf "$work" "$work.log"
  [ "$status" = 0 ] || { echo "fuzz: $name failed (its input is in $build/)" >&2; exit 1; }
done
