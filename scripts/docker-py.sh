#!/usr/bin/env bash
# The docker-py gate: runs docker-py's own integration suite against a berth daemon and against
# the reference dockerd, and fails when a test that passes on dockerd fails on berth.
#
#   sudo scripts/docker-py.sh                 # both runs, comparison, figure
#   sudo scripts/docker-py.sh -k exec         # extra pytest arguments go to both runs
#   BERTH_DPY_ONLY=berth scripts/docker-py.sh # one side only (no comparison); or =dockerd
#
# Where things come from (nothing is pulled from a registry):
#   * docker-py 7.0.0 and the pinned test requirements from PyPI into a cached venv
#     ($CACHE/docker-py-venv). 7.0.0 because it is the newest 7.x whose sdist still ships
#     `tests/` (the 7.1.0 and 7.2.0 sdists carry only the package); library and suite are the
#     same release.
#   * the suite: `pip download --no-deps --no-binary :all: docker==7.0.0` (the sdist), unpacked
#     into $CACHE/docker-py-7.0.0.
#   * the images the suite names (alpine:3.10 is its TEST_IMG; busybox, alpine, hello-world) are
#     all the busybox fixture ($CACHE/busybox.tar, scripts/fixtures.sh) imported under those names.
#
# Results: $OUT/{berth,dockerd}.xml (junit) and .log; the figure is printed at the end.
# Requires root, the fixtures (scripts/fixtures.sh) and a built `berth` (cargo build -p berth).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

CACHE=${BERTH_TEST_CACHE:-/var/cache/berth-test}
OUT=${BERTH_DPY_OUT:-/tmp/berth-docker-py}
BERTH=${BERTH_BIN:-$repo/target/debug/berth}
DPY_VERSION=7.0.0
VENV=$CACHE/docker-py-venv
SUITE=$CACHE/docker-py-$DPY_VERSION
# Per-test cap so one hang cannot stall CI (the suite's own marks are 5-10 s where it sets any).
TIMEOUT=${BERTH_DPY_TIMEOUT:-120}

# The venv's requirements: docker-py's own pins (requirements.txt, test-requirements.txt of
# 7.0.0) for what the integration suite imports.
REQUIREMENTS=(
  "docker==$DPY_VERSION" requests==2.31.0 urllib3==1.26.18 websocket-client==1.3.3
  paramiko==2.11.0 pytest==7.4.2 pytest-timeout==2.1.0 packaging==21.3
)

# ---- Excluded by file: out of berth's scope (no swarm mode, no plugins, no credential store).
EXCLUDED_FILES=(
  api_swarm_test.py      # swarm mode
  models_swarm_test.py   # swarm mode
  models_nodes_test.py   # swarm nodes
  api_service_test.py    # swarm services
  models_services_test.py # swarm services
  api_secret_test.py     # swarm secrets
  api_config_test.py     # swarm configs
  api_plugin_test.py     # managed plugins (installs vieux/sshfs from Docker Hub)
  credentials            # credential helpers (needs docker-credential-* binaries)
)
# ---- Excluded by test (deselected on both engines):
EXCLUDED_TESTS=(
  # They turn the engine into a swarm manager (and would make the shared reference dockerd one).
  api_network_test.py::TestNetworks::test_create_network_attachable   # init_swarm + overlay
  api_network_test.py::TestNetworks::test_create_network_ingress      # init_swarm + ingress
  api_network_test.py::TestNetworks::test_create_inspect_network_with_scope # init_swarm + overlay
  # They pull from Docker Hub: no registry is reachable here, so they fail on dockerd too (with
  # a registry lookup error); deselected so that no run tries to reach the internet.
  api_image_test.py::PullImageTest::test_pull
  api_image_test.py::PullImageTest::test_pull_streaming
  api_image_test.py::ImportImageTest::test_get_load_image             # pulls hello-world first
  api_image_test.py::PruneImagesTest::test_prune_images               # pulls hello-world first
  api_image_test.py::InspectDistributionTest::test_inspect_distribution # asks Docker Hub
  models_images_test.py::ImageCollectionTest::test_list               # pulls alpine:latest
  models_images_test.py::ImageCollectionTest::test_list_with_repository # pulls alpine:latest
  models_images_test.py::ImageCollectionTest::test_pull
  models_images_test.py::ImageCollectionTest::test_pull_multiple
  models_images_test.py::ImageCollectionTest::test_pull_with_sha
  models_images_test.py::ImageCollectionTest::test_pull_with_tag
  models_images_test.py::ImageTest::test_tag_and_remove               # pulls alpine:latest
  models_containers_test.py::ContainerCollectionTest::test_run_with_image_that_does_not_exist # run pulls the missing image
  # It counts every container of the engine before and after creating one: the reference
  # dockerd is shared with other test runs, so its count moves under the test.
  api_container_test.py::ListContainersTest::test_list_containers
)
# No pull test passes on dockerd only thanks to a local image: the suite's one pull of a local
# image (conftest's TEST_IMG) is skipped because the image is there.

