"""Sequential engine: one process, reading ahead and writing behind in threads."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

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
    # Its own reader pool, not read_ahead: with read_ahead here (2026-12-06, helper-253) a SIGTERM'd extract whose
    # read was stuck hung once in six runs of tests/test_images.py::test_sigterm_ends_an_extract_whose_read_is_stuck
    # (under load 4); not understood yet, so extraction keeps the pool that passed it in every suite before.
    embed = make_embed()  # built once (the extraction has usually built it already)
    read, write = carried(read), carried(write)  # on their threads in the caller's words (a command's flags)
    readers = ThreadPoolExecutor(max_workers=1)
    try:
        with ThreadPoolExecutor(max_workers=1) as writers:  # a write in flight ends before the file is closed
            _pipeline(batches, read, embed, write, prefetch, write_behind, readers, writers)
    except BaseException:
        # Not waiting for a read: one stuck where no signal reaches it (a decoding thread in a read of a stalled
        # network mount) held Ctrl-C and SIGTERM here forever, and the partial file open (an adversarial tester's
        # FIFO). The cache's writer commits and closes behind this; the thread is left to the process's exit.
        readers.shutdown(wait=False, cancel_futures=True)
        raise
    readers.shutdown()



_END = object()


def read_ahead(items: Iterable[T], depth: int = PREFETCH) -> Iterator[T]:
    """``items`` in their order, each one made on a reader thread while the caller works on the one before: at
    most ``depth`` made or in the making ahead of the one the caller holds (the memory bound, a few batches).

    Predict's and evaluate's reading ahead of decoded files (``deploy.predict.predict_files``); extraction's ``run``
    keeps its own reader pool for now (see there). ``items`` is pulled on that one thread only, in turn, so a generator
    serves; its code runs in the caller's words (``errors.carried``). An error making an item is raised here, in
    its place. When the caller stops early (an error, ``close()``), nothing more is read and a read in progress is
    not waited for: one stuck where no signal reaches it (a decoding thread in a read of a stalled network mount)
    held Ctrl-C and SIGTERM forever (an adversarial tester's FIFO); the thread is left to the process's exit.
    """
    it = iter(items)
    step = carried(lambda: next(it, _END))
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="featcache-read")
    done = False
    try:
        pending = deque(reader.submit(step) for _ in range(max(1, depth)))
        while (item := pending.popleft().result()) is not _END:
            pending.append(reader.submit(step))
            yield item
        done = True
    finally:
        reader.shutdown(wait=done, cancel_futures=not done)


def _pipeline(batches: Sequence[Batch], read: Callable[[Batch], Any], embed: Callable[[Any], dict[str, np.ndarray]],
              write: Callable[[Batch, dict[str, np.ndarray]], None], prefetch: int, write_behind: bool,
              readers: ThreadPoolExecutor, writers: ThreadPoolExecutor) -> None:
    """``run``'s loop: reads submitted to ``readers``, writes to ``writers`` (or here, without ``write_behind``)."""
    pending: deque = deque()
    todo = iter(batches)
    for b in todo:
        pending.append((b, readers.submit(read, b)))
        if len(pending) >= prefetch:
            break
    last_write: Future | None = None
    while pending:
        b, fut = pending.popleft()
        nxt = next(todo, None)
        if nxt is not None:
            pending.append((nxt, readers.submit(read, nxt)))
        features = embed(fut.result())
        if last_write is not None:
            last_write.result()  # in order, and any write error surfaces here
        if write_behind:
            last_write = writers.submit(write, b, features)
        else:
            write(b, features)
    if last_write is not None:
        last_write.result()
