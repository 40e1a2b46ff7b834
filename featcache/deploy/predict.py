"""predict: top-k classes of image files or .npy arrays with an exported model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from featcache.errors import FeatcacheError

NPY_HINT = "save uint8 pixels 0..255 shaped (N, H, W) or (N, H, W, C) with C = 1 or 3"


@dataclass
class Prediction:
    input: str  # file path, or "array.npy[i]"
    top: list[tuple[str, float]]  # (class name, probability), most likely first

    def as_dict(self) -> dict:
        return {"input": self.input, "top": [{"class": c, "probability": round(p, 6)} for c, p in self.top]}


def read_npy(path: Path) -> np.ndarray:
    """A stack of raw images from ``.npy`` as (N, H, W, C) uint8, checked at the boundary."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:
        raise FeatcacheError(f"{path} is not a readable .npy array ({type(exc).__name__}); {NPY_HINT}") from None
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3) or 0 in arr.shape:
        raise FeatcacheError(f"{path} holds an array of shape {arr.shape}; {NPY_HINT}")
    if arr.dtype != np.uint8:
        if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() > 255:
            raise FeatcacheError(f"{path} holds {arr.dtype} values, not pixels 0..255; {NPY_HINT}")
        arr = arr.astype(np.uint8)
    return arr


def read_files(paths: Sequence[Path], size: int) -> np.ndarray:
    """Image files -> (N, size, size, 3) uint8 with the shared decoder; the first bad file stops it."""
    from featcache.sources.decode import UnreadableImage, decode_image

    out = np.empty((len(paths), size, size, 3), dtype=np.uint8)
    for i, p in enumerate(paths):
        if not p.is_file():
            raise FeatcacheError(f"image file not found: {p}")
        try:
            out[i] = decode_image(p, size)
        except UnreadableImage as exc:
            raise FeatcacheError(f"{p}: {exc}; pass image files (PNG, JPEG, BMP, GIF, ...) or a .npy array") from None
    return out


def top_k_classes(probs: np.ndarray, class_names: list[str], k: int) -> list[list[tuple[str, float]]]:
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [[(class_names[j], float(p[j])) for j in row] for p, row in zip(probs, order)]


def predict(model: str | Path, images: Sequence[str | Path], *, top_k: int = 3, batch_size: int = 64) -> list[Prediction]:
    """Top-``top_k`` classes for each image file, and for each image of each ``.npy`` in ``images``."""
    from featcache.deploy.model import load_model, read_meta

    if not images:
        raise FeatcacheError("no images given; pass image files or .npy arrays")
    meta = read_meta(model)  # fast checks before loading TensorFlow
    names = list(meta["class_names"])
    if not 1 <= top_k <= len(names):
        raise FeatcacheError(f"--top-k {top_k} is out of range; the model has {len(names)} classes, use 1..{len(names)}")
    paths = [Path(p) for p in images]
    arrays = [(p, read_npy(p)) for p in paths if p.suffix.lower() == ".npy"]
    files = [p for p in paths if p.suffix.lower() != ".npy"]
    batch_files = read_files(files, int(meta["image_size"])) if files else None

    net, _ = load_model(model)
    out: dict[str, list[Prediction]] = {}
    if batch_files is not None:
        probs = net.predict(batch_files, batch_size=batch_size, verbose=0)
        out["files"] = [Prediction(str(p), t) for p, t in zip(files, top_k_classes(probs, names, top_k))]
    for p, arr in arrays:
        # Each array separately: one batch needs one image size.
        probs = net.predict(arr, batch_size=batch_size, verbose=0)
        out[str(p)] = [Prediction(f"{p}[{i}]", t) for i, t in enumerate(top_k_classes(probs, names, top_k))]
    # Report in the order the inputs were given.
    order, file_iter = [], iter(out.get("files", []))
    for p in paths:
        order.extend(out[str(p)] if p.suffix.lower() == ".npy" else [next(file_iter)])
    return order
