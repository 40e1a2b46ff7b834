#!/usr/bin/env python3
"""The from-scratch CNN at every training-set size against transfer + views (issue 15's stretch target).

Reads two folders written by ``featcache curve`` on the same test images:
the scratch one (``curve --baseline scratch``; its feature heads are left
out) and the views one (a curve on a cache with views, e.g. logistic
regression on ``block_13_expand_relu`` with 4 views); draws the scratch CNN
and the views head on one plot, prints a markdown table of both, and the
first size at which the scratch CNN's mean reaches the views head's best
mean (the size where scratch overtakes transfer + views):

    python scripts/scratch_vs_views.py data/runs/curve_scratch data/runs/curve_views \\
        --out docs/figures/scratch_vs_views.png --json data/runs/scratch_vs_views.json

Uses the same plotting function as ``featcache curve``
(featcache.analysis.plots.plot_learning_curves).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from featcache.errors import FeatcacheError  # noqa: E402


def only_head(curve_set: Any, head: str, label: str) -> Any:
    """``curve_set`` with only ``head``'s rows, relabelled; an error when it has none."""
    from featcache.analysis.plots import CurveSet

    rows = [r for r in curve_set.rows if r["head"] == head]
    if not rows:
        heads = sorted({r["head"] for r in curve_set.rows})
        raise FeatcacheError(f"the curve has no {head!r} rows (it has {', '.join(heads)}); pass the right folder or --views-head")
    return CurveSet(label, rows, curve_set.meta)


def overtakes(scratch: dict[int, tuple], target: float) -> int | None:
    """The smallest size whose scratch mean reaches ``target``; None when no size does."""
    return next((n for n, (mean, *_rest) in sorted(scratch.items()) if mean >= target), None)


def compare(scratch_dir: str, views_dir: str, views_head: str = "logreg") -> dict[str, Any]:
    """Both curves' summaries (mean, min, max, seeds per size), checked to share their test images, and the crossover."""
    from featcache.analysis.curve import load_curve
    from featcache.analysis.plots import describe, head_label, summarize

    a, b = load_curve(scratch_dir), load_curve(views_dir)
    for key in ("dataset", "test_size"):
        if a.meta.get(key) != b.meta.get(key):
            raise FeatcacheError(f"the two curves differ in {key} ({a.meta.get(key)} against {b.meta.get(key)}); "
                                 "compare curves scored on the same test images")
    # The plot prefixes a set's label to the head's name: the scratch set needs none ("from-scratch CNN (10 epochs)").
    scratch, views = only_head(a, "scratch", ""), only_head(b, views_head, f"transfer + views: {describe(b.meta)}")
    s, v = summarize(scratch.rows)["scratch"], summarize(views.rows)[views_head]
    best_size = max(v, key=lambda n: (v[n][0], -n))
    return {"scratch": scratch, "views": views, "scratch_summary": s, "views_summary": v,
            "views_best": {"size": best_size, "accuracy": v[best_size][0]},
            "scratch_overtakes_at": overtakes(s, v[best_size][0]), "test_size": a.meta.get("test_size"),
            "names": {"scratch": head_label("scratch", a.meta.get("head_params", {}).get("scratch")),
                      "views": f"{views.label}, {head_label(views_head, b.meta.get('head_params', {}).get(views_head))}"}}


def table(result: dict[str, Any]) -> str:
    sizes = sorted(set(result["scratch_summary"]) | set(result["views_summary"]))
    cell = lambda d, n: f"{d[n][0]:.3f}" if n in d else ""  # noqa: E731
    lines = ["| model | " + " | ".join(f"{n:,}" for n in sizes) + " |", "| --- |" + " ---: |" * len(sizes)]
    for name, key in ((result["names"]["scratch"], "scratch_summary"), (result["names"]["views"], "views_summary")):
        lines.append(f"| {name} | " + " | ".join(cell(result[key], n) for n in sizes) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scratch", help="folder (or curve.csv) of 'featcache curve --baseline scratch'")
    p.add_argument("views", help="folder (or curve.csv) of 'featcache curve' on a cache with views, same test images")
    p.add_argument("--views-head", default="logreg", help="the head of the views curve to draw (default: logreg)")
    p.add_argument("--out", default="docs/figures/scratch_vs_views.png", help="PNG to write (default: %(default)s)")
    p.add_argument("--json", help="also write the numbers to this JSON file")
    args = p.parse_args(argv)
    try:
        from featcache.analysis.plots import plot_learning_curves
        from featcache.validate import check_writable_dir

        result = compare(args.scratch, args.views, args.views_head)
        out = Path(args.out)
        check_writable_dir(out.parent, "--out")
        title = f"{result['scratch'].meta.get('dataset')}: scratch CNN vs transfer + views (test n={result['test_size']})"
        plot_learning_curves([result["views"], result["scratch"]], out, title=title)
    except FeatcacheError as exc:
        print(f"scratch_vs_views: error: {exc}", file=sys.stderr)
        return 2
    print(table(result))
    best, at = result["views_best"], result["scratch_overtakes_at"]
    print(f"transfer + views, best mean: {best['accuracy']:.4f} at {best['size']:,} images; scratch CNN reaches it at "
          + (f"{at:,} images" if at else f"no size up to {max(result['scratch_summary']):,}"))
    if args.json:
        keep = {k: v for k, v in result.items() if k not in ("scratch", "views")}
        Path(args.json).write_text(json.dumps(keep, indent=2, default=list) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
