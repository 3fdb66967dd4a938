#!/usr/bin/env bash
# Runs berth's whole test suite: unit tests of every crate and the end-to-end tests in
# crates/berth/tests/ (real containers, as root). This is THE test command (README, .ci/run).
#
#   sudo scripts/test.sh                      # everything
#   sudo scripts/test.sh --test containers    # extra args go to `cargo test`
#
# It builds the fixtures first (cached), and starts the reference dockerd when
# ../shared/tools/docker-oracle exists, for the docker-CLI comparison test.
# BERTH_E2E_CLI=docker runs the e2e tests against that dockerd with the docker CLI instead.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: the end-to-end tests run real containers: run as root (sudo $0)" >&2
  exit 1
fi

scripts/fixtures.sh --debian --redis

oracle="$repo/../shared/tools/docker-oracle"
if [ -x "$oracle" ]; then
  eval "$("$oracle" start)"
  export BERTH_E2E_ORACLE="$DOCKER_HOST"
fi

# Debug build: on 2 cores a release build (thin LTO) costs more than it saves in test time.
exec cargo test --workspace --no-fail-fast "$@"
