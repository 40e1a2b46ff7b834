"""The lesson's Keras head: Dropout -> Dense(n_classes) logits on pooled features."""

from __future__ import annotations

import contextlib
import math
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Mapping

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from featcache._lazy import keras
from featcache.errors import FeatcacheError, ParamsDisagree, cli_running, given, unknown
from featcache.heads.facts import KERAS
from featcache.heads.folding import to_raw
from featcache.heads.inputs import fit_data, predict_data
# the presets' home: a module of their own, so the CLI's parser names them without this module's scikit-learn import
from featcache.heads.presets import DEFAULT_PRESET, PRESETS  # noqa: F401  (DEFAULT_PRESET: the head's name for it)
from featcache.progress import epoch_progress, epochs_text, fit_note
from featcache.validate import COUNT_MAX, ParamLabel, check_bool, check_number, check_seed_param, param_text, setting

if TYPE_CHECKING:
    from keras import Model as KerasModel

# Training steps per call into the compiled graph. Only speed: the batches and
# their order are the same, so are the weights (one step per call spent most
# of a 60,000-image fit in Python; see docs/benchmarks.md, "Learning curves").
STEPS_PER_EXECUTION = 128
# Compiled models kept in this process, by everything that shapes their graph
# (see DenseHead._trainer). One is enough: a curve or a probe fits one head
# configuration many times.
_TRAINERS: dict[tuple, tuple] = {}


# How a fit's validation rows were chosen (``HeldOut.how``; a Keras head's ``validation_rows_``, recorded in its
# file as ``validation_rows``, which finetune follows): Keras's last rows, or a stratified pick of as many images.
LAST_ROWS = "last"
STRATIFIED = "stratified"
# Keras's last rows are a fair sample of the classes only of rows in a shuffled order; a photo folder's cache stores
# its training rows in class order (ants, then bees), so they held out bees alone: early stopping watched bees, and
# finetune's "val accuracy" was bees recall (a new-user tester). The last rows are kept unless a class has no image
# on one side of the cut where a shuffled order leaves it out less often than this (1 in 100). On shuffled rows that
# keeps Keras's cut but where the order itself was unlucky: every Fashion-MNIST fit of the docs (the lesson's
# 4,000 images; the curve's 100-60,000 images, seeds 0-2) keeps it, row for row. "Every class held out" alone would
# not: 20 rows of a 100-image Fashion-MNIST subset miss one of its 10 classes in about 2 orders of 3 (seed 1's do), and a
# stratified pick there would move the lesson's curve. Rows in class order always miss a class on one side, and
# are caught from 13 images a class (two classes of 13, 20% held out: the last 6 of the 26 all of the second class,
# which a shuffled order gives 1 time in 134; at 12 a class, the last 5 of 24, 1 in 54: the last rows stay).
SHUFFLED_CHANCE = 0.01


class StratifiedValidationNote(UserWarning):
    """A Keras head validates on a stratified pick of its images, not Keras's last rows (rows in class order)."""

    label = "note"  # nothing is wrong; the CLI says "note:"


@dataclass(frozen=True)
class HeldOut:
    """The rows a fit trains on (``train``) and those it holds out for validation (``val``), and how they were
    chosen (``how``: ``LAST_ROWS`` or ``STRATIFIED``). Contiguous rows come as slices (no copy of the features)."""

    train: slice | np.ndarray
    val: slice | np.ndarray
    how: str


def validation_rows(n_rows: int, validation_split: float, groups: np.ndarray | None = None,
                    labels: np.ndarray | None = None, seed: int = 0) -> tuple[slice | np.ndarray, slice | np.ndarray]:
    """``(train, val)`` of ``held_out``: the rows a fit trains on and the rows it holds out for validation, by its
    rule (finetune, which follows its head's recorded choice, calls ``held_out`` with ``how``)."""
    held = held_out(n_rows, validation_split, groups, labels, seed)
    return held.train, held.val


