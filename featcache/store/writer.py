"""Writing a cache: resumable, checksummed, published atomically.

An extraction writes ``<path>.partial.h5`` and commits progress batch by batch
(``rows_done`` is bumped only after a batch's rows are written and flushed).
A killed run resumes from ``rows_done``, after checking the partial against
the source (labels, index, paths) and its feature checksums: a damaged part
is done again, never published. The finished file gets its content digest,
is marked complete and published (``atomic.publish``), so ``<path>`` is only
ever a complete cache. The caller holds the lock (``store.lock``).

Photos are written staged (``StagedWriter``): their split rows depend on
which files decode, which is learnt while embedding them. The partial file
then holds one group, ``/files``, with a row per candidate file (listing
order) and its decode problem (``/files/problem``, '' when it decoded);
``finish(regroup=...)`` writes the complete cache's splits from its rows into
a new file, which replaces ``<path>`` atomically, and deletes the partial.

A full disk is one line (``atomic.no_space``), with the HDF5 file closed
and the partial kept for a resume once there is room.
"""

from __future__ import annotations

import errno
import gc
import os
import sys
import time
import traceback
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Callable, Iterator

import h5py
import numpy as np

from featcache.errors import FeatcacheError, command_word, first_line, option, out_option, warn
from featcache.progress import note
from featcache.validate import cannot_write_in
from featcache.store.atomic import (
    _identity,
    exception_chain,
    file_state,
    new_temporary,
    is_no_space,
    no_space,
    publish,
)
from featcache.sources.base import SplitSpec  # noqa: F401  (the rows a source hands the writer)
from featcache.store.layout import (
    CHECKSUM,
    CHUNK_ROWS,
    COMPLETION_DIGEST,
    DATASET_DIGESTS,
    PARTIAL_OF,
    SEAL_ATTRS,
    STAGING,
    WRITE_CHUNK_CACHE,
    cannot_create,
    chunk_stored,
    combine_digests,
    completion_digest,
    content_digest,
    create_h5,
    create_rows,
    dataset_digests,
    decode_attrs,
    encode,
    lay_out,
    partial_path,
    provenance_digest,
    read_rows,
    view_dataset,
    view_names,
)
from featcache.store.partial import (EMPTY, OURS, OUTSIDE, RESUME, UNREADABLE, FoundPartial, PartialSetAside,
                                     changed_while_getting_ready, check_as_judged, held_fingerprint, look_at_partial,
                                     os_error, rows_in, set_aside, someone_elses)

# Progress is committed (flushed, fsynced, rows_done bumped) at most this
# often: a killed run redoes at most this much work, and slow file systems are
# not flushed for every batch. The fsync costs 4-9 ms (measured: a
# 7,000 x 1280 float32 write, the hymenoptera-sized extraction, committed after
# every 64-row batch took 0.60 -> 1.09 s and 0.85 -> 1.83 s over 110 commits,
# scripts/bench_commit_fsync.py); at one commit a second that is under 1% of an
# extraction.
COMMIT_SECONDS = 1.0


NOW = object()  # a writer's ``out_at_start`` not given: what is at the cache's name as the writer is made


