"""learning_curve: test accuracy against training-set size, from cached features.

For each seed one class-stratified ordering of the cache's train split is
drawn (``subsets.stratified_order``); every size takes a prefix of it, so the
subsets are nested and a curve measures data, not luck. Each head is fitted on
each subset and scored on the full test split.

Two savings keep a full curve cheap, without changing what is fitted:

- Logistic regression is warm-started along each seed's sizes (smallest
  first): lbfgs starts from the previous size's solution instead of zero. The
  problem is strictly convex, so the optimum is the same; reaching it takes
  about 40 % fewer iterations (a 60,000-row fit: 190 instead of 356), and the
  test accuracy agrees with cold fits to within 0.0011 over a 27-point
  Fashion-MNIST curve (docs/benchmarks.md, "Learning curves"). ``head_params={"logreg":
  {"warm_start": False}}`` (CLI ``--no-warm-start``) fits every point cold.
- At the full train split every seed's subset is the same set of images, so a
  head whose fit does not depend on the seed (``uses_seed`` false: logistic
  regression with a fixed C) is fitted there once (in the first seed's
  chain) and its row repeated for the other seeds, with fit_seconds 0.

Tasks (a warm-started chain, or one fit) run in order or in parallel
processes (joblib/loky); every fit seeds itself, so the numbers do not depend
on ``jobs``.

Outputs, in ``out``:

- ``curve.csv``: one row per (size, seed, head): accuracy and fit_seconds,
  the time of that fit alone (warm-started fits: from the previous size on;
  0 for a row repeated from another seed's fit of the same images).
  It is rewritten atomically after every completed fit, so it is always a
  valid table of finished fits; re-running the same command skips them
  (resume), and an interrupted run never leaves a half-written row.
- ``curve.json``: the cache's metadata (fingerprint, backbone, image size,
  layer, ...) and the settings; ``complete`` turns true at the end.
- ``curve.png``: the plot (``plots.plot_learning_curves``).
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from featcache import paths
from featcache.analysis.subsets import check_size, stratified_order
from featcache.errors import FeatcacheError
from featcache.heads import HEADS, make_head
from featcache.store.atomic import check_writable, write_json, write_text
from featcache.store.cache import Cache, open_cache
from featcache.store.fingerprint import fingerprint
from featcache.validate import check_jobs, parse_list, parse_seeds, parse_sizes, require_splits

CSV_FIELDS = ("size", "seed", "head", "accuracy", "fit_seconds")
BASELINES = ("scratch",)
# joblib backend for --jobs > 1. Processes, not threads: Keras seeds are
# process-wide state, so Keras fits in threads would depend on scheduling
# (measured in docs/benchmarks.md, "Learning curves").
BACKEND = "loky"
# The lesson's training for the Keras head (5 epochs, batch 64, 20 %
# validation split), so a curve's 4,000-image point is the lesson's model.
DEFAULT_KERAS_PRESET = "lesson"


@dataclass
class CurveResult:
    out: Path
    rows: list[dict[str, Any]]
    seconds: float  # wall time of this call
    fits: int  # rows this call added
    resumed: int  # rows found finished in out/curve.csv and kept
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def csv(self) -> Path:
        return self.out / "curve.csv"

    @property
    def json(self) -> Path:
        return self.out / "curve.json"

    @property
    def png(self) -> Path:
        return self.out / "curve.png"


# ---------------------------------------------------------------- validation


def training_rows(y: np.ndarray, sizes: Sequence[int], seed: int) -> dict[int, np.ndarray]:
    """Rows of each size for one seed: prefixes of one stratified ordering, hence nested."""
    order = stratified_order(y, seed)
    return {n: order[:n] for n in sizes}


# ---------------------------------------------------------------- fitting

# Workers load the arrays themselves (once per process, from the cache file)
# instead of receiving them pickled with every task.


@functools.lru_cache(maxsize=1)
def _load_features(path: str, layer: str, mtime: float) -> tuple[np.ndarray, ...]:
    c = open_cache(path)
    return c.features("train", layer), c.labels("train"), c.features("test", layer), c.labels("test")


@functools.lru_cache(maxsize=1)
def _load_images(path: str, mtime: float) -> tuple[np.ndarray, ...]:
    """Raw uint8 images of the cache's own data source, in the cache's row order."""
    from featcache.sources import open_source

    c = open_cache(path)
    source = open_source(c.meta["source"])
    if source.digest != c.meta.get("settings", {}).get("data_digest"):
        raise FeatcacheError(f"the images at {c.meta['source']} are not the ones {path} was extracted from; restore them or re-extract")
    source.settle(dict(c.meta.get("skipped") or []))  # photos: the cache's rows, nothing decoded to find them
    out = []
    for split in ("train", "test"):
        s = source.splits[split]
        out += [s.read(0, len(s)), np.asarray(s.labels)]
    return tuple(out)


@dataclass(frozen=True)
class _Data:
    """A picklable handle on the arrays of one curve."""

    path: str
    mtime: float
    layer: str | None  # None: raw images (baselines)

    def arrays(self) -> tuple[np.ndarray, ...]:
        return _load_images(self.path, self.mtime) if self.layer is None else _load_features(self.path, self.layer, self.mtime)


def _estimator(head: str, params: dict[str, Any], seed: int):
    if head == "scratch":
        from featcache.heads.scratch import ScratchCNN

        return ScratchCNN(**{**params, "seed": seed})
    return make_head(head, **{**params, "seed": seed})


def uses_seed(head: str, params: dict[str, Any]) -> bool:
    """Whether the seed can change a fit of ``head`` on given rows (heads say so; unknown: yes)."""
    return bool(getattr(_estimator(head, params, 0), "uses_seed", True))


def fit_point(est, X: np.ndarray, y: np.ndarray, rows: np.ndarray, X_test: np.ndarray, y_test: np.ndarray) -> tuple[float, float]:
    """Fit ``est`` on ``rows`` of the train split; (test accuracy, fit seconds)."""
    t0 = time.perf_counter()
    est.fit(X[rows], y[rows])
    seconds = time.perf_counter() - t0
    return float(est.score(X_test, y_test)), seconds


def fit_points(data: _Data, head: str, params: dict[str, Any], seed: int, rows_list: Sequence[np.ndarray]) -> list[tuple[float, float]]:
    """Fit ``head`` on each of ``rows_list`` in turn; (test accuracy, fit seconds) for each.

    A head with ``warm_start`` is one estimator refitted along the list
    (ascending nested sizes), so each fit starts from the previous solution.
    """
    X, y, X_test, y_test = data.arrays()
    est, out = None, []
    for rows in rows_list:
        if est is None or not params.get("warm_start"):
            est = _estimator(head, params, seed)
        out.append(fit_point(est, X, y, rows, X_test, y_test))
    return out


def _run_task(data: _Data, task: tuple[str, int, tuple[int, ...]], params: dict[str, Any], rows_list: list[np.ndarray]):
    head, seed, sizes = task
    return task, fit_points(data, head, params, seed, rows_list)


# ---------------------------------------------------------------- files


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a ``curve.csv`` with typed values."""
    path = Path(path)
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or not set(CSV_FIELDS) <= set(reader.fieldnames):
                raise ValueError(f"columns {reader.fieldnames}")
            return [
                {"size": int(r["size"]), "seed": int(r["seed"]), "head": r["head"],
                 "accuracy": float(r["accuracy"]), "fit_seconds": float(r["fit_seconds"])}
                for r in reader
            ]
    except FileNotFoundError:
        raise FeatcacheError(f"curve file not found: {path}; run 'featcache curve' first or check the path") from None
    except (ValueError, KeyError, TypeError, csv.Error) as exc:
        raise FeatcacheError(f"{path} is not a readable curve.csv ({exc}); pass a file written by 'featcache curve' or delete it") from None


