"""The writers' lock: ``<path>.lock``, held with ``fcntl.flock`` while a cache is written.

``fcntl`` is imported only here, when a writer takes the lock: reading a
cache (info, train, evaluate, verify) works where it does not exist.
The holder writes ``featcache-lock pid=N`` into the lock file, so a waiting
writer can say who it waits for; the file is removed when the holder is done.
A path in the way that is not such a file (a FIFO, a folder, a link, or a
file holding anything else) is the user's: it is refused, never written or
removed (``curve`` deleted a user's ``<out>.lock`` FIFO, an adversarial
tester). A file holding only a number is the lock of a featcache before
2026-12-05 (it wrote the bare pid): waited for while a process holds it,
refused where none does, as it may as well be a user's (a bare number was
taken for a pid, overwritten and deleted: earlier sessions' notes).
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TextIO

from featcache.errors import CacheBusy, FeatcacheError, in_the_way, named_option, one_line, out_option
from featcache.progress import note
from featcache.store.atomic import NAME_MAX

# How often a writer with a timeout retries a held lock: a frozen holder is
# noticed within this, and 10 tries a second cost nothing.
POLL_SECONDS = 0.1
# A wait is said once it lasts this long: a shorter one is no hang to explain, and the line said at once came before
# the one-line refusal of a short --lock-timeout (0.2 s: two lines; the fast tier caught it once the line was said
# with the progress off too). The 1 s a hashing scan is quiet for (progress.Progress quiet_seconds).
WAIT_QUIET_SECONDS = 1.0
# The least a timeout waits: ``held`` (a reader asking who writes) takes a shared lock for a moment, so a writer's
# one try at --lock-timeout 0 could meet it and refuse, "being written by process N", N a dead writer's pid in a stale
# lock file (a reviewer, 2026-12-06). One retry a poll later lets such a moment pass.
LEAST_WAIT_SECONDS = POLL_SECONDS


# The first bytes of every lock file featcache writes, before the holder's pid: a user's file of a bare number (a
# count, a year) at ``<cache>.lock`` was taken for a pid, overwritten and deleted (earlier sessions' notes).
LOCK_MARK = b"featcache-lock pid="


# ``holder``'s words for a holder that wrote no pid of featcache's (another program's flock, a stale file's)
UNKNOWN_HOLDER = "another process"


def lock_path(path: Path) -> Path:
    """``<path>.lock`` beside ``path``, made absolute first: ``curve --out .`` has no name to add to (a review);
    the file system's root, none at all, so its lock goes inside it."""
    path = Path(path).resolve()
    if path == path.parent:
        return path / ".featcache.lock"
    if len(os.fsencode(path.name + ".lock")) > NAME_MAX:
        # a legal name of 251 bytes or more has no room for ".lock": a curve folder named after a long photo folder
        # said "cannot write the lock file ... (File name too long); choose a writable --out" (a tester). 16 hex of
        # its SHA-256 instead, as output_lock_path does, hidden: it is no name of the user's.
        return path.with_name(f".{hashlib.sha256(os.fsencode(path.name)).hexdigest()[:16]}.lock")
    return path.with_name(path.name + ".lock")


def holder(path: Path, lock_file: Path | None = None) -> str:
    """Who holds the lock of ``path``, as the holder wrote it ('process N'), or ``UNKNOWN_HOLDER``."""
    try:
        text = (lock_file or lock_path(path)).read_bytes()[:_PID_BYTES]
    except OSError:
        text = b""
    pid = _pid_in(_lock_text(text))
    return f"process {pid}" if pid else UNKNOWN_HOLDER


