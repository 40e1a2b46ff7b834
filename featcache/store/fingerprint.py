"""Fingerprints: a cache is reused exactly when everything that shapes it matches.

After Hugging Face ``datasets``: hash a canonical JSON of the inputs and
arguments. Only things that change the stored numbers belong in it (not the
engine, batch size or output path).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np


def fingerprint(settings: dict[str, Any]) -> str:
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def array_digest(*arrays: np.ndarray) -> str:
    """Content hash of arrays (dtype, shape and bytes)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()
