#!/usr/bin/env bash
# berth vs Docker, side by side in one run, on the same imported image.
#
#   sudo bench/run.sh                 # build berth (release), start both daemons, measure, print
#   BENCH_RUNS=50 sudo bench/run.sh   # more `run --rm` samples (default 30)
#   BERTH_BIN=/path/to/berth sudo bench/run.sh   # skip the build, use this binary
#   BENCH_SKIP_LOAD=1 ...             # skip the ~700 MB load/save figures
#   BENCH_ONLY=build sudo bench/run.sh   # only some groups (comma list of run,exec,many,load,build)
#
# Measures (see bench/bench.py): `run --rm IMAGE true` (mean, p50, p95), `exec CONTAINER true`
# in a running container (mean, p50, p95), 100 detached `sleep`
# containers started then removed (wall time of each phase), daemon idle RSS and shim RSS per
# container, `load` and `save` of a ~700 MB docker-archive, and `build` (no-op rebuild of a 10-step
# Dockerfile with a 1,000-file context, rebuild after changing one file, cold `--no-cache` build;
# Docker uses its classic builder, DOCKER_BUILDKIT=0). Prints a markdown table and writes it
# to bench/results/latest.md. Docker is the reference dockerd of ../shared/tools/docker-oracle;
# without it only berth's column is filled.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
[ "$(id -u)" -eq 0 ] || { echo "bench/run.sh: run as root" >&2; exit 1; }

scripts/fixtures.sh --debian

if [ -z "${BERTH_BIN:-}" ]; then
  cargo build --release -p berth
  BERTH_BIN="$repo/target/release/berth"
fi
export BERTH_BIN

oracle="$repo/../shared/tools/docker-oracle"
if [ -z "${BENCH_NO_DOCKER:-}" ] && [ -x "$oracle" ]; then
  # a freshly started dockerd, so that its idle RSS is comparable with berth's fresh daemon
  [ -n "${BENCH_KEEP_DOCKERD:-}" ] || "$oracle" stop
  eval "$("$oracle" start)"
  export BENCH_DOCKER_HOST="$DOCKER_HOST"
  unset DOCKER_HOST
fi

mkdir -p bench/results
exec python3 bench/bench.py
