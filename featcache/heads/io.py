"""Saving and loading trained heads with what they were trained on; no head file runs code.

Two formats, both only data:

- a Keras head is a ``.keras`` file (the head model, loaded in Keras's safe
  mode) with a ``featcache.json`` entry added to its zip;
- a scikit-learn head is an ``.npz`` (read with ``allow_pickle=False``): the
  fitted arrays plus one JSON entry with the metadata and the estimator's
  attribute tree (``heads.state``: objects only from a fixed list of classes,
  rebuilt without calling anything the file names).

``meta`` always carries the cache's fingerprint, class names and feature
settings (see ``head_meta``), so a head can refuse features it was not made
for, and (format 2, since 2026-12-03) ``content_digest``: SHA-256 over the
rest of the metadata and every other entry of the file's zip, checked on
every load (``check_content``), so a damaged or edited head is refused
before anything in it is used; ``meta["train_digests"]`` (sorted uint64: the first 16 hex digits of the
sha256 of each training image) lets ``evaluate`` find test images the head
was trained on. featcache 0.1 wrote pickles (``.joblib``); they load only with
``trust_pickle=True`` (``--trust-pickle``), because unpickling runs code.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import threading
import warnings
import zipfile
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, TypeVar

import numpy as np

from featcache.errors import (FeatcacheError, exception_chain, first_line, given, given_path, in_words, is_no_space, no_permission,
                              no_space, one_line, option, warn, command)
from featcache.progress import counted, named, written
from featcache.store.atomic import atomic_path
from featcache.store.identity import ANOTHER_DATA_SET, ANOTHER_PHOTO_FOLDER  # replaced_from's words
from featcache.store.identity import other_data_set, other_photo_folder
from featcache.validate import (DIGESTS_SINCE, MAX_FILE_BYTES, check_file_name, check_path, check_replaceable, check_size, check_source,
                               checks_switches, outside_storage, param_text, read_at_most, release, write_private)

F = TypeVar("F", bound=Callable[..., Any])  # a decorated function (names_a_head_given_as_a_cache)

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

    from featcache.store import Cache


META_ENTRY = "featcache.json"
# A standardizing Keras head's training statistics (DenseHead.mean_, scale_).
STATS_ENTRY = "featcache_standardize.json"
DIGESTS_ENTRY = "featcache_train_digests.npy"  # in a .keras head's zip
NPZ_ENTRY = "featcache"  # the JSON entry of an .npz head
HEAD_KIND = "featcache-head"
# 2: the metadata carries DIGEST_KEY (2026-12-03). Heads of format 1 and of featcache 0.1 (no format_version) have
# none and load with an UncheckedHeadWarning; a head of format 2 or later without one was edited and is refused.
FORMAT_VERSION = 2
DIGEST_KEY = "content_digest"
# Settings of the features a head depends on; evaluate refuses a cache that
# differs in any of them.
FEATURE_KEYS = ("backbone", "weights", "image_size", "preprocessing")


def written_model() -> str:
    """The commands or calls that write a model (export, finetune), in the caller's words (``errors.command``): the
    one wording of every line that names them, a head's and a model's (``deploy.model``). A head's --out given a model
    said "'featcache export' or 'finetune'", a command no one can run (a review, helper-298)."""
    return f"{command('export')} or {command('finetune')}"


def retrain() -> str:
    """The one fix of a head that cannot be trusted as it is, in the caller's words (``errors.command``): "retrain it
    with 'featcache train'" to a command's user, "retrain it with featcache.train(...)" to a Python caller."""
    return f"retrain it with {command('train')}"


class PickleHeadWarning(UserWarning):
    """A pickle head was loaded because the caller trusted it."""


class HeadVersionWarning(UserWarning):
    """A scikit-learn head is used with another scikit-learn version than it was saved with."""


class UncheckedHeadWarning(UserWarning):
    """A head saved before head files carried a content digest: it loads, but nothing checks it is as saved.

    A note, not an alarm (the CLI prints it as one ``note:`` line): such a head is where a cache sealed before
    its features digest is (``featcache verify`` says so and passes it). The zip's own CRC-32s still catch
    most damage; what goes unnoticed is an edit made through the format, a rewritten zip."""

    label = "note"


def width_problem(width: int, layer: str, cache: Cache, held: int) -> str:
    """The one line's start where a head's input width is not its layer's (head_meta's and evaluate's; a review)."""
    return f"the head takes {width} features but layer {layer} of {cache.path} has {held}"


def head_meta(cache: Cache, layer: str | None, head_name: str, head: BaseEstimator) -> dict[str, Any]:
    """Metadata stored with a head trained on ``cache`` (a ``Cache``): ``layer`` is the cached layer its features
    came from (None: the cache's default layer, its last), checked against a fitted head's width here. A head fitted
    on block_13 features saved with None was refused only by evaluate, "evaluate on a cache extracted with the head's
    settings", where the layer named was what was wrong (a new-user tester)."""
    m = cache.meta
    full = cache.layer(layer)
    width = getattr(head, "n_features_in_", None)
    split = next(iter(cache.sizes), None)
    if width is not None and split is not None:
        held = cache.features(split, full, rows=slice(0, 1)).shape[1]
        if held != width:
            default = " (layer=None: the cache's default layer)" if layer is None else ""
            others = ", ".join(repr(l) for l in cache.layers if l != full) or "none cached"
            raise FeatcacheError(f"{width_problem(width, repr(full) + default, cache, held)}; "
                                 f"pass the layer it was fitted on, head_meta(cache, LAYER, {head_name!r}, head) "
                                 f"(other layers: {others})")
    return {
        "head": head_name,
        "params": head.get_params(),
        "cache_fingerprint": cache.fingerprint,
        "class_names": cache.class_names,
        "layer": full,
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
        # How a fitted Keras head chose its validation images (dense.LAST_ROWS or STRATIFIED): finetune holds out the
        # same ones. Absent: a head without validation rows, or one from before 2026-12-05 (Keras's last rows).
        **({"validation_rows": how} if (how := getattr(head, "validation_rows_", None)) else {}),
    }


def digest_keys(hex_digests: Iterable[str]) -> np.ndarray:
    """Sorted unique uint64 keys (the first 16 hex digits) of sha256 hex digests: 8 bytes per image.

    64 bits keep accidental matches out of reach: among 70,000 Fashion-MNIST
    images no two 16-digit prefixes of different images collide (measured),
    and the chance of any collision among a million images is about 3e-8.
    """
    return np.unique(row_keys(hex_digests))


def row_keys(hex_digests: Iterable[str]) -> np.ndarray:
    """One uint64 key per digest, in order: the key ``digest_keys`` stores (its one algebra; evaluate had a copy)."""
    hex_digests = list(hex_digests)
    return np.fromiter((int(h[:16], 16) for h in hex_digests), dtype=np.uint64, count=len(hex_digests))


def _kind_of(head) -> str:
    from featcache.heads import HEADS

    for name, cls in HEADS.items():
        if type(head) is cls:
            return name
    raise FeatcacheError(f"cannot save a {type(head).__name__}; featcache saves {', '.join(HEADS)} heads")


@checks_switches
def save_head(head: BaseEstimator, path: str | Path, meta: dict[str, Any], *, force: bool = False) -> Path:
    """Write atomically: ``.keras`` for ``DenseHead``, ``.npz`` for the scikit-learn heads.

    Before anything is written: the head must be fitted, and ``meta`` must pass
    the checks ``load_head`` makes (``head_meta`` builds it), so no file is
    written that featcache would then refuse to load; an existing file at
    ``path`` is replaced only if featcache wrote it as a head, or with ``force``
    (``check_head_out``, as train's ``out``). A symbolic link at ``path`` is written through, as train's ``out`` is:
    its target is replaced. Returns the path written.
    """
    from featcache.store.atomic import written_through

    check_file_name(path, "path", "path", "head" + getattr(type(head), "file_suffix", ".npz"))  # 'h.npz/' wrote h.npz
    path = check_path(path, "path", _head_file_words(head))
    return write_head(head, written_through(path, "path"), meta, force, ("path", "force=True"))[0]


def write_head(head: BaseEstimator, path: str | Path, meta: dict[str, Any], force: bool,
               flags: tuple[str, str] = ("--out", "--force"), default: bool = False) -> tuple[Path, str]:
    """``save_head``'s work, its refusals naming ``flags`` (the output's and the force's): train's say --out and
    --force (a race lost to another train said 'choose another path, or pass force=True'; an adversarial tester).
    ``default``: ``path`` is train's default head file, no --out given (``check_head_out``). Returns the path and
    the content digest written into the file (``content_digest``): what ``TrainResult.written`` checks, known here
    without reading the file back."""
    from featcache import __version__

    kind = _kind_of(head)
    path = check_path(path, flags[0], _head_file_words(head))  # None was pathlib's TypeError (a tester)
    suffix = type(head).file_suffix  # each head says how it is stored: .keras (a Keras model) or .npz (heads.state)
    if path.suffix != suffix:  # the API's words: train checked its --out before any fit (validate.check_out_file)
        raise FeatcacheError(f"the {kind} head is saved as a {suffix} file; save it as {path.with_suffix(suffix)}")
    width = getattr(head, "n_features_in_", None)
    if width is None or getattr(head, "classes_", None) is None:
        raise FeatcacheError(f"this {type(head).__name__} is not fitted, so there is nothing to save; fit it first (head.fit(X, y))")
    if not isinstance(meta, dict):
        raise _unsavable(path, f"meta is a {type(meta).__name__}, not a dict")
    if meta.get("head", kind) != kind:
        # meta of another head (a new user copied a logreg head's into a Keras head's file: its train size and
        # test accuracy then described another fit)
        from featcache.heads import head_words

        # the head by its display name, as the meta's: "not this keras head" named featcache's registry key
        raise FeatcacheError(f"not saving a head as {path}: meta describes {head_words(meta['head'])}, not {head_words(kind)}; "
                             f"build meta with featcache.heads.io.head_meta(cache, layer, {kind!r}, head)")
    meta = dict(meta)
    digests = meta.pop("train_digests", None)
    meta.pop(DIGEST_KEY, None)  # load_head's meta passed back: the digest is of this file, made below
    meta.update(params=head.get_params(), kind=HEAD_KIND, format_version=FORMAT_VERSION, featcache_version=__version__,
                n_features=int(width), train_digest_count=None if digests is None else len(digests))
    meta["head"] = kind  # what the file holds, whatever the caller called it
    _check_meta_shape(meta, path, type(head), _unsavable)
    n = len(meta["class_names"])
    if suffix == ".keras" and not np.array_equal(np.asarray(head.classes_), np.arange(n)):
        # load_head gives a Keras head one class per output, in the order of the class names
        raise _unsavable(path, f"a Keras head is stored with one output per class name, and this one's classes are not 0..{n - 1}; "
                               f"fit it on class indices with n_classes={n}")
    check_head(head, meta, path, _unsavable)
    check_head_out(path, force, *flags, job=meta, default=default)
    # again just before the rename, under the path's lock: a file put there while this head was written (another
    # train's head of another data set, or of another fit) was replaced, and both trains said they saved (an
    # adversarial tester; a review: the fit's rule was checked outside the lock)
    with atomic_path(path, recheck=lambda: check_head_out(path, force, *flags, job=meta, default=default)) as tmp:
        write = _write_keras if suffix == ".keras" else _write_npz
        digest = write(head, tmp, meta, digests)
    # whole on disk: an interrupt from here on (before train's result line) says so, not "nothing was saved"
    written(f"the head {one_line(str(path))}")
    return path, digest


def _head_file_words(head: BaseEstimator) -> str:
    """The file a head is written as, in the line for a path that is none: a Keras head's was "e.g. head.npz",
    a file it is never saved as (helper-285)."""
    return f"the head file to write, e.g. head{getattr(type(head), 'file_suffix', '.npz')}"


def _unsavable(path: Path, why: str) -> FeatcacheError:
    return FeatcacheError(f"not saving a head as {path}: {why} (load_head would refuse it); build meta with "
                          "featcache.heads.io.head_meta(cache, layer, head_name, head)")


# The test accuracy of the original view alone wherever it was measured: a head's (its TEST_ACCURACY where the original
# was its one test view), a model's (what it scores classifying the original view). One name in head files, model files and train's and export's --json; it
# had three: this (head files), single_view_test_accuracy (model files, export --json) and orig_accuracy (train
# --json; earlier sessions' notes). A model file of before 2026-12-05 is read by ``orig_accuracy_of``.
TEST_ACCURACY_ORIG = "test_accuracy_orig"
_MODEL_ORIG_BEFORE = "single_view_test_accuracy"  # a model file's name for it before 2026-12-05
# The test accuracy with the views a head averaged at test (a model: those its graph averages): a head file's name,
# and every command's --json name for it (train and evaluate printed it as "accuracy"; a new-user tester).
TEST_ACCURACY = "test_accuracy"
# The one home of the --json names a command printed before it took the shared ones (docs/commands.md's table): per
# command, old name -> the one name. Its --json prints the old name too, with the same value, until featcache 0.3: a
# script reading the old key got null without an error once it was renamed (a review). train's "accuracy" and
# "orig_accuracy", export's single_view_test_accuracy (a new-user tester found three names for each accuracy).
JSON_NAMES_BEFORE: dict[str, dict[str, str]] = {
    "train": {"accuracy": TEST_ACCURACY, "orig_accuracy": TEST_ACCURACY_ORIG},
    "export": {_MODEL_ORIG_BEFORE: TEST_ACCURACY_ORIG},
}


