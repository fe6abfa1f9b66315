#!/usr/bin/env bash
# A real LiveKit server for development and tests.
#   build  — build livekit-server (pinned) from the Go module proxy into ~/.cache/studio/livekit (cached)
#   start  — start it in --dev mode on 127.0.0.1 (keys devkey/secret), wait until it answers, print its URL
#   stop   — stop it
# v1.13.5 is the newest release whose go.mod has no replace directives: from v1.13.6 on it replaces pion
# modules with LiveKit forks that the Go module proxy does not serve (403 "not available"), and
# `go install …@version` refuses replace directives anyway. The module is fetched with
# `go mod download` and built as the main module in a copy (the same result as `go install`).
set -euo pipefail
VERSION=${LIVEKIT_VERSION:-v1.13.5}
cache=${STUDIO_CACHE_DIR:-$HOME/.cache/studio}/livekit
bin="$cache/livekit-server-$VERSION"
state=${LIVEKIT_TEST_DIR:-${TMPDIR:-/tmp}/studio-livekit}
cmd=${1:-start}

build() {
  [ -x "$bin" ] && return 0
  command -v go >/dev/null || { echo "Go is required to build livekit-server" >&2; exit 1; }
  mkdir -p "$cache"
  src=$(go mod download -json "github.com/livekit/livekit-server@$VERSION" | python3 -c 'import sys,json; print(json.load(sys.stdin)["Dir"])')
  work=$(mktemp -d)
  cp -r "$src/." "$work/"
  chmod -R u+w "$work"
  echo "building livekit-server $VERSION (a few minutes the first time) …" >&2
  (cd "$work" && GOFLAGS=-mod=mod go build -trimpath -o "$bin.tmp" ./cmd/server)
  mv "$bin.tmp" "$bin"
  rm -rf "$work"
}

case "$cmd" in
  build) build; echo "$bin" ;;
  start)
    build
    mkdir -p "$state"
    # A free port of the kind asked (tcp or udp). It is free when asked; another process may take it
    # before the server binds it, so a server that dies before it answers is started again on others.
    free() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1]=="udp" else socket.SOCK_STREAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "${1:-tcp}"; }
    for attempt in 1 2 3; do
      port=${LIVEKIT_PORT:-$(free)}
      # Own RTC ports and loopback as the node address, so several servers can run side by side.
      cat >"$state/livekit.yaml" <<YAML
port: $port
bind_addresses: ["127.0.0.1"]
rtc:
  tcp_port: $(free)
  udp_port: $(free udp)
  node_ip: 127.0.0.1
  use_external_ip: false
YAML
      "$bin" --dev --config "$state/livekit.yaml" >"$state/server.log" 2>&1 &
      pid=$!
      echo $pid >"$state/pid"
      for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
          echo "LIVEKIT_URL=ws://127.0.0.1:$port"
          echo "LIVEKIT_API_KEY=devkey"
          echo "LIVEKIT_API_SECRET=secret"
          exit 0
        fi
        sleep 0.2
      done
      kill "$pid" 2>/dev/null || true
      echo "livekit-server did not start (attempt $attempt); log follows" >&2; tail -30 "$state/server.log" >&2
    done
    exit 1
    ;;
  stop)
    [ -f "$state/pid" ] && kill "$(cat "$state/pid")" 2>/dev/null || true
    rm -rf "$state"
    ;;
  *) echo "usage: $0 build | start | stop" >&2; exit 2 ;;
esac
