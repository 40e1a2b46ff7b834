"""evaluate a model file: score an exported or fine-tuned model on a class-folder tree of photos.

``featcache.evaluate(model, folder)`` is ``featcache evaluate MODEL FOLDER``: the folder walked as extract walks a
photo folder (``sources.images.class_tree``), its photos run through the model as predict runs them
(``deploy.predict``: its runner, runtime choice and batches), and the report written as evaluate writes a head's
(``analysis.evaluate``). A head file with a cache goes on to ``analysis.evaluate.evaluate``.
"""

from __future__ import annotations

import inspect
import os
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence

import numpy as np

from featcache.analysis.evaluate import (EvalResult, LeakageWarning, check_report, check_write_out, leakage_line, metrics,
                                         misclassified_entry, name_part, report_files, report_folder, say_evaluated,
                                         write_report)
from featcache.analysis.evaluate import evaluate as evaluate_head
from featcache.embedding.runtimes import DEFAULT_RUNTIME
from featcache.embedding.throughput import Throughput
from featcache.errors import FeatcacheError, command, one_line, option, shell_path, warn
from featcache.progress import counted, status
from featcache.sources.decode import left_out_json, left_out_parts, left_out_words
from featcache.heads.io import names_a_head_given_as_a_cache
from featcache.validate import check_out_dir, check_path, checks_switches

if TYPE_CHECKING:  # a hint only: evaluate_model imports deploy.model when called, as its other names
    from featcache.deploy.model import LoadedModel

# What the report calls the images a model scored: a folder's, not a cache's split
FOLDER_SPLIT = "folder"
# The head's evaluate's defaults of its own options (split, meta, trust_pickle, test_views): this one's, and what
# tells an option given with a model (their one home is analysis.evaluate.evaluate's signature)
HEAD_DEFAULTS = {name: p.default for name, p in inspect.signature(evaluate_head).parameters.items()
                 if name in ("split", "meta", "trust_pickle", "test_views")}


@dataclass
class ModelEvalResult(EvalResult):
    """``EvalResult`` of a model file on a photo folder: ``head_path`` is the model file, ``cache_path`` the folder,
    and what identifies both: the model's SHA-256 and content digest (what predict's CSV record, info and verify name
    it by), the folder's image count and content fingerprint (``sources.images.ClassTree``), the runtime that ran the
    model and the files left out. Its evaluation.json names them ``model`` and ``folder`` alone (``scored``)."""

    trained_by: ClassVar[str] = "model"
    model_sha256: str = ""
    content_digest: str | None = None  # None: a model saved before model digests (2026-12-03)
    folder_fingerprint: str = ""
    runtime: str | None = None
    runtime_note: str | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list, repr=False)  # files not scored, with the reason
    copies: list[tuple[str, str]] = field(default_factory=list, repr=False)  # (path, same_as) of a photo's copies, scored once
    kind: str | None = None  # the model's head (logreg, svm, keras) and whether fine-tuned
    # how fast the photos were decoded and scored (extract's figures and keys: embedding.throughput); --json
    # and evaluation.json said no rate. Not in evaluation.txt: the report of a model on a folder, not of a run
    throughput: Throughput = field(default_factory=Throughput)
    # What the model's numbers are where they are no probabilities (an SVM head's model: deploy.model.svm_numbers, as
    # predict's note and --json's values_words say them), else None; whether they are its decision alone (one_vote).
    # evaluate showed "share 0.178" with no word of what a share is (a brief, 2026-12-06)
    values_words: str | None = None
    decision_only: bool = False

    def scored(self) -> dict[str, Any]:
        """The model and the folder, each under its own name: a head's report's ``head`` held the model's path,
        ``cache`` the folder's and ``split`` "folder", beside these (a brief, 2026-12-06). ``abspath``: whose report
        the default folder holds (``analysis.evaluate.report_folder``), as a head's ``head_abspath``."""
        return {"model": {"path": str(self.head_path), "abspath": os.path.abspath(self.head_path),
                          "sha256": self.model_sha256, "content_digest": self.content_digest},
                "folder": {"path": str(self.cache_path), "abspath": os.path.abspath(self.cache_path),
                           "images": self.images, "fingerprint": self.folder_fingerprint,
                           **left_out_json(self.skipped, self.copies)}}

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "values_words": self.values_words, "runtime": self.runtime,
                "runtime_note": self.runtime_note, **self.throughput.to_dict()}

    def values_line(self) -> str | None:
        """predict's note of an SVM head's model, for the misclassified photos' lines: what their shares are, or
        (its decision alone) why they show none."""
        if self.values_words is None:
            return None
        if self.decision_only:
            return f"no number: the model's output is {self.values_words}"
        return f"share: {self.values_words}"

    def scored_lines(self) -> list[str]:
        skipped = "".join(f", {w}" for w in left_out_words(self.skipped, self.copies))
        digest = f"content digest {self.content_digest[:12]}" if self.content_digest else "no content digest"
        return [f"model     {self.head_path} ({self.kind}, sha256 {self.model_sha256[:12]}, {digest})",
                f"folder    {self.cache_path} ({counted(self.images, 'image')}{skipped}, content {self.folder_fingerprint[:12]})",
                f"runtime   {self.runtime}"]

    def plot_scored(self, head: Any) -> str:
        """The model's kind and the folder it scored, in the plot's title (the rest is a head's)."""
        return f"{self.kind} on {one_line(Path(self.cache_path).name)}"


