"""Learning curves: rows, nesting, determinism across --jobs, resume, the plot, bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import featcache
from featcache.analysis.curve import tasks as curve_mod
from featcache.analysis.curve import read_rows, training_rows
from featcache.analysis.subsets import stratified_subset
from featcache.cli import main
from featcache.errors import FeatcacheError
from helpers import script_in_process

REPO = Path(__file__).resolve().parents[1]
SIZES = [20, 50, 120]


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory) -> Path:
    """200 train / 100 test synthetic images through an untrained MobileNetV2 at 32 px (plumbing only)."""
    from helpers import tiny_fashion_cache

    return tiny_fashion_cache(tmp_path_factory.mktemp("curve"), n_train=200, n_test=100)


def curve(cache, out, **kw):
    kw = {"sizes": SIZES, "seeds": 2, "heads": ("logreg", "keras"), "verbose": False, **kw}
    return featcache.learning_curve(cache, out=out, **kw)


def test_training_rows_are_nested_stratified_prefixes():
    y = np.repeat(np.arange(10), 30)
    rows = training_rows(y, [10, 40, 150, 300], seed=5)
    for small, big in ((10, 40), (40, 150), (150, 300)):
        assert set(rows[small]) < set(rows[big])
    for n, r in rows.items():
        assert len(set(r)) == n
        assert set(r) == set(stratified_subset(y, n, seed=5))  # the shared subset helper, same sets
        assert np.bincount(y[r], minlength=10).max() - np.bincount(y[r], minlength=10).min() <= 1
    assert not np.array_equal(training_rows(y, [40], seed=6)[40], rows[40])


@pytest.fixture(scope="module")
def curve_jobs1(tiny_cache, tmp_path_factory):
    """The default curve of this file (SIZES, 2 seeds, logreg and keras; jobs: the default, 1): the rows and files
    test_curve_rows_files_and_plot checks, and the run test_same_seed_same_numbers_and_jobs_do_not_matter compares
    with jobs=2 (that test ran a jobs=1 curve of its own, 8 fits, 4 of them Keras's). Read only."""
    return curve(tiny_cache, tmp_path_factory.mktemp("curve_jobs1") / "c")


@pytest.mark.slow
def test_curve_rows_files_and_plot(tiny_cache, curve_jobs1):
    res = curve_jobs1
    assert len(res.rows) == len(SIZES) * 2 * 2 and res.fits == 12 and res.resumed == 0
    assert read_rows(res.csv) == [{**r, "fit_seconds": round(r["fit_seconds"], 4)} for r in res.rows]
    keys = {(r["head"], r["seed"], r["size"]) for r in res.rows}
    assert keys == {(h, s, n) for h in ("logreg", "keras") for s in (0, 1) for n in SIZES}
    assert all(0 <= r["accuracy"] <= 1 and r["fit_seconds"] > 0 for r in res.rows)
    meta = json.loads(res.json.read_text())
    cache = featcache.open_cache(tiny_cache)
    assert meta["complete"] and meta["cache_fingerprint"] == cache.fingerprint
    assert (meta["backbone"], meta["image_size"], meta["layer"]) == ("mobilenet_v2", 32, cache.default_layer)
    assert meta["weights_random"] is True and meta["test_size"] == 100 and meta["head_params"]["keras"]["epochs"] == 5
    from PIL import Image

    with Image.open(res.png) as im:
        assert im.format == "PNG" and im.size == (960, 600)
        pixels = np.asarray(im.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # lines, bands, text: not a blank canvas


@pytest.mark.slow
def test_same_seed_same_numbers_and_jobs_do_not_matter(tiny_cache, curve_jobs1, tmp_path):
    one = curve_jobs1
    two = curve(tiny_cache, tmp_path / "j2", jobs=2)
    assert (one.meta["jobs"], two.meta["jobs"]) == (1, 2) and len(one.rows) == len(two.rows) == len(SIZES) * 2 * 2
    acc = lambda res: [(r["head"], r["seed"], r["size"], r["accuracy"]) for r in res.rows]  # noqa: E731
    assert acc(one) == acc(two)
    by_seed = lambda s: [r["accuracy"] for r in one.rows if r["seed"] == s]  # noqa: E731
    assert by_seed(0) != by_seed(1)  # other seed: other subsets, initialisation and shuffling


def test_verify_says_an_unfinished_curve_is_unfinished_and_not_ok(tiny_cache, tmp_path, monkeypatch, capsys):
    """Regression (an adversarial tester): verify on the curve.json of a curve killed midway (complete: false, 12 of
    36 points) said "ok: ... is intact", exit 0, --json "ok": true: a script gating on verify took a half curve.
    It is one line saying how far it got and how to finish it, exit 2 and "ok": false, as for an unfinished cache;
    once the same command finishes it, it is ok."""
    out = tmp_path / "u"
    real, calls = curve_mod.fit_point, []

    def stopped(*args, **kwargs):
        if len(calls) == 3:  # after seed 0's warm-started chain of 3 sizes
            raise KeyboardInterrupt
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(curve_mod, "fit_point", stopped)
    with pytest.raises(KeyboardInterrupt):
        curve(tiny_cache, out, heads=("logreg",))
    monkeypatch.setattr(curve_mod, "fit_point", real)
    record = out / "curve.json"
    said = (f"featcache verify: error: {record} is an unfinished curve (3 of 6 points fitted: its run was stopped "
            "before the end); re-run the same 'featcache curve' command to finish it")
    assert main(["verify", str(record)]) == 2
    assert capsys.readouterr().err.strip() == said
    assert main(["verify", str(record), "--json"]) == 2
    answer = json.loads(capsys.readouterr().out)
    assert answer["ok"] is False and "unfinished curve (3 of 6 points" in answer["error"]
    assert main(["verify", str(record), str(tiny_cache)]) == 2  # among several: said, the others still checked
    assert capsys.readouterr().err.strip() == said
    # info of it or of its curve.csv said only what they are (helper-348): it says what verify refuses, exit 0
    for given in (record, out / "curve.csv"):
        assert main(["info", str(given)]) == 0
        assert ("verify refuses it now: " + said.split("error: ", 1)[1]) in capsys.readouterr().out
        assert featcache.info(given)["matches_record"] is False
    curve(tiny_cache, out, heads=("logreg",))
    assert featcache.info(record)["matches_record"] is True
    assert main(["verify", str(record)]) == 0
    assert capsys.readouterr().out.startswith(f"ok: {record} is intact")


def test_interrupted_curve_resumes(tiny_cache, tmp_path, monkeypatch):
    out = tmp_path / "r"
    real, calls = curve_mod.fit_point, []

    def flaky(*args, **kwargs):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(curve_mod, "fit_point", flaky)
    with pytest.raises(KeyboardInterrupt):
        curve(tiny_cache, out, heads=("logreg",))
    partial = read_rows(out / "curve.csv")  # a valid table of the finished fits, nothing half-written
    assert len(partial) == 3 and not json.loads((out / "curve.json").read_text())["complete"]
    monkeypatch.setattr(curve_mod, "fit_point", real)
    res = curve(tiny_cache, out, heads=("logreg",))
    assert (res.resumed, res.fits, len(res.rows)) == (3, 3, 6)
    assert all(r in res.rows for r in partial)
    # More sizes in the same folder reuse what is there.
    # Each seed's logreg fits are one warm-started chain, re-run whole when a row
    # is missing (so no point's start depends on where a run stopped); the rows
    # already written are kept.
    more = curve(tiny_cache, out, heads=("logreg",), sizes=SIZES + [200])
    assert (more.resumed, more.fits, len(more.rows)) == (6, 2, 8)
    key = lambda r: (r["head"], r["seed"], r["size"], r["accuracy"])  # noqa: E731
    assert {key(r) for r in res.rows} <= {key(r) for r in more.rows}
    # 200 is the whole train split: seed 0's chain re-runs to reach it (4 fits);
    # seed 1's row there is a copy, and its other rows are done, so it is not run.
    assert json.loads((out / "curve.json").read_text())["fits_run"] == 4


@pytest.mark.slow
def test_full_split_is_fitted_once_when_the_seed_cannot_matter(tiny_cache, tmp_path, monkeypatch):
    real, fitted = curve_mod.fit_point, []

    def counting(est, X, y, rows, *rest):
        fitted.append((type(est).__name__, len(rows)))
        return real(est, X, y, rows, *rest)

    monkeypatch.setattr(curve_mod, "fit_point", counting)
    res = curve(tiny_cache, tmp_path / "f", sizes=[20, 200], seeds=3)
    # Every seed's subset of all 200 images is the same set: logreg (fixed C) is
    # fitted on it once; the Keras head's seed sets its initialisation and shuffling.
    assert fitted.count(("LogRegHead", 200)) == 1 and fitted.count(("DenseHead", 200)) == 3
    assert fitted.count(("LogRegHead", 20)) == 3 and len(res.rows) == 12
    full = {r["seed"]: r["accuracy"] for r in res.rows if (r["head"], r["size"]) == ("logreg", 200)}
    assert sorted(full) == [0, 1, 2] and len(set(full.values())) == 1
    seconds = {r["seed"]: r["fit_seconds"] for r in res.rows if (r["head"], r["size"]) == ("logreg", 200)}
    # one fit, timed once: the seeds that reuse it claim no time (they said 0.0000, a 0-second fit; a new-user tester)
    assert seconds[0] > 0 and seconds[1] is None and seconds[2] is None, seconds
    assert read_rows(res.csv) == [{**r, "fit_seconds": r["fit_seconds"] and round(r["fit_seconds"], 4)} for r in res.rows]
    shared = [line for line in res.csv.read_text().splitlines() if line.startswith(("200,1,logreg,", "200,2,logreg,"))]
    assert len(shared) == 2 and all(line.split(",")[4] == "" for line in shared), shared
    assert json.loads(res.json.read_text())["fit_seconds_total"] == round(sum(s or 0 for s in (r["fit_seconds"] for r in res.rows)), 3)
    assert json.loads(res.json.read_text())["rows_shared"] == 2
    # C chosen by cross-validation depends on the seed's folds: no sharing then.
    fitted.clear()
    curve(tiny_cache, tmp_path / "cv", heads=("logreg",), sizes=[200], seeds=2, head_params={"logreg": {"C": "cv"}})
    assert fitted == [("LogRegHead", 200)] * 2


@pytest.mark.slow
def test_a_curve_of_scikit_learn_heads_never_loads_tensorflow(tiny_cache, tmp_path, progress_on):
    # TensorFlow takes ~3 s to import; a parallel curve's parent would spend it before its workers start.
    code = (f"import sys, featcache; featcache.learning_curve({str(tiny_cache)!r}, [20, 50], seeds=2, heads=['logreg'], "
            f"out={str(tmp_path / 'o')!r}, jobs=2, verbose=True); sys.exit(int('tensorflow' in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "4/4 [" in proc.stderr and read_rows(tmp_path / "o" / "curve.csv")
    # which fit the accuracy on the bar is of (it said "acc"; a new user), and of which seed (a new user)
    assert re.search(r" - logreg at 50, seed \d+: ", proc.stderr), proc.stderr[-2000:]


def test_warm_started_curve_matches_cold_fits(tiny_cache, tmp_path):
    warm = curve(tiny_cache, tmp_path / "w", heads=("logreg",), seeds=2)
    cold = curve(tiny_cache, tmp_path / "c", heads=("logreg",), seeds=2, head_params={"logreg": {"warm_start": False}})
    assert json.loads(warm.json.read_text())["head_params"]["logreg"]["warm_start"] is True
    acc = lambda res: np.array([r["accuracy"] for r in res.rows])  # noqa: E731
    assert np.abs(acc(warm) - acc(cold)).max() <= 0.02  # the same optimum, up to lbfgs's tolerance
    # Cold and warm are different settings: one folder does not mix them.
    with pytest.raises(FeatcacheError, match="logreg parameters"):
        curve(tiny_cache, tmp_path / "w", heads=("logreg",), seeds=2, head_params={"logreg": {"warm_start": False}})


@pytest.mark.slow
def test_scratch_baseline_on_the_cache_images(tiny_cache, tmp_path):
    res = curve(tiny_cache, tmp_path / "b", heads=("logreg",), sizes=[20, 120], baseline="scratch", baseline_sizes=[50, 120],
                baseline_params={"epochs": 2})
    scratch = [r for r in res.rows if r["head"] == "scratch"]
    assert len(res.rows) == 2 * 2 + 2 * 2 and sorted((r["seed"], r["size"]) for r in scratch) == [(0, 50), (0, 120), (1, 50), (1, 120)]
    assert all(0 <= r["accuracy"] <= 1 for r in scratch)
    meta = json.loads(res.json.read_text())
    assert meta["baseline"] == "scratch" and meta["head_params"]["scratch"]["epochs"] == 2
    # The same network as fitting ScratchCNN by hand on the cache's own images and the curve's subset.
    from featcache.heads.scratch import ScratchCNN
    from featcache.sources import open_source

    cache = featcache.open_cache(tiny_cache)
    source = open_source(cache.meta["source"])
    tr, te = source.splits["train"], source.splits["test"]
    rows = training_rows(cache.labels("train"), [50], seed=1)[50]
    by_hand = ScratchCNN(epochs=2, seed=1).fit(tr.read(0, len(tr))[rows], tr.labels[rows]).score(te.read(0, len(te)), te.labels)
    assert next(r["accuracy"] for r in scratch if (r["seed"], r["size"]) == (1, 50)) == by_hand
    again = curve(tiny_cache, tmp_path / "b", heads=("logreg",), sizes=[20, 120], baseline="scratch", baseline_sizes=[50, 120],
                  baseline_params={"epochs": 2})
    assert again.resumed == 8 and again.fits == 0


def test_baseline_refuses_images_that_changed_since_extraction(tmp_path):
    from helpers import make_fashion_dir, tiny_fashion_cache

    path = tiny_fashion_cache(tmp_path)
    make_fashion_dir(tmp_path / "fm", seed=1)  # other pixels, same file names
    with pytest.raises(FeatcacheError, match="are not the ones .* was extracted from"):
        curve(path, tmp_path / "o", heads=("logreg",), sizes=[20], baseline="scratch", baseline_sizes=[20])


def test_a_run_with_other_heads_or_fewer_sizes_keeps_the_rows_already_there(tiny_cache, tmp_path):
    """A second run in the same --out with other heads used to rewrite curve.csv with its own rows only (a new user's
    logreg, SVM and scratch-baseline rows were gone without a word); a folder collects points, as its identity says."""
    out = tmp_path / "k"
    first = curve(tiny_cache, out, heads=("logreg",), seeds=1, sizes=[20, 60])
    second = curve(tiny_cache, out, heads=("svm",), seeds=1, sizes=[20])
    key = lambda r: (r["head"], r["seed"], r["size"], r["accuracy"])  # noqa: E731
    stored = {key(r) for r in read_rows(out / "curve.csv")}
    assert {key(r) for r in first.rows} < stored and {key(r) for r in second.rows} <= stored and len(stored) == 3
    meta = json.loads((out / "curve.json").read_text())
    assert set(meta["identity"]["heads"]) == {"logreg", "svm"} and meta["kept_heads"] == ["logreg"] and meta["rows_kept"] == 2
    assert set(meta["summary"]) == {"logreg", "svm"}
    # fewer sizes of the same head: the other size stays too
    again = curve(tiny_cache, out, heads=("logreg",), seeds=1, sizes=[20])
    assert (again.fits, again.resumed) == (0, 1) and {key(r) for r in read_rows(out / "curve.csv")} == stored
    # the kept head's parameters are still the folder's: other ones are refused, the table untouched
    before = (out / "curve.csv").read_text()
    with pytest.raises(FeatcacheError, match="other settings .*logreg parameters"):
        curve(tiny_cache, out, heads=("svm", "logreg"), seeds=1, sizes=[20], head_params={"logreg": {"C": 1.0}})
    assert (out / "curve.csv").read_text() == before


def test_a_curve_into_the_current_folder_takes_its_lock_beside_it(tiny_cache, tmp_path, monkeypatch):
    """--out . crashed once curves took a lock ('.' has no name to add .lock to: a ValueError traceback; a review)."""
    work = tmp_path / "here"
    work.mkdir()
    monkeypatch.chdir(work)
    res = curve(tiny_cache, ".", heads=("logreg",), seeds=1, sizes=[20], plot=False)
    assert (work / "curve.csv").is_file() and len(res.rows) == 1 and not (tmp_path / "here.lock").exists()


def test_sizes_too_small_for_the_svms_folds_are_one_line_before_any_fit(tiny_cache, tmp_path):
    """curve --sizes 20 --heads svm on 10 classes ended in the first fit's ValueError (probability calibration needs 2
    images of every class): now refused up front, naming the smallest size that works, which then does."""
    import re

    with pytest.raises(FeatcacheError, match=r"^10 in sizes leaves some class with fewer than 2 training images.*start sizes at") as exc:
        curve(tiny_cache, tmp_path / "s", heads=("svm",), seeds=2, sizes=[10, 60])
    assert not (tmp_path / "s").exists()
    needed = int(re.search(r"start sizes at (\d+)", str(exc.value)).group(1))
    res = curve(tiny_cache, tmp_path / "s", heads=("svm",), seeds=2, sizes=[needed], plot=False)
    assert len(res.rows) == 2
    curve(tiny_cache, tmp_path / "l", heads=("logreg",), seeds=2, sizes=[10], plot=False)  # logreg needs no folds


def test_other_settings_in_the_same_folder_are_refused(tiny_cache, tmp_path):
    out = tmp_path / "o"
    curve(tiny_cache, out, heads=("logreg",), seeds=1, sizes=[20])
    before = (out / "curve.csv").read_text()
    with pytest.raises(FeatcacheError, match="other settings .*logreg parameters"):
        curve(tiny_cache, out, heads=("logreg",), seeds=1, sizes=[20], head_params={"logreg": {"C": 1.0}})
    assert (out / "curve.csv").read_text() == before


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda out: _edit_csv(out, "accuracy", "7.5"), r"curve.csv is not a readable curve.csv \(accuracy 7.5 is not between 0 and 1\)"),
        (lambda out: _edit_csv(out, "accuracy", "nan"), r"accuracy nan is not between 0 and 1"),
        (lambda out: _edit_csv(out, "fit_seconds", "-1"), r"fit_seconds -1 is not a time"),
        (lambda out: _edit_csv(out, "size", "abc"), r"is not a readable curve.csv"),
        (lambda out: (out / "curve.json").write_text("[]"), r"exists but has no readable curve.json beside it"),
        (lambda out: (out / "curve.json").write_text('{"identity": []}'), r"exists but has no readable curve.json beside it"),
        (lambda out: (out / "curve.json").write_bytes(b"\xff\xfe"), r"exists but has no readable curve.json beside it"),
    ],
    ids=["accuracy-7.5", "accuracy-nan", "negative-seconds", "size-text", "json-list", "identity-list", "json-bytes"],
)
def test_a_damaged_curve_folder_is_one_line_and_left_alone(tiny_cache, tmp_path, capsys, damage, message):
    out = tmp_path / "o"
    args = ["curve", str(tiny_cache), "--sizes", "20", "--seeds", "1", "--heads", "logreg", "--out", str(out)]
    assert main(args) == 0
    capsys.readouterr()
    damage(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert re.search(message, err) and len(err.splitlines()) == 1 and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the user's files are not rewritten


def _edit_csv(out: Path, column: str, value: str) -> None:
    lines = (out / "curve.csv").read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index(column)] = value
    (out / "curve.csv").write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")


def test_run_only_parameters_make_no_other_curve(tiny_cache, tmp_path, capsys):
    """A review: --param logreg.n_jobs=1 made another default folder, and into the same --out it was refused as
    "logreg parameters" differing, though n_jobs changes how a fit runs, not what it fits (heads.RUN_ONLY_PARAMS)."""
    from featcache.analysis.curve import CurveSpec

    cache = featcache.open_cache(tiny_cache)
    plain = CurveSpec(sizes="20", seeds=1, heads="logreg,svm").bind(cache)
    run_only = CurveSpec(sizes="20", seeds=1, heads="logreg,svm",
                         head_params={"logreg": {"n_jobs": 1}, "svm": {"cache_size": 50.0}}).bind(cache)
    assert run_only.params["logreg"]["n_jobs"] == 1 and run_only.params["svm"]["cache_size"] == 50.0  # what the fits get
    assert run_only.identity == plain.identity
    other = CurveSpec(sizes="20", seeds=1, heads="logreg,svm", head_params={"logreg": {"max_iter": 50}}).bind(cache)
    assert other.identity != plain.identity  # a parameter of the fit still is another curve
    out = tmp_path / "lc"
    first = featcache.learning_curve(tiny_cache, [20], seeds=1, heads="logreg", out=out, verbose=False, plot=False)
    again = featcache.learning_curve(tiny_cache, [20], seeds=1, heads="logreg", head_params={"logreg": {"n_jobs": 1}},
                                     out=out, verbose=False, plot=False)
    assert (again.fits, again.resumed) == (0, 1) and again.rows[0]["accuracy"] == first.rows[0]["accuracy"]  # resumed
    # a folder whose curve.json recorded a run-only value (written before they were left out) resumes too
    meta_path = out / "curve.json"
    meta = json.loads(meta_path.read_text())
    meta["identity"]["heads"]["logreg"]["n_jobs"] = 2
    meta_path.write_text(json.dumps(meta))
    from featcache.analysis.curve.folder import CurveFolder, curve_key

    ident = CurveSpec(sizes="20", seeds=1, heads="logreg").bind(cache).identity
    assert len(CurveFolder(out, curve_key(ident)).finished_rows(ident)) == 1
    meta["identity"]["heads"]["logreg"]["max_iter"] = 7  # and one of a fit's parameters still refuses it
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(FeatcacheError, match="other settings \\(logreg parameters\\)"):
        CurveFolder(out, curve_key(ident)).finished_rows(ident)
    # the default folder is the same one
    from featcache.analysis.curve.folder import default_out

    assert default_out(cache, plain.layer, plain.identity) == default_out(cache, run_only.layer, run_only.identity)


def test_a_spec_validates_itself_and_names_its_identity(tiny_cache):
    from featcache.analysis.curve import CurveSpec

    spec = CurveSpec(sizes="50,20,50", seeds=2, heads="logreg", head_params={"logreg": {"C": 1.0}})
    assert (spec.sizes, spec.seeds, spec.heads, spec.jobs) == ((20, 50), (0, 1), ("logreg",), 1)
    from dataclasses import FrozenInstanceError

    with pytest.raises(FrozenInstanceError):
        spec.sizes = (1,)
    cache = featcache.open_cache(tiny_cache)
    bound = spec.bind(cache)
    ident = bound.identity
    assert ident["cache_fingerprint"] == cache.fingerprint and ident["layer"] == cache.default_layer
    assert ident["test_size"] == 100 and ident["heads"]["logreg"]["C"] == 1.0 and "seed" not in ident["heads"]["logreg"]
    # The same settings spelled differently (defaults written out) are the same identity.
    spelled = CurveSpec(sizes=[20], heads=["logreg"], head_params={"logreg": {"C": 1.0, "warm_start": True}}).bind(cache)
    assert spelled.identity == ident
    assert CurveSpec(sizes=[20], heads=["logreg"]).bind(cache).identity != ident
    for kwargs, message in [({"sizes": "20", "jobs": 0}, "^jobs=0 is not valid"),
                            ({"sizes": "20", "seeds": [-1]}, "out of range"),
                            ({"sizes": "20", "head_params": {"logreg": 3}}, "head_params maps head names to dicts"),
                            # ignored without a word, where probe refused it (an adversarial tester)
                            ({"sizes": "20", "heads": "logreg", "head_params": {"svm": {"C": 1.0}}},
                             r"^head_params names head 'svm', which is not among the heads \(logreg\); add it to heads"),
                            ({"sizes": "20", "baseline_sizes": [20]}, "need baseline='scratch'")]:
        with pytest.raises(FeatcacheError, match=message):
            CurveSpec(**kwargs)
    # the head's parameters listed, those the curve sets itself left out (it was Python's "unexpected keyword")
    with pytest.raises(FeatcacheError, match=r"^head 'logreg' has no parameter 'colour'; its parameters: C, cv_folds, "
                                             r"max_iter, n_jobs, warm_start$"):
        CurveSpec(sizes="20", heads="logreg", head_params={"logreg": {"colour": 1}}).bind(cache)
    with pytest.raises(FeatcacheError, match=r"^head 'scratch' has no parameter 'colour'; its parameters: .*epochs"):
        CurveSpec(sizes="20", heads="logreg", baseline="scratch", baseline_sizes=[20],
                  baseline_params={"colour": 1}).bind(cache)


@pytest.mark.parametrize("sizes, said", [(["20"], "'20' in sizes"), ([20, "50"], "'50' in sizes"),
                                         (np.array(["20", "50"]), "np.str_('20') in sizes"), ([np.str_("20")], "np.str_('20') in sizes"),
                                         ([20.0], "20.0 in sizes")])
def test_a_curve_s_sizes_in_a_list_are_numbers_in_a_call(tiny_cache, tmp_path, capsys, sizes, said):
    """Regression (h301's brief): learning_curve(cache, sizes=["20"]) ran a curve of 20 images, where the API refuses
    a number's text in every other setting (epochs="5", seeds=["5"]); so did np.array(["20"]) and sizes=[20.0] (a
    float: no whole number, validate.whole_float). Refused before any fit or folder, in the line 'x' gets; the
    comma list's text (sizes="20,50", the form a command's --sizes has) is read, and so is the command's."""
    from helpers import run_main

    from featcache.analysis.curve import CurveSpec

    out = tmp_path / "curve"
    for keywords in ({"sizes": sizes}, {"sizes": [20], "baseline": "scratch", "baseline_sizes": sizes}):
        with pytest.raises(FeatcacheError) as exc:
            curve(tiny_cache, out, heads=("logreg",), **keywords)
        where = "baseline_sizes" if "baseline" in keywords else "sizes"
        assert str(exc.value) == f"{said.replace('sizes', where)} is not a whole number; pass sizes like [100, 250, 500, 1000]"
    assert not out.exists()
    assert CurveSpec(sizes="50, 20").sizes == CurveSpec(sizes=[np.int64(20), 50]).sizes == (20, 50)
    # an array of sizes as any list (baseline_sizes=np.array([20, 50]) was the array's truth-value ValueError traceback)
    assert CurveSpec(sizes=np.array([20]), baseline="scratch", baseline_sizes=np.array([50, 20])).baseline_sizes == (20, 50)
    proc = run_main(capsys, "curve", str(tiny_cache), "--sizes", "20,x", "--heads", "logreg", "--out", str(out))
    assert proc.returncode == 2 and "--sizes: 'x' is not a whole number; pass sizes like 100,250,500,1000" in proc.stderr, proc.stderr
    proc = run_main(capsys, "curve", str(tiny_cache), "--sizes", "20", "--seeds", "1", "--heads", "logreg", "--out", str(out))
    assert proc.returncode == 0 and [r["size"] for r in read_rows(out / "curve.csv")] == [20], proc.stderr


@pytest.mark.parametrize("head, params, message", [
    # a call's dict named as it was written (it was "LogRegHead C -1"; an API tester)
    ("logreg", {"C": -1}, "head_params['logreg']['C']=-1 is not a positive number or 'cv'"),
    ("keras", {"epochs": 0}, "head_params['keras']['epochs']=0 is not valid; use a whole number >= 1"),
    ("keras", {"validation_split": 1.5}, "head_params['keras']['validation_split']=1.5 is not valid"),
    ("scratch", {"epochs": 0}, "baseline_params['epochs']=0 is not valid"),
], ids=["logreg-C", "keras-epochs", "keras-validation-split", "scratch-epochs"])
def test_bad_head_values_are_refused_before_the_folder_is_made(tiny_cache, tmp_path, head, params, message):
    """An adversarial tester: C=-1 was scikit-learn's traceback after a header-only curve.csv recording it was
    written, which then refused the corrected run; keras epochs=0 wrote accuracy-0.1 rows as results."""
    out = tmp_path / "o" / "lc"
    kw = {"baseline": "scratch", "baseline_sizes": [20], "baseline_params": params} if head == "scratch" else {
        "heads": (head,), "head_params": {head: params}}
    with pytest.raises(FeatcacheError, match=re.escape(message)):
        curve(tiny_cache, out, sizes=[20], seeds=1, **({"heads": ("logreg",)} | kw))
    assert not (tmp_path / "o").exists()  # no folder, no curve.csv, no lock left behind
    if head == "logreg":  # the corrected run goes ahead in the same place
        res = curve(tiny_cache, out, sizes=[20], seeds=1, heads=("logreg",), head_params={"logreg": {"C": 1.0}}, plot=False)
        assert res.fits == 1


def test_scratch_is_a_head_that_consumes_images():
    from featcache.analysis.curve.spec import consumes

    assert consumes("scratch") == "images" and consumes("logreg") == consumes("keras") == "features"


def test_default_out_is_under_featcache_home(tiny_cache, tmp_path):
    res = curve(tiny_cache, None, heads=("logreg",), seeds=1, sizes=[20], plot=False)
    assert res.out.parent == tmp_path / "home" / "runs" and res.out.name.startswith("curve_fashion_mnist_mobilenet_v2_32px_")
    assert not res.png.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sizes", "20,5000"], "--sizes 5000 is larger than the 200 training images"),
        (["--sizes", "5,50"], "--sizes 5 is smaller than the 10 classes"),
        (["--sizes", "20,abc"], "--sizes: 'abc' is not a whole number"),
        (["--sizes", "20.5"], "--sizes: '20.5' is not a whole number"),
        (["--sizes", ","], "--sizes is empty"),
        (["--sizes", "20", "--heads", "logreg,forest"], "--heads: unknown head 'forest'"),
        (["--sizes", "20", "--heads", "forest", "--param", "max_iter=5"], "--heads: unknown head 'forest'"),
        (["--sizes", "20", "--heads", "logreg,forest", "--param", "forest.depth=5"], "--heads: unknown head 'forest'"),
        (["--sizes", "20", "--layer", "block_99"], "--layer 'block_99' is not in"),
        (["--sizes", "20", "--jobs", "0"], "--jobs 0 is not valid"),
        (["--sizes", "20", "--keras-preset", "turbo"], "unknown --keras-preset 'turbo'"),
        (["--sizes", "20", "--baseline", "scratch"], "--baseline needs --baseline-sizes"),
        (["--sizes", "20", "--baseline", "scratch", "--baseline-sizes", "500"], "--baseline-sizes 500 is larger than the 200"),
        (["--sizes", "20", "--baseline-sizes", "50"], "--baseline-sizes and --baseline-epochs need --baseline scratch"),
    ],
)
def test_bad_input_is_one_clear_line(tiny_cache, tmp_path, capsys, args, message):
    assert main(["curve", str(tiny_cache), "--out", str(tmp_path / "x"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "x" / "curve.csv").exists()


def test_unwritable_out_and_missing_cache(tiny_cache, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["curve", str(tiny_cache), "--sizes", "20", "--out", str(blocker / "sub")]) == 2
    assert "choose a writable --out" in capsys.readouterr().err
    assert main(["curve", str(tmp_path / "none.h5"), "--sizes", "20"]) == 2
    assert "cache not found" in capsys.readouterr().err


def test_the_printed_summary_and_the_plot_label_one_unrounded_mean(tiny_cache, tmp_path, capsys):
    """A new-user tester: 'keras ... 310: 0.914' in the text where curve.png labelled 0.915: the mean 0.91453 was
    rounded to 4 places for curve.json, then printed to 3. Three seeds' rows of that mean, resumed from curve.csv,
    print as the plot labels them (plots.accuracy_text of the same mean), to curve.json's 4 places, as train prints."""
    from featcache.analysis.curve.folder import curve_key, write_rows
    from featcache.analysis.plots import CurveSet, learning_curve_figure

    out = tmp_path / "c"
    argv = ["curve", str(tiny_cache), "--sizes", "20", "--seeds", "3", "--heads", "logreg", "--out", str(out)]
    assert main(argv) == 0
    rows = read_rows(out / "curve.csv")
    for r, acc in zip(rows, (0.9146, 0.9146, 0.9144)):  # mean 0.914533...: 0.9145 rounded, whose 3 places are 0.914
        r["accuracy"] = acc
    write_rows(out / "curve.csv", rows, curve_key(json.loads((out / "curve.json").read_text())["identity"]))
    capsys.readouterr()
    assert main(argv) == 0  # every row resumed, nothing fitted
    assert capsys.readouterr().out.splitlines()[-1].startswith("logreg   20: 0.9145  ")
    assert json.loads((out / "curve.json").read_text())["summary"]["logreg"]["20"] == 0.9145
    fig = learning_curve_figure([CurveSet("", read_rows(out / "curve.csv"))])
    assert [t.get_text() for t in fig.axes[0].texts] == ["0.9145"]


def test_the_text_json_and_plot_name_the_keras_heads_preset(tiny_cache, tmp_path, capsys):
    """A new-user tester: curve's keras (the lesson preset, 5 epochs) scored 0.914 at 310 photos where 'train --head
    keras' (the default preset) gave 0.9487; the plot said "(5 epochs)", --json "keras" alone. The text, --json's
    labels and the legend name the preset, from one label (plots.head_label); the numbers are the fits' own."""
    from featcache.analysis.plots import CurveSet, learning_curve_figure

    out = tmp_path / "c"
    argv = ["curve", str(tiny_cache), "--sizes", "20", "--seeds", "1", "--heads", "logreg,keras", "--out", str(out)]
    assert main([*argv, "--json"]) == 0
    labels = json.loads(capsys.readouterr().out)["labels"]
    assert labels == {"logreg": "logistic regression (C=0.03)", "keras": "keras dense head (lesson preset: 5 epochs)"}
    assert main(argv) == 0  # resumed: the text's line
    assert capsys.readouterr().out.splitlines()[-1].endswith("  (keras dense head (lesson preset: 5 epochs))")
    meta = json.loads((out / "curve.json").read_text())
    fig = learning_curve_figure([CurveSet("", read_rows(out / "curve.csv"), meta)])
    assert "keras dense head (lesson preset: 5 epochs)" in fig.axes[0].get_legend_handles_labels()[1]
    from featcache.analysis.plots import head_label

    from featcache.heads.dense import DenseHead

    default = {**meta["head_params"]["keras"], **DenseHead.preset_params("default")}
    assert head_label("keras", default) == "keras dense head (default preset: 200 epochs, early stopping)"
    assert head_label("keras", {**default, "epochs": 30}) == "keras dense head (30 epochs, early stopping)"  # no preset's


@pytest.mark.slow
def test_cli_and_replot_script(tiny_cache, tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["curve", str(tiny_cache), "--sizes", "20,50", "--seeds", "1", "--heads", "logreg", "--out", str(a), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["fits"] == 2 and set(report["summary"]["logreg"]) == {"20", "50"}
    # what the points are of, as the text's header says (a new user: --json left the views out)
    assert (report["train_views"], report["test_views"]) == (["orig"], ["orig"]) and report["layer"]
    assert main(["curve", str(tiny_cache), "--sizes", "20,100", "--seeds", "2", "--heads", "logreg", "--out", str(b)]) == 0
    assert "logreg   20: " in capsys.readouterr().out
    c = tmp_path / "c"
    assert main(["curve", str(tiny_cache), "--sizes", "50", "--seeds", "1", "--heads", "keras", "--keras-standardize",
                 "--out", str(c)]) == 0
    # the summary says which keras head it was: curve's (the lesson's 5 epochs) is not train's default (a new user)
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith("(keras dense head (lesson preset: 5 epochs))")
    assert json.loads((c / "curve.json").read_text())["head_params"]["keras"]["standardize"] is True
    # a head's own parameters (--param HEAD.NAME=VALUE, or NAME=VALUE with one head) reach every fit and the record
    d, e = tmp_path / "d", tmp_path / "e"
    assert main(["curve", str(tiny_cache), "--sizes", "50", "--seeds", "1", "--heads", "logreg", "--param", "C=5",
                 "--no-warm-start", "--out", str(d), "--json"]) == 0
    flagged = json.loads(capsys.readouterr().out)
    assert json.loads((d / "curve.json").read_text())["head_params"]["logreg"]["C"] == 5
    assert main(["curve", str(tiny_cache), "--sizes", "50", "--seeds", "1", "--heads", "logreg,keras",
                 "--param", "keras.epochs=2", "--keras-preset", "default", "--param", "keras.patience=1", "--out", str(e)]) == 0
    recorded = json.loads((e / "curve.json").read_text())["head_params"]["keras"]
    assert (recorded["epochs"], recorded["patience"], recorded["l2"]) == (2, 1, 0.01)  # over the preset's, the rest kept
    direct = featcache.learning_curve(tiny_cache, [50], seeds=1, heads="logreg", head_params={"logreg": {"C": 5.0}},
                                      out=tmp_path / "f", verbose=False)
    assert direct.meta["summary"] == flagged["summary"]  # the flag is the API's head_params
    for bad, says in ((["--param", "C=5"], "names no head, and there are 2"), (["--param", "keras.seed=1"], "--seeds"),
                      (["--no-warm-start", "--param", "logreg.warm_start=true"], "--param logreg.warm_start=true contradicts --no-warm-start"),
                      (["--keras-standardize", "--param", "keras.standardize=false"], "contradicts --keras-standardize"),
                      (["--param", "scratch.epochs=1"], "--param scratch.epochs=1: the baseline takes --baseline-epochs"),
                      (["--param", "logreg.Cee=1"], "head 'logreg' has no parameter 'Cee'")):
        assert main(["curve", str(tiny_cache), "--sizes", "50", "--out", str(tmp_path / "g"), *bad]) == 2
        assert says in capsys.readouterr().err and not (tmp_path / "g").exists()
    png = tmp_path / "both.png"
    proc = _replot(str(a / "curve.csv"), str(b), "--label", "first", "--label", "second", "--out", str(png), "--title",
                   "two runs")
    assert proc.returncode == 0, proc.stderr
    from PIL import Image

    with Image.open(png) as im:
        assert im.format == "PNG" and im.size == (960, 600)
    bad = _replot(str(tmp_path / "nope.csv"), "--out", str(png))
    assert bad.returncode == 2 and "curve file not found" in bad.stderr and "Traceback" not in bad.stderr


def _replot(*args: str) -> subprocess.CompletedProcess:
    """``python scripts/plot_learning_curve.py ARGS`` run in this process (``helpers.script_in_process``): the test
    is about what the script writes, prints and returns, the same as in a new interpreter."""
    return script_in_process(REPO / "scripts" / "plot_learning_curve.py", *args)


def test_a_class_of_one_training_image_is_named_before_any_fit():
    """The svm head's folds need 2 images of every class: the one check (validate.check_two_per_class) names the
    class and how many it has (it said 'only 1 of some class'), and a head without folds passes."""
    from featcache.analysis.curve.spec import CurveSpec

    y = np.array([0, 0, 0, 1, 1, 1, 2])
    names = ["shirt", "bag", "boot"]
    with pytest.raises(FeatcacheError, match=r"^the svm head's folds .* needs at least 2 training images of every class, "
                                             r"and class 'boot' has 1; leave that head out$"):
        CurveSpec(sizes=(7,), heads=("svm",))._check_two_per_class(y, {"svm": {"probability": True}}, names)
    CurveSpec(sizes=(7,), heads=("logreg",))._check_two_per_class(y, {"logreg": {"C": 1.0}}, names)


def test_jobs_minus_one_says_how_many_cores_it_means(tiny_cache, tmp_path, capsys, progress_on):
    """The header said 'jobs -1' (a new user): it now says how many cores -1 resolved to, joblib's count."""
    from featcache.validate import usable_cores

    curve(tiny_cache, tmp_path / "j", heads=("logreg",), seeds=1, sizes=[20], jobs=-1, verbose=True, plot=False)
    assert f", jobs -1 ({usable_cores()} cores)" in capsys.readouterr().err  # a status line


def test_a_row_edited_since_it_was_written_is_refused_and_a_missing_one_fitted(tiny_cache, tmp_path, capsys):
    """A resume trusted curve.csv: an accuracy changed by hand or by a flipped digit (0.68 -> 0.99) went into the
    curve (an adversarial tester). Each row carries a checksum. Then a resume dropped a row that did not match and
    fitted it again, while an edited curve.png was refused (a second tester: `sed -i` on a row, rc 0): such a row
    is now refused, by the resume and by plotting, in one line naming the file, and nothing is rewritten. A row
    that is missing (a killed run's, or deleted as the line advises) is fitted without a word; a file from before
    checksums is read as it was."""
    from featcache.analysis.curve import read_rows
    from featcache.analysis.curve.folder import load_curve

    out = tmp_path / "o"
    first = curve(tiny_cache, out, heads=("logreg",), seeds=1, sizes=[20, 40])
    good = {(r["size"], r["seed"]): r["accuracy"] for r in read_rows(out / "curve.csv")}
    lines = (out / "curve.csv").read_text().splitlines()
    files = {f: f.read_bytes() for f in out.iterdir()}

    def refused(text: str, why: str) -> None:
        (out / "curve.csv").write_text(text)
        files[out / "curve.csv"] = text.encode()
        with pytest.raises(FeatcacheError, match=why):
            load_curve(out)
        argv = ["curve", str(tiny_cache), "--sizes", "20,40", "--heads", "logreg", "--seeds", "1", "--out", str(out)]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and re.search(why, err), err
        assert err.startswith(f"featcache curve: error: {out / 'curve.csv'} was changed since featcache wrote it"), err
        assert "delete that row (or the file) and re-run the same 'featcache curve' command" in err, err
        assert {f: f.read_bytes() for f in out.iterdir()} == files  # nothing fitted, nothing rewritten

    cells = lines[1].split(",")
    cells[3] = "0.999" if cells[3] != "0.999" else "0.998"  # a plausible accuracy: only the checksum can tell
    refused("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n",
            r"the row 20,0,logreg,0\.99\d,.* does not match its checksum \(edited, damaged or from another curve\)")
    # The column cut off: curve.json says the rows carry checksums (the check could be switched off so, and a
    # resume then signed the edited values; a tester)
    refused("\n".join(",".join(l.split(",")[:5]) for l in lines) + "\n", "has no checksum, and curve.json says")
    # A row pasted twice, or from another curve (another key)
    refused("\n".join([*lines, lines[1]]) + "\n", "repeats an earlier row's head, seed and size")
    from featcache.analysis.curve.folder import row_checksum

    cells = lines[1].split(",")
    cells[5] = row_checksum(cells[:5], "another curve's key")
    refused("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n", "does not match its checksum")
    # The edited row deleted (or never written: a run killed before it): fitted again, without a word
    (out / "curve.csv").write_text("\n".join([lines[0], *lines[2:]]) + "\n")
    again = curve(tiny_cache, out, heads=("logreg",), seeds=1, sizes=[20, 40], plot=False)
    assert (again.fits, again.resumed) == (1, 1) and capsys.readouterr().err == ""
    assert {(r["size"], r["seed"]): r["accuracy"] for r in read_rows(out / "curve.csv")} == good
    assert len(first.rows) == 2
    # A curve folder from before checksums (no column, no mark in curve.json) still resumes as it was
    meta = json.loads((out / "curve.json").read_text())
    meta.pop("row_checksums"), meta.pop("record_sha256"), meta.pop("written_sha256")  # none was written then
    (out / "curve.json").write_text(json.dumps(meta))
    lines = (out / "curve.csv").read_text().splitlines()
    (out / "curve.csv").write_text("\n".join(",".join(l.split(",")[:5]) for l in lines) + "\n")
    with pytest.MonkeyPatch.context() as mp:  # the resume rewrites curve.json with the mark: read it before
        import featcache.analysis.curve.folder as folder_mod

        mp.setattr(folder_mod.CurveFolder, "write", lambda self, rows, meta=None: None)
        assert curve(tiny_cache, out, heads=("logreg",), seeds=1, sizes=[20, 40], plot=False).fits == 0
    # A spreadsheet's byte-order mark is read, not refused with the checksum's advice
    text = (out / "curve.csv").read_text()
    (out / "curve.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert len(read_rows(out / "curve.csv")) == 2


def test_n_jobs_is_jobs_under_probes_name(tiny_cache, tmp_path):
    """probe(n_jobs=) but learning_curve(jobs=) (a new user): learning_curve takes n_jobs too, the same setting."""
    res = curve(tiny_cache, tmp_path / "n", heads=("logreg",), seeds=1, sizes=[20], n_jobs=2, plot=False)
    assert res.meta["jobs"] == 2
    with pytest.raises(FeatcacheError, match="jobs and n_jobs are one setting"):
        curve(tiny_cache, tmp_path / "m", heads=("logreg",), seeds=1, sizes=[20], jobs=2, n_jobs=2)


def _curve_figure(finals: dict[str, list[tuple[int, float]]], seeds: int = 1):
    """The curve plot's figure of heads ending where ``finals`` says ({head: [(size, accuracy), ...]})."""
    from featcache.analysis.plots import CurveSet, learning_curve_figure

    rows = [{"head": head, "size": n, "seed": s, "accuracy": acc + 0.004 * (s - (seeds - 1) / 2)}
            for head, points in finals.items() for n, acc in points for s in range(seeds)]
    fig = learning_curve_figure([CurveSet("", rows, {"head_params": {"scratch": {"epochs": 2}}})], title="a curve")
    fig.draw_without_rendering()
    return fig, fig.axes[0]


@pytest.mark.parametrize("ends", [(0.853, 0.849), (0.85, 0.85, 0.85), (0.9, 0.851, 0.849, 0.3)])
def test_end_labels_that_would_overlap_are_spread_a_text_height_apart(ends):
    """'curve --sizes 100,500,2000 --seeds 2 --heads logreg,svm' printed 0.853 over 0.849 at the lines' ends (a new
    user): labels closer than a text height are moved apart, each still beside its line's end."""
    heads = ["logreg", "svm", "keras", "other"][: len(ends)]
    fig, ax = _curve_figure({h: [(100, 0.7), (500, 0.8), (2000, end)] for h, end in zip(heads, ends)}, seeds=2)
    boxes = [t.get_window_extent() for t in ax.texts]
    assert [t.get_text() for t in ax.texts] == [f"{end:.4f}" for end in ends]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert abs((a.y0 + a.y1) / 2 - (b.y0 + b.y1) / 2) >= a.height, (a, b)
    for text, box in zip(ax.texts, boxes):  # beside its point, within a text height and a half of it
        x, y = ax.transData.transform(text.xy)
        assert box.x0 > x and abs((box.y0 + box.y1) / 2 - y) <= 1.5 * box.height


@pytest.mark.parametrize("finals", [
    # 'curve --sizes 200,1000 --heads logreg --baseline scratch --baseline-sizes 500,1000': the legend, fixed at the
    # lower right, covered the baseline's line from 500 to 1,000 images and touched its point at 500 (a new user)
    {"logreg": [(200, 0.786), (1000, 0.821)], "scratch": [(500, 0.545), (1000, 0.629)]},
    # points in every corner and along the middle: no place inside the axes is free, so the legend goes below them
    {"logreg": [(10, 0.1), (100, 0.1), (1000, 0.1)], "svm": [(10, 0.5), (100, 0.5), (1000, 0.5)],
     "keras": [(10, 0.9), (100, 0.9), (1000, 0.9)], "scratch": [(30, 0.3), (300, 0.7)]},
])
def test_the_legend_covers_no_line_point_or_value_label(finals):
    fig, ax = _curve_figure(finals)
    legend = ax.get_legend() or fig.legends[0]
    box = legend.get_window_extent()
    for line in ax.get_lines():
        points = line.get_transform().transform(line.get_xydata())
        radius = line.get_markersize() * fig.dpi / 72 / 2
        if line.get_marker() not in ("None", "none", ""):  # a marker, not even partly under the legend
            assert not any(box.padded(radius).contains(x, y) for x, y in points), (line.get_label(), points, box)
        if line.get_linestyle() not in ("None", "none", ""):  # nor the line between two points
            for a, b in zip(points[:-1], points[1:]):
                along = a + np.linspace(0, 1, 200)[:, None] * (b - a)
                assert not any(box.contains(x, y) for x, y in along), (line.get_label(), a, b, box)
    assert not any(box.overlaps(t.get_window_extent()) for t in ax.texts)


def test_two_curves_legend_names_are_short_say_their_test_n_and_stay_in_the_figure():
    """'scripts/plot_learning_curve.py A B' (a new-user tester): the legend below the axes was cut at both edges by
    names like "mobilenet_v2 96px block_13_expand_relu 6 views: logistic regression", the baseline was named for
    feature settings it does not use ("... 6 views: from-scr"), and curves on 500 and 3,000 test images were overlaid
    without a word. The words both names start with are said once, the baseline is the from-scratch CNN on raw
    images, each name gives its test n, and the legend lies within the figure."""
    from featcache.analysis.plots import CurveSet, describe, learning_curve_figure

    six = ["orig", "flip", "shift:+2,+2", "shift:-2,-2", "shift:+2,-2", "shift:-2,+2"]
    meta = {"backbone": "mobilenet_v2", "image_size": 96, "layer": "block_13_expand_relu", "head_params": {
        "logreg": {"C": 0.03}, "scratch": {"epochs": 2}}}
    a = {**meta, "train_views": six, "test_views": six, "test_size": 500}
    b = {**meta, "test_size": 3000}
    rows = lambda head, points: [{"head": head, "size": n, "seed": s, "accuracy": acc + 0.005 * s}  # noqa: E731
                                 for n, acc in points for s in range(3)]
    sets = [CurveSet(describe(a), rows("logreg", [(250, 0.77), (1000, 0.82), (4000, 0.86)])
                     + rows("scratch", [(500, 0.55), (1000, 0.63)]), a),
            # crossing the other curve, so that no place inside the axes is free and the legend goes below them
            CurveSet(describe(b), rows("logreg", [(250, 0.55), (500, 0.72), (1000, 0.86), (4000, 0.70)]), b)]
    fig = learning_curve_figure(sets, title="fashion_mnist: test accuracy vs training images")
    fig.draw_without_rendering()
    legend = fig.axes[0].get_legend() or fig.legends[0]
    assert sorted(t.get_text() for t in legend.get_texts()) == [
        "block_13_expand_relu 6 views: logistic regression (C=0.03), test n=500",
        "block_13_expand_relu: logistic regression (C=0.03), test n=3,000",
        "from-scratch CNN (2 epochs), raw images, test n=500"]
    assert legend.get_title().get_text().splitlines()[0] == "mobilenet_v2 96px"
    box = legend.get_window_extent()
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1, (box, fig.bbox)
    # Wider than the figure in two columns and in one: the names are wrapped at spaces until the legend fits
    fig = learning_curve_figure(sets, title="t", figsize=(3.5, 7.0))
    fig.draw_without_rendering()
    legend = fig.axes[0].get_legend() or fig.legends[0]
    box = legend.get_window_extent()
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and any("\n" in t.get_text() for t in legend.get_texts())


def _train(cache, head: str, size: int, seed: int, folder: Path):
    """``featcache train --head HEAD --train-size SIZE --seed SEED`` with the curve's settings (Keras: its preset)."""
    kw = {"preset": "lesson"} if head == "keras" else {}
    out = folder / f"{head}_{size}_{seed}{'.keras' if head == 'keras' else '.npz'}"
    return featcache.train(cache, head, train_size=size, seed=seed, out=out, **kw)


def test_a_curve_takes_the_rows_train_takes_in_trains_order():
    """curve fitted each subset's images in their shuffled order, train in row order (a new-user tester): one
    definition of a subset's rows now, still nested across sizes."""
    y = np.repeat(np.arange(10), 30)
    rows = training_rows(y, [10, 40, 300], seed=3)
    for n, r in rows.items():
        assert np.array_equal(r, stratified_subset(y, n, seed=3))  # the same rows in the same order
    assert set(rows[10]) < set(rows[40]) < set(rows[300])


# The curve of the three heads the two tests below run: keras, svm and logreg fitted cold, 50 and 120 images, seed 1.
THREE_HEADS = {"heads": ("keras", "svm", "logreg"), "sizes": [50, 120], "seeds": [1], "plot": False,
               "head_params": {"logreg": {"warm_start": False}}}


@pytest.fixture(scope="module")
def three_heads_curve(tiny_cache, tmp_path_factory):
    """The THREE_HEADS curve (read only: a test that resumes it copies its folder) and its fitted heads by (class name,
    size): test_a_curve_point_is_trains_accuracy_for_the_same_size_and_seed compares them with train's, and
    test_rows_fitted_in_the_old_order_are_fitted_again_on_resume made the same curve (logreg warm-started there, a
    setting its claim does not turn on) to rewrite as an older run's: 6 fits, 2 of them Keras's, each."""
    real, fitted = curve_mod.fit_point, {}

    def keeping(est, X, y, rows, *rest):  # the fitted heads, to compare their probabilities too (more than accuracy)
        out = real(est, X, y, rows, *rest)
        fitted[(type(est).__name__, len(rows))] = est
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(curve_mod, "fit_point", keeping)
        res = curve(tiny_cache, tmp_path_factory.mktemp("three_heads") / "c", **THREE_HEADS)
    return res, fitted


@pytest.mark.slow
def test_a_curve_point_is_trains_accuracy_for_the_same_size_and_seed(tiny_cache, three_heads_curve, tmp_path):
    """A new-user tester could not reproduce curve points with 'train --train-size N --seed S' for the Keras and SVM
    heads (the lesson's 4,000 images: 0.815 against 0.817), which depend on the order of the rows (Keras's last rows
    validate, the SVM's calibration folds); logistic regression fitted cold is train's too."""
    res, fitted = three_heads_curve
    assert len(res.rows) == 6
    X_test = featcache.open_cache(tiny_cache).features("test")
    names = {"keras": "DenseHead", "svm": "SVMHead", "logreg": "LogRegHead"}
    for r in res.rows:
        trained = _train(tiny_cache, r["head"], r["size"], r["seed"], tmp_path)
        assert r["accuracy"] == trained.accuracy, r
        point = fitted[(names[r["head"]], r["size"])]
        np.testing.assert_allclose(point.predict_proba(X_test), trained.estimator.predict_proba(X_test), rtol=0, atol=1e-6)


@pytest.mark.slow
def test_rows_fitted_in_the_old_order_are_fitted_again_on_resume(tiny_cache, three_heads_curve, tmp_path, capsys):
    """A folder from before curve took train's row order (no mark in curve.json) holds points train cannot
    reproduce (Keras, the SVM; logreg's cold fit too, within lbfgs's tolerance): a resume says so in one line and
    fits them again; the folder is then marked and resumes without fits."""
    import shutil

    from featcache.analysis.curve.folder import curve_key, write_rows

    out = tmp_path / "o"
    kw = THREE_HEADS
    shutil.copytree(three_heads_curve[0].out, out)  # the module's curve, rewritten below as an older run's
    good = {(r["head"], r["size"]): r["accuracy"] for r in read_rows(out / "curve.csv")}
    meta = json.loads((out / "curve.json").read_text())
    from featcache.analysis.curve.folder import TRAIN_ORDER

    assert meta.pop("row_order") == TRAIN_ORDER
    meta.pop("record_sha256"), meta.pop("written_sha256")  # nor did curve.json carry digests then
    (out / "curve.json").write_text(json.dumps(meta))  # as written before the fix
    # other numbers, as the old order gave (none of 100 test images scores 0.1234), under valid checksums: only the
    # missing mark tells
    old = [{**r, "accuracy": 0.1234} for r in read_rows(out / "curve.csv")]
    write_rows(out / "curve.csv", old, curve_key(meta["identity"]))
    capsys.readouterr()
    again = curve(tiny_cache, out, **kw)
    err = capsys.readouterr().err
    assert "6 rows of" in err and "(keras, logreg, svm)" in err and "another order than featcache.train(..., train_size=N, seed=S)" in err  # a call's words
    assert len(err.strip().splitlines()) == 1
    # the old table is kept (a review: rows the run did not ask for, hours of fits perhaps, were deleted)
    assert err.strip().endswith(f"the old table is kept as {out / 'curve.before-row-order.csv'}")
    assert [r["accuracy"] for r in read_rows(out / "curve.before-row-order.csv")] == [0.1234] * 6
    assert (again.fits, again.resumed) == (6, 0)
    assert {(r["head"], r["size"]): r["accuracy"] for r in again.rows} == good
    assert json.loads((out / "curve.json").read_text())["row_order"] == TRAIN_ORDER
    assert curve(tiny_cache, out, **kw).fits == 0 and capsys.readouterr().err == ""


def test_every_class_is_in_a_subset_of_as_many_images_as_classes_and_older_rows_are_refitted_only_where_it_changed(tmp_path, capsys):
    """A new-user tester: 'train --train-size 10 --seed 2' on 300 Fashion-MNIST images fitted 9 classes ('ankle boot'
    recall 0): with classes of unequal sizes a small class's first image could come after a large class's second
    (63 of 200 seeds left a class out of the first 10 here). Every class's first image now comes first; orders whose
    first images came first anyway are unchanged (equal classes), and an older curve folder's rows are refitted only
    where their subset changed."""
    from featcache.analysis.curve.plan import changed_subsets_dropped
    from featcache.analysis.subsets import stratified_order, stratified_subsets

    y = np.repeat(np.arange(10), [25, 35, 30, 28, 33, 27, 31, 29, 32, 30])
    missed_before = 0
    for seed in range(200):
        assert len(np.unique(y[stratified_order(y, seed)[:10]])) == 10
        missed_before += len(np.unique(y[stratified_order(y, seed, classes_first=False)[:10]])) < 10
        assert np.array_equal(np.sort(stratified_order(y, seed)), np.arange(len(y)))
    assert missed_before > 0  # the case is real for these labels
    equal = np.repeat(np.arange(10), 30)
    for seed in range(20):
        assert np.array_equal(stratified_order(equal, seed), stratified_order(equal, seed, classes_first=False))
    seed = next(s for s in range(200) if len(np.unique(y[stratified_order(y, s, classes_first=False)[:10]])) < 10)
    sizes = [10, 100, 300]
    assert not np.array_equal(stratified_subsets(y, [10], seed)[10], stratified_subsets(y, [10], seed, False)[10])
    assert all(np.array_equal(stratified_subsets(y, [n], seed)[n], stratified_subsets(y, [n], seed, False)[n]) for n in sizes[1:])
    done = {(h, seed, n): {"accuracy": 0.5} for h in ("logreg", "svm") for n in sizes}
    kept = changed_subsets_dropped(done, y, tmp_path / "curve.csv")
    assert sorted(kept) == sorted(k for k in done if k[2] != 10)
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "2 rows of" in err and "(sizes 10)" in err


def test_a_keras_fits_seconds_leave_out_importing_keras(tiny_cache, tmp_path, monkeypatch):
    """A new-user tester: 'train --head keras' said 'fit 10.1 s' where its epochs took 3 s (the bar's total), and
    the head's metadata kept that: the first fit in a process imported Keras and TensorFlow inside the timer. The
    import is made here to take 1,000 s of the clock's time; train's and curve's fit seconds leave it out."""
    import time

    import featcache._lazy as lazy
    import featcache.heads.dense as dense

    clock, real_clock, real_keras = [0.0], time.perf_counter, lazy.keras

    def first_import():  # the first call in a "process" imports: 1,000 s
        if not imported:
            imported.append(True)
            clock[0] += 1000.0
        return real_keras()

    monkeypatch.setattr(time, "perf_counter", lambda: real_clock() + clock[0])
    for module in (lazy, dense):
        monkeypatch.setattr(module, "keras", first_import)
    imported: list[bool] = []
    # 2 epochs, not the default preset's up-to-200: the import's 1,000 s is in or out of the timer whatever the epochs
    res = featcache.train(tiny_cache, "keras", train_size=50, epochs=2, out=tmp_path / "k.keras", verbose=False)
    assert imported and res.fit_seconds < 1000, res.fit_seconds
    imported.clear()
    rows = curve(tiny_cache, tmp_path / "c", heads=("keras",), sizes=[50], seeds=1, plot=False,
                 head_params={"keras": {"epochs": 1}}).rows
    assert imported and rows[0]["fit_seconds"] < 1000, rows


def test_legend_names_one_epoch_in_the_singular():
    from featcache.analysis.plots import head_label

    assert head_label("scratch", {"epochs": 1}) == "from-scratch CNN (1 epoch)"  # "1 epochs" (a new-user tester)
    assert head_label("keras", {"epochs": 5}) == "keras dense head (5 epochs)"


def test_a_run_without_a_plot_drops_the_one_from_before(tiny_cache, tmp_path):
    """plot=False (--no-plot) into a folder whose curve.png an earlier run drew: that picture showed the earlier rows
    beside this run's table (until 2026-12-04 it stayed, vouched for by curve.json); it goes, and the next run
    that draws one writes it again. A failure in the writing block puts it back (store.atomic.output_files)."""
    from featcache.validate import REPORT_DIGESTS, recorded_digests

    out = tmp_path / "c"
    first = curve(tiny_cache, out, sizes=[20], seeds=1, heads=("logreg",))
    assert first.png.exists() and first.to_dict()["png"] == str(first.png)
    second = curve(tiny_cache, out, sizes=[20, 40], seeds=1, heads=("logreg",), plot=False)
    assert not second.png.exists() and second.to_dict()["png"] is None
    assert "curve.png" not in recorded_digests(second.json) and "curve.png" not in second.meta[REPORT_DIGESTS]
    third = curve(tiny_cache, out, sizes=[20, 40], seeds=1, heads=("logreg",))
    assert third.fits == 0 and third.png.exists() and "curve.png" in recorded_digests(third.json)


def test_a_baseline_on_changed_photos_is_refused_before_the_folder_is_written(tmp_path, capsys):
    """Regression (an adversarial tester): the changed images were found once the baseline's first fit read them,
    after curve.csv and curve.json were written, and the header-only curve then refused another cache's curve in the
    folder ("holds a learning curve with other settings"). The line names the folder, not a dict."""
    from helpers import class_image, tiny_photo_cache, write_image

    cache, root = tiny_photo_cache(tmp_path), tmp_path / "photos"
    # another photo (a copy of a bee, as it was, is now refused as one image in two classes before any comparison)
    write_image(root / "ants" / "ants_000.png", class_image(1, 50))
    out = tmp_path / "cv"
    assert main(["curve", str(cache), "--sizes", "4", "--seeds", "1", "--heads", "logreg", "--baseline", "scratch",
                 "--baseline-sizes", "4", "--baseline-epochs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"the images at {root} are not the ones {cache} was extracted from" in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_a_seed_in_head_params_is_refused_not_dropped(tiny_cache, tmp_path):
    """learning_curve(head_params={"logreg": {"seed": 3}}) dropped the seed without a word (a review; the CLI refuses
    --param logreg.seed): each fit gets one of the curve's seeds."""
    with pytest.raises(FeatcacheError, match="head_params gives head 'logreg' a seed; each fit gets one of the curve's seeds"):
        curve(tiny_cache, tmp_path / "c", heads=("logreg",), head_params={"logreg": {"seed": 3}})
    assert not (tmp_path / "c").exists()


_STUCK_DATA = '''
import os, time
from pathlib import Path


class Stuck:
    """Stands in for curve's Data: its arrays() never come, as a fit of minutes would not."""

    consumes, train_views = "features", ("orig",)  # what the command reads of each task before handing it out

    def __init__(self, folder):
        self.folder = folder

    def arrays(self):
        Path(self.folder, str(os.getpid())).touch()  # this worker has its task
        time.sleep(600)
'''

_RUN_CURVE_TASKS = '''
import sys
import numpy as np
from stuck import Stuck
from featcache.analysis.curve.tasks import execute

item = (Stuck(sys.argv[1]), ("logreg", 0, (10,)), {}, [np.arange(10)])
list(execute([item, item], jobs=2))
'''


def _running(pid: int) -> bool:
    """Alive and not a zombie (a container's init may be slow to reap an orphan)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_the_workers_of_a_killed_curve_end_with_it(tmp_path):
    """Regression (a tester): `curve --jobs 2` killed by SIGKILL left its loky workers fitting their tasks to the
    end (measured: 55 s of a Keras fit), then idle for loky's 300 s timeout. Each worker now ends within about a
    second of the curve's process (heads.solver.watch_parent)."""
    import os
    import signal
    import time

    (tmp_path / "stuck.py").write_text(_STUCK_DATA)
    started = tmp_path / "started"
    started.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path)])}
    run = subprocess.Popen([sys.executable, "-c", _RUN_CURVE_TASKS, str(started)], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.2)
            workers = [int(p.name) for p in started.iterdir()]
        assert len(workers) == 2, f"the workers did not start (exit {run.poll()})"
        run.send_signal(signal.SIGKILL)
        run.wait()
        deadline = time.monotonic() + 15
        while any(map(_running, workers)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in workers if _running(pid)], "the workers outlived the killed curve"
    finally:
        if run.poll() is None:
            run.kill()
        for pid in workers:  # ours, started by this test: never left behind, whatever failed
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


_FORKSERVER_JOBS = '''
from joblib import Parallel, delayed
from joblib.externals.loky.backend.context import set_start_method
from featcache.heads.solver import call_in_worker, parent_context

set_start_method("forkserver")  # the workers are the forkserver's children, not this process's


def task(i):
    return i


if __name__ == "__main__":
    parent = parent_context()
    print(sorted(out for out, _ in Parallel(n_jobs=2, backend="loky")(delayed(call_in_worker)(parent, task, i)
                                                                        for i in range(4))))
'''


def test_a_worker_that_is_not_the_runs_child_is_not_ended(tmp_path):
    """Regression (a review): watch_parent compared getppid() with the run's pid, so a worker started by loky's
    forkserver (its child, not the run's) exited at once and the run failed with TerminatedWorkerError."""
    import os

    script = tmp_path / "jobs.py"
    script.write_text(_FORKSERVER_JOBS)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert (proc.returncode, proc.stdout) == (0, "[0, 1, 2, 3]\n"), proc.stderr[-2000:]


def test_a_worker_orphaned_before_its_first_task_ends_too(tmp_path):
    """A review: a worker whose run was killed before its first task came is already a child of init, so the
    getppid() poll was never started, and it fitted that task and idled 300 s, the case watch_parent is for. A
    worker that is not the run's child asks whether the run is still there instead (also under forkserver)."""
    import os
    import time

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid no process has now (a reuse within this test's seconds is not to be feared)
    code = f"import time\nfrom featcache.heads.solver import watch_parent\nwatch_parent({gone.pid})\ntime.sleep(60)\n"
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=50,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 1 and time.monotonic() - start < 30, proc.stderr[-2000:]


def test_a_default_folder_name_too_long_asks_for_out(tiny_cache, tmp_path, monkeypatch, capsys):
    """A review: a cache whose data set name is long (a photo folder's, up to about 210 bytes, or extract --out of
    such a folder) made curve's default folder name too long: "the name is too long ...; use a shorter name" of a
    name the user never gave, an OSError through the API. probe's and evaluate's default folders likewise. Each
    now says the default name is too long and to give --out, before any fit."""
    from featcache.analysis import evaluate as evaluate_mod, probe as probe_mod
    from featcache.cli import main
    from featcache.store import Cache

    opened = Cache.__init__

    def long_named(self, *a, **k):
        opened(self, *a, **k)
        self.meta = {**self.meta, "dataset": "d" * 225}

    monkeypatch.setattr(Cache, "__init__", long_named)
    monkeypatch.setenv("FEATCACHE_HOME", str(tmp_path / "home"))
    assert main(["curve", str(tiny_cache), "--heads", "logreg", "--sizes", "20", "--seeds", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("featcache curve: error: the default curve folder name, made from the data set name "
                          + "d" * 40 + "..., is too long (") and err.endswith("name the folder with --out DIR"), err
    assert not (tmp_path / "home" / "runs").exists() or not any((tmp_path / "home" / "runs").iterdir())
    with pytest.raises(FeatcacheError, match="the default curve folder name"):
        featcache.learning_curve(tiny_cache, [20], seeds=1, heads="logreg", verbose=False)
    long_stem = tmp_path / ("c" * 245 + ".h5")  # probe_<stem>_on_test: 259 bytes
    long_stem.symlink_to(tiny_cache)
    with pytest.raises(FeatcacheError, match=r"^the default probe folder name, made from the cache name c{40}\.\.\., is too long"):
        probe_mod.default_out(featcache.open_cache(long_stem), on_test=True)
    # a name at the limit is taken (room was kept for a tag that is rarely added; a tester), its tagged form, for
    # another cache's folder of that name, is refused as too long
    at_limit = tmp_path / ("e" * 249 + ".h5")
    at_limit.symlink_to(tiny_cache)
    plain = probe_mod.default_out(featcache.open_cache(at_limit))
    assert len(plain.name) == 255
    plain.mkdir(parents=True)
    (plain / "probe.json").write_text(json.dumps({"cache_abspath": "/another/cache.h5"}))
    with pytest.raises(FeatcacheError, match=r"^the default probe folder name, .* is too long \(262 bytes"):
        probe_mod.default_out(featcache.open_cache(at_limit))
    with pytest.raises(FeatcacheError, match=r"^the default evaluation folder name, made from the head file name h{40}\.\.\., is "
                                             r"too long .*; name the folder with out='DIR'$"):
        evaluate_mod.default_out(tmp_path / ("h" * 252 + ".npz"), {}, "out_relu", featcache.open_cache(tiny_cache), "test", ())


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_a_cache_moved_over_the_curves_during_its_run_is_refused_not_mixed_in(tiny_cache, tmp_path, monkeypatch, jobs):
    """Workers reopen the cache by its path: with another cache of the data set moved over it during the run (the
    rename extract publishes with), `curve --jobs 2` fitted some points on each and wrote one curve of both, exit 0
    (an adversarial tester: 34 of 36 points matched neither clean run). Now each load is checked against the cache
    the curve was planned on: one line, and the points kept are the planned cache's."""
    import shutil

    from featcache.analysis.curve import run as curve_run
    from helpers import tiny_fashion_cache

    cache = Path(shutil.copy(tiny_cache, tmp_path / "c.h5"))
    other = tiny_fashion_cache(tmp_path, n_train=150, n_test=60, out="other.h5")
    planned = curve_run.work_items

    def swap_after_planning(*args, **kwargs):
        items = planned(*args, **kwargs)
        os.replace(other, cache)  # what a second extract's publish does
        return items

    monkeypatch.setattr(curve_run, "work_items", swap_after_planning)
    curve_mod.clear_arrays()
    with pytest.raises(FeatcacheError, match=r"c\.h5 was replaced by another cache while the curve ran"):
        curve(cache, tmp_path / "cv", heads=("logreg",), seeds=1, jobs=jobs)
    rows = tmp_path / "cv" / "curve.csv"
    assert not rows.exists() or read_rows(rows) == []  # no point fitted on the cache moved there


@pytest.mark.slow
@pytest.mark.parametrize("name", ["curve.csv", "curve.json"])
def test_a_file_saved_over_the_curves_own_during_its_run_is_left_as_it_is(tiny_cache, tmp_path, monkeypatch, name):
    """The folder's lock keeps other curve runs out, not other programs: a table the user saved over curve.csv while
    the fits ran was replaced by the next fit's, exit 0 (an adversarial tester). Now each write replaces only what
    this run last wrote there: the user's file stays byte for byte, one line says so, and after the advice (move it
    away) the same command finishes the curve."""
    from featcache.analysis.curve import run as curve_run

    out = tmp_path / "cv"
    mine = b"size,my notes\n100,0.99\n"
    fitted = curve_run._tasks.execute

    def saved_over_after_the_first_fit(*args, **kwargs):
        for i, item in enumerate(fitted(*args, **kwargs)):
            if i == 1:  # the first task's table is written (a task: one head and seed, every size warm-started);
                (out / name).write_bytes(mine)  # the user's file goes over it before the next write
            yield item

    monkeypatch.setattr(curve_run._tasks, "execute", saved_over_after_the_first_fit)
    with pytest.raises(FeatcacheError, match=rf"^{re.escape(str(out / name))} was changed by another program while the "
                                             r"curve ran, so it was left as it is and the run stopped; move it away"):
        curve(tiny_cache, out, heads=("logreg",), seeds=2)
    assert (out / name).read_bytes() == mine
    assert not (out / "curve.png").exists()
    monkeypatch.undo()
    (out / name).rename(tmp_path / "mine")
    if name == "curve.json":  # the advice: curve.csv goes with it (its rows are vouched for by the record replaced)
        (out / "curve.csv").rename(tmp_path / "rows")
    done = curve(tiny_cache, out, heads=("logreg",), seeds=2)
    assert len(done.rows) == 2 * len(SIZES) and done.meta["complete"] and (out / "curve.png").exists()


@pytest.mark.slow
@pytest.mark.parametrize("record", ["removed", "kept"])
def test_a_picture_saved_as_curve_png_during_the_run_is_refused_whatever_became_of_curve_json(tiny_cache, tmp_path,
                                                                                               monkeypatch, record):
    """helper-349: curve.json removed and a picture of the user's copied over curve.png during the fits: the finished
    run took the folder for a report from before digests and replaced the picture, exit 0 (with curve.json left, it
    was refused). The check after the fits takes what this run found at its start, not curve.json from disk."""
    from featcache.analysis.curve import run as curve_run

    out = tmp_path / "cv"
    mine = b"\x89PNG my own picture"
    fitted = curve_run._tasks.execute

    def picture_saved_after_the_first_fit(*args, **kwargs):
        for i, item in enumerate(fitted(*args, **kwargs)):
            if i == 1:
                if record == "removed":
                    (out / "curve.json").unlink()
                (out / "curve.png").write_bytes(mine)
            yield item

    monkeypatch.setattr(curve_run._tasks, "execute", picture_saved_after_the_first_fit)
    with pytest.raises(FeatcacheError, match=rf"^{re.escape(str(out / 'curve.png'))} is not a file featcache wrote in "
                                             r"this report .*move .*curve\.png away"):
        curve(tiny_cache, out, heads=("logreg",), seeds=2)
    assert (out / "curve.png").read_bytes() == mine


@pytest.mark.slow
def test_a_change_made_just_after_curves_own_write_is_still_refused(tiny_cache, tmp_path, monkeypatch):
    """helper-351: the digest of curve.csv as written was read back from disk after the rename, so a change another
    program made in that instant was taken for this run's and overwritten by the next fit's table, exit 0. The
    digest is of the bytes written."""
    from featcache.analysis.curve import folder as folder_mod

    out = tmp_path / "cv"
    written = folder_mod.write_text
    calls = []

    def changed_at_once_after_the_second_write(path, text, **kw):
        done = written(path, text, **kw)
        if Path(path).name == "curve.csv":
            calls.append(path)
            if len(calls) == 2:  # the first task's rows: another program appends before the next write
                with open(path, "a") as f:
                    f.write("# mine\n")
        return done

    monkeypatch.setattr(folder_mod, "write_text", changed_at_once_after_the_second_write)
    with pytest.raises(FeatcacheError, match=r"curve\.csv was changed by another program while the curve ran"):
        curve(tiny_cache, out, heads=("logreg",), seeds=2)
    assert (out / "curve.csv").read_text().endswith("# mine\n")


def test_a_curve_file_removed_during_the_run_is_written_again(tiny_cache, tmp_path, monkeypatch):
    """A file of the curve's removed meanwhile holds nothing of anyone's: the next write puts it back, no error."""
    from featcache.analysis.curve import run as curve_run

    out = tmp_path / "cv"
    fitted = curve_run._tasks.execute

    def removed_after_the_first_fit(*args, **kwargs):
        for i, item in enumerate(fitted(*args, **kwargs)):
            if i == 1:
                (out / "curve.csv").unlink()  # the first task's table
            yield item

    monkeypatch.setattr(curve_run._tasks, "execute", removed_after_the_first_fit)
    done = curve(tiny_cache, out, heads=("logreg",), seeds=2)
    assert len(read_rows(out / "curve.csv")) == len(done.rows) == 2 * len(SIZES)


@pytest.mark.slow
def test_verify_of_a_curves_record_checks_its_plot_and_its_rows_checksums(tiny_cache, tmp_path, capsys):
    """verify curve.json: the record's seal, curve.png's digest, and curve.csv's rows by their own checksums (a row
    edited by hand is named), where verify refused the file (a new-user tester)."""
    res = curve(tiny_cache, tmp_path / "c", heads=("logreg",), seeds=1, sizes=[20, 50])
    assert featcache.verify(res.json).to_dict()["files"] == ["curve.png", "curve.csv"]
    lines = res.csv.read_text().splitlines()
    size, seed, head, acc, rest = lines[1].split(",", 4)
    lines[1] = ",".join([size, seed, head, str(round(1 - float(acc), 6)), rest])
    res.csv.write_text("\n".join(lines) + "\n")
    assert main(["verify", str(res.json)]) == 2
    assert "does not match its checksum" in capsys.readouterr().err


def test_verify_of_curve_csv_or_png_checks_them_through_curve_json(tiny_cache, tmp_path, capsys):
    """'featcache verify runs/curve/curve.csv' (or curve.png) was "none of the files featcache describes ... pass a
    cache, a head or a model", though 'verify curve.json' checks exactly these files (a new-user tester): they are
    checked through the record beside them, and info names it."""
    out = tmp_path / "lc"
    featcache.learning_curve(tiny_cache, [20], seeds=1, heads="logreg", out=out, verbose=False)
    for name in ("curve.csv", "curve.png"):
        assert main(["verify", str(out / name)]) == 0
        assert capsys.readouterr().out.startswith(f"ok: {out / name} is intact, checked through its report's record "
                                                  f"{out / 'curve.json'}: its digest and 2 files it vouches for match "
                                                  "(curve.png, curve.csv)")
        assert main(["info", str(out / name)]) == 0  # a valid file of ours: described, not an error
        assert (f"{out / name} is a file of the report {out / 'curve.json'} records (open it as it is); 'featcache "
                f"verify {out / 'curve.json'}' checks it") in capsys.readouterr().out


def test_a_curve_folder_of_other_views_names_its_views_and_the_asked_ones(tiny_cache, tmp_path):
    """A folder of other views was refused as "other settings (train_views, test_views)", naming neither the views
    it holds nor the ones asked (an adversarial tester)."""
    from featcache.analysis.curve import CurveSpec
    from featcache.analysis.curve.folder import CurveFolder, curve_key

    out = tmp_path / "lc"
    featcache.learning_curve(tiny_cache, [20], seeds=1, heads="logreg", out=out, verbose=False, plot=False)
    meta = json.loads((out / "curve.json").read_text())
    meta["identity"]["train_views"] = meta["identity"]["test_views"] = ["orig", "flip"]  # as a curve of flip makes
    (out / "curve.json").write_text(json.dumps(meta))
    ident = CurveSpec(sizes="20", seeds=1, heads="logreg").bind(featcache.open_cache(tiny_cache)).identity
    with pytest.raises(FeatcacheError, match=r"other settings \(train views orig,flip here, orig asked, "
                                             r"test views orig,flip here, orig asked\)"):
        CurveFolder(out, curve_key(ident)).finished_rows(ident)


def test_a_curve_that_fails_before_its_first_row_leaves_no_folder_it_made(tiny_cache, tmp_path, monkeypatch):
    """A brief asked whether CurveFolder.make_parent's folders outlive a failed run: they do not, as run_curve makes
    them inside output_files (paths.folders_made_for); this holds it. A full disk at the first write (curve.csv)
    and a Ctrl-C before it each leave nothing of OUT's new folders."""
    import errno

    from featcache.analysis.curve.folder import CurveFolder
    from featcache.store import atomic

    def full(_path):
        raise OSError(errno.ENOSPC, "No space left on device")

    def interrupted(_self):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic, "fsync_file", full)
    with pytest.raises(FeatcacheError, match="no space left on"):
        curve(tiny_cache, tmp_path / "new" / "deep" / "curve", heads=("logreg",), seeds=1)
    monkeypatch.undo()
    monkeypatch.setattr(CurveFolder, "check_outputs", interrupted)
    with pytest.raises(KeyboardInterrupt):
        curve(tiny_cache, tmp_path / "new" / "deep" / "curve", heads=("logreg",), seeds=1)
    assert os.listdir(tmp_path) == []


def test_the_progress_bar_names_the_seed_of_each_accuracy_it_shows(tiny_cache, tmp_path, capsys, progress_on,
                                                                   monkeypatch):
    """Regression (a new user): the bar showed "keras at 25: 0.5882" and then "keras at 25: 0.6732", two seeds'
    fits (two training subsets) of one head and size, with no seed named: the numbers looked contradictory. Each
    value names its seed, curve.csv's seed column, and is that row's accuracy. Fails on the code before (no seed)."""
    from featcache.progress import Progress

    shown: list = []
    update = Progress.update
    monkeypatch.setattr(Progress, "update", lambda self, current, values=(): (
        shown.extend(values), update(self, current, values))[1])
    res = curve(tiny_cache, tmp_path / "s", heads=("logreg",), seeds=2, sizes=[20, 50], jobs=1, verbose=True,
                plot=False)
    rows = {(r["head"], r["seed"], r["size"]): r["accuracy"] for r in read_rows(res.csv)}
    said = [(re.fullmatch(r"(\w+) at (\d+), seed (\d+)", label), value) for label, value in shown]
    assert len(said) == 2 and all(m for m, _ in said), shown  # one value a task (a seed's chain of sizes)
    named = {(m[1], int(m[3]), int(m[2])): value for m, value in said}
    assert sorted(s for _, s, _ in named) == sorted({s for _, s, _ in rows})  # each seed's fits named by its seed
    assert all(rows[key] == value for key, value in named.items()), (named, rows)
    last = re.findall(r" - (logreg at \d+, seed \d+): ([\d.]+)", capsys.readouterr().err)
    assert last and last[-1][0] == "{} at {}, seed {}".format(*[said[-1][0][i] for i in (1, 2, 3)]), last
    # a size added between two kept ones: each seed's chain is re-run up to 50 (warm starts), and the bar named 50
    # with the refit's accuracy, which curve.csv never holds (a new-user tester); it names the new point, as stored
    shown.clear()
    res = curve(tiny_cache, tmp_path / "s", heads=("logreg",), seeds=2, sizes=[20, 35, 50], jobs=1, verbose=True,
                plot=False)
    after = {(r["head"], r["seed"], r["size"]): r["accuracy"] for r in read_rows(res.csv)}
    assert all(after[k] == v for k, v in rows.items())  # the kept rows as they were
    said = [(re.fullmatch(r"(\w+) at (\d+), seed (\d+)", label), value) for label, value in shown]
    assert sorted((m[1], int(m[3]), int(m[2])) for m, _ in said) == [("logreg", 0, 35), ("logreg", 1, 35)], shown
    assert all(after[(m[1], int(m[3]), int(m[2]))] == value for m, value in said), (said, after)
