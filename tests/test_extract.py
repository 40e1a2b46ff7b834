"""Extraction into the HDF5 cache: results, cache identity, crash safety, bad input."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import (assert_same_features, extract, imagenet_standin, interrupted_extraction, make_fashion_dir,
                     run_main, stopped_between_commits, tiny_fashion_cache, weights_standin)

import featcache
from featcache.cli import main
from featcache.errors import FeatcacheError
from featcache.store.cache import partial_path

TINY = dict(weights="random", image_size=32, verbose=False)


def test_features_match_the_lessons_code(real_weights, real_fashion_dir, tmp_path):
    """Exercise 1 of the lesson: 8 images -> (8, 1280), the same numbers as its own code."""
    import keras
    import tensorflow as tf

    res = extract(data_dir=str(real_fashion_dir), train_limit=8, test_limit=8, weights=str(real_weights), verbose=False)
    cache = featcache.open_cache(res.path)
    ours = cache.features("train")
    assert ours.shape == (8, 1280)

    from featcache.sources import fashion_mnist

    x = fashion_mnist.load(real_fashion_dir, train_limit=8).splits["train"].read(0, 8)
    # The lesson's code, verbatim in spirit.
    x = x.astype("float32")
    x = np.repeat(np.expand_dims(x, -1), 3, axis=-1)
    x = tf.image.resize(x, (96, 96)).numpy()
    x = keras.applications.mobilenet_v2.preprocess_input(x)
    base = keras.applications.MobileNetV2(include_top=False, weights=str(real_weights), input_shape=(96, 96, 3))
    base.trainable = False
    lesson = keras.layers.GlobalAveragePooling2D()(base(x[:8], training=False)).numpy()
    assert lesson.shape == (8, 1280)
    np.testing.assert_allclose(ours, lesson, atol=1e-4)
    assert np.abs(ours).max() > 0.1  # real features, not zeros
    assert cache.meta["weights"].startswith("sha256:ad9c7c5e")
    assert cache.meta["weights_random"] is False or cache.meta["weights_random"] == 0


def test_cache_layout_and_metadata(fashion_dir, tmp_path):
    out = tmp_path / "c.h5"
    # block_1: random weights' final output (|v| about 1e-11) is below float16's range, refused (test_store)
    res = extract(data_dir=str(fashion_dir), out=out, dtype="float16", layers="block_1", **TINY)
    assert res.path == out and not res.hit and res.images == 72
    with h5py.File(out) as f:
        ds = f["train/features/block_1_expand_relu"]
        assert ds.shape == (48, 96) and ds.dtype == np.float16 and np.abs(ds[()]).max(axis=1).min() > 0
        assert ds.chunks[0] <= 256 and ds.chunks[1] == 96  # chunked along samples
        assert f["test/labels"].shape == (24,) and f["test/index"][()].tolist() == list(range(24))
        assert bool(f.attrs["complete"]) and bool(f.attrs["weights_random"])
    cache = featcache.open_cache(out)
    assert cache.class_names[1] == "trouser"
    for key in ("backbone", "weights", "image_size", "preprocessing", "dataset", "featcache_version", "keras_version", "tensorflow_version", "created"):
        assert cache.meta[key], key
    assert cache.labels("train").tolist() == [i % 10 for i in range(48)]
    assert cache.features("test").dtype == np.float32


def test_progress_goes_to_stderr_and_results_to_stdout(fashion_dir, tmp_path, capsys, progress_on):
    """'extract ... > log.txt' showed nothing on the terminal and wrote the bar's lines into the log, where predict's
    bar went to stderr (a new user). Now every bar is on stderr, in plain lines off a terminal; stdout holds the
    command's result alone: the status lines ("extracting ...", "network ready") are on stderr with the bars (a
    new-user tester found them on stdout, among the results)."""
    import re

    out = tmp_path / "c.h5"
    proc = run_main(capsys, "extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32",
                    "--batch-size", "8", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    bar = re.compile(r" *\d+/\d+ \[[=>.]{30}\] - ")
    assert not any(bar.match(line) for line in proc.stdout.splitlines()), proc.stdout
    assert proc.stdout.splitlines() == [proc.stdout.strip()] and proc.stdout.startswith("extracted 72 images")
    assert proc.stdout.rstrip().endswith(str(out))
    said = proc.stderr.splitlines()
    assert said[0].startswith("extracting 72 images") and said[1].startswith("network ready")
    progress = [line for line in said if bar.match(line)]
    assert len(progress) >= 3, proc.stderr
    assert progress[-1].startswith("72/72 [") and "\r" not in proc.stderr


def test_json_keeps_stdout_for_the_json_and_still_shows_progress_on_stderr(fashion_dir, tmp_path, capsys, progress_on):
    """'extract --json > out.json' over all 70,000 images ran five minutes without a line: --json turned the bars off
    with the text, where docs/cli.md says '> file' keeps the results and the terminal still shows the progress.
    The bars are on stderr under --json too (a photo folder's scan as well); stdout is the JSON alone. So are the
    lines of the network's preparation, before the bar: a first conversion was 17 s of silence under --json (a
    new-user tester, 2026-12-07); the JSON says the rest (its runtime_note)."""
    import re

    from helpers import make_class_tree

    bar = re.compile(r" *\d+/\d+ \[[=>.]{30}\] - ")
    photos = make_class_tree(tmp_path / "photos", {"a": 6, "b": 6}, size=40)
    for source in (["--data-dir", str(fashion_dir)], ["--images", str(photos), "--test-fraction", "0.25"]):
        out = tmp_path / f"c{len(source)}.h5"
        proc = run_main(capsys, "extract", *source, "--weights", "random", "--image-size", "32", "--batch-size", "8",
                        "--out", str(out), "--json")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["path"] == str(out)  # nothing else on stdout
        lines = proc.stderr.splitlines()
        preparing = [line for line in lines if not bar.match(line)]
        assert [line.split(" ", 1)[0] for line in preparing] == ["extracting", "network"], proc.stderr
        assert preparing[1].startswith("network ready on tensorflow in "), proc.stderr
        progress = lines[lines.index(preparing[1]) + 1:]  # the images' bar (after a photo folder's scan's)
        assert len(progress) >= 2 and all(bar.match(line) for line in progress), proc.stderr
        assert progress[-1].startswith(f"{json.loads(proc.stdout)['images']}/")


def test_rerun_is_a_cache_hit(fashion_dir, tmp_path, capsys):
    first = extract(data_dir=str(fashion_dir), **TINY)
    assert Path(first.path).parent == Path(os.environ["FEATCACHE_HOME"]) / "cache"
    mtime = first.path.stat().st_mtime_ns
    assert main(["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32"]) == 0
    assert "cache hit" in capsys.readouterr().out
    assert first.path.stat().st_mtime_ns == mtime
    # A crash between publishing the cache and removing its partial leaves both; the next hit tidies up.
    import shutil

    from featcache.store.cache import partial_path

    # (a photo folder's staged partial is left so: featcache's own, not complete, of the cache's settings)
    os.rename(interrupted_extraction(tmp_path / "side.h5", data_dir=str(fashion_dir), **TINY), partial_path(first.path))
    assert extract(data_dir=str(fashion_dir), **TINY).hit and not partial_path(first.path).exists()
    assert first.path.stat().st_mtime_ns == mtime
    # A complete cache under the partial's name was not left by featcache: the user's, not tidied away.
    shutil.copyfile(first.path, partial_path(first.path))
    assert extract(data_dir=str(fashion_dir), **TINY).hit and partial_path(first.path).exists()


@pytest.mark.slow
def test_settings_change_the_cache_identity(fashion_dir):
    a = extract(data_dir=str(fashion_dir), **TINY).path
    b = extract(data_dir=str(fashion_dir), **{**TINY, "image_size": 40}).path
    c = extract(data_dir=str(fashion_dir), train_limit=40, **TINY).path
    d = extract(data_dir=str(fashion_dir), dtype="float16", layers="block_1", **TINY).path  # in float16's range
    e = extract(data_dir=str(fashion_dir), layers="block_1", **TINY).path
    assert len({a, b, c, d, e}) == 5


def test_mismatched_cache_at_out_is_refused(fashion_dir, tmp_path, capsys):
    out = tmp_path / "c.h5"
    extract(data_dir=str(fashion_dir), out=out, **TINY)
    before = out.read_bytes()
    rc = main(["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "48", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "other settings" in err and "image_size" in err and "Traceback" not in err
    assert out.read_bytes() == before
    # Other data: the line names the source setting that made it (it said only "the data"; a new user)
    rc = main(["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32", "--train-limit", "40",
               "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "(differs in: the data: train_limit None -> 40)" in err and err.count("\n") == 1
    assert out.read_bytes() == before
    # Another kind of source is said as such: it listed every setting of both, "image_size 224 -> None" among them
    from helpers import make_class_tree

    photos = make_class_tree(tmp_path / "photos", {"a": 3, "b": 3}, size=16)
    rc = main(["extract", "--images", str(photos), "--test-fraction", "0.34", "--weights", "random", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "the data: kind fashion_mnist -> images" in err and "-> None" not in err, err


def test_an_incomplete_cache_at_out_is_refused_or_replaced_in_one_line_by_its_settings(fashion_dir, tmp_path, capsys):
    """A partial renamed or copied to --out (testers, 2026-12-05): of other settings it is someone's unfinished work,
    refused as such (it was "a cache made with other settings"); of these settings it is extracted again and
    replaced, as before, now said (it went without a word). Either way nothing resumes it under that name."""
    out = tmp_path / "c.h5"

    def renamed_partial() -> None:  # what `mv a.h5.partial.h5 c.h5` leaves: a run stopped after its first batch
        os.rename(interrupted_extraction(tmp_path / "a.h5", data_dir=str(fashion_dir), **TINY), out)

    renamed_partial()
    before = out.read_bytes()
    args = ["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--out", str(out), "--image-size"]
    proc = run_main(capsys, *args, "48")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"featcache extract: error: {out} is an incomplete cache of another extraction (an "
                                  "unfinished extraction of a.h5, copied or renamed, 48 of 72 images done, made with other "
                                  "settings: differs in: image_size); ")
    assert out.read_bytes() == before
    proc = run_main(capsys, *args, "32")
    assert proc.returncode == 0 and (f"{out} is an incomplete cache of these settings (an unfinished extraction of a.h5, "
                                     "copied or renamed); a run resumes only from c.h5.partial.h5, so this one extracts it "
                                     "again and replaces it when done") in proc.stderr.splitlines()
    with h5py.File(out) as f:
        assert bool(f.attrs["complete"]) and f.attrs["partial_of"] == "c.h5"
    # --json says it too, in its document (an adversarial tester: it said nothing)
    renamed_partial()
    proc = run_main(capsys, *args, "32", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["replaced_incomplete"].startswith(
        f"{out} is an incomplete cache of these settings")




def test_a_hand_edited_complete_is_caught_before_use_and_nothing_is_replaced(fashion_dir, tmp_path, capsys):
    """Regression (2026-12-05): 'complete' set to false on a finished cache (h5py, one line) made extract of its settings
    call it an unfinished extraction and replace it (exit 0), and train call it one; set to true on an interrupted
    extraction, info of its cache's name said "complete yes" and train called it "damaged (content digest mismatch:
    its labels, index, paths or settings changed)". Both are one line now, exit 2, nothing replaced; the unfinished
    one is finished by its own run, every row extracted (none of the never-written rows used as zeros)."""
    out = tmp_path / "c.h5"
    extract(data_dir=str(fashion_dir), out=out, **TINY)
    with h5py.File(out, "r+") as f:
        f.attrs["complete"] = False
    before = out.read_bytes()
    args = ["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32", "--out"]
    want = f"{out} is damaged (marked unfinished ('complete' is False) after it was sealed complete); re-extract it: "
    for argv in ([*args, str(out)], [*args, str(out), "--force"], ["train", str(out), "--head", "logreg"]):
        proc = run_main(capsys, *argv)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and want in proc.stderr, (argv, proc.stderr)
    assert out.read_bytes() == before
    # an interrupted extraction marked complete: never used, and its rerun finishes it
    out = tmp_path / "d.h5"
    part = interrupted_extraction(out, data_dir=str(fashion_dir), **TINY)
    with h5py.File(part, "r+") as f:
        f.attrs["complete"] = True
    proc = run_main(capsys, "train", str(part), "--head", "logreg")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and proc.stderr.endswith(
        "is not a finished cache: it is marked complete but was never sealed (it has no content digest): an extraction "
        "stopped while sealing it, or an unfinished one marked complete by hand; re-run the same extract command to "
        "finish it\n"), proc.stderr
    proc = run_main(capsys, "info", str(out))
    assert proc.returncode == 2 and "complete    yes" not in proc.stdout, proc
    proc = run_main(capsys, *args, str(out), "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["images"] == 72 - 48, proc.stderr
    cache = featcache.open_cache(out)
    assert all((np.abs(cache.features(s)).sum(axis=1) > 0).all() for s in ("train", "test"))
    assert run_main(capsys, "verify", str(out)).returncode == 0


def test_a_resume_is_said_before_the_extraction_it_goes_on_with(fashion_dir, tmp_path, capsys, monkeypatch):
    """A tester: a resumed extract said "extracting 72 images ... preparing the network" and, after the build,
    "resuming ...: 24 of 72 images already done", as if all 72 were to do first. The resume is said first, once."""
    out = tmp_path / "c.h5"
    interrupted_extraction(out, data_dir=str(fashion_dir), batch_size=24, **TINY)
    with h5py.File(partial_path(out), "r") as f:
        done = sum(int(f[s].attrs["rows_done"]) for s in ("train", "test"))
    assert 0 < done < 72
    monkeypatch.delenv("FEATCACHE_PROGRESS")  # the status lines, on stderr
    proc = run_main(capsys, "extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32",
                    "--batch-size", "24", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    resumed = [n for n, line in enumerate(lines) if line == f"resuming {out}: {done} of 72 images already done"]
    # and what is left, not all 72: "extracting 72 images" read as starting over (a new-user tester)
    extracting = [n for n, line in enumerate(lines)
                  if line.startswith(f"extracting the other {72 - done} of 72 images with mobilenet_v2")]
    assert len(resumed) == 1 and len(extracting) == 1 and resumed[0] < extracting[0], proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_a_run_killed_between_commits_resumes_instead_of_starting_over(tmp_path, capsys, monkeypatch, sig):
    """Regression: each batch flushed its datasets (their chunk index, listing chunks placed at the end of the
    file) but not the superblock's end-of-allocation mark, which only the commit (once a second) wrote; a run
    killed in between left a partial that started over (4 of 4 SIGKILL/SIGTERM tries by a tester). Killed here
    after 4 batches of 64 rows committed and 2 more written into chunks of their own (``stopped_between_commits``).

    The SIGKILL run is also the resume-after-SIGKILL test (it was a test of its own, a second killed process and
    TensorFlow import for the same work): the partial is no cache, info counts its rows, and the resumed cache equals
    an uninterrupted one, every feature of both layers."""
    from helpers import make_fashion_dir

    n = 512  # 8 batches of 64: 4 committed, 2 written since, 2 not yet at the kill
    data = make_fashion_dir(tmp_path / "d", n_train=n, n_test=16)
    out = tmp_path / "c.h5"
    # block_1_expand_relu: random weights leave out_relu at about 1e-11, too small for a comparison that can fail alone.
    layers = "block_1_expand_relu,out_relu"
    args = ["extract", "--data-dir", str(data), "--weights", "random", "--image-size", "32", "--runtime", "tensorflow",
            "--layers", layers, "--out", str(out)]
    returncode, err = stopped_between_commits(args, sig, commit=4)
    assert returncode != 0 and not out.exists(), "killed before the end: nothing published"
    if sig == "SIGTERM":  # like Ctrl-C: one line, the work kept, no lock left behind
        assert returncode == 143 and err.strip().splitlines()[-1] == (
            "featcache extract: terminated; re-run the same command to resume")
        assert not Path(f"{out}.lock").exists()
    with h5py.File(partial_path(out), "r") as f:
        done = int(f["train"].attrs["rows_done"])
    assert 256 <= done < n, done  # the 4 batches committed (and, on SIGTERM, what its unwinding committed)
    if sig == "SIGKILL":
        with pytest.raises(FeatcacheError, match="incomplete cache"):
            featcache.open_cache(partial_path(out))
        info = run_main(capsys, "info", str(partial_path(out)))
        assert info.returncode == 0 and f"{done} of {n} images embedded so far" in info.stdout
    monkeypatch.delenv("FEATCACHE_PROGRESS")  # the resume's status line, on stderr
    proc = run_main(capsys, *args)  # the resume in this process: the kill above was the process boundary
    assert proc.returncode == 0, proc.stderr
    assert "starting it over" not in proc.stderr and "images already done" in proc.stderr, proc.stderr
    assert f"resuming {out}: {done} of {n + 16} images already done" in proc.stderr.splitlines(), proc.stderr
    assert featcache.open_cache(out).labels("train").tolist() == (np.arange(n) % 10).tolist()
    if sig == "SIGKILL":
        ref = extract(data_dir=str(data), out=tmp_path / "ref.h5", weights="random", image_size=32, runtime="tensorflow",
                      layers=layers, verbose=False)
        got, want = featcache.open_cache(out), featcache.open_cache(ref.path)
        for split in ("train", "test"):
            assert_same_features(got.features(split, "block_1_expand_relu"), want.features(split, "block_1_expand_relu"),
                                 err_msg=split)
            assert_same_features(got.features(split), want.features(split), floor=0, err_msg=split)  # out_relu, to its own size
            assert got.labels(split).tolist() == want.labels(split).tolist()


@pytest.mark.slow
def test_two_writers_do_not_corrupt_the_cache(fashion_dir, tmp_path, capsys):
    """Two extractions of one cache at once: one writes it, the other waits for the writers' lock and finds it done.
    The second is this process (run_main), started once the first, a new process, holds the lock (it does from before
    its network's build to the seal): both were new processes, a second TensorFlow import, started together, and
    nothing checked that they met."""
    import time

    from featcache.store.lock import held

    out = tmp_path / "shared.h5"
    args = ["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32", "--batch-size", "4",
            "--out", str(out)]
    first = subprocess.Popen([sys.executable, "-m", "featcache", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        met, deadline = False, time.monotonic() + 300
        while not met and first.poll() is None and time.monotonic() < deadline:
            met = held(out) == f"process {first.pid}"
            time.sleep(0 if met else 0.02)
        second = run_main(capsys, *args)
    finally:
        said_first = first.communicate(timeout=300)
    assert met, f"the first writer never held the lock: {said_first}"
    assert [first.returncode, second.returncode] == [0, 0], (said_first, second)
    assert "extracted 72 images" in said_first[0] and "cache hit" in second.stdout, (said_first, second)
    cache = featcache.open_cache(out)
    assert cache.features("train").shape == (48, 1280)


def test_info(fashion_dir, capsys):
    path = extract(data_dir=str(fashion_dir), **TINY).path
    capsys.readouterr()
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "RANDOM WEIGHTS" in text and "complete    yes" in text and "trouser: 5" in text
    # Said once: it was "weights random (untrained) (random)  [RANDOM WEIGHTS]" (a new user)
    assert "weights random (untrained)  [RANDOM WEIGHTS]" in text
    data = next(line for line in text.splitlines() if line.startswith("data "))
    # Regression (a new-user tester): the source's settings were printed as a Python dict
    assert data.endswith(f"  data_dir {Path(fashion_dir).resolve()}") and "{" not in data, data
    assert main(["info", str(path), "--json"]) == 0
    import json

    info = json.loads(capsys.readouterr().out)
    assert info["splits"]["train"]["n"] == 48 and info["complete"] in (True, 1)
    api = json.loads(json.dumps(featcache.info(path), default=str))  # the API's info (it had none; a new user)
    # the same, but for the call its note suggests: the caller's words (errors.command)
    assert api.pop("checksums").endswith("(featcache.verify(cache) reads every chunk)")
    assert info.pop("checksums").endswith("('featcache verify' reads every chunk)") and api == info


def test_a_resume_on_another_runtime_records_both(fashion_dir, tmp_path, monkeypatch, capsys):
    """The runtime is not part of a cache's identity, so a run stopped on one runtime resumes on another; the
    cache then said only the last (a review): now its ``runtimes`` attribute and 'featcache info' name both, in
    order. The partial's runtime is set to ONNX Runtime's name here: a real conversion would add 10 s."""
    import featcache.embedding.runner as runner

    out = tmp_path / "c.h5"
    calls = []
    real = runner.check_finite

    def stop_at_the_second_batch(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(runner, "check_finite", stop_at_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        extract(data_dir=str(fashion_dir), out=out, batch_size=16, runtime="tensorflow", **TINY)
    monkeypatch.undo()
    with h5py.File(partial_path(out), "r+") as f:
        assert f.attrs["runtime"] == "tensorflow" and int(f["train"].attrs["rows_done"]) == 16
        f.attrs["runtime"] = "onnxruntime"  # as if the first run had been on ONNX Runtime
    res = extract(data_dir=str(fashion_dir), out=out, batch_size=16, runtime="tensorflow", **TINY)
    assert res.runtime == "tensorflow" and res.images == 72 - 16
    meta = featcache.open_cache(out).meta
    assert meta["runtime"] == "tensorflow" and meta["runtimes"] == ["onnxruntime", "tensorflow"]
    assert run_main(capsys, "verify", str(out)).returncode == 0  # the provenance digest covers the new attribute
    line = next(l for l in run_main(capsys, "info", str(out)).stdout.splitlines() if l.startswith("runtime"))
    assert line == "runtime     tensorflow (keras backend tensorflow); resumed, rows made by onnxruntime, then tensorflow"
    # A resume killed before its first batch made no rows: it is not recorded as a maker (a tester)
    out2 = tmp_path / "c2.h5"
    calls.clear()
    monkeypatch.setattr(runner, "check_finite", stop_at_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        extract(data_dir=str(fashion_dir), out=out2, batch_size=16, runtime="tensorflow", **TINY)
    with h5py.File(partial_path(out2), "r+") as f:
        f.attrs["runtime"] = "onnxruntime"

    def stop_at_once(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "check_finite", stop_at_once)
    with pytest.raises(KeyboardInterrupt):
        extract(data_dir=str(fashion_dir), out=out2, batch_size=16, runtime="tensorflow", **TINY)
    monkeypatch.undo()
    with h5py.File(partial_path(out2), "r") as f:
        assert "runtimes" not in f.attrs
    # A cache made in one run has no such attribute, and info says its one runtime.
    one = extract(data_dir=str(fashion_dir), out=tmp_path / "one.h5", runtime="tensorflow", **TINY).path
    assert "runtimes" not in featcache.open_cache(one).meta
    assert "runtime     tensorflow (keras backend tensorflow)\n" in run_main(capsys, "info", str(one)).stdout


def test_info_wraps_a_long_layer_list_and_a_cache_has_a_repr(fashion_dir, tmp_path, capsys):
    """17 blocks were one 600-character line of info (a new user): wrapped at 100 columns, continuations indented
    under the first; and a Cache shows its path and sizes in a notebook (it was '<Cache object at 0x...>')."""
    path = extract(data_dir=str(fashion_dir), out=tmp_path / "b.h5", layers="blocks", **TINY).path
    text = run_main(capsys, "info", str(path)).stdout.splitlines()
    start = next(i for i, l in enumerate(text) if l.startswith("layers      "))
    block = [text[start]] + [l for l in text[start + 1 :] if l.startswith(" " * 12)]
    assert len(block) > 1 and max(map(len, block)) <= 100
    cache = featcache.open_cache(path)
    assert " ".join(l.strip() for l in block).removeprefix("layers ").strip().startswith(f"{cache.layers[0]} (")
    assert all(f"{l} (" in " ".join(block) for l in cache.layers)
    assert repr(cache) == f"Cache({str(path)!r}, train=48, test=24, layers={len(cache.layers)}, views=1)"


def test_info_on_incomplete_cache(fashion_dir, tmp_path, capsys):
    out = tmp_path / "c.h5"
    os.rename(interrupted_extraction(out, data_dir=str(fashion_dir), **TINY), out)  # c.h5's own partial, renamed
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    # an unfinished c.h5 at c.h5 itself: no rerun resumes it there (one of these settings is extracted again and replaces
    # it: reader.incomplete_replaced); said as extract says it (reader.resume_words)
    assert ("NO (running or interrupted; no rerun resumes it under this name; to resume it, move it back to "
            "c.h5.partial.h5 beside c.h5") in text
    # Progress per split in split order, train first (HDF5 lists groups by name: test came first; a tester)
    progress = [l.split()[0] for l in text.splitlines() if "images embedded so far" in l]
    assert progress == ["train", "test"], text


@pytest.mark.parametrize(
    "args, message",
    [
        (["--backbone", "vgg99"], "unknown backbone 'vgg99'"),
        (["--image-size", "16"], "too small"),
        (["--weights", "/no/such/file.h5"], "weights file not found"),
        (["--train-limit", "1000"], "beyond the 48"),
        (["--data-dir", "/no/such/dir"], "data directory not found"),
        (["--layers", ","], "--layers is empty"),
        (["--layers", "no_such_layer"], "unknown layer 'no_such_layer'"),
    ],
)
def test_bad_input_is_one_clear_line(fashion_dir, capsys, args, message):
    base = ["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32"]
    assert main(base + args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_weights_that_do_not_fit(fashion_dir, tmp_path, capsys):
    bad = tmp_path / "bad.weights.h5"
    with h5py.File(bad, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    assert main(["extract", "--data-dir", str(fashion_dir), "--weights", str(bad), "--image-size", "32"]) == 2
    assert "does not fit backbone mobilenet_v2" in capsys.readouterr().err


def test_weights_cut_short_are_said_in_words_not_an_exceptions_type(real_weights, fashion_dir, tmp_path, capsys):
    """Regression (a brief, h315): a weights file cut short (an interrupted copy) said "does not fit backbone
    mobilenet_v2 (OSError: Unable to synchronously open file (truncated file: ...))": the exception's class name, which
    says nothing to a user. HDF5's words alone. Fails on the code before ("OSError: " in the line). Later (h319's
    brief, the same night): such a file is refused before the network is built, by the sizes its HDF5 header records
    (backbones.check_weights_file), in words too."""
    cut = tmp_path / "cut.weights.h5"
    cut.write_bytes(real_weights.read_bytes()[:4_000_000])
    assert main(["extract", "--data-dir", str(fashion_dir), "--weights", str(cut), "--image-size", "32",
                 "--out", str(tmp_path / "c.h5")]) == 2
    err = capsys.readouterr().err.strip()
    assert f"--weights {cut} is cut short: 4,000,000 of the {real_weights.stat().st_size:,} bytes its HDF5 header" in err
    assert "Error" not in err and len(err.splitlines()) == 1 and not (tmp_path / "c.h5").exists()


def test_weights_of_another_backbone_are_said_in_words(real_weights, fashion_dir, capsys):
    """A new-user tester: MobileNetV2's weights for resnet50 quoted Keras's warning cut mid-sentence ("... This usually)")."""
    assert main(["extract", "--data-dir", str(fashion_dir), "--weights", str(real_weights), "--backbone", "resnet50",
                 "--image-size", "32"]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not fit backbone resnet50 (its layers are not this backbone's: Keras would skip them" in err
    assert len(err.splitlines()) == 1 and "usually" not in err


def test_out_that_is_not_a_cache_is_left_alone(fashion_dir, tmp_path, capsys):
    out = tmp_path / "notes.h5"
    out.write_text("precious")
    assert main(["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32", "--out", str(out)]) == 2
    assert "not a featcache cache" in capsys.readouterr().err
    assert out.read_text() == "precious"
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = 1
    assert main(["info", str(other)]) == 2
    assert "not a featcache cache" in capsys.readouterr().err


def test_unwritable_out(fashion_dir, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32", "--out", str(blocker / "c.h5")]) == 2
    assert "choose a writable --out" in capsys.readouterr().err


def _no_reading_the_data(monkeypatch) -> None:
    """Opening Fashion-MNIST (reading and hashing its images) fails the test: what runs before it must have refused."""
    from featcache.sources.fashion_mnist import FashionMNIST

    def opened(*a, **k):
        raise AssertionError("the data was opened before the weights were obtained")

    monkeypatch.setattr(FashionMNIST, "open", opened)


def test_imagenet_weights_offline_say_how_to_pass_a_file(fashion_dir, capsys, monkeypatch, keras_cache):
    import keras

    def no_network(origin=None, *a, **k):
        print(f"Downloading data from {origin}")  # what Keras says first, before the error (a new-user tester)
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.utils, "get_file", no_network)
    monkeypatch.setattr("keras.src.applications.mobilenet_v2.file_utils.get_file", no_network)
    _no_reading_the_data(monkeypatch)  # the weights are fetched before any image is read or hashed
    assert main(["extract", "--data-dir", str(fashion_dir), "--image-size", "32"]) == 2
    out, err = capsys.readouterr()
    assert "--weights PATH" in err and "could not obtain ImageNet weights" in err
    # what failed in words, not its type's name ("(OSError: network is unreachable)"; h319's brief)
    assert "mobilenet_v2 (network is unreachable);" in err and "OSError" not in err, err
    assert "Downloading" not in out + err and len(err.strip().splitlines()) == 1


def test_imagenet_weights_offline_at_a_cache_hit_name_where_keras_looks(fashion_dir, tmp_path, capsys, offline_keras):
    """Regression (a brief, 2026-12-07): offline, a rerun of an extraction of ImageNet weights whose cache is there
    (a hit: its identity is the content of Keras's file) needs Keras's file; with it gone (a cleaned ~/.keras,
    another KERAS_HOME) the line said only "pass a local weights file with --weights PATH", not where Keras looks,
    so a user with a copy elsewhere could not tell where to put it. It names that path; with the file put back the
    rerun is a hit, offline. Fails on the code before: no path."""
    args = ["extract", "--data-dir", str(fashion_dir), "--image-size", "32", "--runtime", "tensorflow", "--out",
            str(tmp_path / "c.h5")]
    weights = imagenet_standin(offline_keras, seed=1)
    assert run_main(capsys, *args).returncode == 0
    kept = weights.read_bytes()
    weights.unlink()
    got = run_main(capsys, *args)
    assert got.returncode == 2 and len(got.stderr.strip().splitlines()) == 1, got.stderr
    assert got.stderr.strip().endswith("this machine may be offline: pass a local weights file with --weights PATH, "
                                       f"or put Keras's file at {weights}"), got.stderr
    weights.write_bytes(kept)
    assert "cache hit" in run_main(capsys, *args).stdout


def test_imagenet_weights_are_known_by_the_file_keras_loads(keras_cache, fashion_dir, tmp_path, capsys):
    """An adversarial tester (2026-12-05): --weights imagenet was identified by the word, not by the file Keras loads
    from its cache, whose hash Keras never checks for MobileNetV2. Other weights there (a download again, weights
    copied in to work offline, another KERAS_HOME) were a cache hit on the old weights' cache, and a process reused
    the network built from them. The identity is now that file's sha256, the one a --weights PATH of it gets.
    Fails on the code before: the cache records weights 'imagenet'."""
    from featcache.validate import file_sha256

    args = ["extract", "--data-dir", str(fashion_dir), "--image-size", "32", "--runtime", "tensorflow",
            "--layers", "block_1_expand_relu", "--weights"]  # block 1: random weights' out_relu is about 1e-11
    first = imagenet_standin(keras_cache, seed=1)
    assert run_main(capsys, *args, "imagenet", "--out", str(tmp_path / "a.h5")).returncode == 0
    a = featcache.open_cache(tmp_path / "a.h5")
    assert a.meta["weights"] == "sha256:" + file_sha256(first) and a.meta["weights_source"] == "imagenet"
    # the same content passed as a file is the same identity: a hit
    (tmp_path / "first.h5").write_bytes(first.read_bytes())
    assert "cache hit" in run_main(capsys, *args, str(tmp_path / "first.h5"), "--out", str(tmp_path / "a.h5")).stdout

    second = imagenet_standin(keras_cache, seed=2)  # other weights under Keras's name, as cp puts them there
    again = run_main(capsys, *args, "imagenet", "--out", str(tmp_path / "a.h5"))
    assert again.returncode == 2 and "made with other settings (differs in: weights)" in again.stderr, again
    assert run_main(capsys, *args, "imagenet", "--out", str(tmp_path / "b.h5")).returncode == 0
    b = featcache.open_cache(tmp_path / "b.h5")
    assert b.meta["weights"] == "sha256:" + file_sha256(second) and b.fingerprint != a.fingerprint
    # b holds the new weights' features (this process had built the first weights' network), those of that file
    (tmp_path / "second.h5").write_bytes(second.read_bytes())
    assert run_main(capsys, *args, str(tmp_path / "second.h5"), "--out", str(tmp_path / "c.h5")).returncode == 0
    c = featcache.open_cache(tmp_path / "c.h5")
    assert c.fingerprint == b.fingerprint
    assert_same_features(b.features("train"), c.features("train"))
    assert np.abs(a.features("train") - b.features("train")).max() > 0.1 * np.abs(a.features("train")).max()


def test_a_damaged_imagenet_file_is_named_with_the_advice_to_delete_it(keras_cache, fashion_dir, tmp_path, capsys, monkeypatch):
    """An adversarial tester: a download cut short in Keras's cache (which Keras never downloads over) was "could not
    obtain ImageNet weights ... this machine may be offline"; it is named, with what to do, before the data is read."""
    path = imagenet_standin(keras_cache, seed=1)
    path.write_bytes(path.read_bytes()[:100_000])
    _no_reading_the_data(monkeypatch)
    r = run_main(capsys, "extract", "--data-dir", str(fashion_dir), "--image-size", "32", "--out", str(tmp_path / "c.h5"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r
    assert str(path) in r.stderr and "damaged" in r.stderr and "delete it and run again" in r.stderr
    assert "offline" not in r.stderr and path.is_file()  # the user's file is theirs to delete


def test_an_imagenet_file_reaching_outside_itself_is_named_as_such(keras_cache, fashion_dir, tmp_path, capsys, monkeypatch):
    """Regression (helper-232's review): an ImageNet file in Keras's cache with an external link was "damaged or not
    mobilenet_v2's (an interrupted download?; ValueError: ...)", an invented error and a wrong cause. It is named as
    --weights PATH is for the same thing, with the advice to delete it, before the data is read."""
    path = imagenet_standin(keras_cache, seed=1)
    with h5py.File(path, "a") as f:
        f["zz_extra"] = h5py.ExternalLink(str(tmp_path / "elsewhere.h5"), "/x")
    _no_reading_the_data(monkeypatch)
    r = run_main(capsys, "extract", "--data-dir", str(fashion_dir), "--image-size", "32", "--out", str(tmp_path / "c.h5"))
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r
    assert f"{path}, reaches outside its file (zz_extra is an external link to another file)" in lines[0], lines[0]
    assert "delete it and run again" in lines[0] and "damaged" not in lines[0] and "ValueError" not in lines[0], lines[0]
    assert path.is_file() and not (tmp_path / "c.h5").exists()


def test_weights_that_change_before_the_network_is_built_are_refused(keras_cache):
    """The mapper checks the weights it builds are those the cache's identity names: Keras's cache changed since
    (each node of a Ray cluster has its own), or a --weights file replaced during the run."""
    from featcache.embedding.backbones import weights_identity
    from featcache.embedding.mapper import Mapper

    imagenet_standin(keras_cache, seed=1)
    want = weights_identity("imagenet", "mobilenet_v2", 32)
    imagenet_standin(keras_cache, seed=2)
    with pytest.raises(FeatcacheError, match="Keras's cache here holds other ImageNet weights"):
        Mapper("mobilenet_v2", "imagenet", 32, ["out_relu"], (28, 28), weights_id=want)()


@pytest.mark.slow
def test_multiple_layers_in_one_pass(fashion_dir, tmp_path):
    res = extract(data_dir=str(fashion_dir), out=tmp_path / "m.h5", layers="block_1_expand_relu,block_13_expand_relu,out_relu", **TINY)
    cache = featcache.open_cache(res.path)
    assert cache.layers == ["block_1_expand_relu", "block_13_expand_relu", "out_relu"] and cache.default_layer == "out_relu"
    assert cache.features("train", "block_13_expand_relu").shape == (48, 576)
    # The same numbers as a pass for that layer alone: block_1_expand_relu, whose random-weight features
    # (about 0.1) a wrong row or value changes visibly; out_relu's are about 1e-11.
    single = extract(data_dir=str(fashion_dir), out=tmp_path / "s.h5", layers="block_1_expand_relu", **TINY)
    assert_same_features(cache.features("train", "block_1_expand_relu"), featcache.open_cache(single.path).features("train"))


def test_renamed_weights_file_still_loads(real_weights, fashion_dir, tmp_path):
    renamed = tmp_path / "my_mobilenet.h5"
    renamed.write_bytes(real_weights.read_bytes())
    a = extract(data_dir=str(fashion_dir), weights=str(renamed), image_size=32, out=tmp_path / "a.h5", verbose=False)
    b = extract(data_dir=str(fashion_dir), weights=str(real_weights), image_size=32, out=tmp_path / "b.h5", verbose=False)
    # Same content, same identity: the file name is not part of the fingerprint.
    assert featcache.open_cache(a.path).fingerprint == featcache.open_cache(b.path).fingerprint
    np.testing.assert_allclose(featcache.open_cache(a.path).features("train"), featcache.open_cache(b.path).features("train"), atol=1e-6)


def test_weights_rewritten_in_place_with_their_stamp_kept_are_known_by_their_bytes(real_weights, fashion_dir, tmp_path,
                                                                                   monkeypatch):
    """Regression (helper-311's brief): the weights' identity was remembered by the file's path, size, inode, mtime
    and ctime (backbones.weights_digest). Other weights written over the file in place, of the same size, their mtime
    kept (cp -p), on a file system whose ctime is its mtime (sshfs reports it so), keep every one: a second
    extraction in the process took the old weights' identity, and the cache of the old weights was a hit for the
    new ones, without a word. An extraction hashes its weights at its start now. The file system is simulated (the
    file's stat keeps the first stamp); one float of one kernel differs. Fails on the code before: a hit."""
    import hashlib
    import pathlib

    weights = tmp_path / "w.weights.h5"
    data = bytearray(real_weights.read_bytes())
    weights.write_bytes(bytes(data))
    first = extract(data_dir=str(fashion_dir), weights=str(weights), image_size=32, verbose=False)
    kept, real_stat = weights.stat(), pathlib.Path.stat
    data[len(data) // 2] ^= 0x40  # within layers/conv2d_30's kernel: other weights, the same size
    with open(weights, "r+b") as f:  # in place: the same inode
        f.write(bytes(data))
    monkeypatch.setattr(pathlib.Path, "stat", lambda self, *a, **k: kept if os.path.realpath(self) == os.path.realpath(
        weights) else real_stat(self, *a, **k))
    assert weights.stat() == kept
    second = extract(data_dir=str(fashion_dir), weights=str(weights), image_size=32, verbose=False)
    assert not second.hit and second.path != first.path
    want = "sha256:" + hashlib.sha256(bytes(data)).hexdigest()
    assert featcache.open_cache(second.path).meta["settings"]["weights"] == want
    assert featcache.open_cache(first.path).meta["settings"]["weights"] != want


@pytest.mark.parametrize(
    "backbone, layers, message",
    [
        # the squeeze-and-excitation pooling inside EfficientNet outputs (N, C), not a feature map
        ("efficientnet_b0", "block1a_se_squeeze", "layer 'block1a_se_squeeze' outputs shape (None, 32), not a 4-D feature map"),
        ("mobilenet_v2", "block_13_expand_relux", "(did you mean 'block_13_expand_relu'? "),
        ("mobilenet_v2", "", "--layers is empty"),
        ("mobilenet_v2", "blocks,nope", "unknown layer 'nope'"),
    ],
)
def test_bad_layers_are_one_line_errors_and_write_nothing(fashion_dir, tmp_path, capsys, backbone, layers, message):
    out = tmp_path / "c.h5"
    rc = main(["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32",
               "--backbone", backbone, "--layers", layers, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists() and not partial_path(out).exists()


def test_an_unknown_layer_is_a_short_line_before_the_network_is_built(fashion_dir, capsys, monkeypatch):
    """A new-user tester: '--layers block_13,out_relu' printed "(2 layer(s))", built the network with its weights
    (~10 s), then failed on one line of 3,263 characters listing every layer, suggesting block_13_pad."""
    from featcache.embedding.backbones import Backbone

    def build(self, *args):
        raise AssertionError("the network was built with its weights before its layers were checked")

    monkeypatch.setattr(Backbone, "build", build)
    args = ["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32"]
    assert main([*args, "--layers", "block_13_expand_rel,out_relu"]) == 2
    out, err = capsys.readouterr()
    assert "extracting" not in out, out
    assert err.startswith("featcache extract: error: unknown layer 'block_13_expand_rel' for mobilenet_v2 "
                          "(did you mean 'block_13_expand_relu'? ") and len(err.splitlines()) == 1
    # how to name a layer, not the ~155 names
    assert "block_1 to block_16" in err and "'blocks'" in err and ".summary()" in err and len(err) < 400, err
    # Regression (a review, 2026-12-05): it offered "any feature-map layer ... listed by its .summary()", the layers
    # Keras names by a counter among them, which are refused (mapper.counter_named)
    assert "any feature-map layer" not in err and "not named by Keras's counter (re_lu_3)" in err, err
    assert "Conv1_relu" not in err
    # a block's number beyond the registry's is near the block names, not near a padding layer
    assert main([*args, "--layers", "block_17"]) == 2
    assert "(did you mean 'block_7'? " in capsys.readouterr().err


@pytest.mark.slow
def test_a_block_named_as_probe_shows_it_is_the_same_cache(fashion_dir, tmp_path):
    """--layers block_1 (probe.png's label) caches block_1_expand_relu: the name --layers blocks stores, the same identity."""
    short = extract(data_dir=str(fashion_dir), out=tmp_path / "c.h5", layers="block_1,out_relu", **TINY)
    assert featcache.open_cache(short.path).layers == ["block_1_expand_relu", "out_relu"]
    assert extract(data_dir=str(fashion_dir), out=tmp_path / "c.h5", layers="block_1_expand_relu,out_relu", **TINY).hit


@pytest.mark.slow
def test_blocks_shorthand_and_the_layer_set_is_part_of_the_identity(fashion_dir, tmp_path):
    blocks = extract(data_dir=str(fashion_dir), layers="blocks", **TINY)
    cache = featcache.open_cache(blocks.path)
    assert cache.layers == [f"block_{i}_expand_relu" for i in range(1, 17)] + ["out_relu"]
    assert cache.meta["layer_widths"]["block_13_expand_relu"] == 576 and cache.default_layer == "out_relu"
    final = extract(data_dir=str(fashion_dir), **TINY)
    again = extract(data_dir=str(fashion_dir), layers="out_relu, block_1_expand_relu", **TINY)
    assert len({blocks.path, final.path, again.path}) == 3
    # A layer's numbers are the same whichever other layers share its pass: out_relu (about 1e-11 with
    # random weights) to its own size, block_1_expand_relu (about 0.1) as it is.
    assert_same_features(cache.features("test"), featcache.open_cache(final.path).features("test"), floor=0)
    assert_same_features(cache.features("test", "block_1_expand_relu"),
                         featcache.open_cache(again.path).features("test", "block_1_expand_relu"))


def test_tap_base_refuses_a_layer_that_is_not_a_feature_map():
    from featcache._lazy import keras
    from featcache.embedding.mapper import tap_base

    k = keras()
    inp = k.Input((8, 8, 3))
    x = k.layers.Conv2D(4, 3, name="conv")(inp)
    model = k.Model(inp, k.layers.Dense(2, name="dense")(k.layers.Flatten(name="flat")(x)), name="tiny")
    assert tuple(tap_base(model, ["conv"]).outputs[0].shape[1:]) == (6, 6, 4)
    with pytest.raises(FeatcacheError, match="layer 'flat' outputs shape .* not a 4-D feature map"):
        tap_base(model, ["flat"])
    with pytest.raises(FeatcacheError, match=r"unknown layer 'x' for tiny \(its feature maps: .*conv"):
        tap_base(model, ["x"])


# ---------------------------------------------------------------- the typed parts (issue 12)


def _spec_cases():
    from featcache import (
        FashionMNIST,
        LocalEngine,
        ModelSpec,
        PhotoFolder,
        RayEngine,
        StoreSpec,
    )

    return [
        (lambda: ModelSpec(backbone="vgg99"), "unknown backbone 'vgg99'"),
        (lambda: ModelSpec(weights=""), "^weights must be imagenet, random or a weights file"),
        (lambda: ModelSpec(weights=3), "^weights must be imagenet, random or a weights file"),
        (lambda: ModelSpec(weights="/no/such/file.h5"), "weights file not found: /no/such/file.h5; pass"),
        (lambda: ModelSpec(weights="no/such.h5"), r"weights file not found: no/such.h5 \(looked for /.*/no/such.h5\)"),
        # a folder (or a FIFO: reading one blocks) was called "not found" (an adversarial tester)
        (lambda: ModelSpec(weights="/tmp"), "^weights='/tmp' is a folder, not a weights file; pass the .weights.h5 file with "
                                           "weights=PATH, or weights='imagenet' / weights='random'$"),
        (lambda: ModelSpec(weights="/dev/null"), "^weights='/dev/null' is a device, not a weights file"),
        (lambda: ModelSpec(image_size=0), "^image_size=0 is too small for mobilenet_v2; use 32 to 2048 pixels"),
        (lambda: ModelSpec(image_size=100000), "^image_size=100000 is too large .*; use 32 to 2048 pixels"),
        (lambda: ModelSpec(image_size=32.5), r"^image_size=32.5 is not a whole number; pass e.g. image_size=96$"),
        (lambda: ModelSpec(image_size=True), r"^image_size=True is not a whole number; pass e.g. image_size=96$"),
        (lambda: ModelSpec(layers=","), "^layers is empty"),
        (lambda: ModelSpec(layers=5), "^layers must be layer names"),
        # accepted, then failing inside difflib; "unhashable type: 'list'" (an adversarial tester)
        (lambda: ModelSpec(layers=(1, 2)), r"^layers must be layer names separated by commas, or 'blocks' \(got \(1, 2\)\)"),
        (lambda: ModelSpec(layers=["out_relu", None]), "^layers must be layer names"),
        (lambda: ModelSpec(backbone=["mobilenet_v2"]), r"^backbone must be a backbone's name \(got \['mobilenet_v2'\]\); choose one of: "),
        (lambda: StoreSpec(out=3), "^out must be a file path"),
        # A notebook user: taken, then extract wrote HDF5 caches named "somedir" and "x.txt" (the folder: refused only
        # after the data's digest). The CLI's --out goes through the same StoreSpec (test_cli_out_takes_a_h5_name_alone)
        (lambda: StoreSpec(out="x.txt"),
         r"^StoreSpec\(out='x\.txt'\): a cache is an HDF5 file whose name ends in \.h5 or \.hdf5; use StoreSpec\(out='x\.h5'\)$"),
        (lambda: StoreSpec(out=Path("/no/such/somedir")), r"^StoreSpec\(out='/no/such/somedir'\): .* use StoreSpec\(out='/no/such/somedir\.h5'\)$"),
        (lambda: StoreSpec(out="/tmp"), r"^StoreSpec\(out='/tmp'\) is a folder; name the cache file in it, e\.g\. StoreSpec\(out='/tmp/cache\.h5'\)$"),
        # A name shaped like a block's that is none: known without the network, refused when made; it was taken and
        # refused at extract after the data's digest and Keras's import, 16 s (a notebook user)
        (lambda: ModelSpec(layers="block_99"), r"^unknown layer 'block_99' for mobilenet_v2 \(did you mean 'block_9'\? layers takes blocks block_1 to block_16"),
        (lambda: ModelSpec(layers="out_relu,block_0"), r"^unknown layer 'block_0' for mobilenet_v2 \("),
        (lambda: ModelSpec(backbone="efficientnet_b0", layers="block9a"), r"^unknown layer 'block9a' for efficientnet_b0 \(did you mean"),
        # a block whose layer keeps its full name: that name is the one offered
        (lambda: ModelSpec(backbone="mobilenet_v3_large", layers="expanded_conv_2"),
         r"^unknown layer 'expanded_conv_2' for mobilenet_v3_large \(did you mean 'expanded_conv_2_add'\? "),
        (lambda: StoreSpec(dtype="float64"), "^unknown dtype='float64'; choose one of: float32, float16$"),
        (lambda: StoreSpec(batch_size=0), "^batch_size=0 must be at least 1$"),
        (lambda: StoreSpec(batch_size=True), "^batch_size=True is not a whole number; pass e.g. batch_size=10$"),
        (lambda: FashionMNIST(data_dir=3), "^data_dir must be a folder path"),
        (lambda: FashionMNIST(train_limit=0), "^train_limit=0 must be at least 1$"),
        (lambda: FashionMNIST(test_limit=2.5), "^test_limit=2.5 is not a whole number"),
        # Every spec names its keyword, as Python writes it (an API tester: most named extract's flags); the flag under
        # the CLI (errors.option; test_cli_faults::test_a_cli_error_names_the_flag_and_an_api_error_the_keyword)
        (lambda: PhotoFolder(None), r"^root must be a folder path \(got None\); pass PhotoFolder\(root\) where"),
        (lambda: PhotoFolder("d", test_fraction=1.0), "^test_fraction=1.0 is not a fraction; use a number between 0 and 1, "
                                                      "e.g. test_fraction=0.2$"),
        (lambda: PhotoFolder("d", test_fraction=True), "^test_fraction=True is not a fraction"),
        (lambda: PhotoFolder("d", seed=-1), "^seed=-1 is out of range; use a whole number from 0 to 4294967295"),
        (lambda: PhotoFolder("d", seed=2**32), "^seed=4294967296 is out of range"),
        # accepted by the API while the CLI refused it, and a seed changes the cache's name (an adversarial tester)
        (lambda: PhotoFolder("d", seed=5), r"^seed picks the held-out test images only with test_fraction; .*drop seed \(or add test_fraction=F "),
        (lambda: PhotoFolder("d", seed=0), "^seed picks the held-out test images only with test_fraction;"),
        (lambda: PhotoFolder("d", strict="yes"), "strict must be True or False"),
        (lambda: PhotoFolder("d", test_folder="train"), "test_folder must be one of val, test"),
        (lambda: LocalEngine(runtime=""), "^runtime must be a runtime's name"),
        (lambda: RayEngine(workers=0), "^workers=0 must be at least 1$"),
        (lambda: RayEngine(cpus_per_worker=True), "^cpus_per_worker=True is not a whole number"),
        (lambda: RayEngine(address=""), "^address must be HOST:PORT"),
        (lambda: RayEngine(runtime=None), "^runtime must be a runtime's name"),
    ]


def test_cli_out_takes_a_h5_name_alone(fashion_dir, tmp_path, capsys):
    """extract's --out and StoreSpec(out=) are one rule (layout.check_cache_name, the StoreSpec the CLI makes of its
    flags): an --out without .h5, or a folder, is one line before any work, in the CLI's words; nothing is written."""
    from helpers import run_main

    outs = tmp_path / "outs"
    (outs / "somedir").mkdir(parents=True)
    for out, said in (("x.txt", f"--out {outs / 'x.txt'}: a cache is an HDF5 file whose name ends in .h5 or .hdf5; use --out {outs / 'x.h5'}"),
                      ("somedir", f"--out {outs / 'somedir'} is a folder; name the cache file in it, e.g. --out {outs / 'somedir' / 'cache.h5'}")):
        proc = run_main(capsys, "extract", "--data-dir", str(fashion_dir), "--weights", "random", "--out", str(outs / out))
        assert proc.returncode == 2 and proc.stderr == f"featcache extract: error: {said}\n", proc.stderr
    assert [p.name for p in outs.rglob("*")] == ["somedir"] and not (tmp_path / "home").exists()


def test_a_cache_named_hdf5_or_upper_case_h5_is_hit_and_resumed(fashion_dir, tmp_path, capsys):
    """Regression (a review): extract's --out (StoreSpec(out=)) took a name ending in a lowercase .h5 only, so a user's
    existing feats.hdf5 or x.H5, which train and info read, could no longer be re-run (a hit) or resumed. .h5 and
    .hdf5 in any case are a cache's name (layout.CACHE_SUFFIXES); other suffixes are still refused."""
    import shutil

    from helpers import run_main

    made = extract(data_dir=str(fashion_dir), out=tmp_path / "c.h5", **TINY).path
    for name in ("feats.hdf5", "x.H5", "y.HDF5"):
        out = tmp_path / name
        shutil.copyfile(made, out)  # the user's cache from before, under its name
        proc = run_main(capsys, "extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32",
                        "--out", str(out))
        assert proc.returncode == 0 and "cache hit" in proc.stdout, proc.stderr
        assert featcache.StoreSpec(out=out).out == out
    resumed = tmp_path / "r.Hdf5"
    interrupted_extraction(resumed, data_dir=str(fashion_dir), **TINY)
    res = extract(data_dir=str(fashion_dir), out=resumed, **TINY)
    assert res.path == resumed and not res.hit and 0 < res.images < 72 and not partial_path(resumed).exists()
    for other in ("x.h5x", "x.hdf", "x.h5.txt"):
        with pytest.raises(FeatcacheError, match=r"ends in \.h5 or \.hdf5; use StoreSpec"):
            featcache.StoreSpec(out=tmp_path / other)


@pytest.mark.parametrize("case", range(len(_spec_cases())))
def test_every_spec_check_is_one_line_naming_the_keyword(case):
    make, message = _spec_cases()[case]
    with pytest.raises(FeatcacheError, match=message) as err:
        make()
    assert "\n" not in str(err.value)


def test_specs_are_frozen_and_normalized(tmp_path, monkeypatch):
    import dataclasses

    from featcache import (
        FashionMNIST,
        LocalEngine,
        ModelSpec,
        PhotoFolder,
        RayEngine,
        StoreSpec,
    )

    monkeypatch.chdir(tmp_path)
    Path("d").mkdir()  # a PhotoFolder's folder exists when made
    weights = tmp_path / "w.weights.h5"
    weights.write_bytes(weights_standin(b"x"))
    model = ModelSpec(weights=weights, image_size=32, layers=["block_13_expand_relu", "out_relu"])
    assert model.weights == str(weights) and model.layers == ("block_13_expand_relu", "out_relu")
    assert ModelSpec(layers="blocks").layer_names()[-1] == "out_relu" and ModelSpec().layer_names() == ["out_relu"]
    for spec in (model, StoreSpec(), FashionMNIST(), PhotoFolder("d"), LocalEngine(), RayEngine(workers=2)):
        with pytest.raises(dataclasses.FrozenInstanceError):
            spec.runtime = "x"
    assert hash(model) == hash(ModelSpec(weights=str(weights), image_size=32, layers=("block_13_expand_relu", "out_relu")))
    assert PhotoFolder("d").seed is None and PhotoFolder("d", 0.2).seed == 0 and PhotoFolder("d", 0.2, 7).seed == 7
    # a cache's stored spec records seed 0 without a test fraction: it reopens
    assert PhotoFolder.from_spec(root="d", test_fraction=None, seed=0, strict=False, test_folder=None) == PhotoFolder("d")


def test_engines_factory_is_the_clis_engine_flag():
    from featcache import LocalEngine, RayEngine
    from featcache.embedding import engines

    assert engines.get("local") == LocalEngine() and engines.get("local", runtime="openvino") == LocalEngine(runtime="openvino")
    assert engines.get("ray", workers=2, address=None) == RayEngine(workers=2)
    from featcache.errors import cli_words

    with cli_words(), pytest.raises(FeatcacheError, match="--workers, --address apply only to --engine ray"):
        engines.get("local", workers=2, address="h:1")
    # a Python call's words (extract()'s keyword form reaches engines.get; helper-221)
    with pytest.raises(FeatcacheError, match="^workers, address apply only to engine='ray'; add engine='ray' or drop them$"):
        engines.get("local", workers=2, address="h:1")
    with pytest.raises(FeatcacheError, match="unknown engine 'spark'; choose one of: local, ray"):
        engines.get("spark")


def test_ray_engines_counts_follow_the_typed_settings_rule():
    """Regression (a brief, 2026-12-06): RayEngine's counts had a check of their own; they follow every count of a
    typed setting (validate.positive_int): a whole number, NumPy's too, stored as the int Ray's actor pool takes;
    text through the API and a float are refused as StoreSpec's are (2.0 too since h301: validate.whole_float), and
    a command's text (--workers 2) is read as its number, as every flag's. No Ray is started."""
    from featcache import RayEngine, StoreSpec
    from featcache.errors import cli_words

    engine = RayEngine(workers=np.int64(2), cpus_per_worker=np.int32(1))
    assert (engine.workers, engine.cpus_per_worker) == (2, 1) and type(engine.workers) is int
    assert engine == RayEngine(workers=2, cpus_per_worker=1)
    for bad, words in (("2", "is not a whole number; pass e.g. workers=2$"), (2.5, "is not a whole number"),
                       (2.0, "is not a whole number; pass e.g. workers=2$"), (True, "is not a whole number; pass e.g. workers=2$")):
        with pytest.raises(FeatcacheError, match=f"^workers={bad!r} {words}"):
            RayEngine(workers=bad)
    with pytest.raises(FeatcacheError, match="^batch_size='2' is not a whole number"):  # the rule RayEngine follows
        StoreSpec(batch_size="2")
    with cli_words():  # the command's text, as argparse hands it on: read as its number
        assert RayEngine(workers="2").workers == 2
        with pytest.raises(FeatcacheError, match="^--workers '2.5' is not a whole number"):
            RayEngine(workers="2.5")


@pytest.mark.slow
def test_the_old_keyword_form_warns_and_makes_the_same_cache(fashion_dir, tmp_path):
    from featcache import FashionMNIST, LocalEngine, ModelSpec, StoreSpec

    with pytest.warns(DeprecationWarning, match="keywords .* are deprecated"):
        old = featcache.extract(data_dir=str(fashion_dir), train_limit=20, weights="random", image_size=32, batch_size=16,
                                out=tmp_path / "old.h5")
    new = featcache.extract(FashionMNIST(fashion_dir, train_limit=20), ModelSpec(weights="random", image_size=32),
                            StoreSpec(out=tmp_path / "new.h5", batch_size=16), LocalEngine())
    assert featcache.open_cache(old.path).fingerprint == featcache.open_cache(new.path).fingerprint
    np.testing.assert_array_equal(featcache.open_cache(old.path).features("train"), featcache.open_cache(new.path).features("train"))
    with pytest.warns(DeprecationWarning):  # the old positional data-set name; the same settings: a hit
        assert featcache.extract("fashion_mnist", data_dir=str(fashion_dir), train_limit=20, weights="random", image_size=32,
                                 out=tmp_path / "new.h5").hit
    with pytest.raises(TypeError, match="both model= and its keyword"), pytest.warns(DeprecationWarning):
        featcache.extract(FashionMNIST(fashion_dir), ModelSpec(), weights="random")
    with pytest.raises(TypeError, match="unexpected keyword argument 'weight'"), pytest.warns(DeprecationWarning):
        featcache.extract(weight="random")
    with pytest.raises(FeatcacheError, match=r"^model must be a ModelSpec \(got 'mobilenet_v2'\); pass ModelSpec\(\.\.\.\)"):
        featcache.extract(FashionMNIST(fashion_dir), "mobilenet_v2")


@contextlib.contextmanager
def _no_warning(category: type[Warning]):
    """A block in which a warning of ``category`` is an error: raised, it is no exception a ``pytest.raises`` of
    another kind takes."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", category)
        yield


def test_a_part_of_the_wrong_type_names_its_python_form(tmp_path, monkeypatch):
    """A notebook user's extract(src, spec, "out.h5") was a TypeError "store must be a StoreSpec, not str", and
    extract("/path/to/folder", spec) said "use fashion_mnist, or --images DIR", the CLI's words (a new-user tester).
    Each is one FeatcacheError naming the Python form; a Path given as the source (it has an open()) too."""
    from featcache import FashionMNIST, ModelSpec

    monkeypatch.chdir(tmp_path)
    model = ModelSpec(weights="random", image_size=32)
    (tmp_path / "photos").mkdir()
    with pytest.raises(FeatcacheError, match=r"^store must be a StoreSpec \(got 'out.h5'\); pass StoreSpec\(out='out.h5'\)$"):
        featcache.extract(FashionMNIST(), model, "out.h5")
    with pytest.raises(FeatcacheError, match=r"^engine must be LocalEngine\(\.\.\.\) or RayEngine\(\.\.\.\) \(got 'ray'\); pass "):
        featcache.extract(FashionMNIST(), model, None, "ray")
    with pytest.raises(FeatcacheError, match=r"^source must be .* \(got PosixPath\('photos'\)\); pass PhotoFolder\('photos'\)"):
        featcache.extract(Path("photos"), model)
    with pytest.raises(FeatcacheError, match=r"^unknown data set 'photos' \(data set names: fashion_mnist\); pass a source "
                                             r"as extract's first argument: featcache.FashionMNIST\(\) for Fashion-MNIST or "
                                             r"featcache.PhotoFolder\('photos'\)"), \
            _no_warning(DeprecationWarning):  # of 0.1's keywords, which the call did not pass (a notebook tester)
        featcache.extract("photos", model)
    # a mistyped name is told the nearest valid one, as the CLI's line named fashion_mnist (a reviewer, R11: only
    # PhotoFolder('fashion-mnist') was offered)
    with pytest.raises(FeatcacheError, match=r"^unknown data set 'fashion-mnist' \(did you mean 'fashion_mnist'\?\); pass "), \
            _no_warning(DeprecationWarning):
        featcache.extract("fashion-mnist", model)
    # an output file's name given as the model: ModelSpec(...) there, the file as the third part (a reviewer, R11)
    with pytest.raises(FeatcacheError, match=r"^model must be a ModelSpec \(got 'x.h5'\); pass ModelSpec\(\.\.\.\), e\.g\. .*"
                                             r", and the cache file as the third part, StoreSpec\(out='x.h5'\)$"):
        featcache.extract(FashionMNIST(), "x.h5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]


def test_sources_check_their_folder_when_made(tmp_path):
    """docs/api.md says the settings check themselves when made, but PhotoFolder("/nope") was accepted until extract
    (a new-user tester); FashionMNIST(data_dir=...) as well. The same line extract gave, from the constructor."""
    from featcache import FashionMNIST, PhotoFolder

    # the Python form: it said "pass --images DIR", the CLI's words (a reviewer, R11); then both (a new-user tester)
    with pytest.raises(FeatcacheError, match=rf"^image directory not found: {re.escape(str(tmp_path / 'nope'))}; check the folder "
                                             r"given to PhotoFolder\(root\), where you put each class's"):
        PhotoFolder(tmp_path / "nope")
    (tmp_path / "f").write_text("x")
    with pytest.raises(FeatcacheError, match="^image directory is not a directory: "):
        PhotoFolder(str(tmp_path / "f"))
    with pytest.raises(FeatcacheError, match=f"^data directory not found: {tmp_path / 'nope'}; install it"):
        FashionMNIST(tmp_path / "nope")
    assert PhotoFolder(tmp_path).root == tmp_path
    assert FashionMNIST(make_fashion_dir(tmp_path / "fm"), train_limit=10).train_limit == 10
    with pytest.raises(FeatcacheError, match=r"^train_limit='10' is not a whole number; pass e.g. train_limit=10$"):
        FashionMNIST(make_fashion_dir(tmp_path / "fm"), train_limit="10")  # a number's text: --train-limit's alone
    # a file, and a folder without the IDX files, were "data directory not found" and accepted until extract (an
    # adversarial tester)
    with pytest.raises(FeatcacheError, match=f"^data directory {tmp_path / 'f'} is a file, not a folder; install it"):
        FashionMNIST(tmp_path / "f")
    with pytest.raises(FeatcacheError, match=f"^{tmp_path} lacks the Fashion-MNIST files train-images-idx3-ubyte.gz"):
        FashionMNIST(tmp_path)


def test_a_part_given_as_its_class_is_one_line(tmp_path):
    """extract(src, model, store, LocalEngine): the class, not an instance, passed the engine check and ended in
    "check() missing 1 required positional argument: 'self'" (an adversarial tester)."""
    from featcache import FashionMNIST, LocalEngine, ModelSpec, RayEngine, StoreSpec

    parts = [FashionMNIST(), ModelSpec(weights="random", image_size=32), StoreSpec(out=tmp_path / "c.h5"), LocalEngine()]
    for i, cls in [(0, FashionMNIST), (1, ModelSpec), (2, StoreSpec), (3, LocalEngine), (3, RayEngine)]:
        name = ("source", "model", "store", "engine")[i]
        with pytest.raises(FeatcacheError, match=rf"^{name} is the class {cls.__name__}, not one made from it; pass {cls.__name__}\(\.\.\.\)"):
            featcache.extract(*parts[:i], cls, *parts[i + 1:])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_runtime_is_recorded_but_not_part_of_the_identity(fashion_dir, tmp_path, capsys):
    out = tmp_path / "c.h5"
    assert main(["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32", "--out", str(out),
                 "--runtime", "tensorflow"]) == 0
    assert "images/s, runtime tensorflow;" in capsys.readouterr().out
    cache = featcache.open_cache(out)
    assert cache.meta["runtime"] == "tensorflow" and "runtime" not in cache.meta["settings"]
    out.unlink()
    assert main(["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32", "--out", str(out), "--json"]) == 0
    import json

    res = json.loads(capsys.readouterr().out)
    assert res["runtime"] in ("tensorflow", "onnxruntime", "openvino") and res["images_per_s"] > 0 and res["images"] == 72
    assert res["cached"] == cache.sizes == {"train": 48, "test": 24}
    assert featcache.open_cache(out).fingerprint == cache.fingerprint
    assert main(["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32", "--out", str(out), "--json"]) == 0
    hit = json.loads(capsys.readouterr().out)
    assert hit["runtime"] is None and hit["images"] == 0  # a hit: nothing ran
    assert hit["cached"] == {"train": 48, "test": 24}  # ... and what the cache holds (a new user saw only "images": 0)


def test_fashion_mnist_rows_carry_their_content_digest(fashion_dir, tmp_path):
    import hashlib

    from featcache import FashionMNIST, ModelSpec, StoreSpec
    from featcache.sources import fashion_mnist

    res = featcache.extract(FashionMNIST(fashion_dir), ModelSpec(weights="random", image_size=32), StoreSpec(out=tmp_path / "c.h5"))
    pixels = fashion_mnist.load(fashion_dir).splits["test"].read(0, 24)
    with h5py.File(res.path) as f:
        stored = [d.decode() for d in f["test/digests"][()]]
    assert stored == [hashlib.sha256(x.tobytes()).hexdigest() for x in pixels] and len(set(stored)) == 24


def test_non_finite_features_are_refused_before_they_are_written():
    from featcache.embedding.batches import Batch
    from featcache.embedding.runner import check_finite

    good = {"out_relu": np.ones((4, 3), np.float32), "featcache:problem": np.array(["", "x", "", ""], dtype=object)}
    check_finite(good, "w.h5", Batch("train", 0, 4))
    for bad in (np.nan, np.inf):
        x = np.ones((4, 3), np.float32)
        x[2, 1] = bad
        with pytest.raises(FeatcacheError, match=r"the weights w.h5 give NaN or infinite features \(layer out_relu, train rows 8-11\)"):
            check_finite({"out_relu": x}, "w.h5", Batch("train", 8, 12))


# ---------------------------------------------------------------- bad input through the CLI: one line, exit 2 (issue 13)


def assert_one_line(proc: subprocess.CompletedProcess, message: str) -> None:
    err = proc.stderr.strip()
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(err.splitlines()) == 1, proc.stderr
    assert message in err, err


@pytest.mark.parametrize("size, message", [
    ("0", "--image-size 0 is too small for mobilenet_v2; use 32 to 2048 pixels"),  # was silently the default, 96
    ("100000", "--image-size 100000 is too large (its activations would not fit in memory); use 32 to 2048 pixels"),
])
def test_image_size_out_of_range(fashion_dir, size, message, capsys):
    assert_one_line(run_main(capsys, "extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", size), message)


@pytest.mark.parametrize("header", [8, 12])
def test_idx_file_cut_inside_its_header(fashion_dir, header, capsys):
    import gzip

    img = fashion_dir / "train-images-idx3-ubyte.gz"
    raw = gzip.open(img).read()
    with gzip.open(img, "wb") as f:
        f.write(raw[:header])
    assert_one_line(run_main(capsys, "extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32"),
                    f"ends inside its IDX header ({header} bytes, 16 needed); it is truncated")


def test_an_idx_file_is_read_no_further_than_its_header_declares(fashion_dir, capsys):
    """An adversarial tester: a 23 MB gzip of 5 GB as train-images was read whole (10.7 GB of memory at peak; under a
    4 GB limit a MemoryError traceback) before its size was compared with its header's. The reader stops one byte
    past what the header declares, and a header declaring more than an IDX file of images holds is one line."""
    import gzip
    import struct

    img = fashion_dir / "train-images-idx3-ubyte.gz"
    n = struct.unpack(">I", gzip.open(img).read(8)[4:])[0]
    declared = n * 28 * 28
    with gzip.open(img, "wb", compresslevel=1) as f:  # the header and 8x the data it declares, of zeros
        f.write(struct.pack(">IIII", 0x803, n, 28, 28))
        for _ in range(8):
            f.write(bytes(declared))
    assert_one_line(run_main(capsys, "extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32"),
                    f"holds more than {declared} bytes of data, expected {declared} for shape ({n}, 28, 28)")
    with gzip.open(img, "wb") as f:
        f.write(struct.pack(">IIII", 0x803, 4_000_000_000, 60000, 60000))
    assert_one_line(run_main(capsys, "extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32"),
                    "declares 14,400,000,000,000,000,000 bytes of data (shape (4000000000, 60000, 60000)), more than an IDX file")


@pytest.mark.parametrize("seed, message", [
    ("-1", "--seed -1 is out of range; use a whole number from 0 to 4294967295"),
    ("4294967296", "--seed 4294967296 is out of range; use a whole number from 0 to 4294967295"),
    ("3", "--seed applies to class-folder photos only; add --images DIR"),
])
def test_seed_out_of_range(tmp_path, fashion_dir, seed, message, capsys):
    from helpers import make_class_tree

    root = make_class_tree(tmp_path / "d", {"a": 3, "b": 3})
    where = ["--images", str(root), "--test-fraction", "0.3"] if seed != "3" else ["--data-dir", str(fashion_dir)]
    assert_one_line(run_main(capsys, "extract", *where, "--weights", "random", "--image-size", "32", "--seed", seed), message)


@pytest.mark.slow
def test_nan_weights_stop_the_extraction_naming_the_file(real_weights, fashion_dir, tmp_path, capfd):
    """A weights file with one NaN kernel: every feature would be NaN; the extraction stops at the first batch.

    In this process (run_main), not a new interpreter that imported TensorFlow again (~8 s of CPU); capfd, not capsys,
    so a native line on file descriptor 2 would count against the one line as it did from a process's stderr. The
    file is the real weights with Conv1's kernel (Keras's layers/conv2d) set to NaN in place, by h5py: a network built
    here and saved (1-3 s) only to be loaded again gave the same file of another network's numbers."""
    weights = tmp_path / "nan.weights.h5"
    shutil.copyfile(real_weights, weights)
    with h5py.File(weights, "r+") as f:
        kernel = f["layers/conv2d/vars/0"]  # Conv1, the network's first convolution: (3, 3, 3, 32)
        assert kernel.shape == (3, 3, 3, 32)
        kernel[...] = np.nan
    out = tmp_path / "c.h5"
    proc = run_main(capfd, "extract", "--data-dir", str(fashion_dir), "--weights", str(weights), "--image-size", "32", "--out", str(out))
    assert_one_line(proc, f"the weights {weights} give NaN or infinite features (layer out_relu, train rows 0-47)")
    assert not out.exists()


def test_large_images_run_in_fewer_images_per_pass_with_the_same_features(tmp_path, monkeypatch, capsys):
    """--image-size 2048 with the default batch of 64 wanted about 75 GB and died with exit 139, no message (an
    adversarial tester): a pass holds at most PASS_MEMORY of activations, and the features do not change.
    The lowered batch is a note, said with the progress off (as here, conftest's setting): a status line, it was
    hidden by FEATCACHE_PROGRESS=off (a review, 2026-12-05)."""
    import featcache.embedding.runner as runner
    from helpers import make_fashion_dir

    from featcache.embedding import batches, passes

    def per_pass(batch_size: int, size: int) -> int:
        return passes.images_per_pass(batch_size, size).images

    assert per_pass(64, 96) == per_pass(64, 224) == 64  # the lesson's and photos' sizes
    assert per_pass(64, 2048) == 1 and per_pass(64, 1024) < 8
    assert per_pass(5, 1024) == 5  # a smaller --batch-size stays
    data = make_fashion_dir(tmp_path / "d", n_train=20, n_test=7)
    common = dict(data_dir=str(data), weights="random", image_size=48, layers="block_1_expand_relu")  # random weights: an early layer
    ref = extract(out=tmp_path / "ref.h5", batch_size=64, **common)
    sizes = []
    real_plan = batches.plan
    monkeypatch.setattr(runner, "plan", lambda rows, done, per_batch: sizes.append(per_batch) or real_plan(rows, done, per_batch))
    assert extract(out=tmp_path / "ref2.h5", batch_size=64, **common) and sizes == [64]  # the spy sees the batches
    monkeypatch.setattr(passes, "PASS_MEMORY", 3 * passes.INFERENCE_BYTES_PER_PIXEL * 48 * 48)  # room for 3 images of 48 px
    capsys.readouterr()
    small = extract(out=tmp_path / "small.h5", batch_size=64, verbose=True, **common)
    assert sizes == [64, 3]
    assert "3 images per forward pass, not batch_size=64: at 48 px more would need over" in capsys.readouterr().err
    for split in ("train", "test"):
        assert_same_features(featcache.open_cache(small.path).features(split), featcache.open_cache(ref.path).features(split))


def test_a_default_cache_name_too_long_names_the_folder_and_asks_for_out(tmp_path, capsys):
    """Regression (an adversarial tester): extract --images of a folder named with 230 characters, no --out, said
    "the name is too long for the file system ...; use a shorter name" of a name the user never gave. The line now
    says the default name, made from the folder's, is too long, and to give --out; nothing is written."""
    from helpers import make_class_tree

    from featcache import paths

    root = make_class_tree(tmp_path / ("p" * 230), {"ants": 2, "bees": 2})
    res = run_main(capsys, "extract", "--images", str(root), "--test-fraction", "0.5", "--weights", "random",
                   "--image-size", "32")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith(f"featcache extract: error: the default cache file name, made from the folder name {'p' * 40}..., "
                           "is too long (")
    assert line.endswith("a file name holds at most 255); name the cache with --out NAME.h5")  # the CLI's words alone
    assert not paths.cache_dir().exists() or not any(paths.cache_dir().iterdir())


@pytest.mark.parametrize("source, when", [("fashion", "write"), ("photos", "write"), ("fashion", "build"),
                                          ("fashion", "seal")])
def test_a_file_put_at_out_during_the_extraction_is_never_replaced(fashion_dir, tmp_path, capsys, monkeypatch, source,
                                                                   when):
    """An adversarial tester: a user's notes (or a cache of other settings, a renamed partial) written to --out while
    an extract ran were replaced by the new cache, exit 0: what is at --out was checked only when the run began, and
    another program takes no featcache lock. Now one line; the file is left as it is, the rows stay in the partial,
    and the same command finishes the cache once the file is moved away. As the rows are written, while the network
    is built (a review: the writer took what was there only once the network was built), or as the cache is sealed."""
    from helpers import make_class_tree

    from featcache.embedding import runner as runner_mod
    from featcache.store import writer as writer_mod

    out = tmp_path / "c.h5"
    args = (["--data-dir", str(fashion_dir)] if source == "fashion"
            else ["--images", str(make_class_tree(tmp_path / "photos", {"ants": 4, "bees": 4}, size=16)), "--test-fraction", "0.5"])
    owner, name = {"write": (writer_mod.CacheWriter, "write"), "build": (runner_mod, "_build"),
                   "seal": (writer_mod, "_seal")}[when]
    real = getattr(owner, name)

    def meanwhile(*a, **kw):  # meanwhile, another program writes the user's notes at --out
        out.write_text("my notes\n") if not out.exists() else None
        return real(*a, **kw)

    monkeypatch.setattr(owner, name, meanwhile)
    argv = ["extract", *args, "--weights", "random", "--image-size", "32", "--out", str(out)]
    proc = run_main(capsys, *argv)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"{out} was put there by another program during the extraction, so it was left untouched" in proc.stderr
    assert out.read_text() == "my notes\n" and partial_path(out).exists()
    monkeypatch.setattr(owner, name, real)
    out.rename(tmp_path / "notes.txt")
    assert run_main(capsys, *argv).returncode == 0 and featcache.open_cache(out).sizes["train"] > 0
    assert (tmp_path / "notes.txt").read_text() == "my notes\n" and not partial_path(out).exists()


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_extract_says_once_that_it_waits_for_another_writer_with_the_progress_off(fashion_dir, tmp_path, capsys,
                                                                                 monkeypatch, json_flag):
    """A review: nothing tested extract's own line that it waits for another writer's lock, now said once the wait
    lasts a second, with FEATCACHE_PROGRESS=off too (a wait without a word looks like a hang); --json waited in
    silence. The JSON stays alone on stdout. The holder lets go once the wait is said (20 s at most)."""
    import threading

    from featcache.store import lock as lock_mod
    from featcache.store.lock import exclusive_lock

    out = tmp_path / "c.h5"
    held, release = threading.Event(), threading.Event()

    def holder():
        with exclusive_lock(out):
            held.set()
            release.wait(30)

    real = lock_mod._say_waiting

    def said(line, stream):
        real(line, stream)
        release.set()

    monkeypatch.setattr(lock_mod, "_say_waiting", said)
    t = threading.Thread(target=holder)
    t.start()
    held.wait(10)
    timer = threading.Timer(20, release.set)
    timer.start()
    proc = run_main(capsys, "extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32",
                    "--out", str(out), *json_flag)
    t.join()
    timer.cancel()
    assert proc.returncode == 0, proc.stderr
    waits = [line for line in proc.stderr.splitlines() if "waiting for another featcache process" in line]
    assert len(waits) == 1 and f"writing {out} ... (held by process {os.getpid()})" in waits[0], proc.stderr
    if json_flag:
        assert json.loads(proc.stdout)["path"] == str(out)


# -- extract --force (the session's brief, 2026-12-05: a cache of other settings at --out could only be deleted by
# hand; train, export and finetune had --force) --------------------------------------------------------------------

FORCE_ARGS = ["--weights", "random", "--runtime", "tensorflow"]


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_extract_force_replaces_a_cache_of_other_settings_only_once_the_new_one_is_sealed(fashion_dir, tmp_path,
                                                                                          capsys, monkeypatch):
    """Without --force a cache of other settings at --out is refused, naming --force; with it the new cache is
    written at its partial's name and renamed over the old one only once sealed: an interrupt just before the
    rename leaves the old cache byte for byte, and the same command then finishes and replaces it, saying what it
    replaced and what that was made from (the line and --json), as train says of a head it replaces."""
    from featcache.store import writer as writer_mod

    out = tmp_path / "c.h5"
    base = ["extract", "--data-dir", str(fashion_dir), *FORCE_ARGS, "--out", str(out)]
    assert run_main(capsys, *base, "--image-size", "32").returncode == 0
    with h5py.File(out, "r") as f:
        old_fp = f.attrs["fingerprint"]
    before = _sha(out)
    proc = run_main(capsys, *base, "--image-size", "48")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr == (f"featcache extract: error: {out} holds a cache made with other settings (differs in: image_size); "
                           "choose another --out, or pass --force to replace it once the new cache is complete (it was "
                           "left untouched)\n")
    real = writer_mod.publish

    def interrupted(tmp, path, *a, **kw):  # Ctrl-C after the seal, just before the rename over the old cache
        if Path(path) == out:
            raise KeyboardInterrupt
        return real(tmp, path, *a, **kw)

    monkeypatch.setattr(writer_mod, "publish", interrupted)
    with pytest.raises(KeyboardInterrupt):
        extract(data_dir=str(fashion_dir), out=out, force=True, weights="random", image_size=48)
    assert _sha(out) == before and partial_path(out).exists()  # the old cache untouched, the new rows kept
    monkeypatch.setattr(writer_mod, "publish", real)
    # the old cache's own command meanwhile: a hit, which leaves the stopped run's partial (another extraction's
    # work: the hit's tidying deleted any featcache partial beside the cache)
    assert run_main(capsys, *base, "--image-size", "32").stdout.startswith("cache hit: ")
    assert partial_path(out).exists()
    proc = run_main(capsys, *base, "--image-size", "48", "--force")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("extracted 0 images ")  # the stopped run's sealed rows, resumed, not redone
    assert proc.stdout.rstrip().endswith(f"; replaced the cache of other settings there (differs in: image_size) -> {out}")
    assert (f"--force: {out}, the cache of other settings (differs in: image_size), is replaced once this cache is "
            "complete (and kept if the run stops before)") in proc.stderr
    with h5py.File(out, "r") as f:
        assert int(f.attrs["image_size"]) == 48 and bool(f.attrs["complete"])
    assert not partial_path(out).exists()
    # --json: what was replaced and what it was made from
    proc = run_main(capsys, *base, "--image-size", "32", "--force", "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0 and doc["replaced"] is True and doc["replaced_from"] == "other settings"
    assert doc["replaced_cache"]["complete"] is True and doc["replaced_cache"]["detail"] == "differs in: image_size"
    with h5py.File(out, "r") as f:
        assert f.attrs["fingerprint"] == old_fp  # the 32 px cache again: the same fingerprint as the first


def test_a_hit_says_the_runtime_named_did_not_run_and_what_made_the_cache(fashion_dir, tmp_path, capsys):
    """A cache hit with --runtime named printed "nothing to do" and --json "runtime": null alone: a user timing
    runtimes read `--runtime openvino --out fm/tensorflow.h5` as openvino's run (a brief). The hit line says the runtime
    named did not run and what made the cache, as its provenance records; --json keeps runtime null (nothing ran) and
    adds cache_runtime, as the API's result does. auto names no runtime: the line is as it was."""
    out = tmp_path / "tensorflow.h5"
    base = ["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32", "--out", str(out)]
    made = run_main(capsys, *base, "--runtime", "tensorflow", "--json")
    assert made.returncode == 0 and json.loads(made.stdout)["cache_runtime"] == "tensorflow", made
    proc = run_main(capsys, *base, "--runtime", "onnxruntime")
    assert proc.returncode == 0 and proc.stdout == (
        f"cache hit: {out} already holds these features; nothing to do; --runtime onnxruntime did not run: the cache "
        "was made by tensorflow (as its provenance records); to time onnxruntime, give another --out\n"), proc
    doc = json.loads(run_main(capsys, *base, "--runtime", "onnxruntime", "--json").stdout)
    assert doc["hit"] is True and doc["runtime"] is None and doc["cache_runtime"] == "tensorflow"
    assert run_main(capsys, *base).stdout == f"cache hit: {out} already holds these features; nothing to do\n"
    # the API: its result says the same, and its line names the API's keywords
    res = featcache.extract(featcache.FashionMNIST(data_dir=str(fashion_dir)),
                            featcache.ModelSpec(weights="random", image_size=32), featcache.StoreSpec(out=out),
                            featcache.LocalEngine(runtime="onnxruntime"), verbose=True)
    assert res.hit and res.runtime is None and res.cache_runtime == "tensorflow"
    assert capsys.readouterr().out == (
        f"cache hit: {out} already holds these features; nothing to do; runtime='onnxruntime' did not run: the cache "
        "was made by tensorflow (as its provenance records); to time onnxruntime, give another StoreSpec(out=...)\n")


def test_a_hit_keeps_the_partial_of_a_stopped_force_run_of_other_settings(fashion_dir, tmp_path, capsys, monkeypatch):
    """An extract --force of other settings stopped mid-rows leaves its partial beside the cache it was to replace;
    the hit of that cache's own command tidied any featcache partial beside it away, deleting the stopped run's rows
    (found writing --force). It stays now, and the --force run resumes it."""
    from featcache.store import writer as writer_mod

    out = tmp_path / "c.h5"
    base = ["extract", "--data-dir", str(fashion_dir), *FORCE_ARGS, "--batch-size", "16", "--out", str(out)]
    assert run_main(capsys, *base, "--image-size", "32").returncode == 0
    real, calls = writer_mod.CacheWriter.write, []

    def stopped(self, *a, **kw):  # Ctrl-C at the third batch: two batches' rows kept in the partial
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, *a, **kw)

    monkeypatch.setattr(writer_mod.CacheWriter, "write", stopped)
    with pytest.raises(KeyboardInterrupt):
        extract(data_dir=str(fashion_dir), out=out, force=True, weights="random", image_size=48, batch_size=16)
    monkeypatch.setattr(writer_mod.CacheWriter, "write", real)
    with h5py.File(partial_path(out), "r") as f:
        assert not f.attrs["complete"] and int(f["train"].attrs["rows_done"]) == 32
    assert run_main(capsys, *base, "--image-size", "32").stdout.startswith("cache hit: ")
    assert partial_path(out).exists()
    proc = run_main(capsys, *base, "--image-size", "48", "--force")
    assert proc.returncode == 0 and proc.stdout.startswith("extracted 40 images "), proc  # 72 less the 32 kept
    assert featcache.open_cache(out).meta["image_size"] == 48


def test_extract_force_with_a_cache_of_these_settings_is_still_a_hit(fashion_dir, tmp_path, capsys):
    """--force says what may be replaced, as train's does, not "compute again": the same settings are a hit, said
    so, and the file is not touched."""
    out = tmp_path / "c.h5"
    base = ["extract", "--data-dir", str(fashion_dir), *FORCE_ARGS, "--image-size", "32", "--out", str(out)]
    assert run_main(capsys, *base).returncode == 0
    st = os.stat(out)
    proc = run_main(capsys, *base, "--force")
    assert proc.returncode == 0 and proc.stdout == (f"cache hit: {out} already holds these features; nothing to do; "
                                                    "--force replaces only a cache of other settings; --runtime tensorflow "
                                                    "did not run again: the cache was made by it (as its provenance "
                                                    "records); to time it again, give another --out\n"), proc
    assert (os.stat(out).st_ino, os.stat(out).st_mtime_ns) == (st.st_ino, st.st_mtime_ns)
    doc = json.loads(run_main(capsys, *base, "--force", "--json").stdout)
    assert doc["hit"] is True and doc["replaced"] is False and doc["replaced_cache"] is None


def test_extract_force_replaces_an_incomplete_cache_of_another_data_set_and_says_so(fashion_dir, tmp_path, capsys):
    """An incomplete cache of other settings at --out (a partial of another extraction, renamed there) is refused
    naming --force; with it, it is replaced, said as the incomplete cache of another data set (which one)."""
    from helpers import make_class_tree

    photos = make_class_tree(tmp_path / "photos", {"ants": 2, "bees": 2}, size=16)
    out = tmp_path / "c.h5"
    # what `mv a.h5.partial.h5 c.h5` leaves: a run stopped with every row written, before its seal
    os.rename(interrupted_extraction(tmp_path / "a.h5", None, images=str(photos), test_fraction=0.5, weights="random",
                                     image_size=32), out)
    before = _sha(out)
    base = ["extract", "--data-dir", str(fashion_dir), *FORCE_ARGS, "--image-size", "32", "--out", str(out)]
    proc = run_main(capsys, *base)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "pass --force to replace it" in proc.stderr
    assert _sha(out) == before
    proc = run_main(capsys, *base, "--force", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["replaced"] is True and doc["replaced_from"] == "another data set" and doc["replaced_incomplete"] is None
    assert doc["replaced_cache"]["complete"] is False
    assert doc["replaced_cache"]["detail"].startswith("photos: ants, bees; an unfinished extraction of a.h5, copied or "
                                                      "renamed, 4 of 4 images done; differs in: ")
    assert featcache.open_cache(out).sizes == {"train": 48, "test": 24}


def test_extract_force_moves_a_partial_of_other_settings_aside_and_never_resumes_it(fashion_dir, tmp_path, capsys):
    """An interrupted extraction of other settings at --out's partial name: refused without --force (naming it);
    with it, moved to a free sibling, .other-settings-<UTC time>, said in one line whatever --json, and never resumed
    as these settings' rows nor deleted (it may be hours of someone's work; renamed back, it resumes)."""
    out = tmp_path / "c.h5"
    interrupted_extraction(out, data_dir=str(fashion_dir), weights="random", image_size=48)  # a 48 px run into c.h5
    before = _sha(partial_path(out))
    base = ["extract", "--data-dir", str(fashion_dir), *FORCE_ARGS, "--image-size", "32", "--out", str(out)]
    proc = run_main(capsys, *base)
    assert proc.returncode == 2 and proc.stderr == (
        f"featcache extract: error: {partial_path(out)} holds an interrupted extraction made with other settings "
        "(differs in: image_size); choose another --out, or pass --force to move it aside (it was left untouched)\n")
    proc = run_main(capsys, *base, "--force", "--json")
    assert proc.returncode == 0, proc.stderr
    aside = Path(json.loads(proc.stdout)["partial_set_aside"])
    assert re.fullmatch(r"c\.h5\.partial\.h5\.other-settings-\d{8}T\d{6}Z", aside.name) and _sha(aside) == before
    # The advice is store.reader.resume_words', as info's and extract's: it said "rename it back to resume it" without
    # the --force that needs once c.h5 holds the new cache (an adversarial tester)
    assert (f"--force moved it to {aside} (no rerun resumes it under this name; to resume it, move it back to "
            "c.h5.partial.h5 beside c.h5 and re-run the extract command that writes c.h5, with --force where c.h5 holds "
            "a cache of other settings; or delete it)") in proc.stderr
    assert featcache.open_cache(out).meta["image_size"] == 32 and not partial_path(out).exists()
    assert json.loads(proc.stdout)["replaced"] is False  # nothing was at --out
    # and the advice holds: moved back, its own command with --force finishes it, replacing the 32 px cache
    os.rename(aside, partial_path(out))
    back = ["extract", "--data-dir", str(fashion_dir), *FORCE_ARGS, "--image-size", "48", "--out", str(out)]
    assert run_main(capsys, *back).returncode == 2  # without --force: c.h5 holds a cache of other settings
    proc = run_main(capsys, *back, "--force", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["partial_set_aside"] is None, proc.stderr
    assert featcache.open_cache(out).meta["image_size"] == 48 and not partial_path(out).exists()


def test_a_partial_with_rows_and_no_fingerprint_is_refused_then_set_aside_by_force_never_deleted(fashion_dir, tmp_path,
                                                                                                 capsys):
    """Regression (a reviewer, 2026-12-06): an interrupted extraction whose fingerprint attribute is gone (an older
    featcache's, or an edited file) was refused "pass --force to move it aside (it was left untouched)", and with
    --force its rows were deleted, silently (partial.someone_elses took any partial with no fingerprint for a crash
    stub). The refusal and the --force action are one rule now: it is moved aside, said, its bytes kept."""
    out = tmp_path / "c.h5"
    interrupted_extraction(out, data_dir=str(fashion_dir), weights="random", image_size=32, batch_size=8)
    with h5py.File(partial_path(out), "r+") as f:
        assert sum(int(g.attrs["rows_done"]) for g in f.values()) > 0  # it holds rows
        del f.attrs["fingerprint"]
    before = _sha(partial_path(out))
    base = ["extract", "--data-dir", str(fashion_dir), *FORCE_ARGS, "--image-size", "32", "--batch-size", "8",
            "--out", str(out)]
    proc = run_main(capsys, *base)
    assert proc.returncode == 2 and "pass --force to move it aside (it was left untouched)" in proc.stderr, proc.stderr
    assert _sha(partial_path(out)) == before
    proc = run_main(capsys, *base, "--force", "--json")
    assert proc.returncode == 0, proc.stderr
    aside = json.loads(proc.stdout)["partial_set_aside"]
    assert aside is not None and Path(aside).name.startswith("c.h5.partial.h5.other-settings-"), proc.stderr
    assert _sha(Path(aside)) == before and f"--force moved it to {aside}" in proc.stderr
    assert featcache.open_cache(out).sizes["train"] > 0 and not partial_path(out).exists()


def test_an_interrupted_extraction_of_another_train_limit_is_refused_and_set_aside_never_deleted(fashion_dir, tmp_path,
                                                                                                  capsys):
    """Regression (an adversarial tester, 2026-12-06): a partial of --train-limit 40 met by a run of --train-limit 24
    into the same --out differs in data_digest alone (Fashion-MNIST's limits live there), was taken for "the same
    extraction, of data changed since" and deleted ("the partial file is from other settings; starting it over"),
    exit 0, --force or not (no .other-settings-<time> either). Now it is refused as any other settings' partial is,
    naming the limit, and --force moves it aside."""
    out = tmp_path / "c.h5"
    interrupted_extraction(out, data_dir=str(fashion_dir), weights="random", image_size=32, train_limit=40, batch_size=8)
    before = _sha(partial_path(out))
    base = ["extract", "--data-dir", str(fashion_dir), *FORCE_ARGS, "--image-size", "32", "--batch-size", "8",
            "--train-limit", "24", "--out", str(out)]
    proc = run_main(capsys, *base)
    assert proc.returncode == 2 and proc.stderr == (
        f"featcache extract: error: {partial_path(out)} holds an interrupted extraction made with other settings "
        "(differs in: the data: train_limit 40 -> 24); choose another --out, or pass --force to move it aside (it was "
        "left untouched)\n"), proc.stderr
    assert _sha(partial_path(out)) == before and not out.exists()
    proc = run_main(capsys, *base, "--force", "--json")
    assert proc.returncode == 0, proc.stderr
    aside = Path(json.loads(proc.stdout)["partial_set_aside"])
    assert aside.name.startswith("c.h5.partial.h5.other-settings-") and _sha(aside) == before
    assert "an interrupted extraction of other settings; --force moved it to" in proc.stderr
    assert featcache.open_cache(out).sizes["train"] == 24 and not partial_path(out).exists()


@pytest.mark.parametrize("force", [False, True])
def test_an_interrupted_extraction_of_data_edited_since_is_started_over_said_in_one_line(fashion_dir, tmp_path, capsys,
                                                                                          force):
    """The one partial of other settings a run starts over: these very settings over files edited since (the same
    folder, the same limits). A reviewer (2026-12-06): it was moved to .other-settings-<time> on every re-run, piling
    up copies nothing removed, and a re-run on a nearly full disk that had finished failed; its rows resume only were
    the whole data as it was. It is deleted again (as before 4fe03f2), --force or not, said truthfully in one line
    (it was "the partial file is from other settings; starting it over", then a garbled set-aside warning)."""
    out = tmp_path / "c.h5"
    interrupted_extraction(out, data_dir=str(fashion_dir), weights="random", image_size=32, batch_size=8)
    with h5py.File(partial_path(out), "r") as f:
        done = sum(int(f[s].attrs["rows_done"]) for s in ("train", "test"))
    make_fashion_dir(fashion_dir, seed=1)  # the same files, other pixels
    proc = run_main(capsys, "extract", "--data-dir", str(fashion_dir), *FORCE_ARGS, "--image-size", "32",
                    "--batch-size", "8", "--out", str(out), *(["--force"] if force else []))
    assert proc.returncode == 0, proc.stderr
    assert (f"the data changed since the interrupted extraction of {out} (its {done} rows are of the files as they "
            "were); starting it over") in proc.stderr, proc.stderr
    assert "other settings" not in proc.stderr and done > 0
    # was: c.h5.partial.h5.other-settings-<time> too, one more on each re-run
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith("c.h5")) == ["c.h5"]
    assert featcache.open_cache(out).sizes == {"train": 48, "test": 24}


def test_extract_json_says_the_interrupted_extraction_of_data_edited_since_it_started_over(fashion_dir, tmp_path, capsys):
    """--json said nothing of the partial of these settings over files edited since that the run deleted and started
    over: the line is stderr's, and --json runs quiet, so a script saw only a cache of new rows. Now
    ``partial_started_over``: the rows it held; null where a run started nothing over (a resume, a hit)."""
    out = tmp_path / "c.h5"
    interrupted_extraction(out, data_dir=str(fashion_dir), weights="random", image_size=32, batch_size=8)
    with h5py.File(partial_path(out), "r") as f:
        done = sum(int(f[s].attrs["rows_done"]) for s in ("train", "test"))
    make_fashion_dir(fashion_dir, seed=1)  # the same files, other pixels
    argv = ["extract", "--data-dir", str(fashion_dir), *FORCE_ARGS, "--image-size", "32", "--batch-size", "8",
            "--out", str(out), "--json"]
    proc = run_main(capsys, *argv)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert done > 0 and doc["partial_started_over"] == done and doc["partial_set_aside"] is None  # was: no such key
    assert doc["images"] == 72 and sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("c.h5")) == ["c.h5"]
    proc = run_main(capsys, *argv)  # a hit: nothing started over
    assert proc.returncode == 0 and json.loads(proc.stdout)["hit"] is True, proc.stderr
    assert json.loads(proc.stdout)["partial_started_over"] is None


def test_extract_json_counts_the_images_a_resume_took_from_the_interrupted_run(fashion_dir, tmp_path, capsys):
    """``resumed_images`` in --json had no test (helper-232's review): a run resuming an interrupted extraction says
    how many images the interrupted run had embedded (its partial's rows), the rest embedded now; a hit resumed none."""
    out = tmp_path / "c.h5"
    interrupted_extraction(out, batches=2, data_dir=str(fashion_dir), weights="random", image_size=32, batch_size=8)
    with h5py.File(partial_path(out), "r") as f:
        done = sum(int(f[s].attrs["rows_done"]) for s in ("train", "test"))
    argv = ["extract", "--data-dir", str(fashion_dir), *FORCE_ARGS, "--image-size", "32", "--batch-size", "8",
            "--out", str(out), "--json"]
    proc = run_main(capsys, *argv)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert 0 < done < doc["images"] and doc["resumed_images"] == done, (done, doc)
    assert doc["partial_started_over"] is None and not partial_path(out).exists()
    proc = run_main(capsys, *argv)  # a hit: nothing resumed
    assert proc.returncode == 0 and json.loads(proc.stdout)["hit"] is True, proc.stderr
    assert json.loads(proc.stdout)["resumed_images"] == 0


@pytest.mark.parametrize("what", ["a FIFO", "a link to /dev/zero"])
def test_a_partial_replaced_while_the_network_is_built_is_one_line_and_left_alone(fashion_dir, tmp_path, capsys,
                                                                                  monkeypatch, what):
    """Regression (helper-308): extract judged the partial resumable, built the network, then the writer opened the
    partial without looking again. Replaced meanwhile by another program (which takes no featcache lock), a FIFO was
    opened for writing, "cannot open ...: Illegal seek; fix that and re-run", and a link to /dev/zero was opened
    through, called "from other settings; starting it over" and deleted, exit 0. Now one line, exit 2, the thing put
    there left as it is, the partial (moved away by that program) untouched; moved back, the same command resumes."""
    from featcache.embedding import runner

    out = tmp_path / "c.h5"
    args = ["extract", "--data-dir", str(fashion_dir), *FORCE_ARGS, "--image-size", "32", "--batch-size", "8",
            "--out", str(out)]
    interrupted_extraction(out, data_dir=str(fashion_dir), weights="random", image_size=32, runtime="tensorflow",
                           batch_size=8)
    part, mine = partial_path(out), tmp_path / "mine.h5"
    before, real = _sha(part), runner._build

    def meanwhile(*a, **kw):  # while the network is built, another program puts its file in the partial's place
        os.rename(part, mine)
        os.mkfifo(part) if what == "a FIFO" else os.symlink("/dev/zero", part)
        return real(*a, **kw)

    monkeypatch.setattr(runner, "_build", meanwhile)
    proc = run_main(capsys, *args)
    assert proc.returncode == 2 and proc.stderr == (
        f"featcache extract: error: {part} changed while featcache was getting ready to extract (another program "
        "replaced, changed or removed it after featcache had checked it), so featcache left it as it is; make sure "
        "nothing else writes there, then run the same command again\n"), proc.stderr
    assert (stat.S_ISFIFO(os.lstat(part).st_mode) if what == "a FIFO" else os.readlink(part) == "/dev/zero")
    assert _sha(mine) == before and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.h5.partial.h5", "fmnist", "mine.h5"]  # nothing set aside
    monkeypatch.setattr(runner, "_build", real)
    os.replace(mine, part)
    monkeypatch.delenv("FEATCACHE_PROGRESS")  # the resume's status line, on stderr
    proc = run_main(capsys, *args)
    assert proc.returncode == 0 and "8 of 72 images already done" in proc.stderr, proc.stderr
    assert featcache.open_cache(out).sizes == {"train": 48, "test": 24}


def test_extract_force_that_fails_building_the_model_leaves_the_partial_of_other_settings_in_place(
        fashion_dir, tmp_path, capsys, monkeypatch):
    """A reviewer (2026-12-05): --force moved an interrupted extraction of other settings aside before building the
    model, so a run that then failed there (bad weights, a runtime) had moved someone's partial for nothing. It is
    set aside just before the writer opens now."""
    from featcache.embedding import runner

    out = tmp_path / "c.h5"
    interrupted_extraction(out, data_dir=str(fashion_dir), weights="random", image_size=48)  # a 48 px run into c.h5
    before = _sha(partial_path(out))

    def bad_weights(*a, **kw):
        raise FeatcacheError("the weights are damaged")

    monkeypatch.setattr(runner, "_build", bad_weights)
    proc = run_main(capsys, "extract", "--data-dir", str(fashion_dir), *FORCE_ARGS, "--image-size", "32", "--out",
                    str(out), "--force")
    assert proc.returncode == 2 and "the weights are damaged" in proc.stderr, proc
    assert _sha(partial_path(out)) == before  # was: moved to .other-settings-<UTC time>
    assert [p.name for p in tmp_path.iterdir() if "other-settings" in p.name] == []


def test_extract_force_does_not_call_the_replaced_caches_own_leftover_another_extraction(fashion_dir, tmp_path, capsys):
    """A reviewer (2026-12-05): beside a complete cache, its own leftover partial (its fingerprint: a crash between a
    staged publish and the partial's removal) was moved aside by --force and said to be "an interrupted extraction
    of other settings". The cache holds it whole: it is not set aside; the writer starts the name over."""
    out = tmp_path / "c.h5"
    interrupted_extraction(out, data_dir=str(fashion_dir), weights="random", image_size=48)  # the cache's own leftover
    extract(data_dir=str(fashion_dir), out=tmp_path / "side.h5", weights="random", image_size=48)
    os.rename(tmp_path / "side.h5", out)  # (finished by another run: the same settings, so the same fingerprint)
    proc = run_main(capsys, "extract", "--data-dir", str(fashion_dir), *FORCE_ARGS, "--image-size", "32", "--out",
                    str(out), "--force", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["partial_set_aside"] is None and "other settings; --force moved" not in proc.stderr
    assert [p.name for p in tmp_path.iterdir() if "other-settings" in p.name] == []
    assert featcache.open_cache(out).meta["image_size"] == 32 and not partial_path(out).exists()


def test_extract_force_over_a_photo_cache_of_another_folder_says_so(tmp_path, capsys):
    """Photos (the staged writer, regrouped at the end): a cache of another project's photos/ (the same name and
    classes) at --out is replaced with --force and said to be of another photo folder, as train says of a head."""
    from helpers import make_class_tree

    one = make_class_tree(tmp_path / "one" / "photos", {"ants": 2, "bees": 2}, size=16)
    two = make_class_tree(tmp_path / "two" / "photos", {"ants": 3, "bees": 3}, size=16)
    out = tmp_path / "c.h5"
    extract(images=str(one), test_fraction=0.5, out=out, weights="random", image_size=32)
    base = ["extract", "--images", str(two), "--test-fraction", "0.5", *FORCE_ARGS, "--image-size", "32", "--out", str(out)]
    assert run_main(capsys, *base).returncode == 2
    proc = run_main(capsys, *base, "--force")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().endswith(f"; replaced the cache of another photo folder there ({one}; differs in: the "
                                         f"data: root {one} -> {two}) -> {out}")
    assert featcache.open_cache(out).meta["source"]["root"] == str(two)


@pytest.mark.parametrize("kind", ["csv", "hdf5"])
def test_extract_force_never_replaces_a_file_featcache_did_not_write(fashion_dir, tmp_path, capsys, kind):
    """--force replaces featcache's caches only: a user's CSV named out.h5, or an HDF5 file of theirs without
    featcache's attributes, is refused in one line and left byte for byte (an .h5 at --out is someone's data; train
    --force, whose --out is a .keras or .npz, replaces any regular file)."""
    out = tmp_path / "out.h5"
    if kind == "csv":
        out.write_text("a,b\n1,2\n")
    else:
        with h5py.File(out, "w") as f:
            f["x"] = np.arange(3)
            f.attrs["owner"] = "me"
    before = _sha(out)
    proc = run_main(capsys, "extract", "--data-dir", str(fashion_dir), *FORCE_ARGS, "--image-size", "32", "--out",
                    str(out), "--force")
    assert proc.returncode == 2 and proc.stderr == (
        f"featcache extract: error: {out} exists and is not a featcache cache; choose another --out (it was left "
        "untouched; --force replaces only a cache featcache wrote)\n"), proc.stderr
    assert _sha(out) == before and not partial_path(out).exists()


def test_extract_force_refuses_a_file_changed_at_out_during_the_run_and_keeps_it(fashion_dir, tmp_path, capsys,
                                                                                 monkeypatch):
    """--force replaces the cache it found at --out when the run began, and only that: another program putting a
    file there during the run (a new cache copied over it, notes) is refused at the seal, under the cache's lock, in
    one line; theirs is kept and the new rows stay in the partial."""
    from featcache.store import writer as writer_mod

    out = tmp_path / "c.h5"
    extract(data_dir=str(fashion_dir), out=out, weights="random", image_size=48)
    real = writer_mod._seal

    def meanwhile(*a, **kw):  # another program replaces the old cache with its own file
        tmp = tmp_path / "theirs.tmp"
        tmp.write_text("their notes\n")
        os.replace(tmp, out)
        return real(*a, **kw)

    monkeypatch.setattr(writer_mod, "_seal", meanwhile)
    proc = run_main(capsys, "extract", "--data-dir", str(fashion_dir), *FORCE_ARGS, "--image-size", "32", "--out",
                    str(out), "--force")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 2, proc.stderr  # what --force would replace; the refusal
    assert proc.stderr.splitlines()[-1].startswith(f"featcache extract: error: {out} was changed by another program "
                                                   "during the extraction, so it was left untouched; ")
    assert out.read_text() == "their notes\n" and partial_path(out).exists()


def test_store_spec_force_is_a_switch():
    """StoreSpec(force="no") must not replace a cache (a truthy string: as export(force="no") once did)."""
    from featcache.embedding.specs import StoreSpec

    assert StoreSpec(force=True).force is True and StoreSpec().force is False
    with pytest.raises(FeatcacheError, match=r"^force must be True or False \(got 'no'\); only True replaces a cache of "
                                             "other settings at out$"):
        StoreSpec(force="no")


def test_extract_force_over_a_link_writes_its_target_as_the_shells_redirect_does(fashion_dir, tmp_path, capsys):
    """An adversarial tester: `extract --force --out link.h5`, link.h5 a link to a cache of other settings, replaced the
    LINK with a plain file, left the target's old cache as it was, and said it had "replaced the cache of other
    settings there": two caches, a false line. A dangling link became a plain file too. The link is written through
    (store.atomic.written_through), as the shell's > and predict --csv write a link's target."""
    folder = tmp_path / "caches"
    folder.mkdir()
    target, link, dangling = folder / "target.h5", folder / "link.h5", folder / "dangling.h5"
    base = ["extract", "--data-dir", str(fashion_dir), *FORCE_ARGS]
    assert run_main(capsys, *base, "--image-size", "48", "--out", str(target)).returncode == 0
    link.symlink_to(target.name)
    proc = run_main(capsys, *base, "--image-size", "32", "--out", str(link), "--force", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["replaced_from"] == "other settings"
    assert link.is_symlink() and featcache.open_cache(target).meta["image_size"] == 32  # the target is the new cache
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == ["link.h5", "target.h5"]
    assert f"cache hit: {target} already holds" in run_main(capsys, *base, "--image-size", "32", "--out", str(link)).stdout
    dangling.symlink_to("made.h5")
    assert run_main(capsys, *base, "--image-size", "32", "--out", str(dangling)).returncode == 0
    assert dangling.is_symlink() and featcache.open_cache(folder / "made.h5").meta["image_size"] == 32


def test_extract_refuses_a_dangling_link_at_out_into_a_folder_that_is_not_there(fashion_dir, tmp_path, capsys):
    """Regression (the last session's open item): extract --out stale.h5, a link into a folder moved or deleted since,
    made that whole folder again and wrote the cache there, where the shell's > fails ("No such file or directory")
    and predict --csv refused such a link. One line, exit 2, nothing made (store.atomic.written_through)."""
    stale, gone = tmp_path / "stale.h5", tmp_path / "gone" / "sub"
    stale.symlink_to(gone / "c.h5")
    proc = run_main(capsys, "extract", "--data-dir", str(fashion_dir), *FORCE_ARGS, "--image-size", "32", "--out", str(stale))
    assert proc.returncode == 2 and proc.stderr.splitlines() == [
        f"featcache extract: error: --out {stale} is a symbolic link to {gone / 'c.h5'}, and its folder {gone} does not "
        "exist; create that folder, point the link at a file in a folder that exists, or choose another --out"], proc.stderr
    assert stale.is_symlink() and not gone.parent.exists()


def test_the_float16_refusals_fix_runs_where_the_refusal_left_its_partial(fashion_dir, tmp_path):
    """Regression (helper-260): extract --dtype float16 refused at its first batch (random weights' out_relu, under
    float16's range) says 'use --dtype float32'; that run then stopped at the partial the refused one had left, 'holds
    an interrupted extraction made with other settings (differs in: dtype) ... pass --force', though it held no row.
    A partial of other settings with no row done holds no one's work: the next run starts it over."""
    out = tmp_path / "c.h5"
    with pytest.raises(FeatcacheError, match="too small for float16.*use StoreSpec\\(dtype='float32'\\)$"):
        extract(data_dir=str(fashion_dir), out=out, dtype="float16", **TINY)
    res = extract(data_dir=str(fashion_dir), out=out, dtype="float32", **TINY)  # the refusal's fix, as it says it
    assert res.path == out and res.images == 72 and not partial_path(out).exists()
    assert featcache.open_cache(out).features("train").dtype == np.float32


def test_extract_to_another_name_says_where_a_complete_cache_of_the_same_settings_already_is(tmp_path, capsys):
    """After 'featcache lesson', docs/views.md's 'extract --views ... --out data/cache/fashion_4views.h5' computed the
    lesson's views cache (same fingerprint, same folder) again, 106 s, without a word (a new-user tester). Before it
    computes, extract names the complete cache of the same settings beside --out; it still extracts (the twin's
    features are not verified, so never used), and says nothing of a cache of other settings, an unfinished one or
    a file that is no cache. Fails on the code before: no such line."""
    twin = tiny_fashion_cache(tmp_path, out="lesson_views.h5", views="orig,flip")
    # other data (fewer images): other settings
    (tmp_path / "other_data.h5").write_bytes(tiny_fashion_cache(tmp_path / "o", n_train=40, views="orig,flip").read_bytes())
    (tmp_path / "notes.h5").write_text("not a cache")
    args = ["extract", "--data-dir", str(tmp_path / "fm"), "--weights", "random", "--image-size", "32", "--views", "orig,flip"]
    said = run_main(capsys, *args, "--out", str(tmp_path / "fashion_views.h5"))
    assert said.returncode == 0, said.stderr
    lines = [line for line in said.stderr.splitlines() if "already holds these features" in line]
    assert len(lines) == 1 and str(twin) in lines[0] and str(tmp_path / "fashion_views.h5") in lines[0], said.stderr
    assert "other_data.h5" not in said.stderr and "notes.h5" not in said.stderr
    fresh = featcache.open_cache(tmp_path / "fashion_views.h5")
    assert fresh.meta["fingerprint"] == featcache.open_cache(twin).meta["fingerprint"]
    # a cache of other settings (another image size) beside --out is not named
    other = run_main(capsys, *args[:-4], "--image-size", "48", "--views", "orig,flip", "--out", str(tmp_path / "b.h5"))
    assert other.returncode == 0 and "already holds these features" not in other.stderr, other.stderr
    # timing another runtime on purpose (docs/benchmarks.md's way): said, without "stop now" (a new-user tester was
    # told to stop); the runtime that made the twin named again is told to stop as before
    twin = tmp_path / "fashion_views.h5"  # named first now (the folder's caches in name order)
    made_by = featcache.open_cache(twin).meta["runtime"]
    for runtime in ("onnxruntime", "tensorflow"):
        said = run_main(capsys, *args, "--runtime", runtime, "--out", str(tmp_path / f"{runtime}.h5"))
        line = [line for line in said.stderr.splitlines() if "already holds these features" in line]
        assert said.returncode == 0 and len(line) == 1, said.stderr
        if runtime == made_by:
            assert line[0].startswith(f"{twin} already holds these features (a complete cache of the same settings"), line
            assert "To skip that, stop now" in line[0], line
        else:
            assert line[0] == (f"{twin} already holds these features, made by {made_by}; extracting them again to "
                               f"{tmp_path / (runtime + '.h5')} with {runtime}"), line


@pytest.mark.parametrize("runtimes", ["5", '"onnxruntime"', '{"a": 1}'])
def test_a_same_settings_cache_beside_out_with_a_damaged_runtimes_record_is_no_traceback(tmp_path, capsys, runtimes):
    """helper-349: a cache beside --out of the same settings whose `runtimes` attribute was edited to 5 (verify calls it
    damaged) made extract --runtime X a TypeError traceback, exit 1, in the line naming that cache; a string there was
    read letter by letter. Such a record names no runtime (``store.layout.recorded_runtimes``); the run goes on."""
    from featcache.store.layout import recorded_runtimes

    twin = tiny_fashion_cache(tmp_path, out="twin.h5")
    with h5py.File(twin, "a") as f:
        f.attrs["runtimes"] = runtimes
    args = ["extract", "--data-dir", str(tmp_path / "fm"), "--weights", "random", "--image-size", "32"]
    said = run_main(capsys, *args, "--runtime", "tensorflow", "--out", str(tmp_path / "new.h5"))
    assert said.returncode == 0, said.stderr
    line = [line for line in said.stderr.splitlines() if "already holds these features" in line]
    assert len(line) == 1 and line[0].startswith(f"{twin} already holds these features (a complete cache"), said.stderr
    assert recorded_runtimes({"runtimes": runtimes}) == [] and recorded_runtimes({"runtime": "openvino"}) == ["openvino"]


def test_extract_to_the_default_name_says_where_a_complete_cache_of_the_same_settings_already_is(tmp_path, capsys):
    """The README's photo quick start extracts with '--out data/cache/ants_bees.h5'; docs/photos.md's Python lines,
    featcache.extract(PhotoFolder(...), ModelSpec(...)) without a StoreSpec, then embedded the same photos again to
    the default name in that folder, 141 s, without a word (a new-user tester, h316): only an --out name looked for the
    twin. Without --out too, extract names the complete cache of the same settings in the default folder before it
    computes (CLI and API, verbose). Fails on the code before: no such line."""
    twin = tiny_fashion_cache(tmp_path, out="home/cache/mine.h5")
    args = ["extract", "--data-dir", str(tmp_path / "fm"), "--weights", "random", "--image-size", "32"]
    said = run_main(capsys, *args)
    assert said.returncode == 0, said.stderr
    lines = [line for line in said.stderr.splitlines() if "already holds these features" in line]
    assert len(lines) == 1 and str(twin) in lines[0], said.stderr
    made = [p for p in (tmp_path / "home" / "cache").glob("*.h5") if p.name != "mine.h5"]
    assert len(made) == 1 and str(made[0]) in lines[0], said.stderr
    made[0].unlink()
    featcache.extract(featcache.FashionMNIST(data_dir=str(tmp_path / "fm")),
                      featcache.ModelSpec(weights="random", image_size=32), verbose=True)
    assert f"{twin} already holds these features" in capsys.readouterr().err
