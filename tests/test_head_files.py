"""Head files: nothing in one runs, what loads predicts exactly as saved, and crafted files are one clear line (issue 13 #1, #9)."""

from __future__ import annotations

import json
import os
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import cli_one_line_error as _one_line
from helpers import consistent_attrs, fifo_unblocked, keras_weights_reaching_out, reseal_head, run_main

import featcache
from featcache.cli import main
from featcache.errors import FeatcacheError
from featcache.heads import LogRegHead, SVMHead
from featcache.heads import io as io_mod
from featcache.heads.io import (
    NPZ_ENTRY,
    PickleHeadWarning,
    head_meta,
    load_head,
    save_head,
)
from featcache.store.cache import CacheWriter, SplitSpec

CLASSES = ["ants", "bees", "wasps"]


def blobs(n: int, d: int = 6, seed: int = 0, k: int = 3, noise: float = 1.0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    centers = np.random.default_rng(99).normal(0, 3, size=(k, d))
    return (centers[y] + rng.normal(0, noise, size=(n, d))).astype(np.float32), y


def synthetic_cache(path: Path, n_train: int = 60, n_test: int = 30, d: int = 6, digests: dict[str, list[str]] | None = None,
                    class_names=CLASSES, noise: float = 1.0, one_class: bool = False, layer: str = "out") -> Path:
    """A complete cache of blob features written directly (no network): fast plumbing for head files. ``layer``: its
    one layer's name (a MobileNetV2 layer's, e.g. out_relu, for probe, which places it in the network)."""
    attrs = consistent_attrs({"fingerprint": "f" * 64, "class_names": list(class_names), "layers": [layer], "default_layer": layer,
             "backbone": "mobilenet_v2", "weights": "random", "image_size": 32, "preprocessing": "x", "dataset": "blobs"})
    data = {"train": blobs(n_train, d, 0, len(class_names), noise), "test": blobs(n_test, d, 1, len(class_names), noise)}
    if one_class:  # every training image of the first class
        data["train"] = (data["train"][0], np.zeros_like(data["train"][1]))
    specs = [SplitSpec(s, y, np.arange(len(y)), digests=(digests or {}).get(s)) for s, (_, y) in data.items()]
    w = CacheWriter(path, attrs, specs, {layer: d}, "float32")
    w.open()
    for s, (X, _) in data.items():
        w.write(s, 0, {layer: X})
    w.finish()
    return path


@pytest.fixture
def cache(tmp_path) -> Path:
    return synthetic_cache(tmp_path / "c.h5")


@pytest.fixture
def npz_head(cache, tmp_path) -> Path:
    return featcache.train(cache, "logreg", out=tmp_path / "h.npz").path


# --- a head file never runs code ------------------------------------------------------------------


class Evil:
    def __reduce__(self):
        return os.system, ("touch PWNED",)


def test_a_malicious_pickle_head_is_refused_and_runs_nothing(cache, tmp_path, capsys, monkeypatch):
    import joblib

    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.joblib"
    joblib.dump({"head": Evil(), "meta": {}}, evil)
    for argv in (["evaluate", str(evil), str(cache)], ["export", str(evil), "--out", str(tmp_path / "m.keras")],
                 ["finetune", str(evil), "--out", str(tmp_path / "f.keras")]):
        _one_line(capsys, argv, "loading a pickle can run any code in it")
        assert not (tmp_path / "PWNED").exists()
    with pytest.raises(FeatcacheError, match=r"retrain the head with featcache\.train\(\.\.\.\), or pass trust_pickle=True if you made"):
        featcache.evaluate(evil, cache)  # the API's keyword (errors.option)
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "m.keras").exists()
    # Only True trusts: "no" is truthy, and it ran the pickle's code through every API that loads a head (a tester).
    for trust in ("no", "false", 1, None):
        for call in (lambda: featcache.load_head(evil, trust_pickle=trust), lambda: featcache.evaluate(evil, cache, trust_pickle=trust),
                     lambda: featcache.export(evil, out=tmp_path / "m.keras", trust_pickle=trust)):
            with pytest.raises(FeatcacheError, match=r"^trust_pickle must be True or False \(got "):
                call()
            assert not (tmp_path / "PWNED").exists()


def test_an_old_pickle_head_loads_only_when_trusted_with_a_warning(cache, tmp_path, capsys):
    import joblib

    X, y = blobs(60)
    head = LogRegHead().fit(X, y)
    meta = head_meta(featcache.open_cache(cache), None, "logreg", head)
    del head.n_features_in_  # as featcache 0.1 pickled it
    old = tmp_path / "old.joblib"
    joblib.dump({"head": head, "meta": meta}, old)
    _one_line(capsys, ["evaluate", str(old), str(cache)], "retrain the head with 'featcache train'")
    assert main(["evaluate", str(old), str(cache), "--trust-pickle", "--out", str(tmp_path / "ev"), "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip().startswith("featcache evaluate: warning: loading") and len(captured.err.strip().splitlines()) == 1
    ref = LogRegHead().fit(X, y).score(*blobs(30, seed=1))
    assert json.loads(captured.out)["accuracy"] == pytest.approx(ref)
    with pytest.warns(PickleHeadWarning):
        load_head(old, trust_pickle=True)


def test_npz_heads_hold_no_pickle(npz_head):
    with np.load(npz_head, allow_pickle=False) as z:  # would raise on any object array
        doc = json.loads(z[NPZ_ENTRY].tobytes())
        assert all(z[k].dtype != object for k in z.files)
    assert doc["meta"]["kind"] == "featcache-head" and doc["state"]["__object__"] == "featcache.heads.logreg.LogRegHead"


# --- what loads predicts exactly as what was saved -------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: LogRegHead(C="cv"), lambda: LogRegHead(C=0.5), lambda: SVMHead(), lambda: SVMHead(C="cv", probability=False),
], ids=["logreg-cv", "logreg", "svm", "svm-noprob"])
def test_sklearn_heads_round_trip_bit_identically(cache, tmp_path, make):
    X, y = blobs(90, seed=3)
    X[:, 0] *= 1000  # scales far apart: the scaler's arrays matter
    head = make().fit(X, y)
    meta = head_meta(featcache.open_cache(cache), None, "logreg" if isinstance(head, LogRegHead) else "svm", head)
    meta["n_features"] = 6
    path = save_head(head, tmp_path / "h.npz", meta)
    loaded, got = load_head(path)
    Xt = np.random.default_rng(5).normal(0, 3, size=(200, 6)).astype(np.float32) * np.r_[1000, 1, 1, 1, 1, 1].astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(Xt), head.predict(Xt))
    np.testing.assert_array_equal(loaded.decision_function(Xt) if hasattr(head, "decision_function") else 0,
                                  head.decision_function(Xt) if hasattr(head, "decision_function") else 0)
    if hasattr(head, "predict_proba"):
        np.testing.assert_array_equal(loaded.predict_proba(Xt), head.predict_proba(Xt))
    assert loaded.get_params() == head.get_params() and got["class_names"] == CLASSES
    assert getattr(loaded, "C_") == head.C_ and getattr(loaded, "cv_scores_", None) == getattr(head, "cv_scores_", None)


@pytest.mark.slow
def test_keras_head_keeps_safe_mode(cache, tmp_path, monkeypatch):
    from featcache._lazy import keras
    from featcache.heads import DenseHead

    X, y = blobs(60)
    head = DenseHead(epochs=2, early_stopping=False, n_classes=3).fit(X, y)
    path = save_head(head, tmp_path / "h.keras", head_meta(featcache.open_cache(cache), None, "keras", head))
    seen = {}
    real = keras().models.load_model

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(keras().models, "load_model", spy)
    loaded, _ = load_head(path)
    assert seen.get("safe_mode") is True
    np.testing.assert_array_equal(loaded.decision_function(X), head.decision_function(X))


@pytest.mark.parametrize("kind", ["keras", "logreg"])
def test_a_head_path_that_is_none_names_the_file_that_head_is_written_as(cache, kind):
    """save_head's and write_head's line for a path that is none said "e.g. head.npz" of a Keras head too, a file it
    is never written as (a brief, helper-285); write_head's named "path" where its flags name --out."""
    from featcache.heads import DenseHead
    from featcache.heads.io import write_head

    X, y = blobs(60)
    head = (DenseHead(epochs=1, early_stopping=False, n_classes=3) if kind == "keras" else LogRegHead()).fit(X, y)
    meta = head_meta(featcache.open_cache(cache), None, kind, head)
    suffix = ".keras" if kind == "keras" else ".npz"
    with pytest.raises(FeatcacheError, match=rf"^path must be a path \(got None\); pass the head file to write, e.g. head\{suffix}$"):
        save_head(head, None, meta)
    with pytest.raises(FeatcacheError, match=rf"^out must be a path \(got None\); .* e.g. head\{suffix}$"):
        write_head(head, None, meta, False)


# --- crafted files: one line each -------------------------------------------------------------------


def _api_words(line: str) -> str:
    """A command's line as a Python call says it: the commands it names as calls (``errors.command``, docs/api.md)."""
    for name in ("train", "export", "finetune", "extract"):
        line = line.replace(f"'featcache {name}'", f"featcache.{name}(...)")
    return line


def _rewrite_npz(path: Path, change, reseal: bool = True) -> None:
    """``change(doc, entries)`` made to the head at ``path``, its digest made anew unless ``reseal`` is False (so the
    checks behind the digest are what is tested; test_an_edited_or_damaged_head_is_refused_by_its_digest tests it)."""
    with np.load(path, allow_pickle=False) as z:
        entries = {k: z[k] for k in z.files}
    doc = json.loads(entries[NPZ_ENTRY].tobytes())
    change(doc, entries)
    entries[NPZ_ENTRY] = np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **entries)
    if reseal:
        reseal_head(path)


