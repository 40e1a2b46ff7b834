"""Registry of pretrained backbones, after ``keras.applications``.

Each entry keeps together what must never be mixed up between networks: the
builder, its own ``preprocess_input``, the width of its pooled features, its
canonical input size and the layers worth probing. Everything else in
featcache asks this registry instead of naming a network.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from featcache._lazy import keras
from featcache.errors import (FeatcacheError, command, command_word, first_line, given, given_path, in_words, option,
                              unknown)
from featcache.progress import agreeing, named
from featcache.validate import (check_size, expand_home, file_digest, hdf5_signature_at, list_items, made_as_read,
                                outside_storage, read_at_most, shown)

if TYPE_CHECKING:
    from keras import Model as KerasModel


@dataclass(frozen=True)
class KerasWeightsFile:
    """Where Keras keeps a backbone's ImageNet weights without the top: the file its application function asks
    ``keras.utils.get_file`` for (in Keras's cache, ``cache_subdir="models"``), the URL it downloads it from, and the
    hash Keras checks it against (None: Keras checks none, MobileNetV2's, so any file under that name is loaded).
    tests/test_backbones.py holds each entry to what Keras's own builder asks for."""

    base_url: str
    name: str  # "{size}" stands for the input size where Keras has weights of that size (``sizes``), else 224
    file_hash: str | None = None  # md5 (32 hex digits) or sha256 (64), as keras.utils.get_file takes it
    sizes: tuple[int, ...] = ()

    def file_name(self, image_size: int) -> str:
        return self.name.format(size=image_size if image_size in self.sizes else 224)

    def url(self, image_size: int) -> str:
        return self.base_url + self.file_name(image_size)


@dataclass(frozen=True)
class Backbone:
    name: str
    application: str  # attribute of keras.applications that builds it
    preprocess_module: str  # keras.applications.<module>.preprocess_input
    width: int  # channels of the final feature map (pooled feature width)
    default_size: int  # input size its ImageNet weights were trained at
    # The name caches, heads and --layers give the headless base's output: its last layer's name where Keras
    # names it for good (MobileNetV2's out_relu), else one of the registry's own. MobileNetV3's last layer is an
    # Activation Keras names by a counter, activation_17 in one build and activation_35 in the next, so it could
    # not be found by name (docs/architecture.md's table said so): the output is taken as the base's output
    # (``mapper.feature_maps``), whatever its layer is called.
    final_layer: str
    min_size: int = 32
    # Names of the intermediate activations `--layers blocks` pools; the final
    # output is always added.
    block_layers: tuple[str, ...] = field(default=())
    # The file ``--weights imagenet`` is: its content is the weights' identity (``imagenet_weights_file``).
    imagenet: KerasWeightsFile | None = None

    @property
    def block_names(self) -> dict[str, str]:
        """``{short name: block layer}``: the names probe.png labels the block layers with (``short_layer``),
        where they differ, e.g. ``block_13`` -> ``block_13_expand_relu``. ``--layers`` takes them too; none of
        them is a layer of the network (tests/test_backbones.py), so each means one layer."""
        return {short_layer(n): n for n in self.block_layers if short_layer(n) != n}

    @property
    def known_layers(self) -> tuple[str, ...]:
        """The layers the registry names (every block and the final output): known to exist without building the network."""
        return (*self.block_layers, self.final_layer)

    def block_shaped(self, name: str) -> bool:
        """Whether ``name`` has the shape of one of this backbone's short block names, its numbers aside (``block_99``
        of MobileNetV2's ``block_N``; ResNet50 has none). No layer of the network is named so
        (tests/test_backbones.py), so such a name that is no block is a mistake known without the network."""
        import re

        return any(re.fullmatch(re.sub(r"\d+", r"\\d+", re.escape(short)), name) for short in self.block_names)

    def layers_help(self) -> str:
        """How to name this backbone's layers, in a few words (instead of listing its ~155 layers)."""
        blocks = list(self.block_names) or list(self.block_layers)
        short = f", short for {self.block_layers[0]} ..." if self.block_names else ""
        # "any feature-map layer ... listed by its .summary()" took in the layers Keras names by a counter, which
        # feature_maps refuses (mapper.counter_named; a review): said as extract's --help says it, and shorter than
        # before for every backbone (the unknown-layer line stays under 400 characters for MobileNetV2's typos)
        return (f"{option('--layers')} takes blocks {blocks[0]} to {blocks[-1]} (probe.png's names{short}), 'blocks' for all, "
                f"{self.final_layer} for the final output, or a feature map in keras.applications.{self.application}"
                f"(include_top=False).summary() not named by Keras's counter (re_lu_3)")

    def architecture(self, image_size: int) -> KerasModel:
        """The headless network untrained and unseeded: its layers and shapes only (0.7 s for MobileNetV2 at 96 px
        once Keras is imported, against 5-60 s to load weights and convert it)."""
        check_image_size(self, image_size)
        builder = getattr(keras().applications, self.application)
        return builder(include_top=False, weights=None, input_shape=(image_size, image_size, 3))

    def preprocess_input(self, x: Any) -> Any:
        return getattr(keras().applications, self.preprocess_module).preprocess_input(x)

    @property
    def preprocessing(self) -> str:
        """Identity of the pixel pipeline, stored in caches and heads."""
        return f"float32,gray_to_rgb,resize_bilinear,{self.preprocess_module}.preprocess_input"

    def build(self, weights: str, image_size: int, identity: str | None = None) -> KerasModel:
        """The headless base (``include_top=False``), frozen.

        ``weights`` is ``"imagenet"`` (the file in Keras's cache, downloaded
        there first where it is missing: ``imagenet_weights_file``),
        ``"random"`` (explicitly untrained) or a path to a weights file.
        ``identity``: the ``weights_identity`` the caller checked (a cache's, a head's): the file's bytes loaded must
        be those (``_load_weights_strictly``), or one line.
        """
        check_image_size(self, image_size)
        k = keras()
        builder = getattr(k.applications, self.application)
        shape = (image_size, image_size, 3)
        if weights == "random":
            seed_random_weights()
            base = builder(include_top=False, weights=None, input_shape=shape)
        elif weights == "imagenet":
            # The very file its identity is the digest of (``weights_identity``), loaded as a --weights file of that
            # content is: Keras's builder would find the file again on its own, and load it without the check
            # that refuses layers it skips.
            path = imagenet_weights_file(self, image_size)
            base = builder(include_top=False, weights=None, input_shape=shape)
            try:
                _load_weights_strictly(base, path, identity, f"the ImageNet weights file of {self.name} in Keras's cache")
            except FeatcacheError:  # replaced since it was checked, or reaching outside its file: its own line
                raise
            except Exception as exc:
                raise _damaged_imagenet_file(self, path, exc) from None
        else:
            path = check_weights_file(weights)
            base = builder(include_top=False, weights=None, input_shape=shape)
            try:
                _load_weights_strictly(base, path, identity, given_path("--weights", weights))
            except FeatcacheError:  # replaced since it was checked, or reaching outside its file: its own line
                raise
            except Exception as exc:
                raise FeatcacheError(
                    f"weights file {weights} does not fit backbone {self.name} ({_mismatch_detail(exc)}); "
                    f"pass the {self.name} include_top=False weights file"
                ) from None
        base.trainable = False
        return base


def _load_weights_strictly(model, path: Path, identity: str | None = None, named: str | None = None) -> None:
    """Load a Keras 3 ``.weights.h5`` file, or a legacy Keras 2 ``.h5``, whatever its name.

    Keras picks the format from the file name, so a renamed Keras 3 file is
    retried through a link with the suffix it expects. Keras may only warn
    about layers it skipped, which would keep random weights, so such a
    warning is a failure here.

    The file is read once (``checked_weights``) and Keras loads a private copy of those bytes (its loader takes a
    path): the identity the caller checked and the walk for storage outside the file are of what loads. Keras read
    the file again by its path, so weights put there after the cache's identity was taken were loaded, their
    features stored under the other weights' identity (a brief, helper-285). ``named``: the file in the lines.
    """
    from featcache.validate import private_copy

    def load(p: Path) -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=".*(Skipping|could not be loaded|mismatch).*")
            model.load_weights(str(p))

    data = checked_weights(path, identity, named or str(path))
    with private_copy(data, path.name) as copy:
        try:
            load(copy)
        except Exception:
            if path.name.endswith(".weights.h5"):
                raise
            link = copy.with_name(path.stem + ".weights.h5")  # the same 0600 file, under the name Keras 3 expects
            os.link(copy, link)
            load(link)


# The most bytes of a weights file featcache reads (``--weights PATH``, or ImageNet's file Keras fetched): it is read
# whole, to check its identity and that it keeps inside itself, and was read with no bound, so a multi-GB file given as
# weights (a data set's archive, a crafted file) cost its size in memory before Keras refused it. Measured
# (2026-12-06, keras.applications at 224 px, float32): the largest backbone featcache registers is ResNet50, 23.6 M
# parameters without its top (94.4 MB; Keras's resnet50 no-top file is 94.8 MB), 25.6 M with it (102.5 MB);
# EfficientNetB0 16.2 MB, MobileNetV3Large 12.0 MB, MobileNetV2 9.0 MB (its file here: 9.4 MB, 5% HDF5 overhead).
# Saved in float64 with its top, ResNet50 would be some 215 MB. 1 GiB is past that 4 times, and 10 x the largest file.
MAX_WEIGHTS_BYTES = 1 << 30
_WEIGHTS_FILE = "backbone's weights file"  # what the bound's line says a file past it is more than


def _weights_fix() -> str:
    """The way out of a weights file past ``MAX_WEIGHTS_BYTES``, where it is checked and where it is read."""
    return f"pass the .weights.h5 file Keras saved with {weights_path_words()}"


def checked_weights(path: Path, identity: str | None, named: str) -> bytes:
    """The bytes of the weights file at ``path``, read once: their ``weights_identity`` is ``identity`` (where the
    caller checked one), and the HDF5 file they are keeps all it holds inside it (``outside_storage``: walked in
    memory, no link resolved), or one line naming the file. 0.01-0.02 s for MobileNetV2's 9 MB (a SHA-256 and a
    walk), beside seconds to build and load the network."""
    import hashlib
    import io

    import h5py

    data = read_at_most(path, MAX_WEIGHTS_BYTES, _WEIGHTS_FILE, _weights_fix(), ours=False)
    got = "sha256:" + hashlib.sha256(data).hexdigest()
    if identity is not None and identity.startswith("sha256:") and got != identity:
        raise FeatcacheError(f"{named} changed while it was being loaded (it is {got[:19]}..., not the {identity[:19]}... "
                             f"checked before); nothing was made of it: run the {command_word()} again with the "
                             "weights left as they are")
    try:
        with h5py.File(io.BytesIO(data), "r") as f:
            problem = outside_storage(f)
    except (OSError, RuntimeError, ValueError, KeyError):
        problem = None  # no HDF5 file: Keras's load says what it is
    if problem:
        raise FeatcacheError(f"{named} reaches outside its file ({problem}), which no Keras weights file does; pass "
                             f"the .weights.h5 file Keras saved with {weights_path_words()}")
    return data


def _mismatch_detail(exc: Exception) -> str:
    """Why weights did not load, in a few words: Keras's warning about skipped layers was cut mid-sentence at 120 characters."""
    if isinstance(exc, UserWarning) and "Skipping" in str(exc):
        return "its layers are not this backbone's: Keras would skip them and keep random weights"
    text = in_words(exc, empty="no detail").split(". ")[0]  # its words, not its type's name (a brief, h315)
    return text if len(text) <= 160 else text[:157].rsplit(' ', 1)[0] + '...'


_MOBILENET_V2_BLOCKS = tuple(f"block_{i}_expand_relu" for i in range(1, 17))
_RESNET50_BLOCKS = tuple(
    f"conv{stage}_block{b}_out"
    for stage, blocks in ((2, 3), (3, 4), (4, 6), (5, 3))
    for b in range(1, blocks + 1)
)
# A block's output is its residual sum (``_add``) where it has a skip
# connection (same width, stride 1: every block but a stage's first), else
# its projection (``_project_bn``); the ``_project_bn`` of a residual block is
# only the branch, before the skip is added.
_EFFICIENTNET_B0_BLOCKS = tuple(
    f"block{b}_add" if b[1] != "a" else f"block{b}_project_bn"
    for b in ("1a", "2a", "2b", "3a", "3b", "4a", "4b", "4c", "5a", "5b", "5c", "6a", "6b", "6c", "6d", "7a")
)

# MobileNetV3's blocks by the same rule (its residual sums are ``expanded_conv_N_add``), block 0 named without N.
# Its activations (relu, hard_swish) are layers Keras names by a counter (``re_lu_3``, ``activation_17``), so no
# block is tapped at its expansion as MobileNetV2's are, and its output is named by the registry (``final_layer``).
_MOBILENET_V3_SMALL_ADDS = {2, 4, 5, 7, 9, 10}
_MOBILENET_V3_LARGE_ADDS = {0, 2, 4, 5, 7, 8, 9, 11, 13, 14}


def _mobilenet_v3_blocks(n: int, adds: set[int]) -> tuple[str, ...]:
    return tuple(f"expanded_conv{f'_{i}' if i else ''}_{'add' if i in adds else 'project_bn'}" for i in range(n))


# Keras's ImageNet weights files without the top (keras/src/applications/<module>.py, Keras 3): a backbone's entry
# names the file its builder asks ``get_file`` for, so featcache finds (and hashes) the very file Keras would load.
_KERAS_APPS = "https://storage.googleapis.com/tensorflow/keras-applications/"
_IMAGENET_FILES = {
    "mobilenet_v2": KerasWeightsFile(_KERAS_APPS + "mobilenet_v2/",
                                     "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{size}_no_top.h5",
                                     sizes=(96, 128, 160, 192, 224)),
    "resnet50": KerasWeightsFile(_KERAS_APPS + "resnet/", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
                                 "4d473c1dd8becc155b73f8504c6f6626"),
    "efficientnet_b0": KerasWeightsFile("https://storage.googleapis.com/keras-applications/", "efficientnetb0_notop.h5",
                                        "50bc09e76180e00e4465e1a485ddc09d"),
    "mobilenet_v3_small": KerasWeightsFile(_KERAS_APPS + "mobilenet_v3/",
                                           "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
                                           "d3e8ec802a04aa4fc771ee12a9a9b836"),
    "mobilenet_v3_large": KerasWeightsFile(_KERAS_APPS + "mobilenet_v3/",
                                           "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
                                           "07fb09a5933dd0c8eaafa16978110389"),
}

REGISTRY: dict[str, Backbone] = {
    b.name: b
    for b in (
        Backbone("mobilenet_v2", "MobileNetV2", "mobilenet_v2", 1280, 224, "out_relu", block_layers=_MOBILENET_V2_BLOCKS,
                 imagenet=_IMAGENET_FILES["mobilenet_v2"]),
        Backbone("resnet50", "ResNet50", "resnet50", 2048, 224, "conv5_block3_out", block_layers=_RESNET50_BLOCKS,
                 imagenet=_IMAGENET_FILES["resnet50"]),
        Backbone("efficientnet_b0", "EfficientNetB0", "efficientnet", 1280, 224, "top_activation",
                 block_layers=_EFFICIENTNET_B0_BLOCKS, imagenet=_IMAGENET_FILES["efficientnet_b0"]),
        Backbone("mobilenet_v3_small", "MobileNetV3Small", "mobilenet_v3", 576, 224, "out_hard_swish",
                 block_layers=_mobilenet_v3_blocks(11, _MOBILENET_V3_SMALL_ADDS), imagenet=_IMAGENET_FILES["mobilenet_v3_small"]),
        Backbone("mobilenet_v3_large", "MobileNetV3Large", "mobilenet_v3", 960, 224, "out_hard_swish",
                 block_layers=_mobilenet_v3_blocks(15, _MOBILENET_V3_LARGE_ADDS), imagenet=_IMAGENET_FILES["mobilenet_v3_large"]),
    )
}


def get_backbone(name: str) -> Backbone:
    if not isinstance(name, str):  # ModelSpec(backbone=[...]) was "unhashable type: 'list'" (an adversarial tester)
        raise FeatcacheError(f"{option('--backbone')} must be a backbone's name (got {name!r}); choose one of: {', '.join(sorted(REGISTRY))}")
    try:
        return REGISTRY[name]
    except KeyError:
        raise FeatcacheError(unknown(f"backbone {name!r}", sorted(REGISTRY))) from None


# Largest --image-size accepted. Activations grow with the square of the
# size: MobileNetV2's largest (112x112x96 float32 at 224 px, 4.8 MB per image)
# is 84x that at 2048 px, 400 MB per image (a pass measured 1.2 GB per
# image: a pass runs such sizes a few images at a time, embedding.passes),
# so beyond 2048 px even one image strains an ordinary machine's memory
# (100000 px ran TensorFlow out of memory). No featcache backbone gains
# from inputs 9x the 224 px its ImageNet weights were trained at.
MAX_IMAGE_SIZE = 2048


# The weights named by a word instead of a file: ImageNet's (Keras's download) and explicitly untrained ones.
NAMED_WEIGHTS = ("imagenet", "random")
# --weights as extract's and lesson's help name it, from NAMED_WEIGHTS: lesson's listed only imagenet|PATH while its
# missing-file message offered random too (a new-user tester)
WEIGHTS_METAVAR = "|".join((*NAMED_WEIGHTS, "PATH"))


def is_named_weights(weights: object) -> bool:
    """Whether ``weights`` is one of ``NAMED_WEIGHTS`` rather than a weights file's path."""
    return isinstance(weights, str) and weights in NAMED_WEIGHTS


def recorded_weights_path(weights: str) -> str:
    """How a cache, a head and a model record the weights file they were made with (``weights_source``): the
    user's path made absolute, its links left as they are. The one home of that form: the cache and head recorded
    ``/work/wt/shared/weights/X.h5`` (absolute) and the exported model ``/work/shared/weights/X.h5`` (links
    resolved) for one ``--weights ../shared/weights/X.h5`` (a new-user tester).

    Unresolved because that is the path the user knows (info shows it) and keeps pointing at: a link repointed at
    the same file moved elsewhere still finds it. Nothing is identified by the path: the file's sha256 (``weights``)
    is, so a path that now names other weights is refused, and a file recorded in either form (a model exported
    before this, with its links resolved) is found and checked the same way (``deploy.export.resolve_weights``)."""
    return os.path.abspath(weights)


def weights_source_words(weights: str) -> str:
    """How a cache's ``weights_source`` (and lesson.json's ``weights``) names the weights: "random (untrained)",
    "imagenet", or the file's ``recorded_weights_path``. One home: the runner's provenance and the lesson's
    settings compared these words (a lesson rerun's settings against its cache's)."""
    return {"random": "random (untrained)", "imagenet": "imagenet"}.get(weights) or recorded_weights_path(weights)


# Explicitly random weights (``--weights random``) are drawn from this seed, so they are the same in every
# process: the extraction, its Ray actors, export and a converted model's check.
RANDOM_WEIGHTS_SEED = 0


def seed_random_weights() -> None:
    """Seed Keras as building ``--weights random`` does (a cached network stands in for a build: the same draws follow)."""
    keras().utils.set_random_seed(RANDOM_WEIGHTS_SEED)


def check_image_size(backbone: Backbone, image_size: int) -> None:
    """``image_size`` must be a whole number of pixels within the backbone's range."""
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)):
        raise FeatcacheError(f"{option('--image-size')} must be a whole number of pixels (got {image_size!r})")
    if image_size < backbone.min_size:
        raise FeatcacheError(
            f"{given('--image-size', str(image_size))} is too small for {backbone.name}; use {backbone.min_size} to {MAX_IMAGE_SIZE} pixels"
        )
    if image_size > MAX_IMAGE_SIZE:
        raise FeatcacheError(
            f"{given('--image-size', str(image_size))} is too large (its activations would not fit in memory); "
            f"use {backbone.min_size} to {MAX_IMAGE_SIZE} pixels"
        )


