"""A result featcache returned goes where its file's path goes (``os.PathLike``), and describes the file as written:
once another train, export or extract to the same path replaced that file, a reader given the result refuses it in
one line naming the file and the fix, rather than read the other file as the result's (an adversarial tester:
``export(r1)`` exported the head a second train saved at r1's path, while ``evaluate(r1)`` scored r1's own head).
Each case failed on the code before (validate.check_source)."""

from __future__ import annotations

import os

import pytest
from helpers import make_fashion_dir

import featcache
from featcache.deploy.model import read_meta
from featcache.errors import FeatcacheError


def extracted(tmp_path, out, train_limit: int, force: bool = False):
    source = featcache.FashionMNIST(make_fashion_dir(tmp_path / "fm") if not (tmp_path / "fm").exists() else tmp_path / "fm",
                                    train_limit=train_limit, test_limit=10)
    return featcache.extract(source, featcache.ModelSpec(weights="random", image_size=32),
                             featcache.StoreSpec(out=out, force=force))


def refused(call, path, again: str) -> str:
    with pytest.raises(FeatcacheError) as err:
        call()
    message = str(err.value)
    assert message.startswith(f"{path} is no longer the ") and again in message and "\n" not in message, message
    return message


@pytest.fixture
def cache(tmp_path):
    return extracted(tmp_path, tmp_path / "c.h5", 20)


def test_a_train_result_whose_head_was_replaced_is_refused_where_the_file_is_read(cache, tmp_path):
    out = tmp_path / "rr.npz"
    r1 = featcache.train(cache, "logreg", seed=1, train_size=20, out=out, force=True)
    assert featcache.load_head(r1)[1]["train_images"] == 20  # as written: accepted
    r2 = featcache.train(cache, "logreg", seed=7, train_size=10, out=out, force=True)
    message = refused(lambda: featcache.load_head(r1), out, "train again")
    assert message == (f"{out} is no longer the head this TrainResult describes (another head was written there "
                       f"since); pass the path as a str (path={str(out)!r}) to use the head there now, or train again "
                       "to have a result of it")
    refused(lambda: featcache.export(r1, tmp_path / "m.keras"), out, "train again")
    refused(lambda: featcache.verify(r1), out, "train again")
    refused(lambda: featcache.info(r1), out, "train again")
    assert not (tmp_path / "m.keras").exists()
    # the result is still a path (to move or remove the file by), r2 and the path itself read the head there now
    assert os.fspath(r1) == str(out)
    assert featcache.load_head(r2)[1]["train_images"] == featcache.load_head(str(out))[1]["train_images"] == 10
    # evaluate scores the head the result holds in memory, which is r1's own
    assert featcache.evaluate(r1, cache, write=False).accuracy == r1.accuracy


def test_evaluate_of_a_train_result_whose_head_was_replaced_names_no_file(cache, tmp_path):
    """Regression (a last read, 2026-12-06): evaluate(r1) scores r1's head, held in memory, but its report named r1's
    path, where a second train had saved another head: evaluation.json and .txt said a file whose head was not the
    one scored. The report names the file while it holds r1's head, and no file once another was written there."""
    import json

    out = tmp_path / "rr.npz"
    r1 = featcache.train(cache, "logreg", seed=1, train_size=20, out=out, force=True)
    assert featcache.evaluate(r1, cache, write=False).head_path == out  # still r1's file: named
    r2 = featcache.train(cache, "logreg", train_size=10, out=out, force=True)
    assert r1.accuracy != r2.accuracy, (r1.accuracy, r2.accuracy)  # two heads that score apart: which was scored shows
    res = featcache.evaluate(r1, cache, out=tmp_path / "ev")
    assert res.accuracy == r1.accuracy and res.head_path is None  # r1's head scored, and no file named for it
    doc = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert doc["head"] is None and doc["head_abspath"] is None and doc["accuracy"] == r1.accuracy
    assert (tmp_path / "ev" / "evaluation.txt").read_text().splitlines()[0] == "head      (in memory)"
    assert featcache.evaluate(r1, cache, write=False).to_dict()["head"] is None
    # the file's own head is named with it: r2's, and the path given as a str
    assert featcache.evaluate(r2, cache, write=False).head_path == out
    assert featcache.evaluate(str(out), cache, write=False).accuracy == r2.accuracy


