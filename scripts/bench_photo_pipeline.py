#!/usr/bin/env python3
"""Benchmark: where a photo pipeline's time goes next to ONNX Runtime, per session layout, and what it reaches when decoding has a core of its own (issue 14).

One process, the runtime's bare pass and featcache's pipeline taking turns
each round, so the machine's speed changes hit both alike:
  bare      the forward pass on batches already decoded;
  pipeline  featcache's local engine ``run()`` (reading two batches ahead,
            writing behind) with featcache's decoding pool as the reader
            (``decode_image``, JPEG -> uint8 at --image-size) and a no-op
            writer.
Both run on featcache's ``OnnxRuntime`` (its session options, featcache's
converted model) in three layouts: featcache's (one run on ONNX Runtime's
default threads, one per core), each batch cut into one part per core run at
once on one thread each (``bench_ort_layouts.py``), and one run on one core
fewer: on 2 cores the last leaves decoding a core of its own, which is what a machine with more cores
than the runtime uses gives. Each round prints images/s, and per image the
CPU the decoding threads used and the rest of the process's CPU (the
runtime's); the medians of the per-round ratios pipeline / bare close it.

    python scripts/bench_photo_pipeline.py --weights ../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5 --make-photos 512 --rounds 9
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))


def process_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    from featcache.embedding import runtimes
    from featcache.embedding.engines.local import run
    from featcache.sources.decode import decode_image

    from bench_ort_layouts import (add_pass_options, converted_extractor, layout_label, layout_runtime, photo_batches,
                                   write_report)
    from make_jpeg_folder import photo_source

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_pass_options(p, rounds=9)
    args = p.parse_args()
    size, cores = args.image_size, os.cpu_count() or 1
    layouts = {"featcache: 1 run x default threads": runtimes.OnnxRuntime()}
    if cores > 1:  # counted as the package counts (progress.counted): "1 run x 1 thread(s)" on 2 cores
        layouts[layout_label(cores, 1)] = layout_runtime(cores, 1)
        layouts[f"{layout_label(1, cores - 1)}, decoding has a core"] = runtimes.OnnxRuntime(threads=cores - 1)
    with tempfile.TemporaryDirectory() as tmp:
        files = photo_source(args, Path(tmp))
        _, onnx, seconds = converted_extractor(args, size, (size, size, 3), Path(tmp))
        print(f"{len(files)} JPEGs at {size} px, {cores} cores; converted in {seconds:.1f} s", flush=True)
        forwards = {name: layout.load(onnx) for name, layout in layouts.items()}
        lock, decode_cpu = threading.Lock(), [0.0]

        def decode(f):
            c = time.thread_time()
            img = decode_image(f, size)
            with lock:
                decode_cpu[0] += time.thread_time() - c
            return img

        batches, read, decoded = photo_batches(files, size, args.batch, decode)
        for fn in forwards.values():
            fn(decoded[0])  # first-run allocations
        runs: dict[str, list[dict]] = {}
        for r in range(args.rounds):
            line = []
            for n, fn in forwards.items():
                got = {}
                for mode in ("bare", "pipeline"):
                    decode_cpu[0] = 0.0
                    t, c = time.perf_counter(), process_cpu()
                    if mode == "bare":
                        for x in decoded:
                            fn(x)
                    else:
                        run(batches, read, lambda fn=fn: fn, lambda b, out: None)
                    wall, cpu = time.perf_counter() - t, process_cpu() - c
                    got[mode] = {"images_per_s": round(len(files) / wall, 1),
                                 "decode_cpu_ms": round(decode_cpu[0] / len(files) * 1e3, 2),
                                 "other_cpu_ms": round((cpu - decode_cpu[0]) / len(files) * 1e3, 2)}
                    runs.setdefault(f"{mode}, {n}", []).append(got[mode])
                ratio = got["pipeline"]["images_per_s"] / got["bare"]["images_per_s"]
                runs.setdefault(f"ratio, {n}", []).append({"pipeline_over_bare": round(ratio, 3)})
                line.append(f"{n}: bare {got['bare']['images_per_s']}, pipeline {got['pipeline']['images_per_s']} "
                            f"images/s ({ratio:.2f}x; CPU ms/image decode {got['pipeline']['decode_cpu_ms']}, "
                            f"runtime {got['pipeline']['other_cpu_ms']} vs {got['bare']['other_cpu_ms']} bare)")
            print(f"round {r + 1}: " + "; ".join(line) + "; load %.1f %.1f %.1f" % os.getloadavg(), flush=True)
    median = {k: {m: round(statistics.median(v[m] for v in vs), 3) for m in vs[0]} for k, vs in runs.items()}
    print()
    for n in layouts:
        b, pl = median[f"bare, {n}"], median[f"pipeline, {n}"]
        print(f"{n}: bare {b['images_per_s']} images/s, pipeline {pl['images_per_s']}; "
              f"pipeline / bare {median[f'ratio, {n}']['pipeline_over_bare']:.3f} (median of {args.rounds} rounds); "
              f"CPU per image: decode {pl['decode_cpu_ms']} ms, runtime {pl['other_cpu_ms']} ms (bare {b['other_cpu_ms']} ms)")
    write_report({"images": len(files), "image_size": size, "cores": cores, "rounds": runs, "median": median}, args.json)


if __name__ == "__main__":
    main()
