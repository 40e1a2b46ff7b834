"""train/evaluate on synthetic caches: the API a scikit-learn user expects, bad input as one line, user files kept,
leakage between a head's training images and the evaluated ones (issue 12 API; issue 13 #8-#11)."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import cli_one_line_error as _one_line
from test_head_files import CLASSES, blobs, synthetic_cache

import featcache
from featcache.analysis.evaluate import LeakageWarning
from featcache.cli import main
from featcache.heads import LogRegHead


def _hexes(prefix: str, n: int) -> list[str]:
    return [hashlib.sha256(f"{prefix}{i}".encode()).hexdigest() for i in range(n)]


@pytest.fixture
def cache(tmp_path) -> Path:
    return synthetic_cache(tmp_path / "c.h5")


# --- the API: train returns the fitted head, evaluate takes it -----------------------------------


def test_train_help_quotes_the_heads_own_defaults(monkeypatch):
    """The help said "5 epochs", "L2 1e-2", "logreg 0.03, svm 10" in its own words; it now reads them from the heads
    (their classes when the help is made: build_parser(help_texts=True), as when it is shown)."""
    import featcache.cli.train as cli_train
    from featcache import heads
    from featcache.cli import build_parser
    from featcache.heads import LogRegHead

    class OtherLogReg(LogRegHead):
        def __init__(self, C=0.5, cv_folds=7, **kw):
            super().__init__(C=C, cv_folds=cv_folds, **kw)

    monkeypatch.setitem(cli_train.PRESETS, "lesson", {"epochs": 9, "early_stopping": False, "l2": 0.0})
    monkeypatch.setitem(heads.HEADS, "logreg", OtherLogReg)
    sub = next(a for a in build_parser(help_texts=True)._actions if hasattr(a, "choices") and isinstance(a.choices, dict))
    helps = {a.dest: a.help for a in sub.choices["train"]._actions}
    assert helps["preset"].startswith("Keras head: 'lesson' 9 epochs; 'default' 200 epochs, L2 0.01, early stopping")
    assert "by 7-fold cross-validation" in helps["C"] and "(default: logreg 0.5, svm 10)" in helps["C"]


def test_train_returns_the_fitted_estimator_and_evaluate_takes_it(cache, tmp_path):
    res = featcache.train(cache, "logreg", C=0.5, out=tmp_path / "h.npz")
    X, y = blobs(30, seed=1)
    ref = LogRegHead(C=0.5).fit(*blobs(60))
    np.testing.assert_array_equal(res.estimator.predict_proba(X), ref.predict_proba(X))
    assert res.accuracy == ref.score(X, y) and res.meta["class_names"] == CLASSES
    # each form scored; the pair's (no head file to name the report by) also writes its report
    from_result = featcache.evaluate(res, cache, write=False)
    from_pair = featcache.evaluate((res.estimator, res.meta), cache, out=tmp_path / "b")
    from_file = featcache.evaluate(res.path, cache, write=False)
    assert from_result.accuracy == from_pair.accuracy == from_file.accuracy == res.accuracy
    assert from_pair.head_path is None and from_file.head_path == res.path
    est, meta = featcache.load_head(res.path)
    np.testing.assert_array_equal(est.predict_proba(X), ref.predict_proba(X))
    with pytest.raises(featcache.FeatcacheError, match="with its meta"):
        featcache.evaluate(res.estimator, cache)


def test_train_result_made_positionally_keeps_its_fields_of_before(tmp_path):
    """Regression (a review): score_seconds went in before details, so TrainResult(path, ..., fit_seconds, details),
    as code written before it made one, put the details in score_seconds. A field added later goes last."""
    from featcache.analysis.train import TrainResult

    res = TrainResult(tmp_path / "h.npz", "logreg", None, "out_relu", 40, 30, 0.5, 1.25, {"C": 1.0}, ("orig",),
                      ("orig",), None, 0.5)
    assert res.details == {"C": 1.0} and res.train_views == res.test_views == ("orig",) and res.score_seconds is None
    assert res.test_accuracy_orig == 0.5 and res.to_dict()["score_seconds"] is None


def test_library_functions_print_nothing_unless_verbose(cache, tmp_path, capsys, progress_on):
    res = featcache.train(cache, "logreg", out=tmp_path / "h.npz")
    featcache.evaluate(res, cache, out=tmp_path / "ev")
    assert capsys.readouterr().out == ""
    featcache.train(cache, "logreg", out=tmp_path / "h.npz", verbose=True)
    out, err = capsys.readouterr()
    assert "test accuracy" in out and "training a logreg head" in err
    import re

    assert re.search(r"; fit (\d+ ms|\d+\.\d s)", out), out
    from featcache.analysis.train import _say_trained

    res = featcache.train(cache, "logreg", out=tmp_path / "h2.npz")
    for seconds, said in ((0.012, "; fit 12 ms"), (1.25, "; fit 1.2 s")):  # a fast fit in ms (a new user saw 'fit 0.0 s')
        res.fit_seconds = seconds
        _say_trained(res)
        assert said in capsys.readouterr().out
    featcache.train(cache, "svm", out=tmp_path / "s.npz", verbose=True)
    assert "training an svm head" in capsys.readouterr().err


def test_evaluate_takes_verbose_and_write_false_writes_nothing(cache, tmp_path, capsys, progress_on):
    """A notebook user: evaluate(head, cache, verbose=True) was a TypeError (every other command takes verbose), and
    every call wrote three files under HOME/runs/eval even for ev.accuracy alone. write=False writes none, the
    report's text on the result; out=None, the default (the CLI's without --out), still writes the head's own folder,
    as None means the default report folder for train, probe and curve (a review: out=None had come to write nothing)."""
    import os

    runs = Path(os.environ["FEATCACHE_HOME"]) / "runs"
    res = featcache.train(cache, "logreg", out=tmp_path / "h.npz")
    capsys.readouterr()
    quiet = featcache.evaluate(res, cache, write=False)
    assert quiet.files == {} and quiet.to_dict()["files"] == {} and not (runs / "eval").exists()
    assert quiet.accuracy == res.accuracy and f"accuracy  {res.accuracy:.4f}" in quiet.text()
    assert capsys.readouterr() == ("", "")  # quiet unless asked
    said = featcache.evaluate(res, cache, write=False, verbose=True)
    out, err = capsys.readouterr()
    assert out == said.text() + "\n" and "scoring the logreg head on 30 test images" in err  # no plot line: none drawn
    assert not (runs / "eval").exists()
    with pytest.raises(featcache.FeatcacheError, match=r"^out='.*' names a folder for the report, but write=False writes none"):
        featcache.evaluate(res, cache, out=tmp_path / "r", write=False)
    with pytest.raises(featcache.FeatcacheError, match=r"^write must be True or False \(got 'no'\)"):
        featcache.evaluate(res, cache, write="no")
    assert not (runs / "eval").exists() and not (tmp_path / "r").exists()
    written = featcache.evaluate(res, cache, out=None, verbose=True)  # the default folder, the plot's path after the report
    out, _ = capsys.readouterr()
    assert {p.parent for p in written.files.values()} == {runs / "eval" / "h_npz"}
    assert written.files["text"].read_text() == written.text() + "\n" == quiet.text() + "\n"
    assert out == written.text() + (f"\n\nconfusion matrix plot: {written.files['png']}\nreport: {written.files['text']}; every "
                                    f"number and misclassified image: {written.files['json']}\n")
    assert featcache.evaluate(res, cache).files == written.files  # None is the default


# --- bad input: one line, exit 2, nothing written --------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--seed", "-1"], "--seed -1 is out of range; use a whole number from 0 to 4294967295"),
    (["--seed", str(2**32)], f"--seed {2**32} is out of range"),
    (["--C", "cv", "--train-size", "3"], "--C cv needs at least 2 training images of every class"),
    (["--head", "svm", "--train-size", "3"], "the SVM head's probability calibration needs at least 2"),
    # C and seed are train's own options: not offered among the parameters (--param then refused them; a review)
    (["--param", "max_iters=10"], "head 'logreg' has no parameter 'max_iters'; its parameters: cv_folds, max_iter, n_jobs, warm_start"),
    (["--head", "keras", "--param", "foo=1"], "its parameters: batch_size, dropout, early_stopping, l2, learning_rate, patience, validation_split, verbose"),
    # a bad value named as given (it said "LogRegHead max_iter 0", a class the user never wrote; a tester)
    (["--param", "max_iter=0"], "error: --param max_iter=0 is not valid; use a whole number >= 1, e.g. 2000"),
    (["--param", "max_iter"], "--param 'max_iter' is not NAME=VALUE; write e.g. --param max_iter=..."),  # not dropout=0.5, a keras
    # parameter, for a logreg head (a new-user tester)
    # curve's and probe's HEAD.NAME form: it said "is no parameter name; write e.g. --param dropout=0.5", a keras
    # parameter for a logreg head (an adversarial tester)
    (["--param", "logreg.max_iter=100"], "--param 'logreg.max_iter=100': train takes the parameter's name alone (its "
                                         "head is --head logreg); write e.g. --param max_iter=100"),
    (["--param", "svm.gamma=0.01"], "--param 'svm.gamma=0.01' names head 'svm', but train fits --head logreg; a "
                                    "parameter of the svm head goes with it, by its name alone: --head svm --param gamma=0.01"),
    (["--param", "max_iter=5", "--param", "max_iter=6"], "--param gives 'max_iter' twice; give each parameter once"),
    (["--param", "C=1"], "--param C: give it with --C 1"),
    (["--head", "keras", "--param", "epochs=3"], "--param epochs: give it with --epochs 3"),
    # a review: the value as a shell word, and a switch given off is not told to be given
    (["--head", "keras", "--param", "epochs=3 4"], "--param epochs: give it with --epochs '3 4'"),
    (["--head", "keras", "--param", "standardize=false"], "--param standardize: leave out --standardize (off by default)"),
    (["--head", "keras", "--param", "dropout=1.5"], "error: --param dropout=1.5 is not valid; use a number < 1, e.g. 0.2"),
])
def test_train_bad_input_is_one_line(cache, tmp_path, capsys, args, message):
    argv = ["train", str(cache), *(["--head", "logreg"] if "--head" not in args else []), *args]
    _one_line(capsys, argv + ["--out", str(tmp_path / "h.npz")], message)
    assert not (tmp_path / "h.npz").exists()


def test_a_param_is_not_refused_for_a_pair_with_a_class_default_the_command_does_not_use():
    """Regression (a review): heads.check_param_values built DenseHead(validation_split=0), whose class default
    early_stopping=True refused it, so `train --preset lesson --param validation_split=0` and `curve --heads keras
    --param keras.validation_split=0` (the lesson's early_stopping=False; both ran before) were refused. The pair is
    the caller's full check's, with the preset's values: the default preset still refuses it, in the head's words."""
    from featcache.analysis.train import build_head
    from featcache.errors import FeatcacheError
    from featcache.heads import parse_head_params

    est = build_head("keras", preset="lesson", params={"validation_split": 0}, n_classes=3)
    assert (est.validation_split, est.early_stopping) == (0, False)
    assert parse_head_params(["keras.validation_split=0"], ["keras"]) == {"keras": {"validation_split": 0}}
    # in the words of a Python call's params (helper-221; the command's --param line: test_api_words)
    with pytest.raises(FeatcacheError, match=r"^the keras head's early_stopping watches the validation rows, and "
                                             r"validation_split 0 holds none out; give params\['validation_split'\]=0.2 "
                                             r"\(or another fraction\), or params\['early_stopping'\]=False$"):
        build_head("keras", params={"validation_split": 0}, n_classes=3)


@pytest.mark.parametrize("kwargs, message", [
    ({"head": "logreg", "seed": -1}, "LogRegHead seed -1 is not valid; use a whole number >= 0"),
    ({"head": "svm", "seed": 2 ** 40}, "SVMHead seed 1099511627776 is not valid"),
    ({"head": "keras", "seed": -1}, "DenseHead seed -1 is not valid"),
    ({"head": "keras", "n_classes": 1}, "DenseHead n_classes 1 is not valid; use a whole number >= 2"),
    ({"head": "keras", "standardize": "yes"}, "DenseHead standardize must be True or False"),
    ({"head": "logreg", "params": {"max_iter": 0}}, "params['max_iter']=0 is not valid"),  # a call's params: its words
])
def test_build_heads_own_options_are_named_as_themselves_not_as_a_param(kwargs, message):
    """Regression (a review): _build_head checked every value in --param's words, so build_head("logreg", seed=-1)
    said "--param seed -1 is not valid", a --param never given (before: "LogRegHead seed -1"); n_classes and
    standardize likewise. train's own options are checked in their own words before the head's --param check;
    train itself names --seed."""
    from featcache.analysis.train import build_head
    from featcache.errors import FeatcacheError

    with pytest.raises(FeatcacheError, match="^" + re.escape(message)):
        build_head(**kwargs)


def test_train_takes_out_as_any_path_and_views_as_names(cache, tmp_path, monkeypatch):
    """An adversarial tester: train(out=b'h.npz') was pathlib's TypeError, where cache=b'...' was taken (one path rule:
    validate.check_path), and train_views=5 was "'int' object is not iterable"."""
    monkeypatch.chdir(tmp_path)
    res = featcache.train(str(cache).encode(), "logreg", out=b"h.npz")
    assert res.path == Path("h.npz") and (tmp_path / "h.npz").is_file()
    # in the call's words: it said --train-views, the command's flag, to a Python call (an adversarial tester, 2026-12-07)
    with pytest.raises(featcache.FeatcacheError, match=r"^train_views takes 'all' or view names, .* \(got 5\)$"):
        featcache.train(cache, "logreg", train_views=5, out=tmp_path / "g.npz")
    with pytest.raises(featcache.FeatcacheError, match=r"^test_views takes 'all' or view names, .* \(got b'orig'\)$"):
        featcache.train(cache, "logreg", test_views=b"orig", out=tmp_path / "g.npz")
    assert not (tmp_path / "g.npz").exists()


@pytest.mark.parametrize("name, value", [("train_views", b"orig"), ("test_views", 5), ("test_views", {"orig": 1})])
def test_a_curves_views_that_are_no_list_of_names_are_one_line(name, value):
    """curve(train_views=b"orig") iterated the bytes into "unknown view '111'", and curve(test_views=5) was a
    TypeError traceback ("'int' object is not iterable"): CurveSpec reads them as train's views are read
    (validate.view_items; an adversarial tester, 2026-12-07)."""
    from featcache.analysis.curve import CurveSpec

    with pytest.raises(featcache.FeatcacheError, match=rf"^{name} takes 'all' or view names, .* \(got {re.escape(repr(value))}\)$"):
        CurveSpec(sizes=[20], **{name: value})
    assert CurveSpec(sizes=[20], test_views=["orig", "flip"]).test_views == ("orig", "flip")


def test_evaluate_checks_a_fitted_head_against_its_meta(cache, tmp_path):
    """An adversarial tester: evaluate(est, cache, meta="x") was "'str' object has no attribute 'get'", and a head of
    more classes than the meta given with it (of a head on this cache) passed every check and ended in an IndexError;
    a head given as a file has its classes checked by load_head, one given in memory now too."""
    res = featcache.train(cache, "logreg", out=tmp_path / "h.npz")
    with pytest.raises(featcache.FeatcacheError, match=r"^meta must be the head's metadata, a dict \(got 'x'\); pass"):
        featcache.evaluate(res.estimator, cache, meta="x")
    for carries in (res, res.path, (res.estimator, res.meta)):  # the meta given beside them was ignored
        with pytest.raises(featcache.FeatcacheError, match=r"^meta goes with a fitted head given alone .*: leave meta out$"):
            featcache.evaluate(carries, cache, meta=res.meta, out=tmp_path / "e")
    X, y = blobs(60)
    wider = LogRegHead().fit(X, np.arange(len(y)) % (len(CLASSES) + 2))  # 5 classes, for a cache of 3
    with pytest.raises(featcache.FeatcacheError, match=r"^the head given does not go with its meta \(its classes do not "
                                                       r"index its 3 class names\); pass the meta saved with this head"):
        featcache.evaluate(wider, cache, meta=res.meta, out=tmp_path / "e")
    assert not (tmp_path / "e").exists()
    assert featcache.evaluate(res.estimator, cache, meta=res.meta, out=tmp_path / "e").accuracy == res.accuracy


def test_train_seed_is_named_as_its_option(cache, tmp_path, capsys):
    _one_line(capsys, ["train", str(cache), "--head", "logreg", "--seed", "-1", "--out", str(tmp_path / "h.npz")],
              "--seed -1 is out of range")


@pytest.mark.parametrize("C", [-1, 0, "x", float("nan"), float("inf"), True, np.bool_(True)])
def test_the_api_checks_C_as_the_cli_does(cache, tmp_path, C):
    """A new user: featcache.train(cache, "logreg", C=-1) ended in scikit-learn's InvalidParameterError; the CLI's
    --C -1 was one line. The API now checks it at its boundary with the same words. np.bool_(True), which is no
    Python bool, trained with C=1.0 where True was refused (an adversarial tester)."""
    from featcache.errors import FeatcacheError

    with pytest.raises(FeatcacheError, match=r"^C=.* is not a positive number or 'cv'; e\.g\. C=0\.03 or C='cv'$"):
        featcache.train(cache, "logreg", C=C, out=tmp_path / "h.npz")
    assert not (tmp_path / "h.npz").exists()


RANGE = ("is out of range: use a number from 1e-12 to 1e12 (below, the head ignores the features; above, every C "
         "gives the same head), or 'cv'")


@pytest.mark.parametrize("C", ["1e-310", "1e-13", "9.9e-13", "1.1e12", "1e300"])
def test_a_C_where_the_fit_means_nothing_is_one_line_with_the_range(cache, tmp_path, capsys, C):
    """Regression: --C 1e-310 passed and trained a constant head under 18 lines of scikit-learn's warnings (float32
    overflow in the penalty, lbfgs ABNORMAL). Out of validate.C_MIN..C_MAX it is one line naming the range, in train,
    probe, a curve's head parameters and the heads themselves, before anything is written."""
    from featcache.errors import FeatcacheError

    def refused(argv, message):
        try:
            rc = main(argv)
        except SystemExit as exc:  # train checks --C as argparse parses it ("argument --C: ...")
            rc = exc.code
        err = capsys.readouterr().err.strip()
        assert rc == 2 and message in err and len(err.splitlines()) == 1 and "Traceback" not in err, err

    for head in ("logreg", "svm"):
        refused(["train", str(cache), "--head", head, "--C", C, "--out", str(tmp_path / "h.npz")], f"argument --C: '{C}' {RANGE}")
    refused(["probe", str(cache), "--C", f"logreg={C}", "--out", str(tmp_path / "p")], f"--C '{C}' {RANGE}")
    # a call's C is a number (its text is refused since helper-296: test_validate::test_C_is_a_number_never_its_text_...)
    with pytest.raises(FeatcacheError, match=re.escape(f"head_params['logreg']['C']={C} is out of range: use a number from 1e-12 to 1e12")):
        featcache.learning_curve(cache, [30], heads=("logreg",), head_params={"logreg": {"C": float(C)}}, out=tmp_path / "cv")
    with pytest.raises(FeatcacheError, match=r"^C=1e-310 is out of range: use a number from 1e-12 to 1e12"):
        featcache.train(cache, "logreg", C=1e-310, out=tmp_path / "h.npz")
    with pytest.raises(FeatcacheError, match=r"^LogRegHead C 1e-310 is out of range"):
        LogRegHead(C=1e-310).fit(*blobs(30))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.h5"]


