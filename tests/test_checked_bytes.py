"""A file featcache checks is the file it uses: a head or model replaced between its check (content digest, record,
kind) and its load (Keras's, numpy's) is loaded as it was checked, never as what was put at its path meanwhile.
Each test replaces the file at the point between the two, as an attacker's ``mv`` racing the command would."""

from __future__ import annotations

import os
import shutil
import stat

import numpy as np
import pytest
from helpers import tiny_fashion_cache

import featcache
from featcache.heads import io as head_io
from featcache.heads.io import DIGEST_KEY, stored_digest


def _replaced_after(monkeypatch, module, name: str, path, other) -> list:
    """Make ``module.name`` (a check) do its work, then replace the file at ``path`` with a copy of ``other`` (once),
    as a rename racing the command would; the list it returns says whether the swap happened."""
    real = getattr(module, name)
    swapped = []

    def check_then_swap(*args, **kwargs):
        result = real(*args, **kwargs)
        if not swapped:
            tmp = f"{path}.swap"
            shutil.copyfile(other, tmp)
            os.replace(tmp, path)
            swapped.append(True)
        return result

    monkeypatch.setattr(module, name, check_then_swap)
    return swapped


@pytest.fixture(scope="module")
def heads(tmp_path_factory):
    """Two heads of each kind trained on one tiny cache, their weights apart (other C, other seed)."""
    tmp = tmp_path_factory.mktemp("heads")
    cache = tiny_fashion_cache(tmp)
    return {"npz": (featcache.train(cache, "logreg", C=1.0, out=tmp / "a.npz").path,
                    featcache.train(cache, "logreg", C=0.001, out=tmp / "b.npz").path),
            "keras": (featcache.train(cache, "keras", epochs=1, seed=0, out=tmp / "a.keras").path,
                      featcache.train(cache, "keras", epochs=1, seed=1, out=tmp / "b.keras").path),
            "features": np.random.default_rng(0).normal(size=(6, 1280)).astype(np.float32)}


@pytest.mark.parametrize("kind", ["npz", "keras"])
def test_a_head_replaced_between_its_check_and_its_load_is_loaded_as_checked(heads, tmp_path, monkeypatch, kind):
    a, b = heads[kind]
    path = tmp_path / f"head.{kind}"
    shutil.copyfile(a, path)
    want = featcache.load_head(a)[0].predict_proba(heads["features"])
    other = featcache.load_head(b)[0].predict_proba(heads["features"])
    assert not np.allclose(want, other, atol=1e-4)  # the two heads tell apart

    swapped = _replaced_after(monkeypatch, head_io, "check_content", path, b)
    head, meta = featcache.load_head(path)
    assert swapped  # the file at the path is b's now, after a's bytes were checked
    assert stored_digest(path) == stored_digest(b) != meta[DIGEST_KEY]
    assert meta[DIGEST_KEY] == stored_digest(a)  # the record checked is the record returned ...
    np.testing.assert_allclose(head.predict_proba(heads["features"]), want, atol=1e-6)  # ... and the head that loaded


def test_a_keras_heads_private_copy_is_the_users_alone_and_removed(heads, tmp_path, monkeypatch):
    """Keras loads a .keras head from a copy of the checked bytes (its loader takes a path): mode 0600 in a folder of
    its own, gone once the head is loaded."""
    import tempfile

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    seen = []
    real = head_io._private_copy

    def copy(data, made):
        where = real(data, made)
        seen.append((stat.S_IMODE(os.stat(where).st_mode), stat.S_IMODE(os.stat(os.path.dirname(where)).st_mode), where))
        return where

    monkeypatch.setattr(head_io, "_private_copy", copy)
    featcache.load_head(heads["keras"][0])
    [(mode, folder_mode, where)] = seen
    assert (mode, folder_mode) == (0o600, 0o700)
    assert not os.path.exists(os.path.dirname(where)) and list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def models(heads, tmp_path_factory):
    """The two logreg heads exported: two models of one data set, their weights apart."""
    tmp = tmp_path_factory.mktemp("models")
    return tuple(featcache.export(head, tmp / f"{name}.keras").path for name, head in zip("ab", heads["npz"]))


def test_a_model_replaced_between_its_check_and_its_load_is_loaded_as_checked(models, tmp_path, monkeypatch):
    """``load_model`` (the API's): its record and content digest are checked in the bytes Keras loads."""
    from featcache.deploy import model as model_io

    a, b = models
    path = tmp_path / "model.keras"
    shutil.copyfile(a, path)
    images = np.random.default_rng(0).integers(0, 256, size=(4, 32, 32, 1), dtype=np.uint8)

    def probabilities(net):  # the network called as it is (Keras's predict traced a function per network: 1 s each)
        return np.asarray(net(images, training=False))

    want = probabilities(featcache.load_model(a)[0])
    assert not np.allclose(want, probabilities(featcache.load_model(b)[0]), atol=1e-5)

    swapped = _replaced_after(monkeypatch, model_io, "read_meta", path, b)
    net, meta = featcache.load_model(path)
    assert swapped and stored_digest(path) == stored_digest(b)
    assert meta[DIGEST_KEY] == stored_digest(a)
    np.testing.assert_allclose(probabilities(net), want, atol=1e-6)


