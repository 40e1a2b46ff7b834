"""The Keras head's validation images: Keras's last rows where they are a fair sample of the classes, else a
stratified pick (heads.dense.held_out), the same in train, curve, probe and finetune.

A new-user tester: a photo folder's cache stores its training rows in class order (ants, then bees), so the last
20% Keras holds out were all bees: early stopping watched bees alone, and finetune's "val accuracy" was bees recall.
"""

from __future__ import annotations

import gzip
import json
import warnings

import numpy as np
import pytest
from helpers import run_main, tiny_photo_cache

import featcache
from featcache.heads import DenseHead
from featcache.heads.dense import StratifiedValidationNote, validation_rows
from featcache.heads.views import fit_views


@pytest.fixture
def keras_rows(monkeypatch):
    """The rows each Keras fit trains and validates on, as the Keras model receives them (features, labels)."""
    import keras

    seen: list[dict[str, tuple[np.ndarray, np.ndarray]]] = []
    fit = keras.Model.fit

    def spy(self, x=None, y=None, **kw):
        if kw.get("validation_split") and kw.get("validation_data") is None:  # Keras's own cut, where it is asked for
            from keras.src.trainers.data_adapters.array_slicing import train_validation_split

            (tx, ty, _), (vx, vy, _) = train_validation_split((x, y, None), kw["validation_split"])
        else:
            (tx, ty), (vx, vy) = (x, y), kw["validation_data"]
        seen.append({"train": (np.asarray(tx), np.asarray(ty)), "val": (np.asarray(vx), np.asarray(vy))})
        return fit(self, x, y, **kw)

    monkeypatch.setattr(keras.Model, "fit", spy)
    return seen


def _ids(n: int, dims: int = 3) -> np.ndarray:
    """Features whose first column is the row's number: which rows a fit got, read back from what Keras saw."""
    return np.arange(n, dtype=np.float32)[:, None] + np.zeros((n, dims), np.float32)