@names_a_head_given_as_a_cache
@checks_switches
def evaluate(
    head: Any,
    cache: Any,
    *,
    split: str = HEAD_DEFAULTS["split"],
    out: str | Path | None = None,
    meta: dict[str, Any] | None = HEAD_DEFAULTS["meta"],
    trust_pickle: bool = HEAD_DEFAULTS["trust_pickle"],
    test_views: str | tuple[str, ...] | None = HEAD_DEFAULTS["test_views"],
    runtime: str | None = None,
    batch_size: int | None = None,
    lock_timeout: float | None = None,
    verbose: bool = False,
    write: bool = True,
) -> EvalResult:
    """Score a head on a cache's split, or a model file on a folder of photos in class folders.

    ``head``: a head file (or ``train``'s result, or a fitted head with its ``meta``) with ``cache``, a cache made
    with its settings: ``analysis.evaluate.evaluate``, whose keywords ``split``, ``meta``, ``trust_pickle`` and
    ``test_views`` are its own. Or a model file written by ``export`` or ``finetune`` with ``cache`` a folder of
    photos, one subfolder per class named as the model's classes (the layout extract's ``PhotoFolder`` reads, without
    a train/ and val/ split): ``evaluate_model``, run as ``predict`` runs it (``runtime``, default predict's
    ``auto``; ``batch_size``; ``lock_timeout``, its wait for another process converting the same model), the model's
    views averaged as the model averages them. ``out``, ``verbose`` and ``write`` as
    for either. The result and the report (evaluation.json, evaluation.txt, confusion.png) are the same for both;
    a model's says which runtime ran it and records the model's SHA-256 and content digest and the folder's content
    fingerprint, and which of its photos the model was trained on (``result.overlap``, as a head's report says it).
    """
    # a model with a file (a cache, as a head takes) goes on as a head would: its line says a model is no head, and
    # what scores one (heads.io._model_not_head)
    from featcache.deploy.model import LoadedModel

    if (runtime, batch_size, lock_timeout) != (None, None, None):
        # a model's settings checked before its file is read, as predict checks its own: evaluate(MODEL, FOLDER,
        # batch_size=0) was refused only after the model's record was read (a tester); a head given them is told
        # below that they are a model's
        model_settings(runtime, batch_size, lock_timeout)
    # load_model's result is a model, scored on photos as its file is (prepared once: LoadedModel.runner)
    kind = "model" if isinstance(head, LoadedModel) else _kind_of(head)
    if _is_folder(head):
        raise _folder_as_head(_given_path(head), _is_folder(cache))
    if _is_folder(cache) and kind != "model":  # it said "FOLDER is a folder, not a cache" (a re-read)
        in_memory = _head_in_memory(head)  # (a LoadedModel is a pair too, but a model's: not a fitted head)
        if in_memory is not None:  # a fitted head or a TrainResult whose file no longer holds it: no file to export
            raise FeatcacheError(head_object_on_photos(in_memory, _given_path(cache)))
        if kind == "head":
            raise FeatcacheError(head_on_photos(_given_path(head), _given_path(cache)))
    # a file featcache cannot read as a head or a model (random bytes, empty) beside a folder: a model was meant (a
    # folder is what a model is scored on), so predict's line for a file that is no model comes first, naming
    # 'featcache export', not the head's naming 'featcache train' (an adversarial tester)
    no_record = kind in ("other", "unreadable") and _is_folder(cache)
    if no_record:
        from featcache.deploy.predict import model_meta

        model_meta(head)
    if (kind == "model" or no_record or _is_missing_model(head) and _is_folder(cache)) and (
            not _is_file(cache) or isinstance(head, LoadedModel)):
        # a file not found with a photo folder is a model not found (model_meta says so): "head file not found ...;
        # train one with 'featcache train'" said of a folder's model (a review)
        asked = {"split": split, "meta": meta, "trust_pickle": trust_pickle, "test_views": test_views}
        given = [name for name, default in HEAD_DEFAULTS.items() if asked[name] != default]
        if given:
            words = {"split": "a model scores every photo of the folder given (no split)",
                     "meta": "a model file carries its own record", "trust_pickle": "a model file holds no pickle",
                     "test_views": "a model averages the views it was exported with (export --views)"}
            raise FeatcacheError(f"{option('--' + given[0].replace('_', '-'), given[0])} is for a head scored on a cache; "
                                 f"{words[given[0]]}: drop it")
        return evaluate_model(head, cache, out=out, runtime=runtime, batch_size=batch_size, lock_timeout=lock_timeout,
                              verbose=verbose, write=write)
    for name, value in (("runtime", runtime), ("batch_size", batch_size), ("lock_timeout", lock_timeout)):
        if value is not None and kind != "model":  # a model with a cache: the head's line says what scores it
            from featcache.heads.io import written_model

            raise FeatcacheError(f"{option('--' + name.replace('_', '-'), name)} is for a model file ({written_model()}) "
                                 "run on photos; a head is scored on its cache's stored features: drop it")
    return evaluate_head(head, cache, split=split, out=out, meta=meta, trust_pickle=trust_pickle,
                         test_views=test_views, verbose=verbose, write=write)


