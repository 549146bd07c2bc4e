#!/usr/bin/env bash
# Installs the Debian packages the end-to-end tests and the benchmark run for real, when they are missing, and builds the deploy tests' helm and the UI test's Prometheus 3.
set -euo pipefail
declare -A BIN=(
  [prometheus]=/usr/bin/prometheus
  [prometheus-alertmanager]=/usr/bin/prometheus-alertmanager
  [nginx-light]=/usr/sbin/nginx
  [redis-server]=/usr/bin/redis-server
  [chromium]=/usr/bin/chromium
  [wrk]=/usr/bin/wrk
  [openssl]=/usr/bin/openssl
  [victoria-metrics]=/usr/bin/victoria-metrics
)
missing=()
for pkg in "${!BIN[@]}"; do
  [ -x "${BIN[$pkg]}" ] || missing+=("$pkg")
done
# helm and kubeschema for the deploy tests: built once with Go (minutes) and cached outside the repo.
if command -v go >/dev/null; then bash "$(dirname "$0")/deploy-tools.sh" >/dev/null || echo "promgate tests: helm/kubeschema not built; the deploy tests will fail with the reason" >&2; fi
# Prometheus 3 with its web UI for test/e2e/prometheus-ui-v3 (Debian's 2.42 has the classic UI only): built once
# from its Go module and the UI's npm packages (a few minutes), cached outside the repo.
if command -v go >/dev/null; then bash "$(dirname "$0")/prometheus3.sh" >/dev/null || echo "promgate tests: Prometheus 3 not built; test/e2e/prometheus-ui-v3 will fail with the reason" >&2; fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "promgate tests: installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  # The Debian packages start their services; the tests start their own copies on free ports.
  for svc in prometheus prometheus-alertmanager nginx redis-server prometheus-node-exporter victoria-metrics; do
    (command -v systemctl >/dev/null && systemctl stop "$svc") >/dev/null 2>&1 || true
    (command -v service >/dev/null && service "$svc" stop) >/dev/null 2>&1 || true
  done
  exit 0
fi
echo "promgate tests need these Debian packages: ${missing[*]}" >&2
echo "Install them with:  sudo apt-get install -y ${missing[*]}" >&2
exit 1
