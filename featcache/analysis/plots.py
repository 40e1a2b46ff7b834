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
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from featcache.errors import clipped, one_line
from featcache.progress import counted
from featcache.store.atomic import atomic_path
from featcache.validate import without_orig, without_words

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.legend import Legend
    from matplotlib.text import Annotation
    from matplotlib.transforms import Bbox

# A title is wrapped to no fewer characters a line than this, however narrow the figure.
MIN_TITLE_CHARS = 20
# The dots an inch of the probe's, the lesson's and the confusion matrix's PNGs (a curve's: plot_learning_curves' dpi).
PNG_DPI = 120


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
    parts = [meta.get("backbone"), f"{meta['image_size']}px" if meta.get("image_size") else None, meta.get("layer"),
             views_text(meta)]
    if meta.get("weights_random"):
        parts.append("RANDOM WEIGHTS")
    return " ".join(str(p) for p in parts if p)


def views_text(meta: dict[str, Any]) -> str:
    """The views a curve's heads were fitted on and averaged, as its title and legend say them ("4 views", "train 4
    views, test 1"); "" for the original view alone."""
    train_views, test_views = meta.get("train_views") or ["orig"], meta.get("test_views") or ["orig"]
    train, test = len(train_views), len(test_views)
    if without_orig(train_views) or without_orig(test_views):  # only:flip's curve was labelled as the original's (h137)
        side = lambda v: f"{len(v)} view{'s' * (len(v) > 1)}" + without_words(v, " {}")  # noqa: E731
        return f"train {side(train_views)}, test {side(test_views)}"
    if (train, test) != (1, 1):
        return f"{train} views" if train == test else f"train {train} views, test {test}"
    return ""


def head_label(head: str, params: dict[str, Any] | None) -> str:
    """Legend name of a head, with the settings that shape its curve: its class's ``legend(params)``; the name alone
    for a head without one, or one this version does not know (a curve.csv from elsewhere)."""
    from featcache.analysis.curve.spec import estimator_class

    try:
        legend = getattr(estimator_class(head), "legend", None)
    except KeyError:
        return head
    return (legend(params or {}) if legend else None) or head


def curve_head_label(head: str, meta: dict[str, Any], point_heads: Sequence[str] = POINT_HEADS) -> str:
    """A curve's head as its legend, text summary and ``--json`` labels name it: ``head_label`` and the views it was
    fitted on and averaged ("logistic regression (C=0.03), 4 views"). Only the title said "4 views", and the legend and
    text read as the original view's head (a new-user tester). A baseline in ``point_heads`` trains on the raw images:
    no views."""
    name = head_label(head, (meta.get("head_params") or {}).get(head))
    views = "" if head in point_heads else views_text(meta)
    return f"{name}, {views}" if views else name


def size_label(n: int) -> str:
    if n < 1000:
        return str(n)
    return f"{n / 1000:g}k"


def accuracy_text(accuracy: float) -> str:
    """An accuracy as curve.png and probe.png label it and ``curve`` prints it, from the unrounded mean, to the 4
    places train, evaluate and probe print and curve.json keeps. Printed to 3 the text said 0.914 where the plot said
    0.915 of the mean 0.91453, and the curve's 4,000 point of 0.8997 read 0.900 where train said 0.8993 (new-user
    testers)."""
    return f"{accuracy:.4f}"


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
    return _save(learning_curve_figure(sets, title=title, point_heads=point_heads, figsize=figsize, dpi=dpi), path)


