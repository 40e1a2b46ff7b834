"""The mapper: raw uint8 images -> globally pooled features of chosen layers.

One Keras model, Preprocess -> frozen base (inference mode) -> one
GlobalAveragePooling2D per tapped layer, so every requested layer comes out
of the same single forward pass.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from featcache._lazy import keras, keras_backend
from featcache.embedding.backbones import Backbone, is_named_weights, unknown_layer
from featcache.embedding.runtimes import RUNTIMES  # noqa: F401  (how the network runs; each one a class there)
from featcache.errors import FeatcacheError, command_word

if TYPE_CHECKING:
    from keras import Model as KerasModel

    from featcache.embedding.runtimes import ConversionSpec


def tap_base(base: KerasModel, layers: list[str], backbone: Backbone | None = None) -> KerasModel:
    """Sub-model of ``base`` returning the 4-D outputs of ``layers``.

    Keras keeps only the layers the outputs depend on, so a tap on an early
    layer is a truncated (smaller, faster) network.
    """
    return keras().Model(base.input, feature_maps(base, layers, backbone), name=f"{base.name}_tap")


def check_layers(backbone: Backbone, layers: list[str], image_size: int) -> None:
    """Every layer in ``layers`` is a feature map of ``backbone``: before the weights are loaded and the model
    converted (5-60 s), and before any line says what will be extracted. The registry's layers need no
    network; any other is looked up in the untrained one (``Backbone.architecture``, 0.7 s at 96 px)."""
    others = [name for name in layers if name not in backbone.known_layers]
    if others:
        feature_maps(backbone.architecture(image_size), others, backbone)


def feature_maps(base: KerasModel, layers: list[str], backbone: Backbone | None = None) -> list:
    """The 4-D outputs of ``layers`` in ``base``: the one check of a layer name against a network.

    An unknown name is one short line: the nearest name (the block names probe.png shows among them) and
    how to name a layer; the ~155 names in full were 3,263 characters on one line (a tester)."""
    names = {l.name for l in base.layers}
    outputs = []
    for name in layers:
        if backbone is not None and name == backbone.final_layer:  # the base's output, by whatever name Keras gave
            outputs.append(base.output)  # its layer (``Backbone.final_layer``)
            continue
        if any(_counter_shaped(type(l).__name__, name) for l in base.layers):  # this build's name, or another's
            how = backbone.layers_help() if backbone else "name a layer the network names itself"
            raise FeatcacheError(f"layer {name!r} of {backbone.name if backbone else base.name} is named by Keras's "
                                 f"counter, so it means another layer, or none, in the next build of the network; {how}")
        if name not in names:
            maps = [l.name for l in base.layers if len(l.output.shape) == 4 and not counter_named(l)]
            how = backbone.layers_help() if backbone else f"its feature maps: {', '.join(maps)}"
            raise unknown_layer(name, backbone.name if backbone else base.name,
                                [*(backbone.block_names if backbone else ()), *maps], how)
        out = base.get_layer(name).output
        if len(out.shape) != 4:
            raise FeatcacheError(f"layer {name!r} outputs shape {tuple(out.shape)}, not a 4-D feature map; pick a convolutional layer")
        outputs.append(out)
    return outputs


def counter_named(layer: Any) -> bool:
    """Whether Keras named ``layer`` itself, by its class and a counter (``re_lu_3``, ``activation_17``): such a name
    changes from one build of the network to the next in one process (a review: MobileNetV3's ``--layers re_lu_3``
    passed the check on one build and was unknown in extract's, which suggested ``re_lu_23``). The class's name in
    snake case, as Keras's ``naming.to_snake_case`` makes it (ReLU -> re_lu)."""
    return _counter_shaped(type(layer).__name__, layer.name)


def _counter_shaped(class_name: str, name: str) -> bool:
    """Whether ``name`` is one Keras gives a layer of class ``class_name`` by its counter: the class in snake case
    (ReLU -> re_lu), then nothing or _N."""
    snake = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", re.sub(r"\W+", "", class_name))
    snake = re.sub(r"([a-z])([A-Z])", r"\1_\2", snake).lower()
    return re.fullmatch(rf"{re.escape(snake)}(_\d+)?", name) is not None


def build_extractor(backbone: Backbone, weights: str, image_size: int, layers: list[str],
                    raw_shape: tuple[int, ...], identity: str | None = None) -> KerasModel:
    """Model: uint8 images of ``raw_shape`` -> list of (N, D_layer) pooled features; ``identity``: the weights' the
    caller checked (``Backbone.build``)."""
    from featcache.embedding.preprocess import Preprocess

    k = keras()
    base = backbone.build(weights, image_size, identity)  # random weights: seeded there, the same in every process
    tap = tap_base(base, layers, backbone)
    inp = k.Input(shape=raw_shape, dtype="uint8", name="images")
    x = Preprocess(backbone.name, image_size)(inp)
    maps = tap(x, training=False)
    maps = maps if isinstance(maps, (list, tuple)) else [maps]
    pooled = [k.layers.GlobalAveragePooling2D(name=f"pool_{i}")(m) for i, m in enumerate(maps)]
    return k.Model(inp, pooled, name="featcache_extractor")


def compiled(model: KerasModel, batch_size: int | None = None, exact: tuple[int, ...] | None = None,
             state: tuple[list[np.ndarray], list[np.ndarray]] | None = None) -> Callable[[np.ndarray], list[np.ndarray]]:
    """Fastest plain forward pass for the backend (``predict`` is slower on CPU).

    ``exact``: the image shape (H, W, C) most batches have, for a model whose input is open (an exported model's,
    any size, gray or RGB). On TensorFlow such batches run a graph traced for that shape, where ``Preprocess``
    leaves out the resize to the size the images already have (4-5% of a pass; docs/benchmarks.md, "The identity
    resize"); others run the open graph, with the resize.

    The features must not depend on where they were computed (the backend is
    not part of a cache's identity), so JAX runs matmuls and convolutions at
    full float32 precision: its TF32 default on recent GPUs moved MobileNetV2
    features by up to 0.15 (measured on an H200), against 3e-5 at "highest".

    ``state``: the (trainable, non-trainable) weights to run ``model`` with, in place of its variables, which its
    owner may change later (``deploy.model.LoadedModel``: a loaded model's network, run as its checked bytes hold).
    """
    k = keras()
    if k.backend.backend() == "tensorflow":
        import tensorflow as tf

        call = (lambda x: model(x, training=False)) if state is None else _stateless(model, state)
        # One trace for every batch size (the last batch is usually shorter).
        spec = tf.TensorSpec([None, *model.inputs[0].shape[1:]], model.inputs[0].dtype)
        fn = tf.function(call, input_signature=[spec])
        if exact is not None and tuple(model.inputs[0].shape[1:]) != tuple(exact):
            fn = _at_exact_shape(model, call, fn, tuple(exact))
    elif k.backend.backend() == "jax":
        import jax

        if state is None:
            state = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables])
        jitted = jax.jit(lambda tv, ntv, x: model.stateless_call(tv, ntv, x, training=False)[0])
        ran: dict[tuple[int, ...], int] = {}

        def fn(x):
            # XLA compiles once per input shape (seconds each): pad a short
            # batch to one shape instead of compiling for it (``pad_target``).
            n = len(x)
            target = pad_target(ran, tuple(x.shape[1:]), n, batch_size)
            if n < target:
                x = np.concatenate([x, np.zeros((target - n, *x.shape[1:]), x.dtype)])
            with jax.default_matmul_precision("highest"):
                out = jitted(state[0], state[1], x)
            out = out if isinstance(out, (list, tuple)) else [out]
            return [o[:n] for o in out]
    else:
        fn = lambda x: model(x, training=False)  # noqa: E731

    def run(x: np.ndarray) -> list[np.ndarray]:
        out = fn(x)
        out = out if isinstance(out, (list, tuple)) else [out]
        return [np.asarray(o) for o in out]

    return run


