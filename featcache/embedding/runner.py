"""extract: run a frozen backbone once over a data source into an HDF5 cache.

``extract(source, model, store, engine)``: the four typed parts (see
``featcache.embedding.specs``). The source's ``RowPlan`` says what is
written and how (a photo folder's rows are learnt while embedding); the
runner's own path is the same for every source: identity, cache hit or
lock, build the model once, run the engine, publish.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from featcache import __version__, paths
from featcache.embedding import passes
from featcache.embedding.backbones import Backbone, check_image_size, weights_identity, weights_source_words
from featcache.embedding.batches import Batch, plan
from featcache.embedding.mapper import check_layers
from featcache.embedding.specs import ModelSpec, StoreSpec, from_legacy
from featcache.embedding.throughput import Throughput
from featcache.errors import FeatcacheError, command, given, one_line, option, out_option, output_named, warn
from featcache.progress import counted, note, status
from featcache.sources import DataSource
from featcache.sources.base import RowPlan
from featcache.sources.decode import left_out_json, left_out_parts, left_out_words
from featcache.store import (
    CacheIdentity,
    exclusive_lock,
    find_complete,
    make_writer,
    read_attrs,
    tidy_partial,
)
from featcache.store.atomic import file_state, output_files, written_through
from featcache.store.lock import writing_wait
from featcache.store.layout import (CACHE_SUFFIX, NOT_REPEATED, STORE_KEYWORDS, force_words, is_cache_name, partial_path,
                                    recorded_runtimes)
from featcache.store.partial import RESUME, FoundPartial, check_partial
from featcache.store.reader import (OtherCache, incomplete_replaced, judge_partial, other_cache, resume_words,
                                   set_aside_other_partial, start_over_changed_data)
from featcache.validate import Written, checks_switches, shown


@dataclass
class ExtractResult:
    path: Path
    hit: bool  # True when a valid cache was already there and nothing ran
    images: int = 0  # images embedded by this call
    seconds: float = 0.0  # reading, preprocessing, inference and writing of those images
    startup_seconds: float = 0.0  # building the model and tracing its graph, before the above
    # The engine's own start-up, not in ``seconds`` either: Ray's cluster and actors, each building the network (~19 s
    # of a 22.6 s run of 1,400 images, which said 62 images/s, Ray 5x slower than local; a new-user tester). 0: local.
    engine_startup_seconds: float = 0.0
    # What ran the embedding: the engine's ``name`` ("local", "ray"; a class of the caller's without one: its class's
    # name); None on a hit. A Ray run's --json said its start-up alone (a new-user tester, 2026-12-07)
    engine: str | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)  # files not used, with the reason
    # A photo's copies in its class folder, counted once (``decode.left_out_parts``): (path, same_as: its row). They were
    # among ``skipped`` until 2026-12-06, where --json listed them while the lines counted them apart (a brief).
    copies: list[tuple[str, str]] = field(default_factory=list)
    runtime: str | None = None  # what ran the network (``Mapper.runtime_used``); None on a cache hit
    # What made the cache at ``path``, as its provenance records it (its ``runtime`` attribute; None for a cache made
    # before featcache recorded one): ``runtime`` on a run; on a hit, where nothing ran, the only runtime there is to
    # name (a hit with --runtime openvino said "runtime": null alone, and a user comparing runtimes was misled; a brief)
    cache_runtime: str | None = None
    views: int = 1  # views embedded per image (``ModelSpec.views``; 1: the original alone)
    runtime_note: str | None = None  # why ``auto`` fell back to TensorFlow (``Mapper.runtime_note``)
    converted: bool = False  # this run converted the network for its runtime (else: none needed, or a cached one)
    # Images per split the cache holds after this call: on a hit ``images`` is 0, and a user asked what it holds.
    cached: dict[str, int] = field(default_factory=dict)
    # The line that an incomplete cache of these settings at the path (a copied or renamed partial) was extracted
    # again and replaced; None where there was none (--json said nothing of it: an adversarial tester)
    replaced_incomplete: str | None = None
    # A featcache cache of other settings at the path that this run replaced (``StoreSpec(force=True)``, ``--force``):
    # store.reader.OtherCache, said as train, export and finetune say what they replace (``replaced_from``)
    replaced_cache: OtherCache | None = None
    # Where ``--force`` moved an interrupted extraction of other settings at the partial's name (never resumed here,
    # never deleted: store.reader.set_aside_other_partial); None where there was none
    partial_set_aside: Path | None = None
    # The rows of an interrupted extraction of these very settings over data changed since that this run deleted and
    # started over (store.reader.start_over_changed_data); None where there was none (--json said nothing of it)
    partial_started_over: int | None = None
    # Images an interrupted run had embedded, which this one resumed after (0: nothing resumed): the summary said
    # "extracted 123 images" of a cache of 248, with no word of the other 125 (a new-user tester)
    resumed_images: int = 0
    # The cache's fingerprint as written (or found): what a reader checks the file at ``path`` still has (``written``)
    fingerprint: str | None = field(default=None, repr=False, compare=False)

    def __fspath__(self) -> str:  # the cache file: open_cache, train, probe and verify take the result (a notebook tester)
        return str(self.path)

    def written(self) -> Written:
        """What a reader checks (``validate.check_source``): the cache at ``path`` is still the one this result
        describes, by its fingerprint (an extract of other settings to the path since replaced it: ``cached`` and
        ``images`` described another file)."""
        return Written(self.fingerprint, "cache", _fingerprint_now, "extract again")

    @property
    def replaced(self) -> bool:
        """Whether a cache featcache wrote was at the path and this run replaced it: one of other settings
        (``--force``), or an incomplete one of these (``replaced_incomplete``)."""
        return self.replaced_cache is not None or self.replaced_incomplete is not None

    @property
    def replaced_from(self) -> str | None:
        """What the cache replaced was made from (store.identity's words: another data set, another photo folder,
        other settings), as train's and export's ``replaced_from``; None where none of other settings was replaced."""
        return self.replaced_cache.made_from if self.replaced_cache else None

    @property
    def throughput(self) -> Throughput:
        """How fast this run went, as predict and evaluate of a model say it (``embedding.throughput``); the
        engine's start-up is in neither its seconds nor its rates."""
        return Throughput(self.images, self.seconds, self.startup_seconds, self.views)

    @property
    def images_per_s(self) -> float:
        return self.throughput.images_per_s

    @property
    def view_images_per_s(self) -> float:
        """Forward-pass images per second: every view of every image (the network's throughput)."""
        return self.throughput.view_images_per_s

    def to_dict(self) -> dict[str, Any]:
        """What ``extract --json`` prints (the API's result as the CLI's)."""
        return {"path": str(self.path), "hit": self.hit,
                **self.throughput.to_dict(engine_startup_seconds=self.engine_startup_seconds), "engine": self.engine,
                "runtime": self.runtime,
                "cache_runtime": self.cache_runtime, "runtime_note": self.runtime_note,
                **left_out_json(self.skipped, self.copies), "cached": self.cached,
                "converted": self.converted, "replaced_incomplete": self.replaced_incomplete,
                "replaced": self.replaced, "replaced_from": self.replaced_from,
                "replaced_cache": None if self.replaced_cache is None else {
                    "complete": self.replaced_cache.complete, "fingerprint": self.replaced_cache.fingerprint,
                    "detail": self.replaced_cache.detail},
                "partial_set_aside": None if self.partial_set_aside is None else str(self.partial_set_aside),
                "partial_started_over": self.partial_started_over,
                "resumed_images": self.resumed_images}


