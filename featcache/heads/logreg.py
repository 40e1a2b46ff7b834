"""Logistic regression after standardization."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from featcache.errors import carried
from featcache.heads.facts import LOGREG
from featcache.heads.folding import from_raw, to_raw
from featcache.heads.inputs import fit_data, predict_data
from featcache.heads.regularized import RegularizedHead
from featcache.heads.solver import solver_notes
from featcache.heads.views import stratified_folds
from featcache.validate import COUNT_MAX, ParamLabel, check_bool, check_jobs, check_number, check_seed_param

# Grid for C="cv", searched from strong to weak regularization. On the
# lesson's cache (4,000 images, 1280-d out_relu features, standardized) 5-fold
# accuracy peaks at C=0.003 (0.843) and falls on both sides (0.831 at 0.001,
# 0.839 at 0.1); larger C only costs lbfgs iterations, so the grid stops at 0.1.
C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1)
# The CV fits only rank the Cs: a looser tolerance picks the same C (0.003 on
# the lesson's cache at 1e-3 and at sklearn's 1e-4) in a third of the
# iterations; the final refit uses ``tol``.
CV_TOL = 1e-3


def _one_blas_thread():
    # lbfgs multiplies a (n, d) matrix by a (d, n_classes) one, too thin to
    # gain from threads. On this 2-core machine under load, OpenBLAS's 2
    # threads made one fit on the lesson's cache take 48 s of wall time against
    # 1.8 s with one (the threads spin waiting for each other). One thread also
    # makes the numbers independent of the machine's core count.
    return threadpool_limits(limits=1, user_api="blas")


def _fold_scores(X, y, tr, va, Cs, seed: int, max_iter: int) -> list[float]:
    """Validation accuracy of each C on one fold; the scaler sees the fold's training rows only."""
    scaler = StandardScaler().fit(X[tr])
    Xtr, Xva = scaler.transform(X[tr]), scaler.transform(X[va])
    # Warm start: each C starts from the previous (smaller) C's solution.
    clf = LogisticRegression(max_iter=max_iter, tol=CV_TOL, warm_start=True, random_state=seed)
    scores = []
    for C in Cs:
        clf.set_params(C=C).fit(Xtr, y[tr])
        scores.append(clf.score(Xva, y[va]))
    return scores


def _cv_scores(X: np.ndarray, y: np.ndarray, Cs, folds: int, seed: int, max_iter: int, n_jobs: int | None,
               groups: np.ndarray | None = None) -> np.ndarray:
    """Mean validation accuracy of each C (ascending) over stratified folds (over ``groups``, when given)."""
    from joblib import Parallel, delayed

    splitter = stratified_folds(y, folds, seed, groups)
    splits = splitter if isinstance(splitter, list) else splitter.split(X, y)
    # Threads: lbfgs spends its time in BLAS and numpy, which release the GIL.
    # The limit is set once around all folds: set per fit in threads, one
    # thread's exit would restore it under another's fit and change its numbers.
    with _one_blas_thread():
        per_fold = Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(carried(_fold_scores))(X, y, tr, va, Cs, seed, max_iter) for tr, va in splits  # caller's words
        )
    return np.mean(per_fold, axis=0)


