"""featcache curve: test accuracy against training-set size, from a cache."""

from __future__ import annotations

import argparse
from typing import Any

from featcache.analysis.curve.run import learning_curve
from featcache.analysis.curve.spec import DEFAULT_KERAS_PRESET
from featcache.cli.common import add_json_flag, api_default, given, positive_int, print_json, seconds
from featcache.cli.headfile import add_views_args
from featcache.errors import FeatcacheError
from featcache.heads.presets import DEFAULT_PRESET, PRESETS


def register(sub: argparse._SubParsersAction) -> None:
    # Defaults are the API's (argparse default=None: only what the user gave is passed on).
    seeds, heads, jobs = (api_default(learning_curve, n) for n in ("seeds", "heads", "jobs"))
    p = sub.add_parser(
        "curve", help="learning curve: fit heads on nested stratified subsets of growing size, plot test accuracy",
        description="For each seed draw one class-stratified ordering of the cache's train split; each size is a "
        "prefix of it (nested subsets). Fit each head on each subset and score it on the full test split (the keras "
        f"head with the {DEFAULT_KERAS_PRESET} preset, not train's default: see --keras-preset). Writes "
        "curve.csv, curve.json and curve.png; an interrupted run resumes when re-run.",
    )
    p.add_argument("cache", help="path to a cache written by 'featcache extract'")
    p.add_argument("--sizes", required=True, metavar="N1,N2,...", help="training-set sizes, e.g. 100,250,500,1000,2000,4000")
    p.add_argument("--seeds", type=positive_int, metavar="K", help=f"seeds 0..K-1, one ordering each (default: {seeds})")
    p.add_argument("--heads", metavar="H1,H2", help=f"heads to fit (default: {','.join(heads)})")
    p.add_argument("--keras-preset", metavar="|".join(PRESETS),
                   help=keras_preset_help)
    # default=None, as every flag's: the two switches below are "given" or not, never a default of their own
    p.add_argument("--keras-standardize", action="store_true", default=None,
                   help="keras head: standardize the features over each subset's training rows first (see 'train --standardize')")
    p.add_argument("--no-warm-start", dest="warm_start", action="store_false", default=None,
                   help="fit every logreg point from zero (default: each seed's logreg fits start from the previous size's "
                   "solution; same optimum, fewer lbfgs iterations)")
    p.add_argument("--param", action="append", metavar="HEAD.NAME=VALUE",
                   help="one of a head's own parameters, repeatable: --param logreg.C=0.1 --param keras.epochs=10 (NAME=VALUE "
                   "alone with one head); over --keras-preset's. A wrong name lists the head's parameters")
    p.add_argument("--layer", metavar="NAME", help="cached layer to use, by its name or as probe.png names it "
                   "(block_13 for block_13_expand_relu; default: the cache's default layer)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: HOME/runs/curve_<data>_<backbone>_<size>px_<layer>_<id>)")
    p.add_argument("--no-plot", dest="plot", action="store_false", default=None,
                   help="write no curve.png (the table and JSON alone; matplotlib is not imported)")
    p.add_argument("--jobs", type=int, metavar="N", help=f"fits in parallel processes (default: {jobs}; -1: all cores)")
    p.add_argument("--lock-timeout", type=seconds, metavar="SECONDS", help="while another curve run writes the same --out, "
                   "wait at most this long, then stop with a line naming it (default: wait until it is done, then resume "
                   "from its rows)")
    add_views_args(p, train=True)
    g = p.add_argument_group("baseline")
    g.add_argument("--baseline", choices=["scratch"], help="also train a from-scratch CNN on the raw images")
    g.add_argument("--baseline-sizes", metavar="N1,N2,...", help="sizes for the baseline, e.g. 1000,4000,15000")
    g.add_argument("--baseline-epochs", type=positive_int, metavar="N",
                   help="epochs of the from-scratch CNN (default: ScratchCNN's own)")
    add_json_flag(p)
    p.set_defaults(func=run)


def keras_preset_help() -> str:
    """--keras-preset's help, made when help is shown (cli.Parser.add_argument)."""
    return (f"training preset of the keras head (default: {DEFAULT_KERAS_PRESET}: {keras_preset_words()}; "
            f"quicker per point than 'train', whose default is '{DEFAULT_PRESET}': L2 and early stopping)")


