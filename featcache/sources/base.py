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

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Sequence, TypeVar

import numpy as np

if TYPE_CHECKING:
    from featcache.embedding.batches import Batch
    from featcache.store import CacheWriter


# The one group of a photo folder's partial file: every candidate file's row, before the splits are cut out.
STAGING = "files"


@dataclass
class SplitSpec:
    name: str
    labels: np.ndarray
    index: np.ndarray
    paths: list[str] | None = None
    rows: np.ndarray | None = None  # with finish(regroup=...): the staged rows this split takes, increasing
    digests: list[str] | None = None  # per row, the SHA-256 hex of the image's content (train/test overlap checks)

    def __post_init__(self):
        # _copy_rows walks the staged rows block by block and fills each split in that order: rows out of order
        # would put features on other images' labels, silently (a review; today's caller sorts them).
        if self.rows is not None and np.any(np.diff(np.asarray(self.rows)) <= 0):
            raise ValueError(f"SplitSpec {self.name!r}: rows must be strictly increasing")


@dataclass
class Split:
    name: str
    labels: np.ndarray  # (N,) int64
    index: np.ndarray  # (N,) int64: row of each image in the original data
    read: Callable[[int, int], np.ndarray]  # rows [start, stop) as uint8 (n, H, W[, C])
    digest: str  # content hash of the raw images and labels of this split
    paths: list[str] | None = None  # relative file paths, for file-based sources
    # Per row, the SHA-256 hex digest of the image's content (a photo's file
    # bytes, a Fashion-MNIST image's raw pixels): equal digests, the same
    # image, wherever it sits. Or a function computing them when first asked.
    digests: list[str] | Callable[[], list[str]] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def row_digests(self) -> list[str] | None:
        """``digests``, computed now if the source left them for later."""
        if callable(self.digests):
            self.digests = list(self.digests())
        return self.digests


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
    digests: list[str]  # per candidate, the SHA-256 of its content
    image_shape: tuple[int, ...]
    unusable: list[tuple[str, str]]  # files known unusable without decoding, with the reason

    def read(self, start: int, stop: int) -> dict[str, np.ndarray]: ...

    def plan(self, source: DataSource) -> RowPlan[Any]:
        """How extraction embeds and writes these rows (see ``RowPlan``), for ``source``."""

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

    def rule_change(self, recorded: Any, fix: str, which: str) -> str | None:
        """Where ``recorded`` (the split digests of a cache made of this source, or of a head's cache) differ from
        ``digest`` for a change of featcache's rules rather than of the data, the source's one line saying so, with
        ``fix`` (what to do) and ``which`` (the cache made the old way); None otherwise. A photo folder's copies in
        a class counted once since 2026-12-06 (``images.PhotoRows.copies_once_line``) and a cache made by an older
        image decoder (``images.PhotoRows.older_decoder_line``): finetune, extract and curve said "changed" where
        nothing had. The one home of these lines."""
        if recorded == self.digest:
            return None
        for name in ("copies_once_line", "older_decoder_line"):
            line = getattr(self.pending, name, None)
            said = None if line is None else line(recorded, fix, which)
            if said is not None:
                return said
        return None

    def changes_since(self, rows: Mapping[str, str], left_out: Sequence[str]) -> str | None:
        """What changed in the files of this source since a cache of it recorded ``rows`` (each row's path and
        SHA-256) and ``left_out`` (the paths it skipped): the source's words (a photo folder's
        ``images.PhotoRows.changes_since``: files added, removed, changed, a few named), None where it cannot say
        (a source without files: Fashion-MNIST), or nothing did."""
        said = getattr(self.pending, "changes_since", None)
        return None if said is None else said(rows, left_out)

    def plan(self) -> RowPlan[Any]:
        """What extraction writes and how (``RowPlan``): the fixed splits, or the source's own staged plan."""
        return FixedRows(self) if self.pending is None else self.pending.plan(self)


def photo_root_of(spec: Any) -> str | None:
    """The photo folder a stored source ``spec`` (a cache's or a head's ``source``) reads, None for any other source."""
    if isinstance(spec, Mapping) and spec.get("kind") == "images" and spec.get("root"):
        return str(spec["root"])
    return None


def other_folders(a: str, b: str) -> bool:
    """Whether two recorded photo folders are two folders that exist: one moved, renamed or out of reach (another
    host, a container's path) is taken for the same (a review: a renamed project was refused). One home for heads
    and models replaced (``heads.io``) and caches and partials replaced (``store.reader``), through
    ``store.identity.other_photo_folder``."""
    import os

    try:
        return not os.path.samefile(a, b)
    except OSError:
        return False


