"""A Python call's errors name its keywords and the Python fix; the same check under the CLI names the flag.

An API tester (2026-12-06): most API errors named the CLI's flags ("--train-size 1000.5 is not a whole number; pass
e.g. 10" to ``train(train_size=1000.5)``, "pass --force" to an extract whose force is ``StoreSpec(force=True)``,
"use --split" to ``Cache.features``, which has no such flag). One home decides the words (``featcache.errors``:
``option``, ``given``, ``example``; ``cli.main`` sets the CLI's). Each case here failed on the code before.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import make_class_tree, make_fashion_dir, run_main
from test_head_files import synthetic_cache

import featcache
from featcache.errors import FeatcacheError


def api_error(call) -> str:
    """The one line ``call`` raises, which names no flag."""
    with pytest.raises(FeatcacheError) as err:
        call()
    message = str(err.value)
    assert "\n" not in message and not re.search(r"(^|[\s(])--[a-z]", message), message
    return message


@pytest.fixture
def cache(tmp_path):
    return synthetic_cache(tmp_path / "c.h5")


def test_a_count_names_its_keyword_and_the_example_is_a_keyword_too(cache, tmp_path, capsys):
    assert api_error(lambda: featcache.train(cache, "logreg", train_size=1000.5, out=tmp_path / "h.npz")) == (
        "train_size=1000.5 is not a whole number; pass e.g. train_size=10")
    assert api_error(lambda: featcache.StoreSpec(batch_size=0)) == "batch_size=0 must be at least 1"
    from featcache.deploy.predict import _check_top_k  # predict's check of top_k, once the model's classes are known

    assert api_error(lambda: _check_top_k(0, 10)) == "top_k=0 must be at least 1"
    # the command's words are as they were: its flag, and a bare example after it
    proc = run_main(capsys, "train", str(cache), "--head", "logreg", "--train-size", "1000.5", "--out", str(tmp_path / "h.npz"))
    assert proc.returncode == 2 and "argument --train-size: '1000.5' is not a whole number; pass e.g. 10;" in proc.stderr, proc.stderr


def test_one_source_names_every_option_alike():
    """FashionMNIST(train_limit=4000.5) said "--train-limit ..." where PhotoFolder(test_fraction=20) said
    "test_fraction 20 ..." (one object, two ways): both name the keyword, as Python writes it."""
    assert api_error(lambda: featcache.FashionMNIST(train_limit=4000.5)) == (
        "train_limit=4000.5 is not a whole number; pass e.g. train_limit=10")
    assert api_error(lambda: featcache.PhotoFolder("photos", test_fraction=20)) == (
        "test_fraction=20 is not a fraction; use a number between 0 and 1, e.g. test_fraction=0.2")


def test_C_names_its_keyword_and_a_head_class_its_call(cache, tmp_path, capsys):
    assert api_error(lambda: featcache.train(cache, "logreg", C="CV", out=tmp_path / "h.npz")) == (
        "C='CV' is not a positive number or 'cv'; e.g. C=0.03 or C='cv'")
    from featcache.heads import SVMHead

    # "e.g. SVMHead C 0.03 or SVMHead C cv" was no call of anything
    assert api_error(lambda: SVMHead(C=0).check_params()).endswith("; e.g. SVMHead(C=0.03) or SVMHead(C='cv')")
    proc = run_main(capsys, "train", str(cache), "--head", "logreg", "--C", "CV", "--out", str(tmp_path / "h.npz"))
    assert "argument --C: 'CV' is not a positive number or 'cv'; e.g. --C 0.03 or --C cv" in proc.stderr, proc.stderr


def test_a_layer_or_split_the_cache_lacks_names_the_keyword_and_the_api_that_adds_it(cache, tmp_path):
    said = api_error(lambda: featcache.train(cache, "logreg", layer="block13", out=tmp_path / "h.npz"))
    assert said.startswith(f"layer='block13' is not in {cache}; cached layers: out") and said.endswith(
        "(extract others with featcache.extract(..., ModelSpec(layers=...)))"), said
    opened = featcache.open_cache(cache)
    said = api_error(lambda: opened.features("training"))  # features() has no --split
    assert said == (f"{cache} has no 'training' split (it has train, test); use split= with one of those (a val/ folder "
                    "of photos is the test split)")


def test_a_layer_given_as_a_number_is_told_to_be_a_name_not_listed_every_layer(tmp_path):
    """``features('train', 13)`` got "layer=13 is not in ...; cached layers: " and all 17 of them (600 characters; a
    notebook tester): a layer is a name, and the block's short name is suggested where the number is a block's."""
    from helpers import consistent_attrs

    from featcache.store import CacheWriter, SplitSpec

    layers = ["block_1_expand_relu", "block_13_expand_relu", "out_relu"]
    cache = tmp_path / "c.h5"
    attrs = consistent_attrs({"fingerprint": "f" * 64, "class_names": ["a", "b"], "layers": layers, "default_layer": "out_relu",
                              "backbone": "mobilenet_v2", "weights": "random", "image_size": 32, "preprocessing": "x"})
    y = np.arange(20) % 2
    w = CacheWriter(cache, attrs, [SplitSpec(s, y, np.arange(20)) for s in ("train", "test")], dict.fromkeys(layers, 3), "float32")
    w.open()
    for s in ("train", "test"):
        w.write(s, 0, {name: np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32) for name in layers})
    w.finish()
    opened = featcache.open_cache(cache)
    said = api_error(lambda: opened.features("train", 13))
    assert said == f"layer=13 must be a layer's name, e.g. layer='block_13' ({cache} holds 3 layers; its Cache.layers lists them)"
    assert api_error(lambda: featcache.train(cache, "logreg", layer=99, out=tmp_path / "h.npz")).startswith(
        "layer=99 must be a layer's name, e.g. layer='out_relu' (")
    assert api_error(lambda: featcache.train(cache, "keras", params={"epochs": 3}, out=tmp_path / "h.npz")) == (
        "params['epochs']: give it with epochs=3")  # it stopped at "epochs=", read as a fault of the value
    assert api_error(lambda: featcache.train(cache, "keras", params={"standardize": False}, out=tmp_path / "h.npz")) == (
        "params['standardize']: give it with standardize=False")  # it said standardize=True (a review)


def test_a_missing_data_dir_names_the_sources_keyword(tmp_path):
    said = api_error(lambda: featcache.FashionMNIST(data_dir=tmp_path / "nope"))
    assert said == (f"data directory not found: {tmp_path / 'nope'}; install it with 'apt-get install dataset-fashion-mnist' "
                    "or pass FashionMNIST(data_dir=DIR) holding the four IDX .gz files")


def test_extract_over_a_cache_of_other_settings_names_the_store_specs_fields(tmp_path):
    out = synthetic_cache(tmp_path / "c.h5")  # a featcache cache of other settings
    source = featcache.FashionMNIST(data_dir=make_fashion_dir(tmp_path / "fm"))
    said = api_error(lambda: featcache.extract(source, featcache.ModelSpec(weights="random", image_size=32),
                                               featcache.StoreSpec(out=out)))
    assert said.startswith(f"{out} holds a cache made with other settings") and said.endswith(
        "; choose another StoreSpec(out=...), or pass StoreSpec(force=True) to replace it once the new cache is complete "
        "(it was left untouched)"), said


def test_exports_out_and_views_note_name_the_keywords(cache, tmp_path):
    head = featcache.train(cache, "logreg", out=tmp_path / "h.npz").path
    said = api_error(lambda: featcache.export(head, tmp_path / "m.h5"))
    assert said.startswith(f"out='{tmp_path / 'm.h5'}': a model is saved as a .keras file") and said.endswith(
        f"; use out='{tmp_path / 'm.keras'}'"), said
    from featcache.deploy.export import views_note

    note = views_note({"train_views": ["orig", "flip"], "test_views": ["orig", "flip"], "test_accuracy": 0.9})
    assert "(pass views='all' to average the 2 views in the model" in note and "--views" not in note, note


def test_a_numpy_dtype_is_taken_by_its_name_and_refused_by_its_name():
    """StoreSpec(dtype=np.float16) was "--dtype <class 'numpy.float16'> is not supported; use one of: float32, float16".
    Refused in the one wording of a choice list (errors.unknown; it said "is not supported; use one of:")."""
    assert featcache.StoreSpec(dtype=np.float16).dtype == featcache.StoreSpec(dtype=np.dtype("float16")).dtype == "float16"
    assert featcache.StoreSpec(dtype=np.float16) == featcache.StoreSpec(dtype="float16")  # one setting: one cache name
    assert api_error(lambda: featcache.StoreSpec(dtype=np.float64)) == (
        "unknown dtype='float64'; choose one of: float32, float16")


def test_a_photo_folder_and_a_report_folder_name_their_keywords(tmp_path):
    tree = make_class_tree(tmp_path / "photos", {"a": 2, "b": 2}, size=8)
    assert api_error(lambda: featcache.PhotoFolder(tree, test_fraction=0.5, seed=-1)) == (
        "seed=-1 is out of range; use a whole number from 0 to 4294967295")
    (tmp_path / "file").write_text("x")
    said = api_error(lambda: featcache.learning_curve(synthetic_cache(tmp_path / "c.h5"), [10], heads=("logreg",),
                                                      out=tmp_path / "file" / "sub"))
    assert said.endswith("; choose a writable out"), said



# Lines main gained after the words moved to one home (helper-184's landing of it): each named a flag to a Python call.

def test_a_store_specs_file_name_checks_name_the_field(tmp_path, capsys):
    """StoreSpec(out=) of a name too long for its partial said "--out file name is too long"."""
    long_name = tmp_path / ("x" * 250 + ".h5")  # 253 bytes: its partial's name would not fit
    assert api_error(lambda: featcache.StoreSpec(out=long_name)).startswith(
        "the file name of StoreSpec(out=...) is too long (253 bytes)")
    proc = run_main(capsys, "extract", "--weights", "random", "--out", str(long_name))
    assert proc.returncode == 2 and "error: --out file name is too long (253 bytes)" in proc.stderr, proc.stderr


def test_jobs_with_n_jobs_names_no_flag(tmp_path):
    """A command has no n_jobs: the line said "(the number of worker processes, the CLI's --jobs)" to calls alone."""
    cache = synthetic_cache(tmp_path / "c.h5")
    assert api_error(lambda: featcache.learning_curve(cache, [10], jobs=2, n_jobs=2)) == (
        "jobs and n_jobs are one setting (the number of worker processes); give one of them")


def test_a_bad_n_jobs_is_named_as_the_caller_gave_it(tmp_path):
    """Regression (h306's brief, a tester): probe(..., n_jobs=2.0) said "jobs=2.0 is not a whole number; pass e.g.
    jobs=2", the alias merged into jobs before the check; the line names n_jobs, and jobs as before."""
    cache = synthetic_cache(tmp_path / "c.h5")
    calls = (lambda **kw: featcache.probe(cache, out=tmp_path / "p", **kw),
             lambda **kw: featcache.curve(cache, [10], out=tmp_path / "cv", **kw))
    for call in calls:
        assert api_error(lambda: call(n_jobs=2.0)) == "n_jobs=2.0 is not a whole number; pass e.g. n_jobs=2"
        assert api_error(lambda: call(jobs=2.0)) == "jobs=2.0 is not a whole number; pass e.g. jobs=2"
        assert api_error(lambda: call(n_jobs=0)).startswith("n_jobs=0 is not valid; use a positive number of processes")
    assert not (tmp_path / "p").exists() and not (tmp_path / "cv").exists()


def test_verify_of_a_predictions_csv_names_predicts_keywords(tmp_path, capsys):
    """featcache.verify of a CSV changed since predict wrote it, or with no record, said "run predict --csv again
    (with --force)"; the command's lines are as they were."""
    from featcache.deploy.predict import Prediction, write_csv

    written = tmp_path / "p.csv"
    write_csv(written, [Prediction("a.png", [("cat", 0.75)])])
    written.write_text(written.read_text() + "a.png,cat,0.5\n")  # changed since featcache wrote it
    assert api_error(lambda: featcache.verify(written)).endswith(
        "so it may hold your edits; run featcache.predict(..., csv=...) again with force=True to write it anew")
    copy = tmp_path / "copy.csv"  # a predictions CSV with no record beside it
    copy.write_text("input,class_1,probability_1\na.png,cat,0.75\n")
    assert api_error(lambda: featcache.verify(copy)).endswith(
        "cannot be verified; run featcache.predict(..., csv=...) again to have it checked")
    for given, said in ((written, "run predict --csv again with --force to write it anew"),
                        (copy, "run predict --csv again to have it checked")):
        proc = run_main(capsys, "verify", str(given))
        assert proc.returncode == 2 and said in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


def test_a_commands_worker_processes_say_the_commands_words():
    """The CLI's flag is per process: a loky worker of a command (curve's and probe's --jobs) built its lines in the
    API's words (cli_running() False there while the command ran; helper-198's review). The parent passes its flag
    (solver.Parent's ``cli``), as it passes ``fits_run``; a worker not told keeps the API's words, which shows
    the calls ran in other processes (in this one, inside cli_words, both would be the flag)."""
    import os

    from joblib import Parallel, delayed

    from featcache.errors import cli_running, cli_words, option
    from featcache.heads.solver import Parent, call_in_worker

    with cli_words():
        told = cli_running()
        got = Parallel(n_jobs=2, backend="loky")(delayed(call_in_worker)(Parent(os.getpid(), cli=cli), option, "--seed")
                                                 for cli in (told, False))
    assert [said for said, _ in got] == ["--seed", "seed"]
    assert option("--seed") == "seed"  # and the flag is back off here


def test_a_paths_trailing_space_stays_in_the_commands_line(cache, tmp_path, capsys):
    """errors.given stripped its whole line, a path's own trailing space too: for a folder named "d " the CLI said
    "--out .../d is a folder", another folder's name (helper-198's review; the line had kept it before)."""
    from featcache.errors import cli_words, given, given_path

    folder = tmp_path / "d "
    folder.mkdir()
    proc = run_main(capsys, "train", str(cache), "--head", "logreg", "--out", str(folder))
    assert proc.returncode == 2 and f"error: --out {folder} is a folder; name the file" in proc.stderr, proc.stderr
    with cli_words():
        assert given_path("--out", "d ") == "--out d " and given("--sizes", "") == "--sizes" and given("", " x ") == "x"
    assert given_path("--out", "d ") == "out='d '"
def test_a_heads_parameters_name_the_dict_of_the_call_and_the_commands_param(cache, tmp_path, capsys):
    """``train(params=[("C", 1)])`` was told to write "--param NAME=VALUE", and a curve's ``head_params`` dict
    "LogRegHead C nan ..." (an API tester): a Python call's dict is named as the call wrote it."""
    out = tmp_path / "h.npz"
    assert api_error(lambda: featcache.train(cache, "logreg", params=[("C", 1)], out=out)) == (
        "params item ('C', 1) is not 'NAME=VALUE'; in Python, params is a dict of the head's parameters, "
        "e.g. params={'C': 1}")
    assert api_error(lambda: featcache.train(cache, "logreg", params={"max_iter": 0}, out=out)).startswith(
        "params['max_iter']=0 is not valid; use a whole number >= 1")
    assert api_error(lambda: featcache.train(cache, "logreg", params={"C": 2}, out=out)) == "params['C']: give it with C=2"
    assert api_error(lambda: featcache.learning_curve(cache, [10], heads=("logreg",), out=tmp_path / "cv",
                                                      head_params={"logreg": {"C": float("nan")}})) == (
        "head_params['logreg']['C']=nan is not a positive number or 'cv'; e.g. head_params['logreg']['C']=0.03 or "
        "head_params['logreg']['C']='cv'")
    from featcache.heads import parse_head_params

    beyond = " is not a finite number (beyond a float's range, about 1.8e308); give a finite one"
    assert api_error(lambda: parse_head_params(["logreg.max_iter=1e400"], ["logreg", "svm"])) == (
        f"head_params item 'logreg.max_iter=1e400'{beyond}")
    assert not (tmp_path / "cv").exists() and not out.exists()
    # the command's words are as they were
    for args, line in ((["--param", "max_iter"], "--param 'max_iter' is not NAME=VALUE; write e.g. --param max_iter=..."),
                       (["--param", "C=2"], "--param C: give it with --C 2"),
                       (["--param", "max_iter=0"], "--param max_iter=0 is not valid")):
        proc = run_main(capsys, "train", str(cache), "--head", "logreg", *args, "--out", str(out))
        assert proc.returncode == 2 and line in proc.stderr, proc.stderr


# The leftovers (helper-207): the words were a process-wide flag, extract's --out a threaded ``out=`` argument.

def test_an_api_call_on_one_thread_keeps_its_words_while_a_command_runs_on_another():
    """The CLI's words were a process-wide flag: a Python call on one thread, while ``featcache.cli.main`` ran on
    another (a notebook's thread), was told the command's flags ("--batch-size 0 must be at least 1"). A context
    variable now: each thread its own words; the threads a command hands work to (``errors.carried``) its words."""
    import threading

    from featcache.embedding.engines.local import run
    from featcache.errors import cli_words, option

    entered, done = threading.Event(), threading.Event()
    said: list[str] = []

    def command():  # a command running: its thread in the CLI's words until the call on the other has been made
        with cli_words():
            entered.set()
            done.wait(30)
            with pytest.raises(FeatcacheError) as err:
                featcache.StoreSpec(batch_size=0)
            said.append(str(err.value))

    thread = threading.Thread(target=command)
    thread.start()
    try:
        assert entered.wait(30)
        assert api_error(lambda: featcache.StoreSpec(batch_size=0)) == "batch_size=0 must be at least 1"
    finally:
        done.set()
        thread.join(30)
    assert said == ["--batch-size 0 must be at least 1"]  # the command's thread kept its own

    def write(batch, features):  # on the extraction's writer thread (write_behind), as a full disk's line is made
        raise FeatcacheError(f"choose {option('--out')} elsewhere")

    for words, line in ((cli_words, "choose --out elsewhere"), (contextlib.nullcontext, "choose out elsewhere")):
        with words(), pytest.raises(FeatcacheError, match=f"^{line}$"):
            run([object(), object()], lambda b: b, lambda: (lambda x: {"f": x}), write)


def test_a_file_no_cache_at_extracts_out_with_force_names_its_store_specs_field(tmp_path):
    """A file no cache at StoreSpec(out=...) with StoreSpec(force=True): "force=True replaces only a cache featcache
    wrote", a keyword extract has not (layout.force_words is its one wording). The CLI's line is test_extract's."""
    import h5py

    source = featcache.FashionMNIST(data_dir=make_fashion_dir(tmp_path / "fm"))
    model = featcache.ModelSpec(weights="random", image_size=32)
    notes = tmp_path / "notes.h5"
    with h5py.File(notes, "w") as f:
        f["x"] = np.arange(3)
    said = api_error(lambda: featcache.extract(source, model, featcache.StoreSpec(out=notes, force=True)))
    assert said == (f"{notes} exists and is not a featcache cache; choose another StoreSpec(out=...) (it was left "
                    "untouched; StoreSpec(force=True) replaces only a cache featcache wrote)")


def test_a_file_put_at_extracts_out_meanwhile_names_its_store_specs_field(tmp_path, monkeypatch):
    """The store's writer wrote "(or choose another --out)" by hand, to a Python call too."""
    from featcache.store import writer as writer_mod

    source = featcache.FashionMNIST(data_dir=make_fashion_dir(tmp_path / "fm"))
    model = featcache.ModelSpec(weights="random", image_size=32)
    out, real = tmp_path / "c.h5", writer_mod.CacheWriter.write

    def meanwhile(*a, **kw):  # meanwhile, another program writes the user's notes at out
        out.write_text("my notes\n") if not out.exists() else None
        return real(*a, **kw)

    monkeypatch.setattr(writer_mod.CacheWriter, "write", meanwhile)
    said = api_error(lambda: featcache.extract(source, model, featcache.StoreSpec(out=out)))
    assert said.startswith(f"{out} was put there by another program during the extraction") and said.endswith(
        "(or choose another StoreSpec(out=...)) and run the same call again to finish the cache"), said
    assert out.read_text() == "my notes\n"


def test_a_path_that_is_no_path_names_the_callers_parameter(tmp_path):
    """``load_head(123)`` said "head must be a path", ``open_cache(3)`` "cache must be a path": keywords neither
    function has (their parameter is ``path``). Under the CLI the lines are as they were."""
    from featcache.errors import cli_words

    assert api_error(lambda: featcache.load_head(123)).startswith("path must be a path (got 123); pass the .keras or .npz")
    assert api_error(lambda: featcache.open_cache(3)).startswith("path must be a path (got 3); pass the .h5 file")
    assert api_error(lambda: featcache.load_model(None)).startswith("path must be a path (got None); pass the .keras file")
    assert api_error(lambda: featcache.train(None)).startswith("cache must be a path (got None)")  # train's is cache
    with cli_words(), pytest.raises(FeatcacheError, match=r"^head must be a path \(got 123\)"):
        featcache.load_head(123)


# Older lines that named a flag to a Python call (docs/api.md's "not yet in the API's words"): each now names the
# keyword there, and the command's line is byte for byte what it was (34 bad commands' stderr diffed, helper-207).

def test_trains_own_refusals_name_its_keywords(cache, tmp_path):
    out = tmp_path / "h.npz"
    assert api_error(lambda: featcache.train(cache, "keras", C=1, out=out)) == (
        "C applies to head='logreg' and 'svm' only; the keras head is set with preset and epochs")
    assert api_error(lambda: featcache.train(cache, "svm", preset="fast", out=out)) == (
        "preset applies to head='keras' only; head='svm' is set with C (and always standardizes)")
    assert api_error(lambda: featcache.train(cache, "logreg", params=["keras.epochs=3"], out=out)) == (
        "params item 'keras.epochs=3' names head 'keras', but train fits head='logreg'; a parameter of the keras head "
        "goes with it, by its name alone: head='keras', params={'epochs': 3}")
    assert api_error(lambda: featcache.train(cache, "logreg", train_size=1000, out=out)) == (
        "train_size=1000 is larger than the 60 training images in the cache; use at most 60")
    one = synthetic_cache(tmp_path / "one.h5", one_class=True)
    assert api_error(lambda: featcache.train(one, "logreg", train_size=20, out=out)).endswith(
        "extract a cache with more images (a larger train_limit) or more classes")
    assert not out.exists()


def test_probes_scoring_refusals_name_its_keywords(tmp_path):
    cache, out = synthetic_cache(tmp_path / "c.h5", layer="out_relu"), tmp_path / "p"  # a layer probe places
    assert api_error(lambda: featcache.probe(cache, holdout=0.99, out=out)).startswith(
        "holdout=0.99 of 60 training images leaves 1 on one side")
    assert api_error(lambda: featcache.probe(cache, holdout=0.5, folds=3, out=out)) == (
        "holdout and folds both choose the scored training images; give one of them")
    assert api_error(lambda: featcache.probe(cache, on_test=True, holdout=0.5, out=out)) == (
        "on_test=True scores on the test split, holdout and folds on training images; give one of them")
    assert api_error(lambda: featcache.probe(cache, view_settings="bad", out=out)) == (
        "view_settings takes TRAIN/TEST pairs separated by ';' (e.g. view_settings='orig/orig;all/orig;all/all'), got 'bad'")
    assert not out.exists()


def test_curves_baseline_and_sizes_refusals_name_its_keywords(cache, tmp_path):
    out = tmp_path / "cv"
    assert api_error(lambda: featcache.learning_curve(cache, [10, 20], baseline="scratch", out=out)) == (
        "baseline needs baseline_sizes, e.g. baseline_sizes=[1000, 4000, 15000]")
    assert api_error(lambda: featcache.learning_curve(cache, [10, 20], baseline_sizes=[100], out=out)) == (
        "baseline_sizes and baseline_params need baseline='scratch'")
    # an item of the list, as curve's spec names one: "sizes=999" was said of a list (a reviewer, 2026-12-06)
    assert api_error(lambda: featcache.learning_curve(cache, [1, 20], heads=("svm",), out=out)) == (
        "1 in sizes is smaller than the 3 classes; use at least 3 so every class is seen")
    n = featcache.open_cache(cache).sizes["train"]
    assert api_error(lambda: featcache.learning_curve(cache, [20, 999], heads=("logreg",), out=out)) == (
        f"999 in sizes is larger than the {n} training images in the cache; use at most {n}")
    assert api_error(lambda: featcache.learning_curve(cache, [20], heads=("logreg",), baseline="scratch",
                                                      baseline_sizes=[20, 999], out=out)) == (
        f"999 in baseline_sizes is larger than the {n} training images in the cache; use at most {n}")
    assert not out.exists()


def test_predicts_csv_and_finetunes_settings_name_their_keywords(tmp_path):
    from featcache.deploy.finetune import check_settings
    from featcache.deploy.predict import check_csv

    photo = make_class_tree(tmp_path / "photos", {"a": 1, "b": 1}, size=8) / "a" / "a_000.png"
    assert api_error(lambda: check_csv(Path("-"), [photo])) == (
        "csv='-' would be a file named '-': predict's predictions go to stdout without csv; name a CSV file, or "
        "csv='./-' for that name")
    assert api_error(lambda: check_csv(tmp_path, [photo])) == (
        f"csv='{tmp_path}' is a folder; name the CSV file to write, e.g. csv='{tmp_path / 'predictions.csv'}'")
    assert api_error(lambda: check_csv(photo, [photo])) == (
        f"csv='{photo}' is one of the images to predict; name a new file, e.g. csv='predictions.csv'")
    notes = tmp_path / "notes.csv"
    notes.write_text("mine\n")
    assert api_error(lambda: check_csv(notes, [photo])) == (
        f"csv='{notes}' exists and is not a predictions CSV featcache wrote; choose another csv, or pass force=True to "
        "replace it")
    assert api_error(lambda: check_settings(20, 1e9, 1, 32, 1)) == (
        "learning_rate=1e9 is far above any learning rate Adam fine-tunes with (at most 1); use e.g. learning_rate=1e-5, "
        "the lesson's")


# The rest of docs/api.md's "not yet in the API's words" (helper-221): each line below named a flag or a command to a
# Python call; the commands' lines are byte for byte what they were (59 bad commands' stdout, stderr and exit status
# diffed against the code before, /tmp/h221/runcases.sh).

def test_probes_head_params_items_name_the_dict(tmp_path, capsys):
    """probe(head_params=["max_iter=3"]) was told "--param 'max_iter=3' names no head ...; write HEAD.NAME=VALUE, e.g.
    --param logreg.max_iter=...", and a dict's bad value "--param logreg.max_iter=0 is not valid"."""
    cache, out = synthetic_cache(tmp_path / "c.h5", layer="out_relu"), tmp_path / "p"
    assert api_error(lambda: featcache.probe(cache, head_params=["logreg.max_iter"], out=out)) == (
        "head_params item 'logreg.max_iter' is not 'HEAD.NAME=VALUE'; in Python, head_params is a dict of each head's "
        "parameters, e.g. head_params={'logreg': {'max_iter': ...}}")
    assert api_error(lambda: featcache.probe(cache, head_params=["max_iter=3"], out=out)) == (
        "head_params item 'max_iter=3' names no head, and there are 2 (logreg, svm); in Python, head_params is a dict "
        "of each head's parameters, e.g. head_params={'logreg': {'max_iter': 3}}")
    assert api_error(lambda: featcache.probe(cache, heads=("logreg",), head_params={"svm": {"C": 3}}, out=out)) == (
        "head_params names head 'svm', which is not among the heads (logreg); add it to heads or drop it from head_params")
    assert api_error(lambda: featcache.probe(cache, head_params={"logreg": {"C": 3}}, out=out)) == (
        "head_params['logreg']['C']: give it with C= (a dict for one head, e.g. C={'logreg': 0.03})")
    assert api_error(lambda: featcache.probe(cache, head_params={"logreg": {"max_iter": 0}}, out=out)).startswith(
        "head_params['logreg']['max_iter']=0 is not valid; use a whole number >= 1")
    # probe's C per head (a str of pairs, or a dict) said "--C 'logreg=1,2' mixes ..."
    assert api_error(lambda: featcache.probe(cache, C="logreg=1,2", out=out)) == (
        "C='logreg=1,2' mixes a bare value with head=value pairs; use e.g. C={'logreg': 0.03, 'svm': 10}")
    assert api_error(lambda: featcache.probe(cache, heads=("logreg",), C={"svm": 1}, out=out)) == (
        "C names head 'svm', which is not among the heads (logreg); add it to heads or drop it from C")
    assert not out.exists()
    for args, line in ((["--param", "max_iter=3"], "error: --param 'max_iter=3' names no head, and there are 2 (logreg, "
                                                   "svm); write HEAD.NAME=VALUE, e.g. --param logreg.max_iter=...\n"),
                       (["--param", "logreg.C=3"], "error: --param logreg.C: give it with --C (HEAD=C for one head)\n"),
                       (["--param", "logreg.max_iter=0"], "error: --param logreg.max_iter=0 is not valid; use a whole "
                                                          "number >= 1, e.g. 2000\n")):
        proc = run_main(capsys, "probe", str(cache), *args, "--out", str(out))
        assert proc.returncode == 2 and proc.stderr.endswith(line), proc.stderr


def test_early_stopping_without_validation_rows_names_the_callers_dict(cache, tmp_path, capsys):
    """The Keras head's early stopping with validation_split 0 said "give --param validation_split=0.2 (or another
    fraction), or --param early_stopping=false" to train's params, a curve's or probe's head_params and a DenseHead."""
    said = "the keras head's early_stopping watches the validation rows, and validation_split 0 holds none out; give "
    both = {"validation_split": 0.0, "early_stopping": True}
    out = tmp_path / "h.npz"
    assert api_error(lambda: featcache.train(cache, "keras", params=both, out=out)) == (
        said + "params['validation_split']=0.2 (or another fraction), or params['early_stopping']=False")
    keras = (said + "head_params['keras']['validation_split']=0.2 (or another fraction), or "
             "head_params['keras']['early_stopping']=False")
    assert api_error(lambda: featcache.learning_curve(cache, [10], heads=("keras",), head_params={"keras": both},
                                                      out=tmp_path / "cv")) == keras
    probed = synthetic_cache(tmp_path / "p.h5", layer="out_relu")
    assert api_error(lambda: featcache.probe(probed, heads=("keras",), head_params={"keras": both},
                                             out=tmp_path / "p")) == keras
    from featcache.heads import DenseHead

    assert api_error(lambda: DenseHead(validation_split=0.0).check_params()) == (
        said + "DenseHead(validation_split=0.2) (or another fraction), or DenseHead(early_stopping=False)")
    assert not out.exists() and not (tmp_path / "cv").exists() and not (tmp_path / "p").exists()
    proc = run_main(capsys, "train", str(cache), "--head", "keras", "--param", "validation_split=0", "--out", str(out))
    assert proc.returncode == 2 and proc.stderr.endswith(
        said + "--param validation_split=0.2 (or another fraction), or --param early_stopping=false\n"), proc.stderr


def test_trains_head_prefix_line_says_the_head_argument(cache, tmp_path):
    """"train takes the parameter's name alone (its head is head='logreg')" read as no sentence."""
    assert api_error(lambda: featcache.train(cache, "logreg", params=["logreg.max_iter=50"], out=tmp_path / "h.npz")) == (
        "params item 'logreg.max_iter=50': train takes the parameter's name alone (the head is given by head='logreg'); "
        "write e.g. params={'max_iter': 50}")


def test_an_item_of_a_curves_sizes_or_seeds_is_named_as_one_item(cache, tmp_path):
    """A size was "sizes: '1x'" here and "sizes item 3" in the curve's fold check, and the example a str
    (sizes='100,250,500,1000') where a Python call's sizes are a list."""
    out = tmp_path / "cv"
    assert api_error(lambda: featcache.learning_curve(cache, ["1x"], out=out)) == (
        "'1x' in sizes is not a whole number; pass sizes like [100, 250, 500, 1000]")
    # one fix for every item that is no whole number (True and None said "pass e.g. sizes=[...]"; helper-232's review)
    for item, shown in (("x", "'x'"), (1.5, "1.5"), (True, "True"), (None, "None"), (np.float32(2.5), "np.float32(2.5)")):
        assert api_error(lambda: featcache.learning_curve(cache, [10, item], out=out)) == (
            f"{shown} in sizes is not a whole number; pass sizes like [100, 250, 500, 1000]")
    assert api_error(lambda: featcache.learning_curve(cache, [10], baseline="scratch", baseline_sizes=[0], out=out)) == (
        "0 in baseline_sizes must be at least 1; pass sizes like [100, 250, 500, 1000]")
    assert api_error(lambda: featcache.learning_curve(cache, [10], seeds=[1, "x"], out=out)) == (
        "'x' in seeds is not a whole number; pass e.g. seeds=[0]")
    assert not out.exists()


def test_a_line_that_suggests_a_command_suggests_the_call(cache, tmp_path, capsys):
    """load_model of a cache, a head or an image suggested 'featcache export HEAD --out MODEL.keras' and 'featcache
    predict MODEL IMAGE ...', and a curve's note on rows of another order 'train --train-size N --seed S'."""
    head = featcache.train(cache, "logreg", out=tmp_path / "h.npz").path
    image = make_class_tree(tmp_path / "photos", {"a": 1}, size=8) / "a" / "a_000.png"
    assert "(it is an HDF5 file, a cache?: make a model from a head with featcache.export(head, out='model.keras'))" in (
        api_error(lambda: featcache.load_model(cache)))
    assert f"(it is a head: export it first with featcache.export({str(head)!r}, out='model.keras'))" in (
        api_error(lambda: featcache.load_model(head)))
    assert "predict takes the model first, then the images: featcache.predict(model, images))" in (
        api_error(lambda: featcache.load_model(image)))
    from featcache.analysis.curve.folder import _drop_other_order

    (tmp_path / "curve.csv").write_text("head\n")
    capsys.readouterr()
    _drop_other_order({("logreg", 0, 10): {}}, tmp_path / "curve.csv")
    note = capsys.readouterr().err
    assert "in another order than featcache.train(..., train_size=N, seed=S) (before" in note and "--" not in note, note
    proc = run_main(capsys, "predict", str(head), str(image))
    assert proc.returncode == 2 and f"export it first with 'featcache export {head} --out MODEL.keras')" in proc.stderr


def test_probes_notes_under_its_table_name_its_keywords(tmp_path, capsys):
    """probe(verbose=True) prints the CLI's table and notes: "without --on-test", "(extract --layers blocks)"."""
    cache = synthetic_cache(tmp_path / "c.h5", layer="out_relu")  # the backbone's final output alone
    capsys.readouterr()
    featcache.probe(cache, heads=("logreg",), on_test=True, out=tmp_path / "p", verbose=True)
    printed = capsys.readouterr().out
    assert ("note: chosen on the test split, so its test accuracy flatters it; without on_test=True probe chooses"
            in printed), printed
    assert ("note: one layer probed; a cache of every block (featcache.extract(..., ModelSpec(layers='blocks'))) lets "
            "probe compare them" in printed), printed
    proc = run_main(capsys, "probe", str(cache), "--heads", "logreg", "--on-test", "--out", str(tmp_path / "p2"))
    assert proc.returncode == 0 and "without --on-test probe" in proc.stdout and "(extract --layers blocks)" in proc.stdout


def test_extracts_old_keyword_form_names_its_keywords(tmp_path):
    """extract()'s deprecated keyword form takes the source's and engine's options as keywords, and was told "--strict
    applies to class-folder photos only; add --images DIR" and "--workers applies only to --engine ray"."""
    data = make_fashion_dir(tmp_path / "fm")
    out = tmp_path / "c.h5"
    with pytest.warns(DeprecationWarning):
        assert api_error(lambda: featcache.extract("fashion_mnist", data_dir=data, strict=True, weights="random",
                                                   out=out)) == "strict applies to class-folder photos only; add images=DIR"
    with pytest.warns(DeprecationWarning):
        assert api_error(lambda: featcache.extract("fashion_mnist", data_dir=data, workers=2, weights="random",
                                                   out=out)) == "workers applies only to engine='ray'; add engine='ray' or drop it"
    tree = make_class_tree(tmp_path / "photos", {"a": 2, "b": 2}, size=8)
    with pytest.warns(DeprecationWarning):
        assert api_error(lambda: featcache.extract(images=tree, test_fraction=0.5, data_dir=data, weights="random",
                                                   out=out)) == (
            "data_dir applies to Fashion-MNIST only; images names your photos' folder: give only one of them")
    assert not out.exists()


def test_a_carried_function_sees_every_context_variable_of_its_caller():
    """Regression (helper-232's review): ``errors.carried`` copied the two context variables it knew by hand, so any
    other (a new wording switch) was at its default on a decoder or writer thread. The caller's whole context goes
    with it now, each call in a copy of its own: two threads run the carried function at once."""
    import contextvars
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from featcache.errors import carried, cli_running, cli_words

    setting = contextvars.ContextVar("a_setting_featcache_does_not_know", default="unset")
    both = threading.Barrier(2, timeout=30)

    def seen(_: int) -> tuple[str, bool]:
        both.wait()  # both threads inside the carried call together
        return setting.get(), cli_running()

    with cli_words():
        setting.set("the caller's")
        fn = carried(seen)
    setting.set("changed after")  # the words are the caller's when it wrapped fn
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert list(pool.map(fn, range(2))) == [("the caller's", True)] * 2


def test_a_model_a_head_or_a_skipped_file_given_to_a_call_suggests_calls(cache, tmp_path, capsys):
    """A new-user tester: evaluate(model, cache) and export(model, ...) said "classify images with 'featcache
    predict' (... 'featcache evaluate MODEL FOLDER')", evaluate(cache, head) "'featcache evaluate HEAD CACHE'",
    extract(..., verbose=True) "listed in the cache ('featcache info')", and finetune of a logreg head "(the
    lesson's rule 1)", a name a new user cannot read: the calls, and the rule said."""
    from helpers import meta_only_model

    model = meta_only_model(tmp_path / "m.keras", image_size=16)
    for call in (lambda: featcache.evaluate(model, cache), lambda: featcache.export(model, tmp_path / "x.keras")):
        said = api_error(call)
        assert "classify images with featcache.predict(model, images) (score it on photos in class folders: " \
               "featcache.evaluate(model, folder)), or pass the head it was made from" in said, said
        assert "'featcache predict" not in said and "'featcache evaluate" not in said, said
    head = featcache.train(cache, "logreg", out=tmp_path / "h.npz").path
    said = api_error(lambda: featcache.evaluate(cache, head))
    assert said.endswith("(evaluate takes the head first, then the cache: featcache.evaluate(head, cache))"), said
    # a cache where export's or finetune's head goes: their own calls, not evaluate's order (a brief, helper-310)
    said = api_error(lambda: featcache.export(cache, tmp_path / "m.keras"))
    assert said.endswith("(export takes a head and writes its model: featcache.export(head, out='model.keras'))"), said
    said = api_error(lambda: featcache.finetune(cache, out=tmp_path / "c.keras"))
    assert said.endswith("pass the .keras head file written by featcache.train(cache, head='keras') (finetune takes a "
                         "Keras head: featcache.finetune(head))"), said
    said = api_error(lambda: featcache.load_head(cache))  # a caller of the loader is told of no call
    assert said.endswith("not a head; pass the .keras or .npz head file written by featcache.train(...)"), said
    said = api_error(lambda: featcache.finetune(head, out=tmp_path / "f.keras"))
    assert "rule 1" not in said and "a head trained on the frozen base first" in said, said
    assert said.endswith("train one with featcache.train(cache, head='keras')"), said
    # the CLI's user is still told the commands
    got = run_main(capsys, "evaluate", str(cache), str(head))
    assert got.returncode == 2 and got.stderr.rstrip().endswith("'featcache evaluate HEAD CACHE')"), got.stderr
    root = make_class_tree(tmp_path / "photos", {"a": 3, "b": 3}, size=8)
    (root / "a" / "notes.txt").write_text("not a photo")
    featcache.extract(featcache.PhotoFolder(str(root), test_fraction=0.5), featcache.ModelSpec(weights="random", image_size=32),
                      featcache.StoreSpec(out=tmp_path / "c2.h5"), verbose=True)
    err = capsys.readouterr().err
    assert "listed in the cache (featcache.info(cache)): " in err and "'featcache info'" not in err, err


def test_an_evaluations_repr_is_its_score_not_its_tables(cache, tmp_path):
    """A notebook's EvalResult printed 2,448 characters: per-class dictionaries, confusion counts and misclassified
    entries (a notebook tester). Its repr says what was scored and the accuracy; text() and the fields hold the rest."""
    head = featcache.train(cache, "logreg", out=tmp_path / "h.npz").path
    ev = featcache.evaluate(head, cache, write=False)
    shown = repr(ev)
    assert shown.startswith("EvalResult(head_path=") and f"accuracy={ev.accuracy!r}" in shown
    assert not {"per_class", "confusion", "misclassified", "class_names", "overlap"} & set(re.findall(r"(\w+)=", shown))
    assert ev.per_class and ev.confusion.sum() == ev.images  # kept, only not shown
