"""evaluate a model file: score an exported or fine-tuned model on a class-folder tree of photos.

``featcache.evaluate(model, folder)`` is ``featcache evaluate MODEL FOLDER``: the folder walked as extract walks a
photo folder (``sources.images.class_tree``), its photos run through the model as predict runs them
(``deploy.predict``: its runner, runtime choice and batches), and the report written as evaluate writes a head's
(``analysis.evaluate``). A head file with a cache goes on to ``analysis.evaluate.evaluate``.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from featcache.analysis.evaluate import (EvalResult, check_report, check_write_out, metrics, name_part,
                                         report_files, report_folder, say_evaluated, write_report)
from featcache.analysis.evaluate import evaluate as evaluate_head
from featcache.errors import FeatcacheError, one_line, option, warn
from featcache.progress import counted, status
from featcache.validate import check_out_dir, check_path, checks_switches, file_sha256

# What the report calls the images a model scored: a folder's, not a cache's split
FOLDER_SPLIT = "folder"


@dataclass
class ModelEvalResult(EvalResult):
    """``EvalResult`` of a model file on a photo folder: ``head_path`` is the model file, ``cache_path`` the folder
    (the keys of evaluation.json a head's report has, kept), and what identifies both: the model's SHA-256, the
    folder's image count and content fingerprint (``sources.images.ClassTree``), the runtime that ran the model and
    the files left out."""

    model_sha256: str = ""
    folder_fingerprint: str = ""
    runtime: str | None = None
    runtime_note: str | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    kind: str | None = None  # the model's head (logreg, svm, keras) and whether fine-tuned

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "model": {"path": str(self.head_path), "sha256": self.model_sha256},
                "folder": {"path": str(self.cache_path), "images": self.images, "fingerprint": self.folder_fingerprint,
                           "skipped": [list(s) for s in self.skipped]},
                "runtime": self.runtime, "runtime_note": self.runtime_note}

    def scored_lines(self) -> list[str]:
        from featcache.sources.decode import left_out_words

        skipped = "".join(f", {w}" for w in left_out_words(self.skipped))
        return [f"model     {self.head_path} ({self.kind}, sha256 {self.model_sha256[:12]})",
                f"folder    {self.cache_path} ({counted(self.images, 'image')}{skipped}, content {self.folder_fingerprint[:12]})",
                f"runtime   {self.runtime}"]

    def plot_scored(self, head: Any) -> str:
        """The model's kind and the folder it scored, in the plot's title (the rest is a head's)."""
        return f"{self.kind} on {one_line(Path(self.cache_path).name)}"


@checks_switches
def evaluate(
    head: Any,
    cache: Any,
    *,
    split: str = "test",
    out: str | Path | None = None,
    meta: dict[str, Any] | None = None,
    trust_pickle: bool = False,
    test_views: str | tuple[str, ...] | None = None,
    runtime: str | None = None,
    batch_size: int | None = None,
    verbose: bool = False,
    write: bool = True,
) -> EvalResult:
    """Score a head on a cache's split, or a model file on a folder of photos in class folders.

    ``head``: a head file (or ``train``'s result, or a fitted head with its ``meta``) with ``cache``, a cache made
    with its settings: ``analysis.evaluate.evaluate``, whose keywords ``split``, ``meta``, ``trust_pickle`` and
    ``test_views`` are its own. Or a model file written by ``export`` or ``finetune`` with ``cache`` a folder of
    photos, one subfolder per class named as the model's classes (the layout extract's ``PhotoFolder`` reads, without
    a train/ and val/ split): ``evaluate_model``, run as ``predict`` runs it (``runtime``, default ``auto``;
    ``batch_size``), the model's views averaged as the model averages them. ``out``, ``verbose`` and ``write`` as
    for either. The result and the report (evaluation.json, evaluation.txt, confusion.png) are the same for both;
    a model's says which runtime ran it and records the model's SHA-256 and the folder's content fingerprint.
    """
    # a model with a file (a cache, as a head takes) goes on as a head would: its line says a model is no head, and
    # what scores one (heads.io._model_not_head)
    if _is_model_file(head) and not _is_file(cache):
        given = [name for name, value, default in (("split", split, "test"), ("meta", meta, None),
                                                   ("trust_pickle", trust_pickle, False), ("test_views", test_views, None))
                 if value != default]
        if given:
            words = {"split": "a model scores every photo of the folder given (no split)",
                     "meta": "a model file carries its own record", "trust_pickle": "a model file holds no pickle",
                     "test_views": "a model averages the views it was exported with (export --views)"}
            raise FeatcacheError(f"{option('--' + given[0].replace('_', '-'), given[0])} is for a head scored on a cache; "
                                 f"{words[given[0]]}: drop it")
        return evaluate_model(head, cache, out=out, runtime=runtime, batch_size=batch_size, verbose=verbose, write=write)
    for name, value in (("runtime", runtime), ("batch_size", batch_size)):
        if value is not None and not _is_model_file(head):  # a model with a cache: the head's line says what scores it
            raise FeatcacheError(f"{option('--' + name.replace('_', '-'), name)} runs a model file ('featcache export' or "
                                 "'finetune') on photos; a head is scored on its cache's stored features: drop it")
    return evaluate_head(head, cache, split=split, out=out, meta=meta, trust_pickle=trust_pickle,
                         test_views=test_views, verbose=verbose, write=write)


def _is_model_file(head: Any) -> bool:
    """Whether ``head`` is the path of a file featcache wrote as a model (its record says so; nothing loaded)."""
    from featcache.heads.io import file_kind

    if not isinstance(head, (str, bytes, os.PathLike)):
        return False
    path = Path(os.fsdecode(head)).expanduser()
    try:
        return path.is_file() and file_kind(path) == "model"
    except (OSError, ValueError):  # unreadable: the head's checks say why, in their words
        return False


def _is_file(path: Any) -> bool:
    """Whether ``path`` names something other than a folder that exists (a cache file): not for a model."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        return True  # a Cache: a head's
    path = Path(os.fsdecode(path)).expanduser()
    return path.exists() and not path.is_dir()


def evaluate_model(model: str | Path, folder: str | Path, *, out: str | Path | None = None, runtime: str | None = None,
                   batch_size: int | None = None, verbose: bool = False, write: bool = True) -> ModelEvalResult:
    """Score the model file ``model`` on every photo of ``folder`` (``evaluate``'s model form): accuracy, per-class
    precision and recall, the confusion matrix and the misclassified photos. Files extract would skip are skipped
    and listed (``result.skipped``), and so are photos that do not decode, as predict skips them."""
    from featcache.deploy.model import MODEL_FILE
    from featcache.deploy.predict import BATCH_SIZE, input_settings, model_meta, model_runner, predict_files, progress_bar
    from featcache.embedding.runtimes import check_runtime
    from featcache.progress import bars_wanted
    from featcache.sources.images import check_report_outside_classes
    from featcache.validate import check_source, positive_int

    model = check_source(model, "model", MODEL_FILE)
    runtime = check_runtime("auto" if runtime is None else runtime)
    batch_size = positive_int(BATCH_SIZE if batch_size is None else batch_size, "--batch-size")
    check_write_out(write, out)
    if out is not None:
        check_out_dir(out)
    meta = model_meta(model)  # checked, before TensorFlow loads
    # At once: the record read above (class names, size, views) and the file scored must be one file. Taken after
    # the photos were walked and hashed, a model replaced meanwhile was scored under the first one's class names
    # with its own SHA-256 recorded, exit 0 (or an IndexError with another number of classes; an adversarial tester)
    digest = file_sha256(model)
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
    net = model_runner(model, runtime, batch_size, len(tree.paths), verbose, meta)
    if verbose:
        status(f"scoring {model} on {counted(len(tree.paths), 'photo')} of {root} ...")
    bar = progress_bar(len(tree.paths)) if bars_wanted(verbose) and len(tree.paths) > batch_size else None
    try:
        per_file, undecoded = predict_files(tree.paths, size, batch_size, net, names, len(names), bar, views=views,
                                            native=native)
    except Exception:  # another model's outputs read with this one's class names fail in their own words: say why
        _check_unchanged(model, digest, meta)
        raise
    _check_unchanged(model, digest, meta)
    kept = [i for i, p in enumerate(per_file) if p is not None]
    if not kept:
        raise FeatcacheError(f"no photo of {root} decodes ({undecoded[0][0]}: {undecoded[0][1]}, ...); "
                             "evaluate on a folder of image files")
    _check_each_class_decodes(tree, per_file, undecoded)
    proba = np.stack([per_file[i].probabilities for i in kept])
    y = _model_labels(tree, names)[kept]
    y_pred = np.argmax(proba, axis=1).astype(np.int64)
    _warn_absent_classes(root, y, names)
    accuracy, per_class, cm = metrics(y, y_pred, names)
    runner = net()
    result = ModelEvalResult(
        Path(model), root, FOLDER_SPLIT, str(meta.get("layer", "")), names, accuracy, per_class, cm,
        {} if out_dir is None else report_files(out_dir),
        _misclassified([tree.paths[i] for i in kept], y, y_pred, proba, names), None,
        tuple(meta.get("views") or ("orig",)), meta.get("averaged") if views > 1 else None,
        model_sha256=digest, folder_fingerprint=tree.fingerprint, runtime=runner.runtime_used,
        runtime_note=runner.runtime_note, skipped=sorted(tree.unusable + undecoded), kind=_kind_words(meta))
    if out_dir is not None:
        write_report(result, out_dir, meta.get("head"))
    if verbose:
        _say_notes(result)
        say_evaluated(result)
    return result


def _check_unchanged(model: Path, digest: str, meta: dict[str, Any]) -> None:
    """The model file is the one hashed and whose record was read before scoring: replaced while it was loaded or
    run, the report would name one file's hash and classes for another's scores."""
    from featcache.deploy.predict import model_meta

    try:
        same = file_sha256(model) == digest and model_meta(model) == meta
    except (OSError, FeatcacheError):  # gone or no longer a model meanwhile
        same = False
    if not same:
        raise FeatcacheError(f"{model} changed while it was evaluated (its SHA-256 differs from the one taken before); "
                             "rerun evaluate once the file is no longer being written")


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
    splits = sorted(subdirs & set(SPLIT_FOLDERS) - set(names))
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
    """What evaluate scores a model on, in its refusals: no train/ and val/ (evaluate refuses a split folder)."""
    return f"a model is scored on photos: pass a folder with one subfolder of photos per class of the model ({', '.join(names)})"


def check_same_classes(root: Path, found: Sequence[str], names: Sequence[str]) -> None:
    """The class folders of ``root`` are some or all of the model's classes, as extract names classes: by the
    folder's name, case and all, in Unicode's NFC form. One line naming what differs and the fix. Some are enough:
    a model is fairly scored on the classes there are (the report says which have no photo); a folder of only
    ``ants/`` got extract's "a classifier needs at least two class folders" (a review)."""
    model = {unicodedata.normalize("NFC", n) for n in names}
    if set(found) <= model:
        return
    extra, missing = sorted(set(found) - model), sorted(model - set(found))
    case = [f"{f} for {m}" for f in extra for m in missing if f.casefold() == m.casefold()]
    diff = "; ".join(x for x in (f"not the model's: {', '.join(extra)}" if extra else "",
                                 f"missing: {', '.join(missing)}" if missing else "") if x)
    hint = f" (class names are case-sensitive, as extract reads them: {', '.join(case)})" if case else ""
    raise FeatcacheError(one_line(f"the class folders of {root} ({', '.join(found)}) are not the model's classes "
                                  f"({', '.join(names)}): {diff}{hint}; name each subfolder as one of the model's "
                                  "classes, or evaluate on a folder of the data set the model was trained on"))


def _check_each_class_decodes(tree: Any, per_file: Sequence[Any], undecoded: Sequence[tuple[str, str]]) -> None:
    """Each class folder holds a photo that decodes: a ``bees/`` of only notes.txt was scored as "0 bees" (a
    review), where a folder named for a class means photos of it are there."""
    from featcache.errors import printable
    from featcache.sources.images import no_photo_error, none_decodes

    why = dict(undecoded)  # keyed by the path as shown (predict_files' printable form): looked up in that form
    for label, name in enumerate(tree.class_names):
        rows = np.flatnonzero(tree.labels == label)
        if rows.size and all(per_file[r] is None for r in rows):
            shown = [printable(str(tree.paths[r])) for r in rows]
            # extract's line (sources.images): the folder's files, as evaluate lists those it skips, each with its reason
            raise no_photo_error(tree.root / name, name, none_decodes([(p, why.get(p, "does not decode")) for p in shown]))


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
    index = {unicodedata.normalize("NFC", n): i for i, n in enumerate(names)}
    return np.array([index[c] for c in tree.class_names], dtype=np.int64)[tree.labels]


def _misclassified(paths: Sequence[Path], y: np.ndarray, y_pred: np.ndarray, proba: np.ndarray,
                   names: Sequence[str]) -> list[dict[str, Any]]:
    """Each wrongly classified photo, as ``list_misclassified`` lists a cache's: its row among those scored, its
    path, true and predicted class and the predicted class's probability."""
    return [{"row": int(r), "index": int(r), "path": str(paths[r]), "image": str(paths[r]), "true": names[int(y[r])],
             "predicted": names[int(y_pred[r])], "probability": round(float(proba[r].max()), 6)}
            for r in np.flatnonzero(y != y_pred)]


def _kind_words(meta: dict[str, Any]) -> str:
    """``logreg model`` or ``fine-tuned keras model``: what the report calls the model."""
    return f"{'fine-tuned ' if meta.get('finetune') else ''}{meta.get('head') or 'exported'} model"


def _default_out(model: Path, root: Path) -> Path:
    """HOME/runs/eval/<model file name>_keras_on-<folder name>: a model's report beside its head's (whose name has
    no ``_on-``), one per folder scored."""
    from featcache.store.layout import made_from

    name = f"{model.stem}_{model.suffix.lstrip('.')}_on-{name_part(root.resolve().name) or 'photos'}"
    return report_folder(name, model, root, made_from("model file name", model.stem))


def _say_notes(result: ModelEvalResult) -> None:
    """What the run left out and why the runtime is what it is, on stderr (stdout is the report)."""
    from featcache.deploy.predict import skipped_line
    from featcache.progress import note
    from featcache.sources.decode import copies_apart, copies_line

    copies, others = copies_apart(result.skipped)  # copies are photos scored once, not files it could not read
    for line in ([skipped_line(others)] if others else []) + ([f"{copies_line(copies)}, as extract counts them"]
                                                               if copies else []) + [result.runtime_note or ""]:
        if line:
            note(one_line(f"evaluate: {line}"))
