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

- ``local``: this process, reading ahead in a thread (engines/local.py).
- ``ray``: Ray Data tasks decode, a pool of Ray actors embeds, on this
  machine or a Ray cluster (engines/ray_engine.py; ``pip install 'featcache[ray]'``).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from featcache.errors import FeatcacheError

ENGINES = ("local", "ray")


def get(name: str, **options: Any) -> Callable:
    """The engine's ``run(batches, read, make_embed, write)`` with its options bound, validated."""
    given = {k: v for k, v in options.items() if v is not None}
    if name == "local":
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            verb = "applies" if len(given) == 1 else "apply"
            raise FeatcacheError(f"{flags} {verb} only to --engine ray; add --engine ray or drop {'it' if len(given) == 1 else 'them'}")
        from featcache.embedding.engines import local

        return local.run
    if name == "ray":
        from featcache.embedding.engines import ray_engine

        ray_engine.check_options(**given)  # before any data or model work
        return functools.partial(ray_engine.run, **given)
    raise FeatcacheError(f"unknown engine {name!r}; use one of: {', '.join(ENGINES)}")
