"""Progress of long work that has no loop of its own to draw: a blocking fit's heartbeat, the timing lines around it."""

from __future__ import annotations

import io
import json
import re
import time

import pytest
from test_head_files import synthetic_cache

import featcache
from featcache import progress
from featcache.heads.dense import StratifiedValidationNote

pytestmark = pytest.mark.usefixtures("progress_on")  # drawn, as for a user


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_heartbeat_says_a_blocking_call_is_still_running(monkeypatch):
    """scikit-learn's SVC has no callback: 'train --head svm' on 8,000 images ran 88 s with nothing on screen (a
    new-user tester). A heartbeat prints an elapsed-time line from a thread while the block runs: plain lines off a
    terminal, one line redrawn in place and wiped at the end on one, nothing with FEATCACHE_PROGRESS=off."""
    log = io.StringIO()
    with progress.heartbeat("svm fit", every=0.05, stream=log):
        time.sleep(0.3)
    lines = log.getvalue().splitlines()
    assert len(lines) >= 3 and all(line.startswith("svm fit: still running, ") and line.endswith(" s") for line in lines)
    assert "\r" not in log.getvalue()
    after = len(log.getvalue())
    time.sleep(0.15)
    assert len(log.getvalue()) == after  # the thread stopped with the block

    monkeypatch.setenv("TERM", "xterm")
    term = Terminal()
    with progress.heartbeat("svm fit", every=0.05, stream=term):
        time.sleep(0.2)
    text = term.getvalue()
    assert text.startswith("\rsvm fit: still running, ") and "\n" not in text and text.endswith("\r")
    assert text.rsplit("\r", 2)[-2].strip() == ""  # the last line drawn is wiped: the result line starts clean

    failed = io.StringIO()
    with pytest.raises(KeyError):  # the thread ends when the block raises too
        with progress.heartbeat("svm fit", every=0.02, stream=failed):
            time.sleep(0.1)
            raise KeyError
    after = len(failed.getvalue())
    time.sleep(0.1)
    assert after and len(failed.getvalue()) == after

    quiet = io.StringIO()
    monkeypatch.setenv("FEATCACHE_PROGRESS", "off")
    with progress.heartbeat("svm fit", every=0.01, stream=quiet):
        time.sleep(0.1)
    assert quiet.getvalue() == ""


def test_a_heartbeat_off_a_terminal_keeps_the_pace_of_every_log_line(monkeypatch):
    """Off a terminal the heartbeat wrote every 30 s while progress's rule for logs is a line a minute, LOG_INTERVAL (a
    reviewer, 2026-12-05): one home for a log's pace. HEARTBEAT_EVERY is a terminal's, redrawn in place."""
    monkeypatch.setattr(progress, "HEARTBEAT_EVERY", 0.02)
    monkeypatch.setattr(progress, "LOG_INTERVAL", 60.0)
    log = io.StringIO()
    with progress.heartbeat("svm fit", stream=log):
        time.sleep(0.15)
    assert log.getvalue() == ""  # the first line comes after a minute
    monkeypatch.setenv("TERM", "xterm")
    term = Terminal()
    with progress.heartbeat("svm fit", stream=term):
        time.sleep(0.15)
    assert "\rsvm fit: still running, 0 s" in term.getvalue()


@pytest.mark.parametrize("head, C", [("svm", None), ("logreg", "cv")])
def test_train_of_a_scikit_learn_head_shows_a_heartbeat_while_it_fits(head, C, tmp_path, monkeypatch, capsys):
    """train's SVM fit, and logreg's cross-validation of C, block without a callback; a verbose train (the CLI's)
    says every LOG_INTERVAL seconds off a terminal (HEARTBEAT_EVERY on one) that the fit is still running, a quiet one (the library's default) nothing."""
    cache = synthetic_cache(tmp_path / "c.h5")
    cls = featcache.heads.HEADS[head]
    fit = cls.fit

    def slow_fit(self, *args, **kwargs):  # as a fit of many images: longer than the heartbeat's period
        time.sleep(0.3)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(cls, "fit", slow_fit)
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.05)  # captured, not a terminal: a log's pace
    featcache.train(cache, head, C=C, out=tmp_path / "h.npz", verbose=True)
    beats = [line for line in capsys.readouterr().err.splitlines() if "still running" in line]
    assert beats and beats[0].startswith(f"{head} head: still running, ")
    featcache.train(cache, head, C=C, out=tmp_path / "h.npz")
    assert capsys.readouterr().err == ""


