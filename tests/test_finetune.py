"""Fine-tuning through the end-to-end path: what trains, what stays, what it refuses."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import cli_one_line_error as _one_line_error
from helpers import OLDER_DECODERS, imagenet_standin, make_fashion_dir, ppm_tree, tiny_fashion_cache, tiny_photo_cache

import featcache
from featcache.analysis.subsets import stratified_subset
from featcache.cli import main
from featcache.errors import FeatcacheError
from featcache.heads import DenseHead, LogRegHead
from featcache.heads.io import head_meta, load_head, save_head


def _head(tmp: Path, weights: str, *, n_train: int = 60, size: int = 32, train_size: int | None = None,
          kind: str = "keras", epochs: int = 3, learning_rate: float = 1e-3) -> Path:
    """A head trained in-process on a small synthetic cache, optionally on a recorded stratified subset."""
    data = make_fashion_dir(tmp / "fmnist", n_train=n_train, n_test=30)
    res = featcache.extract(featcache.FashionMNIST(data_dir=str(data)), featcache.ModelSpec(weights=weights, image_size=size),
                            featcache.StoreSpec(out=tmp / "c.h5"), verbose=False)
    cache = featcache.open_cache(res.path)
    X, y = cache.features("train"), cache.labels("train")
    rows = stratified_subset(y, train_size, seed=1) if train_size else np.arange(len(y))
    head = DenseHead(epochs=epochs, learning_rate=learning_rate, early_stopping=False) if kind == "keras" else LogRegHead()
    head.fit(X[rows], y[rows])
    meta = head_meta(cache, None, kind, head)
    if train_size:
        meta.update(train_size=train_size, seed=1)
    return save_head(head, tmp / ("head.keras" if kind == "keras" else "head.npz"), meta)


@pytest.fixture(scope="module")
def real_head(tmp_path_factory, real_weights) -> Path:
    """Real MobileNetV2 weights on synthetic stripes: the head learns them, so validation means something.

    40 epochs at a learning rate of 1e-2, not 200 at 1e-3: on the 40 training rows an epoch costs ~0.25 s of
    Keras overhead, and the 200-epoch fit alone took 45-57 s (load 3-4). Measured on the same 10 held-out rows:
    val accuracy 1.0 (val loss 0.33) after 40 epochs at 1e-2, against 0.9 after 200 at 1e-3; fit 12 s.
    """
    return _head(tmp_path_factory.mktemp("real"), str(real_weights), size=48, train_size=50, epochs=40, learning_rate=1e-2)


@pytest.fixture(scope="module")
def real_head_model(real_head, real_weights):
    """``real_head``'s end-to-end model before any fine-tuning (read only): what each fine-tuning test compares the
    saved model's weights with, built once for the module (a 48 px MobileNetV2 on the real weights, 2-4 s a build)."""
    from featcache.deploy.export import end_to_end_from_head

    est, meta = load_head(real_head)
    return end_to_end_from_head(est, meta, str(real_weights))[0]


def _weights_by_layer(model) -> dict[str, list[np.ndarray]]:
    base = model.get_layer("base")
    out = {f"base/{l.name}": [np.array(w) for w in l.get_weights()] for l in base.layers if l.weights}
    out["head_logits"] = [np.array(w) for w in model.get_layer("head_logits").get_weights()]
    return out


def test_one_epoch_changes_only_the_unfrozen_layers(real_head, real_head_model, real_weights, tmp_path, capsys, progress_on):
    from featcache.deploy.model import load_model

    _, meta = load_head(real_head)
    before = real_head_model
    before_w = _weights_by_layer(before)
    unfreeze = 12
    res = featcache.finetune(real_head, weights=str(real_weights), unfreeze=unfreeze, learning_rate=1e-3, epochs=1,
                             batch_size=16, keep_best=False, out=tmp_path / "ft.keras", verbose=True)
    printed, progress = capsys.readouterr()
    # status lines on stderr, the report on stdout (a new-user tester found them on stdout, among the results)
    assert f"trainable {res.params['trainable']:,}" in progress and "epoch 1/1: val accuracy" in progress
    assert f"trainable {res.params['trainable']:,}" not in printed and printed.startswith("kept epoch 1: ")
    # The epoch's bar on stderr (stdout is the report), and not a terminal: plain lines, no colour codes or carriage
    # returns (Keras's bar drew them into a tester's log), the last with the epoch's validation scores.
    epoch_lines = [line for line in progress.splitlines() if line.startswith("epoch 1/1 ")]
    assert "[" not in printed and epoch_lines[-1].startswith("epoch 1/1 3/3 [") and "val_accuracy: " in epoch_lines[-1]
    # the scoring passes and the build before them each say what they do (30-40 s without a line; a new-user tester)
    assert progress.startswith("reading the images of fashion_mnist and building the end-to-end model (mobilenet_v2, ")
    for label in ("frozen head, 10 validation images 1/1 [", "frozen head, 30 test images 2/2 [", "fine-tuned, 30 test images 2/2 ["):
        assert any(line.startswith(label) for line in progress.splitlines()), (label, progress)
    assert "\x1b" not in printed + progress and "\r" not in printed + progress and "━" not in printed + progress
    # The head's recorded stratified subset of 50 rows: 40 train, the last 10 for validation.
    assert (res.train_images, res.val_images) == (40, 10)
    # Accuracies are ratios of images, correct / n, as train and evaluate give them: Keras's float32 quotient
    # was returned as it was (0.8399999737739563 for 2,100 of 2,500; a new-user tester).
    ratios = [(res.frozen_val_accuracy, 10), (res.epochs[0]["val_accuracy"], 10), (res.epochs[0]["accuracy"], 40),
              (res.frozen_test_accuracy, 30), (res.test_accuracy, 30)]
    assert all(type(a) is float and a == round(a * n) / n for a, n in ratios), ratios

    model, mmeta = load_model(res.path)
    # what info shows the model scores: the fine-tuned score, not the frozen head's (a new-user tester)
    assert mmeta["test_accuracy_orig"] == res.test_accuracy and "single_view_test_accuracy" not in mmeta
    after_w = _weights_by_layer(model)
    base_layers = before.get_layer("base").layers
    last = {l.name for l in base_layers[-unfreeze:]}
    changed = {name for name in before_w if any(not np.array_equal(a, b) for a, b in zip(before_w[name], after_w[name]))}
    expected = {f"base/{l.name}" for l in base_layers[-unfreeze:] if l.weights and type(l).__name__ != "BatchNormalization"}
    assert expected and changed == expected | {"head_logits"}
    assert set(res.unfrozen_layers) == {n.split("/", 1)[1] for n in expected} <= last
    # BatchNormalization: moving statistics and gamma/beta identical, also inside the unfrozen range.
    bn = [l.name for l in base_layers if type(l).__name__ == "BatchNormalization"]
    assert any(n in last for n in bn)
    for n in bn:
        for a, b in zip(before_w[f"base/{n}"], after_w[f"base/{n}"]):
            np.testing.assert_array_equal(a, b)
    # Trainable parameters: exactly the unfrozen non-BN layers plus the head.
    n_expected = sum(int(np.prod(w.shape)) for name in expected | {"head_logits"} for w in after_w[name])
    assert res.params["trainable"] == n_expected
    assert mmeta["finetune"]["unfreeze"] == unfreeze and mmeta["class_names"] == meta["class_names"]


