"""The Python API as a notebook or script user meets it (a tester using the API): warnings named at the user's line,
results that go where a path goes, the CLI's commands by their names, ``~`` in paths."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import featcache


def _run_script(path: Path, text: str, cwd: Path) -> subprocess.CompletedProcess:
    """``text`` run as a user's script (``python3 SCRIPT``: its module is ``__main__``) under Python's default warning
    filters: no -W, no PYTHONWARNINGS."""
    path.write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    """One extraction of 20 + 10 Fashion-MNIST images (random weights) for the tests that only read a cache: each
    extracted its own. Its folder is the module's; what the tests write goes to their own tmp_path."""
    from helpers import make_fashion_dir

    base = tmp_path_factory.mktemp("tiny")
    with pytest.MonkeyPatch.context() as mp:  # set up before the tests' own FEATCACHE_HOME (_isolated_home)
        mp.setenv("FEATCACHE_HOME", str(base / "home"))
        return featcache.extract(featcache.FashionMNIST(make_fashion_dir(base / "fmnist"), train_limit=20, test_limit=10),
                                 featcache.ModelSpec(weights="random", image_size=32), featcache.StoreSpec(out=base / "c.h5"))


def test_the_old_keyword_forms_deprecation_warning_is_shown_at_the_users_line(fashion_dir, tmp_path):
    # stacklevel=2 named validate.checks_switches' wrapper, and Python shows a DeprecationWarning only where it is
    # attributed to __main__: the warning docs/api.md promises was never seen
    # The user's script is a process (its module __main__, Python's default filters); its call is refused after the
    # warning (a data folder that is not there), so that it needs no TensorFlow: its extract took TensorFlow's import
    # and a network build (10.6 s in the fast tier). That the old form works is checked below, in this process.
    script = tmp_path / "old_form.py"
    res = _run_script(script, "import featcache\n"
                              "try:\n"
                              f"    featcache.extract(data_dir={str(tmp_path / 'missing')!r}, train_limit=20, test_limit=10,\n"
                              f"                      weights='random', image_size=32, out={str(tmp_path / 'c.h5')!r})\n"
                              "except featcache.FeatcacheError:\n"
                              "    print('refused')\n"
                              "import featcache.extraction\n", tmp_path)
    assert res.returncode == 0, res.stderr
    assert f"{script}:3: DeprecationWarning: extract()'s keywords (weights=, images=, engine=, ...) are deprecated" \
        in res.stderr, res.stderr
    # 0.1's module names too: stacklevel=3 named the import machinery
    assert f"{script}:7: DeprecationWarning: featcache.extraction moved to featcache.embedding.runner" in res.stderr
    assert res.stdout.split() == ["refused"]
    with pytest.warns(DeprecationWarning, match=re.escape("extract()'s keywords (weights=, images=, engine=, ...) are deprecated")):
        r = featcache.extract(data_dir=str(fashion_dir), train_limit=20, test_limit=10, weights="random", image_size=32,
                              out=tmp_path / "c.h5")
    assert r.images == 30 and (tmp_path / "c.h5").is_file()


def test_extracts_result_goes_where_its_caches_path_goes(tiny_cache, tmp_path):
    # ExtractResult was no os.PathLike, unlike train's and export's results: train(r, "logreg") and open_cache(r)
    # said "cache must be a path (got ExtractResult(...)"
    r = tiny_cache
    assert r.path.name == "c.h5" and r.path.parent.name.startswith("tiny")  # where the fixture asked for it
    assert isinstance(r, os.PathLike) and os.fspath(r) == str(r.path)
    cache = featcache.open_cache(r)
    assert cache.path == r.path and cache.sizes == {"train": 20, "test": 10}
    res = featcache.train(r, "logreg", out=tmp_path / "h.npz")
    assert res.path == tmp_path / "h.npz" and 0 <= res.accuracy <= 1


