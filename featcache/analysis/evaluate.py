"""evaluate: score a saved head on a cache's split, per class, with a confusion matrix.

``featcache.evaluate(head_path, cache)`` is ``featcache evaluate HEAD CACHE``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

from featcache import paths
from featcache.analysis.plots import confusion_text, plot_confusion
from featcache.validate import (
    checks_switches,
    check_path,
    still_written,
    replaced_since,
    REPORT_DIGESTS,
    check_out_dir,
    check_report_files,
    check_views,
    recorded_digests,
    report_digests,
    require_splits,
    shown,
    views_spec,
    views_words,
    without_orig,
    without_words,
)
from featcache.errors import FeatcacheError, command, one_line, option, warn
from featcache.progress import bars_wanted, counted, showing_fits, status
from featcache.sources.images import check_report_outside_classes
from featcache.heads.io import (TEST_ACCURACY, TEST_ACCURACY_ORIG, check_compatible, check_head, head_file, read_head,
                                row_keys, width_problem)
from featcache.heads.views import PROBABILITIES, averaged_over, averaged_quantity, scored_rows, scored_views, scoring_shown
from featcache.store.atomic import output_files, write_json, write_text, written_sha256

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

    from featcache.store import Cache


# Misclassified images listed in the text report; evaluation.json holds them all.
TEXT_MISCLASSIFIED = 20


class LeakageWarning(UserWarning):
    """Some evaluated images were among the head's training images: the accuracy is inflated."""


class HeadFromMemoryWarning(UserWarning):
    """A TrainResult evaluated whose file no longer holds its head (another written there since, gone, unreadable):
    its head is scored from memory, and the report names no file ("head (in memory)")."""


