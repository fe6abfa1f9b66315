#!/usr/bin/env bash
# The deployment checkers, pinned, built once from the Go module proxy and cached under
# ~/.cache/studio-tools: helm (lint, template), kubeconform (-strict), and Kubernetes JSON schemas made
# from the API's own OpenAPI document (the k8s.io/kubernetes module; scripts/k8s-schemas.py).
# promtool and systemd-analyze come from Debian (scripts/install-deps.sh). Prints the tools' directory.
set -euo pipefail
HELM_VERSION=v3.16.4
KUBECONFORM_VERSION=v0.6.7
K8S_VERSION=v1.31.0
tools=${STUDIO_TOOLS:-$HOME/.cache/studio-tools}
mkdir -p "$tools/bin"
export PATH=$PATH:/usr/local/go/bin GOPATH=${GOPATH:-$HOME/.cache/go} GOBIN=$tools/bin GOFLAGS=-buildvcs=false
build() { # name, module path, version
  local stamp="$tools/bin/.$1-$3"
  [ -x "$tools/bin/$1" ] && [ -e "$stamp" ] && return 0
  command -v go >/dev/null || { echo "Go is needed to build $1 (https://go.dev/dl, or /usr/local/go)" >&2; exit 1; }
  echo "building $1 $3 (once; cached in $tools/bin)" >&2
  go install "$2@$3" >&2
  touch "$stamp"
}
build kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
build helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
schemas="$tools/k8s-schemas/$K8S_VERSION"
if [ ! -e "$schemas/deployment-apps-v1.json" ]; then
  echo "making Kubernetes $K8S_VERSION schemas (once)" >&2
  work=$(mktemp -d)
  curl -fsSL -o "$work/k8s.zip" "https://proxy.golang.org/k8s.io/kubernetes/@v/$K8S_VERSION.zip"
  unzip -q -j "$work/k8s.zip" "k8s.io/kubernetes@$K8S_VERSION/api/openapi-spec/swagger.json" -d "$work"
  python3 "$(dirname "$0")/k8s-schemas.py" "$work/swagger.json" "$schemas.tmp" >&2
  rm -rf "$schemas" && mv "$schemas.tmp" "$schemas"
  rm -rf "$work"
fi
echo "$tools"