def test_train_says_when_it_scores_and_how_long_scoring_took(tmp_path, monkeypatch, capsys):
    """A notebook user: an SVM train fitted in 20 s, then scored the test images for 90 s under "svm head: still
    running, 60 s", the fit's words, and TrainResult had fit_seconds alone (119 s in all). The scoring is said as
    scoring (a status line when it starts, its heartbeat's own words) and timed: score_seconds, in --json too."""
    from helpers import run_main

    from featcache.heads import SVMHead

    cache = synthetic_cache(tmp_path / "c.h5")
    predict = SVMHead.predict

    def slow_predict(self, *args, **kwargs):  # as scoring many test images against many support vectors
        time.sleep(0.3)
        return predict(self, *args, **kwargs)

    monkeypatch.setattr(SVMHead, "predict", slow_predict)
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.05)  # captured, not a terminal: a log's pace
    res = featcache.train(cache, "svm", out=tmp_path / "h.npz", verbose=True)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"fitted in \S+ m?s; scoring 30 test images \.\.\.", line))
    beats = [line for line in lines[start:] if "still running" in line]  # after the fit (whose own say "svm head: ...")
    assert beats and all(line.startswith("svm head, scoring 30 rows: still running, ") for line in beats), err
    assert res.score_seconds >= 0.3 and res.to_dict()["score_seconds"] == res.score_seconds
    assert f"; fit {progress.seconds_text(res.fit_seconds)}, scoring {progress.seconds_text(res.score_seconds)}" in out
    proc = run_main(capsys, "train", str(cache), "--head", "svm", "--out", str(tmp_path / "h2.npz"), "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["score_seconds"] >= 0.3, proc.stderr


def _slow_svm(monkeypatch) -> None:
    """The SVM head's fit made longer than a heartbeat's period (LOG_INTERVAL, captured output being no terminal)."""
    from featcache.heads import SVMHead

    fit = SVMHead.fit

    def slow_fit(self, *args, **kwargs):  # as a fit of many images
        time.sleep(0.3)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(SVMHead, "fit", slow_fit)
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.05)


@pytest.mark.parametrize("command", ["curve", "probe"])
def test_curve_and_probe_say_a_slow_fit_still_runs_and_keep_json_pure(command, tmp_path, monkeypatch, capsys):
    """The heartbeat was train's alone: curve's and probe's bars move between fits, and an SVM fit of many rows inside
    them ran minutes without a line. Their fits say they still run as train's do (heads.views.fit_head), on stderr,
    so --json's stdout stays the JSON alone; nothing with FEATCACHE_PROGRESS=off, nor from a quiet library call."""
    from helpers import run_main

    cache = synthetic_cache(tmp_path / "c.h5", layer="out_relu")  # a MobileNetV2 layer: probe places it
    _slow_svm(monkeypatch)

    def argv(out: str) -> list[str]:
        return {"curve": ["curve", str(cache), "--sizes", "30,60", "--seeds", "1", "--heads", "svm"],
                "probe": ["probe", str(cache), "--heads", "svm"]}[command] + ["--out", str(tmp_path / out), "--no-plot", "--json"]

    res = run_main(capsys, *argv("shown"))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["csv"].endswith(".csv")  # the JSON alone
    beats = [line for line in res.stderr.splitlines() if "still running" in line]
    assert beats and all(line.startswith("svm head: still running, ") for line in beats), res.stderr
    monkeypatch.setenv("FEATCACHE_PROGRESS", "off")
    res = run_main(capsys, *argv("off"))
    assert res.returncode == 0 and json.loads(res.stdout)["csv"] and "still running" not in res.stderr, res.stderr
    monkeypatch.delenv("FEATCACHE_PROGRESS")
    run = {"curve": lambda: featcache.learning_curve(cache, sizes=[30, 60], seeds=1, heads="svm", out=tmp_path / "q", plot=False),
           "probe": lambda: featcache.probe(cache, heads="svm", out=tmp_path / "q", plot=False)}[command]
    run()  # verbose=False, the library's default
    assert capsys.readouterr().err == ""


