"""Where featcache keeps its files by default."""

import os
from pathlib import Path


def home() -> Path:
    """Root of default outputs: ``$FEATCACHE_HOME`` or ``./data``."""
    return Path(os.environ.get("FEATCACHE_HOME", "data"))


def cache_dir() -> Path:
    return home() / "cache"


def runs_dir() -> Path:
    return home() / "runs"


def runtime_dir() -> Path:
    """Converted models of the fast runtimes: ``$FEATCACHE_RUNTIME_DIR`` or ``<cache dir>/runtimes``.

    Separate from the caches' folder so that several homes (each test, each
    project) can share one conversion: it depends only on the model.
    """
    return Path(os.environ.get("FEATCACHE_RUNTIME_DIR") or cache_dir() / "runtimes")
