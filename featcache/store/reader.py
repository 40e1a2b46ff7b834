"""Reading a cache, and checking that it is what was written.

Every open checks the cache's attributes and its content digest (SHA-256 of
labels, index, paths and the identity attributes: small, so cheap); every
feature read is checked by HDF5's Fletcher-32 per chunk, and an open Cache's
first read of a whole layer (or most of it) by the layer's own sealed digest
(``Cache._read_checked``). A damaged cache is one line naming the file and
the fix (re-extract), never wrong numbers.
``verify`` reads every chunk of every dataset (``featcache verify``).
"""

from __future__ import annotations

import errno
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import h5py
import numpy as np

from featcache.errors import CacheBusy, DamagedCache, FeatcacheError, NotHDF5, command, command_word, first_line, given, option, out_option, warn
from featcache.progress import agreeing, counted, named
from featcache.store.fingerprint import fingerprint
from featcache.store.layout import (
    NOT_REPEATED,
    CHUNK_ROWS,
    COMPLETION_DIGEST,
    DATASET_DIGESTS,
    FORMAT,
    FORMAT_VERSION,
    HASH_BLOCK_CHUNKS,
    ORIG,
    PARTIAL_OF,
    PARTIAL_SUFFIX,
    ROW_DATASETS,
    VIEWS,
    check_chunks_stored,
    check_inside,
    combine_digests,
    completion_problem,
    content_digest,
    dataset_digest,
    dataset_hasher,
    damaged,
    decode_attrs,
    deleted_digests,
    deleted_seal_attributes,
    feature_datasets,
    file_stamp,
    force_words,
    foreign_objects,
    foreign_root_attributes,
    foreign_split_attributes,
    hashed_blocks,
    lock_path,
    named_as_partial_of,
    open_h5,
    partial_path,
    split_names,
    unsealed_attributes,
    view_dataset,
    view_names,
)
from featcache.store.atomic import file_state
from featcache.store.partial import (EMPTY, LEFTOVER, NOTHING, OURS, RESUME, SET_ASIDE, START_OVER, FoundPartial,
                                     check_as_judged, look_at_partial, open_ours, progress_rows, someone_elses,
                                     split_progress)
from featcache.validate import DIGESTS_SINCE, release, starts_with

if TYPE_CHECKING:
    from featcache.store.identity import CacheIdentity


class UncheckedCacheWarning(UserWarning):
    """A format-1 cache (featcache 0.1): read, but it has no checksums to check."""


def read_attrs(path: Path, peek: bool = False, check_seal: bool = True) -> dict[str, Any]:
    """Root attributes of a featcache file (complete or not); ``rows_done`` per split for incomplete ones.

    ``check_seal``: refuse (``DamagedCache``) a file whose completeness is not what it was sealed with
    (``_check_seal``); off only for a file at the partial's name that the writer's look has judged first
    (``partial.look_at_partial``: find_complete, the --force set-aside, the leftover check; docs/cache-format.md).
    """
    path = Path(path)
    if not path.exists():
        if partial_path(path).exists():
            raise FeatcacheError(f"{path} is not finished: {partial_path(path).name} beside it holds an extraction that is "
                                 f"running, was interrupted or stopped with an error; wait for it, or re-run the same {command('extract')} "
                                 f"{command_word()} to finish it (after fixing what it said, if it stopped with an error)")
        writer = _running_extract(path)
        if writer:
            raise FeatcacheError(writer)
        if os.path.islink(path):  # a link to nothing, or a loop of links: "not found" sent the user looking (a tester)
            raise FeatcacheError(f"{path} is a symbolic link to nothing (or a loop of links); point it at a cache or "
                                 "pass the cache's own path")
        # the call in a Python call's words: "run 'featcache extract' first" to open_cache (a new-user tester)
        raise FeatcacheError(f"cache not found: {path}; run {command('extract')} first "
                             "or check the path")
    if path.is_dir():
        raise FeatcacheError(f"{path} is a folder, not a cache; pass {cache_file()}")
    if not path.is_file():  # a FIFO or a device: HDF5 would wait on it forever (an adversarial tester's mkfifo)
        raise FeatcacheError(f"{path} is not a regular file; pass {cache_file()}")
    with _hdf5_damage(path, "its metadata"), _open(path, peek=peek) as f:
        return _attrs_of(path, f, check_seal)


def _read_again() -> str:
    """What to do with a cache changed since it was opened, in the caller's words (``option``): a command is run
    again; a Python caller opens the cache again (its ``Cache``), or runs the call again. "run the command again"
    was said to Python callers, who ran none (a brief, helper-297)."""
    return option("run the command again (in Python, open the cache again) to read the file now there",
                  f"open the cache again, or run the {command_word()} again, to read the file now there")


def _running_extract(path: Path) -> str | None:
    """The line for a cache not there yet whose writers' lock a live process holds: an extract of it building its
    network, before its partial exists (it was "cache not found ...; run 'featcache extract' first"); else None."""
    from featcache.store.lock import held

    who = held(path)
    if who is None:
        return None
    return (f"{path} is not written yet: an extract of it is running ({who} holds {lock_path(path).name}); wait for "
            f"it to finish, then run this {command_word()} again")


def _attrs_of(path: Path, f: h5py.File, check_seal: bool) -> dict[str, Any]:
    """``read_attrs`` of the file at ``path``, opened as ``f``."""
    if f.attrs.get("format") != FORMAT:
        raise FeatcacheError(f"{path} is an HDF5 file but not a featcache cache; pass a file written by {command('extract')}")
    check_inside(path, f)  # before anything below opens a dataset: a link out of the file is followed on open
    try:
        attrs = decode_attrs(f.attrs)
    except (ValueError, TypeError, OSError) as exc:
        raise damaged(path, f"an attribute is unreadable: {first_line(exc)}") from None
    if check_seal:
        _check_seal(path, f, attrs)
    if not attrs.get("complete"):
        try:
            # in split order (train first), as a complete cache's splits are listed: HDF5 lists groups by name
            attrs["progress"] = split_progress(f)
        except (OSError, KeyError, TypeError, ValueError) as exc:
            raise damaged(path, _progress_unreadable(exc)) from None
    return attrs


