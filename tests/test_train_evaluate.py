"""train and evaluate on a small real cache (real weights, real Fashion-MNIST), and their bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from helpers import consistent_attrs, interrupted_extraction, tiny_fashion_cache

import featcache
from featcache.cli import main
from featcache.errors import FeatcacheError
from featcache.heads.io import load_head
from featcache.store.cache import CacheWriter, SplitSpec


@pytest.fixture(scope="module")
def real_cache(real_fm600) -> Path:
    """The lesson's kind of cache, small: first 600 train / 300 test images, 96 px, real weights (conftest.real_fm600)."""
    return real_fm600


@pytest.fixture(scope="module")
def trained(real_cache, tmp_path_factory):
    """One head of each kind trained on the real cache: name -> (TrainResult, path)."""
    d = tmp_path_factory.mktemp("heads")
    return {
        "keras": featcache.train(real_cache, "keras", out=d / "k.keras", verbose=False),
        "logreg": featcache.train(real_cache, "logreg", C="cv", out=d / "l.npz", verbose=False),
    }


@pytest.fixture
def random_cache(tmp_path) -> Path:
    """A tiny cache from another network (random weights, 32 px): the wrong features for real heads."""
    return tiny_fashion_cache(tmp_path, out="rnd.h5")


@pytest.mark.parametrize("name", ["keras", "logreg"])
def test_each_head_beats_chance_on_real_features(trained, name):
    res = trained[name]
    assert res.train_images == 600 and res.test_images == 300
    assert res.accuracy > 0.65, res  # chance is 0.10
    assert res.fit_seconds > 0 and res.path.is_file()


def test_saved_heads_reload_and_predict_identically(trained, real_cache):
    cache = featcache.open_cache(real_cache)
    X, y = cache.features("test"), cache.labels("test")
    for res in trained.values():
        head, meta = load_head(res.path)
        assert meta["cache_fingerprint"] == cache.fingerprint and meta["class_names"] == cache.class_names
        assert meta["layer"] == "out_relu" and meta["train_images"] == 600
        assert head.score(X, y) == pytest.approx(res.accuracy)
        again, _ = load_head(res.path)
        np.testing.assert_array_equal(again.predict_proba(X), head.predict_proba(X))


def test_logreg_cv_picks_the_C_with_the_best_fold_accuracy(trained, real_cache):
    # One grid point recomputed independently: the scaler fitted inside each seeded stratified fold.
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from featcache.heads.logreg import CV_TOL

    d = trained["logreg"].details
    assert d["cv_scores"][d["C"]] == max(d["cv_scores"].values())
    cache = featcache.open_cache(real_cache)
    X, y = cache.features("train"), cache.labels("train")
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=d["C"], max_iter=2000, tol=CV_TOL))
    ref = cross_val_score(pipe, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=0)).mean()
    # Warm starts along the grid stop lbfgs at its tolerance from another side: close, not equal.
    assert d["cv_scores"][d["C"]] == pytest.approx(ref, abs=0.01)


@pytest.mark.parametrize("name, kwargs", [("keras", {"epochs": 3}), ("logreg", {"C": "cv"})])
def test_same_seed_same_result(real_cache, tmp_path, name, kwargs):
    runs = [featcache.train(real_cache, name, train_size=300, seed=7, out=tmp_path / f"{i}{'.keras' if name == 'keras' else '.npz'}",
                            verbose=False, **kwargs) for i in range(2)]
    assert runs[0].accuracy == runs[1].accuracy
    cache = featcache.open_cache(real_cache)
    X = cache.features("test")
    np.testing.assert_array_equal(load_head(runs[0].path)[0].predict_proba(X), load_head(runs[1].path)[0].predict_proba(X))


def test_train_size_takes_a_stratified_subset(real_cache, tmp_path):
    res = featcache.train(real_cache, "logreg", train_size=100, out=tmp_path / "h.npz", verbose=False)
    assert res.train_images == 100
    _, meta = load_head(res.path)
    assert meta["train_size"] == 100 and meta["seed"] == 0


def test_keras_head_gives_the_same_predictions_in_the_end_to_end_model(trained, real_cache, real_weights, real_fashion_dir):
    from featcache.deploy.endtoend import build_end_to_end, set_head_weights
    from featcache.sources import fashion_mnist

    head, meta = load_head(trained["keras"].path)
    cache = featcache.open_cache(real_cache)
    model = build_end_to_end("mobilenet_v2", str(real_weights), 96, 10, raw_input_shape=(28, 28))
    set_head_weights(model, head)
    images = fashion_mnist.load(real_fashion_dir, test_limit=64).splits["test"].read(0, 64)
    end_to_end = model.predict(images, verbose=0)
    cached = head.decision_function(cache.features("test", rows=np.arange(64)))
    np.testing.assert_allclose(end_to_end, cached, atol=2e-3)
    assert (end_to_end.argmax(1) == cached.argmax(1)).all()


