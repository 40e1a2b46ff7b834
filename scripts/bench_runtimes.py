#!/usr/bin/env python3
"""Benchmark: the inference runtimes side by side, on the same images, in one run (issue 14).

For each case it builds the extractor once per runtime (the conversion to ONNX
is timed apart, into a fresh runtimes folder), then times the bare forward
pass (uint8 batches of --batch already in memory -> pooled features) of every
runtime on the same images. The runtimes take turns chunk by chunk (a chunk
is --chunk images), so a change in the machine's load hits all of them alike;
images/s is each runtime's images over its summed time, and the ratio is to
TensorFlow's in the same run. The load average is printed with every case.

Cases: Fashion-MNIST test images at 96 px (--n96, raw 28x28), the hymenoptera
photos at 224 px (decoded by featcache's decoder at 224, as extraction does),
and --generated photo-sized JPEGs at 224 px. For the generated folder it also
times the decoding alone (one thread, and featcache's thread pool) to show
whether decoding keeps up with the fastest runtime.

    python scripts/bench_runtimes.py --weights ../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5 --json out.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import numpy as np  # noqa: E402


def load() -> str:
    return "load %.1f %.1f %.1f" % os.getloadavg()


def fashion(data_dir: Path, n: int) -> np.ndarray:
    with gzip.open(data_dir / "t10k-images-idx3-ubyte.gz") as f:
        test = np.frombuffer(f.read()[16:], np.uint8).reshape(-1, 28, 28)
    if n <= len(test):
        return test[:n]
    with gzip.open(data_dir / "train-images-idx3-ubyte.gz") as f:
        train = np.frombuffer(f.read()[16:], np.uint8).reshape(-1, 28, 28)
    return np.concatenate([test, train])[:n]


def photo_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))


def decode_all(files: list[Path], size: int, threads: int) -> tuple[np.ndarray, float]:
    from concurrent.futures import ThreadPoolExecutor

    from featcache.sources.decode import UnreadableImage, decode_image

    def one(f):
        try:
            return decode_image(f, size)
        except UnreadableImage:
            return None

    t = time.perf_counter()
    if threads == 1:
        out = [one(f) for f in files]
    else:
        with ThreadPoolExecutor(threads) as pool:
            out = list(pool.map(one, files))
    seconds = time.perf_counter() - t
    return np.stack([o for o in out if o is not None]), seconds


def build_all(names: list[str], spec, batch: int, runtime_dir: Path) -> tuple[dict, dict]:
    from featcache.embedding import runtimes

    forwards, build_s = {}, {}
    for name in names:
        t = time.perf_counter()
        used, forward, _ = runtimes.build(name, spec, batch, runtime_dir)
        forward(np.zeros((1, *spec.raw_shape), np.uint8))  # trace / first-run allocations, as the Mapper does
        build_s[name] = round(time.perf_counter() - t, 2)
        forwards[name] = forward
    return forwards, build_s


def bare(forwards: dict, images: np.ndarray, batch: int, chunk: int) -> dict[str, float]:
    """images/s per runtime, taking turns every ``chunk`` images (one warm-up batch each first)."""
    for fn in forwards.values():
        fn(images[:batch])
    spent = {name: 0.0 for name in forwards}
    for start in range(0, len(images), chunk):
        part = images[start:start + chunk]
        for name, fn in forwards.items():
            t = time.perf_counter()
            for i in range(0, len(part), batch):
                fn(part[i:i + batch])
            spent[name] += time.perf_counter() - t
    return {name: len(images) / s for name, s in spent.items()}


def case(label: str, images: np.ndarray, size: int, names: list[str], args) -> dict:
    from featcache.embedding.backbones import get_backbone
    from featcache.embedding.runtimes import ModelSpec

    bb = get_backbone("mobilenet_v2")
    weights = args.weights if args.weights in ("imagenet", "random") else str(Path(args.weights).resolve())
    size = args.image_size or size
    spec = ModelSpec(bb.name, weights, size, (bb.final_layer,), tuple(images.shape[1:]))
    runtime_dir = Path(tempfile.mkdtemp(prefix="featcache-runtimes-"))
    before = load()
    forwards, build_s = build_all(names, spec, args.batch, runtime_dir)
    # The converted runtimes share one ONNX file: the first one's build includes the conversion.
    t = time.perf_counter()
    forwards2, _ = build_all([n for n in names if n != "tensorflow"][:1], spec, args.batch, runtime_dir)
    cached_load_s = round(time.perf_counter() - t, 2)
    del forwards2
    rates = bare(forwards, images, args.batch, args.chunk)
    del forwards
    shutil.rmtree(runtime_dir, ignore_errors=True)
    row = {"case": label, "images": len(images), "image_size": size, "batch": args.batch,
           "images_per_s": {n: round(r, 1) for n, r in rates.items()},
           "ratio_to_tensorflow": {n: round(r / rates["tensorflow"], 2) for n, r in rates.items()},
           "build_s_first (conversion included for the first converted runtime)": build_s,
           "build_s_cached_conversion": cached_load_s,
           "load_before": before, "load_after": load()}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    from featcache.embedding import runtimes

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", required=True)
    p.add_argument("--fashion-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--photos", default=str(REPO.parent / "shared" / "datasets" / "hymenoptera"))
    p.add_argument("--n96", type=int, default=4096)
    p.add_argument("--generated", type=int, default=2000, help="generated JPEGs at 224 px (0: skip)")
    p.add_argument("--image-size", type=int, help="one size for every case (smoke runs); default 96 and 224")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--chunk", type=int, default=512)
    p.add_argument("--cases", default="fashion96,photos224,generated224")
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args()

    names = [n for n in runtimes.REGISTRY if runtimes.REGISTRY[n].available()]
    versions = ", ".join(f"{k} {v}" for k, v in runtimes.runtime_versions().items())
    print(f"runtimes: {', '.join(names)}; versions: {versions}; {load()}", flush=True)
    rows = []
    wanted = args.cases.split(",")
    if "fashion96" in wanted:
        rows.append(case(f"Fashion-MNIST {args.n96}", fashion(Path(args.fashion_dir), args.n96), 96, names, args))
    if "photos224" in wanted:
        imgs, _ = decode_all(photo_files(Path(args.photos)), 224, os.cpu_count() or 1)
        rows.append(case("hymenoptera photos", imgs, 224, names, args))
    if "generated224" in wanted and args.generated:
        from bench_images import make_photos

        with tempfile.TemporaryDirectory() as tmp:
            make_photos(Path(tmp), args.generated)
            files = photo_files(Path(tmp))
            imgs, one_s = decode_all(files, 224, 1)
            _, pool_s = decode_all(files, 224, min(8, os.cpu_count() or 1))  # featcache's pool size (sources/images.py)
        row = case(f"generated JPEGs {args.generated}", imgs, 224, names, args)
        row["decode_images_per_s"] = {"1 thread": round(len(files) / one_s, 1),
                                      f"{min(8, os.cpu_count() or 1)} threads": round(len(files) / pool_s, 1)}
        print(json.dumps({"decode_images_per_s": row["decode_images_per_s"]}), flush=True)
        rows.append(row)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
