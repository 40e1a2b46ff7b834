"""The backbone registry against the real Keras models, and extraction through each backbone."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import featcache
from featcache.embedding.mapper import counter_named, feature_maps
from featcache.embedding.backbones import REGISTRY, get_backbone, layer_label, layer_name, resolve_layers, short_layer


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registry_names_match_the_keras_model(name):
    """final_layer, width and every block layer exist in the real headless network."""
    bb = get_backbone(name)
    base = bb.build("random", 64)
    layers = {l.name: l for l in base.layers}
    # final_layer is the last layer's name (caches name their datasets by it: a typo would orphan them), or where
    # Keras names that layer by a counter, one of the registry's own, no layer's (a review)
    if counter_named(base.layers[-1]):
        assert bb.final_layer not in layers
    else:
        assert bb.final_layer == base.layers[-1].name
    assert base.output.shape[-1] == bb.width
    assert len(bb.block_layers) >= 10
    for block in bb.block_layers:
        assert block in layers and not counter_named(layers[block]), block
        assert len(layers[block].output.shape) == 4, block
    # --layers takes the short names probe.png shows (block_13): each must mean its block alone, never another layer
    assert not set(bb.block_names) & set(layers), set(bb.block_names) & set(layers)
    # ... nor any name of their shape (block_99): ModelSpec refuses such a name that is no block without the network
    assert not [n for n in layers if bb.block_shaped(n)], [n for n in layers if bb.block_shaped(n)]
    # every feature map gets its own label (probe.png's axis, the lists in errors), and each label means that layer again
    maps = [l.name for l in base.layers if len(l.output.shape) == 4]
    labels = [layer_label(bb, m) for m in maps]
    assert len(set(labels)) == len(maps) and [layer_name(bb, label) for label in labels] == maps
    assert feature_maps(bb.architecture(64), [bb.final_layer], bb)[0].shape[-1] == bb.width
    # A block's output feeds the next block's convolutions; a residual branch
    # (e.g. an EfficientNet ``_project_bn`` before its skip) feeds only its
    # Dropout/Add and is not the block's output.
    for block in bb.block_layers:
        if block == bb.final_layer:
            continue
        consumers = [l for l in base.layers if any(h.operation is layers[block] for h in _inbound(l))]
        assert consumers and not all(type(c).__name__ in ("Add", "Dropout") for c in consumers), f"{block} is a residual branch"


@pytest.mark.parametrize("name, sizes", [("mobilenet_v2", (96, 100)), ("resnet50", (64,)), ("efficientnet_b0", (64,)),
                                         ("mobilenet_v3_small", (64,)), ("mobilenet_v3_large", (64,))])
def test_the_imagenet_file_is_the_one_keras_asks_for(name, sizes, monkeypatch):
    """``--weights imagenet`` is identified by the file the registry names (``imagenet_weights_file``): it must be
    the very file, URL and hash Keras's builder asks ``get_file`` for, at every size (MobileNetV2 has one per size)."""
    import keras
    from keras.src.utils import file_utils

    class Asked(Exception):
        pass

    def spy(fname, origin, cache_subdir="datasets", file_hash=None, **kwargs):
        raise Asked(fname, origin, cache_subdir, file_hash)

    monkeypatch.setattr(file_utils, "get_file", spy)
    bb = get_backbone(name)
    for size in sizes:
        with pytest.raises(Asked) as asked, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras's note that other sizes load the 224 px weights
            getattr(keras.applications, bb.application)(include_top=False, weights="imagenet", input_shape=(size, size, 3))
        assert asked.value.args == (bb.imagenet.file_name(size), bb.imagenet.url(size), "models", bb.imagenet.file_hash)