def test_a_curve_says_its_svms_slow_fit_note_once_for_its_largest_fit(tmp_path, monkeypatch, capsys):
    """train said before a large SVM fit how long it may take; a curve, whose largest
    points are the SVM's longest fits, said nothing. It says so once per size larger than any it was said for; the
    curve fits its longest tasks first, so that is once, before its largest fit, not once per fit (4 here)."""
    from featcache.heads import svm

    cache = synthetic_cache(tmp_path / "c.h5")
    monkeypatch.setattr(svm, "SLOW_FIT_ROWS", 10)
    res = featcache.learning_curve(cache, sizes=[20, 40], seeds=2, heads="svm", out=tmp_path / "c", plot=False, verbose=True)
    notes = [line for line in capsys.readouterr().err.splitlines() if "an SVM is slow:" in line]
    assert res.fits == 4 and [re.search(r"machine ([\d,]+) training rows", n).group(1) for n in notes] == ["40"], notes
    featcache.learning_curve(cache, sizes=[20, 40], seeds=2, heads="svm", out=tmp_path / "q", plot=False)
    assert capsys.readouterr().err == ""  # a quiet curve (the library's default): no note either


def test_a_note_said_before_the_fits_are_handed_out_is_not_said_again_by_a_worker(monkeypatch, capsys):
    """The command says each head's slow-fit note for its largest fit before its workers start
    (heads.views.say_slow_fit_notes), and passes them what it said (progress.fits_run): a worker, which starts with
    no record of its own (a new process), says it for no fit as large; each had said it once, up to --jobs times."""
    import os

    import numpy as np

    from featcache.heads import LogRegHead, SVMHead, make_head, svm
    from featcache.heads.solver import Parent, call_in_worker
    from featcache.heads.views import fit_head, say_slow_fit_notes

    monkeypatch.setattr(svm, "SLOW_FIT_ROWS", 10)
    X, y = np.random.default_rng(0).normal(size=(40, 4)), np.arange(40) % 3
    with progress.showing_fits():
        say_slow_fit_notes([(SVMHead(), 20), (SVMHead(), 40), (LogRegHead(), 40)])  # the logreg head has no such note
        run = progress.fits_run()
    for _worker in range(2):
        monkeypatch.setattr(progress, "_WORKER_RUN", [])  # another process: no record of its own
        call_in_worker(Parent(os.getpid(), fits_run=run), fit_head, make_head("svm"), X, y)
    notes = [line for line in capsys.readouterr().err.splitlines() if "an SVM is slow:" in line]
    assert [re.search(r"machine ([\d,]+) training rows", n).group(1) for n in notes] == ["40"], notes


