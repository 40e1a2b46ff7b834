#!/usr/bin/env python3
"""The lesson on several runtimes, side by side (issue 14: "accuracy on the lesson table unchanged to 0.002").

    python scripts/lesson_runtimes.py --weights W [--data-dir D] --work DIR [--runtimes tensorflow,auto]
        [--nice 15] [--table-only] [-- more lesson flags]

Each runtime's lesson runs as ``featcache lesson --runtime R`` in its own fresh
FEATCACHE_HOME (DIR/R/home: its caches; FEATCACHE_RUNTIME_DIR DIR/R/home/runtimes: its converted model) and --out
(DIR/R/out). A shared home would compare nothing: the runtime is not part of a
cache's identity, so the second run would reuse the first run's caches. A run
folder that already exists is refused, not deleted.

Prints the table (and writes DIR/lesson_runtimes.md and .json): every row's
test accuracy under each runtime, its difference from the first runtime's,
whether that is within --tolerance, the extraction seconds of the cache the
row reads in each run, and the largest feature difference between the runs'
caches. --table-only rebuilds the table from DIR's finished runs. Exits 1 when
a row differs by more than --tolerance or a run reused a cache (it did not
extract on the runtime it names).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def run_lesson(work: Path, runtime: str, args: argparse.Namespace) -> dict[str, Any]:
    """One ``featcache lesson --runtime R`` in DIR/R with its own FEATCACHE_HOME; its wall seconds and load."""
    folder = work / runtime
    if folder.exists():
        raise SystemExit(f"{folder} exists: each runtime's lesson needs a fresh folder; choose another --work or remove it")
    folder.mkdir(parents=True)
    # the conversion too is made fresh, in this run's home (not the user's cache folder, the default), and timed apart
    env = {**os.environ, "FEATCACHE_HOME": str(folder / "home"), "FEATCACHE_RUNTIME_DIR": str(folder / "home" / "runtimes"),
           "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    cmd = [sys.executable, "-m", "featcache", "lesson", "--weights", args.weights, "--out", str(folder / "out"),
           "--runtime", runtime, *(["--data-dir", args.data_dir] if args.data_dir else []), *args.lesson_args]
    if args.nice:
        cmd = ["nice", "-n", str(args.nice), *cmd]
    load_before, t0 = os.getloadavg(), time.perf_counter()
    with open(folder / "lesson.log", "w") as log:
        rc = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    run = {"runtime": runtime, "rc": rc, "wall_seconds": round(time.perf_counter() - t0, 1),
           "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()]}
    (folder / "run.json").write_text(json.dumps(run, indent=2) + "\n")
    if rc != 0:
        raise SystemExit(f"the lesson on {runtime} exited {rc}; see {folder / 'lesson.log'}")
    return run


def load_run(work: Path, runtime: str) -> dict[str, Any]:
    folder = work / runtime
    doc = json.loads((folder / "out" / "lesson.json").read_text())
    run = json.loads((folder / "run.json").read_text()) if (folder / "run.json").is_file() else {"runtime": runtime}
    return {**run, "doc": doc}


def row_extraction(doc: dict[str, Any], row: dict[str, Any]) -> dict[str, Any] | None:
    """The extraction record of the cache ``row`` reads: the views row's own, the lesson cache's, or None (raw pixels)."""
    if "extraction" in row:
        return row["extraction"]
    return doc.get("extraction") if str(row.get("input", "")).startswith("cached") else None


def max_feature_diff(a: str, b: str) -> float:
    """The largest |difference| between two caches of the same images, over every split, layer and view."""
    from featcache.store.cache import open_cache

    ca, cb = open_cache(a), open_cache(b)
    worst = 0.0
    for split in ca.split_names:
        if not np.array_equal(ca.labels(split), cb.labels(split)):
            raise SystemExit(f"{a} and {b} do not hold the same {split} images")
        for layer in ca.layers:
            worst = max(worst, float(np.abs(ca.view_features(split, layer) - cb.view_features(split, layer)).max()))
    return worst


def label(run: dict[str, Any]) -> str:
    used = (run["doc"].get("extraction") or {}).get("runtime")
    return run["runtime"] if used in (None, run["runtime"]) else f"{run['runtime']} ({used})"


def fmt_extract(rec: dict[str, Any] | None) -> str:
    if rec is None:
        return "-"
    return f"{rec['seconds']:.1f}" if rec["extracted_now"] else f"reused ({rec['runtime']})"


def compare(runs: list[dict[str, Any]], tolerance: float) -> tuple[list[dict[str, Any]], bool]:
    """One entry per lesson row: accuracy and extraction per run, the difference from the first run."""
    first = runs[0]["doc"]["rows"]
    if any(len(r["doc"]["rows"]) != len(first) for r in runs):
        raise SystemExit("the runs' tables have different rows; run them with the same lesson flags")
    table, ok = [], True
    for i, row in enumerate(first):
        accs = [r["doc"]["rows"][i]["test_accuracy"] for r in runs]
        diffs = [a - accs[0] for a in accs[1:]]
        within = all(abs(d) <= tolerance + 1e-12 for d in diffs)
        ok &= within
        table.append({"approach": [r["doc"]["rows"][i]["approach"] for r in runs], "test_accuracy": accs, "difference": diffs,
                      "within_tolerance": within,
                      "extraction": [row_extraction(r["doc"], r["doc"]["rows"][i]) for r in runs],
                      "training_seconds": [r["doc"]["rows"][i]["training_seconds"] for r in runs]})
    ok &= all(e is None or e["extracted_now"] for t in table for e in t["extraction"])
    return table, ok


def markdown(runs: list[dict[str, Any]], table: list[dict[str, Any]], tolerance: float) -> str:
    names = [label(r) for r in runs]
    head = (["Approach"] + [f"Accuracy, {n}" for n in names] + [f"Difference ({n})" for n in names[1:]]
            + [f"Within {tolerance}"] + [f"Extraction s, {n}" for n in names] + [f"Training s, {n}" for n in names])
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
    for t in table:
        approach = t["approach"][0] if len(set(t["approach"])) == 1 else " / ".join(t["approach"])
        cells = ([approach] + [f"{a:.4f}" for a in t["test_accuracy"]] + [f"{d:+.4f}" for d in t["difference"]]
                 + ["yes" if t["within_tolerance"] else "**no**"] + [fmt_extract(e) for e in t["extraction"]]
                 + [f"{s:.1f}" for s in t["training_seconds"]])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default="imagenet", help="as featcache lesson --weights")
    p.add_argument("--data-dir", help="as featcache lesson --data-dir")
    p.add_argument("--work", type=Path, required=True, help="folder of the runs: WORK/<runtime>/{home,out,lesson.log}")
    p.add_argument("--runtimes", default="tensorflow,auto", help="comma-separated, the first is the reference")
    p.add_argument("--nice", type=int, default=0, help="run each lesson under nice -n N (default 0: not)")
    p.add_argument("--tolerance", type=float, default=0.002, help="largest accepted accuracy difference (issue 14)")
    p.add_argument("--table-only", action="store_true", help="do not run; tabulate WORK's finished runs")
    p.add_argument("lesson_args", nargs="*", help="after --: more featcache lesson flags, the same for every run")
    args = p.parse_args()
    runtimes = [r for r in args.runtimes.split(",") if r]
    if not args.table_only:
        for rt in runtimes:
            print(f"lesson on {rt} ...", flush=True)
            print(json.dumps(run_lesson(args.work, rt, args)), flush=True)
    runs = [load_run(args.work, rt) for rt in runtimes]
    table, ok = compare(runs, args.tolerance)
    caches = {"lesson": [r["doc"]["cache"] for r in runs]}
    views = [next((row["views_cache"] for row in r["doc"]["rows"] if "views_cache" in row), None) for r in runs]
    if all(views) and len({Path(v).name for v in views}) == 1:  # the same layer was re-extracted in every run
        caches["views"] = views
    feature_diff = {k: [max_feature_diff(v[0], other) for other in v[1:]] for k, v in caches.items()}
    md = markdown(runs, table, args.tolerance)
    md += "\nLargest feature difference from the first runtime's caches: " + "; ".join(
        f"{k} cache {', '.join(f'{d:.2e}' for d in v)}" for k, v in feature_diff.items()) + "\n"
    md += "Runs: " + "; ".join(f"{label(r)}: {r.get('wall_seconds', '?')} s wall, load {r.get('load_before')} -> "
                               f"{r.get('load_after')}" for r in runs) + "\n"
    print(md)
    (args.work / "lesson_runtimes.md").write_text(md)
    (args.work / "lesson_runtimes.json").write_text(json.dumps(
        {"runs": [{k: v for k, v in r.items() if k != "doc"} | {"extraction": r["doc"].get("extraction")} for r in runs],
         "rows": table, "feature_max_abs_diff": feature_diff, "tolerance": args.tolerance, "all_within": ok}, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
