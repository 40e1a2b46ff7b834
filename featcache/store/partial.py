"""What may sit at ``<out>.partial.h5``: featcache's own partial (taken up or started over), or anything else, refused.

Starting a partial over deletes it, so only a file featcache wrote as a
partial may be started over: a complete cache saved under that name, or a
user's notes there, were deleted with "starting it over" (an adversarial
tester). As for the lock file (``store.lock``), anything else is refused in
one line and left untouched.

Featcache's partial is an HDF5 file with featcache's ``format`` attribute and
``complete`` false. A crash can leave less: an empty file (killed right after
creating it), an HDF5 file with nothing in it yet (killed before its
attributes were written), or one HDF5 cannot open (killed while it flushed).
The first two are deleted when the run starts over. (Since 2026-12-05 a new
partial is laid out under a temporary name and renamed into place whole, so a
kill while it is laid out leaves none of these; older runs' may still be met.)
The third cannot be told
from a user's damaged HDF5 file that happens to sit there (a review: both
start with HDF5's signature, and nothing else of it can be read), so it is
never deleted: ``set_aside`` renames it to a free sibling,
``<out>.partial.h5.unreadable-<UTC time>``, the run says so in one line, and
then starts over.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

import h5py

from featcache import errors
from featcache.errors import FeatcacheError, command_word, first_line, out_option, system_limit
from featcache.store.atomic import NAME_MAX, file_state
from featcache.store.layout import (FORMAT, PARTIAL_OF, completion_problem, force_words, named_as_partial_of, split_names,
                                    split_not_a_group)
from featcache.validate import hdf5_signature_at, outside_storage


class ReachesOutside(FeatcacheError):
    """Featcache's partial with a link or storage outside its file (``validate.outside_storage``): refused
    (``check_partial``) and, with ``extract --force``, set aside by the writer; never resumed, deleted nor followed."""


class PartialSetAside(UserWarning):
    """A file at the partial's name HDF5 cannot read was moved aside (``set_aside``); the line says where."""


# What ``look_at_partial`` finds at the partial's name (None: nothing there).
EMPTY = "empty"  # an empty file: a run killed right after creating it; deleted when the run starts over
OURS = "ours"  # featcache's partial (or an HDF5 file with nothing in it yet): taken up, or started over
UNREADABLE = "unreadable"  # HDF5's signature, but HDF5 cannot open it or read its attributes: set aside, never deleted
OUTSIDE = "outside"  # featcache's, with a link or storage out of the file (``ReachesOutside``): refused; --force sets it aside
_SIGNED = "signed"  # a regular file with HDF5's signature, not opened yet: OURS or UNREADABLE once it is


# What a run does with featcache's partial at its cache's partial name, judged from one reading of its attributes
# (``store.reader.judge_partial``; NOTHING: none there of featcache's that could be read, left to the writer's look).
NOTHING = "nothing"
RESUME = "resume"  # these settings': the writer takes it up, checked
START_OVER = "start over"  # these settings over data changed since: deleted, said (``reader.start_over_changed_data``)
SET_ASIDE = "set aside"  # another extraction's (``someone_elses``): moved aside, never resumed nor deleted
LEFTOVER = "leftover"  # nobody's work (``someone_elses``): the writer starts the name over


@dataclass(frozen=True)
class FoundPartial:
    """Featcache's partial at ``path`` (a cache's partial name) as one reading of its attributes found it, under the
    writers' lock: ``attrs`` (``read_attrs``'s, the seal unchecked; None: nothing of featcache's readable there),
    ``held`` (the fingerprint of the complete cache at the cache's name, where the caller knows it), ``fate``, and
    ``state``: what was at ``path`` as it was judged (``atomic.file_state``: device, inode, size, mtime; None for
    nothing). The runner acts on it and hands it to the writer, which then does not open the file again to judge it;
    both first check that the file there is still the one judged (``check_as_judged``)."""

    path: Path
    attrs: Mapping[str, Any] | None
    fate: str
    held: str | None = None
    state: tuple[int, int, int, int] | None = None

    @property
    def rows(self) -> int:
        """Rows it holds done, over its splits (0 for a sealed one or none)."""
        return progress_rows(self.attrs)

    def acted_on(self) -> FoundPartial:
        """The partial's name once the run moved or deleted what it judged there (``reader.set_aside_other_partial``,
        ``reader.start_over_changed_data``): nothing, for the writer to look at itself should anything be there."""
        return replace(self, attrs=None, fate=NOTHING, state=None)


