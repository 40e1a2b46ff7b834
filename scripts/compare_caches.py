#!/usr/bin/env python3
"""Compare the features of two caches of the same images (e.g. two engines or
two Keras backends): max absolute difference per split and layer.

    python scripts/compare_caches.py A.h5 B.h5 [--atol 2e-4]

Exits 1 when the labels differ or any difference exceeds --atol.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from featcache.store.cache import open_cache  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--atol", type=float, default=2e-4,
                   help="largest difference allowed (default 2e-4: what the runtimes keep to at out_relu over all 70,000 "
                        "Fashion-MNIST images, docs/benchmarks.md \"How close the runtimes' features are\")")
    args = p.parse_args()
    a, b = open_cache(args.a), open_cache(args.b)
    report, ok = {"fingerprints_equal": a.fingerprint == b.fingerprint, "splits": {}}, True
    for split in a.split_names:
        same_labels = bool(np.array_equal(a.labels(split), b.labels(split)))
        ok &= same_labels
        layers = {}
        for layer in a.layers:
            fa, fb = a.features(split, layer), b.features(split, layer)
            diff = float(np.abs(fa - fb).max())
            layers[layer] = {"max_abs_diff": diff, "max_abs_value": float(np.abs(fa).max())}
            ok &= diff <= args.atol
        report["splits"][split] = {"n": a.sizes[split], "labels_equal": same_labels, "layers": layers}
    report["within_atol"] = bool(ok)
    print(json.dumps(report, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