def default_path(dataset: str, backbone: str, image_size: int, fp: str) -> Path:
    return paths.cache_dir() / f"{dataset}_{backbone}_{image_size}px_{fp[:12]}.h5"


@checks_switches
def extract(source: Any = None, model: ModelSpec | None = None, store: StoreSpec | None = None, engine: Any = None, *,
            verbose: bool = False, **legacy: Any) -> ExtractResult:
    """Embed every image of ``source`` with ``model`` and cache the pooled features as ``store`` says, run by ``engine``.

    ``source``: ``FashionMNIST(...)`` (default), ``PhotoFolder(...)`` or an
    opened ``DataSource``; ``model`` a ``ModelSpec``, ``store`` a
    ``StoreSpec``, ``engine`` a ``LocalEngine`` (default) or ``RayEngine``.
    Re-running with the same settings is a cache hit; an interrupted run
    resumes where it stopped. The engine and its runtime never change the
    features, so they are not part of the cache's identity. A cache of other
    settings at ``store.out`` is refused unless ``StoreSpec(force=True)``,
    which replaces it once the new cache is sealed (``ExtractResult.replaced_cache``);
    a file featcache did not write there is refused either way.

    The keyword form of featcache 0.1 (``extract("fashion_mnist",
    weights=..., images=..., engine="ray", ...)``, its keywords ``**legacy``)
    still works until featcache 0.3, with a DeprecationWarning.

    ``verbose=True`` shows the progress and what was written (default: quiet).
    Returns an ``ExtractResult`` (its ``path``, ``hit``, counts and timings).
    """
    with output_named(STORE_KEYWORDS):  # its lines name StoreSpec(out=...), extract's --out, in a Python call
        return _extract(source, model, store, engine, verbose, legacy)


def _warn_old_form() -> None:
    """The DeprecationWarning of 0.1's form of ``extract``, at the user's line (``errors.warn``): stacklevel=2 named
    checks_switches' wrapper, and Python shows a DeprecationWarning only where attributed to ``__main__``."""
    warn("extract()'s keywords (weights=, images=, engine=, ...) are deprecated: pass "
         "extract(FashionMNIST(...) or PhotoFolder(...), ModelSpec(...), StoreSpec(...), LocalEngine() or RayEngine(...)); "
         "the keyword form goes away in featcache 0.3", DeprecationWarning)