def check_as_judged(found: FoundPartial) -> None:
    """Refuse, in one line, to act on or open the partial's name where what is there is no longer what ``found``
    judged (``FoundPartial.state``). The writers' lock keeps other featcache processes out, not other programs, and
    the network is built (seconds to a minute) between the judgment and the writer's open: a partial judged
    resumable and replaced meanwhile by a FIFO was opened for writing ("Illegal seek"), and one replaced by a link to
    /dev/zero was opened through it, called "from other settings" and the link deleted (helper-308). Nothing is
    opened, moved or deleted here; the run may be repeated once nothing else writes there."""
    if file_state(found.path) != found.state:
        raise changed_while_getting_ready(found.path)


def changed_while_getting_ready(path: Path) -> FeatcacheError:
    """The line for a partial replaced, changed or removed by another program after the run judged it."""
    return FeatcacheError(f"{path} changed while featcache was getting ready to extract (another program replaced, "
                          "changed or removed it after featcache had checked it), so featcache left it as it is; make "
                          f"sure nothing else writes there, then run the same {command_word('extract')} again")


def progress_rows(attrs: Mapping[str, Any] | None) -> int:
    """Rows a partial holds done, over its splits, from ``read_attrs``' ``progress`` (0 for a sealed one or none)."""
    return sum(int(done) for done, _ in ((attrs or {}).get("progress") or {}).values())


def split_progress(f: h5py.File) -> dict[str, list[int]]:
    """Each split's [rows done, rows] of a partial opened as ``f``, in split order: the groups holding labels (a group
    without is no split, and holds no rows). The one count of a partial's rows: ``read_attrs``' ``progress``
    (``progress_rows``) and the writer's ``rows_in`` (which counted every group's rows_done, so a partial whose
    extra group said rows_done was another's work to the writer and a stub to the reader; helper-232's review).

    A split's name (train, test, val) at the root that is no group is damage, a TypeError both callers say as the
    partial damaged: featcache lays every partial out whole (a group per split) before it is renamed into place, so
    only an edit leaves one. Left out, it counted no rows, and a partial without a fingerprint holding a root dataset
    ``train`` was "from other settings" to the writer, where the reader had said damaged (a re-read, 2026-12-06)."""
    for k in split_names(f):
        if not isinstance(f[k], h5py.Group):  # split_names lists other names only where they are groups
            raise TypeError(split_not_a_group(k, f[k]))
    return {k: [int(f[k].attrs.get("rows_done", 0)), int(f[k]["labels"].shape[0])] for k in split_names(f) if "labels" in f[k]}


def rows_in(f: h5py.File) -> int:
    """Rows an opened partial holds done, over its splits: ``progress_rows`` of a file the writer opened itself."""
    return sum(done for done, _ in split_progress(f).values())


def someone_elses(theirs: object, held: object, rows: int) -> bool:
    """Whether a partial a run does not take up as its own, of fingerprint ``theirs`` holding ``rows`` rows done,
    holds another extraction's work, set aside (``set_aside``: never resumed as another's rows, never deleted; hours
    of someone's work) rather than started over. The one rule of ``reader.find_complete``'s refusal ("pass --force to
    move it aside"), the runner's ``--force`` set-aside (``reader.judge_partial``) and the writer's
    (``CacheWriter._resume``). Not another's: an older featcache's crash stub with no settings and no rows yet, and
    the complete cache's own staged leftover (``held``, the fingerprint of the complete cache at the cache's name: a
    crash between its publish and the partial's removal), whose rows that cache holds whole. One with rows and no
    fingerprint is an older featcache's work or an edited file (a new partial is laid out under a hidden name and
    renamed whole, so a crash leaves none): refused, then set aside; with --force its rows were deleted, silently,
    after the refusal had promised to move it aside (a reviewer, 2026-12-06)."""
    if theirs is None:
        return rows > 0
    return theirs != held


