"""train: fit a head on a cache's train split, score it on the test split, save it.

``featcache.train(cache, head="keras")`` is ``featcache train CACHE --head keras``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from featcache import paths
from featcache.analysis.subsets import stratified_subset
from featcache.errors import FeatcacheError
from featcache.heads import HEADS, DenseHead, make_head
from featcache.heads.io import head_meta, save_head
from featcache.store.cache import Cache, open_cache

SUFFIX = {"keras": ".keras"}  # every other head is a joblib file
DEFAULT_SUFFIX = ".joblib"


@dataclass
class TrainResult:
    path: Path
    head: str
    preset: str | None
    layer: str
    train_images: int
    test_images: int
    accuracy: float
    fit_seconds: float
    details: dict[str, Any] = field(default_factory=dict)  # epochs run, chosen C, ...

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def as_cache(cache: Cache | str | Path) -> Cache:
    return cache if isinstance(cache, Cache) else open_cache(cache)


def require_splits(cache: Cache, *splits: str) -> None:
    for split in splits:
        if split not in cache.sizes:
            raise FeatcacheError(
                f"{cache.path} has no {split!r} split (it has {', '.join(cache.split_names)}); "
                f"extract a cache with a {split} split"
            )


def build_head(
    head: str,
    *,
    preset: str | None = None,
    epochs: int | None = None,
    C: float | str | None = None,
    seed: int = 0,
    n_classes: int | None = None,
    standardize: bool = False,
):
    """A head from the train options; options that do not apply to ``head`` are refused."""
    if head not in HEADS:
        make_head(head)  # raises the one-line "unknown head" error
    if head == "keras":
        if C is not None:
            raise FeatcacheError("--C applies to --head logreg and svm only; the Keras head is set with --preset and --epochs")
        overrides: dict[str, Any] = {"seed": seed, "n_classes": n_classes, "standardize": standardize}
        if epochs is not None:
            overrides["epochs"] = epochs
        return DenseHead.from_preset(preset or "default", **overrides)
    if preset is not None or epochs is not None or standardize:
        raise FeatcacheError(f"--preset, --epochs and --standardize apply to --head keras only; --head {head} is set with --C "
                             "(and always standardizes)")
    params: dict[str, Any] = {"seed": seed}
    if C is not None:
        params["C"] = C
    return make_head(head, **params)


def head_suffix(head: str) -> str:
    return SUFFIX.get(head, DEFAULT_SUFFIX)


def default_head_path(cache: Cache, layer: str, head: str, preset: str | None, n: int, seed: int) -> Path:
    m = cache.meta
    name = "_".join(
        str(p) for p in (m.get("dataset"), m.get("backbone"), cache.fingerprint[:12], layer, head, preset, f"n{n}", f"s{seed}") if p
    )
    return paths.runs_dir() / "heads" / (name + head_suffix(head))


def _details(head) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for attr in ("epochs_run_", "C_", "cv_scores_"):
        if hasattr(head, attr):
            d[attr.rstrip("_")] = getattr(head, attr)
    return d


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
    verbose: bool = True,
    standardize: bool = False,
) -> TrainResult:
    """Fit ``head`` on the cache's train split (or a stratified subset of ``train_size``), score on test, save.

    The head file (``.keras`` for Keras, joblib otherwise) carries the cache's
    fingerprint, class names, layer and feature settings (``heads.io.head_meta``).
    """
    cache = as_cache(cache)
    require_splits(cache, "train", "test")
    est = build_head(head, preset=preset, epochs=epochs, C=C, seed=seed, n_classes=len(cache.class_names), standardize=standardize)
    if head == "keras":
        preset = preset or "default"
    if out is not None and Path(out).suffix != head_suffix(head):
        raise FeatcacheError(f"a {head} head is saved as a {head_suffix(head)} file; use --out {Path(out).with_suffix(head_suffix(head))}")
    layer = layer or cache.default_layer
    X_test, y_test = cache.features("test", layer), cache.labels("test")  # checks the layer before any training
    y = cache.labels("train")
    rows = stratified_subset(y, train_size, seed) if train_size is not None else None
    X = cache.features("train", layer, rows)
    if rows is not None:
        y = y[rows]
    if verbose:
        what = f"{head} head" + (f" (preset {preset})" if preset else "")
        print(f"training a {what} on {len(y)} cached images, layer {layer} ...", flush=True)

    t0 = time.perf_counter()
    est.fit(X, y)
    fit_seconds = time.perf_counter() - t0
    accuracy = float(est.score(X_test, y_test))

    # A standardizing head is another head: its default file must not replace the plain one's.
    tag = f"{preset}-std" if standardize else preset
    path = Path(out) if out is not None else default_head_path(cache, layer, head, tag, len(y), seed)
    result = TrainResult(path, head, preset, layer, int(len(y)), int(len(y_test)), accuracy, fit_seconds, _details(est))
    meta = head_meta(cache, layer, head, est)
    meta.update(preset=preset, train_size=train_size, train_images=len(y), seed=seed,
                test_accuracy=accuracy, fit_seconds=round(fit_seconds, 3), details=result.details)
    save_head(est, path, meta)
    if verbose:
        extra = "".join(f", {k} {v}" for k, v in result.details.items() if k != "cv_scores")
        print(f"test accuracy {accuracy:.4f} on {len(y_test)} images; fit {fit_seconds:.1f} s{extra} -> {path}")
    return result
