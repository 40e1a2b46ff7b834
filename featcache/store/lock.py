"""The writers' lock: ``<path>.lock``, held with ``fcntl.flock`` while a cache is written.

``fcntl`` is imported only here, when a writer takes the lock: reading a
cache (info, train, evaluate, verify) works where it does not exist.
The holder writes its pid into the lock file, so a waiting writer can say
who it waits for; the file is removed when the holder is done.
A path in the way that is not such a file (a FIFO, a folder, a link, or a
file holding anything but a pid) is the user's: it is refused, never opened
for writing or removed (``curve`` deleted a user's ``<out>.lock`` FIFO, an
adversarial tester).
"""

from __future__ import annotations

import os
import stat
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TextIO

from featcache.errors import CacheBusy, FeatcacheError, one_line
from featcache.progress import note
from featcache.store.layout import lock_path

# How often a writer with a timeout retries a held lock: a frozen holder is
# noticed within this, and 10 tries a second cost nothing.
POLL_SECONDS = 0.1
# A wait is said once it lasts this long: a shorter one is no hang to explain, and the line said at once came before
# the one-line refusal of a short --lock-timeout (0.2 s: two lines; the fast tier caught it once the line was said
# with the progress off too). The 1 s a hashing scan is quiet for (progress.Progress quiet_seconds).
WAIT_QUIET_SECONDS = 1.0


def holder(path: Path, lock_file: Path | None = None) -> str:
    """Who holds the lock of ``path``, as the holder wrote it ('pid N'), or 'another process'."""
    try:
        pid = (lock_file or lock_path(path)).read_text().strip()
    except OSError:
        pid = ""
    return f"process {pid}" if pid.isdigit() else "another process"


@contextmanager
def exclusive_lock(path: Path, wait_message: str | None = None, timeout: float | None = None,
                   lock_file: Path | None = None, stream: TextIO | None = None,
                   advice: str | None = None) -> Iterator[None]:
    """Hold ``<path>.lock`` (or ``lock_file``); waits (saying so, and for whom, on ``stream``: by default on
    stderr as ``progress.note``, said with the progress off too: a wait without a word looks like a hang) while
    another process holds it.

    ``timeout``: seconds to wait at most (None: for as long as it takes);
    then a FeatcacheError names the holding process. ``advice``: what to do where the lock file cannot be made (a
    full disk), where that is not choosing another ``--out`` (predict's ``--csv``).
    """
    try:
        import fcntl
    except ImportError:  # no flock (Windows): one writer at a time is then the user's business
        yield
        return
    path = Path(path)
    lp = lock_file or lock_path(path)
    deadline = None if timeout is None else time.monotonic() + max(0.0, float(timeout))
    while True:
        check_lock_file(lp)
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
        _write_pid(fd)
        try:
            yield
        finally:
            if _same_file(fd, lp):  # ours still: never remove what someone put there since
                _unlink_quietly(lp)  # no empty lock files left behind
    finally:
        os.close(fd)


# A lock file featcache wrote holds a pid and a newline; 64 bytes is room to spare.
_PID_BYTES = 64


def check_lock_file(lp: Path) -> None:
    """``<path>.lock`` is absent or a lock file featcache wrote (empty, or a pid); anything else is refused in one line."""
    try:
        st = os.lstat(lp)
    except OSError:
        return  # absent (or unreadable: opening it names the problem)
    if not stat.S_ISREG(st.st_mode):
        from featcache.validate import kind_of

        raise _in_the_way(lp, kind_of(lp) if not stat.S_ISLNK(st.st_mode) else "a link")
    if st.st_size > _PID_BYTES:
        raise _in_the_way(lp, f"a file of {st.st_size} bytes")
    try:
        with open(lp, "rb") as f:
            text = f.read(_PID_BYTES).strip(b" \t\r\n\0")  # NULs: a pid cut short by a power loss
    except OSError:
        return
    if text and not text.isdigit():
        raise _in_the_way(lp, "a file that is not featcache's lock")


def _in_the_way(lp: Path, what: str) -> FeatcacheError:
    return FeatcacheError(f"{lp} is in the way of featcache's lock file (it is {what}); "
                          f"move it away, or choose another --out")


def _cannot_open(lp: Path, exc: OSError, advice: str | None = None) -> FeatcacheError:
    import errno

    if exc.errno in (errno.ELOOP, errno.EISDIR):  # put there between the check and the open
        return _in_the_way(lp, "a link" if exc.errno == errno.ELOOP else "a folder")
    from featcache.store.atomic import is_no_space, no_space

    if is_no_space(exc):  # a full disk (or no inode left) is the one full-disk line, not "choose a writable --out"
        return no_space(lp, advice=advice, exc=exc)
    return FeatcacheError(f"cannot write the lock file {lp} ({exc.strerror}); {advice or 'choose a writable --out'}")


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
                    f"{timeout:g} s; wait for it (a longer --lock-timeout), or stop that process and re-run to resume"
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
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError:
        pass  # the pid is only for messages


def _unlink_quietly(p: Path) -> None:
    try:
        p.unlink()
    except OSError:
        pass
