"""Every plot featcache draws: learning curves, accuracy by layer (probe), confusion matrices.

All use matplotlib's ``Figure`` API directly, never ``pyplot`` or
``matplotlib.use()``: library code must not switch a notebook user's backend,
and a ``Figure`` needs no display. Every PNG is written atomically.

``plot_learning_curves`` draws ``featcache curve``, ``scripts/plot_learning_curve.py``
and any comparison (two backbones, two image sizes, best layer vs final
layer) from a list of labelled ``CurveSet``s.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from featcache.store.atomic import atomic_path

def _matplotlib_config() -> None:
    """Give matplotlib a writable config folder before its first import when the usual one is not (HOME=/proc, a
    read-only home): it then printed two lines of warnings into evaluate's, probe's and curve's output (an
    adversarial tester). A folder the user chose (MPLCONFIGDIR) is left alone."""
    import os
    import sys
    import tempfile

    if "matplotlib" in sys.modules or os.environ.get("MPLCONFIGDIR"):
        return
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    folder = os.path.join(base, "matplotlib")
    try:
        os.makedirs(folder, exist_ok=True)
        if os.access(folder, os.W_OK | os.X_OK):
            return
    except OSError:
        pass
    # One folder per user, kept: a new mkdtemp each run left a folder per process behind (a review)
    mine = os.path.join(tempfile.gettempdir(), f"featcache-matplotlib-{os.getuid() if hasattr(os, 'getuid') else 'user'}")
    try:
        os.makedirs(mine, mode=0o700, exist_ok=True)
        if os.stat(mine).st_uid != os.getuid() or not os.access(mine, os.W_OK):  # someone else's: not ours to use
            mine = tempfile.mkdtemp(prefix="featcache-matplotlib-")
    except (OSError, AttributeError):
        mine = tempfile.mkdtemp(prefix="featcache-matplotlib-")
    os.environ["MPLCONFIGDIR"] = mine


# Heads measured at a few sizes only (the end-to-end baselines): drawn as
# points with error bars rather than as a curve with a band.
POINT_HEADS = ("scratch",)
LINESTYLES = ("-", "--", ":", "-.")


@dataclass
class CurveSet:
    """One labelled set of curve rows (dicts with size, seed, head, accuracy)."""

    label: str
    rows: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)


def describe(meta: dict[str, Any]) -> str:
    """A short name for the features a curve was measured on, e.g. 'mobilenet_v2 96px out_relu'."""
    parts = [meta.get("backbone"), f"{meta['image_size']}px" if meta.get("image_size") else None, meta.get("layer")]
    train, test = len(meta.get("train_views") or ["orig"]), len(meta.get("test_views") or ["orig"])
    if (train, test) != (1, 1):
        parts.append(f"{train} views" if train == test else f"train {train} views, test {test}")
    if meta.get("weights_random"):
        parts.append("RANDOM WEIGHTS")
    return " ".join(str(p) for p in parts if p)


def head_label(head: str, params: dict[str, Any] | None) -> str:
    """Legend name of a head, with the settings that shape its curve."""
    p = params or {}
    if head == "keras" and "epochs" in p:
        return f"keras dense head ({p['epochs']} epochs{', early stopping' if p.get('early_stopping') else ''})"
    if head == "logreg" and "C" in p:
        return f"logistic regression (C={p['C']})"
    if head == "svm" and "C" in p:
        return f"RBF SVM (C={p['C']})"
    if head == "scratch":
        return "from-scratch CNN" + (f" ({p['epochs']} epochs)" if "epochs" in p else "")
    return head


def size_label(n: int) -> str:
    if n < 1000:
        return str(n)
    return f"{n / 1000:g}k"


def summarize(rows: Iterable[dict[str, Any]]) -> dict[str, dict[int, tuple[float, float, float, int]]]:
    """``{head: {size: (mean, min, max, n_seeds)}}`` of test accuracy."""
    acc: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        acc[r["head"]][int(r["size"])].append(float(r["accuracy"]))
    return {
        head: {n: (float(np.mean(v)), float(np.min(v)), float(np.max(v)), len(v)) for n, v in sorted(by_size.items())}
        for head, by_size in acc.items()
    }


def plot_learning_curves(
    sets: Sequence[CurveSet],
    path: str | Path,
    *,
    title: str | None = None,
    point_heads: Sequence[str] = POINT_HEADS,
    figsize: tuple[float, float] = (8.0, 5.0),
    dpi: int = 120,
) -> Path:
    """Draw every head of every set into one figure and write it to ``path`` (PNG).

    Lines are the mean over seeds with a min-max band; heads in
    ``point_heads`` are points with min-max error bars. With one set, colour
    tells heads apart; with several, colour is the set and line style the head.
    """
    _matplotlib_config()
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    ax = fig.add_subplot()
    colors = [f"C{i}" for i in range(10)]
    all_sizes: set[int] = set()
    n_seeds: set[int] = set()
    many = len(sets) > 1
    color_i = 0
    for s_i, cs in enumerate(sets):
        for h_i, (head, by_size) in enumerate(summarize(cs.rows).items()):
            sizes = np.array(list(by_size))
            mean, lo, hi, k = (np.array(v) for v in zip(*by_size.values()))
            all_sizes.update(int(n) for n in sizes)
            n_seeds.update(int(x) for x in k)
            color = colors[s_i % 10] if many else colors[color_i % 10]
            color_i += 1
            name = head_label(head, cs.meta.get("head_params", {}).get(head))
            name = f"{cs.label}: {name}" if cs.label else name
            if head in point_heads:
                ax.errorbar(sizes, mean, yerr=[mean - lo, hi - mean], fmt="s", ms=7, capsize=4, color=color if many else "black",
                            ls=":", lw=1, label=f"{name}, raw images")
            else:
                ls = LINESTYLES[h_i % len(LINESTYLES)] if many else "-"
                ax.plot(sizes, mean, ls=ls, marker="o", ms=4, lw=2, color=color, label=name)
                if (k > 1).any():
                    ax.fill_between(sizes, lo, hi, color=color, alpha=0.18, lw=0)
            # The value a reader looks for first: accuracy with all the data.
            ax.annotate(f"{mean[-1]:.3f}", (sizes[-1], mean[-1]), xytext=(6, 0), textcoords="offset points",
                        va="center", fontsize=8, color=color if (many or head not in point_heads) else "black")
    ax.set_xscale("log")
    ticks = sorted(all_sizes)
    if ticks:
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FixedFormatter([size_label(n) for n in ticks]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlim(ticks[0] / 1.25, ticks[-1] * 1.45)  # room for the end labels
    ax.set_xlabel("training images (log scale; nested, class-stratified subsets)")
    ax.set_ylabel("test accuracy")
    ax.grid(True, alpha=0.3)
    seeds = "/".join(str(k) for k in sorted(n_seeds)) or "0"
    ax.legend(loc="lower right", fontsize=9, handlelength=3.5, title=f"mean of {seeds} seed(s); band/bars: min-max", title_fontsize=8)
    if title:
        ax.set_title(title, fontsize=11)
    return _save(fig, path)


def _save(fig, path: str | Path, dpi: int | None = None) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", **({"dpi": dpi} if dpi else {}))
    return path


def confusion_text(cm: np.ndarray, class_names: list[str]) -> str:
    """Rows: true class; columns: predicted class (numbered as the rows)."""
    width = max(5, len(str(int(cm.max(initial=0)))) + 1)
    label_w = max(len(n) for n in class_names) + 4
    head = " " * label_w + "".join(f"{j:>{width}}" for j in range(len(class_names)))
    lines = ["true \\ predicted", head]
    for i, name in enumerate(class_names):
        lines.append(f"{i:>2} {name:<{label_w - 3}}" + "".join(f"{int(v):>{width}}" for v in cm[i]))
    return "\n".join(lines)


def plot_confusion(cm: np.ndarray, class_names: list[str], path: str | Path, title: str = "") -> Path:
    """A heatmap with the count in every cell, true classes down, predicted across."""
    _matplotlib_config()
    from matplotlib.figure import Figure

    n = len(class_names)
    size = max(5.0, 0.6 * n + 2.5)
    fig = Figure(figsize=(size + 1, size), layout="tight")
    ax = fig.add_subplot()
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="images")
    ax.set_xticks(range(n), labels=class_names, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n), labels=class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title, fontsize=9)
    threshold = cm.max(initial=0) / 2
    for i in range(n):
        for j in range(n):
            if n <= 30:  # beyond that the numbers no longer fit in the cells
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if cm[i, j] > threshold else "black")
    return _save(fig, path, dpi=120)


def views_label(train_views: str, test_views: str) -> str:
    """A legend name of a view setting (comma-separated view names, as probe.csv holds them)."""
    from featcache.embedding.views import parse_views

    train, test = len(parse_views(train_views)), len(parse_views(test_views))
    if (train, test) == (1, 1):
        return "original view"
    return f"train {train} views, test " + ("original" if test == 1 else f"{test} averaged")


def plot_probe(rows: Sequence[Any], best: Any, path: str | Path, title: str = "") -> Path:
    """Accuracy against depth (``ProbeRow``s), one line per head (and view setting, on a cache with views), the best point marked."""
    _matplotlib_config()
    from matplotlib.figure import Figure

    layers = [r.layer for r in sorted({r.depth: r for r in rows}.values(), key=lambda r: r.depth)]
    fig = Figure(figsize=(max(6.0, 0.45 * len(layers) + 2), 4.5), layout="tight")
    ax = fig.add_subplot()
    setting = lambda r: (getattr(r, "train_views", "orig"), getattr(r, "test_views", "orig"))  # noqa: E731
    several = len({setting(r) for r in rows}) > 1
    for head, s in dict.fromkeys((r.head, setting(r)) for r in rows):
        pts = sorted((r.depth, r.accuracy) for r in rows if (r.head, setting(r)) == (head, s))
        label = f"{head}, {views_label(*s)}" if several else head
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
    views = f", {views_label(*setting(best))}" if several else ""
    ax.plot([best.depth], [best.accuracy], marker="*", markersize=18, color="crimson", linestyle="none",
            label=f"best: {best.layer} + {best.head}{views} ({best.accuracy:.3f})")
    ax.set_xticks(range(len(layers)))
    from featcache.embedding.backbones import short_layer  # the names --layers takes too

    ax.set_xticklabels([short_layer(l) for l in layers], rotation=60, ha="right", fontsize=8)
    ax.set_xlabel("layer (input side -> output)")
    ax.set_ylabel("test accuracy" if best.scored_on == "test" else "held-out accuracy (train split)")
    ax.set_title(title or "accuracy by layer", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _save(fig, path, dpi=120)