def _extract(source: Any, model: ModelSpec | None, store: StoreSpec | None, engine: Any, verbose: bool,
             legacy: dict[str, Any]) -> ExtractResult:
    """``extract``'s work, within its wording context."""
    if legacy or isinstance(source, str):
        # 0.1's keywords are warned of as given; 0.1's data-set name alone once it is one: a first positional that is
        # none (a photo folder's path) is refused in one line, without a warning about keywords never passed
        if legacy:
            _warn_old_form()
        source, model, store, engine = from_legacy(source, model, store, engine, legacy)
        if not legacy:
            _warn_old_form()
    source, model, store, engine = _parts(source, model, store, engine)
    engine.check()  # Ray installed, the cluster reachable: before any data or model work
    # Before the folder is read and hashed: the cache's folder is all that matters, and the default name's
    # fingerprint is not known yet (its folder is).
    # A link at --out is written through (store.atomic.written_through): its target is the cache, hit, resumed or
    # replaced, its partial and lock beside it, as the shell's > writes a link's target.
    out = written_through(store.out) if store.out else None
    _check_outside_the_data(out or paths.cache_dir() / "c.h5", source)
    bb = model.entry
    layer_names = model.layer_names()
    size = _image_size(source, model, bb)
    # Before any image is read or hashed: --weights imagenet is the file Keras loads, fetched here where it is
    # missing (offline: one line now, not after the data's digest), and known by its content (weights_identity), of
    # the bytes there now: what the run's later asks (its mapper's check, a conversion's key, the network kept) take.
    w_id = weights_identity(model.weights, bb, size, fresh=True)
    data = _open(source, size, verbose)
    ident = identity(bb, w_id, size, layer_names, store.dtype, data, model.view_list())
    path = out or default_path(data.name, bb.name, size, ident.fingerprint)
    if out is None:
        _check_default_name(path, source)
    # A run that fails before writing anything (a full disk while converting the model, a refusal) removes the
    # folders it made for the cache, and only while empty: an empty --out folder stayed behind (an adversarial tester).
    with output_files(path.parent, []):
        _make_folder(path.parent)
        # --force changes what may be replaced, never what a hit is: a cache of these settings is still a hit, as
        # train --force refits only what train would refit anyway (the brief of extract --force, 2026-12-05)
        forced = f"; {force_words()} replaces only a cache of other settings" if store.force else ""
        changed, files = _rule_change(data, path), _data_changes(data, path)
        if find_complete(path, ident, data.spec, force=store.force, rule_change=changed, data_changes=files):
            return _hit(path, data, verbose, f"cache hit: {path} already holds these features; nothing to do{forced}", model,
                        runtime=engine.runtime, out_given=out is not None)
        # the default name too: docs/photos.md's Python lines, after the README's --out ants_bees.h5, embedded the
        # same photos again under data/cache without a word (a new-user tester, h316)
        if verbose:
            twin = _same_cache_beside(path, ident.fingerprint, engine.runtime)
            if twin:
                note(one_line(twin))
        # Not before the hit: a layer beyond the registry's needs Keras, which a hit never imports (0.7 s against 5 s).
        check_layers(bb, layer_names, size)
        # said with --json too (on stderr, after lock.WAIT_QUIET_SECONDS): a wait without a word looks like a hang
        wait = writing_wait(path)
        with exclusive_lock(path, wait_message=wait, timeout=store.lock_timeout):
            # What the checks below let the run replace, taken before them: a file put there after it, as they
            # read, is refused at the seal and again at the rename (writer._check_out_unchanged), --force or not.
            at_start = file_state(path)
            if find_complete(path, ident, data.spec, force=store.force, rule_change=changed, data_changes=files):  # the other process may have just finished it
                return _hit(path, data, verbose, f"cache hit: {path} was completed by another process; nothing to do{forced}",
                            model, locked=True, runtime=engine.runtime, out_given=out is not None)
            other = other_cache(path, ident, data.spec) if store.force else None
            # Before the model is built, not only when the writer meets it; under the lock: another writer's
            # partial is complete for a moment before it is renamed into place.
            check_partial(partial_path(path), force=store.force)
            replaced = None if other else incomplete_replaced(path)
            if verbose and replaced:  # what it replaces is a user's file: said with the progress off too (a note)
                note(one_line(replaced))
            if verbose and other:
                note(one_line(f"{force_words()}: {path}, {other.words()}, is replaced once this cache is complete (and kept "
                              "if the run stops before)"))
            result = _run(path, ident, data, model, store, engine, verbose, at_start, other)
            result.replaced_incomplete, result.replaced_cache = replaced, other
            return result


def _set_aside_other_partial(path: Path, found: FoundPartial) -> Path | None:
    """``--force``: an interrupted extraction of other settings at the partial's name, moved aside (never resumed
    as these settings' rows, never deleted) and said in one line whatever ``verbose``, as an unreadable partial set
    aside is: only this line says where someone's work went, from the attributes its judgment read (the moved file
    was opened again for them)."""
    from featcache.store.partial import PartialSetAside

    moved = set_aside_other_partial(found)
    if moved is not None:
        attrs = dict(found.attrs or {})
        what = ("a complete extraction of other settings, stopped before it was renamed into place" if attrs.get("complete")
                else "an interrupted extraction of other settings")
        warn(f"{partial_path(path)} held {what}; {force_words()} moved it to {moved} "
             f"({resume_words(moved, attrs)}; or delete it)", PartialSetAside)
    return moved


def _start_over_changed_data(path: Path, found: FoundPartial, data: DataSource, verbose: bool) -> int | None:
    """The interrupted extraction of these very settings over data changed since, started over (deleted), said in
    one line: no row of it resumes under the data as it is (``store.reader.start_over_changed_data``). Its rows, or
    None where there was none (``ExtractResult.partial_started_over``). Where no file changed but a rule of
    featcache's did (an older image decoder made it), the source's line says so (``DataSource.rule_change``), with
    this fix: "the data changed" sent the user looking for a changed photo (helper-266)."""
    rows = start_over_changed_data(found)
    if verbose and rows is not None:
        recorded = ((found.attrs or {}).get("settings") or {}).get("data_digest")
        fix = f"starting the interrupted extraction of {path} over (its {rows} rows are of the rules before)"
        note(one_line(data.rule_change(recorded, fix, "it") or
                      f"the data changed since the interrupted extraction of {path} (its {rows} rows are of the files "
                      "as they were); starting it over"))
    return rows