def learning_curve_figure(
    sets: Sequence[CurveSet],
    *,
    title: str | None = None,
    point_heads: Sequence[str] = POINT_HEADS,
    figsize: tuple[float, float] = (8.0, 5.0),
    dpi: int = 120,
) -> Figure:
    """``plot_learning_curves``'s figure, laid out and not yet written."""
    _matplotlib_config()
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    ax = fig.add_subplot()
    end_labels: list[Annotation] = []
    colors = [f"C{i}" for i in range(10)]
    all_sizes: set[int] = set()
    n_seeds: set[int] = set()
    many = len(sets) > 1
    color_i = 0
    common, names = legend_names(sets, point_heads)
    for s_i, cs in enumerate(sets):
        for h_i, (head, by_size) in enumerate(summarize(cs.rows).items()):
            sizes = np.array(list(by_size))
            mean, lo, hi, k = (np.array(v) for v in zip(*by_size.values()))
            all_sizes.update(int(n) for n in sizes)
            n_seeds.update(int(x) for x in k)
            color = colors[s_i % 10] if many else colors[color_i % 10]
            color_i += 1
            name = names[(s_i, head)]
            if head in point_heads:
                ax.errorbar(sizes, mean, yerr=[mean - lo, hi - mean], fmt="s", ms=7, capsize=4, color=color if many else "black",
                            ls=":", lw=1, label=name)
            else:
                ls = LINESTYLES[h_i % len(LINESTYLES)] if many else "-"
                ax.plot(sizes, mean, ls=ls, marker="o", ms=4, lw=2, color=color, label=name)
                if (k > 1).any():
                    ax.fill_between(sizes, lo, hi, color=color, alpha=0.18, lw=0)
            # The value a reader looks for first: accuracy with all the data.
            end_labels.append(ax.annotate(accuracy_text(mean[-1]), (sizes[-1], mean[-1]), xytext=(6, 0), textcoords="offset points",
                                          va="center", fontsize=8, color=color if (many or head not in point_heads) else "black"))
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
    counts = sorted(n_seeds) or [0]
    seeds = counted(counts[0], "seed") if len(counts) == 1 else "/".join(map(str, counts)) + " seeds"
    what = f"mean of {seeds}; band/bars: min-max"
    _fit_layout(ax, title=title or None, title_fontsize=11,
                legend={"fontsize": 9, "handlelength": 3.5, "title": f"{common}\n{what}" if common else what, "title_fontsize": 8})
    _spread_labels(end_labels)
    return fig


def legend_names(sets: Sequence[CurveSet], point_heads: Sequence[str] = POINT_HEADS) -> tuple[str, dict[tuple[int, str], str]]:
    """(the words every set's label starts with, ``{(set index, head): legend name}``).

    Two curves' names ran off both edges of the figure ("mobilenet_v2 96px block_13_expand_relu 6 views: logistic
    regression (C=0.03)") and the from-scratch baseline carried the feature settings it does not use; curves scored
    on 500 and 3,000 test images were overlaid without a word (a new-user tester). So the words every label starts
    with are said once (the legend's title), a baseline in ``point_heads`` is named for itself ("from-scratch CNN
    (2 epochs), raw images"), and each name says its test n when the sets' differ."""
    words = [cs.label.split() for cs in sets]
    common = 0
    if len(sets) > 1:  # every label keeps a word of its own
        while common < min(len(w) for w in words) - 1 and len({tuple(w[:common + 1]) for w in words}) == 1:
            common += 1
    test_sizes = [cs.meta.get("test_size") for cs in sets]
    names: dict[tuple[int, str], str] = {}
    for s_i, (cs, w) in enumerate(zip(sets, words)):
        own = " ".join(w[common:])
        n = f"test n={test_sizes[s_i]:,}" if len(set(test_sizes)) > 1 and test_sizes[s_i] is not None else ""
        for head in summarize(cs.rows):
            # the views where the set's own label does not say them already (a curve alone has no label)
            views = views_text(cs.meta)
            name = (curve_head_label(head, cs.meta, point_heads) if not views or views not in cs.label
                    else head_label(head, cs.meta.get("head_params", {}).get(head)))
            if head in point_heads:  # trained on the raw images: the set's feature settings are not its own
                names[(s_i, head)] = ", ".join(p for p in (name, "raw images", n) if p)
            else:
                names[(s_i, head)] = (f"{own}: {name}" if own else name) + (f", {n}" if n else "")
    # Two sets' baselines of one name (both curves ran the CNN): each says which curve's run it came from
    twice = {name for name in names.values() if list(names.values()).count(name) > 1}
    for (s_i, head), name in names.items():
        if head in point_heads and name in twice:
            names[(s_i, head)] = f"{name} (run with {' '.join(words[s_i][common:]) or f'curve {s_i + 1}'})"
    return " ".join(words[0][:common]) if common else "", names


