"""predict: top-k classes of image files or .npy arrays with an exported model."""

from __future__ import annotations

import contextlib
import io
import os
import time

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, NamedTuple, Sequence

import numpy as np

from featcache.embedding.engines import DEFAULT_RUNTIME
from featcache.embedding.engines.local import read_ahead
from featcache.embedding.passes import BATCH_SIZE
from featcache.embedding.throughput import Throughput
from featcache.errors import FeatcacheError, given_path, in_the_way, one_line, option
from featcache.progress import agreeing, bars_wanted, counted, status, written
from featcache.sources.decode import LINK_LOOP_WHY, NOT_AN_IMAGE, dead_link, pairs_json
from featcache.validate import check_file_name, check_path, check_lock_timeout, check_replaceable, checks_switches, expand_home, positive_int, shown

if TYPE_CHECKING:
    from featcache.deploy.model import LoadedModel, ModelRunner
    from featcache.progress import Progress

NPY_HINT = "save uint8 pixels 0..255 shaped (N, H, W) or (N, H, W, C) with C = 1 or 3"


@dataclass
class Prediction:
    input: str  # file path, or "array.npy[i]"
    top: list[tuple[str, float]]  # (class name, probability), most likely first
    # every class's probability, in the model's class order (not cut to top_k): a row of ``Predictions.probabilities``
    probabilities: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self, value: str = "probability") -> dict:
        """``value``: what the numbers are (``Predictions.values``): ``probability``, or ``share`` for an SVM's model."""
        return {"input": self.input, "top": [{"class": c, value: round(p, 6)} for c, p in self.top]}

    as_dict = to_dict  # featcache 0.1's name, kept for one version



def _renamed(old: str, new: str) -> None:
    """The DeprecationWarning of a renamed attribute of ``Predictions``, at the user's line (``errors.warn``)."""
    from featcache.errors import warn

    warn(f"Predictions.{old} is now Predictions.{new} (to_dict()'s and --json's name); the old name goes away in "
         "featcache 0.3", DeprecationWarning)

class Predictions(list):
    """The predictions, in input order (a list of ``Prediction``); ``skipped``: ``[(path, reason)]`` of the image
    files left out because they do not decode; ``runtime``: what ran the model, and ``runtime_note``: why
    ``runtime="auto"`` fell back to TensorFlow (None when it did not); ``top_k``: the classes shown per image,
    fewer than asked when the model has fewer. With ``csv``: ``csv_written`` (``write_csv``'s ``CsvWritten``: what
    was at the path when it was written, and where a file with no record was kept), and ``csv_meanwhile``: the CSV it
    replaced is one that another featcache run wrote there during this one.

    As arrays, whatever ``top_k``: ``probabilities`` (N, classes), each image's probability of every class in the
    model's order, ``class_names``; ``predicted`` (N,), the index of each image's most likely class in them. A user
    computing metrics of their own passed top_k=10 and rebuilt the matrix from ``top`` (a notebook user).

    ``throughput``: how fast the run went (``Throughput``: images, seconds, startup_seconds, images_per_s, as extract
    says them), in ``to_dict`` too: predict's --json said no rate at all."""

    def __init__(self, items: Iterable[Prediction] = (), skipped: Sequence[tuple[str, str]] = (),
                 runtime: str | None = None, runtime_note: str | None = None, left_out: Sequence["LeftOut"] = (),
                 top_k: int | None = None, class_names: Sequence[str] | None = None):
        super().__init__(items)
        self.skipped = list(skipped)
        self.runtime, self.runtime_note = runtime, runtime_note
        self.left_out = list(left_out)  # what a folder given held besides image files: subfolders, other files
        self.top_k = top_k
        self.class_names = None if class_names is None else list(class_names)  # the model's, the columns' order
        self.csv_written: CsvWritten | None = None
        self.csv_meanwhile = False
        # how fast the run went (``Throughput``, extract's figures); predict() sets it, a hand-made one has none
        self.throughput = Throughput()
        # What the numbers are: "probability", or "share" for a model of an SVM head, which has no probabilities
        # (its vote shares: deploy.svmgraph); the CSV's and the JSON's name for them
        self.values = PROBABILITY
        # Whether those numbers are the decision alone (``deploy.model.one_vote``: 1 and 0), said as the class, no score
        self.decision_only = False
        # What a "share" is for this model, and what can be read from it (``deploy.model.svm_numbers``); None for
        # probabilities. predict's stderr line, and --json's "values_words"
        self.values_words: str | None = None

    # The names of ``values`` and ``values_words`` before 2026-12-06 (to_dict and --json said "values" and
    # "values_words" of the same things): kept until featcache 0.3, with a DeprecationWarning, as 0.1's names are.
    @property
    def value(self) -> str:
        """Deprecated name of ``values`` (until featcache 0.3)."""
        _renamed("value", "values")
        return self.values

    @value.setter
    def value(self, values: str) -> None:
        _renamed("value", "values")
        self.values = values

    @property
    def value_words(self) -> str | None:
        """Deprecated name of ``values_words`` (until featcache 0.3)."""
        _renamed("value_words", "values_words")
        return self.values_words

    @value_words.setter
    def value_words(self, words: str | None) -> None:
        _renamed("value_words", "values_words")
        self.values_words = words

    @property
    def probabilities(self) -> np.ndarray:
        """(N, classes): row i the probabilities the model gave ``self[i]``, columns in ``class_names``' order; the
        rows predict computed (not cut to ``top_k``), stacked in the predictions' order."""
        rows = [p.probabilities for p in self]
        if any(r is None for r in rows) or self.class_names is None:  # Predictions made by hand from bare Predictions
            raise ValueError("these predictions hold no probabilities; they come with the Predictions predict() returns")
        return np.stack(rows) if rows else np.empty((0, len(self.class_names)), dtype=np.float32)

    @property
    def predicted(self) -> np.ndarray:
        """(N,) int64: the index in ``class_names`` of each image's most likely class (``top[0]``'s class; the first
        of equal probabilities, as ``top`` orders them)."""
        return np.argmax(self.probabilities, axis=1).astype(np.int64)

    def to_dict(self) -> dict:
        """What ``predict --json`` prints: one object, like every other command's, with what stderr says too."""
        left_out = [(q.path, q.reason) for q in map(LeftOut.parse, self.left_out)]  # an API caller's strings too
        out = {"predictions": [p.to_dict(self.values) for p in self], "skipped": pairs_json(self.skipped),
               "left_out": pairs_json(left_out), "runtime": self.runtime, "runtime_note": self.runtime_note,
               "top_k": self.top_k, "values": self.values, "values_words": self.values_words, **self.throughput.to_dict()}
        w = self.csv_written
        if w is not None:  # what stderr says of --csv, in --json too (a review: the kept-aside file was said nowhere)
            out["csv"] = {"path": str(w.path), "written": str(w.link or w.path), "found": w.found,
                          "kept": str(w.kept) if w.kept else None, "replaced_meanwhile": self.csv_meanwhile}
        return out


class FileRead(NamedTuple):
    """One image file as ``read_files`` read it: ``skipped`` is ``(path as shown, why)`` when it did not decode."""

    path: Path
    skipped: tuple[str, str] | None


def read_npy(path: Path) -> np.ndarray:
    """A stack of raw images from ``.npy`` as (N, H, W, C) uint8, checked at the boundary."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:
        raise FeatcacheError(f"{path} is not a readable .npy array ({type(exc).__name__}); {NPY_HINT}") from None
    if not isinstance(arr, np.ndarray):  # np.load reads an .npz (a zip) whatever its name: an AttributeError (a tester)
        with contextlib.suppress(Exception):
            arr.close()
        raise FeatcacheError(f"{path} is an .npz archive, not an .npy array; save the images with np.save, "
                             f"or pass np.load(path)[name] to the API; {NPY_HINT}")
    return checked_stack(arr, str(path), "save one image as (1, H, W, C) (np.save(path, image[None])) and a stack of "
                         "gray images as (N, H, W)", NPY_HINT)


def checked_stack(arr: np.ndarray, name: str, one_image: str, hint: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A stack of raw images (an .npy's, or an array given to the API) as (N, H, W, C) uint8: the one home of the
    rules of both. ``name`` says where it came from, ``one_image`` how to give one image, ``hint`` the shapes taken,
    ``shape`` the shape the user gave where ``arr`` is it made a stack: [np.zeros((0, 28))] was said to be of
    shape (1, 0, 28, 1) (an adversarial tester)."""
    shape = arr.shape if shape is None else tuple(shape)
    if arr.ndim == 3:
        # One photo np.save'd as is, (H, W, 3|4) or a gray (H, W, 1|2) as Keras shapes one, was read as H gray images
        # W x 1-4 px: garbage, exit 0 (testers). Images 4 pixels wide or less are that, not a stack of images.
        if arr.shape[-1] <= 4 and len(shape) == 2:
            # one (H, W) array made a stack of one: it was said as (1, H, W), "one image or 1 gray images", a shape
            # the user never gave (a session's note); a row of a color image (W, C) is what it may be instead
            raise FeatcacheError(f"{name} holds an array of shape {shape}, which could be one gray image {shape[1]} px "
                                 f"wide or a row of {shape[0]} pixels of {counted(shape[1], 'channel')}; pass one image in a list "
                                 "([image]): this one as it is if it is gray, or the whole color image, (H, W, C)")
        if arr.shape[-1] <= 4:
            raise FeatcacheError(f"{name} holds an array of shape {arr.shape}, which could be one image or "
                                 f"{arr.shape[0]} gray images of {arr.shape[1]} x {arr.shape[2]} px; {one_image}")
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3) or 0 in arr.shape:
        raise FeatcacheError(f"{name} holds an array of shape {shape}; {hint}")
    from featcache.sources.decode import MAX_PIXELS

    if arr.shape[1] * arr.shape[2] > MAX_PIXELS:  # image files have this cap; a 10000x10000 array took 2.9 GB (a tester)
        raise FeatcacheError(f"{name} holds images of {arr.shape[2]}x{arr.shape[1]} pixels, too large to run safely (limit "
                             f"{MAX_PIXELS:,} pixels an image); downscale them first")
    if arr.dtype != np.uint8:
        if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() > 255:
            raise FeatcacheError(f"{name} holds {arr.dtype} values, not pixels 0..255; {hint}")
        arr = arr.astype(np.uint8)
    return arr


# In-memory images given to predict (a notebook's natural input; a new-user tester's
# predict(model, [np.zeros((28, 28), np.uint8)]) was "each of images must be a path"): the .npy rules, named
# "<array I>" in the results, I its place among the images given.
# One array (H, W, C) is refused as an .npy of that shape is (checked_stack: it could be H gray images W x C px), so
# the hint says so rather than offering it: it did, and refused a photo's np.asarray quoting itself (a reviewer, R3).
ARRAY_HINT = ("pass uint8 pixels 0..255: a list of images, each (H, W) or (H, W, C) with C = 1 or 3; one image (H, W); "
              "or a stack (N, H, W) or (N, H, W, C) (one image (H, W, C): put it in a list)")


def array_name(i: int) -> str:
    return f"<array {i}>"


