"""Options shared by the subcommands that read head files or write heads and models."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse


def add_trust_pickle_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trust-pickle", action="store_true", default=None,
                   help="load an old pickle (.joblib) head; unpickling runs any code in the file, so only for files you made")


def add_force_arg(p: argparse.ArgumentParser, what: str, also: str = "") -> None:
    """``--force``; ``also``: what else it replaces for this command (train: a head of another fit)."""
    p.add_argument("--force", action="store_true", default=None,
                   help=f"replace --out even if it is not a {what} featcache wrote, or one of another job "
                        f"(another data set or kind of head; a fine-tuned model under an export){also}")


VIEWS_SYNTAX = ("view names or groups as in 'extract --views' (orig is always included), or 'all'; only:VIEWS "
                "uses those views without the original, e.g. only:flip, only:flip,shift or only:all")


def add_views_args(p: argparse.ArgumentParser, *, train: bool, test: bool = True, test_default: str | None = None) -> None:
    """``--train-views``/``--test-views`` (heads.views): which cached views a head is fitted on and which are averaged."""
    if train:
        p.add_argument("--train-views", metavar="VIEWS", help="fit the head on these cached views of every training image "
                       f"({VIEWS_SYNTAX}; default: every view the cache has)")
    if test:
        default = test_default or "every view the cache has"
        p.add_argument("--test-views", metavar="VIEWS", help="average each test image's prediction over these cached views: "
                       "probabilities, or the SVM's decision values when it has no probabilities; 'orig' scores the "
                       f"original view alone ({VIEWS_SYNTAX}; default: {default})")
