"""The Python API and the CLI mirror each other: every keyword of an API function is an option of its command.

Until 2026-12-04 ``finetune(keep_best=)``, ``predict(batch_size=)`` and the ``plot`` switch of ``probe`` and
``learning_curve`` had no flag (the list was kept by hand in the session notes). A new keyword now fails here
until its command takes it, or it is listed below with the reason it cannot be a flag.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import re

import pytest

import featcache
from featcache.cli import build_parser
from helpers import parse_python

# Keywords of the API that are no flag of their command, and why.
API_ONLY = {
    "verbose": "every command prints its progress; --json turns it off (stdout is the JSON alone)",
    "extract.source": "the typed parts: the CLI builds them from its flags (embedding.specs.from_options)",
    "extract.model": "the typed parts, as source",
    "extract.store": "the typed parts, as source",
    "extract.legacy": "extract's keyword form: each keyword is one of extract's flags (checked below)",
    "evaluate.meta": "the metadata of an in-memory (estimator, meta) pair; a file carries its own",
    "evaluate.write": "False scores without writing the report (a notebook's ev.accuracy); the CLI always writes it",
    "lesson.rows": "row functions (Python callables): the extension point of the lesson table",
    "n_jobs": "an alias of jobs (--jobs), scikit-learn's name (validate.jobs_alias: probe's and curve's)",
    "curve.head_params": "dicts of estimator parameters: the CLI builds them from --param, --keras-preset, "
                         "--keras-standardize, --no-warm-start",
    "curve.baseline_params": "a dict: the CLI builds it from --baseline-epochs",
}

# Options of a command that are no keyword of its API function, and why.
CLI_ONLY = {
    "json": "prints the API's result (its to_dict()) as JSON",
    "curve.keras_preset": "builds head_params",
    "curve.keras_standardize": "builds head_params",
    "curve.warm_start": "builds head_params",
    "curve.baseline_epochs": "builds baseline_params",
    "curve.param": "builds head_params",
}

# API keyword: the option's dest where the two names differ.
RENAMED = {
    "info.path": "cache",  # positional: a cache, head or model
    "verify.path": "cache",
    "finetune.learning_rate": "lr",  # --learning-rate, and --lr (the lesson's short form)
}


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _dests(parser: argparse.ArgumentParser) -> set[str]:
    return {a.dest for a in parser._actions if a.dest != "help"}


@pytest.mark.parametrize("command", sorted(_commands()))
def test_every_api_keyword_is_a_flag_and_back(command):
    parser = _commands()[command]
    fn = getattr(featcache, command)  # featcache.curve is learning_curve
    # a keyword named _x is featcache's own, no part of the API
    params = {RENAMED.get(f"{command}.{p}", p) for p in inspect.signature(fn).parameters if not p.startswith("_")}
    dests = _dests(parser)
    if command == "extract":  # the keyword form: every flag is one of its keywords
        from featcache.embedding.specs import OPTIONS

        params |= set(OPTIONS)
    missing = {p for p in params - dests if p not in API_ONLY and f"{command}.{p}" not in API_ONLY}
    assert not missing, f"featcache {command} has no option for the API's {sorted(missing)}"
    extra = {d for d in dests - params if d not in CLI_ONLY and f"{command}.{d}" not in CLI_ONLY}
    assert not extra, f"featcache {command}'s options {sorted(extra)} are no keyword of the API"


def test_the_exceptions_are_still_needed():
    """An entry above whose keyword or option went is removed with it: the list says what is true now."""
    commands = _commands()
    for key in [*API_ONLY, *CLI_ONLY]:
        if "." not in key:
            continue
        command, name = key.split(".")
        fn = getattr(featcache, command)
        where = inspect.signature(fn).parameters if key in API_ONLY else _dests(commands[command])
        assert name in where, f"{key} is listed as an exception but {command} has no {name}"
    for key, dest in RENAMED.items():
        command, name = key.split(".")
        assert name in inspect.signature(getattr(featcache, command)).parameters, key
        assert dest in _dests(commands[command]), key


def test_the_new_flags_reach_the_api(monkeypatch):
    """--keep-last, predict's --batch-size and --no-plot are passed on as the keywords they mirror."""
    from featcache.cli import main

    seen = {}

    def record(name, real):
        def fake(*args, **kwargs):
            seen[name] = kwargs
            raise SystemExit(0)
        fake.__signature__ = inspect.signature(real)  # the parser quotes the API's defaults
        return fake

    import featcache.cli.curve
    import featcache.cli.probe
    import featcache.deploy.finetune
    import featcache.deploy.predict

    # where each command's run() finds its function (the first two import it as they run)
    for module, name, key in ((featcache.deploy.finetune, "finetune", "finetune"), (featcache.deploy.predict, "predict", "predict"),
                              (featcache.cli.probe, "probe", "probe"), (featcache.cli.curve, "learning_curve", "curve")):
        monkeypatch.setattr(module, name, record(key, getattr(module, name)))
    for argv in (["finetune", "h.keras", "--keep-last"], ["predict", "m.keras", "x.png", "--batch-size", "8"],
                 ["probe", "c.h5", "--no-plot"], ["curve", "c.h5", "--sizes", "10", "--no-plot"]):
        with pytest.raises(SystemExit):
            main(argv)
    assert seen["finetune"]["keep_best"] is False
    assert seen["predict"]["batch_size"] == 8
    assert seen["probe"]["plot"] is False and seen["curve"]["plot"] is False
    for argv in (["finetune", "h.keras"], ["probe", "c.h5"]):  # left out: the API's default applies
        with pytest.raises(SystemExit):
            main(argv)
    assert "keep_best" not in seen["finetune"] and "plot" not in seen["probe"]