def test_worse_fine_tuning_keeps_the_frozen_head_and_says_so(real_head, real_head_model, real_weights, tmp_path, capsys):
    from featcache.deploy.model import load_model

    before = real_head_model
    # A learning rate 100,000x too large wrecks the unfrozen layers at once.
    res = featcache.finetune(real_head, weights=str(real_weights), unfreeze=40, learning_rate=1.0, epochs=2, patience=1,
                             batch_size=8, out=tmp_path / "ft.keras", verbose=True)
    out = capsys.readouterr().out
    assert res.frozen_val_accuracy >= 0.7, "the head should have learned the stripes"
    assert not res.improved and res.best_epoch == 0 and len(res.epochs) == 1  # patience 1: stopped after one bad epoch
    assert res.epochs[0]["val_accuracy"] < res.frozen_val_accuracy
    assert "FINE-TUNING MADE VALIDATION WORSE" in out and "kept the frozen head's weights" in out
    model, _ = load_model(res.path)
    after = _weights_by_layer(model)  # once: it copies every weight (0.06 s), and the loop below visits 105 layers
    for name, ws in _weights_by_layer(before).items():
        for a, b in zip(ws, after[name]):
            np.testing.assert_array_equal(a, b)
    assert res.test_accuracy == res.frozen_test_accuracy  # the same weights: the same ratio, exactly


def test_exact_accuracy_is_the_ratio_keras_rounded_to_float32():
    from featcache.deploy.finetune import exact_accuracy

    assert float(np.float32(2100) / np.float32(2500)) == 0.8399999737739563  # what finetune returned
    assert exact_accuracy(np.float32(2100) / np.float32(2500), 2500) == 0.84 == 2100 / 2500
    # every count of a large test split comes back exactly (float32 keeps 24 bits: below 2**23 images)
    n = 70_000
    assert all(exact_accuracy(np.float32(c) / np.float32(n), n) == c / n for c in range(0, n + 1, 7))


@pytest.fixture(scope="module")
def tiny_head(tmp_path_factory) -> Path:
    """For checks that stop before training, and fine-tunings that write their model elsewhere (never modified). One
    epoch: no check of it turns on what the head learned (random weights: plumbing only)."""
    return _head(tmp_path_factory.mktemp("tiny"), "random", n_train=40, epochs=1)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--unfreeze", "-1"], "--unfreeze must be 0 or more"),
        (["--unfreeze", "1000"], "more than the 154 layers of the base; use 0..154"),
        (["--lr", "0"], "--lr must be a positive number"),
        (["--lr=-1e-5"], "--lr must be a positive number"),
        (["--lr", "nan"], "--lr 'nan' is not a finite number; pass e.g."),  # --param's words (validate.typed_number_problem)
        (["--lr", "1e400"], "--lr '1e400' is not a finite number (beyond a float's range, about 1.8e308)"),  # was 'got inf'
        (["--lr", "abc"], "--lr must be a positive number (got 'abc')"),
        (["--lr", "1e308"], "--lr 1e308 is far above any learning rate Adam fine-tunes with (at most 1)"),
        (["--lr", "1.0000001"], "--lr 1.0000001 is far above"),  # it said "--lr 1 is far above ... (at most 1)"
        (["--out", "model.h5"], "use --out model.keras"),
    ],
)
def test_bad_settings(tiny_head, capsys, args, message):
    _one_line_error(capsys, ["finetune", str(tiny_head), *args], message)


def test_an_out_that_cannot_be_written_is_refused_before_any_work(tiny_head, tmp_path, capsys):
    """Regression (a review): deploy's own --out check never asked whether the folder can be written, so finetune
    trained for minutes and export built the whole model before failing at the save. Now train's check, up front."""
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine")
    for command in ("finetune", "export"):
        _one_line_error(capsys, [command, str(tiny_head), "--out", str(blocker / "m.keras")], f"{blocker} is a file, not a folder")
    assert blocker.read_text() == "mine"


def test_a_default_model_name_too_long_is_refused_before_any_work(tiny_head, tmp_path, capsys):
    """finetune without --out of a head named with 243 bytes: its default, <stem>_finetuned.keras, 259 bytes, failed
    after the fine-tuning with ENAMETOOLONG, "use a shorter name" of a name the user never gave (an adversarial
    tester). Refused first now, asking for --out; nothing written."""
    import os

    head = shutil.copy(tiny_head, tmp_path / ("k" * 243 + ".keras"))
    _one_line_error(capsys, ["finetune", str(head)], "the default model file name, made from the head file name kkkk")
    err_tail = "is too long (259 bytes; a file name holds at most 255); name the model with --out NAME.keras"
    _one_line_error(capsys, ["finetune", str(head)], err_tail)
    assert not (tmp_path.parent / "models").exists() and not os.path.isdir(os.path.join(os.environ["FEATCACHE_HOME"], "models"))


def test_missing_and_unreadable_heads(tmp_path, capsys):
    _one_line_error(capsys, ["finetune", str(tmp_path / "nope.keras")], "head file not found")
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"PK\x03\x04 not really")
    _one_line_error(capsys, ["finetune", str(junk)], "not a readable featcache head")
    _one_line_error(capsys, ["export", str(junk), "--out", str(tmp_path / "m.keras")], "not a readable featcache head")


def _head_on_a_copy_of_its_images(tiny_head: Path, tmp_path: Path) -> Path:
    """``tiny_head`` (fitted on the cache of its module folder's fmnist/) saved as a head whose images are a copy of
    those at tmp_path/fmnist, the same bytes: what a head trained on a cache of tmp_path/fmnist records of them (its
    source, the same content digest), for a test that changes or removes them. It took an extraction and a fit."""
    est, meta = load_head(tiny_head)
    data = Path(shutil.copytree(tiny_head.parent / "fmnist", tmp_path / "fmnist"))
    assert meta["source"]["data_dir"] == str(tiny_head.parent / "fmnist")  # the record this re-points
    return save_head(est, tmp_path / "head.keras", {**meta, "source": {**meta["source"], "data_dir": str(data)}})


@pytest.mark.slow
def test_data_source_gone(tiny_head, tmp_path, capsys):
    head = _head_on_a_copy_of_its_images(tiny_head, tmp_path)
    shutil.rmtree(tmp_path / "fmnist")
    err = _one_line_error(capsys, ["finetune", str(head)], "the images the head was trained on are no longer available (data directory not found")
    # It named extract's --data-dir/--images, which finetune has not (an adversarial tester): where to put them back
    assert "pass --" not in err and "put them back at " in err and str(tmp_path / "fmnist") in err


def test_logreg_head_is_refused(tiny_head, tmp_path, capsys):
    cache = featcache.open_cache(tiny_head.parent / "c.h5")  # tiny_head's cache: a logreg head of it, no extraction
    logreg = LogRegHead().fit(cache.features("train"), cache.labels("train"))
    head = save_head(logreg, tmp_path / "head.npz", head_meta(cache, None, "logreg", logreg))
    _one_line_error(capsys, ["finetune", str(head)], "fine-tuning starts from a trained Keras head")


def test_weights_file_must_be_the_heads(tiny_head, tmp_path, capsys, real_weights):
    est, meta = load_head(tiny_head)
    pinned = save_head(est, tmp_path / "pinned.keras", {**meta, "weights": "sha256:" + "ab" * 32})
    _one_line_error(capsys, ["finetune", str(pinned)], "pass that same file with --weights PATH")
    _one_line_error(capsys, ["finetune", str(pinned), "--weights", str(real_weights)], "is not what the head was trained with")
    _one_line_error(capsys, ["export", str(pinned), "--weights", str(real_weights), "--out", str(tmp_path / "m.keras")],
                    "is not what the head was trained with")
    # A random-weights head refuses a weights file too.
    _one_line_error(capsys, ["finetune", str(tiny_head), "--weights", str(real_weights)], "or leave --weights out (random)")
    _one_line_error(capsys, ["finetune", str(pinned), "--weights", str(tmp_path / "missing.h5")], "weights file not found")


