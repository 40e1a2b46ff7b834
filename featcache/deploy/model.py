"""The deployable model file: raw images in, class probabilities out.

``export`` and ``finetune`` both write this form: a ``.keras`` file holding
one model (uint8 images (N, H, W, C) of any size, C = 1 or 3 -> Preprocess ->
base -> pooling -> Dropout -> Dense -> Softmax) with a ``featcache.json``
entry added to its zip carrying the class names and what the model was made
from. ``predict`` reads it back with ``load_model``.

Format 2 (since 2026-12-03): ``featcache.json`` carries ``content_digest``,
SHA-256 over the rest of the metadata and every other entry of the zip (the
head files' digest, ``heads.io.content_digest``), checked whenever a model is
read (``read_meta``, so ``load_model`` and ``ModelRunner`` too), before
anything in it is used. A model of format 1 has none and loads with an
``UncheckedModelWarning`` (docs/model-format.md).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

import numpy as np

from featcache._lazy import ForkSafeLock, check_not_forked_after_tensorflow, keras, keras_backend
from featcache.embedding.backbones import MAX_IMAGE_SIZE, REGISTRY
from featcache.embedding.passes import BATCH_SIZE
from featcache.embedding.runtimes import DEFAULT_RUNTIME, converts
from featcache.heads.views import DECISION_VALUES, PROBABILITIES
from featcache.errors import (FeatcacheError, command, command_word, first_line, given, given_path, in_words, one_line, option,
                              warn)
from featcache.heads.io import (MAX_FILE_BYTES, META_ENTRY, MODEL_KIND, MODEL_ONLY_FIELDS, UNREADABLE_ZIP, CompressedEntry, add_digests_entry, add_sealed_meta, check_digest, check_regular_file,
                                load_keras_file, load_problem, way_out, written_model)
from featcache.progress import counted, written
from featcache.store.atomic import atomic_path
from featcache.validate import check_file_name, check_out_file, check_path, check_size, check_source, file_sha256, read_at_most, views_words

if TYPE_CHECKING:
    from keras import Model as KerasModel

KIND = MODEL_KIND  # heads.io knows it too, to tell a model given as a head (heads cannot import deploy)
# 2: featcache.json carries heads.io.DIGEST_KEY (2026-12-03). A model of format 1 has none and loads with an
# UncheckedModelWarning; a model of format 2 or later without one was edited and is refused.
FORMAT_VERSION = 2
INPUT_SHAPE = (None, None, None)  # (H, W, C): any size, gray or RGB
INPUT_DTYPE = "uint8"
# An exported SVM head's output (deploy.svmgraph): its record's "scores" and "output"; predict names its columns
# "share_N" for it. Not probabilities: the head computed none (probability=false).
SVM_SCORES = "svm vote shares"  # the record's tag of a model of one view: each class's share of the one-vs-one votes
# The tag of a model that averages views: its numbers are no votes (a reviewer: "svm vote shares" was wrong there) but
# each class's share of the averaged one-vs-rest decision values. A views model exported before 2026-12-06 carries
# SVM_SCORES, and is read as it was (SVM_TAGS).
SVM_DECISION_SHARES = "svm shares of averaged decision values"
SVM_TAGS = (SVM_SCORES, SVM_DECISION_SHARES)


def float64_part(meta: dict[str, Any]) -> str | None:
    """What in a model computes in float64, for ``runtimes.build`` (``float64``): an SVM head's layers
    (deploy.svmgraph), known by the head's kind, as a calibrated SVM's record has no ``scores``; else None."""
    return "an SVM head's model" if meta.get("head") == "svm" or meta.get("scores") in SVM_TAGS else None


def svm_tag(views: Sequence[str]) -> str:
    """The record's ``scores`` of an SVM head's model without probabilities that averages ``views``: what its numbers are."""
    return SVM_DECISION_SHARES if len(views) > 1 else SVM_SCORES


def one_vote(meta: dict[str, Any]) -> bool:
    """Whether a model's numbers are one vote: an SVM head's model of two classes and one view (``SVM_SCORES``; a
    views model exported before 2026-12-06 carries that tag too, and is not one), whose one pair's vote is its whole
    output, 1 for the class it chose and 0 for the other. That is the decision, no score: predict's text and
    evaluate's misclassified photos said "share 1.000" of every image (a re-read, 2026-12-06)."""
    return (meta.get("scores") == SVM_SCORES and len(meta.get("views") or ["orig"]) == 1
            and len(meta.get("class_names") or []) == 2)


# What predict and evaluate say of such a model's numbers, in place of a share
ONE_VOTE = ("the SVM's decision alone (two classes, one view: one vote of one pair, 1 for the class it chose and 0 for "
            "the other), no score")


def svm_numbers(meta: dict[str, Any]) -> str | None:
    """What the numbers of the SVM head's model with record ``meta`` are, and what a user can read from them, for this
    model (its classes and views); None for a model of probabilities. predict said of every one "vote shares, or
    shares of the averaged decision values with views" (the record's generic words then), though the
    model's views are known, and a 10-class model's top share of about 0.2 read as a weak guess whether it was right
    or far off (a tester, helper-274): with one view 2/k is the most any class can have."""
    if meta.get("scores") not in SVM_TAGS:
        return None
    if one_vote(meta):
        return ONE_VOTE
    k = len(meta.get("class_names") or [])
    views = meta.get("views") or ["orig"]
    if len(views) > 1:  # whatever the tag (a views model of before 2026-12-06 says vote shares)
        return (f"shares of the one-vs-rest decision values averaged over its {len(views)} views (each shifted to >= 0, "
                "over their sum), not probabilities and no confidence: the top class is the SVM's and the shares rank "
                "the others; how far the top one stands above the next says only how clearly the averaged decision "
                "values favour it, not how likely it is right")
    pairs = k * (k - 1) // 2
    return (f"vote shares, not probabilities and no confidence: each class's share of the {pairs} one-vs-one contests "
            f"of its {k} classes (share x {pairs} = the contests it won, of {k - 1}), so no class gets more than "
            f"2/{k} = {2 / k:.3f}; the top class is the SVM's, a top share of {2 / k:.3f} says it won every contest, "
            "a lower one that the vote was split")


def svm_output(meta: dict[str, Any]) -> str:
    """The record's ``output`` of the SVM head's model without probabilities whose record is ``meta`` (its
    ``scores``, ``views`` and ``class_names``): what this model's numbers are (``svm_numbers``, predict's note) and
    their order. It said of every such model "SVM scores (vote shares, or shares of the averaged decision values
    with views)", one view or several (a brief, 2026-12-06); a model exported before keeps those words."""
    return f"per image, one number a class, in class_names order: {svm_numbers(meta)}"


class UncheckedModelWarning(UserWarning):
    """A model saved before model files carried a content digest: it loads, but nothing checks it is as saved.

    A note (one ``note:`` line in the CLI), as for a head of format 1 (``heads.io.UncheckedHeadWarning``)."""

    label = "note"


def probabilities_model(logits_model: KerasModel) -> KerasModel:
    """The same layers with a softmax on top (shares weights with ``logits_model``)."""
    k = keras()
    probs = k.layers.Softmax(name="probabilities")(logits_model.output)
    return k.Model(logits_model.input, probs, name="featcache_model")


def save_model(model: KerasModel, path: str | Path, meta: dict[str, Any], recheck: Callable[[], Any] | None = None,
               train_digests: np.ndarray | None = None) -> Path:
    """Write ``model`` (a ``probabilities_model``) and ``meta`` atomically to a ``.keras`` file; ``recheck``: the
    command's checks of ``path``, made again just before it is replaced (``store.atomic.atomic_path``);
    ``train_digests``: the head's training-image keys (its ``meta["train_digests"]``), kept in the file."""
    return write_model(model, path, meta, recheck, train_digests)[0]


