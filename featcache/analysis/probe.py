"""probe: which layer transfers. One head per cached layer, scored on images it was not fitted on.

Reads a multi-layer cache (``extract --layers blocks``), fits every requested
head on every cached layer's training features, scores it, and writes a CSV
and a plot of accuracy against depth: a layer's place among every cached
layer, the same when ``layers`` probes some of them (whose report then goes,
by default, to a folder of its own: ``default_out``).

Picking a layer by its test accuracy and then quoting that accuracy flatters
it, so by default probe scores on a stratified, seeded 20% of the training
images (``DEFAULT_HOLDOUT``; fitting on the rest) and never reads the test
split, as ``lesson`` does; ``folds=K`` scores every training image once
instead. ``on_test=True`` scores on the test split: a look, not a choice
(until 2026-12-02 that was the default, and a new user's printed 'best
layer' and train command were chosen on the test images).

On a cache with views (docs/views.md) probe also chooses the view setting:
which views a head is fitted on and which are averaged per scored image
(``heads.views``). The default settings are the original view alone, train
on all views and test the original, and train and test on all views. Held-out
images are drawn over images, and each side then takes its views: a view of
a held-out image is never among the fitted rows.
"""

from __future__ import annotations

import csv
import functools
import io
import numbers
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, NamedTuple, Sequence

import numpy as np

from featcache import paths
from featcache.analysis.plots import SCORED_ON_WORDS, plot_probe
from featcache.errors import FeatcacheError, cli_running, command, example, given, one_line, option, python_text
from featcache.progress import agreeing, counted, status
from featcache.heads import HEADS, check_head_params, make_head, parse_C_per_head, parse_head_params
from featcache.sources.images import check_report_outside_classes
from featcache.store.atomic import output_files, stat_stamp, write_bytes, write_json, written_sha256
from featcache.heads.io import names_a_head_given_as_a_cache
from featcache.validate import (
    ParamLabel,
    checks_switches,
    param_text,
    check_path,
    drop_stale,
    REPORT_DIGESTS,
    check_fraction,
    JOBS_DEFAULT,
    JOBS_NOT_GIVEN,
    check_jobs,
    jobs_alias,
    check_report_files,
    check_seed,
    check_two_per_class,
    check_writable_dir,
    parse_list,
    check_folds,
    recorded_digests,
    report_digests,
    require_splits,
    workers_for,
)

if TYPE_CHECKING:
    from featcache.store import Cache

# scikit-learn and h5py are imported where they are used: the CLI imports this
# module for its defaults (help texts) when it builds its parser.
DEFAULT_HEADS = ("logreg", "svm")
# The lesson's hold-out: 800 of its 4,000 training images score each layer (0.893 on block_13_expand_relu).
DEFAULT_HOLDOUT = 0.2
# The view settings compared where none are given: the original view alone, train on all and test the original,
# train and test on all (a cache without views has the first alone).
DEFAULT_VIEW_SETTINGS = "orig/orig;all/orig;all/all"
DEFAULT_SEED = 0  # which training images are held out (or fall in which fold) where no seed is given
# Parameters probe sets through an option of its own, never through --param.
PROBE_OWN = {"C": "give it with --C (HEAD=C for one head)", "n_classes": "set from the cache's classes"}


def _own_words() -> dict[str, str]:
    """``PROBE_OWN`` in the caller's words: a Python call has C=, not --C (``head_params={'logreg': {'C': 3}}`` was
    told "give it with --C (HEAD=C for one head)")."""
    if cli_running():
        return PROBE_OWN
    return {**PROBE_OWN, "C": "give it with C= (a dict for one head, e.g. C={'logreg': 0.03})"}
CSV_FIELDS = ("depth", "layer", "width", "head", "C", "accuracy", "scored_on", "fit_seconds", "train_views", "test_views")


@dataclass
class ProbeRow:
    depth: int  # position of the layer among all the cached ones (probed or not), input side first
    layer: str
    width: int
    head: str
    C: float | str | None  # the C used (the one picked, for C="cv"); None for heads without C
    accuracy: float
    scored_on: str  # "test", "holdout" (a held-out part of the train split) or "folds" (K-fold over the train images)
    fit_seconds: float  # one fit (with folds: the mean fit); the settings that share train views share it (and its seconds)
    train_views: str = "orig"  # the views fitted on, comma-separated (parse_views reads it back)
    test_views: str = "orig"  # the views averaged per scored image

    @property
    def view_counts(self) -> tuple[int, int]:
        """(train views, test views): what a setting costs, in fits' rows and in forward passes per image."""
        return view_counts(self.train_views, self.test_views)


def view_counts(train_views: str, test_views: str) -> tuple[int, int]:
    from featcache.embedding.views import parse_views

    return len(parse_views(train_views)), len(parse_views(test_views))


@dataclass
class ProbeResult:
    cache: Path
    rows: list[ProbeRow]
    best: ProbeRow
    csv: Path | None = None
    plot: Path | None = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    view_settings: list[tuple[str, str]] = field(default_factory=lambda: [("orig", "orig")])  # (train, test) views
    # What the text output advises, for --json too (a tester found it only in the text): the command that fits the
    # best row on every training image, and a
    # note when the hold-out is too small to choose by.
    train_command: str = ""
    note: str | None = None
    tie: str | None = None  # how best was chosen among rows of its accuracy (tie_note), None when it has none
    # the cache holds the final output alone: the table's note on caching every block (_final_output_only)
    final_only: bool = False

    def text(self) -> str:
        """The table of accuracies by layer and head, the best row and the notes, as ``probe(verbose=True)`` and the CLI
        print them: a Python caller of ``verbose=False`` had no way to it but ``to_dict`` (CurveResult and EvalResult
        have ``text()``; a notebook tester)."""
        return "\n".join([*_table_lines(self.rows, self.best, self.final_only), *filter(None, (self.tie, self.note))])

    def to_dict(self) -> dict[str, Any]:
        return {
            "cache": str(self.cache), "csv": str(self.csv) if self.csv else None, "plot": str(self.plot) if self.plot else None,
            "params": self.params, "best": asdict(self.best), "rows": [asdict(r) for r in self.rows],
            "view_settings": [list(vs) for vs in self.view_settings], "train_command": self.train_command,
            "note": self.note, "tie": self.tie,
        }


parse_C = parse_C_per_head  # the name before featcache.validate


def parse_heads(heads: str | list[str] | tuple[str, ...] | None) -> list[str]:
    from featcache.heads import HEADS

    return list(DEFAULT_HEADS) if heads is None else parse_list(heads, "--heads", known=list(HEADS))


def cached_order(cache: Cache) -> list[str]:
    """Every cached layer, in network order (input side first): a layer's place in it is its ``ProbeRow.depth``."""
    from featcache.embedding.backbones import get_backbone, network_order

    return network_order(get_backbone(cache.meta["backbone"]), list(cache.layers), cache.meta.get("image_size"))


def probe_layers(cache: Cache, layers: str | list[str] | None, order: Sequence[str] | None = None) -> list[str]:
    """The cached layers to probe, in network order (``order``: ``cached_order(cache)``, when known already)."""
    order = list(order) if order is not None else cached_order(cache)
    if layers is None:
        return order
    # full names or probe.png's short ones (Cache.layer), each layer once however it was named
    names = set(cache.layer(name, "--layers") for name in parse_list(layers, "--layers"))
    return [name for name in order if name in names]


