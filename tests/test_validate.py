"""featcache.validate: every check passes good values through and refuses bad ones with a line naming the flag (the
``cli_words`` fixture: as under the CLI; a Python call's line names the keyword, tests/test_api_words.py)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from featcache import validate as v
from featcache.errors import FeatcacheError
from featcache.progress import counted
from helpers import parse_python


def refuses(fn, *args, match: str, **kw):
    with pytest.raises(FeatcacheError, match=match) as exc:
        fn(*args, **kw)
    assert "\n" not in str(exc.value)


@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
def test_parse_list():
    assert v.parse_list(" a, b,a , c", "--heads") == ["a", "b", "c"]
    assert v.parse_list(["x", "y"], "--heads", known=["x", "y", "z"]) == ["x", "y"]
    refuses(v.parse_list, " , ", "--heads", known=["x"], match=r"--heads is empty; give head names separated by commas \(x\)")
    refuses(v.parse_list, "x,forest", "--heads", known=["x", "y"], match="--heads: unknown head 'forest'; choose one of: x, y")


@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
def test_parse_sizes():
    assert v.parse_sizes("500, 100,100,250") == [100, 250, 500]
    assert v.parse_sizes([20, np.int64(5), 7]) == [5, 7, 20]
    refuses(v.parse_sizes, [20, 7.0], match=r"^--sizes: 7\.0 is not a whole number; pass sizes like 100,250,500,1000$")
    refuses(v.parse_sizes, "", match="--sizes is empty")
    refuses(v.parse_sizes, "20,abc", match="--sizes: 'abc' is not a whole number")
    refuses(v.parse_sizes, "20.5", match="--sizes: '20.5' is not a whole number")
    refuses(v.parse_sizes, [20.5], match="--sizes: 20.5 is not a whole number")
    refuses(v.parse_sizes, "0,5", flag="--baseline-sizes", match="--baseline-sizes: 0 must be at least 1")
    # -3 is a whole number: what is wrong with it is said, as positive_int's "must be at least 1" (a tester, h319)
    refuses(v.parse_sizes, "-3", match=r"^--sizes: -3 must be at least 1; pass sizes like 100,250,500,1000$")
    refuses(v.parse_sizes, [-3], match=r"^--sizes: -3 must be at least 1")


@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
@pytest.mark.parametrize("parse, flag, text, noun", [
    (v.parse_sizes, "--sizes", "10,,20", "size"),
    (v.parse_sizes, "--sizes", "10,20,", "size"),
    (v.parse_sizes, "--baseline-sizes", ",20", "baseline size"),
    (lambda text, flag: v.parse_list(text, flag, known=["keras", "logreg"]), "--heads", "keras,,logreg", "head"),
    (v.parse_list, "--layers", "a, ,b", "layer"),
    (lambda text, flag: __import__("featcache").ModelSpec(layers=text), "--layers", "block_1,,block_2", "layer"),
])
def test_a_comma_list_with_an_empty_item_is_refused(parse, flag, text, noun):
    """Regression: --sizes 10,,20 ran sizes 10 and 20, the empty item dropped without a word, where --views
    flip,,crop was refused (a tester): one rule for every comma list (validate.list_items, validate.empty_item)."""
    refuses(parse, text, flag=flag, match=rf"^{flag} '{text}' has an empty {noun}; separate {noun}s with single commas$")


@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
def test_positive_int():
    assert v.positive_int("7", "--epochs") == 7 and v.positive_int(np.int32(2), "--epochs") == 2
    refuses(v.positive_int, 0, "--epochs", match="--epochs 0 must be at least 1")
    refuses(v.positive_int, "2.5", "--epochs", match="--epochs '2.5' is not a whole number")
    refuses(v.positive_int, True, "--epochs", match="not a whole number")


@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
@pytest.mark.parametrize("seed", [-1, 2**32, 2**40])
def test_check_seed_range(seed):
    refuses(v.check_seed, seed, match=rf"--seed {seed} is out of range; use a whole number from 0 to 4294967295")


@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
def test_check_seed():
    assert v.check_seed(0) == 0 and v.check_seed(2**32 - 1) == 2**32 - 1 and v.check_seed(np.int64(5)) == 5
    refuses(v.check_seed, 1.5, match=r"--seed 1.5 is not a whole number")
    # read as every count is (validate.whole_float): a float is refused, 3.0 as 1.5, and -0.0 (train_size=-0.0 read
    # as 0 where seed=-0.0 was "not a whole number"; an adversarial tester); a command's text is read
    refuses(v.check_seed, 3.0, match=r"^--seed 3\.0 is not a whole number; pass e\.g\. 3$")
    refuses(v.check_seed, -0.0, match=r"^--seed -0\.0 is not a whole number; pass e\.g\. 0$")
    assert type(v.check_seed(np.int64(3))) is int and v.check_seed("7") == 7
    refuses(v.check_seed, False, flag="--seeds", match=r"--seeds False is not a whole number")


@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
def test_parse_seeds():
    assert v.parse_seeds(3) == [0, 1, 2] and v.parse_seeds([4, 2, 4]) == [4, 2]
    refuses(v.parse_seeds, 0, match="--seeds 0 must be at least 1")
    refuses(v.parse_seeds, [], match="--seeds is empty")
    refuses(v.parse_seeds, [1, -1], match="out of range")
    # a count is built into a list: 99999999999 was a MemoryError traceback (an adversarial tester)
    assert len(v.parse_seeds(v.MAX_SEEDS)) == v.MAX_SEEDS
    refuses(v.parse_seeds, 99999999999, match=rf"^--seeds 99999999999 is more seeds .*; use at most {v.MAX_SEEDS}$")
    # a count as every count is read (positive_int): 1.0 was "takes a count K ... (got 1.0)" (a session's note); a
    # float is no whole number (validate.whole_float), 2.0 as 2.5, a count's or a list's
    assert v.parse_seeds(np.int64(2)) == [0, 1] and v.parse_seeds([np.int32(1), 3]) == [1, 3]
    refuses(v.parse_seeds, 2.0, match=r"^--seeds 2\.0 is not a whole number; pass e\.g\. 2$")
    refuses(v.parse_seeds, np.float64(1.0), match=r"^--seeds np\.float64\(1\.0\) is not a whole number; pass e\.g\. 1$")
    refuses(v.parse_seeds, [1.0, 3], match=r"^--seeds: 1\.0 is not a whole number; pass e\.g\. 1$")
    refuses(v.parse_seeds, 2.5, match=r"^--seeds 2.5 is not a whole number; pass e.g. 10$")


@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
def test_check_jobs():
    assert v.check_jobs(1) == 1 and v.check_jobs(-1) == -1 and v.check_jobs(np.int64(4)) == 4
    # --jobs 100000 started hundreds of processes on 2 cores (an adversarial tester): a bound per core, and never
    # more workers than tasks (--jobs 60 started 60 processes for 3 fits)
    import os

    from joblib import cpu_count

    most = v.MAX_JOBS_PER_CORE * cpu_count()
    assert v.check_jobs(most) == most
    refuses(v.check_jobs, most + 1, match=rf"^--jobs {most + 1} is more than featcache runs: at most {v.MAX_JOBS_PER_CORE} processes per core, "
                                         rf"{most} on the {counted(cpu_count(), 'core')} this process may use; use at most {most}, or -1")
    assert (v.workers_for(60, 3), v.workers_for(2, 10), v.workers_for(-1, 1), v.workers_for(-1, 10 ** 6)) == (3, 2, 1, cpu_count())
    # the cores this process may use, not the host's (a review: a 2-CPU container on a 64-core host)
    if hasattr(os, "sched_setaffinity"):
        before = os.sched_getaffinity(0)
        try:
            os.sched_setaffinity(0, {min(before)})
            assert v.usable_cores() == 1 and v.workers_for(-1, 10) == 1
        finally:
            os.sched_setaffinity(0, before)


@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
def test_curve_and_probe_start_no_more_workers_than_fits(tmp_path, monkeypatch):
    """An adversarial tester: curve --jobs 60 started 60 processes for 3 fits. joblib is asked for at most as many
    workers as there are tasks (the helper's test alone passed with the calls removed; a review)."""
    import joblib
    from helpers import tiny_fashion_cache

    import featcache
    from featcache.analysis.curve import tasks

    asked = []
    real = joblib.Parallel

    class Recording(real):
        def __init__(self, n_jobs=None, **kw):
            asked.append(n_jobs)
            super().__init__(n_jobs=1, **kw)

    monkeypatch.setattr(joblib, "Parallel", Recording)
    cache = tiny_fashion_cache(tmp_path)
    featcache.learning_curve(cache, [20], seeds=2, heads=("logreg",), jobs=8, out=tmp_path / "curve", plot=False)
    featcache.probe(cache, heads="logreg,svm", n_jobs=8, out=tmp_path / "probe", plot=False)
    assert asked == [2, 2], asked  # 2 seeds x 1 size for curve; 1 layer x 2 heads for probe: never the 8 asked
    for bad in (0, -2, 1.5, "2", True):
        refuses(v.check_jobs, bad, match=r"--jobs .* is not valid; use a positive number of processes, or -1 for every core")


@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
def test_check_limit():
    assert v.check_limit(None, 48, "--train-limit", "train images") == 48 and v.check_limit(48, 48, "--train-limit", "x") == 48
    refuses(v.check_limit, 0, 48, "--train-limit", "train images", match=r"^--train-limit must be at least 1 \(got 0\)$")
    refuses(v.check_limit, 49, 48, "--test-limit", "test images",
            match="^--test-limit 49 is beyond the 48 test images; use at most 48$")


@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
def test_check_fraction():
    assert v.check_fraction("0.25", "--holdout") == 0.25
    for bad in (0, 1, 1.5, -0.1, "x", float("nan")):
        refuses(v.check_fraction, bad, "--holdout", match="--holdout .* is not a fraction; use a number between 0 and 1")


@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
def test_parse_C():
    assert v.parse_C("0.03") == 0.03 and v.parse_C(10) == 10.0 and v.parse_C("cv") == "cv"
    for bad in ("-1", "0", "abc", None, True):  # inf and nan: test_number_flags_that_read_as_another_number_...
        refuses(v.parse_C, bad, match=r"--C .* is not a positive number or 'cv'")


@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
def test_parse_C_per_head():
    from featcache.heads import parse_C_per_head  # the heads say which of them have a C

    v = SimpleNamespace(parse_C_per_head=parse_C_per_head)
    heads = ["logreg", "svm"]
    assert v.parse_C_per_head(None, heads) == {}
    assert v.parse_C_per_head(2, heads) == {"logreg": 2.0, "svm": 2.0}
    assert v.parse_C_per_head("logreg=0.5, svm=cv", heads) == {"logreg": 0.5, "svm": "cv"}
    assert v.parse_C_per_head({"svm": "3"}, heads) == {"svm": 3.0}
    refuses(v.parse_C_per_head, "svm=1", ["logreg"], match=r"--C names head 'svm', which is not among the heads \(logreg\)")
    refuses(v.parse_C_per_head, "keras=1", ["keras"], match="head 'keras' has no C parameter")
    refuses(v.parse_C_per_head, 1, ["logreg", "keras"], match="head 'keras' has no C parameter")
    refuses(v.parse_C_per_head, "1,svm=2", heads, match="mixes a bare value")
    refuses(v.parse_C_per_head, "svm=-2", heads, match="--C '-2' is not a positive number")
    # logreg=cv,logreg=1 fitted with C=1 and dropped the cv without a word (an adversarial tester)
    refuses(v.parse_C_per_head, "logreg=cv,logreg=1", heads, match="gives head 'logreg' two values; give each head one")


def test_progress_rates_name_their_units_in_the_plural():
    """The scratch CNN's bar said '19 batchs/s' (a new user)."""
    from featcache.progress import rate

    assert rate(38, 2.0, "batch") == "19 batches/s" and rate(500, 2.0, "image") == "250 images/s"
    assert rate(3, 6.0, "fit") == "2.00s/fit" and rate(2, 0.0, "setting") == "2 settings"


def test_counts_agree_with_their_number_in_one_way():
    """Extract's summary said "2 file(s) skipped", predict's "1 image file skipped" (a session's brief, 2026-12-06):
    every count is said through progress.counted, its words after it through agreeing; no message spells "(s)"."""
    from featcache.progress import agreeing, epochs_text

    assert [counted(n, "file") for n in (0, 1, 2)] == ["0 files", "1 file", "2 files"]
    assert (counted(1, "copy"), counted(3, "copy"), counted(2, "day"), counted(2, "batch")) == (
        "1 copy", "3 copies", "2 days", "2 batches")
    assert epochs_text(1) == "1 epoch" and epochs_text(5) == "5 epochs"
    assert agreeing(1, "is", "are") == "is" and agreeing(0, "is", "are") == agreeing(2, "is", "are") == "are"


def test_no_message_spells_a_count_or_a_list_with_s_in_brackets():
    """The other half of the one way: no string of featcache's code but a docstring (which may quote an old line)
    holds "file(s)", "view(s)" and the like; counted, named and agreeing say them. main before this had 38."""
    import ast

    from helpers import REPO

    found = []
    for path in sorted((REPO / "featcache").rglob("*.py")):
        tree = parse_python(path.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.body
                      and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        found += [f"{path.relative_to(REPO)}:{node.lineno}: {node.value[:60]!r}" for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                  and re.search(r"[a-z]\(s\)", node.value)]
    assert not found, found


def test_no_message_builds_a_plural_or_its_agreement_by_hand():
    """The one home of a count's words (progress.counted, named, agreeing): a message that picks "s" or "is"/"are" by
    an ``if`` of its own may drift from them (a review found store/reader.py's seal lines, embedding/runtimes.py's
    small-job line, embedding/engines' "applies"/"apply" and finetune's "is"/"are" still built by hand). No
    conditional expression of featcache's code chooses between a word's singular and plural text."""
    import ast

    from helpers import REPO

    pairs = {("is", "are"), ("was", "were"), ("it", "them"), ("one", "them"), ("does", "do"), ("has", "have"),
             ("this", "these"), ("applies", "apply"), ("s do", "does")}

    def plural_pair(a: str, b: str) -> bool:
        a, b = sorted((a.strip(), b.strip()))
        return (a, b) in pairs or (b, a) in pairs or (a == "" and b in ("s", "es")) or (a != "" and b in (a + "s", a + "es"))

    found = []
    for path in sorted((REPO / "featcache").rglob("*.py")):
        found += [f"{path.relative_to(REPO)}:{node.lineno}: {node.body.value!r} / {node.orelse.value!r}"
                  for node in ast.walk(parse_python(path.read_text())) if isinstance(node, ast.IfExp)
                  and all(isinstance(x, ast.Constant) and isinstance(x.value, str) for x in (node.body, node.orelse))
                  and plural_pair(node.body.value, node.orelse.value)]
    assert not found, found


@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
def test_check_writable_dir(tmp_path):
    assert v.check_writable_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b" and (tmp_path / "a" / "b").is_dir()
    (tmp_path / "file").write_text("x")
    refuses(v.check_writable_dir, tmp_path / "file" / "sub", "--out", match=r"cannot write in .*sub .*; choose a writable --out")
    assert (tmp_path / "file").read_text() == "x"


@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
def test_require_splits():
    cache = SimpleNamespace(path="c.h5", sizes={"train": 10})
    v.require_splits(cache, "train")
    refuses(v.require_splits, cache, "train", "test", match=r"c.h5 has no 'test' split \(it has train\); extract a cache with a test split")
    # A split no cache has (a tester's --split val): the fix is a --split the cache has, not an extraction
    refuses(v.require_splits, cache, "val", match=r"has no 'val' split \(it has train\); use --split with one of those \(a val/ folder")
    refuses(v.require_splits, cache, "test", why="curves need both", match="; curves need both$")


def test_arg_type_gives_argparse_its_message(capsys):
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=v.arg_type(v.positive_int))
    p.add_argument("--C", type=v.arg_type(v.parse_C))
    assert p.parse_args(["--n", "3", "--C", "cv"]) == argparse.Namespace(n=3, C="cv")
    with pytest.raises(SystemExit):
        p.parse_args(["--n", "0"])
    assert "argument --n: 0 must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        p.parse_args(["--C", "-1"])
    assert "argument --C: '-1' is not a positive number or 'cv'" in capsys.readouterr().err


def test_an_output_folder_on_a_read_only_mount_is_said_as_one(tmp_path, monkeypatch):
    """train's default head path on a read-only tmpfs said '(permission denied)' where evaluate, probe and curve said
    '(Read-only file system)' (an adversarial tester): access(2) says no to both. The mount's flag now decides."""
    import errno
    import os
    import types

    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    monkeypatch.setattr(os, "statvfs", lambda p: types.SimpleNamespace(f_flag=os.ST_RDONLY))
    refuses(v.check_out_dir, tmp_path / "new", match=rf"^cannot write in {tmp_path} \({os.strerror(errno.EROFS)}\)")
    monkeypatch.setattr(os, "statvfs", lambda p: types.SimpleNamespace(f_flag=0))
    refuses(v.check_out_dir, tmp_path / "new", match=rf"^cannot write in {tmp_path} \(permission denied\)")


def _api_switches() -> list[tuple[str, str]]:
    """(API function, switch) for every parameter of a public function whose default is True or False."""
    import inspect

    import featcache

    found = []
    for name in featcache.__all__:
        fn = getattr(featcache, name)
        if inspect.isfunction(fn):
            found += [(name, p) for p, v in inspect.signature(fn).parameters.items() if isinstance(v.default, bool)]
    return found


@pytest.mark.parametrize(("function", "switch"), _api_switches())
def test_every_api_switch_takes_true_or_false_only(function, switch, tmp_path):
    """export(force="no") replaced a user's file; probe(on_test="no") scored on the test split and verbose="no"
    printed (an adversarial tester): every switch of every API function is checked before any work."""
    import featcache

    with pytest.raises(FeatcacheError, match=rf"^{switch} must be True or False \(got 'no'\)"):
        getattr(featcache, function)(**{switch: "no"})


@pytest.mark.parametrize(("call", "why"), [
    (lambda f: f.load_head("h.npz", trust_pickle="yes"), "only True loads a pickle, which runs any code in it"),
    (lambda f: f.export("h.npz", "m.keras", force="no"), "only True replaces a file featcache did not write"),
    (lambda f: f.predict("m.keras", ["a.png"], recursive=1), "True reads the image files of every subfolder too"),
])
def test_a_switch_that_costs_something_says_what_it_does(call, why):
    """The decorator, run first, had hidden the reasons the functions' own checks gave (a review)."""
    import featcache

    with pytest.raises(FeatcacheError, match=re.escape(why)):
        call(featcache)


def test_switches_reach_the_function_as_plain_bools():
    @v.checks_switches
    def f(x: int, *, on: bool = False) -> object:
        return on

    assert type(f(1, on=np.bool_(True))) is bool and f(1) is False
    with pytest.raises(FeatcacheError, match=r"^on must be True or False \(got a ndarray of shape \(3,\) and dtype int64\)$"):
        f(1, on=np.arange(3))  # a value's repr, many lines for an array, is shown short (a review)


@pytest.mark.parametrize("check, message", [
    (lambda b: v.parse_C(b), r"^--C np\.True_ is not a positive number or 'cv'"),
    (lambda b: v.check_seconds(b, "--lock-timeout"), r"^--lock-timeout np\.True_ is not a number of seconds"),
    (lambda b: __import__("featcache").StoreSpec(lock_timeout=b), r"^--lock-timeout np\.True_ is not a number of seconds"),
    (lambda b: v.positive_int(b, "--epochs"), r"^--epochs np\.True_ is not a whole number"),
])
@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
def test_numpys_bools_are_refused_as_pythons_are(check, message):
    """An adversarial tester: np.bool_(True), no subclass of bool, slipped past the bool checks: train(C=np.bool_(True))
    and probe's trained with C=1.0, StoreSpec(lock_timeout=np.bool_(True)) waited 1 s; Python's True was refused
    everywhere. One test, validate._is_bool, for every check; a NumPy scalar is shown as its repr, not as "a bool of
    shape ()"."""
    with pytest.raises(FeatcacheError, match=message):
        check(np.bool_(True))
    with pytest.raises(FeatcacheError, match=message.replace("np\\.True_", "True")):
        check(True)


@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
def test_a_list_argument_of_no_items_is_one_line():
    """probe(view_settings=5) and train(train_views=5) were "'int' object is not iterable" (an adversarial tester):
    list_items is the one home of the rule, each caller naming what it takes."""
    assert v.list_items(" a, b ", "--heads") == ["a", "b"] and v.list_items(("x", 1), "--heads") == ["x", 1]
    for bad in (5, b"ab", {"a": 1}, None):
        with pytest.raises(FeatcacheError, match=rf"^--heads takes a comma-separated str or a list \(got {re.escape(repr(bad))}\)$"):
            v.list_items(bad, "--heads")
    with pytest.raises(FeatcacheError, match=r"^--x takes pairs \(got 5\)$"):
        v.list_items(5, "--x", "--x takes pairs")


@pytest.mark.parametrize("run, spec", [("featcache.analysis.probe.run_probe", "featcache.analysis.probe.ProbeSpec"),
                                       ("featcache.analysis.curve.run.run_curve", "featcache.analysis.curve.CurveSpec"),
                                       ("featcache.deploy.finetune.run_finetune", "featcache.deploy.finetune.FinetuneSettings")])
@pytest.mark.parametrize("switch", ["plot", "verbose"])
def test_the_spec_runners_switches_take_true_or_false_only(run, spec, switch, tmp_path):
    """docs/api.md's runners of a settings dataclass check their switches as the keyword APIs do (a review:
    run_probe(spec, cache, out, plot="no") drew the plot, where probe(plot="no") was refused)."""
    import importlib
    import inspect

    def named(dotted: str):
        module, name = dotted.rsplit(".", 1)
        return getattr(importlib.import_module(module), name)

    fn = named(run)
    if switch not in inspect.signature(fn).parameters:
        pytest.skip(f"{run} has no {switch}")
    settings = named(spec)(**({"sizes": [10]} if spec.endswith("CurveSpec") else {}))
    with pytest.raises(FeatcacheError, match=rf"^{switch} must be True or False \(got 'no'\)"):
        fn(settings, str(tmp_path / "none.h5"), **{switch: "no"})


def test_the_api_switches_include_those_the_tester_found():
    assert {("export", "force"), ("finetune", "force"), ("probe", "on_test"), ("learning_curve", "plot"),
            ("lesson", "views"), ("finetune", "keep_best"), ("predict", "verbose"), ("extract", "verbose")} <= set(_api_switches())


def test_a_parameter_value_is_shown_as_a_user_types_it_and_reads_back_as_itself():
    """A tester: --param gamma=1e20 was echoed "gamma=1e+20" and shown by info as "100000000000000000000.0000", a bool
    as "False" where --param types false. validate.param_text is the one form (train's status line, probe's suggested
    command, info, the "another fit" line); typed back through --param it is the same value."""
    cases = {1e20: "1e20", 1e-5: "1e-5", 0.001: "0.001", 3e-4: "0.0003", 200.5: "200.5", 2.0: "2", 1e10: "1e10",
             0.1: "0.1", 1 / 3: "0.3333333333333333", 5: "5", True: "true", np.False_: "false", None: "none",
             "scale": "scale", np.float64(1e20): "1e20", np.int64(7): "7", float("inf"): "inf",
             # %g's rule (a new-user tester: 10 and 500 were "1e1" and "5e2"), with every digit that reads back
             10.0: "10", 500.0: "500", 123456.0: "123456", 1234567.0: "1234567", 1e6: "1e6", 1.5e-7: "1.5e-7",
             1e-4: "0.0001", 5e-324: "5e-324", -0.5: "-0.5"}
    for value, text in cases.items():
        assert v.param_text(value) == text, (value, v.param_text(value))
    assert v.param_text(0.0) == "0" and v.param_text(-0.0) == "-0"  # (0.0 is False as a dict key above)
    # typed back after --param NAME=, a whole float keeps its ".0" (--param reads 10 as a whole number)
    assert [v.param_text(x, typed=True) for x in (10.0, 2.0, 1e20, 0.5, 7)] == ["10.0", "2.0", "1e20", "0.5", "7"]
    for value in (1e20, 1e-5, 0.0316227766016838, 1 / 3, 200.5, 500.0, 10.0, 5, True, False, None, "scale"):
        back = v.parse_params([f"x={v.param_text(value, typed=True)}"])["x"]
        assert back == value and type(back) is type(value), (value, back)
    assert v.param_text(10**5000) == "<a whole number of 5001 digits>"
    # the messages' forms: a float as typed, a text still quoted where it is not after "=" (it is no number)
    assert v.shown(1e20) == "1e20" and v.shown("1e-400") == "'1e-400'" and v.shown(2.0) == "2.0"
    assert v.typed_as(v.ParamLabel.of_flag("--param")("probability"), False) == "--param probability=false"


def test_param_values_are_typed_as_a_head_expects(cli_words):  # the command's lines (test_api_words: the call's)
    from featcache.validate import parse_params

    got = parse_params(["a=3", "b=3e-4", "c=True", "d=none", "e=scale", "f= 0.5", "g=x=y", "h= auto ", "i= "])
    assert got == {"a": 3, "b": 3e-4, "c": True, "d": None, "e": "scale", "f": 0.5, "g": "x=y", "h": "auto", "i": ""}
    assert type(got["a"]) is int and type(got["b"]) is float
    assert parse_params({"dropout": 0.5}) == {"dropout": 0.5} and parse_params(None) == {}
    # 1e4 is a whole number (max_iter=1e4 was refused); a digit of another script is no number typed (a tester)
    got = parse_params(["a=1e4", "b=1e-3", "c=1e38", "d=\uff15"])
    assert got == {"a": 10000, "b": 1e-3, "c": 1e38, "d": "\uff15"} and type(got["a"]) is int and type(got["c"]) is float
    for bad, says in ((["1x=2"], "'1x' is no parameter name; write --param NAME=VALUE, NAME one of the head's parameters"),
                      ({3: 1}, "3 is no parameter name"), (["=2"], "'' is no")):
        with pytest.raises(FeatcacheError, match=says):
            parse_params(bad)


def test_a_param_that_reads_as_an_infinite_number_is_refused_as_the_user_typed_it(tmp_path, capsys, cli_words):
    """Regression (a review): --param max_iter=1e400 read as inf, and the refusal said "--param max_iter inf", a value
    the user never typed. A number read as infinite or NaN is refused at parse, in the user's words; the API's dict
    is the head's to check."""
    from test_head_files import synthetic_cache

    from featcache.cli import main
    from featcache.heads import parse_head_params
    from featcache.validate import parse_params

    beyond = r" is not a finite number \(beyond a float's range, about 1\.8e308\); give a finite one$"
    for typed in ("1e400", "-1E400"):
        with pytest.raises(FeatcacheError, match=rf"^--param max_iter={typed}{beyond}"):
            parse_params([f"max_iter={typed}"])
    for typed in ("inf", "nan", "-Infinity"):
        with pytest.raises(FeatcacheError, match=rf"^--param gamma={typed} is not a finite number; give a finite one$"):
            parse_params([f"gamma= {typed}"])
    with pytest.raises(FeatcacheError, match=rf"^--param logreg\.max_iter=1e400{beyond}"):  # probe's, curve's form
        parse_head_params(["logreg.max_iter=1e400"], ["logreg", "svm"])
    assert parse_params({"max_iter": float("inf")}) == {"max_iter": float("inf")}
    cache = synthetic_cache(tmp_path / "c.h5")
    assert main(["train", str(cache), "--head", "logreg", "--param", "max_iter=1e400", "--out", str(tmp_path / "h.npz")]) == 2
    assert capsys.readouterr().err.strip() == ("featcache train: error: --param max_iter=1e400 is not a finite number "
                                               "(beyond a float's range, about 1.8e308); give a finite one")


def test_a_param_that_underflows_to_zero_is_refused_as_typed_with_its_own_bounds():
    """--param learning_rate=1e-400 read as 0 and was refused as '--param learning_rate 0', a value never typed, and
    curve ran keras.dropout=1e-400 as dropout 0 (an adversarial tester). A zero typed as one stays a zero.
    Regression (an adversarial tester, 2026-12-05): parse_params refused it with "give 0 or a larger number", said of
    max_iter too, which takes 1 or more: the text is kept, and the head's check says it with the parameter's bounds."""
    from featcache.heads import check_param_values

    tiny = r"is too small for a float \(below about 5e-324, it reads as 0\)"
    assert v.parse_params(["learning_rate=1e-400", "dropout= 2E-999"]) == {"learning_rate": "1e-400", "dropout": "2E-999"}
    for head, typed, rule in (("logreg", "max_iter=1e-400", r"use a whole number >= 1, e\.g\. 2000$"),  # the bound 0 breaks
                              # not run as 0, and told to type 0 itself (the bounds "a number >= 0 and < 1" were said,
                              # which the 0 it reads as meets; a review, 2026-12-05)
                              ("keras", "dropout=2E-999", r"give 0 or a larger number, e\.g\. 0\.2$"),
                              ("keras", "learning_rate=-1e-400", r"use a number > 0, e\.g\. 0\.001"),
                              ("keras", "dropout=0." + "0" * 400 + "1", "give 0 or a larger number")):  # no exponent (a review)
        name, _, text = typed.partition("=")
        # as typed, as parse_params' own lines say it ("--param max_iter=1e400 is not a finite number"), not
        # "--param max_iter '1e-400'" (a review, 2026-12-05)
        with pytest.raises(FeatcacheError, match=rf"^--param {name}={re.escape(text[:56])}.*? {tiny}; {rule}"):
            check_param_values(head, v.parse_params([typed]))
    assert v.parse_params(["a=0", "b=0.0", "c=0e5", "d=-0.0e-3", "e=1e-300"]) == {"a": 0, "b": 0.0, "c": 0, "d": 0, "e": 1e-300}


def test_every_param_line_names_the_value_as_typed_and_a_zero_it_reads_as_is_not_refused_by_a_rule_it_meets():
    """Regression (a review, 2026-12-05): --param messages had two forms side by side, "--param max_iter=1e-400 is too
    small" and "--param max_iter 2.5 is not valid" (and "--param C 'abc'"); every one is now NAME=VALUE
    (``validate.typed_as``). And --param dropout=1e-400 was told "it reads as 0; use a number >= 0 and < 1", a rule
    the 0 meets: it is refused as not what was typed (an adversarial tester's dropout=1e-400 ran as 0), with
    typed_number_problem's fix, to type 0 itself."""
    from featcache.heads import HEADS, check_param_values

    def said(head, typed, flag="--param"):
        with pytest.raises(FeatcacheError) as err:
            check_param_values(head, v.parse_params([typed]), flag)
        return str(err.value)

    for head, typed in (("logreg", "max_iter=2.5"), ("logreg", "max_iter=1e-400"), ("logreg", "n_jobs=0"),
                        ("svm", "C=abc"), ("svm", "gamma=-1"), ("keras", "dropout=abc"), ("keras", "early_stopping=yes")):
        assert said(head, typed).startswith(f"--param {typed} "), typed
        assert said(head, typed, f"--param {head}.").startswith(f"--param {head}.{typed} "), typed
    assert said("keras", "early_stopping=yes") == "--param early_stopping=yes is not valid; use true or false"
    tiny = "is too small for a float (below about 5e-324, it reads as 0)"
    assert said("keras", "dropout=1e-400") == f"--param dropout=1e-400 {tiny}; give 0 or a larger number, e.g. 0.2"
    assert said("logreg", "max_iter=1e-400") == f"--param max_iter=1e-400 {tiny}; use a whole number >= 1, e.g. 2000"
    # the API's words as before: a class name and the value's repr
    with pytest.raises(FeatcacheError, match=r"^DenseHead dropout '1e-400' is too small .*; give 0 or a larger number"):
        HEADS["keras"](dropout="1e-400").check_params()
    with pytest.raises(FeatcacheError, match=r"^LogRegHead max_iter 2\.5 is not valid"):
        HEADS["logreg"](max_iter=2.5).check_params()


@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
def test_number_flags_that_read_as_another_number_say_so_as_param_does(tmp_path, capsys):
    """`--C 1e400` said "'1e400' is not a positive number" (testers, 2026-12-05): 1e400 reads as inf, and only
    --param said so. The number flags (--C, probe's --C HEAD=C, --lr, --lock-timeout) now share --param's words
    (``validate.typed_number_problem``); a long whole --param number was an OverflowError's traceback in
    ``check_number`` (found alongside)."""
    from helpers import run_main
    from test_head_files import synthetic_cache

    from featcache.heads import parse_C_per_head

    beyond = r"is not a finite number \(beyond a float's range, about 1\.8e308\)"
    with pytest.raises(FeatcacheError, match=rf"^--C '1e400' {beyond}; e\.g\. --C 0\.03 or --C cv$"):
        v.parse_C("1e400")
    with pytest.raises(FeatcacheError, match=r"^--C 'inf' is not a finite number; e\.g\. --C 0\.03"):
        v.parse_C("inf")
    with pytest.raises(FeatcacheError, match=r"^--C '1e-400' is too small for a float \(below about 5e-324, it reads as 0\); e\.g\."):
        v.parse_C("1e-400")
    with pytest.raises(FeatcacheError, match=rf"^--C '1e400' {beyond}"):
        parse_C_per_head("logreg=1e400", ["logreg", "svm"])
    with pytest.raises(FeatcacheError, match=rf"^--lr '1e400' {beyond}; pass e\.g\. 1e-5$"):
        v.positive_number("1e400", "--lr", "1e-5")
    with pytest.raises(FeatcacheError, match=rf"^--lock-timeout '1e400' {beyond}; use 0 or more seconds"):
        v.check_seconds("1e400", "--lock-timeout")
    with pytest.raises(FeatcacheError, match=r"^--C '-1' is not a positive number or 'cv'"):  # the rest as before
        v.parse_C("-1")
    assert v.parse_C("1e12") == 1e12 and v.check_seconds("0", "--lock-timeout") == 0
    cache = synthetic_cache(tmp_path / "c.h5")
    proc = run_main(capsys, "train", str(cache), "--head", "logreg", "--C", "1e400", "--out", str(tmp_path / "h.npz"))
    assert proc.returncode == 2 and proc.stderr.strip() == (
        "featcache train: error: argument --C: '1e400' is not a finite number (beyond a float's range, about 1.8e308); "
        "e.g. --C 0.03 or --C cv; see 'featcache train --help'")
    assert v.check_number(10**400, "max_iter", whole=True, low=1) == 10**400


def test_a_full_disk_at_an_output_folder_that_is_a_mount_point_names_that_disk(tmp_path, monkeypatch):
    """check_writable_dir's full-disk line named the disk of the folder's parent: '/dev/shm' was 'no space left on
    /dev writing /dev/shm' (a review)."""
    import errno
    import tempfile

    target = tmp_path / "disk"
    target.mkdir()
    real = v.os.path.ismount
    monkeypatch.setattr(v.os.path, "ismount", lambda d: Path(d) == target or real(d))

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "mkstemp", full)
    with pytest.raises(FeatcacheError, match=rf"^no space left on {re.escape(str(target))} writing "):
        v.check_writable_dir(target)


