"""Where featcache keeps its files by default."""

import hashlib
import os
import re
import socket
import stat
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator


def home() -> Path:
    """Root of default outputs: ``$FEATCACHE_HOME`` or ``./data``. A relative one in a current folder that was
    deleted is one line: every command with an absolute --out ended in a FileNotFoundError traceback there, from
    the folder of converted networks under it (an adversarial tester)."""
    # Not cached: it runs once a command (train, curve, evaluate: 1 call each, measured), 0.14 ms with 5 parents to
    # stat, and a cached answer would go stale where it matters: a relative HOME under another current folder, or a
    # file made at HOME or above it later in a notebook's process (a review asked).
    given = home_given()
    root = _reachable(_expanded(given, "FEATCACHE_HOME") if given else Path("data"), "FEATCACHE_HOME")
    if given:
        # each command blamed an --out the user never gave ("--out .../afile/runs/heads: ... is a file"; a tester),
        # for a file at HOME or at any folder above it
        _check_folder_path(root, "FEATCACHE_HOME", "set it to a folder for featcache's default outputs, or unset it "
                           "for ./data")
    return root


def home_given() -> str:
    """``$FEATCACHE_HOME`` as set, "" where it is not: set but empty is unset (it put outputs in ./cache and ./runs,
    not ./data; an adversarial tester), and so is blank (spaces too: "   " made a folder so named). The one reading
    of the variable (``home`` and the photo folder's check of a HOME inside it)."""
    return os.environ.get("FEATCACHE_HOME", "").strip()


def _expanded(given: str, variable: str) -> Path:
    """A variable's path with a leading ``~`` expanded, as the CLI's and the API's paths are (validate.expand_home): a
    shell leaves ``FEATCACHE_HOME='~/x'`` as typed, and featcache made a folder named ``~`` in the current one for
    its caches while train's default head went under the real home (an adversarial tester)."""
    from featcache.validate import expand_home  # here: validate imports this module at its top

    path = Path(expand_home(given))
    if given.startswith("~") and str(path).startswith("~"):  # '~nosuchuser/x': a folder named ~nosuchuser was made
        from featcache.errors import FeatcacheError  # in the current one for featcache's outputs (an adversarial tester)

        user = given[1:].split(os.sep, 1)[0]
        raise FeatcacheError(f"{variable}={given!r} names the home of no user ({user!r} is none here); set it to a "
                             "folder, or unset it")
    return path


def _check_folder_path(root: Path, variable: str, fix: str) -> None:
    """One line naming ``variable`` where its folder ``root`` cannot be one: a file at it or above it, or a link to
    nothing at it or above it. A dangling link was "cannot write .../runs/heads/x.npz (File exists); choose a
    writable --out" after the fit, and a file "cannot write .../x.onnx (File exists)" (an adversarial tester)."""
    from featcache.errors import FeatcacheError

    for p in (root, *root.parents):
        exists = os.path.exists(p)
        if not exists and os.path.islink(p):
            raise FeatcacheError(f"{variable} is {root}, and {p} is a link to {os.readlink(p)}, which does not exist; "
                                 f"make that folder, or {fix}")
        if exists and not os.path.isdir(p):
            raise FeatcacheError(f"{variable} is {root}, and {p} is not a folder; {fix}")


def _reachable(root: Path, variable: str) -> Path:
    """``root``, unless it is relative to a current folder that no longer exists: then one line."""
    if not root.is_absolute():
        try:
            os.getcwd()
        except FileNotFoundError:
            from featcache.errors import FeatcacheError

            raise FeatcacheError(f"the current folder no longer exists, and featcache's default folder {root}/ is "
                                 f"relative to it; cd to a folder that exists, or set {variable} to an absolute "
                                 "path") from None
    return root


def cache_dir() -> Path:
    return home() / "cache"


def runs_dir() -> Path:
    return home() / "runs"