def _same_cache_beside(path: Path, fingerprint: str, runtime: str | None = None) -> str | None:
    """The line for a complete cache of these settings under another name in ``path``'s folder, None where there is
    none. After 'featcache lesson', 'extract --views ... --out data/cache/fashion_4views.h5' (docs/views.md) computed
    the lesson's views cache again, 106 s, without a word (a new-user tester). Only the files' attributes are read
    (milliseconds): it is said, never used, so the features are not verified here; a copy at ``path`` is, as a hit.
    ``runtime``: the one named (not ``auto``); where the cache there was made by another, this run is taken as timing
    it (docs/benchmarks.md's way), and "stop now" is not said (a new-user tester did just that, and was told to stop)."""
    for other in sorted(path.parent.glob(f"*{CACHE_SUFFIX}")):
        try:
            if other.name == path.name or not other.is_file() or other.resolve() == path.resolve():
                continue
            attrs = read_attrs(other)
        except (FeatcacheError, OSError):  # a damaged or foreign file beside it is not this run's business
            continue
        if attrs.get("complete") and attrs.get("fingerprint") == fingerprint:
            made = recorded_runtimes(attrs)
            if _named(runtime) and made and runtime not in made:
                return (f"{other} already holds these features, made by {', then '.join(made)}; extracting them again "
                        f"to {path} with {runtime}")
            return (f"{other} already holds these features (a complete cache of the same settings, fingerprint "
                    f"{fingerprint[:12]}); extracting them again to {path}. To skip that, stop now and pass {other} "
                    f"instead, or copy it to {path} and run this extract again (it checks the copy and finds it a hit)")
    return None


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FeatcacheError(f"cannot create {folder} ({exc.strerror}); choose a writable {out_option()}") from None


def _check_outside_the_data(path: Path, source: Any) -> None:
    """A cache is not written inside the photo folder it is made from: it became part of "the data", so the same
    command run again refused its own cache as one of other settings, over and over (an adversarial tester)."""
    root = getattr(source, "root", None)
    if root is not None:
        from featcache.sources.images import check_outside_classes

        check_outside_classes(path, root, "--out", "the cache would be read as part of its own data")


def _check_default_name(path: Path, source: Any) -> None:
    """The default cache name, made from the data set's name (a photo folder's), leaves room for its partial's
    (``layout.check_default_name``; check_cache_name's words are --out's)."""
    from featcache.store.layout import PARTIAL_SUFFIX, check_default_name, made_from

    root = getattr(source, "root", None)
    whose = made_from("folder name", Path(root).resolve().name) if root is not None else "the data set's name"
    check_default_name(path, "cache file name", whose, f"name the cache with {option('--out NAME.h5', 'StoreSpec(out=...)')}",
                       extra=len(PARTIAL_SUFFIX), extra_words=f" with its {PARTIAL_SUFFIX} partial")


def _looks_like_cache_path(value: Any) -> bool:
    """Whether a value given as the model is a cache file's path (a cache's name, .h5 or .hdf5, or a path), not a
    backbone's name."""
    if not isinstance(value, (str, os.PathLike)):
        return False
    text = os.fspath(value)
    return isinstance(value, os.PathLike) or is_cache_name(text) or os.sep in text


def _parts(source, model, store, engine) -> tuple[Any, ModelSpec, StoreSpec, Any]:
    """The four parts, defaults filled in; a wrong kind of object is one line naming the part to pass (FeatcacheError,
    as the API's other wrong types, check_path's: extract(src, spec, "out.h5") was a TypeError "store must be a
    StoreSpec, not str"; a new-user tester)."""
    from featcache.embedding.engines.local import LocalEngine
    from featcache.sources import KINDS
    from featcache.sources.fashion_mnist import FashionMNIST

    sources = " or ".join(f"{cls}(...)" for _, cls in KINDS.values())  # every kind of source there is
    for value, name, example in ((source, "source", sources), (model, "model", "ModelSpec()"),
                                 (store, "store", "StoreSpec()"), (engine, "engine", "LocalEngine() or RayEngine()")):
        if isinstance(value, type):  # LocalEngine, not LocalEngine(): "check() missing 1 required positional argument: 'self'"
            raise FeatcacheError(f"{name} is the class {value.__name__}, not one made from it; pass {value.__name__}(...), "
                                 f"e.g. {example}")
    source = FashionMNIST() if source is None else source
    model, store, engine = model or ModelSpec(), store or StoreSpec(), engine or LocalEngine()
    # a Path has an open() too: it was taken for a source (found here, checking the tester's str form)
    if isinstance(source, os.PathLike) or not isinstance(source, DataSource) and not callable(getattr(source, "open", None)):
        fix = f"PhotoFolder({os.fspath(source)!r}) for a folder of class folders" if isinstance(source, os.PathLike) else sources
        raise FeatcacheError(f"source must be {sources.replace(' or ', ', ')} or a DataSource (got {shown(source)}); pass {fix}")
    for value, kind, name in ((model, ModelSpec, "model"), (store, StoreSpec, "store")):
        if not isinstance(value, kind):
            # a path given as the store is its output file; anything else (a backbone's or weights' name) goes in
            # ModelSpec's fields, by name
            fix = (f"StoreSpec(out={os.fspath(value)!r})" if kind is StoreSpec and isinstance(value, (str, os.PathLike))
                   else f"{kind.__name__}(...), e.g. " + ("ModelSpec(backbone=..., weights=...)" if kind is ModelSpec else "StoreSpec(out=...)"))
            if kind is ModelSpec and _looks_like_cache_path(value):
                # extract(src, "x.h5") meant the output file, the third part: said so (a reviewer, R11)
                fix += f", and the cache file as the third part, StoreSpec(out={os.fspath(value)!r})"
            raise FeatcacheError(f"{name} must be a {kind.__name__} (got {shown(value)}); pass {fix}")
    if not all(callable(getattr(engine, m, None)) for m in ("run", "check")) or not hasattr(engine, "runtime"):
        raise FeatcacheError(f"engine must be LocalEngine(...) or RayEngine(...) (got {shown(engine)}); "
                             f"pass LocalEngine() or RayEngine(workers=N)")
    return source, model, store, engine


