"""Shared fixtures.

Plumbing tests use tiny synthetic IDX files and ``--weights random``; tests
about results use the real MobileNetV2 weights from ``../shared/weights``
(or ``$FEATCACHE_WEIGHTS``) and fail, never skip, when they are missing.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FEATCACHE_SHARED", REPO.parent / "shared"))
WEIGHTS = Path(os.environ.get("FEATCACHE_WEIGHTS", SHARED / "weights" / "mobilenet_v2_1.0_imagenet_no_top.weights.h5"))
FASHION_DIR = Path(os.environ.get("FEATCACHE_FASHION_DIR", "/usr/share/datasets/fashion-mnist"))


def write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    header = struct.pack(">II", magic, array.shape[0]) + b"".join(struct.pack(">I", d) for d in array.shape[1:])
    with gzip.open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def make_fashion_dir(directory: Path, n_train: int = 48, n_test: int = 24, seed: int = 0) -> Path:
    """Synthetic Fashion-MNIST-shaped IDX files: each class a different bright stripe."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
        for i, y in enumerate(labels):
            images[i, 2 + 2 * y : 4 + 2 * y, :] = 250
        write_idx(directory / f"{split}-images-idx3-ubyte.gz", images, 0x803)
        write_idx(directory / f"{split}-labels-idx1-ubyte.gz", labels.astype(np.uint8), 0x801)
    return directory


@pytest.fixture
def fashion_dir(tmp_path: Path) -> Path:
    return make_fashion_dir(tmp_path / "fmnist")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch) -> None:
    """Default caches go to a temporary folder, never the repo's data/."""
    monkeypatch.setenv("FEATCACHE_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="session")
def real_weights() -> Path:
    if not WEIGHTS.is_file():
        pytest.fail(f"real MobileNetV2 weights not found at {WEIGHTS}: put ../shared beside the checkout or set FEATCACHE_WEIGHTS")
    return WEIGHTS


@pytest.fixture(scope="session")
def real_fashion_dir() -> Path:
    if not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file():
        pytest.fail(f"Fashion-MNIST not found in {FASHION_DIR}: apt-get install dataset-fashion-mnist or set FEATCACHE_FASHION_DIR")
    return FASHION_DIR