@pytest.mark.parametrize("recorded", ["word", "file"])
def test_imagenet_weights_it_cannot_have_are_refused_before_the_images_are_read(recorded, tiny_head, tmp_path, capsys,
                                                                                monkeypatch, offline_keras):
    """Offline, with no copy in Keras's cache, a head of ImageNet weights was fine-tuned as far as reading its
    images before "could not obtain ImageNet weights" (a new-user tester's extract had the same late failure). A head
    records the file Keras loads (its sha256, weights_source imagenet) or, of an older cache, the word. Refused
    before its images are read (backbones.imagenet_weights_file, export's check); with Keras's copy there, it
    goes on to the images. The network is offline_keras's refusing proxy: nothing leaves this machine."""
    from featcache.deploy import finetune as finetune_mod
    from featcache.embedding.backbones import weights_identity

    weights = imagenet_standin(offline_keras, seed=1)  # Keras's copy, taken away for the offline half
    recorded_as = ({"weights": "imagenet", "weights_source": None} if recorded == "word" else
                   {"weights": weights_identity("imagenet", "mobilenet_v2", 32), "weights_source": "imagenet"})
    copy = weights.read_bytes()
    weights.unlink()
    est, meta = load_head(tiny_head)
    imagenet = save_head(est, tmp_path / "imagenet.keras", {**meta, **recorded_as})
    read = []

    def reading(*args, **kwargs):
        read.append(args)
        raise LookupError("images read")

    monkeypatch.setattr(finetune_mod, "reopen_source", reading)
    err = _one_line_error(capsys, ["finetune", str(imagenet), "--out", str(tmp_path / "m.keras")],
                          "could not obtain ImageNet weights for mobilenet_v2 (")
    assert weights.name in err and "Connection refused" in err, err  # Keras's download, refused by the proxy
    assert err.endswith("this machine may be offline: pass a local weights file with --weights PATH, or put "
                        f"Keras's file at {weights}") and read == []
    assert not (tmp_path / "m.keras").exists()
    weights.write_bytes(copy)
    with pytest.raises(LookupError, match="images read"):  # Keras's copy there: on to the images
        featcache.finetune(imagenet, out=tmp_path / "m.keras")
    assert len(read) == 1


def test_api_mirrors_cli(tiny_head, tmp_path):
    with pytest.raises(FeatcacheError, match=r"^unfreeze must be 0 or more \(got -3\); pass e\.g\. unfreeze=20 \(the lesson's"):
        featcache.finetune(tiny_head, unfreeze=-3)
    with pytest.raises(FeatcacheError, match="more than the 154 layers"):
        featcache.finetune(tiny_head, unfreeze=155, verbose=False)
    # unfreeze=1.5 fine-tuned nothing and saved the model; the others ended in "'<' not supported" (an adversarial tester)
    for kwargs, message in [({"unfreeze": 1.5}, r"^unfreeze=1\.5 is not a whole number; pass e\.g\. unfreeze=20"),
                            ({"unfreeze": None}, "^unfreeze=None is not a whole number"),
                            ({"unfreeze": True}, "^unfreeze=True is not a whole number"),
                            ({"learning_rate": "fast"}, r"^learning_rate='fast' is not a number; pass e\.g\. "
                                                        r"learning_rate=1e-5 \(the lesson's\)$"),
                            ({"learning_rate": None}, r"^learning_rate=None is not a number; pass e\.g\. learning_rate=1e-5"),
                            ({"learning_rate": float("inf")}, "^learning_rate must be a positive number"),
                            ({"epochs": 2.5}, "^epochs=2.5 is not a whole number")]:
        with pytest.raises(FeatcacheError, match=message):
            featcache.finetune(tiny_head, **kwargs, verbose=False)
    assert not (tmp_path / "home" / "models").exists()  # nothing written by a refused run


def test_the_cli_s_text_is_read_and_the_api_takes_numbers():
    """The settings as the CLI passes them (argparse's text) are read as numbers; a Python call passes numbers (a
    whole number as an int, NumPy's too: a float is refused, 64.0 included, as scikit-learn does; helper-301), and a
    number's text is refused there (helper-281)."""
    from featcache.deploy.finetune import check_settings
    from featcache.errors import cli_words

    with cli_words():
        assert check_settings("20", "1e-5", "5", "64", "2") == (20, 1e-5, 5, 64, 2)
    assert check_settings(20, 1e-5, 5, np.int64(64), 2) == (20, 1e-5, 5, 64, 2)
    with pytest.raises(FeatcacheError, match=r"^batch_size=64\.0 is not a whole number; pass e\.g\. batch_size=64$"):
        check_settings(20, 1e-5, 5, 64.0, 2)
    assert check_settings(0, 1, 1, 1, 1) == (0, 1.0, 1, 1, 1)  # 0: the head alone trains (the CLI's 0..154)


def test_finetune_settings_are_its_keywords_checked_once():
    """finetune's settings keywords build a FinetuneSettings, which run_finetune runs (as learning_curve's keywords a
    CurveSpec for run_curve): its defaults are the signature's, which the CLI's help quotes (one home), and it is
    checked when made, as finetune checked the keywords; what a model records of it is asked()."""
    import dataclasses
    import inspect

    from featcache.deploy.finetune import FinetuneSettings, run_finetune

    keywords = inspect.signature(featcache.finetune).parameters
    fields = dataclasses.fields(FinetuneSettings)
    assert all(keywords[f.name].default == f.default for f in fields), [(f.name, f.default) for f in fields]
    settings = FinetuneSettings(20, 1e-5, 5, np.int64(64), 2, seed=7)  # NumPy's int kept as the int
    assert (settings.unfreeze, settings.learning_rate, settings.epochs, settings.batch_size, settings.seed) == (20, 1e-5, 5, 64, 7)
    assert type(settings.batch_size) is int
    assert settings.asked() == {"unfreeze": 20, "learning_rate": 1e-5, "max_epochs": 5, "batch_size": 64, "patience": 2,
                                "seed": 7, "keep_best": True}
    for kwargs, message in [({"epochs": 2.5}, "^epochs=2.5 is not a whole number"), ({"keep_best": "no"}, "^keep_best must be True or False"),
                            ({"batch_size": 64.0}, r"^batch_size=64\.0 is not a whole number; pass e\.g\. batch_size=64$"),  # h301
                            ({"seed": -1}, "seed")]:
        with pytest.raises(FeatcacheError, match=message):
            FinetuneSettings(**kwargs)
    with pytest.raises(FeatcacheError, match="^settings must be a FinetuneSettings, not dict"):
        run_finetune("h.keras", {"unfreeze": 20})


