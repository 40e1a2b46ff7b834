#!/usr/bin/env python3
"""Benchmark: ONNX Runtime per session layout, the layouts taking turns in one process (issue 14).

A layout RUNSxTHREADS cuts each batch into RUNS parts run at once on one
session with THREADS intra-op threads (0: ONNX Runtime's default, one per
core). featcache's ``OnnxRuntime`` is 1x0; the alternative measured was one
part per core on one thread each (2x1 here), which made the bare pass
faster but not the pipeline, so it stayed here. This times the layouts
(default 1x0 and CORESx1, or --layouts) on the same uint8 batches: Fashion-MNIST test
images (raw 28x28, resized in the graph to --image-size, default 96) or JPEGs
decoded at --image-size (--photos DIR / --make-photos N, default 224).
Each round runs every layout once, in turn (the order alternating), and the
table gives the medians and the median per-round ratio to the first layout.
It also checks that every layout gives the same features. With --pipeline
(Fashion-MNIST only) each round also times ``featcache.extract`` of the same
images with each layout as the ``onnxruntime`` runtime (read, run, write the
HDF5 cache; featcache's images/s), so the layouts are compared where the
pipeline's own threads need CPU too.

    python scripts/bench_ort_layouts.py --weights ../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5 --images 2048 --rounds 7
    python scripts/bench_ort_layouts.py --weights W --make-photos 512 --rounds 7
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))


def batches_of(args, tmp: Path):
    """(uint8 batches, raw shape, image size) of the chosen source."""
    import numpy as np

    if args.photos or args.make_photos:
        from featcache.sources import images as photos
        from featcache.sources.decode import decode_image

        from make_jpeg_folder import photo_source

        size = args.image_size or 224
        files = photo_source(args, tmp)
        images = np.stack(list(photos._pool().map(lambda f: decode_image(f, size), files)))
        raw = (size, size, 3)
    else:
        size = args.image_size or 96
        with gzip.open(Path(args.fashion_dir) / "t10k-images-idx3-ubyte.gz") as f:
            images = np.frombuffer(f.read()[16:], np.uint8).reshape(-1, 28, 28)[: args.images]
        raw = (28, 28)
    return [images[i : i + args.batch] for i in range(0, len(images), args.batch)], raw, size


def split_forward(one, runs: int):
    """``one`` (a forward) run on ``runs`` parts of each batch at once (``session.run`` releases the GIL); rows in order."""
    import numpy as np
    from concurrent.futures import ThreadPoolExecutor

    if runs == 1:
        return one
    pool = ThreadPoolExecutor(runs)

    def forward(x):
        parts = list(pool.map(one, np.array_split(x, min(runs, len(x)))))
        return [np.concatenate([part[i] for part in parts]) for i in range(len(parts[0]))]

    return forward


def layout_runtime(runs: int, threads: int):
    """featcache's OnnxRuntime with ``threads`` intra-op threads (0: its default), each batch cut into ``runs`` parts."""
    from featcache.embedding import runtimes

    class Layout(runtimes.OnnxRuntime):
        def load(self, path):
            return split_forward(super().load(path), runs)

    return Layout(threads=threads or None)


def pipeline(args, n: int, size: int, weights: str, layout: tuple[int, int], tmp: Path) -> float:
    """featcache.extract's images/s for the first ``n`` test images, with ``layout`` as the onnxruntime runtime."""
    import featcache
    from featcache.embedding import runtimes
    from featcache.embedding.engines.local import LocalEngine

    os.environ["FEATCACHE_RUNTIME_DIR"] = str(tmp / "runtimes")  # the conversion made above
    saved = runtimes.REGISTRY["onnxruntime"]
    runtimes.REGISTRY["onnxruntime"] = layout_runtime(*layout)
    try:
        out = tmp / "pipeline.h5"
        res = featcache.extract(featcache.FashionMNIST(args.fashion_dir, train_limit=1, test_limit=n - 1),
                                featcache.ModelSpec(weights=weights, image_size=size, layers=args.layer),
                                featcache.StoreSpec(out=out, batch_size=args.batch), LocalEngine(runtime="onnxruntime"))
        out.unlink()
        return round(res.images_per_s, 1)
    finally:
        runtimes.REGISTRY["onnxruntime"] = saved


