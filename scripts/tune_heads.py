"""How the heads' defaults were chosen: Keras head variants and logistic regression's C="cv", measured.

Usage (from the repository root):

    python scripts/tune_heads.py [--weights PATH] [--seeds 0,1] [--cache PATH] [--max-epochs N]

Runs on the lesson's cache (first 4,000 train / 3,000 test images), extracting
it first unless it is already there (a cache hit).
Prints a markdown table: variant, epochs run, test accuracy and fit seconds
per seed. Every variant is the lesson's Dropout -> Dense head; only training
changes (epochs, early stopping, dropout rate, L2 on the Dense kernel).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

VARIANTS = {
    "lesson preset (5 epochs)": dict(epochs=5, early_stopping=False, l2=0.0),
    "early stopping, patience 5": dict(epochs=200, patience=5, l2=0.0),
    "early stopping, patience 10": dict(epochs=200, patience=10, l2=0.0),
    "early stopping, patience 20": dict(epochs=300, patience=20, l2=0.0),
    "patience 10, dropout 0.5": dict(epochs=200, patience=10, l2=0.0, dropout=0.5),
    "patience 10, L2 1e-3": dict(epochs=200, patience=10, l2=1e-3),
    "patience 10, L2 1e-2 (default)": dict(epochs=200, patience=10, l2=1e-2),
    "patience 10, L2 3e-2": dict(epochs=200, patience=10, l2=3e-2),
    "patience 10, L2 1e-1": dict(epochs=200, patience=10, l2=1e-1),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--cache", help="use this cache instead of the lesson's (e.g. a tiny one for a smoke test)")
    ap.add_argument("--max-epochs", type=int, help="cap every variant's epochs (smoke tests; the table's numbers need none)")
    args = ap.parse_args()

    from featcache import FashionMNIST, ModelSpec, extract, open_cache
    from featcache.heads import DenseHead, LogRegHead
    from featcache.errors import cli_words
    from featcache.validate import check_seed, parse_list

    with cli_words():  # a command line's text, read as the CLI reads it (a Python call's numbers are numbers)
        seeds = [check_seed(s, "--seeds") for s in parse_list(args.seeds, "--seeds")]
    path = args.cache or extract(FashionMNIST(train_limit=4000, test_limit=3000), ModelSpec(weights=args.weights), verbose=True).path
    cache = open_cache(path)
    X, y, Xt, yt = cache.features("train"), cache.labels("train"), cache.features("test"), cache.labels("test")
    print(f"cache {path}: {len(y)} train / {len(yt)} test images, layer {cache.default_layer}\n")
    print("| head | " + " | ".join(f"seed {s}: epochs, accuracy, seconds" for s in seeds) + " |")
    print("| --- |" + " --- |" * len(seeds))
    for name, params in VARIANTS.items():
        cells = []
        for seed in seeds:
            t0 = time.perf_counter()
            if args.max_epochs:
                params = {**params, "epochs": min(params["epochs"], args.max_epochs)}
            head = DenseHead(seed=seed, n_classes=len(cache.class_names), **params).fit(X, y)
            cells.append(f"{head.epochs_run_}, {head.score(Xt, yt):.4f}, {time.perf_counter() - t0:.1f} s")
        print(f"| Keras: {name} | " + " | ".join(cells) + " |", flush=True)
    for C in ("cv", 0.03):
        cells = []
        for seed in seeds:
            t0 = time.perf_counter()
            head = LogRegHead(C=C, seed=seed).fit(X, y)
            cells.append(f"C={head.C_:g}, {head.score(Xt, yt):.4f}, {time.perf_counter() - t0:.1f} s")
        print(f"| logistic regression C={C} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
