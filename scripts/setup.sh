#!/usr/bin/env bash
# Install everything salespulse needs on a fresh machine, idempotently:
#   python  - the virtualenv .venv with the package and its dev tools
#   kafka   - the Apache Kafka broker jars, fetched once with Maven into ~/.cache
#   alerting- Prometheus, promtool and Alertmanager from Debian (tests only)
# Usage: scripts/setup.sh [python] [kafka] [alerting]   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(python kafka alerting)

say() { printf 'setup: %s\n' "$*" >&2; }

setup_python() {
  if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $($PY --version)"
    "$PY" -m venv .venv
  fi
  if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
    say "installing salespulse and its dev tools into .venv (pip)"
    .venv/bin/pip install --quiet --upgrade pip
    .venv/bin/pip install --quiet -e '.[dev]'
    touch .venv/.installed
  fi
}

setup_kafka() {
  command -v java >/dev/null || { say "java not found: install OpenJDK 17 (apt-get install openjdk-17-jre-headless)"; exit 1; }
  command -v mvn >/dev/null || { say "mvn not found: install Maven (apt-get install maven)"; exit 1; }
  .venv/bin/python -m streams.dev fetch >/dev/null
}

setup_alerting() {
  if command -v promtool >/dev/null && command -v prometheus >/dev/null \
     && command -v prometheus-alertmanager >/dev/null; then
    return
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing prometheus and prometheus-alertmanager from Debian (apt-get)"
  # The packages would start system services on public ports: tests start their own.
  local policy=/usr/sbin/policy-rc.d created=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod +x "$policy"
    created=1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    prometheus prometheus-alertmanager >/dev/null
  [ -n "$created" ] && $sudo rm -f "$policy"
  command -v promtool >/dev/null || { say "promtool still missing after apt-get"; exit 1; }
}

for part in "${parts[@]}"; do
  case "$part" in
    python) setup_python ;;
    kafka) setup_python; setup_kafka ;;
    alerting) setup_alerting ;;
    *) say "unknown part '$part': use python, kafka or alerting"; exit 2 ;;
  esac
done