def held_fingerprint(path: Path) -> str | None:
    """The fingerprint of the complete cache at ``path`` (``someone_elses``' ``held``), None where there is none or it
    cannot be read: then no partial is taken for its leftover (set aside, never deleted). Any failure: a damaged
    cache gives HDF5's RuntimeError or h5py's KeyError or TypeError, which the writer's resume took for a damaged
    partial, and deleted it (a reviewer, 2026-12-06)."""
    try:
        with h5py.File(path, "r") as f:
            found = f.attrs.get("fingerprint") if bool(f.attrs.get("complete")) else None
    except Exception:  # noqa: BLE001 (whatever the file at --out is, no partial is deleted for it)
        return None
    found = _text(found)
    return found if isinstance(found, str) else None


def check_partial(path: Path, sealed: bool = True, force: bool = False) -> bool:
    """Whether there is a partial at ``path`` to take up (False: nothing there); refuses what is not featcache's.

    ``look_at_partial``, for callers that only need to know whether anything may be taken up. A partial reaching
    outside its file (``OUTSIDE``) is refused unless ``force`` (``extract --force``), whose writer sets it aside.
    """
    kind = look_at_partial(path, sealed)
    if kind == OUTSIDE and not force:
        _check_opened(path, sealed)  # raises its refusal (ReachesOutside) again, with its words
    return kind is not None


def look_at_partial(path: Path, sealed: bool = True) -> str | None:
    """What sits at the partial's name ``path``: None (nothing), ``EMPTY``, ``OURS`` or ``UNREADABLE``; anything
    else (not HDF5, another program's HDF5 file, a complete cache, a link, a folder, a FIFO) is refused.

    First without HDF5, which would block on a FIFO and follow a link: the
    kind of file and HDF5's signature; then, where HDF5 reads it, its
    attributes (read-only: a file refused is not changed by a look at it).
    ``sealed=False`` refuses a sealed partial too: beside a complete cache (a
    hit's tidying) one is never featcache's, whose publishing renames it.
    """
    kind = _look_unopened(path)
    if kind != _SIGNED:
        return kind
    try:
        return OURS if _check_opened(path, sealed) else UNREADABLE
    except ReachesOutside:  # never opened further, resumed or deleted: refused, or set aside with --force
        return OUTSIDE


def open_ours(path: Path) -> h5py.File | None:
    """Featcache's partial at ``path`` (``look_at_partial``'s ``OURS``, sealed or not) opened read-only as a reader
    opens a cache (locked: one another process writes is not opened), for its attributes to be read from this one
    opening; None for anything else, busy or unreadable. ``find_complete`` opened it twice: the look, then read_attrs."""
    try:
        if _look_unopened(path) != _SIGNED:
            return None
        return _open_checked(path, locking=None)  # HDF5's own locking, as a reader's open
    except FeatcacheError:  # refused (not ours, a complete cache), or the system's error (busy): none to read
        return None


