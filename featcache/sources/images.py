"""Your own photos, in class folders.

Two layouts::

    DIR/<class>/...                        one tree; --test-fraction F holds out a stratified test split
    DIR/train/<class>/... + DIR/val/<class>/...   (or DIR/test/<class>/...): split already made

Class names are the folder names, sorted. Files may sit in nested folders
under their class folder; symbolic links are followed (each real folder once,
so a link loop ends); names starting with "." (``.DS_Store``, ``._x.jpg``,
``.ipynb_checkpoints``) are not part of the data set. Files of one class folder
with the same bytes (copies, hard links, links to one file) are one photo, one
row: the shortest path, then the first in the walk's order (a second name of one
file never: ``_row_first``); the others are listed among the skipped files as
counted once (``_check_copies``).

``load`` lists the files and hashes each one's bytes, in parallel; it
decodes nothing. The split digests (the data part of a cache's fingerprint)
cover every candidate file's path, label and content, the decoder
(``DECODER``) and the size, and so also which files decode: that is decided by
the bytes and the decoder alone. Which files decode fixes the split rows
(labels, paths), so the rows stay pending until it is known
(``DataSource.settle``): extraction embeds every candidate file, decoding each
once, and learns on the way which ones fail; a cache hit reads it from the
cache's ``skipped`` list, decoding nothing; anything else asking for
``splits`` first gets a decoding pass. Files that cannot be decoded are
skipped and listed (``DataSource.skipped``), or, with ``strict``, stop the
run. Decoding runs in a thread pool (PIL releases the GIL); photos are turned
upright by their EXIF orientation tag (``decode_image``).
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import stat
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Sequence

import numpy as np

from featcache.errors import (CONTROL, FeatcacheError, carried, command_word, given, link_loop, link_loop_passed,
                              one_line, option, printable, shell_word, system_limit, warn)
from featcache.sources.base import STAGING, DataSource, Split, SplitSpec
from featcache.sources.decode import (NOT_IN_A_CLASS_FOLDER, NotRegularFile, UnreadableImage, copy_of, counts_as_unreadable,
                                      dead_link, decode_image, failure_reason, is_other_file, not_utf8, open_photo_sized, utf8_name)
from featcache.sources.threads import DaemonPool
from featcache.progress import counted, size_text
from featcache.validate import check_bool, check_fraction, check_seed, setting_path

if TYPE_CHECKING:
    from featcache.embedding.batches import Batch
    from featcache.store import StagedWriter

# Identity of the pixel pipeline before ``Preprocess`` (decode_image at the
# cache's image size); part of every split's digest, hence of the fingerprint.
# Which files decode depends only on it and the bytes, so the digest also
# decides the split rows. v2: turned upright by the EXIF orientation tag; v3: a TIFF that
# libtiff reports damaged is skipped (Pillow had decoded it as an all-black image);
# v4: any decoder error skips the file (v3 swallowed the first one inside
# exif_transpose and kept what Pillow's second load returned: all black for a
# JPEG whose data stream breaks, part of the picture for other damaged files).
# Every photo that still decodes has the same pixels as under v3 (2,420 files x
# 3 sizes, and the review's odd files: docs/benchmarks.md). v5 (an adversarial
# tester's files): never opened as EPS (Pillow ran Ghostscript on it); big-endian
# 16-bit images decode (they were skipped: "point operation not supported"), as
# their little-endian twins do; 32-bit float images (mode F) are skipped with
# their reason (0-1 values came out all black). Every other file has the same
# pixels as under v4. Still v5: a file on which Pillow raised something other than OSError, SyntaxError or
# ValueError (EOFError for a SPIDER image, NotImplementedError for some DDS files) is now skipped with its reason;
# it used to stop the extraction, so no cache holds such a file and every cache's files decode as before.
# v6 (an adversarial tester's files): 32-bit integer images (mode I from a TIFF with BitsPerSample 32, IM, FITS)
# are skipped with their reason: every mode-I value was divided by 256 as if 16-bit, so 0-255 came out all black
# and large values all white, and were embedded; so are signed 16-bit TIFFs (negative values came out black) and
# signed 8-bit ones (Pillow reads them as unsigned: -1 came out as 255).
# 16-bit PNG, PGM/PPM and TIFF have the same pixels as under v5; a cache that may hold one of the newly skipped
# files is not reused.
# v7 (an adversarial tester, helper-255): a PNG whose compressed data ends cleanly short of the rows its header
# declares is skipped ("image file is truncated"); Pillow decoded it without a word, the missing rows black. Every
# other file decodes to the same pixels as under v6; a cache that may hold such a PNG as a row is not reused.
DECODER = "featcache.decode_image:v7:pil_rgb_first_frame_exif_upright_alpha_on_white_jpeg_draft_bilinear_damaged_skipped_no_eps_float_int32_signed_png_short_data"
# What DECODER gives with Pillow 9.5, 10.4, 11.3, 12.0 and 13.0 (pyproject's floor to the newest, each in its own
# environment, 2026-12-03): decode.pixel_digest of its fixed JPEG. Where this machine's Pillow and libjpeg give
# these pixels the identity is DECODER alone, so caches keep their fingerprints; where they give others
# (Pillow-SIMD: features up to 0.12 apart), the identity names them, and a cache extracted on one is neither a
# hit nor resumed on the other.
REFERENCE_PIXELS = "fcc3ad06660f1b34f655790770df96d589e720c860222dc1f187e346c2ecc670"


@dataclass(frozen=True)
class DecoderVersion:
    """One ``DECODER`` featcache has had: its identity string (in the split digests of every photo cache it made),
    the day it came, and what it changed, in a user's words. A cache refused for its data digest alone whose digests
    are an older decoder's on these very files is said to be that (``PhotoRows.older_decoder_line``): "differs in:
    the data" sent the user looking for a changed photo where only featcache had changed."""

    version: str
    identity: str
    since: str
    change: str


# Every DECODER, oldest first, the last one this featcache's (the comment above DECODER says each change in full).
DECODERS = (
    DecoderVersion("v1", "featcache.decode_image:v1:pil_rgb_first_frame_alpha_on_white_jpeg_draft_bilinear",
                   "2026-11-26", ""),
    DecoderVersion("v2", "featcache.decode_image:v2:pil_rgb_first_frame_exif_upright_alpha_on_white_jpeg_draft_bilinear",
                   "2026-11-26", "turns photos upright by their EXIF orientation tag"),
    DecoderVersion("v3", "featcache.decode_image:v3:pil_rgb_first_frame_exif_upright_alpha_on_white_jpeg_draft_bilinear"
                   "_damaged_tiff_skipped", "2026-12-02", "skips a TIFF that libtiff reports damaged, which came out all black"),
    DecoderVersion("v4", "featcache.decode_image:v4:pil_rgb_first_frame_exif_upright_alpha_on_white_jpeg_draft_bilinear"
                   "_damaged_skipped", "2026-12-02",
                   "skips a photo the decoder reports an error on, such as a JPEG whose data breaks off, which came out all black"),
    DecoderVersion("v5", "featcache.decode_image:v5:pil_rgb_first_frame_exif_upright_alpha_on_white_jpeg_draft_bilinear"
                   "_damaged_skipped_no_eps_float", "2026-12-02",
                   "opens no photo as EPS, decodes big-endian 16-bit images and skips 32-bit float ones, which came "
                   "out all black"),
    DecoderVersion("v6", "featcache.decode_image:v6:pil_rgb_first_frame_exif_upright_alpha_on_white_jpeg_draft_bilinear"
                   "_damaged_skipped_no_eps_float_int32_signed", "2026-12-03",
                   "skips 32-bit integer and signed 8- or 16-bit images, which came out all black or all white"),
    DecoderVersion("v7", DECODER, "2026-12-06",
                   "skips a PNG whose pixel data ends short of the rows its header declares, whose missing rows "
                   "came out black"),
)


def with_pixels(identity: str) -> str:
    """A decoder's ``identity`` with this machine's pixel digest added where it is not ``REFERENCE_PIXELS``, as
    ``decoder_identity`` adds it to ``DECODER``: in this form since 2026-12-03 20:04 UTC (74cc640, under v6, which
    came at 19:15). From 19:03 (92d73e8, under v5) to 20:04 the identity named Pillow's version too
    (``:Pillow 12.1.1, pixels 7acce0f6f437a5b6``, ``other_pixels``'s words); before 19:03 it named no pixels, on any
    machine (``recorded_identities``)."""
    digest = _other_digest()
    return identity if digest is None else f"{identity}:pixels:{digest[:16]}"


# When featcache began to name the pixels a machine's Pillow decodes to, where they are not the reference (92d73e8):
# a photo cache made before carries no ``decoded_with`` in its source and its decoder's identity alone.
PIXELS_RECORDED_SINCE = "2026-12-03"


def recorded_identities(identity: str) -> list[tuple[str, bool]]:
    """Each decoder identity a cache of the decoder ``identity`` may carry in its split digests, with whether it was
    decoded to other pixels than this machine's (True: said in the line): this machine's (``with_pixels``); where this
    machine decodes to other pixels than the reference, also the form of 2026-12-03 19:03 to 20:04 UTC with this
    Pillow's version (``with_pixels``'s history), and the identity alone (True: a cache made before featcache named
    pixels, ``PIXELS_RECORDED_SINCE``, or made where Pillow gives the reference pixels)."""
    mine = with_pixels(identity)
    other = other_pixels()
    if other is None:
        return [(mine, False)]
    return [(mine, False), (f"{identity}:{other}", False), (identity, True)]


def decoder_changes(old: DecoderVersion) -> str:
    """What every decoder after ``old`` changed, for a line: ``v7, since 2026-12-06, skips a PNG whose ...``."""
    later = DECODERS[DECODERS.index(old) + 1:]
    return "; ".join(f"{d.version}, since {d.since}, {d.change}" for d in later)


def _other_digest() -> str | None:
    """This machine's ``decode.pixel_digest``, or None where it is ``REFERENCE_PIXELS`` (the one comparison)."""
    from featcache.sources.decode import pixel_digest

    digest = pixel_digest()
    return None if digest == REFERENCE_PIXELS else digest


