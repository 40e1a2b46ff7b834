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


def layout_label(runs: int, threads: int) -> str:
    """``1 run x 1 thread``, ``4 runs x default threads`` (0: onnxruntime's default): counted as featcache counts
    (progress.counted); "1 run(s) x 1 thread(s)" was no count of the package's."""
    from featcache.progress import counted

    return f"{counted(runs, 'run')} x {counted(threads, 'thread') if threads else 'default threads'}"


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


def photo_batches(files: list[Path], size: int, batch: int, decode=None):
    """(batches as (start, end) rows of ``files``, ``read(batch)``: its photos decoded by featcache's pool to uint8 at
    ``size`` px (``decode(file)``: another decoder, e.g. one that counts its CPU), every batch decoded once): the
    photo benchmarks' reader and the decoded batches of their bare passes."""
    import numpy as np

    from featcache.sources import images as photos
    from featcache.sources.decode import decode_image

    one = decode or (lambda f: decode_image(f, size))
    batches = [(i, min(i + batch, len(files))) for i in range(0, len(files), batch)]

    def read(b):
        return np.stack(list(photos._pool().map(one, files[b[0] : b[1]])))

    return batches, read, [read(b) for b in batches]


def add_pass_options(p: argparse.ArgumentParser, rounds: int, images: int | None = None) -> None:
    """The options of a benchmark of the extractor's pass (this one's, bench_xnnpack's, the photo pipeline's): --weights;
    Fashion-MNIST test images (``images`` of them by default) or photos (make_jpeg_folder's options), or photos alone
    when ``images`` is None (then 224 px by default); --image-size, --layer, --batch, --rounds, --json."""
    from make_jpeg_folder import add_photo_source

    p.add_argument("--weights", required=True)
    if images is not None:
        p.add_argument("--fashion-dir", default="/usr/share/datasets/fashion-mnist")
        p.add_argument("--images", type=int, default=images, help=f"Fashion-MNIST test images (default {images})")
        add_photo_source(p, required=False)  # instead of Fashion-MNIST
        p.add_argument("--image-size", type=int)
    else:
        add_photo_source(p)
        p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--layer", help="tap this layer (default: the final one; an early one for smoke runs)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--rounds", type=int, default=rounds)
    p.add_argument("--json", help="also write the results here")


def converted_extractor(args: argparse.Namespace, size: int, raw: tuple[int, ...], tmp: Path):
    """(spec, ONNX file, seconds): MobileNetV2 with --weights tapped at --layer (default: its final layer), for uint8
    images of shape ``raw`` at ``size`` px, converted once by featcache's own conversion (into ``tmp``/runtimes)."""
    from featcache.embedding import runtimes
    from featcache.embedding.backbones import get_backbone

    weights = args.weights if args.weights in ("imagenet", "random") else str(Path(args.weights).resolve())
    bb = get_backbone("mobilenet_v2")
    spec = runtimes.ConversionSpec(bb.name, weights, size, (args.layer or bb.final_layer,), raw)
    t = time.perf_counter()
    onnx = runtimes.converted_model(spec, tmp / "runtimes", runtimes.OnnxRuntime().load)
    return spec, onnx, time.perf_counter() - t


def time_in_turns(forwards: dict, batches: list, n: int, rounds: int, also=None) -> dict[str, list[float]]:
    """{name: images/s per round}: each forward over ``batches`` (``n`` images), the forwards taking turns each round,
    their order alternating, so the machine's changes hit them alike. ``also(name)``: more timings of that turn, {name:
    images/s}. Each round is printed with the load average."""
    rates: dict[str, list[float]] = {}
    for r in range(rounds):
        for name, fn in (list(forwards.items()) if r % 2 == 0 else list(forwards.items())[::-1]):
            t = time.perf_counter()
            for b in batches:
                fn(b)
            rates.setdefault(name, []).append(round(n / (time.perf_counter() - t), 1))
            for k, v in (also(name) if also else {}).items():
                rates.setdefault(k, []).append(v)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]}" for k, v in rates.items()) + " images/s; load %.1f %.1f %.1f"
              % os.getloadavg(), flush=True)
    return rates


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

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_pass_options(p, rounds=7, images=2048)
    p.add_argument("--layouts", help="RUNSxTHREADS,... (default: 1x0, featcache's, then CORESx1)")
    p.add_argument("--pipeline", action="store_true", help="also time featcache.extract with each layout (Fashion-MNIST)")
    args = p.parse_args()
    cores = os.cpu_count() or 1
    shapes = [tuple(int(v) for v in x.split("x")) for x in args.layouts.split(",")] if args.layouts else [(1, 0), (cores, 1)]
    with tempfile.TemporaryDirectory() as tmp:
        batches, raw, size = batches_of(args, Path(tmp))
        spec, onnx, seconds = converted_extractor(args, size, raw, Path(tmp))
        n = sum(len(b) for b in batches)
        print(f"{n} images at {size} px, batch {args.batch}, {cores} cores; converted in {seconds:.1f} s", flush=True)
        forwards = {layout_label(r, th): layout_runtime(r, th).load(onnx) for r, th in shapes}
        first = [np.concatenate([fn(b)[0] for b in batches[:2]]) for fn in forwards.values()]
        differs = max(float(np.abs(f - first[0]).max()) for f in first)
        layouts = dict(zip(forwards, shapes))

        def also(name):  # featcache.extract with the layout just timed bare
            return {f"pipeline, {name}": pipeline(args, n, size, spec.weights, layouts[name], Path(tmp))} if args.pipeline else {}

        rates = time_in_turns(forwards, batches, n, args.rounds, also)
    report = {"images": n, "image_size": size, "cores": cores, "batch": args.batch, "max_abs_difference": differs, "rounds": rates,
              **paired_summary(rates, next(iter(forwards)))}
    print()
    for k in rates:
        print(f"{k:<28} {report['median'][k]:>8.1f} images/s  {report['ratio_to_first'][k]:.3f}x the first (median per round)")
    print(f"largest difference between layouts' features: {differs:.2e}")
    write_report(report, args.json)


def paired_summary(rates: dict, first, ratio: str = "ratio_to_first") -> dict:
    """Each setting's median images/s, and (under ``ratio``) the median per round of its ratio to ``first``'s (runs
    in turns)."""
    base = rates[first]
    return {"median": {k: statistics.median(v) for k, v in rates.items()},
            ratio: {k: round(statistics.median(a / b for a, b in zip(v, base)), 3) for k, v in rates.items()}}


def write_report(report: dict, path: str | None) -> None:
    """The report as JSON: to ``path`` when given, and as the last line of stdout (what the smoke tests read)."""
    if path:
        Path(path).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