def array_digest(*arrays: np.ndarray) -> str:
    """Content hash of arrays (dtype, shape and bytes)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.data)  # the same bytes as a cast to "B", which refuses an array with 0 rows (an IDX file of 0 images)
    return h.hexdigest()


def row_digests(images: np.ndarray) -> list[str]:
    """Per image of an array source: the SHA-256 of its raw uint8 bytes (the same image in two files has the same
    digest). Here, not in fashion_mnist.py: any source of image arrays digests its rows this way (a review)."""
    return [hashlib.sha256(np.ascontiguousarray(x).data).hexdigest() for x in images]


# The writer a plan writes with: a FixedRows plan any CacheWriter, a staged plan (photos) the store's StagedWriter,
# which make_writer builds when the plan says ``staged``. Contravariant: a plan for any CacheWriter takes a staged one.
W_contra = TypeVar("W_contra", bound="CacheWriter", contravariant=True)


class RowPlan(Protocol[W_contra]):
    """How extraction embeds a source's rows and writes them to the cache.

    The runner only ever does: ``w = store.make_writer(..., plan.specs,
    staged=plan.staged)``, ``done = w.open()``, run the engine over
    ``plan.sizes`` minus ``done`` with ``plan.read`` and
    ``plan.embedder(make_embed)``, hand each batch to ``plan.write(w, batch,
    out)``, then ``plan.finish(w, extra_attrs)`` and ``w.close()``. A source
    whose rows are known (``FixedRows``) writes its splits as they are; one
    whose rows are learnt while embedding (photos, see ``sources.images``)
    writes a staging split and cuts the splits out of it in ``finish``. The
    plan describes its rows (``SplitSpec``); the store chooses and builds the
    writer, so no source imports the store.
    """

    unit: str  # what a row is, for progress messages ("images", "files")
    sizes: dict[str, int]  # rows per group written, in writing order
    images: int  # the rows that are images, as far as is known before decoding (a photo folder's "notes.txt" is not)
    sample: np.ndarray  # one raw image (1, H, W[, C]): the model's input shape
    skipped: list[tuple[str, str]]  # files known unusable so far (the cache's ``skipped`` until ``finish``)
    hashed: int  # files read before the plan (a photo folder's, hashed); 0 where none
    left_out: list[tuple[str, str]]  # of those, the ones that are no rows to embed (copies, files unusable unread)
    specs: list[SplitSpec]  # the rows the writer lays out (one ``STAGING`` split when staged)
    staged: bool  # rows learnt while embedding: the store's staged writer, finished with the splits cut out

    def read(self, batch: Batch) -> Any: ...

    def embedder(self, make_embed: Callable) -> Callable:
        """The picklable embed factory the engine runs (``make_embed`` itself, or one wrapping it)."""

    def write(self, writer: W_contra, batch: Batch, out: dict[str, np.ndarray]) -> int:
        """Write one embedded batch; returns the images in it that were embedded (not unreadable files)."""

    def finish(self, writer: W_contra, extra_attrs: dict[str, Any]) -> None:
        """Publish the complete cache."""


class FixedRows:
    """``RowPlan`` of a source whose splits are known when opened: each split written as it is."""

    unit = "images"
    staged = False

    def __init__(self, source: DataSource):
        splits = source.splits
        self.specs = [SplitSpec(s.name, s.labels, s.index, s.paths, digests=s.row_digests()) for s in splits.values()]
        self.sizes = {s.name: len(s) for s in splits.values()}
        self.images = sum(self.sizes.values())
        self.read = _batch_reader({name: s.read for name, s in splits.items()})
        first = next(iter(splits.values()))
        self.sample = first.read(0, 1)
        self.skipped = source.skipped
        self.hashed, self.left_out = 0, []  # nothing read before: the rows are the source's splits

    def embedder(self, make_embed: Callable) -> Callable:
        return make_embed

    def write(self, writer: CacheWriter, batch: Batch, out: dict[str, np.ndarray]) -> int:
        writer.write(batch.split, batch.start, out)
        return len(batch)

    def finish(self, writer: CacheWriter, extra_attrs: dict[str, Any]) -> None:
        writer.finish(extra_attrs)


def _batch_reader(readers: dict[str, Callable[[int, int], Any]]) -> Callable[[Batch], Any]:
    """``batch -> rows``: only the readers travel when an engine pickles it (not the plan)."""
    return lambda b: readers[b.split](b.start, b.stop)