def _fit_layout(ax: Axes, *, title: str | None = None, title_fontsize: float = 10.0,
                legend: dict[str, Any] | None = None) -> None:
    """Fit the axes' title and legend to the figure, both judged on the one drawn layout the PNG gets.

    The title (``title``) is wrapped at spaces until it lies within the figure: probe's figure is sized for its
    layers, and with one or two its one-line title ran off both edges ("...test spli"; a new user). The legend (the
    ``ax.legend`` style ``legend``) goes where matplotlib finds it covers the least (``loc="best"``), or below the
    axes when that still covers a line, a point or a value label (which "best" does not weigh) or leaves the figure;
    the figure's constrained layout makes room there. Fixed at the lower right, it covered a from-scratch baseline's
    line from 500 to 1,000 images and touched its point at 500 (a new user).

    Each trial draw checks both, so a figure whose title and legend fit is drawn once here; the legend and the title
    each had a draw of their own, and the legend was judged on the layout before the title took its room (where
    "best" may put it elsewhere). The figure is left drawn as it stands, so that ``_save`` need not lay it out again.
    """
    import textwrap

    fig = ax.figure
    shown, chars = None, 0
    if title is not None:
        text = drawable(title)
        shown, chars = ax.set_title(text, fontsize=title_fontsize), len(text)
    placed = ax.legend(loc="best", **legend) if legend is not None else None
    while True:
        if fig.stale:  # else the legend below's last trial drew the figure as it stands
            _draw_layout(fig)  # the layout places the axes, and so the title centred over them and the legend's "best"
        if shown is not None and chars > MIN_TITLE_CHARS:
            box, room = shown.get_window_extent(), fig.bbox
            margin = 0.015 * room.width  # inside by a margin: a 2-layer probe's title ended on the edge pixel (a tester)
            left, right = room.x0 + margin, room.x1 - margin
            if not (box.x0 >= left and box.x1 <= right):
                centre = (box.x0 + box.x1) / 2
                fits = 2 * min(centre - left, right - centre)  # the widest line centred there that stays inside
                chars = max(MIN_TITLE_CHARS, min(chars - 1, int(chars * fits / box.width)))
                shown.set_text(textwrap.fill(text, chars, break_long_words=False))
                continue
        fits = placed is None or (_lies_within(placed) and not _covers_data(ax, placed.get_window_extent()))
        fig.stale = False  # measuring a legend or a text marks it stale, though nothing moved since the draw
        if not fits:
            placed.remove()
            placed = None
            _legend_below(ax, **legend)
            continue  # the legend below takes room from the axes: the title is judged again
        return


def _draw_layout(fig: Figure) -> None:
    """Lay ``fig`` out as it will be drawn, without rendering it."""
    import warnings

    with warnings.catch_warnings():  # a trial layout: a legend too wide to keep may leave the axes no room
        warnings.filterwarnings("ignore", "constrained_layout not applied")
        fig.draw_without_rendering()


def _legend_below(ax: Axes, **style: Any) -> Legend:
    """The legend below the axes in two columns, else one, else one of names wrapped at spaces, whichever first lies
    within the figure: two columns of long names ran off both edges, cut at "..._13_expand_relu 6 views" and
    "from-scr" (a new-user tester)."""
    import textwrap

    handles, labels = ax.get_legend_handles_labels()
    fig, chars = ax.figure, max(len(label) for label in labels)
    for ncols in dict.fromkeys((min(len(labels), 2), 1)):
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=ncols, **style)
        if _within_figure(legend):
            return legend
        legend.remove()
    while True:
        chars = max(MIN_TITLE_CHARS, int(chars * 0.85))
        legend = fig.legend(handles, [textwrap.fill(label, chars, break_long_words=False) for label in labels],
                            loc="outside lower center", ncols=1, **style)
        if chars == MIN_TITLE_CHARS or _within_figure(legend):
            return legend
        legend.remove()


