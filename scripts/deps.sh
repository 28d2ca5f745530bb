#!/usr/bin/env bash
# Installs what loom needs to build, run and test, and nothing twice.
#
#   scripts/deps.sh           build + run dependencies
#   scripts/deps.sh test      + test dependencies (servers, cmocka, npm packages)
#   scripts/deps.sh bench     + benchmark peers and data
#
# When everything is present this costs a second or two. Not root: prints
# the exact command to run instead.
set -euo pipefail
cd "$(dirname "$0")/.."

want=(build-essential cmake pkg-config libmicrohttpd-dev libuv1-dev
  libcurl4-openssl-dev libjansson-dev libsqlite3-dev libpq-dev
  libhiredis-dev libyaml-dev liblua5.4-dev libssl-dev libpoppler-glib-dev
  libhttp-parser-dev)
case "${1:-}" in
  test) want+=(libcmocka-dev clang libclang-rt-14-dev postgresql
    redis-server prometheus nodejs npm) ;;
  bench) want+=(libcmocka-dev clang postgresql redis-server wrk
    libhnswlib-dev g++ dataset-fashion-mnist nodejs npm) ;;
esac

missing=()
for pkg in "${want[@]}"; do
  # nodejs/npm may come from elsewhere than Debian; a working binary counts.
  case "$pkg" in
    nodejs) command -v node >/dev/null && continue ;;
    npm) command -v npm >/dev/null && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' ||
    missing+=("$pkg")
done

if ((${#missing[@]})); then
  cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "loom needs these Debian packages; run as root:" >&2
    echo "  $cmd" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}" >&2
  bash -c "$cmd" >/tmp/loom-deps.log 2>&1 || {
    tail -20 /tmp/loom-deps.log >&2
    exit 1
  }
fi

# npm packages for the integration tests and benchmarks, pinned by the
# committed lock files; reinstalled only when a lock file changes.
if [ "${1:-}" = test ] || [ "${1:-}" = bench ]; then
  for dir in tests/integration bench; do
    [ -f "$dir/package-lock.json" ] || continue
    stamp="$dir/node_modules/.loom-lock"
    if ! cmp -s "$dir/package-lock.json" "$stamp" 2>/dev/null; then
      echo "deps: npm ci in $dir" >&2
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
      cp "$dir/package-lock.json" "$stamp"
    fi
  done
fi