def test_evaluate_reports_per_class_and_a_confusion_png(trained, real_cache, tmp_path):
    res = featcache.evaluate(trained["logreg"].path, real_cache, out=tmp_path / "ev")
    assert res.accuracy == pytest.approx(trained["logreg"].accuracy)
    assert res.confusion.shape == (10, 10) and res.confusion.sum() == 300
    assert np.trace(res.confusion) / 300 == pytest.approx(res.accuracy)
    assert [r["class"] for r in res.per_class] == featcache.open_cache(real_cache).class_names
    assert sum(r["support"] for r in res.per_class) == 300
    assert res.files["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(res.files["json"].read_text())["accuracy"] == pytest.approx(res.accuracy)
    assert "t-shirt/top" in res.files["text"].read_text()


def test_cli_train_and_evaluate(real_cache, tmp_path, capsys):
    head = tmp_path / "h.keras"
    assert main(["train", str(real_cache), "--head", "keras", "--preset", "lesson", "--out", str(head), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["preset"] == "lesson" and out["details"]["epochs_run"] == 5 and out["accuracy"] > 0.5
    assert main(["evaluate", str(head), str(real_cache), "--out", str(tmp_path / "ev")]) == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "ankle boot" in text and "confusion.png" in text
    assert main(["evaluate", str(head), str(real_cache), "--json", "--out", str(tmp_path / "ev")]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(out["accuracy"])


def test_cli_train_default_path_goes_under_runs(real_cache, capsys):
    assert main(["train", str(real_cache), "--head", "logreg", "--train-size", "50"]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and "fit" in out
    path = Path(out.strip().split("-> ")[-1])
    assert path.is_file() and path.suffix == ".npz" and path.parent.name == "heads"


# --- bad input: one line on stderr, exit 2 -----------------------------------------------------


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("args, message", [
    (["--head", "forest"], "unknown head 'forest'"),
    (["--head", "logreg", "--train-size", "5000"], "--train-size 5000 is larger than the 48 training images"),
    (["--head", "logreg", "--train-size", "3"], "--train-size 3 is smaller than the 10 classes"),
    (["--head", "keras", "--C", "1"], "--C applies to --head logreg and svm only"),
    (["--head", "logreg", "--preset", "lesson"], "--preset applies to --head keras only"),
    (["--head", "keras", "--preset", "fast"], "unknown --preset 'fast'; choose one of"),
    (["--head", "keras", "--out", "x.npz"], "saved as a .keras file"),
    (["--head", "logreg", "--out", "x.joblib"], "saved as a .npz file"),
    (["--head", "logreg", "--layer", "block_3_add"], "layer 'block_3_add' is not in"),
])
def test_train_bad_options(random_cache, capsys, args, message):
    assert main(["train", str(random_cache), *args]) == 2
    assert message in _err(capsys)


def test_train_refuses_an_incomplete_cache(fashion_dir, tmp_path, capsys):
    broken = tmp_path / "broken.h5"
    os.rename(interrupted_extraction(broken, data_dir=str(fashion_dir), weights="random", image_size=32), broken)
    assert main(["train", str(broken), "--head", "logreg"]) == 2
    assert "incomplete cache" in _err(capsys)


def test_train_refuses_a_cache_without_test_split(tmp_path, capsys):
    path = tmp_path / "train_only.h5"
    attrs = consistent_attrs({"fingerprint": "f" * 64, "class_names": ["a", "b"], "layers": ["out"], "default_layer": "out",
             "backbone": "mobilenet_v2", "weights": "random", "image_size": 32, "preprocessing": "x"})
    w = CacheWriter(path, attrs, [SplitSpec("train", np.array([0, 1, 0, 1]), np.arange(4))], {"out": 3}, "float32")
    w.open()
    w.write("train", 0, {"out": np.ones((4, 3), np.float32)})
    w.finish()
    assert main(["train", str(path), "--head", "logreg"]) == 2
    assert "has no 'test' split" in _err(capsys)
    with pytest.raises(FeatcacheError, match="no 'test' split"):
        featcache.train(path, "logreg", verbose=False)


def test_evaluate_refuses_a_mismatched_cache(trained, random_cache, capsys):
    assert main(["evaluate", str(trained["keras"].path), str(random_cache)]) == 2
    err = _err(capsys)
    assert "head and cache do not match" in err and "image_size: head 96 vs cache 32" in err


def test_evaluate_refuses_unreadable_or_missing_head_files(random_cache, tmp_path, capsys):
    for name, content in (("junk.keras", b"PK\x03\x04 not really a zip"), ("junk.npz", b"\x00\x01garbage")):
        (tmp_path / name).write_bytes(content)
        assert main(["evaluate", str(tmp_path / name), str(random_cache)]) == 2
        assert "is not a readable featcache head" in _err(capsys)
    assert main(["evaluate", str(tmp_path / "nope.keras"), str(random_cache)]) == 2
    assert "head file not found" in _err(capsys)


def test_a_file_saved_into_evaluates_folder_meanwhile_is_never_replaced(random_cache, tmp_path, monkeypatch):
    """Regression (a review): evaluate checked its --out folder before predicting only; a confusion.png the user
    saved there meanwhile (an SVM on a large cache predicts for minutes) was replaced without a word."""
    from featcache.analysis import evaluate as ev
    from featcache.errors import FeatcacheError

    from helpers import saved_meanwhile

    head = featcache.train(random_cache, "logreg", out=tmp_path / "h.npz").path
    out = tmp_path / "ev"
    saved_meanwhile(monkeypatch, ev, "scored_views", out / "confusion.png", "my notes")
    with pytest.raises(FeatcacheError, match="holds confusion.png, which is not part of a report featcache wrote"):
        featcache.evaluate(head, random_cache, out=out)
    assert (out / "confusion.png").read_text() == "my notes" and sorted(p.name for p in out.iterdir()) == ["confusion.png"]