def _set(key, value):
    def change(doc, entries):
        doc["meta"][key] = value
    return change


def _state_class(name):
    def change(doc, entries):
        doc["state"]["__object__"] = name
    return change


def _narrow_mean(doc, entries):
    # The scaler's mean loses a column: the head no longer fits its own width.
    scaler = doc["state"]["state"]["__dict__"]["pipeline_"]["state"]["__dict__"]["steps"][0]["__tuple__"][1]
    ref = scaler["state"]["__dict__"]["mean_"]["__array__"]
    entries[f"a{ref}"] = entries[f"a{ref}"][:-1]


def _extra_state(value):
    def change(doc, entries):
        doc["state"]["state"]["__dict__"]["zz"] = value
    return change


def _nested(depth: int, wrap):
    v = 1
    for _ in range(depth):
        v = wrap(v)
    return v


def _nan_coef(doc, entries):
    lr = doc["state"]["state"]["__dict__"]["pipeline_"]["state"]["__dict__"]["steps"][1]["__tuple__"][1]
    ref = lr["state"]["__dict__"]["coef_"]["__array__"]
    entries[f"a{ref}"] = np.full_like(entries[f"a{ref}"], np.nan)


@pytest.mark.parametrize("change, message", [
    (lambda d, e: d["meta"]["params"].update(bogus=1), "unknown parameter bogus for a "),
    (_extra_state({"__items__": [[{"__tuple__": [[1]]}, 1]]}), "a mapping key in a head's state is not a plain value"),
    (_extra_state(_nested(600, lambda v: [v])), "the state nests deeper than 64 levels"),
    (_extra_state(_nested(400, lambda v: {"__tuple__": [v]})), "the state nests deeper than 64 levels"),
    (_set("image_size", "abc"), "its image size 'abc' is not a whole number"),
    (_set("image_size", True), "its image size True is not a whole number"),
    (_set("image_size", 3000), "its image size 3000 is not a whole number of pixels from 32 to 2048"),  # extract's range
    (_set("backbone", "nope"), "its backbone 'nope' is not one of"),
    (_set("weights", 3), "its weights setting 3 is not a string"),
    (lambda d, e: e.update(train_digests=np.array(["ab", "cd"])), "training-image digests are not a list of uint64 keys"),
    (lambda d, e: e.update(train_digests=np.zeros((2, 2), np.uint64)), "training-image digests are not a list of uint64 keys"),
    (_nan_coef, "it gives probabilities that are not finite numbers"),
    (lambda d, e: d["meta"].pop("class_names"), "class names are missing"),
    (_set("class_names", "ants"), "class names are missing"),
    (lambda d, e: d.update(meta=["not", "a", "mapping"]), "its metadata is not a JSON object"),
    (_set("n_features", 7), "the head takes 6 features, its metadata says 7"),
    (_narrow_mean, "its objects are not those a LogRegHead is made of"),  # the scaler's mean, one per feature (was: do not fit together)
    (_state_class("posix.system"), "'posix.system' is not a class a featcache head may hold"),
    (_set("head", ["logreg"]), "unknown head kind ['logreg']"),  # a TypeError traceback (a review)
    # its record's kind edited, the digest remade: it loaded as a head whatever its kind said (a session's note); the
    # record says other than its contents (heads.io.edited, every loader's rule, info's and verify's too)
    (_set("kind", "xyz"), "'s record says kind 'xyz' but the file holds a scikit-learn head's arrays (an .npz: "
                          "features in, no image layers): edited by hand or damaged; train the head again"),
    (_set("kind", "featcache-model"), "'s record says it is a model but the file holds a scikit-learn head's arrays"),
    # a scaler set not to centre: the head ignored the mean export folds in (another model; an adversarial tester)
    (lambda d, e: d["state"]["state"]["__dict__"]["pipeline_"]["state"]["__dict__"]["steps"][0]["__tuple__"][1]
     ["state"]["__dict__"].update(with_mean=False), "its objects are not those a LogRegHead is made of"),
    (lambda d, e: d["state"]["state"]["__dict__"].update(x={"__reduce__": 1}), "unknown entry '__reduce__'"),
    # another head's class, where no check looks: a logreg file trusts a logreg's classes alone (a review; it loaded)
    (_extra_state({"__object__": "sklearn.calibration.CalibratedClassifierCV", "state": {"__dict__": {}}}),
     "'sklearn.calibration.CalibratedClassifierCV' is not a class a featcache head may hold"),
])
def test_crafted_npz_heads_are_one_line(npz_head, cache, capsys, change, message):
    _rewrite_npz(npz_head, change)
    _one_line(capsys, ["evaluate", str(npz_head), str(cache)], message)


def test_a_heads_arrays_that_do_not_fit_together_are_said_in_words(npz_head, cache, capsys):
    """Regression (a brief, h315): a logreg head whose intercepts are fewer than its classes (its digest made again)
    was "not a readable featcache head (its arrays do not fit together: ValueError)", the class name alone. It says
    NumPy's words, which name the shapes. Fails on the code before."""
    def fewer_intercepts(doc, entries):
        lr = doc["state"]["state"]["__dict__"]["pipeline_"]["state"]["__dict__"]["steps"][1]["__tuple__"][1]
        ref = lr["state"]["__dict__"]["intercept_"]["__array__"]
        entries[f"a{ref}"] = entries[f"a{ref}"][:2].copy()

    _rewrite_npz(npz_head, fewer_intercepts)
    line = _one_line(capsys, ["evaluate", str(npz_head), str(cache)], "is not a readable featcache head (its arrays do not "
                                                                      "fit together: ")
    assert "(2,)" in line and "Error" not in line, line


def test_an_exceptions_words_are_its_message_never_its_type():
    """errors.in_words, the home of a line's "why" taken from an exception: its message's first line; a KeyError's
    unquoted (h5py's "Unable to open object ..." came as a key's repr); ``empty`` where it says nothing."""
    from featcache.errors import in_words

    assert in_words(OSError("Unable to open file\nmore"), empty="-") == "Unable to open file"
    assert in_words(KeyError("Unable to open object (object 'x' doesn't exist)"), empty="-") == (
        "Unable to open object (object 'x' doesn't exist)")
    assert in_words(EOFError(), empty="it ends early") == "it ends early"


@pytest.mark.slow
def test_crafted_keras_head_meta_is_one_line(cache, tmp_path, capsys):
    from featcache.heads import DenseHead

    X, y = blobs(60)
    head = DenseHead(epochs=1, early_stopping=False, n_classes=3).fit(X, y)
    good = save_head(head, tmp_path / "h.keras", head_meta(featcache.open_cache(cache), None, "keras", head))
    for i, (change, message) in enumerate([
        (lambda m: m["params"].update(bogus=1), "unknown parameter bogus for a "),
        (lambda m: m.pop("class_names"), "class names are missing"),
        (lambda m: m.update(class_names=["a", "b"]), "it gives 3 probabilities for 2 classes"),
        (lambda m: m.update(kind="xyz"), "'s record says kind 'xyz' but the file holds a head's network"),  # loaded
    ]):
        bad = tmp_path / f"bad{i}.keras"
        with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
            for item in src.infolist():
                data = src.read(item)
                if item.filename == "featcache.json":
                    meta = json.loads(data)
                    change(meta)
                    data = json.dumps(meta).encode()
                dst.writestr(item, data)
        _one_line(capsys, ["evaluate", str(reseal_head(bad)), str(cache)], message)
    as_list = tmp_path / "list.keras"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(as_list, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, b"[1, 2]" if item.filename == "featcache.json" else src.read(item))
    _one_line(capsys, ["evaluate", str(as_list), str(cache)], "its metadata is a list, not a mapping")


def _with_record(src: Path, dst: Path, change) -> Path:
    """A copy of the .keras file ``src`` whose featcache.json ``change`` edits, its digest made again (``reseal_head``)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "featcache.json":
                meta = json.loads(data)
                change(meta)
                data = json.dumps(meta).encode()
            zout.writestr(item, data)
    return reseal_head(dst)


def _kind_edited_files(cache: Path, tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """``(head, model, model_as_head, head_as_model)``: a Keras head and a model as featcache wrote them, and a copy of
    each whose record's kind was edited to the other's, its digest made again (``_with_record``)."""
    from featcache._lazy import keras
    from featcache.deploy.model import INPUT_DTYPE, INPUT_SHAPE, save_model
    from featcache.embedding.preprocess import Preprocess
    from featcache.heads import DenseHead
    from featcache.heads.io import MODEL_ONLY_FIELDS

    X, y = blobs(60)
    head = DenseHead(epochs=1, early_stopping=False, n_classes=3).fit(X, y)
    good_head = save_head(head, tmp_path / "h.keras", head_meta(featcache.open_cache(cache), None, "keras", head))
    k = keras()
    inp = k.Input(shape=INPUT_SHAPE, dtype=INPUT_DTYPE)
    out = k.layers.Softmax()(k.layers.Dense(3)(k.layers.GlobalAveragePooling2D()(Preprocess("mobilenet_v2", 32)(inp))))
    good_model = save_model(k.Model(inp, out), tmp_path / "m.keras", {"class_names": CLASSES, "image_size": 32,
                                                                      "head_path": str(good_head)})

    def as_head(meta):
        meta["kind"] = "featcache-head"
        for field in MODEL_ONLY_FIELDS:
            meta.pop(field, None)

    model_as_head = _with_record(good_model, tmp_path / "mh.keras", as_head)
    head_as_model = _with_record(good_head, tmp_path / "hm.keras", lambda m: m.update(kind="featcache-model"))
    return good_head, good_model, model_as_head, head_as_model


def _edited_lines(model_as_head: Path, head_as_model: Path) -> tuple[str, str]:
    """The line every command gives for each of ``_kind_edited_files``'s edited files (``heads.io.edited``)."""
    return (f"{model_as_head}'s record says it is a head but the file holds a model's network (images in, "
            "featcache's Preprocess layer first): edited by hand or damaged; export the model again",
            f"{head_as_model}'s record says it is a model but the file holds a head's network (a features vector "
            "in, no image layers): edited by hand or damaged; train the head again")


