"""The store without a model: identity, fingerprints, checksums, resume repairs, atomic files, the lock, a full disk."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import flip

from featcache.cli import main
from featcache.errors import DamagedCache, FeatcacheError, output_named
from featcache.store import (
    FORMAT_VERSION,
    STAGING,
    CacheIdentity,
    CacheWriter,
    SplitSpec,
    StagedWriter,
    atomic,
    atomic_path,
    exclusive_lock,
    find_complete,
    lock_path,
    open_cache,
    partial_path,
    tidy_partial,
    verify,
)
from featcache.store.fingerprint import fingerprint
from featcache.store.layout import CHUNK_ROWS, STORE_KEYWORDS
from featcache.store.partial import check_partial
from featcache.store.reader import UncheckedCacheWarning, incomplete_replaced
from featcache.store.lock import check_lock_file

REPO = Path(__file__).resolve().parents[1]
N_TRAIN, N_TEST, WIDTH = 600, 40, 8


def identity(**changes) -> CacheIdentity:
    base = dict(backbone="mobilenet_v2", weights="random", image_size=32, preprocessing="p", layers=["out"], dtype="float32",
                dataset="toy", data_digest={"train": "a", "test": "b"}, class_names=["zero", "one", "two"])
    return CacheIdentity(**{**base, **changes})


def specs() -> list[SplitSpec]:
    return [SplitSpec("train", np.arange(N_TRAIN) % 3, np.arange(N_TRAIN)[::-1].copy()),
            SplitSpec("test", np.arange(N_TEST) % 3, np.arange(N_TEST))]


def features(split: str, start: int, n: int) -> np.ndarray:
    rows = np.arange(start, start + n, dtype=np.float32)[:, None]
    return rows + np.arange(WIDTH, dtype=np.float32)[None, :] / 10 + (1000 if split == "test" else 0)


@pytest.fixture
def extracts_words():
    """The store's lines as extract says them: its writer, partial and reader checks run only within extract, which
    names its output StoreSpec(out=...) to a Python call (``errors.output_named(STORE_KEYWORDS)``)."""
    with output_named(STORE_KEYWORDS):
        yield


def writer(path: Path, ident: CacheIdentity | None = None, **kw) -> CacheWriter:
    ident = ident or identity()
    attrs = {"fingerprint": ident.fingerprint, "settings": ident.settings(), "class_names": list(ident.class_names),
             "layers": list(ident.layers), "default_layer": "out", "dtype": "float32"}
    return CacheWriter(path, attrs, specs(), {"out": WIDTH}, "float32", **kw)


def write_rows(w: CacheWriter, done: dict[str, int], stop: dict[str, int] | None = None) -> None:
    for s in w.splits:
        end = (stop or {}).get(s.name, len(s.labels))
        for start in range(done[s.name], end, 64):
            n = min(64, end - start)
            w.write(s.name, start, {"out": features(s.name, start, n)})


def make_cache(path: Path, provenance: dict | None = None) -> Path:
    w = writer(path)
    write_rows(w, w.open())
    return w.finish(provenance)


def chunk_offset(path: Path, name: str, chunk: int = 0) -> int:
    with h5py.File(path, "r") as f:
        return f[name].id.get_chunk_info(chunk).byte_offset


# -- identity and fingerprints ---------------------------------------------------------------


def test_identity_takes_the_format_version_from_the_layout():
    ident = identity()
    assert ident.settings()["format_version"] == FORMAT_VERSION == 2
    assert ident.fingerprint != identity(format_version=1).fingerprint  # a format bump changes every fingerprint
    assert ident.fingerprint == identity(layers=("out",), class_names=("zero", "one", "two")).fingerprint
    assert ident.differences({**ident.settings(), "image_size": 48, "dtype": "float16"}) == ["image_size", "dtype"]
    assert ident.differences(None) == list(ident.settings())


def test_fingerprint_refuses_what_it_cannot_hash_exactly():
    assert fingerprint({"a": (1, 2), "n": np.int64(3)}) == fingerprint({"a": [1, 2], "n": 3})
    for bad in ({"p": Path("x")}, {"a": np.zeros(2)}, {1: "int key"}, {"o": object()}):
        with pytest.raises(TypeError, match="cannot fingerprint"):
            fingerprint(bad)
    with pytest.raises(TypeError, match="cannot fingerprint"):
        identity(dataset=Path("toy"))


# -- checksums and the content digest -------------------------------------------------------


def test_every_dataset_carries_a_checksum_and_verify_reads_them_all(tmp_path):
    path = make_cache(tmp_path / "c.h5")
    with h5py.File(path) as f:
        assert f.attrs["format_version"] == FORMAT_VERSION and len(f.attrs["content_digest"]) == 64
        for s in ("train", "test"):
            assert all(f[s][d].fletcher32 for d in ("labels", "index", "features/out"))
    result = verify(path)
    assert set(result.datasets) == {f"{s}/{d}" for s in ("train", "test") for d in ("labels", "index", "features/out")}
    assert result.datasets["train/features/out"] == -(-N_TRAIN // CHUNK_ROWS) and result.digest  # every chunk
    cache = open_cache(path)
    np.testing.assert_array_equal(cache.features("train")[:64], features("train", 0, 64))


def test_a_flipped_feature_byte_is_caught_when_read(tmp_path):
    path = make_cache(tmp_path / "c.h5")
    flip(path, chunk_offset(path, "train/features/out", 1) + 100)
    cache = open_cache(path)  # the digest covers rows and attributes; the features are checked when read
    with pytest.raises(FeatcacheError, match=r"is damaged \(checksum mismatch in train/features/out\); re-extract it"):
        cache.features("train")
    with pytest.raises(FeatcacheError, match="checksum mismatch in train/features/out"):
        verify(path)
    with pytest.raises(FeatcacheError, match="is damaged"):
        find_complete(path, identity())  # never a cache hit


def test_verify_json_answers_on_stdout_for_a_damaged_cache_too(tmp_path, capsys):
    """A new user: `verify --json` printed nothing on stdout for a damaged cache (its success JSON has "ok": true)."""
    import json

    path = make_cache(tmp_path / "c.h5")
    assert main(["verify", str(path), "--json"]) == 0 and json.loads(capsys.readouterr().out)["ok"] is True
    flip(path, chunk_offset(path, "train/features/out", 1) + 100)
    assert main(["verify", str(path), "--json"]) == 2
    out, err = capsys.readouterr()
    answer = json.loads(out)
    assert answer["ok"] is False and "checksum mismatch in train/features/out" in answer["error"]
    assert len(err.strip().splitlines()) == 1 and "is damaged" in err
    assert main(["verify", str(tmp_path / "missing.h5"), "--json"]) == 2  # not there: an answer too (a review)
    assert json.loads(capsys.readouterr().out)["ok"] is False


def test_verify_says_the_bytes_it_read_as_every_message_says_a_size(tmp_path, capsys):
    """verify's line said a cache's bytes in MB to one decimal whatever their size: a small cache was "0.0 MB read
    and checked"; and a head's or model's line had a KB/MB rule of its own. Both say it as every size in a message
    is said (``progress.size_text``: bytes below 1 MB)."""
    from featcache.progress import size_text

    path = make_cache(tmp_path / "c.h5")
    assert main(["verify", str(path), "--json"]) == 0
    read = json.loads(capsys.readouterr().out)["bytes_read"]
    assert 0 < read < 2**20  # a tiny cache: the line that said "0.0 MB"
    assert main(["verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert f" chunks, {size_text(read)} read and checked, content digest matches" in out and "0.0 MB" not in out, out


def test_verify_takes_several_files_says_each_and_fails_if_any_is_damaged(tmp_path, capsys):
    """'verify hv.h5 hflip.keras h.npz' was "unrecognized arguments" (a new-user tester): each file is checked in
    turn, a damaged one said on its own line without stopping the others, exit 2 if any; --json is a list."""
    import json

    good, bad = make_cache(tmp_path / "a.h5"), make_cache(tmp_path / "b.h5")
    flip(bad, chunk_offset(bad, "train/features/out", 1) + 100)
    assert main(["verify", str(good), str(good)]) == 0
    assert capsys.readouterr().out.count("ok: ") == 2
    assert main(["verify", str(bad), str(good)]) == 2
    out, err = capsys.readouterr()
    assert out.startswith(f"ok: {good} is intact") and len(out.strip().splitlines()) == 1
    assert err.startswith(f"featcache verify: error: {bad} is damaged") and len(err.strip().splitlines()) == 1
    assert main(["verify", str(good), str(bad), str(tmp_path / "none.h5"), "--json"]) == 2
    answers = json.loads(capsys.readouterr().out)
    assert [a["ok"] for a in answers] == [True, False, False] and answers[1]["path"] == str(bad)


@pytest.mark.parametrize("kind", ["DamagedCache", "CacheBusy"])
def test_what_find_complete_does_next_depends_on_the_kind_of_error_not_its_words(tmp_path, monkeypatch, kind):
    """A review: find_complete told a damaged or busy cache from someone else's file by finding "is damaged" in the
    message; reworded, a damaged cache would have read "not a featcache cache". Now the error's class decides."""
    import featcache.errors as errors
    import featcache.store.reader as reader

    path = make_cache(tmp_path / "c.h5")
    error = getattr(errors, kind)(f"{path}: reworded")

    def fail(p, **kw):
        raise error

    monkeypatch.setattr(reader, "read_attrs", fail)
    with pytest.raises(getattr(errors, kind), match="reworded"):
        find_complete(path, identity())
    monkeypatch.setattr(reader, "read_attrs", lambda p, **kw: (_ for _ in ()).throw(FeatcacheError("is damaged, but plain")))
    with pytest.raises(FeatcacheError, match="exists and is not a featcache cache"):
        find_complete(path, identity())


def chunk_key_offset(path: Path, name: str, chunk: int = 0) -> int:
    """Where the chunk index (a version-1 B-tree node, "TREE") records chunk ``chunk``'s row coordinate.

    The node lists (key, child) pairs after a 24-byte header; a key of a 2-D dataset is the chunk's size (4
    bytes), filter mask (4), then 8 bytes per coordinate and one more; the child is the chunk's address.
    """
    raw = path.read_bytes()
    address = chunk_offset(path, name, chunk)
    key = 4 + 4 + 3 * 8
    at = raw.find(b"TREE")
    while at >= 0:
        if raw[at + 4] == 1:  # a node of raw-data chunks
            for i in range(int.from_bytes(raw[at + 6 : at + 8], "little")):
                entry = at + 24 + i * (key + 8)
                if int.from_bytes(raw[entry + key : entry + key + 8], "little") == address:
                    return entry + 8
        at = raw.find(b"TREE", at + 4)
    raise AssertionError(f"no chunk index entry for {name} chunk {chunk}")


def test_a_chunk_lost_from_its_index_is_caught_not_read_as_zeros(tmp_path, capsys):
    """Regression (300 one-byte flips of a cache, 2026-12-02): a flip in a chunk's coordinate in the chunk index
    made HDF5 read those rows as the fill value, zeros, with no checksum to fail; verify said intact."""
    path = make_cache(tmp_path / "c.h5")
    at = chunk_key_offset(path, "train/features/out", 1)
    raw = bytearray(path.read_bytes())
    raw[at + 5] ^= 0xFF  # the second chunk's rows now claim to be somewhere far past the end
    path.write_bytes(bytes(raw))
    lost = f"rows {CHUNK_ROWS}-{2 * CHUNK_ROWS - 1}"
    with h5py.File(path, "r") as f:  # what HDF5 alone gives: zeros, no error
        assert not f["train/features/out"][CHUNK_ROWS : 2 * CHUNK_ROWS].any()
    cache = open_cache(path)
    with pytest.raises(FeatcacheError, match=rf"is damaged \(train/features/out has lost the chunk of {lost}\); re-extract it"):
        cache.features("train", rows=slice(0, 10))
    with pytest.raises(FeatcacheError, match=f"has lost the chunk of {lost}"):
        verify(path)
    assert main(["verify", str(path)]) == 2
    assert f"has lost the chunk of {lost}" in capsys.readouterr().err
    with pytest.raises(FeatcacheError, match="is damaged"):
        find_complete(path, identity())  # never a cache hit


