#!/usr/bin/env python3
"""Benchmark: ONNX Runtime's bare pass per batch size, the sizes taking turns in one process (issue 14).

featcache's ``--batch-size`` default (64) was set for TensorFlow. ONNX
Runtime runs a batch layer by layer, so a smaller batch keeps more of each
layer's activations in the CPU's caches (block_1_expand at 96 px: 48x48x96
floats, 0.9 MB per image); this times featcache's ``OnnxRuntime`` (its default
session, one run per batch) on the same uint8 images cut into batches of each
size, each round running every size once in turn (the order alternating),
and checks the features do not depend on the batch size. Sources as in
bench_ort_layouts.py (Fashion-MNIST test images at --image-size, default 96,
or JPEGs at 224 px).

    python scripts/bench_batch_size.py --weights ../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5 --images 2048 --sizes 8,16,32,64,128 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))


def main() -> None:
    import numpy as np

    from featcache.embedding import runtimes

    from bench_ort_layouts import batches_of, converted_extractor, paired_summary, write_report
    from make_jpeg_folder import add_photo_source

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", required=True)
    p.add_argument("--fashion-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--images", type=int, default=2048, help="Fashion-MNIST test images (default 2048)")
    add_photo_source(p, required=False)
    p.add_argument("--image-size", type=int)
    p.add_argument("--layer", help="tap this layer (default: the final one)")
    p.add_argument("--sizes", default="8,16,32,64,128", help="batch sizes, comma-separated (the first is the reference)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    args.batch = 10**9  # batches_of cuts by args.batch: one block, re-cut per size below
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        (images,), raw, size = batches_of(args, Path(tmp))
        _, onnx, _ = converted_extractor(args, size, raw, Path(tmp))
        forward = runtimes.OnnxRuntime().load(onnx)
        n = len(images)
        cut = {b: [images[i : i + b] for i in range(0, n, b)] for b in sizes}
        feats = {b: np.concatenate([forward(x)[0] for x in cut[b]]) for b in sizes}  # also the warm-up
        differs = max(float(np.abs(f - feats[sizes[0]]).max()) for f in feats.values())
        print(f"{n} images at {size} px, {os.cpu_count()} cores; load %.1f" % os.getloadavg()[0], flush=True)
        rates: dict[int, list[float]] = {b: [] for b in sizes}
        for r in range(args.rounds):
            for b in (sizes if r % 2 == 0 else sizes[::-1]):
                t = time.perf_counter()
                for x in cut[b]:
                    forward(x)
                rates[b].append(round(n / (time.perf_counter() - t), 1))
            print(f"round {r + 1}: " + ", ".join(f"batch {b} {v[-1]}" for b, v in rates.items())
                  + " images/s; load %.1f" % os.getloadavg()[0], flush=True)
    report = {"images": n, "image_size": size, "max_abs_difference": differs, "rounds": rates,
              **paired_summary(rates, sizes[0])}
    print()
    for b in sizes:
        print(f"batch {b:<5} {report['median'][b]:>8.1f} images/s  {report['ratio_to_first'][b]:.3f}x batch {sizes[0]} (median per round)")
    print(f"largest difference between batch sizes' features: {differs:.2e}")
    write_report(report, args.json)


if __name__ == "__main__":
    main()