@pytest.mark.slow  # real worker processes: about 10 s of interpreters and scikit-learn imports
def test_a_parallel_curves_slow_fit_note_is_said_once_not_once_per_worker(tmp_path):
    """Regression (a reviewer, 2026-12-05): with --jobs N each worker process kept its own record of the notes it had
    said, so the SVM's slow-fit note came once per worker (twice here, with 2 workers and 2 seeds). The command says
    it before it hands the fits out, for the largest, and the workers, told so, do not say it again. In real worker
    processes: each of them lowers SLOW_FIT_ROWS as it starts (a sitecustomize on their PYTHONPATH), as no
    monkeypatch of this process reaches them."""
    import os
    import subprocess
    import sys

    from helpers import REPO

    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import featcache.heads.svm as svm\nsvm.SLOW_FIT_ROWS = 10\n")
    cache = synthetic_cache(tmp_path / "c.h5")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    argv = ["curve", str(cache), "--sizes", "20,40", "--seeds", "2", "--heads", "svm", "--jobs", "2", "--no-plot",
            "--out", str(tmp_path / "cv")]
    proc = subprocess.run([sys.executable, "-m", "featcache", *argv], capture_output=True, text=True, env=env,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    notes = [line for line in proc.stderr.splitlines() if "an SVM is slow:" in line]
    assert [re.search(r"machine ([\d,]+) training rows", n).group(1) for n in notes] == ["40"], proc.stderr
    assert proc.stderr.index("an SVM is slow:") < proc.stderr.index("4/4 [")  # before the fits, not after


def test_a_heartbeat_starts_below_a_bar_left_mid_line(monkeypatch):
    """curve's and probe's bars are drawn in place, left mid-line between fits; a heartbeat drawn over one from the
    line's start left the end of the longer bar showing after it. It starts below the bar, which stays whole."""
    monkeypatch.setenv("TERM", "xterm")
    term = Terminal()
    monkeypatch.setattr("sys.stderr", term)
    bar = progress.Progress(4, unit="point")
    bar.update(1)
    with progress.heartbeat("svm head", every=0.02):
        time.sleep(0.1)
    text = term.getvalue()
    assert re.search(r"1/4 \[=+>\.+\] - \d+s\n\rsvm head: still running, 0 s", text), text
    assert text.count("\n") == 1  # one line ended: the bar's; the heartbeat's own redraws and wipe stay on theirs
    bar.update(2)
    assert re.search(r"\r +\r\r2/4 \[=+>\.+\] - [^\n]*$", term.getvalue())  # redrawn on the wiped line


def test_a_workers_heartbeat_is_whole_lines_at_a_logs_pace(monkeypatch):
    """A curve's or probe's worker process (--jobs) shares the terminal with its parent's bar, which it cannot see:
    redrawn in place, its heartbeat and the bar overwrote each other. Its lines are whole (drawn over the line they
    start on, ended), every LOG_INTERVAL, with the parent's progress setting (solver.call_in_worker's fits_run)."""
    import os

    import numpy as np

    from featcache.heads import make_head
    from featcache.heads.solver import Parent, call_in_worker
    from featcache.heads.views import fit_head

    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "60")
    term = Terminal()
    monkeypatch.setattr("sys.stderr", term)
    _slow_svm(monkeypatch)
    monkeypatch.setattr(progress, "HEARTBEAT_EVERY", 60.0)  # a terminal's in-place pace: not the one used
    X, y = np.random.default_rng(0).normal(size=(30, 4)), np.arange(30) % 3
    call_in_worker(Parent(os.getpid(), fits_run=progress.FitsRun("parent-run")), fit_head, make_head("svm"), X, y)
    lines = term.getvalue().split("\n")
    assert len(lines) > 2 and lines[-1] == "", lines
    assert all(line.startswith("\rsvm head: still running, ") and len(line) == 60 for line in lines[:-1]), lines
    term.truncate(0)
    call_in_worker(Parent(os.getpid()), fit_head, make_head("svm"), X, y)  # the parent shows no fits: nor does its worker
    assert term.getvalue() == ""


