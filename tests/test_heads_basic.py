"""The estimator interface every head shares (details live in the heads' own tests)."""

import re

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from featcache.errors import FeatcacheError
from featcache.heads import HEADS, LogRegHead, SVMHead, make_head


def blobs(n=200, d=16, k=4, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, size=(k, d))
    y = np.arange(n) % k
    return (centers[y] + rng.normal(0, 1, size=(n, d))).astype(np.float32), y


# scikit-learn's own estimator checks (fit/predict contracts, input validation, NotFittedError,
# n_features_in_, label types, pickling, ...). The default logistic regression is fast (~8 s for
# 55 checks here); the SVM (its calibration folds) and the C="cv" searches take about a minute each.
@parametrize_with_checks([LogRegHead()])
def test_logreg_head_passes_scikit_learns_checks(estimator, check):
    check(estimator)


# DenseHead is left out: check_estimator took 500 s on it here (2 shared cores, epochs=3) and fails
# checks for reasons of its design (a 2-class head gives 2-column logits where scikit-learn expects a
# 1-d decision_function; Keras's batched float32 matmuls differ in the last bits when rows are
# reordered). Its contract is tested below and in tests/test_head_files.py.
@pytest.mark.slow
@parametrize_with_checks([SVMHead(), LogRegHead(C="cv"), SVMHead(C="cv", probability=False)])
def test_svm_and_cv_heads_pass_scikit_learns_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("name", sorted(HEADS))
def test_every_head_learns_separable_blobs(name):
    X, y = blobs()
    # A fixed 20 epochs: early stopping with the default patience and L2 would
    # run all 200 epochs on these 150 rows, a minute of Keras overhead.
    params = {"epochs": 20, "learning_rate": 0.01, "early_stopping": False} if name == "keras" else {}
    head = make_head(name, **params).fit(X[:150], y[:150])
    proba = head.predict_proba(X[150:])
    assert np.allclose(proba.sum(1), 1, atol=1e-5)
    assert head.score(X[150:], y[150:]) > 0.9  # chance is 0.25
    # Confident where it is right: the probability of the true class, not just the argmax.
    assert np.mean(proba[np.arange(50), y[150:]]) > 0.7


def test_unknown_head():
    with pytest.raises(FeatcacheError, match="unknown head 'forest'"):
        make_head("forest")


def test_logreg_warm_start_starts_from_the_previous_solution():
    from featcache.heads import LogRegHead

    X, y = blobs(n=400, d=32, k=4, seed=3)
    X += np.random.default_rng(1).normal(0, 4, size=X.shape).astype(np.float32)  # overlapping classes: lbfgs needs iterations
    cold = LogRegHead(C=1.0).fit(X, y)
    assert cold.n_iter_ > 10
    # A refit on the same rows starts at the optimum: no iterations.
    warm = LogRegHead(C=1.0, warm_start=True).fit(X, y)
    warm.fit(X, y)
    assert warm.n_iter_ == 0
    assert np.allclose(warm.predict_proba(X), cold.predict_proba(X), atol=1e-5)
    # The carried-over start is the last model's decision function on the raw
    # features, re-expressed in the new rows' standardization.
    from sklearn.preprocessing import StandardScaler

    small = LogRegHead(C=1.0, warm_start=True).fit(X[:200], y[:200])
    scaler = StandardScaler().fit(X)
    coef, intercept = small._previous_solution(scaler, np.unique(y))
    assert np.allclose(scaler.transform(X) @ coef.T + intercept, small.pipeline_.decision_function(X), atol=1e-3)
    # Nested subsets, as a learning curve fits them: fewer iterations, the same optimum.
    chain = LogRegHead(C=1.0, warm_start=True).fit(X[:200], y[:200]).fit(X, y)
    assert chain.n_iter_ < cold.n_iter_
    # Both stop at lbfgs's tolerance, from different sides: close, not equal.
    assert np.allclose(chain.predict_proba(X), cold.predict_proba(X), atol=1e-2)
    assert np.mean(chain.predict(X) == cold.predict(X)) >= 0.99
    # Without warm_start a refit ignores the last solution.
    again = LogRegHead(C=1.0).fit(X[:200], y[:200]).fit(X, y)
    assert again.n_iter_ == cold.n_iter_