def _within_figure(legend: Legend) -> bool:
    """Whether ``legend`` lies within its figure's width, laid out as it will be drawn (and where the points are)."""
    _draw_layout(legend.figure)
    within = _lies_within(legend)
    legend.figure.stale = False  # measured, not moved: the figure stands as drawn
    return within


def _lies_within(legend: Legend) -> bool:
    """Whether ``legend`` lies within its figure's width as last drawn."""
    box, fig = legend.get_window_extent(), legend.figure
    return box.x0 >= fig.bbox.x0 and box.x1 <= fig.bbox.x1


def _covers_data(ax: Axes, box: Bbox) -> bool:
    """Whether ``box`` (display pixels) covers part of a line of ``ax`` (a segment, or a marker, by its size) or of
    one of its texts."""
    for line in ax.get_lines():
        path = line.get_transform().transform_path(line.get_path())
        if _drawn(line.get_linestyle()) and len(path.vertices) > 1 and path.intersects_bbox(box, filled=False):
            return True
        radius = line.get_markersize() * ax.figure.dpi / 72 / 2
        if _drawn(line.get_marker()) and any(box.padded(radius).contains(x, y) for x, y in path.vertices):
            return True
    return any(box.overlaps(text.get_window_extent()) for text in ax.texts)


def _drawn(style: Any) -> bool:
    """Whether a line style or marker draws anything (matplotlib spells "nothing" several ways)."""
    return style not in (None, "None", "none", "", " ")