def test_train_says_before_a_large_svm_fit_how_long_its_fit_and_scoring_may_take(tmp_path, monkeypatch, capsys):
    """4,000 images fit in 19.6 s, 8,000 in 87.6 s (a new-user tester): on 60,000 the SVM takes long. From
    SLOW_FIT_ROWS rows train says so before the fit; below it, nothing. The note said the fit grows with the square
    of the rows, "16,000 about 6 min" of a fit of 27 s and nothing of the 95 s of scoring (a new-user tester): it
    gives ranges of both, which hold every measurement they come from (heads.svm.MEASURED)."""
    from featcache.heads import svm

    for rows, fit, score in svm.MEASURED:
        (fit_lo, fit_hi), (score_lo, score_hi) = svm.fit_time_range(rows)
        assert fit_lo <= fit <= fit_hi and score_lo <= score <= score_hi, (rows, fit, score)
    note = svm.SVMHead().fit_time_note(60_000)
    (fit_lo, fit_hi), _ = svm.fit_time_range(60_000)
    assert "an SVM is slow:" in note and "60,000 training rows" in note and "per 1,000 test rows" in note
    assert f"{svm._duration(fit_lo)} to {svm._duration(fit_hi)} to fit" in note, note
    assert svm.SVMHead().fit_time_note(4_000) is None
    cache = synthetic_cache(tmp_path / "c.h5")
    featcache.train(cache, "svm", out=tmp_path / "a.npz", verbose=True)
    assert "an SVM is slow:" not in capsys.readouterr().err
    monkeypatch.setattr(svm, "SLOW_FIT_ROWS", 10)
    featcache.train(cache, "svm", out=tmp_path / "b.npz", verbose=True)
    err = capsys.readouterr().err
    assert err.index("training an svm head") < err.index("an SVM is slow:")


def test_a_status_line_never_runs_on_after_a_bar_drawn_in_place(monkeypatch):
    """predict draws its bar at once ('0/400 [....] - 0s', no newline on a terminal) and then converts the model:
    the conversion's notice ran on after the bar on its line. A status line starts below a bar left mid-line."""
    monkeypatch.setenv("TERM", "xterm")
    term = Terminal()
    monkeypatch.setattr("sys.stderr", term)
    bar = progress.Progress(400, unit="image")
    bar.update(0)
    progress.status("converting the network to ONNX once")
    assert term.getvalue().endswith(" - 0s\nconverting the network to ONNX once\n")
    progress.status("a second line")  # the bar's line was ended once
    assert term.getvalue().endswith("once\na second line\n")
    bar.update(400)
    progress.status("after the bar")
    # the bar's last line ends with its count, or its rate where it took over 1 ms (a loaded machine: 305942 images/s)
    assert "\n\n" not in term.getvalue() and re.search(r" total, \d+ images(/s)?\nafter the bar\n$", term.getvalue())


def test_a_warning_python_shows_never_runs_on_after_a_bar_drawn_in_place(monkeypatch):
    """A tester: a verbose featcache.curve(...) on a terminal had the Keras head's validation note, shown by Python's
    own warning display (not the CLI's, which goes through ``note``), run on after '3/6 [====>....] - 0s - logreg at
    90: 0.7667' on its line. A featcache warning (``errors.warn``) ends a bar's open line first."""
    import warnings

    from featcache.heads.dense import StratifiedValidationNote

    monkeypatch.setenv("TERM", "xterm")
    term = Terminal()
    monkeypatch.setattr("sys.stderr", term)

    def shown(message, category, filename, lineno, file=None, line=None):  # as Python's default shows one
        term.write(warnings.formatwarning(message, category, filename, lineno, line))

    bar = progress.Progress(6, unit="point")
    bar.update(0)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        monkeypatch.setattr(warnings, "showwarning", shown)
        progress.fit_note("the Keras head validates on a stratified pick", StratifiedValidationNote, anyway=True)
    assert re.search(r"0/6 [^\n]* - 0s\n[^\n]*: StratifiedValidationNote: the Keras head validates", term.getvalue()), term.getvalue()
    progress.status("after the note")  # the bar's line was ended once: no empty line
    assert "\n\n" not in term.getvalue()