def _holds_paths(arr: np.ndarray) -> bool:
    """Whether an array given as ``images`` is paths: str or bytes items ("US" arrays; an object array is taken as a
    list, by ``given_images``)."""
    return arr.dtype.kind in "US"


def _plain(x: Any, name: str) -> Any:
    """``x`` as a plain ndarray where it is an ndarray subclass: np.matrix was a broadcast ValueError or a TensorFlow
    TypeError (an adversarial tester). A masked array is refused: its mask was dropped without a word (the same)."""
    if isinstance(x, np.ma.MaskedArray):
        raise FeatcacheError(f"{name} is a masked array (np.ma), whose mask predict cannot honour; pass "
                             "np.ma.filled(a, value) or the images without a mask")
    return np.asarray(x) if isinstance(x, np.ndarray) else x


def given_images(images: Any) -> Any:
    """``images`` as predict reads it: an ndarray subclass a plain array, a 0-d array of a path that path, an object
    array or any other iterable (a generator) a list. An adversarial tester's finds: np.array("a.npy") was "iteration
    over a 0-d array"; np.array(['x.png', arr], dtype=object) "an array of shape (2,)" where the list form names the
    mix; a generator of arrays "each of images must be a path"; np.array([['a.npy']], dtype=object) "could be one image
    or 1 gray images of 1 x 1 px"."""
    images = _plain(images, "images")
    if isinstance(images, np.ndarray):
        if not (images.dtype.kind in "US" or images.dtype == object):
            return images  # pixels
        if images.ndim == 0:
            return images.item()  # one path
        if images.ndim != 1 and any(isinstance(x, (str, bytes, os.PathLike)) for x in images.flat):
            raise FeatcacheError(f"images is an array of paths of shape {images.shape}; paths must be a flat list "
                                 "(np.ravel(paths) or list(paths.flat))")
        return list(images) if images.dtype == object else images
    if isinstance(images, (str, bytes, os.PathLike, dict, set, list, tuple)) or not isinstance(images, Iterable):
        return images
    return list(images)


def in_memory_images(images: Any) -> list[tuple[int, np.ndarray]] | None:
    """``[(first, stack)]``: the images of ``images`` (as ``given_images`` gives it) when it is an array or a list of
    arrays (None when it is neither: paths), each stack (N, H, W, C) uint8 and ``first`` the place of its first image.
    One array is one image (H, W) or a stack, as an .npy; each array of a list is one image, and neighbours of one
    shape share a stack (a batch needs one size). Paths and arrays are not mixed: one list is either."""
    if isinstance(images, np.ndarray) and _holds_paths(images):  # an array of paths, as a list of them
        return None
    if isinstance(images, np.ndarray):
        one = "pass one image as (H, W), or in a list ([image]), and a stack of gray images as (N, H, W)"
        return [(0, checked_stack(images[None] if images.ndim == 2 else images, "the array", one, ARRAY_HINT,
                                  shape=images.shape))]
    if not isinstance(images, (list, tuple)) or not any(isinstance(x, np.ndarray) for x in images):
        return None
    stacks: list[tuple[int, np.ndarray]] = []
    for i, x in enumerate(images):
        if not isinstance(x, np.ndarray):
            raise FeatcacheError(f"images mixes arrays and {type(x).__name__}s (item {i}: {shown(x)}); pass a list of "
                                 "arrays, or of paths, one call each")
        x = _plain(x, array_name(i))
        shape = x.shape
        if x.ndim == 2:
            x = x[..., None]
        if x.ndim != 3 or x.shape[-1] not in (1, 3):
            raise FeatcacheError(f"{array_name(i)} holds an array of shape {x.shape}; each array of a list is one image: "
                                 f"{ARRAY_HINT}")
        stacks.append((i, checked_stack(x[None], array_name(i), "", ARRAY_HINT, shape=shape)))
    grouped: list[tuple[int, list[np.ndarray]]] = []
    for i, one in stacks:
        if grouped and grouped[-1][1][0].shape == one.shape:
            grouped[-1][1].append(one)
        else:
            grouped.append((i, [one]))
    return [(first, np.concatenate(group)) for first, group in grouped]


def read_files(paths: Sequence[Path], size: int, rows: int | Callable[[int], int],
               native: bool = False, digests: Sequence[str] | None = None) -> Iterator[tuple[np.ndarray, list[FileRead]]]:
    """Image files decoded ``rows`` at a time: ``(images, read)`` for each batch, ``images`` (n <= rows, size, size, 3)
    uint8 of the files that decoded, ``read`` every file read since the last batch, in order (``FileRead``: a file
    that does not decode is there with why, and has no row in ``images``).

    A batch holds ``rows`` decoded images (the last one fewer); files that do
    not decode do not count, so the batches the model runs are the same
    whichever files fail. Memory is one batch (its images, then their stack),
    whatever the number of files (all of them at once took 7.5 GB for 50,000
    photos at 224 px; a review).

    ``native``: each file at its own size (RGB, not resized), for a model whose
    graph resizes its cache's images (Fashion-MNIST's 28 px, where views such
    as a 2-px shift are taken before the resize); a batch then holds images of
    one size, ``rows(height * width)`` of them. Decoded at the model's size,
    an exported views model averaged other views than its head was fitted on
    (probabilities off by up to 0.37, 16 of 200 top classes; an adversarial tester).

    A file that does not decode is left out and listed, as extract does: one
    bad photo in a folder does not stop the others. A missing file the user
    named is a typo: a one-line error before any work (``check_named``).

    ``digests``: each file's SHA-256 taken when its folder was scanned (evaluate's ``ClassTree``): the bytes
    decoded must be those (``images.read_scanned``, extract's check and words), or one line, re-run. Else a photo
    replaced after the hashing was scored under the clean folder's fingerprint (an adversarial tester).
    """
    from featcache.errors import printable
    from featcache.sources.decode import NOT_UTF8, UnreadableImage, decode_image, failure_reason, open_photo, utf8_bytes

    limit = rows if callable(rows) else (lambda _pixels: rows)
    held: list[np.ndarray] = []
    read: list[FileRead] = []
    for i, p in enumerate(paths):
        skip, image = None, None
        # As extract does: its CSV row could not be written, after every prediction (a tester). A name whose bytes are
        # UTF-8 that Python's ASCII file system encoding (LC_ALL=C, PYTHONUTF8=0) left undecoded is read: its row
        # holds those bytes (write_text), and it was called "not valid UTF-8" (an adversarial tester)
        if not utf8_bytes(p.name):
            skip = (printable(str(p)), NOT_UTF8)  # its byte as \xfe, as the other skips and extract's listing write it
        else:
            # A folder whose path is not UTF-8 is read, as extract reads one: the CSV holds a path's bytes as they are
            # (write_text), and a Latin-1 folder (or a UTF-8 one where Python's file system encoding is ASCII, under
            # LC_ALL=C without UTF-8 mode) was refused, every file of it (an adversarial tester).
            try:
                if digests is not None:  # the bytes hashed, or one line (changed since): not left out as unreadable
                    from featcache.sources.images import read_scanned

                    image = decode_image(io.BytesIO(read_scanned(p, digests[i])), None if native else size)
                else:
                    with open_photo(p) as fh:  # a FIFO put there since the listing is left out, its open never waits
                        image = decode_image(fh, None if native else size)
            except UnreadableImage as exc:
                skip = (printable(str(p)), failure_reason(p.name, str(exc)))  # as extract says it (a .heic: the fix)
            except OSError as exc:  # gone or unreadable since it was listed
                skip = (printable(str(p)), f"cannot read ({exc.strerror or type(exc).__name__})")
        if image is not None and held and image.shape != held[0].shape:  # one size a batch: the last one goes first
            yield np.stack(held), read
            held, read = [], []
        read.append(FileRead(p, skip))
        if image is not None:
            held.append(image)
            if len(held) == limit(image.shape[0] * image.shape[1]):
                yield np.stack(held), read
                held, read = [], []
    if read:
        yield (np.stack(held) if held else np.empty((0, size, size, 3), np.uint8)), read


def check_named(paths: Sequence[Path]) -> None:
    """Every path the user named exists (a folder's files were listed from it, so they did)."""
    for p in paths:
        if not p.exists():
            if _dead_link_kind(p) == LINK_LOOP:  # "not found" of a link that is there sent the user looking for a file
                raise FeatcacheError(f"{p} is a {LINK_LOOP_WHY}; pass image files (PNG, JPEG, BMP, GIF, ...), folders "
                                     "of them or .npy arrays")
            raise FeatcacheError(f"image file not found: {p}; pass image files (PNG, JPEG, BMP, GIF, ...), "
                                 "folders of them or .npy arrays")
        if not p.is_file():
            raise FeatcacheError(f"{p} is not a file or a folder; pass image files, folders of them or .npy arrays")


def _entries(folder: Path, recursive: bool) -> list[Path]:
    """``folder``'s entries, not hidden; with ``recursive``, those of every subfolder too (not below hidden ones, and
    never through a link to a folder: a link loop would not end; the link itself is an entry, so it is listed as left
    out), sorted by path. A subfolder that cannot be listed is an entry too, named ``UNREAD`` (os.walk passed over
    it in silence, its images neither predicted nor listed; an adversarial tester): the others are read, and it is
    listed as left out (a review: one lost+found of mode 700 under a mount stopped the whole run); ``folder`` itself
    is one line."""
    if not recursive:
        return sorted(p for p in folder.iterdir() if not p.name.startswith("."))

    def unlisted(exc: OSError) -> None:
        from featcache.errors import no_permission

        if exc.filename is not None and Path(exc.filename) != folder:
            out.append(Path(str(exc.filename) + UNREAD))
            return
        if isinstance(exc, PermissionError):
            raise FeatcacheError(no_permission(folder))
        raise FeatcacheError(f"cannot list {folder} ({exc.strerror}); check it, or pass the folders to read")

    out: list[Path] = []
    out += _tree_entries(folder, unlisted)
    return sorted(out)


def _tree_entries(folder: Path, unlisted: Callable[[OSError], None]) -> list[Path]:
    """The entries of ``folder`` and of every folder below it that ``os.walk(folder, onerror=unlisted)`` finds, hidden
    ones dropped: files, broken links and links to folders (not walked into), not the folders walked. A loop over a
    stack of folders, not a call per level: os.walk recurses once per level on Python 3.11, so a tree 1,000 folders
    deep, which extract reads (images._Walker.physical), was "nested too deeply" here (a review). Not that walk
    itself: it follows links, lists each file once across hard links and stops at a folder it cannot list."""
    out: list[Path] = []
    stack = [os.fspath(folder)]
    while stack:
        top = stack.pop()
        try:
            with os.scandir(top) as it:
                entries = [e for e in it if not e.name.startswith(".")]
        except OSError as exc:
            unlisted(exc)
            continue
        for e in entries:
            if _walks_into(e):
                stack.append(e.path)
            else:
                out.append(Path(e.path))
    return out