@pytest.mark.parametrize("offset", [0, 4, 6])  # the node's signature, its type, its count of entries
def test_a_damaged_chunk_index_node_is_one_line(tmp_path, capsys, offset):
    """Regression (a review): check_chunks_stored let HDF5's RuntimeError on a damaged B-tree node through,
    a traceback where the read itself had given the one 'damaged' line."""
    path = make_cache(tmp_path / "c.h5")
    node = chunk_key_offset(path, "train/features/out", 0) - 8 - 24  # back to the start of the TREE node
    raw = bytearray(path.read_bytes())
    assert raw[node : node + 4] == b"TREE"
    raw[node + offset] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(FeatcacheError, match=r"is damaged \(train/features/out"):
        open_cache(path).features("train")
    assert main(["verify", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is damaged (train/features/out" in err and "Traceback" not in err, err


def test_caches_carry_checksums_on_their_metadata_too(tmp_path):
    """HDF5 1.8's format (superblock v2, object headers v2): a flipped byte in an object header is refused by HDF5
    itself, where the oldest format (h5py's default) has no checksum on metadata."""
    path = make_cache(tmp_path / "c.h5")
    raw = bytearray(path.read_bytes())
    assert raw[8] == 2  # superblock version
    with h5py.File(path, "r") as f:
        header = h5py.h5o.get_info(f["train/features/out"].id).addr  # the dataset's object header
    assert raw[header : header + 4] == b"OHDR"
    raw[header + 20] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(FeatcacheError, match=r"is damaged \(.*checksum"):
        open_cache(path).features("train")


def test_a_flipped_label_byte_is_caught_on_open(tmp_path):
    path = make_cache(tmp_path / "c.h5")
    flip(path, chunk_offset(path, "train/labels") + 8)
    with pytest.raises(FeatcacheError, match=r"is damaged \(checksum mismatch in train/labels\)"):
        open_cache(path)


def test_an_open_cache_whose_file_is_replaced_refuses_to_read_the_new_file(tmp_path, monkeypatch):
    """Deleted and extracted again under its name, the file is not the one the Cache checked: its rows were read
    under the old sizes and fingerprint (an adversarial tester). Deleted, it is 'not found', not an HDF5 errno."""
    path = make_cache(tmp_path / "c.h5")
    cache = open_cache(path)
    assert cache.features("train").shape == (N_TRAIN, WIDTH)
    path.unlink()
    with pytest.raises(FeatcacheError, match=r"^cache not found: .*c\.h5 was removed since it was opened; open the cache again"):
        cache.labels("train")
    monkeypatch.setattr(sys.modules[__name__], "N_TRAIN", 20)
    make_cache(path)
    for read in (lambda: cache.features("train"), lambda: cache.labels("train"), lambda: cache.paths("train"),
                 lambda: cache.view_features("train", views=["orig"]), cache.summary):
        with pytest.raises(FeatcacheError, match=r"c\.h5 changed since it was opened .*; open the cache again, or run the call again, "):
            read()
    assert open_cache(path).features("train").shape == (20, WIDTH)  # opened again: the new file, checked


def test_rows_read_in_the_order_asked_and_refused_in_one_line_otherwise(tmp_path):
    """rows=(1, 2) read a 0-d scalar, [3, 1] ended in h5py's "increasing order" TypeError, floats and short masks in a
    bare IndexError (an adversarial tester)."""
    cache = open_cache(make_cache(tmp_path / "c.h5"))
    want = features("train", 0, N_TRAIN)
    mask = np.arange(N_TRAIN) % 3 == 0
    for rows, expected in [((1, 2), [1, 2]), ([3, 1], [3, 1]), (np.array([5, 1, 5, -1]), [5, 1, 5, N_TRAIN - 1]),
                           ([0, N_TRAIN - 1], [0, N_TRAIN - 1]), (range(4, 0, -1), [4, 3, 2, 1]), (mask, np.flatnonzero(mask)),
                           (slice(10, 4, -2), [10, 8, 6]), (slice(0, 30, 7), [0, 7, 14, 21, 28]), ([], [])]:
        got = cache.features("train", rows=rows)
        assert got.shape == (len(expected), WIDTH), rows
        np.testing.assert_array_equal(got, want[np.asarray(expected, dtype=int)], err_msg=repr(rows))
    np.testing.assert_array_equal(cache.view_features("train", rows=[3, 1])[0], want[[3, 1]])
    for rows, message in [(np.array([1.0, 2.0]), "holds float64 values, not whole row numbers"),
                          (np.ones(5, bool), f"is a boolean mask of 5 values for {N_TRAIN} rows"),
                          ([N_TRAIN], f"names row {N_TRAIN}, beyond the {N_TRAIN} rows"), (3, "3 is not a selection of rows"),
                          (True, "is not a selection"), ("a", "is not a selection"), (np.zeros((2, 2), int), r"has shape \(2, 2\)"),
                          ([[1], [2, 3]], "not a flat list"), (slice("a"), "is not a slice of rows"), (slice(0, 9, 0), "is not a slice")]:
        with pytest.raises(FeatcacheError, match=f"^rows .*{message}.*; pass a slice such as slice") as exc:
            cache.features("train", rows=rows)
        assert "\n" not in str(exc.value)


def test_an_open_cache_rewritten_in_place_refuses_to_read(tmp_path):
    path = make_cache(tmp_path / "c.h5")
    cache = open_cache(path)
    with h5py.File(path, "r+") as f:
        f["train/features/out"][0] = 5.0
    with pytest.raises(FeatcacheError, match="changed since it was opened"):
        cache.features("train", rows=slice(0, 1))


def test_changed_labels_or_attributes_fail_the_content_digest(tmp_path):
    path = make_cache(tmp_path / "c.h5")
    with h5py.File(path, "r+") as f:  # rewritten with a valid checksum: only the digest can tell
        f["train/labels"][0] = 2
    with pytest.raises(FeatcacheError, match="content digest mismatch"):
        open_cache(path)
    path = make_cache(tmp_path / "d.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["class_names"] = '["zero", "one", "deux"]'
    with pytest.raises(FeatcacheError, match="content digest mismatch"):
        open_cache(path)


@pytest.mark.parametrize("attr, value", [("runtime", "onnxruntime"), ("weights_source", "/elsewhere/w.h5"),
                                         ("created", "2020-01-01T00:00:00+0000"), ("keras_version", "9.9.9")])
def test_changed_provenance_fails_the_provenance_digest(tmp_path, capsys, attr, value):
    """How a cache was made is outside its identity, but shown (info, lesson) and used (export opens weights_source)."""
    path = make_cache(tmp_path / "c.h5", provenance={"runtime": "tensorflow", "weights_source": "/weights/w.h5",
                                                      "created": "2026-12-02T21:00:00+0000", "keras_version": "3.15.1"})
    assert verify(path).provenance
    with h5py.File(path, "r+") as f:
        f.attrs[attr] = value
    with pytest.raises(FeatcacheError, match=r"is damaged \(provenance digest mismatch: .*\); re-extract it"):
        open_cache(path)
    assert main(["verify", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "provenance digest mismatch" in err


def test_a_cache_sealed_without_a_provenance_digest_still_opens(tmp_path, capsys):
    from featcache.store.layout import content_digest

    path = make_cache(tmp_path / "c.h5")
    with h5py.File(path, "r+") as f:  # as every cache sealed before 2026-12-02: no provenance or features digest, nor their marks
        del f.attrs["provenance_digest"], f.attrs["features_digest"], f.attrs["dataset_digests"]
        del f.attrs["completion_digest"]  # (2026-12-05)
        f.attrs["content_digest"] = content_digest(f)
    result = verify(path)
    assert not result.provenance and not result.features and len(open_cache(path).labels("train")) == N_TRAIN
    assert main(["verify", str(path)]) == 0
    assert "content digest matches (no features digest: sealed before 2026-12-03) (" in capsys.readouterr().out


def test_deleting_the_provenance_digest_does_not_switch_its_check_off(tmp_path):
    """A review: without its attribute a cache looked sealed before provenance digests, so deleting it (and editing
    weights_source) passed open and verify. Its presence is part of the content digest, so the line names it
    missing (helper-258: it said "content digest mismatch: its labels, index, paths or settings changed")."""
    path = make_cache(tmp_path / "c.h5", provenance={"weights_source": "/weights/w.h5"})
    with h5py.File(path, "r+") as f:
        del f.attrs["provenance_digest"]
        f.attrs["weights_source"] = "/elsewhere/w.h5"
    with pytest.raises(FeatcacheError, match=r"is damaged \(attribute 'provenance_digest' is missing: it was sealed"):
        open_cache(path)


@pytest.mark.parametrize("attr, value, message", [
    ("class_names", "[not json", "an attribute is unreadable"),
    ("layers", None, "attribute 'layers' is missing"),
    ("default_layer", "nope", "'default_layer' is not one of its layers"),
])
def test_damaged_attributes_are_one_line(tmp_path, attr, value, message):
    path = make_cache(tmp_path / "c.h5")
    with h5py.File(path, "r+") as f:
        if value is None:
            del f.attrs[attr]
        else:
            f.attrs[attr] = value
    with pytest.raises(FeatcacheError, match=f"is damaged .*{message}.*re-extract it"):
        open_cache(path)


def _rewrite(path: Path, name: str, data, **kw) -> None:
    with h5py.File(path, "r+") as f:
        del f[name]
        f.create_dataset(name, data=data, **kw)


@pytest.mark.parametrize("name, data, kw, message", [
    ("train/features/out", np.ones((N_TRAIN, WIDTH), np.float32), {}, r"train/features/out carries no checksum"),
    ("train/features/out", np.ones((N_TRAIN, 2, WIDTH // 2), np.float32), {"chunks": True, "fletcher32": True},
     r"train/features/out is not \(images, \d+\) floats but float32 \(\d+, 2, \d+\)"),
    ("train/features/out", np.ones((N_TRAIN, WIDTH + 1), np.float32), {"chunks": True, "fletcher32": True},
     r"train/features/out is not \(images, \d+\) floats"),
    ("train/labels", np.zeros(N_TRAIN, np.float64), {"chunks": True, "fletcher32": True}, r"train/labels is not one whole number per image"),
    ("train/labels", np.zeros((N_TRAIN, 2), np.int64), {"chunks": True, "fletcher32": True}, r"train/labels is not one whole number per image"),
], ids=["contiguous-features", "3d-features", "other-width", "float-labels", "2d-labels"])
def test_hostile_datasets_are_refused_when_the_cache_opens(tmp_path, capsys, name, data, kw, message):
    """Files an adversarial tester made by hand: a features dataset without chunks has no checksum (verify read none of
    it and a flipped byte there was trained on); the others crashed train, evaluate or info with a traceback."""
    path = make_cache(tmp_path / "c.h5")
    _rewrite(path, name, data, **kw)
    with pytest.raises(FeatcacheError, match=f"is damaged \\({message}.*\\); re-extract it"):
        open_cache(path)
    for command in (["verify", str(path)], ["info", str(path)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is damaged" in err


def test_nan_features_are_damage_not_a_heads_error(tmp_path, capsys):
    path = make_cache(tmp_path / "c.h5")
    with h5py.File(path, "r+") as f:  # rewritten in place: the chunk's checksum stays valid, only a value check can tell
        f["test/features/out"][3, 5] = np.nan
    cache = open_cache(path)
    assert np.isfinite(cache.features("train")).all()
    with pytest.raises(FeatcacheError, match=r"is damaged \(test/features/out holds NaN or infinite values\)"):
        cache.features("test")
    assert main(["train", str(path), "--head", "logreg", "--out", str(tmp_path / "h.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds NaN or infinite values" in err and not (tmp_path / "h.npz").exists()
    # verify reads every value too: it called this cache intact while train refused it (a review)
    with pytest.raises(FeatcacheError, match=r"is damaged \(test/features/out holds NaN or infinite values\)"):
        verify(path)


def test_values_beyond_float16s_range_are_refused_when_written_not_sealed_as_inf(tmp_path):
    """check_finite ran on the float32 output; the cast to float16 made 7e4 an inf that the reader then called damage,
    and re-extracting wrote the same again (a review)."""
    w = CacheWriter(tmp_path / "c.h5", writer(tmp_path / "x.h5").attrs, specs(), {"out": WIDTH}, "float16")
    done = w.open()
    big = features("train", 0, 64)
    big[0, 0] = 7e4
    with pytest.raises(FeatcacheError, match=r"^out has values beyond float16's range .*; use StoreSpec\(dtype='float32'\)$"):
        w.write("train", done["train"], {"out": big})
    w.close()


def test_values_below_float16s_range_are_refused_when_written_not_stored_as_zeros(tmp_path):
    """Regression (helper-255): an image's features under float16's smallest step (random weights' out_relu at 32
    px, |v| about 1e-11) were stored as all zeros: the cache verified intact and train scored its heads at chance
    (0.3333 on 3 classes, the float32 cache of the same photos 1.0) without a word. Refused when written, as values
    past its range are; rows of 0 and features in range (0.05% rounding) are stored."""
    w = CacheWriter(tmp_path / "c.h5", writer(tmp_path / "x.h5").attrs, specs(), {"out": WIDTH}, "float16")
    done = w.open()
    fine = features("train", 0, 64)
    fine[1] = 0.0  # a row of zeros is held exactly
    w.write("train", done["train"], {"out": fine})
    tiny = features("train", 64, 64)
    tiny[3] = tiny[3] * 1e-11 / np.abs(tiny[3]).max()
    with pytest.raises(FeatcacheError, match=r"^out has values too small for float16 \(an image's largest is 1e-11;"
                                             r".*; use StoreSpec\(dtype='float32'\)$"):
        w.write("train", done["train"] + 64, {"out": tiny})
    w.close()


def test_a_format_1_cache_is_read_with_a_warning_and_cannot_be_verified(tmp_path):
    path = tmp_path / "old.h5"
    w = writer(path, identity(format_version=1))
    write_rows(w, w.open())
    w.finish()
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 1
        del f.attrs["content_digest"]
        f.attrs["featcache_version"] = "0.2.0"
    # the digests deleted and format_version set back to 1, features rewritten: trained on with a warning (an
    # adversarial tester). No release from 0.2.0 on writes format 1: damaged
    for command in (lambda: open_cache(path), lambda: verify(path)):
        with pytest.raises(FeatcacheError, match=r"is damaged \(it says format 1, which featcache 0.2.0 never wrote; its "
                                                 r"digests were removed\)"):
            command()
    with h5py.File(path, "r+") as f:
        f.attrs["featcache_version"] = "0.1.0"
    with pytest.warns(UncheckedCacheWarning, match="format-1 cache without checksums"):
        cache = open_cache(path)
    assert cache.summary()["checksums"] == "none (format 1)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(FeatcacheError, match=re.escape("cannot be verified; delete it and re-run featcache.extract(...)")):
            verify(path)
    with pytest.raises(FeatcacheError, match=r"other settings \(differs in: format_version\)"):
        find_complete(path, identity())  # extract --out old.h5 refuses it, naming format_version
    # On the command line, the warning is one line naming the command, as its errors do (one formatter for all
    # commands now; the head commands had their own, the others said "featcache: warning:").
    proc = subprocess.run([sys.executable, "-m", "featcache", "info", str(path)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0 and proc.stderr.strip().startswith("featcache info: warning: ") and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


# -- completeness and its seal ------------------------------------------------------------------------

# Written by featcache before completion digests (57fa2c8, 2026-12-05) with ``toy_cache`` below: 6 train and 3 test
# rows of a 4-wide layer, sealed with content, provenance, features and per-dataset digests and no completion digest.
SEALED_BEFORE_COMPLETION_DIGEST = Path(__file__).parent / "data" / "sealed_before_completion_digest.h5"


def toy_cache(path: Path) -> tuple[Path, CacheIdentity]:
    """The cache of ``SEALED_BEFORE_COMPLETION_DIGEST``, written by this code, and its identity."""
    ident = identity(class_names=["zero", "one"])
    attrs = {"fingerprint": ident.fingerprint, "settings": ident.settings(), "class_names": ["zero", "one"],
             "layers": ["out"], "default_layer": "out", "dtype": "float32"}
    w = CacheWriter(path, attrs, [SplitSpec("train", np.arange(6) % 2, np.arange(6)),
                                  SplitSpec("test", np.arange(3) % 2, np.arange(3))], {"out": 4}, "float32")
    w.open()
    for split, n in (("train", 6), ("test", 3)):
        w.write(split, 0, {"out": np.arange(n * 4, dtype=np.float32).reshape(n, 4) + (100 if split == "test" else 0)})
    return w.finish({"featcache_version": "0.2.0"}), ident


def _hand_edited(path: Path, group: str = "/", **attrs) -> Path:
    """Set attributes of ``group`` in the file at ``path`` by hand (None: delete one), as anyone with h5py can."""
    with h5py.File(path, "r+") as f:
        for key, value in attrs.items():
            if value is None:
                del f[group].attrs[key]
            else:
                f[group].attrs[key] = value
    return path


@pytest.mark.parametrize("value", [False, None], ids=["false", "deleted"])
def test_a_finished_cache_marked_unfinished_is_refused_and_left_alone(tmp_path, capsys, value):
    """Regression (2026-12-05): 'complete' set to false on a finished cache (an h5py one-liner) made it "an incomplete
    cache: an unfinished extraction of c.h5, copied or renamed" to verify and train, "NO (running or interrupted)" to
    info (exit 0), and extract of its settings replaced it ("extracts it again and replaces it"). Its seal gives the
    edit away: one line naming it, exit 2, for every reader and for extract's look at --out; the file untouched."""
    path = _hand_edited(make_cache(tmp_path / "c.h5"), complete=value)
    before = path.read_bytes()
    shown = "False" if value is False else "missing"
    want = rf"c\.h5 is damaged \(marked unfinished \('complete' is {shown}\) after it was sealed complete\); re-extract it"
    with pytest.raises(DamagedCache, match=want):
        open_cache(path)
    with pytest.raises(DamagedCache, match=want):  # extract: neither a hit nor an unfinished extraction to replace
        find_complete(path, identity())
    assert incomplete_replaced(path) is None
    for command in (["verify", str(path)], ["info", str(path)], ["info", str(path), "--json"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and re.search(want, err), err
    assert path.read_bytes() == before


@pytest.mark.parametrize("group, key, value, what", [
    ("/", "complete", False, r"marked unfinished \('complete' is False\) after it was sealed complete"),
    ("train", "rows_done", N_TRAIN + 1, "completion digest mismatch"),
    ("test", "rows_done", 0, "completion digest mismatch"),
])
def test_a_sealed_partial_with_its_completeness_edited_is_never_resumed_over(tmp_path, monkeypatch, group, key, value, what, extracts_words):
    """Regression (2026-12-05): a complete extraction stopped before its rename (a sealed partial), with 'complete'
    set to false, was resumed as a partial and sealed again; with a split's rows_done set past its rows it was "damaged
    ... starting it over": deleted, every row with it. The writer refuses it now, in one line, and keeps it."""
    path = tmp_path / "c.h5"
    _sealed_not_renamed(path, identity(), monkeypatch)
    part = _hand_edited(partial_path(path), group, **{key: value})
    before = part.read_bytes()
    want = rf"c\.h5\.partial\.h5 is in the way of featcache's partial file \(it is a finished featcache cache, edited: {what}"
    assert not find_complete(path, identity())  # no hit; the writer's look at its partial refuses it
    with pytest.raises(FeatcacheError, match=want):
        check_partial(part)
    with pytest.raises(FeatcacheError, match=want + r".*\); move it away, or choose another StoreSpec\(out=\.\.\.\) \(it was left untouched\)$"):
        writer(path).open()
    assert part.read_bytes() == before and not path.exists()


def test_a_sealed_partial_whose_resume_takes_rows_back_is_unsealed_first(tmp_path, monkeypatch):
    """A sealed partial (stopped before its rename) with a damaged feature chunk is resumed from that chunk: its
    rows_done drops, which its completion digest would call an edit, so a run stopped before sealing it again would
    leave a partial the next run refuses. The resume unseals it first: stopped, it is a plain partial, taken up."""
    path = tmp_path / "c.h5"
    _sealed_not_renamed(path, identity(), monkeypatch)
    flip(partial_path(path), chunk_offset(partial_path(path), "train/features/out", 2) + 100)
    w = writer(path)
    assert w.open() == {"train": 2 * CHUNK_ROWS, "test": N_TEST}
    w.close()  # stopped before any row was written again
    with h5py.File(partial_path(path), "r") as f:
        assert not f.attrs["complete"] and not any(k in f.attrs for k in ("content_digest", "completion_digest", "completed"))
    again = writer(path)
    write_rows(again, again.open())
    again.finish()
    np.testing.assert_array_equal(open_cache(path).features("train"), features("train", 0, N_TRAIN))
    assert verify(path).completion


@pytest.mark.parametrize("group, key, value", [
    ("/", "complete", 1),
    ("train", "rows_done", 0),
    ("test", "rows_done", N_TEST + 5),
    ("train", "rows_done", None),
])
def test_an_edited_completeness_fails_the_completion_digest(tmp_path, capsys, group, key, value):
    """Regression (2026-12-05): a split's rows_done was covered by no digest: verify called a cache intact whatever
    it said. The seal's completion digest covers it, with 'complete'; checked on every open."""
    path = _hand_edited(make_cache(tmp_path / "c.h5"), group, **{key: value})
    want = (r"c\.h5 is damaged \(completion digest mismatch: its 'complete' or a split's rows_done changed after it was "
            r"sealed\); re-extract it")
    with pytest.raises(DamagedCache, match=want):
        open_cache(path)
    assert main(["verify", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(want, err), err


def _sealed_again_as_57fa2c8_does(path: Path) -> Path:
    """What featcache 57fa2c8 (before completion digests) does to a sealed partial its run finishes: its ``_seal``
    again, step for step: ``complete`` and the time ``completed`` written anew and its own digests made again, the
    completion digest it does not know left as it was (the provenance digest it makes covers it as it stands)."""
    from featcache.store.layout import (DATASET_DIGESTS, combine_digests, content_digest, dataset_digests, encode,
                                        provenance_digest)

    with h5py.File(path, "r+") as f:
        f.attrs["complete"] = True
        f.attrs["completed"] = "2026-12-06T09:30:00+0000"  # a later run's time: not the one the seal digested
        f.flush()
        digests = dataset_digests(f)
        f.attrs[DATASET_DIGESTS] = encode(digests)
        f.attrs["features_digest"] = combine_digests(digests)
        f.attrs["provenance_digest"] = provenance_digest(f)
        f.attrs["content_digest"] = content_digest(f)
    return path


def test_a_cache_finished_by_an_older_featcache_from_a_partial_sealed_here_verifies(tmp_path, monkeypatch, capsys):
    """Regression (a reviewer, 2026-12-05): the completion digest covered the time 'completed'. A run stopped after
    its seal, before its rename, leaves a sealed partial; featcache 57fa2c8 finishes it by sealing it again, which
    rewrites 'completed' but not the completion digest, so the cache it published was refused as "damaged (completion
    digest mismatch ...)" here, though intact. 'completed' is left to the provenance digest: edited alone, it is
    refused there."""
    path = tmp_path / "c.h5"
    _sealed_not_renamed(path, identity(), monkeypatch)
    os.replace(_sealed_again_as_57fa2c8_does(partial_path(path)), path)  # and its publish renames it into place
    assert verify(path).completion and find_complete(path, identity())
    np.testing.assert_array_equal(open_cache(path).features("train"), features("train", 0, N_TRAIN))
    assert main(["verify", str(path)]) == 0
    assert "completion digest matches" in capsys.readouterr().out
    with pytest.raises(DamagedCache, match=r"c\.h5 is damaged \(provenance digest mismatch: "):
        open_cache(_hand_edited(path, completed="1999-01-01T00:00:00+0000"))


def test_an_unfinished_extraction_marked_complete_is_never_used_and_its_own_run_finishes_it(tmp_path, capsys):
    """Regression (2026-12-05): 'complete' set to true on an interrupted extraction (most of its rows never written,
    zeros if read) was refused as "damaged (content digest mismatch: its labels, index, paths or settings changed)",
    which said nothing true, and 'info' of its cache's name showed it as "complete yes" (exit 0). It was never sealed:
    said so, with what finishes it; the run of its settings does, re-checking its rows, and uses none as zeros."""
    path = tmp_path / "c.h5"
    w = writer(path)
    write_rows(w, w.open(), stop={"train": 128, "test": 0})
    w.close()
    part = _hand_edited(partial_path(path), complete=True)
    want = (rf"{re.escape(str(part))} is not a finished cache: it is marked complete but was never sealed \(it has no "
            r"content digest\): an extraction stopped while sealing it, or an unfinished one marked complete by hand; "
            r"re-run the same {} to finish it$")
    with pytest.raises(DamagedCache, match=want.format(r"featcache\.extract call")):  # the API's words (errors.option)
        open_cache(part)
    for command in (["verify", str(part)], ["info", str(part)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and re.search(want.format("extract command"), err.strip().split("error: ", 1)[1]), err
    assert main(["info", str(path)]) == 2
    assert "c.h5 is not finished: c.h5.partial.h5 beside it holds an extraction" in capsys.readouterr().err
    # a copy says where it must go back to be finished; without the partial's name to go back to, it is damaged
    copy = tmp_path / "copy.h5"
    copy.write_bytes(part.read_bytes())
    with pytest.raises(DamagedCache, match=r"copy\.h5 is not a finished cache: .*; no rerun finishes it under this name; "
                                           r"to finish it, move it back to c\.h5\.partial\.h5 beside c\.h5 and re-run"):
        open_cache(copy)
    with pytest.raises(DamagedCache, match=r"copy\.h5 is damaged \(it is marked complete but was never sealed \(it has "
                                           r"no content digest\)\); re-extract it"):
        open_cache(_hand_edited(copy, partial_of=None))
    # the run of its settings takes it up where its rows stop, and seals it
    again = writer(path)
    assert again.open() == {"train": 128, "test": 0}
    write_rows(again, {"train": 128, "test": 0})
    again.finish()
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        np.testing.assert_array_equal(open_cache(path).features(split), features(split, 0, n))
    assert verify(path).completion and not partial_path(path).exists()


def test_a_cache_sealed_before_completion_digests_is_still_a_hit_and_verifies(tmp_path, capsys):
    """A cache written by featcache before completion digests (``SEALED_BEFORE_COMPLETION_DIGEST``) opens, verifies
    and is a cache hit as before, with nothing to compare its rows_done against; marked unfinished, its other digests
    still give the edit away. A cache written now has the same content digest, so a featcache from before reads it
    (its provenance digest covers the new attribute whatever its name)."""
    old = tmp_path / SEALED_BEFORE_COMPLETION_DIGEST.name
    old.write_bytes(SEALED_BEFORE_COMPLETION_DIGEST.read_bytes())
    new, ident = toy_cache(tmp_path / "new" / old.name)
    with h5py.File(old, "r") as f, h5py.File(new, "r") as g:
        assert "completion_digest" not in f.attrs and "completion_digest" in g.attrs
        assert f.attrs["fingerprint"] == ident.fingerprint
        for key in ("content_digest", "features_digest", "dataset_digests"):
            assert f.attrs[key] == g.attrs[key], key
    result = verify(old)
    assert result.features and result.provenance and not result.completion
    assert find_complete(old, ident)  # a hit (extract runs the full verify first)
    np.testing.assert_array_equal(open_cache(old).features("test"), open_cache(new).features("test"))
    assert main(["verify", str(old)]) == 0
    out = capsys.readouterr().out
    assert "provenance digest matches, features digest matches" in out and "completion digest" not in out
    assert main(["verify", str(new)]) == 0
    assert "provenance digest matches, completion digest matches, features digest matches" in capsys.readouterr().out
    assert main(["info", str(old)]) == 0  # it recorded no time it was made: said so, not "None" (helper-296's brief)
    created = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("created "))
    assert created.split()[1:3] == ["not", "recorded"] and "None" not in created, created
    with pytest.raises(DamagedCache, match=r"marked unfinished \('complete' is False\) after it was sealed complete"):
        open_cache(_hand_edited(old, complete=False))


# -- resume --------------------------------------------------------------------------------------


def _partial(tmp_path: Path, rows: int = 320) -> tuple[Path, CacheWriter]:
    path = tmp_path / "c.h5"
    w = writer(path)
    write_rows(w, w.open(), stop={"train": rows, "test": 0})
    w.close()
    return path, w


def test_resume_rewrites_damaged_labels_from_the_source(tmp_path):
    path, _ = _partial(tmp_path)
    part = partial_path(path)
    with h5py.File(part) as f:
        assert int(f["train"].attrs["rows_done"]) == 320
    base = chunk_offset(part, "train/labels")
    for offset in (0, 8 * 100 + 3, 8 * 599):  # three labels, at the start, the middle and the end
        flip(part, base + offset)
    w = writer(path)
    done = w.open()
    assert done == {"train": 320, "test": 0}
    assert any("train labels did not match the source" in line for line in w.repairs)
    write_rows(w, done)
    w.finish()
    cache = open_cache(path)
    for s in specs():
        assert cache.labels(s.name).tolist() == s.labels.tolist() and cache.index(s.name).tolist() == s.index.tolist()
    verify(path)


def test_resume_starts_over_when_hdf5_refuses_a_partials_damaged_metadata(tmp_path):
    """Regression (a review): HDF5 refuses a checksummed object header with a RuntimeError ("incorrect metadata
    checksum"), which the resume did not catch: a traceback instead of starting the partial over. Since the partial's
    link walk (helper-223, 2026-12-06) the look meets the damaged header before the resume opens it for writing: a
    partial whose links cannot all be walked is not resumed (a link past the damage would be followed) but set aside
    as unreadable, kept byte for byte, and the run starts over."""
    path, _ = _partial(tmp_path)
    part = partial_path(path)
    with h5py.File(part, "r") as f:
        header = h5py.h5o.get_info(f["train/features/out"].id).addr
    raw = bytearray(part.read_bytes())
    raw[header + 20] ^= 0xFF
    part.write_bytes(bytes(raw))
    w = writer(path)
    assert w.open() == {"train": 0, "test": 0}
    assert any("is not a partial featcache can read" in line and "starting" in line for line in w.repairs), w.repairs
    kept = [p for p in tmp_path.iterdir() if p.name.startswith(f"{part.name}.unreadable-")]
    assert len(kept) == 1 and kept[0].read_bytes() == bytes(raw), w.repairs
    write_rows(w, {"train": 0, "test": 0})
    w.finish()
    verify(path)


def test_resume_redoes_damaged_feature_chunks(tmp_path):
    path, _ = _partial(tmp_path)
    flip(partial_path(path), chunk_offset(partial_path(path), "train/features/out", 1) + 40, 16)
    w = writer(path)
    done = w.open()
    assert done["train"] == CHUNK_ROWS and any(f"from row {CHUNK_ROWS} were damaged" in line for line in w.repairs)
    write_rows(w, done)
    w.finish()
    np.testing.assert_array_equal(open_cache(path).features("train"), features("train", 0, N_TRAIN))


def test_resume_redoes_a_damaged_last_chunk_not_the_whole_split(tmp_path):
    """Regression: the last chunk (rows 512-599 of 600 in chunks of 256) is an edge chunk; clearing it used to read it
    first, fail its checksum, and start the partial over from row 0."""
    last = (N_TRAIN - 1) // CHUNK_ROWS  # the edge chunk, partly written below
    first = last * CHUNK_ROWS
    path, _ = _partial(tmp_path, rows=(first + N_TRAIN) // 2)
    flip(partial_path(path), chunk_offset(partial_path(path), "train/features/out", last) + 40, 16)
    w = writer(path)
    done = w.open()
    assert done["train"] == first and any(f"from row {first} were damaged" in line for line in w.repairs), w.repairs
    write_rows(w, done)
    w.finish()
    np.testing.assert_array_equal(open_cache(path).features("train"), features("train", 0, N_TRAIN))
    with h5py.File(path, "r") as f:  # the chunks cleared raw were written again through the checksum filter
        ds = f["train/features/out"]
        assert [ds.id.get_chunk_info(i).filter_mask for i in range(ds.id.get_num_chunks())] == [0] * (last + 1)
    verify(path)


def test_resume_says_what_it_repairs_when_verbose(tmp_path, capsys):
    path, _ = _partial(tmp_path)
    flip(partial_path(path), chunk_offset(partial_path(path), "train/index") + 16)
    writer(path, verbose=True).open()
    assert capsys.readouterr().err.strip().endswith("the partial's train index did not match the source; rewritten from it")


# -- atomic files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_files_get_the_users_normal_mode(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        atomic.write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == mode


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_an_atomic_write_keeps_the_mode_of_the_file_it_replaces(tmp_path, umask):
    """Regression (an adversarial tester): a head, model, CSV or report the user made private (chmod 600) came back
    0644 after a rerun, though the docs say the CSV is written as the shell's ``>`` writes (which keeps the mode).
    The file replaced gives its permission bits, through a link as ``>`` does; a new file still follows the umask."""
    private, shared, target = tmp_path / "private.txt", tmp_path / "shared.txt", tmp_path / "target.txt"
    for f, mode in ((private, 0o600), (shared, 0o640), (target, 0o604)):
        f.write_text("old")
        f.chmod(mode)
    (tmp_path / "link.txt").symlink_to(target)
    old = os.umask(umask)
    try:
        for name in ("private.txt", "shared.txt", "new.txt"):
            atomic.write_text(tmp_path / name, "new")
        atomic.write_text(target, "new")  # what predict --csv does with a link: writes its target
    finally:
        os.umask(old)
    modes = {f.name: f.stat().st_mode & 0o777 for f in tmp_path.iterdir()}
    assert modes == {"private.txt": 0o600, "shared.txt": 0o640, "target.txt": 0o604, "link.txt": 0o604,
                     "new.txt": 0o666 & ~umask}, modes
    assert private.read_text() == "new"


def test_no_space_while_writing_an_atomic_file_is_one_line_and_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "head.joblib"
    target.write_text("previous")

    def full(_path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "fsync_file", full)
    with pytest.raises(FeatcacheError, match=r"^no space left on /.* writing .*head\.joblib; free some space or choose out elsewhere$"):
        atomic.write_text(target, "new")
    with pytest.raises(FeatcacheError, match="no space left on"):
        with atomic_path(tmp_path / "b.keras"):
            raise RuntimeError("keras could not save") from OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "previous" and sorted(p.name for p in tmp_path.iterdir()) == ["head.joblib"]


def test_temporaries_of_killed_atomic_writes_are_cleaned_up_by_the_next_write(tmp_path):
    """Regression (an adversarial tester): a head/report/model write SIGKILLed mid-way left its 0600 temporary for
    good; then (a second tester) for an hour, since a younger one might be a live write. Temporaries carry their
    writer's tag (pid, start time, host): a killed writer's go at the next write, a live writer's stay, and those
    of a writer this process cannot look up (another host or container) or without a tag stay an hour."""
    from featcache import paths

    target = tmp_path / "head.keras"
    code = ("import os, signal, sys; from featcache.store.atomic import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n    tmp.write_text('half')\n    os.kill(os.getpid(), signal.SIGKILL)\n")
    subprocess.run([sys.executable, "-c", code, str(target)], cwd=REPO, check=False)
    first = sorted(tmp_path.glob(".head.keras.*"))
    subprocess.run([sys.executable, "-c", code, str(target)], cwd=REPO, check=False)  # the next write: the first goes
    killed = sorted(tmp_path.glob(".head.keras.*"))
    assert len(first) == 1 and len(killed) == 1 and killed != first and not target.exists()
    prefix = atomic._temporary_parts(target)[0]
    start = paths._start_of(1) if paths._PROC else "0badcafe"
    live = tmp_path / f"{prefix}1-{start}-{paths._HOST}.abcd1234.keras"  # pid 1 runs: a write going on
    foreign_recent, foreign_old = (tmp_path / f"{prefix}{pid}-12345-0000beef.abcd1234.keras" for pid in (5, 6))
    untagged_recent, untagged_old = (tmp_path / f"{prefix}{name}.keras" for name in ("abcd1234", "wxyz9876"))
    users = tmp_path / ".head.keras.bak"  # a user's file that merely looks alike
    # a user's backups whose dotted part reads as the first marks' PID-START: deleted at once (an adversarial tester)
    backups = [tmp_path / ".head.keras.2024-01.backup_1.keras", tmp_path / ".head.keras.1-1.mycopy01.keras"]
    for p in (live, foreign_recent, foreign_old, untagged_recent, untagged_old, users, *backups):
        p.write_text("mine" if p in (users, *backups) else "half")
    hours_ago = time.time() - 2 * atomic.STALE_SECONDS
    for p in (untagged_old, users, *backups):
        os.utime(p, (hours_ago, hours_ago))
    with atomic_path(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole" and not any(p.exists() for p in killed)
    # a name without a writer's tag is never taken for a temporary: '.head.keras.backup01.keras' was, after an hour
    # (a review); temporaries of the untagged form, before 2026-12-04, stay
    assert untagged_old.exists() and untagged_recent.exists()
    assert live.exists() and foreign_recent.exists() and users.read_text() == "mine"
    # a foreign writer's is judged by its last change (mtime or ctime: link(2) leaves mtime as it was): two hours on
    from featcache import paths as paths_mod

    real_time = time.time
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(paths_mod.time, "time", lambda: real_time() + 2 * atomic.STALE_SECONDS)
        atomic.remove_stale_temporaries(target)
    assert not foreign_recent.exists() and not foreign_old.exists() and live.exists()
    assert all(p.read_text() == "mine" for p in backups)


def test_a_failed_atomic_write_removes_the_folders_it_made(tmp_path, monkeypatch):
    """A full disk in export/train/predict --csv left the empty folders made for --out (x/y/; an adversarial
    tester): they go again, and a folder that held something, or that someone filled meanwhile, stays."""
    def full(_path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "fsync_file", full)
    with pytest.raises(FeatcacheError, match="no space left on"):
        atomic.write_text(tmp_path / "x" / "y" / "m.keras", "model")
    assert not (tmp_path / "x").exists()
    (tmp_path / "kept").mkdir()
    with pytest.raises(FeatcacheError):
        with atomic_path(tmp_path / "kept" / "new" / "h.npz") as tmp:
            (tmp_path / "kept" / "new" / "someone's.txt").write_text("theirs")  # put there during the write
            tmp.write_text("half")
    assert (tmp_path / "kept" / "new" / "someone's.txt").read_text() == "theirs"


def test_a_name_near_the_file_systems_limit_is_written_and_its_temporaries_cleaned(tmp_path):
    """A legal 250-byte --out failed after the work (a tester): the temporary's name added 10-14 bytes to it, past
    NAME_MAX. The temporary's name is shortened to fit; a killed write's temporary is still found and cleaned."""
    target = tmp_path / (("h" * 244) + ".keras")
    assert len(target.name.encode()) == 250
    with atomic_path(target) as tmp:
        assert len(tmp.name.encode()) <= 255
        tmp.write_text("whole")
    assert target.read_text() == "whole"
    from featcache import paths as paths_mod

    # a killed writer's temporary: this pid, started at another time
    stale = tmp_path / (atomic._temporary_parts(target)[0] + f"{os.getpid()}-1-{paths_mod._HOST}.abcd1234.keras")
    stale.write_text("a killed write")
    atomic.write_text(target, "again")
    assert not stale.exists() and target.read_text() == "again"
    # A suffix that leaves no room (a legal 254-byte name: predict --csv out.<250 c's>) looped for ever (a review)
    long_suffix = tmp_path / ("o." + "c" * 250)
    atomic.write_text(long_suffix, "csv")
    assert long_suffix.read_text() == "csv"
    # Two long names alike in their first bytes have temporaries of their own (a hash of the whole name)
    a, b = (tmp_path / ("h" * 240 + tail + ".keras") for tail in ("a", "b"))
    assert atomic._temporary_parts(a) != atomic._temporary_parts(b)


# -- a full disk while writing a cache ------------------------------------------------------------


def test_injected_no_space_in_a_cache_write_is_one_line_and_the_partial_resumes(tmp_path, monkeypatch, extracts_words):
    path = tmp_path / "c.h5"
    w = writer(path)
    done = w.open()
    write_rows(w, done, stop={"train": 128, "test": 0})
    w.commit()
    real = h5py.Dataset.__setitem__

    def full(self, key, value):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(h5py.Dataset, "__setitem__", full)
    with pytest.raises(FeatcacheError, match=r"no space left on .* writing .*c\.h5\.partial\.h5; free \d+ MB or choose StoreSpec\(out=\.\.\.\) elsewhere"):
        w.write("train", 128, {"out": features("train", 128, 64)})
    w.close()  # as extract's finally does: nothing left to close
    monkeypatch.setattr(h5py.Dataset, "__setitem__", real)
    w = writer(path)
    assert w.open() == {"train": 128, "test": 0}
    write_rows(w, {"train": 128, "test": 0})
    w.finish()
    np.testing.assert_array_equal(open_cache(path).features("train"), features("train", 0, N_TRAIN))


# A cache of the tester's --layers blocks (17 layers): its seal grows the partial by about 4 KB, where one layer's
# fits in the space HDF5 had already allocated and no fault at the seal could be injected by size.
BLOCKS = [f"block_{i}_project_BN" for i in range(17)]


def blocks_writer(path: Path) -> CacheWriter:
    ident = identity(layers=BLOCKS)
    attrs = {"fingerprint": ident.fingerprint, "settings": ident.settings(), "class_names": list(ident.class_names),
             "layers": BLOCKS, "default_layer": BLOCKS[0], "dtype": "float32"}
    return CacheWriter(path, attrs, specs(), {layer: WIDTH for layer in BLOCKS}, "float32")


def write_blocks(w: CacheWriter, done: dict[str, int]) -> None:
    for s in w.splits:
        for start in range(done[s.name], len(s.labels), 64):
            w.write(s.name, start, {layer: features(s.name, start, min(64, len(s.labels) - start)) for layer in BLOCKS})


# The fault at the seal, in a process of its own: ``fill`` runs once every row is committed, just before finish.
SEAL_FAULT = textwrap.dedent("""
    import os, resource, sys
    sys.path.insert(0, {tests!r})
    from test_store import blocks_writer, write_blocks
    from featcache.errors import FeatcacheError
    from pathlib import Path
    w = blocks_writer(Path({path!r}))
    try:
        write_blocks(w, w.open())
        w.commit()
        partial = w.partial
        {fill}
        w.finish()
    except FeatcacheError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)
    finally:
        w.close()
    """)


def _seal_fault(path: Path, fill: str) -> subprocess.CompletedProcess:
    script = SEAL_FAULT.format(tests=str(REPO / "tests"), path=str(path), fill=fill)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def _assert_seal_fault_resumes(path: Path, proc: subprocess.CompletedProcess, line: str) -> None:
    """One line, exit 2, the partial kept whole; a rerun with room takes up every row and seals the cache an
    uninterrupted run makes (its features, rows and digests; no byte of the room reserved for the seal left)."""
    from featcache.store.writer import _end_of_allocation

    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith(line), proc.stderr
    assert partial_path(path).exists() and not path.exists()
    w = blocks_writer(path)
    assert w.open() == {"train": N_TRAIN, "test": N_TEST} and w.repairs == []
    w.finish()
    clean = blocks_writer(path.with_name("clean.h5"))
    write_blocks(clean, clean.open())
    clean.finish()
    got, want = open_cache(path), open_cache(clean.path)
    assert verify(path).features and not partial_path(path).exists()
    for split in ("train", "test"):
        np.testing.assert_array_equal(got.labels(split), want.labels(split))
        for layer in BLOCKS:
            np.testing.assert_array_equal(got.features(split, layer), want.features(split, layer))
    assert got.meta["features_digest"] == want.meta["features_digest"]
    assert got.meta["content_digest"] == want.meta["content_digest"]
    assert os.path.getsize(path) == _end_of_allocation(path)


@pytest.mark.parametrize("room", ["reserved", "not reserved"])
def test_a_file_size_limit_at_the_seal_is_one_line_and_a_rerun_seals_the_same_cache(tmp_path, room):
    """An adversarial tester filled a tmpfs just as an extraction was sealed: exit 139 (the full-disk handling read
    the half-closed file, ``_count_written``), and a partial every later run refused. The same fault, exactly at the
    seal: files of the process stop at the partial's size once its rows are committed (EFBIG, Python ignores
    SIGXFSZ). The old code segfaulted here at every limit from 9 KB below the partial's size to 4 KB above it.

    "not reserved": as on a file system where the room allocated for the seal does not hold (copy-on-write), the
    fault hits HDF5's own writes of the seal and its close: the file is then not touched again, and it is one line."""
    path = tmp_path / "c.h5"
    fill = "resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(partial), resource.RLIM_INFINITY))"
    if room == "not reserved":
        fill = "import featcache.store.writer as wm; wm._reserve_room = lambda *a: None; " + fill
    proc = _seal_fault(path, fill)
    _assert_seal_fault_resumes(path, proc, f"file size limit reached writing {partial_path(path)} on ")


def test_a_full_disk_at_the_seal_is_one_line_and_a_rerun_seals_the_same_cache(tmp_path):
    """The tester's fault itself: a tmpfs with no page left once the rows are committed."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "4m"):
        pytest.skip("cannot mount a tmpfs here (needs root); the file size limit test injects the fault at the seal")
    try:
        fill = "st = os.statvfs(partial.parent); open(partial.parent / 'fill', 'wb').write(bytes(st.f_bavail * st.f_frsize))"
        proc = _seal_fault(disk / "c.h5", fill)
        (disk / "fill").unlink()
        _assert_seal_fault_resumes(disk / "c.h5", proc, f"no space left on {disk} writing {partial_path(disk / 'c.h5')}; free ")
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def _mount_tmpfs(directory: Path, size: str) -> bool:
    directory.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)], capture_output=True).returncode == 0


def test_a_real_full_disk_is_one_line_not_a_crash(tmp_path):
    """A 2 MB tmpfs (mountable where tests run as root) and 3 MB of rows: h5py used to segfault here (exit 139)."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "2m"):
        pytest.skip("cannot mount a tmpfs here (needs root); the injected ENOSPC test covers the writer")
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        from featcache.errors import FeatcacheError
        from featcache.store import CacheWriter, SplitSpec
        w = CacheWriter({str(disk / 'c.h5')!r}, {{"fingerprint": "f" * 64}}, [SplitSpec("train", np.zeros(600, int), np.arange(600))],
                        {{"out": 1280}}, "float32")
        try:
            w.open()
            for start in range(0, 600, 64):
                w.write("train", start, {{"out": np.ones((min(64, 600 - start), 1280), np.float32)}})
                w.commit()
            w.finish()
        except FeatcacheError as exc:
            print(exc, file=sys.stderr)
            sys.exit(2)
        finally:
            w.close()
        """)
    try:
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
        assert proc.stderr.startswith(f"no space left on {disk} writing {disk / 'c.h5.partial.h5'}; free ")
        with h5py.File(partial_path(disk / "c.h5")) as f:  # kept, readable, its committed rows counted
            assert 0 < int(f["train"].attrs["rows_done"]) < 600
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_a_disk_full_before_the_partial_is_created_is_the_no_space_line(tmp_path):
    """A tmpfs filled before extraction starts: creating the partial fails; the line says so (not 'not a readable file')."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "64k"):
        pytest.skip("cannot mount a tmpfs here (needs root); the injected ENOSPC test covers the writer")
    try:
        (disk / "fill").write_bytes(b"\0" * 60_000)
        with contextlib.suppress(OSError):  # the last bytes, to the block
            with open(disk / "fill", "ab") as f:
                f.write(b"\0" * 8192)
        w = writer(disk / "c.h5")
        with pytest.raises(FeatcacheError, match=rf"^no space left on {re.escape(str(disk))} writing .*c\.h5\.partial\.h5; free "):
            w.open()
        w.close()
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_an_out_name_too_long_for_its_partial_is_one_line_before_any_work(tmp_path, capsys):
    """A 246-byte --out: extract ended in ENAMETOOLONG (a traceback) on the partial's longer name."""
    from featcache import StoreSpec

    StoreSpec(out=tmp_path / ("x" * 241 + ".h5"))  # 244 bytes: its partial's name is 255
    with pytest.raises(FeatcacheError, match=r"^the file name of StoreSpec\(out=\.\.\.\) is too long \(245 bytes\).*at most 244 bytes$"):
        StoreSpec(out=tmp_path / ("x" * 242 + ".h5"))
    assert main(["extract", "--weights", "random", "--out", str(tmp_path / ("é" * 123 + ".h5"))]) == 2  # 249 bytes in UTF-8
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "(249 bytes)" in err and not list(tmp_path.iterdir())


def test_a_partial_that_cannot_be_created_is_one_line_naming_the_folder(tmp_path, extracts_words):
    from featcache.store.layout import create_h5

    with pytest.raises(FeatcacheError, match=r"^cannot create .*x\.h5 \(.*\); check that .*gone is writable, or choose StoreSpec\(out=\.\.\.\) elsewhere$"):
        create_h5(tmp_path / "gone" / "x.h5")


# -- the lock, and read-only places ---------------------------------------------------------------


def test_the_lock_names_its_holder_offers_a_timeout_and_leaves_no_file(tmp_path):
    path = tmp_path / "c.h5"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from featcache.store.lock import exclusive_lock
        with exclusive_lock(Path({str(path)!r})):
            print("held", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert holder.stdout.readline().strip() == "held"
        assert lock_path(path).read_text() == f"featcache-lock pid={holder.pid}\n"
        with pytest.raises(FeatcacheError, match=rf"is being written by process {holder.pid} .* did not finish within 0.3 s"):
            with exclusive_lock(path, timeout=0.3):
                pass
    finally:
        holder.kill()
        holder.wait()
    with exclusive_lock(path, timeout=5):
        assert lock_path(path).exists()
    assert not lock_path(path).exists()


@pytest.mark.parametrize("kind", ["fifo", "folder", "link", "notes"])
def test_a_users_file_at_the_lock_path_is_refused_and_left_alone(tmp_path, kind):
    """Regression (an adversarial tester): the lock opened <out>.lock for writing whatever it was, wrote a pid into
    it and deleted it afterwards: a user's FIFO or notes file called c.h5.lock was gone after a run. Now anything
    but an empty or pid-holding regular file is refused in one line naming it, and left as it was."""
    path = tmp_path / "c.h5"
    lp = lock_path(path)
    target = tmp_path / "target.txt"
    target.write_text("mine\n")
    if kind == "fifo":
        os.mkfifo(lp)
    elif kind == "folder":
        lp.mkdir()
    elif kind == "link":
        lp.symlink_to(target)
    else:
        lp.write_text("my notes on this cache\n")
    before = os.lstat(lp)
    with pytest.raises(FeatcacheError, match=rf"^{re.escape(str(lp))} is in the way of featcache's lock file \(it is "
                                             rf".*\); move it away, or choose another out$"):
        with exclusive_lock(path, timeout=1):
            pass
    after = os.lstat(lp)
    assert (after.st_ino, after.st_mode, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_mode, before.st_size, before.st_mtime_ns)
    assert target.read_text() == "mine\n"


def test_a_stale_lock_file_of_ours_is_taken_and_removed(tmp_path):
    """The other side: a lock file left by a killed writer (marked with a pid, or empty) is featcache's and is reused."""
    path = tmp_path / "c.h5"
    for content in ("featcache-lock pid=12345\n", "", "\0\0\0\0"):  # NULs: a pid cut short by a power loss (a review)
        lock_path(path).write_text(content)
        with exclusive_lock(path, timeout=1):
            assert lock_path(path).read_text() == f"featcache-lock pid={os.getpid()}\n"
        assert not lock_path(path).exists()
    # A file put at the lock's path while the lock was held is not ours: it is left there (a review)
    with exclusive_lock(path, timeout=1):
        lock_path(path).unlink()
        lock_path(path).write_text("someone's notes\n")
    assert lock_path(path).read_text() == "someone's notes\n"


def test_a_users_file_of_a_bare_number_at_the_lock_path_is_refused_and_kept(tmp_path, fashion_dir, capsys):
    """Regression (earlier sessions' notes): a file of digits alone at <cache>.lock (a user's count, a year) was taken
    for featcache's lock: extract overwrote it with its pid and deleted it when done, exit 0. The lock is marked now
    ('featcache-lock pid=N'); a bare number no process holds is refused in one line and left as it was."""
    out = tmp_path / "c.h5"
    lp = lock_path(out)
    lp.write_text("2024\n")
    before = os.lstat(lp)
    with pytest.raises(FeatcacheError, match=rf"^{re.escape(str(lp))} is in the way of featcache's lock file \(it is a "
                                             r"file holding only a number that no process holds: an older featcache's lock "
                                             r"left by a killed run, or a file of yours\); move it away, or choose another out$"):
        with exclusive_lock(out, timeout=1):
            pass
    rc = main(["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "holding only a number" in err, err
    after = os.lstat(lp)
    assert lp.read_text() == "2024\n" and (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert not out.exists() and not partial_path(out).exists()


def test_an_older_featcaches_bare_pid_lock_is_waited_for_while_held_and_refused_once_left(tmp_path):
    """The other side of the mark: a featcache before it wrote the bare pid. While one runs, its lock is waited for and
    its holder named; it removes the file when done and the waiter takes the lock then. One killed leaves its number,
    which no process holds: that is refused (featcache cannot tell it from a user's file), never removed."""
    path = tmp_path / "c.h5"
    older = textwrap.dedent(f"""
        import fcntl, os, sys, time
        fd = os.open({str(lock_path(path))!r}, os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.pwrite(fd, f"{{os.getpid()}}\\n".encode(), 0)
        print("held", flush=True)
        time.sleep(float(sys.argv[1]))
        os.unlink({str(lock_path(path))!r})  # as the older featcache did: removed, then released
        os.close(fd)
        """)
    holder = subprocess.Popen([sys.executable, "-c", older, "1.0"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert lock_path(path).read_text() == f"{holder.pid}\n"
        with pytest.raises(FeatcacheError, match=rf"is being written by process {holder.pid} "):
            with exclusive_lock(path, timeout=0.2):
                pass
        with exclusive_lock(path, timeout=30):  # taken once the older run is done
            assert holder.poll() is not None or holder.wait(5) == 0
            assert lock_path(path).read_text() == f"featcache-lock pid={os.getpid()}\n"
    finally:
        holder.kill()
        holder.wait()
    killed = subprocess.Popen([sys.executable, "-c", older, "60"], stdout=subprocess.PIPE, text=True)
    try:
        assert killed.stdout.readline().strip() == "held"
    finally:
        killed.kill()
        killed.wait()
    with pytest.raises(FeatcacheError, match="holding only a number that no process holds"):
        with exclusive_lock(path, timeout=1):
            pass
    assert lock_path(path).read_text() == f"{killed.pid}\n"


def test_a_lock_mark_read_while_it_is_written_is_featcaches(tmp_path):
    """Regression (a review): a waiter reading the lock file while its holder writes its mark could see a start of it
    ('featcache-lo') and refused a live lock as not featcache's, saying to move it away; a bare pid could not be read
    cut that way. A start of the mark is the lock's own."""
    path = tmp_path / "c.h5"
    for torn in ("f", "featcache-lo", "featcache-lock pid="):
        lock_path(path).write_text(torn)
        check_lock_file(lock_path(path))  # no error: read before the lock is taken, its holder may be writing
    lock_path(path).write_text("featcache-lock pid=12x")
    with pytest.raises(FeatcacheError, match="not featcache's lock"):
        check_lock_file(lock_path(path))
    # Once taken, nobody is writing: a start of the mark alone is a user's file, kept (an adversarial tester: a user's
    # 'f' was overwritten and deleted); the whole mark, with or without a pid, is a killed writer's, taken over
    for users in ("f", "featcache-lo"):
        lock_path(path).write_text(users)
        with pytest.raises(FeatcacheError, match="not featcache's lock"):
            with exclusive_lock(path, timeout=1):
                pass
        assert lock_path(path).read_text() == users
    for killed in ("featcache-lock pid=", "featcache-lock pid=4"):
        lock_path(path).write_text(killed)
        with exclusive_lock(path, timeout=1):
            assert lock_path(path).read_text() == f"featcache-lock pid={os.getpid()}\n"
        assert not lock_path(path).exists()


def test_an_outputs_hidden_lock_left_by_an_older_featcache_is_taken_over_before_the_write(tmp_path):
    """Regression (a review): an output's lock is a hidden name of featcache's (.<name>.lock), no user's; a bare number
    there that no process holds is an older featcache's killed run's. It was refused after the work (train fitted the
    head, then threw it away). It is taken over, as a cache's visible <cache>.lock is not."""
    from featcache.store.atomic import write_bytes
    from featcache.store.layout import output_lock_path

    out = tmp_path / "h.npz"
    hidden = output_lock_path(out)
    hidden.write_text("12345\n")
    write_bytes(out, b"head", recheck=lambda: None)
    assert out.read_bytes() == b"head" and not hidden.exists()
    # what is in the way of such a lock is said with the writer's own advice (predict --csv has no --out)
    hidden.mkdir()
    with pytest.raises(FeatcacheError, match=r"is in the way of featcache's lock file \(it is a folder\); move it away, "
                                             r"or choose another --csv$"):
        write_bytes(out, b"new", recheck=lambda: None, advice="choose another --csv")
    assert out.read_bytes() == b"head"


def test_staged_rows_out_of_order_are_refused_not_written_on_other_images():
    """A review: _copy_rows fills each split in staged-row order, so rows given out of order put features on other
    images' labels and the cache was sealed as valid. The split refuses them where it is made."""
    from featcache.store.writer import SplitSpec

    with pytest.raises(ValueError, match="strictly increasing"):
        SplitSpec("train", np.array([0, 1]), np.array([0, 1]), ["b", "a"], rows=np.array([2500, 5]))
    assert SplitSpec("train", np.array([0, 1]), np.array([0, 1]), ["a", "b"], rows=np.array([5, 2500])).rows.tolist() == [5, 2500]


def test_reading_works_without_fcntl(tmp_path):
    path = make_cache(tmp_path / "c.h5")
    code = ("import sys; sys.modules['fcntl'] = None\n"
            f"from featcache.cli import main; sys.exit(main(['info', {str(path)!r}]) or main(['verify', {str(path)!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    assert "checksums   labels, index and settings verified" in proc.stdout and "is intact" in proc.stdout


@pytest.mark.parametrize("err", [errno.EROFS, errno.EACCES])
def test_a_leftover_partial_on_a_read_only_mount_is_left_there(tmp_path, monkeypatch, err):
    path = make_cache(tmp_path / "c.h5")
    partial_path(path).write_bytes(b"left by a crash")

    def refuse(self, missing_ok=False):
        raise OSError(err, os.strerror(err), str(self))

    monkeypatch.setattr(Path, "unlink", refuse)
    tidy_partial(path)
    assert partial_path(path).exists() and find_complete(path, identity())


def test_a_full_disk_while_regrouping_photos_keeps_the_staged_partial(tmp_path):
    """The staged partial fits, the regrouped copy does not: one line, no temporary left, the partial kept."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "5m"):
        pytest.skip("cannot mount a tmpfs here (needs root); the injected ENOSPC test covers the writer")
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        from featcache.errors import FeatcacheError
        from featcache.store import STAGING, SplitSpec, StagedWriter
        n = 600
        rows, paths = np.arange(n), [f"f{{i}}.jpg" for i in range(n)]
        w = StagedWriter({str(disk / 'c.h5')!r}, {{"fingerprint": "f" * 64}}, [SplitSpec(STAGING, rows % 2, rows, paths)],
                         {{"out": 1280}}, "float32")
        try:
            w.open()
            for s in range(0, n, 64):
                k = min(64, n - s)
                w.write(STAGING, s, {{"out": np.ones((k, 1280), np.float32)}}, np.array([""] * k, dtype=object))
            w.finish({{}}, regroup=[SplitSpec("train", rows[:500] % 2, rows[:500], paths[:500], rows=rows[:500]),
                                   SplitSpec("test", rows[500:] % 2, rows[500:], paths[500:], rows=rows[500:])])
        except FeatcacheError as exc:
            print(exc, file=sys.stderr)
            sys.exit(2)
        finally:
            w.close()
        """)
    try:
        proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip() == proc.stderr.strip().splitlines()[0] and "Traceback" not in proc.stderr
        assert proc.stderr.startswith(f"no space left on {disk} writing {disk / 'c.h5'}; free ")
        assert sorted(p.name for p in disk.iterdir()) == ["c.h5.partial.h5"]
        with h5py.File(partial_path(disk / "c.h5")) as f:
            assert int(f[STAGING].attrs["rows_done"]) == 600
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_regrouping_photos_never_touches_a_users_file_or_link_beside_the_cache(tmp_path):
    """The regrouped copy was written at the fixed name NAME.regroup.h5, then deleted: a user's file of that name was
    overwritten and gone, and a link there had its target overwritten with the cache and was itself renamed over
    the cache (an adversarial tester). Now it is a temporary of its own; both stay as they were."""
    from featcache.store import STAGING, SplitSpec, StagedWriter

    notes = tmp_path / "c.h5.regroup.h5"
    notes.write_text("my notes")
    target = tmp_path / "important.txt"
    target.write_text("IMPORTANT DATA")
    (tmp_path / "d.h5.regroup.h5").symlink_to(target.name)
    for name in ("c.h5", "d.h5"):
        n = 10
        rows, paths = np.arange(n), [f"f{i}.jpg" for i in range(n)]
        w = StagedWriter(tmp_path / name, {"fingerprint": "f" * 64}, [SplitSpec(STAGING, rows % 2, rows, paths)],
                         {"out": 4}, "float32")
        try:
            w.open()
            w.write(STAGING, 0, {"out": np.ones((n, 4), np.float32)}, np.array([""] * n, dtype=object))
            w.finish({}, regroup=[SplitSpec("train", rows[:6] % 2, rows[:6], paths[:6], rows=rows[:6]),
                                  SplitSpec("test", rows[6:] % 2, rows[6:], paths[6:], rows=rows[6:])])
        finally:
            w.close()
        assert not (tmp_path / name).is_symlink() and h5py.is_hdf5(tmp_path / name)
    assert notes.read_text() == "my notes" and target.read_text() == "IMPORTANT DATA"
    assert (tmp_path / "d.h5.regroup.h5").is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.h5", "c.h5.regroup.h5", "d.h5", "d.h5.regroup.h5",
                                                          "important.txt"]


def _cache_with_paths(path: Path) -> Path:
    from featcache.store.writer import CacheWriter as Writer
    from featcache.store.writer import SplitSpec as Spec

    attrs = {"fingerprint": fingerprint({}), "class_names": ["a", "b"], "layers": ["out"], "default_layer": "out", "settings": {}}
    sp = [Spec("train", np.arange(10) % 2, np.arange(10), [f"ants/QQQQQQQQ{i}.jpg" for i in range(10)])]
    w = Writer(path, attrs, sp, {"out": 4}, "float32")
    w.open()
    w.write("train", 0, {"out": np.ones((10, 4), np.float32)})
    return w.finish()


def test_a_path_damaged_to_invalid_utf8_is_a_damaged_cache(tmp_path):
    from featcache.store.reader import open_cache as open_
    from featcache.store.reader import verify as verify_

    p = _cache_with_paths(tmp_path / "c.h5")
    raw = p.read_bytes()
    at = raw.index(b"QQQQQQQQ3")
    p.write_bytes(raw[:at] + b"\xff" + raw[at + 1:])
    for read in (open_, verify_):  # was a UnicodeDecodeError traceback in info, verify, train and evaluate
        with pytest.raises(FeatcacheError, match="is damaged"):
            read(p)


def _half_written(path: Path, n: int = 1000, rows: int = 500):
    from featcache.store.writer import CacheWriter as Writer
    from featcache.store.writer import SplitSpec as Spec

    attrs = {"fingerprint": fingerprint({}), "class_names": ["a", "b"], "layers": ["out"], "default_layer": "out", "settings": {}}
    sp = [Spec("train", np.arange(n) % 2, np.arange(n))]
    w = Writer(path, attrs, sp, {"out": 4}, "float32")
    w.open()
    w.write("train", 0, {"out": np.ones((rows, 4), np.float32)})
    w.close()
    return lambda **kw: Writer(path, attrs, sp, {"out": 4}, "float32", **kw)


def test_resuming_a_partial_another_process_holds_open_is_one_line_and_keeps_it(tmp_path):
    make = _half_written(tmp_path / "r.h5")
    part = tmp_path / "r.h5.partial.h5"
    before = part.read_bytes()
    reader = subprocess.Popen([sys.executable, "-c", f"import h5py, sys; f = h5py.File({str(part)!r}, 'r'); print('open', flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "open"
        with pytest.raises(FeatcacheError, match="is open in another process; close it and re-run"):
            make().open()  # was: the partial silently deleted, extraction restarted from row 0
    finally:
        reader.communicate("", timeout=30)
    assert part.read_bytes() == before
    assert make().open() == {"train": 500}


def _held_open(path: Path, what: str = "h5py.File(p, 'r+')") -> subprocess.Popen:
    """Another process holding ``path`` (``what``, with ``p`` its path) until its stdin closes, as a running
    ``extract`` holds its partial (h5py's file locking on) or the cache's writers' lock."""
    code = (f"import sys, h5py; from pathlib import Path; from featcache.store.lock import exclusive_lock; "
            f"p = Path({str(path)!r}); held = {what}; held.__enter__() if hasattr(held, '__enter__') else None; "
            "print('held', flush=True); sys.stdin.read()")
    other = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert other.stdout.readline().strip() == "held"
    return other


def test_extracts_lock_timeout_line_names_the_storespec_field_in_a_call_and_the_flag_in_a_command(fashion_dir, tmp_path,
                                                                                                   capsys):
    """Regression (a reviewer, 2026-12-06): extract(..., StoreSpec(out=..., lock_timeout=0)) timed out on the lock
    with "wait for it (a longer lock_timeout)", a keyword extract does not take; it names StoreSpec(lock_timeout=...),
    as the same line's output is StoreSpec(out=...), and the command's line still says --lock-timeout."""
    import featcache

    out = tmp_path / "c.h5"
    other = _held_open(out, "exclusive_lock(p)")  # a running extract of the same cache
    try:
        source = featcache.FashionMNIST(data_dir=str(fashion_dir))
        with pytest.raises(FeatcacheError) as raised:
            featcache.extract(source, featcache.ModelSpec(weights="random", image_size=32),
                              featcache.StoreSpec(out=out, lock_timeout=0), verbose=False)
        assert "did not finish within 0 s; wait for it (a longer StoreSpec(lock_timeout=...))" in str(raised.value)
        code = main(["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32",
                     "--lock-timeout", "0", "--out", str(out)])
        assert code == 2 and "wait for it (a longer --lock-timeout)" in capsys.readouterr().err
    finally:
        other.communicate("", timeout=30)
    assert not out.exists()


def test_a_hit_keeps_a_partial_another_process_holds_open(tmp_path):
    """Regression (a reviewer, 2026-12-05): a hit while an extract --force of other settings wrote its partial beside
    the cache read the partial with file locking on, got CacheBusy, took "unreadable" for a crash's leftover and
    deleted it; the --force run then crashed in publish and its rows were lost. A partial a hit cannot read is kept."""
    path = make_cache(tmp_path / "c.h5")
    _half_written(tmp_path / "h.h5")  # an interrupted extraction of other settings, moved beside the cache
    os.replace(partial_path(tmp_path / "h.h5"), partial_path(path))
    before = partial_path(path).read_bytes()
    other = _held_open(partial_path(path))
    try:
        tidy_partial(path)
        assert partial_path(path).exists()  # was: deleted
    finally:
        other.communicate("", timeout=30)
    assert partial_path(path).read_bytes() == before


def test_a_hit_tidies_nothing_while_a_writer_holds_the_caches_lock(tmp_path):
    """The hit tries the writers' lock without waiting: while an extract holds it, the partial is that run's (a
    reviewer, 2026-12-05); once it is free, the complete cache's own leftover is tidied as before."""
    path = make_cache(tmp_path / "c.h5")
    w = writer(path)  # a leftover of the cache's own settings: tidied when nobody writes
    w.open()
    w.close()
    other = _held_open(path, "exclusive_lock(p, timeout=0)")
    try:
        tidy_partial(path)
        assert partial_path(path).exists()
    finally:
        other.communicate("", timeout=30)
    tidy_partial(path)
    assert not partial_path(path).exists()


def test_a_readers_moment_on_the_lock_does_not_refuse_a_writer_that_waits_no_time(tmp_path):
    """Regression (a reviewer, 2026-12-06): a reader asking who writes a cache (``lock.held``) takes a shared lock on
    its lock file for a moment; a writer with --lock-timeout 0 tried once, met it and refused, "being written by
    process N" (a stale lock file's dead pid). It tries again a poll later: a moment passes, a real holder does not."""
    import fcntl
    import threading

    from featcache.errors import CacheBusy

    path = tmp_path / "c.h5"
    lp = lock_path(path)
    lp.write_bytes(b"featcache-lock pid=999999999\n")  # a killed writer's, left behind
    fd = os.open(lp, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # the reader's moment
        threading.Timer(0.02, fcntl.flock, (fd, fcntl.LOCK_UN)).start()
        with exclusive_lock(path, timeout=0):  # was: CacheBusy "being written by process 999999999"
            assert lp.read_bytes() == f"featcache-lock pid={os.getpid()}\n".encode()
    finally:
        os.close(fd)
    other = _held_open(path, "exclusive_lock(p)")  # a writer that holds it: still refused at once
    try:
        with pytest.raises(CacheBusy, match=r"did not finish within 0 s"):
            with exclusive_lock(path, timeout=0):
                pass
    finally:
        other.communicate("", timeout=30)


def test_publish_of_a_file_removed_meanwhile_is_one_line(tmp_path):
    """A partial removed by another program before its rename was a chmod FileNotFoundError traceback (a
    reviewer, 2026-12-05); it is one line now, and the file at the path is left as it was."""
    from featcache.store.atomic import publish

    (tmp_path / "c.h5").write_text("old\n")
    with pytest.raises(FeatcacheError, match=r"c\.h5\.partial\.h5 was removed by another program before it could "
                                             r"become .*c\.h5, so c\.h5 was left as it was; run the same call again"):
        publish(tmp_path / "c.h5.partial.h5", tmp_path / "c.h5")
    assert (tmp_path / "c.h5").read_text() == "old\n"


def _sealed_not_renamed(path: Path, ident: CacheIdentity, monkeypatch) -> bytes:
    """A run of ``ident`` stopped by Ctrl-C after its seal, before its rename: the sealed partial's bytes."""
    import featcache.store.writer as writer_module

    def stopped(*a, **kw):
        raise KeyboardInterrupt

    w = writer(path, ident)
    write_rows(w, w.open())
    with monkeypatch.context() as m:
        m.setattr(writer_module, "publish", stopped)
        with pytest.raises(KeyboardInterrupt):
            w.finish()
    with h5py.File(partial_path(path), "r") as f:
        assert f.attrs["complete"]
    return partial_path(path).read_bytes()


def test_a_sealed_partial_of_other_settings_is_refused_or_set_aside_never_deleted(tmp_path, monkeypatch, extracts_words):
    """Regression (a reviewer, 2026-12-05): a run of other settings sealed and stopped before its rename left a
    complete cache at <out>.partial.h5; find_complete and --force's set-aside passed complete partials over, and the
    writer deleted it ("the partial file is from other settings; starting it over"), --force or not. As for an
    interrupted one: refused without --force (one line, kept), moved to .other-settings-<UTC time> with it."""
    from featcache.store.reader import judge_partial, set_aside_other_partial

    path = tmp_path / "c.h5"
    data = _sealed_not_renamed(path, identity(image_size=48), monkeypatch)
    with pytest.raises(FeatcacheError, match=r"c\.h5\.partial\.h5 holds a complete extraction, stopped before it was "
                                             r"renamed into place, made with other settings \(differs in: image_size\); "
                                             r"choose another StoreSpec\(out=\.\.\.\), or pass StoreSpec\(force=True\) to move it aside"):
        find_complete(path, identity())
    with pytest.raises(FeatcacheError, match="holds a complete extraction of other settings"):
        writer(path).open()  # the writer's own check, should anything reach it
    assert partial_path(path).read_bytes() == data
    assert not find_complete(path, identity(), force=True)
    moved = set_aside_other_partial(judge_partial(path, identity()))
    assert moved is not None and moved.name.startswith("c.h5.partial.h5.other-settings-") and moved.read_bytes() == data
    assert not partial_path(path).exists()
    assert find_complete(path, identity(image_size=48)) is False  # its own settings: nothing refused, finished by a run
    os.replace(moved, partial_path(path))
    w = writer(path, identity(image_size=48))
    assert w.open() == {"train": N_TRAIN, "test": N_TEST}
    w.finish()
    assert find_complete(path, identity(image_size=48))


@pytest.mark.parametrize("group, key, value, what", [
    ("/", "complete", False, r"marked unfinished \('complete' is False\) after it was sealed complete"),
    ("train", "rows_done", 0, "completion digest mismatch"),
])
def test_an_edited_sealed_partial_of_other_settings_is_in_the_way_with_or_without_force(tmp_path, monkeypatch, group,
                                                                                         key, value, what):
    """Regression (a reviewer, 2026-12-05): find_complete judged the partial by its settings before its completeness:
    a sealed partial of other settings with 'complete' set to false (or a rows_done edited) was "an interrupted
    extraction made with other settings ...; pass --force to move it aside", and with --force the set-aside (which
    looks first) left it and the run said it was in the way: the first line's fix did not work. Now the first run
    says it is in the way, --force or not, and it is kept."""
    from featcache.store.reader import judge_partial, set_aside_other_partial

    path = tmp_path / "c.h5"
    _sealed_not_renamed(path, identity(image_size=48), monkeypatch)
    part = _hand_edited(partial_path(path), group, **{key: value})
    before = part.read_bytes()
    want = rf"c\.h5\.partial\.h5 is in the way of featcache's partial file \(it is a finished featcache cache, edited: {what}"
    for force in (False, True):
        assert find_complete(path, identity(), force=force) is False  # no "other settings ...; pass --force"
        assert set_aside_other_partial(judge_partial(path, identity())) is None
        with pytest.raises(FeatcacheError, match=want):
            check_partial(part)  # extract's next look, before the model is built
    assert part.read_bytes() == before and not path.exists()


def test_a_link_at_the_partials_name_to_a_partial_of_other_settings_is_in_the_way_with_or_without_force(tmp_path):
    """Regression (found with the test above, 2026-12-05): find_complete followed a link at the partial's name, so a
    link to an interrupted extraction of other settings was "... made with other settings ...; pass --force to move it
    aside", and with --force "in the way (it is a link)". The writer's look judges it first now: in the way, kept."""
    from featcache.store.reader import judge_partial, set_aside_other_partial

    elsewhere = tmp_path / "elsewhere" / "c.h5"
    w = writer(elsewhere, identity(image_size=48))
    write_rows(w, w.open(), stop={"train": 64, "test": 0})
    w.close()
    path = tmp_path / "c.h5"
    partial_path(path).symlink_to(partial_path(elsewhere))
    for force in (False, True):
        assert find_complete(path, identity(), force=force) is False
        assert set_aside_other_partial(judge_partial(path, identity())) is None
        with pytest.raises(FeatcacheError, match=r"c\.h5\.partial\.h5 is in the way of featcache's partial file \(it is a link\)"):
            check_partial(partial_path(path))
    assert partial_path(path).is_symlink() and partial_path(elsewhere).is_file()


def interrupted_partial(path, old: CacheIdentity, source: dict) -> tuple[bytes, dict]:
    """A partial of 64 training rows at ``path``'s partial name, of cache ``old`` read from ``source``: its bytes and
    the attributes it was written with."""
    attrs = {"fingerprint": old.fingerprint, "settings": old.settings(), "class_names": list(old.class_names),
             "layers": list(old.layers), "default_layer": "out", "dtype": "float32", "source": source}
    w = CacheWriter(path, attrs, specs(), {"out": WIDTH}, "float32")
    write_rows(w, w.open(), stop={"train": 64, "test": 0})
    w.close()
    return partial_path(path).read_bytes(), attrs


def test_an_interrupted_extraction_of_another_photo_folder_is_not_started_over(tmp_path, extracts_words):
    """Regression (a reviewer, 2026-12-05): a partial differing only in data_digest was taken for "the same extraction,
    data changed" and started over (deleted) even where it read another photo folder (another project's photos/ of
    the same classes). Now that is another extraction: refused without --force, set aside with it; the same folder's
    changed data is still started over."""
    from featcache.store.reader import judge_partial, set_aside_other_partial

    one, two = tmp_path / "one" / "photos", tmp_path / "two" / "photos"
    one.mkdir(parents=True), two.mkdir(parents=True)
    spec_one, spec_two = ({"kind": "images", "root": str(root)} for root in (one, two))
    path = tmp_path / "c.h5"
    data, _ = interrupted_partial(path, identity(data_digest={"train": "one", "test": "one"}), spec_one)
    with pytest.raises(FeatcacheError, match=r"holds an interrupted extraction made with other settings \(differs in: "
                                             r"the data: root .*one/photos -> .*two/photos\); choose another "
                                             r"StoreSpec\(out=\.\.\.\), or pass StoreSpec\(force=True\) to move it aside"):
        find_complete(path, identity(), spec_two)  # was: False, and the writer deleted the partial
    assert partial_path(path).read_bytes() == data
    assert not find_complete(path, identity(), spec_one)  # its own folder, its data changed: started over, as before
    assert set_aside_other_partial(judge_partial(path, identity(), spec_one)) is None  # (extract deletes it: start_over_changed_data)
    moved = set_aside_other_partial(judge_partial(path, identity()))  # was: None; and set aside, never deleted (test_extract's)
    assert moved is not None and moved.read_bytes() == data and not partial_path(path).exists()


@pytest.mark.parametrize("old_spec, new_spec, said", [
    ({"kind": "fashion_mnist", "data_dir": "/d", "train_limit": 40000, "test_limit": 1000},
     {"kind": "fashion_mnist", "data_dir": "/d", "train_limit": 3000, "test_limit": 1000}, "the data: train_limit 40000 -> 3000"),
    ({"kind": "fashion_mnist", "data_dir": "/d", "train_limit": None, "test_limit": 1000},
     {"kind": "fashion_mnist", "data_dir": "/e", "train_limit": None, "test_limit": 1000}, "the data: data_dir /d -> /e"),
    ({"kind": "images", "root": "/p", "test_fraction": 0.2, "seed": 0, "strict": False},
     {"kind": "images", "root": "/p", "test_fraction": 0.3, "seed": 0, "strict": False}, "the data: test_fraction 0.2 -> 0.3"),
    ({"kind": "images", "root": "/p", "test_fraction": 0.2, "seed": 0, "strict": False},
     {"kind": "images", "root": "/p", "test_fraction": 0.2, "seed": 1, "strict": False}, "the data: seed 0 -> 1"),
    ({"kind": "images", "root": "/p", "test_fraction": 0.2, "seed": 0, "strict": False}, None, "the data (which files, or their content)"),
])
def test_a_partial_of_other_source_settings_is_no_extraction_of_changed_data(tmp_path, old_spec, new_spec, said, extracts_words):
    """Regression (an adversarial tester, 2026-12-06): a partial differing in data_digest alone was "the same
    extraction, of data changed since" and started over (deleted, exit 0) where the source's own settings differ:
    Fashion-MNIST's --train-limit/--test-limit/--data-dir and a photo folder's --test-fraction/--seed live in
    data_digest alone. Only the same source settings (image_size and a moved folder aside) are that; the rest is
    another extraction, refused without --force (naming the setting) and set aside with it."""
    from featcache.store import reader

    path = tmp_path / "c.h5"
    data, attrs = interrupted_partial(path, identity(data_digest={"train": "old", "test": "old"}), old_spec)
    with pytest.raises(FeatcacheError, match=r"c\.h5\.partial\.h5 holds an interrupted extraction made with other "
                                             rf"settings \(differs in: {re.escape(said)}\); "
                                             r"choose another StoreSpec\(out=\.\.\.\), or pass StoreSpec\(force=True\) "
                                             r"to move it aside \(it was left untouched\)"):
        find_complete(path, identity(), new_spec)  # was: False, and the writer deleted it
    assert partial_path(path).read_bytes() == data
    assert not reader.same_extraction_of_changed_data(attrs, identity(), new_spec)
    assert reader.same_extraction_of_changed_data(attrs, identity(), dict(old_spec, image_size=32))  # the same: still
    assert find_complete(path, identity(), new_spec, force=True) is False
    moved = reader.set_aside_other_partial(reader.judge_partial(path, identity()))
    assert moved is not None and moved.read_bytes() == data and not partial_path(path).exists()


def test_the_writer_sets_a_partial_of_other_settings_aside_never_deletes_it(tmp_path):
    """Behind extract's checks, the writer itself met a partial of another fingerprint with "from other settings;
    starting it over" and deleted it (an adversarial tester, 2026-12-06). It is moved aside, said in one line."""
    path = tmp_path / "c.h5"
    w = writer(path, identity(image_size=48))
    write_rows(w, w.open(), stop={"train": 64, "test": 0})
    w.close()
    data = partial_path(path).read_bytes()
    w = writer(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert w.open() == {"train": 0, "test": 0}
    w.close()
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("c.h5.partial.h5.other-settings-")]
    assert len(moved) == 1 and moved[0].read_bytes() == data, moved
    assert [type(c.message).__name__ for c in caught] == ["PartialSetAside"] and str(moved[0]) in w.repairs[0]


@pytest.mark.parametrize("error", [KeyError, RuntimeError, TypeError])
def test_a_damaged_cache_at_out_never_gets_a_partial_of_other_settings_deleted(tmp_path, monkeypatch, error):
    """Regression (a reviewer, 2026-12-06): the writer asks whether the complete cache at --out holds the partial's
    fingerprint (its own staged leftover, deleted then) and caught only OSError and ValueError reading it; HDF5's
    RuntimeError or h5py's KeyError/TypeError from a damaged cache escaped into the resume's handler, which took the
    partial for a damaged one and deleted it: another extraction's rows. It is set aside, as any other settings' is."""
    path = tmp_path / "c.h5"
    w = writer(path, identity(image_size=48))
    write_rows(w, w.open(), stop={"train": 64, "test": 0})
    w.close()
    data = partial_path(path).read_bytes()
    path.write_bytes(b"a damaged cache")
    real = h5py.File

    def damaged_at_out(name, *args, **kwargs):
        if Path(name) == path:
            raise error("bad symbol table node signature")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", damaged_at_out)
    w = writer(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert w.open() == {"train": 0, "test": 0}
    w.close()
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("c.h5.partial.h5.other-settings-")]
    assert len(moved) == 1 and moved[0].read_bytes() == data, sorted(p.name for p in tmp_path.iterdir())  # was: []
    assert [type(c.message).__name__ for c in caught] == ["PartialSetAside"]


def test_force_leaves_the_complete_caches_own_leftover_partial_to_the_writer(tmp_path):
    """A reviewer (2026-12-05): --force set aside the complete cache's own staged leftover (its fingerprint: a crash
    between its publish and the partial's removal) as "an interrupted extraction of other settings". The cache holds
    it whole: it is not another extraction's, and stays for the writer (``keep``)."""
    from featcache.store.reader import judge_partial, set_aside_other_partial

    path = make_cache(tmp_path / "c.h5")
    w = writer(path)  # the leftover: a partial of the cache's own settings beside it
    w.open()
    w.close()
    assert set_aside_other_partial(judge_partial(path, identity(image_size=48), held=identity().fingerprint)) is None
    assert partial_path(path).exists()
    moved = set_aside_other_partial(judge_partial(path, identity(image_size=48)))  # without held: another extraction's, as before
    assert moved is not None and not partial_path(path).exists()


def _partial_of_128(path: Path) -> Path:
    """The partial of a run stopped after 128 training rows at ``path`` (its partial's path): what the judged-partial
    tests start from."""
    w = writer(path)
    write_rows(w, w.open(), stop={"train": 128, "test": 0})
    w.close()
    return partial_path(path)


def _replace_partial(part: Path, what: str) -> object:
    """Put ``what`` at the partial's name ``part`` in place of the partial (moved to ``mine.h5`` beside it, kept), as
    another program may while extract builds its network; returns what a look at it must still find after."""
    if what == "edited in place":  # the same file, changed: appended to, as a copy tool resuming would
        with open(part, "ab") as fh:
            fh.write(b"\0" * 4096)
        return part.read_bytes()
    os.rename(part, part.with_name("mine.h5"))
    if what == "a FIFO":
        os.mkfifo(part)
        return "fifo"
    if what == "a link to /dev/zero":
        os.symlink("/dev/zero", part)
        return "/dev/zero"
    if what == "a file of NUL bytes":
        part.write_bytes(b"\0" * 4096)
        return part.read_bytes()
    if what == "a copy of the partial":  # the same bytes, another file: not the one judged either
        part.write_bytes(part.with_name("mine.h5").read_bytes())
        return part.read_bytes()
    assert what == "nothing"
    return None


def _left_as_it_was(part: Path, found: object) -> bool:
    """Whether what ``_replace_partial`` put at ``part`` is there as it was put: a FIFO still a FIFO, a link to the
    same target, a file with the same bytes, nothing still nothing."""
    import stat as stat_module

    if found is None:
        return not os.path.lexists(part)
    if found == "fifo":
        return stat_module.S_ISFIFO(os.lstat(part).st_mode)
    if isinstance(found, str):
        return os.path.islink(part) and os.readlink(part) == found
    return part.is_file() and not part.is_symlink() and part.read_bytes() == found


REPLACEMENTS = ["a FIFO", "a link to /dev/zero", "a file of NUL bytes", "a copy of the partial", "edited in place",
                "nothing"]
CHANGED_WHILE_GETTING_READY = (r"c\.h5\.partial\.h5 changed while featcache was getting ready to extract \(another "
                               r"program replaced, changed or removed it after featcache had checked it\), so featcache "
                               r"left it as it is; make sure nothing else writes there, then run the same "
                               r"featcache\.extract\(\.\.\.\) call again$")


@pytest.mark.parametrize("what", REPLACEMENTS)
def test_a_partial_replaced_after_it_was_judged_resumable_is_refused_and_left_alone(tmp_path, what):
    """Regression (helper-308): extract judges the partial, then builds the network (seconds), then the writer opens
    the partial without looking again, and another program takes no featcache lock. A partial replaced meanwhile by a
    FIFO was opened for writing, "cannot open ...: Illegal seek"; by a link to /dev/zero, opened through it, called
    "from other settings; starting it over" and the link deleted; by a file of NULs, moved aside as "a damaged file
    of yours"; a copy, or one edited in place, resumed as if judged. Now one line, whatever is there, left as it is,
    and the partial moved back resumes."""
    from featcache.store.partial import RESUME
    from featcache.store.reader import judge_partial

    path = tmp_path / "c.h5"
    part = _partial_of_128(path)
    found = judge_partial(path, identity())
    assert found.fate == RESUME and found.rows == 128
    there = _replace_partial(part, what)
    w = writer(path, found=found)
    with pytest.raises(FeatcacheError, match=CHANGED_WHILE_GETTING_READY):
        w.open()
    assert _left_as_it_was(part, there)
    kept = {"mine.h5"} if what != "edited in place" else set()  # the partial, moved away: nothing else set aside
    assert {p.name for p in tmp_path.iterdir()} == kept | ({"c.h5.partial.h5"} if there is not None else set())
    if kept:  # the user's fix: the partial back in place, and the same run again resumes it
        os.replace(part.with_name("mine.h5"), part)
        w = writer(path, found=judge_partial(path, identity()))
        assert w.open() == {"train": 128, "test": 0}
        w.close()


def test_a_partial_swapped_as_the_writer_opens_it_is_refused_by_what_was_opened(tmp_path, monkeypatch):
    """The name checked (``check_as_judged``) can be swapped in the moment before HDF5 opens it: the file HDF5 opened
    is compared with the one judged too (its device and inode), so a copy put there then is not resumed as judged."""
    from featcache.store import writer as writer_module
    from featcache.store.reader import judge_partial

    path = tmp_path / "c.h5"
    part = _partial_of_128(path)
    found = judge_partial(path, identity())
    real = writer_module.check_as_judged

    def swapped_just_after(found_partial):
        real(found_partial)
        _replace_partial(part, "a copy of the partial")

    monkeypatch.setattr(writer_module, "check_as_judged", swapped_just_after)
    with pytest.raises(FeatcacheError, match=CHANGED_WHILE_GETTING_READY):
        writer(path, found=found).open()
    assert part.read_bytes() == part.with_name("mine.h5").read_bytes()


@pytest.mark.parametrize("fate", ["start over", "set aside"])
def test_a_partial_replaced_after_it_was_judged_is_neither_deleted_nor_moved(tmp_path, fate):
    """Regression (helper-308): what extract does to a partial it judged, just before the writer opens (the partial
    of these settings over data changed since, deleted; --force's partial of other settings, moved aside), was done to
    whatever sat at the partial's name by then: a user's notes put there while the network was built were deleted.
    Now the one line, and the notes are kept where they are."""
    from featcache.store.partial import SET_ASIDE, START_OVER
    from featcache.store.reader import judge_partial, set_aside_other_partial, start_over_changed_data

    path, source = tmp_path / "c.h5", {"kind": "images", "root": str(tmp_path / "photos")}
    # the same extraction of files edited since, or one of other settings (--force's)
    interrupted_partial(path, identity(data_digest={"train": "before", "test": "before"}) if fate == "start over"
                        else identity(image_size=48), source)
    part = partial_path(path)
    found = judge_partial(path, identity(), source)
    assert found.fate == {"start over": START_OVER, "set aside": SET_ASIDE}[fate]
    os.rename(part, tmp_path / "mine.h5")
    part.write_text("my notes\n")
    act = start_over_changed_data if fate == "start over" else set_aside_other_partial
    with pytest.raises(FeatcacheError, match=CHANGED_WHILE_GETTING_READY):
        act(found)
    assert part.read_text() == "my notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.h5.partial.h5", "mine.h5"]


@pytest.mark.parametrize("damage, why", [
    ("a layer of another type", "features/out has another shape or type"),
    ("a split removed", "its test split is missing"),
])
def test_a_partial_judged_resumable_and_found_damaged_says_it_is_not_resumed_after_all(tmp_path, damage, why):
    """Regression (helper-308): extract says "resuming c.h5: 128 of 640 images already done" from its judgment of the
    partial's attributes; the writer, opening it, found it damaged and said "resuming c.h5: the partial file is
    damaged (...); starting it over", or, a split missing, "from other settings" (it is of these settings). Its line
    now says that the partial judged resumable is not resumed after all, why, and that it was deleted."""
    from featcache.store.reader import judge_partial

    path = tmp_path / "c.h5"
    with h5py.File(_partial_of_128(path), "r+") as f:
        if damage == "a split removed":
            del f["test"]
        else:
            shape = f["train/features/out"].shape
            del f["train/features/out"]
            f["train/features"].create_dataset("out", shape=shape, dtype="f8")
    found = judge_partial(path, identity())
    assert found.rows == 128
    w = writer(path, found=found)
    assert w.open() == {"train": 0, "test": 0}
    w.close()
    assert w.repairs == [f"not resuming {path} after all: its partial file, judged resumable (128 rows done), is "
                         f"damaged ({why}); it was deleted, starting it over"], w.repairs
    # a writer made without extract's judgment (the scripts') says what it finds, as before
    with h5py.File(_partial_of_128(tmp_path / "d.h5"), "r+") as f:
        del f["test"]
    w = writer(tmp_path / "d.h5")
    w.open()
    w.close()
    assert w.repairs == [f"resuming {tmp_path / 'd.h5'}: the partial file is damaged (its test split is missing); "
                         "starting it over"], w.repairs


def _unreadable_hdf5(p: Path) -> bytes:
    """HDF5's signature and then garbage: featcache's partial killed while HDF5 flushed, or a user's damaged file."""
    data = b"\x89HDF\r\n\x1a\n" + b"a user's damaged HDF5 file, or a crashed partial" + b"\0" * 100
    p.write_bytes(data)
    return data


def test_an_unreadable_hdf5_file_at_the_partials_name_is_moved_aside_not_deleted(tmp_path, monkeypatch):
    """Regression (a review): a file at <out>.partial.h5 with HDF5's signature that HDF5 cannot open was taken for a
    crashed partial and deleted ("starting it over"); it may be a user's damaged file. It is moved to a free sibling
    (an existing file of that name untouched), said in one line with the new path, and the run starts over."""
    import featcache.store.partial as partial_module

    make = _half_written(tmp_path / "r.h5")
    part = partial_path(tmp_path / "r.h5")
    data = _unreadable_hdf5(part)

    stamp = "20261203T120000Z"
    taken = tmp_path / f"r.h5.partial.h5.unreadable-{stamp}"  # a file already at the first free name: never replaced
    taken.write_text("already here\n")
    monkeypatch.setattr(partial_module, "_utc_stamp", lambda: stamp, raising=False)
    w = make()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert w.open() == {"train": 0}
    moved = tmp_path / f"r.h5.partial.h5.unreadable-{stamp}-2"
    assert moved.exists() and moved.read_bytes() == data and taken.read_text() == "already here\n"
    assert [type(c.message).__name__ for c in caught] == ["PartialSetAside"]
    line = str(caught[0].message)
    assert "\n" not in line and str(moved) in line and "starting" in line and "may be a damaged file of yours" in line, line
    assert w.repairs == [line]
    w.write("train", 0, {"out": np.ones((1000, 4), np.float32)})
    w.finish()
    assert len(open_cache(tmp_path / "r.h5").labels("train")) == 1000 and not part.exists()
    # a hit leaves such a file beside the complete cache alone (it needs nothing of the name)
    _unreadable_hdf5(part)
    tidy_partial(tmp_path / "r.h5")
    assert part.read_bytes() == data


@pytest.mark.slow  # a real extraction (20 s); the in-process test above is the fast tier's
def test_an_unreadable_file_moved_aside_is_said_by_extract_in_one_line(tmp_path, fashion_dir, capsys):
    """The same through the CLI: the line is in extract's output (a warning on stderr), the file kept, exit 0."""
    out = tmp_path / "c.h5"
    data = _unreadable_hdf5(partial_path(out))
    assert main(["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32",
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("c.h5.partial.h5.unreadable-")]
    assert len(moved) == 1 and moved[0].read_bytes() == data
    lines = [l for l in err.splitlines() if str(moved[0]) in l]
    assert len(lines) == 1 and lines[0].startswith("featcache extract: warning: "), err
    assert verify(out).features


def test_setting_aside_without_hard_links_renames_and_still_replaces_nothing(tmp_path, monkeypatch):
    """A file system without hard links (EPERM from link()): a rename to a name nothing holds; a taken one is skipped."""
    import featcache.store.partial as partial_module
    from featcache.store.partial import set_aside

    part = tmp_path / "c.h5.partial.h5"
    data = _unreadable_hdf5(part)
    monkeypatch.setattr(partial_module, "_utc_stamp", lambda: "20261203T120000Z")
    (tmp_path / "c.h5.partial.h5.unreadable-20261203T120000Z").write_text("mine\n")

    def no_links(*a, **kw):
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(partial_module.os, "link", no_links)
    moved = set_aside(part)
    assert moved.name == "c.h5.partial.h5.unreadable-20261203T120000Z-2" and moved.read_bytes() == data
    assert (tmp_path / "c.h5.partial.h5.unreadable-20261203T120000Z").read_text() == "mine\n" and not part.exists()


def test_a_name_set_aside_near_the_file_systems_limit_is_cut_at_its_front(tmp_path):
    from featcache.store.partial import set_aside

    name = "é" * 100 + "x" * 44 + ".partial.h5"  # 255 bytes: the longest partial name
    assert len(os.fsencode(name)) == 255
    part = tmp_path / name
    data = _unreadable_hdf5(part)
    moved = set_aside(part)
    assert moved.parent == tmp_path and len(os.fsencode(moved.name)) <= 255 and ".partial.h5.unreadable-" in moved.name
    assert moved.read_bytes() == data and not part.exists()
    moved.name.encode("utf-8")  # no half character at the cut


def _complete_cache(p: Path) -> None:
    """A complete featcache cache written at ``p`` itself (as ``extract --out <x>.partial.h5`` makes one)."""
    made = make_cache(p.parent / "made.h5")
    os.replace(made, p)


def _foreign_hdf5(p: Path) -> None:
    with h5py.File(p, "w") as f:
        f.attrs["experiment"] = "mine"
        f["x"] = np.arange(3)


@pytest.mark.parametrize("kind, what", [
    ("notes", "not an HDF5 file"),
    ("hdf5", "an HDF5 file featcache did not write"),
    ("complete", "a complete featcache cache"),
    ("fifo", "a FIFO"),
    ("folder", "a folder"),
    ("link", "a link"),
])
def test_a_file_at_the_partials_name_that_is_not_featcaches_partial_is_refused_and_left_alone(tmp_path, kind, what, extracts_words):
    """Regression (an adversarial tester): extract deleted whatever sat at <out>.partial.h5 ("starting it over"): a
    complete cache extracted under that name, a user's notes. Only featcache's own partial is started over now."""
    path = tmp_path / "c.h5"
    part = partial_path(path)
    target = tmp_path / "target.txt"
    target.write_text("mine\n")
    if kind == "notes":
        part.write_text("my notes\n")
    elif kind == "hdf5":
        _foreign_hdf5(part)
    elif kind == "complete":
        _complete_cache(part)
    elif kind == "fifo":
        os.mkfifo(part)
    elif kind == "folder":
        part.mkdir()
    else:
        part.symlink_to(target)
    before = os.lstat(part)
    data = part.read_bytes() if part.is_file() and kind != "link" else None
    want = rf"^{re.escape(str(part))} is in the way of featcache's partial file \(it is {what}\); move it away, or choose another StoreSpec\(out=\.\.\.\)"
    with pytest.raises(FeatcacheError, match=want):
        writer(path).open()
    assert not find_complete(path, identity())  # no hit, and nothing refused as "other settings": the writer refuses it
    after = os.lstat(part)
    assert (after.st_ino, after.st_mode, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_mode, before.st_size, before.st_mtime_ns)
    if data is not None:
        assert part.read_bytes() == data
    assert target.read_text() == "mine\n" and not path.exists()


def test_a_users_file_at_the_partials_name_beside_a_complete_cache_is_not_tidied_away_on_a_hit(tmp_path):
    path = make_cache(tmp_path / "c.h5")
    partial_path(path).write_text("my notes\n")
    tidy_partial(path)
    assert partial_path(path).read_text() == "my notes\n"
    _half_written(tmp_path / "h.h5")  # featcache's own leftover is removed, as before
    tidy_partial(tmp_path / "h.h5")
    assert not partial_path(tmp_path / "h.h5").exists()


@pytest.mark.parametrize("leftover", ["empty", "empty hdf5"])
def test_what_a_crash_leaves_as_the_partial_is_created_is_started_over(tmp_path, leftover, capsys):
    """The other side: an empty file (killed right after creating it) or an HDF5 file with nothing in it yet (killed
    before its attributes were written) is featcache's own leftover: started over, not refused."""
    path = tmp_path / "c.h5"
    if leftover == "empty":
        partial_path(path).write_bytes(b"")
    else:
        h5py.File(partial_path(path), "w").close()
    w = writer(path, verbose=True)
    assert w.open() == {"train": 0, "test": 0}
    write_rows(w, {"train": 0, "test": 0})
    w.finish()
    verify(path)
    assert "starting it over" in capsys.readouterr().err


def test_an_incomplete_cache_of_other_settings_at_out_is_refused_as_someones_unfinished_work(tmp_path, extracts_words):
    """A partial of another extraction renamed or copied to --out was refused as "holds a cache made with other
    settings", which hid that it is someone's unfinished work, hours of it perhaps (testers, 2026-12-05). The line
    says what it is, how far it got and what differs; the file is left as it was. As for a complete cache of other
    settings there: another --out, or --force (since 2026-12-05; test_extract's force tests), which replaces it."""
    w = writer(tmp_path / "a.h5")
    write_rows(w, w.open(), stop={"train": 128, "test": 0})
    w.close()
    moved = tmp_path / "moved.h5"
    os.rename(partial_path(tmp_path / "a.h5"), moved)
    before = moved.read_bytes()
    with pytest.raises(FeatcacheError) as exc:
        find_complete(moved, identity(image_size=48))
    assert str(exc.value) == (
        f"{moved} is an incomplete cache of another extraction (an unfinished extraction of a.h5, copied or renamed, "
        f"128 of {N_TRAIN + N_TEST} images done, made with other settings: differs in: image_size); no rerun resumes it "
        "under this name; to resume it, move it back to a.h5.partial.h5 beside a.h5 and re-run the featcache.extract call "
        "that writes a.h5, with StoreSpec(force=True) where a.h5 holds a cache of other settings; extracting these settings "
        "here would lose it: choose another StoreSpec(out=...), or pass StoreSpec(force=True) to replace it once the new "
        "cache is complete (it was left untouched)")
    assert moved.read_bytes() == before
    # The same settings: extracted again and replaced, as the reader's line for a copy advises, and now said.
    assert not find_complete(moved, identity())
    assert incomplete_replaced(moved) == (
        f"{moved} is an incomplete cache of these settings (an unfinished extraction of a.h5, copied or renamed); a run "
        "resumes only from moved.h5.partial.h5, so this one extracts it again and replaces it when done")
    assert incomplete_replaced(tmp_path / "none.h5") is None


def test_a_seals_digest_and_a_first_whole_read_hash_a_layer_alike_over_many_blocks(tmp_path):
    """The seal's digest (``layout.dataset_digest``) and an open Cache's first read of a layer (``_hashed_read``,
    whole or most of it, any order) share one loop (``layout.hashed_blocks``): a layer of many blocks hashes the
    same either way, and the rows read are the rows stored. Were they to differ, every first read would call the
    cache damaged."""
    from featcache.store.layout import dataset_digest, dataset_hasher
    from featcache.store.reader import _hashed_read

    x = np.random.default_rng(0).random((301, 5)).astype(np.float32)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        ds = f.create_dataset("d", data=x, chunks=(4, 5), fletcher32=True)  # 64 rows a block: 5 blocks
        sealed = dataset_digest(ds, "d")
        for rows in (None, slice(None, None, -1), slice(0, 300, 2), np.random.default_rng(1).integers(0, 301, 400)):
            got, digest = _hashed_read(ds, rows, dataset_hasher("d", ds))
            assert digest == sealed and np.array_equal(got, x if rows is None else x[rows])
        assert _hashed_read(ds, np.array([3, 7]), dataset_hasher("d", ds)) is None  # a few rows: not hashed whole


@pytest.mark.parametrize("step", ["lay_out", "problem"])
def test_a_run_killed_while_laying_out_its_partial_leaves_no_partial_to_set_aside(tmp_path, step):
    """A photo folder's run SIGKILLed while its partial was first laid out left a 48-byte file (no complete HDF5
    superblock), which every next run moved aside as ``.unreadable-<time>``, for good, with a line saying it may be
    the user's (testers, 2026-12-05). The partial is now laid out under a hidden temporary name and renamed into
    place whole: a kill there leaves no partial, and the temporary goes at the next run. The kill is simulated by
    ``os._exit`` in a subprocess at the layout step (before, or within, the staged writer's own dataset)."""
    script = textwrap.dedent(f"""
        import os
        import numpy as np
        import featcache.store.writer as wm
        from featcache.store import STAGING, SplitSpec, StagedWriter
        if {step!r} == "lay_out":
            real = wm.lay_out
            wm.lay_out = lambda f, *a: (real(f, *a), os._exit(9))
        else:
            real = wm.h5py.Group.create_dataset
            def dying(self, name, *a, **kw):
                if name == "problem":
                    os._exit(9)
                return real(self, name, *a, **kw)
            wm.h5py.Group.create_dataset = dying
        rows, paths = np.arange(10), [f"f{{i}}.jpg" for i in range(10)]
        StagedWriter({str(tmp_path / 'c.h5')!r}, {{"fingerprint": "f" * 64}}, [SplitSpec(STAGING, rows % 2, rows, paths)],
                     {{"out": 4}}, "float32").open()
        """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 9, proc.stderr
    assert not partial_path(tmp_path / "c.h5").exists()  # whole or not at all
    from featcache.store import STAGING, SplitSpec, StagedWriter

    rows, paths = np.arange(10), [f"f{i}.jpg" for i in range(10)]
    w = StagedWriter(tmp_path / "c.h5", {"fingerprint": "f" * 64}, [SplitSpec(STAGING, rows % 2, rows, paths)],
                     {"out": 4}, "float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PartialSetAside: the line this run no longer says
        assert w.open() == {STAGING: 0}
    w.close()
    assert w.repairs == []
    # Nothing set aside, and the killed run's temporary removed by this one: only the partial is there.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.h5.partial.h5"]
    from featcache.store.atomic import user_mode

    assert os.stat(partial_path(tmp_path / "c.h5")).st_mode & 0o777 == user_mode()  # the user's, not mkstemp's 0600


def test_a_counter_ahead_of_its_chunks_after_power_loss_is_not_trusted(tmp_path):
    # The counter reached the disk, chunks 256..767 did not: they would read back as zeros with no checksum error.
    make = _half_written(tmp_path / "p.h5", rows=256)
    with h5py.File(tmp_path / "p.h5.partial.h5", "r+") as f:
        f["train"].attrs["rows_done"] = 768
    w = make()
    assert w.open() == {"train": 256} and any("from row 256 were damaged" in r for r in w.repairs)


def test_commit_fsyncs_the_data_before_the_counter(tmp_path, monkeypatch):
    import featcache.store.writer as writer_module

    make = _half_written(tmp_path / "s.h5", rows=0)
    w = make()
    w.open()
    w.write("train", 0, {"out": np.ones((300, 4), np.float32)})
    seen = []
    real = os.fsync
    monkeypatch.setattr(writer_module.os, "fsync", lambda fd: (seen.append(int(w._file["train"].attrs["rows_done"])), real(fd)))
    w.commit()
    assert seen == [0] and int(w._file["train"].attrs["rows_done"]) == 300
    w.close()


def test_lock_and_written_files_follow_the_umask_without_changing_it(tmp_path):
    # The lock file was created 0o644 whatever the umask; user_mode flipped the umask (a race with other threads).
    code = textwrap.dedent(f"""
        import os
        from pathlib import Path
        os.umask(0o002)
        import featcache.store.atomic as atomic
        from featcache.store.lock import exclusive_lock, lock_path
        calls = []
        real = os.umask
        os.umask = lambda m: (calls.append(m), real(m))[1]
        target = Path({str(tmp_path / "c.h5")!r})
        with exclusive_lock(target):
            print(oct(os.stat(lock_path(target)).st_mode & 0o777))
        print(oct(atomic.user_mode()), calls)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}).stdout.split("\n")
    assert out[:2] == ["0o664", "0o664 []"], out


def test_a_folder_removed_between_mkdir_and_the_temporary_is_made_again(tmp_path, monkeypatch):
    """Another process's failed write removes the empty folders it made; one it shares with this write may go
    between this write's mkdir and its temporary (a review): the folder is made again instead of 'cannot write'."""
    import tempfile

    real = tempfile.mkstemp
    calls = []

    def racing(*a, **kw):
        calls.append(1)
        if len(calls) == 1:
            os.rmdir(kw["dir"])  # the other process's clean-up, at the worst moment
        return real(*a, **kw)

    monkeypatch.setattr(tempfile, "mkstemp", racing)
    atomic.write_text(tmp_path / "new" / "r.txt", "report")
    assert (tmp_path / "new" / "r.txt").read_text() == "report" and len(calls) == 2


def test_the_folders_a_failed_block_made_are_removed_only_while_empty(tmp_path):
    """``folders_made_for``, the one home of "make the folders for a file or lock, remove them if nothing is kept"
    (store.atomic's writes, the conversion lock, validate.check_writable_dir each had a copy): a block that fails
    (Ctrl-C too) removes the folders missing as it began, innermost first and only while empty; one holding a file
    put there meanwhile stays, with those above it; a block that succeeds keeps them; a folder there before is
    never touched."""
    deep = tmp_path / "a" / "b" / "c"
    with pytest.raises(KeyboardInterrupt):
        with atomic.folders_made_for(deep):
            deep.mkdir(parents=True)
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []
    with pytest.raises(FeatcacheError):
        with atomic.folders_made_for(deep):
            deep.mkdir(parents=True)
            (tmp_path / "a" / "someones.txt").write_text("kept")
            raise FeatcacheError("the write failed")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["someones.txt"]
    with atomic.folders_made_for(deep):
        deep.mkdir(parents=True)
    assert deep.is_dir()
    with pytest.raises(FeatcacheError):
        with atomic.folders_made_for(deep / "d"):  # only d was missing: c, b and a were there before
            (deep / "d").mkdir()
            raise FeatcacheError("the write failed")
    assert deep.is_dir() and os.listdir(deep) == []


def test_caches_in_chunks_of_256_rows_read_verify_and_resume_under_the_64_row_layout(tmp_path, monkeypatch):
    """CHUNK_ROWS went from 256 to 64 (scripts/bench_chunk_rows.py): files written before still read, verify and
    resume, a damaged chunk of theirs redone from its own first row (every step follows the dataset's chunks)."""
    from featcache.store import layout

    with monkeypatch.context() as m:
        m.setattr(layout, "CHUNK_ROWS", 256)
        old = make_cache(tmp_path / "old.h5")
        path, _ = _partial(tmp_path, rows=576)
    assert CHUNK_ROWS == 64
    with h5py.File(old, "r") as f:
        assert f["train/features/out"].chunks == (256, WIDTH)
    assert verify(old).datasets["train/features/out"] == 3
    np.testing.assert_array_equal(open_cache(old).features("train"), features("train", 0, N_TRAIN))
    flip(partial_path(path), chunk_offset(partial_path(path), "train/features/out", 1) + 40, 16)
    w = writer(path)
    done = w.open()
    assert done["train"] == 256 and any("from row 256 were damaged" in line for line in w.repairs), w.repairs
    write_rows(w, done)
    w.finish()
    with h5py.File(path, "r") as f:  # the resume kept the file's own chunks
        assert f["train/features/out"].chunks == (256, WIDTH)
    np.testing.assert_array_equal(open_cache(path).features("train"), features("train", 0, N_TRAIN))
    verify(path)


def test_features_rewritten_through_hdf5_are_caught_by_verify(tmp_path, capsys):
    """Fletcher-32 is rewritten with a chunk: train's features copied over test's (or the two datasets swapped)
    passed verify, and train then scored 0.10 (an adversarial tester). The sealed features digest catches both."""
    path = make_cache(tmp_path / "c.h5")
    result = verify(path)
    assert result.features and result.to_dict()["features_digest"] is True
    assert main(["verify", str(path)]) == 0 and "features digest matches" in capsys.readouterr().out
    copied, swapped = tmp_path / "copied.h5", tmp_path / "swapped.h5"
    for bad in (copied, swapped):
        bad.write_bytes(path.read_bytes())
    with h5py.File(copied, "r+") as f:
        f["test/features/out"][...] = f["train/features/out"][:N_TEST]
    with h5py.File(swapped, "r+") as f:
        f.move("train/features/out", "train/features/tmp")
        f.move("test/features/out", "train/features/out")
        f.move("train/features/tmp", "test/features/out")
    with pytest.raises(FeatcacheError, match=r"copied.h5 is damaged \(its features differ from those it was sealed with"):
        verify(copied)
    with pytest.raises(FeatcacheError, match="is damaged"):  # shapes differ too: caught on open or by the digest
        verify(swapped)
    with h5py.File(copied, "r+") as f:  # deleting the digest does not switch the check off
        del f.attrs["features_digest"]
    with pytest.raises(FeatcacheError, match="is damaged"):
        verify(copied)


@pytest.mark.parametrize("err", [errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EIO, errno.EACCES])
def test_the_systems_error_opening_a_partial_is_one_line_and_keeps_it(tmp_path, monkeypatch, err):
    """Regression (an adversarial tester, ``ulimit -n 8``): "the partial file is damaged ([Errno 24] Too many open
    files); starting it over" deleted 176 rows of progress. An error with an errno is the system's, not the file's."""
    make = _half_written(tmp_path / "r.h5")
    part = partial_path(tmp_path / "r.h5")
    before = part.read_bytes()
    real = h5py.File

    def refuse(name, mode="r", *a, **kw):
        if mode == "r+":  # as h5py raises it: the errno passed through, HDF5's words after it
            raise OSError(err, f"Unable to synchronously open file (unable to open file: errno = {err}, "
                               f"error message = '{os.strerror(err)}')")
        return real(name, mode, *a, **kw)

    monkeypatch.setattr(h5py, "File", refuse)
    fix = {errno.EMFILE: "raise the limit with ulimit -n", errno.ENFILE: "raise the limit with ulimit -n",
           errno.ENOMEM: "free some memory"}.get(err, "fix that and re-run")
    with pytest.raises(FeatcacheError, match=rf"^cannot open {re.escape(str(part))}: .*{os.strerror(err)}.*{fix}.*"
                                             r"the partial file is kept"):
        make().open()
    monkeypatch.undo()
    assert part.read_bytes() == before
    assert make().open() == {"train": 500}


def test_the_systems_error_while_checking_a_partial_keeps_it(tmp_path, monkeypatch):
    make = _half_written(tmp_path / "r.h5")
    part = partial_path(tmp_path / "r.h5")

    def failing(self, f):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(CacheWriter, "_check_partial", failing)
    with pytest.raises(FeatcacheError, match="Input/output error; fix that and re-run"):
        make().open()
    monkeypatch.undo()
    assert make().open() == {"train": 500} and part.exists()


@pytest.mark.parametrize("where", ["looking at it", "h5py opening it"])
def test_too_many_open_files_really_is_said_and_the_partial_kept(tmp_path, where):
    """The same with a real limit, met by check_partial's look at the file or by h5py's open, which passes the
    errno of a failed open() through (HDF5's verdicts on a file's content have none)."""
    make = _half_written(tmp_path / "r.h5")
    skip = "wm.check_partial = lambda p: True" if where == "h5py opening it" else ""
    code = textwrap.dedent(f"""
        import os, resource, sys
        import numpy as np
        import featcache.store.writer as wm
        from featcache.errors import FeatcacheError
        from featcache.store.writer import CacheWriter, SplitSpec
        {skip}
        attrs = {{"fingerprint": "f" * 64, "class_names": ["a", "b"], "layers": ["out"], "default_layer": "out", "settings": {{}}}}
        w = CacheWriter({str(tmp_path / "r.h5")!r}, attrs, [SplitSpec("train", np.arange(1000) % 2, np.arange(1000))], {{"out": 4}}, "float32")
        fds = [int(fd) for fd in os.listdir("/proc/self/fd")]
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(fds) + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        while True:
            try:
                os.open("/dev/null", os.O_RDONLY)
            except OSError:
                break
        try:
            w.open()
        except FeatcacheError as exc:
            print(exc)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert "too many open files" in proc.stdout and "ulimit -n" in proc.stdout, (proc.stdout, proc.stderr[-2000:])
    assert make().open() == {"train": 500}


@pytest.mark.parametrize("stop", ["while sealing", "before the rename"])
def test_a_partial_sealed_but_not_published_is_taken_up_not_refused(tmp_path, monkeypatch, stop):
    """A review: a run stopped between sealing its partial (complete, digests) and renaming it into place (Ctrl-C
    while the features digest is read, a full disk, a power loss) left a complete file at the partial's name, which
    the next run refused as "in the way" (a complete cache), the work lost. It names the cache it becomes."""
    import featcache.store.writer as writer_module
    from featcache.store import layout

    path = tmp_path / "c.h5"
    w = writer(path)
    write_rows(w, w.open())
    if stop == "while sealing":
        def interrupted(f):
            raise KeyboardInterrupt
        monkeypatch.setattr(writer_module, "dataset_digests", interrupted)
    else:
        monkeypatch.setattr(writer_module, "publish", lambda *a, **kw: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        w.finish()
    w.close()
    monkeypatch.undo()
    with h5py.File(partial_path(path), "r") as f:
        assert f.attrs["complete"] and f.attrs[layout.PARTIAL_OF] == "c.h5"
    again = writer(path)
    assert again.open() == {"train": N_TRAIN, "test": N_TEST}
    again.finish()
    np.testing.assert_array_equal(open_cache(path).features("train"), features("train", 0, N_TRAIN))
    assert verify(path).features and not partial_path(path).exists()
    # a cache sealed under the partial's name by its own extraction names itself: still in the way
    other = make_cache(tmp_path / "d.h5.partial.h5")
    w = writer(tmp_path / "d.h5")
    with pytest.raises(FeatcacheError, match="is in the way of featcache's partial file .*a complete featcache cache"):
        w.open()
    assert other.exists()


def test_verify_reads_each_feature_once_for_checksums_and_digest(tmp_path, monkeypatch):
    """A review: verify read every feature value for its checksums, then again for the features digest; a cache hit
    (find_complete verifies) paid twice. The digest is now taken in the same read."""
    path = make_cache(tmp_path / "c.h5")
    read = {"rows": 0}
    real = h5py.Dataset.__getitem__

    def counting(self, key):
        out = real(self, key)
        if "/features/" in self.name and isinstance(out, np.ndarray):
            read["rows"] += len(out)
        return out

    monkeypatch.setattr(h5py.Dataset, "__getitem__", counting)
    assert verify(path).features
    assert read["rows"] == N_TRAIN + N_TEST


def _rewritten(path: Path, tmp_path: Path, how: str, layer: str = "out") -> Path:
    """A copy of the cache at ``path`` with features rewritten through HDF5: every chunk keeps a valid Fletcher-32."""
    bad = tmp_path / f"{how}.h5"
    bad.write_bytes(path.read_bytes())
    with h5py.File(bad, "r+") as f:
        if how == "test_from_train":  # the adversarial tester's: train's rows copied over test's
            f[f"test/features/{layer}"][...] = f[f"train/features/{layer}"][:N_TEST]
        else:  # one value of train changed
            f[f"train/features/{layer}"][N_TRAIN - 1, 0] += 1.0
    return bad


def _mobilenet_cache(path: Path) -> Path:
    """``make_cache``'s rows under a layer MobileNetV2 names, as probe needs (it sorts layers in network order)."""
    ident = identity(layers=["out_relu"])
    attrs = {"fingerprint": ident.fingerprint, "settings": ident.settings(), "class_names": list(ident.class_names),
             "layers": ["out_relu"], "default_layer": "out_relu", "dtype": "float32", "backbone": "mobilenet_v2",
             "image_size": 32}
    w = CacheWriter(path, attrs, specs(), {"out_relu": WIDTH}, "float32")
    done = w.open()
    for s in w.splits:
        for start in range(done[s.name], len(s.labels), 64):
            w.write(s.name, start, {"out_relu": features(s.name, start, min(64, len(s.labels) - start))})
    return w.finish()


def test_features_rewritten_through_hdf5_are_refused_where_they_are_used(tmp_path, capsys):
    """Regression (an adversarial tester): train's features copied over test's passed every command but verify: train
    scored 0.10 with no complaint. A read of a whole layer now checks the layer's own sealed digest in the same pass,
    so train, evaluate, probe and curve refuse it in one line naming the cache, verify and the fix."""
    path = _mobilenet_cache(tmp_path / "c.h5")
    head = tmp_path / "h.npz"
    assert main(["train", str(path), "--head", "logreg", "--C", "1", "--out", str(head)]) == 0
    capsys.readouterr()
    bad = _rewritten(path, tmp_path, "test_from_train", "out_relu")
    message = (rf"{re.escape(str(bad))} is damaged \(its features differ from those it was sealed with: "
               r"test/features/out_relu was rewritten or moved since extraction; {} checks the whole "
               r"file\); re-extract it")
    # a Python call is told the call, a command the command (docs/api.md)
    with pytest.raises(FeatcacheError, match=message.format(r"featcache\.verify\(cache\)")):
        open_cache(bad).features("test")
    message = message.format("'featcache verify'")
    for argv in (["train", str(bad), "--head", "logreg", "--C", "1", "--out", str(tmp_path / "h2.npz")],
                 ["evaluate", str(head), str(bad), "--out", str(tmp_path / "eval")],
                 ["probe", str(bad), "--heads", "logreg", "--C", "1", "--on-test", "--out", str(tmp_path / "probe")],
                 ["curve", str(bad), "--sizes", "30,60", "--seeds", "1", "--heads", "logreg", "--out", str(tmp_path / "curve")]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and re.search(message, err) and "Traceback" not in err, (argv, err)
    assert not (tmp_path / "h2.npz").exists() and not (tmp_path / "eval" / "evaluation.json").exists()
    # a subset of train read as train --train-size reads it (most chunks): checked too; one chunk's rows are not
    bad = _rewritten(make_cache(tmp_path / "d.h5"), tmp_path, "train_value")
    cache = open_cache(bad)
    assert cache.features("train", rows=slice(0, 10)).shape == (10, WIDTH)  # 1 of 10 chunks: Fletcher-32 alone
    with pytest.raises(FeatcacheError, match=r"train/features/out was rewritten or moved since extraction"):
        cache.features("train", rows=np.arange(0, N_TRAIN, 15))
    with pytest.raises(FeatcacheError, match=r"train/features/out was rewritten"):
        verify(bad)


@pytest.mark.parametrize("change", ["edited", "deleted", "emptied"])
def test_the_per_dataset_digests_are_covered_so_changing_them_does_not_switch_the_check_off(tmp_path, change):
    """The per-dataset digests combine to the sealed features digest (which the provenance digest covers), and they
    are a root attribute the provenance digest covers: an edited entry, or the attribute deleted, is refused on open."""
    path = make_cache(tmp_path / "c.h5")
    bad = _rewritten(path, tmp_path, "test_from_train")
    with h5py.File(bad, "r+") as f:
        digests = json.loads(f.attrs["dataset_digests"])
        assert sorted(digests) == ["test/features/out", "train/features/out"]
        if change == "edited":  # the rewritten layer's digest replaced by the new one: no longer combines
            from featcache.store.layout import dataset_digests
            f.attrs["dataset_digests"] = json.dumps({**digests, "test/features/out": dataset_digests(f)["test/features/out"]})
        elif change == "deleted":
            del f.attrs["dataset_digests"]
        else:
            f.attrs["dataset_digests"] = "{}"
    with pytest.raises(FeatcacheError, match=r"is damaged \((provenance digest mismatch|its per-dataset feature digests)"):
        open_cache(bad)
    with pytest.raises(FeatcacheError, match="is damaged"):
        verify(bad)


def test_caches_sealed_without_per_dataset_digests_still_read(tmp_path):
    """Caches sealed with a features digest but no per-dataset ones (2026-12-03, before this check) read as before:
    nothing to check a layer against, so a rewritten one is read (verify still catches it)."""
    from featcache.store.layout import content_digest, provenance_digest

    path = make_cache(tmp_path / "c.h5")
    bad = _rewritten(path, tmp_path, "test_from_train")
    with h5py.File(bad, "r+") as f:
        del f.attrs["dataset_digests"]
        f.attrs["provenance_digest"] = provenance_digest(f)
        f.attrs["content_digest"] = content_digest(f)
    np.testing.assert_array_equal(open_cache(bad).features("test"), features("train", 0, N_TEST))
    assert "each layer by its own digest" not in open_cache(bad).summary()["checksums"]
    assert "each layer by its own digest" in open_cache(path).summary()["checksums"]
    # in the words a read says of a layer (reader._rewritten_line, one home; verify had its own: "(a dataset rewritten
    # or moved after extraction)"), with no dataset to name
    with pytest.raises(FeatcacheError, match=r"\(its features differ from those it was sealed with: one of its feature "
                                             r"datasets was rewritten or moved since extraction\); re-extract it"):
        verify(bad)


def test_a_layers_chunks_and_digest_are_checked_once_per_open_cache(tmp_path, monkeypatch):
    """check_chunks_stored ran on every read of a layer (28.6 ms for a 70,000-row layer), and the layer's digest
    needs the whole layer hashed: both run once per dataset of an open Cache, whose every read still checks that the
    file is the one opened. A new Cache checks again."""
    from featcache.store import reader

    path = make_cache(tmp_path / "c.h5")
    calls = {"chunks": [], "hashes": []}
    real_chunks, real_hasher = reader.check_chunks_stored, reader.dataset_hasher

    def chunks(p, ds, name):
        calls["chunks"].append(name)
        return real_chunks(p, ds, name)

    def hasher(name, ds):
        calls["hashes"].append(name)
        return real_hasher(name, ds)

    monkeypatch.setattr(reader, "check_chunks_stored", chunks)
    monkeypatch.setattr(reader, "dataset_hasher", hasher)
    cache = open_cache(path)
    for _ in range(3):
        np.testing.assert_array_equal(cache.features("train"), features("train", 0, N_TRAIN))
        cache.features("test")
        cache.features("train", rows=np.arange(0, N_TRAIN, 2))
    assert calls == {"chunks": ["train/features/out", "test/features/out"], "hashes": ["train/features/out", "test/features/out"]}
    open_cache(path).features("train")
    assert calls["chunks"][-1] == calls["hashes"][-1] == "train/features/out" and len(calls["chunks"]) == 3
    with h5py.File(path, "r+") as f:  # rewritten under the open Cache: its next read refuses the file, unchecked or not
        f["train/features/out"][0, 0] = 7.0
    with pytest.raises(FeatcacheError, match="changed since it was opened"):
        cache.features("train")


def test_a_rewrite_in_place_with_size_and_mtime_restored_is_refused_by_the_open_cache(tmp_path):
    """A review's open item: a layer rewritten in place through HDF5 (the same size) with its mtime put back by
    os.utime was read, unchecked, by a Cache that had matched that layer's digest before (a new Cache refuses it).
    The file's status-change time, which no user sets back, moves: the open Cache checks again what it checked at
    open and the layer's digest at its next whole read. A chmod or a hard link moves it too, harmlessly: refusing
    every read after one stopped a running curve (a second review), so those read on."""
    path = make_cache(tmp_path / "c.h5")
    cache = open_cache(path)
    want = cache.features("train")  # its digest matched: later reads of it check the file's identity alone
    os.chmod(path, 0o600)
    os.link(path, tmp_path / "backup.h5")
    np.testing.assert_array_equal(cache.features("train"), want)  # read on, the layer's digest checked again
    assert cache.labels("train").shape == (len(want),)
    before = os.stat(path)
    with h5py.File(path, "r+") as f:
        f["train/features/out"][0, 0] = 7.0
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
    for _ in range(2):  # a slice too, and again after the first refusal (a review: served in between)
        with pytest.raises(FeatcacheError, match="features differ from those it was sealed with"):
            cache.features("train", rows=slice(0, 2))
    with pytest.raises(FeatcacheError, match="features differ from those it was sealed with"):
        cache.features("train")
    with pytest.raises(FeatcacheError, match="features differ from those it was sealed with"):
        open_cache(path).features("train")  # as a new Cache says it
    # a layer this Cache had not read whole: after the ctime change its first read, a slice too, hashes it whole,
    # and a rewritten one is refused on every read after (a tester: slices were served, before and after a whole read
    # had called the layer damaged)
    cache = open_cache(make_cache(tmp_path / "s.h5"))
    cache.features("train", rows=slice(0, 5))
    before = os.stat(cache.path)
    with h5py.File(cache.path, "r+") as f:
        f["train/features/out"][...] = 1.0
    os.utime(cache.path, ns=(before.st_atime_ns, before.st_mtime_ns))
    for read in (lambda: cache.features("train", rows=slice(0, 5)), lambda: cache.features("train", rows=np.array([3, 1])),
                 lambda: cache.features("train"), lambda: cache.features("train", rows=slice(0, 5))):
        with pytest.raises(FeatcacheError, match="features differ from those it was sealed with"):
            read()
    np.testing.assert_array_equal(cache.features("test", rows=np.array([2, 0])), open_cache(make_cache(tmp_path / "s2.h5")).features("test", rows=np.array([2, 0])))
    cache = open_cache(make_cache(tmp_path / "d.h5"))
    cache.features("train")
    before = os.stat(cache.path)
    with h5py.File(cache.path, "r+") as f:  # the labels, which open checks by the content digest
        f["train/labels"][0] = (f["train/labels"][0] + 1) % 2
    os.utime(cache.path, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(FeatcacheError, match="content digest mismatch"):
        cache.labels("train")
    cache = open_cache(make_cache(tmp_path / "e.h5"))
    with pytest.raises(FeatcacheError, match="changed since it was opened"):
        with cache._file():
            os.truncate(cache.path, os.stat(cache.path).st_size + 1)  # during a read: said after it


def test_a_forked_child_tags_its_writes_with_its_own_start_time():
    """A review: the writer's tag (pid, start time) was taken at import, so a forked child paired its own pid with
    its parent's start time, and its temporaries looked like a killed writer's to everyone else."""
    from featcache import paths

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: is its tag its own process's?
        ok = paths.parse_writer(paths.writer_tag()) is not None and paths.writer_running(
            paths.parse_writer(paths.writer_tag()), Path("/"))
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    os.close(read)
    assert answer == b"1"


def test_every_spelling_of_an_output_takes_one_lock(tmp_path):
    """Regression (a review): the output lock's folder was made absolute by text, so 'link/../h.npz' (the kernel
    resolves '..' through the link) locked another folder than the file's: two writers of one file did not take
    turns. The lock is in the folder as the kernel finds it."""
    from featcache.store.layout import output_lock_path

    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "ln").symlink_to(tmp_path / "real" / "sub")
    want = tmp_path / "real" / ".h.npz.lock"
    assert output_lock_path(tmp_path / "ln" / ".." / "h.npz") == want == output_lock_path(tmp_path / "real" / "h.npz")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert output_lock_path(Path("ln/../h.npz")) == want
    finally:
        os.chdir(cwd)
    long = "b" * 250 + ".npz"  # '.<name>.lock' over 255 bytes: a hashed name, the same for every spelling
    assert output_lock_path(tmp_path / long).name.startswith(".") and len(output_lock_path(tmp_path / long).name) < 40


def test_an_output_held_by_another_writer_is_waited_for_with_a_line_on_stderr(tmp_path, capsys):
    """Regression (an adversarial tester): predict --csv waited without a word, without limit, while another process
    held the CSV's lock. It says whom it waits for, on stderr (stdout is the predictions), then writes."""
    import threading
    import time

    from featcache.store.atomic import write_text
    from featcache.store.layout import output_lock_path
    from featcache.store.lock import exclusive_lock

    out = tmp_path / "p.csv"
    held, release = threading.Event(), threading.Event()

    def holder():
        with exclusive_lock(out, lock_file=output_lock_path(out)):
            held.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(10)
    threading.Timer(1.5, release.set).start()  # a wait is said after lock.WAIT_QUIET_SECONDS (1 s)
    t0 = time.monotonic()
    write_text(out, "input\n", recheck=lambda: None)
    t.join()
    said = capsys.readouterr()
    assert time.monotonic() - t0 >= 1.4 and out.read_text() == "input\n"
    assert said.out == "" and said.err.startswith(f"featcache: waiting for another featcache process writing {out} ... (held by process ")


@pytest.mark.parametrize("raised", [OSError(), ValueError(""), OSError("\n")])
def test_an_hdf5_error_without_a_message_is_named_by_its_type(tmp_path, monkeypatch, raised):
    """A review: open_h5 took the first line of h5py's message with ``str(exc).splitlines()[0]``, an IndexError
    traceback for an error whose message is empty; the one ``errors.first_line`` names its type instead."""
    from featcache.errors import NotHDF5
    from featcache.store import layout

    def refuse(*args, **kwargs):
        raise raised

    monkeypatch.setattr(layout.h5py, "File", refuse)
    with pytest.raises(NotHDF5, match=rf"is not a readable HDF5 file \({type(raised).__name__}\)"):
        layout.open_h5(tmp_path / "c.h5")


def test_a_name_with_no_room_for_lock_is_locked_under_a_hashed_name(tmp_path):
    """Regression (a tester): curve's default folder, named after a photo folder of 210 characters, is a legal name
    of 252 bytes with no room for ".lock": "cannot write the lock file ... (File name too long); choose a writable
    --out". Its lock is .<16 hex of the name's SHA-256>.lock beside it, and it works."""
    from featcache.store.layout import lock_path

    long = tmp_path / ("c" * 251)
    lp = lock_path(long)
    assert lp.parent == tmp_path and lp.name.startswith(".") and lp.name.endswith(".lock") and len(lp.name) == 22
    assert lock_path(tmp_path / ("c" * 250)).name == "c" * 250 + ".lock"  # 255 bytes: as before
    assert lock_path(tmp_path / ("c" * 252)) != lp
    long.mkdir()
    with exclusive_lock(long):
        assert lp.exists()
    assert not lp.exists()


@pytest.mark.parametrize("staged", [False, True], ids=["cache", "photo-folder"])
@pytest.mark.parametrize("n, width", [(100, 8), (640, 32), (3000, 256)])
def test_the_space_a_writer_asks_for_covers_what_the_cache_really_grows_by(tmp_path, monkeypatch, n, width, staged):
    """Regression (an adversarial tester, 2026-12-06): on a full disk extract said "free N MB" for the features still
    to write alone; on a 3 MB tmpfs it said "free 2 MB", and once that was freed every row was written and the seal
    failed with "free 1 MB". The estimate (``_needed``, which the line's N comes from) must cover what the disk
    really grows by from that point: its rows as HDF5 stores them, and the peak of the seal (the room reserved past
    the file's end, ``_reserve_room``), measured here on real writes, from the start and from half way. A photo
    folder's writer (``StagedWriter``) publishes a regrouped copy beside the whole partial, removed only after: it
    asked for every row's features alone (640 x 32: 81,920 bytes of 239,558; a reviewer, 2026-12-06)."""
    from featcache.store import writer as writer_module

    peaks = []
    real_reserve = writer_module._reserve_room

    def reserve(path, room, check=None):
        peaks.append(os.path.getsize(path) + room)  # the file's size while the seal's room is held
        return real_reserve(path, room, check)

    monkeypatch.setattr(writer_module, "_reserve_room", reserve)
    path = tmp_path / "c.h5"
    ident = identity()
    attrs = {"fingerprint": ident.fingerprint, "settings": ident.settings(), "class_names": list(ident.class_names),
             "layers": ["out"], "default_layer": "out", "dtype": "float32"}
    rows = np.arange(n)
    paths = [f"class_{i % 3}/photo_{i:05d}.jpg" for i in rows]
    if staged:
        w = StagedWriter(path, attrs, [SplitSpec(STAGING, rows % 3, rows, paths)], {"out": width}, "float32")
    else:
        w = CacheWriter(path, attrs, [SplitSpec("train", rows % 3, rows)], {"out": width}, "float32")
    split = w.splits[0].name
    w.open()
    asked = []
    rng = np.random.default_rng(0)
    for start in range(0, n, 64):
        if start in (0, n // 128 * 64):  # before any row, and about half way
            w.commit()
            asked.append((os.path.getsize(partial_path(path)), w._needed()))
        k = min(64, n - start)
        problems = (np.array([""] * k, dtype=object),) if staged else ()  # each staged row's decode problem: none
        w.write(split, start, {"out": rng.random((k, width), dtype=np.float32)}, *problems)
    if staged:
        w.commit()
        whole = os.path.getsize(partial_path(path))
        tr = n * 3 // 4
        w.finish(regroup=[SplitSpec("train", rows[:tr] % 3, rows[:tr], paths[:tr], rows=rows[:tr]),
                          SplitSpec("test", rows[tr:] % 3, rows[tr:], paths[tr:], rows=rows[tr:])])
        peak = whole + os.path.getsize(path)  # the partial goes only once its copy is in place
    else:
        w.finish()
        peak = max(peaks + [os.path.getsize(path)])
    w.close()
    for size, needed in asked:
        assert needed >= peak - size, (size, needed, peak)  # was: the features alone, short by the seal's 1 MB


def test_a_full_disk_at_a_photo_caches_copy_asks_for_what_is_missing_once_the_copy_is_gone(tmp_path, monkeypatch):
    """Regression (an adversarial tester, 2026-12-06): a photo folder's extract on a 4000 KB tmpfs failed writing the
    regrouped copy and said "free 4 MB" where 0.8 MB more sufficed: the free space was counted with the failed copy
    still on the disk, and the copy's seal asked for the 1 MB an in-place seal reserves. Here a disk of the partial's
    size and half the copy's (free space is the disk less the folder's files), full as the copy is sealed: the line
    asks for about the half that is missing. Fails on the code before: it asked for the whole copy and 1 MB."""
    import errno
    import math
    import re
    import shutil

    from featcache import errors as errors_module
    from featcache.store import writer as writer_module

    n, width = 3000, 256
    ident = identity()
    attrs = {"fingerprint": ident.fingerprint, "settings": ident.settings(), "class_names": list(ident.class_names),
             "layers": ["out"], "default_layer": "out", "dtype": "float32"}
    rows = np.arange(n)
    paths = [f"class_{i % 3}/photo_{i:05d}.jpg" for i in rows]
    tr = n * 3 // 4
    regroup = [SplitSpec("train", rows[:tr] % 3, rows[:tr], paths[:tr], rows=rows[:tr]),
               SplitSpec("test", rows[tr:] % 3, rows[tr:], paths[tr:], rows=rows[tr:])]
    features = np.random.default_rng(0).random((n, width), dtype=np.float32)

    def staged(folder):
        folder.mkdir()
        w = StagedWriter(folder / "c.h5", attrs, [SplitSpec(STAGING, rows % 3, rows, paths)], {"out": width}, "float32")
        w.open()
        w.write(STAGING, 0, {"out": features}, np.array([""] * n, dtype=object))
        w.commit()
        return w

    w = staged(tmp_path / "whole")
    w.finish(regroup=regroup)
    w.close()
    copy = os.path.getsize(tmp_path / "whole" / "c.h5")
    w = staged(tmp_path / "full")
    folder = tmp_path / "full"
    disk = os.path.getsize(partial_path(folder / "c.h5")) + copy // 2
    used = lambda: sum(p.stat().st_size for p in folder.iterdir() if p.is_file())  # noqa: E731
    real_usage = shutil.disk_usage
    monkeypatch.setattr(errors_module.shutil, "disk_usage",
                        lambda p: real_usage(p)._replace(free=max(0, disk - used())) if Path(p) == folder else real_usage(p))
    monkeypatch.setattr("featcache.validate.mount_point", lambda p: folder)

    def full(f):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer_module, "_seal", full)
    with pytest.raises(FeatcacheError) as exc:
        w.finish(regroup=regroup)
    w.close()
    asked = int(re.search(r"; free (\d+) MB or", str(exc.value))[1])
    missing = copy - (disk - used())  # what the disk lacks for the copy, the failed copy removed
    assert sorted(p.name for p in folder.iterdir()) == ["c.h5.partial.h5"], list(folder.iterdir())
    assert math.ceil(missing / 2**20) <= asked <= math.ceil(missing * 1.2 / 2**20), (asked, missing, str(exc.value))


def test_a_cache_whose_extract_is_still_building_its_network_is_said_to_be_running(tmp_path, capsys):
    """Regression (an adversarial tester, 2026-12-06): 'train c2.h5' while an extract of c2.h5 still built its network
    (its lock held, no partial yet) said "cache not found: c2.h5; run 'featcache extract' first". A reader says that
    an extract of it is running, and who holds its lock; a lock file nobody holds is no running extract."""
    from featcache.store.layout import lock_path
    from featcache.store.lock import exclusive_lock

    path = tmp_path / "c2.h5"
    with exclusive_lock(path):  # what extract holds from before its model build to its publish
        for command in (["train", str(path)], ["info", str(path)]):
            assert main(command) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and (f"{path} is not written yet: an extract of it is running (process "
                                             f"{os.getpid()} holds c2.h5.lock); wait for it to finish") in err, err
            assert "cache not found" not in err
        with pytest.raises(FeatcacheError, match="an extract of it is running"):
            open_cache(path)
    lock_path(path).write_bytes(b"featcache-lock pid=999999\n")  # a killed run's: nobody holds it
    with pytest.raises(FeatcacheError, match="^cache not found: "):
        open_cache(path)


def test_a_partials_rows_done_are_one_count_for_the_reader_and_the_writer(tmp_path):
    """Regression (helper-232's review): the reader's ``progress`` counted the split groups (those holding labels) and
    the writer's ``rows_in`` every root group's rows_done, so a partial with an extra group saying rows_done held
    rows to the writer (another's work, set aside) and none to the reader (a stub). One count now: the splits'."""
    from featcache.store.partial import progress_rows, rows_in
    from featcache.store.reader import read_attrs

    w = writer(tmp_path / "a.h5")
    write_rows(w, w.open(), stop={"train": 128, "test": 0})
    w.close()
    part = partial_path(tmp_path / "a.h5")
    with h5py.File(part, "a") as f:
        f.create_group("notes").attrs["rows_done"] = 500  # an edit: no labels, so no split and no rows
    with h5py.File(part, "r") as f:
        writers = rows_in(f)
    assert writers == progress_rows(read_attrs(part, check_seal=False)) == 128, writers


def test_a_partials_split_name_held_by_a_dataset_is_damage_to_the_reader_and_the_writer(tmp_path):
    """Regression (a re-read, 2026-12-06): the one count of a partial's rows (``split_progress``) left out a root
    dataset named ``train`` (only an edit makes one: a partial is laid out whole, a group per split), so the reader
    showed a partial of test rows alone, and the writer, meeting it without a fingerprint, started it over as "from
    other settings". Both say it is damaged now, naming what is wrong."""
    from featcache.store.reader import read_attrs

    w = writer(tmp_path / "a.h5")
    write_rows(w, w.open(), stop={"train": 128, "test": 0})
    w.close()
    part = partial_path(tmp_path / "a.h5")
    with h5py.File(part, "a") as f:
        del f["train"], f.attrs["fingerprint"]
        f["train"] = np.arange(10)
    # said by the one check of each object's kind (layout.misplaced_object, helper-255), which comes first
    with pytest.raises(FeatcacheError, match=r"a\.h5\.partial\.h5 is damaged \(train is a dataset, where featcache writes "
                                             r"a split's group\)"):
        read_attrs(part, check_seal=False)
    w2 = writer(tmp_path / "a.h5")
    w2.open()
    # in the reader's words (layout.split_not_a_group): "('train' is a dataset, not a split's group)" was a second
    assert w2.repairs == [f"resuming {tmp_path / 'a.h5'}: the partial file is damaged (train is a dataset, where "
                          "featcache writes a split's group); starting it over"], w2.repairs
    w2.close()


def test_remade_digests_are_kept_safely_by_threads_at_once(monkeypatch):
    """Regression (a review): ``layout._remade_dataset_digests`` evicted its module-level dict without a lock; threads
    of one process checking caches at once deleted the same oldest entry twice (KeyError) or one another's new entry
    before it was read back (KeyError). A dict that yields to other threads as an entry is stored makes that
    interleaving sure; each thread gets its own file's digests and the dict keeps at most its bound."""
    import threading

    from featcache.store import layout

    class Yielding(dict):
        def __setitem__(self, key, value):
            super().__setitem__(key, value)
            time.sleep(0.02)  # another thread runs here, as it may at any bytecode

    kept = Yielding()
    monkeypatch.setattr(layout, "_REMADE_DIGESTS", kept)
    monkeypatch.setattr(layout, "file_stamp", lambda f, path=None: (f,))
    monkeypatch.setattr(layout, "dataset_digests", lambda f: f"digests of {f}")
    monkeypatch.setattr(layout, "encode", lambda digests: digests.upper())
    n = 4 * layout._REMADE_KEPT
    start, got, errors = threading.Barrier(n), {}, []

    def check(i):
        start.wait()
        try:
            got[i] = layout._remade_dataset_digests(i)
        except Exception as exc:  # what the old code raised: the test's finding, not the test failing in a thread
            errors.append(repr(exc))

    threads = [threading.Thread(target=check, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert got == {i: f"DIGESTS OF {i}" for i in range(n)}
    assert 0 < len(kept) <= layout._REMADE_KEPT and all(kept[k] == f"DIGESTS OF {k[0]}" for k in kept)
    assert layout._remade_dataset_digests(next(iter(kept))[0]) == f"DIGESTS OF {next(iter(kept))[0]}"  # one kept, read back
