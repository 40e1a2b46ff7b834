"""Export of an RBF SVM head (deploy.svmgraph): the model computes the head's own decision from its arrays, so its top
class is the head's class on the same features: libsvm's vote for one view, the argmax of the one-vs-rest decision
values averaged over views (heads.views), and the calibrated probabilities of a head trained with them."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from helpers import run_main

from featcache.heads import SVMHead
from featcache.heads.views import mean_scores, predict_views


def _features(k: int, n: int, width: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping classes (means 0.6 apart, unit noise): many test rows near the pairwise boundaries, so some
    one-vs-one votes tie (a 3-class cycle), which libsvm breaks to the first class."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    centres = rng.normal(scale=0.6, size=(k, width))
    return (centres[y] + rng.normal(size=(n, width))).astype(np.float32), y


def _model_scores(head: SVMHead, Xv: np.ndarray, n_classes: int) -> np.ndarray:
    """The model's output for cached views ``Xv`` (V, n, D): the SVM layers of an exported model on those features,
    averaged over the views by the model's own ViewMean."""
    from featcache.deploy.svmgraph import svm_layers
    from featcache.embedding.preprocess import ViewMean

    scores, shares = svm_layers(head.kernel_form(), n_classes, len(Xv))
    per_view = scores(Xv.reshape(-1, Xv.shape[-1]))
    return np.asarray(shares(ViewMean(len(Xv))(per_view) if len(Xv) > 1 else per_view))


def _votes(head: SVMHead, X: np.ndarray) -> np.ndarray:
    """(n, k) libsvm's one-vs-one votes of the head (scikit-learn's ovo decision values, > 0 a vote for the first)."""
    svc = head.pipeline_[-1]
    dec = svc._decision_function(head.pipeline_[0].transform(X))
    dec = -dec[:, None] if dec.ndim == 1 else dec
    k = len(head.classes_)
    votes = np.zeros((len(X), k))
    for p, (i, j) in enumerate((i, j) for i in range(k) for j in range(i + 1, k)):
        votes[:, i] += dec[:, p] > 0
        votes[:, j] += dec[:, p] <= 0
    return votes


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("n_views", [1, 3])
def test_the_svm_layers_give_the_heads_classes_on_the_same_features(k, n_views):
    X, y = _features(k, 60 * k)
    head = SVMHead(C=1.0, probability=False).fit(X, y)
    rng = np.random.default_rng(1)
    base, _ = _features(k, 2000, seed=2)
    Xv = np.stack([base + rng.normal(scale=0.3, size=base.shape).astype(np.float32) for _ in range(n_views)])
    got = _model_scores(head, Xv, k + 1)  # one class name more than the head saw: its column stays 0
    want = predict_views(head, Xv)
    np.testing.assert_array_equal(head.classes_[got[:, :k].argmax(1)], want)
    assert (got >= 0).all() and np.allclose(got.sum(1), 1, atol=1e-5) and (got[:, k] == 0).all()
    if n_views == 1:  # the vote itself, not only its winner: each class's share of the pairwise contests
        votes = _votes(head, Xv[0])
        np.testing.assert_allclose(got[:, :k], votes / (k * (k - 1) / 2), atol=1e-6)
        if k > 2:  # ties resolved as libsvm does (the first class), which an argmax of one-vs-rest values does not
            tied = (votes == votes.max(1, keepdims=True)).sum(1) > 1
            assert tied.sum() >= 5, tied.sum()
            ovr = head.decision_function(Xv[0])
            assert (ovr.argmax(1) != votes.argmax(1))[tied].any()
    else:  # the mean of the one-vs-rest decision values, as heads.views averages them, shifted and normalized
        mean = mean_scores(head, Xv)
        order = np.argsort(-mean, axis=1, kind="stable")
        np.testing.assert_array_equal(np.argsort(-got[:, :k], axis=1, kind="stable"), order)


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("n_views", [1, 2])
def test_the_svm_layers_give_a_calibrated_heads_probabilities(k, n_views):
    X, y = _features(k, 60 * k)
    head = SVMHead(C=1.0, probability=True).fit(X, y)
    base, _ = _features(k, 500, seed=3)
    Xv = np.stack([base + 0.2 * i for i in range(n_views)]).astype(np.float32)
    got = _model_scores(head, Xv, k)
    np.testing.assert_allclose(got, mean_scores(head, Xv), atol=1e-5)
    np.testing.assert_array_equal(head.classes_[got.argmax(1)], predict_views(head, Xv))


