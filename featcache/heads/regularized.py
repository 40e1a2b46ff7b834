"""What the heads regularized by a ``C`` share (logreg, svm): ``C`` as the CLI reads it, the folds of ``C="cv"``
and the legend that names it. One home: each was spelled twice, once per head, the fix words of too few images
for the folds included."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from featcache.heads.views import fold_count
from featcache.validate import ParamLabel, param_text, parse_C

# What a fit with C="cv" and too few images of a class to fold says to do (heads.views.fold_count).
CV_FIX = "pass a number for C or train on more rows"


class RegularizedHead:
    """Mixin of a scikit-learn head with parameters ``C`` (a positive number or ``"cv"``) and ``cv_folds``."""

    legend_name = ""  # what a plot's legend calls the head, before its C: "logistic regression"

    C: Any
    cv_folds: int

    @classmethod
    def legend(cls, params: Mapping[str, Any]) -> str | None:
        """What a plot's legend calls this head fitted with ``params``."""
        return f"{cls.legend_name} (C={param_text(params['C'])})" if "C" in params else None

    def _C(self, label: ParamLabel | None = None) -> float | str:
        """``C`` as ``validate.parse_C`` reads it: a positive number or "cv"."""
        name = label or ParamLabel.of_class(self)
        return parse_C(self.C, name("C"), name.assign)

    def _cv_folds_for(self, y: np.ndarray, groups: np.ndarray | None) -> int:
        """The folds ``C="cv"`` searches over: ``cv_folds``, fewer where a class has fewer images, said
        (``heads.views.fold_count``); refused where a class has fewer than 2."""
        return fold_count(y, groups, self.cv_folds, "C='cv'", CV_FIX)
