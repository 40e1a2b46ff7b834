"""featcache probe: which cached layer transfers best, with which head."""

from __future__ import annotations

from typing import TYPE_CHECKING

from featcache.analysis.probe import DEFAULT_HEADS, DEFAULT_HOLDOUT, DEFAULT_SEED, DEFAULT_VIEW_SETTINGS, probe
from featcache.cli.common import add_json_flag, api_default, given, print_json
from featcache.validate import C_RANGE

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction) -> None:
    # Defaults are the API's (argparse default=None: only what the user gave is passed on).
    seed, jobs = DEFAULT_SEED, api_default(probe, "jobs")  # seed's API default is None: none given (--on-test takes none)
    p = sub.add_parser("probe", help="fit a head on every cached layer and plot held-out accuracy against depth",
                       description="For every layer in the cache (extract with --layers blocks) and every head, fit on the "
                       f"train split and score on images it was not fitted on: by default a stratified {DEFAULT_HOLDOUT:.0%} of "
                       "the train split (the test split is never read, so the choice does not flatter its test accuracy). On a "
                       "cache with views, also each view setting (which views the head is fitted on, which are averaged per "
                       "image). Writes probe.csv, probe.png and probe.json and prints the best layer, head and view setting.")
    p.add_argument("cache", help="path to a cache written by 'featcache extract --layers ...'")
    p.add_argument("--heads", metavar="H1,H2", help=f"heads to fit on each layer (default: {','.join(DEFAULT_HEADS)})")
    p.add_argument("--C", metavar="C|HEAD=C,...", help=f"regularization, {C_RANGE}: one value for "
                   "every head, or per head (e.g. logreg=0.03,svm=10); 'cv' picks it by cross-validation on the training rows "
                   "(default: each head's own)")
    p.add_argument("--layers", metavar="L1,L2", help="probe only these cached layers, by their names or as probe.png "
                   "names them (block_13 for block_13_expand_relu; default: all)")
    # the text as typed, for the API's check (validate.check_fraction): type=float read 1e-400 as 0.0, and the line
    # then said "--holdout 0.0 is not a fraction" (an adversarial tester)
    p.add_argument("--holdout", metavar="F", help="score on a stratified fraction F of the train split "
                   f"(fitting on the rest; default: {DEFAULT_HOLDOUT})")
    p.add_argument("--folds", type=int, metavar="K", help="score every training image once by stratified K-fold "
                   "cross-validation over the images instead of one --holdout (steadier on small data sets, K times the fits); "
                   "the test split is then never read")
    p.add_argument("--on-test", action="store_true", default=None, help="score on the test split instead: how the layers compare "
                   "there (a layer chosen this way flatters its test accuracy)")
    p.add_argument("--seed", type=int, help=f"which training images are held out (default: {seed}; not with --on-test, which holds out none)")
    p.add_argument("--out", metavar="DIR", help="folder for probe.csv, probe.png and probe.json (default: HOME/runs/probe_<cache name>/, "
                   "or probe_<cache name>_on_test/ with --on-test; a probe of some of the cached layers (--layers) adds "
                   "_<k>layers_<6 hex of their names>, so the full probe's folder holds the full probe; _<6 hex> added where "
                   "that folder holds the probe of another cache of the same name)")
    p.add_argument("--no-plot", dest="plot", action="store_false", default=None,
                   help="write no probe.png (the table and JSON alone; matplotlib is not imported)")
    p.add_argument("--jobs", type=int, metavar="N", help=f"fits run side by side (joblib; -1: every core; default: {jobs})")
    p.add_argument("--param", dest="head_params", action="append", metavar="HEAD.NAME=VALUE",
                   help="one of a head's own parameters, repeatable: --param logreg.max_iter=5000 --param svm.gamma=0.01 "
                   "(NAME=VALUE alone with one head; C with --C). The suggested train command carries them")
    p.add_argument("--view-settings", metavar="TRAIN/TEST;...", help="on a cache with views, the view settings to compare: "
                   "TRAIN/TEST pairs separated by ';', each side view names as in 'extract --views' or 'all' (the head is "
                   "fitted on every TRAIN view of each image; its TEST views are averaged per scored image). Default: "
                   f"{DEFAULT_VIEW_SETTINGS}. Ties go to fewer test views, then fewer train views, then the shallower layer")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = probe(args.cache, verbose=not args.json, **given(args, "heads", "C", "layers", "out", "holdout", "folds", "seed",
                                                     "view_settings", "on_test", "plot", "head_params", "jobs"))
    if args.json:
        print_json(result.to_dict())
    return 0
