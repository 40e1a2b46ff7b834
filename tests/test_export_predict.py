"""Exported models give the head's predictions on raw images; predict reads files and arrays."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import (IN_A_FORKED_WORKER, SHARED, class_image, cli_imports, fifo_unblocked, fill, imagenet_standin,
                     keras_weights_reaching_out, make_class_tree, meta_only_model, model_conversion,
                     refused_at_once_in_a_forked_worker, refused_while_converting, reseal_model, run_main,
                     stopped_lock_holder, stub_model_runs, tmpfs, weights_standin, write_image)
from helpers import cli_one_line_error as _one_line_error

import featcache
from featcache.cli import main
from featcache.heads import DenseHead, LogRegHead
from featcache.heads.io import head_meta, save_head
from featcache.sources import open_source

PHOTOS = ["cat.bmp", "grace_hopper.bmp", "hot_dog.jpg", "parrot.jpg"]


@pytest.fixture(scope="module")
def real(tmp_path_factory, real_weights, real_fm600):
    """A small real cache (conftest.real_fm600: 600 train / 300 test Fashion-MNIST images, 96 px, read only), both
    heads, both exported. It was a cache of its own (300 / 600), extracted again where test_train_evaluate.py or
    test_layer_flow.py had made the session's on the same worker; each model also ran on 600 raw test images."""
    tmp = tmp_path_factory.mktemp("real")
    cache = featcache.open_cache(real_fm600)
    X, y = cache.features("train"), cache.labels("train")
    out = {"cache": cache, "weights": real_weights}
    # 10 epochs: the claims (the model gives the head's probabilities; better than chance by far) hold for any fit.
    # 60 ran 36 (early stopping) and 60 epochs: 47 s of the module's setup at load 9 (2026-12-07, AMD EPYC Zen 3).
    for name, head in (("keras", DenseHead(epochs=10)), ("keras_std", DenseHead(epochs=10, standardize=True)), ("logreg", LogRegHead())):
        head.fit(X, y)
        kind = name.split("_")[0]
        path = save_head(head, tmp / f"{name}.{'keras' if kind == 'keras' else 'npz'}", head_meta(cache, None, kind, head))
        # The logreg head finds the weights file through the path its metadata recorded (hash checked).
        model = featcache.export(path, tmp / f"{name}_model.keras", weights=str(real_weights) if name == "keras" else None,
                                 verbose=False).path
        out[name] = (head, path, model)
    out["loaded"] = {}  # exported models loaded by the tests, see loaded_model
    return out


def loaded_model(real: dict, name: str):
    """``featcache.load_model`` of ``real[name]``'s exported model, loaded once for the module's tests: a load of the
    end-to-end model took 3-5 s, and the keras one was loaded again by four tests that only run it."""
    if name not in real["loaded"]:
        real["loaded"][name] = featcache.load_model(real[name][2])
    return real["loaded"][name]


@pytest.mark.parametrize("name", ["keras", "keras_std", "logreg"])
def test_exported_model_agrees_with_the_head_on_cached_features(real, name):
    # keras_std: the head's standardization is folded into the exported Dense layer.
    head = real[name][0]
    cache = real["cache"]
    model, meta = loaded_model(real, name)
    assert meta["class_names"] == cache.class_names and meta["head"] == name.split("_")[0]
    # Raw test images straight from the data source the cache was made from.
    images = open_source(meta["source"]).splits["test"].read(0, cache.sizes["test"])
    probs = model.predict(images[..., None], batch_size=100, verbose=0)
    expected = head.predict_proba(cache.features("test"))
    agree = np.mean(probs.argmax(1) == expected.argmax(1))
    assert agree >= 0.999, f"{name}: only {agree:.4f} of the test images agree"
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(probs, expected, atol=2e-3)
    # Better than chance by far, so the agreement is about a working classifier.
    assert np.mean(probs.argmax(1) == cache.labels("test")) > 0.6


def test_gray_rgb_and_any_size_inputs(real):
    model, _ = loaded_model(real, "keras")
    gray = open_source(real["cache"].meta["source"]).splits["test"].read(0, 8)[..., None]
    p_gray = model.predict(gray, verbose=0)
    np.testing.assert_allclose(model.predict(np.repeat(gray, 3, axis=-1), verbose=0), p_gray, atol=1e-6)
    bigger = np.repeat(np.repeat(gray, 2, axis=1), 2, axis=2)  # 56x56, any size is resized to 96
    assert model.predict(bigger, verbose=0).shape == p_gray.shape


