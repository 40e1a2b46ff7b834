"""lesson: the lesson's comparison as one command.

Transfer learning on the first 4,000 Fashion-MNIST training images (heads on
the cached MobileNetV2 features) against a CNN trained from scratch on the
first 15,000 raw 28x28 images, all scored on the same first 3,000 test images.

The table is a list of row dicts, one per approach, each made by a small
function of a ``LessonContext`` listed in ``ROWS``; a new approach is one more
function (``lesson(rows=[*ROWS, my_row])``), nothing else changes.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

import numpy as np

from featcache import paths
from featcache.embedding.runtimes import DEFAULT_RUNTIME
from featcache.errors import FeatcacheError, given, one_line, option
from featcache.progress import bars_wanted, counted, epochs_text, showing_fits, status, steps_as_status
from featcache.store.atomic import output_files, write_json, write_text, written_sha256
from featcache.validate import (
    checks_switches,
    REPORT_DIGESTS,
    check_limit,
    check_out_dir,
    check_report_files,
    check_seed,
    check_views,
    check_writable_dir,
    positive_int,
    recorded_digests,
    report_digests,
    shown,
)

if TYPE_CHECKING:
    from featcache.sources.base import DataSource
    from featcache.store import Cache

COLUMNS = ("approach", "training_images", "test_accuracy", "training_seconds")
HEADERS = ("Approach", "Training images", "Test accuracy", "Training seconds")
# h5py, scikit-learn and TensorFlow are imported where they are used: the CLI
# imports this module for its defaults (help texts) when it builds its parser.
DEFAULTS = {"weights": "imagenet", "train_limit": 4000, "test_limit": 3000, "scratch_train": 15000, "scratch_epochs": 10, "seed": 0,
            "runtime": DEFAULT_RUNTIME}
# The logistic-regression row picks C by 5-fold stratified cross-validation:
# every class needs at least 5 of the first --train-limit images.
MIN_PER_CLASS = 5
LESSON_REPORTED = {"transfer learning (frozen MobileNetV2 + head)": 0.859, "from scratch (baseline)": 0.883}


@dataclass
class LessonContext:
    """What every row function may use."""

    cache: Cache
    source: Any  # the full Fashion-MNIST train split and the first ``test_limit`` test images (a DataSource)
    out: Path
    test_limit: int
    scratch_train: int
    scratch_epochs: int
    seed: int
    verbose: bool
    weights: str = DEFAULTS["weights"]  # what the lesson's cache was extracted with: the views row extracts its own
    data_dir: str | None = None
    train_limit: int = DEFAULTS["train_limit"]
    image_size: int | None = None  # the lesson cache's (None: the source's default, 96 px)
    probed: Any = None  # the best-layer probe's ProbeResult, run once and shared by the rows that need it (``probe_layers``)
    runtime: str = DEFAULTS["runtime"]  # what the lesson asks to run the network on (its caches and the views row's)
    extraction: dict[str, Any] | None = None  # how the lesson's cache came to be (``extraction_record``; seconds None: reused)
    settings: dict[str, Any] | None = None  # lesson.json's settings (``run_settings``): built once, before any work


@dataclass
class LessonResult:
    rows: list[dict[str, Any]]
    parameter_counts: dict[str, int]
    cache_path: Path
    files: dict[str, Path] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)  # what lesson.json holds

    def to_dict(self) -> dict[str, Any]:
        """What ``lesson --json`` prints: lesson.json's document and the files written."""
        return {**self.report, "files": {k: str(v) for k, v in self.files.items()}}


def _say(ctx: LessonContext, text: str) -> None:
    if ctx.verbose:
        status(text)


def _say_row(ctx: LessonContext, text: str) -> None:
    """A row's result line, printed as ``train`` prints the cached-head rows' (inside ``steps_as_status``: on stderr,
    with the steps; the report on stdout holds every row), whatever the progress setting. The views and scratch rows'
    went through ``status``, hidden by FEATCACHE_PROGRESS=off where the other rows' showed (a review)."""
    if ctx.verbose:
        print(one_line(text))


def _cached_head_row(ctx: LessonContext, approach: str, file_name: str, head: str, **train_kwargs) -> dict[str, Any]:
    """Train a head on the cached train split, save it under out/heads, evaluate it (confusion PNG)."""
    from featcache.analysis.evaluate import evaluate
    from featcache.analysis.train import train, written_by_recipe

    _say(ctx, f"\n== {approach}")
    path = ctx.out / "heads" / file_name
    if head == "keras":
        _warm_up_keras(ctx.cache)
    # written by the lesson: a rerun on another data set replaces the lesson's own heads as the rest of its folder (the
    # job check refused it minutes in, offering a --force lesson lacks); check_outputs refused any other head there up front
    with written_by_recipe(LESSON):
        res = train(ctx.cache, head, seed=ctx.seed, out=path, verbose=ctx.verbose,
                    force=_older_lessons_head(path, ctx.out), **train_kwargs)
    ev = evaluate(path, ctx.cache, out=ctx.out / "eval" / path.stem)
    return {
        "approach": approach, "training_images": res.train_images, "test_accuracy": res.accuracy,
        "training_seconds": res.fit_seconds, "input": f"cached {res.layer} features", "head_file": str(path),
        "confusion_png": str(ev.files["png"]), **{k: v for k, v in res.details.items()},
    }


_warmed_up = False  # once per process: _warm_up_keras


