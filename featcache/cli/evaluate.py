"""featcache evaluate: accuracy, per-class precision/recall, a confusion matrix and the misclassified images of a saved
head on a cache, or of an exported or fine-tuned model on a folder of photos in class folders."""

from __future__ import annotations

import sys
import warnings
from typing import TYPE_CHECKING

from featcache.analysis.evaluate import LeakageWarning
from featcache.cli.common import add_json_flag, api_default, given, print_json
from featcache.cli.headfile import add_trust_pickle_arg, add_views_args
from featcache.cli.predict import add_batch_size_arg, add_lock_timeout_arg, add_runtime_arg
from featcache.deploy.evaluate import evaluate
from featcache.progress import is_tty

if TYPE_CHECKING:
    import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score a saved head on a cache, or a model on a photo folder: accuracy, per-class precision/recall, confusion matrix",
                       description="Score a head written by 'featcache train' on a cache's test split and list the images it "
                       "got wrong. Refuses a cache made with another backbone, weights, image size, preprocessing, layer or "
                       "classes; warns when test images were among the head's training images. Or score a model written by "
                       "'featcache export' or 'featcache finetune' on a folder of labelled photos, FOLDER/<class>/* with one "
                       "subfolder per class of the model (named as its classes; not split into train/ and val/: pass "
                       "FOLDER/val), read as extract reads --images (the same files skipped) and run as predict runs the "
                       "model (--runtime, --batch-size; its views averaged); the report names the runtime and says which "
                       "photos the model was trained on, and evaluation.json records the model's SHA-256 and content "
                       "digest and the folder's content fingerprint. Writes "
                       "confusion.png, evaluation.json and evaluation.txt to --out.")
    # what each is, in the usage line: docs say "evaluate MODEL FOLDER" for a model, and the usage said "head cache"
    p.add_argument("head", metavar="HEAD|MODEL", help="a head file written by 'featcache train' (.keras or .npz), or a model file written by "
                   "'featcache export' or 'featcache finetune'")
    p.add_argument("cache", metavar="CACHE|FOLDER", help="for a head: a cache written by 'featcache extract' with the head's settings; for a "
                   "model: a folder of photos, one subfolder per class")
    p.add_argument("--split", help=f"split to score, of a head's cache (default: {api_default(evaluate, 'split')})")
    p.add_argument("--out", metavar="DIR", help="folder for the report files (default: HOME/runs/eval/<head file name>_<suffix>, e.g. eval/fashion_keras; _<split> for another split; a model's: <model file name>_keras_on-<folder name>; and a short hash when another head of that name has the folder)")
    add_views_args(p, train=False, test_default="the views the head was scored on at training, else every view the cache has")
    add_trust_pickle_arg(p)
    add_runtime_arg(p)
    add_batch_size_arg(p)
    add_lock_timeout_arg(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with warnings.catch_warnings():
        if not args.json and is_tty(sys.stdout):
            # The text result says it (below); said on stderr too, a terminal showed it twice (a new-user tester)
            warnings.simplefilter("ignore", LeakageWarning)
        # verbose prints the report (analysis.evaluate.say_evaluated), which holds the leakage line, as
        # evaluation.txt does: 'evaluate > file' kept a result without it, the warning having gone to stderr alone (a
        # review). Stdout redirected, stderr still says it on the terminal.
        res = evaluate(args.head, args.cache, verbose=not args.json,
                       **given(args, "split", "out", "trust_pickle", "test_views", "runtime", "batch_size",
                             "lock_timeout"))
    if args.json:
        print_json(res.to_dict())  # its "overlap" says how many evaluated images were training images
    return 0