def with_names_before(command: str, doc: dict[str, Any]) -> dict[str, Any]:
    """``command``'s --json document with its names of before (``JSON_NAMES_BEFORE``) beside the shared ones, each
    holding the shared one's value: kept until featcache 0.3."""
    return {**doc, **{old: doc.get(new) for old, new in JSON_NAMES_BEFORE.get(command, {}).items()}}


def model_test_accuracy(meta: Mapping[str, Any]) -> float | None:
    """What a model scores on its test split with the views its graph averages (``TEST_ACCURACY`` of a model, which
    its file does not record under that name): the head's accuracy with those views (``views_test_accuracy``) when
    it averages more than the original view, else the original view's alone (a fine-tuned model's own score).
    ``info`` of a model showed no test accuracy at all (a new-user tester)."""
    views = list(meta.get("views") or ["orig"])
    return orig_accuracy_of(meta) if views == ["orig"] else meta.get("views_test_accuracy")


def orig_accuracy_of(meta: Mapping[str, Any]) -> float | None:
    """The accuracy of the original view alone a head or model file recorded, under either name it has had; for a
    head scored on the original view alone that recorded none (train left it out before 2026-12-05), its
    ``TEST_ACCURACY``. None only where it was not measured (a tester: info of a head left it out, info of its model
    gave the number)."""
    value = meta.get(TEST_ACCURACY_ORIG)
    value = meta.get(_MODEL_ORIG_BEFORE) if value is None else value
    if value is None and meta.get("test_views") in (None, ["orig"]):  # a model records head_test_views, never these
        return meta.get(TEST_ACCURACY)
    return value


def with_current_names(meta: dict[str, Any]) -> dict[str, Any]:
    """A head's or model's metadata as shown (``info``): an older model's ``single_view_test_accuracy`` under
    ``TEST_ACCURACY_ORIG``, and an older head's accuracy of the original view alone (``orig_accuracy_of``)."""
    shown = {k: v for k, v in meta.items() if k != _MODEL_ORIG_BEFORE}
    shown[TEST_ACCURACY_ORIG] = orig_accuracy_of(meta)
    return shown


# The metadata key naming the recipe that wrote a head (``"lesson"``); absent from a head ``train`` wrote for a user.
# A recipe replaces a head it wrote whatever its fit (a lesson rerun on other data or another seed, into its own
# folder), and any other only by train's rule: the lesson's force=True replaced a user's 'train --out' head saved at
# its name, of any fit (earlier sessions' notes).
WRITTEN_BY = "written_by"


def check_head_out(path: str | Path, force: bool, flag: str = "--out", force_flag: str = "--force",
                   job: Mapping[str, Any] | None = None, default: bool = False) -> None:
    """A head file about to be written at ``path``: absent, or a regular file that featcache wrote as a head (of the
    same ``job``, where given: ``check_same_job``, and of the same fit where ``job`` describes one: ``other_fit``),
    or any regular file with ``force`` (a FIFO or device never: ``validate.check_replaceable``). The one check of
    train's ``--out`` and of ``save_head``, made before a fit and again under the path's lock before the write.
    ``default``: ``path`` is train's default head file (no --out given), and the refusals say so."""
    path = Path(path)
    check_replaceable(path, flag)
    if not path.exists() or force:
        return
    record = read_record(path)  # read once: whether it is a head's, else what it is
    old = record if _is_head_record(record) else None
    named, instead = _naming(path, flag, default)
    if old is None:
        # featcache did write it ("is not a head featcache wrote" misled; a new user), unless its record was edited
        if _record_kind(record) == "model" and edited(path) is None:
            raise FeatcacheError(f"{named} is a model {written_model()} wrote, not a head; {way_out(instead, force_flag, job)}")
        raise FeatcacheError(f"{named} exists and is not a head featcache wrote; {way_out(instead, force_flag, job)}")
    if job is not None and not _own_output(old, job):
        check_same_job(path, old, job, force, flag, force_flag, default=default)


def way_out(instead: str, force_flag: str = "--force", job: Mapping[str, Any] | None = None) -> str:
    """The end of a refusal to replace a file: choose another output, or force it; a recipe writing its own output
    (``WRITTEN_BY``: the lesson) has no force flag to offer (testers: lesson's refusal advised a --force it lacks).
    The one home of these words, a head's and a model's (deploy.model had a copy)."""
    if job is not None and job.get(WRITTEN_BY) is not None:
        return f"move it away, or {instead}"
    return f"{instead}, or pass {option(force_flag)} to replace it"


def _own_output(old: Mapping[str, Any], job: Mapping[str, Any]) -> bool:
    """Whether the head there is one the recipe about to write ``job`` wrote itself (``WRITTEN_BY``)."""
    return job.get(WRITTEN_BY) is not None and old.get(WRITTEN_BY) == job.get(WRITTEN_BY)


def _naming(path: Path, flag: str, default: bool) -> tuple[str, str]:
    """How a refusal names the file at ``path`` and the way out: ``--out PATH`` and 'choose another --out', or for
    train's default head file (no --out given) that and 'name the head with --out' (a review: a refusal of a default
    file named an --out the user never gave)."""
    if default:
        return f"the default head file {path}", f"name the head with {given(flag, 'NAME' + path.suffix, repr('NAME' + path.suffix))}"
    return given_path(flag, path), f"choose another {option(flag)}"


def replaced_words(replaced: bool, what: str, origin: str | None = None) -> str:
    """The words train, export and finetune put before their line's arrow when they replaced featcache's ``what``
    (head or model) there (``check_same_job``); the path stays the line's end (a new-user tester). ``origin``:
    where the one replaced came from, when not this cache (``replaced_from``), which the line says."""
    if not replaced:
        return ""
    if origin == ANOTHER_CACHE:  # photos added and extracted again: the same job, replaced
        made = {"head": " trained on another cache", "model": " made on another cache"}.get(what, "")
    else:  # another data set or photo folder (replaced with --force alone), or nothing known
        made = f" of {origin}" if origin else ""
    return f"; replaced the {what}{made} there"


# replaced_from's words: a re-extraction of the data set (the same job), and the two other jobs it tells apart (their
# words shared with extract --force's, store.identity)
ANOTHER_CACHE = "another cache"