@dataclass
class EvalResult:
    trained_by: ClassVar[str] = "head"  # what was trained on ``overlap``'s images: leakage_line's words
    head_path: Path | None  # None for a head evaluated from memory
    cache_path: Path
    split: str
    layer: str
    # Left out of the repr, as the lists below: a notebook's EvalResult printed 2,448 characters of per-class
    # dictionaries and confusion counts (a notebook tester); text() shows them laid out
    class_names: list[str] = field(repr=False)
    accuracy: float
    per_class: list[dict[str, Any]] = field(repr=False)  # class, precision, recall, support
    confusion: np.ndarray = field(repr=False)  # (n_classes, n_classes), rows true, columns predicted
    files: dict[str, Path]  # png, json, text: what was written; empty for evaluate(write=False)
    # row, path, true, predicted, probability (share); a head's also index (``misclassified_entry``)
    misclassified: list[dict[str, Any]] = field(default_factory=list, repr=False)
    # Evaluated images that were training images of the head: None when the head or the cache has no digests.
    overlap: dict[str, Any] | None = field(default=None, repr=False)
    # The views averaged per image, and what was averaged ("probabilities", "decision values"; None for one view).
    test_views: tuple[str, ...] = ("orig",)
    averaged: str | None = None
    # The original view's accuracy alone where more views (or others) were averaged, as train gives it: evaluate's
    # --json had neither it nor the image count train prints (a new-user tester)
    accuracy_orig: float | None = None
    # What a reader must know of the score beyond the table: views averaged that the head was not trained on
    note: str | None = None

    @property
    def images(self) -> int:
        """How many images of ``split`` were scored."""
        return int(self.confusion.sum())

    def shared_scores(self) -> dict[str, Any]:
        """The test split's scores under the names train, info and export give them (docs/commands.md's table), for
        the test split; None for another split (``accuracy`` is that split's: a train accuracy is no test accuracy)."""
        test = self.split == "test"
        return {TEST_ACCURACY: self.accuracy if test else None, TEST_ACCURACY_ORIG: self.accuracy_orig if test else None,
                "test_images": self.images if test else None}

    def scored(self) -> dict[str, Any]:
        """What was scored on what, as evaluation.json names it: a head (its file) on a cache's split. A model's
        report names a model and a folder instead (``deploy.evaluate.ModelEvalResult``)."""
        return {
            "head": None if self.head_path is None else str(self.head_path), "cache": str(self.cache_path), "split": self.split,
            # whose report the default folder holds (default_out): the paths as given are relative to another folder
            "head_abspath": None if self.head_path is None else os.path.abspath(self.head_path),
            "cache_abspath": os.path.abspath(self.cache_path),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.shared_scores(), **self.scored(),
            "layer": self.layer, "accuracy": self.accuracy, "per_class": self.per_class,
            "class_names": self.class_names, "confusion": self.confusion.tolist(),
            "test_views": list(self.test_views), "averaged": self.averaged,
            "overlap": self.overlap, "misclassified": self.misclassified, "note": self.note,
            "files": {k: str(v) for k, v in self.files.items()},
        }

    def text(self) -> str:
        """The report as evaluation.txt and the CLI give it. Paths and class names are shown escaped (``one_line``): an
        image file named "a\\nb.png" split its misclassified line, a class "be\\nes" (refused at extract since; a cache
        made before keeps it) the table and the matrix (an adversarial tester). It always holds the line on images the
        head was trained on (its ``leakage=False`` went unused since 90d3d2e; a review): the CLI prints it, so
        '> file' keeps it with the result (a review), its stderr warning then left out on a terminal, where it showed
        twice (a new-user tester)."""
        lines = [*self.scored_lines(),
                 f"accuracy  {self.accuracy:.4f} on {counted(self.images, 'image')}", f"views     {self.views_line()}"]
        if self.note:
            lines.append(f"note      {self.note}")
        if self.overlap and self.overlap["seen"]:
            lines.append(leakage_line(self.overlap, self.trained_by))
        lines = [one_line(line) for line in lines]
        lines += ["", f"{'class':<16}{'precision':>10}{'recall':>10}{'support':>9}"]
        lines += [f"{one_line(r['class']):<16}{r['precision']:>10.3f}{r['recall']:>10.3f}{r['support']:>9}" for r in self.per_class]
        lines += ["", confusion_text(self.confusion, [one_line(name) for name in self.class_names]), ""]
        wrong = misclassified_text(self.misclassified, self.split, self.values_line())
        return "\n".join(lines + [one_line(line) for line in wrong])

    def values_line(self) -> str | None:
        """What the misclassified images' numbers are, where they are no probabilities (a model's:
        ``deploy.evaluate.ModelEvalResult``); None here: a head's are probabilities, or none."""
        return None

    def plot_title(self, head: Any, out_dir: Path) -> str:
        """The confusion plot's title: the head's kind, what it scored, the accuracy, and its file's name."""
        name = self.head_path.name if self.head_path is not None else out_dir.name
        return f"{self.plot_scored(head)} ({counted(self.images, 'image')}{self.averaged_words()}): accuracy {self.accuracy:.3f}\n{name}"

    def plot_scored(self, head: Any) -> str:
        """What scored what, in the plot's title (a model's names its kind and folder)."""
        return f"{head} head on {self.split}"

    def averaged_words(self) -> str:
        """``, 3 views averaged`` for several views (and for ``only:VIEWS``, without the original view), else ""."""
        how = f", {len(self.test_views)} views averaged" if len(self.test_views) > 1 else ""
        return how + without_words(self.test_views)  # only:flip's title was the original's (h137)

    def scored_lines(self) -> list[str]:
        """The report's first lines: what was scored, on what (a model's report names its file and folder)."""
        return [f"head      {self.head_path or '(in memory)'}", f"cache     {self.cache_path} ({self.split} split, layer {self.layer})"]

    def views_line(self) -> str:
        # as train says it; not for the original view alone, whose accuracy it is (orig_view_score)
        orig = (f"; original view alone {self.accuracy_orig:.4f}"
                if self.accuracy_orig is not None and list(self.test_views) != ["orig"] else "")
        if self.averaged is None:
            return f"{self.test_views[0]} only (one view per image{without_words(self.test_views)})" + orig
        return f"{self.averaged} averaged over {len(self.test_views)} views per image: {views_words(self.test_views)}{orig}"


def unseen_views_note(meta: dict[str, Any], views: Sequence[str]) -> str | None:
    """A note where ``views`` (those averaged) hold views the head was not fitted on, else None. 'evaluate --test-views
    all' of a head trained on orig and flip averaged 5 crops it never saw without a word (a new-user tester). A head
    that records no training views was fitted on the original view (featcache before views)."""
    trained = list(meta.get("train_views") or ["orig"])
    unseen = [v for v in views if v not in trained]
    if not unseen:
        return None
    fix = option(f"--test-views {views_spec(trained)}", f"test_views={views_spec(trained)!r}")
    scored = (f"{len(unseen)} of the {len(views)} views averaged here ({', '.join(unseen)})" if len(views) > 1
              else f"the {'original' if views[0] == 'orig' else views[0]} view scored here")
    return f"the head was not trained on {scored}: it was fitted on {views_words(trained)}; {fix} scores it on its own views"