class CacheWriter:
    """Creates or resumes ``<path>.partial.h5``; ``finish()`` publishes ``path``.

    ``attrs`` must include ``fingerprint``; a partial file with another
    fingerprint is stale (other settings) and is started afresh. With
    ``verbose``, what a resume had to redo is said in one line each.
    """

    staged = False

    def __init__(self, path: Path, attrs: dict[str, Any], splits: list[SplitSpec], layer_widths: dict[str, int], dtype: str,
                 *, verbose: bool = False, out_at_start: Any = NOW, found: FoundPartial | None = None):
        self.path = Path(path)
        self.partial = partial_path(self.path)
        self.attrs = attrs
        self.splits = splits
        self.layer_widths = layer_widths
        self.dtype = np.dtype(dtype)
        # Every view's datasets (features/<layer> for the original); a batch counts only once all are written.
        self.views = view_names(attrs)
        self.verbose = verbose
        self.repairs: list[str] = []  # what a resume found damaged and does again
        self._file: h5py.File | None = None
        # The partial this run writes (device, inode of its open file): the seal reopens it, and a staged write
        # removes it, by its name, which another program may have given another file meanwhile (``_check_ours``)
        self._identity: tuple[int, int] | None = None
        self._written: dict[str, int] = {}  # rows written per split, committed or not
        self._last_commit = 0.0
        # What was at the cache's name when the run began (``file_state``, taken by the runner under the lock as it
        # checked it; NOW: as the writer is made): what finish may replace (``_check_out_unchanged``). Taken here
        # alone, a file put there while the network was built (5-60 s) counted as there at the start (a review)
        self._out_at_start = file_state(self.path) if out_at_start is NOW else out_at_start
        # The partial as the runner judged it under the lock (``reader.judge_partial``), its attributes read once:
        # featcache's (not looked at again) and the complete cache's fingerprint at ``path`` (not read again). None:
        # the writer looks for itself (a writer made without extract's judgment: the tests', the scripts').
        self._found = found if found is not None and found.path == self.partial else None

    # -- opening and resuming -------------------------------------------------

    def open(self) -> dict[str, int]:
        """Open for writing; returns rows already done per split (checked, see ``_check_partial``)."""
        with self._guard(self.partial):
            if self._found is not None:  # what the runner judged is still what is there (the network's build between)
                check_as_judged(self._found)
            if self.partial.exists():
                self._file = self._resume()
            if self._file is None:
                self._file = self._create()
            self._identity = _handle_identity(self._file)
            done = {s.name: int(self._file[s.name].attrs["rows_done"]) for s in self.splits}
        self._written = dict(done)
        self._last_commit = time.monotonic()
        return done

    def recorded(self) -> dict[str, Any]:
        """The root attributes of the file being written, decoded: a resumed partial's are its first run's,
        updated by ``record``."""
        return decode_attrs(self._file.attrs)

    def record(self, attrs: dict[str, Any]) -> None:
        """Set root attributes of the file being written now (a later resume reads them) and when it is published."""
        with self._guard(self.partial):
            for key, value in attrs.items():
                self._file.attrs[key] = encode(value)
            self._file.flush()
        self.attrs = {**self.attrs, **attrs}

    def _resume(self) -> h5py.File | None:
        """The partial file to go on with, repaired; None when it must start over (deleted where it is featcache's,
        set aside where nobody can say whose it is).

        Only featcache's own partial is ever started over: anything else at its name is refused
        (``look_at_partial``), left untouched.
        """
        kind = OURS if self._found is not None and self._found.attrs is not None else look_at_partial(self.partial)
        if kind is None:
            return None
        if kind == EMPTY:
            self._note(self._start_over_line("empty (a run stopped as it created it)"))
            self.partial.unlink()
            return None
        if kind == UNREADABLE:
            self._set_aside("HDF5 cannot open it or read its attributes")
            return None
        if kind == OUTSIDE:  # extract --force (check_partial refuses it without): never opened for writing
            self._set_aside_outside()
            return None
        f = self._open_partial()
        if f is None:
            return None
        try:
            if f.attrs.get("fingerprint") == self.attrs["fingerprint"]:
                missing = [s.name for s in self.splits if s.name not in f]
                if missing:  # these settings' partial lays out every split: damage, not "from other settings"
                    raise ValueError(f"its {missing[0]} split is missing")
                self._check_partial(f)
                return f
            if f.attrs.get("complete"):  # sealed, stopped before its rename: a complete cache, never deleted here
                f.close()  # (find_complete refuses it, or --force sets it aside, first; a reviewer, 2026-12-05)
                raise FeatcacheError(f"{self.partial} holds a complete extraction of other settings, stopped before it "
                                     f"was renamed into place; move it away, or choose another {out_option()} (it was left "
                                     "untouched)")
            if someone_elses(f.attrs.get("fingerprint"), self._held(), rows_in(f)):
                # Set aside, never deleted: another extraction's rows (extract sets such a partial aside, or refuses
                # it, before the writer opens; a partial of --train-limit 40000 was deleted here under --train-limit
                # 3000, exit 0: an adversarial tester, 2026-12-06). Deleted below, as before: an old crash stub with no
                # settings nor rows, and the complete cache's own staged leftover (that cache holds its rows whole).
                f.close()
                self._set_aside_other()
                return None
            self._note(self._start_over_line("from other settings"))
        # RuntimeError: HDF5's verdict on damaged metadata ("incorrect metadata checksum", "wrong B-tree
        # signature"), which its checksummed format (layout.LIBVER) gives for most flipped bytes (a review)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            if is_no_space(exc):
                raise
            if isinstance(exc, OSError) and exc.errno:  # the system's error (EMFILE, EIO, ...), not the file's
                f.close()
                raise os_error(self.partial, exc) from None
            self._note(self._start_over_line(f"damaged ({first_line(exc)})"))
        try:
            f.close()
        except Exception:
            pass
        self.partial.unlink()
        return None

    def _judged_resumable(self) -> bool:
        """Whether the runner judged the partial resumable, rows and all, and so said "resuming <cache>: N of M ...
        already done" (``runner._resume_line``) before the writer opened it."""
        return self._found is not None and self._found.fate == RESUME and self._found.rows > 0

    def _start_over_line(self, what: str) -> str:
        """The line of featcache's partial deleted and started over, ``what`` it is (empty, damaged (why), from other
        settings): the one home of these lines. A partial judged resumable (``_judged_resumable``) and found
        damaged here was "resuming <cache>: 8 of 72 images already done", then "resuming <cache>: the partial file is
        damaged (...); starting it over" (helper-308): it now says that it is not resumed after all, and why."""
        if self._judged_resumable():
            return (f"not resuming {self.path} after all: its partial file, judged resumable ({self._found.rows} rows "
                    f"done), is {what}; it was deleted, starting it over")
        return f"resuming {self.path}: the partial file is {what}; starting it over"

    def _set_aside_other(self) -> None:
        """Move another extraction's partial to a free sibling (``partial.set_aside``) and say so in one line."""
        moved = set_aside(self.partial, "other-settings")
        line = (f"{self.partial} was an interrupted extraction of other settings; it was moved to {moved} (moved back, "
                f"the extract command of its settings resumes it; or delete it); starting {self.path} over")
        self.repairs.append(line)
        warn(line, PartialSetAside)

    def _set_aside_outside(self) -> None:
        """Move a partial reaching outside its file (``partial.OUTSIDE``) to a free sibling and say so in one line:
        opened for writing, it was followed (a FIFO blocked the run) and then deleted as damaged (helper-214)."""
        moved = set_aside(self.partial, "outside")
        line = (f"{self.partial} reached outside its file (a link or storage featcache never writes), so it was not "
                f"resumed but moved to {moved} (delete it if it is not yours); starting {self.path} over")
        self.repairs.append(line)
        warn(line, PartialSetAside)

    def _held(self) -> str | None:
        """The fingerprint of the complete cache at ``path`` (``partial.someone_elses``' ``held``): the runner's, read
        as it judged the partial, else read here (``partial.held_fingerprint``)."""
        return self._found.held if self._found is not None else held_fingerprint(self.path)

    def _open_partial(self) -> h5py.File | None:
        """The partial opened for writing; None when HDF5 cannot open it (set aside, and the run starts over).

        The system's errors (errno set: too many open files, no memory, I/O) are not the file's: they are one
        line and the partial is kept; HDF5's verdicts on the file ("file signature not found") have no errno.
        """
        try:
            f = h5py.File(self.partial, "r+", rdcc_nbytes=WRITE_CHUNK_CACHE)
        except (OSError, ValueError) as exc:
            if self._found is not None:  # replaced since open()'s check: that, not the replacement's error
                check_as_judged(self._found)
            _refuse_if_busy(self.partial, exc)
            if isinstance(exc, OSError) and exc.errno:
                raise os_error(self.partial, exc) from None
            self._set_aside(first_line(exc))
            return None
        if self._found is not None and not _opened_as_judged(f, self._found):
            f.close()
            raise changed_while_getting_ready(self.partial)
        return f

    def _set_aside(self, why: str) -> None:
        """Move an unreadable file at the partial's name to a free sibling (``partial.set_aside``) and say so in
        one line, whatever ``verbose``: it may be a user's damaged file, and only this line says where it went."""
        moved = set_aside(self.partial)
        after_all = f"not resuming {self.path} after all: " if self._judged_resumable() else ""
        line = (f"{after_all}{self.partial} is not a partial featcache can read ({why}); it may be a damaged file of "
                f"yours, so it was moved to {moved} (delete it if it is not yours); starting {self.path} over")
        self.repairs.append(line)
        warn(line, PartialSetAside)

    def _check_partial(self, f: h5py.File) -> None:
        """Rows from the source, features by their checksums: what does not match is done again."""
        _check_allocation(f, self.partial)
        for spec in self.splits:
            g = f[spec.name]
            n = len(spec.labels)
            done = int(g.attrs["rows_done"])
            if not 0 <= done <= n:
                raise ValueError(f"{spec.name} claims {done} of {n} rows done")
            for name, want in (("labels", spec.labels), ("index", spec.index), ("paths", spec.paths)):
                if want is None:
                    continue
                try:
                    have = read_rows(g, name)
                    same = have is not None and len(have) == len(want) and (
                        list(have) == list(want) if name == "paths" else np.array_equal(have, np.asarray(want, np.int64)))
                except OSError as exc:
                    if is_no_space(exc):
                        raise
                    same = False
                if not same:
                    create_rows(g, name, want)
                    self._note(f"resuming {self.path}: the partial's {spec.name} {name} did not match the source; rewritten from it")
            good = self._good_rows(g, done)
            if good < done:
                _unseal(f)
                self._clear_rows(g, good, done)
                g.attrs["rows_done"] = good
                self._note(f"resuming {self.path}: {spec.name} features from row {good} were damaged; extracting them again")
        f.flush()

    def _good_rows(self, g: h5py.Group, done: int) -> int:
        """Rows before the first feature chunk (of any view and layer) that fails its checksum, up to ``done``."""
        good = done
        for name, layer in self._datasets():
            ds = g[name]
            if ds.shape != (len(g["labels"]), self.layer_widths[layer]) or ds.dtype != self.dtype:
                raise ValueError(f"{name} has another shape or type")
            step = ds.chunks[0] if ds.chunks else CHUNK_ROWS
            for start in range(0, good, step):
                # After a power loss the counter may be on disk before the
                # chunks it counts: an unallocated chunk reads back as zeros
                # with no checksum error, so it must exist to count.
                if ds.chunks and not chunk_stored(ds, start):
                    good = start
                    break
                try:
                    ds[start : min(start + step, good)]
                except OSError:
                    good = start
                    break
        if self.staged and good:
            good = _good_problem_rows(g["problem"], good)
        return good

    def _clear_rows(self, g: h5py.Group, start: int, stop: int) -> None:
        """Zero whole chunks from ``start`` (chunk-aligned) past ``stop``, as raw chunks.

        Writing rows into a damaged chunk reads it first and fails its checksum; so does writing all the
        rows of the last, partly used chunk (HDF5 never counts an edge chunk as fully overwritten), which
        made a resume start the split over from row 0. The raw zeros are stored with every filter marked as
        not applied (no checksum yet); the rows written into them next go through the filters again.
        """
        names = [name for name, _ in self._datasets()]
        if self.staged and g["problem"].dtype.kind == "S":  # checksummed too: a damaged chunk is replaced whole
            names.append("problem")
        for name in names:
            _zero_chunks(g[name], start, stop)

    def _datasets(self) -> list[tuple[str, str]]:
        """(dataset name within a split, layer) of every view and layer."""
        return [(view_dataset(v, layer), layer) for v in self.views for layer in self.layer_widths]

    def _note(self, line: str) -> None:
        self.repairs.append(line)
        if self.verbose:  # what was repaired, said on stderr (not a result) even with the progress off
            note(line)

    def _create(self) -> h5py.File:
        """A new partial, laid out under a hidden temporary name (``atomic.new_temporary``) and renamed into place
        whole: a run SIGKILLed while laying out a photo folder's partial left a 48-byte file (no complete HDF5
        superblock), which every later run moved aside as ``.unreadable-<time>``, saying it might be the user's
        (testers, 2026-12-05). A killed run's temporary carries its writer's tag: the next run's removes it."""
        try:
            tmp = new_temporary(self.partial)
        except OSError as exc:
            if is_no_space(exc):
                raise
            raise cannot_create(self.partial, exc) from None
        f = None
        try:
            f = create_h5(tmp, rdcc_nbytes=WRITE_CHUNK_CACHE)
            self._lay_out(f)
            f.flush()
            # The open file follows the rename (the same inode); its name is the partial's from here on.
            publish(tmp, self.partial)
        except BaseException:
            try:
                if f is not None:
                    # HDF5's close flushes again and fails as the write did (ENOSPC, EFBIG); the first error is the
                    # one to tell, and a close that raised left the hidden temporary behind (an adversarial tester)
                    with suppress(Exception):
                        f.close()
            finally:
                tmp.unlink(missing_ok=True)
            raise
        return f

    def _lay_out(self, f: h5py.File) -> None:
        """Everything a new partial holds before its first row (``StagedWriter`` adds its decode problems)."""
        lay_out(f, self.attrs, self.splits, self.layer_widths, self.dtype)
        f.attrs[PARTIAL_OF] = self.path.name  # a sealed partial the run did not publish is told from a user's cache by it

    # -- writing ----------------------------------------------------------------

    def write(self, split: str, start: int, features: dict[str, np.ndarray], problems: np.ndarray | None = None) -> None:
        """Write rows ``start:start+n`` of every view and layer, in order; commits now and then.

        ``features[layer]`` is (V, n, D), the views in ``self.views`` order, or (n, D) for a cache
        of the original view alone. The rows count as done (at the next commit) only after every
        view and layer of them is written, so a killed run never leaves views out of step.
        """
        g = self._file[split]
        if start != self._written[split]:
            raise RuntimeError(f"out-of-order write to {split}: {start} != {self._written[split]}")
        if (problems is not None) != self.staged:
            raise RuntimeError("a staged write gives every batch's decode problems, and only it does")
        with self._guard(self.partial):
            features = {layer: self._by_view(values) for layer, values in features.items()}
            self._write_rows(g, start, features, problems)
            self._written[split] = start + next(iter(features.values())).shape[1]
            if time.monotonic() - self._last_commit >= COMMIT_SECONDS:
                self.commit()

    def _refuse_float16(self, why: str) -> None:
        """Raise ``why``'s line with its fix, float32. A partial holding no row yet is deleted first: it holds no work,
        and left there (another settings' partial) it refused the fix's own run, 'pass --force to move it aside'
        (helper-260, 2026-12-06). One holding rows stays, as any interrupted extraction's."""
        if not any(self._written.values()) and self._file is not None:
            self._file.close()
            self._file = None
            with suppress(FeatcacheError):  # not a file another program put at its name meanwhile (``_check_ours``)
                self._check_ours()
                self.partial.unlink(missing_ok=True)
        raise FeatcacheError(f"{why}; use {option('--dtype float32', 'StoreSpec(dtype=' + repr('float32') + ')')}")

    def _by_view(self, values: np.ndarray) -> np.ndarray:
        """A layer's batch as (V, n, D): (n, D) is the original view of a cache without other views."""
        values = np.asarray(values)
        if values.ndim == 2:
            values = values[None]
        if values.ndim != 3 or values.shape[0] != len(self.views):
            raise RuntimeError(f"a batch of {len(self.views)} views ({', '.join(self.views)}) has shape (V, n, D), got {values.shape}")
        return values

    def _write_rows(self, g: h5py.Group, start: int, features: dict[str, np.ndarray], problems: np.ndarray | None) -> None:
        for layer, values in features.items():
            for view, part in zip(self.views, values):
                ds = g[view_dataset(view, layer)]
                stored = part.astype(self.dtype, copy=False)
                if stored is not part and not np.isfinite(stored).all():  # finite float32 (check_finite), past float16's range
                    self._refuse_float16(f"{layer} has values beyond float16's range (±65504), which a float16 cache "
                                         "cannot hold")
                small = _too_small_for_float16(part, stored) if stored is not part else None
                if small is not None:
                    self._refuse_float16(f"{layer} has values too small for float16 (an image's largest is {small:.2g}; "
                                         "float16 keeps 3 digits down to 6e-05 and nothing below 6e-08), which a float16 "
                                         "cache would store as zeros or a few steps")
                ds[start : start + len(part)] = stored
        if problems is not None:
            ds = g["problem"]
            ds[start : start + len(problems)] = _encode_problems(problems) if ds.dtype.kind == "S" else np.asarray(problems, dtype=object)
        # The whole file, not each dataset: a dataset's flush wrote its chunk
        # index (listing a chunk just placed at the end of the file) but not
        # the superblock's end-of-allocation mark, which only the file's flush
        # writes; a kill before the next commit then left a partial that could
        # not resume (4 of 4 SIGKILL/SIGTERM tries started over). Flushed here,
        # a full disk is also an exception we catch, not one h5py ignores at
        # dealloc.
        self._file.flush()

    def commit(self) -> None:
        """Make written rows durable progress: data first, then the counters."""
        with self._guard(self.partial):
            self._file.flush()  # the rows are on disk before they are counted
            _fsync(self._file)
            for split, n in self._written.items():
                self._file[split].attrs["rows_done"] = n
            self._file.flush()
        self._last_commit = time.monotonic()

    # -- publishing -------------------------------------------------------------

    def finish(self, extra_attrs: dict[str, Any] | None = None, regroup: list[SplitSpec] | None = None) -> Path:
        """Publish the complete cache, with its content digest."""
        if regroup is not None:
            raise RuntimeError("only a staged write is finished with regroup")
        self._check_done()
        self._check_out_unchanged()  # before the seal: refused, the partial is one a rerun finishes
        self._seal_partial(extra_attrs or {})  # the partial's name checked as its room is reserved (_check_ours)
        self._check_out_unchanged()
        self._check_ours()
        with self._writable_folder():
            publish(self.partial, self.path, self._needed())
        return self.path

    def _seal_partial(self, extra_attrs: dict[str, Any]) -> None:
        """Write ``extra_attrs`` and the seal (``_seal``) into the partial, in room reserved for them first.

        A disk that filled while the seal was written (its attributes, or HDF5's flush at close) crashed the run
        (exit 139: the full-disk handling read the half-closed file) and left a partial whose attribute heap
        pointed past the file's end ("addr overflow"), which every later run refused as "an HDF5 file featcache
        did not write": every row was in it (an adversarial tester, a 12,730 KB tmpfs). So the partial, its rows
        all committed, is closed whole first; then ``SEAL_ROOM`` bytes past its end are allocated
        (``_reserve_room``): a disk with no room for the seal fails there, before HDF5 changed a byte, and the
        partial resumes. HDF5 only allocates at its end of allocation, which is the file's end after a close, so
        the seal lands in that room; HDF5's own close cuts the file back to what it used.

        A file whose write or close failed is never touched again (its state in HDF5 is undefined): after a
        failed attribute write it is only closed, quietly (``_abandon``); after a failed close, nothing.
        """
        f, self._file = self._file, None
        with self._guard(self.partial, count=False, needed=self._seal_room()):
            f.close()  # every row counted (_check_done): the partial is whole on disk before the seal
            _reserve_room(self.partial, self._seal_room(), self._check_ours)
            # a resume's open (``_open_partial``): the file's own format
            # HDF5's open and close of another file would change it (its bytes past its end of allocation cut): its
            # name is checked first, and what was opened after; a file put there between the two is the race left
            self._check_ours()
            try:
                opened = h5py.File(self.partial, "r+", rdcc_nbytes=WRITE_CHUNK_CACHE)
            except OSError:
                self._check_ours()  # gone, or another file that is no HDF5 file, since the line above: says so
                raise
            if (identity := _handle_identity(opened)) is not None and identity != self._identity:
                opened.close()
                self._check_ours(identity)
            self._file = opened
            for key, value in extra_attrs.items():
                self._file.attrs[key] = encode(value)
            _seal(self._file)
            f, self._file = self._file, None  # a close that fails is not retried (nor the file read) by _abandon
            f.close()

    def _seal_room(self, splits: int | None = None) -> int:
        """Bytes reserved for the seal: its attributes are about 150 bytes per feature dataset (its digest in
        ``DATASET_DIGESTS``) and a few hundred more; the seal of 34 datasets grew a partial by 4 KB (measured).
        ``splits``: of the file sealed, where it is not this one (a staged write's regrouped copy, whose seal
        reserves no ``SEAL_ROOM``: its attributes alone, see ``StagedWriter._needed``)."""
        attributes = 2048 * len(self._datasets()) * (len(self.splits) if splits is None else splits)
        return attributes + (SEAL_ROOM if splits is None else 0)

    def _check_out_unchanged(self) -> None:
        """Refuse to publish over a file put at the cache's name during the run, or changed there: the checks of
        what is at --out were made when the run began, and another program does not take featcache's lock (an
        adversarial tester: a user's notes, a renamed partial of another extraction or a cache of other settings
        copied to --out during the run were replaced, exit 0). The partial stays; the same command finishes it."""
        if file_state(self.path) != self._out_at_start:
            raise FeatcacheError(
                f"{self.path} was {'changed' if self._out_at_start else 'put there'} by another program during the "
                f"extraction, so it was left untouched; the extracted rows are kept in {self.partial.name}: move "
                f"{self.path.name} away (or choose another {out_option()}) and run the same {command_word()} again to "
                "finish the cache")

    def _check_ours(self, identity: tuple[int, int] | None = None) -> None:
        """Refuse to seal, publish or remove what is at the partial's name unless it is the file this run wrote
        (``identity``: of a file opened there; else the name's own). A partial removed or replaced by another
        program during the run (another featcache cache, a user's HDF5 file) was sealed where it stood and published
        as the cache, exit 0, the rows extracted gone with the file it replaced; one removed was a traceback (an
        adversarial tester, 2026-12-07). What is there is left as it is; a rerun judges it as any partial. A file put
        there between the last check and the rename that publishes the partial is the one race left (a plain rename
        cannot ask what it replaces). No check where the open file's identity could not be read (``_handle_identity``)."""
        if self._identity is None:
            return
        if identity is None:
            try:
                identity = _identity(self.partial)
            except FileNotFoundError:
                raise FeatcacheError(f"{self.partial} was moved or removed by another program during the extraction, "
                                     f"so no cache was published; run the same {command_word()} again (it starts "
                                     "over)") from None
        if identity != self._identity:
            raise FeatcacheError(f"{self.partial} was replaced by another program during the extraction, so it was left "
                                 f"untouched and no cache was published; move it away (it is not this run's) and run "
                                 f"the same {command_word()} again")

    def _check_done(self) -> None:
        self.commit()
        for spec in self.splits:
            if int(self._file[spec.name].attrs["rows_done"]) != len(spec.labels):
                raise RuntimeError(f"split {spec.name} is not fully written")

    def close(self) -> None:
        """Stop writing (e.g. on Ctrl-C): whole batches written so far count as progress."""
        if self._file is not None:
            try:
                self.commit()
            finally:
                if self._file is not None:
                    self._file.close()
                    self._file = None

    @contextmanager
    def _writable_folder(self) -> Iterator[None]:
        """--out's folder made read-only (or remounted so) during the run: the line names that folder and --out, as
        train, export and predict say it; the system's error named featcache's hidden temporary file (an
        adversarial tester). The partial stays: the same command finishes it once the folder is writable."""
        try:
            yield
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            raise cannot_write_in(self.path.parent, exc.strerror or os.strerror(exc.errno), out_option()) from None

    # -- a full disk --------------------------------------------------------------

    @contextmanager
    def _guard(self, target: Path, count: bool = True, needed: int | None = None,
               discard: Callable[[], None] | None = None) -> Iterator[None]:
        """ENOSPC (also as h5py wraps it) -> the HDF5 file closed and one FeatcacheError line.

        ``count``: first count the rows written (``_count_written``); not where every row is counted already and
        the file being written is not the partial's rows (sealing, regrouping): attributes written to a file on a
        full disk, or to one whose write just failed, are what broke a partial (see ``_seal_partial``).
        ``needed``: the bytes to ask for, where they are not the rows still to write.
        ``discard``: removes what the failed write made, before the line counts what is free: counted with the
        regrouped copy that failed still on the disk, a 4000 KB tmpfs asked "free 4 MB" where 0.8 MB more did
        (an adversarial tester, 2026-12-06).
        """
        try:
            yield
        except Exception as exc:
            if not any(is_no_space(e) for e in exception_chain(exc)):
                raise
            if count:
                self._count_written()
            self._abandon(exc)
            if discard is not None:
                discard()
            # extract's output_named (carried to its writer thread) names its output StoreSpec(out=...) in a call
            raise no_space(target, self._needed() if needed is None else needed, exc=exc) from None

    def _count_written(self) -> None:
        """On a full disk, try to count the batches written whole before it (each was flushed): a re-run resumes after them.

        Without this an extraction that fills the disk within its first
        COMMIT_SECONDS keeps nothing. Updating the counters allocates nothing;
        if it fails anyway, the last commit stands. A resume re-checks every
        counted chunk (``_good_rows``), so a counter ahead of its data is not trusted.
        """
        try:
            for split, n in self._written.items():
                self._file[split].attrs["rows_done"] = n
            self._file.flush()
        except Exception:
            pass

    def _abandon(self, exc: BaseException) -> None:
        """Close the file after a failed write; the last committed progress stays in the partial.

        The objects still referenced by the failed call would each retry their
        write when freed and print an "Exception ignored" traceback: they are
        freed here, quietly, before the file is closed.
        """
        hook = sys.unraisablehook
        # quiet, but a Ctrl-C or SIGTERM raised in one of those finalizers still goes to the hook before (the CLI's
        # trips it again: cli._InterruptsInFinalizers; a review, helper-275)
        sys.unraisablehook = lambda unraisable: (hook(unraisable) if isinstance(unraisable.exc_value, KeyboardInterrupt)
                                                 else None)
        try:
            for e in exception_chain(exc):
                traceback.clear_frames(e.__traceback__)
            gc.collect()
            f, self._file = self._file, None
            if f is not None:
                try:
                    f.close()
                except Exception:
                    pass
            gc.collect()
        finally:
            sys.unraisablehook = hook

    def _needed(self) -> int:
        """Bytes the file still grows by until it is sealed (the rows not done; for a published copy all of them):
        their features, HDF5's room for their chunks (``HDF5_OVERHEAD``) and the seal's (``_seal_room``). The
        features alone were asked for: on a 3 MB tmpfs "free 2 MB", then, every row written, the seal failed with
        "free 1 MB" (an adversarial tester, 2026-12-06)."""
        left = sum(len(s.labels) - self._written.get(s.name, 0) for s in self.splits)
        features = self._row_bytes() * left
        return int(features * HDF5_OVERHEAD) + HDF5_SLACK + self._seal_room()

    def _row_bytes(self) -> int:
        """One row's feature bytes: every layer's, in every view (both writers' ``_needed``)."""
        return sum(self.layer_widths.values()) * self.dtype.itemsize * len(self.views)


