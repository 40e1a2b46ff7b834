"""Engines (distributors): who runs the mapper over the batches.

An engine gets the list of batches still to do, a ``read`` (reader), a
``make_embed`` (mapper factory: each process that embeds calls it once to
build the network) and a ``write`` (writer) callable, and must call
``write`` from the calling process, in batch order. What ``read`` returns (an
array of images, or a dict of row-aligned arrays such as images with each
row's decode problem) goes to the embed function as it is, and what that
returns (a dict of row-aligned arrays) goes to ``write``. Only the engine changes
when extraction moves to a cluster; it never changes the features, so it is
not part of a cache's identity.

An engine is a frozen dataclass of its options with ``check()`` (reach
what it needs, before any data work) and ``run(batches, read, make_embed,
write)``, which returns its own start-up's seconds (or None); its
``runtime`` says how the network runs (``Mapper(runtime=...)``).
A new engine is one new class in one new module here and its line in
``ENGINES`` (the CLI's ``--engine`` choices and ``get`` read that table; an
option is the engine's own when it is one of its dataclass fields):

- ``LocalEngine``: this process, reading ahead in a thread (engines/local.py).
- ``RayEngine``: Ray Data tasks decode, a pool of Ray actors embeds, on this
  machine or a Ray cluster (engines/ray_engine.py; ``pip install 'featcache[ray]'``).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

import numpy as np

from featcache.embedding.batches import Batch
from featcache.embedding.runtimes import DEFAULT_RUNTIME, check_runtime  # noqa: F401  (the runtimes' own; engines check theirs when made)
from featcache.errors import FeatcacheError, option, unknown
from featcache.progress import agreeing

# --engine NAME -> (module, class), imported only when chosen (Ray is an optional dependency).
ENGINES = {
    "local": ("featcache.embedding.engines.local", "LocalEngine"),
    "ray": ("featcache.embedding.engines.ray_engine", "RayEngine"),
}
DEFAULT_ENGINE = "local"  # extract without --engine: no optional dependency, no cluster

class Engine(Protocol):
    """What ``extract`` needs of an engine: a frozen dataclass (its options) with these."""

    runtime: str

    def check(self) -> None:
        """Reach whatever the engine needs (Ray installed, the cluster), before any data or model work."""

    def run(self, batches: Sequence[Batch], read: Callable[[Batch], Any],
            make_embed: Callable[[], Callable[[Any], dict[str, np.ndarray]]],
            write: Callable[[Batch, dict[str, np.ndarray]], None]) -> float | None:
        """Embed and write ``batches``; returns the seconds of the engine's own start-up within (Ray's cluster and
        actors, each building the network), which extract reports apart from the embedding's rate; None: none."""


def engine_class(name: str) -> type:
    """The class of engine ``name`` (``ENGINES``), imported now."""
    import importlib

    if name not in ENGINES:
        raise FeatcacheError(unknown(f"engine {name!r}", ENGINES))  # errors.unknown: the one wording
    module, cls = ENGINES[name]
    return getattr(importlib.import_module(module), cls)


def get(name: str = DEFAULT_ENGINE, **options: Any) -> Engine:
    """The engine ``name`` with its options (None = not given, the engine's default): the CLI's ``--engine``.

    An option given that is not a field of that engine is one line naming the engines it belongs to."""
    import dataclasses

    cls = engine_class(name)
    given = {k: v for k, v in options.items() if v is not None}
    fields = {f.name for f in dataclasses.fields(cls)}
    foreign = [k for k in given if k not in fields]
    if foreign:
        # in the caller's words: extract(workers=2) in 0.1's keyword form was told "add --engine ray"
        flags = ", ".join(option("--" + k.replace("_", "-"), k) for k in foreign)
        owners = [n for n in ENGINES if n != name and set(foreign) <= {f.name for f in dataclasses.fields(engine_class(n))}]
        where = " or ".join(option(f"--engine {n}", f"engine={n!r}") for n in owners) or "another engine"
        verb, them = agreeing(len(foreign), "applies", "apply"), agreeing(len(foreign), "it", "them")
        raise FeatcacheError(f"{flags} {verb} only to {where}; add {where if owners else option('--engine', 'engine=')} or drop "
                             f"{them}")
    return cls(**given)
