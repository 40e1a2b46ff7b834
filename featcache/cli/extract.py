"""featcache extract: embed a data set once into an HDF5 cache."""

from __future__ import annotations

import argparse

from featcache.cli.common import add_json_flag, positive_int, print_json, seconds
from featcache.embedding.backbones import MAX_IMAGE_SIZE, REGISTRY, WEIGHTS_METAVAR
from featcache.embedding.engines import DEFAULT_ENGINE, ENGINES
from featcache.embedding.engines.local import LocalEngine
from featcache.embedding.engines.ray_engine import DEFAULT_PORT, DEFAULT_WORKERS
from featcache.embedding.runtimes import AUTO_MIN_IMAGES, RUNTIMES, lock_timeout_help
from featcache.recipes.lesson import DEFAULTS as LESSON
from featcache.store.format import CACHE_SUFFIX, CACHE_SUFFIX_WORDS
from featcache.embedding.specs import (
    DTYPES,
    OPTIONS,
    ModelSpec,
    StoreSpec,
    default,
    from_options,
)
from featcache.sources import source_classes
from featcache.sources.fashion_mnist import FashionMNIST
from featcache.sources.images import SPLIT_SEED
from featcache.validate import arg_type, check_fraction

fraction = arg_type(check_fraction, "fraction")  # the checks live in featcache.validate

# What --engine's help says of each engine (engines.ENGINES); the default is marked from engines.DEFAULT_ENGINE.
ENGINE_WORDS = {"local": "this process",
                "ray": "Ray Data tasks decode, a pool of Ray actors embeds (needs pip install 'featcache[ray]')"}


def add_source_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    named = [cls.kind for cls in source_classes() if cls.selector is None]  # the sources chosen by name
    g.add_argument("--data", choices=named, help=f"data set (default: {named[0]})")
    where = g.add_mutually_exclusive_group()
    where.add_argument("--data-dir", help="folder with the four Fashion-MNIST IDX .gz files (default: Keras's cache, "
                       "then /usr/share/datasets/fashion-mnist from 'apt-get install dataset-fashion-mnist')")
    where.add_argument("--images", metavar="DIR", help="your own photos in class folders: DIR/<class>/* (with --test-fraction), "
                       "or DIR/train/<class>/* and DIR/val/<class>/* (or DIR/test/); class names = folder names, sorted")
    g.add_argument("--test-fraction", type=fraction, metavar="F", help="with --images DIR/<class>/*: hold out this stratified "
                   "fraction of each class as the test split (e.g. 0.2)")
    g.add_argument("--seed", type=int, help="with --test-fraction: which images go to the test split, "
                   f"0 to 2**32-1 (default: {SPLIT_SEED})")  # PhotoFolder's None: no seed chosen, SPLIT_SEED with --test-fraction
    g.add_argument("--strict", action="store_true", default=None,
                   help="with --images: stop at any unreadable image instead of skipping and listing it (a file "
                   "whose extension is no image format's, such as notes.txt, is listed as not an image file, never an error)")
    g.add_argument("--train-limit", type=positive_int, metavar="N", help="use the first N training images (default: all "
                   f"{FashionMNIST.split_sizes['train']:,} of Fashion-MNIST; the lesson: {LESSON['train_limit']})")
    g.add_argument("--test-limit", type=positive_int, metavar="N", help="use the first N test images (default: all "
                   f"{FashionMNIST.split_sizes['test']:,}; the lesson: {LESSON['test_limit']})")


def add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--backbone", help=f"one of: {', '.join(sorted(REGISTRY))} (default: {default(ModelSpec, 'backbone')})")
    g.add_argument("--weights", metavar=WEIGHTS_METAVAR,
                   help="'imagenet' (Keras download or its local copy), a local weights file "
                   "(e.g. ../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5), or 'random' (untrained, marked in the cache) "
                   f"(default: {default(ModelSpec, 'weights')})")
    g.add_argument("--image-size", type=int, metavar="PX", help=f"input size in pixels, up to {MAX_IMAGE_SIZE} (default: "
                   f"{FashionMNIST.default_image_size} for Fashion-MNIST, as the lesson; else the backbone's, "
                   f"{REGISTRY[default(ModelSpec, 'backbone')].default_size} for {default(ModelSpec, 'backbone')}; "
                   "photos are decoded, a JPEG at a reduced scale when it is twice the size or more, and resized to it with "
                   "PIL bilinear: docs/photos.md)")
    g.add_argument("--layers", metavar="L1,L2|blocks", help="pool these layers in the same pass: blocks as probe.png names "
                   "them (block_13 for MobileNetV2's block_13_expand_relu), 'blocks' for every block and the final output, "
                   "or any layer's name but one Keras names by a counter, re_lu_3 (default: the final output)")
    g.add_argument("--views", metavar="V1,V2", help="also embed these views of every image, in the same batched pass "
                   "(part of the cache's identity; extraction takes V times as long): orig, flip, shift:DX,DY (raw pixels, "
                   "0 shifted in), crop:tl|tr|bl|br|c (7/8 of the side, scaled back), or the groups flip, shift (the four "
                   "2-px diagonal shifts), crop (the five crops); e.g. orig,flip,shift:+2,+2,shift:-2,-2 for Fashion-MNIST (the "
                   "views measured best: docs/views.md), orig,flip,crop for photos (default: the original view alone, today's cache)")