def test_kerass_cache_is_found_as_keras_finds_it(tmp_path):
    """Without importing Keras (a cache hit never does), the folder Keras's get_file keeps weights in: KERAS_HOME,
    made where missing as importing Keras does, and ~/.keras otherwise."""
    code = ("from featcache.embedding.backbones import keras_models_dir as d; import sys; before = d();"
            " assert 'keras' not in sys.modules; import keras.src.backend.config as c;"
            " print(before, d(), c.keras_home())")
    (tmp_path / "home").mkdir()
    base = {k: v for k, v in os.environ.items() if k != "KERAS_HOME"}
    runs = [subprocess.Popen([sys.executable, "-c", code], env=base | env, stdout=subprocess.PIPE, text=True)
            for env in ({"KERAS_HOME": str(tmp_path / "kh")}, {"HOME": str(tmp_path / "home")})]  # together: 2 imports
    for run, home in zip(runs, (tmp_path / "kh", tmp_path / "home" / ".keras")):
        out = run.communicate()[0].split()
        assert run.returncode == 0 and out[0] == out[1] == str(home / "models") and out[2] == str(home), out


def _inbound(layer):
    """Keras layers whose outputs ``layer`` consumes."""
    out = []
    for node in layer._inbound_nodes:
        for t in node.input_tensors:
            out.append(t._keras_history)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name, width", [("resnet50", 2048), ("efficientnet_b0", 1280), ("mobilenet_v3_small", 576)])
def test_extract_with_random_weights(fashion_dir, tmp_path, name, width):
    res = featcache.extract(featcache.FashionMNIST(data_dir=str(fashion_dir)),
                            featcache.ModelSpec(backbone=name, weights="random", image_size=32, layers="blocks"),
                            featcache.StoreSpec(out=tmp_path / f"{name}.h5"), verbose=False)
    cache = featcache.open_cache(res.path)
    bb = get_backbone(name)
    assert cache.meta["backbone"] == name and cache.meta["weights_random"]
    assert cache.meta["preprocessing"].endswith(f"{bb.preprocess_module}.preprocess_input")
    assert cache.default_layer == bb.final_layer
    assert cache.layers == resolve_layers(bb, "blocks") and cache.layers[-1] == bb.final_layer
    x = cache.features("train")
    assert x.shape == (48, width) and np.isfinite(x).all() and x.std() > 0
    assert cache.features("test", bb.block_layers[0]).shape[0] == 24


def test_block_names_as_probe_png_shows_them_are_the_block_layers():
    """A new-user tester typed probe.png's x-axis label (block_13) into --layers: it was an unknown layer."""
    bb = get_backbone("mobilenet_v2")
    assert resolve_layers(bb, "block_13,out_relu") == ["block_13_expand_relu", "out_relu"]
    assert resolve_layers(bb, ["block_1", "block_1_expand_relu", "blocks"]) == resolve_layers(bb, "blocks")
    assert featcache.ModelSpec(weights="random", layers="block_16").layer_names() == ["block_16_expand_relu"]
    eff = get_backbone("efficientnet_b0")  # its stage-first blocks are labelled without _project_bn
    assert resolve_layers(eff, "block2a,block2b_add") == ["block2a_project_bn", "block2b_add"]
    # every label probe.png gives a block (plots.plot_probe's short_layer) is taken back as that block, on each backbone
    for b in REGISTRY.values():
        assert resolve_layers(b, [short_layer(n) for n in b.block_layers]) == list(b.block_layers)
        assert [layer_name(b, layer_label(b, n)) for n in b.known_layers] == list(b.known_layers)
    # the one resolution: a short name only for a registry block; EfficientNet's residual branch keeps its full name
    assert layer_name(bb, "block_13") == "block_13_expand_relu" and layer_name(bb, "out_relu") == "out_relu"
    assert layer_label(eff, "block2a_project_bn") == "block2a" and layer_label(eff, "block2b_project_bn") == "block2b_project_bn"
    assert layer_name(eff, "block2b") == "block2b" and layer_label(None, "block_13_expand_relu") == "block_13_expand_relu"