def test_predict_files_and_arrays(real, tmp_path, capsys):
    model_path = real["keras"][2]
    files = [str(SHARED / "images" / f) for f in PHOTOS]
    assert main(["predict", str(model_path), *files, "--top-k", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [l.split(":")[0] for l in lines] == files
    names = real["cache"].class_names
    for line in lines:
        assert sum(n in line for n in names) >= 2

    images = open_source(real["cache"].meta["source"]).splits["test"].read(0, 5)
    np.save(tmp_path / "x.npy", images)
    assert main(["predict", str(model_path), str(tmp_path / "x.npy"), files[0], "--top-k", "10", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["predictions"]
    assert [g["input"] for g in got] == [f"{tmp_path / 'x.npy'}[{i}]" for i in range(5)] + [files[0]]
    model, _ = loaded_model(real, "keras")
    probs = model.predict(images[..., None], verbose=0)
    for g, p in zip(got, probs):
        ranked = [t["probability"] for t in g["top"]]
        assert ranked == sorted(ranked, reverse=True) and sum(ranked) == pytest.approx(1.0, abs=1e-4)
        assert g["top"][0]["class"] == names[int(p.argmax())]
        assert g["top"][0]["probability"] == pytest.approx(float(p.max()), abs=1e-5)


def test_predict_bad_input(real, tmp_path, capsys):
    model = str(real["keras"][2])
    not_image = tmp_path / "notes.png"
    not_image.write_text("these are not pixels")
    _one_line_error(capsys, ["predict", model, str(not_image)], f"{not_image}: ")  # the decoder's reason follows
    _one_line_error(capsys, ["predict", model, str(not_image)], "pass image files (PNG, JPEG, BMP, GIF, ...)")
    _one_line_error(capsys, ["predict", model, str(tmp_path / "gone.jpg")], "image file not found")
    _one_line_error(capsys, ["predict", str(tmp_path / "none.keras"), str(not_image)], "model file not found")
    _one_line_error(capsys, ["predict", str(real["keras"][1]), str(not_image)], "it is a head: export it first")
    np.save(tmp_path / "f.npy", np.zeros((2, 28, 28), np.float32))
    _one_line_error(capsys, ["predict", model, str(tmp_path / "f.npy")], "not pixels 0..255")
    np.save(tmp_path / "s.npy", np.zeros((2, 28, 28, 4), np.uint8))
    _one_line_error(capsys, ["predict", model, str(tmp_path / "s.npy")], "holds an array of shape (2, 28, 28, 4)")
    _one_line_error(capsys, ["export", str(real["keras"][1]), "--out", str(tmp_path / "m.h5")], "use --out")


@pytest.mark.slow
def test_two_class_model_predicts_a_folder_with_its_defaults_and_writes_csv(tmp_path, capsys):
    """Issue 13 #10/#11: predict's default --top-k on a 2-class model, a folder as input, --csv; export keeps user files."""
    import csv

    from helpers import tiny_photo_cache

    cache, root = tiny_photo_cache(tmp_path, size=16), tmp_path / "photos"
    head = featcache.train(cache, "logreg", out=tmp_path / "h.npz").path
    mine = tmp_path / "model.keras"
    mine.write_text("my notes")
    _one_line_error(capsys, ["export", str(head), "--out", str(mine)], "exists and is not a model featcache wrote")
    assert mine.read_text() == "my notes"
    # a Keras head at --out: the line told the user to pass --force, which would have replaced their head (a tester)
    keras_head = featcache.train(cache, "keras", epochs=1, out=tmp_path / "k.keras").path
    kept = keras_head.read_bytes()
    _one_line_error(capsys, ["export", str(head), "--out", str(keras_head)],
                    f"--out {keras_head} is a head 'featcache train' wrote, not a model; name the model another file, e.g. "
                    f"--out {tmp_path / 'k_model.keras'}")
    assert keras_head.read_bytes() == kept
    first = featcache.export(head, tmp_path / "m.keras")
    again = featcache.export(head, first)  # its own model is replaced without --force, and the result says so
    assert (first.replaced, again.replaced, again.path) == (False, True, tmp_path / "m.keras")
    model = again.path
    folder = root / "bees"
    (folder / "README.txt").write_text("not an image")  # only image files are read
    (folder / "more").mkdir()  # predict reads one level: said on stderr, not passed over in silence (a new user)
    assert main(["predict", str(model), str(folder), "--csv", str(tmp_path / "p.csv")]) == 0
    said = capsys.readouterr()
    lines = said.out.strip().splitlines()
    assert said.err.splitlines()[0] == (f"predict: left out of the folders given: 1 subfolder ({folder / 'more'}/; pass "
                                        f"it, or --recursive, to predict its images) and 1 file of no image type ({folder / 'README.txt'})")
    assert main(["predict", str(model), str(folder), "--json"]) == 0
    # [path, reason] pairs, the shape of extract's and evaluate's "skipped" (it was bare paths, "more/" a subfolder
    # by its slash; a session's brief, 2026-12-06): the file said as extract says a notes.txt
    from featcache.sources.decode import NOT_AN_IMAGE

    left_out = json.loads(capsys.readouterr().out)["left_out"]
    assert left_out[0] == [str(folder / "README.txt"), NOT_AN_IMAGE] and len(left_out) == 2, left_out
    assert left_out[1][0] == str(folder / "more") and left_out[1][1].startswith("subfolder, not read"), left_out
    files = sorted(str(p) for p in folder.glob("*.png"))
    assert [l.split(": ")[0] for l in lines] == files and said.err.splitlines()[-1].endswith("p.csv")
    assert [p.input for p in featcache.predict(again, [folder])] == files  # export's result goes where its path went
    assert capsys.readouterr().err == ""  # quiet unless verbose; verbose, the API says what the CLI says (a new user)
    featcache.predict(again, [folder], verbose=True)
    from featcache.errors import option  # the call's words for the flag (recursive=True), the rest the command's line
    api_line = said.err.splitlines()[0].replace("--recursive", option("--recursive"))
    assert api_line in capsys.readouterr().err.splitlines()
    tops = [l.split(": ")[1] for l in lines]
    assert all(t.count("ants") == 1 and t.count("bees") == 1 for t in tops)  # both classes: top-k = min(3, 2)
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert [r["input"] for r in rows] == files and {r["class_1"] for r in rows} <= {"ants", "bees"}
    assert all(float(r["probability_1"]) + float(r["probability_2"]) == pytest.approx(1.0, abs=1e-5) for r in rows)
    empty = tmp_path / "empty"
    empty.mkdir()
    _one_line_error(capsys, ["predict", str(model), str(empty)], "holds no image files")
    (empty / "ants").mkdir()  # a class-folder tree (a tester's hymenoptera/val): name its folders
    (empty / "bees").mkdir()
    _one_line_error(capsys, ["predict", str(model), str(empty)], f"holds no image files, only folders (ants, bees); pass those folders (e.g. {empty / 'ants'})")
    _one_line_error(capsys, ["predict", str(model), str(folder), "--csv", str(tmp_path)], "is a folder")


def test_export_without_out_writes_the_heads_name_under_the_home_and_keeps_heads_and_views_apart(tmp_path, capsys,
                                                                                                   monkeypatch):
    """export required --out where finetune and train have a default: HOME/models/<head>.keras; a Keras head saved
    under that very name gets <head>_model.keras (the head itself was refused); a model of other views a name of its
    own (the second would be refused as a model of other --views); a head name too long for it, one line first. A
    default name replaces only this head's own model, --force or not (a review, a second adversarial round)."""
    import shutil

    from helpers import tiny_photo_cache

    from featcache.deploy.export import default_out

    home = Path(os.environ["FEATCACHE_HOME"])  # conftest's, per test
    cache = tiny_photo_cache(tmp_path, size=16)
    head = featcache.train(cache, "logreg", out=tmp_path / "h.npz").path
    assert main(["export", str(head)]) == 0
    assert capsys.readouterr().out.strip().endswith(f"-> {home / 'models' / 'h.keras'}")
    again = featcache.export(head)  # the API's default is the CLI's: its own model there, replaced
    assert (again.path, again.replaced) == (home / "models" / "h.keras", True)
    keras_head = featcache.train(cache, "keras", epochs=1, out=home / "models" / "k.keras").path
    kept = keras_head.read_bytes()
    assert featcache.export(keras_head).path == home / "models" / "k_model.keras" and keras_head.read_bytes() == kept
    named = {default_out(head, v).name for v in [("orig",), ("orig", "flip"), ("flip",), ("orig", "flip", "shift:+2,+2")]}
    assert len(named) == 4 and "h.keras" in named and all(re.fullmatch(r"h(_\dviews_[0-9a-f]{6})?\.keras", n) for n in named)
    long_head = tmp_path / ("a" * 251 + ".npz")  # a file name of 255 bytes; its model's, 257
    shutil.copy(head, long_head)
    _one_line_error(capsys, ["export", str(long_head)], "the default model file name, made from the head file name")
    assert sorted(os.listdir(home / "models")) == ["h.keras", "k.keras", "k_model.keras"]  # nothing written, nor left
    # a review: another folder's h.npz took data/models/h.keras too, refused as "--out ... of another fit; ... --force"
    # (an --out never given; --force would have replaced the first head's model): its own name, 6 hex of its path
    other = tmp_path / "b" / "h.npz"
    other.parent.mkdir()
    featcache.train(cache, "logreg", C=2, out=other)
    second = featcache.export(other)
    assert re.fullmatch(r"h_[0-9a-f]{6}\.keras", second.path.name) and not second.replaced
    assert featcache.export(head).path == home / "models" / "h.keras"  # the first's is its own still
    # a link to the Keras head saved under the default name: the head itself, by the file (it compared paths)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "k.keras").symlink_to(keras_head)
    assert featcache.export(tmp_path / "x" / "k.keras").path == home / "models" / "k_model.keras"
    # '--out ""' ($DIR unset) is refused as every --out "" is; it was taken for the default
    _one_line_error(capsys, ["export", str(head), "--out", ""], "--out must be a path")
    # an adversarial tester: with --force, a user's file, another Keras head, or a link's target outside the home at the
    # default name was replaced, and nothing said so. A default name replaces only this head's own model
    mine = home / "models" / "u.keras"
    mine.write_text("my notes")
    (tmp_path / "precious.keras").write_text("keep")
    (home / "models" / "l.keras").symlink_to(tmp_path / "precious.keras")
    (home / "models" / "k_model.keras").unlink()
    shutil.copy(keras_head, home / "models" / "k_model.keras")  # another Keras head at the Keras head's default
    for name in ("u.npz", "l.npz"):
        shutil.copy(head, tmp_path / name)
        made = featcache.export(tmp_path / name, force=True)
        assert re.fullmatch(name[0] + r"_[0-9a-f]{6}\.keras", made.path.name) and not made.replaced, made.path
    made = featcache.export(keras_head, force=True)
    assert re.fullmatch(r"k_model_[0-9a-f]{6}\.keras", made.path.name) and not made.replaced
    assert mine.read_text() == "my notes" and (tmp_path / "precious.keras").read_text() == "keep"
    assert (home / "models" / "k_model.keras").read_bytes() == kept  # the copy of the head, byte for byte
    # the 6 hex making a name too long: said why they were added ("(259 bytes)" alone; an adversarial tester)
    (home / "models" / ("b" * 246 + ".keras")).write_text("mine")
    shutil.copy(head, tmp_path / ("b" * 246 + ".npz"))
    _one_line_error(capsys, ["export", str(tmp_path / ("b" * 246 + ".npz"))], "(259 bytes, with 6 hex of the head's path "
                    f"added: {'b' * 246}.keras holds what is not this head's model; a file name holds at most 255)")
    # models under the home is a file: said so, not "--out data/models is a file" of an --out never given
    (tmp_path / "home2").mkdir()
    (tmp_path / "home2" / "models").write_text("x")
    monkeypatch.setenv("FEATCACHE_HOME", str(tmp_path / "home2"))
    _one_line_error(capsys, ["export", str(head)], f"{tmp_path / 'home2' / 'models'} is a file, where featcache keeps its "
                    "models under its home (FEATCACHE_HOME, or ./data); move it away, or name the model with --out NAME.keras")


def test_a_class_folder_tree_with_other_files_is_said_as_it_is(tmp_path):
    """Regression (a new-user tester): a folder of class subfolders and a README.txt was said to hold "no image files,
    only folders": its other files are named too, and --recursive still suggested."""
    from featcache.deploy.predict import image_files_in
    from featcache.errors import FeatcacheError

    tree = tmp_path / "val"
    for name in ("ants", "bees"):
        (tree / name).mkdir(parents=True)
    (tree / "README.txt").write_text("the photos' licence\n")
    with pytest.raises(FeatcacheError) as said:
        image_files_in(tree)
    assert str(said.value) == (f"{tree} holds no image files, only folders (ants, bees) and 1 other file (README.txt); "
                               f"pass those folders (e.g. {tree / 'ants'}), or recursive=True to read every subfolder's images")


def test_export_finds_weights_given_as_a_relative_path_from_another_folder(tmp_path, monkeypatch):
    """Regression (a new-user tester): the cache kept --weights as typed, so export run in another folder could not find the file."""
    import keras

    from helpers import make_class_tree

    root = make_class_tree(tmp_path / "photos", {"ants": 4, "bees": 4}, size=16)
    work, elsewhere, store = tmp_path / "work", tmp_path / "elsewhere", tmp_path / "store"
    work.mkdir(), elsewhere.mkdir(), store.mkdir()
    # a weights file of the backbone's own layout (random values: this is plumbing, not a result)
    keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(store / "w.weights.h5")
    (work / "w.weights.h5").symlink_to(store / "w.weights.h5")
    monkeypatch.chdir(work)
    assert main(["extract", "--images", str(root), "--test-fraction", "0.5", "--weights", "w.weights.h5",
                 "--image-size", "32", "--out", "c.h5", "--json"]) == 0
    assert featcache.open_cache(work / "c.h5").meta["weights_source"] == str(work / "w.weights.h5")
    assert main(["train", "c.h5", "--head", "logreg", "--out", "h.npz", "--json"]) == 0
    monkeypatch.chdir(elsewhere)
    assert main(["export", str(work / "h.npz"), "--out", "m.keras", "--json"]) == 0
    assert (elsewhere / "m.keras").is_file()
    # Regression (a new-user tester): one --weights through a link was recorded in two forms, absolute in the cache
    # and head, links resolved in the model. One form everywhere: the user's path made absolute.
    from featcache.deploy.model import read_meta

    assert featcache.load_head(work / "h.npz")[1]["weights_source"] == str(work / "w.weights.h5")
    assert read_meta(elsewhere / "m.keras")["weights_source"] == str(work / "w.weights.h5")


def test_a_recorded_weights_path_in_either_form_is_found_and_checked(tmp_path):
    """A head or model may record a weights file with its links resolved (export did, before one form) or not: either
    is found, and checked by its sha256, which identifies the weights (not the path)."""
    from featcache.deploy.export import resolve_weights
    from featcache.embedding.backbones import weights_identity
    from featcache.errors import FeatcacheError

    (tmp_path / "store").mkdir()
    real = tmp_path / "store" / "w.weights.h5"
    real.write_bytes(weights_standin(b"weights"))
    (tmp_path / "link.h5").symlink_to(real)
    want = weights_identity(str(real))
    for recorded in (str(tmp_path / "link.h5"), str(real)):
        assert resolve_weights({"weights": want, "weights_source": recorded}) == recorded
    real.write_bytes(weights_standin(b"other weights"))  # the recorded path now names other weights: refused, the file asked for
    with pytest.raises(FeatcacheError, match="pass that same file with weights=PATH$"):
        resolve_weights({"weights": want, "weights_source": str(tmp_path / "link.h5")})


def test_export_knows_weights_rewritten_with_their_stamp_kept_by_their_bytes(tmp_path, monkeypatch):
    """Regression (h315's brief): export's resolve_weights took the weights' identity from the digest remembered by
    the file's stamp (path, size, inode, mtime, ctime). Weights rewritten in place with their size and mtime kept, on
    a file system whose ctime is its mtime (sshfs), keep every one: a head of the new weights was told its recorded
    file was not them ("pass that same file"), and one of the old weights would take the new file for them. Hashed
    now, as an extraction hashes them. The file system is simulated. Fails on the code before."""
    import hashlib
    import pathlib

    from featcache.deploy.export import resolve_weights
    from featcache.embedding.backbones import weights_identity
    from featcache.errors import FeatcacheError

    weights = tmp_path / "w.weights.h5"
    weights.write_bytes(weights_standin(b"weights one"))
    old = weights_identity(str(weights))  # remembered by the file's stamp
    kept, real_stat = weights.stat(), pathlib.Path.stat
    with open(weights, "r+b") as f:  # in place: the same inode, the same size
        f.write(weights_standin(b"weights two"))
    monkeypatch.setattr(pathlib.Path, "stat", lambda self, *a, **k: kept if os.path.realpath(self) == os.path.realpath(
        weights) else real_stat(self, *a, **k))
    new = "sha256:" + hashlib.sha256(weights.read_bytes()).hexdigest()
    for given in (None, str(weights)):  # the path the head records, and the file passed
        assert resolve_weights({"weights": new, "weights_source": str(weights)}, given) == str(weights)
        with pytest.raises(FeatcacheError):  # a head of the old weights: this file is not them
            resolve_weights({"weights": old, "weights_source": str(weights)}, given)


def test_export_of_an_imagenet_head_needs_the_imagenet_weights_its_features_came_from(keras_cache, fashion_dir, tmp_path,
                                                                                         capsys):
    """An adversarial tester (2026-12-05): a head of --weights imagenet recorded the word, so export and finetune
    built the model on whatever Keras's cache held by then. It records the file's sha256 (weights_source imagenet),
    and export refuses other weights there before building anything. Fails on the code before: the export succeeds."""
    from featcache.deploy.export import resolve_weights

    imagenet_standin(keras_cache, seed=1)
    assert run_main(capsys, "extract", "--data-dir", str(fashion_dir), "--image-size", "32", "--runtime", "tensorflow",
                    "--out", str(tmp_path / "c.h5")).returncode == 0
    assert run_main(capsys, "train", str(tmp_path / "c.h5"), "--head", "keras", "--epochs", "2",
                    "--out", str(tmp_path / "h.keras")).returncode == 0
    meta = featcache.load_head(tmp_path / "h.keras")[1]
    assert meta["weights"].startswith("sha256:") and meta["weights_source"] == "imagenet"
    imagenet_standin(keras_cache, seed=2)  # other weights under Keras's name
    for args in (["export", str(tmp_path / "h.keras")], ["finetune", str(tmp_path / "h.keras"), "--epochs", "1"]):
        r = run_main(capsys, *args, "--out", str(tmp_path / "m.keras"))
        assert r.returncode == 2 and "the ImageNet weights in Keras's cache" in r.stderr and "are not those" in r.stderr, r
        assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "m.keras").exists()
    imagenet_standin(keras_cache, seed=1)  # the weights put back: the head's base is built from them
    assert resolve_weights(meta) == resolve_weights(meta, "imagenet") == "imagenet"
    # a head of an older featcache's imagenet cache recorded the word, which no file can be checked against
    assert resolve_weights({**meta, "weights": "imagenet"}) == "imagenet"


@pytest.mark.parametrize("name", ["onnxruntime", "openvino"])
def test_exported_model_gives_the_same_probabilities_on_every_runtime(real, name):
    # Issue 14: predict runs the exported model on extraction's runtimes; the probabilities must not depend on it.
    from featcache.deploy.model import ModelRunner

    model_path = real["keras"][2]
    images = open_source(real["cache"].meta["source"]).splits["test"].read(0, 32)
    want = ModelRunner(model_path, runtime="tensorflow")(images)
    keras_predict = loaded_model(real, "keras")[0].predict(images[..., None], verbose=0)
    np.testing.assert_allclose(want, keras_predict, atol=1e-5)  # the compiled TF path is Keras's predict
    runner = ModelRunner(model_path, runtime=name, batch_size=10)  # batches of 10: a short last one
    assert runner.runtime_used == name
    got = runner(images)
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert (got.argmax(1) == want.argmax(1)).all()
    assert want.max(1).min() < 0.99  # not all saturated: the comparison sees the probabilities, not only 0 and 1


# ---------------------------------------------------------------- inputs and model files that are not what they seem (no network)


def test_one_rgb_image_saved_as_hwc_is_refused_not_read_as_a_stack_of_gray_images(tmp_path):
    """Regression (an adversarial tester): ``np.save('one.npy', rgb)`` of shape (H, W, 3) was read as H gray images
    of W x 3 pixels and predicted garbage with exit 0; so was a gray (H, W, 1), as Keras shapes one (a second tester).
    A 3-D array ending in 1 to 4 is ambiguous: one line."""
    from featcache.deploy.predict import read_npy
    from featcache.errors import FeatcacheError

    for shape in ((40, 30, 3), (40, 30, 4), (40, 30, 1), (40, 30, 2)):
        np.save(tmp_path / "one.npy", np.zeros(shape, np.uint8))
        with pytest.raises(FeatcacheError, match=rf"holds an array of shape \({shape[0]}, 30, {shape[2]}\).*"
                                                 r"save one image as \(1, H, W, C\).*gray images as \(N, H, W\)$") as err:
            read_npy(tmp_path / "one.npy")
        assert "\n" not in str(err.value)
    np.save(tmp_path / "gray.npy", np.zeros((5, 28, 28), np.uint8))  # a stack of gray images still reads
    assert read_npy(tmp_path / "gray.npy").shape == (5, 28, 28, 1)
    np.save(tmp_path / "gray.npy", np.zeros((5, 28, 5), np.uint8))  # 5 px wide: images, however narrow
    assert read_npy(tmp_path / "gray.npy").shape == (5, 28, 5, 1)
    np.save(tmp_path / "rgb.npy", np.zeros((1, 40, 30, 3), np.uint8))
    assert read_npy(tmp_path / "rgb.npy").shape == (1, 40, 30, 3)


def _with_meta(src, dst, reseal=True, **edits):
    """A copy of model file ``src`` whose featcache.json has ``edits`` (a value of ``...`` removes the field), its
    content digest made again (``reseal``) as someone who knows the format would: the field checks behind it refuse it."""
    import zipfile

    from featcache.heads.io import META_ENTRY

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == META_ENTRY:
                meta = json.loads(data)
                meta.update({k: v for k, v in edits.items() if v is not ...})
                data = json.dumps({k: v for k, v in meta.items() if edits.get(k, None) is not ...}).encode()
            zout.writestr(item, data)
    return reseal_model(dst) if reseal else dst


def _meta_only_model(path, **meta):
    """A file with featcache's model metadata and no network: what is checked before TensorFlow loads."""
    return meta_only_model(path, **meta)


@pytest.mark.parametrize("edit, message", [
    (dict(image_size=...), "featcache.json lacks 'image_size'"),
    (dict(image_size=-5), "featcache.json has image_size -5, not a whole number of pixels, 1 to 2048"),
    (dict(image_size=32.5), "featcache.json has image_size 32.5, not a whole number"),
    (dict(image_size=True), "featcache.json has image_size True, not a whole number"),
    (dict(class_names="ants,bees,wasps"), "featcache.json has class_names 'ants,bees,wasps', not a list of at least 2 distinct class names"),
    (dict(class_names=["ants"]), "featcache.json has class_names ['ants'], not a list"),
    (dict(class_names=["ants", "ants"]), "featcache.json has class_names ['ants', 'ants'], not a list of at least 2 distinct"),
    (dict(class_names=["ants", 3]), "featcache.json has class_names ['ants', 3], not a list of at least 2 distinct"),
    (dict(class_names=...), "featcache.json lacks 'class_names'"),
    # its digest remade (an adversarial tester): fields that were read as they came
    (dict(views="orig"), "featcache.json has views 'orig', not a list of view names such as ['orig', 'flip']"),
    (dict(views=["bogus"]), "featcache.json has views ['bogus'], not a list of view names"),
    (dict(format_version="2"), "featcache.json has format_version '2', not a format number from 1 to 2"),
    (dict(format_version=...), "featcache.json lacks 'format_version'"),
    (dict(averaged="yes"), "featcache.json has averaged 'yes', not 'probabilities', 'decision values' or null"),
    (dict(finetune="x"), "featcache.json has finetune 'x', not the fine-tuning's record (an object) or null"),
    (dict(backbone="nope"), "featcache.json has backbone 'nope', not a backbone featcache knows (mobilenet_v2, "),
])
def test_an_edited_model_json_is_one_line_naming_the_file_and_the_field(tmp_path, capsys, edit, message):
    """Regression (an adversarial tester): a model's featcache.json without image_size (KeyError) or with -5
    (ValueError) crashed predict; class names as a string were split into letters. Checked when the model is loaded."""
    from featcache.deploy.model import is_model_file, read_meta

    good = _meta_only_model(tmp_path / "good.keras")
    bad = _with_meta(good, tmp_path / "m.keras", **edit)
    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    _one_line_error(capsys, ["predict", str(bad), str(photo)], f"{bad} is a featcache model whose {message}")
    err = pytest.raises(featcache.FeatcacheError, read_meta, bad)
    assert "re-export the model with featcache.export(...)" in str(err.value)  # a call's words (docs/api.md)
    assert is_model_file(bad)  # still featcache's own: export --out may replace it
    assert read_meta(good)["image_size"] == 32


# What model_meta and save_model record in every model and no head records (heads.io.MODEL_ONLY_FIELDS).
MODEL_FIELDS = {"input": "uint8 images", "output": "class probabilities", "head_path": "/x/h.npz", "views": ["orig"],
                "cache_fingerprint": "f" * 64, "dataset": "blobs"}


def test_a_model_of_a_newer_format_or_without_its_kind_is_said_so(tmp_path, capsys):
    """An adversarial tester, the digest remade: a model saying format_version 99 was read as this format, with no
    "made by a newer featcache"; one whose "kind" was removed was called "a head: export it first" (a head of
    featcache 0.1 records no kind either; a model's record has fields no head's has)."""
    from featcache.deploy.model import read_meta
    from featcache.recipes.files import info

    good = _meta_only_model(tmp_path / "good.keras", **MODEL_FIELDS)
    newer = _with_meta(good, tmp_path / "newer.keras", format_version=99)
    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    _one_line_error(capsys, ["predict", str(newer), str(photo)],
                    f"{newer} is a featcache model of format 99, made by a newer featcache than this one (which reads "
                    "formats 1 to 2); use that featcache, or re-export the model with 'featcache export'")
    for edit, says in ((dict(kind=...), "lacks 'kind'"), (dict(kind="featcache-head"), "has kind 'featcache-head', not 'featcache-model'")):
        bad = _with_meta(good, tmp_path / "m.keras", **edit)
        line = f"{bad} is a featcache model whose featcache.json {says}; re-export the model with 'featcache export'"
        _one_line_error(capsys, ["predict", str(bad), str(photo)], line)
        with pytest.raises(featcache.FeatcacheError, match=re.escape(line.replace("'featcache export'", "featcache.export(...)"))):
            info(bad)  # told as a model, not "a zip file featcache did not write as a head or model"
    assert read_meta(good)["format_version"] == 2


@pytest.mark.parametrize("edit, says", [
    (dict(views="orig"), "has views 'orig', not a list of view names"),  # was "views averaged o,r,i,g there"
    (dict(image_size="96"), "has image_size '96', not a whole number of pixels"),  # was replaced, as a rerun
    (dict(format_version=99), "is a featcache model of format 99, made by a newer featcache"),
])
def test_export_out_refuses_a_model_whose_record_featcache_would_not_read(tmp_path, edit, says):
    """An adversarial tester, the digest remade: export --out over a model whose featcache.json said "views": "orig"
    said "views averaged o,r,i,g there", and one of image_size "96" (refused by predict) was taken for a rerun of the
    same job and replaced. The record is checked as every read checks it, and the fix is --out's; --force replaces."""
    from featcache.deploy.model import check_same_model_job, read_meta

    head = {k: v for k, v in read_meta(_meta_only_model(tmp_path / "g.keras", **MODEL_FIELDS)).items()
            if k not in ("kind", "format_version", "content_digest")}
    bad = _with_meta(tmp_path / "g.keras", tmp_path / "m.keras", **edit)
    with pytest.raises(featcache.FeatcacheError, match=re.escape(says) + r".*; choose another out, or pass force=True "
                                                       r"to replace it$"):
        check_same_model_job(bad, head, None, False, views=("orig",))
    assert check_same_model_job(bad, head, None, True, views=("orig",))[0] is True


def test_a_keras_heads_export_refused_for_its_options_loads_no_keras_first(tmp_path, capsys, monkeypatch):
    """Regression: export of a Keras head loaded it (load_head imports TensorFlow and Keras: 53-61 s under load, 6-8 s
    idle) before refusing a bad --views, a --weights file that is not there or an --out holding another head's model,
    all known from the head's record. They are refused from its checked record (heads.io.keras_head_record) first;
    a Keras load is a test failure here, and the export the same options fixed still writes the model."""
    from helpers import tiny_fashion_cache

    import featcache.heads.io as head_io

    cache = tiny_fashion_cache(tmp_path, n_train=40, n_test=10)
    keras_head = featcache.train(cache, "keras", epochs=1, out=tmp_path / "k.keras").path
    other = featcache.export(featcache.train(cache, "logreg", out=tmp_path / "l.npz").path, tmp_path / "l.keras").path
    loads = head_io.load_keras_file
    monkeypatch.setattr(head_io, "load_keras_file", lambda *a, **k: pytest.fail("the Keras head was loaded first"))
    head, out = str(keras_head), str(tmp_path / "m.keras")
    _one_line_error(capsys, ["export", head, "--out", out, "--views", "bogus"], "unknown view 'bogus'")
    _one_line_error(capsys, ["export", head, "--out", out, "--weights", str(tmp_path / "gone.h5")], "weights file not found")
    _one_line_error(capsys, ["export", head, "--out", str(other)], "holds a model of a logreg head, not of a Keras head")
    assert not (tmp_path / "m.keras").exists()
    monkeypatch.setattr(head_io, "load_keras_file", loads)
    assert main(["export", head, "--out", out, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["path"] == out


def _softmax_model(path, n_outputs: int, class_names: list[str]):
    """A tiny model file as save_model writes it (uint8 images of any size in, ``n_outputs`` probabilities out)."""
    from featcache._lazy import keras
    from featcache.deploy.model import INPUT_DTYPE, INPUT_SHAPE, save_model
    from featcache.embedding.preprocess import Preprocess

    k = keras()
    inp = k.Input(shape=INPUT_SHAPE, dtype=INPUT_DTYPE)
    x = k.layers.GlobalAveragePooling2D()(Preprocess("mobilenet_v2", 32)(inp))  # gray or RGB in, 3 channels out
    out = k.layers.Softmax(name="probabilities")(k.layers.Dense(n_outputs)(x))
    return save_model(k.Model(inp, out), path, {"class_names": class_names, "image_size": 32})


def test_the_image_size_a_model_says_must_be_its_networks(tmp_path, capsys):
    """A model whose featcache.json said 224 px over a 32 px network (its digest made again) predicted photos decoded
    at 224 with other probabilities, without a word (an adversarial tester): refused at load."""
    good = _softmax_model(tmp_path / "good.keras", 3, ["a", "b", "c"])
    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    for edit, says in ((dict(image_size=224), "says 224 px but whose network takes mobilenet_v2 at 32 px"),
                       (dict(backbone="resnet50"), "says resnet50 at 32 px but whose network takes mobilenet_v2 at 32 px")):
        bad = _with_meta(good, tmp_path / "m.keras", **edit)
        _one_line_error(capsys, ["predict", str(bad), str(photo), "--runtime", "tensorflow"],
                        f"{bad} is a featcache model whose featcache.json {says}")
    assert main(["predict", str(good), str(photo), "--runtime", "tensorflow"]) == 0


def test_class_names_must_match_the_models_outputs(tmp_path, capsys, monkeypatch):
    """Regression (an adversarial tester): 3 class names for a 10-output model were an IndexError in predict, and
    10 names for a 3-output model predicted silently from the wrong list. Checked on every runtime."""
    from featcache.deploy import model as model_io
    from featcache.deploy.predict import predict

    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    ten = [f"c{i}" for i in range(10)]
    for n_out, names in ((10, ["a", "b", "c"]), (3, ten)):
        path = _softmax_model(tmp_path / f"m{n_out}.keras", n_out, names)
        _one_line_error(capsys, ["predict", str(path), str(photo), "--runtime", "tensorflow"],
                        f"{path} is a featcache model whose featcache.json names {len(names)} classes but whose network "
                        f"gives {n_out} class probabilities; re-export")
    good = _softmax_model(tmp_path / "good.keras", 3, ["a", "b", "c"])
    assert [c for c, _ in predict(good, [photo], runtime="tensorflow")[0].top] != []
    # A converted model (ONNX Runtime, OpenVINO) runs without Keras: its output is checked where it comes out.
    from featcache.embedding import runtimes

    monkeypatch.setattr(runtimes, "build", lambda runtime, spec, *a, **k: ("onnxruntime", lambda x: [np.full((len(x), 10), 0.1)], None))
    with pytest.raises(featcache.FeatcacheError, match="names 3 classes but whose network gives 10 class probabilities"):
        predict(good, [photo], runtime="onnxruntime")
    # and one row per image: a conversion of an only:flip model made before its graph was checked (load_model refuses
    # the model now, a cached conversion skips that load) gave 2 rows per image, the first ones said (a tester)
    monkeypatch.setattr(runtimes, "build", lambda runtime, spec, *a, **k: ("onnxruntime", lambda x: [np.full((2 * len(x), 3), 1 / 3)], None))
    with pytest.raises(featcache.FeatcacheError, match=r"gave 2 rows of probabilities for 1 image: its network "
                                                       "averages other views than its featcache.json records; re-export"):
        predict(good, [photo], runtime="onnxruntime")


def test_verify_and_info_refuse_a_model_whose_class_names_are_not_its_networks_without_tensorflow(tmp_path, capsys):
    """verify said "ok ... intact" and info described a model whose featcache.json names 4 classes while its network
    gives 3 (its digest remade), which predict and load_model refuse (an adversarial tester). Read from the network's
    description (config.json), no TensorFlow loaded: verify of an intact model stays that light."""
    for n_out, names in ((3, ["a", "b", "c", "d"]), (3, ["a", "b"])):
        path = _softmax_model(tmp_path / f"m{len(names)}.keras", n_out, names)
        for command in ("verify", "info"):
            proc, imported = cli_imports(tmp_path, command, str(path))
            assert proc.returncode == 2 and imported == [], (proc.stderr, imported)
            assert proc.stderr.strip() == (f"featcache {command}: error: {path} is a featcache model whose featcache.json "
                                           f"names {len(names)} classes but whose network gives {n_out} class "
                                           "probabilities; re-export the model with 'featcache export' (or 'featcache "
                                           "finetune')"), proc.stderr
    good = _softmax_model(tmp_path / "good.keras", 3, ["a", "b", "c"])
    proc, imported = cli_imports(tmp_path, "verify", str(good))
    assert proc.returncode == 0 and "is intact (model" in proc.stdout and imported == [], (proc.stdout, proc.stderr)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A tiny model file as save_model writes it (3 classes), made once: each test changes a copy."""
    return _softmax_model(tmp_path_factory.mktemp("tiny") / "m.keras", 3, ["ants", "bees", "wasps"])


def _rewrite_model(src, dst, change):
    """A copy of the model file ``src`` rewritten entry by entry: ``change(name, data)`` gives an entry's new bytes,
    None to drop it; ``change("", None)`` gives extra ``(name, data)`` entries to add (or None). The zip's own
    CRC-32s are made anew, as any tool that edits a zip makes them: only the digest can tell."""
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = change(item.filename, zin.read(item))
            if data is not None:
                zout.writestr(item, data)
        for name, data in change("", None) or ():
            zout.writestr(name, data)
    return dst


def _reversed_names(name, data):
    if name == "featcache.json":
        meta = json.loads(data)
        return json.dumps({**meta, "class_names": meta["class_names"][::-1]}).encode()
    return data


def _weights_byte(name, data):  # the last byte of the weights (a bias of the Dense layer)
    return data[:-1] + bytes([data[-1] ^ 1]) if name == "model.weights.h5" else data


@pytest.mark.parametrize("other", [(2, ["cats", "dogs"]), (4, ["a", "b", "c", "d"])])
def test_a_model_file_replaced_while_the_inputs_are_listed_is_refused(tiny_model, tmp_path, capsys, monkeypatch,
                                                                      other):
    """Regression (an adversarial tester): predict read the model's record (its class names) before listing the
    inputs and loaded the network after; a model of other classes put there meanwhile was run under the first one's
    names: its outputs named 'ants'/'bees'/'wasps', exit 0, or an IndexError where it had more outputs. Now one line,
    exit 2, no CSV."""
    import featcache.deploy.predict as predict

    model = tmp_path / "m.keras"
    model.write_bytes(tiny_model.read_bytes())
    replacement = _softmax_model(tmp_path / "other.keras", *other).read_bytes()
    image = write_image(tmp_path / "a.png", class_image(0, 0, 16))
    listed = predict.collect_inputs

    def then_replaced(*args, **kwargs):
        out = listed(*args, **kwargs)
        model.write_bytes(replacement)
        return out

    monkeypatch.setattr(predict, "collect_inputs", then_replaced)
    _one_line_error(capsys, ["predict", str(model), str(image), "--runtime", "tensorflow", "--csv", str(tmp_path / "p.csv")],
                    f"{model} changed while it was read (it is no longer the file read at the start); rerun the "
                    "command once the file is no longer being written")
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("change", ["another model", "removed"])
def test_a_model_file_replaced_while_it_is_run_is_refused(tiny_model, tmp_path, capsys, monkeypatch, change):
    """Regression (helper-250): predict checked the model file only until its network was loaded (its record, and on
    TensorFlow its SHA-256 after the load); a file replaced while the images ran got a CSV naming the model at that
    path, exit 0. The runner hashes the bytes it loads and predict hashes the file again after the images, as
    evaluate does (ModelRunner.check_unchanged): one line, exit 2, no CSV."""
    import featcache.deploy.predict as predict

    model = tmp_path / "m.keras"
    model.write_bytes(tiny_model.read_bytes())
    replacement = _softmax_model(tmp_path / "other.keras", 3, ["ants", "bees", "wasps"]).read_bytes()
    image = write_image(tmp_path / "a.png", class_image(0, 0, 16))
    run = predict.predict_files

    def then_replaced(*args, **kwargs):
        out = run(*args, **kwargs)
        model.unlink() if change == "removed" else model.write_bytes(replacement)
        return out

    monkeypatch.setattr(predict, "predict_files", then_replaced)
    _one_line_error(capsys, ["predict", str(model), str(image), "--runtime", "tensorflow", "--csv", str(tmp_path / "p.csv")],
                    f"{model} changed while it was read (it is no longer the file read at the start); rerun the "
                    "command once the file is no longer being written")
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("fault", ["a full temp folder", "a file size limit"])
def test_a_full_temp_folder_is_the_full_disk_line_and_keras_leaves_no_copy_there(tiny_model, tmp_path, capsys,
                                                                                  monkeypatch, fault):
    """Regression (an adversarial tester): Keras unpacks a .keras file whole into a temp folder to load it; with
    TMPDIR on a nearly full tmpfs (or ``ulimit -f 1``) predict said "m.keras could not be loaded (OSError: [Errno 28]
    No space left on device); re-export it", blaming a sound model, and left the half-written copy in TMPDIR. A head
    (evaluate, export, finetune: load_head) was "not a readable featcache head" the same way."""
    import resource
    import tempfile

    from featcache.errors import FeatcacheError
    from featcache.heads.io import load_head

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 6)).astype(np.float32), np.arange(30) % 3
    head = save_head(DenseHead(epochs=1, early_stopping=False, n_classes=3).fit(X, y), tmp_path / "h.keras",
                     {"class_names": ["a", "b", "c"], "layer": "out_relu"})
    image = write_image(tmp_path / "a.png", class_image(0, 0, 16))
    argv = ["predict", str(tiny_model), str(image), "--runtime", "tensorflow"]
    # Keras loads the model here only if this process keeps no network of its bytes (runtimes._model_key: an earlier
    # test's predict of the module's model is kept, and this predict ran on it without a load or a temp folder)
    from featcache.embedding.runtimes import forget_built

    forget_built()
    with contextlib.ExitStack() as stack:
        if fault == "a full temp folder":
            temp = stack.enter_context(tmpfs(tmp_path / "tmp", "size=64k"))
            fill(temp)
            says = f"no space left on {temp} writing {temp / 'tmp'}"
        else:
            temp = tmp_path / "tmp"
            temp.mkdir()
            limits = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.setrlimit(resource.RLIMIT_FSIZE, (1024, limits[1]))  # Python ignores SIGXFSZ: writes fail EFBIG
            stack.callback(resource.setrlimit, resource.RLIMIT_FSIZE, limits)
            says = f"file size limit reached writing {temp / 'tmp'}"
        monkeypatch.setattr(tempfile, "tempdir", str(temp))  # what TMPDIR sets
        there = sorted(temp.iterdir())
        err = _one_line_error(capsys, argv, says)
        assert err.endswith("set TMPDIR to a folder with room (Keras unpacks m.keras there to load it)"), err
        with pytest.raises(FeatcacheError, match=re.escape(says) + r".*Keras unpacks h\.keras there to load it\)$"):
            load_head(head)
        assert sorted(temp.iterdir()) == there  # Keras's copies are gone
    assert main(argv) == 0 and capsys.readouterr().out.startswith(f"{image}: ")  # the model was sound


@pytest.mark.parametrize("change", [
    _reversed_names,
    _weights_byte,
    lambda n, d: d.replace(b'"image_size": 32', b'"image_size": 64') if n == "featcache.json" else d,
    lambda n, d: [("notes.txt", b"added")] if n == "" else d,
    lambda n, d: None if n == "metadata.json" else d,
    lambda n, d: json.dumps({k: v for k, v in json.loads(d).items() if k != "content_digest"}).encode() if n == "featcache.json" else d,
    lambda n, d: json.dumps({**json.loads(d), "content_digest": "0" * 64}).encode() if n == "featcache.json" else d,
], ids=["class-names-reversed", "weights-byte", "image-size", "entry-added", "entry-dropped", "digest-removed",
        "digest-replaced"])
def test_an_edited_or_damaged_model_is_refused_by_its_digest(tiny_model, tmp_path, capsys, monkeypatch, change):
    """Regression: a model file whose featcache.json had its class names reversed, or with a byte of its weights
    changed, predicted silently wrong classes. Its content digest (format 2, the head files' digest) is checked
    whenever it is read, before anything in it is used: one line naming the file and the fix, exit 2, on every
    runtime (a converted one, cached by the file's SHA-256, is not reached)."""
    from featcache.deploy.model import load_model, read_meta
    from featcache.deploy.predict import predict
    from featcache.embedding import runtimes

    bad = _rewrite_model(tiny_model, tmp_path / "m.keras", change)
    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    line = f"{bad} is damaged or was changed after 'featcache export' or 'featcache finetune' saved it ("
    for runtime in ("tensorflow", "auto"):
        err = _one_line_error(capsys, ["predict", str(bad), str(photo), "--runtime", runtime], line)
        assert err.endswith("; re-export the model with 'featcache export' (or 'featcache finetune')"), err
    for read in (read_meta, load_model):
        with pytest.raises(featcache.FeatcacheError, match=re.escape("is damaged or was changed after featcache.export(...)")):
            read(bad)
    built = []  # a conversion (cached or made) is never reached
    monkeypatch.setattr(runtimes, "build", lambda *a, **k: built.append(a) or ("onnxruntime", lambda x: [np.full((len(x), 3), 1 / 3)], None))
    with pytest.raises(featcache.FeatcacheError, match=re.escape("is damaged or was changed after featcache.export(...)")):
        featcache.deploy.model.ModelRunner(bad, "onnxruntime")
    assert built == []
    predict(tiny_model, [photo], runtime="onnxruntime")  # the stub runs the intact file
    assert len(built) == 1


@pytest.mark.parametrize("entry", ["featcache.json", "config.json", "model.weights.h5"])
def test_a_model_with_a_compressed_entry_is_refused_before_it_is_read(tiny_model, tmp_path, capsys, entry):
    """Regression (an adversarial tester, helper-272): a 10 MB model whose featcache.json was deflated with 1 GB of
    spaces after its JSON (its digest, over the parsed record, still matching: no reseal needed) took 2.3 GB and 50 s
    in verify, which said "ok: ... is intact", and in info; one of 20 GB would have been killed without a word.
    featcache and Keras store every entry as it is: a compressed entry is one line before any entry is read whole,
    as an .npz head's is. Fails on the code before: verify and info exit 0 for the featcache.json case, and the
    others are refused only after every entry was read, in other words."""
    import zipfile

    from featcache.deploy.model import load_model, read_meta

    bad = tmp_path / "m.keras"
    with zipfile.ZipFile(tiny_model) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == entry:  # the same bytes and 1 MB of spaces (JSON and HDF5 ignore what follows)
                item.compress_type = zipfile.ZIP_DEFLATED
                data += b" " * 1_000_000
            zout.writestr(item, data)
    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    says = f"(its entry {entry} is compressed, which featcache never writes)"
    for argv in (["verify", str(bad)], ["info", str(bad)], ["predict", str(bad), str(photo), "--runtime", "tensorflow"]):
        err = _one_line_error(capsys, argv, says)
        assert f"{bad} is damaged" in err, err
    for read in (read_meta, load_model):
        with pytest.raises(featcache.FeatcacheError, match=re.escape(says)):
            read(bad)


def test_no_usable_temporary_folder_is_one_line_naming_tmpdir(tiny_model, tmp_path):
    """With no temporary folder usable (here ``ulimit -f 0``: tempfile's probe file cannot be written), importing
    TensorFlow raised tempfile's FileNotFoundError "No usable temporary directory" as a traceback (an adversarial
    tester). One line naming TMPDIR, exit 2. A process: the limit is its own, and TensorFlow is not imported yet."""
    import subprocess
    import sys

    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    code = ("import resource, sys\nresource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))\n"
            "from featcache.cli import main\n"
            f"sys.exit(main(['predict', {str(tiny_model)!r}, {str(photo)!r}, '--runtime', 'tensorflow']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))})
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert last.startswith("featcache predict: error: No usable temporary directory found in "), last
    assert last.endswith("; set TMPDIR to a folder you can write to, with room, and re-run"), last


def _with_entries(src, dst, change) -> Path:
    """A copy of the zip ``src`` whose entries are ``change(entries)``'s, a list of (ZipInfo, bytes), each stored."""
    import zipfile

    with zipfile.ZipFile(src) as zin:
        entries = [(item, zin.read(item)) for item in zin.infolist()]
    with zipfile.ZipFile(dst, "w") as zout:
        for item, data in change(entries):
            zout.writestr(item, data, compress_type=zipfile.ZIP_STORED)
    return dst


def test_a_model_with_a_record_outside_its_digest_is_refused(tiny_model, tmp_path, capsys):
    """Regression (an adversarial tester): the digest skips every entry named featcache.json and hashes the record
    as parsed, so a second featcache.json put before the real one, or 64 MB of spaces after the JSON (stored), left
    verify saying "intact". A zip with two entries of a name (featcache never writes one) and a record past any that
    featcache writes are refused, before the record is read. Fails on the code before: both verify ok."""
    import zipfile

    from featcache.heads.io import MAX_META_BYTES

    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    first = _with_entries(tiny_model, tmp_path / "first.keras",
                          lambda entries: [(zipfile.ZipInfo("featcache.json"), b'{"kind": "evil"}'), *entries])
    padded = _with_entries(tiny_model, tmp_path / "padded.keras", lambda entries: [
        (item, data + b" " * (MAX_META_BYTES + 1) if item.filename == "featcache.json" else data) for item, data in entries])
    assert zipfile.ZipFile(tiny_model).getinfo("featcache.json").file_size < MAX_META_BYTES // 1000  # no real one near
    for bad, says in ((first, "its zip holds 2 entries named featcache.json, which featcache never writes"),
                      (padded, f"its entry featcache.json holds {MAX_META_BYTES + 1 + zipfile.ZipFile(tiny_model).getinfo('featcache.json').file_size:,} bytes, more than")):
        for argv in (["verify", str(bad)], ["info", str(bad)], ["predict", str(bad), str(photo), "--runtime", "tensorflow"]):
            err = _one_line_error(capsys, argv, says)
            assert f"{bad} is damaged" in err, err


def test_out_of_memory_reading_a_record_is_no_foreign_file(tiny_model, capsys, monkeypatch):
    """Under ulimit -v a MemoryError reading a model's featcache.json was said "a zip file ... that featcache did not
    write" (heads.io._read_doc took any error for a record that does not read; an adversarial tester). It is the
    machine's trouble: the CLI's out-of-memory line, the file not blamed."""
    from featcache.heads import io as head_io

    real = head_io.read_entry

    def no_memory(zf, name):
        if name == "featcache.json":
            raise MemoryError("Unable to allocate the record")
        return real(zf, name)

    monkeypatch.setattr(head_io, "read_entry", no_memory)
    for command in ("verify", "info"):
        err = _one_line_error(capsys, [command, str(tiny_model)], "out of memory (Unable to allocate the record); free some")
        assert "did not write" not in err and "damaged" not in err, err


@pytest.mark.parametrize("edit, why", [
    (lambda layer: layer["config"].update(bogus=1), "Unrecognized keyword arguments passed to Softmax: {'bogus': 1}"),
    (lambda layer: layer.update(class_name="NoSuchLayer"),
     "Could not deserialize 'keras.layers.NoSuchLayer' because it is not a KerasSaveable subclass"),
], ids=["unknown-argument", "unknown-class"])
def test_a_model_keras_cannot_rebuild_says_why_in_one_line(tiny_model, tmp_path, capsys, edit, why):
    """Regression (a tester): a crafted model whose config.json Keras cannot deserialize (its digest made again,
    so only the load can tell) said only 'could not be loaded (ValueError)'. Now Keras's reason, one line, exit 2."""
    def change(name, data):
        if name == "config.json":
            config = json.loads(data)
            edit(next(l for l in config["config"]["layers"] if l["class_name"] == "Softmax"))
            return json.dumps(config).encode()
        return data

    bad = reseal_model(_rewrite_model(tiny_model, tmp_path / "m.keras", change))
    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    _one_line_error(capsys, ["predict", str(bad), str(photo), "--runtime", "tensorflow"],
                    f"{bad} could not be loaded ({why}); re-export it with this featcache version")


@pytest.mark.parametrize("storage", [False, True], ids=["external-link", "external-storage"])
def test_a_model_whose_weights_reach_outside_its_file_is_refused_before_keras_loads_it(tiny_model, tmp_path, capsys,
                                                                                        storage):
    """Regression (helper-214, helper-223): Keras opens a .keras file's model.weights.h5 with h5py; Keras 3.14 (which
    pyproject allows) follows an external link or external storage in it (a FIFO there blocks in C, deaf to Ctrl-C:
    here the opener after 5 s would end it), and Keras 3.15 refuses them in a line that lost its reason ("could not
    be loaded (ValueError: A total of 1 objects could not be loaded ...)"). The weights file is walked inside the zip
    first, as a cache is, its digest made again (a digest is no signature): one line naming it, exit 2."""
    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    with fifo_unblocked(tmp_path / "fifo", after=5) as fifo:
        bad = reseal_model(_rewrite_model(tiny_model, tmp_path / "m.keras", keras_weights_reaching_out(fifo, storage)))
        _one_line_error(capsys, ["predict", str(bad), str(photo), "--runtime", "tensorflow"],
                        f"{bad} reaches outside its file (its model.weights.h5: ")
    assert main(["predict", str(tiny_model), str(photo), "--runtime", "tensorflow"]) == 0


def test_a_flipped_byte_in_a_model_file_is_one_line(tiny_model, tmp_path, capsys):
    """A byte flipped in place (a bad disk, not an edit): the zip's CRC-32, read through while hashing, says so."""
    import shutil
    import zipfile

    from helpers import flip

    bad = shutil.copy(tiny_model, tmp_path / "m.keras")
    with zipfile.ZipFile(bad) as zf:
        info = zf.getinfo("model.weights.h5")
    flip(bad, info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2)
    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    _one_line_error(capsys, ["predict", str(bad), str(photo)],
                    f"{bad} is damaged or was changed after 'featcache export' or 'featcache finetune' saved it (")


def test_a_model_round_trip_carries_a_digest_and_predicts_the_same(tiny_model, tmp_path):
    """What save_model writes reads back checked (format 2, a digest), and predicts what the network it saved does;
    saving the loaded model again (its meta as loaded) makes a digest of the new file."""
    import warnings

    from featcache.deploy.model import FORMAT_VERSION, check_content, load_model, save_model

    images = np.random.default_rng(0).integers(0, 256, size=(4, 20, 20, 3), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no note: the file is checked
        net, meta = load_model(tiny_model)
        assert check_content(tiny_model) == (True, meta)
    assert meta["format_version"] == FORMAT_VERSION == 2 and len(meta["content_digest"]) == 64
    again = save_model(net, tmp_path / "again.keras", meta)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net2, meta2 = load_model(again)
    assert meta2["content_digest"] != meta["content_digest"]  # another file (its "created" and zip differ)
    assert {k: v for k, v in meta2.items() if k not in ("content_digest", "created")} == \
        {k: v for k, v in meta.items() if k not in ("content_digest", "created")}
    np.testing.assert_array_equal(net2.predict(images, verbose=0), net.predict(images, verbose=0))
    from featcache.deploy.predict import predict

    photo = write_image(tmp_path / "a.png", images[0])
    assert predict(again, [photo], runtime="tensorflow")[0].top == predict(tiny_model, [photo], runtime="tensorflow")[0].top


def test_a_model_saved_before_digests_loads_with_one_note(tiny_model, tmp_path, capsys):
    """Models of format 1 (before 2026-12-03) carry no digest: they still load and predict, with one note line
    however often predict reads the file (its metadata first, then the network), on any runtime."""
    from featcache.deploy.model import UncheckedModelWarning, load_model

    def as_format_1(name, data):
        if name == "featcache.json":
            meta = json.loads(data)
            meta.pop("content_digest")
            return json.dumps({**meta, "format_version": 1, "featcache_version": "0.1.0"}).encode()
        return data

    old = _rewrite_model(tiny_model, tmp_path / "old.keras", as_format_1)
    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    note = (f"featcache predict: note: {old} carries no content digest (saved before featcache's model digests of "
            "2026-12-03, or its digest was removed), so nothing checks that it is as saved; re-export the model with "
            "'featcache export' (or 'featcache finetune') to have it checked")
    assert main(["predict", str(old), str(photo), "--runtime", "tensorflow"]) == 0
    out = capsys.readouterr()
    assert out.err.strip() == note and out.out.startswith(str(photo))
    with pytest.warns(UncheckedModelWarning):
        _, meta = load_model(old)
    assert "content_digest" not in meta and meta["format_version"] == 1


def test_verify_checks_a_models_content_digest(tiny_model, tmp_path, capsys):
    """'featcache verify' took caches only (a model was "not a readable HDF5 file"): it now reads a model file
    through and compares its content digest, as every read of a model does."""
    from helpers import assert_verify_ok

    assert_verify_ok(capsys, tiny_model, "model")
    bad = _rewrite_model(tiny_model, tmp_path / "bad.keras", _weights_byte)
    _one_line_error(capsys, ["verify", str(bad)],
                    f"{bad} is damaged or was changed after 'featcache export' or 'featcache finetune' saved it (")
    assert main(["verify", str(bad), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["ok"] is False


def test_a_fifo_given_as_a_model_says_it_is_not_a_regular_file(tmp_path, capsys):
    """Regression (an adversarial tester): a FIFO given as a model was "model file not found"; it is there."""
    import os

    fifo = tmp_path / "fifo.keras"
    os.mkfifo(fifo)
    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    err = _one_line_error(capsys, ["predict", str(fifo), str(photo)], f"{fifo} is not a regular file (a FIFO, socket or device); "
                          "pass the .keras file written by 'featcache export' or 'featcache finetune'")
    assert "not found" not in err
    _one_line_error(capsys, ["predict", str(tmp_path / "gone.keras"), str(photo)], "model file not found")


def _photos_with_broken_ones(folder, n: int, broken: tuple[int, ...]) -> list:
    """``n`` small PNGs named 000.png...; those at ``broken`` are not images (skipped, with their reason)."""
    from helpers import class_image

    paths = []
    for i in range(n):
        path = folder / f"{i:03d}.png"
        if i in broken:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"not a png")
        else:
            write_image(path, class_image(i % 3, i, 8))
        paths.append(path)
    return paths


def _stubbed_model(path, monkeypatch, image_size: int, events: list):
    """A model file whose network is stubbed out (predict's plumbing without TensorFlow): ``events`` records each
    image decoded ("decode") and each batch the model is handed (its length)."""
    from featcache.sources import decode

    _meta_only_model(path, image_size=image_size)
    stub_model_runs(monkeypatch.setattr, run=lambda net, x, bs=64: (
        events.append(len(x)), np.stack([x.mean(axis=(1, 2, 3)) / 255, 1 - x.mean(axis=(1, 2, 3)) / 255], axis=1))[1])
    real_decode = decode.decode_image
    monkeypatch.setattr(decode, "decode_image", lambda *a, **k: (events.append("decode"), real_decode(*a, **k))[1])
    return path


def test_predict_streams_image_files_in_batches_and_memory_does_not_grow_with_their_number(tmp_path, monkeypatch,
                                                                                          capsys, progress_on):
    """A review: predict decoded every image file into one (N, size, size, 3) array before running the model once
    (7.5 GB for 50,000 photos at 224 px). Files are now decoded a batch at a time, a few batches ahead of the one
    that runs; the model is never handed more than a batch, and the peak memory of 80 files is that of 20."""
    import tracemalloc

    from featcache.deploy.predict import predict

    events: list = []
    model = _stubbed_model(tmp_path / "m.keras", monkeypatch, image_size=256, events=events)  # 192 KB an image
    paths = _photos_with_broken_ones(tmp_path / "photos", 80, broken=(3, 4, 50, 79))
    preds = predict(model, paths, batch_size=4)
    batches = [e for e in events if e != "decode"]
    assert max(batches) <= 4 and sum(batches) == 76 and batches == [4] * 19  # decoded images fill each batch
    assert events.index(4) < len(events) - 1 - events[::-1].index("decode")  # a batch ran before the last decode
    # decoded ahead of the model (deploy.predict.predict_files) by a few batches at most: before the k-th batch ran,
    # at most k + PREFETCH batches' files were decoded (and the 4 that do not decode); all 80 before the first, once
    from featcache.embedding.engines.local import PREFETCH

    ran = [i for i, e in enumerate(events) if e != "decode"]
    assert all(events[:i].count("decode") <= 4 * (k + 1 + PREFETCH) + 4 for k, i in enumerate(ran)), events
    assert [p.input for p in preds] == [str(p) for i, p in enumerate(paths) if i not in (3, 4, 50, 79)]
    assert [p for p, _ in preds.skipped] == [str(paths[i]) for i in (3, 4, 50, 79)]

    def peak(files) -> int:
        tracemalloc.start()
        try:
            predict(model, files, batch_size=4)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    image = 256 * 256 * 3
    few, many = peak(paths[:20]), peak(paths)
    # before: 60 more images held at once (11 MB). The batches read ahead (PREFETCH, and one being made) may all be
    # in memory at once in one run and not in another (the threads' timing): counted in the margin
    assert many < few + 4 * (2 + PREFETCH) * image, (few, many)
    assert many < 20 * image, many
    # A progress bar when asked (the CLI asks on a terminal): per batch, on stderr, stdout left alone.
    capsys.readouterr()
    predict(model, paths[:12], batch_size=4, verbose=True)
    out, err = capsys.readouterr()
    bar = [line for line in err.splitlines() if not line.startswith("predict: ")]
    assert out == "" and bar[-1].startswith("12/12 [") and len(bar) >= 3
    assert err.splitlines()[-1].startswith("predict: skipped 2 files that are not readable images: ")  # as the CLI says
    assert err.splitlines()[-2].startswith("predict: predicted 10 images in ") and " images/s, runtime stub; " in err
    # the image files of the first line, each predicted or skipped: "predicting 12 images", then 10 (a session's
    # brief, 2026-12-06)
    assert err.splitlines()[-2].endswith("); 2 image files skipped"), err
    # at once, before the model loads (a new user: a silent minute), the command's first line; no bar at 0 before it
    # nor off a terminal (helper-244: " 0/12 [" came first)
    assert err.splitlines()[0].startswith("predicting 12 image files with ") and " 0/12 [" not in err
    predict(model, paths[:4], batch_size=4, verbose=True)  # one batch: not long work, no bar; the skipped file said
    err = capsys.readouterr().err.splitlines()  # after what loads the model and what runs it (status lines)
    assert err[0].startswith("predicting 4 image files with ") and err[1].startswith("model ready on "), err
    assert err[2].startswith("predict: predicted 3 images in ") and err[2].endswith("; 1 image file skipped"), err
    assert err[3].startswith("predict: skipped 1 file that is not a readable image: ") and len(err) == 4, err


def test_predictions_across_batches_equal_those_of_one_batch(tmp_path):
    """Results do not depend on the batching: the same inputs in batches of 2 (files that do not decode in the middle
    of a batch and after the last one, a .npy among the files) give the same order, classes, probabilities, skipped
    files and JSON as one batch of all."""
    from helpers import class_image

    from featcache.deploy.predict import predict

    model = _softmax_model(tmp_path / "m.keras", 3, ["a", "b", "c"])
    paths = _photos_with_broken_ones(tmp_path / "photos", 9, broken=(1, 5, 8))
    array = tmp_path / "x.npy"
    np.save(array, np.stack([class_image(i % 3, 100 + i, 8) for i in range(5)]))
    inputs = [*paths[:4], array, *paths[4:], paths[0]]  # a file twice
    one = predict(model, inputs, batch_size=64, top_k=3, runtime="tensorflow")
    several = predict(model, inputs, batch_size=2, top_k=3, runtime="tensorflow")
    want = [str(p) for p in paths[:4] if p != paths[1]] + [f"{array}[{i}]" for i in range(5)] + \
        [str(p) for p in paths[4:] if p not in (paths[5], paths[8])] + [str(paths[0])]
    assert [p.input for p in one] == [p.input for p in several] == want
    for a, b in zip(one, several):
        assert [c for c, _ in a.top] == [c for c, _ in b.top]
        np.testing.assert_allclose([p for _, p in a.top], [p for _, p in b.top], atol=1e-6)
    assert one.skipped == several.skipped and [p for p, _ in one.skipped] == [str(paths[i]) for i in (1, 5, 8)]
    timing = {"seconds", "startup_seconds", "images_per_s", "view_images_per_s"}  # the run's speed (Throughput)
    assert {k: v for k, v in one.to_dict().items() if k not in timing} == \
        {k: v for k, v in several.to_dict().items() if k not in timing}
    assert one.to_dict()["images"] == len(one) == len(want) and one.to_dict()["images_per_s"] > 0
    # And what the model gives those images in one call.
    from featcache.sources.decode import decode_image

    net, _ = featcache.load_model(model)
    good = [p for p in paths if p not in (paths[1], paths[5], paths[8])]
    probs = net.predict(np.stack([decode_image(p, 32) for p in good]), verbose=0)
    files_only = [p for p in several if "[" not in p.input][: len(good)]
    for p, row in zip(files_only, probs):
        assert p.top[0][0] == "abc"[int(row.argmax())] and p.top[0][1] == pytest.approx(float(row.max()), abs=1e-5)


def test_predict_shows_paths_with_control_characters_escaped_one_line_each(tmp_path, monkeypatch, capsys):
    """Regression (an adversarial tester): predict on a folder named "in\\nput" split every prediction line, its
    left-out line and the CSV line in two (the skipped line escaped them already); every path is shown escaped."""
    model = _stubbed_model(tmp_path / "m.keras", monkeypatch, image_size=8, events=[])
    folder = tmp_path / "in\nput"
    _photos_with_broken_ones(folder, 3, broken=(1,))
    (folder / "sub\rdir").mkdir()
    (folder / "no\x1bte.txt").write_text("not an image")
    csv = tmp_path / "o\nut.csv"
    assert main(["predict", str(model), str(folder), "--csv", str(csv)]) == 0
    out, err = capsys.readouterr()
    shown = str(folder).replace("\n", "\\n")
    lines = out.splitlines()
    assert [line.split(": ")[0] for line in lines[:2]] == [f"{shown}/000.png", f"{shown}/002.png"], out
    assert len(lines) == 2 and err.splitlines()[-1] == "predict: predictions -> " + str(csv).replace("\n", "\\n"), out
    assert all(", bees " in line or ", ants " in line for line in lines[:2])  # stdout: the predictions alone
    assert len(err.splitlines()) == 3 and "\x1b" not in err and "\r" not in err, err
    assert f"{shown}/001.png (not an image" in err and f"{shown}/sub\\rdir/" in err and f"{shown}/no\\x1bte.txt" in err
    assert csv.exists()


def test_predict_recursive_reads_a_class_folder_tree(tiny_model, tmp_path, capsys):
    """'predict MODEL hymenoptera/val' said to pass each class folder (a new user asked for --recursive): with
    --recursive (API: recursive=True) the image files of every subfolder are read, sorted by path, hidden ones not;
    without it the refusal names the option."""
    from helpers import make_class_tree

    root = make_class_tree(tmp_path / "val", {"ants": 2, "bees": 3}, size=12)
    (root / "bees" / "deeper").mkdir()
    write_image(root / "bees" / "deeper" / "z.png", np.zeros((8, 8, 3), np.uint8))
    (root / ".hidden").mkdir()
    write_image(root / ".hidden" / "h.png", np.zeros((8, 8, 3), np.uint8))
    (root / "ants" / "notes.txt").write_text("not an image")
    _one_line_error(capsys, ["predict", str(tiny_model), str(root), "--runtime", "tensorflow"],
                    "only folders (ants, bees); pass those folders (e.g. " + str(root / "ants") + "), or --recursive")
    want = sorted(str(p) for p in root.rglob("*.png") if ".hidden" not in p.parts)
    assert len(want) == 6
    from featcache.deploy.predict import predict

    res = predict(tiny_model, [root], recursive=True, runtime="tensorflow")
    assert [p.input for p in res] == want and res.left_out == [str(root / "ants" / "notes.txt")]
    assert main(["predict", str(tiny_model), str(root), "--recursive", "--runtime", "tensorflow"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert [line.split(": ")[0] for line in out] == want
    with pytest.raises(featcache.FeatcacheError, match="^recursive must be True or False"):
        predict(tiny_model, [root], recursive="yes")


def test_predict_recursive_reads_a_folder_nested_deeper_than_pythons_recursion_limit(tiny_model, tmp_path, capsys,
                                                                                      monkeypatch):
    """Regression (a review): extract reads a photo folder nested 1,100 levels deep (images._Walker.physical is a
    loop), but predict --recursive listed folders with os.walk, which recurses once per level on Python 3.11, and
    refused the same tree as "nested too deeply". Its deepest image is predicted, with the others, CLI and API."""
    import sys
    from pathlib import Path

    from helpers import make_class_tree, nested_folders, unnest

    root = make_class_tree(tmp_path / "val", {"ants": 1, "bees": 1}, size=12)
    levels = 1100  # beyond Python's default recursion limit (1,000), within a path's 4,096 bytes
    deepest = nested_folders(root / "bees", levels)
    monkeypatch.chdir(deepest)  # os.makedirs (write_image's) recurses as well: written from inside
    write_image(Path("deep.png"), np.zeros((8, 8, 3), np.uint8))
    Path("notes.txt").write_text("not an image")  # left out, and said so, from that deep too
    monkeypatch.chdir(tmp_path)
    want = [str(root / "ants" / "ants_000.png"), str(root / "bees" / "bees_000.png"), str(deepest / "deep.png")]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(min(limit, 1000))  # the default (pytest-xdist's workers raise it)
    try:
        res = featcache.predict(tiny_model, [root], recursive=True, runtime="tensorflow")
        code = main(["predict", str(tiny_model), str(root), "--recursive", "--runtime", "tensorflow"])
    finally:
        sys.setrecursionlimit(limit)
        unnest(root / "bees")
    assert [p.input for p in res] == sorted(want) and res.left_out == [str(deepest / "notes.txt")], res.left_out
    out, err = capsys.readouterr()
    assert code == 0 and sorted(line.split(": ")[0] for line in out.splitlines()) == sorted(want), err


def test_a_photo_model_classifies_an_array_as_the_file_of_the_same_pixels(tmp_path, capsys):
    """Regression (an independent audit): the model resizes inside its graph with TensorFlow's bilinear (the
    lesson's), the photo cache its head was trained on with the decoder's Pillow bilinear, so the same photos given
    as full-size arrays were classified differently from the files (P(ants) moved by up to 0.42 on 15 of 153
    hymenoptera photos). predict resizes an array as the decoder resizes a file, for a model of photos."""
    from PIL import Image
    from helpers import tiny_photo_cache

    cache, root = tiny_photo_cache(tmp_path, size=80), tmp_path / "photos"  # PNGs at 80 px, the model at 32
    model = featcache.export(featcache.train(cache, "logreg", out=tmp_path / "h.npz").path, tmp_path / "m.keras").path
    # loaded once for the four predicts (how they read files and arrays is what is compared): each predict of the path
    # was a Keras load and check of the same file, and a trace (1-3 s a predict here)
    model = featcache.load_model(model)
    files = sorted((root / "bees").glob("*.png"))
    stack = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
    np.save(tmp_path / "bees.npy", stack)
    np.save(tmp_path / "gray.npy", stack[..., :1])  # a gray array is made RGB first, as the decoder does
    by_file = featcache.predict(model, files, top_k=2)
    by_array = featcache.predict(model, [tmp_path / "bees.npy"], top_k=2, batch_size=4)  # across batches too
    assert len(by_array) == len(by_file) == len(files)
    for f, a in zip(by_file, by_array):
        assert [c for c, _ in f.top] == [c for c, _ in a.top]
        np.testing.assert_allclose([p for _, p in f.top], [p for _, p in a.top], atol=1e-6)
    gray_files = []
    for i, f in enumerate(files):
        Image.fromarray(stack[i, ..., 0]).save(tmp_path / f"g{i}.png")
        gray_files.append(tmp_path / f"g{i}.png")
    for f, a in zip(featcache.predict(model, gray_files, top_k=2), featcache.predict(model, [tmp_path / "gray.npy"], top_k=2)):
        np.testing.assert_allclose([p for _, p in f.top], [p for _, p in a.top], atol=1e-6)


def test_a_file_put_at_out_during_an_export_is_never_replaced(tmp_path, monkeypatch, capsys):
    """Regression (an adversarial tester): export, finetune, train and predict --csv checked their output once, at
    the start: a file the user saved there during the run was replaced with no message, and two exports to one path
    both said they wrote it. The check runs again just before the rename (store.atomic.atomic_path's recheck)."""
    from helpers import tiny_photo_cache

    from featcache.deploy import model as model_io

    cache, root = tiny_photo_cache(tmp_path, size=16), tmp_path / "photos"
    head = featcache.train(cache, "logreg", out=tmp_path / "h.npz").path
    out = tmp_path / "m.keras"
    real = model_io.add_sealed_meta

    def user_saves_meanwhile(tmp, meta):
        out.write_text("my notes")  # while the model is written
        return real(tmp, meta)

    monkeypatch.setattr(model_io, "add_sealed_meta", user_saves_meanwhile)
    _one_line_error(capsys, ["export", str(head), "--out", str(out)], "exists and is not a model featcache wrote")
    assert out.read_text() == "my notes" and not list(tmp_path.glob(".m*")) and not (tmp_path / ".m.keras.lock").exists()
    out.unlink()
    monkeypatch.setattr(model_io, "add_sealed_meta", real)
    assert not featcache.export(head, out).replaced  # nothing there at the start nor at the end
    # predict --csv: a file saved there during the run (no record of featcache's, not a predictions CSV) is refused
    # under the CSV's lock, not replaced
    from featcache.deploy import predict as predict_mod

    csv_path = tmp_path / "p.csv"
    real_csv = predict_mod.csv_header
    monkeypatch.setattr(predict_mod, "csv_header", lambda k, *value: csv_path.write_text("my table") and real_csv(k, *value))
    _one_line_error(capsys, ["predict", str(out), str(root / "ants"), "--csv", str(csv_path)],
                    "exists and is not a predictions CSV featcache wrote")
    assert csv_path.read_text() == "my table" and not list(tmp_path.glob("p.before-*.csv"))


def test_predict_of_one_npy_moves_its_bar_batch_by_batch(tiny_model, tmp_path, capsys, progress_on):
    """One .npy of 500 images showed 0/500, then 500/500 22 s later (a new-user tester): the bar moved once per
    array. Now once per batch, with the same predictions as run in one piece."""
    from featcache.deploy.predict import predict

    images = np.random.default_rng(0).integers(0, 256, (40, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "x.npy", images)
    got = predict(tiny_model, [tmp_path / "x.npy"], batch_size=8, runtime="tensorflow", verbose=True)
    counts = [int(line.split("/")[0].split()[-1]) for line in capsys.readouterr().err.splitlines() if "/40 [" in line]
    assert counts[-1] == 40 and {8, 16, 24, 32} <= set(counts)
    one = predict(tiny_model, [tmp_path / "x.npy"], batch_size=64, runtime="tensorflow")
    assert [p.input for p in got] == [f"{tmp_path / 'x.npy'}[{i}]" for i in range(40)]
    # the same rows in batches of 8 and of 64: the same classes in the same order, probabilities to float32's noise
    # (exactly equal on the Xeon; 0.2991357147 against 0.2991357446 in the whole suite on an AMD EPYC Zen 3, 2026-12-07)
    assert [[c for c, _ in p.top] for p in got] == [[c for c, _ in p.top] for p in one]
    np.testing.assert_allclose([[q for _, q in p.top] for p in got], [[q for _, q in p.top] for p in one], atol=1e-6)


def test_a_model_at_out_whose_class_names_were_edited_is_said_to_be_edited_not_of_another_data_set(tmp_path):
    """A review: a model whose featcache.json class names were edited by hand was refused at --out as "a model of
    another data set". Where the evidence shows an edit it is said: a content digest that fails, or (a model of
    format 1, no digest) the very cache of the head exported but other class names. Where nothing tells an edit from
    another data set, the words stay."""
    from featcache.deploy.model import check_same_model_job
    from featcache.errors import FeatcacheError

    fp = "ab" * 32
    fields = {"dataset": "photos", "class_names": ["ants", "bees"], "head": "logreg", "head_params": {"C": 0.03},
              "cache_fingerprint": fp}
    head = {"dataset": "photos", "class_names": ["ants", "bees"], "head": "logreg", "params": {"C": 0.03},
            "cache_fingerprint": fp}
    sealed = meta_only_model(tmp_path / "m.keras", **fields)
    assert check_same_model_job(sealed, head, None, False) == (True, None)  # the same job: replaced
    edited = _with_meta(sealed, tmp_path / "edited.keras", reseal=False, class_names=["ant", "bee"])
    with pytest.raises(FeatcacheError, match=rf"^out='{edited}' holds a model changed since featcache saved it \(its "
                                             r"content_digest does not match its contents\): edited by hand or damaged, .*"
                                             r"choose another out, or pass force=True to replace it$"):
        check_same_model_job(edited, head, None, False)
    assert check_same_model_job(edited, head, None, True) == (True, None)  # --force replaces it
    # format 1 (no digest): the cache it records is the head's, the classes are not: edited
    old = _with_meta(sealed, tmp_path / "old.keras", reseal=False, class_names=["ant", "bee"], format_version=1,
                     content_digest=...)
    with pytest.raises(FeatcacheError, match=rf"^out='{old}' holds a model whose record was edited or damaged: it "
                                             rf"records the cache this one is made from \(fingerprint {fp[:12]}\) but "
                                             r"other class names \(ant, bee there; ants, bees here\); choose another"):
        check_same_model_job(old, head, None, False)
    # a model of another cache and classes: another data set, as before, sealed or not
    for reseal, name in ((True, "other.keras"), (False, "other1.keras")):
        other = _with_meta(sealed, tmp_path / name, reseal=reseal, class_names=["cats", "dogs"], cache_fingerprint="cd" * 32,
                           **({} if reseal else {"format_version": 1, "content_digest": ...}))
        with pytest.raises(FeatcacheError, match=r"holds a model of another data set \(photos: cats, dogs\)"):
            check_same_model_job(other, head, None, False)


def test_a_replaced_model_or_head_is_said_to_be_of_another_cache_only_where_it_is(tmp_path):
    """Regression (a review, 2026-12-05): export/finetune --force (and train) said "replaced the model made on another
    cache" of every fingerprint that differed: over a model of another data set too, and over a model of format 1
    that records none, where docs/model-format.md defines it as a re-extraction of the same data. The words now say
    what is known (heads.io.replaced_from): another cache of the data set, another data set, another photo folder,
    or nothing more."""
    from featcache.deploy.model import check_same_model_job, read_meta
    from featcache.heads.io import replaced_from, replaced_words

    fp, fp2 = "ab" * 32, "ef" * 32
    fields = {"dataset": "photos", "class_names": ["ants", "bees"], "head": "logreg", "head_params": {"C": 0.03},
              "cache_fingerprint": fp}
    head = {"dataset": "photos", "class_names": ["ants", "bees"], "head": "logreg", "params": {"C": 0.03},
            "cache_fingerprint": fp2}
    sealed = meta_only_model(tmp_path / "m.keras", **fields)
    # a re-extraction of the data set: the same job, replaced without --force, and said
    assert check_same_model_job(sealed, head, None, False) == (True, "another cache")
    assert replaced_words(True, "model", "another cache") == "; replaced the model made on another cache there"
    # another data set's model, replaced with --force: said as that
    other = _with_meta(sealed, tmp_path / "other.keras", class_names=["cats", "dogs"], cache_fingerprint="cd" * 32)
    assert check_same_model_job(other, head, None, True) == (True, "another data set")
    assert replaced_words(True, "model", "another data set") == "; replaced the model of another data set there"
    # a model of format 1 without a fingerprint: where it was made is not known, so nothing more is said
    older = _with_meta(sealed, tmp_path / "older.keras", reseal=False, format_version=1, content_digest=...,
                       cache_fingerprint=...)
    assert "cache_fingerprint" not in read_meta(older)
    assert check_same_model_job(older, head, None, True) == (True, None)
    assert replaced_words(True, "model", None) == "; replaced the model there"
    # heads alike (train's line): another photo folder of the same name and classes, and this very cache
    for folder in ("a", "b"):
        (tmp_path / folder / "photos").mkdir(parents=True)  # two folders that exist: two projects' photos
    photos = {**head, "source": {"kind": "images", "root": str(tmp_path / "a" / "photos")}}
    moved = {**photos, "cache_fingerprint": fp, "source": {"kind": "images", "root": str(tmp_path / "b" / "photos")}}
    assert replaced_from(moved, photos) == "another photo folder"
    assert replaced_words(True, "head", "another photo folder") == "; replaced the head of another photo folder there"
    assert replaced_from({**photos, "cache_fingerprint": fp}, photos) == "another cache"
    assert replaced_from(photos, photos) is None and replaced_from(None, photos) is None


def test_export_out_replaces_a_model_only_of_the_same_fit(tmp_path, monkeypatch, capsys):
    """A tester: export of a random-weights head replaced an imagenet model of the same data set and kind of head,
    saying "replaced the model there"; so did a head of other parameters (heads.io.other_fit returned [] for a
    model). A featcache model at --out is replaced only by a model of its head's fit (params, train size, seed where
    used, train views, layer, backbone and weights): another is one line naming what differs and --force, before any
    work and again under the output's lock; the same fit is replaced as before, and --force replaces another."""
    from helpers import tiny_photo_cache

    from featcache.deploy import model as model_io
    from featcache.deploy.model import read_meta

    cache, root = tiny_photo_cache(tmp_path, size=16), tmp_path / "photos"
    head = featcache.train(cache, "logreg", out=tmp_path / "h.npz").path
    other = featcache.train(cache, "logreg", C=0.001, out=tmp_path / "other.npz").path
    sized = featcache.train(cache, "logreg", train_size=4, out=tmp_path / "sized.npz").path
    out = tmp_path / "m.keras"
    assert not featcache.export(head, out).replaced
    mine = read_meta(out)
    assert (mine["head_params"]["C"], mine["head_train_size"], mine["head_seed"], mine["head_train_images"]) == (0.03, None, 0, 6)
    kept = out.read_bytes()
    _one_line_error(capsys, ["export", str(other), "--out", str(out)],
                    f"--out {out} holds a model of another fit (C 0.03 there, 0.001 here); choose another --out, or pass "
                    "--force to replace it")
    _one_line_error(capsys, ["export", str(sized), "--out", str(out)], "holds a model of another fit (train size all there, 4 here)")
    assert out.read_bytes() == kept
    # the tester's: a model of the same head fit on another network (imagenet) or layer, refused before TensorFlow
    fields = {k: v for k, v in mine.items() if k != "content_digest"}
    imagenet = meta_only_model(tmp_path / "imagenet.keras", **{**fields, "weights": "imagenet"})
    _one_line_error(capsys, ["export", str(head), "--out", str(imagenet)],
                    f"--out {imagenet} holds a model of another fit (weights imagenet there, random here)")
    inner = meta_only_model(tmp_path / "inner.keras", **{**fields, "layer": "block_13_expand_relu"})
    _one_line_error(capsys, ["export", str(head), "--out", str(inner)], "(layer block_13_expand_relu there, out_relu here)")
    # a model of the same head averaging other views in its graph (export --views): not the same model (h111)
    averaged = meta_only_model(tmp_path / "averaged.keras", **{**fields, "views": ["orig", "flip"]})
    _one_line_error(capsys, ["export", str(head), "--out", str(averaged)], "(views averaged orig,flip there, orig here)")
    # the same fit is replaced, and said; --force replaces another
    assert main(["export", str(head), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip().endswith(f"; replaced the model there -> {out}")
    # the same fit on another cache of the data set (extracted again, another split): the same job, replaced, and
    # said as train says it of a head
    again = featcache.extract(featcache.PhotoFolder(str(root), test_fraction=0.25), featcache.ModelSpec(weights="random", image_size=32),
                              featcache.StoreSpec(out=tmp_path / "c2.h5"), verbose=False)
    head2 = featcache.train(again.path, "logreg", out=tmp_path / "h2.npz").path
    assert main(["export", str(head2), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip().endswith(f"; replaced the model made on another cache there -> {out}")
    assert featcache.export(head, out).replaced_other_cache and not featcache.export(head, out).replaced_other_cache
    # --force says it too (a review: only a rerun without --force said "made on another cache")
    assert main(["export", str(head2), "--out", str(out), "--force", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["replaced_other_cache"]
    assert main(["export", str(head), "--out", str(out), "--force"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"; replaced the model made on another cache there -> {out}")
    assert featcache.export(other, out, force=True).replaced and read_meta(out)["head_params"]["C"] == 0.001
    # a model written before models recorded the head's train size, seed and train images: those are unknown, not
    # compared (no default says what they were); its parameters still are
    older = meta_only_model(tmp_path / "older.keras", **{k: v for k, v in fields.items()
                                                         if k not in ("head_train_size", "head_seed", "head_train_images")})
    _one_line_error(capsys, ["export", str(other), "--out", str(older)], "(C 0.03 there, 0.001 here)")
    assert featcache.export(sized, older).replaced
    # ... and its seed, which its head's parameters hold (a review: the seed of the head exported now was taken for
    # the older model's, so a seed 1 subset's head replaced a seed 0 one's model without --force)
    reseeded = featcache.train(cache, "logreg", train_size=4, seed=1, out=tmp_path / "reseeded.npz").path
    older_sized = meta_only_model(tmp_path / "older_sized.keras", **{
        k: v for k, v in read_meta(older).items() if k not in ("content_digest", "head_train_size", "head_seed", "head_train_images")})
    _one_line_error(capsys, ["export", str(reseeded), "--out", str(older_sized)], "(seed 0 there, 1 here)")
    # a model of another fit put at --out while this one is written: refused under the lock, the other model kept
    theirs = out.read_bytes()  # the C 0.001 model
    out.unlink()
    real = model_io.add_sealed_meta

    def another_lands_meanwhile(tmp, meta):
        out.write_bytes(theirs)
        return real(tmp, meta)

    monkeypatch.setattr(model_io, "add_sealed_meta", another_lands_meanwhile)
    _one_line_error(capsys, ["export", str(head), "--out", str(out)], "holds a model of another fit (C 0.001 there, 0.03 here)")
    assert out.read_bytes() == theirs


def test_predict_takes_in_memory_arrays_as_an_npy_of_the_same_pixels(tiny_model, tmp_path):
    """A notebook user's predict("model.keras", [np.zeros((28, 28), np.uint8)]) was refused: "each of images must be
    a path" (a new-user tester). An array (one image or a stack) or a list of arrays (each one image) is predicted as
    an .npy of the same pixels, named <array I>, with the .npy's checks."""
    from featcache.deploy.predict import predict

    def same_tops(got, want):
        """The same classes in the same order, probabilities to 1e-6: TensorFlow's kernels split a batch of 5 and of
        2 across threads differently, 4e-8 apart in 3 of 8 runs (2026-12-07, under load); the pixels are the same."""
        return [[c for c, _ in top] for top in got] == [[c for c, _ in top] for top in want] and np.allclose(
            [[v for _, v in top] for top in got], [[v for _, v in top] for top in want], rtol=0, atol=1e-6)

    images = np.random.default_rng(0).integers(0, 256, (5, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "x.npy", images)
    want = [p.top for p in predict(tiny_model, [tmp_path / "x.npy"], runtime="tensorflow")]
    for given in (images, list(images), [x[..., None] for x in images]):
        got = predict(tiny_model, given, runtime="tensorflow", batch_size=2)
        assert [p.input for p in got] == [f"<array {i}>" for i in range(5)]
        assert same_tops([p.top for p in got], want)
    np.save(tmp_path / "y.npy", images[:2])  # an array of paths is paths still
    assert [p.input for p in predict(tiny_model, np.array([str(tmp_path / "y.npy")]), runtime="tensorflow")] == [
        f"{tmp_path / 'y.npy'}[{i}]" for i in range(2)]
    # ... an object array of them too, df["path"].to_numpy()'s (str or Path items): it was "the array holds an array
    # of shape (2,)" where 3090637 predicted it (a reviewer, R2)
    np.save(tmp_path / "z.npy", images[2:3])
    for paths in (np.array([str(tmp_path / "y.npy"), tmp_path / "z.npy"], dtype=object),
                  [str(tmp_path / "y.npy"), tmp_path / "z.npy"]):
        got = predict(tiny_model, paths, runtime="tensorflow")
        assert [p.input for p in got] == [f"{tmp_path / 'y.npy'}[0]", f"{tmp_path / 'y.npy'}[1]", f"{tmp_path / 'z.npy'}[0]"]
        assert same_tops([p.top for p in got], want[:3])
    one = predict(tiny_model, images[0], runtime="tensorflow")  # one (H, W) image
    assert [p.input for p in one] == ["<array 0>"] and same_tops([one[0].top], want[:1])
    mixed = predict(tiny_model, [images[0], np.zeros((12, 12, 3), np.uint8), images[1]], runtime="tensorflow")
    assert [p.input for p in mixed] == ["<array 0>", "<array 1>", "<array 2>"] and same_tops([mixed[2].top], want[1:2])
    for bad, message in ((np.zeros((2, 8, 8), np.float32), r"^the array holds float32 values, not pixels 0\.\.255; pass uint8"),
                         ([np.zeros((8, 8, 4), np.uint8)], r"^<array 0> holds an array of shape \(8, 8, 4\); each array of a list is one image"),
                         (np.zeros((8, 8, 3), np.uint8), r"^the array holds an array of shape \(8, 8, 3\), which could be one image"),
                         # one (H, W) array under 5 px wide: said as the (1, H, W) stack made of it, "one image or 1 gray
                         # images", a shape never given (a session's note)
                         (np.zeros((5, 3), np.uint8), r"^the array holds an array of shape \(5, 3\), which could be one gray "
                          r"image 3 px wide or a row of 5 pixels of 3 channels; pass one image in a list \(\[image\]\)"),
                         # the hint says one (H, W, C) image goes in a list, as the line above refuses it alone: it
                         # offered "one image (H, W) or (H, W, C)", contradicting that refusal (a reviewer, R3)
                         (np.zeros((2, 8, 8, 2), np.uint8), r"^the array holds an array of shape \(2, 8, 8, 2\); pass uint8 .*"
                          r"one image \(H, W\); or a stack \(N, H, W\) or \(N, H, W, C\) \(one image \(H, W, C\): put it in a list\)$"),
                         ([images[0], "x.png"], r"^images mixes arrays and strs \(item 1: 'x.png'\)")):
        with pytest.raises(featcache.FeatcacheError, match=message):
            predict(tiny_model, bad, runtime="tensorflow")
    assert [p.input for p in predict(tiny_model, [np.zeros((5, 3), np.uint8)], runtime="tensorflow")] == ["<array 0>"]  # as advised


def test_predictions_give_every_class_probability_as_arrays_whatever_top_k(tiny_model, tmp_path):
    """A notebook user computing metrics of their own passed top_k=10 and rebuilt the matrix from each ``top``:
    ``probabilities`` (N, classes, in ``class_names``' order) and ``predicted`` (N,) are the rows predict computed,
    for files (one that does not decode among them), an .npy and arrays in memory, across batches, with top_k=1."""
    from featcache.deploy.predict import Prediction, Predictions, predict

    images = np.random.default_rng(1).integers(0, 256, (5, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "x.npy", images[:3])
    files = _photos_with_broken_ones(tmp_path / "photos", 4, broken=(2,))
    one = predict(tiny_model, [*files, tmp_path / "x.npy"], top_k=1, batch_size=2, runtime="tensorflow")
    every = predict(tiny_model, [*files, tmp_path / "x.npy"], top_k=3, batch_size=2, runtime="tensorflow")
    names = ["ants", "bees", "wasps"]
    assert one.class_names == every.class_names == names and len(one) == 6 and all(len(p.top) == 1 for p in one)
    probs = one.probabilities
    assert probs.shape == (6, 3) and probs.dtype == np.float32
    # Close, not equal: two runs of the network may differ in the last bit (3e-8 seen under load on an AMD EPYC, by
    # a helper, 2026-12-07); a row cut to top_k=1 or another image's row would be off by far more
    np.testing.assert_allclose(probs, [[dict(p.top)[c] for c in names] for p in every], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert one.predicted.dtype == np.int64 and one.predicted.shape == (6,)
    assert [names[i] for i in one.predicted] == [p.top[0][0] for p in one]
    # in memory too, and each Prediction holds its own row
    arrays = predict(tiny_model, images, top_k=2, runtime="tensorflow")
    assert arrays.probabilities.shape == (5, 3) and arrays[4].probabilities.shape == (3,)
    np.testing.assert_allclose(arrays.probabilities[:3], probs[3:], rtol=1e-5, atol=1e-6)  # the .npy's images
    with pytest.raises(ValueError, match="hold no probabilities"):
        Predictions([Prediction("a", [("ants", 1.0)])], class_names=names).probabilities


def _read_as(images):
    """What predict reads ``images`` as, before it opens the model: the stacks' shapes, or the paths."""
    from featcache.deploy.predict import _as_path_list, given_images, in_memory_images

    given = given_images(images)
    stacks = in_memory_images(given)
    return [(i, s.shape) for i, s in stacks] if stacks is not None else _as_path_list(given)


def test_odd_array_inputs_are_read_as_their_plain_arrays_or_paths(tmp_path):
    """An adversarial tester's finds: [np.asmatrix(a)] was a broadcast ValueError, np.asmatrix(a) a TensorFlow
    TypeError, np.array("a.npy") "iteration over a 0-d array", a generator of arrays "each of images must be a path",
    np.array([b'a.npy'], dtype=object) "an array of shape (1,)". A matrix is its plain array, a 0-d array one path,
    bytes items paths, any iterable a list."""
    from featcache.deploy.predict import predict

    a = np.arange(64, dtype=np.uint8).reshape(8, 8)
    for given in ([np.asmatrix(a)], np.asmatrix(a), np.array("a.npy"), (x for x in [a, a]),
                  np.array([b"a.npy"], dtype=object)):  # the images are read; only the (missing) model is refused
        with pytest.raises(featcache.FeatcacheError, match=r"^model file not found: no-such-model\.keras"):
            predict("no-such-model.keras", given)
    assert _read_as([np.asmatrix(a)]) == _read_as(np.asmatrix(a)) == _read_as(a) == [(0, (1, 8, 8, 1))]
    assert _read_as(x for x in [a, a]) == [(0, (2, 8, 8, 1))]
    assert _read_as(np.array("a.npy")) == _read_as(np.array([b"a.npy"], dtype=object)) == ["a.npy"]


def test_a_generator_of_paths_is_read_once_as_its_paths(tmp_path):
    """Regression (a review): _as_path_list checked each path of a generator, then read it again for the list, and
    found it empty: "no images given". predict lists a generator first (given_images), so the list is kept here too."""
    from featcache.deploy.predict import _as_path_list

    names = [str(tmp_path / "a.png"), tmp_path / "b.npy"]
    assert _as_path_list(p for p in names) == [str(p) for p in names]


@pytest.mark.parametrize("bad, message", [
    (np.array(["x.png", np.zeros((8, 8), np.uint8)], dtype=object), r"^images mixes arrays and strs \(item 0: 'x.png'\)"),
    (np.array([["a.npy"]], dtype=object), r"^images is an array of paths of shape \(1, 1\); paths must be a flat list"),
    ([np.zeros((0, 28), np.uint8)], r"^<array 0> holds an array of shape \(0, 28\); pass uint8"),
    (np.zeros((0, 28), np.uint8), r"^the array holds an array of shape \(0, 28\); pass uint8"),
    (np.ma.array(np.zeros((8, 8), np.uint8)), r"^images is a masked array \(np\.ma\).*np\.ma\.filled"),
    ([np.ma.array(np.zeros((8, 8), np.uint8))], r"^<array 0> is a masked array \(np\.ma\)"),
])
def test_odd_array_inputs_are_refused_naming_what_was_given(bad, message):
    """The same tester: these were "the array holds an array of shape (2,)" for a mix the list form names, "could be
    one image or 1 gray images of 1 x 1 px" for a 2-D array of paths, the internal shape (1, 0, 28, 1) for the user's
    (0, 28), and a masked array's mask dropped without a word. Refused before the model is opened."""
    from featcache.deploy.predict import predict

    with pytest.raises(featcache.FeatcacheError, match=message):
        predict("no-such-model.keras", bad)


def test_predict_says_when_it_converts_the_model_for_its_runtime(tiny_model, tmp_path, capsys, monkeypatch, progress_on):
    """'predict --runtime onnxruntime' converted the model before its first batch for 14 s without a word, where
    extract says "converting the network to ONNX once" (a new-user tester): the same notice, from the one place that
    converts (runtimes.converted_model), for a verbose predict; a quiet one (the library's default) says nothing,
    nor does a run that finds the conversion made."""
    from featcache.deploy.predict import predict

    monkeypatch.setenv("FEATCACHE_RUNTIME_DIR", str(tmp_path / "conversions"))
    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    predict(tiny_model, [photo], runtime="onnxruntime", verbose=True)
    err = capsys.readouterr().err
    # predict's own words: it converts the exported model, head and all, keyed by the file's content; it said
    # extract's "the network ... for this backbone, size and layers" (a new-user tester)
    assert "converting the model (its network and head) to ONNX once, for this model file's content (" in err, err
    assert "backbone" not in err, err
    predict(tiny_model, [photo], runtime="onnxruntime", verbose=True)
    assert "converting" not in capsys.readouterr().err
    monkeypatch.setenv("FEATCACHE_RUNTIME_DIR", str(tmp_path / "other"))
    predict(tiny_model, [photo], runtime="onnxruntime")
    assert capsys.readouterr().err == ""


def test_predict_bounds_its_wait_for_another_process_converting_the_model(tiny_model, tmp_path, capsys, monkeypatch):
    """Regression (a brief, 2026-12-06): predict converts the model for a converted runtime as extract converts its
    network, under the same lock, but took no --lock-timeout, and a runtime named waited for a stopped (Ctrl-Z'd)
    holder for ever. Now --lock-timeout (``lock_timeout=``) bounds the wait, and without it
    ``runtimes.CONVERSION_WAIT_SECONDS`` does (0.4 here): one line, exit 2, naming the holder's pid, the lock file
    and the option in the caller's words; no CSV written, nothing converted beside the holder. A bad value is
    refused before the work, as extract's. The old code: 'unrecognized arguments', a TypeError, then the alarm."""
    from featcache.embedding import runtimes

    monkeypatch.setattr(runtimes, "CONVERSION_WAIT_SECONDS", 0.4, raising=False)  # raising: the old code has none
    monkeypatch.setattr(runtimes, "_export_onnx", lambda *a: pytest.fail("converted beside the holder"))
    monkeypatch.setenv("FEATCACHE_RUNTIME_DIR", str(tmp_path / "rt"))
    onnx = model_conversion(tiny_model, tmp_path / "rt")
    onnx.parent.mkdir()
    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    csv = tmp_path / "p.csv"
    argv = ["predict", str(tiny_model), str(photo), "--runtime", "onnxruntime", "--csv", str(csv)]
    with stopped_lock_holder(onnx, alarm=60) as holder:
        refused_while_converting(capsys, argv, lambda seconds: featcache.predict(tiny_model, [photo], runtime="onnxruntime", lock_timeout=seconds), onnx, holder.pid)
        assert sorted(os.listdir(onnx.parent)) == [f"{onnx.name}.lock"] and not csv.exists()
    with pytest.raises(featcache.FeatcacheError, match=r"^lock_timeout=-1 is negative; use 0 or more seconds"):
        featcache.predict(tiny_model, [photo], lock_timeout=-1)
    assert "--lock-timeout: 'x' is not a number of seconds" in run_main(capsys, *argv, "--lock-timeout", "x").stderr


def test_export_says_what_it_builds_while_it_works(tmp_path, capsys, progress_on):
    """Regression (a new-user tester): export printed nothing for 21-64 s under load (Keras's import, the network's
    build, the model's check and write) before its one line. Status lines on stderr, as extract's; the result line
    stays on stdout alone."""
    from helpers import tiny_fashion_cache

    cache = tiny_fashion_cache(tmp_path, n_train=30, n_test=10)
    assert run_main(capsys, "train", str(cache), "--head", "logreg", "--out", str(tmp_path / "h.npz")).returncode == 0
    got = run_main(capsys, "export", str(tmp_path / "h.npz"), "--out", str(tmp_path / "m.keras"))
    assert got.returncode == 0, got.stderr
    err = got.stderr.splitlines()
    assert err[0] == f"exporting {tmp_path / 'h.npz'}: building its model on mobilenet_v2 at 32 px ...", err
    assert re.fullmatch(r"model built in \d+\.\d s; checking and writing it \.\.\.", err[1]) and len(err) == 2, err
    assert got.stdout.startswith("exported logreg head on mobilenet_v2 (32 px, ") and len(got.stdout.splitlines()) == 1


def test_predict_counts_photos_and_says_its_first_line_before_the_bar(tiny_model, tmp_path, capsys, progress_on):
    """Regressions (helper-244, a new-user tester): 'predict MODEL a.jpg b.jpg c.jpg notes.txt' said "predicting 4
    images", then passed over notes.txt and wrote 3 rows: images are counted as extract counts a folder's (a notes.txt
    is no image), the bar too. And 'predict MODEL FOLDER --recursive 2>err' wrote " 0/4 [>....] - 0s" as its first
    stderr line, before "predicting 4 images ...": the command's first line comes first, and no bar at 0 off a terminal."""
    photos = [write_image(tmp_path / "in" / f"{n}.png", class_image(i, 0, 16)) for i, n in enumerate("abc")]
    (tmp_path / "in" / "notes.txt").write_text("taken at the zoo\n")
    csv_path = tmp_path / "p.csv"
    got = run_main(capsys, "predict", str(tiny_model), *map(str, photos), str(tmp_path / "in" / "notes.txt"),
                   "--batch-size", "1", "--runtime", "tensorflow", "--csv", str(csv_path))
    assert got.returncode == 0, got.stderr
    lines = got.stderr.splitlines()
    assert lines[0].startswith(f"predicting 3 image files with {tiny_model};"), got.stderr
    bars = [line for line in lines if re.match(r"^\s*\d+/\d+ \[", line)]
    assert bars and bars[-1].lstrip().startswith("3/3 ["), got.stderr
    assert len(csv_path.read_text().splitlines()) == 1 + 3  # the header and a row per photo
    got = run_main(capsys, "predict", str(tiny_model), str(tmp_path / "in"), "--recursive", "--batch-size", "1",
                   "--runtime", "tensorflow", "--csv", str(tmp_path / "q.csv"))
    assert got.returncode == 0, got.stderr
    lines = got.stderr.splitlines()
    assert lines[0].startswith(f"predicting 3 image files with {tiny_model};"), got.stderr
    assert not any(re.match(r"^\s*0/\d+ \[", line) for line in lines), got.stderr


def test_predict_says_its_first_line_before_it_decodes_a_photo(tiny_model, tmp_path, capsys, progress_on, monkeypatch):
    """Regression (a reader, 2026-12-06): a verbose run's "predicting N images with MODEL; preparing ..." was said
    inside the lazy model build, called only once the first batch was decoded: on a terminal nothing showed while
    it decoded. It is said before the first file is read; the model is still built on first use."""
    import sys

    from featcache.deploy import predict as predict_module

    photos = [write_image(tmp_path / f"{n}.png", class_image(i, 0, 16)) for i, n in enumerate("ab")]
    said_before: list[str] = []
    read_files = predict_module.read_files

    def reading(*args, **kwargs):  # stderr as it stood when decoding began
        said_before.append(sys.stderr.getvalue())
        return read_files(*args, **kwargs)

    monkeypatch.setattr(predict_module, "read_files", reading)
    got = run_main(capsys, "predict", str(tiny_model), *map(str, photos), "--runtime", "tensorflow")
    assert got.returncode == 0, got.stderr
    assert said_before and f"predicting 2 image files with {tiny_model}; preparing the model" in said_before[0], said_before
    assert "model ready on" not in said_before[0]  # the model is built after decoding starts, as before


def test_predict_decodes_the_next_batches_on_another_thread_while_the_model_runs(tmp_path, monkeypatch):
    """predict decoded each batch in its own thread before running it, where extract decodes the next batches
    alongside the network: the same pass, 35 images/s against extract's 41 (docs/benchmarks.md, "predict's time").
    Now the files are decoded on a reader thread (``read_ahead``, extract's): while the model holds its first batch,
    the second batch's files get decoded. Before, this model waited for a decode that could not come (one thread)."""
    import threading

    from featcache.deploy.predict import predict

    events: list = []
    model = _stubbed_model(tmp_path / "m.keras", monkeypatch, image_size=32, events=events)
    paths = _photos_with_broken_ones(tmp_path / "photos", 12, broken=())
    from featcache.deploy import model as model_mod
    from featcache.sources import decode

    stubbed_decode, stubbed_run = decode.decode_image, model_mod.run_model
    decoders: set = set()
    next_batch = threading.Event()

    def decoding(*a, **k):
        decoders.add(threading.current_thread().name)
        if events.count("decode") >= 4:  # a file of the second batch
            next_batch.set()
        return stubbed_decode(*a, **k)

    overlapped: list = []

    def running(net, x, bs=64):
        if not overlapped:  # the first batch: the second is decoded meanwhile (a deadlock guard, not a timing)
            overlapped.append(next_batch.wait(timeout=20))
        return stubbed_run(net, x, bs)

    monkeypatch.setattr(decode, "decode_image", decoding)
    monkeypatch.setattr(model_mod, "run_model", running)
    preds = predict(model, paths, batch_size=4)
    assert overlapped == [True], events
    assert threading.current_thread().name not in decoders and all(n.startswith("featcache-read") for n in decoders)
    assert [p.input for p in preds] == [str(p) for p in paths]


def test_predicts_csv_read_ahead_is_byte_for_byte_that_of_decoding_in_turn(tmp_path, monkeypatch):
    """The batches read ahead are the batches decoded in turn: the same CSV, byte for byte (files that do not
    decode among them, small batches so that there are several)."""
    from featcache.deploy import predict as predict_mod

    model = _softmax_model(tmp_path / "m.keras", 3, ["a", "b", "c"])
    paths = _photos_with_broken_ones(tmp_path / "photos", 11, broken=(2, 7))
    predict_mod.predict(model, [tmp_path / "photos"], batch_size=3, csv=tmp_path / "ahead.csv", runtime="tensorflow")
    monkeypatch.setattr(predict_mod, "read_ahead", lambda items, depth=None: iter(items))  # decoded in turn, as before
    predict_mod.predict(model, [tmp_path / "photos"], batch_size=3, csv=tmp_path / "in_turn.csv", runtime="tensorflow")
    ahead = (tmp_path / "ahead.csv").read_bytes()
    assert ahead == (tmp_path / "in_turn.csv").read_bytes() and ahead.count(b"\n") == 1 + len(paths) - 2



def test_a_batch_at_the_models_size_runs_without_the_resize_and_gives_the_same_probabilities(tmp_path, monkeypatch):
    """The exported model's input is open (any size), so its graph resized 224 px photos to 224 px on every pass
    (4-5% of one; docs/benchmarks.md, "The identity resize"). On TensorFlow a batch at the model's size now runs a
    graph traced for that size, which ``Preprocess`` builds without the resize: nothing resized in its trace, the
    same probabilities to the bit as the open graph's; another size (a gray 28 px batch) is still resized."""
    from featcache._lazy import keras
    from featcache.deploy.model import ModelRunner, load_model
    from featcache.embedding.mapper import compiled

    model = _softmax_model(tmp_path / "m.keras", 3, ["a", "b", "c"])  # 32 px
    resized: list = []
    ops_image = keras().ops.image
    real_resize = ops_image.resize
    monkeypatch.setattr(ops_image, "resize", lambda x, size, **k: (resized.append(tuple(x.shape[1:3])), real_resize(x, size, **k))[1])
    runner = ModelRunner(model, "tensorflow")  # traced at the model's size when built
    rng = np.random.default_rng(3)
    photos = rng.integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    got = runner(photos)
    assert resized == []  # no resize traced for a batch at the model's size
    runner(rng.integers(0, 256, size=(2, 28, 28, 1), dtype=np.uint8))
    assert resized and all(s == (None, None) for s in resized)  # the open graph, another size: resized
    open_graph = compiled(load_model(model)[0])  # the open input alone, as every batch ran before
    np.testing.assert_array_equal(got, open_graph(photos)[0])


def test_the_real_network_at_its_size_without_the_resize_gives_the_open_graphs_features(real_weights, hymenoptera_dir):
    """On the real MobileNetV2 weights and real photos decoded at 224 px, as predict decodes them: the graph traced
    for the model's size (no resize; ``compiled``'s exact) gives the open input's outputs, resize and all, to the bit."""
    from featcache._lazy import keras
    from featcache.deploy.model import INPUT_DTYPE, INPUT_SHAPE
    from featcache.embedding.backbones import get_backbone
    from featcache.embedding.mapper import compiled
    from featcache.embedding.preprocess import Preprocess
    from featcache.sources.decode import decode_image

    k = keras()
    inp = k.Input(shape=INPUT_SHAPE, dtype=INPUT_DTYPE)  # an exported model's open input
    base = get_backbone("mobilenet_v2").build(str(real_weights), 224)
    net = k.Model(inp, k.layers.GlobalAveragePooling2D()(base(Preprocess("mobilenet_v2", 224)(inp), training=False)))
    photos = sorted((hymenoptera_dir / "val" / "bees").glob("*.jpg"))[:12]
    images = np.stack([decode_image(p, 224) for p in photos])
    exact, open_input = compiled(net, exact=(224, 224, 3))(images)[0], compiled(net)(images)[0]
    assert exact.shape == (12, 1280) and np.abs(exact).max() > 0
    np.testing.assert_array_equal(exact, open_input)


def test_predict_takes_a_loaded_model_and_prepares_it_once_for_every_call(tiny_model, tmp_path, monkeypatch):
    """Regression (a new notebook user): each ``predict('m.keras', [photo])`` read, checked and prepared the model
    again (4.0-4.9 s a one-photo call at load 10), and ``load_model``'s result was refused ("model must be a path").
    Now a loaded model is taken: its runner is built at the first call and reused; it runs the bytes checked when
    loaded, under the record read then (not the meta the caller was handed and may change, nor the file as it is now),
    and it still unpacks as the (model, meta) pair it always was."""
    from featcache.deploy import model as model_io

    path = tmp_path / "m.keras"
    path.write_bytes(tiny_model.read_bytes())
    photos = [write_image(tmp_path / f"{i}.png", class_image(i % 3, i, 16)) for i in range(3)]
    want = featcache.predict(path, photos, runtime="tensorflow")
    built = []
    real_init = model_io.ModelRunner.__init__

    def counted_init(self, source, *args, **kwargs):
        built.append(source)
        real_init(self, source, *args, **kwargs)

    monkeypatch.setattr(model_io.ModelRunner, "__init__", counted_init)
    loaded = featcache.load_model(path)
    network, meta = loaded  # the pair it always was
    assert meta["class_names"] == ["ants", "bees", "wasps"] and network is loaded[0]
    meta["class_names"] = ["x", "y", "z"]  # the caller's copy: not what names the outputs
    path.write_bytes(_softmax_model(tmp_path / "other.keras", 2, ["cats", "dogs"]).read_bytes())  # replaced on disk
    for _ in range(3):
        got = featcache.predict(loaded, photos, runtime="tensorflow")
        assert [p.top for p in got] == [p.top for p in want] and got.class_names == ["ants", "bees", "wasps"]
        np.testing.assert_allclose(got.probabilities, want.probabilities, rtol=1e-6)
    assert len(built) == 1 and isinstance(built[0], model_io.ModelFile)  # prepared once, from the bytes loaded
    assert built[0].digest == model_io.model_sha256(tiny_model.read_bytes())
    # another batch size is another runner (its compiled batch), built once too
    featcache.predict(loaded, photos, runtime="tensorflow", batch_size=2)
    featcache.predict(loaded, photos, runtime="tensorflow", batch_size=2)
    assert len(built) == 2
    # a CSV names the model loaded: its path and the content digest of the bytes that ran
    out = featcache.predict(loaded, photos, runtime="tensorflow", csv=tmp_path / "p.csv")
    from featcache.deploy.predict import csv_model, csv_record_path

    made_by = csv_model(csv_record_path(tmp_path / "p.csv"))
    assert made_by.path == str(path.resolve()) and made_by.content_digest == loaded.source.meta["content_digest"]
    assert len(out) == 3


def test_threads_predicting_at_once_on_a_fresh_loaded_model_build_its_runner_once(tiny_model, tmp_path, monkeypatch):
    """Regression (helper-311's brief): ``LoadedModel.runner`` looked for a kept runner and then built one with
    nothing between, so threads predicting at once on one fresh loaded model each built one (a trace or a
    conversion's load each, the same probabilities). The first builds, the others wait and take its runner. Each
    build is held 0.3 s here so the threads meet in it every time. Fails on the code before: 4 builds."""
    import threading

    from featcache.deploy import model as model_io

    photos = [write_image(tmp_path / f"{i}.png", class_image(i % 3, i, 16)) for i in range(3)]
    want = featcache.predict(tiny_model, photos, runtime="tensorflow")
    built = []
    real_init = model_io.ModelRunner.__init__

    def slow_init(self, source, *args, **kwargs):
        built.append(source)
        time.sleep(0.3)
        real_init(self, source, *args, **kwargs)

    monkeypatch.setattr(model_io.ModelRunner, "__init__", slow_init)
    loaded = featcache.load_model(tiny_model)
    start, got, failed = threading.Barrier(4), [], []

    def predict() -> None:
        start.wait()
        try:
            got.append(featcache.predict(loaded, photos, runtime="tensorflow"))
        except Exception as exc:  # said below, not lost in the thread
            failed.append(exc)

    threads = [threading.Thread(target=predict) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failed and len(got) == 4, failed
    assert len(built) == 1, f"{len(built)} runners built for one key"
    for result in got:
        np.testing.assert_allclose(result.probabilities, want.probabilities, rtol=1e-6)
    assert len(loaded._runners) == 1


def test_a_thread_asking_a_loaded_model_for_another_runner_is_not_held_behind_a_build(tiny_model, tmp_path,
                                                                                       monkeypatch):
    """Regression (h318's review): one build lock for all of a loaded model's runners held a thread asking for
    another batch size or runtime behind a build of its own (a conversion, or a wait for another process's
    conversion past the asking thread's lock_timeout). Each key has its own lock now: a TensorFlow predict of another
    batch size finishes while a build is held. Fails on the code before: the second predict waited the whole hold."""
    import threading

    from featcache.deploy import model as model_io

    photos = [write_image(tmp_path / f"{i}.png", class_image(i % 3, i, 16)) for i in range(3)]
    want = featcache.predict(tiny_model, photos, runtime="tensorflow")
    holding, release = threading.Event(), threading.Event()
    real_init = model_io.ModelRunner.__init__

    def held_init(self, source, runtime, batch_size, *args, **kwargs):
        if batch_size == 7:  # the build that is held: the first thread's
            holding.set()
            release.wait(60)
        real_init(self, source, runtime, batch_size, *args, **kwargs)

    monkeypatch.setattr(model_io.ModelRunner, "__init__", held_init)
    loaded = featcache.load_model(tiny_model)
    first_got, second_got = [], []
    first = threading.Thread(target=lambda: first_got.append(
        featcache.predict(loaded, photos, runtime="tensorflow", batch_size=7)))
    second = threading.Thread(target=lambda: second_got.append(
        featcache.predict(loaded, photos, runtime="tensorflow", batch_size=5)))
    first.start()
    try:
        assert holding.wait(60), "the first build never started"
        second.start()
        second.join(30)
        finished_while_held = not second.is_alive()
    finally:
        release.set()
        first.join(60)
        second.join(60)
    assert finished_while_held, "the second thread waited behind the first's build"
    for result in first_got + second_got:
        np.testing.assert_allclose(result.probabilities, want.probabilities, rtol=1e-6)
    assert len(first_got) == len(second_got) == 1 and len(loaded._runners) == 2


def test_a_loaded_models_first_predict_runs_the_network_load_model_built(tiny_model, tmp_path, monkeypatch):
    """Regression (helper-307's brief): the first ``predict(loaded, ...)`` built a second Keras network from the
    checked bytes (1.6-3.4 s of that call on a 96 px model of the real weights, load 2-3), though ``load_model`` had
    built one of the same bytes. It runs that one now while its weights are still the checked ones: one network
    built for load_model and any number of predicts and evaluates, run with the checked weights: once the caller changes
    its network's weights, predict still gives the checked probabilities, and a runner built then (another batch size)
    builds one from the bytes again, as before. Fails on the code before: 2 networks built."""
    from featcache.deploy import model as model_io

    photos = [write_image(tmp_path / f"{i}.png", class_image(i % 3, i, 16)) for i in range(3)]
    want = featcache.predict(tiny_model, photos, runtime="tensorflow")
    built = []
    real_network = model_io._network

    def counted_network(*args, **kwargs):
        built.append(args[0])
        return real_network(*args, **kwargs)

    monkeypatch.setattr(model_io, "_network", counted_network)
    loaded = featcache.load_model(tiny_model)
    for _ in range(2):
        got = featcache.predict(loaded, photos, runtime="tensorflow")
        np.testing.assert_allclose(got.probabilities, want.probabilities, rtol=1e-6)
    folder = make_class_tree(tmp_path / "val", {"ants": 2, "bees": 2}, ext="png", size=40)
    featcache.evaluate(loaded, folder, runtime="tensorflow", write=False)
    assert len(built) == 1  # load_model's, and only it
    dense = next(layer for layer in loaded[0].layers if layer.get_weights())
    dense.set_weights([np.zeros_like(w) for w in dense.get_weights()])  # the caller's network changed after it ran
    images = np.stack([class_image(i % 3, i, 16) for i in range(3)])
    assert not np.allclose(loaded[0].predict(images, verbose=0), want.probabilities, atol=1e-3)
    got = featcache.predict(loaded, photos, runtime="tensorflow")  # its runner runs the checked weights, not these
    np.testing.assert_allclose(got.probabilities, want.probabilities, rtol=1e-6)
    assert len(built) == 1
    got = featcache.predict(loaded, photos, runtime="tensorflow", batch_size=2)  # a new runner: from the bytes
    np.testing.assert_allclose(got.probabilities, want.probabilities, rtol=1e-6)
    assert len(built) == 2


def test_a_loaded_models_conversion_is_of_the_network_load_model_built(tiny_model, tmp_path, monkeypatch):
    """Regression (helper-307's brief): converting a loaded model for ONNX Runtime built a Keras network from the
    checked bytes to convert (and TensorFlow's runner then another), though ``load_model`` had built one: it
    converts that one now, the same probabilities as TensorFlow's. Fails on the code before: 3 networks built."""
    from featcache.deploy import model as model_io

    monkeypatch.setenv("FEATCACHE_RUNTIME_DIR", str(tmp_path / "runtimes"))  # no conversion cached
    photos = [write_image(tmp_path / f"{i}.png", class_image(i % 3, i, 16)) for i in range(3)]
    built = []
    real_network = model_io._network
    monkeypatch.setattr(model_io, "_network", lambda *a, **k: built.append(a[0]) or real_network(*a, **k))
    loaded = featcache.load_model(tiny_model)
    converted = featcache.predict(loaded, photos, runtime="onnxruntime")
    assert converted.runtime == "onnxruntime"
    on_tensorflow = featcache.predict(loaded, photos, runtime="tensorflow")
    np.testing.assert_allclose(converted.probabilities, on_tensorflow.probabilities, atol=1e-4)
    assert len(built) == 1


# The parent loads a model and predicts (its runner, a traced function, is kept in the loaded model); a forked worker
# predicts with it: no import of TensorFlow or Keras on that way, so the runner itself asks.
_FORKED_PREDICTION = """
import sys
import featcache

loaded = featcache.load_model(sys.argv[1])
featcache.predict(loaded, [sys.argv[2]], runtime="tensorflow")
work = lambda: featcache.predict(loaded, [sys.argv[2]], runtime="tensorflow")
""" + IN_A_FORKED_WORKER


def test_a_forked_child_predicting_with_a_loaded_models_kept_runner_is_refused_at_once(forked_parent):
    """Regression (helper-307's brief): a worker forked after a loaded model predicted, predicting with it, hung: its
    kept runner ran TensorFlow, which fork leaves without its thread pools. Refused at once now. Fails on the code
    before: the worker hung (its join bounded)."""
    proc, start = forked_parent("kept tensorflow")
    refused_at_once_in_a_forked_worker(proc, start)


# As _FORKED_PREDICTION, on a converted runtime (argv[3]): the worker's probabilities must be the parent's.
_FORKED_CONVERTED_PREDICTION = """
import sys
import numpy as np
import featcache

loaded = featcache.load_model(sys.argv[1])
want = featcache.predict(loaded, [sys.argv[2]], runtime=sys.argv[3])
assert want.runtime == sys.argv[3], want.runtime

def work():
    got = featcache.predict(loaded, [sys.argv[2]], runtime=sys.argv[3])
    np.testing.assert_array_equal(got.probabilities, want.probabilities)  # else no outcome: the script fails
""" + IN_A_FORKED_WORKER


@pytest.mark.parametrize("runtime", ["xnnpack", "onnxruntime"])
def test_a_forked_child_predicts_with_a_loaded_models_kept_converted_runner(forked_parent, runtime):
    """Regression (helper-311's brief): a worker forked after TensorFlow ran may predict with a loaded model's runner
    kept on a converted runtime: it runs no TensorFlow op. XNNPACK's was refused untried (helper-307); measured, its
    kept interpreter predicts in the child (the parent's probabilities), so it runs, as ONNX Runtime's did. Fails on
    the code before for xnnpack: "refused"."""
    proc, _ = forked_parent(f"kept {runtime}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[0] == "ran", proc.stdout


_FORKED_WHILE_A_RUNNER_IS_BUILT = """
import sys, threading, time
import numpy as np
import featcache

import featcache.deploy.model

loaded = featcache.load_model(sys.argv[1])
want = featcache.predict(loaded, [sys.argv[2]], runtime="onnxruntime")
held = threading.Event()
real_init = featcache.deploy.model.ModelRunner.__init__

def slow_init(self, *args, **kwargs):  # the builder thread's build takes 5 s, its key's build lock held
    if threading.current_thread().name == "builder":
        held.set()
        time.sleep(5)
    real_init(self, *args, **kwargs)

featcache.deploy.model.ModelRunner.__init__ = slow_init

def builder():  # a thread of the parent building a runner (the child's key) as the worker is forked
    featcache.predict(loaded, [sys.argv[2]], runtime="onnxruntime", batch_size=7)

threading.Thread(target=builder, name="builder", daemon=True).start()
held.wait()

def work():
    got = featcache.predict(loaded, [sys.argv[2]], runtime="onnxruntime", batch_size=7)  # another key: a build
    np.testing.assert_allclose(got.probabilities, want.probabilities, rtol=1e-5)
""" + IN_A_FORKED_WORKER


def test_a_worker_forked_while_a_thread_builds_a_runner_builds_its_own(forked_parent):
    """Regression (h314's review): a loaded model's build lock (one build per key for threads, f960bf9) was a plain
    ``threading.Lock``: a worker forked while a thread of the parent held it inherited it held, with no thread to
    release it, and its first predict that built a runner (another batch size) waited for good. Found free in the
    child now (``_lazy.ForkSafeLock``, one per runner's key since h318's review; the parent's builder holds that of
    the child's key): the child builds its runner and predicts the parent's probabilities.
    Fails on the code before: "hung" (after the worker's 60 s)."""
    proc, _ = forked_parent("while a runner is built")  # the child's runner (another batch size) is built all the same
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[0] == "ran", proc.stdout


_FORKED_WHILE_A_THREAD_PREDICTS = """
import sys, threading
import featcache
from featcache import _lazy

loaded = featcache.load_model(sys.argv[1])
featcache.predict(loaded, [sys.argv[2]], runtime=sys.argv[3])  # the kept runner, its run lock a NativeRunLock
lock = next(lock for lock in list(_lazy._FORK_SAFE_LOCKS)
            if isinstance(lock, _lazy.NativeRunLock) and lock.what == sys.argv[3])
held = threading.Event()
stop = threading.Event()  # set by _FORKED_PARENT once this script is done, before the next one runs

def busy():  # a thread of the parent mid-run on the runtime as the worker is forked: the run lock held
    with lock:
        held.set()
        stop.wait()

threading.Thread(target=busy, name="busy", daemon=True).start()
held.wait()

def work():
    try:
        featcache.predict(loaded, [sys.argv[2]], runtime=sys.argv[3])
    except featcache.FeatcacheError as exc:
        assert "in a process forked while another thread of its parent was running it" in str(exc), exc
    else:
        raise AssertionError("the kept runner ran on the runtime's half-done state")
    featcache.predict(loaded, [sys.argv[2]], runtime=sys.argv[3], batch_size=7)  # a runner built anew: refused too
""" + IN_A_FORKED_WORKER.replace("worker.join(60)", "worker.join(30)")


@pytest.mark.parametrize("runtime", ["xnnpack", "openvino"])
def test_a_worker_forked_while_a_thread_predicts_on_xnnpack_or_openvino_is_refused_at_once(forked_parent, runtime):
    """Regression (h314's review, then 2026-12-07): a worker forked while a thread of the parent ran a loaded model's
    kept XNNPACK runner inherited its run lock held and waited for good (3 of 3); found free (``ForkSafeLock``), the
    worker ran the runtime's half-done state and failed or hung now and then (this test, when its parent thread ran
    the runner in a loop, failed so in two whole runs: OpenVINO's request, an XNNPACK hang), and so did a runner
    built anew in the worker (OpenVINO: 2 of 6 hung, h344's review). The parent's thread holds the runner's own run
    lock here as the worker is forked, as it does mid-run: the worker is refused at once, on the kept runner and on a
    runner of another batch size built in it, in the line naming the fix (``_lazy.NativeRunLock``). Fails on the
    code before: "failed" (no NativeRunLock; the kept runner ran)."""
    proc, _ = forked_parent(f"while a thread predicts on {runtime}")
    lines = proc.stdout.splitlines()
    assert lines[:1] == ["refused"], (proc.stdout, proc.stderr[-3000:])
    assert lines[1] == (f"featcache cannot run a model on {runtime} in a process forked while another thread of its "
                        "parent was running it (the run would fail or wait forever); start the process with "
                        "multiprocessing.get_context('spawn') (or 'forkserver'), or fork while no prediction runs")
    assert float(lines[2]) < 5, lines


# The scripts above, run one after another in ONE interpreter (forked_parent): each was a process of its own, whose
# TensorFlow import, model load and first predict took 7-10 s of the 6 tests' 49 s (load 2, 2026-12-07). Each script
# loads the tiny model afresh, keeps its runner and forks its worker as it did alone, TensorFlow started in the parent
# as it was there (load_model builds a Keras network); a script's threads are stopped and joined and ModelRunner put
# back before the next one runs, so each worker is forked as in its own process. A script's stdout, stderr and exit
# status are its own (an exception in one is that one's failure, status 1).
_FORKED_PARENT = """
import contextlib, io, json, sys, threading, traceback
import featcache.deploy.model

model, photo, scripts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
real_init = featcache.deploy.model.ModelRunner.__init__
outcomes = {}
for name, script, args in scripts:
    sys.argv = ["-c", model, photo, *args]
    out, err, code, names = io.StringIO(), io.StringIO(), 0, {"__name__": "__main__"}
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            exec(script, names)
        except BaseException:
            traceback.print_exc()
            code = 1
    if "stop" in names:
        names["stop"].set()
    for thread in threading.enumerate():
        if thread.name in ("busy", "builder"):
            thread.join(120)
    featcache.deploy.model.ModelRunner.__init__ = real_init
    outcomes[name] = [code, out.getvalue(), err.getvalue()]
print(json.dumps(outcomes))
"""


@pytest.fixture(scope="module")
def forked_parent(tiny_model, tmp_path_factory):
    """``forked_parent(name)``: ``(proc, start)``, the outcome of one forked-worker script above (a
    ``CompletedProcess`` of its own status, stdout and stderr, the process's stderr after it) as its own process gave
    it, run with the five others in one process (``_FORKED_PARENT``), made once for the module's six tests. The
    session's folder of conversions (conftest), not one of the tests' own: the tiny model is converted once; what is
    tested is the child's kept runner, not the conversion."""
    photo = write_image(tmp_path_factory.mktemp("forked") / "a.png", class_image(0, 0, 16))
    scripts = [("kept tensorflow", _FORKED_PREDICTION, []),
               *((f"kept {runtime}", _FORKED_CONVERTED_PREDICTION, [runtime]) for runtime in ("xnnpack", "onnxruntime")),
               ("while a runner is built", _FORKED_WHILE_A_RUNNER_IS_BUILT, []),
               *((f"while a thread predicts on {runtime}", _FORKED_WHILE_A_THREAD_PREDICTS, [runtime])
                 for runtime in ("xnnpack", "openvino"))]
    env = {**os.environ,  # helpers' class_image for _FORKED_WHILE_A_THREAD_PREDICTS
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", _FORKED_PARENT, str(tiny_model), str(photo), json.dumps(scripts)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr[-3000:]
    outcomes = json.loads(proc.stdout.strip().splitlines()[-1])

    def outcome(name: str) -> tuple[subprocess.CompletedProcess, float]:
        code, out, err = outcomes[name]
        return subprocess.CompletedProcess(proc.args, code, out, err + proc.stderr), start

    return outcome


def test_a_loaded_model_copied_is_a_loaded_model_and_pickling_one_is_refused(tiny_model, tmp_path):
    """Regression (a brief, helper-299): copy.copy and copy.deepcopy of ``load_model``'s result gave a plain
    ``(model, meta)`` tuple, which predict refused as no path, and pickle made one silently, the checked bytes lost.
    A copy is a loaded model of the same checked bytes that predict takes: a shallow one shares the network, the
    meta and the runner built; a deep one has a network and meta of its own (a change to them leaves the original
    as it was). Pickling one is a TypeError that says what to pickle instead."""
    import copy
    import pickle

    from featcache.deploy.model import LoadedModel

    path = tmp_path / "m.keras"
    path.write_bytes(tiny_model.read_bytes())
    photos = [write_image(tmp_path / f"{i}.png", class_image(i % 3, i, 16)) for i in range(3)]
    loaded = featcache.load_model(path)
    want = featcache.predict(loaded, photos, runtime="tensorflow")
    folder = make_class_tree(tmp_path / "val", {"ants": 2, "bees": 2}, ext="png", size=40)
    scored = featcache.evaluate(loaded, folder, runtime="tensorflow", write=False)
    shallow, deep = copy.copy(loaded), copy.deepcopy(loaded)
    for twin in (shallow, deep):
        assert isinstance(twin, LoadedModel) and twin.path == loaded.path and twin.source is loaded.source
        got = featcache.predict(twin, photos, runtime="tensorflow")
        assert got.class_names == want.class_names and [p.top for p in got] == [p.top for p in want]
        np.testing.assert_allclose(got.probabilities, want.probabilities, rtol=1e-6)
        again = featcache.evaluate(twin, folder, runtime="tensorflow", write=False)
        assert (again.accuracy, again.model_sha256, again.content_digest) == (scored.accuracy, scored.model_sha256,
                                                                              scored.content_digest)
    assert shallow[0] is loaded[0] and shallow[1] is loaded[1]
    key = next(iter(loaded._runners))
    assert shallow._runners[key] is loaded._runners[key]  # prepared once for both
    network, meta = deep
    assert network is not loaded[0] and meta == loaded[1] and meta is not loaded[1]
    images = np.stack([class_image(i % 3, i, 16) for i in range(3)])
    np.testing.assert_allclose(network.predict(images, verbose=0), loaded[0].predict(images, verbose=0), rtol=1e-6)
    dense = next(layer for layer in network.layers if layer.get_weights())
    dense.set_weights([np.zeros_like(w) for w in dense.get_weights()])  # the copy's network changed ...
    meta["class_names"] = ["x", "y", "z"]
    assert loaded[1]["class_names"] == ["ants", "bees", "wasps"]  # ... not the original's
    assert not np.allclose(network.predict(images, verbose=0), loaded[0].predict(images, verbose=0), atol=1e-3)
    got = featcache.predict(deep, photos, runtime="tensorflow")  # still the checked bytes: the network is the caller's
    np.testing.assert_allclose(got.probabilities, want.probabilities, rtol=1e-6)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match=r"is not pickled: pickle its path \(loaded.path\) and call "
                                            r"featcache.load_model on it"):
            pickle.dumps(loaded, protocol)
    assert pickle.loads(pickle.dumps(loaded.path)) == path  # what to pickle instead


def test_a_loaded_model_under_auto_is_prepared_again_only_for_a_job_of_the_other_size(tiny_model, tmp_path, monkeypatch):
    """``runtime='auto'`` chooses by the job's size (no conversion for a few images): a loaded model's runner built
    for a small job is not reused for one large enough to repay a conversion, and each is kept for its next call."""
    from featcache.deploy import model as model_io
    from featcache.embedding import runtimes

    chosen = []
    monkeypatch.setattr(runtimes, "build", lambda name, spec, batch, folder, images=None, **k: (
        chosen.append(images) or ("tensorflow", lambda x: [np.full((len(x), 3), 1 / 3, np.float32)], None)))
    loaded = model_io.load_model(tiny_model)
    photo = write_image(tmp_path / "a.png", class_image(0, 0, 16))
    many = np.zeros((runtimes.AUTO_MIN_IMAGES, 8, 8), np.uint8)
    for images in ([photo], [photo], many, many, [photo]):
        featcache.predict(loaded, images)
    assert chosen == [1, runtimes.AUTO_MIN_IMAGES]


def test_the_left_out_line_agrees_with_each_count():
    """Regression (a brief, 2026-12-06): predict's line of what it left out said "1 subfolder (a/; pass them, or
    --recursive, to predict their images)": the words after a count of one now agree with it (progress.agreeing),
    for each kind, and stay plural for two. Fails on the code before: "them" and "their" (and "1 link to folders")
    after a count of one."""
    from featcache.deploy.predict import BROKEN_LINK, LINK, OTHER, SUBFOLDER, UNREADABLE, LeftOut, left_out_line

    kinds = (SUBFOLDER, LINK, UNREADABLE, BROKEN_LINK, OTHER)
    one = left_out_line([LeftOut(f"/p/{why}", why) for why in kinds])
    # the API's line names recursive=True where the CLI's names --recursive (the option's words: cli.common.option)
    assert ("1 subfolder (/p/%s/; pass it, or recursive=True, to predict its images)" % SUBFOLDER) in one, one
    assert ("1 link to a folder, not followed (/p/%s/; pass it to predict its images)" % LINK) in one, one
    assert "; check its permissions)" in one and "; its target is gone)" in one, one
    assert not any(f" {word} " in one.replace(")", " ").replace(";", " ") for word in ("them", "their")), one
    two = left_out_line([LeftOut(f"/p/{why}{i}", why) for why in kinds for i in range(2)])
    for words in ("2 subfolders (", "; pass them, or recursive=True, to predict their images)", "2 links to folders",
                  "; pass them to predict their images)", "; check their permissions)", "; their targets are gone)",
                  "2 files of no image type"):
        assert words in two, (words, two)