class StagedWriter(CacheWriter):
    """A photo folder's writer: one ``STAGING`` split with each row's decode problem, regrouped when published."""

    staged = True

    def __init__(self, path: Path, attrs: dict[str, Any], splits: list[SplitSpec], layer_widths: dict[str, int], dtype: str,
                 *, verbose: bool = False, out_at_start: Any = NOW, found: FoundPartial | None = None):
        if [s.name for s in splits] != [STAGING]:
            raise ValueError(f"a staged write has the one split {STAGING!r}")
        super().__init__(path, attrs, splits, layer_widths, dtype, verbose=verbose, out_at_start=out_at_start,
                         found=found)

    def _lay_out(self, f: h5py.File) -> None:
        super()._lay_out(f)
        # Fixed-length bytes, so that Fletcher-32 guards them (HDF5 cannot filter
        # variable-length strings): a flipped byte must not turn a photo that
        # decoded into a skipped one, or back. Mostly empty, gzip keeps it small.
        f[STAGING].create_dataset("problem", shape=(len(self.splits[0].labels),), dtype=f"S{PROBLEM_BYTES}",
                                  chunks=(max(1, min(CHUNK_ROWS, len(self.splits[0].labels))),), compression="gzip",
                                  compression_opts=1, **CHECKSUM)

    def problems(self) -> dict[int, str]:
        """``{row: reason}`` of the rows written so far whose file did not decode."""
        n = self._written[STAGING]
        try:
            stored = self._file[STAGING]["problem"][:n]
        except OSError as exc:
            raise FeatcacheError(f"{self.partial} was damaged while it was written ({first_line(exc)}); run the same "
                                 f"{command_word()} again: the damaged rows are extracted again") from None
        return {i: p.decode("utf-8", "replace") if isinstance(p, bytes) else p for i, p in enumerate(stored) if p}

    def finish(self, extra_attrs: dict[str, Any] | None = None, regroup: list[SplitSpec] | None = None) -> Path:
        """Publish the complete cache; its splits are ``regroup`` (each with the staged ``rows`` it takes)."""
        if regroup is None:
            raise RuntimeError("a staged write is finished with regroup")
        self._check_done()
        # Beside the target, under the lock: the rename stays atomic. A name of its own (atomic.new_temporary): the
        # fixed NAME.regroup.h5 replaced a user's file of that name (a tester).
        self._check_out_unchanged()
        tmp = None

        def discard() -> None:
            if tmp is not None:
                tmp.unlink(missing_ok=True)

        try:
            # every row is counted (_check_done); the partial is not written
            with self._writable_folder(), self._guard(self.path, count=False, discard=discard):
                tmp = new_temporary(self.path)
                with create_h5(tmp, rdcc_nbytes=WRITE_CHUNK_CACHE) as out:
                    lay_out(out, {**self.attrs, **(extra_attrs or {})}, regroup, self.layer_widths, self.dtype)
                    self._copy_rows(out, regroup)
                    _seal(out)
            self._check_out_unchanged()
            with self._writable_folder():
                publish(tmp, self.path, self._needed())
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        self._file.close()
        self._file = None
        # A crash before this leaves the partial beside the complete cache; the next hit removes it. The cache came
        # from the open partial; a file another program put at its name since is not removed (``_check_ours``).
        with suppress(FileNotFoundError, FeatcacheError):
            self._check_ours()
            self.partial.unlink()
        return self.path

    def _copy_rows(self, out: h5py.File, splits: list[SplitSpec]) -> None:
        """Each split's staged rows, block by block: bounded memory, whatever the data set's size."""
        staged = self._file[STAGING]
        for name, _layer in self._datasets():
            src = staged[name]
            filled = {s.name: 0 for s in splits}
            for start in range(0, src.shape[0], 8 * CHUNK_ROWS):
                block = src[start : start + 8 * CHUNK_ROWS]
                for s in splits:
                    rows = s.rows[(s.rows >= start) & (s.rows < start + len(block))]
                    if len(rows):
                        out[s.name][name][filled[s.name] : filled[s.name] + len(rows)] = block[rows - start]
                        filled[s.name] += len(rows)
        for s in splits:
            out[s.name].attrs["rows_done"] = len(s.labels)

    def _needed(self) -> int:
        """Bytes the disk still needs until the cache is published: the rows still to stage (the partial grows by
        them, as ``CacheWriter._needed`` counts), then the regrouped copy of every row, laid out beside the whole
        partial, which goes only once the copy is in place: its features (with ``HDF5_OVERHEAD``), labels, index
        and paths, and its seal. Every row's features alone were asked for, whatever was staged: 640 x 32 asked
        81,920 bytes of the 239,558 the disk grew by, 3,000 x 1,280 15.36 MB of 31.36 MB (a reviewer, 2026-12-06)."""
        staging = self.splits[0]
        n = len(staging.labels)
        per_row = self._row_bytes()
        left = n - self._written.get(STAGING, 0)
        staged = int(per_row * left * HDF5_OVERHEAD) + HDF5_SLACK
        # label and index (8 bytes each) and a path (its bytes and HDF5's 16-byte heap entry) of each row
        rows = 16 * n + sum(len(os.fsencode(p)) + 16 for p in staging.paths or ())
        # its seal: the attributes of train and test (no room reserved: the copy is sealed as it is written, and a
        # full disk then fails the copy, which is removed); 1 MB more asked 2.5 times what a 4000 KB tmpfs lacked
        copy = int((per_row * n + rows) * HDF5_OVERHEAD) + HDF5_SLACK + self._seal_room(splits=2)
        return staged + copy