def test_the_svm_layer_standardizes_wide_rows_as_the_head_does():
    """Reviewer's finding: the layer standardized in float64 while the head's StandardScaler computes in the features'
    float32, so on 1280-wide rows z differed by ~5e-7 and decision values by ~6e-8, enough to flip a near-zero vote.
    Rows like the cache's: non-negative pooled activations, many zero, a few large."""
    from featcache.deploy.svmgraph import svm_layers

    rng = np.random.default_rng(0)
    k, width = 3, 1280
    y = np.arange(300) % k
    centres = rng.gamma(0.5, 0.6, size=(k, width))
    rows = lambda n, labels: np.maximum(centres[labels] + rng.normal(scale=0.8, size=(n, width)), 0)  # noqa: E731
    X = rows(300, y).astype(np.float32)
    head = SVMHead(C=1.0, probability=False).fit(X, y)
    T = rows(400, np.arange(400) % k).astype(np.float32)
    layer, _ = svm_layers(head.kernel_form(), k, 1)
    z_head = head.pipeline_[0].transform(T)
    want = head.pipeline_[-1]._decision_function(z_head)
    np.testing.assert_allclose(np.asarray(layer.decision(T)), want, rtol=0, atol=1e-11)
    np.testing.assert_array_equal(np.asarray(layer.standardize(T)), z_head.astype(np.float64))


def test_each_head_exports_by_its_one_form_and_a_head_of_none_is_one_line():
    """export builds a head's model through its form (deploy.export.HEAD_FORMS: the one place a head form is added),
    found by the method its heads have; it asked is_svm_form in several places. A head of no form is refused by name."""
    from featcache.deploy.export import head_form, logits_model, probabilities_output, svm_model
    from featcache.errors import FeatcacheError
    from featcache.heads import DenseHead, LogRegHead

    X, y = _features(3, 60)
    for head in (LogRegHead().fit(X, y), DenseHead(epochs=1, n_classes=3).fit(X, y)):
        form = head_form(head)
        assert (form.base, form.output, form.shares(head)) == (logits_model, probabilities_output, False)
    for probability in (False, True):
        svm = SVMHead(probability=probability, calibration_cv=2).fit(X, y)
        assert head_form(svm).output is svm_model and head_form(svm).shares(svm) is not probability

    class Forest:  # a scikit-learn-like head with neither form
        pass

    with pytest.raises(FeatcacheError, match="^cannot export a Forest head: only keras, logreg and svm heads export; "
                                             "train a logreg head on the same cache and layer"):
        head_form(Forest())


@pytest.fixture(scope="module")
def svm_views_cache(tmp_path_factory):
    """A tiny random-weights Fashion-MNIST cache with the flip view (32 px), its test images, and an SVM head
    without probabilities fitted and scored on both views."""
    import featcache
    from helpers import tiny_fashion_cache

    from featcache.sources.fashion_mnist import FashionMNIST

    tmp = tmp_path_factory.mktemp("svm_views")
    cache = tiny_fashion_cache(tmp, n_train=60, n_test=24, out="v.h5", views="flip")
    images = FashionMNIST(data_dir=str(tmp / "fm")).open(32).splits["test"].read(0, 24)
    head = featcache.train(featcache.open_cache(cache), "svm", params={"probability": False}, train_views="all",
                           test_views="all", out=tmp / "svm.npz")
    np.save(tmp / "test.npy", images)
    return tmp, cache, images, head


@pytest.fixture(scope="module")
def svm_models(svm_views_cache) -> dict:
    """The SVM head of ``svm_views_cache`` exported once for each of ``views="orig"`` and ``"all"`` (their
    ``ExportResult``s), for the tests that only read and predict them: an export is a network build and a save, and
    each model exported again was a new file (its record's time) whose every predict loaded and traced it."""
    import featcache

    tmp, _, _, head = svm_views_cache
    return {views: featcache.export(head.path, tmp / f"svm_{views}.keras", views=views) for views in ("orig", "all")}


