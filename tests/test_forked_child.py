"""A process forked after featcache's TensorFlow started cannot run TensorFlow: refused at once, not a hang."""
import subprocess
import sys
import time

from helpers import IN_A_FORKED_WORKER, make_class_tree, refused_at_once_in_a_forked_worker

# The parent extracts (TensorFlow starts), then forks a multiprocessing "fork" worker that extracts again. On the old
# code the worker's first TensorFlow op waited forever on thread pools fork did not copy; its join is bounded here.
# On TensorFlow by name: under ``auto`` a conversion of the same model cached by an earlier test of the xdist worker
# (the session's FEATCACHE_RUNTIME_DIR) ran both on ONNX Runtime, so no TensorFlow started and the worker ran (CI of
# 2d9245c failed so, after file_seconds.json put another order).
_FORKED_EXTRACTION = """
import sys
from pathlib import Path
import featcache

photos, root = sys.argv[1], Path(sys.argv[2])

def extract(out):
    return featcache.extract(featcache.PhotoFolder(photos, test_fraction=0.5),
                             featcache.ModelSpec(weights="random", image_size=32),
                             featcache.StoreSpec(out=root / out), featcache.LocalEngine(runtime="tensorflow"),
                             verbose=False)

extract("parent.h5")
work = lambda: extract("child.h5")
""" + IN_A_FORKED_WORKER

def test_a_forked_child_of_a_process_that_ran_tensorflow_is_refused_at_once(tmp_path):
    photos = make_class_tree(tmp_path / "photos", {"ants": 4, "bees": 4})
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", _FORKED_EXTRACTION, str(photos), str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    refused_at_once_in_a_forked_worker(proc, start)
    assert (tmp_path / "parent.h5").is_file()
    assert not list(tmp_path.glob("child.h5*"))  # nothing half-written

