#!/usr/bin/env python3
"""Benchmark: what the reader's checks cost when features are read for use (``Cache.features``).

Writes one synthetic layer (--rows x --width random float32, one split) with
featcache's own ``CacheWriter`` (so it is sealed as extract seals: checksums,
digests), then, in --rounds rounds:

- ``first``: ``open_cache(path).features("train")`` on a fresh Cache: the
  first read of the layer, with every check this featcache makes on it;
- ``again``: the same Cache read again, ``--reads`` times (median): what
  probe, a notebook or the lesson pay for each further read of the layer;
- ``subset_first``, ``subset_again``: the same for --subset rows drawn at
  random (sorted), as ``train --train-size`` reads them;
- ``h5py``, ``subset_h5py``: the layer and the subset read with h5py alone
  (``ds[()]``, ``ds[rows]``): reading, with Fletcher-32, nothing of featcache's;
- ``chunks``: ``layout.check_chunks_stored`` alone (every chunk looked up);
- ``hash``: SHA-256 of the layer's bytes, in memory;
- ``read_plain``, ``read_hashed`` (this featcache only): the reader's read of
  the whole layer without and with its digest (``_select``, ``_hashed_read``),
  in turns on one open file: the digest check's own cost, paired.

It calls only the public reader, so it runs on older checkouts too (copy it
there): the before/after figures of docs/cache-format.md come from that.

    python scripts/bench_feature_reads.py --rows 70000 --width 1280 --subset 4000 --rounds 3 --reads 5
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

KEYS = ("first", "again", "subset_first", "subset_again", "h5py", "subset_h5py", "chunks", "hash")


def write_cache(path: Path, feats, labels) -> float:
    """Seconds to write and seal ``feats`` through CacheWriter in extract's batches of 64."""
    import numpy as np

    from featcache.store import CacheIdentity, CacheWriter, SplitSpec

    ident = CacheIdentity(backbone="bench", weights="random", image_size=32, preprocessing="none", layers=["out"],
                          dtype="float32", dataset="bench", data_digest={"train": "x"},
                          class_names=[str(c) for c in range(10)])
    attrs = {"fingerprint": ident.fingerprint, "settings": ident.settings(), "class_names": list(ident.class_names),
             "layers": ["out"], "default_layer": "out", "dtype": "float32"}
    t0 = time.perf_counter()
    w = CacheWriter(path, attrs, [SplitSpec("train", labels, np.arange(len(feats)))], {"out": feats.shape[1]}, "float32")
    w.open()
    for start in range(0, len(feats), 64):
        w.write("train", start, {"out": feats[start : start + 64]})
    w.finish()
    return time.perf_counter() - t0


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def one_round(path: Path, feats, subset, reads: int) -> dict[str, float]:
    """One of each measurement; a fresh Cache's first read comes first, right before its further reads, so that the
    two differ by the checks of a first read alone (a full read varies several-fold with the machine's other work)."""
    import h5py
    import numpy as np

    from featcache.store import open_cache
    from featcache.store.layout import check_chunks_stored

    out: dict[str, float] = {}
    cache = open_cache(path)
    out["first"], got = timed(lambda: cache.features("train"))
    if not np.array_equal(got, feats):
        raise SystemExit("the rows read back differ from those written")
    del got
    out["again"] = statistics.median(timed(lambda: cache.features("train"))[0] for _ in range(reads))
    cache = open_cache(path)
    out["subset_first"], got = timed(lambda: cache.features("train", rows=subset))
    if not np.array_equal(got, feats[subset]):
        raise SystemExit("the subset read back differs from the rows written")
    del got
    out["subset_again"] = statistics.median(timed(lambda: cache.features("train", rows=subset))[0] for _ in range(reads))
    with h5py.File(path, "r") as f:
        ds = f["train/features/out"]
        out["h5py"] = statistics.median(timed(lambda: ds[()])[0] for _ in range(reads))
        out["subset_h5py"] = statistics.median(timed(lambda: ds[subset])[0] for _ in range(reads))
        out["chunks"] = statistics.median(timed(lambda: check_chunks_stored(path, ds, "train/features/out"))[0]
                                          for _ in range(reads))
    out["hash"] = statistics.median(timed(lambda: hashlib.sha256(feats).hexdigest())[0] for _ in range(reads))
    from featcache.store import reader

    if hasattr(reader, "_hashed_read"):  # this featcache's two ways to read a layer, in turns, on one open file
        from featcache.store.layout import dataset_hasher

        plain, hashed = [], []
        with h5py.File(path, "r") as f:
            ds = f["train/features/out"]
            for _ in range(reads):
                plain.append(timed(lambda: reader._select(ds, None))[0])
                hashed.append(timed(lambda: reader._hashed_read(ds, None, dataset_hasher("train/features/out", ds)))[0])
        out["read_plain"], out["read_hashed"] = statistics.median(plain), statistics.median(hashed)
    return out


def main() -> None:
    import numpy as np

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=70000)
    p.add_argument("--width", type=int, default=1280, help="features per row (1280: MobileNetV2's out_relu)")
    p.add_argument("--subset", type=int, default=4000, help="rows of the subset read (train --train-size)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--reads", type=int, default=5, help="further reads of the same open Cache per round (median kept)")
    p.add_argument("--dir", help="write the cache here (default: a temporary folder)")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    feats = rng.random((args.rows, args.width), dtype=np.float32)
    labels = rng.integers(0, 10, args.rows)
    subset = np.sort(rng.choice(args.rows, min(args.subset, args.rows), replace=False))
    print(f"{args.rows} rows x {args.width} float32 ({feats.nbytes / 2**20:.0f} MiB), subset {len(subset)} rows, "
          f"{args.rounds} rounds; load average {os.getloadavg()[0]:.1f}", flush=True)
    rounds = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "bench.h5"
        write_s = write_cache(path, feats, labels)
        print(f"written and sealed in {write_s:.2f} s", flush=True)
        for r in range(args.rounds):
            res = one_round(path, feats, subset, args.reads)
            rounds.append(res)
            print(f"round {r + 1}: " + ", ".join(f"{k} {v:.3f} s" for k, v in res.items()), flush=True)
    # The fastest round as well as the median: on a shared machine a read varies several-fold with the other work
    keys = [k for k in (*KEYS, "read_plain", "read_hashed") if k in rounds[0]]
    summary = {k: {"median": statistics.median(rd[k] for rd in rounds), "min": min(rd[k] for rd in rounds)} for k in keys}
    print(f"\nseconds over {args.rounds} rounds, median (fastest); load average {os.getloadavg()[0]:.1f}")
    print("| " + " | ".join(keys) + " |")
    print("| " + " | ".join("---:" for _ in keys) + " |")
    print("| " + " | ".join(f"{summary[k]['median']:.3f} ({summary[k]['min']:.3f})" for k in keys) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "write_s": write_s, "rounds": rounds,
                                               "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