# What a head given with a photo folder is told, as a file (``head_on_photos``) or an object (``head_object_on_photos``)
NOT_ON_PHOTOS = "scored on a cache of its settings, not on a photo folder; photos need a model exported from it"


def _step_calls(head_file: str, folder: Path) -> tuple[str, str]:
    """The arguments of the export and evaluate calls that score a head file's model on ``folder`` (both lines' last
    steps)."""
    return f"{head_file!r}, 'MODEL.keras'", f"'MODEL.keras', {str(folder)!r}"


def _export_then_evaluate(head_file: str, folder: Path) -> str:
    """The two calls that score a head file's model on ``folder``, in Python's words: a head given as an object is
    a Python caller's alone."""
    export, score = _step_calls(head_file, folder)
    return f"featcache.export({export}), then featcache.evaluate({score})"


def head_on_photos(head: Path, folder: Path) -> str:
    """The line for a head file given with a photo folder: a head scores a cache's stored features, and photos are
    scored by the model exported from it, in two steps, each written out in the caller's words (``command``)."""
    h, f = shell_path(str(head)), shell_path(str(folder))  # ./-h.npz, not -h.npz: an option (a review)
    export, score = _step_calls(str(head), folder)
    steps = f"{command('export', f'{h} --out MODEL.keras', export)}, then {command('evaluate', f'MODEL.keras {f}', score)}"
    return f"{head} is a head, {NOT_ON_PHOTOS}: {steps}"


def head_object_on_photos(words: tuple[str, str, str], folder: Path) -> str:
    """``head_on_photos`` for a head given as an object (``_head_in_memory``'s words for it, its meta and its file
    suffix): saved first, then exported, then scored, in Python's words (a fitted head, or a TrainResult whose file
    no longer holds its head, with a photo folder said "FOLDER is a folder, not a cache"; a brief)."""
    what, call, suffix = words
    file = "HEAD" + suffix
    return f"{what} is {NOT_ON_PHOTOS}, from a file: {call.format(repr(file))}, then {_export_then_evaluate(file, folder)}"


def _head_in_memory(head: Any) -> tuple[str, str, str] | None:
    """For a head given as an object with no file holding it (a fitted head alone or with its meta, or a
    ``TrainResult`` whose file is gone or holds another head now): what it is, the ``save_head`` call that writes it
    (a format slot for the file's name) and its file suffix; None for anything else (a path, a TrainResult whose file
    still holds its head: ``head_on_photos`` names that file)."""
    from featcache.analysis.train import TrainResult
    from featcache.validate import still_written

    if isinstance(head, TrainResult):
        if head.path is not None and still_written(head, Path(head.path)):
            return None
        what = (f"the head of this TrainResult (its file {head.path} no longer holds it)" if head.path is not None
                else "the head of this TrainResult")
        return what, "featcache.save_head(result.estimator, {}, result.meta)", _suffix(head.estimator)
    if isinstance(head, (str, bytes, os.PathLike)):
        return None
    if isinstance(head, tuple) and len(head) == 2:  # (estimator, meta), as evaluate takes it
        return f"the fitted {type(head[0]).__name__}", "featcache.save_head(estimator, {}, meta)", _suffix(head[0])
    if hasattr(head, "predict"):
        return f"the fitted {type(head).__name__}", "featcache.save_head(head, {}, meta)", _suffix(head)
    return None


def _suffix(estimator: Any) -> str:
    """The file suffix ``save_head`` writes ``estimator`` with (``.keras`` for the Keras head, else ``.npz``)."""
    return getattr(type(estimator), "file_suffix", ".npz")


def _given_path(x: Any) -> Path | None:
    """``x`` as the path it names (expanded), or None where it is no path (a Cache, a fitted head, a result)."""
    return Path(os.fsdecode(x)).expanduser() if isinstance(x, (str, bytes, os.PathLike)) else None


def _folder_as_head(path: Path, photos: bool = False) -> FeatcacheError:
    """The line for a folder given as the head or model: one named as a .keras file, a model's name as much as a
    Keras head's, gets the model's fix too (evaluate FOLDER/m.keras said "is a folder, not a head file; pass the
    .keras or .npz head file", as if a model could not go there; a tester). ``photos``: the second argument is a
    folder, which only a model is scored on, so a model was meant: 'evaluate runs PHOTOS' said "not a head file; pass
    the .keras or .npz head file", with no word of a model (a brief, h315)."""
    from featcache.deploy.model import model_file
    from featcache.heads.io import HEAD_SUFFIXES, folder_given, head_file

    if path.suffix.lower() == ".keras":
        return folder_given(path, "head or model", f"pass {head_file()} with its cache, or {model_file()} with a "
                            "folder of photos", HEAD_SUFFIXES)
    if photos:
        how = command("evaluate", "MODEL FOLDER", "model, folder")
        return folder_given(path, "model", f"a folder of photos is scored by a model: pass {model_file()} first "
                            f"({how}); a head ({head_file()}) is scored on its cache", HEAD_SUFFIXES)
    return folder_given(path, "head", f"pass {head_file()}", HEAD_SUFFIXES)


def _kind_of(head: Any) -> str | None:
    """What the file ``head`` names is, its record read once (``heads.io.file_kind``; nothing loaded): "model",
    "head", "other" (a regular file featcache cannot read as either: random bytes, empty), "unreadable", or None
    (no path, or no regular file there). Each question ``evaluate`` asks of it is asked of this one answer."""
    from featcache.heads.io import file_kind

    path = _given_path(head)
    if path is None or not path.is_file():
        return None
    try:
        return file_kind(path) or "other"
    except (OSError, ValueError):  # unreadable: the checks of what it is taken for say why, in their words
        return "unreadable"


