"""Units of extraction work."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Batch:
    split: str
    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start


def plan(sizes: dict[str, int], done: dict[str, int], batch_size: int) -> list[Batch]:
    """Batches still to do, split by split, resuming after ``done`` rows."""
    out = []
    for split, n in sizes.items():
        for start in range(done.get(split, 0), n, batch_size):
            out.append(Batch(split, start, min(start + batch_size, n)))
    return out
