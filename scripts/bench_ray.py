#!/usr/bin/env python3
"""Benchmark: the Ray engine with 1 and 2 workers next to the local engine.

In one run, on the same Fashion-MNIST images, real MobileNetV2 weights:
  1. local engine: `featcache.extract` into a fresh cache;
  2. Ray engine, 1 worker then 2 workers (--workers; each a fresh private Ray instance):
     time to start Ray, time to the first written batch (actors importing
     TensorFlow and building the network), steady images/s after that, and
     images/s over the whole call;
  3. Ray's own per-batch cost: the same batches through both engines with a
     trivial mapper (no network), so only decode tasks, actor calls,
     transfers and ordered delivery remain.

    python scripts/bench_ray.py --weights ../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5

The machine's load average is printed with the figures: on a shared machine
they are a lower bound.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class Timed:
    """An engine wrapped to record when it starts and when each batch is written (the benchmark's probe).

    It wraps the engine's ``write`` callable, the one seam every engine
    calls in batch order, so it measures any engine without patching
    featcache (patching ``CacheWriter.write`` broke when its signature grew).
    """

    def __init__(self, engine):
        self.engine = engine
        self.runtime = engine.runtime
        self.stamps: list[tuple[float, int]] = []
        self.start = 0.0

    def check(self) -> None:
        self.engine.check()

    def run(self, batches, read, make_embed, write) -> None:
        def timed_write(b, out):
            write(b, out)
            self.stamps.append((time.perf_counter(), len(b)))

        self.start = time.perf_counter()
        self.engine.run(batches, read, make_embed, timed_write)


@contextlib.contextmanager
def private_ray():
    """A fresh private Ray instance for the block; yields the seconds it took to start."""
    from featcache.embedding.engines import ray_engine
    from featcache.validate import usable_cores

    t = time.perf_counter()
    ray = ray_engine.start_local(usable_cores())
    try:
        yield round(time.perf_counter() - t, 2)
    finally:
        ray.shutdown()


def extract_run(engine: str, workers: int | None, args, ray_init_s: float | None = None) -> dict:
    """One extraction; a Ray run needs a Ray instance started (``private_ray``), whose start time it reports."""
    import featcache

    report: dict = {"engine": engine if workers is None else f"{engine}, {workers} worker{'s' * (workers > 1)}"}
    if ray_init_s is not None:
        report["ray_init_s"] = ray_init_s
    timed = Timed(featcache.RayEngine(workers=workers) if engine == "ray" else featcache.LocalEngine())
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = featcache.extract(featcache.FashionMNIST(args.data_dir, train_limit=args.n, test_limit=args.batch_size),
                                featcache.ModelSpec(weights=args.weights, image_size=args.image_size),
                                featcache.StoreSpec(out=Path(tmp) / "c.h5", batch_size=args.batch_size), timed)
        wall = time.perf_counter() - t0
    (t_first, n_first), t_last = timed.stamps[0], timed.stamps[-1][0]
    steady = (res.images - n_first) / (t_last - t_first) if t_last > t_first else float("nan")
    report.update({
        "images": res.images,
        "driver_model_build_s": round(res.startup_seconds, 2),
        "to_first_batch_s": round(t_first - timed.start, 2),
        "steady_images_per_s": round(steady, 1),
        "whole_call_images_per_s": round(res.images / wall, 1),
        "whole_call_s": round(wall, 1),
    })
    return report


class Trivial:
    """A mapper without a network: what remains is the engine's own cost per batch."""

    def __call__(self):
        return lambda x: {"mean": x.reshape(len(x), -1).mean(axis=1, keepdims=True).astype("float32")}


def per_batch_overhead(args) -> dict:
    """The trivial mapper through both engines; the Ray half runs on the Ray instance already started."""
    from featcache.embedding.batches import plan
    from featcache.embedding.engines import local, ray_engine
    from featcache.sources import fashion_mnist

    source = fashion_mnist.load(args.data_dir, train_limit=args.n, test_limit=args.batch_size)
    batches = plan({s.name: len(s) for s in source.splits.values()}, {}, args.batch_size)

    def read(b):
        return source.splits[b.split].read(b.start, b.stop)

    def per_batch(run, **kw) -> float:
        # Seconds between consecutive delivered batches once the first is out:
        # free of start-up costs.
        stamps: list[float] = []
        run(batches, read, Trivial(), lambda b, f: stamps.append(time.perf_counter()), **kw)
        return (stamps[-1] - stamps[0]) / (len(stamps) - 1)

    local_per = min(per_batch(local.run) for _ in range(args.overhead_runs))
    ray_per = min(per_batch(ray_engine.run, workers=1) for _ in range(args.overhead_runs))
    return {"batches": len(batches), "local_ms_per_batch": round(1000 * local_per, 2), "ray_ms_per_batch": round(1000 * ray_per, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", required=True)
    p.add_argument("--data-dir")
    p.add_argument("-n", type=int, default=4096, help="training images to embed (plus one batch of test images)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--image-size", type=int, help="default: the source's (96 for Fashion-MNIST)")
    p.add_argument("--workers", default="1,2", help="the Ray runs' worker counts, comma-separated (default: 1,2)")
    p.add_argument("--overhead-runs", type=int, default=2,
                   help="runs of the trivial mapper through each engine, the fastest kept; each Ray run starts a new actor "
                        "(default: 2)")
    args = p.parse_args()

    load_before = os.getloadavg()
    runs = [extract_run("local", None, args)]
    workers = [int(w) for w in args.workers.split(",")]
    for i, w in enumerate(workers):
        with private_ray() as init_s:  # each worker count on a fresh instance, whose start is part of what is timed
            runs.append(extract_run("ray", w, args, init_s))
            if i == len(workers) - 1:  # the last instance also serves the trivial mapper: one Ray start (5-30 s) fewer
                overhead = per_batch_overhead(args)
    report = {"cpus": len(os.sched_getaffinity(0)), "load_average_before": [round(x, 1) for x in load_before],
              "load_average_after": [round(x, 1) for x in os.getloadavg()], "runs": runs,
              "trivial_mapper": overhead}
    print(json.dumps(report, indent=2))
    print(f"\n{'engine':<18}{'init s':>8}{'to 1st batch s':>16}{'steady img/s':>14}{'whole call img/s':>18}")
    for r in runs:
        print(f"{r['engine']:<18}{r.get('ray_init_s', 0):>8}{r['to_first_batch_s']:>16}{r['steady_images_per_s']:>14}{r['whole_call_images_per_s']:>18}")


if __name__ == "__main__":
    main()
