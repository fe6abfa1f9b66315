#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests: `start [port]` prints a DATABASE_URL; `restart` stops it at
# once and starts it again (the drills); `stop` removes it.
# Runs the server as the `postgres` OS user when invoked as root (PostgreSQL refuses to run as root).
set -euo pipefail
state=${PG_TEST_DIR:-${TMPDIR:-/tmp}/studio-pg-test}
cmd=${1:-start}
port=${2:-${PG_TEST_PORT:-54329}}
# Tests run without durability for speed; PG_SYNCHRONOUS_COMMIT=on makes an acknowledged commit survive
# the server being killed (the restart drill needs that, as production has it).
opts="-c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=${PG_SYNCHRONOUS_COMMIT:-off} -c full_page_writes=off"

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pgbin" ] || { echo "PostgreSQL server binaries not found; run scripts/install-deps.sh" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    if [ -f "$state/data/postmaster.pid" ] && as_pg "$pgbin/pg_ctl" -D "$state/data" status >/dev/null 2>&1; then
      echo "postgres://studio@127.0.0.1:$(cat "$state/port")/postgres"
      exit 0
    fi
    rm -rf "$state"
    mkdir -p "$state"
    [ "$(id -u)" = 0 ] && chown postgres "$state"
    as_pg "$pgbin/initdb" -D "$state/data" -U studio --auth=trust -E UTF8 --no-locale >"$state/initdb.log" 2>&1 \
      || { cat "$state/initdb.log" >&2; exit 1; }
    echo "$port" >"$state/port"
    as_pg "$pgbin/pg_ctl" -D "$state/data" -l "$state/server.log" -w -t 60 \
      -o "-p $port -k $state $opts" \
      start >/dev/null || { cat "$state/server.log" >&2; exit 1; }
    echo "postgres://studio@127.0.0.1:$port/postgres"
    ;;
  restart)
    # Like a crash and a recovery: stop at once (no checkpoint), start again on the same data and port.
    as_pg "$pgbin/pg_ctl" -D "$state/data" -m immediate stop >/dev/null 2>&1 || true
    sleep "${PG_DOWN_SECS:-1}"
    port=$(cat "$state/port")
    as_pg "$pgbin/pg_ctl" -D "$state/data" -l "$state/server.log" -w -t 60 \
      -o "-p $port -k $state $opts" \
      start >/dev/null || { cat "$state/server.log" >&2; exit 1; }
    echo "postgres://studio@127.0.0.1:$port/postgres"
    ;;
  stop)
    if [ -d "$state/data" ]; then
      as_pg "$pgbin/pg_ctl" -D "$state/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$state"
    ;;
  *) echo "usage: $0 start [port] | restart | stop" >&2; exit 2 ;;
esac