# The variable that chooses the folder of converted models (``runtime_dir``), and its default under the user's cache
# folder, as pip, torch and huggingface keep theirs (Keras keeps its weights in ~/.keras the same way). The words
# of each, one home: the CLI's note, the messages and the advice were typed out each (a reviewer).
RUNTIME_DIR_ENV = "FEATCACHE_RUNTIME_DIR"
RUNTIME_SUBDIR = ("featcache", "runtimes")  # under the user's cache folder (``user_cache_dir``)
DEFAULT_RUNTIME_DIR = "~/.cache/" + "/".join(RUNTIME_SUBDIR)
XDG_RUNTIME_DIR_WORDS = "$XDG_CACHE_HOME/" + "/".join(RUNTIME_SUBDIR)  # the default where XDG_CACHE_HOME is set
# Where converted models are kept, in the order it is chosen: the CLI's help, the messages, docs/install.md.
RUNTIME_DIR_WORDS = f"${RUNTIME_DIR_ENV} if set, else {XDG_RUNTIME_DIR_WORDS} or {DEFAULT_RUNTIME_DIR}"


def runtime_dir() -> Path:
    """Converted models of the fast runtimes: ``$FEATCACHE_RUNTIME_DIR``, else ``$XDG_CACHE_HOME/featcache/runtimes``,
    else ``~/.cache/featcache/runtimes``: one folder per user, wherever featcache runs.

    A conversion depends only on the model, so it must be found from any folder: it was kept under HOME, ``./data``
    of the current folder by default, and 'cd elsewhere && featcache extract --out /abs/c.h5' converted again
    (28 s) into a new ./data/cache/runtimes, and ``auto`` stayed on TensorFlow there (a new-user tester). A default
    folder that cannot be made or written is said when a conversion is written (``runtimes.runtime_dir_advice()``),
    where ``auto`` falls back to TensorFlow saying so.
    """
    given = os.environ.get(RUNTIME_DIR_ENV, "").strip()
    if not given:
        return user_cache_dir().joinpath(*RUNTIME_SUBDIR)
    root = _reachable(_expanded(given, RUNTIME_DIR_ENV), RUNTIME_DIR_ENV)
    _check_folder_path(root, RUNTIME_DIR_ENV, "set it to a folder for converted models (they are kept there), "
                       f"or unset it for {DEFAULT_RUNTIME_DIR} (or {XDG_RUNTIME_DIR_WORDS})")
    return root


def user_cache_dir() -> Path:
    """The user's cache folder: ``$XDG_CACHE_HOME`` where it is an absolute path (the XDG spec ignores a relative
    one), else ``~/.cache``. One line where there is no home folder to put it in (``home_folder_problem``)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg and os.path.isabs(xdg):
        return Path(xdg)
    problem = home_folder_problem()
    if problem:
        from featcache.errors import FeatcacheError

        raise FeatcacheError(f"featcache keeps converted models in {DEFAULT_RUNTIME_DIR}, and there is no home folder "
                             f"here ({problem}); set {RUNTIME_DIR_ENV} to a folder for them")
    return Path(_home()) / ".cache"


def home_folder_problem() -> str | None:
    """Why there is no home folder for the user's cache folder, else None. Named ``$HOME``: the CLI's help says HOME
    for FEATCACHE_HOME. An empty HOME is unset (``os.path.expanduser`` made it "/", and conversions went to
    /.cache; a review); a relative one is no home folder (``relhome/.cache`` would follow the current folder)."""
    home = _home()
    if os.path.isabs(home):
        return None
    given = os.environ.get("HOME", "")
    return f"$HOME ({given}) is not an absolute path" if given else "$HOME is not set"


def _home() -> str:
    """``$HOME``, or where it is unset or empty the passwd entry's home folder ("" where there is none)."""
    home = os.environ.get("HOME", "")
    if home:
        return home
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_dir
    except (ImportError, KeyError):
        return ""


