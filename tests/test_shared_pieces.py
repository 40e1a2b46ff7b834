"""Subsets, the end-to-end builder and head files: pieces several commands share."""

import numpy as np
import pytest

pytestmark = pytest.mark.usefixtures("progress_on")  # the progress bar's own tests: drawn, as for a user
from helpers import assert_same_features

from featcache.analysis.subsets import stratified_subset
from featcache.deploy.endtoend import (
    build_end_to_end,
    parameter_counts,
    set_head_weights,
)
from featcache.errors import FeatcacheError
from featcache.heads import DenseHead, LogRegHead
from featcache.heads.io import load_head, save_head


def test_subsets_are_nested_stratified_and_seeded():
    y = np.repeat(np.arange(10), [50, 60, 70, 80, 90, 100, 110, 120, 130, 140])
    small, big = stratified_subset(y, 100, seed=3), stratified_subset(y, 400, seed=3)
    assert set(small) <= set(big) and len(set(big)) == 400
    share = np.bincount(y, minlength=10) / len(y)
    assert np.all(np.abs(np.bincount(y[big], minlength=10) - 400 * share) <= 1)
    assert (stratified_subset(y, 100, seed=3) == small).all()
    assert not (stratified_subset(y, 100, seed=4) == small).all()


@pytest.mark.parametrize("n, message", [(10_000, "larger than"), (5, "smaller than the 10 classes")])
def test_subset_size_errors(n, message):
    with pytest.raises(FeatcacheError, match=message):
        stratified_subset(np.arange(1000) % 10, n, seed=0)


def test_lesson_parameter_counts(real_weights):
    model = build_end_to_end("mobilenet_v2", str(real_weights), 96, 10)
    assert parameter_counts(model) == {"total": 2_270_794, "trainable": 12_810, "non_trainable": 2_257_984}


def test_head_files_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(120, 8)).astype(np.float32), np.arange(120) % 3
    X[np.arange(120), y] += 3
    meta = {"class_names": ["a", "b", "c"], "layer": "out_relu"}  # no "head": save_head records what it saves
    for head, name in ((DenseHead(epochs=3), "h.keras"), (LogRegHead(), "h.npz")):
        head.fit(X, y)
        path = save_head(head, tmp_path / name, meta)
        assert load_head(path)[1]["head"] == ("keras" if name.endswith(".keras") else "logreg")
        again, got_meta = load_head(path)
        assert got_meta["class_names"] == ["a", "b", "c"]
        np.testing.assert_allclose(again.predict_proba(X), head.predict_proba(X), atol=1e-6)
    (tmp_path / "junk.keras").write_bytes(b"not a head")
    with pytest.raises(FeatcacheError, match="not a readable featcache head"):
        load_head(tmp_path / "junk.keras")
    with pytest.raises(FeatcacheError, match="head file not found"):
        load_head(tmp_path / "missing.keras")


@pytest.mark.slow
def test_dense_head_weights_drop_into_the_end_to_end_model():
    rng = np.random.default_rng(0)
    # Tapped at block_1_expand_relu: random weights leave out_relu's features at about 1e-11, where the head's
    # kernel adds nothing to its logits and any kernel (or none) would pass.
    model = build_end_to_end("mobilenet_v2", "random", 32, 4, layer="block_1_expand_relu", raw_input_shape=(28, 28))
    images = rng.integers(0, 255, size=(16, 28, 28), dtype=np.uint8)
    pooled = model.get_layer("pool").output
    import keras

    features = keras.Model(model.input, pooled).predict(images, verbose=0)
    head = DenseHead(epochs=2).fit(features, np.arange(16) % 4)
    set_head_weights(model, head)
    assert_same_features(model.predict(images, verbose=0), head.decision_function(features))


