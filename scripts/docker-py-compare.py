#!/usr/bin/env python3
"""Compares docker-py's junit results on berth and on dockerd (called by scripts/docker-py.sh).

usage: docker-py-compare.py BERTH.xml DOCKERD.xml FAIL_ON_DOCKERD.txt KNOWN_GAPS.txt

Exits 1 when a test that passed on dockerd did not pass on berth and is not a listed known gap.
Prints the figure `docker-py: N passed on berth / M passed on dockerd`.
"""
import sys
import xml.etree.ElementTree as ET


def outcomes(path):
    """Maps `file.py::Class::test` to passed|failed|skipped for one junit file."""
    result = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        module = case.get("classname", "")
        # classname is tests.integration.api_exec_test.ExecTest
        parts = module.split(".")
        cls = parts[-1]
        file = parts[-2] + ".py" if len(parts) >= 2 else ""
        key = f"{file}::{cls}::{case.get('name')}"
        tags = {child.tag for child in case}
        if "failure" in tags or "error" in tags:
            result[key] = "failed"
        elif "skipped" in tags:
            result[key] = "skipped"
        else:
            result[key] = "passed"
    return result


def listed(path):
    """Test ids of a list file (one per line, blank lines ignored)."""
    with open(path) as f:
        return {line.split()[0] for line in f if line.strip()}


def main():
    berth, dockerd = outcomes(sys.argv[1]), outcomes(sys.argv[2])
    fail_on_dockerd, gaps = listed(sys.argv[3]), listed(sys.argv[4])
    passed_b = {t for t, o in berth.items() if o == "passed"}
    passed_d = {t for t, o in dockerd.items() if o == "passed"}
    failed_d = {t for t, o in dockerd.items() if o == "failed"}

    # Tests listed in FAIL_ON_DOCKERD are not compared (some are client-side races that either
    # engine can lose); a run where dockerd passes one is reported below, not gated on.
    regressions = sorted(
        t for t in passed_d - passed_b if t not in gaps and t not in fail_on_dockerd
    )
    gaps_open = sorted(t for t in passed_d - passed_b if t in gaps)
    gaps_fixed = sorted(t for t in gaps if t in passed_b)
    unlisted_dockerd = sorted(failed_d - fail_on_dockerd)
    stale_dockerd = sorted(t for t in fail_on_dockerd if dockerd.get(t) == "passed")
    berth_only = sorted(passed_b - passed_d)

    def section(title, items):
        if items:
            print(f"\n{title} ({len(items)}):")
            for t in items:
                print(f"  {t}  [berth: {berth.get(t, 'absent')}, dockerd: {dockerd.get(t, 'absent')}]")

    section("known gaps (pass on dockerd, fail on berth; listed in KNOWN_GAPS)", gaps_open)
    section("known gaps that passed on berth this run (remove them from KNOWN_GAPS once they keep passing)", gaps_fixed)
    section("fail on dockerd but not listed in FAIL_ON_DOCKERD (add them, with the reason)", unlisted_dockerd)
    section("listed in FAIL_ON_DOCKERD but pass on dockerd now", stale_dockerd)
    section("pass on berth only", berth_only)
    section("REGRESSIONS: pass on dockerd, fail on berth", regressions)
    print(f"\ndocker-py: {len(passed_b)} passed on berth / {len(passed_d)} passed on dockerd")
    sys.exit(1 if regressions else 0)


if __name__ == "__main__":
    main()
