"""Seeded, class-stratified, nested training subsets.

For one seed, every size draws a prefix of the same ordering, so the
500-image subset contains the 250-image one: a learning curve then measures
data, not luck. The ordering interleaves classes in proportion to their
frequency, so every prefix is stratified (each class within one image of its
share).

The rows of a subset are the first ``n`` of that ordering, sorted: the one
definition (``stratified_subsets``) behind ``train --train-size N --seed S``
and every point of ``curve``, so a curve's point is fitted on the same rows,
in the same order, as ``train`` fits them. The order matters to every head:
the Keras head holds out the last rows for validation (unless they leave a class
out: heads.dense.held_out) and shuffles by
position, the SVM's probability calibration and any ``C=cv`` folds are drawn
over positions, and lbfgs stops at its tolerance along an order-dependent
path. A curve fitted the shuffled prefix itself (``order[:n]``), so its
points were not train's (a new-user tester: Keras 0.815 against 0.817 on the
lesson's 4,000 images; 2,000 Fashion-MNIST images: Keras 0.804 against
0.799, logistic regression fitted cold on 500 of them 0.8007 against 0.8010).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from featcache.errors import FeatcacheError, given, keyword_of, list_item, option, warn


# What a head trained on a subset records as ``subset_order`` (``train --train-size``): that every class's first image
# came first in the order its rows were drawn from. A head without it drew them from the earlier order, and finetune
# rebuilds its rows from that (a review: its "held-out" validation rows were partly the head's own training images).
CLASSES_FIRST = "classes-first"


def stratified_order(y: np.ndarray, seed: int, classes_first: bool = True) -> np.ndarray:
    """A permutation of ``range(len(y))`` whose every prefix is stratified, and whose first prefix of as many
    images as classes holds one of each class. ``classes_first=False``: the order before that (2026-12-03), to tell
    which rows of an older curve it changed."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    rank = np.empty(len(y), dtype=np.float64)
    first = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        idx = rng.permutation(idx)
        # The k-th pick of a class sits at (k + u) / n_c on a shared [0, 1) axis.
        rank[idx] = (np.arange(len(idx)) + rng.random()) / len(idx)
        first[idx[0]] = True
    # Every class's first pick before any class's second: where class sizes differ, a small class's first pick
    # could come after a large class's second, and '--train-size 10' on 300 Fashion-MNIST images left out a whole
    # class for 63 of 200 seeds (a new-user tester: seed 2 fitted 9 classes, 'ankle boot' recall 0). Orders whose
    # first picks came first anyway (every class of equal size, and every prefix past them) are unchanged.
    return np.lexsort((rng.random(len(y)), rank, ~first if classes_first else np.zeros(len(y), bool)))


def check_size(n: int, y: np.ndarray, flag: str = "--train-size", item: bool = False) -> None:
    """A training size ``n`` the cache's labels ``y`` can give, every class seen. ``item``: ``n`` is one item of the
    list option ``flag`` (curve's ``--sizes``), named as curve's spec names one (``--sizes 999``, ``999 in sizes``):
    ``sizes=999`` was said of a list (a reviewer, 2026-12-06)."""
    named = option(f"{flag} {n}", list_item(keyword_of(flag), str(n))) if item else given(flag, str(n))
    n_classes = len(np.unique(y))
    check_two_classes(y)
    if n > len(y):
        raise FeatcacheError(f"{named} is larger than the {len(y)} training images in the cache; use at most {len(y)}")
    if n < n_classes:
        raise FeatcacheError(f"{named} is smaller than the {n_classes} classes; use at least {n_classes} so every class is seen")


def check_two_classes(y: np.ndarray, what: str = "training images in the cache") -> None:
    """The rows a classifier is fitted on hold at least 2 classes: a cache of one class was scikit-learn's
    ValueError traceback in curve and probe --on-test (an adversarial tester; train said it in one line)."""
    if len(np.unique(y)) < 2:
        raise FeatcacheError(f"the {len(y)} {what} are all of one class; a classifier needs images of at least 2 "
                             f"classes: extract a cache with more images (a larger {option('--train-limit')}) or more classes")


class MissingClassWarning(UserWarning):
    """The split a head is scored on has no image of some class: its accuracy says nothing of that class."""


def warn_missing_classes(y: np.ndarray, class_names: Sequence[str], split: str = "test") -> None:
    """Say which classes ``split`` (its labels ``y``) holds no image of: train printed a test accuracy over the
    classes there were without a word (a class of one photo went wholly to train; an adversarial tester)."""
    missing = [repr(name) for label, name in enumerate(class_names) if not np.any(y == label)]
    if missing and len(y):
        warn(f"the {split} split has no image of class {', '.join(missing)}: its accuracy covers "
             f"{len(class_names) - len(missing)} of {len(class_names)} classes", MissingClassWarning)


def stratified_subsets(y: np.ndarray, sizes: Sequence[int], seed: int, classes_first: bool = True) -> dict[int, np.ndarray]:
    """Row indices of the stratified subset of each of ``sizes`` for one seed: the first ``n`` of one
    ``stratified_order``, sorted (the rows, in the order, every fit on a subset takes), hence nested."""
    order = stratified_order(y, seed, classes_first)
    return {n: np.sort(order[:n]) for n in sizes}


def stratified_subset(y: np.ndarray, n: int, seed: int, classes_first: bool = True) -> np.ndarray:
    """Row indices (sorted) of a stratified subset of size ``n``; nested in ``n`` for a fixed seed."""
    check_size(n, y)
    return stratified_subsets(y, [n], seed, classes_first)[n]