def _warm_up_keras(cache: Cache) -> None:
    """One untimed 1-epoch fit of the lesson's Keras head on the cache's training features, once per process: the
    first Keras fit of a process carries TensorFlow's start-up, and the lesson's first row (5 epochs) reported 16.0 s
    against 11.7 s for the second (31 epochs; a new user). Measured on 600 Fashion-MNIST rows: fits of 8.4, 1.8,
    2.8, 2.0 s in one process; after this warm-up 1.6, 2.3, 1.8 s (a warm-up on random rows of the same width left
    the first at 3.8 s). Every Keras fit seeds itself (DenseHead.fit), so the rows' results do not change."""
    global _warmed_up
    from featcache.heads import DenseHead, make_head

    if _warmed_up:
        return
    layer = cache.layer(None)
    make_head("keras", **{**DenseHead.preset_params("lesson"), "epochs": 1},
              n_classes=len(cache.class_names)).fit(cache.features("train", layer), cache.labels("train"))
    _warmed_up = True


def keras_lesson_row(ctx: LessonContext) -> dict[str, Any]:
    return _cached_head_row(ctx, "transfer: Keras head, lesson preset (5 epochs)", "keras_lesson.keras", "keras", preset="lesson")


def keras_default_row(ctx: LessonContext) -> dict[str, Any]:
    return _cached_head_row(ctx, "transfer: Keras head, default (L2, early stopping)", "keras_default.keras", "keras", preset="default")


def logreg_row(ctx: LessonContext) -> dict[str, Any]:
    return _cached_head_row(ctx, "transfer: logistic regression (C by 5-fold CV)", "logreg_cv.npz", "logreg", C="cv")


# The best-layer row picks its layer and head on probe's default fraction of the
# training images, held out: choosing on the test images would flatter its accuracy.
from featcache.analysis.probe import DEFAULT_HOLDOUT as PROBE_HOLDOUT  # noqa: E402 (one home: probe's default)


def probe_layers(ctx: LessonContext) -> tuple[Any, float]:
    """(ProbeResult, seconds) of probing every cached layer on held-out training images; run once per lesson."""
    from featcache.analysis.probe import probe

    if ctx.probed is None:
        _say(ctx, "\n== transfer: probing every cached layer (layer and head chosen on held-out training images)")
        t0 = time.perf_counter()
        found = probe(ctx.cache, holdout=PROBE_HOLDOUT, seed=ctx.seed, out=ctx.out / "probe", verbose=ctx.verbose)
        ctx.probed = (found, time.perf_counter() - t0)
    return ctx.probed


def best_layer_row(ctx: LessonContext) -> dict[str, Any]:
    """The cached layer and head that probing finds best, trained on all training images, scored on test."""
    from featcache.heads import head_suffix

    found, probe_seconds = probe_layers(ctx)
    b = found.best
    approach = f"transfer: {b.head} on {b.layer} (layer and head chosen by probing)"
    row = _cached_head_row(ctx, approach, f"best_{b.layer}_{b.head}{head_suffix(b.head)}", b.head, layer=b.layer,
                           **({"C": b.C} if b.C is not None else {}))
    return {**row, "layer": b.layer, "head": b.head, "chosen_by": f"probe, {PROBE_HOLDOUT:.0%} of the training images held out",
            "holdout_accuracy": b.accuracy, "probe_seconds": round(probe_seconds, 2), "probe_csv": str(found.csv),
            "probe_png": str(found.plot)}


# The views of the views row: the 4 that docs/views.md section 2 measured on
# this split (held-out 0.916 for logistic regression and 0.9125 for the SVM,
# the best setting of each; test 0.899 / 0.905). The two other diagonal shifts
# (the full `shift` group + flip, 6 views) scored lower for logistic regression
# (held-out 0.915, test 0.897), and the RBF SVM's fit grows about
# quadratically with the rows (42 s for 4,000, 299 s for 16,000, loaded).
LESSON_VIEWS = ("orig", "flip", "shift:+2,+2", "shift:-2,-2")
VIEW_HEADS = ("logreg", "svm")


