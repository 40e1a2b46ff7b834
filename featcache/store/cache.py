"""The HDF5 feature cache: writer (resumable, locked, atomic) and reader.

Layout::

    /                 attrs: format, fingerprint, settings and provenance
    /<split>/labels   (N,) int64
    /<split>/index    (N,) int64   row of each image in the source data
    /<split>/digests  (N,) 64-char ascii: SHA-256 of each image's content (caches since featcache 0.2)
    /<split>/features/<layer>  (N, D) float32|float16, chunked along N
    /<split>          attrs: rows_done

An extraction writes ``<path>.partial.h5`` and commits progress batch by batch
(``rows_done`` is bumped only after a batch's rows are written and flushed).
A killed run resumes from ``rows_done``; the finished file is marked complete
and renamed into place atomically, so ``<path>`` is only ever a complete
cache. A lock file keeps two writers apart.

Photos are written staged: their split rows depend on which files decode,
which is learnt while embedding them. The partial file then holds one group,
``/files``, with a row per candidate file (listing order) and its decode
problem (``/files/problem``, '' when it decoded); ``finish(regroup=...)``
writes the complete cache's splits from its rows into a new file, which
replaces ``<path>`` atomically, and deletes the partial file.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import h5py
import numpy as np

from featcache.errors import FeatcacheError

FORMAT = "featcache"
FORMAT_VERSION = 1
CHUNK_ROWS = 256
# A (256, 1280) float32 chunk is 1.3 MB, more than HDF5's default 1 MB chunk
# cache: every batch would then read-modify-write its chunk on disk.
WRITE_CHUNK_CACHE = 32 * 2**20
# Progress is committed (flushed, rows_done bumped) at most this often: a
# killed run redoes at most this much work, and slow file systems are not
# flushed for every batch.
COMMIT_SECONDS = 1.0
# Attributes stored as JSON because HDF5 attributes cannot hold dicts/lists of str.
_JSON_ATTRS = ("class_names", "layers", "source", "settings", "data_digest", "skipped", "layer_widths")


def partial_path(path: Path) -> Path:
    return path.with_name(path.name + ".partial.h5")


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def _encode(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (dict, list, tuple)) or value is None else value


def _decode_attrs(attrs) -> dict[str, Any]:
    out = {}
    for key, value in attrs.items():
        if isinstance(value, bytes):
            value = value.decode()
        if isinstance(value, np.generic):
            value = value.item()
        if key in _JSON_ATTRS and isinstance(value, str):
            value = json.loads(value)
        out[key] = value
    return out


def _open_h5(path: Path, mode: str = "r", peek: bool = False) -> h5py.File:
    """Open, with clear errors; ``peek`` reads a file another process holds open for writing."""
    try:
        return h5py.File(path, mode)
    except (OSError, ValueError) as exc:
        if "unable to lock file" in str(exc):
            if peek:
                try:  # attributes of a file being written are safe enough to show
                    return h5py.File(path, "r", locking=False)
                except (OSError, ValueError):
                    pass
            raise FeatcacheError(f"{path} is being written by another featcache process; wait for it to finish") from None
        raise FeatcacheError(
            f"{path} is not a readable HDF5 file ({str(exc).splitlines()[0]}); pass a featcache cache or delete the file"
        ) from None


@contextmanager
def exclusive_lock(path: Path, wait_message: str | None = None) -> Iterator[None]:
    """Hold ``<path>.lock``; waits (saying so) while another process holds it."""
    lp = lock_path(path)
    try:
        fd = os.open(lp, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise FeatcacheError(f"cannot write in {path.parent} ({exc.strerror}); choose a writable --out") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if wait_message:
                print(wait_message, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock; the lock file itself is harmless to leave


STAGING = "files"  # the one group of a staged partial file


@dataclass
class SplitSpec:
    name: str
    labels: np.ndarray
    index: np.ndarray
    paths: list[str] | None = None
    rows: np.ndarray | None = None  # with finish(regroup=...): the staged rows this split takes, increasing
    digests: list[str] | None = None  # per row, the SHA-256 hex of the image's content (train/test overlap checks)


class CacheWriter:
    """Creates or resumes ``<path>.partial.h5``; ``finish()`` publishes ``path``.

    ``attrs`` must include ``fingerprint``; a partial file with another
    fingerprint is stale (other settings) and is started afresh. ``staged``:
    ``splits`` is the one ``STAGING`` split, written with each row's decode
    problem; ``finish`` then needs ``regroup``.
    """

    def __init__(self, path: Path, attrs: dict[str, Any], splits: list[SplitSpec], layer_widths: dict[str, int], dtype: str,
                 staged: bool = False):
        if staged and [s.name for s in splits] != [STAGING]:
            raise ValueError(f"a staged write has the one split {STAGING!r}")
        self.path = Path(path)
        self.partial = partial_path(self.path)
        self.attrs = attrs
        self.splits = splits
        self.layer_widths = layer_widths
        self.dtype = np.dtype(dtype)
        self.staged = staged
        self._file: h5py.File | None = None
        self._written: dict[str, int] = {}  # rows written per split, committed or not
        self._last_commit = 0.0

    def open(self) -> dict[str, int]:
        """Open for writing; returns rows already done per split."""
        if self.partial.exists():
            try:
                f = h5py.File(self.partial, "r+", rdcc_nbytes=WRITE_CHUNK_CACHE)
                if f.attrs.get("fingerprint") == self.attrs["fingerprint"] and all(s.name in f for s in self.splits):
                    self._file = f
                else:
                    f.close()
            except (OSError, ValueError):
                pass  # unreadable leftovers of a crash: start again
            if self._file is None:
                self.partial.unlink()
        if self._file is None:
            self._file = self._create()
        done = {s.name: int(self._file[s.name].attrs["rows_done"]) for s in self.splits}
        self._written = dict(done)
        self._last_commit = time.monotonic()
        return done

    def _create(self) -> h5py.File:
        try:
            f = h5py.File(self.partial, "w", rdcc_nbytes=WRITE_CHUNK_CACHE)
        except OSError as exc:
            raise FeatcacheError(f"cannot write {self.partial} ({exc}); choose a writable --out") from None
        self._lay_out(f, self.attrs, self.splits)
        if self.staged:
            f[STAGING].create_dataset("problem", shape=(len(self.splits[0].labels),), dtype=h5py.string_dtype())
        f.flush()
        return f

    def _lay_out(self, f: h5py.File, attrs: dict[str, Any], splits: list[SplitSpec]) -> None:
        """Attributes, and per split its labels, index, paths and empty feature datasets."""
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["complete"] = False
        for key, value in attrs.items():
            f.attrs[key] = _encode(value)
        f.attrs["layer_widths"] = json.dumps(self.layer_widths)
        for spec in splits:
            g = f.create_group(spec.name)
            n = len(spec.labels)
            g.create_dataset("labels", data=np.asarray(spec.labels, dtype=np.int64))
            g.create_dataset("index", data=np.asarray(spec.index, dtype=np.int64))
            if spec.paths is not None:
                g.create_dataset("paths", data=np.array(spec.paths, dtype=object), dtype=h5py.string_dtype())
            if spec.digests is not None:
                g.create_dataset("digests", data=np.array(spec.digests, dtype="S64"), dtype=h5py.string_dtype("ascii", 64))
            feats = g.create_group("features")
            for layer, width in self.layer_widths.items():
                feats.create_dataset(
                    layer, shape=(n, width), dtype=self.dtype,
                    chunks=(max(1, min(CHUNK_ROWS, n)), width),
                )
            g.attrs["rows_done"] = 0

    def write(self, split: str, start: int, features: dict[str, np.ndarray], problems: np.ndarray | None = None) -> None:
        """Write rows ``start:start+n`` of every layer (staged: and their decode problems), in order; commits now and then."""
        g = self._file[split]
        if start != self._written[split]:
            raise RuntimeError(f"out-of-order write to {split}: {start} != {self._written[split]}")
        if (problems is not None) != self.staged:
            raise RuntimeError("a staged write gives every batch's decode problems, and only it does")
        for layer, values in features.items():
            g["features"][layer][start : start + len(values)] = values.astype(self.dtype, copy=False)
        if problems is not None:
            g["problem"][start : start + len(values)] = np.asarray(problems, dtype=object)
        self._written[split] = start + len(values)
        if time.monotonic() - self._last_commit >= COMMIT_SECONDS:
            self.commit()

    def commit(self) -> None:
        """Make written rows durable progress: data first, then the counters."""
        self._file.flush()  # the rows are on disk before they are counted
        for split, n in self._written.items():
            self._file[split].attrs["rows_done"] = n
        self._file.flush()
        self._last_commit = time.monotonic()

    def problems(self) -> dict[int, str]:
        """Staged: ``{row: reason}`` of the rows written so far whose file did not decode."""
        n = self._written[STAGING]
        return {i: p.decode() if isinstance(p, bytes) else p for i, p in enumerate(self._file[STAGING]["problem"][:n]) if p}

    def finish(self, extra_attrs: dict[str, Any] | None = None, regroup: list[SplitSpec] | None = None) -> Path:
        """Publish the complete cache; staged, its splits are ``regroup`` (each with the staged ``rows`` it takes)."""
        self.commit()
        f = self._file
        for spec in self.splits:
            if int(f[spec.name].attrs["rows_done"]) != len(spec.labels):
                raise RuntimeError(f"split {spec.name} is not fully written")
        if (regroup is not None) != self.staged:
            raise RuntimeError("a staged write is finished with regroup, and only it is")
        if regroup is not None:
            return self._finish_regrouped(extra_attrs or {}, regroup)
        for key, value in (extra_attrs or {}).items():
            f.attrs[key] = _encode(value)
        f.attrs["complete"] = True
        f.attrs["completed"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        f.close()
        self._file = None
        _fsync(self.partial)
        os.replace(self.partial, self.path)
        _fsync_dir(self.path.parent)
        return self.path

    def _finish_regrouped(self, extra_attrs: dict[str, Any], splits: list[SplitSpec]) -> Path:
        """Copy the staged rows of each split, block by block, into a new complete file that replaces ``path``."""
        staged = self._file[STAGING]["features"]
        # Beside the target, under the lock: os.replace stays atomic, and h5py creates it with the usual permissions.
        tmp = self.path.with_name(self.path.name + ".regroup.h5")
        try:
            with h5py.File(tmp, "w", rdcc_nbytes=WRITE_CHUNK_CACHE) as out:
                self._lay_out(out, {**self.attrs, **extra_attrs}, splits)
                for layer in self.layer_widths:
                    src = staged[layer]
                    filled = {s.name: 0 for s in splits}
                    for start in range(0, src.shape[0], 8 * CHUNK_ROWS):  # bounded memory, whatever the data set's size
                        block = src[start : start + 8 * CHUNK_ROWS]
                        for s in splits:
                            rows = s.rows[(s.rows >= start) & (s.rows < start + len(block))]
                            if len(rows):
                                out[s.name]["features"][layer][filled[s.name] : filled[s.name] + len(rows)] = block[rows - start]
                                filled[s.name] += len(rows)
                for s in splits:
                    out[s.name].attrs["rows_done"] = len(s.labels)
                out.attrs["complete"] = True
                out.attrs["completed"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            _fsync(tmp)
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(self.path.parent)
        self._file.close()
        self._file = None
        # A crash before this leaves the partial beside the complete cache; the next hit removes it.
        self.partial.unlink(missing_ok=True)
        return self.path

    def close(self) -> None:
        """Stop writing (e.g. on Ctrl-C): whole batches written so far count as progress."""
        if self._file is not None:
            self.commit()
            self._file.close()
            self._file = None


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_attrs(path: Path, peek: bool = False) -> dict[str, Any]:
    """Root attributes of a featcache file (complete or not); ``rows_done`` per split for incomplete ones."""
    path = Path(path)
    if not path.exists():
        raise FeatcacheError(f"cache not found: {path}; run 'featcache extract' first or check the path")
    with _open_h5(path, peek=peek) as f:
        if f.attrs.get("format") != FORMAT:
            raise FeatcacheError(f"{path} is an HDF5 file but not a featcache cache; pass a file written by 'featcache extract'")
        attrs = _decode_attrs(f.attrs)
        if not attrs.get("complete"):
            attrs["progress"] = {k: [int(f[k].attrs.get("rows_done", 0)), int(f[k]["labels"].shape[0])]
                                 for k in f if isinstance(f[k], h5py.Group) and "labels" in f[k]}
        return attrs


class Cache:
    """A complete feature cache, read lazily (``open_cache(path)``)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.meta = read_attrs(self.path)
        if not self.meta.get("complete"):
            raise FeatcacheError(
                f"{self.path} is an incomplete cache (extraction was interrupted); re-run the same 'featcache extract' command to finish it"
            )
        with _open_h5(self.path) as f:
            self.split_names = [k for k in ("train", "test", "val") if k in f] + sorted(
                k for k in f if isinstance(f[k], h5py.Group) and k not in ("train", "test", "val")
            )
            self.sizes = {s: int(f[s]["labels"].shape[0]) for s in self.split_names}

    @property
    def fingerprint(self) -> str:
        return self.meta["fingerprint"]

    @property
    def class_names(self) -> list[str]:
        return list(self.meta["class_names"])

    @property
    def layers(self) -> list[str]:
        return list(self.meta["layers"])

    @property
    def default_layer(self) -> str:
        return self.meta["default_layer"]

    def _check(self, split: str, layer: str | None = None) -> str:
        if split not in self.sizes:
            raise FeatcacheError(f"{self.path} has no {split!r} split (it has {', '.join(self.split_names)}); extract that split first")
        layer = layer or self.default_layer
        if layer not in self.layers:
            raise FeatcacheError(f"layer {layer!r} is not in {self.path}; cached layers: {', '.join(self.layers)}")
        return layer

    def features(self, split: str, layer: str | None = None, rows: np.ndarray | slice | None = None) -> np.ndarray:
        """Features of ``split`` as float32 (N, D); ``rows`` selects a subset."""
        layer = self._check(split, layer)
        with _open_h5(self.path) as f:
            ds = f[split]["features"][layer]
            # h5py needs increasing indices; read whole and select in memory
            # instead, which keeps the caller's row order.
            x = ds[()] if rows is None or isinstance(rows, np.ndarray) else ds[rows]
        if isinstance(rows, np.ndarray):
            x = x[rows]
        return x.astype(np.float32, copy=False)

    def labels(self, split: str) -> np.ndarray:
        self._check(split)
        with _open_h5(self.path) as f:
            return f[split]["labels"][()]

    def index(self, split: str) -> np.ndarray:
        self._check(split)
        with _open_h5(self.path) as f:
            return f[split]["index"][()]

    def paths(self, split: str) -> list[str] | None:
        self._check(split)
        with _open_h5(self.path) as f:
            if "paths" not in f[split]:
                return None
            return [p.decode() if isinstance(p, bytes) else p for p in f[split]["paths"][()]]

    def summary(self) -> dict[str, Any]:
        """Everything ``featcache info`` shows."""
        splits = {}
        for s in self.split_names:
            labels = self.labels(s)
            counts = np.bincount(labels, minlength=len(self.class_names))
            splits[s] = {
                "n": self.sizes[s],
                "class_counts": {name: int(c) for name, c in zip(self.class_names, counts)},
            }
        return {"path": str(self.path), **self.meta, "splits": splits}


def open_cache(path: str | Path) -> Cache:
    """Open a complete cache for reading; clear errors for anything else."""
    return Cache(path)