def holdout_rows(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, held-out rows) of the train split: a seeded, stratified split."""
    from featcache.analysis.subsets import stratified_order

    fraction = check_fraction(fraction, "--holdout")
    n_classes, n_out = len(np.unique(y)), int(round(fraction * len(y)))
    if len(y) < 2 * n_classes:  # "use a fraction nearer 0.5" of 2 images: 0.5 itself leaves one a side (a review)
        raise FeatcacheError(f"{given('--holdout', str(fraction))}: {no_holdout(len(y), n_classes)}")
    if min(n_out, len(y) - n_out) < n_classes:
        raise FeatcacheError(f"{given('--holdout', str(fraction))} of {len(y)} training images leaves {min(n_out, len(y) - n_out)} on one "
                             f"side, fewer than the classes ({n_classes}); use a fraction nearer 0.5 or a larger cache")
    order = stratified_order(y, seed)
    return np.sort(order[n_out:]), np.sort(order[:n_out])


def no_holdout(n: int, n_classes: int) -> str:
    """Why no hold-out fraction works on ``n`` training images of ``n_classes`` classes (fewer than twice as many
    images as classes), and what would."""
    return (f"a hold-out needs an image of each of the {n_classes} classes on each side, so at least {2 * n_classes} "
            f"training images, and the cache has {n}; no fraction can do that: score on the test split with {option('--on-test')}, "
            "or use a larger cache")


def fold_rows(y: np.ndarray, folds: int, seed: int,
              class_names: Sequence[str] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(fit rows, held-out rows)] of seeded stratified K-fold over the train split's images (one row per image):
    every image is held out exactly once."""
    from sklearn.model_selection import StratifiedKFold

    from featcache.validate import MIN_FOLDS, check_folds, check_two_per_class

    folds = check_folds(folds)
    # no fold count works with 1: "use 2 to 2 folds" sent the user round in a circle (an adversarial tester)
    check_two_per_class(y, option("--folds"), f"score on a hold-out instead (leave out {option('--folds')}, or "
                        f"{option('--holdout')}) or use a larger cache", class_names)
    smallest = int(np.unique(y, return_counts=True)[1].min())
    if folds > smallest:
        raise FeatcacheError(f"{given('--folds', str(folds))} does not fit {len(y)} training images whose smallest class has {smallest}; "
                             f"use {MIN_FOLDS} to {smallest} folds")
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return [(np.sort(a), np.sort(b)) for a, b in splitter.split(np.zeros((len(y), 1)), y)]