def test_the_ends_of_the_C_range_still_fit_quietly(cache, tmp_path, capsys):
    for C in ("1e-12", "1e12"):
        for head in ("logreg", "svm"):
            assert main(["train", str(cache), "--head", head, "--C", C, "--out", str(tmp_path / f"{head}_{C}.npz")]) == 0
            assert capsys.readouterr().err == ""


def test_a_fit_that_stops_at_max_iter_is_one_note_line(cache, tmp_path, capsys, monkeypatch):
    """scikit-learn's ConvergenceWarning is 8 lines per fit (with --C cv, per fold and C); train says it in one line."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    from featcache.heads import logreg
    from featcache.heads.solver import ConvergenceNote

    # No flag sets max_iter (2000; lbfgs took at most 112 iterations on real caches at any C in range): a limit of 2
    monkeypatch.setattr(logreg, "LogisticRegression", lambda **kw: LogisticRegression(**{**kw, "max_iter": 2}))
    for C in ("1e6", "cv"):
        assert main(["train", str(cache), "--head", "logreg", "--C", C, "--out", str(tmp_path / "h.npz"), "--force"]) == 0
        err = capsys.readouterr().err.strip()
        assert err.startswith("featcache train: note: logreg head: the solver stopped at its iteration limit before "
                              "converging") and len(err.splitlines()) == 1, err
        assert ("(in 26 fits, cross-validation's included)" in err) == (C == "cv"), err  # 5 folds x 5 Cs, and the refit
        assert "a smaller C converges in fewer iterations" in err and "ConvergenceWarning" not in err
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LogRegHead(C=1e6, max_iter=2).fit(*blobs(60))
    assert [w.category for w in caught] == [ConvergenceNote]
    assert not any(issubclass(w.category, ConvergenceWarning) for w in caught)


@pytest.mark.parametrize("standardize", ["no", 1, None])
def test_the_api_takes_standardize_as_a_bool_only(cache, tmp_path, standardize):
    """standardize="no" standardized (it is truthy) and saved a head featcache then refused to read (a tester)."""
    from featcache.errors import FeatcacheError

    with pytest.raises(FeatcacheError, match=r"^standardize must be True or False \(got "):
        featcache.train(cache, "keras", standardize=standardize, epochs=1, out=tmp_path / "h.keras")
    assert not (tmp_path / "h.keras").exists()


def test_C_cv_on_few_images_fits_with_fewer_folds(cache, tmp_path, capsys):
    from featcache.validate import param_text

    # 2 images per class: 2-fold cross-validation instead of 5, and a working fit.
    for head in ("logreg", "svm"):
        # and says so: cv_folds=1000 ran 46 folds and the head recorded 1000, without a word (an adversarial tester)
        with pytest.warns(UserWarning, match="C='cv' uses 2 folds, not 5: the smallest class has 2 training images"):
            res = featcache.train(cache, head, C="cv", train_size=6, out=tmp_path / f"{head}.npz", verbose=True)
        assert res.train_images == 6 and res.accuracy > 0.5  # chance is 0.33
        # the printed line says where C came from (it said only "C 0.03"; the scores are in --json)
        assert f", C {param_text(res.details['C'])} (chosen by cross-validation on the training features)" in capsys.readouterr().out


def test_a_quiet_C_cv_fit_on_few_images_says_nothing_and_a_verbose_one_notes_it_at_the_callers_line(cache, tmp_path):
    """Regression (a notebook tester): "C='cv' uses 2 folds, not 5" showed on every quiet train(..., C='cv') of a small
    cache, named at heads/views.py's line: a progress note, said as the Keras head's StratifiedValidationNote is, where
    the fit is shown (verbose, the CLI), at the caller's line; the fit is the same either way."""
    import warnings

    from featcache.heads.views import FewerFoldsNote

    for head in ("logreg", "svm"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", FewerFoldsNote)
            quiet = featcache.train(cache, head, C="cv", train_size=6, out=tmp_path / f"q-{head}.npz")
        with pytest.warns(FewerFoldsNote, match="C='cv' uses 2 folds, not 5") as caught:
            shown = featcache.train(cache, head, C="cv", train_size=6, out=tmp_path / f"v-{head}.npz", verbose=True)
        names = [w.filename for w in caught if w.category is FewerFoldsNote]  # the SVM's calibration's too
        assert names and set(names) == {__file__}, (head, names)
        assert quiet.details == shown.details and quiet.accuracy == shown.accuracy, head


def test_one_class_training_data_is_one_line(tmp_path, capsys):
    one = synthetic_cache(tmp_path / "one.h5", class_names=["only", "never"], one_class=True)
    _one_line(capsys, ["train", str(one), "--head", "logreg"], "all 60 training images are of class 'only'")


def test_train_out_refuses_a_user_file_unless_forced(cache, tmp_path, capsys):
    mine = tmp_path / "notes.npz"
    mine.write_bytes(b"my own data")
    _one_line(capsys, ["train", str(cache), "--head", "logreg", "--out", str(mine)], "exists and is not a head featcache wrote")
    assert mine.read_bytes() == b"my own data"
    _one_line(capsys, ["train", str(cache), "--head", "logreg", "--out", str(tmp_path)], "is a folder")
    assert main(["train", str(cache), "--head", "logreg", "--out", str(mine), "--force"]) == 0
    assert featcache.load_head(mine)[1]["head"] == "logreg"
    # Replacing featcache's own head of the same fit is fine; one of another fit is another result: --force
    assert main(["train", str(cache), "--head", "logreg", "--out", str(mine)]) == 0
    _one_line(capsys, ["train", str(cache), "--head", "logreg", "--C", "1", "--out", str(mine)],
              "holds a logreg head of another fit (C 0.03 there, 1 here); choose another --out, or pass --force")
    assert main(["train", str(cache), "--head", "logreg", "--C", "1", "--out", str(mine), "--force"]) == 0
    assert featcache.load_head(mine)[1]["params"]["C"] == 1.0


def test_default_names_tell_heads_apart(cache, capsys):
    paths = []
    for args in (["--C", "0.03"], ["--C", "cv"], []):
        assert main(["train", str(cache), "--head", "logreg", *args]) == 0
        paths.append(Path(capsys.readouterr().out.strip().split("-> ")[-1]))
    assert paths[0] != paths[1] and paths[0] == paths[2]  # 0.03 is the default C
    assert "_Ccv_" in paths[1].name and paths[1].suffix == ".npz"
    assert featcache.load_head(paths[0])[1]["params"]["C"] == 0.03


def test_a_heads_own_parameters_reach_the_fit_the_file_and_the_default_name(cache, tmp_path, capsys, progress_on):
    """train took only --C, --preset, --epochs and --standardize: a head's other parameters (the Keras head's
    dropout, the SVM's gamma, a new head's own) could not be set. --param NAME=VALUE sets any of them."""
    X, y = blobs(30, seed=1)
    assert main(["train", str(cache), "--head", "svm", "--param", "gamma=0.5", "--param", "probability=false"]) == 0
    out, err = capsys.readouterr()
    assert "training an svm head (gamma=0.5, probability=false)" in err  # as typed (h140)
    path = Path(out.strip().split("-> ")[-1])
    est, meta = featcache.load_head(path)
    assert meta["params"]["gamma"] == 0.5 and meta["params"]["probability"] is False
    from featcache.heads import SVMHead

    ref = SVMHead(gamma=0.5, probability=False).fit(*blobs(60))
    np.testing.assert_array_equal(est.decision_function(X), ref.decision_function(X))
    assert main(["train", str(cache), "--head", "svm"]) == 0  # the defaults' head: another file, not this one
    assert Path(capsys.readouterr().out.strip().split("-> ")[-1]) != path
    res = featcache.train(cache, "keras", preset="lesson", epochs=2, params={"dropout": 0.5, "learning_rate": 3e-3})
    assert res.params == {"dropout": 0.5, "learning_rate": 3e-3} and res.to_dict()["params"] == res.params
    assert res.meta["params"]["dropout"] == 0.5 and res.meta["params"]["epochs"] == 2  # over the preset's
    assert res.estimator.dropout == 0.5 and featcache.load_head(res.path)[0].learning_rate == 3e-3
    plain = featcache.train(cache, "keras", preset="lesson", epochs=2)
    assert plain.path != res.path and plain.meta["params"]["dropout"] == 0.2


def test_a_param_given_at_its_default_value_names_the_plain_heads_file(cache, capsys):
    """A new-user tester: '--param gamma=scale' (the SVM's default) and '--param max_iter=2000' (logreg's) wrote the
    same fit beside the plain head, under another name (a p<hash> part). A value of another type is another value."""
    from featcache.heads import LogRegHead, SVMHead

    def trained(*args):
        assert main(["train", str(cache), *args]) == 0
        return Path(capsys.readouterr().out.strip().split("-> ")[-1]).name

    assert trained("--head", "svm", "--param", f"gamma={SVMHead().gamma}") == trained("--head", "svm")
    plain = trained("--head", "logreg")
    assert trained("--head", "logreg", "--param", f"max_iter={LogRegHead().max_iter}") == plain
    assert trained("--head", "logreg", "--param", f"max_iter={LogRegHead().max_iter + 1}") != plain
    # --epochs 1 (was 2): what is checked is the file's name, and 1 overrides the preset's 5 as 2 did
    lesson = trained("--head", "keras", "--preset", "lesson", "--epochs", "1")  # over the preset's, not the class's
    assert trained("--head", "keras", "--preset", "lesson", "--epochs", "1", "--param", "dropout=0.2") == lesson
    assert trained("--head", "keras", "--preset", "lesson", "--epochs", "1", "--param", "dropout=0.3") != lesson
    # the preset's value, not the class's (early_stopping=True): the plain lesson head's file
    assert trained("--head", "keras", "--preset", "lesson", "--epochs", "1", "--param", "early_stopping=false") == lesson


def test_evaluate_default_folders_tell_heads_of_one_name_apart(cache, tmp_path):
    """eval/<head file name> dropped the suffix: a logreg fashion.npz's report replaced the Keras fashion.keras's in
    silence (a new user). Now each has its own folder, named with its kind."""
    import os

    runs = Path(os.environ["FEATCACHE_HOME"]) / "runs" / "eval"
    keras = featcache.train(cache, "keras", epochs=1, out=tmp_path / "fashion.keras").path
    logreg = featcache.train(cache, "logreg", out=tmp_path / "fashion.npz").path
    a, b = featcache.evaluate(keras, cache), featcache.evaluate(logreg, cache)
    assert {p.parent for p in a.files.values()} == {runs / "fashion_keras"}
    assert {p.parent for p in b.files.values()} == {runs / "fashion_npz"}
    assert json.loads((runs / "fashion_keras" / "evaluation.json").read_text())["head"] == str(keras)
    # Another split, and a head of the same name elsewhere, get folders of their own too (an adversarial tester)
    on_train = featcache.evaluate(logreg, cache, split="train")
    assert {p.parent for p in on_train.files.values()} == {runs / "fashion_npz_train"}
    (tmp_path / "other").mkdir()
    twin = featcache.train(cache, "logreg", C=1.0, out=tmp_path / "other" / "fashion.npz").path
    c = featcache.evaluate(twin, cache)
    folder = next(iter({p.parent for p in c.files.values()}))
    assert folder.name.startswith("fashion_npz_") and len(folder.name) == len("fashion_npz_") + 6
    assert json.loads((runs / "fashion_npz" / "evaluation.json").read_text())["head"] == str(logreg)  # kept
    assert {p.parent for p in featcache.evaluate(logreg, cache).files.values()} == {runs / "fashion_npz"}  # its own again


def test_evaluate_default_folders_tell_apart_heads_given_by_one_relative_path(cache, tmp_path, monkeypatch):
    """'evaluate same.npz c.h5' in a/, then in b/ with another head: the paths as given were equal, so b's report
    replaced a's in silence (an adversarial tester). The report records the absolute paths, which decide whose the
    folder is; one from before them is another's where its paths were relative."""
    import os
    import shutil

    runs = Path(os.environ["FEATCACHE_HOME"]) / "runs" / "eval"
    accuracies = {}
    for d, C in (("a", 0.03), ("b", 1.0)):
        (tmp_path / d).mkdir()
        shutil.copy(cache, tmp_path / d / "c.h5")
        featcache.train(tmp_path / d / "c.h5", "logreg", C=C, out=tmp_path / d / "same.npz")
    for d in ("a", "b", "a"):
        monkeypatch.chdir(tmp_path / d)
        res = featcache.evaluate("same.npz", "c.h5")
        accuracies.setdefault(d, set()).add(next(iter({p.parent for p in res.files.values()})))
    assert accuracies["a"] == {runs / "same_npz"} and accuracies["b"] != accuracies["a"]
    assert json.loads((runs / "same_npz" / "evaluation.json").read_text())["head_abspath"] == str(tmp_path / "a" / "same.npz")
    # a report of before: relative paths are no proof it is this head's
    report = json.loads((runs / "same_npz" / "evaluation.json").read_text())
    for key in ("head_abspath", "cache_abspath"):
        del report[key]
    (runs / "same_npz" / "evaluation.json").write_text(json.dumps(report))
    from featcache.analysis.evaluate import default_out
    from featcache.store import open_cache

    monkeypatch.chdir(tmp_path / "a")
    assert default_out(Path("same.npz"), {}, "out_relu", open_cache("c.h5"), "test").name != "same_npz"


# --- evaluate lists what it got wrong ----------------------------------------------------------------


def test_evaluate_lists_the_misclassified_images(tmp_path, capsys):
    noisy = synthetic_cache(tmp_path / "n.h5", n_train=60, n_test=90, d=2, noise=4.0)  # overlapping blobs: many test images wrong
    res = featcache.train(noisy, "logreg", out=tmp_path / "h.npz")
    ev = featcache.evaluate(res, noisy, write=False)  # the list is on the result; the CLI's run below writes the report
    X, y = blobs(90, 2, 1, noise=4.0)
    wrong = np.flatnonzero(res.estimator.predict(X) != y)
    assert len(wrong) > 20 and [w["row"] for w in ev.misclassified] == wrong.tolist()
    first = ev.misclassified[0]
    assert first["true"] == CLASSES[y[wrong[0]]] and first["index"] == wrong[0] and first["path"] is None
    # one set of keys (a session's brief, 2026-12-06): "image", a copy of the path or "test image INDEX", is gone;
    # the text names such an image so
    assert set(first) == {"row", "index", "path", "true", "predicted", "probability"}, first
    assert main(["evaluate", str(res.path), str(noisy), "--out", str(tmp_path / "ev2")]) == 0
    text = capsys.readouterr().out
    assert f"\n  test image {wrong[0]}: {first['true']} -> {first['predicted']} " in text, text
    assert f"misclassified: {len(wrong)} images (first 20" in text and f"... and {len(wrong) - 20} more" in text
    assert len(json.loads((tmp_path / "ev2" / "evaluation.json").read_text())["misclassified"]) == len(wrong)


# --- leakage: test images that were training images ---------------------------------------------------


def test_evaluate_warns_when_test_images_were_training_images(tmp_path, capsys, monkeypatch):
    train_h, test_h = _hexes("a", 60), _hexes("b", 30)
    head_cache = synthetic_cache(tmp_path / "a.h5", digests={"train": train_h, "test": test_h})
    res = featcache.train(head_cache, "logreg", out=tmp_path / "h.npz")
    assert len(res.meta["train_digests"]) == 60 and featcache.load_head(res.path)[1]["train_digests"].dtype == np.uint64
    clean = featcache.evaluate(res, head_cache, write=False)  # the overlap and the warning come with the scores
    assert clean.overlap["seen"] == 0
    # Another cache whose test split holds 12 of the head's training images.
    leaky = synthetic_cache(tmp_path / "b.h5", digests={"train": _hexes("c", 60), "test": train_h[:12] + test_h[12:]})
    with pytest.warns(LeakageWarning, match="12 of 30 test images were in this head's training data"):
        ev = featcache.evaluate(res, leaky, write=False)
    assert ev.overlap["seen"] == 12 and ev.overlap["rows"] == list(range(12))
    assert main(["evaluate", str(res.path), str(leaky), "--out", str(tmp_path / "e2"), "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["overlap"]["seen"] == 12
    assert out.err.strip().startswith("featcache evaluate: warning: 12 of 30 test images were in this head's training data")
    assert "the accuracy is partly on images the head was trained on, so it is not a test accuracy" in out.err
    assert len(out.err.strip().splitlines()) == 1
    # Its own training split: the line names that split (it said "60 of 60 test images", a new user's report).
    with pytest.warns(LeakageWarning, match="^60 of 60 train images were in this head's training data"):
        featcache.evaluate(res, head_cache, split="train", write=False)
    # Regression (a review, 2026-12-05): 'evaluate > file' kept a result without the line, said on stderr alone (a
    # new-user tester had found it said twice on a terminal, on both streams). The text result holds it, as
    # evaluation.txt does; stdout redirected (here), stderr says it on the terminal too, once.
    assert main(["evaluate", str(res.path), str(head_cache), "--split", "train", "--out", str(tmp_path / "e4")]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("head ")
    [kept] = [line for line in out.out.splitlines() if "training data" in line]
    assert kept.startswith("60 of 60 train images were in this head's training data: the accuracy is on images the "
                           "head was trained on, so it is not a test accuracy"), out.out
    said = [line for line in out.err.splitlines() if "training data" in line]
    assert said == [f"featcache evaluate: warning: {kept}"], out.err
    assert "this head's training data" in (tmp_path / "e4" / "evaluation.txt").read_text()  # the report file keeps it
    # On a terminal the result shows it: not said again on stderr ("the accuracy counts them as unseen", said twice)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["evaluate", str(res.path), str(head_cache), "--split", "train", "--out", str(tmp_path / "e5")]) == 0
    out = capsys.readouterr()
    assert kept in out.out.splitlines() and "training data" not in out.err, out.err


def test_caches_without_digests_report_no_overlap(cache, tmp_path):
    res = featcache.train(cache, "logreg", out=tmp_path / "h.npz")
    assert "train_digests" not in res.meta and featcache.evaluate(res, cache, write=False).overlap is None


def _with_digests(cache_path: Path, root: Path) -> Path:
    """The cache as extract wrote it, after checking its per-image digests are the sha256 of each photo's bytes."""
    cache = featcache.open_cache(cache_path)
    for split in cache.split_names:
        assert cache.digests(split) == [hashlib.sha256((root / p).read_bytes()).hexdigest() for p in cache.paths(split)]
    return cache_path


@pytest.mark.slow
def test_photo_caches_split_with_other_seeds_leak_and_evaluate_says_so(tmp_path, capsys):
    """Issue 13 #8: a head trained on the --test-fraction 0.5 --seed 0 cache, evaluated on the --seed 1 cache."""
    from helpers import make_class_tree

    root = make_class_tree(tmp_path / "photos", {"ants": 12, "bees": 12}, size=16)
    caches = [_with_digests(featcache.extract(featcache.PhotoFolder(str(root), test_fraction=0.5, seed=s),
                                              featcache.ModelSpec(weights="random", image_size=32),
                                              featcache.StoreSpec(out=tmp_path / f"s{s}.h5"), verbose=False).path, root) for s in (0, 1)]
    head = tmp_path / "h.npz"
    assert main(["train", str(caches[0]), "--head", "logreg", "--out", str(head)]) == 0
    capsys.readouterr()
    c0, c1 = (featcache.open_cache(c) for c in caches)
    trained = set(c0.paths("train"))
    seen = sum(p in trained for p in c1.paths("test"))
    assert 0 < seen < c1.sizes["test"]  # the other seed's test split holds some of the head's training photos
    assert main(["evaluate", str(head), str(caches[1]), "--out", str(tmp_path / "ev"), "--json"]) == 0
    out = capsys.readouterr()
    assert f"{seen} of {c1.sizes['test']} test images were in this head's training data" in out.err
    assert json.loads(out.out)["overlap"]["seen"] == seen
    # Its own cache's test photos were never training photos: no warning.
    assert main(["evaluate", str(head), str(caches[0]), "--out", str(tmp_path / "ev0")]) == 0
    assert "warning" not in capsys.readouterr().err


def test_train_without_head_trains_the_apis_default(cache, tmp_path, capsys):
    """--head was required on the command line while featcache.train defaults to head='keras' (a new user): the CLI's
    default is now the API's, and --help says which."""
    import inspect

    assert main(["train", str(cache), "--epochs", "1", "--out", str(tmp_path / "h.keras"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["head"] == inspect.signature(featcache.train).parameters["head"].default == "keras"
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "(default: keras)" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("epochs", [0, -1, 2.5])
def test_the_api_refuses_epochs_the_cli_refuses(cache, tmp_path, epochs):
    """featcache.train(head='keras', epochs=0) saved an untrained head scoring below chance (an adversarial tester):
    the API checks epochs as the CLI does, before any file is written."""
    with pytest.raises(featcache.FeatcacheError, match="^epochs="):
        featcache.train(cache, "keras", epochs=epochs, out=tmp_path / "h.keras")
    assert not (tmp_path / "h.keras").exists()


def test_written_by_is_a_recipes_name_or_none(cache, tmp_path):
    """train(written_by=...) was public and took 123, ["x"] and "" and stored them in the head (a reviewer, R9): a head
    marked so is one a "recipe" of that name replaces whatever its fit. One line, before any file is written (a
    recipe's context, written_by_recipe, since train's signature showed it)."""
    from featcache.analysis.train import written_by_recipe
    from featcache.recipes.lesson import LESSON

    for bad in (123, ["x"], "", "me"):
        with pytest.raises(featcache.FeatcacheError, match=rf"^written_by_recipe names the recipe writing the head, one of: "
                                                           rf"lesson \(got .*\); leave it out for a head of your own$"):
            with written_by_recipe(bad):
                featcache.train(cache, "logreg", out=tmp_path / "h.npz")
    assert not (tmp_path / "h.npz").exists()
    from featcache.heads.io import WRITTEN_BY, read_head_meta

    with written_by_recipe(LESSON):  # the lesson's own name is taken
        featcache.train(cache, "logreg", out=tmp_path / "h.npz")
    assert read_head_meta(tmp_path / "h.npz")[WRITTEN_BY] == LESSON


def test_api_arguments_of_the_wrong_type_are_one_line_naming_them(cache, tmp_path):
    """train_size=50.5 or "many", open_cache(None), train(None) and predict(model, None) ended in bare TypeErrors from
    the subset's draw, pathlib and iteration (an adversarial tester)."""
    from featcache.errors import FeatcacheError

    for kwargs, message in [({"train_size": 50.5}, r"^train_size=50\.5 is not a whole number"),
                            ({"train_size": "many"}, "^train_size='many' is not a whole number"),
                            ({"train_size": [6]}, r"^train_size=\[6\] is not a whole number")]:
        with pytest.raises(FeatcacheError, match=message):
            featcache.train(cache, "logreg", out=tmp_path / "h.npz", **kwargs)
    with pytest.raises(FeatcacheError, match="^train_size='30' is not a whole number; pass e.g. train_size=10$"):
        featcache.train(cache, "logreg", train_size="30", out=tmp_path / "h.npz")  # the text is --train-size's alone
    for call, message in [(lambda: featcache.open_cache(None), r"^path must be a path \(got None\); pass the \.h5 file"),
                          (lambda: featcache.open_cache(3), r"^path must be a path \(got 3\)"),
                          (lambda: featcache.open_cache(""), r"^path must be a path \(got ''\)"),
                          (lambda: featcache.train(None), r"^cache must be a path \(got None\)"),
                          (lambda: featcache.predict(tmp_path / "m.keras", None), r"^images must be a path \(got None\); pass image files"),
                          (lambda: featcache.predict(tmp_path / "m.keras", [tmp_path, None]), r"^each of images must be a path \(got None\)"),
                          (lambda: featcache.predict(None, [tmp_path]), r"^model must be a path \(got None\); pass the \.keras file"),
                          # a later adversarial tester: each of these was a bare TypeError, the last a message of many lines
                          (lambda: featcache.train(cache, ["logreg"]), r"^a head is named by a str, one of: keras, logreg, svm \(got \['logreg'\]\)$"),
                          (lambda: featcache.train(cache, "logreg", out=123), r"^out must be a path \(got 123\); pass the head file"),
                          (lambda: featcache.load_head(123), r"^path must be a path \(got 123\); pass the \.keras or \.npz head file"),
                          (lambda: featcache.learning_curve(cache, [20], seeds=True, heads=("logreg",)), r"^seeds takes a count K .* \(got True\)$"),
                          (lambda: featcache.probe(cache, heads=5), r"^heads takes a comma-separated str or a list \(got 5\)$"),
                          (lambda: featcache.learning_curve(cache, [20], heads=("logreg",), out=7), r"^out must be a path \(got 7\)"),
                          (lambda: featcache.predict(tmp_path / "m.keras", [np.zeros((1, 50, 50, 3), np.uint8)]),
                           # arrays are images now (a new-user tester); each of a list is one: a stack is said so, one line
                           r"^<array 0> holds an array of shape \(1, 50, 50, 3\); each array of a list is one image: pass ")]:
        with pytest.raises(FeatcacheError, match=message) as caught:
            call()
        assert "\n" not in str(caught.value)


def test_a_worker_processes_warnings_come_back_to_the_cli_once_in_its_one_line_form(capfd):
    """probe and curve with --jobs above 1 fit in loky processes, whose warnings (a convergence note) reached the
    terminal in Python's two-line form, once per worker, past the CLI's 'note:' printer (the last session's open
    list). Workers now record them (call_recording) and the parent warns again, each message once (replay)."""
    import warnings

    from joblib import Parallel, delayed

    from featcache.heads.solver import ConvergenceNote, call_recording, replay

    outs = Parallel(n_jobs=2, backend="loky")(delayed(call_recording)(warnings.warn, m, ConvergenceNote)
                                              for m in ("logreg head: stopped", "logreg head: stopped", "svm: other"))
    assert capfd.readouterr().err == ""  # nothing printed by the workers themselves
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seen: set = set()
        for result, records in outs:
            assert result is None
            replay(records, seen)
    assert [(str(w.message), w.category) for w in caught] == [("logreg head: stopped", ConvergenceNote),
                                                              ("svm: other", ConvergenceNote)]
    # named at the caller's line, as without workers (it named joblib's line in the worker process)
    assert {w.filename for w in caught} == {__file__}


def test_train_says_when_test_images_were_among_its_training_images(tmp_path, capsys):
    """Regression (an adversarial tester): photos copied from train/ into val/ under new names are scored as unseen;
    evaluate warned (LeakageWarning, the accuracy on the unseen ones) but train printed and stored the inflated
    accuracy without a word. It warns as evaluate does, and the head and the result record the overlap."""
    import shutil
    import warnings

    from helpers import make_class_tree

    from featcache.analysis.evaluate import LeakageWarning
    from featcache.heads.io import load_head

    root = tmp_path / "photos"
    make_class_tree(root / "train", {"ants": 8, "bees": 8})
    make_class_tree(root / "val", {"ants": 4, "bees": 4}, offset=50)
    for i in (0, 1):
        shutil.copy(root / "train" / "ants" / f"ants_00{i}.png", root / "val" / "ants" / f"copy_{i}.png")
    cache = featcache.extract(featcache.PhotoFolder(str(root)), featcache.ModelSpec(weights="random", image_size=32),
                              featcache.StoreSpec(out=tmp_path / "c.h5"), verbose=False).path
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = featcache.train(cache, "logreg", out=tmp_path / "h.npz")
    said = [str(w.message) for w in caught if w.category is LeakageWarning]
    assert len(said) == 1 and said[0].startswith("2 of 10 test images were in this head's training data"), said
    assert (res.overlap["seen"], res.overlap["images"]) == (2, 10)
    assert load_head(res.path)[1]["test_overlap"] == {k: res.overlap[k] for k in ("seen", "images", "unseen_accuracy")}
    ev = featcache.evaluate(res.path, cache, write=False)  # the same figures as evaluate's (the CLI's below writes)
    assert ev.overlap["seen"] == 2 and ev.overlap["unseen_accuracy"] == res.overlap["unseen_accuracy"]
    assert main(["train", str(cache), "--head", "logreg", "--out", str(tmp_path / "h2.npz")]) == 0
    err = capsys.readouterr().err
    assert "warning: 2 of 10 test images were in this head's training data" in err and len(err.strip().splitlines()) == 1
    for run in (lambda: featcache.probe(cache, heads="logreg", on_test=True, out=tmp_path / "p", plot=False),
                lambda: featcache.learning_curve(cache, [4], seeds=1, heads="logreg", out=tmp_path / "lc", plot=False)):
        with warnings.catch_warnings(record=True) as caught:  # probe --on-test and curve score on the test split too
            warnings.simplefilter("always")
            run()
        said = [str(w.message) for w in caught if w.category is LeakageWarning]
        assert len(said) == 1 and "2 of 10 test images" in said[0] and "are also among its training images" in said[0]
    for i in (0, 1):  # without the copies: nothing to say
        (root / "val" / "ants" / f"copy_{i}.png").unlink()
    clean = featcache.extract(featcache.PhotoFolder(str(root)), featcache.ModelSpec(weights="random", image_size=32),
                              featcache.StoreSpec(out=tmp_path / "clean.h5"), verbose=False).path
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert featcache.train(clean, "logreg", out=tmp_path / "h3.npz").overlap is None
        featcache.probe(clean, heads="logreg", on_test=True, out=tmp_path / "p2", plot=False)
    assert not [w for w in caught if w.category is LeakageWarning]


def test_the_leakage_line_names_copies_in_the_photo_folder_as_the_cause(tmp_path, capsys):
    """Regression (a new-user tester): copies of one ant in a photo folder, split by --test-fraction, put copies in
    both splits, and train and evaluate then said to "evaluate on images the head has not seen (a cache's test split it
    was not trained on)" of a head trained on the train split alone: the fix was wrong, the copies were the cause.
    A --test-fraction split keeps copies on one side now (no overlap at all); where the user's own train/ and val/
    hold copies, the line names them and the fix. A head trained on another cache keeps the old fix."""
    import warnings

    from helpers import make_class_tree

    tiny = featcache.ModelSpec(weights="random", image_size=32)
    one = make_class_tree(tmp_path / "one", {"ants": 6, "bees": 6})
    for i in range(3):
        (one / "ants" / f"copy_{i}.png").write_bytes((one / "ants" / "ants_000.png").read_bytes())
    cache = featcache.extract(featcache.PhotoFolder(str(one), test_fraction=0.5), tiny,
                              featcache.StoreSpec(out=tmp_path / "one.h5"), verbose=False).path
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert featcache.train(cache, "logreg", out=tmp_path / "h1.npz").overlap is None
    assert not [str(w.message) for w in caught if w.category is LeakageWarning]
    root = tmp_path / "split"
    make_class_tree(root / "train", {"ants": 8, "bees": 8})
    make_class_tree(root / "val", {"ants": 4, "bees": 4}, offset=50)
    for i in (0, 1):
        (root / "val" / "ants" / f"copy_{i}.png").write_bytes((root / "train" / "ants" / f"ants_00{i}.png").read_bytes())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # extract's own line on the copies: test_images
        cache = featcache.extract(featcache.PhotoFolder(str(root)), tiny, featcache.StoreSpec(out=tmp_path / "c.h5"),
                                  verbose=False).path
    fix = ("they are copies of this cache's own training images (the same content in its train and test splits), not "
           "images the head was given besides: remove the copies from the photo folder and extract again")
    assert main(["train", str(cache), "--head", "logreg", "--out", str(tmp_path / "h.npz")]) == 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("featcache train: warning: 2 of 10 test images were in this head's training data") and \
        err.endswith(fix) and len(err.splitlines()) == 1, err
    assert main(["evaluate", str(tmp_path / "h.npz"), str(cache), "--out", str(tmp_path / "ev")]) == 0
    out = capsys.readouterr()
    assert out.err.strip().startswith("featcache evaluate: warning: 2 of 10 test images") and \
        out.err.strip().endswith(fix), out.err
    assert "has not seen" not in out.out + out.err
    train_h = _hexes("a", 60)  # a head trained on another cache's images: they are no copies in this one
    res = featcache.train(synthetic_cache(tmp_path / "a.h5", digests={"train": train_h, "test": _hexes("b", 30)}),
                          "logreg", out=tmp_path / "h2.npz")
    leaky = synthetic_cache(tmp_path / "b.h5", digests={"train": _hexes("c", 60), "test": train_h[:12] + _hexes("d", 18)})
    with pytest.warns(LeakageWarning, match=re.escape("evaluate on images the head has not seen (a cache's test split "
                                                      "it was not trained on)")):
        featcache.evaluate(res, leaky, write=False)


def test_leakage_warnings_name_the_callers_line(tmp_path):
    """Regression (a notebook tester): train's LeakageWarning (a fixed stacklevel) was attributed to
    validate.checks_switches' wrapper, a line of featcache's own, as were evaluate's and probe's: named at the line
    of the caller's code now (errors.warn), where Python's filters and a notebook's traceback point."""
    import warnings

    train_h = _hexes("a", 60)
    cache = synthetic_cache(tmp_path / "c.h5", digests={"train": train_h, "test": train_h[:5] + _hexes("b", 25)},
                            layer="out_relu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = featcache.train(cache, "logreg", out=tmp_path / "h.npz")
        featcache.evaluate(res, cache, write=False)
        featcache.probe(cache, heads="logreg", on_test=True, out=tmp_path / "p", plot=False)
    said = [(w.filename, str(w.message)[:40]) for w in caught if w.category is LeakageWarning]
    assert len(said) == 3 and all(name == __file__ for name, _ in said), said


def test_a_keras_head_whose_validation_cut_leaves_a_class_out_is_refused(cache, capsys):
    """Regression (an adversarial tester): --train-size 2 on two classes passed the size check (every class seen),
    then the Keras head held out its last 20% for validation and trained on one image of one class: train accuracy
    1.0, val 0.0, a test score of nothing, no word. Refused before the fit; a logistic regression (no validation
    cut) trains on the same two images."""
    from featcache.errors import FeatcacheError

    with pytest.raises(FeatcacheError, match=r"the Keras head holds out its last 20% of the 3 training images for "
                                             r"validation and would train on 2 images missing 1 of the 3 classes"):
        featcache.train(cache, "keras", train_size=3)  # one image of each of the 3 classes
    assert featcache.train(cache, "logreg", train_size=3).train_images == 3


def test_a_file_saved_at_out_during_training_is_refused_in_the_clis_words(cache, tmp_path, capsys, monkeypatch):
    """Regression (adversarial testers): a file put at --out while train ran was replaced (the check was at the start
    only); then its refusal said 'choose another path, or pass force=True', the API's words, to a CLI user."""
    from helpers import saved_meanwhile

    from featcache.cli import main
    from featcache.heads import io as head_io

    out = tmp_path / "h.npz"
    saved_meanwhile(monkeypatch, head_io, "_write_npz", out, "my notes")
    assert main(["train", str(cache), "--head", "logreg", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"--out {out} exists and is not a head featcache wrote; choose another --out, or pass --force" in err, err
    assert out.read_text() == "my notes" and len(err.splitlines()) == 1


def test_a_default_head_name_too_long_for_the_file_system_is_refused_before_the_fit(monkeypatch, cache):
    """Regression (a tester): a cache extracted from a photo folder with a 210-character name (its own default name
    fits) trained, then failed on ENAMETOOLONG with "use a shorter name" of a name the user never gave. The default
    head name is checked before the fit, and the line says to give --out."""
    from featcache.analysis import train as train_mod
    from featcache.errors import FeatcacheError
    from featcache.store.layout import check_default_name

    check_default_name(Path("/x") / ("b" * 251 + ".npz"), "head file name", "b", "fix")  # 255 bytes: fits
    with pytest.raises(FeatcacheError, match=r"\(256 bytes; a file name holds at most 255\); fix$"):
        check_default_name(Path("/x") / ("b" * 252 + ".npz"), "head file name", "b", "fix")
    fit = []
    monkeypatch.setattr(train_mod, "fit_and_score", lambda *a, **k: fit.append(1))
    monkeypatch.setattr(train_mod, "default_head_path", lambda *a, **k: Path("/x") / ("b" * 260 + ".npz"))
    # the cache's data set is "blobs": named whole, no "..." after it (it said "blobs...", as if cut)
    with pytest.raises(FeatcacheError, match=r"^the default head file name, made from the data set name blobs, is "
                                             r"too long \(264 bytes; a file name holds at most 255\); name the head "
                                             r"with out='NAME\.npz'$"):
        train_mod.train(cache, head="logreg", verbose=False)
    assert fit == []
