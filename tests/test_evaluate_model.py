"""featcache evaluate MODEL FOLDER: an exported or fine-tuned model scored on a folder of labelled photos.

A new-user tester (M3) had no way to score a model file on a new labelled folder: predict gave one class per file,
evaluate refused a model, and the accuracy was computed from predict's CSV by hand. These tests compute it the
same way, from predict's CSV of the same files, and check evaluate says the same.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import (class_image, make_class_tree, model_conversion, refused_while_converting, run_main, stopped_lock_holder,
                     write_image)

import featcache
from featcache.deploy.model import read_meta
from featcache.sources.decode import NOT_AN_IMAGE
from featcache.validate import file_sha256


def _tiny_model(tmp: Path, classes: dict[str, int] = {"ants": 6, "bees": 6}) -> Path:
    """An exported logreg model of tiny JPEGs on random weights (as test_export_predict makes its photo models)."""
    root = make_class_tree(tmp / "photos", classes, ext="jpg", size=40)
    res = featcache.extract(featcache.PhotoFolder(str(root), test_fraction=0.5),
                            featcache.ModelSpec(weights="random", image_size=32), featcache.StoreSpec(out=tmp / "c.h5"))
    return featcache.export(featcache.train(res.path, "logreg", out=tmp / "h.npz").path, tmp / "m.keras").path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tiny")
    return _tiny_model(tmp), tmp


def _csv_accuracy(path: Path) -> tuple[float, int, dict[str, str]]:
    """(accuracy, images, {file: predicted class}) of predict's CSV, each file's class its folder's name."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    predicted = {r["input"]: r["class_1"] for r in rows}
    right = sum(Path(p).parent.name == c for p, c in predicted.items())
    return right / len(rows), len(rows), predicted


def test_the_metrics_are_scikit_learns():
    """``analysis.evaluate.metrics`` counts what scikit-learn's confusion_matrix and precision_recall_fscore_support
    (zero_division=0) gave, which it ran until evaluating a model on photos stopped importing scikit-learn (its
    import was seconds of a loaded machine's evaluate): random labels of 5 classes, one class never predicted, one
    without images, and one with neither."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    from featcache.analysis.evaluate import metrics

    rng = np.random.default_rng(0)
    names = ["a", "b", "c", "d", "e"]
    y_true, y_pred = rng.choice([0, 1, 3], 200), rng.choice([0, 1, 2], 200)  # 2 never true, 3 never predicted, 4 neither
    accuracy, per_class, cm = metrics(y_true, y_pred, names)
    labels = np.arange(len(names))
    precision, recall, _, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    np.testing.assert_array_equal(cm, confusion_matrix(y_true, y_pred, labels=labels))
    assert per_class == [{"class": n, "precision": float(p), "recall": float(r), "support": int(s)}
                         for n, p, r, s in zip(names, precision, recall, support)]
    assert accuracy == float(np.mean(y_true == y_pred)) and 0 < accuracy < 1


@pytest.mark.parametrize("y_true, y_pred, said", [
    ([0, 1, 2], [0, 1, 3], "prediction 3 is no class of the 3 named (labels are 0 to 2)"),
    ([0, 1, 3], [0, 1, 1], "true label 3 is no class of the 3 named (labels are 0 to 2)"),
    ([0, 1, -1], [0, 1, 1], "true label -1 is no class of the 3 named"),
    ([0, 1], [0, 1, 1], "metrics needs one true label per prediction"),
])
def test_metrics_refuse_labels_outside_the_classes(y_true, y_pred, said):
    """Regression (helper-296's brief): a prediction of 3 with 3 classes was counted in another cell without a word, a
    true label out of range a ValueError's traceback (reshape, bincount); refused in one line (scikit-learn dropped
    them: a matrix that is not the run's)."""
    from featcache.analysis.evaluate import metrics

    with pytest.raises(featcache.FeatcacheError, match="^" + re.escape(said)) as exc:
        metrics(np.asarray(y_true), np.asarray(y_pred), ["a", "b", "c"])
    assert "\n" not in str(exc.value)


def test_a_model_scored_on_a_class_folder_tree_says_what_predicts_csv_says(tiny, tmp_path, capsys):
    model, _ = tiny
    # new photos, a file extract would skip (no image) and one that does not decode: both skipped by evaluate
    val = make_class_tree(tmp_path / "val", {"ants": 6, "bees": 5}, ext="jpg", size=40, offset=50)
    (val / "ants" / "notes.txt").write_text("not a photo")
    (val / "bees" / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    (val / "README").write_text("beside the class folders")  # extract's rule: not inside a class folder, skipped
    # One photo filed under the class the model gives it and one under the other: whatever a random-weights model
    # says of the rest, the folder holds a right answer and a wrong one (0 < accuracy < 1 was luck: an ant in bees/
    # the model happened to call an ant).
    probe = [write_image(tmp_path / "probe" / f"{i}.jpg", class_image(i, 99, 40)) for i in (0, 1)]
    said = [p.top[0][0] for p in featcache.predict(model, probe, runtime="tensorflow")]
    right = val / said[0] / "known_right.jpg"
    wrong = val / {"ants": "bees", "bees": "ants"}[said[1]] / "known_wrong.jpg"
    for src, dst in ((probe[0], right), (probe[1], wrong)):
        dst.write_bytes(src.read_bytes())
    got = run_main(capsys, "predict", str(model), str(val), "--recursive", "--csv", str(tmp_path / "p.csv"))
    assert got.returncode == 0, got.stderr
    accuracy, images, predicted = _csv_accuracy(tmp_path / "p.csv")
    assert images == 13  # what predict read: the three bad files are not among them

    got = run_main(capsys, "evaluate", str(model), str(val), "--out", str(tmp_path / "rep"), "--runtime", "tensorflow")
    assert got.returncode == 0, got.stderr
    assert f"accuracy  {accuracy:.4f} on 13 images" in got.stdout and "runtime   tensorflow" in got.stdout
    assert "evaluate: skipped 3 files (1 not in a class folder, 1 not an image, 1 unreadable)," in got.stderr and "cut.jpg" in got.stderr and "notes.txt" in got.stderr
    report = json.loads((tmp_path / "rep" / "evaluation.json").read_text())
    assert report["accuracy"] == pytest.approx(accuracy) and np.sum(report["confusion"]) == images
    assert report["model"] == {"path": str(model), "abspath": os.path.abspath(model), "sha256": file_sha256(model),
                               "content_digest": read_meta(model)["content_digest"]}
    assert report["folder"]["images"] == 13 and len(report["folder"]["fingerprint"]) == 64
    assert report["runtime"] == "tensorflow" and report["class_names"] == ["ants", "bees"]
    assert sorted(s[0] for s in report["folder"]["skipped"]) == [str(val / "README"), str(val / "ants" / "notes.txt"),
                                                               str(val / "bees" / "cut.jpg")]
    # the files it got wrong are those the CSV got wrong, among them the one filed under the other class, never the
    # one filed under its own; each class's row of the confusion matrix is the CSV's
    missed = {p for p, c in predicted.items() if Path(p).parent.name != c}
    assert str(wrong) in missed and str(right) not in missed
    assert {w["path"] for w in report["misclassified"]} == missed
    assert [w for w in report["misclassified"] if w["path"] == str(wrong)][0]["predicted"] == said[1]
    # one set of keys (a session's brief, 2026-12-06): "index" (a copy of "row") and "image" (of "path") are gone
    assert all(set(w) == {"row", "path", "true", "predicted", "probability"} for w in report["misclassified"]), report
    from_csv = [[sum(Path(p).parent.name == t and c == q for p, c in predicted.items()) for q in ("ants", "bees")]
                for t in ("ants", "bees")]
    assert report["confusion"] == from_csv
    # and the report's text is evaluation.txt's
    assert (tmp_path / "rep" / "evaluation.txt").read_text().startswith(f"model     {model} (model of a logreg head, sha256 ")
    assert (tmp_path / "rep" / "confusion.png").stat().st_size > 0

    # the API mirrors it, --json prints the same dictionary, and a rerun replaces the report it wrote
    res = featcache.evaluate(model, val, write=False, runtime="tensorflow")
    assert res.accuracy == pytest.approx(accuracy) and res.images == images and res.files == {}
    files = [tmp_path / "rep" / name for name in ("evaluation.json", "evaluation.txt", "confusion.png")]
    before = {f: f.stat().st_ino for f in files}
    got = run_main(capsys, "evaluate", str(model), str(val), "--out", str(tmp_path / "rep"), "--json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["folder"]["fingerprint"] == report["folder"]["fingerprint"]
    # each of the three files is a new one (written beside, then renamed over), with the rerun's report in it
    assert all(f.stat().st_ino != before[f] for f in files)
    assert json.loads(files[0].read_text())["accuracy"] == pytest.approx(accuracy)
    assert files[1].read_text().startswith(f"model     {model} (model of a logreg head, sha256 ")


def test_class_folders_that_are_not_the_models_classes_are_one_line(tiny, tmp_path, capsys):
    """A folder of the model's classes in another case names the fix plainly, "rename Ants to ants" (it said "Ants for
    ants", a new-user tester, helper-262: the old code fails the first case)."""
    model, _ = tiny
    cases = {"Ants": make_class_tree(tmp_path / "case", {"Ants": 2, "bees": 2}, ext="jpg", size=40),
             "wasps": make_class_tree(tmp_path / "other", {"ants": 2, "bees": 2, "wasps": 2}, ext="jpg", size=40)}
    make_class_tree(tmp_path / "split" / "train", {"ants": 2, "bees": 2}, ext="jpg", size=40)
    make_class_tree(tmp_path / "split" / "val", {"ants": 2, "bees": 2}, ext="jpg", size=40)
    want = {
        "Ants": f"the class folders of {cases['Ants']} (Ants, bees) are not the model's classes (ants, bees): in "
                "another case than the model's: Ants (class names are case-sensitive, as extract reads them: rename "
                "Ants to ants); "
                "name each subfolder as one of the model's classes, or evaluate on a folder of the data set the "
                "model was trained on",
        "wasps": f"the class folders of {cases['wasps']} (ants, bees, wasps) are not the model's classes (ants, bees): "
                 "not the model's: wasps; name each subfolder as one of the model's classes",
    }
    for name, folder in cases.items():
        got = run_main(capsys, "evaluate", str(model), str(folder), "--out", str(tmp_path / "rep"))
        assert got.returncode == 2 and len(got.stderr.splitlines()) == 1, got.stderr
        assert got.stderr.startswith(f"featcache evaluate: error: {want[name]}"), got.stderr
    got = run_main(capsys, "evaluate", str(model), str(tmp_path / "split"), "--out", str(tmp_path / "rep"))
    assert got.returncode == 2 and got.stderr.strip() == (
        f"featcache evaluate: error: {tmp_path / 'split'} is split into train/ and val/; evaluate scores one tree of "
        f"class folders: pass {tmp_path / 'split' / 'val'}")
    got = run_main(capsys, "evaluate", str(model), str(tiny[1] / "c.h5"))  # a cache with a model: what scores one
    assert got.returncode == 2 and got.stderr.strip() == (
        f"featcache evaluate: error: {model} is a model written by 'featcache export' or 'featcache finetune', not a "
        "head; classify images with 'featcache predict' (score it on photos in class folders: 'featcache evaluate "
        f"MODEL FOLDER'), or pass the head it was made from, {(tiny[1] / 'h.npz').resolve()}")
    # the head it was made from, named from the model's record (it named none; a new-user tester): gone, it says so
    head = Path(shutil.copy(tiny[1] / "h.npz", tmp_path / "h2.npz"))
    other = featcache.export(head, tmp_path / "m2.keras").path
    head.unlink()
    got = run_main(capsys, "evaluate", str(other), str(tiny[1] / "c.h5"))
    assert got.returncode == 2 and got.stderr.strip().endswith(
        f"or pass the head it was made from ({head.resolve()}, which is no longer there)"), got.stderr
    got = run_main(capsys, "evaluate", str(model), str(tmp_path / "nowhere"))
    assert got.returncode == 2 and got.stderr.strip() == (
        f"featcache evaluate: error: photo folder not found: {tmp_path / 'nowhere'}; a model is scored on photos: pass "
        "a folder with one subfolder of photos per class of the model (ants, bees)")
    # a head's options with a model, and a model's with a head: each one line naming the option
    got = run_main(capsys, "evaluate", str(model), str(cases["wasps"]), "--split", "train")
    assert got.returncode == 2 and "--split is for a head scored on a cache" in got.stderr, got.stderr
    got = run_main(capsys, "evaluate", str(tiny[1] / "h.npz"), str(tiny[1] / "c.h5"), "--runtime", "tensorflow")
    # the commands that write a model named as every line names them: "'featcache export' or 'finetune'" named no
    # command one can run (a review, helper-298)
    assert got.returncode == 2 and "--runtime is for a model file ('featcache export' or 'featcache finetune') run on " \
        "photos" in got.stderr, got.stderr
    got = run_main(capsys, "evaluate", str(tiny[1] / "h.npz"), str(tiny[1] / "c.h5"), "--lock-timeout", "5")
    assert got.returncode == 2 and "--lock-timeout is for a model file" in got.stderr, got.stderr
    assert not (tmp_path / "rep").exists()  # nothing written by a refused run


TRAIN_PER_CLASS = 40
VAL_PER_CLASS = 30


def test_the_real_logreg_model_on_hymenoptera_val_scores_as_its_head_and_predicts_csv(real_weights, hymenoptera_dir,
                                                                                        tmp_path, capsys):
    """The tester's case on the real weights: a logreg head trained on hymenoptera's train/, exported, scored on
    val/ as a folder. It scores what predict's CSV of val/ says, and what the head scores on the cache's val split
    (the model decodes the photos as extract did).

    The head is trained on the first TRAIN_PER_CLASS photos of each class of train/ (links to them), and scored on
    the first VAL_PER_CLASS of each class of val/: every photo of val/ is run three times (extract, evaluate,
    predict), those of train/ once. No claim is on train/ (245 photos there took about a third of the test's 224 px
    forward passes), and those on val/ (the model's score is predict's CSV's and the head's on the cache, well past
    chance) hold on any part of it: its 153 photos whole were 459 of the test's 539 passes (28.5 s at load ~2)."""
    root = tmp_path / "hym"
    for split, cls in ((split, cls) for split in ("train", "val") for cls in ("ants", "bees")):
        (root / split / cls).mkdir(parents=True)
        names = sorted(os.listdir(hymenoptera_dir / split / cls))
        for name in names[:TRAIN_PER_CLASS if split == "train" else VAL_PER_CLASS]:
            (root / split / cls / name).symlink_to(hymenoptera_dir / split / cls / name)
    cache = featcache.extract(featcache.PhotoFolder(str(root)), featcache.ModelSpec(weights=str(real_weights)),
                              featcache.StoreSpec(out=tmp_path / "hym.h5")).path
    head = featcache.train(cache, "logreg", out=tmp_path / "h.npz")
    model = featcache.export(head.path, tmp_path / "m.keras").path
    res = featcache.evaluate(model, root / "val", out=tmp_path / "rep")
    assert res.images == 2 * VAL_PER_CLASS and res.runtime is not None
    got = run_main(capsys, "predict", str(model), str(root / "val"), "--recursive", "--csv", str(tmp_path / "p.csv"))
    assert got.returncode == 0, got.stderr
    accuracy, images, _ = _csv_accuracy(tmp_path / "p.csv")
    assert (res.accuracy, res.images) == (pytest.approx(accuracy), images)
    on_cache = featcache.evaluate(head, cache, write=False)
    assert res.accuracy == pytest.approx(on_cache.accuracy) and (res.confusion == on_cache.confusion).all()
    assert res.accuracy > 0.85  # the tester's models scored 0.935 by hand; a real head on real photos, not chance


def test_copies_in_two_classes_are_refused_as_extract_refuses_them(tiny, tmp_path, capsys):
    """Regression (a review): extract refuses byte-identical photos in two class folders; evaluate scored them (one
    of the two necessarily wrong). Same line as extract's, exit 2, no report."""
    model, _ = tiny
    root = make_class_tree(tmp_path / "val", {"ants": 2, "bees": 2}, ext="jpg", size=40)
    first = sorted((root / "ants").iterdir())[0]
    (root / "bees" / "copy.jpg").write_bytes(first.read_bytes())
    got = run_main(capsys, "evaluate", str(model), str(root), "--out", str(tmp_path / "rep"))
    assert got.returncode == 2 and got.stderr.strip() == (
        f"featcache evaluate: error: {first} and {root / 'bees' / 'copy.jpg'} are one image (byte-identical copies) "
        "in two class folders; an image is of one class: keep one of them"), got.stderr
    assert not (tmp_path / "rep").exists()
    with pytest.raises(featcache.FeatcacheError) as exc:
        featcache.PhotoFolder(str(root), test_fraction=0.5).open(32)
    assert str(exc.value) == got.stderr.strip().removeprefix("featcache evaluate: error: ")


def test_copies_in_one_class_are_scored_once_as_extract_counts_them(tiny, tmp_path, capsys):
    """Regression (a session's brief, 2026-12-06): extract counts byte-identical copies of a photo in its class (and
    hard links to it) once; evaluate scored each copy, so one photo weighed two or three times in the accuracy. It
    scores each photo once, says the copies in one line, lists them with the skipped files, and the score and folder
    fingerprint are those of the folder without them. predict still answers for every file it is given."""
    model, _ = tiny
    plain = make_class_tree(tmp_path / "plain", {"ants": 4, "bees": 4}, ext="jpg", size=40, offset=50)
    val = make_class_tree(tmp_path / "val", {"ants": 4, "bees": 4}, ext="jpg", size=40, offset=50)
    (val / "ants" / "ants_050_copy.jpg").write_bytes((val / "ants" / "ants_050.jpg").read_bytes())
    (val / "bees" / "zz.jpg").hardlink_to(val / "bees" / "bees_051.jpg")
    got = run_main(capsys, "evaluate", str(model), str(val), "--json", "--runtime", "tensorflow", "--out", str(tmp_path / "r"))
    assert got.returncode == 0, got.stderr
    report = json.loads(got.stdout)
    alone = featcache.evaluate(model, plain, write=False, runtime="tensorflow")
    assert report["folder"]["images"] == alone.images == 8 and report["accuracy"] == pytest.approx(alone.accuracy)
    assert report["folder"]["fingerprint"] == alone.folder_fingerprint  # the photos scored are those files
    # the copies in their own list, apart from the files not scored (a brief: evaluation.json listed them as skipped)
    assert report["folder"]["copies"] == [
        {"path": str(val / "ants" / "ants_050_copy.jpg"), "same_as": str(val / "ants" / "ants_050.jpg")},
        {"path": str(val / "bees" / "zz.jpg"), "same_as": str(val / "bees" / "bees_051.jpg")}]
    assert report["folder"]["skipped"] == []
    on_disk = json.loads((tmp_path / "r" / "evaluation.json").read_text())["folder"]
    assert (on_disk["skipped"], on_disk["copies"]) == ([], report["folder"]["copies"])
    (val / "bees" / "notes.txt").write_text("taken in 2026\n")
    got = run_main(capsys, "evaluate", str(model), str(val), "--json", "--runtime", "tensorflow", "--out", str(tmp_path / "r1"))
    report = json.loads(got.stdout)
    assert report["folder"]["skipped"] == [[str(val / "bees" / "notes.txt"), NOT_AN_IMAGE]], report["folder"]
    assert len(report["folder"]["copies"]) == 2
    (val / "bees" / "notes.txt").unlink()
    text = run_main(capsys, "evaluate", str(model), str(val), "--runtime", "tensorflow", "--out", str(tmp_path / "r2"))
    assert f"folder    {val} (8 images, 2 copies counted once, content " in text.stdout, text.stdout
    assert [line for line in text.stderr.splitlines() if "cop" in line] == [
        f"evaluate: 2 files are copies (the same bytes) of photos in their class folder, each photo counted once: "
        f"{val / 'ants' / 'ants_050_copy.jpg'} of {val / 'ants' / 'ants_050.jpg'}; {val / 'bees' / 'zz.jpg'} of "
        f"{val / 'bees' / 'bees_051.jpg'}, as extract counts them"], text.stderr
    got = run_main(capsys, "predict", str(model), str(val), "--recursive", "--csv", str(tmp_path / "p.csv"))
    assert got.returncode == 0 and _csv_accuracy(tmp_path / "p.csv")[1] == 10, got.stderr


def test_wrong_class_names_are_refused_before_the_folder_is_read(tiny, tmp_path, capsys, monkeypatch):
    """Regression (a review): evaluate hashed every file of the folder (minutes for a large one) before it said its
    class folders were not the model's."""
    from featcache.sources import images

    model, _ = tiny
    root = make_class_tree(tmp_path / "val", {"ants": 2, "wasps": 2}, ext="jpg", size=40)
    hashed = []
    monkeypatch.setattr(images, "_hash_one", lambda root, f: hashed.append(f) or (None, "not read"))
    got = run_main(capsys, "evaluate", str(model), str(root), "--out", str(tmp_path / "rep"))
    assert got.returncode == 2 and "are not the model's classes (ants, bees): not the model's: wasps" in got.stderr
    assert hashed == []


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"batch_size": 0}, "batch_size=0 must be at least 1"),
    ({"runtime": "nope"}, "unknown runtime 'nope'; choose one of"),
    ({"lock_timeout": -1}, "lock_timeout=-1 is negative; use 0 or more seconds"),
])
def test_a_models_settings_are_checked_before_its_file_is_read(kwargs, message, tmp_path, monkeypatch):
    """Regression (h306's brief, a tester): evaluate(MODEL, FOLDER, batch_size=0) read the model file (its kind, and
    for a file that is no model, its record: "is not a featcache model (BadZipFile)") before it checked batch_size;
    predict checks its settings first (test_cli_faults), and evaluate does too now."""
    from helpers import meta_only_model

    from featcache.errors import FeatcacheError
    from featcache.heads import io as heads_io

    root = make_class_tree(tmp_path / "val", {"ants": 1, "bees": 1}, ext="png", size=16)
    not_a_model = tmp_path / "junk.keras"
    not_a_model.write_bytes(b"no model")
    read = []
    monkeypatch.setattr(heads_io, "file_kind", lambda path: read.append(path))
    for model in (meta_only_model(tmp_path / "m.keras"), not_a_model):
        with pytest.raises(FeatcacheError) as err:
            featcache.evaluate(model, root, out=tmp_path / "rep", **kwargs)
        assert str(err.value).startswith(message), err.value
    assert read == [] and not (tmp_path / "rep").exists()


