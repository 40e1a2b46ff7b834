"""Saving and loading trained heads with what they were trained on.

A Keras head is a ``.keras`` file (the head model) with a ``featcache.json``
entry added to its zip; a scikit-learn head is a joblib file holding
``{"head": estimator, "meta": dict}``. ``meta`` always carries the cache's
fingerprint, class names and feature settings (see ``head_meta``), so a head
can refuse features it was not made for.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from featcache.errors import FeatcacheError
from featcache.store.atomic import atomic_path

META_ENTRY = "featcache.json"
# A standardizing Keras head's training statistics (DenseHead.mean_, scale_).
STATS_ENTRY = "featcache_standardize.json"
# Settings of the features a head depends on; evaluate refuses a cache that
# differs in any of them.
FEATURE_KEYS = ("backbone", "weights", "image_size", "preprocessing")


def head_meta(cache, layer: str | None, head_name: str, head) -> dict[str, Any]:
    """Metadata stored with a head trained on ``cache`` (a ``Cache``)."""
    m = cache.meta
    return {
        "head": head_name,
        "params": head.get_params(),
        "cache_fingerprint": cache.fingerprint,
        "class_names": cache.class_names,
        "layer": layer or cache.default_layer,
        "dataset": m.get("dataset"),
        "source": m.get("source"),
        # The weights file as given at extraction, so finetune/export can
        # rebuild the base without --weights (its sha256 is still checked).
        "weights_source": m.get("weights_source"),
        # Content hash of the raw images per split: fine-tuning refuses data that changed since.
        "data_digest": (m.get("settings") or {}).get("data_digest"),
        # Files of the data set that did not decode: with data_digest, they fix the rows without decoding again.
        "skipped": m.get("skipped") or [],
        **{k: m.get(k) for k in FEATURE_KEYS},
    }


def save_head(head, path: str | Path, meta: dict[str, Any]) -> Path:
    """Write atomically: ``.keras`` for ``DenseHead``, joblib for the others."""
    from featcache.heads.dense import DenseHead

    path = Path(path)
    meta = {**meta, "params": head.get_params()}  # a Keras head is rebuilt from them
    if isinstance(head, DenseHead) and path.suffix != ".keras":
        raise FeatcacheError(f"a Keras head is saved as a .keras file; use --out {path.with_suffix('.keras')}")
    with atomic_path(path) as tmp:
        if isinstance(head, DenseHead):
            head.model_.save(tmp)
            with zipfile.ZipFile(tmp, "a") as zf:
                zf.writestr(META_ENTRY, json.dumps(meta, default=str))
                if head.standardize:  # float64 -> JSON -> float64 is exact
                    zf.writestr(STATS_ENTRY, json.dumps({"mean": head.mean_.tolist(), "scale": head.scale_.tolist()}))
        else:
            import joblib

            joblib.dump({"head": head, "meta": meta}, tmp)
    return path


def load_head(path: str | Path):
    """``(head, meta)`` from a file written by ``save_head``."""
    path = Path(path)
    if not path.is_file():
        raise FeatcacheError(f"head file not found: {path}; train one with 'featcache train'")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                meta = json.loads(zf.read(META_ENTRY))
                stats = json.loads(zf.read(STATS_ENTRY)) if meta["params"].get("standardize") else None
            from featcache._lazy import keras
            from featcache.heads.dense import DenseHead

            model = keras().models.load_model(path, compile=False)
        except Exception as exc:
            raise FeatcacheError(f"{path} is not a readable featcache head ({type(exc).__name__}); pass a file written by 'featcache train'") from None
        import numpy as np

        head = DenseHead(**meta["params"])
        head.model_ = model
        head.classes_ = np.arange(len(meta["class_names"]))
        if stats is not None:
            head.mean_, head.scale_ = (np.asarray(stats[k], dtype=np.float64) for k in ("mean", "scale"))
        return head, meta
    try:
        import joblib

        obj = joblib.load(path)
        return obj["head"], obj["meta"]
    except Exception as exc:
        raise FeatcacheError(f"{path} is not a readable featcache head ({type(exc).__name__}); pass a file written by 'featcache train'") from None


def check_compatible(meta: dict[str, Any], cache) -> None:
    """Refuse features the head was not trained on (other network, size, pixels or layer)."""
    diff = [k for k in FEATURE_KEYS if meta.get(k) != cache.meta.get(k)]
    if diff:
        detail = ", ".join(f"{k}: head {meta.get(k)!r} vs cache {cache.meta.get(k)!r}" for k in diff)
        raise FeatcacheError(f"head and cache do not match ({detail}); evaluate on a cache extracted with the head's settings")
    if meta.get("layer") not in cache.layers:
        raise FeatcacheError(f"the head was trained on layer {meta.get('layer')!r}, which {cache.path} does not hold; extract it with --layers")
