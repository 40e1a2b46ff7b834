"""The typed parts of an extraction: what the network is (``ModelSpec``) and where the features go (``StoreSpec``).

``extract(source, model, store, engine)`` takes four small frozen
dataclasses that check themselves when made, so a bad setting is one clear
line before any work:

- the source: ``FashionMNIST(...)`` or ``PhotoFolder(...)`` (each beside its
  loader in ``featcache.sources``), anything with ``open(image_size, verbose)
  -> DataSource`` and a ``default_image_size``, or an opened ``DataSource``;
- ``ModelSpec``: backbone, weights, image size, layers, views (all in the cache's identity);
- ``StoreSpec``: output path, storage dtype, batch size, lock timeout, force;
- the engine: ``LocalEngine(runtime=...)`` or ``RayEngine(address, workers,
  cpus_per_worker, runtime)`` (``featcache.embedding.engines``), which never
  change the features.

``from_options`` builds the four from flat keywords (None = not given): the
CLI's flags, and the deprecated keyword form of ``extract``, go through it,
so the two cannot drift apart. A source's own options are its class's
(``options``, ``selector``: ``featcache.sources``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from featcache.embedding.backbones import (
    Backbone,
    check_image_size,
    check_weights_file,
    get_backbone,
    is_named_weights,
    resolve_layers,
    weights_arg,
)
from featcache.embedding.passes import BATCH_SIZE
from featcache.errors import FeatcacheError, example, given, option, unknown
from featcache.progress import named
from featcache.validate import check_bool, check_lock_timeout, closest, positive_int, setting_path, shown

DTYPES = ("float32", "float16")


@dataclass(frozen=True)
class ModelSpec:
    """The frozen network: ``backbone`` (registry name), ``weights`` ("imagenet", "random" or a weights file),
    ``image_size`` in pixels (default: the source's, else the backbone's), ``layers`` to pool
    ("L1,L2", a list, or "blocks"; a block as probe.png names it, "block_13", is its layer; default: the final output) and ``views`` of every image to embed
    ("orig,flip,shift", a list; ``featcache.embedding.views``; default: the original alone, today's cache).

    Views belong here, not to the store: they change what is computed from each image and are part
    of the cache's identity. They are kept as canonical names, "orig" first (``ModelSpec(views="flip")
    .views == ("orig", "flip")``), or None for the original view alone (the same cache as no views).
    """

    backbone: str = "mobilenet_v2"
    weights: str = "imagenet"
    image_size: int | None = None
    layers: str | tuple[str, ...] | None = None
    views: str | tuple[str, ...] | None = None

    def __post_init__(self):
        bb = get_backbone(self.backbone)
        object.__setattr__(self, "weights", weights_arg(self.weights))
        if not is_named_weights(self.weights):
            check_weights_file(self.weights)
        if self.image_size is not None and type(self.image_size) is not int:  # np.int64(96) kept as NumPy's (helper-296)
            # read as every count of the API is (FashionMNIST's train_limit=300.0 was taken, image_size=96.0 refused;
            # an adversarial tester; both refused since h301: validate.whole_float; a count's text is the CLI's
            # alone), kept as the int: the fingerprint's
            object.__setattr__(self, "image_size", positive_int(self.image_size, "--image-size", high=None, example="96"))
        if self.image_size is not None:
            check_image_size(bb, self.image_size)
        if isinstance(self.layers, list):
            object.__setattr__(self, "layers", tuple(self.layers))
        # (1, 2) was accepted and failed later inside difflib (an adversarial tester): names, each a str
        if self.layers is not None and (not isinstance(self.layers, (str, tuple))
                                        or isinstance(self.layers, tuple) and not all(isinstance(n, str) for n in self.layers)):
            raise FeatcacheError(f"{option('--layers')} must be layer names separated by commas, or 'blocks' (got {self.layers!r})")
        resolve_layers(bb, self.layers)
        object.__setattr__(self, "views", _canonical_views(self.views))

    @property
    def entry(self) -> Backbone:
        """The backbone's registry entry."""
        return get_backbone(self.backbone)

    def layer_names(self) -> list[str]:
        return resolve_layers(self.entry, self.layers)

    def view_list(self) -> tuple:
        """The views to embed (``featcache.embedding.views.View``), the original first."""
        from featcache.embedding.views import parse_views

        return parse_views(self.views)


def _canonical_views(views: Any) -> tuple[str, ...] | None:
    """Views as canonical names ("orig" first), None for the original alone; a bad name is one line."""
    from featcache.embedding.views import View, parse_views

    if views is not None and not isinstance(views, (str, tuple, list)):
        raise FeatcacheError(f"{option('--views')} must be view names separated by commas, e.g. "
                             f"{example('--views', 'orig,flip,shift')} (got {views!r})")
    if isinstance(views, (tuple, list)) and not all(isinstance(v, (str, View)) for v in views):
        raise FeatcacheError(f"{option('--views')} must be view names, e.g. ('orig', 'flip') (got {views!r})")
    names = tuple(v.name for v in parse_views(views))
    return None if names == ("orig",) else names