@pytest.mark.slow
def test_dense_head_fits_do_not_depend_on_what_the_process_fitted_before():
    # The head keeps one compiled model per configuration and loads each fit's
    # seeded start into it: a fit must give the same weights as in a new process.
    from featcache.heads import DenseHead, dense

    X, y = blobs(n=300, d=16, k=4, seed=5)

    def weights(seed, n):
        head = DenseHead(epochs=3, early_stopping=False, n_classes=4, seed=seed).fit(X[:n], y[:n])
        return head.model_.get_weights(), head.history_

    dense._TRAINERS.clear()
    first = weights(1, 200)
    weights(2, 300)
    DenseHead(epochs=2, dropout=0.5, n_classes=4).fit(X, y)  # another configuration in between
    weights(3, 120)
    again = weights(1, 200)
    assert all(np.array_equal(a, b) for a, b in zip(first[0], again[0])) and first[1] == again[1]
    assert not np.array_equal(first[0][0], weights(2, 200)[0][0])  # the seed still matters
    # And the same as fitting a newly built and compiled model, as Keras users do.
    from featcache._lazy import keras

    k = keras()
    k.utils.set_random_seed(1)
    model = DenseHead(epochs=3, early_stopping=False, n_classes=4).build_model(16, 4)
    model.compile(optimizer=k.optimizers.Adam(learning_rate=1e-3), loss=k.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], steps_per_execution=dense.STEPS_PER_EXECUTION)
    model.fit(X[:200], y[:200], epochs=3, batch_size=64, validation_split=0.2, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(first[0], model.get_weights()))


def test_dense_head_without_groups_holds_out_and_fits_exactly_as_kerass_validation_split(monkeypatch):
    # The head now holds its validation rows out itself (so that groups, an image's views, stay whole); without
    # groups they must be Keras's validation_split rows, the last floor(n * 0.8) onwards, with bitwise the same
    # fit: early stopping on noise, so val_loss picks the restored epoch and any other rows would show.
    import keras

    from featcache._lazy import keras as lazy_keras
    from featcache.heads import DenseHead, dense

    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(203, 8)).astype(np.float32), rng.integers(0, 3, 203)
    seen = {}
    fit = keras.Model.fit

    def spy(self, x=None, y=None, **kw):
        if kw.get("validation_data") is not None:
            seen["train"], seen["val"] = np.asarray(x), np.asarray(kw["validation_data"][0])
        return fit(self, x, y, **kw)

    monkeypatch.setattr(keras.Model, "fit", spy)
    # learning rate 0.05 (was 0.01): val_loss bottoms out at epoch 4 and the fit stops at 7, where it ran 31 epochs
    head = DenseHead(epochs=40, patience=3, learning_rate=0.05, n_classes=3, seed=2).fit(X, y)
    monkeypatch.undo()
    assert np.array_equal(seen["train"], X[:162]) and np.array_equal(seen["val"], X[162:])  # floor(203 * 0.8) = 162
    assert head.epochs_run_ < 40  # early stopping chose an epoch by val_loss

    # The head's fit as it was: Keras's fit(validation_split=...) on a newly compiled model, as Keras users do.
    k = lazy_keras()
    k.utils.set_random_seed(2)
    model = DenseHead(l2=1e-2).build_model(8, 3)
    model.compile(optimizer=k.optimizers.Adam(learning_rate=0.05), loss=k.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], steps_per_execution=dense.STEPS_PER_EXECUTION)
    hist = model.fit(X, y, epochs=40, batch_size=64, validation_split=0.2, verbose=0,
                     callbacks=[k.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)])
    assert head.history_ == {key: [float(v) for v in vals] for key, vals in hist.history.items()}
    assert all(np.array_equal(a, b) for a, b in zip(head.model_.get_weights(), model.get_weights(), strict=True))


def test_dense_head_standardize_folds_into_one_dense_layer_and_round_trips(tmp_path):
    from featcache.heads import DenseHead
    from featcache.heads.io import load_head, save_head

    X, y = blobs(n=300, d=16, k=4, seed=7)
    X = X * np.linspace(0.01, 100, 16, dtype=np.float32) + 50  # features on very different scales
    X[:, 3] = 2.0  # a constant feature stays finite
    # 10 epochs (was 20) score 0.98-1.0 on the held-out rows: the claim is the folding, the bar 0.9 that it learned
    head = DenseHead(epochs=10, early_stopping=False, learning_rate=0.01, n_classes=4, standardize=True).fit(X[:200], y[:200])
    assert np.allclose(head.mean_, X[:200].mean(0), rtol=1e-5) and head.scale_[3] == 1.0
    assert head.score(X[200:], y[200:]) > 0.9
    kernel, bias = head.logits_weights()  # what export and finetune put in the end-to-end model
    np.testing.assert_allclose(X[200:] @ kernel + bias, head.decision_function(X[200:]), rtol=1e-4, atol=1e-3)
    path = save_head(head, tmp_path / "h.keras", {"class_names": list("abcd"), "layer": "out", "cache_fingerprint": "f" * 64})
    loaded, _ = load_head(path)
    assert loaded.standardize and np.array_equal(loaded.mean_, head.mean_) and np.array_equal(loaded.scale_, head.scale_)
    np.testing.assert_array_equal(loaded.decision_function(X[200:]), head.decision_function(X[200:]))
    # Without it the head sees the raw scales, and logits_weights is the Dense layer as trained.
    plain = DenseHead(epochs=2, early_stopping=False, n_classes=4).fit(X[:200], y[:200])
    assert all(np.array_equal(a, b) for a, b in zip(plain.logits_weights(), plain.model_.get_layer("head_logits").get_weights()))


