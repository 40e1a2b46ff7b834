"""Issue 13's cases that had no regression test of their own (the script's smoke run is in test_scripts.py).

docs/guarantees.md maps every case of the issue to the test that pins it;
these fill the gaps that map showed: finetune's --seed range, the mistyped
photo folder's sentence, no "delete the file" advice for a user's file or a
folder, and a real command's output with stdout redirected and TensorFlow
left to speak (no redraws, no start-up lines, no lock file left).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from helpers import REPO, consistent_attrs

from featcache.cli import main


def one_line(capsys, argv, *needles) -> str:
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:
        rc = exc.code
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, (rc, err)
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize("seed", ["-1", str(2**32)])
def test_finetune_seed_out_of_range_is_one_line_before_any_work(tmp_path, capsys, seed):
    """Issue 13 #9: --seed -1 or >= 2**32 for finetune (train and probe have theirs in test_train_guards/test_probe)."""
    head = tmp_path / "head.keras"
    head.write_bytes(b"not read: the seed is checked first")
    one_line(capsys, ["finetune", head, "--seed", seed, "--out", tmp_path / "m.keras"],
             f"--seed {seed} is out of range; use a whole number from 0 to 4294967295")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["head.keras"]


def test_a_mistyped_photo_folder_is_a_sentence_that_reads(tmp_path, capsys):
    """Issue 13 #11: 'pass --images DIR with put each class's images...'."""
    err = one_line(capsys, ["extract", "--images", tmp_path / "phtos", "--weights", "random", "--image-size", "32"],
                   f"image directory not found: {tmp_path / 'phtos'}; check the folder given to --images DIR, "
                   "where you put each class's images in its own folder")
    assert "with put" not in err and "PhotoFolder" not in err  # the CLI's words alone (errors.option)


def test_extract_onto_a_users_file_or_a_folder_gives_no_delete_advice(tmp_path, fashion_dir, capsys):
    """Issue 13 #11: 'delete the file' was advised for a user's own file and for a folder."""
    mine = tmp_path / "notes.h5"
    mine.write_bytes(b"the user's own bytes")
    folder = tmp_path / "folder.h5"
    folder.mkdir()
    # a folder is refused when extract's settings are made, before the data's digest (StoreSpec, 2026-12-06)
    for out, fix in ((mine, "choose another --out"), (folder, f"is a folder; name the cache file in it, e.g. --out {folder}/")):
        err = one_line(capsys, ["extract", "--data-dir", fashion_dir, "--weights", "random", "--image-size", "32", "--out", out],
                       fix)
        assert "delete" not in err
    assert mine.read_bytes() == b"the user's own bytes" and list(folder.iterdir()) == []


@pytest.mark.slow
def test_a_redirected_extract_prints_plain_lines_and_nothing_of_tensorflows(tmp_path, fashion_dir):
    """Issue 13 #11: progress redraws (\\r) and colour codes in redirected logs, TensorFlow's start-up lines on stderr
    (the user's shell does not set TF_CPP_MIN_LOG_LEVEL: conftest does, so this test removes it), empty lock files."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "FEATCACHE_PROGRESS")}
    env["PYTHONPATH"] = str(REPO)
    out = tmp_path / "c.h5"
    proc = subprocess.run([sys.executable, "-m", "featcache", "extract", "--data-dir", str(fashion_dir), "--weights", "random",
                           "--image-size", "32", "--out", str(out)], capture_output=True, text=True, env=env, timeout=600)
    # stderr holds the progress bar's plain lines and featcache's status lines, nothing of TensorFlow's (stdout the
    # results)
    bar = re.compile(r" *\d+/\d+ \[[=>.]{30}\] - ")
    status = ("extracting ", "network ready on ", "runtime auto: ")
    assert proc.returncode == 0 and all(bar.match(line) or line.startswith(status) for line in proc.stderr.splitlines()), \
        proc.stderr[-3000:]
    assert any(bar.match(line) for line in proc.stderr.splitlines())
    both = proc.stdout + proc.stderr
    assert "\r" not in both and "\x1b" not in both and proc.stdout.rstrip().endswith(str(out))
    assert out.exists() and not list(tmp_path.glob("c.h5.*"))  # no lock file, no partial


def test_a_flipped_byte_in_any_chunk_of_any_dataset_is_caught_before_use(tmp_path):
    """Issue 13's 'done when': one byte flipped in the middle of each chunk of every dataset of a photo-like cache
    (features over 3 chunks, labels, index, paths and their text, digests): 'featcache verify' and the read that would use
    it refuse."""
    import shutil

    import h5py
    import numpy as np
    from helpers import flip

    import featcache
    from featcache.errors import FeatcacheError
    from featcache.store import CacheWriter, SplitSpec
    from featcache.store.layout import CHUNK_ROWS

    n = 2 * CHUNK_ROWS + 10
    attrs = consistent_attrs({"fingerprint": "f" * 64, "class_names": ["a", "b"], "layers": ["out"], "default_layer": "out"})
    spec = SplitSpec("train", np.arange(n) % 2, np.arange(n), [f"a/{i}.jpg" for i in range(n)], digests=[f"{i:064x}" for i in range(n)])
    w = CacheWriter(tmp_path / "good.h5", attrs, [spec], {"out": 4}, "float32")
    w.open()
    w.write("train", 0, {"out": np.random.default_rng(0).normal(size=(n, 4)).astype(np.float32)})
    good = w.finish()
    spans = []
    with h5py.File(good, "r") as f:
        f.visititems(lambda name, o: spans.extend((name, o.id.get_chunk_info(i)) for i in range(o.id.get_num_chunks()))
                     if isinstance(o, h5py.Dataset) and o.chunks else None)
    names = {name for name, _ in spans}
    assert {"train/features/out", "train/labels", "train/index"} <= names and len(spans) >= 6, names
    readers = {"features/out": lambda c: c.features("train", "out"), "labels": lambda c: c.labels("train"),
               "index": lambda c: c.index("train"), "paths": lambda c: c.paths("train"), "digests": lambda c: c.digests("train")}
    # The paths' text lives outside their chunk, in HDF5's global heap: one of its bytes too ('a/128.jpg' -> 'a/1\xcd8.jpg').
    heap = good.read_bytes().index(f"a/{2 * CHUNK_ROWS}.jpg".encode()) + 3
    for name, offset in [(name, info.byte_offset + info.size // 2) for name, info in spans] + [("train/paths", heap)]:
        bad = tmp_path / "bad.h5"
        shutil.copy(good, bad)
        flip(bad, offset)
        with pytest.raises(FeatcacheError, match="is damaged"):
            featcache.verify(bad)
        read = readers[name.split("/", 1)[1]]
        with pytest.raises(FeatcacheError, match="is damaged"):
            read(featcache.open_cache(bad))
