#!/usr/bin/env bash
# Build the browser pieces into student-web/media/dist (served by cloud-api at /media):
# the livekit-client bundle (esbuild), the pages, and the yew app (wasm32 + wasm-bindgen). Served by
# cloud-api at /app/ (the app) and /media. `cloud-api demo` runs this when the build is missing or stale.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/studio-target}
tools=${STUDIO_CACHE_DIR:-$HOME/.cache/studio}/tools
wbg_version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' Cargo.lock)
if ! command -v npm >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
if ! "$tools/bin/wasm-bindgen" --version 2>/dev/null | grep -q "$wbg_version"; then
  # Without --locked: a dependency pinned in its lock file is missing from the registry (ENVIRONMENT.md).
  cargo install wasm-bindgen-cli --version "$wbg_version" --root "$tools" --quiet
fi
(cd student-web/media && { { [ -d node_modules/livekit-client ] && [ -d node_modules/axe-core ]; } || npm ci --no-audit --no-fund --loglevel=error; } && npm run --silent build >/dev/null)
cargo build --quiet -p student-web --target wasm32-unknown-unknown --profile wasm-release
"$tools/bin/wasm-bindgen" --target web --no-typescript --out-dir student-web/media/dist/pkg \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/student_web.wasm"
echo "student-web/media/dist ready"
