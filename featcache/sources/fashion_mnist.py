"""Fashion-MNIST from the four original IDX files."""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from featcache.errors import FeatcacheError, one_line, option
from featcache.progress import named
from featcache.sources.base import DataSource, Split, array_digest, row_digests
from featcache.validate import check_limit, positive_int, setting_path

CLASS_NAMES = [
    "t-shirt/top", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
]
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# Where the data is looked for when --data-dir is not given: Keras's own
# download cache, then Debian's dataset-fashion-mnist package.
SEARCH_PATH = [Path.home() / ".keras" / "datasets" / "fashion-mnist", Path("/usr/share/datasets/fashion-mnist")]
# (split, FashionMNIST attribute, flag): how many of each split's first images to take.
LIMITS = (("train", "train_limit", "--train-limit"), ("test", "test_limit", "--test-limit"))


def install_hint() -> str:
    """Where the data comes from, in the caller's words (``errors.option``): --data-dir in a command, FashionMNIST's
    data_dir in a Python call."""
    return (f"install it with 'apt-get install dataset-fashion-mnist' or pass "
            f"{option('--data-dir DIR', 'FashionMNIST(data_dir=DIR)')} holding the four IDX .gz files")


def _find(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def _has_all(directory: Path) -> bool:
    return all(_find(directory, stem) for pair in FILES.values() for stem in pair)


def _check_dir(d: Path) -> Path:
    """--data-dir names a folder: the one line of FashionMNIST(data_dir) and of locate()."""
    if not d.is_dir():
        # a file was "data directory not found" (FashionMNIST('fm.h5'); an adversarial tester)
        if d.exists():
            raise FeatcacheError(f"data directory {d} is a file, not a folder; {install_hint()}")
        raise FeatcacheError(f"data directory not found: {d}; {install_hint()}")
    return d


def _unreadable_dir(d: Path, exc: OSError) -> str:
    """The one line for a data_dir given that cannot be looked into, naming the option as the user gave it."""
    return (f"{option('--data-dir', 'data_dir')} {one_line(str(d))} could not be read "
            f"({exc.strerror or type(exc).__name__}); check its permissions and those of the folders above it, or "
            "pass a folder holding the four Fashion-MNIST IDX .gz files")


def locate(data_dir: str | Path | None = None) -> Path:
    if data_dir is not None:
        d = Path(data_dir)
        try:
            _check_dir(d)
            missing = [s for pair in FILES.values() for s in pair if not _find(d, s)]
        except OSError as exc:  # a folder that cannot be looked into (chmod 000, or one above it): the API raised
            # the stat's raw PermissionError (the CLI made it a line naming a file, not the option; a review)
            raise FeatcacheError(_unreadable_dir(d, exc)) from None
        if missing:
            raise FeatcacheError(f"{d} lacks the Fashion-MNIST {named('file', [m + '.gz' for m in missing])}; {install_hint()}")
        return d
    unreadable: list[str] = []
    for d in SEARCH_PATH:
        try:
            if _has_all(d):
                return d
        except OSError as exc:  # a place that cannot be looked at (~/.keras at chmod 000): the next one; is_file()
            # raised EACCES there, and the files in /usr/share/datasets were never found (an adversarial tester)
            unreadable.append(f"{one_line(str(d))} could not be read ({exc.strerror or type(exc).__name__})")
    try:  # Keras downloads into the first SEARCH_PATH entry
        from featcache._lazy import keras

        keras().datasets.fashion_mnist.load_data()
    except Exception:
        where = f" ({'; '.join(unreadable)})" if unreadable else ""
        raise FeatcacheError(f"Fashion-MNIST not found locally{where} and could not be downloaded; {install_hint()}") from None
    return SEARCH_PATH[0]


# The most data an IDX file may declare: Fashion-MNIST's largest holds 47 MB (60,000 images of 28x28). Its header's
# sizes are the reader's bound: a 23 MB gzip of 5 GB was read whole (10.7 GB of memory at peak, a MemoryError
# traceback under a 4 GB limit) before its size was compared (an adversarial tester).
MAX_IDX_BYTES = 2**30


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Parse one IDX file (optionally gzip'd), checking magic number and size; no more than the header declares
    (and at most MAX_IDX_BYTES) is ever read."""
    opener = gzip.open if path.suffix == ".gz" else open
    fix = f"re-install the data set or fix {option('--data-dir', 'data_dir')}"
    try:
        with opener(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise FeatcacheError(f"{path} is too short to be an IDX file; {fix}")
            magic, n = struct.unpack(">II", head)
            if magic != expected_magic:
                raise FeatcacheError(
                    f"{path} has magic number {magic:#010x}, expected {expected_magic:#010x}; it is not the right IDX file"
                )
            ndim = magic & 0xFF
            rest = f.read(4 * (ndim - 1))
            if len(rest) < 4 * (ndim - 1):  # the header alone: a count per dimension after the magic number
                raise FeatcacheError(f"{path} ends inside its IDX header ({8 + len(rest)} bytes, {4 + 4 * ndim} needed); "
                                     f"it is truncated: {fix}")
            dims = [n, *struct.unpack(">" + "I" * (ndim - 1), rest)]
            size = int(np.prod(dims, dtype=object))
            if size > MAX_IDX_BYTES:
                raise FeatcacheError(f"{path} declares {size:,} bytes of data (shape {tuple(dims)}), more than an IDX "
                                     f"file of images featcache reads ({MAX_IDX_BYTES:,}); {fix}")
            raw = f.read(size + 1)  # one byte more than declared tells a file too long
    except (OSError, EOFError, zlib.error) as exc:
        raise FeatcacheError(f"{path} is not a readable IDX file ({exc}); {fix}") from None
    if len(raw) != size:
        held = f"more than {size}" if len(raw) > size else str(len(raw))
        raise FeatcacheError(
            f"{path} holds {held} bytes of data, expected {size} for shape {tuple(dims)}; the file is truncated or corrupt"
        )
    return np.frombuffer(raw, dtype=np.uint8).reshape(dims)


@dataclass(frozen=True)
class FashionMNIST:
    """Fashion-MNIST (the four IDX files): the first ``train_limit`` / ``test_limit`` images, as in the lesson.

    ``data_dir`` holds the files; by default Keras's download cache, then
    Debian's dataset-fashion-mnist package (``SEARCH_PATH``).
    """

    data_dir: str | Path | None = None
    train_limit: int | None = None
    test_limit: int | None = None

    # The images of each split of Fashion-MNIST's files: what a limit of None reads (extract's --help quotes them).
    split_sizes: ClassVar[dict[str, int]] = {"train": 60_000, "test": 10_000}
    # The lesson's size for these 28x28 images, when the model spec names none.
    default_image_size: ClassVar[int] = 96
    # How extract's flat options (its CLI flags) make one (``embedding.specs.from_options``): the default source,
    # or ``--data fashion_mnist``; option -> field.
    kind: ClassVar[str] = "fashion_mnist"
    title: ClassVar[str] = "Fashion-MNIST"
    selector: ClassVar[str | None] = None
    options: ClassVar[dict[str, str]] = {"data_dir": "data_dir", "train_limit": "train_limit", "test_limit": "test_limit"}
    # Said where one of its options comes with another source: what to do instead, by option ("": any other); a pair
    # is (a command's words, a Python call's: extract()'s old keyword form takes the options as keywords).
    elsewhere: ClassVar[dict[str, str | tuple[str, str]]] = {
        "data_dir": ("--images names your photos' folder: give only one of them",
                     "images names your photos' folder: give only one of them"),
        "": "for fewer of your own images, use a folder holding the ones you want"}

    def __post_init__(self):
        if self.data_dir is not None:
            object.__setattr__(self, "data_dir", setting_path(self.data_dir, "--data-dir", "a folder path"))
        for name, flag in (("train_limit", "--train-limit"), ("test_limit", "--test-limit")):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, positive_int(getattr(self, name), flag))
        if self.data_dir is not None:  # as PhotoFolder's root: refused when made, not at extract (a new-user tester)
            locate(self.data_dir)  # its four files too (a stat each): a folder without them was refused only at extract (an adversarial tester)

    def open(self, image_size: int | None = None, verbose: bool = False) -> DataSource:
        """The images as 28x28 uint8 (``image_size`` is the model's business: they are resized in ``Preprocess``)."""
        directory = locate(self.data_dir)
        splits = {split: _first(split, *_read_split(directory, split), getattr(self, attr), flag) for split, attr, flag in LIMITS}
        return self._source(directory, splits)

    def open_from(self, opened: DataSource) -> DataSource:
        """What ``open()`` gives, cut from ``opened`` (these files, opened with no limit or a limit no smaller than
        this one's) without reading and unpacking the IDX files again: the lesson reads them once."""
        directory = locate(self.data_dir)
        if opened.spec.get("kind") != "fashion_mnist" or opened.spec.get("data_dir") != str(directory.resolve()):
            raise ValueError(f"{opened.spec} is not Fashion-MNIST from {directory}")
        splits = {}
        for split, attr, flag in LIMITS:
            limit, held = getattr(self, attr), opened.spec.get(attr)
            if held is not None and (limit is None or limit > held):
                raise ValueError(f"the opened {split} split holds its first {held} images, not {limit or 'all'}")
            whole = opened.splits[split]
            splits[split] = _first(split, whole.read(0, len(whole)), whole.labels, limit, flag)
        return self._source(directory, splits)

    def _source(self, directory: Path, splits: dict[str, Split]) -> DataSource:
        return DataSource(
            name="fashion_mnist",
            class_names=list(CLASS_NAMES),
            splits=splits,
            spec={"kind": "fashion_mnist", "data_dir": str(directory.resolve()), "train_limit": self.train_limit,
                  "test_limit": self.test_limit},
            default_image_size=self.default_image_size,
        )


def load(data_dir: str | Path | None = None, train_limit: int | None = None, test_limit: int | None = None) -> DataSource:
    """Fashion-MNIST; the first ``train_limit`` / ``test_limit`` images, as in the lesson."""
    return FashionMNIST(data_dir, train_limit, test_limit).open()


def _read_split(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of every image of ``split``'s IDX files, checked to be Fashion-MNIST's and to belong together."""
    img_stem, lab_stem = FILES[split]
    image_path = _find(directory, img_stem)
    images = read_idx(image_path, 0x00000803)
    labels = read_idx(_find(directory, lab_stem), 0x00000801)
    if images.shape[1:] != (28, 28):
        raise FeatcacheError(f"{img_stem} holds {images.shape[1:]} images, expected 28x28; it is not Fashion-MNIST")
    if not len(images):  # a split of no rows: the cache's layout (and its digest) had ended in a traceback
        raise FeatcacheError(f"{image_path} declares 0 images; it is not Fashion-MNIST's {split} split: re-install the "
                             f"data set or fix {option('--data-dir', 'data_dir')}")
    if len(images) != len(labels):
        raise FeatcacheError(
            f"{split} split has {len(images)} images but {len(labels)} labels; the IDX files do not belong together"
        )
    return images, labels


def _first(split: str, images: np.ndarray, labels: np.ndarray, limit: int | None, flag: str) -> Split:
    """The split of the first ``limit`` (None: all) of ``images`` and ``labels``."""
    n = check_limit(limit, len(images), flag, f"{split} images")
    images, labels = images[:n], labels[:n].astype(np.int64)
    if labels.max(initial=0) >= len(CLASS_NAMES):
        raise FeatcacheError(f"{FILES[split][1]} has labels above 9; it is not Fashion-MNIST")
    return Split(
        name=split,
        labels=labels,
        index=np.arange(n, dtype=np.int64),
        read=lambda a, b, _x=images: _x[a:b],
        digest=array_digest(images, labels),
        # Computed when asked (extraction): 0.3 s for all 70,000 rows, which readers of a cache need not pay.
        digests=lambda _x=images: row_digests(_x),
    )
