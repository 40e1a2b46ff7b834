"""featcache: run a frozen pretrained image network once, cache the embeddings
in HDF5, then train and compare classifier heads on them in seconds.

The Python API mirrors the CLI: ``featcache.extract(...)`` is
``featcache extract ...``, ``featcache.open_cache(path)`` backs
``featcache info``, ``featcache.train(cache, head=...)`` is ``featcache train``,
``featcache.evaluate(head_path, cache)`` is ``featcache evaluate`` and
``featcache.lesson(weights=...)`` is ``featcache lesson``.
"""

__version__ = "0.1.0"

_API = {
    "extract": ("featcache.extraction", "extract"),
    "open_cache": ("featcache.cache", "open_cache"),
    "train": ("featcache.training", "train"),
    "evaluate": ("featcache.evaluation", "evaluate"),
    "lesson": ("featcache.lesson", "lesson"),
    "ScratchCNN": ("featcache.scratch", "ScratchCNN"),
    "learning_curve": ("featcache.curve", "learning_curve"),
    "probe": ("featcache.probing", "probe"),
    "finetune": ("featcache.finetuning", "finetune"),
    "export": ("featcache.exporting", "export"),
    "load_model": ("featcache.exported", "load_model"),
    "predict": ("featcache.prediction", "predict"),
    "FeatcacheError": ("featcache.errors", "FeatcacheError"),
}


def __getattr__(name):
    # Lazy so that `import featcache` (and the CLI's error paths) do not pull in TensorFlow.
    if name in _API:
        import importlib

        module, attr = _API[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'featcache' has no attribute {name!r}")


__all__ = list(_API)
