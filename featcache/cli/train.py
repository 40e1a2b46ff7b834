"""featcache train: fit a head on cached features, score it on the test split, save it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from featcache.analysis.train import train
from featcache.cli.common import add_json_flag, api_default, given, positive_int, print_json
from featcache.cli.headfile import add_force_arg, add_views_args
from featcache.heads import HEADS, head_default, head_summary, suffixes_line
from featcache.heads.presets import DEFAULT_PRESET, PRESETS
from featcache.validate import C_RANGE, arg_type, parse_C

if TYPE_CHECKING:
    import argparse


c_value = arg_type(parse_C, "c_value")  # the check lives in featcache.validate


def preset_help() -> str:
    """The presets as the Keras head defines them: ``'lesson' 5 epochs; 'default' 200 epochs, L2 0.01, early stopping``."""
    def says(p: dict) -> str:
        return ", ".join([f"{p['epochs']} epochs"] + ([f"L2 {p['l2']:g}"] if p.get("l2") else [])
                         + ([f"early stopping (patience {p['patience']})"] if p.get("early_stopping") else []))
    return "Keras head: " + "; ".join(f"'{name}' {says(p)}" for name, p in PRESETS.items()) + f" (default: '{DEFAULT_PRESET}')"


# Help texts that quote the heads (their facts, heads.facts: not their classes, whose modules import scikit-learn),
# made when help is shown (cli.Parser.add_argument).
def head_help() -> str:
    return "; ".join(f"{name}: {head_summary(name)}" for name in HEADS) + f" (default: {api_default(train, 'head')})"


def c_help() -> str:
    return (f"logreg/svm: inverse regularization strength, {C_RANGE}, or 'cv' to pick it by "
            f"{head_default('logreg', 'cv_folds')}-fold cross-validation on the training features (default: logreg "
            f"{head_default('logreg', 'C'):g}, svm {head_default('svm', 'C'):g})")


def out_help() -> str:
    return (f"head file: {suffixes_line()} (default: HOME/runs/heads/<dataset>_<backbone>_<fingerprint>_<layer>_<head>_"
            "<preset, epochs, std or C; p<hash> of --param>[_v<views>-<hash>]_n<N>_s<seed>.keras|.npz)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a head on a cache's train split and score it on its test split",
                       description="Fit a classifier head on the cached train features (optionally a seeded, class-stratified "
                       "subset), report test accuracy and fit time, and save the head with the cache's fingerprint and class names.")
    p.add_argument("cache", help="a cache written by 'featcache extract'")
    p.add_argument("--head", metavar="|".join(HEADS), help=head_help)
    p.add_argument("--train-size", type=positive_int, metavar="N", help="train on a stratified subset of N images (default: all)")
    p.add_argument("--seed", type=int, help="seed for the subset and the head, 0 to 2**32-1 "
                   f"(default: {api_default(train, 'seed')}); same seed, same result")
    p.add_argument("--epochs", type=positive_int, metavar="E", help="Keras head: epochs (default: the preset's)")
    p.add_argument("--preset", metavar="|".join(PRESETS), help=preset_help())
    p.add_argument("--standardize", action="store_true", default=None, help="Keras head: scale each feature to zero mean and unit variance "
                   "over the training rows first (helps on intermediate layers: block 13 0.812 -> 0.880 on the lesson's cache)")
    p.add_argument("--C", type=c_value, metavar="C|cv", help=c_help)
    p.add_argument("--layer", metavar="NAME", help="cached layer to train on, by its name or as probe.png names it "
                   "(block_13 for block_13_expand_relu; default: the cache's default layer)")
    p.add_argument("--out", metavar="PATH", help=out_help)
    p.add_argument("--param", dest="params", action="append", metavar="NAME=VALUE",
                   help="one of the head's own parameters, repeatable: --param dropout=0.5 --param learning_rate=3e-4 "
                   "(keras), --param gamma=0.01 (svm), --param max_iter=5000 (logreg); true/false, none and numbers are "
                   "typed, anything else is text. A wrong name lists the head's parameters; the head file records them all")
    add_views_args(p, train=True)
    add_force_arg(p, "head", ", or a head of another fit on the same cache (other parameters, layer, train size, "
                             "seed or train views; one of another cache of the data set is replaced without it)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from featcache.analysis.train import train

    res = train(args.cache, verbose=not args.json,
                **given(args, "head", "train_size", "seed", "epochs", "preset", "C", "layer", "out", "standardize", "force",
                      "train_views", "test_views", "params"))
    if args.json:
        print_json(res.to_dict())
    return 0