# --- number inputs an adversarial tester broke (2026-12-05) ---------------------------------------------------------

NINES = "9" * 400  # a whole number beyond a float's range (about 1.8e308)


@pytest.mark.parametrize("head, param, out", [("keras", "l2", "h.keras"), ("svm", "gamma", "h.npz"),
                                              ("svm", "cache_size", "h.npz")])
def test_a_whole_number_beyond_a_float_for_a_float_param_is_one_line(tmp_path, capsys, head, param, out):
    """Regression: --param l2=<400 nines> (gamma, cache_size too) was "OverflowError: int too large to convert to
    float" at check_number's float(), exit 1. typed_number_problem's words, cut to one short line, exit 2."""
    from helpers import run_main
    from test_head_files import synthetic_cache

    cache = synthetic_cache(tmp_path / "c.h5")
    proc = run_main(capsys, "train", str(cache), "--head", head, "--param", f"{param}={NINES}", "--out", str(tmp_path / out))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert re.fullmatch(rf"featcache train: error: --param {param}=9{{57}}\.\.\. is not a finite number \(beyond a "
                        r"float's range, about 1\.8e308\); give a finite one, e\.g\. \S+", proc.stderr.strip()), proc.stderr
    assert not (tmp_path / out).exists()
    with pytest.raises(FeatcacheError, match=r"^l2 -9{56}\.\.\. is not a finite number"):  # the API's, either sign
        v.check_number(-int(NINES), "l2", low=None)


