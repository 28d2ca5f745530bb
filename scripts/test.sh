#!/usr/bin/env bash
# What `make test` runs, in order; stops at the first failure.
#  1. build and run the unit tests
#  2. build and run the unit tests again under ASan + UBSan
#  3. a short run of every fuzz target over its seed corpus
#  4. start throwaway PostgreSQL + Redis, run the integration suites, stop them
#  5. the LangGraph API suites again against loom built with ASan + UBSan:
#     a report from any server they start fails the run
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
werror=()
[ "${CI:-}" = true ] && werror=(-DLOOM_WERROR=ON)

step() { printf '\n== %s\n' "$*"; }

# Builds quietly: the full output only when the build fails, warnings always.
build() {
  local out
  out=$(cmake --build "$1" -j"$jobs" 2>&1) || { echo "$out"; return 1; }
  grep -E 'warning:' <<<"$out" || true
}

step "build"
cmake -S . -B build "${werror[@]}" >/dev/null
build build

step "unit tests"
ctest --test-dir build --output-on-failure -j"$jobs"

step "unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DLOOM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug "${werror[@]}" >/dev/null
build build-asan
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"

step "fuzz targets over their seed corpora"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DLOOM_FUZZ=ON "${werror[@]}" >/dev/null
build build-fuzz
scripts/fuzz.sh build-fuzz 10

step "integration tests (SQLite, PostgreSQL, Redis)"
eval "$(scripts/services.sh start)"
trap 'scripts/services.sh stop "$LOOM_SERVICES_DIR"' EXIT
# Suites that want the services ask for them by these names; every other
# loom process a test starts keeps the embedded default.
export LOOM_TEST_DATABASE_URL=$DATABASE_URL LOOM_TEST_REDIS_URL=$REDIS_URL
unset DATABASE_URL REDIS_URL
export LOOM_BIN=$PWD/build/loom
if compgen -G "tests/integration/*.test.mjs" >/dev/null; then
  node --test --test-concurrency=2 tests/integration/*.test.mjs
fi

# Shutdown races and leaks of a whole server only show here (the unit
# tests never run `loom serve`): a use-after-free in the persist writer's
# last acknowledgements and a Lua state leaked per loop thread were found
# this way.
step "LangGraph API suites against the ASan + UBSan build"
sanitizer_logs=$(mktemp -d)
ASAN_OPTIONS=log_path=$sanitizer_logs/asan:detect_leaks=1 \
  UBSAN_OPTIONS=log_path=$sanitizer_logs/ubsan:print_stacktrace=1 \
  LOOM_BIN=$PWD/build-asan/loom \
  node --test --test-concurrency=2 tests/integration/langgraph*.test.mjs
if compgen -G "$sanitizer_logs/*" >/dev/null; then
  cat "$sanitizer_logs"/*
  echo "sanitizer reports from loom serve (above)" >&2
  exit 1
fi
rm -rf "$sanitizer_logs"
