"""Ctrl-C after a command's file is whole on disk but before its result line: the line an interrupt ends the command
with says the file was written completely (as predict's does of its --csv), never "nothing was saved" of a file that
is there and good; interrupted before the save, nothing, as before."""

from __future__ import annotations

import pytest
from helpers import run_main, tiny_fashion_cache

import featcache

INTERRUPTED_AFTER = "{command}: interrupted; the {what} {path} was written completely before it; what it printed was cut short"


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    return tiny_fashion_cache(tmp_path_factory.mktemp("interrupt"), n_train=40, n_test=20)


def _then_interrupted(monkeypatch, module, name: str) -> None:
    """``module.name`` (the step that saves a command's file) does its work, then Ctrl-C comes: right after the save."""
    real = getattr(module, name)

    def saved_then_interrupted(*args, **kwargs):
        real(*args, **kwargs)  # the file is whole on disk
        raise KeyboardInterrupt

    monkeypatch.setattr(module, name, saved_then_interrupted)


def _interrupted(capsys, *argv: str) -> list[str]:
    said = run_main(capsys, *argv)
    assert said.returncode == 130, said.stderr
    return said.stderr.strip().splitlines()


def test_train_interrupted_right_after_saving_says_the_head_is_complete(tiny_cache, tmp_path, capsys, monkeypatch):
    """train printed its result line only after the save: Ctrl-C between them said "nothing was saved" of a head that
    was whole on disk (a session's note), so the user could not tell whether to trust it."""
    from featcache.analysis import train as train_mod

    out = tmp_path / "h.npz"
    _then_interrupted(monkeypatch, train_mod, "write_head")
    err = _interrupted(capsys, "train", str(tiny_cache), "--head", "logreg", "--out", str(out))
    assert err[-1] == INTERRUPTED_AFTER.format(command="featcache train", what="head", path=out)
    assert not any(line.startswith("test accuracy") for line in err)  # the result line never came
    monkeypatch.undo()
    assert run_main(capsys, "verify", str(out)).returncode == 0  # and the head is as said: whole
    # before the save: nothing, as before (and the line of one run is not the next run's)
    monkeypatch.setattr(train_mod, "write_head", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    err = _interrupted(capsys, "train", str(tiny_cache), "--head", "logreg", "--out", str(tmp_path / "g.npz"))
    assert err[-1] == "featcache train: interrupted; nothing was saved"
    assert not (tmp_path / "g.npz").exists()


def test_export_interrupted_right_after_saving_says_the_model_is_complete(tiny_cache, tmp_path, capsys, monkeypatch):
    """export, as train: Ctrl-C between the model's save and its "exported ..." line said "nothing was saved"."""
    from featcache.deploy import model as model_mod

    head = featcache.train(featcache.open_cache(tiny_cache), "logreg", out=tmp_path / "h.npz").path
    out = tmp_path / "m.keras"
    _then_interrupted(monkeypatch, model_mod, "write_model")
    err = _interrupted(capsys, "export", str(head), "--out", str(out))
    assert err[-1] == INTERRUPTED_AFTER.format(command="featcache export", what="model", path=out)
    monkeypatch.undo()
    said = run_main(capsys, "verify", str(out))
    assert said.returncode == 0 and said.stdout.startswith(f"ok: {out} is intact (model"), said.stderr
    monkeypatch.setattr(model_mod, "write_model", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    err = _interrupted(capsys, "export", str(head), "--out", str(tmp_path / "n.keras"))
    assert err[-1] == "featcache export: interrupted; nothing was saved"


@pytest.mark.slow  # one fine-tuning epoch
def test_finetune_interrupted_right_after_saving_says_the_model_is_complete(tiny_cache, tmp_path, capsys, monkeypatch):
    """finetune saves its model through the same save as export: the same line."""
    from featcache.deploy import model as model_mod

    # a Keras head of the module's cache (it was test_finetune._head's, an extraction of its own)
    head = featcache.train(featcache.open_cache(tiny_cache), "keras", epochs=1, out=tmp_path / "head.keras", verbose=False).path
    out = tmp_path / "ft.keras"
    _then_interrupted(monkeypatch, model_mod, "write_model")
    err = _interrupted(capsys, "finetune", str(head), "--unfreeze", "5", "--epochs", "1", "--batch-size", "16",
                       "--out", str(out))
    assert err[-1] == INTERRUPTED_AFTER.format(command="featcache finetune", what="model", path=out)
    monkeypatch.undo()
    assert run_main(capsys, "verify", str(out)).returncode == 0


def test_the_interrupt_line_names_only_the_commands_own_files(tiny_cache, tmp_path, capsys, monkeypatch):
    """Regression (a reviewer, 2026-12-06): what was written whole was one process-wide list, which stayed after a
    command: an API train on another thread while a command ran was named in that command's interrupt line ("the head
    api.npz was written completely before it"), and a call after the command was collected too. It is the command's
    own now (progress.collecting_outputs, a context variable cli.main sets for the command and resets after)."""
    import threading

    from featcache.analysis import train as train_mod
    from featcache.progress import complete_outputs, written

    real = train_mod.write_head
    api_out = tmp_path / "api.npz"

    def another_threads_train_then_interrupted(*args, **kwargs):
        if threading.current_thread() is not threading.main_thread():
            return real(*args, **kwargs)  # the other thread's save
        other = threading.Thread(target=lambda: featcache.train(featcache.open_cache(tiny_cache), "logreg", out=api_out))
        other.start()
        other.join()
        raise KeyboardInterrupt  # the command's own save never came

    monkeypatch.setattr(train_mod, "write_head", another_threads_train_then_interrupted)
    err = _interrupted(capsys, "train", str(tiny_cache), "--head", "logreg", "--out", str(tmp_path / "h.npz"))
    assert api_out.exists()  # the other thread's head was saved, and is not this command's
    assert err[-1] == "featcache train: interrupted; nothing was saved"
    written("the head after.npz")  # a call after the command: nobody collects it
    assert complete_outputs() == []


def test_predict_interrupted_right_after_writing_its_csv_says_the_csv_is_complete(tiny_cache, tmp_path, capsys,
                                                                                 monkeypatch):
    """Regression (a review): predict said its --csv was whole from its CLI code, once the API had returned, where
    train, export and finetune say theirs at the save: Ctrl-C between the CSV's write and the return (the notes the
    API says after it) said "nothing was saved" of a CSV whole on disk, and a Python call in a command's context was
    never told. Said at the write now (deploy.predict.write_csv), by the API and so the CLI alike."""
    import numpy as np

    from featcache.deploy import predict as predict_mod
    from featcache.progress import collecting_outputs, complete_outputs

    head = featcache.train(featcache.open_cache(tiny_cache), "logreg", out=tmp_path / "h.npz").path
    model = featcache.export(head, tmp_path / "m.keras").path
    np.save(tmp_path / "x.npy", np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8))
    csv = tmp_path / "p.csv"
    _then_interrupted(monkeypatch, predict_mod, "write_csv")
    err = _interrupted(capsys, "predict", str(model), str(tmp_path / "x.npy"), "--csv", str(csv))
    assert err[-1] == INTERRUPTED_AFTER.format(command="featcache predict", what="predictions CSV", path=csv)
    monkeypatch.undo()
    said = run_main(capsys, "verify", str(csv))
    assert said.returncode == 0 and said.stdout.startswith(f"ok: {csv} is intact (a predictions CSV)"), said.stderr
    # the API says it of the CSV it wrote, as it says train's head (and nothing of a call that wrote no CSV)
    with collecting_outputs():
        featcache.predict(model, tmp_path / "x.npy")
        assert complete_outputs() == []
        featcache.predict(model, tmp_path / "x.npy", csv=tmp_path / "q.csv")
        assert complete_outputs() == [f"the predictions CSV {tmp_path / 'q.csv'}"]
    # before the write: nothing, as before
    monkeypatch.setattr(predict_mod, "write_csv", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    err = _interrupted(capsys, "predict", str(model), str(tmp_path / "x.npy"), "--csv", str(tmp_path / "r.csv"))
    assert err[-1] == "featcache predict: interrupted; nothing was saved"
    assert not (tmp_path / "r.csv").exists()
