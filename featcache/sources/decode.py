"""Decoding image files to uint8 RGB arrays, the one way featcache does it.

Class-folder extraction and ``predict`` both call ``decode_image`` so a photo
becomes the same pixels on both paths. Any change to what it computes must
change ``images.DECODER``, which is part of every photo cache's fingerprint.
What featcache's code cannot change, the libraries under it can: ``pixel_digest``
says what this machine's Pillow and libjpeg make of fixed bytes, and a photo
cache's fingerprint names it where it is not the reference (``images.decoder_identity``).
"""

from __future__ import annotations

import errno
import functools
import hashlib
import io
import os
import re
import stat
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, Sequence

import numpy as np

from featcache.errors import FeatcacheError, first_line
from featcache.progress import agreeing, counted

# Refuse to fully decode absurdly large images; JPEGs are first reduced by
# the decoder itself (draft mode, up to 1/8 per side), which costs a fraction
# of the memory, so a 20000x20000 photo still decodes (as 2500x2500).
MAX_PIXELS = 64_000_000


class UnreadableImage(FeatcacheError):
    """A file that is not a decodable image (the reason is the message)."""


class NotRegularFile(UnreadableImage):
    """A photo's name that leads to a FIFO, a socket, a device or a folder (the message: "not a regular file");
    ``kind`` says which, in ``validate.kind_of``'s words."""

    def __init__(self, kind: str):
        super().__init__("not a regular file")
        self.kind = kind


# O_NONBLOCK: opening a FIFO to read waits for a writer, forever; with it the open returns at once, and fstat then
# refuses what was opened. A photo replaced by a FIFO after the folder scan hung extract in a decoding thread, past
# Ctrl-C and SIGTERM (an adversarial tester). O_NOCTTY: a terminal device opened so never becomes ours. Each by
# getattr: Windows has neither (nor O_CLOEXEC), and os.O_NONBLOCK at import broke every command there, even
# `featcache --help` (a reviewer, 2026-12-06); O_BINARY (Windows alone) keeps its reads from translating line ends.
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_NOCTTY = getattr(os, "O_NOCTTY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_OPEN_FLAGS = os.O_RDONLY | _O_NONBLOCK | _O_NOCTTY | _O_CLOEXEC | getattr(os, "O_BINARY", 0)
# Linux's O_PATH names a file without opening it: no driver's open runs (a device's open can act: /dev/watchdog arms
# the watchdog, a tape device rewinds when closed), and fstat reads its kind. Where it is missing (macOS, Windows),
# or /proc is not mounted, photos are opened as _OPEN_FLAGS say, then refused.
_O_PATH = getattr(os, "O_PATH", 0)
_FD_LINKS = "/proc/self/fd"


def open_photo(path: str | Path) -> BinaryIO:
    """``path`` opened to read as a binary file, if it is a regular file (or a link to one); else ``NotRegularFile``.

    The check is of the file itself (``fstat``), never the name looked at
    again, so a file swapped in between cannot slip past it; the open cannot
    block, and on Linux a FIFO, device or socket is refused before it is
    opened at all. ``OSError`` as ``open`` raises it (gone, no permission).
    """
    return open_photo_sized(path)[0]


def open_photo_sized(path: str | Path) -> tuple[BinaryIO, int]:
    """``open_photo``'s file and its size in bytes, from the one ``fstat`` of its check (``images._read`` bounds its
    read by it, and fstat the photo again). On Linux the size is the O_PATH handle's: the file reopened through its
    /proc link is that same file."""
    if _O_PATH:
        handle = os.open(path, _O_PATH | _O_CLOEXEC)
        try:
            size = _regular_size(handle)
            fd = _reopen(handle, path)
        finally:
            os.close(handle)
        if fd is not None:
            return os.fdopen(fd, "rb"), size
    fd = os.open(path, _OPEN_FLAGS)
    try:
        size = _regular_size(fd)
        if _O_NONBLOCK:  # a regular file's reads ignore the flag on Linux; elsewhere they may not
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), size
    except BaseException:
        os.close(fd)
        raise


