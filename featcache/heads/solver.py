"""scikit-learn's solver warnings, said once per fit in featcache's words.

A logistic regression that stops at ``max_iter`` gets a ConvergenceWarning
of eight lines (with the source line that raised it), once per fit: with
``C="cv"`` that is once per fold and C. What the user can act on fits in
one line: the head is near its optimum but not at it, and what converges
sooner. Fits run in this process or in its threads (the CV folds) are
counted; other warnings pass through as they were. Only the logistic
regression head needs it: the SVM's SVC has no iteration limit (libsvm
runs to its tolerance, max_iter=-1).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, TypeVar

from featcache.errors import warn

if TYPE_CHECKING:
    from featcache.progress import FitsRun

T = TypeVar("T")


class ConvergenceNote(UserWarning):
    """A head's solver stopped at its iteration limit before it converged: the fit is usable, not optimal.

    The CLI prints it as one ``note:`` line (``cli._show_warning`` reads ``label``)."""

    label = "note"


@contextlib.contextmanager
def solver_notes(head: str, fix: str) -> Iterator[None]:
    """Run fits with scikit-learn's ConvergenceWarnings held back, then one ``ConvergenceNote`` if there were any:
    "``head``: the solver stopped at its iteration limit before converging (in N fits) ...; ``fix``"."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        # Every one counted ("default" would drop a repeat from the same line), and only these: the others keep the
        # caller's filters (an "error" filter still raises inside the fit).
        warnings.simplefilter("always", ConvergenceWarning)
        yield
    stopped = 0
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            stopped += 1
        else:  # as it would have been shown; registry=None: it passed the filters once already, inside
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    if stopped:
        fits = "" if stopped == 1 else f" (in {stopped} fits, cross-validation's included)"
        warn(f"{head}: the solver stopped at its iteration limit before converging{fits}, so the head is near "
             f"its optimum but not at it; {fix}", ConvergenceNote)


WarningRecord = tuple[str, type, str, int]  # (message, category, filename, line): what warn_explicit takes back


def call_recording(fn: Callable[..., T], *args: Any) -> tuple[T, list[WarningRecord]]:
    """``fn(*args)`` with the warnings it raised recorded, not shown: for a joblib worker process, whose warnings
    would reach the terminal in Python's two-line form, past the CLI's one-line ``note:`` printer (probe and curve
    with ``--jobs`` above 1). The parent shows them with :func:`replay`."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args)
    return result, [(str(w.message), w.category, w.filename, w.lineno) for w in caught]


# How often a joblib worker process asks whether the run it works for is still there (``watch_parent``): one
# getppid() a second, nothing beside a fit.
PARENT_POLL_S = 1.0
_watched: int | None = None


def watch_parent(parent: int) -> None:
    """End this process, a joblib (loky) worker of the process ``parent``, within ``PARENT_POLL_S`` of that process
    ending. A curve or probe with --jobs killed by SIGKILL left its workers fitting their tasks to the end (a Keras
    fit of minutes), then idle for loky's 300 s worker timeout (a tester): loky's workers hold both ends of their
    result pipe, so nothing tells them. They write no file (the parent writes every row), so exiting loses nothing.
    Started once per worker; a no-op in ``parent`` itself (joblib runs a single job in the calling process)."""
    global _watched
    if parent == os.getpid() or _watched == parent:
        return
    _watched = parent
    # A direct child asks getppid(), which no reused pid can fool. A worker that is not (under loky's forkserver start
    # method the workers are the forkserver's children, and a getppid() poll ended each at once, TerminatedWorkerError;
    # a review), or one already orphaned when its first task came (the run killed just before; a review), asks
    # whether ``parent`` is still there: gone at once in the second case.
    direct = os.getppid() == parent

    def there() -> bool:
        return os.getppid() == parent if direct else _alive(parent)

    def watch() -> None:
        while there():
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="featcache-parent-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (signal 0 checks without sending anything; another user's process is there)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Parent:
    """What a joblib worker process takes of the process that hands it tasks (``parent_context``).

    ``pid``: that process's ``os.getpid()``; the worker ends as soon as it does (``watch_parent``). ``fits_run``: its
    ``progress.fits_run()``; the fits then show that they run, as the parent's own would (``progress.showing_fits``).
    ``cli``: its ``errors.cli_running()``; the worker's lines (its errors and warnings) then name the command's flags,
    as the parent's own would: the flag is per process, and a worker of a command said the API's keywords
    (helper-198's review)."""

    pid: int
    fits_run: FitsRun | None = None
    cli: bool = False


def parent_context() -> Parent:
    """This process's state that its workers take on (``call_in_worker``): the one place a new one is added, where
    curve and probe each read every piece. Call it before the ``Parallel`` runs, in the calling thread: joblib may
    draw the tasks in a thread of its own, where this context's variables are not set."""
    from featcache.errors import cli_running
    from featcache.progress import fits_run

    return Parent(os.getpid(), fits_run(), cli_running())


def call_in_worker(parent: Parent, fn: Callable[..., T], *args: Any) -> tuple[T, list[WarningRecord]]:
    """``call_recording(fn, *args)`` in a joblib worker process of ``parent`` (``parent_context()`` of the process
    that runs the ``Parallel``), with its state: the worker ends with it, shows its fits as it would and says its
    words (``Parent``)."""
    from featcache.errors import cli_words
    from featcache.progress import showing_fits

    watch_parent(parent.pid)
    with cli_words() if parent.cli else contextlib.nullcontext(), showing_fits(parent.fits_run is not None,
                                                                              run=parent.fits_run):
        return call_recording(fn, *args)


def replay(records: Iterable[WarningRecord], seen: set[tuple[type, str]]) -> None:
    """Warn again, in this process, what a worker recorded (``call_recording``), each distinct message once per run
    (``seen``, kept by the caller): as one process shows a repeated warning from one place once. featcache's own
    are named at the caller's line (``errors.warn``), as the same call without workers names them; the worker's line
    was its process's outermost frame's (joblib's)."""
    for message, category, filename, lineno in records:
        if (category, message) not in seen:
            seen.add((category, message))
            if category.__module__.startswith("featcache"):
                warn(message, category)
            else:
                warnings.warn_explicit(message, category, filename, lineno)