@pytest.mark.parametrize("head, param", [("keras", "batch_size"), ("keras", "epochs"), ("keras", "patience"),
                                         ("logreg", "max_iter"), ("logreg", "cv_folds"), ("svm", "calibration_cv"),
                                         ("svm", "cv_folds")])
def test_a_heads_whole_number_params_are_bounded(head, param):
    """Regression: --param batch_size=<400 nines> ended in Keras's "Python int too large to convert to C long"
    traceback (epochs: "int too large to convert to float"); max_iter, patience, cv_folds and calibration_cv
    of 400 digits were taken and printed whole in the status lines. Each is at most COUNT_MAX (2**31-1)."""
    from featcache.heads import HEADS, check_param_values

    with pytest.raises(FeatcacheError, match=rf"^--param {param}=9{{57}}\.\.\. is not valid; use a whole number "
                                             rf"<= {v.COUNT_MAX}, e\.g\. \d+$"):
        check_param_values(head, {param: int(NINES)})
    with pytest.raises(FeatcacheError, match=rf"is not valid; .*<= {v.COUNT_MAX}"):  # the class's own check too
        HEADS[head](**{param: v.COUNT_MAX + 1}).check_params()
    HEADS[head](**{param: v.COUNT_MAX}).check_params()


def test_a_bounded_count_says_only_the_bound_it_breaks():
    """Regression (a review, 2026-12-05): every count's line ended "and <= 2147483647" (COUNT_MAX), also for 0 or a
    negative value that broke the low bound alone ("--param epochs 0 is not valid; use a whole number >= 1 and <=
    2147483647"). A number says the bound it breaks; what is no number (or not whole) is told the whole rule."""
    from featcache.heads import check_param_values

    def said(value, **bounds):
        with pytest.raises(FeatcacheError) as err:
            v.check_number(value, "epochs", whole=True, example=5, **bounds)
        return str(err.value)

    count = dict(low=1, high=v.COUNT_MAX)
    assert said(0, **count) == "epochs 0 is not valid; use a whole number >= 1, e.g. 5"
    assert said(-3, **count) == "epochs -3 is not valid; use a whole number >= 1, e.g. 5"
    assert said(v.COUNT_MAX + 1, **count) == f"epochs {v.COUNT_MAX + 1} is not valid; use a whole number <= {v.COUNT_MAX}, e.g. 5"
    for bad in (1.5, "5", True, float("nan")):  # no bound broken: the rule whole
        assert said(bad, **count).endswith(f"use a whole number >= 1 and <= {v.COUNT_MAX}, e.g. 5"), bad
    assert said(2**32, low=0, high=v.SEED_LIMIT, high_open=True).endswith(f"use a whole number < {v.SEED_LIMIT}, e.g. 5")
    with pytest.raises(FeatcacheError, match=r"^--param keras\.epochs=0 is not valid; use a whole number >= 1, e\.g\. 5$"):
        check_param_values("keras", {"epochs": 0}, "--param keras.")


