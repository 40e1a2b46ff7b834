"""The one check of what a head's public methods are given (``fit``, ``predict``, ``predict_proba``,
``decision_function``): featcache's line naming the problem and the fix, before scikit-learn's ``validate_data``.

A head used in Python (a notebook's ``head.predict_proba(X)``) given rows of another width, NaN, or ``fit`` on one
class raised scikit-learn's bare ValueError, no FeatcacheError and no fix ("Input X contains NaN", "This solver needs
samples of at least 2 classes"; an adversarial tester), each head its own. Its errors are ``BadInput``: a
FeatcacheError, and a ValueError still, as scikit-learn's ``check_estimator`` and a caller's ``except ValueError`` expect.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from featcache.errors import BadInput, command, first_line, option


def fit_data(head: Any, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` to fit ``head`` on, as ``validate_data`` gives them (float32), checked: rows of numbers, finite,
    one label per row, at least two classes."""
    _check_rows(head, X, fitted_width=None)
    try:
        X, y = validate_data(head, X, y, dtype=np.float32)
        check_classification_targets(y)
    except ValueError as exc:
        raise _refused(head, exc) from None
    classes = np.unique(y)
    if len(classes) < 2:
        raise BadInput(f"{type(head).__name__} needs training labels of at least 2 classes, got only "
                       f"{classes[0].item()!r} (one class); fit it on rows of more than one class")
    return X, y


def predict_data(head: Any, X: Any) -> np.ndarray:
    """``X`` for ``head``'s ``predict``, ``predict_proba`` or ``decision_function`` (float32), checked: rows of numbers as wide as those it was fitted on, finite."""
    _check_rows(head, X, fitted_width=getattr(head, "n_features_in_", None))
    try:
        return validate_data(head, X, dtype=np.float32, reset=False)
    except ValueError as exc:
        raise _refused(head, exc) from None


def _check_rows(head: Any, X: Any, fitted_width: int | None) -> None:
    """The problems a user meets most, said in featcache's words before scikit-learn's: the width, NaN or infinity."""
    where = type(head).__name__
    try:
        arr = np.asarray(X)
    except Exception:  # ragged lists and the like: validate_data's own line, through _refused
        return
    if arr.dtype.kind not in "biuf":
        return  # scikit-learn says what it is (text, objects), through _refused
    if arr.ndim != 2:
        # "Reshape your data": scikit-learn's words, which its check_estimator looks for
        raise BadInput(f"{where}: X has shape {arr.shape}, not (rows, features); Reshape your data as a 2-D array, "
                       "one row of features per image (one image's row x as x.reshape(1, -1))")
    if fitted_width is not None and arr.shape[1] != fitted_width:
        # scikit-learn's own words first ("X has 5 features, but LogRegHead is expecting 6 features as input"),
        # which its check_estimator matches
        raise BadInput(f"X has {arr.shape[1]} features, but {where} is expecting {fitted_width} features as input; "
                       f"pass features of the layer it was fitted on ({fitted_width} per row)")
    if arr.dtype.kind == "f" and arr.size and not np.isfinite(arr).all():
        bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
        raise BadInput(f"{where}: X holds NaN or infinite values in {len(bad)} of {len(arr)} rows (the first: "
                             f"row {bad[0]}); pass finite features (a cache's are checked: "
                             f"{command('verify', call='cache')}{option(' it', '')})")


def _refused(head: Any, exc: ValueError) -> BadInput:
    """scikit-learn's complaint about the input, on one line, with what to pass."""
    return BadInput(f"{type(head).__name__}: {first_line(exc, limit=200).rstrip(':')}; pass X as a 2-D array of "
                          "numbers, one row of features per image (and y one class label per row)")
