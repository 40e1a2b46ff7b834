"""The estimator interface every head shares (details live in the heads' own tests)."""

import numpy as np
import pytest
from sklearn.base import clone

from featcache.errors import FeatcacheError
from featcache.heads import HEADS, make_head


def blobs(n=200, d=16, k=4, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, size=(k, d))
    y = np.arange(n) % k
    return (centers[y] + rng.normal(0, 1, size=(n, d))).astype(np.float32), y


@pytest.mark.parametrize("name", sorted(HEADS))
def test_every_head_is_an_estimator(name):
    X, y = blobs()
    # A fixed 20 epochs: early stopping with the default patience and L2 would
    # run all 200 epochs on these 150 rows, a minute of Keras overhead.
    params = {"epochs": 20, "learning_rate": 0.01, "early_stopping": False} if name == "keras" else {}
    head = make_head(name, **params)
    assert clone(head).get_params() == head.get_params()
    head.fit(X[:150], y[:150])
    proba = head.predict_proba(X[150:])
    assert proba.shape == (50, 4) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert (head.predict(X[150:]) == proba.argmax(1)).all()
    assert head.score(X[150:], y[150:]) > 0.9  # chance is 0.25


def test_unknown_head():
    with pytest.raises(FeatcacheError, match="unknown head 'forest'"):
        make_head("forest")