@pytest.mark.slow
@pytest.mark.parametrize("layer", [None, "expanded_conv_5_add"])
def test_a_backbone_whose_output_keras_names_by_a_counter_extracts_and_exports(fashion_dir, tmp_path, layer):
    """MobileNetV3's last layer is an Activation named by Keras's counter (activation_17, then activation_35 in the
    next build), so a final layer found by name did not fit (docs/architecture.md). Its output is the base's output:
    a cache of it, and the model exported from a head on it, rebuilt in another build of the network (the counter
    moved on), give the head's probabilities on the cached features."""
    from featcache.deploy.model import load_model
    from featcache.heads.io import head_meta, save_head
    from featcache.heads.logreg import LogRegHead
    from featcache.sources import open_source

    bb = get_backbone("mobilenet_v3_small")
    res = featcache.extract(featcache.FashionMNIST(data_dir=str(fashion_dir)),
                            featcache.ModelSpec(backbone=bb.name, weights="random", image_size=32,
                                                layers="blocks" if layer else None),
                            featcache.StoreSpec(out=tmp_path / "v3.h5"), verbose=False)
    cache = featcache.open_cache(res.path)
    assert cache.default_layer == bb.final_layer == "out_hard_swish"
    head = LogRegHead().fit(cache.features("train", layer), cache.labels("train"))
    path = save_head(head, tmp_path / "h.npz", head_meta(cache, layer, "logreg", head))
    bb.architecture(32)  # one more build: the counter names the output otherwise than in extract's
    model, meta = load_model(featcache.export(path, tmp_path / "m.keras", verbose=False).path)
    images = open_source(meta["source"]).splits["test"].read(0, cache.sizes["test"])
    np.testing.assert_allclose(model.predict(images[..., None], verbose=0),
                               head.predict_proba(cache.features("test", layer)), atol=1e-4)


@pytest.mark.slow
def test_mobilenet_v3_features_agree_on_every_runtime(fashion_dir, tmp_path):
    """The converted runtimes run MobileNetV3 (hard_swish, its own rescaling) to TensorFlow's features, every block
    (7e-8 and 2e-7 measured with random weights at 96 px)."""
    from featcache.embedding import runtimes

    def cache(runtime):
        res = featcache.extract(featcache.FashionMNIST(data_dir=str(fashion_dir)),
                                featcache.ModelSpec(backbone="mobilenet_v3_small", weights="random", image_size=48,
                                                    layers="blocks"),
                                featcache.StoreSpec(out=tmp_path / f"{runtime}.h5"), featcache.LocalEngine(runtime=runtime),
                                verbose=False)
        assert res.runtime == runtime
        return featcache.open_cache(res.path)

    want = cache("tensorflow")
    for runtime in [n for n in ("onnxruntime", "openvino") if runtimes.REGISTRY[n].available()]:
        got = cache(runtime)
        for layer in want.layers:
            np.testing.assert_allclose(got.features("train", layer), want.features("train", layer), atol=1e-4)