def weights_identity(weights: str, backbone: Backbone | str | None = None, image_size: int | None = None,
                     fresh: bool = False) -> str:
    """What goes into a fingerprint (and a converted model's key) for ``weights``: the file's content, not its name.

    ``imagenet`` is the file Keras loads for ``backbone`` at ``image_size`` (``imagenet_weights_file``: fetched
    first where Keras's cache lacks it), by the same digest a ``--weights PATH`` of that content gets, so the two
    are one identity. The word alone identified it before (an adversarial tester, 2026-12-05): Keras checks no hash
    of MobileNetV2's file, so another file there (a download again, weights copied in to work offline, another
    KERAS_HOME beside one FEATCACHE_HOME) made features 6.0 apart under one identity, converted models of the old
    weights ran, and a cache of the old weights was a hit. ``random`` is itself (seeded: the same in every process).
    ``fresh``: the file hashed now, not its digest remembered (``weights_digest``).
    """
    path = weights_file(weights, backbone, image_size)
    return weights if path is None else "sha256:" + weights_digest(path, fresh=fresh)


def weights_file(weights: str, backbone: Backbone | str | None = None, image_size: int | None = None) -> Path | None:
    """The file ``weights`` loads: a ``--weights PATH`` (checked), ``imagenet``'s in Keras's cache (fetched where
    missing; ``backbone`` and ``image_size`` choose it), None for ``random``."""
    if weights == "random":
        return None
    if weights == "imagenet":
        if backbone is None or image_size is None:
            raise TypeError("the imagenet weights' file depends on the backbone and image size: pass both")
        return imagenet_weights_file(get_backbone(backbone) if isinstance(backbone, str) else backbone, image_size)
    return check_weights_file(weights)


