#!/usr/bin/env bash
# Builds (once, cached outside the repo) a Prometheus 3 with its web UI (the React/Mantine pages /query, /graph,
# /alerts, …), for the end-to-end test of that UI under a cluster path; prints PROMETHEUS3=<path>.
# Debian's prometheus is 2.42, built without the React UI, and release binaries cannot be downloaded here, so this
# takes the pinned Go module from the Go module proxy, builds its UI from the npm registry with the project's own
# lockfile (pnpm, as Prometheus's Makefile does), compresses the assets as scripts/compress_assets.sh does and
# compiles with the `builtinassets` tag. Needs Go and Node; exits 3 without Go so callers can skip with that reason.
set -euo pipefail
PROMETHEUS_MODULE_VERSION=v0.316.0
PROMETHEUS_VERSION=3.16.0 # what that module version releases as
PNPM_VERSION=10.34.9
MANTINE_VERSION=9.8.1
CACHE="${PROMGATE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/promgate}"
BIN="$CACHE/prometheus-$PROMETHEUS_MODULE_VERSION/prometheus"
if [ -x "$BIN" ]; then
  echo "PROMETHEUS3=$BIN"
  exit 0
fi
command -v go >/dev/null || { echo "no Go toolchain: cannot build Prometheus $PROMETHEUS_MODULE_VERSION" >&2; exit 3; }
echo "building Prometheus $PROMETHEUS_MODULE_VERSION with its UI into $BIN (takes minutes once; cached)" >&2
start=$SECONDS
work="$(mktemp -d "${TMPDIR:-/tmp}/promgate-prometheus3.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
src="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/prometheus/prometheus@$PROMETHEUS_MODULE_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -d "$src" ] || { echo "go mod download gave no source directory for prometheus@$PROMETHEUS_MODULE_VERSION" >&2; exit 1; }
cp -r "$src" "$work/prometheus"
chmod -R u+w "$work/prometheus"
cd "$work/prometheus/web/ui"
pnpm=(npx --yes "pnpm@$PNPM_VERSION")
# The lockfile's @mantine/* 9.7.2 is not on every npm registry mirror (this machine's has 9.8.1, which its
# ^9.7.2 ranges also accept): every @mantine package is pinned to one version that is, so the set stays coherent.
node -e '
  const fs = require("fs");
  const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
  const names = ["code-highlight", "core", "dates", "hooks", "notifications", "store"];
  pkg.pnpm = { ...pkg.pnpm, overrides: Object.fromEntries(names.map((n) => ["@mantine/" + n, process.argv[1]])) };
  fs.writeFileSync("package.json", JSON.stringify(pkg, null, 2));
' "$MANTINE_VERSION"
"${pnpm[@]}" install --no-frozen-lockfile --store-dir "$CACHE/pnpm-store" >&2
# As build_ui.sh --mantine-ui does, without its `tsc` type check (Mantine 9.8's types are stricter than the
# 9.7 the UI was written against; vite's build does not type-check, and the bundle is the same code).
CI="" "${pnpm[@]}" run build:module >&2
(cd mantine-ui && CI="" "${pnpm[@]}" exec vite build >&2)
mkdir -p static
rm -rf static/mantine-ui
mv mantine-ui/dist static/mantine-ui
cd "$work/prometheus"
bash scripts/compress_assets.sh >&2
mkdir -p "$(dirname "$BIN")"
GOWORK=off GOFLAGS=-buildvcs=false go build -tags builtinassets \
  -ldflags "-X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION -X github.com/prometheus/common/version.Revision=module-$PROMETHEUS_MODULE_VERSION -X github.com/prometheus/common/version.BuildUser=promgate-tests" \
  -o "$BIN.tmp" ./cmd/prometheus >&2
mv "$BIN.tmp" "$BIN"
echo "Prometheus $PROMETHEUS_MODULE_VERSION built in $((SECONDS - start)) s" >&2
echo "PROMETHEUS3=$BIN"
