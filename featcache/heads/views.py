"""Heads on cached views: train on every view of the training images, average each test image's views.

The one home of the algebra (docs/views.md, section 3.4). A cache with views
gives, for some rows and a list of views, an array ``Xv`` of shape
``(V, n, D)``: view ``i`` of image ``j`` is ``Xv[i, j]`` (view-major, the
order ``Cache.view_features`` returns). Then:

- ``stack_views(Xv, y)`` -> ``(n*V, D)`` rows and ``y`` repeated per view,
  to fit a head on all views (image-major: row ``j*V + i`` is view ``i`` of
  image ``j``, so an image's views are adjacent rows);
- ``view_scores(head, Xv)`` -> ``(V, n, K)``: the head's probabilities per
  view for probabilistic heads (logistic regression, the Keras head, an SVM
  with ``probability=True``), else its decision values (the SVM with
  ``probability=False``: one-vs-rest, or the single two-class value as
  ``[-d, d]``);
- ``predict_views(head, Xv)`` -> the class of each image by the mean of its
  views' scores.

Why here and not in ``analysis/``: it needs a head and features, no cache,
and ``analysis`` (train, evaluate, curve, probe) and ``deploy`` (export with
the views in the graph must equal it) both sit above ``heads``.

Averaging probabilities (and decision values for the SVM without them) is
what docs/views.md section 2 measured; the geometric mean of probabilities
was not measured and is not offered.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Iterable, Iterator, NamedTuple, Sequence

import numpy as np

from featcache.progress import fit_note, fits_shown

if TYPE_CHECKING:
    from sklearn.model_selection import StratifiedKFold

PROBABILITIES = "probabilities"
DECISION_VALUES = "decision values"


def _check(Xv: np.ndarray) -> np.ndarray:
    Xv = np.asarray(Xv)
    if Xv.ndim != 3 or Xv.shape[0] < 1:
        raise ValueError(f"views of features are (V, n, D) with V >= 1, got shape {Xv.shape}")
    return Xv


def stack_views(Xv: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``(V, n, D)`` -> ``(n*V, D)`` fit rows, image-major (row ``j*V + i`` is view ``i`` of image ``j``),
    and ``y`` (n,) with each label repeated V times (None stays None).

    Why image-major and not the cache's view-major order: an image's views
    are adjacent rows, so the Keras head, given the image of each row
    (``fit_views`` passes ``image_groups``), holds out the last images with
    all their views as a contiguous block of last rows
    (``dense.validation_rows``). The last rows alone are not enough: Keras's
    own ``validation_split`` cuts at ``floor(n*V*(1 - split))`` rows, which
    need not be a multiple of V (2,002 rows of 1,001 images with 2 views:
    1,601), and would split an image's views between training and
    validation. Logistic regression and the SVM do not depend on the row
    order; their internal cross-validation gets the groups too.
    """
    Xv = _check(Xv)
    V, n, D = Xv.shape
    if y is not None:
        y = np.asarray(y)
        if y.shape[0] != n:
            raise ValueError(f"{len(y)} labels for {n} images")
        y = np.repeat(y, V)
    X = Xv[0] if V == 1 else np.ascontiguousarray(Xv.transpose(1, 0, 2)).reshape(n * V, D)
    return X, y


def image_groups(n: int, V: int) -> np.ndarray:
    """The image of each row of ``stack_views`` (n*V rows): what cross-validation must keep on one side."""
    return np.repeat(np.arange(n), V)


