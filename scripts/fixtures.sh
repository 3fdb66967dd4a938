#!/usr/bin/env bash
# Builds (once) and caches the test images berth's tests, quick start and benchmarks use.
# Nothing is pulled from a registry: busybox comes from Debian's busybox-static, Debian from mmdebstrap.
#
#   scripts/fixtures.sh            busybox rootfs + hostile tarballs (fast; what the tests need)
#   scripts/fixtures.sh --debian   also the Debian bookworm rootfs (about 20 s, needs the Debian mirror)
#   scripts/fixtures.sh --redis    also Debian bookworm with redis-server (volume persistence tests)
#
# Outputs, under ${BERTH_TEST_CACHE:-/var/cache/berth-test}:
#   busybox.tar             deterministic busybox rootfs (root + user jovyan 1000)
#   busybox-oci.tar         the same as an OCI image layout (for `load`)
#   debian-bookworm.tar     mmdebstrap --variant=minbase bookworm
#   debian-redis.tar        the same with redis-server (and redis-cli)
#   hostile/*.tar           hostile tarballs (.. paths, absolute paths, escaping symlinks and
#                           hardlinks, device nodes, huge pax header, truncated, garbage, docker-archives)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CACHE=${BERTH_TEST_CACHE:-/var/cache/berth-test}
want_debian=0
want_redis=0
for a in "$@"; do
  case "$a" in
    --debian) want_debian=1 ;;
    --redis) want_redis=1 ;;
    *) echo "usage: $0 [--debian] [--redis]" >&2; exit 2 ;;
  esac
done

mkdir -p "$CACHE"

# busybox: rebuilt if missing or if the busybox binary changed (the stamp holds its sha256).
bb=/bin/busybox
[ -x "$bb" ] || { echo "fixtures.sh: $bb missing: apt-get install busybox-static (scripts/install-deps.sh)" >&2; exit 1; }
if ! file -L "$bb" 2>/dev/null | grep -q 'statically linked' && ! ldd "$bb" 2>&1 | grep -q 'not a dynamic'; then
  echo "fixtures.sh: $bb is not static: install busybox-static" >&2; exit 1
fi
stamp=$(sha256sum "$bb" "$here/fixtures.py" | sha256sum | cut -c1-64)
if [ ! -s "$CACHE/busybox.tar" ] || [ "$(cat "$CACHE/busybox.stamp" 2>/dev/null)" != "$stamp" ]; then
  python3 "$here/fixtures.py" busybox "$CACHE/busybox.tar" "$bb"
  echo "$stamp" > "$CACHE/busybox.stamp"
  echo "fixtures.sh: built $CACHE/busybox.tar"
fi
if [ ! -s "$CACHE/busybox-oci.tar" ] || [ "$CACHE/busybox.tar" -nt "$CACHE/busybox-oci.tar" ]; then
  python3 "$here/fixtures.py" oci "$CACHE/busybox.tar" "$CACHE/busybox-oci.tar"
  echo "fixtures.sh: built $CACHE/busybox-oci.tar"
fi

if [ ! -s "$CACHE/hostile/garbage.tar" ] || [ "$(cat "$CACHE/hostile.stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$CACHE/hostile"
  python3 "$here/fixtures.py" hostile "$CACHE/hostile"
  echo "$stamp" > "$CACHE/hostile.stamp"
  echo "fixtures.sh: built $CACHE/hostile/"
fi

# The Debian mirror the host's apt uses (deb822 .sources or one-line sources.list).
debian_mirror() {
  local m=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    m=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) {print $i; exit}}' "$f")
    [ -n "$m" ] && break
  done
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\/.*\/debian\/?$/) {print $i; exit}}' /etc/apt/sources.list)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

# mmdeb OUT DESC [EXTRA...]: a minbase bookworm rootfs tarball $CACHE/OUT built by mmdebstrap
# (EXTRA: more mmdebstrap options, e.g. --include=PKG); DESC names it in the progress line.
# Kept as is when OUT already exists.
mmdeb() {
  local out=$1 desc=$2 mirror
  shift 2
  [ -s "$CACHE/$out" ] && return 0
  command -v mmdebstrap >/dev/null || { echo "fixtures.sh: mmdebstrap missing (scripts/install-deps.sh)" >&2; exit 1; }
  mirror=$(debian_mirror)
  echo "fixtures.sh: mmdebstrap $desc from $mirror"
  rm -f "$CACHE/$out.tmp"
  mmdebstrap --quiet --variant=minbase "$@" --format=tar bookworm "$CACHE/$out.tmp" "$mirror"
  mv "$CACHE/$out.tmp" "$CACHE/$out"
  echo "fixtures.sh: built $CACHE/$out"
}

if [ "$want_debian" = 1 ]; then
  mmdeb debian-bookworm.tar "bookworm (about 20 s)"
fi
if [ "$want_redis" = 1 ]; then
  mmdeb debian-redis.tar "bookworm with redis-server" --include=redis-server
fi
echo "fixtures.sh: fixtures ready in $CACHE"
