"""The from-scratch CNN baseline: learns from raw pixels, gray or colour, repeatably."""

import numpy as np
import pytest
from sklearn.base import clone

from featcache.errors import FeatcacheError
from featcache.heads.scratch import ScratchCNN
from featcache.sources import fashion_mnist


@pytest.mark.slow
def test_learns_real_fashion_mnist(real_fashion_dir):
    src = fashion_mnist.load(real_fashion_dir, train_limit=2000, test_limit=500)
    tr, te = src.splits["train"], src.splits["test"]
    model = ScratchCNN(epochs=2).fit(tr.read(0, 2000), tr.labels)
    assert model.input_shape_ == (28, 28, 1) and model.model_.count_params() == 225_034  # the documented network
    assert model.score(te.read(0, 500), te.labels) > 0.6  # chance is 0.10
    proba = model.predict_proba(te.read(0, 500))
    assert proba[np.arange(500), te.labels].mean() > 0.5  # confident in the right class, not just argmax-right


def test_params_shape_the_network():
    X, y = colour_stripes(12, 0)
    small = clone(ScratchCNN(epochs=1, dense_units=4)).set_params(filters=(4,)).fit(X, y)
    # one 4-filter conv on 32x32x3 -> 15x15x4 after pooling -> Dense(4) -> Dense(3)
    assert small.model_.count_params() == (3 * 3 * 3 * 4 + 4) + (15 * 15 * 4 * 4 + 4) + (4 * 3 + 3)
    assert ScratchCNN.consumes == "images"  # a learning curve hands it the cache's raw images


def colour_stripes(n, seed):
    """32x32 RGB images whose class is the colour channel of a bright bar."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.integers(0, 80, size=(n, 32, 32, 3), dtype=np.uint8)
    for i, c in enumerate(y):
        x[i, 10:20, :, c] = 250
    return x, np.array(["red", "green", "blue"])[y]


@pytest.mark.slow
def test_colour_images_and_string_labels():
    X, y = colour_stripes(120, 0)
    model = ScratchCNN(epochs=6, dense_units=16).fit(X, y)
    assert model.input_shape_ == (32, 32, 3)
    Xt, yt = colour_stripes(30, 1)
    assert model.score(Xt, yt) > 0.9  # chance is 1/3
    assert set(model.predict(Xt)) <= {"red", "green", "blue"}


@pytest.mark.slow
def test_same_seed_same_network():
    X, y = colour_stripes(60, 0)
    a = ScratchCNN(epochs=2, dense_units=8, seed=3).fit(X, y)
    b = ScratchCNN(epochs=2, dense_units=8, seed=3).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_bad_input():
    X, y = colour_stripes(12, 0)
    with pytest.raises(FeatcacheError, match="raw uint8 images"):
        ScratchCNN(epochs=1).fit(X.astype(np.float32) / 255, y)
    with pytest.raises(FeatcacheError, match=r"\(N, H, W\) or \(N, H, W, C\)"):
        ScratchCNN(epochs=1).fit(X[:, :, 0, 0], y)
    model = ScratchCNN(epochs=1, dense_units=4).fit(X, y)
    with pytest.raises(FeatcacheError, match="fitted on images shaped"):
        model.predict(X[:, :16, :16])
