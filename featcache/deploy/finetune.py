"""finetune: continue training the last layers of the base, end to end.

Cached features cannot fine-tune a base (changing its weights changes the
features), so this runs the raw images through the whole model, following
the lesson's three rules:

1. the head is trained first: the Dense layer starts from a trained Keras head;
2. a tiny learning rate (default 1e-5), with the model recompiled after the
   ``trainable`` flags change (Keras only picks them up at compile time);
3. only the last ``unfreeze`` layers of the base are trainable.

BatchNormalization layers stay frozen even inside the unfrozen range: the
base is called with ``training=False`` (inference mode, moving statistics
fixed) and their gamma/beta are kept non-trainable too, so with a few
thousand images every BN layer stays exactly as ImageNet left it and only
convolution weights adapt (Keras's own fine-tuning guide does the same).

Images stream from the data source the head's cache was extracted from
(same split, same rows, same validation images as the head: 20% of its
training images, its last or a stratified pick, as its fit held out), batch by batch through tf.data; preprocessing happens
inside the model on each batch. The weights of the best validation epoch are kept;
when no epoch beats the frozen head on validation, the frozen head's weights
are kept and the run says so.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from featcache.embedding import passes
from featcache.errors import FeatcacheError, carried, command, example, given, one_line, option, warn
from featcache.progress import agreeing, counted, named, note, status
from featcache.validate import Written, check_source, checks_switches, param_text, views_counted, views_words

if TYPE_CHECKING:
    import tensorflow as tf
    from keras import Model as KerasModel

    from featcache.embedding.passes import PassSize
    from featcache.sources.base import DataSource, Split


@dataclass
class FinetuneResult:
    path: Path
    params: dict[str, int]  # total / trainable / non_trainable during fine-tuning
    unfrozen_layers: list[str]  # base layers whose weights were trained
    frozen_val_accuracy: float
    epochs: list[dict[str, float]] = field(default_factory=list)  # per epoch: loss, accuracy, val_loss, val_accuracy, seconds
    best_epoch: int = 0  # 0: no epoch beat the frozen head on validation; its weights were kept
    diverged_epoch: int = 0  # the epoch whose loss was no longer a number (training stopped there), 0 if none
    replaced: bool = False  # a model featcache wrote was at the path and this one replaced it
    replaced_from: str | None = None  # where that model was made, where not from this head's cache (heads.io.replaced_from)
    frozen_test_accuracy: float | None = None
    test_accuracy: float | None = None  # the fine-tuned model's, on the original images: also its test_accuracy_orig
    test_images: int | None = None  # None where there was no test split
    train_images: int = 0
    val_images: int = 0
    frozen_val_loss: float | None = None  # the tie-break: an epoch must beat (val accuracy, -val loss)
    # A head that averaged cached views at test: those views and what it scored with them. Fine-tuning runs on the
    # original images alone (its model makes one pass per image), so the frozen head is compared on the original
    # view; this says what the head scored as trained, which finetune compared with in silence (a new-user tester).
    head_test_views: list[str] | None = None
    head_views_test_accuracy: float | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # unfreeze, learning rate, batch size, ... (as saved)
    digest: str | None = None  # the model's content digest as the file stores it (written()); None until saved

    def __fspath__(self) -> str:  # the model file: predict, load_model, verify and info take the result (a tester)
        return str(self.path)

    def written(self) -> Written:
        """What a reader checks (``validate.check_source``): the model at ``path`` is still this one, by the content
        digest it was saved with; without it a finetune to the same path since was read as this result's model."""
        from featcache.heads.io import stored_digest

        return Written(self.digest, "model", stored_digest, "finetune again")

    @property
    def replaced_other_cache(self) -> bool:
        """Whether the model replaced was made on another cache of the data set (a re-extraction: ``replaced_from``)."""
        from featcache.heads.io import ANOTHER_CACHE

        return self.replaced_from == ANOTHER_CACHE

    @property
    def improved(self) -> bool:
        return self.best_epoch > 0

    @property
    def seconds_per_epoch(self) -> float:
        return float(np.mean([e["seconds"] for e in self.epochs])) if self.epochs else 0.0

    def to_dict(self) -> dict[str, Any]:
        from featcache.heads.io import TEST_ACCURACY_ORIG

        return {
            "path": str(self.path), "params": self.params, "unfrozen_layers": self.unfrozen_layers,
            "train_images": self.train_images, "val_images": self.val_images,
            "frozen_val_accuracy": self.frozen_val_accuracy, "frozen_val_loss": self.frozen_val_loss, "epochs": self.epochs, "best_epoch": self.best_epoch,
            "improved": self.improved, "frozen_test_accuracy": self.frozen_test_accuracy,
            "test_accuracy": self.test_accuracy, "seconds_per_epoch": round(self.seconds_per_epoch, 2),
            # the shared names (docs/commands.md's table): the model classifies the original view, so its test accuracy
            # is the original view's, as info of the model says (a new-user tester); not in the model's record (_save)
            TEST_ACCURACY_ORIG: self.test_accuracy, "test_images": self.test_images,
            "diverged_epoch": self.diverged_epoch or None, "replaced": self.replaced, "replaced_other_cache": self.replaced_other_cache,
            "replaced_from": self.replaced_from,
            "head_test_views": self.head_test_views, "head_views_test_accuracy": self.head_views_test_accuracy,
            "settings": self.settings,
        }

    as_dict = to_dict  # featcache 0.1's name, kept for one version


# Adam's step is about the learning rate per weight per step: fine-tuning takes 1e-5 to 1e-3 (the lesson: 1e-5), and
# above 1 no run does anything but diverge.
MAX_LEARNING_RATE = 1.0


