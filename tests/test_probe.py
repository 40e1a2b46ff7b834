"""featcache probe: one head per cached layer, network order, CSV and plot, bad input."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

import featcache
from featcache.analysis.probe import read_probe_csv
from featcache.cli import main
from featcache.embedding.backbones import get_backbone, network_order
from featcache.errors import FeatcacheError
from featcache.heads import make_head

# Deliberately not in network order: probe must sort them.
LAYERS = "out_relu,block_1_expand_relu,block_13_expand_relu"
ORDER = ["block_1_expand_relu", "block_13_expand_relu", "out_relu"]


@pytest.fixture(scope="module")
def multi_cache(tmp_path_factory):
    """One read-only multi-layer cache for the module (tests write only their own --out folders)."""
    from helpers import tiny_fashion_cache

    return tiny_fashion_cache(tmp_path_factory.mktemp("probe"), out="multi.h5", layers=LAYERS)


@pytest.fixture(scope="module")
def small_cache(tmp_path_factory):
    """30 train / 10 test images, read only: too few for probe's default hold-out and for --C cv in a fit, which both
    tests of it refuse before any work (each extracted its own)."""
    from helpers import tiny_fashion_cache

    return tiny_fashion_cache(tmp_path_factory.mktemp("small"), n_train=30, n_test=10, out="s.h5")


@pytest.fixture(scope="module")
def other_multi(tmp_path_factory):
    """Another cache of multi_cache's layers (150 / 60 images), extracted once; a test that moves it copies it first."""
    from helpers import tiny_fashion_cache

    return tiny_fashion_cache(tmp_path_factory.mktemp("other"), n_train=150, n_test=60, out="other.h5", layers=LAYERS)


def test_every_layer_and_head_scored_in_network_order(multi_cache, tmp_path):
    res = featcache.probe(multi_cache, heads="logreg,svm", out=tmp_path / "run", verbose=False, on_test=True, plot=False)
    assert [(r.layer, r.head) for r in res.rows] == [(l, h) for l in ORDER for h in ("logreg", "svm")]
    assert [r.depth for r in res.rows] == [0, 0, 1, 1, 2, 2]
    assert [r.width for r in res.rows[::2]] == [96, 576, 1280]
    cache = featcache.open_cache(multi_cache)
    # Each accuracy is what that head, fitted on that layer's train split, scores on the test split.
    for r in res.rows:
        params = {"probability": False} if r.head == "svm" else {}
        head = make_head(r.head, **params).fit(cache.features("train", r.layer), cache.labels("train"))
        assert r.accuracy == pytest.approx(head.score(cache.features("test", r.layer), cache.labels("test")))
    assert res.best.accuracy == max(r.accuracy for r in res.rows)
    assert res.rows[1].C == 10.0 and res.rows[0].C == 0.03  # each head's own default


def test_heads_on_one_layer_share_its_checks(multi_cache, tmp_path, monkeypatch):
    """probe opened the cache once per fit, so every head on a layer paid its chunk check (28.6 ms for a 70,000-row
    layer) and now its digest check (the whole layer hashed) again: one open Cache per process, each dataset once."""
    from featcache.analysis import probe as probe_mod
    from featcache.store import reader

    getattr(probe_mod, "_open_cached", None) and probe_mod._open_cached.cache_clear()  # another test's Cache
    calls = {"chunks": [], "hashes": []}
    real_chunks, real_hasher = reader.check_chunks_stored, reader.dataset_hasher
    monkeypatch.setattr(reader, "check_chunks_stored", lambda p, ds, name: calls["chunks"].append(name) or real_chunks(p, ds, name))
    monkeypatch.setattr(reader, "dataset_hasher", lambda name, ds: calls["hashes"].append(name) or real_hasher(name, ds))
    featcache.probe(multi_cache, heads="logreg,svm", C=1, out=tmp_path / "run", verbose=False, on_test=True, plot=False)
    read = sorted(f"{s}/features/{l}" for s in ("train", "test") for l in ORDER)
    assert sorted(calls["chunks"]) == read and sorted(calls["hashes"]) == read, calls


def test_best_row_ties_go_to_the_shallower_layer_then_the_first_head():
    from featcache.analysis.probe import ProbeRow, best_row

    row = lambda depth, head, acc: ProbeRow(depth, f"l{depth}", 8, head, None, acc, "test", 0.1)  # noqa: E731
    rows = [row(0, "logreg", 0.7), row(0, "svm", 0.8), row(1, "logreg", 0.9), row(1, "svm", 0.9), row(2, "logreg", 0.9)]
    assert (best_row(rows).depth, best_row(rows).head) == (1, "logreg")
    assert best_row(rows[:2]).head == "svm"


def test_a_tie_says_which_rule_chose_the_best():
    # A new-user tester: block_13 (6/6 views), block_14 (6/6) and block_15 (6/1) tied at 0.8650 held-out and probe
    # chose block_15, the deepest, without a word, where the docs said "ties go to the shallower layer".
    from featcache.analysis.probe import ProbeRow, best_row, tie_note

    six = "orig,flip,shift:+2,+2,shift:-2,-2,shift:+2,-2,shift:-2,+2"
    row = lambda depth, test, acc=0.865, head="logreg": ProbeRow(depth, f"block_{depth}", 8, head, 0.03, acc,  # noqa: E731
                                                                  "holdout", 1.0, six, test)
    rows = [row(12, six, 0.86), row(13, six), row(14, six), row(15, "orig")]
    assert best_row(rows).layer == "block_15"
    assert tie_note(rows, best_row(rows)) == "3 settings tied at 0.8650; chose the one with the fewest test views (1: orig)"
    rows = [row(13, "orig"), row(14, "orig"), row(15, "orig"), row(13, "orig", head="svm")]
    assert tie_note(rows, best_row(rows)) == ("4 settings tied at 0.8650; chose the one with the shallowest layer (block_13), "
                                              "then the head listed first (logreg)")
    assert tie_note(rows[:1] + [row(14, "orig", 0.8)], rows[0]) is None  # no tie, no line