def _stateless(model: KerasModel, state: tuple[list[np.ndarray], list[np.ndarray]]) -> Callable:
    """``model``'s forward pass with the weights ``state`` (constants), not its variables as they are when it runs."""
    import tensorflow as tf

    trainable, rest = ([tf.constant(w) for w in part] for part in state)
    return lambda x: model.stateless_call(trainable, rest, x, training=False)[0]


def _at_exact_shape(model: KerasModel, call: Callable, open_fn: Callable, exact: tuple[int, ...]) -> Callable:
    """``open_fn``, but a batch of images of shape ``exact`` runs a graph traced for that shape (``compiled``): its
    size known when traced, ``Preprocess`` leaves the identity resize out; the features are the same to the bit
    (tests/test_export_predict.py, on the real weights)."""
    import tensorflow as tf

    spec = tf.TensorSpec([None, *exact], model.inputs[0].dtype)
    exact_fn = tf.function(call, input_signature=[spec])
    return lambda x: exact_fn(x) if tuple(x.shape[1:]) == exact else open_fn(x)


def pad_target(ran: dict[tuple[int, ...], int], shape: tuple[int, ...], n: int, batch_size: int | None) -> int:
    """The batch a JAX pass of ``n`` images of ``shape`` runs at, padded: the largest batch it ran at that shape
    (``ran``, updated), so a short last batch is not compiled again; at most ``batch_size`` unless ``n`` is more.

    Padding a short batch to ``batch_size`` whatever ran before would undo the memory bound: a model that
    predicts 2048 px images one per pass (``embedding.passes``) ran padded to 64 of them. A pass is padded only to
    what its caller already ran at that shape, hence already within the bound; the mapper's first pass is a full
    one (``Mapper.__call__``), so extraction compiles once, as before.
    """
    target = max(n, ran.get(shape, 0))
    if batch_size:
        target = min(target, max(n, batch_size))
    ran[shape] = max(ran.get(shape, 0), target)
    return target


