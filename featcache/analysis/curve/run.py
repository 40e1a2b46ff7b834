"""The orchestrator: spec -> bound to a cache -> folder (resume) -> plan -> fits -> files."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from featcache.errors import one_line
from featcache.progress import counted, status
from featcache.analysis.curve.folder import (EVERY_CLASS, POINTS, ROW_ORDER, TRAIN_ORDER, VALIDATION, CurveFolder, curve_key,
                                             default_out, title_for)
from featcache.analysis.curve.plan import CurvePlan, changed_subsets_dropped, make_plan, one_sided_dropped, work_items
from featcache.analysis.curve.spec import DEFAULT_HEADS, DEFAULT_SEEDS, BoundCurve, CurveSpec, identity_params
from featcache.analysis.curve import tasks as _tasks
from featcache.sources.images import check_report_outside_classes
from featcache.store.atomic import output_files, written_sha256
from featcache.store.lock import exclusive_lock, writing_wait
from featcache.heads.io import names_a_head_given_as_a_cache
from featcache.validate import (REPORT_DIGESTS, check_lock_timeout, check_path, checks_switches, drop_stale, JOBS_NOT_GIVEN, jobs_alias, report_digests,
                                usable_cores, views_words)

if TYPE_CHECKING:
    from featcache.store import Cache


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
        """Where curve.png is; no file there after a run with ``plot=False`` (``to_dict`` then gives None)."""
        return self.out / "curve.png"

    @property
    def summary(self) -> dict[str, dict[str, float]]:
        """Test accuracy of each head at each size (``{"logreg": {"10": 0.7738, ...}}``), the mean over the seeds,
        rounded to 4 places: curve.json's and ``to_dict()``'s ``summary``."""
        return self.meta["summary"]

    def text(self) -> str:
        """The summary as the CLI prints it and a verbose call too, one line per head: ``logreg   10: 0.7738  30:
        0.9286 ...``, each head's label where it is not its name alone (curve's keras head: its preset)."""
        from featcache.analysis.plots import accuracy_text, curve_head_label, summarize

        lines = []
        # the means of the rows, as the plot draws and labels them (plots.accuracy_text): printed from curve.json's
        # rounded summary it said 0.914 where the plot said 0.915
        for head, by_size in summarize(self.rows).items():
            # what each head was, as the plot's legend says: curve's keras (the lesson's 5 epochs) is not train's
            # default keras head, and the bare name made its points look like train's (0.753 against 0.828)
            label = curve_head_label(head, self.meta)
            lines.append(f"{head:<8} " + "  ".join(f"{n}: {accuracy_text(v[0])}" for n, v in by_size.items())
                         + (f"  ({label})" if label != head else ""))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """What ``curve --json`` prints: where the files are, what this call did, the summary per head and size, and
        what each head was, as the plot's legend and the text name it (``labels``: the keras head's preset)."""
        from featcache.analysis.plots import curve_head_label

        return {"out": str(self.out), "csv": str(self.csv), "json": str(self.json),
                "png": str(self.png) if self.png.exists() else None,  # none drawn (plot=False)
                "seconds": round(self.seconds, 3), "fits": self.fits, "resumed": self.resumed,
                # what the points are of, as the text's header says (--json left the views out; a new user)
                **{k: self.meta.get(k) for k in ("layer", "train_views", "test_views")},
                "summary": self.summary,
                # curve's keras (the lesson preset) is not train's (the default preset): --json said "keras" alone
                "labels": {head: curve_head_label(head, self.meta) for head in self.summary}}


def curve_meta(bound: BoundCurve, kept: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """curve.json before the run: the cache's metadata, the settings and the identity (``complete`` false).

    ``kept``: parameters of the heads whose rows earlier runs left in the
    folder and this run does not fit; the identity and the plot's legend
    cover them too, so the folder's curve.json vouches for every row it holds.
    """
    cache, spec, m = bound.cache, bound.spec, bound.cache.meta
    kept = {h: p for h, p in (kept or {}).items() if h not in bound.params}
    params = {**bound.params, **kept}
    return {
        "featcache_curve": 1, "cache": str(cache.path), "cache_fingerprint": cache.fingerprint,
        "dataset": m.get("dataset"), "source": m.get("source"), "backbone": m.get("backbone"),
        "weights": m.get("weights"), "weights_source": m.get("weights_source"),
        "weights_random": m.get("weights_random", False), "image_size": m.get("image_size"),
        "preprocessing": m.get("preprocessing"), "layer": bound.layer, "class_names": cache.class_names,
        "train_size": cache.sizes["train"], "test_size": cache.sizes["test"],
        "sizes": list(spec.sizes), "seeds": list(spec.seeds), "heads": list(spec.heads), "head_params": params,
        "kept_heads": list(kept),
        "baseline": spec.baseline, "baseline_sizes": list(spec.baseline_sizes), "jobs": spec.jobs,
        "train_views": list(bound.train_views), "test_views": list(bound.test_views),
        "identity": {**bound.identity, "heads": identity_params(params)}, "complete": False,
        ROW_ORDER: TRAIN_ORDER,  # every row is fitted on train's rows in train's order (folder.ROW_ORDER)
        VALIDATION: EVERY_CLASS,  # Keras rows validated on every class where the last rows leave one out (folder.VALIDATION)
    }


def _fit_all(bound: BoundCurve, plan: CurvePlan, folder: CurveFolder, verbose: bool) -> int:
    """Run the plan's tasks, rewriting curve.csv after each; the number of fits run."""
    from featcache.progress import Progress, bars_wanted, showing_fits

    bar = Progress(len(plan.todo), unit="point") if bars_wanted(verbose) and plan.todo else None
    work = work_items(bound, plan, os.path.getmtime(bound.cache.path))
    fits_run = 0
    try:
        added = plan.copy_shared()
        if bar is not None and added:
            bar.update(added)
        # the bar moves between fits; a fit itself (an SVM on many rows: minutes) says it runs (heads.views.fit_head)
        with showing_fits(bars_wanted(verbose)):
            for task, results in _tasks.execute(work, bound.spec.jobs):
                fits_run += len(task[2])
                head, seed, sizes = task
                # a chain re-run to reach a new size (warm starts) ends at sizes the folder keeps: the bar named the
                # last of those, with a refit's accuracy curve.csv never holds (a new-user tester adding a size)
                new = [(n, r[0]) for n, r in zip(sizes, results) if (head, seed, n) not in plan.rows] or [(sizes[-1], results[-1][0])]
                added += plan.add(task, results)
                folder.write(plan.stored())
                if bar is not None:
                    # which fit the accuracy is of: "acc" alone jumped 0.94 -> 0.59 -> 0.67 between heads (a new user),
                    # and "keras at 25: 0.5882" then "keras at 25: 0.6732" looked contradictory without the seed
                    # (another training subset: curve.csv's seed column; a new user)
                    bar.update(added, values=[(f"{head} at {new[-1][0]}, seed {seed}", new[-1][1])])
    finally:
        _tasks.clear_arrays()
    return fits_run