def stratified_folds(y: np.ndarray, folds: int, seed: int,
                     groups: np.ndarray | None = None) -> StratifiedKFold | list[tuple[np.ndarray, np.ndarray]]:
    """Seeded stratified k-fold splitting for a head's internal cross-validation (C="cv", SVM calibration).

    Without ``groups``: ``StratifiedKFold`` (what the heads always used). With
    ``groups`` (``image_groups``): ``StratifiedGroupKFold``, so the views of an
    image are never on both sides of a fold; otherwise a view of a held-out
    image would be among the fitted rows and flatter weak regularization.
    Returns a splitter, or a list of (train, test) splits for groups.
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    if groups is None:
        return StratifiedKFold(folds, shuffle=True, random_state=seed)
    return list(StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups))


def per_image_labels(y: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """One label per image (``y`` itself without groups): fold counts are counts of images, not of views."""
    if groups is None:
        return np.asarray(y)
    _, first = np.unique(groups, return_index=True)
    return np.asarray(y)[first]


def fold_count(y: np.ndarray, groups: np.ndarray | None, wanted: int, what: str, fix: str) -> int:
    """How many folds a head's internal cross-validation can use: ``wanted``, at most the images of the
    smallest class (a class with fewer images than folds breaks stratified splitting), at least 2. The one
    check for the heads; a class with 1 image is a ValueError naming ``what`` and ``fix``. Where the fit is shown
    (``progress.fit_note``), fewer folds than ``wanted`` is a ``FewerFoldsNote``."""
    smallest = int(np.unique(per_image_labels(y, groups), return_counts=True)[1].min())
    if smallest < 2:
        raise ValueError(f"{what} needs at least 2 training rows per class (one class has {smallest}); {fix}")
    # cv_folds=1000 ran 46 folds, and the head records 1000, without a word (a tester). A progress note, as the Keras
    # head's StratifiedValidationNote: said where the fit is shown (a verbose call, the CLI: "note:"), named at the
    # caller's line; a quiet call says nothing (it showed on every quiet train(..., C='cv') of a small cache).
    if wanted > smallest:
        fit_note(f"{what} uses {smallest} folds, not {wanted}: the smallest class has {smallest} training "
                 "images", FewerFoldsNote)
    return max(2, min(wanted, smallest))


class FewerFoldsNote(UserWarning):
    """A head's cross-validation uses fewer folds than its parameter asks: a class has fewer images than that."""

    label = "note"  # nothing is wrong; the CLI says "note:"


def fit_views(head: Any, Xv: np.ndarray, y: np.ndarray) -> Any:
    """Fit ``head`` on every view of every image (``stack_views``); a head whose ``fit`` takes ``groups``
    (logistic regression, the SVM: their internal cross-validation; the Keras head: its validation rows) gets
    the image of each row."""
    import inspect

    X, y_rows = stack_views(Xv, y)
    V, n = np.shape(Xv)[:2]
    if V > 1 and "groups" in inspect.signature(head.fit).parameters:
        return fit_head(head, X, y_rows, groups=image_groups(n, V))
    return fit_head(head, X, y_rows)


def fit_head(head: Any, X: Any, y: Any, **kwargs: Any) -> Any:
    """``head.fit(X, y, **kwargs)``, shown while it runs within ``progress.showing_fits`` (``progress.fit_progress``):
    the one call every command's fit goes through (train, curve, probe, the lesson's views row: ``fit_views``; a
    curve's baseline on raw images directly). A scikit-learn fit has no callback: an SVM on 8,000 images ran 88 s
    without a line in train (a new-user tester), and in curve and probe, whose bars move only between fits, too."""
    from featcache.progress import fit_progress

    # the SVM's note (how long a fit of these rows may take), built only where it is said
    with fit_progress(progress_label(head), getattr(head, "fit_time_note", None), len(X),
                      own_epochs=bool(getattr(head, "uses_keras", False))):
        return head.fit(X, y, **kwargs)


def scoring_label(head: Any, rows: int) -> str:
    """What progress lines call ``head`` scoring ``rows`` rows: ``svm head, scoring 3000 rows`` (its fit's: ``progress_label``)."""
    from featcache.progress import counted

    return f"{progress_label(head)}, scoring {counted(rows, 'row')}"


# Whether a scoring's heartbeat runs already (``scoring_shown``): a command's scoring of several passes shows one.
_SCORING: ContextVar[bool] = ContextVar("featcache_scoring_shown", default=False)


