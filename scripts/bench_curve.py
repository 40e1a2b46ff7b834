#!/usr/bin/env python3
"""Benchmark: a whole learning curve from cached features, against one point
of the same curve on the end-to-end path.

In one run, on all 60,000 Fashion-MNIST training images (and the full
10,000-image test split):
  1. ``featcache.learning_curve`` with >= 9 sizes from 100 to 60,000, 3 seeds,
     both heads (logreg, and the Keras head with the lesson's training),
     ``--jobs`` processes, into a fresh folder (no resume): wall seconds;
  2. one point of the same curve on the end-to-end path: raw 28x28 images ->
     Preprocess -> frozen MobileNetV2 -> pooling -> Dropout -> Dense
     (``build_end_to_end(..., raw_input_shape=(28, 28))``), fitted with the
     same training (5 epochs, batch 64, 20 % validation split) on the same
     nested subset (seed 0, ``--e2e-size`` images), then scored on the test
     split; the whole curve's Keras points on that path are extrapolated
     (fit time proportional to size, scoring a fixed cost per point).

The cache is made first if it is missing (~2-3 min on 2 cores):

    python scripts/bench_curve.py --weights ../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_WEIGHTS = str(Path(__file__).resolve().parents[2] / "shared" / "weights" / "mobilenet_v2_1.0_imagenet_no_top.weights.h5")
SIZES = "100,250,500,1000,2000,4000,10000,25000,60000"


def end_to_end_point(cache, weights: str, size: int, seed: int, params: dict) -> dict:
    """Fit and score one curve point with images through the frozen base every epoch."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from featcache._lazy import keras
    from featcache.analysis.curve import _load_images, training_rows
    from featcache.deploy.endtoend import build_end_to_end
    from featcache.heads.dense import STEPS_PER_EXECUTION

    k = keras()
    X, y, X_test, y_test = _load_images(str(cache.path), os.path.getmtime(cache.path))
    rows = training_rows(cache.labels("train"), [size], seed)[size]
    m = cache.meta
    k.utils.set_random_seed(seed)
    t0 = time.perf_counter()
    model = build_end_to_end(m["backbone"], weights, m["image_size"], len(cache.class_names), raw_input_shape=X.shape[1:], dropout=params["dropout"])
    model.compile(optimizer=k.optimizers.Adam(learning_rate=params["learning_rate"]),
                  loss=k.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
                  steps_per_execution=STEPS_PER_EXECUTION)
    build = time.perf_counter() - t0
    with threadpool_limits(1):
        t0 = time.perf_counter()
        model.fit(X[rows], y[rows], epochs=params["epochs"], batch_size=params["batch_size"],
                  validation_split=params["validation_split"], verbose=0)
        fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        acc = float(np.mean(np.argmax(model.predict(X_test, batch_size=256, verbose=0), axis=1) == y_test))
        score = time.perf_counter() - t0
    return {"size": size, "seed": seed, "build_seconds": round(build, 2), "fit_seconds": round(fit, 2),
            "score_seconds": round(score, 2), "accuracy": acc}


