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
    from helpers import make_fashion_dir

    root = tmp_path_factory.mktemp("seam")
    return featcache.extract(featcache.FashionMNIST(data_dir=str(make_fashion_dir(root / "fm", n_train=60, n_test=30))),
                             featcache.ModelSpec(weights="random", image_size=32),
                             featcache.StoreSpec(out=root / "c.h5"), verbose=False).path


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
    with pytest.raises(FeatcacheError, match="--C applies to --head logreg and svm only; the centroid head has no C"):
        featcache.train(small_cache, head=centroid, C=1.0)
    with pytest.raises(FeatcacheError, match="--head centroid takes none of them"):
        featcache.train(small_cache, head=centroid, epochs=3)


def test_the_cli_and_probe_take_it(centroid, small_cache, tmp_path, capsys):
    assert main(["train", str(small_cache), "--head", "centroid", "--out", str(tmp_path / "h.npz")]) == 0
    assert "centroid" in capsys.readouterr().out
    res = featcache.probe(small_cache, heads="centroid,logreg", on_test=True, out=tmp_path / "p", plot=False)
    assert {r.head for r in res.rows} == {"centroid", "logreg"}


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