def other_pixels() -> str | None:
    """None where this machine decodes to the reference pixels (``REFERENCE_PIXELS``), else what it decodes with:
    ``"Pillow 12.1.1.post0, pixels 7acce0f6f437a5b6"`` (the version, said for the user, and 16 hex of
    ``decode.pixel_digest``)."""
    import PIL

    digest = _other_digest()
    return None if digest is None else f"Pillow {PIL.__version__}, pixels {digest[:16]}"


def decoder_identity() -> str:
    """``DECODER``, with this machine's pixel digest added where it is not ``REFERENCE_PIXELS``: the pixels alone,
    not Pillow's version, so two versions that decode alike keep one identity (a review: a version bump on a
    non-reference machine missed every cache)."""
    return with_pixels(DECODER)


SPLIT_FOLDERS = ("train", "val", "test")
TEST_FOLDERS = ("val", "test")
# A photo is never this big; reading such a file whole to hash it would only waste memory. Not validate.MAX_FILE_BYTES
# (a head's or model's bound, 4 GiB): named apart since both were MAX_FILE_BYTES (a review, helper-304).
MAX_PHOTO_BYTES = 512 * 1024 * 1024
SCAN_CHUNK = 64  # files handed to the hashing or decoding threads at a time
# Off a terminal a scan's bar writes nothing but its last line in its first second: hashing hymenoptera's 398
# photos (0.2 s on 2 cores) wrote 7 lines (a new-user tester); a scan of thousands still shows a line a tenth.
SCAN_QUIET_SECONDS = 1.0
LAYOUT_HINT = "put each class's images in its own folder, DIR/<class>/*.jpg, or split them as DIR/train/<class>/ and DIR/val/<class>/"

_POOL: DaemonPool | None = None
# Held while the pool is made: two threads that met there (two extractions in a notebook's threads) each made one,
# and the one dropped kept its daemon threads for the process's life (a review).
_POOL_LOCK = threading.Lock()


def _pool() -> DaemonPool:
    """Threads shared by hashing and decoding (hashlib and PIL release the GIL): daemon threads, so that one stuck in
    a read never holds the exit of a program that gave up on it (``threads.DaemonPool``); made anew in a forked
    child, which has none of its parent's threads. One pool for the process: made under ``_POOL_LOCK``, looked at
    again there (the lock is taken only while there is none)."""
    global _POOL
    pool = _POOL
    if pool is not None and pool.pid == os.getpid():
        return pool
    with _POOL_LOCK:
        if _POOL is None or _POOL.pid != os.getpid():
            _POOL = DaemonPool(min(8, os.cpu_count() or 1), "featcache-decode")
        return _POOL


def _new_pool_lock() -> None:
    """A forked child's own lock: the copy it inherits may be held by a parent thread that does not exist in it."""
    global _POOL_LOCK
    _POOL_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_pool_lock)


def _map(fn: Callable[[Any], Any], items: Any) -> Any:
    """``_pool().map`` of ``fn`` in the caller's words (``errors.carried``): a command's decoding threads said
    keywords to its user once the words became a context variable, which a new thread does not inherit."""
    return _pool().map(carried(fn), items)


@dataclass
class _File:
    rel: str  # path relative to the data set root, '/'-separated
    label: int
    folder: str  # the split folder it came from ('' for a single tree)
    digest: str = ""
    problem: str | None = None  # why it cannot be used; None when readable
    order: int = 0  # its place in the walk (``_Walker``: its class folder's own files, then what links lead to)
    copy_of: str | None = None  # the file of its class folder with its bytes that is the photo's row (``_check_copies``)
    again: bool = False  # a second name of a file listed already in its class folder (a hard link, a link to it)


def _check_root(root: Path) -> None:
    """The photos' folder exists and is a folder: the one line of PhotoFolder(...) and of its open()."""
    if not root.is_dir():
        # is_dir() and exists() say False of a link loop too, which read "not found" since PhotoFolder checks its
        # root when made (f920ad4; tests/test_cli_faults.py's loop case): said as a loop, for the API's caller too
        try:
            root.stat()
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise FeatcacheError(link_loop(root)) from None
        what = "is not a directory" if root.exists() else "not found"
        # In the caller's words (errors.option): PhotoFolder("/nope") said "pass --images DIR", the CLI's (a reviewer, R11)
        raise FeatcacheError(f"image directory {what}: {root}; check the folder given to "
                             f"{option('--images DIR', 'PhotoFolder(root)')}, where you {LAYOUT_HINT}")


# PhotoFolder's options in its messages, in the caller's words (errors.option): it is made by Python callers and by
# extract's flags alike. Its messages named only the flags (an adversarial tester), then both forms in one line, the
# API's words in the CLI's ("pass test_fraction=F / --test-fraction F"; a new-user tester).
def _fraction() -> str:
    return option("--test-fraction", "test_fraction")


def _seed() -> str:
    return option("--seed", "seed")


def _add_fraction() -> str:
    return option("--test-fraction F", "test_fraction=F")



# The seed of a --test-fraction split where none is given (and what a spec without one records): extract's --help
# quotes it.
SPLIT_SEED = 0


@dataclass(frozen=True)
class PhotoFolder:
    """Your photos in class folders under ``root`` (see the module docstring for the two layouts).

    ``test_fraction`` (0 < F < 1) splits a single tree into train and test,
    stratified by class and seeded by ``seed`` (only with ``test_fraction``; default 0). ``test_folder`` ("val" or
    "test") picks the test folder of a split tree that has both (and is
    recorded in the source spec either way). ``strict``: stop at any
    unreadable file instead of skipping and listing it.
    """

    root: str | Path
    test_fraction: float | None = None
    seed: int | None = None  # None: not chosen (SPLIT_SEED with a test_fraction; recorded as it either way)
    strict: bool = False
    test_folder: str | None = None

    # Photos have no size of their own: the backbone's is used unless the model spec names one.
    default_image_size: ClassVar[int | None] = None
    # How extract's flat options (its CLI flags) make one (``embedding.specs.from_options``): chosen by --images;
    # option -> field.
    kind: ClassVar[str] = "images"
    title: ClassVar[str] = "class-folder photos"
    selector: ClassVar[str | None] = "images"
    metavar: ClassVar[str] = "DIR"  # its selector's value in messages, as extract's --help writes it
    options: ClassVar[dict[str, str]] = {"images": "root", "test_fraction": "test_fraction", "seed": "seed", "strict": "strict"}
    # what to do where one of its options comes alone: (a command's words, a Python call's; FashionMNIST.elsewhere)
    elsewhere: ClassVar[dict[str, str | tuple[str, str]]] = {"": ("add --images DIR", "add images=DIR")}

    def __post_init__(self):
        object.__setattr__(self, "root", setting_path(self.root, "--images", "a folder path", "root",
                                                      f"pass {option('--images DIR', 'PhotoFolder(root)')} where you {LAYOUT_HINT}"))
        if self.test_fraction is not None:
            object.__setattr__(self, "test_fraction", check_fraction(self.test_fraction, "--test-fraction"))
        if self.seed is not None:
            object.__setattr__(self, "seed", check_seed(self.seed, "--seed"))
        if self.seed is not None and self.test_fraction is None:
            # Refused, not noted: a seed that changes nothing would still look like a choice made and, in the source
            # spec, give another cache name for the same features. Checked here, so the API refuses what the CLI
            # does (PhotoFolder(root, seed=5) was accepted; an adversarial tester).
            raise FeatcacheError(f"{_seed()} picks the held-out test images only with {_fraction()}; a folder split into "
                                 f"train/ and val/ (or test/) keeps its own split: drop {_seed()} (or add {_add_fraction()} "
                                 "for one tree of class folders)")
        if self.seed is None and self.test_fraction is not None:
            object.__setattr__(self, "seed", SPLIT_SEED)
        object.__setattr__(self, "strict", check_bool(self.strict, "strict"))
        if self.test_folder is not None and self.test_folder not in TEST_FOLDERS:
            raise FeatcacheError(f"test_folder must be one of {', '.join(TEST_FOLDERS)} (got {self.test_folder!r})")
        # Last, so a bad option is named as such: PhotoFolder("/nope") was accepted and refused only at extract, where
        # docs/api.md says the settings check themselves when made (a new-user tester). open() checks again: the
        # folder may go in between.
        _check_root(Path(self.root))
        # and its layout, from one listing of the root: PhotoFolder('photos', test_fraction=0.2) on a folder split into
        # train/ and val/ was accepted here and refused only at extract (an adversarial tester)
        _layout(Path(self.root), self.test_fraction, self.test_folder)

    @classmethod
    def from_spec(cls, **spec: Any) -> "PhotoFolder":
        """The source a cache's stored spec describes. The spec records a seed without a test fraction too (0; any
        other from an API call before that was refused), where it picks nothing: it is dropped."""
        if spec.get("test_fraction") is None:
            spec.pop("seed", None)
        return cls(**spec)

    def open(self, image_size: int, verbose: bool = False) -> DataSource:
        """The photos, to be decoded at ``image_size`` x ``image_size`` RGB.

        Only lists and hashes the files: the rows are settled later (see the
        module docstring), and errors that need decoding (``strict``, a class
        without a readable photo) come then.
        """
        root = Path(self.root)
        _check_root(root)
        if isinstance(image_size, bool) or int(image_size) < 1:
            raise FeatcacheError(f"{option('--image-size')} must be positive (got {image_size})")
        image_size = int(image_size)
        folders, test_folder = _layout(root, self.test_fraction, self.test_folder)
        class_names, class_dirs, loose = _classes(root, folders)
        files = _list_files(root, class_names, class_dirs)
        _hash(root, files, verbose)
        _check_copies(root, files, image_size, test_folder)  # copies in a class: one row (_count_once)
        seed = SPLIT_SEED if self.seed is None else self.seed  # as recorded since featcache 0.1: the spec is part of the cache's identity
        spec = {"kind": "images", "root": str(root.resolve()), "image_size": image_size, "test_fraction": self.test_fraction,
                "seed": seed, "strict": self.strict, "test_folder": test_folder}
        decoded_with = other_pixels()
        if decoded_with is not None:  # only then: the specs of caches decoded to the reference pixels stay as they were
            spec["decoded_with"] = decoded_with
        rows = PhotoRows(root, image_size, files, class_names, class_dirs, loose, self.test_fraction, seed, self.strict,
                         test_folder, verbose)
        rows.arrange({})  # what is wrong even if every candidate decodes fails now, before any decoding
        return DataSource(
            name=_safe_name(root.resolve().name),
            class_names=class_names,
            spec=spec,
            default_image_size=image_size,  # the size the files are decoded at
            digest=rows.digest(),
            pending=rows,
        )