class Mapper:
    """Picklable factory of the embed function ``uint8 images -> {layer: (n, D)}``.

    An engine receives this rather than a built model so that each process
    that embeds (the driver for the local engine, every actor of the Ray
    engine) builds the network itself, once: calling it again in the same
    process returns the same function. Only the settings travel when it is
    pickled, never the model.

    With ``views`` (view names, ``featcache.embedding.views``; extraction always
    passes them, ``("orig",)`` for the original alone) the embed function
    applies every view to the raw batch (numpy, so before whichever runtime
    runs the network) and runs the stacked views through the network:
    ``{layer: (V, n, D)}``, view i of row r at ``[i, r]``. ``batch_size`` is
    then the forward batch, ``V`` times the rows of a batch: one forward pass.

    ``batch_size`` is also the most images one forward pass holds (the memory
    bound, ``embedding.passes``): a larger batch, such as one row whose views
    alone exceed the bound, runs in passes of at most ``batch_size`` images,
    with the same features (no image sees another in inference mode).
    """

    def __init__(self, backbone: str, weights: str, image_size: int, layers: list[str], raw_shape: tuple[int, ...],
                 batch_size: int | None = None, runtime: str = "auto", expected_images: int | None = None,
                 views: tuple[str, ...] | list[str] | None = None, weights_id: str | None = None,
                 lock_timeout: float | None = None):
        from pathlib import Path

        from featcache.embedding.runtimes import check_runtime, conversions_dir

        self.backbone = backbone
        # Absolute, so a process started elsewhere (a Ray worker) finds the same file.
        self.weights = weights if is_named_weights(weights) else str(Path(weights).resolve())
        # The weights' identity the cache records (``weights_identity``), checked where the network is built: by
        # then Keras's cache may hold other ImageNet weights (each Ray node has its own), or the file was replaced.
        self.weights_id = weights_id
        self.image_size = int(image_size)
        self.layers = list(layers)
        self.raw_shape = tuple(int(d) for d in raw_shape)
        self.batch_size = batch_size
        self.runtime = check_runtime(runtime)  # asked for; ``runtime_used`` says what ran once built
        # How many images will be embedded, if known (each in every view of ``views``): ``auto`` does not convert
        # the model for a job too small to repay the conversion.
        self.expected_images = expected_images
        self.runtime_dir = str(conversions_dir(self.runtime))  # resolved here: a Ray worker's working folder differs
        # How long to wait at most for another process converting the same model (``runtimes.build``): the store's.
        self.lock_timeout = lock_timeout
        self.runtime_used: str | None = None
        self.runtime_note: str | None = None  # why ``auto`` fell back to TensorFlow, for the user
        # Names travel (each process parses them again): checked here, so a bad one fails before any engine starts.
        self.views = None if views is None else tuple(v.name for v in _parse_views(views))
        self._fn: Callable[[np.ndarray], dict[str, np.ndarray]] | None = None

    def spec(self) -> ConversionSpec:
        from featcache.embedding.runtimes import ConversionSpec

        return ConversionSpec(self.backbone, self.weights, self.image_size, tuple(self.layers), self.raw_shape,
                              self.weights_id)

    def __call__(self) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
        if self._fn is None:
            from pathlib import Path

            from featcache.embedding import runtimes

            self._check_weights()
            used, forward, note = runtimes.build(self.runtime, self.spec(), self.batch_size, Path(self.runtime_dir),
                                                 self.expected_images, views=len(self.views or ("orig",)),
                                                 lock_timeout=self.lock_timeout)
            # Trace now, not inside the first timed batch; on JAX at the full forward batch, the shape XLA compiles
            # for (``pad_target``: later short batches are padded to it).
            backend = keras_backend()  # not keras(): a cached conversion runs without importing Keras
            warm = self.batch_size if self.batch_size and used == "tensorflow" and backend == "jax" else 1
            forward(np.zeros((warm, *self.raw_shape), np.uint8))
            names = self.layers
            forward = in_passes(forward, self.batch_size)
            if self.views is None:
                self._fn = lambda x: dict(zip(names, forward(x)))
            else:
                self._fn = _view_embed(forward, names, _parse_views(self.views))
            self.runtime_used = backend if used == "tensorflow" and backend != "tensorflow" else used
            self.runtime_note = note
        return self._fn

    def _check_weights(self) -> None:
        """The weights here are those the extraction's identity names, or one line: their features would be stored
        under another identity."""
        from featcache.embedding.backbones import weights_identity

        if self.weights_id is None:
            return
        got = weights_identity(self.weights, self.backbone, self.image_size)
        if got != self.weights_id:
            where = "Keras's cache here holds other ImageNet weights" if self.weights == "imagenet" else f"{self.weights} changed"
            raise FeatcacheError(f"the weights are not those this extraction began with ({where}: {got[:19]}..., not "
                                 f"{self.weights_id[:19]}...); nothing of them was stored: run the {command_word()} "
                                 "again, with the same weights on every machine of a Ray cluster")

    def __getstate__(self) -> dict:
        state = {**self.__dict__, "_fn": None}
        if self.runtime_used in RUNTIMES:
            # Every process runs what the driver chose (a Ray actor must not
            # decide ``auto`` again, nor convert: the driver's file is cached).
            state["runtime"] = self.runtime_used
        return state


