#!/usr/bin/env bash
# Append benchmark on a throwaway PostgreSQL (default settings but fsync off, as in the tests) and on SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/studio-target}
export PG_TEST_DIR=$(mktemp -d /tmp/studio-pg-bench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=$(bash scripts/pg-test-cluster.sh start "$port")
trap 'bash scripts/pg-test-cluster.sh stop' EXIT
cargo build --release -p cloud-api --bin bench-append
"$CARGO_TARGET_DIR/release/bench-append" "$url" "${@}"
"$CARGO_TARGET_DIR/release/bench-append" "sqlite://bench" "${@}"