def write_model(model: KerasModel, path: str | Path, meta: dict[str, Any],
                recheck: Callable[[], Any] | None = None, train_digests: np.ndarray | None = None) -> tuple[Path, str]:
    """``save_model``'s work; returns the path and the content digest written into the file (what an
    ``ExportResult`` or ``FinetuneResult`` checks), known here without reading the file back.

    ``train_digests`` go into the zip as a Keras head keeps them (``heads.io.DIGESTS_ENTRY``: sorted uint64, 8 bytes
    an image, 336 KB for 42,000), their count into the record (``train_digest_count``; None: the head had none):
    'evaluate MODEL FOLDER' scored a model on its own training photos without a word (a review, 2026-12-06)."""
    from featcache import __version__

    path = Path(path)
    if path.suffix != ".keras":
        raise FeatcacheError(f"a model is saved as a .keras file; use {given_path('--out', path.with_suffix('.keras'), word=True)}")
    k = keras()
    meta = {
        "kind": KIND, "format_version": FORMAT_VERSION, **meta,
        "input": "uint8 images (N, H, W, C), any H and W, C = 1 or 3",
        "output": meta.get("output") or "class probabilities (softmax), columns in class_names order",
        "featcache_version": __version__, "keras_version": k.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    meta.update(kind=KIND, format_version=FORMAT_VERSION)  # a loaded model's meta passed back is this format now
    meta.pop("content_digest", None)  # and its digest is of this file, made below
    meta["train_digest_count"] = None if train_digests is None else len(train_digests)
    check_views_graph(path, model, meta)  # a model whose network and record disagree is never written
    with atomic_path(path, recheck=recheck) as tmp:
        model.save(tmp)
        add_digests_entry(tmp, train_digests)
        digest = add_sealed_meta(tmp, meta)  # last, with the digest of the network's entries (and the digests')
    # whole on disk: an interrupt from here on (before export's or finetune's result line) says so, not "nothing was saved"
    written(f"the model {one_line(str(path))}")
    return path, digest


def changed_meanwhile(path: str | Path, doing: str) -> str:
    """The line for a model file that is no longer the one read at the start of a command that was ``doing`` with it
    ("read", "evaluated"): its bytes, its record, or the file itself gone. One wording for each place that checks
    (predict's record, evaluate's SHA-256, a conversion's bytes): evaluate's said "its SHA-256 differs" of a file
    gone, and predict's another reason in other words (helper-244)."""
    return one_line(f"{path} changed while it was {doing} (it is no longer the file read at the start); rerun the "
                    f"{command_word()} once the file is no longer being written")


MODEL_SUFFIX = ".keras"  # the only suffix a model file has (export's --out checks it); heads also use .npz


def model_file() -> str:
    """What a model argument names, in the lines that refuse one, in the caller's words."""
    return f"the .keras file written by {written_model()}"


def read_meta(path: str | Path, data: bytes | None = None) -> dict[str, Any]:
    """The ``featcache.json`` of a model file, without loading the network: its content digest checked
    (``check_content``), then its fields (``check_meta``). ``data``: the file's bytes as the caller read them
    (``ModelFile.read``), whose record and digest are the ones checked and returned."""
    path = check_source(path, "model", model_file(), "path")
    _model_json(path)  # a featcache model, or one line saying what the file is
    checked, meta = check_content(path, data)
    if not isinstance(meta, dict) or meta.get("kind") != KIND:  # replaced since: say what it is now
        if data is not None:  # the bytes read were no model, the file is one now: not the bytes' record
            raise FeatcacheError(changed_meanwhile(path, "read"))
        meta = _model_json(path)
    check_meta(path, meta)
    return meta


def train_digests(path: str | Path, meta: dict[str, Any], data: bytes | None = None) -> np.ndarray | None:
    """The training-image keys the model at ``path`` keeps (``write_model``'s, its head's ``train_digests``), its
    record ``meta`` (``read_meta``'s: the content digest, which covers them, checked); None for a model that keeps
    none (one written before 2026-12-06, or of a head without them). What 'evaluate MODEL FOLDER' compares the
    folder's photos with, as a head's evaluate compares a cache's (``heads.io.row_keys``). ``data``: the file's bytes
    as read and checked (a ``LoadedModel``'s), read in place of the file."""
    from featcache.heads.io import read_digests_entry

    count = meta.get("train_digest_count")
    if count is None:
        return None
    try:
        with zipfile.ZipFile(path if data is None else io.BytesIO(data)) as zf:
            keys = read_digests_entry(zf)
    except Exception as exc:  # replaced or damaged since its record was read: evaluate's SHA-256 check says so too
        from featcache.heads.io import array_problem

        raise FeatcacheError(f"{path}: its training-image digests cannot be read ({array_problem(exc)}); {reexport()}") from None
    if not (isinstance(keys, np.ndarray) and keys.ndim == 1 and keys.dtype == np.uint64 and _whole_number(count)
            and len(keys) == count):
        raise bad_model(path, f"training-image digests are not the {count} uint64 keys its {META_ENTRY} records")
    return keys


def check_content(path: str | Path, data: bytes | None = None) -> tuple[bool, dict[str, Any] | None]:
    """``(checked, meta)``: whether the model file at ``path`` carries a content digest, having checked it
    (``heads.io.check_digest``, the head files' check), and its metadata as checked.

    A digest that does not match the file's contents, or a model of format 2 or later without one, is one line
    naming the file and the fix; a model of format 1 (saved before 2026-12-03) is noted once with an
    ``UncheckedModelWarning``. ``data``: the file's bytes, read by the caller, checked in place of the file."""
    path = Path(path)
    if data is None:  # read in parts: a file past the bound refused as ModelFile.read refuses it, before its zip is
        # judged (a sparse 4 GiB hole before a model's zip was "other data before its zip", not its size; the suite)
        check_size(path, MAX_FILE_BYTES, "model", f"pass {model_file()}")
    checked, meta = check_digest(path, _altered, data)
    if checked is False:
        # Named at the caller's line (errors.warn), once per command however often the model is read (the CLI's
        # _show_warning says a line once; Python's registry, once per line of the caller's); the path
        # absolute, one text for one file (predict read it by the given and by the absolute path: two notes; a tester)
        warn(f"{os.path.abspath(path)} carries no content digest (saved before featcache's model digests of 2026-12-03, or its "
             f"digest was removed), so nothing checks that it is as saved; {reexport()} to have it checked",
             UncheckedModelWarning)
    return bool(checked), meta if isinstance(meta, dict) else None


def _altered(path: Path, why: str) -> FeatcacheError:
    return FeatcacheError(f"{path} is damaged or was changed after {written_model()} saved it ({why}); {reexport()}")


_IMAGE_MAGIC = ((b"\x93NUMPY", "a .npy array"), (b"\x89PNG", "an image"), (b"\xff\xd8\xff", "an image"),
                (b"GIF8", "an image"), (b"BM", "an image"))


def _images_hint(path: Path) -> str:
    """' (it is an image ...)' for images or a .npy array given as the model: 'predict IMAGES MODEL', the arguments
    swapped, said only "(BadZipFile)" (a new-user tester)."""
    try:
        with open(path, "rb") as f:
            start = f.read(8)
    except OSError:
        return ""
    what = next((w for magic, w in _IMAGE_MAGIC if start.startswith(magic)), None)
    how = command("predict", "MODEL IMAGE ...", "model, images")
    return f" (it is {what}: predict takes the model first, then the images: {how})" if what else ""


def _kind_hint(path: Path, exc: Exception) -> str:
    """What the file given as a model is, where it is none of the above: a cache said "(BadZipFile)", a zip without
    featcache's metadata (another program's .keras, an .npz) "(KeyError)" (an adversarial tester). In words, never
    the exception's type: a large file starting as a zip, or any other, still said "(BadZipFile)", and a featcache.json
    that is no JSON "(JSONDecodeError)" (a brief, h309)."""
    from featcache.validate import starts_with

    if starts_with(path, b"\x89HDF\r\n\x1a\n"):
        how = command("export", "HEAD --out MODEL.keras", "head, out='model.keras'")
        return f" (it is an HDF5 file, a cache?: make a model from a head with {how})"
    if isinstance(exc, KeyError) and zipfile.is_zipfile(path):
        return f" (a zip file without featcache's {META_ENTRY}: a Keras model or an .npz of another program?)"
    if isinstance(exc, CompressedEntry):  # its own words
        return f" ({exc})"
    if isinstance(exc, zipfile.BadZipFile):
        return f" (it {UNREADABLE_ZIP}: damaged or cut short)" if starts_with(path, b"PK\x03\x04") else " (it is no zip file, as a model is)"
    if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):  # json's, or the entry's bytes as text
        return f" (its {META_ENTRY} is not JSON)"
    # Any other ValueError (zipfile's "negative seek value" of a damaged header) said "its featcache.json is not
    # JSON" though the JSON was never reached (a reviewer, h314): its own words
    return f" ({in_words(exc, empty='it does not read as one')})"


