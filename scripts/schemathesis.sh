#!/usr/bin/env bash
# Schemathesis against /api/openapi.json on a freshly seeded demo server: generated requests to every
# operation (as the demo teacher), failing on any 5xx or any answer that does not match its documented
# status, content type or schema. Bounded (examples per operation, a time budget, a fixed seed) so it
# takes a few minutes. Usage: bash scripts/schemathesis.sh [EXAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/studio-target}
examples=${1:-${SCHEMATHESIS_EXAMPLES:-60}}

# Python 3.13 where the machine has one (this image's pyenv does, off PATH): CPython 3.11 before 3.11.8
# (Debian's, and pyenv's global here) has gh-106905, and Hypothesis's worker threads trip its false
# "AST constructor recursion depth mismatch" in nearly every run — the crash rerun below then cost
# about 150 s a CI run. Any python3 still works, with that rerun.
py=python3
for c in python3.13 "$HOME"/.pyenv/versions/3.13*/bin/python3.13; do
  if "$c" -c 'import sys; assert sys.version_info >= (3, 13)' 2>/dev/null; then py=$c; break; fi
done
venv=$HOME/.cache/studio-tools/schemathesis-4.32.5-py$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ ! -x "$venv/bin/st" ]; then
  "$py" -m venv "$venv"
  "$venv/bin/pip" install -q schemathesis==4.32.5
fi

cargo build -q -p cloud-api --bin cloud-api --locked
dir=$(mktemp -d /tmp/studio-st.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# STUDENT_WEB_DIR set: `demo` serves the app as built and does not rebuild it first (this run is the API's).
# Schemathesis writes far faster than a person: the per-user write limit is lifted for it.
STUDENT_WEB_DIR=student-web/media/dist DATA_DIR=$dir/data BIND_ADDR=127.0.0.1:$port RUST_LOG=warn WRITE_LIMIT_PER_MIN=10000000 \
  "$CARGO_TARGET_DIR/debug/cloud-api" demo >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
base=http://127.0.0.1:$port
for _ in $(seq 300); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.2; done
login() {
  curl -sf "$base/api/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"demo-password\"}" | python3 -c 'import sys,json; print(json.load(sys.stdin)["token"])'
}

# As the demo teacher (sessions, classroom, studio routes), then as the platform admin (tenants,
# users, roles, jobs) with fewer examples. Logging out would revoke the token a run uses.
status=0
for who in teacher@demo.school:$examples platform@demo.school:$(( (examples + 2) / 3 )); do
  email=${who%%:*}; n=${who##*:}
  echo "== schemathesis as $email, $n examples per operation"
  token=$(login "$email")
  out=$(mktemp)
  run() {
    local workers=${1:-2}
    set +e
    "$venv/bin/st" run "$base/api/openapi.json" \
      -H "Authorization: Bearer $token" \
      --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
      --phases examples,coverage,fuzzing --max-examples "$n" --seed 20261201 --no-shrink \
      --exclude-path /api/auth/logout --workers "$workers" --request-timeout 10 2>&1 | tee "$out"
    s=${PIPESTATUS[0]}
    set -e
  }
  run 2
  # Schemathesis's own crash (a "Runtime Error" inside Hypothesis, e.g. CPython 3.11's "AST
  # constructor recursion depth mismatch") says nothing about the API: that identity runs once more,
  # on one worker. A crash that repeats fails the run, and so does any real finding (a FAILURES
  # section) at once. The output says how many reruns there were.
  crashed() { [ "$s" != 0 ] && ! grep -q "FAILURES" "$out" && grep -q "^Runtime Error" "$out"; }
  reruns=0
  if crashed; then
    reruns=1
    echo "== schemathesis crashed inside itself (not a finding about the API); running $email again (1 worker)"
    run 1
    if crashed; then
      echo "== schemathesis crashed again on the rerun: failing (a crash that repeats is not chance)"
    fi
  fi
  echo "== schemathesis as $email: exit $s after $reruns rerun(s)"
  rm -f "$out"
  [ "$s" = 0 ] || status=$s
done
if [ "$status" != 0 ]; then
  echo "== server log (last 40 lines)"; tail -40 "$dir/server.log"
fi
exit "$status"