def leakage_line(overlap: dict[str, Any], whose: str = "head") -> str:
    """The line on scored images that were training images (``overlap``: ``find_overlap``'s): of a head on a
    cache's split, or (``whose`` "model") of a model on a photo folder (``deploy.evaluate``, by the digests its
    head's are)."""
    unseen = overlap.get("unseen_accuracy")
    acc = f"accuracy on the {overlap['images'] - overlap['seen']} unseen ones {unseen:.4f}" if unseen is not None else "no unseen ones"
    # "the accuracy counts them as unseen" left a new-user tester unsure what it meant: say what the accuracy is
    some = "" if overlap["seen"] == overlap["images"] else "partly "
    scored = "photos of the folder" if whose == "model" else f"{overlap.get('split', 'test')} images"
    return (f"{overlap['seen']} of {overlap['images']} {scored} were in this {whose}'s training data: the accuracy is "
            f"{some}on images the {whose} was trained on, so it is not a test accuracy ({acc}); {_leak_fix(overlap, whose)}")


def _leak_fix(overlap: dict[str, Any], whose: str = "head") -> str:
    """What to do: where the seen test images are copies of the cache's own training images, the copies are the
    cause, not the head: "evaluate on images the head has not seen" was wrong for a head trained on the train split
    alone of a photo folder holding copies (a new-user tester)."""
    other = ("evaluate on images the head has not seen (a cache's test split it was not trained on)" if whose == "head"
             else "evaluate on photos the model has not seen (its data set's test folder, or new ones)")
    copies = overlap.get("copies") or 0
    if not copies:
        return other
    if whose == "model":
        return _model_copies_fix(overlap)
    where = "the photo folder" if overlap.get("photos") else "the data set"
    remove = f"remove the copies from {where} and extract again"
    if copies == overlap["seen"]:
        return (f"they are copies of this cache's own training images (the same content in its train and test splits), "
                f"not images the head was given besides: {remove}")
    return f"{copies} of them are copies of this cache's own training images: {remove}; and {other}"


def _model_copies_fix(overlap: dict[str, Any]) -> str:
    """A model's fix where the folder scored is not its training folder (``deploy.evaluate._copies_where``): the
    photos it was trained on are copies there, in its data set's test folder (remove them there, then extract, train
    and export again) or in another folder (remove them from it)."""
    where = overlap.get("copies_in") or "the photo folder"
    them = "they are copies" if overlap["copies"] == overlap["seen"] == overlap["images"] else "the seen ones are copies"
    if overlap.get("copies_in_data_set"):
        return (f"{them} (the same bytes) of photos the model was trained on, in its data set's test folder: remove the "
                f"copies from {where} (each photo in train/ or in the test folder, not both), then extract, train and "
                "export again")
    return f"{them} (the same bytes) of photos the model was trained on: remove them from {where}, or evaluate on new photos"


def misclassified_text(wrong: list[dict[str, Any]], split: str = "test", values: str | None = None) -> list[str]:
    """The report's lines of the misclassified images (``misclassified_entry``'s), the first ``TEXT_MISCLASSIFIED``,
    each by its file, or by its index in ``split`` where it has none (Fashion-MNIST's); ``values``, a line under the
    count saying what their numbers are where they are no probabilities (``EvalResult.values_line``)."""
    if not wrong:
        return ["misclassified: none"]
    # "1 images" (a new-user tester): progress.counted, the one home of a count and its unit
    lines = [f"misclassified: {counted(len(wrong), 'image')}" + (f" (first {TEXT_MISCLASSIFIED}; all in evaluation.json)"
                                                               if len(wrong) > TEXT_MISCLASSIFIED else "")]
    if values:
        lines.append(f"  ({values})")
    for w in wrong[:TEXT_MISCLASSIFIED]:
        # an SVM head's model gives shares, not probabilities: named so, as predict's columns name them (share_N)
        p = (f" {w['probability']:.3f}" if w.get("probability") is not None
             else f" share {w['share']:.3f}" if w.get("share") is not None else "")
        lines.append(f"  {misclassified_name(w, split)}: {w['true']} -> {w['predicted']}{p}")
    if len(wrong) > TEXT_MISCLASSIFIED:
        lines.append(f"  ... and {len(wrong) - TEXT_MISCLASSIFIED} more")
    return lines


def _of(dataset: Any) -> str:
    """`` (name)`` of a data set for a message, as ``errors.clipped`` gives it; nothing where there is no name."""
    from featcache.errors import clipped

    if not (isinstance(dataset, str) and dataset):
        return ""
    return f" ({clipped(dataset)})"