def _is_missing(head: Any) -> bool:
    """Whether ``head`` is a path naming nothing."""
    path = _given_path(head)
    if path is None:
        return False
    try:
        return not os.path.lexists(path)
    except (OSError, ValueError):  # a name the system refuses: the head's checks say why
        return False


def _is_missing_model(head: Any) -> bool:
    """Whether ``head`` is a path naming nothing whose name could be a model's: a missing 'nope.npz' is a head's name
    (no model is an .npz), so the head's line says it is not found, not "model file not found ...; make one with
    'featcache export'" (a new-user tester)."""
    from featcache.deploy.model import MODEL_SUFFIX
    from featcache.heads import saved_suffixes

    head_only = saved_suffixes() - {MODEL_SUFFIX}
    return _is_missing(head) and _given_path(head).suffix.lower() not in head_only


def _is_folder(path: Any) -> bool:
    """Whether ``path`` names a folder that exists (the photos a model is scored on)."""
    given = _given_path(path)
    return given is not None and given.is_dir()


def _is_file(path: Any) -> bool:
    """Whether ``path`` names something other than a folder that exists (a cache file): not for a model."""
    given = _given_path(path)
    return True if given is None else given.exists() and not given.is_dir()  # None: a Cache, a head's


def model_settings(runtime: str | None, batch_size: int | None,
                   lock_timeout: float | None) -> tuple[str, int, float | None]:
    """``(runtime, batch_size, lock_timeout)`` of a model scored on photos, checked (None: each one's default): the one
    check of them, made before any file is read (``evaluate``, ``evaluate_model``)."""
    from featcache.deploy.predict import BATCH_SIZE
    from featcache.embedding.runtimes import check_runtime
    from featcache.validate import check_lock_timeout, positive_int

    return (check_runtime(DEFAULT_RUNTIME if runtime is None else runtime),
            positive_int(BATCH_SIZE if batch_size is None else batch_size, "--batch-size"),
            check_lock_timeout(lock_timeout))


