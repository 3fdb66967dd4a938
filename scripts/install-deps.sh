#!/usr/bin/env bash
# Installs what berth's build, tests, quick start and benchmarks need on Debian bookworm.
# Idempotent and quiet: packages already present are not downloaded again.
# The Rust toolchain (cargo, rustc >= 1.85) is assumed to be installed already.
set -euo pipefail

PACKAGES=(
  libseccomp-dev pkg-config      # libcontainer's seccomp support (build)
  busybox-static                 # the busybox test image (scripts/fixtures.sh)
  mmdebstrap                     # the Debian test/quick-start image
  docker.io iptables             # the reference dockerd (../shared/tools/docker-oracle) and the docker CLI
  tmux hyperfine jq python3 ca-certificates curl
  python3-docker                 # docker-py, the Python client the healthcheck tests drive
  tini                           # its static init (/usr/bin/tini-static) is `run --init`'s /sbin/docker-init
  docker-registry skopeo apache2-utils openssl  # registries of the registry e2e tests, seeding, htpasswd, test certificates
  docker-compose                 # Compose v1.29, the book's client, for compatibility tests
  python3-venv                   # the docker-py gate's venv (scripts/docker-py.sh)
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: run as root (sudo $0)" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps.sh: all packages present"
  exit 0
fi

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps.sh: done"
