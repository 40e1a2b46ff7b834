"""A Python call's lines name its keywords and suggest calls, never a command's flags or commands (docs/api.md: "a line
that suggests running something suggests the call"); the same line under a command keeps the command's words.

A new-user tester of the Python API (2026-12-06): an unknown preset said "unknown --preset 'fast'"; a missing cache
"run 'featcache extract' first", a missing head "train one with 'featcache train'"; probe's verbose advice was the
``featcache train ... --C 0.03`` command; the lesson's report "with --runtime auto"; evaluate of a TrainResult whose
file holds another head now scored it from memory without a word; train and probe worded an unknown head two ways;
"sizes item 0" read as a position; a logreg given epochs alone was told of preset and standardize too; and the SVM's
slow-fit note said "with probability calibration" of a fit without it. Each test here failed on the code before.
"""

from __future__ import annotations

import re
import warnings

import pytest
from helpers import run_main
from test_api_words import api_error
from test_head_files import synthetic_cache

import featcache
from featcache.heads import DenseHead


@pytest.fixture
def cache(tmp_path):
    return synthetic_cache(tmp_path / "c.h5")


def test_an_unknown_preset_names_the_keyword_in_a_call_and_the_flag_in_a_command(cache, tmp_path, capsys):
    said = "unknown preset='fast'; choose one of: lesson, default"
    assert api_error(lambda: featcache.train(cache, "keras", preset="fast", out=tmp_path / "k.keras")) == said
    assert api_error(lambda: DenseHead.from_preset("fast")) == said
    assert api_error(lambda: DenseHead.preset_params("fast")) == said
    proc = run_main(capsys, "train", str(cache), "--head", "keras", "--preset", "fast", "--out", str(tmp_path / "k.keras"))
    assert proc.returncode == 2 and proc.stderr.endswith(
        "error: unknown --preset 'fast'; choose one of: lesson, default\n"), proc.stderr


def test_a_missing_cache_head_or_model_suggests_the_call(cache, tmp_path, capsys):
    nope = tmp_path / "nope.h5"
    for call in (featcache.open_cache, featcache.verify):
        assert api_error(lambda: call(nope)) == f"cache not found: {nope}; run featcache.extract(...) first or check the path"
    head = tmp_path / "m.keras"
    assert api_error(lambda: featcache.evaluate(head, cache)) == (
        f"head file not found: {head}; train one with featcache.train(...)")
    assert api_error(lambda: featcache.predict(head, [str(cache)])) == (
        f"model file not found: {head}; make one with featcache.export(...) or featcache.finetune(...)")
    # the commands' lines are as they were
    assert run_main(capsys, "verify", str(nope)).stderr.endswith(
        f"cache not found: {nope}; run 'featcache extract' first or check the path\n")
    assert run_main(capsys, "evaluate", str(head), str(cache)).stderr.endswith(
        f"head file not found: {head}; train one with 'featcache train'\n")


def test_probes_advice_is_a_train_call_that_runs_and_fits_the_best_row(tmp_path, capsys):
    probed = synthetic_cache(tmp_path / "p.h5", layer="out_relu")  # a MobileNetV2 layer's name: probe places it
    featcache.probe(probed, heads="svm", head_params={"svm": {"gamma": 0.5}}, on_test=True, out=tmp_path / "p",
                    verbose=True)
    line = next(s for s in capsys.readouterr().out.splitlines() if s.startswith("fit it on every training image: "))
    call = line.removeprefix("fit it on every training image: ").partition(" (probe fitted it")[0]
    assert call == f"featcache.train({str(probed)!r}, 'svm', layer='out_relu', C=10, params={{'gamma': 0.5}})", line
    assert line.endswith(" (probe fitted it with probability=False for speed, train with its default: the accuracy may "
                         "differ a little)"), line
    assert "--" not in line
    res = eval(call, {"featcache": featcache})  # the line as a user pastes it: it runs, and fits that head
    assert (res.meta["layer"], res.meta["head"], res.estimator.C, res.estimator.gamma) == ("out_relu", "svm", 10, 0.5)
    # the command's line is the command, as it was
    proc = run_main(capsys, "probe", str(probed), "--heads", "svm", "--param", "svm.gamma=0.5", "--on-test",
                    "--out", str(tmp_path / "p2"))
    assert f"fit it on every training image: featcache train {probed} --head svm --layer out_relu --C 10 --param " \
           "gamma=0.5 (probe fitted it with probability=false for speed" in proc.stdout, proc.stdout


