"""A new data source is a class with its line in ``sources.KINDS``: extract's flat options choose and build it.

An extensibility review (2026-12-04) added an ``.npz`` source and touched 7 files: ``embedding.specs.from_options``
named every source's keyword and ``_source`` every source's flags. Each source class now says which option
chooses it (``selector``), which options are its own (``options``) and what to say where they come with another
source (``elsewhere``); this test registers a source defined here and nowhere else.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import ClassVar

import pytest

from featcache.embedding import specs
from featcache.errors import FeatcacheError


@dataclass(frozen=True)
class ArraySource:
    path: str
    take: int | None = None

    default_image_size: ClassVar[int] = 32
    kind: ClassVar[str] = "arrays"
    title: ClassVar[str] = "an .npz of arrays"
    selector: ClassVar[str | None] = "npz"
    metavar: ClassVar[str] = "FILE"
    options: ClassVar[dict[str, str]] = {"npz": "path", "take": "take"}
    elsewhere: ClassVar[dict[str, str]] = {"": "add --npz FILE"}


@pytest.fixture
def registered(monkeypatch):
    import featcache.sources as sources

    monkeypatch.setitem(sources.KINDS, "arrays", (__name__, "ArraySource"))
    assert sys.modules[__name__].ArraySource is ArraySource
    return ArraySource


@pytest.mark.usefixtures("cli_words")  # the command's words (extract's flags); a Python call's: test_api_words
def test_a_registered_source_is_chosen_by_its_option_and_built_from_its_own(registered):
    assert specs._source(None, {"npz": "a.npz", "take": 5}) == ArraySource("a.npz", 5)
    from featcache.sources.fashion_mnist import FashionMNIST

    assert specs._source(None, {"train_limit": 5}) == FashionMNIST(train_limit=5)  # the default source stays
    for given, says in (({"take": 5}, "--take applies to an .npz of arrays only; add --npz FILE"),
                        ({"npz": "a.npz", "images": "d"}, "--images and --npz choose the data two ways; give only one"),
                        ({"npz": "a.npz", "train_limit": 3}, "--train-limit applies to Fashion-MNIST only"),
                        ({"npz": "a.npz", "test_fraction": 0.2}, "--test-fraction applies to class-folder photos only")):
        with pytest.raises(FeatcacheError, match=says):
            specs._source(None, given)
    # each selector with its own placeholder: "--npz DIR" was every selector's DIR (a review)
    with pytest.raises(FeatcacheError, match="use fashion_mnist, or --images DIR for class-folder photos, or --npz FILE "
                                             "for an .npz of arrays$"):
        specs._source("mnist", {})


def test_the_flat_options_are_the_sources_own():
    """extract's keyword form and the CLI's flags read the options from the source classes (no list by hand)."""
    from featcache.sources import source_classes

    assert set(specs.SOURCE_OPTIONS) == {o for cls in source_classes() for o in cls.options}
    assert {"images", "test_fraction", "seed", "strict", "data_dir", "train_limit", "test_limit"} == set(specs.SOURCE_OPTIONS)
    with pytest.raises(TypeError, match="unexpected keyword argument 'npz'"):
        specs.from_options(npz="a.npz")  # not registered here: not an option
    import argparse

    from featcache.cli import extract as extract_cli

    sub = argparse.ArgumentParser().add_subparsers()
    extract_cli.register(sub)
    flags = {a.option_strings[0]: a.metavar for a in sub.choices["extract"]._actions if a.option_strings}
    for cls in source_classes():  # a selector's placeholder in messages is its flag's in --help
        if cls.selector is not None:
            assert flags[specs._flag(cls.selector)] == cls.metavar


def test_the_deprecated_keyword_form_still_takes_its_data_name_with_images(tmp_path):
    """0.1's extract(data="fashion_mnist", images=...) (its docstring's extract("fashion_mnist", images=...)): data
    was a default that images= overrode. The keyword form is kept for one version; be20c89 refused it ("--images and
    --data choose the data two ways"). The CLI's --data fashion_mnist --images DIR stays refused."""
    from featcache.sources.images import PhotoFolder

    parts = specs.from_legacy("fashion_mnist", None, None, None, {"images": str(tmp_path), "weights": "random"})
    assert parts.source == PhotoFolder(str(tmp_path))
    parts = specs.from_legacy(None, None, None, None, {"data": "fashion_mnist", "images": str(tmp_path)})
    assert parts.source == PhotoFolder(str(tmp_path))
    with pytest.raises(FeatcacheError, match="--images and --data choose the data two ways"):
        specs.from_options("fashion_mnist", images=str(tmp_path))
    with pytest.raises(FeatcacheError, match="unknown data set 'mnist'"):
        specs.from_legacy("mnist", None, None, None, {})


def test_false_is_not_given_only_for_a_switch():
    """A source option given as False counted as not given: images=False built Fashion-MNIST (a review); only a switch
    whose default is False (--strict) is left off so."""
    with pytest.raises(FeatcacheError, match="^root must be a folder path"):
        specs.from_options(images=False)
    assert specs.from_options(strict=False).source == specs.from_options().source


def test_a_refused_choice_of_data_is_said_before_the_options_that_do_not_fit_it(tmp_path):
    """Regression (a tester): extract(images=False, train_limit=50) said "--train-limit applies to Fashion-MNIST only",
    where images=False itself is refused; that refusal comes first now. A good choice still meets the other line."""
    import featcache

    with pytest.warns(DeprecationWarning), pytest.raises(FeatcacheError, match=r"^root must be a folder path \(got False\)"):
        featcache.extract(images=False, train_limit=50)
    # a Python call's words (extract()'s keyword form reaches from_options); the command's is "--train-limit ..."
    with pytest.raises(FeatcacheError, match="^train_limit applies to Fashion-MNIST only"):
        specs.from_options(images=str(tmp_path), train_limit=50)  # a folder that exists: PhotoFolder checks it when made


def test_a_photo_folder_that_is_a_link_loop_is_one_featcache_line_from_python_too(tmp_path):
    """Regression: PhotoFolder checks its root when made; a link loop got pathlib's raw OSError there (the CLI said it
    in one line at its boundary, a Python caller had a traceback). Now the API's line is the CLI's."""
    import featcache

    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(featcache.FeatcacheError, match=rf"^{re.escape(str(loop))} is a loop of symbolic links; point it at "):
        featcache.PhotoFolder(loop)