@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
@pytest.mark.parametrize("head", ["logreg", "svm"])
def test_n_jobs_and_C_typed_too_small_to_read_say_so_as_other_params_do(head):
    """Regression (a review, 2026-12-05): --param n_jobs=1e-400 got check_jobs' "is not valid", not that it reads as 0,
    and --param C=1e-400 was shown as "--param C '1e-400'", where every other parameter's line says both (as typed)."""
    from featcache.heads import check_param_values

    tiny = "is too small for a float (below about 5e-324, it reads as 0)"
    with pytest.raises(FeatcacheError) as err:
        check_param_values(head, v.parse_params(["n_jobs=1e-400"]))
    assert str(err.value) == f"--param n_jobs=1e-400 {tiny}; use a positive number of processes, or -1 for every core"
    with pytest.raises(FeatcacheError) as err:
        check_param_values(head, v.parse_params(["C=1e-400"]), f"--param {head}.")
    assert str(err.value).startswith(f"--param {head}.C=1e-400 {tiny}; e.g. --param {head}.C=0.03")
    with pytest.raises(FeatcacheError, match=r"^--jobs 0 is not valid; use a positive number"):  # a 0 typed as one
        v.check_jobs(0)


@pytest.mark.slow  # one Keras fit of 2 epochs (TensorFlow's start-up)
def test_keras_epochs_at_the_count_bound_trains_and_one_more_is_one_line(tmp_path, capsys):
    """epochs at COUNT_MAX (2**31-1) had never run end to end (a review): Keras takes it (its progress bar and early
    stopping too). A learning rate too small to move the weights stops it at epoch 2 (patience 0), so the test is
    short; one more epoch is refused in one line before any work."""
    from helpers import run_main
    from test_head_files import synthetic_cache

    cache = synthetic_cache(tmp_path / "c.h5")
    args = ["train", str(cache), "--head", "keras", "--param", "patience=0", "--param", "learning_rate=1e-20"]
    proc = run_main(capsys, *args, "--epochs", str(v.COUNT_MAX), "--out", str(tmp_path / "h.keras"), "--json")
    assert proc.returncode == 0, proc.stderr
    import json

    import featcache

    assert json.loads(proc.stdout)["details"]["epochs_run"] == 2, proc.stdout
    assert featcache.load_head(tmp_path / "h.keras")[1]["params"]["epochs"] == v.COUNT_MAX  # fitted and saved with it
    proc = run_main(capsys, *args, "--epochs", str(v.COUNT_MAX + 1), "--out", str(tmp_path / "h2.keras"))
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        f"featcache train: error: argument --epochs: {v.COUNT_MAX + 1} is too large; use a whole number from 1 to "
        f"{v.COUNT_MAX}; see 'featcache train --help'"], proc.stderr
    assert not (tmp_path / "h2.keras").exists()


