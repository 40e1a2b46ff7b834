"""A line that names or suggests a featcache command says the call to a Python caller (``featcache.train(...)``) and
the command to a CLI user (``'featcache train'``): one home, ``errors.command`` (docs/api.md).

helper-294's brief (2026-12-06): "retrain it with 'featcache train'", "re-run 'featcache extract ...'", "'featcache
verify' reads every chunk", "the same 'featcache curve' command" and the "written by 'featcache X'" lines named
commands to API callers. Each case here failed on the code before; the CLI's words are held by the tests of each
command (test_head_files, test_curve, test_store, test_export_predict, ...), unchanged.
"""

from __future__ import annotations

import shutil
import warnings

import h5py
import numpy as np
import pytest
from helpers import run_main
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
    # a head where a cache goes (the CLI names what takes it: heads.io.not_a_cache)
    assert api_error(lambda: featcache.train(head, "logreg")).endswith("; pass a cache written by featcache.extract(...)")
    other = tmp_path / "notes.txt"
    other.write_text("not featcache's")
    assert api_error(lambda: featcache.verify(other)).endswith(
        "pass a cache (featcache.extract(...)), a head (featcache.train(...)), a model (featcache.export(...), "
        "featcache.finetune(...)), a report's record (curve.json, probe.json, evaluation.json, lesson.json) or a "
        "predictions CSV (featcache.predict(..., csv=...))")