def bounded_step_note(images: int, batch_size: int, image_size: int, unfreeze: int) -> str:
    """The note of a training step the memory bound made smaller than the batch size asked for, naming the option in
    the caller's words (``given``): "not --batch-size 16" to a Python call named a flag (a review)."""
    return (f"{counted(images, 'image')} per training step, not {given('--batch-size', str(batch_size))}: at {image_size} px "
            f"with {counted(unfreeze, 'layer')} unfrozen more would need over {passes.PASS_MEMORY / 2**30:.0f} GB of memory")


def check_settings(unfreeze: Any, learning_rate: Any, epochs: Any, batch_size: Any, patience: Any) -> tuple[int, float, int, int, int]:
    """The settings as given through the API or the CLI, checked before any work, clean and in the same order.
    unfreeze=1.5 fine-tuned nothing and saved the model; "20", None and learning_rate="1e-5" ended in
    "'<' not supported" TypeErrors (an adversarial tester)."""
    from featcache.validate import nonnegative_int, positive_int, positive_number

    unfreeze = nonnegative_int(unfreeze, "--unfreeze", "20 (the lesson's: the last 20 layers of the base)")
    learning_rate = positive_number(learning_rate, "--lr", "1e-5 (the lesson's)")
    if learning_rate > MAX_LEARNING_RATE:  # 1e308 was taken, and fine-tuning ended in NaN weights (an adversarial tester)
        raise FeatcacheError(f"{given('--lr', param_text(learning_rate))} is far above any learning rate Adam fine-tunes with "
                             f"(at most {MAX_LEARNING_RATE:g}); use e.g. {example('--lr', '1e-5')}, the lesson's")
    epochs, batch_size, patience = (positive_int(value, flag) for flag, value in
                                    (("--epochs", epochs), ("--batch-size", batch_size), ("--patience", patience)))
    return unfreeze, learning_rate, epochs, batch_size, patience


def unfreeze_last(base: KerasModel, n: int) -> list[str]:
    """Make only the last ``n`` layers of ``base`` trainable, BatchNormalization excepted.

    Counts layers as the lesson's ``base_model.layers[:-20]`` does (the input
    layer included). Returns the names of the layers that got trainable.
    """
    from featcache._lazy import keras

    layers = base.layers
    if n > len(layers):
        raise FeatcacheError(f"{given('--unfreeze', str(n))} is more than the {len(layers)} layers of the base; use 0..{len(layers)}")
    bn = keras().layers.BatchNormalization
    base.trainable = True  # sets every sub-layer; then freeze all but the chosen ones
    for i, layer in enumerate(layers):
        layer.trainable = i >= len(layers) - n and not isinstance(layer, bn)
    return [l.name for l in layers if l.trainable and l.weights]


def reopen_source(meta: dict[str, Any], verbose: bool = False) -> DataSource:
    """The data source of the head's cache, or a clear error saying it is gone or changed."""
    from featcache.sources import open_source

    spec = meta.get("source")
    if not spec:
        from featcache.deploy.export import head_meta_fault

        raise head_meta_fault("does not say where its images came from")
    try:
        source = open_source(spec, verbose=verbose)
    except FeatcacheError as exc:
        # The source's own fix names extract's flags (--images DIR, --data-dir), which finetune has not (a tester)
        why = str(exc).split("; ")[0]
        where = spec.get("root") or spec.get("data_dir")
        raise FeatcacheError(f"the images the head was trained on are no longer available ({why}); "
                             + (f"put them back at {where}: " if where else "")
                             + "finetune reads the images the head's cache was extracted from") from None
    want = meta.get("data_digest")
    if want and source.digest != want:
        _refuse_rule_change(want, source)
        raise FeatcacheError(f"the images at {spec.get('data_dir') or spec.get('root') or spec} changed since the head's cache was "
                             f"extracted ({_what_changed(meta, want, source)}); restore them, or re-extract and retrain the head")
    if want and "skipped" in meta:  # photos: the rows of the head's cache, nothing decoded to find them
        source.settle(dict(meta["skipped"] or []))
    if list(source.class_names) != list(meta.get("class_names", [])):
        raise FeatcacheError(f"the data at {spec} now has other classes than the head ({source.class_names} vs {meta.get('class_names')}); restore the original data")
    if "train" not in source.splits:
        raise FeatcacheError(f"the data at {spec} has no train split; fine-tuning needs the head's training images")
    return source


def _refuse_rule_change(want: dict[str, str], source: DataSource) -> None:
    """A head's cache of photos made before copies of a photo in a class were counted once (2026-12-06), with such
    copies as rows of their own, or made by an older image decoder, is refused as such (``DataSource.rule_change``):
    "changed since ...; restore them" was said where nothing had changed, naming test/ where all the copies were in
    train/ (a reviewer). Its training rows are no longer the source's rows (or not decoded as now), so it cannot be
    fine-tuned as trained: the fix is a new cache and head."""
    line = source.rule_change(want, "re-extract and retrain the head", "its cache")
    if line is not None:
        raise FeatcacheError(line)


def _what_changed(meta: dict[str, Any], want: dict[str, str], source: DataSource) -> str:
    """Which of the head's data changed, as far as can be told. Photos split by --test-fraction: every photo is in
    both splits' digests (any one can move the stratified split), so one edited train photo moved both, and
    "split(s) test, train differ" named a split with no changed photo (a tester). There only the head's own
    training photos (``train_digests``, by content) can be checked."""
    spec = meta.get("source") or {}
    if not (isinstance(spec, dict) and spec.get("kind") == "images" and spec.get("test_fraction") is not None):
        now = source.digest
        changed = [s for s in sorted(set(want) | set(now)) if want.get(s) != now.get(s)]
        return f"{named('split', changed)} {agreeing(len(changed), 'differs', 'differ')}"
    trained, digests = meta.get("train_digests"), getattr(source.pending, "digests", None)
    if trained is not None and digests is not None:
        from featcache.heads.io import digest_keys

        gone = int((~np.isin(np.asarray(trained, dtype=np.uint64), digest_keys(digests))).sum())
        if gone:
            return f"{gone} of the head's {len(trained)} training photos {agreeing(gone, 'is', 'are')} gone or edited"
    return ("a photo was added, removed, renamed or edited; --test-fraction draws both splits from all the photos, "
            "so which split changed cannot be told")