def test_a_layer_keras_names_by_a_counter_is_refused_before_any_work(fashion_dir, tmp_path, capsys):
    """A review: MobileNetV3's --layers re_lu_3 passed the check on one build of the network and was unknown in the
    next (extract's), which suggested re_lu_23, no better. Such a name is refused in one line naming the blocks;
    the suggestions for an unknown name leave them out."""
    from featcache.cli import main
    from featcache.errors import FeatcacheError

    bb = get_backbone("mobilenet_v3_small")
    net = bb.architecture(32)
    counted = next(l.name for l in net.layers if l.name.startswith("re_lu"))
    with pytest.raises(FeatcacheError, match=rf"layer '{counted}' of mobilenet_v3_small is named by Keras's counter"):
        feature_maps(net, [counted], bb)
    with pytest.raises(FeatcacheError) as e:
        feature_maps(net, ["re_lu_x"], bb)
    assert "unknown layer 're_lu_x'" in str(e.value) and "did you mean 're_lu" not in str(e.value)
    assert main(["extract", "--data-dir", str(fashion_dir), "--backbone", bb.name, "--weights", "random",
                 "--image-size", "32", "--layers", counted, "--out", str(tmp_path / "c.h5")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "named by Keras's counter" in err and "expanded_conv" in err
    assert not list(tmp_path.glob("*.h5"))


def test_weights_past_the_bound_or_from_proc_are_refused_before_the_network_is_built(tmp_path, monkeypatch):
    """Regression (h309's brief): a sparse 2 GB --weights file was hashed for the cache's identity and refused for its
    size only at the load, after the network was built (35 s in all, under load); /proc/self/status, hashed and read
    again, "changed while it was being loaded", after the build too. Each is refused in one line first
    (backbones.check_weights_file, validate.made_as_read), and no network is built."""
    from helpers import make_fashion_dir

    from featcache.embedding import backbones
    from featcache.embedding.backbones import MAX_WEIGHTS_BYTES

    big = tmp_path / "big.weights.h5"
    with open(big, "wb") as f:
        f.truncate(2 * MAX_WEIGHTS_BYTES)  # sparse: never on disk
    built: list = []
    monkeypatch.setattr(backbones.Backbone, "build", lambda *a, **k: built.append(a) or pytest.fail("network built"))
    source = featcache.FashionMNIST(data_dir=make_fashion_dir(tmp_path / "fm"))
    fix = "pass the .weights.h5 file Keras saved with weights=PATH"
    cases = [(big, f"{big} is 2048 MB ({2 * MAX_WEIGHTS_BYTES:,} bytes), more than the 1024 MB ({MAX_WEIGHTS_BYTES:,} "
                   f"bytes) of any backbone's weights file featcache takes; {fix}")]
    if os.path.isfile("/proc/self/status"):  # Linux's
        cases.append(("/proc/self/status", "weights='/proc/self/status' is a file the system makes as it is read (as "
                                           "in /proc and /sys), not a weights file; pass the .weights.h5 file with weights=PATH"))
    for weights, line in cases:
        with pytest.raises(featcache.FeatcacheError) as exc:
            featcache.extract(source, featcache.ModelSpec(weights=str(weights), image_size=32),
                              featcache.StoreSpec(out=tmp_path / "w.h5"))
        assert str(exc.value).startswith(line), exc.value
    assert built == [] and not (tmp_path / "w.h5").exists()


def test_a_head_model_or_cache_given_as_weights_is_named_before_the_network_is_built(tmp_path, monkeypatch):
    """Regression (h305, an adversarial tester): 'extract --weights h.npz' (or a model's .keras) said "does not fit
    backbone mobilenet_v2 (OSError: Unable to synchronously open file (file signature not found))", and a cache "its
    layers are not this backbone's", each after building the network. Each is named for what it is, in the caller's
    words, and no network is built."""
    from helpers import tiny_fashion_cache

    from featcache.embedding import backbones

    cache = tiny_fashion_cache(tmp_path)
    head = featcache.train(cache, "logreg", out=tmp_path / "h.npz").path
    built: list = []
    monkeypatch.setattr(backbones.Backbone, "build", lambda *a, **k: built.append(a) or pytest.fail("network built"))
    source = featcache.FashionMNIST(data_dir=tmp_path / "fm")
    for weights, said in ((head, "is a zip file (a head or model featcache wrote?), not a weights file"),
                          (cache, "is a cache written by featcache.extract(...), not a weights file")):
        with pytest.raises(featcache.FeatcacheError) as exc:
            featcache.extract(source, featcache.ModelSpec(weights=str(weights), image_size=32),
                              featcache.StoreSpec(out=tmp_path / "w.h5"))
        line = str(exc.value)
        assert line.startswith(f"weights={str(weights)!r} {said}; pass the .weights.h5 file Keras saved with "
                               "weights=PATH"), line
        assert "\n" not in line
    assert built == [] and not (tmp_path / "w.h5").exists()


@pytest.mark.parametrize("content, what", [
    (b"", "is empty (0 bytes)"),
    (b"weights = mobilenet_v2\n", "is a text file"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4, "is a JPEG image"),  # a photo renamed .h5
    (bytes(range(256)) * 8, "is a file without HDF5's signature"),
], ids=["empty", "text", "jpeg", "other"])
def test_a_file_that_is_no_hdf5_file_given_as_weights_is_named_before_the_network_is_built(fashion_dir, tmp_path,
                                                                                            monkeypatch, capsys, content,
                                                                                            what):
    """Regression (a brief, h315): an empty file, a text file or a JPEG renamed .h5 given as --weights built the network
    (up to a minute under load), then said "does not fit backbone mobilenet_v2 (OSError: Unable to synchronously open
    file (file signature not found))". Every Keras weights file is HDF5: one without HDF5's signature where HDF5 looks
    for it is named for what it is, in the caller's words, before any network is built. Fails on the code before (the
    network built)."""
    from helpers import cli_one_line_error

    from featcache.embedding import backbones

    weights = tmp_path / "w.weights.h5"
    weights.write_bytes(content)
    built: list = []
    monkeypatch.setattr(backbones.Backbone, "build", lambda *a, **k: built.append(a) or pytest.fail("network built"))
    with pytest.raises(featcache.FeatcacheError) as exc:  # where extract's API first meets the path
        featcache.ModelSpec(weights=weights, image_size=32)
    assert str(exc.value) == (f"weights={str(weights)!r} {what}, not a weights file (Keras saves weights as HDF5); pass "
                              "the .weights.h5 file Keras saved with weights=PATH, or weights='imagenet' / weights='random'")
    line = cli_one_line_error(capsys, ["extract", "--data-dir", str(fashion_dir), "--weights", str(weights), "--image-size",
                                       "32", "--out", str(tmp_path / "c.h5")], f"--weights {weights} {what}, not a weights file")
    assert "Error" not in line and built == [] and not (tmp_path / "c.h5").exists()


def test_a_weights_file_cut_short_is_named_before_the_network_is_built_and_a_locked_one_is_not(fashion_dir, tmp_path,
                                                                                                 monkeypatch, capsys):
    """Regression (a tester, h319's brief): a weights file with HDF5's signature but cut short (an interrupted
    download) built the network, then was said to "not fit backbone mobilenet_v2". It is named as cut short, with its
    bytes, before any network is built. h5py's open error tells it from a file another process holds locked, which
    is no damage: that one passes the check (the load waits on or reports the lock). Fails on the code before
    (the network built)."""
    import subprocess
    import sys

    import h5py
    import numpy as np
    from helpers import cli_one_line_error

    from featcache.embedding import backbones

    whole = tmp_path / "whole.weights.h5"
    with h5py.File(whole, "w") as f:
        f.create_dataset("layers/dense/vars/0", data=np.arange(50_000, dtype="float32"))
    data = whole.read_bytes()
    cut = tmp_path / "cut.weights.h5"
    cut.write_bytes(data[:len(data) // 2])
    built: list = []
    monkeypatch.setattr(backbones.Backbone, "build", lambda *a, **k: built.append(a) or pytest.fail("network built"))
    with pytest.raises(featcache.FeatcacheError) as exc:
        featcache.ModelSpec(weights=cut, image_size=32)
    assert str(exc.value) == (f"weights={str(cut)!r} is cut short: {len(data) // 2:,} of the {len(data):,} bytes its HDF5 "
                              "header records (an interrupted download or copy?); copy or download it again, or pass "
                              "weights='imagenet' / weights='random'")
    line = cli_one_line_error(capsys, ["extract", "--data-dir", str(fashion_dir), "--weights", str(cut), "--image-size",
                                       "32", "--out", str(tmp_path / "c.h5")], f"--weights {cut} is cut short")
    assert "Error" not in line and built == [] and not (tmp_path / "c.h5").exists()
    # another process holds the whole file open for writing: HDF5's "unable to lock file", not damage
    holder = subprocess.Popen([sys.executable, "-c", "import h5py, sys, time; f = h5py.File(sys.argv[1], 'r+'); "
                               "print('open', flush=True); time.sleep(60)", str(whole)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(OSError, match="unable to lock file"):  # what the check meets: HDF5's lock, as it says
            h5py.File(whole, "r")
        assert featcache.ModelSpec(weights=whole, image_size=32).weights == str(whole)
    finally:
        holder.kill()
        holder.wait()


def test_an_hdf5_file_with_a_user_block_is_not_taken_for_another_kind_of_file(tmp_path):
    """HDF5 keeps its signature after a user block (512, 1024, ... bytes) where a file has one: such a file is HDF5,
    and the check of --weights lets it through to the load, which judges its layers."""
    import h5py

    from featcache.embedding.backbones import check_weights_file

    weights = tmp_path / "w.weights.h5"
    with h5py.File(weights, "w", userblock_size=1024) as f:
        f.create_dataset("x", data=np.zeros(3))
    with open(weights, "r+b") as f:
        f.write(b"a user block of text, as some tools leave one\n")
    assert check_weights_file(str(weights)) == weights
