"""A line that names or suggests a featcache command says the call to a Python caller (``featcache.train(...)``) and
the command to a CLI user (``'featcache train'``): one home, ``errors.command`` (docs/api.md).

helper-294's brief (2026-12-06): "retrain it with 'featcache train'", "re-run 'featcache extract ...'", "'featcache
verify' reads every chunk", "the same 'featcache curve' command" and the "written by 'featcache X'" lines named
commands to API callers. Each case here failed on the code before; the CLI's words are held by the tests of each
command (test_head_files, test_curve, test_store, test_export_predict, ...), unchanged.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import parse_python, run_main
from test_head_files import _rewrite_npz, synthetic_cache

import featcache
from featcache.errors import FeatcacheError


def api_error(call) -> str:
    """The one line ``call`` raises, which names no command ('featcache X')."""
    with pytest.raises(FeatcacheError) as err:
        call()
    message = str(err.value)
    assert "\n" not in message and "'featcache " not in message, message
    return message


@pytest.fixture
def cache(tmp_path):
    return synthetic_cache(tmp_path / "c.h5")


@pytest.fixture
def head(cache, tmp_path):
    return featcache.train(cache, "logreg", out=tmp_path / "h.npz").path


def test_a_head_to_retrain_names_the_call(head, tmp_path):
    from featcache.heads.io import UncheckedHeadWarning

    def as_format_1(doc, entries):  # as featcache 0.1.0 wrote it: no digest
        doc["meta"].pop("content_digest")
        doc["meta"].update(format_version=1, featcache_version="0.1.0")

    old = tmp_path / "old.npz"
    shutil.copy(head, old)
    _rewrite_npz(old, as_format_1, reseal=False)
    with pytest.warns(UncheckedHeadWarning) as caught:
        featcache.load_head(old)
    said = str(caught[0].message)
    assert said.endswith("; retrain it with featcache.train(...) to have it checked") and "'featcache" not in said, said
    # export needs the weights its features came from: a head that does not say them is retrained
    _rewrite_npz(head, lambda doc, entries: doc["meta"].pop("weights"))
    assert api_error(lambda: featcache.export(head, out=tmp_path / "m.keras")) == (
        "the head's metadata does not say which backbone weights made its features; retrain it with featcache.train(...)")


def test_an_svm_head_of_float64_support_vectors_names_the_call():
    from featcache.deploy.svmgraph import svm_layers
    from featcache.heads import SVMHead

    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    X = (rng.normal(size=(3, 4))[y] + rng.normal(size=(60, 4))).astype(np.float32)
    form = SVMHead(C=1.0, probability=False).fit(X, y).kernel_form()
    form["support"] = form["support"].astype(np.float64) + 1e-12  # no float32 number
    assert api_error(lambda: svm_layers(form, 3, 1)).endswith(
        "as featcache fits them; retrain it with featcache.train(...)")


def test_a_cache_to_extract_again_names_the_call(cache, tmp_path):
    with h5py.File(cache, "r+") as f:  # as featcache 0.2.0 never wrote it: damaged
        f.attrs["format_version"] = 1
        del f.attrs["content_digest"]
        f.attrs["featcache_version"] = "0.2.0"
    assert api_error(lambda: featcache.open_cache(cache)).endswith(
        "; re-extract it: delete it and re-run featcache.extract(...)")
    with h5py.File(cache, "r+") as f:  # as featcache 0.1.0 wrote it: read with a warning, never verified
        f.attrs["featcache_version"] = "0.1.0"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert api_error(lambda: featcache.verify(cache)).endswith(
            "cannot be verified; delete it and re-run featcache.extract(...) to have it checked")


def test_an_unfinished_cache_names_the_call_to_finish_it(cache, tmp_path):
    target = tmp_path / "new.h5"
    shutil.copy(cache, tmp_path / "new.h5.partial.h5")  # an extraction of new.h5 stopped midway
    assert api_error(lambda: featcache.open_cache(target)).endswith(
        "wait for it, or re-run the same featcache.extract(...) call to finish it (after fixing what it said, if it "
        "stopped with an error)")


def test_info_names_the_call_that_reads_every_chunk(cache, capsys):
    assert featcache.info(cache)["checksums"].endswith("(featcache.verify(cache) reads every chunk)")
    proc = run_main(capsys, "info", str(cache))  # the command's words as they were
    assert proc.returncode == 0 and "('featcache verify' reads every chunk)" in proc.stdout, proc.stdout


def test_an_unfinished_curve_names_the_call_to_finish_it(cache, tmp_path, monkeypatch):
    from featcache.analysis.curve import tasks as curve_mod

    real, calls = curve_mod.fit_point, []

    def stopped(*args, **kwargs):  # a run stopped after its first point
        if calls:
            raise KeyboardInterrupt
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(curve_mod, "fit_point", stopped)
    with pytest.raises(KeyboardInterrupt):
        featcache.curve(cache, out=tmp_path / "u", sizes=[15, 30], seeds=1, heads=("logreg",), verbose=False)
    assert api_error(lambda: featcache.verify(tmp_path / "u" / "curve.json")).endswith(
        "re-run the same featcache.curve(...) call to finish it")


def test_the_files_to_pass_name_the_call_that_writes_them(cache, head, tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    assert api_error(lambda: featcache.load_head(folder)).endswith(
        "pass the .keras or .npz head file written by featcache.train(...)")
    assert api_error(lambda: featcache.open_cache(folder)).endswith(
        "pass the .h5 file written by featcache.extract(...)")
    assert api_error(lambda: featcache.load_model(123)).endswith(
        "; pass the .keras file written by featcache.export(...) or featcache.finetune(...)")
    assert "the Keras head featcache.train(cache, head='keras') wrote" in api_error(
        lambda: featcache.finetune(None, out=tmp_path / "f.keras"))
    assert api_error(lambda: featcache.evaluate(head, cache, runtime="onnxruntime")).startswith(
        "runtime is for a model file (featcache.export(...) or featcache.finetune(...)) run on photos")
    # a head where a cache goes: named as the CLI names it (heads.io.not_a_cache), in the call's words; each call said
    # "is not a readable HDF5 file (... file signature not found); pass a cache written by featcache.extract(...)"
    named = (f"{head} is a head written by featcache.train(...), not a cache; pass the cache it was trained on (score "
             f"the head with featcache.evaluate({str(head)!r}, cache), check its content digest with "
             f"featcache.verify({str(head)!r}))")
    for call in (lambda: featcache.train(head, "logreg"), lambda: featcache.probe(head),
                 lambda: featcache.curve(head, sizes=[10], out=tmp_path / "cv"), lambda: featcache.evaluate(head, head)):
        assert api_error(call) == named
    other = tmp_path / "notes.txt"
    other.write_text("not featcache's")
    assert api_error(lambda: featcache.train(other, "logreg")).endswith(  # a file of no one's kind: as it was
        "is not a readable HDF5 file (Unable to synchronously open file (file signature not found)); pass a cache "
        "written by featcache.extract(...)")
    assert api_error(lambda: featcache.verify(other)).endswith(
        "pass a cache (featcache.extract(...)), a head (featcache.train(...)), a model (featcache.export(...), "
        "featcache.finetune(...)), a report's record (curve.json, probe.json, evaluation.json, lesson.json) or a "
        "predictions CSV (featcache.predict(..., csv=...))")


def test_open_cache_names_a_head_or_model_given_as_the_cache(head, tmp_path):
    """Regression (h306's brief, a tester): featcache.open_cache('h.npz') said "is not a readable HDF5 file (... file
    signature not found)", where train, probe, curve and evaluate name the head (heads.io.not_a_cache)."""
    from helpers import meta_only_model

    assert api_error(lambda: featcache.open_cache(head)) == api_error(lambda: featcache.train(head, "logreg"))
    assert api_error(lambda: featcache.open_cache(head)).startswith(f"{head} is a head written by featcache.train(...)")
    model = meta_only_model(tmp_path / "m.keras")
    assert api_error(lambda: featcache.open_cache(model)).startswith(f"{model} is a model written by featcache.export")
    other = tmp_path / "notes.txt"
    other.write_text("not featcache's")
    assert api_error(lambda: featcache.open_cache(other)).endswith(  # a file of no one's kind: as it was
        "is not a readable HDF5 file (Unable to synchronously open file (file signature not found)); pass a cache "
        "written by featcache.extract(...)")


