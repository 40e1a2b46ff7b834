"""The lesson's preprocessing, as one Keras layer used everywhere.

uint8 -> float32, gray repeated to RGB, bilinear resize to the model's size,
then the backbone's own ``preprocess_input``. Extraction, fine-tuning and the
exported model all run this same layer, so cached features and end-to-end
predictions cannot drift apart.
"""

from __future__ import annotations

from featcache._lazy import keras

_k = keras()


@_k.saving.register_keras_serializable(package="featcache")
class Preprocess(_k.layers.Layer):
    """Raw images (N, H, W) or (N, H, W, 1|3), any numeric dtype -> model input.

    The channel count may be unknown until run time (an exported model takes
    gray and RGB images alike); it is then broadcast to 3, which repeats a
    single channel exactly as ``repeat`` does and leaves RGB unchanged.
    """

    def __init__(self, backbone: str, image_size: int, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.image_size = int(image_size)

    def call(self, images):
        from featcache.embedding.backbones import get_backbone

        ops = _k.ops
        x = ops.cast(images, "float32")
        if len(x.shape) == 3:
            x = ops.expand_dims(x, -1)
        if x.shape[-1] == 1:
            x = ops.repeat(x, 3, axis=-1)
        elif x.shape[-1] is None:
            x = x + ops.zeros((3,), dtype="float32")  # (.., 1) or (.., 3) -> (.., 3); adding 0 changes no value
        x = ops.image.resize(x, (self.image_size, self.image_size), interpolation="bilinear")
        return get_backbone(self.backbone).preprocess_input(x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.image_size, self.image_size, 3)

    def get_config(self):
        return {**super().get_config(), "backbone": self.backbone, "image_size": self.image_size}
