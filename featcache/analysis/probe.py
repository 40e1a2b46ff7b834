"""probe: which layer transfers. One head per cached layer, train -> test accuracy.

Reads a multi-layer cache (``extract --layers blocks``), fits every requested
head on every cached layer's training features, scores it on the test split,
and writes a CSV and a plot of accuracy against depth.

Picking a layer by its test accuracy and then quoting that accuracy flatters
it; ``holdout=F`` instead scores on a stratified fraction F of the training
rows (fitting on the rest) and never reads the test split, which is how
``lesson`` chooses its layer.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from featcache import paths
from featcache.analysis.plots import plot_probe
from featcache.errors import FeatcacheError
from featcache.store.atomic import write_bytes
from featcache.validate import (
    check_fraction,
    check_jobs,
    check_seed,
    check_writable_dir,
    parse_C_per_head,
    parse_list,
    require_splits,
)

if TYPE_CHECKING:
    from featcache.store.cache import Cache

# scikit-learn and h5py are imported where they are used: the CLI imports this
# module for its defaults (help texts) when it builds its parser.
DEFAULT_HEADS = ("logreg", "svm")
# probe only needs predictions: the SVM skips probability calibration, which
# refits it 3 more times (same SVC, 2.5-5x faster; docs/benchmarks.md).
PROBE_PARAMS: dict[str, dict[str, Any]] = {"svm": {"probability": False}}
CSV_FIELDS = ("depth", "layer", "width", "head", "C", "accuracy", "scored_on", "fit_seconds")


@dataclass
class ProbeRow:
    depth: int  # position of the layer among the cached ones, input side first
    layer: str
    width: int
    head: str
    C: float | str | None  # the C used (the one picked, for C="cv"); None for heads without C
    accuracy: float
    scored_on: str  # "test", or "holdout" (a held-out part of the train split)
    fit_seconds: float


@dataclass
class ProbeResult:
    cache: Path
    rows: list[ProbeRow]
    best: ProbeRow
    csv: Path | None = None
    plot: Path | None = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cache": str(self.cache), "csv": str(self.csv) if self.csv else None, "plot": str(self.plot) if self.plot else None,
            "params": self.params, "best": asdict(self.best), "rows": [asdict(r) for r in self.rows],
        }


parse_C = parse_C_per_head  # the name before featcache.validate


def parse_heads(heads: str | list[str] | tuple[str, ...] | None) -> list[str]:
    from featcache.heads import HEADS

    return list(DEFAULT_HEADS) if heads is None else parse_list(heads, "--heads", known=list(HEADS))


def probe_layers(cache: Cache, layers: str | list[str] | None) -> list[str]:
    """The cached layers to probe, in network order."""
    from featcache.embedding.backbones import get_backbone, network_order

    if layers is None:
        names = cache.layers
    else:
        names = parse_list(layers, "--layers")
        for name in names:
            if name not in cache.layers:
                raise FeatcacheError(
                    f"layer {name!r} is not in {cache.path}; cached layers: {', '.join(cache.layers)} "
                    "(extract it with --layers)"
                )
    return network_order(get_backbone(cache.meta["backbone"]), names, cache.meta.get("image_size"))


def holdout_rows(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, held-out rows) of the train split: a seeded, stratified split."""
    from featcache.analysis.subsets import stratified_order

    fraction = check_fraction(fraction, "--holdout")
    n_classes, n_out = len(np.unique(y)), int(round(fraction * len(y)))
    if min(n_out, len(y) - n_out) < n_classes:
        raise FeatcacheError(f"--holdout {fraction} of {len(y)} training images leaves fewer images than the {n_classes} "
                             "classes on one side; use a fraction nearer 0.5 or a larger cache")
    order = stratified_order(y, seed)
    return np.sort(order[n_out:]), np.sort(order[:n_out])


