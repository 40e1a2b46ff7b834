"""The end-to-end model: images -> Preprocess -> frozen base -> pooling -> head.

The same graph as the lesson's model (Input -> base(training=False) ->
GlobalAveragePooling2D -> Dropout -> Dense), optionally truncated at an
intermediate layer and optionally taking raw images. Layer names of the head
match ``DenseHead`` so its weights drop in unchanged; used for the lesson's
parameter counts, fine-tuning and export.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from featcache._lazy import keras
from featcache.embedding.backbones import get_backbone

if TYPE_CHECKING:
    from keras import Model as KerasModel

    from featcache.heads.dense import DenseHead

BASE_NAME = "base"


def build_end_to_end(
    backbone: str,
    weights: str,
    image_size: int,
    n_classes: int,
    *,
    layer: str | None = None,
    raw_input_shape: tuple[Any, ...] | None = None,
    raw_dtype: str | None = None,
    dropout: float = 0.2,
    identity: str | None = None,
) -> KerasModel:
    """Build the model.

    ``raw_input_shape`` (e.g. ``(28, 28)`` or ``(None, None, 3)``) makes the
    model take raw uint8 images and run ``Preprocess`` itself; without it the
    input is already preprocessed ``(image_size, image_size, 3)``, as in the
    lesson; ``raw_dtype`` (e.g. ``"uint8"``) is the raw input's dtype
    (default float32). ``layer`` taps the base at that layer (default: its final output). ``identity``: the weights'
    the caller checked (a head's record, ``export.resolve_weights``): the bytes loaded must be those (``Backbone.build``).
    """
    from featcache.embedding.mapper import tap_base
    from featcache.embedding.preprocess import Preprocess

    k = keras()
    bb = get_backbone(backbone)
    base = bb.build(weights, image_size, identity)  # random weights: seeded there, as extraction's
    if layer is not None and layer != base.layers[-1].name:
        base = tap_base(base, [layer], bb)
    base = k.Model(base.input, base.outputs[0], name=BASE_NAME)
    base.trainable = False
    if raw_input_shape is not None:
        inputs = k.Input(shape=raw_input_shape, dtype=raw_dtype, name="images")
        x = Preprocess(bb.name, image_size, name="preprocess")(inputs)
    else:
        inputs = k.Input(shape=(image_size, image_size, 3), name="pixels")
        x = inputs
    # training=False keeps BatchNormalization in inference mode even when
    # some base layers are later unfrozen for fine-tuning.
    x = base(x, training=False)
    x = k.layers.GlobalAveragePooling2D(name="pool")(x)
    x = k.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = k.layers.Dense(n_classes, name="head_logits")(x)
    return k.Model(inputs, outputs, name="featcache_end_to_end")


def set_head_weights(model: KerasModel, dense_head: DenseHead) -> None:
    """Copy a fitted ``DenseHead``'s Dense layer into the end-to-end model."""
    model.get_layer("head_logits").set_weights(dense_head.logits_weights())


def parameter_counts(model: KerasModel) -> dict[str, int]:
    count = lambda ws: int(sum(np.prod(w.shape) for w in ws))  # noqa: E731
    return {
        "total": int(model.count_params()),
        "trainable": count(model.trainable_weights),
        "non_trainable": count(model.non_trainable_weights),
    }