def compare_backends(cache, sizes: list[int], seeds: int) -> dict:
    """The same small curve with --jobs 1, loky processes x2 and threads x2: wall seconds, and do the numbers agree?"""
    from featcache.analysis.curve import learning_curve, tasks

    out, ref = {}, None
    for name, backend, jobs in (("jobs1", "loky", 1), ("loky2", "loky", 2), ("threads2", "threading", 2)):
        tasks.BACKEND = backend
        with tempfile.TemporaryDirectory(prefix="bench_curve_") as tmp:
            t0 = time.perf_counter()
            res = learning_curve(cache, sizes, seeds=seeds, out=Path(tmp) / name, jobs=jobs, plot=False, verbose=False)
            wall = time.perf_counter() - t0
        acc = {(r["head"], r["seed"], r["size"]): r["accuracy"] for r in res.rows}
        ref = ref or acc
        out[name] = {"wall_seconds": round(wall, 1), "same_numbers_as_jobs1": acc == ref, "load_avg_1min": round(os.getloadavg()[0], 1)}
        print(f"{name}: {len(acc)} fits in {wall:.1f} s, same numbers as --jobs 1: {acc == ref}", flush=True)
    tasks.BACKEND = "loky"
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cache", help="cache of the full train+test splits (default: made or found by 'featcache extract --weights W')")
    p.add_argument("--weights", default=DEFAULT_WEIGHTS, help="weights file for the cache and the end-to-end model")
    p.add_argument("--sizes", default=SIZES, help=f"curve sizes (default: {SIZES})")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--e2e-size", type=int, default=4000, help="size of the end-to-end point (default: 4000, the lesson's)")
    p.add_argument("--skip-e2e", action="store_true", help="time the curve only")
    p.add_argument("--compare-backends", action="store_true",
                   help="also run a 16-fit curve (sizes 100,500,2000,8000, 2 seeds) with --jobs 1, 2 processes and 2 threads")
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args()

    import featcache
    from featcache.analysis.curve import learning_curve
    from featcache.validate import parse_sizes

    t0 = time.perf_counter()
    path = args.cache or featcache.extract(featcache.FashionMNIST(), featcache.ModelSpec(weights=args.weights), verbose=True).path
    cache = featcache.open_cache(path)
    prep = time.perf_counter() - t0
    m = cache.meta
    from featcache.embedding.backbones import weights_identity

    if not args.skip_e2e and weights_identity(args.weights, m["backbone"], int(m["image_size"])) != m["weights"]:
        sys.exit(f"bench_curve: error: {path} was not extracted with {args.weights}; pass the cache's own --weights")
    extraction = m.get("extract_seconds") or (
        datetime.fromisoformat(m["completed"]) - datetime.fromisoformat(m["created"])).total_seconds()
    print(f"cache {path}: {cache.sizes['train']} train / {cache.sizes['test']} test, {m['backbone']} {m['image_size']}px; "
          f"extraction took {extraction:.0f} s")

    sizes = parse_sizes(args.sizes)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_curve_") as tmp:
        t0 = time.perf_counter()
        res = learning_curve(cache, sizes, seeds=args.seeds, heads=("logreg", "keras"), out=Path(tmp) / "curve", jobs=args.jobs,
                             verbose=True)
        curve_wall = time.perf_counter() - t0
        png = Path(tmp) / "curve" / "curve.png"
        keep = Path(args.json).with_suffix(".png") if args.json else None
        if keep:
            keep.write_bytes(png.read_bytes())
    by_head = {h: round(sum(r["fit_seconds"] or 0.0 for r in res.rows if r["head"] == h), 1) for h in ("logreg", "keras")}
    top = {h: round(sum(r["fit_seconds"] or 0.0 for r in res.rows if r["head"] == h and r["size"] == sizes[-1]), 1) for h in by_head}
    # the spread over seeds that curve.png draws as a band: docs/results.md quotes it
    band = {h: {str(n): [min(a), max(a)] for n in sizes
                for a in [[r["accuracy"] for r in res.rows if r["head"] == h and r["size"] == n]] if a} for h in by_head}
    out = {
        "cpus": os.cpu_count(), "load_avg_before": [round(x, 1) for x in load_before], "sizes": sizes, "seeds": args.seeds, "jobs": args.jobs,
        "fits": len(res.rows), "curve_wall_seconds": round(curve_wall, 1), "fit_seconds_by_head": by_head,
        "fit_seconds_at_largest_size": top, "summary": res.meta["summary"], "seed_band": band, "extraction_seconds": round(extraction, 1),
        "cache_prep_seconds": round(prep, 1),
    }
    print(f"curve: {len(res.rows)} fits in {curve_wall:.1f} s wall with --jobs {args.jobs} "
          f"(fit seconds summed: logreg {by_head['logreg']}, keras {by_head['keras']}; at {sizes[-1]}: {top})")
    if not args.skip_e2e:
        e2e = end_to_end_point(cache, args.weights, args.e2e_size, 0, res.meta["head_params"]["keras"])
        per_image = e2e["fit_seconds"] / args.e2e_size
        keras_points = [r for r in res.rows if r["head"] == "keras"]
        estimate = sum(e2e["build_seconds"] + per_image * r["size"] + e2e["score_seconds"] for r in keras_points)
        feat_point = next(r for r in keras_points if r["size"] == args.e2e_size and r["seed"] == 0)
        out["end_to_end"] = {**e2e, "same_point_from_cache": {"fit_seconds": round(feat_point["fit_seconds"], 2),
                                                              "accuracy": feat_point["accuracy"]},
                             "curve_keras_points_estimate_seconds": round(estimate, 0),
                             "ratio_vs_curve": round(estimate / curve_wall, 1),
                             "ratio_vs_curve_plus_extraction": round(estimate / (curve_wall + extraction), 1)}
        print(f"end-to-end point (seed 0, {args.e2e_size} images): build {e2e['build_seconds']} s, fit {e2e['fit_seconds']} s, "
              f"score {e2e['score_seconds']} s, accuracy {e2e['accuracy']:.4f} "
              f"(cached features, same point: fit {feat_point['fit_seconds']:.2f} s, accuracy {feat_point['accuracy']:.4f})")
        print(f"the curve's {len(keras_points)} Keras points end to end: ~{estimate:.0f} s = {estimate / curve_wall:.0f}x the whole "
              f"cached curve ({curve_wall:.1f} s, both heads), {estimate / (curve_wall + extraction):.0f}x with the one-time extraction")
    if args.compare_backends:
        out["backends"] = compare_backends(cache, [100, 500, 2000, 8000], 2)
    out["load_avg_after"] = [round(x, 1) for x in os.getloadavg()]
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