def _fit_one(path: Path, layer: str, head_name: str, params: dict[str, Any], holdout: float | None, seed: int) -> tuple[float, float | str | None, float]:
    from threadpoolctl import threadpool_limits

    from featcache.heads import make_head
    from featcache.store.cache import open_cache

    cache = open_cache(path)
    X, y = cache.features("train", layer), cache.labels("train")
    if holdout is None:
        Xt, yt = cache.features("test", layer), cache.labels("test")
    else:
        fit, out = holdout_rows(y, holdout, seed)
        X, y, Xt, yt = X[fit], y[fit], X[out], y[out]
    head = make_head(head_name, **params)
    t = time.perf_counter()
    # One BLAS thread per fit; parallelism comes from running fits side by
    # side (n_jobs). On this shared 2-core machine OpenBLAS's own threads made
    # a logistic-regression fit 20x slower (47 s against 1.7 s, under load).
    with threadpool_limits(1, user_api="blas"):
        head.fit(X, y)
        accuracy = float(head.score(Xt, yt))
    C = getattr(head, "C_", params.get("C"))
    return accuracy, C, time.perf_counter() - t


def probe(
    cache: str | Path | Cache,
    *,
    heads: str | list[str] | None = None,
    C: str | float | dict[str, Any] | None = None,
    layers: str | list[str] | None = None,
    out: str | Path | None = None,
    holdout: float | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    plot: bool = True,
    verbose: bool = False,
) -> ProbeResult:
    """Fit each head on each cached layer (train split), score on the test split.

    ``heads``: names from ``HEADS`` (default logreg and svm, each with its own
    default C); ``C``: one value for every head, or per head
    (``"logreg=0.03,svm=10"``; ``"cv"`` picks it by cross-validation on the
    training rows). ``holdout``: score on that stratified fraction of the
    train split (seeded by ``seed``) instead of the test split. Writes
    ``probe.csv`` and ``probe.png`` into ``out`` (default
    ``data/runs/probe_<cache name>/``). Prints the table only when ``verbose``.
    """
    from featcache.store.cache import Cache, open_cache

    cache = cache if isinstance(cache, Cache) else open_cache(cache)
    head_names, params, names = _settings(cache, heads, C, layers, holdout, seed)
    seed, n_jobs = check_seed(seed), check_jobs(n_jobs)
    # Before any fit: an unwritable --out must not cost the fits.
    out_dir = check_writable_dir(Path(out) if out else paths.runs_dir() / f"probe_{cache.path.stem}")
    if verbose:
        print(f"probing {len(names)} layer(s) x {len(head_names)} head(s) on {cache.path} ({_scoring(cache, holdout)})")
    jobs = [(layer, h) for layer in names for h in head_names]
    results = _run_jobs(cache.path, jobs, params, holdout, seed, n_jobs, verbose)
    widths = cache.meta.get("layer_widths", {})
    scored_on = "test" if holdout is None else "holdout"
    rows = [
        ProbeRow(names.index(layer), layer, int(widths.get(layer, 0)), h, results[(layer, h)][1],
                 round(results[(layer, h)][0], 6), scored_on, round(results[(layer, h)][2], 3))
        for layer, h in jobs
    ]
    best = best_row(rows)
    result = ProbeResult(cache.path, rows, best, params=params)
    result.csv = write_bytes(out_dir / "probe.csv", _csv_text(rows).encode())
    if plot:
        result.plot = plot_probe(rows, best, out_dir / "probe.png", title=_title(cache, holdout))
    if verbose:
        _print_table(rows, head_names, names, widths, best)
        print(f"wrote {result.csv}" + (f" and {result.plot}" if result.plot else ""))
    return result


def best_row(rows: list[ProbeRow]) -> ProbeRow:
    """The most accurate row; ties go to the shallower layer (the truncated network is then smaller and faster),
    then to the earlier head in the order asked for."""
    return max(rows, key=lambda r: (r.accuracy, -r.depth))  # max keeps the first of equal keys