def test_a_file_whose_record_and_network_disagree_is_said_edited(cache, tmp_path, capsys):
    """A session's note: a model whose kind and model-only fields (input, output, head_path) were edited to a head's,
    given as a head, was refused only as "Could not locate class 'Preprocess'" (Keras's words), and predict said "it
    is a head: export it first"; a Keras head whose kind was edited to 'featcache-model' was "a model written by
    'featcache export'" in evaluate and a TensorFlow traceback in predict. The record says one thing, the network
    (heads.io.network_kind, read from config.json) another: one line saying so, and the fix."""
    from featcache.heads.io import network_kind

    from helpers import write_image

    good_head, good_model, model_as_head, head_as_model = _kind_edited_files(cache, tmp_path)
    assert (network_kind(good_head), network_kind(good_model)) == ("head", "model")
    photo = str(write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8)))
    model_says, head_says = _edited_lines(model_as_head, head_as_model)
    for argv, says in ((["evaluate", str(model_as_head), str(cache)], model_says),
                       (["predict", str(model_as_head), photo], model_says),
                       (["evaluate", str(head_as_model), str(cache)], head_says),
                       (["export", str(head_as_model), "--out", str(tmp_path / "x.keras")], head_says),
                       (["predict", str(head_as_model), photo], head_says)):
        _one_line(capsys, argv, says)
    assert load_head(good_head)[1]["kind"] == "featcache-head"  # the files as written still load
    assert main(["predict", str(good_model), photo]) == 0


def test_info_and_verify_say_a_file_whose_record_and_network_disagree_was_edited(cache, tmp_path, capsys):
    """Regression (the last session's open item): a head whose record's kind was edited to a model's (its digest
    made again) was refused by every loader (heads.io.edited), yet 'featcache verify' said "ok: ... is intact
    (model, format 2)" and 'featcache info' described it "(a model)"; a model edited to a head's record the same
    way round. verify now gives the loaders' line, exit 2; info says what the file holds (its network's kind) and
    that its record was edited, in that line, as the API's featcache.info and featcache.verify do."""
    from helpers import assert_verify_ok

    good_head, good_model, model_as_head, head_as_model = _kind_edited_files(cache, tmp_path)
    model_says, head_says = _edited_lines(model_as_head, head_as_model)
    for path, says, real in ((model_as_head, model_says, "model"), (head_as_model, head_says, "head")):
        _one_line(capsys, ["verify", str(path)], says)
        with pytest.raises(FeatcacheError, match="edited by hand or damaged"):
            featcache.verify(path)
        assert main(["info", str(path)]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].endswith(f"{path} (a {real})") and lines[1].startswith("record ") and says in lines[1], lines
        assert main(["info", str(path), "--json"]) == 0
        got = json.loads(capsys.readouterr().out)
        assert got["kind"] == real and says in got["record_edited"] and got["content_digest_checked"] is True, got
        assert featcache.info(path) == {**got, "record_edited": _api_words(got["record_edited"])}  # a call's words
    assert featcache.info(head_as_model)["class_names"] == CLASSES  # what the record holds besides its kind
    # at --out, neither is called what its record says ("a model 'featcache export' wrote", "a head 'featcache train'
    # wrote": name the model another file): each is a file featcache would not load, replaced only with --force
    for argv, says in ((["train", str(cache), "--head", "keras", "--epochs", "1", "--out", str(head_as_model)],
                        f"--out {head_as_model} exists and is not a head featcache wrote; choose another --out, or "
                        "pass --force"),
                       (["export", str(good_head), "--out", str(model_as_head)],
                        f"--out {model_as_head} exists and is not a model featcache wrote; choose another --out, or "
                        "pass --force")):
        _one_line(capsys, argv, says)
    for path, kind in ((good_head, "head"), (good_model, "model")):  # the files as written: as before
        assert_verify_ok(capsys, path, kind)
        assert "record_edited" not in featcache.info(path) and featcache.info(path)["kind"] == kind


@pytest.mark.parametrize("kind, says", [("featcache-model", "says it is a model"), ("xyz", "says kind 'xyz'")])
def test_an_npz_head_whose_records_kind_was_edited_is_said_edited_not_another_programs_zip(npz_head, cache, tmp_path,
                                                                                          capsys, kind, says):
    """Regression (the last session's open item: heads.io.file_kind read a model's featcache.json itself, not through
    read_record, the one reader of a record): an .npz head whose record's kind was edited (its digest made again)
    was "a zip file (a Keras model of another program?) that featcache did not write" in info and verify, and "an
    .npz of another program?" in predict. Read through the one reader, the record's kind is what the file says, the
    .npz's state what it holds (heads.io.network_kind): every command gives the loaders' line, info describes it as
    the head it holds, and train --out does not call it a model featcache wrote."""
    from helpers import write_image

    _rewrite_npz(npz_head, lambda d, e: d["meta"].update(kind=kind))
    line = (f"{npz_head}'s record {says} but the file holds a scikit-learn head's arrays (an .npz: features in, no "
            "image layers): edited by hand or damaged; train the head again with 'featcache train'")
    photo = str(write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8)))
    for argv in (["verify", str(npz_head)], ["evaluate", str(npz_head), str(cache)],
                 ["export", str(npz_head), "--out", str(tmp_path / "m.keras")], ["predict", str(npz_head), photo]):
        _one_line(capsys, argv, line)
    got = featcache.info(npz_head)
    assert got["kind"] == "head" and _api_words(line) in got["record_edited"] and got["head"] == "logreg", got
    _one_line(capsys, ["train", str(cache), "--head", "logreg", "--out", str(npz_head)],
              f"--out {npz_head} exists and is not a head featcache wrote; choose another --out, or pass --force")
    assert not (tmp_path / "m.keras").exists()


def _reversed_names(doc, entries):
    doc["meta"]["class_names"] = doc["meta"]["class_names"][::-1]


def _scaled_coef(doc, entries):
    lr = doc["state"]["state"]["__dict__"]["pipeline_"]["state"]["__dict__"]["steps"][1]["__tuple__"][1]
    ref = lr["state"]["__dict__"]["coef_"]["__array__"]
    entries[f"a{ref}"] = entries[f"a{ref}"] * 1.5


@pytest.mark.parametrize("change", [_reversed_names, _scaled_coef, _set("layer", "block_13_expand_relu"),
                                    lambda d, e: e.update(extra=np.zeros(3)), lambda d, e: e.pop("train_digests", None),
                                    lambda d, e: d["meta"].pop("content_digest"),
                                    lambda d, e: d["meta"].update(content_digest="0" * 64)],
                         ids=["class-names-reversed", "weights-scaled", "layer", "entry-added", "entry-dropped",
                              "digest-removed", "digest-replaced"])
def test_an_edited_or_damaged_head_is_refused_by_its_digest(cache, tmp_path, capsys, change):
    """Regression (an adversarial tester): a head rewritten with its class names reversed was exported silently (evaluate
    caught it only because the accuracy fell). Every command that reads a head refuses an edited one in one line,
    naming the file and the fix, before any of it is used; nothing is written."""
    digests = {"train": [f"{i:064x}" for i in range(60)], "test": [f"{i + 100:064x}" for i in range(30)]}
    cache = synthetic_cache(tmp_path / "d.h5", digests=digests)  # its heads carry train_digests, an entry to drop
    head = featcache.train(cache, "logreg", out=tmp_path / "h.npz").path
    _rewrite_npz(head, change, reseal=False)
    line = f"{head} is damaged or was changed after 'featcache train' saved it ("
    for argv in (["evaluate", str(head), str(cache), "--out", str(tmp_path / "ev")],
                 ["export", str(head), "--weights", "random", "--out", str(tmp_path / "m.keras")],
                 ["finetune", str(head), "--weights", "random", "--out", str(tmp_path / "f.keras")]):
        err = _one_line(capsys, argv, line)
        assert err.endswith("; retrain the head with 'featcache train'"), err
    with pytest.raises(FeatcacheError, match=re.escape("is damaged or was changed after featcache.train(...) saved it")):
        load_head(head)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.h5", "d.h5", "h.npz"]


def test_a_flipped_byte_in_a_head_is_one_line(npz_head, cache, capsys):
    """A flipped byte inside an entry: the zip's CRC-32 (read through while hashing) or the digest says so, never a
    head that loads with other numbers."""
    from helpers import flip

    import struct

    with zipfile.ZipFile(npz_head) as zf:
        info = max((i for i in zf.infolist() if i.filename != f"{NPZ_ENTRY}.npy"), key=lambda i: i.file_size)
    with open(npz_head, "rb") as f:  # the entry's own (local) header says where its data starts
        f.seek(info.header_offset + 26)
        name_len, extra_len = struct.unpack("<HH", f.read(4))
    flip(npz_head, info.header_offset + 30 + name_len + extra_len + info.compress_size - 1)  # its last value's last byte
    _one_line(capsys, ["evaluate", str(npz_head), str(cache)], f"{npz_head} is damaged or was changed after 'featcache train'")


