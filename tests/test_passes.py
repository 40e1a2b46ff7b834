"""The one memory bound of a pass (featcache.embedding.passes): its arithmetic, without a network."""

from __future__ import annotations

import pytest

from featcache.embedding import passes
from featcache.embedding.mapper import in_passes, pad_target
from featcache.embedding.passes import PassSize, images_per_pass


def test_the_lessons_and_photos_sizes_keep_their_batch_and_large_images_run_a_few_per_pass():
    assert images_per_pass(64, 96) == images_per_pass(64, 224) == PassSize(64, 64)
    assert images_per_pass(64, 2048) == PassSize(1, 1, bounded=True)  # was 64 a pass: about 75 GB
    assert images_per_pass(64, 1024).images == 5 and images_per_pass(5, 1024) == PassSize(5, 5)
    assert images_per_pass(64, 305).images == 64 and images_per_pass(64, 315).images < 64  # where the bound starts


def test_views_count_as_images_and_split_a_row_only_where_they_alone_exceed_the_bound():
    # 224 px, 7 views: 64 images a pass as before, 9 rows of 7 (the runner's batch_size // V)
    assert images_per_pass(64, 224, views=7) == PassSize(64, 9, views=7)
    seven = images_per_pass(64, 2048, views=7)  # one image's 7 views: 10 GB in one pass, before
    assert (seven.images, seven.rows, seven.passes_per_row) == (1, 1, 7)
    two = images_per_pass(64, 1024, views=2)
    assert (two.images, two.rows, two.passes_per_row) == (5, 2, 1)
    assert images_per_pass(2, 96, views=7).passes_per_row == 4  # --batch-size 2 is 2 images a pass, views or not


def test_training_holds_more_the_earlier_it_starts_and_the_bound_is_read_at_each_call(monkeypatch):
    assert passes.bytes_per_pixel("training", trained_stride=32) == passes.bytes_per_pixel("inference")
    assert passes.bytes_per_pixel("training", 8) < passes.bytes_per_pixel("training", 4) < passes.bytes_per_pixel("training", 1)
    assert passes.bytes_per_pixel("training", 2) == passes.bytes_per_pixel("training", 1)
    assert images_per_pass(64, 224, kind="training", trained_stride=32).images == 64  # finetune's default on photos
    assert images_per_pass(64, 224, kind="training", trained_stride=1).images == 49
    with pytest.raises(ValueError, match="kind must be"):
        passes.bytes_per_pixel("backward")  # type: ignore[arg-type]
    # raw pixels beyond the model's size count: predict's arrays of large images
    assert images_per_pass(64, 224, raw_pixels=3000 * 3000).images == 4
    monkeypatch.setattr(passes, "PASS_MEMORY", 3 * passes.image_bytes(48))
    assert images_per_pass(64, 48).images == 3
    assert images_per_pass(64, 48, pass_memory=5 * passes.image_bytes(48)).images == 5  # a parameter overrides it


def test_in_passes_cuts_a_batch_and_keeps_its_order():
    import numpy as np

    seen = []

    def forward(x):
        seen.append(len(x))
        return [x * 2, x + 1]

    x = np.arange(7)
    out = in_passes(forward, 3)(x)
    assert seen == [3, 3, 1] and [o.tolist() for o in out] == [(x * 2).tolist(), (x + 1).tolist()]
    assert in_passes(forward, None) is forward


def test_jax_pads_a_short_batch_to_what_ran_at_its_shape_never_to_more():
    """On JAX a short batch is padded so XLA does not compile again; padding to --batch-size whatever ran undid the
    memory bound (a pass of one 2048 px image run as 64)."""
    ran: dict = {}
    assert pad_target(ran, (2048, 2048, 3), 1, 64) == 1  # predict's one image a pass stays one
    assert pad_target(ran, (2048, 2048, 3), 1, 64) == 1
    assert pad_target(ran, (28, 28), 64, 64) == 64 and pad_target(ran, (28, 28), 10, 64) == 64  # the last, padded
    assert pad_target(ran, (28, 28), 100, 64) == 100  # more than batch_size: as it is, not padded further
    assert pad_target(ran, (28, 28), 10, 64) == 64
    assert pad_target({}, (8, 8), 3, None) == 3