# sha256 (and Keras's own hash check) of weights files, by what the file is now: the path, its size, inode, mtime and
# ctime (a file copied over, even with its mtime put back, gets a new ctime where the file system moves it). An
# extraction asks for the identity three or four times (fingerprint, its mapper, a conversion's key): the first hashes
# the file (``fresh``), the others take that; ResNet50's 94 MB take 0.2 s to hash each time.
_DIGESTS: dict[tuple, str] = {}


def weights_digest(path: Path, algorithm: str = "sha256", fresh: bool = False) -> str:
    """The hex digest of the weights file at ``path`` (``sha256``, or ``md5``: Keras's checks), remembered while the
    file stays as it is. ``fresh``: hashed now, and remembered so (an extraction's first ask, ``runner``): a file
    rewritten in place with its size and mtime kept, on a file system whose ctime is its mtime (sshfs reports it
    so), keeps every field of the key, and a second extraction in the process was said to have the old weights (a
    cache of them a hit, their network run; helper-311's brief). 0.025 s for MobileNetV2's 9.4 MB."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, algorithm)
    if fresh or key not in _DIGESTS:
        _DIGESTS[key] = file_digest(path, algorithm)
    return _DIGESTS[key]


def keras_models_dir() -> Path:
    """The folder ``keras.utils.get_file`` keeps downloaded weights in, found as Keras finds it, without importing
    Keras where it is not yet (a cache hit never imports it): Keras's home (``KERAS_HOME``, else ``~/.keras``, else
    ``/tmp/.keras`` where the home is not writable; fixed when Keras is imported, so read from Keras then), its
    ``models`` folder, and ``/tmp/.keras`` where that home cannot be written."""
    from featcache._lazy import keras_home

    config = sys.modules.get("keras.src.backend.config")
    home = keras_home()
    if config is None and not os.path.exists(home):
        try:  # as importing Keras does (backend/config.py): an unwritable place stays missing, and /tmp is used
            os.makedirs(home)
        except OSError:
            pass
    home = os.path.expanduser(home)
    if not os.access(home, os.W_OK):
        import tempfile

        home = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    return Path(home) / "models"


def imagenet_weights_file(backbone: Backbone, image_size: int) -> Path:
    """The file Keras loads as ``backbone``'s ImageNet weights at ``image_size``: in Keras's cache
    (``keras_models_dir``), fetched there first by ``keras.utils.get_file`` where it is missing or fails the hash
    Keras checks (which re-downloads it), as building the network with ``weights="imagenet"`` would.

    The one place ``--weights imagenet`` is resolved: its identity (``weights_identity``) is this file's digest and
    ``Backbone.build`` loads this file, so an extraction resolves it before any image is read or hashed, and a
    machine that is offline without the file is one line then. A file there that HDF5 cannot open (a download cut
    short: Keras never fetches again over a file it has, for MobileNetV2), or one that reaches outside itself (Keras
    would follow the link as it loads it), is named, with the advice to delete it."""
    check_image_size(backbone, image_size)
    spec = backbone.imagenet
    if spec is None:
        raise FeatcacheError(f"featcache knows no ImageNet weights file of {backbone.name}; pass a weights file with {weights_path_words()}")
    path = keras_models_dir() / spec.file_name(image_size)
    if not (path.is_file() and _passes_keras_hash(path, spec.file_hash)):
        path = _fetch_imagenet(backbone, spec, image_size, path)
    try:
        import h5py

        with h5py.File(path, "r") as f:
            problem = outside_storage(f)  # before Keras loads it: a link out of it is followed (a FIFO blocks in C)
    except Exception as exc:  # HDF5 finds a file cut short by the end its header records; OSError, or a plain error
        raise _damaged_imagenet_file(backbone, path, exc) from None
    if problem:  # not damage: the file HDF5 opened keeps something outside it (--weights PATH says the same)
        raise FeatcacheError(
            f"the ImageNet weights file of {backbone.name} in Keras's cache, {path}, reaches outside its file "
            f"({problem}), which no Keras weights file does; delete it and run again (Keras downloads it afresh), "
            f"or pass a local weights file with {weights_path_words()}")
    return path


def _passes_keras_hash(path: Path, file_hash: str | None) -> bool:
    """Whether Keras would load the file it has (``get_file``'s check: none without a hash; md5 or sha256 by the
    hash's length) rather than download it again."""
    if file_hash is None:
        return True
    try:
        return weights_digest(path, "sha256" if len(file_hash) == 64 else "md5") == file_hash
    except OSError:  # unreadable: Keras's fetch says what is wrong
        return False


def _fetch_imagenet(backbone: Backbone, spec: KerasWeightsFile, image_size: int, where: Path) -> Path:
    """``keras.utils.get_file`` of the backbone's ImageNet weights: what Keras's builder would do, its words kept back."""
    import contextlib
    import io

    existed = where.is_file()
    # Keras's "Downloading data from URL" and its bar went to stdout: a second line before the error offline
    # (a new-user tester), and text before --json's document. Kept back, and one line on stderr once it is
    # done (a download of 9-100 MB shows no bar; the price of one error line).
    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said):
            got = keras().utils.get_file(spec.file_name(image_size), spec.url(image_size), cache_subdir="models",
                                         file_hash=spec.file_hash)
    except Exception as exc:  # network errors come in many types
        why = in_words(exc, empty="no reason given")  # what failed, not its type's name ("URLError: ..."; h319's brief)
        if existed:  # Keras's hash of it failed: it downloads it again, and could not
            raise FeatcacheError(
                f"the ImageNet weights of {backbone.name} in Keras's cache, {where}, fail Keras's checksum (an "
                f"interrupted download?) and downloading them again failed ({why}); delete that file and run again "
                f"where the network is reachable, or pass a local weights file with {weights_path_words()}") from None
        # where Keras looks, named: offline, a rerun that would be a cache hit (its identity is that file's content)
        # said only --weights PATH, to a user whose copy of Keras's file was elsewhere (a brief, 2026-12-07)
        raise FeatcacheError(
            f"could not obtain ImageNet weights for {backbone.name} ({why}); "
            f"this machine may be offline: pass a local weights file with {weights_path_words()}, or put Keras's "
            f"file at {where}"
        ) from None
    if "Downloading" in said.getvalue():
        print(f"downloaded the ImageNet weights of {backbone.name} into Keras's cache ({got})", file=sys.stderr, flush=True)
    return Path(got)