@pytest.mark.parametrize("ignore, other_shown", [
    (lambda: __import__("warnings").simplefilter("ignore"), False),
    (lambda: __import__("warnings").filterwarnings("ignore", message="the keras head validates"), True),  # any case
    (lambda: __import__("warnings").filterwarnings("ignore", category=StratifiedValidationNote), True),
    (lambda: __import__("warnings").filterwarnings("ignore", module=__name__), False),  # the caller's, as attributed
], ids=["all", "message", "category", "module"])
def test_a_warning_the_filters_ignore_leaves_a_bars_line_as_it_was(monkeypatch, ignore, other_shown):
    """A brief (helper-310): errors.warn ended a bar's open line before Python filtered the warning out
    (warnings.simplefilter("ignore")), so the bar went on on a line of its own below a break for nothing. The line
    is ended only for a warning that will be shown; one the filters let through still ends it."""
    import warnings

    from featcache.errors import warn

    monkeypatch.setenv("TERM", "xterm")
    term = Terminal()
    monkeypatch.setattr("sys.stderr", term)
    monkeypatch.setattr(warnings, "showwarning",  # as Python's default shows one
                        lambda message, category, filename, lineno, file=None, line=None:
                        term.write(warnings.formatwarning(message, category, filename, lineno, line)))
    bar = progress.Progress(6, unit="point")
    bar.update(0)
    drawn = term.getvalue()
    with warnings.catch_warnings():
        ignore()
        warn("the Keras head validates on a stratified pick", StratifiedValidationNote)
        assert term.getvalue() == drawn  # nothing written: the bar's line still open
        warn("another note", UserWarning)  # not filtered out by the message or module filter: shown below the bar
    if other_shown:
        assert term.getvalue().startswith(drawn + "\n") and "UserWarning: another note" in term.getvalue()
    else:
        assert term.getvalue() == drawn


def test_a_note_never_runs_on_after_a_heartbeat_drawn_in_place(monkeypatch):
    """A heartbeat on a terminal is left mid-line, as a bar is: '\\rlogreg head: still running, 0 sfeatcache train:
    note: logreg: the solver stopped' (a reviewer, 2026-12-05). A note starts below it; after the wipe, no newline."""
    monkeypatch.setenv("TERM", "xterm")
    term = Terminal()
    monkeypatch.setattr("sys.stderr", term)
    with progress.heartbeat("logreg head", every=0.02):
        time.sleep(0.1)
        progress.note("logreg: the solver stopped")
        time.sleep(0.1)  # redrawn below the note, left mid-line again
    assert "still running, 0 s\nlogreg: the solver stopped\n" in term.getvalue()
    progress.note("after the fit")  # the heartbeat's line was wiped: no empty line before this one
    assert term.getvalue().endswith("\rafter the fit\n")


def test_an_early_stopping_fits_epochs_bar_says_at_most_and_gives_no_eta(capsys):
    """train's Keras head (200 epochs at most, early stopping) said 'ETA: 48s' of a fit that stopped near epoch 40
    in 13.5 s (a new-user tester): the ETA ran against the bound. With early stopping the bar says the epochs are at
    most that many and shows the time so far; a fit of a fixed number of epochs keeps its ETA."""
    import numpy as np

    from featcache.heads import make_head

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 8)).astype("float32"), np.arange(60) % 3
    with progress.epochs_bar():
        # 8 epochs, where it was 20: still more lines than 3 (a line each epoch), and the claim is the bar's words
        make_head("keras", epochs=8, early_stopping=True, patience=8).fit(X, y)
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) > 3 and all(line.startswith("epochs (early stopping: at most) ") for line in lines), lines
        assert not any("ETA" in line for line in lines), lines
        make_head("keras", epochs=8, early_stopping=False).fit(X, y)
        lines = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith("epochs ") for line in lines) and any(" - ETA: " in line for line in lines), lines