@pytest.mark.slow
def test_a_keras_heads_digest_covers_its_model_and_metadata(cache, tmp_path, capsys):
    """The .keras head: its class names, its Keras config and weights, its standardizing statistics."""
    from featcache.heads import DenseHead

    X, y = blobs(60)
    head = DenseHead(epochs=1, early_stopping=False, n_classes=3, standardize=True).fit(X, y)
    good = save_head(head, tmp_path / "h.keras", head_meta(featcache.open_cache(cache), None, "keras", head))
    assert load_head(good)[1]["content_digest"]
    names = lambda n, d: json.dumps({**json.loads(d), "class_names": CLASSES[::-1]}).encode() if n == "featcache.json" else d  # noqa: E731
    for i, change in enumerate([names,
                                lambda n, d: d.replace(b'"rate": 0.2', b'"rate": 0.3') if n == "config.json" else d,
                                lambda n, d: d[:-1] + bytes([d[-1] ^ 1]) if n == "model.weights.h5" else d,
                                lambda n, d: d.replace(b"[", b"[ ", 1) if n == "featcache_standardize.json" else d]):
        bad = tmp_path / f"bad{i}.keras"
        with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
            for item in src.infolist():
                dst.writestr(item, change(item.filename, src.read(item)))
        _one_line(capsys, ["evaluate", str(bad), str(cache)], f"{bad} is damaged or was changed after 'featcache train' saved it")


def test_a_head_saved_before_digests_loads_with_one_note(npz_head, cache, tmp_path, capsys):
    """Heads of format 1 (and featcache 0.1's, with no format at all) carry no digest: they still load, with one
    note line, as 'featcache verify' passes a cache sealed before its features digest and says so."""
    from featcache.heads.io import UncheckedHeadWarning

    def as_format_1(doc, entries):  # as featcache 0.1.0 wrote it
        doc["meta"].pop("content_digest")
        doc["meta"].update(format_version=1, featcache_version="0.1.0")

    _rewrite_npz(npz_head, as_format_1, reseal=False)
    assert main(["evaluate", str(npz_head), str(cache), "--out", str(tmp_path / "ev")]) == 0
    err = capsys.readouterr().err.strip()
    assert err == (f"featcache evaluate: note: {npz_head} carries no content digest (saved before featcache's head digests "
                   "of 2026-12-03, or its digest was removed), so nothing checks that it is as saved; retrain it with "
                   "'featcache train' to have it checked")
    with pytest.warns(UncheckedHeadWarning):
        _, meta = load_head(npz_head)
    assert "content_digest" not in meta
    _rewrite_npz(npz_head, lambda d, e: d["meta"].pop("format_version"), reseal=False)  # featcache 0.1's: no format
    with pytest.warns(UncheckedHeadWarning):
        load_head(npz_head)
    with pytest.warns(UncheckedHeadWarning):
        head, meta = load_head(npz_head)
    save_head(head, npz_head, meta)  # saved again (its meta as loaded): it carries a digest and loads without a note
    with warnings.catch_warnings():
        warnings.simplefilter("error", UncheckedHeadWarning)
        assert load_head(npz_head)[1]["content_digest"]


def test_a_head_that_featcache_0_2_wrote_set_back_to_format_1_is_refused(npz_head, cache, tmp_path, capsys):
    """An adversarial tester dropped a head's digest and set format_version back to 1: it loaded with a note
    saying it was saved before digests, its class names reversed, and export wrote a model naming every class
    wrongly. featcache from 0.2.0 on writes every head with a digest, so one that says 0.2.0 wrote it and carries
    none is refused as altered. (One that also says featcache 0.1.0 wrote it passes with the note: the digest is no
    signature, docs/head-format.md.)"""
    def downgraded(doc, entries):
        doc["meta"].pop("content_digest")
        doc["meta"]["format_version"] = 1
        doc["meta"]["class_names"] = doc["meta"]["class_names"][::-1]

    _rewrite_npz(npz_head, downgraded, reseal=False)
    _one_line(capsys, ["export", str(npz_head), "--weights", "random", "--out", str(tmp_path / "m.keras")],
              f"{npz_head} is damaged or was changed after 'featcache train' saved it (it says featcache ")
    assert not (tmp_path / "m.keras").exists()


def test_verify_checks_a_heads_content_digest(npz_head, tmp_path, capsys):
    """'featcache verify' took caches only: given a head it said it was no HDF5 file. It now reads the head through
    and compares its content digest, as every load does: ok, exit 0; an edit, the loaders' one line, exit 2."""
    from helpers import assert_verify_ok

    assert_verify_ok(capsys, npz_head, "head")
    _rewrite_npz(npz_head, _reversed_names, reseal=False)
    _one_line(capsys, ["verify", str(npz_head)], f"{npz_head} is damaged or was changed after 'featcache train' saved it (")
    _rewrite_npz(npz_head, lambda d, e: (d["meta"].pop("content_digest"),
                                         d["meta"].update(format_version=1, featcache_version="0.1.0")), reseal=False)
    # saved before digests: nothing to compare, so not "ok" (it was, exit 0, where a format-1 cache is refused: a
    # script's 'verify X && deploy' passed an edited file; an adversarial tester)
    _one_line(capsys, ["verify", str(npz_head)], f"{npz_head} is a head of format 1 without a content digest (saved before "
              "2026-12-03, or its digest was removed) and cannot be verified; retrain it with 'featcache train' to have it checked")


def _flip_byte(path: Path, offset: int, dest: Path) -> Path:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    dest.write_bytes(bytes(data))
    return dest


def test_a_flipped_name_in_a_heads_zip_directory_is_damage_not_another_programs_zip(npz_head, cache, tmp_path, capsys):
    """Regression (an adversarial tester): one byte flipped at size-30 of h.npz or hk.keras, in the zip directory's
    name of featcache's own entry (its metadata, written last), made evaluate say "not a readable featcache head
    (KeyError: ... no item named 'featcache.json')", and info and verify "a zip file (a Keras model of another
    program?)". Its entry's own header still names featcache's entry: the file is a damaged head, said so by every
    command (heads.io.damaged_zip, the one rule). Another program's zip failing its CRC-32 is damaged too, said
    without calling it featcache's; one that reads is still another program's."""
    from helpers import meta_only_model

    from featcache.heads.io import META_ENTRY, add_sealed_meta

    # a .keras head as Keras and featcache write one (Keras's entries, then featcache.json last), no TensorFlow
    keras_head = tmp_path / "hk.keras"
    with zipfile.ZipFile(keras_head, "w") as zf:
        for name in ("metadata.json", "config.json", "model.weights.h5"):
            zf.writestr(name, "{}")
    add_sealed_meta(keras_head, io_mod.read_head_meta(npz_head))
    model = meta_only_model(tmp_path / "m.keras", image_size=16)
    for f in (npz_head, keras_head, model):
        with zipfile.ZipFile(f) as zf:
            assert zf.namelist()[-1] in (META_ENTRY, f"{NPZ_ENTRY}.npy")  # size-30 is within that entry's name
    said = "(the zip's directory names its entry "
    for good in (npz_head, keras_head):
        bad = _flip_byte(good, good.stat().st_size - 30, tmp_path / f"flipped{good.suffix}")
        with zipfile.ZipFile(bad) as zf:
            assert not {META_ENTRY, f"{NPZ_ENTRY}.npy"} & set(zf.namelist())  # the name itself is what changed
        _one_line(capsys, ["evaluate", str(bad), str(cache)], f"{bad} is damaged or was changed after 'featcache train' "
                  f"saved it {said}")
        for command in ("info", "verify"):
            _one_line(capsys, [command, str(bad)], f"{bad} is damaged {said}")
    bad = _flip_byte(model, model.stat().st_size - 30, tmp_path / "flipped_model.keras")
    np.save(tmp_path / "x.npy", np.zeros((1, 16, 16), dtype=np.uint8))
    _one_line(capsys, ["info", str(bad)], f"{bad} is damaged {said}")
    _one_line(capsys, ["predict", str(bad), str(tmp_path / "x.npy")], f"{bad} is damaged or was changed after 'featcache export'")
    # another program's zip: failing its CRC-32, damaged (not said to be featcache's); reading back, another's
    theirs = tmp_path / "theirs.zip"
    with zipfile.ZipFile(theirs, "w") as zf:
        zf.writestr("notes.txt", "another program's zip")
    _one_line(capsys, ["info", str(theirs)], "is a zip file (a Keras model of another program?)")
    bad = _flip_byte(theirs, 30 + len("notes.txt") + 3, tmp_path / "theirs_flipped.zip")
    _one_line(capsys, ["info", str(bad)], f"{bad} is damaged (its entry notes.txt fails its CRC-32 check); if it is a head")


def _prefixed(original: Path, bad: Path):
    """(``bad``, the words for it) for 1 KB and for 1 byte put before ``original``'s zip, written to ``bad``
    in turn: what a head's and a model's damaged line say of it."""
    for junk in (b"\0" * 1024, b"x"):
        bad.write_bytes(junk + original.read_bytes())
        yield bad, (f"{len(junk)} {'byte' if len(junk) == 1 else 'bytes'} of other data before its zip, which "
                    "featcache never writes")


def test_bytes_put_before_a_heads_zip_are_damage_not_a_pickle(npz_head, cache, tmp_path, capsys):
    """Regression (a tester): 1 KB put before h.npz (zipfile still reads it, from its directory at the end) made
    load_head, verify, info and evaluate say it "holds an array of Python objects, a pickle": NumPy reads a file that
    does not start as a zip as a pickle. It is a damaged head, said so (heads.io.damaged_zip)."""
    for bad, before in _prefixed(npz_head, tmp_path / "prefixed.npz"):
        line = (f"{bad} is damaged or was changed after 'featcache train' saved it ({before}); "
                "retrain the head with 'featcache train'")
        for command in (["info", str(bad)], ["verify", str(bad)], ["evaluate", str(bad), str(cache)]):
            assert _one_line(capsys, command, line).endswith(line)
        with pytest.raises(FeatcacheError) as err:
            featcache.load_head(bad)
        assert str(err.value) == _api_words(line)