def add_runtime_arg(g: argparse.ArgumentParser | argparse._ArgumentGroup, default_runtime: str, more: str = "") -> None:
    """``--runtime``, one flag for every command that extracts (extract, lesson): the names are the runtimes
    module's, the default the calling API's; the API checks the name (one line, exit 2)."""
    g.add_argument("--runtime", metavar="NAME", help=f"what runs the network: {', '.join(RUNTIMES)} (default: {default_runtime}: "
                   f"the fastest installed, converting the model once, when there are {AUTO_MIN_IMAGES:,} images or more "
                   "(each cached view of an image counts) or a conversion is cached; else tensorflow); the features agree across runtimes to about 2e-4, so it "
                   "is not part of the cache's identity" + more)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("extract", help="embed images once with a frozen backbone into an HDF5 cache",
                       description="Run the frozen backbone once over the train and test images (global average pooling) "
                       "and store the features in an HDF5 cache. The same settings again are a cache hit; an interrupted run resumes.")
    add_source_args(p)
    add_model_args(p)
    g = p.add_argument_group("output")
    g.add_argument("--out", metavar="PATH", help=f"cache file, its name ending in {CACHE_SUFFIX_WORDS} "
                   f"(default: HOME/cache/<data>_<backbone>_<size>px_<fingerprint>{CACHE_SUFFIX})")
    g.add_argument("--dtype", choices=list(DTYPES), help=f"storage type, float16 halves the size (default: {default(StoreSpec, 'dtype')})")
    g.add_argument("--batch-size", type=positive_int, help=f"images per forward pass (default: {default(StoreSpec, 'batch_size')})")
    g.add_argument("--lock-timeout", type=seconds, metavar="SECONDS", help=lock_timeout_help(cache=True))
    # default=None: not given, StoreSpec's default applies (the CLI's defaults come from the API)
    g.add_argument("--force", action="store_true", default=None,
                   help="replace a featcache cache of other settings at --out (another data set, layers, backbone...; "
                   "complete or not) once the new cache is complete, and move an interrupted extraction of other settings "
                   "at its .partial.h5 name aside (.other-settings-<time>); a cache of these settings is still a hit, and "
                   "a file featcache did not write is never replaced")
    g = p.add_argument_group("engine (who runs the network; never changes the features or the cache)")
    g.add_argument("--engine", choices=list(ENGINES), help="; ".join(
        f"{name}: {ENGINE_WORDS[name]}{' (default)' if name == DEFAULT_ENGINE else ''}" for name in ENGINES))
    add_runtime_arg(g, default(LocalEngine, "runtime"))
    g.add_argument("--address", metavar="HOST:PORT", help="with --engine ray: join this Ray cluster (the head's address, "
                   f"port {DEFAULT_PORT} by default; 'auto' for one started on this machine); "
                   "default: a private Ray instance here")
    g.add_argument("--workers", type=positive_int, metavar="N", help="with --engine ray: actors embedding in parallel, "
                   f"each building the network once (default: {DEFAULT_WORKERS})")
    g.add_argument("--cpus-per-worker", type=positive_int, metavar="C", help="with --engine ray: CPUs (and TensorFlow threads) "
                   "per actor (default: the smallest node's CPUs shared among the workers)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from featcache.embedding.runner import extract

    # Only what the user gave: every default comes from the API's dataclasses.
    given = {k: v for k, v in vars(args).items() if k in OPTIONS and v is not None}
    result = extract(*from_options(**given), verbose=not args.json)
    if args.json:
        print_json(result.to_dict())
    return 0
