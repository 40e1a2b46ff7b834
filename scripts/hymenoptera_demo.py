"""Transfer learning on your own photos, measured: ants vs bees (hymenoptera).

Frozen MobileNetV2 features (real ImageNet weights) + logistic regression at
224x224 and 96x96, against a CNN trained from scratch on the same photos.
Prints a Markdown table (the README's "Your own photos" section):

    python scripts/hymenoptera_demo.py

Every row starts from the image files: "seconds" is the wall time from photos
to a trained head (scan, model build, embedding, fitting). Caches go to a
temporary folder unless --cache-dir is given (then a re-run is a cache hit
and the seconds say so).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("FEATCACHE_SHARED", REPO.parent / "shared"))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", default=str(SHARED / "datasets" / "hymenoptera"), help="train/ + val/ class folders")
    p.add_argument("--weights", default=str(SHARED / "weights" / "mobilenet_v2_1.0_imagenet_no_top.weights.h5"))
    p.add_argument("--sizes", default="224,96", help="input sizes for the frozen backbone (comma-separated)")
    p.add_argument("--head", default="logreg", help="head name for featcache.heads.make_head (default: logreg)")
    p.add_argument("--scratch-size", type=int, default=96, help="input size of the from-scratch CNN (default: 96)")
    p.add_argument("--scratch-epochs", type=int, default=30, help="epochs of the from-scratch CNN (default: 30)")
    p.add_argument("--no-scratch", action="store_true", help="leave out the from-scratch CNN row")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", help="keep the caches here (default: a temporary folder, so every row is measured from the files)")
    p.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    return p.parse_args()


def transfer_row(args, size: int, cache_dir: Path) -> dict:
    import featcache
    from featcache.heads import make_head

    t0 = time.perf_counter()
    print(f"... features at {size} px", file=sys.stderr, flush=True)
    with contextlib.redirect_stdout(sys.stderr):  # extract's lines and bar on stderr; stdout is the table
        res = featcache.extract(featcache.PhotoFolder(args.images), featcache.ModelSpec(weights=args.weights, image_size=size),
                                featcache.StoreSpec(out=cache_dir / f"hymenoptera_mobilenet_v2_{size}px.h5"), verbose=True)
    t_features = time.perf_counter() - t0
    cache = featcache.open_cache(res.path)
    X, y = cache.features("train"), cache.labels("train")
    t1 = time.perf_counter()
    head = make_head(args.head).fit(X, y)
    acc = head.score(cache.features("test"), cache.labels("test"))
    t_head = time.perf_counter() - t1
    return {
        "model": "MobileNetV2 (ImageNet, frozen) features", "size": size, "head": args.head,
        "train_images": len(y), "val_images": cache.sizes["test"], "val_accuracy": round(float(acc), 3),
        "seconds": round(t_features + t_head, 1), "seconds_features": round(t_features, 1),
        "seconds_head": round(t_head, 2), "cache_hit": res.hit, "skipped": len(res.skipped),
    }


def scratch_row(args) -> dict | None:
    try:
        from featcache.heads.scratch import ScratchCNN
    except ImportError:
        print("note: featcache.heads.scratch.ScratchCNN is not available in this checkout; the from-scratch row is left out", file=sys.stderr)
        return None
    from featcache.sources import images

    t0 = time.perf_counter()
    src = images.load(args.images, args.scratch_size)  # the same photos, decoded the same way
    train, test = src.splits["train"], src.splits["test"]
    from featcache.progress import epochs_text

    print(f"... a CNN from scratch on {len(train)} photos at {args.scratch_size} px, {epochs_text(args.scratch_epochs)}",
          file=sys.stderr, flush=True)
    model = ScratchCNN(epochs=args.scratch_epochs, seed=args.seed, verbose=True)  # each epoch's bar on stderr
    model.fit(train.read(0, len(train)), train.labels)
    acc = model.score(test.read(0, len(test)), test.labels)
    seconds = time.perf_counter() - t0
    return {
        "model": f"CNN from scratch ({args.scratch_epochs} epochs)", "size": args.scratch_size, "head": "-",
        "train_images": len(train), "val_images": len(test), "val_accuracy": round(float(acc), 3),
        "seconds": round(seconds, 1), "seconds_features": None, "seconds_head": None, "cache_hit": False,
        "skipped": len(src.skipped),
    }


def _said(row: dict) -> str:
    return f"{row['model']} at {row['size']} px: val accuracy {row['val_accuracy']:.3f} in {row['seconds']} s"


def table(rows: list[dict]) -> str:
    lines = ["| model | input | head | train images | val accuracy | seconds (photos to trained model) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        how = ""
        if r["seconds_features"] is not None:
            how = f" ({r['seconds_features']} features{', cache hit' if r['cache_hit'] else ''} + {r['seconds_head']} head)"
        lines.append(f"| {r['model']} | {r['size']}x{r['size']} | {r['head']} | {r['train_images']} | "
                     f"{r['val_accuracy']:.3f} | {r['seconds']}{how} |")
    return "\n".join(lines)


def main() -> int:
    args = parse_args()
    from featcache._lazy import keras

    keras()  # import TensorFlow once, before any clock starts
    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = Path(args.cache_dir) if args.cache_dir else Path(tmp)
        cache_dir.mkdir(parents=True, exist_ok=True)
        rows = []
        for size in (int(s) for s in args.sizes.split(",")):
            rows.append(transfer_row(args, size, cache_dir))
            print(f"... {_said(rows[-1])}", file=sys.stderr)  # the raw dict was printed (a new-user tester)
        if not args.no_scratch:
            row = scratch_row(args)
            if row:
                rows.append(row)
                print(f"... {_said(row)}", file=sys.stderr)
    val = rows[0]["val_images"]
    print(f"ants vs bees: {rows[0]['train_images']} training photos, {val} validation photos ({args.images})\n")
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
