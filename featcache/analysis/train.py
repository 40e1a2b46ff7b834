"""train: fit a head on a cache's train split, score it on the test split, save it.

``featcache.train(cache, head="keras")`` is ``featcache train CACHE --head keras``.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, NamedTuple, Sequence

import numpy as np

from featcache import paths
from featcache.analysis.subsets import CLASSES_FIRST, stratified_subset, warn_missing_classes
from featcache.errors import FeatcacheError, cli_running, given, given_together, one_line, option, python_text, warn
from featcache.progress import bars_wanted, counted, seconds_text, showing_fits, status
from featcache.heads import (HEADS, RUN_ONLY_PARAMS, check_head_params, check_param_names, fold_reason,
                             head_params, head_suffix, make_head, suffixes_line)
from featcache.heads.presets import DEFAULT_PRESET
from featcache.heads.io import (ANOTHER_CACHE, DIGEST_KEY, TEST_ACCURACY, TEST_ACCURACY_ORIG, WRITTEN_BY, check_head_out, digest_keys,
                                 with_names_before, head_meta, read_head_meta, replaced_from, replaced_words, stored_digest,
                                 names_a_head_given_as_a_cache, write_head)
from featcache.heads.views import accuracy_of, averaged_over, fit_views, score_views
from featcache.sources.images import check_file_outside_classes
from featcache.store.atomic import written_through
from featcache.validate import (
    ParamLabel,
    Written,
    param_text,
    checks_switches,
    check_file_name,
    check_out_file,
    check_path,
    check_seed,
    check_two_per_class,
    check_views,
    parse_C,
    parse_params,
    positive_int,
    shown,
    require_splits,
    views_words,
    without_orig,
    without_words,
)

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

    from featcache.store import Cache


@dataclass
class TrainResult:
    """What ``train`` did: the fitted head (``estimator``, its ``meta``), its test score and where it was saved."""

    path: Path
    head: str
    preset: str | None
    layer: str
    train_images: int
    test_images: int
    accuracy: float
    fit_seconds: float
    details: dict[str, Any] = field(default_factory=dict)  # epochs run, chosen C, ...
    # The views the head was fitted on (every one of each training image) and those averaged per test image.
    train_views: tuple[str, ...] = ("orig",)
    test_views: tuple[str, ...] = ("orig",)
    averaged: str | None = None  # "probabilities" or "decision values" when test views were averaged, else None
    # the original test view alone, the accuracy itself where it was the one test view (heads.io.TEST_ACCURACY_ORIG)
    test_accuracy_orig: float | None = None
    replaced: bool = False  # a head featcache wrote was at the path and this one replaced it (--json said nothing)
    # Test images that were among the training images (same content digest): evaluate's ``overlap`` (seen, images,
    # rows, unseen_accuracy), None when there are none; train warned of nothing (an adversarial tester)
    overlap: dict[str, Any] | None = None
    estimator: Any = field(default=None, repr=False, compare=False)  # the fitted head: predict, predict_proba, score
    meta: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # what save_head stored with it
    params: dict[str, Any] = field(default_factory=dict)  # the head's own parameters given (--param)
    replaced_from: str | None = None  # where the head replaced was trained, where not on this cache (heads.io.replaced_from)
    # Scoring the test images (every view averaged, and the original view alone): an SVM's took 90 s of a 119 s
    # train after a 20 s fit, said nowhere (a notebook user). None: not measured (a result made by hand). Last: a
    # field added later goes after the others, so a TrainResult made positionally keeps its meaning (a review).
    score_seconds: float | None = None

    @property
    def replaced_other_cache(self) -> bool:
        """Whether the head replaced was trained on another cache of the data set (a re-extraction: ``replaced_from``)."""
        return self.replaced_from == ANOTHER_CACHE

    @property
    def test_accuracy(self) -> float:
        """``accuracy``, under the name every command's --json and head files give it (heads.io.TEST_ACCURACY)."""
        return self.accuracy

    @property
    def orig_accuracy(self) -> float | None:
        """``test_accuracy_orig``, under its name before 2026-12-05 (read by code written then)."""
        return self.test_accuracy_orig

    def __fspath__(self) -> str:  # the head file: load_head, export, verify and info take the result (a tester)
        return str(self.path)

    def written(self) -> Written:
        """What a reader checks (``validate.check_source``): the head at ``path`` is still the one this result holds
        (``estimator``), by the content digest it was saved with (``meta``'s, as in the file). A second train to the
        same path replaced it, and export(r1) exported that one while evaluate(r1) scored r1's (a tester)."""
        return Written(self.meta.get(DIGEST_KEY), "head", stored_digest, "train again")

    def to_dict(self) -> dict[str, Any]:
        # Not asdict: it would deep-copy the estimator (a Keras model).
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("estimator", "meta")}
        d["path"] = str(self.path)
        d[TEST_ACCURACY] = d.pop("accuracy")  # the shared name (heads.io.TEST_ACCURACY); "accuracy" too until 0.3
        d["replaced_other_cache"] = self.replaced_other_cache  # a field before replaced_from: --json keeps it
        return with_names_before("train", d)


