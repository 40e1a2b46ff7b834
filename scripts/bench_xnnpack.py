#!/usr/bin/env python3
"""Benchmark: TensorFlow Lite / LiteRT with XNNPACK against featcache's runtimes, bare passes in turns (issue 14).

A lever measured for issue 14 and not taken (docs/benchmarks.md): XNNPACK,
the CPU kernels of TensorFlow Lite and of its successor LiteRT
(``ai_edge_litert``, used when importable, else ``tf.lite`` from the
TensorFlow featcache already needs), runs the same extractor network, built
by featcache (``ModelSpec.build_keras``: resize, gray to RGB,
``preprocess_input`` and the backbone in one graph, uint8 in), converted with
``TFLiteConverter.from_keras_model`` in float32. Each round times, in turn
(the order alternating), featcache's ``tensorflow`` and ``onnxruntime``
runtimes and the interpreter on the same uint8 batches (Fashion-MNIST at 96
px, or JPEGs at 224 px: the sources of bench_ort_layouts.py); only full
batches, as the interpreter's input shape is fixed. The table gives medians,
the median per-round ratio to TensorFlow, and each runtime's largest feature
difference from TensorFlow's.

    python scripts/bench_xnnpack.py --weights ../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5 --images 1024 --rounds 5
    python scripts/bench_xnnpack.py --weights W --make-photos 512 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))


def interpreter_class():
    """(LiteRT's interpreter when installed, else TensorFlow's own, which says it is deprecated), and its name."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "LiteRT"
    except ImportError:
        import warnings

        import tensorflow as tf

        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        return tf.lite.Interpreter, "tf.lite"


def xnnpack_forward(spec, batch: int, threads: int):
    """The extractor network converted to a float32 TFLite model, run by XNNPACK on ``threads`` threads; (forward, seconds)."""
    import tensorflow as tf

    t = time.perf_counter()
    model = spec.build_keras()
    flat = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    seconds = time.perf_counter() - t
    cls, _ = interpreter_class()
    it = cls(model_content=flat, num_threads=threads)
    inp = it.get_input_details()[0]["index"]
    it.resize_tensor_input(inp, [batch, *spec.raw_shape])
    it.allocate_tensors()
    out = it.get_output_details()[0]["index"]

    def forward(x):
        it.set_tensor(inp, x)
        it.invoke()
        return [it.get_tensor(out).copy()]

    return forward, seconds


def main() -> None:
    import numpy as np

    from featcache.embedding import runtimes

    from bench_ort_layouts import add_pass_options, batches_of, converted_extractor, paired_summary, time_in_turns, write_report

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_pass_options(p, rounds=5, images=1024)
    args = p.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        batches, raw, size = batches_of(args, Path(tmp))
        batches = [b for b in batches if len(b) == args.batch]
        if not batches:
            raise SystemExit(f"fewer than --batch {args.batch} images: nothing to time")
        spec, onnx, onnx_s = converted_extractor(args, size, raw, Path(tmp))
        xnnpack, tflite_s = xnnpack_forward(spec, args.batch, cores)
        _, interpreter = interpreter_class()
        forwards = {"tensorflow": runtimes.TensorFlowRuntime().build(spec, args.batch, Path(tmp) / "runtimes"),
                    "onnxruntime": runtimes.OnnxRuntime().load(onnx),
                    f"XNNPACK ({interpreter})": xnnpack}
        n = sum(len(b) for b in batches)
        onednn = runtimes.tensorflow_onednn()
        print(f"{n} images at {size} px, batch {args.batch}, {cores} cores; converted in {onnx_s:.1f} s (ONNX), "
              f"{tflite_s:.1f} s (TFLite); TensorFlow's oneDNN kernels {'on' if onednn else 'off'}", flush=True)
        reference = np.concatenate([forwards["tensorflow"](b)[0] for b in batches[:2]])
        differs = {k: float(np.abs(np.concatenate([fn(b)[0] for b in batches[:2]]) - reference).max()) for k, fn in forwards.items()}
        rates = time_in_turns(forwards, batches, n, args.rounds)
    report = {"images": n, "image_size": size, "cores": cores, "batch": args.batch, "interpreter": interpreter,
              "tensorflow_onednn": onednn,
              "conversion_s": {"onnx": round(onnx_s, 1), "tflite": round(tflite_s, 1)},
              "max_abs_difference_from_tensorflow": differs, "rounds": rates,
              **paired_summary(rates, "tensorflow", ratio="ratio_to_tensorflow")}
    print()
    for k in rates:
        print(f"{k:<20} {report['median'][k]:>8.1f} images/s  {report['ratio_to_tensorflow'][k]:.3f}x TensorFlow (median per round)"
              f"  features within {differs[k]:.1e} of TensorFlow's")
    write_report(report, args.json)


if __name__ == "__main__":
    main()
