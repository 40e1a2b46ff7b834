"""Data sources (readers): where images come from.

A source is a small frozen dataclass in its own module of this package
(``FashionMNIST`` in fashion_mnist.py, ``PhotoFolder`` in images.py) whose
``open(image_size, verbose)`` returns a ``DataSource`` (base.py). A new kind
of data is one new class in one new module, plus its line in ``KINDS`` so
that ``open_source(spec)`` can re-open it from the ``spec`` dict stored in a
cache: later steps (fine-tuning, evaluation on images) then read exactly the
data the features came from. Its class attributes ``kind``, ``title``,
``selector`` (the option that chooses it: ``images`` for ``--images DIR``;
None for one chosen by ``--data KIND``), ``metavar`` (with a selector: the
placeholder of its value, ``DIR``) and ``options`` (extract's flat
option -> its field) let ``embedding.specs.from_options`` build it from
extract's flags; its flags themselves are in ``cli/extract.py``.
"""

from __future__ import annotations

import importlib
from typing import Any

from featcache.errors import FeatcacheError
from featcache.sources.base import DataSource, Split

__all__ = ["KINDS", "DataSource", "Split", "open_source", "source_classes"]

# A stored spec's "kind" -> (module, class) of its source.
KINDS = {
    "fashion_mnist": ("featcache.sources.fashion_mnist", "FashionMNIST"),
    "images": ("featcache.sources.images", "PhotoFolder"),
}


def source_classes() -> list[type]:
    """The source classes, in ``KINDS``'s order (the first without a ``selector`` is extract's default)."""
    return [getattr(importlib.import_module(module), name) for module, name in KINDS.values()]


def open_source(spec: dict[str, Any], verbose: bool = False) -> DataSource:
    """The source ``spec`` describes; ``verbose`` shows progress where opening takes long (scanning photos)."""
    kind = spec.get("kind")
    if kind not in KINDS:
        raise FeatcacheError(f"unknown data source kind {kind!r}")
    module, name = KINDS[kind]
    cls = getattr(importlib.import_module(module), name)
    args = {k: v for k, v in spec.items() if k not in ("kind", "image_size")}
    try:
        source = getattr(cls, "from_spec", cls)(**args)
    except TypeError:
        raise FeatcacheError(f"the stored {kind} source spec {spec!r} is not one featcache wrote; re-extract the cache") from None
    return source.open(spec.get("image_size"), verbose)
