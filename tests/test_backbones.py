"""The backbone registry against the real Keras models, and extraction through each backbone."""

from __future__ import annotations

import numpy as np
import pytest

import featcache
from featcache.embedding.backbones import REGISTRY, get_backbone, resolve_layers


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
