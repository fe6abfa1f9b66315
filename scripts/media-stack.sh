#!/usr/bin/env bash
# The media stack with server-side recording and streaming, for tests and the dev stack:
# redis-server → livekit-server (with redis, webhooks) → LiveKit Egress, all on loopback.
#   build        — build livekit-server (scripts/livekit-server.sh) and egress (pinned, patched) into
#                  ~/.cache/studio (cached; egress ≈5 min the first time on 2 cores)
#   start        — start the three with state in $MEDIA_STACK_DIR; print KEY=VALUE lines
#                  (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET, EGRESS_PID)
#                  env: LIVEKIT_PORT (else a free one), WEBHOOK_URL (where livekit-server posts webhooks)
#   kill-egress  — kill egress and its pipelines at once (SIGKILL), as a crash would
#   stop         — stop all three (livekit-server before redis, else it hangs retrying)
#
# Egress v1.8.6: only v1.8.0 and v1.8.6 are served by the Go module proxy, and the checksum database
# does not know it (GONOSUMDB). It is built as the main module in a copy, with two changes:
#   - cmd/server/templates/index.html is created: go:embed needs a file, and the room-composite
#     template (a Chromium page) is not used here — recordings and streams follow the teacher's own
#     tracks (track composite or participant egress), which need no browser;
#   - Debian has no `faac` GStreamer element, so the AAC encoder falls back to `voaacenc`
#     (gstreamer1.0-plugins-bad); RTMP and MP4 need AAC.
# egress re-executes itself by the name `egress` for each pipeline, so its directory goes on PATH.
set -euo pipefail
EGRESS_VERSION=${EGRESS_VERSION:-v1.8.6}
here=$(cd "$(dirname "$0")" && pwd)
cache=${STUDIO_CACHE_DIR:-$HOME/.cache/studio}/egress
egress_dir="$cache/$EGRESS_VERSION"
state=${MEDIA_STACK_DIR:-${TMPDIR:-/tmp}/studio-media}
cmd=${1:-start}
# 40 characters: livekit-server refuses short secrets outside --dev.
SECRET=${LIVEKIT_API_SECRET:-media-stack-secret-for-tests-0123456789}
KEY=${LIVEKIT_API_KEY:-devkey}

build_egress() {
  [ -x "$egress_dir/egress" ] && return 0
  command -v go >/dev/null || { echo "Go is required to build egress" >&2; exit 1; }
  pkg-config --exists gstreamer-1.0 gstreamer-app-1.0 || {
    echo "egress needs libgstreamer1.0-dev and libgstreamer-plugins-base1.0-dev (scripts/install-deps.sh)" >&2
    exit 1
  }
  export GONOSUMDB=github.com/livekit GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=1
  src=$(go mod download -json "github.com/livekit/egress@$EGRESS_VERSION" | python3 -c 'import sys,json; print(json.load(sys.stdin)["Dir"])')
  work=$(mktemp -d)
  cp -r "$src/." "$work/"
  chmod -R u+w "$work"
  mkdir -p "$work/cmd/server/templates"
  echo '<!doctype html><title>not used</title>' >"$work/cmd/server/templates/index.html"
  audio="$work/pkg/pipeline/builder/audio.go"
  grep -q 'gst.NewElement("faac")' "$audio" || { echo "egress $EGRESS_VERSION: the AAC encoder moved; update the patch" >&2; exit 1; }
  sed -i 's/faac, err := gst.NewElement("faac")/faac, err := gst.NewElement("faac"); if err != nil { faac, err = gst.NewElement("voaacenc") }/' "$audio"
  echo "building egress $EGRESS_VERSION (about five minutes the first time) …" >&2
  mkdir -p "$egress_dir.tmp"
  (cd "$work" && go build -trimpath -o "$egress_dir.tmp/egress" ./cmd/server)
  rm -rf "$egress_dir"
  mv "$egress_dir.tmp" "$egress_dir"
  rm -rf "$work"
}

# A free port of the kind asked (tcp or udp). Another process may take it before ours binds it: a
# start whose server died is undone and tried again on other ports (up to three times).
free() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1]=="udp" else socket.SOCK_STREAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "${1:-tcp}"; }