def _finish(plan: CurvePlan, folder: CurveFolder, meta: dict[str, Any], fits_run: int,
            seconds: float, plot: bool) -> list[dict[str, Any]]:
    from featcache.analysis.plots import summarize

    rows = plan.stored()
    meta.update(complete=True, seconds=round(seconds, 3), rows_added=len(plan.todo), rows_resumed=len(plan.grid) - len(plan.todo),
                rows_kept=len(plan.kept), fits_run=fits_run, rows_shared=len(plan.shared),
                fit_seconds_total=round(sum(r["fit_seconds"] or 0.0 for r in rows), 3),  # a shared row: None, no fit
                summary={h: {str(n): round(v[0], 4) for n, v in by.items()} for h, by in summarize(rows).items()})
    # Its files checked again after the fits: a curve.png the user saved there during the run was replaced (an
    # adversarial tester). Refused here, the rows stay in curve.csv: once the picture is moved away, the same
    # command resumes with nothing left to fit.
    folder.check_outputs(known=dict(meta.get(REPORT_DIGESTS) or {}))
    # the plot, then curve.json recording its SHA-256 (a rerun replaces it only while unchanged): both or neither
    with output_files(folder.path, [folder.png, folder.csv, folder.json]):  # (folder.png: drawn, or one from before dropped)
        if plot:
            from featcache.analysis.plots import CurveSet, plot_learning_curves

            plot_learning_curves([CurveSet("", rows, meta)], folder.png, title=title_for(meta))
            meta[REPORT_DIGESTS] = report_digests([folder.png], meta.get(REPORT_DIGESTS), written_sha256)
        else:
            meta[REPORT_DIGESTS] = drop_stale(folder.png, meta.get(REPORT_DIGESTS))
        folder.write(rows, meta)
    return rows


