"""CurveSpec: what a learning curve fits, validated when it is made, and the identity its folder shares.

A spec is settings only (no cache): sizes, seeds, heads with their parameter
overrides, the baseline, the layer (None: the cache's default) and ``jobs``.
``spec.bind(cache)`` checks it against a cache and fills in everything that
depends on the cache: the layer, every parameter of every head (defaults
included, so a curve's identity does not depend on how its settings were
spelled) and the identity.

Importing this module is cheap (no scikit-learn, TensorFlow or h5py): the CLI
reads the defaults below for its help texts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from featcache.errors import FeatcacheError, cli_running, list_item, option
from featcache.validate import JOBS_DEFAULT, FrozenMap, ParamLabel, check_jobs, check_two_per_class, check_views, list_items, parse_list, parse_seeds, parse_sizes, require_splits, view_items

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

    from featcache.store import Cache

DEFAULT_SEEDS = 3
DEFAULT_HEADS = ("logreg", "keras")
DEFAULT_JOBS = JOBS_DEFAULT  # probe's too (validate.jobs_alias)
# Heads that consume the cache's raw images instead of its features.
BASELINES = ("scratch",)
# The lesson's training for the Keras head (5 epochs, batch 64, 20 %
# validation split): with a point fitted on train's rows in train's order
# (subsets.stratified_subsets), seed 0's 4,000-image point on the lesson's
# cache is the lesson's model. --keras-preset's help names it; what a curve
# fits is the class's own ``curve_params`` (DenseHead's are this preset's: tested).
DEFAULT_KERAS_PRESET = "lesson"


def estimator_class(head: str) -> type:
    """The estimator class of a head or baseline name (features heads from ``HEADS``; ``scratch``: ScratchCNN)."""
    if head in BASELINES:
        from featcache.heads.scratch import ScratchCNN

        return ScratchCNN
    from featcache.heads import HEADS

    return HEADS[head]


def consumes(head: str) -> str:
    """``"images"`` for heads fitted on raw pixels (ScratchCNN), else ``"features"``."""
    return getattr(estimator_class(head), "consumes", "features")


def make_estimator(head: str, params: Mapping[str, Any], seed: int) -> BaseEstimator:
    return estimator_class(head)(**{**params, "seed": seed})


def identity_params(params: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each head's parameters as a curve's identity holds them: run-only ones (``heads.RUN_ONLY_PARAMS``) at their
    defaults, so ``--param logreg.n_jobs=1`` resumes the same curve (it was another folder, and refused in the same
    one as "logreg parameters" differing; a review). A head no longer registered is compared as it is."""
    from featcache.heads import fit_params

    out = {}
    for head, p in params.items():
        try:
            cls = estimator_class(head)
        except KeyError:
            out[head] = dict(p)
            continue
        out[head] = fit_params(cls, p) if isinstance(p, Mapping) else p
    return out


def full_params(head: str, n_classes: int, overrides: Mapping[str, Any] | None,
                label: ParamLabel | None = None) -> dict[str, Any]:
    """Every parameter of ``head`` as the curve fits it (the seed aside: each fit gets the curve's). ``label``: the
    words naming a value refused (``ParamLabel.of_option``: head_params['logreg']['C'] in a call, --param in the CLI;
    None: the head's class)."""
    from featcache.heads import check_head_params, check_param_names

    cls = estimator_class(head)
    defaults = dict(getattr(cls, "curve_params", {}))  # the head's own choice for curves (DenseHead: the lesson's)
    if "n_classes" in cls().get_params():
        defaults["n_classes"] = n_classes
    if overrides and "seed" in overrides:  # dropped without a word (a review): each fit gets one of the curve's seeds
        raise FeatcacheError(f"head_params gives head {head!r} a seed; each fit gets one of the curve's seeds: use seeds=")
    params = {**defaults, **(overrides or {})}
    params.pop("seed", None)
    # the one check of names (heads.check_param_names: the head's parameters listed); it was a near-copy of
    # make_head's TypeError line here, which named none of them
    check_param_names(head, overrides or {}, hidden=("seed", "n_classes"), cls=cls)
    est = make_estimator(head, params, 0)
    # Every value checked here, before the curve's folder is made: C=-1 was scikit-learn's traceback at the first fit,
    # after a header-only curve.csv recording it, which then refused the corrected re-run (an adversarial tester).
    check_head_params(est, label)
    full = est.get_params()
    full.pop("seed", None)
    return full


