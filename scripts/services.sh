#!/usr/bin/env bash
# Throwaway PostgreSQL 15 and Redis servers for the tests, on free loopback
# ports, in a temporary directory.
#
#   eval "$(scripts/services.sh start)"   starts both; exports DATABASE_URL,
#                                         REDIS_URL and LOOM_SERVICES_DIR
#   scripts/services.sh stop DIR          stops them and removes DIR
#   scripts/services.sh smoke             start, connect and ping, stop
#
# PostgreSQL refuses to run as root, so as root its server runs as the
# `postgres` user, and the directory is made world-searchable for it.
set -euo pipefail

free_port() {
  python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])
PY
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  local dir pg_port redis_port bin
  dir=$(mktemp -d /tmp/loom-services.XXXXXX)
  chmod 755 "$dir"
  bin=$(pg_bin)
  pg_port=$(free_port)
  mkdir "$dir/pg"
  touch "$dir/pg.log"
  [ "$(id -u)" = 0 ] && chown postgres "$dir/pg" "$dir/pg.log"
  # A failure part-way leaves nothing running behind.
  trap 'stop "$dir"' ERR
  as_pg "$bin/initdb" -D "$dir/pg" -U loom --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1
  as_pg "$bin/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w -t 60 \
    -o "-p $pg_port -k $dir/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  as_pg "$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U loom loom

  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
    --dir "$dir" >/dev/null
  for _ in $(seq 50); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done

  trap - ERR
  echo "export LOOM_SERVICES_DIR=$dir"
  echo "export DATABASE_URL=postgres://loom@127.0.0.1:$pg_port/loom"
  echo "export REDIS_URL=redis://127.0.0.1:$redis_port/0"
}

stop() {
  local dir=$1
  [ -d "$dir" ] || return 0
  if [ -f "$dir/pg/postmaster.pid" ]; then
    as_pg "$(pg_bin)/pg_ctl" -D "$dir/pg" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ -f "$dir/redis.pid" ]; then
    kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

smoke() {
  eval "$(start)"
  trap 'stop "$LOOM_SERVICES_DIR"' EXIT
  psql "$DATABASE_URL" -Atc 'select 1' | grep -qx 1
  redis-cli -u "$REDIS_URL" ping | grep -qx PONG
  echo "services: PostgreSQL and Redis answered"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:?directory from start}" ;;
  smoke) smoke ;;
  *) echo "usage: $0 start | stop DIR | smoke" >&2; exit 2 ;;
esac