def replaced_from(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str | None:
    """Where the head or model replaced (its metadata ``old``) came from, where not from the cache ``new`` records:
    ``ANOTHER_DATA_SET`` or ``ANOTHER_PHOTO_FOLDER`` (another job, as ``other_job`` tells them: replaced with --force
    alone), ``ANOTHER_CACHE`` (of the data set: a re-extraction, the same job); None for this very cache (a record
    edited since included) and where it cannot be told, a fingerprint not recorded (a model of format 1). "made on
    another cache" was said of every fingerprint that differed, of another data set's model and of one with none
    too, where docs/model-format.md defines it as a re-extraction of the same data (a review)."""
    if not isinstance(old, Mapping) or _same_cache(old, new):
        return None
    if other_data_set(old, new):
        return ANOTHER_DATA_SET
    if other_photo_folder(old, new):
        return ANOTHER_PHOTO_FOLDER
    known = old.get("cache_fingerprint") is not None and new.get("cache_fingerprint") is not None
    return ANOTHER_CACHE if known else None


def other_job(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str | None:
    """How the head or model whose metadata is ``old`` (a file at --out) came from another job than the one about
    to replace it (``new``: its ``dataset``, ``class_names``, photo ``source``, ``head`` and, for a model,
    ``finetune``); None for a rerun of the same job, or where ``old`` is no featcache file. An export of a Fashion-MNIST head replaced a
    fine-tuned ants/bees model, and train an svm head replaced another data set's logreg head, without a word (a
    new-user tester). A rerun on another cache of the same data set (more photos, other limits, another size: the
    lesson's reruns) is the same job (a review: the cache's fingerprint refused them); what its fit was asked for
    (parameters, seed, views, layer; for a model its head's, read back by ``deploy.model.head_fit_of``, and a
    fine-tuned model's settings) is then ``other_fit``'s to compare."""
    if not isinstance(old, Mapping):
        return None
    from featcache.heads import head_words

    kind = (head_words(old.get("head")) if "finetune" not in new
            else "a fine-tuned model" if old.get("finetune") else "a model")
    if other_data_set(old, new):
        if _same_cache(old, new):  # one cache is one data set: its record was edited (a review: a model whose class
            return _edited(kind, old, new)  # names were edited by hand was called "of another data set")
        return f"holds {kind} of another data set ({old.get('dataset')}: {_names(old)})"
    old_root = other_photo_folder(old, new)
    if old_root is not None:  # two projects' photos/ in name and classes (an adversarial tester)
        return f"holds {kind} of another photo folder ({old_root})"
    if old.get("head") != new.get("head"):  # which kind, against which (a new user read "another kind" as a riddle)
        if "finetune" in new:
            return f"holds a model of {head_words(old.get('head'))}, not of {head_words(new.get('head'))}"
        return f"holds {head_words(old.get('head'))}, not {head_words(new.get('head'))}"
    if old.get("finetune") and new.get("finetune") is None:  # the other way, an export replaced by its fine-tuning: asked
        return "holds a fine-tuned model (minutes of training), which this export without fine-tuning would replace"
    diff = other_fit(old, new)
    if diff:
        shown = "; ".join(diff[:3]) + (f"; and {len(diff) - 3} more" if len(diff) > 3 else "")
        return f"holds {kind} of another fit ({shown})"
    return None


def _names(meta: Mapping[str, Any]) -> str:
    """The first class names ``meta`` records, for a line."""
    names = list(meta.get("class_names") or [])
    return ", ".join(map(str, names[:3])) + (", ..." if len(names) > 3 else "")


def _edited(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """``other_job``'s words for a head or model that records the very cache ``new`` was made from (its fingerprint
    covers the data set's name, classes and files) but another data set or other class names: its record was edited
    by hand (or damaged), not made from another data set."""
    what = (f"other class names ({_names(old)} there; {_names(new)} here)"
            if list(old.get("class_names") or []) != list(new.get("class_names") or [])
            else f"another data set name ({old.get('dataset')} there, {new.get('dataset')} here)")
    return (f"holds {kind} whose record was edited or damaged: it records the cache this one is made from "
            f"(fingerprint {str(old.get('cache_fingerprint'))[:12]}) but {what}")


def _recorded(value: Any) -> Any:
    """A value as a head file's JSON metadata gives it back (tuples as lists, numpy numbers as numbers)."""
    return json.loads(json.dumps(value, default=str))



def _class_defaults(cls: Any) -> dict[str, Any]:
    """The parameters a head class takes by default ({} for none known, or one that cannot be made bare)."""
    try:
        return dict(cls().get_params()) if cls is not None else {}
    except Exception:  # noqa: BLE001 (a registered head need not build without arguments here)
        return {}


def _same_cache(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    return old.get("cache_fingerprint") is not None and old.get("cache_fingerprint") == new.get("cache_fingerprint")


def other_fit(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """How the head whose metadata is ``old`` (a featcache head of this job at the path) is another fit on the same
    cache than ``new`` (a head's metadata about to be written: ``params``, ``layer``, ``train_size``, ``seed``,
    ``train_views``, ``train_images``): one item per difference, [] for the same fit (a review: ``train --C 0.001
    --out h.npz`` replaced the ``--C 0.03`` head there, saying only 'replaced'). Not a difference: the rows of a head
    trained on another cache of the data set (photos added, extracted again to the same file: the same job,
    replaced, and said; a review; its parameters, seed, views and layer are still compared), parameters that only say how a head runs (``RUN_ONLY_PARAMS``) or that the head's fit with
    them does not read (``heads.unused_params``: cv_folds with a fixed C), the seed where neither head uses it
    (``uses_seed`` false) and neither drew a --train-size subset, and a train size of every training image (the
    rows of no --train-size). A model's (``deploy.model.check_same_model_job``: its head's fit as ``old`` and
    ``new`` read it) also compares the settings both record under ``fit_settings`` (a fine-tuned model's fine-tuning
    asked for: ``deploy.model.FINETUNE_FIT_KEYS``).
    [] where ``new`` describes no head's fit (a job alone) or ``old`` is none. The rules are the table
    ``_FIT_RULES``, then one row per head parameter and per ``fit_settings`` entry."""
    if not isinstance(new.get("params"), Mapping):
        return []
    pair = _FitPair(old, new)
    rules = (*_FIT_RULES, *_param_rules(pair), *_settings_rules(pair))
    return [f"{r.label} {r.shown(there)} there, {r.shown(here)} here"
            for r in rules for there, here in [r.values(pair)] if there != here and r.counts(pair, there, here)]


class _FitPair:
    """The two fits ``other_fit`` compares, with what its rules read of them: each head's parameters over its
    class's defaults (a parameter an older head did not record is its class's default: "max_iter None there, 2000
    here", a review), and whether both were trained on one cache."""

    def __init__(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        from featcache.heads import HEADS

        self.old, self.new = old, new
        self.head = new.get("head")
        self.cls = HEADS.get(self.head)
        defaults = _recorded(_class_defaults(self.cls))
        self.before = {**defaults, **(old.get("params") if isinstance(old.get("params"), Mapping) else {})}
        self.now = {**defaults, **_recorded(new["params"])}
        self.same_cache = _same_cache(old, new)

    def both(self, key: str) -> tuple[Any, Any]:
        """``key``'s value in each, as a head file's JSON gives it back."""
        return _recorded(self.old.get(key)), _recorded(self.new.get(key))

    def rows(self) -> tuple[int | None, int | None]:
        """The train sizes compared. Another cache of the data set (a re-extraction) is the same job: its rows may
        differ, what the fit was asked for may not (a review: --C 0.1 on another cache replaced a --C 0.03 head
        without --force), so across caches the sizes asked for are compared as recorded (a tester: --train-size 100
        over 50, and the subset's seed, were replaced); on one cache a size of every image is no --train-size
        (``_rows``)."""
        if self.same_cache:
            return _rows(self.old, self.new), _rows(self.new, self.new)
        return self.old.get("train_size"), self.new.get("train_size")

    def uses_seed(self, params: Mapping[str, Any]) -> bool:
        """Whether the head of ``params`` draws on its seed; a head that does not say: it does (curve's rule)."""
        try:
            return bool(getattr(self.cls(**params), "uses_seed", True)) if self.cls is not None else True
        except (TypeError, ValueError):
            return True


@dataclass(frozen=True)
class _FitRule:
    """One thing ``other_fit`` compares: ``label`` (as its line names it), ``values`` (there, here: as compared),
    ``counts`` (whether a difference of those values is another fit) and ``shown`` (how a value is written)."""

    label: str
    values: Callable[[_FitPair], tuple[Any, Any]]
    counts: Callable[[_FitPair, Any, Any], bool] = lambda pair, there, here: True
    shown: Callable[[Any], str] = str


def _both_recorded(pair: _FitPair, there: Any, here: Any) -> bool:
    return there is not None and here is not None


def _seed_read(pair: _FitPair, there: Any, here: Any) -> bool:
    """A seed is read where a --train-size subset was drawn or either head uses it (a review: the seed of a logreg of
    a fixed C on every row was another fit)."""
    return pair.rows() != (None, None) or pair.uses_seed(pair.before) or pair.uses_seed(pair.now)


def _seeds(pair: _FitPair) -> tuple[Any, Any]:
    """The seed each recorded, or its head parameter's (a head saved with ``save_head``)."""
    return tuple(_recorded(m.get("seed", (m.get("params") or {}).get("seed"))) for m in (pair.old, pair.new))


def _clipped(value: Any) -> str:
    from featcache.errors import clipped

    return clipped(str(value))


# What ``other_fit`` compares, in the order its line names them; every row across caches of the data set too (a
# re-extraction is the same job: what its fit was asked for is compared, its rows are not: ``_FitPair.rows``).
_FIT_RULES = (
    # the network: another one is another result (a random-weights cache's head replaced an imagenet one; a tester),
    # compared where both say
    _FitRule("backbone", lambda p: p.both("backbone"), _both_recorded, _clipped),
    _FitRule("weights", lambda p: p.both("weights"), _both_recorded, _clipped),
    _FitRule("layer", lambda p: p.both("layer")),
    _FitRule("train size", _FitPair.rows, shown=lambda n: "all" if n is None else str(n)),
    _FitRule("seed", _seeds, _seed_read),
    # absent (a head from before views): the original view alone
    _FitRule("train views", lambda p: tuple(_recorded(m.get("train_views") or ["orig"]) for m in (p.old, p.new)),
             shown=lambda v: ",".join(map(str, v))),
    # a model's: the views its graph averages (export --views; ``deploy.model.check_same_model_job``), where given
    _FitRule("views averaged", lambda p: p.both("model_views"), _both_recorded, shown=lambda v: ",".join(map(str, v))),
)


def _param_rules(pair: _FitPair) -> list[_FitRule]:
    """One row per head parameter either records, but those that only say how a head runs (``RUN_ONLY_PARAMS``),
    the seed (``_FIT_RULES``' own row) and those neither head's fit reads (``heads.unused_params``)."""
    from featcache.heads import HEADS, RUN_ONLY_PARAMS, unused_params

    head = pair.head
    unread = set(unused_params(head, pair.before)) & set(unused_params(head, pair.now)) if head in HEADS else set()
    # values as typed (validate.param_text): '%g' kept 6 digits, so Cs apart in the 7th read alike (h140)
    return [_FitRule(k, lambda p, k=k: (_recorded(p.before.get(k)), p.now.get(k)), shown=param_text)
            for k in sorted(set(pair.before) | set(pair.now)) if k not in RUN_ONLY_PARAMS and k != "seed" and k not in unread]


def _settings_rules(pair: _FitPair) -> list[_FitRule]:
    """One row per setting both fits record under ``fit_settings`` (label -> value, as its line names it): what a
    model's caller compares beyond the head's fit (``deploy.model.check_same_model_job``: a fine-tuned model's
    fine-tuning asked for). The heads layer does not know which settings those are (a review: fine-tuning's keys
    had lived here); one that either does not record is unknown, not compared."""
    there, here = pair.old.get("fit_settings"), pair.new.get("fit_settings")
    if not (isinstance(there, Mapping) and isinstance(here, Mapping)):
        return []
    return [_FitRule(label, lambda p, label=label: (_recorded(there[label]), _recorded(here[label])), shown=param_text)
            for label in here if label in there]


def _rows(meta: Mapping[str, Any], new: Mapping[str, Any]) -> int | None:
    """The train size ``meta`` records, None for every training image: none given, or (a head written before train
    recorded a --train-size of the split's size as none) the size of the split ``new`` used whole."""
    n = meta.get("train_size")
    if n is not None and new.get("train_size") is None and n == new.get("train_images"):
        return None
    return n


def check_same_job(path: str | Path, old: Mapping[str, Any] | None, new: Mapping[str, Any], force: bool,
                   flag: str = "--out", force_flag: str = "--force", default: bool = False) -> None:
    """Refuse to replace a featcache head or model of another job, or a head or model of another fit (``other_job``,
    ``other_fit``), unless ``force``; ``default``: ``path`` is train's default head file (``check_head_out``)."""
    why = None if force else other_job(old, new)
    if why is not None:
        named, instead = _naming(Path(path), flag, default)
        raise FeatcacheError(f"{named} {why}; {way_out(instead, force_flag, new)}")


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def _write_keras(head, tmp: Path, meta: dict[str, Any], digests) -> str:
    head.model_.save(tmp)
    with zipfile.ZipFile(tmp, "a") as zf:
        if head.standardize:  # float64 -> JSON -> float64 is exact
            zf.writestr(STATS_ENTRY, json.dumps({"mean": head.mean_.tolist(), "scale": head.scale_.tolist()}))
    add_digests_entry(tmp, digests)
    return add_sealed_meta(tmp, meta)


def add_digests_entry(path: Path, digests: Any) -> None:
    """Add the training-image keys ``digests`` (``digest_keys``'s sorted uint64, 8 bytes an image) as the
    ``DIGESTS_ENTRY`` of the ``.keras`` zip at ``path``: a Keras head's, or a model's (``deploy.model.write_model``,
    which copies its head's, so evaluate can tell the photos a model was trained on). Nothing for None. Before
    ``add_sealed_meta``: the content digest covers it."""
    if digests is not None:
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr(DIGESTS_ENTRY, _npy_bytes(np.asarray(digests, dtype=np.uint64)))


class CompressedEntry(zipfile.BadZipFile):
    """An entry of a featcache zip stored compressed (``read_entry``): featcache and Keras store every entry as is;
    or a record past ``MAX_META_BYTES``. Refused unread."""


# The most bytes a head's or model's metadata entry (featcache.json, featcache.npy) may hold. The largest measured
# was 6 KB (a head of 400 classes, 2026-12-06); a photo folder's record lists its skipped files (~150 bytes each),
# so 64 MiB holds some 400,000 of them: 10,000 x the largest seen. The record is hashed as parsed (the digest lives
# inside it), so bytes past the JSON (200 MB of spaces) left the digest matching and verify saying "intact" while
# a load took 463 MB of memory (an adversarial tester); a record past this is refused unread.
MAX_META_BYTES = 64 << 20
_META_ENTRIES = (META_ENTRY, f"{NPZ_ENTRY}.npy")  # a .keras head's or model's record, an .npz head's

def odd_entry(zf: zipfile.ZipFile) -> str | None:
    """The why of the first entry of a head's or model's zip ``zf`` that featcache never writes, checked before any
    entry is read, None where there is none: one stored compressed (its zips, np.savez's and Keras's, store every
    entry as is, so what it reads is at most the file's size), a name held by two entries (the digest skips the
    metadata entry by name and zipfile reads the last of a name: one put before the real record went unhashed and
    verify said "intact"; an adversarial tester), or a metadata entry past ``MAX_META_BYTES``."""
    infos = zf.infolist()
    packed = next((i.filename for i in infos if i.compress_type != zipfile.ZIP_STORED), None)
    if packed is not None:
        return _compressed_words(packed)
    counts = Counter(i.filename for i in infos)
    twice = next((name for name, k in counts.items() if k > 1), None)
    if twice is not None:
        return f"its zip holds {counts[twice]} entries named {twice}, which featcache never writes"
    big = next((i for i in infos if i.filename in _META_ENTRIES and i.file_size > MAX_META_BYTES), None)
    return None if big is None else _oversize_words(big)


def _oversize_words(info: zipfile.ZipInfo) -> str:
    """The one wording of a metadata entry past ``MAX_META_BYTES`` (``odd_entry``'s and ``read_entry``'s)."""
    return f"its entry {info.filename} holds {info.file_size:,} bytes, more than the {MAX_META_BYTES:,} of any record featcache writes"


def _compressed_words(name: str) -> str:
    """The one wording of a compressed entry ``name`` (``odd_entry``'s and ``read_entry``'s)."""
    return f"its entry {name} is compressed, which featcache never writes"


def read_entry(zf: zipfile.ZipFile, name: str) -> bytes:
    """The bytes of the entry ``name`` of a head's or model's zip ``zf``: every reader of an entry's whole bytes goes
    through here. A compressed entry raises ``CompressedEntry`` unread: a 10 MB model whose featcache.json was
    deflated with 1 GB of spaces after it (its digest, over the parsed record, still matching) took 2.3 GB and 50 s
    in verify, which called it intact, and one of 20 GB would be killed without a word (an adversarial tester)."""
    info = zf.getinfo(name)
    if info.compress_type != zipfile.ZIP_STORED:
        raise CompressedEntry(_compressed_words(name))
    if name in _META_ENTRIES and info.file_size > MAX_META_BYTES:  # 200 MB of spaces after the JSON: 463 MB, 7 s
        raise CompressedEntry(_oversize_words(info))
    return zf.read(info)


def array_problem(exc: BaseException) -> str:
    """Why an array of a head's or model's zip would not load, in words: an array of Python objects (a pickle, which
    ``allow_pickle=False`` refuses) was said "ValueError" alone (an adversarial tester, helper-272); else its words."""
    if isinstance(exc, ValueError) and "allow_pickle" in str(exc):
        return "it holds an array of Python objects, a pickle, which featcache never writes and never loads"
    return f"an array does not read: {in_words(exc, empty='no detail')}"


def read_digests_entry(zf: zipfile.ZipFile) -> np.ndarray | None:
    """The ``DIGESTS_ENTRY`` of an opened ``.keras`` zip (``add_digests_entry``'s), None where it has none; read
    without pickles. Its shape and type are the caller's to check (``_check_digests``, ``deploy.model``)."""
    if DIGESTS_ENTRY not in zf.namelist():
        return None
    return np.load(io.BytesIO(read_entry(zf, DIGESTS_ENTRY)), allow_pickle=False)


def add_sealed_meta(path: Path, meta: dict[str, Any]) -> str:
    """Add ``meta`` as the ``featcache.json`` entry of the ``.keras`` zip at ``path`` (a Keras head's, or a model's:
    ``deploy.model.save_model``), with the content digest of everything written before it, read back as the
    loaders read it. The entry goes in last: nothing may be added to the file after it. Returns that digest."""
    meta = _as_loaded(meta)
    meta.pop(DIGEST_KEY, None)
    with zipfile.ZipFile(path) as zf:
        meta[DIGEST_KEY] = content_digest(zf, meta, npz=False)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(META_ENTRY, json.dumps(meta))
    return meta[DIGEST_KEY]


def _write_npz(head, tmp: Path, meta: dict[str, Any], digests) -> str:
    import sklearn

    from featcache.heads.state import StateError, encode, trusted_classes

    arrays: list[np.ndarray] = []
    try:
        tree = encode(head, arrays, trusted_classes(type(head)))
    except StateError as exc:
        raise FeatcacheError(f"cannot save this head safely ({exc})") from None
    doc = _as_loaded({"meta": {**meta, "sklearn_version": sklearn.__version__}, "state": tree})
    entries = {f"a{i}": a for i, a in enumerate(arrays)}
    if digests is not None:
        entries["train_digests"] = np.asarray(digests, dtype=np.uint64)
    # An .npz is a zip of .npy files (what np.savez writes, uncompressed); written here entry by entry so the
    # JSON entry, with the digest of the others read back as load_head reads them, can go in last.
    with zipfile.ZipFile(tmp, "w") as zf:
        for name, arr in entries.items():
            zf.writestr(f"{name}.npy", _npy_bytes(arr))
    with zipfile.ZipFile(tmp) as zf:
        doc["meta"][DIGEST_KEY] = content_digest(zf, doc, npz=True)
    with zipfile.ZipFile(tmp, "a") as zf:
        zf.writestr(_entry(npz=True), _npy_bytes(np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8)))
    return doc["meta"][DIGEST_KEY]


def _as_loaded(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` as it reads back from the file (through JSON, objects as their str), which is what the digest covers."""
    return json.loads(json.dumps(doc, default=str))


def _canonical(doc: Any) -> bytes:
    """One byte string per JSON value, however the file spelt it (key order, spaces, escapes)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _entry(npz: bool) -> str:
    """The zip entry that holds a head's metadata, and so its digest."""
    return f"{NPZ_ENTRY}.npy" if npz else META_ENTRY


def _without_digest(doc: Any, npz: bool) -> Any:
    """The metadata as the digest covers it: everything but the digest itself (an .npz's doc holds it under "meta")."""
    if npz and isinstance(doc, dict) and isinstance(doc.get("meta"), dict):
        return {**doc, "meta": {k: v for k, v in doc["meta"].items() if k != DIGEST_KEY}}
    return {k: v for k, v in doc.items() if k != DIGEST_KEY} if isinstance(doc, dict) else doc


def content_digest(zf: zipfile.ZipFile, doc: Any, npz: bool) -> str:
    """SHA-256 of a head file, or of a model file (``deploy.model``, ``npz`` False): its metadata ``doc`` without the
    digest (canonical JSON), then every other entry of its zip in name order, each as its name, size and bytes (an
    entry added, dropped, renamed or changed changes it). The one digest of both kinds of file, its domain string
    ("featcache head v2") included.

    The metadata is hashed as parsed, not as stored, because the digest lives inside it; every other entry as
    stored (the weights, the arrays, Keras's config). Reading an entry through also checks the zip's CRC-32.
    """
    h = hashlib.sha256(b"featcache head v2\0")

    def part(data: bytes) -> None:
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)

    part(_canonical(_without_digest(doc, npz)))
    for info in sorted(zf.infolist(), key=lambda i: i.filename):
        if info.filename == _entry(npz):
            continue
        part(info.filename.encode())
        h.update(info.file_size.to_bytes(8, "little"))
        with zf.open(info) as f:
            while block := f.read(1 << 20):
                h.update(block)
    return h.hexdigest()


def _read_doc(zf: zipfile.ZipFile, npz: bool) -> Any:
    """The JSON entry of a head file: an .npz's {"meta", "state"}, a .keras head's metadata; None if unreadable."""
    try:
        if npz:
            return json.loads(np.load(io.BytesIO(read_entry(zf, _entry(npz))), allow_pickle=False).tobytes())
        return json.loads(read_entry(zf, META_ENTRY))
    except MemoryError:  # the machine's trouble, not the file's: never "a zip file featcache did not write"
        raise
    except Exception:  # not there, not JSON: the loader that follows says what is wrong
        return None


def stored_digest(path: str | Path) -> str | None:
    """The content digest a head or model file at ``path`` carries (not checked: its reader checks it), None where it
    carries none or is no such file: what a ``TrainResult`` or ``ExportResult`` compares with the digest it wrote
    (``validate.check_source``)."""
    try:
        with zipfile.ZipFile(path) as zf:
            npz = _is_npz(zf)
            doc = _read_doc(zf, npz)
    except Exception:  # not a zip, unreadable: the reader says what it is
        return None
    meta = doc.get("meta") if npz and isinstance(doc, dict) else doc
    digest = meta.get(DIGEST_KEY) if isinstance(meta, dict) else None
    return digest if isinstance(digest, str) else None


def check_content(path: str | Path, data: bytes | None = None) -> bool:
    """Whether the head file at ``path`` carries a content digest, having checked it: a digest that does not match
    its contents, or a head of format 2 or later without one, is one line naming the file and the fix.

    False (no digest: a head saved before 2026-12-03) comes with an ``UncheckedHeadWarning``. A file whose
    metadata cannot be read is left to the loaders, which say what is wrong with it. ``data``: the file's bytes as
    the caller read them (``load_head``), checked in place of the file at ``path`` (which names it in the lines).
    """
    path = Path(path)
    if data is None:  # read in parts here: a file past the bound is refused as the loaders refuse it, before its zip
        # is judged (a sparse 4 GiB hole before a head's zip was "other data before its zip", not its size; the suite)
        check_size(path, MAX_FILE_BYTES, "head", f"pass {head_file()}")
    if _zip_is_npz(path, data):  # by what it holds, not its name: before its entries are read through for the digest
        _check_stored(path, data)
    checked, _ = check_digest(path, _altered, data)
    if checked is False:
        warn(f"{path} carries no content digest (saved before featcache's head digests of 2026-12-03, or its "
             f"digest was removed), so nothing checks that it is as saved; {retrain()} to have it checked",
             UncheckedHeadWarning)
    return bool(checked)


def check_digest(path: Path, altered: Callable[[Path, str], FeatcacheError],
                 data: bytes | None = None) -> tuple[bool | None, Any]:
    """``(checked, meta)`` of a zip file featcache wrote with a ``content_digest`` in its metadata: a head (``.npz``
    or ``.keras``) or a model (``deploy.model``, whose ``featcache.json`` is a ``.keras`` head's). The one check of both.

    ``checked``: True when the digest matches (``meta`` is the metadata it covers, as read), False when the file
    carries none and says a format before 2 (the caller notes it), None when its metadata cannot be read (the
    loaders say what is wrong). A mismatch, an entry that does not read back (a bad CRC-32) or a format of 2 or
    later without a digest raises ``altered(path, why)``. ``data``: the file's bytes as the caller read them
    (``deploy.model.ModelFile``), checked in place of the file at ``path`` (which names it in the lines).
    """
    try:
        # the digest covers the entries, and zipfile reads on past bytes put after the zip (up to 64 KB: it finds the
        # directory searching back from the file's end): a head with 1 byte appended was "ok: intact" (a brief, h309)
        if (after := data_after(_zip_source(path, data))) is not None:
            raise altered(path, after)
        with zipfile.ZipFile(path if data is None else io.BytesIO(data)) as zf:
            if (packed := odd_entry(zf)) is not None:  # before any entry is read or hashed whole
                raise altered(path, packed)
            # the digest covers the entries, not what is put before them: a model with 1 KB before its zip was
            # "ok: intact" in verify and shown by info (a tester), where a head's .npz was refused (``_data_before``)
            if (before := data_before(zf)) is not None:
                raise altered(path, before)
            npz = _is_npz(zf)
            doc = _read_doc(zf, npz)
            meta = doc.get("meta") if npz and isinstance(doc, dict) else doc
            if not isinstance(meta, dict):
                return None, meta
            stored = meta.get(DIGEST_KEY)
            if stored is None:
                version = meta.get("format_version", 1)
                if not (isinstance(version, int) and not isinstance(version, bool) and version < 2):
                    raise altered(path, f"it says format {version!r} but carries no {DIGEST_KEY}")
                written_by = meta.get("featcache_version")
                if isinstance(written_by, str) and release(written_by) >= DIGESTS_SINCE:
                    # format_version set back to 1 and the digest dropped (an adversarial tester): featcache from
                    # 0.2.0 on writes every head and model with a digest, so one that says so has had it removed
                    raise altered(path, f"it says featcache {written_by} wrote it, which writes a {DIGEST_KEY}, "
                                        "but it carries none")
                return False, meta
            actual = content_digest(zf, doc, npz)
    except (FeatcacheError, MemoryError):  # a MemoryError is the machine's trouble, not the file's
        raise
    except Exception as exc:  # a bad CRC-32 or a truncated entry while hashing: "Bad CRC-32 for file 'a0.npy'"
        why = first_line(exc, empty="it ends early")  # its words, never its type's name (zlib's, EOFError; h309)
        raise altered(path, f"an entry of its zip does not read back: {why}") from None
    if actual != stored:
        raise altered(path, f"its {DIGEST_KEY} does not match its contents")
    return True, meta


def _altered(path: Path, why: str) -> FeatcacheError:
    return FeatcacheError(f"{path} is damaged or was changed after {command('train')} saved it ({why}); retrain the "
                          f"head with {command('train')}")


def check_regular_file(path: Path, what: str, fix: str, fix_missing: str, holds: tuple[str, ...] = ()) -> None:
    """``path`` is a regular file (links followed), or one line saying it is missing or is something else: a folder
    as one (``folder_given``, naming its files ending in ``holds``).

    A FIFO given as a head or model was reported "not found" (an adversarial
    tester's mkfifo): it is there, and opening it as a zip would wait forever.
    """
    path = check_path(path, what, f"the {what} file ({fix_missing})")
    if path.is_file():
        try:
            with open(path, "rb"):
                pass
        except PermissionError:  # mode 000: zipfile.is_zipfile says False, and it was "not a readable head" or a traceback
            raise FeatcacheError(no_permission(path)) from None
        return
    if not path.exists():
        raise FeatcacheError(f"{what} file not found: {path}; {fix_missing}")
    if path.is_dir():
        raise folder_given(path, what, fix, holds)
    raise FeatcacheError(f"{path} is not a regular file (a FIFO, socket or device); {fix}")


def folder_given(path: Path, what: str, fix: str, holds: tuple[str, ...]) -> FeatcacheError:
    """The one line for a folder given where a head or model file goes, with ``fix``, and up to three of its files
    ending in ``holds`` (where it may be listed), which may be what was meant. load_model said "not a regular file
    (a FIFO, socket or device)" of a folder, where load_head said "is a folder" (a brief, helper-297)."""
    inside = sorted(p.name for p in path.iterdir() if p.suffix in holds)[:3] if holds and os.access(path, os.R_OK) else []
    hint = f" (it holds {', '.join(inside)})" if inside else ""
    return FeatcacheError(f"{path} is a folder, not a {what} file{hint}; {fix}")


KERAS_WEIGHTS_ENTRY = "model.weights.h5"  # the HDF5 file inside a .keras zip that Keras opens with h5py to load weights


def keras_weights_outside(path: Path, data: bytes | None = None) -> str | None:
    """What of the weights file inside the .keras zip at ``path`` (``KERAS_WEIGHTS_ENTRY``) reaches outside it
    (``validate.outside_storage``), in words; None where nothing does, or where it is no zip or HDF5 file to walk
    (Keras's load then says what it is).

    Keras opens that file with h5py. Keras 3.14 (which pyproject allows) has no check of its own: an external link,
    external storage or a virtual dataset there is followed as the weights load (a FIFO blocks in C, deaf to Ctrl-C;
    another file is read as the weights); 3.15 refuses them itself, in a line that lost the reason ("A total of 1
    objects could not be loaded"; helper-214, helper-223, 2026-12-06). A content digest is no signature: an edited
    file re-sealed passes it. The entry is read into memory (its zip CRC checked) and walked there, no link resolved
    and no data read: 0.06-0.13 s for a 9.7 MB exported model (the walk, not the 7 ms read; h5py on the zip's
    stream was 0.9 s), next to a load of 3.5-22 s (2 cores, load 10, 2026-12-06). ``data``: the file's bytes, read
    by the caller, walked in place of the file at ``path``."""
    import h5py

    try:
        with zipfile.ZipFile(path if data is None else io.BytesIO(data)) as zf:
            raw = read_entry(zf, KERAS_WEIGHTS_ENTRY)
        with h5py.File(io.BytesIO(raw), "r") as f:
            problem = outside_storage(f)
    except (OSError, RuntimeError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return None  # not a zip, no weights entry, or no HDF5 file: Keras's load refuses it in its own words
    return f"its {KERAS_WEIGHTS_ENTRY}: {problem}" if problem else None


def load_keras_file(path: Path, fix: str = "pass a file featcache wrote", data: bytes | None = None) -> Any:
    """Keras's ``load_model`` of a featcache .keras file (a head's or an exported model's), in safe mode, leaving
    nothing in the temp folder; a full temp folder (or a file size limit) is the full-disk line naming it. A file
    whose weights reach outside it (``keras_weights_outside``) is refused before Keras opens it, with ``fix``.

    Keras unpacks a .keras file of more than its own three entries (featcache's record and digests make five) whole
    into a new folder of ``tempfile``'s, and leaves it there when unpacking fails: ``TMPDIR`` on a nearly full tmpfs
    (or ``ulimit -f``) said "could not be loaded (OSError: [Errno 28] ...); re-export it" of a sound model and left
    its half-written copy behind (an adversarial tester).

    ``data``: the file's bytes as the caller read and checked them (``deploy.model.ModelFile``: hashed, its content
    digest checked): those are loaded, from a private copy in a temp folder of the load's own (Keras's public
    loader takes a path), not the file at ``path`` again, which may have been replaced since they were read.
    """
    from featcache._lazy import keras

    problem = keras_weights_outside(path, data)
    if problem:
        raise FeatcacheError(f"{path} reaches outside its file ({problem}), which Keras would follow as it loads it "
                             f"and featcache never writes; {fix} (it was not loaded)")
    k = keras()  # first: its quiet import of TensorFlow, before _keras_temp_folders imports Keras's saving_lib
    made: list[str] = []
    try:
        with _keras_temp_folders(made):
            return k.models.load_model(path if data is None else _private_copy(data, made), compile=False, safe_mode=True)
    except Exception as exc:
        _remove_folders(made)  # first: the space they held counts as free in the line below
        if any(is_no_space(e) for e in exception_chain(exc)):
            import tempfile

            where = Path(made[0]) if made else Path(tempfile.gettempdir())
            needed = _unpacked_size(path if data is None else io.BytesIO(data))  # and the copy of ``data`` beside it
            raise no_space(where, needed + len(data) if needed is not None and data is not None else needed, exc=exc,
                           advice=f"set TMPDIR to a folder with room (Keras unpacks {path.name} there to load it)") from None
        raise
    finally:
        _remove_folders(made)


_KERAS_TEMPS = threading.local()  # .made: the list a load on this thread records Keras's temp folders in


@contextmanager
def _keras_temp_folders(made: list[str]) -> Iterator[None]:
    """Record in ``made`` the temp folders Keras makes on this thread while the block runs (its saving_lib makes
    them all with ``get_temp_dir``, wrapped here once; where a Keras release has none, nothing is recorded)."""
    try:
        from keras.src.saving import saving_lib
    except ImportError:
        saving_lib = None
    original = getattr(saving_lib, "get_temp_dir", None)
    if original is not None and not getattr(original, "featcache_records", False):
        def get_temp_dir() -> str:
            folder = original()
            recording = getattr(_KERAS_TEMPS, "made", None)
            if recording is not None:
                recording.append(folder)
            return folder

        get_temp_dir.featcache_records = True
        saving_lib.get_temp_dir = get_temp_dir
    _KERAS_TEMPS.made = made
    try:
        yield
    finally:
        _KERAS_TEMPS.made = None


def _private_copy(data: bytes, made: list[str]) -> str:
    """A .keras file (0600) of ``data`` in a new temp folder (0700, recorded in ``made`` to be removed with Keras's own):
    what Keras loads of bytes the caller has checked. A full temp folder is load_keras_file's full-disk line."""
    import tempfile

    folder = tempfile.mkdtemp()  # named as Keras's are (tmp...): the full-disk line names it as one of them
    made.append(folder)
    return str(write_private(folder, "model.keras", data))


def _remove_folders(folders: list[str]) -> None:
    import shutil

    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _unpacked_size(path: Path | io.BytesIO) -> int | None:
    """The bytes Keras unpacks of the .keras file ``path`` (every entry; or of its bytes); None where its zip cannot
    be read."""
    try:
        with zipfile.ZipFile(path) as zf:
            return sum(info.file_size for info in zf.infolist())
    except (OSError, zipfile.BadZipFile):
        return None


def load_problem(exc: BaseException) -> str:
    """Why Keras would not load a .keras file (a head or an exported model), in words: the lines named only the
    exception's type, 'ValueError' for a Lambda layer's code refused by safe mode (an adversarial tester)."""
    text = str(exc)
    if isinstance(exc, zipfile.BadZipFile):
        return "damaged: not a readable .keras zip archive"
    if "safe_mode" in text or "arbitrary code" in text:
        return "it holds code (a Lambda layer or similar), which featcache never runs"
    # featcache's own refusal inside Keras's deserialization (a model naming an unknown backbone): Keras keeps it as
    # the last "Exception encountered:" of its text; the line said 'TypeError' alone (an adversarial tester)
    last = text.rpartition("Exception encountered: ")[2]
    if last is not text and "unknown backbone" in last:
        return first_line(RuntimeError(last), limit=200)
    # Anything else in Keras's own words (errors.in_words), never its type's name ("TypeError: ..."; h319's brief):
    # the type alone ('could not be loaded (ValueError)') did
    # not say why, for a config.json altered to name an unknown layer class or argument (an adversarial tester).
    # The innermost "Exception encountered:" is the cause; the lines before it are Keras's advice and the config.
    # one_line: the text quotes the file's config, which may hold control characters.
    # A layer's call failing while Keras rebuilds the model is "Exception encountered when calling X.call().", then
    # the cause (in bold: ANSI escapes), then the arguments: the first line alone was that preamble (a tester's
    # model with image_size -5 said "could not be loaded (ValueError: Exception encountered when calling
    # Preprocess.call().)"), so the cause is taken from the next paragraph.
    if last.lstrip().startswith("Exception encountered when calling"):
        paragraphs = [p.strip() for p in re.sub(r"\x1b\[[0-9;]*m", "", last).split("\n\n") if p.strip()]
        if len(paragraphs) > 1:
            last = paragraphs[1]
    why = in_words(exc if last is text else RuntimeError(last), empty="")
    if len(why) > 200:  # Keras's longest run on with advice: their first sentence says what is wrong
        first, dot, _ = why[:200].partition(". ")
        why = first + "." if dot else why[:197] + "..."
    return one_line(why or "Keras gave no reason")


def _unreadable(path: Path, why: str) -> FeatcacheError:
    if (damage := damage_error(path, _altered)) is not None:  # its zip fails its CRC or is cut short: that is what is wrong
        return damage
    return FeatcacheError(f"{path} is not a readable featcache head ({why}); pass a file written by {command('train')}")


MODEL_KIND = "featcache-model"  # the kind a model file (export, finetune) records: deploy.model.KIND
# What every model's featcache.json has recorded since the first export (2026-11-26) and no head's ever has: a model
# whose "kind" was removed is still told from a head of featcache 0.1, which records no kind (an adversarial tester's
# model without "kind" was called "a head: export it first").
MODEL_ONLY_FIELDS = ("input", "output", "head_path")


def is_model_record(meta: Any) -> bool:
    """Whether ``meta`` (a zip's featcache.json) is a model's record: its kind says so, or it holds
    ``MODEL_ONLY_FIELDS`` whatever its kind says (a kind removed or changed by an edit: ``deploy.model`` names it)."""
    return isinstance(meta, dict) and (meta.get("kind") == MODEL_KIND or all(k in meta for k in MODEL_ONLY_FIELDS))


def _is_npz(zf: zipfile.ZipFile) -> bool:
    return f"{NPZ_ENTRY}.npy" in zf.namelist()


def read_record(path: str | Path) -> Any:
    """The record of a zip featcache writes, as stored, nothing checked: an .npz head's ``meta``, a .keras head's or
    a model's ``featcache.json`` (``_read_doc``, the one reader of that entry: check_digest's and load_head's too);
    None where there is none that reads (no zip, no such entry, not JSON). What the record says, which an edit may
    have changed: ``file_kind`` reads the kind from it, ``network_kind`` what the file holds."""
    zf = _open_zip(path)
    if zf is None:
        return None
    with zf:
        return _record_in(zf)


def _open_zip(path: str | Path, data: bytes | None = None) -> zipfile.ZipFile | None:
    """The zip at ``path`` (or of its bytes ``data``, read by the caller), opened, or None where it is none that
    opens (the loaders say what is wrong): opened once by each of ``read_record``, ``file_kind``, ``network_kind``
    and ``edited``, which read their entries from it (``edited`` opened it up to five times), and by ``_zip_is_npz``."""
    try:
        return zipfile.ZipFile(_zip_source(path, data))
    except Exception:  # noqa: BLE001 (not a zip, a damaged one: the loaders say what is wrong)
        return None


def _zip_source(path: str | Path, data: bytes | None) -> str | Path | io.BytesIO:
    """What a zip is read from: the bytes a loader read once and checks (``load_head``), else the file at ``path``."""
    return path if data is None else io.BytesIO(data)


def _record_in(zf: zipfile.ZipFile) -> Any:
    """``read_record`` of the opened zip ``zf``."""
    try:
        npz = _is_npz(zf)
        doc = _read_doc(zf, npz)
    except MemoryError:  # the machine's trouble, not the file's (``_read_doc``)
        raise
    except Exception:  # noqa: BLE001 (a damaged zip: the loaders say what is wrong)
        return None
    return (doc.get("meta") if isinstance(doc, dict) else None) if npz else doc


def read_head_meta(path: str | Path) -> dict[str, Any] | None:
    """The metadata of a featcache head file without loading the head; None for any other file."""
    meta = read_record(path)
    return meta if _is_head_record(meta) else None


def _is_head_record(meta: Any) -> bool:
    """Whether ``meta`` (a record, ``read_record``'s) is a head's."""
    # Heads of featcache 0.1 have no "kind"; a model file (export, finetune) says "featcache-model".
    # A file save_head wrote says so (its meta need not name a cache: save_head's own checks are load_head's).
    return isinstance(meta, dict) and (meta.get("kind") == HEAD_KIND or ("kind" not in meta and "cache_fingerprint" in meta)) \
        and not is_model_record(meta)


def file_kind(path: str | Path) -> str | None:
    """What featcache wrote ``path`` as, without loading it: ``"head"`` ('featcache train'), ``"model"``
    ('featcache export' or 'finetune'), or None. How a command given the wrong kind of file names the right one."""
    return _record_kind(read_record(path))  # one open (it read the record twice for a model's)


def _record_kind(record: Any) -> str | None:
    """``file_kind`` of a file whose record (``read_record``'s) is ``record``."""
    if _is_head_record(record):
        return "head"
    # the record through read_record, the one reader: an .npz head's kind edited to a model's was read from a
    # featcache.json it does not have, so info and verify called it "a zip file (a Keras model of another program?)"
    return "model" if is_model_record(record) else None


def network_kind(path: str | Path) -> str | None:
    """What a .keras file's network is, read from its config.json as JSON (nothing built, nothing run): ``"model"``
    where it holds featcache's own image layers (``featcache>Preprocess`` begins every exported or fine-tuned model),
    ``"head"`` where it is a Dense head's: one input, a features vector ``(None, width)``, into the layer
    ``head_logits`` (``_check_keras_layers``); ``"head"`` too for an .npz head (its ``featcache.npy`` state: a
    scikit-learn head's arrays, which no model is); else None (unreadable, or neither: a test's stub network).
    The contents, which an edit of the record's kind and fields leaves as they were."""
    zf = _open_zip(path)
    if zf is None:
        return None
    with zf:
        return _network_in(zf)


def _network_in(zf: zipfile.ZipFile) -> str | None:
    """``network_kind`` of the opened zip ``zf``."""
    try:
        if _is_npz(zf):
            return "head"
        config = json.loads(read_entry(zf, "config.json"))
        layers = config["config"]["layers"]
    except Exception:  # noqa: BLE001 (an .npz head, a damaged or foreign file: the loaders say what is wrong)
        return None
    if any(str(n).startswith("featcache>") for n in _registered_names(config)):
        return "model"
    layers = [layer for layer in layers if isinstance(layer, dict) and isinstance(layer.get("config"), dict)]
    inputs = [layer["config"].get("batch_shape") for layer in layers if layer.get("class_name") == "InputLayer"]
    logits = any(layer["config"].get("name") == "head_logits" for layer in layers)
    return "head" if logits and len(inputs) == 1 and isinstance(inputs[0], list) and len(inputs[0]) == 2 else None


def _registered_names(node: Any) -> Iterable[Any]:
    """Every ``registered_name`` in a Keras config, nested models' (a backbone inside a model) included."""
    if isinstance(node, dict):
        if "registered_name" in node:
            yield node["registered_name"]
        for value in node.values():
            yield from _registered_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _registered_names(value)


def edited(path: str | Path, data: bytes | None = None) -> FeatcacheError | None:
    """The one line for a file whose record (its kind as ``file_kind`` reads it) says one thing and its network
    another, else None: the rule of every loader, and of info and verify, read from one opening of the zip. A model
    whose kind and model-only fields were edited to a head's was refused as "Could not locate class 'Preprocess'"
    (Keras's words), and a head whose kind was edited to a model's was called "a model written by 'featcache
    export'" (a session's note): the record lies, so neither is said to be what it claims. A record that names
    neither kind (its kind edited to 'xyz' or removed) on a head's or model's network is edited too (info and verify
    called it another program's zip). Its callers asked ``file_kind`` and then a second function of that kind (two
    openings); that function is gone. ``data``: the file's bytes, read by the caller, in place of the file."""
    zf = _open_zip(path, data)
    if zf is None:
        return None
    with zf:
        record = _record_in(zf)
        return _edited_in(zf, path, _record_kind(record), record)


def _edited_in(zf: zipfile.ZipFile, path: str | Path, kind: str | None, record: Any) -> FeatcacheError | None:
    """``edited`` of the opened zip ``zf`` at ``path``, whose record is ``record`` (its kind: ``kind``)."""
    if kind is None and not isinstance(record, dict):  # no record of featcache's: nothing says what it is
        return None
    contents = _network_in(zf)
    if contents is None or contents == kind:
        return None
    npz = _is_npz(zf)
    network = ("a model's network (images in, featcache's Preprocess layer first)" if contents == "model"
               else "a scikit-learn head's arrays (an .npz: features in, no image layers)" if npz
               else "a head's network (a features vector in, no image layers)")
    fix = (f"export the model again with {command('export')} (or train the head again)" if contents == "model"
           else f"train the head again with {command('train')} (or export the model again)")
    says = f"says it is a {kind}" if kind is not None else _kind_words(record)
    return FeatcacheError(f"{path}'s record {says} but the file holds {network}: edited by hand or damaged; {fix}")


# A head or model is a few MB (a 96 px MobileNetV2 model: 9.2 MB); a file far larger is none, and is not read whole.
DAMAGE_SCAN_BYTES = 512 * 2**20


def damaged_zip(path: str | Path) -> tuple[str, bool] | None:
    """``(why, ours)`` for a file that starts as a zip archive (heads and models are) but does not read back as one:
    cut short (no directory at its end), an entry failing its CRC-32 or named otherwise in the zip's directory than
    in its own header, or a whole zip with other bytes after it (``data_after``; of any size, where the rest are
    judged up to ``DAMAGE_SCAN_BYTES``); ``ours``: whether it shows itself featcache's (its metadata entry listed,
    first, or named by its own header or one character off in the directory: ``_ours_renamed``). None for a file
    that reads, or is no such zip. The one rule of a damaged head's or model's zip. A flipped bit
    in the metadata entry or a truncated file was "not a readable HDF5 file" in verify, "not a featcache model
    (BadZipFile)" in predict, "neither a .keras nor an .npz head" in evaluate (an adversarial tester)."""
    try:
        p = Path(path)
        if not p.is_file():
            return None
        big = p.stat().st_size > DAMAGE_SCAN_BYTES
        with open(p, "rb") as f:
            start = f.read(512)  # a cache is read no further (a review: verify read every cache whole first)
    except OSError:
        return None
    # a whole zip with other bytes after it, walked from its start (a few headers read, whatever the file's size):
    # zipfile finds no directory past 64 KB of them, and this was "cut short" (a brief, h309)
    walked = zip_extent(p) if start.startswith(b"PK\x03\x04") else None
    after = _after_words(walked)
    if walked is not None and after is not None and any(n in _OURS_FIRST for n in walked[2]):
        return after, True
    if big:
        return None
    if not start.startswith(b"PK\x03\x04"):
        return _data_before(p)
    # cut inside its first entry's header or name: the whole file is shorter than what was read (a long first name
    # in a whole zip is not; a review)
    if len(start) < 512 and len(start) < 30 + int.from_bytes(start[26:28], "little"):
        if not _plausible_header(start):
            return None  # "PK\x03\x04" and then anything: no zip's start
        name = start[30:].decode("utf-8", "replace")  # "not a readable HDF5 file" in verify (a tester)
        ours = bool(name) and any(n.startswith(name) for n in _OURS_FIRST)
        return f"cut short: {len(start)} bytes, not even its first entry's header", ours
    try:
        with zipfile.ZipFile(p) as zf:
            ours = any(n in zf.namelist() for n in _OURS_FIRST) or _ours_renamed(zf, p)
            packed = odd_entry(zf)
            if packed is not None and not ours:  # another program's zip, intact: not featcache's, not damaged
                return None  # (its entries are not inflated to check them; a review: a deflated zip was "damaged")
            bad = packed or _bad_entry(zf)  # another program's zip too: one that fails its checks is damaged, whoever wrote it
    except Exception as exc:  # no central directory (cut short), a header that does not match its entry
        first = _first_entry(start)
        if not (first in _OURS_FIRST or first in _KERAS_FILES or first.endswith(".npy")):
            return None  # "PK\x03\x04" and then anything: no head or model
        if after is not None:  # whole, then more: not cut short
            why = after
        elif isinstance(exc, zipfile.BadZipFile) and "not a zip file" in str(exc):
            why = "cut short: the zip's directory at its end is missing"
        else:
            why = f"not a whole zip archive: {first_line(exc)}"
        return why, first in _OURS_FIRST  # a Keras file's or an array's first entry: anyone's .keras or .npz
    return (bad, ours) if bad else None


def _bad_entry(zf: zipfile.ZipFile) -> str | None:
    """Why the first entry of ``zf`` that does not read back fails (its CRC-32, or a name in the zip's directory
    that is not its own header's); None when every entry reads back."""
    for info in zf.infolist():
        try:
            with zf.open(info) as f:
                while f.read(1 << 20):
                    pass
        except zipfile.BadZipFile as exc:
            if "differ" in str(exc):  # "File name in directory 'featc`che.npy' and header b'featcache.npy' differ."
                return f"the zip's directory names its entry {info.filename!r}, which its own header does not"
            return f"its entry {info.filename} fails its CRC-32 check"
    return None


def _ours_renamed(zf: zipfile.ZipFile, path: Path) -> bool:
    """Whether a zip whose directory lists no featcache entry is featcache's all the same, a name in its directory
    damaged: an entry's own header names featcache's entry, or a directory name is one character off it. A byte
    flipped in the directory's ``featcache.json`` made a head "not a readable featcache head (KeyError: ...)" in
    evaluate and "a zip file (a Keras model of another program?)" in info (an adversarial tester)."""
    if any(_one_off(info.filename, ours) for info in zf.infolist() for ours in _OURS_FIRST):
        return True
    try:
        with open(path, "rb") as f:
            for info in zf.infolist():
                f.seek(info.header_offset + 26)
                n = int.from_bytes(f.read(2), "little")
                f.seek(2, os.SEEK_CUR)  # the extra field's length
                if f.read(n).decode("utf-8", "replace") in _OURS_FIRST:
                    return True
    except (OSError, ValueError):
        pass
    return False


def _one_off(name: str, ours: str) -> bool:
    """``name`` is ``ours`` with one character changed (a flipped bit in a name)."""
    return len(name) == len(ours) and sum(a != b for a, b in zip(name, ours)) == 1


_OURS_FIRST = (META_ENTRY, f"{NPZ_ENTRY}.npy")
_KERAS_FILES = ("metadata.json", "config.json", "model.weights.h5")


def _plausible_header(start: bytes) -> bool:
    """Whether what there is of a zip's first local header reads as one: a version needed to extract of at most
    6.3 (the newest APPNOTE), a compression method zipfile knows (stored, deflated, bzip2, lzma)."""
    version = int.from_bytes(start[4:6], "little") if len(start) >= 6 else 0
    method = int.from_bytes(start[8:10], "little") if len(start) >= 10 else 0
    return version <= 63 and method in (0, 8, 12, 14)


def _first_entry(start: bytes) -> str:
    """The name of a zip's first entry, from its local header (a file cut short keeps it, not its directory)."""
    n = int.from_bytes(start[26:28], "little")
    return start[30:30 + n].decode("utf-8", "replace") if len(start) >= 30 + n else ""


def _data_before(p: Path) -> tuple[str, bool] | None:
    """``damaged_zip``'s answer for featcache's zip with other bytes before it (zipfile finds its directory at the
    end and reads on; featcache never writes such a file): NumPy reads a file that does not start as a zip as a
    pickle, so 1 KB put before a head made load_head, verify and info say it "holds ... a pickle" (a tester). None
    for a file that is no zip, one that starts where its entries do, or another program's (a self-extracting one)."""
    try:
        with zipfile.ZipFile(p) as zf:
            if not any(n in zf.namelist() for n in _OURS_FIRST):
                return None
            why = data_before(zf)
    except Exception:  # noqa: BLE001 (no zip: a cache, any other file, which its reader names)
        return None
    return (why, True) if why is not None else None


def data_before(zf: zipfile.ZipFile) -> str | None:
    """Why a zip featcache wrote is not as written where other bytes come before its first entry (zipfile's offsets
    count them, the zip being read all the same), else None: the one wording of it, a head's and a model's."""
    before = min((info.header_offset for info in zf.infolist()), default=0)
    return f"{counted(before, 'byte')} of other data before its zip, which featcache never writes" if before > 0 else None


def data_after(source: str | Path | io.BytesIO) -> str | None:
    """Why a zip featcache wrote is not as written where other bytes follow its end (the 22-byte record that closes
    its directory; featcache's zips, np.savez's and Keras's, end there, with no comment), else None: the one wording
    of it, a head's and a model's, beside ``data_before``'s. zipfile finds a zip's directory by searching back from the
    file's end, so up to 64 KB put after one was read as if absent (verify said "intact" of a head with 1 byte
    appended) and more made it "cut short" (a brief, h309). ``source``: the file, or the bytes a loader read."""
    return _after_words(zip_extent(source))


def _after_words(walked: tuple[int, int, list[str], int] | None) -> str | None:
    """``data_after``'s words for what ``zip_extent`` walked, None where nothing follows the zip (or it was not walked).
    A comment its closing record declares is named as one: a head given a comment (``zip -z``) was "5 bytes of other
    data after its zip" (an adversarial tester, h320), which sent the reader looking for appended bytes."""
    if walked is None or walked[1] <= walked[0]:
        return None
    end, size, _, comment = walked
    if 0 < comment <= size - end:
        rest = size - end - comment
        more = f" and {counted(rest, 'byte')} of other data after it" if rest else ""
        return f"a zip comment of {counted(comment, 'byte')}{more}, which featcache never writes"
    return f"{counted(size - end, 'byte')} of other data after its zip, which featcache never writes"


# The most entries ``zip_extent`` walks: a head's .npz holds a few arrays, a model's .keras Keras's three files and
# featcache's one or two; past this it is another program's zip (a data set's), which is not walked header by header.
_WALKED_ENTRIES = 1000
_ZIP64_MARK = 0xFFFFFFFF  # a size or offset held in the entry's zip64 extra field instead


def zip_extent(source: str | Path | io.BytesIO) -> tuple[int, int, list[str], int] | None:
    """``(end, size, names, comment)`` of a zip that starts at the first byte of ``source`` (a file, or bytes read):
    where it ends, walked from its start (each entry's local header and data, then its directory and the records that
    close it: APPNOTE 4.3; a comment, which featcache never writes, not counted in), the size of what holds it, the
    names its directory lists and the length of the comment its closing record declares. None where it cannot be walked
    so: no zip at its start, cut short, an entry whose size is kept in a data descriptor (a zip streamed to a pipe,
    which featcache never writes), or more than ``_WALKED_ENTRIES`` entries. Walked from the start, not found from the
    end as zipfile finds a zip's directory, so what is put after the zip, however much, is not taken for part of it."""
    try:
        with (open(source, "rb") if isinstance(source, (str, Path)) else _kept_open(source)) as f:
            size = f.seek(0, os.SEEK_END)

            def at(offset: int, n: int) -> bytes:
                f.seek(offset)
                got = f.read(n)
                if len(got) < n:
                    raise EOFError
                return got

            def u(b: bytes, i: int, n: int) -> int:
                return int.from_bytes(b[i:i + n], "little")

            pos, entries = 0, 0
            while at(pos, 4) == b"PK\x03\x04":
                head = at(pos, 30)
                flags, csize, n, m = u(head, 6, 2), u(head, 18, 4), u(head, 26, 2), u(head, 28, 2)
                if flags & 0x08:  # its sizes follow its data (a data descriptor), in any header, zip64's too: a
                    # streamed zip64 entry's extra field holds 0, and a stored zip inside it was walked as the zip
                    # (an intact zip holding a head, streamed, was "damaged": h320)
                    return None
                if csize == _ZIP64_MARK:  # np.savez writes every array so (force_zip64): the size in the extra field
                    csize = _zip64_size(at(pos + 30 + n, m), u(head, 22, 4) == _ZIP64_MARK)
                entries += 1
                if csize is None or entries > _WALKED_ENTRIES:
                    return None
                pos += 30 + n + m + csize
            names = []
            while at(pos, 4) == b"PK\x01\x02":
                head = at(pos, 46)
                n, m, k = u(head, 28, 2), u(head, 30, 2), u(head, 32, 2)
                names.append(at(pos + 46, n).decode("utf-8", "replace"))
                if len(names) > _WALKED_ENTRIES:
                    return None
                pos += 46 + n + m + k
            if at(pos, 4) == b"PK\x06\x06":  # zip64's end of directory (a file past 2 GiB), then its locator
                pos += 12 + u(at(pos, 12), 4, 8)
                if at(pos, 4) != b"PK\x06\x07":
                    return None
                pos += 20
            if at(pos, 4) != b"PK\x05\x06":
                return None
            record = at(pos, 22)  # the whole record is there
            return pos + 22, size, names, u(record, 20, 2)
    except (OSError, EOFError, ValueError):
        return None


@contextmanager
def _kept_open(f: io.BytesIO) -> Iterator[io.BytesIO]:
    """``f`` as a ``with`` block's file, left open after it (the caller's bytes)."""
    yield f


def _zip64_size(extra: bytes, usize_too: bool) -> int | None:
    """The compressed size an entry's zip64 extra field (id 1) holds, None where it holds none: its uncompressed size
    first where the local header marks that too (APPNOTE 4.5.3)."""
    i = 0
    while i + 4 <= len(extra):
        tag, n = int.from_bytes(extra[i:i + 2], "little"), int.from_bytes(extra[i + 2:i + 4], "little")
        if tag == 1:
            at = i + 4 + (8 if usize_too else 0)
            return int.from_bytes(extra[at:at + 8], "little") if at + 8 <= i + 4 + n else None
        i += 4 + n
    return None


def damage_error(path: str | Path, altered: Callable[[Path, str], FeatcacheError]) -> FeatcacheError | None:
    """The error for a damaged head or model file (``damaged_zip``): ``altered``'s words where it shows itself
    featcache's, else the neutral ``damaged_line``; None where it is not damaged so."""
    damage = damaged_zip(path)
    if damage is None:
        return None
    why, ours = damage
    return altered(Path(path), why) if ours else FeatcacheError(damaged_line(path, why))


# What a file is that starts as a zip (a local header's signature) but does not read as one, where it shows nothing
# more of itself: verify's and info's words (``recipes.files.zip_kind``), and predict's (``deploy.model``).
UNREADABLE_ZIP = "starts as a zip file but is not a readable one"


def damaged_line(path: str | Path, why: str) -> str:
    """The one line for ``damaged_zip``'s answer, where the file's kind cannot be read any more."""
    return (f"{path} is damaged ({why}); if it is a head or model featcache wrote, retrain the head with "
            f"{command('train')} or export the model again")


def not_a_cache(path: str | Path) -> str | None:
    """The one line for a head or model given where a cache goes, naming the command that takes it; None for any
    other file. One wording for every command (info and train had two; a review)."""
    from featcache.errors import shell_path

    kind = file_kind(path)
    word = shell_path(str(path))  # the commands suggested paste as they are (a path with a space; a review)
    if kind == "head":
        return (f"{path} is a head written by {command('train')}, not a cache; pass the cache it was trained on (score "
                f"the head with {command('evaluate', f'{word} CACHE', f'{str(path)!r}, cache')}, check its content "
                f"digest with {command('verify', word, repr(str(path)))})")
    if kind == "model":
        return (f"{path} is a model written by {written_model()}, not a cache; classify "
                f"images with {command('predict', f'{word} IMAGE ...', f'{str(path)!r}, images')}, or check its "
                f"content digest with {command('verify', word, repr(str(path)))}")
    return None


def names_a_head_given_as_a_cache(fn: F) -> F:
    """``fn`` (an API call that takes a cache: train, probe, curve, evaluate's cache) with a head or model given as
    its cache named as one (``not_a_cache``), as the CLI's commands say it: featcache.train('heads/x.npz', 'logreg')
    said "not a readable HDF5 file (file signature not found)", where 'featcache train' named the file's kind (a
    tester). Here, above the store, which opens the cache and may not know what heads are (test_layering); inside
    a command the words are the command's (``command``): the CLI runs every command through it (``cli._main``), in
    the command's words, where a copy of its own said the same after them."""
    import functools

    from featcache.errors import NotHDF5

    @functools.wraps(fn)
    def named(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NotHDF5 as exc:
            line = not_a_cache(exc.path) if exc.path is not None else None
            if line is None:
                raise
            raise FeatcacheError(line) from None

    return named  # type: ignore[return-value]


# The API's featcache.open_cache: the store's, with a head or model given as the cache named as one (not_a_cache), as
# train, probe, curve and evaluate name it: featcache.open_cache('h.npz') said "not a readable HDF5 file" (a tester).
# Here, not in the store, which may not know what heads are (test_layering).
@names_a_head_given_as_a_cache
def open_cache(path: str | Path) -> Cache:
    """Open the complete cache at ``path`` (a str, bytes or os.PathLike; a leading ``~`` is your home) for reading;
    anything else is a one-line FeatcacheError (a damaged cache: one line saying re-extract; a head or model file:
    one line naming it and the call that takes it)."""
    from featcache.store.reader import open_cache as open_

    return open_(path)


HEAD_SUFFIXES = (".keras", ".npz")  # what a head file's name ends with (``head_file``); a folder's are listed


def head_file() -> str:
    """What a head argument names, in the lines that refuse one (load_head's, export's), in the caller's words."""
    return f"the .keras or .npz head file written by {command('train')}"


@checks_switches
def load_head(path: str | Path, *, trust_pickle: bool = False) -> tuple[BaseEstimator, dict[str, Any]]:
    """``(head, meta)`` from the head file at ``path`` (written by ``train`` or ``save_head``), checked for consistency.

    Nothing in the file runs: Keras heads load in safe mode, scikit-learn heads
    from arrays and JSON. An old pickle head (``.joblib``) is refused unless
    ``trust_pickle`` (then it loads with a ``PickleHeadWarning``).
    """
    return read_head(path, trust_pickle=trust_pickle)


@checks_switches
def read_head(path: str | Path, *, trust_pickle: bool = False,
              fix: str | None = None) -> tuple[BaseEstimator, dict[str, Any]]:
    """``load_head``'s, for a call that takes a head: ``fix``, what that call takes, in its words, is said where it
    was given an HDF5 file (a cache?) instead (default: ``head_file()``). One line said evaluate's order ("evaluate
    takes the head first, then the cache") to export and finetune, whose users had not run evaluate (a brief,
    helper-310); a caller of ``load_head`` is told of no call."""
    path = check_source(path, "head", head_file(), "path")  # load_head(123); a TrainResult still its file
    _check_head_file(path)
    if zipfile.is_zipfile(path):  # its end only: a cache given as the head is not read whole
        data = _read_head(path)  # once: what is checked below is what loads, whatever is put at the path meanwhile
        npz, _ = _checked_zip(path, data)
        head, meta = _load_npz(path, data) if npz else _load_keras(path, data)
    else:  # no check to race: an old pickle head loads only with trust_pickle, a cache or other file is refused
        head, meta = _load_pickle(path, trust_pickle, fix)
    _check_loaded(head, meta, path)
    return head, meta


def _read_head(path: Path) -> bytes:
    """The bytes of the head file at ``path``, read once: its content digest, record and kind are checked in them and
    its head is loaded from them (Keras's from a private copy of them: ``load_keras_file``). It was read again by path
    for each: a file replaced between the digest check and the load (another head put there, by ``mv``) was loaded
    unchecked (a brief, helper-285). A head is at most a few MB (an SVM head of many support vectors more): held
    while it loads; one past ``MAX_FILE_BYTES`` is refused unread."""
    try:
        data = read_at_most(path, MAX_FILE_BYTES, "head", f"pass {head_file()}")
    except OSError:  # a regular file a moment ago: removed or made unreadable since
        _check_head_file(path)  # its own line where there is one
        raise FeatcacheError(f"{path} could not be read (replaced or removed while it was opened); pass {head_file()}") from None
    if not zipfile.is_zipfile(io.BytesIO(data)):  # a zip a moment ago: another file put there since
        raise _unreadable(path, "it was replaced by a file that is no zip while it was opened")
    return data


def _check_head_file(path: Path) -> None:
    """``path`` is a regular file to read a head from, or one line (a FIFO would block the read)."""
    check_regular_file(path, "head", f"pass {head_file()}", f"train one with {command('train')}", HEAD_SUFFIXES)


def _check_loaded(head: BaseEstimator, meta: dict[str, Any], path: Path) -> None:
    """The checks of a head as read from its file, whatever its kind: ``load_head``'s, and verify's of an .npz head."""
    _check_digests(meta, path)
    check_head(head, meta, path)


def check_head_loads(path: str | Path) -> None:
    """What loading checks of the head file at ``path`` past its content digest (checked before: ``check_content``),
    as ``featcache verify`` runs it, one line naming what would be refused: the digest is no signature, and verify
    said "ok: intact" of an .npz head whose array was replaced by a pickled object array and the digest made again,
    which evaluate refused (an adversarial tester, helper-274). An .npz head is read and checked as ``load_head``
    reads it (arrays without pickles; objects of featcache's trusted classes only; one prediction): no code of the
    file's runs. A .keras head's record and training-image digests, as its loader checks them; its network is
    Keras's to read (seconds, an import of TensorFlow), which verify leaves to the loaders."""
    path = Path(path)
    if _zip_is_npz(path):
        head, meta = _load_npz(path)
        _check_loaded(head, meta, path)
        return
    from featcache.heads.dense import DenseHead

    meta = read_head_meta(path)
    _check_meta_shape(meta, path, DenseHead)
    _check_digests({"train_digests": _keras_digests(path)}, path)


def _checked_zip(path: Path, data: bytes | None = None) -> tuple[bool, Any]:
    """``(npz, doc)`` of a zip head (``_read_doc``'s), checked before any of it is used: not a model's record edited
    into a head's, not a model, its content digest, a head's kind. ``load_head`` (``data``: the bytes it read, checked
    in place of the file) and ``keras_head_record``."""
    if (why := edited(path, data)) is not None:  # before Keras reads a model's layers as a head's
        raise why
    try:
        with zipfile.ZipFile(_zip_source(path, data)) as zf:
            npz = _is_npz(zf)
            doc = _read_doc(zf, npz)
    except Exception as exc:  # a bit flipped in its directory (is_zipfile still says yes): a BadZipFile traceback
        raise _unreadable(path, load_problem(exc)) from None  # in evaluate, export, finetune (an adversarial tester)
    # its kind from the record just read (``_record_in``'s reading): a zip that does not open names none
    if _record_kind((doc.get("meta") if isinstance(doc, dict) else None) if npz else doc) == "model":
        raise _model_not_head(path)  # it said only "(TypeError)" (an adversarial tester)
    check_content(path, data)  # first: nothing of an altered file is used, Keras's config included
    _check_head_kind(doc.get("meta") if npz and isinstance(doc, dict) else doc, path)
    return npz, doc


def keras_head_record(path: str | Path) -> dict[str, Any] | None:
    """A Keras head's record (its metadata), checked as ``load_head`` checks it before the model loads (the file, its
    content digest, its kind, the metadata's shape), without loading its model, which imports Keras (seconds): export
    refuses a bad --views, --weights or --out first (it took ~35 s more under load on a Keras head). None for any other
    file (an .npz head loads without Keras; ``load_head`` says what the rest are)."""
    from featcache.heads.dense import DenseHead

    path = Path(path)
    if not (path.is_file() and zipfile.is_zipfile(path)):
        return None
    npz, doc = _checked_zip(path)
    if npz:
        return None
    _check_meta_shape(doc, path, DenseHead)
    return doc


def _model_not_head(path: Path) -> FeatcacheError:
    """The line for a model file (``file_kind``) given as a head; where its record's kind is not a model's (edited
    by hand: its fields say model), that too, since predict refuses it as well (``deploy.model.check_meta``)."""
    said = f"{path} is a model written by {written_model()}, not a head"
    meta = read_record(path)
    if not isinstance(meta, dict):  # file_kind read it a moment ago: gone or changed since, say what it was
        meta = {"kind": MODEL_KIND}
    if meta.get("kind") != MODEL_KIND:
        return FeatcacheError(f"{said}, and its record {_kind_words(meta)}, not {MODEL_KIND!r}: edited by hand or "
                              "damaged; pass the head it was made from, or export the model again")
    # the command to run in a command's line, the call in a Python call's (docs/api.md)
    use = (f"classify images with {command('predict', call='model, images')} (score it on photos in class folders: "
           f"{command('evaluate', 'MODEL FOLDER', 'model, folder')})")
    return FeatcacheError(one_line(f"{said}; {use}, or pass the head it was made from{_made_from(meta.get('head_path'))}"))


def _made_from(head_path: Any) -> str:
    """The head a model records it was made from (its record's ``head_path``, export's absolute path), for the line of
    a model given as a head: it said "pass the head it was made from" without naming the one it knows (a new-user
    tester); one gone since is said to be."""
    if not isinstance(head_path, str) or not head_path:
        return ""
    return f", {head_path}" if os.path.isfile(head_path) else f" ({head_path}, which is no longer there)"


def _check_head_kind(meta: Any, path: Path) -> None:
    """The record's kind is a head's: ``HEAD_KIND``, or none (heads of featcache 0.1). A kind edited to another
    (an .npz head saying 'featcache-model', 'xyz') loaded as a head whatever it said (a review); a record that is
    no mapping is left to the loaders, which say so."""
    if isinstance(meta, dict) and "kind" in meta and meta["kind"] != HEAD_KIND:
        raise _unreadable(path, f"its record {_kind_words(meta)}, not {HEAD_KIND!r}: edited by hand or damaged")


def _kind_words(meta: dict[str, Any]) -> str:
    """What a record's kind is, in words: "has no kind", "says kind 'xyz'" (clipped: the file's, of any length)."""
    from featcache.errors import clipped

    return f"says kind {clipped(repr(meta['kind']))}" if "kind" in meta else "has no kind"


def _keras_digests(path: Path, data: bytes | None = None) -> np.ndarray | None:
    """A .keras head's training-image digests (``read_digests_entry``), or one line saying why they do not read: a
    pickled object array said "ValueError: Object arrays cannot be loaded ..." where an .npz head's says what it is."""
    try:
        with zipfile.ZipFile(_zip_source(path, data)) as zf:
            return read_digests_entry(zf)
    except Exception as exc:
        raise _unreadable(path, array_problem(exc)) from None


def _load_keras(path: Path, data: bytes | None = None):
    from featcache.heads.dense import DenseHead

    try:
        with zipfile.ZipFile(_zip_source(path, data)) as zf:
            meta = json.loads(read_entry(zf, META_ENTRY))
            names = zf.namelist()
            stats = json.loads(read_entry(zf, STATS_ENTRY)) if STATS_ENTRY in names else None
        digests = _keras_digests(path, data)
        model = load_keras_file(path, f"pass a file written by {command('train')}", data)
    except FeatcacheError:  # a full temp folder (not the file's fault), or weights reaching outside the file
        raise
    except Exception as exc:
        raise _unreadable(path, load_problem(exc)) from None
    _check_meta_shape(meta, path, DenseHead)
    try:  # a crafted config or params (a width of None, epochs "x") must not traceback
        head = DenseHead(**meta["params"])
        head.model_ = model
        head.classes_ = np.arange(len(meta["class_names"]))
        width = model.input_shape[-1]
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise ValueError(f"input width {width!r}")
        head.n_features_in_ = width
        standardize = bool(head.standardize)
    except Exception as exc:
        raise _unreadable(path, f"its model does not fit a featcache head: {in_words(exc, empty='no detail')}") from None
    try:  # the parameters DenseHead trains with, checked as DenseHead checks them: a string "False" for
        # standardize would be truthy, an epochs of 0 or "x" is no head featcache trains
        head.check_params()
    except FeatcacheError as exc:
        what = str(exc).removeprefix(f"{DenseHead.__name__} ").split("; ")[0]
        raise _unreadable(path, f"its metadata's {what}") from None
    _check_keras_layers(model, meta["params"], stats is not None, path)
    if standardize:
        head.mean_, head.scale_ = _standardize_stats(stats, width, path)
    if digests is not None:
        meta["train_digests"] = digests
    return head, meta


def _check_keras_layers(model, params: dict[str, Any], has_stats: bool, path: Path) -> None:
    """The model is what DenseHead builds (Dropout -> Dense) with the metadata's settings: what export and
    standardization use is then what the file says (its number of outputs is ``check_head``'s)."""
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    kinds = [(type(layer).__name__, layer.name) for layer in layers]
    if kinds != [("Dropout", "head_dropout"), ("Dense", "head_logits")]:
        raise _unreadable(path, f"its layers {', '.join(n for _, n in kinds) or 'none'} are not a featcache head's "
                          "(head_dropout, head_logits)")
    dropout = layers[0]
    if "dropout" in params and not math.isclose(float(dropout.rate), float(params["dropout"]), abs_tol=1e-9):
        raise _unreadable(path, f"its dropout layer has rate {dropout.rate:g} but its metadata says {params['dropout']!r}")
    standardize = params.get("standardize", False)
    if bool(standardize) != has_stats:
        said = "standardize=True" if standardize else "standardize=False"
        held = "holds" if has_stats else "lacks"
        raise _unreadable(path, f"its metadata says {said} but the file {held} standardizing statistics")


def _standardize_stats(stats: Any, width: int, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A standardizing head's mean and scale: ``width`` finite numbers each, every scale > 0."""
    if not isinstance(stats, dict) or set(stats) != {"mean", "scale"}:
        raise _unreadable(path, "a standardizing head without its statistics")
    try:
        mean, scale = (np.asarray(stats[k], dtype=np.float64) for k in ("mean", "scale"))
    except (TypeError, ValueError):
        raise _unreadable(path, "its standardizing statistics are not numbers") from None
    if mean.shape != (width,) or scale.shape != (width,):
        raise _unreadable(path, f"its standardizing statistics are not {width} numbers each, one per feature")
    if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
        raise _unreadable(path, "its standardizing statistics are not finite, or a scale is not positive")
    return mean, scale


def _load_npz(path: Path, data: bytes | None = None):
    from featcache.heads.state import StateError, decode, trusted_classes

    _check_stored(path, data)  # check_content did, unless this is called alone
    try:
        with np.load(_zip_source(path, data), allow_pickle=False) as z:
            doc = json.loads(z[NPZ_ENTRY].tobytes())
            arrays = {int(k[1:]): z[k] for k in z.files if k[0] == "a" and k[1:].isdigit()}
            digests = z["train_digests"] if "train_digests" in z.files else None
    except Exception as exc:
        raise _unreadable(path, array_problem(exc)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("meta"), dict):
        raise _unreadable(path, "its metadata is not a JSON object")
    meta = doc["meta"]
    from featcache.heads import HEADS

    kind = meta.get("head")
    cls = HEADS.get(kind) if isinstance(kind, str) else None  # ["logreg"] was an unhashable-list TypeError (a review)
    if cls is None or getattr(cls, "file_suffix", None) != ".npz":
        raise _unreadable(path, f"unknown head kind {meta.get('head')!r}")
    _check_meta_shape(meta, path, cls)
    created: list[Any] = []
    try:
        head = decode(doc.get("state"), arrays, trusted_classes(cls), created=created)
    except StateError as exc:
        raise _unreadable(path, str(exc)) from None
    if type(head) is not cls:
        raise _unreadable(path, f"it holds a {type(head).__name__}, its metadata says {meta['head']}")
    _check_structure(head, path)
    width = getattr(head, "n_features_in_", None)
    if isinstance(width, int):  # else check_head says it is not fitted
        _check_svcs(created, width, path)
    _check_sklearn_version(meta, path)
    if digests is not None:
        meta["train_digests"] = digests
    return head, meta


def _zip_is_npz(path: Path, data: bytes | None = None) -> bool:
    zf = _open_zip(path, data)  # None: not a zip, or a damaged one: the digest check and the loaders say what is wrong
    if zf is None:
        return False
    with zf:
        return _is_npz(zf)


def _check_stored(path: Path, data: bytes | None = None) -> None:
    """Every entry of an .npz head is stored, not compressed, as featcache writes it (and np.savez): what it reads
    is then at most the file's own size. A 2.9 MB head with a deflated entry of 3 GB of zeros, its digest recomputed,
    took 3.1 GB of memory to load, and one of 30 GB would have been killed without a word (an adversarial tester)."""
    try:
        with zipfile.ZipFile(_zip_source(path, data)) as zf:
            packed = odd_entry(zf)
    except Exception as exc:
        raise _unreadable(path, f"its zip does not read: {in_words(exc, empty='no detail')}") from None
    if packed:
        raise _unreadable(path, packed)


def _check_digests(meta: dict[str, Any], path: Path) -> None:
    d = meta.get("train_digests")
    if d is not None and not (isinstance(d, np.ndarray) and d.ndim == 1 and d.dtype == np.uint64):
        raise _unreadable(path, "its training-image digests are not a list of uint64 keys")


def _check_structure(head, path: Path) -> None:
    """The head's objects are exactly what ``fit`` builds; nothing nested where checks would not look. Each head
    class says what that is (``structure_ok``); a head without the method is refused: nothing vouches for it."""
    try:
        ok = bool(type(head).structure_ok(head))  # the class's method: a decoded attribute cannot stand in for it
    except Exception:
        ok = False
    if not ok:
        raise _unreadable(path, f"its objects are not those a {type(head).__name__} is made of")


def _check_sklearn_version(meta: dict[str, Any], path: Path) -> None:
    import sklearn

    saved = meta.get("sklearn_version")
    if saved != sklearn.__version__:
        warn(f"{path} was saved with scikit-learn {saved} and is used with {sklearn.__version__}; "
             "if its predictions look wrong, retrain it", HeadVersionWarning)


PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")


def _looks_like_pickle(path: Path) -> bool:
    """joblib's and pickle's files start with the PROTO opcode (0x80) from protocol 2 on."""
    with open(path, "rb") as f:
        return path.suffix.lower() in PICKLE_SUFFIXES or f.read(1) == b"\x80"


def _load_pickle(path: Path, trust_pickle: bool, fix: str | None):
    if (damage := damage_error(path, _altered)) is not None:  # a zip cut short: not a pickle, not "neither ..."
        raise damage
    if not trust_pickle and not _looks_like_pickle(path):
        with open(path, "rb") as f:
            if f.read(8) == b"\x89HDF\r\n\x1a\n":  # 'evaluate CACHE HEAD' swapped, or 'export CACHE' (new users)
                raise FeatcacheError(f"{path} is an HDF5 file (a cache?), not a head; {fix or 'pass ' + head_file()}")
        raise _unreadable(path, "neither a .keras nor an .npz head")
    if not trust_pickle:
        retrain = command("train")
        raise FeatcacheError(
            f"{path} is not a safe featcache head (.keras or .npz): it is probably an old pickle (.joblib) head, and loading a "
            f"pickle can run any code in it; retrain the head with {retrain}, or pass "
            f"{option('--trust-pickle (trust_pickle=True)', 'trust_pickle=True')} if you made this file yourself"
        )
    warn(f"loading {path} as a pickle: this runs any code in the file; do it only for files you made, "
         "and retrain to get a safe .npz head", PickleHeadWarning)
    try:
        import joblib

        obj = joblib.load(path)
        head, meta = obj["head"], obj["meta"]
    except Exception as exc:
        raise _unreadable(path, in_words(exc, empty='it does not unpickle')) from None
    if not isinstance(meta, dict):
        raise _unreadable(path, "its metadata is not a mapping")
    _check_meta_shape(meta, path, type(head))
    if not hasattr(head, "n_features_in_") and hasattr(head, "pipeline_"):
        head.n_features_in_ = int(head.pipeline_[0].n_features_in_)  # heads pickled by featcache 0.1
    return head, meta


def _check_meta_shape(meta: Any, path: Path, cls: type, fail: Callable[[Path, str], Exception] = _unreadable) -> None:
    """The metadata of a head of class ``cls``: a mapping with known params and usable class names.

    ``fail(path, why)``: the error raised (``save_head`` passes its own: the same checks refuse meta at write time)."""
    if not isinstance(meta, dict):
        raise fail(path, f"its metadata is a {type(meta).__name__}, not a mapping")
    params = meta.get("params")
    if not isinstance(params, dict):
        raise fail(path, "its metadata has no parameter mapping")
    known = set(cls().get_params()) if hasattr(cls, "get_params") else set(params)
    extra = sorted(set(params) - known)
    if extra:
        raise fail(path, f"unknown {named('parameter', extra)} for a {cls.__name__}")
    names = meta.get("class_names")
    if not (isinstance(names, list) and len(names) >= 2 and all(isinstance(n, str) for n in names) and len(set(names)) == len(names)):
        raise fail(path, "its class names are missing or not a list of distinct names")
    if not isinstance(meta.get("layer"), str):
        raise fail(path, "its metadata does not name the layer it was trained on")
    for key in ("train_views", "test_views"):  # heads.views; absent in heads made before views
        views = meta.get(key)
        if views is not None and not (isinstance(views, list) and views and all(isinstance(v, str) for v in views)):
            raise fail(path, f"its {key} are not a list of view names")
    _check_feature_keys(meta, path, fail)


def _check_feature_keys(meta: dict[str, Any], path: Path, fail: Callable[[Path, str], Exception] = _unreadable) -> None:
    """The feature settings (``FEATURE_KEYS``) are absent or of usable types: export builds a network from them."""
    from featcache.embedding.backbones import MAX_IMAGE_SIZE, REGISTRY

    size, backbone = meta.get("image_size"), meta.get("backbone")
    if backbone is not None and not (isinstance(backbone, str) and backbone in REGISTRY):
        raise fail(path, f"its backbone {backbone!r} is not one of {', '.join(sorted(REGISTRY))}")
    # The sizes extract accepts for that backbone: a head naming another could never have come from a cache (a review:
    # 4096 was accepted here against extract's 2048, and export then blamed an --image-size nobody gave).
    low = REGISTRY[backbone].min_size if backbone is not None else 1
    if size is not None and not (isinstance(size, int) and not isinstance(size, bool) and low <= size <= MAX_IMAGE_SIZE):
        raise fail(path, f"its image size {size!r} is not a whole number of pixels from {low} to {MAX_IMAGE_SIZE}")
    for key in ("weights", "preprocessing"):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            raise fail(path, f"its {key} setting {meta[key]!r} is not a string")


def check_head(head: BaseEstimator, meta: dict[str, Any], path: str | Path,
               fail: Callable[[Path, str], Exception] = _unreadable) -> None:
    """A loaded head must be fitted, agree with its metadata, and predict one row of its own width (``fail``: as
    ``_check_meta_shape``'s)."""
    path = Path(path)
    width = getattr(head, "n_features_in_", None)
    classes = getattr(head, "classes_", None)
    if not isinstance(width, (int, np.integer)) or width < 1 or classes is None:
        raise fail(path, "the head is not fitted")
    if meta.get("n_features") is not None and meta["n_features"] != width:
        raise fail(path, f"the head takes {width} features, its metadata says {meta['n_features']}")
    n = len(meta["class_names"])
    cls = np.asarray(classes)
    if cls.ndim != 1 or not np.issubdtype(cls.dtype, np.integer) or len(cls) < 2 or cls.min() < 0 or cls.max() >= n:
        raise fail(path, f"its classes do not index its {n} class names")
    from sklearn.svm import SVC

    if getattr(type(head), "file_suffix", None) == ".npz":  # libsvm's arrays, in any stored state that holds an SVC
        _check_svcs(_objects(head, SVC), width, path, fail)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            proba = head.predict_proba(np.zeros((1, width), np.float32)) if hasattr(head, "predict_proba") else None
            if proba is None:
                head.predict(np.zeros((1, width), np.float32))
    except Exception as exc:
        raise fail(path, f"its arrays do not fit together: {in_words(exc, empty='no detail')}") from None
    if proba is not None and proba.shape != (1, len(cls)):
        raise fail(path, f"it gives {proba.shape[1]} probabilities for {len(cls)} classes")
    if proba is not None and not np.isfinite(proba).all():
        raise fail(path, "it gives probabilities that are not finite numbers")


def _check_svcs(objects, width, path: Path, fail: Callable[[Path, str], Exception] = _unreadable) -> None:
    """An SVC's arrays go to libsvm's C code unchecked: their shapes must agree before any prediction."""
    from sklearn.svm import SVC

    for svc in objects:
        if type(svc) is not SVC:
            continue
        if "support_vectors_" not in vars(svc):  # an unfitted template (CalibratedClassifierCV.estimator); never predicts
            continue
        try:
            sv, n_sv, support = svc.support_vectors_, np.asarray(svc._n_support), svc.support_
            k = len(svc.classes_)
            ok = (sv.ndim == 2 and sv.shape[1] == width and sv.dtype == np.float64 and n_sv.shape == (k,)
                  and int(n_sv.sum()) == sv.shape[0] and (n_sv >= 0).all() and support.shape == (sv.shape[0],)
                  and svc._dual_coef_.shape == (k - 1, sv.shape[0]) and svc._intercept_.shape == (k * (k - 1) // 2,)
                  and svc.shape_fit_ == (svc.shape_fit_[0], width))
        except Exception:
            ok = False
        if not ok:
            raise fail(path, "its support vectors do not fit together")


def _objects(obj, cls):
    """Every instance of ``cls`` in ``obj``'s attribute tree, however deep (each object visited once)."""
    seen: set[int] = set()
    stack = [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, cls):
            yield o
        items = o if isinstance(o, (list, tuple)) else o.values() if isinstance(o, dict) else (
            vars(o).values() if hasattr(o, "__dict__") and not isinstance(o, (type, np.ndarray)) else ())
        stack.extend(v for v in items if isinstance(v, (list, tuple, dict)) or hasattr(v, "__dict__") and not isinstance(v, (type, np.ndarray)))


def check_compatible(meta: dict[str, Any], cache: Cache) -> None:
    """Refuse features the head was not trained on (other network, size, pixels, layer or width)."""
    diff = [k for k in FEATURE_KEYS if meta.get(k) != cache.meta.get(k)]
    if diff:
        detail = ", ".join(f"{k}: head {meta.get(k)!r} vs cache {cache.meta.get(k)!r}" for k in diff)
        raise FeatcacheError(f"head and cache do not match ({detail}); evaluate on a cache extracted with the head's settings")
    if meta.get("layer") not in cache.layers:
        from featcache.embedding.backbones import REGISTRY, layer_label

        # the name --layers takes (block_13 for block_13_expand_relu): "extract it with --layers" left the user to
        # find it (a new-user tester)
        layer = meta.get("layer")
        name = layer_label(REGISTRY.get(meta.get("backbone")), layer) if isinstance(layer, str) else layer
        raise FeatcacheError(f"the head was trained on layer {layer!r}, which {cache.path} does not hold; "
                             f"extract it with {option(f'--layers {name}', f'ModelSpec(layers={name!r})')}")
