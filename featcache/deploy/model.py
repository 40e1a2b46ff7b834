"""The deployable model file: raw images in, class probabilities out.

``export`` and ``finetune`` both write this form: a ``.keras`` file holding
one model (uint8 images (N, H, W, C) of any size, C = 1 or 3 -> Preprocess ->
base -> pooling -> Dropout -> Dense -> Softmax) with a ``featcache.json``
entry added to its zip carrying the class names and what the model was made
from. ``predict`` reads it back with ``load_model``.
"""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path
from typing import Any

from featcache._lazy import keras
from featcache.errors import FeatcacheError
from featcache.heads.io import META_ENTRY
from featcache.store.atomic import atomic_path

KIND = "featcache-model"
FORMAT_VERSION = 1
INPUT_SHAPE = (None, None, None)  # (H, W, C): any size, gray or RGB
INPUT_DTYPE = "uint8"


def probabilities_model(logits_model):
    """The same layers with a softmax on top (shares weights with ``logits_model``)."""
    k = keras()
    probs = k.layers.Softmax(name="probabilities")(logits_model.output)
    return k.Model(logits_model.input, probs, name="featcache_model")


def save_model(model, path: str | Path, meta: dict[str, Any]) -> Path:
    """Write ``model`` (a ``probabilities_model``) and ``meta`` atomically to a ``.keras`` file."""
    from featcache import __version__

    path = Path(path)
    if path.suffix != ".keras":
        raise FeatcacheError(f"a model is saved as a .keras file; use --out {path.with_suffix('.keras')}")
    k = keras()
    meta = {
        "kind": KIND, "format_version": FORMAT_VERSION, **meta,
        "input": "uint8 images (N, H, W, C), any H and W, C = 1 or 3",
        "output": "class probabilities (softmax), columns in class_names order",
        "featcache_version": __version__, "keras_version": k.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with atomic_path(path) as tmp:
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as zf:
            zf.writestr(META_ENTRY, json.dumps(meta, default=str))
    return path


def read_meta(path: str | Path) -> dict[str, Any]:
    """The ``featcache.json`` of a model file, without loading the network."""
    path = Path(path)
    if not path.is_file():
        raise FeatcacheError(f"model file not found: {path}; make one with 'featcache export' or 'featcache finetune'")
    from featcache.heads.io import read_head_meta

    head_hint = f" (it is a head: export it first with 'featcache export {path} --out MODEL.keras')"
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read(META_ENTRY))
    except Exception as exc:
        hint = head_hint if read_head_meta(path) is not None else f" ({type(exc).__name__})"
        raise FeatcacheError(f"{path} is not a featcache model{hint}; pass a file written by 'featcache export' or 'featcache finetune'") from None
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        hint = head_hint if read_head_meta(path) is not None else ""
        raise FeatcacheError(f"{path} is not a featcache model{hint}; pass a file written by 'featcache export' or 'featcache finetune'")
    return meta


def is_model_file(path: Path) -> bool:
    try:
        read_meta(path)
    except FeatcacheError:
        return False
    return True


def check_out(path: str | Path, force: bool = False) -> Path:
    """``--out`` for a model: a ``.keras`` name; an existing file is replaced only if it is a featcache model (or ``force``)."""
    path = Path(path)
    if path.is_dir():
        raise FeatcacheError(f"--out {path} is a folder; name the model file to write, e.g. --out {path / 'model.keras'}")
    if path.suffix != ".keras":
        raise FeatcacheError(f"a model is saved as a .keras file; use --out {path.with_suffix('.keras')}")
    if path.exists() and not force and not is_model_file(path):
        raise FeatcacheError(f"--out {path} exists and is not a model featcache wrote; choose another --out, or pass --force to replace it")
    return path


def run_model(net, images, batch_size: int = 64):
    """Class probabilities of the frozen end-to-end model for a batch of raw uint8 images (N, H, W, C).

    The one place that runs an exported model for inference, so another
    runtime (ONNX, OpenVINO; issue 14) replaces this function only.
    """
    return net.predict(images, batch_size=batch_size, verbose=0)


def load_model(path: str | Path):
    """``(model, meta)`` from a file written by ``save_model``."""
    from featcache.embedding import preprocess  # noqa: F401  registers the Preprocess layer for deserialization

    meta = read_meta(path)
    try:
        model = keras().models.load_model(path, compile=False)
    except Exception as exc:
        raise FeatcacheError(f"{path} could not be loaded ({type(exc).__name__}); re-export it with this featcache version") from None
    return model, meta
