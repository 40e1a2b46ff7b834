"""The RBF SVM head: standardization, C by cross-validation, calibrated probabilities."""

import numpy as np
import pytest
from sklearn.metrics import log_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from featcache.heads import LogRegHead, SVMHead, make_head
from featcache.heads.io import load_head, save_head
from featcache.heads.svm import C_GRID


def rings(n=300, seed=0):
    """Three classes on concentric rings in 2-D plus noise dimensions: not linearly separable."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = 1.0 + y + rng.normal(0, 0.15, n)
    X = np.c_[radius * np.cos(angle), radius * np.sin(angle), rng.normal(0, 1, (n, 3))]
    # Features on wildly different scales: the head must standardize them.
    return (X * np.array([1000, 1000, 1, 1, 1])).astype(np.float32), y


def test_rbf_separates_what_a_line_cannot():
    X, y = rings()
    head = make_head("svm").fit(X[:200], y[:200])
    assert head.score(X[200:], y[200:]) > 0.9
    from featcache.heads import LogRegHead

    assert LogRegHead().fit(X[:200], y[:200]).score(X[200:], y[200:]) < 0.7  # chance is 0.33


def test_predictions_are_those_of_a_standardized_svc():
    X, y = rings()
    head = SVMHead(C=3.0, probability=False).fit(X[:200], y[:200])
    ref = make_pipeline(StandardScaler(), SVC(C=3.0)).fit(X[:200], y[:200])
    assert (head.predict(X[200:]) == ref.predict(X[200:])).all()
    np.testing.assert_allclose(head.decision_function(X[200:]), ref.decision_function(X[200:]), rtol=1e-4, atol=1e-5)
    assert not hasattr(head, "predict_proba")  # no probabilities asked for, none pretended


def test_probabilities_are_calibrated_and_agree_with_predict():
    X, y = rings(600)
    head = SVMHead().fit(X[:400], y[:400])
    proba = head.predict_proba(X[400:])
    assert np.allclose(proba.sum(1), 1)
    assert log_loss(y[400:], proba) < 0.5 * np.log(3)  # far better than knowing nothing
    # The SVC inside was fitted on all rows: its decision values are the plain SVC's.
    ref = make_pipeline(StandardScaler(), SVC(C=10.0)).fit(X[:400], y[:400])
    np.testing.assert_allclose(head.decision_function(X[400:]), ref.decision_function(X[400:]), rtol=1e-4, atol=1e-5)


def test_C_by_cross_validation_is_the_grid_searchs_best():
    # The same search done independently: standardize inside each fold, the same seeded folds.
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    X, y = rings(150, seed=4)
    X[:, 2:] *= 30  # loud noise dimensions: small C underfits, large C overfits, so the grid matters
    head = SVMHead(C="cv", probability=False, seed=3).fit(X, y)
    ref = GridSearchCV(make_pipeline(StandardScaler(), SVC(random_state=3)), {"svc__C": list(C_GRID)},
                       cv=StratifiedKFold(5, shuffle=True, random_state=3)).fit(X, y)
    assert head.C_ == ref.best_params_["svc__C"]
    assert head.get_params()["C"] == "cv"
    np.testing.assert_array_equal(head.predict(X), ref.predict(X))


def test_saved_and_loaded(tmp_path):
    X, y = rings()
    head = SVMHead().fit(X[:200], y[:200])
    meta = {"head": "svm", "layer": "block_13_expand_relu", "class_names": ["a", "b", "c"], "cache_fingerprint": "f" * 64}
    path = save_head(head, tmp_path / "svm.npz", meta)
    again, meta = load_head(path)
    assert meta["layer"] == "block_13_expand_relu" and meta["params"]["C"] == 10.0
    np.testing.assert_array_equal(again.predict_proba(X[200:]), head.predict_proba(X[200:]))


@pytest.mark.parametrize("n_per_class", [2, 3])
def test_tiny_classes_still_fit(n_per_class):
    # 2-fold cross-validation and calibration with 2 images per class: still a working classifier
    # on well separated clusters (not a shape check: the score on 90 unseen rows).
    rng = np.random.default_rng(2)
    y = np.arange(3 * n_per_class + 90) % 3
    X = (np.eye(3)[y] * 6 + rng.normal(0, 1, (len(y), 3))).astype(np.float32)
    head = SVMHead(C="cv").fit(X[:3 * n_per_class], y[:3 * n_per_class])
    assert head.score(X[3 * n_per_class:], y[3 * n_per_class:]) > 0.9  # chance is 0.33


def test_one_row_per_class_is_a_clear_error():
    X, y = rings(3)
    with pytest.raises(ValueError, match="at least 2 training rows per class"):
        SVMHead().fit(X, y)


@pytest.mark.parametrize("make", [lambda: SVMHead(C="cv", probability=False), lambda: SVMHead(C=1.0),
                                  lambda: LogRegHead(C="cv")])
def test_folds_count_images_not_views(make):
    """heads.views.fold_count, the heads' one fold check: a class of 1 image seen in 2 views has 1 image to split,
    whatever the head (C='cv' or the calibration); with groups=None the same rows are 2 images and fit."""
    from featcache.heads.views import image_groups

    rng = np.random.default_rng(0)
    y = np.repeat(np.array([0] * 6 + [1] * 6 + [2]), 2)  # 13 images x 2 views; class 2 has one image
    X = (np.eye(3)[y] * 6 + rng.normal(0, 1, (len(y), 3))).astype(np.float32)
    with pytest.raises(ValueError, match=r"needs at least 2 training rows per class \(one class has 1\); pass "):
        make().fit(X, y, groups=image_groups(13, 2))
    assert make().fit(X, y).score(X, y) > 0.9
