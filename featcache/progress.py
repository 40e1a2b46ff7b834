"""A progress bar for work outside Keras: a curve's fits, a probe's grid, a folder scan.

It looks like ``keras.utils.Progbar`` but does not import TensorFlow, which
costs about 3 s: a learning curve or probe of scikit-learn heads never needs it,
and a parallel curve's parent process would otherwise load it before its
workers start. Work that runs Keras anyway (extraction) keeps Keras's bar.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Sequence

WIDTH = 30


class Progress:
    """``current/total [=====>....] - ETA: 12s - acc: 0.8123``, redrawn in place on a terminal.

    Elsewhere (a log file, CI) it writes one line at most every
    ``log_interval`` seconds and one at the end, instead of a line per update.
    """

    def __init__(self, total: int, unit: str = "step", stream: IO[str] | None = None,
                 interval: float = 0.1, log_interval: float = 10.0):
        self.total = int(total)
        self.unit = unit
        self.stream = stream if stream is not None else sys.stdout
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if self.interactive else log_interval
        self.current = 0
        self.start = time.monotonic()
        self._last = float("-inf")

    def add(self, n: int = 1, values: Sequence[tuple[str, float]] = ()) -> None:
        self.update(self.current + n, values)

    def update(self, current: int, values: Sequence[tuple[str, float]] = ()) -> None:
        self.current = min(int(current), self.total)
        now = time.monotonic()
        done = self.current >= self.total
        if not done and now - self._last < self.interval:
            return
        self._last = now
        line = self._line(now - self.start, values)
        if self.interactive:
            self.stream.write("\r" + line + ("\n" if done else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def _line(self, elapsed: float, values: Sequence[tuple[str, float]]) -> str:
        n, total = self.current, max(self.total, 1)
        filled = int(WIDTH * n / total)
        bar = "=" * filled + (">" if n < total else "") + "." * (WIDTH - filled - (n < total))
        if n >= total:
            timing = f"{elapsed:.0f}s total, {elapsed / max(n, 1):.2f}s/{self.unit}"
        elif n:
            timing = f"ETA: {elapsed / n * (total - n):.0f}s"
        else:
            timing = f"{elapsed:.0f}s"
        extra = "".join(f" - {k}: {v:.4f}" for k, v in values)
        digits = len(str(self.total))
        return f"{n:>{digits}}/{self.total} [{bar}] - {timing}{extra}"
