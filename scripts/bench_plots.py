#!/usr/bin/env python3
"""Benchmark: how long each figure featcache draws takes to make and write, and how many times it is drawn.

Every case below is one PNG as featcache writes it (a learning curve, a probe, the lesson's bars, a confusion matrix),
from made-up rows of the shapes the commands produce. For each it reports the median seconds of ``--repeats`` writes
(figure built, laid out and saved; wall and this process's CPU, the steadier where others share the cores), how many times matplotlib drew the figure (``Figure.draw``: every
``draw_without_rendering`` the layout fitting makes, and savefig's) and how many times a layout engine ran. With
``--out DIR`` it keeps the PNGs, and ``--compare DIR1 DIR2`` says, case by case, whether two such folders hold the same
pixels (same size, every pixel equal), e.g. an older checkout's and this one's:

    PYTHONPATH=/tmp/old-clone python scripts/bench_plots.py --out /tmp/old-pngs
    PYTHONPATH=. python scripts/bench_plots.py --out /tmp/new-pngs
    python scripts/bench_plots.py --compare /tmp/old-pngs /tmp/new-pngs

``--cases`` picks some (comma-separated names, as the report lists them); ``--json`` prints the report as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np


def _curve_rows(heads: tuple[str, ...], sizes: tuple[int, ...], seeds: int, base: float) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    return [{"head": h, "size": n, "seed": s, "accuracy": min(0.99, base + 0.05 * np.log10(n) - 0.02 * i + rng.normal(0, 0.004))}
            for i, h in enumerate(heads) for n in sizes for s in range(seeds)]


def _probe_rows(layers: list[str], heads: tuple[str, ...], settings: list[tuple[str, str]] | None = None) -> list[Any]:
    from featcache.analysis.probe import ProbeRow

    settings = settings or [("orig", "orig")]
    return [ProbeRow(d, layer, 96, h, 0.03, 0.70 + 0.02 * d - 0.01 * k + 0.003 * j, "holdout", 0.1, tv, sv)
            for d, layer in enumerate(layers) for k, h in enumerate(heads) for j, (tv, sv) in enumerate(settings)]


def cases() -> dict[str, Callable[[Path], Any]]:
    """Each case: a function writing its PNG to the path it is given."""
    from featcache.analysis import plots

    sizes = (100, 250, 500, 1000, 2000, 4000)
    one = [plots.CurveSet("", _curve_rows(("logreg", "svm", "scratch"), sizes, 3, 0.62),
                          {"backbone": "mobilenet_v2", "image_size": 96, "layer": "out_relu", "test_size": 1000})]
    two = [plots.CurveSet(f"mobilenet_v2 {px}px out_relu", _curve_rows(("logreg", "svm"), sizes, 3, base), {"test_size": 1000})
           for px, base in ((96, 0.62), (160, 0.65))]
    layers = ["block_1_expand_relu", "block_3_expand_relu", "block_6_expand_relu", "block_10_expand_relu",
              "block_13_expand_relu", "block_15_expand_relu", "block_16_project", "out_relu"]
    probe_rows = _probe_rows(layers, ("logreg", "svm"))
    settings = [("orig", "orig"), ("orig", "orig,flip"), ("orig,flip", "orig"), ("orig,flip", "orig,flip")]
    one_layer = _probe_rows(["block_13_expand_relu"], ("logreg", "svm"), settings)
    lesson = [{"approach": a, "training_images": n, "test_accuracy": acc, "training_seconds": s}
              for a, n, acc, s in (("from-scratch CNN (2 epochs)", 4000, 0.8512, 41.0),
                                   ("transfer: logistic regression on out_relu", 4000, 0.8655, 3.2),
                                   ("transfer + views (probe-chosen): logreg on block_13_expand_relu, 4 views", 4000, 0.8930, 9.8),
                                   ("fine-tuned (1 epoch)", 4000, 0.8801, 120.0))]
    reported = {"the lesson's from-scratch CNN": 0.85, "the lesson's transfer": 0.87}

    def confusion(n: int) -> Callable[[Path], Any]:
        rng = np.random.default_rng(n)
        cm = rng.integers(0, 8, (n, n)) + np.diag(rng.integers(40, 90, n))
        return lambda p: plots.plot_confusion(cm, [f"class {i}" for i in range(n)], p, "evaluate: head.keras on cache.h5 (test)")

    long_title = "curve of mobilenet_v2 at 96px on block_13_expand_relu, 4 views, against the from-scratch baseline"
    return {
        "curve": lambda p: plots.plot_learning_curves(one, p, title="learning curve: mobilenet_v2 96px out_relu"),
        "curve_two_sets": lambda p: plots.plot_learning_curves(two, p, title="96px against 160px"),
        "curve_long_title": lambda p: plots.plot_learning_curves(one, p, title=long_title, figsize=(5.0, 4.0)),
        "curve_no_title": lambda p: plots.plot_learning_curves(one[:1], p),
        "probe": lambda p: plots.plot_probe(probe_rows, max(probe_rows, key=lambda r: r.accuracy), p, "probe of cache.h5",
                                            "mobilenet_v2"),
        "probe_one_layer": lambda p: plots.plot_probe(one_layer, max(one_layer, key=lambda r: r.accuracy), p,
                                                      "probe of views.h5: one layer, four view settings", "mobilenet_v2"),
        "lesson": lambda p: plots.plot_lesson(lesson, p, reported),
        "confusion_10": confusion(10),
        "confusion_60": confusion(60),
    }


def _counting() -> dict[str, int]:
    """Count ``Figure.draw`` calls and layout engine runs from now on (this process only)."""
    from matplotlib import layout_engine
    from matplotlib.figure import Figure

    counts = {"draws": 0, "layouts": 0}

    def counted(cls: type, name: str, key: str) -> None:
        real = getattr(cls, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            counts[key] += 1  # when done: savefig's search for a renderer starts a draw only to stop it at once
            return result

        setattr(cls, name, wrapper)

    counted(Figure, "draw", "draws")
    counted(layout_engine.ConstrainedLayoutEngine, "execute", "layouts")
    counted(layout_engine.TightLayoutEngine, "execute", "layouts")
    return counts


def measure(names: list[str], repeats: int, out: Path | None) -> list[dict[str, Any]]:
    every = cases()
    counts = _counting()
    report = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            path = (out or Path(scratch)) / f"{name}.png"
            every[name](path)  # unmeasured: imports and matplotlib's font cache
            seconds, cpu = [], []
            for _ in range(repeats):
                before = dict(counts)
                start, start_cpu = time.perf_counter(), time.process_time()
                every[name](path)
                seconds.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
            report.append({"case": name, "seconds": round(statistics.median(seconds), 4),
                           "cpu_seconds": round(statistics.median(cpu), 4),
                           "draws": counts["draws"] - before["draws"], "layouts": counts["layouts"] - before["layouts"],
                           "png_bytes": path.stat().st_size})
    return report


def compare(first: Path, second: Path) -> list[dict[str, Any]]:
    from PIL import Image

    rows = []
    for a in sorted(first.glob("*.png")):
        b = second / a.name
        if not b.exists():
            rows.append({"case": a.stem, "same": False, "why": "missing"})
            continue
        x, y = np.asarray(Image.open(a)), np.asarray(Image.open(b))
        same = x.shape == y.shape and bool((x == y).all())
        why = "" if same else (f"sizes {x.shape} {y.shape}" if x.shape != y.shape else
                               f"{int((x != y).any(axis=-1).sum())} pixels differ")
        rows.append({"case": a.stem, "same": same, "why": why})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--out", type=Path, help="keep the PNGs in this folder")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("DIR1", "DIR2"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.compare:
        rows = compare(*args.compare)
        print(json.dumps(rows) if args.json else "\n".join(f"{r['case']:18} {'same' if r['same'] else 'DIFFERENT'} {r['why']}"
                                                            for r in rows))
        return 0 if rows and all(r["same"] for r in rows) else 1
    names = list(cases())
    if args.cases:
        unknown = set(args.cases.split(",")) - set(names)
        if unknown:
            parser.error(f"unknown cases {sorted(unknown)}; the cases are {', '.join(names)}")
        names = args.cases.split(",")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    report = measure(names, args.repeats, args.out)
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{'case':18} {'seconds':>8} {'cpu s':>8} {'draws':>6} {'layouts':>8} {'png bytes':>10}")
        for r in report:
            print(f"{r['case']:18} {r['seconds']:8.3f} {r['cpu_seconds']:8.3f} {r['draws']:6d} {r['layouts']:8d} {r['png_bytes']:10,d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
