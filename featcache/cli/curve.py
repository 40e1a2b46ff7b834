"""featcache curve: test accuracy against training-set size, from a cache."""

from __future__ import annotations

import argparse

from featcache.cli.common import add_json_flag, positive_int, print_json


def register(sub) -> None:
    p = sub.add_parser(
        "curve", help="learning curve: fit heads on nested stratified subsets of growing size, plot test accuracy",
        description="For each seed draw one class-stratified ordering of the cache's train split; each size is a "
        "prefix of it (nested subsets). Fit each head on each subset and score it on the full test split. Writes "
        "curve.csv, curve.json and curve.png; an interrupted run resumes when re-run.",
    )
    p.add_argument("cache", help="path to a cache written by 'featcache extract'")
    p.add_argument("--sizes", required=True, metavar="N1,N2,...", help="training-set sizes, e.g. 100,250,500,1000,2000,4000")
    p.add_argument("--seeds", type=positive_int, default=3, metavar="K", help="seeds 0..K-1, one ordering each (default: 3)")
    p.add_argument("--heads", default="logreg,keras", metavar="H1,H2", help="heads to fit (default: logreg,keras)")
    p.add_argument("--keras-preset", default=None, metavar="NAME",
                   help="training preset of the keras head (default: lesson: 5 epochs, batch 64, 20%% validation)")
    p.add_argument("--keras-standardize", action="store_true",
                   help="keras head: standardize the features over each subset's training rows first (see 'train --standardize')")
    p.add_argument("--no-warm-start", dest="warm_start", action="store_false",
                   help="fit every logreg point from zero (default: each seed's logreg fits start from the previous size's "
                   "solution; same optimum, fewer lbfgs iterations)")
    p.add_argument("--layer", metavar="NAME", help="cached layer to use (default: the cache's default layer)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: data/runs/curve_<data>_<backbone>_<size>px_<layer>_<id>)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="fits in parallel processes (default: 1; -1: all cores)")
    g = p.add_argument_group("baseline")
    g.add_argument("--baseline", choices=["scratch"], help="also train a from-scratch CNN on the raw images")
    g.add_argument("--baseline-sizes", metavar="N1,N2,...", help="sizes for the baseline, e.g. 1000,4000,15000")
    g.add_argument("--baseline-epochs", type=positive_int, metavar="N", help="epochs of the from-scratch CNN (default: 10, its own default)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from featcache.analysis.curve import learning_curve

    head_params = {} if args.warm_start else {"logreg": {"warm_start": False}}
    if args.keras_preset is not None:
        from featcache.errors import FeatcacheError
        from featcache.heads.dense import PRESETS

        if args.keras_preset not in PRESETS:
            raise FeatcacheError(f"unknown --keras-preset {args.keras_preset!r}; choose one of: {', '.join(PRESETS)}")
        head_params["keras"] = dict(PRESETS[args.keras_preset])
    if args.keras_standardize:
        head_params["keras"] = {**head_params.get("keras", {}), "standardize": True}
    res = learning_curve(
        args.cache, args.sizes, seeds=args.seeds, heads=args.heads, layer=args.layer, out=args.out, jobs=args.jobs,
        head_params=head_params, baseline=args.baseline, baseline_sizes=args.baseline_sizes or (),
        baseline_params={"epochs": args.baseline_epochs} if args.baseline_epochs else None, verbose=not args.json,
    )
    if args.json:
        print_json({"out": str(res.out), "csv": str(res.csv), "json": str(res.json), "png": str(res.png),
                    "seconds": round(res.seconds, 3), "fits": res.fits, "resumed": res.resumed, "summary": res.meta["summary"]})
        return 0
    for head, by_size in res.meta["summary"].items():
        print(f"{head:<8} " + "  ".join(f"{n}: {acc:.3f}" for n, acc in by_size.items()))
    return 0
