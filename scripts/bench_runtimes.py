#!/usr/bin/env python3
"""Benchmark: each inference runtime's bare forward pass and full extraction pipeline, on the same images (issue 14).

One source per run: Fashion-MNIST (--fashion-dir, at 96 px, raw 28x28) or a
photo folder (--photos DIR, at 224 px; --make-photos N generates N photo-like
JPEGs with scripts/make_jpeg_folder.py first). --images N takes N
images (Fashion-MNIST: test images, then train images; photos: N files taken
in turn from each folder, so every class keeps some).

Every (runtime, mode) runs in a fresh process, so each has its own peak RSS
(the process's VmHWM):
  bare      uint8 batches of --batch already in memory -> pooled features,
            the final layer or --layer (the images are read or decoded first, not timed;
            for photos the decoding is timed apart: featcache's thread pool);
  pipeline  ``featcache.extract`` of the same images (read, decode, preprocess,
            run, write the HDF5 cache), timed as extract times itself:
            reading to the last write, the model build apart.
The ONNX conversion is made once, first, and timed apart; every later process
loads it from the shared runtimes folder. With --repeats R each (runtime,
mode) runs R times, in turn (each runtime's bare pass and pipeline back to
back), and the table shows the median; a pipeline's ratio to its own bare
pass is the median of those back-to-back pairs. The load average
before and after is printed: on a shared machine the absolute speeds vary with
it; the ratios to TensorFlow's bare pass are steadier.

    python scripts/bench_runtimes.py --weights ../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5 --images 4096
    python scripts/bench_runtimes.py --weights W --photos ../shared/datasets/hymenoptera
    python scripts/bench_runtimes.py --weights W --make-photos 2000 --json photos2000.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))


def loadavg() -> str:
    return "%.1f %.1f %.1f" % os.getloadavg()


def peak_rss_mb() -> float:
    """This process's peak resident memory (Linux VmHWM), MB."""
    status = Path("/proc/self/status").read_text()
    return round(int(status.split("VmHWM:")[1].split()[0]) / 1024, 1)


# --- the source: which images, as the bare pass and the pipeline see them ----------------------------------------

def fashion_limits(data_dir: Path, n: int) -> tuple[int, int]:
    """(test, train) counts for the first ``n`` images: test images first, and at least one train image (a limit is >= 1)."""
    with gzip.open(data_dir / "t10k-images-idx3-ubyte.gz") as f:
        available = int.from_bytes(f.read(8)[4:], "big")  # the IDX header's image count
    test = min(available, n - 1)
    return test, n - test


def fashion_images(data_dir: Path, n: int):
    import numpy as np

    def idx(name: str):
        with gzip.open(data_dir / f"{name}-images-idx3-ubyte.gz") as f:
            return np.frombuffer(f.read()[16:], np.uint8).reshape(-1, 28, 28)

    test, train = fashion_limits(data_dir, n)
    return np.concatenate([idx("t10k")[:test], idx("train")[:train]])


def photo_files(root: Path) -> list[Path]:
    """The image files under ``root`` by featcache's one rule of image names (its own list of four extensions left
    out a .webp or .tif that extract reads; a reviewer, R9b)."""
    from featcache.sources.decode import is_image_name

    return sorted(p for p in root.rglob("*") if p.is_file() and is_image_name(p.name) and not p.name.startswith("."))


def photo_subset(root: Path, n: int | None, into: Path) -> Path:
    """``root`` itself, or a tree of links to ``n`` of its files (same relative paths) under ``into``.

    The files are taken in turn from each folder (each folder's by name), so
    every class (and split folder) keeps files: the first ``n`` by path would
    all be the first class's.
    """
    files = photo_files(root)
    if n is None or n >= len(files):
        return root
    folders: dict[Path, list[Path]] = {}
    for f in files:
        folders.setdefault(f.parent, []).append(f)
    turns = sorted(((i, d), f) for d, fs in folders.items() for i, f in enumerate(fs))
    for _, f in turns[:n]:
        link = into / f.relative_to(root)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(f.resolve())
    return into


# --- the child processes ---------------------------------------------------------------------------------------

def spec_for(job: dict):
    """The runtimes' ConversionSpec the pipeline's Mapper builds for this source (so they share one conversion)."""
    from featcache.embedding.backbones import get_backbone
    from featcache.embedding.runtimes import ConversionSpec

    bb = get_backbone(job.get("backbone", "mobilenet_v2"))
    raw = (28, 28) if job["kind"] == "fashion" else (job["size"], job["size"], 3)
    return ConversionSpec(bb.name, job["weights"], job["size"], (job.get("layer") or bb.final_layer,), raw)


def child_convert(job: dict) -> dict:
    from featcache.embedding import runtimes

    t = time.perf_counter()
    runtimes.build(job["runtime"], spec_for(job), job["batch"], runtimes.runtime_dir())
    return {"conversion_s": round(time.perf_counter() - t, 1)}