def _parse_views(names):
    """Views from names (any order or spelling ``parse_views`` takes): canonical, the original first."""
    from featcache.embedding.views import parse_views

    return parse_views(list(names))


def in_passes(forward: Callable[[np.ndarray], list[np.ndarray]], limit: int | None) -> Callable[[np.ndarray], list[np.ndarray]]:
    """``forward`` on at most ``limit`` images at a time (None: all at once), the outputs concatenated in order."""
    if not limit:
        return forward

    def run(x: np.ndarray) -> list[np.ndarray]:
        if len(x) <= limit:
            return forward(x)
        parts = [forward(x[i : i + limit]) for i in range(0, len(x), limit)]
        return [np.concatenate(outs) for outs in zip(*parts)]

    return run


def _view_embed(forward: Callable, layers: list[str], views: tuple) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    """``batch (n, ...) -> {layer: (V, n, D)}``: every view stacked view-major, through ``forward`` (one pass, or
    passes of at most the mapper's ``batch_size``: ``in_passes``)."""
    from featcache.embedding.views import apply_all

    def embed(batch: np.ndarray) -> dict[str, np.ndarray]:
        n = len(batch)
        stacked = apply_all(views, batch) if len(views) > 1 else batch
        return {name: f.reshape(len(views), n, -1) for name, f in zip(layers, forward(stacked))}

    return embed