def views_row(ctx: LessonContext) -> dict[str, Any]:
    """Transfer + cached views: the best-layer probe's layer, extracted again with ``LESSON_VIEWS`` (a second,
    one-layer cache), then head and view setting chosen by probing on held-out training images, the chosen head
    fitted on every chosen view of all training images, each test image's chosen views averaged.

    The layer comes from ``probe_layers`` (17 layers x heads on the original view); probing 17 layers x views
    would cost 4x the extraction and 3x the fits. The head is fitted as the probe fitted it (the SVM without
    probability calibration: decision values averaged, what section 2 measured and what the probe chose on).
    """
    from featcache.analysis.evaluate import evaluate
    from featcache.analysis.probe import probe, probe_defaults
    from featcache.analysis.train import fit_and_score, save_trained
    from featcache.heads import head_suffix
    from featcache.heads.io import TEST_ACCURACY_ORIG
    from featcache.embedding.engines.local import LocalEngine
    from featcache.embedding.runner import extract
    from featcache.embedding.specs import ModelSpec
    from featcache.heads import make_head
    from featcache.heads.views import averaged_over
    from featcache.sources.fashion_mnist import FashionMNIST
    from featcache.store import open_cache

    layer = probe_layers(ctx)[0].best.layer
    _say(ctx, f"\n== transfer + views: extracting {layer} with views {', '.join(LESSON_VIEWS)}")
    res = extract(FashionMNIST(ctx.data_dir, train_limit=ctx.train_limit, test_limit=ctx.test_limit),
                  ModelSpec(weights=ctx.weights, image_size=ctx.image_size, layers=layer, views=LESSON_VIEWS),
                  engine=LocalEngine(runtime=views_runtime(ctx)), verbose=ctx.verbose)
    vcache = open_cache(res.path)
    found = probe(vcache, heads=list(VIEW_HEADS), layers=layer, holdout=PROBE_HOLDOUT, seed=ctx.seed,
                  out=ctx.out / "probe_views", verbose=ctx.verbose)
    b = found.best
    train_views, test_views = check_views(vcache, b.train_views, "train views"), check_views(vcache, b.test_views, "test views")
    head = make_head(b.head, seed=ctx.seed, **{k: v for k, v in {"C": b.C, **probe_defaults(b.head)}.items() if v is not None})
    # its fit on every chosen view (16,000 rows for 4 views: an SVM's took 299 s) says it runs, as train's does
    with showing_fits(bars_wanted(ctx.verbose)):
        scored = fit_and_score(head, vcache, layer, train_views, test_views)
    fit_seconds, accuracy, orig_accuracy = scored.fit_seconds, scored.accuracy, scored.accuracy_orig
    path = ctx.out / "heads" / f"views_{layer}_{b.head}{head_suffix(b.head)}"
    with paths.folders_made_for(path.parent):  # heads/ made here goes again if the head is not written (a full disk)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_trained(head, vcache, layer, b.head, path, None, train_views, test_views, accuracy, fit_seconds,
                     seed=ctx.seed, force=_older_lessons_head(path, ctx.out), written_by=LESSON,  # as the other heads
                     **{TEST_ACCURACY_ORIG: orig_accuracy})  # as train records it (one rule: heads.io.TEST_ACCURACY_ORIG)
    _say_row(ctx, f"test accuracy {accuracy:.4f} ({b.head}, train views {b.train_views}, test views {b.test_views}); "
                  f"fit {fit_seconds:.1f} s")
    # its confusion matrix beside the other rows' (docs/commands.md: "their confusion matrices in eval/"; this row's
    # had none, a new-user tester): scored on the views it averages, as the row's accuracy
    ev = evaluate(path, vcache, out=ctx.out / "eval" / path.stem)
    return {
        "approach": views_approach(b.head, layer, len(train_views), len(test_views)),
        "training_images": vcache.sizes["train"], "test_accuracy": accuracy, "training_seconds": fit_seconds,
        # "of 4 views" where the original view alone was used (a new-user tester): what the fit took, of what is cached
        "input": f"cached {layer} features: {counted(len(train_views), 'train view')} / {counted(len(test_views), 'test view')} of the "
                 f"{len(LESSON_VIEWS)} cached", "head_file": str(path),
        "confusion_png": str(ev.files["png"]), "layer": layer, "head": b.head, "C": b.C, "views": list(LESSON_VIEWS), "train_views": list(train_views),
        "test_views": list(test_views), "averaged": averaged_over(head, test_views),
        "chosen_by": f"probe, {PROBE_HOLDOUT:.0%} of the training images held out (over images, with all their views)",
        "holdout_accuracy": b.accuracy, "extraction": extraction_record(res, vcache),  # its "seconds": all views, None when reused
        "views_cache": str(vcache.path), "probe_csv": str(found.csv),
    }


def views_approach(head: str, layer: str, n_train: int, n_test: int) -> str:
    """The views row's name in the table and lesson.png: what probe chose. A tester read 0.873 against 0.872 above
    as a gain from views none of which was used, so a choice of the original view alone says so; "transfer + views
    (probe-chosen): ..., views not chosen (the original view alone)" then contradicted itself (a new-user tester)."""
    if (n_train, n_test) == (1, 1):
        return f"transfer + views tried: {head} on {layer}; probe chose the original view alone"
    return f"transfer + views (probe-chosen): {head} on {layer}, {n_train} train / {n_test} test views"


def views_runtime(ctx: LessonContext) -> str:
    """The runtime of the views row's extraction: the lesson cache's under ``auto``. Auto picks by the job's size: at
    1,000/500 images the blocks cache ran on TensorFlow and the views cache (4 views, 6,000 passes) on ONNX Runtime,
    and the views row with no view chosen scored 0.872 against 0.870 for the same fit on the row above (a new-user
    tester). One runtime for both keeps that row's features the row above's. Only TensorFlow is taken by name: a
    converted runtime the lesson cache was made on is auto's choice for the larger views job too, and by name a
    runtime gone since would be an error where auto falls back."""
    if ctx.runtime == "auto" and ctx.cache.meta.get("runtime") == "tensorflow":
        return "tensorflow"
    return ctx.runtime


def extraction_record(res: Any, cache: Cache) -> dict[str, Any]:
    """How a cache the lesson uses came to be: extracted now (on which runtime, in how many seconds) or reused.

    The runtime is not part of a cache's identity (the features agree to about 2e-4: 1.2e-4 at most over the
    lesson's cache of every block, docs/results.md "The lesson on each runtime"), so a
    lesson run with ``--runtime tensorflow`` after one with ``auto`` reuses the first run's cache: a reused
    cache's runtime is the one its provenance attributes record (None for a cache made before they did).
    """
    if res.hit:
        return {"cache": str(cache.path), "extracted_now": False, "runtime": cache.meta.get("runtime"), "seconds": None}
    return {"cache": str(cache.path), "extracted_now": True, "runtime": res.runtime, "seconds": round(res.seconds, 2),
            "startup_seconds": round(res.startup_seconds, 2), "converted": res.converted}


