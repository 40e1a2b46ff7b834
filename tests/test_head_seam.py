"""A new head is one class and its line in ``heads.HEADS``: train, save, load, evaluate, probe and the CLI take it.

An extensibility review (2026-12-04) added a k-nearest-neighbours head and had to touch 13 files: head I/O knew
each head by name (the suffix table, the loader's accepted kinds, the structure check, the trusted classes of
stored state), the default file name assumed a C, help texts listed the heads by hand. Each head class now says
how it is stored (``file_suffix``, ``state_classes``, ``structure_ok``) and what it is (``summary``); this test
registers a head defined here and nowhere else.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.neighbors import NearestCentroid
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import featcache
from featcache.cli import main
from featcache.errors import FeatcacheError


class CentroidHead(ClassifierMixin, BaseEstimator):
    """StandardScaler -> NearestCentroid; probabilities a softmax of the negative distances."""

    summary = "nearest class mean (a test's head)"
    file_suffix = ".npz"

    def __init__(self, temperature: float = 1.0, seed: int = 0):
        self.temperature = temperature
        self.seed = seed

    @classmethod
    def state_classes(cls) -> tuple[type, ...]:
        return (cls, Pipeline, StandardScaler, NearestCentroid)

    def structure_ok(self) -> bool:
        from featcache.heads.state import scaled_steps

        steps = scaled_steps(self)
        return bool(steps) and type(steps[1]) is NearestCentroid

    def fit(self, X, y, groups=None):
        self.pipeline_ = make_pipeline(StandardScaler(), NearestCentroid()).fit(X, y)
        self.classes_ = self.pipeline_.classes_
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X):
        Z = self.pipeline_[0].transform(X)
        d = ((Z[:, None, :] - self.pipeline_[1].centroids_[None]) ** 2).sum(-1) / self.temperature
        e = np.exp(-(d - d.min(axis=1, keepdims=True)))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


@pytest.fixture
def centroid(monkeypatch):
    from featcache import heads

    monkeypatch.setitem(heads.HEADS, "centroid", CentroidHead)
    return "centroid"


@pytest.fixture(scope="module")
def small_cache(tmp_path_factory):
    from helpers import tiny_fashion_cache

    return tiny_fashion_cache(tmp_path_factory.mktemp("seam"), n_train=60, n_test=30)


def test_a_registered_head_trains_saves_loads_and_evaluates(centroid, small_cache, tmp_path):
    from featcache.heads.io import load_head

    res = featcache.train(small_cache, head=centroid, out=tmp_path / "h.npz")
    head, meta = load_head(res.path)
    assert type(head) is CentroidHead and meta["head"] == "centroid"
    cache = featcache.open_cache(small_cache)
    X, y = cache.features("test"), cache.labels("test")
    np.testing.assert_array_equal(head.predict_proba(X), res.estimator.predict_proba(X))  # bit for bit
    assert res.accuracy == pytest.approx(float(np.mean(head.predict(X) == y)))
    assert featcache.evaluate(res.path, small_cache, out=tmp_path / "ev").accuracy == pytest.approx(res.accuracy)
    assert featcache.verify(res.path).kind == "head"
    # its default file name: no C to name it by, a digest of its parameters instead (it assumed a C: AttributeError)
    default = featcache.train(small_cache, head=centroid, seed=1)
    assert default.path.suffix == ".npz" and "_centroid_p" in default.path.name
    with pytest.raises(FeatcacheError, match="the centroid head is saved as a .npz file"):
        featcache.train(small_cache, head=centroid, out=tmp_path / "h.keras")
    # --C for a head without one: named from the registry (it said the head "is set with --C"; a second review)
    with pytest.raises(FeatcacheError, match="C applies to head='logreg' and 'svm' only; the centroid head has no C"):
        featcache.train(small_cache, head=centroid, C=1.0)
    with pytest.raises(FeatcacheError, match="head='centroid' takes none of them"):
        featcache.train(small_cache, head=centroid, epochs=3)


def test_the_cli_and_probe_take_it(centroid, small_cache, tmp_path, capsys, progress_on):
    assert main(["train", str(small_cache), "--head", "centroid", "--out", str(tmp_path / "h.npz")]) == 0
    assert "training a centroid head" in capsys.readouterr().err  # train's status line
    res = featcache.probe(small_cache, heads="centroid,logreg", on_test=True, out=tmp_path / "p", plot=False)
    assert {r.head for r in res.rows} == {"centroid", "logreg"}
    # its own parameters, from every command that fits it (--param)
    assert main(["train", str(small_cache), "--head", "centroid", "--param", "temperature=3", "--out", str(tmp_path / "t.npz")]) == 0
    assert featcache.load_head(tmp_path / "t.npz")[1]["params"]["temperature"] == 3
    assert main(["probe", str(small_cache), "--heads", "centroid", "--param", "temperature=3", "--on-test",
                 "--out", str(tmp_path / "q"), "--no-plot"]) == 0
    assert "--param temperature=3" in capsys.readouterr().out
    assert main(["curve", str(small_cache), "--sizes", "20", "--seeds", "1", "--heads", "centroid", "--param",
                 "centroid.temperature=3", "--out", str(tmp_path / "c"), "--no-plot"]) == 0
    assert "centroid" in capsys.readouterr().out


def test_its_help_and_messages_come_from_the_class(centroid, capsys):
    from featcache.cli import build_parser

    import argparse

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    text = sub.choices["train"].format_help()
    assert "centroid: nearest class mean (a test's head)" in " ".join(text.split())
    assert "centroid heads are .npz files" in " ".join(text.split())


def test_the_registry_decides_what_loads(centroid, small_cache, tmp_path, monkeypatch):
    """A file of a head that is not registered (here: after it is taken out) is refused, its objects untrusted."""
    from featcache import heads
    from featcache.heads.io import load_head

    path = featcache.train(small_cache, head=centroid, out=tmp_path / "h.npz").path
    monkeypatch.delitem(heads.HEADS, "centroid")
    with pytest.raises(FeatcacheError, match="unknown head kind 'centroid'"):
        load_head(path)


def test_curve_probe_and_plots_ask_the_heads_class():
    """curve's defaults (the Keras head's lesson preset, logreg's warm starts), probe's (the SVM without calibration)
    and the plots' legends were dicts and branches naming keras, logreg and svm: now each class's ``curve_params``,
    ``probe_params`` and ``legend``; a head without them gets none and its bare name."""
    from featcache.analysis.curve.spec import DEFAULT_KERAS_PRESET, full_params
    from featcache.analysis.plots import head_label
    from featcache.analysis.probe import probe_defaults
    from featcache.heads.dense import PRESETS, DenseHead

    assert DenseHead.curve_params == PRESETS[DEFAULT_KERAS_PRESET]  # --keras-preset's help says what is fitted
    keras = full_params("keras", 7, None)
    assert keras["epochs"] == 5 and keras["n_classes"] == 7 and keras["early_stopping"] is False
    assert full_params("logreg", 7, None)["warm_start"] is True and "n_classes" not in full_params("logreg", 7, None)
    assert probe_defaults("svm") == {"probability": False} and probe_defaults("logreg") == {}
    assert head_label("keras", keras) == "keras dense head (lesson preset: 5 epochs)"
    assert head_label("svm", {"C": 10}) == "RBF SVM (C=10)" and head_label("scratch", {"epochs": 1}) == "from-scratch CNN (1 epoch)"
    assert head_label("logreg", {}) == "logreg" and head_label("not-a-head-here", {"C": 1}) == "not-a-head-here"


class EpochCentroid(CentroidHead):
    """A registered head with parameters named as train's Keras options (epochs, standardize, n_classes)."""

    def __init__(self, temperature: float = 1.0, seed: int = 0, epochs: int = 1, standardize: bool = False,
                 n_classes: int | None = None):
        super().__init__(temperature, seed)
        self.epochs, self.standardize, self.n_classes = epochs, standardize, n_classes