# ---- Tests that fail on the reference dockerd here, and why (not compared; the script reports
# any dockerd failure missing from this list, and any listed test that passes on dockerd).
FAIL_ON_DOCKERD=(
  api_container_test.py::AttachContainerTest::test_attach_no_stream   # docker-py reads the raw socket under http.client's buffer: output sent with the headers is lost (a race either engine can lose; dockerd usually does)
  api_container_test.py::AttachContainerTest::test_run_container_reading_socket_ws # websocket-client rejects docker-py's http+docker:// URL (client side, both engines)
  api_exec_test.py::ExecTest::test_exec_command_as_user               # the suite's alpine has a postgres user; ours is the busybox fixture (both engines)
  api_exec_test.py::ExecTest::test_exec_command_with_workdir          # /var/opt exists in alpine, not in the busybox fixture (both engines)
  api_container_test.py::VolumeBindTest::test_create_with_binds_rw_rshared # dockerd: rshared needs the host path on a shared mount (passes on berth)
)

# ---- Tests that pass on dockerd and still fail on berth: known gaps, each with its reason.
# The gate tolerates exactly these (and reports them); anything else that passes on dockerd
# must pass on berth. Remove a line when the gap is fixed (the script says when one passes).
KNOWN_GAPS=(
  api_network_test.py::TestNetworks::test_create_network_ipv6_enabled  # berth's networks are IPv4 only
  api_network_test.py::TestNetworks::test_create_with_ipv6_address     # berth's networks are IPv4 only
  api_network_test.py::TestNetworks::test_connect_with_ipv6_address    # berth's networks are IPv4 only
  api_network_test.py::TestNetworks::test_create_with_links            # links on a user network: the embedded DNS does not answer link aliases
  api_network_test.py::TestNetworks::test_connect_with_links           # links on a user network: the embedded DNS does not answer link aliases
  # Racy in the test itself: it reads `logs` right after `start`, without `wait`; dockerd is
  # slow enough to win the race, berth sometimes is not.
  api_build_test.py::BuildTest::test_build_in_context_abs_dockerfile
  api_build_test.py::BuildTest::test_build_in_context_nested_dockerfile
  api_build_test.py::BuildTest::test_build_out_of_context_dockerfile
)

if [ "$(id -u)" -ne 0 ]; then
  echo "docker-py.sh: run as root (sudo $0)" >&2
  exit 1
fi
[ -s "$CACHE/busybox.tar" ] || { echo "docker-py.sh: $CACHE/busybox.tar missing: run scripts/fixtures.sh" >&2; exit 1; }
mkdir -p "$OUT"