def _regular_size(fd: int) -> int:
    """``fd``'s size in bytes; ``NotRegularFile`` unless it is a regular file (once or twice a photo: the import only
    on a refusal)."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        from featcache.validate import kind_of_mode

        raise NotRegularFile(kind_of_mode(st.st_mode))
    return st.st_size


def _reopen(handle: int, path: str | Path) -> int | None:
    """The file an O_PATH ``handle`` names, opened to read through its /proc link (the same file, whatever the name
    leads to now); None where /proc is not mounted. An error names ``path``, not the link."""
    try:
        return os.open(f"{_FD_LINKS}/{handle}", os.O_RDONLY | _O_NOCTTY | _O_CLOEXEC)
    except FileNotFoundError:  # no /proc here (a chroot, a bare container): the name is opened as elsewhere
        return None
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, os.fspath(path)) from None


# Pillow plugins that run another program on the file: its EPS plugin hands
# the file to Ghostscript (a PostScript interpreter), which would run code
# from a data file; a photo folder or `predict` input is never opened as one
# (an adversarial tester's fake `gs` was called for an EPS named .jpg).
_RUNS_A_PROGRAM = frozenset({"EPS"})
_FORMATS: list[str] | None = None


def _formats(Image) -> list[str]:
    """The formats decode_image opens: every Pillow format that decodes by itself."""
    global _FORMATS
    if _FORMATS is None:
        Image.init()
        _FORMATS = [f for f in Image.OPEN if f not in _RUNS_A_PROGRAM]
    return _FORMATS


# What a file that does not decode is said to be (one home: extract's class folders and predict's folders).
# Every file of a class folder is a candidate, hashed into the data set's digest and decoded, as featcache always
# did: its fingerprint, and the heads and caches made of it, do not depend on the rule below. Only how a failure is
# reported does. notes.txt in a class folder was listed as unreadable and --strict refused the folder for it (a
# review); leaving such files out of the data set by their extension changed every such folder's digest (heads and
# caches refused, "the images changed"), dropped JPEGs saved without an extension and called a .heic "of no image
# type" (a reviewer, 2026-12-05).
NOT_AN_IMAGE = "not an image file, left out"
# What a photo folder's file beside its class folders is said to be: no photo of any class, never hashed or decoded.
NOT_IN_A_CLASS_FOLDER = "not inside a class folder"

# Why a symbolic link leads to no file (``dead_link``): its target is gone, or it is a loop of links (ELOOP), which
# was called broken, "their targets are gone", and "image file not found" (an adversarial tester): each says which.
BROKEN_LINK_WHY = "broken symbolic link"
LINK_LOOP_WHY = "symbolic link loop: it leads back to itself, to no file"


def dead_link(exc: OSError) -> str:
    """Why a symbolic link whose ``os.stat`` raised ``exc`` leads to no file: a loop (ELOOP) or a broken link."""
    return LINK_LOOP_WHY if exc.errno == errno.ELOOP else BROKEN_LINK_WHY

# A file of a class folder with the same bytes as another file of that class folder (a copy, a hard link, a link to
# it): the photo is one row, its file of the shortest path (``images._row_first``), and the others are listed with this reason (the
# first named) among the files that are no rows. Copies kept as rows of their own landed on both sides of the splits
# taken inside the training rows (the Keras head's validation cut, probe's folds, curve's subsets) while a hard link
# was one row (a session's brief, 2026-12-06). Not counted by --strict: nothing is wrong with the file. A cache stores
# them so in its one ``skipped`` list; results and reports say them apart (``left_out_parts``; --json: ``copies``).
COPY_COUNTED_ONCE = "the same bytes as {first} in its class folder, counted once"
_COPY_HEAD, _COPY_TAIL = COPY_COUNTED_ONCE.split("{first}")

# Image formats Pillow cannot open (no plugin, or featcache's own refusal: EPS runs Ghostscript, _RUNS_A_PROGRAM;
# WMF/EMF are Pillow stubs without a handler): a photo in one of them is unreadable, counted by --strict, and said
# with the fix. Pillow 13 opens AVIF and WebP itself (checked here: Image.OPEN, features.check("avif")).
UNSUPPORTED_IMAGE_TYPES = {ext: name for name, exts in {
    "HEIC/HEIF": ("heic", "heif", "hif", "heics", "heifs"), "JPEG XL": ("jxl",),
    "camera raw": ("dng", "cr2", "cr3", "crw", "nef", "nrw", "arw", "srf", "sr2", "raf", "orf", "rw2", "pef", "srw",
                   "x3f", "3fr", "iiq", "raw"),
    "SVG": ("svg", "svgz"), "layered image (GIMP, Krita)": ("xcf", "kra"),  # an adversarial tester: "not an image file"
    "PostScript": ("eps", "ps"), "Windows metafile": ("wmf", "emf")}.items() for ext in exts}

# Formats Pillow registers that it only identifies or writes: a stub without a handler (HDF5, GRIB, BUFR; WMF above),
# MPEG (the size of a video's first frame, no pixels) and the save-only ones (PDF, Palm) are not in Image.OPEN or
# never decode, so their extensions are not an image's (.h5, .pdf and .mpg were decoded and listed as unreadable).
_IDENTIFY_ONLY = frozenset({"MPEG"})


@functools.lru_cache(maxsize=1)
def image_suffixes() -> frozenset[str]:
    """The extensions (lower case, no dot) of the formats ``decode_image`` can decode, read once a process (built
    per file it cost 14 us a name; 1.4 s over 100,000 photos)."""
    from PIL import Image, ImageFile

    opened = set(_formats(Image)) - _IDENTIFY_ONLY
    opened = {f for f in opened if not (isinstance(Image.OPEN[f][0], type) and issubclass(Image.OPEN[f][0], ImageFile.StubImageFile))}
    suffixes = {ext.lower().lstrip(".") for ext, f in Image.registered_extensions().items() if f in opened}
    if "JPEG" in opened:  # an MPO (a camera's multi-picture JPEG) is opened by the JPEG plugin
        suffixes.add("mpo")
    return frozenset(suffixes)


def _suffix(name: str | Path) -> str:
    """The extension of ``name``, lower case without the dot; a browser's or editor's tail after an image's own is cut
    (photo.jpg_large, photo.png~: a reviewer's real photos), "" where there is none."""
    ext = os.path.splitext(os.path.basename(str(name)))[1].lower().lstrip(".")
    head = re.match(r"[a-z0-9]+", ext)
    return ext if head is None or ext in image_suffixes() else head.group(0)


def is_image_name(name: str | Path) -> bool:
    """Whether a file of this name is named as an image: an extension ``decode_image`` opens, or one of an image
    format it cannot (``UNSUPPORTED_IMAGE_TYPES``). What ``predict DIR`` reads of a folder."""
    ext = _suffix(name)
    return ext in image_suffixes() or ext in UNSUPPORTED_IMAGE_TYPES


def is_other_file(name: str | Path) -> bool:
    """A file whose name says it is no image: it has an extension, and that is no image format's (notes.txt,
    labels.csv, a PDF). One that does not decode is left out (``NOT_AN_IMAGE``), not counted by --strict; a file
    without an extension may be a photo saved without one, and is not this."""
    return bool(_suffix(name)) and not is_image_name(name)


def failure_reason(name: str | Path, why: str) -> str:
    """What is said of the file ``name`` that did not decode for ``why``: ``NOT_AN_IMAGE`` where its name says it is
    no image, ``why`` with the fix where it is an image format featcache cannot open, else ``why``."""
    if is_other_file(name):
        return NOT_AN_IMAGE
    kind = UNSUPPORTED_IMAGE_TYPES.get(_suffix(name))
    return why if kind is None else f"{why}; {kind} images cannot be read here: convert them to JPEG or PNG"


def counts_as_unreadable(why: str) -> bool:
    """Whether a file skipped for ``why`` is an unreadable image (counted by --strict), not a file left out as no
    image, one beside the class folders or a copy: the files ``skipped_kinds`` counts as unreadable, by one rule
    (``skipped_kind``). A file not in a class folder was counted here as unreadable, where docs/photos.md says it is
    never an error and the summary counted it apart (a brief, helper-310)."""
    return skipped_kind(why) == SKIPPED_KINDS[2]


def copy_of(first: str) -> str:
    """The reason a file with the bytes of ``first`` (as shown) in its class folder is no row: ``COPY_COUNTED_ONCE``."""
    return COPY_COUNTED_ONCE.format(first=first)


def copy_listed(first: str) -> str:
    """A copy's words in a listing whose head counts the copies ("4 copies counted once: ..."): ``copy_of`` less its
    tail, which that head says once (info's listing said "in its class folder, counted once" of every copy; a brief)."""
    return f"{_COPY_HEAD}{first}"


def is_copy(why: str) -> bool:
    """Whether a file left out for ``why`` is a copy counted once (``copy_of``), not a file that is unusable."""
    return why.startswith(_COPY_HEAD) and why.endswith(_COPY_TAIL)


def copies_line(copies: Sequence[Sequence[str]], limit: int = 2) -> str:
    """One line of the ``(path, same_as)`` pairs of the copies counted once (``left_out_parts``), the first ``limit``
    named, as extract and evaluate say them: ``2 files are copies (the same bytes) of photos in their class folder,
    each photo counted once: ants/b.png of ants/a.png; ants/c.png of ants/a.png``."""
    from featcache.errors import one_line

    named = "; ".join(one_line(f"{p} of {same_as}") for p, same_as in copies[:limit])
    more = f"; and {len(copies) - limit} more" if len(copies) > limit else ""
    verb = ("is a copy (the same bytes) of a photo in its" if len(copies) == 1
            else "are copies (the same bytes) of photos in their")
    return f"{counted(len(copies), 'file')} {verb} class folder, each photo counted once: {named}{more}"


def left_out_parts(left_out: Sequence[Sequence[str]]) -> dict[str, list[tuple[str, str]]]:
    """``{"skipped": ..., "copies": ...}`` of a ``[(path, why)]`` list of the files that are no rows (a source's
    ``skipped``, a cache's stored ``skipped`` attribute, evaluate's folder), each in its order: the files really not
    used as ``(path, why)``, and the copies counted once as ``(path, same_as)``, told by their reason (``copy_of``).
    The one home of that split, as a result's fields (extract's, evaluate's) and info's: a cache keeps both in its one
    stored ``skipped`` list (caches written before 2026-12-06's split read alike), and every result and report says
    them apart."""
    pairs = [(str(p), str(why)) for p, why in left_out]
    return {"skipped": [(p, why) for p, why in pairs if not is_copy(why)],
            "copies": [(p, why[len(_COPY_HEAD):-len(_COPY_TAIL)]) for p, why in pairs if is_copy(why)]}


def left_out_json(skipped: Sequence[Sequence[str]], copies: Sequence[Sequence[str]]) -> dict[str, list]:
    """The ``--json`` fields of the files that are no rows, ``extract --json``'s, ``info --json``'s of a cache and
    evaluation.json's ``folder``: ``skipped``, ``[[path, reason], ...]`` of the files not used, and ``copies``,
    ``[{"path": ..., "same_as": ...}, ...]`` of a photo's copies in its class folder counted once (``same_as``: its
    row, in that class folder). ``skipped`` listed the copies too until 2026-12-06 (a session's brief)."""
    return {"skipped": pairs_json(skipped),
            "copies": [{"path": str(p), "same_as": str(same_as)} for p, same_as in copies]}


def pairs_json(pairs: Sequence[Sequence[str]]) -> list[list[str]]:
    """``[[path, reason], ...]`` of ``(path, reason)`` pairs: the one --json shape of a list of files not used, with
    why, extract's and evaluate's ``skipped`` and predict's ``skipped`` and ``left_out`` alike (predict's
    ``left_out`` was a list of paths without reasons until 2026-12-06; a session's brief)."""
    return [[str(p), str(why)] for p, why in pairs]


def left_out_words(skipped: Sequence[Sequence[str]], copies: Sequence[Sequence[str]], *,
                   labelled: bool = False) -> list[str]:
    """A summary's words on the files that are no rows, extract's, evaluate's and info's: ``["2 files skipped",
    "3 copies counted once"]`` (either, both or none; each part only where there is one). ``labelled``: the line's
    label says "skipped" already (info's ``skipped`` row), so the files go without the word: ``"2 files"``."""
    files = counted(len(skipped), "file") + ("" if labelled else " skipped") + (skipped_kinds(skipped) if skipped else "")
    return ([files] if skipped else []) + ([copies_words(len(copies))] if copies else [])


def left_before_words(left_out: Sequence[Sequence[str]]) -> str:
    """What a progress line that counts fewer files than the files hashed before it says of the ``[(path, why)]`` files
    left out between the two (copies counted once, files unusable unread), in the summary's words
    (``left_out_words``): ``"left out: 1 copy counted once"``; "" where none. "hashing 63 files", then "extracting 62
    files (61 images, 1 named as no image)": the duplicate dropped out before the line that explains it (a new user)."""
    if not left_out:
        return ""
    return "left out: " + ", ".join(left_out_words(*left_out_parts(left_out).values()))


# The kinds of file skipped, in the order a summary counts them (``skipped_kinds``): the files hashed are those in the
# class folders ("hashing 45 files in the class folders"), so one beside them is counted apart from them.
SKIPPED_KINDS = ("not in a class folder", "not an image", "unreadable")


def skipped_kind(why: str) -> str | None:
    """What a file no row for ``why`` is, among ``SKIPPED_KINDS``; None for a copy counted once (its photo is a row):
    the one rule of ``skipped_kinds``' counts and of ``counts_as_unreadable`` (--strict), which had one each."""
    if is_copy(why):
        return None
    return SKIPPED_KINDS[0] if why == NOT_IN_A_CLASS_FOLDER else SKIPPED_KINDS[1] if why == NOT_AN_IMAGE else SKIPPED_KINDS[2]


def skipped_kinds(skipped: Sequence[Sequence[str]]) -> str:
    """`` (1 not in a class folder, 1 unreadable)``: what the files of a ``[(path, why)]`` list skipped are, counted
    (``SKIPPED_KINDS``; one kind: `` (unreadable)``), so that a summary's numbers add up: extract said "hashing 45
    files", then "extracted 44 images ... 2 files skipped", and evaluate "skipped 2 files" and then "1 image file
    skipped", of a notes.txt beside the class folders and one broken JPEG (a tester). The one home of those words.
    Copies are not in the list (``left_out_parts`` takes them out); one given is counted as none of the kinds."""
    kinds = [skipped_kind(why) for _, why in skipped]
    counts = [(kind, kinds.count(kind)) for kind in SKIPPED_KINDS if kind in kinds]
    if not counts:  # copies alone: no kind to count (" ()" said nothing)
        return ""
    if len(counts) == 1:
        return f" ({counts[0][0]})"
    return " (" + ", ".join(f"{n} {kind}" for kind, n in counts) + ")"


def copies_words(n: int) -> str:
    """``"1 copy counted once"``, ``"3 copies counted once"``: extract's, evaluate's and info's count of the copies."""
    return f"{counted(n, 'copy')} counted once"


_LIMIT_LOCK = threading.Lock()


@contextmanager
def _pillow_limit_lifted(Image) -> Iterator[None]:
    """Pillow's decompression-bomb check off for the block only: at open, and for TIFFs at load too.

    Pillow checks at open, on the full size, before a JPEG can be drafted
    down (and TIFF checks its tiles again when it loads); MAX_PIXELS replaces
    it and applies to the pixels actually decoded. The limit is Pillow's one
    global, so it is lifted and put back under a lock (featcache's own
    decoding threads take turns; a thread of the program using featcache
    that opens an image during that window is not checked): the program
    keeps its own limit for its own images. It was switched off for the
    whole process (a tester's finding).
    """
    with _LIMIT_LOCK:
        limit = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = limit


# Formats whose Pillow plugin decodes an image inside ``Image.open`` (ICO and CUR load their largest entry,
# which may be a PNG of any size): opened under MAX_PIXELS, as _pillow_limit_lifted would let a 389 KB
# ICO holding a 20000x20000 PNG decode in full, 426 MB, before MAX_PIXELS is checked (an adversarial tester).
_DECODE_AT_OPEN = frozenset({"ICO", "CUR"})


@contextmanager
def _pillow_limit(Image, pixels: int) -> Iterator[None]:
    """Pillow's decompression-bomb error above ``pixels`` for the block (under the same lock). Pillow refuses above
    twice its MAX_IMAGE_PIXELS, so that is set to half; no warnings filter is touched (not thread-safe; a review)."""
    with _LIMIT_LOCK:
        limit = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = pixels // 2
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = limit


def _open(Image, path: str | Path | BinaryIO):
    """``Image.open`` (reads the header) without Pillow's pixel limit, except for the formats that decode there."""
    from PIL import UnidentifiedImageError

    formats = _formats(Image)
    try:
        with _pillow_limit_lifted(Image):
            return Image.open(path, formats=[f for f in formats if f not in _DECODE_AT_OPEN])
    except UnidentifiedImageError:
        if not isinstance(path, (str, Path)):
            if not getattr(path, "seekable", lambda: False)():  # a stream read once: no second look
                raise
            path.seek(0)
    with _pillow_limit(Image, MAX_PIXELS):
        return Image.open(path, formats=[f for f in formats if f in _DECODE_AT_OPEN])


def decode_image(path: str | Path | BinaryIO, size: int | None = None) -> np.ndarray:
    """``path`` (or an open binary file) -> (H, W, 3) uint8 RGB; resized to (size, size) with PIL bilinear when ``size`` is given.

    Grayscale, palette, RGBA, CMYK and 16-bit images become RGB; an animated
    GIF gives its first frame. A photo whose EXIF orientation tag says the
    camera was turned (phones set it instead of rotating the pixels) is
    turned upright before resizing, as photo viewers show it.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not isinstance(path, (str, Path)) and not getattr(path, "seekable", lambda: False)():
        path = io.BytesIO(path.read())  # a pipe: Pillow buffers it anyway; an icon needs a second look (a tester)
    try:
        with _open(Image, path) as im:
            im.seek(0)
            if im.format == "JPEG" and size is not None:
                im.draft("RGB", (size, size))  # decode at a reduced scale, >= size
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise UnreadableImage(f"{w}x{h} pixels is too large to decode safely (limit {MAX_PIXELS:,}); downscale it first")
            stored = _stored_integers(im)  # before load, which empties im.tile
            if im.format == "TIFF" and im.mode != "I" and 2 in _sample_formats(im):
                # SampleFormat 2 (signed): Pillow reads 8-bit ones as unsigned, so -1 came out as 255 (a tester)
                raise UnreadableImage(_NO_RANGE[_SIGNED_8])
            if im.format == "TIFF":
                with _pillow_limit_lifted(Image):  # TIFF checks its tiles' size against the limit again
                    _load_tiff(im)
            else:
                im.load()  # a truncated or corrupt file fails here, with its reason
                if im.format == "PNG":
                    _check_png_rows(im, path)
            im = _upright(im, ImageOps)
            if im.mode == "F":  # 0-1, 0-255 or any range: no scale fits all, and RGB clipped 0-1 floats to black
                raise UnreadableImage("32-bit floating-point pixels (mode F) have no known range; save the image with 8 or 16 bits")
            if im.mode == "I" and stored != _UNSIGNED_16:  # read as 16-bit, 0-255 came out all black, anything over 65535 white
                raise UnreadableImage(_NO_RANGE.get(stored, _NO_RANGE[_INT_32]))  # mode I only once loaded: not known
            if im.mode in ("I;16B", "I;16N"):  # Pillow has no point() for these: as 32-bit, the same values
                im = im.convert("I")
            if im.mode in ("I;16", "I;16L", "I"):
                im = im.point(lambda v: v * (1 / 256)).convert("L")
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                im = im.convert("RGBA")
                background = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(background, im)
            return _rgb_at(im, size)
    except UnreadableImage:
        raise
    except UnidentifiedImageError:
        raise UnreadableImage("not an image (format not recognized)") from None
    except Image.DecompressionBombError:  # an ICO/CUR's embedded image, refused while it is opened (_open)
        raise UnreadableImage(f"holds an image too large to decode safely (limit {MAX_PIXELS:,} pixels); "
                              "downscale it first") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnreadableImage(f"cannot decode ({first_line(exc)})") from None
    except MemoryError:  # the machine's trouble, not the file's: never a "skipped" photo
        raise
    except Exception as exc:  # noqa: BLE001 - see the comment below
        # Pillow's plugins raise whatever their parser meets on files they half-support: EOFError for a valid
        # SPIDER image (seek(0) on a non-stack file), NotImplementedError for some DDS pixel formats,
        # AttributeError, ... An adversarial tester's files crashed extract (the partial failing the same way
        # on every re-run) and predict. Such a file is skipped with its reason like any undecodable one;
        # KeyboardInterrupt and SystemExit are not Exceptions and pass through.
        raise UnreadableImage(f"cannot decode ({type(exc).__name__} in Pillow: {first_line(exc)})") from None


# A PNG whose compressed pixel data is whole (its zlib stream ends) but holds fewer rows than its header declares
# decodes without a word from Pillow: its zip decoder stops at the stream's end as at the last row (errcode 0; the
# check is commented out in ZipDecode.c), and the rows never written keep the zeros a new image starts with, black
# (an adversarial tester: 50 of 200 rows, the rest black, embedded). Inflating the data a second time to count it
# costs 43% of a PNG's decode at 224 px (99 hymenoptera photos saved as PNG), so it is done only where the decoder
# may have stopped short: a non-interlaced PNG whose last row is all zero bytes (rows are written in order, the last
# one last), and every interlaced one (rare; its last rows are not written last).
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type: grey, RGB, palette, grey+alpha, RGBA
# Adam7's seven passes: (first column, first row, column step, row step)
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
_TRUNCATED = "image file is truncated"  # Pillow's words for a JPEG or PNG cut short, said of a PNG's short data too


def _check_png_rows(im, source: str | Path | BinaryIO) -> None:
    """``OSError`` (decode's "cannot decode (...)") where a loaded PNG's pixel data holds fewer rows than its header
    declares; nothing where the cheap look says all rows were written (see the comment above)."""
    w, h = im.size
    if not im.info.get("interlace") and (h == 0 or im.crop((0, h - 1, w, h)).tobytes().strip(b"\0")):
        return
    if isinstance(source, (str, Path)):
        with open_photo(source) as fh:
            data = fh.read()
    else:
        at = source.tell()
        source.seek(0)  # where Image.open read it from
        data = source.read()
        source.seek(at)
    short = _png_short_data(data)
    if short:
        raise OSError(f"{_TRUNCATED} ({short})")


def _png_short_data(data: bytes) -> str | None:
    """How a PNG's pixel data (its IDAT chunks, inflated) falls short of what its IHDR declares ("its pixel data
    holds 50 of 200 rows"); None where it holds them all, or where the file is not laid out so (Pillow decoded it:
    this says nothing it cannot count)."""
    if not data.startswith(_PNG_SIGNATURE):
        return None
    pos, header, idat = len(_PNG_SIGNATURE), None, []
    while pos + 8 <= len(data):
        length, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR" and header is None and len(body) >= 13:
            header = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or header[9] not in _PNG_CHANNELS:
        return None
    w, h = int.from_bytes(header[0:4], "big"), int.from_bytes(header[4:8], "big")
    bits = header[8] * _PNG_CHANNELS[header[9]]

    def stride(width: int) -> int:  # one row's bytes, its filter byte first
        return 1 + (width * bits + 7) // 8

    if header[12]:
        passes = [((w - c + dc - 1) // dc, (h - r + dr - 1) // dr) for c, r, dc, dr in _ADAM7]
        expected = sum(stride(pw) * ph for pw, ph in passes if pw > 0 and ph > 0)
    else:
        expected = stride(w) * h
    held = _inflated_length(idat, expected)
    if held is None or held >= expected:
        return None
    if header[12]:
        return f"its pixel data holds {held * 100 // expected}% of the interlaced image"
    return f"its pixel data holds {held // stride(w)} of {h} rows"


def _inflated_length(pieces: Sequence[bytes], enough: int) -> int | None:
    """How many bytes the zlib stream in ``pieces`` inflates to, counted up to ``enough`` (no more is kept, so a
    huge stream costs no memory); None where zlib refuses the stream (Pillow's verdict on it stands)."""
    import zlib

    inflater, held = zlib.decompressobj(), 0
    try:
        for piece in pieces:
            while piece and held < enough and not inflater.eof:
                out = inflater.decompress(piece, 1 << 20)
                if not out and len(inflater.unconsumed_tail) == len(piece):
                    break  # zlib takes no more of it: never a loop without end
                held, piece = held + len(out), inflater.unconsumed_tail
        if held < enough and not inflater.eof:
            held += len(inflater.flush())  # what the last piece left inside zlib
    except zlib.error:
        return None
    return held


def resize_pixels(image: np.ndarray, size: int) -> np.ndarray:
    """One raw uint8 image (H, W, 1|3) as ``decode_image`` would make it of a file with these pixels: RGB, then
    Pillow's bilinear resize to ``size`` x ``size`` ((size, size, 3) uint8). For arrays given to a model whose head
    was trained on photos: the model's own resize (TensorFlow's bilinear, the lesson's) gives other pixels than
    the decoder the cache was made with, and the same photos as arrays were classified differently from the files
    (P(ants) moved by up to 0.42; an independent audit). A JPEG's reduced-scale decoding has no array counterpart."""
    from PIL import Image

    return _rgb_at(Image.fromarray(np.ascontiguousarray(image[..., 0] if image.shape[-1] == 1 else image)), size)


def _rgb_at(im, size: int | None) -> np.ndarray:
    """The last steps of every decode, one home for both callers: RGB, then Pillow's bilinear resize to ``size``."""
    from PIL import Image

    if im.mode != "RGB":
        im = im.convert("RGB")  # convert() copies even an RGB image: a copy costs as much as the resize (see _upright)
    if size is not None and im.size != (size, size):
        im = im.resize((size, size), Image.BILINEAR)
    return np.asarray(im, dtype=np.uint8)


# What a mode-"I" image (Pillow's 32-bit signed integers) holds, told by the file's own layout: decode_image reads
# it as 16-bit values (v >> 8) only where they are unsigned 16-bit ones: a PGM/PPM deeper than 8 bits (Pillow scales
# any maxval over 255 to 0-65535), a 16-bit grayscale PNG (Pillow 9.5 opens it as "I", 10.4 and later as "I;16").
# A TIFF of 32-bit integers (BitsPerSample 32) holding 0-255 decoded all black and one of large values all white, and
# a signed 16-bit TIFF lost its negative half to black: those are skipped (an adversarial tester), as are the other
# 32-bit integer images Pillow reads (IM, FITS, McIdas).
_UNSIGNED_16, _SIGNED_16, _INT_32, _SIGNED_8 = "unsigned 16-bit", "signed 16-bit", "32-bit", "signed 8-bit"
_NO_RANGE = {
    _SIGNED_8: "signed 8-bit integer pixels have no known range; save the image with unsigned 8 or 16 bits",
    _SIGNED_16: "signed 16-bit integer pixels have no known range; save the image with unsigned 8 or 16 bits",
    _INT_32: "32-bit integer pixels (mode I) have no known range; save the image with 8 or 16 bits",
}
_RAWMODE = re.compile(r"I;(\d+)([A-Z]*)")


def _sample_formats(im) -> tuple:
    """A TIFF's SampleFormat values (1 unsigned, 2 signed, 3 float; one per sample or one for all), () without."""
    value = im.tag_v2.get(339, ())
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _stored_integers(im) -> str | None:
    """For a mode-"I" image before its load: ``_UNSIGNED_16``, ``_SIGNED_16`` or ``_INT_32`` (also anything whose
    layout Pillow does not say in a rawmode such as "I;16B" or "I;32S": another plugin's, a gzipped FITS); None for
    other modes."""
    if im.mode != "I":
        return None
    if im.format == "PPM":
        return _UNSIGNED_16
    kinds = set()
    for tile in im.tile:
        args = tile[3]
        rawmode = args if isinstance(args, str) else args[0] if args and isinstance(args[0], str) else ""
        m = _RAWMODE.fullmatch(rawmode)
        bits, flags = (int(m[1]), m[2]) if m else (32, "")
        kinds.add(_INT_32 if bits > 16 else _SIGNED_16 if "S" in flags else _UNSIGNED_16)
    return kinds.pop() if len(kinds) == 1 else _INT_32


# The probe's sizes: 32 px drafts the JPEG to 1/2 (80x60) then resizes, 96 px decodes it whole and downscales
# (antialiased), 224 px upscales, None keeps it whole: every path decode_image takes for a JPEG.
PIXEL_PROBE_SIZES = (32, 96, 224, None)


@functools.cache
def pixel_digest() -> str:
    """SHA-256 of what ``decode_image`` makes here of a fixed JPEG (``probe_image.PROBE_JPEG``) at each of
    ``PIXEL_PROBE_SIZES``: the same on every machine whose Pillow and libjpeg give the same pixels.

    featcache's decoder is its code (``images.DECODER``) and the libraries it calls. Pillow-SIMD, a drop-in
    Pillow whose bilinear resize rounds otherwise, gives other pixels (1 off on 0.7% of the values of 696 photos
    at 224 px) and features up to 0.12 apart (median 0.005 per image, MobileNetV2), 1,000x the 1e-4 the runtimes
    agree to; a cache extracted there and resumed with Pillow would have mixed both in one file. About 3 ms, once
    per process.
    """
    from featcache.sources.probe_image import PROBE_JPEG

    h = hashlib.sha256(b"featcache pixel probe\0")
    for size in PIXEL_PROBE_SIZES:
        pixels = decode_image(io.BytesIO(PROBE_JPEG), size)
        h.update(repr((size, pixels.shape)).encode() + pixels.tobytes())
    return h.hexdigest()


_STDERR_LOCK = threading.Lock()


@contextmanager
def _c_stderr() -> Iterator[list[str]]:
    """The lines written on file descriptor 2 inside the block, by anyone (the caller sorts out libtiff's).

    libtiff reports a damaged strip there ("ZIPDecode: Decoding error at
    scanline 0, incorrect data check.", "Using code not yet in table.")
    and Pillow still returns an image, all black: measured on LZW and
    deflate TIFFs with 40 flipped bytes. The descriptor is process-wide, so
    one TIFF at a time is loaded under it (TIFFs are rare in photo folders;
    other formats decode in parallel, untouched).
    """
    heard: list[str] = []
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield heard
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            heard.extend(line.strip() for line in sink.read().decode(errors="replace").splitlines() if line.strip())


# libtiff's lines name the function or codec that reported ("ZIPDecode:",
# "Fax4Decode:", "PackBitsDecode:", "JPEGLib:", "JPEGSetupDecode:",
# "TIFFFillStrip:") or the name Pillow opens the file under ("tempfile.tif:"):
# the lines of LZW, deflate, PackBits, JPEG and Group 4 TIFFs with 40 flipped
# bytes. Anything else on fd 2 meanwhile is not libtiff's (a Pillow
# UserWarning, another thread's progress line) and is passed on.
# A review's 10 codecs x 12 damage patterns added "MissingRequired:", "_TIFFVSetField:",
# "gtStripContig:" and lines with no module (": WEBP compression support is not configured.").
_LIBTIFF_LINE = re.compile(r"(tempfile\.tif|_?TIFF\w*|O?JPEG\w*|\w*Decode\w*|MissingRequired|gt(Strip|Tile)\w*|): ")


def _load_tiff(im) -> None:
    """Decode a TIFF's pixels now; whatever libtiff reports makes it unreadable, not a black image."""
    failed = None
    with _c_stderr() as lines:
        try:
            im.load()
        except OSError as exc:  # "decoder error -2": libtiff's own line says more
            failed = first_line(exc)
    heard, others = [], []
    for line in lines:
        (heard if _LIBTIFF_LINE.match(line) else others).append(line)
    if others:  # not ours to judge or to swallow: back to where they were going
        os.write(2, "".join(f"{line}\n" for line in others).encode())
    if heard or failed:
        raise UnreadableImage(f"damaged TIFF ({heard[0].removeprefix('tempfile.tif: ').rstrip('.') if heard else failed})")


def _upright(im, ImageOps):
    """``im`` (loaded: a PNG's EXIF may follow its pixels) turned by its EXIF orientation; ``im`` itself when there is nothing to turn or the EXIF block is broken.

    Pillow has raised KeyError, IndexError and ZeroDivisionError on malformed
    EXIF in real phone photos whose pixels are fine: such a photo keeps its
    stored orientation rather than stopping an extraction. Still a function
    of the bytes alone, so the cache fingerprint stays valid.

    ``exif_transpose`` returns a copy when there is nothing to turn, and a
    fresh full-size image costs its page faults: with convert()'s copy, 1.4 ms
    of the 3.8 ms a 500x333 JPEG took to become 224x224 pixels (the same
    pixels: 2,000 generated photos and hymenoptera's 398 compared bit for
    bit; 12 interleaved rounds, docs/benchmarks.md). So it is called only for
    an orientation that turns the image.
    """
    try:
        if im.getexif().get(_ORIENTATION, 1) not in _TURNS:
            return im
        return ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 - any EXIF parsing failure means "no usable tag"
        return im


_ORIENTATION = 0x0112  # the EXIF tag (PIL.ExifTags.Base.Orientation)
_TURNS = frozenset(range(2, 9))  # the values exif_transpose acts on; 1 and anything else leave the pixels as stored


# Said of a file whose name cannot be written into a cache, a CSV or a message.
def skipped_listing(skipped: Sequence[Sequence[str]], limit: int, more: str = "") -> str:
    """``a.jpg (why); b.png (why); and 3 more{more}``: the first ``limit`` of ``(path, why)`` pairs of files that did
    not decode, as extract, predict and info list them (one home for the three lines)."""
    from featcache.errors import one_line

    listed = "; ".join(one_line(f"{p} ({why})") for p, why in skipped[:limit])
    return listed + (f"; and {len(skipped) - limit} more{more}" if len(skipped) > limit else "")


def skipped_files_line(skipped: Sequence[Sequence[str]], limit: int, where: str = "",
                       what: tuple[str, str] = ("", "")) -> str:
    """``skipped 2 files, WHERE: README.txt (not inside a class folder); ants/notes.txt (not an image file, left
    out)``: extract's and evaluate's line of a photo folder's files that are no rows, each with its reason. A file at
    the folder's root is no photo of any class, not a file that failed to read: evaluate said of it "files that are
    not readable images" (predict's words for its own inputs, ``what``, said of one file and of more: "skipped 2
    files WHAT: ..."), where extract says its reason alone (a re-read). One home of the line, predict's included."""
    said = agreeing(len(skipped), *what)
    # a photo folder's files, of several kinds, counted by kind (``skipped_kinds``); predict's inputs (``what``) are
    # files given, each not a readable image
    said = f" {said}" if said else skipped_kinds(skipped)
    return f"skipped {counted(len(skipped), 'file')}{said}{f', {where}' if where else ''}: {skipped_listing(skipped, limit)}"


NOT_UTF8 = "file name is not valid UTF-8; rename it"


def locale_cause() -> str:
    """Why a name whose bytes are UTF-8 came back undecoded: Python's file system encoding, set by the locale
    (ASCII under LC_ALL=C with UTF-8 mode turned off, PYTHONUTF8=0), and the fix."""
    import sys

    return (f"Python reads file names as {sys.getfilesystemencoding()} here (the locale); set LC_ALL=C.UTF-8 "
            "(or PYTHONUTF8=1) and re-run")


def utf8_bytes(name: str) -> bool:
    """Whether a name's bytes on disk are UTF-8, whatever Python's file system encoding made of them: under an
    ASCII one a UTF-8 name such as 'café' comes back as surrogates too, and was called "not valid UTF-8" (an
    adversarial tester)."""
    try:
        os.fsencode(name).decode("utf-8")
        return True
    except (UnicodeError, ValueError):
        return False


def not_utf8(name: str, what: str = "file name", fix: str = "rename it") -> str:
    """Why ``name`` (not ``utf8_name``) is refused: its bytes are not UTF-8 (``fix``), or they are and the locale
    is the cause (``locale_cause``): renaming would not help."""
    if utf8_bytes(name):
        return f"{what} is UTF-8, but {locale_cause()}"
    return f"{what} is not valid UTF-8; {fix}"


def utf8_name(name: str) -> bool:
    """Whether a file name (as Python gives it) is valid UTF-8: undecodable bytes in a name come back as surrogates,
    which no UTF-8 file (a cache's paths, predict's CSV) can hold."""
    try:
        name.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False
