"""Options and warnings shared by the subcommands that read head files or write heads and models."""

from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager
from typing import Any, Iterator


def add_trust_pickle_arg(p) -> None:
    p.add_argument("--trust-pickle", action="store_true", default=None,
                   help="load an old pickle (.joblib) head; unpickling runs any code in the file, so only for files you made")


def add_force_arg(p, what: str) -> None:
    p.add_argument("--force", action="store_true", default=None,
                   help=f"replace --out even if it is not a {what} featcache wrote")


VIEWS_SYNTAX = "view names or groups as in 'extract --views' (orig is always included), or 'all'"


def add_views_args(p, *, train: bool, test: bool = True, test_default: str | None = None) -> None:
    """``--train-views``/``--test-views`` (heads.views): which cached views a head is fitted on and which are averaged."""
    if train:
        p.add_argument("--train-views", metavar="VIEWS", help="fit the head on these cached views of every training image "
                       f"({VIEWS_SYNTAX}; default: every view the cache has)")
    if test:
        default = test_default or "every view the cache has"
        p.add_argument("--test-views", metavar="VIEWS", help="average each test image's prediction over these cached views: "
                       "probabilities, or the SVM's decision values when it has no probabilities; 'orig' scores the "
                       f"original view alone ({VIEWS_SYNTAX}; default: {default})")


def given(args, *names: str) -> dict[str, Any]:
    """The options the user gave (argparse default None): the API's defaults apply to the others."""
    return {n: getattr(args, n) for n in names if getattr(args, n) is not None}


@contextmanager
def warnings_as_lines(command: str) -> Iterator[None]:
    """featcache's warnings (pickle heads, leakage, versions) as one plain stderr line each, not Python's format.

    Only how they are shown changes: the filters stay as they are. (Recording every warning with
    ``simplefilter("always")`` kept each of Keras's per-tensor DeprecationWarnings alive: an export
    grew past 6 GB.)
    """
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if category.__module__.startswith("featcache"):
            print(f"featcache {command}: warning: {message}", file=sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield
