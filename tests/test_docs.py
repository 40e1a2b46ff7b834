"""The docs stay true: the CLI reference is current, the README is short and holds its two commands, links resolve."""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

README = REPO / "README.md"
DOCS = REPO / "docs"
MAIN_JOB = "bash scripts/setup.sh && featcache lesson --weights ../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5"
TEST_COMMAND = "bash scripts/setup.sh && python3 -m pytest -q -n 2 --dist loadfile"
README_MAX_LINES = 210  # the issue asks for "at most about 200"

# [text](target) not preceded by '!' is a link, with it an image; both must point at files that exist.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("**/*.md"))]


def relative_links(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # links inside code blocks are examples, not links
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def test_cli_reference_is_current():
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import cli_reference
    finally:
        sys.path.remove(str(REPO / "scripts"))
    expected = cli_reference.generate()
    current = (DOCS / "cli.md").read_text(encoding="utf-8") if (DOCS / "cli.md").is_file() else ""
    assert current == expected, "docs/cli.md is out of date with the argparse parsers: run `python3 scripts/cli_reference.py` and commit docs/cli.md"


def test_cli_reference_lists_every_command_and_flag():
    from featcache.cli import COMMANDS, build_parser

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for name in COMMANDS:
        assert f"## `featcache {name}`" in text, name
    sub = next(a for a in build_parser()._actions if hasattr(a, "choices") and isinstance(a.choices, dict))
    for name, parser in sub.choices.items():
        for action in parser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}" in text, f"{name} {flag} missing from docs/cli.md"


def test_cli_reference_check_mode_detects_a_stale_file(tmp_path: Path, monkeypatch):
    stale = tmp_path / "cli.md"
    stale.write_text("# Command-line reference\n\nold\n", encoding="utf-8")
    script = [sys.executable, str(REPO / "scripts" / "cli_reference.py")]
    res = subprocess.run([*script, "--check", "--out", str(stale)], capture_output=True, text=True, cwd=REPO)
    assert res.returncode == 1 and "python3 scripts/cli_reference.py" in res.stderr  # CI's exit status: a process of its own
    # Rewritten, then fresh: the script's main() in this process (an interpreter less each).
    monkeypatch.setenv("COLUMNS", os.environ.get("COLUMNS", "80"))  # main() sets it; put back after the test
    monkeypatch.chdir(REPO)
    main = runpy.run_path(str(REPO / "scripts" / "cli_reference.py"))["main"]
    assert main(["--out", str(stale)]) == 0
    assert main(["--check", "--out", str(stale)]) == 0


def test_readme_is_short():
    n = len(README.read_text(encoding="utf-8").splitlines())
    assert n <= README_MAX_LINES, f"README.md has {n} lines; keep it under ~200 and move detail into docs/"


@pytest.mark.parametrize("command", [MAIN_JOB, TEST_COMMAND])
def test_readme_holds_the_two_commands_verbatim(command: str):
    lines = [line.strip() for line in README.read_text(encoding="utf-8").splitlines()]
    assert command in lines, f"README.md must hold this command on a line of its own: {command}"


def test_ci_runs_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/setup.sh" in ci and "python3 -m pytest -q -n 2 --dist loadfile" in ci


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_point_at_existing_files(path: Path):
    missing = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        linked = path.parent / file_part if file_part else path
        if not linked.exists():
            missing.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            missing.append(target)
    assert not missing, f"{path.relative_to(REPO)} links to missing files or headings: {missing}"


