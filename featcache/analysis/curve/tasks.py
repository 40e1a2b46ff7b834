"""Running a curve's fits: one task is one head and seed fitted at one or more sizes (a warm-started chain).

Tasks run in order or in parallel processes (joblib/loky); every fit seeds
itself, so the numbers do not depend on ``jobs``. Workers load the arrays
themselves (once per process, from the cache file) instead of receiving them
pickled with every task. A head's ``consumes`` attribute says which arrays it
fits: the cached features of the curve's layer, or the cache's raw images
(ScratchCNN), read from the data source the cache was extracted from.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from featcache.analysis.curve.spec import make_estimator
from featcache.heads.views import fit_head, fit_views, score_views
from featcache.errors import FeatcacheError

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

# joblib backend for --jobs > 1. Processes, not threads: Keras seeds are
# process-wide state, so Keras fits in threads would depend on scheduling
# (measured in docs/benchmarks.md, "Learning curves").
BACKEND = "loky"

Task = tuple[str, int, tuple[int, ...]]  # (head, seed, sizes fitted in order)


def _open(path: str, sealed_as: tuple[Any, ...]) -> Any:
    """The curve's cache, reopened by its path, checked to be the one the curve was planned on (``sealed_as``)."""
    from featcache.store import open_cache

    c = open_cache(path)
    return c.check_same(sealed_as, "curve") if sealed_as else c


@functools.lru_cache(maxsize=1)
def _load_features(path: str, layer: str, mtime: float, train_views: tuple[str, ...] = ("orig",),
                   test_views: tuple[str, ...] = ("orig",), sealed_as: tuple[Any, ...] = ()) -> tuple[np.ndarray, ...]:
    """(Xv (V, N, D), y, Xv_test (V', N_test, D), y_test): every train view and every test view of the curve."""
    c = _open(path, sealed_as)
    return (c.view_features("train", layer, train_views), c.labels("train"),
            c.view_features("test", layer, test_views), c.labels("test"))


@functools.lru_cache(maxsize=1)
def _load_images(path: str, mtime: float, sealed_as: tuple[Any, ...] = ()) -> tuple[np.ndarray, ...]:
    """Raw uint8 images of the cache's own data source, in the cache's row order."""
    c = _open(path, sealed_as)
    source = checked_source(c)
    source.settle(dict(c.meta.get("skipped") or []))  # photos: the cache's rows, nothing decoded to find them
    out = []
    for split in ("train", "test"):
        s = source.splits[split]
        out += [s.read(0, len(s)), np.asarray(s.labels)]
    return tuple(out)


def checked_source(cache: Any) -> Any:
    """The data source ``cache`` was extracted from, its images checked unchanged (the cache's data digest). Called
    before a curve with a baseline writes its folder too: refused after, it left a header-only curve that claimed
    the folder for its settings (an adversarial tester)."""
    from featcache.sources import open_source

    spec = cache.meta["source"]
    source = open_source(spec)
    recorded = cache.meta.get("settings", {}).get("data_digest")
    if source.digest != recorded:
        # a rule of featcache's that changed (an older image decoder), said as such: "restore them" sent the user
        # looking for photos that had not changed
        changed = source.rule_change(recorded, f"re-extract the cache at {cache.path}", "it")
        if changed:
            raise FeatcacheError(changed)
        where = spec.get("root") or spec.get("data_dir") or spec.get("kind") if isinstance(spec, dict) else spec
        raise FeatcacheError(f"the images at {where} are not the ones {cache.path} was extracted from; restore them or "
                             "re-extract")
    return source


def clear_arrays() -> None:
    """Drop the arrays held for fits (the caller's process need not keep them)."""
    _load_features.cache_clear()
    _load_images.cache_clear()


@dataclass(frozen=True)
class Data:
    """A picklable handle on the arrays of one curve: (X, y, X_test, y_test)."""

    path: str
    mtime: float
    layer: str
    consumes: str = "features"  # or "images"
    train_views: tuple[str, ...] = ("orig",)
    test_views: tuple[str, ...] = ("orig",)
    sealed_as: tuple[Any, ...] = ()  # the planned cache's (``Cache.sealed_as``): a cache moved over it is refused

    def arrays(self) -> tuple[np.ndarray, ...]:
        """Images: (X, y, X_test, y_test). Features: the same with a views axis first, (V, n, D) (``heads.views``)."""
        if self.consumes == "images":
            return _load_images(self.path, self.mtime, self.sealed_as)
        return _load_features(self.path, self.layer, self.mtime, self.train_views, self.test_views, self.sealed_as)


