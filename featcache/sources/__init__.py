"""Data sources (readers): where images come from.

``open_source(spec)`` re-opens a source from the ``spec`` dict stored in a
cache, so later steps (fine-tuning, evaluation on images) read exactly the
data the features came from.
"""

from __future__ import annotations

from typing import Any

from featcache.errors import FeatcacheError
from featcache.sources.base import DataSource, Split

__all__ = ["DataSource", "Split", "open_source"]


def open_source(spec: dict[str, Any], verbose: bool = False) -> DataSource:
    """The source ``spec`` describes; ``verbose`` shows progress where opening takes long (scanning photos)."""
    kind = spec.get("kind")
    args = {k: v for k, v in spec.items() if k != "kind"}
    if kind == "fashion_mnist":
        from featcache.sources import fashion_mnist

        return fashion_mnist.load(**args)
    if kind == "images":
        from featcache.sources import images

        return images.load(**args, verbose=verbose)
    raise FeatcacheError(f"unknown data source kind {kind!r}")