def test_images_stream_raw_in_batches_with_a_new_order_each_epoch(fashion_dir):
    from featcache.deploy.finetune import image_dataset, training_rows
    from featcache.sources import open_source

    split = open_source({"kind": "fashion_mnist", "data_dir": str(fashion_dir)}).splits["train"]
    train, val = training_rows({}, split.labels, 0.2)
    assert list(val) == list(range(38, 48)) and len(train) == 38  # the last 20%, as Keras's validation_split
    ds = image_dataset(split, train, 16, shuffle_seed=3)
    epochs = [[(x.numpy(), y.numpy()) for x, y in ds] for _ in range(2)]
    assert [len(y) for _, y in epochs[0]] == [16, 16, 6]
    x, y = epochs[0][0]
    assert x.dtype == np.uint8 and x.shape == (16, 28, 28, 1)  # raw pixels: preprocessing happens in the model
    order = [np.concatenate([y for _, y in e]) for e in epochs]
    images = [np.concatenate([x.reshape(len(x), -1) for x, _ in e]) for e in epochs]
    raw = split.read(0, 48).reshape(48, -1)
    # Every training image exactly once per epoch, in a different order each epoch.
    for imgs in images:
        assert sorted(map(bytes, imgs)) == sorted(map(bytes, raw[train]))
    assert not np.array_equal(images[0], images[1])
    again = [np.concatenate([y.numpy() for _, y in image_dataset(split, train, 16, shuffle_seed=3)])]
    assert np.array_equal(again[0], order[0])  # reproducible from the seed


def test_the_image_streams_reads_run_in_the_commands_words_on_tfs_threads(fashion_dir):
    """Regression (a reviewer, 2026-12-06): tf.data runs image_dataset's generator on TF's threads, which start
    without the command's words (errors.cli_words), so an error a read raised there named the API's keywords to a
    command's user. Each read runs in the words of the caller that built the stream (errors.carried)."""
    import threading

    from featcache.deploy.finetune import image_dataset
    from featcache.errors import cli_running, cli_words
    from featcache.sources import open_source

    split = open_source({"kind": "fashion_mnist", "data_dir": str(fashion_dir)}).splits["train"]
    seen = []
    real = split.read

    class Watched:  # the split, its reads noting the thread and the words they ran in
        labels = split.labels

        @staticmethod
        def read(start: int, stop: int) -> np.ndarray:
            seen.append((threading.get_ident(), cli_running()))
            return real(start, stop)

    with cli_words():
        ds = image_dataset(Watched(), np.arange(20), 8)
        assert sum(len(y) for _, y in ds) == 20
    on_tf = [words for thread, words in seen if thread != threading.get_ident()]
    assert on_tf and all(on_tf), seen  # read on TF's threads (else this test proves nothing), in the command's words


def test_data_that_changed_since_extraction_is_refused(tiny_head, tmp_path, capsys):
    head = _head_on_a_copy_of_its_images(tiny_head, tmp_path)
    make_fashion_dir(tmp_path / "fmnist", n_train=40, n_test=30, seed=7)  # same files, other pixels
    _one_line_error(capsys, ["finetune", str(head)], "changed since the head's cache was extracted (splits test, train differ)")


def test_a_changed_photo_of_a_test_fraction_split_is_not_blamed_on_both_splits(tmp_path, capsys):
    """Regression (a tester): with --test-fraction every photo is in both splits' digests, so one edited train photo
    said "split(s) test, train differ". Now the head's own training photos are checked by content, and a change
    elsewhere is said without naming a split."""
    from helpers import class_image, write_image

    from featcache.heads.io import digest_keys

    cache, root = featcache.open_cache(tiny_photo_cache(tmp_path, test_fraction=0.25)), tmp_path / "photos"
    head = DenseHead(epochs=1, early_stopping=False).fit(cache.features("train"), cache.labels("train"))
    meta = {**head_meta(cache, None, "keras", head), "train_digests": digest_keys(cache.digests("train"))}  # as train saves it
    head_path = save_head(head, tmp_path / "h.keras", meta)
    train_photo, test_photo = (root / cache.paths(split)[0] for split in ("train", "test"))
    kept = train_photo.read_bytes()
    write_image(train_photo, class_image(1, 99, 24))
    err = _one_line_error(capsys, ["finetune", str(head_path)], "changed since the head's cache was extracted (1 of the head's "
                          f"{cache.sizes['train']} training photos is gone or edited); restore them")
    assert not re.search(r"\(splits? [a-z, ]+ differs?\)", err), err
    train_photo.write_bytes(kept)
    write_image(test_photo, class_image(1, 99, 24))
    err = _one_line_error(capsys, ["finetune", str(head_path)], "(a photo was added, removed, renamed or edited; --test-fraction "
                          "draws both splits from all the photos, so which split changed cannot be told)")
    assert not re.search(r"\(splits? [a-z, ]+ differs?\)", err), err


# The split digests main at 14d9896 (copies of a photo in a class were rows then) gave at 32 px the folders of
# test_a_head_of_a_cache_with_copies_as_rows_is_refused_for_the_copies_not_as_changed, the decoder's identity pinned.
_BEFORE_COPIES_ONCE = {
    "folders": {"train": "7370fbcfb68b9a99f44eb67f6611c61ae1114ecefe0d58f3addeb11a2a7e9d2d",
                "test": "86c965cd28fa042a86bbb3f6bd4ac6fe701777ea210e272c786c2640697e333f"},
    "fraction": {"train": "999a59f398f5d6120f167e6b9ebc460918b757e59452a2c8d7ad22afad9862ff",
                 "test": "0e7147b0858898d074a2dd5b4b4af2f01d9c5df66174f8d5176dabd5a426d346"}}


def test_a_head_of_a_cache_with_copies_as_rows_is_refused_for_the_copies_not_as_changed(tmp_path, capsys, monkeypatch):
    """Regression (a reviewer, 2026-12-06): finetune of a head whose cache was made before copies of a photo in a
    class were counted once (they were rows) said "the images at ... changed since the head's cache was extracted
    (split(s) test, train differ); restore them": nothing had changed, and val/ was named with every copy in train/,
    as the copies' rule went into both splits' digests. Now a split without copies keeps the digest it had (val/
    here), and the refusal says it is the copies. The old cache is stood for by its data digests as main at 14d9896
    computed them on these hand-written files (a cache it made holds them so); checked by hand with a cache and head
    made by that code on a tiny folder."""
    from featcache.sources import images

    monkeypatch.setattr(images, "decoder_identity", lambda: "pinned")
    two = tmp_path / "two"
    ppm_tree(two / "train", {"ants": 2, "bees": 2})
    ppm_tree(two / "val", {"ants": 1, "bees": 1}, offset=5)
    (two / "train/ants/ants_0_copy.ppm").write_bytes((two / "train/ants/ants_0.ppm").read_bytes())
    one = ppm_tree(tmp_path / "one", {"ants": 4, "bees": 3})
    (one / "ants/ants_1_copy.ppm").write_bytes((one / "ants/ants_1.ppm").read_bytes())
    for name, source, copy in (("folders", featcache.PhotoFolder(str(two)), "train/ants/ants_0_copy.ppm of train/ants/ants_0.ppm"),
                               ("fraction", featcache.PhotoFolder(str(one), test_fraction=0.5, seed=1), "ants/ants_1_copy.ppm of ants/ants_1.ppm")):
        res = featcache.extract(source, featcache.ModelSpec(weights="random", image_size=32),
                                featcache.StoreSpec(out=tmp_path / f"{name}.h5"), verbose=False)
        cache = featcache.open_cache(res.path)
        if name == "folders":  # val/ holds no copy: its digest is the one it had
            assert cache.meta["settings"]["data_digest"]["test"] == _BEFORE_COPIES_ONCE[name]["test"]
        head = DenseHead(epochs=1, early_stopping=False).fit(cache.features("train"), cache.labels("train"))
        meta = {**head_meta(cache, None, "keras", head), "data_digest": _BEFORE_COPIES_ONCE[name]}
        head_path = save_head(head, tmp_path / f"{name}.keras", meta)
        err = _one_line_error(capsys, ["finetune", str(head_path)], "copies of a photo in a class are counted once since "
                              f"2026-12-06 ({copy}): re-extract and retrain the head")
        assert "changed since" not in err and not re.search(r"\(splits? [a-z, ]+ differs?\)", err), err


