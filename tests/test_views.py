"""featcache.embedding.views: each view does exactly what its name says (fast, numpy only)."""

from __future__ import annotations

import numpy as np
import pytest

from featcache.embedding import views as V
from featcache.embedding.views import Crop, Flip, Orig, Shift, apply_all, identity, parse_views
from featcache.errors import FeatcacheError


def _gray(n=2, h=5, w=7):
    return (np.arange(n * h * w).reshape(n, h, w) % 251 + 1).astype(np.uint8)  # no zeros: fill is visible


def _rgb(n=2, h=6, w=6):
    return (np.arange(n * h * w * 3).reshape(n, h, w, 3) % 251 + 1).astype(np.uint8)


# --- flip -----------------------------------------------------------------


@pytest.mark.parametrize("batch", [_gray(), _rgb()])
def test_flip_reverses_columns_only(batch):
    out = Flip().apply(batch)
    n, h, w = batch.shape[:3]
    for i in range(n):
        for r in range(h):
            for c in range(w):
                assert np.array_equal(out[i, r, c], batch[i, r, w - 1 - c])
    assert out.dtype == batch.dtype and out.shape == batch.shape


def test_flip_twice_is_the_original_and_the_input_is_untouched():
    batch = _rgb()
    before = batch.copy()
    assert np.array_equal(Flip().apply(Flip().apply(batch)), before)
    assert np.array_equal(batch, before)


# --- shift ----------------------------------------------------------------


def _shift_by_hand(img, dx, dy):
    h, w = img.shape[:2]
    out = np.zeros_like(img)
    for r in range(h):
        for c in range(w):
            if 0 <= r - dy < h and 0 <= c - dx < w:
                out[r, c] = img[r - dy, c - dx]
    return out


@pytest.mark.parametrize("dx,dy", [(2, 2), (2, -2), (-2, 2), (-2, -2), (1, 0), (0, -3), (-5, 4)])
@pytest.mark.parametrize("batch", [_gray(), _rgb()])
def test_shift_moves_content_right_and_down_filling_zero(batch, dx, dy):
    out = Shift(dx, dy).apply(batch)
    assert out.dtype == batch.dtype and out.shape == batch.shape
    for i in range(len(batch)):
        assert np.array_equal(out[i], _shift_by_hand(batch[i], dx, dy))


def test_shift_plus_two_moves_a_dot_by_two_pixels_down_right():
    img = np.zeros((1, 28, 28), np.uint8)
    img[0, 10, 5] = 200
    out = Shift(2, 2).apply(img)
    assert list(zip(*np.nonzero(out[0]))) == [(12, 7)]
    assert Shift(-2, -2).apply(img)[0, 8, 3] == 200


def test_shift_out_of_the_frame_is_refused():
    with pytest.raises(FeatcacheError, match="out of the frame"):
        Shift(7, 0).apply(_gray(w=7))


# --- crop -----------------------------------------------------------------


@pytest.mark.parametrize("where,box", [("tl", (0, 0, 7, 7)), ("tr", (0, 1, 7, 7)), ("bl", (1, 0, 7, 7)),
                                       ("br", (1, 1, 7, 7)), ("c", (0, 0, 7, 7))])
def test_crop_boxes_on_8x8(where, box):
    assert Crop(where).box(8, 8) == box  # 7/8 of 8 is 7; the centre of a 1-px margin rounds to the top-left


def test_crop_box_at_224_is_196_px():
    assert Crop("c").box(224, 224) == (14, 14, 196, 196)
    assert Crop("br").box(224, 224) == (28, 28, 196, 196)


@pytest.mark.parametrize("where", ["tl", "tr", "bl", "br", "c"])
def test_crop_shows_only_its_own_region(where):
    """Pixels inside the crop's box are 10, outside 200: the view is all 10, whatever the place."""
    img = np.full((1, 16, 16, 3), 200, np.uint8)
    top, left, ch, cw = Crop(where).box(16, 16)
    img[:, top:top + ch, left:left + cw] = 10
    out = Crop(where).apply(img)
    assert out.dtype == np.uint8 and out.shape == img.shape
    assert np.all(out == 10)


def _bilinear_by_hand(img, h, w):
    """Half-pixel-centre bilinear resize of one (h0, w0) image, one output pixel at a time."""
    h0, w0 = img.shape
    out = np.zeros((h, w))
    for r in range(h):
        for c in range(w):
            y = min(max((r + 0.5) * h0 / h - 0.5, 0), h0 - 1)
            x = min(max((c + 0.5) * w0 / w - 0.5, 0), w0 - 1)
            y0, x0 = int(np.floor(y)), int(np.floor(x))
            y1, x1 = min(y0 + 1, h0 - 1), min(x0 + 1, w0 - 1)
            ty, tx = y - y0, x - x0
            out[r, c] = ((1 - ty) * ((1 - tx) * img[y0, x0] + tx * img[y0, x1])
                         + ty * ((1 - tx) * img[y1, x0] + tx * img[y1, x1]))
    return out