def load(
    root: str | Path,
    image_size: int,
    test_fraction: float | None = None,
    seed: int | None = None,
    strict: bool = False,
    test_folder: str | None = None,
    verbose: bool = False,
) -> DataSource:
    """``PhotoFolder(root, ...).open(image_size)``: photos under ``root`` in class folders, decoded to ``image_size`` px."""
    return PhotoFolder(root, test_fraction, seed, strict, test_folder).open(image_size, verbose)


def _refuse_split_folders_in_other_case(root: Path, subdirs: set[str]) -> None:
    """Refuse a root whose folders are all split names, one of them train, in another letter case (Kaggle's Train/
    and Test/). Split folders are read by their lower-case names only, so such a tree was one tree of two classes,
    'Train' and 'Test', each holding every real class; the one-tree line's advice (--test-fraction) led there, and
    extract trained a classifier of the split folders without a word (an adversarial tester, 2026-12-07). A class
    folder named Train among others (a bus, a car, a train) is not matched: every folder must be a split's name."""
    lowered = {d: d.lower() for d in subdirs}
    cased = sorted(d for d, low in lowered.items() if low != d and low in SPLIT_FOLDERS)
    if not cased or "train" not in lowered.values() or not all(low in SPLIT_FOLDERS for low in lowered.values()):
        return
    names = ", ".join(f"{d}/" for d in sorted(subdirs))
    # Train/ beside train/ (or TRAIN/): a rename onto a folder that is there fails, so the fix is to move the photos
    # into the lower-case one (an adversarial tester, h320: "rename Train/ to train/" with train/ beside it)
    renames, moves = [], []
    for low in sorted({lowered[d] for d in cased}):
        spelled = sorted(d for d in cased if lowered[d] == low)
        if len(spelled) == 1 and low not in subdirs:
            renames.append(f"{spelled[0]}/ to {low}/")
        else:
            moves.append(f"move the photos in {' and '.join(f'{d}/' for d in spelled)} into {low}/")
    fixes = ([f"rename {', '.join(renames)}"] if renames else []) + moves
    read = (f"these would be read as classes named {', '.join(sorted(subdirs))}" if "train" not in subdirs
            else f"{' and '.join(f'{d}/' for d in cased)} would be read as no split")
    raise FeatcacheError(f"{root} holds {names}: split folders are read only by their lower-case names, train/, val/ "
                         f"and test/, so {read}; {', '.join(fixes)}")


def _layout(root: Path, test_fraction: float | None, test_folder: str | None) -> tuple[list[str], str | None]:
    """The split folders to read ('' = the root is one tree) and which one is the test split."""
    subdirs = {e.name for e in _entries(root) if e.is_dir()}
    _refuse_split_folders_in_other_case(root, subdirs)
    split_dirs = subdirs & set(SPLIT_FOLDERS)
    if "train" not in subdirs:
        if test_folder is not None:
            raise FeatcacheError(f"{root} has no train/ folder although this cache was made from {root}/train and {root}/{test_folder}; "
                                 "restore that layout")
        if test_fraction is None:
            if split_dirs:
                raise FeatcacheError(f"{root} has {'/, '.join(sorted(split_dirs))}/ but no train/ folder; add DIR/train/<class>/ "
                                     f"or, for one tree of class folders, pass {_add_fraction()}")
            if subdirs:
                raise FeatcacheError(f"{root} is one tree of class folders without a test split; pass {_add_fraction()} "
                                     "(e.g. 0.2) to hold out a stratified test split, or split it as DIR/train/ and DIR/val/")
        return [""], None
    others = subdirs - set(SPLIT_FOLDERS)
    if others:
        raise FeatcacheError(f"{root} mixes a train/ folder with other folders ({', '.join(sorted(others))}); "
                             f"{LAYOUT_HINT}")
    tests = [t for t in TEST_FOLDERS if t in subdirs]
    if test_fraction is not None:
        if tests:
            raise FeatcacheError(f"{root} is already split into train/ and {tests[0]}/; drop {_fraction()}")
        return ["train"], None
    if test_folder is not None:
        if test_folder not in tests:
            raise FeatcacheError(f"{root} has no {test_folder}/ folder; the cache was made with {root}/{test_folder} as its test split")
        return ["train", test_folder], test_folder
    if not tests:
        raise FeatcacheError(f"{root} has a train/ folder but no val/ or test/ folder; add one, or pass {_add_fraction()} "
                             "to hold out part of train/")
    if len(tests) > 1:
        raise FeatcacheError(f"{root} has both val/ and test/; featcache makes one test split: move one of them aside "
                             "(or pass test_folder='val' or 'test' in the Python API)")
    return ["train", tests[0]], tests[0]


def check_outside_classes(path: str | Path, root: str | Path, flag: str, why: str, shown: str | Path | None = None,
                          root_words: str = "--images") -> None:
    """Refuse a file ``path`` featcache would write inside a class folder of the photo folder ``root`` (or in a new
    folder there, which would read as a class): the next extraction would take it as an image of that class.
    Files at the top of ``root``, or of its train/val/test folders, are of no class, so they are allowed."""
    root, where = Path(root).resolve(), Path(path).resolve()
    parts = _parts_below(where, root)
    if not parts:  # outside, or the folder itself (its top: no class; parts[0] was an IndexError, a tester)
        return
    # Files at the top of the folder (or of its train/val/test folders) are not images of any class: a cache
    # there was always fine, and a re-run a cache hit (a review). Inside a class folder, or a new folder that
    # would read as a class, it is part of the data; a hidden folder is not read at all (_entries).
    if len(parts) == 1 or (len(parts) == 2 and parts[0] in SPLIT_FOLDERS and (root / parts[0]).is_dir()):
        return
    if any(p.startswith(".") for p in parts[:-1]):
        return
    where_words = "inside a class folder" if (root / parts[0]).is_dir() else "a new folder that would read as a class"
    home = _home_inside(where, root)
    if home is not None:
        # the variable put it there: the line named an --out the user never gave (an adversarial tester)
        raise FeatcacheError(f"FEATCACHE_HOME is {home}, inside {root_words} {root}: what featcache writes under it "
                             f"would be read as images of a class ({why}); set FEATCACHE_HOME to a folder outside "
                             f"{root}, or pass {flag} outside it")
    raise FeatcacheError(f"{flag} {path if shown is None else shown} is {where_words} of {root_words} {root}: "
                         f"{why}; put it outside {root} (or, for a file, at its top)")


def _home_inside(where: Path, root: Path) -> Path | None:
    """FEATCACHE_HOME, where it is set, is inside ``root`` and holds ``where`` (a default output went there), else None."""
    from featcache import paths

    if not paths.home_given():
        return None
    home = paths.home().resolve()
    return home if (home == where or home in where.parents) and _parts_below(home, root) else None


def _parts_below(where: Path, root: Path) -> tuple[str, ...] | None:
    """``where``'s path below ``root`` as parts, reached by its path or through another mount of a folder of it (a
    bind mount of a class folder put a cache in the class, and every re-run then found the data changed; then one of
    a folder inside a class got round a check of the class folders' inodes; an adversarial tester); None where it is
    outside. Both paths are compared as their file system's own paths (/proc/self/mountinfo), at any depth."""
    if root == where or root in where.parents:
        return where.relative_to(root).parts
    mounts = _mounts()
    (dev_w, in_w), (dev_r, in_r) = _fs_path(where, mounts), _fs_path(root, mounts)
    if dev_w is not None and dev_w == dev_r and (in_r == in_w or in_r in in_w.parents):
        return in_w.relative_to(in_r).parts
    return _parts_by_inode(where, root)  # where the mount table cannot tell: no /proc, a case-insensitive disk (a review)


def _parts_by_inode(where: Path, root: Path) -> tuple[str, ...] | None:
    """``where``'s parts below ``root`` where one of its folders is, by device and inode, ``root`` or a folder of it
    two levels down (a class, a split's class); None otherwise."""
    def folder_id(folder: Path) -> tuple[int, int] | None:
        try:
            st = os.stat(folder)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def subfolders(folder: Path) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))
        except OSError:
            return []

    folders = [(root, ())] + [(root / a, (a,)) for a in subfolders(root)] + [
        (root / a / b, (a, b)) for a in subfolders(root) if a in SPLIT_FOLDERS for b in subfolders(root / a)]
    known = {folder_id(folder): parts for folder, parts in folders}
    known.pop(None, None)
    for above in where.parents:
        if (found := known.get(folder_id(above))) is not None:
            return found + where.relative_to(above).parts
    return None


