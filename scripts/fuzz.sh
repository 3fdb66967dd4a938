#!/usr/bin/env bash
# Runs berth's fuzz targets (crates/fuzz) for a fixed time each and reports
# executions and findings per target. Not run in CI (too slow).
#
#   scripts/fuzz.sh                       every target, 60 s each
#   scripts/fuzz.sh layer_tar load --secs 180
#   scripts/fuzz.sh --jobs 2              two targets at a time
#   scripts/fuzz.sh --list                the target names
#   scripts/fuzz.sh --no-build            use the berth-fuzz binary already built
#
# Inputs that panic, crash (abort, out of memory under a 2 GiB cap) or hang
# (no progress for 10 s) are saved under crates/fuzz/findings/<target>/ with
# a NOTES.txt line each; `cargo test -p berth-fuzz` replays them (and the
# corpora in crates/fuzz/corpus/<target>/) until they are fixed and moved
# into the corpus. As root, the workers run in a private mount namespace with
# a read-only `/` (scratch on /dev/shm), so an extraction bug cannot write to
# the host.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
secs=60
jobs=1
build=1
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --secs) secs=${2:?--secs needs a value}; shift 2 ;;
        --jobs) jobs=${2:?--jobs needs a value}; shift 2 ;;
        --list) targets=(--list); shift ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done

cd "$here"
all=$(sed -n 's/^    ("\([a-z_]*\)", targets::.*/\1/p' crates/fuzz/src/lib.rs)
if [ "${targets[0]:-}" = --list ]; then echo "$all"; exit 0; fi
[ ${#targets[@]} -gt 0 ] || mapfile -t targets <<<"$all"

[ "$build" = 0 ] || cargo build -q -p berth-fuzz --profile fuzz --bin berth-fuzz
bin=${CARGO_TARGET_DIR:-$here/target}/fuzz/berth-fuzz
sandbox=()
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then sandbox=(--sandbox); fi

logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT
running=0
for t in "${targets[@]}"; do
    "$bin" run "$t" --secs "$secs" --corpus "crates/fuzz/corpus/$t" \
        --findings "crates/fuzz/findings/$t" "${sandbox[@]}" >"$logdir/$t.out" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true
echo "--- summary (${secs}s per target)"
for t in "${targets[@]}"; do cat "$logdir/$t.out" 2>/dev/null || echo "$t: no result"; done
