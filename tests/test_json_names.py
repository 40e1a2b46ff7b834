"""Every command's --json names one number one way (docs/commands.md, "--json field names").

A new-user tester found the test accuracy as ``accuracy`` (train, evaluate), ``test_accuracy`` (info of a head,
finetune) and ``test_accuracy_orig`` alone (info of a model, export); evaluate --json without the image count or the
original view's accuracy train gives; info of a Keras head without the epochs it ran. Fast tier: a tiny
random-weights cache with a flipped view, so the averaged and the original view's accuracies are both there.
"""

from __future__ import annotations

import json

import pytest
from helpers import tiny_fashion_cache

from featcache.cli import main
from featcache.heads.io import JSON_NAMES_BEFORE

SHARED = ("test_accuracy", "test_accuracy_orig", "test_images")


@pytest.fixture(scope="module")
def views_cache(tmp_path_factory):
    return tiny_fashion_cache(tmp_path_factory.mktemp("names"), n_train=60, n_test=30, out="v.h5", views="orig,flip")


def _json(capsys, *args: str) -> dict:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _same(doc: dict, want: dict, keys, who: str) -> None:
    for key in keys:
        assert key in doc, f"{who} --json has no {key}: {sorted(doc)}"
        assert doc[key] == want[key], (who, key, doc[key], want[key])


def test_train_evaluate_info_and_export_json_share_the_names_and_values(views_cache, tmp_path, capsys):
    head = tmp_path / "h.npz"
    trained = _json(capsys, "train", str(views_cache), "--head", "logreg", "--out", str(head))
    assert trained["test_images"] == 30 and trained["train_images"] == 60 and trained["test_accuracy_orig"] is not None
    assert trained["test_accuracy"] == trained["accuracy"]  # train printed it as "accuracy" alone
    # the names train printed before, with the same values until featcache 0.3 (heads.io.JSON_NAMES_BEFORE)
    for old, new in JSON_NAMES_BEFORE["train"].items():
        assert trained[old] == trained[new], (old, new)

    # evaluate of the same head on the same views: the same numbers, the image count and the original view's too
    evaluated = _json(capsys, "evaluate", str(head), str(views_cache), "--out", str(tmp_path / "e"))
    _same(evaluated, trained, SHARED, "evaluate")
    assert evaluated["accuracy"] == evaluated["test_accuracy"]  # the evaluated split's accuracy, as before
    assert "original view alone" in (tmp_path / "e" / "evaluation.txt").read_text()
    # on the train split its scores are no test accuracy: the shared test names are null there
    on_train = _json(capsys, "evaluate", str(head), str(views_cache), "--split", "train", "--out", str(tmp_path / "tr"))
    assert (on_train["split"], on_train["test_accuracy"], on_train["test_images"]) == ("train", None, None)
    assert on_train["accuracy"] is not None

    info = _json(capsys, "info", str(head))
    _same(info, trained, ("test_accuracy", "test_accuracy_orig", "train_images"), "info (head)")

    # a model averaging the head's views scores the head's averaged accuracy; one of the original view, that view's
    for views, want in (("all", trained["test_accuracy"]), ("orig", trained["test_accuracy_orig"])):
        model = tmp_path / f"m_{views}.keras"
        exported = _json(capsys, "export", str(head), "--out", str(model), "--weights", "random", "--views", views)
        _same(exported, trained, ("test_accuracy_orig",), f"export --views {views}")
        assert exported["test_accuracy"] == want, (views, exported)
        for old, new in JSON_NAMES_BEFORE["export"].items():
            assert exported[old] == exported[new], (old, new)
        described = _json(capsys, "info", str(model))
        _same(described, exported, ("test_accuracy", "test_accuracy_orig"), f"info (model of --views {views})")
    assert main(["info", str(tmp_path / "m_all.keras")]) == 0
    assert f"test_accuracy        {trained['test_accuracy']:.4f}" in capsys.readouterr().out