def evaluate_model(model: str | Path | LoadedModel, folder: str | Path, *, out: str | Path | None = None,
                   runtime: str | None = DEFAULT_RUNTIME, batch_size: int | None = None,
                   lock_timeout: float | None = None, verbose: bool = False, write: bool = True) -> ModelEvalResult:
    """Score the model file ``model`` on every photo of ``folder`` (``evaluate``'s model form): accuracy, per-class
    precision and recall, the confusion matrix and the misclassified photos. Files extract would skip are skipped
    and listed (``result.skipped``), and so are photos that do not decode, as predict skips them. Photos the model
    was trained on (by content, its head's training digests) are said as a head's evaluate says them
    (``result.overlap``, ``LeakageWarning``); a model that keeps no digests, scored on its head's training folder,
    gets a note saying so (``result.note``). ``lock_timeout``: predict's, its wait for another process converting the
    same model (None: ``runtimes.CONVERSION_WAIT_SECONDS``). ``model``: a path, or ``load_model``'s result
    (``LoadedModel``): its bytes, checked when loaded, are scored and named (SHA-256, content digest, training
    digests), prepared once for every later call (predict's too)."""
    from featcache.deploy.model import model_source, model_view_names, one_vote, svm_numbers, train_digests
    from featcache.deploy.predict import input_settings, model_runner, photo_count, predict_files, progress_bar, value_of
    from featcache.heads.io import DIGEST_KEY
    from featcache.progress import bars_wanted
    from featcache.sources.images import check_report_outside_classes

    source = model_source(model)
    model = source.path
    runtime, batch_size, lock_timeout = model_settings(runtime, batch_size, lock_timeout)
    check_write_out(write, out)
    if out is not None:
        check_out_dir(out)
    meta = source.meta()  # checked, before TensorFlow loads
    # The record read above (class names, size, views) and the file scored must be one file: the runner compares
    # the record of the bytes it hashes and loads with it (a model replaced while the photos were walked was scored
    # under the first one's class names with its own SHA-256 recorded, exit 0; an adversarial tester), and after
    # scoring that the file is still those bytes (net.check_unchanged)
    names = list(meta["class_names"])
    root = _check_folder(folder, names)
    out_dir = None
    if write:
        out_dir = (check_path(out, "out", "a folder for the report") if out is not None
                   else _default_out(Path(model), root))
        check_report_outside_classes(out_dir, root)
        check_report(out_dir)  # before the work
    size, views, _, native = input_settings(meta)
    tree = _read_tree(root, names, size, verbose)
    _check_each_class_is_named_as_photos(tree)  # before the model loads (seconds): what the names tell
    trained = train_digests(model, meta, source.data)  # before the work: a model whose digests do not read is one line
    # photos as extract counts them (StagedPhotos.images): a notes.txt is left out as no image, not one (the lines
    # said "on 91 photos", "predicting 91 images", then the report "90 images"; a tester)
    photos = photo_count(tree.paths)
    net = model_runner(source.runs, runtime, batch_size, photos, verbose, meta, verb="scoring", views=views,
                       lock_timeout=lock_timeout, doing="evaluated", what=_scoring_words(tree, photos))
    bar = progress_bar(photos) if bars_wanted(verbose) and photos > batch_size else None
    start = time.perf_counter()
    try:
        per_file, undecoded = predict_files(tree.paths, size, batch_size, net, names, len(names), bar, views=views,
                                            native=native, digests=tree.digests)  # the photos hashed, or one line
    except Exception:  # a fault while the model was replaced: say that, not the fault's own words
        net.check_unchanged()
        raise
    net.check_unchanged()  # before the report names the model's SHA-256 (a file replaced while it was scored)
    kept = [i for i, p in enumerate(per_file) if p is not None]
    throughput = net.throughput(len(kept), start, views)  # the photos decoded and scored, as extract's images/s
    if not kept:
        raise FeatcacheError(f"no photo of {root} decodes ({undecoded[0][0]}: {undecoded[0][1]}, ...); "
                             "evaluate on a folder of image files")
    _check_each_class_decodes(tree, per_file, undecoded)
    proba = np.stack([per_file[i].probabilities for i in kept])
    y = _model_labels(tree, names)[kept]
    y_pred = np.argmax(proba, axis=1).astype(np.int64)
    _warn_absent_classes(root, y, names)
    accuracy, per_class, cm = metrics(y, y_pred, names)
    unmatched = _unmatched_source_note(meta) if trained is not None else None
    overlap = None if unmatched else _overlap(trained, [tree.digests[i] for i in kept], y, y_pred, meta, root,
                                              [tree.paths[i] for i in kept])
    if overlap and overlap["seen"]:
        warn(leakage_line(overlap, ModelEvalResult.trained_by), LeakageWarning)
    note = unmatched or (_trained_folder_note(meta, root) if trained is None else None)
    if note:
        warn(note, LeakageWarning)
    runner = net()
    # test_views: the record's views as model_views reads and counts them, so --json's views (the throughput's passes
    # per image) is always len(test_views), as docs/commands.md says
    result = ModelEvalResult(
        Path(model), root, FOLDER_SPLIT, str(meta.get("layer", "")), names, accuracy, per_class, cm,
        {} if out_dir is None else report_files(out_dir),
        _misclassified([tree.paths[i] for i in kept], y, y_pred, proba, names, value_of(meta), not one_vote(meta)), overlap,
        model_view_names(meta), meta.get("averaged") if views > 1 else None, note=note,
        model_sha256=runner.digest, content_digest=meta.get(DIGEST_KEY), folder_fingerprint=tree.fingerprint,
        runtime=runner.runtime_used, runtime_note=runner.runtime_note, **left_out_parts(sorted(tree.unusable + undecoded)),
        kind=_kind_words(meta), throughput=throughput, values_words=svm_numbers(meta), decision_only=one_vote(meta))
    if out_dir is not None:
        write_report(result, out_dir, meta.get("head"))
    if verbose:
        _say_notes(result)
        say_evaluated(result)
        # as extract's summary, on stderr, and with the folder line's words on the files that are no rows (``left_out_words``):
        # "1 image file skipped" (the unreadable one of the first line's image files) ended a run whose "skipped 2
        # files (1 not an image, 1 unreadable)" and folder line said otherwise (a new user)
        left_out = ", ".join(left_out_words(result.skipped, result.copies))
        status(one_line(f"evaluate: scored {throughput.line(result.runtime)}{f'; {left_out}' if left_out else ''}"))
    return result


def _scoring_words(tree: Any, photos: int) -> str:
    """What the scoring line counts, the ``photos`` (image files) of ``tree``, and, where that is fewer than the files
    just hashed, the files between left out in the summary's words (``decode.left_before_words``): "hashing 10
    files", then "scoring 8 image files", a copy and a notes.txt gone unsaid (a new user, as extract's line)."""
    from featcache.deploy.predict import _named_no_image, run_count_words
    from featcache.sources.decode import NOT_IN_A_CLASS_FOLDER, is_other_file, left_before_words

    hashed_out = [(p, why) for p, why in tree.unusable if why != NOT_IN_A_CLASS_FOLDER]  # a loose file: never hashed
    left = hashed_out + _named_no_image([p for p in tree.paths if is_other_file(p)])
    if not left:
        return run_count_words(photos)
    return f"{run_count_words(photos)} of the {counted(len(tree.paths) + len(hashed_out), 'file')} hashed ({left_before_words(left)})"


def _check_folder(folder: Any, names: Sequence[str]) -> Path:
    """``folder`` as a Path: an existing folder of class folders, not one split into train/ and val/ (a model is
    scored on one tree; ``FOLDER/val`` is suggested)."""
    from featcache.sources.images import SPLIT_FOLDERS, TEST_FOLDERS
    from featcache.validate import expand_home

    root = Path(expand_home(os.fsdecode(check_path(folder, "folder", "a folder of photos in class folders"))))
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "not found"
        raise FeatcacheError(f"photo folder {what}: {root}; {folder_hint(names)}")
    subdirs = {e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith(".")}
    splits = sorted(subdirs & set(SPLIT_FOLDERS) - set(class_folders(names)))
    if splits:
        test = next((t for t in TEST_FOLDERS if t in subdirs), splits[0])
        raise FeatcacheError(f"{root} is split into {'/ and '.join(splits)}/; evaluate scores one tree of class folders: "
                             f"pass {root / test}")
    return root