def fitted_images(n_images: int, validation_split: float) -> int:
    """How many of ``n_images`` a fit holding out ``validation_split`` trains on (``held_out``'s cut, Keras's
    ``validation_split`` rule: the rest, whichever rows ``held_out`` picks, are held out for validation). info
    says it of a head's ``train_images``, which counts the held-out images too (a reviewer)."""
    return int(math.floor(n_images * (1.0 - validation_split)))


def held_out(n_rows: int, validation_split: float, groups: np.ndarray | None = None, labels: np.ndarray | None = None,
             seed: int = 0, how: str | None = None) -> HeldOut:
    """The rows a fit trains on and holds out for validation, by images: a row alone, or a group of rows.

    ``groups`` (one label per row, e.g. ``views.image_groups``: the image of
    each row of ``stack_views``) makes an image of all its rows, in the order
    of their first rows, so an image is never on both sides: Keras's row cut
    would put some views of one image in training and the others in
    validation. The first ``floor(n_images * (1 - validation_split))`` images
    train and the rest are held out, exactly as Keras's
    ``fit(validation_split=...)`` takes rows, unless ``labels`` (one class
    per row) show that cut leaving a class out of one side where a shuffled
    order almost never would (``unlikely_absences``: rows in class order, as
    a photo folder's are); then as many images are held out by a stratified
    pick drawn with ``seed`` (``stratified_pick``). ``how`` (``LAST_ROWS`` or
    ``STRATIFIED``) forces one (finetune: the choice its head's fit made).
    ``finetune`` holds out the same images (one row each) through this.
    """
    units, firsts = _images_of_rows(n_rows, groups)
    n_units = n_rows if firsts is None else len(firsts)
    keep = fitted_images(n_units, validation_split)
    if not 0 < keep < n_units:
        if groups is None:
            raise ValueError(f"Training data contains {n_rows} samples, which is not sufficient to split it into a validation "
                             f"and training set as specified by `validation_split={validation_split}`")
        raise ValueError(f"Training data contains {n_units} groups (images), which is not sufficient to split them into a "
                         f"validation and training set as specified by `validation_split={validation_split}`")
    image_labels = None if labels is None else _image_labels(labels, n_rows, firsts)
    if how is None:
        how = STRATIFIED if image_labels is not None and unlikely_absences(image_labels, keep) else LAST_ROWS
    if how == LAST_ROWS:
        held_images = np.arange(n_units) >= keep
    elif how == STRATIFIED:
        if image_labels is None:
            raise ValueError("a stratified pick of the validation rows needs the labels of the rows")
        held_images = stratified_pick(image_labels, n_units - keep, seed)
    else:
        raise ValueError(f"how is {how!r}; it is {LAST_ROWS!r} or {STRATIFIED!r}")
    held = held_images if units is None else held_images[units]
    cut = n_rows - int(held.sum())
    if held[cut:].all():  # the held-out images are the last rows (stack_views' image-major rows)
        return HeldOut(slice(0, cut), slice(cut, n_rows), how)
    return HeldOut(np.flatnonzero(~held), np.flatnonzero(held), how)