def extraction_text(rec: dict[str, Any] | None, what: str = "") -> str:
    """``rec`` (``extraction_record``) in words, for the report: a clause without parentheses, which the report's
    sentences nested three deep ("(feature extraction: 4.0 s on onnxruntime, extracted now (plus 12.4 s ...); asked
    for --runtime auto)"; a new-user tester)."""
    if rec is None:
        return "how it was extracted is not recorded"
    if rec["extracted_now"]:
        from featcache.embedding.runtimes import converts

        # "build and convert" on tensorflow, where nothing is converted (a new-user tester): what this runtime did
        # which of the two it was (a new-user tester: "convert it, or load its cached conversion"); a record from before
        # featcache recorded it keeps the either-or
        converted = rec.get("converted")
        prepare = ("build the model" if not converts(rec["runtime"]) else "build the model and convert it" if converted
                   else "build the model and load its cached conversion" if converted is False
                   else "build the model and convert it or load its cached conversion")
        return f"extracted now in {rec['seconds']:.1f} s{what} on {rec['runtime']}, plus {rec['startup_seconds']:.1f} s to {prepare}"
    # the runtime a reused cache's provenance attributes record
    made = rec["runtime"] or "a runtime it does not record, being made before featcache recorded one"
    return f"reused an existing cache, extracted earlier on {made}"


def scratch_row(ctx: LessonContext) -> dict[str, Any]:
    """The from-scratch CNN on the first ``scratch_train`` raw 28x28 images, tested on the cache's test images."""
    from featcache.heads.scratch import ScratchCNN

    _say(ctx, f"\n== from scratch: CNN on raw pixels ({counted(ctx.scratch_train, 'image')}, {epochs_text(ctx.scratch_epochs)})")
    train, test = ctx.source.splits["train"], ctx.source.splits["test"]
    n = ctx.scratch_train
    if not np.array_equal(test.labels, ctx.cache.labels("test")):  # the same test images as the cached rows
        raise FeatcacheError(f"{ctx.cache.path} was not extracted from these test images; pass the {option('--data-dir')} it was made from")
    model = ScratchCNN(epochs=ctx.scratch_epochs, seed=ctx.seed, verbose=ctx.verbose)
    t0 = time.perf_counter()
    model.fit(train.read(0, n), train.labels[:n])
    seconds = time.perf_counter() - t0
    accuracy = float(model.score(test.read(0, len(test)), test.labels))
    _say_row(ctx, f"test accuracy {accuracy:.4f} on {counted(len(test), 'image')}; fit {seconds:.1f} s")
    return {
        "approach": "from scratch: small CNN (2x Conv2D+pooling, Dense 128)", "training_images": n,
        "test_accuracy": accuracy, "training_seconds": seconds, "input": "raw 28x28 pixels",
        "epochs": ctx.scratch_epochs, "parameters": int(model.model_.count_params()),
    }


RowFunction = Callable[[LessonContext], dict[str, Any]]
ROWS: list[RowFunction] = [keras_lesson_row, keras_default_row, logreg_row, best_layer_row, views_row, scratch_row]


def lesson_parameter_counts(cache: Cache, weights: str) -> dict[str, int]:
    """Parameters of the lesson's end-to-end model (frozen base + GAP + Dropout + Dense) for this cache."""
    from featcache.deploy.endtoend import build_end_to_end, parameter_counts

    m = cache.meta
    model = build_end_to_end(m["backbone"], weights, int(m["image_size"]), len(cache.class_names))
    return parameter_counts(model)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The rows as lesson.md's table: each accuracy to 4 decimals, as lesson.csv, lesson.png, train and curve give it
    (it said 3, 0.817 where lesson.csv said 0.8173; a new-user tester). The lesson's own figures are in its text."""
    lines = ["| " + " | ".join(HEADERS) + " |", "| --- | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['approach']} | {r['training_images']:,} | {r['test_accuracy']:.4f} | {r['training_seconds']:.1f} |")
    return "\n".join(lines)