def drawable(text: str) -> str:
    """``text`` with a path's bytes that are not UTF-8 (surrogates) written as ``\\udcff``: matplotlib refuses them
    (evaluate of a head file so named was a TypeError traceback; an adversarial tester)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _spread_labels(labels: Sequence[Annotation], pad: float = 2.0) -> None:
    """Move value labels (annotations offset in points) apart vertically where two would overlap, each group centred
    where its labels were: two heads ending at 0.853 and 0.849 printed one label over the other (a new user).
    Then the layout is fixed, so that the file is drawn as measured here."""
    if len(labels) < 2:
        return
    fig = labels[0].figure
    if fig.stale:  # else the layout fitting's last draw stands: measured on it, as drawn
        fig.draw_without_rendering()
    boxes = [label.get_window_extent() for label in labels]
    gap = max(b.height for b in boxes) + pad * fig.dpi / 72
    for group in _overlapping_columns(boxes):
        group.sort(key=lambda i: boxes[i].y0)
        centres = [(boxes[i].y0 + boxes[i].y1) / 2 for i in group]
        for i, old, new in zip(group, centres, _spread(centres, gap)):
            dx, dy = labels[i].xyann
            labels[i].xyann = (dx, dy + (new - old) * 72 / fig.dpi)
    fig.set_layout_engine("none")


def _overlapping_columns(boxes: Sequence[Bbox]) -> list[list[int]]:
    """The labels in groups whose horizontal extents overlap, as indices into ``boxes``."""
    groups: list[list[int]] = []
    for i, box in enumerate(boxes):
        joined = [g for g in groups if any(box.x0 < boxes[j].x1 and boxes[j].x0 < box.x1 for j in g)]
        merged = [i] + [j for g in joined for j in g]
        groups = [g for g in groups if g not in joined] + [merged]
    return groups


def _spread(centres: Sequence[float], gap: float) -> list[float]:
    """New centres, ascending as ``centres`` are, at least ``gap`` apart: labels that would overlap are merged into
    one group and spaced evenly about the mean of where they were, until no two groups overlap."""
    groups: list[list[float]] = []
    for y in centres:
        groups.append([y])
        while len(groups) > 1 and _bottom(groups[-1], gap) - _top(groups[-2], gap) < gap:
            groups[-2:] = [groups[-2] + groups[-1]]
    return [_mid(g) + (k - (len(g) - 1) / 2) * gap for g in groups for k in range(len(g))]


def _mid(group: list[float]) -> float:
    return sum(group) / len(group)


def _top(group: list[float], gap: float) -> float:
    return _mid(group) + (len(group) - 1) * gap / 2


def _bottom(group: list[float], gap: float) -> float:
    return _mid(group) - (len(group) - 1) * gap / 2


def _save(fig: Figure, path: str | Path, dpi: int | None = None) -> Path:
    """Write ``fig`` to ``path`` (PNG, atomically) at ``dpi`` (else savefig's).

    savefig lays a figure with a layout engine out in a whole draw of its own (rendering nothing) before the draw it
    writes. Here that draw is left out: where the layout fitting's last draw laid the figure out as it stands, at the
    dpi written, or its layout was fixed (``_spread_labels``), the figure is written as drawn and measured; else it is
    laid out at that dpi without drawing it (``_lay_out``). The same pixels, one draw instead of two.
    """
    import matplotlib as mpl
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    path = Path(path)
    engine = fig.get_layout_engine()
    written = dpi or mpl.rcParams["savefig.dpi"]
    written = fig.dpi if written == "figure" else written
    if engine is not None and not isinstance(engine, PlaceHolderLayoutEngine) and (fig.stale or written != fig.dpi):
        _lay_out(fig, written)
    with atomic_path(path) as tmp:
        if engine is None:
            fig.savefig(tmp, format="png", dpi=written)
            return path
        fig.set_layout_engine(None)  # laid out: savefig draws once (under rcParams that name an engine, it lays out again)
        try:
            fig.savefig(tmp, format="png", dpi=written)
        finally:
            fig.set_layout_engine(engine)
    return path


def _lay_out(fig: Figure, dpi: float) -> None:
    """Run ``fig``'s layout engine at ``dpi`` as ``Figure.draw`` runs it (each axes' aspect applied first), without
    drawing the figure; the figure keeps its dpi."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    own = fig.dpi
    fig.dpi = dpi
    try:
        renderer = FigureCanvasAgg(fig).get_renderer()  # the canvas savefig writes with, at the dpi written
        for ax in fig.axes:
            locator = ax.get_axes_locator()
            ax.apply_aspect(locator(ax, renderer) if locator else None)
        try:
            fig.get_layout_engine().execute(fig)
        except ValueError:  # as Figure.draw: a layout with no room left is not applied
            pass
    finally:
        fig.dpi = own


def confusion_text(cm: np.ndarray, class_names: list[str]) -> str:
    """Rows: true class; columns: predicted class (numbered as the rows)."""
    width = max(5, len(str(int(cm.max(initial=0)))) + 1)
    number_w = max(2, len(str(len(class_names) - 1)))  # rows from 100 on were a column to the right of the rest
    label_w = max(len(n) for n in class_names) + number_w + 2
    head = " " * label_w + "".join(f"{j:>{width}}" for j in range(len(class_names)))
    lines = ["true \\ predicted", head]
    for i, name in enumerate(class_names):
        lines.append(f"{i:>{number_w}} {name:<{label_w - number_w - 1}}" + "".join(f"{int(v):>{width}}" for v in cm[i]))
    return "\n".join(lines)


# The confusion plot's bounds: its side in inches (at 120 dpi, 2,400 pixels), the classes it numbers cell by cell and
# the classes it names on its axes. Sized 0.6 inch a class without bound, 200 classes made a 14,820 x 14,700 pixel
# PNG and 400 took all the machine's memory (an adversarial tester); evaluation.txt and .json keep every count.
CONFUSION_MAX_INCHES = 20.0
CONFUSION_NUMBERED_CLASSES = 30  # beyond that the numbers no longer fit in the cells
CONFUSION_NAMED_CLASSES = 200  # beyond that a name would be under 5 points high: the axes number the classes