@contextmanager
def folders_made_for(folder: str | Path) -> Iterator[None]:
    """For a block that makes ``folder`` (and any folder above it that is missing) to write a file or take a lock
    in it: the folders missing as the block starts are removed again if it fails, innermost first and each only
    while empty, never what someone else put there meanwhile (a folder that is not empty stops the removal).

    The one home of this: an extract that failed before writing (a full disk, Ctrl-C, a refusal) left the new empty
    --out folder behind, and a conversion's lock file its new folder (adversarial testers); ``store.atomic``'s
    writes, ``embedding.runtimes``' conversion lock and ``validate.check_writable_dir`` each kept a copy of the
    walk (a reviewer). The block makes the folders itself, as it needs: retried against another writer's removal
    (``store.atomic``), or left to the write to refuse (a conversion's lock)."""
    made = _missing_folders(Path(folder))
    try:
        yield
    except BaseException:
        _remove_empty(made)
        raise


def _missing_folders(folder: Path) -> list[Path]:
    """The folders of ``folder`` that do not exist yet, outermost first."""
    made = []
    while not os.path.lexists(folder) and folder != folder.parent:
        made.insert(0, folder)
        folder = folder.parent
    return made


def _remove_empty(folders: list[Path]) -> None:
    """Remove ``folders`` (outermost first) innermost first, each only while empty: never what someone put there."""
    for d in reversed(folders):
        try:
            os.rmdir(d)
        except FileNotFoundError:
            continue
        except OSError:
            break


# A report rewritten in place (``store.atomic.output_files``) keeps each file it replaces as a hard link beside it,
# ``.NAME.before-TAG``, and marks each file it creates, ``.NAME.new-TAG``, until it is done; a run that
# fails puts the old report back. One killed outright (SIGKILL, the OOM killer, power loss) cannot: its next run finds
# the marks of a process that is gone and does it then (``restore_killed``), where it refused featcache's own files as
# changed by the user (an adversarial tester). TAG is ``writer_tag``'s PID-START-HOST: START is the process's start
# time (Linux's /proc/PID/stat; a random token elsewhere), HOST the host and pid namespace it ran in. A pid alone, reused by another process or by the next run itself (one pid every time in a
# container), left the marks in place, and a later run then put back a report older than the newest (a review).
BEFORE, NEW = "before", "new"
# ``.NAME.put-TAG``: what the block published at NAME (its size and SHA-256, written just before the rename), or
# ``UNPUBLISHED`` (written as the block starts: nothing yet). A killed run's file edited by the user afterwards was
# put back to the old report (BEFORE) or removed (NEW) by the next run, the edit lost without a word (an adversarial
# tester: a note appended to evaluation.txt). Now that is done only to the file the killed run published, as it
# published it. Its bytes, not its inode and times: a report's files are small (hashed for its record anyway), an
# edit that keeps the size and the mtime (``touch -r``, ``rsync -t``) is still one, and a remount's new device
# number is not. A block of an older featcache wrote no put mark at all: its marks are acted on as before.
PUT = "put"
_PUT_HEADER = "featcache-put"
UNPUBLISHED = "unpublished"
_CUT_STAMP = re.compile(rf"{_PUT_HEADER} \d*( [0-9a-f]{{0,64}})?")  # a size-and-digest record cut short
# Made in the folder once the block's files are all written, before its marks go, and removed after them: a kill
# while the marks were being removed left some old files' links, and the next run put back those alone beside the new
# others, a report refused from then on (an adversarial tester). With it the marks of a finished block are only removed.
DONE_PREFIX = ".featcache.done-"
# What featcache writes through an atomic temporary or a report's marks takes seconds to about a minute (a model
# conversion: 7-66 s, docs/benchmarks.md): a writer on another host or in another container, whose pid this process
# cannot look up, is taken for killed once its file is this old, and for running until then.
STALE_SECONDS = 3600


