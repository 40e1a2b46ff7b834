"""Options that do nothing, bounds said wrong, abbreviations: the command line's rules, each said in one line.

Regressions from an adversarial tester (helper-187's fixes): an option that does nothing for the run asked for is
refused, as train refuses --standardize with --head logreg; a bound said is the bound checked.
"""

from __future__ import annotations

import pytest
from helpers import run_main, tiny_fashion_cache
from test_api_words import api_error

import featcache
from featcache import validate as v
from featcache.errors import FeatcacheError
from featcache.progress import counted


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tiny_fashion_cache(tmp_path_factory.mktemp("rules"), n_train=60, n_test=20)


def refused(capsys, *argv: str) -> str:
    got = run_main(capsys, *argv)
    assert got.returncode == 2 and len(got.stderr.strip().splitlines()) == 1 and "Traceback" not in got.stderr, got
    return got.stderr.strip()


@pytest.mark.parametrize("flags, head", [(["--keras-standardize"], "keras"), (["--keras-preset", "default"], "keras"),
                                         (["--no-warm-start"], "logreg")])
def test_a_curve_head_flag_without_its_head_is_refused(cache, tmp_path, capsys, flags, head):
    """`curve --heads logreg --keras-standardize` wrote a curve the flag did nothing to."""
    other = "svm" if head == "keras" else "keras"
    err = refused(capsys, "curve", str(cache), "--sizes", "20", "--heads", other, *flags, "--out", str(tmp_path / "c"))
    assert f"{flags[0]} applies to the {head} head only" in err and f"add {head} to --heads, or drop {flags[0]}" in err
    assert not (tmp_path / "c").exists()


def test_probe_on_test_takes_no_seed(cache, tmp_path, capsys):
    """`probe --on-test --seed 3` ran: --on-test holds out nothing, so the seed chose nothing."""
    err = refused(capsys, "probe", str(cache), "--on-test", "--seed", "3", "--out", str(tmp_path / "p"))
    assert "--on-test scores on the test split and holds out none: drop --seed, or --on-test" in err
    # the API's line names its keywords (it said "drop --seed" to probe(on_test=True, seed=0))
    said = api_error(lambda: featcache.probe(cache, on_test=True, seed=0, out=tmp_path / "p", plot=False))
    assert "on_test=True scores on the test split and holds out none: drop seed, or on_test=True" in said
    assert not (tmp_path / "p").exists()
    # without --on-test the seed is still taken, and no seed is the default one
    a = featcache.probe(cache, heads="logreg", out=tmp_path / "a", plot=False)
    b = featcache.probe(cache, heads="logreg", seed=featcache.analysis.probe.DEFAULT_SEED, out=tmp_path / "b", plot=False)
    assert [r.accuracy for r in a.rows] == [r.accuracy for r in b.rows]


@pytest.mark.parametrize("folds", ["0", "1"])
def test_folds_says_its_real_minimum(cache, tmp_path, capsys, folds):
    """--folds 0 said "must be at least 1", and --folds 1 was then refused too."""
    err = refused(capsys, "probe", str(cache), "--folds", folds, "--out", str(tmp_path / "p"))
    assert f"--folds {folds} must be at least {v.MIN_FOLDS}" in err and err.endswith("pass e.g. 5")
    # the API's line names its keyword: probe(folds=1) said "--folds 1 must be at least 2 ...; pass e.g. 5"
    said = api_error(lambda: featcache.probe(cache, folds=int(folds), out=tmp_path / "p", plot=False))
    assert f"folds={folds} must be at least {v.MIN_FOLDS}" in said and said.endswith("pass e.g. folds=5")
    assert v.check_folds(v.MIN_FOLDS) == v.MIN_FOLDS


def test_folds_past_the_smallest_class_names_the_option_as_the_caller_gave_it(cache, tmp_path, capsys):
    """probe(folds=50) said "--folds 50 does not fit ...", the CLI's flag to a Python call."""
    err = refused(capsys, "probe", str(cache), "--heads", "logreg", "--folds", "50", "--out", str(tmp_path / "p"))
    said = api_error(lambda: featcache.probe(cache, heads="logreg", folds=50, out=tmp_path / "p", plot=False))
    assert err.startswith("error: --folds 50 does not fit") or "--folds 50 does not fit" in err
    assert said.startswith("folds=50 does not fit") and said.split(" does not fit")[1] == err.split(" does not fit")[1]


def test_jobs_names_its_bound_and_where_it_comes_from():
    """--jobs 10000 said "more processes than the 2 core(s) can run; use at most 8": 8 > 2 read as a contradiction."""
    cores = v.usable_cores()
    with pytest.raises(FeatcacheError) as exc:
        v.check_jobs(10 ** 4)
    said = str(exc.value)
    assert f"at most {v.MAX_JOBS_PER_CORE} processes per core, {v.MAX_JOBS_PER_CORE * cores} on the {counted(cores, 'core')} this" in said