def test_a_heads_own_epochs_is_its_own_param_in_train_and_probes_command(small_cache, tmp_path, capsys, monkeypatch):
    """train refused --param epochs=4 for every head ("give it with --epochs") and --epochs for every head but keras:
    a registered head's own epochs (standardize, n_classes) could not be set at all, and probe suggested --epochs
    for it. Only what train sets itself for that head is refused: the seed, C of a head with one, the Keras
    head's epochs, standardize and n_classes."""
    from featcache import heads
    from featcache.analysis.probe import ProbeRow, train_command

    monkeypatch.setitem(heads.HEADS, "epochal", EpochCentroid)
    assert main(["train", str(small_cache), "--head", "epochal", "--param", "epochs=4", "--param", "standardize=true",
                 "--param", "n_classes=10", "--out", str(tmp_path / "e.npz")]) == 0, capsys.readouterr().err
    params = featcache.load_head(tmp_path / "e.npz")[1]["params"]
    assert (params["epochs"], params["standardize"], params["n_classes"]) == (4, True, 10)
    row = ProbeRow(0, "out_relu", 8, "epochal", None, 0.5, "test", 0.1)
    assert train_command("c.h5", row, ("orig",), {"epochs": 4, "seed": 2}).endswith("--seed 2 --param epochs=4")
    for argv, says in ((["--head", "epochal", "--param", "seed=1"], "--param seed: give it with --seed 1"),
                       (["--head", "logreg", "--param", "C=1"], "--param C: give it with --C"),
                       (["--head", "keras", "--param", "epochs=2"], "--param epochs: give it with --epochs"),
                       (["--head", "keras", "--param", "C=1"], "head 'keras' has no parameter 'C'")):
        assert main(["train", str(small_cache), *argv, "--out", str(tmp_path / "x.keras")]) == 2
        assert says in capsys.readouterr().err