def test_bytes_put_before_a_models_zip_are_damage_not_intact(tmp_path, capsys):
    """Regression (h306's brief, a tester): a .keras model with bytes put before its zip was "ok: ... intact" in
    verify and shown by info (its digest covers the entries, which zipfile reads from the directory at the end); a
    head so changed is refused (the test above). The model is now too, in the same words (heads.io.data_before)."""
    from helpers import meta_only_model

    model = meta_only_model(tmp_path / "m.keras")
    for bad, before in _prefixed(model, tmp_path / "prefixed.keras"):
        line = (f"{bad} is damaged or was changed after 'featcache export' or 'featcache finetune' saved it "
                f"({before}); re-export the model with 'featcache export' (or 'featcache finetune')")
        np.save(tmp_path / "x.npy", np.zeros((1, 32, 32), dtype=np.uint8))
        for command in (["info", str(bad)], ["verify", str(bad)], ["predict", str(bad), str(tmp_path / "x.npy")]):
            assert _one_line(capsys, command, line).endswith(line)
        for call in (featcache.verify, featcache.info, featcache.load_model):
            with pytest.raises(FeatcacheError) as err:
                call(bad)
            assert str(err.value) == _api_words(line)
    assert featcache.verify(model).kind == "model"  # the same model without the bytes before it: intact


def test_bytes_put_after_a_heads_or_models_zip_are_damage(npz_head, cache, tmp_path, capsys):
    """Regression (h309's brief): zipfile finds a zip's directory by searching back from the file's end, so 1 byte
    put after a head's or model's zip was "ok: ... intact" in verify, shown by info, loaded by evaluate and predict
    (the digest covers the entries), and 100 KB (past the 64 KB zipfile searches) "cut short". Both are damage now,
    in the words of bytes put before the zip (heads.io.data_after, walked from the zip's start). Past 64 KB zipfile
    reads no zip, so verify and info cannot tell a head from a model: the neutral damaged line."""
    from helpers import meta_only_model

    model = meta_only_model(tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", np.zeros((1, 32, 32), dtype=np.uint8))
    for original, use, load, altered in (
            (npz_head, ["evaluate", "{}", str(cache)], featcache.load_head,
             "is damaged or was changed after 'featcache train' saved it ({}); retrain the head with 'featcache train'"),
            (model, ["predict", "{}", str(tmp_path / "x.npy")], featcache.load_model,
             "is damaged or was changed after 'featcache export' or 'featcache finetune' saved it ({}); re-export the "
             "model with 'featcache export' (or 'featcache finetune')")):
        for junk in (b"x", b"\0" * 100_000):
            bad = tmp_path / f"suffixed{original.suffix}"
            bad.write_bytes(original.read_bytes() + junk)
            after = f"{len(junk)} {'byte' if len(junk) == 1 else 'bytes'} of other data after its zip, which featcache never writes"
            line = f"{bad} {altered.format(after)}"
            assert _one_line(capsys, [a.format(bad) for a in use], line).endswith(line)
            with pytest.raises(FeatcacheError) as err:
                load(bad)
            assert str(err.value) == _api_words(line)
            if len(junk) > 1:  # no zip to zipfile: its kind unread
                line = (f"{bad} is damaged ({after}); if it is a head or model featcache wrote, retrain the head with "
                        "'featcache train' or export the model again")
            for command in ("verify", "info"):
                assert _one_line(capsys, [command, str(bad)], line).endswith(line)
    assert featcache.verify(npz_head).kind == "head" and featcache.verify(model).kind == "model"  # as written: intact


def test_a_comment_given_to_a_heads_zip_is_named_as_a_comment(npz_head, cache, tmp_path, capsys):
    """Regression (h320): a head given a zip comment (``zip -z``; zipfile's ``comment``) was "5 bytes of other data
    after its zip": the comment is declared by the zip's closing record, and the line sent the reader looking for
    bytes appended to the file. It is named as a comment now, still a change featcache never makes."""
    import shutil
    import zipfile

    for junk in (b"", b"xyz"):
        bad = tmp_path / f"commented{len(junk)}.npz"
        shutil.copy(npz_head, bad)
        with zipfile.ZipFile(bad, "a") as zf:
            zf.comment = b"hello"
        with open(bad, "ab") as f:
            f.write(junk)
        more = " and 3 bytes of other data after it" if junk else ""
        line = (f"{bad} is damaged or was changed after 'featcache train' saved it (a zip comment of 5 bytes{more}, "
                "which featcache never writes); retrain the head with 'featcache train'")
        for command in (["verify", str(bad)], ["evaluate", str(bad), str(cache)]):
            assert _one_line(capsys, command, line).endswith(line)


def test_a_streamed_zip64_zip_holding_a_head_is_not_called_damaged(npz_head, tmp_path, capsys):
    """Regression (h320): a zip written to a pipe with zip64 headers (Python's zipfile, force_zip64, as np.savez
    writes to a stream) keeps its sizes in a data descriptor, and its local zip64 extra field holds 0. heads.io's
    walk took that 0 for the entry's size and walked the head stored inside it as the zip: an intact zip holding a
    head was "damaged (97 bytes of other data after its zip ...)" in verify and info. It is another program's zip."""
    import io
    import zipfile

    class Pipe(io.RawIOBase):  # a stream that cannot seek back: zipfile writes data descriptors
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b) -> int:
            self.data += b
            return len(b)

    pipe = Pipe()
    with zipfile.ZipFile(pipe, "w") as zf, zf.open(npz_head.name, "w", force_zip64=True) as w:
        w.write(npz_head.read_bytes())
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(bytes(pipe.data))
    with zipfile.ZipFile(bundle) as zf:  # intact, holding the head as written
        assert zf.read(npz_head.name) == npz_head.read_bytes()
    for command in ("verify", "info"):
        err = _one_line(capsys, [command, str(bundle)], "did not write as a head or model")
        assert "damaged" not in err


def test_an_entry_that_ends_early_is_said_in_words_not_an_exceptions_name(npz_head, cache, tmp_path, capsys):
    """Regression (h309's brief): a bit flipped in the size the zip's directory gives an array entry (the local
    header, which the zip's extent is walked by, as written) made the entry read on to the file's end, and every
    command said "(an entry of its zip does not read back: EOFError)": the exception's type, not what is wrong."""
    data = bytearray(npz_head.read_bytes())
    at = data.find(b"PK\x01\x02")  # the directory's first entry
    assert data[at + 46:at + 52] == b"a0.npy"
    for field in (20, 24):  # its compressed and uncompressed sizes, 16 MiB more than the file holds
        data[at + field + 3] |= 0x01
    bad = tmp_path / "sizes.npz"
    bad.write_bytes(bytes(data))
    line = (f"{bad} is damaged or was changed after 'featcache train' saved it (an entry of its zip does not read back: "
            "it ends early); retrain the head with 'featcache train'")
    for command in (["verify", str(bad)], ["info", str(bad)], ["evaluate", str(bad), str(cache)]):
        assert _one_line(capsys, command, line).endswith(line)


def test_a_head_on_a_cache_of_another_width_is_one_line(npz_head, tmp_path, capsys):
    wide = synthetic_cache(tmp_path / "wide.h5", d=8)
    _one_line(capsys, ["evaluate", str(npz_head), str(wide)], "the head takes 6 features but layer 'out'")


def test_unreadable_or_missing_head_files(cache, tmp_path, capsys):
    for name, content in (("junk.keras", b"PK\x03\x04 not really a zip"), ("junk.npz", b"\x00\x01garbage")):
        (tmp_path / name).write_bytes(content)
        _one_line(capsys, ["evaluate", str(tmp_path / name), str(cache)], "is not a readable featcache head")
    _one_line(capsys, ["evaluate", str(tmp_path / "nope.npz"), str(cache)], "head file not found")


def test_a_fifo_given_as_a_head_says_it_is_not_a_regular_file(cache, tmp_path, capsys):
    """Regression (an adversarial tester): a FIFO given as a head was "head file not found: fifo.npz"; it is there."""
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    (tmp_path / "link.npz").symlink_to(fifo)
    for path in (fifo, tmp_path / "link.npz"):
        err = _one_line(capsys, ["evaluate", str(path), str(cache)], f"{path} is not a regular file (a FIFO, socket or device); "
                                                                     "pass the .keras or .npz head file written by 'featcache train'")
        assert "not found" not in err
    _one_line(capsys, ["export", str(fifo), "--out", str(tmp_path / "m.keras")], "is not a regular file")


@pytest.mark.parametrize("corrupt", [False, True], ids=["wrapped", "wrapped-and-corrupt"])
def test_an_svc_nested_deeper_than_the_head_builds_is_refused(cache, tmp_path, capsys, corrupt):
    # A Pipeline in a Pipeline hid the SVC below the old depth-8 walk: a (1, 1) dual_coef_ then went to libsvm unchecked.
    from sklearn.pipeline import Pipeline

    X, y = blobs(60, k=2)
    head = SVMHead().fit(X, y)
    meta = head_meta(featcache.open_cache(cache), None, "svm", head)
    meta["class_names"] = ["ants", "bees"]
    svc = head.pipeline_[-1].calibrated_classifiers_[0].estimator
    if corrupt:
        svc._dual_coef_, svc._intercept_ = np.ones((1, 1)), np.ones((1,))
    head.pipeline_ = Pipeline([("p", Pipeline([("p", Pipeline([("p", head.pipeline_)]))]))])
    if corrupt:  # save_head makes load_head's checks itself, so the crafted file is written past them
        with pytest.raises(FeatcacheError, match="not saving a head .* support vectors do not fit together"):
            save_head(head, tmp_path / "h.npz", meta)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(io_mod, "check_head", lambda *args, **kwargs: None)
            path = save_head(head, tmp_path / "h.npz", meta)
    else:
        path = save_head(head, tmp_path / "h.npz", meta)
    with pytest.raises(FeatcacheError, match="its objects are not those a SVMHead is made of"):
        load_head(path)


