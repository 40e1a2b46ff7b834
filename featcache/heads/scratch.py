"""The from-scratch CNN baseline: a small convolutional network trained on raw images.

The earlier lesson's kind of network, the one transfer learning is compared
against. It works on raw uint8 pixels, not on cached features, and takes its
input shape from the images it is fitted on: ``(N, H, W)`` gray (Fashion-MNIST)
or ``(N, H, W, C)`` colour.

Architecture (defaults; 225,034 parameters for 28x28 gray, 10 classes)::

    Input (H, W, C) uint8
    Rescaling(1/255)                 pixels to [0, 1]
    Conv2D(32, 3x3, relu) -> MaxPooling2D(2x2)
    Conv2D(64, 3x3, relu) -> MaxPooling2D(2x2)
    Flatten -> Dense(128, relu) -> Dropout(0.3)
    Dense(n_classes)                 logits

trained with Adam 1e-3 on SparseCategoricalCrossentropy(from_logits=True),
batch 64, for ``epochs`` epochs (no early stopping: the lesson's baseline is a
fixed recipe). 10 epochs on the first 15,000 Fashion-MNIST training images
reach about 0.88 on the first 3,000 test images (the lesson's baseline: 0.883).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from featcache._lazy import keras
from featcache.errors import FeatcacheError
from featcache.progress import epoch_progress, epochs_text
from featcache.validate import COUNT_MAX, ParamLabel, check_number, check_seed_param, typed_as

if TYPE_CHECKING:
    from keras import Model as KerasModel


def _check_images(images) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise FeatcacheError(f"ScratchCNN takes raw uint8 images (it scales them to [0, 1] itself), got {images.dtype}; pass the decoded pixels")
    if images.ndim not in (3, 4):
        raise FeatcacheError(f"ScratchCNN takes images shaped (N, H, W) or (N, H, W, C), got {images.shape}")
    return images[..., None] if images.ndim == 3 else images


class ScratchCNN(ClassifierMixin, BaseEstimator):
    """A small CNN trained from random weights on raw uint8 images (scikit-learn estimator).

    ``fit(images, y)`` with images ``(N, H, W)`` or ``(N, H, W, C)``; the same
    ``seed`` gives the same network. ``validation_split`` (default 0) holds out
    the last rows to report validation accuracy in ``history_``. ``verbose``
    (1 or 2, or True) draws each epoch's progress on stderr (``progress.epoch_progress``).
    """

    # It is fitted on raw pixels, not cached features: a learning curve
    # hands it the cache's own images (analysis/curve/tasks.py).
    consumes = "images"

    uses_keras = True  # fits in Keras: ``heads.load_backend`` imports it before a timed fit

    @classmethod
    def legend(cls, params: Mapping[str, Any]) -> str:
        """What a plot's legend calls this baseline fitted with ``params``."""
        return "from-scratch CNN" + (f" ({epochs_text(params['epochs'])})" if "epochs" in params else "")

    def __init__(
        self,
        epochs: int = 10,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        filters: tuple[int, ...] = (32, 64),
        kernel_size: int = 3,
        dense_units: int = 128,
        dropout: float = 0.3,
        validation_split: float = 0.0,
        seed: int = 0,
        verbose: int = 0,
    ):
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.filters = filters
        self.kernel_size = kernel_size
        self.dense_units = dense_units
        self.dropout = dropout
        self.validation_split = validation_split
        self.seed = seed
        self.verbose = verbose

    def check_params(self, label: ParamLabel | None = None) -> None:
        """Every parameter of a type and range this network trains with, or one line naming it (a FeatcacheError).

        ``fit`` calls it first, a curve's spec before anything is written: ``epochs=0`` returned an untrained
        "fitted" network (an adversarial tester).
        ``label``: the words naming a parameter (``validate.ParamLabel``; the class's by default, --param's from
        ``heads.check_param_values``)."""
        name = label or ParamLabel.of_class(self)
        check_number(self.epochs, name("epochs"), whole=True, low=1, high=COUNT_MAX, example=10)
        check_number(self.batch_size, name("batch_size"), whole=True, low=1, high=COUNT_MAX, example=64)
        check_number(self.learning_rate, name("learning_rate"), low=0, low_open=True, example=1e-3)
        if isinstance(self.filters, (str, bytes)) or not hasattr(self.filters, "__len__"):
            raise FeatcacheError(f"{typed_as(name('filters'), self.filters)} is not valid; use a tuple of filter counts, e.g. (32, 64)")
        for f in self.filters:
            check_number(f, name("filters") + " entry", whole=True, low=1, high=COUNT_MAX, example=32)
        check_number(self.kernel_size, name("kernel_size"), whole=True, low=1, high=COUNT_MAX, example=3)
        check_number(self.dense_units, name("dense_units"), whole=True, low=1, high=COUNT_MAX, example=128)
        check_number(self.dropout, name("dropout"), low=0, high=1, high_open=True, example=0.3)
        check_number(self.validation_split, name("validation_split"), low=0, high=1, high_open=True, example=0.2)
        check_seed_param(self.seed, name("seed"))
        if not isinstance(self.verbose, bool):
            check_number(self.verbose, name("verbose"), whole=True, low=0, high=2, example=0)

    def _check_size(self, shape: tuple[int, ...]) -> None:
        """Images large enough for every convolution (``kernel_size``, no padding) and 2x2 pooling to keep a pixel."""
        side = min(shape[:2])
        for _ in self.filters:
            side = (side - self.kernel_size + 1) // 2
            if side < 1:
                raise FeatcacheError(f"{type(self).__name__} cannot fit images of {shape[0]}x{shape[1]} px: its {len(self.filters)} "
                                     f"convolution and pooling steps leave no pixel; use larger images, fewer filters or a "
                                     f"smaller kernel_size")

    def build_model(self, input_shape: tuple[int, int, int], n_classes: int) -> KerasModel:
        k = keras()
        inputs = k.Input(shape=input_shape, name="images")
        x = k.layers.Rescaling(1.0 / 255, name="to_unit_range")(inputs)
        for i, f in enumerate(self.filters):
            x = k.layers.Conv2D(f, self.kernel_size, activation="relu", name=f"conv{i + 1}")(x)
            x = k.layers.MaxPooling2D(name=f"pool{i + 1}")(x)
        x = k.layers.Flatten(name="flatten")(x)
        x = k.layers.Dense(self.dense_units, activation="relu", name="dense")(x)
        x = k.layers.Dropout(self.dropout, name="dropout")(x)
        outputs = k.layers.Dense(n_classes, name="logits")(x)
        return k.Model(inputs, outputs, name="scratch_cnn")

    def fit(self, images: np.ndarray, y: np.ndarray) -> ScratchCNN:
        self.check_params()
        images = _check_images(images)
        y = np.asarray(y)
        if len(y) != len(images):
            raise FeatcacheError(f"ScratchCNN got {len(images)} images but {len(y)} labels")
        self._check_size(images.shape[1:])
        k = keras()
        k.utils.set_random_seed(self.seed)
        self.classes_, codes = np.unique(y, return_inverse=True)
        self.input_shape_ = tuple(int(d) for d in images.shape[1:])
        self.model_ = self.build_model(self.input_shape_, len(self.classes_))
        self.model_.compile(
            optimizer=k.optimizers.Adam(learning_rate=self.learning_rate),
            loss=k.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        hist = self.model_.fit(
            images, codes, epochs=self.epochs, batch_size=self.batch_size,
            validation_split=self.validation_split, callbacks=epoch_progress(self.verbose), verbose=0,
        )
        self.history_ = {key: [float(v) for v in vals] for key, vals in hist.history.items()}
        return self

    def decision_function(self, images: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "model_")
        images = _check_images(images)
        if tuple(images.shape[1:]) != self.input_shape_:
            raise FeatcacheError(f"this ScratchCNN was fitted on images shaped {self.input_shape_}, got {tuple(images.shape[1:])}")
        return np.asarray(self.model_.predict(images, batch_size=256, verbose=0))

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        z = self.decision_function(images)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, images: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(images), axis=1)]