def _image_size(source: Any, model: ModelSpec, bb: Backbone) -> int:
    """The image size: the model's, else the source's default, else the backbone's (the source is not opened)."""
    default = source.default_image_size
    size = int(model.image_size if model.image_size is not None else default or bb.default_size)
    check_image_size(bb, size)
    return size


def _open(source: Any, size: int, verbose: bool) -> DataSource:
    """The opened source, decoding its images at ``size``."""
    data = source if isinstance(source, DataSource) else source.open(size, verbose)
    decoded = data.spec.get("image_size")
    if decoded is not None and decoded != size:
        # Preprocess would resize the decoded images a second time: another pixel pipeline.
        raise FeatcacheError(f"this source decodes its images at {decoded}px but {option('--image-size')} is {size}; open it with image size {size}")
    return data


def identity(bb: Backbone, w_id: str, size: int, layer_names: list[str], dtype: str, data: DataSource,
             views: tuple = ()) -> CacheIdentity:
    """The settings that decide the features (a cache's identity, and its fingerprint).

    ``views``: the views embedded (``ModelSpec.view_list()``); the original alone (or none given)
    leaves ``views`` out of the identity, so such a cache keeps the fingerprint it always had.
    """
    from featcache.embedding import views as view_registry

    view_id = view_registry.identity(tuple(views)) if views else None
    return CacheIdentity(backbone=bb.name, weights=w_id, image_size=size, preprocessing=bb.preprocessing, layers=layer_names,
                         dtype=dtype, dataset=data.name, data_digest=data.digest, class_names=data.class_names,
                         views=None if view_id is None else tuple(view_id))


def _rule_change(data: DataSource, path: Path) -> Callable[[Any], str | None]:
    """``find_complete``'s ``rule_change`` for a cache at ``path`` of ``data``: the source's line
    (``DataSource.rule_change``) where that cache's data digest is the one a rule of before gave these very files (a
    photo folder's copies in a class, counted once since 2026-12-06; an older image decoder), with extract's fix. It
    was refused as "made with other settings (differs in: the data ...)", where the files had not changed (briefs)."""
    fix = (f"re-extract the cache at {path}: pass {force_words()} to replace it once the new cache is complete, or "
           f"choose another {out_option()} (it was left untouched)")
    return lambda recorded: data.rule_change(recorded, fix, "it")


def _data_changes(data: DataSource, path: Path) -> Callable[[], str | None]:
    """``find_complete``'s ``data_changes`` for a complete cache at ``path`` of ``data``'s settings whose data differs:
    what changed in the files since (``DataSource.changes_since``), from the rows' paths and SHA-256s and the skipped
    files the cache records, read through ``Cache`` (its content digest, which covers them, checked). None where
    the cache holds no such record (Fashion-MNIST's rows, a cache made before digests) or cannot be read."""

    def changes() -> str | None:
        from featcache.store.reader import Cache

        try:
            cache = Cache(path)
            listed = [(cache.paths(split), cache.digests(split)) for split in cache.split_names]
            left_out = [str(p) for p, _ in cache.meta.get("skipped") or []]
        except (FeatcacheError, OSError, TypeError, ValueError):  # a refusal's detail: the refusal stands without it
            return None
        if any(paths is None or digests is None for paths, digests in listed):
            return None
        return data.changes_since({p: d for paths, digests in listed for p, d in zip(paths, digests)}, left_out)

    return changes


def _hit(path: Path, source: DataSource, verbose: bool, message: str, model: ModelSpec | None = None,
         locked: bool = False, runtime: str | None = None, out_given: bool = False) -> ExtractResult:
    # The cache lists the files that did not decode: a photo source's rows
    # (and --strict) are settled from it, with nothing decoded. It lists a photo's copies in its class folder among
    # them, told apart by their reason (``decode.left_out_parts``), as every cache written since they are counted once does.
    attrs = read_attrs(path)
    stored = [(str(p), str(why)) for p, why in attrs.get("skipped") or []]
    source.settle(dict(stored))
    # Left by a crash between publishing the cache and removing its partial:
    # the complete cache holds everything it had. ``locked``: under the writers' lock (else tried, never waited for).
    tidy_partial(path, locked=locked)
    # The line says "listed in the cache": it lists the cache's own list. The source's listing took in a file put
    # beside the class folders since (not in the fingerprint: the hit is right), which the cache and info never
    # showed (a reviewer, 2026-12-05; as old as the listing of such files).
    left_out = left_out_parts(stored)
    if verbose:
        for line in _skipped_lines(left_out["skipped"], left_out["copies"]):
            note(line)
        print(one_line(message + _not_run_words(runtime, attrs, out_given)))
    made = attrs.get("runtime")
    return ExtractResult(path, hit=True, **left_out, views=len(model.view_list()) if model else 1,
                         cached=_split_sizes(path), fingerprint=_fingerprint_of(attrs),
                         cache_runtime=made if isinstance(made, str) else None)


def _named(runtime: str | None) -> bool:
    """Whether the user named ``runtime`` (not ``auto``, the default, nor none): a run that then times it, as
    ``_same_cache_beside`` and ``_not_run_words`` read it."""
    from featcache.embedding.runtimes import DEFAULT_RUNTIME

    return runtime not in (None, DEFAULT_RUNTIME)


