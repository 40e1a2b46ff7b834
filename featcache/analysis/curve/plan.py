"""The plan of a learning curve: its grid of points, the rows already finished, and the fits that make the rest.

Two savings keep a full curve cheap, without changing what is fitted:

- Logistic regression is warm-started along each seed's sizes (smallest
  first): lbfgs starts from the previous size's solution instead of zero. The
  problem is strictly convex, so the optimum is the same; reaching it takes
  about 40 % fewer iterations (a 60,000-row fit: 190 instead of 356), and the
  test accuracy agrees with cold fits to within 0.0011 over a 27-point
  Fashion-MNIST curve (docs/benchmarks.md, "Learning curves").
  ``head_params={"logreg": {"warm_start": False}}`` (CLI ``--no-warm-start``)
  fits every point cold.
- At the full train split every seed's subset is the same set of images, so a
  head whose fit does not depend on the seed (``uses_seed`` false: logistic
  regression with a fixed C) is fitted there once (in the first seed's
  chain) and its row repeated for the other seeds, with fit_seconds None
  (empty in curve.csv): no fit of its own to time (it said 0.0000, a fit of no
  seconds; a new-user tester).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from featcache.analysis.curve.spec import BoundCurve, consumes
from featcache.analysis.curve.tasks import Data, Task, uses_seed
from featcache.analysis.subsets import stratified_order, stratified_subsets
from featcache.progress import counted, note

Key = tuple[str, int, int]  # (head, seed, size)


def training_rows(y: np.ndarray, sizes: Sequence[int], seed: int) -> dict[int, np.ndarray]:
    """Rows of each size for one seed, nested: ``subsets.stratified_subsets``, the rows and their order that
    ``train --train-size N --seed S`` fits (the shuffled prefix itself, as before, gave other numbers than train's
    for the same images, Keras and SVM points most; a new-user tester)."""
    return stratified_subsets(y, sizes, seed)


def changed_subsets_dropped(done: dict[Key, dict[str, Any]], y: np.ndarray, csv_path: Path) -> dict[Key, dict[str, Any]]:
    """``done`` less the rows whose subset changed when every class's first image came first in train's order
    (``subsets.stratified_order``): only small subsets of classes of unequal sizes, where one class could be left
    out (a new-user tester). Said in one line; those rows are fitted again, the others kept."""
    seeds = {s for _, s, _ in done}
    orders = {s: (stratified_order(y, s), stratified_order(y, s, classes_first=False)) for s in seeds}  # once a seed
    changed = {(s, n) for _, s, n in done if not np.array_equal(np.sort(orders[s][0][:n]), np.sort(orders[s][1][:n]))}
    if not changed:
        return done
    dropped = sorted(k for k in done if k[1:] in changed)
    note(f"featcache curve: note: {counted(len(dropped), 'row')} of {csv_path} (sizes {', '.join(str(n) for n in sorted({n for _, n in changed}))}) "
          "were fitted on a subset that could leave a class out (before every class's first image came first in "
          "train's order); dropped, and those this run asks for are fitted again")
    return {k: r for k, r in done.items() if k[1:] not in changed}


def one_sided_dropped(done: dict[Key, dict[str, Any]], y: np.ndarray, params: dict[str, dict[str, Any]],
                      csv_path: Path) -> dict[Key, dict[str, Any]]:
    """``done`` less the Keras head's rows fitted before it validated on images of every class, where Keras's last
    rows of their subset leave a class out (``heads.dense.held_out``: a photo folder's rows are in class order); the
    others are the same fits now. Said in one line; those rows are fitted again. ``params``: each head's, by name."""
    from featcache.heads import HEADS, DenseHead
    from featcache.heads.dense import STRATIFIED, held_out

    def split_of(head: str) -> Any:
        """The head's validation split (the class's default where ``params`` has none); 0: not a Keras head."""
        if not (isinstance(HEADS.get(head), type) and issubclass(HEADS[head], DenseHead)):
            return 0
        return {**HEADS[head]().get_params(), **(params.get(head) or {})}.get("validation_split") or 0

    splits = {head: split_of(head) for head in {k[0] for k in done}}  # once a head, not once a row
    keras_rows = [k for k in done if splits[k[0]]]
    sizes: dict[int, set[int]] = {}
    for _, seed, n in keras_rows:
        sizes.setdefault(seed, set()).add(n)
    subsets = {seed: stratified_subsets(y, sorted(ns), seed) for seed, ns in sizes.items()}  # one ordering a seed

    def one_sided(seed: int, n: int, split: Any) -> bool:
        try:
            return held_out(n, float(split), labels=y[subsets[seed][n]], seed=seed).how == STRATIFIED
        except ValueError:  # too few to hold out any: the fit refused it, no row was written
            return False

    dropped = sorted(k for k in keras_rows if one_sided(k[1], k[2], splits[k[0]]))
    if not dropped:
        return done
    note(f"featcache curve: note: {counted(len(dropped), 'row')} of {csv_path} ({', '.join(sorted({k[0] for k in dropped}))}, sizes "
         f"{', '.join(str(n) for n in sorted({k[2] for k in dropped}))}) were fitted before the Keras head validated on "
         "images of every class, on Keras's last rows, which leave a class out there (rows in class order); dropped, "
         "and those this run asks for are fitted again")
    dropped = set(dropped)
    return {k: r for k, r in done.items() if k not in dropped}


def plan_tasks(todo: list[Key], grid: list[Key], shared: dict[Key, Key], params: dict[str, dict[str, Any]]) -> list[Task]:
    """The fits that produce the missing rows: ``(head, seed, sizes)`` tasks.

    A warm-started head fits each seed's sizes in one task, smallest first,
    and always the whole chain (less shared rows), so a point's starting
    solution does not depend on what an earlier, interrupted run finished.
    Other heads fit one size per task.
    """
    tasks: list[Task] = []
    missing = [k for k in todo if k not in shared]
    for head, seed in dict.fromkeys((h, s) for h, s, _ in missing):
        if params[head].get("warm_start"):
            tasks.append((head, seed, tuple(n for h, s, n in grid if (h, s) == (head, seed) and (h, s, n) not in shared)))
        else:
            tasks += [(head, seed, (n,)) for h, s, n in missing if (h, s) == (head, seed)]
    return tasks


@dataclass
class CurvePlan:
    """Rows finished so far (``rows``, by key) and the tasks that add the missing ones."""

    grid: list[Key]
    rows: dict[Key, dict[str, Any]]
    todo: list[Key]
    shared: dict[Key, Key]  # a row -> the row (first seed, same size) it copies
    tasks: list[Task] = field(default_factory=list)
    kept: dict[Key, dict[str, Any]] = field(default_factory=dict)  # finished rows outside this grid: other heads, sizes, seeds

    def ordered(self) -> list[dict[str, Any]]:
        """This grid's rows finished so far, in grid order."""
        return [self.rows[k] for k in self.grid if k in self.rows]

    def stored(self) -> list[dict[str, Any]]:
        """Every row the folder holds: this grid's, then those kept from earlier runs (a folder collects points)."""
        return self.ordered() + [self.kept[k] for k in sorted(self.kept)]

    def copy_shared(self) -> int:
        """Fill in rows shared with a finished fit; how many were added."""
        new = [k for k, src in self.shared.items() if k not in self.rows and src in self.rows]
        for k in new:
            self.rows[k] = {**self.rows[self.shared[k]], "seed": k[1], "fit_seconds": None}  # no fit of its own to time
        return len(new)

    def add(self, task: Task, results: list[tuple[float, float]]) -> int:
        """Record a finished task's rows (a re-run chain keeps the rows already there); how many were added."""
        head, seed, sizes = task
        added = 0
        for n, (acc, secs) in zip(sizes, results):
            if (head, seed, n) not in self.rows:
                self.rows[(head, seed, n)] = {"size": n, "seed": seed, "head": head, "accuracy": acc, "fit_seconds": secs}
                added += 1
        return added + self.copy_shared()


def make_plan(bound: BoundCurve, done: dict[Key, dict[str, Any]]) -> CurvePlan:
    """The grid of ``bound``'s points, the finished ones among ``done``, and the tasks for the rest."""
    spec, params = bound.spec, bound.params
    grid = [(h, s, n) for h in spec.fitted for s in spec.seeds for n in spec.sizes_of(h)]
    rows = {k: done[k] for k in grid if k in done}
    kept = {k: r for k, r in done.items() if k not in rows}
    todo = [k for k in grid if k not in rows]
    full = bound.train_size
    shared = {(h, s, full): (h, spec.seeds[0], full) for h in spec.heads if full in spec.sizes and not uses_seed(h, params[h])
              for s in spec.seeds[1:]}
    tasks = plan_tasks(todo, grid, shared, params)
    # Longest fits first (heads on raw images, then by rows fitted), so the
    # last workers to finish hold small tasks.
    rank = {h: i for i, h in enumerate(spec.heads)}
    tasks.sort(key=lambda t: (consumes(t[0]) != "images", -sum(t[2]), rank.get(t[0], -1), t[1]))
    return CurvePlan(grid, rows, todo, shared, tasks, kept)


def work_items(bound: BoundCurve, plan: CurvePlan, mtime: float) -> list[tuple]:
    """``tasks.run_task`` arguments for every task of ``plan``: data handle, task, parameters, rows per size."""
    spec = bound.spec
    y = bound.cache.labels("train")
    all_sizes = sorted(set(spec.sizes) | set(spec.baseline_sizes))
    subsets = {s: training_rows(y, all_sizes, s) for s in spec.seeds}
    path = str(bound.cache.path)
    data = {h: Data(path, mtime, bound.layer, consumes(h), bound.train_views, bound.test_views, bound.cache.sealed_as)
            for h in spec.fitted}
    return [(data[h], (h, s, ns), bound.params[h], [subsets[s][n] for n in ns]) for h, s, ns in plan.tasks]