def _check_model_file(path: Path) -> None:
    """``path`` is a regular file to read a model from, or one line (a FIFO would block the read)."""
    check_regular_file(path, "model", f"pass {model_file()}", f"make one with {written_model()}", (MODEL_SUFFIX,))


def _model_json(path: str | Path) -> dict[str, Any]:
    """The ``featcache.json`` of a file written as a featcache model (its ``kind`` says so), fields unchecked."""
    path = Path(path)
    _check_model_file(path)
    from featcache.heads.io import read_head_meta

    from featcache.errors import shell_path

    # the command to paste in a command's line, the call in a Python call's
    how = command("export", f"{shell_path(str(path))} --out MODEL.keras", f"{str(path)!r}, out='model.keras'")
    head_hint = f" (it is a head: export it first with {how})"
    from featcache.heads.io import edited, read_entry

    # a head whose kind was edited to a model's reached Keras's call with images, a traceback; a model edited to a
    # head's record was "a head: export it first" (a session's note): the record and the network disagree, said so.
    # First: an .npz head's edited record was "a zip file without featcache's featcache.json" below
    if (why := edited(path)) is not None:
        raise why
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(read_entry(zf, META_ENTRY))
    except Exception as exc:
        from featcache.heads.io import damage_error

        if (damage := damage_error(path, _altered)) is not None:
            raise damage from None
        hint = head_hint if read_head_meta(path) is not None else _images_hint(path) or _kind_hint(path, exc)
        raise FeatcacheError(f"{path} is not a featcache model{hint}; pass a file written by {written_model()}") from None
    if isinstance(meta, dict) and meta.get("kind") != KIND and all(k in meta for k in MODEL_ONLY_FIELDS):
        # a model whose kind was removed or changed: not "a head: export it first" (an adversarial tester)
        check_meta(path, meta)
    if not isinstance(meta, dict) or meta.get("kind") != KIND:
        hint = head_hint if read_head_meta(path) is not None else ""
        raise FeatcacheError(f"{path} is not a featcache model{hint}; pass a file written by {written_model()}")
    return meta


def check_meta(path: str | Path, meta: dict[str, Any], fix: str | None = None) -> None:
    """The fields of a model's record that featcache reads, checked wherever the record is read (``read_meta``:
    predict, load_model; ``recipes.files``: info, verify; ``check_same_model_job``: export's and finetune's --out),
    each a line naming the field and ``fix`` (default ``reexport()``).

    An edited ``featcache.json`` (an adversarial tester's) crashed predict
    without ``image_size`` or with -5, and class names as a string were read
    letter by letter. With its digest remade (a later tester): "views": "orig"
    was said as "views averaged o,r,i,g there" by export --out, a
    format_version of 99 was read as this format, and an image_size of "96"
    (refused by predict) was taken by export --out as a rerun of its job and
    replaced. How many names the model's outputs need is checked when the
    network is there (``check_outputs``).
    """
    if meta.get("kind") != KIND:  # a model's record by its fields (heads.io.is_model_record), its kind edited
        raise _bad_meta(path, meta, "kind", repr(KIND), fix)
    version = meta.get("format_version")
    if _whole_number(version) and version > FORMAT_VERSION:
        raise FeatcacheError(f"{path} is a featcache model of format {version}, made by a newer featcache than this one "
                             f"(which reads formats 1 to {FORMAT_VERSION}); {fix or 'use that featcache, or ' + reexport()}")
    if not (_whole_number(version) and version >= 1):
        raise _bad_meta(path, meta, "format_version", f"a format number from 1 to {FORMAT_VERSION}", fix)
    names = meta.get("class_names")
    if not (isinstance(names, list) and len(names) >= 2 and all(isinstance(n, str) and n for n in names)
            and len(set(names)) == len(names)):
        raise _bad_meta(path, meta, "class_names", "a list of at least 2 distinct class names", fix)
    size = meta.get("image_size")
    if not (_whole_number(size) and 1 <= size <= MAX_IMAGE_SIZE):
        raise _bad_meta(path, meta, "image_size", f"a whole number of pixels, 1 to {MAX_IMAGE_SIZE}", fix)
    if "backbone" in meta and not (isinstance(meta["backbone"], str) and meta["backbone"] in REGISTRY):
        # absent: the network's own Preprocess layer names it (check_preprocess)
        raise _bad_meta(path, meta, "backbone", f"a backbone featcache knows ({', '.join(REGISTRY)})", fix)
    if meta.get("views") is not None and not _view_names(meta["views"]):  # absent or None: a model older than views
        raise _bad_meta(path, meta, "views", "a list of view names such as ['orig', 'flip']", fix)
    if meta.get("averaged") not in (None, PROBABILITIES, DECISION_VALUES):
        raise _bad_meta(path, meta, "averaged", f"{PROBABILITIES!r}, {DECISION_VALUES!r} or null", fix)
    if meta.get("scores") not in (None, *SVM_TAGS):  # what the output is where not probabilities (deploy.svmgraph)
        raise _bad_meta(path, meta, "scores", f"{' or '.join(map(repr, SVM_TAGS))} or null", fix)
    if meta.get("scores") == SVM_DECISION_SHARES and meta.get("averaged") != DECISION_VALUES:  # the tag of views' numbers
        raise _bad_meta(path, meta, "averaged", f"{DECISION_VALUES!r} (its scores are {SVM_DECISION_SHARES!r})", fix)
    if not isinstance(meta.get("finetune"), (dict, type(None))):
        raise _bad_meta(path, meta, "finetune", "the fine-tuning's record (an object) or null", fix)


def _whole_number(value: Any) -> bool:
    """An int as JSON gives one: not a bool, not 96.0 or "96"."""
    return isinstance(value, int) and not isinstance(value, bool)


def _view_names(views: Any) -> bool:
    """Whether ``views`` is a non-empty list of view names ``parse_views`` reads (a model records its views' names)."""
    from featcache.embedding.views import parse_views

    if not (isinstance(views, list) and views and all(isinstance(v, str) and v for v in views)):
        return False
    try:
        parse_views(views)
    except FeatcacheError:
        return False
    return True


def reexport() -> str:
    """The one fix of a model that cannot be trusted as it is, in the caller's words (``errors.command``)."""
    return f"re-export the model with {command('export')} (or {command('finetune')})"


def bad_model(path: str | Path, whose: str, fix: str | None = None) -> FeatcacheError:
    """The one line for a featcache model at ``path`` whose ``whose`` is wrong (its record, its network, its digests:
    "<path> is a featcache model whose <whose>; <fix>"), and ``fix`` (default ``reexport()``): one home of the words
    the six checks of a model's parts spelled each."""
    return FeatcacheError(f"{path} is a featcache model whose {whose}; {fix or reexport()}")


def _bad_meta(path: Path, meta: dict[str, Any], field: str, wanted: str, fix: str | None = None) -> FeatcacheError:
    """The one line for a model record's ``field`` that is missing or not ``wanted``, and ``fix`` (default
    ``reexport()``)."""
    if field not in meta:
        return bad_model(path, f"{META_ENTRY} lacks {field!r}", fix)
    shown = repr(meta[field])
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return bad_model(path, f"{META_ENTRY} has {field} {shown}, not {wanted}", fix)