def test_probe_prints_and_records_how_a_tie_was_broken(multi_cache, tmp_path, monkeypatch, capsys):
    import dataclasses

    from featcache.analysis import probe as probe_mod

    real = probe_mod._rows
    monkeypatch.setattr(probe_mod, "_rows", lambda *a: [dataclasses.replace(r, accuracy=0.5) for r in real(*a)])
    assert main(["probe", str(multi_cache), "--heads", "logreg,svm", "--out", str(tmp_path / "p"), "--json", "--no-plot"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["tie"] == ("6 settings tied at 0.5000; chose the one with the shallowest layer (block_1_expand_relu), "
                          "then the head listed first (logreg)") and doc["best"]["layer"] == "block_1_expand_relu"
    assert main(["probe", str(multi_cache), "--heads", "logreg,svm", "--out", str(tmp_path / "q"), "--no-plot"]) == 0
    assert doc["tie"] in capsys.readouterr().out.splitlines()


def test_a_quiet_probes_text_is_the_table_a_verbose_one_prints(multi_cache, tmp_path, capsys):
    """A Python caller of verbose=False had no way to probe's table but to_dict (curve's and evaluate's results have
    text(); a notebook tester): ProbeResult.text() is what verbose=True prints before its call and file lines."""
    quiet = featcache.probe(multi_cache, heads="logreg,svm", out=tmp_path / "q", verbose=False, plot=False)
    assert capsys.readouterr().out == ""
    featcache.probe(multi_cache, heads="logreg,svm", out=tmp_path / "v", verbose=True, plot=False)
    printed = capsys.readouterr().out.splitlines()
    lines = quiet.text().splitlines()
    assert printed[: len(lines)] == lines and printed[len(lines)].startswith("fit it on every training image: ")
    assert lines[0].split() == ["layer", "width", "logreg", "svm"] and len(lines) >= 2 + len(featcache.open_cache(multi_cache).layers)
    assert lines[len(featcache.open_cache(multi_cache).layers) + 1].startswith(f"best layer: {quiet.best.layer} with {quiet.best.head}")


def test_csv_and_plot_are_written(multi_cache, tmp_path):
    res = featcache.probe(multi_cache, heads="logreg", out=tmp_path / "run", verbose=False)
    with open(res.csv, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["layer"] for r in rows] == ORDER and set(rows[0]) >= {"depth", "layer", "width", "head", "accuracy"}
    assert read_probe_csv(res.csv) == res.rows
    assert res.plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and res.plot.stat().st_size > 10_000
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["probe.csv", "probe.json", "probe.png"]  # no temp files
    saved = json.loads((tmp_path / "run" / "probe.json").read_text())
    assert saved["best"] == json.loads(json.dumps(res.to_dict()["best"])) and saved["cache_abspath"] == str(multi_cache.resolve())


def _subset_folder(name: str, layers: list[str]) -> str:
    """The default folder of a probe of ``layers`` (full names, network order), some of the cached ones."""
    import hashlib

    k = len(layers)
    return f"{name}_{k}layer{'s' if k != 1 else ''}_{hashlib.sha256(','.join(layers).encode()).hexdigest()[:6]}"


OUT_RELU = _subset_folder("probe_multi", ["out_relu"])


def test_default_out_is_under_runs(multi_cache):
    import os
    from pathlib import Path

    res = featcache.probe(multi_cache, heads="logreg", layers="out_relu", plot=False)
    assert res.csv.parent == Path(os.environ["FEATCACHE_HOME"]) / "runs" / OUT_RELU
    held_out = res.csv.read_text()
    # On the test split: its own folder, so its flattering choice does not replace the held-out one (a new user)
    on_test = featcache.probe(multi_cache, heads="logreg", layers="out_relu", on_test=True, plot=False)
    assert on_test.csv.parent == Path(os.environ["FEATCACHE_HOME"]) / "runs" / _subset_folder("probe_multi_on_test", ["out_relu"])
    assert res.csv.read_text() == held_out and on_test.csv.read_text() != held_out


def test_a_probe_of_some_layers_keeps_their_depths_and_its_own_default_folder(multi_cache, capsys):
    """Regression (a new-user tester): `probe --layers block_13,out_relu` wrote depths 0 and 1 where the full probe
    writes 12 and 16 (here 1 and 2), and without --out it replaced the full probe in data/runs/probe_<cache>/. A
    row's depth is now its layer's place among every cached layer, and a probe of some of them defaults to
    probe_<cache>_<k>layers_<6 hex>/."""
    import os
    from pathlib import Path

    runs = Path(os.environ["FEATCACHE_HOME"]) / "runs"
    full = featcache.probe(multi_cache, heads="logreg")
    assert full.csv.parent == runs / "probe_multi" and [r.depth for r in full.rows] == [0, 1, 2]
    kept = full.csv.read_bytes(), full.plot.read_bytes()
    depth = {r.layer: r.depth for r in full.rows}
    assert main(["probe", str(multi_cache), "--heads", "logreg", "--layers", "out_relu,block_13"]) == 0
    folder = runs / _subset_folder("probe_multi", ["block_13_expand_relu", "out_relu"])
    assert str(folder / "probe.csv") in capsys.readouterr().out
    assert (full.csv.read_bytes(), full.plot.read_bytes()) == kept  # the full probe's folder holds the full probe
    sub = read_probe_csv(folder / "probe.csv")
    assert [(r.layer, r.depth) for r in sub] == [(l, depth[l]) for l in ("block_13_expand_relu", "out_relu")] == [
        ("block_13_expand_relu", 1), ("out_relu", 2)]
    assert (folder / "probe.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    one = featcache.probe(multi_cache, heads="logreg", layers="block_1", plot=False)
    assert [r.depth for r in one.rows] == [0] and one.csv.parent == runs / _subset_folder("probe_multi", ["block_1_expand_relu"])
    # every cached layer named: the full probe, in its folder
    assert featcache.probe(multi_cache, heads="logreg", layers=LAYERS).csv.parent == runs / "probe_multi"


def test_a_cache_of_the_same_name_elsewhere_gets_its_own_default_folder(multi_cache, tmp_path):
    """data/a/multi.h5 then data/b/multi.h5: the second probe replaced the first's report in probe_multi/ (the last
    session's open list). Now the second gets probe_multi_<6 hex>/, and probing the first again reuses probe_multi/."""
    import os
    import shutil
    from pathlib import Path

    runs = Path(os.environ["FEATCACHE_HOME"]) / "runs"
    other = tmp_path / "b" / multi_cache.name
    other.parent.mkdir()
    shutil.copy2(multi_cache, other)
    first = featcache.probe(multi_cache, heads="logreg", layers="out_relu", plot=False)
    kept = first.csv.read_bytes()
    second = featcache.probe(other, heads="logreg", layers="out_relu", plot=False)
    assert first.csv.parent == runs / OUT_RELU and first.csv.read_bytes() == kept
    assert second.csv.parent.parent == runs and second.csv.parent.name.startswith(OUT_RELU + "_")
    assert len(second.csv.parent.name) == len(OUT_RELU) + 7
    again = featcache.probe(multi_cache, heads="logreg", layers="out_relu", plot=False)
    assert again.csv.parent == runs / OUT_RELU
    assert featcache.probe(other, heads="logreg", layers="out_relu", plot=False).csv.parent == second.csv.parent
    (first.csv.parent / "probe.json").unlink()  # a folder from before probe.json: whose it is is unknown; taken as before
    assert featcache.probe(other, heads="logreg", layers="out_relu", plot=False).csv.parent == runs / OUT_RELU


def test_quiet_unless_verbose_and_out_checked_before_any_fit(multi_cache, tmp_path, capsys, monkeypatch):
    # a default call (its plot drawn) prints nothing; the later probes, whose claim is what they print, draw none
    featcache.probe(multi_cache, heads="logreg", layers="out_relu", out=tmp_path / "q")
    assert capsys.readouterr().out == ""  # a library call prints nothing unless asked
    featcache.probe(multi_cache, heads="logreg", layers="out_relu", out=tmp_path / "v", verbose=True, on_test=True, plot=False)
    printed = capsys.readouterr().out
    assert "best layer: out_relu" in printed and "note: chosen on the test split" in printed  # (a tester missed that)
    featcache.probe(multi_cache, heads="logreg", layers="out_relu", out=tmp_path / "h", verbose=True, plot=False)  # the default
    printed = capsys.readouterr().out
    assert "best layer: out_relu" in printed and "note: chosen on the test split" not in printed
    # One of several cached layers asked for: no hint at --layers blocks (the lesson printed it after probing every
    # block; a new user). No views flags in the train command of a cache without views (a new user).
    assert "note: one layer probed" not in printed
    assert f"fit it on every training image: featcache.train({str(multi_cache)!r}, 'logreg', layer='out_relu', C=0.03)\n" in printed
    from helpers import tiny_fashion_cache

    one = tiny_fashion_cache(tmp_path, out="one.h5")
    featcache.probe(one, heads="logreg", out=tmp_path / "o", verbose=True, plot=False)  # a cache of one layer: the hint
    printed = capsys.readouterr().out
    # a Python call's words (probe(verbose=True)): the call that caches every block, not the command (helper-221)
    assert "note: one layer probed" in printed and "featcache.extract(..., ModelSpec(layers='blocks'))" in printed
    # a cache of one layer chosen at extraction (the lesson's views cache: the layer its probe of every block chose)
    chosen = featcache.extract(featcache.FashionMNIST(data_dir=str(tmp_path / "fm")),
                               featcache.ModelSpec(weights="random", image_size=32, layers="block_13"),
                               featcache.StoreSpec(out=tmp_path / "b13.h5")).path
    featcache.probe(chosen, heads="logreg", out=tmp_path / "b", verbose=True, plot=False)
    assert "note: one layer probed" not in capsys.readouterr().out
    from featcache.analysis import probe as probe_mod

    monkeypatch.setattr(probe_mod, "_fit_one", lambda *a: pytest.fail("fitted before checking --out"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(FeatcacheError, match="choose a writable out$"):
        featcache.probe(multi_cache, heads="logreg", out=tmp_path / "file" / "sub")


def test_read_probe_csv_checks_what_it_reads(multi_cache, tmp_path):
    from featcache.analysis.probe import read_probe_csv

    res = featcache.probe(multi_cache, heads="logreg", layers="out_relu", out=tmp_path, plot=False)  # the csv is the claim
    text = res.csv.read_text()
    res.csv.write_text(text.replace(f",{res.rows[0].accuracy},", ",7.5,"))
    with pytest.raises(FeatcacheError, match=r"is not a readable probe.csv \(row .* is out of range\)"):
        read_probe_csv(res.csv)
    with pytest.raises(FeatcacheError, match="probe file not found"):
        read_probe_csv(tmp_path / "none.csv")


def test_C_per_head_and_cv(multi_cache, tmp_path):
    res = featcache.probe(multi_cache, heads="logreg,svm", C={"logreg": 0.5, "svm": "cv"}, layers="out_relu", out=tmp_path, verbose=False,
                          on_test=True, plot=False)  # the rows' C and accuracy are the claim, not the picture
    cache = featcache.open_cache(multi_cache)
    X, y = cache.features("train", "out_relu"), cache.labels("train")
    # The C that cross-validation picks on these rows, and the accuracy of the head refitted with it.
    svm = make_head("svm", C="cv", probability=False).fit(X, y)
    assert res.rows[0].C == 0.5 and res.rows[1].C == svm.C_
    assert res.rows[1].accuracy == pytest.approx(svm.score(cache.features("test", "out_relu"), cache.labels("test")))
    res = featcache.probe(multi_cache, heads="logreg,svm", C=2, layers="out_relu", out=tmp_path, verbose=False, plot=False)
    assert [r.C for r in res.rows] == [2.0, 2.0]


def test_holdout_scores_on_training_rows_and_never_reads_test(multi_cache, tmp_path, monkeypatch):
    from featcache.analysis.probe import holdout_rows
    from featcache.store.cache import Cache

    cache = featcache.open_cache(multi_cache)
    y = cache.labels("train")
    fit, out = holdout_rows(y, 0.25, seed=1)
    assert len(out) == 12 and not set(fit) & set(out) and len(fit) + len(out) == len(y)
    assert np.bincount(y[out], minlength=10).max() - np.bincount(y[out], minlength=10).min() <= 1  # stratified
    expected = make_head("logreg").fit(cache.features("train", "out_relu")[fit], y[fit]).score(cache.features("train", "out_relu")[out], y[out])

    real = Cache.features

    def no_test(self, split, *a, **k):
        assert split != "test", "holdout probing must not read the test split"
        return real(self, split, *a, **k)

    monkeypatch.setattr(Cache, "features", no_test)
    res = featcache.probe(multi_cache, heads="logreg", layers="out_relu", holdout=0.25, seed=1, out=tmp_path, verbose=False,
                          plot=False)
    assert res.rows[0].scored_on == "holdout" and res.rows[0].accuracy == pytest.approx(expected)


def test_numbers_given_as_text_are_refused_by_the_api_and_read_by_the_cli(multi_cache, tmp_path, capsys):
    """An adversarial tester: probe(holdout="0.2") was a TypeError in the hold-out note (the text was kept past its
    check), where folds="3" ran; view_settings=5 was "'int' object is not iterable". The rule since helper-281: a
    number's text is the CLI's alone (``--holdout 0.25``), and a Python call's holdout="0.25" or folds="3" is refused
    in one line, before the cache is read, as every typed setting refuses it; numbers run, kept as checked."""
    from featcache.analysis.probe import ProbeSpec
    from featcache.cli import main

    kw = dict(heads="logreg", layers="out_relu,block_1_expand_relu", seed=1, plot=False)
    for bad, message in [(dict(holdout="0.25"), r"^holdout='0\.25' is not a fraction; use a number between 0 and 1"),
                         (dict(folds="3"), r"^folds='3' is not a whole number; pass e.g\. folds=5$"),
                         (dict(view_settings=5), r"^view_settings takes TRAIN/TEST pairs separated by ';' .*\(got 5\)$")]:
        with pytest.raises(FeatcacheError, match=message):
            featcache.probe(tmp_path / "no-cache.h5", out=tmp_path / "e", **kw, **bad)  # refused before the cache
        with pytest.raises(FeatcacheError, match=message):
            ProbeSpec(**{k: v for k, v in kw.items() if k != "plot"}, **bad)
    res = featcache.probe(multi_cache, holdout=0.25, out=tmp_path / "a", **kw)
    assert res.note is not None and "12 held-out images" in res.note  # the note that raised
    assert main(["probe", str(multi_cache), "--heads", "logreg", "--layers", "out_relu,block_1_expand_relu", "--seed", "1",
                 "--holdout", "0.25", "--out", str(tmp_path / "b"), "--no-plot", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["layer"], r["accuracy"]) for r in rows] == [(r.layer, r.accuracy) for r in res.rows]


def test_by_default_probe_chooses_on_held_out_training_images(multi_cache, tmp_path, monkeypatch, capsys):
    """Scoring on the test split was the default: a new user's printed 'best layer' and train command were chosen on
    the test images (the README's 0.893 layer was chosen with --holdout 0.2). Now that is the default, and --on-test
    the way to look at the test split."""
    from featcache.analysis.probe import DEFAULT_HOLDOUT, holdout_rows
    from featcache.cli import main
    from featcache.store.cache import Cache

    cache = featcache.open_cache(multi_cache)
    y = cache.labels("train")
    fit, out = holdout_rows(y, DEFAULT_HOLDOUT, seed=0)
    X = cache.features("train", "out_relu")
    expected = make_head("logreg").fit(X[fit], y[fit]).score(X[out], y[out])
    real = Cache.features
    monkeypatch.setattr(Cache, "features", lambda self, split, *a, **k: real(self, split, *a, **k) if split != "test"
                        else pytest.fail("the default probe read the test split"))
    res = featcache.probe(multi_cache, heads="logreg", layers="out_relu", out=tmp_path / "d", plot=False)
    assert res.rows[0].scored_on == "holdout" and res.rows[0].accuracy == pytest.approx(expected)
    monkeypatch.setattr(Cache, "features", real)
    assert main(["probe", str(multi_cache), "--heads", "logreg", "--layers", "out_relu", "--out", str(tmp_path / "t"),
                 "--on-test", "--json"]) == 0
    assert {r["scored_on"] for r in json.loads(capsys.readouterr().out)["rows"]} == {"test"}
    assert main(["probe", str(multi_cache), "--heads", "logreg", "--layers", "out_relu", "--out", str(tmp_path / "t"),
                 "--on-test"]) == 0  # every file it wrote named, probe.json too (a new-user tester)
    t = tmp_path / "t"
    assert capsys.readouterr().out.strip().endswith(f"wrote {t / 'probe.csv'}, {t / 'probe.png'} and {t / 'probe.json'}")
    assert main(["probe", str(multi_cache), "--on-test", "--holdout", "0.2", "--out", str(tmp_path / "x")]) == 2
    assert "give one of them" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_a_small_hold_out_says_its_scores_are_coarse_and_points_to_folds(multi_cache, tmp_path, capsys):
    """A new user's 60 photos: 10 held-out images, many layers tied at 0.90, and the 'best' scored 0.583 on test
    while the final layer scored 1.000; nothing said the hold-out was too small to choose by."""
    from featcache.analysis.probe import SMALL_HOLDOUT, Scoring, small_holdout_note

    n = featcache.open_cache(multi_cache).sizes["train"]
    featcache.probe(multi_cache, heads="logreg", layers="out_relu", out=tmp_path / "d", plot=False, verbose=True)
    out = capsys.readouterr().out
    n_out = int(round(0.2 * n))
    assert n_out < SMALL_HOLDOUT and f"note: only {n_out} held-out images" in out and "folds=5" in out
    assert small_holdout_note(10 * SMALL_HOLDOUT, Scoring(holdout=0.2)) is None  # 200 held out: no note
    assert small_holdout_note(n, Scoring(folds=3)) is None and small_holdout_note(n, Scoring()) is None


def test_a_default_hold_out_too_small_says_what_probe_did_and_every_way_out(small_cache, tmp_path, capsys):
    """The default hold-out on a small cache named a --holdout the user never gave (a review)."""
    small = small_cache
    assert main(["probe", str(small), "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "probe holds out 20% of the training images by default" in err and "--holdout 0.5, --folds K, or --on-test" in err
    assert err.count("\n") == 1 and not (tmp_path / "p").exists()


def test_a_hold_out_no_fraction_can_make_says_so_not_a_nearer_fraction(tmp_path):
    """Regression (a review): probe --holdout 0.5 on 2 training images of 2 classes said "use a fraction nearer 0.5";
    no fraction leaves an image of every class on each side below twice as many images as classes. It says so, and
    what would; where a fraction can, the old advice stands."""
    from test_head_files import synthetic_cache

    from featcache.analysis.probe import holdout_rows

    way_out = "so at least 4 training images, and the cache has 2; no fraction can do that: score on the test split " \
              "with on_test=True, or use a larger cache$"
    with pytest.raises(FeatcacheError, match=r"^holdout=0\.5: a hold-out needs an image of each of the 2 classes on "
                                             r"each side, " + way_out):
        holdout_rows(np.array([0, 1]), 0.5, 0)
    with pytest.raises(FeatcacheError, match=r"^holdout=0\.05 of 10 training images leaves 0 on one side, fewer than "
                                             r"the classes \(2\); use a fraction nearer 0\.5"):
        holdout_rows(np.repeat([0, 1], 5), 0.05, 0)
    assert [len(r) for r in holdout_rows(np.array([0, 1, 0, 1]), 0.5, 0)] == [2, 2]  # the minimum: 2 a class
    tiny = synthetic_cache(tmp_path / "tiny.h5", n_train=2, class_names=["a", "b"])
    for holdout, start in ((0.5, r"holdout=0\.5: "), (None, r"probe holds out 20% of the training images by default; ")):
        with pytest.raises(FeatcacheError, match="^" + start + r"a hold-out needs .*" + way_out):
            featcache.probe(tiny, heads="logreg", holdout=holdout, out=tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_C_cv_with_too_few_images_in_a_fit_is_one_line_before_any_fit(small_cache, tmp_path, capsys, monkeypatch):
    """--C cv splits each fit's rows into folds: 3 images of a class, 2 folds, left 1 in a fit, and the
    head's own ValueError came out as a traceback (a review)."""
    import featcache.analysis.probe as probe

    small = small_cache
    monkeypatch.setattr(probe, "_fit_one", lambda *a, **k: pytest.fail("a fit started"))
    for args, needs in ((["--folds", "2"], "--C cv in each of the --folds 2 fits"),
                        (["--holdout", "0.5"], "--C cv on the images --holdout 0.5 leaves to fit")):
        assert main(["probe", str(small), "--heads", "logreg", "--C", "cv", *args, "--out", str(tmp_path / "p")]) == 2
        err = capsys.readouterr().err
        assert f"{needs} needs at least 2 training images of every class" in err and "pass a number for --C" in err
        assert err.count("\n") == 1 and not (tmp_path / "p").exists()


def test_what_splits_a_heads_fit_into_folds():
    from featcache.heads import folds_needed

    assert folds_needed("logreg", {"C": "cv"}) == folds_needed("svm", {"C": "cv"}) == "--C cv"
    assert folds_needed("svm", {}) == "the SVM head's probability calibration"
    assert folds_needed("logreg", {}) is folds_needed("svm", {"probability": False}) is folds_needed("keras", {}) is None


def test_scored_rows_are_drawn_once_for_every_fit(multi_cache, tmp_path, monkeypatch):
    """The hold-out is checked and drawn once, before any fit, and every fit scores on those rows (it was drawn
    again in each fit)."""
    from featcache.analysis import probe as probe_mod

    drawn = []
    real = probe_mod.scoring_rows
    monkeypatch.setattr(probe_mod, "scoring_rows", lambda *a: drawn.append(real(*a)) or drawn[-1])
    res = featcache.probe(multi_cache, heads="logreg,svm", layers="out_relu", holdout=0.25, seed=1, out=tmp_path, plot=False)
    assert len(drawn) == 1 and len(res.rows) == 2 and {r.scored_on for r in res.rows} == {"holdout"}


@pytest.mark.slow  # n_jobs=2 starts worker processes that import scikit-learn
def test_parallel_fits_give_the_same_table(multi_cache, tmp_path):
    # plot=False: the claim is the table (two probe.png drawings were most of this process's own CPU)
    one = featcache.probe(multi_cache, heads="logreg,svm", out=tmp_path / "a", verbose=False, plot=False)
    two = featcache.probe(multi_cache, heads="logreg,svm", out=tmp_path / "b", n_jobs=2, verbose=False, plot=False)
    assert [(r.layer, r.head, r.accuracy) for r in one.rows] == [(r.layer, r.head, r.accuracy) for r in two.rows]


def test_jobs_is_n_jobs_under_curves_name(multi_cache, tmp_path, monkeypatch):
    """learning_curve(jobs=) and the CLI's --jobs, but probe(n_jobs=) only: probe(jobs=2) was a TypeError (a tester's
    note). One setting under both names; both given is one line."""
    from featcache.analysis import probe as probe_mod

    asked = []
    real = probe_mod._run_jobs
    monkeypatch.setattr(probe_mod, "_run_jobs", lambda path, jobs, params, scoring, n_jobs, verbose:
                        asked.append(n_jobs) or real(path, jobs, params, scoring, 1, verbose))
    featcache.probe(multi_cache, heads="logreg", layers="out_relu", out=tmp_path / "a", jobs=2, plot=False)
    featcache.probe(multi_cache, heads="logreg", layers="out_relu", out=tmp_path / "b", n_jobs=2, plot=False)
    assert asked == [2, 2]
    with pytest.raises(FeatcacheError, match="jobs and n_jobs are one setting"):
        featcache.probe(multi_cache, heads="logreg", out=tmp_path / "c", jobs=2, n_jobs=2)


def test_a_probe_spec_runs_the_probe_its_keywords_make(multi_cache, tmp_path):
    """probe's settings keywords build a ProbeSpec, which run_probe runs (as learning_curve's keywords a CurveSpec for
    run_curve): the same rows either way, and the spec's defaults are the signature's (one home)."""
    import dataclasses
    import inspect

    from featcache.analysis.probe import ProbeSpec, run_probe

    kwargs = {"heads": "logreg,svm", "layers": "out_relu,block_13", "folds": 2, "seed": 3, "C": {"logreg": 0.5}}
    made = featcache.probe(multi_cache, out=tmp_path / "a", plot=False, **kwargs)
    run = run_probe(ProbeSpec(**kwargs), multi_cache, tmp_path / "b", plot=False)
    assert [(r.layer, r.head, r.C, r.accuracy, r.scored_on) for r in made.rows] == \
           [(r.layer, r.head, r.C, r.accuracy, r.scored_on) for r in run.rows]
    assert {r.scored_on for r in run.rows} == {"folds"} and len(run.rows) == 4
    keywords = inspect.signature(featcache.probe).parameters
    assert all(keywords[f.name].default == f.default for f in dataclasses.fields(ProbeSpec))
    with pytest.raises(FeatcacheError, match="^spec must be a ProbeSpec, not dict"):
        run_probe({"heads": "logreg"}, multi_cache)


def test_cli_text_and_json(multi_cache, tmp_path, capsys):
    assert main(["probe", str(multi_cache), "--heads", "logreg", "--out", str(tmp_path / "t")]) == 0
    text = capsys.readouterr().out
    assert "best layer: " in text and "block_13_expand_relu" in text and "probe.png" in text
    assert main(["probe", str(multi_cache), "--heads", "logreg", "--out", str(tmp_path / "j"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert len(info["rows"]) == 3 and info["best"]["layer"] in ORDER and info["csv"].endswith("probe.csv")
    # What the text advises, --json says too (a tester): the train command and the small hold-out's note.
    assert info["train_command"] == f"featcache train {multi_cache} --head logreg --layer {info['best']['layer']} --C 0.03"
    assert info["train_command"] in text and info["note"] and info["note"] in text
    assert "exportable_train_command" not in info  # every head exports: the key, always null, was dropped (2026-12-06)


def test_network_order_reads_the_architecture_for_other_layers():
    bb = get_backbone("mobilenet_v2")
    names = ["out_relu", "block_3_depthwise_relu", "Conv1_relu", "block_1_expand_relu"]
    assert network_order(bb, names, 32) == ["Conv1_relu", "block_1_expand_relu", "block_3_depthwise_relu", "out_relu"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--layers", "block_9_expand_relu"], "--layers 'block_9_expand_relu' is not in"),
        (["--layers", " , "], "--layers is empty"),
        (["--heads", "forest"], "unknown head 'forest'"),
        (["--heads", ","], "--heads is empty"),
        (["--C", "-1"], "not a positive number"),
        (["--C", "abc"], "not a positive number"),
        (["--C", "svm=1", "--heads", "logreg"], "which is not among the heads (logreg)"),
        (["--C", "keras=1", "--heads", "keras"], "has no C parameter"),
        (["--C", "1,svm=2"], "mixes a bare value"),
        (["--jobs", "0"], "--jobs 0 is not valid"),
        (["--holdout", "1.5"], "--holdout 1.5 is not a fraction"),
        (["--holdout", "0.01"], "on one side, fewer than the classes (10)"),
        (["--seed", "-1", "--holdout", "0.2"], "--seed -1 is out of range; use a whole number from 0 to 4294967295"),
        (["--seed", str(2**32)], "--seed 4294967296 is out of range"),
        (["--param", "max_iter=5"], "--param 'max_iter=5' names no head, and there are 2 (logreg, svm); write HEAD.NAME=VALUE, "
                                    "e.g. --param logreg.max_iter=..."),
        # the example's head takes the name: it was 'logreg.gamma=...' (a new-user tester)
        (["--param", "gamma=0.01"], "write HEAD.NAME=VALUE, e.g. --param svm.gamma=..."),
        (["--param", "logreg.C=1"], "--param logreg.C: give it with --C (HEAD=C for one head)"),
        (["--param", "logreg.max_iter"], "--param 'logreg.max_iter' is not HEAD.NAME=VALUE; write e.g. --param logreg.max_iter=..."),
        (["--param", "keras.dropout=0.5"], "--param names head 'keras', which is not among the heads (logreg, svm)"),
        # C, which probe takes as --C, is not offered (they were, and --param then refused them)
        (["--param", "svm.gama=0.1"], "head 'svm' has no parameter 'gama'; its parameters: cache_size, calibration_cv, cv_folds, gamma, n_jobs, probability, seed"),
        (["--heads", "keras", "--param", "n_classes=5"], "--param keras.n_classes: set from the cache's classes"),
        (["--param", "svm.gamma=-1"], "--param svm.gamma=-1 is not valid; use a number > 0 or 'scale' or 'auto', e.g. 0.01"),  # as given, not "SVMHead gamma"
    ],
)
def test_bad_input_is_one_clear_line(multi_cache, tmp_path, capsys, args, message):
    assert main(["probe", str(multi_cache), "--out", str(tmp_path / "x"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_missing_cache(tmp_path, capsys):
    assert main(["probe", str(tmp_path / "none.h5")]) == 2
    assert "cache not found" in capsys.readouterr().err


def test_an_svm_chosen_needs_no_other_head_to_export(multi_cache, tmp_path, capsys, monkeypatch):
    """probe may choose an SVM, which export refused (no Dense-layer form): it then printed the train command of the
    best keras/logreg row. The SVM exports now (deploy.svmgraph): no other head is offered. Here the SVM row is made
    the choice."""
    import featcache.analysis.probe as probe_mod

    real = probe_mod.best_row
    monkeypatch.setattr(probe_mod, "best_row", lambda rows: next((r for r in rows if r.head == "svm"), None) or real(rows))
    res = featcache.probe(multi_cache, heads="logreg,svm", layers="out_relu", out=tmp_path / "d", plot=False, verbose=True)
    assert res.best.head == "svm" and "cannot be exported" not in capsys.readouterr().out
    assert res.train_command.startswith(f"featcache train {multi_cache} --head svm ")


def test_probe_train_and_curve_take_the_block_names_probe_png_shows(multi_cache, tmp_path, capsys, monkeypatch):
    """Regression (a new user): extract --layers took probe.png's label block_13, probe --layers and train --layer
    only block_13_expand_relu. All of them now resolve names through backbones.layer_name, and a name that is not
    cached is one line listing the cached layers by both names."""
    import featcache.embedding.backbones as bb_mod
    from featcache.heads.io import load_head

    seen: list[str] = []
    real = bb_mod.layer_name
    monkeypatch.setattr(bb_mod, "layer_name", lambda backbone, name: (seen.append(name), real(backbone, name))[1])
    res = featcache.probe(multi_cache, heads="logreg", layers="block_13,out_relu,block_13_expand_relu", out=tmp_path / "p",
                          plot=False)
    assert [r.layer for r in res.rows] == ["block_13_expand_relu", "out_relu"]  # one row a layer, however named
    assert main(["probe", str(multi_cache), "--heads", "logreg", "--layers", "block_1", "--out", str(tmp_path / "q"), "--no-plot"]) == 0
    assert main(["train", str(multi_cache), "--head", "logreg", "--layer", "block_13", "--out", str(tmp_path / "h.npz")]) == 0
    assert load_head(tmp_path / "h.npz")[1]["layer"] == "block_13_expand_relu"  # the head records the cached layer's name
    curve = featcache.learning_curve(multi_cache, [20], seeds=1, heads="logreg", layer="block_1", out=tmp_path / "c", plot=False)
    assert curve.meta["layer"] == "block_1_expand_relu"
    featcache.extract(featcache.FashionMNIST(data_dir=featcache.open_cache(multi_cache).meta["source"]["data_dir"]),
                      featcache.ModelSpec(weights="random", image_size=32, layers=LAYERS.replace("block_13_expand_relu", "block_13")),
                      featcache.StoreSpec(out=multi_cache), verbose=False)  # a hit: the same layers
    assert {"block_13", "block_1", "block_13_expand_relu"} <= set(seen)
    capsys.readouterr()
    listing = ("cached layers: out_relu, block_1 (block_1_expand_relu), block_13 (block_13_expand_relu) (extract others "
               "with 'featcache extract --layers')")  # as the cache lists them
    for argv, flag in ((["probe", str(multi_cache), "--layers", "block_13,block_9", "--out", str(tmp_path / "x")], "--layers"),
                       (["train", str(multi_cache), "--head", "logreg", "--layer", "block_9", "--out", str(tmp_path / "x.npz")], "--layer")):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert f"{flag} 'block_9' is not in {multi_cache}; {listing}" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize("backbone, layers, labels", [
    # EfficientNet's residual branch (block2b_project_bn, before the skip) was labelled block2b: no layer takes that name
    ("efficientnet_b0", ["block2a_project_bn", "block2b_project_bn", "block2b_add", "top_activation"],
     ["block2a", "block2b_project_bn", "block2b_add", "top_activation"]),
    # two layers whose names differed only in _project_bn / _expand_relu drew one label twice
    ("mobilenet_v2", ["block_13_expand_relu", "block_13_project_bn", "block_13", "out_relu"],
     ["block_13_expand_relu", "block_13_project_bn", "block_13", "out_relu"]),
    ("mobilenet_v2", ["block_1_expand_relu", "block_13_expand_relu", "out_relu"], ["block_1", "block_13", "out_relu"]),
    (None, ["block_1_expand_relu", "out_relu"], ["block_1_expand_relu", "out_relu"]),
])
def test_probe_png_gives_every_layer_its_own_label_a_name_the_commands_take(backbone, layers, labels):
    from featcache.analysis.plots import probe_figure
    from featcache.analysis.probe import ProbeRow
    from featcache.embedding.backbones import REGISTRY, layer_name

    rows = [ProbeRow(i, layer, 96, h, 0.03, 0.80 + 0.01 * i, "holdout", 0.1) for i, layer in enumerate(layers) for h in ("logreg", "svm")]
    fig = probe_figure(rows, rows[-1], "t", backbone)
    shown = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert shown == labels and len(set(shown)) == len(layers)
    if backbone:  # where a short name is shown, it is the one --layers and --layer take back
        assert all(layer_name(REGISTRY[backbone], label) == layer or label == layer for label, layer in zip(shown, layers))
    assert [line.get_label() for line in fig.axes[0].get_lines()][:2] == ["logreg", "svm"]


def test_a_one_layer_probe_png_gives_each_head_and_view_setting_its_own_point():
    """A probe of one layer with 7 view settings drew its 7 points at one x, on top of each other (a tester): one
    layer's view settings each get their own x, labelled, each head's points beside the other's, the best one starred."""
    from featcache.analysis.plots import probe_figure
    from featcache.analysis.probe import ProbeRow

    settings = [("orig", "orig"), ("orig", "orig,flip"), ("orig,flip", "orig"), ("orig,flip", "orig,flip")]
    rows = [ProbeRow(13, "block_13_expand_relu", 576, h, 0.03, 0.85 + 0.01 * i + 0.002 * j, "holdout", 0.1, tv, sv)
            for i, (tv, sv) in enumerate(settings) for j, h in enumerate(("logreg", "svm"))]
    fig = probe_figure(rows, rows[-1], "t", "mobilenet_v2")
    ax = fig.axes[0]
    *heads, star = ax.get_lines()
    xs = [x for line in heads for x in line.get_xdata()]
    assert [line.get_label() for line in heads] == ["logreg", "svm"]
    assert len(xs) == len(rows) and len(set(xs)) == len(rows)
    shown = [t.get_text().replace("\n", " ") for t in ax.get_xticklabels()]
    assert len(shown) == len(settings) and len(set(shown)) == len(settings) and shown[0] == "original view"
    assert list(star.get_xdata()) == [heads[1].get_xdata()[-1]] and list(star.get_ydata()) == [rows[-1].accuracy]
    assert "block_13" in ax.get_xlabel()


@pytest.mark.parametrize("scored_on, words", [("folds", "cross-validated"), ("holdout", "held-out"), ("test", "test")])
def test_a_one_layer_probe_png_of_view_settings_reads(scored_on, words):
    """A new-user tester's probe.png of 2 heads x 3 view settings on one layer: both heads' points one colour, labels
    rotated 60 degrees squashing the axes to about 40% of the figure's height, the legend over the points, and with
    --folds a y axis saying "held-out accuracy (train split)". Each head has its colour, the labels lie flat, the axes
    take most of the height, the legend covers no point, and the y axis says how the accuracy was scored."""
    from featcache.analysis.plots import _covers_data, probe_figure
    from featcache.analysis.probe import ProbeRow

    four = "orig,flip,shift:+2,+2,shift:-2,-2"
    accuracy = {("logreg", "orig", "orig"): 0.905, ("logreg", four, "orig"): 0.899, ("logreg", four, four): 0.909,
                ("svm", "orig", "orig"): 0.903, ("svm", four, "orig"): 0.911, ("svm", four, four): 0.908}
    rows = [ProbeRow(13, "block_13_expand_relu", 576, h, 0.03, a, scored_on, 0.1, tv, sv) for (h, tv, sv), a in accuracy.items()]
    best = max(rows, key=lambda r: r.accuracy)
    fig = probe_figure(rows, best, "t", "mobilenet_v2")
    fig.draw_without_rendering()
    ax = fig.axes[0]
    points = [line for line in ax.get_lines() if line.get_marker() == "o"]
    colours = {line.get_label(): line.get_color() for line in points}
    assert set(colours) == {"logreg", "svm"} and len(set(colours.values())) == 2
    assert all(t.get_rotation() == 0 for t in ax.get_xticklabels())
    assert ax.get_window_extent().height >= 0.55 * fig.bbox.height
    legend = ax.get_legend() or fig.legends[0]
    assert not _covers_data(ax, legend.get_window_extent())
    assert words in ax.get_ylabel() and (scored_on == "holdout") == ("held-out" in ax.get_ylabel())


@pytest.mark.parametrize("layers, settings", [
    (12, [("orig", "orig")]),
    (1, [("orig", "orig"), ("orig,flip", "orig"), ("orig,flip", "orig,flip")]),
    (3, [("orig", "orig"), ("orig,flip", "orig,flip")]),
])
def test_the_best_points_star_lies_inside_the_axes(layers, settings):
    """probe.png's star of the best point was cut off at the top: the y axis ended a 5% margin above the best value,
    less than the star's radius (a new-user tester). It lies whole inside the axes, the axis's top above it."""
    from featcache.analysis.plots import probe_figure
    from featcache.analysis.probe import ProbeRow

    rows = [ProbeRow(d, f"block_{d}_expand_relu", 96, h, 0.03, 0.80 + 0.01 * d + 0.004 * i + 0.002 * j, "holdout", 0.1, tv, sv)
            for d in range(layers) for i, (tv, sv) in enumerate(settings) for j, h in enumerate(("logreg", "svm"))]
    best = max(rows, key=lambda r: r.accuracy)
    fig = probe_figure(rows, best, "t", "mobilenet_v2")
    fig.draw_without_rendering()
    ax = fig.axes[0]
    star = [line for line in ax.get_lines() if line.get_marker() == "*"]
    assert len(star) == 1 and list(star[0].get_ydata()) == [best.accuracy]
    box, frame = star[0].get_window_extent(), ax.get_window_extent()
    assert frame.y0 <= box.y0 and box.y1 <= frame.y1, (box, frame)
    assert ax.get_ylim()[1] > best.accuracy


@pytest.mark.parametrize("n_layers", [1, 2, 12])
def test_the_plots_title_lies_within_the_figure_for_any_number_of_layers(n_layers):
    """'probe CACHE --heads logreg' on a cache of one or two layers: the figure is sized for its layers and the
    one-line title ran off both edges ("...test spli"; a new user). It is wrapped at spaces to fit, all of it kept."""
    from featcache.analysis.plots import probe_figure
    from featcache.analysis.probe import ProbeRow

    rows = [ProbeRow(i, f"block_{i}_expand_relu", 96, "logreg", 0.03, 0.80 + 0.004 * i, "holdout", 0.1) for i in range(n_layers)]
    # the second: a 2-layer probe's title ended on the figure's edge pixel (an adversarial tester); 1% margin now
    for title in ("mobilenet_v2 96px, fashion_mnist: 1600 train -> 400 held-out train images; test split unused",
                  "mobilenet_v2 96px, fashion_mnist: 480 train -> 120 held-out train images; test split unused"):
        fig = probe_figure(rows, rows[-1], title)
        fig.draw_without_rendering()
        shown = fig.axes[0].title
        box, margin = shown.get_window_extent(), 0.01 * fig.bbox.width
        assert fig.bbox.x0 + margin <= box.x0 and box.x1 <= fig.bbox.x1 - margin, (box, fig.bbox)
        assert shown.get_text().replace("\n", " ") == title


def test_a_probe_without_a_plot_drops_the_one_from_before(multi_cache, tmp_path):
    """probe(plot=False) (--no-plot) into a folder holding an earlier probe's picture: it showed the earlier heads'
    lines beside this probe's table (until 2026-12-04 it stayed, vouched for by probe.json); it goes."""
    from featcache.validate import recorded_digests

    out = tmp_path / "run"
    first = featcache.probe(multi_cache, heads="logreg", out=out, on_test=True)
    assert first.plot.exists()
    second = featcache.probe(multi_cache, heads="svm", out=out, on_test=True, plot=False)
    assert second.plot is None and not (out / "probe.png").exists()
    assert set(recorded_digests(out / "probe.json")) == {"probe.csv"}
    assert featcache.probe(multi_cache, heads="svm", out=out, on_test=True).plot.exists()  # a plot again, accepted


@pytest.mark.parametrize("name", ["plain.h5", "with space.h5", "it's.h5", "new\nline.h5", "esc\x1b[31m.h5", "tab\tand\\.h5",
                                  "c1\x85and\u2028é.h5"])
@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
def test_the_suggested_train_command_pastes_into_bash(name, locale, capsys, tmp_path):
    """probe prints the train command of its choice, on one line (errors.one_line). A cache path with a newline was
    quoted 'new\\nline.h5' by shlex and then escaped: pasted, bash read a backslash and an n (a session's note). Bash
    reads the printed word back as the path, whatever it holds."""
    import subprocess

    from featcache.analysis.probe import ProbeRow, train_command
    from featcache.errors import one_line

    path = str(tmp_path / name)
    printed = one_line(train_command(path, ProbeRow(0, "out_relu", 8, "logreg", 0.03, 0.5, "test", 0.1)))
    assert printed == train_command(path, ProbeRow(0, "out_relu", 8, "logreg", 0.03, 0.5, "test", 0.1))  # nothing escaped after
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": locale}  # bash's \u escapes depended on it (a review)
    got = subprocess.run(["bash", "-c", f'set -- {printed}; printf "%s\\0" "$@"'], capture_output=True, env=env).stdout
    assert got.split(b"\0")[:-1] == [w.encode() for w in ["featcache", "train", path, "--head", "logreg", "--layer", "out_relu",
                                                           "--C", "0.03"]]


def test_the_suggested_train_command_and_note_give_each_value_as_typed():
    """A tester: probe --param svm.gamma=1e20 suggested '--param gamma=1e+20', a C of 1e10 '--C 10000000000.0', and a
    bool 'probability=False' where --param types false; the note said 'probability=False' too. Each is the one form of
    a parameter's value (validate.param_text), and train reads it back as the same value."""
    from featcache.analysis.probe import ProbeRow, _probe_only_note, train_command
    from featcache.validate import parse_params

    row = ProbeRow(0, "out_relu", 8, "svm", 1e10, 0.5, "test", 0.1)
    command = train_command("c.h5", row, ("orig",), {"gamma": 1e20, "probability": False, "cache_size": 200.5})
    assert command.endswith("--C 1e10 --param gamma=1e20 --param probability=false --param cache_size=200.5"), command
    given = [w.split("=", 1)[1] for w in command.split() if "=" in w]
    assert parse_params([f"v{i}={t}" for i, t in enumerate(given)]) == {"v0": 1e20, "v1": False, "v2": 200.5}
    from featcache.errors import cli_words

    with cli_words():  # the command's form; a Python call's is Python's (probability=False)
        assert _probe_only_note("svm", {"svm": {"probability": False}}).startswith(" (probe fitted it with probability=false ")
    assert _probe_only_note("svm", {"svm": {"probability": False}}).startswith(" (probe fitted it with probability=False ")


def test_a_suggested_command_names_a_path_starting_with_a_dash_as_a_path(tmp_path):
    """Regression (an adversarial tester): 'featcache train -odd.h5 ...' was read as an option when pasted."""
    import subprocess

    from featcache.analysis.probe import ProbeRow, train_command

    row = ProbeRow(0, "out_relu", 8, "logreg", 0.03, 0.5, "test", 0.1)
    assert train_command("-odd.h5", row).startswith("featcache train ./-odd.h5 ")
    assert train_command(str(tmp_path / "-odd.h5"), row).startswith(f"featcache train {tmp_path / '-odd.h5'} ")


def test_a_file_saved_into_out_during_a_probe_is_never_replaced(multi_cache, tmp_path, monkeypatch):
    """Regression (an adversarial tester): probe checked its folder at the start only; a probe.csv saved there
    during the fits was replaced, and a probe.png deleted with --no-plot. The folder is checked again before it
    is written."""
    from helpers import saved_meanwhile

    from featcache.analysis import probe as probe_mod

    out = tmp_path / "run"
    saved_meanwhile(monkeypatch, probe_mod, "_rows", out / "probe.png", "my picture")
    with pytest.raises(FeatcacheError, match="holds probe.png, which is not part of a report featcache wrote"):
        featcache.probe(multi_cache, heads="logreg", on_test=True, out=out, plot=False)
    assert (out / "probe.png").read_text() == "my picture" and not (out / "probe.csv").exists()


def test_a_heads_own_parameters_reach_every_fit_and_the_suggested_train_command(multi_cache, tmp_path, capsys, monkeypatch):
    """probe fitted each head with probe's defaults alone: a head's own parameters (logreg's max_iter, the SVM's
    gamma) could not be set, and the train command it suggests must carry them or it trains another head."""
    import featcache.analysis.probe as probe_mod

    seen = []
    fit = probe_mod._fit_and_score
    monkeypatch.setattr(probe_mod, "_fit_and_score", lambda h, params, *a: seen.append((h, dict(params))) or fit(h, params, *a))
    assert main(["probe", str(multi_cache), "--heads", "logreg", "--layers", "out_relu", "--param", "max_iter=7",
                 "--param", "warm_start=true", "--C", "0.5", "--out", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert seen == [("logreg", {"max_iter": 7, "warm_start": True, "C": 0.5})]
    command = next(line for line in out.splitlines() if "featcache train" in line).split(": ", 1)[1]
    assert command.endswith("--head logreg --layer out_relu --C 0.5 --param max_iter=7 --param warm_start=true")  # as typed (h140)
    from featcache.cli import build_parser

    argv = command.split()[1:]  # the suggested command parses to the same parameters in train
    args = build_parser().parse_args(argv)
    from featcache.validate import parse_params

    assert parse_params(args.params) == {"max_iter": 7, "warm_start": True}
    result = featcache.probe(multi_cache, heads="svm", layers="out_relu", head_params={"svm": {"gamma": 0.5}},
                             out=tmp_path / "q", plot=False)
    assert seen[-1] == ("svm", {"probability": False, "gamma": 0.5})  # probe's own setting kept, not in the command
    assert result.train_command.endswith("--param gamma=0.5")


def test_the_suggested_train_command_gives_train_s_own_options_as_options(multi_cache, tmp_path, capsys):
    """probe --param logreg.seed=3 (or keras.epochs=2, keras.standardize=true) suggested 'train --param seed=3',
    which train refuses ("--param seed: give it with --seed"): the command must run and fit the probed head."""
    from featcache.analysis.probe import ProbeRow, train_command
    from featcache.analysis.train import OWN_FLAGS, build_head
    from featcache.cli import build_parser

    assert main(["probe", str(multi_cache), "--heads", "logreg", "--layers", "out_relu", "--param", "seed=3",
                 "--param", "max_iter=7", "--out", str(tmp_path / "p")]) == 0
    command = next(line for line in capsys.readouterr().out.splitlines() if "featcache train" in line).split(": ", 1)[1]
    assert "--seed 3" in command and "--param seed" not in command
    assert main([*command.split()[1:], "--out", str(tmp_path / "h.npz")]) == 0, capsys.readouterr().err
    est, meta = featcache.load_head(tmp_path / "h.npz")
    assert meta["params"]["seed"] == 3 and meta["params"]["max_iter"] == 7
    row = ProbeRow(0, "out_relu", 8, "keras", None, 0.5, "holdout", 0.1)
    for given, says in (({"epochs": 2, "standardize": True, "n_classes": 10, "dropout": 0.5}, "--epochs 2 --standardize --param dropout=0.5"),
                        ({"standardize": False, "seed": 1}, "--seed 1")):
        command = train_command(multi_cache, row, ("orig",), given)
        assert command.endswith(says), command
        args = build_parser().parse_args(command.split()[1:])
        est = build_head(args.head, preset=args.preset, epochs=args.epochs, C=args.C, seed=args.seed or 0,
                         n_classes=10, standardize=bool(args.standardize), params=args.params)
        assert {k: est.get_params()[k] for k in given} == given
    from featcache.analysis.probe import TRAIN_OPTIONS

    assert set(TRAIN_OPTIONS) == set(OWN_FLAGS) - {"C"}  # a new option of train's own is one to translate here


def test_the_suggested_svm_command_says_train_calibrates_where_probe_did_not(multi_cache, tmp_path, capsys):
    """An adversarial tester: probe's row said 0.8637 and its suggested train command gave 0.8627: probe fits the SVM
    without probability calibration (probe_params), train with it. The line says so, rather than promise the row."""
    featcache.probe(multi_cache, heads="svm", layers="out_relu", out=tmp_path / "s", verbose=True, plot=False)
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("fit it on every training image"))
    assert line.endswith("(probe fitted it with probability=False for speed, train with its default: "
                         "the accuracy may differ a little)"), line
    featcache.probe(multi_cache, heads="logreg", layers="out_relu", out=tmp_path / "l", verbose=True, plot=False)
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("fit it on every training image"))
    assert line.endswith("C=0.03)"), line  # a head probe fits as train does: nothing to say
    featcache.probe(multi_cache, heads="svm", layers="out_relu", out=tmp_path / "p", verbose=True, plot=False,
                    head_params={"svm": {"probability": True}})
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("fit it on every training image"))
    assert "probe fitted it with" not in line, line  # fitted as train fits it


def test_a_probe_parameter_the_user_gave_is_carried_to_the_suggested_train_command(multi_cache, tmp_path, capsys):
    """Regression (a tester): probe --param svm.probability=false suggested a train command without it and said
    "probe fitted it with probability=False for speed": the user had asked for it, and train then calibrated."""
    result = featcache.probe(multi_cache, heads="svm", layers="out_relu", out=tmp_path / "s", verbose=True,
                             head_params={"svm": {"probability": False}}, plot=False)
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("fit it on every training image"))
    assert line.endswith(", params={'probability': False})"), line  # a Python call's advice is the call
    assert result.train_command.endswith(" --param probability=false")


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_cache_moved_over_the_probed_one_during_its_run_is_refused(multi_cache, other_multi, tmp_path, monkeypatch, jobs):
    """probe's fits reopen the cache by its path (each worker, and this process once per file identity): a cache
    moved over it during the run was fitted as if it were the first (curve's case, an adversarial tester). Each
    fit now checks the cache it opened is the one probed: one line, no report."""
    import shutil

    from featcache.analysis import probe as probe_mod

    cache = Path(shutil.copy(multi_cache, tmp_path / "c.h5"))
    other = Path(shutil.copy(other_multi, tmp_path / "other.h5"))  # moved over the probed copy below
    run_jobs = probe_mod._run_jobs

    def swap_before_fitting(*args, **kwargs):
        os.replace(other, cache)  # what a second extract's publish does
        return run_jobs(*args, **kwargs)

    monkeypatch.setattr(probe_mod, "_run_jobs", swap_before_fitting)
    with pytest.raises(FeatcacheError, match=r"c\.h5 was replaced by another cache while the probe ran"):
        featcache.probe(cache, heads="logreg", out=tmp_path / "run", verbose=False, on_test=True, n_jobs=jobs)
    assert not (tmp_path / "run" / "probe.json").exists()


def test_verify_checks_a_reports_record_and_the_files_it_vouches_for(multi_cache, tmp_path, capsys):
    """info and verify refused a probe.json, curve.json or lesson.json ('none of the files featcache describes')
    although each records the SHA-256 of its report's files and its own (a new-user tester). verify checks them;
    info says what the file is and points to verify."""
    featcache.probe(multi_cache, heads="logreg", out=tmp_path / "run", verbose=False, on_test=True)
    record = tmp_path / "run" / "probe.json"
    assert main(["verify", str(record)]) == 0
    assert capsys.readouterr().out.startswith(f"ok: {record} is intact (a report's record): its own digest and 2 files it vouches for")
    assert featcache.verify(record).to_dict()["files"] == ["probe.csv", "probe.png"]
    assert main(["info", str(record)]) == 0  # a valid record of ours: described, not an error
    assert f"{record} is a report's record (JSON: open it as it is); 'featcache verify {record}'" in capsys.readouterr().out
    csv_path = tmp_path / "run" / "probe.csv"
    as_written = csv_path.read_bytes()
    csv_path.write_text(csv_path.read_text().replace("logreg", "logreg ", 1))
    assert main(["verify", str(record)]) == 2
    assert capsys.readouterr().err.strip() == (f"featcache verify: error: {csv_path} was changed since featcache wrote it "
                                               "(its SHA-256 is not the one probe.json records); run the command that "
                                               "wrote the report again")
    doc = json.loads(record.read_text())
    csv_path.write_bytes(as_written)
    unsealed = {k: v for k, v in doc.items() if k != "record_sha256"}  # a record from before seals (a review)
    record.write_text(json.dumps(unsealed))
    assert main(["verify", str(record)]) == 2  # refused as a rerun refuses it: edited numbers passed so (a tester)
    assert "has no digest of its own: it was changed since featcache wrote it" in capsys.readouterr().err
    from featcache.validate import record_seal

    outside = {**doc, "written_sha256": {"/etc/passwd": "0" * 64}}
    record.write_text(json.dumps({**outside, "record_sha256": record_seal(outside)}))
    assert main(["verify", str(record)]) == 2
    assert "lists '/etc/passwd', which is no file of a report beside it" in capsys.readouterr().err
    record.write_text(json.dumps({**doc, "note": "mine"}))
    assert main(["verify", str(record)]) == 2
    assert "probe.json was changed since featcache wrote it (its own digest does not match)" in capsys.readouterr().err


@pytest.mark.parametrize("given", [5, 0.5, True])
def test_head_params_of_no_dict_or_list_is_one_line_naming_it(multi_cache, tmp_path, given):
    """Regression (helper-276): ``probe(head_params=5)`` (and ``ProbeSpec(head_params=5)``) raised "TypeError: 'int'
    object is not iterable" from the parser, where every other keyword of a wrong type says what it takes."""
    with pytest.raises(FeatcacheError, match=r"head_params takes a dict of each head's parameters or a list of "
                                             rf"'HEAD.NAME=VALUE' \(got {given!r}\)"):
        featcache.probe(multi_cache, heads="logreg", head_params=given, out=tmp_path / "p", plot=False)
    assert not (tmp_path / "p").exists()  # refused before the report's folder
