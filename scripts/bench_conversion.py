#!/usr/bin/env python3
"""Benchmark: the ONNX conversion, featcache's path against Keras's ``model.export``, in turns (issue 14).

Converting the extractor network is the one-off cost of the ONNX Runtime and
OpenVINO runtimes (kept per model afterwards: ``runtimes.converted_model``).
featcache converts as Keras's ``model.export(out, format="onnx")`` does on
TensorFlow (the model's call traced in a ``tf.function``, handed to tf2onnx),
less Keras's walk of every object the model tracks for a SavedModel it does not
write (``runtimes._keras_to_onnx``). Each round converts the same built network
both ways, the order alternating, and loads each file in ONNX Runtime to
compare its outputs on the probe batch with the Keras model's. The network is
built once (TensorFlow's import and the build are the same for both and are
reported apart).

    python scripts/bench_conversion.py --weights ../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5 --rounds 3
    python scripts/bench_conversion.py --weights W --layers blocks --rounds 3
    python scripts/bench_conversion.py --weights W --image-size 224 --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import io
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


def keras_export(model, spec, out: Path) -> None:
    """Keras's own ONNX export, as featcache called it before (quiet: tf2onnx prints its progress)."""
    from featcache import _lazy

    tf = _lazy.tensorflow()
    signature = [tf.TensorSpec([None, *spec.input_shape], tf.uint8, name="images")]
    with contextlib.redirect_stdout(io.StringIO()):
        model.export(str(out), format="onnx", verbose=False, input_signature=signature)


def featcache_export(model, spec, out: Path) -> None:
    from featcache.embedding.runtimes import _export_onnx

    _export_onnx(model, spec, out)


WAYS = {"keras model.export": keras_export, "featcache": featcache_export}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", required=True, help="MobileNetV2 weights file (.h5), or 'random'")
    ap.add_argument("--image-size", type=int, default=96)
    ap.add_argument("--layers", default="out_relu", help="a layer name, or 'blocks' for all 17 of --layers blocks")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", help="also write the report to this file")
    args = ap.parse_args(argv)

    import numpy as np

    from featcache import _lazy
    from featcache.embedding.backbones import get_backbone, resolve_layers
    from featcache.embedding.runtimes import ConversionSpec, OnnxRuntime

    weights = args.weights if args.weights == "random" else str(Path(args.weights).resolve())
    backbone = get_backbone("mobilenet_v2")
    layers = tuple(resolve_layers(backbone, args.layers))
    # Fashion-MNIST's raw images at 96 px (resized in the graph), photos' at their decoded size otherwise
    raw = (28, 28) if args.image_size == 96 else (args.image_size, args.image_size, 3)
    spec = ConversionSpec(backbone.name, weights, args.image_size, layers, raw)
    t = time.perf_counter()
    _lazy.keras()  # TensorFlow's import, apart from the build
    import_s = time.perf_counter() - t
    t = time.perf_counter()
    model = spec.build_keras()
    build_s = time.perf_counter() - t
    probe = spec.probes()[0]
    want = model(probe, training=False)
    want = [np.asarray(w) for w in (want if isinstance(want, (list, tuple)) else [want])]

    seconds: dict[str, list[float]] = {name: [] for name in WAYS}
    diffs: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = list(WAYS) if r % 2 == 0 else list(WAYS)[::-1]
            for name in order:
                out = Path(tmp) / f"{r}-{len(seconds[name])}-{name.split()[0]}.onnx"
                t = time.perf_counter()
                WAYS[name](model, spec, out)
                seconds[name].append(round(time.perf_counter() - t, 3))
                got = OnnxRuntime().load(out)(probe)
                diffs[name] = max(diffs.get(name, 0.0), max(float(np.abs(g - w).max()) for g, w in zip(got, want)))
                print(f"round {r + 1}/{args.rounds}: {name} {seconds[name][-1]:.2f} s", flush=True)
    medians = {name: statistics.median(v) for name, v in seconds.items()}
    # each round's ratio, then their median: both ways of a round ran back to back, under the same load
    ratios = [f / k for f, k in zip(seconds["featcache"], seconds["keras model.export"])]
    report = {
        "image_size": args.image_size, "layers": len(layers), "weights": "random" if weights == "random" else Path(weights).name,
        "import_s": round(import_s, 3), "build_s": round(build_s, 3), "seconds": seconds, "median_s": medians,
        "featcache_over_keras": round(statistics.median(ratios), 3),
        "max_abs_difference_from_keras": diffs,
    }
    print()
    print(f"{'conversion':<22}{'median s':>10}{'largest diff':>14}")
    for name in WAYS:
        print(f"{name:<22}{medians[name]:>10.2f}{diffs[name]:>14.2g}")
    print(f"featcache / keras (median of the rounds' ratios): {report['featcache_over_keras']:.2f}; "
          f"TensorFlow's import {import_s:.1f} s and the network's build {build_s:.1f} s apart")
    print(json.dumps(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
