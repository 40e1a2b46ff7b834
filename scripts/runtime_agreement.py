#!/usr/bin/env python3
"""How far each converted runtime's features are from TensorFlow's, over a whole data set (issue 14).

The runtime is not part of a cache's identity because every runtime gives TensorFlow's features to within a
bound; ``tests/test_runtimes.py`` checks it on a few images, this script measures it on all of them. Each batch
runs through TensorFlow and every runtime named, in the same process (featcache's ``runtimes.build``, as
extraction and the tests run them), and the script keeps, per runtime and layer, the largest absolute difference
from TensorFlow, that difference relative to the layer's largest TensorFlow value, and the image it came from.
Nothing is stored, so all 70,000 Fashion-MNIST images and every ``--layers blocks`` layer fit in memory.

    python scripts/runtime_agreement.py --weights W                       # Fashion-MNIST, all 70,000, 96 px, blocks
    python scripts/runtime_agreement.py --weights W --photos ../shared/datasets/hymenoptera   # every photo, 224 px

The results go to ``--json`` after every ``--save-every`` images too, so a stopped run keeps what it measured.
Conversions are cached under ``$FEATCACHE_RUNTIME_DIR`` (or ``--runtime-dir``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FASHION = Path("/usr/share/datasets/fashion-mnist")


def fashion_images(folder: Path, limit: int | None) -> np.ndarray:
    """All of Fashion-MNIST (the 60,000 training images, then the 10,000 test images), 28x28 uint8."""
    parts = []
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        with gzip.open(folder / name) as f:
            parts.append(np.frombuffer(f.read()[16:], np.uint8).reshape(-1, 28, 28))
    images = np.concatenate(parts)
    return images[:limit] if limit else images


def photo_images(folder: Path, size: int) -> np.ndarray:
    from featcache.sources.decode import decode_image

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    return np.stack([decode_image(f, size) for f in files])


def measure(names: list[str], spec, images: np.ndarray, runtime_dir: Path, batch: int, out: Path | None,
            save_every: int, meta: dict) -> dict:
    from featcache.embedding import runtimes

    forwards = {}
    for name in ["tensorflow", *names]:
        t = time.perf_counter()
        forwards[name] = runtimes.build(name, spec, batch, runtime_dir)[1]
        print(f"{name}: built in {time.perf_counter() - t:.1f} s", flush=True)
    layers = list(spec.layers)
    worst = {n: {layer: {"max_abs_diff": 0.0, "image": -1} for layer in layers} for n in names}
    largest = {layer: 0.0 for layer in layers}
    seconds = {n: 0.0 for n in forwards}
    done, t0, saved = 0, time.perf_counter(), 0

    def result() -> dict:
        rows = {n: {layer: {**w, "relative_to_layer_max": w["max_abs_diff"] / largest[layer] if largest[layer] else None}
                    for layer, w in per.items()} for n, per in worst.items()}
        return {**meta, "images_done": done, "layer_max": largest, "runtimes": rows,
                "seconds": {n: round(s, 1) for n, s in seconds.items()}, "wall_seconds": round(time.perf_counter() - t0, 1),
                "loadavg_end": os.getloadavg()}

    for start in range(0, len(images), batch):
        chunk = images[start:start + batch]
        outs = {}
        for name, forward in forwards.items():
            t = time.perf_counter()
            outs[name] = forward(chunk)
            seconds[name] += time.perf_counter() - t
        for i, layer in enumerate(layers):
            want = np.asarray(outs["tensorflow"][i])
            largest[layer] = max(largest[layer], float(want.max()))
            for name in names:
                diff = np.abs(np.asarray(outs[name][i]) - want).max(axis=1)
                j = int(diff.argmax())
                if diff[j] > worst[name][layer]["max_abs_diff"] or worst[name][layer]["image"] < 0:
                    worst[name][layer] = {"max_abs_diff": float(diff[j]), "image": start + j}
        done = start + len(chunk)
        if out and done - saved >= save_every:
            saved = done
            out.write_text(json.dumps(result(), indent=1))
            top = {n: max(w["max_abs_diff"] for w in per.values()) for n, per in worst.items()}
            print(f"{done:,} images, {time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.1f}: "
                  + ", ".join(f"{n} {d:.3g}" for n, d in top.items()), flush=True)
    res = result()
    if out:
        out.write_text(json.dumps(res, indent=1))
    return res


def main() -> None:
    from featcache.embedding.backbones import get_backbone, resolve_layers
    from featcache.embedding.runtimes import REGISTRY, ConversionSpec

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", required=True)
    p.add_argument("--photos", type=Path, help="a folder of photos (every one, 224 px) instead of Fashion-MNIST")
    p.add_argument("--fashion-dir", type=Path, default=FASHION)
    p.add_argument("--images", type=int, help="the first N Fashion-MNIST images (train, then test) only")
    p.add_argument("--image-size", type=int, help="default 96 for Fashion-MNIST, 224 for photos")
    p.add_argument("--layers", default="blocks", help="'blocks' (every block and out_relu) or names")
    p.add_argument("--runtimes", default="onnxruntime,openvino,xnnpack")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--runtime-dir", type=Path, default=Path(os.environ.get("FEATCACHE_RUNTIME_DIR", "/tmp/featcache-runtimes")))
    p.add_argument("--json", type=Path)
    p.add_argument("--save-every", type=int, default=4096)
    a = p.parse_args()

    bb = get_backbone("mobilenet_v2")
    size = a.image_size or (224 if a.photos else 96)
    images = photo_images(a.photos, size) if a.photos else fashion_images(a.fashion_dir, a.images)
    raw = images.shape[1:]
    spec = ConversionSpec(bb.name, a.weights, size, tuple(resolve_layers(bb, a.layers)), tuple(raw))
    names = [n for n in a.runtimes.split(",") if n and REGISTRY[n].available()]
    meta = {"source": str(a.photos or a.fashion_dir), "images": len(images), "image_size": size, "batch": a.batch_size,
            "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "loadavg_start": os.getloadavg()}
    print(f"{len(images):,} images at {size} px, {len(spec.layers)} layers, runtimes {names}", flush=True)
    res = measure(names, spec, images, a.runtime_dir, a.batch_size, a.json, a.save_every, meta)
    for name, per in res["runtimes"].items():
        for layer, w in per.items():
            print(f"{name:12} {layer:24} max |diff| {w['max_abs_diff']:.3g} "
                  f"({w['relative_to_layer_max']:.2g} of the layer's max {res['layer_max'][layer]:.3g}), image {w['image']}")


if __name__ == "__main__":
    main()
