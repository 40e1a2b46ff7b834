"""How many images go in one pass of the network: the one memory bound of extract, predict and finetune.

A pass's peak memory grows with the pixels of each image it holds, not with
the data set: ``--image-size 2048`` with the default batch of 64 wanted
about 75 GB and died with exit 139, no message (an adversarial tester).
``images_per_pass`` keeps a pass to at most PASS_MEMORY: ``--batch-size``
images, fewer where they would need more. Every image counts, so each view
of a row (``--views``; an exported model's own views) is one more image in
the pass. The features do not depend on how the images are cut into passes
(inference mode: no image sees another), so the bound changes no feature and
no prediction; a training step's batch is the exception (finetune says so).

The figures are peak RSS per pixel per image, measured by
``scripts/bench_pass_memory.py`` on MobileNetV2 (random weights: a weight's
value changes no activation's size) on this 2-core machine, as the slope of
the peak between two image sizes (256 and 512 px, or 256 to 640 px), so the
model's own memory cancels out (docs/benchmarks.md, "Memory of one pass").
Other backbones are held to the same figures (not measured).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Images per inference pass unless --batch-size says otherwise: extract, predict and a model's ModelRunner (finetune's
# training step and the Keras heads' batches are training settings of their own, not this). Chosen on TensorFlow;
# on ONNX Runtime at 96 px batches of 8 to 128 ran within the noise of 64 (docs/benchmarks.md, "Batch size: not a
# lever for ONNX Runtime at 96 px", scripts/bench_batch_size.py). PASS_MEMORY lowers it for large images.
BATCH_SIZE = 64

# Bytes of activations one pass may hold. Below about 310 px the default batch of 64 fits as it is (the lesson's
# 96 px: 0.2 GB; photos at 224 px: 1.1 GB); at 2048 px a pass holds one image (1.4 GB).
PASS_MEMORY = 2 * 2**30

# Inference (extract, predict): bytes per input pixel per image of the frozen network's forward pass, its
# preprocessing included. MobileNetV2: TensorFlow 329-335 (batch 16 at 256 and 512 px; batch 8 from 256 to 640 px),
# ONNX Runtime 239, OpenVINO 191. The other backbones of the registry (batch 8, 256 / 512 px, 2026-12-03):
# ResNet50 322 on TensorFlow and 345 on ONNX Runtime, EfficientNetB0 334 on TensorFlow (ONNX Runtime cannot run
# its conversion). The largest, rounded up; one figure for every backbone (they lie within 7%). (An adversarial
# tester's figure before these measurements: about 290, from 1.2 GB per image at 2048 px.)
INFERENCE_BYTES_PER_PIXEL = 350

# Training (a finetune step: forward pass, gradients, Adam's update; batch 8, 256 to 512 or 640 px): backpropagation
# keeps the activations of every layer from the first trained one on, so what a step holds depends on how early that
# layer sits, measured as its stride (image side / the side of its input). MobileNetV2, by --unfreeze:
#   20, 40, 70, 100 layers (first trained layer at stride 32 down to 8):   333-341, as inference;
#   130 layers (block_2_project, stride 4):                               456, 470;
#   145 layers (block_1_expand, stride 2) and all 154 (Conv1, stride 1):  684-851 (745 and 749 from 256 to 640 px).
# Each row: (smallest stride, bytes per pixel), the largest measured rounded up.
TRAINING_BYTES_PER_PIXEL = ((8, INFERENCE_BYTES_PER_PIXEL), (4, 480), (1, 860))  # from stride 8: what inference holds

# Bytes per raw pixel of each image beyond its size at the model's input: Preprocess turns the raw uint8 images
# into float32 RGB before it resizes them (predict's .npy arrays come at any size). Measured with the model at
# 32 px (its network's share nil) on raw images of 1500 and 3000 px, batch 4: TensorFlow 23 (RGB) and 31 (gray,
# repeated to RGB), ONNX Runtime 42 and 39.
RAW_BYTES_PER_PIXEL = 48

Kind = Literal["inference", "training"]


@dataclass(frozen=True)
class PassSize:
    """How a batch runs: ``images`` per pass (every view counted), ``rows`` per batch (each with its ``views``)."""

    images: int  # images in one pass, at least 1
    rows: int  # rows per batch: images // views, at least 1 (one row whose views alone exceed the bound)
    views: int = 1  # images per row
    bounded: bool = False  # the memory bound, not the batch size asked for, set ``images``

    @property
    def passes_per_row(self) -> int:
        """Passes one row's views need: 1, or more where its views alone exceed the bound (``rows`` is then 1)."""
        return -(-self.views // self.images)


def bytes_per_pixel(kind: Kind = "inference", trained_stride: int = 1) -> int:
    """Peak bytes per input pixel per image of a pass of ``kind``; for training, with the first trained layer at
    ``trained_stride`` (1, the default, trains from the input: the most)."""
    if kind == "inference":
        return INFERENCE_BYTES_PER_PIXEL
    if kind == "training":
        return next(b for stride, b in TRAINING_BYTES_PER_PIXEL if trained_stride >= stride)
    raise ValueError(f"kind must be 'inference' or 'training', not {kind!r}")


def image_bytes(image_size: int, *, kind: Kind = "inference", trained_stride: int = 1, raw_pixels: int = 0) -> int:
    """Peak bytes one image adds to a pass at ``image_size`` px; ``raw_pixels``: its raw pixels when they come at
    another size than the model's (predict's arrays), else 0 (raw images at the model's size are in the figure)."""
    return bytes_per_pixel(kind, trained_stride) * image_size * image_size + RAW_BYTES_PER_PIXEL * raw_pixels


def images_per_pass(batch_size: int, image_size: int, *, views: int = 1, kind: Kind = "inference",
                    trained_stride: int = 1, raw_pixels: int = 0, pass_memory: int | None = None) -> PassSize:
    """``batch_size`` images per pass, fewer where a pass of images of ``image_size`` px would hold more than
    ``pass_memory`` (default: PASS_MEMORY, read at each call); each row has ``views`` images.

    The rows of a batch are ``images // views`` (the batch size of today without the bound); where one row's views
    alone exceed the bound, a batch is one row and its views run in ``passes_per_row`` passes of at most ``images``.
    """
    limit = PASS_MEMORY if pass_memory is None else pass_memory
    fit = max(1, limit // image_bytes(image_size, kind=kind, trained_stride=trained_stride, raw_pixels=raw_pixels))
    images = max(1, min(batch_size, fit))
    return PassSize(images=images, rows=max(1, images // views), views=views, bounded=fit < batch_size)
