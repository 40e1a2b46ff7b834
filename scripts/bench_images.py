#!/usr/bin/env python3
"""Benchmark: extracting class-folder photos streams, and decoding hides behind inference.

Makes synthetic photo-sized JPEGs (500x375, like the hymenoptera photos) in
two class folders, for each count in --counts, and measures in one run:
  1. decode only: ``images.load`` (listing + hashing every file), the
     decoding pass that settles the rows when they are asked for outside an
     extraction, and reading every batch (thread-pool decode), no model;
  2. bare forward pass on the already-decoded uint8 batches (the compiled
     extractor, no file reading);
  3. the full pipeline, ``featcache extract --images`` in a subprocess, with
     that process's own peak RSS: it should stay flat as the count grows.

    python scripts/bench_images.py --weights ../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5

With --photos DIR it measures a real photo folder instead (the hymenoptera
photos: ``--photos ../shared/datasets/hymenoptera``), at --image-size 224
unless told otherwise:
  1. ``images.load(DIR)`` (listing + hashing, the fingerprint's input), and
     load followed by asking for the split rows (``.splits``);
  2. a cold ``python -m featcache extract --images DIR`` in a subprocess
     (wall time of the whole command, interpreter start included);
  3. the same command again, a cache hit, in a subprocess, and
     ``featcache.extract(...)`` hits in this process (no interpreter start).
The load average before and after is printed with the numbers.

    python scripts/bench_images.py --photos ../shared/datasets/hymenoptera --image-size 224
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHILD = """
import json, sys, time
import featcache
t = time.perf_counter()
res = featcache.extract(featcache.PhotoFolder(sys.argv[1], test_fraction=0.25),
                        featcache.ModelSpec(weights=sys.argv[2], image_size=int(sys.argv[3])),
                        featcache.StoreSpec(out=sys.argv[5], batch_size=int(sys.argv[4])))
print(json.dumps({"wall_s": time.perf_counter() - t, "embed_images_per_s": res.images_per_s, "startup_s": res.startup_seconds,
                  "peak_rss_mb": int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024}))