@pytest.mark.usefixtures("cli_words")  # the CLI's words: these name its flags
def test_count_flags_are_bounded_finetune_batch_size_too(tmp_path, capsys):
    """Regression: finetune's --batch-size <400 nines> was accepted (and recorded); train's --epochs <400 nines> was
    Keras's OverflowError traceback. positive_int, the counts' one check, takes at most COUNT_MAX."""
    from helpers import run_main
    from test_head_files import synthetic_cache

    from featcache.deploy.finetune import check_settings

    with pytest.raises(FeatcacheError, match=rf"^--batch-size 9{{57}}\.\.\. is too large; use a whole number from 1 to {v.COUNT_MAX}$"):
        check_settings(20, 1e-5, 1, int(NINES), 1)
    assert check_settings(20, 1e-5, 1, v.COUNT_MAX, 1)[3] == v.COUNT_MAX
    proc = run_main(capsys, "finetune", str(tmp_path / "head.keras"), "--batch-size", NINES)  # before the head is read
    assert proc.returncode == 2 and "argument --batch-size: 9" in proc.stderr and "is too large" in proc.stderr
    cache = synthetic_cache(tmp_path / "c.h5")
    proc = run_main(capsys, "train", str(cache), "--head", "keras", "--epochs", NINES, "--out", str(tmp_path / "h.keras"))
    assert proc.returncode == 2 and f"argument --epochs: 9{'9' * 56}... is too large" in proc.stderr
    assert v.parse_seeds(3) == [0, 1, 2]
    with pytest.raises(FeatcacheError, match=r"is more seeds"):  # parse_seeds' own bound and words, as before
        v.parse_seeds(NINES)


@pytest.mark.parametrize("argv, says", [
    (["train", "CACHE", "--C", "-1e-3"], "argument --C: '-1e-3' is not a positive number or 'cv'"),
    (["train", "CACHE", "--C", "-inf"], "argument --C: '-inf' is not a finite number"),
    (["train", "CACHE", "--C", "-NaN"], "argument --C: '-NaN' is not a finite number"),
    (["train", "CACHE", "--C", "-1E+3"], "argument --C: '-1E+3' is not a positive number or 'cv'"),
    (["probe", "CACHE", "--C", "-1e-3"], "--C '-1e-3' is not a positive number or 'cv'"),
    (["finetune", "HEAD", "--lr", "-1e-5"], "--lr must be a positive number (got '-1e-5')"),
    (["extract", "--lock-timeout", "-1e3"], "argument --lock-timeout: '-1e3' is negative; use 0 or more seconds"),
    (["train", "CACHE", "--C", "-0.5"], "argument --C: '-0.5' is not a positive number or 'cv'"),  # as before
    (["train", "CACHE", "--C", "-x"], "argument --C: expected one argument"),  # a flag-like word is still no value
])
def test_negative_numbers_in_any_notation_are_values(tmp_path, capsys, argv, says):
    """Regression: --C -1e-3, --lr -1e-5, --lock-timeout -1e3 and --C -inf were argparse's "expected one argument"
    (its negative-number matcher knows -5 and -0.5 only), where --C -0.5 was featcache's own line."""
    from helpers import run_main
    from test_head_files import synthetic_cache

    if "probe" in argv:  # probe reads its --C per head after opening the cache
        synthetic_cache(tmp_path / "c.h5")
    argv = [str(tmp_path / "c.h5") if a == "CACHE" else str(tmp_path / "h.keras") if a == "HEAD" else a for a in argv]
    proc = run_main(capsys, *argv)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and says in proc.stderr, proc.stderr
    assert "expected one argument" not in proc.stderr or argv[-1] == "-x"


def test_every_command_reads_negative_numbers_and_still_knows_its_flags(capsys):
    """The matcher is every subparser's (the Parser class builds them all); -h is still the help."""
    from featcache.cli import COMMANDS, build_parser, main

    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(subs) == set(COMMANDS)
    for name, sub in subs.items():
        for number in ("-1e-3", "-.5e3", "-inf", "-Infinity", "-nan", "-5"):
            assert sub._negative_number_matcher.match(number), (name, number)
        for word in ("-h", "-x", "-e3", "--C", "-1e", "-1x"):
            assert not sub._negative_number_matcher.match(word), (name, word)
    with pytest.raises(SystemExit) as exc:
        main(["train", "-h"])
    assert exc.value.code == 0 and "usage: featcache train" in capsys.readouterr().out


def test_a_huge_number_is_clipped_and_one_beyond_ints_digits_says_so(tmp_path, capsys):
    """Regression: a 5,000-digit value was printed whole (a 5,100-character "one line"), and said to be "beyond a
    float's range" for a whole-number parameter, where int() refuses a text of more than 4,300 digits."""
    from helpers import run_main
    from test_head_files import synthetic_cache

    huge = "9" * 5000
    cache = synthetic_cache(tmp_path / "c.h5")
    for argv, says in ((["--param", f"max_iter={huge}"], "--param max_iter=9"),
                       (["--C", huge], "argument --C: '9"), (["--train-size", huge], "argument --train-size: '9")):
        proc = run_main(capsys, "train", str(cache), "--head", "logreg", *argv, "--out", str(tmp_path / "h.npz"))
        err = proc.stderr.strip()
        assert proc.returncode == 2 and len(err) < 300 and says in err, err
        assert "has 5000 digits, more than the 4300 Python reads in a whole number" in err and "beyond" not in err, err
    proc = run_main(capsys, "train", str(cache), "--head", "logreg", "--param", f"max_iter={'9' * 4000}", "--out",
                    str(tmp_path / "h.npz"))  # was taken, trained and printed whole in "training a logreg head (...)"
    assert proc.returncode == 2 and len(proc.stderr) < 300 and "<= 2147483647" in proc.stderr
    assert not (tmp_path / "h.npz").exists()
    assert v.shown(10**5000) == "<a whole number of 5001 digits>" and v.shown(10**5000 - 1) == "<a whole number of 5000 digits>"
    with pytest.raises(FeatcacheError, match=r"^max_iter <a whole number of 5001 digits> is not valid"):
        v.check_number(10**5000, "max_iter", whole=True, low=1, high=v.COUNT_MAX)


@pytest.mark.parametrize("views", ["ONLY:flip", "only", "Only;flip", "flip,only", ["only", "flip"]])
def test_a_misspelled_only_is_told_the_only_spelling(views):
    """``--train-views ONLY:flip`` and ``--test-views only`` were "unknown view 'ONLY:flip'; use orig, flip, ..."
    with no word of only: (an adversarial tester): the line names only:VIEWS as it is written."""
    from featcache.validate import pick_views

    def resolve(asked):  # as a cache's resolve_views refuses a name it does not know (embedding.views' words)
        raise FeatcacheError(f"unknown view {asked!r}; use orig, flip")

    with pytest.raises(FeatcacheError, match="unknown view; for views without the original write only:VIEWS in lower case"):
        pick_views(("orig", "flip"), views, "--test-views", resolve)
    with pytest.raises(FeatcacheError, match="unknown view 'onlyflip'; use orig"):  # not a misspelled only: (no break)
        pick_views(("orig", "flip"), "onlyflip", "--test-views", resolve)


def test_a_probe_spec_with_mappings_pickles_copies_and_writes_as_json():
    """Regression (a review): ProbeSpec's C and head_params became FrozenMaps that refused the assignment pickle and
    copy refill an object by: pickle.dumps, copy.deepcopy, copy.copy and dataclasses.asdict of a ProbeSpec holding
    them raised "AttributeError: a FrozenMap cannot be changed", and json.dumps(spec.C) a TypeError, where the plain
    dicts before were taken by each. Each gives back the same settings, and still nothing changes them."""
    import copy
    import dataclasses
    import json
    import pickle

    from featcache.analysis.probe import ProbeSpec

    spec = ProbeSpec(heads="logreg,svm", C={"logreg": 0.03, "svm": 10}, head_params={"logreg": {"max_iter": 5000}})
    for again in (pickle.loads(pickle.dumps(spec)), copy.deepcopy(spec), copy.copy(spec)):
        assert again == spec and hash(again) == hash(spec)
        assert again.head_params == {"logreg": {"max_iter": 5000}} and again.C == {"logreg": 0.03, "svm": 10}
        with pytest.raises(TypeError, match="cannot be changed"):
            again.head_params["logreg"]["max_iter"] = 1
    as_dict = dataclasses.asdict(spec)
    assert as_dict["C"] == {"logreg": 0.03, "svm": 10} and as_dict["head_params"] == {"logreg": {"max_iter": 5000}}
    assert json.loads(json.dumps(as_dict))["head_params"] == {"logreg": {"max_iter": 5000}}
    assert json.loads(json.dumps(spec.C)) == {"logreg": 0.03, "svm": 10}
    assert ProbeSpec(**as_dict) == spec  # what asdict gave makes the same settings