@pytest.fixture(scope="module")
def svm_loaded(svm_models):
    """``svm_loaded(views)``: ``load_model`` of ``svm_models[views]``, loaded by Keras once per module (about 3 s a
    load here) for the tests that run or read the loaded network, which none of them changes."""
    from featcache.deploy.model import load_model

    loaded: dict = {}

    def load(views: str):
        if views not in loaded:
            loaded[views] = load_model(svm_models[views].path)
        return loaded[views]

    return load


@pytest.mark.parametrize("views", ["orig", "all"])
def test_an_exported_svm_model_predicts_the_heads_classes_and_says_its_numbers_are_shares(svm_views_cache, svm_models,
                                                                                          svm_loaded, views, capsys,
                                                                                          caplog):
    """The tester's finding: 'cannot export an SVM head', the only head past 0.90 with views. Now the model's top
    class is the head's on the same images (its features from the same random network), predict and verify/info
    take it, and its numbers are named shares, never probabilities: the CSV's share_N, the JSON's share. Its record's
    tag says what they are: vote shares with one view; with views, shares of the averaged decision values (the tag
    said "svm vote shares" of those too)."""
    import featcache
    from featcache.deploy.model import svm_numbers

    tmp, cache_path, images, head = svm_views_cache
    result = svm_models[views]
    out = result.path
    names = result.meta["views"]
    assert names == (["orig"] if views == "orig" else ["orig", "flip"])
    tag = "svm vote shares" if views == "orig" else "svm shares of averaged decision values"
    assert result.meta["scores"] == tag and result.meta["averaged"] == (None if views == "orig" else "decision values")
    cache = featcache.open_cache(cache_path)
    want = predict_views(head.estimator, cache.view_features("test", None, names))
    model, meta = svm_loaded(views)
    assert meta["output"].endswith(svm_numbers(meta))  # this model's words (test_a_models_record_says_...)
    got = np.asarray(model(images[..., None]))
    np.testing.assert_array_equal(got.argmax(1), want)
    # predict and the ONNX Runtime runner of the bytes svm_loaded loaded (LoadedModel), not of the path: each was
    # another Keras load and check of the same file (1-3 s here); the CLI's predict below still reads the path
    loaded = svm_loaded(views)
    preds = featcache.predict(loaded, [tmp / "test.npy"], top_k=2, csv=tmp / f"p_{views}.csv", runtime="tensorflow")
    np.testing.assert_array_equal(preds.predicted, want)
    from featcache.embedding.passes import BATCH_SIZE

    # converted: float64 products, which tf2onnx warned of on stderr
    onnx = loaded.runner("onnxruntime", BATCH_SIZE, expected_images=len(images), views=len(names))
    assert onnx.runtime_used == "onnxruntime" and (onnx(images).argmax(1) == want).all()
    assert "Gemm rewriter" not in caplog.text
    with open(tmp / f"p_{views}.csv", newline="") as fh:
        header = next(csv.reader(fh))
    assert header == ["input", "class_1", "share_1", "class_2", "share_2"]
    listed = json.dumps(preds.to_dict()["predictions"])
    assert listed.count('"share"') == 2 * len(images) and '"probability"' not in listed and preds.to_dict()["values"] == "share"
    said = run_main(capsys, "predict", str(out), str(tmp / "test.npy"), "--top-k", "1", "--runtime", "tensorflow")
    assert said.returncode == 0 and said.stderr.count(f"the numbers are {svm_numbers(meta)}") == 1
    for command in ("verify", "info"):
        said = run_main(capsys, command, str(out))
        assert said.returncode == 0, said.stderr
    assert tag in said.stdout  # info shows what the numbers are
    said = run_main(capsys, "verify", str(tmp / f"p_{views}.csv"))
    assert said.returncode == 0 and f"the model that made it, {out}, still has the content digest" in said.stdout, said.stderr
    made_by = featcache.info(tmp / f"p_{views}.csv")["model"]  # the CSV's record names the model, its views and runtime
    assert (made_by["file"], made_by["views"], made_by["runtime"]) == (out.name, names, "tensorflow")