def _read_tree(root: Path, names: Sequence[str], image_size: int, verbose: bool):
    """The folder's photos as extract walks them (``class_tree``), its class folders the model's classes (checked
    before any file is read)."""
    from featcache.sources.images import class_tree

    return class_tree(root, image_size, verbose, lambda found: check_same_classes(root, found, names),
                      hint=f"{folder_hint(names)} (some of them are enough)")


def folder_hint(names: Sequence[str]) -> str:
    """What evaluate scores a model on, in its refusals: no train/ and val/ (evaluate refuses a split folder). Each
    class by its folder's name (``class_folders``): the class names listed ('t-shirt/top') named folders no one can
    make (a reader)."""
    folders = ", ".join(class_folders(names))
    return f"a model is scored on photos: pass a folder with one subfolder of photos per class of the model ({folders})"


# What no folder name can hold (POSIX: '/' and NUL): a class named with one (Fashion-MNIST's 't-shirt/top') is
# matched by its name with each as '_' (``class_folders``), the one spelling a user would try (a tester's
# 't-shirt_top' was refused with advice that could not be followed).
NOT_IN_FOLDER_NAMES = ("/", "\0")


def folder_name(name: str) -> str:
    """The folder name that stands for the class ``name`` (NFC): the name, each character no folder name can hold
    (``NOT_IN_FOLDER_NAMES``) as '_'."""
    name = unicodedata.normalize("NFC", name)
    for c in NOT_IN_FOLDER_NAMES:
        name = name.replace(c, "_")
    return name


def class_folders(names: Sequence[str]) -> dict[str, int]:
    """The one home of which class folder is which of the model's classes: ``{folder name: index into names}``. A
    class folder is named as the class, case and all, in Unicode's NFC form, as extract names classes; a class
    whose name no folder can hold is named by ``folder_name``, unless that is another class's name or two such
    classes share it (a folder of that name is the other class's, or either's: such a class has no folder)."""
    model = [unicodedata.normalize("NFC", n) for n in names]
    spelled = [folder_name(n) for n in model]
    return {f: i for i, (n, f) in enumerate(zip(model, spelled))
            if f == n or (f not in model and spelled.count(f) == 1)}


def check_same_classes(root: Path, found: Sequence[str], names: Sequence[str]) -> None:
    """The class folders of ``root`` are some or all of the model's classes (``class_folders``). One line naming
    what differs and the fix, naming each missing class by the folder name to use. Some are enough: a model is
    fairly scored on the classes there are (the report says which have no photo); a folder of only ``ants/`` got
    extract's "a classifier needs at least two class folders" (a review)."""
    folders = class_folders(names)
    if set(found) <= set(folders):
        return
    renamed = {f: names[i] for f, i in folders.items() if f != unicodedata.normalize("NFC", names[i])}
    unmatched = [n for i, n in enumerate(names) if i not in folders.values()]
    extra, missing = sorted(set(found) - set(folders)), sorted(set(folders) - set(found))
    # the fix in plain words ("rename Ants to ants"; it read "Ants for ants", a new-user tester)
    case = [(f, m) for f in extra for m in missing if f.casefold() == m.casefold()]
    cased, absent = sorted({f for f, _ in case}), [m for m in missing if m not in {m for _, m in case}]
    # A folder in another case apart from a class simply absent: "missing: ants, other" read as if other/ had to be
    # added, where a folder of some of the classes is scored (a new user: Ants/ and bees/ for ants, bees, other)
    diff = "; ".join(x for x in (
        f"in another case than the model's: {', '.join(cased)} (class names are case-sensitive, as extract reads "
        f"them: {', '.join(f'rename {f} to {m}' for f, m in case)})" if case else "",
        f"not the model's: {', '.join(f for f in extra if f not in cased)}" if set(extra) - set(cased) else "",
        f"the model's classes without a folder here: {', '.join(absent)} (not needed: a model is scored on the "
        "classes there are)" if absent else "") if x)
    raise FeatcacheError(one_line(f"the class folders of {root} ({', '.join(found)}) are not the model's classes "
                                  f"({', '.join(names)}): {diff}; name each subfolder as one of the model's "
                                  f"classes{_spelled_hint(renamed)}, or evaluate on a folder of the data set the model "
                                  f"was trained on{_unmatched_note(unmatched)}"))


def _spelled_hint(renamed: dict[str, str]) -> str:
    """The refusal's words for the classes named by ``folder_name`` (``{folder: class}``): which folder is which."""
    if not renamed:
        return ""
    pairs = ", ".join(f"{f} for {n}" for f, n in sorted(renamed.items()))
    held = [repr(c) for c in NOT_IN_FOLDER_NAMES if any(c in n for n in renamed.values())]
    return f" ({pairs}: a folder name cannot hold {' or '.join(held)})"


def _unmatched_note(unmatched: Sequence[str]) -> str:
    """The refusal's words for the classes no folder stands for (``class_folders``): scored on others' folders only."""
    if not unmatched:
        return ""
    return (f"; no folder can stand for {', '.join(unmatched)} ({', '.join(map(folder_name, unmatched))} is another "
            "class's name, or two classes'), so the model is scored without it")