def uses_seed(head: str, params: dict[str, Any]) -> bool:
    """Whether the seed can change a fit of ``head`` on given rows (heads say so; unknown: yes)."""
    return bool(getattr(make_estimator(head, params, 0), "uses_seed", True))


def fit_point(est: BaseEstimator, X: np.ndarray, y: np.ndarray, rows: np.ndarray, X_test: np.ndarray,
              y_test: np.ndarray) -> tuple[float, float]:
    """Fit ``est`` on the images ``rows`` of the train split; (test accuracy, fit seconds).

    Features come as views, ``(V, N, D)``: the fit takes every view of the
    chosen images (an image and its views are on one side), the score averages
    each test image's views. Raw images (the baseline) are fitted as they are.
    """
    from featcache.heads import load_backend

    views = getattr(est, "consumes", "features") == "features"
    load_backend(est)  # not in the fit's seconds
    t0 = time.perf_counter()
    if views:
        fit_views(est, X[:, rows], y[rows])
    else:
        fit_head(est, X[rows], y[rows])
    seconds = time.perf_counter() - t0
    accuracy = score_views(est, X_test, y_test) if views else float(est.score(X_test, y_test))
    return accuracy, seconds


def fit_points(data: Data, head: str, params: dict[str, Any], seed: int, rows_list: Sequence[np.ndarray]) -> list[tuple[float, float]]:
    """Fit ``head`` on each of ``rows_list`` in turn; (test accuracy, fit seconds) for each.

    A head with ``warm_start`` is one estimator refitted along the list
    (ascending nested sizes), so each fit starts from the previous solution.
    """
    X, y, X_test, y_test = data.arrays()
    est, out = None, []
    for rows in rows_list:
        if est is None or not params.get("warm_start"):
            est = make_estimator(head, params, seed)
        out.append(fit_point(est, X, y, rows, X_test, y_test))
    return out


def run_task(data: Data, task: Task, params: dict[str, Any],
             rows_list: list[np.ndarray]) -> tuple[Task, list[tuple[float, float]]]:
    head, seed, sizes = task
    return task, fit_points(data, head, params, seed, rows_list)


def largest_fits(work: list[tuple]) -> list[tuple[Any, int]]:
    """(estimator as fitted, rows it fits) of each task's largest fit, for ``work`` (``run_task``'s arguments): every
    view of each chosen image is a row (``fit_point``), a raw image one."""
    out = []
    for data, (head, seed, _sizes), params, rows_list in work:
        views = len(data.train_views) if data.consumes == "features" else 1
        out.append((make_estimator(head, params, seed), views * max((len(rows) for rows in rows_list), default=0)))
    return out


def execute(work: list[tuple], jobs: int) -> Iterator[tuple[Task, list[tuple[float, float]]]]:
    """Yield ``(task, [(accuracy, seconds), ...])`` as tasks finish; ``work`` holds ``run_task``'s arguments."""
    from featcache.validate import workers_for

    jobs = workers_for(jobs, len(work))
    if jobs == 1:
        for item in work:
            yield run_task(*item)
        return
    from joblib import Parallel, delayed

    from featcache.heads.solver import call_in_worker, parent_context, replay
    from featcache.heads.views import say_slow_fit_notes

    say_slow_fit_notes(largest_fits(work))  # once here, not once in each worker
    seen: set = set()
    parallel = Parallel(n_jobs=jobs, backend=BACKEND, return_as="generator_unordered", max_nbytes=None)
    # the workers end with this process, show their fits and say its words as it would (solver.Parent); read here,
    # not in the generator: joblib may draw the tasks in a thread of its own, where this context's variables are not set
    parent = parent_context()
    for out, records in parallel(delayed(call_in_worker)(parent, run_task, *item) for item in work):
        replay(records, seen)  # the workers' warnings in the CLI's one-line form, each once
        yield out
