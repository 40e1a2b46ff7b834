#!/usr/bin/env python3
"""Benchmark: what several layers cost, and what truncating the network saves.

In one run, on the same Fashion-MNIST images:
  1. extraction of every block (``--layers blocks``: 16 block activations +
     the final output, one forward pass) against the final output only:
     ``featcache.extract`` into fresh caches, the two alternated, best of
     ``--repeats`` each (model build and tracing are outside the clock);
     and the same two extractor models' forward pass alone (no reading,
     no HDF5 writes), to tell inference from I/O;
  2. the end-to-end model truncated at ``--layer`` (base up to that layer +
     pooling + dense head, raw 28x28 images in) against the full network:
     parameters, multiply-adds per image, saved ``.keras`` size and images/s
     of the forward pass (best of ``--repeats``, the two alternated);
  3. with ``--export-heads``, the same for real head files through
     ``featcache export`` (e.g. the lesson's heads on ``out_relu`` and on
     ``block_13_expand_relu``).

    python scripts/bench_layers.py --weights ../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5 \
        [--export-heads data/runs/lesson/heads/logreg_cv.joblib data/runs/lesson/heads/best_block_13_expand_relu_logreg.joblib]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def extraction(weights: str, data_dir: str | None, n: int, image_size: int, batch: int, repeats: int) -> dict:
    import featcache

    seconds: dict[str, list[float]] = {"final": [], "blocks": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            for name, layers in (("final", None), ("blocks", "blocks")):
                res = featcache.extract(featcache.FashionMNIST(data_dir, train_limit=n, test_limit=batch),
                                        featcache.ModelSpec(weights=weights, image_size=image_size, layers=layers),
                                        featcache.StoreSpec(out=Path(tmp) / f"{name}_{i}.h5", batch_size=batch))
                seconds[name].append(res.seconds)
        size = {name: (Path(tmp) / f"{name}_0.h5").stat().st_size for name in seconds}
    images = n + batch
    best = {name: min(s) for name, s in seconds.items()}
    return {
        "images": images,
        "final_only_s": round(best["final"], 2), "final_only_images_per_s": round(images / best["final"], 1),
        "blocks_s": round(best["blocks"], 2), "blocks_images_per_s": round(images / best["blocks"], 1),
        "blocks_over_final": round(best["blocks"] / best["final"], 3),
        # On a loaded machine the best runs can flatter either side; the median ratio is the other view.
        "blocks_over_final_median": round(statistics.median(seconds["blocks"]) / statistics.median(seconds["final"]), 3),
        "all_runs_s": {k: [round(x, 2) for x in v] for k, v in seconds.items()},
        "cache_mb": {k: round(v / 2**20, 1) for k, v in size.items()},
    }


def forward_only(weights: str, images, image_size: int, batch: int, repeats: int) -> dict:
    """The extractor's forward pass alone (no reading, no HDF5): 1 pooled output against 17."""
    from featcache.embedding.backbones import get_backbone, resolve_layers
    from featcache.embedding.mapper import build_extractor, compiled

    bb = get_backbone("mobilenet_v2")
    runs = {name: compiled(build_extractor(bb, weights, image_size, resolve_layers(bb, layers), images.shape[1:]), batch)
            for name, layers in (("final", None), ("blocks", "blocks"))}
    for run in runs.values():
        run(images[:batch])  # trace before the clock
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            t = time.perf_counter()
            for i in range(0, len(images), batch):
                run(images[i : i + batch])
            times[name].append(time.perf_counter() - t)
    return {
        "final_only_images_per_s": round(len(images) / min(times["final"]), 1),
        "blocks_images_per_s": round(len(images) / min(times["blocks"]), 1),
        "blocks_over_final": round(min(times["blocks"]) / min(times["final"]), 3),
        "blocks_over_final_median": round(statistics.median(times["blocks"]) / statistics.median(times["final"]), 3),
    }


def multiply_adds(model) -> int:
    """Multiply-adds of one image through the base's convolutions (what dominates its cost)."""
    total = 0
    for layer in model.get_layer("base").layers:
        kind = type(layer).__name__
        if kind in ("Conv2D", "DepthwiseConv2D"):
            h, w, c_out = layer.output.shape[1:]
            kh, kw = layer.kernel.shape[:2]
            total += h * w * c_out * kh * kw * (layer.kernel.shape[2] if kind == "Conv2D" else 1)
    return int(total)