def _damaged_imagenet_file(backbone: Backbone, path: Path, exc: Exception) -> FeatcacheError:
    """The one line for a file in Keras's cache that does not load: named, with what to do (Keras downloads it
    again only once it is gone). It said "could not obtain ImageNet weights ... offline" (an adversarial tester)."""
    return FeatcacheError(
        f"the ImageNet weights file of {backbone.name} in Keras's cache, {path}, is damaged or not {backbone.name}'s "
        f"(an interrupted download?; {_mismatch_detail(exc)}); delete it and run again (Keras downloads it afresh), "
        f"or pass a local weights file with {weights_path_words()}")


def weights_arg(weights: Any) -> str:
    """``weights`` as given to the API (extract's ModelSpec, lesson, export, finetune): "imagenet", "random" or a
    file's path (a str or any os.PathLike), as a str; the one check of its type (three copies with two messages; a
    review). None and 5 were pathlib's TypeErrors (an adversarial tester)."""
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    if not isinstance(weights, str) or not weights:
        raise FeatcacheError(f"{option('--weights')} must be imagenet, random or a weights file (got {shown(weights)})")
    return weights if is_named_weights(weights) else expand_home(weights)


def check_weights_file(weights: str | Path) -> Path:
    """``--weights PATH``: a regular file (links followed) kept on disk, within ``MAX_WEIGHTS_BYTES``; the one check,
    with the one message for each problem. A FIFO or a folder was called "not found" (an adversarial tester), and
    reading a FIFO would block. The size is checked here, before the file is hashed for an identity and the network
    built: a sparse 2 GB file took 35 s to be refused at the load (a brief, h309); /proc/self/status, "changed while
    it was being loaded" after the build, is no file kept on disk (``validate.made_as_read``)."""
    path = Path(weights)
    if path.is_file() and not made_as_read(path):
        check_size(path, MAX_WEIGHTS_BYTES, _WEIGHTS_FILE, _weights_fix(), ours=False)
        _not_featcaches(path, weights)
        _not_hdf5(path, weights)
        return _inside_only(path, weights)
    if os.path.lexists(path):
        from featcache.validate import kind_of

        raise FeatcacheError(f"{given_path('--weights', weights)} is {kind_of(path)}, not a weights file; pass the "
                             f".weights.h5 file with {weights_path_words()}, or {named_weights_words()}")
    # a relative path names where it was looked for (../shared/weights/... run outside the checkout; a new-user tester)
    where = "" if path.is_absolute() else f" (looked for {Path.cwd() / path})"
    raise FeatcacheError(f"weights file not found: {weights}{where}; pass an existing file with {weights_path_words()}, "
                         f"or {named_weights_words()}")


