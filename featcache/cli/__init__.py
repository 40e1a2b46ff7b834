"""The ``featcache`` command line: one module per subcommand, mirroring the API.

Each module in ``COMMANDS`` defines ``register(subparsers)``, which adds its
parser and sets ``func`` (args -> exit code). User errors (FeatcacheError)
become one line on stderr and exit code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from featcache import __version__
from featcache._lazy import quiet_env
from featcache.errors import FeatcacheError

RESUMABLE = ("extract", "curve", "lesson")  # lesson resumes its extraction
COMMANDS = ["extract", "info", "verify", "train", "evaluate", "lesson", "curve", "probe", "finetune", "export", "predict"]


class Parser(argparse.ArgumentParser):
    """A flag error is one line that names the fix (like every other featcache error), not the whole usage text."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {one_line(message)}; see '{self.prog} --help'\n")


def one_line(message: str) -> str:
    """``message`` on one line whatever it quotes: a path with a newline in it is shown escaped, as Python writes it."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="featcache",
        description="Transfer learning the fast way: embed images once with a frozen pretrained network, "
        "cache the features in HDF5, train and compare heads on them in seconds.",
    )
    parser.add_argument("--version", action="version", version=f"featcache {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """featcache's own warnings (e.g. a cache without checksums) as one plain line; others as Python shows them."""
    if category.__module__.startswith("featcache"):
        print(f"featcache: warning: {message}", file=sys.stderr)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


_python_showwarning = warnings.showwarning


def main(argv: list[str] | None = None) -> int:
    try:
        quiet_env()
        warnings.showwarning = _show_warning
        # Building the parser imports every subcommand (about 2 s): Ctrl-C here is no traceback either.
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:
        print("featcache: interrupted while starting; nothing was done", file=sys.stderr)
        return 130
    try:
        return int(args.func(args) or 0)
    except FeatcacheError as exc:
        print(f"featcache {args.command}: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Only these keep their finished work; the others start over when re-run.
        hint = "re-run the same command to resume" if args.command in RESUMABLE else "nothing was saved"
        print(f"featcache {args.command}: interrupted; {hint}", file=sys.stderr)
        return 130
