"""A head's public methods given bad input say so in featcache's one line (heads.inputs), not scikit-learn's
ValueError: rows of another width, NaN, one row as a 1-D array, and fit on one class (an adversarial tester
using the Python API). Each case failed on the code before (a ValueError, no FeatcacheError)."""

from __future__ import annotations

import numpy as np
import pytest

from featcache.errors import FeatcacheError
from featcache.heads import DenseHead, LogRegHead, SVMHead

HEADS = [LogRegHead, SVMHead, pytest.param(DenseHead, id="DenseHead")]


def rows(n: int = 40, d: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, d)).astype(np.float32), np.arange(n) % 2


def fitted(cls):
    X, y = rows()
    return cls(**({"epochs": 1} if cls is DenseHead else {})).fit(X, y)


def refused(call) -> str:
    with pytest.raises(FeatcacheError) as err:
        call()
    message = str(err.value)
    assert "\n" not in message and isinstance(err.value, ValueError), message  # scikit-learn's convention kept
    return message


@pytest.mark.parametrize("cls", HEADS)
def test_rows_of_another_width_name_both_widths(cls):
    head, (X, _) = fitted(cls), rows()
    for method in ("predict", "predict_proba"):
        assert refused(lambda: getattr(head, method)(X[:, :5])) == (
            f"X has 5 features, but {cls.__name__} is expecting 6 features as input; pass features of the layer it "
            "was fitted on (6 per row)")


@pytest.mark.parametrize("cls", HEADS)
def test_nan_rows_are_counted_and_a_1d_row_is_named(cls):
    head, (X, _) = fitted(cls), rows()
    X[[3, 7], 2] = np.nan
    X[9, 0] = np.inf
    assert refused(lambda: head.predict_proba(X)).startswith(
        f"{cls.__name__}: X holds NaN or infinite values in 3 of 40 rows (the first: row 3); pass finite features")
    assert refused(lambda: head.predict(X[0])).startswith(f"{cls.__name__}: X has shape (6,), not (rows, features)")
    assert refused(lambda: cls().fit(X, rows()[1])).startswith(f"{cls.__name__}: X holds NaN")


@pytest.mark.parametrize("cls", HEADS)
def test_fit_on_one_class_says_a_classifier_needs_two(cls):
    X, y = rows()
    assert refused(lambda: cls().fit(X, np.zeros_like(y))) == (
        f"{cls.__name__} needs training labels of at least 2 classes, got only 0 (one class); fit it on rows of more "
        "than one class")
    assert "as a 2-D array of numbers" in refused(lambda: cls().fit(X, y[:10]))  # scikit-learn's line, on one line