def _not_featcaches(path: Path, weights: str | Path) -> None:
    """One line for a file featcache writes given as weights: a head (.npz) or a model (.keras) is a zip, a cache an
    HDF5 file with featcache's attributes. 'extract --weights h.npz' said "does not fit backbone mobilenet_v2 (OSError:
    Unable to synchronously open file (file signature not found))" after building the network, and a cache "its layers
    are not this backbone's" (an adversarial tester, h305). And one for an HDF5 file cut short (``_cut_short``)."""
    import h5py

    fix = f"pass the .weights.h5 file Keras saved with {weights_path_words()}, or {named_weights_words()}"
    try:
        with open(path, "rb") as f:
            zipped = f.read(4) == b"PK\x03\x04"
    except OSError:
        return  # the load says what it is
    if zipped:
        raise FeatcacheError(f"{given_path('--weights', weights)} is a zip file (a head or model featcache wrote?), not a "
                             f"weights file; {fix}")
    try:
        with h5py.File(path, "r") as f:
            cache = "featcache_version" in f.attrs and "fingerprint" in f.attrs
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        if (cut := _cut_short(exc)) is not None:
            have, whole = cut
            raise FeatcacheError(f"{given_path('--weights', weights)} is cut short: {have:,} of the {whole:,} bytes its "
                                 f"HDF5 header records (an interrupted download or copy?); copy or download it again, or "
                                 f"pass {named_weights_words()}") from None
        return  # another process's lock, or anything else: the load says what it is
    if cache:
        raise FeatcacheError(f"{given_path('--weights', weights)} is a cache written by {command('extract')}, not a "
                             f"weights file; {fix}")


