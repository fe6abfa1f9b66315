#!/usr/bin/env bash
# The whole system on loopback, for development: PostgreSQL, SeaweedFS (S3), the media stack
# (redis, livekit-server, LiveKit Egress: class recordings into S3, multistream), two
# cloud-api nodes sharing them (the first seeds the demo data), an artifact worker, and the web app on
# both nodes. Prints the URLs and logins; Ctrl-C stops everything and removes its state.
# System packages: scripts/install-deps.sh (the test command runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/studio-target}
state=$(mktemp -d /tmp/studio-dev.XXXXXX)
chmod 755 "$state"   # PostgreSQL runs as its own user and must reach its directory inside
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
stopping=0
cleanup() {
  # Once, and only in the script itself (not in a command substitution's subshell).
  [ "$stopping" = 1 ] || [ "$BASHPID" != "$$" ] && return; stopping=1
  echo; echo "stopping the stack …"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  MEDIA_STACK_DIR=$state/media bash scripts/media-stack.sh stop || true
  S3_TEST_DIR=$state/s3 bash scripts/s3-test-server.sh stop || true
  PG_TEST_DIR=$state/pg bash scripts/pg-test-cluster.sh stop || true
  rm -rf "$state"
  echo "stopped"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building (cloud-api, artifact-worker, the web app) …"
# One package per build: each resolves its dependencies' features as `cargo run -p <it>` does, so
# the binaries the README's commands built are reused, not compiled again for the pair's union.
cargo build -q -p cloud-api --bin cloud-api
cargo build -q -p artifact-worker --bin artifact-worker
bash scripts/build-web.sh >"$state/build-web.log" 2>&1 || { tail -20 "$state/build-web.log"; exit 1; }
bin=$CARGO_TARGET_DIR/debug

pg=$(PG_TEST_DIR=$state/pg bash scripts/pg-test-cluster.sh start "$(free)")
psql -q "$pg" -c "create database studio"
export DATABASE_URL=${pg%/*}/studio
while IFS= read -r line; do export "${line?}"; done < <(S3_TEST_DIR=$state/s3 bash scripts/s3-test-server.sh start)
port_a=$(free); port_b=$(free)
# LiveKit's webhooks go to node A; recordings go to the bucket (LIVEKIT_RECORD).
while IFS= read -r line; do export "${line?}"; done < <(MEDIA_STACK_DIR=$state/media \
  WEBHOOK_URL="http://127.0.0.1:$port_a/api/webhooks/livekit" bash scripts/media-stack.sh start)
unset EGRESS_PID
export LIVEKIT_RECORD=1
export STUDENT_WEB_DIR=$PWD/student-web/media/dist MEDIA_DIR=$PWD/student-web/media/dist SECRETS_KEY
SECRETS_KEY=$(head -c 32 /dev/urandom | base64)

# Node A seeds the demo (its stdout has the logins); node B serves the same database.
BIND_ADDR=127.0.0.1:$port_a DATA_DIR=$state/a "$bin/cloud-api" demo >"$state/a.out" 2>"$state/a.log" &
pids+=($!)
for _ in $(seq 1 300); do curl -sf -o /dev/null "http://127.0.0.1:$port_a/readyz" && break; sleep 0.2; done
curl -sf -o /dev/null "http://127.0.0.1:$port_a/readyz" || { tail -20 "$state/a.log"; exit 1; }
BIND_ADDR=127.0.0.1:$port_b DATA_DIR=$state/b "$bin/cloud-api" >"$state/b.out" 2>"$state/b.log" &
pids+=($!)
DATA_DIR=$state/w WORKER_ID=dev-worker "$bin/artifact-worker" >"$state/worker.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do curl -sf -o /dev/null "http://127.0.0.1:$port_b/readyz" && break; sleep 0.2; done
curl -sf -o /dev/null "http://127.0.0.1:$port_b/readyz" || { tail -20 "$state/b.log"; exit 1; }

cat <<TXT

The studio, on loopback:
  node A     http://127.0.0.1:$port_a/   (seeded the demo data)
  node B     http://127.0.0.1:$port_b/   (same database: live events cross nodes)
  PostgreSQL $DATABASE_URL
  S3         $S3_ENDPOINT  bucket $S3_BUCKET
  LiveKit    $LIVEKIT_URL  ($LIVEKIT_API_KEY / $LIVEKIT_API_SECRET), with Egress: recording on, multistream
  worker     artifact-worker (transcripts after class; the first run prepares the model)
  logs       $state/*.log
$(grep -iE "teacher@|student@|admin|password" "$state/a.out" | sed 's/^/  /')
Ctrl-C stops everything.
TXT
echo "dev stack ready"
# Until Ctrl-C, or until one of the processes stops on its own (then say which, and stop the rest).
set +e
wait -n "${pids[@]}"
echo "a process of the stack exited; logs in $state" >&2
tail -5 "$state"/*.log >&2
exit 1