def test_crop_is_the_box_scaled_back_bilinearly_and_rounded():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (1, 16, 16), dtype=np.uint8)
    top, left, ch, cw = Crop("tr").box(16, 16)
    expected = np.rint(_bilinear_by_hand(img[0, top:top + ch, left:left + cw].astype(float), 16, 16))
    assert np.array_equal(Crop("tr").apply(img)[0], expected.astype(np.uint8))


@pytest.mark.slow
def test_resize_bilinear_matches_the_preprocess_resize():
    """Crops are scaled up with the same interpolation as Preprocess's resize (keras ops, bilinear)."""
    from featcache._lazy import keras

    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (2, 196, 196, 3)).astype(np.float32)
    ours = V.resize_bilinear(x, 224, 224)
    theirs = np.asarray(keras().ops.image.resize(x, (224, 224), interpolation="bilinear"))
    assert np.max(np.abs(ours - theirs)) < 1e-3


def test_unknown_crop_place():
    # errors.unknown's one wording of a name not among the known ones ("use one of:" was its own)
    with pytest.raises(FeatcacheError) as info:
        Crop("middle")
    assert str(info.value) == f"unknown crop place 'middle' in crop:middle; choose one of: {', '.join(V.CROP_PLACES)}"


# --- every view -------------------------------------------------------------


@pytest.mark.parametrize("view", parse_views("orig,flip,shift,crop"), ids=str)
@pytest.mark.parametrize("batch", [_gray(3, 28, 28), _rgb(2, 32, 32)], ids=["gray", "rgb"])
def test_every_view_keeps_shape_dtype_and_is_pure(view, batch):
    before = batch.copy()
    out = view.apply(batch)
    assert out.shape == batch.shape and out.dtype == batch.dtype
    assert np.array_equal(batch, before)
    assert np.array_equal(view.apply(batch), out)  # deterministic
    if view != Orig():
        assert not np.array_equal(out, batch)
    out[...] = 0  # a fresh array: writing to it leaves the input alone
    assert np.array_equal(batch, before)


def test_a_view_needs_a_batch():
    with pytest.raises(FeatcacheError, match="batch of images"):
        Flip().apply(np.zeros((28, 28), np.uint8)[0])


def test_apply_all_is_view_major():
    batch = _gray(3)
    views = parse_views("flip,shift:+1,+0")
    stacked = apply_all(views, batch)
    assert stacked.shape == (9, *batch.shape[1:])
    for i, v in enumerate(views):
        assert np.array_equal(stacked[3 * i:3 * i + 3], v.apply(batch))


# --- names, groups, identity -------------------------------------------------


def _names(spec):
    return [v.name for v in parse_views(spec)]


def test_groups_and_order():
    assert _names("orig,flip,shift") == ["orig", "flip", "shift:+2,+2", "shift:+2,-2", "shift:-2,+2", "shift:-2,-2"]
    assert _names("crop") == ["orig", "crop:tl", "crop:tr", "crop:bl", "crop:br", "crop:c"]


def test_orig_is_always_first_and_each_view_once():
    assert _names("flip") == ["orig", "flip"]
    assert _names("flip,orig,flip,shift:2,2,shift") == ["orig", "flip", "shift:+2,+2", "shift:+2,-2", "shift:-2,+2", "shift:-2,-2"]
    assert _names(None) == _names("") == ["orig"]
    assert _names(["shift:-1,+3", Flip()]) == ["orig", "shift:-1,+3", "flip"]


def test_shift_names_are_canonical_and_parse_back():
    v = parse_views("shift:3,-1")[1]
    assert v == Shift(3, -1) and v.name == "shift:+3,-1"
    assert parse_views(v.name)[1] == v


@pytest.mark.parametrize("spec,match", [
    ("rotate", "unknown view 'rotate'"),
    ("shift:+2", "shift:DX,DY"),
    ("shift:a,b", "shift:DX,DY"),
    ("shift:+0,-0", "shifts by nothing"),
    ("crop:x", "unknown crop place"),
    ("orig,,flip", "has an empty view name"),
])
def test_bad_names_are_one_line_errors(spec, match):
    with pytest.raises(FeatcacheError, match=match) as info:
        parse_views(spec)
    assert "\n" not in str(info.value)


def test_identity():
    assert identity(parse_views("orig")) is None  # a cache without views keeps today's fingerprint
    ids = identity(parse_views("flip,shift:+2,+2"))
    assert ids == [f"orig@{V.ALGORITHM}", f"flip@{V.ALGORITHM}", f"shift:+2,+2@{V.ALGORITHM}"]
    assert identity(parse_views("shift:+2,+2,flip")) != ids  # the order is the stored order


def test_views_are_hashable_frozen_values():
    assert len({Flip(), Flip(), Shift(1, 2), Shift(1, 2), Crop("c")}) == 3
    with pytest.raises(Exception):
        Shift(1, 2).dx = 3