def _check_each_class_is_named_as_photos(tree: Any) -> None:
    """Before the model loads: no class folder holds only files whose names say they are no image (a ``bees/`` of
    only notes.txt was refused after the model was ready, about 11 s in; a session's brief). A folder whose image
    files do not decode is found by decoding them (``_check_each_class_decodes``)."""
    from featcache.sources.decode import NOT_AN_IMAGE, is_other_file

    _check_each_class(tree, lambda r: NOT_AN_IMAGE if is_other_file(tree.paths[r]) else None)


def _check_each_class_decodes(tree: Any, per_file: Sequence[Any], undecoded: Sequence[tuple[str, str]]) -> None:
    """Each class folder holds a photo that decodes: a ``bees/`` of only notes.txt was scored as "0 bees" (a
    review), where a folder named for a class means photos of it are there."""
    from featcache.errors import printable

    why = dict(undecoded)  # keyed by the path as shown (predict_files' printable form): looked up in that form
    _check_each_class(tree, lambda r: None if per_file[r] is not None
                      else why.get(printable(str(tree.paths[r])), "does not decode"))


def _check_each_class(tree: Any, failed: Callable[[int], str | None]) -> None:
    """The one line of a class folder none of whose files is a photo to use, ``failed(row)`` saying why a file is
    not (None: it is one): extract's line (``sources.images.no_photo_error``), the folder's files listed as evaluate
    lists those it skips, each with its reason."""
    from featcache.errors import printable
    from featcache.sources.images import no_photo_error, none_decodes

    for label, name in enumerate(tree.class_names):
        rows = np.flatnonzero(tree.labels == label)
        reasons = [failed(r) for r in rows]
        if rows.size and all(why is not None for why in reasons):
            listed = [(printable(str(tree.paths[r])), why) for r, why in zip(rows, reasons)]
            raise no_photo_error(tree.root / name, name, none_decodes(listed))


def _warn_absent_classes(root: Path, y: np.ndarray, names: Sequence[str]) -> None:
    """Say which of the model's classes ``root`` has no photo of: a folder may hold some of them
    (``check_same_classes``), and its accuracy then covers those alone."""
    from featcache.analysis.subsets import MissingClassWarning

    absent = [repr(n) for label, n in enumerate(names) if not np.any(y == label)]
    if absent:
        warn(one_line(f"{root} has no photo of the model's class {', '.join(absent)}: its accuracy covers "
                      f"{len(names) - len(absent)} of the model's {len(names)} classes"), MissingClassWarning)


def _model_labels(tree: Any, names: Sequence[str]) -> np.ndarray:
    """Each photo's class as an index into the model's classes (the folder's are sorted; the model's order rules)."""
    index = class_folders(names)
    return np.array([index[c] for c in tree.class_names], dtype=np.int64)[tree.labels]


def _misclassified(paths: Sequence[Path], y: np.ndarray, y_pred: np.ndarray, proba: np.ndarray,
                   names: Sequence[str], value: str, scored: bool = True) -> list[dict[str, Any]]:
    """Each wrongly classified photo, as ``list_misclassified`` lists a cache's: its row among those scored, its
    path, true and predicted class and the predicted class's probability. ``value``: what the model's numbers are
    (``deploy.predict.value_of``): an SVM head's model gives shares, kept as ``share`` with ``probability`` None, as
    predict's columns and a head's report (no probability for such a head) name them; "probability": 0.554 was a
    share (a review). ``scored`` False: the model's numbers are its decision alone (``deploy.model.one_vote``), so
    the value is None (the text then shows none): its "share 1.000" of every photo was no score."""
    from featcache.deploy.predict import PROBABILITY

    def top(r: int) -> dict[str, Any]:
        number = round(float(proba[r].max()), 6) if scored else None
        return {"probability": number} if value == PROBABILITY else {"probability": None, value: number}

    return [misclassified_entry(r, str(paths[r]), names[int(y[r])], names[int(y_pred[r])], top(r))
            for r in np.flatnonzero(y != y_pred)]


def _overlap(trained: np.ndarray | None, digests: Sequence[str], y: np.ndarray, y_pred: np.ndarray,
             meta: dict[str, Any], root: Path, paths: Sequence[str | Path]) -> dict[str, Any] | None:
    """How many of the scored photos (their SHA-256 ``digests``) the model was trained on (``trained``: its keys,
    ``deploy.model.train_digests``), and the accuracy on the others, as a head's evaluate says it of a cache's rows
    (``analysis.evaluate.seen_overlap``, keyed by ``row_keys``). None without keys. In a folder that is not the one
    the model's head was trained on (``_copies_where``) the photos seen are copies of training photos: "evaluate on
    photos the model has not seen (its data set's test folder, ...)" was said of that very test folder (a review)."""
    from featcache.analysis.evaluate import seen_overlap
    from featcache.heads.io import row_keys

    if trained is None:
        return None
    overlap = {**seen_overlap(row_keys(digests), trained, FOLDER_SPLIT, y, y_pred), "photos": True}
    # the seen photos' files, in ``rows``' order: the report lists no photo by row, so a script could not name the
    # rows (a new-user tester); as misclassified photos' ``path``s
    overlap["paths"] = [str(paths[r]) for r in overlap["rows"]]
    where = _copies_where(meta, root) if overlap["seen"] else None
    if where is not None:
        overlap.update(copies=overlap["seen"], copies_in=where[0], copies_in_data_set=where[1])
    return overlap


