"""A progress bar for featcache's long loops: extraction's batches, a curve's fits, a probe's grid, a folder scan,
the epochs of a Keras fit (``epoch_progress``); and a ``heartbeat`` for a blocking call with no progress of its own.

It writes to standard error, every command's alike: standard output is the
command's results (a summary line, a table, ``--json``), so ``> file`` keeps
them apart and the bar still shows on the terminal.

It looks like ``keras.utils.Progbar`` but does not import TensorFlow, which
costs about 3 s: a learning curve or probe of scikit-learn heads never needs it,
and a parallel curve's parent process would otherwise load it before its
workers start. Keras's own bar also writes ``\\r`` redraws and ANSI colour codes
into redirected logs; this one writes those only to a terminal.

Use: ``bar = Progress(total, unit="image")``, then ``bar.update(done)`` or
``bar.add(n)`` (optionally ``values=[("acc", 0.81)]``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterator, Mapping, Sequence

WIDTH = 30
# Off a terminal (a log file, CI, a pipe): a line each time another tenth of
# the work is done, or after this many seconds without one, and at the end;
# at most about a dozen lines for any loop, and a slow one still shows it is alive.
LOG_STEPS = 10
LOG_INTERVAL = 60.0


# FEATCACHE_PROGRESS=off (or 0, no, false) draws no bar at all, as tqdm's TQDM_DISABLE or pip's --progress-bar off:
# for scripts that read a command's standard error, and for the tests, which check that an error is one line.
PROGRESS_ENV = "FEATCACHE_PROGRESS"


def progress_off() -> bool:
    """Whether the environment turns every progress bar off (``FEATCACHE_PROGRESS=off``)."""
    return os.environ.get(PROGRESS_ENV, "").strip().lower() in ("off", "0", "no", "false")


# --json runs a command without its text (standard output is the JSON alone), but long work still draws its bars on
# standard error: 'extract --json > out.json' over 70,000 images ran five minutes without a line (docs/cli.md
# promised that '> file' keeps the results and the terminal still shows the progress).
_BARS_WHEN_QUIET: ContextVar[bool] = ContextVar("featcache_bars_when_quiet", default=False)


@contextlib.contextmanager
def _switched_on(flag: ContextVar[bool]) -> Iterator[None]:
    """``flag`` True within the block (the one home of both switches below)."""
    token = flag.set(True)
    try:
        yield
    finally:
        flag.reset(token)


def bars_when_quiet() -> contextlib.AbstractContextManager[None]:
    """Within it, work run with ``verbose=False`` still draws its progress bars (``bars_wanted``), and says on stderr
    what a network's preparation is doing (extract's, predict's and export's status lines): the CLI's --json."""
    return _switched_on(_BARS_WHEN_QUIET)


def bars_wanted(verbose: object) -> bool:
    """Whether a loop run with ``verbose`` draws its bar: when verbose, or within ``bars_when_quiet``."""
    return bool(verbose) or _BARS_WHEN_QUIET.get()


# Status lines from deep inside a step a command shows (``say``): a model conversion, 8-20 s the first time (up to a
# minute under load), ran inside "preparing the network ..." without a word (a new-user tester waited 20 s).
_STATUS: ContextVar[bool] = ContextVar("featcache_status_lines", default=False)


def status_lines() -> contextlib.AbstractContextManager[None]:
    """Within it, ``say`` prints: a verbose command's steps (extraction's network build)."""
    return _switched_on(_STATUS)


def say(line: str) -> None:
    """A ``status`` line, within ``status_lines`` only."""
    if _STATUS.get():
        status(line)


def status(line: str) -> None:
    """A status line (what a command is doing: "extracting ...", "hashing ...", "training ..."): on standard error,
    with the progress bars; standard output is the command's results alone. The one home of that rule: status lines
    went to stdout, so 'extract > log' caught them among the results and '| grep' read them as results (a new-user
    tester; docs/cli.md said progress goes to stderr).

    Standard output is flushed first, so a log of both (2>&1) keeps the order they were said in (as ``Progress``).
    Nothing with ``FEATCACHE_PROGRESS=off`` (they are the progress of a command, as its bars: a script reading
    stderr gets its errors alone), nor when stderr is closed (2>&-) or failing (2>/dev/full): the work goes on."""
    if not progress_off():
        note(line)


