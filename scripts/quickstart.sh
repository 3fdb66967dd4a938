#!/usr/bin/env bash
# One command from a fresh Debian (bookworm) machine to berth running containers:
#   sudo ./scripts/quickstart.sh
# 1. installs the system packages (scripts/install-deps.sh; the Rust toolchain is assumed),
# 2. builds berth in release mode and installs it as /usr/local/bin/berth,
# 3. makes a Debian bookworm image locally with mmdebstrap (no registry needed) and imports it
#    as debian:bookworm,
# 4. runs a container in the foreground and one detached, and shows `berth ps` and `berth logs`.
# The daemon starts by itself on first use (socket /run/berth/berth.sock, log /var/log/berth/daemon.log).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "quickstart.sh: run as root: sudo $0" >&2
  exit 1
fi
command -v cargo >/dev/null || { echo "quickstart.sh: cargo not found: install Rust first (https://rustup.rs)" >&2; exit 1; }

scripts/install-deps.sh

say "cargo build --release"
cargo build --release -p berth
install -m 0755 target/release/berth /usr/local/bin/berth

say "mmdebstrap --variant=minbase bookworm (cached in /var/cache/berth-test)"
scripts/fixtures.sh --debian
CACHE=${BERTH_TEST_CACHE:-/var/cache/berth-test}

say "berth import $CACHE/debian-bookworm.tar debian:bookworm"
berth import "$CACHE/debian-bookworm.tar" debian:bookworm

say "berth run --rm debian:bookworm cat /etc/os-release"
berth run --rm debian:bookworm cat /etc/os-release

berth rm -f hello >/dev/null 2>&1 || true
say "berth run -d --name hello debian:bookworm sh -c 'while true; do date; sleep 1; done'"
berth run -d --name hello debian:bookworm sh -c 'while true; do date; sleep 1; done'
sleep 2

say "berth ps"
berth ps

say "berth logs hello"
berth logs hello

cat <<'MSG'

berth is installed and running. Next:
  berth logs -f hello           # follow the log (Ctrl-C to stop following)
  berth stop hello && berth rm hello
  DOCKER_HOST=unix:///run/berth/berth.sock docker ps    # the docker CLI works too
MSG