def held(path: Path) -> str | None:
    """Who holds the writers' lock of ``path`` now ('process N', as ``holder``), None where nobody does (no lock
    file, a stale one, or no flock here). Only looked at, never created nor taken for long: a shared lock tried
    without waiting, on the file opened read-only. For a reader that finds no cache yet: ``train c2.h5`` while an
    extract of c2.h5 still built its network said "cache not found ...; run 'featcache extract' first" (an
    adversarial tester, 2026-12-06)."""
    try:
        import fcntl
    except ImportError:
        return None
    lp = lock_path(path)
    try:
        fd = os.open(lp, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    except BlockingIOError:
        return holder(path, lp)
    except OSError:
        return None
    finally:
        os.close(fd)


def _lock_text(data: bytes) -> bytes:
    """A lock file's bytes less surrounding blanks and NULs (a pid cut short by a power loss)."""
    return data.strip(b" \t\r\n\0")


def _pid_in(text: bytes) -> str | None:
    """The pid a lock file names: ours (``LOCK_MARK`` + digits) or an older featcache's (digits alone); else None."""
    pid = text[len(LOCK_MARK):] if text.startswith(LOCK_MARK) else text
    return pid.decode() if pid.isdigit() and pid.isascii() else None


def _is_older_lock(text: bytes) -> bool:
    """Whether a lock file's (stripped) text is an older featcache's: a bare number, which a user's file may be too."""
    return bool(text) and text.isdigit()


def _is_ours(text: bytes, maybe_held: bool = False) -> bool:
    """Whether a lock file's (stripped) text is one this featcache takes over when no process holds it: its own mark,
    or nothing (a lock file a writer made and was killed before marking: there is nothing in it to lose).

    ``maybe_held``: read before taking the lock, while a holder may be writing its mark (``_write_pid``), so a start
    of the mark is one too (a review: a live lock was refused as not featcache's). Once the lock is taken nobody is
    writing, and a start of the mark alone ('f') is a user's file, kept (an adversarial tester: it was deleted)."""
    if maybe_held and LOCK_MARK.startswith(text):
        return True
    return not text or (text.startswith(LOCK_MARK) and (text == LOCK_MARK or _pid_in(text) is not None))


def writing_wait(path: Path | str) -> str:
    """The line a writer says while another featcache process holds ``path``'s lock (``exclusive_lock``'s
    ``wait_message``): extract's cache, a curve's folder, an output published under its lock (store.atomic)."""
    return f"waiting for another featcache process writing {path} ..."


@contextmanager
def exclusive_lock(path: Path, wait_message: str | None = None, timeout: float | None = None,
                   lock_file: Path | None = None, stream: TextIO | None = None,
                   advice: str | None = None, hidden: bool = False) -> Iterator[None]:
    """Hold ``<path>.lock`` (or ``lock_file``); waits (saying so, and for whom, on ``stream``: by default on
    stderr as ``progress.note``, said with the progress off too: a wait without a word looks like a hang) while
    another process holds it.

    ``timeout``: seconds to wait at most (None: for as long as it takes);
    then a FeatcacheError names the holding process. ``advice``: what to do where the lock file cannot be made (a
    full disk) or a file is in the way, where that is not choosing another ``--out`` (predict's ``--csv``).
    ``hidden``: the lock file is a hidden one of featcache's naming (an output's ``.<name>.lock``), no user's name, so
    a bare number no process holds there is an older featcache's lock left by a killed run, and taken over.
    The lines without ``advice`` name the output option as the caller gives it, ``errors.out_option`` (extract's is
    its StoreSpec's field, ``errors.output_named``: a Python call was told "choose a writable out"; a review).
    """
    try:
        import fcntl
    except ImportError:  # no flock (Windows): one writer at a time is then the user's business
        yield
        return
    path = Path(path)
    lp = lock_file or lock_path(path)
    deadline = None if timeout is None else time.monotonic() + max(LEAST_WAIT_SECONDS, float(timeout))
    while True:
        check_lock_file(lp, advice)
        try:
            # O_NOFOLLOW: a link put there since the check is refused (ELOOP), not followed.
            fd = os.open(lp, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)  # less the umask, like any file the user writes
        except OSError as exc:
            raise _cannot_open(lp, exc, advice) from None
        try:
            said = _acquire(fcntl, fd, path, wait_message, timeout, deadline, lp, stream)
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, lp):
            break
        # The holder removed the lock file as it finished: this lock is on a
        # file nobody else will open; take the one at the path now.
        os.close(fd)
        wait_message = None if said else wait_message  # said once
    try:
        _check_taken(fd, lp, advice, hidden)
        _write_pid(fd)
        try:
            yield
        finally:
            if _same_file(fd, lp):  # ours still: never remove what someone put there since
                _unlink_quietly(lp)  # no empty lock files left behind
    finally:
        os.close(fd)


# A lock file featcache wrote holds its mark, a pid and a newline; 64 bytes is room to spare.
_PID_BYTES = 64


