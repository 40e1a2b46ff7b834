"""learning_curve: test accuracy against training-set size, from cached features.

For each seed one class-stratified ordering of the cache's train split is
drawn (``subsets.stratified_order``); every size takes a prefix of it, so the
subsets are nested and a curve measures data, not luck. Each head is fitted on
each subset and scored on the full test split. A point's rows, and their
order, are those of ``train --train-size N --seed S`` (``subsets.stratified_subsets``),
so ``train`` reproduces it.

The parts, along a run:

- ``spec.py``: ``CurveSpec``, the settings, validated when made; ``bind(cache)``
  checks them against a cache and names the identity a folder's rows share.
- ``folder.py``: ``CurveFolder``, curve.csv / curve.json / curve.png, resume
  (refuses a folder holding another curve; checks the rows it reads back).
- ``plan.py``: the grid, the shared full-split rows and the tasks (warm-started
  chains), with the measurements behind both savings.
- ``tasks.py``: running the fits, in order or in parallel processes; heads
  that consume images (the ScratchCNN baseline) run like any other.
- ``run.py``: ``learning_curve`` and ``run_curve``, the short orchestrator.

Names are imported lazily, so the CLI can read the defaults in ``spec`` without
loading scikit-learn or h5py.
"""

from __future__ import annotations

import importlib

_NAMES = {
    "learning_curve": "run", "run_curve": "run", "CurveResult": "run", "curve_meta": "run",
    "CurveSpec": "spec", "BoundCurve": "spec", "BASELINES": "spec", "DEFAULT_KERAS_PRESET": "spec",
    "DEFAULT_SEEDS": "spec", "DEFAULT_HEADS": "spec", "DEFAULT_JOBS": "spec",
    "CurveFolder": "folder", "CSV_FIELDS": "folder", "read_rows": "folder", "write_rows": "folder",
    "load_curve": "folder", "title_for": "folder", "default_out": "folder",
    "CurvePlan": "plan", "make_plan": "plan", "plan_tasks": "plan", "training_rows": "plan",
    "fit_point": "tasks", "fit_points": "tasks", "uses_seed": "tasks", "Data": "tasks", "BACKEND": "tasks",
    "_load_images": "tasks", "_load_features": "tasks",
    # Kept importable from here (they moved to featcache.validate).
    "parse_sizes": "validate", "parse_seeds": "validate",
}


def __getattr__(name: str):
    if name in _NAMES:
        where = _NAMES[name]
        module = importlib.import_module("featcache.validate" if where == "validate" else f"{__name__}.{where}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [n for n in _NAMES if not n.startswith("_")]