def test_progress_bar_off_a_terminal_writes_a_plain_line_per_tenth_and_the_end(monkeypatch):
    import io

    from featcache.progress import Progress

    stream = io.StringIO()
    bar = Progress(54, unit="fit", stream=stream)
    for i in range(1, 55):
        bar.update(i, values=[("acc", 0.5)])
    bar.update(54)  # a repeated last update writes nothing more
    text = stream.getvalue()
    assert "\r" not in text and "\x1b" not in text  # no redraws or colour codes in a log
    lines = text.splitlines()
    assert [int(line.split("/")[0]) for line in lines] == [1, 6, 11, 17, 22, 27, 33, 38, 44, 49, 54]
    assert lines[-1].startswith("54/54 [" + "=" * 30 + "] - 0s total, ") and lines[-1].endswith(" - acc: 0.5000")
    # A slow loop still shows it is alive: a line after log_interval seconds without one.
    stream = io.StringIO()
    bar = Progress(1000, stream=stream, log_interval=0.0)
    for i in range(1, 6):
        bar.update(i)
    assert len(stream.getvalue().splitlines()) == 5


def test_progress_rate_is_per_second_for_fast_units_and_seconds_each_for_slow_ones():
    """At 238 images/s extraction's last line said '0.00s/image' (a new user)."""
    from featcache.progress import rate

    assert rate(3000, 12.6, "image") == "238 images/s" and rate(10, 5.0, "fit") == "0.50s/fit" and rate(4, 0.0, "fit") == "4 fits"


def test_progress_rate_of_images_is_per_second_however_slow():
    """predict's bar said '0.15s/image' where extract says images/s, for the same photos under load (a new-user
    tester comparing them, 2026-12-06); other slow units keep seconds each."""
    from featcache.progress import rate

    assert rate(153, 22.9, "image") == "6.7 images/s" and rate(10, 5.0, "image") == "2.0 images/s"
    assert rate(10, 5.0, "fit") == "0.50s/fit" and rate(3000, 12.6, "image") == "238 images/s"


def test_progress_bar_redraws_in_place_on_a_terminal(monkeypatch):
    import io

    from featcache.progress import Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setenv("TERM", "xterm")
    stream = Tty()
    bar = Progress(3, stream=stream, interval=0.0)
    for i in (1, 2, 3):
        bar.update(i)
    assert stream.getvalue().count("\r") == 3 and stream.getvalue().endswith("\n") and stream.getvalue().count("\n") == 1
    monkeypatch.setenv("TERM", "dumb")  # a terminal that cannot redraw gets plain lines
    stream = Tty()
    Progress(3, stream=stream).update(3)
    assert "\r" not in stream.getvalue()


def test_one_isatty_test_serves_the_bar_and_evaluate(monkeypatch):
    """Regression (a review, 2026-12-05): evaluate's stdout test copied the bar's isatty test, and the bar's own
    raised ValueError on a closed stream (a Progress on one was a traceback). One home now, ``progress.is_tty``:
    a closed stream, None and an object without isatty are no terminal; TERM=dumb is a terminal someone reads, but
    not one that redraws (``is_terminal``)."""
    import io

    from featcache.cli import evaluate as evaluate_cli
    from featcache.progress import Progress, is_terminal, is_tty

    class Tty(io.StringIO):
        def isatty(self):
            return True

    closed = io.StringIO()
    closed.close()  # its isatty raises ValueError
    for stream in (closed, None, object()):
        assert not is_tty(stream) and not is_terminal(stream)
    assert Progress(3, stream=closed).interactive is False
    monkeypatch.setenv("TERM", "dumb")
    assert is_tty(Tty()) and not is_terminal(Tty())
    assert evaluate_cli.is_tty is is_tty and not hasattr(evaluate_cli, "_read_on_terminal")


def test_plots_say_nothing_when_home_cannot_be_written(tmp_path):
    """HOME=/proc (or any home matplotlib cannot write its config into): evaluate, probe and curve printed
    matplotlib's two-line 'mkdir -p failed ... created a temporary cache directory' warning (an adversarial tester)."""
    import os
    import subprocess
    import sys

    code = ("import numpy as np, sys; from featcache.analysis.plots import plot_confusion; "
            "plot_confusion(np.eye(2, dtype=int), ['a', 'b'], sys.argv[1])")
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "XDG_CONFIG_HOME")}
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "c.png")], capture_output=True, text=True,
                          env={**env, "HOME": "/proc"}, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_progress_with_standard_output_closed_writes_nothing(monkeypatch, capsys):
    """'featcache extract ... >&-' (stdout closed: sys.stdout is None) ended in AttributeError at the first progress
    line (an adversarial tester). The bar is on stderr now: stdout closed, it still draws; stderr closed (2>&-)
    or failing (2>/dev/full), it writes nothing, as print() does then, and the work goes on."""
    import sys

    from featcache.progress import Progress

    def run(bar):
        for i in range(1, 11):
            bar.update(i)
        assert bar.current == 10 and bar._ended

    monkeypatch.setattr(sys, "stdout", None)
    run(Progress(10, unit="image"))
    assert capsys.readouterr().err.splitlines()[-1].startswith("10/10 [")
    monkeypatch.setattr(sys, "stderr", None)
    run(Progress(10, unit="image"))

    class Full:
        def isatty(self):
            return False

        def write(self, text):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(sys, "stderr", Full())
    run(Progress(10, unit="image"))


