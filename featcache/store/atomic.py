"""Writing files atomically, the one way featcache does it.

A temporary file beside the target is written, fsynced, given the mode of
the file it replaces (a new file: the user's normal mode) and renamed over the target, and then the folder is fsynced:
a run killed while writing (or the machine losing power after it) leaves
the previous file (or none), never half of one. Caches, heads, models,
evaluation files, curves and plots all go through ``publish``/``atomic_path``.

A full disk anywhere in writing is one line (``no_space``), exit 2.
"""

from __future__ import annotations

import glob
import json
import os
import re
import stat
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from featcache.errors import FeatcacheError, command_word, exception_chain, is_no_space, no_space, option  # noqa: F401 (their home, re-exported)
from featcache.paths import (BEFORE, NEW, PUT, STALE_SECONDS, done_mark, file_stamp_now, folders_made_for, is_own,  # noqa: F401 (folders_made_for: the store's, re-exported)
                             kept_mark, parse_writer, restore_killed, write_put_mark, writer_running, writer_tag)
from featcache.validate import RECORD_DIGEST, REPORT_DIGESTS, record_seal


def _umask() -> int:
    """The process's umask: from /proc (Linux 4.7+) without changing it, else by setting and restoring it.

    Read on every call (a few microseconds), not cached: a process may change
    its umask. Only the fallback briefly sets the umask to 0, which races
    with other threads creating files.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def user_mode() -> int:
    """The mode a plain ``open(..., 'w')`` would give: 0o666 less the umask (mkstemp makes 0600)."""
    return 0o666 & ~_umask()


def replacing_mode(path: str | Path) -> int:
    """The mode for a file about to replace ``path``: the permission bits of the regular file there (through a
    link, as the shell's ``>`` keeps them), else the user's normal mode (``user_mode``). A head, model, report or
    CSV the user had made private (chmod 600) came back 0644 after a rerun (an adversarial tester). Setuid, setgid
    and sticky bits are not carried over: the shell's ``>`` drops the first two on a write, and none belongs on
    featcache's outputs."""
    try:
        st = os.stat(path)
    except OSError:  # none there (or unreadable: the write itself says what is wrong)
        return user_mode()
    return stat.S_IMODE(st.st_mode) & 0o777 if stat.S_ISREG(st.st_mode) else user_mode()


def written_through(path: str | Path, flag: str = "--out") -> Path:
    """The file a write of ``path`` makes: where its links lead when ``path`` is a symbolic link to a regular file or
    to nothing yet (dangling), as the shell's ``>`` writes through a link (``replacing_mode`` keeps the target's
    mode the same way); ``path`` itself otherwise (a link to a folder is the folder, a loop of links a link to
    nothing: ``validate.check_replaceable`` refuses each). ``extract --force --out link.h5`` replaced the link with a
    plain file and left its target, a cache of other settings, as it was, saying it had replaced it (an adversarial
    tester); a dangling link became a plain file too.

    A dangling link into a folder that is not there is one line naming ``flag``, as ``>`` fails on it ("No such
    file or directory"): its target was written, the folders made for it, by extract, train and export, while
    predict --csv refused every dangling link (the last session's open item). A link whose folder has gone is more
    likely stale than a place to build."""
    path = Path(path)
    if not path.is_symlink():
        return path
    if path.is_file():
        return Path(os.path.realpath(path))
    if path.exists():
        return path
    target = Path(os.path.realpath(path))
    if target.is_symlink():  # a loop: realpath stops at a link it cannot follow
        return path
    if not os.path.isdir(target.parent):
        why = "is not a folder" if os.path.lexists(target.parent) else "does not exist"
        raise FeatcacheError(f"{flag} {path} is a symbolic link to {target}, and its folder {target.parent} {why}; "
                             f"create that folder, point the link at a file in a folder that exists, or choose "
                             f"another {flag}")
    return target


def fsync_file(path: str | Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_dir(directory: str | Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. a platform without directory descriptors: the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def publish(tmp: str | Path, path: str | Path, needed_bytes: int | None = None, advice: str | None = None) -> Path:
    """Make the written ``tmp`` the file ``path``: fsync, the mode of the file it replaces (``replacing_mode``),
    atomic rename, fsync the folder."""
    path = Path(path)
    try:
        os.chmod(tmp, replacing_mode(path))
        fsync_file(tmp)
        _PUBLISHED.add(_identity(tmp))  # before the rename, which keeps the inode: a Ctrl-C between cannot miss it
        _record_put(tmp, path)
        os.replace(tmp, path)
    except OSError as exc:
        if is_no_space(exc):
            raise no_space(path, needed_bytes, advice, exc) from None
        if isinstance(exc, FileNotFoundError) and not os.path.lexists(tmp):
            # another program removed it while it was written (a cache hit of featcache before 2026-12-05 deleted
            # a running extract --force's partial: a chmod traceback, a reviewer): one line, nothing replaced
            raise FeatcacheError(f"{tmp} was removed by another program before it could become {path}, so {path.name} "
                                 f"was left as it was; run the same {command_word()} again") from None
        raise
    fsync_dir(path.parent)
    return path


# The files this process published (device and inode): a failed ``output_files`` block removes only those of its
# new files, never one the user saved there during the run (a probe refused such a picture, then deleted it). One
# set for the process: an inode freed and reused by a user's file within one long-lived process is not told apart.
_PUBLISHED: set[tuple[int, int]] = set()
# The files of the ``output_files`` blocks running in this process, by absolute path: their put marks
# (``paths.PUT``), and what each was published as (size, SHA-256), for the block's own failure path.
_BLOCK_PUTS: dict[str, Path] = {}
_PUT_STAMPS: dict[str, tuple[int, str]] = {}


def _record_put(tmp: str | Path, path: str | Path) -> None:
    """Before ``tmp`` becomes ``path``, a file of a running block: what it is, in the put mark (a report's file: a
    few KB to a few MB, hashed once more here)."""
    key = os.path.abspath(path)
    mark = _BLOCK_PUTS.get(key)
    stamp = file_stamp_now(tmp) if mark is not None else None
    if stamp is not None:
        write_put_mark(mark, stamp)
        _PUT_STAMPS[key] = stamp


def written_sha256(path: str | Path) -> str:
    """The SHA-256 of what this process's running ``output_files`` block published at ``path``: its put mark's,
    hashed from the bytes before the rename; outside such a block, of the file as it is now. A report's record takes
    it (``validate.report_digests``): it hashed each file again after the rename, twice the reading, and a change
    another program made in between was vouched for as featcache's (curve's own writes had the same gap;
    helper-351)."""
    from featcache.validate import file_sha256

    stamp = _PUT_STAMPS.get(os.path.abspath(path))
    return stamp[1] if stamp is not None else file_sha256(path)


def _as_published(f: Path) -> bool:
    """Whether ``f`` is the file this process's block published there, unchanged since (not edited nor replaced);
    a block file published without a stamp: by its device and inode, as before."""
    stamp = _PUT_STAMPS.get(os.path.abspath(f))
    if stamp is not None:
        return file_stamp_now(f) == stamp
    try:
        return _identity(f) in _PUBLISHED
    except OSError:
        return False


def stat_stamp(st: os.stat_result, ctime: bool = True) -> tuple[int, ...]:
    """Which file ``st`` describes and which version of it: device and inode (which file: one renamed over it has
    others), size and modification time, and with ``ctime`` the status-change time, last, so ``stamp[:4]`` is the
    rest. The one rule of "the same file" for every caller, each of which stats the way it needs (``file_state``:
    the name itself, ``os.lstat``; ``layout.file_stamp``: an open handle; ``recipes.files.one_file``: the path).

    Whether ctime is in it: an in-place rewrite that keeps the size and sets the mtime back (``cp -p``, ``rsync -t``,
    ``os.utime``) is caught by ctime alone, which every write moves and no program can set; but a chmod, chown or
    hard link (a backup tool's) moves it too without changing a byte. So the readers that must not give bytes of
    two versions as one (``reader.Cache``, which digests again where only ctime moved; ``one_file``; the per-file
    digests ``layout`` keeps) include it; ``file_state``'s callers, which ask whether another program put a file at
    an output's or a partial's name, or wrote it, during a run, and refuse the run's publish where it did, leave it
    out, so a chmod of the user's file during a minutes-long extraction costs no run; so does ``analysis.probe``'s
    key for the caches it keeps open, each of which checks its own stamp, ctime included, around every read."""
    stamp = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    return (*stamp, st.st_ctime_ns) if ctime else stamp


def file_state(path: str | Path) -> tuple[int, int, int, int] | None:
    """What is at ``path`` (``stat_stamp`` without ctime, of the name itself), None for nothing: a file put or
    changed there differs."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return stat_stamp(st, ctime=False)


def _identity(path: str | Path) -> tuple[int, int]:
    st = os.lstat(path)
    return st.st_dev, st.st_ino


@contextmanager
def atomic_path(path: str | Path, advice: str | None = None, recheck: Callable[[], Any] | None = None,
                published: Callable[[], Any] | None = None) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces ``path`` (see ``publish``) when the block succeeds.

    ``advice``: what to do when ``path`` cannot be written or its disk is full, where that is not choosing
    another ``--out`` (converted models name their variable).

    ``recheck``: the command's check of what may be at ``path`` (the one it made before its minutes of work), run
    again once the file is written, under ``.<name>.lock`` beside it (``store.layout.output_lock_path``), then the rename: a file put there
    during the run (the user's notes, another export's model) was replaced without a word, and two exports to one
    path both said they wrote it (an adversarial tester). Featcache's writers of one path take turns; what
    someone else puts there in the instant between the check and the rename is not covered.

    ``published`` (with ``recheck``): run after the rename, still under the lock, for what must follow the new file
    before the next writer's check (predict's record of its CSV: trimmed after the lock was released, it could
    overwrite the next run's record; a review).
    """
    path = Path(path)  # a user's --out link is written through where it is named (written_through), not here: a
    # link planted among featcache's own files (a converted model's key) is replaced, never written through
    remove_stale_temporaries(path)
    prefix, suffix = _temporary_parts(path)
    with folders_made_for(path.parent):  # made for this file: removed again if it is not written (a full disk)
        try:
            fd, tmp = _make_temporary(path.parent, f"{prefix}{writer_tag()}.", suffix)
        except OSError as exc:
            if is_no_space(exc):
                raise no_space(path, advice=advice, exc=exc) from None
            raise FeatcacheError(f"cannot write {path} ({exc.strerror}); {advice or 'choose a writable ' + option('--out')}") from None
        os.close(fd)
        try:
            try:
                yield Path(tmp)
            except OSError as exc:
                if is_no_space(exc):
                    raise no_space(path, advice=advice, exc=exc) from None
                raise
            except Exception as exc:  # Keras and h5py wrap the OSError of a full disk
                if any(is_no_space(e) for e in exception_chain(exc)):
                    raise no_space(path, advice=advice, exc=exc) from None
                raise
            if recheck is None:
                publish(tmp, path, advice=advice)
                if published is not None:  # no lock to run it under: run all the same (a review: it was dropped)
                    published()
            else:
                from featcache.store.layout import output_lock_path
                from featcache.store.lock import exclusive_lock, writing_wait

                # said on stderr: stdout may be the command's output (predict's predictions); it waited without a word
                wait = f"featcache: {writing_wait(path)}"
                with exclusive_lock(path, wait_message=wait, lock_file=output_lock_path(path), stream=sys.stderr,
                                    advice=advice, hidden=True):
                    recheck()
                    publish(tmp, path, advice=advice)
                    if published is not None:
                        published()
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def new_temporary(path: str | Path) -> Path:
    """A new empty file beside ``path`` under a name of its own (``atomic_path``'s: tagged with this writer, so a
    later write of ``path`` removes it if this run is killed), for a writer that publishes ``path`` itself. A fixed
    name beside the target (``NAME.regroup.h5``) overwrote, then deleted, a user's file of that name, and followed
    a link there into the user's file (an adversarial tester)."""
    path = Path(path)
    remove_stale_temporaries(path)
    prefix, suffix = _temporary_parts(path)
    fd, tmp = _make_temporary(path.parent, f"{prefix}{writer_tag()}.", suffix)
    os.close(fd)
    return Path(tmp)


def _make_temporary(folder: Path, prefix: str, suffix: str) -> tuple[int, str]:
    """mkdir -p ``folder``, then the temporary in it. Another process's failed write may remove an empty folder
    it made between the two (``paths.folders_made_for``; a review): the folder is made again, a few times at most."""
    attempts = 8  # 6 racing writers, half failing: 28 of 300 trials failed with one attempt, 0 of 300 with 8 (a tester)
    for attempt in range(attempts):
        try:
            folder.mkdir(parents=True, exist_ok=True)  # FileExistsError too: made, then removed before is_dir()
            return tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
        except (FileNotFoundError, FileExistsError):
            if attempt == attempts - 1 or (os.path.lexists(folder) and not os.path.isdir(folder)):
                raise
    raise AssertionError("unreachable")


# Bytes in one file name on Linux's file systems (ext4, xfs, btrfs, tmpfs), for every name featcache makes (a
# temporary's, a partial's, a lock's); a temporary's name adds dots, the writer's tag and 8 characters.
NAME_MAX = 255
_TAG_BYTES = 9 + 1 + 20 + 1 + 8  # paths.writer_tag at its longest: a 9-digit pid, a 20-digit start, 8 hex


def _temporary_parts(path: Path) -> tuple[str, str]:
    """(prefix, suffix) of ``path``'s temporaries: ``.<name>.`` and its suffix, so that the temporary's name fits
    NAME_MAX (a legal 243-byte --out failed after the work, at the temporary; a tester). A name that does not fit
    is cut and given 8 hex of its SHA-256 (two long names alike in their first 200 bytes keep apart), and a suffix
    that leaves no room is ``.tmp`` (a 250-byte suffix looped for ever; a review)."""
    import hashlib

    name, suffix = path.name, path.suffix or ".tmp"
    if len(os.fsencode(suffix)) > NAME_MAX // 2:
        suffix = ".tmp"
    room = NAME_MAX - 8 - 3 - _TAG_BYTES - len(os.fsencode(suffix))  # the writer's tag, 8 random characters, 3 dots
    if len(os.fsencode(name)) > room:
        tag = hashlib.sha256(os.fsencode(name)).hexdigest()[:8]
        cut = os.fsencode(name)[: room - len(tag) - 1].decode("utf-8", "ignore")  # whole characters only
        name = f"{cut}-{tag}"
    return f".{name}.", suffix


def _temporary_name(path: Path) -> re.Pattern[str]:
    """The names atomic_path's mkstemp gives temporaries of ``path``: its prefix, the writer's tag and a dot (none
    in featcache 0.2.0's first temporaries), 8 of [a-z0-9_], its suffix. Group 1: the tag."""
    prefix, suffix = _temporary_parts(path)
    return re.compile(rf"{re.escape(prefix)}(?:([0-9a-f-]+)\.)?[a-z0-9_]{{8}}{re.escape(suffix)}")


def remove_stale_temporaries(path: str | Path) -> None:
    """Delete what writes of ``path`` killed mid-way (SIGKILL, the OOM killer, power loss) left beside it:
    ``atomic_path``'s temporaries whose writer is gone (``paths.writer_running``: here, at once; they stayed an hour,
    an adversarial tester; one of another host or container an hour after its last change).

    Only names with a writer's tag are touched: a user's ``.head.keras.bak`` or ``.head.keras.backup01.keras`` is
    none (the untagged form, before 2026-12-04, matched the latter and deleted it after an hour; a review).
    """
    path = Path(path)
    pattern = _temporary_name(path)
    try:
        found = [(tmp, pattern.fullmatch(tmp.name)) for tmp in path.parent.glob(f"{glob.escape(_temporary_parts(path)[0])}*")]
    except OSError:  # a folder we cannot list: the write itself says what is wrong
        return
    for tmp, match in found:
        if match is None:
            continue
        writer = parse_writer(match[1]) if match[1] else None
        if writer is None:  # no writer's tag: the user's name ('.h.npz.2024-01.x.npz', '.head.keras.backup01.keras';
            continue        # adversarial testers and a review), or a temporary from before tags, left alone
        try:  # one at a time: another process cleaning up too may have taken one already
            if not is_own(writer) and not writer_running(writer, tmp):
                tmp.unlink()
        except OSError:
            pass


@contextmanager
def output_files(directory: str | Path, files: Iterable[str | Path]) -> Iterator[None]:
    """Files written together into ``directory`` (each with ``atomic_path``): if the block fails (a full disk,
    Ctrl-C), those of ``files`` it created and the folders it made go again; what was there before stays.

    A report of three files is then all there or not there: a full disk
    used to leave an empty output folder, or a plot without its report.
    """
    directory = Path(directory)
    with folders_made_for(directory):  # only if empty: never what someone else put there meanwhile
        yield from _writing_together(directory, files)


def _writing_together(directory: Path, files: Iterable[str | Path]) -> Iterator[None]:
    """``output_files``' block: its files back as they were if it fails (the folders it made: its caller)."""
    files = [Path(f) for f in files]
    restore_killed(files)  # a run killed in this block before: its report back first (paths.restore_killed)
    new = [f for f in files if not os.path.lexists(f)]
    marks = _mark_new(new)
    kept = _keep_before(f for f in files if f not in new)
    puts = {os.path.abspath(f): kept_mark(f, PUT) for f in files}
    outer = {key: (_BLOCK_PUTS.get(key), _PUT_STAMPS.get(key)) for key in puts}  # a block around this one, as it was
    for mark in puts.values():  # "nothing published yet": a kill before the first rename is told from an older
        write_put_mark(mark, None)  # featcache's block, which wrote no put mark (paths.restore_killed)
    _BLOCK_PUTS.update(puts)
    try:
        yield
    except BaseException:
        for f in new:
            try:
                if _as_published(f):  # written by this process, not put there nor edited by someone since
                    os.unlink(f)
            except OSError:
                pass
        _unlink(marks)
        for f, before in kept:  # the files it replaced, back: a report is its old whole or its new one
            try:
                if os.path.lexists(f) and os.path.samefile(f, before):
                    os.unlink(before)  # not replaced: rename(2) between two links of one file does nothing
                elif not os.path.lexists(f) or _as_published(f):
                    os.replace(before, f)
                else:  # changed by someone since this run wrote it: theirs stays (the report's check refuses it)
                    os.unlink(before)
            except OSError:
                pass
        _unlink(puts.values())
        raise
    finally:
        for key, (mark, stamp) in outer.items():
            for table, value in ((_BLOCK_PUTS, mark), (_PUT_STAMPS, stamp)):
                if value is None:
                    table.pop(key, None)
                else:
                    table[key] = value
    done = done_mark(directory)
    try:
        done.touch()  # the block's files are all written: a kill from here on keeps them (paths.restore_killed)
    except OSError:
        done = None
    _unlink(before for _, before in kept)
    _unlink(marks)
    _unlink(puts.values())
    if done is not None:
        _unlink([done])


def _unlink(paths: Iterable[Path]) -> None:
    for p in paths:
        try:
            os.unlink(p)
        except OSError:
            pass


def _mark_new(files: list[Path]) -> list[Path]:
    """An empty ``.NAME.new-PID`` beside each file the block is about to create, for ``paths.restore_killed`` to
    remove it if this process is killed before the block ends (a first report killed halfway left a plot without
    its JSON, refused on every later run as the user's). The folder may not exist yet: then nothing to mark."""
    marks = []
    for f in files:
        mark = kept_mark(f, NEW)
        try:
            mark.parent.mkdir(parents=True, exist_ok=True)  # made here, not by the first write: removed as before
            mark.touch()
        except OSError:
            continue
        marks.append(mark)
    return marks


def _keep_before(files: Iterable[Path]) -> list[tuple[Path, Path]]:
    """``[(file, its hard link)]`` for each regular file of ``files``: the old contents, kept at no cost (an atomic
    write replaces the name, not the inode) until the block ends. A rerun of a report stopped between its files and
    its record of their digests (Ctrl-C while probe drew its plot, a full disk at evaluate's JSON) left new files
    beside the old digests, and every later run refused them as changed by the user (a review). Where the file
    system has no hard links the file is not kept, as before."""
    kept = []
    for f in files:
        if not f.is_file() or f.is_symlink():
            continue
        before = kept_mark(f, BEFORE)
        try:
            os.link(f, before)
        except OSError:
            continue
        kept.append((f, before))
    return kept


def write_bytes(path: str | Path, data: bytes, advice: str | None = None, recheck: Callable[[], Any] | None = None,
                published: Callable[[], Any] | None = None) -> Path:
    with atomic_path(path, advice, recheck, published) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str, advice: str | None = None, recheck: Callable[[], Any] | None = None) -> Path:
    """``text`` as UTF-8; a path's bytes that are not UTF-8 (held as surrogates, Python's surrogateescape) are
    written back as they were: an evaluation of a cache in such a folder was a UnicodeEncodeError (a tester)."""
    return write_bytes(path, text.encode("utf-8", "surrogateescape"), advice, recheck)


def write_json(path: str | Path, obj: Any, recheck: Callable[[], Any] | None = None) -> Path:
    """``obj`` as indented JSON (``json_text``), atomically. ``recheck``: as ``atomic_path``'s."""
    return write_text(path, json_text(obj), recheck=recheck)


def json_text(obj: Any) -> str:
    """``obj`` as ``write_json`` writes it: indented JSON; a report's record (it holds ``REPORT_DIGESTS``) sealed with
    its own digest (``validate.record_seal``), over what it reads back as."""
    if isinstance(obj, dict) and REPORT_DIGESTS in obj:
        obj = json.loads(json.dumps(obj, default=str))
        obj[RECORD_DIGEST] = record_seal(obj)
    return json.dumps(obj, indent=2, default=str) + "\n"