def _same_name(command: str, flag: str) -> bool:
    """``--train-size`` is ``train_size=``, for extract a field of the same name of one of its settings."""
    name = flag.lstrip("-").replace("-", "_")
    if command == "extract":
        from featcache.embedding.specs import ENGINE_OPTIONS, MODEL_OPTIONS, STORE_OPTIONS
        from featcache.sources import source_classes

        fields = {o for cls in source_classes() for o, f in cls.options.items() if o == f}
        return name in fields | set(MODEL_OPTIONS) | set(STORE_OPTIONS) | (set(ENGINE_OPTIONS) - {"engine"})
    return name in inspect.signature(getattr(featcache, command)).parameters


def _api_md_table() -> list[tuple[list[str], str, str]]:
    """(commands, flag, In Python cell) of each row of docs/api.md's table of the flags that are no keyword of the
    same name."""
    from helpers import REPO

    text = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    table = text.split("## Flags that are no keyword of the same name", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1].startswith("`--"):
            flag = cells[1].strip("`").split()[0]
            commands = sorted(_commands()) if cells[0] == "every command" else [c.strip() for c in cells[0].split(",")]
            rows.append((commands, flag, cells[2]))
    return rows


def _api_md_rows() -> set[tuple[str, str]]:
    """(command, flag) of docs/api.md's table of the flags that are no keyword of the same name."""
    return {(c, flag) for commands, flag, _ in _api_md_table() for c in commands}


def _python_form_problems(commands: list[str], python: str) -> list[str]:
    """What in a row's "In Python" cell names no real thing: a keyword ``name=`` that the command's API function
    does not take, a class ``Name(...)`` that featcache (or featcache.heads) does not export, a method
    ``Class.method(...)`` it lacks, a head ``{"HEAD": {"NAME": ...}}`` that is none or whose class takes no NAME."""
    import featcache.heads

    problems = []
    spans = re.findall(r"`([^`]+)`", python)
    for span in spans:
        keyword = re.match(r"(\w+)=", span)
        if keyword:
            for command in commands:
                if keyword[1] not in inspect.signature(getattr(featcache, command)).parameters:
                    problems.append(f"{command} takes no {keyword[1]}= ({span})")
        for name, attr in re.findall(r"\b([A-Z]\w*)(?:\.(\w+))?\(", span):
            owner = getattr(featcache, name, None) or getattr(featcache.heads, name, None)
            if owner is None or attr and not hasattr(owner, attr):
                problems.append(f"featcache has no {name}{'.' + attr if attr else ''} ({span})")
        for head, name in re.findall(r'"([a-z]\w*)": \{"(\w+)"', span):  # "HEAD": {"NAME": ...} are placeholders
            cls = featcache.heads.HEADS.get(head)
            if cls is None or name not in inspect.signature(cls).parameters:
                problems.append(f"no head {head!r} takes {name!r} ({span})")
    return problems


