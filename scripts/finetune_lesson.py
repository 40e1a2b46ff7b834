#!/usr/bin/env python3
"""The lesson's fine-tuning step, measured: frozen head vs fine-tuned, on its 4,000 images.

1. the lesson's cache (first 4,000 train / 3,000 test Fashion-MNIST images,
   96 px, MobileNetV2), extracted or reused;
2. Keras heads trained on the cached features with ``featcache.train`` (the
   ``lesson`` preset's 5 epochs, and featcache's ``default``), saved;
3. ``featcache.finetune`` on that head for each of ``CONFIGS`` (the lesson's
   recipe: last 20 base layers, lr 1e-5), which also evaluates the frozen
   head end to end on the same 3,000 test images.

Writes the figures to ``--json`` (default docs/finetune_lesson.json) and
prints the README's Markdown table.

    python scripts/finetune_lesson.py --weights ../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


# The README's table: the lesson's recipe from featcache's default head and
# from the lesson's 5-epoch head, and a deliberately aggressive run (many
# layers, a head-sized learning rate) to show what the lesson warns about.
CONFIGS = [
    dict(name="lesson recipe, default head", head_preset="default", unfreeze=20, lr=1e-5, epochs=10, patience=3),
    dict(name="lesson recipe, lesson head", head_preset="lesson", unfreeze=20, lr=1e-5, epochs=10, patience=3),
    dict(name="too aggressive", head_preset="default", unfreeze=100, lr=1e-3, epochs=3, patience=2),
    dict(name="lesson recipe, longer", head_preset="default", unfreeze=20, lr=1e-5, epochs=30, patience=4),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", default="../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5")
    ap.add_argument("--only", type=int, nargs="*", help="run only these CONFIGS (0-based)")
    ap.add_argument("--epochs", type=int, help="override every config's epochs (quick checks)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--json", default="docs/finetune_lesson.json", help="where to write the figures")
    # The lesson's split by default; smaller values (and --data-dir, --image-size) are for smoke tests on tiny inputs.
    ap.add_argument("--data-dir", help="folder with the four Fashion-MNIST IDX .gz files (default: as featcache extract)")
    ap.add_argument("--train-limit", type=int, default=4000, help="first N training images (default: 4000, the lesson's)")
    ap.add_argument("--test-limit", type=int, default=3000, help="first N test images (default: 3000, the lesson's)")
    ap.add_argument("--image-size", type=int, help="input size in pixels (default: 96, the lesson's)")
    args = ap.parse_args(argv)

    import featcache
    from featcache import paths
    from featcache._lazy import keras

    res = featcache.extract(featcache.FashionMNIST(args.data_dir, train_limit=args.train_limit, test_limit=args.test_limit),
                            featcache.ModelSpec(weights=args.weights, image_size=args.image_size), verbose=True)
    cache = featcache.open_cache(res.path)
    heads: dict[str, dict] = {}
    rows = []
    for i, cfg in enumerate(CONFIGS):
        if args.only is not None and i not in args.only:
            continue
        cfg = {**cfg, **({"epochs": args.epochs} if args.epochs else {})}
        preset = cfg["head_preset"]
        if preset not in heads:  # the same as: featcache train CACHE --head keras --preset PRESET --out ...
            t = featcache.train(cache, "keras", preset=preset, out=paths.home() / "heads" / f"lesson_{preset}.keras")
            heads[preset] = dict(path=t.path, epochs=t.details.get("epochs_run"), seconds=round(t.fit_seconds, 2),
                                 test_accuracy_cached=t.accuracy)
        h = heads[preset]
        print(f"\n== {cfg['name']}: unfreeze {cfg['unfreeze']}, lr {cfg['lr']:g}, up to {cfg['epochs']} epochs")
        r = featcache.finetune(h["path"], weights=args.weights, unfreeze=cfg["unfreeze"], learning_rate=cfg["lr"],
                               epochs=cfg["epochs"], patience=cfg["patience"], batch_size=args.batch_size,
                               out=paths.home() / "models" / f"lesson_{i}_finetuned.keras")
        rows.append({"config": cfg, "head": {k: str(v) if k == "path" else v for k, v in h.items()}, **r.to_dict()})

    k = keras()
    figures = {
        "command": " ".join(["python", Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "keras_backend": k.backend.backend(), "keras": k.__version__},
        "runs": rows,
    }
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(figures, indent=2, default=str) + "\n")
    print("\n| run | unfreeze, lr | frozen val | val per epoch | kept | frozen test | fine-tuned test | s/epoch |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        cfg = row["config"]
        vals = [f"{e['val_accuracy']:.3f}" for e in row["epochs"]]
        val = " / ".join(vals) if len(vals) <= 10 else " / ".join(vals[:3] + ["..."] + vals[-3:]) + f" ({len(vals)} epochs)"
        kept = f"epoch {row['best_epoch']}" if row["improved"] else "frozen head (worse)"
        print(f"| {cfg['name']} ({row['head']['epochs']}-epoch head) | {cfg['unfreeze']}, {cfg['lr']:g} | "
              f"{row['frozen_val_accuracy']:.4f} | {val} | {kept} | {row['frozen_test_accuracy']:.4f} | "
              f"{row['test_accuracy']:.4f} | {row['seconds_per_epoch']:.0f} |")
    print(f"figures -> {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