def _not_run_words(runtime: str | None, attrs: dict, out_given: bool) -> str:
    """A hit's clause for a runtime named (not ``auto``): it did not run, and what made the cache, from its provenance.
    "nothing to do" alone, after ``--runtime openvino --out fm/tensorflow.h5``, read as openvino's run (a brief).
    ``out_given``: the caller named the cache's file, so another one times the runtime; the default path of these
    settings is this cache whatever the runtime, and the lesson, which names none, says its cache's runtime itself."""
    if not _named(runtime):
        return ""
    made = recorded_runtimes(attrs)
    named = option(f'--runtime {runtime}', f'runtime={runtime!r}')
    if made == [runtime]:  # "did not run: the cache was made by onnxruntime" of onnxruntime read as a contradiction (a tester)
        fix = f"; to time it again, give another {out_option()}" if out_given else ""
        return f"; {named} did not run again: the cache was made by it (as its provenance records){fix}"
    by = (", then ".join(made) + " (as its provenance records)" if made
          else "a runtime it does not record (made before featcache recorded one)")
    fix = f"; to time {runtime}, give another {out_option()}" if out_given else ""
    return f"; {named} did not run: the cache was made by {by}{fix}"


def _fingerprint_now(path: Path) -> str | None:
    """The fingerprint of the cache at ``path``, None where it has none or cannot be read (its reader says why)."""
    try:
        return _fingerprint_of(read_attrs(path))
    except Exception:  # damaged, not HDF5, busy: open_cache's own line follows
        return None


def _fingerprint_of(attrs: dict) -> str | None:
    """A cache's fingerprint among its attributes, None where it has none."""
    found = attrs.get("fingerprint")
    return found if isinstance(found, str) else None


def _split_sizes(path: Path) -> dict[str, int]:
    """Images per split of a complete cache (as written: photos that did not decode are not rows): its labels' lengths."""
    import h5py

    from featcache.store.layout import split_names

    with h5py.File(path, "r") as f:
        return {s: int(f[s]["labels"].shape[0]) for s in split_names(f)}


def _skipped_lines(others: list[tuple[str, str]], copies: list[tuple[str, str]], limit: int = 10) -> list[str]:
    """The lines of the files that are no rows: those skipped, then the copies counted once on a line of their own
    (``decode.copies_line``: they are photos, counted once, not files with something wrong)."""
    from featcache.sources.decode import copies_line, skipped_files_line

    where = f"listed in the cache ({command('info', call='cache')})"
    return ([skipped_files_line(others, limit, where)] if others else []) + (
        [f"{copies_line(copies)}; {where}"] if copies else [])


def _rows_words(rows: Any) -> str:
    """What extraction runs, counted: "8 files (7 images, 1 named as no image)" where a photo folder's files include
    files named as another kind (``rows.images`` leaves them out, as the result's count does): "extracting 122 files"
    was followed by "extracted 121 images", the other one a notes.txt decoded to be sure (a new-user tester)."""
    from featcache.progress import counted
    from featcache.sources.decode import left_before_words

    n = sum(rows.sizes.values())
    other = n - rows.images if rows.unit == "files" else 0
    # the files hashed that are no rows (a copy counted once) said here, where the count drops: "hashing 63 files",
    # then "extracting 62 files", the duplicate named only in the summary after (a new user)
    parts = [f"{counted(rows.images, 'image')}, {other} named as no image"] if other > 0 else []
    parts += [left_before_words(rows.left_out)] if rows.left_out else []
    what = f"{n} of the {rows.hashed} {rows.unit} hashed" if rows.left_out else f"{n} {rows.unit}"
    return what + (f" ({'; '.join(parts)})" if parts else "")