def test_a_corrupt_svc_is_found_however_deep_the_file_puts_it(npz_head):
    # decode records every object it builds; an SVC hidden in an unused attribute 20 levels down is still checked.
    from sklearn.svm import SVC

    from featcache.heads.io import _check_svcs
    from featcache.heads.state import decode, encode

    svc = SVMHead(probability=False).fit(*blobs(60, k=2)).pipeline_[-1]
    svc._dual_coef_ = np.ones((1, 1))
    arrays: list[np.ndarray] = []
    tree = encode([svc], arrays)
    for _ in range(20):
        tree = [tree]
    created: list = []
    decode(tree, dict(enumerate(arrays)), created=created)
    assert [type(o) for o in created] == [SVC]
    with pytest.raises(FeatcacheError, match="support vectors do not fit together"):
        _check_svcs(created, 6, Path("h.npz"))


def _rewrite_keras(good: Path, bad: Path, change) -> Path:
    """A copy of ``good`` with each entry changed by ``change(name, data)``, resealed (as ``_rewrite_npz``)."""
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, change(item.filename, src.read(item)))
    return reseal_head(bad)


@pytest.mark.parametrize("storage", [False, True], ids=["external-link", "external-storage"])
def test_a_keras_head_whose_weights_reach_outside_its_file_is_refused_before_keras_loads_it(cache, tmp_path, capsys,
                                                                                           storage):
    """Regression (helper-214, helper-223): a Keras head's model.weights.h5 with an external link or external storage,
    resealed, was handed to Keras, which follows it (3.14) or refuses it without saying why (3.15). Walked first: one
    line naming it, exit 2."""
    from featcache.heads import DenseHead

    X, y = blobs(60)
    head = DenseHead(epochs=1, early_stopping=False, n_classes=3).fit(X, y)
    good = save_head(head, tmp_path / "h.keras", head_meta(featcache.open_cache(cache), None, "keras", head))
    with fifo_unblocked(tmp_path / "fifo", after=5) as fifo:
        bad = _rewrite_keras(good, tmp_path / "bad.keras", keras_weights_reaching_out(fifo, storage))
        _one_line(capsys, ["evaluate", str(bad), str(cache)], f"{bad} reaches outside its file (its model.weights.h5: ")
    assert featcache.load_head(good)


@pytest.mark.slow
def test_crafted_keras_head_model_and_statistics_are_one_line(cache, tmp_path, capsys):
    from featcache.heads import DenseHead

    X, y = blobs(60)
    head = DenseHead(epochs=1, early_stopping=False, n_classes=3, standardize=True).fit(X, y)
    good = save_head(head, tmp_path / "h.keras", head_meta(featcache.open_cache(cache), None, "keras", head))
    stats = "featcache_standardize.json"
    for i, (change, message) in enumerate([
        (lambda n, d: d.replace(b'"batch_shape": [null, 6]', b'"batch_shape": [null, null]') if n == "config.json" else d,
         "its model does not fit a featcache head: input width None"),  # its words, not "ValueError" (h315)
        (lambda n, d: b'{"mean": "ab", "scale": "cd"}' if n == stats else d, "its standardizing statistics are not numbers"),
        (lambda n, d: b'{"mean": [1], "scale": [1]}' if n == stats else d, "are not 6 numbers each, one per feature"),
        (lambda n, d: json.dumps({"mean": [0] * 6, "scale": [1, 1, 1, 1, 1, 0]}).encode() if n == stats else d,
         "or a scale is not positive"),
    ]):
        bad = _rewrite_keras(good, tmp_path / f"bad{i}.keras", change)
        _one_line(capsys, ["evaluate", str(bad), str(cache)], message)


@pytest.mark.slow
def test_a_keras_head_with_a_lambda_layer_is_refused_by_safe_mode(cache, tmp_path, capsys):
    # Real safe mode, not the kwarg alone: a Lambda layer's code is refused when the file loads, before anything runs.
    from featcache._lazy import keras
    from featcache.heads import DenseHead

    k = keras()
    X, y = blobs(60)
    head = DenseHead(epochs=1, early_stopping=False, n_classes=3).fit(X, y)
    good = save_head(head, tmp_path / "h.keras", head_meta(featcache.open_cache(cache), None, "keras", head))
    inp = k.Input((6,), name="pooled")
    marker = tmp_path / "RAN"
    code = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")  # no closure: serializable
    out = k.layers.Dense(3)(k.layers.Lambda(code)(inp))
    evil = tmp_path / "evil.keras"
    k.Model(inp, out).save(evil)
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(evil, "a") as dst:
        dst.writestr("featcache.json", src.read("featcache.json"))
    reseal_head(evil)  # past the digest, as a crafted file's maker could: safe mode is what must refuse it
    marker.unlink(missing_ok=True)
    _one_line(capsys, ["evaluate", str(evil), str(cache)],
              "is not a readable featcache head (it holds code (a Lambda layer or similar), which featcache never runs)")
    assert not marker.exists()


def test_why_a_keras_file_would_not_load_is_said_in_words():
    """'could not be loaded (ValueError)' / '(BadZipFile)' named only a type (an adversarial tester's Lambda model and
    damaged zip): heads.io.load_problem says code or damage, and Keras's first line for anything else, in words
    (errors.in_words): no "TypeError: " before it, which says nothing to a user (h319's brief)."""
    from featcache.heads.io import load_problem

    refused = ValueError("Requested the deserialization of a `Lambda` layer whose `function` is a Python lambda. This "
                         "carries a potential risk of arbitrary code execution ... passing `safe_mode=False`")
    assert load_problem(refused) == "it holds code (a Lambda layer or similar), which featcache never runs"
    assert load_problem(zipfile.BadZipFile("Bad CRC-32 for file 'model.weights.h5'")).startswith("damaged")
    assert load_problem(KeyError("x")) == "x"
    assert load_problem(KeyError()) == "Keras gave no reason"
    # Keras wraps the cause in its advice and the config: the innermost "Exception encountered:" says it, on one line
    wrapped = TypeError("<class 'Functional'> could not be deserialized properly. Please ensure ...\n\nconfig={...}.\n\n"
                        "Exception encountered: Unrecognized keyword arguments passed to Softmax: {'a\x1bb': 1}\nmore")
    assert load_problem(wrapped) == "Unrecognized keyword arguments passed to Softmax: {'a\\x1bb': 1}"
    long = ValueError("Unable to revive model from config. When overriding the `get_config()` method, " + "x" * 200)
    assert load_problem(long) == "Unable to revive model from config."
    # a layer's call failing while the model is rebuilt: Keras's preamble first, its cause in bold after it
    called = ValueError("Exception encountered when calling Preprocess.call().\n\n\x1b[1mCannot convert '(None, -5, -5, 3)' "
                        "to a shape. Negative dimensions are not allowed.\x1b[0m\n\nArguments received by Preprocess.call():\n"
                        "  \u2022 args=('<KerasTensor>',)")
    assert load_problem(called) == "Cannot convert '(None, -5, -5, 3)' to a shape. Negative dimensions are not allowed."


# --- save_head refuses what it would lose or what load_head would refuse ---------------------------------


def test_save_head_replaces_only_its_own_heads_and_writes_only_heads_that_load(cache, tmp_path):
    """An adversarial tester: save_head replaced a user's file with no force, wrote meta={} heads that load_head
    refused, and gave an AttributeError traceback on an unfitted head."""
    from featcache.heads import DenseHead

    X, y = blobs(60)
    head = LogRegHead().fit(X, y)
    meta = head_meta(featcache.open_cache(cache), None, "logreg", head)
    mine = tmp_path / "user.npz"
    mine.write_bytes(b"my own numbers")
    with pytest.raises(FeatcacheError, match=r"path .*user.npz exists and is not a head featcache wrote; choose another path, "
                                             r"or pass force=True to replace it"):
        featcache.save_head(head, mine, meta)
    assert mine.read_bytes() == b"my own numbers"
    featcache.save_head(head, mine, meta, force=True)  # asked for
    featcache.load_head(mine)
    featcache.save_head(head, mine, meta)  # a featcache head is replaced as train --out replaces one
    # meta that load_head would refuse is refused before anything is written
    for bad, message in [({}, "its class names are missing"), ({**meta, "class_names": ["a"] * 3}, "its class names are missing"),
                         ({**meta, "class_names": ["a", "b"]}, "its classes do not index its 2 class names"),
                         ({k: v for k, v in meta.items() if k != "layer"}, "its metadata does not name the layer")]:
        with pytest.raises(FeatcacheError, match=f"not saving a head as .*new.npz: {message}"):
            featcache.save_head(head, tmp_path / "new.npz", bad)
    assert not (tmp_path / "new.npz").exists()
    # a Keras head needs one output per class name, in order (load_head gives it classes 0..K-1)
    sparse = DenseHead(epochs=1).fit(X, np.array([0, 2, 4])[y])
    with pytest.raises(FeatcacheError, match="a Keras head is stored with one output per class name"):
        featcache.save_head(sparse, tmp_path / "k.keras", {**meta, "head": "keras", "class_names": list("abcde")})
    # A new user, from docs/api.md: a logreg head's meta (its train size and test accuracy) into a Keras head's file
    dense = DenseHead(epochs=1).fit(X, y)
    # the head said as the meta's is, by its display name: "not this keras head" named the registry's key (a review)
    with pytest.raises(FeatcacheError, match=r"^not saving a head as .*d.keras: meta describes a logreg head, not a Keras "
                                             r"head; build meta with featcache.heads.io.head_meta\(cache, layer, 'keras', head\)$"):
        featcache.save_head(dense, tmp_path / "d.keras", meta)
    with pytest.raises(FeatcacheError, match=r"^the keras head is saved as a .keras file; save it as .*d.keras$"):  # the API's words
        featcache.save_head(dense, tmp_path / "d.npz", meta)
    for unfitted in (LogRegHead(), SVMHead(), DenseHead()):
        suffix = ".keras" if isinstance(unfitted, DenseHead) else ".npz"
        with pytest.raises(FeatcacheError, match=f"this {type(unfitted).__name__} is not fitted, so there is nothing to save"):
            featcache.save_head(unfitted, tmp_path / f"u{suffix}", meta)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.h5", "user.npz"]


