"""Names and shapes an adversarial tester (2026-12-04) found unhandled: paths whose bytes are not UTF-8 in reports,
plots and cache names, an .npz saved under an .npy name, and a class that --test-fraction leaves out of the test
split. Random weights, tiny images (plumbing)."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from helpers import make_class_tree

import featcache
from featcache.cli import main
from featcache.errors import FeatcacheError

LATIN1 = os.fsdecode(b"caf\xe9")  # a folder name in Latin-1: its byte 0xe9 is a surrogate in Python's str


def _photo_cache(tmp_path, counts, out="c.h5", folder="photos"):
    root = make_class_tree(tmp_path / folder, counts)
    return featcache.extract(featcache.PhotoFolder(root, test_fraction=0.25), featcache.ModelSpec(weights="random", image_size=32),
                             featcache.StoreSpec(out=tmp_path / out), verbose=False).path


def test_a_report_and_a_plot_of_paths_that_are_not_utf8(tmp_path, capsys):
    """evaluate of a cache in a Latin-1 folder was a UnicodeEncodeError writing its text report; of a head file so
    named, a matplotlib TypeError drawing the title. Both write their report now, the path's bytes as they are."""
    cache = _photo_cache(tmp_path, {"ants": 8, "bees": 8}, folder=LATIN1)
    head = featcache.train(cache, "logreg", out=tmp_path / f"{LATIN1}.npz").path
    assert main(["evaluate", str(head), str(cache), "--out", str(tmp_path / "ev")]) == 0
    text = (tmp_path / "ev" / "evaluation.txt").read_bytes() if (tmp_path / "ev" / "evaluation.txt").exists() else b"".join(
        p.read_bytes() for p in (tmp_path / "ev").iterdir() if p.suffix in (".txt", ".md"))
    assert b"caf\xe9" in text  # the folder's own bytes
    assert any(p.suffix == ".png" and p.stat().st_size > 0 for p in (tmp_path / "ev").iterdir())


def test_a_cache_name_that_is_not_utf8_is_one_line_before_anything_is_written(tmp_path, capsys):
    """extract --out with a Latin-1 name failed storing it in the partial's attributes: a traceback, and a
    partial left that every rerun tripped over again."""
    make_class_tree(tmp_path / "p", {"a": 4, "b": 4})
    out = tmp_path / f"{LATIN1}.h5"
    assert main(["extract", "--images", str(tmp_path / "p"), "--test-fraction", "0.25", "--weights", "random",
                 "--image-size", "32", "--out", str(out)]) == 2
    assert "is not valid UTF-8, which a cache records its name in; choose a name in UTF-8" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]


def test_an_npz_under_an_npy_name_is_one_line(tmp_path, capsys):
    from featcache.deploy.predict import read_npy

    np.savez(tmp_path / "x.npz", x=np.zeros((1, 8, 8, 3), np.uint8))
    os.rename(tmp_path / "x.npz", tmp_path / "x.npy")
    with pytest.raises(FeatcacheError, match="x.npy is an .npz archive, not an .npy array; save the images with np.save"):
        read_npy(tmp_path / "x.npy")


def test_a_class_the_test_fraction_leaves_out_of_the_test_split_is_said(tmp_path):
    """A class of one photo went wholly to train: extract said nothing, train printed an accuracy over the other class
    alone (the train/ and val/ layout refuses a class missing from a split)."""
    with pytest.warns(UserWarning, match=r"^test_fraction=0.25 holds out no test image of class 'bees' \(1 photo\)"):
        cache = _photo_cache(tmp_path, {"ants": 8, "bees": 1})
    with pytest.warns(UserWarning, match=r"the test split has no image of class 'bees': its accuracy covers 1 of 2 classes"):
        featcache.train(cache, "logreg", out=tmp_path / "h.npz")
    with pytest.warns(UserWarning, match=r"the test split has no image of class 'bees'"):  # evaluate, curve: the same
        featcache.evaluate(tmp_path / "h.npz", cache, out=tmp_path / "ev")
    with pytest.warns(UserWarning, match=r"the test split has no image of class 'bees'"):
        featcache.learning_curve(cache, [4], seeds=1, heads="logreg", out=tmp_path / "cv", plot=False)
    full = _photo_cache(tmp_path, {"ants": 8, "bees": 8}, out="d.h5", folder="both")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every class in the test split: not a word
        featcache.train(full, "logreg", out=tmp_path / "g.npz")


def test_a_model_naming_an_unknown_backbone_is_refused_at_load_in_its_own_words():
    """A crafted model whose Preprocess layer names another backbone loaded, then failed in its first call inside
    TensorFlow's trace: a 1,500-character line with colour codes. The layer checks the name when it is made, and
    the load's line carries featcache's words instead of 'TypeError'."""
    from featcache.embedding.preprocess import Preprocess
    from featcache.heads.io import load_problem

    with pytest.raises(FeatcacheError, match="unknown backbone 'nope'; choose one of:"):
        Preprocess("nope", 64)
    keras_text = ("<class 'Functional'> could not be deserialized properly.\n\nException encountered: Error when deserializing "
                  "class 'Preprocess'.\n\nException encountered: unknown backbone 'nope'; choose one of: mobilenet_v2")
    assert load_problem(TypeError(keras_text)) == "unknown backbone 'nope'; choose one of: mobilenet_v2"
    assert load_problem(TypeError("something else")) == "something else"


def test_default_report_folders_of_two_latin1_named_files_keep_apart(tmp_path, capsys):
    """evaluate of a second head file of the same Latin-1 name (another folder) without --out hashed both paths
    with str.encode: a UnicodeEncodeError, a traceback; probe of a second cache so named, the same. Each gets its
    own folder now, the first's report kept."""
    import shutil

    cache = _photo_cache(tmp_path, {"ants": 8, "bees": 8})
    heads = []
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        heads.append(featcache.train(cache, "logreg", out=tmp_path / d / f"{LATIN1}.npz").path)
    for head in heads:
        assert main(["evaluate", str(head), str(cache)]) == 0, capsys.readouterr().err
    runs = os.path.join(os.environ["FEATCACHE_HOME"], "runs")
    assert len([n for n in os.listdir(os.path.join(runs, "eval")) if n.startswith(f"{LATIN1}_npz")]) == 2
    caches = []
    for d in ("a", "b"):
        caches.append(tmp_path / d / f"{LATIN1}.h5")
        shutil.copy(cache, caches[-1])
    for c in caches:
        assert main(["probe", str(c), "--heads", "logreg", "--on-test"]) == 0, capsys.readouterr().err
    assert len([n for n in os.listdir(runs) if n.startswith(f"probe_{LATIN1}_on_test")]) == 2
