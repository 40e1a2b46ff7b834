"""Where featcache keeps its files by default."""

import os
from pathlib import Path
from typing import Iterable


def home() -> Path:
    """Root of default outputs: ``$FEATCACHE_HOME`` or ``./data``."""
    return Path(os.environ.get("FEATCACHE_HOME", "data"))


def cache_dir() -> Path:
    return home() / "cache"


def runs_dir() -> Path:
    return home() / "runs"


def runtime_dir() -> Path:
    """Converted models of the fast runtimes: ``$FEATCACHE_RUNTIME_DIR`` or ``<cache dir>/runtimes``.

    Separate from the caches' folder so that several homes (each test, each
    project) can share one conversion: it depends only on the model.
    """
    return Path(os.environ.get("FEATCACHE_RUNTIME_DIR") or cache_dir() / "runtimes")


# A report rewritten in place (``store.atomic.output_files``) keeps each file it replaces as a hard link beside it,
# ``.NAME.before-PID``, and marks each file it creates, ``.NAME.new-PID``, until it is done; a run that fails puts the
# old report back. One killed outright (SIGKILL, the OOM killer, power loss) cannot: its next run finds the marks of a
# process that is gone and does it then (``restore_killed``), where it refused featcache's own files as changed by the
# user (an adversarial tester).
BEFORE, NEW = "before", "new"


def kept_mark(f: Path, kind: str, pid: int | None = None) -> Path:
    """``.NAME.before-PID`` (``kind`` BEFORE: the old contents of ``f``) or ``.NAME.new-PID`` (NEW: ``f`` was created)."""
    return f.with_name(f".{f.name}.{kind}-{os.getpid() if pid is None else pid}")


def _gone(pid: int) -> bool:
    """Whether no process ``pid`` runs here (this one counts as running: its own marks are its block's)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # another user's process: running
        return False
    return False


def restore_killed(files: Iterable[str | Path]) -> list[Path]:
    """Put back what a killed rewrite of ``files`` left half done: each ``.NAME.before-PID`` of a process that is gone
    back over NAME, each file its ``.NAME.new-PID`` marks removed, with the marks. Returns the files put back or
    removed. A mark of a process still running (another run writing now) is left alone."""
    done = []
    for f in map(Path, files):
        try:
            marks = [m for m in f.parent.iterdir() if m.name.startswith(f".{f.name}.")]
        except OSError:  # no folder yet, or one it may not list: nothing to restore there
            continue
        for m in sorted(marks):
            kind, _, pid = m.name[len(f.name) + 2:].rpartition("-")
            if kind not in (BEFORE, NEW) or not pid.isdigit() or not _gone(int(pid)):
                continue
            try:
                if kind == BEFORE and os.path.lexists(f) and os.path.samefile(m, f):
                    os.unlink(m)  # not replaced before the kill: rename(2) between two links of one file does nothing
                elif kind == BEFORE:
                    os.replace(m, f)  # the old contents, back under the name
                else:
                    if os.path.lexists(f):
                        os.unlink(f)
                    os.unlink(m)
            except OSError:
                continue
            done.append(f)
    return done