def _cut_short(exc: BaseException) -> tuple[int, int] | None:
    """(bytes there, bytes its superblock records) where HDF5 could not open a file because it ends early, else None.
    A weights file with HDF5's signature but cut short (an interrupted download) built the network, then was said to
    "not fit backbone mobilenet_v2" (a tester, h319's brief). h5py's text is the only sign: "truncated file: eof =
    4000000, sblock->base_addr = 0, stored_eof = 9449296", where a file another process holds locked is "unable to
    lock file, errno = 11" (checked, h5py 3 on HDF5 1.14), so a lock is never called damage."""
    import re

    m = re.search(r"truncated file: eof = (\d+),.*stored_eof = (\d+)", str(exc))
    return (int(m.group(1)), int(m.group(2))) if m and int(m.group(1)) < int(m.group(2)) else None


# What a file without HDF5's signature given as weights is, by its first bytes: a photo (the folder's, renamed), a
# NumPy array; else text or "not an HDF5 file". Words only: the line says the file is not weights either way.
_NOT_HDF5_MAGIC = ((b"\xff\xd8\xff", "a JPEG image"), (b"\x89PNG", "a PNG image"), (b"GIF8", "a GIF image"),
                   (b"\x93NUMPY", "a NumPy .npy array"))


def _not_hdf5(path: Path, weights: str | Path) -> None:
    """One line for a file that is no HDF5 file at all (no signature where HDF5 looks: ``validate.hdf5_signature_at``),
    before the network is built: an empty file, a text file or a JPEG renamed .h5 was built for (up to a minute under
    load) and then "does not fit backbone mobilenet_v2 (OSError: Unable to synchronously open file (file signature not
    found))" (a brief, h315). Every Keras weights file, Keras 3's .weights.h5 or Keras 2's .h5, is HDF5. A file that
    does not open is left to the load, which says why."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or hdf5_signature_at(fd, st.st_size):
            return
        start = os.pread(fd, 512, 0)
    except OSError:
        return
    finally:
        os.close(fd)
    if not start:
        what = "empty (0 bytes)"
    else:
        what = next((w for magic, w in _NOT_HDF5_MAGIC if start.startswith(magic)), None)
        if what is None:
            what = "a text file" if _reads_as_text(start) else "a file without HDF5's signature"
    raise FeatcacheError(f"{given_path('--weights', weights)} is {what}, not a weights file (Keras saves weights as HDF5); "
                         f"pass the .weights.h5 file Keras saved with {weights_path_words()}, or {named_weights_words()}")


def _reads_as_text(start: bytes) -> bool:
    """Whether a file's first bytes read as text: UTF-8 (a character cut at the end allowed), no control bytes but
    whitespace."""
    text = start.decode("utf-8", "ignore")
    return len(text.encode("utf-8")) >= len(start) - 3 and all(c.isprintable() or c in "\t\n\r\f" for c in text)


def _inside_only(path: Path, weights: str | Path) -> Path:
    """``path``, where the HDF5 file there keeps all it holds inside it (``validate.outside_storage``): Keras follows
    an external link, external storage or a virtual dataset when it loads the weights, and a FIFO behind one blocks
    in C, deaf to Ctrl-C (as it did for a cache; an adversarial tester). A file HDF5 cannot open is left to the load,
    which says what it is."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            problem = outside_storage(f)
    except (OSError, RuntimeError, ValueError, KeyError):
        return path
    if problem:
        raise FeatcacheError(f"{given_path('--weights', weights)} reaches outside its file ({problem}), which no Keras "
                             f"weights file does; pass the .weights.h5 file Keras saved with {weights_path_words()}")
    return path