@checks_switches  # plot and verbose, as learning_curve's (plot='no' drew the plot)
def run_curve(spec: CurveSpec, cache: Cache | str | Path, out: str | Path | None = None, *, plot: bool = True,
              verbose: bool = False, lock_timeout: float | None = None) -> CurveResult:
    """Fit every point of ``spec`` on ``cache`` (a path or an open Cache) that ``out`` does not hold yet.

    The folder's lock (``<out>.lock`` beside it, as extract's beside a cache) is held for the whole run:
    a second run into the same folder waits (at most ``lock_timeout`` seconds; None: until it is done),
    then resumes from the rows the first one wrote. Without it the two each rewrote curve.csv from what they
    had read at their start, and the last writer's rows were all that was left.
    """
    from featcache.store import as_cache

    t_start = time.perf_counter()
    timeout = check_lock_timeout(lock_timeout)
    cache = as_cache(cache)
    bound = spec.bind(cache)
    from featcache.analysis.evaluate import warn_if_splits_overlap

    warn_if_splits_overlap(cache, "curve")  # every point is scored on the test split
    from featcache.analysis.subsets import warn_missing_classes

    warn_missing_classes(cache.labels("test"), cache.class_names)
    folder = CurveFolder(check_path(out, "out", "a folder for the curve") if out is not None else default_out(cache, bound.layer, bound.identity),
                         curve_key(bound.identity))
    check_report_outside_classes(folder.path, cache.photo_root)
    wait = writing_wait(folder.path) if verbose else None
    with output_files(folder.path, []):  # a run stopped before its first row leaves no folder made for its lock
        folder.make_parent()
        with exclusive_lock(folder.path, wait_message=wait, timeout=timeout):
            return _run_locked(bound, folder, t_start, plot, verbose)


def _run_locked(bound: BoundCurve, folder: CurveFolder, t_start: float, plot: bool, verbose: bool) -> CurveResult:
    """``run_curve`` under the folder's lock: read what the folder holds, plan, fit, write."""
    spec = bound.spec
    kept = folder.check_outputs()
    done = folder.finished_rows(bound.identity)
    earlier = folder.earlier_params()
    if done and folder.in_earlier_order():
        done = changed_subsets_dropped(done, bound.cache.labels("train"), folder.csv)
    if done and folder.validated_before_every_class():
        done = one_sided_dropped(done, bound.cache.labels("train"), {**earlier, **bound.params}, folder.csv)
    plan = make_plan(bound, done)
    meta = curve_meta(bound, {h: earlier[h] for h in {k[0] for k in plan.kept} if h in earlier})
    meta[POINTS] = len(plan.grid) + len(plan.kept)  # the rows of the finished curve (folder.unfinished)
    meta[REPORT_DIGESTS] = kept  # the curve.png left from before, unchanged, until this run draws its own or drops it
    if spec.baseline and any(key[0] == spec.baseline for key in plan.todo):  # its images, before the folder is written
        _tasks.checked_source(bound.cache)
    with output_files(folder.path, [folder.csv, folder.json]):  # a full disk here leaves no empty folder behind
        folder.check_writable()
        folder.write(plan.stored(), meta)
    if verbose:
        status(one_line(f"learning curve: {counted(len(plan.grid), 'point')} ({len(plan.rows)} already in {folder.csv}), "
              f"sizes {','.join(map(str, spec.sizes))}, seeds {len(spec.seeds)}, heads {','.join(spec.heads)}"
              + (f", baseline {spec.baseline} at {','.join(map(str, spec.baseline_sizes))}" if spec.baseline else "")
              # photos are decoded at the cache's size: a scratch CNN at 224 px took 75 s a point (a new-user tester)
              + (f" on {bound.cache.meta.get('image_size')} px photos" if spec.baseline and bound.cache.photo_root else "")
              # only:flip (without the original) went unsaid, as the original's (h137); one view is not averaged
              + (f", train views {views_words(bound.train_views, ',')}, test view"
                 f"{'s averaged' * (len(bound.test_views) > 1)} {views_words(bound.test_views, ',')}"
                 if (bound.train_views, bound.test_views) != (("orig",), ("orig",)) else "")
              + f", jobs {spec.jobs}" + (f" ({usable_cores()} cores)" if spec.jobs < 0 else "")  # -1 said nothing (a new user)
              + (f"; keeps the {counted(len(plan.kept), 'other row')} already there ({', '.join(sorted({k[0] for k in plan.kept}))})"
                 if plan.kept else "")))
    fits_run = _fit_all(bound, plan, folder, verbose)
    seconds = time.perf_counter() - t_start
    rows = _finish(plan, folder, meta, fits_run, seconds, plot)
    result = CurveResult(folder.path, rows, seconds, len(plan.todo), len(plan.grid) - len(plan.todo), meta)
    if verbose:
        print(one_line(f"wrote {folder.csv}, curve.json" + (", curve.png" if plot else "") + f" in {seconds:.1f} s"))
        print(result.text())  # what each head scored at each size: the CLI's lines
    return result