wait_for() { # url, what, log, pid
  for _ in $(seq 1 150); do
    curl -s -o /dev/null "$1" && return 0
    [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null && break
    sleep 0.2
  done
  echo "$2 did not start; log follows" >&2
  tail -40 "$3" >&2
  exit 1
}

case "$cmd" in
  build)
    bash "$here/livekit-server.sh" build >/dev/null
    build_egress
    echo "$egress_dir/egress"
    ;;
  start)
    if [ -z "${MEDIA_STACK_ATTEMPT:-}" ]; then
      for attempt in 1 2 3; do
        MEDIA_STACK_ATTEMPT=$attempt bash "$0" start && exit 0
        bash "$0" stop
        echo "media stack: attempt $attempt did not start; trying again on other ports" >&2
      done
      exit 1
    fi
    lk=$(bash "$here/livekit-server.sh" build)
    build_egress
    command -v redis-server >/dev/null || { echo "redis-server is required (scripts/install-deps.sh)" >&2; exit 1; }
    mkdir -p "$state"
    redis_port=$(free)
    setsid redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$state" \
      >"$state/redis.log" 2>&1 &
    echo $! >"$state/redis.pid"
    for _ in $(seq 1 50); do
      redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    port=${LIVEKIT_PORT:-$(free)}
    {
      echo "port: $port"
      echo 'bind_addresses: ["127.0.0.1"]'
      echo "rtc: {tcp_port: $(free), udp_port: $(free udp), node_ip: 127.0.0.1, use_external_ip: false}"
      echo "redis: {address: 127.0.0.1:$redis_port}"
      echo "keys: {$KEY: $SECRET}"
      [ -n "${WEBHOOK_URL:-}" ] && echo "webhook: {api_key: $KEY, urls: [\"$WEBHOOK_URL\"]}"
      true
    } >"$state/livekit.yaml"
    setsid "$lk" --config "$state/livekit.yaml" >"$state/livekit.log" 2>&1 &
    echo $! >"$state/livekit.pid"
    wait_for "http://127.0.0.1:$port/" livekit-server "$state/livekit.log" "$(cat "$state/livekit.pid")"
    health=$(free)
    cat >"$state/egress.yaml" <<YAML
api_key: $KEY
api_secret: $SECRET
ws_url: ws://127.0.0.1:$port
insecure: true
redis: {address: 127.0.0.1:$redis_port}
health_port: $health
template_port: $(free)
log_level: info
# Two cores: admit a class's pipelines even when the machine is busy (egress's default is 80 %).
cpu_cost: {max_cpu_utilization: 0.98, track_composite_cpu_cost: 0.1, track_cpu_cost: 0.1, participant_cpu_cost: 0.2, room_composite_cpu_cost: 0.5, web_cpu_cost: 0.5}
YAML
    mkdir -p "$state/egress-tmp"
    PATH="$egress_dir:$PATH" TMPDIR="$state/egress-tmp" setsid egress --config "$state/egress.yaml" \
      >"$state/egress.log" 2>&1 &
    echo $! >"$state/egress.pid"
    wait_for "http://127.0.0.1:$health/" egress "$state/egress.log" "$(cat "$state/egress.pid")"
    echo "LIVEKIT_URL=ws://127.0.0.1:$port"
    echo "LIVEKIT_API_KEY=$KEY"
    echo "LIVEKIT_API_SECRET=$SECRET"
    echo "EGRESS_PID=$(cat "$state/egress.pid")"
    ;;
  kill-egress)
    # The service and its pipelines: egress starts each pipeline (handler) in a session of its own,
    # and a handler outlives the service if only the service dies.
    if [ -f "$state/egress.pid" ]; then
      pid=$(cat "$state/egress.pid")
      pkill -KILL -P "$pid" 2>/dev/null || true
      kill -KILL "$pid" 2>/dev/null || true
    fi
    ;;
  stop)
    for p in egress livekit redis; do
      [ -f "$state/$p.pid" ] || continue
      pid=$(cat "$state/$p.pid")
      pkill -TERM -P "$pid" 2>/dev/null || true
      pkill -TERM -s "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      pkill -KILL -P "$pid" 2>/dev/null || true
      pkill -KILL -s "$pid" 2>/dev/null || true
    done
    rm -rf "$state"
    ;;
  *) echo "usage: $0 build | start | kill-egress | stop" >&2; exit 2 ;;
esac