def _mounts() -> list[tuple[PurePosixPath, PurePosixPath, str]]:
    """``(mount point, the folder of its file system mounted there, device)`` of every mount (/proc/self/mountinfo),
    longest mount point first, the last mounted first among mounts on one point; [] where /proc cannot tell."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    unescape = lambda text: re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), text)  # noqa: E731 (\040: a space)
    mounts = [(PurePosixPath(unescape(f[4])), PurePosixPath(unescape(f[3])), f[2])
              for f in (line.split() for line in reversed(lines)) if len(f) >= 5]
    return sorted(mounts, key=lambda m: len(m[0].parts), reverse=True)  # stable: the last mounted first on a tie


def _fs_path(path: Path, mounts: list[tuple[PurePosixPath, PurePosixPath, str]]) -> tuple[str | None, PurePosixPath]:
    """``(device, path within that file system)`` of a resolved ``path``; (None, path) where no mount holds it."""
    for point, folder, device in mounts:
        if point == PurePosixPath(path) or point in PurePosixPath(path).parents:
            return device, folder / PurePosixPath(path).relative_to(point)
    return None, PurePosixPath(path)


def no_photo_error(folder: str | Path, name: str, why: str) -> FeatcacheError:
    """The one line of a class folder with no photo to use, extract's and 'featcache evaluate MODEL FOLDER''s alike;
    ``why`` says what the folder holds instead (``_no_images``, links not followed, ``none_decodes``). Three wordings
    said it ("class 'b' has no readable images in ...", "holds no photo that decodes", "is empty; add images of"; a
    review)."""
    return FeatcacheError(one_line(f"class folder {folder} has no photo to use: {why}; add photos of {name!r} to it "
                                   "or remove it"))


def none_decodes(files: Sequence[tuple[str, str]], limit: int = 5) -> str:
    """``no_photo_error``'s ``why`` where a class folder's every file failed: each ``(path as the command shows it,
    why)``, the first ``limit`` of them."""
    return f"none of its files could be read as a photo ({_listed(files, limit)})"


def _listed(files: Sequence[tuple[str, str]], limit: int) -> str:
    """``a.jpg: why; b.png: why; and 3 more``: the first ``limit`` of ``(path as shown, why)`` pairs."""
    return "; ".join(f"{path}: {why}" for path, why in files[:limit]) + (
        f"; and {len(files) - limit} more" if len(files) > limit else "")


def _no_images(folder: Path) -> str:
    """'it is empty', or where the folder holds hidden files only (a Mac's .DS_Store), that they are not read: "empty"
    of a folder that 'ls -a' shows files in left the user wondering (an adversarial tester)."""
    try:
        with os.scandir(folder) as it:
            hidden = sorted(e.name for e in it if e.name.startswith("."))
    except OSError:
        hidden = []
    if not hidden:
        return "it is empty"
    return f"it holds only hidden files ({', '.join(hidden[:2])}{', ...' if len(hidden) > 2 else ''}), which are not read"


def _entries(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            return sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as exc:
        raise FeatcacheError(f"cannot list {folder} ({exc.strerror}); check its permissions") from None


def _classes(root: Path, folders: list[str], hint: str = LAYOUT_HINT,
             min_classes: int = 2) -> tuple[list[str], dict[str, dict[str, Path]], list[str]]:
    """Sorted class names, each split folder's class directories, and files lying outside any class folder.
    ``hint``: what to do when there are no class folders; ``min_classes``: 2 to train a classifier, 1 to score one
    (evaluate: a folder may hold some of a model's classes)."""
    per_folder: dict[str, dict[str, Path]] = {}
    loose: list[str] = []
    if folders != [""]:  # files beside train/ and val/
        loose += [_rel(Path(e.path), root) for e in _entries(root) if not e.is_dir() and not _broken_folder_link(e, "split")]
    for folder in folders:
        base = root / folder if folder else root
        dirs: dict[str, Path] = {}
        for e in _entries(base):
            if e.is_dir():
                if not utf8_name(e.name):  # the name as a shell word ($'b\xe9es'), as other messages write such bytes:
                    # its repr was Python's 'b\udce9es', which names no byte of the folder (a tester)
                    raise FeatcacheError(not_utf8(e.name, f"class folder name {shell_word(e.name)} in {printable(str(base))}"))
                if CONTROL.search(e.name):  # a class name is printed by info, evaluate and predict: "be\nes" split each line
                    raise _control_error(base, e.name)
                # One spelling for names that differ only in Unicode normalization (macOS writes NFD), so
                # train/ and val/ written on different systems still match; two such folders side by side
                # would be one key, and one folder's images would vanish.
                key = unicodedata.normalize("NFC", e.name)
                if key in dirs:
                    raise _same_name_error(base, dirs[key].name, e.name)
                dirs[key] = Path(e.path)
            elif not _broken_folder_link(e, "class"):
                loose.append(_rel(Path(e.path), root))
        where = f"{base}" + (" (the train/ folder)" if folder == "train" else "")
        if not dirs:
            raise FeatcacheError(f"{where} has no class folders; {hint}")
        per_folder[folder] = dirs
    names = sorted(per_folder[folders[0]])
    for folder in folders[1:]:
        if sorted(per_folder[folder]) != names:
            a, b = set(names), set(per_folder[folder])
            diff = "; ".join(x for x in (
                f"only in {folders[0]}/: {', '.join(sorted(a - b))}" if a - b else "",
                f"only in {folder}/: {', '.join(sorted(b - a))}" if b - a else "",
            ) if x)
            raise FeatcacheError(f"{folders[0]}/ and {folder}/ under {root} hold different class folders ({diff}); "
                                 "give both splits the same classes")
    if len(names) < min_classes:
        raise FeatcacheError(f"{root} has a single class ({names[0]!r}); a classifier needs at least two class folders")
    return names, per_folder, loose


def _broken_folder_link(entry: os.DirEntry, kind: str) -> bool:
    """False for an entry that is not a link leading nowhere; such a link where ``kind`` folders lie is refused.

    A class-folder link to an unmounted drive or a moved folder was listed as a skipped file "not inside a class
    folder", and its whole class left out, --strict or not: a 3-class job ran as 2 (an adversarial tester). A missing
    class is no skippable file, so it is one line naming the link, whatever it was meant to lead to."""
    if not entry.is_symlink() or os.path.exists(entry.path):
        return False
    try:
        target = os.readlink(entry.path)
    except OSError:
        target = "?"
    raise FeatcacheError(one_line(f"{entry.path} is a symbolic link to nothing ({target}: missing, not mounted, or a loop "
                                  f"of links) where {kind} folders lie, so its {kind} would be left out; mount or restore "
                                  f"{target}, point the link at the {kind} folder, or remove it"))


def _control_error(base: Path, name: str) -> FeatcacheError:
    """A class folder whose name holds a control character (``errors.CONTROL``: a newline, a carriage return, a tab,
    a terminal escape, ...), refused before any file is hashed (an adversarial tester's "be\\nes" was accepted and
    split the lines of info, evaluate's table, confusion matrix and misclassified images, and predict). Shown escaped."""
    chars = ", ".join(dict.fromkeys(one_line(c) for c in CONTROL.findall(name)))
    return FeatcacheError(f"class folder {name!r} in {base} has a control character in its name ({chars}): the class "
                          "name is printed in every report and would break its lines; rename the folder")


def _same_name_error(base: Path, first: str, second: str) -> FeatcacheError:
    """Two class folders whose names differ only in Unicode normalization (shown escaped: printed, they look alike)."""
    return FeatcacheError(f"class folders {ascii(first)} and {ascii(second)} in {base} are one name, {first!r}, in two "
                          "Unicode spellings (NFC and NFD) and would be read as one class; rename one of them or merge them")


def _list_files(root: Path, class_names: list[str], class_dirs: dict[str, dict[str, Path]]) -> list[_File]:
    """Every visible file of every class folder, sorted; each real folder once, whatever the links, and each real
    file once but for a second name of it in its own class folder (a hard link, a link), which ``_check_copies``
    counts once as it counts a copy of its bytes.

    What lies in a class folder (not through a link) belongs to that class,
    so every class folder is walked first; links are followed afterwards,
    and count under their class only for files and folders not seen yet
    that are neither inside nor above the data set's own folders: a link
    back up (``ln -s .. train/ants/up``) once labelled every bee an ant.
    """
    # every split's class folders at once: val/ants linked to train/ants was "empty" (an adversarial tester)
    _check_distinct_classes({(folder, name): d for folder, dirs in class_dirs.items() for name, d in dirs.items()})
    walker = _Walker(containers=[root, *(root / f for f in class_dirs if f)],
                     class_dirs=[d for dirs in class_dirs.values() for d in dirs.values()])
    found = {}
    for folder, dirs in class_dirs.items():
        for label, name in enumerate(class_names):
            walker.owner = dirs[name]
            found[folder, label] = walker.physical(dirs[name])
    files: list[_File] = []
    for folder, dirs in class_dirs.items():
        for label, name in enumerate(class_names):
            in_place, links = found[folder, label]
            walker.owner = dirs[name]
            entries = in_place + walker.follow(links)
            if not entries and links:  # links into another class's folder are not followed: "empty" misled (a tester)
                raise no_photo_error(dirs[name], name, "it holds only links into the data set's folders or to files "
                                     f"read already ({links[0]}, ...), which are not followed")
            if not entries:
                raise no_photo_error(dirs[name], name, _no_images(dirs[name]))
            files.extend(_File(_rel(p, root), label, folder, problem=problem, order=len(files) + i, again=p in walker.again)
                         for i, (p, problem) in enumerate(entries))
    return sorted(files, key=lambda f: f.rel)


def _check_distinct_classes(dirs: dict[Any, Path]) -> None:
    """Two class folders that are one folder (one a link to the other) are refused by name: the first walked took
    the images, and the other was called empty, "add images of 'wasps' to it", of a folder of 8 (an adversarial
    tester)."""
    seen: dict[tuple[int, int], str] = {}
    for name, folder in dirs.items():
        try:
            st = os.stat(folder)
        except OSError:
            continue  # what cannot be read is named by the walk
        key = (st.st_dev, st.st_ino)
        if key in seen and st.st_ino:
            first = seen[key]
            link = folder if folder.is_symlink() else dirs[first] if dirs[first].is_symlink() else None
            if link is not None:
                raise FeatcacheError(f"class folders {dirs[first]} and {folder} are one folder ({link} is a link to "
                                     f"{os.path.realpath(link)}): two classes cannot share images; remove the link, or "
                                     "make it a folder of its own")
            raise FeatcacheError(f"class folders {dirs[first]} and {folder} are one folder (mounted twice): two classes "
                                 "cannot share images; unmount one, or give it images of its own")  # (a tester)
        seen[key] = name


class _Walker:
    """Lists files under folders, each real folder (device, inode) once across the whole walk, and each real file
    once but for its other names in the class folder that holds it (``_first``)."""

    def __init__(self, containers: list[Path], class_dirs: list[Path]):
        self.dirs: set[tuple[int, int]] = set()
        self.files: dict[tuple[int, int], tuple[Path, Path | None]] = {}  # -> (first path, its class folder)
        self.owner: Path | None = None  # the class folder being walked: a hard link into another class is refused
        self.again: set[Path] = set()  # second names of a file in its own class folder (``_File.again``)
        # A link into or above these would reach the data set's own images (another class's, or a loop).
        self.protected = [os.path.realpath(p) for p in [*containers, *class_dirs]]
        self.class_dirs = [(d, os.path.realpath(d)) for d in class_dirs]

    def physical(self, folder: Path) -> tuple[list[tuple[Path, str | None]], list[Path]]:
        """(path, problem) of the files in ``folder`` and its sub-folders, not through links; and the links met.

        A loop over a stack of folders' entries, not a call per level: a photo folder nested 1,000 levels deep was a
        RecursionError traceback (an adversarial tester). The order is the recursive walk's (depth first, by name)."""
        files: list[tuple[Path, str | None]] = []
        links: list[Path] = []
        stack = [iter(self._unseen_entries(folder))]
        while stack:
            e = next(stack[-1], None)
            if e is None:
                stack.pop()
                continue
            path = Path(e.path)
            try:
                if e.is_symlink():
                    links.append(path)
                elif e.is_dir(follow_symlinks=False):
                    stack.append(iter(self._unseen_entries(path)))
                elif e.is_file(follow_symlinks=False):
                    st = e.stat(follow_symlinks=False)
                    if self._first(st, path) or st.st_nlink == 1:  # a hard link to a file already listed: once
                        files.append((path, None))
                else:
                    files.append((path, "not a regular file"))
            except OSError as exc:
                files.append((path, f"cannot read ({exc.strerror})"))
        return files, links

    def _unseen_entries(self, folder: Path) -> list[os.DirEntry]:
        """``folder``'s entries (``_entries``), or none where it was walked before or cannot be looked at; marks it walked."""
        try:
            st = os.stat(folder)
        except OSError:
            return []
        if (st.st_dev, st.st_ino) in self.dirs:
            return []
        self.dirs.add((st.st_dev, st.st_ino))
        return _entries(folder)

    def follow(self, links: list[Path]) -> list[tuple[Path, str | None]]:
        """(path, problem) of what ``links`` lead to that was not seen yet (the links inside it followed too)."""
        out: list[tuple[Path, str | None]] = []
        for link in links:
            try:
                st = os.stat(link)
            except OSError as exc:  # dangling, or a loop of links: said which
                out.append((link, dead_link(exc)))
                continue
            if stat.S_ISREG(st.st_mode):
                if self._first(st, link, link=True):
                    out.append((link, None))
            elif stat.S_ISDIR(st.st_mode):
                real = os.path.realpath(link)
                self._check_not_another_class(link, real)
                if (st.st_dev, st.st_ino) not in self.dirs and not any(_within(p, real) or _within(real, p) for p in self.protected):
                    files, more = self.physical(link)
                    out += files + self.follow(more)
                elif _within(os.path.realpath(link.parent), real):  # a loop: passed over by rule, now said
                    warn(one_line(link_loop_passed(link, real)), LinkLoopPassedOver)
            else:
                out.append((link, "not a regular file"))
        return out

    def _check_not_another_class(self, link: Path, real: str) -> None:
        """A folder ``link`` in the class folder being walked that leads into another class folder, or above one, is
        refused as a file link there is (``_first``): ``ants/more -> ../bees`` was passed over without a word where
        the ants had images of their own (a session's note). A link to its own class folder or above it (``up ->
        ..``, a loop) is still passed over, and one into its own class or outside the data set still read."""
        own = os.path.realpath(self.owner) if self.owner is not None else None
        if own is None or _within(own, real):
            return
        for folder, folder_real in self.class_dirs:
            if folder_real != own and (_within(real, folder_real) or _within(folder_real, real)):
                where = ("" if real == folder_real else f"{real}, inside " if _within(real, folder_real)
                         else f"{real}, above ")
                what, why = (("another class", "an image cannot be of two classes") if folder.name != self.owner.name
                             else ("another split", "an image cannot be in two splits"))
                raise FeatcacheError(one_line(f"{link} is a symbolic link to {where}the class folder {folder} of "
                                              f"{what}: {why}; remove the link"))

    def _first(self, st: os.stat_result, path: Path, link: bool = False) -> bool:
        """Records the file; whether to list it: a file seen before is listed again only in the class folder that
        holds it already. A file that is also in another class folder under a second name is refused, a hard link
        (``cp -al``: it was left out of the second class without a word, and a class of such files was called empty;
        an adversarial tester) or a symbolic ``link`` to it (``ln -s ../bees/X.jpg ants/``: dropped, in neither the
        cache nor the skipped files; an adversarial tester). One in its own class folder twice is listed twice, and
        ``_check_copies`` counts it once, as it counts byte-identical copies: it was left out without a word while
        a copy of the bytes was a row of its own (a session's brief, 2026-12-06)."""
        key = (st.st_dev, st.st_ino)
        if key in self.files and st.st_ino:
            first, owner = self.files[key]
            if owner is not None and self.owner is not None and owner != self.owner:
                how = f"one file ({path} is a symbolic link to {os.path.realpath(path)})" if link else "one file (hard links)"
                if owner.name != self.owner.name:
                    raise _two_classes([first, path], how)
                # one class in two split folders (val/ants/x linked to train/ants/x) is a test image trained on
                raise FeatcacheError(one_line(f"{first} and {path} are {how} in the class folders of {owner.name!r} of "
                                              "two splits; an image cannot be in both: remove one of them"))
            again = owner is not None and owner == self.owner  # its own class again: a copy, counted once
            if again:
                self.again.add(path)
            return again
        self.files[key] = (path, self.owner)
        return True


def _two_classes(paths: Sequence[Path], how: str, more: str = "") -> FeatcacheError:
    """The refusal of one image in two or more class folders (``paths``, one per class), ``how`` it is one (links to
    one file, or byte-identical copies): the whole group on the one line, named two at a time a fix led to the next
    (a review); ``more`` says how many copies there are where a class holds several. One wording for two and more."""
    named = ", ".join(map(str, paths[:-1])) + f" and {paths[-1]}"
    folders = "two" if len(paths) == 2 else str(len(paths))
    return FeatcacheError(one_line(f"{named} are {how} in {folders} class folders{more}; an image is of one class: "
                                   "keep one of them"))


class CopiesInBothSplitsWarning(UserWarning):
    """Byte-identical copies of a photo in both ``train/`` and the test folder: test scores count them as unseen."""


def _check_copies(root: Path, files: list[_File], image_size: int, test_folder: str | None) -> None:
    """Byte-identical photos (by the digests the fingerprint took: a folder without copies reads nothing more) in two
    classes are refused as links to one file are (``_Walker._first``), and copies in both ``train/`` and
    ``test_folder`` of a given split are said (``CopiesInBothSplitsWarning``): they went unmentioned, and evaluate
    blamed the head (a new-user tester). Copies in one class folder are one photo (``_count_once``). A group of
    copies counts only if one of them decodes (copies decode alike, so one is decoded): two empty ``x.jpg`` or one
    ``notes.txt`` in every class are skipped as before."""
    groups: dict[str, list[_File]] = {}
    for f in files:
        if not f.problem:
            groups.setdefault(f.digest, []).append(f)
    copies = [g for g in groups.values() if len(g) > 1 and _decodes(root, g[0], image_size)]
    for g in copies:
        by_class: dict[int, _File] = {}
        for f in g:
            by_class.setdefault(f.label, f)  # the first file of each class, in the group's (path) order
        firsts = list(by_class.values())
        if len(firsts) > 1:
            more = f" ({len(g)} copies in all)" if len(g) > len(firsts) else ""
            raise _two_classes([root / f.rel for f in firsts], "one image (byte-identical copies)", more)
    for g in copies:
        _count_once(g)
    both = [g for g in copies if test_folder is not None and {"train", test_folder} <= {f.folder for f in g}]
    if both:
        n = sum(f.folder == test_folder and f.copy_of is None for g in both for f in g)  # photos, copies once
        pair = [next(f.rel for f in both[0] if f.folder == folder and f.copy_of is None) for folder in (test_folder, "train")]
        # the number agrees throughout: "1 photo ... count it as an unseen image" (it said "it as unseen images")
        what, them = ("is a copy of a photo", "it as an unseen image") if n == 1 else ("are copies of photos",
                                                                                   "them as unseen images")
        warn(one_line(f"{counted(n, 'photo')} in {test_folder}/ {what} in train/ (the same bytes; first {pair[0]} of "
                      f"{pair[1]}): test scores count {them}; remove the copies from one of the two "
                      "folders"), CopiesInBothSplitsWarning)


def _count_once(group: list[_File]) -> None:
    """Byte-identical files (``group``, one class) as one photo per class folder: the shortest path, then the first in
    the walk's order (``_row_first``: a hard link's first name, as the walk read it once) is the row; the others are no rows, each
    skipped with the reason naming it (``decode.copy_of``). As rows of their own, copies were kept on one side of a
    ``--test-fraction`` split but fell on both sides of the splits made inside the training rows (the Keras head's
    validation cut, probe's folds, curve's subsets): scores there counted a photo trained on as unseen."""
    rows: dict[str, _File] = {}
    for f in sorted(group, key=_row_first):
        row = rows.setdefault(f.folder, f)
        if row is not f:
            f.copy_of, f.problem = row.rel, copy_of(_printable(row.rel))


def _row_first(f: _File) -> tuple[bool, int, int]:
    """Which of a photo's files is its row: the shortest path, then the walk's first, of its first names. The walk's
    first alone kept ``x (1).jpg`` and skipped ``x.jpg`` as its copy (a space sorts before a dot; a new-user tester):
    a user keeps the original. A second name of one file (a hard link, a link to it; ``_File.again``) is never the
    row: its first name was the row before copies were counted once, and keeps it."""
    return f.again, len(f.rel), f.order


# Since when a photo's copies in its class folder are one row (``_count_once``): said where a cache or a head made
# before meets the rule (``_CopiesOnce.line``).
COPIES_ONCE_SINCE = "2026-12-06"


class _CopiesOnce:
    """What the copies counted once (``_count_once``: each a file of its class folder with its row's bytes, no row)
    put in a folder's split digests, and what those digests were before ``COPIES_ONCE_SINCE``: the rest of the
    rule's one home, beside ``_check_copies``, ``_count_once`` and ``_row_first``. Before, a photo's copies were
    rows of their own (a second name of one file, ``_File.again``, was left out), and a ``--test-fraction`` rule
    said ``"copies": "one side"`` where there were any."""

    def __init__(self, files: list[_File], test_fraction: float | None, test_folder: str | None):
        self.copies = [f for f in files if f.copy_of is not None]
        self.test_fraction, self.test_folder = test_fraction, test_folder

    def of_split(self) -> dict[str, list[_File]]:
        """The copies recorded that may land in each split: all of them with ``--test-fraction``, else those of the split's
        folder (copies in train/ moved val/'s digest too, and finetune named "test" of a head made before; a
        reviewer)."""
        copies = [f for f in self.copies if not f.again]  # a second name of one file: never recorded (``recorded``)
        if self.test_fraction is not None:
            return {"train": copies, "test": copies}
        return {name: [f for f in copies if f.folder == folder]
                for name, folder in (("train", "train"), ("test", self.test_folder))}

    def recorded(self, rules: dict[str, Any]) -> dict[str, Any]:
        """Each split's rule with its copies, ``copies_once``: each copy and its row, as ``_row_first`` chose it (the
        shortest path; never a link's second name), since the bytes alone do not say which file is the row. Only
        where a split has copies: one without keeps its rows and its fingerprint. A second name of one file (a hard
        link, a link to it: ``_File.again``) is not recorded: it was never a row, left out before without a word,
        and its first name is the row now as then, so a folder whose only copies are such names keeps the
        fingerprint it had (recording them gave it a new one, and its cache was refused as other data; a brief)."""
        return {name: {**rules[name], "copies_once": [[f.rel, f.label, f.copy_of] for f in mine]} if mine else rules[name]
                for name, mine in self.of_split().items()}

    def rows_before(self, files: list[_File]) -> list[_File]:
        """The files that were candidate rows before: copies were, a second name of one file was not."""
        return [f for f in files if not f.again and (not f.problem or f.copy_of is not None)]

    def rules_before(self, rules: dict[str, Any]) -> dict[str, Any]:
        if self.test_fraction is not None and any(not f.again for f in self.copies):
            return {name: {**rule, "copies": "one side"} for name, rule in rules.items()}
        return rules

    def line(self, root: Path, fix: str, which: str) -> str:
        """The one line said where a cache or a head's cache holds the digests of before (finetune's, and extract's
        of the cache at ``--out``): ``fix`` what to do, ``which`` the cache that "counted them as it found them"."""
        named = [f for f in self.copies if not f.again] or self.copies
        first = f"{named[0].rel} of {named[0].copy_of}{', ...' if len(named) > 1 else ''}"
        return one_line(f"copies of a photo in a class are counted once since {COPIES_ONCE_SINCE} ({first}): {fix}; "
                        f"{which} counted them as it found them, and nothing else changed at {root}")


def _decodes(root: Path, f: _File, image_size: int) -> bool:
    return _decode_file(root, f.rel, f.digest, image_size)[1] is None


def _within(inner: str, outer: str) -> bool:
    return inner == outer or inner.startswith(outer.rstrip(os.sep) + os.sep)


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _read(path: Path) -> bytes:
    """The bytes of the photo at ``path``, a regular file (``decode.open_photo``: a FIFO never blocks the read)."""
    f, size = open_photo_sized(path)  # the size from the check's fstat: the photo is not fstat again
    with f:
        if size <= MAX_PHOTO_BYTES:  # one too large by its size is refused unread (it was read up to the bound first)
            data = f.read(MAX_PHOTO_BYTES + 1)  # bounded: a file that grew since fstat is not read whole
            size = max(size, len(data))
    if size > MAX_PHOTO_BYTES:
        raise UnreadableImage(f"{size_text(size)} is too large for a photo (at most {size_text(MAX_PHOTO_BYTES)})")
    return data


def _hash(root: Path, files: list[_File], verbose: bool) -> None:
    """Each file's sha256, or why it cannot be used (name not UTF-8, unreadable, too large)."""
    results = _map_chunked(lambda f: _hash_one(root, f), files, f"hashing {counted(len(files), 'file')} in the class folders of {root}", verbose)
    for f, (digest, problem) in zip(files, results):
        f.digest, f.problem = digest, problem


def _map_chunked(fn, items: list, message: str, verbose: bool) -> list:
    """``fn`` over ``items`` in the decoding threads: ``message`` printed when ``verbose``, and a progress bar
    (``progress.bars_wanted``).

    In chunks, so that only a chunk is ever queued: Ctrl-C does not wait for
    the whole listing to be read by the pool's threads.
    """
    from featcache.progress import (
        Progress,  # not Keras's bar: a cache hit must not pay for importing TensorFlow
        bars_wanted,
        status,
    )

    if verbose:
        status(one_line(message))
    bar = Progress(len(items), unit="file", quiet_seconds=SCAN_QUIET_SECONDS) if bars_wanted(verbose) else None
    out: list = []
    for start in range(0, len(items), SCAN_CHUNK):
        out += _map(fn, items[start : start + SCAN_CHUNK])
        if bar is not None:
            bar.update(len(out))
    return out


def _hash_one(root: Path, f: _File) -> tuple[str, str | None]:
    if f.problem:
        return "", f.problem
    if not utf8_name(f.rel):
        return "", not_utf8(f.rel)  # or the locale's doing (LC_ALL=C, PYTHONUTF8=0): renaming would not help
    try:
        return hashlib.sha256(_read(root / f.rel)).hexdigest(), None
    except UnreadableImage as exc:
        return "", str(exc)
    except OSError as exc:
        _raise_system_limit(root / f.rel, exc)
        return "", f"cannot read ({exc.strerror})"


def _raise_system_limit(path: Path, exc: BaseException) -> None:
    """A system limit hit opening a photo (too many open files, no memory) is said as such: it is not the file's
    fault, so the file is neither skipped as unreadable nor called changed on disk (``ulimit -n 8``, a tester)."""
    limit = system_limit(exc)
    if limit is not None:
        raise FeatcacheError(f"cannot open {path}: {limit}") from None


class PhotoRows:
    """The pending rows of a photo folder (``base.PendingRows``): every candidate file, and how its splits follow from which decode."""

    def __init__(self, root: Path, image_size: int, files: list[_File], class_names: list[str], class_dirs: dict[str, dict[str, Path]],
                 loose: list[str], test_fraction: float | None, seed: int, strict: bool, test_folder: str | None, verbose: bool):
        self.root, self.image_size = root, image_size
        # files of a class folder with the bytes of its row (``_check_copies``): no rows, listed with the skipped files
        self.copies_once = _CopiesOnce(files, test_fraction, test_folder)
        self.copies = self.copies_once.copies
        self.files = files  # the whole sorted listing; ``problem`` set where a file is unusable without decoding it
        self.class_names, self.class_dirs = class_names, class_dirs
        self.test_fraction, self.seed, self.strict, self.test_folder = test_fraction, seed, strict, test_folder
        self.verbose = verbose
        self.candidates = [f for f in files if not f.problem]
        self.paths = [f.rel for f in self.candidates]
        self.digests = [f.digest for f in self.candidates]
        self.labels = np.array([f.label for f in self.candidates], dtype=np.int64)
        self._row = {f.rel: i for i, f in enumerate(files)}  # row of each file in the data set's sorted listing
        self.index = np.array([self._row[f.rel] for f in self.candidates], dtype=np.int64)
        self.image_shape = (image_size, image_size, 3)
        self._loose = [(_printable(rel), NOT_IN_A_CLASS_FOLDER) for rel in loose]
        # the files hashed (those of the class folders) that are no candidates: copies counted once, and files
        # unusable unread; the progress lines between hashing and decoding say them (``decode.left_before_words``)
        self.hashed_out = [(_printable(f.rel), f.problem) for f in files if f.problem]
        self.unusable = sorted(self._loose + self.hashed_out)

    def digest(self, decoder: str | None = None) -> dict[str, str]:
        """Per split: the decoder and size, how rows are chosen, and every candidate that may land in it (path, label,
        sha256); the copies counted once, where a split has any (``_CopiesOnce.recorded``). ``decoder``: another
        decoder's identity than this featcache's (``older_decoder_line``)."""
        rules, groups = self._rules(self.candidates)
        return self._digests(self.copies_once.recorded(rules), groups, decoder)

    def digest_before_copies_once(self, decoder: str | None = None) -> dict[str, str]:
        """Per split, the digest the code before 2026-12-06 (main at 14d9896) gave these files (``_CopiesOnce``).
        ``copies_once_line`` compares a cache's with it to say that the copies, not the photos, changed (a reviewer:
        "changed since ... restore them" where nothing had)."""
        rules, groups = self._rules(self.copies_once.rows_before(self.files))
        return self._digests(self.copies_once.rules_before(rules), groups, decoder)

    def copies_once_line(self, recorded: Any, fix: str, which: str) -> str | None:
        """Where ``recorded`` (the split digests of a cache made of these files, or of a head's cache) are not this
        folder's digests but those the code before copies were counted once gave it: the line saying so
        (``_CopiesOnce.line``), with ``fix`` and ``which``. None otherwise."""
        if not self.copies or recorded == self.digest() or recorded != self.digest_before_copies_once():
            return None
        return self.copies_once.line(self.root, fix, which)

    def older_decoder_line(self, recorded: Any, fix: str, which: str) -> str | None:
        """Where ``recorded`` (the split digests of a cache made of these files, or of a head's cache) are the digests
        an older ``DECODER`` gave this very folder (its copies counted as now, or as before they were counted once):
        the line saying so, with ``fix`` and ``which``, in the copies line's form. None otherwise. Refused as "made
        with other settings (differs in: the data (which files, or their content))", a v6 cache sent its user
        looking for a changed photo (a brief, 2026-12-06)."""
        if recorded == self.digest():
            return None
        for old in reversed(DECODERS[:-1]):  # the failure path only: two digests of the file list per identity
            for identity, reference in recorded_identities(old.identity):
                if recorded in (self.digest(identity), self.digest_before_copies_once(identity)):
                    return self._older_decoder_words(old, reference, fix, which)
        return None

    def _older_decoder_words(self, old: DecoderVersion, reference: bool, fix: str, which: str) -> str:
        """``older_decoder_line``'s line of a cache made by decoder ``old``; ``reference``: made with no pixels named
        (before featcache named them, or with Pillow's reference pixels) on a machine that decodes to others, where a
        cache of before 2026-12-03 (v1 to v5, no ``decoded_with``) was refused "differs in: the data: decoded_with
        Pillow's reference pixels -> ...", as if its photos had changed (a brief, 2026-12-06)."""
        pixels = (f", and this machine's Pillow decodes them to other pixels than the reference ({other_pixels()})"
                  if reference else "")
        made = (f"decoder {old.version}, with Pillow's reference pixels or before featcache recorded other ones "
                f"({PIXELS_RECORDED_SINCE})" if reference else f"decoder {old.version}")
        return one_line(f"photos are decoded by featcache's image decoder {DECODERS[-1].version} now "
                        f"({decoder_changes(old)}){pixels}: {fix}; {which} was made by {made}, and nothing else changed "
                        f"at {self.root}")

    def changes_since(self, rows: Mapping[str, str], left_out: Sequence[str], limit: int = 3) -> str | None:
        """What changed in this folder since a cache of it was made, from what the cache records (nothing decoded):
        ``rows``, each row's path and SHA-256, and ``left_out``, the paths it lists as skipped (files that did not
        decode, copies counted once, files outside a class folder). ``"2 added (ants/copy.jpg, a copy of ants/a.jpg;
        ants/new_ant.jpg), 1 changed (bees/b.jpg)"``, naming ``limit`` of each; None where no file was added,
        removed or changed (the digest differs then in a rule: ``DataSource.rule_change``'s lines). extract said only
        "differs in: the data (which files, or their content)" of a folder with one photo and one copy added (a new
        user)."""
        shown = {f.rel: _printable(f.rel) for f in self.files}
        now = set(shown.values()) | {rel for rel, _ in self._loose}
        before = set(rows) | set(left_out)
        same: dict[str, list[str]] = {}  # the files of each content: a copy's row may be the new file (the shorter name)
        for f in self.files:  # a copy counted once is no candidate: it has the problem that says so
            if f.digest:
                same.setdefault(f.digest, []).append(shown[f.rel])
        copies = {rel: next(o for o in group if o != rel) for group in same.values() if len(group) > 1 for rel in group}
        changed = sorted(shown[f.rel] for f in self.files if f.digest and rows.get(shown[f.rel], f.digest) != f.digest)
        added = [f"{rel}, a copy of {copies[rel]}" if rel in copies else rel for rel in sorted(now - before)]

        def some(names: Sequence[str], what: str) -> str:
            more = "; ..." if len(names) > limit else ""
            return f"{len(names)} {what} ({'; '.join(names[:limit])}{more})" if names else ""

        said = [x for x in (some(added, "added"), some(sorted(before - now), "removed"), some(changed, "changed")) if x]
        return ", ".join(said) or None

    def _rules(self, rows: list[_File]) -> tuple[dict[str, Any], dict[str, list[_File]]]:
        """Each split's rule (how rows are chosen) and the ``rows`` that may land in it."""
        if self.test_fraction is not None:  # a file anywhere can move the stratified split
            rule: Any = {"test_fraction": self.test_fraction, "seed": self.seed}
            return {"train": rule, "test": rule}, {"train": rows, "test": rows}
        rule = {"test_folder": self.test_folder}
        return {"train": rule, "test": rule}, {name: [f for f in rows if f.folder == folder]
                                               for name, folder in (("train", "train"), ("test", self.test_folder))}

    def _digests(self, rules: dict[str, Any], groups: dict[str, list[_File]], decoder: str | None = None) -> dict[str, str]:
        """Each split's digest: ``decoder`` (this featcache's ``decoder_identity`` unless given), the size, its rule
        and the files that may land in it."""
        decoder = decoder or decoder_identity()
        return {name: hashlib.sha256(json.dumps([decoder, self.image_size, name, rules[name],
                                                 [[f.rel, f.label, f.digest] for f in fs]],
                                                separators=(",", ":")).encode()).hexdigest()
                for name, fs in groups.items()}

    def read(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Candidates ``[start, stop)`` decoded; an unreadable one is a blank image with its reason in ``problem``."""
        done = list(_map(lambda i: _decode_file(self.root, self.paths[i], self.candidates[i].digest, self.image_size),
                                range(start, stop)))
        blank = np.zeros(self.image_shape, np.uint8)
        return {"image": np.stack([blank if img is None else img for img, _ in done]),
                "problem": np.array([why or "" for _, why in done], dtype=object)}

    def plan(self, source: DataSource) -> StagedPhotos:
        return StagedPhotos(source, self)

    def probe(self) -> dict[str, str]:
        message = f"decoding {counted(len(self.candidates), 'file')} under {self.root} to find unreadable ones"
        # Only the reasons are kept: holding every decoded image would need the whole data set in memory.
        whys = _map_chunked(lambda f: _decode_file(self.root, f.rel, f.digest, self.image_size)[1], self.candidates, message, self.verbose)
        return {f.rel: why for f, why in zip(self.candidates, whys) if why}

    def check(self, unreadable: Sequence[tuple[str, str]]) -> None:
        unreadable = [(rel, why) for rel, why in unreadable if counts_as_unreadable(why)]
        if self.strict and unreadable:
            raise self._strict_error([_File(rel, -1, "", problem=why) for rel, why in unreadable],
                                     " (found while extracting; more may follow)")

    def _strict_error(self, bad: list[_File], more: str = "") -> FeatcacheError:
        return FeatcacheError(f"{option('--strict', 'strict')}: {counted(len(bad), 'file')} under {self.root} could not be read: "
                              f"{_listing(bad)}{more}; fix or remove them, or {option('drop --strict', 'pass strict=False')} to "
                              "skip them")

    def arrange(self, unreadable: Mapping[str, str]) -> tuple[dict[str, list[_File]], list[tuple[str, str]]]:
        """The files of each split and the skipped files, or the error, given the candidates that do not decode."""
        files = [f if f.problem or f.rel not in unreadable else replace(f, problem=unreadable[f.rel]) for f in self.files]
        bad = [f for f in files if f.problem]
        if bad and len(bad) == len(files):
            raise FeatcacheError(f"none of the {len(files)} files under {self.root} could be read as an image ({_listing(bad)}); "
                                 "check that DIR holds JPEG, PNG, BMP or GIF photos")
        undecodable = [f for f in bad if counts_as_unreadable(f.problem)]  # a file left out as no image is not (decode.NOT_AN_IMAGE)
        if undecodable and self.strict:
            raise self._strict_error(undecodable)
        readable = Counter((f.folder, f.label) for f in files if not f.problem)
        for folder, dirs in self.class_dirs.items():
            for label, name in enumerate(self.class_names):
                if not readable[folder, label]:
                    mine = [(_printable(f.rel), f.problem) for f in files if f.folder == folder and f.label == label]
                    raise no_photo_error(dirs[name], name, none_decodes(mine))
        good = [f for f in files if not f.problem]
        if self.test_fraction is not None:
            split_files = _stratified_split(good, self.test_fraction, self.seed, self.class_names,
                                            Counter(f.copy_of for f in self.copies))
        else:
            split_files = {"train": [f for f in good if f.folder == "train"], "test": [f for f in good if f.folder == self.test_folder]}
        return split_files, sorted(self._loose + [(_printable(f.rel), f.problem) for f in bad])

    def assign(self, unreadable: Mapping[str, str]) -> tuple[dict[str, Split], list[tuple[str, str]]]:
        split_files, skipped = self.arrange(unreadable)
        digest = self.digest()
        return {name: self._split(name, fs, digest[name]) for name, fs in split_files.items()}, skipped

    def _split(self, name: str, files: list[_File], digest: str) -> Split:
        root, size = self.root, self.image_size
        rels = [f.rel for f in files]
        sha = [f.digest for f in files]

        def read(start: int, stop: int) -> np.ndarray:
            return np.stack(list(_map(lambda i: _decode_row(root, rels[i], sha[i], size), range(start, stop))))

        return Split(
            name=name,
            labels=np.array([f.label for f in files], dtype=np.int64),
            index=np.array([self._row[r] for r in rels], dtype=np.int64),
            read=read,
            digest=digest,
            paths=rels,
            digests=sha,
        )


# Key of each row's decode problem in a staged run's embed output (not a layer).
PROBLEM = "featcache:problem"


class StagedPhotos:
    """The ``RowPlan`` of a photo folder: which photos decode decides the split rows, and it is learnt while embedding.

    Each file is decoded once: every candidate file is embedded into one
    staging split together with its decode problem, and ``finish`` cuts the
    splits out of it, given the problems of this run and of any earlier one
    it resumes. Errors that need them (``strict``, a class without a readable
    photo) come then, and a re-run repeats them without embedding again.
    """

    unit = "files"
    staged = True

    def __init__(self, source: DataSource, rows: PhotoRows):
        self.source, self.rows = source, rows
        self.specs = [SplitSpec(STAGING, rows.labels, rows.index, rows.paths, digests=rows.digests)]
        self.sizes = {STAGING: len(rows.paths)}
        # Every file is embedded (decoding finds which are photos), but one named as another kind of file
        # (labels.csv, notes.txt: ``decode.is_other_file``) is left out as no image: not counted as one.
        self.images = sum(1 for p in rows.paths if not is_other_file(p))
        self.read = lambda b: rows.read(b.start, b.stop)
        self.sample = np.zeros((1, *rows.image_shape), np.uint8)  # the model needs only the shape: no file is decoded twice
        self.skipped = list(rows.unusable)  # the complete list replaces it at the end
        self.hashed, self.left_out = len(rows.files), list(rows.hashed_out)

    def embedder(self, make_embed: Callable) -> KeepProblems:
        return KeepProblems(make_embed)

    def write(self, writer: StagedWriter, batch: Batch, out: dict[str, np.ndarray]) -> int:
        problems = out.pop(PROBLEM)
        bad = [(self.rows.paths[batch.start + i], str(why)) for i, why in enumerate(problems) if why]
        _keeping(writer.partial, self.rows.check, bad)  # --strict stops at the first unreadable file
        writer.write(batch.split, batch.start, out, problems)
        return len(batch) - len(bad)

    def finish(self, writer: StagedWriter, extra_attrs: dict[str, Any]) -> None:
        paths = self.rows.paths
        _keeping(writer.partial, self.source.settle, {paths[i]: why for i, why in writer.problems().items()})
        row = {p: i for i, p in enumerate(paths)}
        splits = [SplitSpec(s.name, s.labels, s.index, s.paths, rows=np.array([row[p] for p in s.paths], dtype=np.int64),
                            digests=s.row_digests())
                  for s in self.source.splits.values()]
        writer.finish({**extra_attrs, "skipped": [list(x) for x in self.source.skipped]}, regroup=splits)


class KeepProblems:
    """Picklable ``make_embed`` of a staged run: embeds a read's images and passes each row's decode problem on to ``write``."""

    def __init__(self, make_embed: Callable):
        self.make_embed = make_embed

    def __call__(self) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
        embed = self.make_embed()
        return lambda batch: {**embed(batch["image"]), PROBLEM: batch["problem"]}


def _keeping(partial: Path, check: Callable, *args) -> None:
    """``check(*args)``; a data error found while embedding also says where the work so far is kept.

    Such errors used to come before any embedding. Now the features are in
    the partial file: a re-run of the same command repeats the error at once,
    one without --strict resumes from it, and after the folder is changed
    (another fingerprint) the file is of no use and the user should know it.
    """
    try:
        check(*args)
    except FeatcacheError as exc:
        raise FeatcacheError(f"{exc} (the features extracted so far are kept in {partial} for a re-run; "
                             "delete it once you change the folder)") from None


class LinkLoopPassedOver(UserWarning):
    """A folder link that leads back to a folder holding it, passed over by the walk (``errors.link_loop_passed``):
    a note (nothing is wrong with the data set; the CLI says "note")."""

    label = "note"


class NoTestImagesWarning(UserWarning):
    """A class of few photos has none in the test split that ``--test-fraction`` held out."""


def _photos_words(photos: Sequence[int]) -> str:
    """How many ``photos`` (each the number of its files: one, or its byte-identical copies) there are, saying copies
    where there are any: "1 photo" read "'ants' (1 photo)" for 5 copies of one (a review); "5 files, copies of 1 photo"."""
    n_files = sum(photos)
    if n_files == len(photos):
        return counted(len(photos), "photo")
    if all(p > 1 for p in photos):
        return f"{n_files} files, copies of {counted(len(photos), 'photo')}"
    return f"{n_files} files, {counted(len(photos), 'photo')} once copies count as one"


def _stratified_split(files: list[_File], fraction: float, seed: int, class_names: Sequence[str],
                      copies: Mapping[str, int] | None = None) -> dict[str, list[_File]]:
    """Per class, round(fraction * n) photos to test (keeping at least one in train), chosen by ``seed``; a class left
    without any is said (``NoTestImagesWarning``). Each file is a photo: copies in a class are one row
    (``_count_once``); ``copies`` (a row's path -> how many copies of it were counted once) is for the words. A folder
    without copies keeps the draws made before. In one with copies each photo is drawn at its row, its shortest path
    (``_row_first``), not its first by path ('x (1).jpg' sorts before 'x.jpg'): where those differ, the photos
    sorting between the two can be drawn otherwise than when the copies were rows."""
    copies = copies or {}
    rng = np.random.default_rng(seed)
    by_class: list[list[_File]] = [[] for _ in class_names]
    for f in files:
        by_class[f.label].append(f)
    files_of = lambda mine: [1 + copies.get(f.rel, 0) for f in mine]  # noqa: E731 (each photo's files, for the words)
    train, test, none = [], [], []
    for label, mine in enumerate(by_class):
        n_test = min(round(fraction * len(mine)), len(mine) - 1)
        if mine and not n_test:
            none.append(f"{class_names[label]!r} ({_photos_words(files_of(mine))})")
        chosen = set(rng.permutation(len(mine))[:n_test].tolist())
        for i, f in enumerate(mine):
            (test if i in chosen else train).append(f)
    if not test:
        if not any(copies.get(f.rel) for f in files):
            raise FeatcacheError(f"{given('--test-fraction', str(fraction))} leaves no test image ({len(files)} readable "
                                 "images); use a larger fraction or add images")
        # copies count as one photo: "10 readable images; use a larger fraction" misled where there were 2 (a review)
        fix = "add other photos" if all(len(mine) < 2 for mine in by_class) else "use a larger fraction or add other photos"
        raise FeatcacheError(f"{given('--test-fraction', str(fraction))} leaves no test image "
                             f"({_photos_words(files_of(files))}); {fix}")
    if none:  # a class of a photo or two went wholly to train without a word; train/ and val/ are refused so (a tester)
        warn(f"{given('--test-fraction', str(fraction))} holds out no test image of class {', '.join(none)}: no test "
             "score will count it; use a larger fraction, add photos, or split the folder into train/ and val/",
             NoTestImagesWarning)
    return {"train": sorted(train, key=lambda f: f.rel), "test": sorted(test, key=lambda f: f.rel)}


def read_scanned(path: Path, digest: str) -> bytes:
    """The bytes of the photo at ``path``, which must still be those hashed (``digest``) when its folder was scanned:
    else one line, re-run. The one home of that check and its words: extract's rows and the photos evaluate scores
    (``ClassTree.digests``; a photo replaced after the hashing was scored under the clean folder's fingerprint, and
    past the copies check, an adversarial tester)."""
    changed = f"{path} changed on disk since it was scanned"
    try:
        data = _read(path)
    except NotRegularFile as exc:  # a FIFO put in its place: its open no longer blocks the run (decode.open_photo)
        raise FeatcacheError(f"{changed} (it is now {exc.kind}, not a regular file); re-run the {command_word()}") from None
    except (OSError, UnreadableImage) as exc:
        _raise_system_limit(path, exc)
        raise FeatcacheError(f"{changed} (it can no longer be read); re-run the {command_word()}") from None
    if hashlib.sha256(data).hexdigest() != digest:
        raise FeatcacheError(f"{changed}; re-run the {command_word()}")
    return data


def _decode_file(root: Path, rel: str, digest: str, image_size: int) -> tuple[np.ndarray | None, str | None]:
    """(pixels, None), or (None, why it does not decode); the file must still be the one that was hashed."""
    data = read_scanned(root / rel, digest)
    try:
        return decode_image(io.BytesIO(data), image_size), None
    except UnreadableImage as exc:
        return None, failure_reason(rel, str(exc))  # notes.txt: "not an image file, left out", not for --strict


def _decode_row(root: Path, rel: str, digest: str, image_size: int) -> np.ndarray:
    """One file of a settled split: it decoded when the rows were settled, so it must now."""
    img, why = _decode_file(root, rel, digest, image_size)
    if img is None:  # the same bytes and decoder: only another Pillow, or a broken one, gets here
        raise FeatcacheError(f"{root / rel} does not decode now ({why}) although it did when its rows were fixed "
                             "(another Pillow version?); re-extract the cache")
    return img


def _printable(rel: str) -> str:
    """A file name that is not valid UTF-8, shown with its odd bytes escaped (it cannot be printed or stored as is)."""
    return printable(rel)  # errors.printable: predict's lines and the stdout fallback write such bytes the same way


def _listing(files: list[_File], limit: int = 5) -> str:
    return _listed([(_printable(f.rel), f.problem) for f in files if f.problem], limit)


def _safe_name(name: str) -> str:
    """The data set's name in default cache file names."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "images"


def check_file_outside_classes(path: str | Path, photo_root: str | Path | None, flag: str = "--out") -> None:
    """A file featcache writes (a head, a model) inside a class folder of the photos it was made from
    (``Cache.photo_root``, or the ``source`` a head records; None for other sources): the next extraction would
    list it among that class's files, and the data, so the cache, would have changed (an adversarial tester's
    head.npz in train/ants: the re-run refused the cache, finetune the head)."""
    if photo_root is not None:
        check_outside_classes(path, photo_root, flag, "the next extraction would list it among that class's files and "
                              "take the photos as changed", root_words="the photos the cache was made from,")


def check_report_outside_classes(out_dir: str | Path, photo_root: str | Path | None, flag: str = "--out") -> None:
    """A report folder (evaluate, probe, curve) inside a class folder of the photos a cache was made from
    (``Cache.photo_root``; None for other sources): its plots would be cached as images of that class by the next
    extraction (an adversarial tester's confusion.png, an ant). The cache says where its photos are; this module
    says what a class folder is, without reading a cache's metadata."""
    if photo_root is not None:
        check_outside_classes(Path(out_dir) / "report.png", photo_root, flag,
                              "its plots would be read as images of that class by the next extraction", shown=out_dir,
                              root_words="the photos the cache was made from,")


@dataclass(frozen=True)
class ClassTree:
    """One tree of class folders as extract reads it (``class_tree``): the class names (sorted, NFC), each usable
    file (``paths``, absolute, with ``labels`` indexing ``class_names``), and ``unusable``: ``[(path as shown,
    why)]`` of the files extract would skip unread (loose beside the class folders, unreadable, too large, ...).
    ``fingerprint``: a SHA-256 of every usable file's path, class and content, as a cache's split digest holds them;
    ``digests``: each usable file's SHA-256 (hex) in ``paths``' order, as a photo cache keeps each row's
    (``Cache.digests``): a model's evaluation tells the photos it was trained on by them (``heads.io.row_keys``), and
    ``read_scanned`` checks a photo read later is still the one hashed."""

    root: Path
    class_names: list[str]
    paths: list[Path]
    labels: np.ndarray
    unusable: list[tuple[str, str]]
    fingerprint: str
    digests: list[str]


def class_tree(root: str | Path, image_size: int, verbose: bool = False,
               check_classes: Callable[[list[str]], None] | None = None, hint: str = LAYOUT_HINT) -> ClassTree:
    """The files of the one class-folder tree ``root`` (no train/ and val/ split), walked and hashed as
    ``PhotoFolder.open`` does (``_classes``, ``_list_files``, ``_hash``, ``_check_copies``): the same files used and
    skipped, the same class names, copies in two classes refused alike (evaluate scored them; a review).
    ``check_classes`` sees the class names before any file is hashed (evaluate's wrong class names were said only
    after the whole folder was read; a review). How 'featcache evaluate MODEL FOLDER' reads its folder; the caller
    has checked ``root`` is a folder; ``image_size``: the size a copy is decoded at to tell it is a photo. One class
    folder is enough (a model may be scored on some of its classes); ``hint``: what to do where there is none."""
    root = Path(root)
    class_names, class_dirs, loose = _classes(root, [""], hint, min_classes=1)
    if check_classes is not None:
        check_classes(class_names)
    files = _list_files(root, class_names, class_dirs)
    _hash(root, files, verbose)
    _check_copies(root, files, image_size, None)
    usable = [f for f in files if not f.problem]
    unusable = sorted([(_printable(str(root / rel)), NOT_IN_A_CLASS_FOLDER) for rel in loose]  # as predict shows
                      + [(_printable(str(root / f.rel)), f.problem if f.copy_of is None  # a file: its path, and
                          else copy_of(_printable(str(root / f.copy_of)))) for f in files if f.problem])  # its row's
    fingerprint = hashlib.sha256(json.dumps([[f.rel, class_names[f.label], f.digest] for f in usable],
                                            separators=(",", ":")).encode()).hexdigest()
    return ClassTree(root, class_names, [root / f.rel for f in usable], np.array([f.label for f in usable], dtype=np.int64),
                     unusable, fingerprint, [f.digest for f in usable])
