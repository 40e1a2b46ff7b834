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
write)``; its ``runtime`` says how the network runs (``Mapper(runtime=...)``).
A new engine is one new class in one new module here (and a line in ``get``
for the CLI's ``--engine``):

- ``LocalEngine``: this process, reading ahead in a thread (engines/local.py).
- ``RayEngine``: Ray Data tasks decode, a pool of Ray actors embeds, on this
  machine or a Ray cluster (engines/ray_engine.py; ``pip install 'featcache[ray]'``).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

import numpy as np

from featcache.embedding.batches import Batch
from featcache.embedding.runtimes import DEFAULT_RUNTIME, check_runtime  # noqa: F401  (the runtimes' own; engines check theirs when made)
from featcache.errors import FeatcacheError

ENGINES = ("local", "ray")


class Engine(Protocol):
    """What ``extract`` needs of an engine: a frozen dataclass (its options) with these."""

    runtime: str

    def check(self) -> None:
        """Reach whatever the engine needs (Ray installed, the cluster), before any data or model work."""

    def run(self, batches: Sequence[Batch], read: Callable[[Batch], Any],
            make_embed: Callable[[], Callable[[Any], dict[str, np.ndarray]]],
            write: Callable[[Batch, dict[str, np.ndarray]], None]) -> None: ...


def get(name: str = "local", **options: Any) -> Engine:
    """The engine ``name`` with its options (None = not given, the engine's default): the CLI's ``--engine``."""
    given = {k: v for k, v in options.items() if v is not None}
    if name == "local":
        from featcache.embedding.engines.local import LocalEngine

        ray_only = [k for k in given if k != "runtime"]
        if ray_only:
            flags = ", ".join("--" + k.replace("_", "-") for k in ray_only)
            verb = "applies" if len(ray_only) == 1 else "apply"
            raise FeatcacheError(f"{flags} {verb} only to --engine ray; add --engine ray or drop {'it' if len(ray_only) == 1 else 'them'}")
        return LocalEngine(**given)
    if name == "ray":
        from featcache.embedding.engines.ray_engine import RayEngine

        return RayEngine(**given)
    raise FeatcacheError(f"unknown engine {name!r}; use one of: {', '.join(ENGINES)}")