@dataclass(frozen=True)
class StoreSpec:
    """Where and how the features are kept: ``out`` (default: a name from the settings under the cache folder),
    ``dtype`` of the stored features (float16 halves the size), ``batch_size`` images per forward pass,
    ``lock_timeout``: seconds to wait at most while another process writes the same cache or converts the same model
    (None: for the cache, as long as it takes; for a conversion, ``runtimes.CONVERSION_WAIT_SECONDS``, then the
    ``auto`` runtime runs TensorFlow and a runtime named stops)
    and ``force``: replace a featcache cache of other settings at ``out`` (complete or not) once the new cache is
    complete and sealed, and move an interrupted extraction of other settings at its partial's name aside
    (``<out>.partial.h5.other-settings-<UTC time>``); never a file featcache did not write, and a cache of these
    settings is still a hit (``--force`` says what may be replaced, as train's does, not "compute again").

    The lock guards the output file, so its timeout is the store's: the engine
    only says who runs the network, and neither changes the features."""

    out: str | Path | None = None
    dtype: str = "float32"
    batch_size: int = BATCH_SIZE
    lock_timeout: float | None = None
    force: bool = False

    def __post_init__(self):
        if self.out is not None:
            from featcache.store.layout import check_cache_name  # h5py's import, which the CLI's parser does not need

            object.__setattr__(self, "out", setting_path(self.out, "--out", "a file path"))
            check_cache_name(self.out)
        object.__setattr__(self, "dtype", _dtype_name(self.dtype))
        object.__setattr__(self, "batch_size", positive_int(self.batch_size, "--batch-size"))
        object.__setattr__(self, "lock_timeout", check_lock_timeout(self.lock_timeout))
        # force="no" must not replace a cache (as checks_switches refuses it for the other commands' force=)
        object.__setattr__(self, "force", check_bool(self.force, "force", "only True replaces a cache of other settings at out"))


def _dtype_name(dtype: Any) -> str:
    """The stored features' dtype by its name (one of ``DTYPES``): a NumPy dtype or type that is one is taken as its
    name, as NumPy itself takes them (StoreSpec(dtype=np.float16) was "--dtype <class 'numpy.float16'> is not
    supported; use one of: float32, float16"; a tester); anything else is refused by its name where it has one."""
    import numpy as np

    if isinstance(dtype, str):
        name, python = dtype, repr(dtype)
    elif isinstance(dtype, (type, np.dtype)):  # not None, which NumPy reads as float64
        try:
            name = np.dtype(dtype).name
            python = repr(name)
        except TypeError:  # a type that is no dtype (dict)
            name = python = getattr(dtype, "__name__", shown(dtype))
    else:
        name = python = shown(dtype)
    if name not in DTYPES:
        # errors.unknown: the one wording of a choice list ("is not supported; use one of:" was a second; a brief)
        raise FeatcacheError(unknown(given("--dtype", name, python), DTYPES))
    return name


def default(cls: type, name: str) -> Any:
    """The default of field ``name`` of dataclass ``cls`` (CLI help texts read their defaults here)."""
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)


class Parts(NamedTuple):
    source: Any
    model: ModelSpec
    store: StoreSpec
    engine: Any


MODEL_OPTIONS = ("backbone", "weights", "image_size", "layers", "views")
STORE_OPTIONS = ("out", "dtype", "batch_size", "lock_timeout", "force")
ENGINE_OPTIONS = ("engine", "address", "workers", "cpus_per_worker", "runtime")


def _source_options() -> tuple[str, ...]:
    from featcache.sources import source_classes

    return tuple(dict.fromkeys(option for cls in source_classes() for option in cls.options))


# Each source class lists its own (``options``): a new source adds its flags without a line here.
SOURCE_OPTIONS = _source_options()
OPTIONS = ("data", *SOURCE_OPTIONS, *MODEL_OPTIONS, *STORE_OPTIONS, *ENGINE_OPTIONS)


def from_options(data: str | None = None, **options: Any) -> Parts:
    """The four parts from the CLI's flat options (``OPTIONS``); None means "not given": the part's own default
    applies. ``data`` names a source kind chosen by name (default: the first in ``sources.KINDS``)."""
    from featcache.embedding import engines

    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise TypeError(f"from_options() got an unexpected keyword argument {unknown[0]!r}")
    given = {k: v for k, v in options.items() if v is not None}
    source = _source(data, {k: v for k, v in given.items() if k in SOURCE_OPTIONS})
    model = ModelSpec(**{k: v for k, v in given.items() if k in MODEL_OPTIONS})
    store = StoreSpec(**{k: v for k, v in given.items() if k in STORE_OPTIONS})
    run = engines.get(given.get("engine", engines.DEFAULT_ENGINE), **{k: given.get(k) for k in ENGINE_OPTIONS if k != "engine"})
    return Parts(source, model, store, run)


def _flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def _switch_default(classes: list[type], option: str) -> Any:
    """The default of the field ``option`` sets in the first source class that has it."""
    cls = next(c for c in classes if option in c.options)
    return next((f.default for f in dataclasses.fields(cls) if f.name == cls.options[option]), None)


