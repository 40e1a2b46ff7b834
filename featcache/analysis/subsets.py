"""Seeded, class-stratified, nested training subsets.

For one seed, every size draws a prefix of the same ordering, so the
500-image subset contains the 250-image one: a learning curve then measures
data, not luck. The ordering interleaves classes in proportion to their
frequency, so every prefix is stratified (each class within one image of its
share).
"""

from __future__ import annotations

import numpy as np

from featcache.errors import FeatcacheError


def stratified_order(y: np.ndarray, seed: int) -> np.ndarray:
    """A permutation of ``range(len(y))`` whose every prefix is stratified."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    rank = np.empty(len(y), dtype=np.float64)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = rng.permutation(idx)
        # The k-th pick of a class sits at (k + u) / n_c on a shared [0, 1) axis.
        rank[idx] = (np.arange(len(idx)) + rng.random()) / len(idx)
    return np.lexsort((rng.random(len(y)), rank))


def check_size(n: int, y: np.ndarray, flag: str = "--train-size") -> None:
    n_classes = len(np.unique(y))
    if n > len(y):
        raise FeatcacheError(f"{flag} {n} is larger than the {len(y)} training images in the cache; use at most {len(y)}")
    if n < n_classes:
        raise FeatcacheError(f"{flag} {n} is smaller than the {n_classes} classes; use at least {n_classes} so every class is seen")


def stratified_subset(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Row indices (sorted) of a stratified subset of size ``n``; nested in ``n`` for a fixed seed."""
    check_size(n, y)
    return np.sort(stratified_order(y, seed)[:n])
