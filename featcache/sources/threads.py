"""A thread pool whose threads never hold the process's exit: the decoding and hashing threads of photo folders.

``concurrent.futures.ThreadPoolExecutor`` joins its threads when Python exits (an atexit hook of its own, whatever
``shutdown`` was told), so a program calling the API (``featcache.extract(PhotoFolder(...))``) that was interrupted
while one of them was stuck in a read no signal reaches (a photo on a stalled network mount) never exited: the CLI
ends such a process after a few seconds (``cli._end_anyway``), a Python caller's interpreter waited forever. These
threads are daemon threads, and nothing joins them: the interpreter exits at once, as it does for the engine's
reader (``engines.local.read_ahead``). Work is queued and run as the executor runs it (``Future``s, in order).
"""

from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable, Iterable, Iterator


class DaemonPool:
    """``workers`` daemon threads named ``name``-N, started at the first ``submit``; ``map`` as the executor's."""

    def __init__(self, workers: int, name: str) -> None:
        self.workers = max(1, workers)
        self.name = name
        self.pid = os.getpid()  # a forked child inherits this object but none of its threads: it needs a pool of its own
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self._started = False
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        self._work.put((future, fn, args))
        self._start()
        return future

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """``fn`` of each of ``items``, all submitted now, the results in their order; an error is raised in its place.
        Stopped early (an error, an interrupt, ``close()``), what has not started is cancelled, as the executor's."""
        futures = [self.submit(fn, item) for item in items]

        def results() -> Iterator[Any]:
            try:
                futures.reverse()
                while futures:
                    yield futures.pop().result()
            finally:
                for future in futures:
                    future.cancel()

        return results()

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            for i in range(self.workers):
                threading.Thread(target=_work, args=(self._work,), name=f"{self.name}-{i}", daemon=True).start()
            self._started = True


def _work(work: queue.SimpleQueue) -> None:
    """A pool thread: run what is queued, for as long as the process lives."""
    while True:
        future, fn, args = work.get()
        if not future.set_running_or_notify_cancel():
            continue
        try:
            result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - raised where the result is asked for, as the executor does
            future.set_exception(exc)
        else:
            future.set_result(result)
        del future, fn, args  # nothing of a finished task (its arrays) is kept while the thread waits