# Bad parameters: one line naming the parameter, from the heads' own check (fit, make_head, a curve's spec).
BAD_PARAMS = [
    ("keras", {"epochs": 0}, "DenseHead epochs 0"), ("keras", {"epochs": -1}, "DenseHead epochs -1"),
    ("keras", {"batch_size": 0}, "DenseHead batch_size 0"), ("keras", {"patience": -1}, "DenseHead patience -1"),
    ("keras", {"validation_split": 1.0}, "DenseHead validation_split 1.0"), ("keras", {"dropout": 1.5}, "DenseHead dropout 1.5"),
    ("keras", {"learning_rate": 0}, "DenseHead learning_rate 0"), ("keras", {"epochs": "5"}, "DenseHead epochs '5'"),
    ("keras", {"n_classes": 1}, "DenseHead n_classes 1"), ("keras", {"standardize": "no"}, "DenseHead standardize must be True or False"),
    ("logreg", {"C": -1}, "LogRegHead C -1 is not a positive number or 'cv'"), ("logreg", {"max_iter": 0}, "LogRegHead max_iter 0"),
    ("logreg", {"cv_folds": 1}, "LogRegHead cv_folds 1"), ("svm", {"C": 0}, "SVMHead C 0 is not a positive number"),
    ("svm", {"gamma": -1.0}, "SVMHead gamma -1.0"), ("svm", {"calibration_cv": 1}, "SVMHead calibration_cv 1"),
]


@pytest.mark.parametrize("name, params, message", BAD_PARAMS, ids=[f"{n}-{next(iter(p))}={next(iter(p.values()))!r}" for n, p, _ in BAD_PARAMS])
def test_bad_head_parameters_are_refused_in_one_line_before_any_fit(name, params, message):
    with pytest.raises(FeatcacheError, match=re.escape(message)) as err:
        make_head(name, **params)
    assert "\n" not in str(err.value)
    head = HEADS[name](**params)  # scikit-learn's habit: stored as given, checked in fit
    X, y = blobs(n=40, d=4)
    with pytest.raises(FeatcacheError, match=re.escape(message)):
        head.fit(X, y)
    assert not hasattr(head, "classes_")  # nothing fitted


def test_scratch_cnn_refuses_zero_epochs_and_images_too_small_for_it():
    from featcache.heads.scratch import ScratchCNN

    images, y = np.zeros((8, 28, 28), np.uint8), np.arange(8) % 2
    with pytest.raises(FeatcacheError, match="ScratchCNN epochs 0 is not valid; use a whole number >= 1"):
        ScratchCNN(epochs=0).fit(images, y)
    with pytest.raises(FeatcacheError, match="ScratchCNN filters entry 0"):
        ScratchCNN(filters=(32, 0)).fit(images, y)
    with pytest.raises(FeatcacheError, match="cannot fit images of 8x8 px"):
        ScratchCNN(epochs=1).fit(np.zeros((8, 8, 8), np.uint8), y)


def test_dense_head_validation_split_leaving_no_rows_is_one_line():
    from featcache.heads import DenseHead

    X, y = blobs(n=4, d=4, k=2)
    with pytest.raises(FeatcacheError, match="validation_split 0.9 of 4 rows leaves none to train on or none to validate on"):
        DenseHead(epochs=1, validation_split=0.9).fit(X, y)