def test_a_conversion_replaced_between_its_checksum_and_its_load_is_not_run(models, tmp_path, monkeypatch):
    """A cached ONNX conversion of a model is checked by its checksum, then run: another model's conversion put under
    its name in between (a valid ONNX file that runs) is never run; the model is converted again. The other model is
    a's conversion with its largest weight tensor changed: an ONNX file of other weights, as b's conversion was here
    before, without b's Keras load and conversion (3 s and 8-20 s); the conversion made again is a's made first, copied
    by a stand-in for tf2onnx."""
    pytest.importorskip("onnxruntime")
    import onnx
    from helpers import model_conversion
    from onnx import numpy_helper

    from featcache.deploy.model import ModelRunner
    from featcache.embedding import runtimes

    monkeypatch.setenv("FEATCACHE_RUNTIME_DIR", str(tmp_path / "runtimes"))
    a = models[0]
    images = np.random.default_rng(0).integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    want = ModelRunner(a, "onnxruntime")(images)  # converts a, and caches it
    onnx_a = model_conversion(a, tmp_path / "runtimes")
    graph = onnx.load(str(onnx_a))
    big = max(graph.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    big.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(big) + 0.5, big.name))
    onnx_other = tmp_path / "other.onnx"
    onnx.save(graph, str(onnx_other))
    other = runtimes.OnnxRuntime().load(onnx_other)(images)[0]  # what a run of that file gives
    assert not np.allclose(want, other, atol=1e-5)

    # The conversion made again writes the bytes of a's conversion made above: what is checked is that the file found
    # is not run and a conversion is made (counted), checked against a's network, published and run; tf2onnx's own
    # work (4-7 s of this model here) is the same each time, and tested where the conversion is the point
    # (test_runtimes' test_conversion_cached_reused_and_equal).
    a_conversion, calls = onnx_a.read_bytes(), []

    def export_again(model, spec, out):
        calls.append(1)
        out.write_bytes(a_conversion)

    monkeypatch.setattr(runtimes, "_export_onnx", export_again)
    swapped = _replaced_after(monkeypatch, runtimes, "_digest_matches", onnx_a, onnx_other)
    got = ModelRunner(a, "onnxruntime")(images)
    assert swapped and calls == [1]  # converted again, once
    np.testing.assert_allclose(got, want, atol=1e-6)  # a's conversion (made again), not the other put under its name


def test_weights_replaced_between_their_check_and_their_load_are_not_loaded(tmp_path, monkeypatch):
    """--weights PATH: the identity an extraction records is checked, then Keras loaded the file by its path again:
    other weights put there in between made features stored under the first weights' identity."""
    from helpers import _standin_bytes, make_fashion_dir

    from featcache.embedding.mapper import Mapper

    weights, other = tmp_path / "w.h5", tmp_path / "other.h5"
    weights.write_bytes(_standin_bytes(1))
    other.write_bytes(_standin_bytes(2))
    source = featcache.FashionMNIST(data_dir=str(make_fashion_dir(tmp_path / "fm", n_train=8, n_test=8)))
    engine = featcache.LocalEngine(runtime="tensorflow")
    swapped = _replaced_after(monkeypatch, Mapper, "_check_weights", weights, other)
    out = tmp_path / "c.h5"
    with pytest.raises(featcache.FeatcacheError, match="changed while it was being loaded"):
        featcache.extract(source, featcache.ModelSpec(weights=str(weights), image_size=32),
                          featcache.StoreSpec(out=out), engine, verbose=False)
    assert swapped and not out.exists()


def _padded_to(src, dst, size: int):
    """A copy of the zip at ``src`` with a hole before it, ``size`` bytes in all: a sparse file (nothing of the hole is
    written to disk) that is still a zip whose entries read (zipfile takes bytes before an archive, as a
    self-extracting one has)."""
    data = src.read_bytes()
    with open(dst, "wb") as f:
        f.truncate(size - len(data))
        f.seek(0, os.SEEK_END)
        f.write(data)
    assert os.stat(dst).st_size == size
    return dst