def plot_confusion(cm: np.ndarray, class_names: list[str], path: str | Path, title: str = "") -> Path:
    """A heatmap, true classes down, predicted across: the count in every cell up to ``CONFUSION_NUMBERED_CLASSES``
    classes, the class names on the axes up to ``CONFUSION_NAMED_CLASSES`` (beyond, the classes' numbers, as
    evaluation.txt's matrix numbers them), at most ``CONFUSION_MAX_INCHES`` a side whatever the classes."""
    return _save(confusion_figure(cm, class_names, title), path, dpi=PNG_DPI)


def confusion_figure(cm: np.ndarray, class_names: list[str], title: str = "") -> Figure:
    """``plot_confusion``'s figure, not yet written."""
    _matplotlib_config()
    from matplotlib.figure import Figure

    n = len(class_names)
    size = min(CONFUSION_MAX_INCHES, max(5.0, 0.6 * n + 2.5))
    fig = Figure(figsize=(size + 1, size), layout="tight")
    ax = fig.add_subplot()
    im = ax.imshow(cm, cmap="Blues", interpolation="nearest")
    bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="images")
    # counts of images: whole ticks (a matrix of at most 20 had 2.5, 7.5, 12.5; a new user)
    from matplotlib.ticker import MaxNLocator

    bar.locator = MaxNLocator(integer=True)
    bar.update_ticks()
    if n <= CONFUSION_NAMED_CLASSES:
        # a name's height within its cell's (about 17.5 inches of cells at the bound), and not over matplotlib's 10 points
        fontsize = min(10.0, 0.8 * 72 * (size - 2.5) / max(n, 1))
        names = [drawable(clipped(one_line(name), 40)) for name in class_names]  # 200-character names squeezed the cells
        ax.set_xticks(range(n), labels=names, rotation=45, ha="right", rotation_mode="anchor", fontsize=fontsize)
        ax.set_yticks(range(n), labels=names, fontsize=fontsize)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
    else:
        ax.set_xlabel(f"predicted class (numbered as in evaluation.txt: {n} classes, too many to name here)")
        ax.set_ylabel("true class (numbered as in evaluation.txt)")
    ax.set_title(drawable(title), fontsize=9)
    if n <= CONFUSION_NUMBERED_CLASSES:
        threshold = cm.max(initial=0) / 2
        for i in range(n):
            for j in range(n):
                # not in the layout: centred in its cell, a count lies within the axes, and measuring every one of up
                # to 900 made the tight layout, run for each savefig, about a third slower (scripts/bench_plots.py)
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=8,
                        color="white" if cm[i, j] > threshold else "black", in_layout=False)
    return fig


def views_label(train_views: str, test_views: str) -> str:
    """A legend name of a view setting (comma-separated view names, as probe.csv holds them)."""
    from featcache.embedding.views import parse_views

    train, test = len(parse_views(train_views)), len(parse_views(test_views))
    if (train, test) == (1, 1):
        return "original view"
    return f"train {train} views, test " + ("original" if test == 1 else f"{test} averaged")


def plot_probe(rows: Sequence[Any], best: Any, path: str | Path, title: str = "", backbone: str | None = None) -> Path:
    """Accuracy against depth (``ProbeRow``s), one line per head (and view setting, on a cache with views), the best
    point marked; each layer labelled by a name the commands take (``probe_labels``)."""
    return _save(probe_figure(rows, best, title, backbone), path, dpi=PNG_DPI)


def plot_lesson(rows: Sequence[dict[str, Any]], path: str | Path, reported: dict[str, float] | None = None,
                title: str = "") -> Path:
    """The lesson's table as a picture: one bar per approach (test accuracy; its training images and seconds under
    its name), then the lesson's own figures (``reported``, its text's, not measured here) as grey hatched bars, so
    which approach beats which, and at what cost, reads at a glance. The axis starts near the lowest bar: the rows
    differ by a few points."""
    return _save(lesson_figure(rows, reported or {}, title), path, dpi=PNG_DPI)


