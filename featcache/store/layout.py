"""The HDF5 layout of a featcache cache: names, attributes, datasets and the content digest.

Layout (format 2)::

    /                 attrs: format, format_version, fingerprint, settings, provenance,
                      content_digest (SHA-256 of the rows and the identity attributes),
                      provenance_digest (SHA-256 of the other root attributes; caches since 2026-12-02),
                      features_digest (SHA-256 of every feature value, checked by verify; caches since 2026-12-03),
                      dataset_digests (JSON: each feature dataset's SHA-256, combining to features_digest; checked
                      when a layer is read for use; caches sealed since they were added)
                      completion_digest (SHA-256 of complete and each split's rows_done and rows; since 2026-12-05)
    /<split>/labels   (N,) int64        chunked, Fletcher-32
    /<split>/index    (N,) int64        row of each image in the source data; chunked, Fletcher-32
    /<split>/paths    (N,) str          photos only; chunked (HDF5 cannot filter strings: the digest guards them)
    /<split>/digests  (N,) S64          SHA-256 hex of each image's content (file bytes, or raw pixels); Fletcher-32
    /<split>/features/<layer>  (N, D) float32|float16, chunked along N, Fletcher-32: the original view
    /<split>/views/<view>/<layer>  (N, D) every other view (issue 15), row-aligned with features, same
                      chunks and checksum; only in a cache made with views (root attr ``views``, JSON list
                      of view names in stored order, "orig" first; absent = the original view alone)
    /<split>          attrs: rows_done

Format 1 (featcache 0.1) had no checksums and no content digest; see
docs/cache-format.md for what featcache does with such a file.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import h5py
import numpy as np

from featcache.errors import CacheBusy, DamagedCache, FeatcacheError, NotHDF5, command, first_line, given_path, no_permission, option, out_option, shell_path
from featcache.sources.base import STAGING  # noqa: F401  (the one group of a staged partial file)
from featcache.store.atomic import NAME_MAX, is_no_space, stat_stamp
from featcache.store.fingerprint import fingerprint
from featcache.store.lock import lock_path  # noqa: F401  (its home: the lock's module, which imports no h5py)
# the format's name and version and a cache's suffixes: their home imports no h5py, so the CLI's parser reads them
from featcache.store.format import (FORMAT, FORMAT_VERSION, CACHE_SUFFIX, CACHE_SUFFIX_WORDS, CACHE_SUFFIXES,  # noqa: F401
                                    is_cache_name)
from featcache.validate import outside_storage

if TYPE_CHECKING:
    from featcache.sources.base import SplitSpec


# extract's --out in a Python call: the field of its StoreSpec (extract takes no ``out=``). extract runs within
# ``errors.output_named(STORE_KEYWORDS)``, so every line of its store that names its output (``errors.out_option``:
# the partial's, the lock's, the full disk's) says it.
OUT_KEYWORD = "StoreSpec(out=...)"
# All of extract's options that a message may name whose keyword is a StoreSpec field (``errors.output_named``): the
# lock's timeout line said "a longer lock_timeout", a keyword extract does not take (a reviewer, 2026-12-06).
STORE_KEYWORDS = {"--out": OUT_KEYWORD, "--lock-timeout": "StoreSpec(lock_timeout=...)"}


def force_words() -> str:
    """extract's --force as its caller gives it (the API's extract takes it in its StoreSpec)."""
    return option("--force", "StoreSpec(force=True)")


# Rows per chunk of a feature dataset: extract's default batch, so a batch
# write fills whole chunks. The writer keeps no chunk cache (below), so a
# 64-row batch written into a taller chunk reads, checks and rewrites all of
# it: with 256 rows, writing 20,000 x 1280 float32 rows took 1.66x as long as
# with 64 (0.79 against 0.48 s), while full reads (0.07 s) and verify kept
# the same speed. On a 16-wide layer 64-row chunks read 2.5x slower, in
# hundredths of a second for 70,000 rows (scripts/bench_chunk_rows.py,
# docs/benchmarks.md). Caches written with 256 read and resume as before:
# readers and writers step by each dataset's own chunks.
CHUNK_ROWS = 64
# No chunk cache when writing. The writer reopens a dataset for each batch,
# so a cache lived for one write only and saved nothing (7,000 x 1280 rows
# in batches of 64: 2.3-2.5 s without, 2.7-2.9 s with the earlier 32 MB);
# and with one, a full disk surfaced only when the cache was flushed as the
# dataset closed, where h5py ignores the error and HDF5 later segfaults
# (exit 139). Without it, ENOSPC is an OSError of the write itself.
WRITE_CHUNK_CACHE = 0
# Labels, index and paths are small: one chunk holds this many rows.
ROW_CHUNK = 4096
# Every dataset we write carries HDF5's Fletcher-32 checksum per chunk: a
# damaged chunk is an OSError when it is read, never wrong numbers.
CHECKSUM = {"fletcher32": True}
# The file format of HDF5 1.8 (2008) or later for every file we create: its
# superblock and object headers carry checksums of their own, where HDF5's
# oldest format (h5py's default) has none for metadata. One-byte flips at 300
# random places of a small cache, `featcache verify` on each: 183 refused, 116
# harmless (nothing read back changed) and 1 provenance attribute changed
# (weights_source, outside the content digest; since caught by the provenance
# digest: 182 refused, 118 harmless, 0 changed) with it; 166 refused, 130 harmless
# and 4 silently wrong or unreadable later without it (an attribute; a chunk
# coordinate, now caught by ``check_chunks_stored``). Not 1.10's format
# ("v110": 279 refused, 21 harmless): its superblock records that a writer has
# the file open, and a killed extraction's partial could then not be opened
# again to resume ("file is already open for write"). Writing costs the same
# (1.005x, 20,000 x 1280 rows, 5 rounds in turns); older caches still open.
LIBVER = "v108"
# Attributes stored as JSON because HDF5 attributes cannot hold dicts/lists of str.
JSON_ATTRS = ("class_names", "layers", "source", "settings", "data_digest", "skipped", "layer_widths", "views", "runtimes",
              "dataset_digests")
# Each feature dataset's SHA-256 by its name (JSON), stored beside the features digest they combine to: a read
# of a whole layer checks that layer's own digest in the same pass (train, evaluate, probe and curve used features
# rewritten through HDF5 silently; only verify checked the combined digest). It is a root attribute outside
# DIGESTED_ATTRS, so the provenance digest covers it, and ``combine_digests`` of it must give the features digest.
# Caches sealed before it (none stored) read as before.
DATASET_DIGESTS = "dataset_digests"
# The digest of a cache's completeness (``completion_digest``: ``complete`` and each split's ``rows_done`` and rows),
# sealed with it since 2026-12-05. ``rows_done`` is a split's attribute, which no other digest covered. Not
# ``completed`` (the provenance digest covers it): featcache 57fa2c8 seals a sealed partial again, rewriting
# ``completed`` and the other digests but not this one, and a cache it finished from a partial sealed here was refused
# as damaged though intact. A root attribute outside DIGESTED_ATTRS, so the provenance digest covers it (deleted, it is missed there);
# the content digest is unchanged, so a featcache from before reads a cache that has it. Caches sealed before have
# none and read as before.
COMPLETION_DIGEST = "completion_digest"
# What the seal writes (``writer._seal``), always after ``complete`` is set true: a file marked unfinished that holds
# any of them was sealed complete and edited since (the writer never sets ``complete`` back to false, but where it
# unseals a partial it takes rows back from: ``writer._unseal`` removes these first, in this order, the content digest
# first).
SEAL_ATTRS = ("content_digest", "provenance_digest", "features_digest", DATASET_DIGESTS, COMPLETION_DIGEST)
# Root attributes that readers rely on; the content digest covers them.
DIGESTED_ATTRS = ("format", "format_version", "fingerprint", "settings", "class_names", "layers", "default_layer",
                  "layer_widths", "dtype", "backbone", "weights", "image_size", "preprocessing", "dataset", "skipped")
ROW_DATASETS = ("labels", "index", "paths")
ORIG = "orig"  # the original view: stored in features/<layer>, exactly where a cache without views has it
VIEWS = "views"  # the group of the other views (and the root attribute naming them all)


def view_dataset(view: str, layer: str) -> str:
    """A view's dataset of ``layer``, relative to its split group: ``features/<layer>`` for the
    original view, ``views/<view>/<layer>`` for every other (a view name holds no '/' or '.')."""
    return f"features/{layer}" if view == ORIG else f"{VIEWS}/{view}/{layer}"


def view_names(attrs: dict[str, Any]) -> list[str]:
    """The views of a cache from its (decoded) root attributes: ``["orig"]`` when it has no ``views``."""
    views = attrs.get(VIEWS)
    return list(views) if views else [ORIG]


def recorded_runtimes(attrs: dict[str, Any]) -> list[str]:
    """The runtimes a cache's attributes record, in the order they ran (``runtimes``, or its one ``runtime``). A
    value of another form (a damaged or edited file, which verify names) records none: ``runtimes`` set to 5 in a
    cache beside --out was a TypeError traceback in extract's line about it, and a string was read letter by letter
    (helper-349). Its home: the attributes' own module, which extract's lines and ``info`` both read
    through (info read ``runtimes`` itself)."""
    many = attrs.get("runtimes")
    if many is None:
        one = attrs.get("runtime")
        return [one] if isinstance(one, str) else []
    return [r for r in many if isinstance(r, str)] if isinstance(many, (list, tuple)) else []


PARTIAL_SUFFIX = ".partial.h5"
# The longest name featcache puts beside a cache: its partial, held to atomic.NAME_MAX (".lock" is no longer; a
# regrouped copy is a hidden temporary whose name atomic._temporary_parts fits).


# The partial's attribute naming the cache it becomes (``CacheWriter`` sets it; ``store.partial`` reads it). The
# run seals the partial (complete, digests) and then renames it into place: one stopped between the two (Ctrl-C
# while the features digest is read, a full disk, a power loss) leaves a complete file at the partial's name,
# which is featcache's own to publish; a user's cache saved under that name names itself (a review).
PARTIAL_OF = "partial_of"


def named_as_partial_of(path: Path, of: object) -> bool:
    """Whether ``path`` has the partial's name of the cache ``of`` (a file's ``PARTIAL_OF``) names: the one rule of
    a sealed partial not yet published (``store.partial``), of what ``info`` shows (``reader._shown_meta``) and of a
    partial copied or renamed (``reader._copy_of``). Two of them had their own copy of it (a reviewer, R10a)."""
    return isinstance(of, str) and bool(of) and path.name == of + PARTIAL_SUFFIX


def partial_path(path: Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + PARTIAL_SUFFIX)


def partial_exists(path: Path) -> bool:
    """Whether an extraction's partial file lies beside ``path``. A name of 245-255 bytes has no partial (its
    ``.partial.h5`` name is too long to exist): ``exists()`` raised ENAMETOOLONG, and verify/info of a head or CSV
    featcache wrote under such a name said "the name is too long" (an adversarial tester)."""
    try:
        return partial_path(path).exists()
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return False
        raise


def partial_name_bytes(name: str) -> int:
    """The bytes of the file name of ``name``'s partial (``<name>.partial.h5``), which must fit in ``NAME_MAX``: the
    one measure for a --out name (``check_cache_name``) and a default one (``embedding.runner``)."""
    return len(os.fsencode(name)) + len(PARTIAL_SUFFIX)


def check_default_name(path: Path, what: str, made_from: str, fix: str, extra: int = 0, extra_words: str = "") -> Path:
    """``path``, a default output's name made from ``made_from`` (a data set's, a folder's or a file's name), fits a
    file name with ``extra`` bytes more (``extra_words`` says what: a partial's suffix), else one line asking for
    ``fix``, before any work: ENAMETOOLONG said "the name is too long ...; use a shorter name" of a name the user
    never gave (testers: extract, train, curve; a photo folder's name is up to about 210 bytes). The one check of
    every command's default name."""
    n = len(os.fsencode(path.name)) + extra
    if n > NAME_MAX:
        raise FeatcacheError(f"the default {what}, made from {made_from}, is too long ({n} bytes{extra_words}; a file "
                             f"name holds at most {NAME_MAX}); {fix}")
    return path


def made_from(kind: str, name: str) -> str:
    """``the data set name ddd...`` for a message of ``check_default_name``: the name as ``errors.clipped`` gives it."""
    from featcache.errors import clipped

    return f"the {kind} {clipped(str(name))}"


def short_hash(text: str) -> str:
    """6 hex of the SHA-256 of ``text`` (its bytes as ``os.fsencode`` gives them: a Latin-1 path's surrogates too,
    which ``.encode()`` refused), the tag that keeps default names apart: of an owner's path (a report folder, a
    model), of layers probed, of views a head or model holds, of a head's parameters. The one home of that rule:
    six places spelled it."""
    return hashlib.sha256(os.fsencode(text)).hexdigest()[:6]


def default_report_folder(plain: Path, what: str, made_from: str, record: str, mine: Callable[[dict], bool],
                          owner: str) -> Path:
    """A report's default folder: ``plain``, unless the ``record`` file (JSON) there says the report is another's
    (``mine`` of it is false: another cache's probe, another head's evaluation), then ``plain`` with 6 hex of a hash
    of ``owner`` (whose report this one is) added, so each keeps its folder. A folder whose record cannot be read
    (none, or from before it was written) cannot say whose it is and is taken. The name taken is checked
    (``check_default_name``), the tagged one only when it is the one taken: a name at the file system's limit is
    taken (a tester). The one shape of probe's and evaluate's default folder, which had a copy each."""
    def checked(path: Path) -> Path:
        return check_default_name(path, what, made_from, f"name the folder with {given_path('--out', 'DIR')}")

    plain = checked(plain)
    try:
        prior = json.loads((plain / record).read_text())
    except (OSError, ValueError):
        return plain
    if not isinstance(prior, dict) or mine(prior):
        return plain
    # os.fsencode: a Latin-1 path (a surrogate in its str) was a UnicodeEncodeError, a traceback (a tester)
    return checked(plain.with_name(f"{plain.name}_{short_hash(owner)}"))


def check_cache_name(path: str | Path) -> None:
    """A cache's name as ``--out`` (``StoreSpec(out=)``) gives it, checked when the ``StoreSpec`` is made (the CLI
    makes one of its flags): no folder, one of ``CACHE_SUFFIXES`` at its end (any case), and room for its partial's name (a 246-byte --out
    failed with ENAMETOOLONG, a traceback). ``StoreSpec(out="/tmp/somedir")`` and ``out="x.txt"`` were taken, and
    extract wrote HDF5 caches so named (a notebook user); a folder was refused only after the data's digest."""
    from featcache.validate import check_file_name

    def given(p: Path) -> str:  # a path to paste: quoted for a shell in a command, StoreSpec(out='...') in a call
        return given_path("--out", p, "StoreSpec(out={})", word=True)

    check_file_name(path, "--out", "StoreSpec(out={})", "cache" + CACHE_SUFFIX)  # 'x.h5/': before Path drops the /
    path = Path(path)
    try:
        folder = path.is_dir()
    except (OSError, ValueError):  # a name too long, a NUL: said below, or where the path is used
        folder = False
    if folder:
        raise FeatcacheError(f"{given(path)} is a folder; name the cache file in it, e.g. {given(path / ('cache' + CACHE_SUFFIX))}")
    if not is_cache_name(path):
        try:  # x.txt -> x.h5, somedir -> somedir.h5
            fix = given(path.with_suffix(CACHE_SUFFIX))
        except ValueError:  # no name to put it on ('..')
            fix = f"a name ending in {CACHE_SUFFIX}"
        raise FeatcacheError(f"{given(path)}: a cache is an HDF5 file whose name ends in {CACHE_SUFFIX_WORDS}; use {fix}")
    name = path.name
    # the name's own checks in the caller's words too: StoreSpec(out=...) said "--out file name" (an API tester)
    file_name = option("--out file name", "the file name of StoreSpec(out=...)")
    try:  # the partial records its cache's name in an HDF5 attribute, which holds UTF-8 only
        name.encode("utf-8")
    except UnicodeEncodeError:  # a traceback once the partial was made, left behind on every rerun (a tester)
        from featcache.sources.decode import locale_cause, utf8_bytes

        if utf8_bytes(name):  # 'cé.h5' where Python's file system encoding is ASCII: another name would not help
            raise FeatcacheError(f"{file_name} {shell_path(name)} is UTF-8, but {locale_cause()}") from None
        raise FeatcacheError(f"{file_name} {shell_path(name)} is not valid UTF-8, which a cache records its name in; "
                             "choose a name in UTF-8") from None
    if partial_name_bytes(name) > NAME_MAX:
        raise FeatcacheError(f"{file_name} is too long ({len(os.fsencode(name))} bytes): featcache writes "
                             f"<name>{PARTIAL_SUFFIX} beside it and a file name holds at most {NAME_MAX} bytes; "
                             f"choose a name of at most {NAME_MAX - len(PARTIAL_SUFFIX)} bytes")


def output_lock_path(path: Path) -> Path:
    """The lock an output file's writers take turns on (``atomic.atomic_path``'s recheck): beside the path as given,
    where the file is written (a link is replaced, not followed: ``lock_path`` put it beside a read-only target, an
    adversarial tester), ``.<name>.lock``, or ``.<16 hex of its SHA-256>.lock`` where that name would pass the file
    system's 255 bytes (a legal 251-byte --out failed after the work)."""
    import hashlib
    import os

    path = Path(path)
    name = f".{path.name}.lock"
    if len(name.encode("utf-8", "surrogateescape")) > 255:
        name = f".{hashlib.sha256(path.name.encode('utf-8', 'surrogateescape')).hexdigest()[:16]}.lock"
    # The folder as the kernel finds it (links and '..' through them resolved), the name as given: every spelling of
    # one output takes one lock; abspath's textual '..' put 'link/../h.npz''s lock in another folder (a review)
    return Path(os.path.realpath(path.parent)) / name


def encode(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (dict, list, tuple)) or value is None else value


def decode_attrs(attrs: h5py.AttributeManager) -> dict[str, Any]:
    """Root attributes as Python values; a damaged JSON attribute is a ``ValueError``."""
    out = {}
    for key, value in attrs.items():
        if isinstance(value, bytes):
            value = value.decode()
        if isinstance(value, np.generic):
            value = value.item()
        if key in JSON_ATTRS and isinstance(value, str):
            value = json.loads(value)
        out[key] = value
    return out


def damaged(path: Path, what: str) -> FeatcacheError:
    """The one line for a cache whose content is not what was written."""
    return DamagedCache(f"{path} is damaged ({what}); re-extract it: delete it and re-run {command('extract', '...')}")


def check_inside(path: Path, f: h5py.File) -> None:
    """Refuse (``damaged``) a featcache file with a link or storage outside it (``outside_storage``), before any
    dataset of it is read or any link followed: the first thing every reader does after the root attributes."""
    try:
        problem = outside_storage(f)
    except (RuntimeError, OSError, ValueError, KeyError) as exc:  # a damaged link table or object header
        raise damaged(path, f"its structure is unreadable: {first_line(exc)}") from None
    if problem:
        raise damaged(path, f"{problem}; featcache writes none, and reads nothing outside a cache")
    try:
        misplaced = splits_problem(f) or misplaced_object(f)
    except (RuntimeError, OSError, ValueError, KeyError) as exc:
        raise damaged(path, f"its structure is unreadable: {first_line(exc)}") from None
    if misplaced:
        raise damaged(path, misplaced)


def recorded_splits(f: h5py.File) -> list[str] | None:
    """The splits a complete cache was written with, in ``split_names``' order: the keys of its settings'
    ``data_digest`` (one digest per split, of every source), read where the settings are still what its fingerprint
    hashes; None where they cannot say (no settings, edited ones: ``reader._check_settings`` says so later)."""
    try:
        settings = json.loads(_attr_value(f.attrs.get("settings")))
        stated = fingerprint(settings)
    except (TypeError, ValueError):
        return None
    digests = settings.get("data_digest") if isinstance(settings, dict) else None
    if stated != _attr_value(f.attrs.get("fingerprint")) or not isinstance(digests, dict) or not digests:
        return None
    return sorted(digests, key=lambda k: (SPLIT_ORDER.index(k) if k in SPLIT_ORDER else len(SPLIT_ORDER), k))


def splits_problem(f: h5py.File) -> str | None:
    """What is at the top of a complete cache that featcache did not put there, in words; None where its top holds
    exactly the splits it was written with (``recorded_splits``). A group added there (``f.create_group("zzz")``) or
    a split deleted was "completion digest mismatch: its 'complete' or a split's rows_done changed" (every group at the
    top is taken for a split, and the completion digest hashes each: an adversarial tester, helper-255). An
    unfinished file is the writer's to judge (a photo folder's partial holds its ``STAGING`` group)."""
    if not f.attrs.get("complete"):
        return None
    splits = recorded_splits(f)
    if splits is None:
        return None
    listed = ", ".join(splits)
    for name in f:
        if name not in splits:
            kind = _kind(f.get(name)).removeprefix("a ")
            return f"it holds an unknown {kind} {name!r} at its top, where featcache writes only its splits: {listed}"
    missing = [name for name in splits if name not in f]
    if missing:
        return f"its split {missing[0]!r} is missing; featcache wrote the splits {listed}"
    return None


def misplaced_object(f: h5py.File) -> str | None:
    """The first member of a split that is not the kind of HDF5 object featcache writes there, in words; None where
    each is. A group where a split's labels, index, paths, digests or a layer's features were (or a dataset where
    ``features`` or a view's group was, a labels dataset of no dimension) crashed every reader with Python's
    AttributeError or IndexError, past the one-line rule (an adversarial tester, h5py edits): each reader assumed
    the kinds its writer made. Checked on every open, before the completion digest reads ``labels``' shape."""
    for split in split_names(f):
        g = f[split]
        if not isinstance(g, h5py.Group):  # split_names lists train, test and val whatever they are
            return split_not_a_group(split, g)
        for name in (*ROW_DATASETS, "digests"):
            if name in g and not (isinstance(g[name], h5py.Dataset) and g[name].ndim >= 1):
                return f"{split}/{name} is {_kind(g[name])}, where featcache writes one value per image"
        groups = [("features", g.get("features"))]
        views = g.get(VIEWS)
        groups.append((VIEWS, views))
        if isinstance(views, h5py.Group):
            groups += [(f"{VIEWS}/{view}", views[view]) for view in views]
        for name, group in groups:
            if group is None:
                continue
            if not isinstance(group, h5py.Group):
                held = "views" if name == VIEWS else "layers"
                return f"{split}/{name} is {_kind(group)}, where featcache writes a group of {held}"
            if name == VIEWS:
                continue
            for layer in group:
                if not isinstance(group[layer], h5py.Dataset):
                    return f"{split}/{name}/{layer} is {_kind(group[layer])}, where featcache writes a layer's features"
    return None


def split_not_a_group(split: str, obj: Any) -> str:
    """The line for a split's name (train, test, val) held by an object that is no group: the reader's
    (``misplaced_object``) and a partial's count of its rows (``partial.split_progress``), one wording."""
    return f"{split} is {_kind(obj)}, where featcache writes a split's group"


# What featcache writes in a split's group (``lay_out``); what a features or views group holds is the reader's
# ``Cache._check_listed``'s to check, on every open.
SPLIT_MEMBERS = (*ROW_DATASETS, "digests", "features", VIEWS)


def foreign_objects(f: h5py.File) -> list[tuple[str, str]]:
    """Each object in a split's group that featcache does not write there (``SPLIT_MEMBERS``), as ``(path, kind)``
    (``_kind``: "a dataset"), in split and name order; checked by ``verify`` (``reader.verify``), after
    ``misplaced_object`` has found every split a group. ``train/extra`` added as a dataset was read by nothing, and
    verify said "intact ... 8 datasets" (an adversarial tester, helper-255)."""
    return [(f"{split}/{name}", _kind(f[split].get(name))) for split in split_names(f)
            for name in f[split] if name not in SPLIT_MEMBERS]


def _kind(obj: Any) -> str:
    """An HDF5 object as a line names it: "a group", "a dataset of no dimension", "a dataset"."""
    if obj is None:  # ``get`` of a soft link to nothing
        return "a link to nothing"
    if isinstance(obj, h5py.Group):
        return "a group"
    if isinstance(obj, h5py.Dataset) and obj.ndim == 0:
        return "a dataset of no dimension"
    return "a dataset" if isinstance(obj, h5py.Dataset) else f"a {type(obj).__name__}"


def chunk_stored(ds: h5py.Dataset, row: int) -> bool:
    """Whether the chunk holding ``row`` of a chunked dataset is in the file (featcache's chunks span whole
    rows). HDF5 reads a chunk its index does not list as the fill value, zeros, with no checksum to fail."""
    return ds.id.get_chunk_info_by_coord((row - row % ds.chunks[0],) + (0,) * (ds.ndim - 1)).byte_offset is not None


def check_chunks_stored(path: Path, ds: h5py.Dataset, name: str) -> None:
    """Refuse (``damaged``) a chunked dataset of a complete cache with a chunk missing from the file.

    One flipped byte in a chunk index key (the chunk's coordinate) made rows
    0-1 of a cache's features read as zeros while ``verify`` said intact (1 of
    300 random one-byte flips of a small cache, 2026-12-02). Every chunk of a
    complete cache was written, so each must be found at its coordinate: 2.3
    ms for the 274 chunks of a 70,000-row layer in 256-row chunks, 28.6 ms for
    its 1,094 in 64-row chunks (2026-12-03, load 2-3): once per read of a layer.
    """
    if not ds.chunks or 0 in ds.shape:
        return
    for row in range(0, ds.shape[0], ds.chunks[0]):
        try:
            stored = chunk_stored(ds, row)
        except (RuntimeError, OSError) as exc:  # the index's own node is damaged ("wrong B-tree signature")
            raise damaged(path, f"{name}'s chunk index is unreadable ({first_line(exc)})") from None
        if not stored:
            raise damaged(path, f"{name} has lost the chunk of rows {row}-{min(row + ds.chunks[0], ds.shape[0]) - 1}")


def create_h5(path: Path, **kwargs: Any) -> h5py.File:
    """A new HDF5 file in featcache's format (``LIBVER``): the one place the partial and the regrouped cache are made.

    A full disk stays an OSError, for the writer's guard to turn into the
    no-space line; any other failure is one line naming the folder.
    """
    try:
        return h5py.File(path, "w", libver=LIBVER, **kwargs)
    except OSError as exc:
        if is_no_space(exc):
            raise
        raise cannot_create(path, exc) from None


def cannot_create(path: Path, exc: OSError) -> FeatcacheError:
    """The line for a file featcache cannot create at ``path`` (not a full disk: that is ``no_space``'s)."""
    return FeatcacheError(f"cannot create {path} ({first_line(exc)}); check that {Path(path).parent} is "
                          f"writable, or choose {out_option()} elsewhere")


def open_h5(path: Path, mode: str = "r", peek: bool = False, **kwargs: Any) -> h5py.File:
    """Open an existing file, with clear errors; ``peek`` reads a file another process holds open for writing."""
    try:
        return h5py.File(path, mode, **kwargs)
    except (OSError, ValueError) as exc:
        if "unable to lock file" in str(exc):
            if peek:
                try:  # attributes of a file being written are safe enough to show
                    return h5py.File(path, "r", locking=False)
                except (OSError, ValueError):
                    pass
            raise CacheBusy(f"{path} is being written by another featcache process; wait for it to finish") from None
        if getattr(exc, "errno", None) in (errno.EACCES, errno.EPERM) or "Permission denied" in str(exc):
            raise FeatcacheError(no_permission(path)) from None  # not "not a readable HDF5 file": it may well be one
        raise NotHDF5(path, first_line(exc)) from None


def create_rows(g: h5py.Group, name: str, values: Any) -> None:
    """A row dataset (labels, index, paths): chunked so that it carries a checksum."""
    n = len(values)
    if name == "paths":
        # HDF5 filters (Fletcher-32 too) do not apply to variable-length
        # strings: the content digest is what guards the paths.
        data, dtype, check = np.array(list(values), dtype=object), h5py.string_dtype(), {}
    else:
        data, dtype, check = np.asarray(values, dtype=np.int64), np.int64, CHECKSUM
    if name in g:
        del g[name]
    if n == 0:  # HDF5 cannot chunk an empty dataset with a zero-size chunk
        g.create_dataset(name, shape=(0,), dtype=dtype, maxshape=(None,), chunks=(1,), **check)
        return
    g.create_dataset(name, data=data, dtype=dtype, chunks=(min(ROW_CHUNK, n),), **check)


def create_digests(g: h5py.Group, digests: list[str]) -> None:
    """``/<split>/digests``: each row's SHA-256 hex, fixed-length ASCII so that Fletcher-32 guards it too."""
    data = np.array(list(digests), dtype="S64")
    g.create_dataset("digests", data=data, shape=(len(data),), chunks=(min(ROW_CHUNK, len(data)),) if len(data) else (1,),
                     maxshape=(None,), **CHECKSUM)


def lay_out(f: h5py.File, attrs: dict[str, Any], splits: Sequence[SplitSpec], layer_widths: dict[str, int],
            dtype: np.dtype) -> None:
    """Attributes, and per split its labels, index, paths and empty feature datasets (of every view in
    ``attrs["views"]``, when given: each view's datasets like the original's, same chunks and checksum)."""
    f.attrs["format"] = FORMAT
    f.attrs["format_version"] = FORMAT_VERSION
    f.attrs["complete"] = False
    for key, value in attrs.items():
        f.attrs[key] = encode(value)
    f.attrs["layer_widths"] = json.dumps(layer_widths)
    for spec in splits:
        g = f.create_group(spec.name)
        n = len(spec.labels)
        create_rows(g, "labels", spec.labels)
        create_rows(g, "index", spec.index)
        if spec.paths is not None:
            create_rows(g, "paths", spec.paths)
        if getattr(spec, "digests", None) is not None:
            create_digests(g, spec.digests)
        g.create_group("features")
        for view in view_names(attrs):
            for layer, width in layer_widths.items():
                g.create_dataset(view_dataset(view, layer), shape=(n, width), dtype=dtype,
                                 chunks=(max(1, min(CHUNK_ROWS, n)), width), **CHECKSUM)
        g.attrs["rows_done"] = 0


# The splits in the order they are listed (HDF5 lists groups by name); any other name after them.
SPLIT_ORDER = ("train", "test", "val")


def split_names(f: h5py.File) -> list[str]:
    known = [k for k in SPLIT_ORDER if k in f]
    return known + sorted(k for k in f if isinstance(f[k], h5py.Group) and k not in SPLIT_ORDER)


def read_rows(g: h5py.Group, name: str) -> np.ndarray | list[str] | None:
    if name not in g:
        return None
    values = g[name][()]
    if name == "paths":
        # surrogateescape: a damaged byte (0xff) reads back as a path that no
        # longer matches the content digest, not as a UnicodeDecodeError.
        return [p.decode("utf-8", "surrogateescape") if isinstance(p, bytes) else str(p) for p in values]
    return values


def rows_digest(labels: Any, index: Any, paths: Any) -> str:
    """SHA-256 of one split's rows, as they are given (from the source) or read back."""
    h = hashlib.sha256()
    for a in (labels, index):
        h.update(np.ascontiguousarray(np.asarray(a, dtype=np.int64)).tobytes())
        h.update(b"|")
    if paths is not None:
        h.update(json.dumps(list(paths)).encode())
    return h.hexdigest()


def _attr_value(value: Any) -> Any:
    """An attribute as read back, in the form both digests hash (str for bytes, Python scalars for NumPy's)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def feature_datasets(f: h5py.File) -> list[str]:
    """Every feature dataset of ``f`` in one fixed order: per split, ``features/<layer>`` then each view's layers."""
    names = []
    for split in split_names(f):
        g = f[split]
        names += [f"{split}/features/{layer}" for layer in sorted(g["features"].keys())] if "features" in g else []
        if VIEWS in g:
            names += [f"{split}/{VIEWS}/{v}/{layer}" for v in sorted(g[VIEWS].keys()) for layer in sorted(g[VIEWS][v].keys())]
    return names


def dataset_digests(f: h5py.File) -> dict[str, str]:
    """Each feature dataset's SHA-256 (``dataset_hasher``: its name, type, shape and bytes), read back a block of
    chunks at a time: the ``dataset_digests`` a cache is sealed with, and ``features_digest`` combined.

    Fletcher-32 catches damage to a chunk, but a chunk rewritten through HDF5 gets a new sum: an adversarial
    tester copied train's features over test's, and verify called the cache intact (train then scored 0.10).
    """
    return {name: dataset_digest(f[name], name) for name in feature_datasets(f)}


def dataset_digest(ds: h5py.Dataset, name: str) -> str:
    """One feature dataset's SHA-256 (``dataset_hasher``), read a block at a time (``hashed_blocks``): a seal's, and
    an open Cache's re-check after a ctime change (``Cache._recheck`` had a copy of the loop)."""
    h = dataset_hasher(name, ds)
    for _ in hashed_blocks(ds, h):
        pass
    return h.hexdigest()


# Rows per block of a hashed read, in chunks: 16 of featcache's 64-row chunks, 5 MB of a 1280-wide float32 layer,
# hashed while the block is still in the processor's cache.
HASH_BLOCK_CHUNKS = 16


def hashed_blocks(ds: h5py.Dataset, hasher: Any, out: np.ndarray | None = None) -> Iterator[tuple[int, int, np.ndarray]]:
    """Every row of ``ds`` in order, ``HASH_BLOCK_CHUNKS`` chunks at a time, each block read once and fed to
    ``hasher`` as it is read; yields ``(start, stop, block)``. The one hashing loop of a seal's digest
    (``dataset_digest``, which keeps nothing) and an open Cache's first whole read (``reader._hashed_read``, which
    keeps the values): a whole read goes into ``out`` (the dataset's shape, no copy), else each block into one
    reused buffer, valid until the next block."""
    n = ds.shape[0]
    step = (ds.chunks[0] if ds.chunks else CHUNK_ROWS) * HASH_BLOCK_CHUNKS
    buf = np.empty((min(step, n),) + ds.shape[1:], ds.dtype) if out is None else None
    for start in range(0, n, step):
        stop = min(start + step, n)
        if out is None:
            ds.read_direct(buf, np.s_[start:stop], np.s_[0 : stop - start])
            block = buf[: stop - start]
        else:
            ds.read_direct(out, np.s_[start:stop], np.s_[start:stop])
            block = out[start:stop]
        hasher.update(block)
        yield start, stop, block


def features_digest(f: h5py.File) -> str:
    """SHA-256 of every feature value of ``f``: ``combine_digests`` of ``dataset_digests``.

    ``_seal`` stores it (caches sealed since 2026-12-03) and ``verify`` checks it; the provenance digest covers
    it and the content digest records that it is there, so deleting it does not switch the check off.
    """
    return combine_digests(dataset_digests(f))


def dataset_hasher(name: str, ds: h5py.Dataset) -> Any:
    """A SHA-256 of one feature dataset, begun with its name, type and shape; fed its rows in order, in any blocks."""
    return hashlib.sha256(f"{name}:{ds.dtype.str}:{ds.shape};".encode())


def combine_digests(parts: dict[str, str]) -> str:
    """The features digest from each dataset's: in name order, so ``verify`` can hash each dataset while it reads
    it for its checksums, in its own order, and read the features once (a cache hit reads them all: a review).

    Caches sealed with per-dataset digests (``DATASET_DIGESTS``) store ``parts`` too, and this is how they are
    tied to the sealed features digest: an edited or deleted entry no longer combines to it."""
    return hashlib.sha256("".join(f"{name}={parts[name]};" for name in sorted(parts)).encode()).hexdigest()


def completion_digest(f: h5py.File) -> str:
    """SHA-256 of what says ``f`` is finished: its ``complete`` attribute and each split's ``rows_done`` and rows, as
    stored (``_attr_value``: ``complete`` set to 1 is not True). Not the time ``completed``, which an older featcache
    rewrites when it seals a sealed partial again, keeping this digest (``COMPLETION_DIGEST``); the provenance digest
    covers it.

    ``_seal`` stores it (``COMPLETION_DIGEST``) and ``completion_problem`` compares it. Edited by hand, ``complete``
    decides whether a file is used as a cache or resumed as a partial: set to false on a finished cache it was called
    an interrupted extraction, which extract with the same settings replaced (an adversarial check, 2026-12-05).
    """
    h = hashlib.sha256()
    h.update(f"complete={_attr_value(f.attrs.get('complete'))!r};".encode())
    for name in split_names(f):
        g = f[name]
        rows = int(g["labels"].shape[0]) if "labels" in g else None
        h.update(f"[{name}]rows_done={_attr_value(g.attrs.get('rows_done'))!r};rows={rows!r};".encode())
    return h.hexdigest()


def completion_problem(f: h5py.File) -> str | None:
    """What is wrong with the completeness an opened featcache file claims, for a line; None where nothing is.

    A file marked unfinished that holds what only the seal writes (``SEAL_ATTRS``) was sealed complete and edited
    since: it is neither used nor resumed (``extract`` replaced such a cache at --out, and resumed one at the partial's
    name). A sealed file (one with its content digest, the seal's last attribute) whose completion digest no longer
    matches had ``complete`` or a split's ``rows_done`` edited. A file sealed before completion digests
    has none to compare. The one rule of readers (``reader.read_attrs``) and of the writer's look at its partial
    (``partial.check_partial_attrs``).
    """
    attrs = f.attrs
    if not attrs.get("complete"):
        if any(k in attrs for k in SEAL_ATTRS):
            value = _attr_value(attrs["complete"]) if "complete" in attrs else "missing"
            return f"marked unfinished ('complete' is {value}) after it was sealed complete"
        return None
    sealed = "content_digest" in attrs and COMPLETION_DIGEST in attrs
    if sealed and _attr_value(attrs[COMPLETION_DIGEST]) != completion_digest(f):
        return "completion digest mismatch: its 'complete' or a split's rows_done changed after it was sealed"
    return None


def provenance_digest(f: h5py.File) -> str:
    """SHA-256 of every root attribute the content digest leaves out: how and when the cache was made.

    Versions, runtime, weights_source (export opens that file), source, created:
    not part of a cache's identity, but shown and used, so a flipped byte in
    them is damage too. Read back from ``f``, after the content digest is set.
    """
    return _provenance_digest(f)


def _provenance_digest(f: h5py.File, left_out: Sequence[str] = (), restored: dict[str, Any] | None = None) -> str:
    """``provenance_digest`` of ``f`` as it was without the attributes ``left_out`` (``unsealed_attributes``) and with
    the ``restored`` ones (``deleted_seal_attributes``: name -> value, as ``_attr_value`` reads it back)."""
    values = {key: _attr_value(f.attrs[key]) for key in f.attrs.keys() if key not in left_out}
    values.update(restored or {})
    h = hashlib.sha256()
    for key in sorted(values):
        if key not in DIGESTED_ATTRS and key not in ("content_digest", "provenance_digest"):
            h.update(f"{key}={values[key]!r};".encode())
    return h.hexdigest()


# Every root attribute featcache writes (``lay_out``, ``embedding.runner``'s provenance, the writer's ``record`` and
# ``PARTIAL_OF``, the seal), and every split's (``rows_done``). An attribute of another name added to a sealed cache is
# read by nothing: ``unsealed_attributes`` and ``foreign_split_attributes`` find it for ``verify``, which cannot vouch
# for it. A name missing here costs nothing on a cache it sealed (its provenance digest covers every root attribute).
ROOT_ATTRS = frozenset((*DIGESTED_ATTRS, *SEAL_ATTRS, "complete", "completed", PARTIAL_OF, VIEWS, "runtimes", "runtime",
                        "weights_random", "weights_source", "source", "featcache_version", "keras_version",
                        "tensorflow_version", "keras_backend", "created", "extract_seconds", "startup_seconds",
                        "engine_startup_seconds"))
SPLIT_ATTRS = ("rows_done",)


def unsealed_attributes(f: h5py.File, stored: Any) -> list[str] | None:
    """The root attributes added to ``f`` since its seal, by names featcache does not write (``ROOT_ATTRS``), in name
    order: none where the ``stored`` provenance digest matches the file as it is, those it matches without; None
    where it matches neither way (damage, or an attribute of featcache's edited, added or deleted). One such attribute
    made the whole cache "provenance digest mismatch" for every reader, though none reads it (a brief, 2026-12-06):
    readers now leave it out, and ``verify``, which vouches for the whole file, says it cannot vouch for it. One
    added and the cache re-sealed is covered by the digest, as all it holds (the digests are no signature)."""
    if _provenance_digest(f) == stored:
        return []
    unknown = foreign_root_attributes(f)
    return unknown if unknown and _provenance_digest(f, left_out=unknown) == stored else None


def foreign_root_attributes(f: h5py.File) -> list[str]:
    """The root attributes of ``f`` by names featcache does not write (``ROOT_ATTRS``), in name order: on a cache
    sealed with a provenance digest, those ``unsealed_attributes`` finds added since; on one sealed before it
    (2026-12-02), which no digest covers, all of them, for ``verify`` to refuse and readers to leave out: such a
    cache's ``note`` passed verify as intact where one on a newer cache was refused (helper-281). Caches extracted
    by featcache of that time (c02efff, 64328a3, 496da5c^) hold none."""
    return sorted(key for key in f.attrs.keys() if key not in ROOT_ATTRS)


def file_stamp(f: h5py.File, path: str | Path | None = None) -> tuple[int, ...]:
    """Which file ``f`` is, and which version of it (``atomic.stat_stamp``, ctime included) of its open handle (of
    ``path``, else its name, where the file driver has no handle to ask). The status-change time moves with every
    write, and also with a chmod, chown or hard link (``reader.Cache._recheck``)."""
    try:
        st = os.fstat(f.id.get_vfd_handle())
    except (OSError, ValueError, TypeError, AttributeError):
        st = os.stat(path if path is not None else f.filename)
    return stat_stamp(st)


# The per-dataset digests ``deleted_seal_attributes`` made again, by file and version (``file_stamp``): the same
# file, unchanged, refused again in this process (a notebook's open_cache, then train, then probe of it) is told
# from them, not read again (a 1.4 GB cache: 4.6 s each time). The last few files only: 64 hex digits a dataset.
# Looked up and filled under the lock: threads of one process (a notebook's, a server's) evicting at once deleted
# the same oldest key twice (a KeyError) or one another's new one before it was read back (a review).
_REMADE_DIGESTS: dict[tuple[int, ...], str] = {}
_REMADE_KEPT = 4
_REMADE_LOCK = threading.Lock()


def _remade_dataset_digests(f: h5py.File) -> str:
    """``encode(dataset_digests(f))``, read once per version of the file in this process (``_REMADE_DIGESTS``)."""
    key = file_stamp(f)
    with _REMADE_LOCK:
        if key in _REMADE_DIGESTS:
            return _REMADE_DIGESTS[key]
    # read outside the lock: seconds for a large cache, which another file's check need not wait for
    value = encode(dataset_digests(f))
    if file_stamp(f) == key:  # else written during the read: what was read is no version of the file to keep
        with _REMADE_LOCK:
            while len(_REMADE_DIGESTS) >= _REMADE_KEPT:
                del _REMADE_DIGESTS[next(iter(_REMADE_DIGESTS))]
            _REMADE_DIGESTS[key] = value
    return value


def deleted_seal_attributes(f: h5py.File, stored: Any) -> list[str]:
    """The seal's attributes outside the content digest (``COMPLETION_DIGEST``, ``DATASET_DIGESTS``) deleted from
    ``f``: those which, made again from ``f`` as the seal makes them, give the ``stored`` provenance digest; empty
    where that explains nothing. Read only once that digest has failed. ``del f.attrs["completion_digest"]`` was
    "provenance digest mismatch: how it was made ... changed" (a brief, 2026-12-06), where ``features_digest`` deleted
    is said missing (``deleted_digests``). The per-dataset digests are made again only where the features digest they
    combine to is there, and cost a read of every feature value (4.6 s for a 1.4 GB float16 cache, about 33 s for
    10 GB), on this failing path alone: once per open (each try asks ``made``), and once per version of the file in
    a process (``_remade_dataset_digests``)."""
    makers = {}
    if COMPLETION_DIGEST not in f.attrs:
        makers[COMPLETION_DIGEST] = lambda: completion_digest(f)
    if DATASET_DIGESTS not in f.attrs and "features_digest" in f.attrs:
        makers[DATASET_DIGESTS] = lambda: _remade_dataset_digests(f)
    made = functools.cache(lambda name: makers[name]())  # each made once, however many tries ask for it
    return _first_explaining(list(makers), lambda names: _provenance_digest(f, restored={n: made(n) for n in names}),
                             stored)


def _first_explaining(deleted: list[str], digest_without: Callable[[list[str]], str], stored: Any) -> list[str]:
    """Of the ``deleted`` names, the first set whose return gives the ``stored`` digest (``digest_without``): each
    alone, then all together; empty where none does (``deleted_digests``, ``deleted_seal_attributes``)."""
    tries = [[name] for name in deleted] + ([list(deleted)] if len(deleted) > 1 else [])
    return next((names for names in tries if digest_without(names) == stored), [])


def foreign_split_attributes(f: h5py.File) -> list[tuple[str, str]]:
    """``(object, name)`` of each attribute in a split that featcache does not write: any on the split's group but
    ``SPLIT_ATTRS``, and any at all on an object inside it (featcache writes none on its datasets or their groups), in
    split, object and name order. No digest covers them and nothing reads them, so ``verify`` alone says so: one on
    ``train/features`` or on a feature dataset was called intact where one on ``train`` was refused (helper-276)."""
    found: list[tuple[str, str]] = []
    for split in split_names(f):
        group = f[split]
        if not isinstance(group, h5py.Group):
            continue
        found += [(split, key) for key in sorted(group.attrs.keys()) if key not in SPLIT_ATTRS]
        found += [(f"{split}/{name}", key) for name, obj in _objects_below(group) for key in sorted(obj.attrs.keys())]
    return found


def _objects_below(group: h5py.Group, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Each group and dataset below ``group`` with its name relative to it, in name order. Not ``Group.visit``:
    HDF5's object visit reads each dataset's storage (its chunk index), and a damaged chunk-index node raised its
    RuntimeError from it, where ``check_chunks_stored`` says the damage in one line (test_store)."""
    for name in sorted(group.keys()):
        obj = group.get(name)
        if obj is None:  # a dangling link: ``foreign_objects`` and the structure checks name it
            continue
        yield prefix + name, obj
        if isinstance(obj, h5py.Group):
            yield from _objects_below(obj, f"{prefix}{name}/")


def content_digest(f: h5py.File) -> str:
    """SHA-256 of every split's labels, index and paths and of the identity attributes, read from ``f``.

    These are small (the lesson's 70,000-image cache: 1.1 MB of labels and
    index), so every open checks them; the features are guarded by Fletcher-32 per
    chunk and by ``features_digest``, which ``verify`` checks.
    The views attribute and each split's view datasets are hashed only when
    the cache has views: a cache without them keeps its digest.
    """
    return _content_digest(f)


# The seal's digests whose presence the content digest records: deleting one would otherwise switch its check off (a
# cache sealed before it existed opens without one; a review).
PRESENCE_DIGESTED = ("provenance_digest", "features_digest")


def deleted_digests(f: h5py.File, stored: Any) -> list[str]:
    """The seal's digests (``PRESENCE_DIGESTED``) deleted from ``f``: those whose presence the ``stored`` content
    digest records and ``f`` lacks; empty where none is, or where the content digest differs otherwise too. Read
    only once that digest has failed. ``del f.attrs["features_digest"]`` was "content digest mismatch: its labels,
    index, paths or settings changed", none of which had (an adversarial tester, helper-255)."""
    absent = [name for name in PRESENCE_DIGESTED if name not in f.attrs]
    return _first_explaining(absent, lambda names: _content_digest(f, tuple(names)), stored)


def _content_digest(f: h5py.File, deleted: tuple[str, ...] = ()) -> str:
    """``content_digest`` of ``f``, as it was with the digests ``deleted`` still there (``deleted_digests``)."""
    h = hashlib.sha256()
    attrs = f.attrs
    for key in DIGESTED_ATTRS:
        h.update(f"{key}={_attr_value(attrs.get(key))!r};".encode())
    for name in split_names(f):
        g = f[name]
        h.update(f"[{name}]".encode())
        h.update(rows_digest(read_rows(g, "labels"), read_rows(g, "index"), read_rows(g, "paths")).encode())
        if "digests" in g:  # per-image content hashes (leakage checks); caches without them hash as before
            h.update(b"digests:" + hashlib.sha256(np.ascontiguousarray(g["digests"][()]).tobytes()).digest())
        h.update(json.dumps(sorted(g["features"].keys()) if "features" in g else []).encode())
        if VIEWS in attrs:
            h.update(json.dumps({v: sorted(g[VIEWS][v].keys()) for v in sorted(g[VIEWS].keys())} if VIEWS in g else {}).encode())
    if VIEWS in attrs:
        value = attrs[VIEWS]
        h.update(f"views={value.decode() if isinstance(value, bytes) else value!r};".encode())
    for name in PRESENCE_DIGESTED:  # their presence is part of the content digest; older caches hash as before
        if name in attrs or name in deleted:
            h.update(f"{name};".encode())
    return h.hexdigest()


# Settings an extract does not repeat as root attributes (``embedding.runner``): ``views`` is stored there as names
# (the settings hold "name@algorithm"), ``data_digest`` and ``format_version`` not at all. The reader compares every
# other setting with its attribute (``reader._check_settings``): one list, or every new cache would read as damaged.
NOT_REPEATED = ("format_version", "data_digest", "views")