def _check_seal(path: Path, f: h5py.File, attrs: dict[str, Any]) -> None:
    """Refuse a file whose ``complete`` is not what its seal says (``DamagedCache``), before anything uses it.

    Marked unfinished after its seal (``layout.completion_problem``), a finished cache was called an interrupted
    extraction, and ``extract`` of its settings replaced it; its completion digest no longer matching, ``complete`` or
    a ``rows_done`` was edited (an edited ``completed`` is the provenance digest's). Marked complete without a content digest (the seal's last attribute),
    it was never sealed: a run stopped while sealing, or an unfinished extraction (rows never written read as zeros)
    marked complete by hand, which was called "damaged (content digest mismatch: its labels, index, paths or settings
    changed)". A format-1 cache has no digests at all (``Cache._check_digest`` says what that means).
    """
    try:
        problem = completion_problem(f)
    except (OSError, KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise damaged(path, _progress_unreadable(exc)) from None
    if problem:
        raise damaged(path, problem)
    if attrs.get("complete") and attrs.get("format_version") == FORMAT_VERSION and "content_digest" not in attrs:
        what = "it is marked complete but was never sealed (it has no content digest)"
        if not isinstance(attrs.get(PARTIAL_OF), str):  # no partial's name to finish it from: written otherwise, or edited
            raise damaged(path, what)
        raise DamagedCache(f"{path} is not a finished cache: {what}: an extraction stopped while sealing it, or an "
                           f"unfinished one marked complete by hand; {resume_words(path, attrs)}")


@contextmanager
def _hdf5_damage(path: Path, what: str) -> Iterator[None]:
    """HDF5's own errors on damaged metadata (RuntimeError "ran off end of input buffer", "wrong B-tree
    signature", ...: an adversarial tester's flipped bytes) as the one 'is damaged' line."""
    try:
        yield
    except FeatcacheError:
        raise
    except (RuntimeError, OSError, ValueError, TypeError, KeyError) as exc:
        raise damaged(path, f"{what} is unreadable: {first_line(exc)}") from None


def _open(path: Path, peek: bool = False) -> h5py.File:
    """``open_h5``, where a featcache file HDF5 cannot open (cut short, overwritten) is 'damaged'."""
    try:
        return open_h5(path, peek=peek)
    except NotHDF5:
        if _looks_like_hdf5(path):
            raise damaged(path, "HDF5 cannot open it; the file is cut short or overwritten") from None
        raise


def _looks_like_hdf5(path: Path) -> bool:
    return starts_with(path, b"\x89HDF\r\n\x1a\n")


def _check_meta(path: Path, meta: dict[str, Any]) -> None:
    """The attributes every reader relies on, with their types: a damaged one is one line, not a traceback later."""
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise damaged(path, what)

    names, layers, widths = meta.get("class_names"), meta.get("layers"), meta.get("layer_widths")
    need(isinstance(meta.get("fingerprint"), str), "attribute 'fingerprint' is missing or not text")
    need(isinstance(names, list) and names and all(isinstance(n, str) for n in names), "attribute 'class_names' is missing or not a list of names")
    need(isinstance(layers, list) and layers and all(isinstance(n, str) for n in layers), "attribute 'layers' is missing or not a list of layer names")
    need(meta.get("default_layer") in layers, "attribute 'default_layer' is not one of its layers")
    need(widths is None or (isinstance(widths, dict) and all(isinstance(widths.get(l), int) for l in layers)),
         "attribute 'layer_widths' is not a width per layer")
    views = meta.get("views")
    need(views is None or (isinstance(views, list) and views[:1] == [ORIG] and len(set(views)) == len(views)
                           and all(isinstance(v, str) and v and "/" not in v and "." not in v for v in views)),
         "attribute 'views' is not a list of view names starting with orig")




def _check_settings(path: Path, meta: dict[str, Any]) -> None:
    """Refuse (``damaged``) a cache whose fingerprint is not its settings' hash, or whose attributes that repeat a
    setting (class_names, image_size, layers, ...) or name its views say otherwise than its settings.

    A cache re-sealed after such an edit passes every digest (digests are not signatures: docs/guarantees.md), and
    was used as its attributes said: swapped class_names gave a "cache hit" and heads with the wrong names, an
    image_size of 32 under settings of 96 an exported model of 32 px (an adversarial tester). A consistency check
    that catches an edit, not a forgery: a JSON dump and one SHA-256 of a few hundred bytes per open.
    """
    settings = meta.get("settings")
    if not isinstance(settings, dict):
        raise damaged(path, "attribute 'settings' is missing or not a dict of settings")
    try:
        stated = fingerprint(settings)
    except TypeError:
        stated = None
    if stated != meta.get("fingerprint"):
        raise damaged(path, "its fingerprint is not the hash of its settings: one of them was edited")
    for key, value in settings.items():
        if key not in NOT_REPEATED and key in meta and meta[key] != value:
            raise damaged(path, f"attribute {key!r} says otherwise than its settings: one of them was edited")
    views = settings.get("views")
    names = [v.split("@")[0] if isinstance(v, str) else v for v in views] if isinstance(views, list) else None
    if view_names(meta) != (names or [ORIG]):
        raise damaged(path, "attribute 'views' names other views than its settings: one of them was edited")


def _select(ds, rows: np.ndarray | slice | None) -> np.ndarray:
    """``rows`` of dataset ``ds`` (as ``validate.check_rows`` returns them) in the caller's order, repeats kept.

    h5py reads only increasing, distinct indices: the distinct rows are read in order and put back in the
    order asked. A few rows scattered over the dataset are read one by one; more are read as the one span
    from the first to the last (a contiguous read) and selected in memory.
    """
    if rows is None:
        return ds[()]
    if isinstance(rows, slice):
        return ds[rows]
    if len(rows) == 0:
        return np.empty((0,) + ds.shape[1:], ds.dtype)
    wanted, back = np.unique(rows, return_inverse=True)
    lo, hi = int(wanted[0]), int(wanted[-1]) + 1
    if len(wanted) * 8 < hi - lo:
        got = ds[wanted]
    else:
        got = ds[lo:hi][wanted - lo]
    return got[back.reshape(-1)]


def _hashed_read(ds: h5py.Dataset, rows: np.ndarray | slice | None, hasher: Any) -> tuple[np.ndarray, str] | None:
    """``rows`` of ``ds`` as ``_select`` gives them, and the hex digest of every row of ``ds`` fed to ``hasher`` in
    order, in one pass over the dataset (``layout.hashed_blocks``, the seal's loop too); None where the rows reach
    fewer than half of its chunks.

    Every block of rows is read once, into the result for a whole read (no copy) or into one reused buffer
    from which the rows asked for are taken.
    """
    n = ds.shape[0]
    chunk = ds.chunks[0] if ds.chunks else CHUNK_ROWS
    wanted = back = None
    if rows is not None:
        asked = np.arange(n)[rows] if isinstance(rows, slice) else np.asarray(rows)
        wanted, back = np.unique(asked, return_inverse=True)
        n_chunks = -(-n // chunk)
        if 2 * len(np.unique(wanted // chunk)) < n_chunks:
            return None
        if len(wanted) == n:  # every row, in some order: one whole read
            wanted = None
    if wanted is None:
        out = np.empty(ds.shape, ds.dtype)
        for _ in hashed_blocks(ds, hasher, out):
            pass
        if rows is not None:
            out = out[back.reshape(-1)] if not np.array_equal(back, np.arange(n)) else out
        return out, hasher.hexdigest()
    out = np.empty((len(wanted),) + ds.shape[1:], ds.dtype)
    for start, stop, block in hashed_blocks(ds, hasher):
        lo, hi = np.searchsorted(wanted, (start, stop))
        out[lo:hi] = block[wanted[lo:hi] - start]
    return out[back.reshape(-1)], hasher.hexdigest()


def _check_finite(path: Path, ds: h5py.Dataset, name: str) -> None:
    """Refuse (``damaged``) a dataset holding NaN or infinite values, read a block at a time (a refused read only)."""
    step = (ds.chunks[0] if ds.chunks else CHUNK_ROWS) * HASH_BLOCK_CHUNKS
    for start in range(0, ds.shape[0], step):
        if not np.isfinite(ds[start : start + step]).all():
            raise damaged(path, _not_finite(name))


def _incomplete(path: Path, meta: dict[str, Any]) -> str:
    """Why an incomplete cache cannot be read, and what finishes it. A partial copied or renamed away from its own
    name (``<cache>.partial.h5``) is finished by no rerun: "re-run the same extract command" sent the user to one
    that never would (an adversarial tester: cp q.h5.partial.h5 copy.h5; train copy.h5)."""
    made_for = _copy_of(path, meta)
    if made_for:
        return (f"{path} is an incomplete cache: an unfinished extraction of {made_for}, copied or renamed: "
                f"{resume_words(path, meta)}; or extract again")
    return f"{path} is an incomplete cache (extraction was interrupted); {resume_words(path, meta)}"


def resume_words(path: Path, meta: dict[str, Any]) -> str:
    """What resumes (or, sealed, finishes) the unfinished extraction at ``path``: the one wording of ``info``, a
    reader's refusal, extract's refusal of one at --out and ``extract --force``'s set-aside warning. They
    disagreed: info of a partial copied to I.h5 said "re-run the same extract command to resume", extract "nothing
    resumes it under this name", and the set-aside warning "rename it back to resume it" without the --force that
    needs once <out> holds the new cache (an adversarial tester). At its own partial's name the same command resumes
    it; anywhere else only its partial's name does, and there its cache's name may hold a cache of other settings."""
    verb = "finish" if meta.get("complete") else "resume"
    made_for = _copy_of(path, meta)
    if made_for is None:
        return f"re-run the same {_extract_words()} to {verb} it"
    verbs = "finishes" if verb == "finish" else "resumes"  # it said "no rerun finishs it"
    return (f"no rerun {verbs} it under this name; to {verb} it, move it back to {made_for}{PARTIAL_SUFFIX} beside "
            f"{made_for} and re-run the {_extract_words()} that writes {made_for}, with {force_words()} where {made_for} "
            "holds a cache of other settings")


def _extract_words() -> str:
    """What extracts a cache, as its caller runs it: a command, or the API's call."""
    return option("extract command", "featcache.extract call")


def _copy_of(path: Path, meta: dict[str, Any]) -> str | None:
    """The cache an incomplete file at ``path`` was written to become (its ``PARTIAL_OF``, clipped for a line) where
    the file is not at that cache's partial's name: a partial copied or renamed; else None."""
    from featcache.errors import clipped

    made_for = meta.get(PARTIAL_OF)
    if isinstance(made_for, str) and made_for and not named_as_partial_of(path, made_for):
        return clipped(made_for, 80)
    return None


def cache_file() -> str:
    """What a cache argument names, in the lines that refuse one, in the caller's words (``errors.command``)."""
    return f"the .h5 file written by {command('extract')}"


class Cache:
    """A complete feature cache, read lazily (``open_cache(path)``); checked when opened."""

    def __init__(self, path: str | Path):
        from featcache.validate import check_source

        self.path = check_source(path, "cache", cache_file(), "path")
        self.meta = read_attrs(self.path)
        if not self.meta.get("complete"):
            raise FeatcacheError(_incomplete(self.path, self.meta))
        _check_meta(self.path, self.meta)
        # Feature datasets whose chunks were all found stored (``check_chunks_stored``) and whose own digest
        # matched (``dataset_digests``), in this open Cache: each check runs once per dataset, not once per read.
        # Every read checks that the file is still the one opened (``_file``), so a file replaced or rewritten
        # since is refused there instead.
        self._chunks_found: set[str] = set()
        self._digest_matched: set[str] = set()
        # After a change of the file's ctime alone (``_recheck``): every layer is hashed whole at its first read,
        # a slice too, and one found rewritten is refused on every read after (a tester: slices of a layer not yet
        # read whole were served after a rewrite in place with its mtime put back, and again after a whole read
        # had called it damaged).
        self._hash_every_read = False
        self._damaged: dict[str, str] = {}
        # Root attributes added since the seal, of names featcache does not write (``layout.unsealed_attributes``):
        # left out of ``meta``, so nothing reads or shows them; ``verify`` says it cannot vouch for them.
        self.unsealed: list[str] = []
        with _hdf5_damage(self.path, "its structure"), _open(self.path) as f:
            self._stamp = file_stamp(f, self.path)
            self.split_names = split_names(f)
            self.sizes = self._check_structure(f)
            self.checked = self._check_digest(f)
        self.meta = self._sealed(self.meta)
        # after the digests: an edit not re-sealed is said as the digest mismatch it is
        _check_settings(self.path, self.meta)

    def __repr__(self) -> str:
        """``Cache('data/cache/x.h5', train=4000, test=3000, layers=17, views=1)``: what a notebook shows (a new user)."""
        sizes = ", ".join(f"{k}={v}" for k, v in self.sizes.items())
        return f"Cache({str(self.path)!r}, {sizes}, layers={len(self.layers)}, views={len(self.views)})"

    def _check_structure(self, f: h5py.File) -> dict[str, int]:
        sizes = {}
        n_classes = len(self.meta["class_names"])
        for s in self.split_names:
            g = f[s]
            try:
                for name in ("labels", "index"):
                    if g[name].ndim != 1 or g[name].dtype.kind not in "iu":
                        raise damaged(self.path, f"{s}/{name} is not one whole number per image")
                n = int(g["labels"].shape[0])
                if int(g["index"].shape[0]) != n:
                    raise damaged(self.path, f"{s}/index does not have a row per label")
                self._check_listed(g, s)
                for view in self.views:
                    for layer in self.meta["layers"]:
                        self._check_features(g[view_dataset(view, layer)], f"{s}/{view_dataset(view, layer)}", layer, n)
                labels = g["labels"][()]
            except KeyError as exc:
                raise damaged(self.path, f"{s} lacks a dataset ({first_line(exc)})") from None
            except OSError as exc:
                raise damaged(self.path, _read_problem(exc, f"{s}/labels")) from None
            if n and (labels.min() < 0 or labels.max() >= n_classes):
                raise damaged(self.path, f"{s}/labels holds labels outside 0..{n_classes - 1}")
            sizes[s] = n
        return sizes

    def _check_listed(self, g: h5py.Group, split: str) -> None:
        """Refuse (``damaged``) a split holding a feature dataset or view its attributes do not list: the writer makes
        exactly one per cached view and layer. A view group added and the cache re-sealed was taken silently by train
        and called "rewritten or moved since extraction" by verify (an adversarial tester): one rule, on every open."""
        layers, views = sorted(self.meta["layers"]), [v for v in self.views if v != ORIG]
        extra = [f"{split}/features/{k}" for k in sorted(g["features"].keys()) if k not in layers] if "features" in g else []
        if VIEWS in g:
            for view in sorted(g[VIEWS].keys()):
                held = g[VIEWS][view]
                if view not in views or not isinstance(held, h5py.Group):
                    extra.append(f"{split}/{VIEWS}/{view}")
                else:
                    extra += [f"{split}/{VIEWS}/{view}/{k}" for k in sorted(held.keys()) if k not in layers]
        if extra:
            more = f" and {len(extra) - 1} more" if len(extra) > 1 else ""
            raise damaged(self.path, f"it holds {extra[0]}{more}, which its attributes do not list: views "
                                     f"{', '.join(self.views)}; layers {', '.join(layers)}")

    def _check_features(self, ds: h5py.Dataset, name: str, layer: str, n: int) -> None:
        """A features dataset as the writer makes it: (rows, width) floats, a row per label, and (format 2)
        chunked with Fletcher-32. A dataset stored without chunks has no checksum, so verify read
        nothing of it and a flipped byte there was used as a feature (an adversarial tester's file)."""
        width = (self.meta.get("layer_widths") or {}).get(layer)
        if ds.ndim != 2 or (width is not None and ds.shape[1] != width) or ds.dtype not in (np.float16, np.float32):
            raise damaged(self.path, f"{name} is not (images, {width or 'width'}) floats but {ds.dtype} {ds.shape}")
        declared = self.meta.get("dtype")
        if isinstance(declared, str) and ds.dtype.name != declared:
            # The writer stores every features dataset in the dtype it records: one that differs was rewritten (float32
            # features as float16: verify called it "rewritten or moved", train refused it, info said nothing, exit 0)
            raise damaged(self.path, f"{name} holds {ds.dtype.name} values, where its attribute 'dtype' says {declared}: "
                                     "one of them was edited")
        if ds.shape[0] != n:
            raise damaged(self.path, f"{name} does not have a row per label")
        if self.meta.get("format_version") != 1 and not (ds.chunks and ds.fletcher32):
            raise damaged(self.path, f"{name} carries no checksum (every features dataset featcache writes has one)")

    def _check_digest(self, f: h5py.File) -> bool:
        """Compare the stored content digest; False for a format-1 cache (none stored; a warning says so)."""
        version = self.meta.get("format_version")
        if version == 1 and "content_digest" not in self.meta:
            written_by = self.meta.get("featcache_version")
            if isinstance(written_by, str) and release(written_by) >= DIGESTS_SINCE:
                # format_version set back to 1 and the digests deleted, features rewritten (an adversarial tester): the
                # last format-1 cache was written on 2026-12-01, by featcache 0.1.0
                raise damaged(self.path, f"it says format 1, which featcache {written_by} never wrote; its digests "
                                         "were removed")
            warn(f"{self.path} is a format-1 cache without checksums: damage in it cannot be detected; "
                 "re-extract it to have it checked", UncheckedCacheWarning)
            return False
        if version != FORMAT_VERSION:
            raise FeatcacheError(f"{self.path} has cache format_version {version!r}, which this featcache "
                                 f"(format {FORMAT_VERSION}) does not read; re-extract it with this featcache")
        stored = self.meta.get("content_digest")
        try:
            actual = content_digest(f)
        except (OSError, KeyError, ValueError) as exc:  # ValueError: e.g. a path that is not UTF-8
            raise damaged(self.path, _read_problem(exc, "labels/index/paths")) from None
        if stored != actual:
            raise damaged(self.path, _content_mismatch(f, stored))
        # caches sealed before 2026-12-02 have no provenance digest: their provenance stays unchecked, and a root
        # attribute of a name featcache does not write, which no digest covers, is left out as an added one is
        if "provenance_digest" in self.meta:
            unsealed = unsealed_attributes(f, self.meta["provenance_digest"])
            if unsealed is None:
                raise damaged(self.path, _provenance_mismatch(f, self.meta["provenance_digest"]))
            self.unsealed = unsealed
        else:
            self.unsealed = foreign_root_attributes(f)
        digests = self.meta.get(DATASET_DIGESTS)
        if digests is not None and not (
                isinstance(digests, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in digests.items())
                and combine_digests(digests) == self.meta.get("features_digest")):
            # The provenance digest covers this map, and it must combine to the sealed features digest: an entry
            # edited or deleted is damage here, on open, never a read left unchecked.
            raise damaged(self.path, f"its per-dataset feature digests ({DATASET_DIGESTS}) do not combine to its "
                                     "features digest")
        return True

    @property
    def fingerprint(self) -> str:
        """The SHA-256 hex of everything that changes the features (the cache's identity; its default name holds
        the first 12 characters)."""
        return self.meta["fingerprint"]

    @property
    def sealed_as(self) -> tuple[Any, ...]:
        """What tells this cache from any other at its path: its fingerprint and the digests it was sealed with.
        A worker that reopens the cache by its path compares it with its parent's: ``curve --jobs 2`` fitted some
        points on a cache moved over the first during the run, mixed in one curve, exit 0 (an adversarial tester)."""
        return tuple(self.meta.get(k) for k in ("fingerprint", "content_digest", "features_digest"))

    def check_same(self, sealed_as: tuple[Any, ...], what: str) -> "Cache":
        """This cache, if it is the one whose ``sealed_as`` is given; else one line: it was replaced during ``what``."""
        if tuple(sealed_as) != self.sealed_as:
            raise FeatcacheError(f"{self.path} was replaced by another cache while the {what} ran; nothing fitted on "
                                 f"the new one was kept: run the {command_word()} again")
        return self

    @property
    def class_names(self) -> list[str]:
        """The class of each label value: ``labels`` holds ``i`` for ``class_names[i]``."""
        return list(self.meta["class_names"])

    @property
    def layers(self) -> list[str]:
        """The network's layers whose pooled outputs the cache holds, by their full names."""
        return list(self.meta["layers"])

    @property
    def default_layer(self) -> str:
        """The layer read where none is named: the network's final output where it is cached, else the last layer."""
        return self.meta["default_layer"]

    def layer(self, name: str | None = None, flag: str = "--layer") -> str:
        """The cached layer ``name`` means (None: the default layer): its full name, or a block's short name as
        probe.png labels it (``block_13`` for ``block_13_expand_relu``), through ``embedding.backbones.layer_name``,
        the one resolution extract's ``--layers`` uses too. Anything else is one line naming ``flag`` and listing
        the cached layers as both names (probe's and train's took only full names; a new user typed the label)."""
        from featcache.embedding.backbones import REGISTRY, layer_label, layer_name

        if name is None:
            return self.default_layer
        backbone = REGISTRY.get(self.meta.get("backbone"))
        if not isinstance(name, str):  # 13 for block_13 got the list of every cached layer (600 characters; a notebook tester)
            labels = [layer_label(backbone, l) for l in self.layers]
            numbered = f"block_{name}" if isinstance(name, int) and not isinstance(name, bool) else None
            example = numbered if numbered in labels else labels[-1]
            raise FeatcacheError(f"{given(flag, repr(name))} must be a layer's name, e.g. {given(flag, repr(example))}"
                                 f" ({self.path} holds {counted(len(self.layers), 'layer')}; {option(command('info'), 'its Cache.layers')} lists them)")
        full = layer_name(backbone, name)
        if not isinstance(full, str) or full not in self.layers:
            listing = ", ".join(f"{label} ({l})" if (label := layer_label(backbone, l)) != l else l for l in self.layers)
            others = command("extract", "--layers", "..., ModelSpec(layers=...)")
            raise FeatcacheError(f"{given(flag, repr(name))} is not in {self.path}; cached layers: {listing} (extract others "
                                 f"with {others})")
        return full

    @property
    def views(self) -> tuple[str, ...]:
        """The cached views in stored order, the original first: ``("orig",)`` for a cache made without views."""
        return tuple(view_names(self.meta))

    def resolve_views(self, views: str | Sequence[str] | None, flag: str | None = None, one: bool = False) -> list[str]:
        """Canonical names of ``views`` (names or groups, as ``--views`` takes them; None: all the cache has),
        each once in the order asked. The one check of asked views against a cache: one it lacks is a
        one-line error naming ``flag`` (when the views came from an option), the cache's views and the fix."""
        if views is None or (isinstance(views, str) and views.strip() == "all") or views == ["all"]:
            return list(self.views)  # "all", as the options take it (validate.check_views; a tester)
        from featcache.embedding.views import asked_names  # the one parser of view names (numpy only)

        names = asked_names(views, flag)
        if not names:
            asked = f"{option(flag)} names" if flag else "asked for"
            raise FeatcacheError(f"{asked} no view of {self.path}; name one of its views: {', '.join(self.views)}")
        if one and len(names) != 1:
            raise FeatcacheError(f"features() reads one view, and {views[0]!r} is {len(names)}; use view_features() for several")
        missing = [n for n in names if n not in self.views]
        if missing:
            asked = f"{option(flag)} asks for" if flag else "asked for"
            views = ",".join([*self.views, *missing])
            raise FeatcacheError(f"{asked} {named('view', missing)}, which {self.path} does not hold (it has "
                                 f"{', '.join(self.views)}); choose among those, or re-extract with "
                                 f"{option('--views ' + views, f'ModelSpec(views={views!r})')} to add "
                                 f"{agreeing(len(missing), 'it', 'them')}")
        return names

    def _check(self, split: str, layer: str | None = None) -> str:
        from featcache.validate import require_splits

        require_splits(self, split)
        return self.layer(layer)

    @property
    def photo_root(self) -> str | None:
        """The folder of the photos this cache was made from (its recorded source), None for any other source."""
        from featcache.sources.base import photo_root_of

        return photo_root_of(self.meta.get("source"))

    @contextmanager
    def _file(self) -> Iterator[h5py.File]:
        """The cache's file, opened again for a read: the very file checked when the Cache was made.

        Every read reopens the file by its path, so a file deleted and extracted again
        under the same name (what extract's refusal tells a user to do) was read unchecked:
        the new file's 20 rows under a Cache that said 200, and a head trained on them
        recorded the old fingerprint (an adversarial tester). The file's identity (device,
        inode, size, modification and status-change times), taken from the open handle, must
        be the one recorded at open, before the read and after it: a system call each. The
        status-change time (ctime) is what no user can set back (short of setting the clock): a layer rewritten in place
        through HDF5 with its size and mtime restored (``os.utime``) was read unchecked by a
        Cache that had matched that layer's digest before (a review's open item).
        """
        if not os.path.exists(self.path):
            raise FeatcacheError(f"cache not found: {self.path} was removed since it was opened; "
                                 f"open the cache again ({option('run ' + repr('featcache extract'), 'featcache.extract(...)')} "
                                 "first if it is gone)")
        f = _open(self.path)
        try:
            self._same_file(f)
            yield f
            self._same_file(f)  # a change during the read: what was read may be half of each
        finally:
            f.close()

    def _sealed(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """``attrs`` without those added since the seal (``unsealed``): what this Cache reads and shows."""
        return {k: v for k, v in attrs.items() if k not in self.unsealed}

    def _same_file(self, f: h5py.File) -> None:
        now = file_stamp(f, self.path)
        if now == self._stamp:
            return
        if now[:4] == self._stamp[:4]:
            self._recheck(f, now)
            return
        raise FeatcacheError(f"{self.path} changed since it was opened (it was replaced or rewritten); {_read_again()}")

    def _recheck(self, f: h5py.File, stamp: tuple[int, ...]) -> None:
        """Only the status-change time moved: a chmod, chown, hard link or ``touch -a`` (a backup's ``cp -al``, a
        ``chmod -R g+r data/``), or a rewrite in place with its size and mtime put back. Refusing every read after
        it stopped a running curve for a harmless chmod (a review), so what opening checked is checked again (the
        attributes, the sizes, the content digest), the layers already vouched for are hashed again at once, and
        every other layer is hashed whole at its first read after (``_hash_every_read``), a slice too. A rewrite in
        place within one read itself is not told apart from a chmod."""
        if self._sealed(read_attrs(self.path, peek=True)) != self.meta or self._check_structure(f) != self.sizes:
            raise FeatcacheError(f"{self.path} changed since it was opened (its attributes or sizes were rewritten); "
                                 f"{_read_again()}")
        self._check_digest(f)
        # The layers this Cache vouched for by their digest, hashed again now, before any row of them is served: left
        # to their next whole read, a slice of a rewritten layer was served in the meantime, and again after that
        # read had found it damaged (a review). The stamp moves only once all is as sealed, so a failure is said on
        # every read.
        digests = self.meta.get(DATASET_DIGESTS) or {}
        for name in sorted(self._digest_matched):
            try:
                digest = dataset_digest(f[name], name)
            except OSError as exc:
                raise damaged(self.path, _read_problem(exc, name)) from None
            if digest != digests.get(name):
                raise self._rewritten(name)
        self._chunks_found.clear()
        self._hash_every_read = True
        self._stamp = stamp

    def _rewritten(self, name: str) -> FeatcacheError:
        """The line for a feature layer whose digest no longer matches the sealed one, remembered: every later read
        of it, a slice too, is refused the same way (``_read_checked``)."""
        verify = command("verify", call="cache")
        self._damaged[name] = f"{_rewritten_line(name)}; {verify} checks the whole file"
        return damaged(self.path, self._damaged[name])

    def _read(self, name: str, how):
        """``how(h5file)``, with a failed checksum or read as the one 'damaged' line."""
        with self._file() as f:
            try:
                return how(f)
            except OSError as exc:
                raise damaged(self.path, _read_problem(exc, name)) from None

    def features(self, split: str, layer: str | None = None, rows: np.ndarray | slice | None = None,
                 view: str = ORIG) -> np.ndarray:
        """Features of ``split`` as float32 (N, D); ``rows`` selects a subset; ``view`` one cached view
        (default the original: exactly what a cache without views holds, at the same cost)."""
        if view != ORIG:
            view = self.resolve_views([view], one=True)[0]
        return self.view_features(split, layer, [view], rows)[0]

    def view_features(self, split: str, layer: str | None = None, views: str | Sequence[str] | None = None,
                      rows: np.ndarray | slice | None = None) -> np.ndarray:
        """Features of several views of the same rows, float32 (V, n, D) in the order asked.

        ``views``: view names or groups (``"flip"``, ``["orig", "shift"]``); None means all the cache
        has, in stored order. Row i of every view is image i (same label, index and path). The file
        is opened once and each view is read straight into its slot of the result (no stacked copy).
        The first read of a dataset by this Cache finds its every chunk stored and, where the read covers most
        of it, checks its sealed digest (``_read_checked``); later reads of it check only the file's identity.
        """
        layer = self._check(split, layer)
        from featcache.validate import check_rows

        rows = check_rows(rows, self.sizes[split])
        # The original view needs no check: every cache has it, with or without views.
        names = [ORIG] if views == ORIG or (isinstance(views, list) and views == [ORIG]) else self.resolve_views(views)
        datasets = [f"{split}/{view_dataset(v, layer)}" for v in names]

        def read(f, name):
            try:
                ds = f[name]
                if name not in self._chunks_found:
                    check_chunks_stored(self.path, ds, name)
                    self._chunks_found.add(name)
                return self._read_checked(ds, name, rows)
            except OSError as exc:
                raise damaged(self.path, _read_problem(exc, name)) from None

        with self._file() as f:
            first = self._finite(read(f, datasets[0]), datasets[0])
            if len(datasets) == 1:  # one view: no copy for a float32 cache, today's cost
                return first.astype(np.float32, copy=False)[None]
            out = np.empty((len(datasets),) + first.shape, np.float32)
            out[0] = first
            for i, name in enumerate(datasets[1:], 1):
                out[i] = self._finite(read(f, name), name)
            return out

    def _finite(self, features: np.ndarray, name: str) -> np.ndarray:
        """The writer refuses NaN and infinite features (``check_finite``, and float16's range), so one here was put
        there by hand: damage, not a head's ValueError later. 2.8 ms per 9 million values; one view at a time, so
        its boolean temporary is a quarter of one view's float32 bytes at most (a review)."""
        if not np.isfinite(features).all():
            raise damaged(self.path, _not_finite(name))
        return features

    def _read_checked(self, ds: h5py.Dataset, name: str, rows: np.ndarray | slice | None) -> np.ndarray:
        """``rows`` of ``ds`` (``_select``), checked against the dataset's own sealed digest the first time this
        Cache reads it whole, or nearly.

        A cache sealed with ``dataset_digests`` holds each feature dataset's
        SHA-256, so a layer rewritten through HDF5 (each chunk with a valid new
        Fletcher-32: train's features copied over test's scored 0.10 in silence)
        is refused where train, evaluate, probe and curve read it, not only by
        ``verify``. The digest needs every row in order, so it is taken when the
        read reaches at least half of the dataset's chunks (``_hashed_read``):
        HDF5 reads (and checksums) every chunk a row is read from, so a
        stratified subset (4,000 of 60,000 rows touches about 99% of the 64-row
        chunks) costs the hashing and little more reading, measured in
        docs/cache-format.md. A smaller read (a few rows, one chunk) stays
        checked by Fletcher-32 alone. Caches sealed before have no per-dataset
        digests and read as before.
        """
        if name in self._damaged:
            raise damaged(self.path, self._damaged[name])
        digests = self.meta.get(DATASET_DIGESTS)
        if digests is None or name in self._digest_matched:
            return _select(ds, rows)
        got = _hashed_read(ds, None if self._hash_every_read else rows, dataset_hasher(name, ds))
        if got is None:  # a small part of the dataset: not worth reading the rest
            return _select(ds, rows)
        values, digest = got
        if digest != digests.get(name):
            _check_finite(self.path, ds, name)  # NaN put there by hand is said as such, as verify and older caches say it
            raise self._rewritten(name)
        self._digest_matched.add(name)
        return values[rows] if self._hash_every_read and rows is not None else values

    def labels(self, split: str) -> np.ndarray:
        """The class of each image of ``split`` (int64, an index into ``class_names``), in the order of its rows: one per
        image, also where the cache holds several views of each (``view_features``)."""
        self._check(split)
        return self._read(f"{split}/labels", lambda f: f[split]["labels"][()])

    def index(self, split: str) -> np.ndarray:
        """Where each image of ``split`` is in its source (int64, one per image, in the order of its rows). Fashion-MNIST:
        its row in the split's own IDX file, so each split counts from 0. A photo folder: its place in the whole
        folder's sorted listing (every file of its class folders, in every split, those skipped too): a ``val/`` split's continue
        after ``train/``'s, a ``test_fraction`` split's interleave with the train split's, and a skipped file leaves
        a gap."""
        self._check(split)
        return self._read(f"{split}/index", lambda f: f[split]["index"][()])

    def digests(self, split: str) -> list[str] | None:
        """Each row's SHA-256 hex of its image content (file bytes, or raw pixels); None for caches made without them."""
        self._check(split)

        def how(f):
            if "digests" not in f[split]:
                return None
            return [d.decode("ascii") for d in f[split]["digests"][()]]

        return self._read(f"{split}/digests", how)

    def paths(self, split: str) -> list[str] | None:
        """Each image's file, relative to the photo folder's root and '/'-separated, its split folder included
        (``train/ants/0013.jpg``; ``ants/0013.jpg`` in one tree), in the order of its rows; None for a source
        without files (Fashion-MNIST). The root is ``photo_root``."""
        self._check(split)

        def how(f):
            if "paths" not in f[split]:
                return None
            return [p.decode() if isinstance(p, bytes) else p for p in f[split]["paths"][()]]

        return self._read(f"{split}/paths", how)

    def _checksums_words(self) -> str:
        """What ``info`` says was checked, and what is checked when features are read."""
        if not self.checked:
            return "none (format 1)"
        read = ("by their checksums, and each layer by its own digest when read whole"
                if DATASET_DIGESTS in self.meta else "by their checksums")
        return f"labels, index and settings verified; features checked as read, {read} ({command('verify', call='cache')} reads every chunk)"

    def summary(self) -> dict[str, Any]:
        """Everything ``featcache info`` shows."""
        splits = {}
        for s in self.split_names:
            counts = np.bincount(self.labels(s), minlength=len(self.class_names))
            splits[s] = {
                "n": self.sizes[s],
                "class_counts": {name: int(c) for name, c in zip(self.class_names, counts)},
            }
        return {"path": str(self.path), **_shown_meta(self.path, self.meta), "views": list(self.views),
                "checksums": self._checksums_words(), "splits": splits}


def _shown_meta(path: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """A complete cache's attributes as ``info`` shows them. ``PARTIAL_OF`` is the write protocol's (it tells a sealed
    partial from a user's cache saved at the partial's name): on a cache that completed, ``info --json`` showed
    ``"partial_of": "c.h5"`` of c.h5 itself, which read as "this is a partial" (earlier sessions' notes). It is shown
    only where it says something: a complete file still at that cache's partial's name (sealed, not yet renamed)."""
    if meta.get(PARTIAL_OF) is None or named_as_partial_of(path, meta[PARTIAL_OF]):
        return meta
    return {k: v for k, v in meta.items() if k != PARTIAL_OF}


# The reader's words for damage found in a cache, one home each (a read, verify and the seal check say them alike).
FEATURES_DIFFER = "its features differ from those it was sealed with"


def _rewritten_line(name: str | None = None) -> str:
    """Dataset ``name``'s digest is not its sealed one: rewritten through HDF5, every chunk's checksum valid. Without
    a name, a cache sealed before per-dataset digests, whose features digest alone says that one of them was: the
    one wording of both (verify had its own, "(a dataset rewritten or moved after extraction)")."""
    return f"{FEATURES_DIFFER}: {name or 'one of its feature datasets'} was rewritten or moved since extraction"


def _not_finite(name: str) -> str:
    """Dataset ``name`` holds a value the writer refuses (``check_finite``), so one put there by hand."""
    return f"{name} holds NaN or infinite values"


def _content_mismatch(f: h5py.File, stored: Any) -> str:
    """Why the content digest of ``f`` is not the ``stored`` one: a digest of the seal deleted
    (``layout.deleted_digests``), or its labels, index, paths or settings changed."""
    gone = deleted_digests(f, stored)
    return _missing_line(gone) if gone else "content digest mismatch: its labels, index, paths or settings changed"


def _provenance_mismatch(f: h5py.File, stored: Any) -> str:
    """Why the provenance digest of ``f`` is not the ``stored`` one: a seal attribute it covers deleted
    (``layout.deleted_seal_attributes``: the completion or per-dataset digests), or how the cache was made changed."""
    gone = deleted_seal_attributes(f, stored)
    return _missing_line(gone) if gone else ("provenance digest mismatch: how it was made (versions, runtime, weights "
                                             "path, source, dates) changed")


def _missing_line(gone: list[str]) -> str:
    """The words for seal attributes deleted since the seal, whichever digest found them missing (one home)."""
    n = len(gone)
    return (f"{agreeing(n, 'attribute', 'attributes')} {' and '.join(repr(name) for name in gone)} {agreeing(n, 'is', 'are')} "
            f"missing: it was sealed with {agreeing(n, 'one', 'them')}, deleted since")


def _foreign_line(foreign: list[tuple[str, str]], noun: str = "object") -> str:
    """``verify``'s words for objects in a split that featcache does not write (``layout.foreign_objects``), and for
    attributes (``noun``) added since the seal or on a split: other commands never read them, so only verify, which
    vouches for the whole file, refuses (docs/guarantees.md)."""
    (name, kind), n = foreign[0], len(foreign) - 1
    what = f"{kind}, and {counted(n, 'more ' + noun)}" if n else kind
    return (f"it holds {name}, {what} featcache does not write, so verify cannot vouch for {agreeing(n + 1, 'it', 'them')}; "
            "other commands never read it")


def _progress_unreadable(exc: BaseException) -> str:
    return f"its progress is unreadable: {first_line(exc)}"


def _read_problem(exc: BaseException, name: str) -> str:
    text = str(exc).lower()
    kind = "checksum mismatch" if ("checksum" in text or "filter" in text or "fletcher" in text) else "unreadable data"
    return f"{kind} in {name}"


def open_cache(path: str | Path) -> Cache:
    """Open the complete cache at ``path`` (a str, bytes or os.PathLike; a leading ``~`` is your home) for reading;
    anything else is a one-line FeatcacheError (a damaged cache: one line saying re-extract)."""
    return Cache(path)


def as_cache(cache: Cache | str | Path) -> Cache:
    """The API's ``cache`` argument, an open :class:`Cache` or a path to open: the one place that decides which.
    Checked here as ``cache`` first: ``open_cache``'s own check names its ``path`` (``train(cache=r)``, a replaced
    ExtractResult, was told to pass ``path=``)."""
    if isinstance(cache, Cache):
        return cache
    from featcache.validate import check_source

    return open_cache(check_source(cache, "cache", cache_file()))


@dataclass
class VerifyResult:
    """What ``verify`` checked: every dataset (with its chunks and bytes) and the content digest."""

    path: Path
    format_version: int
    datasets: dict[str, int] = field(default_factory=dict)  # name -> chunks read
    bytes_read: int = 0
    digest: bool = False
    provenance: bool = False  # a provenance digest was stored and matched (caches sealed since 2026-12-02)
    features: bool = False  # a digest of every feature value was stored and matched (caches sealed since 2026-12-03)
    completion: bool = False  # a digest of complete and rows_done was stored and matched (since 2026-12-05)
    seconds: float = 0.0

    @property
    def chunks(self) -> int:
        return sum(self.datasets.values())

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "ok": True, "format_version": self.format_version, "datasets": self.datasets,
                "chunks": self.chunks, "bytes_read": self.bytes_read, "content_digest": self.digest,
                "provenance_digest": self.provenance, "features_digest": self.features,
                "completion_digest": self.completion, "seconds": round(self.seconds, 3)}


def verify(path: str | Path) -> VerifyResult:
    """Read every chunk of every dataset of the cache at ``path`` and check its digest.

    Returns what was checked; raises a FeatcacheError ('... is damaged
    (...); re-extract it ...') at the first problem. A format-1 cache has no
    checksums and cannot be verified: that is an error too.
    """
    t0 = time.perf_counter()
    cache = open_cache(path)  # attributes, structure, labels range and the content digest
    if not cache.checked:
        raise FeatcacheError(f"{cache.path} is a format-1 cache without checksums and cannot be verified; delete it and "
                             f"re-run {command('extract', '...')} to have it checked")  # "re-extract it" in extract itself (a tester)
    result = VerifyResult(cache.path, int(cache.meta["format_version"]), digest=True, provenance="provenance_digest" in cache.meta,
                          completion=COMPLETION_DIGEST in cache.meta)  # compared by read_attrs, as every open does
    stored = cache.meta.get("features_digest")
    hashed: dict[str, str] = {}  # each feature dataset's digest, taken in the same read as its checksums
    with cache._file() as f:
        foreign = foreign_objects(f)
        if foreign:  # verify vouches for the whole file: an object it does not know it cannot check
            raise damaged(cache.path, _foreign_line(foreign))
        added = ([(f"the root attribute {name!r}", "an attribute") for name in cache.unsealed]
                 + [(f"the attribute {name!r} of {where}", "an attribute") for where, name in foreign_split_attributes(f)])
        if added:  # nor an attribute: no digest covers it (a root one added after the seal, any on a split)
            raise damaged(cache.path, _foreign_line(added, "attribute"))
        for s in cache.split_names:
            rows = [d for d in ROW_DATASETS if d in f[s]]
            for name in [*rows, *(view_dataset(v, l) for v in cache.views for l in cache.layers)]:
                ds, full = f[s][name], f"{s}/{name}"
                hasher = dataset_hasher(full, ds) if stored is not None and name not in rows else None
                result.datasets[full], nbytes = _read_all(cache.path, ds, full, hasher)
                result.bytes_read += nbytes
                if hasher is not None:
                    hashed[full] = hasher.hexdigest()
        if stored is not None:  # every chunk passed its checksum above: what remains is a rewrite through HDF5
            for full in feature_datasets(f):  # a dataset the cache's layers and views do not name: in the digest too
                if full not in hashed:
                    hashed[full] = "unread"
            sealed = cache.meta.get(DATASET_DIGESTS) or {}  # open_cache checked that these combine to ``stored``
            for full in sorted(hashed):
                if full in sealed and hashed[full] != sealed[full]:
                    raise damaged(cache.path, _rewritten_line(full))
            if combine_digests(hashed) != stored:
                raise damaged(cache.path, _rewritten_line())
            result.features = True
    result.seconds = time.perf_counter() - t0
    return result


def _read_all(path: Path, ds: h5py.Dataset, name: str, hasher: Any = None) -> tuple[int, int]:
    """Read ``ds`` chunk row by chunk row (Fletcher-32 checks each), feeding ``hasher`` (``dataset_hasher``) its
    rows where given; returns (chunks, bytes)."""
    if not ds.chunks or ds.shape[0] == 0:
        return 0, 0
    if not ds.fletcher32 and ds.dtype.kind != "O":  # strings cannot be filtered; the digest covers them
        raise damaged(path, f"{name} has no checksum")
    check_chunks_stored(path, ds, name)
    step = ds.chunks[0] * max(1, CHUNK_ROWS // ds.chunks[0])
    chunks = nbytes = 0
    for start in range(0, ds.shape[0], step):
        try:
            block = ds[start : start + step]
        except OSError as exc:
            raise damaged(path, _read_problem(exc, name)) from None
        if block.dtype.kind == "f" and not np.isfinite(block).all():  # as a read for training refuses it (a review)
            raise damaged(path, _not_finite(name))
        if hasher is not None:
            hasher.update(np.ascontiguousarray(block))
        chunks += -(-len(block) // ds.chunks[0])
        nbytes += block.nbytes if isinstance(block, np.ndarray) and block.dtype != object else len(block)
    return chunks, nbytes


# Settings names in messages, where the internal name says little to a user.
DIFFERENCE_WORDS = {"data_digest": "the data (which files, or their content)"}
# A photo source's note of this machine's pixels where Pillow decodes to other pixels than the reference
# (sources.images: absent where it gives the reference pixels, and in every cache made before 2026-12-03 19:03).
_PIXELS = "decoded_with"


# A source's settings in messages, where the stored key says little to a user.
_SETTING_WORDS = {_PIXELS: "decoded with"}


def _source_changes(old: Any, new: dict[str, Any] | None) -> str:
    """``train_limit 2000 -> 1000`` for the source settings two extractions differ in (none known: empty)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return ""
    if old.get("kind") != new.get("kind"):  # another kind of source: its settings are not comparable one by one
        return f"kind {old.get('kind')} -> {new.get('kind')}"
    # image_size is the identity's own (the resolved size, said apart); the source's is what was asked, None for its
    # default, and showed as "image_size 224 -> None" to a new user who had asked for nothing.
    # decoded_with in words: the key itself, "the data: decoded_with Pillow's reference pixels -> ...", read as an
    # internal name to a user who had changed no setting (a brief, 2026-12-07)
    return ", ".join(f"{_SETTING_WORDS.get(k, k)} {_shown_setting(k, old.get(k))} -> {_shown_setting(k, new.get(k))}"
                     for k in sorted(set(old) | set(new)) if k != "image_size" and old.get(k) != new.get(k))


def _shown_setting(key: str, value: Any) -> Any:
    """A source setting's value for a line: ``decoded_with`` is there only where Pillow gives other pixels than the
    reference, so its absence is the reference pixels."""
    return "Pillow's reference pixels" if key == _PIXELS and value is None else value


def _other_pixels_partial(p: Path, attrs: dict[str, Any], source: dict[str, Any] | None, differs: str) -> str | None:
    """The refusal of a partial whose photos were decoded to other pixels than this machine's Pillow gives (made
    where Pillow gives the reference pixels, resumed where it gives others, or the reverse), None for any other.
    It was "holds an interrupted extraction made with other settings (differs in: the data: decoded_with ...);
    choose another --out, or pass --force to move it aside", to a user who had changed no setting, and said neither
    that its rows cannot be resumed here nor where they can (a brief, 2026-12-07)."""
    old = attrs.get("source")
    if (not isinstance(old, dict) or not isinstance(source, dict) or old.get("kind") != "images"
            or old.get(_PIXELS) == source.get(_PIXELS)):
        return None
    return (f"{p} holds {_partial_words(attrs)} decoded to other pixels than this machine's Pillow gives ({differs}): "
            f"its rows cannot be resumed here; resume it where Pillow decodes to its pixels "
            f"({_shown_setting(_PIXELS, old.get(_PIXELS))}), choose another {out_option()}, or pass {force_words()} to "
            "move it aside and start over (it was left untouched)")


def find_complete(path: Path, identity: CacheIdentity, source: dict[str, Any] | None = None, force: bool = False,
                  rule_change: Callable[[Any], str | None] | None = None,
                  data_changes: Callable[[], str | None] | None = None) -> bool:
    """True for a complete, verified cache of ``identity`` at ``path``; refuses anything else there.

    A partial file of other settings is refused as well (it is someone's
    interrupted work). A complete cache is verified fully (every chunk read)
    before it counts as a hit: it costs 0.15-0.26 s for the lesson's
    7,000-image cache (35 MB) and 1.0-1.3 s for a --layers blocks cache of
    the same images (207 MB), next to a model build of 15-20 s, so a
    damaged cache is never called a hit (docs/cache-format.md).

    ``force`` (``extract --force``): a featcache cache of other settings at ``path``, complete or not, and an
    interrupted extraction of other settings at its partial's name are not refused (False: nothing to hit); the
    caller replaces the one once its new cache is sealed (``other_cache``) and sets the other aside
    (``set_aside_other_partial``). A file at ``path`` that is not a featcache cache is refused all the same.

    ``rule_change`` (``DataSource.rule_change``, bound by the caller): given the data digest of a complete cache at
    ``path`` that differs from this one in the data alone, the source's line where the difference is a rule of
    featcache's that changed, not the files (a photo folder's copies counted once since 2026-12-06), which refuses
    it in place of "differs in: the data".

    ``data_changes`` (bound by the caller): for a complete cache at ``path`` of the same source settings whose data
    differs, what changed in the files since it was made (``DataSource.changes_since``: "1 added (ants/new.jpg)"),
    said in place of "the data (which files, or their content)"; None where it cannot tell.
    """
    path = Path(path)
    for p in (path, partial_path(path)):
        if not p.exists():
            continue
        # the partial's completeness is judged by the writer's look (_judged_partial): one stopped while sealing is
        # finished by the run, which the readers' check would refuse as never sealed
        attrs = _attrs_at_out(path, force) if p == path else _judged_partial(p)
        if attrs is None:
            continue  # an unreadable partial is a crashed write of ours: redone; anything else there, check_partial's
        if attrs.get("fingerprint") != identity.fingerprint:
            if p != path and not someone_elses(attrs.get("fingerprint"), None, progress_rows(attrs)):
                continue  # an older featcache's crash stub, no settings nor rows: the writer starts it over
            if p != path and same_extraction_of_changed_data(attrs, identity, source, rule_change):
                # The same extraction, interrupted, of data that has changed since (a tester fixed the folder
                # --strict had refused and was told to delete featcache's own leftover): nothing in it can be
                # resumed, so extract starts it over (start_over_changed_data), under the lock, saying so.
                continue
            if force:
                continue
            differs = _differs(attrs, identity, source, data_changes if p == path and attrs.get("complete") else None)
            if p == path and not attrs.get("complete"):
                raise FeatcacheError(_other_incomplete(path, attrs, differs))
            changed = _rule_changed(attrs, identity, rule_change) if p == path else None
            if changed:
                raise FeatcacheError(changed)
            if p == path:
                raise FeatcacheError(f"{p} holds a cache made with other settings ({differs}); choose another {out_option()}, or "
                                     f"pass {force_words()} to replace it once the new cache is complete (it was left untouched)")
            pixels = _other_pixels_partial(p, attrs, source, differs)
            if pixels:
                raise FeatcacheError(pixels)
            raise FeatcacheError(f"{p} holds {_partial_words(attrs)} made with other settings ({differs}); choose "
                                 f"another {out_option()}, or pass {force_words()} to move it aside (it was left untouched)")
        if p == path:
            if not attrs.get("complete"):
                return False
            verify(path)
            return True
    return False


def _rule_changed(attrs: dict[str, Any], identity: CacheIdentity,
                  rule_change: Callable[[Any], str | None] | None) -> str | None:
    """``rule_change``'s line for a cache that differs from ``identity`` in its data digest alone, else None."""
    settings = attrs.get("settings")
    if rule_change is None or not isinstance(settings, dict) or identity.differences(settings) != ["data_digest"]:
        return None
    return rule_change(settings.get("data_digest"))


def _attrs_at_out(path: Path, force: bool) -> dict[str, Any]:
    """``find_complete``'s read of the file at ``--out``: a damaged or busy cache is said so, any other file that is
    no cache of featcache's is refused, ``--force`` or not."""
    try:
        return read_attrs(path)
    except (DamagedCache, CacheBusy):  # a cache, damaged or busy: say that
        raise
    except FeatcacheError:
        # with --force too: a file featcache did not write (a user's data.h5, notes named out.h5) is never replaced
        # (the brief of extract --force; train --force replaces any file, but an .h5 at --out is someone's data)
        only = f"; {force_words()} replaces only a cache featcache wrote" if force else ""
        raise FeatcacheError(f"{path} exists and is not a featcache cache; choose another {out_option()} (it was left "
                             f"untouched{only})") from None


def _judged_partial(partial: Path) -> dict[str, Any] | None:
    """The attributes (``read_attrs``'s, the seal unchecked) of the file at the partial's name where it is judged by
    its settings: featcache's partial as the writer's look (``look_at_partial``) takes it, the one rule the --force
    set-aside and the leftover check follow; read from one opening of the file (``partial.open_ours``). None for
    anything else, or one busy or unreadable.

    Anything that look refuses (a complete cache saved under that name, a sealed one whose completeness was edited, a
    link, another program's file) is left to ``check_partial``, which runs next and says it is in the way, kept: judged
    by its settings first, a sealed partial of other settings marked unfinished was "an interrupted extraction made
    with other settings ...; pass --force to move it aside", and with --force "in the way" (a reviewer, 2026-12-05).
    An empty or unreadable file is the writer's to start over or set aside."""
    f = open_ours(partial)
    if f is None:
        return None
    try:
        with _hdf5_damage(partial, "its metadata"), f:
            return _attrs_of(partial, f, check_seal=False)
    except FeatcacheError:  # unreadable: the writer's to set aside
        return None


def same_extraction_of_changed_data(attrs: dict[str, Any], identity: CacheIdentity, source: dict[str, Any] | None = None,
                                    rule_change: Callable[[Any], str | None] | None = None) -> bool:
    """Whether a partial of other settings differs in its data alone: the same extraction, of data changed since,
    which the writer starts over (said) rather than anyone refusing it. Never a sealed one (a complete cache of the
    old data, stopped before its rename): deleted as "from other settings", it was (a reviewer, 2026-12-05). Nor one
    of another photo folder (``source``: the run's): another project's photos/ of the same classes differs in its
    data alone too, and its interrupted extraction was started over (a reviewer, 2026-12-05).

    ``rule_change`` (``find_complete``'s): a partial that names no pixels (``decoded_with``), where this run's
    source names this machine's, is the same extraction where its data digest is an older image decoder's of these
    very files (the source's line): one made before 2026-12-03 19:03, or on Pillow's reference pixels, resumed where
    Pillow decodes to others, was refused "made with other settings (differs in: the data: decoded_with ...)", where
    a complete cache of it gets the older-decoder line (a brief, 2026-12-06)."""
    from featcache.store.identity import other_photo_folder

    if attrs.get("complete") or identity.differences(attrs.get("settings")) != ["data_digest"]:
        return False
    if other_photo_folder(attrs, {"source": source}) is not None:
        return False
    old = attrs.get("source")
    if _same_source_settings(old, source):
        return True
    return (_same_source_settings(old, source, also=(_PIXELS,)) and isinstance(old, dict) and old.get(_PIXELS) is None
            and rule_change is not None and rule_change((attrs.get("settings") or {}).get("data_digest")) is not None)


# Source settings that may differ in a partial of the same extraction: image_size is the identity's (compared there);
# root is other_photo_folder's to judge (the same folder, moved, is the same extraction).
_SAME_EXTRACTION_ANYWHERE = ("image_size", "root")


def _same_source_settings(old: Any, new: dict[str, Any] | None, also: tuple[str, ...] = ()) -> bool:
    """Whether two source specs ask for the same data: only then can a data_digest that differs mean "the same files,
    edited since". Fashion-MNIST's train_limit, test_limit and data_dir, a photo folder's test_fraction, seed and
    strict live in data_digest alone, so a partial of --train-limit 40000 was "the same extraction, data changed"
    under --train-limit 3000 and deleted, exit 0 (an adversarial tester, 2026-12-06). Unknown specs: not the same."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return False
    keys = (set(old) | set(new)) - set(_SAME_EXTRACTION_ANYWHERE) - set(also)
    return all(old.get(k) == new.get(k) for k in keys)


def _partial_words(attrs: dict[str, Any]) -> str:
    """What a partial of other settings is, for a line: an interrupted extraction, or a sealed one stopped before its
    rename (Ctrl-C between the seal and the rename; a reviewer, 2026-12-05: it was deleted as "other settings")."""
    return ("a complete extraction, stopped before it was renamed into place," if attrs.get("complete")
            else "an interrupted extraction")


def _differs(attrs: dict[str, Any], identity: CacheIdentity, source: dict[str, Any] | None,
             data_changes: Callable[[], str | None] | None = None) -> str:
    """``differs in: image_size, the data: train_limit 2000 -> 1000``: what a file of other settings differs in;
    where no setting changed the data, what changed in its files (``data_changes``: "the data: 1 added (...)")."""
    diff = identity.differences(attrs.get("settings"))
    shown = [DIFFERENCE_WORDS.get(d, d) for d in diff]
    changed = _source_changes(attrs.get("source"), source) if "data_digest" in diff else ""
    if not changed and "data_digest" in diff and data_changes is not None:
        # the files themselves, from the cache's record of its rows (a new user re-ran extract after adding a photo
        # and a copy of another, and was told only "the data (which files, or their content)")
        files = data_changes()
        changed = f"its files since it was made: {files}" if files else ""
    if changed:  # say which setting changed the data, when one did (a new user saw only "the data")
        shown[diff.index("data_digest")] = f"the data: {changed}"
    return f"differs in: {', '.join(shown) or 'fingerprint'}"


def _other_incomplete(path: Path, attrs: dict[str, Any], differs: str) -> str:
    """The refusal of an incomplete cache of other settings at --out (a partial of another extraction, renamed or
    copied there): it was called "a cache made with other settings", which hid that it is someone's unfinished
    work (testers, 2026-12-05). As for a complete cache there, ``--force`` replaces it."""
    return (f"{path} is an incomplete cache of another extraction ({_unfinished(path, attrs)}, made with other "
            f"settings: {differs}); {resume_words(path, attrs)}; extracting these settings here would lose it: choose "
            f"another {out_option()}, or pass {force_words()} to replace it once the new cache is complete (it was left untouched)")


def _unfinished(path: Path, attrs: dict[str, Any]) -> str:
    """``an unfinished extraction of a.h5, copied or renamed, 128 of 240 images done``: an incomplete cache's story."""
    made_for = _copy_of(path, attrs)
    whose = f"an unfinished extraction of {made_for}, copied or renamed" if made_for else "an interrupted extraction"
    progress = attrs.get("progress") or {}
    done = sum(d for d, _ in progress.values())
    total = sum(n for _, n in progress.values())
    return f"{whose}, {done} of {total} images done"


@dataclass(frozen=True)
class OtherCache:
    """A featcache cache of other settings at ``extract --out``, which ``--force`` replaces once the new one is
    sealed: ``complete`` or not, what it was ``made_from`` (``identity.ANOTHER_DATA_SET``, ``ANOTHER_PHOTO_FOLDER``
    or ``OTHER_SETTINGS``: the words of ``heads.io.replaced_from``, which train, export and finetune say of what
    they replace), its ``fingerprint``, and ``detail``: its data set and what differs, for the line."""

    path: Path
    complete: bool
    made_from: str
    fingerprint: str | None
    detail: str

    def words(self, where: str = "") -> str:
        """``the cache of another data set{where} (mnist: a, b, c; differs in: ...)``, as train's replaced_words say
        what they replace (``where``: " there")."""
        what = "cache" if self.complete else "incomplete cache"
        return f"the {what} of {self.made_from}{where} ({self.detail})"


def other_cache(path: Path, identity: CacheIdentity, source: dict[str, Any] | None = None) -> OtherCache | None:
    """The featcache cache of other settings at ``path`` (complete or not), None where there is none: what ``extract
    --force`` replaces, described as train, export and finetune describe a head or model they replace."""
    from featcache.store.identity import (ANOTHER_DATA_SET, ANOTHER_PHOTO_FOLDER, OTHER_SETTINGS, other_data_set,
                                          other_photo_folder)

    try:
        attrs = read_attrs(path)
    except FeatcacheError:
        return None
    if attrs.get("fingerprint") == identity.fingerprint:
        return None
    names = [str(n) for n in attrs.get("class_names") or []]
    new = {"dataset": identity.dataset, "class_names": list(identity.class_names), "source": source}
    old_root = other_photo_folder(attrs, new)
    if other_data_set({**attrs, "class_names": names}, new):
        made_from = ANOTHER_DATA_SET
    elif old_root is not None:
        made_from = ANOTHER_PHOTO_FOLDER
    else:
        made_from = OTHER_SETTINGS
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    detail = f"{attrs.get('dataset')}: {shown}; " if made_from == ANOTHER_DATA_SET else ""
    detail += f"{old_root}; " if made_from == ANOTHER_PHOTO_FOLDER else ""
    detail += "" if attrs.get("complete") else f"{_unfinished(path, attrs)}; "
    fp = attrs.get("fingerprint")
    return OtherCache(path, bool(attrs.get("complete")), made_from, fp if isinstance(fp, str) else None,
                      detail + _differs(attrs, identity, source))


def judge_partial(path: Path, identity: CacheIdentity, source: dict[str, Any] | None = None,
                  held: str | None = None, rule_change: Callable[[Any], str | None] | None = None) -> FoundPartial:
    """Featcache's partial at ``path``'s partial name, judged from one reading of its attributes (``_judged_partial``)
    for what a run of ``identity`` from ``source`` does with it (``partial.FoundPartial``): its own settings' is
    resumed; its settings over data changed since (``same_extraction_of_changed_data``) started over
    (``start_over_changed_data``); another extraction's, an interrupted one or a sealed one stopped before its rename
    (``partial.someone_elses``, ``held``: the fingerprint of the complete cache at ``path``), set aside
    (``set_aside_other_partial``); nobody's left to the writer, which starts it over. Its attributes go with it: the
    set-aside line, the start-over's rows and the writer read it once, not four times. The caller holds the lock.
    ``rule_change``: ``find_complete``'s (a partial of an older image decoder is the same extraction)."""
    partial = partial_path(Path(path))
    state = file_state(partial)  # before the reading: a file swapped while it is read differs from it afterwards
    attrs = _judged_partial(partial)
    if attrs is None:  # not featcache's, or unreadable: the writer's own checks say so, or set it aside
        return FoundPartial(partial, None, NOTHING, held, state)
    theirs = attrs.get("fingerprint")
    if theirs == identity.fingerprint:
        fate = RESUME
    elif same_extraction_of_changed_data(attrs, identity, source, rule_change):
        fate = START_OVER
    else:
        fate = SET_ASIDE if someone_elses(theirs, held, progress_rows(attrs)) else LEFTOVER
    return FoundPartial(partial, attrs, fate, held, state)


def set_aside_other_partial(found: FoundPartial) -> Path | None:
    """With ``extract --force``: the partial ``judge_partial`` found to be another extraction's (an interrupted one,
    or a sealed one stopped before its rename, which ``find_complete`` refuses without ``--force``) is moved to a free
    sibling, ``<out>.partial.h5.other-settings-<UTC time>``, and its new name returned; None where it found none.
    Never resumed (another extraction's rows under these settings' name) and never deleted: it may be hours of
    someone's work, and moved back to ``<out>.partial.h5`` the command of its settings resumes it."""
    from featcache.store.partial import set_aside

    if found.fate != SET_ASIDE:
        return None
    check_as_judged(found)  # the one judged, not a file put there while the network was built
    return set_aside(found.path, "other-settings")


def start_over_changed_data(found: FoundPartial) -> int | None:
    """Deletes the interrupted extraction of these very settings (the source's too) whose data has changed since, as
    ``judge_partial`` found it (``same_extraction_of_changed_data``), and returns the rows it held; None (nothing
    done) for any other. Its rows are of the files as they were: none resumes under the data as it is, and it would
    resume only were the whole data digest what it was. It was moved to ``.other-settings-<UTC time>`` on every
    re-run instead, piling up copies nothing removed, and a re-run on a nearly full disk that had finished failed
    (a reviewer, 2026-12-06). The caller holds the lock."""
    if found.fate != START_OVER:
        return None
    check_as_judged(found)  # never deleted: a file put there since it was judged, someone else's
    try:
        found.path.unlink()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise FeatcacheError(f"cannot delete {found.path}, an interrupted extraction of data changed since "
                             f"({os.strerror(exc.errno) if exc.errno else first_line(exc)}); fix that and re-run") from None
    return found.rows


def incomplete_replaced(path: Path) -> str | None:
    """The line for an incomplete cache of these very settings at --out, which the run extracts again and replaces
    (a run resumes only from ``<out>.partial.h5``); None where there is none. It was replaced without a word
    (testers, 2026-12-05); ``find_complete`` has refused one of other settings already (and with ``--force`` it is
    ``other_cache``'s to describe)."""
    try:
        attrs = read_attrs(path)
    except FeatcacheError:
        return None
    if attrs.get("complete"):
        return None
    made_for = _copy_of(path, attrs)
    whose = f" (an unfinished extraction of {made_for}, copied or renamed)" if made_for else ""
    return (f"{path} is an incomplete cache of these settings{whose}; a run resumes only from {partial_path(path).name}, "
            "so this one extracts it again and replaces it when done")


def _leftover_of(partial: Path, path: Path) -> bool:
    """Whether featcache's partial beside the complete cache ``path`` is that cache's own leftover (its fingerprint,
    or none recorded: a crash's), not another extraction's interrupted work: an ``extract --force`` of other settings
    stopped before its rename leaves its partial beside the cache it was to replace, and the next hit of that cache
    deleted it (found writing extract --force, 2026-12-05). A partial that cannot be read is not a leftover: one
    another process holds open (``CacheBusy``) is a running ``--force`` extraction's, and a hit deleted it mid-run
    (its publish then failed and its rows were lost; a reviewer, 2026-12-05). Never delete what we cannot read."""
    try:
        theirs = read_attrs(partial, check_seal=False).get("fingerprint")  # _tidy's look_at_partial has judged it
    except FeatcacheError:  # busy or unreadable: kept (look_at_partial has opened it, so it is no crash's stub)
        return False
    try:
        mine = read_attrs(path).get("fingerprint")
    except FeatcacheError:  # the cache unreadable: tidied as before (a hit has just read the cache)
        return True
    return theirs is None or theirs == mine


def tidy_partial(path: Path, locked: bool = False) -> None:
    """Remove a partial file left beside a complete cache (a crash between publishing and removing it).

    On a read-only mount (or without the rights) it stays: a hit needs nothing written. A file there HDF5
    cannot read stays too: it may be a user's damaged file (the writer sets such a file aside when it needs
    the name; a hit does not). ``locked``: the caller holds the cache's writers' lock; else the lock is tried
    without waiting, and while another process holds it (an ``extract --force`` writing the partial) nothing is
    tidied: a hit during such a run deleted its partial (a reviewer, 2026-12-05).
    """
    from featcache.store.lock import exclusive_lock

    partial = partial_path(Path(path))
    if locked:
        _tidy(Path(path), partial)
        return
    if not os.path.lexists(partial):
        return
    try:
        with exclusive_lock(Path(path), timeout=0):
            _tidy(Path(path), partial)
    except FeatcacheError:  # held by a writer, or no lock to be had (a read-only folder): kept, a hit needs nothing
        return


def _tidy(path: Path, partial: Path) -> None:
    """``tidy_partial``'s work, with the lock settled."""
    try:
        kind = look_at_partial(partial, sealed=False)
    except FeatcacheError:  # not featcache's partial: the user's, left alone (a hit needs nothing of it)
        return
    if kind not in (EMPTY, OURS) or kind == OURS and not _leftover_of(partial, path):
        return
    try:
        partial.unlink(missing_ok=True)
    except OSError as exc:
        if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM) and not isinstance(exc, PermissionError):
            raise