def note(line: str) -> None:
    """A line worth knowing that is not a result (the files an extraction skipped): on standard error as ``status``
    says, but with ``FEATCACHE_PROGRESS=off`` too, which turns off progress, not what a user must know.

    A path's bytes that are not UTF-8 are written as ``\\xHH`` (``errors.printable``), as the skipped files' listing
    and standard output's lines write them: 'predict --csv pp<0xff>.csv' said "predictions -> pp\\udcff.csv" below a
    listing that wrote the same byte as \\xff (an adversarial tester), and a stream that encodes strictly (pytest's
    capture, a program's own stderr) dropped such a line."""
    # Only a line that is not ASCII can hold such bytes; an ASCII one imports nothing: the line of a Ctrl-C while
    # featcache.errors itself was being imported comes through here.
    if not line.isascii():
        from featcache.errors import printable

        line = printable(line)
    with contextlib.suppress(OSError, ValueError, AttributeError):  # stdout closed or failing: print() says so
        sys.stdout.flush()
    if sys.stderr is None:  # print(file=None) would write it to standard output
        return
    # a bar drawn in place on this terminal is left mid-line: the line starts below it, the bar redraws after it
    # (predict's '0/400 [....] - 0s' had the conversion's notice run on after it; h145)
    start = "\n" if _OPEN_LINE.pop(id(sys.stderr), False) else ""
    with contextlib.suppress(OSError, ValueError):
        print(start + line, file=sys.stderr, flush=True)


# What the running command has written whole, for the line an interrupt ends it with (cli._main): Ctrl-C while
# predict printed its rows said "nothing was saved" of a --csv written completely before (an adversarial tester), and
# train and export, interrupted between saving their file and printing its line, said the same of a file complete on
# disk (a session's note). Here, not in the CLI: train, export and predict say it right after the save, where the API knows.
# None outside a command (``collecting_outputs``, which cli.main runs each command in): a notebook's calls keep no
# list. A context variable, not one process-wide list: that list stayed [] after a cli.main, so an API train on
# another thread while a command ran was named in that command's interrupt line (a reviewer, 2026-12-06).
_complete: ContextVar[list[str] | None] = ContextVar("featcache_complete_outputs", default=None)


def written(what: str) -> None:
    """Say that ``what`` (e.g. "the predictions CSV p.csv") is written whole: an interrupt after this names it."""
    said = _complete.get()
    if said is not None:
        said.append(what)


@contextlib.contextmanager
def collecting_outputs() -> Iterator[None]:
    """Within it (a command, ``cli.main``), what this context says is written whole (``written``) is collected anew,
    for ``complete_outputs``; after it, nothing is (a call before or after a command, or on another thread)."""
    token = _complete.set([])
    try:
        yield
    finally:
        _complete.reset(token)


def complete_outputs() -> list[str]:
    """What the running command has said is written whole (``written``; none outside ``collecting_outputs``)."""
    return list(_complete.get() or [])


# The streams (by id) a bar is drawn on in place, mid-line, its line not ended yet (``note`` ends it first).
_OPEN_LINE: dict[int, bool] = {}


def end_open_line() -> None:
    """End the line a bar left open on standard error (drawn in place), so that what is written next (a warning
    Python shows, ``errors.warn``) starts on a line of its own, as ``note`` starts its line; the bar redraws below."""
    if _OPEN_LINE.pop(id(sys.stderr), False) and sys.stderr is not None:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write("\n")
            sys.stderr.flush()


@contextlib.contextmanager
def steps_as_status() -> Iterator[None]:
    """Within it, lines printed to standard output go to standard error, where status lines go: the steps of a
    command whose result is a report printed after them (lesson's extraction, heads and probes, each with its own result
    line, were on stdout before its report; a new-user tester)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stdout.flush()
    with contextlib.redirect_stdout(sys.stderr):
        yield


def is_tty(stream: object) -> bool:
    """Whether ``stream`` is a terminal someone reads, TERM=dumb too (evaluate's stdout: its result holds the leakage
    line there, so the warning is not said twice). The one home of the isatty test: evaluate had a copy (a review),
    and ``is_terminal``'s own raised ValueError on a closed stream, which this says is none."""
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):  # None (started with 1>&-), closed, or no file at all
        return False


