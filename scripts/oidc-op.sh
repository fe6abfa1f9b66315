#!/usr/bin/env bash
# A real OpenID provider for the single sign-on tests: tests/oidc-op, a small main around the example
# provider of zitadel/oidc v3 (an OpenID-certified Go library) that listens on loopback only, takes
# the relying party's client and redirect URIs from the environment and can rotate its signing key.
#   build  — build it (pinned by tests/oidc-op/go.mod) into ~/.cache/studio/oidc-op (cached)
#   start  — start it (env CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, USERS_FILE), wait until its
#            discovery answers, print OIDC_ISSUER=…
#   stop   — stop it
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/tests/oidc-op"
# The binary is named after what it is built from, so a change to the program builds it again.
sum=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-12)
cache=${STUDIO_CACHE_DIR:-$HOME/.cache/studio}/oidc-op
bin="$cache/oidc-op-$sum"
state=${OIDC_TEST_DIR:-${TMPDIR:-/tmp}/studio-oidc-op}
cmd=${1:-start}

build() {
  [ -x "$bin" ] && return 0
  command -v go >/dev/null || { echo "Go is required to build the test OpenID provider" >&2; exit 1; }
  mkdir -p "$cache"
  echo "building the test OpenID provider (a minute the first time) …" >&2
  (cd "$src" && GOFLAGS=-buildvcs=false go build -trimpath -o "$bin.tmp" .)
  mv "$bin.tmp" "$bin"
}

case "$cmd" in
  build) build; echo "$bin" ;;
  start)
    build
    mkdir -p "$state"
    # The background job opens its redirections after the fork, in its own time: made here first, so
    # the loop below never reads a file that is not there yet (it did, on a loaded machine).
    : >"$state/out"
    : >"$state/server.log"
    "$bin" >"$state/out" 2>"$state/server.log" &
    pid=$!
    echo $pid >"$state/pid"
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      issuer=$(sed -n 's/^OIDC_ISSUER=//p' "$state/out")
      if [ -n "$issuer" ] && curl -sf -o /dev/null "${issuer}.well-known/openid-configuration"; then
        echo "OIDC_ISSUER=$issuer"
        exit 0
      fi
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    echo "the test OpenID provider did not start; log follows" >&2; tail -30 "$state/server.log" >&2
    exit 1
    ;;
  stop)
    [ -f "$state/pid" ] && kill "$(cat "$state/pid")" 2>/dev/null || true
    rm -rf "$state"
    ;;
  *) echo "usage: $0 build | start | stop" >&2; exit 2 ;;
esac