def test_link_checker_sees_links_and_images(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text("# Top: the `x` part\n## Top: the `x` part\n[a](docs/a.md) ![fig](figures/x.png) [web](https://example.org) [here](#top)\n"
                    "```\n[not](a/link.md)\n# not a heading\n```\n", encoding="utf-8")
    assert relative_links(page) == ["docs/a.md", "figures/x.png", "#top"]
    assert anchors(page) == {"top-the-x-part", "top-the-x-part-1"}


@pytest.mark.parametrize("name", ["FashionMNIST", "PhotoFolder", "ModelSpec", "StoreSpec", "LocalEngine", "RayEngine"])
def test_api_md_names_every_field_of_extracts_settings(name: str):
    """docs/api.md's ModelSpec(...) lacked views and StoreSpec(...) lock_timeout (a new-user tester): its
    ``Name(field, ...)`` of each settings class names every field."""
    import dataclasses

    import featcache

    text = " ".join((DOCS / "api.md").read_text(encoding="utf-8").split())
    listed = re.search(rf"`{name}\(([a-z_, ]+)\)`", text)
    assert listed, f"docs/api.md has no `{name}(field, ...)`"
    fields = [f.name for f in dataclasses.fields(getattr(featcache, name))]
    assert [f.strip() for f in listed[1].split(",")] == fields, f"docs/api.md's {name}(...) is not its fields {fields}"


def _bash_lines(path: Path) -> list[str]:
    """The command lines of ``path``'s ```bash blocks, comments dropped."""
    blocks = re.findall(r"```bash\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_the_finetuning_page_goes_on_from_the_readmes_files():
    """After the README's quick start wrote data/cache/fashion.h5, docs/finetuning.md's 'extract' without --out
    embedded the same 7,000 images into a second file (22 s), and its train line held a <fp> to copy from the output
    (a new-user tester): its extract and train are the quick start's, and no command holds a <placeholder>."""
    readme = [line for line in _bash_lines(README) if "fashion" in line]
    page = _bash_lines(DOCS / "finetuning.md")
    extract, train = (next(line for line in readme if line.startswith(f"featcache {c} ")) for c in ("extract", "train"))
    assert extract in page and train in page
    assert not [line for line in page if re.search(r"<\w+>", line)]


def test_the_long_jobs_say_how_long_they_take_and_on_what():
    """The README's main job gave no duration (only 'lesson --help' said 489 s), and docs/finetuning.md's
    'finetune --epochs 10' ran about 5 minutes unannounced (a new-user tester): each says so, and on what machine."""
    readme = README.read_text(encoding="utf-8")
    before = readme[:readme.index(MAIN_JOB)].rsplit("\n\n", 2)[-2]  # the paragraph that introduces the main job
    assert re.search(r"about \d+ minutes", before) and "Intel Xeon" in before, before
    page = (DOCS / "finetuning.md").read_text(encoding="utf-8").splitlines()
    runs = [i for i, line in enumerate(page) if re.match(r"featcache finetune .*--epochs", line)]
    assert runs and all(re.search(r"about \d+ minutes.*Intel Xeon", page[i - 1]) for i in runs)


def test_api_md_finds_the_weights_from_featcache_weights_wherever_featcache_is(tmp_path, monkeypatch):
    """Regression (h306's brief, a tester): docs/api.md's first runnable lines built the weights' path from
    Path(featcache.__file__).resolve().parents[2] / "shared/...", a file that exists only for a clone made right
    beside shared/ (not a clone elsewhere, nor an install). They read FEATCACHE_WEIGHTS, run here as written."""
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    block = text[text.index("```python\n") + len("```python\n"):]
    at = block.index("\nW = ") + 1
    first = block[:at] + block[at:].split("\n", 1)[0]  # the lines up to the W line, and it
    weights = tmp_path / "elsewhere" / "mobilenet_v2_1.0_imagenet_no_top.weights.h5"
    weights.parent.mkdir()
    weights.write_bytes(b"the weights, as a user keeps them")
    monkeypatch.setenv("FEATCACHE_WEIGHTS", str(weights))
    names: dict = {}
    exec(compile(first, "docs/api.md", "exec"), names)  # noqa: S102 (the page's own lines)
    assert names["W"] == str(weights) and "__file__" not in first
    monkeypatch.delenv("FEATCACHE_WEIGHTS")
    exec(compile(first, "docs/api.md", "exec"), names)  # noqa: S102
    assert names["W"] == "imagenet"  # unset: Keras's download, which the comment above it says