def test_a_frozen_map_gives_back_the_kinds_it_was_given():
    """Regression (a brief, helper-299): ``FrozenMap.thawed()`` gave a tuple back for a list given (a head parameter
    given as [64, 32] came back (64, 32)) and left a mapping inside a list or tuple frozen; and a FrozenMap of a list
    was not equal to the dict it was made of. Lists come back lists, tuples tuples, mappings dicts, at any depth,
    through pickle (every protocol), copy, deepcopy and ``dataclasses.asdict`` too; equal and hashed the same
    whether a setting was given as a list or a tuple; written by ``json.dumps`` as ever."""
    import copy
    import dataclasses
    import json
    import pickle

    from featcache.analysis.curve import CurveSpec

    given = {"dense": {"sizes": [64, 32], "pair": (1, 2), "nested": [{"a": [1]}, (3, [4, {"b": (5,)}])]}}
    as_tuples = {"dense": {"sizes": (64, 32), "pair": [1, 2], "nested": ({"a": (1,)}, [3, (4, {"b": [5]})])}}

    def same_kinds(got, want):
        assert type(got) is type(want), (got, want)
        if isinstance(want, dict):
            assert got.keys() == want.keys()
            for key in want:
                same_kinds(got[key], want[key])
        elif isinstance(want, (list, tuple)):
            assert len(got) == len(want)
            for a, b in zip(got, want):
                same_kinds(a, b)
        else:
            assert got == want

    kept = v.FrozenMap(given)
    same_kinds(kept.thawed(), given)
    assert kept == given and kept == v.FrozenMap(as_tuples) and hash(kept) == hash(v.FrozenMap(as_tuples))
    with pytest.raises(TypeError, match="cannot be changed"):
        kept["dense"]["nested"][0]["a"] = 2
    with pytest.raises(AttributeError):
        kept["dense"]["sizes"].append(16)
    again = [pickle.loads(pickle.dumps(kept, protocol)) for protocol in range(pickle.HIGHEST_PROTOCOL + 1)]
    again += [copy.copy(kept), copy.deepcopy(kept)]
    for other in again:
        assert other == kept and hash(other) == hash(kept)
        same_kinds(other.thawed(), given)
    assert json.loads(json.dumps(kept)) == json.loads(json.dumps(given))
    spec = CurveSpec(sizes=[10, 20], heads=("logreg",), head_params={"logreg": {"x": [1, [2]]}})  # a settings object keeping one
    same_kinds(dataclasses.asdict(spec)["head_params"].thawed(), {"logreg": {"x": [1, [2]]}})
    same_kinds(spec.head_params.thawed(), {"logreg": {"x": [1, [2]]}})


def test_each_settings_class_is_hashable_as_docs_say():
    """Regression (a review): docs/api.md and docs/guarantees.md say ProbeSpec, CurveSpec and FinetuneSettings are
    hashable; hash(CurveSpec(sizes=[10, 20])) was a TypeError (its head_params and baseline_params were dicts). Equal
    settings hash equal, and a caller's later change of its dict changes no CurveSpec."""
    import copy
    import dataclasses
    import json
    import pickle

    from featcache.analysis.curve import CurveSpec
    from featcache.analysis.probe import ProbeSpec
    from featcache.deploy.finetune import FinetuneSettings

    params, baseline = {"logreg": {"max_iter": 500}}, {"epochs": 2}
    curve = CurveSpec(sizes=[10, 20], heads=["logreg"], head_params=params, baseline="scratch", baseline_sizes=[10],
                      baseline_params=baseline)
    params["logreg"]["max_iter"], baseline["epochs"] = 1, 9  # the caller's dicts changed after: not the spec
    assert curve.head_params == {"logreg": {"max_iter": 500}} and curve.baseline_params == {"epochs": 2}
    same = CurveSpec(sizes="10,20", heads="logreg", head_params={"logreg": {"max_iter": 500}}, baseline="scratch",
                     baseline_sizes=[10], baseline_params={"epochs": 2})
    assert same == curve and hash(same) == hash(curve)
    for made in (CurveSpec(sizes=[10, 20]), ProbeSpec(), FinetuneSettings(), curve):
        assert {made: 1}[made] == 1
    assert hash(FinetuneSettings(epochs=3)) == hash(FinetuneSettings(epochs=3))
    with pytest.raises(TypeError, match="cannot be changed"):
        curve.head_params["logreg"] = {}
    for made in (curve, FinetuneSettings(epochs=3)):  # kept, copied and written as the dicts were
        assert pickle.loads(pickle.dumps(made)) == made == copy.deepcopy(made)
        assert json.loads(json.dumps(dataclasses.asdict(made))) == json.loads(json.dumps(dataclasses.asdict(copy.copy(made))))
    assert json.loads(json.dumps(dataclasses.asdict(curve)))["head_params"] == {"logreg": {"max_iter": 500}}


def test_probe_specs_of_the_same_settings_are_equal_however_given():
    """Regression (a review): ProbeSpec kept layers='a,b' as the str and layers=['a', 'b'] as a tuple, and
    view_settings='orig/orig' as the str and [('orig', 'orig')] as pairs: the same settings compared (and hashed)
    unequal. Each is kept parsed."""
    from featcache.analysis.probe import ProbeSpec

    for one, other in [({"layers": "block_13_expand_relu, out_relu"}, {"layers": ["block_13_expand_relu", "out_relu"]}),
                       ({"view_settings": "orig/orig"}, {"view_settings": [("orig", "orig")]}),
                       ({"view_settings": "all/orig; all/all"}, {"view_settings": ["all/orig", ["all", "all"]]})]:
        a, b = ProbeSpec(**one), ProbeSpec(**other)
        assert a == b and hash(a) == hash(b), (a, b)
    assert ProbeSpec(layers="a,b").layers == ("a", "b")
    assert ProbeSpec(view_settings="all/orig;all/all").view_settings == (("all", "orig"), ("all", "all"))


# A typed setting of each frozen settings class (and of a keyword API that builds one), given as a number's text or as
# a bool: (what makes it, its keyword, the text, the bool, the number it takes, the start of the one line refusing both).
TYPED_SETTINGS = [
    ("featcache.deploy.finetune.FinetuneSettings", "epochs", "5", True, 5, r"epochs=\S+ is not a whole number; pass e\.g\. epochs=10$"),
    ("featcache.deploy.finetune.FinetuneSettings", "learning_rate", "1e-5", True, 1e-5,
     # its text's number suggested where float() reads it (b'1e-5'), else the usual example (Path('1e-5'))
     r"learning_rate(=\S+ is not a number; pass e\.g\. learning_rate=1e-0?5| must be a positive number \(got True\))"),
    ("featcache.deploy.finetune.FinetuneSettings", "unfreeze", "20", False, 20, r"unfreeze=\S+ is not a whole number"),
    ("featcache.deploy.finetune.FinetuneSettings", "seed", "7", True, 7, r"seed=\S+ is not a whole number"),
    ("featcache.analysis.probe.ProbeSpec", "holdout", "0.2", True, 0.2, r"holdout=\S+ is not a fraction; use a number between 0 and 1"),
    ("featcache.analysis.probe.ProbeSpec", "folds", "3", True, 3, r"folds=\S+ is not a whole number; pass e\.g\. folds=5$"),
    ("featcache.analysis.probe.ProbeSpec", "seed", "1", True, 1, r"seed=\S+ is not a whole number"),
    ("featcache.analysis.curve.CurveSpec", "seeds", "5", True, 5, r"seeds(=\S+ is not a whole number| takes a count K)"),
    ("featcache.embedding.specs.StoreSpec", "batch_size", "64", True, 64, r"batch_size=\S+ is not a whole number"),
    ("featcache.embedding.specs.StoreSpec", "lock_timeout", "2", True, 2.0, r"lock_timeout=\S+ is not a number of seconds"),
    ("featcache.embedding.specs.ModelSpec", "image_size", "96", True, 96, r"image_size(=\S+ is not a whole number| must be a whole number of pixels)"),
]


@pytest.mark.parametrize("made_by, keyword, text, flag_bool, number, line", TYPED_SETTINGS,
                         ids=[f"{m.rsplit('.', 1)[1]}.{k}" for m, k, *_ in TYPED_SETTINGS])
def test_a_typed_setting_refuses_a_number_s_text_and_a_bool_when_made(made_by, keyword, text, flag_bool, number, line):
    """Regression (helper-281's brief): FinetuneSettings(epochs="5") and ProbeSpec(holdout="0.2") were made (probe's
    refused only when run, its other checks too), as were StoreSpec(batch_size="64") and ModelSpec(image_size="96"):
    a settings object holds what runs, so a number's text is refused when it is made, in the line a command gets for a
    value that is no number (a command's own text is read: ``cli_words``), as a bool is (True is not 1 epoch)."""
    import importlib

    module, name = made_by.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    base = {"sizes": [10]} if name == "CurveSpec" else {"weights": "random"} if name == "ModelSpec" else {}
    if name == "ProbeSpec" and keyword == "seed":
        base = {}
    for bad in (text, flag_bool):
        with pytest.raises(FeatcacheError, match=f"^{line}") as exc:
            cls(**base, **{keyword: bad})
        assert "\n" not in str(exc.value)
    made = cls(**base, **{keyword: number})
    assert getattr(made, keyword) in (number, tuple(range(number)) if keyword == "seeds" else number)


def test_a_learning_rate_s_text_is_named_as_text_with_the_number_it_reads_as():
    """Regression (a review): FinetuneSettings(learning_rate="1e-5") said "learning_rate must be a positive number
    (got '1e-5')", of a positive number's text; it says it is text, as the other typed settings do, and the number."""
    from featcache.deploy.finetune import FinetuneSettings

    with pytest.raises(FeatcacheError, match=r"^learning_rate='1e-5' is not a number; pass e\.g\. learning_rate=1e-05$"):
        FinetuneSettings(learning_rate="1e-5")
    with pytest.raises(FeatcacheError, match=r"^learning_rate='fast' is not a number; pass e\.g\. learning_rate=1e-5"):
        FinetuneSettings(learning_rate="fast")  # no number in it: the usual example
    assert FinetuneSettings(learning_rate=1e-05).learning_rate == float("1e-5")  # the line's fix is taken


def _text_likes(text):
    """What reads as a number's text without being a str: each was taken as its number (an adversarial tester)."""
    from collections import UserString
    from decimal import Decimal

    return [text.encode(), UserString(text), Path(text), np.array(text), np.str_(text), Decimal(text)]


@pytest.mark.parametrize("made_by, keyword, text, flag_bool, number, line", TYPED_SETTINGS,
                         ids=[f"{m.rsplit('.', 1)[1]}.{k}" for m, k, *_ in TYPED_SETTINGS])
def test_a_typed_setting_refuses_what_is_no_number_though_it_reads_as_one(made_by, keyword, text, flag_bool, number, line):
    """Regression (helper-296's brief): FinetuneSettings(learning_rate=b'0.2'), ProbeSpec(holdout=b'0.2'),
    StoreSpec(lock_timeout=b'5') were made, and UserString('5'), Path('5'), np.array('5') read as 5 for a whole
    number; Decimal was taken for epochs where seed refused it. A number is numbers.Real (NumPy's too), in the one
    line a str gets."""
    import importlib

    module, name = made_by.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    base = {"sizes": [10]} if name == "CurveSpec" else {"weights": "random"} if name == "ModelSpec" else {}
    line = "^" + line.replace(r"\S+", ".+")  # a repr with spaces: array('5', dtype='<U1')
    if keyword == "seeds":  # a list of seeds too: UserString('5') is its one item '5'
        line += r"|^'5' in seeds is not a whole number"
    for bad in _text_likes(text):
        with pytest.raises(FeatcacheError, match=line):
            cls(**base, **{keyword: bad})


