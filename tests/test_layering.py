"""The folder layout is the pipeline: sources -> embedding -> store -> heads -> analysis -> deploy.

A module imports only from its own stage or earlier ones, so a new source, head or runtime is one class in one
place and nothing upstream has to know it. Type-only imports (``if TYPE_CHECKING:``) do not count: they run
no code. The one allowance: the embedding stage's runner and runtimes write to the store (the cache, converted
models beside it), the distributor of clip-retrieval's reader/mapper/writer split, and its specs name caches as
the store does. The foundation every stage uses (validate, errors, paths, progress, _lazy) imports no stage.
"""

import ast
from pathlib import Path

import featcache

STAGES = ("sources", "embedding", "store", "heads", "analysis", "deploy")
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
        for line, module in _runtime_imports(ast.parse(path.read_text()), package):
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


def test_subprocesses_import_this_checkouts_featcache(tmp_path):
    # conftest puts this checkout first on PYTHONPATH: the CLI tests ran another clone's code when an editable
    # install pointed there (a second clone's `pip install -e .`).
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "import featcache; print(featcache.__file__)"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert Path(proc.stdout.strip()) == Path(__file__).resolve().parents[1] / "featcache" / "__init__.py", proc.stderr
