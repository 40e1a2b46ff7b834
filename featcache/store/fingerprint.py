"""Fingerprints: a cache is reused exactly when everything that shapes it matches.

After Hugging Face ``datasets``: hash a canonical JSON of the inputs and
arguments. Only things that change the stored numbers belong in it (not the
engine, batch size or output path). Only values that JSON holds exactly are
hashed: a value it would have to turn into some string (a path, an object,
a numpy array) is a TypeError, so two different values never share a hash.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np


def canonical(value: Any) -> Any:
    """``value`` as plain JSON types: tuples become lists, numpy scalars Python ones; anything else is a TypeError."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"cannot fingerprint a dict key of type {type(k).__name__} ({k!r}); use str keys")
            out[k] = canonical(v)
        return out
    raise TypeError(f"cannot fingerprint a value of type {type(value).__name__} ({value!r}); convert it to str, int, float, list or dict")


def fingerprint(settings: dict[str, Any]) -> str:
    blob = json.dumps(canonical(settings), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()
