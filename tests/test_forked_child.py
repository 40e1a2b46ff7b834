"""A process forked after featcache's TensorFlow started cannot run TensorFlow: refused at once, not a hang."""
import subprocess
import sys
import time

from helpers import make_class_tree

# The parent extracts (TensorFlow starts), then forks a multiprocessing "fork" worker that extracts again. On the old
# code the worker's first TensorFlow op waited forever on thread pools fork did not copy; its join is bounded here.
_FORKED_EXTRACTION = """
import multiprocessing, sys, time
from pathlib import Path
import featcache

photos, root = sys.argv[1], Path(sys.argv[2])

def extract(out):
    return featcache.extract(featcache.PhotoFolder(photos, test_fraction=0.5),
                             featcache.ModelSpec(weights="random", image_size=32),
                             featcache.StoreSpec(out=root / out), verbose=False)

def child(queue):
    start = time.monotonic()
    try:
        extract("child.h5")
        queue.put(("extracted", "", time.monotonic() - start))
    except featcache.FeatcacheError as exc:
        queue.put(("refused", str(exc), time.monotonic() - start))

extract("parent.h5")
context = multiprocessing.get_context("fork")
queue = context.Queue()
worker = context.Process(target=child, args=(queue,))
worker.start()
worker.join(60)
if worker.is_alive():
    worker.kill()
    print("hung")
else:
    outcome, message, seconds = queue.get(timeout=10)
    print(outcome)
    print(message)
    print(seconds)
"""


def test_a_forked_child_of_a_process_that_ran_tensorflow_is_refused_at_once(tmp_path):
    photos = make_class_tree(tmp_path / "photos", {"ants": 4, "bees": 4})
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", _FORKED_EXTRACTION, str(photos), str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "refused", f"the forked worker {lines[0]} (after {time.monotonic() - start:.0f} s)"
    assert "forked after TensorFlow started" in lines[1] and "get_context('spawn')" in lines[1]
    assert float(lines[2]) < 5  # at once, before any TensorFlow work
    assert (tmp_path / "parent.h5").is_file()
    assert not list(tmp_path.glob("child.h5*"))  # nothing half-written