class LogRegHead(RegularizedHead, ClassifierMixin, BaseEstimator):
    """StandardScaler -> LogisticRegression (multinomial, lbfgs, L2).

    ``C`` is a float, or ``"cv"`` to pick it from ``C_GRID`` by stratified
    ``cv_folds``-fold cross-validation on the training features only (the
    scaler is refit inside every fold); the pipeline is then refit on all
    training rows with the chosen C. ``cv_scores_`` keeps the mean fold
    accuracy of each C; ``n_jobs`` runs the folds in parallel threads.

    ``warm_start`` (as in scikit-learn): a second ``fit`` starts lbfgs from
    the previous fit's solution, carried over to the new rows'
    standardization, instead of from zero. The optimum is the same (the
    problem is strictly convex); only the iterations to reach ``tol`` drop.
    Learning curves use it along nested sizes.
    """

    def __init__(
        self,
        C: float | str = LOGREG.defaults["C"],
        max_iter: int = 2000,
        cv_folds: int = LOGREG.defaults["cv_folds"],
        seed: int = 0,
        n_jobs: int | None = None,
        warm_start: bool = False,
    ):
        self.C = C
        self.max_iter = max_iter
        self.cv_folds = cv_folds
        self.seed = seed
        self.n_jobs = n_jobs
        self.warm_start = warm_start

    # what --head's help says of it; "a logreg head" in lines (heads.head_words); heads.io: its fitted state as arrays
    # and JSON (heads.state), no pickle. Said in heads.facts, which the CLI's help reads.
    summary, display_name, article, file_suffix = LOGREG.summary, LOGREG.display_name, LOGREG.article, LOGREG.file_suffix
    legend_name = "logistic regression"  # a plot's legend: "logistic regression (C=0.03)" (RegularizedHead.legend)
    # A learning curve's fits of one seed start lbfgs from the previous size's solution: the same optimum (convex)
    # in about 40 % fewer iterations, accuracies within 0.0011 over 27 points (docs/commands.md, "Warm starts").
    curve_params = {"warm_start": True}

    @classmethod
    def state_classes(cls) -> tuple[type, ...]:
        """The classes a stored LogRegHead is made of (``heads.state.trusted_classes``)."""
        from sklearn import linear_model  # sklearn's class itself, whatever this module's name is bound to
        from sklearn.pipeline import Pipeline

        return (cls, Pipeline, StandardScaler, linear_model.LogisticRegression)

    def structure_ok(self) -> bool:
        """Whether this head's objects are exactly what ``fit`` builds (checked on load: ``heads.io``)."""
        from featcache.heads.state import scaled_steps

        from sklearn import linear_model

        steps = scaled_steps(self)
        return bool(steps) and type(steps[1]) is linear_model.LogisticRegression

    def check_params(self, label: ParamLabel | None = None) -> None:
        """Every parameter of a type and range this head fits with, or one line naming it (a FeatcacheError).

        ``fit`` calls it first; ``make_head`` (train, probe) and a curve's spec call it before anything is
        written: a curve's ``C=-1`` was scikit-learn's InvalidParameterError after its folder was made (an
        adversarial tester). C goes through the CLI's own check, ``validate.parse_C``.
        ``label``: the words naming a parameter (``validate.ParamLabel``; the class's by default, --param's from
        ``heads.check_param_values``)."""
        name = label or ParamLabel.of_class(self)
        self._C(name)
        check_number(self.max_iter, name("max_iter"), whole=True, low=1, high=COUNT_MAX, example=2000)
        check_number(self.cv_folds, name("cv_folds"), whole=True, low=2, high=COUNT_MAX, example=5)
        check_seed_param(self.seed, name("seed"))
        if self.n_jobs is not None:
            check_jobs(self.n_jobs, name("n_jobs"))
        check_bool(self.warm_start, name("warm_start"))

    @property
    def uses_seed(self) -> bool:
        """Whether ``seed`` can change the fit: only through the CV folds (lbfgs itself is deterministic)."""
        return self.C == "cv"

    def unused_params(self) -> list[str]:
        """Parameters this fit does not read: with a fixed C, the CV's folds and seed (``info`` says so; it listed
        ``cv_folds 5`` for a head fitted with C 0.03, a new-user tester)."""
        return [] if self.C == "cv" else ["cv_folds", "n_jobs", "seed"]  # n_jobs: the CV's fold threads

    def folds_needed(self) -> str | None:
        """What in ``fit`` splits the training images into folds, so needs 2 of every class (None: nothing)."""
        return "--C cv" if self.C == "cv" else None

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> LogRegHead:
        """Fit on rows ``X``; ``groups`` (the image of each row, ``heads.views.image_groups``) keeps an image's
        views on one side of every cross-validation fold (``C="cv"``)."""
        self.check_params()
        C = self._C()
        X, y = fit_data(self, X, y)  # featcache's lines of bad input (heads.inputs)
        with solver_notes("logreg head", f"a smaller C converges in fewer iterations (or raise max_iter, now {self.max_iter})"):
            if C == "cv":
                folds = self._cv_folds_for(y, groups)
                Cs = sorted(C_GRID)
                mean = _cv_scores(X, y, Cs, folds, self.seed, self.max_iter, self.n_jobs, groups)
                self.cv_scores_ = {float(C): float(s) for C, s in zip(Cs, mean)}
                self.C_ = float(Cs[int(np.argmax(mean))])  # ties: the stronger regularization
            else:
                self.C_ = float(C)
            scaler = StandardScaler().fit(X)
            init = self._previous_solution(scaler, np.unique(y)) if self.warm_start else None
            clf = LogisticRegression(C=self.C_, max_iter=self.max_iter, random_state=self.seed, warm_start=init is not None)
            if init is not None:
                clf.coef_, clf.intercept_ = init
            with _one_blas_thread():
                clf.fit(scaler.transform(X), y)
        self.pipeline_ = make_pipeline(scaler, clf)
        self.classes_ = self.pipeline_.classes_
        self.n_iter_ = int(np.max(clf.n_iter_))
        return self

    def _previous_solution(self, scaler: StandardScaler, classes: np.ndarray):
        """The last fit's (coef, intercept) for inputs standardized by ``scaler``, or None if there is none that fits."""
        if not hasattr(self, "pipeline_"):
            return None
        old_scaler, old = self.pipeline_[0], self.pipeline_[-1]
        if old.coef_.shape[1] != len(scaler.mean_) or not np.array_equal(old.classes_, classes):
            return None
        # The same decision function on raw features, in the new standardization.
        return from_raw(*to_raw(old.coef_, old.intercept_, old_scaler.mean_, old_scaler.scale_), scaler.mean_, scaler.scale_)

    def logits_weights(self, n_classes: int | None = None) -> list[np.ndarray]:
        """``[kernel (D, K), bias (K,)]`` of one Dense layer on raw features whose softmax is ``predict_proba``:
        the standardization folded in (``folding.to_raw``), ``K = n_classes`` (default: the classes seen). What
        makes a head exportable as a model (``deploy.export``)."""
        check_is_fitted(self, "pipeline_")
        scaler, clf = self.pipeline_[0], self.pipeline_[-1]
        coef, bias = to_raw(clf.coef_, clf.intercept_, scaler.mean_, scaler.scale_)
        if coef.shape[0] == 1:  # two classes: sigmoid(z) is softmax of (0, z)
            coef, bias = np.vstack([np.zeros_like(coef), coef]), np.array([0.0, bias[0]])
        cols = np.asarray(self.classes_, dtype=int)
        n_classes = int(cols.max()) + 1 if n_classes is None else n_classes
        kernel = np.zeros((coef.shape[1], n_classes))
        full_bias = np.full(n_classes, -1e4)  # a class absent from training is never predicted, as in scikit-learn
        kernel[:, cols], full_bias[cols] = coef.T, bias
        return [kernel.astype(np.float32), full_bias.astype(np.float32)]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "pipeline_")
        X = predict_data(self, X)
        with _one_blas_thread():
            return self.pipeline_.predict_proba(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        proba = self.predict_proba(X)  # first: it raises NotFittedError on an unfitted head
        return self.classes_[np.argmax(proba, axis=1)]