def weights_path_words() -> str:
    """A weights file as its caller passes one: ``--weights PATH``, or the API's ``weights=PATH`` (ModelSpec's, export's,
    finetune's, lesson's keyword)."""
    return option("--weights PATH", "weights=PATH")


def named_weights_words() -> str:
    """The weights named by a word, as its caller passes them (``NAMED_WEIGHTS``, the one list)."""
    return option(" / ".join(f"--weights {w}" for w in NAMED_WEIGHTS), " / ".join(f"weights='{w}'" for w in NAMED_WEIGHTS))


def short_layer(layer: str) -> str:
    """A registry block's short name: ``block_13_expand_relu`` -> ``block_13``, ``block2a_project_bn`` -> ``block2a``.

    Only for the registry's blocks (``Backbone.block_names``): applied to any other layer it can give a name that
    means another layer, or none (EfficientNet's ``block2b_project_bn``, the branch before the skip, became
    ``block2b``). ``layer_label`` is what to show for any layer."""
    return layer.replace("_expand_relu", "").replace("_project_bn", "")


def layer_name(backbone: Backbone | None, name: str) -> str:
    """The layer a user's name means: a registry block's short name (``block_13``, as probe.png labels it) is its
    layer (``block_13_expand_relu``, the one a cache stores); any other name is itself.

    The one resolution of layer names: extract's ``--layers`` (``resolve_layers``), and probe's ``--layers``,
    train's and curve's ``--layer`` (``Cache.layer``) all take names through it."""
    return backbone.block_names.get(name, name) if backbone is not None and isinstance(name, str) else name