def is_terminal(stream: IO[str] | None) -> bool:
    """Whether ``stream`` is an interactive terminal that understands ``\\r`` (``is_tty``, and not TERM=dumb)."""
    return is_tty(stream) and os.environ.get("TERM") != "dumb"


class Progress:
    """``current/total [=====>....] - ETA: 12s - acc: 0.8123``: redrawn in place on a terminal, plain lines elsewhere.

    On a terminal the line is redrawn with ``\\r`` at most every ``interval``
    seconds. Elsewhere each update that completes another ``1/log_steps`` of
    the work or comes ``log_interval`` seconds after the last line writes one
    plain line, and the end writes the last; never a ``\\r``. ``stream``
    defaults to standard error; ``label`` starts every line (``epoch 2/5``).
    ``FEATCACHE_PROGRESS=off`` in the environment draws nothing.
    """

    def __init__(self, total: int, unit: str = "step", stream: IO[str] | None = None,
                 interval: float = 0.1, log_interval: float = LOG_INTERVAL, label: str = "", log_steps: int = LOG_STEPS,
                 quiet_seconds: float = 0.0, first_step_eta: bool = False, eta: bool = True):
        self.total = max(int(total), 0)
        self.unit = unit
        # None when the program started with stderr closed (2>&-): then nothing is drawn, as print() writes nothing
        self.stream = None if progress_off() else stream if stream is not None else sys.stderr
        self.interactive = is_terminal(self.stream)
        self.interval = interval
        self.log_interval = log_interval
        self.label = label
        self.log_steps = max(int(log_steps), 1)
        # Off a terminal, no line before this many seconds but the last: hashing 400 photos wrote 7 lines in 0 s
        # (a new-user tester); a loop that may be long or short (a folder's scan) is one line when it is short.
        self.quiet_seconds = quiet_seconds
        self.current = 0
        self.start = time.monotonic()
        self._last = float("-inf")
        self._step = -1  # the last tenth logged (off a terminal)
        # (time, count) at the first step done: the ETA runs from there, so a start-up before it (Ray's workers, a
        # model built, a conversion loaded) is not spread over the rest of the work. Ray's first estimate said 523 s
        # of a 22 s run (a new-user tester).
        self._first: tuple[float, int] | None = None
        # An epoch's bar off a terminal is its first batch and its end: that first line's ETA is the point of it,
        # and no start-up precedes an epoch's first batch but the first epoch's tracing.
        self.first_step_eta = first_step_eta
        # No ETA where the total is a bound, not the work: a fit with early stopping, whose 200 epochs said 48 s for a
        # fit that stopped near 40 in 13.5 s (a new-user tester); the elapsed time instead.
        self.eta = eta
        self._ended = False

    def leave_out(self, seconds: float) -> None:
        """Count ``seconds`` of the time so far as a start-up, not the work's: out of the total and rate the last line
        says. Ray's 16.4 s start-up made its bar say 40 images/s above extract's 291 (a reviewer, 2026-12-05)."""
        self.start += max(float(seconds or 0.0), 0.0)

    def add(self, n: int = 1, values: Sequence[tuple[str, float]] = ()) -> None:
        self.update(self.current + n, values)

    def update(self, current: int, values: Sequence[tuple[str, float]] = ()) -> None:
        self.current = min(max(int(current), 0), self.total)
        if self._ended:
            return
        now = time.monotonic()
        if self._first is None and self.current > 0:
            self._first = (now, self.current)
        done = self.current >= self.total
        if not done and not self._due(now):
            return
        self._last = now
        self._ended = done
        if self.stream is not None:
            line = self._line(now - self.start, values)
            self._write("\r" + line + ("\n" if done else "") if self.interactive else line + "\n")
            if self.interactive:
                _OPEN_LINE[id(self.stream)] = not done

    def _write(self, text: str) -> None:
        # What the command printed before this line comes before it where both streams go to one log (2>&1):
        # standard output to a file is block-buffered, this stream is flushed at once.
        with contextlib.suppress(OSError, ValueError, AttributeError):  # stdout closed or failing: print() says so
            sys.stdout.flush()
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # stderr full or gone (2>/dev/full): the work goes on, undrawn
            self.stream = None

    def _due(self, now: float) -> bool:
        if self.interactive:
            return now - self._last >= self.interval
        if now - self.start < self.quiet_seconds:
            return False
        step = self.current * self.log_steps // max(self.total, 1)
        if step > self._step or now - self._last >= self.log_interval:
            self._step = step
            return True
        return False

    def _line(self, elapsed: float, values: Sequence[tuple[str, float]]) -> str:
        n, total = self.current, max(self.total, 1)
        filled = int(WIDTH * n / total)
        bar = "=" * filled + (">" if n < total else "") + "." * (WIDTH - filled - (n < total))
        if n >= total:
            timing = f"{elapsed:.0f}s total, {rate(n, elapsed, self.unit)}"
        elif not self.eta:
            timing = f"{elapsed:.0f}s"
        elif self._first is not None and n > self._first[1]:  # the rate since the first step: start-up left out
            since, first = self.start + elapsed - self._first[0], self._first[1]
            timing = f"ETA: {since / (n - first) * (total - n):.0f}s"
        elif n and self.first_step_eta:
            timing = f"ETA: {elapsed / n * (total - n):.0f}s"
        else:  # nothing done yet, or only the first step, whose time holds the start-up: no rate to tell an ETA by
            timing = f"{elapsed:.0f}s"
        extra = "".join(f" - {k}: {v:.4f}" for k, v in values)
        digits = len(str(self.total))
        label = f"{self.label} " if self.label else ""
        return f"{label}{n:>{digits}}/{self.total} [{bar}] - {timing}{extra}"


