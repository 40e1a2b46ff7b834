"""Argument types and output helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from typing import Any, Callable

from featcache import validate
from featcache.errors import printable
from featcache.validate import arg_type

# What the running command has written whole, for the line an interrupt ends it with (cli._main): each file said by
# the API right after its save (progress.written: train's and export's file, predict's CSV), where it knows
from featcache.progress import collecting_outputs, complete_outputs  # noqa: F401  (the CLI's names for them)


# argparse types for flags refused before any work (exit 2 with argparse's usage line).
positive_int = arg_type(validate.positive_int, "positive_int")
seconds = arg_type(validate.check_seconds, "seconds")


def api_default(func: Callable[..., Any], name: str) -> Any:
    """The default of ``func``'s parameter ``name``: help texts quote the API, so the two cannot drift."""
    return inspect.signature(func).parameters[name].default


def given(args: argparse.Namespace, *names: str, **renamed: str) -> dict[str, Any]:
    """The options the user gave (not None), as API keywords: ``given(args, "seed", learning_rate="lr")``.

    Options left out are not passed, so the API's own defaults apply.
    """
    pairs = [(n, n) for n in names] + list(renamed.items())
    return {key: getattr(args, attr) for key, attr in pairs if getattr(args, attr) is not None}


# Every command prints its results on standard output (a summary, a table, the predictions, --json), so where it is
# closed each is refused before any work: 'predict M X >&-' exited 0 with the predictions gone and no word, and with
# --json ended in AttributeError (sys.stdout is None) after its work (an adversarial tester).
STDOUT_CLOSED = ("standard output is closed (>&-), where featcache prints its results; send it to a file "
                 "(> results.txt), or to /dev/null to drop them, and run the command again")


def stdout_closed() -> bool:
    """Whether standard output is closed: None (Python's, for a descriptor closed at start) or a stream on a closed
    descriptor (EBADF). Not a stream without a descriptor (a caller's capture): that one is written."""
    import errno
    import os

    if sys.stdout is None:
        return True
    try:
        os.fstat(sys.stdout.fileno())
    except OSError as exc:  # io.UnsupportedOperation too (no descriptor): not closed
        return exc.errno == errno.EBADF
    except (AttributeError, ValueError):  # no fileno, or a closed Python stream: print() says so itself
        return False
    return False


def print_json(obj: Any) -> None:
    """``obj`` as JSON on stdout. A non-UTF-8 file name (held as lone surrogates, Python's surrogateescape) is
    written with each such byte as ``\\xHH``, as every line names it (``errors.printable``): '\\udcff' is not a
    character, and strict JSON readers refuse it (a tester); U+FFFD in its place, as it was, made ``caf\\xe9`` and
    ``caf\\xe8`` one name, so predict's rows of two such folders could not be told apart (an adversarial tester)."""
    json.dump(_printable(obj), sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _printable(obj: Any) -> Any:
    if isinstance(obj, str):
        if not _has_surrogate(obj):
            return obj
        # a surrogate that is no escaped byte (U+D800-U+DC7F, U+DD00-U+DFFF) names nothing: "?"
        return printable("".join("?" if _has_surrogate(ch) and not "\udc80" <= ch <= "\udcff" else ch for ch in obj))
    if isinstance(obj, dict):
        return {_printable(k): _printable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_printable(v) for v in obj]
    return obj


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON instead of text")