def layer_label(backbone: Backbone | None, layer: str) -> str:
    """How to show ``layer`` (probe.png's axis, lists of cached layers): its short name where ``layer_name`` takes
    that back to it, else its full name. Two layers never share a label: short names are the registry's, one per
    block, and no layer of the network is named like one (tests/test_backbones.py)."""
    short = short_layer(layer)
    return short if short != layer and layer_name(backbone, short) == layer else layer


def unknown_layer(name: str, network: str, choices: Iterable[str], how: str) -> FeatcacheError:
    """The one line of a layer ``name`` that ``network`` lacks: the nearest of ``choices`` and ``how`` to name one
    (``Backbone.layers_help``). Said when a ``ModelSpec`` is made (a name shaped like a block's: ``resolve_layers``)
    and by the check on the network (``mapper.feature_maps``)."""
    from featcache.validate import closest

    near = closest(name, choices)
    hint = f"did you mean {near!r}? " if near else ""
    return FeatcacheError(f"unknown layer {name!r} for {network} ({hint}{how})")


def resolve_layers(backbone: Backbone, layers: str | list[str] | None) -> list[str]:
    """``None`` -> the final output; ``"blocks"`` -> every block plus the final output; a block's short name
    (``block_13``, as probe.png labels it) -> its layer (``block_13_expand_relu``), the one a cache stores.

    A name shaped like a block's that is none (``block_99``: ``Backbone.block_shaped``) is refused here, when a
    ``ModelSpec`` is made: ``ModelSpec(layers="block_99")`` was taken, and refused at extract after the data's
    digest and Keras's import (16 s; a notebook user). Other names beyond the registry's are checked on the
    network itself (``mapper.check_layers``), once a cache hit is ruled out: building it needs Keras, which a hit
    never imports."""
    if layers is None:
        return [backbone.final_layer]
    # a comma list by the one rule of them (validate.list_items): "a,,b" is refused, as --sizes 10,,20 is
    names = list_items(layers, "--layers") if isinstance(layers, str) else list(layers)
    names = [n for n in names if n]
    if not names:
        raise FeatcacheError(f"{option('--layers')} is empty; give layer names separated by commas, or 'blocks'")
    out: list[str] = []
    for n in names:
        for m in backbone.known_layers if n == "blocks" else [layer_name(backbone, n)]:
            if m not in backbone.known_layers and backbone.block_shaped(m):
                # a block whose layer keeps its full name (MobileNetV3's expanded_conv_2_add) is that name's nearest
                whole = [k for k in backbone.known_layers if k.startswith(m + "_")]
                raise unknown_layer(m, backbone.name, whole or [*backbone.block_names, *backbone.known_layers],
                                    backbone.layers_help())
            if m not in out:
                out.append(m)
    return out


def network_order(backbone: Backbone, layers: list[str], image_size: int | None = None) -> list[str]:
    """``layers`` sorted by their position in the network (input first).

    The registry's block list is already in network order; any other layer
    needs the architecture, which is built untrained (only its topology is read).
    """
    known = list(backbone.known_layers)
    if all(name in known for name in layers):
        return sorted(layers, key=known.index)
    net = backbone.architecture(image_size or backbone.default_size).layers
    position = {l.name: i for i, l in enumerate(net)} | {backbone.final_layer: len(net)}  # the output: last
    missing = [name for name in layers if name not in position]
    if missing:
        raise FeatcacheError(f"{named('layer', missing)} {agreeing(len(missing), 'is', 'are')} not in {backbone.name}; the cache does not match its backbone")
    return sorted(layers, key=position.__getitem__)
