"""The backbone registry against the real Keras models, and extraction through each backbone."""

from __future__ import annotations

import numpy as np
import pytest

import featcache
from featcache.embedding.backbones import REGISTRY, get_backbone, layer_label, layer_name, resolve_layers, short_layer


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registry_names_match_the_keras_model(name):
    """final_layer, width and every block layer exist in the real headless network."""
    bb = get_backbone(name)
    base = bb.build("random", 64)
    layers = {l.name: l for l in base.layers}
    assert base.layers[-1].name == bb.final_layer
    assert base.output.shape[-1] == bb.width
    assert len(bb.block_layers) >= 10
    for block in bb.block_layers:
        assert block in layers, block
        assert len(layers[block].output.shape) == 4, block
    # --layers takes the short names probe.png shows (block_13): each must mean its block alone, never another layer
    assert not set(bb.block_names) & set(layers), set(bb.block_names) & set(layers)
    # every feature map gets its own label (probe.png's axis, the lists in errors), and each label means that layer again
    maps = [l.name for l in base.layers if len(l.output.shape) == 4]
    labels = [layer_label(bb, m) for m in maps]
    assert len(set(labels)) == len(maps) and [layer_name(bb, label) for label in labels] == maps
    assert bb.architecture(64).layers[-1].name == bb.final_layer
    # A block's output feeds the next block's convolutions; a residual branch
    # (e.g. an EfficientNet ``_project_bn`` before its skip) feeds only its
    # Dropout/Add and is not the block's output.
    for block in bb.block_layers:
        if block == bb.final_layer:
            continue
        consumers = [l for l in base.layers if any(h.operation is layers[block] for h in _inbound(l))]
        assert consumers and not all(type(c).__name__ in ("Add", "Dropout") for c in consumers), f"{block} is a residual branch"


def _inbound(layer):
    """Keras layers whose outputs ``layer`` consumes."""
    out = []
    for node in layer._inbound_nodes:
        for t in node.input_tensors:
            out.append(t._keras_history)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name, width", [("resnet50", 2048), ("efficientnet_b0", 1280)])
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
