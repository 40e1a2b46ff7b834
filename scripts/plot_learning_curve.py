#!/usr/bin/env python3
"""Replot one or more learning curves (curve.csv files, or the folders holding
them) into one figure, e.g. two backbones or two image sizes:

    python scripts/plot_learning_curve.py data/runs/curve_A data/runs/curve_B \\
        --label "96 px" --label "160 px" --out data/runs/sizes.png

Labels default to each curve's backbone, image size and layer (from the
curve.json beside the CSV); the words they all start with are said once,
and each gives its test n when the curves' differ. Uses the same plotting function as
``featcache curve`` (featcache.analysis.plots.plot_learning_curves).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from featcache import paths  # noqa: E402
from featcache.errors import FeatcacheError  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("curves", nargs="+", metavar="CURVE", help="curve.csv files or folders written by 'featcache curve'")
    p.add_argument("--label", action="append", default=[], help="legend label of each curve, in order (repeat per curve)")
    p.add_argument("--out", help="PNG to write (default: data/runs/learning_curves.png)")
    p.add_argument("--title", help="figure title (default: the data set's name)")
    args = p.parse_args(argv)
    try:
        from featcache.analysis.curve import load_curve
        from featcache.analysis.plots import plot_learning_curves

        if args.label and len(args.label) != len(args.curves):
            raise FeatcacheError(f"got {len(args.label)} --label for {len(args.curves)} curves; give one per curve or none")
        sets = [load_curve(c, label) for c, label in zip(args.curves, args.label or [None] * len(args.curves))]
        names = [s.label for s in sets]
        for s, c in zip(sets, args.curves):
            if names.count(s.label) > 1:  # same features twice: tell them apart by folder
                s.label = f"{s.label} ({Path(c).parent.name if Path(c).suffix == '.csv' else Path(c).name})"
        datasets = {s.meta.get("dataset") for s in sets} - {None}
        title = args.title or (f"{datasets.pop()}: " if len(datasets) == 1 else "") + "test accuracy vs training images"
        out = Path(args.out) if args.out else paths.runs_dir() / "learning_curves.png"
        from featcache.validate import check_writable_dir

        check_writable_dir(out.parent, "--out")
        plot_learning_curves(sets, out, title=title)
    except FeatcacheError as exc:
        print(f"plot_learning_curve: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError) as exc:  # a name too long, a link loop: featcache's own one line (a tester)
        from featcache.cli import path_problem

        said = path_problem(exc)
        if said is None:
            raise
        print(f"plot_learning_curve: error: {said}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
