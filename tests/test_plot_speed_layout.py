"""The plots are written as matplotlib's own savefig lays them out, with fewer draws (scripts/bench_plots.py times them).

savefig lays a figure with a layout engine out in a whole draw of its own before the draw it writes, and the layout
fitting (the title wrapped to fit, the legend placed, the end labels spread) drew each figure once a step before
that. ``plots._save`` writes a figure its fitting has just laid out as drawn, and lays any other out without a draw;
the fitting judges the title and the legend on one draw. These tests pin both halves: the PNG is pixel for pixel the
one savefig writes of the same figure, and each figure is drawn no more often than that needs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _figures() -> dict:
    """name -> (a function making the figure, the dpi it is written at)."""
    from featcache.analysis import plots
    from featcache.analysis.probe import ProbeRow

    rows = [{"head": h, "size": n, "seed": s, "accuracy": 0.6 + 0.05 * np.log10(n) - 0.02 * i + 0.003 * s}
            for i, h in enumerate(("logreg", "svm", "scratch")) for n in (100, 500, 2000) for s in range(2)]
    curve = [plots.CurveSet("", rows, {"backbone": "mobilenet_v2", "image_size": 96, "layer": "out_relu"})]
    probe = [ProbeRow(d, f"block_{d}_expand_relu", 96, h, 0.03, 0.7 + 0.02 * d - 0.01 * k, "holdout", 0.1)
             for d in range(1, 7) for k, h in enumerate(("logreg", "svm"))]
    best = max(probe, key=lambda r: r.accuracy)
    lesson = [{"approach": a, "training_images": 4000, "test_accuracy": acc, "training_seconds": 3.0}
              for a, acc in (("from-scratch CNN (2 epochs)", 0.8512), ("transfer: logistic regression", 0.8655))]
    cm = np.arange(100).reshape(10, 10) % 13
    names = [f"class {i}" for i in range(10)]
    return {
        "curve": (lambda: plots.learning_curve_figure(curve, title="a learning curve of three heads"), 120),
        "probe": (lambda: plots.probe_figure(probe, best, "a probe of six layers", "mobilenet_v2"), 120),
        "lesson": (lambda: plots.lesson_figure(lesson, {"the lesson's transfer": 0.87}), 120),
        "confusion": (lambda: plots.confusion_figure(cm, names, "evaluate: head on cache (test)"), 120),
    }


def _pixels(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path))


def _counting_draws(monkeypatch) -> list:
    """The figures' completed draws from now on (savefig's search for a renderer starts one only to stop it)."""
    from matplotlib.figure import Figure

    real, done = Figure.draw, []

    def draw(self, renderer):
        result = real(self, renderer)
        done.append(renderer)
        return result

    monkeypatch.setattr(Figure, "draw", draw)
    return done


# The most draws each figure needs, fitting and written: the curve's fitting and its PNG; the probe's and the lesson's
# fitting (at the figure's 100 dpi), then the PNG laid out at 120 without a draw; the confusion matrix only its PNG.
# Before, 5, 4, 3 and 2: every fitting step drew the figure again, and savefig drew it once more to lay it out.
MOST_DRAWS = {"curve": 2, "probe": 2, "lesson": 2, "confusion": 1}


@pytest.mark.parametrize("name", list(MOST_DRAWS))
def test_each_plot_is_savefigs_own_pixels_with_fewer_draws(name, tmp_path, monkeypatch):
    """The PNG is the one savefig writes of the same figure, drawn at most MOST_DRAWS times. _save writes without
    savefig's layout draw by taking the figure's layout engine off for the write: the figure (probe_figure's and the
    others', which a notebook user may draw again) gets it back, and its own dpi."""
    from featcache.analysis.plots import _save

    make, dpi = _figures()[name]
    reference = tmp_path / "savefig.png"
    make().savefig(reference, format="png", dpi=dpi)  # matplotlib's own: laid out again in a draw of its own
    done = _counting_draws(monkeypatch)
    fig = make()
    engine, own = fig.get_layout_engine(), fig.dpi
    ours = _save(fig, tmp_path / "ours.png", dpi=dpi)
    assert len(done) <= MOST_DRAWS[name], len(done)
    a, b = _pixels(reference), _pixels(ours)
    assert a.shape == b.shape and (a == b).all(), f"{int((a != b).any(axis=-1).sum())} pixels differ"
    assert fig.get_layout_engine() is engine and fig.dpi == own