@pytest.mark.parametrize("made_by, keyword", [(m, k) for m, k, *_ in TYPED_SETTINGS],
                         ids=[f"{m.rsplit('.', 1)[1]}.{k}" for m, k, *_ in TYPED_SETTINGS])
def test_a_typed_setting_refuses_what_float_cannot_read_in_one_line(made_by, keyword):
    """Regression (a review, helper-298): FinetuneSettings(learning_rate=None), [1e-5], 1j or object() was float()'s
    TypeError, a traceback, where the check before it said "learning_rate must be a positive number (got None)": the
    reading of a refused value's text for the number it suggests took only float()'s ValueError. Each typed setting
    refuses such a value in one line."""
    import importlib

    module, name = made_by.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    base = {"sizes": [10]} if name == "CurveSpec" else {"weights": "random"} if name == "ModelSpec" else {}
    for bad in (1j, object(), {"a": 1}):
        with pytest.raises(FeatcacheError, match=f"^{keyword}") as exc:
            cls(**base, **{keyword: bad})
        assert "\n" not in str(exc.value)
    if keyword == "learning_rate":  # None is no default of its (the others' None is theirs)
        with pytest.raises(FeatcacheError, match=r"^learning_rate=None is not a number; pass e\.g\. learning_rate=1e-5"):
            cls(learning_rate=None)


def test_a_whole_number_setting_is_an_int_and_refuses_an_absurd_count_when_made():
    """Regression (helper-296's brief): ModelSpec(image_size=np.int64(96)) kept NumPy's int; FinetuneSettings(
    unfreeze=10**400) was made, to fail only when run."""
    from featcache.deploy.finetune import FinetuneSettings
    from featcache.embedding.specs import ModelSpec

    assert type(ModelSpec(weights="random", image_size=np.int64(96)).image_size) is int
    with pytest.raises(FeatcacheError, match=r"^unfreeze=\S+ is too large; use a whole number from 0 to 2147483647$"):
        FinetuneSettings(unfreeze=10**400)
    assert FinetuneSettings(unfreeze=np.int64(5)).unfreeze == 5


def _typed(made_by, keyword, value):
    """A TYPED_SETTINGS row's settings object made with ``keyword=value`` (and what else it needs to be made)."""
    import importlib

    module, name = made_by.rsplit(".", 1)
    base = {"sizes": [10]} if name == "CurveSpec" else {"weights": "random"} if name == "ModelSpec" else {}
    return getattr(importlib.import_module(module), name)(**base, **{keyword: value})


def _curve(**settings):
    """A CurveSpec of ``settings`` (of size 10 where they give none)."""
    from featcache.analysis.curve import CurveSpec

    return CurveSpec(**{"sizes": [10], **settings})


def _head(name, **params):
    """A head made with ``params`` and checked (as train and a curve check one before a fit)."""
    from featcache.heads import HEADS

    return HEADS[name](**params).check_params()


def _call(function, *args, **kwargs):
    """``featcache.function(*args, **kwargs)`` (or the class); a function whose numbers pass stops at the missing file
    or the model that is none."""
    import featcache

    return getattr(featcache, function)(*args, **kwargs)


def _keyword_lines(keyword, n):
    """What a whole-number keyword given ``float(n)`` says: ``epochs=2.0 is not a whole number; pass e.g. epochs=2``."""
    return f"{keyword}={n}.0", f"{keyword}={n}"


# Every whole-number setting of the API: (id, make(value, folder) -> what checks it, the value as the refusal names it,
# the fix it suggests, a whole number it takes). ``folder`` holds an image (x.png) and a file that is no model (m.keras);
# the functions' cache (c.h5) and head (h.keras) are missing: a number they take is checked before them.
WHOLE_SETTINGS = [
    *((f"{m.rsplit('.', 1)[1]}.{k}", lambda value, folder, m=m, k=k: _typed(m, k, value), *_keyword_lines(k, n), n)
      for m, k, _text, _bool, n, _line in TYPED_SETTINGS if type(n) is int),
    ("FinetuneSettings.batch_size", lambda value, folder: _typed("featcache.deploy.finetune.FinetuneSettings", "batch_size", value),
     *_keyword_lines("batch_size", 64), 64),
    ("FinetuneSettings.patience", lambda value, folder: _typed("featcache.deploy.finetune.FinetuneSettings", "patience", value),
     *_keyword_lines("patience", 2), 2),
    ("ProbeSpec.jobs", lambda value, folder: _typed("featcache.analysis.probe.ProbeSpec", "jobs", value), *_keyword_lines("jobs", 2), 2),
    ("CurveSpec.jobs", lambda value, folder: _typed("featcache.analysis.curve.CurveSpec", "jobs", value), *_keyword_lines("jobs", 2), 2),
    ("CurveSpec.sizes", lambda value, folder: _curve(sizes=[value]),
     "20.0 in sizes", "sizes like [100, 250, 500, 1000]", 20),
    ("CurveSpec.seeds list", lambda value, folder: _typed("featcache.analysis.curve.CurveSpec", "seeds", [value]),
     "3.0 in seeds", "seeds=[3]", 3),
    ("CurveSpec.baseline_sizes", lambda value, folder: _curve(baseline="scratch", baseline_sizes=[value]),
     "20.0 in baseline_sizes", "sizes like [100, 250, 500, 1000]", 20),
    ("RayEngine.workers", lambda value, folder: _typed("featcache.RayEngine", "workers", value), *_keyword_lines("workers", 2), 2),
    ("RayEngine.cpus_per_worker", lambda value, folder: _typed("featcache.RayEngine", "cpus_per_worker", value),
     *_keyword_lines("cpus_per_worker", 1), 1),
    ("FashionMNIST.train_limit", lambda value, folder: _typed("featcache.FashionMNIST", "train_limit", value),
     *_keyword_lines("train_limit", 300), 300),
    ("FashionMNIST.test_limit", lambda value, folder: _typed("featcache.FashionMNIST", "test_limit", value),
     *_keyword_lines("test_limit", 100), 100),
    ("PhotoFolder.seed", lambda value, folder: _call("PhotoFolder", folder, seed=value), *_keyword_lines("seed", 1), 1),
    ("OnnxRuntime.threads", lambda value, folder: _typed("featcache.embedding.runtimes.OnnxRuntime", "threads", value),
     "threads 2.0", "2", 2),
    ("LogRegHead.max_iter", lambda value, folder: _head("logreg", max_iter=value), "LogRegHead max_iter 100.0",
     "LogRegHead(max_iter=100)", 100),
    ("LogRegHead.n_jobs", lambda value, folder: _head("logreg", n_jobs=value), "LogRegHead n_jobs 2.0", "LogRegHead(n_jobs=2)", 2),
    ("DenseHead.epochs", lambda value, folder: _head("keras", epochs=value), "DenseHead epochs 5.0", "DenseHead(epochs=5)", 5),
    ("ProbeSpec.head_params", lambda value, folder: _typed("featcache.analysis.probe.ProbeSpec", "head_params",
                                                           {"logreg": {"max_iter": value}}),
     "head_params['logreg']['max_iter']=100.0", "head_params['logreg']['max_iter']=100", 100),
    ("train.train_size", lambda value, folder: _call("train", folder / "c.h5", "logreg", train_size=value),
     *_keyword_lines("train_size", 20), 20),
    ("train.seed", lambda value, folder: _call("train", folder / "c.h5", "logreg", seed=value), *_keyword_lines("seed", 1), 1),
    ("probe.folds", lambda value, folder: _call("probe", folder / "c.h5", folds=value), *_keyword_lines("folds", 3), 3),
    ("probe.jobs", lambda value, folder: _call("probe", folder / "c.h5", jobs=value), *_keyword_lines("jobs", 2), 2),
    ("curve.sizes", lambda value, folder: _call("learning_curve", folder / "c.h5", [value]), "20.0 in sizes",
     "sizes like [100, 250, 500, 1000]", 20),
    ("curve.seeds", lambda value, folder: _call("curve", folder / "c.h5", [20], seeds=value), *_keyword_lines("seeds", 2), 2),
    ("finetune.epochs", lambda value, folder: _call("finetune", folder / "h.keras", epochs=value), *_keyword_lines("epochs", 2), 2),
    ("finetune.unfreeze", lambda value, folder: _call("finetune", folder / "h.keras", unfreeze=value),
     *_keyword_lines("unfreeze", 20), 20),
    ("predict.top_k", lambda value, folder: _call("predict", folder / "m.keras", [folder / "x.png"], top_k=value),
     *_keyword_lines("top_k", 2), 2),
    ("predict.batch_size", lambda value, folder: _call("predict", folder / "m.keras", [folder / "x.png"], batch_size=value),
     *_keyword_lines("batch_size", 8), 8),
]


@pytest.mark.parametrize("make, said, fix, n", [row[1:] for row in WHOLE_SETTINGS], ids=[row[0] for row in WHOLE_SETTINGS])
def test_every_whole_number_setting_refuses_a_float_in_one_line_and_takes_numpy_s_int(make, said, fix, n, tmp_path):
    """Regression (h301's brief): a whole-number setting given a float that is whole was read as its int by some
    (FinetuneSettings(epochs=2.0), StoreSpec(batch_size=64.0), RayEngine(workers=2.0), seeds=2.0, sizes=[20.0],
    top_k=2.0) and refused by others (jobs=2.0 "is not valid; use a positive number of processes", a head's
    max_iter=100.0 "use a whole number >= 1 and <= 2147483647", bounds 100.0 meets). One rule, scikit-learn's
    (n_estimators=2.0 is refused there; validate.whole_float): a float is no whole number, 2.0 as 2.5, in the line
    every whole-number setting gives what is none, with the int it equals as the fix; NumPy's ints are ints."""
    from helpers import class_image, write_image

    from featcache.errors import FeatcacheError

    write_image(tmp_path / "x.png", class_image(0, 0, 16))
    (tmp_path / "m.keras").write_bytes(b"no model")
    for value in (float(n), np.float64(n)):
        with pytest.raises(FeatcacheError) as exc:
            make(value, tmp_path)
        shown = said if type(value) is float else said.replace(f"{n}.0", f"np.float64({n}.0)")
        assert str(exc.value) == f"{shown} is not a whole number; pass {'' if ' like ' in fix else 'e.g. '}{fix}", str(exc.value)
    try:
        make(np.int64(n), tmp_path)
    except FeatcacheError as exc:  # a function: its missing file or model, never its numbers
        assert "whole number" not in str(exc) and " must be " not in str(exc), str(exc)