# helper-297's brief (2026-12-06): lines that said "run the command again", "re-run the same command" or "re-run the
# command" to a Python caller, who ran none. Each now says the call (``errors.command_word``); the command's line is
# byte for byte as it was. Each test reaches the line through the API and, where a command reaches it, the CLI.


def both_said(capsys, argv: list[str], call) -> tuple[str, str]:
    """(what ``call`` raises, what ``featcache ARGV``'s one error line says after "error: "; exit 2, no traceback)."""
    said = api_error(call)
    proc = run_main(capsys, *argv)
    errors = [line for line in proc.stderr.splitlines() if ": error: " in line]
    assert proc.returncode == 2 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.rstrip("\n").endswith(errors[0]), proc.stderr  # the last line: notes and warnings come before
    return said, errors[0].split(": error: ", 1)[1]


def extract_both_said(capsys, tmp_path, source, source_args: list[str], *engine) -> tuple[str, str]:
    """``both_said`` of an extraction of ``source`` (random weights at 32 px): the call into api.h5, the command
    (``source_args`` its data flags, then the same settings) into cli.h5; ``engine``: an engine for both."""
    flags = ["--engine", "ray"] if engine else []
    return both_said(
        capsys, ["extract", *source_args, "--weights", "random", "--image-size", "32", *flags, "--out",
                 str(tmp_path / "cli.h5")],
        lambda: featcache.extract(source, featcache.ModelSpec(weights="random", image_size=32),
                                  featcache.StoreSpec(out=tmp_path / "api.h5"), *engine, verbose=False))