def test_the_python_form_of_each_flag_in_api_md_is_real():
    """docs/api.md's table was checked for its (command, flag) pairs, not its "In Python" column (a reviewer, R12b):
    a keyword renamed in the API left the table naming the old one. Each keyword it names is one the command's
    function takes (inspect.signature), each class one featcache exports, each head parameter its class's; a row
    naming none of these is only the --json row (a result's method)."""
    problems = []
    for commands, flag, python in _api_md_table():
        found = _python_form_problems(commands, python)
        problems += [f"{', '.join(commands)} {flag}: {p}" for p in found]
        checked = re.search(r"`(\w+=|[A-Z]\w*(\.\w+)?\()", python)
        if not checked and flag != "--json":
            problems.append(f"{flag}: its Python form {python!r} names no keyword or class this test can check")
    assert not problems, problems
    # and the check catches a renamed keyword, a class and a head parameter that are not there
    assert _python_form_problems(["finetune"], "`keep_last=False`") == ["finetune takes no keep_last= (keep_last=False)"]
    assert _python_form_problems(["extract"], "`PhotoFolders(DIR)` as the source")
    assert _python_form_problems(["curve"], '`head_params={"logreg": {"warmstart": False}}`')


def test_every_flag_of_another_name_than_its_keyword_is_in_api_md():
    """docs/api.md said "each flag is the keyword of the same name", false for curve's --keras-preset,
    --no-warm-start, --baseline-epochs, ... and probe's --param (head_params=; a new-user tester). Its table lists
    each such flag; a new one fails here until it has its row, and a row of a flag that went fails too."""
    rows = _api_md_rows()
    needed = {(command, flag) for command, parser in _commands().items() for action in parser._actions
              for flag in action.option_strings if flag.startswith("--") and flag != "--help" and not _same_name(command, flag)}
    assert not needed - rows, f"docs/api.md's table of flags lacks {sorted(needed - rows)}"
    assert not rows - needed, f"docs/api.md's table lists flags that are keywords of their name or no flags: {sorted(rows - needed)}"


def test_cli_defaults_come_from_the_api():
    """Every option of every command defaults to None: what the user did not give is not passed on (cli.common.given,
    extract's from_options), so the API's default applies and the CLI has none of its own. Until 2026-12-06 this was
    extract's alone (test_extract); probe's --on-test (False) and curve's --keras-standardize (False) and
    --no-warm-start (True) held literal defaults of their own. --json is the CLI's (it picks the output)."""
    from featcache.embedding.specs import OPTIONS

    own = {}
    for command, parser in _commands().items():
        for action in parser._actions:
            if action.dest not in ("help", "json") and action.default is not None:
                own[f"{command} {action.option_strings or action.dest}"] = action.default
    assert not own, f"options with a default of the CLI's own, not the API's: {own}"
    extract = _commands()["extract"]
    assert _dests(extract) - {"json"} == set(OPTIONS)  # every extract flag is an API option and back
    assert "(default: 64)" in extract.format_help().replace("\n", " ").replace("  ", " ")  # StoreSpec's batch_size


def _literal_defaults(source: str) -> list[tuple[int, str]]:
    """(line, text) of each default a help text of ``source`` states as a literal: a "default:" clause (to its ')' or
    ';') whose typed text holds a number or a view name, or a "WORD (default)" choice. A value put in from the API
    (an f-string's ``{...}``) is no part of the typed text, so ``f"(default: {DEFAULT_SEED})"`` passes."""
    found = []
    for node in ast.walk(parse_python(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for m in re.finditer(r"(?i)default:([^);]*)", node.value):
                if re.search(r"\d|\borig\b", m[1]):
                    found.append((node.lineno, m[0]))
            found += [(node.lineno, m[0]) for m in re.finditer(r"[\w.,/-]+ \(default\)", node.value)]
    return found


def test_help_texts_quote_the_apis_defaults():
    """The defaults --help states come from the API (its signatures, settings dataclasses and constants), not typed
    again in the CLI: probe's --view-settings ("orig/orig;all/orig;all/all"), extract's --seed (0), --train-limit
    (60,000) and --test-limit (10,000) and export's --views (orig) were literals, which drift when the API's change
    (a reader, 2026-12-06). Checked in the source: the typed text of a help's default clause holds no value."""
    from helpers import REPO

    found = {f"{path.name}:{line}": text for path in sorted((REPO / "featcache" / "cli").glob("*.py"))
             for line, text in _literal_defaults(path.read_text(encoding="utf-8"))}
    assert not found, f"defaults typed in help texts, not taken from the API: {found}"
    # and the check catches the literals it was written for, and passes their API-quoting forms
    assert _literal_defaults('h = "(default: 0)"') and _literal_defaults('h = "Default: orig/orig;all/all"')
    assert _literal_defaults('h = "(default: all 60,000 of it)"') and _literal_defaults('h = "orig (default) embeds"')
    assert not _literal_defaults('h = f"(default: {SEED}; not with --on-test)"')
    assert not _literal_defaults('h = f"(default: all {N:,} of it)"') and not _literal_defaults('h = f"{V} (default) embeds"')