"""
# Peak RSS is the child's VmHWM (Linux): ru_maxrss survives exec, so a child of
# this (TensorFlow-laden) process would report at least our own size.


def make_photos(root: Path, n: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:375, 0:500].astype(np.float32)
    for i in range(n):
        cls = ("a", "b")[i % 2]
        (root / cls).mkdir(parents=True, exist_ok=True)
        # smooth gradients plus noise: JPEG sizes and decode cost like real photos
        fx, fy, phase = rng.uniform(0.005, 0.05, 3)
        base = 127 + 100 * np.sin(fx * xx + fy * yy + 10 * phase)
        img = np.stack([base, base[::-1], base[:, ::-1]], -1) + rng.normal(0, 12, (375, 500, 3))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(root / cls / f"{i:05d}.jpg", quality=90)


def decode_and_bare(root: Path, weights: str, size: int, batch: int) -> dict[str, float]:

    from featcache.embedding.backbones import get_backbone
    from featcache.embedding.mapper import build_extractor, compiled
    from featcache.sources import images

    t = time.perf_counter()
    src = images.load(root, size, test_fraction=0.25)
    scan = time.perf_counter() - t
    t = time.perf_counter()
    n = sum(len(s) for s in src.splits.values())  # settles the rows: decodes every file once
    settle = time.perf_counter() - t
    t = time.perf_counter()
    batches = [s.read(i, min(i + batch, len(s))) for s in src.splits.values() for i in range(0, len(s), batch)]
    read = time.perf_counter() - t
    model = compiled(build_extractor(get_backbone("mobilenet_v2"), weights, size, ["out_relu"], (size, size, 3)))
    model(batches[0])  # trace
    t = time.perf_counter()
    for b in batches:
        model(b)
    bare = time.perf_counter() - t
    del batches
    return {"images": n, "load_s": round(scan, 2), "load_images_per_s": round(n / scan, 1),
            "settle_s": round(settle, 2), "settle_images_per_s": round(n / settle, 1),
            "read_images_per_s": round(n / read, 1), "bare_forward_images_per_s": round(n / bare, 1)}


def real_photos(root: Path, weights: str, size: int, repeats: int) -> dict:
    """load(), cold extraction and cache hits on a real photo folder (see the module docstring)."""
    from featcache.sources import images

    def best(fn) -> list[float]:
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append(round(time.perf_counter() - t, 3))
        return times

    out = {"photos_dir": str(root), "image_size": size, "cpus": os.cpu_count(), "loadavg_before": os.getloadavg()}
    load = best(lambda: images.load(root, size))
    rows = best(lambda: images.load(root, size).splits)
    src = images.load(root, size)
    out.update({"photos": sum(len(s) for s in src.splits.values()), "skipped": len(src.skipped),
                "load_s": load, "load_then_splits_s": rows})
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "featcache", "extract", "--images", str(root), "--weights", weights,
               "--image-size", str(size), "--out", str(Path(tmp) / "c.h5"), "--json"]
        env = {**os.environ, "FEATCACHE_HOME": tmp, "FEATCACHE_RUNTIME_DIR": str(Path(tmp) / "runtimes")}
        for run in ("cold", "hit"):
            t = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
            wall = time.perf_counter() - t
            if proc.returncode:
                raise SystemExit(proc.stderr)
            res = json.loads(proc.stdout)
            assert res["hit"] == (run == "hit"), res
            out[f"{run}_command_wall_s"] = round(wall, 2)
            if run == "cold":
                out["cold_embed_s"] = res.get("seconds")
        import featcache

        hits = best(lambda: featcache.extract(featcache.PhotoFolder(root), featcache.ModelSpec(weights=weights, image_size=size),
                                              featcache.StoreSpec(out=Path(tmp) / "c.h5")))
        out["hit_in_process_s"] = hits
    out["loadavg_after"] = os.getloadavg()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default=str(REPO.parent / "shared" / "weights" / "mobilenet_v2_1.0_imagenet_no_top.weights.h5"))
    p.add_argument("--counts", default="400,1600", help="numbers of photos (comma-separated)")
    p.add_argument("--image-size", type=int, help="default: 96 for the synthetic photos, 224 with --photos")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--photos", metavar="DIR", help="measure load / cold extraction / cache hit on this photo folder instead")
    p.add_argument("--repeats", type=int, default=3, help="with --photos: timings of load() and in-process hits to take")
    args = p.parse_args()
    if args.photos:
        print(json.dumps(real_photos(Path(args.photos), args.weights, args.image_size or 224, args.repeats), indent=2))
        return
    args.image_size = args.image_size or 96

    report = {"image_size": args.image_size, "batch_size": args.batch_size, "cpus": os.cpu_count(), "runs": []}
    for n in (int(c) for c in args.counts.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "photos"
            make_photos(root, n)
            row = {"photos": n, "mb_on_disk": round(sum(f.stat().st_size for f in root.rglob("*.jpg")) / 2**20, 1)}
            row.update(decode_and_bare(root, args.weights, args.image_size, args.batch_size))
            proc = subprocess.run([sys.executable, "-c", CHILD, str(root), args.weights, str(args.image_size),
                                   str(args.batch_size), str(Path(tmp) / "c.h5")], capture_output=True, text=True, cwd=REPO)
            if proc.returncode:
                raise SystemExit(proc.stderr)
            pipe = json.loads(proc.stdout)
            row.update({"pipeline_images_per_s": round(pipe["embed_images_per_s"], 1),
                        "pipeline_vs_bare": round(pipe["embed_images_per_s"] / row["bare_forward_images_per_s"], 3),
                        "pipeline_wall_s": round(pipe["wall_s"], 1), "peak_rss_mb": round(pipe["peak_rss_mb"], 1)})
            report["runs"].append(row)
            print(json.dumps(row), file=sys.stderr)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
