"""Classifier heads on cached features, all scikit-learn estimators.

Every head has ``fit(X, y)``, ``predict``, ``predict_proba``, ``score`` and
its parameters in ``__init__``, so evaluation, learning curves and probing
treat them alike. ``make_head(name, **params)`` is the one way to build one
by name (CLI, curves, probing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from featcache.errors import FeatcacheError
from featcache.heads.dense import DenseHead
from featcache.heads.logreg import LogRegHead
from featcache.heads.svm import SVMHead

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator


HEADS: dict[str, type] = {"keras": DenseHead, "logreg": LogRegHead, "svm": SVMHead}


def make_head(name: str, **params: Any) -> BaseEstimator:
    try:
        cls = HEADS[name]
    except KeyError:
        raise FeatcacheError(f"unknown head {name!r}; choose one of: {', '.join(HEADS)}") from None
    return cls(**params)


__all__ = ["HEADS", "make_head", "DenseHead", "LogRegHead", "SVMHead"]
