"""Classifier heads on cached features, all scikit-learn estimators.

Every head has ``fit(X, y)``, ``predict``, ``predict_proba``, ``score`` and
its parameters in ``__init__``, so evaluation, learning curves and probing
treat them alike. ``make_head(name, **params)`` is the one way to build one
by name (CLI, curves, probing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from featcache.errors import FeatcacheError
from featcache.heads.dense import DenseHead
from featcache.heads.logreg import LogRegHead
from featcache.heads.svm import SVMHead

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator


HEADS: dict[str, type] = {"keras": DenseHead, "logreg": LogRegHead, "svm": SVMHead}


def make_head(name: str, **params: Any) -> BaseEstimator:
    """Head ``name`` with ``params``, every one of them checked (``check_params``: one line naming a bad one)."""
    try:
        cls = HEADS[name]
    except KeyError:
        raise FeatcacheError(f"unknown head {name!r}; choose one of: {', '.join(HEADS)}") from None
    try:
        head = cls(**params)
    except TypeError as exc:
        raise FeatcacheError(f"bad parameters for head {name!r} ({exc}); pass only parameters that head takes") from None
    head.check_params()
    return head


def folds_needed(name: str, params: Mapping[str, Any]) -> str | None:
    """What in head ``name``'s fit (with ``params``) splits its training images into folds, or None.

    Such a fit needs 2 images of every class among the rows it is given; train,
    curve and probe check that on their own fit rows before any fit
    (``validate.check_two_per_class``), so the heads' own ValueError is not
    what a user sees. A head without the method (the Keras head) needs none.
    """
    needed = getattr(make_head(name, **params), "folds_needed", None)
    return needed() if needed else None


__all__ = ["HEADS", "make_head", "folds_needed", "DenseHead", "LogRegHead", "SVMHead"]