def _run(path: Path, ident: CacheIdentity, data: DataSource, model: ModelSpec, store: StoreSpec, engine: Any,
         verbose: bool, out_at_start: Any, other: OtherCache | None = None) -> ExtractResult:
    from featcache.progress import Progress, bars_wanted  # not Keras's Progbar: plain lines when the output is not a terminal
    from featcache.embedding.runtimes import preparing_line

    rows = data.plan()
    n_views = len(model.view_list())
    # --batch-size is images per forward pass, and so is the memory bound (embedding.passes): a batch of rows
    # carries every view of each row, so it holds images // V rows (64 rows x 7 views at 224 px would otherwise
    # hold 7.6 GB); where one row's views alone exceed the bound (7 views at 2048 px: 10 GB in one pass, before),
    # a batch is one row and the mapper runs its views a few per pass.
    per_pass = passes.images_per_pass(store.batch_size, ident.image_size, views=n_views)
    t_start = time.perf_counter()
    # judged before the build, acted on after it (_acted_on): a resume is said first, where it was said after
    # "extracting 398 files ..." and the build, as if all 398 were to do (a tester)
    found = _found_partial(path, ident, data, other)
    resumed = found.rows if found.fate == RESUME else 0
    # What the run is doing, on stderr with its bar: also under the CLI's --json (bars_when_quiet), whose stdout is
    # the JSON alone; it hid these, and a first conversion was 17 s of silence before the bar (a new-user tester)
    shown = bars_wanted(verbose)
    if shown and resumed:
        status(_resume_line(path, resumed, rows))
    if shown:  # building (and, the first time, converting) the network takes 5-60 s: not in silence (a new user)
        views = f" x {n_views} views" if n_views > 1 else ""
        # after "resuming ...: 2240 of 4000 images already done", "extracting 4000 images" read as starting over (a
        # new-user tester): a resume says what is left
        total = sum(rows.sizes.values())
        what = f"the other {total - resumed} of {total} {rows.unit}" if resumed else _rows_words(rows)
        status(f"extracting {what}{views} with {ident.backbone} at {ident.image_size} px "
               f"({counted(len(ident.layers), 'layer')}); {preparing_line('the network', engine.runtime)}")
        # Notes, shown with the progress off too: the memory bound overrides the --batch-size the user gave (or its
        # default), which a run's speed and a benchmark depend on (a review: these were status lines, hidden by
        # FEATCACHE_PROGRESS=off). Said only when the bound lowered it; the batch size asked for needs no line.
        if per_pass.bounded:
            note(f"{counted(per_pass.images, 'image')} per forward pass, not {given('--batch-size', str(store.batch_size))}: at {ident.image_size} px "
                 f"more would need over {passes.PASS_MEMORY / 2**30:.0f} GB of memory")
        if per_pass.passes_per_row > 1:
            note(f"each image's {n_views} views run in {per_pass.passes_per_row} forward passes of at most {per_pass.images}")
    from featcache.progress import status_lines

    from featcache.embedding.runtimes import cached_choice, conversions_made, ready_line

    converted_before = conversions_made()
    with status_lines() if shown else contextlib.nullcontext():  # a conversion says so (runtimes.converted_model)
        make_embed, widths = _build(rows, model, ident, per_pass, engine.runtime, store.lock_timeout)
    converted = conversions_made() > converted_before
    startup = time.perf_counter() - t_start
    attrs = _provenance(ident, model, data, rows, make_embed.runtime_used)
    if shown:
        why = cached_choice(engine.runtime, make_embed.runtime_used, rows.images, n_views)
        status(ready_line("network", make_embed.runtime_used, startup, why))
    if verbose and make_embed.runtime_note:  # auto says why it fell back (a user asked for the fastest); --json: in it
        status(make_embed.runtime_note)
    # Just before the writer opens, not before the model build: a run that failed there (bad weights, a runtime)
    # had moved someone's partial for nothing. Still under the lock.
    aside, started_over = _acted_on(path, found, data, store, verbose)
    if aside is not None or started_over is not None:  # what was judged is gone from the partial's name
        found = found.acted_on()
    writer = make_writer(path, attrs, rows.specs, widths, store.dtype, staged=rows.staged, verbose=verbose,
                         out_at_start=out_at_start, found=found)
    done = writer.open()
    batches = plan(rows.sizes, done, per_pass.rows)
    if shown and any(done.values()) and sum(done.values()) != resumed:  # the writer's checks took back some rows
        status(_resume_line(path, sum(done.values()), rows))
    total = sum(len(b) for b in batches)
    # A resume on another runtime: the cache says which runtimes made its rows, recorded once this run's first
    # batch is committed (recorded before any row, a run killed at once was listed as a maker; a tester).
    runtimes = runtimes_used(writer.recorded(), make_embed.runtime_used) if any(done.values()) else []
    bar = Progress(total, unit="image") if shown and total else None
    counts = {"seen": 0, "embedded": 0}

    def write(b: Batch, out: dict[str, np.ndarray]) -> None:
        check_finite(out, model.weights, b)
        counts["embedded"] += rows.write(writer, b, out)
        if counts["seen"] == 0 and len(runtimes) > 1:
            writer.commit()
            writer.record({"runtimes": runtimes})
        counts["seen"] += len(b)
        if bar and counts["seen"] < total:  # the last line once the engine says its start-up (below)
            bar.update(counts["seen"])

    t0 = time.perf_counter()
    try:
        with status_lines() if shown else contextlib.nullcontext():  # an engine's start says so (Ray's: 10-30 s)
            engine_startup = engine.run(batches, rows.read, rows.embedder(make_embed), write) or 0.0
        seconds = time.perf_counter() - t0 - engine_startup
        if bar:  # its total and rate are the embedding's, as the summary's: Ray's start-up left out of both
            bar.leave_out(engine_startup)
            bar.update(counts["seen"])
        rows.finish(writer, {"extract_seconds": round(seconds, 3), "startup_seconds": round(startup, 3),
                             **({"engine_startup_seconds": round(engine_startup, 3)} if engine_startup else {}),
                             "runtime": make_embed.runtime_used})
    finally:
        writer.close()
    cached = _split_sizes(path)
    # the rows the partial held, less the files its run skipped: what the cache holds that this run did not embed
    resumed = sum(cached.values()) - counts["embedded"] if any(done.values()) else 0
    result = ExtractResult(path, hit=False, images=counts["embedded"], seconds=seconds, startup_seconds=startup,
                           engine_startup_seconds=engine_startup, engine=getattr(engine, "name", type(engine).__name__),
                           resumed_images=resumed,
                           **left_out_parts(data.skipped), runtime=make_embed.runtime_used,
                           cache_runtime=make_embed.runtime_used, views=n_views,
                           runtime_note=make_embed.runtime_note, cached=cached, converted=converted,
                           replaced_cache=other, partial_set_aside=aside, partial_started_over=started_over,
                           fingerprint=_fingerprint_of(attrs))
    if verbose:
        _report(result)
    return result


def _found_partial(path: Path, ident: CacheIdentity, data: DataSource, other: OtherCache | None) -> FoundPartial:
    """The partial at ``path``'s name, judged (``judge_partial``), once, from one reading of its attributes, which
    the lines and the writer take (it was opened up to four times: the set-aside, the start-over, the writer's look
    and the set-aside line's). ``held``: a complete cache of other settings here (--force) is the one whose own
    staged leftover is nobody else's work (it was said to be another extraction's; a reviewer, 2026-12-05). The
    caller holds the writers' lock, so what is judged before the network's build is what the writer opens after."""
    return judge_partial(path, ident, data.spec, held=other.fingerprint if other and other.complete else None,
                         rule_change=_rule_change(data, path))


def _acted_on(path: Path, found: FoundPartial, data: DataSource, store: StoreSpec,
              verbose: bool) -> tuple[Path | None, int | None]:
    """What was done about the partial ``found`` before the writer opens: (where ``--force`` moved another
    extraction's partial or None, the rows of a partial of these settings over data changed since that was started
    over or None). After the build: a run that failed there (bad weights, a runtime) had moved it for nothing."""
    aside = _set_aside_other_partial(path, found) if store.force else None
    return aside, _start_over_changed_data(path, found, data, verbose)