def build_head(
    head: str,
    *,
    preset: str | None = None,
    epochs: int | None = None,
    C: float | str | None = None,
    seed: int = 0,
    n_classes: int | None = None,
    standardize: bool = False,
    params: Mapping[str, Any] | None = None,
) -> BaseEstimator:
    """A head from the train options; options that do not apply to ``head`` are refused.

    ``params``: the head's own parameters (``--param NAME=VALUE``), over the preset's for the Keras head; a
    parameter that has its own option (``OWN_FLAGS``) is given with that option.
    """
    _check_no_head_prefix(head, params)
    return _build_head(head, preset=preset, epochs=epochs, C=C, seed=seed, n_classes=n_classes,
                       standardize=standardize, params=parse_params(params))[0]


def _build_head(head: str, *, preset: str | None, epochs: int | None, C: float | str | None, seed: int,
                n_classes: int | None, standardize: bool, params: dict[str, Any]) -> tuple[BaseEstimator, dict[str, Any]]:
    """``build_head``'s head, of ``params`` already parsed (train parses them once, for itself too), and what the head
    takes without them (``plain``: the preset's values and train's own options over its class's defaults), to which
    train's default file name compares them (``_not_defaults``): a second head built without them told it before."""
    import inspect

    if not isinstance(head, str) or head not in HEADS:
        make_head(head)  # raises the one-line "unknown head" error (or "named by a str" for a list)
    from featcache.heads import heads_with_C

    for name in params:
        if set_by_train(head, name):
            raise FeatcacheError(f"{f'--param {name}' if cli_running() else f'params[{name!r}]'}: {_own_words(name, params[name])}")
    check_param_names(head, params, hidden=[n for n in head_params(head) if set_by_train(head, n)])
    with_C = heads_with_C()
    if C is not None and head not in with_C:  # named from the registry: a new head without a C was "set with --C"
        how = f"is set with {option('--preset')} and {option('--epochs')}" if head == "keras" else "has no C"
        raise FeatcacheError(f"{option('--C')} applies to {_heads_given(with_C)} only; the {head} head {how}")
    if head == "keras":
        from featcache.heads.dense import DenseHead  # scikit-learn's import, where a Keras head is fitted

        base: dict[str, Any] = {**DenseHead.preset_params(preset or DEFAULT_PRESET),
                                "seed": seed, "n_classes": n_classes, "standardize": standardize}
        if epochs is not None:  # the CLI's check at the API's boundary: epochs=0 saved an untrained head (a tester)
            base["epochs"] = positive_int(epochs, "--epochs")
    else:
        if preset is not None or epochs is not None or standardize:
            how = f"is set with {option('--C')} (and always standardizes)" if head in with_C else "takes none of them"
            # only those given: train(cache, "logreg", epochs=5) was told "preset, epochs and standardize" (a tester)
            named = [option(flag, keyword) for flag, keyword, value in
                     (("--preset", None, preset is not None), ("--epochs", None, epochs is not None),
                      ("--standardize", "standardize", standardize)) if value]
            listed = f"{', '.join(named[:-1])} and {named[-1]} apply" if len(named) > 1 else f"{named[0]} applies"
            raise FeatcacheError(f"{listed} to {_heads_given(['keras'])} only; {_heads_given([head])} {how}")
        base = {"seed": seed}
        if C is not None:
            base["C"] = parse_C(C)  # the CLI's check at the API's boundary: C=-1 was scikit-learn's InvalidParameterError
    cls = HEADS[head]
    # The options train sets itself (seed, n_classes, standardize) first, each alone on a head of the class's defaults,
    # in the class's words: train checked its own before (--seed), so a complaint here is the Python API's
    # (build_head("logreg", seed=-1) said "--param seed -1 is not valid", a --param never given; a review)
    for name in ("seed", "n_classes", "standardize"):
        if name in base:
            check_head_params(cls(**{name: base[name]}), ParamLabel.of_class(cls))
    est = cls(**{**base, **params})  # no name of params is in base: set_by_train refused those
    # One check of every value, in --param's words: train's own options are checked above, the preset's are valid,
    # so a complaint is about a --param, or a pair of them with the preset's (early stopping). It was a check of the
    # --param values alone on a head of its own, then this one again in the class's words.
    check_head_params(est, ParamLabel.of_option("--param", "params"))
    return est, {**{k: p.default for k, p in inspect.signature(cls).parameters.items()}, **base}


