"""heads.views: stacking views for fitting, averaging them per test image (probabilities or SVM decision values)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from featcache.errors import FeatcacheError
from featcache.heads import LogRegHead, SVMHead
from featcache.heads.views import (
    DECISION_VALUES,
    PROBABILITIES,
    averaged_quantity,
    predict_and_scores,
    predict_views,
    score_views,
    stack_views,
    view_scores,
)
from featcache.validate import check_views


class ProbaStub:
    """A 'head' whose features ARE its probabilities: what it averages is visible in the test."""

    def __init__(self, classes=(0, 1)):
        self.classes_ = np.asarray(classes)

    def predict_proba(self, X):
        return np.asarray(X, dtype=np.float64)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class DecisionStub:
    """A head without probabilities whose features are its decision values (one column for two classes)."""

    def __init__(self, classes=(0, 1)):
        self.classes_ = np.asarray(classes)

    def decision_function(self, X):
        X = np.asarray(X, dtype=np.float64)
        return X[:, 0] if len(self.classes_) == 2 else X

    def predict(self, X):
        d = self.decision_function(X)
        return self.classes_[(d > 0).astype(int)] if d.ndim == 1 else self.classes_[np.argmax(d, axis=1)]


def test_stack_views_is_image_major_with_labels_repeated():
    Xv = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    X, y = stack_views(Xv, np.array([5, 6, 7]))
    assert X.shape == (6, 4)
    assert np.array_equal(X[3], Xv[1, 1]) and np.array_equal(X[4], Xv[0, 2])  # row j*V + i is view i of image j
    assert y.tolist() == [5, 5, 6, 6, 7, 7]
    with pytest.raises(ValueError, match="2 labels for 3 images"):
        stack_views(Xv, np.array([1, 2]))
    with pytest.raises(ValueError, match=r"\(V, n, D\)"):
        stack_views(Xv[0])


def test_the_last_rows_held_out_for_validation_are_whole_images():
    # The Keras head validates on the last 20% of its images: with groups, the last rows, every view of them.
    from featcache.heads.dense import validation_rows
    from featcache.heads.views import image_groups

    V, n = 3, 10
    Xv = np.stack([np.arange(n, dtype=np.float32)[:, None] + v / 10 for v in range(V)])  # feature = image + view/10
    X, _ = stack_views(Xv)
    train, val = validation_rows(len(X), 0.2, image_groups(n, V))
    assert (train, val) == (slice(0, 24), slice(24, 30))
    assert sorted(np.floor(X[val, 0]).astype(int).tolist()) == [8, 8, 8, 9, 9, 9]
    # Groups need not be contiguous (view-major rows): the last groups by first row, all their rows, as indices.
    train, val = validation_rows(n * V, 0.2, np.tile(np.arange(n), V))
    assert val.tolist() == [8, 9, 18, 19, 28, 29] and len(train) == 24
    # Without groups: Keras's own rows, floor(n_rows * 0.8) kept; too few rows or groups to split is a ValueError.
    assert validation_rows(22, 0.2) == (slice(0, 17), slice(17, 22))
    assert validation_rows(4, 0.2, [0, 0, 1, 1]) == (slice(0, 2), slice(2, 4))
    with pytest.raises(ValueError, match="1 groups"):
        validation_rows(4, 0.2, [0, 0, 0, 0])
    with pytest.raises(ValueError, match="1 samples"):
        validation_rows(1, 0.2)


def test_the_keras_head_never_puts_an_images_views_on_both_sides_of_its_validation_split(monkeypatch):
    # 11 images x 2 views = 22 rows: Keras's validation_split=0.2 cuts at row floor(22 * 0.8) = 17, inside image 8
    # (its orig trained on, its flip validated on: a leak into early stopping's val_loss). fit_views passes the
    # image of each row; the head must hold out the last images, both views of each, and train on every other row.
    import keras
    from keras.src.trainers.data_adapters.array_slicing import train_validation_split

    from featcache.deploy.finetune import training_rows
    from featcache.heads import DenseHead
    from featcache.heads.views import fit_views

    V, n = 2, 11
    assert int(np.floor(V * n * 0.8)) % V  # the premise: Keras's row cut falls inside an image
    Xv = np.stack([np.arange(n, dtype=np.float32)[:, None] + v / 10 + np.zeros((n, 3), np.float32) for v in range(V)])
    y = np.arange(n) % 2
    seen = {}
    fit = keras.Model.fit

    def spy(self, x=None, y=None, **kw):  # the rows Keras trains and validates on, however they reach it
        if kw.get("validation_split") and kw.get("validation_data") is None:
            (tx, ty, _), (vx, vy, _) = train_validation_split((x, y, None), kw["validation_split"])
        else:
            (tx, ty), (vx, vy) = (x, y), kw["validation_data"]
        seen.update(train=(np.asarray(tx), np.asarray(ty)), val=(np.asarray(vx), np.asarray(vy)))
        return fit(self, x, y, **kw)

    monkeypatch.setattr(keras.Model, "fit", spy)
    fit_views(DenseHead(epochs=2, n_classes=2), Xv, y)
    trained = np.floor(seen["train"][0][:, 0]).astype(int)
    validated = np.floor(seen["val"][0][:, 0]).astype(int)
    assert not set(trained) & set(validated)
    assert sorted(trained.tolist()) == sorted(list(range(8)) * V) and sorted(validated.tolist()) == [8, 8, 9, 9, 10, 10]
    assert np.array_equal(seen["train"][1], np.repeat(y, V)[:16]) and np.array_equal(seen["val"][1], np.repeat(y, V)[16:])
    # Fine-tuning validates on the same images (one row each) as the head's early stopping did.
    assert training_rows({}, y, 0.2)[1].tolist() == sorted(set(validated.tolist()))
    with pytest.raises(FeatcacheError, match="^1 training images cannot be split"):
        training_rows({}, y[:1], 0.2)


def test_averaging_probabilities_changes_the_answer_the_original_view_gives():
    # One image, three views. Original: class 0 (0.6). Mean of the three: class 1.
    Xv = np.array([[[0.6, 0.4]], [[0.1, 0.9]], [[0.45, 0.55]]])
    head = ProbaStub(classes=(3, 7))
    assert predict_views(head, Xv[:1]).tolist() == [3]
    assert predict_views(head, Xv).tolist() == [7]
    assert view_scores(head, Xv).shape == (3, 1, 2)


def test_the_mean_of_probabilities_is_not_a_majority_vote_of_views():
    # Two views lean weakly to class 1, one is sure of class 0: a vote says 1, the mean (0.63, 0.37) says 0.
    Xv = np.array([[[0.45, 0.55]], [[0.45, 0.55]], [[0.99, 0.01]]])
    assert predict_views(ProbaStub(), Xv).tolist() == [0]


def test_two_class_decision_values_average_to_the_sign_of_their_mean():
    head = DecisionStub(classes=(0, 1))
    # Image 0: orig +0.5 (class 1), flip -2.0 -> mean -0.75: class 0. Image 1: +1, -0.5 -> +0.25: class 1.
    Xv = np.array([[[0.5], [1.0]], [[-2.0], [-0.5]]])
    assert averaged_quantity(head) == DECISION_VALUES
    assert predict_views(head, Xv[:1]).tolist() == [1, 1]
    assert predict_views(head, Xv).tolist() == [0, 1]
    assert np.allclose(view_scores(head, Xv)[1, 0], [2.0, -2.0])  # d as [-d, d]


def test_one_vs_rest_decision_values_are_averaged_per_class():
    head = DecisionStub(classes=(0, 1, 2))
    Xv = np.array([[[1.0, 0.9, -1.0]], [[-1.0, 0.8, 0.0]]])  # orig says class 0; the mean (0, 0.85, -0.5) says 1
    assert predict_views(head, Xv[:1]).tolist() == [0]
    assert predict_views(head, Xv).tolist() == [1]
    pred, mean = predict_and_scores(head, Xv)
    assert pred.tolist() == [1] and np.allclose(mean, [[0.0, 0.85, -0.5]])


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    X = rng.normal(size=(60, 5)) + y[:, None]
    # A second "view": the same images, noisier, so the averages differ from either view alone.
    Xv = np.stack([X, X + rng.normal(scale=1.5, size=X.shape)]).astype(np.float32)
    return Xv, y


def test_real_heads_average_what_they_say_they_average(blobs):
    Xv, y = blobs
    X, yy = stack_views(Xv, y)
    logreg = LogRegHead().fit(X, yy)
    svm = SVMHead(probability=False).fit(X, yy)
    assert averaged_quantity(logreg) == PROBABILITIES and averaged_quantity(svm) == DECISION_VALUES
    by_hand = logreg.classes_[np.argmax((logreg.predict_proba(Xv[0]) + logreg.predict_proba(Xv[1])) / 2, axis=1)]
    assert np.array_equal(predict_views(logreg, Xv), by_hand)
    by_hand = svm.classes_[np.argmax((svm.decision_function(Xv[0]) + svm.decision_function(Xv[1])) / 2, axis=1)]
    assert np.array_equal(predict_views(svm, Xv), by_hand)
    # One view: the head's own predict, exactly.
    assert np.array_equal(predict_views(svm, Xv[:1]), svm.predict(Xv[0]))
    assert score_views(logreg, Xv[:1], y) == pytest.approx(logreg.score(Xv[0], y))


def test_two_class_svm_without_probabilities(blobs):
    Xv, y = blobs
    keep = y < 2
    Xv, y = Xv[:, keep], y[keep]
    svm = SVMHead(probability=False).fit(*stack_views(Xv, y))
    d = svm.decision_function(Xv.reshape(-1, Xv.shape[2])).reshape(2, -1)
    assert np.array_equal(predict_views(svm, Xv), svm.classes_[(d.mean(axis=0) > 0).astype(int)])


def fake_cache(*views):
    """A cache's view list and path, with the Cache's own view check (the one home of it)."""
    from featcache.store import Cache

    ns = SimpleNamespace(views=views, path="c.h5")
    ns.resolve_views = lambda asked, flag=None, one=False: Cache.resolve_views(ns, asked, flag, one)
    return ns


def test_check_views_in_the_caches_order_all_and_default():
    cache = fake_cache("orig", "flip", "shift:+2,+2", "shift:-2,-2")
    assert check_views(cache, None, "--x") == cache.views
    assert check_views(cache, "all", "--x") == cache.views
    assert check_views(cache, "orig", "--x") == ("orig",)
    assert check_views(cache, "shift:-2,-2,flip", "--x") == ("orig", "flip", "shift:-2,-2")  # canonical: the cache's order
    assert check_views(cache, ["flip"], "--x") == ("orig", "flip")


def test_check_views_names_the_caches_views_when_one_is_missing():
    with pytest.raises(FeatcacheError, match=r"^test_views asks for views shift:\+2,\+2, shift:\+2,-2, shift:-2,\+2, "
                       r"shift:-2,-2, which c.h5 does not hold \(it has orig, flip\).*ModelSpec\(views='orig,flip,shift"):
        check_views(fake_cache("orig", "flip"), "shift", "--test-views")
    with pytest.raises(FeatcacheError, match="unknown view 'zoom'"):
        check_views(fake_cache("orig"), "zoom", "--train-views")
    with pytest.raises(FeatcacheError, match=r"^train_views names no view of c.h5; name one of its views: orig, flip$"):
        check_views(fake_cache("orig", "flip"), [], "--train-views")


def test_cross_validation_inside_heads_keeps_an_images_views_on_one_side(blobs):
    from featcache.heads.views import fit_views, image_groups, stratified_folds

    Xv, y = blobs
    groups = image_groups(len(y), 2)
    assert groups[:4].tolist() == [0, 0, 1, 1]  # the image of each stack_views row
    for train, test in stratified_folds(np.repeat(y, 2), 3, 0, groups):
        assert not set(groups[train]) & set(groups[test])
    # The SVM's probability calibration folds, as fitted through fit_views: never an image on both sides.
    svm = fit_views(SVMHead(), Xv, y)
    splits = svm.pipeline_[-1].cv
    assert len(splits) == 3 and all(not set(groups[a]) & set(groups[b]) for a, b in splits)
    # Logistic regression's C="cv" gets the groups too (and without views, today's folds).
    seen = {}

    class Spy(LogRegHead):
        def fit(self, X, y, groups=None):
            seen["groups"] = groups
            return super().fit(X, y, groups)

    fit_views(Spy(C="cv"), Xv, y)
    assert np.array_equal(seen["groups"], groups)
    fit_views(Spy(C="cv"), Xv[:1], y)
    assert seen["groups"] is None


@pytest.mark.parametrize("n_classes", [2, 3, 5])
@pytest.mark.parametrize("probability", [True, False])
def test_the_svm_reads_its_own_predict_off_the_scores_it_averages(blobs, n_classes, probability):
    """train and evaluate score the original view alone besides the views averaged; the SVM's second pass over it
    (a quarter of its scoring) is gone: its predict is read off the averaged pass's scores of that view
    (``SVMHead.predict_from_scores``). Without probabilities that is libsvm's one-vs-one vote, ties to the first
    class, not the argmax of the one-vs-rest values it averages (ties broken by confidences): rows with tied votes
    where the two disagree are among those checked."""
    from featcache.heads.views import scored_views

    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(n_classes), 12)
    centres = rng.normal(scale=2.0, size=(n_classes, 5))
    X = (centres[y] + rng.normal(size=(len(y), 5))).astype(np.float32)
    svm = SVMHead(probability=probability, calibration_cv=2).fit(X, y)
    # rows between and beyond the classes, where one-vs-one votes tie
    rows = (rng.normal(size=(2000, 5)) + centres.mean(axis=0)).astype(np.float32)
    Xv = np.stack([rows, rows[::-1]])
    own = svm.predict(rows)
    scored = scored_views(svm, Xv)
    assert np.array_equal(scored.first, own)
    assert np.array_equal(svm.predict_from_scores(view_scores(svm, Xv[:1])[0]), own)
    assert np.array_equal(scored.predicted, predict_views(svm, Xv))
    if not probability and n_classes > 2:
        ovr = svm.decision_function(rows)
        tied = svm.classes_[np.argmax(ovr, axis=1)] != own
        assert tied.any()  # the premise: the one-vs-rest argmax is not libsvm's vote on these rows
        assert np.array_equal(svm.predict_from_scores(ovr)[tied], own[tied])


def test_heads_whose_scores_depend_on_the_batch_score_the_first_view_again(blobs):
    """Logistic regression's scores go through a matrix product whose rounding depends on the rows scored with them,
    so its first view's predict is not read off the averaged pass: ``scored_views`` gives none (a second pass)."""
    from featcache.heads.views import scored_views

    Xv, y = blobs
    logreg = LogRegHead().fit(*stack_views(Xv, y))
    assert scored_views(logreg, Xv).first is None
    assert np.array_equal(scored_views(logreg, Xv[:1]).first, logreg.predict(Xv[0]))  # one view: its own predict
