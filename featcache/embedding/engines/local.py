"""Sequential engine: one process, reading ahead and writing behind in threads."""

from __future__ import annotations

import contextlib
import queue
import threading

from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as NotYet  # the builtin TimeoutError from 3.11, its own class in 3.10
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable, Iterator, Sequence, TypeVar

import numpy as np

from featcache.embedding.batches import Batch
from featcache.errors import carried
from featcache.embedding.engines import DEFAULT_RUNTIME, check_runtime

T = TypeVar("T")
# Batches read ahead of the one in use (``read_ahead``): extraction's and predict's; each a batch of images in memory
PREFETCH = 2


@dataclass(frozen=True)
class LocalEngine:
    """This process: reading ahead and writing behind in threads; ``runtime`` runs the network."""

    name: ClassVar[str] = "local"  # what extract's result names (ExtractResult.engine, --json "engine")
    runtime: str = DEFAULT_RUNTIME

    def __post_init__(self):
        check_runtime(self.runtime)

    def check(self) -> None:
        pass  # nothing to reach

    def run(self, batches: Sequence[Batch], read: Callable[[Batch], Any], make_embed: Callable, write: Callable) -> None:
        run(batches, read, make_embed, write)  # no start-up of its own: the network extract built is reused


def run(
    batches: Sequence[Batch],
    read: Callable[[Batch], Any],  # images, or a dict of row-aligned arrays, for the embed function as they are
    make_embed: Callable[[], Callable[[Any], dict[str, np.ndarray]]],
    write: Callable[[Batch, dict[str, np.ndarray]], None],
    prefetch: int = PREFETCH,
    write_behind: bool = True,
) -> None:
    """Read (and decode) the next batches, and write the previous one, while the current one is embedded.

    Writes stay in order on one thread, at most one behind: with many layers
    (``--layers blocks`` writes 6.5x the bytes of the final output alone) the
    HDF5 writes then overlap the forward pass instead of adding to it.
    """
    embed = make_embed()  # built once (the extraction has usually built it already)
    write = carried(write)  # on its thread in the caller's words (a command's flags); read_ahead carries the reads
    # closing: a failure ends the reads at once (read_ahead's finally), after the write in flight has ended
    with contextlib.closing(read_ahead(((b, read(b)) for b in batches), prefetch)) as reads:
        with ThreadPoolExecutor(max_workers=1) as writers:  # a write in flight ends before the file is closed
            _pipeline(reads, embed, write, write_behind, writers)


_END = object()
# How long the caller's thread waits at a time for a read or a write (``waited``). A signal that arrives just before
# that thread blocks on a lock (or is taken by another thread) sets Python's flag but does not wake the wait: its
# handler runs when the wait returns, and a wait with no limit on a read that never ends held SIGTERM and Ctrl-C
# forever (a hang seen once under load, 196cb16; test_images' extract, test_cli_faults' predict and evaluate).
WAKE_SECONDS = 0.1


def waited(future: Future) -> Any:
    """``future.result()``, waited for in steps of ``WAKE_SECONDS`` so that a signal's handler (Ctrl-C, SIGTERM) runs
    within one step."""
    while True:
        try:
            return future.result(timeout=WAKE_SECONDS)
        except NotYet:
            continue


def read_ahead(items: Iterable[T], depth: int = PREFETCH) -> Iterator[T]:
    """``items`` in their order, each one made on a reader thread while the caller works on the one before: at
    most ``depth`` made or in the making ahead of the one the caller holds (the memory bound, a few batches).

    The one home of reading ahead: extraction's batches (``run``) and predict's and evaluate's decoded files
    (``deploy.predict.predict_files``). ``items`` is pulled on that one thread only, in turn, so a generator
    serves; its code runs in the caller's words (``errors.carried``). An error making an item is raised here, in
    its place. When the caller stops early (an error, ``close()``), nothing more is read and a read in progress is
    not waited for: one stuck where no signal reaches it (a decoding thread in a read of a stalled network mount)
    held Ctrl-C and SIGTERM forever (an adversarial tester's FIFO). The caller waits in steps (``WAKE_SECONDS``), so
    a signal is handled while a read hangs; the reader is a daemon thread, so such a read never holds the process's
    exit either (a ThreadPoolExecutor's thread is joined at exit, whatever its shutdown said).
    """
    it = iter(items)
    step = carried(lambda: next(it, _END))
    made: queue.SimpleQueue = queue.SimpleQueue()  # (True, item) or (False, the error making it), in order
    wanted = threading.Semaphore(max(1, depth))  # items the reader may make: the bound, one more per item taken
    stop = threading.Event()

    def reader() -> None:
        while wanted.acquire() and not stop.is_set():
            try:
                item = step()
            except BaseException as exc:  # noqa: BLE001 - raised on the caller's thread, in its place
                made.put((False, exc))
                return
            made.put((True, item))
            if item is _END:
                return

    thread = threading.Thread(target=reader, name="featcache-read", daemon=True)
    thread.start()
    done = False
    try:
        while (item := _taken(made)) is not _END:
            wanted.release()
            yield item
        done = True
    finally:
        stop.set()
        wanted.release()  # a reader waiting for leave to read ends now; one in a read ends after it
        if done:
            thread.join()  # it has put _END: ended, or about to


def _taken(made: queue.SimpleQueue) -> Any:
    """The next of ``read_ahead``'s items, or its error raised, waited for in steps as ``waited`` does."""
    while True:
        try:
            ok, item = made.get(timeout=WAKE_SECONDS)
        except queue.Empty:
            continue
        if not ok:
            raise item
        return item


def _pipeline(reads: Iterator[tuple[Batch, Any]], embed: Callable[[Any], dict[str, np.ndarray]],
              write: Callable[[Batch, dict[str, np.ndarray]], None], write_behind: bool,
              writers: ThreadPoolExecutor) -> None:
    """``run``'s loop: each batch read (ahead) embedded, its write submitted to ``writers`` (or here, without
    ``write_behind``)."""
    last_write: Future | None = None
    for b, images in reads:
        features = embed(images)
        if last_write is not None:
            waited(last_write)  # in order, and any write error surfaces here
        if write_behind:
            last_write = writers.submit(write, b, features)
        else:
            write(b, features)
    if last_write is not None:
        waited(last_write)