def test_a_cache_an_extract_is_writing_names_the_call_to_run_again(tmp_path, capsys):
    from test_store import _held_open

    out = tmp_path / "c.h5"
    other = _held_open(out, "exclusive_lock(p)")  # an extract of it building its network: no partial yet
    try:
        said, err = both_said(capsys, ["train", str(out)], lambda: featcache.open_cache(out))
    finally:
        other.communicate("", timeout=30)
    assert said.endswith("; wait for it to finish, then run this call again"), said
    assert err.endswith("; wait for it to finish, then run this command again"), err


def test_a_cache_moved_over_the_probed_one_names_the_call_to_run_again(tmp_path, capsys, monkeypatch):
    from featcache.analysis import probe as probe_mod

    cache = synthetic_cache(tmp_path / "c.h5", layer="out_relu")
    run_jobs, sizes = probe_mod._run_jobs, [45, 50]  # another cache each time

    def swap_before_fitting(*args, **kwargs):  # what a second extract's publish does meanwhile
        os.replace(synthetic_cache(tmp_path / "other.h5", n_train=sizes.pop(), layer="out_relu"), cache)
        return run_jobs(*args, **kwargs)

    monkeypatch.setattr(probe_mod, "_run_jobs", swap_before_fitting)
    said, err = both_said(capsys, ["probe", str(cache), "--heads", "logreg", "--out", str(tmp_path / "cli"), "--on-test"],
                          lambda: featcache.probe(cache, heads="logreg", out=tmp_path / "api", verbose=False, on_test=True))
    assert said.endswith("while the probe ran; nothing fitted on the new one was kept: run the call again"), said
    assert err.endswith("while the probe ran; nothing fitted on the new one was kept: run the command again"), err


def test_a_cache_replaced_since_it_was_opened_says_to_open_it_again(tmp_path):
    from featcache.errors import cli_words

    path = synthetic_cache(tmp_path / "c.h5")
    opened = featcache.open_cache(path)
    os.replace(synthetic_cache(tmp_path / "other.h5", n_train=45), path)  # another cache moved to its name
    assert api_error(lambda: opened.labels("train")).endswith(
        "changed since it was opened (it was replaced or rewritten); open the cache again, or run the call again, to "
        "read the file now there")
    with cli_words(), pytest.raises(FeatcacheError) as err:  # a command's read (curve's worker reopens by path)
        opened.labels("train")
    assert str(err.value).endswith("; run the command again (in Python, open the cache again) to read the file now there")


def test_an_output_removed_before_its_rename_names_the_call_to_run_again(cache, tmp_path, capsys, monkeypatch):
    from featcache.store import atomic

    real = atomic.publish

    def removed_first(tmp, path, *args, **kwargs):  # another program removes featcache's temporary file meanwhile
        os.unlink(tmp)
        return real(tmp, path, *args, **kwargs)

    monkeypatch.setattr(atomic, "publish", removed_first)
    said, err = both_said(capsys, ["train", str(cache), "--head", "logreg", "--out", str(tmp_path / "cli.npz")],
                          lambda: featcache.train(cache, "logreg", out=tmp_path / "api.npz"))
    assert said.endswith("api.npz was left as it was; run the same call again"), said
    assert err.endswith("cli.npz was left as it was; run the same command again"), err
    assert not (tmp_path / "api.npz").exists() and not (tmp_path / "cli.npz").exists()