def scoring_rows(y: np.ndarray, holdout: float | None, folds: int | None, seed: int,
                 class_names: Sequence[str] | None = None) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The (fit rows, scored rows) pairs of the train split, drawn over images; None: fit all, score the test split."""
    if holdout is not None and folds is not None:
        raise FeatcacheError(f"{option('--holdout')} and {option('--folds')} both choose the scored training images; give one "
                             "of them")
    if folds is not None:
        return fold_rows(y, folds, seed, class_names)
    return None if holdout is None else [holdout_rows(y, holdout, seed)]


@dataclass(frozen=True)
class Scoring:
    """What probe scores its fits on, checked and drawn once before any fit and passed to every job.

    ``splits``: None scores on the test split; else the (fit rows, scored rows) pairs of the train split
    (``scoring_rows``: one pair for ``holdout``, one per fold for ``folds``), drawn over images with ``seed``.
    """

    holdout: float | None = None
    seed: int = 0
    folds: int | None = None
    splits: tuple[tuple[np.ndarray, np.ndarray], ...] | None = field(default=None, compare=False, repr=False)

    @property
    def scored_on(self) -> str:
        """The ``ProbeRow.scored_on`` of its rows."""
        return "folds" if self.folds is not None else "test" if self.holdout is None else "holdout"


Views = tuple[str, ...]
Setting = tuple[Views, Views]  # (train views, test views)


@dataclass(frozen=True)
class ProbePlan:
    """What one probe fits, checked before any fit (``_settings``): the heads and their parameters, the layers to
    probe (network order), the drawn ``Scoring`` and every cached layer's depth (its place among them in network
    order). One object from the checks to the fits and the report, where five arguments went through each."""

    heads: list[str]
    params: dict[str, dict[str, Any]]
    layers: list[str]
    scoring: Scoring
    depths: dict[str, int]
    given: dict[str, dict[str, Any]] = field(default_factory=dict)  # each head's parameters as the user gave them


def parse_view_settings(cache: Cache, settings: str | list | None) -> list[Setting]:
    """The (train views, test views) settings to probe, each checked against the cache's views; duplicates dropped.

    ``settings``: ``"TRAIN/TEST;TRAIN/TEST"`` (each side ``parse_views``
    syntax or ``all``), a list of such strings or of (train, test) pairs, or
    None: the original view alone, then (when the cache has views) train on
    all and test the original, and train and test on all.
    """
    from featcache.validate import check_views

    out: list[Setting] = []
    for train, test in view_pairs(settings):
        # only:VIEWS refused: a setting's views are written back as names (probe.csv, the train command it suggests),
        # which read as the original and those views (h137)
        s = (check_views(cache, train, "--view-settings", only=False), check_views(cache, test, "--view-settings", only=False))
        if s not in out:
            out.append(s)
    return out


def _view_settings_form() -> str:
    """What --view-settings takes, in the words of who gives it."""
    return (f"{option('--view-settings')} takes TRAIN/TEST pairs separated by ';' (e.g. "
            f"{example('--view-settings', DEFAULT_VIEW_SETTINGS)})")


def view_pairs(settings: str | Sequence[Any] | None) -> list[list[Any]]:
    """``parse_view_settings``' (train, test) pairs as given, their form checked: what needs no cache (a
    ``ProbeSpec`` checks it when made)."""
    from featcache.validate import list_items

    form = _view_settings_form()
    if settings is None:
        settings = DEFAULT_VIEW_SETTINGS
    # view_settings=5 was "'int' object is not iterable" (an adversarial tester): the list's rule, said in its words
    items = settings.split(";") if isinstance(settings, str) else list_items(settings, "--view-settings", form)
    pairs = []
    for item in items:
        pair = item.split("/") if isinstance(item, str) else list_items(item, "--view-settings", form)
        if len(pair) != 2 or not all(str(p).strip() for p in pair):
            raise FeatcacheError(f"{form}, got {item!r}")
        pairs.append(pair)
    return pairs


def _views_text(views: Views) -> str:
    return ",".join(views)


def _opened(path: Path) -> Cache:
    """The cache at ``path``, opened once per process (this one, or a joblib worker) for every fit of a probe.

    An open Cache checks each feature dataset's chunks and its digest on its first read of it (the digest
    reads and hashes the whole layer: docs/cache-format.md), so one Cache per fit paid both again for every
    head on the layer. Keyed by the file's identity: a cache extracted again under the same name is opened
    again; one that cannot be looked at is left to ``open_cache`` to explain.
    """
    from featcache.store import open_cache

    try:
        st = os.stat(path)
    except OSError:
        return open_cache(path)
    return _open_cached(str(path), stat_stamp(st, ctime=False))


@functools.lru_cache(maxsize=2)
def _open_cached(path: str, stamp: tuple[int, ...]) -> Cache:
    from featcache.store import open_cache

    return open_cache(path)


class FoldFit(NamedTuple):
    """One fit of a job (a head on a layer on one set of training views): on one pair of ``Scoring.splits``, or on
    the whole train split scored on the test split."""

    accuracies: list[float]  # with each test view setting averaged per scored image
    scored: int  # the images it scored
    C: float | str | None
    seconds: float  # the fit's


def _fit_one(path: Path, layer: str, head_name: str, params: dict[str, Any],
             splits: tuple[tuple[np.ndarray, np.ndarray], ...] | None, train_views: Views = ("orig",),
             tests: tuple[Views, ...] = (("orig",),), sealed_as: tuple[Any, ...] = (), fold: int | None = None,
             fitted: Callable[[], None] | None = None) -> list[FoldFit]:
    """Fit one head on ``train_views`` of the fit images, each fit scored with each of ``tests`` averaged: one
    ``FoldFit`` per fit, in fold order (``combined`` makes the job's accuracy, C and seconds of them).

    ``splits`` (``Scoring.splits``): None fits every training image and scores the test split; else each
    (fit rows, scored rows) pair, drawn over images, on which each side takes its views; ``fold``: that pair alone
    (a worker's task), else every one. ``fitted`` is called after each fit: the progress bar moves per fit, where it
    moved per job, and a job of 5 folds on a 4-view cache read "1/4" for minutes (a new user). ``sealed_as``: the
    probed cache's (``Cache.sealed_as``); a cache moved over it during the run is refused, not fitted.
    """
    cache = _opened(path)
    if sealed_as:
        cache.check_same(sealed_as, "probe")
    y = cache.labels("train")
    needed = tuple(v for v in cache.views if v in set(train_views).union(*tests))  # each view read once
    Xv = cache.view_features("train", layer, needed)
    fit_views_at = [needed.index(v) for v in train_views]
    test_views_at = [[needed.index(v) for v in test] for test in tests]
    if splits is None:
        Xt, yt = cache.view_features("test", layer, needed), cache.labels("test")
        acc, C, seconds = _fit_and_score(head_name, params, Xv[fit_views_at], y, [Xt[p] for p in test_views_at], yt)
        if fitted is not None:
            fitted()
        return [FoldFit(acc, len(yt), C, seconds)]
    # The view selections are copies (fancy indexing): made once, not once per fold.
    X, Xs = Xv[fit_views_at], [Xv[p] for p in test_views_at]
    fits = []
    for fit, out in splits if fold is None else splits[fold:fold + 1]:
        acc, C, seconds = _fit_and_score(head_name, params, X[:, fit], y[fit], [Xt[:, out] for Xt in Xs], y[out])
        fits.append(FoldFit(acc, len(out), C, seconds))
        if fitted is not None:
            fitted()
    return fits


def combined(fits: Sequence[FoldFit], folded: bool) -> tuple[list[float], float | str | None, float]:
    """A job's (accuracy with each test setting, C, fit seconds) from its ``fits`` in fold order. ``folded``: fits
    on ``Scoring.splits``, whose accuracy counts every scored image once, C is the last fold's and seconds the mean
    fit; else the one fit on the test split, as it is."""
    if not folded:
        return fits[0].accuracies, fits[0].C, fits[0].seconds
    correct, seconds = np.zeros(len(fits[0].accuracies)), 0.0
    for f in fits:
        correct += np.asarray(f.accuracies) * f.scored
        seconds += f.seconds
    return list(correct / sum(f.scored for f in fits)), fits[-1].C, seconds / len(fits)


def _fit_and_score(head_name: str, params: dict[str, Any], X: np.ndarray, y: np.ndarray, tests: list[np.ndarray],
                   yt: np.ndarray) -> tuple[list[float], float | str | None, float]:
    """Fit one head on the stacked views ``X`` (V, n, D); its accuracy on each of ``tests``, its C, the fit's seconds."""
    from threadpoolctl import threadpool_limits

    from featcache.heads import load_backend, make_head
    from featcache.heads.views import fit_views, score_views

    head = make_head(head_name, **params)
    load_backend(head)  # not in the fit's seconds
    t = time.perf_counter()
    # One BLAS thread per fit; parallelism comes from running fits side by
    # side (n_jobs). On this shared 2-core machine OpenBLAS's own threads made
    # a logistic-regression fit 20x slower (47 s against 1.7 s, under load).
    with threadpool_limits(1, user_api="blas"):
        fit_views(head, X, y)
        seconds = time.perf_counter() - t
        accuracies = [score_views(head, Xt, yt) for Xt in tests]
    return accuracies, getattr(head, "C_", params.get("C")), seconds


@names_a_head_given_as_a_cache
@checks_switches
def probe(
    cache: str | Path | Cache,
    *,
    heads: str | list[str] | None = None,
    C: str | float | dict[str, Any] | None = None,
    layers: str | list[str] | None = None,
    out: str | Path | None = None,
    holdout: float | None = None,
    seed: int | None = None,
    jobs: int = JOBS_NOT_GIVEN,
    plot: bool = True,
    verbose: bool = False,
    view_settings: str | list | None = None,
    folds: int | None = None,
    on_test: bool = False,
    n_jobs: int | None = None,
    head_params: Mapping[str, Mapping[str, Any]] | Sequence[str] | None = None,
) -> ProbeResult:
    """Fit each head on each cached layer (train split) and score it on images it was not fitted on.

    ``heads``: names from ``HEADS`` (default logreg and svm, each with its own
    default C); ``C``: one value for every head, or per head
    (``{"logreg": 0.03, "svm": 10}``; ``"cv"`` picks it by cross-validation on the
    training rows; a number is a number, never its text). ``layers``: the cached layers to probe, by name or short
    block name (default: every layer the cache holds). ``holdout``: score on
    that stratified fraction of the train split (seeded by ``seed``, default 0;
    drawn over images; 0.2 when neither it nor ``folds`` is given); ``folds``: score every training
    image once by that many stratified folds over the images instead (not
    with ``holdout``); ``on_test``: score on the test split instead (a look
    at how the layers compare there; a layer chosen by it flatters its test
    accuracy; it holds out nothing, so it takes no ``seed``). ``view_settings`` (``parse_view_settings``): on a cache with views,
    the (train views, test views) settings to compare; settings with the same
    train views share one fit. Writes ``probe.csv``, ``probe.png`` and ``probe.json`` into
    ``out`` (default: ``default_out``, ``data/runs/probe_<cache name>/``; a probe of some of the cached layers,
    ``probe_<cache name>_<k>layers_<6 hex>/``). Each row's depth is its layer's place among every cached layer,
    whichever are probed. ``plot=False`` draws no probe.png. Prints the table only
    when ``verbose``. ``jobs``: fits side by side (joblib processes; the CLI's --jobs); ``n_jobs``: the same
    setting under scikit-learn's name (give one of them), as ``learning_curve``'s.
    ``head_params``: heads' own parameters, ``{"logreg": {"max_iter":
    5000}}`` or ``["logreg.max_iter=5000"]`` (``--param``; C is given with ``C``). The settings build a
    ``ProbeSpec``; ``run_probe(spec, cache, out)`` does the same from one.
    """
    spec = ProbeSpec(heads, C, layers, holdout, seed, folds, on_test, view_settings, head_params, jobs_alias(jobs, n_jobs))
    return run_probe(spec, cache, out, plot=plot, verbose=verbose)


@dataclass(frozen=True)
class ProbeSpec:
    """The settings of one probe: ``probe``'s keywords but the cache, ``out``, ``plot`` and ``verbose`` (its
    ``jobs`` the one ``jobs``/``n_jobs`` gave: ``validate.jobs_alias``). Checked when made, as every frozen settings
    object of featcache is (one line naming the keyword, or its flag under the CLI): all that needs no cache, in
    probe's order (``_checked_spec``); what needs one (its layers, views, labels and splits) when run
    (``_settings``, ``parse_view_settings``). Kept as checked and hashable: ``heads`` a tuple of names, ``C`` and
    ``head_params`` ``FrozenMap``s of each head's (``{'logreg': 0.03}``, ``{'logreg': {'max_iter': 5000}}``), the
    numbers as numbers, ``layers`` a tuple of names and ``view_settings`` a tuple of (train, test) pairs, however
    given (``layers='a,b'`` equal to ``layers=['a', 'b']``). ``probe``'s keywords build
    one; ``run_probe(spec, cache)`` runs one, as ``learning_curve``'s keywords build a ``CurveSpec`` for
    ``run_curve``."""

    heads: str | Sequence[str] | None = None
    C: str | float | Mapping[str, Any] | None = None
    layers: str | Sequence[str] | None = None
    holdout: float | None = None
    seed: int | None = None
    folds: int | None = None
    on_test: bool = False
    view_settings: str | Sequence[Any] | None = None
    head_params: Mapping[str, Mapping[str, Any]] | Sequence[str] | None = None
    jobs: int = JOBS_DEFAULT

    def __post_init__(self) -> None:
        for name, value in _checked_spec(self).items():
            object.__setattr__(self, name, value)


def _checked_spec(spec: ProbeSpec) -> dict[str, Any]:
    """``spec``'s fields checked and kept as checked, in probe's order (its switch, heads, C, their parameters, the
    seed, the scoring, the view settings' form, the jobs): ProbeSpec(holdout="0.2"), ProbeSpec(holdout=2) and
    ProbeSpec(head_params={'logreg': {'max_iter': 0}}) were made, and refused only when run (helper-281's brief),
    and a ProbeSpec holding dicts was no hashable settings object."""
    from featcache.validate import SWITCH_WHY, FrozenMap, check_bool, frozen

    on_test = check_bool(spec.on_test, "on_test", SWITCH_WHY.get("on_test", ""))
    heads = tuple(parse_heads(spec.heads))
    Cs = parse_C_per_head(spec.C.thawed() if isinstance(spec.C, FrozenMap) else spec.C, heads)
    given = parse_head_params(spec.head_params.thawed() if isinstance(spec.head_params, FrozenMap) else spec.head_params,
                              heads, own=_own_words())
    if on_test and spec.seed is not None:
        # refused, as train refuses an option its head does not use: --on-test --seed 5 ran, and its seed was
        # recorded as a choice that changed nothing (an adversarial tester)
        seed_, on_test_ = option("--seed"), option("--on-test")
        raise FeatcacheError(f"{seed_} picks the held-out training images ({option('--holdout')}, {option('--folds')}); "
                             f"{on_test_} scores on the test split and holds out none: drop {seed_}, or {on_test_}")
    seed = None if spec.seed is None else check_seed(spec.seed)
    # Kept as checked: holdout stayed as given past its check, a TypeError in the hold-out note for a str (an
    # adversarial tester); a number's text is refused (validate._text_for_number), as a command's is read
    holdout = None if spec.holdout is None else check_fraction(spec.holdout, "--holdout")
    folds = None if spec.folds is None else check_folds(spec.folds)
    if on_test and (holdout is not None or folds is not None):
        raise FeatcacheError(f"{option('--on-test')} scores on the test split, {option('--holdout')} and {option('--folds')} on "
                             "training images; give one of them")
    for h in heads:  # each head's parameters as probe fits them (a pair that disagrees named as given: head_params[...])
        check_head_params(HEADS[h](**_fit_params(h, given, Cs)), ParamLabel.of_option("--param", "head_params", h))
    # Kept parsed, however given, so equal settings compare (and hash) equal: layers='a,b' was kept as the str and
    # layers=['a', 'b'] as a tuple, view_settings='orig/orig' as the str and [('orig', 'orig')] as pairs (a review).
    # The layers' names and the views are the cache's (probe_layers, parse_view_settings).
    layers = None if spec.layers is None else tuple(parse_list(spec.layers, "--layers"))
    view_settings = spec.view_settings
    if view_settings is not None:
        view_settings = frozen([[side.strip() if isinstance(side, str) else side for side in pair]
                                for pair in view_pairs(view_settings)])
    return {"heads": heads, "C": FrozenMap(Cs) if Cs else None, "layers": layers, "holdout": holdout, "seed": seed,
            "folds": folds, "on_test": on_test, "view_settings": view_settings,
            "head_params": FrozenMap(given) if given else None, "jobs": check_jobs(spec.jobs)}


def _fit_params(head: str, given: Mapping[str, Mapping[str, Any]], Cs: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters probe fits ``head`` with: its probe defaults, then those given, then its C."""
    return {**probe_defaults(head), **given.get(head, {}), **({"C": Cs[head]} if head in Cs else {})}


@checks_switches  # plot and verbose, as probe's (plot='no' drew the plot)
def run_probe(spec: ProbeSpec, cache: str | Path | Cache, out: str | Path | None = None, *, plot: bool = True,
              verbose: bool = False) -> ProbeResult:
    """``probe`` of a ``ProbeSpec``: its settings checked on the cache (``ProbePlan``), the report's folder checked,
    then the fits and the report written there (``_probe_into``); a report left half-written goes again."""
    from featcache.store import as_cache

    if not isinstance(spec, ProbeSpec):
        raise FeatcacheError(f"spec must be a ProbeSpec, not {type(spec).__name__}; pass e.g. ProbeSpec(heads='logreg')")
    cache = as_cache(cache)
    plan = _settings(cache, spec)
    if spec.on_test:
        _warn_scored_on_test(cache)
    settings = parse_view_settings(cache, spec.view_settings)
    n_jobs = spec.jobs
    out_dir = _report_dir(out, cache, spec.on_test, plan.layers)
    # A full disk, a failed fit or Ctrl-C: what was written of the report and the folders made for it go again.
    with output_files(out_dir, report_files(out_dir)):
        check_writable_dir(out_dir)  # before any fit: an unwritable --out must not cost the fits
        kept = check_report(out_dir)
        return _probe_into(out_dir, cache, plan, settings, n_jobs, plot, verbose, kept)


def _warn_scored_on_test(cache: Cache) -> None:
    """Scored on the test split: its copies of training images are scored as unseen, and a class it lacks is
    unscored (said, as train says)."""
    from featcache.analysis.evaluate import warn_if_splits_overlap
    from featcache.analysis.subsets import warn_missing_classes

    warn_if_splits_overlap(cache, "probe --on-test")
    warn_missing_classes(cache.labels("test"), cache.class_names)


def _report_dir(out: str | Path | None, cache: Cache, on_test: bool, layers: list[str]) -> Path:
    """The report's folder, ``out`` or ``default_out``'s, checked: never inside the cache's photo folder."""
    # On the test split gets its own default folder: its flattering choice must not replace the honest one (a new user)
    # A probe of some of the cached layers too: the full probe's folder holds the full probe (a new user)
    # "" is refused, as evaluate, curve, train and export refuse it (an adversarial tester: 'probe --out ""' wrote to
    # the default folder, where '--out "$DIR"' with DIR unset is a mistake); a number or a list is one line too
    out_dir = (check_path(out, "out", "a folder for probe's report") if out is not None
               else default_out(cache, on_test, layers))
    check_report_outside_classes(out_dir, cache.photo_root)
    return out_dir


def _probe_into(out_dir: Path, cache: Cache, plan: ProbePlan, settings: list[Setting], n_jobs: int, plot: bool,
                verbose: bool, kept: Mapping[str, str] | None = None) -> ProbeResult:
    """The fits of ``plan`` (``probe``'s inputs, checked), then its table and plot written into ``out_dir``, and
    probe.json last with the SHA-256 of both (and of ``kept``: ``check_report``'s, a plot left from before and
    unchanged)."""
    head_names, params, names, scoring = plan.heads, plan.params, plan.layers, plan.scoring
    trains = list(dict.fromkeys(tr for tr, _ in settings))
    jobs = [(layer, h, tr, tuple(te for t, te in settings if t == tr)) for layer in names for h in head_names for tr in trains]
    if verbose:
        # the bar counts fits: a head on a layer on one set of training views (each scored on every test setting of
        # them: "x 3 view settings" above a bar of 4 read as a miscount, a new-user tester), on each fold
        what = f" x {counted(len(settings), 'view setting')}" if len(settings) > 1 else ""
        per_fold = f", {len(jobs)} x {scoring.folds} folds" if scoring.folds else ""
        fits = (f"; {counted(len(jobs) * (scoring.folds or 1), 'fit')}{per_fold}"
                if scoring.folds or len(jobs) != len(names) * len(head_names) * len(settings) else "")
        status(one_line(f"probing {counted(len(names), 'layer')} x {counted(len(head_names), 'head')}{what} on {cache.path} ({_scoring(cache, scoring)}{fits})"))
    results = _run_jobs(cache, jobs, params, scoring, n_jobs, verbose)
    rows = _rows(results, names, head_names, settings, cache.meta.get("layer_widths", {}), scoring.scored_on, plan.depths)
    best = best_row(rows)
    result = ProbeResult(cache.path, rows, best, params=params, view_settings=[(_views_text(a), _views_text(b)) for a, b in settings],
                         train_command=train_command(cache.path, best, cache.views, _train_params(params, best.head, plan.given)),
                         note=small_holdout_note(cache.sizes["train"], scoring), tie=tie_note(rows, best),
                         final_only=_final_output_only(cache))
    # The folder checked again after the fits, as at the start: a probe.csv or probe.png the user saved there during
    # the run was replaced or, with plot=False, deleted (an adversarial tester)
    kept = check_report(out_dir)
    result.csv = write_bytes(out_dir / "probe.csv", _csv_text(rows).encode())
    if plot:
        result.plot = plot_probe(rows, best, out_dir / "probe.png", title=_title(cache, scoring),
                                 backbone=cache.meta["backbone"])
    else:
        kept = drop_stale(out_dir / "probe.png", kept)
    write_json(out_dir / "probe.json", {**result.to_dict(), "cache_abspath": os.path.abspath(cache.path),
                                        "cache_fingerprint": cache.meta.get("fingerprint"),
                                        REPORT_DIGESTS: report_digests([p for p in (result.csv, result.plot) if p], kept,
                                                                        written_sha256)})
    if verbose:
        print(result.text())
        # the call in a Python call's words: it was the command, "featcache train CACHE --head logreg ..." (a tester)
        how = option(result.train_command, train_call(cache.path, best, cache.views, _train_params(params, best.head, plan.given)))
        print(one_line(f"fit it on every training image: {how}{_probe_only_note(best.head, params, plan.given)}"))
        written = [str(p) for p in (result.csv, result.plot, out_dir / "probe.json") if p]  # probe.json too (a new user)
        print(one_line(f"wrote {', '.join(written[:-1])} and {written[-1]}"))
    return result


def _rows(results: dict, names: list[str], head_names: list[str], settings: list[Setting], widths: dict, scored_on: str,
          depths: Mapping[str, int]) -> list[ProbeRow]:
    """One row per layer, head and view setting (in that order), from the fits of ``_run_jobs``; each row's depth is
    its layer's place among every cached layer (``depths``), whichever of them are probed: ``--layers
    block_13,out_relu`` wrote depths 0 and 1 where the full probe writes 12 and 16 (a new user)."""
    rows = []
    for layer in names:
        for h in head_names:
            for train, test in settings:
                accuracies, C, seconds = results[(layer, h, train)]
                acc = accuracies[[te for tr, te in settings if tr == train].index(test)]
                rows.append(ProbeRow(depths[layer], layer, int(widths.get(layer, 0)), h, C, round(float(acc), 6), scored_on,
                                     round(seconds, 3), _views_text(train), _views_text(test)))
    return rows


# How best_row breaks a tie of accuracy, in order (one home: best_row ranks by it, tie_note says which of it decided):
# (what the note calls it, a key whose larger value wins, what the chosen row has). Fewer test views first: each is a
# forward pass per image at prediction; then fewer rows to fit; then the shallower layer (the truncated network is
# then smaller and faster). Rows still tied keep the first: the head listed first, then the view setting listed first.
_TIE_BREAKS = (
    ("the fewest test views", lambda r: -r.view_counts[1], lambda r: f"{r.view_counts[1]}: {r.test_views}"),
    ("the fewest train views", lambda r: -r.view_counts[0], lambda r: f"{r.view_counts[0]}: {r.train_views}"),
    ("the shallowest layer", lambda r: -r.depth, lambda r: r.layer),
)


def best_row(rows: list[ProbeRow]) -> ProbeRow:
    """The most accurate row. Ties go to the cheaper view setting (fewer views averaged per image, then fewer
    fitted), then to the shallower layer, then to the earlier head and view setting in the order asked for
    (``_TIE_BREAKS``)."""
    return max(rows, key=lambda r: (r.accuracy, *(key(r) for _, key, _ in _TIE_BREAKS)))  # max keeps the first of equals


def tie_note(rows: Sequence[ProbeRow], best: ProbeRow) -> str | None:
    """What decided ``best`` (``best_row(rows)``) when other rows scored the same, else None: probe chose block_15
    with 1 test view over block_13 and block_14 at the same 0.8650 and did not say why (a new-user tester, who read
    "ties go to the shallower layer" in the docs)."""
    tied = [r for r in rows if r.accuracy == best.accuracy]
    n = len(tied)
    if n < 2:
        return None
    steps = []
    for name, key, shown in _TIE_BREAKS:
        top = max(key(r) for r in tied)
        kept = [r for r in tied if key(r) == top]
        if len(kept) < len(tied):
            steps.append(f"{name} ({shown(best)})")
        tied = kept
    if len({r.head for r in tied}) > 1:
        steps.append(f"the head listed first ({best.head})")
        tied = [r for r in tied if r.head == best.head]
    if len(tied) > 1:
        steps.append(f"the view setting listed first ({best.train_views}/{best.test_views})")
    return f"{n} settings tied at {best.accuracy:.4f}; chose the one with " + ", then ".join(steps)


def _train_params(params: Mapping[str, Mapping[str, Any]], head: str,
                  given: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The parameters of ``head`` in the probe that train must be given (``--param``): those the user set, not
    probe's own (``probe_defaults``) nor C (``--C``)."""
    # one of probe's own the user gave (--param svm.probability=false) is theirs: it was dropped, and the line said
    # probe had set it "for speed" (a tester)
    mine = (given or {}).get(head, {})
    return {k: v for k, v in params.get(head, {}).items() if k != "C" and (k not in probe_defaults(head) or k in mine)}


def _probe_only_note(head: str, params: Mapping[str, Mapping[str, Any]],
                     given: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """What the suggested train command fits otherwise than probe did (``probe_defaults`` the user did not set):
    train's SVM calibrates its probabilities, which probe skips, and scored 0.8627 where probe's row said 0.8637
    (an adversarial tester), so the line says the accuracy may differ rather than promise the row's."""
    from featcache.heads import HEADS

    fitted, defaults = params.get(head, {}), HEADS[head]().get_params()
    mine = (given or {}).get(head, {})
    skipped = {k: v for k, v in probe_defaults(head).items() if fitted.get(k) == v and defaults.get(k) != v and k not in mine}
    fitted_with = ", ".join(option(f"{k}={param_text(v)}", f"{k}={_python_value(v)}") for k, v in skipped.items())
    return (f" (probe fitted it with {fitted_with} for speed, train with its "
            "default: the accuracy may differ a little)") if skipped else ""


def probe_defaults(head: str) -> dict[str, Any]:
    """What a head's class sets for probe's fits (``probe_params``; the SVM skips its probability calibration)."""
    from featcache.heads import HEADS

    return dict(getattr(HEADS[head], "probe_params", {}))


def train_command(cache: str | Path, row: ProbeRow, cache_views: Sequence[str] = ("orig",),
                  params: Mapping[str, Any] | None = None) -> str:
    """The ``featcache train`` command that fits ``row``'s layer, head, C, views and ``params`` (the head's own
    parameters the probe was given: without them the command trained another head than the row's) on every
    training image.

    ``cache_views``: the views the cache holds. On a cache of the original view alone no views flags are printed
    (they puzzled a user); on any other both are, always: train's default is every cached view, so a best row of
    orig/orig printed without them trained on every view instead (a new user).
    """
    from featcache.analysis.train import set_by_train
    from featcache.errors import shell_path, shell_word

    # each value as --param types it (param_text): '--C 10000000000.0', 'gamma=1e+20', 'probability=False' (a tester); a
    # --param value typed, so that train reads it back as the same type (cache_size=500.0 is a float, 500 a whole number)
    C = f" --C {param_text(row.C)}" if row.C is not None else ""
    views = ("" if tuple(cache_views) == ("orig",)
             else f" --train-views {shell_word(row.train_views)} --test-views {shell_word(row.test_views)}")
    own, given = "", ""
    for k, v in (params or {}).items():
        if k in TRAIN_OPTIONS and set_by_train(row.head, k):  # train refuses these as --param: its option, or none
            option = TRAIN_OPTIONS[k]
            own += "" if option is None or v is False else f" {option}" if v is True else f" {option} {shell_word(param_text(v))}"
        else:
            given += f" --param {shell_word(f'{k}={param_text(v, typed=True)}')}"
    return f"featcache train {shell_path(str(cache))} --head {row.head} --layer {row.layer}{C}{own}{given}{views}"


def train_call(cache: str | Path, row: ProbeRow, cache_views: Sequence[str] = ("orig",),
               params: Mapping[str, Any] | None = None) -> str:
    """``train_command``'s fit as a Python call, ``featcache.train('c.h5', 'logreg', layer='block_13', C=0.03)``: what
    a probe called from Python suggests (its verbose line gave the command, in a Python session; a new-user tester).
    Each option and parameter as ``train_command`` gives it: train's own options as its keywords, the rest in
    ``params``, the views where the cache has more than the original one."""
    from featcache.analysis.train import set_by_train

    args = [repr(str(cache)), repr(row.head), f"layer={row.layer!r}"]
    args += [f"C={_python_value(row.C)}"] if row.C is not None else []
    others = {}
    for k, v in (params or {}).items():
        if k in TRAIN_OPTIONS and set_by_train(row.head, k):  # train's keyword, as train_command's option
            if TRAIN_OPTIONS[k] is not None and v is not False:
                args.append(f"{k}={_python_value(v)}")
        else:
            others[k] = v
    if others:
        args.append("params={" + ", ".join(f"{k!r}: {_python_value(v)}" for k, v in others.items()) + "}")
    if tuple(cache_views) != ("orig",):
        args += [f"train_views={row.train_views!r}", f"test_views={row.test_views!r}"]
    return f"featcache.train({', '.join(args)})"


def _python_value(value: Any) -> str:
    """A parameter's value as a Python call writes it: a number as ``param_text`` shows it (``10``, ``1e+20``), any
    other value as Python's repr (``True``, ``None``, ``'scale'``)."""
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        return python_text(param_text(value))
    return repr(value.item() if isinstance(value, np.generic) else value)


# A head parameter probe takes as --param that train gives with an option of its own (analysis.train.OWN_FLAGS):
# the option the suggested command writes it with; None: train sets it itself (n_classes from the cache). A
# probe's --param logreg.seed=3 suggested 'train --param seed=3', which train refuses.
TRAIN_OPTIONS: dict[str, str | None] = {"seed": "--seed", "epochs": "--epochs", "standardize": "--standardize",
                                        "n_classes": None}


def _settings(cache: Cache, spec: ProbeSpec) -> ProbePlan:
    """The ``ProbePlan`` of ``spec`` (checked when made) on ``cache``; refuses what the cache cannot do before any fit."""
    head_names = list(spec.heads)
    Cs = dict(spec.C or {})
    given = spec.head_params.thawed() if spec.head_params else {}
    seed = DEFAULT_SEED if spec.seed is None else spec.seed
    holdout, folds, on_test = spec.holdout, spec.folds, spec.on_test
    default_holdout = not on_test and folds is None and holdout is None
    if default_holdout:
        holdout = DEFAULT_HOLDOUT
    on_train = not on_test
    require_splits(cache, *(("train",) if on_train else ("train", "test")),
                   why=f"probe needs {'a train split' if on_train else 'train and test splits with ' + option('--on-test')}")
    # Drawn here, once: bad fractions or folds fail before any fit, and every job scores on these same rows.
    try:
        splits = scoring_rows(cache.labels("train"), holdout, folds, seed, cache.class_names) if on_train else None
    except FeatcacheError as exc:
        if not default_holdout:
            raise
        # the user gave no --holdout: say what probe did by default, and every way out (a review)
        y = cache.labels("train")
        if len(y) < 2 * len(np.unique(y)):  # no --holdout would do either
            raise FeatcacheError(f"probe holds out {DEFAULT_HOLDOUT:.0%} of the training images by default; "
                                 f"{no_holdout(len(y), len(np.unique(y)))}") from None
        raise FeatcacheError(f"probe holds out {DEFAULT_HOLDOUT:.0%} of the training images by default, and of these "
                             f"{cache.sizes['train']} that leaves too few for every class ({exc}); pass "
                             f"{option('--holdout 0.5', 'holdout=0.5')}, {option('--folds K', 'folds=K')}, or "
                             f"{option('--on-test')}") from None
    scoring = Scoring(holdout, seed, folds, None if splits is None else tuple(splits))
    order = cached_order(cache)
    names = probe_layers(cache, spec.layers, order)
    # each head's parameters checked when the spec was made (_checked_spec): a value it refuses is one line, not a
    # traceback from the first fit
    params = {h: _fit_params(h, given, Cs) for h in head_names}
    check_fit_rows(cache, {h: make_head(h, **params[h]) for h in head_names}, scoring)
    return ProbePlan(head_names, params, names, scoring, {layer: order.index(layer) for layer in order},
                     {h: dict(given.get(h, {})) for h in head_names})


def check_fit_rows(cache: Cache, heads: Mapping[str, Any], scoring: Scoring) -> None:
    """A head whose fit splits its rows into folds (``--C cv``) needs 2 images of every class among the images each
    fit is given, which the hold-out or every fold leaves: refused here, before any fit (a ValueError from the
    first fit before; a review). ``heads``: each head by name, made with the parameters probe fits it with."""
    from featcache.heads import fold_reason

    from featcache.analysis.subsets import check_two_classes

    y = cache.labels("train")
    fits = [y] if scoring.splits is None else [y[fit] for fit, _ in scoring.splits]
    for y_fit in fits:
        check_two_classes(y_fit, "training images each fit is given" if scoring.splits else "training images in the cache")
    for head in heads.values():
        reason = fold_reason(head)
        if not reason:
            continue
        if scoring.folds is not None:
            needs = f"{reason} in each of the {option(f'--folds {scoring.folds} fits', f'{scoring.folds} folds')}"
            fix = f"use more {option('--folds')}, pass a number for {option('--C')}, or {option('--on-test')}"
        elif scoring.splits is not None:
            needs, fix = (f"{reason} on the images {option(f'--holdout {scoring.holdout}', f'holdout={scoring.holdout}')} "
                          "leaves to fit", f"hold out fewer images, pass a number for {option('--C')}, or use "
                          f"{option('--on-test')}")
        else:
            needs, fix = reason, f"pass a number for {option('--C')}, or use a larger cache"
        for y_fit in fits:
            check_two_per_class(y_fit, needs, fix, cache.class_names)


def _run_jobs(cache: Cache, jobs, params, scoring: Scoring, n_jobs: int, verbose: bool) -> dict:
    """``{(layer, head, train views): combined(...)}`` for jobs ``(layer, head, train views, test view settings)``,
    each scored on ``scoring.splits``. The work is counted in fits, each job's folds (or its one hold-out or
    test-split fit) apart: with --folds a step was a job's K fits, and a 5-fold probe of a 4-view cache's view
    settings showed "1/4" for minutes of an 8-minute run (a new user). Workers (``n_jobs``) take one fold each."""
    from featcache.progress import Progress, bars_wanted, showing_fits

    folds = len(scoring.splits) if scoring.splits is not None else 1
    bar = Progress(len(jobs) * folds, unit="fit") if bars_wanted(verbose) else None
    path, sealed, folded = cache.path, cache.sealed_as, scoring.splits is not None
    tasks = [(job, fold) for job in jobs for fold in range(folds)]
    n_jobs = workers_for(n_jobs, len(tasks))
    # the bar moves between fits; a fit itself (an SVM on many rows: minutes) says it runs (heads.views.fit_head)
    with showing_fits(bars_wanted(verbose)):
        if n_jobs == 1:  # each job's features read once for its folds
            return {(layer, h, train): combined(_fit_one(path, layer, h, params[h], scoring.splits, train, tests, sealed,
                                                         fitted=bar.add if bar else None), folded)
                    for layer, h, train, tests in jobs}
        from joblib import Parallel, delayed

        from featcache.heads.solver import call_in_worker, parent_context, replay
        from featcache.heads.views import say_slow_fit_notes

        def task(job, fold):
            layer, h, train, tests = job
            return (layer, h, train), fold, _fit_one(path, layer, h, params[h], scoring.splits, train, tests, sealed,
                                                     fold if folded else None)

        seen: set = set()
        say_slow_fit_notes(_largest_fits(cache, jobs, scoring, params))  # once here, not once in each worker
        # processes, as curve's: call_recording's warnings.catch_warnings is per process, not thread-safe (a review)
        # the workers end with this process, show their fits and say its words as it would (solver.Parent; read
        # here: joblib may draw the tasks in a thread of its own, where this context's variables are not set)
        parent = parent_context()
        outs = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator_unordered")(
            delayed(call_in_worker)(parent, task, *t) for t in tasks)
        done: dict[tuple, dict[int, list[FoldFit]]] = {}
        for i, (out, records) in enumerate(outs):
            replay(records, seen)  # the workers' warnings (a fit's convergence note) in the CLI's one-line form, each once
            key, fold, fits = out
            done.setdefault(key, {})[fold] = fits
            if bar:
                bar.update(i + 1)
    return {key: combined([f for fold in sorted(by_fold) for f in by_fold[fold]], folded) for key, by_fold in done.items()}


def _largest_fits(cache: Cache, jobs, scoring: Scoring, params: Mapping[str, Mapping[str, Any]]) -> list[tuple[Any, int]]:
    """(head as fitted, rows it fits) of each job's largest fit (``_fit_one``): every train view of each fitted image."""
    images = (cache.sizes["train"] if scoring.splits is None
              else max((len(fit) for fit, _ in scoring.splits), default=0))
    return [(HEADS[h](**params[h]), images * len(train)) for _layer, h, train, _tests in jobs]


# Below this many held-out images one image moves a score by more than 1%, and on a 60-photo folder the "best"
# of 17 layers came out of ties at 0.90 (10 held-out images) and scored 0.583 on the test split, where the final
# layer scored 1.000 (a new user). Folds score every training image once.
SMALL_HOLDOUT = 100


def small_holdout_note(n_train: int, scoring: Scoring) -> str | None:
    """A line saying a hold-out is too small to choose by, and what to do; None when it is not."""
    if scoring.holdout is None or scoring.folds is not None:
        return None
    n_out = int(round(scoring.holdout * n_train))
    if n_out >= SMALL_HOLDOUT:
        return None
    return (f"note: only {n_out} held-out images, so a score moves in steps of {1 / max(n_out, 1):.3f} and close rows "
            f"are chance; {option('--folds 5', 'folds=5')} scores every training image once")


def _scoring(cache: Cache, scoring: Scoring) -> str:
    n, holdout = cache.sizes["train"], scoring.holdout
    if scoring.folds is not None:
        return f"{scoring.folds}-fold over the {n} train images, each scored once; test split unused"
    if holdout is None:
        return f"{n} train -> {cache.sizes['test']} test images"
    n_out = int(round(holdout * n))
    return f"{n - n_out} train -> {n_out} held-out train images; test split unused"


def _title(cache: Cache, scoring: Scoring) -> str:
    m = cache.meta
    return f"{m.get('backbone')} {m.get('image_size')}px, {m.get('dataset')}: {_scoring(cache, scoring)}"


def _csv_text(rows: list[ProbeRow]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    w.writeheader()
    for r in rows:
        w.writerow(asdict(r))
    return buf.getvalue()


def report_files(out_dir: Path) -> list[Path]:
    """The files ``probe`` writes into its folder (probe.json: the ``--json`` result and the cache's absolute path)."""
    return [out_dir / "probe.csv", out_dir / "probe.png", out_dir / "probe.json"]


def default_out(cache: Cache, on_test: bool = False, layers: Sequence[str] | None = None) -> Path:
    """``data/runs/probe_<cache name>[_on_test]``: the probe of every cached layer. A probe of some of them
    (``layers``, the probed layers' full names, fewer than the cache's) gets its own folder,
    ``probe_<cache name>[_on_test]_<k>layers_<6 hex>`` (k of them; the hex from a hash of their names in network
    order), so that the full probe's folder holds the full probe: ``--layers block_13,out_relu`` replaced the
    17-layer probe there (a new user). Where that folder holds the probe of another cache file of the same name
    (data/a/fashion.h5 and data/b/fashion.h5: the second replaced the first's report), the same name with 6 hex of
    a hash of the cache's absolute path added, as ``evaluate`` does. A folder from before probe.json cannot say
    whose it is and is taken as before."""
    from featcache.store.layout import default_report_folder, made_from, short_hash

    name = f"probe_{cache.path.stem}{'_on_test' if on_test else ''}"
    if layers is not None and set(layers) != set(cache.layers):
        k = len(layers)
        name += f"_{k}{agreeing(k, 'layer', 'layers')}_{short_hash(','.join(layers))}"
    here = os.path.abspath(cache.path)
    return default_report_folder(paths.runs_dir() / name, "probe folder name", made_from("cache name", cache.path.stem),
                                 "probe.json", lambda prior: prior.get("cache_abspath") in (None, here), here)


def check_report(out_dir: Path, flag: str = "--out") -> dict[str, str]:
    """Before any fit: probe's files in ``out_dir`` replace only a probe report featcache wrote (``lesson`` asks too),
    and of it only the probe.csv and probe.png whose SHA-256 probe.json records; a probe.json that is not probe's is
    refused too. Returns those digests (``validate.check_report_files``). A folder from before probe.json recorded
    them is taken as before (its files are replaced), and one from before probe.json by its probe.csv."""
    csv_path, png, js = report_files(out_dir)
    return check_report_files([csv_path, png, js],
                              lambda: _is_probe_report(csv_path, js), flag,
                              digests=lambda: recorded_digests(js), recorded=[csv_path, png])


def _is_probe_report(csv_path: Path, js: Path) -> bool:
    """Whether the folder holds probe's report: each of probe.csv and probe.json that is there reads back as
    probe's, and at least one of them is there (probe.json vouches for a folder whose probe.csv was moved away)."""
    return ((js.exists() or csv_path.exists()) and (not js.exists() or _is_probe_json(js))
            and (not csv_path.exists() or _is_probe_csv(csv_path)))


def _is_probe_json(path: Path) -> bool:
    """Whether ``path`` is a probe.json featcache wrote (the ``--json`` result: its rows and best row)."""
    import json

    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("rows"), list) and isinstance(doc.get("best"), dict)


def _is_probe_csv(path: Path) -> bool:
    """Whether ``path`` is a probe.csv featcache wrote (so it and the plot beside it may be replaced)."""
    try:
        return bool(read_probe_csv(path))
    except FeatcacheError:
        return False


def read_probe_csv(path: str | Path) -> list[ProbeRow]:
    """Rows of a ``probe.csv`` (what ``lesson`` and plots reuse), checked as they are read."""
    try:
        with open(path, newline="") as f:
            rows = [
                ProbeRow(int(r["depth"]), r["layer"], int(r["width"]), r["head"],
                         (r["C"] if r["C"] == "cv" else float(r["C"])) if r["C"] else None,
                         float(r["accuracy"]), r["scored_on"], float(r["fit_seconds"]),
                         # probe.csv files written before views: the original view alone
                         r.get("train_views") or "orig", r.get("test_views") or "orig")
                for r in csv.DictReader(f)
            ]
        bad = [r for r in rows if not 0 <= r.accuracy <= 1 or r.depth < 0 or r.scored_on not in ("test", "holdout", "folds")]
        try:
            for r in rows:
                r.view_counts  # noqa: B018 -- parses both view lists
        except FeatcacheError as exc:
            raise ValueError(str(exc)) from None
        if bad:
            raise ValueError(f"row {asdict(bad[0])} is out of range")
        return rows
    except FileNotFoundError:
        raise FeatcacheError(f"probe file not found: {path}; run {command('probe')} first or check the path") from None
    except (OSError, ValueError, KeyError, TypeError, csv.Error, UnicodeDecodeError) as exc:
        raise FeatcacheError(f"{path} is not a readable probe.csv ({exc}); pass a file written by {command('probe')}") from None


def _setting_labels(rows: list[ProbeRow]) -> dict[tuple[str, str], str]:
    """A short column label per view setting: "" for the one setting of a cache without views, else
    "train/test" view counts (or "#i" when two settings have the same counts)."""
    settings = list(dict.fromkeys((r.train_views, r.test_views) for r in rows))
    if settings == [("orig", "orig")]:
        return {settings[0]: ""}
    counts = {s: "{}/{}".format(*view_counts(*s)) for s in settings}
    if len(set(counts.values())) < len(counts):
        counts = {s: f"#{i + 1}" for i, s in enumerate(settings)}
    return counts


def _final_output_only(cache: Cache) -> bool:
    """The cache holds the backbone's final output alone (extract's default), where a cache of every block would let
    probe compare layers; not one layer chosen at extraction (the lesson's views cache holds the layer its probe of
    every block chose, where the note said to cache every block; a new-user tester)."""
    from featcache.embedding.backbones import REGISTRY

    entry = REGISTRY.get(cache.meta.get("backbone"))
    return list(cache.layers) == [entry.final_layer] if entry is not None else False


def _table_lines(rows: Sequence[ProbeRow], best: ProbeRow, final_only: bool) -> list[str]:
    """``ProbeResult.text``'s table and best row: layers and heads in the rows' order (``_rows``: layer, head,
    setting), each layer's width from its rows."""
    names, head_names = list(dict.fromkeys(r.layer for r in rows)), list(dict.fromkeys(r.head for r in rows))
    widths = {r.layer: r.width for r in rows}
    lines: list[str] = []
    labels = _setting_labels(rows)
    acc = {(r.layer, r.head, r.train_views, r.test_views): r.accuracy for r in rows}
    cols = [(h, s) for h in head_names for s in labels]
    heads = [f"{h} {labels[s]}".strip() for h, s in cols]
    cw = max([7] + [len(t) for t in heads])
    lw = max(len(n) for n in names + ["layer"])
    lines.append(f"{'layer':<{lw}}  {'width':>5}  " + "  ".join(f"{t:>{cw}}" for t in heads))
    for layer in names:
        cells = "  ".join(f"{acc[(layer, h, *s)]:>{cw}.4f}" for h, s in cols)
        lines.append(f"{layer:<{lw}}  {widths.get(layer, 0):>5}  {cells}")
    if len(labels) > 1:
        lines.append("view settings (train views/test views averaged): "
                     + "; ".join(f"{label} = {tr} / {te}" for (tr, te), label in labels.items()))
    C = f", C={param_text(best.C)}" if best.C is not None else ""
    what = SCORED_ON_WORDS[best.scored_on] if best.scored_on != "holdout" else "held-out accuracy"
    views = f", train views {best.train_views}, test views {best.test_views}" if len(labels) > 1 else ""
    lines.append(f"best layer: {best.layer} with {best.head}{C}{views}: {what} {best.accuracy:.4f}")
    if best.scored_on == "test":  # a tester followed the printed train command without noticing
        lines.append(f"note: chosen on the test split, so its test accuracy flatters it; without {option('--on-test')} probe "
                     "chooses on held-out training images and leaves the test split for the final score")
    if final_only:  # not when one of several cached layers was asked for, nor one chosen at extraction (new users)
        # probe(verbose=True) prints it too: there the call that caches every block, not the command
        blocks = option("extract --layers blocks", "featcache.extract(..., ModelSpec(layers='blocks'))")
        lines.append(f"note: one layer probed; a cache of every block ({blocks}) lets probe compare them")
    return lines