def _images_of_rows(n_rows: int, groups: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(the image of each row, numbered in the order of their first rows; the first row of each image, in that
    order), or (None, None): each row its own image."""
    if groups is None:
        return None, None
    groups = np.asarray(groups)
    if groups.shape != (n_rows,):
        raise ValueError(f"groups has shape {groups.shape}; one group per row ({n_rows}) is needed")
    _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # groups in the order of their first rows
    rank = np.empty(len(first), dtype=np.int64)
    rank[order] = np.arange(len(first))
    return rank[inverse.reshape(-1)], first[order]


def _image_labels(labels: np.ndarray, n_rows: int, firsts: np.ndarray | None) -> np.ndarray:
    """The class of each image (its first row's, ``firsts``: ``_images_of_rows``; None: each row its own), in
    image order."""
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != n_rows:
        raise ValueError(f"{len(labels)} labels for {n_rows} rows")
    return labels if firsts is None else labels[firsts]


def _chance_none(n: int, n_class: int, drawn: int) -> float:
    """The chance that ``drawn`` of ``n`` images in a shuffled order hold none of a class of ``n_class``:
    C(n - n_class, drawn) / C(n, drawn)."""
    if drawn > n - n_class:
        return 0.0
    lg = math.lgamma
    return math.exp(lg(n - n_class + 1) - lg(n - n_class - drawn + 1) - lg(n + 1) + lg(n - drawn + 1))


def unlikely_absences(labels: np.ndarray, n_train: int) -> list[Any]:
    """The classes Keras's cut of ``labels`` (one per image, in order: the first ``n_train`` train, the rest are
    held out) leaves without an image on one side, where a shuffled order of the same images would do so less
    often than ``SHUFFLED_CHANCE``: [] where the cut is one a shuffled order plausibly gives."""
    labels = np.asarray(labels)
    n = len(labels)
    classes, counts = np.unique(labels, return_counts=True)
    held = np.isin(classes, labels[n_train:])
    trained = np.isin(classes, labels[:n_train])
    return [c.item() for c, n_c, h, t in zip(classes, counts, held, trained, strict=True)
            if (not h and _chance_none(n, int(n_c), n - n_train) < SHUFFLED_CHANCE)
            or (not t and _chance_none(n, int(n_c), n_train) < SHUFFLED_CHANCE)]


def stratified_pick(labels: np.ndarray, k: int, seed: int) -> np.ndarray:
    """A mask of ``k`` of the images of ``labels`` (one class each), drawn with ``seed``: each class's share of
    them as near its share of the images as whole images allow, one at least of every class that has two (as
    ``k`` allows), and one at least of every class left out (where the classes' images allow)."""
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quota = _quotas(counts, k)
    rng = np.random.default_rng(seed)
    pick = np.zeros(len(labels), dtype=bool)
    for c, q in enumerate(quota):
        if q:
            pick[rng.permutation(np.flatnonzero(inverse.reshape(-1) == c))[:q]] = True
    return pick


def _quotas(counts: np.ndarray, k: int) -> np.ndarray:
    """How many images of each class (``counts`` of them) a stratified pick of ``k`` holds out."""
    cap = counts - 1  # one of each class left to train on
    if cap.sum() < k:  # classes of one image almost alone: nothing can leave each one on both sides
        cap = counts.copy()
    quota = np.zeros(len(counts), dtype=np.int64)
    for c in np.argsort(-counts, kind="stable")[:k]:  # one of each class first, the largest first
        quota[c] = min(1, cap[c])
    share = k * counts / counts.sum()
    # then each class up to the whole images of its share, and the rest one by one to the furthest below its share
    quota = np.maximum(quota, np.minimum(cap, np.floor(share).astype(np.int64)))
    while quota.sum() > k:  # only where the ones given first pushed it over: take back from the furthest above its
        more = quota > 1  # share among the classes of more than one, so every class keeps its one
        quota[np.argmax(np.where(more if more.any() else quota > 0, quota - share, -np.inf))] -= 1
    while quota.sum() < k:
        quota[np.argmax(np.where(quota < cap, share - quota, -np.inf))] += 1
    return quota


class DenseHead(ClassifierMixin, BaseEstimator):
    """Dropout(dropout) -> Dense(n_classes) raw logits, trained with Adam.

    The defaults are ``PRESETS["default"]``; ``from_preset("lesson")`` gives
    the lesson's exact training. ``l2`` penalizes the Dense kernel during
    training only. The same ``seed`` gives the same weights.

    Loss SparseCategoricalCrossentropy(from_logits=True); the last
    ``validation_split`` of the training rows is held out, as Keras's
    ``fit(validation_split=...)`` does; ``fit(X, y, groups)`` holds out the
    last ``validation_split`` of the groups instead, every row of them
    (``held_out``: ``fit_views`` passes the image of each row, so an
    image's views are never on both sides). Where those last rows leave a
    class out of one side as a shuffled order almost never would (rows in
    class order, as a photo folder's are), as many images are held out by a
    stratified pick drawn with ``seed`` instead, and, where the fit is shown
    (``verbose``, or a command run verbose: ``progress.showing_fits``), a
    ``StratifiedValidationNote`` says so; ``validation_rows_`` records which
    (``LAST_ROWS``, ``STRATIFIED``; None without validation rows), and the
    head file keeps it for finetune. With ``early_stopping`` training
    stops when validation loss has not improved for ``patience`` epochs and
    the best weights are restored. ``verbose`` (1 or 2, or True) draws each
    epoch's progress on stderr (``progress.epoch_progress``).

    ``standardize`` scales every feature to zero mean and unit variance over
    the training rows first (``mean_``, ``scale_``), as the logistic
    regression head does. It matters for intermediate layers: on the lesson's
    block-13 features the default head reaches 0.880 with it and 0.812
    without; on ``out_relu`` it changes little (0.841 against 0.844), so the
    presets leave it off. ``logits_weights()`` folds it into the Dense layer
    for the end-to-end model.
    """

    uses_keras = True  # fits in Keras: ``heads.load_backend`` imports it before a timed fit

    def __init__(
        self,
        epochs: int = KERAS.defaults["epochs"],
        batch_size: int = KERAS.defaults["batch_size"],
        learning_rate: float = 1e-3,
        dropout: float = 0.2,
        validation_split: float = KERAS.defaults["validation_split"],
        early_stopping: bool = True,
        patience: int = 10,
        l2: float = 1e-2,
        n_classes: int | None = None,
        seed: int = 0,
        verbose: int = 0,
        standardize: bool = False,
    ):
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.dropout = dropout
        self.validation_split = validation_split
        self.early_stopping = early_stopping
        self.patience = patience
        self.l2 = l2
        self.n_classes = n_classes
        self.seed = seed
        self.verbose = verbose
        self.standardize = standardize

    # what --head's help says of it; "a Keras head" in lines (heads.head_words); heads.io: a Keras model file (loaded
    # in Keras's safe mode) with featcache's metadata. Said in heads.facts, which the CLI's help reads.
    summary, display_name, article, file_suffix = KERAS.summary, KERAS.display_name, KERAS.article, KERAS.file_suffix
    # A learning curve's points: the lesson's training (5 epochs, batch 64, 20 % validation split), so seed 0's
    # 4,000-image point on the lesson's cache is the lesson's model; quicker per point than train's default
    # (curve.spec.DEFAULT_KERAS_PRESET names it in --keras-preset's help).
    curve_params = PRESETS["lesson"]

    @classmethod
    def legend(cls, params: Mapping[str, Any]) -> str | None:
        """What a plot's legend calls this head fitted with ``params``: its epochs and early stopping."""
        if "epochs" not in params:
            return None
        fit = f"{epochs_text(params['epochs'])}{', early stopping' if params.get('early_stopping') else ''}"
        preset = cls.preset_of(params)
        # the preset named: curve's keras is the lesson's, train's the default, and "(5 epochs)" alone did not tell a
        # new-user tester that curve's 0.914 was not train's 0.9487 of the same 310 photos
        return f"keras dense head ({preset} preset: {fit})" if preset else f"keras dense head ({fit})"

    @staticmethod
    def preset_of(params: Mapping[str, Any]) -> str | None:
        """The preset (``PRESETS``) whose every value ``params`` holds, else None."""
        return next((name for name, values in PRESETS.items()
                     if all(k in params and params[k] == v for k, v in values.items())), None)

    def check_params(self, label: ParamLabel | None = None) -> None:
        """Every parameter of a type and range this head trains with, or one line naming it (a FeatcacheError).

        ``fit`` calls it first; ``make_head`` (train, probe) and a curve's spec
        call it before anything is written. ``epochs=0`` fitted nothing and
        returned a "fitted" head of random weights (an adversarial tester).
        ``label``: the words naming a parameter (``validate.ParamLabel``; the
        class's by default, --param's from ``heads.check_param_values``).
        """
        name = label or ParamLabel.of_class(self)
        check_number(self.epochs, name("epochs"), whole=True, low=1, high=COUNT_MAX, example=5)
        check_number(self.batch_size, name("batch_size"), whole=True, low=1, high=COUNT_MAX, example=64)
        check_number(self.learning_rate, name("learning_rate"), low=0, low_open=True, example=1e-3)
        check_number(self.dropout, name("dropout"), low=0, high=1, high_open=True, example=0.2)
        check_number(self.validation_split, name("validation_split"), low=0, high=1, high_open=True, example=0.2)
        check_bool(self.early_stopping, name("early_stopping"))
        if self.early_stopping and not self.validation_split:  # it trained every epoch and recorded early_stopping True
            # in --param's words: two parameters, the one the user gave or the preset's, and no class name (a tester)
            raise ParamsDisagree("the keras head's early_stopping watches the validation rows, and validation_split 0 "
                                 f"holds none out; {_early_stopping_fix(name)}")
        check_number(self.patience, name("patience"), whole=True, low=0, high=COUNT_MAX, example=10)
        check_number(self.l2, name("l2"), low=0, example=1e-2)
        if self.n_classes is not None:
            check_number(self.n_classes, name("n_classes"), whole=True, low=2, example=10)
        check_seed_param(self.seed, name("seed"))
        if not isinstance(self.verbose, bool):
            check_number(self.verbose, name("verbose"), whole=True, low=0, high=2, example=0)
        check_bool(self.standardize, name("standardize"))

    def _label_codes(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(classes_, codes)``: the classes this head has one output for, and each row's output index.

        Without ``n_classes``, as scikit-learn's classifiers: the sorted distinct
        labels, whatever they are (strings too), and ``predict`` returns them.
        With ``n_classes`` (what train and curve pass: a cache's class indices),
        the labels must be whole numbers in 0..n_classes-1 and ``classes_`` is
        all of them, so a subset missing a class still has an output for it;
        the labels go to Keras as they are (the same weights as before).
        One class is refused (``heads.inputs.fit_data``), as scikit-learn's heads do.
        """
        classes, codes = np.unique(y, return_inverse=True)  # of 2 classes or more: fit_data refused one
        if self.n_classes is None:
            if np.issubdtype(y.dtype, np.integer) and np.array_equal(classes, np.arange(len(classes))):
                return classes, y  # class indices 0..K-1 already: Keras gets them as given
            return classes, codes.reshape(-1)
        n = int(self.n_classes)
        whole = np.issubdtype(y.dtype, np.integer) or (np.issubdtype(y.dtype, np.floating) and bool(np.all(classes == np.round(classes))))
        if not whole or classes[0] < 0 or classes[-1] >= n:
            bad = next((c for c in classes if not (whole and 0 <= c < n)), classes[-1]).item()
            raise FeatcacheError(f"{type(self).__name__}(n_classes={n}) takes labels that are class indices 0..{n - 1}, got {bad!r}; "
                                 "pass labels in that range, a larger n_classes, or n_classes=None to use the labels as they are")
        return np.arange(n), y if np.issubdtype(y.dtype, np.integer) else y.astype(np.int64)

    @staticmethod
    def preset_params(preset: str, flag: str = "--preset") -> dict[str, Any]:
        """A preset's parameters; the one check of its name (train's --preset, curve's --keras-preset)."""
        if preset not in PRESETS:
            raise FeatcacheError(unknown(given(flag, repr(preset)), PRESETS))  # preset='fast' in a call (a tester)
        return dict(PRESETS[preset])

    @classmethod
    def from_preset(cls, preset: str, **overrides: Any) -> "DenseHead":
        return cls(**{**cls.preset_params(preset), **overrides})

    def build_model(self, n_features: int, n_classes: int) -> KerasModel:
        """The head alone: pooled features -> logits. Layer names match the end-to-end model."""
        k = keras()
        inp = k.Input(shape=(n_features,), name="pooled")
        x = k.layers.Dropout(self.dropout, name="head_dropout")(inp)
        reg = k.regularizers.L2(self.l2) if self.l2 else None
        out = k.layers.Dense(n_classes, kernel_regularizer=reg, name="head_logits")(x)
        return k.Model(inp, out, name="dense_head")

    def _trainer(self, n_features: int, n_classes: int):
        """A compiled copy of the head and its optimizer's initial state, made once per configuration.

        Compiling, and tracing the training and validation steps on the first
        fit, cost ~0.25 s of a 0.6 s fit on a few thousand rows; a learning
        curve fits the same head dozens of times. Fitting through a kept
        model gives bitwise the same weights as a new one (tested): each fit
        loads its own seeded initial weights, dropout seed state and a fresh
        optimizer state into it.
        """
        k = keras()
        key = (k.backend.backend(), k.config.floatx(), n_features, n_classes, self.dropout, self.l2, self.learning_rate,
               self.batch_size)
        if key not in _TRAINERS:
            model = self.build_model(n_features, n_classes)
            model.compile(
                optimizer=k.optimizers.Adam(learning_rate=self.learning_rate),
                loss=k.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"],
                steps_per_execution=STEPS_PER_EXECUTION,
            )
            model.optimizer.build(model.trainable_variables)
            _TRAINERS.clear()
            _TRAINERS[key] = (model, [v.numpy() for v in model.optimizer.variables])
        return _TRAINERS[key]

    def fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> DenseHead:
        """Fit on ``X``, ``y``; ``groups`` (one per row, e.g. the image of each view) are kept whole on one side
        of the validation split. Without ``groups`` the held-out rows are Keras's ``validation_split`` rows."""
        self.check_params()
        X, y = fit_data(self, X, y)  # featcache's lines of bad input (heads.inputs)
        classes, y = self._label_codes(y)
        k = keras()
        n_classes = len(classes)
        if self.standardize:
            scaler = StandardScaler().fit(X)  # as the logistic regression head; a constant feature stays unscaled
            self.mean_, self.scale_ = scaler.mean_, scaler.scale_
            X = self._standardized(X)
        # Made before the seed is set, so the seeded draws below are the same
        # whether or not this process has fitted a head before.
        trainer, optimizer_state = self._trainer(X.shape[1], n_classes)
        k.utils.set_random_seed(self.seed)
        self.classes_ = classes
        self.model_ = self.build_model(X.shape[1], n_classes)
        for dst, src in zip(trainer.variables, self.model_.variables, strict=True):  # weights and the dropout seed state
            dst.assign(src)
        for var, value in zip(trainer.optimizer.variables, optimizer_state, strict=True):
            var.assign(value)
        callbacks = []
        if self.early_stopping and self.validation_split:
            callbacks.append(k.callbacks.EarlyStopping(monitor="val_loss", patience=self.patience, restore_best_weights=True))
        validation_data, self.validation_rows_ = None, None
        if self.validation_split:  # held out here, not by Keras: its row cut can split a group (an image's views)
            try:
                held = held_out(len(X), self.validation_split, groups, labels=y, seed=self.seed)
            except ValueError:
                raise FeatcacheError(f"{type(self).__name__} validation_split {self.validation_split!r} of {len(X)} rows leaves "
                                     "none to train on or none to validate on; fit it on more rows, or pass a validation_split "
                                     "nearer 0.2 (0: none held out)") from None
            train, val, self.validation_rows_ = held.train, held.val, held.how
            # A progress note, said when the fit is shown (a verbose call, the CLI: "note:") or the head is verbose,
            # named at the caller's line; a quiet call says nothing (validation_rows_ and the head file record it).
            # It showed on every fit of a photo folder's cache, verbose=False too, named at heads/views.py's line,
            # about a choice of featcache's own with nothing to fix (a notebook tester). The same words for every fit
            # of a curve or probe: said once. Two short lines at most (progress.NOTE_CHARS): said between a curve's bar redraws, its
            # 290 characters took 4 rows of a terminal in the middle of the bar (a tester, h319's brief).
            if held.how == STRATIFIED:
                pct = f"{self.validation_split * 100:g}%"
                fit_note(f"Keras's validation rows, the last {pct}, would miss a class on one side (rows in class order); "
                         f"the Keras head validates on a stratified pick of {pct}, drawn with its seed",
                         StratifiedValidationNote, anyway=bool(self.verbose))
            present = len(np.unique(y))  # classes in the rows given (n_classes may name more: their outputs stay)
            # Fewer training rows than classes is no fit of the recipe asked for: validation_split=0.999 trained on 3
            # rows of 3 classes, and probe and curve scored it (train refuses any class missing; an adversarial
            # tester). A curve's smallest subsets may miss a class in the cut: that is the lesson's recipe there.
            if len(train_rows := np.arange(len(X))[train]) < present:
                raise FeatcacheError(f"the Keras head holds out {'its last ' * (held.how == LAST_ROWS)}"
                                     f"{self.validation_split * 100:g}% of the {len(X)} "
                                     f"training rows for validation and would train on {len(train_rows)}, fewer than "
                                     f"the {present} classes; lower validation_split or fit on more images")
            X, y, validation_data = X[train], y[train], (X[val], y[val])
        with _plain_batches():  # Keras's fit, the same batches from a dataset it iterates faster (_plain_batches)
            hist = trainer.fit(
                X, y, epochs=self.epochs, batch_size=self.batch_size, validation_data=validation_data,
                callbacks=callbacks + epoch_progress(self.verbose, early_stopping=bool(callbacks)), verbose=0,
            )
        for dst, src in zip(self.model_.variables, trainer.variables, strict=True):
            dst.assign(src)
        self.history_ = {key: [float(v) for v in vals] for key, vals in hist.history.items()}
        self.epochs_run_ = len(next(iter(self.history_.values()), []))
        if not all(np.isfinite(w).all() for w in self.model_.get_weights()):
            # weights that are not numbers: probe and curve scored such a head as an accuracy (0.09), train refused to
            # save it naming an API fix (an adversarial tester, learning_rate=1e38)
            raise FeatcacheError(f"the Keras head's training diverged (its weights are not finite numbers after "
                                 f"{epochs_text(self.epochs_run_)}); lower learning_rate ({param_text(self.learning_rate)}) "
                                 f"or l2 ({param_text(self.l2)})")  # as typed: 1e38, not 1e+38 (h140)
        return self

    def _standardized(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean_) / self.scale_).astype(np.float32) if self.standardize else X

    def logits_weights(self, n_classes: int | None = None) -> list[np.ndarray]:
        """``[kernel (D, K), bias (K,)]`` of one Dense layer on raw features giving this head's logits.

        With ``standardize``, the scaling is folded in (``folding.to_raw``).
        """
        check_is_fitted(self, "model_")
        kernel, bias = self.model_.get_layer("head_logits").get_weights()
        if not self.standardize:
            return [kernel, bias]
        coef, intercept = to_raw(kernel.T, bias, self.mean_, self.scale_)
        return [coef.T.astype(np.float32), intercept.astype(np.float32)]

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = self._standardized(predict_data(self, X))
        return np.asarray(self.model_.predict_on_batch(X)) if len(X) <= 4096 else self.model_.predict(X, batch_size=4096, verbose=0)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        z = self.decision_function(X)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        scores = self.decision_function(X)  # first: it says "not fitted", where classes_ was an AttributeError (a tester)
        return self.classes_[np.argmax(scores, axis=1)]


# Inside DenseHead.fit, Keras's epoch iterator over numpy arrays reads Keras's batches from a plain dataset
# (``_plain_batches``); anywhere else, and for anything else, it is Keras's own.
_PLAIN_BATCHES: ContextVar[bool] = ContextVar("featcache_plain_batches", default=False)


@contextlib.contextmanager
def _plain_batches() -> Iterator[None]:
    """Within it, a Keras ``fit`` (and its ``evaluate`` of the validation rows) of numpy arrays, without sample or
    class weights, takes the same batches in the same order from a ``from_tensor_slices(...).batch(...)`` dataset
    instead of Keras's own (``TensorFlowTrainer.fit``, Keras 3 on TensorFlow; elsewhere, Keras's).

    Keras opens a new iterator over its dataset at the start of every epoch, and another at its end that the next
    epoch throws away (``EpochIterator._enumerate_iterator``), and ``evaluate`` the same over the validation rows:
    four an epoch, ~17 ms of CPU and ~70 ms of wall each on 2 busy cores whatever the rows (its parallel gather and
    autotuned prefetch start threads), where a plain dataset's costs under 1 ms. That was most of Keras's own
    ~0.09 s an epoch on 100 rows (42 epochs: 4.1 s of CPU, 1.2 s with these). The batches are Keras's: its seeded
    shuffle draws the same order from every new iterator (``keras_order``), the validation rows are in order, and
    floats are converted as Keras converts them, so the weights, history and early stopping are bitwise Keras's own
    (tests in test_heads_basic fit against Keras's ``fit(validation_split=...)`` on a new model).
    """
    if not _install_plain_batches():
        yield
        return
    token = _PLAIN_BATCHES.set(True)
    try:
        yield
    finally:
        _PLAIN_BATCHES.reset(token)


def _install_plain_batches() -> bool:
    """Put ``PlainBatches`` in place of Keras's ``TFEpochIterator`` (once; it is Keras's own outside
    ``_plain_batches``); False where this Keras has not those parts or fits on another backend."""
    k = keras()
    try:
        from keras.src.backend.tensorflow import trainer as tf_trainer
        from keras.src.trainers.data_adapters.array_slicing import convert_to_sliceable
        from keras.src.trainers.epoch_iterator import EpochIterator
    except ImportError:
        return False
    if k.backend.backend() != "tensorflow":
        return False
    if getattr(tf_trainer.TFEpochIterator, "featcache_plain", False):
        return True
    import tensorflow as tf

    class PlainBatches(tf_trainer.TFEpochIterator):
        featcache_plain = True

        def __init__(self, distribute_strategy: Any = None, *args: Any, **kwargs: Any) -> None:
            x, y = kwargs.get("x"), kwargs.get("y")
            if not (_PLAIN_BATCHES.get() and not args and isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
                    and kwargs.get("sample_weight") is None and kwargs.get("class_weight") is None
                    and kwargs.get("shuffle") in (True, False) and kwargs.get("batch_size")):
                super().__init__(distribute_strategy, *args, **kwargs)
                return
            EpochIterator.__init__(self, **kwargs)
            self._distribute_strategy = distribute_strategy
            x, y = convert_to_sliceable((x, y), target_backend="tensorflow")  # floats as floatx, as Keras's
            if kwargs["shuffle"]:
                order = keras_order(len(x), kwargs["batch_size"])
                x, y = x[order], y[order]
            dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(kwargs["batch_size"])
            self._distributed_dataset = distribute_strategy.experimental_distribute_dataset(dataset)

    tf_trainer.TFEpochIterator = PlainBatches
    return True


def keras_order(n_rows: int, batch_size: int) -> np.ndarray:
    """The order a Keras fit (``shuffle=True``) takes ``n_rows`` training rows in, under the random seed set now: its
    own shuffled dataset of the row numbers (``ArrayDataAdapter``), read once. Every new iterator of that dataset
    draws the same order, so every epoch of a seeded Keras fit takes the rows in this order."""
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    rows = ArrayDataAdapter(np.arange(n_rows), batch_size=batch_size, shuffle=True).get_tf_dataset()
    return np.concatenate([np.asarray(b[0] if isinstance(b, tuple) else b).reshape(-1) for b in rows])


def _early_stopping_fix(name: ParamLabel) -> str:
    """The fix of early stopping without validation rows in the caller's words: a command's --param (as it was), a
    Python call's dict or class (``params['validation_split']=0.2``, ``DenseHead(early_stopping=False)``; a call was
    told "give --param validation_split=0.2", a flag it has not)."""
    if cli_running():
        return "give --param validation_split=0.2 (or another fraction), or --param early_stopping=false"
    return (f"give {setting(name('validation_split'), '0.2')} (or another fraction), or "
            f"{setting(name('early_stopping'), False)}")
