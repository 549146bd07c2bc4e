#!/usr/bin/env bash
# Builds (once, cached outside the repo) the tools the deploy tests run: helm (pinned) and kubeschema; prints their paths.
# Needs a Go toolchain; exits 3 without one so callers can skip with that reason.
set -euo pipefail
HELM_VERSION=v4.3.2
CACHE="${PROMGATE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/promgate}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HELM="$CACHE/helm-$HELM_VERSION/helm"
KS_SRC="$ROOT/test/deploy/kubeschema"
KS_HASH="$(cat "$KS_SRC/go.mod" "$KS_SRC/go.sum" "$KS_SRC/main.go" | sha256sum | cut -c1-16)"
KUBESCHEMA="$CACHE/kubeschema-$KS_HASH/kubeschema"
if [ ! -x "$HELM" ] || [ ! -x "$KUBESCHEMA" ]; then
  command -v go >/dev/null || { echo "no Go toolchain: cannot build helm $HELM_VERSION and kubeschema" >&2; exit 3; }
fi
if [ ! -x "$HELM" ]; then
  echo "building helm $HELM_VERSION with $(go version) into $HELM (takes minutes once; cached)" >&2
  start=$SECONDS
  mkdir -p "$(dirname "$HELM")"
  GOBIN="$(dirname "$HELM")" GOFLAGS=-buildvcs=false go install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" >&2
  echo "helm built in $((SECONDS - start)) s" >&2
fi
if [ ! -x "$KUBESCHEMA" ]; then
  echo "building kubeschema into $KUBESCHEMA (cached)" >&2
  start=$SECONDS
  mkdir -p "$(dirname "$KUBESCHEMA")"
  (cd "$KS_SRC" && GOFLAGS=-buildvcs=false go build -o "$KUBESCHEMA" .) >&2
  echo "kubeschema built in $((SECONDS - start)) s" >&2
fi
echo "HELM=$HELM"
echo "KUBESCHEMA=$KUBESCHEMA"