@contextlib.contextmanager
def scoring_shown(head: Any, rows: int) -> Iterator[None]:
    """``head`` scoring ``rows`` rows, shown within ``progress.showing_fits`` as a fit is (``fit_head``: a heartbeat,
    ``scoring_label``'s words), nothing outside it; within another ``scoring_shown``, nothing more: the one heartbeat
    of a command's scoring, train's and evaluate's (the views averaged, then the original view apart,
    ``analysis.train.orig_view_score``, where the head needs one). Each pass had its own, its clock from 0: evaluate's 80 s of scoring
    (12,000 rows, then 3,000) passed without a line off a terminal, each pass under the 60 s of a log's line, where
    train's said "still running, 60 s" (a new-user tester). An SVM scoring 10,000 images against the support
    vectors of a large fit is minutes too; said as scoring, not in the fit's words, read as a fit still running 90 s
    after it had ended (a notebook user)."""
    from featcache.progress import fit_progress

    if not fits_shown() or _SCORING.get():  # its label built only where it is shown
        yield
        return
    token = _SCORING.set(True)
    try:
        with fit_progress(scoring_label(head, rows)):
            yield
    finally:
        _SCORING.reset(token)


def scored_rows(head: Any, Xv: np.ndarray, views: Sequence[str]) -> int:
    """The rows train and evaluate score of ``Xv`` (``(V, n, D)``, ``views``' features): every view's, and the
    original view's again apart where the views are not it alone (``analysis.train.orig_view_score``), unless
    ``head`` reads its predictions of the original view off the averaged pass's scores (``first_view_predictions``)."""
    V, n = np.shape(Xv)[:2]
    again = tuple(views) != ("orig",) and (views[0] != "orig" or not hasattr(head, "predict_from_scores"))
    return V * n + (n if again else 0)


def progress_label(head: Any) -> str:
    """What progress lines call ``head``: ``svm head`` (its name among ``heads.HEADS``), else its class's name.
    (A legend's and summary's name of a head with its parameters is ``analysis.plots.head_label``.)"""
    return class_label(type(head))


def class_label(cls: type) -> str:
    """``progress_label`` of a head of class ``cls``."""
    from featcache.heads import HEADS

    name = next((n for n, c in HEADS.items() if cls is c), None)
    return f"{name} head" if name else cls.__name__


def say_slow_fit_notes(fits: Iterable[tuple[Any, int]]) -> None:
    """Before a command hands its fits to worker processes (curve's and probe's --jobs): each head's slow-fit note
    (``fit_time_note``, as ``fit_head`` says it) for its largest fit, of ``fits``' (head, rows fitted) pairs (a head
    as fitted: the SVM's note depends on its ``probability``),
    said once by the command (``progress.slow_fit_note``); the workers, told so (``progress.fits_run``), say it for
    no fit as large. Each worker kept a record of its own: the note came once per worker, up to --jobs times."""
    from featcache.progress import slow_fit_note

    largest: dict[str, tuple[Any, int]] = {}  # by the label that slow_fit_note keeps its record by
    for head, rows in fits:
        label = progress_label(head)
        if rows > largest.get(label, (None, -1))[1]:
            largest[label] = (head, rows)
    for label, (head, rows) in largest.items():
        slow_fit_note(label, getattr(head, "fit_time_note", None), rows)


def averaged_quantity(head: Any) -> str:
    """What ``view_scores`` gives and ``predict_views`` averages for ``head``: probabilities or decision values."""
    return PROBABILITIES if hasattr(head, "predict_proba") else DECISION_VALUES


def averaged_over(head: Any, test_views: Sequence[str]) -> str | None:
    """What averaging ``test_views`` per image averages for ``head`` (``averaged_quantity``), None for one view:
    the ``averaged`` that train, evaluate and the lesson record."""
    return averaged_quantity(head) if len(test_views) > 1 else None