def lesson_figure(rows: Sequence[dict[str, Any]], reported: dict[str, float], title: str = "") -> Figure:
    """``plot_lesson``'s figure, not yet written."""
    _matplotlib_config()
    from matplotlib.figure import Figure

    import textwrap

    wrap = lambda text: "\n".join(textwrap.wrap(str(text), 44))  # noqa: E731 - long approach names squeezed the bars
    bars = [(f"{wrap(r['approach'])}\n{int(r['training_images']):,} images, {float(r['training_seconds']):.1f} s",
             float(r["test_accuracy"]), False) for r in rows]
    bars += [(f"{wrap(name)}\nthe lesson's text, not measured here", float(value), True) for name, value in reported.items()]
    fig = Figure(figsize=(8.0, 1.2 + 0.2 * sum(label.count("\n") + 1 for label, _, _ in bars)), layout="tight")
    ax = fig.add_subplot()
    at = list(range(len(bars)))[::-1]  # the table's first row on top
    for y, (_, acc, theirs) in zip(at, bars):
        ax.barh(y, acc, height=0.6, color="lightgray" if theirs else "steelblue", hatch="//" if theirs else None,
                edgecolor="dimgray" if theirs else "steelblue")
    ax.set_yticks(at)
    ax.set_yticklabels([label for label, _, _ in bars], fontsize=8)
    figures = [acc for _, acc, _ in bars]
    left = max(0.0, np.floor((min(figures, default=0.0) - 0.05) * 20) / 20)  # the 0.05 below the lowest figure
    top = max(figures, default=1.0)
    ax.set_xlim(left, top + 0.12 * (top - left))  # room for each bar's figure after it
    for y, (_, acc, theirs) in zip(at, bars):
        # a measured accuracy to 4 decimals, as train, curve and lesson.csv give it; the lesson's own as its text does
        ax.text(max(acc, left) + 0.005 * (top - left), y, f"{acc:g}" if theirs else f"{acc:.4f}", va="center", fontsize=8)
    ax.set_xlabel("test accuracy")
    ax.grid(axis="x", alpha=0.3)
    _fit_layout(ax, title=title or "the lesson's approaches")
    return fig


# probe.png's y margin, a fraction of the accuracies' range each side: room above the best point for its star.
PROBE_Y_MARGIN = 0.15


def probe_labels(layers: Sequence[str], backbone: str | None = None) -> list[str]:
    """One label per layer, each one distinct and a name probe's and train's ``--layers``/``--layer`` take back:
    ``backbones.layer_label`` (a block's short name, else the full name); any label two layers would still share
    (``backbone`` unknown or None) falls back to the full names. ``short_layer`` on every name gave EfficientNet's
    ``block2b_project_bn`` the label ``block2b``, and two layers one label where their names differed only there."""
    from featcache.embedding.backbones import REGISTRY, layer_label

    labels = [layer_label(REGISTRY.get(backbone) if backbone else None, l) for l in layers]
    return [label if labels.count(label) == 1 else layer for label, layer in zip(labels, layers)]


# What a probe's accuracy is, by its rows' ``scored_on``: probe.png's y axis and the printed best line.
SCORED_ON_WORDS = {"test": "test accuracy", "holdout": "held-out accuracy (train split)",
                   "folds": "cross-validated accuracy (train images)"}
# A one-layer probe's x labels are wrapped to this many characters, never rotated: labels rotated 60 degrees took
# about 60% of the figure's height (a new-user tester).
PROBE_LABEL_CHARS = 16


def _probe_width(rows: Sequence[Any], layers: Sequence[str], setting: Any, several: bool) -> float:
    """probe.png's width in inches: room for each layer's label, or on one layer for each x's wrapped label."""
    if len(layers) > 1:
        return max(6.0, 0.45 * len(layers) + 2)
    xs = len({setting(r) for r in rows}) if several else len({r.head for r in rows})
    return max(6.0, 1.3 * xs + 2)


