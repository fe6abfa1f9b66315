#!/usr/bin/env bash
# Runs the README's commands exactly as written, in a fresh clone of this checkout's HEAD, and checks
# that each does its job: the run command serves and logs in (with the README's own curl line), the
# PostgreSQL variant too, `prepare-model` prints an existing model path last, the worker polls.
# (The test command itself, `bash scripts/test.sh`, is what CI runs; this script is part of it.)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/studio-target}
clone=${README_CLONE_DIR:-/tmp/studio-readme-clone}
rm -rf "$clone"
git clone -q "$src" "$clone"
# A fresh checkout's files are all newer than what the shared target dir built from this one, so
# cargo would rebuild every workspace crate (14 min of a cold run on 2 cores). A file the clone has
# just as this checkout has it (not changed since HEAD) takes this checkout's modification time; what
# the clone builds itself (the browser app) is still built there, from scratch.
python3 - "$src" "$clone" <<'PY'
import os, subprocess, sys
src, clone = sys.argv[1], sys.argv[2]
git = lambda *a: subprocess.run(["git", "-C", src, *a], check=True, capture_output=True).stdout.split(b"\0")
changed = set(git("diff", "-z", "--name-only", "HEAD"))
for f in git("ls-files", "-z"):
    a, b = os.path.join(src.encode(), f), os.path.join(clone.encode(), f)
    if f and f not in changed and os.path.isfile(a) and not os.path.islink(a) and os.path.isfile(b):
        st = os.stat(a)
        os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns))
# Directories too (a build script may watch one), deepest first.
dirs = {os.path.dirname(f) for f in git("ls-files", "-z") if f}
for d in sorted(dirs, key=len, reverse=True):
    a, b = os.path.join(src.encode(), d), os.path.join(clone.encode(), d)
    if os.path.isdir(a) and os.path.isdir(b):
        st = os.stat(a)
        os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns))
