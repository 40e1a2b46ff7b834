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
