"""A fitted scikit-learn head as arrays plus JSON, rebuilt without running anything from the file.

``encode`` walks an estimator's attributes (``vars``) into a JSON tree whose
leaves are plain values or references to numpy arrays; ``decode`` rebuilds it.
Objects are allowed only from ``TRUSTED`` (the classes a featcache head is
made of): decoding creates them with ``cls.__new__`` and sets their
attributes, so no constructor, ``__setstate__`` or ``__reduce__`` named by the
file runs, unlike pickle. Arrays are read with ``allow_pickle=False`` by the
caller, so none holds Python objects. Every attribute comes back with its
dtype and bits, hence predictions are bit-identical (tests/test_head_files.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class StateError(ValueError):
    """The tree holds something ``decode`` does not accept (unknown class or tag, object array)."""


def trusted_classes() -> dict[str, type]:
    """``"module.QualName" -> class`` for every object a head's state may hold."""
    from sklearn.calibration import CalibratedClassifierCV, _CalibratedClassifier, _SigmoidCalibration
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from featcache.heads.logreg import LogRegHead
    from featcache.heads.svm import SVMHead

    classes = (LogRegHead, SVMHead, Pipeline, StandardScaler, LogisticRegression, SVC, CalibratedClassifierCV,
               _CalibratedClassifier, _SigmoidCalibration, StratifiedKFold)
    return {f"{c.__module__}.{c.__qualname__}": c for c in classes}


def encode(obj: Any, arrays: list[np.ndarray], trusted: dict[str, type] | None = None) -> Any:
    """JSON-able tree of ``obj``; its arrays are appended to ``arrays`` and referenced by position."""
    trusted = trusted_classes() if trusted is None else trusted
    if obj is None or isinstance(obj, (bool, int, float, str)) and not isinstance(obj, np.generic):
        return obj
    if isinstance(obj, (np.ndarray, np.generic)):
        arr = np.asarray(obj)
        if arr.dtype.hasobject:
            raise StateError(f"an array of Python objects ({arr.dtype}) cannot be stored safely")
        arrays.append(arr)
        return {"__array__" if isinstance(obj, np.ndarray) else "__scalar__": len(arrays) - 1}
    if isinstance(obj, list):
        return [encode(v, arrays, trusted) for v in obj]
    if isinstance(obj, tuple):
        return {"__tuple__": [encode(v, arrays, trusted) for v in obj]}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {"__dict__": {k: encode(v, arrays, trusted) for k, v in obj.items()}}
        return {"__items__": [[encode(k, arrays, trusted), encode(v, arrays, trusted)] for k, v in obj.items()]}
    name = f"{type(obj).__module__}.{type(obj).__qualname__}"
    if trusted.get(name) is not type(obj):
        raise StateError(f"{name} is not a class a featcache head may hold")
    return {"__object__": name, "state": encode(vars(obj), arrays, trusted)}


def decode(tree: Any, arrays: dict[int, np.ndarray], trusted: dict[str, type] | None = None) -> Any:
    """Inverse of ``encode``; ``arrays`` maps positions to the arrays read back."""
    trusted = trusted_classes() if trusted is None else trusted
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    if isinstance(tree, list):
        return [decode(v, arrays, trusted) for v in tree]
    if not isinstance(tree, dict) or len(tree) not in (1, 2):
        raise StateError(f"unexpected {type(tree).__name__} in a head's state")
    (tag, value), *rest = tree.items()
    if tag in ("__array__", "__scalar__") and not rest:
        if not isinstance(value, int) or value not in arrays:
            raise StateError(f"array {value!r} is missing")
        arr = arrays[value]
        if arr.dtype.hasobject:
            raise StateError("object arrays are not accepted")
        return arr if tag == "__array__" else arr[()]
    if tag == "__tuple__" and not rest and isinstance(value, list):
        return tuple(decode(v, arrays, trusted) for v in value)
    if tag == "__dict__" and not rest and isinstance(value, dict):
        return {k: decode(v, arrays, trusted) for k, v in value.items()}
    if tag == "__items__" and not rest and isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 for p in value):
        return {_hashable(decode(k, arrays, trusted)): decode(v, arrays, trusted) for k, v in value}
    if tag == "__object__" and rest and rest[0][0] == "state":
        cls = trusted.get(value) if isinstance(value, str) else None
        if cls is None:
            raise StateError(f"{value!r} is not a class a featcache head may hold")
        attrs = decode(rest[0][1], arrays, trusted)
        if not isinstance(attrs, dict) or not all(isinstance(k, str) for k in attrs):
            raise StateError(f"the attributes of {value} are not a mapping of names")
        obj = cls.__new__(cls)
        obj.__dict__.update(attrs)
        return obj
    raise StateError(f"unknown entry {tag!r} in a head's state")


def _hashable(key: Any) -> Any:
    if isinstance(key, (list, dict, np.ndarray)):
        raise StateError("a mapping key in a head's state is not a plain value")
    return key