def _check_no_head_prefix(head: str, params: Any) -> None:
    """train's ``--param`` is NAME=VALUE, its head being ``--head``'s. ``--param logreg.max_iter=100`` (curve's and
    probe's form) said "'logreg.max_iter' is no parameter name; write e.g. --param dropout=0.5", a Keras parameter
    shown for a logreg head, and ``--param svm.gamma=0.01`` with --head logreg the same (an adversarial tester)."""
    if not isinstance(params, (str, list, tuple)):
        return  # a dict, None or a wrong kind: parse_params's own checks
    for item in [params] if isinstance(params, str) else params:
        name, _, text = str(item).partition("=")
        prefix, dot, rest = name.strip().partition(".")
        if not dot or not rest.strip().isidentifier():
            continue
        value = text.strip() or "..."
        example = option(f"--param {rest.strip()}={value}", f"params={{{rest.strip()!r}: {python_text(value)}}}")
        said = option(f"--param {item!r}", f"params item {item!r}")
        if prefix.strip() in HEADS and prefix.strip() != head:
            raise FeatcacheError(f"{said} names head {prefix.strip()!r}, but train fits {_heads_given([head])}; a "
                                 f"parameter of the {prefix.strip()} head goes with it, by its name alone: "
                                 f"{given_together(_heads_given([prefix.strip()]), example)}")
        # "(its head is head='logreg')" read awkwardly in a Python call: there the head is the head= argument
        whose = option(f"its head is --head {head}", f"the head is given by head={head!r}")
        raise FeatcacheError(f"{said}: train takes the parameter's name alone ({whose}); write e.g. {example}")


def _heads_given(names: Sequence[str]) -> str:
    """``--head logreg and svm`` in a command, ``head='logreg' and 'svm'`` in a Python call."""
    return option(f"--head {' and '.join(names)}", f"head={' and '.join(repr(n) for n in names)}")


# Parameters train sets through an option of its own (or from the cache), never through --param.
OWN_FLAGS = {
    "seed": "give it with --seed",
    "C": "give it with --C",
    "epochs": "give it with --epochs",
    "standardize": "give it with --standardize",
    "n_classes": "set from the cache's classes",
}


def _own_words(name: str, value: Any = None) -> str:
    """``OWN_FLAGS``' line of ``name``, its flag in the caller's words: "give it with C=2" to a Python call, which
    has no --C (``errors.option``); ``value``: the one given in the parameters, written out ("give it with epochs="
    stopped short of it, and read as a fault of the value; a notebook tester)."""
    import shlex

    text = OWN_FLAGS[name]
    flag = text.rpartition(" ")[2]
    if not flag.startswith("--"):
        return text
    if flag == "--standardize" and cli_running():  # a switch: given to turn it on; off is its default (a review:
        # standardize=False was told "give it with --standardize", the opposite of what was given)
        return text if value is None or value is True or str(value).lower() in ("true", "1") else f"leave out {flag} (off by default)"
    if cli_running():  # the value as a shell word: --param "epochs=3 4" said "--epochs 3 4" (a review)
        return text[: -len(flag)] + (flag if value is None else f"{flag} {shlex.quote(str(value))}")
    return text[: -len(flag)] + f"{option(flag).partition('=')[0]}={value!r}"  # a switch's keyword: standardize=True


def set_by_train(head: str, name: str) -> bool:
    """Whether train sets ``head``'s parameter ``name`` itself (``OWN_FLAGS``: an option, or the cache), so that
    ``--param`` refuses it: the seed of every head, C of the heads with one, and what ``build_head`` passes the Keras
    head alone (epochs, standardize, n_classes). Another head's parameter of such a name is its own ``--param``: a
    registered head's ``epochs`` was refused as "give it with --epochs", which refuses every head but keras."""
    from featcache.heads import heads_with_C

    if name == "seed":
        return True
    if name == "C":
        return head in heads_with_C()
    return name in OWN_FLAGS and head == "keras"


def head_tag(head: str, est: BaseEstimator, preset: str | None, epochs: int | None, standardize: bool,
             params: Mapping[str, Any] | None = None) -> str:
    """What sets this head apart from others on the same rows, for its default file name.

    Everything that changes the fitted head is in it (preset, epochs, standardization, C, the ``--param`` values;
    for a head without a C, a digest of all its parameters), so ``--C cv`` never replaces the ``--C 0.03`` head's
    default file, nor ``--param dropout=0.5`` the preset's.
    """
    given = dict(params or {})
    if head == "keras":
        # the head's epochs as checked (positive_int), not as given: epochs=5.0 named its file e5.0, another file
        # than epochs=5's for the same fit (a notebook tester)
        parts = (preset, f"e{est.epochs}" if epochs is not None else None, "std" if standardize else None, _digest(given))
        return "-".join(p for p in parts if p)
    if "C" in est.get_params():
        return "-".join(p for p in (f"C{est.C}", _digest(given)) if p)
    # A head without a C: a digest of its parameters, so two equal fits share a default file
    return _digest({k: v for k, v in est.get_params().items() if k not in RUN_ONLY_PARAMS}) or "p"