def test_curve_is_the_clis_curve_and_jobs_is_one_keyword_of_probe_and_curve(tiny_cache, tmp_path):
    # featcache curve was featcache.learning_curve alone, though the README says the API mirrors the CLI command for
    # command; probe's main keyword was n_jobs (alias jobs), learning_curve's jobs (alias n_jobs), both --jobs
    from featcache import FeatcacheError

    assert featcache.curve is featcache.learning_curve and "curve" in dir(featcache)
    for fn in (featcache.probe, featcache.curve):
        params = inspect.signature(fn).parameters
        assert (params["jobs"].default, params["n_jobs"].default) == (1, None), fn.__name__
    r = tiny_cache
    # both given is refused whatever the values: jobs=1 (its default's value) with n_jobs=2 ran 2 workers
    for fn, args, kw in ((featcache.probe, (), {"on_test": True}), (featcache.curve, ([10],), {})):
        for jobs, n_jobs in ((2, 2), (1, 2), (1, 1)):
            with pytest.raises(FeatcacheError, match=r"^jobs and n_jobs are one setting \(the number of worker "
                                                     r"processes\); give one of them$"):
                fn(r, *args, heads="logreg", jobs=jobs, n_jobs=n_jobs, out=tmp_path / fn.__name__, **kw)
    assert not (tmp_path / "probe").exists() and not (tmp_path / "learning_curve").exists()
    lc = featcache.curve(r, [10], seeds=1, heads="logreg", n_jobs=1, out=tmp_path / "c", plot=False)
    assert lc.fits == 1 and [(row["head"], int(row["size"])) for row in lc.rows] == [("logreg", 10)], lc.rows