def main() -> None:
    import numpy as np

    from featcache.embedding import runtimes
    from featcache.embedding.backbones import get_backbone

    from make_jpeg_folder import add_photo_source

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", required=True)
    p.add_argument("--fashion-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--images", type=int, default=2048, help="Fashion-MNIST test images (default 2048)")
    add_photo_source(p, required=False)  # instead of Fashion-MNIST
    p.add_argument("--image-size", type=int)
    p.add_argument("--layer", help="tap this layer (default: the final one; an early one for smoke runs)")
    p.add_argument("--layouts", help="RUNSxTHREADS,... (default: 1x0, featcache's, then CORESx1)")
    p.add_argument("--pipeline", action="store_true", help="also time featcache.extract with each layout (Fashion-MNIST)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    weights = args.weights if args.weights in ("imagenet", "random") else str(Path(args.weights).resolve())
    cores = os.cpu_count() or 1
    shapes = [tuple(int(v) for v in x.split("x")) for x in args.layouts.split(",")] if args.layouts else [(1, 0), (cores, 1)]
    with tempfile.TemporaryDirectory() as tmp:
        batches, raw, size = batches_of(args, Path(tmp))
        bb = get_backbone("mobilenet_v2")
        spec = runtimes.ConversionSpec(bb.name, weights, size, (args.layer or bb.final_layer,), raw)
        t = time.perf_counter()
        onnx = runtimes.converted_model(spec, Path(tmp) / "runtimes", runtimes.OnnxRuntime().load)
        n = sum(len(b) for b in batches)
        print(f"{n} images at {size} px, batch {args.batch}, {cores} cores; converted in {time.perf_counter() - t:.1f} s", flush=True)
        forwards = {f"{r} run(s) x {th or 'default'} thread(s)": layout_runtime(r, th).load(onnx) for r, th in shapes}
        first = [np.concatenate([fn(b)[0] for b in batches[:2]]) for fn in forwards.values()]
        differs = max(float(np.abs(f - first[0]).max()) for f in first)
        rates: dict[str, list[float]] = {}
        layouts = dict(zip(forwards, shapes))
        for r in range(args.rounds):
            for name, fn in (list(forwards.items()) if r % 2 == 0 else list(forwards.items())[::-1]):
                t = time.perf_counter()
                for b in batches:
                    fn(b)
                rates.setdefault(name, []).append(round(n / (time.perf_counter() - t), 1))
                if args.pipeline:
                    rates.setdefault(f"pipeline, {name}", []).append(pipeline(args, n, size, weights, layouts[name], Path(tmp)))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]}" for k, v in rates.items()) + " images/s; load %.1f %.1f %.1f"
                  % os.getloadavg(), flush=True)
    report = {"images": n, "image_size": size, "cores": cores, "batch": args.batch, "max_abs_difference": differs, "rounds": rates,
              **paired_summary(rates, next(iter(forwards)))}
    print()
    for k in rates:
        print(f"{k:<28} {report['median'][k]:>8.1f} images/s  {report['ratio_to_first'][k]:.3f}x the first (median per round)")
    print(f"largest difference between layouts' features: {differs:.2e}")
    write_report(report, args.json)


def paired_summary(rates: dict, first) -> dict:
    """Each setting's median images/s, and the median per round of its ratio to ``first``'s (runs in turns)."""
    base = rates[first]
    return {"median": {k: statistics.median(v) for k, v in rates.items()},
            "ratio_to_first": {k: round(statistics.median(a / b for a, b in zip(v, base)), 3) for k, v in rates.items()}}


def write_report(report: dict, path: str | None) -> None:
    """The report as JSON: to ``path`` when given, and as the last line of stdout (what the smoke tests read)."""
    if path:
        Path(path).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
