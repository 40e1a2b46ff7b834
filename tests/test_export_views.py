"""Export with the views inside the graph (docs/views.md 3.6, option 2): ViewStack equals the numpy views,
and an exported views model averages the probabilities heads.views averages on cached features."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from helpers import extract

from featcache.embedding.views import View, apply_all, parse_views
from featcache.errors import FeatcacheError


def _stack(names, batch):
    from featcache.embedding.preprocess import ViewStack

    return np.asarray(ViewStack(names)(batch))


@pytest.mark.parametrize("shape", [(3, 28, 28), (2, 11, 7, 3), (2, 9, 9, 1)])
def test_viewstack_equals_the_numpy_views(shape):
    """Flip and shifts exactly; crops (a float resize, then rounded) within one grey level; view-major order."""
    batch = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    views = parse_views("orig,flip,shift,shift:+3,-1,crop")
    assert {type(v) for v in views} == set(View.__subclasses__())  # every kind of view: each keeps apply and graph together
    got, want = _stack([v.name for v in views], batch), apply_all(views, batch).astype(np.float32)
    assert got.shape == want.shape and got.dtype == np.float32
    n = shape[0]
    for i, v in enumerate(views):
        diff = np.abs(got[i * n:(i + 1) * n] - want[i * n:(i + 1) * n])
        if v.kind == "crop":
            assert diff.max() <= 1, v.name
        else:
            assert diff.max() == 0, v.name


def test_viewstack_in_a_model_of_any_image_size_and_batches():
    """In a saved model taking (None, None, None) uint8 images, batch by batch: each batch's views, view-major,
    and ViewMean averages each image's views back to one row."""
    import keras

    from featcache.embedding.preprocess import ViewMean, ViewStack

    names = ["orig", "flip", "shift:-2,+2", "crop:br"]
    images = keras.Input(shape=(None, None, None), dtype="uint8")
    stacked = ViewStack(names)(images)
    model = keras.Model(images, [stacked, ViewMean(len(names))(keras.ops.reshape(stacked, (-1, 5 * 4)))])
    clone = keras.Model.from_config(model.get_config())
    batch = np.random.default_rng(1).integers(0, 256, size=(2, 5, 4, 1), dtype=np.uint8)
    views = apply_all(parse_views(names), batch).astype(np.float32)
    got, mean = clone.predict(batch, batch_size=2, verbose=0)
    assert np.abs(got - views).max() <= 1 and np.abs(got - views)[: 3 * 2].max() == 0
    np.testing.assert_allclose(mean, got.reshape(4, 2, -1).mean(axis=0), atol=1e-6)
    # traced with no size known, as predict runs a model (deploy.model.ModelRunner): a crop view's resize tested its
    # size with Python's bool and every predict of such a model was an OperatorNotAllowedInGraphError (a new user)
    import tensorflow as tf

    traced = tf.function(lambda x: clone(x), input_signature=[tf.TensorSpec([None, None, None, None], tf.uint8)])
    np.testing.assert_array_equal(traced(batch)[0].numpy(), got)


def test_graph_views_refuses_the_svm_and_views_the_head_never_saw():
    from featcache.deploy.export import graph_views
    from featcache.heads import LogRegHead, SVMHead

    meta = {"head": "logreg", "train_views": ["orig", "flip", "shift:+2,+2"], "test_views": ["orig", "flip"]}
    assert graph_views(LogRegHead(), meta, None) == ("orig",) and graph_views(LogRegHead(), meta, "orig") == ("orig",)
    assert graph_views(LogRegHead(), meta, "all") == ("orig", "flip")
    assert graph_views(LogRegHead(), meta, "shift:+2,+2") == ("orig", "shift:+2,+2")
    with pytest.raises(FeatcacheError, match=r"^views='crop:c': the head was fitted on views orig, flip, shift:\+2,\+2 and "
                                             r"averaged orig, flip at test; pass views among those, or views='all'"):
        graph_views(LogRegHead(), meta, "crop:c")
    # fitted on orig alone, scored with flip averaged: 'all' is orig,flip, and so may the names be (an adversarial
    # tester: --views orig,flip was refused where --views all gave it)
    averaged = {"head": "logreg", "train_views": ["orig"], "test_views": ["orig", "flip"]}
    assert graph_views(LogRegHead(), averaged, "all") == graph_views(LogRegHead(), averaged, "orig,flip") == ("orig", "flip")
    # the SVM exports with its views too (deploy.svmgraph); it was "the SVM does not export"
    assert graph_views(SVMHead(), {**meta, "head": "svm"}, "all") == ("orig", "flip")
    assert graph_views(SVMHead(), {**meta, "head": "svm"}, "orig") == ("orig",)