def check_lock_file(lp: Path, advice: str | None = None) -> None:
    """``<path>.lock`` is absent or may be a lock file of featcache's (empty, marked, or an older featcache's bare pid,
    which is told from a user's file once taken: ``_check_taken``); anything else is refused in one line."""
    try:
        st = os.lstat(lp)
    except OSError:
        return  # absent (or unreadable: opening it names the problem)
    if not stat.S_ISREG(st.st_mode):
        from featcache.validate import kind_of

        raise _in_the_way(lp, kind_of(lp) if not stat.S_ISLNK(st.st_mode) else "a link", advice)
    if st.st_size > _PID_BYTES:
        raise _in_the_way(lp, f"a file of {st.st_size} bytes", advice)
    try:
        with open(lp, "rb") as f:
            text = _lock_text(f.read(_PID_BYTES))
    except OSError:
        return
    if not (_is_ours(text, maybe_held=True) or _is_older_lock(text)):
        raise _in_the_way(lp, "a file that is not featcache's lock", advice)


def _check_taken(fd: int, lp: Path, advice: str | None = None, hidden: bool = False) -> None:
    """The lock file just taken (no process holds it now) is one of ours to mark as this writer's; a bare number is
    refused, the file untouched: an older featcache's lock holds one only while it runs (it removes the file when
    done; a waiter takes the lock only then, on the removed file, and opens the path again), so one nobody holds is
    a killed run's or a user's file, and featcache cannot tell which, unless the lock file's name is a hidden one of
    featcache's (``hidden``): a head's or a CSV's lock of an older run was refused after the work (a review)."""
    try:
        text = _lock_text(os.pread(fd, _PID_BYTES + 1, 0))
    except OSError:
        return  # unreadable: the write of the pid says nothing either (it is only for messages)
    if _is_ours(text) or (hidden and _is_older_lock(text)):
        return
    what = ("a file holding only a number that no process holds: an older featcache's lock left by a killed run, "
            "or a file of yours" if _is_older_lock(text) else "a file that is not featcache's lock")
    raise _in_the_way(lp, what, advice)


def _in_the_way(lp: Path, what: str, advice: str | None = None) -> FeatcacheError:
    return in_the_way(lp, "lock file", what, advice or f"choose another {out_option()}")


def _cannot_open(lp: Path, exc: OSError, advice: str | None = None) -> FeatcacheError:
    import errno

    if exc.errno in (errno.ELOOP, errno.EISDIR):  # put there between the check and the open
        return _in_the_way(lp, "a link" if exc.errno == errno.ELOOP else "a folder", advice)
    from featcache.store.atomic import is_no_space, no_space

    if is_no_space(exc):  # a full disk (or no inode left) is the one full-disk line, not "choose a writable --out"
        return no_space(lp, advice=advice, exc=exc)
    return FeatcacheError(f"cannot write the lock file {lp} ({exc.strerror}); {advice or 'choose a writable ' + out_option()}")


def _same_file(fd: int, p: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(p)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _acquire(fcntl, fd: int, path: Path, wait_message: str | None, timeout: float | None, deadline: float | None,
             lp: Path, stream: TextIO | None = None) -> bool:
    """Take the lock on ``fd``, waiting for its holder (until ``deadline`` where given); whether the wait was said."""
    said_at, said = time.monotonic() + WAIT_QUIET_SECONDS, False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return said
        except BlockingIOError:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise CacheBusy(
                    f"{path} is being written by {holder(path, lp)} (lock {lp}) and it did not finish within "
                    f"{timeout:g} s; wait for it (a longer {named_option('--lock-timeout')}), or stop that process and re-run to resume"
                ) from None
            if wait_message and not said and now >= said_at:
                _say_waiting(one_line(f"{wait_message} (held by {holder(path, lp)})"), stream)
                said = True
            if deadline is None and (said or not wait_message):  # no limit, nothing more to say: wait for the
                fcntl.flock(fd, fcntl.LOCK_EX)  # holder's release itself, not a poll
                return said
            time.sleep(POLL_SECONDS)


def _say_waiting(line: str, stream: TextIO | None) -> None:
    """The line that a writer waits, and for whom: on ``stream``, by default on stderr as ``progress.note``."""
    if stream is None:
        note(line)
    else:
        print(line, file=stream, flush=True)


def _write_pid(fd: int) -> None:
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, LOCK_MARK + f"{os.getpid()}\n".encode(), 0)
    except OSError:
        pass  # the pid is only for messages


def _unlink_quietly(p: Path) -> None:
    try:
        p.unlink()
    except OSError:
        pass