def test_a_folder_of_some_of_the_models_classes_is_scored_and_an_empty_class_folder_is_one_line(tiny, tmp_path, capsys):
    """Regression (a review): evaluate's class-folder rule was extract's: a folder of only ``ants/`` got "a classifier
    needs at least two class folders"; an empty ``bees/`` beside it said "remove it", which led there; a ``bees/``
    of only notes.txt was scored with 0 bees; a folder with no class folder suggested DIR/train/<class>, which
    evaluate refuses. The rule: a folder holds some or all of the model's classes, each with a photo that decodes;
    the classes it has no photo of are said."""
    model, _ = tiny
    root = make_class_tree(tmp_path / "val", {"ants": 3}, ext="jpg", size=40)
    got = run_main(capsys, "evaluate", str(model), str(root), "--out", str(tmp_path / "rep"))
    assert got.returncode == 0, got.stderr
    assert f"{root} has no photo of the model's class 'bees': its accuracy covers 1 of the model's 2 classes" in got.stderr
    report = json.loads((tmp_path / "rep" / "evaluation.json").read_text())
    assert np.sum(report["confusion"]) == 3
    (root / "bees").mkdir()
    got = run_main(capsys, "evaluate", str(model), str(root), "--out", str(tmp_path / "rep2"))
    assert got.returncode == 2 and got.stderr.strip() == (
        f"featcache evaluate: error: class folder {root / 'bees'} has no photo to use: it is empty; add photos of 'bees' "
        "to it or remove it")
    (root / "bees" / "notes.txt").write_text("not a photo")
    got = run_main(capsys, "evaluate", str(model), str(root), "--out", str(tmp_path / "rep2"))
    assert got.returncode == 2 and got.stderr.startswith(
        f"featcache evaluate: error: class folder {root / 'bees'} has no photo to use: none of its files could be read as "
        f"a photo ({root / 'bees' / 'notes.txt'}: "), got.stderr
    assert got.stderr.strip().endswith("); add photos of 'bees' to it or remove it") and len(got.stderr.splitlines()) == 1
    (tmp_path / "none").mkdir()
    got = run_main(capsys, "evaluate", str(model), str(tmp_path / "none"), "--out", str(tmp_path / "rep2"))
    assert got.returncode == 2 and got.stderr.strip() == (
        f"featcache evaluate: error: {tmp_path / 'none'} has no class folders; a model is scored on photos: pass a folder "
        "with one subfolder of photos per class of the model (ants, bees) (some of them are enough)")
    assert not (tmp_path / "rep2").exists()


