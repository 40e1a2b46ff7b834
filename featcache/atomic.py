"""Write a file so that readers only ever see the old or the complete new one.

The content goes to a temporary file in the same folder, which is renamed
over the target (``os.replace`` is atomic on POSIX) only once it is written;
a crash or Ctrl-C midway leaves the previous file intact.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import FeatcacheError


def check_writable(directory: Path, flag: str = "--out") -> Path:
    """Create ``directory`` and prove a file can be written there, before any long work."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise FeatcacheError(f"cannot write in {directory} ({exc.strerror}); choose a writable {flag}") from None
    return directory


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix or ".tmp")
    except OSError as exc:
        raise FeatcacheError(f"cannot write {path} ({exc.strerror}); choose a writable --out") from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)