def test_a_head_or_model_past_the_size_of_any_featcache_writes_is_refused_unread(heads, models, tmp_path, capsys):
    """Regression (a brief, helper-299): a head or model is read whole to check the bytes that load, with no bound, so
    a multi-GB file given as one (a data set's zip, a crafted file) cost its size in memory before it was refused,
    and one of a model's entries padded to 4 GiB loaded and predicted (verify said "ok: intact", 4096 MB read).
    One past ``MAX_FILE_BYTES`` is refused before it is read, in one line naming it, its size, the bound and the
    fix, by the API and every command (exit 2); the peak memory of this process grows by no file's size."""
    import resource

    from helpers import run_main

    from featcache.heads.io import MAX_FILE_BYTES

    size = MAX_FILE_BYTES + 1
    cache = heads["npz"][0].parent / "c.h5"
    photo = tmp_path / "p.png"
    from PIL import Image

    Image.fromarray(np.zeros((32, 32), np.uint8)).save(photo)
    big = {"npz": _padded_to(heads["npz"][0], tmp_path / "h.npz", size),
           "keras": _padded_to(heads["keras"][0], tmp_path / "h.keras", size),
           "model": _padded_to(models[0], tmp_path / "m.keras", size)}
    words = {kind: f"is 4096 MB ({size:,} bytes), more than the 4096 MB ({MAX_FILE_BYTES:,} bytes) of any {kind} "
                   "featcache writes; pass the " for kind in ("head", "model")}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    for kind in ("npz", "keras"):
        with pytest.raises(featcache.FeatcacheError) as exc:
            featcache.load_head(big[kind])
        assert str(exc.value).startswith(f"{big[kind]} {words['head']}"), exc.value
    with pytest.raises(featcache.FeatcacheError) as exc:
        featcache.load_model(big["model"])
    assert str(exc.value).startswith(f"{big['model']} {words['model']}"), exc.value
    for argv, kind in [(["evaluate", str(big["npz"]), str(cache)], "head"), (["evaluate", str(big["keras"]), str(cache)], "head"),
                       (["export", str(big["npz"]), "--out", str(tmp_path / "out.keras")], "head"),
                       (["predict", str(big["model"]), str(photo)], "model"),
                       (["verify", str(big["npz"])], "head"), (["verify", str(big["model"])], "model"),
                       (["info", str(big["keras"])], "head"), (["info", str(big["model"])], "model")]:
        proc = run_main(capsys, *argv)
        assert proc.returncode == 2 and words[kind] in proc.stderr, (argv, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "out.keras").exists()
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    assert grown < (MAX_FILE_BYTES >> 10) // 8, f"peak memory grew by {grown:,} KiB: a file was read"


def test_weights_and_cached_conversions_past_their_bound_are_refused_unread(tmp_path):
    """Regression (a brief, helper-302): a ``--weights PATH`` file (``backbones.checked_weights``) and a cached
    conversion (``runtimes._checked_conversion``) were read whole, with no bound, as heads and models were before
    helper-299: a multi-GB file given as weights, or put under a conversion's name, cost its size in memory. One
    past its bound (``MAX_WEIGHTS_BYTES``; a conversion holds a model's weights: ``MAX_FILE_BYTES``) is refused in
    one line naming it, its size and the bound, before it is read (a sparse file: the hole is never on disk); the
    peak memory of this process grows by no file's size. A refused conversion is converted again (``build``)."""
    import resource

    from featcache.embedding import runtimes
    from featcache.embedding.backbones import MAX_WEIGHTS_BYTES, get_backbone
    from featcache.validate import MAX_FILE_BYTES

    weights = tmp_path / "big.weights.h5"
    with open(weights, "wb") as f:
        f.truncate(MAX_WEIGHTS_BYTES + 1)
    converted = tmp_path / "big.onnx"
    with open(converted, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    runtimes._digest_path(converted).write_text("0" * 64 + "\n")
    get_backbone("mobilenet_v2").build("random", 32)  # TensorFlow's own memory, before the peak is taken
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    with pytest.raises(featcache.FeatcacheError) as exc:
        get_backbone("mobilenet_v2").build(str(weights), 32)
    assert str(exc.value) == (
        f"{weights} is 1024 MB ({MAX_WEIGHTS_BYTES + 1:,} bytes), more than the 1024 MB ({MAX_WEIGHTS_BYTES:,} bytes) "
        "of any backbone's weights file featcache takes; pass the .weights.h5 file Keras saved with weights=PATH")
    with pytest.raises(featcache.FeatcacheError) as exc:
        runtimes._checked_conversion(converted, "key")
    assert str(exc.value) == (
        f"{converted} is 4096 MB ({MAX_FILE_BYTES + 1:,} bytes), more than the 4096 MB ({MAX_FILE_BYTES:,} bytes) of "
        "any converted model featcache writes; delete it and run again")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    assert grown < (MAX_WEIGHTS_BYTES >> 10) // 4, f"peak memory grew by {grown:,} KiB: a file was read"
