#!/usr/bin/env python3
"""Benchmark: the full extraction pipeline against the bare forward pass.

In one run, on the same Fashion-MNIST images:
  1. bare forward pass on already-preprocessed arrays, two ways:
     `base.predict` and the same model called through a `tf.function`;
  2. the full pipeline, `featcache.extract` (reading, preprocessing,
     inference, HDF5 writes), into a fresh cache;
  3. peak RSS of extracting all 70,000 images (a subprocess, so its peak is
     its own), unless --skip-full.

    python scripts/bench_extract.py --weights ../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def bare_passes(weights: str, images, image_size: int, batch: int, repeats: int) -> dict[str, float]:
    import numpy as np

    from featcache._lazy import keras
    from featcache.embedding.backbones import get_backbone

    k = keras()
    import tensorflow as tf

    bb = get_backbone("mobilenet_v2")
    # Preprocess outside the timed region: this is the "bare" pass.
    x = np.concatenate([
        bb.preprocess_input(tf.image.resize(np.repeat(images[i : i + 1000, ..., None].astype("float32"), 3, -1), (image_size, image_size))).numpy()
        for i in range(0, len(images), 1000)
    ])
    base = bb.build(weights, image_size)
    model = k.Sequential([base, k.layers.GlobalAveragePooling2D()])
    fn = tf.function(lambda b: model(b, training=False), reduce_retracing=True)
    out = {}
    for name, run in (
        ("predict", lambda: model.predict(x, batch_size=batch, verbose=0)),
        ("tf_function", lambda: [fn(x[i : i + batch]) for i in range(0, len(x), batch)]),
    ):
        run()  # warm-up: tracing and oneDNN kernel selection
        best = min(_timed(run) for _ in range(repeats))
        out[name] = len(x) / best
    return out


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def pipeline(weights: str, data_dir: str | None, n: int, image_size: int, batch: int, repeats: int) -> float:
    import featcache

    rates = []
    for _ in range(repeats + 1):  # the first run includes tracing: dropped
        with tempfile.TemporaryDirectory() as tmp:
            res = featcache.extract(featcache.FashionMNIST(data_dir, train_limit=n, test_limit=batch),
                                    featcache.ModelSpec(weights=weights, image_size=image_size),
                                    featcache.StoreSpec(out=Path(tmp) / "c.h5", batch_size=batch))
            rates.append(res.images_per_s)
    return max(rates[1:])


def full_rss(weights: str, data_dir: str | None, batch: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "featcache", "extract", "--weights", weights, "--batch-size", str(batch),
               "--out", str(Path(tmp) / "full.h5"), "--json"] + (["--data-dir", data_dir] if data_dir else [])
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if proc.returncode:
            raise SystemExit(proc.stderr)
        res = json.loads(proc.stdout)
        size = (Path(tmp) / "full.h5").stat().st_size
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"images": res["images"], "images_per_s": res["images_per_s"], "wall_s": round(wall, 1),
            "peak_rss_mb": round(peak_kb / 1024, 1), "cache_mb": round(size / 2**20, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", required=True)
    p.add_argument("--data-dir")
    p.add_argument("-n", type=int, default=4096, help="images for the speed comparison")
    p.add_argument("--image-size", type=int, default=96)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--skip-full", action="store_true", help="skip the 70,000-image peak-memory run")
    args = p.parse_args()

    # The 70,000-image run goes first: a child's ru_maxrss starts from its
    # parent's size at fork, so the parent must not have loaded TensorFlow yet.
    full = None if args.skip_full else full_rss(args.weights, args.data_dir, args.batch_size)

    from featcache.sources import fashion_mnist

    images = fashion_mnist.load(args.data_dir, train_limit=args.n).splits["train"].read(0, args.n)
    bare = bare_passes(args.weights, images, args.image_size, args.batch_size, args.repeats)
    pipe = pipeline(args.weights, args.data_dir, args.n, args.image_size, args.batch_size, args.repeats)
    best_bare = max(bare.values())
    report = {
        "images": args.n, "image_size": args.image_size, "batch_size": args.batch_size, "cpus": os.cpu_count(),
        "bare_predict_images_per_s": round(bare["predict"], 1),
        "bare_tf_function_images_per_s": round(bare["tf_function"], 1),
        "pipeline_images_per_s": round(pipe, 1),
        "pipeline_vs_faster_bare": round(pipe / best_bare, 3),
    }
    if full:
        report["full_70000"] = full
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
