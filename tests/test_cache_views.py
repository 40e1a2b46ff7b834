"""Cached views in the store (issue 15, docs/views.md 3.1-3.2): layout, identity, reader, writer, resume."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import flip

from featcache.errors import FeatcacheError
from featcache.store import STAGING, CacheIdentity, CacheWriter, SplitSpec, StagedWriter, open_cache, partial_path, verify
from featcache.store.fingerprint import fingerprint
from featcache.store.layout import CHUNK_ROWS, view_dataset

N_TRAIN, N_TEST, WIDTH = 300, 20, 4
VIEWS = ["orig", "flip", "shift:+2,+2"]
# Fingerprint and content digest of the same identity and cache, computed on main before views existed
# (commit d5c2292): a cache without views must keep both, or every existing cache would become a miss
# (fingerprint) or "damaged" (digest).
OLD_FINGERPRINT = "1ac5ce0687e3f966b6a20e692f4486c66f0156f07bc15418c9553d14f692e9c6"
OLD_CONTENT_DIGEST = "0f710ee6d463a5f768eaaa5787607e56f9757ca27cb9edc413a9ebabe6feb751"


def identity(**changes) -> CacheIdentity:
    base = dict(backbone="mobilenet_v2", weights="random", image_size=32, preprocessing="p", layers=["out"], dtype="float32",
                dataset="toy", data_digest={"train": "a", "test": "b"}, class_names=["zero", "one", "two"])
    return CacheIdentity(**{**base, **changes})


def specs(n_train: int = N_TRAIN, n_test: int = N_TEST) -> list[SplitSpec]:
    return [SplitSpec("train", np.arange(n_train) % 3, np.arange(n_train)[::-1].copy()),
            SplitSpec("test", np.arange(n_test) % 3, np.arange(n_test))]


def values(split: str, start: int, n: int, views=VIEWS, width: int = WIDTH) -> np.ndarray:
    """(V, n, D): view v of row r is r + v/10 + column/100 (+1000 for test): every cell says where it belongs."""
    rows = np.arange(start, start + n, dtype=np.float32)[None, :, None]
    v = np.arange(len(views), dtype=np.float32)[:, None, None] / 10
    return rows + v + np.arange(width, dtype=np.float32)[None, None, :] / 100 + (1000 if split == "test" else 0)


def writer(path: Path, views=VIEWS, ident: CacheIdentity | None = None, **kw) -> CacheWriter:
    ident = ident or identity(views=None if views is None else tuple(f"{v}@1" for v in views))
    attrs = {"fingerprint": ident.fingerprint, "settings": ident.settings(), "class_names": list(ident.class_names),
             "layers": list(ident.layers), "default_layer": "out", "dtype": "float32"}
    if views is not None:
        attrs["views"] = list(views)
    return CacheWriter(path, attrs, kw.pop("splits", None) or specs(), {"out": WIDTH}, "float32", **kw)


def write_rows(w: CacheWriter, done: dict[str, int], stop: dict[str, int] | None = None, step: int = 64) -> None:
    for s in w.splits:
        end = (stop or {}).get(s.name, len(s.labels))
        for start in range(done[s.name], end, step):
            n = min(step, end - start)
            batch = values(s.name, start, n, w.views)
            w.write(s.name, start, {"out": batch[0] if w.views == ["orig"] else batch})


def make_cache(path: Path, views=VIEWS) -> Path:
    w = writer(path, views)
    write_rows(w, w.open())
    return w.finish()


# -- identity and the digest of caches without views ---------------------------------------------


def test_an_identity_without_views_keeps_its_pre_views_fingerprint():
    ident = identity()
    assert "views" not in ident.settings() and ident.fingerprint == OLD_FINGERPRINT
    with_views = identity(views=["orig@1", "flip@1"])
    assert with_views.views == ("orig@1", "flip@1") and with_views.settings()["views"] == ["orig@1", "flip@1"]
    assert with_views.fingerprint != OLD_FINGERPRINT
    assert identity(views=["orig@1", "flip@1"]).fingerprint != identity(views=["flip@1", "orig@1"]).fingerprint  # stored order
    assert with_views.differences(ident.settings()) == ["views"]
    assert ident.differences(with_views.settings()) == ["views"]  # also when only the stored cache has views


def test_a_cache_without_views_keeps_its_layout_and_content_digest(tmp_path):
    # The same identity, rows and features as tests/test_store.py's make_cache, whose digest was pinned on main.
    from test_store import make_cache as old_make_cache

    from featcache.store.layout import content_digest

    path = old_make_cache(tmp_path / "c.h5")
    with h5py.File(path, "r+") as f:
        assert "views" not in f.attrs and all("views" not in f[s] for s in ("train", "test"))
        # A cache sealed before provenance digests (2026-12-02) has none; its content digest is what it always was.
        # A new cache's also records that its provenance digest is there, so it differs.
        stored = f.attrs["content_digest"]
        del f.attrs["provenance_digest"], f.attrs["features_digest"], f.attrs["dataset_digests"]  # the same for the features digest (2026-12-03)
        del f.attrs["completion_digest"]  # and the completion digest (2026-12-05), which the content digest never counted
        assert content_digest(f) == OLD_CONTENT_DIGEST != stored
        f.attrs["content_digest"] = OLD_CONTENT_DIGEST
    cache = open_cache(path)
    assert cache.views == ("orig",) and cache.summary()["views"] == ["orig"]
    assert cache.view_features("train").shape == (1, 600, 8)
    np.testing.assert_array_equal(cache.view_features("train", views="orig")[0], cache.features("train"))
    with pytest.raises(FeatcacheError) as err:
        cache.features("train", view="flip")
    assert str(err.value) == (f"asked for view flip, which {path} does not hold (it has orig); choose among those, "
                              "or re-extract with ModelSpec(views='orig,flip') to add it")


# -- layout and reader ------------------------------------------------------------------------------


def test_views_are_stored_beside_the_features_row_aligned_checksummed_and_verified(tmp_path):
    path = make_cache(tmp_path / "c.h5")
    with h5py.File(path) as f:
        for s, n in (("train", N_TRAIN), ("test", N_TEST)):
            assert sorted(f[s]["views"].keys()) == ["flip", "shift:+2,+2"]
            for v in VIEWS:
                ds = f[s][view_dataset(v, "out")]
                assert ds.shape == (n, WIDTH) and ds.chunks == (min(CHUNK_ROWS, n), WIDTH) and ds.fletcher32
    assert view_dataset("orig", "out") == "features/out" and view_dataset("flip", "out") == "views/flip/out"
    cache = open_cache(path)
    assert cache.views == tuple(VIEWS) and cache.summary()["views"] == VIEWS
    want = values("train", 0, N_TRAIN)
    np.testing.assert_array_equal(cache.features("train"), want[0])  # the original view where it always was
    np.testing.assert_array_equal(cache.features("train", view="shift:2,2"), want[2])  # any spelling of a name
    rows = np.array([7, 3, 250, 3])
    got = cache.view_features("test", "out", ["shift:+2,+2", "orig"], rows=rows[:2])
    np.testing.assert_array_equal(got, values("test", 0, N_TEST)[[2, 0]][:, rows[:2]])
    np.testing.assert_array_equal(cache.view_features("train", rows=rows), want[:, rows])  # all views, in stored order
    np.testing.assert_array_equal(cache.view_features("train", views="flip", rows=slice(10, 20)), want[1:2, 10:20])
    result = verify(path)
    assert {"train/views/flip/out", "train/views/shift:+2,+2/out", "test/features/out"} <= set(result.datasets)


def test_asking_for_views_a_cache_lacks_is_one_line_naming_its_views_and_the_fix(tmp_path):
    path = make_cache(tmp_path / "c.h5")
    cache = open_cache(path)
    with pytest.raises(FeatcacheError) as err:
        cache.view_features("train", views=["orig", "shift"])  # the group: four shifts, one cached
    assert str(err.value) == (f"asked for views shift:+2,-2, shift:-2,+2, shift:-2,-2, which {path} does not hold (it has orig, "
                              "flip, shift:+2,+2); choose among those, or re-extract with ModelSpec(views='"
                              "orig,flip,shift:+2,+2,shift:+2,-2,shift:-2,+2,shift:-2,-2') to add them")
    with pytest.raises(FeatcacheError, match=r"unknown view 'flop'; use orig, flip"):
        cache.view_features("train", views="flop")
    # "orig,flip" as one string is the list ["orig", "flip"]: the original was dropped from it (a review)
    assert cache.resolve_views("orig,flip") == cache.resolve_views(["orig", "flip"]) == ["orig", "flip"]
    assert cache.resolve_views("flip") == ["flip"] and cache.resolve_views("flip, orig") == ["orig", "flip"]
    assert cache.resolve_views("all") == cache.resolve_views(["all"]) == list(cache.views)  # as the options take it
    with pytest.raises(FeatcacheError, match="features\\(\\) reads one view"):
        cache.features("train", view="shift")


def test_damage_in_a_view_is_caught_and_a_dropped_view_fails_the_digest(tmp_path):
    path = make_cache(tmp_path / "c.h5")
    with h5py.File(path) as f:
        offset = f["train/views/flip/out"].id.get_chunk_info(1).byte_offset
    flip(path, offset + 8)
    cache = open_cache(path)
    np.testing.assert_array_equal(cache.features("train", view="shift:+2,+2"), values("train", 0, N_TRAIN)[2])
    with pytest.raises(FeatcacheError, match=r"is damaged \(checksum mismatch in train/views/flip/out\)"):
        cache.features("train", view="flip")
    with pytest.raises(FeatcacheError, match="checksum mismatch in train/views/flip/out"):
        verify(path)
    other = make_cache(tmp_path / "d.h5")
    with h5py.File(other, "r+") as f:
        del f["test/views/shift:+2,+2"]
    with pytest.raises(FeatcacheError, match="is damaged"):
        open_cache(other)


@pytest.mark.parametrize("value", ['["flip", "orig"]', '["orig", "a/b"]', '"orig"'])
def test_a_damaged_views_attribute_is_one_line(tmp_path, value):
    path = make_cache(tmp_path / "c.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["views"] = value
    with pytest.raises(FeatcacheError, match="attribute 'views' is not a list of view names starting with orig"):
        open_cache(path)


# -- the writer: all views of a batch, or none ----------------------------------------------------


def test_a_batch_must_carry_every_view(tmp_path):
    w = writer(tmp_path / "c.h5")
    w.open()
    with pytest.raises(RuntimeError, match=r"a batch of 3 views \(orig, flip, shift:\+2,\+2\) has shape \(V, n, D\)"):
        w.write("train", 0, {"out": values("train", 0, 8)[:2]})
    w.close()


def test_resume_redoes_damaged_rows_of_every_view(tmp_path):
    path, n = tmp_path / "c.h5", 600  # damage in a whole chunk (the partial edge chunk of a dataset cannot be cleared in place)
    w = writer(path, splits=specs(n))
    write_rows(w, w.open(), stop={"train": 300, "test": 0})
    w.close()
    part = partial_path(path)
    with h5py.File(part) as f:
        assert int(f["train"].attrs["rows_done"]) == 300
        offset = f["train/views/shift:+2,+2/out"].id.get_chunk_info(1).byte_offset
    flip(part, offset + 4, 8)  # one view's second chunk: rows CHUNK_ROWS.. of EVERY view are redone
    w = writer(path, splits=specs(n))
    done = w.open()
    assert done["train"] == CHUNK_ROWS and any(f"from row {CHUNK_ROWS} were damaged" in line for line in w.repairs)
    with h5py.File(part) as f:  # the other views' rows past the damage were cleared too
        assert not f["train/views/flip/out"][CHUNK_ROWS:300].any() and not f["train/features/out"][CHUNK_ROWS:300].any()
    write_rows(w, done)
    w.finish()
    cache = open_cache(path)
    np.testing.assert_array_equal(cache.view_features("train"), values("train", 0, n))
    np.testing.assert_array_equal(cache.view_features("test"), values("test", 0, N_TEST))


def test_staged_photos_regroup_every_view(tmp_path):
    n = 50
    rows, paths = np.arange(n), [f"f{i}.jpg" for i in range(n)]
    settings = {"views": ["orig@1", "flip@1"]}  # as the attributes name them: a cache agrees with itself on open
    attrs = {"fingerprint": fingerprint(settings), "class_names": ["a", "b"], "layers": ["out"], "default_layer": "out",
             "settings": settings, "views": ["orig", "flip"]}
    w = StagedWriter(tmp_path / "p.h5", attrs, [SplitSpec(STAGING, rows % 2, rows, paths)], {"out": WIDTH}, "float32")
    w.open()
    for s in range(0, n, 16):
        k = min(16, n - s)
        w.write(STAGING, s, {"out": values("train", s, k, ["orig", "flip"])}, np.array([""] * k, dtype=object))
    train, test = rows[rows % 5 != 0], rows[rows % 5 == 0]
    path = w.finish({}, regroup=[SplitSpec("train", train % 2, train, [paths[i] for i in train], rows=train),
                                 SplitSpec("test", test % 2, test, [paths[i] for i in test], rows=test)])
    cache = open_cache(path)
    assert cache.views == ("orig", "flip")
    full = values("train", 0, n, ["orig", "flip"])
    np.testing.assert_array_equal(cache.view_features("train"), full[:, train])
    np.testing.assert_array_equal(cache.view_features("test"), full[:, test])
    verify(path)