def _resume_line(path: Path, done: int, rows: Any) -> str:
    """The status line of a resumed extraction: its rows done before, of all."""
    return one_line(f"resuming {path}: {done} of {sum(rows.sizes.values())} {rows.unit} already done")


def _build(rows: RowPlan, model: ModelSpec, ident: CacheIdentity, per_pass: passes.PassSize,
           runtime: str, lock_timeout: float | None = None) -> tuple[Callable, dict[str, int]]:
    """The mapper, built (and traced) here whatever the engine: bad weights fail before any engine starts,
    and the widths are known. The local engine reuses it. It embeds every view: ``{layer: (V, n, D)}``.
    ``lock_timeout`` (the store's) bounds its wait for another process converting the same model too."""
    from featcache.embedding.mapper import Mapper

    views = [v.name for v in model.view_list()]
    # How many images the run embeds, in how many views, lets ``auto`` skip converting the model for a small job
    # (``rows.images``: a photo folder's files named as other files are no images). The forward batch is
    # every view of ``per_pass.rows`` rows, or the bound where one row's views exceed it: the mapper never runs more
    # images in one pass.
    make_embed = Mapper(ident.backbone, model.weights, ident.image_size, list(ident.layers), tuple(rows.sample.shape[1:]),
                        min(per_pass.rows * len(views), per_pass.images), runtime=runtime,
                        expected_images=rows.images, views=views, weights_id=ident.weights, lock_timeout=lock_timeout)
    widths = {name: int(f.shape[-1]) for name, f in make_embed()(rows.sample).items()}
    return make_embed, widths


def runtimes_used(recorded: dict[str, Any], runtime: str | None) -> list[str]:
    """The runtimes that made a cache's rows, in the order they ran: a resumed partial's ``runtimes`` (or its
    one ``runtime``), then ``runtime`` if it is another. Features agree across runtimes to about 2e-4, so a
    resume on another runtime is allowed; the ``runtimes`` attribute keeps that honest ('featcache info')."""
    used = recorded_runtimes(recorded)
    return used + ([runtime] if runtime is not None and runtime != (used[-1] if used else None) else [])


def _provenance(ident: CacheIdentity, model: ModelSpec, data: DataSource, rows: RowPlan, runtime: str | None) -> dict[str, Any]:
    """The cache's attributes: its identity, and how it was made (versions, runtime: not part of the identity)."""
    # From the packages' metadata, not their import: a run on a cached conversion imports neither (20 s of its start)
    from featcache._lazy import installed_version, keras_backend

    bb = model.entry
    settings = ident.settings()
    layer_names = list(ident.layers)
    # The root ``views`` attribute names the stored views ("orig", "flip", ...; store.layout); the
    # identity's "name@algorithm" stay in ``settings``. No attribute without views: today's layout.
    names = {"views": [v.name for v in model.view_list()]} if ident.views else {}
    return {
        "fingerprint": ident.fingerprint,
        "settings": settings,
        **{k_: v for k_, v in settings.items() if k_ not in NOT_REPEATED},
        **names,
        "weights_random": model.weights == "random",
        # absolute: export finds the file from any folder (a relative path only worked where extract ran)
        "weights_source": weights_source_words(model.weights),
        "default_layer": bb.final_layer if bb.final_layer in layer_names else layer_names[-1],
        "source": data.spec,
        "skipped": [list(s) for s in rows.skipped],
        "featcache_version": __version__,
        "keras_version": installed_version("keras"),
        "tensorflow_version": installed_version("tensorflow"),  # None where Keras runs without it (JAX)
        "keras_backend": keras_backend(),
        "runtime": runtime,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def check_finite(out: dict[str, np.ndarray], weights: str, batch: Batch) -> None:
    """Refuse features that are NaN or infinite (broken weights): before they are written, batch by batch.

    0.16 ms per batch of 64 x 1280 float32 features (``np.isfinite(x).all()``,
    measured on this 2-core machine under a load average of 15), next to
    the ~58 ms the batch takes to embed at 96 px (1,110 images/s,
    docs/benchmarks.md); it runs on the writer's thread, off the forward pass.
    """
    for layer, values in out.items():
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            raise FeatcacheError(
                f"the weights {weights} give NaN or infinite features (layer {layer}, {batch.split} rows "
                f"{batch.start}-{batch.stop - 1}); they are damaged or not trained: replace that weights file")


def _report(result: ExtractResult) -> None:
    for line in _skipped_lines(result.skipped, result.copies):
        note(line)
    left_out = "".join(f"; {w}" if i == 0 else f", {w}" for i, w in enumerate(left_out_words(result.skipped, result.copies)))
    rate = result.throughput
    # what --force replaced, before the arrow as train's "; replaced the head ... there": the path stays the line's end
    again = f"; replaced {result.replaced_cache.words(' there')}" if result.replaced_cache else ""
    # the engine's start-up said apart, as the model build: not in the seconds or images/s (Ray's ~19 s; a tester)
    engine = f", engine start-up {result.engine_startup_seconds:.1f} s" if result.engine_startup_seconds else ""
    # a resume: what the cache holds and what of it the interrupted run made, beside what this run embedded
    resumed = (f" ({sum(result.cached.values())} in the cache; {result.resumed_images} from the interrupted run)"
               if result.resumed_images else "")
    print(one_line(f"extracted {counted(result.images, 'image')}{rate.views_words()}{resumed} in {result.seconds:.1f} s "
                   f"({rate.rate_words()}, runtime {result.runtime}; model build {result.startup_seconds:.1f} s{engine}"
                   f"{left_out}){again} -> {result.path}"))