def training_rows(meta: dict[str, Any], labels: np.ndarray, validation_split: float,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(train_rows, val_rows)`` of the source's train split, the same rows the head saw.

    A head trained on a subset records it (``train_rows``, or ``train_size``
    with ``seed`` for a stratified subset); the validation rows are the
    ``validation_split`` of them the head held out (``dense.held_out``, as
    its record ``validation_rows`` says: Keras's last rows, or a stratified
    pick drawn with the head's ``seed``; the same images with all their views
    for a head trained on cached views). A head without the record (one from
    before 2026-12-05) held out the last rows.
    """
    from featcache.heads.dense import LAST_ROWS

    rows = _head_rows(meta, labels)
    return _held_out(rows, np.asarray(labels)[rows], validation_split, seed, meta.get("validation_rows") or LAST_ROWS)[:2]


def _head_rows(meta: dict[str, Any], labels: np.ndarray) -> np.ndarray:
    """The rows of the source's train split the head was fitted on, in its fit's order."""
    from featcache.analysis.subsets import CLASSES_FIRST, stratified_subset

    if meta.get("train_rows") is not None:
        rows = np.asarray(meta["train_rows"], dtype=np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= len(labels)):
            raise FeatcacheError("the head's training rows are beyond the data source's train split; restore the original data")
        return rows
    if meta.get("train_size"):  # the order the head's rows were drawn from (subsets.CLASSES_FIRST)
        return stratified_subset(labels, int(meta["train_size"]), int(meta.get("seed") or 0),
                                 classes_first=meta.get("subset_order") == CLASSES_FIRST)
    return np.arange(len(labels), dtype=np.int64)


def _held_out(rows: np.ndarray, y: np.ndarray, validation_split: float, seed: int,
              how: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    """``training_rows``' rows of the head's ``rows`` (``_head_rows``; ``y``: their labels, in that order, sliced
    once by the caller), and how the validation ones were chosen (``dense.LAST_ROWS``, ``STRATIFIED``): as ``how``
    says, or by ``dense.held_out``'s rule where it is None."""
    from featcache.heads.dense import held_out

    try:  # the head's own cut: with views it held out these images, every view of them
        held = held_out(len(rows), validation_split, labels=y, seed=seed, how=how)
    except ValueError:
        raise FeatcacheError(f"{len(rows)} training images cannot be split into training and validation rows; use a head trained on more images") from None
    return rows[held.train], rows[held.val], held.how


def image_dataset(split: Split, rows: np.ndarray, batch_size: int, shuffle_seed: int | None = None) -> tf.data.Dataset:
    """tf.data pipeline of raw uint8 (H, W, C) images and labels, read row by row from the source.

    Only the current and prefetched batches are in memory; a file-based
    source decodes each image as it is read. With ``shuffle_seed`` every pass
    (epoch) draws a new, reproducible order.
    """
    try:
        import tensorflow as tf
    except ImportError:
        raise FeatcacheError("fine-tuning streams images with tf.data, and TensorFlow is not installed; "
                             "pip install tensorflow-cpu (any Keras backend can still train)") from None

    def one(i: int) -> np.ndarray:
        img = np.asarray(split.read(int(i), int(i) + 1)[0], dtype=np.uint8)
        return img[..., None] if img.ndim == 2 else img

    shape = one(rows[0]).shape
    rng = np.random.default_rng(shuffle_seed)
    # tf.data calls the generator on TF's own threads, which start without the command's words (cli_words): a read's
    # error there named keywords to the command's user (a reviewer, 2026-12-06). Each read runs in the caller's.
    one = carried(one)

    def gen():
        order = rng.permutation(rows) if shuffle_seed is not None else rows
        for i in order:
            yield one(i), split.labels[i]

    ds = tf.data.Dataset.from_generator(
        gen, output_signature=(tf.TensorSpec(shape, tf.uint8), tf.TensorSpec((), tf.int64)),
    )
    n_batches = -(-len(rows) // batch_size)
    return ds.batch(batch_size).apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(tf.data.AUTOTUNE)


def exact_accuracy(keras_accuracy: float, n: int) -> float:
    """Keras's accuracy over ``n`` images as the ratio it stands for, correct / n, a Python float.

    Keras sums the matches and counts the images in float32 (exact: whole numbers below 2**24) and divides in
    float32, so 2,100 right of 2,500 came back as 0.8399999737739563 (a new-user tester). That quotient is
    within 2**-24 of correct / n, so ``round(accuracy * n)`` is the count itself for n below 2**23 images: the
    same number train and evaluate give (numpy's mean of the matches), without another pass over the images.
    """
    return round(float(keras_accuracy) * n) / n if n else float(keras_accuracy)


def _keep_best_callback(result: FinetuneResult, frozen_val_loss: float, total_epochs: int, patience: int, keep_best: bool, verbose: bool):
    """Track validation after each epoch against the frozen head; stop after ``patience`` epochs
    without improvement; at the end restore the best weights (the frozen head's when no epoch beat it)."""
    from featcache._lazy import keras

    class KeepBest(keras().callbacks.Callback):
        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            self.best_key = (result.frozen_val_accuracy, -frozen_val_loss)
            self.best_weights = self.model.get_weights()
            self.wait = 0

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            logs = {k: float(v) for k, v in (logs or {}).items()}
            # ratios as the frozen head's are: an epoch that ties it compares equal (then val loss decides)
            for key, n in (("accuracy", result.train_images), ("val_accuracy", result.val_images)):
                if key in logs:
                    logs[key] = exact_accuracy(logs[key], n)
            logs["seconds"] = round(time.perf_counter() - self.t0, 2)
            if not all(math.isfinite(logs.get(k, 0.0)) for k in ("loss", "val_loss")):
                # Diverged (--lr 1e308): NaN weights predict class 0 for every image, which beat a weak frozen head on
                # accuracy, and the NaN model was kept, saved and run by predict (an adversarial tester). Never kept.
                result.diverged_epoch = epoch + 1
                result.epochs.append({k: (v if math.isfinite(v) else None) for k, v in logs.items()})
                self.model.stop_training = True
                if verbose:
                    status(f"epoch {epoch + 1}/{total_epochs}: the loss is no longer a number (the learning rate is too "
                           "high); stopped, this epoch's weights are not kept")
                return
            result.epochs.append(logs)
            # Higher val accuracy wins; equal accuracy is broken by lower val loss.
            key = (logs["val_accuracy"], -logs["val_loss"])
            better = key > self.best_key
            if better:
                self.best_key, self.wait, result.best_epoch = key, 0, epoch + 1
                self.best_weights = self.model.get_weights()
            else:
                self.wait += 1
            if verbose:
                delta = logs["val_accuracy"] - result.frozen_val_accuracy
                note = "best so far" if better else f"no better ({self.wait}/{patience})"
                status(f"epoch {epoch + 1}/{total_epochs}: val accuracy {logs['val_accuracy']:.4f} "
                       f"({'+' if delta >= 0 else ''}{delta:.4f} vs frozen head {result.frozen_val_accuracy:.4f})  "
                       f"val loss {logs['val_loss']:.4f}  {logs['seconds']:.0f} s  {note}")
            if self.wait >= patience:
                self.model.stop_training = True

        def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
            if keep_best or result.diverged_epoch:  # the last weights are not numbers: the best before them
                self.model.set_weights(self.best_weights)

    return KeepBest()


@dataclass
class _Data:
    """The head's images, reopened from its data source: its training rows split as its fit split them, the test split."""

    train_rows: np.ndarray
    val_rows: np.ndarray
    vsplit: float
    train_split: Any
    test_split: Any  # None without a test split
    n_test: int
    how: str = "last"  # how the validation images were chosen (dense.LAST_ROWS, dense.STRATIFIED)
    heads_own: bool = True  # they are the images the head's fit held out (False: it held out none)

    @classmethod
    def of(cls, est, meta: dict[str, Any], source: DataSource) -> _Data:
        from featcache.heads.facts import LESSON_VALIDATION_SPLIT

        train_split = source.splits["train"]
        # A head trained without a validation split still gets the lesson's: the best-epoch choice needs one. Those
        # images were among the head's training images, which flatters the frozen head in that choice (a tester).
        vsplit = float(est.validation_split or LESSON_VALIDATION_SPLIT)
        if not est.validation_split:
            warn(f"the head was trained on every one of its images (validation_split 0), so the {vsplit:g} "
                 "finetune validates on were among them: the frozen head's validation accuracy flatters it "
                 "against the fine-tuned epochs; train the head with a validation split for a fair choice",
                 TrainedOnValidationWarning)
        from featcache.heads.dense import LAST_ROWS

        # The images the head's fit held out, as its record says; a head from before the record held out its last
        # rows (said where they leave a class out); one that held out none: the rule's choice, as a fit's would be
        how = meta.get("validation_rows") or (LAST_ROWS if est.validation_split else None)
        rows = _head_rows(meta, train_split.labels)  # once: a subset's rows are a stratified draw over the split
        y = np.asarray(train_split.labels)[rows]  # their labels, sliced once: the note's and the cut's
        if meta.get("validation_rows") is None and est.validation_split:
            _say_one_sided(meta, y, vsplit)
        train_rows, val_rows, how = _held_out(rows, y, vsplit, int(getattr(est, "seed", 0) or 0), how)
        test_split = source.splits.get("test")
        n_test = len(test_split) if test_split is not None else 0
        return cls(train_rows, val_rows, vsplit, train_split, test_split if n_test else None, n_test, how,
                   bool(est.validation_split))

    def datasets(self, batch_size: int, seed: int) -> tuple[Any, Any, Any]:
        """``(train, val, test)`` in batches of ``batch_size`` (test None without a test split); train shuffled from ``seed``."""
        return (image_dataset(self.train_split, self.train_rows, batch_size, shuffle_seed=seed),
                image_dataset(self.train_split, self.val_rows, batch_size),
                image_dataset(self.test_split, np.arange(self.n_test), batch_size) if self.test_split is not None else None)

    def describe(self) -> str:
        from featcache.heads.dense import STRATIFIED

        which = "a stratified pick of" if self.how == STRATIFIED else "the last"
        return (f"images: {len(self.train_rows)} train, {len(self.val_rows)} validation ({which} {self.vsplit:g} of the "
                f"head's training rows{', as its fit held out' if self.heads_own else ''})"
                + (f", {self.n_test} test" if self.test_split is not None else ", no test split"))


def _say_one_sided(meta: dict[str, Any], y: np.ndarray, vsplit: float) -> None:
    """A head from before 2026-12-05 held out its last rows whatever their classes; finetune validates on the same
    images (any other would be partly the head's training images), and says where those leave a class out (rows in
    class order, as a photo folder's are: bees alone, so "val accuracy" was bees recall; a new-user tester).
    ``y``: the labels of the head's training rows (``_head_rows``), in its fit's order."""
    from featcache.heads.dense import unlikely_absences

    missing = unlikely_absences(y, int(math.floor(len(y) * (1.0 - vsplit))))
    if missing:
        names = list(meta.get("class_names") or [])
        shown = ", ".join(repr(names[c]) if isinstance(c, int) and 0 <= c < len(names) else repr(c) for c in missing)
        warn(f"the head held out the last {vsplit * 100:g}% of its training images for validation (it was "
             f"trained before featcache held out images of every class), and class {shown} is missing from them "
             "or from the rest; finetune validates on the same images, so its validation accuracy is not of "
             f"every class: train the head again ({command('train')}) for validation images of every class",
             OneSidedValidationWarning)


class TrainedOnValidationWarning(UserWarning):
    """finetune's validation images were among the head's training images."""


class OneSidedValidationWarning(UserWarning):
    """finetune's validation images (an older head's last rows) leave a class out of one side."""


def default_out(head: str | Path) -> Path:
    from featcache import paths

    return paths.home() / "models" / f"{Path(head).stem}_finetuned.keras"


@dataclass(frozen=True)
class FinetuneSettings:
    """What one fine-tuning run does: the lesson's rules 2 and 3 (``learning_rate``, ``unfreeze``), how long and how
    it stops (``epochs``, ``patience``, ``keep_best``), its ``batch_size`` and ``seed``. Checked when made
    (``check_settings``, ``check_seed``: one line naming the keyword, or its flag under the CLI), in the order
    finetune checked them. ``finetune``'s keywords build one (its defaults are these); ``run_finetune(head,
    settings)`` runs one, as ``learning_curve``'s keywords build a ``CurveSpec`` for ``run_curve``."""

    unfreeze: int = 20
    learning_rate: float = 1e-5
    epochs: int = 5
    batch_size: int = 64
    patience: int = 2
    keep_best: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        from featcache.validate import SWITCH_WHY, check_bool, check_seed

        put = object.__setattr__
        checked = check_settings(self.unfreeze, self.learning_rate, self.epochs, self.batch_size, self.patience)
        for name, value in zip(("unfreeze", "learning_rate", "epochs", "batch_size", "patience"), checked):
            put(self, name, value)
        put(self, "keep_best", check_bool(self.keep_best, "keep_best", SWITCH_WHY.get("keep_best", "")))
        put(self, "seed", check_seed(self.seed))

    def asked(self) -> dict[str, Any]:
        """The settings as a model's record keeps them (``epochs`` as ``max_epochs``: ``epochs_run`` says how many
        ran): what a fine-tuned model at ``out`` must have been made with to be replaced without ``force``."""
        return {"unfreeze": self.unfreeze, "learning_rate": self.learning_rate, "max_epochs": self.epochs,
                "batch_size": self.batch_size, "patience": self.patience, "seed": self.seed, "keep_best": self.keep_best}


_SETTINGS = FinetuneSettings()  # the defaults, for finetune's signature (the CLI's help quotes it: api_default)


@checks_switches
def finetune(
    head: str | Path,
    *,
    weights: str | None = None,
    unfreeze: int = _SETTINGS.unfreeze,
    learning_rate: float = _SETTINGS.learning_rate,
    epochs: int = _SETTINGS.epochs,
    batch_size: int = _SETTINGS.batch_size,
    patience: int = _SETTINGS.patience,
    keep_best: bool = _SETTINGS.keep_best,
    seed: int = _SETTINGS.seed,
    out: str | Path | None = None,
    verbose: bool = False,
    trust_pickle: bool = False,
    force: bool = False,
) -> FinetuneResult:
    """Fine-tune the last ``unfreeze`` base layers under a trained Keras ``head``; save the model.

    The saved file is the same raw-images -> probabilities model ``export``
    writes. ``head``: a Keras head's file (``train(cache, "keras")``). ``weights``:
    the backbone weights file, where it is no longer at the path the head
    records (default: that path; checked against the head's SHA-256).
    ``unfreeze``: how many of the base's last layers train (default 20;
    BatchNormalization stays frozen); ``learning_rate``: Adam's (default 1e-5,
    small, so the pretrained weights move little); ``epochs``: at most this many
    (default 5); ``batch_size``: images per step (default 64); ``patience``: stop
    after this many epochs without a better validation accuracy (default 2);
    ``seed``: the shuffling and dropout (default 0). ``out``: the model file
    (``.keras``; default: ``models/<head file name>_finetuned.keras`` under
    ``$FEATCACHE_HOME``, else ``./data``). ``verbose=True`` shows the epochs and the result.
    ``keep_best=False`` keeps the last epoch's weights instead of the
    best validation epoch's (for inspecting what training did). ``out``
    replaces an existing file only if it is a featcache model of the same job
    and head fit and, where it is fine-tuned, of the same settings asked for
    (``deploy.model.check_same_model_job``), or with ``force``; ``trust_pickle`` lets an old pickle head load (it can run code).
    The settings keywords build a ``FinetuneSettings``; ``run_finetune(head, settings, ...)`` does the same from one.
    """
    settings = FinetuneSettings(unfreeze, learning_rate, epochs, batch_size, patience, keep_best, seed)
    return run_finetune(head, settings, weights=weights, out=out, verbose=verbose, trust_pickle=trust_pickle, force=force)


@dataclass
class _Run:
    """One fine-tuning run's parts, built once its head and images are checked: the compiled model, the base layers
    it trains, its parameter counts, its images (``_Data``), the images a step holds (``step_size``) and the three
    datasets in such steps."""

    model: Any
    unfrozen: list[str]
    counts: dict[str, int]
    data: _Data
    step: PassSize
    train_ds: Any
    val_ds: Any
    test_ds: Any  # None without a test split


@checks_switches
def run_finetune(head: str | Path, settings: FinetuneSettings = _SETTINGS, *, weights: str | None = None,
                 out: str | Path | None = None, verbose: bool = False, trust_pickle: bool = False,
                 force: bool = False) -> FinetuneResult:
    """``finetune`` of a ``FinetuneSettings``: the head and ``out`` checked, the images and the model built, the
    frozen head scored, the fit, the fine-tuned model scored and saved (each a step below)."""
    from featcache.progress import bars_wanted

    if not isinstance(settings, FinetuneSettings):
        raise FeatcacheError(f"settings must be a FinetuneSettings, not {type(settings).__name__}; pass e.g. "
                             "FinetuneSettings(unfreeze=20)")
    # The bars with --json too (bars_wanted), as every command's: finetune --json ran minutes without a line on
    # stderr where predict --json drew its bar (a new-user tester). Its text lines stay verbose's.
    bars = bars_wanted(verbose)
    head = check_source(head, "head", f"the Keras head {command('train', '--head keras', 'cache, head=' + repr('keras'))} wrote")  # None: pathlib's TypeError
    out = _checked_out(out, head, force)
    est, meta, weights = _checked_head(head, weights, trust_pickle)
    _check_replaceable(out, meta, settings, force)
    run = _prepared(est, meta, weights, settings, verbose)
    result = _frozen_result(run, meta, out, bars)
    if verbose:  # before the fit, what each epoch is compared with: status (the summary at the end says it again)
        _say_frozen(result, meta)
    _fit(run, result, settings, bars, verbose)
    result.settings = {**settings.asked(), "epochs_run": len(result.epochs), "step_images": run.step.images}  # --json
    # had none of what the text prints (a new-user tester)
    _save(run.model, out, meta, head, weights, result.settings, result, force)
    if verbose:
        _report(result)
    return result


def _checked_out(out: str | Path | None, head: Path, force: bool) -> Path:
    """``out`` checked before any work (``check_out``, never the head itself); None: the default name, checked too."""
    from featcache.deploy.model import check_not_the_head, check_out

    if out is None:  # "" is refused by check_out, as every --out "" is ($DIR unset): it was taken for the default
        # the default name, the head's with _finetuned.keras, too long for the file system (a head file named up to
        # 255 bytes): ENAMETOOLONG after the fine-tuning, "use a shorter name" of a name the user never gave (an
        # adversarial tester). Refused before any work, as extract's, train's, curve's, probe's and evaluate's are;
        # another head's fine-tuned model there keeps its name (default_model_path)
        from featcache.deploy.model import default_model_path
        from featcache.store.layout import made_from

        out = default_model_path(default_out(head), head, made_from("head file name", head.stem))
    out = check_out(out, force)
    check_not_the_head(out, head, "finetune")
    return out


def _checked_head(head: Path, weights: str | None, trust_pickle: bool) -> tuple[Any, dict[str, Any], str]:
    """``(head, meta, weights argument)``: a trained Keras head and the weights that rebuild its base, checked
    before its images are read (ImageNet's fetched where Keras's cache lacks them; offline: one line then; it came
    after the images were read and the network began to be built)."""
    from featcache.deploy.export import exportable

    est, meta = _keras_head(head, trust_pickle)
    return est, meta, exportable(est, meta, weights)


def _check_replaceable(out: Path, meta: dict[str, Any], settings: FinetuneSettings, force: bool) -> None:
    """A model at ``out`` is replaced without ``force`` only by a rerun (the head's fit and these settings), and
    ``out`` is not inside the head's photo folder: compared here, before minutes of work, and again under the lock
    (``_save``)."""
    from featcache.deploy.model import check_same_model_job
    from featcache.sources.base import photo_root_of
    from featcache.sources.images import check_file_outside_classes

    check_same_model_job(out, meta, settings.asked(), force)
    check_file_outside_classes(out, photo_root_of(meta.get("source")))


def _prepared(est, meta: dict[str, Any], weights: str, settings: FinetuneSettings, verbose: bool) -> _Run:
    """The head's images reopened and split as its fit split them, the model built and compiled, its step size
    and datasets; said when ``verbose``."""
    if verbose:  # reading the images and building the network took 26 s without a line (a new-user tester)
        status(f"reading the images of {meta.get('dataset', 'the cache')} and building the end-to-end model "
               f"({meta['backbone']}, {meta['image_size']} px) ...")
    data = _Data.of(est, meta, reopen_source(meta, verbose=verbose))
    model, unfrozen = _compiled_model(est, meta, weights, settings.unfreeze, settings.learning_rate, settings.seed)
    # The batch is known once the model is: how much a step holds depends on where training starts in it.
    step = step_size(model, int(meta["image_size"]), settings.batch_size)
    from featcache.deploy.endtoend import parameter_counts

    run = _Run(model, unfrozen, parameter_counts(model), data, step, *data.datasets(step.images, settings.seed))
    if verbose:
        _say_prepared(run, meta, settings)
    return run


def _say_prepared(run: _Run, meta: dict[str, Any], settings: FinetuneSettings) -> None:
    """What is fine-tuned: the layers, the learning rate, the parameters, the images, a step the memory bound cut."""
    counts = run.counts
    status(f"fine-tuning {meta['backbone']} at {meta['image_size']} px: last {settings.unfreeze} base layers unfrozen "
           f"({len(run.unfrozen)} with weights, BatchNormalization kept frozen), lr {param_text(settings.learning_rate)}")
    status(f"parameters: trainable {counts['trainable']:,}  non-trainable {counts['non_trainable']:,}  total {counts['total']:,}")
    status(run.data.describe())
    if run.step.bounded:  # a note, as extract's: the memory bound overrode --batch-size (shown with the progress off)
        note(bounded_step_note(run.step.images, settings.batch_size, int(meta["image_size"]), settings.unfreeze))


def _test_accuracy(run: _Run, bars: bool, who: str) -> float | None:
    """``who``'s accuracy on the test split as the model stands (None without one)."""
    from featcache.progress import evaluate_progress

    if run.test_ds is None:
        return None
    n = run.data.n_test
    return exact_accuracy(run.model.evaluate(run.test_ds, verbose=0, callbacks=evaluate_progress(
        bars, f"{who}, {n} test images"))[1], n)


def _frozen_result(run: _Run, meta: dict[str, Any], out: Path, bars: bool) -> FinetuneResult:
    """The result as the frozen head starts it: its validation loss and accuracy (what each epoch must beat) and
    its test accuracy, the images, the parameters, the views the head averaged."""
    from featcache.progress import evaluate_progress

    n_val = len(run.data.val_rows)
    frozen_val_loss, frozen_val_acc = (float(v) for v in run.model.evaluate(
        run.val_ds, verbose=0, callbacks=evaluate_progress(bars, f"frozen head, {n_val} validation images")))
    result = FinetuneResult(out, run.counts, run.unfrozen, exact_accuracy(frozen_val_acc, n_val),
                            frozen_test_accuracy=_test_accuracy(run, bars, "frozen head"),
                            test_images=run.data.n_test if run.test_ds is not None else None,
                            train_images=len(run.data.train_rows), val_images=n_val, frozen_val_loss=frozen_val_loss)
    result.head_test_views, result.head_views_test_accuracy = _head_views(meta)
    return result


def _say_frozen(result: FinetuneResult, meta: dict[str, Any]) -> None:
    test = result.frozen_test_accuracy
    status(f"frozen head: val accuracy {result.frozen_val_accuracy:.4f}, val loss {result.frozen_val_loss:.4f}"
           + (f", test accuracy {test:.4f}" if test is not None else ""))
    if result.head_test_views:
        status(_views_words(result, meta))


def _fit(run: _Run, result: FinetuneResult, settings: FinetuneSettings, bars: bool, verbose: bool) -> None:
    """The epochs, each compared with the best so far (``_keep_best_callback``), then the kept weights' test
    accuracy: into ``result``."""
    from featcache.progress import epoch_progress

    cb = _keep_best_callback(result, result.frozen_val_loss, settings.epochs, settings.patience, settings.keep_best, verbose)
    # The progress bar first, so each epoch's comparison line follows its bar. featcache's bar, not Keras's: on
    # stderr as every command's, and off a terminal plain lines (Keras's wrote colour codes and carriage returns).
    run.model.fit(run.train_ds, validation_data=run.val_ds, epochs=settings.epochs, callbacks=[*epoch_progress(bars), cb],
                  shuffle=False, verbose=0)
    if not settings.keep_best and not result.diverged_epoch:
        result.best_epoch = len(result.epochs)
    result.test_accuracy = _test_accuracy(run, bars, "fine-tuned")


def trained_stride(base: KerasModel, image_size: int) -> int:
    """Where training starts in ``base``: the stride of its first trained layer (the image's side over the side of
    that layer's input; 1 trains from the input). Backpropagation keeps every activation from that layer on, so the
    earlier it sits the more a step holds (``embedding.passes.TRAINING_BYTES_PER_PIXEL``). No trained layer
    (--unfreeze 0, the head alone): the stride of the base's output."""
    for layer in base.layers:
        if layer.trainable and layer.trainable_weights:
            shape = layer.input[0].shape if isinstance(layer.input, (list, tuple)) else layer.input.shape
            return max(1, round(image_size / shape[1]))
    return max(1, round(image_size / base.outputs[0].shape[1]))


def step_size(model: KerasModel, image_size: int, batch_size: int) -> PassSize:
    """Images per training step: ``batch_size``, fewer where a step would hold more than the pass bound
    (``embedding.passes``; finetune had none, and a step holds activations and gradients: up to 2.5x inference).
    Fewer images a step is another training run (more, smaller steps), so it is said and recorded; the lesson's
    96 px and photos at 224 px with the default --unfreeze 20 keep their batch of 64."""
    return passes.images_per_pass(batch_size, image_size, kind="training",
                                  trained_stride=trained_stride(model.get_layer("base"), image_size))


def _keras_head(head: str | Path, trust_pickle: bool):
    """``(head, meta)`` of a trained Keras head; any other kind is one line."""
    from featcache.heads import DenseHead, head_words
    from featcache.heads.io import read_head

    how = command('train', 'CACHE --head keras', 'cache, head=' + repr('keras'))
    # a cache given (new users): what finetune takes, a Keras head alone, not evaluate's order, once said here
    fix = f"pass the .keras head file written by {how} (finetune takes a Keras head: {command('finetune', 'HEAD', 'head')})"
    est, meta = read_head(head, trust_pickle=trust_pickle, fix=fix)
    if not isinstance(est, DenseHead):
        # the rule itself, not "the lesson's rule 1", a name a new user cannot read
        raise FeatcacheError(
            f"{head} is {head_words(meta.get('head', type(est).__name__))}; fine-tuning starts from a trained Keras head "
            "whose Dense layer it becomes (a head trained on the frozen base first, so a random head's large first "
            f"updates do not wreck the pretrained weights): train one with {how}"
        )
    return est, meta


def _compiled_model(est, meta: dict, weights: str, unfreeze: int, learning_rate: float, seed: int):
    """``(model, unfrozen)``: the end-to-end model, seeded, its last ``unfreeze`` base layers trainable
    (``weights``: the argument ``deploy.export.exportable`` returned, checked before the images were read)."""
    from featcache._lazy import keras
    from featcache.deploy.export import end_to_end_model

    k = keras()
    k.utils.set_random_seed(seed)
    model = end_to_end_model(est, meta, weights)
    unfrozen = unfreeze_last(model.get_layer("base"), unfreeze)
    # Recompile: the new trainable flags only take effect now (rule 2).
    model.compile(
        optimizer=k.optimizers.Adam(learning_rate=learning_rate),
        loss=k.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model, unfrozen


def _save(model, out: Path, meta: dict, head: str | Path, w, settings: dict, result: FinetuneResult, force: bool = False) -> None:
    """The probabilities model with the head's metadata and what fine-tuning did."""
    from featcache.deploy.export import model_meta
    from featcache.deploy.model import probabilities_model, write_model

    if not all(np.isfinite(v).all() for v in model.get_weights()):  # never a model of NaN weights (a tester)
        raise FeatcacheError(f"fine-tuning left weights that are not numbers; nothing was written to {out}: fine-tune "
                             f"again with a lower {option('--lr')} (the lesson's: 1e-5)")
    from featcache.deploy.model import recheck_out

    def recheck() -> None:  # finetune's checks of --out, again just before the model replaces what is there now
        # said, as train and export say it (an adversarial tester)
        result.replaced, result.replaced_from = recheck_out(out, head, "finetune", meta, settings, force)

    from featcache.heads.io import TEST_ACCURACY_ORIG

    mmeta = model_meta(meta, head, w)
    # What this model scores on the original view: the fine-tuned score, not the head's it started from (info
    # showed the frozen head's 0.7843 for a model of 0.8039; a new-user tester). None where there was no test split.
    mmeta[TEST_ACCURACY_ORIG] = result.test_accuracy
    mmeta["finetune"] = {**settings, **result.to_dict()}
    # the settings are the record's own keys (as before), not nested again; whether this run replaced a model says
    # how the run went, not what the model is, and is known only under the lock (a review: every model said False)
    for key in ("path", "settings", "replaced", "replaced_other_cache", "replaced_from", TEST_ACCURACY_ORIG, "test_images"):
        mmeta["finetune"].pop(key, None)
    # fine-tuned on the head's training rows (training_rows): its training-image keys are the head's
    _, result.digest = write_model(probabilities_model(model), out, mmeta, recheck,  # the digest in the file: what
                                   meta.get("train_digests"))  # written() checks


def _head_views(meta: dict[str, Any]) -> tuple[list[str] | None, float | None]:
    """(the views a head averaged at test, its accuracy with them: export's views_accuracy, only:flip's one view too)
    when it used views other than the original."""
    from featcache.deploy.export import views_accuracy

    test = list(meta.get("test_views") or ["orig"])
    train = list(meta.get("train_views") or ["orig"])
    if test == ["orig"] and train == ["orig"]:
        return None, None
    return test, views_accuracy(meta, test)


def _one_view(views: Sequence[str]) -> str | None:
    """How a head scored on one view (only:flip's) is said: nothing was averaged (a review); None for more views.
    ``validate.views_counted``'s words: "on view flip (without the original view)" nested its parentheses in
    "... each image (flip (without the original view))" (a reviewer, 2026-12-05)."""
    return f"on {views_counted(views)}" if len(views) == 1 else None


def _views_words(r: FinetuneResult, meta: dict[str, Any]) -> str:
    """What fine-tuning does with a head trained on cached views: the original images only, said before training."""
    train = list(meta.get("train_views") or ["orig"])
    test = list(r.head_test_views)
    # a head fitted on the original view alone and scored with views averaged was "fitted on 1 cached views" (a review);
    # one fitted on only:flip was "fitted on 1 cached views (flip)", as if with the original (a review)
    fitted, sep = "", " and "
    if len(train) == 1 and train != ["orig"]:  # "the flip view alone, without the original view,": its clause ends
        fitted, sep = f"was fitted on {views_counted(train)}", ", and "
    elif train != ["orig"]:
        fitted = f"was fitted on {counted(len(train), 'cached view')} of each image ({views_words(train)})"
    how = ("on that view" if fitted and len(test) == 1 and test == train else
           _one_view(test) or f"with {len(test)} views averaged ({views_words(test)})")
    scored = f"scored {r.head_views_test_accuracy:.4f} {how}" if r.head_views_test_accuracy is not None else ""
    words = sep.join(w for w in (fitted, scored) if w)
    return (f"the head {words}; fine-tuning "
            "trains and scores on the original images alone, and its model makes one pass per image: the frozen head "
            "is compared on the original view")


def _report(r: FinetuneResult) -> None:
    from featcache.heads.io import replaced_words

    if r.diverged_epoch:
        print(f"FINE-TUNING DIVERGED at epoch {r.diverged_epoch}: its loss was no longer a number; the weights of "
              f"{'epoch ' + str(r.best_epoch) if r.best_epoch else 'the frozen head'} are kept (fine-tune again with a "
              f"lower {option('--lr')})")
    if not r.improved:
        # "WORSE" was said when the best epoch tied the frozen head's accuracy and lost on loss, unshown (a new user)
        tied = any(e["val_accuracy"] == r.frozen_val_accuracy for e in r.epochs if e.get("val_loss") is not None)
        loss = f", val loss {r.frozen_val_loss:.4f}" if r.frozen_val_loss is not None else ""
        print(("FINE-TUNING DID NOT IMPROVE VALIDATION: the best epoch tied the frozen head's val accuracy "
               f"{r.frozen_val_accuracy:.4f} with a higher val loss (frozen{loss.lstrip(',')})" if tied else
               f"FINE-TUNING MADE VALIDATION WORSE: no epoch reached the frozen head's val accuracy {r.frozen_val_accuracy:.4f}{loss}")
              + f"; kept the frozen head's weights (try fewer {option('--unfreeze')} layers or a smaller {option('--lr')})")
    else:
        best = r.epochs[r.best_epoch - 1]["val_accuracy"]
        print(f"kept epoch {r.best_epoch}: val accuracy {best:.4f} (frozen head {r.frozen_val_accuracy:.4f})")
    if r.test_accuracy is not None and r.frozen_test_accuracy is not None:
        delta = r.test_accuracy - r.frozen_test_accuracy
        verdict = "better" if delta > 0 else ("WORSE than the frozen head" if delta < 0 else "unchanged")
        print(f"test accuracy: frozen head {r.frozen_test_accuracy:.4f}  fine-tuned {r.test_accuracy:.4f}  "
              f"({'+' if delta >= 0 else ''}{delta:.4f}, {verdict})")
        if r.head_views_test_accuracy is not None:
            d = r.test_accuracy - r.head_views_test_accuracy
            one = _one_view(r.head_test_views)  # its clause holds a comma: said after the score
            said = (f"scored {r.head_views_test_accuracy:.4f} {one}" if one else
                    f"with its {len(r.head_test_views)} views averaged scored {r.head_views_test_accuracy:.4f}")
            print(f"  the head {said}: "
                  f"the fine-tuned model is {abs(d):.4f} {'above' if d > 0 else 'below' if d < 0 else 'level with'} it, "
                  "with one pass per image")
    print(one_line(f"{r.seconds_per_epoch:.1f} s/epoch{replaced_words(r.replaced, 'model', r.replaced_from)} -> {r.path}"))