def check_outputs(path: str | Path, width: int, meta: dict[str, Any]) -> None:
    """The network gives one probability per class name (names were checked by ``read_meta``).

    A file whose names were edited to 3 for a 10-output model crashed
    predict, and 10 names for 3 outputs predicted silently from the wrong list.
    """
    if width != len(meta["class_names"]):
        raise bad_model(path, f"{META_ENTRY} names {len(meta['class_names'])} classes but whose network gives {width} "
                        "class probabilities")


def network_width(path: str | Path) -> int | None:
    """The class count the network of the model file at ``path`` gives, read from Keras's description of its graph
    (the zip's ``config.json``) without loading TensorFlow: the output layer's ``n_classes`` (``SVMShares``), else
    the width of the tensor into it (``Softmax``, ``ViewMean``: each keeps its input's last axis). None where the
    description does not say (it is Keras's to read, which the loaders do)."""
    try:
        with zipfile.ZipFile(path) as zf:
            graph = json.loads(zf.read("config.json"))["config"]
        out = graph["output_layers"]
        name = out[0][0] if isinstance(out[0], list) else out[0]  # one output: ["probabilities", 0, 0]
        layer = next(x for x in graph["layers"] if x["name"] == name)
        if "n_classes" in layer["config"]:
            width = layer["config"]["n_classes"]
        else:
            width = layer["inbound_nodes"][0]["args"][0]["config"]["shape"][-1]
    except Exception:  # any other description (or none): not this check's to judge
        return None
    return width if type(width) is int else None


def check_network_width(path: str | Path, meta: dict[str, Any]) -> None:
    """``check_outputs`` before the network is loaded, from its description (``network_width``): verify and info
    called "intact" a model whose featcache.json names 4 classes while its network gives 3, its digest remade, which
    predict and load_model refuse (an adversarial tester)."""
    width = network_width(path)
    if width is not None:
        check_outputs(path, width, meta)


def is_model_file(path: Path) -> bool:
    """Written as a featcache model (``check_out`` replaces it), even if its ``featcache.json`` was edited since."""
    try:
        _model_json(path)
    except FeatcacheError:
        return False
    return True


def check_out(path: str | Path, force: bool = False) -> Path:
    """``--out`` for a model: a ``.keras`` name; an existing file is replaced only if it is a featcache model (or ``force``)."""
    # The one output-file check train uses too: it also proves the folder writable before the minutes of
    # building or fine-tuning (a model's own copy of it did not, and finetune failed only at the save; a review).
    # A FIFO is nobody's model, and --force must not replace it either.
    # a link at --out is written through, as > writes and extract's --out is (store.atomic.written_through): export
    # --force replaced the link with a plain file and left its target as it was (an adversarial tester, 2026-12-05)
    from featcache.store.atomic import written_through

    check_file_name(path, "--out", "out", "model.keras")  # 'm.keras/': written_through's Path dropped the /
    # a number or None is one line, as train's out is (written_through's Path raised pathlib's TypeError: export(head,
    # out=123) and finetune(head, out=123) were tracebacks; a brief, h315)
    path = check_path(path, "--out", f"the {MODEL_SUFFIX} model file to write")  # the CLI's --out ""; out= in a call
    path = check_out_file(written_through(path), ".keras", "a model", "export and finetune write Keras models",
                          example="model")
    if path.exists() and not force and not is_model_file(path):
        from featcache.heads.io import edited, read_head_meta

        # "pass --force to replace it" would have had the user destroy their head; a model whose record was edited to
        # a head's is none (heads.io.edited, of a record that says head): it is said to be no model featcache wrote, below
        if read_head_meta(path) is not None and edited(path) is None:
            raise FeatcacheError(f"{given_path('--out', path)} is a head {command('train')} wrote, not a model; "
                                 f"{_another_model_file(path)}")
        from featcache.heads.io import damaged_zip

        if (damage := damaged_zip(path)) is not None:  # "is not a model featcache wrote" of a damaged one (a tester)
            raise FeatcacheError(f"{given_path('--out', path)} is damaged ({damage[0]}); {_other_out()}")
        raise FeatcacheError(f"{given_path('--out', path)} exists and is not a model featcache wrote; {_other_out()}")
    return path


def _another_model_file(head: Path) -> str:
    """The way out of a model's --out that is a head (one it would replace, or the one it is made from): a name
    beside it, the head's with ``_model``, as a word to paste."""
    return f"name the model another file, e.g. {given_path('--out', head.with_name(head.stem + '_model.keras'), word=True)}"


def _other_out() -> str:
    """The way out of a refused model output, as export's and finetune's checks of it say it (``heads.io``'s)."""
    return way_out(f"choose another {option('--out')}")


def default_model_path(plain: Path, head: Path, made_from: str) -> Path:
    """A model's default file (export's ``<head>.keras``, finetune's ``<head>_finetuned.keras``): ``plain`` where
    nothing is there or featcache's model of this very head is (its ``head_path``: a rerun replaces it), else
    ``plain`` with 6 hex of a hash of this head's path added, as probe's and evaluate's default folders are
    (``store.layout.default_report_folder``); where that name is taken too, one line asking for ``--out``. A default
    name never replaces what is not this head's model, ``--force`` or not: two heads named h.npz in two folders took
    one data/models/h.keras, the second refused with advice to --force over the first's model (a review); with
    --force, a user's file, another Keras head or a link's target outside the home at the default name was
    replaced, and nothing said so (an adversarial tester). Checked to fit a file name before any work."""
    from featcache.store.layout import check_default_name, short_hash

    fix = f"name the model with {given('--out', 'NAME.keras', repr('NAME.keras'))}"
    _check_models_folder(plain.parent, fix)
    plain = check_default_name(plain, "model file name", made_from, fix)
    owner = str(head.resolve())
    if _free_or_of(plain, owner):
        return plain
    tag = short_hash(owner)
    tagged = check_default_name(plain.with_name(f"{plain.stem}_{tag}{plain.suffix}"), "model file name", made_from, fix,
                                extra_words=f", with 6 hex of the head's path added: {plain.name} holds what is not "
                                            "this head's model")  # "(258 bytes)" said not why (an adversarial tester)
    if _free_or_of(tagged, owner):
        return tagged
    raise FeatcacheError(f"the default model file names {plain} and {tagged.name} beside it hold files that are not "
                         f"this head's model; {fix}")


def _free_or_of(path: Path, owner: str) -> bool:
    """Nothing at ``path`` (not even a link), or a regular file that is featcache's model of the head at ``owner``
    (its record as written; the network is not read)."""
    if not os.path.lexists(path):
        return True
    if path.is_symlink() or not path.is_file():
        return False
    try:
        return _model_json(path).get("head_path") == owner
    except FeatcacheError:  # no model, or a damaged one: not this head's
        return False


def _check_models_folder(folder: Path, fix: str) -> None:
    """The folder a default model goes to, or the first of its parents that is there, is a folder: '--out
    data/models is a file, not a folder; name a folder' of a data/models file, with no --out given and export
    taking no folder (an adversarial tester)."""
    for parent in (folder, *folder.parents):
        if os.path.lexists(parent):
            if not parent.is_dir():
                where = "" if parent == folder else f" ({folder} below it)"
                raise FeatcacheError(f"{parent} is a file, where featcache keeps its models{where} under its home "
                                     f"(FEATCACHE_HOME, or ./data); move it away, or {fix}")
            return


def check_not_the_head(out: Path, head: str | Path, command: str) -> None:
    """A model is never written over the head it is made from, even with ``force``: ``export H --out H --force``
    replaced the user's head with its model (an adversarial tester); without ``force`` it was refused as a head."""
    if same_file(out, head):
        raise FeatcacheError(f"{given_path('--out', out)} is the head {command} reads; {_another_model_file(out)}")


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether ``a`` and ``b`` are one file (links followed): False where either is not there. The one test of "the
    model's name is the head's" (``check_not_the_head``; export's default name, ``export.default_out``)."""
    try:
        return os.path.exists(a) and os.path.samefile(a, b)
    except OSError:
        return False