def keras_preset_words() -> str:
    """What curve's keras head trains with by default, read from its preset and the head's own defaults: ``5 epochs,
    batch 64, 20%% validation``, the % doubled for argparse (the words go into a help text). The head's defaults
    from its facts (heads.facts), not its class, whose module imports scikit-learn."""
    from featcache.heads import head_default

    preset = PRESETS[DEFAULT_KERAS_PRESET]

    def value(param: str) -> Any:
        return preset[param] if param in preset else head_default("keras", param)

    return (f"{value('epochs')} epochs, batch {value('batch_size')}, {value('validation_split'):.0%} validation"
            .replace("%", "%%"))


def head_params(args: argparse.Namespace) -> dict[str, dict]:
    """``head_params`` of learning_curve from the head flags."""
    params: dict[str, dict] = {} if args.warm_start is None else {"logreg": {"warm_start": False}}
    if args.keras_preset is not None:
        from featcache.heads.dense import DenseHead

        params["keras"] = DenseHead.preset_params(args.keras_preset, "--keras-preset")
    if args.keras_standardize:
        params["keras"] = {**params.get("keras", {}), "standardize": True}
    from featcache.heads import HEADS, parse_head_params
    from featcache.validate import param_text, parse_list

    # checked as CurveSpec checks them: --heads forest --param max_iter=5 was a KeyError traceback (heads.head_params)
    heads = parse_list(args.heads if args.heads is not None else api_default(learning_curve, "heads"), "--heads",
                       known=list(HEADS))
    from featcache.analysis.curve.spec import BASELINES

    for item in args.param or []:  # "add it to --heads" was no way out for the baseline (a review)
        if str(item).partition(".")[0] in BASELINES:
            raise FeatcacheError(f"--param {item}: the baseline takes --baseline-epochs, not --param")
    switches = {("logreg", "warm_start"): ("--no-warm-start", args.warm_start is False),
                ("keras", "standardize"): ("--keras-standardize", bool(args.keras_standardize))}
    for head, given_params in parse_head_params(args.param, heads, own=CURVE_OWN).items():
        for name, value in given_params.items():  # a flag and a --param saying two things: the --param won unsaid (a review)
            flag, on = switches.get((head, name), (None, False))
            if on and value != params[head][name]:
                raise FeatcacheError(f"--param {head}.{name}={param_text(value)} contradicts {flag}; give one of them")
        params[head] = {**params.get(head, {}), **given_params}
    _check_head_flags(args, heads)
    # the flags are checked against --heads above; a head's parameters learning_curve refuses for another head
    return {head: p for head, p in params.items() if head in heads}


def _check_head_flags(args: argparse.Namespace, heads: list[str]) -> None:
    """A head's own flag without that head in --heads is refused, as train refuses --standardize with --head logreg:
    ``--heads logreg --keras-standardize`` ran and wrote a curve the flag did nothing to (an adversarial tester)."""
    flags = (("--keras-preset", "keras", args.keras_preset is not None),
             ("--keras-standardize", "keras", bool(args.keras_standardize)),
             ("--no-warm-start", "logreg", args.warm_start is False))
    for flag, head, on in flags:
        if on and head not in heads:
            raise FeatcacheError(f"{flag} applies to the {head} head only, and --heads {','.join(heads)} fits none; "
                                 f"add {head} to --heads, or drop {flag}")


# Parameters a curve sets itself, never through --param.
CURVE_OWN = {"seed": "each fit gets one of the curve's seeds (--seeds)", "n_classes": "set from the cache's classes"}


def run(args: argparse.Namespace) -> int:
    kwargs = given(args, "seeds", "heads", "layer", "out", "jobs", "plot", "baseline", "baseline_sizes", "train_views", "test_views",
                   "lock_timeout")
    if args.baseline_epochs is not None:
        kwargs["baseline_params"] = {"epochs": args.baseline_epochs}
    res = learning_curve(args.cache, args.sizes, head_params=head_params(args), verbose=not args.json, **kwargs)
    if args.json:
        print_json(res.to_dict())
    return 0  # the summary, each head's accuracy at each size, was printed with verbose (CurveResult.text)
