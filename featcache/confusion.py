"""Confusion matrices as text and as a PNG heatmap."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .atomic import atomic_path


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(class_names)
    size = max(5.0, 0.6 * n + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1, size))
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
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return path