def test_a_head_of_a_cache_made_by_an_older_decoder_is_refused_for_the_decoder_not_as_changed(tmp_path, capsys,
                                                                                              monkeypatch):
    """Regression (a brief, 2026-12-06): finetune of a head whose cache was made by featcache's image decoder v6 (v7
    now) said "the images at ... changed since the head's cache was extracted (split(s) test, train differ); restore
    them", where no photo had changed. It names the decoder and what v7 changed (``DataSource.rule_change``, the
    line extract says of such a cache). The v6 cache is made by the extraction run with v6's DECODER, which is all
    such a cache holds of its decoder (its data digests; test_images pins them to those v6 wrote)."""
    from featcache.sources import images

    root = ppm_tree(tmp_path / "photos", {"ants": 6, "bees": 6})
    with monkeypatch.context() as m:
        m.setattr(images, "DECODER", OLDER_DECODERS["v6"])
        res = featcache.extract(featcache.PhotoFolder(str(root), test_fraction=0.5),
                                featcache.ModelSpec(weights="random", image_size=32),
                                featcache.StoreSpec(out=tmp_path / "c.h5"), verbose=False)
    cache = featcache.open_cache(res.path)
    head = DenseHead(epochs=1, early_stopping=False).fit(cache.features("train"), cache.labels("train"))
    head_path = save_head(head, tmp_path / "h.keras", head_meta(cache, None, "keras", head))
    err = _one_line_error(capsys, ["finetune", str(head_path)], "photos are decoded by featcache's image decoder v7 "
                          "now (v7, since 2026-12-06, skips a PNG whose pixel data ends short of the rows its header "
                          "declares, whose missing rows came out black): re-extract and retrain the head; its cache "
                          f"was made by decoder v6, and nothing else changed at {root}")
    assert "changed since" not in err and "restore" not in err, err


@pytest.mark.slow
def test_class_folder_photos_fine_tune_export_and_predict(tmp_path, capsys):
    """The same path on RGB photos in class folders (random weights: plumbing only)."""
    cache = featcache.open_cache(tiny_photo_cache(tmp_path, {"ants": 12, "bees": 12}, ext="jpg", size=40, test_fraction=0.25))
    root = tmp_path / "photos"
    head = DenseHead(epochs=1, early_stopping=False).fit(cache.features("train"), cache.labels("train"))  # any fit
    head_path = save_head(head, tmp_path / "h.keras", head_meta(cache, None, "keras", head))
    r = featcache.finetune(head_path, unfreeze=5, epochs=1, batch_size=4, out=tmp_path / "ft.keras", verbose=False)
    assert (r.train_images + r.val_images, r.test_accuracy is not None) == (cache.sizes["train"], True)
    photo = next((root / "bees").glob("*.jpg"))
    assert main(["predict", str(r.path), str(photo), "--top-k", "2", "--json"]) == 0
    import json

    got = json.loads(capsys.readouterr().out)["predictions"]
    assert {t["class"] for t in got[0]["top"]} == {"ants", "bees"}
    # The fine-tuned model carries the content digest export's do (format 2): names reversed in it are refused.
    import zipfile

    from featcache.deploy.model import FORMAT_VERSION, check_content

    checked, meta = check_content(r.path)
    assert checked is True and meta["format_version"] == FORMAT_VERSION == 2
    bad = tmp_path / "reversed.keras"
    with zipfile.ZipFile(r.path) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "featcache.json":
                data = json.dumps({**json.loads(data), "class_names": ["bees", "ants"]}).encode()
            dst.writestr(item, data)
    _one_line_error(capsys, ["predict", str(bad), str(photo)], f"{bad} is damaged or was changed after 'featcache export' "
                    "or 'featcache finetune' saved it (its content_digest does not match its contents); re-export the model")


def test_a_tie_with_the_frozen_head_is_not_called_worse(capsys):
    """The best epoch tied the frozen head's val accuracy (0.8125 each) and lost on val loss, which was never shown,
    and the report said FINE-TUNING MADE VALIDATION WORSE (a new user). A tie now says so, with the frozen loss."""
    from featcache.deploy.finetune import FinetuneResult, _report

    def result(val_accuracy):
        return FinetuneResult(Path("ft.keras"), {}, [], 0.8125, frozen_val_loss=0.5,
                              epochs=[{"val_accuracy": val_accuracy, "val_loss": 0.6, "seconds": 1.0}])

    _report(result(0.8125))
    tie = capsys.readouterr().out.splitlines()[0]
    assert tie.startswith("FINE-TUNING DID NOT IMPROVE VALIDATION: the best epoch tied the frozen head's val accuracy "
                          "0.8125 with a higher val loss (frozen val loss 0.5000); kept the frozen head's weights")
    _report(result(0.75))
    assert capsys.readouterr().out.startswith("FINE-TUNING MADE VALIDATION WORSE: no epoch reached the frozen head's val "
                                              "accuracy 0.8125, val loss 0.5000; kept")


@pytest.mark.slow  # builds MobileNetV2 (3-13 s here)
def test_a_training_step_is_held_to_the_pass_bound_where_training_starts_early():
    """finetune had no memory bound: a step holds activations and gradients (up to 2.5x an inference pass when it
    trains from the first layers). The default --unfreeze 20 at 224 px keeps its batch of 64 (1.1 GB a step);
    training every layer at 224 px would hold 2.8 GB, so its steps are fewer images."""
    from featcache.deploy.endtoend import build_end_to_end
    from featcache.deploy.finetune import step_size, trained_stride, unfreeze_last
    from featcache.embedding import passes

    model = build_end_to_end("mobilenet_v2", "random", 96, 2, raw_input_shape=(28, 28, 1), raw_dtype="uint8")
    base = model.get_layer("base")
    # MobileNetV2's feature maps at 96 px: 48, 24, 12, 6, 3 px; where the first trained layer sits decides.
    for unfreeze, stride, step in [(0, 32, 512), (20, 32, 512), (100, 8, 512), (130, 4, 485), (154, 1, 270)]:
        unfreeze_last(base, unfreeze)
        assert trained_stride(base, 96) == stride, unfreeze
        assert step_size(model, 96, 512) == passes.PassSize(step, step, 1, bounded=step < 512), unfreeze
        assert step_size(model, 96, 64).images == 64  # the lesson's 96 px and batch: unchanged however much trains
    for stride, step in [(32, 64), (1, 49)]:  # photos at 224 px: the default --unfreeze 20 keeps its 64
        assert passes.images_per_pass(64, 224, kind="training", trained_stride=stride).images == step