def test_predict_says_what_this_svm_models_shares_are_and_what_to_read_from_them(svm_views_cache, svm_models, svm_loaded,
                                                                                 capsys):
    """Regression (a tester, helper-274): a one-view SVM model of 10 classes printed shares near 0.2 whether its class
    was right or far off, and predict's note said "vote shares, or shares of the averaged decision values with views"
    of every SVM model, its views known. The note (and --json's values_words, the API's values_words) now says the
    one that applies and what it tells: with one view, share x 45 is the contests a class won of its 9, 2/10 the
    most (all won), not a confidence; with views, a ranking of averaged decision values. Checked on the model's own
    numbers. Fails on the code before: the note names both kinds and no 2/k."""
    import json

    import featcache

    tmp, _, _, head = svm_views_cache
    k = len(head.meta["class_names"])
    assert k == 10  # Fashion-MNIST's classes, each in the tiny cache
    for views in ("orig", "all"):
        out = svm_models[views].path
        said = run_main(capsys, "predict", str(out), str(tmp / "test.npy"), "--runtime", "tensorflow")
        notes = [line for line in said.stderr.splitlines() if "is an SVM head's model" in line]
        assert said.returncode == 0 and len(notes) == 1, said.stderr
        assert "or shares of the averaged decision values with views" not in notes[0]
        js = run_main(capsys, "predict", str(out), str(tmp / "test.npy"), "--runtime", "tensorflow", "--json")
        words = json.loads(js.stdout)["values_words"]
        assert f"the numbers are {words} (docs/commands.md, export)" in notes[0]
        # the API's words: predict of the module's loaded model (the same file's bytes), not another Keras load of it
        preds = featcache.predict(svm_loaded(views), [tmp / "test.npy"], runtime="tensorflow")
        assert preds.values_words == words and "not probabilities and no confidence" in words
        shares = preds.probabilities.astype(np.float64)
        if views == "orig":
            assert words.startswith("vote shares") and "of the 45 one-vs-one contests of its 10 classes" in words
            assert "(share x 45 = the contests it won, of 9)" in words and "2/10 = 0.200" in words
            won = shares * 45  # what the note says to read: whole contests, none past 9 of them
            np.testing.assert_allclose(won, np.round(won), atol=1e-4)
            assert won.max() <= 9 + 1e-4 and np.allclose(won.sum(1), 45, atol=1e-3)
        else:
            assert words.startswith("shares of the one-vs-rest decision values averaged over its 2 views")
            assert "vote shares" not in words


def test_a_models_record_says_what_its_own_svm_numbers_are(svm_views_cache, svm_models, svm_loaded):
    """Regression (a brief, 2026-12-06): the record's ``output`` (featcache.json in the .keras file) said of every SVM
    head's model without probabilities "SVM scores (vote shares, or shares of the averaged decision values with
    views)", though the model's views are known, where predict's note says the one that applies. The record says
    this model's, in predict's words (deploy.model.svm_output, svm_numbers): one view, vote shares of its 45
    contests; views, shares of the decision values averaged over its 2 views. Fails on the code before: both
    kinds in each record."""
    import featcache
    from featcache.deploy.model import read_meta

    tmp = svm_views_cache[0]
    for views, own, other in (("orig", "vote shares, not probabilities and no confidence: each class's share of the "
                                       "45 one-vs-one contests of its 10 classes", "averaged"),
                              ("all", "shares of the one-vs-rest decision values averaged over its 2 views", "vote")):
        out = svm_models[views].path
        output = read_meta(out)["output"]
        assert own in output and other not in output, output
        assert output.startswith("per image, one number a class, in class_names order: ")
        preds = featcache.predict(svm_loaded(views), [tmp / "test.npy"], runtime="tensorflow")  # the module's load of out
        assert output.endswith(preds.values_words)  # predict's note, word for word

