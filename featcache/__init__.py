"""featcache: run a frozen pretrained image network once, cache the embeddings
in HDF5, then train and compare classifier heads on them in seconds.

The Python API mirrors the CLI: ``featcache.extract(...)`` is
``featcache extract ...``, ``featcache.open_cache(path)`` backs
``featcache info``, ``featcache.train(cache, head=...)`` is ``featcache train``,
``featcache.evaluate(head, cache)`` is ``featcache evaluate`` (``head``: a file,
or ``train``'s result; or a model file with a folder of photos in class folders), ``featcache.curve`` (``learning_curve``) is ``featcache curve``,
``featcache.load_head(path)`` reads a head file and
``featcache.lesson(weights=...)`` is ``featcache lesson``.
"""

# 0.2.0: the formats of 2026-12-03 (caches with per-layer digests, head and model files with content digests);
# every file records the version that wrote it (featcache_version).
__version__ = "0.2.0"

_API = {
    "extract": ("featcache.embedding.runner", "extract"),
    "FashionMNIST": ("featcache.sources.fashion_mnist", "FashionMNIST"),
    "PhotoFolder": ("featcache.sources.images", "PhotoFolder"),
    "ModelSpec": ("featcache.embedding.specs", "ModelSpec"),
    "StoreSpec": ("featcache.embedding.specs", "StoreSpec"),
    "LocalEngine": ("featcache.embedding.engines.local", "LocalEngine"),
    "RayEngine": ("featcache.embedding.engines.ray_engine", "RayEngine"),
    "open_cache": ("featcache.heads.io", "open_cache"),  # the store's, naming a head given as the cache
    "verify": ("featcache.recipes.files", "verify"),
    "info": ("featcache.recipes.files", "info"),
    "train": ("featcache.analysis.train", "train"),
    "evaluate": ("featcache.deploy.evaluate", "evaluate"),  # a head on a cache, or a model on a photo folder
    "load_head": ("featcache.heads.io", "load_head"),
    "save_head": ("featcache.heads.io", "save_head"),
    "lesson": ("featcache.recipes.lesson", "lesson"),
    "ScratchCNN": ("featcache.heads.scratch", "ScratchCNN"),
    "learning_curve": ("featcache.analysis.curve", "learning_curve"),
    "curve": ("featcache.analysis.curve", "learning_curve"),  # the CLI's name (featcache curve): the same function
    "probe": ("featcache.analysis.probe", "probe"),
    "finetune": ("featcache.deploy.finetune", "finetune"),
    "export": ("featcache.deploy.export", "export"),
    "load_model": ("featcache.deploy.model", "load_model"),
    "predict": ("featcache.deploy.predict", "predict"),
    "FeatcacheError": ("featcache.errors", "FeatcacheError"),
}


# Module paths of featcache 0.1 (a flat package), kept importable for one
# version: ``import featcache.extraction`` still works and warns.
import types as _types  # noqa: E402

_MOVED = {
    "featcache.fingerprint": "featcache.store.fingerprint",
    "featcache.atomic": "featcache.store.atomic",
    "featcache.cache": "featcache.store.cache",
    "featcache.tasks": "featcache.embedding.batches",
    "featcache.backbones": "featcache.embedding.backbones",
    "featcache.preprocess": "featcache.embedding.preprocess",
    "featcache.extractor": "featcache.embedding.mapper",
    "featcache.extraction": "featcache.embedding.runner",
    "featcache.engines": "featcache.embedding.engines",
    "featcache.scratch": "featcache.heads.scratch",
    "featcache.training": "featcache.analysis.train",
    "featcache.evaluation": "featcache.analysis.evaluate",
    "featcache.curve": "featcache.analysis.curve",
    "featcache.probing": "featcache.analysis.probe",
    "featcache.subsets": "featcache.analysis.subsets",
    "featcache.plots": "featcache.analysis.plots",
    "featcache.confusion": "featcache.analysis.plots",
    "featcache.endtoend": "featcache.deploy.endtoend",
    "featcache.exporting": "featcache.deploy.export",
    "featcache.exported": "featcache.deploy.model",
    "featcache.finetuning": "featcache.deploy.finetune",
    "featcache.prediction": "featcache.deploy.predict",
}


class _MovedFinder:
    """Meta-path finder: an old module name imports the module at its new place (with a DeprecationWarning)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name not in _MOVED:
            return None
        import importlib.util

        return importlib.util.spec_from_loader(name, _MovedFinder)

    @staticmethod
    def create_module(spec):
        import importlib

        from featcache.errors import warn

        # at the importing line (errors.warn): stacklevel=3 named the import machinery, and Python showed the warning
        # nowhere, as it shows a DeprecationWarning only where attributed to __main__
        warn(f"{spec.name} moved to {_MOVED[spec.name]}; the old name goes away in featcache 0.3", DeprecationWarning)
        moved = importlib.import_module(_MOVED[spec.name])
        # featcache.curve is the API's function now too: the import binds the package's attribute to what it returns,
        # and a module there would have made featcache.curve(...) "'module' object is not callable" from then on
        return _ModuleAndFunction(spec.name, moved) if spec.name.rpartition(".")[2] in _API else moved

    @staticmethod
    def exec_module(module):
        pass


class _ModuleAndFunction(_types.ModuleType):
    """An old module name that is an API function's name too (``featcache.curve``): the moved module's attributes
    (``featcache.curve.learning_curve``, the 0.1 form) and, called, the function (``featcache.curve(cache, sizes)``)."""

    def __init__(self, name: str, moved: _types.ModuleType) -> None:
        super().__init__(name, moved.__doc__)
        self.__dict__["_moved"] = moved

    def __getattr__(self, name: str):
        return getattr(self.__dict__["_moved"], name)

    def __call__(self, *args, **kwargs):
        return __getattr__(self.__name__.rpartition(".")[2])(*args, **kwargs)


import sys as _sys  # noqa: E402

_sys.meta_path.append(_MovedFinder)


# The package's modules, loaded on first use as the API's names are: docs/api.md's featcache.progress.bars_when_quiet()
# was "module 'featcache' has no attribute 'progress'" after a plain import featcache (a new-user tester).
_MODULES = ("sources", "embedding", "store", "heads", "analysis", "deploy", "recipes", "cli", "errors", "paths",
            "progress", "validate")


def __getattr__(name):
    # Lazy so that `import featcache` (and the CLI's error paths) do not pull in TensorFlow.
    if name in _MODULES:
        import importlib

        return importlib.import_module(f"featcache.{name}")
    if name in _API:
        import importlib

        module, attr = _API[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'featcache' has no attribute {name!r}")


__all__ = list(_API)


def __dir__() -> list[str]:
    """The module's names, the API's among them (loaded on first use)."""
    return sorted(set(globals()) | set(__all__) | set(_MODULES))
