"""extract: run a frozen backbone once over a data source into an HDF5 cache."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from featcache import __version__, paths
from featcache.embedding.backbones import (
    check_image_size,
    get_backbone,
    resolve_layers,
    weights_identity,
)
from featcache.embedding.batches import plan
from featcache.errors import FeatcacheError
from featcache.sources import DataSource, open_source
from featcache.store import (
    STAGING,
    CacheIdentity,
    CacheWriter,
    SplitSpec,
    StagedWriter,
    exclusive_lock,
    find_complete,
    read_attrs,
    tidy_partial,
)

DTYPES = ("float32", "float16")
# Key of each row's decode problem in a staged run's embed output (not a layer).
PROBLEM = "featcache:problem"


@dataclass
class ExtractResult:
    path: Path
    hit: bool  # True when a valid cache was already there and nothing ran
    images: int = 0  # images embedded by this call
    seconds: float = 0.0  # reading, preprocessing, inference and writing of those images
    startup_seconds: float = 0.0  # building the model and tracing its graph, before the above
    skipped: list[tuple[str, str]] = field(default_factory=list)  # files left out, with the reason

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0


def default_path(dataset: str, backbone: str, image_size: int, fp: str) -> Path:
    return paths.cache_dir() / f"{dataset}_{backbone}_{image_size}px_{fp[:12]}.h5"


def extract(
    data: str = "fashion_mnist",
    *,
    images: str | Path | None = None,
    test_fraction: float | None = None,
    seed: int = 0,
    strict: bool = False,
    data_dir: str | None = None,
    train_limit: int | None = None,
    test_limit: int | None = None,
    source: DataSource | None = None,
    backbone: str = "mobilenet_v2",
    weights: str = "imagenet",
    image_size: int | None = None,
    layers: str | list[str] | None = None,
    dtype: str = "float32",
    batch_size: int = 64,
    out: str | Path | None = None,
    engine: str = "local",
    address: str | None = None,
    workers: int | None = None,
    cpus_per_worker: int | None = None,
    verbose: bool = True,
) -> ExtractResult:
    """Embed every image of ``data``, of the class folders ``images`` (or of ``source``) and cache the pooled features.

    ``images`` is ``DIR/<class>/*`` (with ``test_fraction`` F: a stratified
    test split, chosen by ``seed``) or ``DIR/train/<class>/*`` with
    ``DIR/val/<class>/*`` or ``DIR/test/<class>/*``; unreadable files are
    skipped and listed, or an error with ``strict``. Re-running with the same
    settings is a cache hit; an interrupted run resumes where it stopped.
    ``engine="ray"`` runs the embedding on Ray (a local instance, or the
    cluster at ``address``) with ``workers`` actors of ``cpus_per_worker``
    CPUs; the features and the cache are the same.
    """
    bb = get_backbone(backbone)
    if dtype not in DTYPES:
        raise FeatcacheError(f"--dtype {dtype} is not supported; use one of: {', '.join(DTYPES)}")
    if batch_size < 1:
        raise FeatcacheError(f"--batch-size must be at least 1 (got {batch_size})")
    from featcache.embedding import engines

    run_engine = engines.get(engine, address=address, workers=workers, cpus_per_worker=cpus_per_worker)
    layer_names = resolve_layers(bb, layers)
    w_id = weights_identity(weights)  # checks a weights path before any data work
    if source is None:
        source = _open(data, images, test_fraction, seed, strict, data_dir, train_limit, test_limit, image_size or bb.default_size, bb, verbose)
    size = int(image_size or source.default_image_size or bb.default_size)
    check_image_size(bb, size)
    decoded = source.spec.get("image_size")
    if decoded is not None and decoded != size:
        # Preprocess would resize the decoded images a second time: another pixel pipeline.
        raise FeatcacheError(f"this source decodes its images at {decoded}px but --image-size is {size}; open it with image size {size}")

    identity = CacheIdentity(backbone=bb.name, weights=w_id, image_size=size, preprocessing=bb.preprocessing, layers=layer_names,
                             dtype=dtype, dataset=source.name, data_digest=source.digest, class_names=source.class_names)
    settings, fp = identity.settings(), identity.fingerprint
    path = Path(out) if out else default_path(source.name, bb.name, size, fp)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FeatcacheError(f"cannot create {path.parent} ({exc.strerror}); choose a writable --out") from None

    if find_complete(path, identity):
        return _hit(path, source, verbose, f"cache hit: {path} already holds these features; nothing to do")

    with exclusive_lock(path, wait_message=f"waiting for another featcache process writing {path} ..."):
        if find_complete(path, identity):  # the other process may have just finished it
            return _hit(path, source, verbose, f"cache hit: {path} was completed by another process; nothing to do")
        return _run(path, fp, settings, source, bb, weights, size, layer_names, dtype, batch_size, verbose, run_engine)


def _hit(path: Path, source: DataSource, verbose: bool, message: str) -> ExtractResult:
    # The cache lists the files that did not decode: a photo source's rows
    # (and --strict) are settled from it, with nothing decoded.
    source.settle(dict(read_attrs(path).get("skipped") or []))
    # Left by a crash between publishing the cache and removing its partial:
    # the complete cache holds everything it had.
    tidy_partial(path)
    if verbose:
        if source.skipped:
            print(_skipped_line(source.skipped))
        print(message)
    return ExtractResult(path, hit=True, skipped=list(source.skipped))


def _open(data, images, test_fraction, seed, strict, data_dir, train_limit, test_limit, size, bb, verbose) -> DataSource:
    """The data source the user asked for; photos are decoded at ``size`` (already resolved)."""
    if images is None:
        for flag, value in (("--test-fraction", test_fraction), ("--strict", strict or None)):
            if value is not None:
                raise FeatcacheError(f"{flag} applies to class-folder photos only; add --images DIR")
        return open_source({"kind": data, "data_dir": data_dir, "train_limit": train_limit, "test_limit": test_limit})
    if data != "fashion_mnist" or data_dir is not None:
        raise FeatcacheError("--images and --data/--data-dir choose the data two ways; give only one")
    for flag, value in (("--train-limit", train_limit), ("--test-limit", test_limit)):
        if value is not None:
            raise FeatcacheError(f"{flag} applies to Fashion-MNIST; with --images, use a folder holding the images you want")
    check_image_size(bb, int(size))
    return open_source({"kind": "images", "root": str(images), "image_size": int(size), "test_fraction": test_fraction,
                        "seed": seed, "strict": strict}, verbose=verbose)


def _skipped_line(skipped: list[tuple[str, str]], limit: int = 10) -> str:
    listed = "; ".join(f"{p} ({why})" for p, why in skipped[:limit])
    more = f"; and {len(skipped) - limit} more" if len(skipped) > limit else ""
    return f"skipped {len(skipped)} file(s), listed in the cache ('featcache info'): {listed}{more}"


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


class KeepProblems:
    """Picklable ``make_embed`` of a staged run: embeds a read's images and passes each row's decode problem on to ``write``."""

    def __init__(self, make_embed: Callable):
        self.make_embed = make_embed

    def __call__(self) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
        embed = self.make_embed()
        return lambda batch: {**embed(batch["image"]), PROBLEM: batch["problem"]}


def _run(path, fp, settings, source, bb, weights, size, layer_names, dtype, batch_size, verbose, run_engine) -> ExtractResult:
    from featcache import _lazy
    from featcache.embedding.mapper import Mapper

    k = _lazy.keras()
    pending = source.pending
    t_start = time.perf_counter()
    if pending is None:
        first = source.splits[next(iter(source.splits))].read(0, 1)
    else:
        first = np.zeros((1, *pending.image_shape), np.uint8)  # the model needs only the shape: no file is decoded twice
    n_images = sum(len(s) for s in source.splits.values()) if pending is None else len(pending.labels)
    make_embed = Mapper(bb.name, weights, size, layer_names, tuple(first.shape[1:]), batch_size, expected_images=n_images)
    # Built (and traced) here whatever the engine: bad weights fail before any
    # engine starts, and the widths are known. The local engine reuses it.
    widths = {name: int(f.shape[-1]) for name, f in make_embed()(first).items()}
    startup = time.perf_counter() - t_start

    try:
        import tensorflow as tf

        tf_version = tf.__version__
    except ImportError:  # Keras on another backend (JAX on the GPU machine)
        tf_version = None

    attrs = {
        "fingerprint": fp,
        "settings": settings,
        **{k_: v for k_, v in settings.items() if k_ not in ("format_version", "data_digest")},
        "weights_random": weights == "random",
        "weights_source": "random (untrained)" if weights == "random" else weights,
        "default_layer": bb.final_layer if bb.final_layer in layer_names else layer_names[-1],
        "source": source.spec,
        # Staged: the files known unusable so far; the complete list replaces it at the end.
        "skipped": [list(s) for s in (source.skipped if pending is None else pending.unusable)],
        "featcache_version": __version__,
        "keras_version": k.__version__,
        "tensorflow_version": tf_version,
        "keras_backend": k.backend.backend(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if pending is None:
        specs = [SplitSpec(s.name, s.labels, s.index, s.paths) for s in source.splits.values()]
        readers = {s.name: s.read for s in source.splits.values()}
    else:
        # Which photos decode decides the split rows, and it is learnt here,
        # decoding each file once: every candidate file is embedded into one
        # staging split together with its decode problem, and the splits are
        # cut out of it at the end.
        specs = [SplitSpec(STAGING, pending.labels, pending.index, pending.paths)]
        readers = {STAGING: pending.read}
        make_embed = KeepProblems(make_embed)
    writer = (CacheWriter if pending is None else StagedWriter)(path, attrs, specs, widths, dtype, verbose=verbose)
    done = writer.open()
    sizes = {s.name: len(s.labels) for s in specs}
    batches = plan(sizes, done, batch_size)
    total = sum(len(b) for b in batches)
    if verbose and any(done.values()):
        print(f"resuming {path}: {sum(done.values())} of {sum(sizes.values())} {'files' if pending else 'images'} already done")
    bar = k.utils.Progbar(total, unit_name="image") if verbose and total else None
    seen = embedded = 0

    def read(b):
        return readers[b.split](b.start, b.stop)

    def write(b, out):
        nonlocal seen, embedded
        problems = out.pop(PROBLEM, None)
        n_bad = 0
        if problems is not None:
            bad = [(pending.paths[b.start + i], str(why)) for i, why in enumerate(problems) if why]
            _keeping(writer.partial, pending.check, bad)  # --strict stops at the first unreadable file
            n_bad = len(bad)
        writer.write(b.split, b.start, out, problems)
        seen += len(b)
        embedded += len(b) - n_bad
        if bar:
            bar.update(seen)

    t0 = time.perf_counter()
    try:
        run_engine(batches, read, make_embed, write)
        seconds = time.perf_counter() - t0
        extra = {"extract_seconds": round(seconds, 3), "startup_seconds": round(startup, 3)}
        if pending is None:
            writer.finish(extra)
        else:
            # This run's and any earlier run's (resumed) problems settle the
            # rows; errors that need them (--strict, a class without a readable
            # photo) come here, and a re-run repeats them without embedding again.
            _keeping(writer.partial, source.settle, {pending.paths[i]: why for i, why in writer.problems().items()})
            row = {p: i for i, p in enumerate(pending.paths)}
            writer.finish({**extra, "skipped": [list(s) for s in source.skipped]}, regroup=[
                SplitSpec(s.name, s.labels, s.index, s.paths, rows=np.array([row[p] for p in s.paths], dtype=np.int64))
                for s in source.splits.values()])
    finally:
        writer.close()
    result = ExtractResult(path, hit=False, images=embedded, seconds=seconds, startup_seconds=startup, skipped=list(source.skipped))
    if verbose:
        if source.skipped:
            print(_skipped_line(source.skipped))
        left_out = f"; {len(source.skipped)} file(s) skipped" if source.skipped else ""
        print(f"extracted {embedded} images in {seconds:.1f} s ({result.images_per_s:.0f} images/s; "
              f"model build {startup:.1f} s{left_out}) -> {path}")
    return result