# An SVM's fit (libsvm, no callback) ran without a line: 4,000 images 19.6 s, 8,000 87.6 s, and 60,000 would be silent
# for over an hour (a new-user tester). A ``heartbeat`` says a blocking call is still running, this often on a
# terminal; off one, every ``LOG_INTERVAL``, the pace of every log line (it wrote twice as often; a reviewer, 2026-12-05).
HEARTBEAT_EVERY = 30.0


@contextlib.contextmanager
def heartbeat(what: str, every: float | None = None, stream: IO[str] | None = None,
              in_place: bool = True) -> Iterator[None]:
    """While the block runs, ``svm fit: still running, 30 s`` every ``every`` seconds (``HEARTBEAT_EVERY`` on a
    terminal, ``LOG_INTERVAL`` elsewhere) from a thread: for a blocking call that reports no progress of its own (a
    scikit-learn fit). Redrawn in place on a terminal and wiped at the end, plain lines elsewhere; nothing with
    ``FEATCACHE_PROGRESS=off``. ``in_place=False``: whole lines on a terminal too, at a log's pace, each drawn over
    the line it starts on (``_whole_line``), for a process that shares the terminal with another's bar (a curve's or
    probe's worker under --jobs, whose parent draws the fits' bar)."""
    out = None if progress_off() else stream if stream is not None else sys.stderr
    if out is None:
        yield
        return
    bar = Progress(1, stream=out)  # its writing rules: stdout flushed first, a failing stream dropped
    redrawn = bar.interactive and in_place
    every = (HEARTBEAT_EVERY if redrawn else LOG_INTERVAL) if every is None else every
    start, done, drawn = time.monotonic(), threading.Event(), [0]

    def beat() -> None:
        while not done.wait(every):
            line = f"{what}: still running, {time.monotonic() - start:.0f} s"
            if not redrawn:
                bar._write(_whole_line(line, bar.interactive))
            else:
                # a bar left mid-line (a curve's or probe's, counting the fits) stays whole above: the first line
                # starts below it, as a note does (drawn over it, its end showed after the shorter line)
                below = "\n" if not drawn[0] and _OPEN_LINE.get(id(out)) else ""
                bar._write(f"{below}\r{line}")
                drawn[0] = max(drawn[0], len(line))
                # Left mid-line, as a bar's: a note starts below it. "still running, 0 s" had "featcache train: note: ..."
                # run on after it on a terminal (a reviewer, 2026-12-05).
                _OPEN_LINE[id(out)] = True
            if bar.stream is None:
                return

    thread = threading.Thread(target=beat, name="featcache-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        if drawn[0] and bar.stream is not None:  # the result line follows on a clean line
            bar._write("\r" + " " * drawn[0] + "\r")
        if drawn[0]:  # wiped (or its stream gone): no line left open
            _OPEN_LINE.pop(id(out), None)


def _whole_line(line: str, terminal: bool) -> str:
    """``line`` ended, for a stream another process may have left mid-line: on a terminal it starts at the line's
    beginning and covers its width (the other's bar, drawn in place, then shows on the next line)."""
    if not terminal:
        return line + "\n"
    import shutil

    return "\r" + line.ljust(shutil.get_terminal_size().columns - 1) + "\n"


# Long fits inside every command, not train's alone: a curve's or probe's SVM fit, and the lesson's views row, ran
# minutes with nothing on screen (their bars move only between fits). Within ``showing_fits`` every head's fit
# (``heads.views.fit_head``, the one call all of them go through) and its scoring say so: ``fit_progress``.
@dataclass
class _FitsShown:
    in_place: bool  # heartbeats redrawn in place on a terminal (False: a worker process; ``heartbeat``)
    run: str = field(default_factory=lambda: f"{os.getpid()}-{time.monotonic_ns()}")  # which command's run
    noted: dict[str, int] = field(default_factory=dict)  # the most rows each head's slow-fit note was said for
    said: set[tuple[type, str]] = field(default_factory=set)  # the fit notes said in this run (``fit_note``: once each)


@dataclass(frozen=True)
class FitsRun:
    """What a command passes its worker processes (curve's and probe's --jobs; ``fits_run``): which run they work
    for, and the slow-fit notes it said before it handed them the fits (``slow_fit_note``: the most rows each head's
    was said for), which a worker then does not say again."""

    run: str
    noted: tuple[tuple[str, int], ...] = ()


_FITS_SHOWN: ContextVar[_FitsShown | None] = ContextVar("featcache_fits_shown", default=None)
_WORKER_RUN: list[_FitsShown] = []  # in a worker process, the run it last worked for: its notes said once, not per task


@contextlib.contextmanager
def showing_fits(wanted: bool = True, *, epochs: bool = False, run: FitsRun | None = None) -> Iterator[None]:
    """Within it (when ``wanted``), a head's fit shows that it runs (``fit_progress``): a line every so often while
    it runs, and a note before one whose time grows past minutes (the SVM's on many rows). ``epochs``: a Keras fit
    draws one bar over its epochs instead (``epochs_bar``; train's one fit; a curve's many fits have a bar of their
    own). Train, curve, probe and the lesson use it with ``bars_wanted(verbose)``.

    ``run``: in a worker process (curve's and probe's --jobs), the ``fits_run`` of the command it works for: its
    heartbeats are whole lines (``heartbeat``'s ``in_place``; the command's bar is drawn by another process), and
    the notes the command said are not said again."""
    if not wanted:
        yield
        return
    if run is None:
        shown = _FitsShown(in_place=True)
    else:
        if not _WORKER_RUN or _WORKER_RUN[0].run != run.run:
            _WORKER_RUN[:] = [_FitsShown(in_place=False, run=run.run)]
        shown = _WORKER_RUN[0]
        for what, rows in run.noted:
            shown.noted[what] = max(rows, shown.noted.get(what, 0))
    token = _FITS_SHOWN.set(shown)
    try:
        with epochs_bar() if epochs else contextlib.nullcontext():
            yield
    finally:
        _FITS_SHOWN.reset(token)


def fits_shown() -> bool:
    """Whether this runs within ``showing_fits``: a command run verbose (or the CLI) shows its fits, and a fit's notes
    (the Keras head's stratified validation rows) are said; a quiet call says none."""
    return _FITS_SHOWN.get() is not None


# The longest a fit's note (``fit_note``, a head's ``fit_time_note``) runs: two short lines. They are said between a
# curve's or probe's bar redraws, where the SVM's 450 characters and the Keras head's 290 took 4-6 rows of a terminal
# (a tester, h319's brief).
NOTE_CHARS = 170


def fit_note(message: str, category: type[Warning], *, anyway: bool = False) -> None:
    """Say ``message``, a fit's note (a warning of ``category``, whose ``label`` is "note": the CLI's ``note:``),
    where the fit is shown (``fits_shown``; ``anyway``: a head asked to be verbose), named at the caller's line
    (``errors.warn``), each note once within one run (``showing_fits``); a quiet call says nothing. The one home of
    that rule: each note's site checked it (the Keras head's stratified validation rows, a head's fewer folds)."""
    shown = _FITS_SHOWN.get()
    if not (anyway or shown is not None):
        return
    if shown is not None:
        # once per run, as the CLI says each line once: a curve's or probe's fits say the same note each, and Python's
        # own once-per-line registry is reset by every catch_warnings block between them (the solver's), so a
        # verbose curve(...) said one note 6 times in a notebook
        if (category, message) in shown.said:
            return
        shown.said.add((category, message))
    from featcache.errors import warn

    warn(message, category)


def fits_run() -> FitsRun | None:
    """The run of the ``showing_fits`` this is within and the notes said in it (None: none), which a command passes
    to its worker processes: read after ``slow_fit_note`` has said the notes of the fits it hands them."""
    shown = _FITS_SHOWN.get()
    return None if shown is None else FitsRun(shown.run, tuple(shown.noted.items()))


def fit_progress(what: str, slow_note: Callable[[int], str | None] | None = None, rows: int = 0,
                 own_epochs: bool = False) -> contextlib.AbstractContextManager[None]:
    """What a fit (or scoring) of ``what`` (``svm head``) on ``rows`` rows shows within ``showing_fits``, nothing
    outside it: first ``slow_note(rows)`` (a head's ``fit_time_note``: its warning that this fit takes long, or None)
    unless one of ``what`` was said for as many rows already (a curve's fits at growing sizes: once per new largest,
    not once per seed), then a ``heartbeat`` while it runs. ``own_epochs``: a Keras fit, which within ``epochs_bar``
    draws its own bar instead."""
    shown = _FITS_SHOWN.get()
    if shown is None:
        return contextlib.nullcontext()
    slow_fit_note(what, slow_note, rows)
    if own_epochs and _EPOCHS_BAR.get():
        return contextlib.nullcontext()
    return heartbeat(what, in_place=shown.in_place)


def slow_fit_note(what: str, slow_note: Callable[[int], str | None] | None, rows: int) -> None:
    """Within ``showing_fits``, say ``slow_note(rows)`` (a head's ``fit_time_note``: its warning that its fit of
    ``what`` on ``rows`` rows takes long, or None) unless one of ``what`` was said for as many rows in this run
    already; nothing outside it, where the note is not even built.

    ``fit_progress`` says it before each fit. A command that hands its fits to worker processes (curve's and probe's
    --jobs) says it first for the largest fit of each head (``heads.views.say_slow_fit_notes``): each worker kept a
    record of its own, so the note came once per worker, up to --jobs times (a reviewer, 2026-12-05)."""
    shown = _FITS_SHOWN.get()
    if shown is None or slow_note is None or rows <= shown.noted.get(what, 0):
        return
    if (note := slow_note(rows)) is None:
        return
    shown.noted[what] = rows
    if shown.in_place:
        status(note)
    elif not progress_off() and sys.stderr is not None:  # a worker's: a whole line, as its heartbeat's
        writer = Progress(1)  # its writing rules: stdout flushed first, a failing stream dropped
        writer._write(_whole_line(note, writer.interactive))


# train's own Keras fit (up to 200 epochs with early stopping) ran 20 s to minutes without a line (a new-user tester);
# a bar per epoch would be two lines an epoch off a terminal. Within ``epochs_bar`` a quiet fit draws one bar over its
# epochs instead (``epoch_progress``).
_EPOCHS_BAR: ContextVar[bool] = ContextVar("featcache_epochs_bar", default=False)


def epochs_bar() -> contextlib.AbstractContextManager[None]:
    """Within it, a Keras fit run with ``verbose=0`` draws one ``Progress`` over its epochs (``epoch_progress``)."""
    return _switched_on(_EPOCHS_BAR)


def epoch_progress(verbose: object = True, stream: IO[str] | None = None, early_stopping: bool = False) -> list[Any]:
    """The callbacks a Keras ``fit`` shows its progress with (fit with ``verbose=0``): none unless ``verbose``, else
    one drawing each epoch as a ``Progress`` of its batches, labelled ``epoch 2/5``, with the epoch's loss and
    metrics (validation ones on its last line).

    Keras's own bar (verbose 1 or 2) writes to standard output, among the results, and ``\\r`` redraws into logs
    (verbose 1). Off a terminal an epoch is two lines, its first batch (the ETA) and its end, and one a minute
    between: a dozen lines an epoch would bury a fit of many short epochs.
    ``early_stopping``: the fit may end before its epochs (``epochs_bar`` then says "at most", without an ETA).
    """
    if not verbose:  # not bars_wanted: heads fit quietly inside train, curve, probe and lesson, --json or not (a review)
        return _epochs_bar(stream, early_stopping) if _EPOCHS_BAR.get() else []
    from featcache._lazy import keras

    class EpochProgress(keras().callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
            # Keras knows the batches an epoch has for arrays and sized datasets, all featcache fits; else one step.
            steps = self.params.get("steps") or 1
            self.bar = Progress(steps, unit="batch", stream=stream, label=f"epoch {epoch + 1}/{self.params.get('epochs')}",
                                log_steps=1, first_step_eta=True)

        def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
            if batch + 1 < self.bar.total:  # the last line waits for the epoch's end and its validation scores
                self.bar.update(batch + 1, _scores(logs))

        def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
            self.bar.update(self.bar.total, _scores(logs))

    return [EpochProgress()]


def evaluate_progress(verbose: object = True, label: str = "scoring", stream: IO[str] | None = None) -> list[Any]:
    """The callbacks a Keras ``evaluate`` (with ``verbose=0``) shows its batches with: none unless ``verbose``.

    finetune scored the frozen head on 3,800 images, and the fine-tuned model on 3,000, in 30-40 s without a line
    (a new-user tester)."""
    if not verbose:
        return []
    from featcache._lazy import keras

    class EvaluateProgress(keras().callbacks.Callback):
        def on_test_begin(self, logs: Mapping[str, Any] | None = None) -> None:
            self.bar = Progress(self.params.get("steps") or 1, unit="batch", stream=stream, label=label)

        def on_test_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
            self.bar.update(batch + 1)

        def on_test_end(self, logs: Mapping[str, Any] | None = None) -> None:
            self.bar.update(self.bar.total)

    return [EvaluateProgress()]


def _epochs_bar(stream: IO[str] | None, early_stopping: bool = False) -> list[Any]:
    """One bar over a fit's epochs, with the last epoch's scores; a fit stopped early ends its bar there, saying so.
    With ``early_stopping`` the epochs are a bound: the bar says "at most" and shows the time so far, not an ETA."""
    from featcache._lazy import keras

    class EpochsBar(keras().callbacks.Callback):
        def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
            self.bar = Progress(int(self.params.get("epochs") or 1), unit="epoch", stream=stream, eta=not early_stopping,
                                label="epochs (early stopping: at most)" if early_stopping else "epochs")

        def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
            self.last = _scores(logs)
            self.bar.update(epoch + 1, self.last)

        def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
            if 0 < self.bar.current < self.bar.total:  # early stopping: the bar ends where training did
                self.bar.label = f"epochs (stopped early at {self.bar.current} of {self.bar.total})"
                self.bar.total = self.bar.current
                self.bar.update(self.bar.current, self.last)

    return [EpochsBar()]


def _scores(logs: Mapping[str, Any] | None) -> list[tuple[str, float]]:
    """Keras's logs (``loss``, ``accuracy``, ``val_loss`` ...) as ``Progress`` values, numbers only."""
    scores = []
    for key, value in (logs or {}).items():
        with contextlib.suppress(TypeError, ValueError):
            scores.append((key, float(value)))
    return scores


def seconds_text(seconds: float) -> str:
    """``6.2 s``, or ``394 ms`` under 0.05 s (not "0.0 s"): a time as train says it, and info (which said a head's
    fit_seconds 6.1670, in the accuracies' format; a reviewer, 2026-12-05)."""
    return f"{seconds:.1f} s" if seconds >= 0.05 else f"{seconds * 1000:.0f} ms"


# Units said as a throughput however slow: extract's summary says images/s, and predict's and evaluate's bars said
# "0.15s/image" under load for the same photos (a new-user tester comparing them, 2026-12-06).
THROUGHPUT_UNITS = ("image",)


def rate(n: int, seconds: float, unit: str) -> str:
    """``0.25s/fit`` for slow units, ``238 images/s`` for fast ones (at 238 images/s it said ``0.00s/image``);
    images always per second (``THROUGHPUT_UNITS``), with a decimal under 10/s: ``6.7 images/s``."""
    if seconds <= 0.001:
        return f"{n} {plural(unit)}"
    if n and seconds >= 0.1 * n and unit not in THROUGHPUT_UNITS:
        return f"{seconds / n:.2f}s/{unit}"
    per_s = n / seconds
    return f"{per_s:.1f} {plural(unit)}/s" if 0 < per_s < 10 else f"{per_s:.0f} {plural(unit)}/s"


def epochs_text(n: Any) -> str:
    """``1 epoch``, ``5 epochs`` (a legend said "from-scratch CNN (1 epochs)"; a new-user tester)."""
    return counted(n, "epoch")


def counted(n: Any, unit: str) -> str:
    """``1 point``, ``3 points``: a count and its unit in agreement (curve said "1 points"; a new-user tester). The
    one way a message counts: extract's summary said "2 file(s) skipped" where predict's said "1 image file skipped"
    (a session's brief, 2026-12-06); no message spells "(s)"."""
    return f"{n} {unit if n == 1 else plural(unit)}"


def named(unit: str, names: Sequence[Any]) -> str:
    """``view flip``, ``views flip, shift:+2,+2``: a unit in agreement with the names that follow it, as ``counted``
    makes a count (a message said "view(s) flip")."""
    return f"{unit if len(names) == 1 else plural(unit)} {', '.join(map(str, names))}"


def agreeing(n: Any, one: str, more: str) -> str:
    """``one`` for a count of 1, ``more`` for any other: the words after a count that agree with it (``counted``'s
    ``"1 file"`` is followed by ``"that is not a readable image"``, ``"2 files"`` by ``"that are not ..."``)."""
    return one if n == 1 else more


def size_text(n: int) -> str:
    """A file's size in a message: ``512 MB``, ``512.5 MB`` from 1 MB (MiB, as the size limits are set), ``1,300
    bytes`` below (a lowered limit of a photo's size said "0 MB is too large")."""
    if n < 2**20:
        return "1 byte" if n == 1 else f"{n:,} bytes"
    return f"{n / 2**20:.1f}".removesuffix(".0") + " MB"


def plural(unit: str) -> str:
    """``image`` -> ``images``, ``batch`` -> ``batches`` (the scratch CNN's bar said '19 batchs/s'; a new user),
    ``epoch`` -> ``epochs`` (its "ch" said as "k": info said "2 epoches run"), ``copy`` -> ``copies`` (a consonant's
    y; ``day`` -> ``days``)."""
    if len(unit) > 1 and unit.endswith("y") and unit[-2] not in "aeiou":
        return unit[:-1] + "ies"
    return unit + ("es" if unit.endswith(("s", "sh", "ch", "x", "z")) and not unit.endswith("epoch") else "s")