def test_a_class_folder_of_only_notes_is_refused_before_the_model_loads(tiny, tmp_path, capsys, monkeypatch):
    """Regression (a session's brief, 2026-12-06): a class folder holding only notes.txt was refused once the model
    was ready (about 11 s of TensorFlow on this machine), though its files' names say it holds no photo. Refused
    from the names, before the model is prepared: the same line, and no model loaded."""
    import featcache.deploy.predict as predict_module

    model, _ = tiny
    root = make_class_tree(tmp_path / "val", {"ants": 2}, ext="jpg", size=40)
    (root / "bees").mkdir()
    (root / "bees" / "notes.txt").write_text("not a photo")

    def loaded(*args, **kwargs):
        raise AssertionError("the model was prepared before the folder was checked")

    monkeypatch.setattr(predict_module, "model_runner", loaded)
    got = run_main(capsys, "evaluate", str(model), str(root), "--out", str(tmp_path / "rep"))
    assert got.returncode == 2 and got.stderr.strip() == (
        f"featcache evaluate: error: class folder {root / 'bees'} has no photo to use: none of its files could be read as "
        f"a photo ({root / 'bees' / 'notes.txt'}: {NOT_AN_IMAGE}); add photos of 'bees' to it or remove it"), got.stderr
    assert not (tmp_path / "rep").exists()


def _refused_as_changed(capsys, model, val, tmp_path):
    """evaluate MODEL FOLDER refused in the one line for a model file replaced meanwhile, no report written."""
    got = run_main(capsys, "evaluate", str(model), str(val), "--out", str(tmp_path / "rep"))
    assert got.returncode == 2 and got.stderr.strip() == (
        f"featcache evaluate: error: {model} changed while it was evaluated (it is no longer the file read at the "
        "start); rerun the command once the file is no longer being written"), got.stderr
    assert not (tmp_path / "rep").exists()


@pytest.mark.parametrize("change", ["bytes", "removed"])
def test_a_model_file_replaced_while_it_is_scored_is_refused(tiny, tmp_path, capsys, monkeypatch, change):
    """Regression (a code read): the model's SHA-256 was taken before the model was loaded and run; a file replaced
    in between had one file's hash recorded in evaluation.json beside another's scores. Hashed again after scoring:
    a difference is one line, and no report is written. The line is predict's (deploy.model.changed_meanwhile), and
    true of a file removed meanwhile: it said "its SHA-256 differs" of a file that was gone (helper-244)."""
    import featcache.deploy.predict as predict

    model = tmp_path / "m.keras"
    model.write_bytes(tiny[0].read_bytes())  # a copy: the module's model is not the one replaced
    val = make_class_tree(tmp_path / "val", {"ants": 2, "bees": 2}, ext="jpg", size=40, offset=50)
    scored = predict.predict_files

    def then_replaced(*args, **kwargs):
        out = scored(*args, **kwargs)
        if change == "removed":
            model.unlink()
        else:
            model.write_bytes(model.read_bytes() + b"\0")  # another file now, after its scores were made
        return out

    monkeypatch.setattr(predict, "predict_files", then_replaced)
    _refused_as_changed(capsys, model, val, tmp_path)


@pytest.mark.parametrize("classes", [{"cats": 6, "dogs": 6}, {"ants": 4, "bees": 4, "wasps": 4}])
def test_a_model_file_replaced_while_the_photos_are_walked_is_refused(tiny, tmp_path, capsys, monkeypatch, classes):
    """Regression (an adversarial tester): the model's record (class names, size) was read before the photos were
    walked and hashed, its SHA-256 after. A model replaced in between was scored under the first one's class names,
    its own SHA-256 recorded: exit 0 and a report of 'ants'/'bees' from a cats/dogs model (or an IndexError from
    one of three classes). Now one line, exit 2, no report."""
    import featcache.sources.images as images

    model = tmp_path / "m.keras"
    model.write_bytes(tiny[0].read_bytes())
    other = _tiny_model(tmp_path / "other", classes).read_bytes()
    val = make_class_tree(tmp_path / "val", {"ants": 2, "bees": 2}, ext="jpg", size=40, offset=50)
    walk = images.class_tree

    def then_replaced(*args, **kwargs):
        out = walk(*args, **kwargs)
        model.write_bytes(other)  # another model now, while the photos are walked
        return out

    monkeypatch.setattr(images, "class_tree", then_replaced)
    _refused_as_changed(capsys, model, val, tmp_path)


@pytest.mark.parametrize("runtime", ["tensorflow", "onnxruntime"])
def test_an_evaluate_hashes_its_model_once_as_it_reads_it_and_once_after(tiny, tmp_path, monkeypatch, runtime):
    """Regression (helper-250): evaluate MODEL FOLDER read its model whole to hash it 4 times on TensorFlow (after
    its record, for the runner's spec, after the Keras load, after scoring; 3 on a converted runtime) and checked its
    content digest 4 times. The runner (deploy.model.ModelFile) hashes the bytes it loads, its record checked in
    them, and hashes the file again after scoring: two SHA-256s, two content-digest checks (the record's before the
    photos are walked, and the bytes loaded). Each is a whole read of a 10-15 MB file."""
    import featcache.deploy.model as model_io
    import featcache.heads.io as heads_io
    import featcache.validate as validate

    model, _ = tiny
    val = make_class_tree(tmp_path / "val", {"ants": 2, "bees": 2}, ext="jpg", size=40, offset=50)
    monkeypatch.setenv("FEATCACHE_RUNTIME_DIR", str(tmp_path / "runtimes"))
    sha256 = file_sha256(model)  # before the count
    hashes, digests = [], []
    file_digest, bytes_digest, content_digest = validate.file_digest, getattr(model_io, "model_sha256", None), heads_io.content_digest

    def of_file(path, *args, **kwargs):
        hashes.extend(["file"] if Path(path).resolve() == model.resolve() else [])
        return file_digest(path, *args, **kwargs)

    monkeypatch.setattr(validate, "file_digest", of_file)  # every file_sha256
    monkeypatch.setattr(model_io, "model_sha256", lambda data: (hashes.append("bytes"), bytes_digest(data))[1],
                        raising=False)
    monkeypatch.setattr(heads_io, "content_digest", lambda *a: (digests.append(1), content_digest(*a))[1])
    result = featcache.evaluate(model, val, out=tmp_path / "rep", runtime=runtime)
    assert result.runtime == runtime and result.model_sha256 == sha256
    assert hashes == ["bytes", "file"] and len(digests) == 2


@pytest.mark.parametrize("replacement", ["another photo", "a copy of an ant"])
def test_a_photo_replaced_after_the_folder_is_hashed_is_refused(tiny, tmp_path, capsys, monkeypatch, replacement):
    """Regression (an adversarial tester): evaluate hashed the folder (its content fingerprint) and then read each
    photo again to score it, unchecked: a photo's bytes replaced in between were scored (exit 0, another accuracy)
    under the clean folder's fingerprint, and a copy of an ant put among the bees got past the copies check. Each
    photo scored is now compared with the digest the fingerprint took, as extract compares its rows: one line,
    exit 2, no report."""
    import featcache.sources.images as images

    model, _ = tiny
    val = make_class_tree(tmp_path / "val", {"ants": 3, "bees": 3}, ext="jpg", size=40, offset=50)
    victim = sorted((val / "bees").iterdir())[1]
    walk = images.class_tree

    def then_replaced(*args, **kwargs):
        out = walk(*args, **kwargs)
        if replacement == "another photo":
            write_image(victim, class_image(0, 77, 40))
        else:
            victim.write_bytes(sorted((val / "ants").iterdir())[0].read_bytes())
        return out

    monkeypatch.setattr(images, "class_tree", then_replaced)
    got = run_main(capsys, "evaluate", str(model), str(val), "--out", str(tmp_path / "rep"), "--runtime", "tensorflow")
    assert got.returncode == 2 and got.stderr.strip() == (
        f"featcache evaluate: error: {victim} changed on disk since it was scanned; re-run the command"), got.stderr
    assert not (tmp_path / "rep").exists()
    monkeypatch.setattr(images, "class_tree", walk)  # as it is now: scored, or (the copy) refused as extract refuses it
    got = run_main(capsys, "evaluate", str(model), str(val), "--out", str(tmp_path / "rep"), "--runtime", "tensorflow")
    assert got.returncode == (0 if replacement == "another photo" else 2), got.stderr
    assert replacement == "another photo" or "in two class folders" in got.stderr


@pytest.mark.parametrize("content", [b"\x8e\x01random bytes, no zip\xff" * 20, b"", b"PK\x03\x04"],
                         ids=["random", "empty", "bare-zip-header"])
def test_an_unreadable_model_file_beside_a_folder_is_said_as_a_model(tiny, tmp_path, capsys, content):
    """Regression (an adversarial tester): 'evaluate garbage.keras FOLDER' said "not a readable featcache head ...
    pass a file written by 'featcache train'", where a folder as the second argument means a model was meant. It gets
    predict's line for the same file (one wording), naming 'featcache export'; exit 2, nothing written."""
    bad = tmp_path / "m.keras"
    bad.write_bytes(content)
    val = make_class_tree(tmp_path / "val", {"ants": 2, "bees": 2}, ext="jpg", size=40)
    got = run_main(capsys, "evaluate", str(bad), str(val), "--out", str(tmp_path / "rep"))
    said = run_main(capsys, "predict", str(bad), str(val), "--recursive")
    assert got.returncode == said.returncode == 2 and len(got.stderr.splitlines()) == 1, got.stderr
    assert got.stderr.removeprefix("featcache evaluate: ") == said.stderr.removeprefix("featcache predict: ")
    fix = got.stderr.partition(";")[2]  # what to do: export a model (a cut-short zip: the neutral damaged line's words)
    assert ("pass a file written by 'featcache export'" in fix) != (content == b"PK\x03\x04" and "export the model again" in fix)
    assert not (tmp_path / "rep").exists()