def _source(data: str | None, given: dict[str, Any]) -> Any:
    """The source the options choose: the class whose ``selector`` option is given, else the one ``data`` names
    (default: the first without a selector), made from its own options; another source's option is one line."""
    from featcache.sources import source_classes

    classes = source_classes()
    # A switch left off (--strict's store_true) is not given; False for any other option is (images=False was
    # refused, and must not become Fashion-MNIST; a review)
    given = {k: v for k, v in given.items() if not (v is False and _switch_default(classes, k) is False)}
    chosen = [cls for cls in classes if cls.selector is not None and cls.selector in given]
    by_name = [cls for cls in classes if cls.selector is None]
    if len(chosen) + (data is not None) > 1:
        named = [_flag(cls.selector) for cls in chosen] + (["--data"] if data is not None else [])
        raise FeatcacheError(f"{' and '.join(named)} choose the data two ways; give only one")
    if not chosen and data is not None and data not in [cls.kind for cls in by_name]:
        # Each selector's own placeholder: every one was "DIR", where another source's takes a file (a review)
        others = ", or ".join(f"{_flag(c.selector)} {c.metavar} for {c.title}" for c in classes if c.selector is not None)
        raise FeatcacheError(f"unknown data set {data!r}; use {', '.join(c.kind for c in by_name)}" + (f", or {others}" if others else ""))
    cls = chosen[0] if chosen else next(c for c in by_name if data in (None, c.kind))
    # Its own options checked first (the class refuses a bad value): images=False with train_limit=50 was blamed on
    # --train-limit ("applies to Fashion-MNIST only"), where the choice of data itself was refused (a tester)
    source = cls(**{cls.options[k]: v for k, v in given.items() if k in cls.options})
    for key in given:
        if key not in cls.options:
            owner = next(c for c in classes if key in c.options)
            hint = owner.elsewhere.get(key, owner.elsewhere.get("", ""))
            hint = option(*hint) if isinstance(hint, tuple) else hint
            # extract(strict=True) in 0.1's keyword form was told "--strict applies to ...; add --images DIR"
            raise FeatcacheError(f"{option(_flag(key), key)} applies to {owner.title} only" + (f"; {hint}" if hint else ""))
    return source


def _check_data_name(data: str | None) -> None:
    """A data-set name given to the API: one of the kinds chosen by name, else the line names the Python form of each
    source (extract("/path/to/folder", ...) said "use fashion_mnist, or --images DIR", the CLI's words, to a notebook
    user; a new-user tester)."""
    from featcache.sources import source_classes

    classes = source_classes()
    names = [c.kind for c in classes if c.selector is None]
    if data is None or data in names:
        return
    # The names taken are said too, the nearest first: "fashion-mnist" was offered only PhotoFolder('fashion-mnist'),
    # no longer the valid "fashion_mnist" the CLI's line named (a reviewer, R11)
    near = closest(data, names)
    taken = f"did you mean {near!r}?" if near else f"data set names: {', '.join(names)}"
    forms = [f"featcache.{c.__name__}({data!r})" if c.selector is not None else f"featcache.{c.__name__}()" for c in classes]
    raise FeatcacheError(f"unknown data set {data!r} ({taken}); pass a source as extract's first argument: "
                         + " or ".join(f"{form} for {c.title}" for form, c in zip(forms, classes)))


def from_legacy(source: Any, model: Any, store: Any, engine: Any, legacy: dict[str, Any]) -> Parts:
    """The parts of a call in the old keyword form, ``extract("fashion_mnist", weights=..., images=..., engine="ray")``.

    ``source`` may still be the old data-set name, or an opened ``DataSource``
    (the old ``source=`` keyword); parts given as objects stay as they are,
    and their keywords may not be given too.
    """
    unknown = sorted(set(legacy) - set(OPTIONS))
    if unknown:
        raise TypeError(f"extract() got an unexpected keyword argument {unknown[0]!r}")
    legacy = dict(legacy)
    data = legacy.pop("data", source if isinstance(source, str) else None)
    _check_data_name(data)
    source = None if isinstance(source, str) else source
    for part, name, keys in ((source, "source", SOURCE_OPTIONS), (model, "model", MODEL_OPTIONS),
                             (store, "store", STORE_OPTIONS), (engine, "engine", ENGINE_OPTIONS)):
        clash = [k for k in keys if k in legacy]
        if part is not None and clash:
            raise TypeError(f"extract() got both {name}= and its {named('keyword', clash)}; give one")
    from featcache.sources import source_classes

    classes = source_classes()
    if data == next(c.kind for c in classes if c.selector is None) and any(
            legacy.get(c.selector) is not None for c in classes if c.selector is not None):
        data = None  # 0.1's extract(data="fashion_mnist", images=...): its data's default, which images= overrode
    built = from_options(data, **legacy)
    return Parts(source if source is not None else built.source, model or built.model, store or built.store, engine or built.engine)
