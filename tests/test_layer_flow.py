"""A head on an intermediate layer, end to end: train --layer, evaluate, and the errors when the layer is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import featcache
from featcache.cli import main
from featcache.heads.io import load_head

LAYER = "block_13_expand_relu"


@pytest.fixture(scope="module")
def two_layer_cache(real_weights, real_fashion_dir, tmp_path_factory) -> Path:
    """First 600 train / 300 test images, 96 px, real weights, block 13 and the final output."""
    out = tmp_path_factory.mktemp("layers") / "fm600_2.h5"
    return featcache.extract(featcache.FashionMNIST(data_dir=str(real_fashion_dir), train_limit=600, test_limit=300),
                             featcache.ModelSpec(weights=str(real_weights), layers=f"{LAYER},out_relu"),
                             featcache.StoreSpec(out=out), verbose=False).path


@pytest.fixture(scope="module")
def final_only_cache(real_fm600) -> Path:
    """The same images, the final output only (conftest.real_fm600, shared with test_train_evaluate.py)."""
    return real_fm600


@pytest.fixture(scope="module")
def logreg13(two_layer_cache, tmp_path_factory) -> Path:
    """A logreg head on LAYER of ``two_layer_cache`` (read only): fitted once for the tests that evaluate and export
    it, each of which fitted the same head with the same settings."""
    return featcache.train(two_layer_cache, "logreg", layer=LAYER, out=tmp_path_factory.mktemp("lr13") / "lr13.npz",
                           verbose=False).path


@pytest.fixture(scope="module")
def svm13(two_layer_cache, tmp_path_factory) -> tuple[Path, dict]:
    """An SVM head on LAYER trained by ``featcache train --head svm --json`` (read only), and what --json printed: the
    head test_train_svm_on_a_layer_then_evaluate trains and the one test_an_svm_head_exports_its_calibrated_probabilities
    exports, each of which fitted the same calibrated SVM on the same 600 rows (the API's train and the CLI's give the
    same head: C 10, the default calibration)."""
    import contextlib
    import io

    head_file = tmp_path_factory.mktemp("svm13") / "svm13.npz"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # a module fixture has no capsys: --json's stdout read here
        code = main(["train", str(two_layer_cache), "--head", "svm", "--layer", LAYER, "--out", str(head_file), "--json"])
    assert code == 0
    return head_file, json.loads(printed.getvalue())


def test_train_svm_on_a_layer_then_evaluate(two_layer_cache, svm13, tmp_path, capsys):
    head_file, trained = svm13
    head, meta = load_head(head_file)
    assert meta["layer"] == LAYER and meta["head"] == "svm" and meta["params"]["C"] == 10.0
    assert trained["layer"] == LAYER and trained["accuracy"] > 0.65  # chance is 0.10
    assert main(["evaluate", str(head_file), str(two_layer_cache), "--out", str(tmp_path / "eval"), "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["layer"] == LAYER and ev["accuracy"] == pytest.approx(trained["accuracy"])
    assert (tmp_path / "eval" / "confusion.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_refuses_a_cache_without_the_heads_layer(logreg13, final_only_cache, tmp_path, capsys):
    assert main(["evaluate", str(logreg13), str(final_only_cache), "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err.strip()
    assert f"trained on layer '{LAYER}'" in err and "--layers" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "e").exists()


def test_train_on_a_layer_the_cache_lacks(final_only_cache, tmp_path, capsys):
    assert main(["train", str(final_only_cache), "--head", "svm", "--layer", LAYER, "--out", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert f"layer '{LAYER}' is not in" in err and "cached layers: out_relu" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.npz").exists()


def test_export_of_a_head_on_a_layer_is_the_truncated_network(two_layer_cache, logreg13, real_weights, tmp_path, capsys):
    from featcache.deploy.endtoend import build_end_to_end, parameter_counts

    cache = featcache.open_cache(two_layer_cache)
    head_file = logreg13
    capsys.readouterr()
    assert main(["export", str(head_file), "--out", str(tmp_path / "m.keras")]) == 0
    assert f"exported logreg head on mobilenet_v2, cut at {LAYER} (" in capsys.readouterr().out  # said (a new user)
    model, meta = featcache.load_model(tmp_path / "m.keras")
    base = model.get_layer("base")
    assert meta["layer"] == LAYER and base.layers[-1].name == LAYER
    full = build_end_to_end("mobilenet_v2", str(real_weights), 96, 10)
    assert model.count_params() < parameter_counts(full)["total"] / 3  # blocks 14-16 and the 1280-wide conv are gone
    assert_model_on_images_is_the_head(model, meta, head_file, cache)


def assert_model_on_images_is_the_head(model, meta, head_file, cache) -> None:
    """The exported model on the test split's raw images gives the head's probabilities on the cached features."""
    import numpy as np

    from featcache.sources import open_source

    head, _ = load_head(head_file)
    images = open_source(meta["source"]).splits["test"].read(0, cache.sizes["test"])
    probs = model.predict(images[..., None], batch_size=100, verbose=0)
    expected = head.predict_proba(cache.features("test", LAYER))
    assert np.mean(probs.argmax(1) == expected.argmax(1)) >= 0.999
    np.testing.assert_allclose(probs, expected, atol=2e-3)


def test_an_svm_head_exports_its_calibrated_probabilities(two_layer_cache, svm13, tmp_path, capsys):
    """An SVM head (calibrated probabilities, the default) was refused: 'cannot export an SVM head' (a new-user
    tester). Its model on the raw images gives the head's probabilities on the cached features (deploy.svmgraph)."""
    cache = featcache.open_cache(two_layer_cache)
    head_file = svm13[0]
    assert main(["export", str(head_file), "--out", str(tmp_path / "m.keras")]) == 0
    model, meta = featcache.load_model(tmp_path / "m.keras")
    assert "scores" not in meta and meta["output"].startswith("class probabilities")  # probabilities: the head's own
    assert_model_on_images_is_the_head(model, meta, head_file, cache)


def test_finetune_a_head_on_a_layer_trains_the_truncated_base(two_layer_cache, real_weights, tmp_path):
    head_file = tmp_path / "k13.keras"
    featcache.train(two_layer_cache, "keras", layer=LAYER, epochs=20, out=head_file, verbose=False)
    res = featcache.finetune(head_file, unfreeze=10, epochs=1, keep_best=False, out=tmp_path / "ft.keras", verbose=False)
    model, meta = featcache.load_model(res.path)
    base = model.get_layer("base")
    assert meta["layer"] == LAYER and base.layers[-1].name == LAYER
    assert set(res.unfrozen_layers) <= {l.name for l in base.layers[-10:]} and res.unfrozen_layers
    assert res.test_accuracy is not None and res.test_accuracy > 0.5  # chance is 0.10