@pytest.mark.parametrize("C", ["1", " 5", b"5", np.str_("5"), {"logreg": "5"}])
def test_C_is_a_number_never_its_text_in_a_python_call(C):
    """Regression (helper-296's brief): train(C="1") trained with C=1.0, ProbeSpec(C="5"), C={"logreg": "5"}, C=b"5",
    C=np.str_("5") were made with C=5.0; only 'cv' is C's text (docs/guarantees.md)."""
    from featcache.analysis.probe import ProbeSpec
    from featcache.errors import cli_words

    with pytest.raises(FeatcacheError, match=r"^C=.+ is not a positive number or 'cv'; e\.g\. C=0\.03 or C='cv'$"):
        ProbeSpec(C=C)
    assert ProbeSpec(C="cv").C["logreg"] == "cv" and ProbeSpec(C=np.float32(5)).C["logreg"] == 5.0
    with pytest.raises(FeatcacheError, match=r"^C='logreg=5,svm=cv' gives a number as text; pass a dict of numbers, "
                                             r"e\.g\. C=\{'logreg': 0\.03, 'svm': 'cv'\}$"):
        ProbeSpec(C="logreg=5,svm=cv")
    assert ProbeSpec(C="logreg=cv,svm=cv").C == {"logreg": "cv", "svm": "cv"}
    with cli_words():  # a command's --C is its text
        assert v.parse_C("5") == 5.0 and ProbeSpec(C="logreg=5,svm=cv").C == {"logreg": 5.0, "svm": "cv"}


def test_a_command_s_text_is_still_read_as_its_number(capsys, tmp_path):
    """The CLI passes what was typed: under it each typed setting reads its text, its words unchanged."""
    from helpers import run_main

    from featcache.analysis.probe import ProbeSpec
    from featcache.deploy.finetune import FinetuneSettings
    from featcache.errors import cli_words

    with cli_words():
        assert FinetuneSettings(epochs="5", learning_rate="1e-5", seed="7") == FinetuneSettings(epochs=5, learning_rate=1e-5, seed=7)
        assert ProbeSpec(holdout="0.2", folds=None, seed="1").holdout == 0.2
    proc = run_main(capsys, "finetune", str(tmp_path / "h.keras"), "--epochs", "x")
    assert proc.returncode == 2 and "argument --epochs: 'x' is not a whole number; pass e.g. 10;" in proc.stderr, proc.stderr
    for argv in (["finetune", str(tmp_path / "h.keras"), "--epochs", "5", "--lr", "1e-5", "--seed", "7"],
                 ["probe", str(tmp_path / "c.h5"), "--holdout", "0.2", "--seed", "1", "--jobs", "1"]):
        proc = run_main(capsys, *argv)  # the text read: refused for the missing file alone
        assert proc.returncode == 2 and ("head file not found: " in proc.stderr or "cache not found: " in proc.stderr), proc.stderr
        assert not re.search("whole number|fraction|positive number", proc.stderr), proc.stderr


def test_a_probe_spec_is_hashable_and_checked_when_made():
    """Regression (helper-281's brief): ProbeSpec kept C and head_params as the caller's dicts (hash() a TypeError,
    unlike every other frozen settings object, and a caller's later change of its dict changed the spec) and was
    checked only when run: ProbeSpec(head_params={'logreg': {'max_iter': 0}}) or jobs=0 were made. Its keywords are
    as they were; it keeps them checked, hashable and read-only."""
    import dataclasses

    from featcache.analysis.probe import ProbeSpec

    params = {"logreg": {"max_iter": 5000}}
    spec = ProbeSpec(heads="logreg,svm", C={"logreg": 0.03}, head_params=params, layers=["out_relu"],
                     view_settings=[("orig", "orig")])
    params["logreg"]["max_iter"] = 1  # the caller's dict changed after: not the spec
    assert spec.head_params == {"logreg": {"max_iter": 5000}} and spec.C == {"logreg": 0.03}
    assert spec.heads == ("logreg", "svm") and spec.layers == ("out_relu",) and spec.view_settings == (("orig", "orig"),)
    assert hash(spec) == hash(ProbeSpec(heads=["logreg", "svm"], C={"logreg": 0.03}, head_params={"logreg": {"max_iter": 5000}},
                                        layers=["out_relu"], view_settings=[["orig", "orig"]]))
    assert dataclasses.replace(spec, holdout=0.3).head_params == spec.head_params  # made again from what it keeps
    with pytest.raises(TypeError):
        spec.head_params["logreg"]["max_iter"] = 1
    for kwargs, line in [({"head_params": {"logreg": {"max_iter": 0}}}, r"^head_params\['logreg'\]\['max_iter'\]=0 is not valid"),
                         ({"jobs": 0}, "^jobs=0 is not valid; use a positive number of processes"),
                         ({"on_test": True, "holdout": 0.2}, "^on_test=True scores on the test split"),
                         ({"heads": "forest"}, "^heads: unknown head 'forest'"),
                         ({"on_test": "no"}, r"^on_test must be True or False \(got 'no'\)")]:
        with pytest.raises(FeatcacheError, match=line):
            ProbeSpec(**kwargs)


def test_a_zero_d_array_where_a_list_goes_is_one_line_not_a_traceback(tmp_path):
    """A 0-d NumPy array is Iterable by its type, yet iterating it is a TypeError: curve(sizes=np.array(20)) was
    "TypeError: iteration over a 0-d array" (h305). list_items, the one home of a list argument, refuses it; a
    1-d array is a list, as before."""
    import featcache
    from helpers import tiny_fashion_cache

    refuses(v.list_items, np.array(20), "sizes", match=r"^sizes takes a comma-separated str or a list \(got array\(20\)\)$")
    assert v.list_items(np.array([20, 30]), "sizes") == [20, 30]
    cache = tiny_fashion_cache(tmp_path)
    refuses(featcache.curve, cache, np.array(20), seeds=1, heads="logreg", plot=False, out=tmp_path / "cv",
            match=r"^sizes takes a comma-separated str or a list")
    refuses(featcache.probe, cache, heads=np.array("logreg"), plot=False, out=tmp_path / "pr",
            match=r"^heads takes a comma-separated str or a list")


def test_a_numpy_timedelta_is_no_whole_number():
    """np.timedelta64 subclasses NumPy's signed integers (an Integral to ``numbers``): curve(seeds=[np.timedelta64(2)])
    ran seed 2, StoreSpec(batch_size=np.timedelta64(2)) took 2, and a head parameter's bound check was a traceback
    (UFuncTypeError: probe(head_params={'logreg': {'max_iter': np.timedelta64(2)}})); h305. Each is refused in the
    line of a value that is no number, as a bool is; NumPy's ints are still taken."""
    import featcache

    td = np.timedelta64(2)
    refuses(v.parse_seeds, [td, 3], match=r"^np\.timedelta64\(2\) in seeds is not a whole number")
    refuses(v.parse_sizes, [td, 20], match=r"^np\.timedelta64\(2\) in sizes is not a whole number")
    refuses(v.check_number, td, "max_iter", whole=True, low=1, example=100, match=r"^max_iter.*timedelta64\(2\) is not valid")
    refuses(featcache.StoreSpec, batch_size=td, match=r"^batch_size=np\.timedelta64\(2\) is not a whole number")
    refuses(featcache.StoreSpec, lock_timeout=td, match=r"^lock_timeout=np\.timedelta64\(2\) is not a number of seconds")
    refuses(featcache.RayEngine, workers=td, match=r"^workers=np\.timedelta64\(2\) is not a whole number")
    assert featcache.StoreSpec(batch_size=np.int16(2)).batch_size == 2
    assert v.parse_seeds([np.uint8(2), 3]) == [2, 3]


def test_n_jobs_is_refused_under_its_own_name(tmp_path):
    """probe's and curve's n_jobs (scikit-learn's name for jobs) was refused as the keyword the caller never typed:
    probe(n_jobs=2.0) said "jobs=2.0 is not a whole number; pass e.g. jobs=2" (h305)."""
    import featcache
    from helpers import tiny_fashion_cache

    cache = tiny_fashion_cache(tmp_path)
    refuses(featcache.probe, cache, heads="logreg", plot=False, out=tmp_path / "pr", n_jobs=2.0,
            match=r"^n_jobs=2\.0 is not a whole number; pass e.g. n_jobs=2$")
    refuses(featcache.curve, cache, [20], seeds=1, heads="logreg", plot=False, out=tmp_path / "cv", n_jobs=True,
            match=r"^n_jobs=True is not valid; use a positive number of processes")
    refuses(featcache.curve, cache, [20], seeds=1, heads="logreg", plot=False, out=tmp_path / "cv", jobs=2.0,
            match=r"^jobs=2\.0 is not a whole number; pass e.g. jobs=2$")


def test_jobs_where_joblib_cannot_start_worker_processes_are_said_to_run_one_at_a_time(monkeypatch):
    """Regression (a brief, 2026-12-07): where joblib cannot make a process semaphore (/dev/shm full or not
    writable, ``ulimit -f``) it runs every Parallel one task at a time, said only by its import-time warning, which
    the CLI now leaves out (it came before featcache's own line). ``--jobs`` above 1 says so in featcache's note;
    --jobs 1 or a single task says nothing. Fails on the code before: no note. They run as --jobs 1 runs them (1
    worker: h314's review), not through joblib's workers' calls one at a time (3.5x the time of --jobs 1 there);
    fails on the code before that: 2."""
    import warnings

    from joblib import _multiprocessing_helpers

    from featcache import validate

    monkeypatch.setattr(_multiprocessing_helpers, "mp", None)  # what joblib's import sets where the semaphore failed
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        assert validate.workers_for(2, 5) == 1
        assert validate.workers_for(1, 5) == 1 and validate.workers_for(3, 1) == 1
    assert [(type(w.message).__name__, str(w.message)) for w in said] == [(
        "SerialJobsNote", "jobs=2: joblib cannot start worker processes here (it could not make a process semaphore: "
        "/dev/shm full or not writable, or a file size limit such as ulimit -f), so the 5 fits run one at a time")]