def csv_table(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([r["approach"], r["training_images"], f"{r['test_accuracy']:.4f}", f"{r['training_seconds']:.2f}"])
    return buf.getvalue()


def report_markdown(result: LessonResult, ctx: LessonContext) -> str:
    pc = result.parameter_counts
    extract = extraction_text(ctx.extraction)
    return "\n".join([
        f"Test images: the first {ctx.test_limit:,} of Fashion-MNIST's test set, the same for every row.",
        "",
        markdown_table(result.rows),
        "",
        "Training seconds are the fit alone. The transfer rows train on features cached once, with "
        f"{given('--runtime', ctx.runtime, repr(ctx.runtime))}: {extract}. The scratch CNN trains on raw pixels.",
        *[f"The row '{r['approach']}' took its layer and head from probing every cached layer with logistic "
          f"regression and an RBF SVM, scored on {PROBE_HOLDOUT:.0%} of the training images held out "
          f"(never the test images; probing took {r['probe_seconds']:.1f} s)." for r in result.rows if "probe_seconds" in r],
        *[_views_note(r) for r in result.rows if "train_views" in r],
        "",
        f"The lesson's end-to-end model: {pc['total']:,} parameters, {pc['trainable']:,} trainable, "
        f"{pc['non_trainable']:,} non-trainable.",
        _lesson_figures(ctx),
    ]) + "\n"


def _lesson_figures(ctx: LessonContext) -> str:
    """The lesson's own figures, and whether this run's limits make its rows comparable with them: with
    --test-limit 500 the line still said "the same first test images" (a new-user tester)."""
    ran = {"train_limit": ctx.train_limit, "test_limit": ctx.test_limit, "scratch_train": ctx.scratch_train}
    other = [f"{RUN_SETTINGS[k]} {v}" for k, v in ran.items() if v != DEFAULTS[k]]
    images = ("the same first test images" if not other else f"its first {DEFAULTS['test_limit']:,} test images")
    return ("For comparison, the lesson's own figures (its text, not measured here: " + images + ", Keras's ImageNet "
            "weights trained at 96x96, where these were trained at 224): transfer 0.859 on 4,000 images; from scratch "
            "0.883 on 15,000" + (f"; this run's {', '.join(other)} differ from the lesson's, so its rows are not "
                                 "comparable with those figures." if other else "."))


def _views_note(r: dict[str, Any]) -> str:
    extract = extraction_text(r.get("extraction"), f" for {len(r['views'])} views")
    averaged = f", {r['averaged']} averaged" if r["averaged"] else ""
    return (f"The row '{r['approach']}' re-extracted {r['layer']}, the best-layer probe's layer, with the views "
            f"{', '.join(r['views'])}: {extract}. It then chose the head and view setting on "
            f"{PROBE_HOLDOUT:.0%} of the training images held out (held-out accuracy {r['holdout_accuracy']:.4f}): "
            f"{r['head']} trained on {', '.join(r['train_views'])}, tested on {', '.join(r['test_views'])}{averaged}.")


def report_files(out: Path) -> dict[str, Path]:
    """The table's files in the lesson's folder: the table as CSV, JSON and markdown, and as a picture."""
    return {"csv": out / "lesson.csv", "json": out / "lesson.json", "markdown": out / "lesson.md", "png": out / "lesson.png"}


def _lesson_doc(path: Path) -> dict | None:
    """The lesson.json at ``path`` where featcache wrote it (so the table's files beside it may be replaced), read
    once; None for any other file or none."""
    import json

    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("rows"), list) and "lesson_reported" in doc else None


def _is_lesson_json(path: Path) -> bool:
    """Whether ``path`` is a lesson.json featcache wrote (so the table's files beside it may be replaced)."""
    return _lesson_doc(path) is not None


# What the lesson's heads record as their writer (``heads.io.WRITTEN_BY``): a rerun replaces those, and no other head.
LESSON = "lesson"


def _lessons_head(head: Path, out: Path) -> bool:
    """Whether ``head`` (in ``out``/heads) is one a lesson wrote: it says so, or it is an older lesson's
    (``_older_lessons_head``). A head the user saved there ('featcache train --out', of any fit) is not: the lesson's
    force=True replaced it (earlier sessions' notes)."""
    from featcache.heads.io import WRITTEN_BY, read_head_meta

    meta = read_head_meta(head)
    return meta is not None and (meta.get(WRITTEN_BY) == LESSON or _older_lessons_head(head, out, meta))


def _older_lessons_head(head: Path, out: Path, meta: dict[str, Any] | None = None) -> bool:
    """Whether ``head`` is a head a lesson wrote before its heads recorded it (2026-12-05): unmarked, named by a row
    of the folder's lesson.json (``head_file``), and either not changed since that lesson.json was written or the
    very head of that row (``_row_of_head``); a head saved over it since is the user's. The lesson replaces such a
    head whatever its fit, as it did."""
    import json

    from featcache.heads.io import WRITTEN_BY, read_head_meta

    table = report_files(out)["json"]
    try:
        if not head.is_file() or not _is_lesson_json(table):
            return False
        rows = json.loads(table.read_text())["rows"]
        newer = head.stat().st_mtime_ns > table.stat().st_mtime_ns
    except (OSError, ValueError):
        return False
    meta = read_head_meta(head) if meta is None else meta
    if meta is None or WRITTEN_BY in meta:
        return False
    own = [r for r in rows if isinstance(r, dict) and r.get("head_file") and Path(str(r["head_file"])).name == head.name]
    # The modification times alone refused a lesson's own heads in a folder copied with 'cp -r' (new times; a
    # reviewer, R8): older lesson.json files record no digest of the heads, but each row records its head's test
    # accuracy and fit time, which the head's own metadata (under its content digest) holds too.
    return bool(own) and (not newer or any(_row_of_head(r, meta) for r in own))


def _row_of_head(row: dict[str, Any], meta: dict[str, Any]) -> bool:
    """Whether a lesson.json row is the one that wrote a head of metadata ``meta``: its test accuracy, and its fit
    time to the millisecond the head records (``analysis.train.fit_and_score`` rounds it to 3 places), are the
    head's. A head the user trained at that name since has another fit time."""
    seconds, accuracy = row.get("training_seconds"), row.get("test_accuracy")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (seconds, accuracy)):
        return False
    return meta.get("test_accuracy") == accuracy and meta.get("fit_seconds") == round(seconds, 3)


# The heads the default rows save under out/heads with fixed names; the best-layer and views rows name theirs
# after the layer and head that probing picks (best_<layer>_<head>, views_<layer>_<head>), known only then.
FIXED_HEADS = ("keras_lesson.keras", "keras_default.keras", "logreg_cv.npz")
CHOSEN_HEADS = ("best_*", "views_*")


def check_table(out: Path) -> None:
    """The table's files in ``out`` replace only a lesson table featcache wrote, each still as written: lesson.json,
    written last, records the SHA-256 of lesson.csv, lesson.md and lesson.png, and a changed one is refused. Checked
    before any work (``check_outputs``) and again just before the table is written (a lesson.md the user saved
    there during the run was replaced; an adversarial tester)."""
    files = report_files(out)
    check_report_files(files.values(), lambda: _is_lesson_json(files["json"]),
                       digests=lambda: recorded_digests(files["json"]), recorded=[files["csv"], files["markdown"], files["png"]],
                       since_digests=[files["png"]])  # drawn since 2026-12-04: in an older folder, it is the user's