def test_progress_flushes_standard_output_first_so_a_combined_log_keeps_the_order(monkeypatch):
    """'> log 2>&1': stdout to a file is block-buffered, the bar's stderr is not; the lines printed before the bar
    (extract's 'network ready') landed after it in the log."""
    import sys

    from featcache.progress import Progress

    written = []

    class FileStdout:  # holds what print() writes until flushed
        pending = ""

        def write(self, text):
            self.pending += text
            return len(text)

        def flush(self):
            written.append(self.pending)
            self.pending = ""

    class Log:  # the same file, as stderr: unbuffered
        def write(self, text):
            written.append(text)

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", FileStdout())
    print("network ready")
    Progress(2, stream=Log()).update(2)
    lines = "".join(written).splitlines()
    assert lines[0] == "network ready" and lines[1].startswith("2/2 [")


def test_keras_fits_draw_featcaches_bar_per_epoch_on_stderr(capsys):
    """Keras's own bar (ScratchCNN, DenseHead, finetune with verbose) wrote to stdout, among the results: each epoch is
    now a featcache bar on stderr, labelled, two plain lines off a terminal, the last with the validation scores."""
    from featcache.heads.scratch import ScratchCNN

    rng = np.random.default_rng(0)
    images, y = rng.integers(0, 255, size=(80, 12, 12), dtype=np.uint8), np.arange(80) % 2
    ScratchCNN(epochs=2, batch_size=8, filters=(4,), dense_units=8, validation_split=0.2, verbose=1).fit(images, y)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and [line.split(" [")[0] for line in lines] == ["epoch 1/2 1/8", "epoch 1/2 8/8", "epoch 2/2 1/8",
                                                                     "epoch 2/2 8/8"]
    assert " - loss: " in lines[0] and "val_loss" not in lines[0] and " - val_accuracy: " in lines[-1]
    # DenseHead runs 128 batches a call into Keras, so an epoch of 8 batches is its end line alone.
    X = rng.normal(size=(80, 8)).astype(np.float32)
    DenseHead(epochs=2, batch_size=8, early_stopping=False, verbose=True).fit(X, y)
    out, err = capsys.readouterr()
    assert out == "" and [line.split(" [")[0] for line in err.splitlines()] == ["epoch 1/2 8/8", "epoch 2/2 8/8"]
    DenseHead(epochs=1, batch_size=8).fit(X, y)  # not verbose: nothing
    assert capsys.readouterr() == ("", "")


def test_json_output_has_no_lone_surrogates(capsys):
    """A non-UTF-8 file name (surrogateescape) went into --json as '\\udcff', which strict JSON readers refuse (a
    tester): each such byte is written as \\xHH, as the lines write it (it was U+FFFD, which made caf\\xe9 and
    caf\\xe8 one name; an adversarial tester); the rest is unchanged."""
    import json

    from featcache.cli.common import print_json

    print_json({"skipped": [["caf\udce9.jpg", "why"]], "n\udcff": 1, "ok": "é", "x": 1.5, "odd": "\ud800"})
    text = capsys.readouterr().out
    assert "\\udc" not in text and "\\ud800" not in text
    assert json.loads(text) == {"skipped": [["caf\\xe9.jpg", "why"]], "n\\xff": 1, "ok": "é", "x": 1.5, "odd": "?"}
    print_json({"inputs": ["caf\udce9/0.png", "caf\udce8/0.png"]})  # predict --json's rows of two such folders
    assert len(set(json.loads(capsys.readouterr().out)["inputs"])) == 2