def _training_folder(meta: dict[str, Any]) -> Path | None:
    """The folder the model's head was trained on, as its record's source says (``SOURCE/train``, or SOURCE for a
    --test-fraction cache), where it is a folder now; None where the source is no photo folder or that folder is
    gone (moved, another host): the one home of which folder that is, for ``_copies_where`` and
    ``_trained_folder_note``."""
    from featcache.sources.base import photo_root_of

    source = meta.get("source")
    photos = photo_root_of(source)
    if photos is None:
        return None
    trained = Path(photos) if source.get("test_fraction") is not None else Path(photos) / "train"
    return trained if trained.is_dir() else None


def _test_folder(meta: dict[str, Any]) -> Path | None:
    """The data set's test folder (``SOURCE/val`` or the one recorded) of a model trained on ``SOURCE/train``; None
    for a --test-fraction cache's (no test folder) or any other source."""
    from featcache.sources.base import photo_root_of

    source = meta.get("source")
    photos = photo_root_of(source)
    if photos is None or source.get("test_fraction") is not None:
        return None
    return Path(photos) / str(source.get("test_folder") or "val")


def _unmatched_source_note(meta: dict[str, Any]) -> str | None:
    """A note where the model's data set is no photo folder (Fashion-MNIST's arrays): its training digests are of
    the images' pixels (``sources.base.row_digests``), a photo's of its file's bytes, so no photo can match one
    and "seen 0" would assure falsely (a reader: PNGs written from the training images reported "seen 0"). None
    for a model of a photo folder or of no source recorded."""
    from featcache.sources.base import photo_root_of

    source = meta.get("source")
    kind = source.get("kind") if isinstance(source, dict) else None
    if kind in (None, "images") or photo_root_of(source) is not None:  # none recorded: digests taken as a folder's
        return None
    return (f"a model of an array data set ({kind}): its training images cannot be matched to photo files, so this "
            "report cannot tell whether these photos were among them")


def _copies_where(meta: dict[str, Any], root: Path) -> tuple[str, bool] | None:
    """Where to remove the copies of training photos from when ``root``, scored, is not the folder the model's head
    was trained on (``_training_folder``): the data set (SOURCE, True) where ``root`` is its test folder, (``root``,
    False) where it is another; None where ``root`` is the training folder or that is no photo folder now (its
    photos are then the ones trained on, not copies). A test folder no longer there is not ``root``: a missing
    SOURCE/val counted as the folder scored (``other_folders`` takes a folder it cannot reach for the same)."""
    from featcache.sources.base import other_folders, photo_root_of

    trained = _training_folder(meta)
    if trained is None or not other_folders(str(trained), str(root)):
        return None
    test = _test_folder(meta)
    in_data_set = test is not None and test.is_dir() and not other_folders(str(test), str(root))
    return (photo_root_of(meta["source"]), True) if in_data_set else (str(root), False)


def _trained_folder_note(meta: dict[str, Any], root: Path) -> str | None:
    """For a model that keeps no training digests (exported before 2026-12-06, or of a head without them): a note
    where ``root`` is the folder its head was trained on (``_training_folder``); else None. Which of its photos
    cannot be told."""
    from featcache.sources.base import other_folders

    trained = _training_folder(meta)
    if trained is None or other_folders(str(trained), str(root)):
        return None
    split = _test_folder(meta) is None
    if split:
        where = f"{root} holds the photos the model's head was trained on and tested on (its cache split them by --test-fraction)"
        fix = "evaluate on photos it has not seen"
    else:
        where = f"{root} is the train/ folder the model's head was trained on"
        fix = f"evaluate on photos it has not seen ({_test_folder(meta)})"
    return one_line(f"{where}: the accuracy is {'partly ' if split else ''}on images the model was trained on, so it is "
                    "not a test accuracy; the model keeps no digests of its training photos (exported before "
                    f"2026-12-06, or from a head without them), so which ones cannot be told; {fix}")


def _kind_words(meta: dict[str, Any]) -> str:
    """``model of a logreg head`` or ``fine-tuned model of a Keras head``: what the report calls the model, its head
    named as everywhere else (``heads.head_words``: "svm model" was "an SVM head" there; a review)."""
    from featcache.heads import head_words

    head = meta.get("head")
    return f"{'fine-tuned ' if meta.get('finetune') else ''}model of {head_words(head)}" if head else "exported model"


def _default_out(model: Path, root: Path) -> Path:
    """HOME/runs/eval/<model file name>_keras_on-<folder name>: a model's report beside its head's (whose name has
    no ``_on-``), one per folder scored."""
    from featcache.store.layout import made_from

    name = f"{model.stem}_{model.suffix.lstrip('.')}_on-{name_part(root.resolve().name) or 'photos'}"
    return report_folder(name, model, root, made_from("model file name", model.stem))


def _say_notes(result: ModelEvalResult) -> None:
    """What the run left out and why the runtime is what it is, on stderr (stdout is the report)."""
    from featcache.progress import note
    from featcache.sources.decode import copies_line, skipped_files_line

    # copies are photos scored once, not files it could not read
    others, copies = result.skipped, result.copies
    where = "listed in evaluation.json" if result.files else ""  # write=False writes none
    for line in ([skipped_files_line(others, 5, where)] if others else []) + ([f"{copies_line(copies)}, as extract counts them"]
                                                               if copies else []) + [result.runtime_note or ""]:
        if line:
            note(one_line(f"evaluate: {line}"))
