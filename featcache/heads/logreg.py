"""Logistic regression after standardization."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, check_X_y, check_array

# Grid for C="cv"; features are standardized, so strong regularization
# (small C) is usually best for 1000+ dimensional embeddings.
C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


class LogRegHead(ClassifierMixin, BaseEstimator):
    """StandardScaler -> LogisticRegression.

    ``C`` is a float, or ``"cv"`` to pick it from ``C_GRID`` by stratified
    k-fold cross-validation on the training features only.
    """

    def __init__(self, C: float | str = 0.03, max_iter: int = 2000, cv_folds: int = 5, seed: int = 0, n_jobs: int | None = None):
        self.C = C
        self.max_iter = max_iter
        self.cv_folds = cv_folds
        self.seed = seed
        self.n_jobs = n_jobs

    def fit(self, X, y):
        X, y = check_X_y(X, y, dtype=np.float32)
        if self.C == "cv":
            folds = min(self.cv_folds, int(np.bincount(y).min(initial=self.cv_folds) or 2))
            clf = LogisticRegressionCV(
                Cs=list(C_GRID), cv=StratifiedKFold(max(2, folds), shuffle=True, random_state=self.seed),
                max_iter=self.max_iter, random_state=self.seed, n_jobs=self.n_jobs,
            )
        else:
            clf = LogisticRegression(C=float(self.C), max_iter=self.max_iter, random_state=self.seed)
        self.pipeline_ = make_pipeline(StandardScaler(), clf).fit(X, y)
        self.classes_ = self.pipeline_.classes_
        self.C_ = float(np.ravel(clf.C_)[0]) if self.C == "cv" else float(self.C)
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict_proba(check_array(X, dtype=np.float32))

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