def write_rows(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "fit_seconds": f"{r['fit_seconds']:.4f}"})
    write_text(path, buf.getvalue())


def load_curve(path: str | Path, label: str | None = None):
    """A ``plots.CurveSet`` from a curve.csv (or its folder) and the curve.json beside it."""
    from featcache.analysis.plots import CurveSet, describe

    path = Path(path)
    if path.is_dir():
        path = path / "curve.csv"
    rows = read_rows(path)
    meta: dict[str, Any] = {}
    if path.with_suffix(".json").is_file():
        try:
            meta = json.loads(path.with_suffix(".json").read_text())
        except (OSError, ValueError):
            meta = {}
    return CurveSet(label if label is not None else (describe(meta) or path.parent.name), rows, meta)


def title_for(meta: dict[str, Any]) -> str:
    from featcache.analysis.plots import describe

    data = meta.get("dataset") or "data"
    return f"{data}: test accuracy vs training images ({describe(meta)}, test n={meta.get('test_size')})"


# ---------------------------------------------------------------- the curve


def _head_params(head: str, n_classes: int, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Every parameter of ``head`` as the curve fits it (the seed aside: each fit gets the curve's)."""
    from featcache.heads.dense import PRESETS

    defaults = {"keras": {**PRESETS[DEFAULT_KERAS_PRESET], "n_classes": n_classes}, "logreg": {"warm_start": True}}.get(head, {})
    params = {**defaults, **(overrides or {})}
    params.pop("seed", None)
    try:
        # The full set, defaults included, so a curve's identity does not
        # depend on how its settings were spelled.
        full = _estimator(head, params, 0).get_params()
    except TypeError as exc:
        raise FeatcacheError(f"bad parameters for head {head!r} ({exc})") from None
    full.pop("seed", None)
    return full


def default_out(cache: Cache, layer: str, identity: dict[str, Any]) -> Path:
    m = cache.meta
    name = f"curve_{m.get('dataset', 'data')}_{m.get('backbone')}_{m.get('image_size')}px_{layer}_{fingerprint(identity)[:8]}"
    return paths.runs_dir() / name


def _check_resumable(out: Path, identity: dict[str, Any]) -> dict[tuple[str, int, int], dict[str, Any]]:
    """Finished rows in ``out`` that belong to this curve; refuses a folder holding another curve."""
    csv_path, json_path = out / "curve.csv", out / "curve.json"
    if not csv_path.exists():
        return {}
    try:
        old = json.loads(json_path.read_text()).get("identity")
    except (OSError, ValueError):
        old = None
    if old is None:
        raise FeatcacheError(f"{csv_path} exists but has no readable curve.json beside it; choose another --out or delete {csv_path}")
    diff = [k for k in ("cache_fingerprint", "layer", "test_size") if old.get(k) != identity[k]]
    diff += [f"{h} parameters" for h, p in identity["heads"].items() if h in old.get("heads", {}) and old["heads"][h] != p]
    if diff:
        raise FeatcacheError(f"{out} holds a learning curve with other settings ({', '.join(diff)}); choose another --out or delete {csv_path}")
    return {(r["head"], r["seed"], r["size"]): r for r in read_rows(csv_path)}


def learning_curve(
    cache: str | Path | Cache,
    sizes: str | Sequence[int],
    seeds: int | Sequence[int] = 3,
    heads: str | Sequence[str] = ("logreg", "keras"),
    layer: str | None = None,
    out: str | Path | None = None,
    jobs: int = 1,
    *,
    head_params: dict[str, dict[str, Any]] | None = None,
    baseline: str | None = None,
    baseline_sizes: str | Sequence[int] = (),
    baseline_params: dict[str, Any] | None = None,
    plot: bool = True,
    verbose: bool = True,
) -> CurveResult:
    """Fit every head on nested stratified subsets of every size, for every seed.

    ``seeds`` is a count K (seeds 0..K-1) or a list of seeds; ``head_params``
    maps a head name to parameter overrides (default for ``keras``: the
    lesson's preset). ``baseline="scratch"`` also trains the from-scratch CNN
    on the cache's raw images at ``baseline_sizes`` (the same nested subsets).
    Returns the rows and where the files are; re-running resumes.
    """
    t_start = time.perf_counter()
    cache = cache if isinstance(cache, Cache) else open_cache(cache)
    layer = layer or cache.default_layer
    if layer not in cache.layers:
        raise FeatcacheError(f"--layer {layer!r} is not in {cache.path}; cached layers: {', '.join(cache.layers)}")
    require_splits(cache, "train", "test", why="a learning curve needs train and test")
    y = cache.labels("train")
    sizes = parse_sizes(sizes)
    for n in sizes:
        check_size(n, y, "--sizes")
    seed_list = parse_seeds(seeds)
    head_list = parse_list(heads, "--heads", known=list(HEADS))
    jobs = check_jobs(jobs)
    b_sizes: list[int] = []
    if baseline is not None:
        parse_list([baseline], "--baseline", known=BASELINES)
        b_sizes = parse_sizes(baseline_sizes, "--baseline-sizes") if baseline_sizes else []
        if not b_sizes:
            raise FeatcacheError("--baseline needs --baseline-sizes, e.g. --baseline-sizes 1000,4000,15000")
        for n in b_sizes:
            check_size(n, y, "--baseline-sizes")
    elif baseline_sizes or baseline_params:
        raise FeatcacheError("--baseline-sizes and --baseline-epochs need --baseline scratch")

    n_classes = len(cache.class_names)
    params = {h: _head_params(h, n_classes, (head_params or {}).get(h)) for h in head_list}
    if baseline is not None:
        params[baseline] = _head_params(baseline, n_classes, baseline_params)
    # Through JSON, as it is stored, so that a resumed run compares like with like (tuples -> lists).
    params = json.loads(json.dumps(params, default=str))
    identity = {
        "cache_fingerprint": cache.fingerprint,
        "layer": layer,
        "test_size": cache.sizes["test"],
        "heads": params,
    }
    out = Path(out) if out is not None else default_out(cache, layer, identity)
    check_writable(out)
    done = _check_resumable(out, identity)

    grid = [(h, s, n) for h in head_list for s in seed_list for n in sizes]
    grid += [(baseline, s, n) for s in seed_list for n in b_sizes] if baseline else []
    rows_by_key = {k: done[k] for k in grid if k in done}
    todo = [k for k in grid if k not in rows_by_key]
    # At the full train split every seed's subset is the same set of images:
    # a head whose fit ignores the seed is fitted there once (first seed), and
    # the other seeds' rows are copies of that one.
    full = cache.sizes["train"]
    shared = {(h, s, full): (h, seed_list[0], full) for h in head_list if full in sizes and not uses_seed(h, params[h])
              for s in seed_list[1:]}
    tasks = _plan(todo, grid, shared, params)
    # Longest fits first (baselines on raw images, then by rows fitted), so
    # the last workers to finish hold small tasks.
    rank = {h: i for i, h in enumerate(head_list)}
    tasks.sort(key=lambda t: (t[0] not in BASELINES, -sum(t[2]), rank.get(t[0], -1), t[1]))

    m = cache.meta
    meta = {
        "featcache_curve": 1,
        "cache": str(cache.path),
        "cache_fingerprint": cache.fingerprint,
        "dataset": m.get("dataset"),
        "source": m.get("source"),
        "backbone": m.get("backbone"),
        "weights": m.get("weights"),
        "weights_source": m.get("weights_source"),
        "weights_random": m.get("weights_random", False),
        "image_size": m.get("image_size"),
        "preprocessing": m.get("preprocessing"),
        "layer": layer,
        "class_names": cache.class_names,
        "train_size": cache.sizes["train"],
        "test_size": cache.sizes["test"],
        "sizes": sizes,
        "seeds": seed_list,
        "heads": head_list,
        "head_params": params,
        "baseline": baseline,
        "baseline_sizes": b_sizes,
        "jobs": jobs,
        "identity": identity,
        "complete": False,
    }

    def ordered() -> list[dict[str, Any]]:
        return [rows_by_key[k] for k in grid if k in rows_by_key]

    # The table first, then the settings: rows of heads this run leaves out
    # must be gone before curve.json stops vouching for their settings.
    write_rows(out / "curve.csv", ordered())
    write_json(out / "curve.json", meta)
    if verbose:
        print(f"learning curve: {len(grid)} points ({len(rows_by_key)} already in {out / 'curve.csv'}), "
              f"sizes {','.join(map(str, sizes))}, seeds {len(seed_list)}, heads {','.join(head_list)}"
              + (f", baseline {baseline} at {','.join(map(str, b_sizes))}" if baseline else "") + f", jobs {jobs}")

    subsets = {s: training_rows(y, sorted(set(sizes) | set(b_sizes)), s) for s in seed_list}
    mtime = os.path.getmtime(cache.path)
    feats, images = _Data(str(cache.path), mtime, layer), _Data(str(cache.path), mtime, None)
    work = [(images if h in BASELINES else feats, (h, s, ns), params[h], [subsets[s][n] for n in ns]) for h, s, ns in tasks]

    def copy_shared() -> int:
        new = [k for k, src in shared.items() if k not in rows_by_key and src in rows_by_key]
        for k in new:
            rows_by_key[k] = {**rows_by_key[shared[k]], "seed": k[1], "fit_seconds": 0.0}  # no fit of its own
        return len(new)

    from featcache.progress import Progress

    bar = Progress(len(todo), unit="point") if verbose and todo else None
    fits_run = 0
    try:
        added = copy_shared()
        if bar is not None and added:
            bar.update(added)
        for (head, seed, ns), results in _execute(work, jobs):
            fits_run += len(ns)
            for n, (acc, secs) in zip(ns, results):
                if (head, seed, n) not in rows_by_key:  # a re-run chain keeps the rows already written
                    rows_by_key[(head, seed, n)] = {"size": n, "seed": seed, "head": head, "accuracy": acc, "fit_seconds": secs}
                    added += 1
            added += copy_shared()
            write_rows(out / "curve.csv", ordered())
            if bar is not None:
                bar.update(added, values=[("acc", results[-1][0])])
    finally:
        # The arrays are held for workers; the caller's process need not keep them.
        _load_features.cache_clear()
        _load_images.cache_clear()

    rows = ordered()
    seconds = time.perf_counter() - t_start
    from featcache.analysis.plots import summarize

    meta.update(complete=True, seconds=round(seconds, 3), rows_added=len(todo), rows_resumed=len(grid) - len(todo),
                fits_run=fits_run, rows_shared=len(shared),
                fit_seconds_total=round(sum(r["fit_seconds"] for r in rows), 3),
                summary={h: {str(n): round(v[0], 4) for n, v in by.items()} for h, by in summarize(rows).items()})
    if plot:
        from featcache.analysis.plots import CurveSet, plot_learning_curves

        plot_learning_curves([CurveSet("", rows, meta)], out / "curve.png", title=title_for(meta))
    write_json(out / "curve.json", meta)
    if verbose:
        print(f"wrote {out / 'curve.csv'}, curve.json" + (", curve.png" if plot else "") + f" in {seconds:.1f} s")
    return CurveResult(out, rows, seconds, len(todo), len(grid) - len(todo), meta)


def _plan(todo: list[tuple[str, int, int]], grid: list[tuple[str, int, int]], shared: dict, params: dict[str, dict[str, Any]]):
    """The fits that produce the missing rows: ``(head, seed, sizes)`` tasks.

    A warm-started head fits each seed's sizes in one task, smallest first,
    and always the whole chain (less shared rows), so a point's starting
    solution does not depend on what an earlier, interrupted run finished.
    Other heads fit one size per task.
    """
    tasks: list[tuple[str, int, tuple[int, ...]]] = []
    missing = [k for k in todo if k not in shared]
    for head, seed in dict.fromkeys((h, s) for h, s, _ in missing):
        if params[head].get("warm_start"):
            tasks.append((head, seed, tuple(n for h, s, n in grid if (h, s) == (head, seed) and (h, s, n) not in shared)))
        else:
            tasks += [(head, seed, (n,)) for h, s, n in missing if (h, s) == (head, seed)]
    return tasks


def _execute(work: list[tuple], jobs: int):
    """Yield ``(task, [(accuracy, seconds), ...])`` as tasks finish."""
    if jobs == 1 or len(work) <= 1:
        for item in work:
            yield _run_task(*item)
        return
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=jobs, backend=BACKEND, return_as="generator_unordered", max_nbytes=None)
    yield from parallel(delayed(_run_task)(*item) for item in work)