@names_a_head_given_as_a_cache
@checks_switches
def learning_curve(
    cache: Cache | str | Path,
    sizes: str | Sequence[int],
    seeds: int | Sequence[int] = DEFAULT_SEEDS,
    heads: str | Sequence[str] = DEFAULT_HEADS,
    layer: str | None = None,
    out: str | Path | None = None,
    jobs: int = JOBS_NOT_GIVEN,
    *,
    n_jobs: int | None = None,
    head_params: dict[str, dict[str, Any]] | None = None,
    baseline: str | None = None,
    baseline_sizes: str | Sequence[int] = (),
    baseline_params: dict[str, Any] | None = None,
    train_views: str | Sequence[str] | None = None,
    test_views: str | Sequence[str] | None = None,
    plot: bool = True,
    verbose: bool = False,
    lock_timeout: float | None = None,
) -> CurveResult:
    """Fit every head on nested stratified subsets of every size, for every seed; score each on the test split.

    ``cache``: a cache's path or an open ``Cache``. ``sizes``: the training-set
    sizes, a list (``[100, 500, 2000]``) or ``"100,500,2000"``. ``seeds``: a count
    K (seeds 0..K-1, default 3) or a list of seeds; each seed draws one
    class-stratified ordering, and every size is a prefix of it. ``heads``: the
    heads to fit (default ``("logreg", "keras")``; the Keras head trains with the
    ``"lesson"`` preset, 5 epochs). ``head_params``: each head's own parameters,
    ``{"logreg": {"C": "cv"}, "keras": {"epochs": 10}}``. ``layer``: the cached
    layer (default: the cache's default layer). ``baseline="scratch"`` also
    trains a from-scratch CNN on the cache's raw images at ``baseline_sizes``,
    with ``baseline_params`` (``ScratchCNN``'s keywords, e.g. ``{"epochs": 5}``).
    ``jobs``: fits in parallel processes (default 1; -1: every core); ``n_jobs``:
    the same setting under scikit-learn's name (give one of them).

    ``out``: the folder of curve.csv, curve.json and curve.png (default:
    ``runs/curve_<data>_<backbone>_<size>px_<layer>_<id>`` under
    ``$FEATCACHE_HOME``, else ``./data``); re-running resumes from the rows it
    holds. ``plot=False`` draws no curve.png. ``train_views`` and
    ``test_views`` (default: every view the cache has): subsets are drawn over
    images and fitted on these views of each; test views are averaged.
    ``lock_timeout``: seconds to wait at most while another run writes the same
    folder (None: until it is done). ``verbose=True`` shows the progress, each
    fit's notes once, and prints the summary (``CurveResult.text()``).

    Returns a ``CurveResult``: ``rows``, ``summary`` (each head's mean accuracy
    at each size) and where the files are. The keywords build a ``CurveSpec``;
    ``run_curve(spec, cache, out)`` does the same from a spec.
    """
    jobs = jobs_alias(jobs, n_jobs)
    spec = CurveSpec(sizes=sizes, seeds=seeds, heads=heads, layer=layer, head_params=head_params or {},
                     baseline=baseline, baseline_sizes=() if baseline_sizes is None else baseline_sizes, baseline_params=baseline_params, jobs=jobs,
                     train_views=train_views, test_views=test_views)
    return run_curve(spec, cache, out, plot=plot, verbose=verbose, lock_timeout=lock_timeout)