def _walks_into(e: os.DirEntry) -> bool:
    """Whether the walk goes into ``e``: a folder, not a link to one (os.walk's followlinks=False; an entry it cannot
    look at is a file to it)."""
    try:
        return e.is_dir() and not e.is_symlink()
    except OSError:
        return False


# Why an entry of a folder given was not read (``LeftOut.why``).
SUBFOLDER, LINK, UNREADABLE, BROKEN_LINK, OTHER = "subfolder", "link to a folder", "unreadable", "broken link", "other"
LINK_LOOP = "link loop"  # a symbolic link that leads back to itself (ELOOP): no broken link, its target is not gone
# A .npy array in a folder given: predict reads arrays named one by one, not a folder's (a stray features.npy beside
# photos is no images), and it was called "a file of no image type" with no way to its images (a new-user tester)
NPY = ".npy array"
# A FIFO, socket or device in a folder given (or a link to one), whatever its name: "a file of no image type" of
# fifo.jpg and a link to /dev/zero named zero.jpg sent the user to a name that is fine, where extract says "not a
# regular file" (an adversarial tester)
NOT_REGULAR = "not a regular file"
# What a subfolder --recursive could not list is called among what was left out (``_entries``).
UNREAD = " (could not be read)"


# Why each kind of entry was left out, in predict --json's ``left_out`` ``[path, reason]`` pairs, the shape of
# extract's and evaluate's ``skipped`` (``decode.pairs_json``): it listed bare paths, a subfolder told by its "/".
# A file of no image type is said as extract says a notes.txt in a class folder (``decode.NOT_AN_IMAGE``). A
# subfolder's names the option that reads it in the caller's words (``left_out_reason``: ``--recursive`` in the CLI's
# --json, ``recursive=True`` in the API's): "(recursive reads it)" named the API's keyword in the CLI (a brief).
LEFT_OUT_REASONS = {SUBFOLDER: "subfolder, not read ({recursive} reads it)", LINK: "link to a folder, not followed",
                    UNREADABLE: "subfolder that could not be read", BROKEN_LINK: "broken link, its target is gone",
                    LINK_LOOP: LINK_LOOP_WHY, OTHER: NOT_AN_IMAGE,
                    NPY: "a .npy array, read only when named, not from a folder",
                    NOT_REGULAR: "not a regular file (a FIFO, socket or device), never read"}


def left_out_reason(why: str) -> str:
    """``LEFT_OUT_REASONS[why]``, the option that reads a subfolder named as the caller gives it (``errors.option``)."""
    return LEFT_OUT_REASONS[why].format(recursive=option("--recursive"))


class LeftOut(str):
    """An entry of a folder given that predict did not read, as shown and in --json (a subfolder or a link to one
    ends in ``/``), with ``why`` it was left out (SUBFOLDER, LINK, UNREADABLE, BROKEN_LINK or OTHER). A str, so the
    list reads and compares as the paths it always was; the kinds were told apart by string suffixes and a
    filesystem check at display time (a review), and a broken link was called a file of no image type."""

    why: str

    def __new__(cls, path: str | Path, why: str) -> "LeftOut":
        shown = {SUBFOLDER: f"{path}/", LINK: f"{path}/", UNREADABLE: f"{path}{UNREAD}", BROKEN_LINK: str(path),
                 LINK_LOOP: str(path), OTHER: str(path), NPY: str(path), NOT_REGULAR: str(path)}[why]
        self = super().__new__(cls, shown)
        self.why = why
        return self

    def __reduce__(self):  # pickle and copy: the path and why, not the shown text (a review)
        return LeftOut, (self.path, self.why)

    @property
    def path(self) -> str:
        """The entry's path, without the ``/`` or ``UNREAD`` it is shown with."""
        shown = str(self)
        return shown.removesuffix(UNREAD) if self.why == UNREADABLE else shown.removesuffix("/") if self.why in (SUBFOLDER, LINK) else shown

    @property
    def reason(self) -> str:
        """Why it was left out, as --json says it beside its path (``left_out_reason``)."""
        return left_out_reason(self.why)

    @classmethod
    def parse(cls, shown: str) -> "LeftOut":
        """A leftover as shown (an API caller's plain string, as featcache 0.2.0 listed them), with its kind."""
        if isinstance(shown, LeftOut):
            return shown
        if shown.endswith(UNREAD):
            return cls(shown.removesuffix(UNREAD), UNREADABLE)
        return cls(shown.removesuffix("/"), SUBFOLDER) if shown.endswith("/") else cls(shown, _file_kind(Path(shown)))

    @classmethod
    def of(cls, entry: Path) -> "LeftOut":
        """What ``entry`` (one of ``_entries``) is, as a leftover."""
        if str(entry).endswith(UNREAD):
            return cls(str(entry).removesuffix(UNREAD), UNREADABLE)
        if entry.is_symlink():
            return cls(entry, LINK if entry.is_dir() else _file_kind(entry) if entry.exists() else _dead_link_kind(entry))
        return cls(entry, SUBFOLDER if entry.is_dir() else _file_kind(entry))