# Bytes kept of each decode problem in a staged partial: the decoder's reasons
# are one short line (under 120 bytes in the tests' damaged files); a longer one
# is cut, and stays non-empty, which is what decides the rows.
PROBLEM_BYTES = 256


def _check_allocation(f: h5py.File, path: Path) -> None:
    """Refuse a partial whose chunks reach past the end of allocation its superblock records (ValueError).

    A process killed while HDF5 flushes can leave a chunk index that was
    written after its superblock: a chunk placed at the old end of the file
    is listed, but the end-of-allocation mark is still before it. Rows read
    from it may even pass (or fail) their checksums; the next write of that
    chunk fails ("addr overflow"), mid-run, with a traceback. Seen once in the
    Ray driver-SIGKILL test (2026-12-02); reproduced by moving the mark one
    byte back (tests/test_faults_store.py). Such a file starts over.
    """
    eoa = _end_of_allocation(path)
    if eoa is None:
        return

    def past(name: str, obj: Any) -> str | None:
        if isinstance(obj, h5py.Dataset) and obj.chunks:
            for i in range(obj.id.get_num_chunks()):
                info = obj.id.get_chunk_info(i)
                if info.byte_offset is not None and info.byte_offset + info.size > eoa:
                    return name
        return None

    name = f.visititems(past)
    if name:
        raise ValueError(f"{name} has data past the file's recorded end (a crash while HDF5 flushed)")


