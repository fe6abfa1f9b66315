#!/usr/bin/env bash
# Benchmarks (release build): event-log appends and live fan-out, on a throwaway PostgreSQL
# (fsync off, as in the tests) and on SQLite. Figures go to stdout; see docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/studio-target}
# bench-fanout opens 10,000 sockets (and the server as many): raise the open-file limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export PG_TEST_DIR=$(mktemp -d /tmp/studio-pg-bench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=$(bash scripts/pg-test-cluster.sh start "$port")
trap 'bash scripts/pg-test-cluster.sh stop' EXIT
cargo build --release -p cloud-api -p artifact-worker --bins --features artifact-worker/bench
bin=$CARGO_TARGET_DIR/release
echo "== append"
"$bin/bench-append" "$url"
"$bin/bench-append" "sqlite://bench"
echo "== course search: 500 lecture-hours, ranked, next to the old LIKE scan"
"$bin/bench-search" "$url" 500
"$bin/bench-search" "sqlite://bench" 500
echo "== fan-out"
"$bin/bench-fanout"
# A fresh database for the PostgreSQL fan-out run (the demo seed expects an empty one).
fan_db="bench_fanout_$$"
psql -q "$url" -c "create database $fan_db"
"$bin/bench-fanout" "${url%/*}/$fan_db"
echo "== login storm"
"$bin/bench-login"
echo "== load: 50 classes x 30 students on two nodes (PostgreSQL)"
load_db="bench_load_$$"
psql -q "$url" -c "create database $load_db"
"$bin/bench-load" "${url%/*}/$load_db"
echo "== pipeline"
"$bin/bench-pipeline"
echo "== live captions: a 2-minute lecture fed at the pace it was spoken, then End class -> artifacts"
"$bin/bench-captions" 120
"$bin/bench-models"
echo "== egress: start to first RTMP byte, CPU of an audio-only stream (redis, livekit-server, egress)"
cargo run --release -q -p studio-tests --bin bench-egress