def test_a_head_with_a_compressed_entry_is_refused_before_it_is_read(npz_head, cache, capsys):
    """Regression (an adversarial tester): a 2.9 MB head holding a deflated entry of 3 GB of zeros, its digest
    recomputed, took 3.1 GB to load (one of 30 GB would have been killed without a word). featcache stores every
    entry as it is (so does np.savez): a compressed one is refused before anything is read, by verify as well."""
    import zipfile

    from helpers import reseal_head

    with zipfile.ZipFile(npz_head, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a999.npy", b"\0" * 1_000_000)  # unreferenced, 1 MB deflated to about 1 kB
    reseal_head(npz_head)
    for argv in (["evaluate", str(npz_head), str(cache)], ["verify", str(npz_head)]):
        _one_line(capsys, argv, "its entry a999.npy is compressed, which featcache never writes")
    renamed = npz_head.rename(npz_head.with_suffix(".bin"))  # decided by what the zip holds, not by its name (a review)
    _one_line(capsys, ["verify", str(renamed)], "its entry a999.npy is compressed, which featcache never writes")


def test_a_head_with_a_second_record_before_its_own_is_refused(npz_head, cache, capsys):
    """Regression (an adversarial tester): the digest skips every entry named featcache.npy and zipfile reads the last
    of a name, so a bogus featcache.npy put before the real one left verify saying "intact". featcache never writes
    two entries of one name: such a zip is refused before its record is read. Fails on the code before: verify ok."""
    import io
    import zipfile

    with zipfile.ZipFile(npz_head) as zin:
        entries = [(item, zin.read(item)) for item in zin.infolist()]
    assert len({item.filename for item, _ in entries}) == len(entries)  # as train wrote it: one entry of each name
    bogus = io.BytesIO()
    np.save(bogus, np.frombuffer(json.dumps({"meta": {"kind": "bogus"}}).encode(), np.uint8))
    with zipfile.ZipFile(npz_head, "w") as zout:
        zout.writestr("featcache.npy", bogus.getvalue())
        for item, data in entries:
            zout.writestr(item, data)
    for argv in (["evaluate", str(npz_head), str(cache)], ["verify", str(npz_head)], ["info", str(npz_head)]):
        _one_line(capsys, argv, "its zip holds 2 entries named featcache.npy, which featcache never writes")


def test_an_npz_head_holding_a_pickled_object_array_says_so_and_runs_nothing(npz_head, cache, tmp_path, capsys,
                                                                               monkeypatch):
    """Regression (an adversarial tester, helper-272): an .npz head whose first array was replaced by a pickled object
    array (its digest made again) was refused as "not a readable featcache head (ValueError)", the problem unnamed.
    It is named now; its code never runs (arrays load with allow_pickle=False). Fails on the code before: the line
    says 'ValueError' alone."""
    monkeypatch.chdir(tmp_path)
    _with_a_pickled_first_array(npz_head)
    _one_line(capsys, ["evaluate", str(npz_head), str(cache)],
              f"{npz_head} is not a readable featcache head (it holds an array of Python objects, a pickle, which "
              "featcache never writes and never loads); pass a file written by 'featcache train'")
    with pytest.raises(FeatcacheError, match="it holds an array of Python objects, a pickle"):
        featcache.load_head(npz_head)
    assert not (tmp_path / "PWNED").exists()


def test_info_refuses_an_old_head_holding_a_pickled_object_array_as_the_loaders_do(npz_head, tmp_path, capsys,
                                                                                     monkeypatch):
    """Regression (helper-296's brief): a head of format 1 (no content digest) whose a0.npy is a pickled object array
    was described in full by info, exit 0, where evaluate and load_head refuse it: info runs the loaders' checks
    whether or not there is a digest to check (nothing unpickled). An honest old head is still described."""
    monkeypatch.chdir(tmp_path)

    def as_format_1(doc, entries):  # as featcache 0.1.0 wrote it
        doc["meta"].pop("content_digest")
        doc["meta"].update(format_version=1, featcache_version="0.1.0")

    _rewrite_npz(npz_head, as_format_1, reseal=False)
    assert main(["info", str(npz_head)]) == 0 and "digest              none" in capsys.readouterr().out
    _rewrite_npz(npz_head, lambda d, e: e.update(a0=np.array([Evil()], dtype=object)), reseal=False)
    _one_line(capsys, ["info", str(npz_head)], f"{npz_head} is not a readable featcache head (it holds an array of "
              "Python objects, a pickle, which featcache never writes and never loads)")
    assert not (tmp_path / "PWNED").exists()


def _pickled_array() -> bytes:
    """A .npy of one Python object (an ``Evil``), as np.save writes it with pickles allowed: never loaded."""
    import io

    out = io.BytesIO()
    np.save(out, np.array([Evil()], dtype=object), allow_pickle=True)
    return out.getvalue()


def _with_a_pickled_first_array(npz_head: Path) -> Path:
    """The .npz head at ``npz_head`` with its first array (a0.npy) replaced by ``_pickled_array()`` and its digest
    made again, as someone who knows the format would: what the loaders' own checks, not the digest, must refuse."""
    from helpers import reseal_head

    with zipfile.ZipFile(npz_head) as zf:
        entries = [(info, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(npz_head, "w") as zf:
        for info, data in entries:
            zf.writestr(info, _pickled_array() if info.filename == "a0.npy" else data)
    return reseal_head(npz_head)


def _resealed_past_the_digest(npz_head: Path, tmp_path: Path) -> list[tuple[Path, str, Any]]:
    """``(file, the loaders' line, a loader)`` of each file made again around what the loaders refuse past its
    content digest (helper-274, from helper-272's pick.py): an .npz head whose a0.npy is a pickled object array
    (``npz_head`` itself), a .keras head's or a model's training-image digests as one, a model recording more digests
    than it holds."""
    from helpers import meta_only_model, reseal_model

    from featcache.deploy.model import read_meta, train_digests
    from featcache.heads.io import DIGESTS_ENTRY, add_sealed_meta

    pickled = _pickled_array()
    _with_a_pickled_first_array(npz_head)
    pickle_words = "it holds an array of Python objects, a pickle, which featcache never writes and never loads"
    keras_head = tmp_path / "hk.keras"  # a .keras head as Keras and featcache write one, no TensorFlow: its digests
    with zipfile.ZipFile(keras_head, "w") as zf:  # are read before its network is
        for name in ("metadata.json", "config.json", "model.weights.h5"):
            zf.writestr(name, "{}")
        zf.writestr(DIGESTS_ENTRY, pickled)
    add_sealed_meta(keras_head, {**io_mod.read_head_meta(npz_head), "head": "keras", "params": {}})
    record = read_meta(meta_only_model(tmp_path / "x.keras", train_digest_count=1))

    def model_holding(name: str, digests: bytes) -> Path:  # a model's record (no network) and its digests entry, sealed
        with zipfile.ZipFile(tmp_path / name, "w") as zf:
            zf.writestr(DIGESTS_ENTRY, digests)
            zf.writestr(io_mod.META_ENTRY, json.dumps(record))
        return reseal_model(tmp_path / name)

    def evaluate_reads(path: Path):  # what 'evaluate MODEL FOLDER' reads of a model's digests
        return train_digests(path, read_meta(path))

    pickled_model = model_holding("m.keras", pickled)
    more = model_holding("m3.keras", io_mod._npy_bytes(np.arange(3, dtype=np.uint64)))  # three keys where it says one
    return [(npz_head, f"{npz_head} is not a readable featcache head ({pickle_words})", load_head),
            (keras_head, f"{keras_head} is not a readable featcache head ({pickle_words})", load_head),
            (pickled_model, f"{pickled_model}: its training-image digests cannot be read ({pickle_words})", evaluate_reads),
            (more, f"{more} is a featcache model whose training-image digests are not the 1 uint64 keys", evaluate_reads)]


def test_verify_refuses_what_loading_refuses_past_the_digest(npz_head, cache, tmp_path, capsys, monkeypatch):
    """Regression (helper-274, from helper-272's pick.py): the content digest is no signature, and 'featcache verify'
    said "ok: ... is intact" of a file made again around what the loaders refuse: an .npz head whose a0.npy was a
    pickled object array, a .keras head's or a model's training-image digests as one, a model recording more digests
    than it holds. verify now runs the loaders' checks (heads.io.check_head_loads, deploy.model.train_digests): the
    loaders' line, exit 2, the same from featcache.verify; nothing of the file runs. Fails on the code before: verify
    exits 0 on each."""
    monkeypatch.chdir(tmp_path)
    for path, says, load in _resealed_past_the_digest(npz_head, tmp_path):
        _one_line(capsys, ["verify", str(path)], says)
        with pytest.raises(FeatcacheError, match=re.escape(says)):
            featcache.verify(path)
        with pytest.raises(FeatcacheError, match=re.escape(says)):  # what a loader says of it, word for word
            load(path)
    assert not (tmp_path / "PWNED").exists()


def test_info_vouches_for_no_file_verify_refuses_past_the_digest(npz_head, cache, tmp_path, capsys, monkeypatch):
    """Regression (a brief, 2026-12-06): 'featcache info' of an .npz head resealed around a pickled object array
    said "digest checked: as saved", exit 0, where verify and every loader refuse it (heads.io.check_head_loads).
    info runs the checks verify runs past the digest and refuses each such file in verify's line, exit 2 (--json
    and featcache.info alike); nothing of the file runs. Fails on the code before: info exits 0 on each."""
    monkeypatch.chdir(tmp_path)
    for path, says, _ in _resealed_past_the_digest(npz_head, tmp_path):
        verified = run_main(capsys, "verify", str(path))
        for argv in (["info", str(path)], ["info", str(path), "--json"]):
            got = run_main(capsys, *argv)
            assert (got.returncode, got.stdout, got.stderr) == (verified.returncode, "", verified.stderr.replace(
                "featcache verify:", "featcache info:")), (argv, got)
            assert got.returncode == 2 and says in got.stderr and "as saved" not in got.stderr
        with pytest.raises(FeatcacheError, match=re.escape(says)):
            featcache.info(path)
    assert not (tmp_path / "PWNED").exists()


def _replaced_during(monkeypatch, path: Path, replacement: Path, name: str) -> list[str]:
    """``heads.io``'s ``name`` (a check verify or info makes of ``path``, which opens it again) first replaces the
    file at ``path`` with ``replacement`` (a rename: another file there, as an editor or a copy's rename puts it), once."""
    real, swapped = getattr(io_mod, name), []

    def swapping(*args, **kwargs):
        if not swapped:
            os.replace(replacement, path)
            swapped.append(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(io_mod, name, swapping)
    return swapped


def test_verify_and_info_of_a_head_replaced_between_their_checks_say_so(npz_head, tmp_path, capsys, monkeypatch):
    """Regression (helper-311's brief): verify and info open a head again for each check (its kind, its content
    digest, its record, what the loaders check past the digest). A head replaced by one whose record was edited (its
    digest not made again) between two of them was said in parts of each: verify "ok: ... is intact" (the digest
    checked in the first, the loaders' checks in the second, which predict refuses), info "digest checked" over the
    edited head's class names. Each now says the file changed while it was read, exit 2, and vouches for neither.
    Fails on the code before: verify's "ok", info's reversed class names."""
    edited = tmp_path / "edited.npz"
    edited.write_bytes(npz_head.read_bytes())
    _rewrite_npz(edited, _reversed_names, reseal=False)
    with pytest.raises(FeatcacheError, match="is damaged or was changed after"):
        featcache.verify(edited)  # the replacement alone: refused by its digest
    original = npz_head.read_bytes()

    def again(name: str) -> list[str]:
        npz_head.write_bytes(original)
        copy = tmp_path / "copy.npz"
        copy.write_bytes(edited.read_bytes())
        return _replaced_during(monkeypatch, npz_head, copy, name)

    swapped = again("check_head_loads")  # after the digest was checked
    with pytest.raises(FeatcacheError, match=re.escape(f"{npz_head} changed while it was verified (it is no longer "
                                                       "the file read at the start); rerun the call once")):
        featcache.verify(npz_head)
    assert swapped
    swapped = again("check_head_loads")
    _one_line(capsys, ["verify", str(npz_head)], f"{npz_head} changed while it was verified (it is no longer the "
              "file read at the start); rerun the command once the file is no longer being written")
    assert swapped
    swapped = again("read_head_meta")  # after the digest was checked, before the record shown is read
    with pytest.raises(FeatcacheError, match=re.escape(f"{npz_head} changed while it was read (it is no longer the "
                                                       "file read at the start)")):
        featcache.info(npz_head)
    assert swapped
    monkeypatch.undo()
    npz_head.write_bytes(original)  # left alone: as before
    assert featcache.verify(npz_head).kind == "head" and featcache.info(npz_head)["class_names"] == CLASSES


def test_head_meta_refuses_a_layer_of_another_width_naming_the_layer(cache):
    """head_meta(cache, None, ...) of a head fitted on another layer's features was accepted; evaluate then refused
    the saved head, "evaluate on a cache extracted with the head's settings", where its layer was what was wrong (a
    new-user tester). head_meta says it, naming the None."""
    from featcache.heads.io import head_meta
    from featcache.heads.logreg import LogRegHead

    c = featcache.open_cache(cache)
    X, y = c.features("train"), c.labels("train")
    with pytest.raises(featcache.FeatcacheError, match=r"^the head takes 4 features but layer 'out' \(layer=None: the "
                                                        r"cache's default layer\) of .* has 6; pass the layer it was fitted on"):
        head_meta(c, None, "logreg", LogRegHead().fit(X[:, :4], y))
    assert head_meta(c, None, "logreg", LogRegHead().fit(X, y))["layer"] == "out"


def test_info_of_a_model_shows_its_heads_fit_under_the_heads_names_and_its_finetuning_in_words(tmp_path, capsys):
    """info of an exported model showed head_params and head_train_views alone, not what docs/commands.md says info
    shows of a head or model (train_images, train_size, seed, views) though the model records them (head_train_images,
    head_seed, ...); and a fine-tuned model's finetune was one long line of Python's values ("improved True",
    "seconds_per_epoch 20.5400"; a new-user tester). The head's fit is shown under the head's names (params,
    train_images, train_size, seed, train_views; --json keeps head_params and head_train_views too, until 0.3), with
    the head it was exported from, and fine-tuning as a few lines of words."""
    from helpers import meta_only_model

    from featcache.deploy.model import HEAD_FIT_FIELDS

    fit = {"params": {"C": 0.5, "max_iter": 200, "seed": 3}, "train_views": ["orig", "flip"], "train_size": 40,
           "seed": 3, "train_images": 40}
    finetune = {"unfreeze": 20, "learning_rate": 1e-5, "max_epochs": 2, "batch_size": 64, "patience": 1, "seed": 0,
                "keep_best": True, "train_images": 36, "val_images": 4, "frozen_val_accuracy": 0.5,
                "epochs": [{"loss": 1.0, "accuracy": 0.5, "val_loss": 1.0, "val_accuracy": 0.75, "seconds": 20.5},
                           {"loss": 0.9, "accuracy": 0.6, "val_loss": 0.9, "val_accuracy": 0.5, "seconds": 20.58}],
                "epochs_run": 2, "step_images": 64,  # as deploy.finetune records them beside its epochs
                "best_epoch": 1, "improved": True, "frozen_test_accuracy": 0.5, "test_accuracy": 0.75,
                "seconds_per_epoch": 20.54, "diverged_epoch": None, "unfrozen_layers": ["block_16_expand", "Conv_1"]}
    model = meta_only_model(tmp_path / "m.keras", head="logreg", head_path="/data/h.npz", views=["orig"],
                            finetune=finetune, **{HEAD_FIT_FIELDS[k]: v for k, v in fit.items()})
    info = featcache.info(model)
    assert {k: info.get(k) for k in fit} == fit and info["head_path"] == "/data/h.npz", info
    assert info["head_params"] == fit["params"] and info["head_train_views"] == fit["train_views"]  # names of before
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    rows = {line.split(None, 1)[0]: line.split(None, 1)[1] for line in out.splitlines() if not line.startswith(" ")}
    assert (rows["params"], rows["train_images"], rows["train_size"], rows["seed"], rows["train_views"]) == (
        "C 0.5, max_iter 200, seed 3", "40", "40", "3", "orig, flip"), out
    assert rows["head_path"] == "/data/h.npz" and "head_params" not in rows and "head_train_views" not in rows, out
    tuned = out[out.index("finetune"):out.index("format_version")]
    assert "True" not in tuned and "20.5400" not in tuned and "seconds_per_epoch" not in tuned, tuned
    assert "learning rate 1e-5" in tuned and "keep best true" in tuned and "2 epochs run, best epoch 1" in tuned, tuned
    assert tuned.count("epochs run") == 1 and "epochs run 2" not in tuned, tuned  # said twice (a new-user tester)
    assert "20.5 s per epoch" in tuned and "36 training images, 4 validation images" in tuned, tuned
    assert len(tuned.splitlines()) > 1 and max(map(len, tuned.splitlines())) <= 120, tuned


def test_info_of_a_keras_head_says_how_many_of_its_training_images_it_held_out(cache, tmp_path, capsys, monkeypatch):
    """info of a Keras head said train_images 87 where it was fitted on 69, the other 18 held out for its validation
    (early stopping), though docs/commands.md said "images the head was fitted on" (a reviewer). train_images keeps
    counting the images the head was given (its record, and what train's same-fit checks compare); info says how many
    of them the fit trained on and held out, as the fit split them (spied here), and a head holding none out says none."""
    from featcache.heads import dense

    split = []
    real = dense.held_out
    monkeypatch.setattr(dense, "held_out", lambda *a, **k: split.append(real(*a, **k)) or split[-1])
    head = tmp_path / "k.keras"
    assert main(["train", str(cache), "--head", "keras", "--epochs", "2", "--out", str(head)]) == 0
    assert split, "the fit held nothing out"  # train's check of the cut, then the fit's own (the last)
    fitted, held = (len(rows) if isinstance(rows, np.ndarray) else len(range(rows.stop)[rows])
                    for rows in (split[-1].train, split[-1].val))
    capsys.readouterr()
    info = featcache.info(head)
    assert info["train_images"] == fitted + held and info["validation_images"] == held > 0, info
    assert main(["info", str(head)]) == 0
    rows = {line.split(None, 1)[0]: line.split(None, 1)[1] for line in capsys.readouterr().out.splitlines()}
    assert rows["train_images"] == f"{fitted + held} ({fitted} fitted, {held} held out for validation)", rows
    none_held = tmp_path / "n.keras"
    assert main(["train", str(cache), "--head", "keras", "--epochs", "2", "--param", "validation_split=0",
                 "--param", "early_stopping=false", "--out", str(none_held)]) == 0
    capsys.readouterr()
    assert "validation_images" not in featcache.info(none_held)
    assert main(["info", str(none_held)]) == 0
    rows = {line.split(None, 1)[0]: line.split(None, 1)[1] for line in capsys.readouterr().out.splitlines()}
    assert rows["train_images"] == str(fitted + held), rows