PY
cd "$clone"
log=$(mktemp -d)
# A failed check also stops the server it started (else it keeps port 8080 for the next run).
fail() { [ -n "${serving:-}" ] && kill -- -"$serving" 2>/dev/null; echo "README command check FAILED: $*" >&2; for f in "$log"/*.log; do echo "--- $f" >&2; tail -n 30 "$f" >&2; done; exit 1; }

# The exact commands, taken from the README (fails if the README stops showing them).
cmd_of() { grep -oF -- "$1" README.md | head -n 1; }
run_cmd=$(cmd_of 'cargo run -p cloud-api -- demo')
prepare_cmd=$(cmd_of 'cargo run -p artifact-worker -- prepare-model')
worker_cmd=$(grep -E '^cargo run -p artifact-worker +#' README.md | sed 's/ *#.*//' | head -n 1)
pg_cmd=$(grep -oE 'DATABASE_URL=\$\(bash scripts/pg-test-cluster.sh start\) cargo run -p cloud-api -- demo' README.md | head -n 1)
curl_cmd=$(awk '/^curl -s localhost:8080\/api\/auth\/login/{c=1} c{print} c&&!/\\$/{exit}' README.md)
for v in run_cmd prepare_cmd worker_cmd pg_cmd curl_cmd; do [ -n "${!v}" ] || fail "the README no longer shows $v"; done

port_free() { ! (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; }
# Start a serving command in the background; wait for its URL line; check the README's curl logs in.
serve_and_login() {
  local name=$1 cmd=$2
  port_free || fail "port 8080 is taken; the README's run command binds it"
  setsid bash -c "$cmd" >"$log/$name.log" 2>&1 &
  local pid=$!
  serving=$pid
  for _ in $(seq 1 900); do
    grep -q 'http://127.0.0.1:8080/' "$log/$name.log" && break
    kill -0 "$pid" 2>/dev/null || fail "$name exited early"
    sleep 1
  done
  grep -q 'http://127.0.0.1:8080/' "$log/$name.log" || fail "$name printed no URL"
  local answer
  answer=$(bash -c "$curl_cmd")
  echo "$answer" | grep -q '"token"' || fail "$name: the README's curl did not log in: $answer"
  curl -sf http://127.0.0.1:8080/readyz >/dev/null || fail "$name: not ready"
  # The browser app, built by the run command itself on a fresh clone: `/` forwards to the sign-in page.
  curl -sf http://127.0.0.1:8080/ | grep -q 'url=/app/' || fail "$name: / does not lead to the app"
  curl -sf http://127.0.0.1:8080/app/ | grep -q 'src="boot.js"' || fail "$name: /app/ is not the app"
  curl -sf http://127.0.0.1:8080/app/boot.js | grep -q 'start_app' || fail "$name: the app's boot script is missing"
  curl -sf -o /dev/null http://127.0.0.1:8080/app/pkg/student_web_bg.wasm || fail "$name: the app's wasm is missing"
  kill -- -"$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  serving=
  echo "ok: $cmd"
}

serve_and_login run "$run_cmd"

# The studio window, as written, on a virtual display (the run command above built its UI): it starts,
# opens its journal and shows the sign-in page.
studio_cmd=$(cmd_of 'cargo run -p studio-desktop')
[ -n "$studio_cmd" ] || fail "the README no longer shows the studio command"
studio_dir=$(mktemp -d)
# xvfb-run's own temp dir goes under studio_dir (killed, it cannot remove it itself).
TMPDIR="$studio_dir" STUDIO_DATA_DIR="$studio_dir" STUDIO_VAULT=file setsid xvfb-run -a bash -c "$studio_cmd" >"$log/studio.log" 2>&1 &
spid=$!
serving=$spid
for _ in $(seq 1 900); do grep -q 'studio started' "$log/studio.log" && break; kill -0 "$spid" 2>/dev/null || fail "the studio exited early"; sleep 1; done
grep -q 'studio started' "$log/studio.log" || fail "the studio did not start"
[ -f "$studio_dir/journal.db" ] || fail "the studio did not open its journal"
kill -- -"$spid" 2>/dev/null || true
wait "$spid" 2>/dev/null || true
serving=
rm -rf "$studio_dir"
echo "ok: $studio_cmd"

export PG_TEST_DIR=$(mktemp -d /tmp/studio-pg-readme.XXXXXX)
export PG_TEST_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
serve_and_login postgres "$pg_cmd"
bash scripts/pg-test-cluster.sh stop >/dev/null

model=$(bash -c "$prepare_cmd" 2>"$log/prepare.log" | tail -n 1)
[ -f "$model" ] || fail "prepare-model's last line is not a model file: '$model'"
echo "ok: $prepare_cmd → $model"

setsid bash -c "$worker_cmd" >"$log/worker.log" 2>&1 &
wpid=$!
for _ in $(seq 1 300); do grep -q 'polling for jobs' "$log/worker.log" && break; kill -0 "$wpid" || fail "the worker exited"; sleep 1; done
grep -q 'polling for jobs' "$log/worker.log" || fail "the worker did not start polling"
kill -- -"$wpid" 2>/dev/null || true
wait "$wpid" 2>/dev/null || true
echo "ok: $worker_cmd"
# The dev stack: everything up, both nodes answer, a login on node B; Ctrl-C stops it all and cleans up.
dev_cmd=$(cmd_of 'bash scripts/dev-stack.sh')
[ -n "$dev_cmd" ] || fail "the README no longer shows the dev stack command"
setsid bash -c "$dev_cmd" >"$log/dev.log" 2>&1 &
dpid=$!
serving=$dpid
for _ in $(seq 1 900); do grep -q 'dev stack ready' "$log/dev.log" && break; kill -0 "$dpid" 2>/dev/null || fail "the dev stack exited early"; sleep 1; done
grep -q 'dev stack ready' "$log/dev.log" || fail "the dev stack did not get ready"
node_a=$(awk '/node A/{print $3; exit}' "$log/dev.log"); node_b=$(awk '/node B/{print $3; exit}' "$log/dev.log")
dev_state=$(awk '/^  logs/{print $2; exit}' "$log/dev.log"); dev_state=${dev_state%/\*.log}
for u in "$node_a" "$node_b"; do curl -sf "${u}readyz" >/dev/null || fail "dev stack: $u is not ready"; done
curl -sf "${node_b}api/auth/login" -H 'content-type: application/json' \
  -d '{"email":"teacher@demo.school","password":"'"$(awk '/password for every demo login/{print $NF; exit}' "$log/dev.log")"'"}' | grep -q '"token"' \
  || fail "dev stack: the demo teacher cannot sign in on node B"
grep -q 'S3 *http://127.0.0.1' "$log/dev.log" && grep -q 'LiveKit *ws://127.0.0.1' "$log/dev.log" || fail "dev stack: S3 or LiveKit missing"
kill -INT -- -"$dpid"
for _ in $(seq 1 60); do kill -0 "$dpid" 2>/dev/null || break; sleep 1; done
kill -0 "$dpid" 2>/dev/null && fail "the dev stack did not stop on Ctrl-C"
serving=
grep -q '^stopped' "$log/dev.log" || fail "the dev stack did not say it stopped"
[ -n "$dev_state" ] && [ ! -e "$dev_state" ] || fail "the dev stack left its state behind: $dev_state"
for u in "$node_a" "$node_b"; do curl -s -o /dev/null "${u}healthz" && fail "dev stack: $u still answers after Ctrl-C"; done
echo "ok: $dev_cmd"

rm -rf "$clone" "$log"
echo "README commands: all ran as written"
