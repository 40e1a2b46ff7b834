"""Where the test suite spends its time: per-file seconds from pytest's JUnit XML, slowest first.

    python3 -m pytest -q -p no:cacheprovider --junitxml=run.xml [-m "not slow"] [FILES]
    python3 scripts/suite_times.py run.xml [other.xml ...] [--top 15] [--json] [--write-seconds [PATH]]

Each file's figure is the sum of its tests' setup, call and teardown times
(what JUnit's ``time`` holds), so module and session fixtures count where they
are first built. Several XML files (runs of different subsets) are added up.
The figures in docs/benchmarks.md ("Test suite") were made this way; write the
load (``uptime``) beside them: on the 2 shared cores the same run takes 2-3x
longer at load 6 than at load 2.

--write-seconds (after a run of the whole suite) writes each file's seconds
to tests/file_seconds.json; the tests' conftest runs the files longest first
from it, so the two pytest-xdist workers finish close together.
"""

from __future__ import annotations

import argparse
import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SECONDS = REPO / "tests" / "file_seconds.json"


def per_file(paths: list[Path]) -> tuple[Counter, Counter, list[tuple[float, str]]]:
    seconds, counts, tests = Counter(), Counter(), []
    for path in paths:
        for case in ET.parse(path).getroot().iter("testcase"):
            name = case.get("classname", "").split(".")[-1] or "?"
            t = float(case.get("time") or 0)
            seconds[name] += t
            counts[name] += 1
            tests.append((t, f"{name}::{case.get('name')}"))
    return seconds, counts, sorted(tests, reverse=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Per-file test times from pytest --junitxml files, slowest first.")
    parser.add_argument("xml", nargs="+", type=Path, help="JUnit XML written by pytest --junitxml")
    parser.add_argument("--top", type=int, default=15, help="how many of the slowest tests to list (default: 15)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--write-seconds", nargs="?", const=DEFAULT_SECONDS, type=Path, metavar="PATH",
                        help=f"also write each file's seconds, which the tests' conftest runs longest first "
                             f"(default: {DEFAULT_SECONDS.relative_to(REPO)}); from a run of the whole suite")
    args = parser.parse_args(argv)
    seconds, counts, tests = per_file(args.xml)
    if args.write_seconds:
        args.write_seconds.write_text(json.dumps({k: round(v, 1) for k, v in seconds.most_common()}, indent=0) + "\n")
    if args.json:
        print(json.dumps({"files": {k: {"seconds": round(v, 1), "tests": counts[k]} for k, v in seconds.most_common()},
                          "total_seconds": round(sum(seconds.values()), 1), "tests": sum(counts.values()),
                          "slowest": [{"test": n, "seconds": round(t, 2)} for t, n in tests[: args.top]]}))
        return 0
    print("| file | tests | seconds |\n|---|---:|---:|")
    for name, s in seconds.most_common():
        print(f"| {name} | {counts[name]} | {s:.1f} |")
    print(f"| **total** | {sum(counts.values())} | {sum(seconds.values()):.1f} |\n")
    for t, name in tests[: args.top]:
        print(f"{t:8.2f} s  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
