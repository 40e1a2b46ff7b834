"""What every data source (reader) provides to extraction.

A source is a set of named splits of raw uint8 images with integer labels.
Extraction only ever asks a split for its labels, the source index of each
row, a content digest, and a batch of rows; a new kind of data touches only
its own module in this package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class Split:
    name: str
    labels: np.ndarray  # (N,) int64
    index: np.ndarray  # (N,) int64: row of each image in the original data
    read: Callable[[int, int], np.ndarray]  # rows [start, stop) as uint8 (n, H, W[, C])
    digest: str  # content hash of the raw images and labels of this split
    paths: list[str] | None = None  # relative file paths, for file-based sources

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class DataSource:
    name: str
    class_names: list[str]
    splits: dict[str, Split]
    # How to open the same data again (stored in caches, used by fine-tuning).
    spec: dict[str, Any]
    # Image size used when neither the user nor the backbone says otherwise.
    default_image_size: int | None = None
    # Files that could not be read, as (relative path, reason).
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def digest(self) -> dict[str, str]:
        return {name: split.digest for name, split in self.splits.items()}


def first_n(n_total: int, limit: int | None, flag: str, what: str) -> int:
    """Validate a ``--train-limit`` style option against the data's size."""
    from ..errors import FeatcacheError

    if limit is None:
        return n_total
    if limit < 1:
        raise FeatcacheError(f"{flag} must be at least 1 (got {limit})")
    if limit > n_total:
        raise FeatcacheError(f"{flag} {limit} is beyond the {n_total} {what}; use at most {n_total}")
    return limit