def view_scores(head: Any, Xv: np.ndarray) -> np.ndarray:
    """``(V, n, K)``: per view, the head's probabilities, or its decision values when it has no ``predict_proba``.

    All views go through the head in one call (one standardization, one
    batch). Two-class decision values ``d`` (one column, > 0 meaning
    ``classes_[1]``) become ``[-d, d]``, so the argmax of their mean is the
    sign of the mean decision value.
    """
    Xv = _check(Xv)
    V, n, D = Xv.shape
    X = Xv.reshape(V * n, D)  # view-major, as stored: a reshape, no copy
    if averaged_quantity(head) == PROBABILITIES:
        s = np.asarray(head.predict_proba(X))
    else:
        s = np.asarray(head.decision_function(X))
        if s.ndim == 1:
            s = np.stack([-s, s], axis=1)
    return s.reshape(V, n, -1)


def mean_scores(head: Any, Xv: np.ndarray) -> np.ndarray:
    """``(n, K)``: each image's scores averaged over its views."""
    return view_scores(head, Xv).mean(axis=0)


def predict_views(head: Any, Xv: np.ndarray) -> np.ndarray:
    """Each image's class: ``classes_[argmax]`` of its mean score over the ``V`` views.

    With one view there is nothing to average: the head's own ``predict``
    (for the SVM without probabilities that is libsvm's one-vs-one vote,
    which can break a tie differently from the argmax of one-vs-rest values),
    so ``--test-views orig`` scores exactly what the head scored before views.
    """
    return predict_and_scores(head, Xv)[0]


def predict_and_scores(head: Any, Xv: np.ndarray, scores: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """``(predict_views(head, Xv), mean_scores(head, Xv))`` from one pass of the head over the views.

    The mean scores are computed for one view only when ``scores`` (else None):
    ``predict`` alone then suffices.
    """
    return scored_views(head, Xv, scores)[:2]


class ScoredViews(NamedTuple):
    """What one pass of a head over ``(V, n, D)`` views gives (``scored_views``)."""

    predicted: np.ndarray  # (n,) predict_views: each image's class by its views' mean score
    mean: np.ndarray | None  # (n, K) mean_scores, None for one view unless asked for
    first: np.ndarray | None  # (n,) the head's own predict of the first view alone, None where it is not known


def scored_views(head: Any, Xv: np.ndarray, scores: bool = False) -> ScoredViews:
    """``predict_and_scores``, with the head's own ``predict`` of the first view alone where the pass gives it
    (``first_view_predictions``): train and evaluate score the original view apart from the views averaged
    (``analysis.train.orig_view_score``), and an SVM's second pass over it was a quarter of its scoring."""
    Xv = _check(Xv)
    with scoring_shown(head, Xv.shape[0] * Xv.shape[1]):
        if Xv.shape[0] == 1:
            predicted = np.asarray(head.predict(Xv[0]))
            return ScoredViews(predicted, mean_scores(head, Xv) if scores else None, predicted)
        per_view = view_scores(head, Xv)
        mean = per_view.mean(axis=0)
        return ScoredViews(np.asarray(head.classes_)[np.argmax(mean, axis=1)], mean,
                           first_view_predictions(head, per_view))


def first_view_predictions(head: Any, per_view: np.ndarray) -> np.ndarray | None:
    """``head.predict`` of the first view, read off its ``view_scores`` ``per_view`` (``(V, n, K)``) by the head's
    ``predict_from_scores``; None for a head without one, whose ``predict`` is then called (a second pass).

    Only a head whose scores of a row do not depend on the other rows scored with it may have one: the SVM's
    (libsvm scores each row alone; the standardization and calibration are per element). Logistic regression's
    and the Keras head's go through a matrix product whose rounding depends on the number of rows (OpenBLAS:
    1e-14 apart for 1 to 100 rows, h206), so the view scored alone could round a near tie the other way."""
    own = getattr(head, "predict_from_scores", None)
    return None if own is None else np.asarray(own(per_view[0]))


def score_views(head: Any, Xv: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of ``predict_views`` against the images' labels ``y`` (n,)."""
    return accuracy_of(predict_views(head, Xv), y)


def accuracy_of(predicted: np.ndarray, y: np.ndarray) -> float:
    """The share of ``predicted`` classes that are the labels ``y`` (n,): ``score_views``' accuracy."""
    return float(np.mean(np.asarray(predicted) == np.asarray(y)))