def _end_of_allocation(path: Path) -> int | None:
    """The end-of-allocation address in an HDF5 superblock at the start of ``path`` (8-byte addresses, base 0); else None."""
    with open(path, "rb") as fh:
        head = fh.read(56)
    if len(head) < 56 or head[:8] != b"\x89HDF\r\n\x1a\n":
        return None
    version = head[8]
    if version in (0, 1):
        if head[13] != 8:
            return None
        at = 24 if version == 0 else 28  # version 1 adds the indexed-storage K and 2 reserved bytes
    elif version in (2, 3):
        if head[9] != 8:
            return None
        at = 12
    else:
        return None
    base, eoa = int.from_bytes(head[at : at + 8], "little"), int.from_bytes(head[at + 16 : at + 24], "little")
    return eoa if base == 0 else None


def _zero_chunks(ds: h5py.Dataset, start: int, stop: int) -> None:
    """Write zeros as the raw chunks holding rows ``start`` (chunk-aligned) to ``stop``: never read first."""
    step = ds.chunks[0]
    unfiltered = (1 << ds.id.get_create_plist().get_nfilters()) - 1  # every filter marked as not applied
    zeros = np.zeros(ds.chunks, ds.dtype).tobytes()
    for at in range(start, min(ds.shape[0], -(-stop // step) * step), step):
        ds.id.write_direct_chunk((at,) + (0,) * (ds.ndim - 1), zeros, unfiltered)


def _encode_problems(problems: np.ndarray) -> np.ndarray:
    """Decode problems as fixed-length UTF-8 (cut at a character boundary); '' for a file that decoded."""
    out = []
    for why in problems:
        b = why if isinstance(why, bytes) else str(why or "").encode("utf-8", "replace")
        cut = b[:PROBLEM_BYTES].decode("utf-8", "ignore").encode()
        out.append(cut or (b"?" if b else b""))
    return np.array(out, dtype=f"S{PROBLEM_BYTES}")


def _good_problem_rows(ds: h5py.Dataset, good: int) -> int:
    """``good``, or the start of the first decode-problem chunk before it that fails its checksum."""
    step = ds.chunks[0] if ds.chunks else CHUNK_ROWS
    for start in range(0, good, step):
        # As for the features: a chunk never written would read back as '' (decoded), unchecked.
        if ds.chunks and not chunk_stored(ds, start):
            return start
        try:
            ds[start : min(start + step, good)]
        except OSError:
            return start
    return good


# Bytes reserved past a partial's end before its seal is written (``CacheWriter._seal_partial``), besides 2 KB
# per feature dataset: the seal grew a 34-dataset partial by 4 KB (measured), so this is room to spare, and
# 1 MB is nothing beside a cache's rows.
SEAL_ROOM = 1 << 20
# What HDF5 adds to a cache's features as they are written (chunk index, Fletcher-32 sums), measured on fresh writes
# (CacheWriter, float32, 2026-12-06; file growth from the laid-out partial to the last row over the feature bytes):
# 640 x 32: +3.2%, 5,000 x 64: +1.8%, 3,000 x 1280: +0.3%, 7,000 x 1280: +0.6%; 100 x 8: 3,520 bytes over 3,200.
# 5% and 64 KB cover each with room for a partial that a full disk left with space HDF5 cannot reuse.
HDF5_OVERHEAD, HDF5_SLACK = 1.05, 1 << 16


def _handle_identity(f: h5py.File) -> tuple[int, int] | None:
    """(device, inode) of the file ``f`` has open, whatever its name names now; None for a driver without a file
    descriptor (as ``_fsync`` and ``_opened_as_judged`` take it)."""
    try:
        st = os.fstat(f.id.get_vfd_handle())
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return st.st_dev, st.st_ino


def _reserve_room(path: Path, nbytes: int, check: Callable[[tuple[int, int]], None] | None = None) -> None:
    """Allocate ``nbytes`` of disk past the end of the closed file ``path``, for HDF5's next writes to land in;
    a full disk (or a file size limit) is its OSError, with the file cut back to its size: unchanged.

    ``posix_fallocate`` where the system has it (its C library writes zeros where the file system cannot
    allocate); zeros written here where it has not, or the file system refuses it. The room past the end of
    allocation HDF5 records is the file's slack, which HDF5 cuts off when it closes the file (or a resume's
    open and close does, after a crash). On a copy-on-write file system (btrfs, ZFS) allocated room is no
    promise: there a full disk in the seal is still one line, but the partial may not resume.

    ``check``: called with the (device, inode) of the file opened at ``path`` before anything is written to it, or
    with None where no file is there (then it looks at the name itself); it raises where that is not the file
    expected, which is left unchanged.
    """
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        if check is not None:
            check(None)
        raise
    try:
        st = os.fstat(fd)
        if check is not None:
            check((st.st_dev, st.st_ino))
        size = st.st_size
        try:
            try:
                os.posix_fallocate(fd, size, nbytes)
            except (AttributeError, OSError) as exc:  # not on macOS; EINVAL/EOPNOTSUPP where a file system refuses it
                if isinstance(exc, OSError) and is_no_space(exc):
                    raise
                for at in range(size, size + nbytes, 1 << 16):
                    os.pwrite(fd, bytes(min(1 << 16, size + nbytes - at)), at)
            os.fsync(fd)
        except BaseException:
            os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


def _seal(f: h5py.File) -> None:
    """Mark ``f`` complete, with the digests of its completeness, of its features (each dataset's, and all combined),
    of its rows and identity attributes and of its provenance (read back)."""
    f.attrs["complete"] = True
    f.attrs["completed"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    # Every split's rows_done is final here (``_check_done``; ``StagedWriter._copy_rows``); the provenance digest covers it
    f.attrs[COMPLETION_DIGEST] = completion_digest(f)
    f.flush()
    # First: the provenance digest covers both, the content digest records the features digest.
    digests = dataset_digests(f)
    f.attrs[DATASET_DIGESTS] = encode(digests)
    f.attrs["features_digest"] = combine_digests(digests)
    f.attrs["provenance_digest"] = provenance_digest(f)  # first: the content digest records that it is there
    f.attrs["content_digest"] = content_digest(f)


def _unseal(f: h5py.File) -> None:
    """Make a sealed partial (a run stopped between its seal and its rename) a plain one before a resume takes rows
    back from it: its completion digest no longer matches once a ``rows_done`` drops, and the next run would refuse
    it as edited if this run stopped before sealing it again. The content digest goes first (a file marked complete
    without it is one stopped while sealing, which a resume takes up), ``complete`` last (marked unfinished with a
    seal attribute left, it would be an edited cache): a run stopped between any two steps leaves a partial to resume."""
    if not f.attrs.get("complete"):
        return
    for key in (*SEAL_ATTRS, "completed"):
        if key in f.attrs:
            del f.attrs[key]
    f.attrs["complete"] = False


def _refuse_if_busy(path: Path, exc: BaseException) -> None:
    """A partial another process holds open is not damaged: say so rather than delete it.

    HDF5 reports the other process's lock as an OSError "unable to lock file"
    (errno 11, EAGAIN); a file we may not write is not ours to delete either.
    """
    text = str(exc).lower()
    if "unable to lock file" in text or "resource temporarily unavailable" in text:
        raise FeatcacheError(f"{path} is open in another process; close it and re-run") from None
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise FeatcacheError(f"{path} cannot be read and written by you; fix its permissions (or delete it) and re-run") from None


def _fsync(f: h5py.File) -> None:
    """Force the flushed data to the disk, so that a power loss cannot keep the counter but lose the rows.

    Once per COMMIT_SECONDS; its cost is in the comment at COMMIT_SECONDS.
    """
    try:
        fd = f.id.get_vfd_handle()
    except (OSError, ValueError, TypeError, AttributeError):  # a driver without a file descriptor: flush is all we have
        return
    os.fsync(fd)


def _opened_as_judged(f: h5py.File, found: FoundPartial) -> bool:
    """Whether the file HDF5 opened (its file descriptor) is the one ``found`` judged (device and inode): the name
    checked (``check_as_judged``) can be swapped in the moment before HDF5 opens it. A driver without a descriptor
    is taken on that check alone."""
    identity = _handle_identity(f)
    return identity is None or (found.state is not None and identity == found.state[:2])


def make_writer(path: Path, attrs: dict[str, Any], splits: list[SplitSpec], layer_widths: dict[str, int], dtype: str,
                staged: bool, verbose: bool = False, out_at_start: Any = NOW,
                found: FoundPartial | None = None) -> CacheWriter:
    """The writer for a source's row plan (``RowPlan.specs``, ``RowPlan.staged``): the store chooses its writers,
    the sources only describe their rows. ``out_at_start``: ``file_state`` of ``path`` as the run checked it;
    ``found``: its partial as the run judged it (``reader.judge_partial``)."""
    return (StagedWriter if staged else CacheWriter)(path, attrs, splits, layer_widths, dtype, verbose=verbose,
                                                     out_at_start=out_at_start, found=found)


# How far an image's float16 row may be from its float32 one (its largest difference over its largest value): float16
# rounds a normal value by 0.05% at most. Features under float16's normal range (6e-05) lose digits, under its
# smallest step (6e-08) all of them: a cache of random weights' features (|v| about 1e-11 at 32 px) was stored as all
# zeros, and train scored its heads at chance without a word (an adversarial tester, 2026-12-06).
FLOAT16_ROW_ERROR = 0.01


def _too_small_for_float16(part: np.ndarray, stored: np.ndarray) -> float | None:
    """The largest value of the smallest image's row of the float32 batch ``part`` that its float16 ``stored`` no
    longer holds to FLOAT16_ROW_ERROR; None where every row is held. Maxima, not norms: squares of 1e-20 are 0."""
    largest = np.abs(part).max(axis=1)
    lost = np.abs(part - stored.astype(part.dtype)).max(axis=1) > FLOAT16_ROW_ERROR * largest
    return float(largest[lost].min()) if lost.any() else None