def test_dense_head_labels_are_scikit_learns_classes_and_n_classes_keeps_every_class():
    """Without n_classes, classes_ are the sorted distinct labels and predict returns them (strings, negatives and
    sparse integers gave Keras or NumPy tracebacks, or 67 outputs for 4 classes); with n_classes (featcache's own
    callers) a class absent from the rows keeps its output, with the same weights as before."""
    from featcache.heads import DenseHead

    X, y = blobs(n=120, d=8, k=4, seed=2)
    # 1 epoch (was 3): the weights are compared bit for bit, equal after one epoch as after three
    fit = lambda labels, **kw: DenseHead(epochs=1, early_stopping=False, **kw).fit(X, labels)  # noqa: E731
    base = fit(y)
    for labels in (np.array(["ankle", "bag", "coat", "dress"])[y], y - 1, np.array([3, 10, 20, 66])[y]):
        head = fit(labels)
        np.testing.assert_array_equal(head.classes_, np.unique(labels))
        assert head.model_.output_shape == (None, 4)
        # the same network as on 0..3: the labels are only renamed
        assert all(np.array_equal(a, b) for a, b in zip(head.model_.get_weights(), base.model_.get_weights(), strict=True))
        np.testing.assert_array_equal(head.predict(X), head.classes_[base.predict(X)])
    # n_classes=4 on labels 0..3: what train and curve fit, bit for bit as without it
    same = fit(y, n_classes=4)
    assert all(np.array_equal(a, b) for a, b in zip(same.model_.get_weights(), base.model_.get_weights(), strict=True))
    # a subset without class 2 still has its output with n_classes
    rows = y != 2
    sub = DenseHead(epochs=1, early_stopping=False, n_classes=4).fit(X[rows], y[rows])
    assert list(sub.classes_) == [0, 1, 2, 3] and sub.model_.output_shape == (None, 4)
    for labels, kw, message in [
        (y - 1, {"n_classes": 4}, r"DenseHead\(n_classes=4\) takes labels that are class indices 0..3, got -1"),
        (y + 1, {"n_classes": 4}, r"class indices 0..3, got 4"),
        (np.array(list("abcd"))[y], {"n_classes": 4}, r"class indices 0..3, got 'a'"),
        (np.zeros_like(y), {}, r"DenseHead needs training labels of at least 2 classes, got only 0"),
    ]:
        with pytest.raises(FeatcacheError, match=message):
            DenseHead(epochs=1, **kw).fit(X, labels)


def test_the_keras_heads_fit_refuses_a_diverged_head_and_a_validation_cut_missing_classes():
    """probe and curve scored a Keras head whose weights were not numbers (learning_rate=1e38: 0.09, "best layer")
    and one trained on 3 rows of 3 classes (validation_split=0.999) as accuracies; train refused both before its own
    fit or its save (an adversarial tester). The head's fit refuses them, wherever it is fitted."""
    from featcache.errors import FeatcacheError
    from featcache.heads import DenseHead

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 8)).astype(np.float32), np.arange(200) % 4
    with pytest.raises(FeatcacheError, match=r"training diverged .*; lower learning_rate \(1e38\) or l2"):
        DenseHead(epochs=2, learning_rate=1e38, early_stopping=False, n_classes=4).fit(X, y)
    with pytest.raises(FeatcacheError, match=r"holds out its last 99% of the 200 training rows .* on 2, fewer than the 4 classes"):
        DenseHead(epochs=1, validation_split=0.99, n_classes=4).fit(X, y)
    # a cut that holds out a class wholly, as a shuffled order's may (class 3's one image among the last 3 of 10: 3 in
    # 10 orders): still a fit of the recipe asked for (a curve's smallest subsets)
    y10 = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 3])
    head = DenseHead(epochs=1, validation_split=0.3, n_classes=4).fit(X[:10], y10)
    assert head.epochs_run_ == 1 and head.validation_rows_ == "last"


def test_early_stopping_without_validation_rows_is_refused():
    """--param validation_split=0 with the default preset's early stopping trained every epoch and recorded
    early_stopping True (an adversarial tester): one line naming both ways out."""
    from featcache.errors import FeatcacheError
    from featcache.heads import DenseHead

    with pytest.raises(FeatcacheError, match="early_stopping watches the validation rows, and validation_split 0 holds none"):
        DenseHead(validation_split=0).check_params()
    DenseHead(validation_split=0, early_stopping=False).check_params()