@pytest.mark.parametrize("argv, meant", [(["extract", "--fo"], "--force"), (["train", "c.h5", "--he", "logreg"], "--head"),
                                         (["info", "c.h5", "--js"], "--json")])
def test_abbreviations_are_refused_and_name_the_flag(capsys, argv, meant):
    """`extract --fo` ran as --force: an abbreviation silently becomes another option when options are added."""
    err = refused(capsys, *argv)
    assert "unrecognized arguments" in err and f"(did you mean {meant}?)" in err


def test_no_parser_takes_abbreviations():
    import argparse

    from featcache.cli import build_parser

    top = build_parser()
    subs = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction)).choices.values()
    assert not top.allow_abbrev and not any(p.allow_abbrev for p in subs)


def test_a_command_option_before_the_command_says_where_it_goes(cache, capsys):
    """`featcache --json info X` said "unrecognized arguments: --json" of info, which has --json."""
    err = refused(capsys, "--json", "info", str(cache))
    assert "--json is an option of 'featcache info' and goes after the command: featcache info --json" in err
    assert run_main(capsys, "info", "--json", str(cache)).returncode == 0


def test_a_path_starting_with_a_dash_is_said_with_the_way_to_pass_it(tmp_path, capsys, monkeypatch):
    """Regression (a tester, helper-274): 'featcache info -h.npz' said "argument -h/--help: ignored explicit argument
    '.npz'" and 'verify -x.npz' "the following arguments are required: FILE", naming neither the file nor the fix.
    Every usage error of every command (cli.Parser.error, the one home) now names the word and how to pass it: ./X,
    or after '--' (the command line again), or an option's X as --out=X; each way given is run here and works. A
    negative number is a value, not a path (no hint). Fails on the code before: the line has no hint."""
    import shlex

    from test_head_files import synthetic_cache

    monkeypatch.chdir(tmp_path)
    cache = synthetic_cache(tmp_path / "c.h5")
    featcache.train(cache, "logreg", out=tmp_path / "-h.npz")
    for command in ("info", "verify"):
        err = refused(capsys, command, "-h.npz")
        assert ("(-h.npz starts with '-', so it was read as an option: write ./-h.npz, or put it after '--', which "
                f"ends the options: featcache {command} -- -h.npz); see 'featcache {command} --help'") in err, err
        for argv in (shlex.split(err.split("ends the options: ")[1].split(")")[0])[1:], [command, "./-h.npz"]):
            assert run_main(capsys, *argv).returncode == 0, argv
    err = refused(capsys, "evaluate", str(cache), "-h.npz")  # the rest of the line kept, '--' before the word
    assert f"featcache evaluate {cache} -- -h.npz)" in err, err
    err = refused(capsys, "evaluate", "-h.npz", str(cache), "--json")  # an option after it: '--' would take it
    assert err.endswith("(-h.npz starts with '-', so it was read as an option: write ./-h.npz); see 'featcache "
                        "evaluate --help'"), err
    err = refused(capsys, "train", str(cache), "--head", "logreg", "--out", "-new.npz")  # an option's value
    assert "argument --out: expected one argument (-new.npz starts with '-', so it was read as an option: write " \
           "./-new.npz, or --out=-new.npz)" in err, err
    assert run_main(capsys, "train", str(cache), "--head", "logreg", "--out=-new.npz").returncode == 0 and (tmp_path / "-new.npz").is_file()
    assert "starts with '-'" not in refused(capsys, "train", str(cache), "--C", "-0.5")


def test_a_suggested_path_starting_with_a_dash_can_be_pasted(tmp_path, capsys, monkeypatch):
    """Regression (a brief, 2026-12-06): 'train --head logreg --out=-x.keras' (and keras's .npz, export's) said
    "use --out -x.npz", which argparse reads as two options when pasted. A path a line suggests (errors.given_path,
    the one home) is ./-x.npz in a command, its Python call's as given; the suggestion is run here and works.
    Fails on the code before: the line says "use --out -x.npz"."""
    import shlex

    from test_head_files import synthetic_cache

    monkeypatch.chdir(tmp_path)
    cache = synthetic_cache(tmp_path / "c.h5")
    err = refused(capsys, "train", str(cache), "--head", "logreg", "--out=-x.keras")
    assert err.endswith("use --out ./-x.npz"), err
    assert run_main(capsys, "train", str(cache), "--head", "logreg",
                    *shlex.split(err.rpartition("use ")[2])).returncode == 0 and (tmp_path / "-x.npz").is_file()
    with pytest.raises(FeatcacheError, match=r"; use out='-x\.npz'$"):  # a Python call's: the path as given
        featcache.train(cache, "logreg", out="-x.keras")
    err = refused(capsys, "export", "./-x.npz", "--out=-m.h5")  # a model's suffix: the same home
    assert err.endswith("use --out ./-m.keras"), err