def test_an_svm_models_support_vectors_are_float32_in_its_file_and_float64_once_loaded(svm_views_cache, svm_models,
                                                                                      svm_loaded):
    """SVMScores cast its float32 support vectors to float64 on every predict batch (10,000 x 576: 46 MB written per
    batch). They are widened once, as the model loads; the file holds them as float32, as it did (exact: half the
    bytes), so a model exported before loads as it did."""
    import io
    import zipfile

    import h5py

    _, _, _, head = svm_views_cache
    out = svm_models["orig"].path  # the head's model of the original view, export's default: only read here
    with zipfile.ZipFile(out) as zf, h5py.File(io.BytesIO(zf.read("model.weights.h5"))) as h5:
        stored = h5["layers/svm_scores/vars/2"][()]
    support = head.estimator.kernel_form()["support"]
    assert stored.dtype == np.float32 and np.array_equal(stored, support)
    layer = svm_loaded("orig")[0].get_layer("svm_scores")  # the file's model as load_model gives it
    assert layer.support.dtype == "float64" and np.array_equal(np.asarray(layer.support), support)


def test_a_model_record_naming_other_scores_is_refused(svm_views_cache, svm_models):
    """A record's ``scores`` names what predict calls the numbers: a value featcache never writes is one line."""
    import featcache
    from test_export_predict import _with_meta

    from featcache.deploy.model import read_meta

    tmp = svm_views_cache[0]
    # a copy of the module's model of the original view, its record edited and its digest made again
    bad = _with_meta(svm_models["orig"].path, tmp / "bad.keras", scores="probabilities")
    with pytest.raises(featcache.FeatcacheError, match="scores"):
        read_meta(bad)


def test_a_views_model_tagged_vote_shares_before_is_read_as_shares_and_a_tag_without_views_is_refused(tmp_path):
    """A views model exported before its tag said "svm shares of averaged decision values" carries "svm vote
    shares": it is read as before, its numbers shares. The views tag on a record that averages no decision values
    is refused, one line naming ``averaged``."""
    import featcache
    from helpers import meta_only_model

    from featcache.deploy.model import read_meta
    from featcache.deploy.predict import SHARE, value_of

    views = {"views": ["orig", "flip"], "averaged": "decision values", "head": "svm"}
    older = meta_only_model(tmp_path / "older.keras", scores="svm vote shares", **views)
    newer = meta_only_model(tmp_path / "newer.keras", scores="svm shares of averaged decision values", **views)
    assert [value_of(read_meta(m)) for m in (older, newer)] == [SHARE, SHARE]
    bad = meta_only_model(tmp_path / "bad.keras", scores="svm shares of averaged decision values", head="svm",
                          views=["orig"], averaged=None)
    with pytest.raises(featcache.FeatcacheError, match="has averaged None, not 'decision values'"):
        read_meta(bad)


@pytest.mark.parametrize("probability", [False, True])
def test_an_svm_model_is_refused_by_the_float32_runtimes_and_auto_skips_them(svm_views_cache, svm_models, probability,
                                                                            capsys, monkeypatch, tmp_path):
    """Reviewer's finding: OpenVINO (INFERENCE_PRECISION_HINT f32) and XNNPACK run the SVM layers' float64 in float32,
    enough to flip a near-zero vote. Asked for by name: one line; auto: ONNX Runtime, else TensorFlow, never OpenVINO.
    A calibrated head's model has no ``scores`` in its record: known by the head's kind."""
    import sys

    import featcache
    from featcache.deploy.model import ModelRunner, read_meta
    from featcache.embedding import runtimes

    # the session's runtime folder (conftest): the model without probabilities is converted there once, by whichever
    # of this test and test_an_exported_svm_model_predicts_... runs first (auto, for 10,000 images, loads it as it
    # converts it: the same ONNX Runtime build; a fresh folder here converted the same model a second time)
    tmp, cache_path, images, head = svm_views_cache
    if probability:
        head = featcache.train(featcache.open_cache(cache_path), "svm", params={"probability": True},
                               out=tmp_path / "cal.npz")
    # the head without probabilities: its model of the original view (export's default views) exported once
    out = featcache.export(head.path, tmp_path / "m.keras").path if probability else svm_models["orig"].path
    assert ("scores" in read_meta(out)) != probability
    np.save(tmp_path / "x.npy", images[:3])
    for name in ("openvino", "xnnpack"):
        said = run_main(capsys, "predict", str(out), str(tmp_path / "x.npy"), "--runtime", name)
        assert said.returncode == 2 and said.stderr.strip().splitlines() == [
            "featcache predict: error: an SVM head's model computes in float64, which OpenVINO/XNNPACK run in float32; "
            "use --runtime onnxruntime or tensorflow"], said.stderr
        with pytest.raises(featcache.FeatcacheError, match="use runtime='onnxruntime' or 'tensorflow'$"):
            featcache.predict(out, [tmp_path / "x.npy"], runtime=name)
    assert ModelRunner(out, runtime="auto", expected_images=10_000).runtime_used == "onnxruntime"
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # the next fastest is OpenVINO, which such a model skips
    assert runtimes.REGISTRY["openvino"].available()
    assert ModelRunner(out, runtime="auto", expected_images=10_000).runtime_used == "tensorflow"