# A model records its head's fit under these names (``export.model_meta``: the head's field -> the model's), so that a
# model of another fit at --out is told from a rerun (``check_same_model_job``; a tester: an export of a random-weights
# head replaced an imagenet model, "replaced the model there"). head_params and head_train_views were recorded from
# the first; the others since 2026-12-05, where the head records them.
HEAD_FIT_FIELDS = {"params": "head_params", "train_views": "head_train_views", "train_size": "head_train_size",
                   "seed": "head_seed", "train_images": "head_train_images"}
ALWAYS_RECORDED = ("params", "train_views")


def recorded_fit(head_meta: dict[str, Any]) -> dict[str, Any]:
    """What a model records of the fit of the head ``head_meta`` describes, under its own names (``HEAD_FIT_FIELDS``);
    the network (backbone, weights), layer and cache are the model's own fields, of the same names as the head's."""
    return {field: head_meta.get(key) for key, field in HEAD_FIT_FIELDS.items()
            if key in head_meta or key in ALWAYS_RECORDED}


def head_fit_of(model: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A model's metadata as ``heads.io.other_job`` and ``other_fit`` read a head's: its head's fit under the head's
    names (``HEAD_FIT_FIELDS``). A field the model does not record (one written before 2026-12-05: the head's train
    size, seed and train images) is unknown, and not compared: it is taken as ``new``'s. Not the class default, as a
    head's missing parameter is: no default says what train size an older model's head had, and "train size all
    there, 20 here" would refuse the rerun of a --train-size 20 head's export; the seed is still compared where
    ``head_params`` holds it (train's seed is the head's parameter), which every model records."""
    fit = {k: v for k, v in model.items() if k not in HEAD_FIT_FIELDS}
    for key, field in HEAD_FIT_FIELDS.items():
        if field in model:
            fit[key] = model[field]
        elif key == "seed" and isinstance(model.get("head_params"), dict) and "seed" in model["head_params"]:
            fit[key] = model["head_params"]["seed"]  # known after all (a review: new's had been taken, so an older
        elif key in new:  # model of seed 0 was replaced by a seed 1 head's export without --force)
            fit[key] = new[key]
    return fit


# The fine-tuning a fine-tuned model was asked for (deploy.finetune's settings): what a rerun must repeat to be the
# same fine-tuning job. Not what came of it (epochs run, the images a step held under the memory bound).
# Named "fine-tuning ..." in the line: the head's own learning_rate, epochs and seed are other rows. Here, beside the
# same-fit rule for models, not in heads.io (a review: fine-tuning's knowledge in the heads layer).
FINETUNE_FIT_KEYS = {key: f"fine-tuning {words}" for key, words in (
    ("unfreeze", "unfreeze"), ("learning_rate", "learning rate"), ("max_epochs", "epochs"), ("batch_size", "batch size"),
    ("patience", "patience"), ("seed", "seed"), ("keep_best", "keep best"))}


def _finetune_settings(finetune: Any) -> dict[str, Any] | None:
    """A fine-tuning record (a model's ``finetune``, or the settings finetune asks for) as ``heads.io.other_fit``
    compares it (``fit_settings``: its line's label -> value); a setting an older model did not record
    (``max_epochs``, since 2026-12-05) is left out: unknown, not compared (no class default says what it was)."""
    if not isinstance(finetune, dict):
        return None
    return {label: finetune[key] for key, label in FINETUNE_FIT_KEYS.items() if key in finetune}


def check_same_model_job(path: Path, head_meta: dict[str, Any], finetune: dict[str, Any] | None,
                         force: bool, views: Sequence[str] | None = None) -> tuple[bool, str | None]:
    """A featcache model at ``path`` is replaced without ``force`` only by a rerun of its job and fit: a model of a
    head of the same data set and kind, not an export over a fine-tuned one, and of the same fit (the head's
    parameters, train size, seed where used, train views, layer, backbone and weights; ``heads.io.other_fit``) and,
    where both are fine-tuned, of the same fine-tuning asked for (``finetune``: its settings; None for an export;
    ``FINETUNE_FIT_KEYS``) and, given ``views`` (export's), of the same views averaged in the graph (h111:
    an export ``--views orig`` replaced a model of the same head averaging 4 views). Returns whether one is there and
    where it was made from, where not from this head's cache (``heads.io.replaced_from``: another cache of the data set,
    a re-extraction, is the same job, replaced; another data set or photo folder only with ``force``), said as
    train says it of a head. Made before any work and again under the output's lock (the ``recheck`` of
    ``save_model``)."""
    from featcache.heads.io import check_same_job, replaced_from

    if not path.is_file() or not is_model_file(path):
        return False, None
    old = _model_json(path)
    # said with --force too, as train says it of a head it replaces (a review: --force never said it)
    origin = replaced_from(old, head_meta)
    if force:
        return True, origin
    # a record featcache would not read says nothing true of its job (an adversarial tester: "views": "orig" was
    # "views averaged o,r,i,g there", an image_size of "96" taken for a rerun's): refused as predict refuses it
    check_meta(path, old, _other_out())
    new = {**head_meta, "finetune": finetune, "model_views": None if views is None else list(views),
           "fit_settings": _finetune_settings(finetune)}
    try:
        check_same_job(path, {**head_fit_of(old, new), "model_views": old.get("views") or ["orig"],
                              "fit_settings": _finetune_settings(old.get("finetune"))}, new, force)
    except FeatcacheError:
        _refuse_if_changed(path)  # a record that fails its digest says nothing true of its job (a review)
        raise
    return True, origin


def recheck_out(out: Path, head: str | Path, command: str, head_meta: dict[str, Any], finetune: dict[str, Any] | None,
                force: bool, views: Sequence[str] | None = None) -> tuple[bool, str | None]:
    """export's and finetune's checks of ``--out`` again, just before the model replaces what is there now
    (``write_model``'s recheck, under the lock): a model's name, not the head it is made from, a model of the same
    job (``check_same_model_job``, whose ``(replaced, replaced_from)`` it returns). One home for the three calls
    each command spelled in a closure of its own."""
    check_out(out, force)
    check_not_the_head(out, head, command)
    return check_same_model_job(out, head_meta, finetune, force, views=views)


def _refuse_if_changed(path: Path) -> None:
    """Refuse the model at --out ``path`` as changed since featcache saved it where its content digest fails
    (``heads.io.check_digest``): its record was edited by hand or damaged, so what it says it was made from is not
    evidence. A model whose class names were edited was refused as "a model of another data set" (a review). A
    model of format 1 (no digest) cannot tell: ``other_job`` says what its record says."""
    def changed(p: Path, why: str) -> FeatcacheError:
        return FeatcacheError(f"{given_path('--out', p)} holds a model changed since featcache saved it ({why}): edited by "
                              f"hand or damaged, so what it was made from cannot be told; {_other_out()}")

    check_digest(path, changed)


def model_views(meta: dict) -> int:
    """Images one input image is in the model's pass: its views (``export --views``: the model embeds and averages
    them itself), 1 for a model of the original view. It sizes predict's memory bound and counts the forward passes
    a job runs (``ModelRunner``'s runtime choice). A ``views`` field that is not a list (an edited file, a model
    older than views) counts as 1 rather than failing."""
    return len(model_view_names(meta))


def model_view_names(meta: dict) -> tuple[str, ...]:
    """The views the model averages (``model_views``' reading of its record): ``("orig",)`` for a model older than
    views, or one whose ``views`` field is not a list."""
    views = meta.get("views")
    return tuple(views) if isinstance(views, list) and views else ("orig",)


OUTPUT = "probabilities"  # the model's one output, as a runtime spec's layer
# DEFAULT_RUNTIME (predict's): extraction's, the fastest installed runtime.


@dataclass(frozen=True)
class ModelFile:
    """A model file read once for a run (``ModelRunner``): its bytes, their SHA-256 and the record checked in them
    (``read_meta``: its content digest too). The network is loaded from these bytes (``network``), so what runs, the
    SHA-256 a report names and a conversion's key are of one file; ``unchanged`` says whether the file at
    ``path`` is still it (``ModelRunner.check_unchanged``). The one home of the "replaced meanwhile" check: evaluate hashed the file after reading its
    record and again after scoring, the runner's spec hashed it and its Keras load hashed it again, each a read of
    the whole file (10-15 MB; 4 SHA-256s and 4 content-digest checks per evaluate on TensorFlow, helper-250)."""

    path: Path  # as given (a link is followed each time it is read): what the lines name
    digest: str  # SHA-256 of ``data``
    meta: dict[str, Any] = field(compare=False)
    data: bytes = field(repr=False, compare=False)  # held while the runner lives: 10-15 MB beside TensorFlow's

    @classmethod
    def read(cls, path: str | Path) -> ModelFile:
        """The model file at ``path``, read and hashed once, its record checked in the bytes read."""
        path = check_source(path, "model", model_file(), "path")
        _check_model_file(path)  # before the read: a FIFO blocks it; a missing file is its own line
        try:
            data = read_at_most(path, MAX_FILE_BYTES, "model", f"pass {model_file()}")  # a 20 GB zip: refused unread
        except OSError:  # a regular file a moment ago: removed or made unreadable since
            _model_json(path)  # its own line where there is one (read_bytes' OSError said no more)
            raise FeatcacheError(changed_meanwhile(path, "read")) from None
        return cls(path, model_sha256(data), read_meta(path, data), data)

    def network(self) -> KerasModel:
        """The Keras model in these bytes (``load_model``'s checks), not in the file as it is now."""
        return _network(self.path, self.meta, self.data)

    def unchanged(self) -> bool:
        """Whether the file at ``path`` is still these bytes (hashed again: a whole read)."""
        try:
            return file_sha256(self.path) == self.digest
        except OSError:  # gone, or no longer readable, meanwhile
            return False


def model_sha256(data: bytes) -> str:
    """The SHA-256 of a model file's bytes, as ``validate.file_sha256`` gives a file's: the one hash a run takes of
    its model as it reads it (``ModelFile.read``)."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ExportedModelSpec:
    """A model file as the runtimes see it (``featcache.embedding.runtimes``, same interface as its ``ConversionSpec``).

    Its converted model is keyed by the file's content, not its path: a file
    replaced under the same name is converted again, a copy elsewhere reuses
    the conversion. The converted graph keeps the model's open input (any
    size, gray or RGB), so one conversion serves every input.
    """

    path: str
    digest: str
    image_size: int
    n_classes: int
    source: ModelFile | None = field(default=None, repr=False, compare=False)  # the bytes hashed, built from
    # a network already built from those bytes and unchanged since (``LoadedModel.lend``), or None: built again
    network: Callable[[], KerasModel | None] | None = field(default=None, repr=False, compare=False)
    # the weights to run it with on TensorFlow (``mapper.compiled``'s state), not its variables: those of a loaded
    # model's network are the caller's, who may change them after its runner is built
    state: tuple[list[np.ndarray], list[np.ndarray]] | None = field(default=None, repr=False, compare=False)
    layers: ClassVar[tuple[str, ...]] = (OUTPUT,)
    input_shape: ClassVar[tuple[None, ...]] = INPUT_SHAPE
    # the conversion notice's words: predict converts the whole model, keyed by the file's bytes; it said extract's
    # "the network ... for this backbone, size and layers" (a new-user tester)
    converting: ClassVar[tuple[str, str]] = ("the model (its network and head)", "once, for this model file's content")

    @classmethod
    def of(cls, source: ModelFile, network: Callable[[], KerasModel | None] | None = None,
           state: tuple[list[np.ndarray], list[np.ndarray]] | None = None) -> ExportedModelSpec:
        meta = source.meta
        return cls(str(source.path.resolve()), source.digest, int(meta["image_size"]), len(meta["class_names"]), source,
                   network, state)

    @property
    def raw_shape(self) -> tuple[int, ...]:
        return (self.image_size, self.image_size, 3)

    @property
    def what(self) -> str:
        return f"model {Path(self.path).name}"

    def probes(self) -> list[np.ndarray]:
        """An RGB batch at the model's size, and a gray one at another size: the open input must stay open."""
        rng = np.random.default_rng(0)
        return [rng.integers(0, 256, size=(2, *self.raw_shape), dtype=np.uint8),
                rng.integers(0, 256, size=(2, 28, 28, 1), dtype=np.uint8)]

    def identity(self) -> dict[str, Any]:
        from featcache.embedding.runtimes import CONVERSION_VERSION, converter_versions

        return {"conversion_version": CONVERSION_VERSION, "kind": KIND, "model_sha256": self.digest,
                "converter": converter_versions()}

    def key(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True).encode()
        return f"model-{self.digest[:12]}-{hashlib.sha256(blob).hexdigest()[:20]}"

    def build_keras(self) -> KerasModel:
        # a conversion is keyed by the bytes it was made from: built from those bytes, not the file read again (it
        # was hashed again after the load, a third whole read of it per evaluate; helper-250)
        source = self.source or ModelFile.read(self.path)
        if source.digest != self.digest:
            raise FeatcacheError(changed_meanwhile(self.path, "read"))
        built = self.network() if self.network is not None else None
        return built if built is not None else source.network()


class ModelRunner:
    """A model file ready to run: ``runner(images)`` gives the class probabilities of raw uint8 images.

    ``runtime`` is extraction's choice (``featcache.embedding.runtimes``):
    ``auto`` takes the fastest installed runtime, converting the model once
    (cached by its content) when ``expected_images`` repay it or a conversion
    is cached, else TensorFlow. Each image is one forward pass per view the
    model averages (``views``), counted as extraction counts them: predict of
    1,500 images on a model of 2 views is 3,000 passes, which it counted as
    1,500 images and so never converted for; ``runtime_used`` says what runs it and
    ``runtime_note`` why ``auto`` fell back (not for a job too small to
    repay a conversion: auto's choice, said on every small predict). The probabilities agree across
    runtimes to 1e-4 (tests/test_export_predict.py). ``lock_timeout``: seconds to wait at most while another process
    converts the same model (``runtimes.build``; None: ``runtimes.CONVERSION_WAIT_SECONDS``).
    """

    def __init__(self, path: str | Path | ModelFile, runtime: str = DEFAULT_RUNTIME, batch_size: int = BATCH_SIZE,
                 expected_images: int | None = None, lock_timeout: float | None = None,
                 record: dict[str, Any] | None = None, doing: str = "read",
                 network: Callable[[], KerasModel | None] | None = None,
                 state: tuple[list[np.ndarray], list[np.ndarray]] | None = None):
        """``network``: the network of these bytes where one is built already (``LoadedModel.lend``), run with the
        weights ``state`` (its checked ones: ``LoadedModel``) rather than its variables. ``record``: the model's record as the caller read it first (``read_meta``: its class names name the
        outputs); a file whose record is another now was replaced meanwhile, refused before it runs (a cats/dogs model
        put there while a folder was listed predicted 'ants'/'bees', exit 0; an adversarial tester). ``doing``: what
        the caller does with the model, in the line for one replaced (``changed_meanwhile``; ``check_unchanged``)."""
        from featcache.embedding import runtimes
        from featcache.validate import check_lock_timeout, positive_int

        runtimes.check_runtime(runtime)
        self.batch_size = positive_int(batch_size, "--batch-size")
        lock_timeout = check_lock_timeout(lock_timeout)
        self.doing = doing
        # the one hash of the file, and the bytes the network is loaded from; a ModelFile given: a loaded model's
        # bytes (``LoadedModel``), checked when it was loaded
        self.source = path if isinstance(path, ModelFile) else ModelFile.read(path)
        if record is not None and self.source.meta != record:
            raise FeatcacheError(changed_meanwhile(self.source.path, doing))
        self.meta = self.source.meta
        self.digest = self.source.digest  # the SHA-256 of the file run
        self.spec = ExportedModelSpec.of(self.source, network, state)
        self.views = model_views(self.meta)  # forward passes per image
        used, self._forward, self.runtime_note = runtimes.build(runtime, self.spec, self.batch_size,
                                                                runtimes.conversions_dir(runtime), expected_images,
                                                                say_small=False, float64=float64_part(self.meta),
                                                                views=self.views, lock_timeout=lock_timeout)
        # Trace (TensorFlow) or warm (a converted runtime) now, as extraction's Mapper does, so the first batch is not
        # charged with it: measured 2026-12-06 (docs/benchmarks.md, "predict's time"), the first 64-photo batch took
        # 3.0 s against 1.4 s after, which predict's bar counted as images' time. One image of the model's size: its
        # tf.function's signature is open (any batch, size, channels), so this one trace serves every batch. Not on
        # JAX: XLA compiles per shape, and a 1-image one would be a compile of its own (mapper.pad_target).
        backend = keras_backend()  # not keras(): a cached conversion runs without importing Keras
        if not (used == "tensorflow" and backend == "jax"):
            self._forward(np.zeros((1, *self.spec.raw_shape), np.uint8))
        self.runtime_used = backend if used == "tensorflow" and backend != "tensorflow" else used

    def check_unchanged(self) -> None:
        """The file at the model's path is still the one this runner read and runs (its SHA-256, taken again), or
        ``changed_meanwhile``'s line: called by predict and evaluate after scoring, before anything is written
        under the model's name (a report naming its SHA-256, a CSV naming the model)."""
        if not self.source.unchanged():
            raise FeatcacheError(changed_meanwhile(self.source.path, self.doing))

    def __call__(self, images: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Probabilities (N, classes) of uint8 ``images`` (N, H, W) or (N, H, W, C), C = 1 or 3, in batches."""
        if not converts(self.runtime_used):
            # A runner on Keras's backend kept from before a fork (``LoadedModel``) would hang in it. A converted
            # runtime's runs there: ONNX Runtime's and OpenVINO's (helper-307, by hand), and XNNPACK's, refused untried
            # until measured (helper-311, 2026-12-07: a kept interpreter predicted in a multiprocessing "fork" child
            # after TensorFlow ran, the parent's probabilities to the bit in 0.1-1.8 s, in each of 28 children, 22
            # through tf.lite of TensorFlow 2.21 and 6 through ai-edge-litert 2.3.0, at 1, 2 and 16 threads: the
            # pool's workers, busy in the parent, are not in the child, whose one thread did the work alone; a
            # TensorFlow runner there hung past 60 s).
            check_not_forked_after_tensorflow()
        step = batch_size or self.batch_size
        images = images[..., None] if images.ndim == 3 else images  # gray without its channel axis, as Keras takes it
        out = [self._rows(images[i : i + step]) for i in range(0, len(images), step)]
        if out:  # a converted model runs without Keras: its width is known only here
            check_outputs(self.spec.path, out[0].shape[-1], self.meta)
        return np.concatenate(out) if out else np.empty((0, self.spec.n_classes), np.float32)

    def _rows(self, batch: np.ndarray) -> np.ndarray:
        """The probabilities of one batch, one row per image. An only:flip model written before its graph was checked
        gave 2 rows per image (load_model refuses it now; a conversion of it cached before skips that load): its
        first rows were said as every image's (an adversarial tester)."""
        probs = self._forward(batch)[0]
        if len(probs) != len(batch):
            raise FeatcacheError(f"{self.spec.path} gave {len(probs)} rows of probabilities for {counted(len(batch), 'image')}: "
                                 f"its network averages other views than its {META_ENTRY} records; {reexport()}")
        return probs


def run_model(net: ModelRunner | KerasModel, images: np.ndarray, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Class probabilities of the frozen end-to-end model for a batch of raw uint8 images (N, H, W, C).

    ``net``: a :class:`ModelRunner` (on its runtime), or a Keras model from
    :func:`load_model` (Keras's ``predict``).
    """
    probs = net(images, batch_size) if isinstance(net, ModelRunner) else net.predict(images, batch_size=batch_size, verbose=0)
    bad = ~np.isfinite(probs).all(axis=1)
    if bad.any():  # a model of NaN weights (a diverged fine-tuning) printed "t-shirt/top nan", exit 0 (a tester)
        raise FeatcacheError(f"the model gave probabilities that are not numbers for {int(bad.sum())} of "
                             f"{counted(len(probs), 'image')}: its weights are not numbers (a fine-tuning that diverged?); "
                             f"fine-tune it again with a lower {option('--lr')}, or export its head again")
    return probs


def load_model(path: str | Path) -> LoadedModel:
    """``(model, meta)`` from a file written by ``save_model`` (a ``LoadedModel``, which unpacks as that pair);
    ``path`` is a str or ``os.PathLike`` (an ``ExportResult``: Keras's loader took only a str). The file is read once:
    the network and the record are of the bytes whose content digest was checked, and ``predict`` takes the result
    in place of the path, preparing the model once for every later call (``LoadedModel.runner``)."""
    source = ModelFile.read(check_source(path, "model", model_file(), "path"))
    return LoadedModel(source.network(), copy.deepcopy(source.meta), source)


class LoadedModel(tuple):
    """``load_model``'s result: the pair ``(model, meta)`` it always was (``model, meta = load_model(p)``), and the
    file read (``source``: its bytes, SHA-256 and record, checked when loaded). ``predict(loaded, images)`` runs these
    bytes: its runner (``ModelRunner``: a conversion for the runtime, the trace) is built at the first call and kept
    here for the next ones. A notebook user calling ``predict('m.keras', [photo])`` in a loop paid the file's read,
    its checks and the model's preparation on every call (4.0-4.9 s a photo at load 10; docs/benchmarks.md), and
    load_model's result was refused ("model must be a path"). The Keras ``model`` is the caller's (they may change
    its weights): predict traces it (or converts it) while its weights are those of the checked bytes (``lend``),
    else a network built from those bytes again, and runs it with the checked weights, never its variables. A second
    network built from the same bytes for the first predict took 0.5-1.7 s of that call (a 96 px model, load 2-4)."""

    source: ModelFile
    _runners: dict[tuple[Any, ...], ModelRunner]
    _building: dict[tuple[Any, ...], ForkSafeLock]  # a lock per key, held while its runner is looked up or built:
    # one build per key, whatever the threads, and a thread asking for another key is not held behind it (h318's
    # review); free in a forked child, where no thread of the parent's is left to release them (h314's review)
    _locks: ForkSafeLock  # held only while a key's lock is looked up or made
    _state: tuple[list[np.ndarray], list[np.ndarray]]  # its (trainable, other) weights as built from the checked bytes

    def __new__(cls, model: KerasModel, meta: dict[str, Any], source: ModelFile,
                state: tuple[list[np.ndarray], list[np.ndarray]] | None = None) -> LoadedModel:
        self = super().__new__(cls, (model, meta))
        self.source, self._runners, self._building, self._locks = source, {}, {}, ForkSafeLock()
        self._state = _weights_of(model) if state is None else state
        return self

    # copy.copy, copy.deepcopy and pickle took tuple's ways, which gave a plain (model, meta) pair that predict then
    # refused as no path (a brief, helper-299).
    def __copy__(self) -> LoadedModel:
        """The same network and meta (a shallow copy), the same checked bytes, and the runners built for either."""
        twin = LoadedModel(self[0], self[1], self.source, self._state)
        twin._runners, twin._building, twin._locks = self._runners, self._building, self._locks  # one build each for both
        return twin

    def __deepcopy__(self, memo: dict[int, Any]) -> LoadedModel:
        """A network and meta of its own (Keras copies the network as it is now, the caller's changes included), over
        the same checked bytes (immutable: what predict runs), its runners built at its own first call (a runner holds
        a compiled function or a runtime's session, which no copy takes)."""
        return LoadedModel(copy.deepcopy(self[0], memo), copy.deepcopy(self[1], memo), self.source, self._state)

    def __reduce_ex__(self, protocol: Any) -> Any:
        # Refused, not pickled as the pair: a pickle of the pair lost the checked bytes predict runs, and Keras loads
        # a pickled network with safe mode off, so a pickle of a model is code to whoever loads it.
        raise TypeError(f"a loaded model ({self.source.path}) is not pickled: pickle its path (loaded.path) and call "
                        "featcache.load_model on it where it is unpickled, which checks the file again")

    @property
    def path(self) -> Path:
        """The model file as it was given to ``load_model`` (what predict's lines and a CSV's record name)."""
        return self.source.path

    def runner(self, runtime: str, batch_size: int, expected_images: int, views: int,
               lock_timeout: float | None = None, doing: str = "read") -> ModelRunner:
        """The ``ModelRunner`` of the loaded bytes for ``runtime`` and ``batch_size``, built now or at an earlier
        call. ``auto`` chooses by the job's size (``runtimes.build``): a runner built for a small job (TensorFlow) is
        not reused for one large enough to repay a conversion, nor the other way."""
        from featcache.embedding.runtimes import small_job

        key = (runtime, batch_size, small_job(expected_images, views) if runtime == "auto" else None)
        runner = self._runners.get(key)
        if runner is not None:  # built: no lock to take on every later call
            return runner
        # Threads predicting at once on one fresh loaded model each found no runner and each built one (a trace or a
        # conversion's load, its memory held until the last of them was dropped; helper-311's brief): the first
        # builds under the key's lock, the others wait for it and take its runner. One lock for all keys held a
        # thread asking for another batch size or runtime behind a conversion, or behind a wait for another
        # process's conversion past its own lock_timeout (h318's review).
        with self._locks:
            building = self._building.setdefault(key, ForkSafeLock())
        with building:
            runner = self._runners.get(key)
            if runner is None:
                runner = self._runners[key] = ModelRunner(self.source, runtime, batch_size,
                                                          expected_images=expected_images, lock_timeout=lock_timeout,
                                                          doing=doing, network=self.lend, state=self._state)
        return runner

    def lend(self) -> KerasModel | None:
        """The caller's network for a runner to trace (run with the checked weights, ``_state``) or to convert, where
        its weights are still those of the checked bytes (a conversion is of its weights as they are), else None: the
        runner builds one from the bytes. 9-12 ms (a 96 px MobileNetV2 model), once per runner."""
        now = _weights_of(self[0])
        same = all(len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b)) for a, b in zip(now, self._state))
        return self[0] if same else None


def _weights_of(model: KerasModel) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``model``'s (trainable, non-trainable) weights as arrays (copies), in the order ``stateless_call`` takes."""
    return ([v.numpy() for v in model.trainable_variables], [v.numpy() for v in model.non_trainable_variables])


@dataclass(frozen=True)
class ModelSource:
    """The model predict or evaluate is given, as they read it: its file's ``path`` (checked), and ``loaded`` where it
    was given as ``load_model``'s result, whose checked record, bytes and runners they use rather than the file's."""

    path: Path
    loaded: LoadedModel | None = None

    @property
    def runs(self) -> Path | LoadedModel:
        """What ``model_runner`` is given: the loaded model, which keeps its runners for the next call, or the path."""
        return self.path if self.loaded is None else self.loaded

    @property
    def data(self) -> bytes | None:
        """The loaded model's checked bytes; None: the file at ``path`` is read."""
        return None if self.loaded is None else self.loaded.source.data

    def meta(self) -> dict[str, Any]:
        """The model's checked record, without loading the network: a loaded model's as checked when it was loaded
        (its own copy: the meta load_model returned is the caller's to change), else read from the file now. A method,
        not read here: predict and evaluate check their switches before it (a refusal of --batch-size 0 first)."""
        if self.loaded is not None:
            return self.loaded.source.meta
        from featcache.deploy.predict import model_meta

        return model_meta(self.path)


def model_source(model: Any) -> ModelSource:
    """``model`` given to predict or evaluate: ``load_model``'s result as it is, else a model file's path
    (``check_source``)."""
    if isinstance(model, LoadedModel):
        return ModelSource(model.path, model)
    return ModelSource(check_source(model, "model", model_file()))


def _network(path: Path, meta: dict[str, Any], data: bytes | None = None) -> KerasModel:
    """The Keras model of the model file at ``path`` whose record ``meta`` was read and checked, or of its bytes
    ``data`` where the caller read them (``ModelFile``), its network checked against the record."""
    from featcache.deploy import svmgraph  # noqa: F401  registers the SVM head's layers
    from featcache.embedding import preprocess  # noqa: F401  registers the Preprocess layer for deserialization

    try:
        model = load_keras_file(path, reexport(), data)  # in safe mode, Keras's default: a model file runs no code
    except FeatcacheError:  # a full temp folder (not the file's fault), or weights reaching outside the file
        raise
    except Exception as exc:
        raise FeatcacheError(f"{path} could not be loaded ({load_problem(exc)}); re-export it with this featcache version") from None
    check_outputs(path, model.outputs[0].shape[-1], meta)
    check_preprocess(path, model, meta)
    check_views_graph(path, model, meta)
    return model


def _all_layers(model: Any) -> list[Any]:
    """Every layer of ``model``, those inside its sub-models too."""
    out = []
    for layer in model.layers:
        out.append(layer)
        if hasattr(layer, "layers"):
            out += _all_layers(layer)
    return out


def check_preprocess(path: str | Path, model: KerasModel, meta: dict[str, Any]) -> None:
    """The network resizes its images to the size and for the backbone its metadata names: predict decodes photos at
    ``image_size``, so a ``featcache.json`` saying 224 over a 64 px network gave other probabilities without a word
    (an adversarial tester, with a recomputed digest)."""
    from featcache.embedding.preprocess import Preprocess

    for layer in _all_layers(model):  # a --views all model holds its Preprocess inside a sub-model (an adversarial tester)
        if isinstance(layer, Preprocess) and (layer.image_size != meta.get("image_size")
                                              or layer.backbone != meta.get("backbone", layer.backbone)):
            said = f"{meta['backbone']} at " if meta.get("backbone") else ""
            raise bad_model(path, f"{META_ENTRY} says {said}{meta.get('image_size')} px but whose network takes "
                            f"{layer.backbone} at {layer.image_size} px")


def graph_views_of(model: KerasModel) -> tuple[list[list[str]], list[int]]:
    """(the views of each ``ViewStack`` of ``model``'s network, the view count of each of its ``ViewMean`` layers):
    what it computes and averages, read from the network itself."""
    from featcache.embedding.preprocess import ViewMean, ViewStack

    layers = _all_layers(model)
    return ([list(layer.views) for layer in layers if isinstance(layer, ViewStack)],
            [layer.n_views for layer in layers if isinstance(layer, ViewMean)])


def check_views_graph(path: str | Path, model: KerasModel, meta: dict[str, Any]) -> None:
    """The network computes and averages exactly the views its metadata records (``views``). An only:flip head's
    model recorded ["flip"] but its network embedded orig and flip under a mean of 1 view: predict gave the original
    view's classes, and only:flip,shift a TensorFlow reshape traceback (an adversarial tester). Checked before a
    model is written (``save_model``) and when one is loaded (a model written before the fix is refused)."""
    recorded = list(meta.get("views") or ["orig"])
    stacks, means = graph_views_of(model)
    computed = stacks[0] if len(stacks) == 1 else [v for stack in stacks for v in stack] or ["orig"]
    if len(stacks) > 1 or computed != recorded or means != ([len(computed)] if stacks else []):
        averaged = f" averaged as {' and '.join(counted(n, 'view') for n in means)}" if means else ""
        raise bad_model(path, f"{META_ENTRY} records views {views_words(recorded)} but whose network computes "
                        f"{views_words(computed)}{averaged}")
