"""The folder layout is the pipeline: sources -> embedding -> store -> heads -> analysis -> deploy.

A module imports only from its own stage or earlier ones, so a new source, head or runtime is one class in one
place and nothing upstream has to know it. Type-only imports (``if TYPE_CHECKING:``) do not count: they run
no code. The one allowance: the embedding stage's runner and runtimes write to the store (the cache, converted
models beside it), the distributor of clip-retrieval's reader/mapper/writer split.
"""

import ast
from pathlib import Path

import featcache

STAGES = ("sources", "embedding", "store", "heads", "analysis", "deploy")
ALLOWED = {("embedding", "store")}


def _runtime_imports(tree: ast.AST):
    """(line, module) of every featcache import outside ``if TYPE_CHECKING:`` blocks, at any depth."""
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for child in node.body for n in ast.walk(child)}
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("featcache."):
            yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names if a.name.startswith("featcache."))


def backward_imports(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        stage = path.relative_to(root).parts[0]
        if stage not in STAGES:
            continue
        for line, module in _runtime_imports(ast.parse(path.read_text())):
            other = module.split(".")[1]
            if other in STAGES and STAGES.index(other) > STAGES.index(stage) and (stage, other) not in ALLOWED:
                found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return found


def test_no_stage_imports_a_later_one():
    assert backward_imports(Path(featcache.__file__).parent) == []


def test_the_check_sees_a_backward_import_even_inside_a_function(tmp_path):
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "bad.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from featcache.store import CacheWriter\n"
        "def f():\n    from featcache.store import CacheWriter\n    import featcache.heads.svm\n")
    assert backward_imports(tmp_path) == ["sources/bad.py:5 imports featcache.store", "sources/bad.py:6 imports featcache.heads.svm"]
