"""Sequential engine: one process, reading ahead in a thread."""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

import numpy as np

from ..tasks import Batch


def run(
    batches: Sequence[Batch],
    read: Callable[[Batch], np.ndarray],
    make_embed: Callable[[], Callable[[np.ndarray], dict[str, np.ndarray]]],
    write: Callable[[Batch, dict[str, np.ndarray]], None],
    prefetch: int = 2,
) -> None:
    """Read (and decode) the next batches while the current one is embedded."""
    embed = make_embed()  # built once (the extraction has usually built it already)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: deque = deque()
        todo = iter(batches)
        for b in todo:
            pending.append((b, pool.submit(read, b)))
            if len(pending) >= prefetch:
                break
        while pending:
            b, fut = pending.popleft()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(read, nxt)))
            write(b, embed(fut.result()))