def test_evaluating_a_train_result_whose_file_holds_another_head_says_it_scores_the_one_in_memory(cache, tmp_path):
    out = tmp_path / "h.npz"
    r1 = featcache.train(cache, "logreg", out=out, force=True)
    r2 = featcache.train(cache, "logreg", C=0.1, out=out, force=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # r2 is its file's head: no word
        assert featcache.evaluate(r2, cache, write=False).head_path == out
    with pytest.warns(featcache.analysis.evaluate.HeadFromMemoryWarning) as said:
        ev = featcache.evaluate(r1, cache, write=False)
    assert ev.head_path is None and "head      (in memory)" in ev.text()
    assert [str(w.message) for w in said] == [
        f"{out}, the file of this TrainResult, now holds another head, written there since: evaluating the head the "
        f"TrainResult holds in memory (the report's \"head (in memory)\"); pass {str(out)!r} to evaluate the head in the file"]
    assert ev.accuracy == featcache.evaluate((r1.estimator, r1.meta), cache, write=False).accuracy  # r1's own head
    out.unlink()
    with pytest.warns(featcache.analysis.evaluate.HeadFromMemoryWarning, match=r", is gone: evaluating the head the "
                      r"TrainResult holds in memory \(the report's \"head \(in memory\)\"\)$"):
        featcache.evaluate(r1, cache, write=False)


def test_an_unknown_head_is_worded_alike_by_train_probe_and_curve(cache, tmp_path):
    assert api_error(lambda: featcache.train(cache, "forest")) == "unknown head 'forest'; choose one of: keras, logreg, svm"
    for call in (lambda: featcache.probe(cache, heads="forest"), lambda: featcache.curve(cache, [10], heads=("forest",))):
        assert api_error(call) == "heads: unknown head 'forest'; choose one of: keras, logreg, svm"


def test_a_size_of_a_curve_is_named_by_its_value_not_as_a_position(cache, tmp_path):
    """"sizes item 0 is not a size" of [100, 200, 0] read as the list's first item."""
    assert api_error(lambda: featcache.curve(cache, [10, 20, 0], out=tmp_path / "cv")) == (
        "0 in sizes must be at least 1; pass sizes like [100, 250, 500, 1000]")


def test_a_keras_option_given_to_another_head_names_only_the_options_given(cache, tmp_path, capsys):
    out = tmp_path / "h.npz"
    assert api_error(lambda: featcache.train(cache, "logreg", epochs=5, out=out)) == (
        "epochs applies to head='keras' only; head='logreg' is set with C (and always standardizes)")
    assert api_error(lambda: featcache.train(cache, "svm", preset="lesson", standardize=True, out=out)) == (
        "preset and standardize apply to head='keras' only; head='svm' is set with C (and always standardizes)")
    proc = run_main(capsys, "train", str(cache), "--head", "logreg", "--epochs", "5", "--out", str(out))
    assert proc.stderr.endswith(
        "error: --epochs applies to --head keras only; --head logreg is set with --C (and always standardizes)\n")


def test_the_svms_slow_fit_note_says_whether_this_fit_calibrates(tmp_path, monkeypatch, capsys, progress_on):
    from featcache.heads import SVMHead, svm

    calibrated, plain = SVMHead().fit_time_note(20_000), SVMHead(probability=False).fit_time_note(20_000)
    assert "to fit (calibrated)" in calibrated and "to fit (uncalibrated)" in plain

    def fit_range(note):
        low, high = re.search(r"take (\S+ \S+) to (\S+ \S+) to fit", note).groups()
        return [float(t.split()[0]) * {"s": 1, "min": 60, "h": 3600}[t.split()[1]] for t in (low, high)]

    (lo, hi), (plain_lo, plain_hi) = fit_range(calibrated), fit_range(plain)
    assert plain_lo < lo and plain_hi < hi  # the range of the fit said, not the calibrated one's
    # probe's own fits skip the calibration: its note says so (said before a fit of SLOW_FIT_ROWS rows or more)
    monkeypatch.setattr(svm, "SLOW_FIT_ROWS", 10)
    featcache.probe(synthetic_cache(tmp_path / "p.h5", layer="out_relu"), heads="svm", on_test=True,
                    out=tmp_path / "p", verbose=True)
    notes = [s for s in capsys.readouterr().err.splitlines() if "an SVM is slow:" in s]
    assert notes and all("to fit (uncalibrated)" in s for s in notes), notes