@pytest.mark.slow  # one fine-tuning epoch
def test_finetune_runs_steps_of_no_more_images_than_the_bound(tiny_head, tmp_path, monkeypatch, capsys):
    """The bound's lowered --batch-size is a note, said with the progress off (conftest's setting), as extract's."""
    from featcache.deploy import finetune as ft
    from featcache.deploy.model import read_meta
    from featcache.embedding import passes

    head = tiny_head
    batches = []
    real = ft.image_dataset
    monkeypatch.setattr(ft, "image_dataset", lambda split, rows, bs, **kw: batches.append(bs) or real(split, rows, bs, **kw))
    # --unfreeze 5 trains from a late layer (stride 32): room for 5 such steps' images of 32 px
    monkeypatch.setattr(passes, "PASS_MEMORY", 5 * passes.image_bytes(32, kind="training", trained_stride=32))
    res = featcache.finetune(head, unfreeze=5, epochs=1, batch_size=16, out=tmp_path / "ft.keras", verbose=True)
    assert batches == [5, 5, 5]  # train, validation, test
    # in a Python call's words (it said "not --batch-size 16"; a review), the CLI's kept: bounded_step_note's test
    assert "5 images per training step, not batch_size=16: at 32 px with 5 layers unfrozen" in capsys.readouterr().err
    settings = read_meta(res.path)["finetune"]
    assert (settings["batch_size"], settings["step_images"]) == (16, 5)


def test_the_bounded_step_note_names_the_batch_size_in_the_callers_words():
    """Regression (a review): the note of a training step the memory bound made smaller named --batch-size to a
    Python call too; the CLI's line is as before."""
    from featcache.deploy.finetune import bounded_step_note
    from featcache.embedding import passes
    from featcache.errors import cli_words

    bound = f"{passes.PASS_MEMORY / 2**30:.0f} GB"
    assert bounded_step_note(5, 16, 32, 5) == (
        f"5 images per training step, not batch_size=16: at 32 px with 5 layers unfrozen more would need over {bound} of memory")
    with cli_words():
        assert bounded_step_note(5, 16, 32, 1) == (
            f"5 images per training step, not --batch-size 16: at 32 px with 1 layer unfrozen more would need over {bound} "
            "of memory")


def test_the_cli_takes_the_apis_name_for_the_learning_rate(monkeypatch, capsys):
    """finetune(learning_rate=) was --lr on the CLI only (a new user); --learning-rate now, --lr kept."""
    from featcache.cli import main
    from featcache.deploy import finetune as api

    seen = []

    def record(head, **kw):
        seen.append(kw)
        raise FeatcacheError("recorded")

    import inspect

    record.__signature__ = inspect.signature(api.finetune)  # the parser quotes the API's defaults
    monkeypatch.setattr(api, "finetune", record)
    for flag in ("--learning-rate", "--lr"):
        assert main(["finetune", "h.keras", flag, "3e-4"]) == 2
    # as typed: the API reads the number (check_settings), so that --lr 1e400 says it is no finite number, as --param
    # says it (argparse's float had made it inf)
    assert [kw.get("learning_rate") for kw in seen] == ["3e-4", "3e-4"]


def test_a_head_on_a_subset_finetunes_on_the_rows_it_was_trained_on_from_either_order():
    """A review: every class's first image now comes first in the subsets' order, and finetune rebuilt a head's
    subset from train_size and seed alone, so a head trained before on a small subset of unequal classes would
    finetune on other rows, its "held-out" validation rows partly its own training images. A head records the order
    (subset_order); one without the mark rebuilds its rows from the earlier order."""
    from featcache.analysis.subsets import CLASSES_FIRST, stratified_order, stratified_subset
    from featcache.deploy.finetune import training_rows

    y = np.repeat(np.arange(10), [25, 35, 30, 28, 33, 27, 31, 29, 32, 30])
    seed = next(s for s in range(200) if len(np.unique(y[stratified_order(y, s, classes_first=False)[:10]])) < 10)
    old, new = stratified_subset(y, 10, seed, classes_first=False), stratified_subset(y, 10, seed)
    assert not np.array_equal(old, new)
    for meta, rows in (({"train_size": 10, "seed": seed}, old),
                       ({"train_size": 10, "seed": seed, "subset_order": CLASSES_FIRST}, new)):
        train, val = training_rows(meta, y, 0.2)
        assert np.array_equal(np.concatenate([train, val]), rows)


def test_an_epoch_whose_loss_is_not_a_number_is_never_kept_and_stops_the_run(capsys, progress_on):
    """An adversarial tester: 'finetune --lr 1e308' reached NaN weights at epoch 1; they predict class 0 for every
    image, which beat a weak frozen head's val accuracy (0.225 against 0.175), so the NaN model was kept, saved
    (exit 0) and predict printed NaN probabilities. A non-finite loss stops the run and that epoch is never kept
    (with keep_best=False neither); a model of NaN weights is never written."""
    from types import SimpleNamespace

    from featcache._lazy import keras
    from featcache.deploy.finetune import FinetuneResult, _keep_best_callback, _report, _save
    from featcache.errors import FeatcacheError

    k = keras()
    model = k.Sequential([k.Input((2,)), k.layers.Dense(2)])
    frozen = [w.copy() for w in model.get_weights()]
    for keep_best in (True, False):
        result = FinetuneResult(Path("ft.keras"), {}, [], 0.175, frozen_val_loss=2.0, train_images=40, val_images=40)
        cb = _keep_best_callback(result, 2.0, 3, 3, keep_best, verbose=True)
        cb.set_model(model)
        cb.on_train_begin()
        cb.on_epoch_begin(0)
        model.set_weights([np.full_like(w, np.nan) for w in frozen])
        cb.on_epoch_end(0, {"loss": float("nan"), "accuracy": 0.1, "val_loss": float("nan"), "val_accuracy": 0.225})
        assert model.stop_training and result.diverged_epoch == 1 and result.best_epoch == 0
        cb.on_train_end()
        assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), frozen))  # the frozen head's, back
        assert result.epochs[0]["val_loss"] is None  # strict JSON: no NaN in the record
    assert "the loss is no longer a number" in capsys.readouterr().err  # a status line (stdout: the results)
    _report(result)
    assert capsys.readouterr().out.startswith("FINE-TUNING DIVERGED at epoch 1: its loss was no longer a number; the "
                                              "weights of the frozen head are kept")
    model.set_weights([np.full_like(w, np.nan) for w in frozen])
    with pytest.raises(FeatcacheError, match="fine-tuning left weights that are not numbers; nothing was written"):
        _save(SimpleNamespace(get_weights=model.get_weights), Path("never.keras"), {}, "h.keras", "w", {}, result)
    assert not Path("never.keras").exists()
    from featcache.deploy.model import run_model  # and a model of NaN weights predicts nothing

    with pytest.raises(FeatcacheError, match="the model gave probabilities that are not numbers for 3 of 3 image"):
        run_model(model, np.zeros((3, 2), np.float32))