def test_evaluate_and_train_show_one_heartbeat_over_their_scoring_of_views(tmp_path, monkeypatch, capsys):
    """A new-user tester: 'evaluate svm.npz cache.h5 --out dir' on 4 views said "scoring the svm head on 3000 test
    images x 4 views ..." then nothing for 80 s, where train's scoring said "svm head, scoring 12000 rows: still
    running, 60 s". Each pass (the views averaged, then the original view apart) had its own heartbeat, its clock from
    0, each under a log's 60 s. One heartbeat now covers both passes, in evaluate and in train: here each pass takes
    well under LOG_INTERVAL and both together more. (The SVM reads the original view off the averaged pass,
    SVMHead.predict_from_scores; logistic regression, here, still scores it apart.)"""
    from helpers import tiny_fashion_cache

    from featcache.heads import LogRegHead

    cache = tiny_fashion_cache(tmp_path, n_train=40, n_test=20, out="v.h5", views="orig,flip")
    head = featcache.train(cache, "logreg", train_views="all", test_views="all", out=tmp_path / "h.npz").path
    proba = LogRegHead.predict_proba

    def slow_proba(self, *args, **kwargs):  # each scoring pass: more than half a log line's interval, less than one
        time.sleep(0.6)
        return proba(self, *args, **kwargs)

    monkeypatch.setattr(LogRegHead, "predict_proba", slow_proba)
    monkeypatch.setattr(progress, "LOG_INTERVAL", 1.0)  # captured, not a terminal: a log's pace
    featcache.evaluate(head, cache, verbose=True, write=False)  # the heartbeat is over the scoring; no report drawn
    err = capsys.readouterr().err
    beats = [line for line in err.splitlines() if "still running" in line]
    # 20 images x 2 views, then the original view's 20 again
    assert beats and all(line.startswith("logreg head, scoring 60 rows: still running, ") for line in beats), err
    featcache.train(cache, "logreg", train_views="all", test_views="all", out=tmp_path / "h2.npz", verbose=True)
    err = capsys.readouterr().err
    beats = [line for line in err.splitlines() if "scoring" in line and "still running" in line]
    assert beats and all(line.startswith("logreg head, scoring 60 rows: still running, ") for line in beats), err


def test_a_fits_notes_are_two_short_lines_said_below_an_open_bar(monkeypatch):
    """Regression (a tester, h319's brief): probe's SVM slow-fit note was about 450 characters and curve's Keras
    validation note 290, said between the bar's redraws: 4-6 rows of a terminal in the middle of the bar. Each is at
    most progress.NOTE_CHARS, for any size and either fit, and starts below a bar left mid-line."""
    import numpy as np

    from featcache.heads import DenseHead, SVMHead, svm

    for rows in (svm.SLOW_FIT_ROWS, 60_000, 1_000_000, 10_000_000):
        for probability in (True, False):
            note = SVMHead(probability=probability).fit_time_note(rows)
            assert len(note) <= progress.NOTE_CHARS, (len(note), note)
    y = np.repeat([0, 1], 30)  # rows in class order: the Keras head validates on a stratified pick, and says so
    with pytest.warns(StratifiedValidationNote) as caught:
        DenseHead(epochs=1, early_stopping=False, n_classes=2, seed=3, verbose=1).fit(np.random.default_rng(0).normal(size=(60, 3)), y)
    said = [str(w.message) for w in caught if w.category is StratifiedValidationNote]
    assert said and all(len(s) <= progress.NOTE_CHARS for s in said), said
    monkeypatch.setenv("TERM", "xterm")
    term = Terminal()
    monkeypatch.setattr("sys.stderr", term)
    bar = progress.Progress(4, unit="point")
    bar.update(1)
    with progress.showing_fits():
        progress.slow_fit_note("svm head", SVMHead(probability=False).fit_time_note, 60_000)
    assert re.search(r"1/4 \[[=>.]+\] - \d+s\nnote: an SVM is slow: [^\n]+\n$", term.getvalue()), term.getvalue()