# What lesson.json's settings record of the run, known before any work, and the words naming each: a lesson of other
# ones in the folder is another run's results, replaced only with --force (_check_same_lesson). Seed and limits alone
# were compared: 'lesson --weights random --out L' then 'lesson --out L' replaced the first's results silently (a
# reviewer, 2026-12-06). The weights by their content (weights_identity) where both record it, else by their words;
# the backbone and image size are the lesson's own (no flag), recorded all the same.
RUN_SETTINGS = {"seed": "--seed", "train_limit": "--train-limit", "test_limit": "--test-limit",
                "scratch_train": "--scratch-train", "scratch_epochs": "--scratch-epochs", "weights": "--weights",
                "data_dir": "--data-dir", "backbone": "backbone", "image_size": "image size"}


def run_settings(*, seed: int, train_limit: int, test_limit: int, scratch_train: int, scratch_epochs: int, weights: str,
                 weights_identity: str, data_dir: str | None, backbone: str, image_size: int) -> dict[str, Any]:
    """lesson.json's ``settings`` of a run, as ``write_report`` records them and ``_check_same_lesson`` compares
    them: ``weights`` in a cache's words (``weights_source``: "random (untrained)", "imagenet", an absolute path),
    ``data_dir`` resolved (``open_source``'s spec)."""
    from featcache.embedding.backbones import weights_source_words

    return {"train_limit": train_limit, "test_limit": test_limit, "scratch_train": scratch_train,
            "scratch_epochs": scratch_epochs, "seed": seed, "weights": weights_source_words(weights), "backbone": backbone,
            "image_size": image_size, "weights_identity": weights_identity, "data_dir": data_dir}