def test_a_finetune_that_replaces_a_model_says_so(tmp_path, capsys):
    """An adversarial tester: a rerun of finetune replaced a better fine-tuned model without a word, where train and
    export say 'replaced ... there'; --json said nothing either. Saved twice to one path: the second says so."""
    from featcache._lazy import keras
    from featcache.deploy.finetune import FinetuneResult, _report, _save

    k = keras()
    inputs = k.Input((2,))
    model = k.Model(inputs, k.layers.Dense(2)(inputs))
    out = tmp_path / "ft.keras"
    meta = {"class_names": ["ants", "bees"], "backbone": "mobilenet_v2", "image_size": 32, "head": "keras", "params": {},
            "cache_fingerprint": "one"}  # "another cache" is said only where both record one (a review)
    settings = {"unfreeze": 20, "learning_rate": 1e-5, "max_epochs": 5}

    def result() -> FinetuneResult:
        return FinetuneResult(out, {}, [], 0.5, frozen_val_loss=1.0,
                              epochs=[{"val_accuracy": 0.6, "val_loss": 0.9, "seconds": 1.0}], best_epoch=1)

    for again in (False, True):
        r = result()
        _save(model, out, meta, "h.keras", "random", settings, r)
        assert r.replaced is again and r.to_dict()["replaced"] is again
        # what the run did is not the model's record (a review: every model recorded "replaced": false, set before
        # the check under the lock)
        from featcache.deploy.model import read_meta

        assert not {"replaced", "replaced_other_cache"} & set(read_meta(out)["finetune"])
    _report(r)
    assert capsys.readouterr().out.strip().endswith("s/epoch; replaced the model there -> " + str(out))
    # the check made again under the output's lock (save_model's recheck) compares the fine-tuning too: a model of
    # other settings found there at the save is refused (another finetune's, landed while this one trained)
    kept = out.read_bytes()
    with pytest.raises(FeatcacheError, match=r"holds a fine-tuned model of another fit \(fine-tuning learning rate "
                                             r"1e-5 there, 0.0001 here\); choose another out, or pass force=True"):
        _save(model, out, meta, "h.keras", "random", {**settings, "learning_rate": 1e-4}, result())
    assert out.read_bytes() == kept
    r = result()
    _save(model, out, meta, "h.keras", "random", {**settings, "learning_rate": 1e-4}, r, force=True)
    assert r.replaced and not r.replaced_other_cache
    # a model made from a head of another cache, replaced with --force: said, as without it (a review: --force never
    # said it)
    r = result()
    _save(model, out, {**meta, "cache_fingerprint": "another"}, "h.keras", "random", settings, r, force=True)
    assert r.replaced and r.replaced_other_cache and r.to_dict()["replaced_from"] == "another cache"
    _report(r)
    assert capsys.readouterr().out.strip().endswith("s/epoch; replaced the model made on another cache there -> " + str(out))


def test_a_finetune_result_whose_model_was_replaced_is_refused(tmp_path):
    """A reviewer: FinetuneResult went where its path goes (__fspath__) but had no written(), so after another finetune
    to its path a reader read the other model as the result's, where an ExportResult is refused (validate.Written)."""
    from featcache._lazy import keras
    from featcache.deploy.finetune import FinetuneResult, _save
    from featcache.deploy.model import read_meta

    k = keras()
    out = tmp_path / "ft.keras"
    meta = {"class_names": ["ants", "bees"], "backbone": "mobilenet_v2", "image_size": 32, "head": "keras", "params": {}}
    settings = {"unfreeze": 20, "learning_rate": 1e-5, "max_epochs": 5}
    results = []
    for seed in (0, 1):
        k.utils.set_random_seed(seed)  # another model each time: other weights, other bytes
        inputs = k.Input((2,))
        r = FinetuneResult(out, {}, [], 0.5, frozen_val_loss=1.0,
                           epochs=[{"val_accuracy": 0.6, "val_loss": 0.9, "seconds": 1.0}], best_epoch=1)
        _save(k.Model(inputs, k.layers.Dense(2)(inputs)), out, meta, "h.keras", "random", settings, r, force=True)
        assert read_meta(r)["class_names"] == ["ants", "bees"]  # as written: accepted
        results.append(r)
    with pytest.raises(FeatcacheError) as err:
        read_meta(results[0])
    assert str(err.value) == (f"{out} is no longer the model this FinetuneResult describes (another model was written "
                              f"there since); pass the path as a str (path={str(out)!r}) to use the model there now, "
                              "or finetune again to have a result of it")


def test_finetune_out_replaces_a_fine_tuned_model_only_of_the_same_fit_and_fine_tuning(tiny_head, tmp_path, capsys,
                                                                                      monkeypatch):
    """A tester: export and finetune replaced a model of the same data set and kind of head whatever its head's
    parameters or network (heads.io.other_fit returned [] for a fine-tuned model). finetune --out over a model
    refuses, before any work, one of another head fit (params, network, ...) or, over a fine-tuned one, of other
    fine-tuning settings (unfreeze, learning rate, epochs, batch size, patience, seed, keep best), in one line naming
    what differs and --force; a rerun of the same settings, or --force, goes on to the work."""
    from helpers import meta_only_model

    from featcache.deploy import finetune as finetune_mod
    from featcache.deploy.export import model_meta

    _, meta = load_head(tiny_head)
    asked = {"unfreeze": 20, "learning_rate": 1e-5, "max_epochs": 5, "batch_size": 64, "patience": 2, "seed": 0,
             "keep_best": True}  # the defaults
    tuned = {**model_meta(meta, tiny_head, "random"), "finetune": {**asked, "epochs_run": 2, "step_images": 64}}
    out = meta_only_model(tmp_path / "ft.keras", **tuned)
    kept = out.read_bytes()
    _one_line_error(capsys, ["finetune", str(tiny_head), "--lr", "1e-4", "--out", str(out)],
                    f"--out {out} holds a fine-tuned model of another fit (fine-tuning learning rate 1e-5 there, 0.0001 "
                    "here); choose another --out, or pass --force to replace it")
    _one_line_error(capsys, ["finetune", str(tiny_head), "--unfreeze", "5", "--epochs", "2", "--keep-last", "--out", str(out)],
                    "(fine-tuning unfreeze 20 there, 5 here; fine-tuning epochs 5 there, 2 here; fine-tuning keep best "
                    "true there, false here)")
    # a fine-tuned model of another head fit, or of the same head's fit on another network
    other_head = meta_only_model(tmp_path / "oh.keras", **{**tuned, "head_params": {**tuned["head_params"], "learning_rate": 0.01}})
    _one_line_error(capsys, ["finetune", str(tiny_head), "--out", str(other_head)],
                    "holds a fine-tuned model of another fit (learning_rate 0.01 there, 0.001 here)")
    imagenet = meta_only_model(tmp_path / "in.keras", **{**tuned, "weights": "imagenet"})
    _one_line_error(capsys, ["finetune", str(tiny_head), "--out", str(imagenet)], "(weights imagenet there, random here)")
    plain = meta_only_model(tmp_path / "plain.keras", **{**tuned, "finetune": None, "head_train_size": 7})
    _one_line_error(capsys, ["finetune", str(tiny_head), "--out", str(plain)],
                    "holds a model of another fit (train size 7 there, all here)")
    assert out.read_bytes() == kept

    def stop(*args, **kwargs):  # the work begins: the checks of --out let the run through
        raise FeatcacheError("past the checks")

    monkeypatch.setattr(finetune_mod, "reopen_source", stop)
    for argv in ([], ["--lr", "1e-4", "--force"]):
        _one_line_error(capsys, ["finetune", str(tiny_head), "--out", str(out), *argv], "past the checks")
    # an export of the same head fit: replaced by its fine-tuning (the export takes seconds to make again)
    _one_line_error(capsys, ["finetune", str(tiny_head), "--out", str(meta_only_model(tmp_path / "e.keras", **{**tuned, "finetune": None}))],
                    "past the checks")
    # a fine-tuned model from before its epochs asked for were recorded: unknown, not compared
    older = meta_only_model(tmp_path / "older.keras", **{**tuned, "finetune": {k: v for k, v in tuned["finetune"].items()
                                                                                 if k != "max_epochs"}})
    _one_line_error(capsys, ["finetune", str(tiny_head), "--epochs", "3", "--out", str(older)], "past the checks")
    # every setting finetune is asked for is one the rule compares: a setting added to the one and not the other
    # would go uncompared without a word (a review: the two lists live in deploy.finetune and deploy.model)
    from featcache.deploy import model as model_io
    from featcache.deploy.model import FINETUNE_FIT_KEYS

    seen = []
    real = model_io.check_same_model_job
    monkeypatch.setattr(model_io, "check_same_model_job", lambda *a, **kw: seen.append(a[2]) or real(*a, **kw))
    _one_line_error(capsys, ["finetune", str(tiny_head), "--out", str(out)], "past the checks")
    assert seen and set(seen[0]) == set(FINETUNE_FIT_KEYS)


