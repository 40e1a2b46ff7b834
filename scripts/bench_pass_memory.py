#!/usr/bin/env python3
"""Measure: peak memory of one forward pass (or training step) per input pixel per image, the figures behind embedding/passes.py.

Each measurement runs in a fresh interpreter, which builds the end-to-end
model (raw uint8 images -> ``Preprocess`` -> MobileNetV2 with random weights
-> pooling -> Dense, as export and finetune build it; the weights' values
change no activation's size), runs one pass of ``--batch`` images and
reports its peak RSS (``ru_maxrss``). Two image sizes per kind: the slope,
(peak at the larger size - peak at the smaller) / (batch x difference in
pixels), is the bytes a pass holds per pixel of each image, the model's own
memory (weights, the traced graph) cancelling out.

Kinds:

- ``inference``: the frozen model's forward pass (extract, predict), on TensorFlow;
- ``training``: a finetune step (``train_on_batch``: forward, gradients,
  Adam's update) with the last ``--unfreeze`` base layers trainable, as
  ``deploy.finetune`` compiles it;
- ``raw``: the forward pass of a model at ``--model-size`` on raw images of
  the given sizes (predict's ``.npy`` arrays of large images): bytes per
  *raw* pixel, before the resize.

    python scripts/bench_pass_memory.py --kind training --sizes 128,256 --batch 8 --unfreeze 20

Keep ``batch x size^2 x bytes per pixel`` within the machine's memory: the
point of the bound is that a too large pass is killed without a message.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
KINDS = ("inference", "training", "raw")


def peak_rss(reset: bool = False) -> int:
    """This process's peak RSS in bytes since it started or since the last ``reset`` (Linux: /proc/self/clear_refs "5",
    so that building or converting the model, which may peak higher than the pass, is not what is measured)."""
    if reset:
        Path("/proc/self/clear_refs").write_text("5")
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def child(kind: str, size: int, batch: int, unfreeze: int | None, model_size: int, channels: int, runtime: str,
          runtime_dir: str, backbone: str = "mobilenet_v2") -> dict:
    """One pass of ``kind`` at ``size`` in this (fresh) process: its peak RSS, before and during the pass."""
    import numpy as np

    image_size = model_size if kind == "raw" else size
    shape = (size, size, channels)
    rng = np.random.default_rng(0)
    # Traced and run once on one image first: what the model and its graph hold is in the baseline.
    x1 = rng.integers(0, 256, (1, *shape), dtype=np.uint8)
    x = rng.integers(0, 256, (batch, *shape), dtype=np.uint8)
    if runtime != "tensorflow" and kind != "training":
        # Extraction's network on a converted runtime, converted by an earlier process into ``runtime_dir``
        # (converting here would leave another size's worth of memory behind in each process).
        from featcache.embedding import runtimes
        from featcache.embedding.backbones import get_backbone

        bb = get_backbone(backbone)
        spec = runtimes.ConversionSpec(bb.name, "random", image_size, (bb.final_layer,), shape)
        step = runtimes.REGISTRY[runtime].build(spec, batch, Path(runtime_dir))
    else:
        from featcache._lazy import keras
        from featcache.deploy.endtoend import build_end_to_end

        k = keras()
        model = build_end_to_end(backbone, "random", image_size, 10, raw_input_shape=shape, raw_dtype="uint8")
        if kind == "training":
            from featcache.deploy.finetune import unfreeze_last

            n = len(model.get_layer("base").layers) if unfreeze is None else unfreeze
            unfreeze_last(model.get_layer("base"), n)
            model.compile(optimizer=k.optimizers.Adam(1e-5), loss=k.losses.SparseCategoricalCrossentropy(from_logits=True))
            step = lambda images: model.train_on_batch(images, np.zeros(len(images), np.int64))  # noqa: E731
        else:
            import tensorflow as tf

            spec = tf.TensorSpec([None, *shape], tf.uint8)
            fn = tf.function(lambda v: model(v, training=False), input_signature=[spec])
            step = lambda images: fn(images).numpy()  # noqa: E731
    step(x1)
    before = peak_rss(reset=True)
    step(x)
    peak = peak_rss()
    return {"kind": kind, "size": size, "batch": batch, "before": before, "peak": peak}


def measure(kind: str, size: int, args: argparse.Namespace, runtime_dir: str) -> dict:
    cmd = [sys.executable, __file__, "--child", "--kind", kind, "--sizes", str(size), "--batch", str(args.batch),
           "--model-size", str(args.model_size), "--channels", str(args.channels), "--runtime", args.runtime,
           "--runtime-dir", runtime_dir, "--backbone", args.backbone]
    if args.unfreeze is not None:
        cmd += ["--unfreeze", str(args.unfreeze)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    # A converted runtime: the first process converts (and is not measured), the second loads the conversion.
    for _ in range(2 if args.runtime != "tensorflow" and kind != "training" else 1):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            sys.exit(f"{kind} at {size} px exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kind", choices=KINDS, default="training")
    p.add_argument("--sizes", default="128,256", help="image sizes (raw: raw image sizes), comma-separated, at least two")
    p.add_argument("--batch", type=int, default=8, help="images in the pass (default 8)")
    p.add_argument("--unfreeze", type=int, help="training: base layers trainable (default: all of them)")
    p.add_argument("--model-size", type=int, default=32, help="raw: the model's image size (default 32)")
    p.add_argument("--channels", type=int, default=3, choices=(1, 3), help="channels of the raw images (default 3)")
    p.add_argument("--runtime", default="tensorflow", help="inference and raw: the runtime that runs the pass "
                   "(tensorflow, onnxruntime, openvino; default tensorflow)")
    p.add_argument("--backbone", default="mobilenet_v2", help="the backbone (default mobilenet_v2); random weights")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--runtime-dir", help=argparse.SUPPRESS)
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.child:
        print(json.dumps(child(args.kind, sizes[0], args.batch, args.unfreeze, args.model_size, args.channels, args.runtime,
                               args.runtime_dir, args.backbone)))
        return
    if len(sizes) < 2:
        p.error("--sizes needs two sizes or more (the slope between them is the measurement)")
    with tempfile.TemporaryDirectory() as runtime_dir:
        runs = [measure(args.kind, s, args, runtime_dir) for s in sizes]
    for r in runs:
        print(f"{args.kind}{'' if args.kind == 'training' else ' on ' + args.runtime} at {r['size']} px, batch {r['batch']}: peak RSS {r['peak'] / 2**20:.0f} MiB "
              f"(before it {r['before'] / 2**20:.0f} MiB)", flush=True)
    lo, hi = runs[0], runs[-1]
    per_pixel = (hi["peak"] - lo["peak"]) / (args.batch * (hi["size"] ** 2 - lo["size"] ** 2))
    what = "raw pixel" if args.kind == "raw" else "input pixel"
    print(f"{args.kind}: {per_pixel:.0f} bytes per {what} per image (peak at {hi['size']} px minus peak at {lo['size']} px)")
    report = {"kind": args.kind, "backbone": args.backbone, "runtime": None if args.kind == "training" else args.runtime, "batch": args.batch, "unfreeze": args.unfreeze, "channels": args.channels,
              "model_size": args.model_size if args.kind == "raw" else None, "runs": runs,
              "bytes_per_pixel": round(per_pixel, 1), "cpus": os.cpu_count()}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
