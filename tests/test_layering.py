"""The folder layout is the pipeline: sources -> embedding -> store -> heads -> analysis -> deploy.

A module imports only from its own stage or earlier ones, so a new source, head or runtime is one class in one
place and nothing upstream has to know it. Type-only imports (``if TYPE_CHECKING:``) do not count: they run
no code. The one allowance: the embedding stage's runner and runtimes write to the store (the cache, converted
models beside it), the distributor of clip-retrieval's reader/mapper/writer split, and its specs name caches as
the store does. The foundation every stage uses (validate, errors, paths, progress, _lazy) imports no stage.

The same kind of ast walk holds the standard "type hints on public functions": every public function and
method (and ``__init__``) annotates each parameter and its return.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import featcache
from helpers import parse_python

STAGES = ("sources", "embedding", "store", "heads", "analysis", "deploy", "recipes")  # recipes: the lesson, on top
# Which files of a stage may import a later one: (file, stage). Any embedding module had been allowed (a review).
ALLOWED = {("embedding/runner.py", "store"), ("embedding/runtimes.py", "store"), ("embedding/specs.py", "store")}
FOUNDATION = ("validate.py", "errors.py", "paths.py", "progress.py", "_lazy.py")


def _runtime_imports(tree: ast.AST, package: tuple[str, ...]):
    """(line, module) of every featcache module imported outside ``if TYPE_CHECKING:`` blocks, at any depth:
    ``import featcache.x``, ``from featcache.x import y``, ``from featcache import x`` and relative imports
    (``from ..heads import svm``, resolved against ``package``, the importing file's package)."""
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for child in node.body for n in ast.walk(child)}
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names if a.name.startswith("featcache."))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: up from the file's package
                parts = package[: len(package) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            if base == "featcache":  # from featcache import store, heads: each name is a module
                yield from ((node.lineno, f"featcache.{a.name}") for a in node.names)
            elif base.startswith("featcache."):
                yield node.lineno, base


def backward_imports(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        stage = rel.parts[0]
        foundation = rel.as_posix() in FOUNDATION
        if stage not in STAGES and not foundation:
            continue
        package = ("featcache", *rel.parts[:-1])
        for line, module in _runtime_imports(parse_python(path.read_text()), package):
            other = module.split(".")[1] if module.count(".") else ""
            if other not in STAGES or (rel.as_posix(), other) in ALLOWED:
                continue
            if foundation or STAGES.index(other) > STAGES.index(stage):
                found.append(f"{rel}:{line} imports {module}")
    return found


def test_no_stage_imports_a_later_one():
    assert backward_imports(Path(featcache.__file__).parent) == []


def test_the_check_sees_a_backward_import_even_inside_a_function(tmp_path):
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "bad.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from featcache.store import CacheWriter\n"
        "def f():\n    from featcache.store import CacheWriter\n    import featcache.heads.svm\n"
        "    from featcache import deploy, sources\n    from ..analysis import probe\n    from . import base\n")
    assert backward_imports(tmp_path) == ["sources/bad.py:5 imports featcache.store", "sources/bad.py:6 imports featcache.heads.svm",
                                          "sources/bad.py:7 imports featcache.deploy", "sources/bad.py:8 imports featcache.analysis"]

    # The foundation imports no stage, even an early one; an embedding file beyond the named ones may not write to the store.
    (tmp_path / "validate.py").write_text("def f():\n    from featcache.sources.images import x\n")
    (tmp_path / "embedding").mkdir()
    (tmp_path / "embedding" / "views.py").write_text("from featcache.store import layout\n")
    (tmp_path / "embedding" / "runner.py").write_text("from featcache.store import layout\n")
    assert backward_imports(tmp_path)[:2] == ["embedding/views.py:1 imports featcache.store", "sources/bad.py:5 imports featcache.store"]
    assert backward_imports(tmp_path)[-1] == "validate.py:2 imports featcache.sources.images"


def _defs(body: list[ast.stmt]) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    """The functions and classes of a module's or class's body, also those under a top-level ``if`` or ``try``."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node
        elif isinstance(node, (ast.If, ast.Try)):
            yield from _defs(node.body + node.orelse + getattr(node, "finalbody", []))
            for handler in getattr(node, "handlers", []):
                yield from _defs(handler.body)


def _unhinted(fn: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> list[str]:
    """The parameters of ``fn`` without an annotation, in the signature's order (``*args``, ``**kwargs`` as
    written), then ``return`` if it has none (``__init__`` aside). A method's first parameter (self, cls) needs
    none; a staticmethod's does."""
    a = fn.args
    params = a.posonlyargs + a.args
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)
    if method and not static:
        params = params[1:]
    star = [ast.arg(f"*{a.vararg.arg}", a.vararg.annotation)] if a.vararg else []
    stars = [ast.arg(f"**{a.kwarg.arg}", a.kwarg.annotation)] if a.kwarg else []
    missing = [p.arg for p in params + star + a.kwonlyargs + stars if p.annotation is None]
    if fn.returns is None and fn.name != "__init__":
        missing.append("return")
    return missing


