"""featcache export: a head and its backbone as one raw-images -> probabilities model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from featcache.cli.common import add_json_flag, given, print_json
from featcache.cli.headfile import add_force_arg, add_trust_pickle_arg

if TYPE_CHECKING:
    import argparse


def add_weights_arg(p: argparse.ArgumentParser) -> None:
    # export(head, out) and finetune read the weights from the path the head records (deploy.export.resolve_weights):
    # the help said the file was needed (a notebook tester)
    p.add_argument("--weights", metavar="PATH",
                   help="the backbone weights file the head's cache was extracted with, where it is no longer at the "
                   "path the head records (default: that path; either is checked against the head's sha256; imagenet "
                   "and random weights need none)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a head and its backbone as one Keras model taking raw images",
                       description="Rebuild the head's backbone from its cache settings and write one .keras model: "
                       "uint8 images (N, H, W, C) of any size with C = 1 or 3 -> resize, gray->RGB, preprocess_input, "
                       "frozen base, pooling, head -> class probabilities. Class names are stored in the file. "
                       "A logreg head is folded (standardization included) into an equivalent Dense layer; an svm head "
                       "becomes featcache's SVM layers (its support vectors as arrays): its probabilities, or, trained "
                       "with --param probability=false, its SVM scores (vote shares, or shares of the averaged decision "
                       "values with --views all; not probabilities: predict names them share).")
    from featcache.deploy.export import DEFAULT_VIEWS  # the API's default, quoted (its module imports no Keras)

    p.add_argument("head", help="head file written by 'featcache train' (.keras or .npz): a keras, logreg or svm head")
    add_weights_arg(p)
    p.add_argument("--out", metavar="MODEL.keras", help="where to write the model (default: HOME/models/<head>.keras; "
                   "with --views other than orig, HOME/models/<head>_<k>views_<6 hex>.keras; <head>_model.keras for a "
                   "Keras head of that name; it replaces only this head's model: 6 hex of the head's path are added where "
                   "anything else is there)")
    p.add_argument("--views", metavar="orig|all|VIEWS|only:VIEWS",
                   help=f"views inside the model: {','.join(DEFAULT_VIEWS)} (default) embeds the image alone; all embeds every view the head "
                   "averaged at test (e.g. orig,flip,shift:+2,+2) and returns the mean of their probabilities (an svm head "
                   "without them: of its decision values), as 'featcache evaluate' scored it (one forward pass per "
                   "view); VIEWS: names "
                   "among the head's views (orig is always included); only:VIEWS: those views without the original (a "
                   "head fitted or scored with --train-views/--test-views only:VIEWS)")
    add_force_arg(p, "model", ", or a model of another fit (its head's parameters, layer, train size, seed, train "
                              "views, backbone or weights) or of other --views")
    add_trust_pickle_arg(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from featcache.deploy.export import export

    result = export(args.head, args.out, verbose=not args.json, **given(args, "weights", "force", "trust_pickle", "views"))
    if args.json:
        print_json(result.to_dict())
    return 0