def _start_of(pid: int) -> str | None:
    """Process ``pid``'s start time in clock ticks since boot (/proc/PID/stat's 22nd field); None where no such
    process runs (or only its zombie), or where /proc cannot tell."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError, OverflowError):
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # after the command's name, which may hold spaces and parentheses
    return None if len(fields) < 20 or fields[0] == "Z" else fields[19]


def _host_tag() -> str:
    """8 hex naming this host and its pid namespace: a pid and its start time name a process only within one. A
    writer in another container sharing the folder, or on another host (NFS), was taken for killed and its report's
    files put back under it (a note's open item)."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = 0
    return hashlib.sha256(f"{socket.gethostname()}|{namespace}".encode()).hexdigest()[:8]


_PROC = Path("/proc/self/stat").exists()


def _own_token() -> str:
    return (_start_of(os.getpid()) if _PROC else None) or os.urandom(4).hex()


_TOKEN = _own_token()
_HOST = _host_tag()


def _after_fork() -> None:  # a forked child is another process: its own start time (a review)
    global _TOKEN
    _TOKEN = _own_token()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def writer_tag() -> str:
    """``PID-START-HOST``: this process, in the names of its marks and its atomic writes' temporaries."""
    return f"{os.getpid()}-{_TOKEN}-{_HOST}"


def kept_mark(f: Path, kind: str) -> Path:
    """``.NAME.before-PID-START-HOST`` (``kind`` BEFORE: the old contents of ``f``) or ``.NAME.new-PID-START-HOST`` (NEW: ``f``
    was created by this process, which has not finished writing it)."""
    return f.with_name(f".{f.name}.{kind}-{writer_tag()}")


def done_mark(directory: Path) -> Path:
    """``.featcache.done-PID-START-HOST`` in ``directory``: this process's block there has written all its files."""
    return Path(directory) / f"{DONE_PREFIX}{writer_tag()}"


Writer = tuple[int, str, str]  # (pid, start, host tag)


def parse_writer(text: str) -> Writer | None:
    """``PID-START-HOST`` as ``writer_tag`` writes it (START: clock ticks on Linux, 8 hex elsewhere; HOST 8 hex); None
    for anything else. The first marks (PID-START, one session of 2026-12-03 to 04) are not taken either: a user's
    '.h.npz.2024-01.backup_1.npz' read as one, its pid 2024 not running, and was deleted (an adversarial tester)."""
    parts = text.split("-")
    if len(parts) != 3:
        return None
    pid, start, host = parts
    ok = start.isdigit() if _PROC else len(start) == 8 and all(c in "0123456789abcdef" for c in start)
    ok = ok and len(host) == 8 and all(c in "0123456789abcdef" for c in host)
    return (int(pid), start, host) if pid.isdigit() and len(pid) <= 9 and ok else None


def _writer(mark: Path, f: Path) -> tuple[str, int, str, str] | None:
    """``(kind, pid, start, host)`` of a mark of ``f``; None for any other name (a user's file named like one)."""
    kind, sep, rest = mark.name[len(f.name) + 2:].partition("-")
    written = parse_writer(rest) if sep and kind in (BEFORE, NEW, PUT) else None
    return None if written is None else (kind, *written)


def file_stamp_now(path: str | Path) -> tuple[int, str] | None:
    """What a put mark records (``PUT``) of the regular file at ``path`` now, its size and SHA-256 (a link or any other
    kind of file: None, as for none)."""
    from featcache.validate import file_sha256

    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        return os.path.getsize(path), file_sha256(path)
    except OSError:
        return None


def write_put_mark(mark: Path, stamp: tuple[int, str] | None) -> None:
    """``mark`` (``kept_mark(f, PUT)``) recording ``stamp`` (None: ``UNPUBLISHED``); nothing where it cannot be
    written (a full disk): a killed run's file is then judged without it (``restore_killed``)."""
    body = UNPUBLISHED if stamp is None else f"{stamp[0]} {stamp[1]}"
    try:
        mark.write_text(f"{_PUT_HEADER} {body}\n")
    except OSError:
        pass


def _put_record(mark: Path | None) -> tuple[int, str] | str | None:
    """What ``mark`` records: ``(size, sha256)``, ``UNPUBLISHED``, or None (no mark, or a file not in
    ``write_put_mark``'s form, such as a user's file named like one: never acted on)."""
    if mark is None:
        return None
    try:
        if not stat.S_ISREG(mark.lstat().st_mode) or mark.lstat().st_size > 200:
            return None
        words = mark.read_text(encoding="ascii", errors="strict").split()
    except (OSError, ValueError):
        return None
    if words == [_PUT_HEADER, UNPUBLISHED]:
        return UNPUBLISHED
    if len(words) == 3 and words[0] == _PUT_HEADER and words[1].isdigit() and len(words[2]) == 64:
        return int(words[1]), words[2]
    # cut short by a kill or a full disk while it was written, which is before the rename it records: nothing was
    # published yet. Taken for a user's file, it stayed for good beside every later report (helper-351).
    text = " ".join(words)
    if f"{_PUT_HEADER} {UNPUBLISHED}".startswith(text) or _CUT_STAMP.fullmatch(text):
        return UNPUBLISHED
    return None


def _published_as_killed(f: Path, put: Path | None) -> bool:
    """Whether ``f`` is the file a killed block published there, unchanged; with no put mark of that block (an older
    featcache's, or a full disk), whether it is there at all, as before put marks."""
    record = _put_record(put)
    if put is None or record is None:
        return os.path.lexists(f)
    return record != UNPUBLISHED and file_stamp_now(f) == record


def is_own(writer: Writer) -> bool:
    pid, start, host = writer
    return pid == os.getpid() and start == _TOKEN and host == _HOST


def is_foreign(writer: Writer) -> bool:
    """Whether ``writer`` ran on another host or in another pid namespace: this process cannot look it up."""
    return writer[2] != _HOST


# A writer in another container or on another host cannot be looked up: its marks are a live writer's for an hour.
# One killed (a container OOM-killed, then run again under a new hostname) held the folder for that hour with no way
# out (an adversarial tester): FEATCACHE_TAKE_OVER=PID-START-HOST takes that writer's marks for a killed writer's. It
# names the writer, so that a value left in the environment (a Dockerfile's ENV) cannot switch the check off for
# every later writer (a review).
TAKE_OVER = "FEATCACHE_TAKE_OVER"


def _taking_over() -> str:
    return os.environ.get(TAKE_OVER, "").strip()


def writer_running(writer: Writer, made: Path) -> bool:
    """Whether the process that made ``made`` (a mark or a temporary) may still run: here, the same pid with the
    same start time (on Linux); elsewhere, ``made`` younger than STALE_SECONDS."""
    pid, start, _ = writer
    if is_foreign(writer):
        try:
            st = made.lstat()
        except OSError:
            return False
        # A "before" mark is a hard link to the old report: its mtime is that file's, days old perhaps; link(2) sets
        # the inode's ctime (a review: a live writer's fresh mark was taken for a dead one's by its mtime)
        return time.time() - max(st.st_mtime, st.st_ctime) < STALE_SECONDS
    if _PROC:
        return _start_of(pid) == start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: running
        return True
    return True


def _marks_of(f: Path) -> list[Path] | None:
    """The files named like marks of ``f`` (``.NAME.*``) beside it; None where its folder cannot be listed."""
    try:
        return [m for m in f.parent.iterdir() if m.name.startswith(f".{f.name}.")]
    except OSError:
        return None


def killed_midway(files: Iterable[str | Path]) -> int | None:
    """The pid of a featcache process that was writing ``files`` (a report) and is gone, its marks still beside them
    (``restore_killed`` acts on them at the next run); None where there are none. verify and info said "changed
    since featcache wrote it" of a report featcache's own killed run had left half-written (helper-351)."""
    for f in map(Path, files):
        marks = _marks_of(f)
        for m in marks or ():
            writer = _writer(m, f)
            if writer is None or writer[0] == PUT or is_own(writer[1:]):
                continue
            try:
                if writer[0] == NEW and m.stat().st_size:  # featcache's are empty: a user's file named like one
                    continue
            except OSError:
                continue
            tag = "-".join(map(str, writer[1:]))
            if not writer_running(writer[1:], m) and not (f.parent / f"{DONE_PREFIX}{tag}").exists():
                return writer[1]
    return None


def restore_killed(files: Iterable[str | Path]) -> list[Path]:
    """Put back what a killed rewrite of ``files`` left half done: each ``.NAME.before-PID-START-HOST`` of a process that
    is gone back over NAME, each file its ``.NAME.new-PID-START-HOST`` marks removed, with the marks; a file changed
    since that process published it (``.NAME.put-...``) is left as it is. Returns the files put back or removed.
    Marks of another featcache process still running are one line (it is writing the report now: wait for it); this
    process's own are its block's and left alone."""
    from featcache.errors import FeatcacheError, option

    done = []
    folders = set()
    for f in map(Path, files):
        marks = _marks_of(f)
        if marks is None:  # no folder yet, or one it may not list: nothing to restore there
            continue
        folders.add(f.parent)
        puts = {}  # the put marks of f, by writer
        for m in marks:
            writer = _writer(m, f)
            if writer is not None and writer[0] == PUT:
                puts[writer[1:]] = m
        for m in sorted(marks):
            writer = _writer(m, f)
            if writer is None or writer[0] == PUT:
                continue
            kind, who = writer[0], writer[1:]
            if is_own(who):
                continue
            tag = "-".join(map(str, who))
            if writer_running(who, m) and not (is_foreign(who) and _taking_over() == tag):
                if is_foreign(who):
                    raise FeatcacheError(f"another featcache process (pid {who[0]}, on another host or in another "
                                         f"container) may be writing {f.parent}: its marks there are less than an hour "
                                         "old; wait for it to finish, or, if it was killed (a container stopped), run "
                                         f"again with {TAKE_OVER}={tag} to put back the report it was replacing")
                raise FeatcacheError(f"another featcache process (pid {who[0]}) is writing {f.parent} now; wait for it "
                                     f"to finish, or choose another {option('--out')}")
            try:
                if (f.parent / f"{DONE_PREFIX}{tag}").exists():
                    os.unlink(m)  # its block had written every file: the new report stays, whole
                    continue
                if kind == NEW and m.stat().st_size:  # featcache's are empty: this one is someone's file
                    continue
                there = os.path.lexists(f)
                if kind == BEFORE and there and os.path.samefile(m, f):
                    os.unlink(m)  # not replaced before the kill: rename(2) between two links of one file does nothing
                    continue
                if there and not _published_as_killed(f, puts.get(who)):
                    # written since the kill (the user's edit), or put there by another program: kept, and judged by
                    # the report's own checks (refused as changed); the old contents go, so nothing hidden is left
                    os.unlink(m)
                    continue
                if kind == BEFORE:
                    os.replace(m, f)  # the old contents, back under the name
                else:
                    if there:
                        os.unlink(f)
                    os.unlink(m)
            except OSError:
                continue
            done.append(f)
        for who, m in puts.items():  # a gone writer's (or one taken over), once it has no other mark of f left
            tag = "-".join(map(str, who))
            if (is_own(who) or _put_record(m) is None
                    or (writer_running(who, m) and not (is_foreign(who) and _taking_over() == tag))
                    or any(_writer(o, f) in ((BEFORE, *who), (NEW, *who)) for o in marks if os.path.lexists(o))):
                continue
            try:
                os.unlink(m)
            except OSError:
                pass
    for folder in folders:  # a finished block's own mark, once its other marks are gone
        for d in folder.glob(f"{DONE_PREFIX}*"):
            written = parse_writer(d.name[len(DONE_PREFIX):])
            if written is None or is_own(written) or writer_running(written, d):
                continue
            tag = "-" + d.name[len(DONE_PREFIX):]
            try:
                if not any(m.name.endswith(tag) and m != d for m in folder.iterdir()):
                    d.unlink()
            except OSError:
                pass
    return done