def missing_hints(root: Path) -> list[str]:
    """``file:line name (what lacks a hint)`` for every public function and method under ``root``: names not
    starting with ``_``, and ``__init__``, in modules and in public classes, nested ones too (functions inside
    functions are not API). A public class made inside a function is: the CLI's ``Parser`` (built on first use) had
    ``print_help(self, file=None)`` unhinted, unseen by this check (a review)."""
    found = []

    def visit(body: list[ast.stmt], rel: Path, owner: str | None) -> None:
        for node in _defs(body):
            if isinstance(node, ast.ClassDef):
                if not node.name.startswith("_"):
                    visit(node.body, rel, f"{owner}.{node.name}" if owner else node.name)
                continue
            if node.name.startswith("_") and node.name != "__init__":
                continue
            missing = _unhinted(node, method=owner is not None)
            if missing:
                found.append(f"{rel}:{node.lineno} {owner + '.' if owner else ''}{node.name} ({', '.join(missing)})")
        for node in _defs(body):  # the classes a function makes (its own functions are not API)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit([c for c in _defs(node.body) if isinstance(c, ast.ClassDef)], rel, owner)

    for path in sorted(root.rglob("*.py")):
        visit(parse_python(path.read_text()).body, path.relative_to(root), None)
    return found


def test_public_functions_have_type_hints():
    assert missing_hints(Path(featcache.__file__).parent) == []


def test_the_check_sees_every_missing_hint(tmp_path):
    (tmp_path / "heads").mkdir()
    (tmp_path / "heads" / "bad.py").write_text(
        "from typing import Any\n"
        "def fit(X, y: int, *args, k=1, **kw) -> None: ...\n"
        "def score(X: Any):\n    def inner(z): ...\n"
        "def _private(x): ...\n"
        "class Head:\n"
        "    def __init__(self, n, *, seed: int = 0): ...\n"
        "    def predict(self, X: Any) -> Any: ...\n"
        "    @classmethod\n    def load(cls, path: str): ...\n"
        "    @staticmethod\n    def parse(text) -> str: ...\n"
        "    def _fold(self, X): ...\n"
        "    class Inner:\n        def f(self, x): ...\n"
        "class _Hidden:\n    def f(self, x): ...\n"
        "try:\n    def fast(a: int, /, b) -> int: ...\nexcept ImportError:\n    pass\n"
        "def _make():\n    class Made:\n        def f(self, x) -> None: ...\n        def _g(self, y): ...\n")
    assert missing_hints(tmp_path) == [
        "heads/bad.py:2 fit (X, *args, k, **kw)",
        "heads/bad.py:3 score (return)",
        "heads/bad.py:7 Head.__init__ (n)",
        "heads/bad.py:10 Head.load (return)",
        "heads/bad.py:12 Head.parse (text)",
        "heads/bad.py:15 Head.Inner.f (x, return)",
        "heads/bad.py:19 fast (b)",
        "heads/bad.py:24 Made.f (x)",
    ]

def test_subprocesses_import_this_checkouts_featcache(tmp_path):
    # conftest puts this checkout first on PYTHONPATH: the CLI tests ran another clone's code when an editable
    # install pointed there (a second clone's `pip install -e .`).
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "import featcache; print(featcache.__file__)"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert Path(proc.stdout.strip()) == Path(__file__).resolve().parents[1] / "featcache" / "__init__.py", proc.stderr


def test_every_api_name_is_its_object_whatever_was_imported_first():
    """``featcache.lesson`` was the module featcache/lesson.py, not the function, once anything had imported that
    module (the CLI did; so would ``from featcache.lesson import ROWS``): ``featcache.lesson(weights=W)`` was "'module'
    object is not callable". No API name may be a submodule's name, and each resolves to its object after the CLI."""
    import importlib
    import pkgutil

    import featcache.cli  # noqa: F401  imports every subcommand's module, as a user's `featcache` process does

    importlib.import_module("featcache.recipes.lesson")
    submodules = {m.name for m in pkgutil.iter_modules(featcache.__path__)}
    assert submodules.isdisjoint(featcache.__all__), submodules & set(featcache.__all__)
    for name, (module, attr) in featcache._API.items():
        assert getattr(featcache, name) is getattr(importlib.import_module(module), attr), name


