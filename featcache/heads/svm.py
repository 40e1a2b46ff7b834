"""RBF support vector machine after standardization.

Probabilities come from ``CalibratedClassifierCV(SVC, ensemble=False)``:
the SVC is fitted on all training rows and a per-class sigmoid (Platt) maps
its decision values to probabilities, fitted on out-of-fold decision values
(3 folds). ``SVC(probability=True)`` gives sharper probabilities (lower log
loss) but is deprecated since scikit-learn 1.9 and was slower; stacking a
logistic regression on one-vs-one decision values matched its log loss but
changed the predictions (one point less accurate on ``out_relu``). Figures:
docs/benchmarks.md, ``scripts/bench_svm.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from featcache.heads.facts import SVM
from featcache.heads.inputs import fit_data, predict_data
from featcache.heads.regularized import RegularizedHead
from featcache.heads.views import fold_count, stratified_folds
from featcache.validate import COUNT_MAX, ParamLabel, check_bool, check_jobs, check_number, check_seed_param

def class_pairs(k: int) -> np.ndarray:
    """(P, 2) the one-vs-one class pairs of ``k`` classes in libsvm's order, (0,1), (0,2), ..., (1,2), ...: the
    columns of its decision values (``SVMHead.kernel_form``) and of an exported model's (``deploy.svmgraph``), so
    the one order both read."""
    return np.array([(i, j) for i in range(k) for j in range(i + 1, k)], dtype=np.int64).reshape(-1, 2)


# Grid for C="cv". On the lesson's split 5-fold CV on the training rows picks
# C=10 for block_13_expand_relu (C=3 and 10 about tie on block_9 and
# out_relu), hence the default.
C_GRID = (1.0, 3.0, 10.0, 30.0)
# An SVM's fit and scoring time on many rows, measured with train's default head (C=10, probability calibration) on
# Fashion-MNIST's block_13_expand_relu (576 features) with 4 views per image, on 2 shared cores:
#   rows fitted   fit      support vectors   scoring, per 1,000 test rows   load average   who
#    4,000        25.6 s   2,215             2.4 s                          7-9            helper-193, 2026-12-06
#    8,000        46.9 s   3,729             2.6 s                          9-10           helper-193
#   16,000       104.6 s   6,382             5.9 s                          8-10           helper-193
#   16,000       145.4 s   -                 5.6 s (train, 15,000 rows)     9-11           helper-193, 'train' CLI
#   16,000        26.7 s   -                 6.4 s                          loaded         a new-user tester
#   24,000        36.4 s   -                 5.3 s                          loaded         a new-user tester
# (/tmp/h193/measure.py: fit_views and predict_views of 3,000 test images x 4 views; train's scoring also scores the
# original view apart.) The load, not the rows, made most of the spread: the same 16,000 rows fitted in 27 s and
# 145 s. Doubling the rows doubled the fit at most loads (the support vectors grow as about rows^0.75: an image's
# views are near-duplicates), not the square the note said from 4,000 images in 19.6 s and 8,000 in 87.6 s under a
# heavier load (it said "16,000 about 6 min" of a 27 s fit). So the note gives a range, not one number: the fit
# from the fastest and slowest at FIT_ROWS, growing between rows^0.75 and rows^1.5 away from them; the scoring per
# 1,000 test rows from SCORE_SECONDS at FIT_ROWS, growing as the support vectors do. Each range holds every row of
# MEASURED (tests/test_progress.py checks it). From SLOW_FIT_ROWS rows a command says it before the fit
# (``fit_time_note``).
MEASURED = ((4_000, 25.6, 2.4), (8_000, 46.9, 2.6), (16_000, 104.6, 5.9), (16_000, 145.4, 5.6), (16_000, 26.7, 6.4),
            (24_000, 36.4, 5.3))
SLOW_FIT_ROWS = 10_000
FIT_ROWS = 16_000
FIT_SECONDS = (min(f for n, f, _ in MEASURED if n == FIT_ROWS), max(f for n, f, _ in MEASURED if n == FIT_ROWS))
# A fit without probability calibration (probe's, probability=False) is this many times faster than MEASURED's: the
# calibration refits the SVC on 3 folds besides the fit itself (the note's "2.5-5x faster").
UNCALIBRATED_SPEEDUP = (2.5, 5.0)
SCORE_SECONDS = (3.7, 7.3)  # per 1,000 test rows with FIT_ROWS rows fitted: 0.6-1.2 times the mean measured there


def _duration(seconds: float) -> str:
    """``40 s``, ``2.4 min``, ``13 min`` or ``3.2 h``: a time as the slow-fit note says it ("1197 min" was one)."""
    minutes = seconds / 60
    if minutes >= 120:
        return f"{minutes / 60:.1f} h" if minutes < 600 else f"{minutes / 60:.0f} h"
    return f"{seconds:.0f} s" if seconds < 90 else f"{minutes:.1f} min" if minutes < 10 else f"{minutes:.0f} min"


def fit_time_range(rows: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """((fit low, fit high), (scoring low, high) per 1,000 test rows) in seconds for ``rows`` training rows of 576
    features on a 2-core machine (the measurements above)."""
    r = rows / FIT_ROWS
    fit = (FIT_SECONDS[0] * min(r**0.75, r**1.5), FIT_SECONDS[1] * max(r**0.75, r**1.5))
    return fit, (SCORE_SECONDS[0] * r**0.75, SCORE_SECONDS[1] * r**0.75)


class SVMHead(RegularizedHead, ClassifierMixin, BaseEstimator):
    """StandardScaler -> SVC(kernel="rbf", C, gamma), with calibrated probabilities.

    ``C`` is a float, or ``"cv"`` to pick it from ``C_GRID`` by stratified
    k-fold cross-validation on the training features only. With
    ``probability=False`` there is no ``predict_proba`` and fitting is
    2.5-5x faster (what ``probe`` uses: it only needs predictions).
    """

    def __init__(
        self,
        C: float | str = SVM.defaults["C"],
        gamma: float | str = "scale",
        probability: bool = True,
        calibration_cv: int = 3,
        cv_folds: int = SVM.defaults["cv_folds"],
        cache_size: float = 500.0,
        seed: int = 0,
        n_jobs: int | None = None,
    ):
        self.C = C
        self.gamma = gamma
        self.probability = probability
        self.calibration_cv = calibration_cv
        self.cv_folds = cv_folds
        self.cache_size = cache_size
        self.seed = seed
        self.n_jobs = n_jobs

    # what --head's help says of it; "an SVM head" in lines (heads.head_words); heads.io: its fitted state as arrays
    # and JSON (heads.state), no pickle. Said in heads.facts, which the CLI's help reads.
    summary, display_name, article, file_suffix = SVM.summary, SVM.display_name, SVM.article, SVM.file_suffix
    legend_name = "RBF SVM"  # a plot's legend: "RBF SVM (C=10)" (RegularizedHead.legend)
    # probe only needs predictions: no probability calibration, which refits the SVC 3 more times (same SVC,
    # 2.5-5x faster; docs/benchmarks.md).
    probe_params = {"probability": False}

    @classmethod
    def state_classes(cls) -> tuple[type, ...]:
        """The classes a stored SVMHead is made of (``heads.state.trusted_classes``)."""
        from sklearn.calibration import _CalibratedClassifier, _SigmoidCalibration
        from sklearn.model_selection import StratifiedKFold
        from sklearn.pipeline import Pipeline

        return (cls, Pipeline, StandardScaler, SVC, CalibratedClassifierCV, _CalibratedClassifier, _SigmoidCalibration,
                StratifiedKFold)

    def structure_ok(self) -> bool:
        """Whether this head's objects are exactly what ``fit`` builds: the SVC, calibrated (with ``probability``)
        by sigmoid calibrators of SVCs, nothing nested where the checks would not look (``heads.io``)."""
        from sklearn.calibration import _CalibratedClassifier, _SigmoidCalibration

        from featcache.heads.state import scaled_steps

        steps = scaled_steps(self)
        if not steps:
            return False
        last = steps[1]
        if type(last) is not CalibratedClassifierCV:
            return self.probability is False and type(last) is SVC
        inner = last.calibrated_classifiers_
        return (self.probability is True and type(last.estimator) is SVC and isinstance(inner, list) and len(inner) >= 1
                and all(type(c) is _CalibratedClassifier and type(c.estimator) is SVC and isinstance(c.calibrators, list)
                        and all(type(k) is _SigmoidCalibration for k in c.calibrators) for c in inner))

    def check_params(self, label: ParamLabel | None = None) -> None:
        """Every parameter of a type and range this head fits with, or one line naming it (a FeatcacheError).

        ``fit`` calls it first; ``make_head`` (train, probe) and a curve's spec call it before anything is
        written (a curve's ``C=-1`` was scikit-learn's traceback after its folder was made; an adversarial
        tester). C goes through the CLI's own check, ``validate.parse_C``.
        ``label``: the words naming a parameter (``validate.ParamLabel``; the class's by default, --param's from
        ``heads.check_param_values``)."""
        name = label or ParamLabel.of_class(self)
        self._C(name)
        if not (isinstance(self.gamma, str) and self.gamma in ("scale", "auto")):
            # 'scale' was its example of a number ("use a number > 0, e.g. 'scale'"; a tester)
            check_number(self.gamma, name("gamma"), low=0, low_open=True, or_words="or 'scale' or 'auto'", example=0.01)
        check_bool(self.probability, name("probability"))
        check_number(self.calibration_cv, name("calibration_cv"), whole=True, low=2, high=COUNT_MAX, example=3)
        check_number(self.cv_folds, name("cv_folds"), whole=True, low=2, high=COUNT_MAX, example=5)
        check_number(self.cache_size, name("cache_size"), low=0, low_open=True, example=500.0)
        check_seed_param(self.seed, name("seed"))
        if self.n_jobs is not None:
            check_jobs(self.n_jobs, name("n_jobs"))

    def unused_params(self) -> list[str]:
        """Parameters this fit does not read (``info`` says so): the CV's folds with a fixed C, the calibration's
        folds without probabilities, the seed when neither splits the rows."""
        unused = [] if self.C == "cv" else ["cv_folds"]
        unused += [] if self.probability else ["calibration_cv"]
        unused += [] if self.C == "cv" or self.probability else ["n_jobs"]  # it runs the folds of either
        return sorted(unused + ([] if self.uses_seed else ["seed"]))

    @property
    def uses_seed(self) -> bool:
        """Whether ``seed`` can change the fit: through the CV folds or the calibration folds."""
        return self.C == "cv" or bool(self.probability)

    def fit_time_note(self, rows: int) -> str | None:
        """What a command says before this head's fit on ``rows`` rows (``heads.views.fit_head``), from
        ``SLOW_FIT_ROWS`` on: how long the fit and the scoring may take (``fit_time_range``, a range: the machine's
        load changed the same fit 5-fold), None below it. In words every command's user can act on (train, curve,
        probe: it named train's options). Of this head's fit: with ``probability`` the measured range, calibration
        included; without it (probe's fits, or probability=False) that range ``UNCALIBRATED_SPEEDUP`` times faster.
        It said "with probability calibration" of every fit, probability=False too (a new-user tester).

        At most ``progress.NOTE_CHARS``: said between a curve's or probe's bar redraws, its 450 characters (how it was measured,
        the other fit's speed) took 6 rows of an 80-column terminal in the middle of the bar (a tester, h319's brief);
        the measurements are MEASURED's comment's and docs/commands.md's."""
        if rows < SLOW_FIT_ROWS:
            return None
        (fit_lo, fit_hi), (score_lo, score_hi) = fit_time_range(rows)
        if not self.probability:
            fit_lo, fit_hi = fit_lo / UNCALIBRATED_SPEEDUP[1], fit_hi / UNCALIBRATED_SPEEDUP[0]
        return (f"note: an SVM is slow: on a 2-core machine {rows:,} training rows take {_duration(fit_lo)} to "
                f"{_duration(fit_hi)} to fit ({'' if self.probability else 'un'}calibrated), {score_lo:.0f}-{score_hi:.0f} s "
                "per 1,000 test rows to score; logreg is faster")

    def _svc(self, C: float) -> SVC:
        return SVC(kernel="rbf", C=C, gamma=self.gamma, cache_size=self.cache_size, random_state=self.seed)

    def folds_needed(self) -> str | None:
        """What in ``fit`` splits the training images into folds, so needs 2 of every class (None: nothing)."""
        if self.C == "cv":
            return "--C cv"
        return "the SVM head's probability calibration" if self.probability else None

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> SVMHead:
        """Fit on rows ``X``; ``groups`` (the image of each row, ``heads.views.image_groups``) keeps an image's
        views on one side of every cross-validation fold (``C="cv"`` and the probability calibration)."""
        self.check_params()
        C = self._C()
        X, y = fit_data(self, X, y)  # featcache's lines of bad input (heads.inputs)
        if C == "cv":
            search = GridSearchCV(
                make_pipeline(StandardScaler(), self._svc(1.0)), {"svc__C": list(C_GRID)}, n_jobs=self.n_jobs,
                cv=stratified_folds(y, self._cv_folds_for(y, groups), self.seed, groups),
            ).fit(X, y)
            self.C_ = float(search.best_params_["svc__C"])
        else:
            self.C_ = float(C)
        clf = self._svc(self.C_)
        if self.probability:
            clf = CalibratedClassifierCV(
                clf, method="sigmoid", ensemble=False, n_jobs=self.n_jobs,
                cv=stratified_folds(y, fold_count(y, groups, self.calibration_cv, "probability calibration",
                                                  "pass probability=False or train on more rows"), self.seed, groups),
            )
        self.pipeline_ = make_pipeline(StandardScaler(), clf).fit(X, y)
        self.classes_ = self.pipeline_.classes_
        return self

    @available_if(lambda self: self.probability)
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict_proba(predict_data(self, X))

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "pipeline_")
        X = predict_data(self, X)
        return self._fitted_svc().decision_function(self.pipeline_[0].transform(X))

    def _fitted_svc(self) -> Any:
        """The SVC that decides: the pipeline's, or with probabilities the one the calibration refitted on all rows
        (``CalibratedClassifierCV(ensemble=False)``), as ``predict_proba`` uses it."""
        svc = self.pipeline_[-1]
        return svc.calibrated_classifiers_[0].estimator if self.probability else svc

    def kernel_form(self) -> dict[str, Any]:
        """The fitted decision as plain arrays, what an exported model computes (``deploy.svmgraph``): the
        standardization (``mean``, ``scale``: z = (x - mean) / scale), the RBF kernel's ``support`` vectors (in z's
        space) and ``gamma``, and the one-vs-one decision values ``K(z, support) @ pair_coef + intercept``, one
        column per class pair (0,1), (0,2), ..., (1,2), ... in ``classes_`` order, > 0 a vote for the pair's first
        class (libsvm's ``dec_values``). libsvm keeps each pair's coefficients in rows of ``_dual_coef_`` by class
        block (the support vectors of class i weigh ``_dual_coef_[j - 1]`` in pair (i, j), those of j weigh
        ``_dual_coef_[i]``); laid out here as one matrix so the model needs no loop over pairs."""
        check_is_fitted(self, "pipeline_")
        svc = self._fitted_svc()
        scaler = self.pipeline_[0]
        sv, coef = np.asarray(svc.support_vectors_, np.float64), np.asarray(svc._dual_coef_, np.float64)
        counts = np.asarray(svc._n_support, dtype=np.int64)
        start = np.concatenate([[0], np.cumsum(counts)])
        k = len(counts)
        pairs = class_pairs(k)
        pair_coef = np.zeros((len(sv), len(pairs)))
        for p, (i, j) in enumerate(pairs.tolist()):
            pair_coef[start[i]:start[i + 1], p] = coef[j - 1, start[i]:start[i + 1]]
            pair_coef[start[j]:start[j + 1], p] = coef[i, start[j]:start[j + 1]]
        form = {"mean": np.asarray(scaler.mean_, np.float64), "scale": np.asarray(scaler.scale_, np.float64),
                "support": sv, "gamma": float(svc._gamma), "pair_coef": pair_coef,
                "intercept": np.asarray(svc._intercept_, np.float64), "classes": np.asarray(self.classes_, np.int64)}
        if self.probability:  # Platt's sigmoid per class, 1 / (1 + exp(a * f + b)) of its one-vs-rest value f (one
            # calibrator of the two-class value d for two classes): CalibratedClassifierCV(ensemble=False)'s one
            calibrators = self.pipeline_[-1].calibrated_classifiers_[0].calibrators
            form["sigmoid_a"] = np.array([float(c.a_) for c in calibrators])
            form["sigmoid_b"] = np.array([float(c.b_) for c in calibrators])
        return form

    def predict_from_scores(self, scores: np.ndarray) -> np.ndarray:
        """``predict`` of rows whose ``heads.views.view_scores`` are ``scores`` (n, K), exactly, without scoring them
        again (``heads.views.first_view_predictions``): each row is scored alone (libsvm's kernel sums, the
        standardization and calibration per element), so those scores are the ones ``predict`` computes.

        With probabilities: their argmax, as ``predict``. Without: libsvm's one-vs-one vote, ties to the first
        class, which the argmax of the one-vs-rest values is not (they break a tie by summed confidences): those
        values are each class's votes plus a confidence in (-1/3, 1/3) (scikit-learn's ``_ovr_decision_function``),
        so rounding gives the votes. (Where a one-vs-one value is exactly 0, scikit-learn's votes go to the pair's
        first class and libsvm's to its second; never met in float64 sums.) Two classes: ``[-d, d]`` of
        scikit-learn's ``d``, which is minus libsvm's value: the second class where ``d >= 0``, as libsvm."""
        scores = np.asarray(scores)
        if self.probability:
            return self.classes_[np.argmax(scores, axis=1)]
        if scores.shape[1] == 2:
            return self.classes_[(scores[:, 1] >= 0).astype(int)]
        return self.classes_[np.argmax(np.rint(scores), axis=1)]

    def predict(self, X: np.ndarray) -> np.ndarray:
        if self.probability:
            # argmax of the probabilities, so predict and predict_proba never disagree
            proba = self.predict_proba(X)  # first: it raises NotFittedError on an unfitted head
            return self.classes_[np.argmax(proba, axis=1)]
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict(predict_data(self, X))
