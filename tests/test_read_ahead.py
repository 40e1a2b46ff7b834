"""``embedding.engines.local.read_ahead``: the one home of reading ahead (extract's batches, predict's and
evaluate's decoded files): order, the bound on what is read ahead, errors in their place, a stop that reads no more."""

from __future__ import annotations

import threading

import pytest

from featcache.embedding.engines.local import read_ahead
from featcache.errors import FeatcacheError


def _made(log: list, n: int, fail_at: int | None = None):
    """0..n-1, each noted in ``log`` with the thread that made it; ``fail_at`` raises instead."""
    for i in range(n):
        if i == fail_at:
            raise FeatcacheError(f"item {i} is bad")
        log.append((i, threading.current_thread().name))
        yield i


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_items_come_in_order_made_on_one_other_thread_at_most_depth_ahead(depth):
    log: list = []
    got = []
    for item in read_ahead(_made(log, 20, None), depth):
        # the one held now, and up to ``depth`` made after it: never more (the memory bound)
        assert max(i for i, _ in log) <= item + depth, (item, log)
        got.append(item)
    assert got == list(range(20))
    threads = {name for _, name in log}
    assert len(threads) == 1 and threading.current_thread().name not in threads


def test_an_error_making_an_item_is_raised_in_its_place_after_the_items_before_it():
    got = []
    with pytest.raises(FeatcacheError, match="^item 5 is bad$"):
        for item in read_ahead(_made([], 10, fail_at=5)):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]


def test_a_caller_that_stops_early_reads_no_more():
    log: list = []
    reads = read_ahead(_made(log, 100), 2)
    assert next(reads) == 0
    reads.close()
    for thread in threading.enumerate():  # a read in progress ends; those not begun never begin
        if thread.name.startswith("featcache-read"):
            thread.join(timeout=30)
    assert 1 <= len(log) <= 3  # the one taken and two ahead at most, of 100


def test_the_reads_run_in_the_callers_words():
    """A read's error message says the caller's keywords (errors.carried): a thread starts without them."""
    from featcache.errors import cli_words, option

    def words():
        yield option("--top-k", "top_k")

    with cli_words():
        assert list(read_ahead(words())) == ["--top-k"]
    assert list(read_ahead(words())) == ["top_k"]


def test_a_signal_taken_while_a_read_is_stuck_is_handled_at_once():
    """Regression (196cb16's hang): the caller waited for the read with no limit, so a signal that came just before
    that wait blocked (or that another thread took: made certain here) only set Python's flag, and its handler ran
    when the read ended: never, for one stuck in a stalled mount. Now within one step (``WAKE_SECONDS``). The read
    here is let go after 10 s, so the old code fails on the time, not by hanging the suite."""
    import signal
    import time

    class Stopped(Exception):
        pass

    def stopped(signum, frame):
        raise Stopped

    release = threading.Event()

    def items():
        yield 0
        time.sleep(0.5)  # the caller waits for this one by now
        signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)  # handled by this thread's C handler, not the caller
        release.wait(10)
        yield 1

    before = signal.signal(signal.SIGUSR1, stopped)
    try:
        reads = read_ahead(items(), 1)
        assert next(reads) == 0
        t0 = time.monotonic()
        with pytest.raises(Stopped):
            next(reads)
        assert time.monotonic() - t0 < 5
    finally:
        release.set()
        signal.signal(signal.SIGUSR1, before)


def test_a_stuck_read_does_not_hold_the_process_exit(tmp_path):
    """Regression: the reader was a ThreadPoolExecutor's thread, which Python's exit joins whatever its shutdown
    said, so a program (not the CLI, whose exit has its own timer: cli._end_anyway) that stopped reading while a read
    hung never exited. The reader is a daemon thread now: the program exits at once."""
    import os
    import subprocess
    import sys

    from helpers import REPO, ended

    code = ("import os, threading\n"
            "from featcache.embedding.engines.local import read_ahead\n"
            "reading = threading.Event()\n"
            "def items():\n"
            "    yield 0\n"
            "    reading.set()\n"
            "    os.read(os.pipe()[0], 1)  # never ends: this process holds the write end\n"
            "reads = read_ahead(items())\n"
            "print(next(reads), flush=True)\n"
            "reading.wait()  # the read is stuck now, not only asked for\n"
            "reads.close()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    out, err = ended(proc, 30)
    assert (proc.returncode, out) == (0, "0\n"), err[-2000:]