@dataclass(frozen=True)
class CurveSpec:
    """The settings of one learning curve; validates itself (one-line FeatcacheError naming the flag).

    ``seeds`` is a count K (seeds 0..K-1) or a list; ``head_params`` maps a
    head name to parameter overrides (default for ``keras``: the lesson's
    preset); ``baseline="scratch"`` also fits the from-scratch CNN on the
    cache's raw images at ``baseline_sizes``. ``train_views``/``test_views``
    (``parse_views`` syntax or ``"all"``; None: every view the cache has): each
    subset is drawn over images and fitted on every train view of its images,
    and each test image's views are averaged (``heads.views``). The baseline
    fits raw images, never views.
    """

    sizes: tuple[int, ...]
    seeds: tuple[int, ...] = tuple(range(DEFAULT_SEEDS))
    heads: tuple[str, ...] = DEFAULT_HEADS
    layer: str | None = None
    head_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    baseline: str | None = None
    baseline_sizes: tuple[int, ...] = ()
    baseline_params: Mapping[str, Any] | None = None
    jobs: int = DEFAULT_JOBS
    train_views: str | tuple[str, ...] | None = None
    test_views: str | tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        from featcache.heads import HEADS

        put = object.__setattr__
        put(self, "sizes", tuple(parse_sizes(self.sizes)))
        put(self, "seeds", tuple(parse_seeds(self.seeds)))
        put(self, "heads", tuple(parse_list(self.heads, "--heads", known=list(HEADS))))
        put(self, "jobs", check_jobs(self.jobs))
        for name in ("train_views", "test_views"):  # checked against the cache's views in bind()
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                put(self, name, tuple(str(getattr(v, "name", v)) for v in view_items(value, f"--{name.replace('_', '-')}")))
        # whether any baseline sizes are given, by their count: a NumPy array's truth value is a ValueError traceback
        # (learning_curve(..., baseline_sizes=np.array([20, 50])); found by h301's test of a list's sizes)
        baseline_sizes = len(list_items(self.baseline_sizes, "--baseline-sizes")) if self.baseline_sizes is not None else 0
        if self.baseline is not None:
            parse_list([self.baseline], "--baseline", known=BASELINES)
            if not baseline_sizes:
                raise FeatcacheError(f"{option('--baseline')} needs {option('--baseline-sizes')}, e.g. "
                                     f"{option('--baseline-sizes 1000,4000,15000', 'baseline_sizes=[1000, 4000, 15000]')}")
            put(self, "baseline_sizes", tuple(parse_sizes(self.baseline_sizes, "--baseline-sizes")))
        elif baseline_sizes or self.baseline_params:
            raise FeatcacheError(f"{option('--baseline-sizes')} and {option('--baseline-epochs', 'baseline_params')} need "
                                 f"{option('--baseline scratch', 'baseline=' + repr('scratch'))}")
        if not isinstance(self.head_params, Mapping) or not all(isinstance(v, Mapping) for v in self.head_params.values()):
            raise FeatcacheError("head_params maps head names to dicts of parameters, e.g. {'logreg': {'C': 1.0}}")
        for head in self.head_params:  # ignored without a word, where probe refuses it (an adversarial tester)
            if head not in self.heads:
                raise FeatcacheError(f"head_params names head {head!r}, which is not among the heads "
                                     f"({', '.join(self.heads)}); add it to heads or drop it from head_params")
        # Frozen copies: a caller changing its dict later must not change this spec, and the spec stays hashable,
        # as docs/api.md promises (hash(CurveSpec(sizes=[10, 20])) was a TypeError: its dicts; a review)
        put(self, "head_params", FrozenMap(self.head_params))
        put(self, "baseline_params", FrozenMap(self.baseline_params) if self.baseline_params else None)

    @property
    def fitted(self) -> tuple[str, ...]:
        """Every head the curve fits, the baseline last."""
        return self.heads + ((self.baseline,) if self.baseline else ())

    def sizes_of(self, head: str) -> tuple[int, ...]:
        return self.baseline_sizes if head == self.baseline else self.sizes

    def _check_two_per_class(self, y, params: Mapping[str, Mapping[str, Any]], class_names: Sequence[str]) -> None:
        """Heads whose fit splits its rows into folds (the SVM's probability calibration, ``C="cv"``) need two images
        of every class in each subset: before any fit, one line (a ValueError traceback from the first fit before)."""
        import numpy as np

        from featcache.heads import folds_needed

        needy = [h for h in self.heads if folds_needed(h, params[h])]
        if not needy:
            return
        from featcache.analysis.subsets import stratified_order

        check_two_per_class(y, f"the {', '.join(needy)} head's folds (probability calibration, or C=cv)",
                            "leave that head out", class_names)
        n = min(self.sizes)  # each seed's subsets are prefixes of one ordering: the smallest holds the fewest
        # The shortest prefix holding 2 images of every class, for every seed: where each class's second image comes.
        needed = max((max(int(np.flatnonzero(y[order] == c)[1]) for c in np.unique(y)) + 1
                      for order in (stratified_order(y, seed) for seed in self.seeds)), default=0)
        if n < needed:
            raise FeatcacheError(f"{option(f'--sizes {n}', list_item('sizes', str(n)))} leaves some class with fewer than 2 training images, and the "
                                 f"{', '.join(needy)} head's folds (probability calibration, or C=cv) need 2 of every "
                                 f"class; start {option('--sizes')} at {needed} or more")

    def bind(self, cache: Cache) -> "BoundCurve":
        """This spec on ``cache``: the layer and sizes checked, every head parameter filled in."""
        layer = cache.layer(self.layer, "--layer")  # a short block name is its layer: one curve folder for both names
        require_splits(cache, "train", "test", why="a learning curve needs train and test")
        from featcache.analysis.subsets import check_size

        y = cache.labels("train")
        for n in self.sizes:
            check_size(n, y, "--sizes", item=True)
        for n in self.baseline_sizes:
            check_size(n, y, "--baseline-sizes", item=True)
        n_classes = len(cache.class_names)
        # named as the caller gave them: head_params['logreg']['C'] in a call was "LogRegHead C" (an API tester)
        params = {h: full_params(h, n_classes, self.head_params.get(h), ParamLabel.of_option("--param", "head_params", h))
                  for h in self.heads}
        if self.baseline is not None:
            params[self.baseline] = full_params(self.baseline, n_classes, self.baseline_params,
                                                None if cli_running() else ParamLabel.of_option("--param", "baseline_params"))
        # Through JSON, as it is stored, so that a resumed run compares like with like (tuples -> lists).
        params = json.loads(json.dumps(params, default=str))
        self._check_two_per_class(y, params, cache.class_names)
        views = check_views(cache, self.train_views, "--train-views"), check_views(cache, self.test_views, "--test-views")
        return BoundCurve(self, cache, layer, params, *views)


@dataclass(frozen=True)
class BoundCurve:
    """A spec checked against one cache."""

    spec: CurveSpec
    cache: Cache
    layer: str
    params: dict[str, dict[str, Any]]  # every parameter of every fitted head, JSON-normal
    train_views: tuple[str, ...] = ("orig",)  # the cache's views, in its order (validate.check_views)
    test_views: tuple[str, ...] = ("orig",)

    @property
    def identity(self) -> dict[str, Any]:
        """What every row in one curve folder shares: the features, the views, the test split and each head's parameters.

        Sizes and seeds are not in it: a folder collects points, so a re-run
        with more sizes or seeds adds to the rows already there. The views are
        in it only when they are not the original alone, so curves made before
        views keep their identity (and default folder).
        """
        ident = {
            "cache_fingerprint": self.cache.fingerprint,
            "layer": self.layer,
            "test_size": self.cache.sizes["test"],
            "heads": identity_params(self.params),
        }
        if (self.train_views, self.test_views) != (("orig",), ("orig",)):
            ident.update(train_views=list(self.train_views), test_views=list(self.test_views))
        return ident

    @property
    def train_size(self) -> int:
        return self.cache.sizes["train"]