def test_the_scoring_line_counts_photos_not_other_files(tiny, tmp_path, capsys, progress_on):
    """Regression (a tester): "scoring M on N photos of F" (and the model's "predicting N images with M") counted a
    notes.txt in a class folder as a photo ("on 91 photos", then "90 images" in the report); they count photos as
    extract does (a file whose name says it is no image is none), as the report does."""
    model, _ = tiny
    val = make_class_tree(tmp_path / "val", {"ants": 3, "bees": 2}, ext="jpg", size=40, offset=50)
    (val / "ants" / "notes.txt").write_text("not a photo")
    (val / "bees" / "labels.csv").write_text("file,label\n")
    (val / "bees" / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")  # named as a photo; it does not decode
    got = run_main(capsys, "evaluate", str(model), str(val), "--out", str(tmp_path / "rep"), "--runtime", "tensorflow")
    assert got.returncode == 0, got.stderr
    # one line says the scoring (its own "scoring M on N photos" was dropped for the model's preparing line, a review)
    # and counts the image files, which it cannot know all decode: "scoring 6 images", then "scored 5" (a session's
    # brief, 2026-12-06); the summary says each of them scored or skipped
    scoring = [line for line in got.stderr.splitlines() if line.startswith("scoring ")]
    # and the files hashed it leaves out, the notes.txt and labels.csv (a new user: "hashing 8 files", then "scoring 6")
    assert len(scoring) == 1 and scoring[0].startswith("scoring 6 image files of the 8 files hashed (left out: 2 files "
                                                       f"skipped (not an image)) with {model}; "), got.stderr
    assert "accuracy" in got.stdout and " on 5 images" in got.stdout, got.stdout
    summary = [line for line in got.stderr.splitlines() if line.startswith("evaluate: scored ")]
    assert len(summary) == 1 and summary[0].startswith("evaluate: scored 5 images in "), got.stderr
    # its last words on the files that are no rows are the folder line's (they said "1 image file skipped"; a new user)
    assert summary[0].endswith("); 3 files skipped (2 not an image, 1 unreadable)"), got.stderr


def test_the_skipped_files_are_counted_by_kind_so_the_numbers_add_up(tiny, tmp_path, capsys, progress_on):
    """Regression (h306's brief, a tester): a folder with a notes.txt beside its class folders and one broken JPEG:
    extract said "hashing 9 files", then "extracted 8 images ... 2 files skipped", and evaluate "skipped 2 files"
    first and "1 image file skipped" last. The files skipped are counted by kind (decode.skipped_kinds): the one
    beside the class folders was never hashed, the unreadable one was."""
    model, _ = tiny
    val = make_class_tree(tmp_path / "val", {"ants": 4, "bees": 5}, ext="jpg", size=40, offset=50)
    (val / "notes.txt").write_text("photos of ants and bees")
    broken = val / "bees" / "bees_050.jpg"
    broken.write_bytes(broken.read_bytes()[:200])
    kinds = "2 files skipped (1 not in a class folder, 1 unreadable)"
    got = _extracted_on_random_weights(capsys, val, tmp_path / "c.h5")
    hashed = int(re.search(r"^hashing (\d+) files in the class folders", got.stderr, re.M).group(1))
    images = int(re.search(r"^extracted (\d+) images .*; " + re.escape(kinds) + r"\)", got.stdout, re.M).group(1))
    assert (hashed, images) == (9, 8), got.stdout + got.stderr  # hashed: the images and the 1 unreadable
    got = run_main(capsys, "evaluate", str(model), str(val), "--out", str(tmp_path / "rep"), "--runtime", "tensorflow")
    assert got.returncode == 0, got.stderr
    assert "evaluate: skipped 2 files (1 not in a class folder, 1 unreadable), listed in evaluation.json: " in got.stderr
    assert f"8 images, {kinds}, content " in got.stdout and got.stderr.splitlines()[-1].endswith(f"); {kinds}"), got


def _extracted_on_random_weights(capsys, folder, out):
    """``extract`` of a photo folder (half of it the test split) at 32 px on random weights and TensorFlow, as the
    counting tests run it: its output, the run checked to have succeeded."""
    got = run_main(capsys, "extract", "--images", str(folder), "--test-fraction", "0.5", "--weights", "random",
                   "--image-size", "32", "--runtime", "tensorflow", "--out", str(out))
    assert got.returncode == 0, got.stderr
    return got


def test_a_duplicate_photo_is_said_where_the_counts_drop_and_evaluate_ends_as_its_folder_line_says(tiny, tmp_path,
                                                                                                  capsys, progress_on):
    """Regression (a new user, 2026-12-07): a photo folder with a notes.txt, a truncated JPEG and a duplicate photo:
    extract said "hashing 63 files", then "extracting 62 files (61 images, 1 named as no image)", then "extracted 60
    images": the duplicate dropped out before the line that explains it. And evaluate's header said "2 files skipped
    (1 not an image, 1 unreadable)" where its last line said "1 image file skipped". Each line now names what left
    the count before it (evaluate's scoring line too), and evaluate's last line says the folder line's words. Fails
    on the code before (checked: "extracting 11 files (10 images, 1 named as no image)")."""
    model, _ = tiny
    val = make_class_tree(tmp_path / "val", {"ants": 5, "bees": 5}, ext="jpg", size=40, offset=50)
    (val / "ants" / "notes.txt").write_text("taken at the park")
    shutil.copyfile(val / "ants" / "ants_050.jpg", val / "ants" / "ants_050 (1).jpg")  # a download's second copy
    broken = val / "bees" / "bees_051.jpg"
    broken.write_bytes(broken.read_bytes()[:200])
    left = "2 files skipped (1 not an image, 1 unreadable), 1 copy counted once"
    got = _extracted_on_random_weights(capsys, val, tmp_path / "c.h5")
    # in the order printed: 12 hashed = 11 extracted + 1 copy; 11 files = 10 images + 1 named as no image; 9 images
    # extracted = 11 files - the 2 skipped (the summary's kinds)
    hashed = int(re.search(r"^hashing (\d+) files in the class folders", got.stderr, re.M).group(1))
    files, of, images, named = map(int, re.search(r"^extracting (\d+) of the (\d+) files hashed \((\d+) images, (\d+) "
                                                 r"named as no image; left out: 1 copy counted once\) with ",
                                                 got.stderr, re.M).groups())
    extracted = int(re.search(r"^extracted (\d+) images .*; " + re.escape(left) + r"\)", got.stdout, re.M).group(1))
    assert (hashed, of, files, images, named, extracted) == (12, 12, 11, 10, 1, 9), got.stdout + got.stderr
    got = run_main(capsys, "evaluate", str(model), str(val), "--out", str(tmp_path / "rep"), "--runtime", "tensorflow")
    assert got.returncode == 0, got.stderr
    assert f"(9 images, {left}, content " in got.stdout, got.stdout  # the folder line
    # 12 hashed = 10 image files scored + the notes.txt + the copy; 9 scored = 10 - the 1 unreadable
    assert re.search(r"^scoring 10 image files of the 12 files hashed \(left out: 1 file skipped \(not an image\), "
                     r"1 copy counted once\) with ", got.stderr, re.M), got.stderr
    scored = [line for line in got.stderr.splitlines() if line.startswith("evaluate: scored ")]
    assert len(scored) == 1 and scored[0].startswith("evaluate: scored 9 images in ") and scored[0].endswith(f"); {left}"), got.stderr


def test_a_file_beside_the_class_folders_is_said_as_extract_says_it_not_as_an_unreadable_image(tiny, tmp_path, capsys):
    """Regression (a re-read, 2026-12-06): a README.txt at the folder's root, beside the class folders, was counted
    among "skipped N file(s) that are not readable images" (predict's words for its own inputs): it is no photo of
    any class. evaluate says each skipped file's reason under extract's line, as extract says it of the same folder
    (its paths relative to the folder, evaluate's as given)."""
    model, _ = tiny
    val = make_class_tree(tmp_path / "val", {"ants": 3, "bees": 2}, ext="jpg", size=40, offset=50)
    (val / "README.txt").write_text("photos of ants and bees")
    (val / "ants" / "notes.txt").write_text("not a photo")
    got = run_main(capsys, "evaluate", str(model), str(val), "--out", str(tmp_path / "rep"), "--runtime", "tensorflow")
    assert got.returncode == 0, got.stderr
    said = [line for line in got.stderr.splitlines() if line.startswith("evaluate: skipped")]
    listing = f"README.txt (not inside a class folder); {Path('ants', 'notes.txt')} (not an image file, left out)"
    assert said == [f"evaluate: skipped 2 files (1 not in a class folder, 1 not an image), listed in evaluation.json: {val}/{listing.replace('; ', f'; {val}/')}"], got.stderr
    assert "not readable images" not in got.stderr
    extracted = run_main(capsys, "extract", "--images", str(val), "--test-fraction", "0.5", "--weights", "random",
                         "--image-size", "32", "--out", str(tmp_path / "c.h5"))
    assert extracted.returncode == 0, extracted.stderr
    assert f"skipped 2 files (1 not in a class folder, 1 not an image), listed in the cache ('featcache info'): {listing}" in extracted.stdout + extracted.stderr


def test_a_class_folder_in_a_latin1_folder_whose_photo_does_not_decode_says_why(tiny, tmp_path, capsys):
    """Regression (a code read): the reason a class folder's only file did not decode was looked up by its path
    while predict's list holds it as shown (a byte that is not UTF-8 as \\xe9): a photo in a Latin-1 folder got
    "does not decode" where one in a UTF-8 folder got the reason predict and extract give."""
    import os

    from featcache.errors import printable

    model, _ = tiny
    for name in (b"plain", b"caf\xe9"):  # the folder's name alone differs
        root = make_class_tree(tmp_path / os.fsdecode(name), {"ants": 2}, ext="jpg", size=40)
        (root / "bees").mkdir()
        (root / "bees" / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
        got = run_main(capsys, "evaluate", str(model), str(root), "--out", str(tmp_path / "r"))
        assert got.returncode == 2 and len(got.stderr.splitlines()) == 1, got.stderr
        shown = printable(str(root / "bees" / "cut.jpg"))
        reason = got.stderr.split(f"({shown}: ", 1)[1].split("); add photos of 'bees'", 1)[0]
        assert reason.startswith("cannot decode"), got.stderr  # the file's reason, whatever its folder's name


def test_a_class_folder_with_no_photo_to_use_is_one_line_in_extract_and_evaluate(tiny, tmp_path, capsys):
    """Regression (a review): three wordings said "this class folder has no photo to use": extract's "class 'bees'
    has no readable images in DIR (FILE: why); add readable images or remove the folder", evaluate's "class folder DIR
    holds no photo that decodes (FILE: why, ...); add photos of 'bees' to it or remove it", and the walk's "class
    folder DIR is empty; add images of 'bees' to it or remove it". One line now, from one home
    (sources.images.no_photo_error), naming the folder, each file that failed and why, as each command shows files."""
    model, _ = tiny
    root = make_class_tree(tmp_path / "val", {"ants": 2}, ext="jpg", size=40)
    (root / "bees").mkdir()
    commands = {"extract": ["extract", "--images", str(root), "--test-fraction", "0.5", "--weights", "random",
                            "--image-size", "32", "--out", str(tmp_path / "c.h5")],
                "evaluate": ["evaluate", str(model), str(root), "--out", str(tmp_path / "rep")]}
    for command, argv in commands.items():  # an empty class folder: the walk's line, said by both alike
        got = run_main(capsys, *argv)
        assert got.returncode == 2 and got.stderr.strip() == (
            f"featcache {command}: error: class folder {root / 'bees'} has no photo to use: it is empty; add photos of "
            "'bees' to it or remove it"), got.stderr
    (root / "bees" / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    (root / "bees" / "notes.txt").write_text("not a photo")
    reasons = {}
    for command, argv in commands.items():  # none of its files decodes: each file and its reason, in one wording
        got = run_main(capsys, *argv)
        line = got.stderr.strip()
        assert got.returncode == 2 and len(line.splitlines()) == 1, got.stderr
        # each command shows a file as it lists the files it skips: extract by its path under the folder, evaluate whole
        shown = {"extract": "bees/{}", "evaluate": f"{root / 'bees'}/{{}}"}[command]
        start = (f"featcache {command}: error: class folder {root / 'bees'} has no photo to use: none of its files could "
                 f"be read as a photo ({shown.format('cut.jpg')}: ")
        assert line.startswith(start), line
        listed, end = line[len(start):].split("); add photos of 'bees' to it or remove it", 1)
        cut, notes = listed.split(f"; {shown.format('notes.txt')}: ")
        assert cut.startswith("cannot decode") and notes, line
        reasons[command] = (cut, notes)
        # extract found it while embedding, and says where the features so far are kept (sources.images._keeping)
        assert end == "" if command == "evaluate" else end.startswith(" (the features extracted so far are kept in ")
    assert reasons["extract"] == reasons["evaluate"]  # the same reasons for the same files
    assert not (tmp_path / "c.h5").exists() and not (tmp_path / "rep").exists()


def test_a_model_with_a_cache_and_runtime_is_told_what_scores_a_model(tiny, capsys):
    """Regression (helper-233's review): 'evaluate m.keras c.h5 --runtime tensorflow' said "--runtime runs a model
    file ... on photos; a head is scored on its cache's stored features: drop it" of a model file, where the same
    command without --runtime says it is a model and that 'evaluate MODEL FOLDER' scores one."""
    model, tmp = tiny
    plain = run_main(capsys, "evaluate", str(model), str(tmp / "c.h5"))
    for flags in (("--runtime", "tensorflow"), ("--batch-size", "8")):
        got = run_main(capsys, "evaluate", str(model), str(tmp / "c.h5"), *flags)
        assert got.returncode == 2 and got.stderr == plain.stderr, got.stderr
        assert "is a model written by 'featcache export' or 'featcache finetune', not a head" in got.stderr


def test_evaluate_bounds_its_wait_for_another_process_converting_the_model(tiny, tmp_path, capsys, monkeypatch):
    """Regression (a brief, 2026-12-06): evaluate of a model converts it for a converted runtime as predict does,
    under the same lock, but took no --lock-timeout, and a runtime named waited for a stopped (Ctrl-Z'd) holder for
    ever. Now --lock-timeout (``lock_timeout=``, predict's) bounds the wait, and without it
    ``runtimes.CONVERSION_WAIT_SECONDS`` does (0.4 here): one line, exit 2, naming the holder's pid, the lock file
    and the option in the caller's words; no report written, nothing converted beside the holder. The old code:
    'unrecognized arguments', a TypeError, then the alarm."""
    from featcache.embedding import runtimes

    model, _ = tiny
    monkeypatch.setattr(runtimes, "CONVERSION_WAIT_SECONDS", 0.4, raising=False)  # raising: the old code has none
    monkeypatch.setattr(runtimes, "_export_onnx", lambda *a: pytest.fail("converted beside the holder"))
    monkeypatch.setenv("FEATCACHE_RUNTIME_DIR", str(tmp_path / "rt"))
    onnx = model_conversion(model, tmp_path / "rt")
    onnx.parent.mkdir()
    val = make_class_tree(tmp_path / "val", {"ants": 2, "bees": 2}, ext="jpg", size=40, offset=50)
    rep = tmp_path / "rep"
    argv = ["evaluate", str(model), str(val), "--runtime", "onnxruntime", "--out", str(rep)]
    with stopped_lock_holder(onnx, alarm=60) as holder:
        refused_while_converting(capsys, argv, lambda seconds: featcache.evaluate(model, val, runtime="onnxruntime", lock_timeout=seconds, write=False), onnx, holder.pid)
        assert os.listdir(onnx.parent) == [f"{onnx.name}.lock"] and not rep.exists()
    with pytest.raises(featcache.FeatcacheError, match=r"^lock_timeout=-1 is negative; use 0 or more seconds"):
        featcache.evaluate(model, val, lock_timeout=-1, write=False)


def _split_model(tmp: Path, head: str = "logreg", params: dict | None = None, digests: bool = True,
                 copy: bool = False, classes: tuple[str, ...] = ("ants", "bees")) -> tuple[Path, Path]:
    """(model, photo folder) of a head trained on the train/ of a folder split into train/ and val/ (tiny JPEGs,
    random weights), exported; ``digests=False``: its head saved without training digests, as a head of featcache
    before them (the model then keeps none, as one exported before 2026-12-06); ``copy``: val/ants holds a copy of
    train/ants/ants_000.jpg."""
    from featcache.heads.io import load_head, save_head

    root = tmp / "photos"
    make_class_tree(root / "train", dict.fromkeys(classes, 4), ext="jpg", size=40)
    make_class_tree(root / "val", dict.fromkeys(classes, 3), ext="jpg", size=40, offset=50)
    if copy:
        (root / "val" / "ants" / "copied.jpg").write_bytes((root / "train" / "ants" / "ants_000.jpg").read_bytes())
    cache = featcache.extract(featcache.PhotoFolder(str(root)), featcache.ModelSpec(weights="random", image_size=32),
                              featcache.StoreSpec(out=tmp / "c.h5")).path
    head_path = featcache.train(cache, head, params=params, out=tmp / "h.npz").path
    if not digests:
        est, meta = load_head(head_path)
        meta.pop("train_digests")
        head_path = save_head(est, tmp / "old.npz", meta)
    return featcache.export(head_path, tmp / "m.keras").path, root


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """``_split_model(copy=True)`` made once per module for the tests that only score it (an extract, a train and an
    export each, and each new model file a Keras load and a trace): (model, photo folder, ``without_digests()``, the
    same head saved without its training digests and exported, made on first use). A test that needs the folder
    without a file moves it aside for its calls (``_set_aside``) and back."""
    import warnings

    from featcache.heads.io import load_head, save_head

    tmp = tmp_path_factory.mktemp("split")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # extract's line on the copy in train/ and val/: not these tests'
        model, root = _split_model(tmp, copy=True)
    old: list[Path] = []

    def without_digests() -> Path:
        if not old:
            est, meta = load_head(tmp / "h.npz")
            meta.pop("train_digests")
            old.append(featcache.export(save_head(est, tmp / "old.npz", meta), tmp / "old.keras").path)
        return old[0]

    return model, root, without_digests


class _set_aside:
    """``with _set_aside(path, tmp_path):`` the file or folder at ``path`` is gone for the block, put back after."""

    def __init__(self, path: Path, tmp: Path):
        self.path, self.away = path, tmp / f"aside_{path.name}"

    def __enter__(self):
        shutil.move(self.path, self.away)

    def __exit__(self, *exc):
        shutil.move(self.away, self.path)


def test_copies_of_training_photos_in_the_test_folder_get_the_copies_fix_not_evaluate_elsewhere(split, tmp_path, capsys):
    """Regression (a review, 2026-12-06): 'evaluate MODEL val/' where val/ holds a copy of a training photo said
    "evaluate on photos the model has not seen (its data set's test folder, or new ones)": val/ is that test folder,
    and the head's evaluate calls such photos copies with the fix to remove them. A folder scored that is not the
    model's training folder now counts the photos seen as copies, with a model's fix: remove them from the data set,
    then extract, train and export again (its test folder), or from the folder scored (another folder)."""
    model, root, _ = split  # val/ants/copied.jpg is a copy of train/ants/ants_000.jpg
    got = run_main(capsys, "evaluate", str(model), str(root / "val"), "--json")
    assert got.returncode == 0, got.stderr
    overlap = json.loads(got.stdout)["overlap"]
    assert (overlap["seen"], overlap["images"], overlap["copies"]) == (1, 7, 1), overlap
    fix = (f"the seen ones are copies (the same bytes) of photos the model was trained on, in its data set's test "
           f"folder: remove the copies from {root} (each photo in train/ or in the test folder, not both), then extract, "
           "train and export again")
    assert fix in got.stderr and "evaluate on photos the model has not seen" not in got.stderr, got.stderr
    other = make_class_tree(tmp_path / "other", {"ants": 2, "bees": 2}, ext="jpg", size=40, offset=80)
    (other / "bees" / "b.jpg").write_bytes((root / "train" / "bees" / "bees_001.jpg").read_bytes())
    got = run_main(capsys, "evaluate", str(model), str(other), "--json")
    overlap = json.loads(got.stdout)["overlap"]
    assert overlap["copies"] == 1
    # the seen photo by name, in rows' order (the report had its row number alone; a new-user tester, helper-262)
    assert overlap["paths"] == [str(other / "bees" / "b.jpg")] and len(overlap["rows"]) == 1, overlap
    assert (f"the seen ones are copies (the same bytes) of photos the model was trained on: remove them from {other}, "
            "or evaluate on new photos") in got.stderr, got.stderr
    got = run_main(capsys, "evaluate", str(model), str(root / "train"), "--json")  # its training folder: no copies
    assert json.loads(got.stdout)["overlap"]["copies"] == 0
    assert "evaluate on photos the model has not seen" in got.stderr, got.stderr


def test_a_model_scored_on_its_own_training_photos_says_so_with_the_accuracy_on_the_unseen_ones(tiny, split, tmp_path,
                                                                                                  capsys):
    """Regression (helper-233's review): 'evaluate MODEL FOLDER' on the photos the model was trained on said "accuracy
    1.0000 on 24 images" and recorded "overlap": null, where a head's evaluate says which images it was trained on
    (docs/guarantees.md, No silent leakage). The model keeps its head's training digests; evaluate compares each
    photo's with them as a head's evaluate compares a cache's rows, and says it in the report and on stderr."""
    from featcache.analysis.evaluate import LeakageWarning
    from featcache.heads.io import load_head

    model, tmp = tiny  # a head trained on the half of tmp/photos its --test-fraction split put in train
    got = run_main(capsys, "evaluate", str(model), str(tmp / "photos"), "--out", str(tmp_path / "rep"))
    assert got.returncode == 0, got.stderr
    report = json.loads((tmp_path / "rep" / "evaluation.json").read_text())
    overlap = report["overlap"]
    assert (overlap["seen"], overlap["images"]) == (6, 12) and report["folder"]["images"] == 12
    # the accuracy on the photos it was not trained on: computed here from the report's own rows
    wrong = {w["row"] for w in report["misclassified"]}
    unseen = [r for r in range(12) if r not in overlap["rows"]]
    assert overlap["unseen_accuracy"] == pytest.approx(sum(r not in wrong for r in unseen) / len(unseen))
    line = (f"6 of 12 photos of the folder were in this model's training data: the accuracy is partly on images the "
            f"model was trained on, so it is not a test accuracy (accuracy on the 6 unseen ones "
            f"{overlap['unseen_accuracy']:.4f}); evaluate on photos the model has not seen")
    assert line in got.stdout and line in (tmp_path / "rep" / "evaluation.txt").read_text()
    assert line in got.stderr  # stdout is not a terminal here: the warning says it on stderr too, as for a head
    with pytest.warns(LeakageWarning, match="6 of 12 photos of the folder"):
        res = featcache.evaluate(model, tmp / "photos", write=False)
    assert res.overlap["seen"] == 6
    from featcache.deploy.model import train_digests  # the head's keys, kept in the model

    head_keys = load_head(tmp / "h.npz")[1]["train_digests"]
    assert np.array_equal(train_digests(model, read_meta(model)), head_keys) and read_meta(model)["train_digest_count"] == 6

    # a model of a train/ and val/ folder: its train/ is all seen, its val/ none (and nothing said); the module's
    # split model, its val/ without the copy of a training photo it holds for the copies test
    split_model, root, _ = split
    got = run_main(capsys, "evaluate", str(split_model), str(root / "train"), "--json")
    assert got.returncode == 0 and json.loads(got.stdout)["overlap"]["seen"] == 8, got.stderr
    assert "8 of 8 photos of the folder were in this model's training data" in got.stderr
    with _set_aside(root / "val" / "ants" / "copied.jpg", tmp_path):
        got = run_main(capsys, "evaluate", str(split_model), str(root / "val"), "--json")
    assert got.returncode == 0 and json.loads(got.stdout)["overlap"]["seen"] == 0 and "training data" not in got.stderr
    assert json.loads(got.stdout)["folder"]["images"] == 6  # 3 ants and 3 bees: the copy was not there


def test_info_of_a_models_evaluation_names_the_model_and_folder_and_repeats_its_warning(tiny, tmp_path, capsys):
    """Regression (a reviewer): info of an evaluate MODEL FOLDER report said "an evaluation of the head m.keras on the
    folder split of photos (layer out_relu): accuracy 1.0000": a model called a head, a folder a split, and not a word
    of the overlap its report recorded (the photos were the model's training photos). It says model and folder, and
    repeats evaluate's line on the training photos word for word."""
    model, tmp = tiny  # a head trained on half of tmp/photos, exported
    got = run_main(capsys, "evaluate", str(model), str(tmp / "photos"), "--out", str(tmp_path / "rep"))
    assert got.returncode == 0, got.stderr
    warning = [line for line in got.stdout.splitlines() if "were in this model's training data" in line]
    report = json.loads((tmp_path / "rep" / "evaluation.json").read_text())
    assert len(warning) == 1 and report["overlap"]["seen"] > 0, got.stdout
    info = run_main(capsys, "info", str(tmp_path / "rep" / "evaluation.json"))
    assert info.returncode == 0 and info.stderr == "", info.stderr
    lines = info.stdout.splitlines()
    assert (f"an evaluation of the model {model} on the folder {tmp / 'photos'} ({report['folder']['images']} images): "
            f"accuracy {report['accuracy']:.4f}") in lines, lines
    assert warning[0] in lines and "head" not in info.stdout and "split" not in info.stdout, lines


def test_info_of_a_models_evaluation_gives_its_image_count_under_evaluates_key(tiny, tmp_path, capsys):
    """Regression (a session's brief, 2026-12-06): info --json of a model's evaluation.json had no image count (only
    inside "folder"), where evaluate --json gives it as "images", extract's key: a script read both by one name."""
    model, _ = tiny
    val = make_class_tree(tmp_path / "val", {"ants": 3, "bees": 2}, ext="jpg", size=40, offset=80)
    (val / "bees" / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")  # skipped: not among the images
    got = run_main(capsys, "evaluate", str(model), str(val), "--out", str(tmp_path / "rep"), "--json")
    assert got.returncode == 0, got.stderr
    doc = json.loads(got.stdout)
    info = json.loads(run_main(capsys, "info", str(tmp_path / "rep" / "evaluation.json"), "--json").stdout)
    assert info["images"] == doc["images"] == doc["folder"]["images"] == int(np.sum(doc["confusion"])) == 5, info


def test_a_models_evaluation_names_its_model_and_folder_under_those_keys_alone(tiny, tmp_path, capsys):
    """Regression (a brief): a model's evaluation.json and --json held the model's path under "head", the folder's
    under "cache" and "split": "folder", beside its "model" and "folder" records. They say what they hold now: the
    paths (and their absolute forms, which the default folder's owner is read by) are in "model" and "folder" alone,
    and info of the report names them so. A rerun keeps its default folder; a model of the same name elsewhere is
    given its own."""
    model, tmp = tiny
    val = make_class_tree(tmp_path / "val", {"ants": 2, "bees": 2}, ext="jpg", size=40, offset=70)
    got = run_main(capsys, "evaluate", str(model), str(val), "--json")
    assert got.returncode == 0, got.stderr
    doc = json.loads(got.stdout)
    folder = featcache.paths.runs_dir() / "eval" / "m_keras_on-val"
    assert json.loads((folder / "evaluation.json").read_text())["folder"] == doc["folder"]
    for key in ("head", "cache", "split", "head_abspath", "cache_abspath"):
        assert key not in doc, key
    assert (doc["model"]["path"], doc["model"]["abspath"]) == (str(model), os.path.abspath(model))
    assert (doc["folder"]["path"], doc["folder"]["abspath"], doc["folder"]["images"]) == (str(val), os.path.abspath(val), 4)
    assert doc["accuracy"] is not None and doc["test_accuracy"] is None  # a folder's score, no test split's
    info = json.loads(run_main(capsys, "info", str(folder / "evaluation.json"), "--json").stdout)
    assert (info["model"], info["folder"]) == (doc["model"], doc["folder"]) and "head" not in info and "split" not in info
    # the default folder's owner is read from those keys: the same model and folder again keep it, another
    # model file of the same name is given a folder of its own
    again = run_main(capsys, "evaluate", str(model), str(val), "--json")
    assert again.returncode == 0 and sorted(p.name for p in folder.parent.iterdir()) == ["m_keras_on-val"], again.stderr
    other = tmp_path / "other" / "m.keras"
    other.parent.mkdir()
    other.write_bytes(model.read_bytes())
    assert run_main(capsys, "evaluate", str(other), str(val), "--json").returncode == 0
    tagged = [p for p in folder.parent.iterdir() if p != folder]
    assert len(tagged) == 1 and tagged[0].name.startswith("m_keras_on-val"), tagged
    assert json.loads((tagged[0] / "evaluation.json").read_text())["model"]["abspath"] == str(other)


def test_a_model_that_keeps_no_training_digests_scored_on_its_heads_train_folder_gets_a_note(split, tmp_path, capsys):
    """Regression (helper-233's review): the fallback for a model that keeps no digests (exported before 2026-12-06,
    or from a head without them): scored on the train/ folder its record's source names, a note says the accuracy
    is on training photos; on val/ nothing is said."""
    _, root, without_digests = split
    model = without_digests()
    assert read_meta(model).get("train_digest_count") is None
    got = run_main(capsys, "evaluate", str(model), str(root / "train"), "--out", str(tmp_path / "rep"))
    assert got.returncode == 0, got.stderr
    note = (f"{root.resolve() / 'train'} is the train/ folder the model's head was trained on: the accuracy is on images "
            "the model was trained on, so it is not a test accuracy; the model keeps no digests of its training photos")
    assert f"note      {root / 'train'} is the train/ folder" in got.stdout and note.split(" is ", 1)[1] in got.stdout
    report = json.loads((tmp_path / "rep" / "evaluation.json").read_text())
    assert report["overlap"] is None and "is the train/ folder the model's head was trained on" in report["note"]
    assert f"evaluate on photos it has not seen ({root.resolve() / 'val'})" in report["note"]
    info = run_main(capsys, "info", str(tmp_path / "rep" / "evaluation.json"))  # info repeats the note (a reviewer)
    assert info.returncode == 0 and f"note: {report['note']}" in info.stdout.splitlines(), info.stdout
    got = run_main(capsys, "evaluate", str(model), str(root / "val"), "--json")
    assert got.returncode == 0 and json.loads(got.stdout)["note"] is None, got.stderr


def test_a_fine_tuned_model_keeps_its_heads_training_digests(tmp_path):
    """Regression (helper-233's review): finetune's model, like export's, keeps the head's training digests (it is
    fine-tuned on the head's training rows), so its evaluation can say which photos it was trained on."""
    from featcache._lazy import keras
    from featcache.deploy.finetune import FinetuneResult, _save
    from featcache.deploy.model import train_digests
    from featcache.heads.io import digest_keys

    k = keras()
    inputs = k.Input((2,))
    model = k.Model(inputs, k.layers.Dense(2)(inputs))
    keys = digest_keys([f"{i:016x}" + "0" * 48 for i in (7, 3, 5)])
    meta = {"class_names": ["ants", "bees"], "backbone": "mobilenet_v2", "image_size": 32, "head": "keras", "params": {},
            "train_digests": keys}
    out = tmp_path / "ft.keras"
    _save(model, out, meta, "h.keras", "random", {"unfreeze": 20}, FinetuneResult(out, {}, [], 0.5, frozen_val_loss=1.0))
    assert np.array_equal(train_digests(out, read_meta(out)), keys) and read_meta(out)["train_digest_count"] == 3


@pytest.fixture(scope="module")
def svm_split_model(tmp_path_factory):
    """``svm_split_model(classes)``: ``_split_model``'s SVM head's model without probabilities of those classes, made
    once per module for the tests that only evaluate and predict it (an extract, a train and an export each; and a
    model made again was another file, each of its evaluates and predicts a Keras load and a trace)."""
    made: dict[tuple[str, ...], tuple[Path, Path]] = {}

    def get(classes: tuple[str, ...]) -> tuple[Path, Path]:
        if classes not in made:
            made[classes] = _split_model(tmp_path_factory.mktemp("svm_split"), "svm", {"probability": False},
                                         classes=classes)
        return made[classes]

    return get


@pytest.mark.parametrize("classes", [("ants", "bees", "wasps"), ("ants", "bees")])
def test_an_svm_models_misclassified_photos_show_shares_not_probabilities(svm_split_model, tmp_path, capsys, classes):
    """Regression (helper-233's review): an SVM head's model without probabilities gives shares (predict's columns
    share_N), but evaluate recorded each misclassified photo as "probability": 0.554 and printed "ants -> bees
    0.554". Named as predict names them ("share"; "probability" None, as a head's report has none for such a head);
    the report calls the model by its head's words ("model of an SVM head", not "svm model") and names its content
    digest beside its SHA-256, as predict's CSV record, info and verify name a model by it.

    Regression (a re-read, 2026-12-06): of two classes, one view, the share was 1.000 for every photo (one vote of
    one pair: the decision, no score); no number is shown or kept there, and predict names the class alone."""
    model, _ = svm_split_model(classes)
    val = make_class_tree(tmp_path / "val", dict.fromkeys(classes, 2), ext="jpg", size=40, offset=70)
    write_image(val / "bees" / "an_ant.jpg", class_image(0, 99, 40))  # mislabelled: an ant among the bees
    got = run_main(capsys, "evaluate", str(model), str(val), "--out", str(tmp_path / "rep"))
    assert got.returncode == 0, got.stderr
    report = json.loads((tmp_path / "rep" / "evaluation.json").read_text())
    assert report["misclassified"], report
    for w in report["misclassified"]:
        if len(classes) == 2:
            assert w["probability"] is None and w["share"] is None
            assert f"  {w['path']}: {w['true']} -> {w['predicted']}\n" in got.stdout
        else:
            assert w["probability"] is None and 0 < w["share"] <= 1
            assert f"{w['path']}: {w['true']} -> {w['predicted']} share {w['share']:.3f}" in got.stdout
    said = run_main(capsys, "predict", str(model), str(val / "bees" / "an_ant.jpg"))
    assert said.returncode == 0, said.stderr
    top = said.stdout.strip().rpartition(": ")[2]
    if len(classes) == 2:  # the class alone, and the note says why
        assert top in classes and "is an SVM head's model: its output is the SVM's decision alone" in said.stderr, said
    else:
        assert re.fullmatch(r"(\w+ \d\.\d{3}, ){2}\w+ \d\.\d{3}", top) and "vote shares" in said.stderr, said
    digest = read_meta(model)["content_digest"]
    assert report["model"]["content_digest"] == digest
    assert got.stdout.startswith(f"model     {model} (model of an SVM head, sha256 {file_sha256(model)[:12]}, "
                                 f"content digest {digest[:12]})")


@pytest.mark.parametrize("classes", [("ants", "bees", "wasps"), ("ants", "bees")])
def test_an_svm_models_evaluation_says_what_its_shares_are_as_predict_does(tiny, svm_split_model, tmp_path, capsys,
                                                                          classes):
    """Regression (a brief, 2026-12-06): evaluate MODEL FOLDER listed an SVM head's model's misclassified photos
    with "share 0.333" and no word of what a share is, where predict says it once (its note, --json's values_words:
    deploy.model.svm_numbers). evaluate's text, evaluation.txt, evaluation.json and --json say it in predict's words:
    three classes, vote shares of their 3 contests; two (one vote, the decision alone), why no number is shown.
    Fails on the code before: no such line, no values_words."""
    model, _ = svm_split_model(classes)
    val = make_class_tree(tmp_path / "val", dict.fromkeys(classes, 2), ext="jpg", size=40, offset=70)
    write_image(val / "bees" / "an_ant.jpg", class_image(0, 99, 40))  # mislabelled: an ant among the bees
    got = run_main(capsys, "evaluate", str(model), str(val), "--out", str(tmp_path / "rep"))
    assert got.returncode == 0, got.stderr
    said = run_main(capsys, "predict", str(model), str(val), "--recursive", "--json")
    words = json.loads(said.stdout)["values_words"]
    own = ("the SVM's decision alone (two classes, one view" if len(classes) == 2
           else "vote shares, not probabilities and no confidence: each class's share of the 3 one-vs-one contests")
    assert words.startswith(own), words
    line = f"  (no number: the model's output is {words})" if len(classes) == 2 else f"  (share: {words})"
    lines = got.stdout.splitlines()
    wrong = next(i for i, l in enumerate(lines) if l.startswith("misclassified: "))
    assert lines[wrong + 1] == line, got.stdout  # under the count, before the photos
    assert line in (tmp_path / "rep" / "evaluation.txt").read_text().splitlines()
    assert json.loads((tmp_path / "rep" / "evaluation.json").read_text())["values_words"] == words
    js = run_main(capsys, "evaluate", str(model), str(val), "--json")
    assert js.returncode == 0 and json.loads(js.stdout)["values_words"] == words, js.stderr
    if len(classes) == 2:  # a model of probabilities (logreg's, of ants and bees): nothing to say
        logreg = run_main(capsys, "evaluate", str(tiny[0]), str(val), "--json")
        assert logreg.returncode == 0 and json.loads(logreg.stdout)["values_words"] is None, logreg.stderr


@pytest.mark.parametrize("classes", [("ants", "bees", "wasps"), ("ants", "bees")])
def test_info_of_an_svm_models_evaluation_says_what_its_shares_are(tiny, svm_split_model, tmp_path, capsys, classes):
    """Regression (a brief, 2026-12-06): info of an SVM head's model's evaluation.json, whose report records what its
    shares are (values_words), said neither in its text nor in --json. It says them as predict's note does (its
    output where it is the decision alone), and --json gives them under evaluate's key; a model of probabilities's
    report, None and no such line. Fails on the code before: no line, no key."""
    model, _ = svm_split_model(classes)
    val = make_class_tree(tmp_path / "val", dict.fromkeys(classes, 2), ext="jpg", size=40, offset=70)
    assert run_main(capsys, "evaluate", str(model), str(val), "--out", str(tmp_path / "rep")).returncode == 0
    record = tmp_path / "rep" / "evaluation.json"
    words = json.loads(record.read_text())["values_words"]
    said = run_main(capsys, "predict", str(model), str(val), "--recursive")
    note = next(l for l in said.stderr.splitlines() if "is an SVM head's model: " in l)
    ours = note.split("is an SVM head's model: ", 1)[1].removesuffix(" (docs/commands.md, export)")
    got = run_main(capsys, "info", str(record))
    assert got.returncode == 0 and got.stderr == "", got.stderr
    assert f"the model is an SVM head's model: {ours.removesuffix(': each line names the class')}" in got.stdout.splitlines()
    assert words in ours and ("its output is" in ours) == (len(classes) == 2), ours
    js = run_main(capsys, "info", str(record), "--json")
    assert js.returncode == 0 and json.loads(js.stdout)["values_words"] == words, js.stderr
    if len(classes) == 2:  # a model of probabilities (logreg's): nothing to say
        assert run_main(capsys, "evaluate", str(tiny[0]), str(val), "--out", str(tmp_path / "lr")).returncode == 0
        plain = run_main(capsys, "info", str(tmp_path / "lr" / "evaluation.json"))
        assert plain.returncode == 0 and "SVM" not in plain.stdout, plain.stdout
        pjs = run_main(capsys, "info", str(tmp_path / "lr" / "evaluation.json"), "--json")
        assert "values_words" in json.loads(pjs.stdout) and json.loads(pjs.stdout)["values_words"] is None


def test_the_folder_fingerprint_follows_each_photos_bytes_and_class_not_where_the_tree_is(tmp_path):
    """A guard, not a fix (helper-233's review: only its length and repeatability were tested; it holds on the old
    code too): the folder's fingerprint changes when one photo's bytes change or a photo moves to another class
    folder, and not when the tree is copied elsewhere."""
    import shutil

    from featcache.sources.images import class_tree

    root = make_class_tree(tmp_path / "a", {"ants": 3, "bees": 3}, ext="jpg", size=40)
    first = class_tree(root, 32)
    assert len(first.paths) == 6 and class_tree(root, 32).fingerprint == first.fingerprint
    copy = shutil.copytree(root, tmp_path / "elsewhere" / "b")
    assert class_tree(copy, 32).fingerprint == first.fingerprint
    photo = sorted((copy / "ants").iterdir())[0]
    write_image(photo, class_image(0, 77, 40))  # one photo's bytes, its name the same
    assert class_tree(copy, 32).fingerprint != first.fingerprint
    shutil.rmtree(copy)
    copy = shutil.copytree(root, tmp_path / "elsewhere" / "b")
    photo = sorted((copy / "ants").iterdir())[0]
    photo.rename(copy / "bees" / photo.name)  # the same bytes, in another class
    moved = class_tree(copy, 32)
    assert moved.fingerprint != first.fingerprint and len(moved.paths) == 6


def test_evaluates_progress_says_scoring_once_not_predicting(tiny, tmp_path, capsys, progress_on):
    """Regression (helper-233's review): evaluate's status lines said predict's "predicting N images with M" right
    after its own "scoring M on N photos": model_runner takes the verb, evaluate passes "scoring"."""
    model, _ = tiny
    val = make_class_tree(tmp_path / "val", {"ants": 2, "bees": 2}, ext="jpg", size=40, offset=50)
    got = run_main(capsys, "evaluate", str(model), str(val), "--out", str(tmp_path / "rep"), "--runtime", "tensorflow")
    assert got.returncode == 0, got.stderr
    assert got.stderr.count(f"scoring 4 image files with {model}; ") == 1 and "predicting" not in got.stderr, got.stderr
    assert "scoring" not in got.stderr.split(f"scoring 4 image files with {model}; ", 1)[1].split("\n", 1)[0]


def test_a_models_defaults_are_predicts_and_a_heads_options_defaults_the_heads_evaluates():
    """Regression (helper-233's review): the model form hard-coded "auto" for the runtime, where predict's default
    (DEFAULT_RUNTIME) is the one home, and the head-only options' defaults were stated again: read from there."""
    import inspect

    from featcache.analysis.evaluate import evaluate as evaluate_head
    from featcache.deploy.evaluate import evaluate, evaluate_model

    def default(fn, name):
        return inspect.signature(fn).parameters[name].default

    assert default(evaluate_model, "runtime") == default(featcache.predict, "runtime")
    for name in ("split", "meta", "trust_pickle", "test_views"):
        assert default(evaluate, name) == default(evaluate_head, name)


def test_a_model_file_not_found_with_a_photo_folder_is_called_a_model(tmp_path, capsys):
    """Regression (helper-233's review): 'evaluate nothere.keras hym/val' said "head file not found ...; train one with
    'featcache train'", where the photo folder says a model was meant: said of a model, and how to make one."""
    val = make_class_tree(tmp_path / "val", {"ants": 1, "bees": 1}, ext="jpg", size=40)
    got = run_main(capsys, "evaluate", str(tmp_path / "nothere.keras"), str(val))
    assert got.returncode == 2 and got.stderr.strip() == (
        f"featcache evaluate: error: model file not found: {tmp_path / 'nothere.keras'}; make one with 'featcache export' "
        "or 'featcache finetune'"), got.stderr
    got = run_main(capsys, "evaluate", str(tmp_path / "nothere.keras"), str(tmp_path / "c.h5"))  # a cache: a head's
    assert got.returncode == 2 and "head file not found" in got.stderr, got.stderr


def test_a_folder_in_another_case_is_told_apart_from_a_class_simply_absent(tmp_path):
    """Regression (a new user): class folders Ants/ and bees/ for a model of ants, bees and other were refused with
    "missing: ants, other", which read as if other/ had to be added, where a folder of some of the classes is scored
    (a warning names the classes without photos). The case is named with its rename; the absent class as not needed."""
    from featcache.deploy.evaluate import check_same_classes

    with pytest.raises(featcache.FeatcacheError) as err:
        check_same_classes(tmp_path, ["Ants", "bees"], ["ants", "bees", "other"])
    said = str(err.value)
    assert "missing" not in said and ": in another case than the model's: Ants (class names are case-sensitive, as " \
        "extract reads them: rename Ants to ants); the model's classes without a folder here: other (not needed: a " \
        "model is scored on the classes there are); name each subfolder" in said, said
    check_same_classes(tmp_path, ["ants", "bees"], ["ants", "bees", "other"])  # some of the classes: scored
    with pytest.raises(featcache.FeatcacheError, match=r": not the model's: wasps; the model's classes without a "
                                                       r"folder here: bees, other \(not needed"):
        check_same_classes(tmp_path, ["ants", "wasps"], ["ants", "bees", "other"])


@pytest.fixture(scope="module")
def fashion_model(tmp_path_factory):
    """(model, folder): a logreg model of a tiny random-weights Fashion-MNIST cache (its IDX files in folder/fm), made
    once for the tests that only score it or read its training images."""
    from helpers import tiny_fashion_cache

    tmp = tmp_path_factory.mktemp("fashion")
    cache = tiny_fashion_cache(tmp, n_train=40, n_test=10)
    return featcache.export(featcache.train(cache, "logreg", out=tmp / "h.npz").path, tmp / "m.keras").path, tmp


def test_a_class_named_with_a_slash_is_scored_from_its_folder_named_with_an_underscore(fashion_model, tmp_path, capsys):
    """Regression (a new-user tester): a Fashion-MNIST model could not be scored with 'featcache evaluate MODEL
    FOLDER': no folder can be named 't-shirt/top', and 't-shirt_top' was refused "not the model's: t-shirt_top;
    missing: t-shirt/top; name each subfolder as one of the model's classes", advice no one could follow. The folder
    't-shirt_top' is that class's (its name with '/' as '_'); the report keeps the model's class name; a folder made
    as t-shirt/top (a 't-shirt' folder) is refused naming the folder to use."""
    model, _ = fashion_model
    names = read_meta(model)["class_names"]
    assert "t-shirt/top" in names  # Fashion-MNIST's class 0
    rng = np.random.default_rng(0)
    photos = {}
    for folder, label in (("t-shirt_top", 0), ("trouser", 1)):
        for i in range(3):
            gray = rng.integers(0, 60, size=(28, 28), dtype=np.uint8)
            gray[2 + 2 * label: 4 + 2 * label, :] = 250  # make_fashion_dir's stripe of the class
            photos[write_image(tmp_path / "val" / folder / f"{i}.png", np.repeat(gray[..., None], 3, axis=2))] = label
    said = [p.top[0][0] for p in featcache.predict(model, list(photos), runtime="tensorflow")]
    want = np.mean([s == names[label] for s, label in zip(said, photos.values())])

    got = run_main(capsys, "evaluate", str(model), str(tmp_path / "val"), "--out", str(tmp_path / "rep"),
                   "--runtime", "tensorflow")
    assert got.returncode == 0, got.stderr
    report = json.loads((tmp_path / "rep" / "evaluation.json").read_text())
    assert report["accuracy"] == pytest.approx(want) and report["folder"]["images"] == 6
    assert report["class_names"] == names and np.sum(report["confusion"][0]) == 3 == np.sum(report["confusion"][1])
    assert {w["true"] for w in report["misclassified"]} <= {"t-shirt/top", "trouser"}
    assert "'t-shirt/top'" not in got.stderr  # not among the classes said to have no photo

    # mkdir -p val2/t-shirt/top made a 't-shirt' folder: the refusal names the folder that stands for the class
    make_class_tree(tmp_path / "val2", {"t-shirt": 1, "trouser": 1}, size=28)
    got = run_main(capsys, "evaluate", str(model), str(tmp_path / "val2"), "--out", str(tmp_path / "rep2"))
    assert got.returncode == 2 and len(got.stderr.splitlines()) == 1, got.stderr
    assert re.search(r"not the model's: t-shirt; the model's classes without a folder here: [^;]*\bt-shirt_top\b",
                     got.stderr), got.stderr
    assert ("name each subfolder as one of the model's classes (t-shirt_top for t-shirt/top: a folder name cannot "
            "hold '/'), or evaluate on") in got.stderr, got.stderr
    assert not (tmp_path / "rep2").exists()


def test_a_folder_stands_for_a_class_it_cannot_name_only_where_no_other_class_has_that_name():
    """The rule of ``class_folders``: 'a/b' is the folder 'a_b' unless a class is named 'a_b' (that folder is that
    class's), or two classes would share it (neither gets it); other names, NFC, are their folders."""
    from featcache.deploy.evaluate import class_folders

    assert class_folders(["a/b", "c"]) == {"a_b": 0, "c": 1}
    assert class_folders(["a/b", "a_b", "c"]) == {"a_b": 1, "c": 2}
    assert class_folders(["a/b", "a\0b", "c"]) == {"c": 2}
    assert class_folders(["Cafe\u0301"]) == {"Caf\u00e9": 0}


def test_info_of_a_model_shows_how_many_training_digests_it_keeps(tiny, split, tmp_path, capsys):
    """Regression (a brief): info of an exported model did not show train_digest_count, the number of its head's
    training-image digests evaluate MODEL FOLDER tells its training photos by; a model that keeps none said
    nothing either. Both now say it, in the text and in --json."""
    from featcache.deploy.model import train_digests

    model, _ = tiny
    kept = len(train_digests(model, read_meta(model)))
    assert kept == 6  # the head's train split: half of the 12 photos
    for old, want in ((model, kept), (split[2](), None)):
        got = run_main(capsys, "info", str(old), "--json")
        assert got.returncode == 0 and json.loads(got.stdout)["train_digest_count"] == want, got.stderr
        got = run_main(capsys, "info", str(old))
        rows = {line.split(None, 1)[0]: line.split(None, 1)[1] for line in got.stdout.splitlines() if line[:1] != " "}
        assert rows["train_digests"].startswith(f"{kept} kept (of the training images: for a model of a photo folder, "
                                                "evaluate MODEL FOLDER says which photos" if want else
                                                     "none (exported before 2026-12-06, or from a head without them"), got.stdout


def test_a_missing_npz_with_a_photo_folder_is_a_head_not_found(tmp_path, capsys):
    """Regression (helper-244, a new-user tester): 'evaluate nope.npz FOLDER' said "model file not found: nope.npz;
    make one with 'featcache export'", though no model is an .npz (export writes .keras): a head's name gets the head's
    line, in the command's words and the call's."""
    val = make_class_tree(tmp_path / "val", {"ants": 1, "bees": 1}, ext="jpg", size=40)
    for name in ("nope.npz", "NOPE.NPZ"):
        got = run_main(capsys, "evaluate", str(tmp_path / name), str(val))
        assert got.returncode == 2 and got.stderr.strip() == (
            f"featcache evaluate: error: head file not found: {tmp_path / name}; train one with 'featcache train'"), got.stderr
    with pytest.raises(featcache.FeatcacheError, match=r"^head file not found: .*nope\.npz; train one with featcache\.train"):
        featcache.evaluate(tmp_path / "nope.npz", val)


def test_a_head_with_a_photo_folder_is_told_to_export_a_model(tiny, tmp_path, capsys):
    """Regression (a re-read, 2026-12-06): 'evaluate h.npz FOLDER' said "FOLDER is a folder, not a cache; pass the .h5
    file written by 'featcache extract'", as if the folder were the mistake: a head is scored on its cache, photos by
    the model exported from it. One line naming both steps with the paths given (a folder with a space quoted as
    bash takes it), exit 2, nothing written; the call's in its words."""
    _, tmp = tiny
    head = tmp / "h.npz"
    val = make_class_tree(tmp_path / "val dir", {"ants": 1, "bees": 1}, ext="jpg", size=40)
    got = run_main(capsys, "evaluate", str(head), str(val), "--out", str(tmp_path / "rep"))
    assert got.returncode == 2 and got.stderr.strip() == (
        f"featcache evaluate: error: {head} is a head, scored on a cache of its settings, not on a photo folder; photos "
        f"need a model exported from it: 'featcache export {head} --out MODEL.keras', then "
        f"'featcache evaluate MODEL.keras {shlex.quote(str(val))}'"), got.stderr
    assert not (tmp_path / "rep").exists()
    with pytest.raises(featcache.FeatcacheError) as info:
        featcache.evaluate(head, val, write=False)
    assert str(info.value).endswith(f"photos need a model exported from it: featcache.export({str(head)!r}, 'MODEL.keras'), "
                                    f"then featcache.evaluate('MODEL.keras', {str(val)!r})")


def test_the_two_steps_for_a_head_with_photos_name_paths_starting_with_a_dash_as_paths(tiny, tmp_path, capsys, monkeypatch):
    """Regression (helper-303's report): the steps quoted the paths with shell_word alone, so 'evaluate ./-h.npz
    ./-val' suggested 'featcache export -h.npz --out MODEL.keras', which the command reads as an option; the paths
    go through shell_path (./ before a leading dash) as every other suggested path."""
    import shutil

    _, tmp = tiny
    shutil.copy(tmp / "h.npz", tmp_path / "-h.npz")
    make_class_tree(tmp_path / "-val", {"ants": 1, "bees": 1}, ext="jpg", size=40)
    monkeypatch.chdir(tmp_path)
    got = run_main(capsys, "evaluate", "./-h.npz", "./-val")
    assert got.returncode == 2 and got.stderr.strip().endswith(
        "'featcache export ./-h.npz --out MODEL.keras', then 'featcache evaluate MODEL.keras ./-val'"), got.stderr


def test_a_head_object_with_a_photo_folder_is_told_to_save_and_export_it(tiny, tmp_path):
    """Regression (a brief): a fitted head, alone or as an (estimator, meta) pair, or a TrainResult whose file no
    longer holds its head, given with a photo folder still said "FOLDER is a folder, not a cache" where a head file
    is told to export a model: the same advice, in Python's words, with the step that writes its file first. A
    TrainResult whose file holds its head is told as that file is. Nothing is written."""
    _, tmp = tiny
    val = make_class_tree(tmp_path / "val", {"ants": 1, "bees": 1}, ext="jpg", size=40)
    est, meta = featcache.load_head(tmp / "h.npz")
    then = f"then featcache.export('HEAD.npz', 'MODEL.keras'), then featcache.evaluate('MODEL.keras', {str(val)!r})"
    fitted = ("the fitted LogRegHead is scored on a cache of its settings, not on a photo folder; photos need a model "
              "exported from it, from a file: ")
    for head, kw, save in ((est, {"meta": meta}, "featcache.save_head(head, 'HEAD.npz', meta)"),
                           ((est, meta), {}, "featcache.save_head(estimator, 'HEAD.npz', meta)")):
        with pytest.raises(featcache.FeatcacheError) as info:
            featcache.evaluate(head, val, **kw)
        assert str(info.value) == f"{fitted}{save}, {then}"
    result = featcache.train(tmp / "c.h5", "logreg", out=tmp_path / "h.npz")
    with pytest.raises(featcache.FeatcacheError) as info:
        featcache.evaluate(result, val)
    assert str(info.value).startswith(f"{result.path} is a head, scored on a cache of its settings")
    result.path.unlink()
    with pytest.raises(featcache.FeatcacheError) as info:
        featcache.evaluate(result, val)
    assert str(info.value) == (
        f"the head of this TrainResult (its file {result.path} no longer holds it) is scored on a cache of its "
        "settings, not on a photo folder; photos need a model exported from it, from a file: "
        f"featcache.save_head(result.estimator, 'HEAD.npz', result.meta), {then}")
    assert not (featcache.paths.runs_dir() / "eval").exists()


def test_a_model_of_an_array_data_set_says_its_training_images_cannot_be_matched_to_photos(fashion_model, tmp_path,
                                                                                             capsys):
    """Regression (a reader, 2026-12-06): a Fashion-MNIST model keeps the digests of its training images' pixels
    (``row_digests``), a photo's digest is of its file's bytes: PNGs written from the very training images were
    reported "seen 0" with no warning, a false assurance. The overlap is now None, with a note (report and stderr)
    saying the photos cannot be matched to the training images."""
    from featcache.sources.fashion_mnist import _read_split

    model, tmp = fashion_model
    images, labels = _read_split(tmp / "fm", "train")
    for folder, label in (("t-shirt_top", 0), ("trouser", 1)):  # the training images themselves, as PNGs
        for i in np.flatnonzero(labels == label)[:3]:
            write_image(tmp_path / "val" / folder / f"{i}.png", images[i])
    got = run_main(capsys, "evaluate", str(model), str(tmp_path / "val"), "--out", str(tmp_path / "rep"),
                   "--runtime", "tensorflow")
    assert got.returncode == 0, got.stderr
    report = json.loads((tmp_path / "rep" / "evaluation.json").read_text())
    assert report["folder"]["images"] == 6 and report["overlap"] is None, report["overlap"]
    line = ("a model of an array data set (fashion_mnist): its training images cannot be matched to photo files, so "
            "this report cannot tell whether these photos were among them")
    assert report["note"] == line and line in (tmp_path / "rep" / "evaluation.txt").read_text()
    assert line in got.stderr, got.stderr


def test_a_missing_folder_is_refused_naming_the_folder_of_each_class(fashion_model, tmp_path, capsys):
    """Regression (a reader, 2026-12-06): the "not found" refusal listed the model's class names ("one subfolder of
    photos per class of the model (t-shirt/top, trouser, ...)"), advice no folder can follow; it names the folder
    of each class (``class_folders``: 't-shirt_top')."""
    model, _ = fashion_model
    got = run_main(capsys, "evaluate", str(model), str(tmp_path / "nowhere"), "--out", str(tmp_path / "rep"))
    assert got.returncode == 2 and len(got.stderr.splitlines()) == 1, got.stderr
    assert "per class of the model (t-shirt_top, trouser, " in got.stderr, got.stderr
    assert "t-shirt/top" not in got.stderr, got.stderr


def test_copies_in_another_folder_are_not_said_to_be_in_the_test_folder_when_that_is_gone(split, tmp_path, capsys):
    """Regression (a reader, 2026-12-06): with the data set's recorded test folder (SOURCE/val) gone, any folder
    scored counted as it (``other_folders`` takes a folder it cannot reach for the same): copies of training photos
    in another folder got "in its data set's test folder: remove the copies from SOURCE". A test folder not there
    is not the folder scored: the copies are to be removed from that folder."""
    model, root, _ = split
    other = make_class_tree(tmp_path / "other", {"ants": 2, "bees": 2}, ext="jpg", size=40, offset=80)
    (other / "bees" / "b.jpg").write_bytes((root / "train" / "bees" / "bees_001.jpg").read_bytes())
    with _set_aside(root / "val", tmp_path):  # the module's model: its test folder gone for this evaluate
        assert not (root / "val").exists()
        got = run_main(capsys, "evaluate", str(model), str(other), "--json")
    assert got.returncode == 0, got.stderr
    overlap = json.loads(got.stdout)["overlap"]
    assert (overlap["copies"], overlap["copies_in"], overlap["copies_in_data_set"]) == (1, str(other), False), overlap
    assert (f"the seen ones are copies (the same bytes) of photos the model was trained on: remove them from {other}, "
            "or evaluate on new photos") in got.stderr, got.stderr


def test_predict_and_evaluate_say_their_images_per_second_as_extract_does(tiny, tmp_path, capsys):
    """predict's and evaluate's --json said no rate (a brief): now extract's keys, images, seconds (reading,
    decoding, the passes), startup_seconds (the model's preparation, left out as extract's model build) and
    images_per_s, with views and view_images_per_s."""
    from featcache.embedding.runner import ExtractResult

    model, _ = tiny
    val = make_class_tree(tmp_path / "val", {"ants": 3, "bees": 3}, ext="jpg", size=40, offset=50)
    keys = {"images", "seconds", "startup_seconds", "images_per_s", "views", "view_images_per_s"}
    assert keys <= set(ExtractResult(tmp_path / "c.h5", hit=False).to_dict())  # the same names as extract's --json
    for command in (["predict", str(model), str(val), "--recursive"], ["evaluate", str(model), str(val), "--out", str(tmp_path / "rep")]):
        got = run_main(capsys, *command, "--runtime", "tensorflow", "--json")
        assert got.returncode == 0, got.stderr
        said = json.loads(got.stdout)
        assert said["images"] == 6 and said["views"] == 1 and said["seconds"] > 0 and said["startup_seconds"] > 0
        assert said["images_per_s"] == pytest.approx(6 / said["seconds"], rel=0.05, abs=0.1)  # each rounded
        assert said["view_images_per_s"] == said["images_per_s"]


def test_a_models_evaluation_counts_as_views_the_test_views_it_names(tmp_path, capsys):
    """evaluate of a model has ``views`` (the rate's passes per image) beside ``test_views`` (the views its graph
    averages): one is the other's count, read from the model's record once (docs/commands.md), and the view rate
    is per pass. Pinned on a model of two views, where the one-view model above has 1 and ["orig"] by default."""
    root = make_class_tree(tmp_path / "photos", {"ants": 6, "bees": 6}, ext="jpg", size=40)
    res = featcache.extract(featcache.PhotoFolder(str(root), test_fraction=0.5),
                            featcache.ModelSpec(weights="random", image_size=32, views="orig,flip"),
                            featcache.StoreSpec(out=tmp_path / "c.h5"))
    head = featcache.train(res.path, "logreg", out=tmp_path / "h.npz")
    model = featcache.export(head.path, tmp_path / "m.keras", views="all").path
    val = make_class_tree(tmp_path / "val", {"ants": 3, "bees": 3}, ext="jpg", size=40, offset=50)
    got = run_main(capsys, "evaluate", str(model), str(val), "--out", str(tmp_path / "rep"), "--runtime", "tensorflow", "--json")
    assert got.returncode == 0, got.stderr
    said = json.loads(got.stdout)
    assert said["test_views"] == ["orig", "flip"] and said["views"] == 2 and said["images"] == 6, said
    assert said["view_images_per_s"] == pytest.approx(2 * said["images_per_s"], abs=0.2)  # each rounded to 0.1
    report = json.loads((tmp_path / "rep" / "evaluation.json").read_text())
    assert (report["test_views"], report["views"]) == (["orig", "flip"], 2)


def test_a_loaded_model_is_scored_on_a_folder_as_its_file_is_prepared_once(tiny, tmp_path, monkeypatch):
    """Regression: evaluate of a model on a folder shares predict's runner, and ``load_model``'s result is taken there
    too (a new notebook user's; it was taken for a fitted head: "the fitted Functional is scored on a cache of its
    settings, not on a photo folder"), scored and named as its file is (its
    SHA-256, content digest, training digests read from the bytes loaded), its runner built once for both calls."""
    from featcache.deploy import model as model_io

    model, _ = tiny
    folder = make_class_tree(tmp_path / "val", {"ants": 2, "bees": 2}, ext="jpg", size=40)
    want = featcache.evaluate(model, folder, runtime="tensorflow", write=False)
    built = []
    real_init = model_io.ModelRunner.__init__
    monkeypatch.setattr(model_io.ModelRunner, "__init__", lambda self, source, *a, **k: (
        built.append(source), real_init(self, source, *a, **k))[-1])
    loaded = featcache.load_model(model)
    for _ in range(2):
        got = featcache.evaluate(loaded, folder, runtime="tensorflow", out=tmp_path / "rep")
        assert (got.accuracy, got.model_sha256, got.content_digest, got.overlap, got.folder_fingerprint) == (
            want.accuracy, want.model_sha256, want.content_digest, want.overlap, want.folder_fingerprint)
        assert json.loads((tmp_path / "rep" / "evaluation.json").read_text())["model"]["sha256"] == want.model_sha256
    featcache.predict(loaded, [next(folder.glob("ants/*"))], runtime="tensorflow")
    assert len(built) == 1 and built[0].digest == want.model_sha256
