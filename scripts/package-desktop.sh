#!/usr/bin/env bash
# Build the studio's release app and its Debian package with tauri-cli (the npm package's prebuilt
# binary, pinned to 2, cached under ~/.cache/studio/tools: `cargo install tauri-cli` compiled it for
# ≈10 min on a cold machine), then check the package: it installs the binary and a desktop
# entry and depends on WebKitGTK. Prints the .deb's path last.
# `--debug` packages the debug build instead: the same package, made from the test run's debug
# artifacts — CI checks the packaging this way (the release build alone took 12 min of a cold run).
set -euo pipefail
profile=release tauri_flags=()
[ "${1:-}" = --debug ] && profile=debug tauri_flags=(--debug)
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/studio-target}
tools=${STUDIO_CACHE_DIR:-$HOME/.cache/studio}/tools
cli=$tools/tauri-cli/node_modules/.bin/tauri
"$cli" --version 2>/dev/null | grep -q '^tauri-cli 2\.' \
  || npm install --prefix "$tools/tauri-cli" --no-audit --no-fund --loglevel=error '@tauri-apps/cli@^2' >/dev/null
# The window embeds the web build; make sure it is there and current.
bash scripts/build-web.sh >/dev/null
rm -rf "$CARGO_TARGET_DIR/$profile/bundle/deb"
(cd studio-desktop && "$cli" build "${tauri_flags[@]}" --bundles deb --ci >&2)
deb=$(ls "$CARGO_TARGET_DIR/$profile"/bundle/deb/*.deb | head -n 1)
[ -f "$deb" ] || { echo "no .deb was built" >&2; exit 1; }
files=$(dpkg-deb --contents "$deb")
echo "$files" | grep -qE ' (\./)?usr/bin/studio-desktop$' || { echo "the .deb has no studio-desktop binary" >&2; exit 1; }
echo "$files" | grep -q '\.desktop$' || { echo "the .deb has no desktop entry" >&2; exit 1; }
dpkg-deb --field "$deb" Depends | grep -q 'libwebkit2gtk-4.1-0' || { echo "the .deb does not depend on WebKitGTK" >&2; exit 1; }
echo "$deb"
