"""The Python API as a notebook or script user meets it (a tester using the API): warnings named at the user's line,
results that go where a path goes, the CLI's commands by their names, ``~`` in paths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import featcache


def _run_script(path: Path, text: str, cwd: Path) -> subprocess.CompletedProcess:
    """``text`` run as a user's script (``python3 SCRIPT``: its module is ``__main__``) under Python's default warning
    filters: no -W, no PYTHONWARNINGS."""
    path.write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_the_old_keyword_forms_deprecation_warning_is_shown_at_the_users_line(fashion_dir, tmp_path):
    # stacklevel=2 named validate.checks_switches' wrapper, and Python shows a DeprecationWarning only where it is
    # attributed to __main__: the warning docs/api.md promises was never seen
    script = tmp_path / "old_form.py"
    res = _run_script(script, "import featcache\n"
                              f"r = featcache.extract(data_dir={str(fashion_dir)!r}, train_limit=20, test_limit=10,\n"
                              f"                      weights='random', image_size=32, out={str(tmp_path / 'c.h5')!r})\n"
                              "print(r.images)\n", tmp_path)
    assert res.returncode == 0, res.stderr
    assert f"{script}:2: DeprecationWarning: extract()'s keywords (weights=, images=, engine=, ...) are deprecated" \
        in res.stderr, res.stderr
    assert res.stdout.split() == ["30"] and (tmp_path / "c.h5").is_file()


def test_extracts_result_goes_where_its_caches_path_goes(fashion_dir, tmp_path):
    # ExtractResult was no os.PathLike, unlike train's and export's results: train(r, "logreg") and open_cache(r)
    # said "cache must be a path (got ExtractResult(...)"
    r = featcache.extract(featcache.FashionMNIST(fashion_dir, train_limit=20, test_limit=10),
                          featcache.ModelSpec(weights="random", image_size=32), featcache.StoreSpec(out=tmp_path / "c.h5"))
    assert isinstance(r, os.PathLike) and os.fspath(r) == str(tmp_path / "c.h5")
    cache = featcache.open_cache(r)
    assert cache.path == r.path and cache.sizes == {"train": 20, "test": 10}
    res = featcache.train(r, "logreg", out=tmp_path / "h.npz")
    assert res.path == tmp_path / "h.npz" and 0 <= res.accuracy <= 1