def child_bare(job: dict) -> dict:
    import numpy as np

    from featcache.embedding import runtimes

    out: dict = {}
    if job["kind"] == "fashion":
        images = fashion_images(Path(job["source"]), job["images"])
    else:
        from featcache.sources import images as photos
        from featcache.sources.decode import UnreadableImage, decode_image

        def one(f):
            try:
                return decode_image(f, job["size"])
            except UnreadableImage:
                return None

        files = photo_files(Path(job["source"]))
        t = time.perf_counter()
        decoded = [d for d in photos._pool().map(one, files) if d is not None]  # featcache's decoding threads
        out["decode_images_per_s"] = round(len(files) / (time.perf_counter() - t), 1)
        out["decode_threads"] = photos._pool().workers
        images = np.stack(decoded)
    t = time.perf_counter()
    used, forward, _ = runtimes.build(job["runtime"], spec_for(job), job["batch"], runtimes.runtime_dir())
    forward(images[: job["batch"]])  # trace / first-run allocations, as the Mapper does
    out["build_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    for i in range(0, len(images), job["batch"]):
        forward(images[i : i + job["batch"]])
    seconds = time.perf_counter() - t
    if used == "tensorflow":
        out["tensorflow_onednn"] = runtimes.tensorflow_onednn()
    return {**out, "images": len(images), "images_per_s": round(len(images) / seconds, 1), "runtime_used": used}


def child_pipeline(job: dict) -> dict:
    import featcache
    from featcache.embedding.engines.local import LocalEngine

    if job["kind"] == "fashion":
        test, train = fashion_limits(Path(job["source"]), job["images"])
        source = featcache.FashionMNIST(job["source"], train_limit=train, test_limit=test)
    else:
        root = Path(job["source"])
        split = (root / "train").is_dir()
        source = featcache.PhotoFolder(root, test_fraction=None if split else 0.25)
    with tempfile.TemporaryDirectory() as tmp:
        res = featcache.extract(source,
                                featcache.ModelSpec(backbone=job.get("backbone", "mobilenet_v2"), weights=job["weights"],
                                                    image_size=job["size"], layers=job.get("layer")),
                                featcache.StoreSpec(out=Path(tmp) / "c.h5", batch_size=job["batch"]),
                                LocalEngine(runtime=job["runtime"]))
    return {"images": res.images, "images_per_s": round(res.images_per_s, 1), "build_s": round(res.startup_seconds, 1),
            "runtime_used": res.runtime, "skipped": len(res.skipped)}


def run_child(job: dict, env: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--weights", job["weights"], "--child", json.dumps(job)],
                          capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(f"{job['mode']} {job['runtime']} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- the parent ------------------------------------------------------------------------------------------------

def table(rows: list[dict]) -> str:
    tf_bare = next((r["images_per_s"] for r in rows if r["runtime"] == "tensorflow" and r["mode"] == "bare"), None)
    lines = [f"{'runtime':<12} {'mode':<9} {'images':>7} {'images/s':>9} {'x TF bare':>9} {'peak RSS MB':>11}  notes"]
    for r in rows:
        ratio = f"{r['images_per_s'] / tf_bare:.2f}" if tf_bare else "-"
        lines.append(f"{r['runtime']:<12} {r['mode']:<9} {r['images']:>7} {r['images_per_s']:>9.1f} {ratio:>9} "
                     f"{r.get('peak_rss_mb', 0):>11.0f}  {r.get('notes', '')}")
    return "\n".join(lines)


def median_row(runs: list[dict], runtime: str, mode: str) -> dict:
    row = {"runtime": runtime, "mode": mode, "images": runs[0]["images"],
           "images_per_s": round(statistics.median(r["images_per_s"] for r in runs), 1),
           "peak_rss_mb": max(r["peak_rss_mb"] for r in runs), "all_images_per_s": [r["images_per_s"] for r in runs]}
    notes = [f"model build {statistics.median(r['build_s'] for r in runs):.1f} s"]
    if runs[0].get("runtime_used") not in (None, runtime):
        notes.append(f"ran {runs[0]['runtime_used']}")
    row["notes"] = "; ".join(notes)
    return row


def paired_ratio(pipeline: list[dict], bare: list[dict]) -> float:
    """The median over repeats of pipeline / bare images/s, each repeat's two runs back to back (not a ratio of medians)."""
    return round(statistics.median(p["images_per_s"] / b["images_per_s"] for p, b in zip(pipeline, bare, strict=True)), 3)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", required=True, help="the backbone's weights file, or imagenet / random")
    p.add_argument("--backbone", default="mobilenet_v2", help="a registry name (default mobilenet_v2); with --weights random, "
                                                          "speed only: the features mean nothing")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--fashion-dir", default="/usr/share/datasets/fashion-mnist", help="Fashion-MNIST IDX files (the default source)")
    src.add_argument("--photos", metavar="DIR", help="a photo folder (DIR/<class>/ or DIR/train|val/<class>/) instead")
    src.add_argument("--make-photos", type=int, metavar="N", help="generate N photo-like JPEGs (make_jpeg_folder.py) and use them")
    p.add_argument("--images", type=int, metavar="N", help="N images (default: Fashion-MNIST 4096, photos all; see above)")
    p.add_argument("--image-size", type=int, help="default: 96 for Fashion-MNIST, 224 for photos")
    p.add_argument("--layer", help="the one layer pooled (default: the final output); an early one, e.g. block_1_expand_relu, "
                                   "converts and builds in seconds (the smoke test's)")
    p.add_argument("--runtimes", help="comma-separated (default: every installed runtime)")
    p.add_argument("--modes", default="bare,pipeline", help="bare, pipeline or both (default)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=1, help="runs of each (runtime, mode), in turn; the table shows the median")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--child", help=argparse.SUPPRESS)
    return p.parse_args()


def main() -> None:
    args = parse_args()
    if args.child:
        job = json.loads(args.child)
        out = {"convert": child_convert, "bare": child_bare, "pipeline": child_pipeline}[job["mode"]](job)
        print(json.dumps({**out, "peak_rss_mb": peak_rss_mb()}))
        return
    from featcache.embedding import runtimes

    names = args.runtimes.split(",") if args.runtimes else [n for n in runtimes.REGISTRY if runtimes.REGISTRY[n].available()]
    modes = args.modes.split(",")
    weights = args.weights if args.weights in ("imagenet", "random") else str(Path(args.weights).resolve())
    with tempfile.TemporaryDirectory(prefix="bench-runtimes-") as tmp:
        tmp = Path(tmp)
        if args.make_photos:
            from make_jpeg_folder import make_jpeg_folder

            t = time.perf_counter()
            make_jpeg_folder(tmp / "photos", args.make_photos)
            print(f"generated {args.make_photos} JPEGs in {time.perf_counter() - t:.0f} s", flush=True)
            args.photos = str(tmp / "photos")
        kind = "photos" if args.photos else "fashion"
        source = str(photo_subset(Path(args.photos), args.images, tmp / "subset")) if args.photos else args.fashion_dir
        n = len(photo_files(Path(source))) if args.photos else (args.images or 4096)
        job = {"kind": kind, "source": source, "images": n, "size": args.image_size or (224 if args.photos else 96), "layer": args.layer,
               "weights": weights, "batch": args.batch, "backbone": args.backbone}
        env = {**os.environ, "FEATCACHE_RUNTIME_DIR": str(tmp / "runtimes"), "FEATCACHE_HOME": str(tmp / "home"),
               "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        header = {"source": f"{kind} {source}", "backbone": args.backbone, "images": n, "image_size": job["size"], "layer": args.layer, "batch": args.batch,
                  "cpus": os.cpu_count(), "versions": runtimes.runtime_versions(), "load_before": loadavg()}
        print(json.dumps(header), flush=True)
        converted = [r for r in names if r != "tensorflow"]
        conversion = run_child({**job, "mode": "convert", "runtime": converted[0]}, env) if converted else {}
        if converted:
            print(f"converted in {conversion['conversion_s']} s", flush=True)
        runs: dict = {}
        for _ in range(args.repeats):
            for name in names:  # a runtime's bare pass and pipeline back to back: their ratio is taken per repeat
                for mode in modes:
                    done = run_child({**job, "mode": mode, "runtime": name}, env)
                    runs.setdefault((name, mode), []).append(done)
                    print(f"{name} {mode}: {done['images_per_s']} images/s, peak RSS {done['peak_rss_mb']:.0f} MB; "
                          f"load {loadavg()}", flush=True)
    rows = [median_row(runs[name, mode], name, mode) for name in names for mode in modes]
    for row in rows:
        if row["mode"] == "pipeline" and (row["runtime"], "bare") in runs:
            row["pipeline_over_own_bare"] = paired_ratio(runs[row["runtime"], "pipeline"], runs[row["runtime"], "bare"])
            row["notes"] += f"; pipeline / own bare {row['pipeline_over_own_bare']:.2f} (median of {len(row['all_images_per_s'])} back-to-back pairs)"
    decode = [r for (_, mode), done in runs.items() if mode == "bare" for r in done if "decode_images_per_s" in r]
    onednn = [r["tensorflow_onednn"] for done in runs.values() for r in done if "tensorflow_onednn" in r]
    header.update({"load_after": loadavg(), "conversion_s": conversion.get("conversion_s"),
                   "tensorflow_onednn": onednn[0] if onednn else None})
    if decode:
        header["decode_images_per_s"] = statistics.median(r["decode_images_per_s"] for r in decode)
        header["decode_threads"] = decode[0]["decode_threads"]
    print()
    print(f"{args.backbone}, {header['source']}: {n} images at {job['size']} px, batch {args.batch}, "
          f"{header['cpus']} CPUs; load {header['load_before']} -> {header['load_after']}")
    if converted:
        print(f"ONNX conversion (once, apart): {header['conversion_s']} s")
    if onednn:
        print(f"TensorFlow's oneDNN kernels: {'on' if onednn[0] else 'off'} (TF_ENABLE_ONEDNN_OPTS; every x TF bare depends on it)")
    if decode:
        print(f"decoding alone ({header['decode_threads']} threads): {header['decode_images_per_s']:.1f} images/s")
    print(table(rows))
    report = {**header, "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