def test_a_file_put_at_extracts_out_meanwhile_names_the_call_to_finish_it(fashion_dir, tmp_path, capsys, monkeypatch):
    from featcache.store import writer as writer_mod

    real = writer_mod.CacheWriter.write

    def meanwhile(self, *a, **kw):  # meanwhile, another program writes the user's notes at the cache's name
        self.path.write_text("my notes\n") if not self.path.exists() else None
        return real(self, *a, **kw)

    monkeypatch.setattr(writer_mod.CacheWriter, "write", meanwhile)
    source = featcache.FashionMNIST(data_dir=fashion_dir)
    said, err = extract_both_said(capsys, tmp_path, source, ["--data-dir", str(fashion_dir)])
    assert said.endswith("move api.h5 away (or choose another StoreSpec(out=...)) and run the same call again to finish "
                         "the cache"), said
    assert err.endswith("move cli.h5 away (or choose another --out) and run the same command again to finish the "
                        "cache"), err


def test_a_partial_damaged_as_it_is_written_names_the_call_to_run_again(tmp_path, capsys, monkeypatch):
    """A photo extraction's record of the files that did not decode, unreadable in the partial at the end (an I/O
    error of the disk, as h5py raises it)."""
    from helpers import make_class_tree

    root = make_class_tree(tmp_path / "photos", {"ants": 4, "bees": 4})
    real = h5py.Dataset.__getitem__

    def unreadable(self, key):
        if self.name.endswith("/problem"):
            raise OSError("Can't read data (inflate() failed)")
        return real(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", unreadable)
    source = featcache.PhotoFolder(root, test_fraction=0.5)
    said, err = extract_both_said(capsys, tmp_path, source, ["--images", str(root), "--test-fraction", "0.5"])
    assert said.endswith("(Can't read data (inflate() failed)); run the same call again: the damaged rows are extracted "
                         "again"), said
    assert err.endswith("(Can't read data (inflate() failed)); run the same command again: the damaged rows are "
                        "extracted again"), err


def test_an_extraction_whose_weights_changed_names_the_call_to_run_again(fashion_dir, tmp_path, capsys, monkeypatch):
    """The network's check of the weights the extraction began with (``Mapper._check_weights``): another identity
    where it is built, as another node's Keras cache would give it (here: the one the network is told it began with)."""
    from featcache.embedding.mapper import Mapper

    real = Mapper.__init__

    def began_with_others(self, *args, **kwargs):
        real(self, *args, **kwargs)
        self.weights_id = "sha256:" + "0" * 64

    monkeypatch.setattr(Mapper, "__init__", began_with_others)
    source = featcache.FashionMNIST(data_dir=fashion_dir)
    said, err = extract_both_said(capsys, tmp_path, source, ["--data-dir", str(fashion_dir)])
    assert said.endswith("nothing of them was stored: run the call again, with the same weights on every machine of a "
                         "Ray cluster"), said
    assert err.endswith("nothing of them was stored: run the command again, with the same weights on every machine of "
                        "a Ray cluster"), err


def test_weights_replaced_as_they_load_name_the_call_to_run_again(tmp_path, capsys, monkeypatch):
    from helpers import _standin_bytes, make_fashion_dir
    from test_checked_bytes import _replaced_after

    from featcache.embedding.mapper import Mapper

    weights, other = tmp_path / "w.h5", tmp_path / "other.h5"
    weights.write_bytes(_standin_bytes(1))
    other.write_bytes(_standin_bytes(2))
    data = make_fashion_dir(tmp_path / "fm", n_train=8, n_test=8)
    source = featcache.FashionMNIST(data_dir=str(data))

    def extract_api():
        _replaced_after(monkeypatch, Mapper, "_check_weights", weights, other)
        featcache.extract(source, featcache.ModelSpec(weights=str(weights), image_size=32),
                          featcache.StoreSpec(out=tmp_path / "api.h5"), featcache.LocalEngine(runtime="tensorflow"),
                          verbose=False)

    said = api_error(extract_api)
    assert said.endswith("nothing was made of it: run the call again with the weights left as they are"), said
    weights.write_bytes(_standin_bytes(1))
    monkeypatch.undo()
    _replaced_after(monkeypatch, Mapper, "_check_weights", weights, other)
    proc = run_main(capsys, "extract", "--data-dir", str(data), "--weights", str(weights), "--image-size", "32",
                    "--runtime", "tensorflow", "--out", str(tmp_path / "cli.h5"))
    assert proc.returncode == 2 and proc.stderr.strip().endswith(
        "nothing was made of it: run the command again with the weights left as they are"), proc.stderr


def test_a_photo_changed_since_the_scan_names_the_call_to_run_again(tmp_path, capsys, monkeypatch):
    from helpers import class_image, make_class_tree, write_image

    from featcache.sources import images

    root = make_class_tree(tmp_path / "photos", {"ants": 4, "bees": 4})
    real, rewritten = images.read_scanned, iter(range(100, 1000))

    def changed_first(path, digest):  # another program rewrites the photo after the folder was scanned
        write_image(path, class_image(1, next(rewritten)))  # another image each time: no copies made in two classes
        return real(path, digest)

    monkeypatch.setattr(images, "read_scanned", changed_first)
    source = featcache.PhotoFolder(root, test_fraction=0.5)
    said, err = extract_both_said(capsys, tmp_path, source, ["--images", str(root), "--test-fraction", "0.5"])
    assert "changed on disk since it was scanned; re-run the call" in said, said
    assert "changed on disk since it was scanned; re-run the command" in err, err


def test_a_model_replaced_while_it_is_read_names_the_call_to_rerun(tmp_path, capsys, monkeypatch):
    from helpers import class_image, write_image
    from test_export_predict import _softmax_model

    import featcache.deploy.predict as predict

    model = _softmax_model(tmp_path / "m.keras", 3, ["ants", "bees", "wasps"])
    replacement = _softmax_model(tmp_path / "other.keras", 2, ["ants", "bees"]).read_bytes()
    image = write_image(tmp_path / "a.png", class_image(0, 0, 16))
    listed = predict.collect_inputs

    def then_replaced(*args, **kwargs):  # another program writes the model file while predict lists the images
        out = listed(*args, **kwargs)
        model.write_bytes(replacement)
        return out

    monkeypatch.setattr(predict, "collect_inputs", then_replaced)
    said = api_error(lambda: featcache.predict(model, [image], runtime="tensorflow"))
    assert said == (f"{model} changed while it was read (it is no longer the file read at the start); rerun the call "
                    "once the file is no longer being written"), said
    # the command's line, as it was: test_export_predict's test_a_model_file_replaced_while_predict_starts_is_refused


def test_a_changed_report_names_the_call_that_wrote_it(tmp_path, capsys):
    cache = synthetic_cache(tmp_path / "c.h5", layer="out_relu")
    featcache.probe(cache, heads="logreg", out=tmp_path / "run", verbose=False, on_test=True)
    table = tmp_path / "run" / "probe.csv"
    table.write_text(table.read_text().replace("logreg", "logreg ", 1))  # edited since featcache wrote it
    record = tmp_path / "run" / "probe.json"
    said, err = both_said(capsys, ["verify", str(record)], lambda: featcache.verify(record))
    assert said.endswith("records); run the call that wrote the report again"), said
    assert err.endswith("records); run the command that wrote the report again"), err


def test_a_failed_ray_run_names_the_extract_call_to_resume(fashion_dir, tmp_path, capsys, monkeypatch):
    """A Ray run that fails (a node died): the line names extract, the one call that runs Ray. Ray itself is stood
    in for (starting it costs 20 s): the run's own steps until the dataset, which fails as a lost node does."""
    import contextlib
    import types

    from featcache.embedding.engines import ray_engine

    class RayError(Exception):
        pass

    ray = types.SimpleNamespace(is_initialized=lambda: True, exceptions=types.SimpleNamespace(RayError=RayError),
                                data=types.SimpleNamespace(exceptions=types.SimpleNamespace(UserCodeException=RayError)))

    def lost_node(*args, **kwargs):
        raise RayError("a node died")

    monkeypatch.setattr(ray_engine, "require", lambda: ray)
    monkeypatch.setattr(ray_engine, "plan_cpus", lambda *args: 1)
    monkeypatch.setattr(ray_engine, "_data_context", lambda ray: contextlib.nullcontext())
    monkeypatch.setattr(ray_engine, "_dataset", lost_node)
    source = featcache.FashionMNIST(data_dir=fashion_dir)
    said, err = extract_both_said(capsys, tmp_path, source, ["--data-dir", str(fashion_dir)], featcache.RayEngine())
    assert said == ("the Ray run failed (RayError: a node died); the batches written so far are kept: re-run the same "
                    "featcache.extract(...) call to resume"), said
    assert err == ("the Ray run failed (RayError: a node died); the batches written so far are kept: re-run the same "
                   "command to resume"), err


def test_what_a_ray_worker_says_is_in_the_commands_words():
    """A Ray task or actor is another process, which starts without the command's words (``errors.cli_words``): what
    it said (a photo changed since the scan, the weights on a node) named "the call" to a command's user."""
    import pickle

    from featcache.errors import cli_words, command_word, for_process

    with cli_words():
        in_command = pickle.dumps(for_process(command_word))
    in_call = pickle.dumps(for_process(command_word))
    assert (pickle.loads(in_command)(), pickle.loads(in_call)()) == ("command", "call")


def test_a_folder_given_as_a_model_is_named_a_folder(tmp_path):
    folder = tmp_path / "m.keras"
    folder.mkdir()
    (folder / "inside.keras").write_bytes(b"")
    assert api_error(lambda: featcache.load_model(folder)) == (
        f"{folder} is a folder, not a model file (it holds inside.keras); pass the .keras file written by "
        "featcache.export(...) or featcache.finetune(...)")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert api_error(lambda: featcache.load_model(empty)) == (
        f"{empty} is a folder, not a model file; pass the .keras file written by featcache.export(...) or "
        "featcache.finetune(...)")
    # predict's, from the same home, with its order (predict(folder, model) swapped): it named no model inside
    assert api_error(lambda: featcache.predict(folder, [tmp_path / "x.png"])) == (
        f"{folder} is a folder, not a model file (it holds inside.keras); pass the .keras file written by "
        "featcache.export(...) or featcache.finetune(...) first, then the images")
    assert api_error(lambda: featcache.load_head(folder)) == (  # load_head's words, as they were
        f"{folder} is a folder, not a head file (it holds inside.keras); pass the .keras or .npz head file written by "
        "featcache.train(...)")


# What a line says to run again, in words that are a command's only: "run the command again", "re-run the same
# command", "then run this command again", "re-run the command", "rerun the command once ...", "run the command that
# wrote the report again".
RUN_AGAIN = re.compile(r"command again|same command|this command|run the command\b")  # "rerun the command" too
HOMES = {"option", "command_word"}  # errors' homes of the caller's words: a command's words go in them


def run_again_lines(root: Path) -> list[str]:
    """``file:line: text`` of each string in featcache's code (not its docstrings; not cli/, whose lines are a
    command's) that says to run a command again outside ``errors.option`` and ``command_word``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] == "cli":
            continue
        tree = parse_python(path.read_text())
        skip = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}  # docstrings, bare strings
        for call in ast.walk(tree):
            name = getattr(call.func, "id", getattr(call.func, "attr", None)) if isinstance(call, ast.Call) else None
            if name in HOMES:
                skip |= {id(n) for arg in call.args for n in ast.walk(arg)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
                    and RUN_AGAIN.search(node.value)):
                found.append(f"{rel}:{node.lineno}: {node.value}")
    return found


def test_no_line_tells_a_python_caller_to_run_a_command_again():
    """The scan of helper-297's brief: every such line goes through ``errors.command_word`` (or ``option``), so a
    Python caller reads "call". On the code before, it found 20 strings in 9 files, the lines of the tests above."""
    assert run_again_lines(Path(featcache.__file__).parent) == []


def test_the_scan_finds_such_a_line(tmp_path):
    """The scan is no scan of nothing: a line in a command's words outside the homes is found, one in them is not."""
    (tmp_path / "m.py").write_text('"""Re-run the same command: a docstring."""\n'
                                   'def f():\n'
                                   '    a = option("run the command again", "run the call again")\n'
                                   '    return f"{a}; then run this command again"\n')
    assert run_again_lines(tmp_path) == ["m.py:4: ; then run this command again"]


def test_out_of_memory_says_call_to_a_python_caller_and_command_to_the_cli():
    """Regression (helper-297's report): the MemoryError line, which a photo decoded in a Python call meets
    (``images``' system limit), told a Python caller to "give the command less to hold at once"."""
    from featcache.errors import cli_words, out_of_memory

    said = out_of_memory(MemoryError("Unable to allocate 6.02 GiB for an array"))
    assert said.startswith("out of memory (Unable to allocate 6.02 GiB") and "give the call less to hold" in said
    with cli_words():
        assert "give the command less to hold at once, and re-run" in out_of_memory(MemoryError())