def _file_kind(path: Path) -> str:
    """NOT_REGULAR, NPY or OTHER: what an entry of a folder given that is no image file is (links followed; its
    ``stat`` alone: nothing that would block is opened)."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = None
    special = mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))
    return NOT_REGULAR if special else NPY if _is_npy(path) else OTHER


def _dead_link_kind(path: Path) -> str:
    """LINK_LOOP or BROKEN_LINK: which a path that leads to no file is (``decode.dead_link``'s rule)."""
    try:
        os.stat(path)
    except OSError as exc:
        return LINK_LOOP if dead_link(exc) == LINK_LOOP_WHY else BROKEN_LINK
    return BROKEN_LINK  # there now: gone again by the time it is said, as a broken link


def image_files_in(folder: Path, recursive: bool = False) -> list[Path]:
    """The image files of ``folder`` (named as images: ``decode.is_image_name``), sorted by path; hidden files left
    out; with ``recursive`` those of its subfolders too (a class-folder tree such as hymenoptera/val). Pillow's
    registered extensions took .pdf and .h5 (which it cannot decode) and left out a .heic (which then went unsaid as
    unreadable; a reviewer): the rule's one home is decode.py, which says extract's failures too."""
    from featcache.sources.decode import is_image_name

    files = [p for p in _entries(folder, recursive) if p.is_file() and is_image_name(p.name)]
    if not files:
        entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
        subfolders = sorted(p.name for p in entries if p.is_dir())
        if subfolders and not recursive:  # a class-folder tree (a tester passed hymenoptera/val): one level unless asked
            shown = ", ".join(subfolders[:3]) + (", ..." if len(subfolders) > 3 else "")
            # "only folders" beside a README.txt was untrue (a new-user tester): its other files named too
            others = sorted(p.name for p in entries if not p.is_dir())
            besides = (f" and {counted(len(others), 'other file')} ({', '.join(others[:3])}{', ...' if len(others) > 3 else ''})"
                       if others else "")
            raise FeatcacheError(f"{folder} holds no image files, only folders ({shown}){besides}; pass those folders "
                                 f"(e.g. {folder / subfolders[0]}), or {option('--recursive', 'recursive=True')} to read "
                                 "every subfolder's images")
        # a.jpg a FIFO, b.png a link to /dev/zero: "holds no image files" of names the user sees (an adversarial tester)
        special = [str(q) for q in _entries(folder, recursive) if _file_kind(q) == NOT_REGULAR]
        if special:
            listed = ", ".join(special[:3]) + (", ..." if len(special) > 3 else "")
            raise FeatcacheError(f"{folder} holds no image files that can be read: {counted(len(special), 'entry')} "
                                 f"{agreeing(len(special), 'is not a regular file', 'are not regular files')} (a FIFO, "
                                 f"socket or device; {listed}); pass image files, .npy arrays or a folder of images")
        raise FeatcacheError(f"{folder} holds no image files (PNG, JPEG, BMP, GIF, ...); pass image files, .npy arrays or a folder of images")
    return files


def expand_inputs(images: Sequence[str | Path], recursive: bool = False) -> tuple[list[Path], list[LeftOut]]:
    """Each folder in ``images`` replaced by its image files (with ``recursive``, its subfolders' too); files and
    .npy arrays kept in order. Also what the folders held besides (subfolders, with a trailing /, unless
    ``recursive``, and files of no image type)."""
    out: list[Path] = []
    left_out: list[LeftOut] = []
    for p in map(Path, images):
        if p.is_dir():
            files = image_files_in(p, recursive)
            out.extend(files)
            taken = set(files)
            left_out += [LeftOut.of(q) for q in _entries(p, recursive) if q not in taken]
        else:
            out.append(p)
    return out, list({str(q): q for q in left_out}.values())  # a folder given twice: its leftovers said once (counted twice; a tester)


def left_out_line(left_out: Sequence[LeftOut], limit: int = 3) -> str:
    """``left out of the folders given: 2 subfolders (...) and 1 file of no image type (...)``: predict reads one
    level of image files unless --recursive."""
    left_out = [LeftOut.parse(q) for q in left_out]

    def some(why: str) -> tuple[int, str]:
        shown = [q.removesuffix(UNREAD) + ("/" if why == UNREADABLE else "") for q in left_out if q.why == why]
        return len(shown), ", ".join(shown[:limit]) + (", ..." if len(shown) > limit else "")

    (dirs, d), (links, ln), (unread, u), (broken, b), (loops, lp), (arrays, a), (special, sp), (files, f) = map(
        some, (SUBFOLDER, LINK, UNREADABLE, BROKEN_LINK, LINK_LOOP, NPY, NOT_REGULAR, OTHER))
    # the words after each count agree with it (progress.agreeing): one subfolder said "(a/; pass them, or
    # --recursive, to predict their images)" (a brief, 2026-12-06)
    parts = [f"{counted(dirs, 'subfolder')} ({d}; pass {_them(dirs)}, or {option('--recursive')}, to predict "
             f"{_their(dirs)} images)" if dirs else "",
             # --recursive never follows one (a loop would not end): said, as the subfolders are (an adversarial tester)
             f"{counted(links, 'link')} to {agreeing(links, 'a folder', 'folders')}, not followed ({ln}; pass {_them(links)} to predict {_their(links)} "
             "images)" if links else "",
             f"{counted(unread, 'subfolder')} that could not be read ({u}; check {_their(unread)} permissions)" if unread else "",
             f"{counted(broken, 'broken link')} ({b}; {agreeing(broken, 'its target is', 'their targets are')} gone)"
             if broken else "",
             f"{counted(loops, 'symbolic link loop')} ({lp}; {agreeing(loops, 'it leads', 'each leads')} back to itself, to no file)"
             if loops else "",
             f"{counted(arrays, '.npy array')} ({a}; pass {_them(arrays)} by name to predict {_their(arrays)} images)"
             if arrays else "",
             f"{counted(special, 'entry')} that {agreeing(special, 'is not a regular file', 'are not regular files')} (a FIFO, "
             f"socket or device; {sp})" if special else "",
             f"{counted(files, 'file')} of no image type ({f})" if files else ""]
    return "left out of the folders given: " + " and ".join(p for p in parts if p)


def _them(n: int) -> str:
    return agreeing(n, "it", "them")


def _their(n: int) -> str:
    return agreeing(n, "its", "their")


# Classes shown per image unless asked: the lesson's 10 classes would be a wall of numbers per image.
DEFAULT_TOP_K = 3


def top_k_classes(probs: np.ndarray, class_names: list[str], k: int) -> list[list[tuple[str, float]]]:
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [[(class_names[j], float(p[j])) for j in row] for p, row in zip(probs, order)]


def predictions_of(names: Sequence[str], probs: np.ndarray, class_names: list[str], k: int) -> list[Prediction]:
    """A ``Prediction`` of each row of ``probs`` (one image each, named by ``names``): its top ``k`` and the whole row,
    of a copy of ``probs``: a runtime may hand out its output buffer again for the next batch."""
    probs = np.array(probs)
    return [Prediction(name, top, row) for name, top, row in zip(names, top_k_classes(probs, class_names, k), probs)]


def csv_advice() -> str:
    """A CSV that cannot be written (read-only, full disk): predict's option is --csv (``csv=``), not the --out of
    atomic_path's default advice."""
    return f"choose another {option('--csv')}"


def _check_csv_folder(path: Path) -> None:
    """The CSV's folder (or the nearest one there, which would hold the folders made for it) can be written: a read-only
    place was found only after every image was predicted. Nothing is created here (access(2) also says EROFS)."""
    import os

    folder = Path(os.path.abspath(path)).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():  # --csv notes.csv/x.csv: "its folder notes.csv is not writable" (an adversarial tester)
        raise FeatcacheError(f"cannot write {path}: {folder} is a file, not a folder; {csv_advice()}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise FeatcacheError(f"cannot write {path} (its folder {folder} is not writable); {csv_advice()}")


def _refuse_folder(path: Path) -> None:
    if path.is_dir():
        raise FeatcacheError(f"{given_path('--csv', path)} is a folder; name the CSV file to write, e.g. "
                             f"{given_path('--csv', path / 'predictions.csv', word=True)}")


def _refuse_stream(path: Path) -> None:
    """A link whose target is not a regular file, or that goes through /proc (``/dev/stdout``, a link to
    ``/proc/self/fd/1``: whatever the stream is now, a terminal, a pipe, or the file the shell redirected to), is
    never replaced nor read, even with --force: ``--csv /dev/stdout`` read the shell's output file and would replace
    the link (a review)."""
    import stat

    from featcache.validate import kind_of

    hop, seen = Path(os.path.abspath(path)), 0
    while True:
        hop = Path(os.path.realpath(hop.parent)) / hop.name  # the folders' links too: /dev/fd is /proc/self/fd
        if hop.parts[:2] == ("/", "proc"):
            # Named as the user typed it: "a link through /proc/1541/fd/1, now to /proc/1541/fd/pipe:[969353]" named
            # the pipe --csv /dev/stdout resolved to (testers)
            raise FeatcacheError(f"{given_path('--csv', path)} is a stream (it leads through /proc to a file a process has "
                                 "open: a terminal, a pipe or a shell's redirection), not a file of its own, and is never "
                                 f"replaced, even with {option('--force')}; {csv_advice()}")
        if not hop.is_symlink() or seen > 40:
            break
        hop, seen = Path(os.path.join(hop.parent, os.readlink(hop))), seen + 1
    try:
        if seen == 0 or stat.S_ISREG(os.stat(path).st_mode):
            return  # not a link (check_replaceable says what a device or FIFO at the name is), or a link to a file
    except OSError:
        return  # a link to nothing: check_replaceable says so
    raise FeatcacheError(f"{given_path('--csv', path)} is a link to {os.path.realpath(path)} ({kind_of(Path(path))}), not "
                         f"to a regular file, and is never replaced, even with {option('--force')}; {csv_advice()}")


# What ``check_csv`` found at ``--csv``: nothing; a CSV as featcache wrote it (its record matches); an empty file
# with no record; a predictions CSV with no record (an older featcache's: kept aside under a name of its own, never
# replaced, --force or not); anything else, which only --force replaces.
CSV_ABSENT, CSV_OURS, CSV_EMPTY, CSV_NO_RECORD, CSV_FORCED = "absent", "ours", "empty", "no record", "forced"


def check_csv(path: Path, inputs: Sequence[Path], force: bool = False) -> str:
    """``--csv``, before any work: a file name, and never one of the inputs or another file of the user's; what is
    there (``CSV_ABSENT`` ...).

    An existing file is replaced only if featcache wrote it and it is still as written: its SHA-256 is the one
    recorded beside it (``csv_record_path``), or with ``force``. A predictions CSV with labels corrected by hand
    keeps featcache's form and was replaced in silence (a review); ``--csv photo.jpg`` must not overwrite the
    photo, nor a copy the user annotated. A predictions CSV in featcache's form with no record (an older
    featcache's) is neither replaced nor refused: ``write_csv`` keeps it aside (``keep_aside``). Refusing it
    stopped every scheduled ``predict --csv daily.csv`` once, and people put --force in their scripts for good;
    ``force`` keeps it aside too. Any other file with no record is refused (``--force`` replaces it); featcache's own
    files never. A link to a regular file is checked, and written, as its target (``csv_target``).
    """
    if str(path) == "-":  # it wrote a file named "-" (and its record .-.featcache; a review); the API's too
        raise FeatcacheError(f"{given_path('--csv', '-')} would be a file named '-': predict's predictions go to stdout "
                             f"without {option('--csv')}{option(' (--json for machine-readable ones)', '')}; name a CSV "
                             f"file, or {option('./-', given_path('--csv', './-'))} for that name")
    _refuse_stream(path)
    _refuse_folder(path)
    target = csv_target(path)  # the file itself: a link's target, its folder, its record (csv_target)
    # before reading its first line: a FIFO would block. Of the target: a dangling link is written through, as by
    # every writer (it was refused as "a link to nothing", the last session's open item)
    check_replaceable(target, "--csv")
    _check_csv_folder(target)
    _check_record_slot(target)
    if not target.exists():
        return CSV_ABSENT
    if any(target.resolve() == p.resolve() for p in inputs):
        raise FeatcacheError(f"{given_path('--csv', path)} is one of the images to predict; {_new_csv()}")
    _refuse_featcache_file(target, shown=path)
    recorded = _recorded_digests(target)
    if recorded is not None and _file_sha256(target) in recorded:
        return CSV_OURS
    if recorded is None:
        # Before --force: an empty file holds nothing to lose, so it is replaced without a copy, --force or not, and
        # said as the empty file it is (a copy would be one more empty file beside the CSV after every such run)
        if target.stat().st_size == 0:
            return CSV_EMPTY
        # Only a CSV in featcache's form is kept aside (an older featcache's): any file with no record was moved
        # aside and a CSV written under its name, the model given as --csv m.keras too (a review). With --force too:
        # --force replaced it where a plain run kept it, the flag the less safe path for a file we keep (testers)
        if is_predictions_csv(target):
            return CSV_NO_RECORD
    if force:
        return CSV_FORCED
    if recorded is None:
        raise FeatcacheError(f"{given_path('--csv', path)} exists and is not a predictions CSV featcache wrote; "
                             f"{csv_advice()}, or pass {option('--force')} to replace it")
    raise FeatcacheError(f"{given_path('--csv', path)} was changed since featcache wrote it (its checksum is not the one "
                         f"recorded in {csv_record_path(target).name}), so it may hold your edits; {csv_advice()}, or pass "
                         f"{option('--force')} to replace it")


def csv_target(path: str | Path) -> Path:
    """The file a CSV at ``path`` is written to: ``path``, or where its links lead when it is a link to a regular
    file or a dangling one whose folder is there (``store.atomic.written_through``). Written through, as the shell's ``>`` writes (a temporary beside the target renamed over it): a plain
    ``--csv l.csv`` replaced the link with a file of its own, and its target was left stale (testers). The CSV's
    record, lock and a copy kept aside are the target's, beside it: one file, one record, whichever name reaches it."""
    from featcache.store.atomic import written_through

    # one rule with every writer's; a dangling link too, as > writes it, and one into a folder not there refused
    return written_through(path, "--csv")


def _refuse_featcache_file(path: Path, shown: Path | None = None) -> None:
    """A cache, head or model of featcache's at ``--csv`` is never replaced by a CSV, ``--force`` or not: ``--csv
    m.keras`` (the model's own name, one slip away) was moved aside and a CSV written there (a review). ``shown``:
    the name the user gave (a link to ``path``)."""
    from featcache.heads.io import file_kind
    from featcache.validate import starts_with

    kind = "an HDF5 file (a cache?)" if starts_with(path, b"\x89HDF\r\n\x1a\n") else None
    if kind is None:
        try:
            found = file_kind(path)
        except Exception:  # noqa: BLE001 (a damaged zip: not ours to say here; the CSV check goes on)
            found = None
        kind = f"a {found} featcache wrote" if found else None
    if kind is None and _is_a_record(path):  # through a link, --force replaced it, and every later run of its CSV was
        kind = "featcache's record of a predictions CSV"  # refused for good (an adversarial tester)
    if kind is not None:
        raise FeatcacheError(f"{given_path('--csv', shown or path)} is {kind}, not a CSV; {_new_csv()}")


def _new_csv() -> str:
    """The way out of a --csv that is no CSV to write (an input image, a featcache file): a new file's name."""
    return f"name a new file, e.g. {given_path('--csv', 'predictions.csv', word=True)}"


def _is_a_record(path: Path) -> bool:
    """Whether ``path`` is featcache's record of some CSV (``csv_record_path``'s JSON), whichever CSV it names."""
    return _record_json(path) is not None


def keep_aside(path: Path) -> Path:
    """``NAME.before-<YYYYmmdd-HHMMSS>.EXT`` beside ``path`` (``-2``, ``-3``, ... after it where that is taken), made
    the file now at ``path`` (a hard link: ``path`` is never missing; the write's rename then replaces the name);
    an existing file is never replaced. ``path`` is the file, not a link to it (``write_csv`` passes ``csv_target``'s):
    a link's hard link is a link, and a CSV reached through one was kept as a link to the file about to be replaced
    (testers)."""
    import errno
    import time

    stamp = time.strftime("%Y%m%d-%H%M%S")
    stem, suffix = (path.stem, path.suffix) if path.suffix else (path.name, "")
    for n in range(1, 1000):
        name = f"{stem}.before-{stamp}{'' if n == 1 else f'-{n}'}{suffix}"
        while len(os.fsencode(name)) > 255 and len(stem) > 1:  # a name at the file system's limit: its stem shortened
            stem = stem[:-1]
            name = f"{stem}.before-{stamp}{'' if n == 1 else f'-{n}'}{suffix}"
        kept = path.with_name(name)
        try:
            os.link(path, kept, follow_symlinks=False)
            return kept
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise FeatcacheError(f"cannot keep {path} aside as {kept} ({exc.strerror}); move it away, or "
                                     f"{csv_advice()}") from None
        if os.path.lexists(kept):  # no hard links here (FAT, some network file systems): renamed, if still free
            continue
        os.rename(path, kept)
        return kept
    raise FeatcacheError(f"cannot keep {path} aside: 999 names {stem}.before-{stamp}... are taken; move it away")


# Beside a predictions CSV, what featcache wrote there: the SHA-256 of the CSV's bytes. A trailer or comment line in
# the CSV would be a row to every CSV reader, so it is a hidden file of its own.
CSV_RECORD_KIND = "featcache predictions csv record"
# A record is read only up to this size: a few hundred bytes, the model's absolute path the most of it (was 4096,
# before the record named the model: a path of the system's 4096 bytes, escaped in JSON, must fit).
RECORD_MAX_BYTES = 1 << 16


# The end of a record's name where ``.NAME.featcache`` would pass the file system's 255 bytes. Hashed names were
# ``.<16 hex>.featcache``, the very name of the record of a CSV named those 16 hex digits: each run's record replaced
# the other's, and each CSV was then kept aside as one with no record (testers). No ``.NAME.featcache`` ends so.
LONG_RECORD_END = ".featcache-long"


def csv_record_path(path: str | Path) -> Path:
    """``.NAME.featcache`` beside the CSV (its name as written: ``csv_target``'s), or ``.<32 hex of the name's
    SHA-256>.featcache-long`` where that name would pass the file system's 255 bytes (``LONG_RECORD_END``)."""
    path = Path(path)
    name = f".{path.name}.featcache"
    if len(os.fsencode(name)) > 255:
        name = f".{_name_hash(path)[:32]}{LONG_RECORD_END}"
    return path.with_name(name)


def _name_hash(path: Path) -> str:
    """The SHA-256 of a CSV's name (its bytes), which names the record of a name too long for one of its own."""
    import hashlib

    return hashlib.sha256(os.fsencode(path.name)).hexdigest()


def _legacy_record_path(path: Path) -> Path | None:
    """Where featcache before 2026-12-05's second review recorded a long-named CSV (``.<16 hex>.featcache``), or None
    for a name whose record never moved. Read when the record is not at ``csv_record_path`` (the CSV is then
    featcache's still, not kept aside as an older one), and removed once the record is written there; its ``csv``
    field tells it from the record of a CSV named those 16 hex digits."""
    if csv_record_path(path).name.endswith(LONG_RECORD_END):
        return path.with_name(f".{_name_hash(path)[:16]}.featcache")
    return None


def _file_sha256(path: Path) -> str | None:
    from featcache.validate import file_sha256

    try:
        return file_sha256(path)
    except OSError:
        return None


def _recorded_digests(path: Path) -> list[str] | None:
    """The SHA-256s the record beside ``path`` accepts (two while a write replaces the CSV: the old and the new, so a
    run killed between the record and the rename leaves either one vouched for); None where there is no readable
    record of a CSV of this name (absent, not a regular file, too large, not featcache's JSON, its SHA-256s damaged:
    the CSV is then one with no record, kept aside by a rerun). A long name's record is also looked for where
    featcache put it before (``_legacy_record_path``)."""
    found = csv_record_of(path)
    return None if found is None else found[1]


def csv_record_of(path: Path) -> tuple[Path, list[str]] | None:
    """The record of the CSV ``path`` (a file, not a link: ``csv_target``'s) and the SHA-256s it accepts
    (``_recorded_digests``), or None: none there, or one that is damaged (``recipes.files.CsvRecordBeside.damaged``)."""
    found = read_csv_record(path)
    return None if found is None or found[1] is None else (found[0], found[1])


def read_csv_record(path: Path) -> tuple[Path, list[str] | None] | None:
    """The record of the CSV ``path`` and the SHA-256s it accepts, None for them where they are malformed; None where
    there is no record of this CSV. The record at ``csv_record_path`` is the one, a damaged one too: a legacy record
    is read only where there is none there."""
    for record in (csv_record_path(path), _legacy_record_path(path)):
        obj = _read_record(record, path) if record is not None else None
        if obj is not None:
            return record, _valid_digests(obj.get("sha256"))
    return None


def _valid_digests(digests: Any) -> list[str] | None:
    """``digests`` where it is what ``write_csv`` records (one SHA-256, or two while a write replaces the CSV), else
    None. A record's "sha256" edited to a string, an empty list or a word vouched for the CSV: verify of the record
    said "ok" without checking the CSV at all (a helper's find)."""
    from featcache.validate import is_sha256

    if isinstance(digests, list) and 1 <= len(digests) <= 2 and all(is_sha256(d) for d in digests):
        return digests
    return None


def csv_of_record(record: str | Path) -> Path | None:
    """The predictions CSV whose record (``csv_record_path``) the file ``record`` is, else None."""
    obj = _record_json(Path(record))
    name = obj.get("csv") if obj is not None else None
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
        return None
    csv = Path(record).with_name(name)
    return csv if Path(record).name in (csv_record_path(csv).name, getattr(_legacy_record_path(csv), "name", None)) else None


def rerun_csv_words(force: bool = False) -> str:
    """The fix of a predictions CSV no record vouches for, as its caller runs predict: ``predict --csv again`` (``with
    --force``) in a command, ``featcache.predict(..., csv=...) again`` (``with force=True``) in a Python call, where
    ``featcache.verify`` said the CLI's flags (an API tester's report of 2026-12-06, on the lines verify gained since)."""
    force_words = f" with {option('--force')}" if force else ""
    return f"{option('predict --csv', 'featcache.predict(..., csv=...)')} again{force_words}"


def check_csv_digests(path: str | Path, record: Path, digests: list[str]) -> None:
    """``featcache verify``'s check of the CSV ``path`` (written at ``csv_target(path)``) against its record, as read
    (``csv_record_of``), as a rerun's ``check_csv`` reads it. A CSV changed since featcache wrote it is a
    FeatcacheError."""
    if _file_sha256(csv_target(path)) not in digests:
        raise FeatcacheError(f"{path} was changed since featcache wrote it (its SHA-256 is not the one {record.name} "
                             f"records beside it), so it may hold your edits; run {rerun_csv_words(force=True)} to "
                             "write it anew")


def _read_record(record: Path, path: Path) -> dict | None:
    """The record at ``record`` if it is featcache's record of the CSV ``path`` (its ``csv`` field is ``path``'s name);
    else None (absent, not a regular file, too large, not featcache's JSON, another CSV's)."""
    obj = _record_json(record)
    return obj if obj is not None and obj.get("csv") == path.name else None


def _record_json(record: Path) -> dict | None:
    """The JSON at ``record`` if it is a featcache CSV record (of any CSV), else None."""
    import json

    try:
        if not record.is_file() or record.stat().st_size > RECORD_MAX_BYTES:  # is_file: a FIFO there would block the read
            return None
        obj = json.loads(record.read_bytes())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) and obj.get("kind") == CSV_RECORD_KIND else None


def read_any_record(record: Path) -> tuple[str, list[str] | None] | None:
    """``(csv, digests)`` of featcache's record at ``record``, whichever CSV it names and whatever its name: its
    ``csv`` field ("" where that is no text) and the SHA-256s it accepts (``_valid_digests``); None where it is no
    such record. What a record copied or renamed with a CSV still holds: ``cp .out.csv.featcache
    .new.csv.featcache`` was "none of the files featcache describes" (an adversarial tester)."""
    obj = _record_json(record)
    if obj is None:
        return None
    return (obj["csv"] if isinstance(obj.get("csv"), str) else ""), _valid_digests(obj.get("sha256"))


def _remove_legacy_record(path: Path) -> None:
    """The old-form record of ``path`` (``_legacy_record_path``), once its record is at ``csv_record_path``: only
    while it is this CSV's record (never the record of a CSV named by those 16 hex digits, nor a user's file)."""
    legacy = _legacy_record_path(path)
    if legacy is not None and not legacy.is_symlink() and _read_record(legacy, path) is not None:
        with contextlib.suppress(OSError):
            legacy.unlink()


def _check_record_slot(path: Path) -> None:
    """Before any work: what is at the CSV's record name is absent or featcache's record. A folder or FIFO there
    failed after every prediction was made, naming no fix, and a user's own file of that name was overwritten
    (an adversarial tester)."""
    record = csv_record_path(path)
    if not os.path.lexists(record):
        return
    what = None
    if record.is_symlink():
        what = "a link"
    elif not record.is_file():
        from featcache.validate import kind_of

        what = kind_of(record)
    elif record.stat().st_size == 0:  # nothing there to lose
        return
    elif _record_json(record) is None:  # the one reading of a record (a review: this had its own copy)
        what = "a file that is not featcache's record"
    if what is not None:
        raise in_the_way(record, f"record of {given_path('--csv', path.name)}", what, csv_advice())


@dataclass(frozen=True)
class CsvModel:
    """The model that made a predictions CSV, as its record holds it (``"model"``, since 2026-12-06; a record of before
    holds the CSV's name and SHA-256 alone): the model file's name and absolute path as predict was given it, its
    content digest (None: a model saved before model digests), the runtime that ran it and the views it averaged.
    info showed a CSV's rows and time but not what made them (a session's note)."""

    file: str
    path: str
    content_digest: str | None
    runtime: str
    views: tuple[str, ...]

    @classmethod
    def of(cls, model: str | Path, meta: dict, runtime: str) -> "CsvModel":
        """The model at ``model`` with record ``meta`` (``read_meta``'s), run on ``runtime``."""
        from featcache.deploy.model import model_view_names
        from featcache.heads.io import DIGEST_KEY

        return cls(Path(model).name, os.path.abspath(model), meta.get(DIGEST_KEY), runtime, model_view_names(meta))

    def to_record(self) -> dict:
        return {"file": self.file, "path": self.path, "content_digest": self.content_digest, "runtime": self.runtime,
                "views": list(self.views)}

    @classmethod
    def from_record(cls, entry: Any) -> "CsvModel | None":
        """The record's ``"model"`` entry as ``to_record`` writes it, else None (absent: an older record; or edited).
        Its ``path`` is absolute, as ``of`` writes it: an edited relative one was resolved against the working folder
        of whoever ran verify (a reviewer, 2026-12-06)."""
        from featcache.validate import is_sha256

        if not isinstance(entry, dict):
            return None
        file, path, digest, runtime, views = (entry.get(k) for k in ("file", "path", "content_digest", "runtime", "views"))
        texts = all(isinstance(v, str) and v for v in (file, path, runtime))
        if not (texts and Path(file).name == file and os.path.isabs(path) and (digest is None or is_sha256(digest))
                and isinstance(views, list) and views and all(isinstance(v, str) and v for v in views)):
            return None
        return cls(file, path, digest, runtime, tuple(views))


def csv_model(record: Path) -> CsvModel | None:
    """The model the predictions CSV record at ``record`` names (``CsvModel``), None where it names none."""
    obj = _record_json(record)
    return CsvModel.from_record(obj.get("model")) if obj is not None else None


def _write_record(path: Path, digests: list[str], made_by: CsvModel | None = None) -> None:
    import json

    from featcache.store.atomic import write_text

    record = {"kind": CSV_RECORD_KIND, "csv": path.name, "sha256": digests,
              **({"model": made_by.to_record()} if made_by is not None else {})}
    check_replaceable(csv_record_path(path), "--csv")  # a folder or FIFO at its name: one line, never opened
    write_text(csv_record_path(path), json.dumps(record) + "\n", advice=csv_advice())


class CsvWritten(NamedTuple):
    """What ``write_csv`` wrote, and what it found at the path just before (``check_csv``'s ``CSV_*``); ``kept``:
    where it kept a file with no record (``keep_aside``), or None; ``old``: the SHA-256 of featcache's CSV it
    replaced (``CSV_OURS``), or None; ``target``: the file written (``csv_target``: where ``path`` leads when it is a
    link to a file; None: ``path`` itself)."""

    path: Path
    found: str
    kept: Path | None
    old: str | None = None
    target: Path | None = None

    @property
    def link(self) -> Path | None:
        """The file written through ``path`` when ``path`` is a link to it, else None."""
        return self.target if self.target is not None and self.target != self.path else None


def write_csv(path: str | Path, preds: Sequence[Prediction], inputs: Sequence[Path] = (), force: bool = False,
              target: Path | None = None, made_by: CsvModel | None = None) -> CsvWritten:
    """One row per image: input, then class and probability for each rank. ``check_csv``'s check of the path is made
    again just before the rename, under the CSV's lock (a file the user saved there during the run was replaced; an
    adversarial tester).

    The CSV's SHA-256 is recorded beside it (``csv_record_path``), first together with the old CSV's (while the
    old one is still there), then alone once the new one is in place, still under the lock: a rerun replaces the
    CSV only while it is as featcache wrote it. A predictions CSV there with no record is kept aside (``keep_aside``).
    ``made_by``: the model that made the predictions, recorded with them (``CsvModel``)."""
    import csv
    import hashlib
    import io

    from featcache.store.atomic import write_bytes

    shown = one_line(os.fspath(path))  # as given: the interrupt line names the --csv the user typed
    path = Path(path)
    _refuse_folder(path)
    # through a link to a file, as the shell's > writes; its record beside the target. ``target``: where the link led
    # when the CSV was checked before the work (predict's), else now
    target = csv_target(path) if target is None else target
    k = max((len(p.top) for p in preds), default=0)
    value = getattr(preds, "values", PROBABILITY)
    buf = io.StringIO()
    plain = csv.writer(buf, lineterminator="\n")
    # With "\n" lines, the csv module quotes a field holding "\n" but not one holding "\r", which readers then take
    # for a line end: a photo named "a\rb.jpg" became two rows, the second with the first's prediction (an
    # adversarial tester). Such a row has every field quoted.
    quoted = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    plain.writerow(csv_header(k, value))
    for p in preds:
        row = [p.input] + [v for c, prob in p.top for v in (c, f"{prob:.6f}")]
        (quoted if any("\r" in v for v in row) else plain).writerow(row)
    data = buf.getvalue().encode("utf-8", "surrogateescape")  # a path's bytes that are not UTF-8, as they were
    new = hashlib.sha256(data).hexdigest()
    found: dict[str, object] = {"found": CSV_ABSENT, "kept": None, "old": None}

    def recheck() -> None:  # under the CSV's lock, just before the rename
        found["found"] = state = check_csv(path, inputs, force)
        if csv_target(path) != target:  # made a link, or pointed elsewhere, during the run: not where the lock is
            raise FeatcacheError(f"{given_path('--csv', path)} was replaced by a link or pointed elsewhere during the run (now "
                                 f"{csv_target(path)}); nothing was written; run again")
        if state == CSV_NO_RECORD:  # first: killed before the rename, the file is there still and kept too
            found["kept"] = keep_aside(target)
        found["old"] = old = _file_sha256(target) if state == CSV_OURS else None
        _write_record(target, ([old] if old is not None else []) + [new], made_by)

    def trim() -> None:  # the old CSV's digest out of the record; left in, it vouches only for a file featcache wrote
        try:  # still under the CSV's lock: trimmed after it, [new] overwrote the next run's [new, its own] (a review)
            if _file_sha256(target) == new:
                _write_record(target, [new], made_by)
                _remove_legacy_record(target)
        except (OSError, FeatcacheError):
            pass

    write_bytes(target, data, advice=csv_advice(), recheck=recheck, published=trim)
    # whole and recorded: an interrupt from here on says so, not "nothing was saved" (Ctrl-C while predict printed its
    # rows; an adversarial tester), here at the save as train's and export's, so a Python call is told alike
    written(f"the predictions CSV {shown}")
    return CsvWritten(path, str(found["found"]), found["kept"], found["old"], target)  # type: ignore[arg-type]


def kept_line(path: str | Path, kept: str | Path) -> str:
    """What predict says of a file it kept aside (``keep_aside``)."""
    return (f"{path} had no record of what featcache wrote there (an older featcache's, or not featcache's): kept as "
            f"{kept}")


PROBABILITY, SHARE = "probability", "share"  # what a model's numbers are (Predictions.values)


def value_of(meta: dict) -> str:
    """What the numbers of a model with record ``meta`` are: an SVM head's model gives shares (``deploy.model.svm_numbers``), not probabilities
    (``deploy.model.SVM_TAGS``); every other model, probabilities."""
    from featcache.deploy.model import SVM_TAGS

    return SHARE if meta.get("scores") in SVM_TAGS else PROBABILITY


def csv_header(k: int, value: str = PROBABILITY) -> list[str]:
    """The columns of a predictions CSV of the top ``k`` classes: ``class_r`` and ``probability_r`` (``share_r`` for
    an SVM head's model: ``value_of``)."""
    return ["input"] + [c for r in range(1, k + 1) for c in (f"class_{r}", f"{value}_{r}")]


# How much of a CSV with no record ``is_predictions_csv`` reads: its verdict is from the head of the file. The whole
# file was read on every run that found one (testers). A wrong "yes" (a note added below the first MiB) only keeps
# the file aside, never loses it; 1 MiB holds the header of a top-k of some 30,000 classes, or thousands of rows.
CSV_SNIFF_BYTES = 1 << 20


def is_predictions_csv(path: Path) -> bool:
    """Whether ``path`` is a predictions CSV as featcache writes it, as far as its first ``CSV_SNIFF_BYTES`` show:
    featcache's header for some top k, then rows of an input and k (class, probability) pairs (a row cut by that
    bound is not judged). A copy with a column or a note added is the user's (an adversarial tester's annotated
    copy, which has featcache's first line, was replaced)."""
    import csv
    import io

    try:
        with open(path, "rb") as fh:
            head = fh.read(CSV_SNIFF_BYTES + 1)
    except OSError:
        return False
    cut = len(head) > CSV_SNIFF_BYTES
    # surrogateescape: the rows of a folder whose path is not UTF-8 hold its bytes as they are (write_text); read
    # strictly, such a CSV was "not a predictions CSV featcache wrote" and its rerun refused
    text = head[:CSV_SNIFF_BYTES].decode("utf-8", "surrogateescape")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        return False
    if cut:
        rows = rows[:-1]  # the last row may be cut short by the bound (a header cut so leaves nothing: not judged)
    if not rows:
        return False
    header = rows[0]
    if not header or len(header) % 2 == 0 or header not in (csv_header(len(header) // 2, v) for v in (PROBABILITY, SHARE)):
        return False
    return all(len(row) == len(header) and all(_is_probability(v) for v in row[2::2]) for row in rows[1:])


def _is_probability(text: str) -> bool:
    try:
        return 0.0 <= float(text) <= 1.0
    except ValueError:
        return False


@checks_switches
def predict(
    model: str | Path | LoadedModel,
    images: Sequence[str | Path] | np.ndarray | Sequence[np.ndarray],
    *,
    top_k: int | None = None,
    batch_size: int = BATCH_SIZE,
    csv: str | Path | None = None,
    runtime: str = DEFAULT_RUNTIME,
    recursive: bool = False,
    verbose: bool = False,
    force: bool = False,
    lock_timeout: float | None = None,
) -> Predictions:
    """Top-``top_k`` classes (default: 3; all of a model with fewer) for each image file, each image file of a
    folder (sorted by name), and each image of each ``.npy`` in ``images``; ``csv`` also writes them to a CSV file.
    ``images`` may instead be in memory: a NumPy array (one image, or a stack as an ``.npy`` holds) or a list of
    arrays (each one image), uint8 pixels as an ``.npy``'s, each named ``<array I>`` in the results.

    Image files that do not decode are left out and listed in the result's
    ``skipped``; when no image is left, a FeatcacheError names the first.
    ``runtime`` runs the model as it runs extraction's network (``auto``,
    ``tensorflow``, ``onnxruntime``, ``openvino``; ``deploy.model.ModelRunner``);
    the result's ``runtime`` and ``runtime_note`` say what ran it and why; ``lock_timeout``: seconds to wait at most
    while another process converts the same model (None: 120 s), then a runtime named
    is one line and ``auto`` runs TensorFlow. ``recursive`` reads the image files of
    a folder's subfolders too (a class-folder tree); without it a folder gives its own image files.
    Image files are decoded and run a batch at a time (``batch_size``, fewer
    where a pass would hold more than extract's bound: ``embedding.passes``),
    so memory does not grow with their number. ``verbose`` shows a progress bar on stderr when there is more
    than one batch. An existing ``csv`` is replaced only while it is as featcache wrote it (its checksum, recorded
    beside it in ``.NAME.featcache``), or with ``force``; a predictions CSV there with no record is kept aside as
    ``NAME.before-<YYYYmmdd-HHMMSS>.EXT``, ``force`` or not (``keep_aside``; said on stderr with ``verbose``, and in
    the result's ``csv_written``). A ``csv`` that is a link to a file is written through: its target is replaced
    (``csv_target``).

    ``model``: the model file's path, or ``load_model(path)``'s result (``LoadedModel``): checked when loaded, its
    runner (``runtime``'s conversion, the trace) built at its first call and reused by the later ones, so a notebook
    pays the model's preparation once, not on every call. Its predictions are of the model as loaded.
    """
    from featcache.deploy.model import model_source, one_vote, svm_numbers
    from featcache.embedding.runtimes import check_runtime
    source = model_source(model)
    model = source.path
    images = given_images(images)
    given = in_memory_images(images)
    images = _as_path_list(images) if given is None else []
    check_runtime(runtime)
    lock_timeout = check_lock_timeout(lock_timeout)  # before the work, as extract's StoreSpec checks its own
    # every switch before the model's record is read: top_k=0 and batch_size=0 were refused only after it was (an
    # adversarial tester), where lock_timeout was refused before
    top_k = None if top_k is None else positive_int(top_k, "--top-k")
    batch_size = positive_int(batch_size, "--batch-size")
    # fast checks before loading TensorFlow; a loaded model's record as checked when it was loaded (its own copy: the
    # meta load_model returned is the caller's to change)
    meta = source.meta()
    names = list(meta["class_names"])
    top_k = _check_top_k(top_k, len(names))
    paths, left_out, csv_at_start = collect_inputs(images, csv, recursive, force)
    digest_at_start = _file_sha256(Path(csv)) if csv_at_start == CSV_OURS else None
    # where a link sends the CSV, as checked: a link pointed elsewhere while the images ran is refused at the write,
    # not written through to its new target (a review: only a change within the write itself was caught)
    target_at_start = csv_target(csv) if csv is not None else None
    arrays = [(p, read_npy(p)) for p in paths if _is_npy(p)]
    files = [p for p in paths if not _is_npy(p)]

    given = given or []
    # before decoding, as extract counts a photo folder: a notes.txt given is left out as no image, not one
    # ("predicting 5 images" of 4 photos and a notes.txt, then 4 rows; a new-user tester)
    n_files, n_arrays = photo_count(files), sum(len(arr) for _, arr in [*arrays, *given])
    n_images = n_files + n_arrays
    if not n_images:  # only files whose names say they are no image (a cache.h5): refused before any line of the run
        raise _nothing_to_predict(_named_no_image(files))
    size, views, photos, native = input_settings(meta)
    net = model_runner(source.runs, runtime, batch_size, n_images, verbose, meta, views=views,
                       lock_timeout=lock_timeout, what=run_count_words(n_files, n_arrays))
    bar = progress_bar(n_images) if bars_wanted(verbose) and n_images > batch_size else None
    if bar is not None and bar.interactive and not verbose:  # at once: loading the model (and TensorFlow) before the
        # first batch was a minute without a line on a loaded machine (a new-user tester). A verbose run's first line,
        # "predicting N images with MODEL; preparing ...", says so (and this bar came before it: helper-244's tester);
        # off a terminal a bar's line at 0 says nothing its next line will not.
        bar.update(0)
    start = time.perf_counter()
    per_file, skipped = predict_files(files, size, batch_size, net, names, top_k, bar, views=views, native=native)
    if not arrays and not given and all(p is None for p in per_file):  # the model was not loaded: no batch had an image
        raise _nothing_to_predict(skipped)
    per_array = predict_arrays(arrays, net, batch_size, names, top_k, bar, size=size, views=views, photos=photos)
    in_order = in_input_order(paths, per_file, per_array)
    for stack in predict_arrays(given, net, batch_size, names, top_k, bar, size=size, views=views, photos=photos,
                                name=lambda first, i: array_name(first + i)):
        in_order += stack

    runner = net()
    net.check_unchanged()  # before the CSV names the model: the file run is still the one at its path (not loaded's)
    preds = Predictions(in_order, skipped=skipped, runtime=runner.runtime_used,
                        runtime_note=runner.runtime_note, left_out=left_out, top_k=top_k, class_names=names)
    preds.values = value_of(meta)
    preds.throughput = net.throughput(len(in_order), start, views)
    preds.decision_only = one_vote(meta)
    preds.values_words = svm_numbers(meta)
    if csv is not None:
        preds.csv_written = done = write_csv(csv, preds, paths, force, target=target_at_start,
                                             made_by=CsvModel.of(model, meta, runner.runtime_used))
        preds.csv_meanwhile = done.found == CSV_OURS and (csv_at_start != CSV_OURS or done.old != digest_at_start)
    if verbose:
        # as extract's summary (a status line: off with FEATCACHE_PROGRESS=off); a bar's rate is said only where
        # there is a bar (more than one batch), and --json said none
        status(one_line(f"predict: predicted {preds.throughput.line(preds.runtime)}"
                        f"{skipped_words(n_images, len(preds))}"))  # the first line's files, each used or skipped
        say_notes(preds)  # the API said nothing of a file left out of a folder, which the CLI named (a new-user tester)
    return preds


def say_notes(preds: "Predictions", runtime_note: bool = True) -> None:
    """What predict passed over and why, on stderr (stdout is the predictions): files it could not read, what the
    folders given held besides images, and the runtime's note (``runtime_note``)."""
    from featcache.errors import one_line
    from featcache.progress import note
    from featcache.sources.decode import skipped_files_line

    # the first 5 named: "skipped 2 files that are not readable images: a.jpg (reason); ..."
    notes = ([skipped_files_line(preds.skipped, 5, what=("that is not a readable image", "that are not readable images"))]
             if preds.skipped else []) + ([one_line(left_out_line(preds.left_out))] if preds.left_out else [])
    notes += [preds.runtime_note] if runtime_note and preds.runtime_note else []
    notes += [one_line(kept_line(done.path, done.kept))] if (done := preds.csv_written) and done.kept else []
    for line in notes:
        note(f"predict: {line}")  # stderr closed (2>&-): the predictions still come (print() raised EBADF; a tester)


def input_settings(meta: dict) -> tuple[int, int, bool, bool]:
    """``(size, views, photos, native)`` of a model's inputs: its image size, the views one image is in its pass
    (``model_views``), whether its head was trained on photos, and whether files are run at their own size.
    A model of photos takes them as the decoder made its cache's (at its size); a model of image arrays
    (Fashion-MNIST) resizes them in its graph, as its cache was made: files at their own size, arrays as they are."""
    from featcache.deploy.model import model_views  # loaded already: model_meta read the record with it
    from featcache.sources.base import photo_root_of

    photos = photo_root_of(meta.get("source")) is not None
    return int(meta["image_size"]), model_views(meta), photos, isinstance(meta.get("source"), dict) and not photos


def _as_path_list(images: Sequence[str | Path] | str | Path) -> list[str | Path]:
    """``images`` as a list of str or Path: one path is one input (a str was walked character by character; a tester)."""
    what = "image files, a folder of images or .npy arrays (a path or a list of paths)"
    if isinstance(images, (str, bytes, os.PathLike)):
        images = [images]
    if images is None or isinstance(images, (dict, set)) or not isinstance(images, Iterable):
        check_path(images, "images", what)  # None was "'NoneType' object is not iterable" (an adversarial tester)
    images = list(images)  # read twice below: a generator's second pass was empty, "no images given"
    for p in images:
        check_path(p, "each of images", what)
    images = [expand_home(os.fsdecode(p)) for p in images]  # as given (a folder's trailing /), ~ expanded
    if not images:
        raise FeatcacheError("no images given; pass image files, a folder of images or .npy arrays")
    return images


def model_meta(model: str | Path) -> dict:
    """The model file's checked metadata (``read_meta``), without loading the network."""
    from featcache.deploy.model import read_meta

    if Path(model).is_dir():  # 'predict FOLDER MODEL', swapped: predict's order, in the one home's line (heads.io)
        from featcache.deploy.model import MODEL_SUFFIX, model_file
        from featcache.heads.io import folder_given

        raise folder_given(Path(model), "model", f"pass {model_file()} first, then the images", (MODEL_SUFFIX,))
    return read_meta(model)


def _check_top_k(top_k: int | None, n_classes: int) -> int:
    """The classes to show per image: at most the model's, as the default already was. ``--top-k 5`` on a
    2-class model was an error (a new-user tester), where the help promised all classes of a model with fewer:
    one --top-k now serves models of any number of classes, and ``Predictions.top_k`` says what was shown."""
    return min(DEFAULT_TOP_K if top_k is None else positive_int(top_k, "--top-k"), n_classes)


def _is_npy(path: Path) -> bool:
    return path.suffix.lower() == ".npy"


def collect_inputs(images: Sequence[str | Path], csv: str | Path | None, recursive: bool = False,
                   force: bool = False) -> tuple[list[Path], list[LeftOut], str | None]:
    """``(paths, left_out, csv_found)``: the inputs, folders replaced by their image files (``expand_inputs``), all
    checked before any work: every one exists, ``csv`` may be written (what is there: ``check_csv``), and each
    ``.npy``'s name can name its rows."""
    from featcache.errors import printable
    from featcache.sources.decode import NOT_UTF8, utf8_bytes

    paths, left_out = expand_inputs(images, recursive)
    check_named(paths)
    found = None
    if csv is not None:  # csv=5 was pathlib's TypeError (an adversarial tester)
        check_file_name(csv, "--csv", "csv", "predictions.csv")  # 'out/' wrote a file named out (an adversarial tester)
        found = check_csv(check_path(csv, "csv", "the .csv file to write the predictions to"), paths, force)
    for p in paths:
        if _is_npy(p) and not utf8_bytes(p.name):  # an array's rows are named after its file (its folder: as read_files)
            raise FeatcacheError(f"{printable(str(p))}: {NOT_UTF8}")
    return paths, left_out, found


def run_count_words(files: int, images: int = 0) -> str:
    """What a run's first line counts, before anything is decoded: the image files (named as images: some may not
    decode, so they are files, not images), and the images of arrays, which are images: "scoring 61 images" of 61
    files was followed by "scored 60" when one JPEG was cut short (a session's brief, 2026-12-06)."""
    parts = ([counted(files, "image file")] if files or not images else []) + (
        [counted(images, "image") + (" of arrays" if files else "")] if images else [])
    return " and ".join(parts)


def skipped_words(files: int, used: int) -> str:
    """The summary's tail on the image files of the first line (``run_count_words``) that were not used, of ``files``
    with ``used`` decoded: "; 1 image file skipped", or nothing. The files' reasons are the notes' (``say_notes``)."""
    return f"; {counted(files - used, 'image file')} skipped" if files > used else ""


def model_runner(model: str | Path | LoadedModel, runtime: str, batch_size: int, n_images: int,
                 verbose: bool = False, meta: dict | None = None, verb: str = "predicting",
                 views: int = 1, lock_timeout: float | None = None, doing: str = "read",
                 what: str | None = None) -> "LazyRunner":
    """``net()``: the model's ``ModelRunner``, built on the first call (not when no image file decodes: that
    is one line, without loading TensorFlow) and the same one after. ``verbose``: the run's first line ("predicting
    N images with MODEL; preparing ...") is said at once, before any file is decoded; a conversion for the runtime says
    so, as extract's does (``runtimes.converted_model``): 'predict --runtime onnxruntime' converted for 14 s in
    silence (a new-user tester). ``meta``: the record the caller read first (``model_meta``), whose class names
    name the outputs: a file whose record is another now was replaced meanwhile, and is refused before it runs (a
    cats/dogs model put there while a folder was listed predicted 'ants'/'bees', exit 0, and one of 3 classes was an
    IndexError; an adversarial tester). ``verb``: what the run does, in its first line ("scoring" for evaluate's,
    whose "scoring ..." line was followed by "predicting ..."; a review). ``views``: the model's
    (``input_settings``), each image one forward pass per view, as the runner counts them for its runtime choice.
    ``lock_timeout``: the runner's (``ModelRunner``), its wait for another process converting the same model.
    ``doing``: what the command does with the model, in the line for one replaced meanwhile (``changed_meanwhile``:
    "read", evaluate's "evaluated"); ``net.check_unchanged()`` says it after scoring (``ModelRunner``'s). ``what``:
    what the first line counts (``run_count_words``; default ``n_images`` images). ``model``: a path, or a model
    ``load_model`` loaded (``LoadedModel``), whose runner is built once and kept for its later runs."""
    from featcache.deploy.model import LoadedModel
    from featcache.embedding.runtimes import preparing_line
    from featcache.errors import one_line
    from featcache.progress import bars_wanted, counted, status

    # Said as extraction says it, and now, before the first batch is decoded (the model is built then): loading the
    # model (TensorFlow's import, a conversion) took 27 s before the predictions of 2 images without a word (a
    # new-user tester), and said in net() this line waited for the first batch's decoding too (a reader). Status
    # lines: on stderr, off with FEATCACHE_PROGRESS=off; with the bars under the CLI's --json too (bars_when_quiet),
    # as extraction's (a new-user tester, 2026-12-07).
    loaded = model if isinstance(model, LoadedModel) else None
    path = model if loaded is None else loaded.path
    verbose = bars_wanted(verbose)
    if verbose:
        what = counted(n_images, "image") if what is None else what
        status(one_line(f"{verb} {what} with {path}; {preparing_line('the model', runtime)}"))
    return LazyRunner(path, runtime, batch_size, n_images, verbose, meta, views, lock_timeout, doing, loaded)


@dataclass
class LazyRunner:
    """``model_runner``'s ``net``: ``net()`` builds the model's ``ModelRunner`` on its first call (saying it ready
    where ``verbose``) and returns it, the same one after; ``startup_seconds``: how long that build took. ``loaded``:
    the ``LoadedModel`` whose bytes run, its runner built at its first run and taken as it is at the next ones."""

    model: str | Path
    runtime: str
    batch_size: int
    n_images: int
    verbose: bool
    meta: dict | None
    views: int
    lock_timeout: float | None
    doing: str
    loaded: LoadedModel | None = None
    runner: ModelRunner | None = None
    startup_seconds: float = 0.0  # the model's preparation (TensorFlow's import, the load, a conversion, the trace)

    def __call__(self) -> ModelRunner:
        if self.runner is None:
            from featcache.deploy import model as model_io
            from featcache.embedding.runtimes import cached_choice, ready_line
            from featcache.progress import status, status_lines

            start = time.perf_counter()
            with status_lines() if self.verbose else contextlib.nullcontext():
                if self.loaded is not None:  # its bytes, checked when loaded; prepared once for all its runs
                    runner = self.loaded.runner(self.runtime, self.batch_size, self.n_images, self.views,
                                                self.lock_timeout, self.doing)
                else:
                    runner = model_io.ModelRunner(self.model, self.runtime, self.batch_size, expected_images=self.n_images,
                                                  lock_timeout=self.lock_timeout, record=self.meta, doing=self.doing)
            self.runner, self.startup_seconds = runner, time.perf_counter() - start
            if self.verbose:
                why = cached_choice(self.runtime, runner.runtime_used, self.n_images, self.views)  # passes, as chosen
                status(ready_line("model", runner.runtime_used, self.startup_seconds, why))
        return self.runner

    def throughput(self, images: int, since: float, views: int) -> Throughput:
        """What ran since ``since`` (``time.perf_counter()``), the preparation left out (``Throughput``): reading,
        decoding and the passes, from the first file read to the last prediction. Files are decoded ahead while the
        model is prepared (``predict_files``), so the decoding of the first batches may fall in ``startup_seconds``."""
        return Throughput(images, max(0.0, time.perf_counter() - since - self.startup_seconds), self.startup_seconds, views)

    def check_unchanged(self) -> None:
        """The runner's ``check_unchanged``: the model file is still the one run; nothing to check where no model
        was built (no image decoded, or a fault before the first batch), nor of a loaded model: what ran is the bytes
        read and checked when it was loaded (``LoadedModel``), whatever is at its path now."""
        if self.runner is not None and self.loaded is None:
            self.runner.check_unchanged()


def ready(net: Callable[[], ModelRunner], bar: Progress | None) -> ModelRunner:
    """``net()``, the time it took left out of ``bar``'s total and rate (``Progress.leave_out``): the model's
    preparation (TensorFlow's import, the load, a conversion, the trace; ``model_runner``) is a start-up, said on
    its own line, as extract leaves its model build out of its images/s. Counted in, 153 photos at 224 px said
    "13 images/s" against 27 for their decoding and passes (a new-user tester: "half extract's speed";
    docs/benchmarks.md, "predict's time"). Each later call returns the built runner at once."""
    start = time.monotonic()
    runner = net()
    if bar is not None:
        bar.leave_out(time.monotonic() - start)
    return runner


def progress_bar(total: int) -> Progress:
    from featcache.progress import Progress  # not Keras's bar, and on stderr: stdout is the predictions (or JSON) alone

    return Progress(total, unit="image")


def predict_files(paths: Sequence[Path], size: int, batch_size: int, net: Callable[[], ModelRunner], names: list[str],
                  top_k: int, bar: Progress | None = None, views: int = 1,
                  native: bool = False, digests: Sequence[str] | None = None) -> tuple[list[Prediction | None], list[tuple[str, str]]]:
    """``(per_file, skipped)``: each image file's prediction in order (None for one that does not decode) and
    ``[(path, reason)]`` of those; decoded and run one batch at a time, keeping only each batch's top-k.

    A batch is ``batch_size`` files, fewer where their pass would hold more than extract's bound (``embedding.passes``:
    the model at ``size`` px, each file one image per view of a model that averages ``views``; decoded at the model's
    size, so their raw pixels are in the inference figure). Without it a model at 2048 px ran 5 files a pass (7 GB).
    ``digests``: the SHA-256 each file must still have (``read_files``)."""
    from featcache.embedding.passes import images_per_pass

    rows = images_per_pass(batch_size, size, views=views).rows
    if native:  # raw pixels of each size beyond the model's, counted as an array's are (predict_arrays)
        rows = lambda pixels: images_per_pass(batch_size, size, views=views, raw_pixels=pixels).rows  # noqa: E731
    per_file: list[Prediction | None] = []
    skipped: list[tuple[str, str]] = []
    # The next batches are decoded on a reader thread while this one runs, as extract's are (``read_ahead``, a few
    # batches at most): decoded here in turn, predict ran at 35 images/s where extract ran at 41 with the same pass
    # (docs/benchmarks.md, "predict's time"). The same batches, in the same order: the results are the same.
    with contextlib.closing(read_ahead(read_files(paths, size, rows, native, digests))) as batches:
        for batch, read in batches:
            _predict_batch(batch, read, rows, net, names, top_k, bar, per_file, skipped)
    return per_file, skipped


def _predict_batch(batch: np.ndarray, read: list[FileRead], rows: int | Callable[[int], int], net: Callable[[], ModelRunner],
                   names: list[str], top_k: int, bar: Progress | None, per_file: list[Prediction | None],
                   skipped: list[tuple[str, str]]) -> None:
    """One batch of ``read_files`` run, its predictions and skipped files added to ``per_file`` and ``skipped``."""
    from featcache.deploy import model as model_io

    run_rows = rows(batch.shape[1] * batch.shape[2]) if callable(rows) else rows  # the bound of this batch's size
    decoded = [str(f.path) for f in read if not f.skipped]
    made = iter(predictions_of(decoded, model_io.run_model(ready(net, bar), batch, run_rows), names, top_k) if len(batch) else ())
    for f in read:
        per_file.append(None if f.skipped else next(made))
        if f.skipped:
            skipped.append(f.skipped)
    if bar is not None:  # photos, as its total counts them (``photo_count``)
        bar.add(photo_count(f.path for f in read))


def photo_count(paths: Iterable[str | Path]) -> int:
    """The files of ``paths`` counted as images, as extract counts a folder's (``StagedPhotos.images``): a file whose
    name says it is no image (``decode.is_other_file``: notes.txt) is not one."""
    from featcache.sources.decode import is_other_file

    return sum(1 for p in paths if not is_other_file(p))


def _named_no_image(files: Sequence[Path]) -> list[tuple[str, str]]:
    """``[(path as shown, why)]`` of ``files``, each named as no image (``photo_count`` counts none of them), as
    ``read_files`` skips each: "predict MODEL cache.h5" said "predicting 0 image files ...; preparing the model" and
    then refused it (a new user in a notebook)."""
    from featcache.errors import printable
    from featcache.sources.decode import NOT_AN_IMAGE

    return [(printable(str(p)), NOT_AN_IMAGE) for p in files]


def _nothing_to_predict(skipped: Sequence[tuple[str, str]]) -> FeatcacheError:
    first, why = skipped[0]
    more = f" (and the other {counted(len(skipped) - 1, 'file')} given)" if len(skipped) > 1 else ""
    return FeatcacheError(f"no image to predict: {first}: {why}{more}; pass image files (PNG, JPEG, BMP, GIF, ...), "
                          "a folder of images or a .npy array")


def predict_arrays(arrays: Sequence[tuple[Any, np.ndarray]], net: Callable[[], ModelRunner], batch_size: int,
                   names: list[str], top_k: int, bar: Progress | None = None, *, size: int, views: int = 1,
                   photos: bool = False, name: Callable[[Any, int], str] = lambda p, i: f"{p}[{i}]") -> list[list[Prediction]]:
    """The predictions of each ``.npy``'s images (``name(path, i)``: ``"x.npy[i]"``), one list per array, in order.

    Each array's batch is bounded as ``predict_files``' are, its raw pixels counted too: the model turns each raw
    image into float32 RGB before resizing it to ``size``, and an array's images come at any size (a batch of 64 of
    3000 x 3000 px would hold 28 GB). ``photos`` (a model whose head was trained on a photo folder's cache): each
    image of another size is resized as the photo decoder resizes (``decode.resize_pixels``) before the model, so
    the same pixels give the same classes as a file or an array."""
    from featcache.deploy import model as model_io
    from featcache.embedding.passes import images_per_pass

    out = []
    for p, arr in arrays:
        # Each array separately: one batch needs one image size; large images in smaller batches.
        rows = images_per_pass(batch_size, size, views=views, raw_pixels=arr.shape[1] * arr.shape[2]).rows
        preds: list[Prediction] = []
        # A batch at a time, the bar moved after each: one .npy of 500 images showed 0/500, then 500/500 22 s
        # later (a new-user tester). The same batches as one run_model over the array.
        for i in range(0, len(arr), rows):
            chunk = arr[i:i + rows]
            if photos and arr.shape[1:3] != (size, size):
                chunk = _as_decoded(chunk, size)
            probs = model_io.run_model(ready(net, bar), chunk, rows)
            preds += predictions_of([name(p, i + j) for j in range(len(chunk))], probs, names, top_k)
            if bar is not None:
                bar.add(len(chunk))
        out.append(preds)
    return out


def _as_decoded(images: np.ndarray, size: int) -> np.ndarray:
    from featcache.sources.decode import resize_pixels

    return np.stack([resize_pixels(x, size) for x in images])


def in_input_order(paths: Sequence[Path], per_file: Sequence[Prediction | None],
                   per_array: Sequence[list[Prediction]]) -> list[Prediction]:
    """The predictions in the order the inputs were given: ``per_file`` and ``per_array`` follow ``paths``' image
    files and ``.npy`` arrays, each in turn; a file that did not decode (None) has none."""
    files, arrays = iter(per_file), iter(per_array)
    out: list[Prediction] = []
    for p in paths:
        if _is_npy(p):
            out.extend(next(arrays))
        elif (pred := next(files)) is not None:
            out.append(pred)
    return out
