"""The lesson's preprocessing, as one Keras layer used everywhere.

uint8 -> float32, gray repeated to RGB, bilinear resize to the model's size,
then the backbone's own ``preprocess_input``. Extraction, fine-tuning and the
exported model all run this same layer, so cached features and end-to-end
predictions cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Sequence

from featcache._lazy import keras

_k = keras()
# ``call`` takes and returns a tensor of whichever backend Keras runs on (tf.Tensor, jax.Array), or a KerasTensor
# while a functional model is built: typed Any. Shapes have None for a size not known until run time.


@_k.saving.register_keras_serializable(package="featcache")
class Preprocess(_k.layers.Layer):
    """Raw images (N, H, W) or (N, H, W, 1|3), any numeric dtype -> model input.

    The channel count may be unknown until run time (an exported model takes
    gray and RGB images alike); it is then broadcast to 3, which repeats a
    single channel exactly as ``repeat`` does and leaves RGB unchanged.
    """

    def __init__(self, backbone: str, image_size: int, **kwargs: Any):
        super().__init__(**kwargs)
        from featcache.embedding.backbones import get_backbone

        get_backbone(backbone)  # at load, in one line: a model naming another backbone failed in its first call, inside
        self.backbone = backbone  # TensorFlow's trace, a 1,500-character line (an adversarial tester)
        self.image_size = int(image_size)

    def call(self, images: Any) -> Any:
        from featcache.embedding.backbones import get_backbone

        ops = _k.ops
        x = ops.cast(images, "float32")
        if len(x.shape) == 3:
            x = ops.expand_dims(x, -1)
        if x.shape[-1] == 1:
            x = ops.repeat(x, 3, axis=-1)
        elif x.shape[-1] is None:
            x = x + ops.zeros((3,), dtype="float32")  # (.., 1) or (.., 3) -> (.., 3); adding 0 changes no value
        if tuple(x.shape[1:3]) != (self.image_size, self.image_size):
            # A bilinear resize to the size an image already has is the identity (half-pixel centres: each output
            # pixel sits on an input pixel), to the bit in TensorFlow and ONNX Runtime, yet each runtime still runs
            # it: photos come decoded at the model's size (docs/benchmarks.md, "The identity resize").
            x = ops.image.resize(x, (self.image_size, self.image_size), interpolation="bilinear")
        return get_backbone(self.backbone).preprocess_input(x)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (input_shape[0], self.image_size, self.image_size, 3)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "backbone": self.backbone, "image_size": self.image_size}


@_k.saving.register_keras_serializable(package="featcache")
class ViewStack(_k.layers.Layer):
    """Raw images (n, H, W[, C]) -> every view of them, view-major (V*n, H, W[, C]) float32: view i is rows
    [i*n, (i+1)*n), as ``featcache.embedding.views.apply_all`` stacks them (docs/views.md 3.6, option 2).

    Each view's ``graph`` form: the same operations as its numpy ``apply``, in ``keras.ops``, so that an
    exported model averages its views itself: flip reverses the width axis; a shift slices and pads with 0 (no image size needed,
    so any H and W); a crop slices ``CROP_FRACTION`` of the side (sizes computed at run time, rounded
    half to even as Python's ``round``) and resizes it back bilinearly (half-pixel centres, as the numpy
    crop), rounded and clipped to 0..255 as the cached uint8 crop was. Flip and shift equal
    ``views.apply`` exactly; a crop within one grey level (float rounding of the two resizes).
    """

    def __init__(self, views: Sequence[str], **kwargs: Any):
        from featcache.embedding.views import asked_names

        super().__init__(**kwargs)
        # canonical names, in the order given, the original only where named: parse_views put it first always, and
        # an only:flip model stacked orig and flip under a ViewMean of 1 (2 rows per image; an adversarial tester)
        self.views = asked_names(list(views), "views")

    def call(self, images: Any) -> Any:
        from featcache.embedding.views import asked_views

        x = _k.ops.cast(images, "float32")
        return _k.ops.concatenate([v.graph(x) for v in asked_views(self.views)], axis=0)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        n = input_shape[0]
        return (None if n is None else n * len(self.views), *input_shape[1:])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "views": list(self.views)}


@_k.saving.register_keras_serializable(package="featcache")
class ViewMean(_k.layers.Layer):
    """(V*n, K) view-major scores -> (n, K): each image's mean over its ``n_views`` views (``heads.views``)."""

    def __init__(self, n_views: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.n_views = int(n_views)

    def call(self, scores: Any) -> Any:
        ops = _k.ops
        return ops.mean(ops.reshape(scores, (self.n_views, -1, ops.shape(scores)[-1])), axis=0)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        n = input_shape[0]
        return (None if n is None else n // self.n_views, input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n_views": self.n_views}