@pytest.mark.parametrize("head, params, unused", [
    ("logreg", {"C": 0.03}, ["cv_folds", "n_jobs", "seed"]),
    ("logreg", {"C": "cv"}, []),
    ("svm", {"C": 10.0}, ["cv_folds"]),  # the calibration's folds use the seed and n_jobs
    ("svm", {"C": 10.0, "probability": False}, ["calibration_cv", "cv_folds", "n_jobs", "seed"]),
    ("svm", {"C": "cv", "probability": False}, ["calibration_cv"]),
    ("keras", {}, []),  # a head without the method: nothing said
])
def test_info_names_the_parameters_a_fit_does_not_read(head, params, unused):
    """info listed cv_folds 5 of a head fitted with C 0.03 as if it mattered (a new-user tester; a review: n_jobs)."""
    from featcache.heads import HEADS, unused_params

    full = {**HEADS[head]().get_params(), **params}
    assert unused_params(head, full) == unused


def test_a_bad_param_value_and_its_example_are_written_as_param_takes_them():
    """Regression (a tester): curve --param logreg.C=abc said "e.g. LogRegHead C 0.03 or LogRegHead C cv", parse_C's
    example in the class's words, after a first half in the user's; the example is now a --param that works."""
    from featcache.heads import check_param_values

    with pytest.raises(FeatcacheError) as err:
        check_param_values("logreg", {"C": "abc"}, "--param logreg.")
    assert str(err.value) == "--param logreg.C=abc is not a positive number or 'cv'; e.g. --param logreg.C=0.03 or --param logreg.C=cv"
    with pytest.raises(FeatcacheError) as err:
        check_param_values("svm", {"C": 0})
    assert str(err.value) == "--param C=0 is not a positive number or 'cv'; e.g. --param C=0.03 or --param C=cv"
    with pytest.raises(FeatcacheError, match=r"^--param max_iter=0 is not valid; use a whole number >= 1, e\.g\. 2000$"):
        check_param_values("logreg", {"max_iter": 0})
    with pytest.raises(FeatcacheError) as err:  # the value quoted as given, though it holds the class's words (a review)
        check_param_values("logreg", {"C": "LogRegHead C 5"}, "--param logreg.")
    assert str(err.value).startswith("--param logreg.C=LogRegHead C 5 is not a positive number"), err.value
    # a head made in Python names its class, its example a call of it (check_params's default label; it said "e.g.
    # LogRegHead C 0.03 or LogRegHead C cv", words of no call: an API tester)
    from featcache.heads import LogRegHead

    with pytest.raises(FeatcacheError, match=r"^LogRegHead max_iter 0 is not valid; use a whole number >= 1, e\.g\. 2000$"):
        LogRegHead(max_iter=0).check_params()
    with pytest.raises(FeatcacheError) as err:
        LogRegHead(C="abc").fit(np.zeros((4, 2)), [0, 1, 0, 1])
    assert str(err.value) == ("LogRegHead C 'abc' is not a positive number or 'cv'; e.g. LogRegHead(C=0.03) or "
                              "LogRegHead(C='cv')")


def test_a_param_checked_alone_leaves_a_pair_to_the_preset_it_is_merged_with():
    """Regression (a tester): curve --param keras.validation_split=0 (curve's preset is the lesson's, without early
    stopping) and train --preset lesson --param validation_split=0 were refused, "early_stopping watches the
    validation rows", the class default's complaint. The merged head checks the pair."""
    from featcache.heads import check_param_values
    from featcache.heads.dense import DenseHead

    check_param_values("keras", {"validation_split": 0})
    DenseHead.from_preset("lesson", validation_split=0).check_params()
    with pytest.raises(FeatcacheError, match="early_stopping watches the validation rows"):
        DenseHead.from_preset("default", validation_split=0).check_params()


def test_a_bad_param_after_a_pair_complaint_is_still_said_in_params_words(cli_words):
    """Regression (a review): check_params stops at its first complaint, so with --param validation_split=0 (a pair's
    complaint against DenseHead's default early_stopping, left to the caller) a bad patience was never checked here;
    train --preset lesson and curve then said "DenseHead patience -1", a class name the CLI user never wrote."""
    from featcache.analysis.train import build_head
    from featcache.heads import check_param_values

    with pytest.raises(FeatcacheError) as err:
        check_param_values("keras", {"validation_split": 0, "patience": -1}, "--param keras.")
    assert str(err.value) == "--param keras.patience=-1 is not valid; use a whole number >= 0, e.g. 10"
    with pytest.raises(FeatcacheError, match=r"^--param patience=-1 is not valid"):
        build_head("keras", preset="lesson", params={"validation_split": 0, "patience": -1}, n_classes=3)
    check_param_values("keras", {"validation_split": 0, "patience": 3})  # the pair alone is still the caller's
