"""A progress bar for featcache's long loops: extraction's batches, a curve's fits, a probe's grid, a folder scan.

It looks like ``keras.utils.Progbar`` but does not import TensorFlow, which
costs about 3 s: a learning curve or probe of scikit-learn heads never needs it,
and a parallel curve's parent process would otherwise load it before its
workers start. Keras's own bar also writes ``\\r`` redraws and ANSI colour codes
into redirected logs; this one writes those only to a terminal.

Use: ``bar = Progress(total, unit="image")``, then ``bar.update(done)`` or
``bar.add(n)`` (optionally ``values=[("acc", 0.81)]``).
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Sequence

WIDTH = 30
# Off a terminal (a log file, CI, a pipe): a line each time another tenth of
# the work is done, or after this many seconds without one, and at the end;
# at most about a dozen lines for any loop, and a slow one still shows it is alive.
LOG_STEPS = 10
LOG_INTERVAL = 60.0


def is_terminal(stream: IO[str]) -> bool:
    """Whether ``stream`` is an interactive terminal that understands ``\\r`` (not TERM=dumb)."""
    return bool(getattr(stream, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"


class Progress:
    """``current/total [=====>....] - ETA: 12s - acc: 0.8123``: redrawn in place on a terminal, plain lines elsewhere.

    On a terminal the line is redrawn with ``\\r`` at most every ``interval``
    seconds. Elsewhere each update that completes another tenth of the work
    (``LOG_STEPS``) or comes ``log_interval`` seconds after the last line
    writes one plain line, and the end writes the last; never a ``\\r``.
    """

    def __init__(self, total: int, unit: str = "step", stream: IO[str] | None = None,
                 interval: float = 0.1, log_interval: float = LOG_INTERVAL):
        self.total = max(int(total), 0)
        self.unit = unit
        self.stream = stream if stream is not None else sys.stdout
        self.interactive = is_terminal(self.stream)
        self.interval = interval
        self.log_interval = log_interval
        self.current = 0
        self.start = time.monotonic()
        self._last = float("-inf")
        self._step = -1  # the last tenth logged (off a terminal)
        self._ended = False

    def add(self, n: int = 1, values: Sequence[tuple[str, float]] = ()) -> None:
        self.update(self.current + n, values)

    def update(self, current: int, values: Sequence[tuple[str, float]] = ()) -> None:
        self.current = min(max(int(current), 0), self.total)
        if self._ended:
            return
        now = time.monotonic()
        done = self.current >= self.total
        if not done and not self._due(now):
            return
        self._last = now
        if self.stream is None:  # started with standard output closed (>&-): print() writes nothing, nor do we
            self._ended = done
            return
        line = self._line(now - self.start, values)
        if self.interactive:
            self.stream.write("\r" + line + ("\n" if done else ""))
        else:
            self.stream.write(line + "\n")
        self._ended = done
        self.stream.flush()

    def _due(self, now: float) -> bool:
        if self.interactive:
            return now - self._last >= self.interval
        step = self.current * LOG_STEPS // max(self.total, 1)
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
        elif n:
            timing = f"ETA: {elapsed / n * (total - n):.0f}s"
        else:
            timing = f"{elapsed:.0f}s"
        extra = "".join(f" - {k}: {v:.4f}" for k, v in values)
        digits = len(str(self.total))
        return f"{n:>{digits}}/{self.total} [{bar}] - {timing}{extra}"


def rate(n: int, seconds: float, unit: str) -> str:
    """``0.25s/fit`` for slow units, ``238 images/s`` for fast ones (at 238 images/s it said ``0.00s/image``)."""
    if n and seconds >= 0.1 * n:
        return f"{seconds / n:.2f}s/{unit}"
    return f"{n / seconds:.0f} {unit}s/s" if seconds > 0.001 else f"{n} {unit}s"
