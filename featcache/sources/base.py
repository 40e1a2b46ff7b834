"""What every data source (reader) provides to extraction.

A source is a set of named splits of raw uint8 images with integer labels.
Extraction only ever asks a split for its labels, the source index of each
row, a content digest, and a batch of rows; a new kind of data touches only
its own module in this package.

Most sources know their rows when opened. Photos do not: which files decode
decides the rows, and finding out means decoding every file. Such a source
has ``pending`` rows (see ``PendingRows``): its digest is known at once (it
covers the file contents and the decoder, hence also which files decode),
and its rows are settled by whoever learns which files did not decode:
extraction, which decodes each file once anyway; a cache of the same data
(its ``skipped`` list); or, on first use of ``splits``, a decoding pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence

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


class PendingRows(Protocol):
    """Candidate rows of a source whose split rows depend on which files decode.

    ``labels``, ``index`` and ``paths`` describe every candidate file, in the
    source's listing order; ``read(start, stop)`` decodes candidates and
    returns ``{"image": (n, H, W, C) uint8, "problem": (n,) str}``, an
    unreadable file giving a blank image and the reason ('' for a good one).
    """

    labels: np.ndarray
    index: np.ndarray
    paths: list[str]
    image_shape: tuple[int, ...]
    unusable: list[tuple[str, str]]  # files known unusable without decoding, with the reason

    def read(self, start: int, stop: int) -> dict[str, np.ndarray]: ...

    def probe(self) -> dict[str, str]:
        """Decode every candidate: ``{path: reason}`` of those that do not decode."""

    def check(self, unreadable: Sequence[tuple[str, str]]) -> None:
        """Raise if these unreadable files must stop the run (``strict``)."""

    def assign(self, unreadable: Mapping[str, str]) -> tuple[dict[str, Split], list[tuple[str, str]]]:
        """The splits and the skipped files, given the candidates that do not decode."""


class DataSource:
    """A source's splits, identity and provenance.

    ``splits`` and ``skipped`` of a source with ``pending`` rows are settled
    on first use (decoding every file) unless ``settle`` was called first.
    """

    def __init__(
        self,
        name: str,
        class_names: list[str],
        splits: dict[str, Split] | None = None,
        # How to open the same data again (stored in caches, used by fine-tuning).
        spec: dict[str, Any] | None = None,
        # Image size used when neither the user nor the backbone says otherwise.
        default_image_size: int | None = None,
        # Files that could not be read, as (relative path, reason).
        skipped: list[tuple[str, str]] | None = None,
        *,
        digest: dict[str, str] | None = None,
        pending: PendingRows | None = None,
    ):
        if (splits is None) == (pending is None) or (pending is not None and digest is None):
            raise ValueError("give either splits, or pending rows with their digest")
        self.name = name
        self.class_names = class_names
        self.spec = spec or {}
        self.default_image_size = default_image_size
        self.pending = pending
        self._splits = splits
        self._skipped = list(skipped or [])
        self._digest = digest

    @property
    def digest(self) -> dict[str, str]:
        """Content hash per split: equal digests mean the same rows, labels and pixels."""
        if self._digest is not None:
            return dict(self._digest)
        return {name: split.digest for name, split in self._splits.items()}

    @property
    def splits(self) -> dict[str, Split]:
        if self._splits is None:
            self.settle(self.pending.probe())
        return self._splits

    @property
    def skipped(self) -> list[tuple[str, str]]:
        if self._splits is None:
            self.settle(self.pending.probe())
        return list(self._skipped)

    def settle(self, unreadable: Mapping[str, str]) -> None:
        """Fix the rows of a source with pending rows, given ``{path: reason}`` of the files that do not decode.

        ``dict(cache.meta["skipped"])`` of a cache whose ``data_digest``
        equals this source's ``digest`` is such a mapping (decoding depends
        only on the bytes and the decoder, both covered by the digest): the
        rows come out exactly as stored, with nothing decoded. A source with
        fixed rows ignores it.
        """
        if self.pending is not None:
            self._splits, self._skipped = self.pending.assign(unreadable)


def first_n(n_total: int, limit: int | None, flag: str, what: str) -> int:
    """Validate a ``--train-limit`` style option against the data's size."""
    from featcache.errors import FeatcacheError

    if limit is None:
        return n_total
    if limit < 1:
        raise FeatcacheError(f"{flag} must be at least 1 (got {limit})")
    if limit > n_total:
        raise FeatcacheError(f"{flag} {limit} is beyond the {n_total} {what}; use at most {n_total}")
    return limit