def test_quieting_the_gemm_rewriter_leaves_the_root_logger_as_it_was(tmp_path, capsys):
    """Reviewer's finding: the ONNX conversion quieted tf2onnx's "Gemm rewriter" warnings by raising the root logger's
    level to ERROR, which dropped every other logger's warnings meanwhile (another thread's), and with no handler on
    root, logging.warning's basicConfig installed a stderr handler for the rest of the process. Converted here with
    root bare (as in a plain script); another logger warns during the conversion.

    The model converted is an SVM head's layers alone (deploy.svmgraph, as export puts them after the network), on
    uint8 rows of the head's 6 features: their float64 kernel products are what tf2onnx's Gemm rewriter warns of, and
    the logging around the conversion is the same for any model. An exported model (its MobileNetV2 loaded by Keras
    and converted whole) cost 3 s to load and 8-20 s to convert, for the same warnings."""
    import logging
    from types import SimpleNamespace

    from featcache._lazy import keras
    from featcache.deploy.svmgraph import svm_layers
    from featcache.embedding import runtimes

    X, y = _features(3, 60)
    head = SVMHead(C=1.0, probability=False).fit(X, y)
    scores, shares = svm_layers(head.kernel_form(), 3, 1)
    k = keras()
    rows = k.Input(shape=(X.shape[1],), dtype="uint8", name="images")
    net = k.Model(rows, shares(scores(k.ops.cast(rows, "float32"))), name="svm_layers")
    spec = SimpleNamespace(input_shape=(X.shape[1],), what="the SVM layers")  # what _export_onnx reads of a spec
    heard: list[str] = []
    other = logging.getLogger("featcache_test_other")
    collector = logging.Handler()
    collector.emit = lambda record: heard.append(record.getMessage())
    other.addHandler(collector)

    class WarnsWhileConverting:  # the model, with another logger's warning while it is traced for the conversion
        def __call__(self, *args, **kwargs):
            other.warning("another thread's warning")
            return net(*args, **kwargs)

    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    for handler in saved:  # pytest's own capture handlers: root bare, as a script's
        root.removeHandler(handler)
    try:
        runtimes._export_onnx(WarnsWhileConverting(), spec, tmp_path / "m.onnx")
        after = root.handlers[:]
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)
        other.removeHandler(collector)
    assert (tmp_path / "m.onnx").stat().st_size > 0
    assert after == [] and root.level == level and root.filters == []
    assert heard == ["another thread's warning"]
    assert "Gemm rewriter" not in capsys.readouterr().err


def test_predictions_values_are_named_as_to_dict_names_them_and_the_old_names_warn():
    # A notebook tester: preds.value and preds.value_words, where to_dict() and --json say "values" and "values_words"
    from featcache.deploy.predict import Prediction, Predictions

    preds = Predictions([Prediction("a.png", [("ants", 0.75)])])
    preds.values, preds.values_words = "share", "vote shares"
    said = preds.to_dict()
    assert (said["values"], said["values_words"]) == (preds.values, preds.values_words)
    assert said["predictions"][0]["top"] == [{"class": "ants", "share": 0.75}]
    with pytest.warns(DeprecationWarning, match=r"Predictions.value is now Predictions.values .* featcache 0.3"):
        assert preds.value == "share"
    with pytest.warns(DeprecationWarning, match=r"Predictions.value_words is now Predictions.values_words"):
        assert preds.value_words == "vote shares"

