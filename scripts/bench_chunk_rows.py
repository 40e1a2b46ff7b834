#!/usr/bin/env python3
"""Benchmark: the HDF5 chunk height of feature datasets (``store.layout.CHUNK_ROWS``), the sizes taking turns.

Feature datasets are chunked along the sample axis, ``CHUNK_ROWS`` rows per
chunk, each chunk with its Fletcher-32 checksum. The height sets what a batch
write costs (the writer runs without a chunk cache, so a 64-row batch written
into a taller chunk reads, checks and rewrites the whole chunk: see
``layout.WRITE_CHUNK_CACHE``), what sealing and ``verify`` cost (both read
every chunk) and what a full read costs (``Cache.features``, what train,
evaluate, curve and probe do). This writes the same random float32 rows
through featcache's own ``CacheWriter`` (batches of --batch rows, a commit
every --commit-every batches, as the writer's once-a-second commits do at
about 900 images/s) for each height, then reads them back through
``open_cache(...).features`` and ``verify``; every round runs every height
once (its full read --reads times, the fastest kept), in an order that alternates. No model is involved.

    python scripts/bench_chunk_rows.py --rows 20000 --width 1280 --heights 64,128,256,512,1024 --rounds 3
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def write_cache(path: Path, feats, labels, batch: int, commit_every: int) -> float:
    """Seconds to write ``feats`` through CacheWriter (open, batches, commits, finish with its seal)."""
    import numpy as np

    from featcache.store import CacheIdentity, CacheWriter, SplitSpec

    ident = CacheIdentity(backbone="bench", weights="random", image_size=32, preprocessing="none", layers=["out"],
                          dtype="float32", dataset="bench", data_digest={"train": "x"},
                          class_names=[str(c) for c in range(10)])
    attrs = {"fingerprint": ident.fingerprint, "settings": ident.settings(), "class_names": list(ident.class_names),
             "layers": ["out"], "default_layer": "out", "dtype": "float32"}
    n = len(feats)
    t0 = time.perf_counter()
    w = CacheWriter(path, attrs, [SplitSpec("train", labels, np.arange(n))], {"out": feats.shape[1]}, "float32")
    w.open()
    for i, start in enumerate(range(0, n, batch)):
        w.write("train", start, {"out": feats[start : start + batch]})
        if (i + 1) % commit_every == 0:
            w.commit()
    w.finish()
    return time.perf_counter() - t0


def one_round(heights: list[int], feats, labels, args, tmp: Path) -> dict[int, dict[str, float]]:
    import numpy as np

    from featcache.store import layout, open_cache, verify

    import h5py

    out: dict[int, dict[str, float]] = {}
    for h in heights:
        saved, layout.CHUNK_ROWS = layout.CHUNK_ROWS, h  # read by lay_out when it makes the datasets
        path = tmp / f"chunks{h}.h5"
        try:
            write_s = write_cache(path, feats, labels, args.batch, args.commit_every)
        finally:
            layout.CHUNK_ROWS = saved
        with h5py.File(path, "r") as f:
            written = f["train/features/out"].chunks[0]
        if written != min(h, len(feats)):
            raise SystemExit(f"height {h}: the cache was written in chunks of {written} rows")
        reads = []
        for _ in range(args.reads):
            t0 = time.perf_counter()
            got = open_cache(path).features("train")
            reads.append(time.perf_counter() - t0)
            if not np.array_equal(got, feats):
                raise SystemExit(f"height {h}: the rows read back differ from those written")
            del got
        read_s = min(reads)  # the best of --reads: a full read varies 5-10x with the machine's other work
        t0 = time.perf_counter()
        verify(path)
        verify_s = time.perf_counter() - t0
        out[h] = {"write_s": write_s, "read_s": read_s, "verify_s": verify_s, "bytes": path.stat().st_size, "chunk_rows": written}
        path.unlink()
    return out


def main() -> None:
    import numpy as np

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=20000)
    p.add_argument("--width", type=int, default=1280, help="features per row (1280: MobileNetV2's out_relu)")
    p.add_argument("--heights", default="64,128,256,512,1024", help="chunk heights, comma-separated (the first is the reference)")
    p.add_argument("--batch", type=int, default=64, help="rows per write (extract's --batch-size)")
    p.add_argument("--commit-every", type=int, default=16, help="batches between commits")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--reads", type=int, default=3, help="full reads per height and round; the fastest is kept")
    p.add_argument("--dir", help="write the caches here (default: a temporary folder)")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    heights = [int(h) for h in args.heights.split(",")]
    rng = np.random.default_rng(0)
    feats = rng.random((args.rows, args.width), dtype=np.float32)
    labels = rng.integers(0, 10, args.rows)
    print(f"{args.rows} rows x {args.width} float32 ({feats.nbytes / 2**20:.0f} MiB), batches of {args.batch}, "
          f"heights {heights}, {args.rounds} rounds; load average {os.getloadavg()[0]:.1f}", flush=True)
    rounds = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for r in range(args.rounds):
            order = heights if r % 2 == 0 else heights[::-1]
            res = one_round(order, feats, labels, args, Path(tmp))
            rounds.append(res)
            print(f"round {r + 1}: " + "; ".join(f"{h}: write {res[h]['write_s']:.2f} s, read {res[h]['read_s']:.2f} s, "
                                                  f"verify {res[h]['verify_s']:.2f} s" for h in heights), flush=True)
    ref = heights[0]
    print(f"\nmedians of {args.rounds} rounds (ratios: median per round, against height {ref}); "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| chunk rows | chunk MB | write s | x | full read s | x | verify s | x | file MB |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    summary = {}
    for h in heights:
        row = {}
        for key in ("write_s", "read_s", "verify_s"):
            row[key] = statistics.median(rd[h][key] for rd in rounds)
            row[key + "_ratio"] = statistics.median(rd[h][key] / rd[ref][key] for rd in rounds)
        row["file_mb"] = rounds[-1][h]["bytes"] / 1e6
        summary[h] = row
        print(f"| {h} | {h * args.width * 4 / 1e6:.2f} | {row['write_s']:.2f} | {row['write_s_ratio']:.2f} | "
              f"{row['read_s']:.2f} | {row['read_s_ratio']:.2f} | {row['verify_s']:.2f} | {row['verify_s_ratio']:.2f} | "
              f"{row['file_mb']:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rounds": [{str(h): r[h] for h in heights} for r in rounds],
                                               "summary": {str(h): v for h, v in summary.items()}}, indent=1))


if __name__ == "__main__":
    main()