def test_the_packages_modules_load_on_first_use_after_a_plain_import():
    """docs/api.md's ``featcache.progress.bars_when_quiet()`` was "module 'featcache' has no attribute 'progress'"
    after ``import featcache`` alone (a new-user tester): each stage and foundation module loads on first use."""
    import pkgutil
    import subprocess
    import sys

    names = sorted(m.name for m in pkgutil.iter_modules(featcache.__path__) if not m.name.startswith("_"))
    code = ("import featcache, sys; names = sys.argv[1:]; assert set(names) <= set(dir(featcache)); "
            "[getattr(featcache, n) for n in names]; featcache.progress.bars_when_quiet")
    proc = subprocess.run([sys.executable, "-c", code, *names], capture_output=True, text=True, timeout=120,
                          cwd=Path(featcache.__file__).parents[1])
    assert proc.returncode == 0, proc.stderr


def test_the_clis_help_and_parser_import_nothing_heavy(tmp_path):
    """Regression (a new user: ``featcache --help`` took 6 s at load 25): building the CLI's parser imported every
    command's module and through them scikit-learn, SciPy and pandas (``heads``' classes, for train's help and
    through ``featcache.heads`` for any of its modules) and h5py (``featcache.store``): 4.6 s of an extraction's
    start at load 12 (docs/benchmarks.md, "Starting on a cached conversion"). Now ``--help``, a command's help and a
    flag refused by the parser import none of them. train's and curve's help, which quote the heads (summaries,
    suffixes, defaults), imported scikit-learn to read them from the heads' classes (4.4-4.9 s at load 6, helper-282);
    they read ``heads.facts`` now, and say what they said (``test_train_and_curve_help_say_the_heads_classes``)."""
    from helpers import HEAVY, cli_imports

    for args in (["--help"], ["extract", "--help"], ["predict", "--help"], ["extract", "--no-such-flag"],
                 ["train", "--help"], ["curve", "--help"]):
        proc, imported = cli_imports(tmp_path, *args, modules=(*HEAVY, "h5py"))
        assert imported == [], (args, imported)
        if "--help" in args:
            assert proc.returncode == 0 and proc.stdout.startswith("usage: featcache"), (args, proc.stderr)
        else:  # the parser's one line
            assert proc.returncode == 2 and "--no-such-flag" in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


def test_train_and_curve_help_say_the_heads_classes(tmp_path, monkeypatch, capsys):
    """train's and curve's help, made from the heads' facts in a process that imports no head class (``heads.facts``,
    above), is the text made here once every class is imported, when it is read from the classes (their summaries,
    suffixes, and the constructors' defaults it quotes: ``heads.head_facts``, ``heads.head_default``)."""
    from helpers import cli_imports

    from featcache import heads
    from featcache.cli import main

    monkeypatch.setenv("COLUMNS", "120")  # the child's help and this process's wrapped alike
    for name in heads.HEADS:
        cls = heads.HEADS[name]  # imported: the help reads the class now
        assert heads.head_facts(name) is cls
    for command in ("train", "curve"):
        proc, imported = cli_imports(tmp_path, command, "--help", modules=("sklearn",))
        assert proc.returncode == 0 and imported == [], (proc.stderr, imported)
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert capsys.readouterr().out == proc.stdout, command


def test_the_names_a_package_loads_on_first_use_are_their_modules_objects():
    """``featcache.heads`` and ``featcache.store`` import the modules behind the names they re-export when a name is
    first asked for (``_lazy.package_names``; the heads' registry, ``_lazy.Registry``), so that their light modules
    (``heads.io``, ``store.atomic``) import no scikit-learn or h5py: each name is still its module's object."""
    import importlib

    from featcache import heads, store

    for package in (heads, store):
        for name, module in package._HOMES.items():
            assert getattr(package, name) is getattr(importlib.import_module(module), name), (package.__name__, name)
    assert [heads.HEADS[n] for n in ("keras", "logreg", "svm")] == [heads.DenseHead, heads.LogRegHead, heads.SVMHead]
    assert list(heads.HEADS) == ["keras", "logreg", "svm"] and dict(heads.HEADS.items())["svm"] is heads.SVMHead
    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        store.Nothing