def test_featcache_progress_off_draws_no_bar(monkeypatch, capsys):
    """FEATCACHE_PROGRESS=off (0, no, false) turns every bar off, for scripts reading stderr (and the tests)."""
    from featcache.progress import Progress

    for value in ("off", "0", "No", "false"):
        monkeypatch.setenv("FEATCACHE_PROGRESS", value)
        bar = Progress(10, unit="image")
        bar.update(5)
        bar.update(10)
        assert capsys.readouterr().err == ""
    monkeypatch.setenv("FEATCACHE_PROGRESS", "on")
    Progress(10, unit="image").update(10)
    assert capsys.readouterr().err.startswith("10/10 [")


def test_json_keeps_the_commands_bars_but_no_quiet_fit_draws_its_epochs():
    """--json (progress.bars_when_quiet) draws a command's own bars on stderr, but heads fitted quietly inside train,
    curve, probe and lesson (verbose=0) drew every epoch of every Keras fit under it (a review): more lines with
    --json than without."""
    from featcache.progress import bars_wanted, bars_when_quiet, epoch_progress

    assert not bars_wanted(False) and epoch_progress(0) == []
    with bars_when_quiet():
        assert bars_wanted(False) and epoch_progress(0) == [] and len(epoch_progress(1)) == 1
    assert not bars_wanted(False)


def test_trains_own_keras_fit_draws_one_bar_over_its_epochs(capsys):
    """'train --head keras' (up to 200 epochs, early stopping) ran 20 s to minutes without a line (a new-user
    tester). Within progress.epochs_bar a quiet fit draws one bar over its epochs, and a fit stopped early ends it
    there, saying so; outside it, nothing."""
    import numpy as np

    from featcache.heads import make_head
    from featcache.progress import epochs_bar

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 8)).astype("float32"), np.arange(60) % 3
    make_head("keras", epochs=3, early_stopping=False).fit(X, y)
    assert capsys.readouterr().err == ""
    with epochs_bar():
        make_head("keras", epochs=3, early_stopping=False).fit(X, y)
        lines = capsys.readouterr().err.strip().splitlines()
        assert lines and all(line.startswith("epochs ") for line in lines) and lines[-1].startswith("epochs 3/3 [")
        head = make_head("keras", epochs=200, early_stopping=True, patience=0, learning_rate=0.5).fit(X, y)
        last = capsys.readouterr().err.strip().splitlines()[-1]
    assert head.epochs_run_ < 200 and last.startswith(f"epochs (stopped early at {head.epochs_run_} of 200) ")


def test_a_relative_home_in_a_deleted_current_folder_is_one_line(tmp_path, monkeypatch):
    """The default home ./data and a relative FEATCACHE_RUNTIME_DIR in a current folder that was deleted: one line
    naming the variable to set (pathlib's FileNotFoundError otherwise; an adversarial tester, the branch a review)."""
    from featcache import paths
    from featcache.errors import FeatcacheError

    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    monkeypatch.delenv("FEATCACHE_HOME", raising=False)
    monkeypatch.setenv("FEATCACHE_RUNTIME_DIR", "conversions")
    for where, variable in ((paths.runs_dir, "FEATCACHE_HOME"), (paths.runtime_dir, "FEATCACHE_RUNTIME_DIR")):
        with pytest.raises(FeatcacheError, match=rf"^the current folder no longer exists.*set {variable} to an absolute path$"):
            where()
    monkeypatch.setenv("FEATCACHE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FEATCACHE_RUNTIME_DIR", str(tmp_path / "conv"))
    assert (paths.runs_dir(), paths.runtime_dir()) == (tmp_path / "home" / "runs", tmp_path / "conv")


def test_progress_bar_with_quiet_seconds_writes_only_its_end_for_a_short_loop():
    """Hashing 398 photos in 0.2 s wrote 7 lines off a terminal (a new-user tester): a scan's bar is quiet for its
    first second, and a loop done within it is its last line alone; a long one still logs its tenths after."""
    import io

    from featcache.progress import Progress

    stream = io.StringIO()
    bar = Progress(54, unit="file", stream=stream, quiet_seconds=60.0)
    for i in range(1, 55):
        bar.update(i)
    assert [int(line.split("/")[0]) for line in stream.getvalue().splitlines()] == [54]
    stream = io.StringIO()
    bar = Progress(54, unit="file", stream=stream, quiet_seconds=0.0)
    for i in range(1, 55):
        bar.update(i)
    assert len(stream.getvalue().splitlines()) == 11


