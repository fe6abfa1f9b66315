#!/usr/bin/env bash
# The test command: lint, then every test of the workspace against SQLite and a throwaway PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/studio-target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# Each phase's start, in seconds since the run began (a cold run's time goes where these say).
phase() { echo "== $* (at ${SECONDS}s)"; }

bash scripts/install-deps.sh

# Everything this run starts carries STUDIO_TEST_RUN in its environment, and its temp files go to a
# directory of its own: at the end scripts/leftovers.sh lists (and kills, and removes) what a test left.
export STUDIO_TEST_RUN="$$-$(date +%s)"
TMPDIR=$(mktemp -d /tmp/sr.XXXXXX) # short: unix sockets live under it (108-byte paths)
chmod 1777 "$TMPDIR" # PostgreSQL clusters of the drills run as the postgres user under it
export TMPDIR
# libpulse (espeak-ng opens it even to write a WAV) makes a runtime dir under TMPDIR and links it
# from ~/.config/pulse the first time on a machine: keep it outside the run's temp dir.
export PULSE_RUNTIME_PATH=${PULSE_RUNTIME_PATH:-$HOME/.cache/studio/pulse}
mkdir -p "$PULSE_RUNTIME_PATH" && chmod 700 "$PULSE_RUNTIME_PATH"

# A reused machine's shared target dir grows with every test binary ever linked (tens of GB): when
# the disk runs low, drop the incremental caches and test executables not touched for two days.
mkdir -p "$CARGO_TARGET_DIR"
free_kb=$(df -Pk "$CARGO_TARGET_DIR" | awk 'NR==2{print $4}')
if [ "${free_kb:-0}" -lt $((20 * 1024 * 1024)) ]; then
  phase "low disk ($((free_kb / 1024 / 1024)) GB free): pruning $CARGO_TARGET_DIR"
  rm -rf "$CARGO_TARGET_DIR"/debug/incremental "$CARGO_TARGET_DIR"/release/incremental
  find "$CARGO_TARGET_DIR"/debug/deps "$CARGO_TARGET_DIR"/release/deps -maxdepth 1 -type f -executable -mtime +2 -delete 2>/dev/null || true
fi

phase "rustfmt"
cargo fmt --all -- --check
phase "clippy"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
cargo clippy -p student-web --target wasm32-unknown-unknown --locked -- -D warnings

phase "postgres (throwaway cluster)"
export PG_TEST_DIR=${PG_TEST_DIR:-$(mktemp -d /tmp/studio-pg.XXXXXX)}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TEST_DATABASE_URL=$(bash scripts/pg-test-cluster.sh start "$port")
export TEST_DATABASE_URL
trap 'bash scripts/pg-test-cluster.sh stop; bash scripts/leftovers.sh "$STUDIO_TEST_RUN" "$TMPDIR" || true' EXIT

phase "tests"
log=$(mktemp)
set +e
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "%d passed, %d failed, %d skipped\n", p, f, i }' "$log"
rm -f "$log"
[ "$status" = 0 ] || exit "$status"

phase "schemathesis against /api/openapi.json"
bash scripts/schemathesis.sh

phase "the studio's Debian package (tauri-cli, from the debug build)"
bash scripts/package-desktop.sh --debug

phase "README commands, as written, in a fresh clone"
bash scripts/readme-commands.sh

phase "left-overs (processes still running, files in the temp dir)"
bash scripts/pg-test-cluster.sh stop
bash scripts/leftovers.sh "$STUDIO_TEST_RUN" "$TMPDIR" || { echo "a test left the above behind: it cleans up what it starts" >&2; exit 1; }
phase "done"