def truncated(weights: str, images, layer: str, image_size: int, batch: int, repeats: int) -> dict:
    from featcache.deploy.endtoend import build_end_to_end, parameter_counts
    from featcache.embedding.mapper import compiled

    models = {"full": build_end_to_end("mobilenet_v2", weights, image_size, 10, raw_input_shape=images.shape[1:]),
              "truncated": build_end_to_end("mobilenet_v2", weights, image_size, 10, layer=layer, raw_input_shape=images.shape[1:])}
    runs = {name: compiled(m, batch) for name, m in models.items()}
    for run in runs.values():
        run(images[:batch])  # trace before the clock
    best = {name: float("inf") for name in models}
    for _ in range(repeats):
        for name, run in runs.items():  # alternated, so load changes hit both alike
            t = time.perf_counter()
            for i in range(0, len(images), batch):
                run(images[i : i + batch])
            best[name] = min(best[name], time.perf_counter() - t)
    out = {}
    for name, model in models.items():
        base = model.get_layer("base")
        with tempfile.TemporaryDirectory() as tmp:
            model.save(Path(tmp) / "m.keras")
            file_mb = (Path(tmp) / "m.keras").stat().st_size / 2**20
        out[name] = {"layer": base.layers[-1].name, "params": parameter_counts(model)["total"], "base_layers": len(base.layers),
                     "mega_multiply_adds": round(multiply_adds(model) / 1e6, 1), "file_mb": round(file_mb, 2),
                     "images_per_s": round(len(images) / best[name], 1)}
    out["params_ratio"] = round(out["truncated"]["params"] / out["full"]["params"], 3)
    out["multiply_adds_ratio"] = round(out["truncated"]["mega_multiply_adds"] / out["full"]["mega_multiply_adds"], 3)
    out["speedup"] = round(out["truncated"]["images_per_s"] / out["full"]["images_per_s"], 2)
    return out


def exported(weights: str, heads: list[str], images, batch: int, repeats: int) -> dict:
    """``featcache export`` of each head file, then its raw-images -> probabilities speed and file size."""
    import featcache
    from featcache.embedding.mapper import compiled

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for i, head in enumerate(heads):
            path = featcache.export(head, Path(tmp) / f"m{i}.keras", weights=weights, verbose=False).path
            model, meta = featcache.load_model(path)
            runs[head] = compiled(model, batch)
            runs[head](images[:batch, ..., None])  # trace before the clock
            out[head] = {"layer": meta["layer"], "head": meta["head"], "params": int(model.count_params()),
                         "file_mb": round(path.stat().st_size / 2**20, 2)}
        best = {h: float("inf") for h in heads}
        for _ in range(repeats):
            for h, run in runs.items():
                t = time.perf_counter()
                for i in range(0, len(images), batch):
                    run(images[i : i + batch, ..., None])
                best[h] = min(best[h], time.perf_counter() - t)
        for h in heads:
            out[h]["images_per_s"] = round(len(images) / best[h], 1)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", required=True)
    p.add_argument("--data-dir")
    p.add_argument("-n", type=int, default=2048, help="training images per extraction run and per forward-pass timing")
    p.add_argument("--image-size", type=int, default=96)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--layer", default="block_13_expand_relu", help="where the truncated model ends")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--export-heads", nargs="+", metavar="HEAD",
                   help="also export these head files (e.g. the lesson's out_relu and block_13 heads) and time the models")
    args = p.parse_args()

    from featcache.sources import fashion_mnist

    report = {"cpus": os.cpu_count(), "image_size": args.image_size, "batch_size": args.batch_size,
              "load_average_at_start": [round(x, 1) for x in os.getloadavg()]}
    report["extraction"] = extraction(args.weights, args.data_dir, args.n, args.image_size, args.batch_size, args.repeats)
    images = fashion_mnist.load(args.data_dir, train_limit=args.n).splits["train"].read(0, args.n)
    report["forward_only"] = forward_only(args.weights, images, args.image_size, args.batch_size, args.repeats)
    report["end_to_end"] = truncated(args.weights, images, args.layer, args.image_size, args.batch_size, args.repeats)
    if args.export_heads:
        report["exported"] = exported(args.weights, args.export_heads, images, args.batch_size, args.repeats)
    report["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
