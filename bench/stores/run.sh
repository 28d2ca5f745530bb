#!/usr/bin/env bash
# Checkpoint and cache costs: loom's incremental checkpoints against a
# full-copy peer in the same run, then the in-process cache.
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake --build build --target bench_store -j2 >/dev/null
build/bench_store