def test_test_accuracy_orig_is_the_original_views_accuracy_in_every_command_for_a_head_without_views(views_cache, tmp_path,
                                                                                                      capsys):
    """Regression (a tester): for a head scored on the original view alone test_accuracy_orig was null in train's and
    evaluate's --json, the number (its test_accuracy) in export's and info of the model, and left out of info of the
    head. One rule now: the original view's test accuracy wherever it was measured (test_accuracy itself when the
    test views are the original alone); null only where it was not (evaluate --split train)."""
    head = tmp_path / "h.npz"
    trained = _json(capsys, "train", str(views_cache), "--head", "logreg", "--train-views", "orig", "--test-views", "orig",
                    "--out", str(head))
    assert trained["test_views"] == ["orig"] and trained["test_accuracy"] is not None
    assert trained["test_accuracy_orig"] == trained["test_accuracy"] == trained["orig_accuracy"]
    evaluated = _json(capsys, "evaluate", str(head), str(views_cache), "--out", str(tmp_path / "e"))
    _same(evaluated, trained, SHARED, "evaluate")
    assert "original view alone" not in (tmp_path / "e" / "evaluation.txt").read_text()  # it is the accuracy said
    on_train = _json(capsys, "evaluate", str(head), str(views_cache), "--split", "train", "--out", str(tmp_path / "tr"))
    assert on_train["test_accuracy_orig"] is None  # not measured on the test split
    _same(_json(capsys, "info", str(head)), trained, ("test_accuracy", "test_accuracy_orig"), "info (head)")
    model = tmp_path / "m.keras"
    exported = _json(capsys, "export", str(head), "--out", str(model), "--weights", "random")
    _same(exported, trained, ("test_accuracy", "test_accuracy_orig"), "export")
    _same(_json(capsys, "info", str(model)), trained, ("test_accuracy", "test_accuracy_orig"), "info (model)")


def test_an_older_heads_record_without_test_accuracy_orig_reads_as_its_test_accuracy():
    """A head train wrote before this rule recorded no test_accuracy_orig for the original view alone: info (through
    heads.io.with_current_names) reads it as export always did (heads.io.orig_accuracy_of), rather than leaving it out."""
    from featcache.heads.io import with_current_names

    from featcache.heads.io import TEST_ACCURACY_ORIG, orig_accuracy_of

    older = {"test_views": ["orig"], "test_accuracy": 0.5}
    assert orig_accuracy_of(older) == 0.5 and orig_accuracy_of({**older, TEST_ACCURACY_ORIG: 0.25}) == 0.25
    assert orig_accuracy_of({"test_views": ["orig", "flip"], "test_accuracy": 0.5}) is None  # not measured
    assert with_current_names(older)[TEST_ACCURACY_ORIG] == 0.5


@pytest.fixture(scope="module")
def keras_head(views_cache, tmp_path_factory) -> tuple:
    """``train --head keras --epochs 3 --json`` of views_cache (read only) and what it printed: the head whose info
    test_info_of_a_keras_head_shows_the_epochs_it_ran_and_its_fit_time reads and the one
    test_finetune_json_gives_the_models_test_accuracy_under_the_shared_names fine-tunes (it trained one of its own,
    of 2 epochs: a Keras fit more, for a check that holds of any Keras head)."""
    import contextlib
    import io

    head = tmp_path_factory.mktemp("keras_head") / "k.keras"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # a module fixture has no capsys
        assert main(["train", str(views_cache), "--head", "keras", "--epochs", "3", "--out", str(head), "--json"]) == 0
    return head, json.loads(printed.getvalue())


def test_info_of_a_keras_head_shows_the_epochs_it_ran_and_its_fit_time(keras_head, capsys):
    head, trained = keras_head
    info = _json(capsys, "info", str(head))
    assert info["epochs_run"] == trained["details"]["epochs_run"] == 3 and info["params"]["epochs"] == 3
    assert info["fit_seconds"] == trained["fit_seconds"] > 0  # one value, rounded once (--json had 0.3944885...)
    _same(info, trained, ("test_accuracy", "test_accuracy_orig", "train_images"), "info (keras head)")
    assert main(["info", str(head)]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    secs = info["fit_seconds"]  # said as seconds, not in the accuracies' format (it read "fit_seconds 6.1670")
    assert ["epochs_run", "3"] in lines and (["fit_seconds", f"{secs:.1f}", "s"] in lines
                                             or ["fit_seconds", f"{secs * 1000:.0f}", "ms"] in lines), lines


@pytest.mark.slow
def test_finetune_json_gives_the_models_test_accuracy_under_the_shared_names(keras_head, tmp_path, capsys):
    """finetune's model classifies the original images: its test accuracy is the original view's, as info of the
    model says; the image count as train's and evaluate's. The model's record keeps its fields as before."""
    head = keras_head[0]
    tuned = _json(capsys, "finetune", str(head), "--weights", "random", "--epochs", "1", "--out", str(tmp_path / "ft.keras"))
    assert tuned["test_images"] == 30 and tuned["test_accuracy"] is not None
    assert tuned["test_accuracy_orig"] == tuned["test_accuracy"]
    described = _json(capsys, "info", str(tmp_path / "ft.keras"))
    _same(described, tuned, ("test_accuracy", "test_accuracy_orig"), "info (fine-tuned model)")
    assert not {"test_accuracy_orig", "test_images"} & set(described["finetune"]), described["finetune"]