def test_a_head_trained_without_validation_rows_is_said_to_flatter_the_frozen_choice(fashion_dir):
    """A head trained with validation_split 0 (reachable through train --param) had finetune validate on images it
    was trained on, which favours the frozen head in the best-epoch choice, without a word (an adversarial tester)."""
    from types import SimpleNamespace

    from featcache.deploy.finetune import TrainedOnValidationWarning, _Data
    from featcache.sources import open_source

    source = open_source({"kind": "fashion_mnist", "data_dir": str(fashion_dir)})
    with pytest.warns(TrainedOnValidationWarning, match=r"validation_split 0\), so the 0.2 finetune validates on"):
        data = _Data.of(SimpleNamespace(validation_split=0.0), {}, source)
    assert len(data.val_rows) == 10
    assert "(the last 0.2 of the head's training rows)" in data.describe()  # not "as its fit held out": it held none
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a head with its own validation rows: not a word
        _Data.of(SimpleNamespace(validation_split=0.2), {}, source)


@pytest.mark.slow
def test_finetune_of_a_views_head_says_it_runs_on_the_original_images_and_what_the_head_scored(tmp_path, capsys, progress_on):
    """A Keras head fitted on cached views and scored with them averaged (0.8163 in a tester's run) was fine-tuned on
    the original images and compared with its single-view score (0.8030) only: 'better' was said of a model below
    what the head scored, and nothing said the views were dropped (a new-user tester). Now it says so before
    training, and the report gives the head's averaged score beside the fine-tuned one (also in --json, with the
    settings its text prints)."""
    cache = tiny_fashion_cache(tmp_path, n_train=60, n_test=30, out="v.h5", views="orig,flip")
    trained = featcache.train(cache, head="keras", train_views="all", test_views="all", out=tmp_path / "h.keras",
                              epochs=2, verbose=False)
    _, meta = load_head(trained.path)
    assert meta["test_views"] == ["orig", "flip"]
    res = featcache.finetune(trained.path, weights="random", epochs=1, patience=1, out=tmp_path / "ft.keras", verbose=True)
    out, err = capsys.readouterr()
    assert ("the head was fitted on 2 cached views of each image (orig, flip) and scored "
            f"{meta['test_accuracy']:.4f} with 2 views averaged (orig, flip); fine-tuning trains and scores on the "
            "original images alone") in err  # said before the fit: a status line
    assert res.head_test_views == ["orig", "flip"] and res.head_views_test_accuracy == meta["test_accuracy"]
    assert f"the head with its 2 views averaged scored {meta['test_accuracy']:.4f}: the fine-tuned model is" in out
    d = res.to_dict()
    assert d["head_views_test_accuracy"] == meta["test_accuracy"]
    assert (d["settings"]["unfreeze"], d["settings"]["learning_rate"], d["settings"]["batch_size"]) == (20, 1e-5, 64)
    saved = featcache.info(res.path)
    assert saved["head_test_views"] == ["orig", "flip"] and "settings" not in saved["finetune"]


@pytest.mark.slow
def test_finetune_json_keeps_its_bars_on_stderr_and_stdout_is_the_json(tiny_head, tmp_path, capsys, progress_on):
    """finetune --json ran minutes without a line on stderr where predict --json draws its bar (a new-user tester):
    the bars are every command's under --json (bars_wanted); standard output is the JSON alone."""
    import json

    assert main(["finetune", str(tiny_head), "--weights", "random", "--epochs", "1", "--json", "--out", str(tmp_path / "f.keras")]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["settings"]["unfreeze"] == 20
    assert "epoch 1/1" in err and "frozen head, " in err and "fine-tuned, " in err


def test_finetune_views_words_name_what_the_head_did_with_views():
    """A head fitted on the original view and scored with views averaged was said 'fitted on 1 cached views of each
    image (orig)' (a review): each part is said only when the head did it."""
    from featcache.deploy.finetune import FinetuneResult, _views_words

    scored = FinetuneResult(Path("m.keras"), {}, [], 0.5, head_test_views=["orig", "flip"], head_views_test_accuracy=0.81)
    assert _views_words(scored, {"train_views": ["orig"], "test_views": ["orig", "flip"]}).startswith(
        "the head scored 0.8100 with 2 views averaged (orig, flip); fine-tuning")
    fitted = FinetuneResult(Path("m.keras"), {}, [], 0.5, head_test_views=["orig"])
    assert _views_words(fitted, {"train_views": ["orig", "flip"], "test_views": ["orig"]}).startswith(
        "the head was fitted on 2 cached views of each image (orig, flip); fine-tuning")
    # scored with --test-views only:flip,shift (h137): not read as the original and those views
    only = FinetuneResult(Path("m.keras"), {}, [], 0.5, head_test_views=["flip", "shift:+2,+2"], head_views_test_accuracy=0.7)
    assert _views_words(only, {"train_views": ["orig"], "test_views": ["flip", "shift:+2,+2"]}).startswith(
        "the head scored 0.7000 with 2 views averaged (flip, shift:+2,+2 (without the original view)); fine-tuning")


def test_finetune_views_keep_the_score_of_a_head_on_one_view_without_the_original_as_export_records_it():
    """Regression (a review): _head_views dropped the score of a head scored on only:flip (its one view: the
    len(test) > 1 condition) while export's model_meta records it as views_test_accuracy; and the head fitted on
    only:flip was said "fitted on 1 cached views of each image (flip)", as if with the original view."""
    from featcache.deploy.export import model_meta
    from featcache.deploy.finetune import FinetuneResult, _head_views, _views_words

    meta = {"train_views": ["flip"], "test_views": ["flip"], "test_accuracy": 0.7, "test_accuracy_orig": 0.4}
    exported = model_meta(meta, "h.npz", "random", ("flip",))["views_test_accuracy"]
    assert _head_views(meta) == (["flip"], 0.7) and exported == 0.7
    test, acc = _head_views(meta)
    words = _views_words(FinetuneResult(Path("m.keras"), {}, [], 0.5, head_test_views=test, head_views_test_accuracy=acc), meta)
    # validate.views_counted's words, not nested parentheses: "... (flip (without the original view)) and scored 0.7000
    # on view flip (without the original view)" (a reviewer, 2026-12-05)
    assert words.startswith("the head was fitted on the flip view alone, without the original view, and scored 0.7000 "
                            "on that view; fine-tuning"), words
    other = FinetuneResult(Path("m.keras"), {}, [], 0.5, head_test_views=["flip"], head_views_test_accuracy=0.7)
    assert _views_words(other, {"train_views": ["orig", "flip"], "test_views": ["flip"]}).startswith(
        "the head was fitted on 2 cached views of each image (orig, flip) and scored 0.7000 on the flip view alone, "
        "without the original view; fine-tuning")
    # the original view alone stays test_accuracy_orig's, in both
    plain = {"train_views": ["orig", "flip"], "test_views": ["orig"], "test_accuracy": 0.6}
    assert _head_views(plain) == (["orig"], None) and model_meta(plain, "h.npz", "random")["views_test_accuracy"] is None