def _settings_differ(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``--seed 0, not 1`` for each recorded setting that ``old`` and ``new`` both hold and differ in (one that
    ``old`` records as None is unknown there, as one it lacks: an older lesson.json's)."""
    diff = []
    for key, flag in RUN_SETTINGS.items():
        if old.get(key) is None or key not in new:
            continue
        if key == "weights" and "weights_identity" in old and "weights_identity" in new:
            if old["weights_identity"] != new["weights_identity"]:  # the same words of another file's content too
                same = " (of other content)" if old[key] == new[key] else ""
                diff.append(f"{option(flag)} {old[key]}{same}, not {new[key]}")
        elif old[key] != new[key]:
            diff.append(f"{option(flag)} {old[key]}, not {new[key]}")
    return diff


def _check_same_lesson(out: Path, settings: Mapping[str, Any] | None, force: bool) -> None:
    """Refuse a folder that holds the lesson of other ``settings`` (RUN_SETTINGS, as lesson.json records them)
    unless ``force``: 'lesson --seed 1 --out DIR' replaced the heads and table 'lesson --seed 0 --out DIR' wrote
    there, without a word (an adversarial tester); train refuses a head of another fit so. The same settings are a
    rerun, which replaces its own files as before; a lesson.json without settings is taken as before."""
    doc = None if force or settings is None else _lesson_doc(report_files(out)["json"])
    if doc is None:
        return
    old = doc.get("settings")
    if not isinstance(old, dict):
        return
    diff = _settings_differ(old, settings)
    if diff:
        raise FeatcacheError(f"{option('--out', 'out')} {out} holds the results of a lesson of other settings "
                             f"({'; '.join(diff)}); choose another {option('--out', 'out')}, or pass "
                             f"{option('--force', 'force=True')} to replace them")


def check_outputs(out: Path, settings: Mapping[str, Any] | None = None, force: bool = False) -> None:
    """Before any work: every file the default rows and the table write under ``out`` replaces only one featcache wrote.

    A user's file there (notes called lesson.md, a head of their own in
    heads/, one 'featcache train --out' saved there included: ``_lessons_head``) is refused, naming lesson's one output flag, --out: found by the
    train step minutes into the run, it was refused with advice to pass a
    --force that lesson does not have. The files of the probe-chosen rows
    have names known only after probing: every file there with their prefix
    is checked. lesson.csv and lesson.md are replaced only while they have
    the SHA-256 lesson.json records (notes added to lesson.md were lost; an
    adversarial tester's finding about evaluate's, probe's and curve's
    reports); a lesson.json from before it recorded them is taken as before.
    ``settings`` (``RUN_SETTINGS``): a lesson of others there is refused unless ``force``.
    """
    from featcache.analysis import evaluate, probe

    _check_same_lesson(out, settings, force)
    check_table(out)
    for folder in ("heads", "eval", "probe", "probe_views"):
        check_out_dir(out / folder)
    heads = [out / "heads" / name for name in FIXED_HEADS]
    heads += sorted(p for pattern in CHOSEN_HEADS for p in (out / "heads").glob(pattern))
    for head in heads:
        check_report_files([head], lambda head=head: _lessons_head(head, out))
    chosen = sorted(p.name for pattern in CHOSEN_HEADS for p in (out / "eval").glob(pattern))
    for stem in [Path(n).stem for n in FIXED_HEADS] + chosen:
        evaluate.check_report(out / "eval" / stem)
    for folder in ("probe", "probe_views"):
        probe.check_report(out / folder)


def write_report(result: LessonResult, ctx: LessonContext) -> dict[str, Path]:
    from featcache.analysis.plots import plot_lesson

    out = ctx.out
    doc = {
        "rows": result.rows, "parameter_counts": result.parameter_counts, "cache": str(result.cache_path),
        # the ones the folder's lesson.json was compared with before any work (_check_same_lesson), not built again
        "settings": ctx.settings,
        "runtime": ctx.runtime, "extraction": ctx.extraction,
        "lesson_reported": LESSON_REPORTED,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    result.report = doc
    files = report_files(out)
    check_table(out)  # again: the minutes of the rows are over
    with output_files(out, files.values()):  # all or none (a full disk)
        write_text(files["csv"], csv_table(result.rows))
        write_text(files["markdown"], report_markdown(result, ctx))
        plot_lesson(result.rows, files["png"], LESSON_REPORTED, title=_plot_title(ctx))
        # last, with the SHA-256 of those above: a rerun replaces them only while unchanged (check_outputs)
        doc[REPORT_DIGESTS] = report_digests([files["csv"], files["markdown"], files["png"]], sha256=written_sha256)  # in result.report (--json) too
        write_json(files["json"], doc)
    return files


def _plot_title(ctx: LessonContext) -> str:
    m = ctx.cache.meta
    return f"Fashion-MNIST, first {ctx.test_limit:,} test images; frozen {m.get('backbone')}, {m.get('image_size')} px"


def check_limits(source: DataSource, train_limit: int, test_limit: int, scratch_train: int, scratch_epochs: int) -> None:
    """Refuse limits that would fail after minutes of work: too few images, or too few of a class for the rows (each
    a positive whole number first: ``check_limit_settings``)."""
    check_limit_settings(train_limit, test_limit, scratch_train, scratch_epochs)
    labels = np.asarray(source.splits["train"].labels)
    check_limit(train_limit, len(labels), "--train-limit", "Fashion-MNIST training images")
    check_limit(scratch_train, len(labels), "--scratch-train", "Fashion-MNIST training images")
    n_classes = len(np.unique(labels))
    counts = np.bincount(np.unique(labels, return_inverse=True)[1][:train_limit], minlength=n_classes)
    # The best-layer row holds out PROBE_HOLDOUT of the images: at least one per class on each side.
    enough = int(np.ceil(n_classes / min(PROBE_HOLDOUT, 1 - PROBE_HOLDOUT)))
    if counts.min() < MIN_PER_CLASS or train_limit < enough:
        smallest = _smallest_limit(labels, enough)
        # No limit will do where all the training images are too few: "use train_limit=48 or more" of a limit of 48
        # was the line's own contradiction (a helper, 2026-12-07, on 48 images); the data set is what to change then
        fix = (f"use {given('--train-limit', str(smallest))} or more" if smallest is not None else
               f"all {len(labels)} training images of this data set are too few: give the lesson Fashion-MNIST's "
               "training set (or one with as many of every class)")
        raise FeatcacheError(f"{given('--train-limit', str(train_limit))} is too small for the lesson: the first {train_limit} training images "
                             f"hold {counts.min()} of their rarest class, and its rows need at least {MIN_PER_CLASS} of every "
                             f"class and {enough} images in all; {fix}")


def check_limit_settings(train_limit: int, test_limit: int, scratch_train: int, scratch_epochs: int) -> None:
    """Each limit a positive whole number, checked with the other settings before the weights are fetched and hashed
    and the IDX files read: lesson(train_limit=0) was refused only after them (a tester), where predict checks its
    settings before any file is read."""
    for flag, value in (("--train-limit", train_limit), ("--test-limit", test_limit), ("--scratch-train", scratch_train),
                        ("--scratch-epochs", scratch_epochs)):
        positive_int(value, flag)


def _smallest_limit(labels: np.ndarray, enough: int) -> int | None:
    """The smallest N whose first N labels hold MIN_PER_CLASS of every class (and at least ``enough`` images); None
    where no N does (all of them too few)."""
    seen: dict[Any, int] = {}
    classes = set(labels.tolist())
    for i, c in enumerate(labels.tolist()):
        seen[c] = seen.get(c, 0) + 1
        if len(seen) == len(classes) and min(seen.values()) >= MIN_PER_CLASS:
            return max(i + 1, enough) if max(i + 1, enough) <= len(labels) else None
    return None


def _check_rows(rows: Any) -> list[RowFunction] | None:
    """``rows``: None (the default rows) or a list of row functions (``ROWS``'s kind). "x" and [1, 2] were a
    "'str' object is not callable" TypeError after minutes of extraction (an adversarial tester)."""
    if rows is None:
        return None
    listed = list(rows) if isinstance(rows, Iterable) and not isinstance(rows, (str, bytes)) else None
    if listed is None or not all(callable(fn) for fn in listed):  # any iterable of them, as before (a review)
        raise FeatcacheError(f"rows must be a list of row functions such as featcache.recipes.lesson.ROWS (got "
                             f"{shown(rows)}); leave it out for the lesson's rows")
    return listed


@checks_switches
def lesson(
    weights: str = DEFAULTS["weights"],
    *,
    data_dir: str | None = None,
    out: str | Path | None = None,
    train_limit: int = DEFAULTS["train_limit"],
    test_limit: int = DEFAULTS["test_limit"],
    scratch_train: int = DEFAULTS["scratch_train"],
    scratch_epochs: int = DEFAULTS["scratch_epochs"],
    seed: int = DEFAULTS["seed"],
    rows: list[RowFunction] | None = None,
    views: bool = True,
    runtime: str = DEFAULTS["runtime"],
    force: bool = False,
    verbose: bool = False,
) -> LessonResult:
    """Extract (or reuse) the lesson's cache, build every row of ``rows`` (default ``ROWS``), write the table.

    ``weights``: MobileNetV2's, ``"imagenet"`` (the default: Keras's download or
    its local copy), a local weights file, or ``"random"`` (untrained, marked in
    the results). ``data_dir``: the folder with the four Fashion-MNIST IDX .gz
    files (default: as ``FashionMNIST``'s). ``train_limit``: the first N training
    images for transfer learning (default 4000); ``test_limit``: the first N test
    images, for every row (default 3000); ``scratch_train``: the first N training
    images of the from-scratch CNN (default 15000), trained ``scratch_epochs``
    epochs (default 10). ``seed``: every head's and subset's seed (default 0).
    ``rows``: the table's rows, each a function of the lesson's context
    (default: every row of ``ROWS``).

    Writes ``lesson.csv``, ``lesson.json``, ``lesson.md`` and ``lesson.png`` to ``out``
    (default ``runs/lesson`` under ``$FEATCACHE_HOME``, else ``./data``), the trained heads to ``out/heads`` and
    their confusion matrices to ``out/eval``. Prints progress and the table
    only when ``verbose``. ``views=False`` leaves out ``views_row`` (of the
    default rows): its extraction of 4 views and its fits on up to 16,000
    rows cost about as much as the scratch CNN (about 160 s of 489 s,
    docs/results.md). ``runtime`` runs the network of both extractions as
    ``extract``'s does (``auto``, ``tensorflow``, ``onnxruntime``,
    ``openvino``); it is not part of a cache's identity, so a cache made on
    another runtime is reused: ``lesson.json``'s ``extraction`` (and the views
    row's) says which runtime made each cache and whether it was made now.
    ``force``: replace the results of a lesson of other settings (seed,
    limits, scratch rows, weights, data folder) in ``out``; without it such a folder is refused
    before any work. Files not a lesson's are refused either way.
    """
    from featcache.embedding.backbones import weights_arg, weights_identity
    from featcache.embedding.engines.local import LocalEngine
    from featcache.embedding.runner import extract
    from featcache.embedding.runtimes import check_runtime
    from featcache.embedding.specs import ModelSpec
    from featcache.sources import open_source
    from featcache.sources.fashion_mnist import FashionMNIST
    from featcache.store import open_cache

    # Every input is checked here, before minutes of extraction and training.
    seed = check_seed(seed)
    check_runtime(runtime)
    rows = _check_rows(rows)
    check_limit_settings(train_limit, test_limit, scratch_train, scratch_epochs)  # before the weights' fetch and hash
    weights = weights_arg(weights)
    # A missing weights file is refused before any work, and imagenet's is fetched (offline: one line now)
    backbone, image_size = ModelSpec().backbone, FashionMNIST.default_image_size
    # hashed now (fresh), as the extraction below hashes them: the digest remembered by the file's stamp named the
    # weights before an in-place rewrite that kept the stamp, and lesson.json recorded them, its other-settings check
    # comparing those (h315's brief). 0.025 s for MobileNetV2's file.
    weights_id = weights_identity(weights, backbone, image_size, fresh=True)
    # Every training image (the scratch row takes more than --train-limit): the one read of the IDX files.
    source = open_source({"kind": "fashion_mnist", "data_dir": data_dir, "test_limit": test_limit})
    check_limits(source, train_limit, test_limit, scratch_train, scratch_epochs)
    out_dir = check_writable_dir(out if out is not None else paths.runs_dir() / "lesson")
    settings = run_settings(seed=seed, train_limit=train_limit, test_limit=test_limit, scratch_train=scratch_train,
                            scratch_epochs=scratch_epochs, weights=weights, weights_identity=weights_id,
                            data_dir=source.spec.get("data_dir"), backbone=backbone, image_size=image_size)
    check_outputs(out_dir, settings, force)  # a folder that holds the user's files existed already: the line above made nothing
    # Every block is cached for the best-layer row; the other rows read the
    # final output, the same numbers as a final-output-only cache. The cache's
    # images are cut from ``source``, not read from disk a second time.
    data = FashionMNIST(data_dir, train_limit=train_limit, test_limit=test_limit).open_from(source)
    with steps_as_status():  # the steps' own result lines (extract's, train's, probe's table): the report is the result
        res = extract(data, ModelSpec(weights=weights, layers="blocks"), engine=LocalEngine(runtime=runtime), verbose=verbose)
        cache = open_cache(res.path)
        ctx = LessonContext(cache=cache, source=source, out=out_dir, test_limit=test_limit, scratch_train=scratch_train,
                            scratch_epochs=scratch_epochs, seed=seed, verbose=verbose, weights=weights, data_dir=data_dir,
                            train_limit=train_limit, image_size=int(cache.meta["image_size"]), runtime=runtime,
                            extraction=extraction_record(res, cache), settings=settings)
        _say(ctx, f"lesson cache {cache.path}: {extraction_text(ctx.extraction)}")
        if rows is None:
            rows = [fn for fn in ROWS if views or fn is not views_row]
        built = [fn(ctx) for fn in rows]
    result = LessonResult(built, lesson_parameter_counts(cache, weights), cache.path)
    result.files = write_report(result, ctx)
    if verbose:
        print("\n" + report_markdown(result, ctx))
        print(one_line("written: " + ", ".join(str(p) for p in result.files.values())))
    return result
