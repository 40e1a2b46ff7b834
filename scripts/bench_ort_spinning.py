#!/usr/bin/env python3
"""Benchmark: ONNX Runtime's intra-op spinning on and off, in the photo pipeline and the bare pass (issue 14).

Decoding threads and ONNX Runtime share the cores in a photo pipeline; a
spinning (busy-waiting) runtime thread takes CPU the decoders need.
featcache turns spinning off (``runtimes.OnnxRuntime``); this measures that
choice. One process: the extractor converted once (featcache's conversion),
two sessions on the same file (spinning on / off) taking turns each round:
``pipeline`` is featcache's local engine ``run()`` with featcache's decoding
pool as the reader (JPEG -> uint8 at --image-size) and a no-op writer;
``bare`` is the forward pass on the already decoded batches. images/s per
round and the medians; the load average with each round.

    python scripts/bench_ort_spinning.py --weights ../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5 --make-photos 256 --rounds 5
"""

from __future__ import annotations

import argparse
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


def session(path: Path, spin: bool):
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    s = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = s.get_inputs()[0].name
    return lambda x: s.run(None, {feed: np.ascontiguousarray(x)})


def main() -> None:
    from featcache.embedding.engines.local import run

    from bench_ort_layouts import add_pass_options, converted_extractor, photo_batches, write_report
    from make_jpeg_folder import photo_source

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_pass_options(p, rounds=5)
    args = p.parse_args()
    size = args.image_size
    with tempfile.TemporaryDirectory() as tmp:
        files = photo_source(args, Path(tmp))
        _, onnx, seconds = converted_extractor(args, size, (size, size, 3), Path(tmp))
        print(f"{len(files)} JPEGs at {size} px; converted in {seconds:.1f} s", flush=True)
        forwards = {"spinning": session(onnx, True), "no spinning": session(onnx, False)}
        batches, read, decoded = photo_batches(files, size, args.batch)
        for fn in forwards.values():
            fn(decoded[0])  # first-run allocations
        rates: dict[str, list[float]] = {}
        for r in range(args.rounds):
            for name, fn in forwards.items():
                t = time.perf_counter()
                run(batches, read, lambda fn=fn: fn, lambda b, out: None)
                rates.setdefault(f"pipeline, {name}", []).append(round(len(files) / (time.perf_counter() - t), 1))
                t = time.perf_counter()
                for x in decoded:
                    fn(x)
                rates.setdefault(f"bare, {name}", []).append(round(len(files) / (time.perf_counter() - t), 1))
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]}" for k, v in rates.items()) + " images/s; load %.1f %.1f %.1f"
                  % os.getloadavg(), flush=True)
    write_report({"images": len(files), "image_size": size, "rounds": rates,
                  "median": {k: statistics.median(v) for k, v in rates.items()}}, args.json)


if __name__ == "__main__":
    main()