def metrics(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> tuple[float, list[dict[str, Any]], np.ndarray]:
    """Accuracy, per-class precision/recall/support and the confusion matrix of labels ``0..len(class_names)-1``.

    Counted here as scikit-learn's ``confusion_matrix`` and ``precision_recall_fscore_support(zero_division=0)``
    count them (a class never predicted has precision 0, one without images recall 0): evaluating an exported model
    on photos needs nothing else of scikit-learn, whose import with SciPy's took seconds of it on a loaded machine."""
    n = len(class_names)
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    _check_labels(y_true, y_pred, n)
    cm = np.bincount(y_true * n + y_pred, minlength=n * n).reshape(n, n)
    hits, support, predicted = np.diag(cm), cm.sum(axis=1), cm.sum(axis=0)
    precision = np.divide(hits, predicted, out=np.zeros(n), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros(n), where=support > 0)
    per_class = [
        {"class": name, "precision": float(p), "recall": float(r), "support": int(s)}
        for name, p, r, s in zip(class_names, precision, recall, support)
    ]
    return float(np.mean(y_true == y_pred)), per_class, cm


def _check_labels(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> None:
    """Labels ``metrics`` can count: as many predictions as true labels, each 0..n-1. A prediction of 3 with 3 classes
    was counted in another class's cell without a word, a true label out of range a reshape's or bincount's traceback
    (an adversarial tester); scikit-learn drops such labels, a matrix that is silently not the run's."""
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise FeatcacheError(f"metrics needs one true label per prediction (got {y_true.shape} labels and {y_pred.shape} "
                             f"predictions); pass two 1-D arrays of the same length")
    for what, y in (("true label", y_true), ("prediction", y_pred)):
        bad = y[(y < 0) | (y >= n)]
        if bad.size:
            raise FeatcacheError(f"{what} {int(bad[0])} is no class of the {n} named (labels are 0 to {n - 1}); "
                                 f"pass class_names for every class, or labels of these classes only")


def resolve_head(head: Any, meta: dict[str, Any] | None = None,
                 trust_pickle: bool = False) -> tuple[BaseEstimator, dict[str, Any], Path | None]:
    """``(estimator, meta, path or None)`` from a head file, a ``TrainResult``, an ``(estimator, meta)`` pair or an estimator with ``meta``."""
    from featcache.analysis.train import TrainResult

    carries = isinstance(head, (TrainResult, str, os.PathLike)) or isinstance(head, tuple) and len(head) == 2
    if carries and meta is not None:  # ignored without a word: evaluate(h.npz, cache, meta="x") ran (an adversarial tester)
        raise FeatcacheError("meta goes with a fitted head given alone (evaluate(est, cache, meta=...)); a head file, a "
                             "TrainResult or an (estimator, meta) pair carries its own: leave meta out")
    if isinstance(head, TrainResult):  # before os.PathLike, which it is: its fitted head, not a second load
        # Its file named only while it holds that head: a train to its path since replaced it, and the report named the
        # file (and took its folder) for the head scored here from memory, another one (a last read, 2026-12-06); so
        # did it a file gone or unreadable since (a reviewer, 2026-12-06)
        named = head.path is not None and still_written(head, Path(head.path))
        if head.path is not None and not named:
            warn(from_memory_line(head, Path(head.path)), HeadFromMemoryWarning)
        return head.estimator, head.meta, head.path if named else None
    if isinstance(head, (str, os.PathLike)):  # any os.PathLike, as every other API function takes (a tester)
        order = command("evaluate", "HEAD CACHE", "head, cache")  # 'evaluate CACHE HEAD', swapped (new users)
        fix = f"pass {head_file()} (evaluate takes the head first, then the cache: {order})"
        est, meta = read_head(head, trust_pickle=trust_pickle, fix=fix)
        return est, meta, Path(head)
    if isinstance(head, tuple) and len(head) == 2:
        head, meta = head
    if meta is None or not hasattr(head, "predict"):
        raise FeatcacheError("evaluate takes a head file, a TrainResult, or a fitted head with its meta "
                             "(evaluate(est, cache, meta=result.meta)); pass one of these")
    if not isinstance(meta, dict):  # meta="x" was "'str' object has no attribute 'get'" (an adversarial tester)
        raise FeatcacheError(f"meta must be the head's metadata, a dict (got {shown(meta)}); pass the meta saved with "
                             "it (result.meta, or load_head(path)[1])")
    return head, meta, None


def from_memory_line(result: Any, path: Path) -> str:
    """Why ``evaluate`` scores ``result`` (a TrainResult) from memory: its file no longer holds its head. It did so
    without a word, and its report said "head (in memory)" where load_head, verify and export of the same result
    refuse it (a new-user tester)."""
    replaced = replaced_since(result, path) is not None
    why = ("now holds another head, written there since" if replaced else "is gone" if not os.path.lexists(path)
           else "can no longer be read as that head")
    instead = f"; pass {str(path)!r} to evaluate the head in the file" if replaced else ""
    return (f"{path}, the file of this TrainResult, {why}: evaluating the head the TrainResult holds in memory (the "
            f"report's \"head (in memory)\"){instead}")


def check_given_head(est: BaseEstimator, meta: dict[str, Any]) -> None:
    """A fitted head given with its meta (no file): its classes index the meta's class names and its width is the
    meta's, as ``load_head`` checks a file's (``heads.io.check_head``). A 10-class head given with a 2-class head's
    meta over a 2-class cache passed every check and ended in an IndexError (an adversarial tester)."""
    def not_its_meta(_: Path, why: str) -> FeatcacheError:
        return FeatcacheError(f"the head given does not go with its meta ({why}); pass the meta saved with this head "
                              "(result.meta, or load_head(path)[1])")

    check_head(est, meta, "", not_its_meta)


def evaluated_views(meta: dict[str, Any], cache: Cache, test_views: str | Sequence[str] | None) -> tuple[str, ...]:
    """The views to average: those asked for, else those the head recorded, else every view the cache has."""
    if test_views is not None:
        return check_views(cache, test_views, "--test-views")
    recorded = meta.get("test_views")
    if recorded is None:
        return check_views(cache, None, "--test-views")
    # the option train took, in the caller's words: "(train --test-views)" to a Python call named a flag (a review)
    took = option("train --test-views", "train's test_views")
    try:  # a record without orig is only:VIEWS (every other spelling records it): asked for again as that (h137)
        return check_views(cache, views_spec(recorded) if isinstance(recorded, list) else recorded,
                           f"the head's record of its test views ({took})")
    except FeatcacheError as exc:  # the quick way out was not named, only re-extracting (a new user)
        raise type(exc)(f"{exc}; or score it here on views the cache holds, e.g. "
                        f"{option('--test-views orig', 'test_views=' + repr('orig'))}") from None


def warn_if_splits_overlap(cache: Cache, what: str) -> int:
    """Warn (``LeakageWarning``) when test images of ``cache`` are also among its training images (same content
    digest): ``what`` (curve, probe --on-test) scores on them as if unseen. train and evaluate say it of a head's
    own training images (``find_overlap``); these fit on subsets of every training image, so the cache's splits
    are compared (an adversarial tester: probe --on-test said nothing). Returns how many there are."""
    from featcache.heads.io import digest_keys, row_keys

    trained, tested = cache.digests("train"), cache.digests("test")
    if trained is None or tested is None:
        return 0
    seen = int(np.isin(row_keys(tested), digest_keys(trained)).sum())
    if seen:
        warn(f"{seen} of {len(tested)} test images of {cache.path} are also among its training images (the same "
             f"content); {what} scores them as unseen, so its accuracies are inflated; remove the copies and "
             "re-extract", LeakageWarning)
    return seen


def find_overlap(meta: dict[str, Any], cache: Cache, split: str, y: np.ndarray, y_pred: np.ndarray) -> dict[str, Any] | None:
    """How many of ``split``'s images the head was trained on (by content digest), and the accuracy on the others."""
    trained = meta.get("train_digests")
    digests = cache.digests(split)
    if trained is None or digests is None:
        return None
    keys = row_keys(digests)
    overlap = seen_overlap(keys, trained, split, y, y_pred)
    seen = np.asarray(overlap["rows"], dtype=np.int64)
    own = cache.digests("train") if split == "test" and seen.size else None
    # seen test images that are also in the cache's own train split: copies in the data set (leakage_line's cause)
    copies = int(np.isin(keys[seen], row_keys(own)).sum()) if own is not None else 0
    return {**overlap, "copies": copies, "photos": cache.photo_root is not None}


def seen_overlap(keys: np.ndarray, trained: Any, split: str, y: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """The overlap (``find_overlap``'s dictionary, without copies) of scored images keyed ``keys`` (``row_keys``) with
    the training keys ``trained``: how many were seen, which rows, and the accuracy on the others. A head's on a
    cache's split, and a model's on a photo folder (``deploy.evaluate``)."""
    seen = np.isin(keys, np.asarray(trained, dtype=np.uint64))
    unseen = ~seen
    return {"split": split, "seen": int(seen.sum()), "images": int(len(seen)), "rows": np.flatnonzero(seen).tolist(),
            "unseen_accuracy": float(np.mean(y[unseen] == y_pred[unseen])) if unseen.any() else None,
            "copies": 0, "photos": False}


def misclassified_entry(row: int, path: str | None, true: str, predicted: str, value: dict[str, Any],
                       index: int | None = None) -> dict[str, Any]:
    """One misclassified image as evaluation.json and --json hold it, a head's and a model's alike (the one home of
    its keys): ``row``, its position among the images scored; ``path``, its file (None for Fashion-MNIST's);
    ``true`` and ``predicted``; ``value``, the predicted class's ``probability`` (a model of an SVM head: ``share``
    beside ``probability`` None); and, given (a head's report), ``index``, the image's position in its data set's
    split. ``image``, a copy of ``path`` or "test image INDEX", and a model's ``index``, a copy of ``row``, were
    written beside them until 2026-12-06 (a session's brief): ``misclassified_name`` still reads ``image``."""
    entry = {"row": int(row), **({} if index is None else {"index": int(index)}), "path": path, "true": true,
             "predicted": predicted}
    return {**entry, **value}


def misclassified_name(entry: dict[str, Any], split: str) -> str:
    """What the report calls a misclassified image: its file, or ``SPLIT image INDEX`` where it has none; an entry of
    before 2026-12-06 by the ``image`` it held."""
    if entry.get("path") is not None:
        return str(entry["path"])
    if "image" in entry:
        return str(entry["image"])
    return f"{split} image {entry.get('index', entry.get('row'))}"


def list_misclassified(cache: Cache, split: str, y: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None) -> list[dict[str, Any]]:
    """Every wrongly predicted image: its row, its source index, its file (photo caches), true and predicted class."""
    names = cache.class_names
    rows = np.flatnonzero(y != y_pred)
    paths_ = cache.paths(split)
    root = (cache.meta.get("source") or {}).get("root") if isinstance(cache.meta.get("source"), dict) else None
    if paths_ is not None and root:  # photo caches store paths relative to the photo folder
        paths_ = [str(Path(root) / p) for p in paths_]
    index = cache.index(split)
    out = []
    for r in rows:
        out.append(misclassified_entry(r, None if paths_ is None else paths_[r], names[int(y[r])], names[int(y_pred[r])],
                                       {"probability": None if proba is None else round(float(proba[r].max()), 6)},
                                       index=int(index[r])))
    return out


def check_write_out(write: bool, out: str | Path | None) -> None:
    """A folder named for a report that ``write=False`` will not write: one of the two is a slip (a head's evaluate
    and a model's refuse it in these words)."""
    if not write and out is not None:
        raise FeatcacheError(f"out={str(out)!r} names a folder for the report, but write=False writes none; "
                             "drop out, or write=False")


def report_files(out_dir: Path) -> dict[str, Path]:
    """The files ``evaluate`` writes into its folder."""
    return {"png": out_dir / "confusion.png", "json": out_dir / "evaluation.json", "text": out_dir / "evaluation.txt"}


def default_out(head_path: Path | None, meta: dict[str, Any], layer: str, cache: Cache, split: str,
                views: Sequence[str] = ()) -> Path:
    """``data/runs/eval/<head file name>_<suffix>[_<split>][_views-<views>]``: the kind in the name, so a logreg
    fashion.npz does not replace the Keras fashion.keras's report (a new user), the split when it is not the test
    split, and ``views`` when they are not the head's own (``--test-views orig`` replaced the averaged report; a
    new user). Where that
    folder holds the report of another head file or cache (a head of the same name elsewhere; an adversarial
    tester), 6 hex of a hash of both paths are added: each report keeps its folder."""
    from featcache.store.layout import made_from

    if head_path is None:
        name = f"{meta.get('head')}_{layer}_{meta.get('cache_fingerprint', '')[:12]}"
    else:
        name = f"{head_path.stem}_{head_path.suffix.lstrip('.')}"
    name += "" if split == "test" else f"_{split}"
    shown_views = ["only", *views] if views and without_orig(views) else list(views)  # only:flip is not "_views-flip" of old
    name += f"_views-{name_part('-'.join(shown_views))}" if views else ""
    whose = made_from("head file name", head_path.stem) if head_path is not None else "the head's layer and cache"
    return report_folder(name, head_path, cache.path, whose)


def name_part(text: str) -> str:
    """``text`` as part of a report folder's name: letters, digits and ``+_-`` kept, the rest dropped."""
    return re.sub(r"[^A-Za-z0-9+_-]", "", text)


def report_folder(name: str, head_path: Path | None, scored: Path, whose: str) -> Path:
    """HOME/runs/eval/``name``, or that name tagged where the folder holds the report of another head (or model)
    file or of another cache (or photo folder) ``scored`` (``default_out``)."""
    from featcache.store.layout import default_report_folder

    here = (None if head_path is None else str(head_path), str(scored))
    absolute = tuple(os.path.abspath(p) if p else None for p in here)

    def mine(prior: dict) -> bool:
        model, folder = prior.get("model"), prior.get("folder")
        if isinstance(model, dict) and isinstance(folder, dict) and "abspath" in folder:  # a model's (since 2026-12-06)
            return (model.get("abspath"), folder.get("abspath")) == absolute
        if "cache_abspath" in prior:
            return (prior.get("head_abspath"), prior.get("cache_abspath")) == absolute
        # a report from before the absolute paths were recorded: the same relative paths name other files from
        # another folder ('evaluate h.npz fm.h5' in a/ then b/ replaced a/'s report; an adversarial tester)
        return (prior.get("head"), prior.get("cache")) == here and all(p is None or os.path.isabs(p) for p in here)

    return default_report_folder(paths.runs_dir() / "eval" / name, "evaluation folder name", whose, "evaluation.json",
                                 mine, "\0".join(p or "" for p in absolute))


def check_report(out_dir: Path, flag: str = "--out") -> dict[str, str]:
    """Before the work: evaluate's files in ``out_dir`` replace only an evaluation featcache wrote, and of it only
    the confusion.png and evaluation.txt whose SHA-256 evaluation.json records (``lesson`` asks too). Returns those
    digests (``validate.check_report_files``); an evaluation.json from before it recorded them: taken as before."""
    files = report_files(out_dir)
    return check_report_files(files.values(), lambda: _is_evaluation(files["json"]), flag,
                              digests=lambda: recorded_digests(files["json"]), recorded=[files["png"], files["text"]])


def _is_evaluation(path: Path) -> bool:
    """Whether ``path`` is an evaluation.json featcache wrote (so the report beside it may be replaced)."""
    import json

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"accuracy", "confusion", "class_names"} <= data.keys()


@checks_switches
def evaluate(
    head: Any,
    cache: Cache | str | Path,
    *,
    split: str = "test",
    out: str | Path | None = None,
    meta: dict[str, Any] | None = None,
    trust_pickle: bool = False,
    test_views: str | tuple[str, ...] | None = None,
    verbose: bool = False,
    write: bool = True,
) -> EvalResult:
    """Score ``head`` on ``split`` of ``cache``; writes a report, JSON and a confusion PNG to ``out``.

    ``out``: the folder for the three files; ``None`` (the default, the CLI's without ``--out``, as for train, probe
    and curve) the head's own folder under HOME/runs/eval (``default_out``). ``write=False`` writes nothing
    (``result.files`` is then empty; a notebook's ``evaluate(head, cache).accuracy`` wrote three files on every
    call): the scores and the report's text (``result.text()``) are on the result either way. ``verbose``: say what
    is scored (stderr, with a line every so often while a slow head scores), then print the report (stdout), as the
    CLI does.

    ``head``: a head file, a ``TrainResult``, or a fitted head with its
    ``meta`` (an ``(estimator, meta)`` pair). Refuses a cache whose backbone,
    weights, image size, preprocessing, layer, width or classes differ from
    those the head was trained on. When evaluated images were training images
    of the head (same content digest), warns (``LeakageWarning``) and reports
    them in ``result.overlap`` with the accuracy on the unseen ones.

    ``test_views``: the views averaged per image (``heads.views``;
    ``parse_views`` syntax or ``"all"``); default: the views the head
    recorded at training (``train --test-views``), else every view the cache
    has. ``"orig"`` scores the original view alone (what a model exported
    without views scores). The report says which views and which quantity
    (probabilities or the SVM's decision values) were averaged.
    """
    est, meta, head_path = resolve_head(head, meta, trust_pickle)
    check_write_out(write, out)
    if out is not None:  # write, here
        check_out_dir(out)  # before the work: a file named as --out, or a folder that cannot be written
    from featcache.store import as_cache  # h5py's import: the CLI's parser imports this module (LeakageWarning)

    cache = as_cache(cache)
    if list(meta.get("class_names") or []) != cache.class_names:  # first: another data set's cache is the mistake,
        # not its image size (a hymenoptera head on the Fashion-MNIST cache said "image_size: head 224 vs cache 96;
        # evaluate on a cache extracted with the head's settings", a new-user tester)
        raise FeatcacheError(
            f"the head was trained on classes {meta.get('class_names')}{_of(meta.get('dataset'))}, the cache holds "
            f"{cache.class_names}{_of(cache.meta.get('dataset'))}; evaluate on a cache of the same data set"
        )
    if head_path is None:
        check_given_head(est, meta)
    check_compatible(meta, cache)
    require_splits(cache, split)
    layer = meta["layer"]
    views = evaluated_views(meta, cache, test_views)
    try:  # what the head's report averages unless asked otherwise
        own = evaluated_views(meta, cache, None) if test_views is not None else views
    except FeatcacheError:  # the head's own views are not in this cache: those asked for are another setting
        own = None
    out_dir = None
    if write:
        out_dir = check_path(out, "out", "a folder for the report") if out is not None else default_out(
            head_path, meta, layer, cache, split, views if views != own else ())
        check_report_outside_classes(out_dir, cache.photo_root)
        check_report(out_dir)  # before the work, as --out's folder
    Xv, y = cache.view_features(split, layer, views), cache.labels(split)
    from featcache.analysis.subsets import warn_missing_classes

    warn_missing_classes(y, cache.class_names, split)  # as train says it (its table shows support 0; a tester)
    if Xv.shape[2] != est.n_features_in_:
        raise FeatcacheError(f"{width_problem(est.n_features_in_, repr(layer), cache, Xv.shape[2])}; "
                             "evaluate on a cache extracted with the head's settings")
    probabilistic = averaged_quantity(est) == PROBABILITIES
    if verbose:
        status(f"scoring the {meta.get('head')} head on {counted(len(y), split + ' image')}"
               f"{f' x {len(views)} views' if len(views) > 1 else ''}, layer {layer} ...")
    from featcache.analysis.train import orig_view_score

    # a slow head's scoring (an SVM's) says it runs, as train's does: both passes under one heartbeat
    with showing_fits(bars_wanted(verbose)), scoring_shown(est, scored_rows(est, Xv, views)):
        y_pred, scores, first = scored_views(est, Xv, scores=probabilistic)
        proba = scores if probabilistic else None  # the averaged probabilities, for the misclassified list
        accuracy, per_class, cm = metrics(y, y_pred, cache.class_names)
        overlap = find_overlap(meta, cache, split, y, y_pred)
        if overlap and overlap["seen"]:
            warn(leakage_line(overlap), LeakageWarning)
        accuracy_orig = orig_view_score(est, cache, split, layer, views, Xv, y, accuracy, first)
    result = EvalResult(head_path, cache.path, split, layer, cache.class_names, accuracy, per_class, cm,
                        {} if out_dir is None else report_files(out_dir),
                        list_misclassified(cache, split, y, y_pred, proba), overlap, views,
                        averaged_over(est, views), accuracy_orig, unseen_views_note(meta, views))
    if out_dir is not None:
        write_report(result, out_dir, meta.get("head"))
    if verbose:
        say_evaluated(result)
    return result


def write_report(result: EvalResult, out_dir: Path, head: Any) -> None:
    """confusion.png, evaluation.txt and evaluation.json of ``result`` into ``out_dir``: all three or none."""
    files = result.files  # report_files(out_dir), as evaluate set them
    title = result.plot_title(head, out_dir)
    kept = check_report(out_dir)  # again after the predictions: a file saved there meanwhile was replaced (a review)
    with output_files(out_dir, files.values()):  # all three or none, and no empty folder
        plot_confusion(result.confusion, result.class_names, files["png"], title=title)
        write_text(files["text"], result.text() + "\n")
        # Last, with the SHA-256 of the two files above: a rerun replaces them only while they are unchanged
        write_json(files["json"], {**result.to_dict(), REPORT_DIGESTS: report_digests([files["png"], files["text"]], kept, written_sha256)})


def say_evaluated(result: EvalResult) -> None:
    """The report on stdout (``evaluate(verbose=True)``, the CLI's text), and where its plot went."""
    print(result.text())
    if "png" in result.files:
        print()
        print(one_line(f"confusion matrix plot: {result.files['png']}"))
    if "json" in result.files:  # "all in evaluation.json" above named a file no line located (a new-user tester)
        print(one_line(f"report: {result.files['text']}; every number and misclassified image: {result.files['json']}"))