def test_a_fit_on_rows_in_class_order_validates_on_every_class(keras_rows):
    # 30 ants then 30 bees, as a photo folder's cache stores them: Keras's last 12 rows are all bees
    y = np.repeat([0, 1], 30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a quiet fit: not a word (validation_rows_ records the pick)
        head = DenseHead(epochs=1, early_stopping=False, n_classes=2, seed=3).fit(_ids(60), y)
    rows = {side: keras_rows[-1][side][0][:, 0].astype(int) for side in ("train", "val")}
    assert len(rows["val"]) == 12 and len(rows["train"]) == 48  # as many as Keras holds out
    assert sorted(np.concatenate([rows["train"], rows["val"]]).tolist()) == list(range(60))  # each row on one side
    assert np.bincount(y[rows["val"]]).tolist() == [6, 6]  # each class its share
    assert head.validation_rows_ == "stratified"
    # a verbose head says so, named at the line that fitted it
    with pytest.warns(StratifiedValidationNote, match=r"the Keras head validates on a stratified pick of 20%, "
                                                      "drawn with its seed") as caught:
        DenseHead(epochs=1, early_stopping=False, n_classes=2, seed=3, verbose=1).fit(_ids(60), y)
    assert {w.filename for w in caught if w.category is StratifiedValidationNote} == {__file__}
    # drawn with the fit's seed: the same again, other images for another seed
    assert np.array_equal(validation_rows(60, 0.2, labels=y, seed=3)[1], np.sort(rows["val"]))
    assert not np.array_equal(validation_rows(60, 0.2, labels=y, seed=4)[1], np.sort(rows["val"]))
    # three classes in order, of unequal sizes: each class's share, within an image
    y3 = np.repeat([0, 1, 2], [50, 30, 20])
    _, val = validation_rows(100, 0.2, labels=y3, seed=0)
    assert np.bincount(y3[val]).tolist() == [10, 6, 4]


def test_a_fit_on_shuffled_rows_holds_out_kerass_last_rows_bit_for_bit(keras_rows):
    # Fashion-MNIST's rows are in a shuffled order: the lesson's recipe, Keras's own last 20%, row for row
    y = np.random.default_rng(0).permutation(np.arange(60) % 3)
    X = np.random.default_rng(1).normal(size=(60, 4)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not a word
        head = DenseHead(epochs=2, early_stopping=False, n_classes=3).fit(X, y)
    assert validation_rows(60, 0.2, labels=y) == (slice(0, 48), slice(48, 60))
    assert np.array_equal(keras_rows[-1]["val"][0], X[48:]) and np.array_equal(keras_rows[-1]["train"][0], X[:48])
    assert head.validation_rows_ == "last"
    # where the order alone left a class out of the last rows, as a shuffled order of few images often does (class 2's
    # two images among the first 8 of 10: 1 order in 3), Keras's cut stays: it is the lesson's recipe there
    y10 = np.array([0, 2, 1, 2, 0, 1, 0, 1, 0, 1])
    assert validation_rows(10, 0.2, labels=y10) == (slice(0, 8), slice(8, 10))


def test_every_fashion_mnist_fit_of_the_docs_keeps_kerass_last_rows(real_fashion_dir):
    # The lesson's table (its 4,000 images) and the 60,000-image curve (docs/results.md: 100-60,000 images, seeds 0-2)
    # keep Keras's cut, so none of their numbers moves; seed 1's 100-image subset misses a class in its last 20 rows,
    # which "every class held out" alone would have changed.
    from featcache.analysis.subsets import stratified_subsets
    from featcache.heads.dense import LAST_ROWS, held_out

    with gzip.open(real_fashion_dir / "train-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read()[8:], dtype=np.uint8).astype(np.int64)
    assert held_out(4000, 0.2, labels=y[:4000]).how == LAST_ROWS
    sizes = [100, 250, 500, 1000, 2000, 4000, 10000, 25000, 60000]
    for seed in range(3):
        for n, rows in stratified_subsets(y, sizes, seed).items():
            assert held_out(n, 0.2, labels=y[rows], seed=seed).how == LAST_ROWS, (n, seed)
    rows = stratified_subsets(y, [100], 1)[100]
    assert len(np.unique(y[rows][80:])) < 10  # the premise: a class absent from those 20 rows


def test_a_class_sorted_fit_on_views_holds_out_whole_images_of_every_class(keras_rows):
    # 2 views of 20 ants then 20 bees (image-major rows): 8 images held out, 4 of each class, both views of each
    V, n = 2, 40
    y = np.repeat([0, 1], 20)
    Xv = np.stack([_ids(n) + v / 10 for v in range(V)])  # feature = image + view/10
    fit_views(DenseHead(epochs=1, early_stopping=False, n_classes=2), Xv, y)
    images = {side: np.floor(keras_rows[-1][side][0][:, 0]).astype(int) for side in ("train", "val")}
    assert not set(images["train"]) & set(images["val"])  # an image's views on one side
    assert sorted(images["val"].tolist()) == np.repeat(np.unique(images["val"]), V).tolist()  # every view of each
    assert len(np.unique(images["val"])) == 8 and np.bincount(y[np.unique(images["val"])]).tolist() == [4, 4]
    # the images are those of one row per image (finetune's): the same pick
    assert np.array_equal(validation_rows(n, 0.2, labels=y, seed=0)[1], np.unique(images["val"]))


def _sorted_photo_cache(tmp_path, per_class: int = 20):
    return featcache.open_cache(tiny_photo_cache(tmp_path, {"ants": per_class, "bees": per_class}, test_fraction=0.25))


def test_train_records_the_stratified_pick_and_finetune_holds_out_the_same_images(tmp_path, keras_rows, capsys):
    from featcache.deploy.finetune import _Data, training_rows
    from featcache.heads.io import load_head
    from featcache.sources import open_source

    cache = _sorted_photo_cache(tmp_path)
    y = cache.labels("train")
    assert np.all(np.diff(y) >= 0)  # the premise: the cache's training rows in class order
    assert run_main(capsys, "train", str(cache.path), "--head", "keras", "--epochs", "2", "--seed", "5",
                    "--out", str(tmp_path / "h.keras")).returncode == 0
    X = cache.features("train")
    held_feats = keras_rows[-1]["val"][0]
    head_val = np.flatnonzero([any(np.array_equal(x, h) for h in held_feats) for x in X])
    assert len(np.unique(y[head_val])) == 2  # both classes held out by the head's fit
    est, meta = load_head(tmp_path / "h.keras")
    assert meta["validation_rows"] == "stratified"
    # finetune's validation images: the very ones the head's early stopping held out
    _, val = training_rows(meta, y, 0.2, seed=5)
    assert np.array_equal(val, head_val)
    data = _Data.of(est, meta, open_source(meta["source"]))
    assert np.array_equal(data.val_rows, head_val) and "a stratified pick of 0.2" in data.describe()


def test_train_and_curve_say_once_that_they_validate_on_a_stratified_pick(tmp_path, capsys):
    cache = _sorted_photo_cache(tmp_path)
    res = run_main(capsys, "train", str(cache.path), "--head", "keras", "--epochs", "1", "--out", str(tmp_path / "h.keras"))
    assert res.returncode == 0 and res.stderr.count("note: Keras's validation rows, the last 20%") == 1, res.stderr
    # 1 epoch and no plot (was the lesson's 5 and curve.png): the note is said of the fits, whatever their epochs
    res = run_main(capsys, "curve", str(cache.path), "--sizes", "20,30", "--seeds", "2", "--heads", "keras",
                   "--param", "keras.epochs=1", "--no-plot", "--out", str(tmp_path / "curve"))
    assert res.returncode == 0 and res.stderr.count("validates on a stratified pick") == 1, res.stderr


def test_a_quiet_train_on_a_photo_folders_cache_says_nothing_and_a_verbose_one_notes_it_at_the_callers_line(tmp_path):
    # The note showed on every Keras fit of a photo folder's cache, verbose=False too, as a UserWarning named at
    # heads/views.py's line, about a choice of featcache's own with nothing to fix (a notebook tester)
    from featcache.heads.io import load_head

    cache = _sorted_photo_cache(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # featcache's notes (Keras's own DeprecationWarnings aside)
        quiet = featcache.train(cache, "keras", epochs=1, out=tmp_path / "q.keras")
    assert load_head(quiet.path)[1]["validation_rows"] == "stratified"  # recorded all the same
    with pytest.warns(StratifiedValidationNote, match="validates on a stratified pick") as caught:
        featcache.train(cache, "keras", epochs=1, out=tmp_path / "v.keras", verbose=True)
    assert [w.filename for w in caught if w.category is StratifiedValidationNote] == [__file__]


def test_finetune_of_a_head_from_before_the_record_validates_on_its_last_rows_and_says_they_miss_a_class(tmp_path):
    # A head trained before 2026-12-05 held out its last rows whatever their classes: finetune validates on the same
    # images (others would be partly the head's training images) and says they leave out a class.
    from featcache.deploy.finetune import OneSidedValidationWarning, _Data
    from featcache.heads.io import head_meta
    from featcache.sources import open_source

    cache = _sorted_photo_cache(tmp_path)
    y = cache.labels("train")
    est = DenseHead(epochs=1, early_stopping=False)
    meta = {k: v for k, v in head_meta(cache, None, "keras", est).items() if k != "validation_rows"}
    with pytest.warns(OneSidedValidationWarning, match=r"the last 20% of its training images .* class 'ants' is missing from them or from the rest; .* train the head again"):
        data = _Data.of(est, meta, open_source(meta["source"]))
    assert data.val_rows.tolist() == list(range(len(y) - 6, len(y))) and set(y[data.val_rows]) == {1}
    assert "the last 0.2" in data.describe()


def test_a_curve_folder_from_before_fits_again_only_the_keras_rows_whose_last_rows_left_a_class_out(tmp_path, capsys):
    # A resume into an older folder must not mix bees-only validation points with new ones: the Keras rows whose
    # subset's last rows leave a class out are fitted again, the rest (logreg's; Keras's at 10 images: 2 held out of
    # 5 + 5, which a shuffle may leave one-sided) kept.
    from featcache.analysis.curve.folder import VALIDATION, curve_key, read_rows, write_rows

    cache = _sorted_photo_cache(tmp_path)
    kw = dict(sizes=[10, 30], seeds=1, heads=("logreg", "keras"), out=tmp_path / "curve", plot=False)
    first = featcache.learning_curve(cache.path, **kw)
    meta = json.loads(first.json.read_text())
    assert meta.pop(VALIDATION) == "every-class"
    meta.pop("record_sha256"), meta.pop("written_sha256")  # nor did curve.json carry digests then
    first.json.write_text(json.dumps(meta))  # as a folder written before the mark
    # other numbers, as bees-only validation gave (none of 10 test images scores 0.1234), under valid checksums
    write_rows(first.csv, [{**r, "accuracy": 0.1234} for r in read_rows(first.csv)], curve_key(meta["identity"]))
    capsys.readouterr()
    again = featcache.learning_curve(cache.path, **kw)
    err = capsys.readouterr().err
    assert "1 row of" in err and "(keras, sizes 30) were fitted before the Keras head validated on images of every" in err
    assert (again.fits, again.resumed) == (1, 3)  # keras at 30 fitted again, the rest kept
    assert {(r["head"], r["size"]): r["accuracy"] for r in again.rows} == {
        **{(r["head"], r["size"]): 0.1234 for r in first.rows}, ("keras", 30): next(
            r["accuracy"] for r in first.rows if (r["head"], r["size"]) == ("keras", 30))}
    assert json.loads(first.json.read_text())[VALIDATION] == "every-class"
    assert featcache.learning_curve(cache.path, **kw).fits == 0  # the folder has the mark again


def test_a_verbose_curve_call_says_each_note_once_and_prints_the_summary_as_the_cli_does(tmp_path, capsys):
    # A notebook tester: curve(..., verbose=True) said the stratified validation note once per Keras fit and the
    # fewer-folds note once per seed (Python's once-per-line registry is reset by the solver's catch_warnings), where
    # the CLI says one 'note:' line for each; and it left out the per-head summary the CLI prints.
    from featcache.heads.views import FewerFoldsNote

    cache = _sorted_photo_cache(tmp_path)
    # keras at 1 epoch (curve's lesson preset: 5): the notes and the summary are said of each fit whatever its epochs
    kw = dict(seeds=2, heads=("logreg", "keras"), head_params={"logreg": {"C": "cv"}, "keras": {"epochs": 1}})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # every warning Python is asked to show
        res = featcache.curve(cache, [8, 30], out=tmp_path / "api", plot=False, verbose=True, **kw)
    out = capsys.readouterr().out
    said = [str(w.message) for w in caught if w.category in (StratifiedValidationNote, FewerFoldsNote)]
    assert sorted(said) == sorted(set(said)) and len(said) == 2, said  # each note, once
    assert {w.filename for w in caught if w.category in (StratifiedValidationNote, FewerFoldsNote)} == {__file__}
    # the summary: printed, and the result's (one home with the CLI's lines)
    assert res.summary == res.to_dict()["summary"] and set(res.summary) == {"logreg", "keras"}
    assert set(res.summary["logreg"]) == {"8", "30"}  # 30: every training image, in class order
    lines = res.text().splitlines()
    assert [ln.split()[0] for ln in lines] == ["logreg", "keras"] and all(ln in out.splitlines() for ln in lines), out
    cli = run_main(capsys, "curve", str(cache.path), "--sizes", "8,30", "--seeds", "2", "--heads", "logreg,keras",
                   "--param", "logreg.C=cv", "--param", "keras.epochs=1", "--no-plot", "--out", str(tmp_path / "cli"))
    assert cli.returncode == 0 and cli.stdout.splitlines()[-2:] == lines, cli.stdout
    assert cli.stderr.count("note: ") == 2, cli.stderr
