"""Cost of the fsync in CacheWriter.commit: a 7,000 x 1280 float32 write (hymenoptera-sized), committed after
every 64-row batch, with and without the fsync.

    PYTHONPATH=. python scripts/bench_commit_fsync.py fsync|nofsync [--rows N]
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import featcache.store.writer as W
from featcache.store.writer import CacheWriter, SplitSpec

N, WIDTH, BATCH = 7000, 1280, 64
ATTRS = {"fingerprint": "f" * 64, "class_names": ["a", "b"], "layers": ["out"], "default_layer": "out", "settings": {}}


def run(fsync: bool, n: int = N) -> tuple[float, int]:
    if not fsync:
        W._fsync = lambda f: None
    X = np.random.default_rng(0).normal(size=(BATCH, WIDTH)).astype(np.float32)
    with tempfile.TemporaryDirectory() as d:
        w = CacheWriter(Path(d) / "b.h5", ATTRS, [SplitSpec("train", np.arange(n) % 2, np.arange(n))], {"out": WIDTH}, "float32")
        w.open()
        t, commits = time.perf_counter(), 0
        for s in range(0, n, BATCH):
            w.write("train", s, {"out": X[: min(BATCH, n - s)]})
            w.commit()
            commits += 1
        elapsed = time.perf_counter() - t
        w.finish()
    return elapsed, commits


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Time CacheWriter commits with and without the fsync.")
    parser.add_argument("mode", choices=["fsync", "nofsync"])
    parser.add_argument("--rows", type=int, default=N, help=f"rows written (default {N})")
    args = parser.parse_args()
    seconds, commits = run(args.mode == "fsync", args.rows)
    print(f"{args.mode}: {seconds:.2f} s for {commits} commits")