def _one_layer_points(ax: Axes, rows: Sequence[Any], best: Any, setting: Any, several: bool, best_label: str) -> None:
    """A one-layer probe: x is the view setting (or the head, on a cache without views), one colour per head, the
    heads' points of one setting side by side so none hides another."""
    import textwrap

    heads = list(dict.fromkeys(r.head for r in rows))
    xs = list(dict.fromkeys(setting(r) for r in rows)) if several else heads
    width = 0.3 if several and len(heads) > 1 else 0.0
    offset = {h: (i - (len(heads) - 1) / 2) * width / max(len(heads) - 1, 1) for i, h in enumerate(heads)}
    where = lambda r: (xs.index(setting(r)) if several else xs.index(r.head)) + offset[r.head]  # noqa: E731
    for i, head in enumerate(heads):
        pts = sorted((where(r), r.accuracy) for r in rows if r.head == head)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=7, linestyle=":" if several else "none",
                color=f"C{i % 10}", label=head)
    ax.plot([where(best)], [best.accuracy], marker="*", markersize=18, color="crimson", linestyle="none",
            label=best_label)
    names = [views_label(*x) for x in xs] if several else xs
    ax.set_xticks(range(len(xs)))
    ax.set_xticklabels([textwrap.fill(drawable(n), PROBE_LABEL_CHARS, break_long_words=False) for n in names], fontsize=8)
    ax.set_xlim(-0.5, len(xs) - 0.5)


def probe_figure(rows: Sequence[Any], best: Any, title: str = "", backbone: str | None = None) -> Figure:
    """``plot_probe``'s figure, not yet written."""
    _matplotlib_config()
    from matplotlib.figure import Figure

    # Each layer at its depth among the cached layers: a probe of some of them (--layers) keeps the full probe's x
    by_depth = sorted({r.depth: r for r in rows}.values(), key=lambda r: r.depth)
    layers, depths = [r.layer for r in by_depth], [r.depth for r in by_depth]
    setting = lambda r: (getattr(r, "train_views", "orig"), getattr(r, "test_views", "orig"))  # noqa: E731
    several = len({setting(r) for r in rows}) > 1
    series = list(dict.fromkeys((r.head, setting(r)) for r in rows))
    # constrained: _fit_layout puts a legend below the axes with room made for it ("tight" drew it over the labels)
    fig = Figure(figsize=(_probe_width(rows, layers, setting, several), 4.5), layout="constrained")
    ax = fig.add_subplot()
    views = f", {views_label(*setting(best))}" if several else ""
    best_label = f"best: {best.layer} + {best.head}{views} ({accuracy_text(best.accuracy)})"
    if len(layers) == 1 and len(series) > 1:
        # One layer: every series is one point at one x, and 7 view settings drew 7 points on top of each other (a
        # tester). Each view setting (or head, without views) gets its own x instead, each head its own colour.
        _one_layer_points(ax, rows, best, setting, several, best_label)
        ax.set_xlabel(f"{'view setting' if several else 'head'}, on {probe_labels(layers, backbone)[0]}")
    else:
        for head, s in series:
            pts = sorted((r.depth, r.accuracy) for r in rows if (r.head, setting(r)) == (head, s))
            label = f"{head}, {views_label(*s)}" if several else head
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
        ax.plot([best.depth], [best.accuracy], marker="*", markersize=18, color="crimson", linestyle="none",
                label=best_label)
        ax.set_xticks(depths)
        ax.set_xticklabels(probe_labels(layers, backbone), rotation=60, ha="right", fontsize=8)
        ax.set_xlabel("layer (input side -> output)")
    # --folds scores every training image by cross-validation: "held-out accuracy (train split)" said a hold-out (a
    # new-user tester)
    ax.set_ylabel(SCORED_ON_WORDS.get(best.scored_on, SCORED_ON_WORDS["holdout"]))
    # Headroom for the star: matplotlib's 5% margin ended the axis about a marker's radius above the best point, and
    # the star was cut off at the top (a new-user tester)
    ax.margins(y=PROBE_Y_MARGIN)
    ax.grid(alpha=0.3)
    # loc="best" alone left the legend over the points of a one-layer probe (a new-user tester): below when it would
    _fit_layout(ax, title=title or "accuracy by layer", legend={"fontsize": 8})
    return fig