def test_the_0_1_module_featcache_curve_leaves_featcache_curve_callable(tmp_path):
    # import featcache.curve (0.1's module path, kept until 0.3) binds the package's attribute to what the import gives:
    # a module there would make featcache.curve(...) "'module' object is not callable" for the rest of the process
    code = ("import warnings; warnings.simplefilter('ignore')\n"
            "import featcache, featcache.curve\n"
            "from featcache.curve import learning_curve, CurveResult\n"
            "print(callable(featcache.curve), featcache.curve.learning_curve is featcache.learning_curve is learning_curve,"
            " CurveResult.__name__)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert res.returncode == 0 and res.stdout.split() == ["True", "True", "CurveResult"], res.stderr


def test_every_api_path_takes_a_leading_tilde(fashion_dir, tmp_path, monkeypatch):
    # A shell expands ~ before the CLI sees it; the API took open_cache("~/x.h5"), PhotoFolder("~/photos"),
    # ModelSpec(weights="~/w.h5") and out="~/..." for a folder named ~ in the current one (a notebook tester)
    from helpers import make_class_tree, weights_standin

    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    (home / "fm").mkdir(parents=True)
    for f in fashion_dir.iterdir():
        (home / "fm" / f.name).symlink_to(f)
    make_class_tree(home / "photos", {"ants": 4, "bees": 4})
    (home / "w.weights.h5").write_bytes(weights_standin(b"not read when made"))
    assert featcache.PhotoFolder("~/photos", test_fraction=0.5).root == str(home / "photos")
    assert featcache.PhotoFolder(Path("~/photos"), test_fraction=0.5).root == home / "photos"
    assert featcache.ModelSpec(weights="~/w.weights.h5").weights == str(home / "w.weights.h5")
    r = featcache.extract(featcache.FashionMNIST("~/fm", train_limit=20, test_limit=10),
                          featcache.ModelSpec(weights="random", image_size=32), featcache.StoreSpec(out="~/c.h5"))
    assert r.path == home / "c.h5" and r.path.is_file()
    assert featcache.open_cache("~/c.h5").sizes == {"train": 20, "test": 10}
    assert featcache.verify("~/c.h5") is not None
    res = featcache.train("~/c.h5", "logreg", out="~/heads/h.npz")
    assert res.path == home / "heads" / "h.npz" and res.path.is_file()
    assert featcache.load_head("~/heads/h.npz")[1]["head"] == "logreg"
    ev = featcache.evaluate("~/heads/h.npz", "~/c.h5", out="~/eval")
    assert ev.accuracy == res.accuracy and (home / "eval").is_dir()
    exp = featcache.export("~/heads/h.npz", "~/m.keras")
    assert exp.path == home / "m.keras" and exp.path.is_file()
    keras_head = featcache.train("~/c.h5", "keras", epochs=1, out="~/heads/k.keras")
    with pytest.raises(featcache.FeatcacheError, match=r"is the head export reads"):  # never written over, force or not
        featcache.export("~/heads/k.keras", keras_head.path, force=True)
    assert featcache.load_head(keras_head.path)[1]["head"] == "keras"
    preds = featcache.predict("~/m.keras", ["~/photos/ants"])
    assert len(preds) == 4 and all(p.input.startswith(str(home / "photos" / "ants")) for p in preds)
    assert list(work.iterdir()) == []  # no folder named ~ here


def test_epochs_5_and_numpy_s_5_name_one_default_head_file(tiny_cache, tmp_path):
    # train(..., epochs=5.0) stored epochs 5 but named its default file ..._keras_default-e5.0_n20_s0.keras, beside
    # epochs=5's ..._e5_... for the same fit (head_tag used the value as given). A float is refused since h301
    # (validate.whole_float: no whole-number setting takes 5.0); NumPy's 5 is 5
    cache = tiny_cache.path
    with pytest.raises(featcache.FeatcacheError, match=r"^epochs=5\.0 is not a whole number; pass e\.g\. epochs=5$"):
        featcache.train(cache, "keras", train_size=20, epochs=5.0)
    a = featcache.train(cache, "keras", train_size=20, epochs=np.int64(5))
    b = featcache.train(cache, "keras", train_size=20, epochs=5)
    assert a.path == b.path and "_keras_default-e5_n20_s0" in a.path.name, (a.path.name, b.path.name)
    assert featcache.load_head(b.path)[1]["params"]["epochs"] == 5


def test_train_shows_no_recipes_keyword(tiny_cache, tmp_path):
    # written_by, the lesson's mark on the heads it writes, was a keyword of train's public signature (help(train),
    # a notebook's completion); a recipe's keyword now, _written_by, which the lesson passes
    from featcache.heads.io import WRITTEN_BY, read_head_meta

    assert "written_by" not in inspect.signature(featcache.train).parameters
    cache = tiny_cache.path
    with pytest.raises(TypeError, match="written_by"):
        featcache.train(cache, "logreg", out=tmp_path / "h.npz", written_by="lesson")
    assert not (tmp_path / "h.npz").exists()
    featcache.train(cache, "logreg", out=tmp_path / "h.npz")
    assert read_head_meta(tmp_path / "h.npz")[WRITTEN_BY] is None


def test_a_caches_members_say_what_they_hold_and_index_and_paths_are_as_said(fashion_dir, tmp_path):
    # Cache.labels, .index and .paths (and four properties) had no docstring: help(cache.index) said nothing of what
    # the numbers are. Each public member says it now; what index's and paths' say is checked here.
    from helpers import make_class_tree

    from featcache.store.reader import Cache

    bare = [n for n, m in vars(Cache).items() if not n.startswith("_") and (callable(m) or isinstance(m, property))
            and not inspect.getdoc(m)]
    assert bare == [], f"Cache members without a docstring: {bare}"
    assert "relative to the photo folder's root" in Cache.paths.__doc__ and "each split counts from 0" in Cache.index.__doc__
    model = featcache.ModelSpec(weights="random", image_size=32)

    def cache(source, name):
        return featcache.open_cache(featcache.extract(source, model, featcache.StoreSpec(out=tmp_path / f"{name}.h5")))

    fm = cache(featcache.FashionMNIST(fashion_dir, train_limit=6, test_limit=4), "fm")
    assert fm.index("train").tolist() == list(range(6)) and fm.index("test").tolist() == list(range(4))
    assert fm.paths("train") is None
    make_class_tree(tmp_path / "split" / "train", {"ants": 3, "bees": 3})
    make_class_tree(tmp_path / "split" / "val", {"ants": 2, "bees": 2})
    (tmp_path / "split" / "train" / "ants" / "ants_001.png").write_bytes(b"no image")  # skipped: a gap
    split = cache(featcache.PhotoFolder(tmp_path / "split"), "split")
    assert split.index("train").tolist() == [0, 2, 3, 4, 5] and split.index("test").tolist() == [6, 7, 8, 9]
    assert split.paths("train")[:2] == ["train/ants/ants_000.png", "train/ants/ants_002.png"]
    assert split.paths("test")[0] == "val/ants/ants_000.png"
    assert (Path(split.photo_root) / split.paths("test")[0]).is_file()
    make_class_tree(tmp_path / "tree", {"ants": 4, "bees": 4})
    tree = cache(featcache.PhotoFolder(tmp_path / "tree", test_fraction=0.5), "tree")
    train, test = tree.index("train").tolist(), tree.index("test").tolist()
    assert sorted(train + test) == list(range(8)) and max(train) > min(test)  # interleaved, not one after the other
    assert all(p.startswith(("ants/", "bees/")) for p in tree.paths("train") + tree.paths("test"))


def test_export_help_says_the_weights_file_defaults_to_the_path_the_head_records(tmp_path):
    # export --help said the weights file was needed, where export(head, out) reads it from the path the head records
    # when that is still the very file (its sha256): the help is made true, and what it says is checked here
    import argparse

    from helpers import weights_standin

    from featcache.cli import build_parser
    from featcache.deploy.export import resolve_weights
    from featcache.embedding.backbones import weights_identity

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command in ("export", "finetune"):
        text = " ".join(sub.choices[command].format_help().split())
        assert "where it is no longer at the path the head records (default: that path;" in text, (command, text)
    recorded = tmp_path / "w.weights.h5"
    recorded.write_bytes(weights_standin(b"the weights"))
    meta = {"weights": weights_identity(str(recorded)), "weights_source": str(recorded)}
    assert resolve_weights(meta) == str(recorded)  # no --weights: the recorded path, checked by its sha256
    moved = tmp_path / "moved.weights.h5"
    recorded.rename(moved)
    with pytest.raises(featcache.FeatcacheError, match="pass that same file with weights=PATH$"):
        resolve_weights(meta)
    assert resolve_weights(meta, str(moved)) == str(moved)


def test_bytes_paths_are_taken_by_every_setting_as_by_every_function(fashion_dir, tmp_path):
    """One rule of paths (validate.check_path, setting_path): a str, bytes or os.PathLike. open_cache, train and
    load_head took bytes, StoreSpec(out=) and FashionMNIST(data_dir=) refused them (an API tester)."""
    out = os.fsencode(tmp_path / "c.h5")
    spec = featcache.StoreSpec(out=out)
    source = featcache.FashionMNIST(data_dir=os.fsencode(fashion_dir), train_limit=20, test_limit=10)
    assert spec.out == str(tmp_path / "c.h5") and source.data_dir == str(fashion_dir)
    assert featcache.PhotoFolder(os.fsencode(tmp_path), test_fraction=0.5).root == str(tmp_path)
    r = featcache.extract(source, featcache.ModelSpec(weights="random", image_size=32), spec)
    assert r.path == tmp_path / "c.h5" and featcache.open_cache(out).sizes == {"train": 20, "test": 10}
    for value in (b"", 3):  # still refused, in one line
        with pytest.raises(featcache.FeatcacheError, match=r"^out must be a file path \(got "):
            featcache.StoreSpec(out=value)


def test_a_folder_as_extracts_first_argument_is_one_line_without_a_warning_about_keywords_not_given(tmp_path):
    # A notebook tester: extract("/tmp/photos") gave the good FeatcacheError, and a DeprecationWarning about
    # "extract()'s keywords (weights=, images=...)" that the call never passed
    import warnings

    (tmp_path / "photos").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        with pytest.raises(featcache.FeatcacheError):
            featcache.extract(str(tmp_path / "photos"))
    with pytest.warns(DeprecationWarning, match="keywords .* are deprecated"), pytest.raises(TypeError):
        featcache.extract(weight="random")  # keywords given: warned of, as before


def test_every_api_functions_docstring_names_each_parameter_and_no_constant_or_history():
    # A notebook tester read help(): "default: DEFAULT_TOP_K", DEFAULT_SEED, DEFAULT_HOLDOUT and
    # runtimes.CONVERSION_WAIT_SECONDS where the values belong, train's private _written_by in its signature, train's
    # preset and curve's sizes, seeds and heads never explained, and docstrings telling who found what ("a new user
    # tried it", "An adversarial tester's ..."), which belongs in commit messages
    import re

    for name in featcache.__all__:
        fn = getattr(featcache, name)
        if not inspect.isfunction(fn):
            continue
        doc = inspect.getdoc(fn) or ""
        params = inspect.signature(fn).parameters
        assert not [p for p in params if p.startswith("_")], (name, list(params))
        missing = [p for p in params if not re.search(rf"(?<![\w.]){p}\b", doc)]
        assert not missing, f"featcache.{name}'s docstring does not name {missing}"
        constants = re.findall(r"\b\w*DEFAULT_\w*|\b[a-z_]+\.[A-Z][A-Z_]{3,}\b", doc)
        assert not constants, f"featcache.{name}'s docstring names {constants} where their values belong"
        history = re.findall(r"(?i)tester|new.user|a review|reviewer|helper-\d+|notebook user", doc)
        assert not history, f"featcache.{name}'s docstring tells its history: {history}"


def test_trains_docstring_says_which_head_at_out_it_replaces(tiny_cache, tmp_path):
    # help(train) said "out replaces an existing file only if it is a featcache head, or with force"; a head of
    # another fit there is refused (docs/cli.md's --force)
    doc = inspect.getdoc(featcache.train)
    assert "only if it is a featcache head, or with" not in doc and "the same fit" in doc, doc
    out = tmp_path / "h.npz"
    featcache.train(tiny_cache.path, "logreg", C=0.03, out=out)
    with pytest.raises(featcache.FeatcacheError):
        featcache.train(tiny_cache.path, "logreg", C=1.0, out=out)  # a featcache head, of another fit
    assert featcache.train(tiny_cache.path, "logreg", C=1.0, out=out, force=True).replaced