# ---- The venv and the suite (cached; rebuilt when the pins change).
stamp="${REQUIREMENTS[*]}"
if [ ! -x "$VENV/bin/pytest" ] || [ "$(cat "$VENV/.berth-stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "docker-py.sh: creating $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${REQUIREMENTS[@]}"
  echo "$stamp" >"$VENV/.berth-stamp"
fi
if [ ! -d "$SUITE/tests/integration" ]; then
  echo "docker-py.sh: fetching the docker-py $DPY_VERSION sdist"
  tmp=$(mktemp -d)
  "$VENV/bin/pip" download -q --disable-pip-version-check --no-deps --no-binary :all: \
    "docker==$DPY_VERSION" -d "$tmp"
  tar -xzf "$tmp/docker-$DPY_VERSION.tar.gz" -C "$tmp"
  [ -d "$tmp/docker-$DPY_VERSION/tests/integration" ] || {
    echo "docker-py.sh: the docker $DPY_VERSION sdist has no tests/integration" >&2; exit 1; }
  rm -rf "$SUITE"
  mv "$tmp/docker-$DPY_VERSION" "$SUITE"
  rm -rf "$tmp"
fi

# ---- Images the suite uses, all made from the busybox fixture.
IMAGES=(alpine:3.10 alpine:latest busybox:latest hello-world:latest)
seed_images() { # $1: a docker-compatible CLI already pointed at the engine
  local cli=$1 first=${IMAGES[0]}
  # shellcheck disable=SC2086
  $cli import --change 'CMD ["/bin/sh"]' "$CACHE/busybox.tar" "$first" >/dev/null
  for img in "${IMAGES[@]:1}"; do
    # shellcheck disable=SC2086
    $cli tag "$first" "$img"
  done
}

run_suite() { # $1: label (berth|dockerd); DOCKER_HOST set; extra args: pytest arguments
  local label=$1; shift
  local args=(-p no:cacheprovider -q -rA --timeout "$TIMEOUT" --junitxml "$OUT/$label.xml")
  for f in "${EXCLUDED_FILES[@]}"; do args+=(--ignore "tests/integration/$f"); done
  for t in "${EXCLUDED_TESTS[@]}"; do args+=(--deselect "tests/integration/$t"); done
  # A fresh client configuration per run: the context tests write (and, when they fail, leave)
  # contexts beside the config file, or in the working directory when there is none.
  local cfg="$OUT/$label-docker-config"
  rm -rf "$cfg" "$SUITE/contexts"
  mkdir -p "$cfg"
  echo '{}' >"$cfg/config.json"
  echo "docker-py.sh: running the suite against $label ($DOCKER_HOST), log in $OUT/$label.log"
  (cd "$SUITE" && DOCKER_CONFIG="$cfg" "$VENV/bin/pytest" "${args[@]}" "$@" tests/integration) \
    >"$OUT/$label.log" 2>&1 || true
  tail -n 1 "$OUT/$label.log"
}

only=${BERTH_DPY_ONLY:-}

# ---- (a) berth: a private daemon with its own data root, exec root and socket.
if [ "$only" != dockerd ]; then
  [ -x "$BERTH" ] || { echo "docker-py.sh: $BERTH missing: cargo build -p berth" >&2; exit 1; }
  dir=$(mktemp -d /tmp/berth-dpy.XXXXXX)
  sock=$dir/berth.sock
  "$BERTH" daemon --data-root "$dir/data" --exec-root "$dir/exec" -H "unix://$sock" \
    >"$OUT/berth-daemon.log" 2>&1 </dev/null &
  daemon_pid=$!
  cleanup() {
    "$BERTH" -H "unix://$sock" ps -aq 2>/dev/null | xargs -r "$BERTH" -H "unix://$sock" rm -f >/dev/null 2>&1 || true
    kill "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
    rm -rf "$dir" 2>/dev/null || true
  }
  trap cleanup EXIT
  for _ in $(seq 1 100); do
    [ -S "$sock" ] && "$BERTH" -H "unix://$sock" version >/dev/null 2>&1 && break
    kill -0 "$daemon_pid" 2>/dev/null || { echo "docker-py.sh: berth daemon died; see $OUT/berth-daemon.log" >&2; exit 1; }
    sleep 0.2
  done
  export DOCKER_HOST="unix://$sock"
  seed_images "$BERTH -H unix://$sock"
  run_suite berth "$@"
  cleanup
  trap - EXIT
fi

# ---- (b) the reference dockerd (shared; its own socket and data root).
if [ "$only" != berth ]; then
  eval "$("$repo/../shared/tools/docker-oracle" start)"
  seed_images docker
  run_suite dockerd "$@"
fi

[ -z "$only" ] || exit 0

# ---- Comparison.
printf '%s\n' "${FAIL_ON_DOCKERD[@]}" >"$OUT/fail-on-dockerd.txt"
printf '%s\n' "${KNOWN_GAPS[@]}" >"$OUT/known-gaps.txt"
exec python3 "$repo/scripts/docker-py-compare.py" "$OUT/berth.xml" "$OUT/dockerd.xml" \
  "$OUT/fail-on-dockerd.txt" "$OUT/known-gaps.txt"