def test_graph_views_read_only_views_as_the_heads_options_do():
    """Regression (a review): a head fitted and scored on only:flip (no original view) exported with --views all
    alone; only:VIEWS took extract's reading ("a cache always holds the original view") and flip was refused for
    "--views orig". The views come back in one order whatever order they were named in (validate.pick_views)."""
    from featcache.deploy.export import graph_views
    from featcache.heads import LogRegHead

    only = {"head": "logreg", "train_views": ["flip"], "test_views": ["flip"]}
    assert graph_views(LogRegHead(), only, "only:flip") == graph_views(LogRegHead(), only, "only:all") == ("flip",)
    assert graph_views(LogRegHead(), only, ["only:flip"]) == graph_views(LogRegHead(), only, "all") == ("flip",)
    with pytest.raises(FeatcacheError, match=r"^views='flip' includes the original view .*pass views='only:flip' "):
        graph_views(LogRegHead(), only, "flip")
    meta = {"head": "logreg", "train_views": ["orig", "flip", "shift:+2,+2"], "test_views": ["orig", "flip"]}
    assert graph_views(LogRegHead(), meta, "only:shift:+2,+2,flip") == ("flip", "shift:+2,+2")
    assert graph_views(LogRegHead(), meta, "shift:+2,+2,flip") == ("orig", "flip", "shift:+2,+2")
    assert graph_views(LogRegHead(), meta, "only:all") == ("flip",)  # the views it averaged, without the original
    with pytest.raises(FeatcacheError, match=r"^views='only:orig,flip' names orig, and only: leaves"):
        graph_views(LogRegHead(), meta, "only:orig,flip")