def _settings(cache: Cache, heads, C, layers, holdout: float | None, seed: int):
    """Checked heads, their parameters and the layers to probe (network order); refuses bad input before any fit."""
    head_names = parse_heads(heads)
    Cs = parse_C_per_head(C, head_names)
    check_seed(seed)
    require_splits(cache, *(("train",) if holdout is not None else ("train", "test")),
                   why=f"probe needs {'a train split' if holdout is not None else 'train and test (or --holdout F)'}")
    if holdout is not None:
        holdout_rows(cache.labels("train"), holdout, check_seed(seed))  # bad fractions fail before any fit
    names = probe_layers(cache, layers)
    params = {h: {**PROBE_PARAMS.get(h, {}), **({"C": Cs[h]} if h in Cs else {})} for h in head_names}
    return head_names, params, names


def _run_jobs(path: Path, jobs, params, holdout, seed, n_jobs: int, verbose: bool) -> dict:
    from featcache.progress import Progress

    bar = Progress(len(jobs), unit="fit") if verbose else None
    results = {}
    if n_jobs == 1:
        for i, (layer, h) in enumerate(jobs):
            results[(layer, h)] = _fit_one(path, layer, h, params[h], holdout, seed)
            if bar:
                bar.update(i + 1)
        return results
    from joblib import Parallel, delayed

    def task(layer, h):
        return (layer, h), _fit_one(path, layer, h, params[h], holdout, seed)

    gen = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(delayed(task)(layer, h) for layer, h in jobs)
    for i, (key, value) in enumerate(gen):
        results[key] = value
        if bar:
            bar.update(i + 1)
    return results


def _scoring(cache: Cache, holdout: float | None) -> str:
    n = cache.sizes["train"]
    if holdout is None:
        return f"{n} train -> {cache.sizes['test']} test images"
    n_out = int(round(holdout * n))
    return f"{n - n_out} train -> {n_out} held-out train images; test split unused"


def _title(cache: Cache, holdout: float | None = None) -> str:
    m = cache.meta
    return f"{m.get('backbone')} {m.get('image_size')}px, {m.get('dataset')}: {_scoring(cache, holdout)}"


def _csv_text(rows: list[ProbeRow]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    w.writeheader()
    for r in rows:
        w.writerow(asdict(r))
    return buf.getvalue()


def read_probe_csv(path: str | Path) -> list[ProbeRow]:
    """Rows of a ``probe.csv`` (what ``lesson`` and plots reuse), checked as they are read."""
    try:
        with open(path, newline="") as f:
            rows = [
                ProbeRow(int(r["depth"]), r["layer"], int(r["width"]), r["head"],
                         (r["C"] if r["C"] == "cv" else float(r["C"])) if r["C"] else None,
                         float(r["accuracy"]), r["scored_on"], float(r["fit_seconds"]))
                for r in csv.DictReader(f)
            ]
        bad = [r for r in rows if not 0 <= r.accuracy <= 1 or r.depth < 0 or r.scored_on not in ("test", "holdout")]
        if bad:
            raise ValueError(f"row {asdict(bad[0])} is out of range")
        return rows
    except FileNotFoundError:
        raise FeatcacheError(f"probe file not found: {path}; run 'featcache probe' first or check the path") from None
    except (OSError, ValueError, KeyError, TypeError, csv.Error, UnicodeDecodeError) as exc:
        raise FeatcacheError(f"{path} is not a readable probe.csv ({exc}); pass a file written by 'featcache probe'") from None


def _print_table(rows, head_names, names, widths, best) -> None:
    acc = {(r.layer, r.head): r.accuracy for r in rows}
    lw = max(len(n) for n in names + ["layer"])
    print(f"{'layer':<{lw}}  {'width':>5}  " + "  ".join(f"{h:>7}" for h in head_names))
    for layer in names:
        cells = "  ".join(f"{acc[(layer, h)]:>7.4f}" for h in head_names)
        print(f"{layer:<{lw}}  {widths.get(layer, 0):>5}  {cells}")
    C = f", C={best.C}" if best.C is not None else ""
    what = "test accuracy" if best.scored_on == "test" else "held-out accuracy"
    print(f"best layer: {best.layer} with {best.head}{C}: {what} {best.accuracy:.4f}")