def test_progress_eta_leaves_out_the_start_up_before_the_first_step(monkeypatch):
    """Ray's first estimate said ETA 523 s of a run that took 22 s (a new-user tester): its workers' start-up came
    before the first batch and was spread over the rest. The ETA runs from the first step done."""
    import io

    from featcache import progress

    clock = iter([0.0, 20.0, 21.0, 22.0])  # made; first step at 20 s (start-up); two more steps, 1 s each
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    stream = io.StringIO()
    bar = progress.Progress(100, unit="image", stream=stream, log_interval=0.0)
    for n in (1, 2, 3):
        bar.update(n)
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("] - 20s")  # one step known: its time is the start-up, no ETA from it (a review)
    assert lines[1].endswith("ETA: 98s") and lines[2].endswith("ETA: 97s")  # 1 s a step from the first on


@pytest.mark.parametrize("n", [60, 400])
def test_a_confusion_plot_of_many_classes_is_bounded(tmp_path, n):
    """Regression (an adversarial tester): the confusion plot was sized 0.6 inch a class without bound: 200 classes
    made a 14,820 x 14,700 pixel PNG (6 GB of memory), and evaluate of 400 classes was killed for memory. The PNG is
    at most 21 x 20 inches at 120 dpi; the classes are named on its axes up to 200, numbered beyond, as
    evaluation.txt numbers them, whose matrix keeps every class."""
    from PIL import Image

    from featcache.analysis.plots import confusion_text, plot_confusion

    cm = np.random.default_rng(0).integers(0, 4, (n, n))
    names = [f"class {i:03d}" for i in range(n)]
    path = plot_confusion(cm, names, tmp_path / "confusion.png", title=f"{n} classes")
    with Image.open(path) as png:
        assert png.size[0] <= 21 * 120 and png.size[1] <= 20 * 120, png.size
        png.load()  # the whole file decodes
    text = confusion_text(cm, names).splitlines()
    assert len(text) == n + 2 and all(name in text[i + 2] for i, name in enumerate(names))
    assert len({len(line) for line in text[1:]}) == 1  # every row under the header: from 100 on, one to the right


@pytest.mark.parametrize("n", [3, 60, 400])
def test_a_confusion_figure_names_the_classes_while_they_fit(n):
    """The figure's axes name the classes up to 200 (a name's font within its row, and at most matplotlib's 10 points),
    then number them; the counts are written in the cells up to 30 classes."""
    from featcache.analysis.plots import confusion_figure

    cm = np.arange(n * n).reshape(n, n)
    names = [f"class {i:03d}" for i in range(n)]
    fig = confusion_figure(cm, names, "t")
    ax = fig.axes[0]
    fig.draw_without_rendering()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    row_points = ax.get_window_extent().height / n * 72 / fig.dpi
    if n <= 200:
        assert labels == names and all(t.get_fontsize() <= min(10, row_points) for t in ax.get_yticklabels())
    else:
        assert not set(labels) & set(names) and "numbered as in evaluation.txt" in ax.get_ylabel()
    assert len(ax.texts) == (n * n if n <= 30 else 0)


@pytest.mark.parametrize("most", [1, 3, 20, 7000])
def test_a_confusion_figures_colour_bar_counts_whole_images(most):
    """Regression (a new user): the colour bar of a matrix of at most 20 images read 2.5, 7.5, 12.5, 17.5: image
    counts in halves. Its ticks are whole numbers, within the counts' range."""
    from featcache.analysis.plots import confusion_figure

    cm = np.array([[most, 0, 1], [2, most // 2, 0], [0, 1, most]])
    fig = confusion_figure(cm, ["ants", "bees", "other"], "t")
    fig.draw_without_rendering()
    bar = fig.axes[1]
    ticks = [t for t in bar.get_yticks() if cm.min() <= t <= cm.max()]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
