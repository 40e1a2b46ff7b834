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
    import numpy as np

    from featcache.embedding import runtimes
    from featcache.embedding.backbones import get_backbone
    from featcache.embedding.engines.local import run
    from featcache.sources import images as photos
    from featcache.sources.decode import decode_image

    from make_jpeg_folder import add_photo_source, photo_source

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", required=True)
    add_photo_source(p)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--layer", help="tap this layer (default: the final one; an early one for smoke runs)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    weights = args.weights if args.weights in ("imagenet", "random") else str(Path(args.weights).resolve())
    size = args.image_size
    with tempfile.TemporaryDirectory() as tmp:
        files = photo_source(args, Path(tmp))
        bb = get_backbone("mobilenet_v2")
        spec = runtimes.ConversionSpec(bb.name, weights, size, (args.layer or bb.final_layer,), (size, size, 3))
        t = time.perf_counter()
        onnx = runtimes.converted_model(spec, Path(tmp) / "runtimes", runtimes.OnnxRuntime().load)
        print(f"{len(files)} JPEGs at {size} px; converted in {time.perf_counter() - t:.1f} s", flush=True)
        forwards = {"spinning": session(onnx, True), "no spinning": session(onnx, False)}
        batches = [(i, min(i + args.batch, len(files))) for i in range(0, len(files), args.batch)]

        def read(b):
            return np.stack(list(photos._pool().map(lambda f: decode_image(f, size), files[b[0] : b[1]])))

        decoded = [read(b) for b in batches]
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
    print(json.dumps({"images": len(files), "image_size": size, "rounds": rates,
                      "median": {k: statistics.median(v) for k, v in rates.items()}}))


if __name__ == "__main__":
    main()