@pytest.mark.slow
def test_exported_views_model_averages_like_the_heads_on_cached_views(real_weights, real_fashion_dir, tmp_path, capsys):
    """64 real images, 3 views: the exported model's probabilities on the raw images equal heads.views' average of
    predict_proba on the cached views (1e-4); predict runs the model unchanged; an SVM head's too."""
    import featcache
    from featcache.cli import main
    from featcache.deploy.model import load_model, read_meta
    from featcache.deploy.predict import predict
    from featcache.heads.views import mean_scores
    from featcache.sources import open_source

    names = ("orig", "flip", "shift:+2,+2")
    res = extract(data_dir=str(real_fashion_dir), train_limit=64, test_limit=64, weights=str(real_weights), views=",".join(names),
                  out=tmp_path / "v.h5")
    cache = featcache.open_cache(res.path)
    head = featcache.train(cache, "logreg", out=tmp_path / "h.npz")
    assert main(["export", str(head.path), "--views", "all", "--out", str(tmp_path / "m.keras")]) == 0
    said = capsys.readouterr().out  # and what to expect of it, as the orig-only note says (a new user)
    assert "averages the probabilities of 3 views" in said
    assert f"the head scored {head.accuracy:.4f} on its test split with these views averaged" in said
    assert main(["export", str(head.path), "--views", "all", "--out", str(tmp_path / "m.keras"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)  # a rerun: replaced, said in --json too
    assert doc["replaced"] is True and doc["views_test_accuracy"] == head.accuracy
    api = featcache.export(head.path, tmp_path / "m.keras", views="all")  # the API's result is the CLI's document
    assert json.loads(json.dumps(api.to_dict())) == doc and api.note == doc["note"]
    assert os.fspath(api) == str(api) == doc["path"]  # it goes where the model's path went
    meta = read_meta(tmp_path / "m.keras")
    assert meta["views"] == list(names) and meta["averaged"] == "probabilities"
    assert meta["views_test_accuracy"] == head.accuracy
    loaded = load_model(tmp_path / "m.keras")
    model = loaded[0]
    raw = open_source({"kind": "fashion_mnist", "data_dir": str(real_fashion_dir), "test_limit": 64}).splits["test"].read(0, 64)
    probs = model.predict(raw[..., None], batch_size=16, verbose=0)
    want = mean_scores(head.estimator, cache.view_features("test", None, names))
    np.testing.assert_allclose(probs, want, atol=1e-4)
    np.save(tmp_path / "x.npy", raw)
    # predict of the model file's bytes as loaded above (it runs their network, LoadedModel.lend): not a second Keras
    # load and check of the same file (3-4 s here)
    preds = predict(loaded, [tmp_path / "x.npy"], top_k=1)
    assert [p.top[0][0] for p in preds] == [cache.class_names[i] for i in np.argmax(want, axis=1)]

    # an SVM head (calibrated) exports with its views too: the mean of its probabilities over them (it was refused)
    svm = featcache.train(cache, "svm", out=tmp_path / "s.npz")
    assert main(["export", str(svm.path), "--views", "all", "--out", str(tmp_path / "s.keras")]) == 0
    model, _ = load_model(tmp_path / "s.keras")
    want = mean_scores(svm.estimator, cache.view_features("test", None, names))
    np.testing.assert_allclose(model.predict(raw[..., None], batch_size=16, verbose=0), want, atol=1e-4)


def test_a_fashion_mnist_model_classifies_a_png_as_the_array_of_the_same_pixels(tmp_path):
    """Regression (an adversarial tester): predict decoded every image file at the model's size, so a Fashion-MNIST
    model (whose graph resizes the 28-px images, and takes its views of them before that) averaged a 2-px shift of
    the 96-px image instead: probabilities off by up to 0.37, 16 of 200 top classes, against the .npy of the same
    images, which matched the head's averages on the cached views. Files of an array source's model are read at
    their own size now; the orig-only model too (its PNGs were resized by Pillow, its cache by TensorFlow)."""
    from PIL import Image
    from helpers import tiny_fashion_cache

    import featcache
    from featcache.sources.fashion_mnist import FashionMNIST

    cache = tiny_fashion_cache(tmp_path, n_train=60, n_test=12, out="v.h5", views="shift:+2,+2,shift:-2,-2")
    head = featcache.train(cache, "logreg", out=tmp_path / "h.npz").path
    images = FashionMNIST(data_dir=str(tmp_path / "fm")).open(32).splits["test"].read(0, 12)
    np.save(tmp_path / "t.npy", images)
    files = []
    for i, im in enumerate(images):
        Image.fromarray(im).save(tmp_path / f"{i:03d}.png")
        files.append(tmp_path / f"{i:03d}.png")
    big = tmp_path / "big.png"  # another size in the same call: a batch of its own
    Image.fromarray(np.kron(images[0], np.ones((2, 2), np.uint8))).save(big)
    for views in ("all", "orig"):
        # loaded once for both predicts (their reads of files and arrays are what is compared): a Keras load and check
        # of the same file for each was 1-3 s here
        model = featcache.load_model(featcache.export(head, tmp_path / f"m_{views}.keras", views=views).path)
        by_array = featcache.predict(model, [tmp_path / "t.npy"], top_k=3)
        by_file = featcache.predict(model, [*files[:6], big, *files[6:]], top_k=3, batch_size=4)
        got = [p for p in by_file if p.input != str(big)]
        for f, a in zip(got, by_array, strict=True):
            assert [c for c, _ in f.top] == [c for c, _ in a.top], views
            # 1e-4: batches of 4 against one of 12 differ in float32's last bits, by how TensorFlow splits the work
            # (AMD EPYC Zen 3, 2026-12-07: 1.07e-6 on a 0.32 in the whole suite; 1.24e-5 on a 0.47 with TensorFlow on
            # one thread, TF_NUM_INTRAOP_THREADS=1, which failed 1e-5); the other pixels moved one by up to 0.37
            np.testing.assert_allclose([q for _, q in f.top], [q for _, q in a.top], atol=1e-4, err_msg=views)
        assert [p.input for p in by_file] == [str(p) for p in [*files[:6], big, *files[6:]]]
    # the size the model's featcache.json says is its network's, checked inside the views model's sub-model too: a
    # --views all model said 224 over a 32 px network and predicted (its Preprocess is one level down; a tester)
    from test_export_predict import _with_meta

    bad = _with_meta(tmp_path / "m_all.keras", tmp_path / "bad.keras", image_size=64)
    with pytest.raises(featcache.FeatcacheError, match="says mobilenet_v2 at 64 px but whose network takes mobilenet_v2 at 32 px"):
        featcache.predict(bad, [tmp_path / "t.npy"], runtime="tensorflow")


@pytest.fixture(scope="module")
def only_views_cache(tmp_path_factory):
    """A tiny random-weights Fashion-MNIST cache with the flip and shift views (32 px), and its test images."""
    from helpers import tiny_fashion_cache

    from featcache.sources.fashion_mnist import FashionMNIST

    tmp = tmp_path_factory.mktemp("only_views")
    cache = tiny_fashion_cache(tmp, n_train=60, n_test=12, out="v.h5", views="flip,shift")
    images = FashionMNIST(data_dir=str(tmp / "fm")).open(32).splits["test"].read(0, 12)
    return tmp, cache, images


@pytest.mark.parametrize("head_kind", ["logreg", "keras"])
@pytest.mark.parametrize("views", ["only:flip", "only:flip,shift"])
def test_an_only_views_model_averages_those_views_alone(only_views_cache, head_kind, views):
    """Regression (an adversarial tester): a model exported with --views only:flip computed the original view and
    flip (ViewStack read its names with parse_views, which puts the original first) under a ViewMean of 1 view: 2 rows
    per image, predict gave the original view's classes, and only:flip,shift was a TensorFlow reshape traceback. The
    model's probabilities are now the head's on those cached views averaged, one row per image, on ONNX Runtime too."""
    import featcache
    from featcache.deploy.model import load_model, read_meta
    from featcache.embedding.passes import BATCH_SIZE
    from featcache.embedding.views import asked_names
    from featcache.heads.views import mean_scores

    tmp, cache_path, images = only_views_cache
    cache = featcache.open_cache(cache_path)
    name = f"{head_kind}_{views.replace(':', '_').replace(',', '_')}"
    # random weights: a keras head far from uniform (2 epochs unstandardized gave 0.1 for every class)
    keras_options = {"standardize": True, "epochs": 20} if head_kind == "keras" else {}
    head = featcache.train(cache, head_kind, train_views=views, test_views=views, **keras_options,
                           out=tmp / (name + ("_head.keras" if head_kind == "keras" else ".npz")))
    names = asked_names(views[len("only:"):])
    assert "orig" not in names and head.accuracy is not None
    path = featcache.export(head.path, tmp / f"{name}.keras", views=views).path
    assert read_meta(path)["views"] == names
    want = mean_scores(head.estimator, cache.view_features("test", None, names))
    orig = mean_scores(head.estimator, cache.view_features("test", None, ["orig"]))
    assert np.abs(want - orig).max() > 1e-3  # the views' average is not the original view's: the test can tell them apart
    loaded = load_model(path)
    probs = np.asarray(loaded[0](images[..., None]))
    assert probs.shape == (len(images), len(cache.class_names))  # one row per image (it was 2 per image)
    np.testing.assert_allclose(probs, want, atol=1e-5)
    # the file's ModelRunner on ONNX Runtime, converted from the network just loaded from the same checked bytes
    # (LoadedModel.lend), not from a second Keras load of them (3-4 s a model here)
    onnx = loaded.runner("onnxruntime", BATCH_SIZE, expected_images=len(images), views=len(names))
    assert onnx.runtime_used == "onnxruntime"
    np.testing.assert_allclose(onnx(images), want, atol=1e-5)
    # predict of the bytes loaded above (LoadedModel: its runner traces the network load_model built), not of the
    # path: a third Keras load and check of the same file (1-3 s a model here) for the same classes
    top = featcache.predict(loaded, [_saved(tmp / f"{name}.npy", images)], top_k=1)
    assert [p.top[0][0] for p in top] == [cache.class_names[i] for i in want.argmax(1)]


def _saved(path, array):
    np.save(path, array)
    return path


def test_a_model_whose_network_computes_other_views_than_it_records_is_neither_written_nor_loaded(tmp_path):
    """The views a model records and those its network computes and averages are checked where it is written
    (save_model) and where it is read (load_model): a model written before the only:VIEWS fix records ["flip"] over
    a network of orig and flip averaged as 1 view, and is refused with the way to fix it, in one line."""
    import keras

    from featcache.deploy.model import check_views_graph, save_model
    from featcache.embedding.preprocess import ViewMean, ViewStack

    images = keras.Input(shape=(None, None, None), dtype="uint8")
    flat = keras.layers.Flatten()(keras.layers.Resizing(2, 2)(ViewStack(["orig", "flip"])(images)))
    old = keras.Model(images, ViewMean(1)(flat))  # what export wrote for an only:flip head
    with pytest.raises(FeatcacheError, match=r"records views flip \(without the original view\) but whose network "
                                             r"computes orig, flip averaged as 1 view; re-export the model") as err:
        save_model(old, tmp_path / "m.keras", {"class_names": ["a"] * 4, "image_size": 32, "views": ["flip"]})
    assert "\n" not in str(err.value) and not (tmp_path / "m.keras").exists()
    check_views_graph("m.keras", keras.Model(images, ViewMean(2)(flat)), {"views": ["orig", "flip"]})  # these agree
    with pytest.raises(FeatcacheError, match="records views orig but whose network computes orig, flip"):
        check_views_graph("m.keras", keras.Model(images, ViewMean(2)(flat)), {})  # a model older than views: orig
    assert ViewStack(["flip", "shift:+2,+2"]).views == ["flip", "shift:+2,+2"]  # no original unless named
