"""featcache lesson: the lesson's comparison, transfer learning vs a CNN from scratch, as one command."""

from __future__ import annotations

from typing import TYPE_CHECKING

from featcache.cli.common import add_json_flag, given, positive_int, print_json
from featcache.cli.extract import add_runtime_arg
from featcache.embedding.backbones import WEIGHTS_METAVAR
from featcache.recipes.lesson import DEFAULTS, lesson

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction) -> None:
    # Defaults are the API's (argparse default=None: only what the user gave is passed on).
    d = DEFAULTS
    p = sub.add_parser("lesson", help="the main job: the lesson's comparison table (cached heads vs a from-scratch CNN)",
                       description=f"Extract (or reuse) the lesson's cache (first {d['train_limit']:,} train / "
                       f"{d['test_limit']:,} test Fashion-MNIST images, MobileNetV2 at 96x96), train the Keras head with the "
                       "lesson's preset and with the default, logistic regression with C by cross-validation, the best cached "
                       "layer + head found by probing (chosen on held-out training images), that layer + head with cached views "
                       "(orig, flip and two 2-pixel shifts, extracted once more at that one layer; head and view setting chosen "
                       "on held-out training images; skip it with --no-views), and a small CNN from scratch on "
                       f"the first {d['scratch_train']:,} raw 28x28 images; print and save the table (CSV, JSON, markdown) and "
                       "the end-to-end model's parameter counts.")
    p.add_argument("--weights", metavar=WEIGHTS_METAVAR,
                   help="MobileNetV2 weights: 'imagenet' (Keras download), a local file, "
                   "e.g. ../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5, or 'random' (untrained, "
                   f"marked in the results) (default: {d['weights']})")
    p.add_argument("--data-dir", metavar="DIR", help="folder with the four Fashion-MNIST IDX .gz files (default: as extract)")
    p.add_argument("--out", metavar="DIR", help="folder for lesson.csv/.json/.md/.png, heads/ and eval/ (default: HOME/runs/lesson)")
    p.add_argument("--train-limit", type=positive_int, metavar="N",
                   help=f"transfer learning: first N training images (default: {d['train_limit']})")
    p.add_argument("--test-limit", type=positive_int, metavar="N", help=f"first N test images, for every row (default: {d['test_limit']})")
    p.add_argument("--scratch-train", type=positive_int, metavar="N",
                   help=f"from-scratch CNN: first N training images (default: {d['scratch_train']})")
    p.add_argument("--scratch-epochs", type=positive_int, metavar="E", help=f"from-scratch CNN: epochs (default: {d['scratch_epochs']})")
    p.add_argument("--no-views", dest="views", action="store_false", default=None,
                   help="leave out the 'transfer + views' row: its second extraction (4 views of one layer) and its fits on "
                   "up to 16,000 rows took about 160 s of the lesson's 489 s on 2 loaded cores (docs/results.md)")
    p.add_argument("--seed", type=int, help=f"seed for every model (default: {d['seed']})")
    p.add_argument("--force", action="store_true", default=None,
                   help="replace the results of a lesson of other settings (--seed, the limits, --scratch-epochs, --weights, "
                   "--data-dir) in --out; "
                   "without it such a folder is refused before any work (files not a lesson's are refused either way)")
    add_runtime_arg(p, d["runtime"], more=": a cache made on another runtime is reused (lesson.json's "
                    "'extraction' names the runtime that made it); to compare runtimes give each run its own FEATCACHE_HOME")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = lesson(verbose=not args.json, **given(args, "weights", "data_dir", "out", "train_limit", "test_limit", "scratch_train",
                                 "scratch_epochs", "seed", "views", "runtime", "force"))
    if args.json:  # lesson.json's document (the files are written as well)
        print_json(result.to_dict())
    return 0