def _not_defaults(params: Mapping[str, Any], plain: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` but those equal (same type and value) to what the head takes without them (``plain``, from
    ``_build_head``): the same fit gets the same default file; '--param gamma=scale' (the SVM's default) and
    '--param max_iter=2000' (logreg's) made a second file beside the plain head's (a new-user tester)."""
    return {k: v for k, v in params.items() if not (k in plain and type(plain[k]) is type(v) and plain[k] == v)}


def _digest(params: Mapping[str, Any]) -> str | None:
    """``p`` and 6 hex of a digest of ``params`` (None for none), but those that only say how a head runs
    (scikit-learn's names for them), so two equal fits share a default file (a review: --jobs made another file)."""
    kept = sorted((k, v) for k, v in params.items() if k not in RUN_ONLY_PARAMS)
    from featcache.store.layout import short_hash

    return f"p{short_hash(repr(kept))}" if kept else None


def views_tag(train_views: tuple[str, ...]) -> str | None:
    """Part of a head's default file name that tells its training views apart: None for the original alone.

    A count and a short hash of the names (view names hold ':' and ',', unwelcome in file names).
    """
    from featcache.store.layout import short_hash

    if tuple(train_views) == ("orig",):
        return None
    return f"v{len(train_views)}-{short_hash(','.join(train_views))}"


def default_head_path(cache: Cache, layer: str, head: str, tag: str | None, n: int, seed: int,
                      train_views: tuple[str, ...] = ("orig",)) -> Path:
    m = cache.meta
    name = "_".join(
        str(p) for p in (m.get("dataset"), m.get("backbone"), cache.fingerprint[:12], layer, head, tag, views_tag(train_views),
                         f"n{n}", f"s{seed}") if p
    )
    return paths.runs_dir() / "heads" / (name + head_suffix(head))


def check_out(path: Path, head: str, force: bool, cache: Cache, fit: Mapping[str, Any] | None = None,
              default: bool = False, written_by: str | None = None) -> None:
    """``--out`` must be a head file name; an existing file is replaced only if featcache wrote it as a head of the
    same job (``heads.io.check_same_job``: this data set, this kind of head) and, given ``fit`` (``fit_meta``: the
    metadata of the head about to be fitted, which ``save_trained`` writes), the same fit (``heads.io.other_fit``), or
    with ``force``. The check ``write_head`` makes again under the path's lock. ``default``: ``path`` is the default
    head file (no --out given); ``written_by``: the recipe writing it (``train``'s)."""
    check_out_file(path, head_suffix(head), f"the {head} head", suffixes_line())  # keras is the default: how to get a .npz one
    job = fit or {"dataset": cache.meta.get("dataset"), "class_names": cache.class_names,
                  "source": cache.meta.get("source"), "head": head, WRITTEN_BY: written_by}
    check_head_out(path, force, job=job, default=default)


def fit_meta(cache: Cache, layer: str, head: str, est: BaseEstimator, rows: np.ndarray | None,
             train_views: tuple[str, ...], **asked: Any) -> dict[str, Any]:
    """What a head fitted on ``cache`` records of its fit (``heads.io.head_meta``, the rows and views it is fitted on,
    and what train was ``asked`` for: ``train_size``, ``seed``, ...): the one home of what train's check of ``--out``
    compares before the fit and of what ``save_trained`` writes, which ``write_head`` compares again under the lock
    (a review: check_out built its own copy beside head_meta's, and the two had to agree)."""
    return {**head_meta(cache, layer, head, est), "train_images": cache.sizes["train"] if rows is None else len(rows),
            "train_views": list(train_views), **asked}


def check_training_labels(y: np.ndarray, class_names: list[str], est: Any, subset: bool = True) -> None:
    """Refuse training rows head ``est`` cannot learn from: one class only, or too few per class for its folds.
    ``subset``: the rows are a ``--train-size`` subset (raising it is the fix); else every training image of the
    cache ("raise --train-size" was said where none was given; an adversarial tester)."""
    more = f"raise {option('--train-size')}" if subset else "extract a cache with more training images"
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise FeatcacheError(f"all {len(y)} training images are of class {class_names[int(classes[0])]!r}; a classifier needs "
                             "images of at least 2 classes: extract a cache with more classes or "
                             + (f"raise {option('--train-size')}" if subset else "more training images"))
    reason = fold_reason(est)
    if reason:
        check_two_per_class(y, reason, more + (" or pass a number for --C" if reason == "--C cv" else ""), class_names)
    _check_validation_cut(y, est, more)


def _check_validation_cut(y: np.ndarray, est: Any, more: str) -> None:
    """A head that holds out rows for validation (the Keras head's ``validation_split``, the lesson's: its last rows,
    or a stratified pick where those leave a class out: ``dense.held_out``) trains on the rest: there every class must
    be. ``train --head keras --train-size 2`` trained on one image of one class (train accuracy 1.0, val 0.0) without
    a word (an adversarial tester). The images are the fit's: a head on views holds out whole images, as many."""
    split = getattr(est, "validation_split", 0) or 0
    if not split:
        return
    from featcache.heads.dense import validation_rows

    try:
        fit_rows, _ = validation_rows(len(y), split, labels=y, seed=getattr(est, "seed", 0))
    except ValueError:
        raise FeatcacheError(f"{len(y)} training images are too few for the Keras head to hold out {split:.0%} for "
                             f"validation; {more}") from None
    missing = len(np.unique(y)) - len(np.unique(y[fit_rows]))
    if missing:
        raise FeatcacheError(f"the Keras head holds out its last {split:.0%} of the {len(y)} training images for "
                             f"validation and would train on {counted(len(y[fit_rows]), 'image')} missing {missing} of the "
                             f"{len(np.unique(y))} classes; {more}")


def _details(head) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for attr in ("epochs_run_", "C_", "cv_scores_"):
        if hasattr(head, attr):
            d[attr.rstrip("_")] = getattr(head, attr)
    return d


def _test_scores(est, cache: Cache, layer: str, test_views: tuple[str, ...]) -> tuple[float, float | None, int]:
    """(accuracy with ``test_views`` averaged, the original view's alone when they are not the original alone, test
    images). ``only:VIEWS`` leaves the original out of ``test_views``: it is read apart, so ``test_accuracy_orig``
    stays the original view's (what an export without views scores), never the score of those views (h137)."""
    from featcache.heads.views import scored_rows, scored_views, scoring_shown

    Xt, yt = cache.view_features("test", layer, test_views), cache.labels("test")
    with scoring_shown(est, scored_rows(est, Xt, test_views)):  # one heartbeat over both passes
        scored = scored_views(est, Xt)
        accuracy = accuracy_of(scored.predicted, yt)  # score_views'
        return accuracy, orig_view_score(est, cache, "test", layer, test_views, Xt, yt, accuracy, scored.first), len(yt)


def orig_view_score(est: BaseEstimator, cache: Cache, split: str, layer: str, views: tuple[str, ...], Xv: np.ndarray,
                    y: np.ndarray, accuracy: float, first: np.ndarray | None = None) -> float:
    """The accuracy of the original view alone (``accuracy``, that of ``views`` averaged, where they are the original
    alone; ``Xv``: their features of ``split``): train's ``test_accuracy_orig`` and evaluate's (evaluate gave none; a
    new-user tester). One rule in every command (heads.io.TEST_ACCURACY_ORIG): it was null in train's and evaluate's
    --json for a head of the original view alone, and the number in export's and info's of its model (a tester).
    ``first``: the head's predictions of ``Xv``'s first view, where the averaged pass gave them
    (``heads.views.scored_views``): not scored again."""
    if tuple(views) == ("orig",):
        return accuracy
    # orig, where asked, is the first view (check_views: the cache's order); only:VIEWS reads it apart (h137)
    if without_orig(views):
        return score_views(est, cache.view_features(split, layer, "orig"), y)
    return accuracy_of(first, y) if first is not None else score_views(est, Xv[:1], y)


class FitScores(NamedTuple):
    """What ``fit_and_score`` measured: the fit's seconds, the test accuracy with the test views averaged, the
    original view's alone (``orig_view_score``), the test images, and the seconds their scoring took."""

    fit_seconds: float
    accuracy: float
    accuracy_orig: float | None  # as _test_scores gives it (TrainResult.test_accuracy_orig)
    test_images: int
    score_seconds: float


def fit_and_score(est: BaseEstimator, cache: Cache, layer: str, train_views: tuple[str, ...], test_views: tuple[str, ...],
                  rows: np.ndarray | None = None, verbose: bool = False) -> FitScores:
    """Fit ``est`` on ``train_views`` of every training image (``rows``: a subset), score it with ``test_views``
    averaged per test image. The one fit of a head on cached views: ``train`` and the lesson's views row.
    ``verbose``: say when the fit is done and the scoring starts (an SVM's scoring can take longer than its fit)."""
    y = cache.labels("train")
    from featcache.heads import load_backend

    Xv = cache.view_features("train", layer, train_views, rows)
    load_backend(est)  # not in the fit's seconds
    t0 = time.perf_counter()
    fit_views(est, Xv, y if rows is None else y[rows])  # a head's cross-validation or validation split keeps an image's views together
    # Rounded here, once: --json said 0.3944885... and the head file (and info) 0.394 (a reviewer, 2026-12-05)
    fit_seconds = round(time.perf_counter() - t0, 3)
    del Xv
    if verbose:
        n, views = cache.sizes["test"], len(test_views)
        status(f"fitted in {seconds_text(fit_seconds)}; scoring {counted(n, 'test image')}"
               f"{f' x {views} views' if views > 1 else ''} ...")
    t0 = time.perf_counter()
    accuracy, accuracy_orig, n_test = _test_scores(est, cache, layer, test_views)
    return FitScores(fit_seconds, accuracy, accuracy_orig, n_test, round(time.perf_counter() - t0, 3))


def test_overlap(est: BaseEstimator, cache: Cache, layer: str, rows: np.ndarray | None,
                 test_views: tuple[str, ...]) -> dict[str, Any] | None:
    """Test images whose content the head was trained on (``rows`` of the train split), as ``evaluate`` reports them
    (``evaluate.find_overlap``), or None: none, or a cache without per-image digests. A photo copied into both a
    train and a val folder scored as unseen, and train printed the inflated accuracy without a word (evaluate of
    the same head warned; an adversarial tester)."""
    from featcache.analysis.evaluate import find_overlap
    from featcache.heads.views import predict_and_scores

    trained, tested = cache.digests("train"), cache.digests("test")
    if trained is None or tested is None:
        return None
    keys = digest_keys(trained if rows is None else [trained[i] for i in rows])
    if not np.isin(digest_keys(tested), keys).any():  # the usual answer, without predicting anything
        return None
    y_pred, _ = predict_and_scores(est, cache.view_features("test", layer, test_views))
    return find_overlap({"train_digests": keys}, cache, "test", cache.labels("test"), y_pred)


def save_trained(est: BaseEstimator, cache: Cache, layer: str, head: str, path: Path, rows: np.ndarray | None, train_views: tuple[str, ...],
                 test_views: tuple[str, ...], accuracy: float, fit_seconds: float, *, force: bool = False,
                 default: bool = False, **extra: Any) -> dict[str, Any]:
    """Save a fitted head with what it was trained on (layer, views, the digests of its training images) and its
    scores; returns the metadata written, with the content digest the file carries. ``force``: replace a file at
    ``path`` that is not a featcache head, or a head of another job or fit (``heads.io.check_head_out``);
    ``default``: ``path`` is train's default head file."""
    meta = fit_meta(cache, layer, head, est, rows, train_views, **extra)
    meta.update(test_accuracy=accuracy, fit_seconds=fit_seconds, test_views=list(test_views),
                averaged=averaged_over(est, test_views))
    if hasattr(est, "epochs_run_"):  # a Keras head's: info showed "epochs 200" and not the 37 it ran (a new-user tester)
        meta["epochs_run"] = int(est.epochs_run_)
    digests = cache.digests("train")
    if digests is not None:
        meta["train_digests"] = digest_keys(digests if rows is None else [digests[i] for i in rows])
    # save_head's work, its refusals in the CLI's words (--out, --force); the digest in the file: what
    # TrainResult.written checks
    meta[DIGEST_KEY] = write_head(est, path, meta, force, default=default)[1]
    return meta


def _say_trained(res: TrainResult) -> None:
    extra = "".join(f", {k} {param_text(v)}" for k, v in res.details.items() if k != "cv_scores")
    if getattr(res.estimator, "C", None) == "cv":  # say where C came from (logreg's scores are in --json)
        extra += " (chosen by cross-validation on the training features)"
    how = ""
    if res.averaged:  # the original view alone is said where more views, or others (only:flip), were scored
        how = (f" ({res.averaged} averaged over {len(res.test_views)} views: {views_words(res.test_views)}; "
               f"original view alone {res.test_accuracy_orig:.4f})")
    elif res.test_views != ("orig",):  # only:flip: one view, not the original; its score was said bare (h137)
        how = f" (test view {views_words(res.test_views)}; original view alone {res.test_accuracy_orig:.4f})"
    fit = seconds_text(res.fit_seconds)
    if res.score_seconds is not None:  # where the rest of a long train went (an SVM's scoring; a notebook user)
        fit += f", scoring {seconds_text(res.score_seconds)}"
    again = replaced_words(res.replaced, "head", res.replaced_from)
    print(one_line(f"test accuracy {res.accuracy:.4f} on {counted(res.test_images, 'image')}{how}; fit {fit}{extra}{again} -> {res.path}"))


# The recipes that write heads and record themselves in them (heads.io.WRITTEN_BY; recipes.lesson.LESSON): a head
# marked by one is replaced by it whatever its fit. train(written_by=...) was public and took 123, ["x"] and "", and
# stored them (a reviewer, R9): only these names, or None for a head of the caller's own. A recipe names itself
# around its train calls (``written_by_recipe``), no keyword of train's: help(train) showed a private _written_by.
RECIPES = ("lesson",)
_RECIPE: contextvars.ContextVar[str | None] = contextvars.ContextVar("featcache_recipe", default=None)


def _check_written_by(written_by: Any) -> str | None:
    if written_by is None or isinstance(written_by, str) and written_by in RECIPES:
        return written_by
    raise FeatcacheError(f"written_by_recipe names the recipe writing the head, one of: {', '.join(RECIPES)} (got "
                         f"{shown(written_by)}); leave it out for a head of your own")


@contextlib.contextmanager
def written_by_recipe(recipe: str) -> Iterator[None]:
    """Within it, ``train`` writes heads as ``recipe`` (one of ``RECIPES``, for featcache's recipes; no part of the
    API): recorded in the head (``heads.io.WRITTEN_BY``), and a head at ``out`` that the same recipe wrote is
    replaced whatever its fit, any other as without it."""
    token = _RECIPE.set(_check_written_by(recipe))
    try:
        yield
    finally:
        _RECIPE.reset(token)


def _checked_out(out: Any, head: str, force: bool, cache: Cache, written_by: str | None) -> Path | None:
    """train's ``out``, checked before any work: a file name for the head's kind, a Path from here on (one path rule,
    ``validate.check_path``: out=b'h.npz' passed the name's check and was then pathlib's TypeError at Path(out), an
    adversarial tester), a link written through, and refused where it holds what train may not replace."""
    check_file_name(out, "--out", "out", "head" + head_suffix(head))  # 'h.npz/' wrote h.npz (validate.check_file_name)
    if out is None:
        return None
    out = check_path(out, "out", "the head file to write")
    # a link is written through, as > writes and extract's --out is (store.atomic.written_through): --force replaced
    # the link with a plain file, its target left (a tester, 2026-12-05)
    out = written_through(out)
    check_out(out, head, force, cache, written_by=written_by)
    return out


def _default_path(cache: Cache, layer: str, head: str, tag: str | None, n_images: int, seed: int,
                  train_views: tuple[str, ...]) -> Path:
    """train's head file without ``out`` (``default_head_path``), its name checked as a file name can hold it."""
    from featcache.store.layout import check_default_name, made_from

    path = default_head_path(cache, layer, head, tag, n_images, seed, train_views)
    check_default_name(path, "head file name", made_from("data set name", cache.meta.get("dataset") or ""),
                       f"name the head with {given('--out', f'NAME{path.suffix}', repr(f'NAME{path.suffix}'))}")
    return path


def _say_training(head: str, preset: str | None, params: Mapping[str, Any], n_images: int,
                  train_views: tuple[str, ...], layer: str) -> None:
    """The status line before the fit: the head, its settings, images, views and layer. Each value as typed
    (param_text): gamma=1e20 was echoed "gamma=1e+20" (a tester)."""
    settings = ([f"preset {preset}"] if preset else []) + [f"{k}={param_text(v)}" for k, v in params.items()]
    what = f"{head} head" + (f" ({', '.join(settings)})" if settings else "")
    n, alone = len(train_views), without_orig(train_views)  # only:flip: the flipped images alone, said (h137)
    views = f" x {n} view{'s' * (n > 1)} ({n_images * n} rows{without_words(train_views)})" if n > 1 or alone else ""
    status(f"training {'an' if head == 'svm' else 'a'} {what} on {n_images} cached images{views}, layer {layer} ...")


@names_a_head_given_as_a_cache
@checks_switches
def train(
    cache: Cache | str | Path,
    head: str = "keras",
    *,
    train_size: int | None = None,
    seed: int = 0,
    epochs: int | None = None,
    preset: str | None = None,
    C: float | str | None = None,
    layer: str | None = None,
    out: str | Path | None = None,
    verbose: bool = False,
    standardize: bool = False,
    force: bool = False,
    train_views: str | tuple[str, ...] | None = None,
    test_views: str | tuple[str, ...] | None = None,
    params: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Fit ``head`` on the cache's train split (or a stratified subset of ``train_size``), score on test, save.

    Returns a ``TrainResult``: the fitted head (``result.estimator``), its
    test accuracy and timings, and where it was saved (``result.path``). The
    head file (``.keras`` for Keras, ``.npz`` otherwise) carries the cache's
    fingerprint, class names, layer, feature settings, views and the digests
    of its training images (``heads.io``). The same as ``featcache train``.

    ``cache``: a cache's path or an open ``Cache``. ``head``: ``"keras"`` (a
    Dropout -> Dense head), ``"logreg"`` (standardized logistic regression) or
    ``"svm"`` (standardized RBF SVM). ``train_size``: fit on a class-stratified
    subset of this many training images (default: all of them). ``seed``: the
    subset's draw and the head's own randomness (default 0).

    Keras head only: ``preset`` ``"default"`` (the default: up to 200 epochs,
    L2 0.01, early stopping with patience 10) or ``"lesson"`` (5 epochs);
    ``epochs``: at most this many epochs (default: the preset's);
    ``standardize=True``: scale each feature to zero mean and unit variance over
    the training rows first (helps on intermediate layers).
    logreg and SVM only: ``C``, the inverse regularization strength, a number
    from 1e-12 to 1e12 (default: logreg 0.03, SVM 10.0), or ``"cv"`` to pick it
    by 5-fold cross-validation on the training features.

    ``layer``: the cached layer to train on, by its name or its short block name
    (``"block_13"``; default: the cache's default layer).

    ``out``: the head file (default: a name made from the cache and the
    settings under ``runs/heads/`` of ``$FEATCACHE_HOME``, else ``./data``). A file there is replaced only where it is a
    head featcache wrote for the same job (the same data set and kind of head)
    and the same fit (its parameters, layer, train size and train views, and
    its seed where a subset was drawn or the head uses one; one trained on
    another cache of the same data set is replaced too);
    ``force=True`` replaces it whatever it is.

    ``train_views`` (default: every view the cache has): the head is fitted
    on every one of these views of each training image (the subset of
    ``train_size`` is drawn over images). ``test_views`` (default: every view
    the cache has): each test image's prediction averages these views. Both
    take view names (``"orig,flip"``, ``["orig", "flip"]``), ``"only:flip"``
    (without the original) or ``"all"``.

    ``params``: the head's own parameters, ``{"dropout": 0.5}`` (``--param
    dropout=0.5``); any its class takes but those with an option of their own
    (``seed``, ``C``, ``epochs``, ``standardize``). The head file records every
    parameter it was fitted with.

    ``verbose=True`` prints what it trains and the result, and shows the fit's
    progress (default: quiet).
    """
    written_by = _RECIPE.get()  # the recipe writing the head (written_by_recipe), None for a head of the caller's
    seed = check_seed(seed)
    # 50.5 and "50" ended in bare TypeErrors inside the subset's draw (an adversarial tester)
    train_size = None if train_size is None else positive_int(train_size, "--train-size")
    from featcache.store import as_cache  # h5py's import: the CLI's parser imports this module for train's defaults

    cache = as_cache(cache)
    require_splits(cache, "train", "test")
    train_views, test_views = check_views(cache, train_views, "--train-views"), check_views(cache, test_views, "--test-views")
    _check_no_head_prefix(head, params)
    params = parse_params(params)
    est, plain = _build_head(head, preset=preset, epochs=epochs, C=C, seed=seed, n_classes=len(cache.class_names),
                             standardize=standardize, params=params)
    if head == "keras":
        preset = preset or DEFAULT_PRESET
    out = _checked_out(out, head, force, cache, written_by)
    layer = cache.layer(layer, "--layer")  # a short block name (block_13) is its layer; "" is refused, not the default
    cache.features("test", layer, slice(0, 1))  # the test split is there and reads, before any training
    y = cache.labels("train")
    if train_size == cache.sizes["train"]:  # every training image: the rows of no --train-size, recorded as none (a
        train_size = None  # review: a rerun with --train-size of the split's size was "another fit")
    rows = stratified_subset(y, train_size, seed) if train_size is not None else None
    y = y if rows is None else y[rows]
    check_training_labels(y, cache.class_names, est, subset=rows is not None)
    path = out if out is not None else _default_path(
        cache, layer, head, head_tag(head, est, preset, epochs, standardize, _not_defaults(params, plain)),
        len(y), seed, train_views)
    # what train was asked for, recorded with the head: compared before the fit, a refusal costing nothing, and
    # written by save_trained, whose write_head compares it again under the path's lock (one description: fit_meta)
    asked = {"preset": preset, "train_size": train_size, "seed": seed,
             "subset_order": None if train_size is None else CLASSES_FIRST,
             # recorded for every head, null where the user's: a head without the key is one of before 2026-12-05,
             # which the lesson may take for an older lesson's (an adversarial tester: a user's head moved into a
             # lesson folder with its old time was replaced)
             WRITTEN_BY: written_by}
    job = fit_meta(cache, layer, head, est, rows, train_views, **asked)
    check_out(path, head, force, cache, job, out is None)
    check_file_outside_classes(path, cache.photo_root)
    if verbose:
        _say_training(head, preset, params, len(y), train_views, layer)
    # the fit says it runs (heads.views.fit_head): a Keras head's epochs as one bar, any other's a line every so often
    with showing_fits(bars_wanted(verbose), epochs=True):
        scored = fit_and_score(est, cache, layer, train_views, test_views, rows, verbose=verbose)
    fit_seconds, accuracy, orig_accuracy = scored.fit_seconds, scored.accuracy, scored.accuracy_orig
    warn_missing_classes(cache.labels("test"), cache.class_names)
    averaged = averaged_over(est, test_views)
    overlap = test_overlap(est, cache, layer, rows, test_views)
    if overlap is not None:  # as evaluate warns: the accuracy printed and stored is inflated
        from featcache.analysis.evaluate import LeakageWarning, leakage_line

        warn(leakage_line(overlap), LeakageWarning)
    before = read_head_meta(path) if path.exists() else None  # an earlier run's head: said (a new-user tester)
    result = TrainResult(path, head, preset, layer, int(len(y)), scored.test_images, accuracy, fit_seconds,
                         score_seconds=scored.score_seconds, details=_details(est), train_views=train_views,
                         test_views=test_views, averaged=averaged, test_accuracy_orig=orig_accuracy,
                         replaced=before is not None, overlap=overlap, estimator=est)
    # one trained on another cache of the data set (photos added, extracted again): the same job, replaced and said;
    # another data set's or photo folder's (--force) said as that (a review: all were "trained on another cache")
    result.replaced_from = replaced_from(before, job)
    meta = save_trained(est, cache, layer, head, path, rows, train_views, test_views, accuracy, fit_seconds,
                        force=force, default=out is None, **asked, details=result.details,
                        **{TEST_ACCURACY_ORIG: orig_accuracy},
                        **({"test_overlap": {k: overlap[k] for k in ("seen", "images", "unseen_accuracy")}} if overlap else {}))
    result.meta, result.params = meta, params
    if verbose:
        _say_trained(result)
    return result