def test_evaluate_of_a_train_result_whose_head_file_is_gone_or_unreadable_names_no_file(cache, tmp_path):
    """Regression (a reviewer, 2026-12-06): evaluate's check of a TrainResult's file (replaced_since) said nothing of a
    file gone or unreadable since, so the report still named a file that does not hold the head scored. It names
    none then ("(in memory)"), as of a file replaced."""
    out = tmp_path / "rr.npz"
    r1 = featcache.train(cache, "logreg", seed=1, train_size=20, out=out)
    good = out.read_bytes()
    out.write_bytes(good[: len(good) // 2])  # cut short: no head can be read there
    res = featcache.evaluate(r1, cache, out=tmp_path / "ev")
    assert res.accuracy == r1.accuracy and res.head_path is None
    assert (tmp_path / "ev" / "evaluation.txt").read_text().splitlines()[0] == "head      (in memory)"
    out.write_text("notes\n")  # another file, not a head at all
    assert featcache.evaluate(r1, cache, write=False).head_path is None
    out.unlink()  # gone
    assert featcache.evaluate(r1, cache, write=False).head_path is None
    out.write_bytes(good)  # r1's own file back: named again
    assert featcache.evaluate(r1, cache, write=False).head_path == out


def test_an_export_result_whose_model_was_replaced_is_refused(cache, tmp_path):
    h1 = featcache.train(cache, "logreg", seed=1, out=tmp_path / "h1.npz")
    h2 = featcache.train(cache, "logreg", seed=2, train_size=10, out=tmp_path / "h2.npz")
    model = tmp_path / "m.keras"
    e1 = featcache.export(h1, model)
    # the result read while it is the file's (its record, as load_model checks it: a Keras load of the model here and
    # of the path below were 1-2 s each for the same record; load_model of a current result is e2's, below)
    assert read_meta(e1)["head_path"] == str(h1.path.resolve())
    e2 = featcache.export(h2, model, force=True)
    # each line names the keyword of the call it answers: load_model(path), read_meta(path), predict(model)
    assert f"(path={str(model)!r})" in refused(lambda: featcache.load_model(e1), model, "export the head again")
    assert f"(path={str(model)!r})" in refused(lambda: read_meta(e1), model, "export the head again")
    assert f"(model={str(model)!r})" in refused(lambda: featcache.predict(e1, [str(tmp_path / "fm")]), model,
                                                "export the head again")
    assert featcache.load_model(e2)[1]["head_path"] == read_meta(str(model))["head_path"] == str(h2.path.resolve())


def test_an_extract_result_whose_cache_was_replaced_is_refused(cache, tmp_path):
    path = tmp_path / "c.h5"
    assert featcache.open_cache(cache).sizes["train"] == 20
    again = extracted(tmp_path, path, 16, force=True)
    assert f"(path={str(path)!r})" in refused(lambda: featcache.open_cache(cache), path, "extract again")
    assert f"(cache={str(path)!r})" in refused(lambda: featcache.train(cache, "logreg", out=tmp_path / "h.npz"), path,
                                               "extract again")
    assert featcache.open_cache(again).sizes["train"] == featcache.open_cache(str(path)).sizes["train"] == 16


def test_a_fifo_put_at_a_results_path_is_refused_without_blocking(cache, tmp_path):
    """Regression (a review, 2026-12-06): check_source read the record of whatever was at a result's path, and a
    FIFO put where a TrainResult's head was blocked ``load_head(result)`` in ``open()`` until someone wrote to it
    (the old code returned only when ``fifo_unblocked`` opened it, 20 s on). A result's path that is no regular
    file is left to the reader, which refuses a FIFO in one line, as it does ``load_head(str(path))``."""
    import time

    from helpers import fifo_unblocked

    out = tmp_path / "h.npz"
    result = featcache.train(cache, "logreg", out=out)
    out.unlink()
    with fifo_unblocked(out, after=20):
        started = time.monotonic()
        with pytest.raises(FeatcacheError) as err:
            featcache.load_head(result)
        took = time.monotonic() - started
    assert str(err.value) == (f"{out} is not a regular file (a FIFO, socket or device); pass the .keras or .npz head "
                              "file written by featcache.train(...)")
    assert took < 10, took
