"""Plots of learning curves: test accuracy against training-set size.

``plot_learning_curves`` is the one plotting function: ``featcache curve``,
``scripts/plot_learning_curve.py`` and any comparison (two backbones, two
image sizes, best layer vs final layer) hand it a list of labelled
``CurveSet``s. Matplotlib runs headless (Agg) and the PNG is written
atomically.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .atomic import atomic_path

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
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, FixedFormatter, NullLocator

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
    ax.legend(loc="lower right", fontsize=9, title=f"mean of {seeds} seed(s); band/bars: min-max", title_fontsize=8)
    if title:
        ax.set_title(title, fontsize=11)
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path
