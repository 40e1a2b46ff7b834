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


def trusted_classes(head: type | None = None) -> dict[str, type]:
    """``"module.QualName" -> class`` for every object the state of a ``head`` (a class of ``heads.HEADS``) may hold:
    what that class lists (its ``state_classes``). A file of one head trusts that head's classes alone, so a logreg
    file cannot hold an SVM's objects where no check looks (a review). Without ``head``: every registered head's."""
    from featcache.heads import HEADS

    heads = [head] if head is not None else [h for h in HEADS.values() if hasattr(h, "state_classes")]
    classes = {c for h in heads for c in h.state_classes()}
    return {f"{c.__module__}.{c.__qualname__}": c for c in classes}


def scaled_steps(head: Any) -> list[Any]:
    """The steps of a fitted head's ``pipeline_`` when it is exactly a scikit-learn Pipeline of a StandardScaler and
    one more step (what the scikit-learn heads fit), else []: the common part of their ``structure_ok``."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = vars(head).get("pipeline_")
    if type(pipe) is not Pipeline or not isinstance(pipe.steps, list):
        return []
    steps = [s for _, s in pipe.steps]
    if len(steps) != 2 or type(steps[0]) is not StandardScaler or not _scaler_ok(steps[0], vars(head).get("n_features_in_")):
        return []
    return steps


def _scaler_ok(scaler: Any, width: Any) -> bool:
    """The scaler standardizes as ``fit`` made it: centring and scaling on (a crafted ``with_mean: false`` made the
    head ignore the mean that export folds in: another model than the head; an adversarial tester), one finite
    mean and one positive scale per feature."""
    v = vars(scaler)
    if v.get("with_mean") is not True or v.get("with_std") is not True:
        return False
    mean, scale = v.get("mean_"), v.get("scale_")
    if not (isinstance(mean, np.ndarray) and isinstance(scale, np.ndarray) and isinstance(width, (int, np.integer))):
        return False
    return (mean.shape == scale.shape == (width,) and bool(np.isfinite(mean).all()) and bool(np.isfinite(scale).all())
            and bool((scale > 0).all()))


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


# How deep a head's state may nest. The deepest featcache head (an SVM with
# calibrated probabilities) nests at most 21 JSON levels (measured on
# SVMHead().fit; LogRegHead(C="cv") nests 13); 64 leaves room for
# scikit-learn changes while staying far below Python's recursion limit
# (1000 frames; at most 3 per level here).
MAX_DEPTH = 64


def decode(tree: Any, arrays: dict[int, np.ndarray], trusted: dict[str, type] | None = None,
           created: list[Any] | None = None) -> Any:
    """Inverse of ``encode``; ``arrays`` maps positions to the arrays read back.

    Every object built is appended to ``created`` (when given), so the caller
    can check all of them, however deep the file put them.
    """
    trusted = trusted_classes() if trusted is None else trusted
    return _decode(tree, arrays, trusted, [] if created is None else created, 0)


def _decode(tree: Any, arrays: dict[int, np.ndarray], trusted: dict[str, type], created: list[Any], depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise StateError(f"the state nests deeper than {MAX_DEPTH} levels")
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree

    def sub(v):
        return _decode(v, arrays, trusted, created, depth + 1)

    if isinstance(tree, list):
        return [sub(v) for v in tree]
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
        return tuple(sub(v) for v in value)
    if tag == "__dict__" and not rest and isinstance(value, dict):
        return {k: sub(v) for k, v in value.items()}
    if tag == "__items__" and not rest and isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 for p in value):
        return {_hashable(sub(k)): sub(v) for k, v in value}
    if tag == "__object__" and rest and rest[0][0] == "state":
        cls = trusted.get(value) if isinstance(value, str) else None
        if cls is None:
            raise StateError(f"{value!r} is not a class a featcache head may hold")
        attrs = sub(rest[0][1])
        if not isinstance(attrs, dict) or not all(isinstance(k, str) for k in attrs):
            raise StateError(f"the attributes of {value} are not a mapping of names")
        obj = cls.__new__(cls)
        obj.__dict__.update(attrs)
        created.append(obj)
        return obj
    raise StateError(f"unknown entry {tag!r} in a head's state")


def _hashable(key: Any) -> Any:
    try:  # a tuple holding a list is unhashable too
        hash(key)
    except TypeError:
        raise StateError("a mapping key in a head's state is not a plain value") from None
    if isinstance(key, np.ndarray):
        raise StateError("a mapping key in a head's state is not a plain value")
    return key