def _look_unopened(path: Path) -> str | None:
    """``look_at_partial`` before HDF5 opens the file: None, ``EMPTY``, ``_SIGNED``, or refused."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise os_error(path, exc) from None
    if stat.S_ISLNK(st.st_mode):  # featcache makes a plain file there; a link is the user's (it was followed)
        raise in_the_way(path, "a link")
    if not stat.S_ISREG(st.st_mode):
        from featcache.validate import kind_of

        raise in_the_way(path, kind_of(path))
    if st.st_size == 0:  # a run killed right after creating it
        return EMPTY
    if not _has_signature(path, st.st_size):
        raise in_the_way(path, "not an HDF5 file")
    return _SIGNED


def _check_opened(path: Path, sealed: bool = True) -> bool:
    """``check_partial_attrs`` on the file opened read-only; False where HDF5 cannot open it or read its attributes.

    Such a file has HDF5's signature: a partial of ours killed while HDF5
    flushed, or a user's damaged file; the caller sets it aside. One
    reaching outside its file is refused (``ReachesOutside``). The system's
    errors (errno set) are the system's, said with the partial kept. HDF5 can
    open files it cannot write: the writer's own open says which (busy, the
    system's error, or unreadable: set aside too). ``locking=False``: a
    partial another process writes is refused by the writer's open, not here.
    """
    f = _open_checked(path, sealed, locking=False)
    if f is None:
        return False
    f.close()
    return True


def _open_checked(path: Path, sealed: bool = True, *, locking: bool | None) -> h5py.File | None:
    """The file at ``path`` opened read-only (HDF5's file ``locking`` as given; None: its default) and passed by
    ``check_partial_attrs``; None where HDF5 cannot open it or read its attributes. Its refusals, and the system's
    errors (errno set: ``os_error``), are raised, the file closed. The one opening of ``_check_opened`` and
    ``open_ours`` (two near-copies; a review)."""
    try:
        f = h5py.File(path, "r", locking=locking)
    except (OSError, ValueError) as exc:
        if isinstance(exc, OSError) and exc.errno:
            raise os_error(path, exc) from None
        return None
    try:
        check_partial_attrs(path, f, sealed)
    except (OSError, RuntimeError, ValueError, KeyError, TypeError):  # damaged attributes: whose, nobody can say
        f.close()
        return None
    except BaseException:  # a refusal (FeatcacheError), an interrupt: nothing left open
        f.close()
        raise
    return f


def check_partial_attrs(path: Path, f: h5py.File, sealed: bool = True) -> None:
    """Refuse an opened file at the partial's name that is HDF5 but not featcache's, a complete cache, or a sealed one
    whose completeness was edited (``layout.completion_problem``).

    An HDF5 file with no attributes and nothing in it is a partial killed
    before ``lay_out`` wrote anything (or an empty file HDF5 just opened):
    nothing of anyone's is lost by starting it over. Unreadable attributes
    raise HDF5's error, which the caller takes as damage of its own partial.
    """
    if _text(f.attrs.get("format")) != FORMAT:
        if len(f.attrs) or len(f):
            raise in_the_way(path, "an HDF5 file featcache did not write")
        return
    check_inside_partial(path, f)
    problem = completion_problem(f)
    if problem:  # a finished cache edited to look unfinished was resumed over (a partial's checks are not a seal's)
        raise in_the_way(path, f"a finished featcache cache, edited: {problem}")
    if bool(f.attrs.get("complete", False)) and not (sealed and sealed_not_published(path, f.attrs)):
        raise in_the_way(path, "a complete featcache cache")


def check_inside_partial(path: Path, f: h5py.File) -> None:
    """Refuse (``ReachesOutside``) featcache's partial with a link or storage outside its file, before anything of it
    is read past its root attributes: the readers' rule (``layout.check_inside``) for the partial. The writer's look
    did not walk it: a partial whose test labels were an external link to a FIFO was opened read-write, the FIFO
    opened and written to (blocking in C until someone read it), and the partial then deleted as "damaged"
    (helper-214, helper-223, 2026-12-06). Featcache writes no such link, so it is someone's edit, or another
    program's file: never followed, never deleted. A link table HDF5 cannot walk raises HDF5's error, damage."""
    problem = outside_storage(f)
    if problem:
        what = f"featcache's, reaching outside its file: {problem}; featcache writes no such thing and follows none"
        raise ReachesOutside(str(errors.in_the_way(path, "partial file", what, f"choose another {out_option()}, or pass "
                                                   f"{force_words()} to move it aside (it was left untouched)")))


def sealed_not_published(path: Path, attrs: Mapping[str, Any]) -> bool:
    """Whether a complete file at the partial's name (its root ``attrs``: h5py's, or ``read_attrs``'s) is a run's own
    partial, sealed and not yet renamed into place: it names the cache it becomes (``PARTIAL_OF``), or, from before
    that attribute, it was stopped while sealing (no content digest yet). A cache extracted under the partial's name
    names itself."""
    of = _text(attrs.get(PARTIAL_OF))
    if of is not None:
        return named_as_partial_of(path, of)
    return "content_digest" not in attrs


def _text(value: object) -> object:
    """An attribute as h5py gives it, bytes as text."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def in_the_way(path: Path, what: str) -> FeatcacheError:
    return errors.in_the_way(path, "partial file", what, f"choose another {out_option()} (it was left untouched)")


def os_error(path: Path, exc: OSError) -> FeatcacheError:
    """An error the system gave (errno set) opening or reading the partial: its reason, the partial kept.

    Too many open files, no memory, an I/O error say nothing about the
    partial: taken for damage, a resume deleted 176 rows of progress
    (``ulimit -n 8``, an adversarial tester). HDF5's verdicts on the file
    itself ("file signature not found") come without an errno.
    """
    fix = system_limit(exc)
    if fix is None:
        reason = os.strerror(exc.errno) if exc.errno else first_line(exc)
        fix = f"{reason}; fix that and re-run"
    return FeatcacheError(f"cannot open {path}: {fix} (the partial file is kept for the resume)")


def _has_signature(path: Path, size: int) -> bool:
    """HDF5's signature at offset 0, 512, 1024, 2048, ... (where HDF5 looks for it, after a user block)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise os_error(path, exc) from None
    try:
        return hdf5_signature_at(fd, size)
    except OSError as exc:
        raise os_error(path, exc) from None
    finally:
        os.close(fd)


def set_aside(path: Path, tag: str = "unreadable") -> Path:
    """Rename ``path`` to a free sibling, ``<name>.<tag>-<UTC time>`` (``-2``, ``-3``, ... after it when that is
    taken), and return the new path; nothing that exists is ever replaced. ``tag``: why, ``unreadable`` or, for
    ``extract --force``, ``other-settings`` (``store.reader.set_aside_other_partial``).

    For a file at the partial's name that HDF5 cannot read: featcache's own
    partial killed mid-flush, or a user's damaged file; deleting it ("starting
    it over") could lose the user's (a review). A hard link to the new name
    fails where that name exists, then the old name is removed: no other
    file is overwritten even if one appears meanwhile. A file system without
    hard links gets a rename after a look (under the writer's lock, so no
    featcache process races it). The name is cut at its front where the
    suffix would pass the file system's limit of 255 bytes.
    """
    path = Path(path)
    stamp = _utc_stamp()
    for n in range(1, 1000):
        target = path.with_name(_fit_name(path.name, f".{tag}-{stamp}" + (f"-{n}" if n > 1 else "")))
        try:
            os.link(path, target, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV, errno.ENOSYS):
                raise _cannot_set_aside(path, exc, tag) from None
            if os.path.lexists(target):
                continue
            try:
                os.rename(path, target)
            except OSError as exc2:
                raise _cannot_set_aside(path, exc2, tag) from None
            return target
        try:
            os.unlink(path)
        except OSError as exc:
            raise _cannot_set_aside(path, exc, tag) from None
        return target
    raise FeatcacheError(f"{path} {_why_aside(tag)} and there is no free name beside it to move it to; move it "
                         f"away, or choose another {out_option()} (it was left untouched)")


def _utc_stamp() -> str:
    """Now in UTC as ``20261203T141500Z``: sorts by time, and holds no character a file name cannot."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _fit_name(name: str, suffix: str) -> str:
    """``name + suffix`` within NAME_MAX bytes, cutting the front of ``name`` (at a character) where it must."""
    room = NAME_MAX - len(os.fsencode(suffix))
    raw = os.fsencode(name)
    if len(raw) > room:
        raw = raw[len(raw) - room :]
        while raw and 0x80 <= raw[0] < 0xC0:  # not inside a UTF-8 character
            raw = raw[1:]
        name = os.fsdecode(raw)
    return name + suffix


def _why_aside(tag: str) -> str:
    """Why a file at the partial's name is moved aside, for a line: unreadable, reaching outside its file, or
    another extraction's (--force)."""
    return {"unreadable": "cannot be read as HDF5", "outside": "reaches outside its file"}.get(
        tag, "is an interrupted extraction of other settings")


def _cannot_set_aside(path: Path, exc: OSError, tag: str = "unreadable") -> FeatcacheError:
    return FeatcacheError(f"{path} {_why_aside(tag)} and could not be moved aside ({first_line(exc)}); move it "
                          f"away, or choose another {out_option()} (it was left where it is)")
