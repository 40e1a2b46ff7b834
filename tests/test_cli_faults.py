"""Issue 13's leftovers: predict skips bad images, --lock-timeout, head meta checked against the model, staged
problems checksummed, --seed on a split folder, messages about the head and --out; and what an adversarial run of
the CLI found. Each failure: one line, exit 2, no traceback, nothing half-written."""

from __future__ import annotations

import contextlib
import json
import re
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import (class_image, consistent_attrs, ended, fill, meta_only_model, reseal_head, run_changed,
                     stub_model_runs, tmpfs, write_image)

from featcache.cli import main


def one_line_error(capsys, argv, *needles) -> str:
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's refusals
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.fixture
def fake_model(tmp_path, monkeypatch):
    """A model file with featcache's metadata and a network stubbed out: predict's plumbing without TensorFlow."""
    path = meta_only_model(tmp_path / "m.keras", image_size=16)
    stub_model_runs(monkeypatch.setattr)
    return path


def test_predict_folder_skips_undecodable_files_and_lists_them(tmp_path, fake_model, capsys):
    folder = tmp_path / "photos"
    for i in range(3):
        write_image(folder / f"ok{i}.png", class_image(0, i, 16))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (folder / "empty.png").write_bytes(b"")
    assert main(["predict", str(fake_model), str(folder)]) == 0
    out, err = capsys.readouterr()
    assert [l.split(": ")[0] for l in out.strip().splitlines()] == [str(folder / f"ok{i}.png") for i in range(3)]
    # "predict: " as predict's other stderr lines (a new-user tester: this one alone had no prefix)
    assert err.strip().startswith("predict: skipped 2 files that are not readable images: ") and "broken.jpg" in err and "empty.png" in err
    assert len(err.strip().splitlines()) == 1
    from featcache.deploy.predict import predict

    preds = predict(fake_model, [folder])
    assert len(preds) == 3 and [p for p, _ in preds.skipped] == [str(folder / "broken.jpg"), str(folder / "empty.png")]
    # JSON stays parseable: the skipped line goes to stderr.
    assert main(["predict", str(fake_model), str(folder), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)  # one object, like every --json; what stderr said is in it too
    assert len(answer["predictions"]) == 3 and [p for p, _ in answer["skipped"]] == [str(folder / "broken.jpg"),
                                                                                    str(folder / "empty.png")]


def test_predict_says_the_runtime_note_on_stderr_only_without_json(tmp_path, fake_model, capsys, monkeypatch):
    """A new-user tester: "runtime auto: using tensorflow (N images do not repay ...)" came on every small predict,
    --json too, where it is already the JSON's runtime_note; extract says it only without --json."""
    note = "runtime auto: using tensorflow (1 image does not repay converting the model)"
    stub_model_runs(monkeypatch.setattr, runtime_used="tensorflow", runtime_note=note)
    image = write_image(tmp_path / "x.png", class_image(0, 0, 16))
    assert main(["predict", str(fake_model), str(image), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["runtime_note"] == note and err == ""
    assert main(["predict", str(fake_model), str(image)]) == 0
    assert capsys.readouterr().err == f"predict: {note}\n"


def test_predict_top_k_beyond_the_models_classes_shows_them_all(tmp_path, fake_model, capsys):
    """A new-user tester: --top-k 5 on a 2-class model exited 2 ("use 1..2"), where the help said "or all if the
    model has fewer". It shows both classes now, says so on stderr (in the JSON's top_k with --json), API alike."""
    from featcache.deploy.predict import predict
    from featcache.errors import FeatcacheError

    image = write_image(tmp_path / "x.png", class_image(0, 0, 16))
    assert main(["predict", str(fake_model), str(image), "--top-k", "5"]) == 0
    out, err = capsys.readouterr()
    assert out == f"{image}: bees 0.750, ants 0.250\n"
    assert err == "predict: --top-k 5: the model has 2 classes; showing all of them\n"
    assert main(["predict", str(fake_model), str(image), "--top-k", "5", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["top_k"] == 2 and len(json.loads(out)["predictions"][0]["top"]) == 2 and err == ""
    assert main(["predict", str(fake_model), str(image), "--top-k", "1"]) == 0
    assert capsys.readouterr() == (f"{image}: bees 0.750\n", "")  # within range: no note
    preds = predict(fake_model, [image], top_k=5)
    assert preds.top_k == 2 and preds[0].top == [("bees", 0.75), ("ants", 0.25)]
    with pytest.raises(FeatcacheError, match="^top_k=0 must be at least 1$"):  # the API's keyword (errors.given)
        predict(fake_model, [image], top_k=0)


def test_a_switch_is_refused_as_given_before_the_model_is_read(tmp_path, capsys):
    """Regression (helper-296's brief): --holdout 1e-400 said "--holdout 0.0 is not a fraction" (argparse's float),
    top_k=-0.0 "top_k=0 must be at least 1" (a float, refused as one since h301: validate.whole_float); predict refused lock_timeout before reading the model but top_k and
    batch_size only after it (a model that is no model said so first). Each names what was given, before any file."""
    from featcache.deploy.predict import predict
    from featcache.errors import FeatcacheError

    one_line_error(capsys, ["probe", str(tmp_path / "c.h5"), "--holdout", "1e-400"], "--holdout 1e-400 is not a fraction")
    not_a_model = tmp_path / "m.keras"
    not_a_model.write_bytes(b"no model")
    image = write_image(tmp_path / "x.png", class_image(0, 0, 16))
    with pytest.raises(FeatcacheError, match=r"^top_k=-0\.0 is not a whole number; pass e\.g\. top_k=10$"):
        predict(not_a_model, [image], top_k=-0.0)
    with pytest.raises(FeatcacheError, match=r"^batch_size=0 must be at least 1$"):
        predict(not_a_model, [image], batch_size=0)


def test_predict_skips_a_file_whose_name_is_not_utf8_as_extract_does(tmp_path, fake_model, capsys):
    """Regression (an adversarial tester): a photo named with a byte that is not UTF-8 was predicted, then --csv
    ended in a UnicodeEncodeError traceback after every prediction. It is skipped and listed, as extract skips it."""
    import os

    folder = tmp_path / "photos"
    write_image(folder / "ok.png", class_image(0, 0, 16))
    bad = os.fsdecode(bytes(folder) + b"/p\xfe.png")
    write_image(Path(bad), class_image(0, 1, 16))
    csv_path = tmp_path / "p.csv"
    assert main(["predict", str(fake_model), str(folder), "--csv", str(csv_path)]) == 0
    out, err = capsys.readouterr()
    assert [l.split(": ")[0] for l in out.strip().splitlines()] == [str(folder / "ok.png")]  # the CSV's line: stderr
    assert err.strip().startswith("predict: skipped 1 file that is not a readable image: ") and "file name is not valid UTF-8; rename it" in err
    assert "p\\xfe.png" in err and "\ufffd" not in err  # the byte, as the other skips write it (it was U+FFFD; a review)
    assert csv_path.read_text().count("\n") == 2  # the header and ok.png
    np.save(os.fsdecode(bytes(tmp_path) + b"/a\xfe.npy"), np.zeros((1, 16, 16), np.uint8))
    one_line_error(capsys, ["predict", str(fake_model), os.fsdecode(bytes(tmp_path) + b"/a\xfe.npy")], "a\\xfe.npy: file name is not valid UTF-8; rename it")


def test_predict_reads_a_folder_whose_path_is_not_utf8_as_extract_does(tmp_path, fake_model, capsys):
    """Regression (an adversarial tester): a Latin-1 folder, which extract --images reads, was refused by predict
    (with --recursive or not), every file "the path of its folder is not valid UTF-8". Its images are predicted now:
    the lines show the byte as \\xe9 (not Python's \\udce9), the CSV holds the path's own bytes, and a rerun
    replaces that CSV (read strictly, it was "not a predictions CSV featcache wrote")."""
    import os

    from featcache.deploy.predict import predict

    folder = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9"))
    write_image(folder / "ants" / "a.png", class_image(0, 0, 16))
    write_image(folder / "ants" / "bad.png", class_image(0, 1, 16))
    (folder / "ants" / "bad.png").write_bytes(b"not a png")
    csv_path = tmp_path / "p.csv"
    for _ in range(2):
        assert main(["predict", str(fake_model), str(folder), "--recursive", "--csv", str(csv_path)]) == 0
        out, err = capsys.readouterr()
        assert out == f"{tmp_path}/caf\\xe9/ants/a.png: bees 0.750, ants 0.250\n"
        assert f"{tmp_path}/caf\\xe9/ants/bad.png (" in err and "udce9" not in err
        assert csv_path.read_bytes().splitlines()[1] == bytes(tmp_path) + b"/caf\xe9/ants/a.png,bees,0.750000,ants,0.250000"
    np.save(folder / "x.npy", np.zeros((1, 16, 16), np.uint8))  # an array in it: its rows are named after it
    assert [p.input for p in predict(fake_model, [folder / "x.npy"])] == [f"{folder}/x.npy[0]"]


def test_a_csv_named_with_bytes_not_utf8_is_said_as_the_skipped_files_are(tmp_path, fake_model, capsys):
    """Regression (an adversarial tester): 'predict --csv pp<0xff>.csv' said "predictions -> .../pp\\udcff.csv"
    (Python's escape, naming no byte of the file) below a listing of skipped files that wrote the same byte as \\xff.
    Every line on standard error (progress.note) writes such bytes as the listing does (errors.printable)."""
    import os

    folder = tmp_path / "photos"
    write_image(folder / "a.png", class_image(0, 0, 16))
    (folder / os.fsdecode(b"broken\xff.png")).write_bytes(b"not a png")
    csv_path = Path(os.fsdecode(bytes(tmp_path) + b"/pp\xff.csv"))
    assert main(["predict", str(fake_model), str(folder), "--csv", str(csv_path)]) == 0
    err = capsys.readouterr().err
    assert f"{folder}/broken\\xff.png (file name is not valid UTF-8" in err
    assert f"predict: predictions -> {tmp_path}/pp\\xff.csv\n" in err and "udc" not in err, err
    assert os.fsencode(csv_path) in [os.fsencode(p) for p in tmp_path.iterdir()]  # the file has the byte itself


def test_a_utf8_name_python_reads_as_ascii_is_predicted_and_extract_names_the_locale(tmp_path, fake_model, capsys):
    """Regression (an adversarial tester): where Python's file system encoding is ASCII (LC_ALL=C with UTF-8 mode off,
    PYTHONUTF8=0), a folder café comes back as 'caf\\udcc3\\udca9', and predict called it "not valid UTF-8".
    predict reads it (the CSV holds its bytes, which are UTF-8); extract, which records names as text, says the
    locale is the cause and the fix, not "rename it". In this process the surrogate spelling stands for that mode."""
    import os

    from helpers import make_class_tree

    from featcache.deploy.predict import predict
    from featcache.sources.decode import not_utf8

    write_image(tmp_path / "café" / "été.png", class_image(0, 0, 16))
    as_ascii = f"{tmp_path}/caf\udcc3\udca9/\udcc3\udca9t\udcc3\udca9.png"  # os.fsdecode's, under an ASCII encoding
    preds = predict(fake_model, [as_ascii], csv=tmp_path / "p.csv")
    assert [p.input for p in preds] == [as_ascii] and not preds.skipped
    assert (tmp_path / "p.csv").read_text(encoding="utf-8").splitlines()[1].startswith(f"{tmp_path}/café/été.png,bees,")
    assert not_utf8("caf\udcc3\udca9", "class folder name") == (
        f"class folder name is UTF-8, but Python reads file names as {sys.getfilesystemencoding()} here (the locale); "
        "set LC_ALL=C.UTF-8 (or PYTHONUTF8=1) and re-run")
    assert not_utf8("caf\udce9") == "file name is not valid UTF-8; rename it"  # Latin-1 bytes: renaming is the fix
    env = {**os.environ, "PYTHONCOERCECLOCALE": "0", "LC_ALL": "C", "PYTHONUTF8": "0"}
    make_class_tree(tmp_path / "p", {"a": 2, "b": 2})
    # --test-fraction: a tree of class folders needs one, which PhotoFolder now checks when made, before --out's name
    proc = subprocess.run([sys.executable, "-m", "featcache", "extract", "--images", str(tmp_path / "p"), "--test-fraction",
                           "0.5", "--weights", "random", "--image-size", "32", "--out", str(tmp_path / "cé.h5")],
                          capture_output=True, env=env)
    assert proc.returncode == 2 and proc.stderr.decode() == (
        "featcache extract: error: --out file name $'c\\xc3\\xa9.h5' is UTF-8, but Python reads file names as ascii "
        "here (the locale); set LC_ALL=C.UTF-8 (or PYTHONUTF8=1) and re-run\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".p.csv.featcache", "café", "m.keras", "p", "p.csv"]


def test_predict_of_files_named_as_no_image_is_refused_before_any_line_of_the_run(tmp_path, fake_model, capsys,
                                                                                   monkeypatch, progress_on):
    """Regression (a new notebook user): ``predict MODEL data/cache/mine.h5`` said "predicting 0 image files with
    MODEL; preparing the model on runtime auto ..." and then refused it: nothing to predict is said first, alone,
    and the model is not prepared."""
    import featcache
    from featcache.deploy import model as model_io

    cache = tmp_path / "mine.h5"
    cache.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    monkeypatch.setattr(model_io, "ModelRunner", lambda *a, **k: pytest.fail("the model was prepared"))
    assert one_line_error(capsys, ["predict", str(fake_model), str(cache), str(notes)]).startswith(
        f"featcache predict: error: no image to predict: {cache}: not an image file, left out")
    with pytest.raises(featcache.FeatcacheError, match=f"^no image to predict: {cache}: not an image file"):
        featcache.predict(fake_model, cache, verbose=True)
    assert capsys.readouterr().err == ""


def test_predict_with_no_readable_image_is_one_line(tmp_path, fake_model, capsys):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.png").write_text("text")
    (folder / "b.png").write_text("text")
    one_line_error(capsys, ["predict", str(fake_model), str(folder)], "no image to predict", "a.png", "other 1 file")
    one_line_error(capsys, ["predict", str(fake_model), str(tmp_path / "gone.png")], "image file not found")
    one_line_error(capsys, ["predict", str(folder), str(fake_model)], "is a folder, not a model file")  # arguments swapped
    models = tmp_path / "models"  # swapped, a folder of models: the line names them, as load_model's does (helper-310)
    models.mkdir()
    (models / "m.keras").write_bytes(fake_model.read_bytes())
    assert one_line_error(capsys, ["predict", str(models), str(fake_model)]) == (
        f"featcache predict: error: {models} is a folder, not a model file (it holds m.keras); pass the .keras file "
        "written by 'featcache export' or 'featcache finetune' first, then the images")
    csv = tmp_path / "p.csv"
    one_line_error(capsys, ["predict", str(fake_model), str(folder), "--csv", str(csv)], "no image to predict")
    assert not csv.exists()


def test_lock_timeout_names_the_holder_the_lock_file_and_the_flag(tmp_path, fashion_dir, capsys):
    import os

    from featcache.embedding.specs import StoreSpec
    from featcache.errors import FeatcacheError
    from featcache.store.lock import exclusive_lock

    out = tmp_path / "c.h5"
    argv = ["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--out", str(out), "--lock-timeout"]
    with exclusive_lock(out):  # another writer (a second open file description conflicts even in one process)
        err = one_line_error(capsys, argv + ["0.2"], f"process {os.getpid()}", f"{out}.lock", "--lock-timeout", "0.2 s")
    assert not out.exists() and not list(tmp_path.glob("*.partial*")), err
    for bad in ("-1", "nan", "soon"):
        one_line_error(capsys, argv + [bad], "--lock-timeout", "seconds")
    with pytest.raises(FeatcacheError, match="^lock_timeout=-3 is negative; use 0 or more seconds"):  # the API's keyword
        StoreSpec(lock_timeout=-3)
    assert StoreSpec(lock_timeout=2).lock_timeout == 2.0 and StoreSpec().lock_timeout is None
    with pytest.raises(FeatcacheError, match="^lock_timeout='2' is not a number of seconds"):  # text: the flag's alone
        StoreSpec(lock_timeout="2")


def test_a_second_curve_into_the_same_folder_waits_for_the_first_or_names_it(tmp_path, capsys):
    """Regression (an adversarial tester): two curve runs into one --out (--heads logreg, --heads svm) both exited 0
    and one run's rows were lost, the last writer's curve.csv all that was left. The folder's lock (<out>.lock, as
    extract's beside a cache) is held for the whole run: a second run waits, then resumes from the first's rows,
    or gives up after --lock-timeout naming the holder, as extract does."""
    import os
    import threading
    import time

    import featcache
    from featcache.store.lock import exclusive_lock

    cache = tiny_cache(tmp_path / "c.h5")
    out = tmp_path / "curve"
    argv = ["curve", str(cache), "--sizes", "10,20", "--seeds", "1", "--out", str(out)]
    with exclusive_lock(out):  # another run (a second open file description conflicts even in one process)
        one_line_error(capsys, [*argv, "--heads", "logreg", "--lock-timeout", "0.2"], f"{out} is being written by process "
                       f"{os.getpid()}", f"(lock {out}.lock)", "0.2 s", "--lock-timeout")
        assert not out.exists()  # nothing read or written without the lock
        second = threading.Thread(target=featcache.learning_curve, args=(cache, [10, 20]),
                                  kwargs=dict(seeds=1, heads="svm", out=out, verbose=False))
        second.start()
        time.sleep(0.5)
        assert second.is_alive() and not out.exists()  # waiting
        assert main([*argv, "--heads", "logreg", "--lock-timeout", "0"]) == 2
        capsys.readouterr()
    second.join(60)
    assert main([*argv, "--heads", "logreg"]) == 0
    from featcache.analysis.curve import read_rows

    assert sorted({r["head"] for r in read_rows(out / "curve.csv")}) == ["logreg", "svm"]
    assert not (tmp_path / "curve.lock").exists()
    capsys.readouterr()


def _rewrite_zip(good, bad, change):
    import zipfile

    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = change(item.filename, src.read(item))
            if data is not None:
                dst.writestr(item, data)
    return bad


@pytest.mark.slow
def test_keras_head_meta_is_checked_against_its_layers(tmp_path):
    """A .keras head whose metadata disagrees with its model (standardize, dropout, params) is refused on load."""
    from featcache.errors import FeatcacheError
    from featcache.heads import DenseHead
    from featcache.heads.io import META_ENTRY, STATS_ENTRY, load_head, save_head

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 6)).astype(np.float32), np.arange(60) % 3
    meta = {"class_names": ["a", "b", "c"], "layer": "out_relu"}
    plain = save_head(DenseHead(epochs=1, early_stopping=False, n_classes=3).fit(X, y), tmp_path / "p.keras", meta)
    std = save_head(DenseHead(epochs=1, early_stopping=False, n_classes=3, standardize=True).fit(X, y), tmp_path / "s.keras", meta)
    load_head(plain), load_head(std)  # untouched: fine

    def with_params(**changes):
        def change(name, data):
            if name != META_ENTRY:
                return data
            m = json.loads(data)
            m["params"].update(changes)
            return json.dumps(m).encode()
        return change

    cases = [
        (std, with_params(standardize=False), "says standardize=False but the file holds standardizing statistics"),
        (plain, with_params(standardize=True), "says standardize=True but the file lacks"),
        (std, with_params(standardize="False"), "metadata's standardize must be True or False (got 'False')"),
        (plain, with_params(dropout=0.5), "dropout layer has rate 0.2 but its metadata says 0.5"),
        (plain, with_params(epochs=0), "metadata's epochs 0 is not valid)"),
        (plain, with_params(epochs="x"), "metadata's epochs 'x' is not valid)"),
        (std, lambda n, d: None if n == STATS_ENTRY else d, "lacks standardizing statistics"),
    ]
    for i, (good, change, message) in enumerate(cases):
        bad = reseal_head(_rewrite_zip(good, tmp_path / f"bad{i}.keras", change))  # past the digest: the checks behind it
        with pytest.raises(FeatcacheError, match="not a readable featcache head") as info:
            load_head(bad)
        assert message in str(info.value) and "\n" not in str(info.value), (i, str(info.value))


def test_a_flipped_byte_in_a_staged_partials_decode_problems_is_caught(tmp_path):
    """The decode problems a photo run stores while embedding are checksummed (Fletcher-32 on fixed-length bytes):
    a flipped byte redoes the damaged rows instead of turning a skipped photo into a decoded one, or back."""
    import h5py
    from helpers import flip

    from featcache.store import STAGING, SplitSpec, StagedWriter
    from featcache.store.layout import CHUNK_ROWS, partial_path

    n, step = 2 * CHUNK_ROWS + 44, CHUNK_ROWS // 2 + 2  # three chunks of problems, batches across their borders
    rows, paths = np.arange(n), [f"f{i}.jpg" for i in range(n)]
    why = np.array(["not an image (format not recognized)" if i % 7 == 0 else "" for i in range(n)], dtype=object)

    def writer():
        return StagedWriter(tmp_path / "c.h5", {"fingerprint": "f" * 64}, [SplitSpec(STAGING, rows % 2, rows, paths)],
                            {"out": 4}, "float32")

    w = writer()
    w.open()
    for s in range(0, n, step):
        w.write(STAGING, s, {"out": np.ones((min(step, n - s), 4), np.float32)}, why[s : s + step])
    w.commit()
    assert w.problems() == {i: why[i] for i in range(n) if why[i]}
    w.close()  # a run stopped before publishing
    with h5py.File(partial_path(tmp_path / "c.h5")) as f:
        ds = f[STAGING]["problem"]
        assert ds.fletcher32 and ds.dtype.kind == "S"
        info = ds.id.get_chunk_info_by_coord((ds.chunks[0],))  # the second chunk of problems
        offset, start = info.byte_offset, ds.chunks[0]
    flip(partial_path(tmp_path / "c.h5"), offset + info.size // 2)
    w = writer()
    done = w.open()
    assert done[STAGING] == start and any("damaged" in r for r in w.repairs), w.repairs
    assert w.problems() == {i: why[i] for i in range(start) if why[i]}
    for s in range(start, n, step):  # the redone rows go into the damaged chunk's place
        w.write(STAGING, s, {"out": np.ones((min(step, n - s), 4), np.float32)}, why[s : s + step])
    w.commit()
    assert w.problems() == {i: why[i] for i in range(n) if why[i]}
    w.close()


def test_a_cli_error_names_the_flag_and_an_api_error_the_keyword(tmp_path, capsys, fake_model):
    """A new-user tester: 'extract --images DIR' without a split said "pass test_fraction=F / --test-fraction F", and
    'predict MODEL DIR-of-folders' "or --recursive (API: recursive=True)": the API's words in the CLI's line. One
    rule (errors.option): a command's errors name its flag, an API call's its keyword."""
    from helpers import make_class_tree

    from featcache import PhotoFolder
    from featcache.deploy.predict import predict
    from featcache.errors import FeatcacheError

    tree = make_class_tree(tmp_path / "one", {"a": 2, "b": 2}, size=8)
    err = one_line_error(capsys, ["extract", "--images", str(tree), "--weights", "random", "--image-size", "32",
                                  "--out", str(tmp_path / "c.h5")], "without a test split; pass --test-fraction F (e.g. 0.2)")
    assert "test_fraction" not in err and "API" not in err, err
    with pytest.raises(FeatcacheError, match=r"without a test split; pass test_fraction=F \(e\.g\. 0\.2\)") as api:
        PhotoFolder(tree)
    assert "--" not in str(api.value)
    err = one_line_error(capsys, ["predict", str(fake_model), str(tree)], "pass those folders (e.g. ", "), or --recursive to read")
    assert "recursive=True" not in err and "API" not in err, err
    with pytest.raises(FeatcacheError, match=r"\), or recursive=True to read every subfolder's images$") as api:
        predict(fake_model, [tree])
    assert "--" not in str(api.value)



def test_predict_json_names_the_option_that_reads_a_subfolder_in_the_callers_words(tmp_path, capsys, fake_model):
    """Regression (a brief, 2026-12-06): predict --json's left_out said of a subfolder "subfolder, not read
    (recursive reads it)", the API's keyword in the CLI's output. The CLI's --json names its flag, the API's
    Predictions.to_dict() its keyword (errors.option's rule); the stderr line already did. Fails on the code before:
    the CLI's reason names "recursive", not "--recursive"."""
    from featcache.deploy.predict import predict

    folder = tmp_path / "photos"
    write_image(folder / "x.png", class_image(0, 0, 16))
    write_image(folder / "more" / "y.png", class_image(1, 0, 16))
    assert main(["predict", str(fake_model), str(folder), "--json"]) == 0
    out, err = capsys.readouterr()
    assert "or --recursive, to predict its images" in err, err  # the stderr line names the flag, as ever
    assert json.loads(out)["left_out"] == [[str(folder / "more"), "subfolder, not read (--recursive reads it)"]]
    assert predict(fake_model, [folder]).to_dict()["left_out"] == [[str(folder / "more"),
                                                                    "subfolder, not read (recursive=True reads it)"]]


def test_predict_says_a_folders_npy_array_is_read_when_named_not_a_file_of_no_image_type(tmp_path, capsys, fake_model):
    """Regression (a new-user tester, h300, 2026-12-06): predict reads .npy arrays named one by one, but one in a
    folder given was "left out of the folders given: 1 file of no image type (stack.npy)", as a notes.txt is, with no
    word of how to predict its images. It is now said to be an array, with the fix (name it); named, its images are
    predicted. Fails on the code before: the line and --json's reason call it a file of no image type."""
    from featcache.deploy.predict import predict

    folder = tmp_path / "photos"
    write_image(folder / "x.png", class_image(0, 0, 16))
    np.save(folder / "stack.npy", np.stack([class_image(1, 0, 16)[..., 0]] * 2))
    (folder / "notes.txt").write_text("not an image")
    assert main(["predict", str(fake_model), str(folder), "--json"]) == 0
    out, err = capsys.readouterr()
    assert (f"1 .npy array ({folder / 'stack.npy'}; pass it by name to predict its images) and 1 file of no image "
            f"type ({folder / 'notes.txt'})") in err, err
    assert json.loads(out)["left_out"] == [[str(folder / "notes.txt"), "not an image file, left out"],
                                           [str(folder / "stack.npy"), "a .npy array, read only when named, not "
                                                                       "from a folder"]]
    assert [p.input for p in predict(fake_model, [folder / "stack.npy"])] == [f"{folder / 'stack.npy'}[0]",
                                                                             f"{folder / 'stack.npy'}[1]"]

def test_one_image_is_said_as_one_image(tmp_path, capsys):
    """A new-user tester: evaluate printed "misclassified: 1 images". Every printed count of images is
    progress.counted's: train's, evaluate's and info's lines on a cache of one test image, and the misclassified line."""
    from featcache.analysis.evaluate import misclassified_text

    cache, head = tiny_cache(tmp_path / "c.h5", n_test=1), tmp_path / "h.npz"
    assert main(["train", str(cache), "--head", "logreg", "--out", str(head)]) == 0
    assert " on 1 image; fit " in capsys.readouterr().out
    assert main(["evaluate", str(head), str(cache), "--out", str(tmp_path / "e")]) == 0
    out = capsys.readouterr().out
    assert "accuracy  1.0000 on 1 image\n" in out and "1 images" not in out, out
    assert main(["info", str(cache)]) == 0
    assert "test        1 image  (" in capsys.readouterr().out
    wrong = {"image": "a.png", "true": "ants", "predicted": "bees", "probability": 0.6}
    assert misclassified_text([wrong])[0] == "misclassified: 1 image"
    assert misclassified_text([wrong] * 2)[0] == "misclassified: 2 images"
    # an entry of before 2026-12-06 (its "image", no "path") and one of now name their image alike
    new = {k: v for k, v in wrong.items() if k != "image"} | {"path": "a.png", "row": 0}
    assert misclassified_text([wrong])[1] == misclassified_text([new])[1] == "  a.png: ants -> bees 0.600"


def test_seed_on_an_already_split_folder_is_refused(tmp_path, capsys):
    """--seed only picks held-out images with --test-fraction: on train/ + val/ it changed nothing, silently."""
    from helpers import make_class_tree

    root = tmp_path / "split"
    make_class_tree(root / "train", {"a": 2, "b": 2}, size=8)
    make_class_tree(root / "val", {"a": 1, "b": 1}, size=8)
    out = tmp_path / "c.h5"
    base = ["extract", "--images", str(root), "--weights", "random", "--image-size", "32", "--out", str(out)]
    one_line_error(capsys, base + ["--seed", "3"], "--seed picks the held-out test images only with --test-fraction;",
                   "drop --seed (or add --test-fraction F ")
    assert "seed=" not in one_line_error(capsys, base + ["--seed", "3", "--test-fraction", "0.5"],
                                         "already split into train/ and val/; drop --test-fraction")
    assert not out.exists()


def tiny_cache(path, n_train: int = 40, n_test: int = 20, d: int = 4, layer: str = "out", fingerprint: str = "e" * 64,
               dataset: str = "tiny", source: dict | None = None, weights: str = "random"):
    """A complete 2-class cache of separable features written directly (no network)."""
    from featcache.store import CacheWriter, SplitSpec

    attrs = consistent_attrs({"fingerprint": fingerprint, "class_names": ["ants", "bees"], "layers": [layer], "default_layer": layer,
             "backbone": "mobilenet_v2", "weights": weights, "image_size": 32, "preprocessing": "x", "dataset": dataset, **({"source": source} if source else {})})
    rng = np.random.default_rng(0)
    data = {s: (np.arange(n) % 2) for s, n in (("train", n_train), ("test", n_test))}
    w = CacheWriter(path, attrs, [SplitSpec(s, y, np.arange(len(y))) for s, y in data.items()], {layer: d}, "float32")
    w.open()
    for s, y in data.items():
        w.write(s, 0, {layer: (rng.normal(size=(len(y), d)) + 3 * y[:, None]).astype(np.float32)})
    w.finish()
    return path


@pytest.mark.parametrize("name", ["my head", "it's", "-a b$c", "new\nline"])
def test_a_suggested_out_is_a_shell_word_to_paste(name, tmp_path, capsys, monkeypatch):
    """Regression (helper-296's brief): train's and export's suggested --out, and a folder's suggested file, were not
    shell-quoted as extract's is ("use --out my head.npz": pasted, head.npz is a second argument; it's.npz opened a
    quote; $c expanded). Each is one word that bash reads back as the path; a Python call's line keeps its repr."""
    import shlex

    import featcache
    from featcache.deploy.model import save_model
    from featcache.errors import FeatcacheError, cli_words

    monkeypatch.chdir(tmp_path)
    cache = str(tiny_cache(tmp_path / "c.h5"))
    pasted = f"./{name}" if name.startswith("-") else name

    def suggestion(err: str) -> str:  # the text after the last "use --out " / "e.g. --out ", as bash reads it
        word = re.split(r"(?:use|e\.g\.) --(?:out|csv) ", err)[-1].rstrip(")")
        if "\n" in name:  # bash's $'...' word, which shlex does not read
            return word[2:-1].encode().decode("unicode_escape") if word.startswith("$'") else word
        return shlex.split(word)[0]

    err = one_line_error(capsys, ["train", cache, "--head", "logreg", f"--out={name}.keras"], "use --out ")
    assert suggestion(err) == f"{pasted}.npz", err
    with cli_words(), pytest.raises(FeatcacheError) as exc:
        save_model(None, f"{name}.npz", {})
    assert suggestion(str(exc.value)) == f"{pasted}.keras", exc.value
    (tmp_path / name).mkdir()
    err = one_line_error(capsys, ["train", cache, "--head", "logreg", f"--out={name}"], "is a folder")
    assert suggestion(err.rsplit(" (", 1)[0]) == f"{pasted}/head.npz", err
    with pytest.raises(FeatcacheError, match=re.escape(f"use out={f'{name}.npz'!r}")):  # the API's words unchanged
        featcache.train(cache, "logreg", out=f"{name}.keras")


def test_train_checks_its_out_before_the_fit_and_names_the_suffixes(tmp_path, capsys, monkeypatch):
    from featcache import paths
    from featcache.heads.logreg import LogRegHead

    cache = str(tiny_cache(tmp_path / "c.h5"))

    def no_fit(self, X, y):
        raise AssertionError("fitted before --out was checked")

    monkeypatch.setattr(LogRegHead, "fit", no_fit)
    one_line_error(capsys, ["train", cache, "--head", "logreg", "--out", str(tmp_path / "notes.txt")],
                   "the logreg head is saved as a .npz file", "keras heads are .keras files; logreg and svm heads are .npz files", f"--out {tmp_path / 'notes.npz'}")
    one_line_error(capsys, ["train", cache, "--head", "keras", "--out", str(tmp_path / "h.npz")],
                   "the keras head is saved as a .keras file", "logreg and svm heads are .npz files")
    one_line_error(capsys, ["train", cache, "--head", "logreg", "--out", str(tmp_path)], "is a folder", "head.npz")
    blocker = tmp_path / "file"
    blocker.write_text("mine")
    one_line_error(capsys, ["train", cache, "--head", "logreg", "--out", str(blocker / "h.npz")], "is a file, not a folder")
    mine = tmp_path / "mine.npz"
    mine.write_bytes(b"my own data")
    one_line_error(capsys, ["train", cache, "--head", "logreg", "--out", str(mine)], "is not a head featcache wrote")
    assert mine.read_bytes() == b"my own data" and blocker.read_text() == "mine"
    # The default path too: its folder cannot be made (a file is in the way), said before the fit.
    paths.runs_dir().mkdir(parents=True, exist_ok=True)
    (paths.runs_dir() / "heads").write_text("in the way")
    one_line_error(capsys, ["train", cache, "--head", "logreg"], "heads is a file, not a folder")


def test_evaluate_given_a_folder_as_the_head_says_so(tmp_path, capsys):
    cache = str(tiny_cache(tmp_path / "c.h5"))
    runs = tmp_path / "runs"
    runs.mkdir()
    one_line_error(capsys, ["evaluate", str(runs), cache], f"{runs} is a folder, not a head file", ".keras or .npz head file")
    (runs / "h.npz").write_bytes(b"x")
    one_line_error(capsys, ["evaluate", str(runs), cache], "it holds h.npz")


def test_evaluate_given_a_folder_then_a_photo_folder_suggests_a_model(tmp_path, capsys):
    """Regression (a brief, h315): 'evaluate runs PHOTOS', the first a folder not named .keras, said "is a folder, not a
    head file; pass the .keras or .npz head file", with no word of a model, where a photo folder as the second argument
    is what a model is scored on. It says a model was wanted, and how a model is passed; the files inside that may be
    meant are listed. Fails on the code before."""
    import featcache
    from featcache.errors import FeatcacheError

    runs, photos = tmp_path / "runs", tmp_path / "photos"
    runs.mkdir()
    (photos / "cats").mkdir(parents=True)
    one_line_error(capsys, ["evaluate", str(runs), str(photos)],
                   f"{runs} is a folder, not a model file; a folder of photos is scored by a model: pass the .keras "
                   "file written by 'featcache export' or 'featcache finetune' first ('featcache evaluate MODEL FOLDER'); "
                   "a head (the .keras or .npz head file written by 'featcache train') is scored on its cache")
    (runs / "m.keras").write_bytes(b"x")
    one_line_error(capsys, ["evaluate", str(runs), str(photos)], f"{runs} is a folder, not a model file (it holds m.keras)")
    with pytest.raises(FeatcacheError) as err:  # the call's words
        featcache.evaluate(runs, photos)
    assert "pass the .keras file written by featcache.export(...) or featcache.finetune(...) first " \
           "(featcache.evaluate(model, folder))" in str(err.value)


def test_evaluate_given_a_folder_named_as_a_model_names_the_models_fix_too(tmp_path, capsys):
    """A tester: 'evaluate m.keras CACHE|FOLDER', m.keras a folder, said "is a folder, not a head file; pass the .keras
    or .npz head file written by 'featcache train'": a .keras name is a model's as much as a Keras head's."""
    cache = str(tiny_cache(tmp_path / "c.h5"))
    model = tmp_path / "m.keras"
    (model / "cats").mkdir(parents=True)
    for second in (cache, str(model / "cats")):  # with a cache or with a folder of photos
        one_line_error(capsys, ["evaluate", str(model), second],
                       f"{model} is a folder, not a head or model file; pass the .keras or .npz head file written by "
                       "'featcache train' with its cache, or the .keras file written by 'featcache export' or "
                       "'featcache finetune' with a folder of photos")
    import featcache
    from featcache.errors import FeatcacheError

    with pytest.raises(FeatcacheError) as err:  # the call's words
        featcache.evaluate(model, cache)
    assert str(err.value).endswith("or the .keras file written by featcache.export(...) or featcache.finetune(...) "
                                   "with a folder of photos")


def test_ctrl_c_while_starting_is_one_line(monkeypatch, capsys):
    """Ctrl-C in the ~2 s of imports while the parser is built gave a 30-line KeyboardInterrupt traceback."""
    import featcache.cli as cli

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["info", "x.h5"]) == 130
    err = capsys.readouterr().err.strip()
    assert err == "featcache: interrupted while starting; nothing was done"


def test_output_into_a_closed_pipe_stops_quietly(tmp_path):
    """Regression: `featcache info CACHE --json | head -c 200` (and --help, evaluate, predict) ended in a
    BrokenPipeError traceback, exit 1. Now no word on stderr and the shell's usual 141."""
    import os
    import subprocess
    import sys

    from helpers import REPO

    cache = str(tiny_cache(tmp_path / "c.h5"))
    for args in (["info", cache, "--json"], ["info", cache], ["--help"]):
        proc = subprocess.Popen([sys.executable, "-m", "featcache", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)})
        proc.stdout.close()  # the reader is gone before the first line
        err = proc.stderr.read().decode()
        proc.wait(timeout=120)
        # --help's text is flushed as it is printed (Parser._print_message; it waited in the buffer until the exit,
        # where Python dropped the error quietly, exit 0): 141 as every command's output (an adversarial tester)
        assert err == "" and proc.returncode == 141, (args, proc.returncode, err[-600:])


def test_an_output_folder_that_is_a_file_says_so(tmp_path, capsys):
    cache = str(tiny_cache(tmp_path / "c.h5"))
    mine = tmp_path / "notes.txt"
    mine.write_text("mine")
    one_line_error(capsys, ["curve", cache, "--sizes", "10", "--seeds", "1", "--heads", "logreg", "--out", str(mine)],
                   f"--out {mine} is a file, not a folder")
    assert mine.read_text() == "mine"


def test_a_path_with_a_newline_still_gives_one_line(tmp_path, capsys):
    err = one_line_error(capsys, ["info", str(tmp_path / "no\nsuch.h5")], "cache not found")
    assert "no\\nsuch.h5" in err


def test_an_empty_layer_is_refused_not_read_as_the_default(tmp_path, capsys):
    cache = str(tiny_cache(tmp_path / "c.h5"))
    one_line_error(capsys, ["train", cache, "--head", "logreg", "--layer", "", "--out", str(tmp_path / "h.npz")],
                   "layer '' is not in", "cached layers: out")
    one_line_error(capsys, ["curve", cache, "--sizes", "10", "--seeds", "1", "--heads", "logreg", "--layer", "",
                            "--out", str(tmp_path / "cv")], "--layer '' is not in")
    assert not (tmp_path / "h.npz").exists()


def test_train_C_message_does_not_suggest_the_per_head_form_it_refuses(tmp_path, capsys):
    cache = str(tiny_cache(tmp_path / "c.h5"))
    err = one_line_error(capsys, ["train", cache, "--head", "logreg", "--C", "logreg=0.03"], "is not a positive number or 'cv'")
    assert "svm=10" not in err and "--C cv" in err


def test_a_cache_whose_extraction_is_unfinished_says_so(tmp_path, capsys):
    from featcache.store.layout import partial_path

    path = tmp_path / "c.h5"
    # a partial that cannot be described (not HDF5 yet): the line that says how to finish it
    partial_path(path).write_bytes(b"an extraction in progress")
    one_line_error(capsys, ["info", str(path)], "is not finished", partial_path(path).name, "re-run the same 'featcache extract'",
                   # an extraction that stopped on a class of unreadable photos fails the same way again (a tester)
                   "after fixing what it said, if it stopped with an error")
    one_line_error(capsys, ["info", str(tmp_path / "other.h5")], "cache not found")


def test_info_on_an_unfinished_cache_shows_its_partials_progress(tmp_path, capsys):
    """A new-user tester: 'info X.h5' beside an interrupted X.h5.partial.h5 said only "is not finished", while
    'info X.h5.partial.h5' showed 1600 of 3000 images done. Now the path shows its partial's progress, exit 0."""
    from featcache.store import CacheWriter, SplitSpec
    from featcache.store.layout import partial_path

    path = tmp_path / "c.h5"
    attrs = consistent_attrs({"fingerprint": "e" * 64, "class_names": ["ants", "bees"], "layers": ["out"], "default_layer": "out",
             "backbone": "mobilenet_v2", "weights": "random", "image_size": 32, "preprocessing": "x", "dataset": "tiny"})
    y = np.arange(40) % 2
    w = CacheWriter(path, attrs, [SplitSpec(s, y, np.arange(40)) for s in ("train", "test")], {"out": 4}, "float32")
    w.open()
    w.write("train", 0, {"out": np.zeros((16, 4), np.float32)})  # killed after 16 of 40 training images
    w.commit()
    w.close()
    assert not path.exists() and partial_path(path).exists()
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"partial     {partial_path(path)}: the unfinished extraction" in out, out
    assert "complete    NO (running or interrupted; re-run the same extract command to resume it)" in out
    assert "train       16 of 40 images embedded so far" in out and "test        0 of 40" in out
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["path"] == str(path) and info["partial"] == str(partial_path(path)) and info["progress"]["train"] == [16, 40]
    assert info["complete"] is False


def test_info_shows_partial_of_only_on_a_file_at_its_partials_name(tmp_path, capsys):
    """Earlier sessions' notes: 'info --json' of a complete c.h5 showed "partial_of": "c.h5", which read as "this file
    is a partial". It is the write protocol's mark; shown only of a sealed file still at the partial's name."""
    from featcache.store.layout import partial_path

    path = tiny_cache(tmp_path / "c.h5")
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["complete"] is True and "partial_of" not in info, info
    path.rename(partial_path(path))  # what a run stopped between sealing and renaming leaves
    for described in (path, partial_path(path)):  # by the cache's name, and by the partial's own
        assert main(["info", str(described), "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["complete"] is True and info["partial_of"] == "c.h5", info


def test_info_and_the_partials_check_tell_a_sealed_partial_by_one_rule(tmp_path):
    """reader._shown_meta re-implemented partial.sealed_not_published's rule (a reviewer, R10a), and the two
    differed: a partial_of of 5 at 5.partial.h5 was shown by info as a sealed partial's mark ("5" + suffix) and not
    taken for one by the partial's check (not a str). One rule now (layout.named_as_partial_of): they agree."""
    import h5py

    from featcache.store.layout import PARTIAL_OF
    from featcache.store.partial import sealed_not_published
    from featcache.store.reader import _shown_meta

    for name, of in (("c.h5.partial.h5", "c.h5"), ("c.h5.partial.h5", "a.h5"), ("c.h5", "c.h5"),
                     ("5.partial.h5", 5), (".partial.h5", "")):
        path = tmp_path / name
        with h5py.File(path, "w") as f:
            f.attrs[PARTIAL_OF] = of
            f.attrs["content_digest"] = "x"
        with h5py.File(path, "r") as f:
            sealed = sealed_not_published(path, f.attrs)
        assert (PARTIAL_OF in _shown_meta(path, {PARTIAL_OF: of})) == sealed, (name, of)
        assert sealed == (name == "c.h5.partial.h5" and of == "c.h5"), (name, of)
        path.unlink()


def featcache_info(path):
    import featcache

    return featcache.info(path)


def test_info_describes_a_head_or_a_model(tmp_path, fake_model, capsys):
    """info said only "not a readable HDF5 file" for a head or a model; then it named the commands that take them, but
    nothing showed what a head was trained on and with which settings (a new-user tester). It describes either, its
    digest checked first; an edited head is refused as every load refuses it."""
    cache = str(tiny_cache(tmp_path / "c.h5"))
    head = tmp_path / "h.npz"
    assert main(["train", cache, "--head", "logreg", "--C", "0.1", "--train-size", "30", "--seed", "2", "--out", str(head)]) == 0
    capsys.readouterr()
    assert main(["info", str(head)]) == 0
    text = capsys.readouterr().out
    for line in ("head ", "logreg", "C 0.1", "train_size", "30", "seed", "test_accuracy", "checked: as saved"):
        assert line in text, text
    # cv_folds and the head's seed do nothing with a fixed C: said, where info listed "cv_folds 5" as a setting (a new user)
    params_row = next(line for line in text.splitlines() if line.startswith("params"))
    # (the seed drew the --train-size subset, so it is not said to be unused: a tester)
    # (n_jobs, None, is not on the row, so not named there either: a new-user tester; --json lists it)
    assert params_row.endswith("(cv_folds: not used by this fit)"), params_row
    assert main(["info", str(head), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["kind"], info["head"], info["train_size"], info["seed"], info["content_digest_checked"]) == ("head", "logreg", 30, 2, True)
    assert info["unused_params"] == ["cv_folds", "n_jobs"] and info["params"]["cv_folds"] == 5  # recorded all the same
    whole = tmp_path / "whole.npz"
    assert main(["train", cache, "--head", "logreg", "--C", "0.1", "--out", str(whole), "--json"]) == 0
    capsys.readouterr()
    assert featcache_info(whole)["unused_params"] == ["cv_folds", "n_jobs", "seed"]  # every image: the seed drew nothing
    cv = tmp_path / "cv.npz"
    assert main(["train", cache, "--head", "logreg", "--C", "cv", "--train-size", "30", "--out", str(cv), "--json"]) == 0
    capsys.readouterr()
    assert featcache_info(cv)["unused_params"] == []  # C by CV reads both
    import featcache

    assert featcache.info(head) == info  # the API's info: the CLI's document (the API had none; a new-user tester)
    assert [line.split()[0] for line in text.splitlines()].count("head") == 1  # the path's row is "file" (a new user)
    assert text.startswith(f"file") and f"{head} (a head)" in text.splitlines()[0]
    assert main(["info", str(fake_model), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "model"
    # a fine-tuned model's record in words, not a Python dict with every epoch (a new-user tester)
    from helpers import meta_only_model

    tuned = meta_only_model(tmp_path / "tuned.keras", finetune={"learning_rate": 1e-05, "params": {"total": 2260546},
                                                                "epochs": [{"accuracy": 0.9693877551020408}] * 3})
    assert main(["info", str(tuned)]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("finetune"))
    # the learning rate as typed (--lr 1e-5), not '%.3g''s 1e-05 (h140); a paragraph of words, each line under the first
    tuned_lines = [lines[start].split(None, 1)[1]] + [line.strip() for line in lines[start + 1:start + 3]]
    assert tuned_lines == ["settings: learning rate 1e-5", "ran: 3 epochs run", "params (total 2260546)"], lines
    edited = _flip_in_entry(head, "featcache.npy", tmp_path / "edited.npz")
    one_line_error(capsys, ["info", str(edited)], f"{edited} is damaged (its entry featcache.npy fails its CRC-32 check)")
    other = tmp_path / "notes.npz"
    other.write_bytes(b"not a zip")
    # a file that never was one of featcache's (a curve.csv, a .png): not h5py's "file signature not found" (a new user)
    one_line_error(capsys, ["info", str(other)], f"{other} is none of the files featcache describes (not an HDF5 cache, "
                                                 "nor a head's or model's zip, nor a report's file", "pass a cache")
    cut = tmp_path / "cut.h5"
    cut.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)  # one that was an HDF5 file: said as HDF5's problem
    one_line_error(capsys, ["info", str(cut)], f"{cut} is damaged")


def test_a_parameter_is_shown_as_typed_in_train_s_lines_info_and_the_other_fit_line(tmp_path, capsys, progress_on):
    """A tester: --param gamma=1e20 was echoed "gamma=1e+20", probability=false as "probability=False", --C 1e10 said
    "C 10000000000.0", and info showed "gamma 100000000000000000000.0000" and "C 10000000000.0000": each site had its
    own str/repr/format. One home now (validate.param_text), the value as a user types it; the record is unchanged."""
    cache = str(tiny_cache(tmp_path / "c.h5"))
    head = tmp_path / "s.npz"
    argv = ["train", cache, "--head", "svm", "--param", "gamma=1e20", "--param", "probability=false",
            "--param", "cache_size=200.5", "--out", str(head)]
    assert main([*argv, "--C", "1e10"]) == 0
    out, err = capsys.readouterr()
    assert "(gamma=1e20, probability=false, cache_size=200.5)" in err, err
    assert ", C 1e10 -> " in out, out
    assert main(["info", str(head)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("params"))
    assert "C 1e10, cache_size 200.5," in row and "gamma 1e20, probability false," in row, row
    one_line_error(capsys, [*argv, "--C", "1e-5"], "another fit (C 1e10 there, 1e-5 here)")
    import featcache

    params = featcache.load_head(head)[1]["params"]  # what is recorded: the numbers themselves, as before
    assert (params["C"], params["gamma"], params["probability"]) == (1e10, 1e20, False)


def test_a_plain_parameter_value_reads_as_itself_in_train_info_and_the_legend(tmp_path, capsys):
    """A new-user tester: 'train --head svm --C 10' said "C 1e1", info "C 1e1, cache_size 5e2" and the curve's legend
    "RBF SVM (C=1e1)": the fewest digits in %g's exponent form. 10 and 500 read as 10 and 500 (validate.number_text)."""
    from featcache.analysis.plots import head_label

    head = tmp_path / "s.npz"
    assert main(["train", str(tiny_cache(tmp_path / "c.h5")), "--head", "svm", "--C", "10", "--out", str(head)]) == 0
    assert ", C 10 -> " in capsys.readouterr().out
    assert main(["info", str(head)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("params"))
    assert "C 10, cache_size 500," in row, row
    assert head_label("svm", {"C": 10.0}) == "RBF SVM (C=10)" and head_label("logreg", {"C": 500.0}) == "logistic regression (C=500)"


def test_predict_csv_never_overwrites_an_input_or_a_users_file(tmp_path, fake_model, capsys):
    folder = tmp_path / "photos"
    for i in range(2):
        write_image(folder / f"ok{i}.png", class_image(0, i, 16))
    photo = folder / "ok0.png"
    before = photo.read_bytes()
    one_line_error(capsys, ["predict", str(fake_model), str(folder), "--csv", str(photo)], "is one of the images to predict")
    # a file of the user's there (no record of featcache's, not a predictions CSV): refused, never replaced (kept
    # aside is for an older featcache's CSV alone; test_predict_csv_keeps_aside_only_a_csv_and_never_writes_over_a_model)
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    one_line_error(capsys, ["predict", str(fake_model), str(folder), "--csv", str(notes)],
                   "exists and is not a predictions CSV featcache wrote")
    assert photo.read_bytes() == before and notes.read_text() == "mine"
    out = tmp_path / "p.csv"
    for said in ("", " (replaced the earlier predictions there)"):  # its own CSV is replaced, and that is said (a
        assert main(["predict", str(fake_model), str(folder), "--csv", str(out)]) == 0  # new-user tester)
        assert capsys.readouterr().err.splitlines()[-1] == f"predict: predictions -> {out}{said}"
    assert out.read_text().startswith("input,class_1,probability_1") and len(out.read_text().splitlines()) == 3
    # A copy the user annotated keeps featcache's first line: it was replaced, their columns and notes lost (a tester)
    lines = out.read_text().splitlines()
    for name, text in [("column", "\n".join([lines[0] + ",my_label,notes", lines[1] + ",bees,by hand", lines[2] + ",,"])),
                       ("note", "\n".join(lines + ["ok1.png is really a bee"])), ("value", "\n".join(lines[:2] + [lines[2] + ",x,sure"]))]:
        reviewed = tmp_path / name / "review.csv"
        reviewed.parent.mkdir()
        reviewed.write_text(text + "\n")
        # no record and no longer featcache's form: refused (kept aside is for an untouched older CSV alone)
        one_line_error(capsys, ["predict", str(fake_model), str(folder), "--csv", str(reviewed)],
                       "exists and is not a predictions CSV featcache wrote")
        assert reviewed.read_text() == text + "\n" and not list(reviewed.parent.glob("review.before-*")), name
        # and once featcache wrote it, their edits are refused, not replaced (a record that no longer matches)
        reviewed.unlink()
        assert main(["predict", str(fake_model), str(folder), "--csv", str(reviewed)]) == 0
        capsys.readouterr()
        reviewed.write_text(text + "\n")
        one_line_error(capsys, ["predict", str(fake_model), str(folder), "--csv", str(reviewed)], "was changed since featcache wrote it")
        assert reviewed.read_text() == text + "\n", name


def test_predict_csv_replaces_only_a_csv_still_as_featcache_wrote_it(tmp_path, fake_model, capsys, monkeypatch):
    """A predictions CSV with a label corrected by hand keeps featcache's form and was replaced in silence, and so
    was a CSV of the same form that featcache never wrote (a review). The CSV's SHA-256 is recorded beside it
    (.NAME.featcache): a rerun replaces it only while it matches; --force replaces anything else."""
    import hashlib

    from featcache.deploy import predict as predict_mod
    from featcache.store import atomic

    folder = tmp_path / "photos"
    for i in range(2):
        write_image(folder / f"ok{i}.png", class_image(0, i, 16))
    out = tmp_path / "p.csv"
    argv = ["predict", str(fake_model), str(folder), "--csv", str(out)]
    assert main(argv) == 0 and main(argv) == 0  # featcache's own, unchanged: replaced
    assert capsys.readouterr().err.splitlines()[-1].endswith("(replaced the earlier predictions there)")
    record = json.loads((tmp_path / ".p.csv.featcache").read_text())
    assert record["sha256"] == [hashlib.sha256(out.read_bytes()).hexdigest()]
    lines = out.read_text().splitlines()
    corrected = "\n".join([lines[0], lines[1].replace(",bees,0.75", ",ants,0.75").replace(",ants,0.25", ",bees,0.25"),
                           lines[2]]) + "\n"
    assert corrected != out.read_text() and predict_mod.is_predictions_csv(out)
    out.write_text(corrected)  # a label corrected by hand: featcache's form still
    one_line_error(capsys, argv, f"--csv {out} was changed since featcache wrote it", "pass --force to replace it")
    assert out.read_text() == corrected
    assert main(argv + ["--force"]) == 0 and out.read_text() != corrected
    assert main(argv) == 0  # and after --force it is featcache's again
    capsys.readouterr()
    # a CSV of featcache's form that featcache did not write (or an older featcache, which kept no record): kept
    # aside, not replaced, not refused (refused, every scheduled job stopped once and got --force for good); and a
    # record that is not featcache's JSON, or names another CSV, vouches for nothing
    theirs = tmp_path / "theirs.csv"
    for record in ("", (tmp_path / ".p.csv.featcache").read_text()):
        theirs.write_text(out.read_text().replace("0.75", "0.70"))
        csv_record = tmp_path / ".theirs.csv.featcache"
        csv_record.unlink(missing_ok=True)
        if record:
            csv_record.write_text(record)
        kept_before = set(tmp_path.glob("theirs.before-*.csv"))
        assert main(argv[:-1] + [str(theirs)]) == 0
        err = capsys.readouterr().err.splitlines()
        (kept,) = set(tmp_path.glob("theirs.before-*.csv")) - kept_before
        assert kept.read_text() == out.read_text().replace("0.75", "0.70") and theirs.read_text() == out.read_text()
        assert f"predict: {theirs} had no record of what featcache wrote there (an older featcache's, or not " \
               f"featcache's): kept as {kept}" in err and err[-1] == f"predict: predictions -> {theirs}", err
    # a run killed after its record and before its rename: the old CSV is still vouched for, and so would be the new
    before = out.read_bytes()

    publish = atomic.publish

    def killed(tmp, path, *a, **k):  # at the CSV's rename, after its record
        if Path(path) == out:
            raise KeyboardInterrupt
        return publish(tmp, path, *a, **k)

    monkeypatch.setattr(atomic, "publish", killed)
    with pytest.raises(KeyboardInterrupt):
        predict_mod.predict(fake_model, [folder / "ok0.png"], csv=out)
    monkeypatch.setattr(atomic, "publish", publish)
    assert out.read_bytes() == before and len(json.loads((tmp_path / ".p.csv.featcache").read_text())["sha256"]) == 2
    assert main(argv) == 0
    # a name at the file system's limit: its record is named by a hash, and a rerun finds it
    long = tmp_path / ("p" * 250 + ".csv")
    for _ in range(2):
        assert main(argv[:-1] + [str(long)]) == 0
    assert predict_mod.csv_record_path(long).name.endswith(".featcache-long") and predict_mod.csv_record_path(long).exists()
    capsys.readouterr()


def test_predict_csv_of_an_older_featcache_is_kept_aside_not_refused(tmp_path, fake_model, capsys, monkeypatch):
    """Upgrading (a review): every CSV written before the record existed was refused once, so a scheduled
    'predict --csv daily.csv' exited 2 and people put --force in their scripts for good. A CSV with no record is
    kept aside under a visible name (never replacing a file there), said in one line; a CSV with a record that no
    longer matches is still refused."""
    import time as time_mod

    folder = tmp_path / "photos"
    for i in range(2):
        write_image(folder / f"ok{i}.png", class_image(0, i, 16))
    daily = tmp_path / "daily.csv"
    argv = ["predict", str(fake_model), str(folder), "--csv", str(daily)]
    assert main(argv) == 0
    old = daily.read_text()
    (tmp_path / ".daily.csv.featcache").unlink()  # as an older featcache left it
    monkeypatch.setattr(time_mod, "strftime", lambda fmt, *a: "20261205-061500")
    (tmp_path / "daily.before-20261205-061500.csv").write_text("taken")  # never replaced: the next name
    assert main(argv) == 0
    err = capsys.readouterr().err.splitlines()
    kept = tmp_path / "daily.before-20261205-061500-2.csv"
    assert err[-2:] == [f"predict: {daily} had no record of what featcache wrote there (an older featcache's, or not "
                        f"featcache's): kept as {kept}", f"predict: predictions -> {daily}"], err
    assert kept.read_text() == old and (tmp_path / "daily.before-20261205-061500.csv").read_text() == "taken"
    assert main(argv) == 0  # the next day: featcache's own, replaced, nothing more kept
    assert capsys.readouterr().err.splitlines()[-1] == f"predict: predictions -> {daily} (replaced the earlier predictions there)"
    assert len(list(tmp_path.glob("daily.before-*"))) == 2
    daily.write_text(old.replace("0.75", "0.7"))  # edited by hand: refused as before
    one_line_error(capsys, argv, "was changed since featcache wrote it", "--force")
    # an empty file there is replaced, and not said to hold earlier predictions
    empty = tmp_path / "empty.csv"
    empty.touch()
    assert main(argv[:-1] + [str(empty)]) == 0
    assert capsys.readouterr().err.splitlines()[-1] == f"predict: predictions -> {empty} (replaced the empty file there)"
    assert not list(tmp_path.glob("empty.before-*"))


def test_predict_csv_refuses_stdout_and_links_to_streams(tmp_path, fake_model, capsys, monkeypatch):
    """--csv - wrote a file named '-' and '.-.featcache'; a link to /proc/self/fd/1, or /dev/stdout, read the
    shell's output file and would replace the link even with --force (a review): one line, exit 2, nothing written."""
    folder = tmp_path / "photos"
    write_image(folder / "ok0.png", class_image(0, 0, 16))
    monkeypatch.chdir(tmp_path)
    one_line_error(capsys, ["predict", str(fake_model), str(folder), "--csv", "-"], "--csv - would be a file named '-'",
                   "--json")
    assert not (tmp_path / "-").exists() and not (tmp_path / ".-.featcache").exists()
    link = tmp_path / "out.csv"
    link.symlink_to("/proc/self/fd/1")
    for argv in (["--csv", str(link)], ["--csv", str(link), "--force"], ["--csv", "/dev/stdout", "--force"]):
        one_line_error(capsys, ["predict", str(fake_model), str(folder)] + argv, f"--csv {argv[1]} is a stream (it leads "
                       "through /proc to a file a process has open", "never replaced, even with --force")
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"
    (tmp_path / "null.csv").symlink_to(os.devnull)
    one_line_error(capsys, ["predict", str(fake_model), str(folder), "--csv", str(tmp_path / "null.csv"), "--force"],
                   "is a link to /dev/null (a device), not to a regular file")
    target = tmp_path / "real.csv"  # a link to a regular file is a file as any other
    target.touch()
    (tmp_path / "to_real.csv").symlink_to(target)
    assert main(["predict", str(fake_model), str(folder), "--csv", str(tmp_path / "to_real.csv")]) == 0
    capsys.readouterr()


def test_two_predict_csv_at_once_on_one_file_say_whose_they_replaced(tmp_path, fake_model, capsys, monkeypatch):
    """Two 'predict --csv p.csv' at once (an adversarial tester): both said "predictions -> p.csv", the second silently
    replacing the first's. The second takes its turn under the CSV's lock and says it replaced the predictions
    another featcache run wrote there during this one. Forced: run A whole while B builds its CSV."""
    from featcache.deploy import predict as predict_mod

    folder = tmp_path / "photos"
    for i in range(2):
        write_image(folder / f"ok{i}.png", class_image(0, i, 16))
    out = tmp_path / "p.csv"
    real = predict_mod.csv_header
    ran = []

    def a_runs_meanwhile(k, *value):
        if not ran:
            ran.append("A")
            predict_mod.predict(fake_model, [folder / "ok0.png"], csv=out)
        return real(k, *value)

    monkeypatch.setattr(predict_mod, "csv_header", a_runs_meanwhile)
    for said in ["the predictions another featcache run wrote there during this one", "the earlier predictions there"]:
        assert main(["predict", str(fake_model), str(folder), "--csv", str(out)]) == 0  # B (then a plain rerun)
        assert capsys.readouterr().err.splitlines()[-1] == f"predict: predictions -> {out} (replaced {said})"
        assert len(out.read_text().splitlines()) == 3  # B's, published last
    # and both at once with an earlier CSV there: A's replaced it, B replaced A's
    ran.clear()
    assert main(["predict", str(fake_model), str(folder), "--csv", str(out)]) == 0
    assert capsys.readouterr().err.splitlines()[-1].endswith("(replaced the predictions another featcache run wrote there during this one)")


def test_predict_csv_record_is_trimmed_under_the_csvs_lock(tmp_path, fake_model, monkeypatch):
    """Regression (a review): the record was trimmed to [a] after the CSV's lock was released; a second run B that
    wrote and published meanwhile had its record [a, b] overwritten with [a], and the next run called featcache's
    own CSV "changed". Interleaving forced: B starts as A publishes, and A's trim waits (up to a second) for B."""
    import hashlib
    import threading

    from featcache.deploy import predict as predict_mod
    from featcache.store import atomic

    folder = tmp_path / "photos"
    for i in range(2):
        write_image(folder / f"ok{i}.png", class_image(0, i, 16))
    out = tmp_path / "p.csv"
    preds = predict_mod.predict(fake_model, [folder])
    b_done = threading.Event()
    b = threading.Thread(target=lambda: (predict_mod.write_csv(out, preds[:1]), b_done.set()))
    real_record, real_publish = predict_mod._write_record, atomic.publish

    def slow_trim(path, digests, *made_by):  # A's trim ([a] alone) waits for B; under the lock, B cannot finish first
        if len(digests) == 1 and threading.current_thread() is threading.main_thread():
            b_done.wait(1.0)
        return real_record(path, digests, *made_by)

    def b_starts_as_a_publishes(tmp, path, *a, **k):
        done = real_publish(tmp, path, *a, **k)
        if Path(path) == out and b.ident is None:
            b.start()
        return done

    monkeypatch.setattr(predict_mod, "_write_record", slow_trim)
    monkeypatch.setattr(atomic, "publish", b_starts_as_a_publishes)
    predict_mod.write_csv(out, preds)
    b.join(10)
    assert b_done.is_set() and len(out.read_text().splitlines()) == 2  # B's CSV (one row), published last
    record = json.loads((tmp_path / ".p.csv.featcache").read_text())
    assert record["sha256"] == [hashlib.sha256(out.read_bytes()).hexdigest()]
    predict_mod.write_csv(out, preds)  # the next run: featcache's own CSV, replaced without --force


def test_predict_csv_keeps_a_name_with_a_carriage_return_in_one_row(tmp_path, fake_model):
    """csv.writer with "\\n" lines quoted "\\n" but not "\\r": readers split "a\\rb.png" into two rows, and the second
    row's name got the first image's prediction (an adversarial tester)."""
    import csv

    folder = tmp_path / "photos"
    names = ["a\rb.png", "plain.png", "c\nd.png"]
    for i, name in enumerate(names):
        write_image(folder / name, class_image(0, i, 16))
    out = tmp_path / "p.csv"
    assert main(["predict", str(fake_model), str(folder), "--csv", str(out)]) == 0
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert [r[0] for r in rows] == ["input"] + sorted(str(folder / n) for n in names)
    assert len({len(r) for r in rows}) == 1
    assert main(["predict", str(fake_model), str(folder), "--csv", str(out)]) == 0  # and it is featcache's own to replace


def test_predict_csv_on_a_read_only_or_full_disk_names_its_flag(tmp_path, fake_model, capsys, monkeypatch):
    """Regression (an adversarial tester): the line said "choose a writable --out"; predict's flag is --csv. And a
    read-only place is refused before any image is read (it was found after predicting them all)."""
    from featcache.deploy import predict as predict_mod

    image = tmp_path / "a.png"
    write_image(image, class_image(0, 0, 16))
    argv = ["predict", str(fake_model), str(image), "--csv"]
    with tmpfs(tmp_path / "ro", "ro,size=64k") as ro, monkeypatch.context() as m:
        m.setattr(predict_mod, "read_files", lambda *a: pytest.fail("images read before --csv was checked"))
        for target in (ro / "p.csv", ro / "new" / "p.csv"):
            err = one_line_error(capsys, [*argv, str(target)], f"cannot write {target}", "; choose another --csv")
            assert "--out" not in err
    with tmpfs(tmp_path / "full", "size=64k") as full:
        fill(full)
        err = one_line_error(capsys, [*argv, str(full / "p.csv")], f"no space left on {full} writing {full / 'p.csv'}",
                             "choose another --csv")
        assert "--out" not in err and sorted(p.name for p in full.iterdir()) == ["fill"]
    (tmp_path / "mine.csv").write_text("notes")  # a file where the CSV's folder would be: "its folder ... not writable"
    one_line_error(capsys, [*argv, str(tmp_path / "mine.csv" / "x.csv")],
                   f"cannot write {tmp_path / 'mine.csv' / 'x.csv'}: {tmp_path / 'mine.csv'} is a file, not a folder")


def test_extract_onto_a_cache_another_process_has_open_for_writing_says_busy(tmp_path, fashion_dir, capsys):
    """HDF5's own lock held by another writer: 'being written', not 'exists and is not a featcache cache'."""
    import subprocess
    import sys

    out = tiny_cache(tmp_path / "c.h5")
    holder = subprocess.Popen([sys.executable, "-c", f"import h5py, time; f = h5py.File({str(out)!r}, 'r+'); print('open', flush=True); "
                               "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        one_line_error(capsys, ["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32",
                                "--out", str(out)], "is being written by another featcache process")
    finally:
        holder.kill()
        holder.wait()


# ---------------------------------------------------------------- the last stop's leftovers (issue 13)


def _no_space_on(monkeypatch, name_part: str):
    """ENOSPC while publishing the first file whose name holds ``name_part`` (test_faults_store's injection, narrowed)."""
    import errno

    import featcache.store.atomic as atomic

    real = atomic.fsync_file

    def full(path):
        if name_part in str(path):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path)

    monkeypatch.setattr(atomic, "fsync_file", full)


@pytest.mark.parametrize("where, why", [
    ("decode_attrs", "Error iterating over attributes (ran off end of input buffer while decoding)"),
    ("split_names", "Unable to synchronously check link existence (wrong B-tree signature)"),
])
def test_hdf5s_own_errors_on_damaged_metadata_are_one_line(tmp_path, capsys, monkeypatch, where, why):
    """Regression (an adversarial tester): one flipped byte in a cache's attribute storage or group B-tree made
    HDF5 raise RuntimeError (6 of about 55 flips in the first 12 KB), a traceback in info, verify, train and
    extract. Such flips are not reproducible in a test file (others make HDF5 segfault or loop), so HDF5's
    error is raised where it came from."""
    from featcache.store import reader

    cache = str(tiny_cache(tmp_path / "c.h5"))

    def damaged(*args, **kwargs):
        raise RuntimeError(why)

    monkeypatch.setattr(reader, where, damaged)
    for command in (["info", cache], ["verify", cache], ["train", cache, "--head", "logreg"]):
        one_line_error(capsys, command, f"{cache} is damaged", why, "re-extract it")


def test_a_mistyped_flag_is_blamed_on_its_command_with_the_nearest_flag(tmp_path, capsys):
    """Regression (a new-user tester): `featcache train CACHE --trainsize 10` said "featcache: error: unrecognized
    arguments ...; see 'featcache --help'", pointing at the top-level command and not at --train-size."""
    err = one_line_error(capsys, ["train", "c.h5", "--head", "logreg", "--trainsize", "10"],
                         "featcache train: error: unrecognized arguments: --trainsize 10 (did you mean --train-size?)",
                         "see 'featcache train --help'")
    assert err.startswith("featcache train:")
    one_line_error(capsys, ["info", "c.h5", "--jsn"], "featcache info: error", "(did you mean --json?)")
    err = one_line_error(capsys, ["info", "c.h5", "stray"], "featcache info: error: unrecognized arguments: stray")
    assert "did you mean" not in err


def test_a_mistyped_command_or_choice_names_the_nearest_one(capsys):
    """Regression (a new-user tester): `featcache trian x.h5` listed every command ("invalid choice: 'trian'
    (choose from ...)") where a mistyped flag says "did you mean --head?"."""
    one_line_error(capsys, ["trian", "x.h5"], "invalid choice: 'trian' (did you mean 'train'?)", "see 'featcache --help'")
    one_line_error(capsys, ["extract", "--dtype", "flaot16"], "invalid choice: 'flaot16' (did you mean 'float16'?)")
    err = one_line_error(capsys, ["xyz", "x.h5"], "invalid choice: 'xyz' (choose from 'extract'")
    assert "did you mean" not in err


def test_sigterm_is_handled_only_as_the_program_and_other_broken_pipes_are_not_swallowed(tmp_path, capsys, monkeypatch, request):
    """A review: with the handler installed by main(argv) too, a program calling featcache's main() in a loop
    no longer stopped on SIGTERM; and every BrokenPipeError, not only stdout's, became a silent exit 141."""
    import signal

    import featcache.cli as cli
    import featcache.cli.info as info

    cache = str(tiny_cache(tmp_path / "c.h5"))
    seen = []
    real_run = info.run
    # A process's default to start from: ray.init leaves a handler of its own when a Ray test ran first in this worker
    # (the suite's order put one there), and featcache rightly leaves a handler someone chose alone.
    request.addfinalizer(lambda previous=signal.signal(signal.SIGTERM, signal.SIG_DFL): signal.signal(signal.SIGTERM, previous))
    monkeypatch.setattr(info, "run", lambda args: (seen.append(signal.getsignal(signal.SIGTERM)), real_run(args))[1])
    assert main(["info", cache]) == 0 and seen[-1] is signal.SIG_DFL  # a library call: SIGTERM keeps its default
    monkeypatch.setattr(sys, "argv", ["featcache", "info", cache])
    assert main() == 0 and seen[-1] is cli._terminate  # the program: SIGTERM ends the command as Ctrl-C does
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # and it is put back after
    monkeypatch.setattr(info, "run", lambda args: (_ for _ in ()).throw(BrokenPipeError(32, "Broken pipe", "/a/socket")))
    with pytest.raises(BrokenPipeError):
        main(["info", cache])
    capsys.readouterr()


def test_a_ctrl_c_raised_inside_a_finalizer_still_ends_the_command(tmp_path, capsys, monkeypatch, request):
    """Regression (an adversarial tester, helper-272): Ctrl-C as predict wrote its --csv landed in TensorFlow's
    AtomicFunction.__del__, run by the garbage collector; Python printed "Exception ignored in: ... Traceback ...
    KeyboardInterrupt" and went on, and the command finished with exit 0, the Ctrl-C lost. As the program, an interrupt
    a finalizer swallows is raised again where the command runs: the interrupt line, exit 130. A caller's main(argv)
    keeps its own hook. Fails on the code before: exit 0, the interrupt reported as unraisable."""
    import signal

    import featcache.cli as cli
    import featcache.cli.info as info

    class Finalized:
        def __del__(self):
            raise KeyboardInterrupt  # as Python raises a Ctrl-C that arrives while a finalizer runs

    cache = str(tiny_cache(tmp_path / "c.h5"))
    real_run = info.run
    monkeypatch.setattr(info, "run", lambda args: (Finalized(), real_run(args))[1])  # collected at once
    # Python's own Ctrl-C handler, as a program starts with (main() as the program ignores Ctrl-C after its command)
    request.addfinalizer(lambda previous=signal.signal(signal.SIGINT, signal.default_int_handler):
                         signal.signal(signal.SIGINT, previous))
    monkeypatch.setattr(sys, "argv", ["featcache", "info", cache])
    ended = []  # the program's exit timer after an interrupt would end this test's process
    monkeypatch.setattr(cli, "_end_anyway", lambda rc, seconds: ended.append(rc))
    hooks = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: hooks.append(u.exc_type))  # what Python would print
    assert main() == 130 and ended == [130]
    assert capsys.readouterr().err.strip().splitlines()[-1] == "featcache info: interrupted; nothing was saved"
    assert hooks == [] and sys.unraisablehook is not None and sys.unraisablehook.__name__ == "<lambda>"  # put back
    signal.signal(signal.SIGINT, signal.default_int_handler)
    assert main(["info", cache]) == 0 and hooks == [KeyboardInterrupt]  # a caller's main(argv): its own hook is asked


@pytest.mark.parametrize("signum, rc, how", [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")])
def test_an_interrupt_that_c_code_turns_into_a_system_error_is_still_the_interrupt(tmp_path, capsys, monkeypatch, request,
                                                                                 signum, rc, how):
    """Regression (an adversarial tester, 2026-12-07): Ctrl-C as `finetune` scored its frozen head landed while
    TensorFlow's C code ran Python (model.evaluate); the KeyboardInterrupt was lost there and the command ended in
    "SystemError: Objects/listobject.c:338: bad argument to internal function", a traceback and exit 1. As the
    program, a SystemError after a SIGINT or SIGTERM is that interrupt: its line and status. One without a signal is
    still raised. Fails on the code before: the SystemError propagates out of main()."""
    import signal

    import featcache.cli as cli
    import featcache.cli.info as info

    sig = getattr(signal, signum)

    def interrupted_in_c(args):
        try:
            os.kill(os.getpid(), sig)  # delivered to the handler at the next bytecode, inside this try
            time.sleep(5)
        except KeyboardInterrupt:
            pass  # what the C caller does with it: drops it ...
        raise SystemError("Objects/listobject.c:338: bad argument to internal function")  # ... and fails for it

    cache = str(tiny_cache(tmp_path / "c.h5"))
    request.addfinalizer(lambda previous=signal.signal(signal.SIGINT, signal.default_int_handler):
                         signal.signal(signal.SIGINT, previous))
    request.addfinalizer(lambda previous=signal.signal(signal.SIGTERM, signal.SIG_DFL): signal.signal(signal.SIGTERM, previous))
    monkeypatch.setattr(info, "run", interrupted_in_c)
    monkeypatch.setattr(sys, "argv", ["featcache", "info", cache])
    ended = []  # the program's exit timer after an interrupt would end this test's process
    monkeypatch.setattr(cli, "_end_anyway", lambda rc, seconds: ended.append(rc))
    assert main() == rc and ended == [rc]
    assert capsys.readouterr().err.strip().splitlines() == [f"featcache info: {how}; nothing was saved"]
    signal.signal(signal.SIGINT, signal.default_int_handler)
    monkeypatch.setattr(info, "run", lambda args: (_ for _ in ()).throw(SystemError("a fault of its own")))
    with pytest.raises(SystemError, match="a fault of its own"):
        main()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_main_called_by_a_program_puts_its_warnings_machinery_back(tmp_path, capsys):
    """A review: main(argv) replaced warnings.showwarning (and added a filter) for the whole process, for good."""
    import warnings

    cache = str(tiny_cache(tmp_path / "c.h5"))
    before_show, before_filters = warnings.showwarning, list(warnings.filters)
    assert main(["info", cache]) == 0
    assert warnings.showwarning is before_show and warnings.filters == before_filters
    capsys.readouterr()


def test_ray_init_does_not_take_sigterm_from_a_running_command():
    """A review: `extract --engine ray` killed with SIGTERM exited 15 with Ray's stack dump and no featcache line,
    because ray.init replaced the command's handler with its own; the engine puts featcache's back."""
    import signal

    import featcache.cli as cli
    from featcache.embedding.engines.ray_engine import _keep_sigterm

    def rays_handler(signum, frame):
        raise SystemExit(signum)

    try:
        signal.signal(signal.SIGTERM, cli._terminate)
        with _keep_sigterm():
            signal.signal(signal.SIGTERM, rays_handler)  # what ray.init does
        assert signal.getsignal(signal.SIGTERM) is cli._terminate
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a library user's program: Ray's handler stays
        with _keep_sigterm():
            signal.signal(signal.SIGTERM, rays_handler)
        assert signal.getsignal(signal.SIGTERM) is rays_handler
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def test_a_model_given_where_a_head_goes_says_which_is_which(tmp_path, fake_model, capsys):
    """An adversarial tester: `evaluate model.keras cache.h5` said only "(TypeError)"."""
    from featcache.deploy.model import KIND
    from featcache.heads.io import MODEL_KIND

    assert MODEL_KIND == KIND  # heads/io cannot import deploy (the pipeline flows one way): the same string kept twice
    cache = str(tiny_cache(tmp_path / "c.h5"))
    one_line_error(capsys, ["evaluate", str(fake_model), cache], "is a model written by 'featcache export' or 'featcache finetune', "
                   "not a head; classify images with 'featcache predict'")


@pytest.mark.parametrize("kind", ["featcache-head", "xyz"])
def test_a_model_whose_kind_was_edited_given_as_a_head_says_so(tmp_path, capsys, kind):
    """A session's note: a model whose kind was edited (its fields still a model's, heads.io.MODEL_ONLY_FIELDS) was
    sent to 'featcache predict', which refuses it for that kind (deploy.model.check_meta): the line says it was edited."""
    fields = {"input": "uint8 images", "output": "class probabilities", "head_path": "/x/h.npz"}
    model = meta_only_model(tmp_path / "m.keras", **fields, kind=kind)
    cache = str(tiny_cache(tmp_path / "c.h5"))
    one_line_error(capsys, ["evaluate", str(model), cache], f"{model} is a model written by 'featcache export' or "
                   f"'featcache finetune', not a head, and its record says kind {kind!r}, not 'featcache-model': "
                   "edited by hand or damaged; pass the head it was made from, or export the model again")


def test_a_fifo_given_as_a_cache_is_one_line_not_a_hang(tmp_path, capsys):
    """Regression (an adversarial tester): `info fifo.h5` and `extract --out fifo.h5` blocked forever in HDF5's open."""
    import os

    fifo = tmp_path / "fifo.h5"
    os.mkfifo(fifo)
    one_line_error(capsys, ["info", str(fifo)], "is not a regular file")
    one_line_error(capsys, ["verify", str(fifo)], "is not a regular file")


@pytest.mark.parametrize("command", ["verify", "info"])
def test_verify_and_info_name_what_is_missing_for_every_kind(tmp_path, capsys, command):
    """Regression (a session's note): a missing head was "cache not found: x.keras; run 'featcache extract' first",
    and a folder "is a folder, not a cache; pass the .h5 file": verify and info take heads and models too. A missing
    .h5 keeps the cache's line (how to make one)."""
    for name in ("head.keras", "head.npz"):
        err = one_line_error(capsys, [command, str(tmp_path / name)], f"not found: {tmp_path / name}; check the path")
        assert "cache not found" not in err
    (tmp_path / "gone.keras").symlink_to(tmp_path / "nowhere")  # "point it at a cache" said the cache's reader
    one_line_error(capsys, [command, str(tmp_path / "gone.keras")], "is a symbolic link to nothing (or a loop of links); "
                   "point it at a cache ('featcache extract'), a head ('featcache train') or a model")
    err = one_line_error(capsys, [command, str(tmp_path)], f"{tmp_path} is a folder; pass a cache ('featcache extract'), "
                         "a head ('featcache train') or a model ('featcache export', 'featcache finetune')")
    one_line_error(capsys, [command, str(tmp_path / "c.h5")], "cache not found: ")
    (tmp_path / "cut.keras").write_bytes(b"PK\x03\x04junk")  # "not a readable HDF5 file" (an adversarial tester)
    one_line_error(capsys, [command, str(tmp_path / "cut.keras")], "starts as a zip file but is not a readable one")
    (tmp_path / "empty.npz").write_bytes(b"")
    one_line_error(capsys, [command, str(tmp_path / "empty.npz")], "is empty (0 bytes); pass a cache")
    if os.path.isfile("/proc/self/status"):  # 0 bytes by its size, some 1.4 KB read: "is empty (0 bytes)" (h309's brief)
        one_line_error(capsys, [command, "/proc/self/status"], "/proc/self/status is a file the system makes as it is "
                       "read (as in /proc and /sys); pass a cache ('featcache extract')")


@pytest.mark.parametrize("command", ["verify", "info"])
def test_verify_and_info_of_a_missing_hdf5_cache_say_what_a_missing_h5_gets(tmp_path, capsys, command):
    """Regression (a code read): verify's and info's pre-check (recipes.files.check_any_file) compared the suffix with
    ".h5" alone, so a missing feats.hdf5 (a cache's name too: store.layout.CACHE_SUFFIXES) was "not found: ...;
    check the path" where feats.h5 was the cache's line, "cache not found: ...; run 'featcache extract' first". Every
    cache suffix, in any case, gets the .h5 line."""
    want = one_line_error(capsys, [command, str(tmp_path / "feats.h5")], "cache not found: ")
    for name in ("feats.hdf5", "feats.HDF5", "feats.H5"):
        err = one_line_error(capsys, [command, str(tmp_path / name)])
        assert err == want.replace("feats.h5", name)


def test_info_says_how_many_skipped_files_it_does_not_list(tmp_path, capsys):
    """Regression (an adversarial tester): `info` listed 10 of 23 skipped files and did not say more were left out."""
    from helpers import make_class_tree

    root = make_class_tree(tmp_path / "d", {"cats": 3, "dogs": 3})
    for i in range(12):
        (root / "cats" / f"bad{i:02d}.jpg").write_bytes(b"not a jpeg")
    cache = tmp_path / "c.h5"
    assert main(["extract", "--images", str(root), "--test-fraction", "0.34", "--weights", "random", "--image-size", "32",
                 "--runtime", "tensorflow", "--out", str(cache)]) == 0
    capsys.readouterr()
    assert main(["info", str(cache)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("skipped"))
    assert line.startswith("skipped     12 files (unreadable): ") and line.count("(not an image") == 10
    assert line.endswith("; and 2 more (all in --json)")


def test_evaluate_and_probe_never_replace_a_users_files_in_out(tmp_path, capsys):
    """Regression (a new-user tester): `evaluate --out DIR` replaced the user's own evaluation.txt and
    confusion.png there, `probe --out DIR` their probe.csv. featcache's own report is still replaced."""
    cache = str(tiny_cache(tmp_path / "c.h5", layer="out_relu"))
    head = tmp_path / "h.npz"
    assert main(["train", cache, "--head", "logreg", "--out", str(head)]) == 0
    for command, name in ((["evaluate", str(head), cache], "evaluation.txt"), (["evaluate", str(head), cache], "confusion.png"),
                          (["probe", cache], "probe.csv"), (["probe", cache], "probe.png")):
        folder = tmp_path / f"mine_{name}"
        folder.mkdir()
        (folder / name).write_text("my own notes")
        one_line_error(capsys, [*command, "--out", str(folder)], f"holds {name}, which is not part of a report featcache wrote",
                       "choose another --out")
        assert [p.name for p in folder.iterdir()] == [name] and (folder / name).read_text() == "my own notes"
    for command, report in ((["evaluate", str(head), cache], "evaluation.json"), (["probe", cache], "probe.csv")):
        folder = tmp_path / f"ours_{report}"
        for _ in range(2):  # the second run replaces the first one's report
            assert main([*command, "--out", str(folder)]) == 0
        assert (folder / report).stat().st_size > 0
    capsys.readouterr()


def test_curve_never_replaces_a_users_files_in_out(tmp_path, capsys):
    """Regression (an adversarial tester): `curve --out DIR` checked only curve.csv and replaced the user's own
    curve.json and curve.png there. A folder holding featcache's curve is still resumed."""
    cache = str(tiny_cache(tmp_path / "c.h5"))
    argv = ["curve", cache, "--sizes", "10,20", "--seeds", "1", "--heads", "logreg", "--out"]
    for name in ("curve.json", "curve.png"):
        folder = tmp_path / f"mine_{name}"
        folder.mkdir()
        (folder / name).write_text("my own notes")
        one_line_error(capsys, [*argv, str(folder)], f"holds {name}, which is not part of a report featcache wrote",
                       "choose another --out")
        assert [p.name for p in folder.iterdir()] == [name] and (folder / name).read_text() == "my own notes"
    ours = tmp_path / "ours"
    for _ in range(2):  # the second run resumes the first one's curve
        assert main([*argv, str(ours)]) == 0
    assert sorted(p.name for p in ours.iterdir()) == ["curve.csv", "curve.json", "curve.png"]
    capsys.readouterr()


@pytest.fixture(scope="module")
def first_reports(tmp_path_factory):
    """A tiny cache, a head, and each report (evaluate, probe, curve) written once and rerun unchanged (replaced, exit
    0), its record of digests checked after each: the start both report-edit tests below made for themselves, six
    report runs each (a confusion matrix, a probe and a curve drawn twice), and the whole reports the killed-report
    and stopped-report tests stopped their reruns over (three runs each). Each test changes its own copies
    (``report_copy``)."""
    from featcache.validate import REPORT_DIGESTS, file_sha256

    root = tmp_path_factory.mktemp("reports")
    cache = str(tiny_cache(root / "c.h5", layer="out_relu"))
    head = root / "h.npz"
    assert main(["train", cache, "--head", "logreg", "--out", str(head)]) == 0
    cases = [(["evaluate", str(head), cache], "evaluation.json", ("evaluation.txt", "confusion.png")),
             (["probe", cache, "--heads", "logreg"], "probe.json", ("probe.png", "probe.csv")),
             (["curve", cache, "--sizes", "10", "--seeds", "1", "--heads", "logreg"], "curve.json", ("curve.png",))]
    for command, marker, files in cases:
        folder = root / marker.split(".")[0]
        for _ in range(2):  # the second run: unchanged, replaced, as before
            assert main([*command, "--out", str(folder)]) == 0
            recorded = json.loads((folder / marker).read_text())[REPORT_DIGESTS]
            assert recorded == {f: file_sha256(folder / f) for f in files}, recorded
    return cache, head, {marker: (command, root / marker.split(".")[0], files) for command, marker, files in cases}


def report_copy(first_reports, marker: str, folder: Path) -> list[str]:
    """A copy at ``folder`` of ``first_reports``' report whose record is ``marker``; its command."""
    import shutil

    command, made, _ = first_reports[2][marker]
    shutil.copytree(made, folder)
    return command


def test_a_report_rerun_replaces_only_the_files_still_as_featcache_wrote_them(tmp_path, capsys, first_reports):
    """Regression (an adversarial tester): where a folder's evaluation.json / probe.csv / curve.json read back as
    featcache's, a rerun replaced every other report file there whatever it held: notes added to evaluation.txt
    were lost, a picture copied over confusion.png, probe.png or curve.png silently replaced. Each report now
    records the SHA-256 of the files it wrote (in evaluation.json, probe.json, curve.json), and a changed one is
    refused before any work, naming it; an unchanged one is still replaced (the record and the unchanged rerun:
    first_reports)."""
    import featcache
    from featcache.validate import REPORT_DIGESTS

    cache, head = first_reports[0], first_reports[1]
    picture = tmp_path / "holiday.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n my own picture")
    for marker, name in (("evaluation.json", "ev"), ("probe.json", "pr"), ("curve.json", "cu")):
        folder, files = tmp_path / name, first_reports[2][marker][2]
        command = report_copy(first_reports, marker, folder)
        for f in files:
            before = (folder / f).read_bytes()
            if f.endswith(".png"):
                (folder / f).write_bytes(picture.read_bytes())  # the user's picture, copied over it
            elif f == "probe.csv":  # a row repeated: still a probe.csv that reads back
                (folder / f).write_bytes(before + before.splitlines(keepends=True)[-1])
            else:
                (folder / f).write_bytes(before + b"MY NOTES\n")  # notes added
            mine = (folder / f).read_bytes()
            others = {p.name: p.read_bytes() for p in folder.iterdir()}
            one_line_error(capsys, [*command, "--out", str(folder)],
                           f"{folder / f} was changed since featcache wrote it; choose another --out or move {folder / f} away")
            assert (folder / f).read_bytes() == mine and {p.name: p.read_bytes() for p in folder.iterdir()} == others
            (folder / f).unlink()  # moved away: the rerun writes it again
            assert main([*command, "--out", str(folder)]) == 0 and (folder / f).exists()
    # A file of the report's name that the report does not list is the user's too (probe.png after a run without one)
    featcache.probe(cache, heads="logreg", out=tmp_path / "np", plot=False)
    (tmp_path / "np" / "probe.png").write_bytes(picture.read_bytes())
    one_line_error(capsys, ["probe", cache, "--heads", "logreg", "--out", str(tmp_path / "np")],
                   f"{tmp_path / 'np' / 'probe.png'} is not a file featcache wrote in this report", "move")
    assert (tmp_path / "np" / "probe.png").read_bytes() == picture.read_bytes()
    # A plot left alone by a run without one stays vouched for, and the next run with one replaces it
    featcache.probe(cache, heads="logreg", out=tmp_path / "pr", plot=False)
    assert main(["probe", cache, "--heads", "logreg", "--out", str(tmp_path / "pr")]) == 0
    # A report from before digests were recorded is taken as before: its files are replaced
    ev = tmp_path / "ev"
    doc = json.loads((ev / "evaluation.json").read_text())
    del doc[REPORT_DIGESTS], doc["record_sha256"]  # neither was written then
    (ev / "evaluation.json").write_text(json.dumps(doc))
    (ev / "evaluation.txt").write_text("an old report, edited")
    assert main(["evaluate", str(head), cache, "--out", str(ev)]) == 0
    assert "an old report" not in (ev / "evaluation.txt").read_text()
    assert REPORT_DIGESTS in json.loads((ev / "evaluation.json").read_text())
    # ... but a probe.csv that is not probe's is still refused there, as before digests (probe.json vouches for no
    # other file then)
    pr = tmp_path / "pr"
    doc = json.loads((pr / "probe.json").read_text())
    del doc[REPORT_DIGESTS], doc["record_sha256"]
    (pr / "probe.json").write_text(json.dumps(doc))
    (pr / "probe.csv").write_text("my own table")
    one_line_error(capsys, ["probe", cache, "--heads", "logreg", "--out", str(pr)],
                   "holds probe.csv, which is not part of a report featcache wrote")
    assert (pr / "probe.csv").read_text() == "my own table"
    (pr / "probe.csv").unlink()
    assert main(["probe", cache, "--heads", "logreg", "--out", str(pr)]) == 0
    # A probe.json that is not probe's is not replaced
    (tmp_path / "pr" / "probe.json").write_text("my notes")
    one_line_error(capsys, ["probe", cache, "--heads", "logreg", "--out", str(tmp_path / "pr")],
                   "holds probe.csv, which is not part of a report featcache wrote")
    assert (tmp_path / "pr" / "probe.json").read_text() == "my notes"
    capsys.readouterr()


def test_a_curve_resumes_and_keeps_its_unchanged_plot_vouched_for(tmp_path, capsys):
    """curve.json is rewritten at a run's start and curve.csv after every fit: a resume (more sizes) into the same
    --out still works, and a changed curve.png is refused after a resume as before it (an adversarial tester). A run
    without a plot removes the earlier plot, which showed fewer rows (it carried its digest on until 2026-12-04)."""
    import featcache
    from featcache.analysis.curve import read_rows
    from featcache.validate import REPORT_DIGESTS, file_sha256

    cache = str(tiny_cache(tmp_path / "c.h5"))
    out = tmp_path / "cu"
    argv = ["curve", cache, "--seeds", "1", "--heads", "logreg", "--out", str(out)]
    assert main([*argv[:2], "--sizes", "10", *argv[2:]]) == 0
    assert main([*argv[:2], "--sizes", "10,20", *argv[2:]]) == 0  # resumed: one more size
    assert len(read_rows(out / "curve.csv")) == 2
    png = file_sha256(out / "curve.png")
    featcache.learning_curve(cache, [10, 20, 30], seeds=1, heads="logreg", out=out, plot=False)
    assert json.loads((out / "curve.json").read_text())[REPORT_DIGESTS] == {} and not (out / "curve.png").exists()
    assert main([*argv[:2], "--sizes", "10,20,30", *argv[2:]]) == 0 and file_sha256(out / "curve.png") != png
    (out / "curve.png").write_bytes(b"mine")
    one_line_error(capsys, [*argv[:2], "--sizes", "10,20,30,35", *argv[2:]], "curve.png was changed since featcache wrote it")
    assert (out / "curve.png").read_bytes() == b"mine" and len(read_rows(out / "curve.csv")) == 3
    capsys.readouterr()


def test_an_output_that_is_a_fifo_is_one_line_not_a_hang(tmp_path, fake_model, capsys):
    """Regression (an adversarial tester): a FIFO where an output goes blocked forever, opened to see whether
    featcache wrote it (train's --out by ZipFile, predict's --csv, evaluate's evaluation.json)."""
    import os
    import signal

    def hung(signum, frame):
        raise TimeoutError("blocked on the FIFO")

    cache = str(tiny_cache(tmp_path / "c.h5", layer="out_relu"))  # a layer of mobilenet_v2: probe checks
    head = tmp_path / "h.npz"
    assert main(["train", cache, "--head", "logreg", "--out", str(head)]) == 0
    image = tmp_path / "a.png"
    write_image(image, class_image(0, 0, 16))
    folder = tmp_path / "out"
    folder.mkdir()
    cases = [(["train", cache, "--head", "logreg", "--out"], "f.npz", "f.npz"),
             (["predict", str(fake_model), str(image), "--csv"], "f.csv", "f.csv"),
             (["evaluate", str(head), cache, "--out"], "out", "out/evaluation.json"),
             (["probe", cache, "--out"], "out", "out/probe.csv"),
             (["curve", cache, "--sizes", "10", "--seeds", "1", "--heads", "logreg", "--out"], "out", "out/curve.json"),
             (["export", str(head), "--force", "--out"], "fifo.keras", "fifo.keras")]
    flags = {"predict": "--csv"}
    old = signal.signal(signal.SIGALRM, hung)
    try:
        for argv, target, fifo in cases:
            os.mkfifo(tmp_path / fifo)
            signal.alarm(20)
            one_line_error(capsys, [*argv, str(tmp_path / target)], f"{tmp_path / fifo} exists and is not a regular file (a FIFO)",
                           f"choose another {flags.get(argv[0], '--out')}")
            signal.alarm(0)
            os.unlink(tmp_path / fifo)
        # a link to a FIFO is described by what it points to (it said "a link to nothing"; a review)
        os.mkfifo(tmp_path / "real.fifo")
        os.symlink(tmp_path / "real.fifo", tmp_path / "link.npz")
        signal.alarm(20)
        one_line_error(capsys, ["train", cache, "--head", "logreg", "--out", str(tmp_path / "link.npz")],
                       "link.npz exists and is not a regular file (a FIFO)")
        signal.alarm(0)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_a_rerun_keeps_the_mode_of_each_output_it_replaces_and_new_ones_follow_the_umask(tmp_path, fake_model, capsys, umask):
    """Regression (an adversarial tester): `chmod 600 p.csv h.npz ev/evaluation.json m.keras` and a rerun of
    predict --csv, train, evaluate and export under umask 022 gave all of them back 0644. Each keeps its mode now
    (as the shell's `>` does); what a run creates follows the umask."""
    cache = str(tiny_cache(tmp_path / "c.h5", d=1280, layer="out_relu"))  # export builds the network: its width
    image = tmp_path / "a.png"
    write_image(image, class_image(0, 0, 16))
    head, csv_, report, model = tmp_path / "h.npz", tmp_path / "p.csv", tmp_path / "ev" / "evaluation.json", tmp_path / "kx" / "m3.keras"
    runs = [["train", cache, "--head", "logreg", "--out", str(head)],
            ["predict", str(fake_model), str(image), "--csv", str(csv_)],
            ["evaluate", str(head), cache, "--out", str(report.parent)],
            ["export", str(head), "--out", str(model)]]
    old = os.umask(umask)
    try:
        for argv in runs:
            assert main(argv) == 0, capsys.readouterr().err
        fresh = {f: f.stat().st_mode & 0o777 for f in (head, csv_, report, model)}
        for f in fresh:
            f.chmod(0o600 if umask == 0o022 else 0o640)
        for argv in runs:
            assert main(argv) == 0, capsys.readouterr().err
    finally:
        os.umask(old)
    capsys.readouterr()
    assert set(fresh.values()) == {0o666 & ~umask}, fresh
    kept = {f.name: f.stat().st_mode & 0o777 for f in fresh}
    assert kept == dict.fromkeys(kept, 0o600 if umask == 0o022 else 0o640), kept


def test_a_link_at_out_is_written_through_by_train_and_export_as_by_extract(tmp_path, capsys):
    """Regression (a tester, then the session's lead): `train --force --out link.npz` (and export's --out) replaced the
    link with a plain file and left its target as it was, as extract did before it wrote through the link. Every
    writer now writes a link's target (store.atomic.atomic_path: written_through), as the shell's `>` does."""
    cache = str(tiny_cache(tmp_path / "c.h5", d=1280, layer="out_relu"))
    store = tmp_path / "store"
    store.mkdir()
    for name, argv in (("h.npz", ["train", cache, "--head", "logreg", "--out"]),
                       ("m.keras", ["export", str(tmp_path / "store" / "h.npz"), "--out"])):
        target, link = store / name, tmp_path / f"link-{name}"
        assert main(argv + [str(target)]) == 0, capsys.readouterr().err
        link.symlink_to(target)  # (a dangling link: test_a_dangling_link_at_out_is_written_through_where_its_...)
        first = target.read_bytes()
        # a rerun over the link (train: another fit, so --force): still a link, its target replaced
        again = ["--force", "--param", "max_iter=50"] if name == "h.npz" else ["--force"]
        assert main(argv + [str(link)] + again) == 0, capsys.readouterr().err
        assert link.is_symlink() and os.readlink(link) == str(target) and target.is_file(), (link, target)
        if name == "h.npz":
            assert target.read_bytes() != first  # the other fit is in the target
    capsys.readouterr()


def _stale_link_line(flag: str, link: Path, target: Path) -> str:
    """What every writer says of a dangling link at its output into a folder that is not there (written_through)."""
    return (f"{flag} {link} is a symbolic link to {target}, and its folder {target.parent} does not exist; create that "
            f"folder, point the link at a file in a folder that exists, or choose another {flag}")


def test_a_dangling_link_at_out_is_written_through_where_its_folder_is_and_refused_where_not(tmp_path, capsys):
    """Regression (the last session's open item): a dangling link at an output was taken three ways. train, export
    and finetune (as extract) wrote its target and made every folder it named, however stale the link; the API's
    save_head refused it, and replaced a link to a file with a plain file. As the shell's > writes: a dangling link
    whose folder is there gets its target written, the link kept; one into a folder that is not there is one line,
    exit 2, nothing made (store.atomic.written_through, the one rule; predict --csv: the next test)."""
    import featcache
    from featcache.errors import FeatcacheError
    from featcache.heads.io import load_head, save_head

    cache = str(tiny_cache(tmp_path / "c.h5", d=1280, layer="out_relu"))
    there, gone = tmp_path / "there", tmp_path / "gone" / "sub"
    there.mkdir()
    head = featcache.train(cache, "logreg", out=tmp_path / "h.npz").path
    for name, argv in (("h.npz", ["train", cache, "--head", "logreg", "--out"]), ("m.keras", ["export", str(head), "--out"])):
        link, stale = tmp_path / f"link-{name}", tmp_path / f"stale-{name}"
        link.symlink_to(there / name)
        stale.symlink_to(gone / name)
        assert main(argv + [str(link)]) == 0, capsys.readouterr().err
        assert link.is_symlink() and os.readlink(link) == str(there / name) and (there / name).is_file()
        one_line_error(capsys, argv + [str(stale)], _stale_link_line("--out", stale, gone / name))
        assert stale.is_symlink() and not gone.parent.exists()
    assert featcache.info(tmp_path / "link-m.keras")["kind"] == "model" and load_head(there / "h.npz")[1]["head"] == "logreg"
    # finetune reads --out as export does (deploy.model.check_out): refused before the head is read
    one_line_error(capsys, ["finetune", str(head), "--out", str(tmp_path / "stale-m.keras")],
                   _stale_link_line("--out", tmp_path / "stale-m.keras", gone / "m.keras"))
    # the API's save_head writes through a link as train's --out does
    h, meta = load_head(head)
    to_file, dangling, stale = tmp_path / "to-file.npz", tmp_path / "dangling.npz", tmp_path / "stale.npz"
    to_file.symlink_to(there / "h.npz")
    dangling.symlink_to(there / "api.npz")
    stale.symlink_to(gone / "api.npz")
    for link, target in ((to_file, there / "h.npz"), (dangling, there / "api.npz")):
        assert save_head(h, link, meta, force=True) == target
        assert link.is_symlink() and load_head(link)[1]["head"] == "logreg"
    with pytest.raises(FeatcacheError, match=re.escape(_stale_link_line("path", stale, gone / "api.npz"))):
        save_head(h, stale, meta)
    assert not gone.parent.exists()
    capsys.readouterr()


def test_predict_csv_writes_through_a_dangling_link_whose_folder_is_there(tmp_path, fake_model, capsys):
    """Regression (the last session's open item): --csv link.csv, a link to a file not made yet, was refused as "a
    link to nothing" where every other writer writes its target, as the shell's > does. Written through now, its
    record beside the target, the link kept; a link into a folder that is not there is one line, nothing made."""
    photo = str(write_image(tmp_path / "a.png", class_image(0, 0, 16)))
    there, gone = tmp_path / "there", tmp_path / "gone" / "sub"
    there.mkdir()
    link, stale = tmp_path / "l.csv", tmp_path / "stale.csv"
    link.symlink_to(there / "p.csv")
    stale.symlink_to(gone / "p.csv")
    argv = ["predict", str(fake_model), photo, "--csv"]
    assert main(argv + [str(link)]) == 0, capsys.readouterr().err
    assert capsys.readouterr().err.splitlines()[-1] == f"predict: predictions -> {link} -> {there / 'p.csv'}"
    assert link.is_symlink() and len((there / "p.csv").read_text().splitlines()) == 2
    assert (there / ".p.csv.featcache").is_file() and not (tmp_path / ".l.csv.featcache").exists()
    assert main(argv + [str(link)]) == 0  # featcache's own CSV now, by the link's name
    assert capsys.readouterr().err.splitlines()[-1].endswith("(replaced the earlier predictions there)")
    one_line_error(capsys, argv + [str(stale)], _stale_link_line("--csv", stale, gone / "p.csv"))
    assert stale.is_symlink() and not gone.parent.exists()


def test_a_full_disk_in_evaluate_leaves_no_folder_and_no_half_report(tmp_path, capsys, monkeypatch):
    """The plot was written, the JSON hit the full disk: the plot and the folder made for it go again."""
    import featcache

    cache = tiny_cache(tmp_path / "c.h5")
    head = featcache.train(cache, "logreg", out=tmp_path / "h.npz").path
    _no_space_on(monkeypatch, "evaluation.json")
    out = tmp_path / "new" / "eval"
    one_line_error(capsys, ["evaluate", str(head), str(cache), "--out", str(out)], "no space left on", "evaluation.json")
    assert not (tmp_path / "new").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    one_line_error(capsys, ["evaluate", str(head), str(cache), "--out", str(mine)], "no space left on")
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"] and (mine / "notes.txt").read_text() == "mine"


def _no_space_creating(monkeypatch, pattern: str):
    """ENOSPC where a file whose name matches ``pattern`` (a regex) is created with os.open: a lock file."""
    import errno

    real = os.open

    def full(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and re.search(pattern, os.path.basename(os.fsdecode(path))):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", full)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_full_disk_at_a_hashed_lock_or_a_rerun_of_evaluate_changes_nothing(tmp_path, capsys, monkeypatch, fake_model):
    """A review's open item: a full disk was never tried on the newer paths. The lock of a name at the file system's
    limit (``.<16 hex>.lock``: store.layout.lock_path, output_lock_path) said 'cannot write the lock file ... (No space
    left on device); choose a writable --out', not the full-disk line; evaluate's rerun, whose evaluation.json now
    records head_abspath and cache_abspath, had been tried on a first report only. Each is one line, exit 2, and
    what was there before stays as it was (and is still featcache's to replace)."""
    import featcache

    cache = tiny_cache(tmp_path / "c.h5")
    hashed_lock = r"^\.[0-9a-f]{16}\.lock$"
    # curve into a folder whose name leaves no room for ".lock": a rerun that would add a seed
    out = tmp_path / ("e" * 252)
    argv = ["curve", str(cache), "--sizes", "10", "--heads", "logreg", "--out", str(out)]
    assert main(argv + ["--seeds", "1"]) == 0
    before = _files(tmp_path)
    with monkeypatch.context() as mp:
        _no_space_creating(mp, hashed_lock)
        one_line_error(capsys, argv + ["--seeds", "2"], f"no space left on ", "writing ", ".lock; free ",
                       "or choose --out elsewhere")
        one_line_error(capsys, argv[:-1] + [str(tmp_path / ("f" * 252)), "--seeds", "1"], "no space left on ")
    assert _files(tmp_path) == before and not (tmp_path / ("f" * 252)).exists()
    # the disk full where the folder's writability is proved (validate.check_writable_dir: curve, probe, lesson) said
    # 'cannot write in DIR (No space left on device); choose a writable --out', and left the folder it had made
    with monkeypatch.context() as mp:
        _no_space_creating(mp, r"^\.write-test\.")
        for command in (argv[:-1], ["probe", str(tiny_cache(tmp_path / "r.h5", layer="out_relu")), "--out"]):
            one_line_error(capsys, command + [str(tmp_path / "new" / ("g" * 252))], "no space left on ",
                           f"writing {tmp_path / 'new'}", "free some space or choose --out elsewhere")
            assert not (tmp_path / "new").exists()
    (tmp_path / "r.h5").unlink()
    assert _files(tmp_path) == before
    assert main(argv + ["--seeds", "2"]) == 0  # the disk freed: the curve goes on
    # predict --csv of a 250-byte name: its output lock is hashed too; the CSV and its record stay
    folder = tmp_path / "photos"
    write_image(folder / "a.png", class_image(0, 0, 16))
    csv = tmp_path / ("p" * 246 + ".csv")
    pargv = ["predict", str(fake_model), str(folder), "--csv", str(csv)]
    assert main(pargv) == 0
    capsys.readouterr()
    before = _files(tmp_path)
    with monkeypatch.context() as mp:
        _no_space_creating(mp, hashed_lock)
        one_line_error(capsys, pargv, "no space left on ", "choose another --csv")
    with monkeypatch.context() as mp:
        _no_space_on(mp, ".featcache")  # the CSV's record: before the CSV is replaced
        one_line_error(capsys, pargv, "no space left on ", "choose another --csv")
    assert _files(tmp_path) == before
    assert main(pargv) == 0
    capsys.readouterr()
    # evaluate's rerun over its own report: a full disk at each of its files leaves the old report whole
    head = featcache.train(cache, "logreg", out=tmp_path / "h.npz").path
    report = tmp_path / "eval"
    eargv = ["evaluate", str(head), str(cache), "--out", str(report)]
    assert main(eargv) == 0
    capsys.readouterr()
    assert json.loads((report / "evaluation.json").read_text())["head_abspath"] == str(head)
    before = _files(report)
    for name in ("evaluation.txt", "evaluation.json"):
        with monkeypatch.context() as mp:
            _no_space_on(mp, name)
            one_line_error(capsys, eargv, "no space left on ", name)
        assert _files(report) == before, name
    assert main(eargv) == 0  # still featcache's report: replaced
    capsys.readouterr()


def test_a_full_disk_in_probe_leaves_no_folder_and_no_half_report(tmp_path, capsys, monkeypatch):
    """Regression (an adversarial tester): the line was right, but the empty folder made for --out stayed."""
    cache = str(tiny_cache(tmp_path / "c.h5", layer="out_relu"))
    _no_space_on(monkeypatch, "probe.")
    one_line_error(capsys, ["probe", cache, "--out", str(tmp_path / "new" / "probe")], "no space left on", "probe.csv")
    assert not (tmp_path / "new").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    one_line_error(capsys, ["probe", cache, "--out", str(mine)], "no space left on")
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"] and (mine / "notes.txt").read_text() == "mine"


def test_a_full_disk_before_a_curves_first_row_leaves_no_folder(tmp_path, capsys, monkeypatch):
    cache = tiny_cache(tmp_path / "c.h5")
    _no_space_on(monkeypatch, "curve.")
    argv = ["curve", str(cache), "--sizes", "10", "--seeds", "1", "--heads", "logreg", "--out"]
    one_line_error(capsys, argv + [str(tmp_path / "a" / "curve")], "no space left on", "curve.csv")
    assert not (tmp_path / "a").exists()
    monkeypatch.undo()
    assert main(argv + [str(tmp_path / "b")]) == 0 and (tmp_path / "b" / "curve.csv").exists()  # not in the way of a real run


def test_evaluate_out_naming_a_file_says_so_before_the_work(tmp_path, capsys):
    import featcache

    cache = tiny_cache(tmp_path / "c.h5")
    head = featcache.train(cache, "logreg", out=tmp_path / "h.npz").path
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    one_line_error(capsys, ["evaluate", str(head), str(cache), "--out", str(notes)],
                   f"--out {notes} is a file, not a folder; name a folder")
    one_line_error(capsys, ["evaluate", str(head), str(cache), "--out", str(notes / "sub")], f"{notes} is a file, not a folder")
    assert notes.read_text() == "mine"
    # a FIFO, a link to one, a dangling link: named as what they are ("--out lf is a file", an adversarial tester)
    import os

    fifo, link, dangling = tmp_path / "ff", tmp_path / "lf", tmp_path / "dl"
    os.mkfifo(fifo)
    link.symlink_to(fifo)
    dangling.symlink_to(tmp_path / "nothing")
    for out, what in ((fifo, "a FIFO"), (link, "a FIFO"), (dangling, "a link to nothing")):
        one_line_error(capsys, ["evaluate", str(head), str(cache), "--out", str(out)], f"--out {out} is {what}, not a folder")
    assert not (tmp_path / "nothing").exists()


def test_ctrl_c_while_the_console_script_imports_featcache_cli_is_one_line(tmp_path):
    """The console script runs ``from featcache.cli import main`` before main's try: that import must be all but empty.

    A Ctrl-C is simulated on the first import of each module featcache.cli used to import at its top (argparse:
    a 30-line traceback and exit 1 before the fix) and of a subcommand's module."""
    import os
    import subprocess
    import sys

    from helpers import REPO

    for module in ("argparse", "featcache.errors", "featcache.cli.info"):
        code = ("import sys\nclass Interrupt:\n    def find_spec(self, name, path=None, target=None):\n"
                f"        if name == {module!r}:\n            raise KeyboardInterrupt\n"
                "sys.meta_path.insert(0, Interrupt())\nfrom featcache.cli import main\nsys.exit(main(['info', 'x.h5']))\n")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        assert (proc.returncode, proc.stderr) == (130, "featcache: interrupted while starting; nothing was done\n"), (module, proc.stderr)


def damaged_tiff(path, compression: str = "tiff_lzw"):
    """A TIFF with 40 bytes of its strip flipped: libtiff reports it on fd 2 and Pillow returned an all-black image."""
    p = write_image(path, class_image(0, 9, 64), "TIFF", compression=compression)
    data = bytearray(p.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 40):
        data[i] ^= 0xFF
    p.write_bytes(bytes(data))
    return p


def test_a_damaged_tiff_is_skipped_with_libtiffs_reason_and_nothing_else_reaches_the_user(tmp_path, fake_model, capfd):
    from featcache.sources.decode import UnreadableImage, decode_image

    for compression, why in (("tiff_lzw", "Using code not yet in table"), ("tiff_deflate", "ZIPDecode: Decoding error")):
        with pytest.raises(UnreadableImage, match=f"damaged TIFF \\({why}"):
            decode_image(damaged_tiff(tmp_path / f"{compression}.tif", compression), 32)
    assert capfd.readouterr().err == ""  # libtiff's own lines were kept from the terminal
    folder = tmp_path / "photos"
    write_image(folder / "ok.png", class_image(0, 1, 16))
    damaged_tiff(folder / "lzw.tif")
    good = write_image(tmp_path / "t.tif", class_image(1, 2, 64), "TIFF", compression="tiff_lzw").read_bytes()
    (folder / "cut.tif").write_bytes(good[: len(good) // 2])  # Pillow warned "Corrupt EXIF data" (3 lines) on this one
    assert main(["predict", str(fake_model), str(folder)]) == 0
    out, err = capfd.readouterr()
    assert out.strip().startswith(str(folder / "ok.png")) and len(out.strip().splitlines()) == 1
    assert err.startswith("predict: skipped 2 files that are not readable images: ") and len(err.strip().splitlines()) == 1, err
    assert "lzw.tif (damaged TIFF (Using code not yet in table))" in err and "Warning" not in err


@pytest.mark.parametrize("backend", ["jax", "bogus"])
def test_a_keras_backend_that_cannot_load_is_one_line(tmp_path, fashion_dir, backend):
    """Regression (an adversarial tester): KERAS_BACKEND=jax without jax installed (the JAX set-up copied from the
    GPU machine), or a name Keras does not know, ended in an ImportError / ValueError traceback, exit 1."""
    import importlib.util
    import os

    from helpers import REPO

    if backend == "jax" and importlib.util.find_spec("jax") is not None:
        backend = "jaxx"  # a backend that is surely missing on a machine that has jax
    out = tmp_path / "c.h5"
    proc = subprocess.run([sys.executable, "-m", "featcache", "extract", "--data-dir", str(fashion_dir), "--weights", "random",
                           "--image-size", "32", "--out", str(out)], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(REPO), "KERAS_BACKEND": backend}, timeout=300)
    err = proc.stderr.strip()
    assert proc.returncode == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err[-800:]
    assert f"Keras cannot load the backend KERAS_BACKEND={backend}" in err and "unset KERAS_BACKEND" in err
    assert not out.exists()


def test_standard_output_on_a_full_disk_keeps_the_work_and_is_one_line(tmp_path, fashion_dir):
    """Regression (an adversarial tester): `extract ... > /dev/full` ended in an OSError traceback at its first
    progress line and left no cache; `info`/`verify`/`train` too (train wrote no head). Now the work finishes and is
    kept, and the command ends on one line, exit 2."""
    import os

    from helpers import REPO

    out, head = tmp_path / "c.h5", tmp_path / "h.npz"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = [["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32", "--out", str(out)],
            ["info", str(out)], ["verify", str(out)], ["train", str(out), "--head", "logreg", "--out", str(head)]]
    with open("/dev/full", "w") as full:
        for args in runs:
            proc = subprocess.run([sys.executable, "-m", "featcache", *args], stdout=full, stderr=subprocess.PIPE, text=True,
                                  cwd=tmp_path, env=env, timeout=600)
            err = proc.stderr.strip()
            assert proc.returncode == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, (args[0], err[-800:])
            assert err.startswith(f"featcache {args[0]}: error: standard output could not be written (No space left on device)")
    assert main(["verify", str(out)]) == 0 and head.is_file()  # the cache is whole, the head was written


@pytest.mark.parametrize("argv, needle", [
    (["info", "LONG.h5"], "the name is too long for the file system"),
    (["train", "CACHE", "--head", "logreg", "--out", "LONG.npz"], "the name is too long for the file system"),
    (["evaluate", "LONG.npz", "CACHE"], "the name is too long for the file system"),
    (["predict", "LONG.keras", "x.jpg"], "the name is too long for the file system"),
    (["extract", "--images", "LOOP", "--weights", "random"], "is a loop of symbolic links"),
    (["curve", "CACHE", "--sizes", "10", "--seeds", "1", "--heads", "logreg", "--out", "LOOP"], "is a loop of symbolic links"),
    (["info", "LOOP"], "is a symbolic link to nothing (or a loop of links)"),  # it said "cache not found" (a tester)
    (["verify", "LOOP"], "is a symbolic link to nothing (or a loop of links)"),
])
def test_a_path_the_system_cannot_use_is_one_line(tmp_path, capsys, argv, needle):
    """A name over 255 bytes (ENAMETOOLONG) or a link loop, given to most commands, was a traceback where no check
    expected it (an adversarial tester): cli.path_problem makes it one line, exit 2, wherever it comes from."""
    cache = tiny_cache(tmp_path / "c.h5")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    names = {"LONG": str(tmp_path / ("h" * 300)), "LOOP": str(tmp_path / "loop"), "CACHE": str(cache)}
    argv = [next((v + a[len(k):] for k, v in names.items() if a.startswith(k)), a) for a in argv]
    err = one_line_error(capsys, argv, needle)
    assert len(err) < 300  # the 300-byte name is shortened in the line


def test_a_non_ascii_name_on_an_ascii_terminal_is_printed_escaped(tmp_path):
    """stdout in an ASCII locale (PYTHONIOENCODING=ascii, LC_ALL=C without UTF-8 mode) and a cache named cé.h5:
    'featcache info' was a UnicodeEncodeError traceback (an adversarial tester); the name is now escaped."""
    import os

    cache = tiny_cache(tmp_path / "c\u00e9.h5")
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "PYTHONUTF8": "0"}
    proc = subprocess.run([sys.executable, "-m", "featcache", "info", str(cache)], capture_output=True, text=True,
                          env=env, errors="replace")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert f"cache       {tmp_path}/c\\xe9.h5" in proc.stdout


def test_predicts_api_takes_one_path_checks_top_k_and_caps_npy_images(tmp_path, fake_model, monkeypatch):
    """From an adversarial tester: predict(model, "x.png") walked the string character by character ("/" became the
    root folder); top_k="2" or True went through unchecked; a 1x10000x10000x3 .npy ran at a 2.9 GB peak, where image
    files are capped at MAX_PIXELS. Now one path is one input, top_k is a whole number >= 1, and such arrays are
    refused in one line while large (allowed) ones run in smaller batches."""
    from featcache.deploy import model as model_mod
    from featcache.deploy.predict import predict
    from featcache.embedding.passes import images_per_pass
    from featcache.errors import FeatcacheError
    from featcache.sources.decode import MAX_PIXELS

    write_image(tmp_path / "x.png", class_image(0, 0, 16))
    assert [p.input for p in predict(fake_model, str(tmp_path / "x.png"))] == [str(tmp_path / "x.png")]
    assert [p.input for p in predict(fake_model, bytes(tmp_path / "x.png"))] == [str(tmp_path / "x.png")]  # bytes: a path
    (tmp_path / "sub").mkdir()
    assert predict(fake_model, [tmp_path, tmp_path]).left_out.count(f"{tmp_path / 'sub'}/") == 1  # a folder twice
    assert len(predict(fake_model, tmp_path / "x.png", top_k=2)[0].top) == 2
    for bad in (True, 0, 1.5, "2"):  # "2": a number's text, which only --top-k reads
        with pytest.raises(FeatcacheError, match=r"^top_k=\S+ (is not a whole number|must be at least 1)"):
            predict(fake_model, [tmp_path / "x.png"], top_k=bad)
    side = int(MAX_PIXELS ** 0.5) + 1
    big = np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", dtype=np.uint8, shape=(1, side, side, 1))  # sparse
    del big
    with pytest.raises(FeatcacheError, match=r"big.npy holds images of \d+x\d+ pixels, too large to run safely"):
        predict(fake_model, [tmp_path / "big.npy"])
    batches = []
    monkeypatch.setattr(model_mod, "run_model", lambda net, x, bs=64: batches.append(bs) or np.full((len(x), 2), 0.5))
    np.save(tmp_path / "large.npy", np.zeros((3, 3000, 3000, 3), np.uint8))
    np.save(tmp_path / "small.npy", np.zeros((3, 28, 28), np.uint8))
    predict(fake_model, [tmp_path / "large.npy", tmp_path / "small.npy"])
    # The model (16 px) turns each raw image into float32 RGB before resizing it: 48 bytes a raw pixel, 432 MB an image.
    large = images_per_pass(64, 16, raw_pixels=3000 * 3000).rows
    assert large == 4 and batches == [large, 64]
    batches.clear()
    np.save(tmp_path / "gray.npy", np.zeros((3, 3000, 3000), np.uint8))  # becomes RGB in the model: counted as RGB
    predict(fake_model, [tmp_path / "gray.npy"])
    assert batches == [large]


def test_predict_holds_a_pass_to_the_bound_counting_the_models_views(tmp_path, fake_model, monkeypatch):
    """predict bounded its batches by raw bytes only (64 MB of pixels): a model at 2048 px ran 5 image files a pass
    (7 GB), and a model that averages views runs every view of each image in its pass. It now takes extract's bound
    (embedding.passes), each image counted once per view of the model."""
    from featcache.deploy import model as model_mod
    from featcache.deploy.predict import predict
    from featcache.embedding import passes

    for i in range(5):
        write_image(tmp_path / f"x{i}.png", class_image(0, i, 16))
    model = meta_only_model(tmp_path / "views.keras", image_size=16, views=["orig", "flip", "shift:+2,+2"])
    batches = []
    monkeypatch.setattr(model_mod, "run_model", lambda net, x, bs=64: batches.append((len(x), bs)) or np.full((len(x), 2), 0.5))
    files = sorted(tmp_path.glob("x*.png"))
    assert len(predict(fake_model, files)) == 5 and batches == [(5, 64)]  # far below the bound: as before
    batches.clear()
    monkeypatch.setattr(passes, "PASS_MEMORY", 7 * passes.image_bytes(16))  # room for 7 images of 16 px
    predict(fake_model, files)
    assert batches == [(5, 7)]  # 7 files of the plain model a pass
    batches.clear()
    predict(model, files)
    assert batches == [(2, 2), (2, 2), (1, 2)]  # 2 files x 3 views a pass
    assert passes.images_per_pass(64, 2048).rows == 1  # the 2048 px model: one file a pass


@pytest.mark.parametrize("kind", ["notes", "complete cache"])
def test_extract_never_deletes_a_users_file_at_its_partials_name(tmp_path, fashion_dir, capsys, kind):
    """Regression (an adversarial tester): a complete cache extracted to V/a.h5.partial.h5 and notes saved as
    V/b.h5.partial.h5 were deleted by extract --out V/a.h5 (--out V/b.h5), "starting it over", exit 0."""
    import hashlib
    import os

    from featcache.store.layout import partial_path

    out = tmp_path / "a.h5"
    part = partial_path(out)
    if kind == "notes":
        part.write_text("my notes\n")
    else:
        os.replace(tiny_cache(tmp_path / "made.h5"), part)
    before = hashlib.sha256(part.read_bytes()).hexdigest()
    err = one_line_error(capsys, ["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32",
                                  "--out", str(out)], f"{part} is in the way of featcache's partial file",
                         "move it away, or choose another --out")
    assert hashlib.sha256(part.read_bytes()).hexdigest() == before and not out.exists(), err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "fmnist") == ["a.h5.partial.h5"]  # no lock file left


def test_too_many_open_files_anywhere_is_one_line(tmp_path, fashion_dir, capsys, monkeypatch):
    """Regression (an adversarial tester): ``ulimit -n 6 featcache extract --runtime tensorflow`` ended in a
    traceback from ``import tensorflow`` (OSError: [Errno 24] Too many open files: '.../tensorflow/__init__.py')."""
    import errno

    from featcache.embedding import runner

    def no_fds(*a, **kw):
        raise OSError(errno.EMFILE, "Too many open files", "/site-packages/tensorflow/__init__.py")

    monkeypatch.setattr(runner, "extract", no_fds)
    err = one_line_error(capsys, ["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--out",
                                  str(tmp_path / "c.h5")], "too many open files", "raise the limit with ulimit -n")
    assert err.startswith("featcache extract: error: ")


@pytest.mark.parametrize("command", ["extract", "train", "export", "finetune", "predict"])
def test_a_file_output_named_with_a_trailing_slash_is_refused(tmp_path, fashion_dir, fake_model, capsys, monkeypatch, command):
    """Regression (an adversarial tester): 'predict --csv out/', 'train --out h.npz/' and 'extract --out x.h5/' wrote a
    file named out, h.npz, x.h5 where the user named a folder (pathlib drops the /). Every command's file output
    refuses it in one line, exit 2, before any work, and nothing is written; the API's keywords say the same."""
    import featcache
    from featcache.embedding.specs import StoreSpec
    from featcache.errors import FeatcacheError
    from featcache.heads.io import load_head, save_head

    cache, head = tiny_cache(tmp_path / "c.h5"), tmp_path / "h.npz"
    assert main(["train", str(cache), "--head", "logreg", "--out", str(head)]) == 0
    photos = tmp_path / "photos"
    write_image(photos / "a.png", class_image(0, 0, 16))
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    flag, given, example = {
        "extract": ("--out", "x.h5/", "x.h5/cache.h5"), "train": ("--out", "n.npz/", "n.npz/head.npz"),
        "export": ("--out", "m.keras/", "m.keras/model.keras"), "finetune": ("--out", "m.keras/", "m.keras/model.keras"),
        "predict": ("--csv", "out/", "out/predictions.csv")}[command]
    argv = {"extract": ["extract", "--data-dir", str(fashion_dir), "--weights", "random"],
            "train": ["train", str(cache), "--head", "logreg"], "export": ["export", str(head)],
            "finetune": ["finetune", str(head)], "predict": ["predict", str(fake_model), str(photos)]}[command]
    one_line_error(capsys, [*argv, flag, given], f"featcache {command}: error: {flag} {given} ends in '/', which names a "
                   f"folder, not a file; drop the '/', or name a file in that folder, e.g. {flag} {example}")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    api = {"extract": lambda: StoreSpec(out=given), "train": lambda: featcache.train(cache, "logreg", out=given),
           "export": lambda: featcache.export(head, out=given), "finetune": lambda: featcache.finetune(head, out=given),
           "predict": lambda: featcache.predict(fake_model, [photos], csv=given)}[command]
    keyword = {"extract": "StoreSpec(out={!r})", "predict": "csv={!r}"}.get(command, "out={!r}")
    with pytest.raises(FeatcacheError, match=re.escape(f"{keyword.format(given)} ends in '/'")) as refused:
        api()
    assert str(refused.value).endswith(f"e.g. {keyword.format(example)}")
    if command == "train":  # the API's own writer of a head file follows the one rule
        with pytest.raises(FeatcacheError, match=re.escape("path='n.npz/' ends in '/'")):
            save_head(*load_head(head)[:1], "n.npz/", {})
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("given, end, example", [("x.h5/.", "/.", "x.h5/./cache.h5"), ("x.h5/..", "/..", "x.h5/../cache.h5")])
def test_a_file_output_whose_last_part_is_a_dot_is_refused_as_a_folder(tmp_path, fashion_dir, capsys, monkeypatch,
                                                                       given, end, example):
    """Regression (a reviewer, 2026-12-06): 'extract --out "x.h5/."' wrote the cache x.h5, where the user named a
    folder: pathlib drops a trailing "." as it drops a trailing "/", which check_file_name refused alone. A last part
    "." or ".." is refused the same way, in one line naming its ending as typed, before any work; the API too ("x.h5/.."
    was "a cache is an HDF5 file whose name ends in .h5 ...; use --out x.h5/...h5"; a bare "." is "a folder", as before)."""
    from featcache.embedding.specs import StoreSpec
    from featcache.errors import FeatcacheError

    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = ["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--out", given]
    one_line_error(capsys, argv, f"featcache extract: error: --out {given} ends in '{end}', which names a folder, not a "
                   f"file; drop the '{end}', or name a file in that folder, e.g. --out {example}")
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # was: x.h5 written (exit 0)
    with pytest.raises(FeatcacheError, match=re.escape(f"StoreSpec(out={given!r}) ends in '{end}'")):
        StoreSpec(out=given)
    for fine in ("x.h5", ".x.h5", "d/..h5"):  # a dot in a name is no folder
        StoreSpec(out=fine)
    with pytest.raises(FeatcacheError, match=re.escape("StoreSpec(out='.') is a folder")):
        StoreSpec(out=".")


@pytest.mark.parametrize("where", ["plot", "record"])
def test_running_out_of_memory_is_one_line_and_leaves_no_half_report(tmp_path, capsys, monkeypatch, where):
    """Regression (an adversarial tester): evaluate of 400 classes under ``ulimit -v`` ended in numpy's
    ``_ArrayMemoryError`` traceback; a MemoryError anywhere in a command was a traceback (errors.system_limit took only
    ENOMEM's OSError). It is one line saying so and what to do, exit 2; the report's files written before it go."""
    from featcache.analysis import evaluate

    cache, head, out = tiny_cache(tmp_path / "c.h5"), tmp_path / "h.npz", tmp_path / "e"
    assert main(["train", str(cache), "--head", "logreg", "--out", str(head)]) == 0
    capsys.readouterr()

    def no_memory(*args, **kwargs):
        np.ones(2**60, dtype=np.uint8)  # numpy's own MemoryError: no machine has an exbibyte

    monkeypatch.setattr(evaluate, {"plot": "plot_confusion", "record": "write_json"}[where], no_memory)
    err = one_line_error(capsys, ["evaluate", str(head), str(cache), "--out", str(out)], "featcache evaluate: error: "
                         "out of memory (Unable to allocate 1.00 EiB", "free some memory", "and re-run")
    assert not out.exists(), (err, sorted(out.iterdir()))


@pytest.mark.parametrize("fault", ["no space", "interrupted"])
def test_an_extract_that_fails_before_writing_leaves_no_folder_it_made(tmp_path, fashion_dir, capsys, monkeypatch, fault):
    """Regression (an adversarial tester): ``extract --runtime onnxruntime`` with FEATCACHE_RUNTIME_DIR on a full disk
    said so in one line but left the new, empty --out folder behind. Folders that were there, or hold anything, stay."""
    from featcache.embedding import runner
    from featcache.errors import FeatcacheError

    def fails(path, *a, **kw):
        assert path.parent.is_dir()  # made for the cache, before the lock
        if fault == "no space":
            raise FeatcacheError(f"no space left on {tmp_path} writing {tmp_path / 'rt' / 'model.onnx'}; free 9 MB or "
                                 "choose FEATCACHE_RUNTIME_DIR elsewhere")
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "_run", fails)
    argv = ["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32", "--out"]
    if fault == "no space":
        one_line_error(capsys, argv + [str(tmp_path / "new" / "deeper" / "c.h5")], "no space left on")
    else:
        assert main(argv + [str(tmp_path / "new" / "deeper" / "c.h5")]) == 130
    assert not (tmp_path / "new").exists()
    (tmp_path / "mine").mkdir()
    with contextlib.suppress(KeyboardInterrupt):
        main(argv + [str(tmp_path / "mine" / "c.h5")])
    assert (tmp_path / "mine").is_dir() and list((tmp_path / "mine").iterdir()) == []


def test_a_head_given_as_a_cache_or_the_arguments_swapped_are_named(tmp_path, capsys):
    """A new user: 'train HEAD.npz' said "not a readable HDF5 file (file signature not found)" (info named the file's
    kind), and 'evaluate CACHE HEAD' said the cache was not a readable head, without a word on the order."""
    cache = tiny_cache(tmp_path / "c.h5")
    head = tmp_path / "h.npz"
    assert main(["train", str(cache), "--head", "logreg", "--out", str(head)]) == 0
    capsys.readouterr()
    for argv in (["train", str(head), "--head", "logreg"], ["probe", str(head)], ["curve", str(head), "--sizes", "10"]):
        one_line_error(capsys, argv, f"{head} is a head written by 'featcache train', not a cache; pass the cache it was "
                                     f"trained on (score the head with 'featcache evaluate {head} CACHE', check its content digest "
                                     f"with 'featcache verify {head}')")
    # each command says what it takes: export and finetune were told evaluate's order, "evaluate takes the head
    # first, then the cache", from the loader the three share (a brief, helper-310)
    not_a_head = f"{cache} is an HDF5 file (a cache?), not a head; pass the .keras"
    for argv, takes in ((["evaluate", str(cache), str(head)],
                         " or .npz head file written by 'featcache train' (evaluate takes the head first, then the "
                         "cache: 'featcache evaluate HEAD CACHE')"),
                        (["export", str(cache), "--out", str(tmp_path / "m.keras")],
                         " or .npz head file written by 'featcache train' (export takes a head and writes its model: "
                         "'featcache export HEAD --out MODEL.keras')"),
                        (["finetune", str(cache), "--out", str(tmp_path / "f.keras")],
                         " head file written by 'featcache train CACHE --head keras' (finetune takes a Keras head: "
                         "'featcache finetune HEAD')")):
        assert one_line_error(capsys, argv).endswith(f"error: {not_a_head}{takes}")
    assert not (tmp_path / "m.keras").exists() and not (tmp_path / "f.keras").exists()
    (tmp_path / "notes.txt").write_text("no cache")
    one_line_error(capsys, ["train", str(tmp_path / "notes.txt"), "--head", "logreg"], "is not a readable HDF5 file")
    spaced = tmp_path / "my head.npz"  # the suggested commands paste as they are (a review: the path was bare)
    spaced.write_bytes(head.read_bytes())
    one_line_error(capsys, ["train", str(spaced), "--head", "logreg"],
                   f"'featcache evaluate '{spaced}' CACHE', check its content digest with 'featcache verify '{spaced}'')")


def test_a_head_given_as_a_cache_is_named_in_the_commands_words_wherever_the_command_opens_it(tmp_path, capsys,
                                                                                            monkeypatch):
    """A command's own code that opens a head as a cache (not through train's, probe's, curve's or evaluate's
    call) names it too, in the command's words: the CLI runs every command through heads.io's one home of that
    rule, where it had a copy of its own (cli._named_kind; a brief, helper-310)."""
    import featcache.recipes.files as files
    from featcache.errors import NotHDF5

    cache = tiny_cache(tmp_path / "c.h5")
    head = tmp_path / "h.npz"
    assert main(["train", str(cache), "--head", "logreg", "--out", str(head)]) == 0
    capsys.readouterr()

    def opens_it_as_a_cache(path, *args, **kwargs):
        raise NotHDF5(path, "file signature not found")

    monkeypatch.setattr(files, "info", opens_it_as_a_cache)
    said = one_line_error(capsys, ["info", str(head)])
    assert said == (f"featcache info: error: {head} is a head written by 'featcache train', not a cache; pass the cache "
                    f"it was trained on (score the head with 'featcache evaluate {head} CACHE', check its content "
                    f"digest with 'featcache verify {head}')"), said


def test_evaluate_on_another_data_sets_cache_names_the_data_sets_before_the_image_size(tmp_path, capsys):
    """A new-user tester: a hymenoptera head evaluated on the Fashion-MNIST cache said "head and cache do not match
    (image_size: head 224 vs cache 96); evaluate on a cache extracted with the head's settings", as if re-extracting
    Fashion-MNIST at 224 px would do; the data set is what differs."""
    from featcache.store import CacheWriter, SplitSpec

    cache = tiny_cache(tmp_path / "c.h5", dataset="bugs")
    head = tmp_path / "h.npz"
    assert main(["train", str(cache), "--head", "logreg", "--out", str(head)]) == 0
    capsys.readouterr()
    other = tmp_path / "other.h5"
    attrs = consistent_attrs({"fingerprint": "d" * 64, "class_names": ["cat", "dog", "hen"], "layers": ["out"], "default_layer": "out",
             "backbone": "mobilenet_v2", "weights": "random", "image_size": 96, "preprocessing": "x", "dataset": "pets"})
    y = np.arange(12) % 3
    w = CacheWriter(other, attrs, [SplitSpec(s, y, np.arange(12)) for s in ("train", "test")], {"out": 4}, "float32")
    w.open()
    for s in ("train", "test"):
        w.write(s, 0, {"out": np.zeros((12, 4), np.float32)})
    w.finish()
    one_line_error(capsys, ["evaluate", str(head), str(other)],
                   "the head was trained on classes ['ants', 'bees'] (bugs), the cache holds ['cat', 'dog', 'hen'] (pets); "
                   "evaluate on a cache of the same data set")
    from featcache.analysis.evaluate import _of

    # a photo folder's name of 210 characters was printed whole (a tester): its first 40
    assert (_of("p" * 210), _of("pets"), _of(None)) == (f" ({'p' * 40}...)", " (pets)", "")


def test_a_name_in_a_message_is_clipped_to_40_characters_with_dots_only_when_cut():
    """Regression (a review): the default-name refusals said "made from the data set name fashion_mnist..." of a
    short name; they and evaluate's mismatch line now share ``errors.clipped``: "..." only after a cut name."""
    from featcache.errors import clipped
    from featcache.store.layout import made_from

    assert made_from("data set name", "fashion_mnist") == "the data set name fashion_mnist"
    assert made_from("folder name", "p" * 41) == f"the folder name {'p' * 40}..."
    assert (clipped("q" * 40), clipped("q" * 41, 5)) == ("q" * 40, "qqqqq...")
    assert clipped("caf\udce9" + "x" * 50) == "caf\\xe9" + "x" * 36 + "..."  # cut by characters, then escaped


def test_predict_given_images_as_the_model_says_the_model_comes_first(tmp_path, capsys):
    """A new-user tester: 'featcache predict images.npy model.keras' said "images.npy is not a featcache model
    (BadZipFile)"."""
    arr = tmp_path / "fm.npy"
    np.save(arr, np.zeros((2, 28, 28), np.uint8))
    png = tmp_path / "a.png"
    from PIL import Image

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(png)
    for path, what in ((arr, "a .npy array"), (png, "an image")):
        one_line_error(capsys, ["predict", str(path), str(tmp_path / "model.keras")],
                       f"{path} is not a featcache model (it is {what}: predict takes the model first, then the images: "
                       "'featcache predict MODEL IMAGE ...')")
    # a cache said "(BadZipFile)", another program's zip "(KeyError)" (an adversarial tester): what each is
    cache = tiny_cache(tmp_path / "c.h5")
    one_line_error(capsys, ["predict", str(cache), str(png)], f"{cache} is not a featcache model (it is an HDF5 file, "
                   "a cache?: make a model from a head with 'featcache export HEAD --out MODEL.keras')")
    other = tmp_path / "other.keras"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("config.json", "{}")
    one_line_error(capsys, ["predict", str(other), str(png)], f"{other} is not a featcache model (a zip file without "
                   "featcache's featcache.json: a Keras model or an .npz of another program?)")


def test_predict_says_what_a_file_that_is_no_model_is_in_words(tmp_path, capsys):
    """Regression (h309's brief): a file given as a model that is none was named by an exception's type: a large file
    starting as a zip (past what a damaged zip is scanned for: heads.io.DAMAGE_SCAN_BYTES) or a text file said
    "(BadZipFile)", a zip whose featcache.json is no JSON "(JSONDecodeError)". Said in words (deploy.model._kind_hint)."""
    from featcache.heads.io import DAMAGE_SCAN_BYTES

    png = tmp_path / "a.png"
    png.write_bytes(b"")  # never read: the model is refused first
    big = tmp_path / "big.keras"
    with open(big, "wb") as f:
        f.write(b"PK\x03\x04" + bytes(range(40)))
        f.truncate(DAMAGE_SCAN_BYTES + 1)  # sparse: never on disk
    text = tmp_path / "notes.keras"
    text.write_text("not a model\n")
    bad_json = tmp_path / "json.keras"
    with zipfile.ZipFile(bad_json, "w") as zf:
        zf.writestr("featcache.json", "{not json")
    for path, why in ((big, "it starts as a zip file but is not a readable one: damaged or cut short"),
                      (text, "it is no zip file, as a model is"), (bad_json, "its featcache.json is not JSON")):
        one_line_error(capsys, ["predict", str(path), str(png)], f"{path} is not a featcache model ({why}); pass a file "
                       "written by 'featcache export' or 'featcache finetune'")


def test_a_value_error_other_than_the_jsons_is_not_called_a_json_fault(tmp_path):
    """Regression (a reviewer, h314): any ValueError while a model's metadata was read (zipfile's "negative seek
    value" of a damaged header among them) was said "(its featcache.json is not JSON)", where the JSON was never
    reached. Only json's and the text decoder's errors are that; any other says its own words."""
    from featcache.deploy.model import _kind_hint

    path = tmp_path / "m.keras"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("featcache.json", "{}")
    assert _kind_hint(path, json.JSONDecodeError("Expecting value", "{x", 1)) == " (its featcache.json is not JSON)"
    assert _kind_hint(path, UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")) == \
        " (its featcache.json is not JSON)"
    assert _kind_hint(path, ValueError("negative seek value -12")) == " (negative seek value -12)"


def test_a_report_rerun_stopped_midway_leaves_the_old_report_whole(tmp_path, capsys, monkeypatch, first_reports):
    """Regression (a review of the report digests): a rerun stopped between its files and the record of their
    digests (Ctrl-C while probe drew its plot, a full disk at evaluate's JSON, between curve.png and curve.json)
    left new files beside the old digests, and every later run refused them as changed by the user: featcache
    locked out of its own folder. The files a failed run replaced are put back (output_files keeps them)."""
    from featcache.errors import FeatcacheError

    from featcache.analysis import evaluate as evaluate_mod
    from featcache.analysis import plots
    from featcache.analysis import probe as probe_mod
    from featcache.analysis.curve import run as curve_run

    # the old reports: first_reports' (each written as the first command below), copied
    cache, head, head2 = first_reports[0], first_reports[1], tmp_path / "h2.npz"
    assert main(["train", cache, "--head", "logreg", "--C", "0.01", "--out", str(head2)]) == 0

    def full_disk(path, *a, **k):  # what atomic_path raises for ENOSPC (its message, shortened)
        raise FeatcacheError(f"no space left on device writing {path}; free some space")

    def ctrl_c(*a, **k):
        raise KeyboardInterrupt

    cases = [(["evaluate", str(head), cache], ["evaluate", str(head2), cache], evaluate_mod, "write_json", full_disk,
              "evaluation.json"),
             (["probe", cache, "--heads", "logreg"], ["probe", cache, "--heads", "logreg", "--C", "0.01"], probe_mod,
              "plot_probe", ctrl_c, "probe.json"),
             (["curve", cache, "--sizes", "10", "--seeds", "1", "--heads", "logreg"],
              ["curve", cache, "--sizes", "10,20", "--seeds", "1", "--heads", "logreg"], curve_run, "report_digests", ctrl_c,
              "curve.json")]
    for i, (first, second, module, name, fault, record) in enumerate(cases):
        folder = tmp_path / f"r{i}"
        assert report_copy(first_reports, record, folder) == first
        before = {p.name: p.read_bytes() for p in folder.iterdir() if not p.name.startswith(".")}
        with monkeypatch.context() as m:
            m.setattr(module, name, fault)
            try:
                rc = main([*second, "--out", str(folder)])
            except KeyboardInterrupt:
                rc = 130
            assert rc != 0
        capsys.readouterr()
        now = {p.name: p.read_bytes() for p in folder.iterdir()}
        if name == "report_digests":  # curve.csv and curve.json are rewritten as a run starts and after every fit,
            from featcache.validate import REPORT_DIGESTS, file_sha256  # by design; curve.json still vouches for the plot

            assert json.loads(now["curve.json"])[REPORT_DIGESTS] == {"curve.png": file_sha256(folder / "curve.png")}
            for f in ("curve.csv", "curve.json"):
                now.pop(f), before.pop(f)
        assert now == before, (first[0], sorted(now))  # the old report, whole, and no backup left behind
        assert main([*second, "--out", str(folder)]) == 0, capsys.readouterr().err  # and the next run goes on


_RUN_EACH = """
import contextlib, io, json, sys
from featcache.cli import main
out = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code
        except BaseException as exc:  # what the CLI let through: the traceback a user would see
            rc, _ = 1, err.write(f"Traceback: {type(exc).__name__}: {exc}")
    out.append([rc, err.getvalue()])
print(json.dumps(out))
"""


def test_a_path_the_user_may_not_read_is_one_line_in_every_command(tmp_path, fake_model):
    """An adversarial tester: a folder the user may not search (or a file of mode 000) ended nearly every command in a
    PermissionError traceback, from pathlib's exists/is_file/is_dir; an unreadable head was "not a readable featcache
    head", an unreadable cache "not a readable HDF5 file". Run without the capabilities that let root read anything
    (setpriv), so that file modes apply as they do to any user."""
    import os
    import shutil

    cache = tiny_cache(tmp_path / "c.h5")
    head = tmp_path / "h.npz"
    assert main(["train", str(cache), "--head", "logreg", "--out", str(head)]) == 0
    photos = tmp_path / "photos"
    write_image(photos / "x.png", class_image(0, 0, 16))
    locked, closed = tmp_path / "locked", tmp_path / "closed"
    locked.mkdir(), closed.mkdir()
    for p in (cache, head, fake_model, photos / "x.png"):
        shutil.copy(p, locked / p.name)
    shutil.copy(head, closed / "h.npz")
    shutil.copy(fake_model, closed / "m.keras")
    c, h, m = str(cache), str(head), str(fake_model)
    runs = [["verify", f"{locked}/c.h5"], ["info", f"{locked}/c.h5"], ["train", f"{locked}/c.h5", "--head", "logreg"],
            ["probe", f"{locked}/c.h5"], ["evaluate", f"{locked}/h.npz", c], ["export", f"{locked}/h.npz", "--out", "e.keras"],
            ["predict", f"{locked}/m.keras", str(photos)], ["predict", m, str(locked)], ["predict", m, f"{locked}/x.png"],
            ["predict", m, str(photos), "--csv", f"{locked}/p.csv"], ["train", c, "--head", "logreg", "--out", f"{locked}/n.npz"],
            ["evaluate", f"{closed}/h.npz", c], ["export", f"{closed}/h.npz", "--out", "e.keras"], ["verify", f"{closed}/h.npz"],
            ["verify", f"{closed}/m.keras"], ["predict", f"{closed}/m.keras", str(photos)]]
    unprivileged = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] if os.geteuid() == 0 else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]),
           "FEATCACHE_PROGRESS": "off"}
    locked.chmod(0), (closed / "h.npz").chmod(0), (closed / "m.keras").chmod(0)
    try:
        proc = subprocess.run([*unprivileged, sys.executable, "-c", _RUN_EACH, json.dumps(runs)], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=300)
    finally:
        locked.chmod(0o755)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for argv, (rc, err) in zip(runs, json.loads(proc.stdout.strip().splitlines()[-1])):
        named = next(a for a in argv if a.startswith((str(locked), str(closed))))
        assert rc == 2 and len(err.strip().splitlines()) == 1, (argv, rc, err)
        assert "permission denied; check its permissions" in err and named.rsplit("/", 1)[0] in err, (argv, err)


def test_predict_recursive_names_what_it_passes_over(tmp_path, fake_model, capsys, monkeypatch):
    """An adversarial tester: 'predict MODEL TREE --recursive' predicted only the readable images, exit 0, without a
    word on a subfolder it could not list (os.walk swallows the error) or a link to a folder it does not follow. The
    link is listed as left out, the unreadable folder too, and the folder given, unreadable, is one line. (A tree
    1,000 folders deep was a RecursionError traceback, then "nested too deeply"; it is read now:
    test_export_predict::test_predict_recursive_reads_a_folder_nested_deeper_than_pythons_recursion_limit.)"""
    import os

    from featcache.deploy.predict import BROKEN_LINK, LEFT_OUT_REASONS

    root = tmp_path / "tree"
    write_image(root / "a" / "x.png", class_image(0, 0, 16))
    write_image(tmp_path / "elsewhere" / "o.png", class_image(1, 0, 16))
    (root / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert main(["predict", str(fake_model), str(root), "--recursive"]) == 0
    out, err = capsys.readouterr()
    assert [line.split(": ")[0] for line in out.strip().splitlines()] == [str(root / "a" / "x.png")]
    assert f"1 link to a folder, not followed ({root / 'link'}/; pass it to predict its images)" in err, err
    # a broken link (its target gone) is said to be one, in both listings; it was 'a file of no image type' (a tester)
    (root / "gone.png").symlink_to(tmp_path / "nowhere.png")
    for flags in (["--recursive"], []):
        folder = root if flags else root / "a"
        if not flags:
            (folder / "gone.png").symlink_to(tmp_path / "nowhere.png")
        assert main(["predict", str(fake_model), str(folder), "--json", *flags]) == 0
        out, err = capsys.readouterr()
        assert f"1 broken link ({folder / 'gone.png'}; its target is gone)" in err and "no image type" not in err, err
        assert [str(folder / "gone.png"), LEFT_OUT_REASONS[BROKEN_LINK]] in json.loads(out)["left_out"]
    os.unlink(root / "gone.png")
    os.unlink(root / "a" / "gone.png")
    # a FIFO and a link to a device named as images were 'files of no image type', which sent the user to a name
    # that is fine; extract says 'not a regular file' (an adversarial tester). Nothing is opened: no wait
    from featcache.deploy.predict import NOT_REGULAR

    os.mkfifo(root / "a" / "fifo.jpg")
    (root / "a" / "zero.jpg").symlink_to("/dev/zero")
    signal.alarm(60)
    try:
        assert main(["predict", str(fake_model), str(root / "a"), "--json"]) == 0
    finally:
        signal.alarm(0)
    out, err = capsys.readouterr()
    assert (f"2 entries that are not regular files (a FIFO, socket or device; {root / 'a' / 'fifo.jpg'}, "
            f"{root / 'a' / 'zero.jpg'})") in err and "no image type" not in err, err
    assert [[str(root / "a" / n), LEFT_OUT_REASONS[NOT_REGULAR]] for n in ("fifo.jpg", "zero.jpg")] == json.loads(out)["left_out"]
    # a folder of such entries alone: "holds no image files" of names the user sees (an adversarial tester)
    (tmp_path / "only").mkdir()
    os.replace(root / "a" / "fifo.jpg", tmp_path / "only" / "fifo.jpg")
    os.replace(root / "a" / "zero.jpg", tmp_path / "only" / "zero.jpg")
    signal.alarm(60)
    try:
        one_line_error(capsys, ["predict", str(fake_model), str(tmp_path / "only")], f"{tmp_path / 'only'} holds no image "
                       "files that can be read: 2 entries are not regular files (a FIFO, socket or device; ")
    finally:
        signal.alarm(0)

    write_image(root / "locked" / "y.png", class_image(1, 1, 16))
    real = os.scandir
    monkeypatch.setattr(os, "scandir", lambda p=".": real(p) if Path(p).name != "locked" else (_ for _ in ()).throw(
        PermissionError(13, "Permission denied", str(p))))  # what a folder of mode 700 owned by another user does
    # the others are read, the unreadable one listed (a review: a lost+found stopped the whole run); the folder given,
    # unreadable itself, is one line
    assert main(["predict", str(fake_model), str(root), "--recursive"]) == 0
    out, err = capsys.readouterr()
    assert [line.split(": ")[0] for line in out.strip().splitlines()] == [str(root / "a" / "x.png")]
    assert f"1 subfolder that could not be read ({root / 'locked'}/; check its permissions)" in err, err
    one_line_error(capsys, ["predict", str(fake_model), str(root / "locked"), "--recursive"], f"{root / 'locked'}: permission denied")
    monkeypatch.setattr(os, "scandir", real)


_SLOW_EXIT = """
import atexit, sys, tempfile, time
from featcache import cli

cli.EXIT_SECONDS = 0.1  # the timer made short, so that the exit below outlasts it as a slow machine's would
left = tempfile.TemporaryDirectory(dir=sys.argv[1])  # removed by Python's exit (its finalizer, an atexit handler)
print(left.name, flush=True)
# a slow exit: this handler runs first (the last registered), the removal after; 0.6 s past the timer (it was 1.2 s
# past it: 0.3 and 1.5, a wait each process sat out whole where the fixed code arms no timer)
atexit.register(time.sleep, 0.7)
sys.argv = ["featcache", *sys.argv[2:]]  # as the program: main() with no argv
sys.exit(cli.main())
"""



def test_predict_says_a_loop_of_links_is_a_loop(tmp_path, fake_model, capsys):
    """Two links leading to each other (ELOOP) were "broken link(s) (...; their targets are gone)" among what predict
    left out, and one named was "image file not found" (an adversarial tester): a loop is said to be one."""
    folder = tmp_path / "pl"
    write_image(folder / "x.png", class_image(0, 0, 16))
    (folder / "l1").symlink_to("l2")
    (folder / "l2").symlink_to("l1")
    assert main(["predict", str(fake_model), str(folder), "--json"]) == 0
    out, err = capsys.readouterr()
    assert (f"2 symbolic link loops ({folder / 'l1'}, {folder / 'l2'}; each leads back to itself, to no file)" in err
            and "broken" not in err), err
    assert [str(folder / "l1"), "symbolic link loop: it leads back to itself, to no file"] in json.loads(out)["left_out"]
    err = one_line_error(capsys, ["predict", str(fake_model), str(folder / "l1")],
                         f"{folder / 'l1'} is a symbolic link loop: it leads back to itself, to no file; pass image files")
    assert "not found" not in err, err


def test_an_error_exit_runs_pythons_exit_in_full(tmp_path):
    """Regression (a review): the CLI, as the program, armed a timer after every non-zero status that ended the
    process (os._exit) EXIT_SECONDS after the command, for a thread stuck in a read after Ctrl-C or SIGTERM; after an
    error (exit 2), where nobody asked the process to stop, it cut short whatever of Python's exit was left: atexit
    handlers, a temporary folder's removal. Now only a command the user stopped (130, 143) is so ended
    (test_images::test_sigterm_ends_an_extract_whose_read_is_stuck_and_keeps_the_work); an error's exit is whole."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    for argv in (["verify", str(tmp_path / "none.h5")], ["train", str(tmp_path / "none.h5"), "--head", "logreg"]):
        proc = subprocess.run([sys.executable, "-c", _SLOW_EXIT, str(tmp_path), *argv], capture_output=True, text=True,
                              env=env, timeout=120)
        left = Path(proc.stdout.strip())
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "cache not found" in proc.stderr, proc.stderr[-2000:]
        assert left.parent == tmp_path and not left.exists(), f"{left} left behind: Python's exit was cut short"


# One process imports featcache's analysis, scikit-learn and matplotlib once, then forks a child per report: the
# child swaps ``module.name`` for a SIGKILL of itself and runs the command. Each line on stdin is a JSON [module,
# name, argv, log]; the child's stdout and stderr go to ``log``, its exit status (-9 when killed) back on stdout.
_KILLED_AT = """
import importlib, json, os, sys
from featcache.cli import main
from featcache.analysis import evaluate, plots, probe
plots._matplotlib_config()
import matplotlib.figure, sklearn.linear_model
for line in sys.stdin:
    module, name, argv, log = json.loads(line)
    pid = os.fork()
    if pid == 0:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        mod = importlib.import_module(module)
        def killed(*a, **k):  # SIGKILL (the OOM killer, power loss) midway through the report: no exception, no clean-up
            os.kill(os.getpid(), 9)
        setattr(mod, name, killed)
        try:
            code = main(argv)
        except BaseException:  # said in the log; never back in this loop, which reads the parent's lines
            import traceback
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 1)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


@pytest.mark.slow  # a child process per report (forked from one that imported featcache's analysis)
def test_a_report_killed_midway_is_put_back_by_the_next_run(tmp_path, capsys, first_reports):
    """An adversarial tester: SIGKILL while evaluate, probe or curve wrote its report left its new files beside the
    old record of digests (and hidden .NAME.before-PID links, one set per kill); every later run refused featcache's
    own file as changed by the user. A first report killed halfway left a plot without its JSON, refused the same
    way. The next run puts the old report back (or removes the half-made one) and goes on; nothing hidden stays."""
    import os

    # the whole reports the reruns are killed over: first_reports' (each written as the first command below), copied
    cache, head, head2 = first_reports[0], first_reports[1], tmp_path / "h2.npz"
    assert main(["train", cache, "--head", "logreg", "--C", "0.01", "--out", str(head2)]) == 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    cases = [(["evaluate", str(head), cache], ["evaluate", str(head2), cache], "featcache.analysis.evaluate", "write_text",
              "evaluation.json"),
             (["probe", cache, "--heads", "logreg"], ["probe", cache, "--heads", "logreg", "--C", "0.01"],
              "featcache.analysis.probe", "write_json", "probe.json"),
             (["curve", cache, "--sizes", "10", "--seeds", "1", "--heads", "logreg"],
              ["curve", cache, "--sizes", "10,20", "--seeds", "1", "--heads", "logreg"], "featcache.analysis.plots",
              "plot_learning_curves", "curve.json")]
    # the six killed runs are children of one process (_KILLED_AT): one interpreter and one import of the analysis,
    # scikit-learn and matplotlib, where each was a process of its own (about 3 s of CPU each)
    killer = subprocess.Popen([sys.executable, "-c", _KILLED_AT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env=env)
    try:
        for i, (first, second, module, name, record) in enumerate(cases):
            for rerun in (True, False):  # over a whole report, and a first report killed halfway
                folder = tmp_path / f"r{i}{rerun}"
                if rerun:
                    assert report_copy(first_reports, record, folder) == first
                old = {p.name: p.read_bytes() for p in folder.iterdir()} if rerun else {}
                log = tmp_path / f"killed{i}{rerun}.log"
                killer.stdin.write(json.dumps([module, name, [*second, "--out", str(folder)], str(log)]) + "\n")
                killer.stdin.flush()
                status = killer.stdout.readline()
                assert status == "-9\n", (status, log.read_text()[-2000:] if log.exists() else "")
                assert any(p.name.startswith(".") for p in folder.iterdir())  # what the kill left
                if module != "featcache.analysis.plots":  # curve's table grows as it fits, by design: the others come back whole
                    from featcache.paths import restore_killed

                    restore_killed([folder / n for n in ("evaluation.json", "evaluation.txt", "confusion.png", "probe.json",
                                                         "probe.csv", "probe.png")])
                    assert {p.name: p.read_bytes() for p in folder.iterdir()} == old, (second[0], rerun)
                capsys.readouterr()
                assert main([*second, "--out", str(folder)]) == 0, (second, capsys.readouterr().err)
                assert not [p.name for p in folder.iterdir() if p.name.startswith(".")], (second, sorted(os.listdir(folder)))
    finally:
        killer.stdin.close()
        killer.wait(timeout=60)


def _flip_in_entry(path: Path, entry: str, dest: Path) -> Path:
    """A copy of the zip at ``path`` with one bit of ``entry``'s stored bytes flipped (its CRC-32 then fails)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        off = zf.getinfo(entry).header_offset
    start = off + 30 + int.from_bytes(data[off + 26:off + 28], "little") + int.from_bytes(data[off + 28:off + 30], "little")
    data[start + 5] ^= 0x01
    dest.write_bytes(bytes(data))
    return dest


def test_a_damaged_head_or_model_is_named_damaged_by_every_command(tmp_path, fake_model, capsys):
    """An adversarial tester: a bit flipped in a head's or model's metadata entry, or the file cut short, made
    verify say "not a readable HDF5 file ... pass a cache", predict "not a featcache model (BadZipFile)", evaluate
    and export "not a readable featcache head (BadZipFile)" or "neither a .keras nor an .npz head": none said the
    file is damaged, nor to retrain or export again, as a changed byte elsewhere does."""
    cache = str(tiny_cache(tmp_path / "c.h5"))
    head = tmp_path / "h.npz"
    assert main(["train", cache, "--head", "logreg", "--out", str(head)]) == 0
    photos = tmp_path / "photos"
    write_image(photos / "x.png", class_image(0, 0, 16))
    flipped_head = _flip_in_entry(head, "featcache.npy", tmp_path / "flipped.npz")
    cut_head = tmp_path / "cut.npz"
    cut_head.write_bytes(head.read_bytes()[: head.stat().st_size // 2])
    flipped_model = _flip_in_entry(fake_model, "featcache.json", tmp_path / "flipped.keras")
    cut_model = tmp_path / "cut.keras"
    cut_model.write_bytes(fake_model.read_bytes()[: fake_model.stat().st_size // 2])
    # cut inside its first entry's header (under 30 bytes) or name: 'not a readable HDF5 file' in verify (a tester)
    tiny_head, tiny_model = tmp_path / "tiny.npz", tmp_path / "tiny.keras"
    tiny_head.write_bytes(head.read_bytes()[:20])
    tiny_model.write_bytes(fake_model.read_bytes()[:33])
    for f in (flipped_head, cut_head, flipped_model, cut_model, tiny_head, tiny_model):
        capsys.readouterr()
        one_line_error(capsys, ["verify", str(f)], f"{f} is damaged (", "retrain the head with 'featcache train' or export the model again")
    one_line_error(capsys, ["predict", str(tiny_model), str(photos)], f"{tiny_model} is damaged or was changed after")
    # a bit flipped in featcache's own entry: featcache's file, changed; cut short: damaged, whoever wrote it
    for f, said in ((flipped_head, "is damaged or was changed after 'featcache train' saved it ("), (cut_head, "is damaged (cut short")):
        for argv in (["evaluate", str(f), cache], ["export", str(f), "--out", str(tmp_path / "e.keras")]):
            one_line_error(capsys, argv, f"{f} {said}", "retrain the head")
    # a damaged model as export's --out: 'exists and is not a model featcache wrote' (an adversarial tester)
    one_line_error(capsys, ["export", str(head), "--out", str(cut_model)], f"--out {cut_model} is damaged (cut short",
                   "pass --force to replace it")
    for f in (flipped_model, cut_model):  # this model's first entry is featcache's metadata: featcache's, cut short
        one_line_error(capsys, ["predict", str(f), str(photos)], f"{f} is damaged or was changed after 'featcache export'",
                       "re-export the model")
    # a bit flipped in the zip's directory (is_zipfile still says yes): a BadZipFile traceback, exit 1, in evaluate,
    # export and finetune (an adversarial tester)
    keras_head = tmp_path / "k.keras"
    assert main(["train", cache, "--head", "keras", "--epochs", "2", "--out", str(keras_head)]) == 0
    for f in (head, keras_head):
        data = bytearray(f.read_bytes())
        data[data.find(b"PK\x01\x02")] ^= 1
        flipped = tmp_path / f"dir_{f.name}"
        flipped.write_bytes(bytes(data))
        for argv in (["evaluate", str(flipped), cache], ["export", str(flipped), "--out", str(tmp_path / "e.keras")],
                     ["finetune", str(flipped), "--out", str(tmp_path / "f.keras")]):
            one_line_error(capsys, argv, f"{flipped} is damaged", "retrain the head")
    # another program's .npz cut short is damaged too, but not said to be featcache's (a review)
    np.savez(tmp_path / "theirs.npz", a=np.zeros(5000), b=np.ones(5000))
    theirs = tmp_path / "theirs_cut.npz"
    theirs.write_bytes((tmp_path / "theirs.npz").read_bytes()[:20000])
    err = one_line_error(capsys, ["evaluate", str(theirs), cache], f"{theirs} is damaged (cut short")
    assert "after 'featcache train' saved it" not in err
    zipfile.ZipFile(tmp_path / "other.zip", "w").writestr("notes.txt", "another program's zip")
    err = one_line_error(capsys, ["verify", str(tmp_path / "other.zip")], "is a zip file",  # not featcache's: not "damaged"
                   "pass a cache ('featcache extract'), a head ('featcache train') or a model")  # verify takes all three
    assert " is damaged" not in err


def test_a_users_edits_to_a_reports_own_record_are_refused_not_replaced(tmp_path, capsys, first_reports):
    """An adversarial tester: notes added to evaluation.json or probe.json were replaced without a word by the next
    run (exit 0), where every other file of the report was refused once changed: its record of digests covered the
    other files, not itself. The record now carries its own digest; an edited one is one line naming it. (Each
    report as written, and rerun over its own record unchanged, replaced: first_reports.)"""
    for record in ("evaluation.json", "probe.json", "curve.json"):
        folder = tmp_path / record.split(".")[0]
        argv = report_copy(first_reports, record, folder)
        doc = json.loads((folder / record).read_text())
        doc["my_notes"] = "keep these"
        (folder / record).write_text(json.dumps(doc, indent=2))
        kept = (folder / record).read_bytes()
        capsys.readouterr()
        one_line_error(capsys, [*argv, "--out", str(folder)], f"{folder / record} was changed since featcache wrote it")
        assert (folder / record).read_bytes() == kept
        del doc["record_sha256"]  # the seal deleted along with the edit: it read as a record from before digests
        (folder / record).write_text(json.dumps(doc, indent=2))
        kept = (folder / record).read_bytes()
        one_line_error(capsys, [*argv, "--out", str(folder)], f"{folder / record} was changed since featcache wrote it")
        assert (folder / record).read_bytes() == kept


def test_marks_of_a_killed_report_are_told_apart_from_a_live_writer_a_reused_pid_and_a_users_files(tmp_path):
    """A review of restore_killed: marks named by pid alone were left in place when the pid was reused (by another
    process, or by the next run itself: one pid every time in a container), and a later run then put back a report
    older than the newest; a mark with a huge pid was an OverflowError traceback; a user's file named like a mark
    was moved over theirs. Marks carry the writer's start time: a mark of a process gone (or of this pid started
    at another time) is restored, one of a live writer is one line, anything else is left alone."""
    import os

    from featcache import paths
    from featcache.errors import FeatcacheError

    f = tmp_path / "evaluation.json"
    f.write_text("new, half written")
    pid = os.getpid()
    # this very pid, started at another time: the killed run before this one in a container
    host = paths._HOST
    (tmp_path / f".evaluation.json.before-{pid}-1-{host}").write_text("old")
    paths.write_put_mark(tmp_path / f".evaluation.json.put-{pid}-1-{host}", paths.file_stamp_now(f))  # it published f
    assert paths.restore_killed([f]) == [f] and f.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evaluation.json"]
    # a user's files named like marks, and a pid too large for the system: not featcache's, left alone
    # (and marks of the first form, PID-START: a user's '.evaluation.txt.before-1-1' was moved over the report; an
    # adversarial tester)
    for name in (f".evaluation.json.before-{pid}", f".evaluation.json.new-99999999999999999999-1-{host}",
                 ".evaluation.json.notes", ".evaluation.json.before-1-1", f".evaluation.json.before-{pid}-1-nothex!"):
        (tmp_path / name).write_text("mine")
    assert paths.restore_killed([f]) == [] and f.read_text() == "old"
    # a live writer's mark (pid 1 runs, with its own start time): one line, nothing touched
    start = paths._start_of(1) if paths._PROC else "x"
    live = tmp_path / f".evaluation.json.new-1-{start}-{host}"
    live.write_text("")
    with pytest.raises(FeatcacheError, match=r"another featcache process \(pid 1\) is writing"):
        paths.restore_killed([f])
    assert live.exists() and f.read_text() == "old"
    live.unlink()
    # a block killed while it removed its marks, after every file was written (its done mark there): the new report
    # stays whole, its marks and done mark go (an adversarial tester: the old files whose links were left came back
    # beside the new others, a report refused from then on); a mark with content is a user's file, never acted on
    (tmp_path / f".evaluation.json.before-{pid}-7-{host}").write_text("old")
    (tmp_path / f"{paths.DONE_PREFIX}{pid}-7-{host}").write_text("")
    (tmp_path / f".evaluation.json.new-4194304-9-{host}").write_text("my notes")
    assert paths.restore_killed([f]) == [] and f.read_text() == "old"
    assert not (tmp_path / f".evaluation.json.before-{pid}-7-{host}").exists()
    assert not (tmp_path / f"{paths.DONE_PREFIX}{pid}-7-{host}").exists()
    assert (tmp_path / f".evaluation.json.new-4194304-9-{host}").read_text() == "my notes"
    # this process's own marks are its block's
    own = paths.kept_mark(f, paths.NEW)
    own.write_text("")
    assert paths.restore_killed([f]) == [] and own.exists() and f.exists()
    own.unlink()
    # a writer in another container or on another host (another HOST tag): this process cannot look its pid up, so
    # its marks are a live writer's for an hour (they were taken for a killed one's and its files put back under it)
    # The mark is a hard link to the old report, a day old: its mtime is the old file's (a review: the live writer's
    # fresh mark was taken for a dead one's by that mtime, and the old report put back under it)
    older = tmp_path / "older.json"
    older.write_text("older")
    day_ago = time.time() - 24 * 3600
    os.utime(older, (day_ago, day_ago))
    foreign = tmp_path / ".evaluation.json.before-77-123-0000beef"
    os.link(older, foreign)
    older.unlink()
    paths.write_put_mark(tmp_path / ".evaluation.json.put-77-123-0000beef", paths.file_stamp_now(f))
    with pytest.raises(FeatcacheError, match=r"another featcache process \(pid 77, on another host or in another "
                                             r"container\) may be writing .*less than an hour old"):
        paths.restore_killed([f])
    assert f.read_text() == "old"
    real_time = time.time
    with pytest.MonkeyPatch.context() as mp:  # two hours on: its writer is taken for killed
        mp.setattr(paths.time, "time", lambda: real_time() + 2 * paths.STALE_SECONDS)
        assert paths.restore_killed([f]) == [f] and f.read_text() == "older" and not foreign.exists()
    # one killed in a container (run again under a new hostname) held the folder for that hour with no way out (an
    # adversarial tester): the line names FEATCACHE_TAKE_OVER=1, which takes a foreign writer's marks for a killed one's
    fresh = tmp_path / ".evaluation.json.before-78-123-0000beef"
    fresh.write_text("oldest")
    paths.write_put_mark(tmp_path / ".evaluation.json.put-78-123-0000beef", paths.file_stamp_now(f))
    with pytest.raises(FeatcacheError, match=r"if it was killed \(a container stopped\), run again with "
                                             r"FEATCACHE_TAKE_OVER=78-123-0000beef to put back"):
        paths.restore_killed([f])
    with pytest.MonkeyPatch.context() as mp:  # a value naming no writer of these marks (left in an ENV) changes nothing
        for value in ("1", "77-123-0000beef"):
            mp.setenv(paths.TAKE_OVER, value)
            with pytest.raises(FeatcacheError, match="may be writing"):
                paths.restore_killed([f])
        mp.setenv(paths.TAKE_OVER, "78-123-0000beef")
        assert paths.restore_killed([f]) == [f] and f.read_text() == "oldest" and not fresh.exists()
        # its put mark too: the take-over ends it as any killed writer's (helper-350's review: it was left)
        assert not [p.name for p in tmp_path.iterdir() if ".put-" in p.name], os.listdir(tmp_path)


def test_a_killed_reports_file_changed_before_the_next_run_is_kept_not_put_back(tmp_path):
    """helper-349: a report killed just after it replaced evaluation.txt, the user's note then appended to that file,
    and the next run put the old evaluation.txt back over it (then wrote the report anew, exit 0): the note was lost.
    Each file a report block publishes gets a put mark recording its size and SHA-256 (``UNPUBLISHED`` until then);
    the next run puts back the old report, or removes a first report's file, only where the file there is the one
    the killed run published, as published. Else it is kept (the report's check refuses it), and no hidden file stays.
    A block of an older featcache left no put mark: its marks are acted on as before (helper-350's review)."""
    import os

    from featcache import paths

    tag = f"{os.getpid()}-1-{paths._HOST}"  # this pid started at another time: a killed run before this one
    f, g = tmp_path / "evaluation.txt", tmp_path / "confusion.png"

    def killed_after_publishing(edit: str = "", put: bool = True) -> None:
        old = tmp_path / "old"
        old.write_text("old report")
        os.link(old, tmp_path / f".evaluation.txt.before-{tag}")
        old.unlink()
        (tmp_path / f".confusion.png.new-{tag}").write_text("")  # a file the killed run made for the first time
        for path, text in ((f, "new report"), (g, "new plot!")):
            path.write_text(text)
            if put:
                paths.write_put_mark(tmp_path / f".{path.name}.put-{tag}", paths.file_stamp_now(path))
            if edit == "append":
                with open(path, "a") as h:  # in place: its inode kept, its size and mtime not
                    h.write(" MY NOTE")
            elif edit == "same size":  # the same size, the mtime set back (touch -r, rsync -t): its bytes tell
                st = path.stat()
                path.write_text(text.upper())
                os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    def hidden() -> list[str]:
        return sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))

    killed_after_publishing()
    assert sorted(paths.restore_killed([f, g])) == sorted([f, g]) and f.read_text() == "old report" and not g.exists()
    assert hidden() == []
    for edit, kept in (("append", ("new report MY NOTE", "new plot! MY NOTE")), ("same size", ("NEW REPORT", "NEW PLOT!"))):
        killed_after_publishing(edit)
        assert paths.restore_killed([f, g]) == [], edit  # both kept as they are, nothing hidden left
        assert (f.read_text(), g.read_text()) == kept and hidden() == [], (edit, hidden())
        f.unlink()
        g.unlink()
    # an older featcache's block (no put marks): its file put back and its new one removed, as before
    killed_after_publishing(edit="append", put=False)
    assert sorted(paths.restore_killed([f, g])) == sorted([f, g]) and f.read_text() == "old report" and not g.exists()
    assert hidden() == []
    # killed before its first rename (its put marks say nothing published): a file another program put at the new
    # file's name since is kept
    (tmp_path / f".confusion.png.new-{tag}").write_text("")
    paths.write_put_mark(tmp_path / f".confusion.png.put-{tag}", None)
    g.write_text("another program's")
    assert paths.restore_killed([g]) == [] and g.read_text() == "another program's" and hidden() == []
    # a user's file named like a put mark is not one: never removed
    mine = tmp_path / f".confusion.png.put-{tag}"
    mine.write_text("my precious data")
    assert paths.restore_killed([g]) == [] and mine.read_text() == "my precious data"
    # a put mark cut short by a kill (or a full disk) as it was written, before the rename it precedes: nothing was
    # published; it stayed for good beside every later report (helper-351), and goes now
    mine.unlink()
    for cut in ("", "featcache-put 9 ab"):
        (tmp_path / f".confusion.png.new-{tag}").write_text("")
        (tmp_path / f".confusion.png.put-{tag}").write_text(cut)
        assert paths.restore_killed([g]) == [] and g.read_text() == "another program's" and hidden() == [], (cut, hidden())


def test_a_report_block_failing_after_the_user_changed_its_file_keeps_it_and_leaves_nothing_hidden(tmp_path):
    """helper-350's review: a block that published a file, which the user then changed, and then failed (a full disk,
    Ctrl-C) kept its hard link to the old file and the put mark under this live process's tag: other runs into the
    folder were refused as "another featcache process is writing" while it lived, and the oldest report came back
    later. The changed file stays, the block's marks go; an unchanged one is put back as before."""
    import os

    from featcache.store.atomic import output_files, write_text

    f, g = tmp_path / "evaluation.txt", tmp_path / "evaluation.json"
    f.write_text("old report")
    g.write_text("old record")
    with pytest.raises(KeyboardInterrupt):
        with output_files(tmp_path, [f, g]):
            write_text(f, "new report")
            write_text(g, "new record")
            with open(f, "a") as h:
                h.write(" MY NOTE")
            raise KeyboardInterrupt
    assert f.read_text() == "new report MY NOTE" and g.read_text() == "old record"
    assert sorted(os.listdir(tmp_path)) == ["evaluation.json", "evaluation.txt"]


# A report run SIGKILLed just after it published one file (``os.replace`` onto a name ending in argv[1]); the
# command is argv[2:].
_KILLED_AFTER = """
import os, signal, sys
from featcache.cli import main
real = os.replace
def replace(src, dst, *a, **k):
    real(src, dst, *a, **k)
    if str(dst).endswith(sys.argv[1]):
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
main(sys.argv[2:])
"""


@pytest.mark.slow  # a process of its own, killed
def test_a_note_added_to_a_killed_evaluations_file_survives_the_next_run(tmp_path, capsys, first_reports):
    """helper-349's recipe: evaluate killed just after it replaced evaluation.txt, 'MY NOTE' appended to it, the same
    evaluate again: exit 0 and the note gone. Now the rerun refuses the changed file in one line and keeps it byte
    for byte; once it is moved away, the old report comes back and the rerun writes the new one whole."""
    cache, head = first_reports[0], first_reports[1]
    folder = tmp_path / "ev"
    report_copy(first_reports, "evaluation.json", folder)
    head2 = tmp_path / "h2.npz"
    assert main(["train", cache, "--head", "logreg", "--C", "0.01", "--out", str(head2)]) == 0
    argv = ["evaluate", str(head2), cache, "--out", str(folder)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", _KILLED_AFTER, "evaluation.txt", *argv], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    txt = folder / "evaluation.txt"
    # verify (and info) said "confusion.png was changed since featcache wrote it" of featcache's own half-written
    # report (helper-351): they say a run was killed while writing it, and what puts it right
    capsys.readouterr()
    killed = f"{folder} holds a report that a featcache run (pid "
    one_line_error(capsys, ["verify", str(folder / "evaluation.json")], killed, "was killed while writing",
                   "run the command that wrote the report again: it puts the old report back first")
    _info_line(capsys, txt, "verify refuses it now: " + killed)
    with open(txt, "a") as h:
        h.write("MY NOTE\n")
    mine = txt.read_bytes()
    capsys.readouterr()
    one_line_error(capsys, argv, f"{txt} was changed since featcache wrote it", "move")
    assert txt.read_bytes() == mine
    txt.rename(tmp_path / "mine.txt")
    assert main(argv) == 0, capsys.readouterr().err
    assert b"MY NOTE" not in txt.read_bytes() and (tmp_path / "mine.txt").read_bytes() == mine
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")], sorted(os.listdir(folder))


@pytest.mark.parametrize("marker, changed", [("evaluation.json", "evaluation.txt"), ("probe.json", "probe.csv"),
                                             ("curve.json", "curve.png")])
def test_a_report_file_changed_just_after_its_rename_is_not_vouched_for(tmp_path, capsys, first_reports, marker, changed):
    """A report's record took each file's SHA-256 from disk after the file's rename: a change another program made in
    that instant (here: just after the rename) was recorded as featcache's, and verify said the report was fine. The
    record holds the digest of the bytes written (``store.atomic.written_sha256``), so verify names the file."""
    command = report_copy(first_reports, marker, tmp_path / "rep")
    real = os.replace

    def replace(src, dst, *a, **k):
        real(src, dst, *a, **k)
        if str(dst).endswith(changed):
            with open(dst, "ab") as h:
                h.write(b"SOMEONE ELSE'S\n")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "replace", replace)
        assert main([*command, "--out", str(tmp_path / "rep")]) == 0, capsys.readouterr().err
    assert (tmp_path / "rep" / changed).read_bytes().endswith(b"SOMEONE ELSE'S\n")
    capsys.readouterr()
    one_line_error(capsys, ["verify", str(tmp_path / "rep" / marker)], f"{tmp_path / 'rep' / changed} was changed since featcache wrote it")


def test_train_out_replaces_a_head_of_its_job_only_by_the_same_fit(tmp_path, capsys):
    """A review: 'train --C 0.001 --out h.npz' replaced the --C 0.03 head of the same data set there, saying only
    'replaced the head there'; so did other parameters, seed, train size, views. A head of another fit on the same
    cache is another result: refused in one line naming what differs and --force, before the fit; the same fit is
    replaced, and said. A second review: what the fit does not read is no difference (the seed of a logreg of a
    fixed C on every row, cv_folds with a fixed C, --train-size of the split's size, said 'none'), and a head of
    another cache of the data set (photos added, extracted again) is the same job, replaced as before, and said."""
    from featcache.heads.io import read_head_meta
    from featcache.store import open_cache

    a = str(tiny_cache(tmp_path / "a.h5"))
    a2 = str(tiny_cache(tmp_path / "a2.h5", n_train=44, fingerprint="a" * 64))  # the same data set, another cache
    head = tmp_path / "h.npz"
    argv = ["train", a, "--head", "logreg", "--out", str(head)]
    assert main(argv) == 0
    kept = head.read_bytes()
    capsys.readouterr()
    for more, said in [(["--C", "0.001"], "(C 0.03 there, 0.001 here)"),
                       (["--train-size", "20"], "(train size all there, 20 here)"),
                       (["--param", "max_iter=50"], "(max_iter 2000 there, 50 here)"),
                       (["--C", "cv", "--param", "cv_folds=3"], "(C 0.03 there, cv here; cv_folds 5 there, 3 here)")]:
        one_line_error(capsys, argv + more, f"--out {head} holds a logreg head of another fit {said}",
                       "choose another --out, or pass --force to replace it")
    assert head.read_bytes() == kept
    # what this fit does not read (a fixed C: no folds, no seed; every row: no subset drawn) is the same fit
    for more in (["--param", "n_jobs=1"], ["--seed", "3"], ["--param", "cv_folds=3"], ["--train-size", "40"]):
        assert main(argv + more) == 0, more
        assert capsys.readouterr().out.strip().endswith(f"; replaced the head there -> {head}")
    assert read_head_meta(head)["train_size"] is None  # every training image: recorded as no --train-size
    # a seed that draws another subset is another fit; a subset drawn with the same seed is the same
    sub = tmp_path / "sub.npz"
    assert main(["train", a, "--head", "logreg", "--train-size", "20", "--out", str(sub)]) == 0
    one_line_error(capsys, ["train", a, "--head", "logreg", "--train-size", "20", "--seed", "3", "--out", str(sub)],
                   f"--out {sub} holds a logreg head of another fit (seed 0 there, 3 here)")
    assert main(["train", a, "--head", "logreg", "--train-size", "20", "--out", str(sub)]) == 0
    # another cache of the same data set: the same job, its rows may differ, and the line says so (a review); what
    # the fit was asked for may not (a second review: --C 0.001 there replaced the --C 0.03 head without --force)
    one_line_error(capsys, ["train", a2, "--head", "logreg", "--C", "0.001", "--out", str(head)],
                   f"--out {head} holds a logreg head of another fit (C 0.03 there, 0.001 here)")
    assert main(["train", a2, "--head", "logreg", "--out", str(head)]) == 0
    assert capsys.readouterr().out.strip().endswith(f"; replaced the head trained on another cache there -> {head}")
    # and across caches the size and seed asked for, and the network, are compared too (a tester: replaced)
    sized = tmp_path / "sized.npz"
    assert main(["train", a, "--head", "logreg", "--train-size", "20", "--out", str(sized)]) == 0
    one_line_error(capsys, ["train", a2, "--head", "logreg", "--train-size", "10", "--out", str(sized)],
                   f"--out {sized} holds a logreg head of another fit (train size 20 there, 10 here)")
    one_line_error(capsys, ["train", a2, "--head", "logreg", "--train-size", "20", "--seed", "2", "--out", str(sized)],
                   f"--out {sized} holds a logreg head of another fit (seed 0 there, 2 here)")
    imagenet = str(tiny_cache(tmp_path / "i.h5", fingerprint="b" * 64, weights="imagenet:" + "c" * 64))
    one_line_error(capsys, ["train", imagenet, "--head", "logreg", "--train-size", "20", "--out", str(sized)],
                   f"--out {sized} holds a logreg head of another fit (weights random there, imagenet:ccc")
    assert read_head_meta(head)["cache_fingerprint"] == open_cache(a2).fingerprint
    assert main(argv + ["--C", "0.001", "--force"]) == 0 and read_head_meta(head)["params"]["C"] == 0.001
    assert main(argv + ["--C", "0.001"]) == 0  # the same fit as the forced one
    capsys.readouterr()
    # a parameter an older head did not record is its class's default, not 'None there' (a review)
    import io

    from helpers import reseal_head

    from featcache.heads.io import _npy_bytes

    def drop_max_iter(name, data):  # an older head's record, without the parameter
        if name != "featcache.npy":
            return data
        doc = json.loads(np.load(io.BytesIO(data), allow_pickle=False).tobytes())
        doc["meta"]["params"].pop("max_iter")
        return _npy_bytes(np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8))

    older = reseal_head(_rewrite_zip(head, tmp_path / "older.npz", drop_max_iter))
    assert "max_iter" not in read_head_meta(older)["params"]
    assert main(argv[:-1] + [str(older), "--C", "0.001"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"; replaced the head there -> {older}")


def test_train_refuses_another_fit_put_at_its_out_while_it_fits_under_the_lock(tmp_path, capsys, monkeypatch):
    """A review: the fit's rule was checked outside the output lock, and write_head's check under it only asked for
    the same data set and kind, so another train's head of another fit that landed at --out after train's own checks
    was replaced without --force. The rule is in the job check made under the lock: the run refuses, the other head
    stays."""
    import featcache.heads.io as io

    a = str(tiny_cache(tmp_path / "a.h5"))
    head, other = tmp_path / "h.npz", tmp_path / "other.npz"
    assert main(["train", a, "--head", "logreg", "--C", "0.001", "--out", str(other)]) == 0
    theirs = other.read_bytes()
    capsys.readouterr()
    write = io._write_npz

    def meanwhile(*args, **kwargs):  # this head is being written: the other train's lands at --out
        head.write_bytes(theirs)
        return write(*args, **kwargs)

    monkeypatch.setattr(io, "_write_npz", meanwhile)
    one_line_error(capsys, ["train", a, "--head", "logreg", "--out", str(head)],
                   f"--out {head} holds a logreg head of another fit (C 0.001 there, 0.03 here); choose another --out, "
                   "or pass --force to replace it")
    assert head.read_bytes() == theirs
    head.unlink()  # the same fit landing there meanwhile is replaced, as a rerun's
    assert main(["train", a, "--head", "logreg", "--C", "0.001", "--out", str(head)]) == 0
    assert io.read_head_meta(head)["params"]["C"] == 0.001


def test_a_default_head_file_of_another_fit_is_named_as_the_default_not_as_an_out(tmp_path, capsys):
    """A review: a refusal of train's default head file said '--out PATH ...; choose another --out', an --out the
    user never gave. It says the default head file, and how to name another."""
    from featcache.analysis.train import train

    a = str(tiny_cache(tmp_path / "a.h5"))
    default = train(a, "logreg").path
    other = train(a, "logreg", C=0.001, out=tmp_path / "other.npz").path
    default.write_bytes(other.read_bytes())
    one_line_error(capsys, ["train", a, "--head", "logreg"],
                   f"the default head file {default} holds a logreg head of another fit (C 0.001 there, 0.03 here); "
                   "name the head with --out NAME.npz, or pass --force to replace it")
    assert default.read_bytes() == other.read_bytes()


def test_train_and_export_replace_only_a_rerun_of_their_own_job(tmp_path, capsys):
    """A new-user tester: 'export FASHION_HEAD --out ab.keras' replaced an ants/bees model, and 'train fashion.h5
    --head svm --out victim.npz' another data set's logreg head, without a word. A featcache head or model at --out
    is replaced by a rerun of its job (the same data set and kind of head; no export over a fine-tuned model), which
    says so; another job's is one line naming it (--force replaces it)."""
    from helpers import meta_only_model

    a = str(tiny_cache(tmp_path / "a.h5"))
    b = str(tiny_cache(tmp_path / "b.h5", fingerprint="b" * 64, dataset="other"))
    a2 = str(tiny_cache(tmp_path / "a2.h5", n_train=44, fingerprint="a" * 64))  # the same data set, another cache
    head = tmp_path / "h.npz"
    assert main(["train", a, "--head", "logreg", "--out", str(head)]) == 0
    kept = head.read_bytes()
    capsys.readouterr()
    one_line_error(capsys, ["train", b, "--head", "logreg", "--out", str(head)],
                   f"--out {head} holds a logreg head of another data set (tiny: ants, bees)",
                   "choose another --out, or pass --force to replace it")
    one_line_error(capsys, ["train", a, "--head", "svm", "--out", str(head)], f"--out {head} holds a logreg head, not an SVM head")
    model = tmp_path / "model.keras"  # a model featcache wrote, given as a head's --out: named as one (a new user)
    from helpers import meta_only_model as _model

    _model(model, dataset="tiny", head="logreg")
    one_line_error(capsys, ["train", a, "--head", "keras", "--out", str(model)],
                   f"--out {model} is a model 'featcache export' or 'featcache finetune' wrote, not a head")
    assert head.read_bytes() == kept
    assert main(["train", a, "--head", "logreg", "--out", str(head)]) == 0  # a rerun: replaced, and said
    assert capsys.readouterr().out.strip().endswith(f"; replaced the head there -> {head}")
    assert main(["train", a, "--head", "logreg", "--out", str(head), "--json"]) == 0  # in --json too (a new user)
    assert json.loads(capsys.readouterr().out)["replaced"] is True
    # a rerun on another cache of the same data set (more images, other limits: the lesson's reruns) is the same job
    assert main(["train", a2, "--head", "logreg", "--out", str(head)]) == 0
    capsys.readouterr()
    assert main(["train", b, "--head", "svm", "--out", str(head), "--force"]) == 0
    from featcache.heads.io import read_head_meta

    assert read_head_meta(head)["head"] == "svm"
    import featcache
    from featcache.errors import FeatcacheError

    with pytest.raises(FeatcacheError, match=r"holds an SVM head of another data set \(other: ants, bees\)"):  # the API too
        featcache.train(a, "logreg", out=head, verbose=False)
    # two projects' photo folders of one name and classes are two data sets (an adversarial tester: 'ph' replaced 'ph')
    p1, p2 = ({"kind": "images", "root": str(tmp_path / d / "photos")} for d in ("one", "two"))
    for d in ("one", "two"):
        (tmp_path / d / "photos").mkdir(parents=True)
    ph1 = str(tiny_cache(tmp_path / "ph1.h5", fingerprint="1" * 64, dataset="photos", source=p1))
    ph2 = str(tiny_cache(tmp_path / "ph2.h5", fingerprint="2" * 64, dataset="photos", source=p2))
    assert main(["train", ph1, "--head", "logreg", "--out", str(tmp_path / "ph.npz")]) == 0
    one_line_error(capsys, ["train", ph2, "--head", "logreg", "--out", str(tmp_path / "ph.npz")],
                   f"holds a logreg head of another photo folder ({tmp_path / 'one' / 'photos'})")
    # the project moved or renamed (its recorded folder gone): the same job (a review: it was refused)
    (tmp_path / "one" / "photos").rename(tmp_path / "one" / "renamed")
    assert main(["train", ph2, "--head", "logreg", "--out", str(tmp_path / "ph.npz")]) == 0
    # a fine-tuned model (minutes of training) is not replaced by an export of its head, before TensorFlow loads
    assert main(["train", a, "--head", "logreg", "--out", str(tmp_path / "l.npz")]) == 0
    tuned = meta_only_model(tmp_path / "tuned.keras", dataset="tiny", head="logreg", finetune={"epochs": 2})
    kept = tuned.read_bytes()
    one_line_error(capsys, ["export", str(tmp_path / "l.npz"), "--out", str(tuned)],
                   f"--out {tuned} holds a fine-tuned model (minutes of training), which this export without fine-tuning "
                   "would replace; choose another --out, or pass --force")
    other = meta_only_model(tmp_path / "other.keras", dataset="ab", head="logreg", finetune=None)
    one_line_error(capsys, ["export", str(tmp_path / "l.npz"), "--out", str(other)],
                   f"--out {other} holds a model of another data set (ab: ants, bees)")
    assert tuned.read_bytes() == kept


def test_a_whole_zip_with_a_long_first_name_is_not_called_cut_short(tmp_path):
    """A review: damaged_zip's branch for a file cut inside its first header compared the 512 bytes it reads with
    the first name's length, so a whole .npz with a 500-character key was 'cut short' in verify and info."""
    from featcache.heads.io import damaged_zip

    np.savez(tmp_path / "long.npz", **{"k" * 500: np.zeros(3)})
    assert damaged_zip(tmp_path / "long.npz") is None
    (tmp_path / "cut.npz").write_bytes((tmp_path / "long.npz").read_bytes()[:300])
    assert damaged_zip(tmp_path / "cut.npz")[0].startswith("cut short: 300 bytes")


def test_typed_errors_and_leftovers_survive_pickle_and_copy():
    """A review: NotHDF5 and LeftOut took a second constructor argument that pickle's and copy's default reduce
    does not pass (a TypeError in a process pool or a deepcopy of Predictions)."""
    import copy
    import pickle

    from featcache.deploy.predict import UNREADABLE, LeftOut, left_out_line
    from featcache.errors import NotHDF5

    err = pickle.loads(pickle.dumps(NotHDF5("/x.h5", "file signature not found")))
    assert (str(err), err.path, err.hint) == ("/x.h5 is not a readable HDF5 file (file signature not found); pass a cache "
                                              "written by featcache.extract(...)", "/x.h5", NotHDF5.default_hint())
    left = LeftOut("/photos/locked", UNREADABLE)
    for again in (pickle.loads(pickle.dumps(left)), copy.deepcopy(left)):
        assert (again, again.why) == (left, UNREADABLE)
    # plain strings, as the API listed them before, still make the line
    assert "1 subfolder that could not be read (/photos/locked/" in left_out_line([str(left)])


def test_a_deleted_current_folder_is_one_line_even_with_an_absolute_out(tmp_path, fashion_dir):
    """In a current folder that was deleted, extract --out /abs/c.h5, predict and train with its default --out ended
    in a FileNotFoundError traceback: the default home (./data, and the converted networks under it) is relative to
    it (an adversarial tester). One line naming both ways out; an absolute FEATCACHE_HOME works there."""
    env = {k: v for k, v in os.environ.items() if k not in ("FEATCACHE_HOME", "FEATCACHE_RUNTIME_DIR")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    args = ["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32"]
    # The four commands run in one process, each from a current folder of its own deleted before it starts: one
    # interpreter and one TensorFlow import, not four, and the network built once (in the second command, from its
    # deleted folder) where each process built it (about 10 s each, 35 s under load). Each command's exit status and
    # stderr are its own: a line of ours goes to stderr before each, its status to a file.
    # 1. the default --out is under the default home: one line
    # 2.-4. with every path absolute it runs there, on the default runtime too: converted models are kept in the
    # user's cache folder, not under the home (that was refused too; a new-user tester), and TensorFlow converts
    # nothing (it was refused; a second tester); 4. with an absolute FEATCACHE_HOME
    steps = [(None, args), (None, [*args, "--out", str(tmp_path / "c2.h5")]),
             (None, [*args, "--out", str(tmp_path / "c3.h5"), "--runtime", "tensorflow"]),
             (str(tmp_path / "home"), [*args, "--out", str(tmp_path / "c4.h5")])]
    script = """
import json, os, sys
from featcache.cli import main
for i, (home, argv) in enumerate(json.loads(sys.argv[2])):
    gone = os.path.join(sys.argv[1], f"gone{i}")
    os.mkdir(gone)
    os.chdir(gone)
    os.rmdir(gone)
    if home is not None:
        os.environ["FEATCACHE_HOME"] = home
    print(f"=== step {i}", file=sys.stderr, flush=True)
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    with open(sys.argv[3], "a") as codes:
        codes.write(f"{code}\\n")
"""
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path), json.dumps(steps), str(tmp_path / "codes")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    codes = (tmp_path / "codes").read_text().split()
    errs = proc.stderr.split("=== step ")[1:]
    assert len(codes) == len(errs) == 4, (proc.stdout, proc.stderr)
    err = errs[0].split("\n", 1)[1]
    assert codes[0] == "2" and "Traceback" not in err, err
    assert err.strip().splitlines() == [
        "featcache extract: error: the current folder no longer exists, and featcache's default folder data/ is relative "
        "to it; cd to a folder that exists, or set FEATCACHE_HOME to an absolute path"], err
    for step in (1, 2, 3):
        assert codes[step] == "0" and (tmp_path / f"c{step + 1}.h5").is_file(), errs[step]


def test_api_arguments_of_the_wrong_type_are_one_line(tmp_path, fake_model):
    """Python's own errors from deep inside for arguments of the wrong type at the API (an adversarial tester):
    export(weights=5) and save_head(h, None, meta) pathlib's TypeError, export(views=5) "'int' object is not
    iterable", predict(csv=5) pathlib's, an unfitted DenseHead's predict an AttributeError."""
    import featcache
    from featcache.errors import FeatcacheError
    from featcache.heads import DenseHead
    from featcache.heads.io import head_meta

    cache = tiny_cache(tmp_path / "c.h5")
    res = featcache.train(str(cache), "logreg", out=tmp_path / "h.npz")
    out = tmp_path / "exported.keras"
    for kwargs, message in (({"weights": 5}, "weights must be imagenet, random or a weights file (got 5)"),
                            ({"views": 5}, "views must be orig, all, view names such as orig,flip or only:VIEWS (got 5)")):
        with pytest.raises(FeatcacheError, match=re.escape(message)):
            featcache.export(res.path, out, **kwargs)
    # out=123 was pathlib's TypeError from store.atomic.written_through, export's and finetune's alike (h315's brief);
    # head=123 names head=, the caller's keyword
    for call in (lambda **k: featcache.export(**k), lambda **k: featcache.finetune(**k)):
        for kwargs, message in (({"head": res.path, "out": 123}, "out must be a path (got 123); pass the .keras model file "
                                                                 "to write"),
                                ({"head": 123, "out": out}, "head must be a path (got 123)")):
            with pytest.raises(FeatcacheError, match="^" + re.escape(message)):
                call(**kwargs)
    assert not out.exists()
    with pytest.raises(FeatcacheError, match=r"^path must be a path \(got None\)"):
        featcache.save_head(res.estimator, None, head_meta(featcache.open_cache(cache), None, "logreg", res.estimator))
    image = write_image(tmp_path / "a.png", np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(FeatcacheError, match=r"^csv must be a path \(got 5\)"):
        featcache.predict(fake_model, [image], csv=5)
    with pytest.raises(FeatcacheError, match=r"^head must be a path \(got None\)"):
        featcache.finetune(None)  # pathlib's TypeError (a review)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        DenseHead().predict(np.zeros((2, 4), np.float32))
    assert not out.exists()


def test_a_users_file_survives_export_with_force_given_as_a_string(tmp_path):
    """export(force="no") replaced a user's file with a model (a truthy string; an adversarial tester)."""
    import featcache
    from featcache.errors import FeatcacheError

    # a head of the final layer of an untrained 32 px MobileNetV2: the old code exported it over the user's file
    res = featcache.train(str(tiny_cache(tmp_path / "c.h5", d=1280, layer="out_relu")), "logreg", out=tmp_path / "h.npz")
    mine = tmp_path / "notes.keras"
    mine.write_text("my notes")
    for force in ("no", "false", 1):
        with pytest.raises(FeatcacheError, match=r"^force must be True or False"):
            featcache.export(res.path, mine, force=force)
    assert mine.read_text() == "my notes"


def test_info_through_the_api_names_a_damaged_head_in_one_line_without_a_chained_error(tmp_path, monkeypatch):
    """A damaged head's line was raised inside the handler of "not HDF5": a chained "During handling" traceback
    through the API (a review); the path is shown as the user wrote it."""
    import featcache
    from featcache.errors import FeatcacheError

    res = featcache.train(str(tiny_cache(tmp_path / "c.h5")), "logreg", out=tmp_path / "h.npz")
    data = bytearray(res.path.read_bytes())
    res.path.write_bytes(bytes(data[: len(data) // 2]))  # cut short
    with pytest.raises(FeatcacheError, match="is damaged") as exc:
        featcache.info(res.path)
    assert exc.value.__context__ is None and exc.value.__cause__ is None
    fresh = featcache.train(str(tmp_path / "c.h5"), "logreg", out=tmp_path / "h2.npz", force=True)
    monkeypatch.chdir(tmp_path)
    assert featcache.info("./h2.npz")["path"] == "./h2.npz" and fresh.path.is_file()


def test_a_model_is_never_written_over_its_own_head_even_with_force(tmp_path):
    """export H --out H --force replaced the user's head with its model (an adversarial tester); finetune too."""
    import featcache
    from featcache.errors import FeatcacheError

    head = featcache.train(str(tiny_cache(tmp_path / "c.h5")), "keras", epochs=1, out=tmp_path / "k.keras").path
    kept = head.read_bytes()
    for call in (lambda: featcache.export(head, head, force=True), lambda: featcache.finetune(head, out=head, force=True)):
        with pytest.raises(FeatcacheError, match=re.escape(f"out='{head}' is the head ")):  # the API's keyword
            call()
    assert main(["export", str(head), "--out", str(head), "--force"]) == 2
    assert head.read_bytes() == kept


def test_every_result_goes_where_its_file_went(tmp_path):
    """An ExportResult went wherever a model's path went, a TrainResult or FinetuneResult did not (load_head,
    export, info, verify, predict refused them), and evaluate refused an os.PathLike head (a second adversarial
    tester): each result is os.PathLike, and evaluate takes any os.PathLike head."""
    import os

    import featcache
    from featcache.deploy.finetune import FinetuneResult

    res = featcache.train(str(tiny_cache(tmp_path / "c.h5")), "logreg", out=tmp_path / "h.npz")
    assert os.fspath(res) == str(res.path) and featcache.load_head(res)[1]["head"] == "logreg"
    assert featcache.info(res)["kind"] == "head" and featcache.verify(res).to_dict()["kind"] == "head"

    class Named:  # an os.PathLike that is no Path
        def __fspath__(self) -> str:
            return str(res.path)

    by_file = featcache.evaluate(Named(), str(tmp_path / "c.h5"), out=tmp_path / "ev1")
    by_result = featcache.evaluate(res, str(tmp_path / "c.h5"), out=tmp_path / "ev2")  # its fitted head, as before
    assert by_file.accuracy == by_result.accuracy == res.accuracy
    assert os.fspath(FinetuneResult(tmp_path / "m.keras", {}, [], 0.5)) == str(tmp_path / "m.keras")


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_verify_and_info_name_a_zip_featcache_did_not_write(compression, tmp_path, capsys):
    """A Keras model of another program (a zip) was "not a readable HDF5 file (file signature not found)", and
    info's hint named caches alone where verify's names all three kinds (a second adversarial tester). A deflated
    one, intact, is no damaged file either (a review: "is damaged (its entry config.json is compressed ...)" once
    heads.io's compressed-entry rule reached every zip)."""
    other = tmp_path / "plain.keras"
    with zipfile.ZipFile(other, "w", compression) as zf:
        zf.writestr("config.json", "{}")
    text = tmp_path / "notes.txt"
    text.write_text("my notes")
    kinds = "pass a cache ('featcache extract'), a head ('featcache train')"
    for command in ("verify", "info"):
        one_line_error(capsys, [command, str(other)], f"{other} is a zip file (a Keras model of another program?) that "
                       "featcache did not write as a head or model", kinds)
        # a file that never was HDF5: said so, not h5py's "file signature not found" (a new-user tester)
        one_line_error(capsys, [command, str(text)], f"{text} is none of the files featcache describes", kinds)


@pytest.mark.parametrize("recorded", ["word", "file"])
def test_export_refuses_imagenet_weights_it_cannot_have_before_building_the_network(recorded, tmp_path, capsys,
                                                                                    monkeypatch, offline_keras):
    """Offline, with no copy of the ImageNet weights in Keras's cache, export of a head of an older cache (which
    records the word imagenet) took the word as it was and failed only as the network was built. Refused, in one
    line, before the network is built (backbones.imagenet_weights_file); a head recording the file's sha256 was
    already. Keras is imported for it: its get_file is the fetch, which featcache does not duplicate. The network
    is offline_keras's refusing proxy: nothing leaves this machine."""
    from featcache.deploy import export as export_mod
    from featcache.embedding.backbones import get_backbone
    from featcache.heads.io import load_head, save_head

    def built(*args, **kwargs):
        raise AssertionError("the network was built before its weights were had")

    monkeypatch.setattr(export_mod, "end_to_end_model", built)
    head = tmp_path / "imagenet.npz"
    assert main(["train", str(tiny_cache(tmp_path / "i.h5", layer="out_relu", weights="imagenet")), "--head", "logreg",
                 "--out", str(head)]) == 0
    if recorded == "file":  # as a head of a cache of today's featcache records it (the file's content)
        est, meta = load_head(head)
        head = save_head(est, tmp_path / "file.npz", {**meta, "weights": "sha256:" + "ab" * 32, "weights_source": "imagenet"})
    capsys.readouterr()
    assert main(["export", str(head), "--out", str(tmp_path / "m.keras")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("featcache export: error: could not obtain ImageNet weights for mobilenet_v2 (") and \
        len(err.splitlines()) == 1, err
    assert get_backbone("mobilenet_v2").imagenet.file_name(32) in err and "Connection refused" in err, err
    assert err.endswith("this machine may be offline: pass a local weights file with --weights PATH, or put Keras's "
                        f"file at {offline_keras / get_backbone('mobilenet_v2').imagenet.file_name(32)}"), err
    assert not (tmp_path / "m.keras").exists()


def _info_line(capsys, path, *needles) -> str:
    """'featcache info PATH' of a file of ours that is no cache, head or model: exit 0 and plain lines on stdout, no
    error (it said "featcache info: error: ... is a file of the report ..." and exit 2 of a valid one; a new-user
    tester), --json the same words under "about"."""
    import json

    assert main(["info", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "error" not in out, (out, err)
    for needle in needles:
        assert needle in out, out
    assert main(["info", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["about"] == out.rstrip("\n")
    return out


def test_info_of_a_valid_evaluation_json_summarizes_it_and_of_an_edited_one_is_an_error(tmp_path, capsys):
    """info of a valid evaluation.json (or a file of its report) said "error: ... is a report's record" and exit 2 (a
    new-user tester): a file of ours as it should be is described, exit 0, evaluation.json with its head, cache and
    accuracy. A record edited since featcache wrote it (its own digest no longer matching) vouches for nothing: one
    line, exit 2, for it and for the files it lists."""
    import json

    import featcache

    cache = str(tiny_cache(tmp_path / "c.h5"))
    head = tmp_path / "h.npz"
    assert main(["train", cache, "--head", "logreg", "--out", str(head)]) == 0
    capsys.readouterr()
    out = tmp_path / "ev"
    assert main(["evaluate", str(head), cache, "--out", str(out), "--json"]) == 0
    accuracy = json.loads(capsys.readouterr().out)["accuracy"]
    record = out / "evaluation.json"
    line = _info_line(capsys, record, f"{record} is a report's record",
                      f"an evaluation of the head {head} on the test split of {cache}", f"accuracy {accuracy:.4f}")
    described = featcache.info(record)
    assert (described["head"], described["cache"], described["accuracy"]) == (str(head), cache, accuracy), line
    doc = json.loads(record.read_text())
    record.write_text(json.dumps({**doc, "accuracy": 1.0}))
    for given in (record, out / "confusion.png"):
        one_line_error(capsys, ["info", str(given)], f"{record} was changed since featcache wrote it (its own digest "
                       "does not match)")


def test_verify_and_info_of_a_reports_file_name_its_record(tmp_path, capsys):
    """verify of a confusion.png, evaluation.txt or a curve.csv was "none of the files featcache describes ... pass a
    cache, a head or a model", though the record beside it vouches for it and verify checks it through that record;
    info named no record either (a new-user tester). verify checks it through the record that lists it; info names
    that record; the line for any other file lists what verify takes, reports included."""
    import featcache

    cache = str(tiny_cache(tmp_path / "c.h5"))
    head = tmp_path / "h.npz"
    assert main(["train", cache, "--head", "logreg", "--out", str(head)]) == 0
    out = tmp_path / "ev"
    assert main(["evaluate", str(head), cache, "--out", str(out)]) == 0
    capsys.readouterr()
    record = out / "evaluation.json"
    for name in ("confusion.png", "evaluation.txt"):
        assert main(["verify", str(out / name)]) == 0
        assert capsys.readouterr().out.startswith(f"ok: {out / name} is intact, checked through its report's record "
                                                  f"{record}: its digest and 2 files it vouches for match")
        assert featcache.verify(out / name).to_dict()["given"] == str(out / name)
        _info_line(capsys, out / name, f"{out / name} is a file of the report {record} records",
                   f"'featcache verify {record}' checks it")
        assert featcache.info(out / name)["matches_record"] is True and featcache.info(out / name)["problem"] is None
    text = (out / "evaluation.txt").read_text()
    (out / "evaluation.txt").write_text(text + "mine\n")
    one_line_error(capsys, ["verify", str(out / "confusion.png")], f"{out / 'evaluation.txt'} was changed since "
                   "featcache wrote it (its SHA-256 is not the one evaluation.json records)")
    # info said only that each is the report's (helper-349): it says what verify refuses, exit 0 (it describes)
    for given in (out / "evaluation.txt", out / "confusion.png", record):
        _info_line(capsys, given, f"verify refuses it now: {out / 'evaluation.txt'} was changed "
                   "since featcache wrote it (its SHA-256 is not the one evaluation.json records)")
        assert featcache.info(given)["matches_record"] is False
    notes = out / "notes.txt"  # beside a record but not listed by it: none of featcache's
    notes.write_text("mine")
    one_line_error(capsys, ["verify", str(notes)], f"{notes} is none of the files featcache describes",
                   "a report's record (curve.json, probe.json, evaluation.json, lesson.json) or a predictions CSV")


def test_infos_suggested_verify_names_a_path_with_a_space_as_one_word(tmp_path, fake_model, capsys):
    """Regression (h304's review): info's line of a predictions CSV (and of a report's files) suggests the verify that
    checks it; its path was pasted as it is, so 'featcache verify /tmp/my dir/p.csv' was two arguments, where every
    other suggested path is one shell word (782d464). The API's words are unchanged: featcache.verify('...')."""
    import featcache
    from featcache.errors import shell_word

    folder = tmp_path / "photos"
    write_image(folder / "a.png", class_image(0, 0, 16))
    out = tmp_path / "my dir" / "p.csv"
    out.parent.mkdir()
    assert main(["predict", str(fake_model), str(folder), "--csv", str(out)]) == 0
    capsys.readouterr()
    _info_line(capsys, out, f"'featcache verify {shell_word(str(out))}' checks it against that record")
    assert f"featcache.verify({str(out)!r}) checks it" in featcache.info(out)["about"]


def test_verify_checks_a_predictions_csv_against_its_record(tmp_path, fake_model, capsys):
    """verify of predict's CSV (or of its hidden record .NAME.featcache) was "none of the files featcache describes"
    (a new-user tester): the CSV's SHA-256 is recorded beside it, so verify compares them; info points there. One
    without that record is said so by both, with the fix (info said "none of the files featcache describes")."""
    import featcache

    folder = tmp_path / "photos"
    write_image(folder / "a.png", class_image(0, 0, 16))
    out = tmp_path / "p.csv"
    assert main(["predict", str(fake_model), str(folder), "--csv", str(out)]) == 0
    capsys.readouterr()
    record = tmp_path / ".p.csv.featcache"
    for given in (out, record):
        assert main(["verify", str(given)]) == 0
        assert capsys.readouterr().out.startswith(f"ok: {out} is intact (a predictions CSV): its SHA-256 is the one "
                                                  "its record .p.csv.featcache holds")
        line = _info_line(capsys, given, f"'featcache verify {out}' checks it against that record")
        assert ": 1 prediction, last modified " in line, line  # what it holds: one row, and when
        assert featcache.info(given)["rows"] == 1 and featcache.info(given)["matches_record"] is True
    assert featcache.verify(out).to_dict()["record"] == str(record)
    out.write_text(out.read_text() + "# checked by hand\n")
    one_line_error(capsys, ["verify", str(out)], f"{out} was changed since featcache wrote it (its SHA-256 is not the one "
                   ".p.csv.featcache records beside it)", "--force")
    for given in (out, record):  # info called the edited CSV a predictions CSV to check, not one that fails (a tester)
        _info_line(capsys, given, "changed since featcache wrote it (its SHA-256 is not the one .p.csv.featcache "
                          f"records beside it; 'featcache verify {out}' says so)")
        assert featcache.info(given)["matches_record"] is False
    copy = tmp_path / "copy.csv"
    copy.write_text(out.read_text().replace("# checked by hand\n", ""))
    for command in ("verify", "info"):  # info said "none of the files featcache describes" of it (a code read)
        one_line_error(capsys, [command, str(copy)], f"{copy} is a predictions CSV with no record of featcache's "
                       "beside it (.copy.csv.featcache", "run predict --csv again to have it checked")
    out.unlink()
    one_line_error(capsys, ["verify", str(record)], f"{out}, the predictions CSV its record {record} vouches for, is gone")
    # given the record, info opened what stood at the CSV's name: a folder was a traceback, a FIFO or a link to
    # /dev/zero waited for good; verify called a folder or a FIFO "gone" (helper-349)
    import signal

    before = signal.signal(signal.SIGALRM, lambda *a: pytest.fail("info or verify waited on what stands at the CSV's name"))
    signal.alarm(60)
    try:
        for make, said in ((lambda: None, "is gone"), (out.mkdir, "is a folder now"),
                           (lambda: os.mkfifo(out), "is no longer a regular file (a FIFO, socket or device now)"),
                           (lambda: os.symlink("/dev/zero", out), "is no longer a regular file (a FIFO")):
            make()
            for command in ("info", "verify"):
                one_line_error(capsys, [command, str(record)],
                               f"{out}, the predictions CSV its record {record} vouches for, {said}")
            if out.is_dir() and not out.is_symlink():
                out.rmdir()
            elif os.path.lexists(out):
                out.unlink()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)


def _damage_csv_record(record: Path, sha256: object) -> None:
    """``record`` (a predictions CSV's) with its ``sha256`` field set to ``sha256``, the rest as featcache wrote it."""
    doc = json.loads(record.read_text())
    record.write_text(json.dumps({**doc, "sha256": sha256}))


# A record's sha256 as no featcache writes it: (the CSV's real SHA-256) -> what the record holds instead. "a string"
# and the entries around the real digest were "ok" of the record on the old code, the CSV unchecked.
DAMAGED_SHA256 = {"a string": lambda real: real, "not a list": lambda real: {"p.csv": real},
                  "empty": lambda real: [], "three entries": lambda real: [real] * 3,
                  "not hex": lambda real: [real, "not-hex"], "upper case": lambda real: [real.upper()],
                  "not a string": lambda real: [real, 7]}


@pytest.mark.parametrize("damage", list(DAMAGED_SHA256))
def test_verify_never_says_ok_of_a_predictions_csv_whose_record_is_damaged(tmp_path, fake_model, capsys, damage):
    """A predictions CSV's hidden record with its sha256 edited to a string (a helper's find) made `verify
    .p.csv.featcache` say "ok: p.csv is intact", exit 0, the CSV never checked (`verify p.csv`: "no record"); a list
    of three, or with one entry no SHA-256, said ok too. A record whose sha256 is not the one or two SHA-256s featcache
    writes vouches for nothing: verify and info of the CSV or its record name it damaged, exit 2, the API raises; the
    fix the line names, predict --csv again, keeps the CSV aside and writes both anew."""
    import featcache
    from featcache.errors import FeatcacheError
    from featcache.validate import file_sha256

    folder = tmp_path / "photos"
    write_image(folder / "a.png", class_image(0, 0, 16))
    out, record = tmp_path / "p.csv", tmp_path / ".p.csv.featcache"
    assert main(["predict", str(fake_model), str(folder), "--csv", str(out)]) == 0
    _damage_csv_record(record, DAMAGED_SHA256[damage](file_sha256(out)))
    capsys.readouterr()
    line = f"{record}, featcache's record of the predictions CSV {out}, is damaged or was edited"
    for given in (record, out):
        for command in ("verify", "info"):
            one_line_error(capsys, [command, str(given)], line, f"so {out} cannot be verified",
                           "run predict --csv again")
        with pytest.raises(FeatcacheError, match="is damaged or was edited"):
            featcache.verify(given)
    text = out.read_text()
    assert main(["predict", str(fake_model), str(folder), "--csv", str(out)]) == 0
    (kept,) = tmp_path.glob("p.before-*.csv")  # as one with no record: kept aside, not replaced
    assert kept.read_text() == text
    assert main(["verify", str(out), str(record)]) == 0
    assert capsys.readouterr().out.count(f"ok: {out} is intact (a predictions CSV)") == 2


def test_verify_of_a_record_beside_a_link_checks_the_csv_against_its_targets_record(tmp_path, fake_model, capsys):
    """A predictions CSV's record is beside the file a link leads to, as predict writes it: `verify .l.csv.featcache`
    of a record beside the link l.csv, whose target had none, said "ok: l.csv is intact", the CSV never checked (a
    helper's find), and `verify l.csv` named .l.csv.featcache as missing though it is there. Both name the link's
    target and the record it lacks; with the target's record damaged, that record; a rerun through the link writes
    it, and then both are checked against it."""
    far = tmp_path / "far"
    write_image(tmp_path / "photos" / "a.png", class_image(0, 0, 16))
    assert main(["predict", str(fake_model), str(tmp_path / "photos"), "--csv", str(far / "t.csv")]) == 0
    target, its_record = Path(os.path.realpath(far / "t.csv")), Path(os.path.realpath(far / ".t.csv.featcache"))
    link, stray = tmp_path / "l.csv", tmp_path / ".l.csv.featcache"
    link.symlink_to(far / "t.csv")
    # a record of the CSV's bytes beside the link, as predict never writes it
    stray.write_text(its_record.read_text().replace('"t.csv"', '"l.csv"'))
    its_record.unlink()
    capsys.readouterr()
    for given in (stray, link):
        for command in ("verify", "info"):
            one_line_error(capsys, [command, str(given)], f"{link} is a link to {target}, a predictions CSV with no "
                           "record of featcache's beside it (.t.csv.featcache:", "run predict --csv again")
    its_record.write_text(stray.read_text().replace('"l.csv"', '"t.csv"'))
    _damage_csv_record(its_record, "not-a-list")
    for given in (stray, link):
        for command in ("verify", "info"):
            one_line_error(capsys, [command, str(given)], f"{its_record}, featcache's record of the predictions CSV "
                           f"{link}, is damaged or was edited")
    assert main(["predict", str(fake_model), str(tmp_path / "photos"), "--csv", str(link)]) == 0
    capsys.readouterr()
    for given in (stray, link):
        assert main(["verify", "--json", str(given)]) == 0
        assert json.loads(capsys.readouterr().out)["record"] == str(its_record)


@contextlib.contextmanager
def _bounded(seconds: int = 60):
    """A wait on a FIFO fails the test instead of holding the run (SIGALRM, as the tests above bound theirs)."""
    import signal

    before = signal.signal(signal.SIGALRM, lambda *a: pytest.fail("info or verify waited on a FIFO or device"))
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)


def _predicted_csv(tmp_path: Path, fake_model: Path, name: str = "out.csv") -> Path:
    """predict --csv's CSV (with its hidden record) of one photo, in ``tmp_path``."""
    write_image(tmp_path / "photos" / "a.png", class_image(0, 0, 16))
    out = tmp_path / name
    assert main(["predict", str(fake_model), str(tmp_path / "photos"), "--csv", str(out)]) == 0
    return out


def test_info_and_verify_of_the_root_or_current_folder_are_the_folder_line(tmp_path, capsys, monkeypatch):
    """A review: info and verify of '/', '.' and './' were a ValueError traceback ("PosixPath('/') has an empty name")
    once they looked for what stands at a record's name; they are folders, said so, as before."""
    monkeypatch.chdir(tmp_path)
    for command in ("info", "verify"):
        for given in ("/", ".", "./"):
            one_line_error(capsys, [command, given], "is a folder; pass")


def test_a_report_folder_and_an_emptied_record_name_the_record_to_pass_or_the_rerun(tmp_path, capsys, first_reports):
    """An adversarial tester: verify and info of a report's folder said "is a folder; pass a cache ...", where its
    record checks the report; an emptied evaluation.json "is empty (0 bytes); pass a cache", and the files beside it
    "none of the files featcache describes"."""
    report_copy(first_reports, "evaluation.json", tmp_path / "ev")
    record = tmp_path / "ev" / "evaluation.json"
    for command in ("verify", "info"):
        one_line_error(capsys, [command, str(tmp_path / "ev")], f"{tmp_path / 'ev'} is a report's folder; pass its record, "
                       f"{record}, to check the report")
    record.write_bytes(b"")
    for command in ("verify", "info"):
        one_line_error(capsys, [command, str(record)], f"{record} is empty (0 bytes), not a report's record",
                       "move it away, then run the command that wrote the report again")
        one_line_error(capsys, [command, str(tmp_path / "ev" / "confusion.png")], "is vouched for by no record: "
                       f"{record} beside it, where featcache keeps a report's record, is empty (0 bytes)")


def test_a_record_that_cannot_be_read_is_said_so_not_gone_nor_no_record(tmp_path, fake_model, capsys, monkeypatch):
    """A review: a CSV's record that is a link into a folder the user may not enter was "a link to ..., which is
    gone"; one the user may not read, "a file that is not featcache's record". Said: not readable, check its
    permissions (as root, a denied stat is what a folder of mode 700 of another user gives)."""
    out = _predicted_csv(tmp_path, fake_model)
    record = tmp_path / ".out.csv.featcache"
    real = os.stat

    def stat(path, *a, **k):
        if os.fspath(path) == str(record):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *a, **k)

    capsys.readouterr()
    monkeypatch.setattr(os, "stat", stat)
    for command in ("info", "verify"):
        err = one_line_error(capsys, [command, str(out)], f"{record}, where featcache keeps its record, is not readable "
                             "(permission denied)", "check its permissions, then run the same command again")
        assert "gone" not in err and "not featcache's record" not in err, err


def test_info_and_verify_say_what_stands_at_a_predictions_csvs_record_name(tmp_path, fake_model, capsys):
    """A FIFO, a link to /dev/zero, a folder or an empty file at a predictions CSV's record name (.NAME.featcache)
    was said by info and verify of the CSV to be "no record of featcache's beside it (... an older featcache's CSV,
    or one copied without it)", as if nothing were there (an adversarial tester). Each is named, and the fix: moved
    away first where a rerun refuses it (not the empty file, which it replaces). Given that name itself, the same;
    nothing there is opened (bounded: a FIFO read would wait for good)."""
    out = _predicted_csv(tmp_path, fake_model)
    record = tmp_path / ".out.csv.featcache"
    kept = record.read_bytes()
    capsys.readouterr()
    with _bounded():
        for make, said in ((lambda: os.mkfifo(record), "a FIFO"), (lambda: os.symlink("/dev/zero", record),
                           "a link to /dev/zero, a device"), (record.mkdir, "a folder"),
                           (lambda: record.write_bytes(b""), "empty (0 bytes)")):
            record.unlink()
            make()
            fix = ("run predict --csv again to have it checked" if said.startswith("empty") else
                   f"move {record} away, then run predict --csv again to have it checked")
            for command in ("info", "verify"):
                err = one_line_error(capsys, [command, str(out)], f"{out} is a predictions CSV, but {record}, where "
                                     f"featcache keeps its record, is {said}, not a record, so {out} cannot be "
                                     f"verified; {fix}")
                assert "no record of featcache's" not in err, err
                if said in ("a FIFO", "empty (0 bytes)"):
                    one_line_error(capsys, [command, str(record)], f"{record} is {said}, where featcache's record of "
                                   f"the predictions CSV {out} should be", f"run predict --csv again to have {out} "
                                   "checked")
            if record.is_dir() and not record.is_symlink():
                record.rmdir()
            else:
                record.unlink()
            record.write_bytes(kept)
    assert main(["verify", str(out)]) == 0


def test_info_and_verify_say_a_dangling_link_at_a_predictions_csvs_name_leads_to_a_file_gone(tmp_path, fake_model,
                                                                                          capsys):
    """The predictions CSV replaced by a link whose target is gone: info and verify of its record said the CSV "is
    gone", though a link is there; of the link, "a symbolic link to nothing ... point it at a cache". Both say it is
    a link to that target, which is gone, and name the record that vouches for the CSV of that name."""
    out = _predicted_csv(tmp_path, fake_model)
    record = tmp_path / ".out.csv.featcache"
    out.unlink()
    out.symlink_to(tmp_path / "gone.csv")
    capsys.readouterr()
    for given in (out, record):
        for command in ("info", "verify"):
            one_line_error(capsys, [command, str(given)], f"{out}, the predictions CSV its record {record} vouches for, "
                           f"is a link to {tmp_path / 'gone.csv'}, which is gone; run predict --csv again")


def test_info_and_verify_of_a_report_whose_record_or_file_is_a_fifo(tmp_path, capsys, first_reports):
    """A report folder whose evaluation.json is a FIFO: info and verify of it said "not a regular file (a FIFO, socket
    or device); pass a cache ...", and info of its confusion.png "none of the files featcache describes" (an
    adversarial tester). They say what stands where the report's record is kept and the fix (moved away first: a
    rerun refuses a FIFO there). A FIFO at a file the record lists is named as verify of the record names it."""
    ev = tmp_path / "ev"
    report_copy(first_reports, "evaluation.json", ev)  # the module's evaluate report, copied
    capsys.readouterr()
    record, text = ev / "evaluation.json", ev / "evaluation.txt"
    kept = record.read_bytes()
    again = "run the command that wrote the report again"
    with _bounded():
        record.unlink()
        os.mkfifo(record)
        for command in ("info", "verify"):
            one_line_error(capsys, [command, str(record)], f"{record} is a FIFO, not a report's record (featcache "
                           f"writes evaluation.json as a regular file); move it away, then {again}")
            one_line_error(capsys, [command, str(ev / "confusion.png")], f"{ev / 'confusion.png'} is vouched for by no "
                           f"record: {record} beside it, where featcache keeps a report's record, is a FIFO",
                           f"move {record} away, then {again}")
        record.unlink()
        record.write_bytes(kept)
        text_kept = text.read_bytes()
        text.unlink()
        os.mkfifo(text)
        for command in ("info", "verify"):
            one_line_error(capsys, [command, str(text)], f"{text}, a file of the report {record} records, is a FIFO "
                           f"now; move it away, then {again}")
        text.unlink()
        text.write_bytes(text_kept)
    assert main(["verify", str(record)]) == 0


def test_info_shows_a_name_holding_a_newline_on_one_line(tmp_path, fake_model, capsys, first_reports):
    """info's text of a predictions CSV, its record, a report's record or file was split on newlines after it was
    made, so a file or folder name holding one was printed over two lines (an adversarial tester). Each line is one
    line, names escaped as info's other lines escape them (errors.one_line); --json's "about" is that text."""
    out = _predicted_csv(tmp_path, fake_model, "p\nq.csv")
    ev = tmp_path / "e\nv"
    report_copy(first_reports, "evaluation.json", ev)  # the module's evaluate report, in a folder so named
    capsys.readouterr()
    for given, lines in ((out, 2), (tmp_path / ".p\nq.csv.featcache", 2), (ev / "evaluation.json", 2),
                         (ev / "confusion.png", 1)):
        assert main(["info", str(given)]) == 0
        printed = capsys.readouterr().out
        assert len(printed.splitlines()) == lines, printed
        assert printed.startswith(str(given).replace("\n", "\\n") + " is "), printed
        assert main(["info", str(given), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["about"] == printed.rstrip("\n")


def test_info_and_verify_of_a_predictions_csv_copied_with_its_record_name_the_csv_the_record_is_of(tmp_path, fake_model,
                                                                                                   capsys):
    """'cp out.csv new.csv; cp .out.csv.featcache .new.csv.featcache': info and verify of new.csv said it had "no
    record of featcache's beside it", and of the record, "none of the files featcache describes" (an adversarial
    tester). The record names out.csv, and vouches for it alone, as a rerun reads it (predict._read_record), so new.csv
    is not verified: both say whose record it is, whether new.csv's bytes are the ones it holds, and the fix, which
    then verifies it. A record under another name with no CSV of that name is said to vouch for no file."""
    out = _predicted_csv(tmp_path, fake_model)
    new, record = tmp_path / "new.csv", tmp_path / ".new.csv.featcache"
    new.write_bytes(out.read_bytes())
    record.write_bytes((tmp_path / ".out.csv.featcache").read_bytes())
    capsys.readouterr()
    line = (f"{new} is a predictions CSV, but {record}, where featcache keeps its record, is featcache's record of "
            "out.csv, copied or renamed with it (new.csv's SHA-256 is the one that record holds), and a record vouches "
            f"only for the CSV it names, so {new} cannot be verified; run predict --csv again to have it checked")
    for given in (new, record):
        for command in ("info", "verify"):
            one_line_error(capsys, [command, str(given)], line)
    new.write_text(new.read_text().replace("0.75", "0.70"))
    one_line_error(capsys, ["verify", str(new)], "featcache's record of out.csv (new.csv's SHA-256 is not the one it "
                   "holds either)")
    stray = tmp_path / ".other.featcache"
    stray.write_bytes(record.read_bytes())
    for command in ("info", "verify"):
        one_line_error(capsys, [command, str(stray)], f"{stray} is featcache's record of the predictions CSV out.csv, "
                       "but not under that CSV's record's name (.out.csv.featcache: copied or renamed?), so it vouches "
                       "for no file")
    assert main(["predict", str(fake_model), str(tmp_path / "photos"), "--csv", str(new)]) == 0  # the fix
    assert main(["verify", str(new)]) == 0


def test_an_output_with_a_long_name_or_through_a_link_is_written(tmp_path, capsys):
    """Regressions (an adversarial tester) of the lock an output's writers take turns on: '<out>.lock' passed the
    file system's 255 bytes for a legal 251-byte --out, and beside a link's read-only target; both failed after
    the work. The lock is '.<name>.lock' beside the path as given, hashed where too long, and goes again."""
    cache = str(tiny_cache(tmp_path / "c.h5"))
    long = tmp_path / ("b" * 247 + ".npz")
    assert main(["train", cache, "--head", "logreg", "--out", str(long)]) == 0 and long.is_file()
    with tmpfs(tmp_path / "ro", "size=1m") as ro:  # a link to the same job's head, on a file system then read-only
        (ro / "real.npz").write_bytes(long.read_bytes())
        assert subprocess.run(["mount", "-o", "remount,ro", str(ro)], capture_output=True).returncode == 0
        (tmp_path / "link.npz").symlink_to(ro / "real.npz")
        capsys.readouterr()
        # a link is written through, as > writes it (store.atomic.written_through, 2026-12-05: the link had been
        # replaced by a plain file, its target left stale): a read-only target is one line, nothing changed
        assert main(["train", cache, "--head", "logreg", "--out", str(tmp_path / "link.npz")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"cannot write in {ro}" in err[0], err  # the target's folder, read-only
        assert (ro / "real.npz").read_bytes() == long.read_bytes()  # the target untouched
    assert (tmp_path / "link.npz").is_symlink()  # the link kept
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".lock")]


def test_help_says_what_home_is_once(capsys):
    """The top-level help printed the HOME note twice: argparse wraps the epilog, and the check for the note looked for
    it unwrapped (a new-user tester). Each page that names HOME/... says it once."""
    from featcache.cli import main

    for args in (["--help"], ["train", "--help"], ["extract", "--help"]):
        with pytest.raises(SystemExit):
            main(args)
        text = " ".join(capsys.readouterr().out.split())
        assert text.count("HOME: where outputs go by default") == 1, args


def test_featcache_home_empty_is_unset_and_a_file_is_named(tmp_path, monkeypatch):
    """FEATCACHE_HOME="" put default outputs in ./cache and ./runs; FEATCACHE_HOME naming a file made every command
    blame an --out the user never gave (an adversarial tester)."""
    from featcache import paths

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FEATCACHE_HOME", "")
    assert paths.home() == Path("data") and paths.runs_dir() == Path("data/runs")
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("FEATCACHE_HOME", str(tmp_path / "afile"))
    from featcache.errors import FeatcacheError

    with pytest.raises(FeatcacheError, match=f"FEATCACHE_HOME is {tmp_path / 'afile'}, and {tmp_path / 'afile'} is not a folder"):
        paths.runs_dir()
    monkeypatch.setenv("FEATCACHE_HOME", str(tmp_path / "afile" / "sub"))  # below a file: the same line, naming it
    with pytest.raises(FeatcacheError, match=f"FEATCACHE_HOME is {tmp_path / 'afile' / 'sub'}, and {tmp_path / 'afile'} is not"):
        paths.cache_dir()
    monkeypatch.setenv("FEATCACHE_HOME", "   ")  # blank is unset: it made a folder named three spaces
    assert paths.home() == Path("data")


def test_a_warning_line_is_said_once_per_command(tmp_path, capsys, monkeypatch):
    """predict said a model's no-digest note twice: a catch_warnings block between two reads of the file (the
    conversion's) resets Python's once-registry (an adversarial tester). The CLI says each line once a command."""
    import warnings

    from featcache.deploy.model import UncheckedModelWarning
    from featcache.cli import main

    def twice(args):
        for _ in range(2):
            warnings.warn("m.keras carries no content digest", UncheckedModelWarning, stacklevel=1)
            with warnings.catch_warnings():  # as a conversion does between the two reads
                warnings.simplefilter("ignore", FutureWarning)
        return 0

    import featcache.cli.info as info_cli

    monkeypatch.setattr(info_cli, "run", twice)
    for _ in range(2):  # and again in the next command
        assert main(["info", str(tmp_path)]) == 0
        assert capsys.readouterr().err.count("carries no content digest") == 1


def test_a_ctrl_c_in_the_teardown_after_a_finished_command_changes_nothing(tmp_path):
    """SIGINT just after extract said 'extracted ... -> js.h5' ended it with exit 130 and no line, though the cache
    was whole (an adversarial tester): Python's teardown (threads joined, atexit callbacks) ran after the command.
    The teardown now ignores SIGINT: the command's own exit status and lines, nothing else."""
    proc = run_changed("import atexit, signal, time\n"
                       "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(0.3)))",
                       ["verify", str(tmp_path / "none.h5")])
    _, err = ended(proc, 120)
    assert proc.returncode == 2 and err.strip().splitlines() == [
        f"featcache verify: error: cache not found: {tmp_path / 'none.h5'}; run 'featcache extract' first or check the path"]


def test_predict_csv_never_overwrites_what_is_at_its_records_name(tmp_path, fake_model, capsys):
    """A user's own '.new.csv.featcache' was overwritten without a word, and a folder there failed after every
    prediction was made, naming no fix (an adversarial tester): both are refused before any work, --force or not."""
    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    record = tmp_path / ".new.csv.featcache"
    for make, what in ((lambda: record.write_text("my own notes"), "a file that is not featcache's record"),
                       (lambda: record.mkdir(), "a folder"), (lambda: record.symlink_to(photo), "a link")):
        make()
        for extra in ([], ["--force"]):
            one_line_error(capsys, ["predict", str(fake_model), str(photo), "--csv", str(tmp_path / "new.csv"), *extra],
                           f"{record} is in the way of featcache's record of --csv new.csv (it is {what}); move it away")
            assert not (tmp_path / "new.csv").exists()
        if record.is_dir() and not record.is_symlink():
            record.rmdir()
        else:
            assert record.is_symlink() or record.read_text() == "my own notes"
            record.unlink()


def test_predict_csv_keeps_aside_only_a_csv_and_never_writes_over_a_model(tmp_path, fake_model, capsys):
    """`predict m.keras img --csv m.keras` moved the model aside and wrote a CSV under its name (a review): a file
    with no record is kept aside only when it is a predictions CSV in featcache's form (an older featcache's);
    another file is refused as before (--force replaces it), and featcache's own model, head or cache never,
    --force or not. `predict(csv="-")` is refused through the API too."""
    from featcache.deploy.predict import predict

    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    model_bytes = Path(fake_model).read_bytes()
    for extra in ([], ["--force"]):
        one_line_error(capsys, ["predict", str(fake_model), str(photo), "--csv", str(fake_model), *extra],
                       f"--csv {fake_model} is a model featcache wrote, not a CSV; name a new file")
    assert Path(fake_model).read_bytes() == model_bytes and not list(tmp_path.glob("*.before-*"))
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    one_line_error(capsys, ["predict", str(fake_model), str(photo), "--csv", str(notes)],
                   f"--csv {notes} exists and is not a predictions CSV featcache wrote; choose another --csv, or pass --force")
    assert notes.read_text() == "my notes" and not list(tmp_path.glob("notes.before-*"))
    from featcache.errors import FeatcacheError

    with pytest.raises(FeatcacheError, match="csv='-' would be a file named '-'"):
        predict(fake_model, [photo], csv="-")
    assert not (Path.cwd() / "-").exists()
    # a CSV's record, named or reached through a link, is featcache's too (an adversarial tester: --force through a
    # link replaced it, and every later run of its CSV was refused for good)
    out = tmp_path / "d" / "p.csv"
    out.parent.mkdir()
    assert main(["predict", str(fake_model), str(photo), "--csv", str(out)]) == 0
    capsys.readouterr()
    record = out.with_name(".p.csv.featcache")
    kept, link = record.read_bytes(), tmp_path / "lrec.csv"
    link.symlink_to(record)
    for named in (record, link):
        one_line_error(capsys, ["predict", str(fake_model), str(photo), "--csv", str(named), "--force"],
                       f"--csv {named} is featcache's record of a predictions CSV, not a CSV; name a new file")
    assert record.read_bytes() == kept
    assert main(["predict", str(fake_model), str(photo), "--csv", str(out)]) == 0


def test_predict_json_says_what_csv_found_and_kept(tmp_path, fake_model, capsys):
    """--json carried none of what stderr says of --csv: the file kept aside, what was there (a review)."""
    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    out = tmp_path / "p.csv"
    argv = ["predict", str(fake_model), str(photo), "--csv", str(out), "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["csv"] == {"path": str(out), "written": str(out), "found": "absent",
                                                          "kept": None, "replaced_meanwhile": False}
    (tmp_path / ".p.csv.featcache").unlink()  # as an older featcache left it
    assert main(argv) == 0
    said = json.loads(capsys.readouterr().out)["csv"]
    (kept,) = tmp_path.glob("p.before-*.csv")
    assert said["found"] == "no record" and said["kept"] == str(kept)


def test_predict_csv_force_keeps_aside_a_csv_with_no_record_and_replaces_an_empty_file(tmp_path, fake_model, capsys):
    """--force replaced a predictions CSV with no record (an older featcache's) that a plain run keeps aside: the
    flag was the less safe path for a file featcache keeps (testers). Kept aside with --force too, said on stderr and
    in --json. An empty file with no record holds nothing to lose: replaced without a copy, --force or not, and said
    as the empty file it is."""
    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    daily = tmp_path / "daily.csv"
    argv = ["predict", str(fake_model), str(photo), "--csv", str(daily)]
    assert main(argv) == 0
    old = daily.read_text()
    (tmp_path / ".daily.csv.featcache").unlink()  # as an older featcache left it
    assert main(argv + ["--force"]) == 0
    err = capsys.readouterr().err.splitlines()
    (kept,) = tmp_path.glob("daily.before-*.csv")
    assert kept.read_text() == old and err[-2:] == [
        f"predict: {daily} had no record of what featcache wrote there (an older featcache's, or not featcache's): "
        f"kept as {kept}", f"predict: predictions -> {daily}"], err
    kept.unlink()
    (tmp_path / ".daily.csv.featcache").unlink()
    assert main(argv + ["--force", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)["csv"]
    (kept,) = tmp_path.glob("daily.before-*.csv")
    assert said["found"] == "no record" and said["kept"] == str(kept) and kept.read_text() == old
    empty = tmp_path / "empty.csv"
    for extra in ([], ["--force"]):
        empty.write_text("")
        (tmp_path / ".empty.csv.featcache").unlink(missing_ok=True)
        assert main(argv[:-1] + [str(empty), *extra]) == 0
        assert capsys.readouterr().err.splitlines()[-1] == f"predict: predictions -> {empty} (replaced the empty file there)"
        assert empty.read_text() == old and not list(tmp_path.glob("empty.before-*")), extra


def test_predict_csv_through_a_link_writes_its_target_and_keeps_the_link(tmp_path, fake_model, capsys):
    """A plain --csv l.csv that is a link to a file replaced the link with a file of its own, its target left stale;
    and a target with no record was kept aside as a link to it, not as its content (testers). Written through, as
    the shell's > writes: the target replaced atomically, the link kept, the record beside the target (found by
    either name), and what is kept aside a file of the old content, beside the target."""
    photos = [write_image(tmp_path / f"a{i}.png", class_image(0, i, 16)) for i in range(2)]
    sub = tmp_path / "sub"
    sub.mkdir()
    target, link = sub / "p.csv", tmp_path / "l.csv"
    real = Path(os.path.realpath(target))
    assert main(["predict", str(fake_model), str(photos[0]), "--csv", str(target)]) == 0
    old = target.read_text()
    (sub / ".p.csv.featcache").unlink()  # as an older featcache left it
    link.symlink_to(target)
    argv = ["predict", str(fake_model), *map(str, photos), "--csv"]
    capsys.readouterr()
    assert main(argv + [str(link)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert link.is_symlink() and os.readlink(link) == str(target) and len(target.read_text().splitlines()) == 3
    (kept,) = sub.glob("p.before-*.csv")
    assert not kept.is_symlink() and kept.read_text() == old
    assert not list(tmp_path.glob("l.before-*")) and not (tmp_path / ".l.csv.featcache").exists()
    assert err[-2:] == [f"predict: {link} had no record of what featcache wrote there (an older featcache's, or not "
                        f"featcache's): kept as {kept}", f"predict: predictions -> {link} -> {real}"], err
    for name in (link, target, link):  # one record, the target's: featcache's own CSV by either name
        assert main(argv + [str(name)]) == 0
        assert capsys.readouterr().err.splitlines()[-1].endswith("(replaced the earlier predictions there)")
    assert link.is_symlink() and len(list(sub.glob("p.before-*"))) == 1
    assert main(argv + [str(link), "--json"]) == 0
    said = json.loads(capsys.readouterr().out)["csv"]
    assert (said["path"], said["written"], said["found"]) == (str(link), str(real), "ours")
    edited = target.read_text().replace("0.75", "0.7")
    target.write_text(edited)  # edited by hand: refused through the link too
    one_line_error(capsys, argv + [str(link)], f"--csv {link} was changed since featcache wrote it", "--force")
    assert target.read_text() == edited and link.is_symlink()


def test_predict_csv_dev_stdout_into_a_pipe_is_named_as_typed(tmp_path):
    """--csv /dev/stdout with stdout a pipe was refused as "a link through /proc/1541/fd/1, now to
    /proc/1541/fd/pipe:[969353]" (testers): the refusal names what the user typed. A real process, stdout a pipe."""
    from helpers import REPO

    model = meta_only_model(tmp_path / "m.keras", image_size=16)
    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    proc = subprocess.run([sys.executable, "-m", "featcache", "predict", str(model), str(photo), "--csv", "/dev/stdout"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert (proc.returncode, proc.stdout) == (2, "") and proc.stderr.splitlines() == [
        "featcache predict: error: --csv /dev/stdout is a stream (it leads through /proc to a file a process has "
        "open: a terminal, a pipe or a shell's redirection), not a file of its own, and is never replaced, even with "
        "--force; choose another --csv"], proc.stderr


def test_predict_csv_record_of_a_long_name_is_never_that_of_a_csv_named_in_hex(tmp_path, fake_model, capsys):
    """A long CSV name's record was '.<16 hex of the name's SHA-256>.featcache', the very record of a CSV named
    those 16 hex digits: each run replaced the other's record, and each CSV was then kept aside as one with no
    record (testers). A hashed record's name ends in .featcache-long, which no .NAME.featcache does; a record of the
    old form is still read, and replaced by one of the new form."""
    import hashlib

    from featcache.deploy import predict as predict_mod

    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    long = tmp_path / ("p" * 250 + ".csv")
    hex16 = hashlib.sha256(os.fsencode(long.name)).hexdigest()[:16]
    argv = ["predict", str(fake_model), str(photo), "--csv"]
    for name in (long, tmp_path / hex16, long, tmp_path / hex16):
        assert main(argv + [str(name)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert not list(tmp_path.glob("*.before-*")) and all(e.endswith("(replaced the earlier predictions there)") for e in err[-2:]), err
    legacy = tmp_path / f".{hex16}.featcache"
    assert json.loads(legacy.read_text())["csv"] == hex16  # the hex-named CSV's own record, untouched by the long's
    record = predict_mod.csv_record_path(long)
    assert record.name.endswith(".featcache-long") and json.loads(record.read_text())["csv"] == long.name
    (tmp_path / hex16).unlink()
    record.replace(legacy)  # as featcache before this change recorded the long name
    assert main(argv + [str(long)]) == 0
    assert capsys.readouterr().err.splitlines()[-1].endswith("(replaced the earlier predictions there)")
    assert not list(tmp_path.glob("*.before-*")) and record.exists() and not legacy.exists()


def test_is_predictions_csv_judges_the_head_of_a_csv_not_all_of_it(tmp_path):
    """It read the whole CSV on every run that found one with no record (testers): the verdict is from the first
    CSV_SNIFF_BYTES (a row cut there is not judged). A note past them is not read: a wrong "yes" keeps the file
    aside, never loses it. Within them, the verdicts stand."""
    from featcache.deploy import predict as predict_mod

    header, row = "input,class_1,probability_1\n", "a.png,bees,0.750000\n"
    rows = predict_mod.CSV_SNIFF_BYTES // len(row) + 10
    assert (predict_mod.CSV_SNIFF_BYTES - len(header)) % len(row)  # the bound falls inside a row
    far, near = tmp_path / "far.csv", tmp_path / "near.csv"
    far.write_text(header + row * rows + "a note past the first MiB\n")
    near.write_text(header + row * 5 + "a note in the first rows\n" + row * rows)
    assert predict_mod.is_predictions_csv(far) and not predict_mod.is_predictions_csv(near)
    cut = tmp_path / "cut.csv"  # the header longer than the bound: not judged, not a predictions CSV
    cut.write_text(",".join(predict_mod.csv_header(predict_mod.CSV_SNIFF_BYTES // 20)) + "\n" + row)
    assert not predict_mod.is_predictions_csv(cut)


@pytest.mark.parametrize("when", ["csv_header", "predict_files"])
def test_predict_csv_through_a_link_pointed_elsewhere_during_the_run_writes_nothing(tmp_path, fake_model, capsys,
                                                                                     monkeypatch, when):
    """Written through a link, the CSV's lock and record are its target's (taken at the start): a link pointed at
    another file during the run is one line under the lock, and neither file is written (nor the link replaced).
    During the write (csv_header) or, a review found, while the images ran (predict_files): that was written through
    to the new target."""
    from featcache.deploy import predict as predict_mod

    photo = write_image(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    first, second, link = tmp_path / "first.csv", tmp_path / "second.csv", tmp_path / "l.csv"
    for out in (first, second):
        assert main(["predict", str(fake_model), str(photo), "--csv", str(out)]) == 0
    before = {p: p.read_bytes() for p in (first, second)}
    link.symlink_to(first)
    real = getattr(predict_mod, when)

    def repointed(*args, **kwargs):  # as the images run or write_csv builds its rows: the link now leads to the second
        link.unlink()
        link.symlink_to(second)
        return real(*args, **kwargs)

    monkeypatch.setattr(predict_mod, when, repointed)
    capsys.readouterr()
    one_line_error(capsys, ["predict", str(fake_model), str(photo), "--csv", str(link)],
                   f"--csv {link} was replaced by a link or pointed elsewhere during the run", "nothing was written")
    assert {p: p.read_bytes() for p in (first, second)} == before and os.readlink(link) == str(second)


def test_a_head_of_a_layer_the_cache_lacks_names_the_layer_to_extract(tmp_path):
    """Regression (a new-user tester): "... does not hold; extract it with --layers" did not say what to pass; a
    registry block is named as --layers takes it (block_13, not block_13_expand_relu)."""
    from featcache.errors import FeatcacheError
    from featcache.heads.io import check_compatible
    from featcache.store import open_cache

    cache = open_cache(tiny_cache(tmp_path / "c.h5"))
    meta = {k: cache.meta.get(k) for k in ("backbone", "weights", "image_size", "preprocessing")}
    for layer, name in (("block_13_expand_relu", "block_13"), ("conv_x", "conv_x")):
        with pytest.raises(FeatcacheError) as err:
            check_compatible({**meta, "layer": layer}, cache)
        assert str(err.value).endswith(f"extract it with ModelSpec(layers={name!r})"), err.value  # a call's words


class _ClosedStream:
    """A stream whose descriptor is closed (2>&-): every write is EBADF, as Python's stderr on a closed fd 2."""

    def write(self, text):
        raise OSError(9, "Bad file descriptor")

    def flush(self):
        raise OSError(9, "Bad file descriptor")

    def isatty(self):
        return False


def test_a_closed_standard_error_costs_no_work(tmp_path, fake_model, capsys, monkeypatch):
    """Regression (an adversarial tester): 'train CACHE --out h.npz 2>&-' exited 1 with no head written: the warning
    about a class missing from the test split hit OSError EBADF (the warnings hook's print); evaluate the same, and
    predict on a folder holding a skipped file (say_notes). Notes, warnings and error lines now ignore a closed
    stderr: the work and its results are kept, and an error still exits 2."""
    cache = str(tiny_cache(tmp_path / "c.h5", n_test=1))  # no test image of "bees": train and evaluate warn
    head = tmp_path / "h.npz"
    folder = tmp_path / "photos"
    write_image(folder / "ok.png", class_image(0, 0, 16))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")  # skipped: say_notes writes to stderr
    monkeypatch.setattr(sys, "stderr", _ClosedStream())
    assert main(["train", cache, "--head", "logreg", "--out", str(head)]) == 0 and head.is_file()
    assert main(["evaluate", str(head), cache, "--out", str(tmp_path / "ev")]) == 0
    assert main(["predict", str(fake_model), str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"-> {head}" in out and "accuracy" in out and f"{folder / 'ok.png'}: " in out
    assert main(["info", str(tmp_path / "none.h5")]) == 2  # its one line unsaid, the status still a user error's


def _closed_fd2():
    os.close(2)


def _read_only_fd2():  # what a pyenv shim leaves there ('2>&-' through it): Python's stderr exists, writes are EBADF
    os.dup2(os.open(os.devnull, os.O_RDONLY), 2)


@pytest.mark.parametrize("close", [_closed_fd2, _read_only_fd2])
def test_a_closed_standard_error_in_a_real_run_keeps_the_head(tmp_path, close):
    """The same in a real run, descriptor 2 closed (sys.stderr is None: the warning was print()ed to stdout, into
    the --json) or unwritable (EBADF: exit 1 and no head). The head is written and stdout is its JSON alone."""
    from helpers import REPO

    cache = str(tiny_cache(tmp_path / "c.h5", n_test=1))
    proc = subprocess.run([sys.executable, "-m", "featcache", "train", cache, "--head", "logreg", "--out", "h.npz", "--json"],
                          stdout=subprocess.PIPE, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
                          preexec_fn=close, timeout=300)
    assert proc.returncode == 0 and (tmp_path / "h.npz").is_file(), proc.stdout[-800:]
    assert json.loads(proc.stdout)["path"] == "h.npz"


@pytest.mark.parametrize("argv", [["info", "CACHE"], ["verify", "CACHE"], ["evaluate", "HEAD", "CACHE"],
                                  ["predict", "MODEL", "IMAGE"], ["predict", "MODEL", "IMAGE", "--csv", "p.csv"],
                                  ["train", "CACHE", "--head", "logreg", "--out", "new.npz", "--json"],
                                  ["train", "CACHE", "--head", "logreg", "--out", "new.npz"]])
def test_a_closed_standard_output_is_refused_before_the_work(tmp_path, fake_model, capsys, monkeypatch, argv):
    """Regression (an adversarial tester): 'predict M X >&-' exited 0 with the predictions gone and no word (info and
    evaluate the same), and with --json ended in AttributeError at print_json (sys.stdout is None), exit 1. Every
    command prints its results on stdout: with it closed, one line, exit 2, before any work (no head, no CSV)."""
    from featcache.cli.common import STDOUT_CLOSED

    cache = tiny_cache(tmp_path / "c.h5")
    head = tmp_path / "h.npz"
    assert main(["train", str(cache), "--head", "logreg", "--out", str(head)]) == 0
    image = write_image(tmp_path / "x.png", class_image(0, 0, 16))
    names = {"CACHE": str(cache), "HEAD": str(head), "MODEL": str(fake_model), "IMAGE": str(image)}
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdout", None)
    assert main([names.get(a, a) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"featcache {argv[0]}: error: {STDOUT_CLOSED}"
    assert not (tmp_path / "new.npz").exists() and not (tmp_path / "p.csv").exists()


def test_a_closed_standard_output_in_a_real_run_is_one_line(tmp_path):
    """The same with the descriptor closed in a real run ('info CACHE --json >&-'): the AttributeError traceback."""
    from helpers import REPO

    cache = str(tiny_cache(tmp_path / "c.h5"))
    proc = subprocess.run([sys.executable, "-m", "featcache", "info", cache, "--json"], stderr=subprocess.PIPE, text=True,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, preexec_fn=lambda: os.close(1), timeout=300)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("featcache info: error: standard output is closed")


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["predict", "-h"], ["--version"]])
def test_help_and_version_with_standard_output_closed_are_refused_in_one_line(capsys, monkeypatch, argv):
    """Regression (a review): '--help >&-', 'train --help >&-' and '--version >&-' exited 0 (argparse wrote the help to
    stderr, sys.stdout being None), where every command with stdout closed is one line, exit 2 (STDOUT_CLOSED)."""
    from featcache.cli.common import STDOUT_CLOSED

    monkeypatch.setattr(sys, "stdout", None)
    with pytest.raises(SystemExit) as stop:
        main(argv)
    prog = " ".join(["featcache"] + [a for a in argv if not a.startswith("-")])
    assert stop.value.code == 2 and capsys.readouterr().err == f"{prog}: error: {STDOUT_CLOSED}\n"


def test_help_with_its_descriptor_closed_in_a_real_run_is_one_line():
    """The same in a real run, fd 1 closed ('featcache train --help >&-'); with stdout open, help is still exit 0."""
    from helpers import REPO

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "featcache", "train", "--help"]
    proc = subprocess.run(command, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=lambda: os.close(1), timeout=300)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("featcache train: error: standard output is closed")
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0 and proc.stdout.startswith("usage: featcache train") and proc.stderr == ""


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["--version"]])
def test_help_and_version_on_a_full_disk_are_one_line(argv):
    """Regression (an adversarial tester): '--help > /dev/full' and '--version > /dev/full' exited 0 with no word,
    the text lost (argparse passes over a failed write); now the line a command's output gets there, exit 2."""
    from helpers import REPO

    prog = " ".join(["featcache"] + [a for a in argv if not a.startswith("-")])
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "featcache", *argv], stdout=full, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"{prog}: error: standard output could not be written (No space left on device)")


def test_verify_and_info_of_a_file_with_a_name_of_251_bytes_say_what_it_is(tmp_path, capsys):
    """Regression (an adversarial tester): verify/info of a file featcache wrote under a 245-255 byte name said "the
    name is too long for the file system" of its ``.partial.h5`` neighbour's name, which nobody gave."""
    long_name = tmp_path / ("h" * 251 + ".npz")
    long_name.write_text("not a head")
    for command in ("verify", "info"):
        assert main([command, str(long_name)]) == 2
        err = capsys.readouterr().err.strip()
        assert "is none of the files featcache describes" in err and "too long" not in err, err


def test_an_interrupted_predict_says_whether_its_csv_was_written(tmp_path, fake_model, capsys, monkeypatch):
    """Regression (an adversarial tester): Ctrl-C while predict printed its rows said "nothing was saved", of a --csv
    written completely before. The line says what is true: the CSV is complete, or (stopped before it) nothing."""
    import io

    from featcache.deploy import model as model_mod

    folder = tmp_path / "photos"
    for i in range(3):
        write_image(folder / f"ok{i}.png", class_image(0, i, 16))

    class CutShort(io.StringIO):
        def write(self, text):
            if "ok1.png" in text:  # the second row: Ctrl-C
                raise KeyboardInterrupt
            return super().write(text)

    csv_path = tmp_path / "p.csv"
    monkeypatch.setattr(sys, "stdout", CutShort())
    assert main(["predict", str(fake_model), str(folder), "--csv", str(csv_path)]) == 130
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"featcache predict: interrupted; the predictions CSV {csv_path} was written completely before it; "
                   "what it printed was cut short")
    assert len(csv_path.read_text().splitlines()) == 1 + 3  # the header and every image
    # stopped before the CSV was written: nothing, as before (and the line of one run is not the next run's)
    monkeypatch.setattr(model_mod, "run_model", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main(["predict", str(fake_model), str(folder), "--csv", str(tmp_path / "q.csv")]) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "featcache predict: interrupted; nothing was saved"
    assert not (tmp_path / "q.csv").exists()


# A read that never ends (a pipe whose write end the process holds) of the photo named stuck.png, on the thread
# reading ahead, which takes a SIGTERM itself once the main thread waits for it: test_images' extract case, for the
# read ahead of predict and evaluate (``engines.local.read_ahead``). The network is stubbed (``stub_model_runs``).
_STUCK_PHOTO = """
import importlib, signal, time
from helpers import stub_model_runs
stub_model_runs(setattr)
module = importlib.import_module({module!r})
real, (r, w) = getattr(module, {name!r}), os.pipe()
def stuck(path, *args, **kwargs):
    if os.path.basename(path) == 'stuck.png':
        time.sleep(1)  # the main thread has nothing to do then but wait for this read
        # said before the signal: printed after it, the main thread could end the process (flushing stdout) between
        # print's "stuck" and its newline, and the test read "stuck" alone (the whole suite, 2026-12-07)
        print('stuck', flush=True)
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
        os.read(r, 1)
    return real(path, *args, **kwargs)
setattr(module, {name!r}, stuck)
"""


@pytest.mark.parametrize("command, module, name", [("predict", "featcache.sources.decode", "open_photo"),
                                                   ("evaluate", "featcache.sources.images", "read_scanned")])
def test_sigterm_ends_a_predict_or_evaluate_whose_read_is_stuck_and_writes_nothing(tmp_path, command, module, name):
    """Regression (196cb16's hang, in predict's and evaluate's reading ahead): their main thread waited for a read
    with no limit, and a SIGTERM that came just before that wait blocked (or that another thread took) only set
    Python's flag: the process stayed, killed only by SIGKILL. A read stuck where no signal reaches it (a photo on a
    stalled network mount; a FIFO no longer: decode.open_photo refuses one at once) now ends the command as any
    interrupt does: its one line, exit 143, no CSV or report, whole or half-written."""
    model = meta_only_model(tmp_path / "m.keras", image_size=16)
    folder = tmp_path / "photos"
    for label, cls in enumerate(("ants", "bees")):
        for i in range(2):
            write_image(folder / cls / f"ok{i}.png", class_image(label, i, 16))
    write_image(folder / "bees" / "stuck.png", class_image(1, 2, 16))
    written = tmp_path / ("p.csv" if command == "predict" else "report")
    args = (["--recursive", "--csv", str(written)] if command == "predict" else ["--out", str(written)])
    proc = run_changed(_STUCK_PHOTO.format(module=module, name=name), [command, str(model), str(folder), *args])
    try:
        assert proc.stdout.readline() == "stuck\n"  # the start-up is not counted
    finally:
        _, err = ended(proc, 60)
    assert proc.returncode == 143 and err.strip().splitlines() == [
        f"featcache {command}: terminated; nothing was saved"], err[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras", "photos"]  # nothing else, whole or partial


def test_each_environment_variable_problem_is_one_line_naming_the_variable(tmp_path, monkeypatch, capsys):
    """Regressions (an adversarial tester): a dangling FEATCACHE_HOME link was "cannot write .../runs/heads/x.npz
    (File exists); choose a writable --out" after the fit; FEATCACHE_RUNTIME_DIR on a file "cannot write
    .../x.onnx (File exists)"; FEATCACHE_HOME='~/x' made a folder named '~' in the current one; a FEATCACHE_HOME
    inside the photo folder named an '--out .../cache/c.h5' never given. Each names the variable and the fix."""
    from helpers import make_class_tree, run_main

    from featcache import paths
    from featcache.errors import FeatcacheError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    monkeypatch.setenv("FEATCACHE_HOME", str(tmp_path / "dangling"))
    with pytest.raises(FeatcacheError, match=f"^FEATCACHE_HOME is {tmp_path / 'dangling'}, and {tmp_path / 'dangling'} is "
                                             f"a link to {tmp_path / 'nowhere'}, which does not exist; make that folder, or set it"):
        paths.runs_dir()
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("FEATCACHE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FEATCACHE_RUNTIME_DIR", str(tmp_path / "afile"))
    with pytest.raises(FeatcacheError, match=f"^FEATCACHE_RUNTIME_DIR is {tmp_path / 'afile'}, and {tmp_path / 'afile'} "
                                             "is not a folder; set it to a folder for converted models"):
        paths.runtime_dir()
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    monkeypatch.setenv("FEATCACHE_HOME", "~/x")
    monkeypatch.setenv("FEATCACHE_RUNTIME_DIR", "~/rt")
    assert paths.cache_dir() == tmp_path / "me" / "x" / "cache" and paths.runtime_dir() == tmp_path / "me" / "rt"
    # the home of no user: a folder named '~nosuchuser' was made in the current one (a second adversarial round)
    monkeypatch.setenv("FEATCACHE_HOME", "~nosuchuser/x")
    with pytest.raises(FeatcacheError, match=r"^FEATCACHE_HOME='~nosuchuser/x' names the home of no user \('nosuchuser' "
                                             r"is none here\); set it to a folder, or unset it$"):
        paths.cache_dir()
    monkeypatch.setenv("FEATCACHE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FEATCACHE_RUNTIME_DIR", "~nosuchuser/rt")
    with pytest.raises(FeatcacheError, match=r"^FEATCACHE_RUNTIME_DIR='~nosuchuser/rt' names the home of no user"):
        paths.runtime_dir()
    assert not (tmp_path / "~nosuchuser").exists()
    photos = make_class_tree(tmp_path / "photos", {"a": 3, "b": 3})
    monkeypatch.setenv("FEATCACHE_HOME", str(photos / "home"))
    got = run_main(capsys, "extract", "--images", str(photos), "--test-fraction", "0.3", "--weights", "random")
    assert got.returncode == 2 and len(got.stderr.strip().splitlines()) == 1, got.stderr
    assert got.stderr.strip() == (
        f"featcache extract: error: FEATCACHE_HOME is {photos / 'home'}, inside --images {photos}: what featcache writes "
        "under it would be read as images of a class (the cache would be read as part of its own data); set "
        f"FEATCACHE_HOME to a folder outside {photos}, or pass --out outside it")
    assert not (tmp_path / "~").exists() and not (photos / "home").exists()


def _tester_folder(tmp_path):
    """``(root, files in it)``: a new-user tester's photo folder in small: photos in two class folders, a byte copy
    of one, a notes.txt in a class folder and a README.txt beside them."""
    import shutil

    from helpers import make_class_tree

    root = make_class_tree(tmp_path / "d", {"cats": 3, "dogs": 3})
    first = sorted((root / "cats").iterdir())[0]
    shutil.copyfile(first, root / "cats" / f"copy{first.suffix}")
    (root / "dogs" / "notes.txt").write_text("taken at the park\n")
    (root / "README.txt").write_text("my photos\n")
    return root, sum(1 for p in root.rglob("*") if p.is_file())


def test_extract_and_info_count_skipped_files_and_copies_alike(tmp_path, capsys):
    """Regression (helper-244, a new-user tester): extract's summary said "2 file(s) skipped, 1 copy counted once" and
    `info` of the same cache "skipped 3 file(s)" (the copy counted as skipped). One way of counting: a copy counted
    once is a photo, not a file skipped; the files found are the images extracted, those skipped and the copies."""
    root, found = _tester_folder(tmp_path)
    cache = tmp_path / "c.h5"
    assert main(["extract", "--images", str(root), "--test-fraction", "0.34", "--weights", "random", "--image-size", "32",
                 "--runtime", "tensorflow", "--out", str(cache)]) == 0
    summary = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("extracted "))
    got = re.search(r"^extracted (\d+) images .*; (\d+) files? skipped \(1 not in a class folder, 1 not an image\), "
                    r"(\d+) copy counted once\)", summary)
    assert got, summary
    images, skipped, copies = map(int, got.groups())
    assert (skipped, copies) == (2, 1) and images + skipped + copies == found, summary
    assert main(["info", str(cache)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("skipped"))
    assert line.startswith(f"skipped     {skipped} files (1 not in a class folder, 1 not an image), {copies} copy "
                           "counted once: "), line
    assert line.count("(the same bytes as ") == copies and line.count("(not ") == skipped, line


def test_info_of_a_cache_whose_only_left_out_files_are_copies_says_no_zero_files(tmp_path, capsys):
    """Regression (a reader): a folder with a copy and nothing else left out is the common case since copies are
    counted once, and `info` said "skipped     0 file(s), 1 copy counted once"; each part is said where there is
    one, as extract's summary says it."""
    root, _ = _tester_folder(tmp_path)
    (root / "dogs" / "notes.txt").unlink()
    (root / "README.txt").unlink()
    cache = tmp_path / "c.h5"
    assert main(["extract", "--images", str(root), "--test-fraction", "0.34", "--weights", "random", "--image-size", "32",
                 "--runtime", "tensorflow", "--out", str(cache)]) == 0
    summary = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("extracted "))
    assert not re.search(r"\d+ files? skipped", summary) and "1 copy counted once" in summary, summary
    assert main(["info", str(cache)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("skipped"))
    assert line.startswith("skipped     1 copy counted once: ") and not re.search(r"\b\d+ files?\b", line), line


def test_extract_progress_lines_count_what_its_result_counts(tmp_path, capsys, progress_on):
    """Regression (helper-244, a new-user tester): "hashing 124 files", "extracting 122 files", then "extracted 121
    images ... 2 file(s) skipped, 2 copies counted once": the README.txt beside the class folders was not hashed but
    skipped, and the notes.txt was among the files extracted, not the images. The lines say what they count, and
    the numbers add up: hashed = files in the class folders; extracted files = hashed less the copies = images and
    the files named as no image. Later (a new user, 2026-12-07): the extracting line says the copies it leaves out of
    the files hashed ("extracting 5 of the 6 files hashed (...; left out: 1 copy counted once)"); fails on the code
    before (checked: "extracting 5 files (4 images, 1 named as no image)", the copy unsaid)."""
    root, found = _tester_folder(tmp_path)
    assert main(["extract", "--images", str(root), "--test-fraction", "0.34", "--weights", "random", "--image-size", "32",
                 "--runtime", "tensorflow", "--out", str(tmp_path / "c.h5")]) == 0
    got = capsys.readouterr()
    summary = next(x for x in got.out.splitlines() if x.startswith("extracted "))
    images, skipped, beside, not_images, copies = map(int, re.search(
        r"^extracted (\d+) images .*; (\d+) files? skipped \((\d+) not in a class folder, (\d+) not an image\), (\d+) copy",
        summary).groups())
    hashed = int(re.search(rf"^hashing (\d+) files in the class folders of {re.escape(str(root))}$", got.err, re.M).group(1))
    # the copy left out between "hashing" and "extracting" is said there, in the summary's words (a new user: "hashing
    # 63 files", then "extracting 62 files (61 images, 1 named as no image)", the duplicate said only at the end)
    files, of, named, other, left = map(int, re.search(r"^extracting (\d+) of the (\d+) files hashed \((\d+) images, "
                                                       r"(\d+) named as no image; left out: (\d+) copy counted once\) with ",
                                                       got.err, re.M).groups())
    outside = sum(1 for p in root.iterdir() if p.is_file())  # the README.txt: skipped, never hashed
    assert hashed == found - outside and files == hashed - copies and named == images and files == images + other, got.err
    assert of == hashed and left == copies == 1 and files + left == hashed, got.err
    assert images + skipped + copies == found and skipped == outside + other, summary
    assert (beside, not_images) == (outside, other), summary  # each kind counted, as the lines before count them


def test_no_usable_temporary_folder_at_train_is_featcaches_line_without_joblibs_warning_first(tmp_path):
    """Regression (a brief, 2026-12-07): ``train`` where no temporary folder is usable (here ``ulimit -f 0``, which
    also keeps joblib from making the semaphore its worker processes need) printed joblib's import-time warning,
    two lines naming its own file ("UserWarning: [Errno 27] File too large.  joblib will operate in serial mode"),
    before featcache's line naming TMPDIR. featcache's line alone is said: the CLI leaves that warning out (what it
    changes, --jobs run one at a time, featcache says where it matters: validate.workers_for). A process: the limit
    is its own, and neither scikit-learn nor TensorFlow is imported yet. Fails on the code before: joblib's lines."""
    import os
    import subprocess
    import sys

    from helpers import REPO, tiny_fashion_cache

    cache = tiny_fashion_cache(tmp_path, n_train=60, n_test=10)
    code = ("import resource, sys\nresource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))\n"
            "from featcache.cli import main\n"
            f"sys.exit(main(['train', {str(cache)!r}, '--out', {str(tmp_path / 'h.keras')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    said = [line for line in proc.stderr.splitlines() if not line.startswith("training a ")]  # the progress line
    assert proc.returncode == 2 and len(said) == 1, proc.stderr[-3000:]
    assert "joblib" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert said[0].startswith("featcache train: error: No usable temporary directory found in "), said
    assert said[0].endswith("; set TMPDIR to a folder you can write to, with room, and re-run"), said
