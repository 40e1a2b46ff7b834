"""evaluate: score a saved head on a cache's split, per class, with a confusion matrix.

``featcache.evaluate(head_path, cache)`` is ``featcache evaluate HEAD CACHE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from featcache import paths
from featcache.analysis.plots import confusion_text, plot_confusion
from featcache.analysis.train import as_cache, require_splits
from featcache.errors import FeatcacheError
from featcache.heads.io import check_compatible, load_head
from featcache.store.atomic import write_json, write_text
from featcache.store.cache import Cache


@dataclass
class EvalResult:
    head_path: Path
    cache_path: Path
    split: str
    layer: str
    class_names: list[str]
    accuracy: float
    per_class: list[dict[str, Any]]  # class, precision, recall, support
    confusion: np.ndarray  # (n_classes, n_classes), rows true, columns predicted
    files: dict[str, Path]

    def to_dict(self) -> dict[str, Any]:
        return {
            "head": str(self.head_path), "cache": str(self.cache_path), "split": self.split, "layer": self.layer,
            "accuracy": self.accuracy, "per_class": self.per_class,
            "class_names": self.class_names, "confusion": self.confusion.tolist(),
            "files": {k: str(v) for k, v in self.files.items()},
        }

    def text(self) -> str:
        lines = [f"head      {self.head_path}", f"cache     {self.cache_path} ({self.split} split, layer {self.layer})",
                 f"accuracy  {self.accuracy:.4f} on {int(self.confusion.sum())} images", "",
                 f"{'class':<16}{'precision':>10}{'recall':>10}{'support':>9}"]
        lines += [f"{r['class']:<16}{r['precision']:>10.3f}{r['recall']:>10.3f}{r['support']:>9}" for r in self.per_class]
        return "\n".join(lines + ["", confusion_text(self.confusion, self.class_names)])


def metrics(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> tuple[float, list[dict[str, Any]], np.ndarray]:
    """Accuracy, per-class precision/recall/support and the confusion matrix."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    labels = np.arange(len(class_names))
    precision, recall, _, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    per_class = [
        {"class": name, "precision": float(p), "recall": float(r), "support": int(s)}
        for name, p, r, s in zip(class_names, precision, recall, support)
    ]
    return float(np.mean(y_true == y_pred)), per_class, confusion_matrix(y_true, y_pred, labels=labels)


def evaluate(
    head: str | Path,
    cache: Cache | str | Path,
    *,
    split: str = "test",
    out: str | Path | None = None,
) -> EvalResult:
    """Score the head file ``head`` on ``split`` of ``cache``; writes a report, JSON and a confusion PNG to ``out``.

    Refuses a cache whose backbone, weights, image size, preprocessing, layer
    or classes differ from those the head was trained on.
    """
    head_path = Path(head)
    est, meta = load_head(head_path)
    cache = as_cache(cache)
    check_compatible(meta, cache)
    if list(meta.get("class_names") or []) != cache.class_names:
        raise FeatcacheError(
            f"the head was trained on classes {meta.get('class_names')}, the cache holds {cache.class_names}; "
            "evaluate on a cache of the same data set"
        )
    require_splits(cache, split)
    layer = meta["layer"]
    X, y = cache.features(split, layer), cache.labels(split)
    accuracy, per_class, cm = metrics(y, est.predict(X), cache.class_names)

    out_dir = Path(out) if out is not None else paths.runs_dir() / "eval" / head_path.stem
    title = f"{meta.get('head')} head on {split} ({int(cm.sum())} images): accuracy {accuracy:.3f}\n{head_path.name}"
    files = {"png": out_dir / "confusion.png", "json": out_dir / "evaluation.json", "text": out_dir / "evaluation.txt"}
    result = EvalResult(head_path, cache.path, split, layer, cache.class_names, accuracy, per_class, cm, files)
    plot_confusion(cm, cache.class_names, files["png"], title=title)
    write_json(files["json"], result.to_dict())
    write_text(files["text"], result.text() + "\n")
    return result
