"""Inference runtimes: how the mapper's frozen network runs (issue 14).

One class per runtime, all with the same small interface:

- ``available()``: the runtime's package imports (and, for the converted
  runtimes, Keras runs on TensorFlow, which the conversion needs);
- ``build(spec, batch_size)``: a function ``uint8 batch -> [pooled features
  per layer]`` in the order of ``spec.layers``.

``tensorflow`` runs the Keras model itself (on whatever backend Keras uses:
JAX on the GPU machine). ``onnxruntime`` and ``openvino`` run one ONNX file
converted from that same Keras model (by tf2onnx, as ``model.export(format="onnx")``
converts it), preprocessing included: the ONNX ``Resize`` (half-pixel, linear)
reproduces TensorFlow's bilinear resize to 6e-6, and running it inside the
graph was as fast as the numpy alternative (docs/benchmarks.md, "Inference
runtimes (issue 14)"). The features agree with TensorFlow's to about 2e-4:
over all 70,000 Fashion-MNIST images at 96 px out_relu (values up to 6.0)
differed by 1.69e-4 at most, every other block layer by under 1e-4, and on
photos only the first block layer of a mostly white one by more (6.6e-4);
tests/test_runtimes.py holds these bounds (docs/benchmarks.md, "How close the
runtimes' features are"). No lesson accuracy moved by more than one test image
(docs/results.md), so the runtime is not part of a cache's identity.

``xnnpack`` runs a TFLite file converted from the same Keras model
(``TFLiteConverter``, float32) on TensorFlow Lite's XNNPACK kernels: faster
than ONNX Runtime on AVX-512 CPUs (1.3x in the pipeline at 96 px on an Intel
Xeon, level on an AMD EPYC), but its features differ from TensorFlow's by up to
1.93e-4 over all 70,000 Fashion-MNIST images (the others 1.69e-4; 1.93e-4 again when measured again), 3.5% short
of the 2e-4 the runtimes promise, and it is not measured on AVX2 CPUs; with its conversion cached it still imports
TensorFlow for ``tf.lite`` (a 38 s start at load 25, against ONNX Runtime's 1.2 s), so ``auto`` leaves it out (asked
for by name; docs/benchmarks.md, "XNNPACK measured again").

A converted file is made once per :class:`ConversionSpec` and converter versions and
kept under ``paths.runtime_dir()/<key>.onnx`` (``.tflite``; ``paths.DEFAULT_RUNTIME_DIR`` by default, one
folder per user, or ``$FEATCACHE_RUNTIME_DIR``: ``paths.RUNTIME_DIR_WORDS``), written atomically and only
after its outputs were checked against the Keras model, with its SHA-256
beside it (checked on every use), so a half-written, wrong or since damaged
conversion is never loaded. ONNX Runtime and OpenVINO read the same ONNX file.

A spec is anything with the interface of :class:`ConversionSpec`: ``build_keras()``,
``key()``, ``layers`` (one output each), ``raw_shape`` (the input of its probe
batches), ``input_shape`` (the converted graph's input, ``None`` for a size
left open), ``probes()`` and ``what`` (its name in messages). The other one is
``deploy.model.ExportedModelSpec``: a model file of ``featcache export``, keyed
by the file's content, so ``predict`` runs on the same runtimes.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import sys
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterator

import numpy as np

from featcache import paths
from featcache import _lazy
from featcache._lazy import native_stderr_quiet
from featcache.errors import (CacheBusy, FeatcacheError, example, first_line, given, in_the_way, named_option, one_line,
                              option, unknown, warn)
from featcache.validate import MAX_FILE_BYTES, read_at_most

if TYPE_CHECKING:
    import openvino
    from keras import Model as KerasModel

Forward = Callable[[np.ndarray], list[np.ndarray]]

# Bump when the conversion (what goes into the ONNX graph) changes: of every model (the extractor's and an
# exported model's, deploy.model), or of the extractor's alone.
CONVERSION_VERSION = 1
# 2: no resize where the images come at the model's size (the same features, to the bit; a conversion of version 1
# is converted again, once). An exported model takes any size, so its graph keeps the resize and its key (a review:
# bumping CONVERSION_VERSION re-keyed those too).
EXTRACTOR_CONVERSION_VERSION = 2
# A conversion whose outputs differ from Keras's by more than this on a probe
# batch is refused. Real images agree to 7.4e-5 at most (all 17 layers of
# --layers blocks, 256 Fashion-MNIST images at 96 px; 1.17e-4 over the lesson's
# 7,000); random noise, the probe, to 1.6e-4.
PROBE_TOLERANCE = 1e-3


@dataclass(frozen=True)
class ConversionSpec:
    """What the extractor network is: everything a converted model depends on."""

    backbone: str
    weights: str  # "imagenet", "random" or an absolute path
    image_size: int
    layers: tuple[str, ...]
    raw_shape: tuple[int, ...]
    # The weights' identity the extraction checked (``Mapper.weights_id``): the bytes the network loads must be those.
    weights_id: str | None = field(default=None, compare=False)

    def build_keras(self) -> KerasModel:
        from featcache.embedding.backbones import get_backbone
        from featcache.embedding.mapper import build_extractor

        return build_extractor(get_backbone(self.backbone), self.weights, self.image_size, list(self.layers), self.raw_shape,
                               self.weights_id)

    def identity(self) -> dict:
        """The conversion's identity: the weights by content, the pixel pipeline, the converter versions."""
        from featcache.embedding.backbones import get_backbone, weights_identity

        return {
            "conversion_version": EXTRACTOR_CONVERSION_VERSION,
            "backbone": self.backbone,
            # imagenet by its file's content too: the word let a conversion of weights since replaced run on (a tester)
            "weights": weights_identity(self.weights, self.backbone, self.image_size),
            "image_size": self.image_size,
            "layers": list(self.layers),
            "raw_shape": list(self.raw_shape),
            "preprocessing": get_backbone(self.backbone).preprocessing,
            "converter": converter_versions(),
        }

    def key(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True).encode()
        return f"{self.backbone}-{self.image_size}px-{hashlib.sha256(blob).hexdigest()[:20]}"

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        return self.raw_shape

    @property
    def what(self) -> str:
        return self.backbone

    # What a conversion notice says is converted, and what one conversion serves (``converted_model``)
    converting: ClassVar[tuple[str, str]] = ("the network", "once, for this backbone, size and layers")

    def probes(self) -> list[np.ndarray]:
        """Random uint8 batches the conversion is checked on."""
        return [np.random.default_rng(0).integers(0, 256, size=(2, *self.raw_shape), dtype=np.uint8)]


# The converted runtimes' own telemetry, and the environment that switches it off. Both start it when the package is
# imported and read their switch then, once, so featcache imports them only through ``import_runtime``, which sets
# these for the import and puts the environment back after it (docs/install.md, "Offline use").
TELEMETRY_OFF: dict[str, dict[str, str]] = {
    # ONNX Runtime's 1DS telemetry on Linux and macOS (since 1.29; 1.32 here): importing onnxruntime wrote a device
    # id and an event queue to ~/.cache/Microsoft/DeveloperTools/.onnxruntime (deviceid, onnxruntime.db: OS, CPU,
    # Python's path), and 9 s later its native uploader asked for mobile.events.data.microsoft.com:443 (a DNS query,
    # or a CONNECT to a proxy), again every few seconds. ORT_DISABLE_TELEMETRY=1, the variable its library reads
    # (microsoft/onnxruntime#27379), is its opt-out for the process: set at import, no file was written and no query
    # made in 30 s of running a model (strace). Its disable_telemetry_events() comes too late: after the import.
    "onnxruntime": {"ORT_DISABLE_TELEMETRY": "1"},
    # OpenVINO (2026.4; openvino-telemetry 2025.2): openvino/__init__.py imports openvino.tools.ovc, whose __init__
    # runs init_ovc_telemetry('OpenVINO') and telemetry.send_event("ov", "import", "general_import"). With no
    # consent file that counts as consent (enable_opt_in_dialog=False): it wrote ~/intel/openvino_ga_cid and
    # ~/intel/stats and a forked process posted the event to www.google-analytics.com (backend_ga4.send). Its
    # documented opt-out, 'opt_in_out --opt_out', writes ~/intel/openvino_telemetry; the switch it reads from the
    # environment is disable_in_ci, which init_ovc_telemetry passes: CI=true (OptInChecker._run_in_ci) declines
    # before the consent file is read, and nothing is written or sent.
    "openvino": {"CI": "true"},
}
# Orders import_runtime's callers only, so two of them do not put each other's variables back wrongly. os.environ is
# process-wide: while a runtime imports, every thread (and any program started then) sees its switch set. Found free
# in a forked child (_lazy.ForkSafeLock): a worker forked while a thread of the parent imported OpenVINO (seconds)
# waited for good at its own first import of ONNX Runtime, the lock inherited held with no thread to release it.
_ENVIRON_LOCK = _lazy.ForkSafeLock(reentrant=True)


def import_runtime(name: str) -> ModuleType:
    """``import name``, with that package's telemetry off (:data:`TELEMETRY_OFF`) when this is its first import.

    The variables are set for the import only and then put back as they were, so the user's environment, and the
    programs this process starts later, are left as they were. A package imported before featcache (by the user's
    own code) started its telemetry then, as the user's environment said."""
    module = sys.modules.get(name)
    # Only a finished import returns at once: Python puts a module in sys.modules before its body has run, and a
    # second thread that took it from there got openvino without its Core (a review). import_module waits on Python's
    # own import lock for a module another thread is importing.
    if module is not None and not getattr(getattr(module, "__spec__", None), "_initializing", False):
        return module
    with _environment(TELEMETRY_OFF.get(name, {})):
        return importlib.import_module(name)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` set inside the block, as it was after it."""
    if not values:
        yield
        return
    with _ENVIRON_LOCK:
        before = {key: os.environ.get(key) for key in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for key, value in before.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def converter_versions() -> dict[str, str | None]:
    """What makes the ONNX graph: part of every converted model's key. From the packages' metadata
    (``_lazy.installed_version``, the same strings as their ``__version__``), not by importing them: finding a
    cached conversion imported Keras and TensorFlow, nearly all of a 20 s start (docs/benchmarks.md, "Starting on a
    cached conversion")."""
    from featcache._lazy import installed_version

    return {name: installed_version(name) for name in ("keras", "tensorflow", "tf2onnx", "onnx")}


def _versions(*modules: str) -> dict[str, str | None]:
    out = {}
    for name in modules:
        try:
            out[name] = import_runtime(name).__version__
        except Exception:  # missing, or broken on import: no converted model for this environment
            out[name] = None
    return out


def _installed(name: str) -> bool:
    """Whether module ``name`` is there to import (``importlib.util.find_spec``), without importing it."""
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: a module in sys.modules without a spec
        return False


def _keras_on_tensorflow() -> bool:
    """Whether Keras runs on TensorFlow, which a conversion needs; asked without importing Keras (``keras_backend``),
    so a run that only loads a cached conversion never imports it."""
    from featcache._lazy import keras_backend

    return keras_backend() == "tensorflow"


# Device nodes without which TensorFlow on Linux sees no GPU: NVIDIA's driver (CUDA), AMD's (ROCm), WSL's.
GPU_DEVICE_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd", "/dev/dxg")


def _tensorflow_sees_gpu() -> bool:
    """Whether TensorFlow sees a GPU (``auto`` then runs it, not the converted runtimes, which are CPU builds). On a
    Linux machine with none of ``GPU_DEVICE_NODES`` it cannot, which is said without importing TensorFlow (seconds
    to tens of seconds: ``keras_backend``); elsewhere TensorFlow is asked."""
    if "tensorflow" not in sys.modules and sys.platform.startswith("linux") \
            and not any(os.path.exists(node) for node in GPU_DEVICE_NODES):
        return False
    tf = _lazy.tensorflow()

    return bool(tf.config.list_physical_devices("GPU"))


class Runtime:
    """How the extractor runs; subclasses name one runtime."""

    name: ClassVar[str]
    package: ClassVar[str | None] = None  # pip name of what it needs beyond TensorFlow
    # whether a model's float64 operations stay float64: OpenVINO (compiled with INFERENCE_PRECISION_HINT f32) and
    # TFLite's XNNPACK run them in float32 (helper-201's ov.py: a float64 MatMul lost its precision)
    keeps_float64: ClassVar[bool] = True

    def available(self) -> bool:
        raise NotImplementedError

    def why_unavailable(self) -> str:
        return f"{self.name} is not installed (pip install {self.package})"

    def build(self, spec: ConversionSpec, batch_size: int | None, runtime_dir: Path,
              lock_timeout: float | None = None) -> Forward:
        """``lock_timeout``: seconds to wait at most for another process converting the same model (a converted
        runtime's; None: until it is done), then ``ConversionBusy``."""
        raise NotImplementedError


class TensorFlowRuntime(Runtime):
    """The Keras model itself, on Keras's backend (TensorFlow on CPUs, JAX on the GPU machine)."""

    name = "tensorflow"

    def available(self) -> bool:
        return True

    def build(self, spec: ConversionSpec, batch_size: int | None, runtime_dir: Path,
              lock_timeout: float | None = None) -> Forward:
        from featcache.embedding.mapper import compiled

        if not isinstance(spec, ConversionSpec):  # an exported model (predict, evaluate): ``_model_key``
            # photos come at its size: run without the resize there (``compiled``'s exact), other sizes resized.
            # build_keras loads the network from the bytes the runner hashed (``ModelFile``): what is kept under a
            # model's SHA-256 is the network of bytes of that SHA-256, whatever its file does meanwhile.
            forward, _ = _BUILT.kept(_model_key(spec, batch_size), lambda key: compiled(
                spec.build_keras(), batch_size, exact=spec.raw_shape, state=getattr(spec, "state", None)))
            return forward

        def build(key):
            # Loaded only from bytes of the key's identity (``backbones.checked_weights``, one line otherwise): what
            # is kept under a weights digest is a network of those weights, whatever the file does meanwhile.
            checked = spec if key is None or spec.weights_id is not None else replace(spec, weights_id=key[1])
            return compiled(checked.build_keras(), batch_size)

        forward, hit = _BUILT.kept(_built_key(spec, batch_size), build)
        if hit and spec.weights == "random":
            _reseed()  # as building does: what the process draws next does not depend on a hit
        return forward


class _Built:
    """The process's last few built TensorFlow extractors, least recently used dropped first (thread-safe)."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key) -> Forward | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return None

    def put(self, key, forward: Forward) -> Forward:
        with self._lock:
            self._items[key] = forward
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return forward

    def kept(self, key, build: Callable[[Any], Forward]) -> tuple[Forward, bool]:
        """The forward kept under ``key``, or ``build(key)``'s, kept (not when ``key`` is None); and whether it was
        kept already. The one get-or-build of extractors and exported models alike."""
        forward = None if key is None else self.get(key)
        if forward is not None:
            return forward, True
        forward = build(key)
        if key is not None:
            self.put(key, forward)
        return forward, False

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


# Building MobileNetV2 and tracing its tf.function is nearly all of a small
# extraction's time (9.2 s of 9.4 s for 72 images at 32 px, against 0.22 s
# reused; docs/benchmarks.md, "Test suite"), so a process that extracts again
# with the same model (a notebook, the test suite) reuses the forward
# function: a forward pass changes no weight. Each one holds 50-100 MB here
# (RSS after building and one batch, 32-224 px, 1 or 17 layers): 8 of them
# are under 1 GB. An exported model's forward (``_model_key``) is kept among
# them, of its size too. ``forget_built()`` frees them.
_BUILT = _Built(size=8)


def forget_built() -> None:
    """Drop every built TensorFlow extractor and exported model's forward this process keeps for reuse (their memory
    goes back)."""
    _BUILT.clear()


def _built_key(spec: ConversionSpec, batch_size: int | None) -> tuple | None:
    """Everything the built network depends on: the spec, the weights by their content, the batch size on JAX.

    The weights are known by their identity (``weights_identity``: ``random``, or the sha256 of the file's bytes,
    ``imagenet``'s in Keras's cache too): the one the extraction checked and records (``spec.weights_id``), else the
    file's now. A network is kept under it only once loaded from bytes of that digest (``TensorFlowRuntime.build``).
    The file was known by its resolved path, size, mtime and ctime, without its inode, which the digest's own memo
    (``backbones.weights_digest``) has: other weights of the same size renamed over it with their mtime kept (rsync
    -a does) on a file system whose ctime is its mtime (sshfs reports it so) got the new identity and the old
    weights' network, their features stored under the new weights' identity (helper-311's brief). ``imagenet`` was
    known by the word before that. None (not kept) when the file cannot be read.
    """
    from featcache._lazy import keras
    from featcache.embedding.backbones import weights_identity

    identity = spec.weights_id
    if identity is None:
        try:
            identity = weights_identity(spec.weights, spec.backbone, spec.image_size)
        except OSError:  # missing or unreadable: the build itself says so, naming the file
            return None
    # XLA compiles for one batch shape (mapper.compiled); TensorFlow traces once for any.
    return spec, identity, batch_size if keras().backend.backend() == "jax" else None


def _model_key(spec: Any, batch_size: int | None) -> tuple | None:
    """The key an exported model's compiled forward is kept under: the SHA-256 of the bytes it is loaded from
    (``ModelFile.digest``, the one hash a run takes of its file), and the batch size on JAX. Keras's ``load_model``
    of the file (3.2 s for a 32 px MobileNetV2 model here) and the trace (1.7 s) were paid on every predict and
    evaluate of a process: a notebook predicting again on the same model, and the test suite (docs/benchmarks.md,
    "Exported models kept in a process"). A file replaced is another digest, loaded again; a copy elsewhere is the
    same one. The runner still hashes the file after scoring (``ModelRunner.check_unchanged``).

    None (not kept) for a loaded model's run (``LoadedModel``: ``network`` and ``state`` given): the network traced is
    the caller's object, which may differ from its bytes in more than weights (a layer's attribute set by hand), so
    neither the model's digest nor a digest of ``state`` says what that trace computes; the loaded model keeps its
    runners itself (``LoadedModel.runner``)."""
    from featcache._lazy import keras

    if getattr(spec, "network", None) is not None or getattr(spec, "state", None) is not None:
        return None
    return "model", spec.digest, batch_size if keras().backend.backend() == "jax" else None


def _reseed() -> None:
    from featcache.embedding.backbones import seed_random_weights

    seed_random_weights()


@dataclass(frozen=True)
class ConvertedFormat:
    """A file format a converted runtime loads: its suffix, its name in messages, and how it is made from Keras."""

    suffix: str
    label: str
    export: Callable[..., None]  # (keras model, spec, out path) -> None; FeatcacheError when it cannot convert


# The exporters are looked up when called (tests replace the module's functions).
ONNX = ConvertedFormat(".onnx", "ONNX", lambda *a: _export_onnx(*a))
TFLITE = ConvertedFormat(".tflite", "TFLite", lambda *a: _export_tflite(*a))


class BadConversion(FeatcacheError):
    """A converted model file that is not the conversion it is filed as (its checksum, its load, its outputs): what
    ``_ConvertedRuntime.build`` converts again, once. Only these: a full temp folder for the private copy a runtime
    loads was taken for one, and the model converted again (tens of seconds, a sound conversion replaced) to fail
    the same way (a review, helper-298)."""


class _ConvertedRuntime(Runtime):
    """A runtime that runs a conversion of the Keras model (ONNX unless ``fmt`` says otherwise)."""

    module: ClassVar[str]
    fmt: ClassVar[ConvertedFormat] = ONNX

    def available(self) -> bool:
        if not _keras_on_tensorflow():
            return False
        try:
            import_runtime(self.module)  # what runs the conversion
        except Exception:  # ImportError, or a broken install that fails on import
            return False
        # The converter only found, not imported: tf2onnx imports TensorFlow (seconds to tens of seconds), which a
        # cached conversion does not need. A converter that is there but breaks on import fails the conversion itself,
        # in one line (``_export_onnx``), on which ``auto`` falls back as here.
        return all(_installed(name) for name in ("tf2onnx", "onnx"))

    def why_unavailable(self) -> str:
        if not _keras_on_tensorflow():
            return f"{self.name} needs Keras on TensorFlow to convert the model (KERAS_BACKEND is not tensorflow)"
        return f"{self.name} or its converter is not installed (pip install {self.package} tf2onnx onnx)"

    def build(self, spec: ConversionSpec, batch_size: int | None, runtime_dir: Path,
              lock_timeout: float | None = None) -> Forward:
        # Before any native work: a load's own first run (XNNPACK's) and the conversion's check run the runtime,
        # outside the run lock, whose refusal a check's ``except Exception`` would have called a damaged file.
        _lazy.check_not_forked_mid_run(self.name)
        path = converted_model(spec, runtime_dir, self.load, fmt=self.fmt, lock_timeout=lock_timeout)
        try:
            return self._loaded(path, spec)
        except BadConversion:  # damaged or foreign file under our name (or replaced since its check): convert again, once
            return self._loaded(converted_model(spec, runtime_dir, self.load, force=True, fmt=self.fmt,
                                                lock_timeout=lock_timeout), spec)

    def _loaded(self, path: Path, spec: ConversionSpec) -> Forward:
        """The runtime of the conversion at ``path``, read once: its checksum (``keyed_digest``) is checked in the bytes
        the runtime loads (``load_bytes``). ``converted_model`` checked the file by its path and the runtime read it
        again by path: a file put there between the two (another model's conversion, by ``mv``) ran unchecked (a
        brief, helper-285). A file at fault here is a ``BadConversion``, which ``build`` converts again; any other
        line (a full temp folder for the private copy) is said as it is."""
        data = _checked_conversion(path, spec.key())
        try:
            forward = self.load_bytes(data)
        except FeatcacheError:  # a full temp folder for its private copy: not the file's fault
            raise
        except Exception as exc:  # a damaged file fails inside the runtime in its own ways
            raise BadConversion(f"{self.name} cannot load {path} ({type(exc).__name__}); delete it and run again") from None
        _check_outputs(forward, spec, path)
        return forward

    def load(self, path: Path) -> Forward:
        raise NotImplementedError

    def load_bytes(self, data: bytes) -> Forward:
        """The runtime of a conversion's bytes, read and checked by the caller (``_loaded``): loaded from a private copy
        of them (``validate.private_copy``), as this runtime's loader takes a path; ONNX Runtime takes the bytes."""
        from featcache.validate import private_copy

        with private_copy(data, f"model{self.fmt.suffix}") as copy:
            return self.load(copy)


@dataclass(frozen=True)
class OnnxRuntime(_ConvertedRuntime):
    """ONNX Runtime on the CPU, one run per batch on ``threads`` intra-op threads (default: ONNX Runtime's own, one per core).

    Cutting each batch into one part per core, run at once on one thread
    each, was tried and measured and is not the default: on this 2-core
    machine it made the bare pass faster (1.08-1.16x at 96 px, 1.05x at
    224 px) but not the pipeline a user runs (0.96x at 96 px, 1.02x at 224 px,
    the layouts taking turns in one process; docs/benchmarks.md, "Photos at
    224 px on 2 cores", point 4), and one session's intra-op threads are
    shared by its concurrent runs, so it would leave cores idle on larger
    machines. ``threads`` is for benchmarks and for sharing a machine.
    """

    name: ClassVar[str] = "onnxruntime"
    module: ClassVar[str] = "onnxruntime"
    package: ClassVar[str] = "onnxruntime"
    threads: int | None = None

    def __post_init__(self):
        if self.threads is not None:
            from featcache.validate import positive_int

            positive_int(self.threads, "threads")

    def load(self, path: Path | bytes) -> Forward:
        ort = import_runtime("onnxruntime")
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: its warnings about unused initializers mean nothing to a user
        if self.threads:
            options.intra_op_num_threads = self.threads
        # Idle intra-op threads sleep instead of spinning: the photo pipeline's
        # decoding threads need those cores. 224 px JPEGs, decode and ONNX
        # Runtime on the same 2 cores, 5 interleaved rounds at load 6-9:
        # pipeline median 19.5 images/s without spinning, 17.5 with it (ahead
        # in 4 of 5 rounds); bare pass 23.5 vs 22.7 (docs/benchmarks.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(path if isinstance(path, bytes) else str(path), options,
                                       providers=["CPUExecutionProvider"])
        feed = session.get_inputs()[0].name
        return lambda x: session.run(None, {feed: np.ascontiguousarray(x)})

    def load_bytes(self, data: bytes) -> Forward:
        return self.load(data)  # ONNX Runtime takes the model's bytes: no copy


class OpenVinoRuntime(_ConvertedRuntime):
    name = "openvino"
    keeps_float64 = False
    module = "openvino"
    package = "openvino"

    def compile(self, path: Path) -> openvino.CompiledModel:
        """The ONNX file compiled for this machine's CPU, computing in float32."""
        ov = import_runtime("openvino")
        # f32, always: on CPUs with AMX or AVX512_BF16 (Intel Sapphire Rapids
        # and later) OpenVINO's default is bfloat16, which changed features by
        # up to 1% (3.4e-5 on values of 0.002-0.017; the equality tests fail)
        # and a cache's features must not depend on the machine's CPU.
        return ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})

    def load(self, path: Path) -> Forward:
        compiled = self.compile(path)
        request = compiled.create_infer_request()
        outputs = list(compiled.outputs)
        lock = _lazy.NativeRunLock("openvino")  # a worker forked mid-run is refused (as xnnpack's)

        def run(x: np.ndarray) -> list[np.ndarray]:
            # one request, one call at a time (as xnnpack's runner): predict from two threads on one LoadedModel
            # shares this runner, and the second call was "RuntimeError: Infer Request is busy" (an adversarial
            # tester, h305)
            with lock:
                result = request.infer({0: np.ascontiguousarray(x)})
                return [np.array(result[o]) for o in outputs]  # copies: the request reuses its buffers

        return run


def _interpreter_class():
    """LiteRT's interpreter when installed, else the one inside TensorFlow (deprecated there, still shipped in 2.21)."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter
    except ImportError:
        import warnings

        tf = _lazy.tensorflow()

        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        return tf.lite.Interpreter


@dataclass(frozen=True)
class XnnpackRuntime(_ConvertedRuntime):
    """XNNPACK, TensorFlow Lite's CPU kernels, in float32, on a TFLite file converted from the same Keras model.

    On an AVX-512 AMD EPYC its bare pass was 1.17-1.30x ONNX Runtime's at
    96-128 px, 1.10x at 160 px and level at 224 px, features within 8.6e-5 of
    TensorFlow's; in the extraction pipeline at 96 px the two were level. On an
    Intel Xeon with AVX-512 (2026-12-04) its pipeline at 96 px was 2.83x
    TensorFlow's bare pass against ONNX Runtime's 2.18x, and 1.12x ONNX
    Runtime's bare pass at 224 px, but its out_relu features are further from
    TensorFlow's than the automatic runtimes': 1.93e-4 at most over all 70,000
    Fashion-MNIST images, against their 1.69e-4 (2026-12-06; 1.3e-4 on the
    first measure, docs/benchmarks.md, "XNNPACK" and "How close the runtimes'
    features are"; tests/test_runtimes.py holds it to 2.5e-4, the others to
    2e-4). Not measured on AVX2 CPUs, where ONNX
    Runtime is 2.6-3.4x TensorFlow, and through ``tf.lite`` it imports
    TensorFlow even on a cached conversion (ONNX Runtime does not), so
    ``auto`` does not pick it: ask for it by name (measured again on
    2026-12-06: 1.16-1.31x ONNX Runtime's bare pass, 1.93e-4 again;
    docs/benchmarks.md, "XNNPACK measured again"). Needs nothing beyond TensorFlow (LiteRT's interpreter is used
    when ``ai-edge-litert`` is installed). An interpreter is not thread-safe:
    one run at a time.
    """

    name: ClassVar[str] = "xnnpack"
    module: ClassVar[str] = "tensorflow"
    package: ClassVar[str] = "tensorflow"
    fmt: ClassVar[ConvertedFormat] = TFLITE
    keeps_float64: ClassVar[bool] = False
    threads: int | None = None

    def available(self) -> bool:
        if not _keras_on_tensorflow():
            return False
        try:
            _interpreter_class()
        except FeatcacheError:  # TensorFlow refused in a process forked after it started: said as it is (h344)
            raise
        except Exception:  # ImportError, or a TensorFlow without tf.lite
            return False
        return True

    def why_unavailable(self) -> str:
        if not _keras_on_tensorflow():
            return "xnnpack needs Keras on TensorFlow to convert the model (KERAS_BACKEND is not tensorflow)"
        return "xnnpack needs TensorFlow's tf.lite or ai-edge-litert (pip install ai-edge-litert)"

    def load(self, path: Path) -> Forward:
        # TFLite says "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." on its native stderr when the first
        # run applies the delegate: that run is made here, on one blank image, with fd 2 silenced.
        with native_stderr_quiet():
            interpreter = _interpreter_class()(model_path=str(path), num_threads=self.threads or os.cpu_count() or 1)
            runner = interpreter.get_signature_runner()
            signature = interpreter.get_signature_list()["serving_default"]
            feed = signature["inputs"][0]
            detail = runner.get_input_details()[feed]
            shape = [1 if d < 0 else int(d) for d in detail["shape_signature"]][1:]
            runner(**{feed: np.zeros((1, *shape), dtype=detail["dtype"])})
        # The signature's outputs are output_0..output_N in the Keras model's order; the interpreter's own
        # output list is not (a 3-layer model listed its outputs as :1, :0, :2).
        names = sorted(signature["outputs"], key=lambda n: int(n.rsplit("_", 1)[-1]))
        # A worker forked while a thread of the parent ran the interpreter waited on this lock for good (3 of 3, h314's
        # review); found free, it hung in the interpreter now and then instead: such a worker is refused at once
        # (``NativeRunLock``), one forked while the interpreter was idle runs it (the parent's probabilities).
        lock = _lazy.NativeRunLock("xnnpack")

        def run(x: np.ndarray) -> list[np.ndarray]:
            with lock:  # the runner resizes its input for a new batch size (the last, shorter batch)
                out = runner(**{feed: np.ascontiguousarray(x)})
            return [out[n] for n in names]

        return run


def __getattr__(name: str):
    """``runtimes.ModelSpec``, this class's name until featcache 0.2 (now ``ConversionSpec``: ``featcache.ModelSpec``
    is the user's extraction settings), kept importable for one version with a DeprecationWarning."""
    if name == "ModelSpec":
        warn("featcache.embedding.runtimes.ModelSpec is now ConversionSpec; the old name goes away in "
             "featcache 0.3", DeprecationWarning)
        return ConversionSpec
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


REGISTRY: dict[str, Runtime] = {r.name: r for r in (TensorFlowRuntime(), OnnxRuntime(), OpenVinoRuntime(), XnnpackRuntime())}
RUNTIMES = ("auto", *REGISTRY)


def converts(name: str | None) -> bool:
    """Whether runtime ``name`` runs a conversion of the Keras model (ONNX, TFLite) rather than the model itself:
    only then does preparing it convert (or load a conversion cached earlier)."""
    return isinstance(REGISTRY.get(name or ""), _ConvertedRuntime)
# ``auto`` tries these in order. Fastest first, measured on this 2-core
# machine (docs/benchmarks.md, "Inference runtimes (issue 14)").
AUTO_ORDER = ("onnxruntime", "openvino", "tensorflow")
# How the network runs when nobody says: the fastest installed runtime. Not
# part of a cache's identity, like the engine (features agree to about 2e-4).
DEFAULT_RUNTIME = "auto"
# Below this many images ``auto`` does not convert (a conversion takes 8-20 s on an idle 2-core machine, up to a
# minute under load: docs/benchmarks.md; at 2.5x TensorFlow's ~60-100 images/s it pays back after a
# few thousand images) unless the converted model is already cached. Extraction counts each view of an image (one
# forward pass each): 1,500 images with flips are 3,000 passes.
AUTO_MIN_IMAGES = 2000
# How long a run waits at most for another process converting the same model, where no lock timeout is given:
# twice the slowest conversion measured (7-66 s, docs/benchmarks.md), so a conversion under way is waited for, and a
# frozen one (a Ctrl-Z'd featcache, a hung conversion) costs two minutes, not the run. Then ``auto`` runs TensorFlow
# for this run, and a runtime asked for by name stops with one line (``ConversionBusy``): it waited for as long as the
# holder lived, so a stopped holder held it for ever (a brief, 2026-12-06).
CONVERSION_WAIT_SECONDS = 120.0


def check_runtime(name: Any) -> str:
    """The one check of a runtime's name. Engines call it when they are made: a mistyped name was refused only
    when the mapper was built, after a photo folder was hashed, and never on a cache hit (a review)."""
    if not isinstance(name, str) or not name:
        raise FeatcacheError(f"{option('--runtime')} must be a runtime's name, e.g. {example('--runtime', DEFAULT_RUNTIME)} (got {name!r})")
    if name not in RUNTIMES:
        raise FeatcacheError(unknown(f"runtime {name!r}", RUNTIMES))  # errors.unknown: the one wording
    return name


def float64_refusal(why: str) -> str:
    """The line refusing a runtime that computes in float32 (``keeps_float64`` False) a model that needs float64
    (``why``: what computes in it, e.g. "an SVM head's model")."""
    return (f"{why} computes in float64, which OpenVINO/XNNPACK run in float32; use "
            f"{given('--runtime', 'onnxruntime', repr('onnxruntime'))} or {option('tensorflow', repr('tensorflow'))}")


def build(name: str, spec: ConversionSpec, batch_size: int | None, runtime_dir: Path,
          expected_images: int | None = None, say_small: bool = True,
          float64: str | None = None, views: int = 1, lock_timeout: float | None = None) -> tuple[str, Forward, str | None]:
    """(runtime used, forward, note): ``note`` says why ``auto`` fell back, else None.

    ``lock_timeout``: seconds to wait at most while another process converts the same model (the caller's
    ``--lock-timeout``, extract's ``StoreSpec(lock_timeout=...)``; None: ``CONVERSION_WAIT_SECONDS``). Then a
    runtime asked for by name stops with one line (``ConversionBusy``), and ``auto`` runs TensorFlow for this run
    saying why: a conversion only makes the run faster. A frozen holder (a Ctrl-Z'd featcache) held the other for
    ever, ``auto`` (a reviewer) and then a runtime named with no timeout (a brief).

    ``expected_images``: the images the job runs, if known; ``views``: forward passes per image (extraction's
    ``--views``), so the job is ``expected_images * views`` passes against ``AUTO_MIN_IMAGES``.

    ``float64``: what in the model computes in float64 (``float64_refusal``), for which a runtime that computes in
    float32 is refused by name and skipped by ``auto``.

    A runtime asked for by name that is missing or cannot convert is one
    FeatcacheError line; ``auto`` tries :data:`AUTO_ORDER` and ends on TensorFlow.
    ``say_small`` False: no note for a job too small to repay a conversion
    (auto's choice, not a fallback), nor for a converted runtime missing
    then, which such a job would not have used either (unless its conversion
    is cached): predict said one or the other on every run of a few photos (a
    new-user tester; a review).
    """
    check_runtime(name)
    wait = CONVERSION_WAIT_SECONDS if lock_timeout is None else lock_timeout
    if name != "auto":
        runtime = REGISTRY[name]
        _lazy.check_not_forked_mid_run(name)  # before its availability, which imports (xnnpack: TensorFlow's tf.lite)
        if float64 and not runtime.keeps_float64:
            raise FeatcacheError(float64_refusal(float64))
        if not runtime.available():
            raise FeatcacheError(f"{given('--runtime', name, repr(name))}: {runtime.why_unavailable()}; or use "
                                 f"{given('--runtime', 'auto', repr('auto'))}")
        return name, runtime.build(spec, batch_size, runtime_dir, wait), None
    reasons: list[str] = []
    moot: list[str] = []  # reasons a job too small to convert for makes moot (say_small)
    if _keras_on_tensorflow() and _tensorflow_sees_gpu():
        reasons.append("TensorFlow runs on a GPU here")  # the converted runtimes are the CPU builds
    problem = folder_problem(runtime_dir)
    if problem:  # nowhere to keep a conversion, nor one cached: a small job would not have converted either
        reasons.append(problem)
        moot.append(problem)
    busy = False  # another process converting this model, waited for: no other converted runtime waits again
    for candidate in AUTO_ORDER if not reasons else ("tensorflow",):
        runtime = REGISTRY[candidate]
        if (float64 and not runtime.keeps_float64) or (busy and candidate != "tensorflow"):
            continue  # auto's choice for such a model, not a fallback to explain
        if candidate == "tensorflow":
            if not say_small and small_job(expected_images, views):
                reasons = [r for r in reasons if r not in moot]  # a cached conversion that failed is still said
            # once each; one line whatever a reason quotes (the folder's name: the note is printed as it is)
            note = one_line(f"runtime auto: using tensorflow ({'; '.join(dict.fromkeys(reasons))})") if reasons else None
            return candidate, runtime.build(spec, batch_size, runtime_dir), note
        key = spec.key()
        # only a small job asks whether a conversion is cached; a usable one (~20 ms): one from before keyed checksums is not
        cached = small_job(expected_images, views) and _digest_matches(runtime_dir / f"{key}{runtime.fmt.suffix}", key)
        if not runtime.available():
            reasons.append(runtime.why_unavailable())
            if not cached:  # with its conversion cached, even a small job would have run it: a fallback, said (a review)
                moot.append(reasons[-1])
            continue
        if small_job(expected_images, views) and not cached:
            # one reason for every converted runtime (it named each: "...for onnxruntime; ...for openvino"; a new user)
            reasons.append(small_job_words(expected_images, views))
            moot.append(reasons[-1])
            continue
        try:
            return candidate, runtime.build(spec, batch_size, runtime_dir, wait), None
        except ConversionBusy as exc:  # openvino runs the same ONNX file: it would wait on the same lock again
            reasons.append(exc.reason)
            busy = True
        except FeatcacheError as exc:
            reasons.append(str(exc))
    raise AssertionError("AUTO_ORDER ends on tensorflow")


def small_job(expected_images: int | None, views: int = 1) -> bool:
    """Whether ``expected_images`` in ``views`` views each are too few forward passes to repay converting a model
    (``AUTO_MIN_IMAGES``)."""
    return expected_images is not None and expected_images * views < AUTO_MIN_IMAGES


def small_job_words(images: int, views: int = 1) -> str:
    """Why ``auto`` does not convert for ``images`` in ``views`` views each: images, and the views they are
    multiplied by. "1764 images do not repay converting" counted 252 files of a photo folder, some of them no
    images, times 7 views (a new-user tester). Its words agree with the count (``progress.agreeing``, their one home)."""
    from featcache.progress import agreeing

    if views == 1:
        return (f"{images:,} {agreeing(images, 'image does', 'images do')} not repay converting the model: a conversion "
                f"pays from {AUTO_MIN_IMAGES:,} images, or once one is cached")
    return (f"{images:,} {agreeing(images, 'image', 'images')} x {views} views ({images * views:,} forward passes) do not "
            f"repay converting the model: a conversion pays from {AUTO_MIN_IMAGES:,} passes, or once one is cached")


def preparing_line(what: str, runtime: str) -> str:
    """The status line said before a network is built or loaded (seconds: TensorFlow's import, a conversion): a
    command said nothing meanwhile (predict of 2 images 27 s, export 21-64 s under load; a new-user tester).
    ``what``: "the network" (extraction's), "the model" (a model file's)."""
    return f"preparing {what} on runtime {runtime} ..."


def ready_line(what: str, used: str, seconds: float, why: str | None = None) -> str:
    """The status line once it is built: which runtime runs ``what`` ("network", "model") and after how long, with
    ``why`` (``cached_choice``) where ``auto`` chose it for a reason the user may not guess. Extraction's "network
    ready on onnxruntime in 0.9 s"; predict said its runtime only in --json (a new-user tester)."""
    return f"{what} ready on {used} in {seconds:.1f} s" + (f" ({why})" if why else "")


def cached_choice(asked: str, used: str | None, expected_images: int | None, views: int = 1) -> str | None:
    """Why ``auto`` runs a converted runtime for a job too small to repay a conversion: its conversion was cached
    (``build`` takes one only then). ``auto`` explained itself only where it stayed on TensorFlow (a new-user
    tester)."""
    if asked == "auto" and converts(used) and small_job(expected_images, views):
        return "runtime auto: its conversion was cached"
    return None


_CONVERSIONS = [0]  # conversions this process made (``conversions_made``)


def conversions_made() -> int:
    """How many models this process converted (``converted_model``), so a caller can say whether its build converted
    one or loaded a cached conversion (the lesson said "convert it, or load its cached conversion"; a new-user
    tester)."""
    return _CONVERSIONS[0]


def converted_model(spec: ConversionSpec, runtime_dir: Path, load: Callable[[Path], Forward], force: bool = False,
                    fmt: ConvertedFormat = ONNX, lock_timeout: float | None = None) -> Path:
    """The ``fmt`` file (ONNX, or TFLite) of ``spec``, converted now if it is not cached yet, fails its checksum, or
    ``force``; ``load`` runs it for the check.

    Its checksum is written beside it (``<key>.onnx.sha256``: SHA-256 over the
    key and the file, :func:`keyed_digest`) once the conversion has been
    checked against the Keras model, and compared on every use, so neither a
    damaged file nor another model's file under this key is run: a flipped
    byte in a cached model gave features off by up to 2.9
    (14% on average) that nothing else caught (a tester's 2,000 flipped bytes
    in a 96 px model; it loaded and gave finite outputs of the right shape).
    A file without its checksum (from an older featcache, or a run killed
    between the two writes) is converted again too. Hashing costs about 20 ms
    per use (a 14 MB model). Two processes converting the same key take turns
    (``_converting_alone``): the second uses the first's conversion, waiting for it at most ``lock_timeout``
    seconds (None: until it is done), then ``ConversionBusy``.
    """
    key = spec.key()
    path = Path(runtime_dir) / f"{key}{fmt.suffix}"
    if path.is_file() and not force and _digest_matches(path, key):
        return path
    _check_slots(path)  # before the minutes of converting
    with _converting_alone(path, lock_timeout):
        # another featcache may have converted it while this one waited: use its conversion (not when ``force``d:
        # this process could not load the one there)
        if not force and _digest_matches(path, key):
            return path
        _check_writable(path)  # before the network is built and converted
        return _convert(spec, key, path, load, force, fmt)


# The line of a conversion that waits for another process's conversion of the same model, said once the wait lasts
# a second (``store.lock.WAIT_QUIET_SECONDS``); ``exclusive_lock`` adds "(held by process N)". ``conversion_wait``.
CONVERSION_WAIT = "waiting for another featcache converting the same model"


def lock_timeout_help(cache: bool = False) -> str:
    """The help of ``--lock-timeout`` of a command that may convert a model (extract, predict, evaluate), in one
    place: ``cache``, extract's, whose lock timeout bounds its wait for another process writing the cache too."""
    what = "writes the same cache or converts the same model" if cache else "converts the same model"
    default = (f"until the cache's writer is done; for a conversion, {CONVERSION_WAIT_SECONDS:g} s" if cache
               else f"{CONVERSION_WAIT_SECONDS:g} s")
    return (f"while another process {what}, wait at most this long, then stop with a line naming it, or{' for a conversion' if cache else ''}"
            f" under --runtime auto run tensorflow instead (default: {default})")


def conversion_wait(timeout: float | None) -> str:
    """The wait's line, with how long it lasts at most: ``auto``'s said nothing of giving up after
    ``CONVERSION_WAIT_SECONDS`` (120 s), so a user could not tell it from a wait for ever (a brief)."""
    return f"{CONVERSION_WAIT}{'' if timeout is None else f', giving up after {timeout:g} s'} ..."


class ConversionBusy(CacheBusy):
    """Another process held the conversion lock of the same model for longer than the wait allowed: the line for a
    runtime asked for by name; ``reason``, ``auto``'s words for running TensorFlow instead."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _busy(path: Path, timeout: float) -> ConversionBusy:
    """The lines of a conversion lock (``<key>.onnx.lock``) held beyond ``timeout`` seconds (``ConversionBusy``)."""
    from featcache.store.layout import lock_path
    from featcache.store.lock import UNKNOWN_HOLDER, holder

    who, lp = holder(path), lock_path(path)
    # a holder that wrote no pid of featcache's (another program's flock) is "another process", not "another featcache"
    who = UNKNOWN_HOLDER if who == UNKNOWN_HOLDER else f"another featcache, {who},"
    what = f"{who} is converting the same model and did not finish within {timeout:g} s (lock {lp})"
    return ConversionBusy(f"{what}; wait for it (a longer {named_option('--lock-timeout')}), end that process if it is "
                          f"stuck (a stopped one: 'fg' it in its terminal, or kill it) and run again, or use "
                          f"{tensorflow_words()}", what)


@contextmanager
def _converting_alone(path: Path, timeout: float | None = None) -> Iterator[None]:
    """Hold ``<path>.lock`` (``store.lock.exclusive_lock``) while ``path`` is checked, converted and published with
    its checksum, so a second featcache converting the same key waits and then loads the first's conversion. Two
    conversions at once (two terminals or notebooks meet in the one per-user folder) both converted (18 s each), and
    could leave one's checksum beside the other's model (the export is not byte-deterministic), so the next run
    converted again (a reviewer). The lock only spares work (the checksum guards what is run): one that cannot be
    taken (a read-only folder, a file in the way) converts as before, unlocked, and the write names any problem,
    so ``auto`` still falls back to TensorFlow on it. One held longer than ``timeout`` seconds (None: no limit) is
    ``ConversionBusy``: never converted unlocked beside a holder that may still publish its own."""
    from contextlib import ExitStack

    from featcache.store.atomic import folders_made_for
    from featcache.store.lock import exclusive_lock

    # the lock file needs the folder: made now, gone again (after the lock file) if no conversion is kept
    with folders_made_for(path.parent), ExitStack() as held:
        try:
            os.makedirs(path.parent, exist_ok=True)
        except OSError:  # the conversion's own write says why the folder cannot be made
            pass
        try:
            held.enter_context(exclusive_lock(path, wait_message=conversion_wait(timeout), timeout=timeout))
        except CacheBusy:
            raise _busy(path, timeout if timeout is not None else 0) from None
        except FeatcacheError:
            pass  # no lock to be had: convert unlocked, as before the lock
        yield


def _convert(spec: ConversionSpec, key: str, path: Path, load: Callable[[Path], Forward], force: bool,
             fmt: ConvertedFormat) -> Path:
    """Convert ``spec`` (filed under ``key``) to ``path`` and publish its checksum beside it (``converted_model``)."""
    from featcache.store.atomic import atomic_path, write_text

    runtime_dir = path.parent
    advice = runtime_dir_advice()
    if path.is_file() and not force:  # a review: say why a model that is there is not used
        advice = (f"{path.name} there has no checksum featcache can match (an older featcache converted it, or it was "
                  f"changed) and must be converted again; {advice}")
    from featcache.progress import say

    what, serves = spec.converting
    # one line whatever the folder's name holds (a newline in FEATCACHE_RUNTIME_DIR split it in two; an adversarial tester)
    say(one_line(f"converting {what} to {fmt.label} {serves} (seconds to a minute); later runs load it from {runtime_dir}"))
    model = spec.build_keras()
    with atomic_path(path, advice) as tmp:
        fmt.export(model, spec, tmp)
        _check_conversion(model, spec, tmp, load, fmt.label)
        digest = keyed_digest(tmp, key)  # publish gives it the user's normal permissions, not mkstemp's 0600
        _check_slots(path)  # again: the conversion took its seconds; nothing is replaced if the checksum cannot follow
    write_text(_digest_path(path), digest + "\n", advice)
    _CONVERSIONS[0] += 1
    return path


# What to do when the converted-model folder cannot be written (it is not --out).
# Read after "free some space or" (a full disk) and after "cannot write X (why);": both must read as a sentence
# ("free some space or converted models are kept in..." did not; an adversarial tester).
def runtime_dir_advice() -> str:
    return f"set {paths.RUNTIME_DIR_ENV} to another folder (converted models are kept there), or use {tensorflow_words()}"


def tensorflow_words() -> str:
    """The runtime every model runs on, as the caller gives it: ``--runtime tensorflow``, ``runtime='tensorflow'``."""
    return option("--runtime tensorflow", "runtime='tensorflow'")


def _digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _check_slots(path: Path) -> None:
    """Nothing a write cannot replace at the converted model's name or its checksum's: a folder (a link, to a folder
    too, is replaced as itself). A folder there ended in a traceback after the conversion (IsADirectoryError), under
    the default ``auto`` too, and one at the checksum's only once the model had been replaced (an adversarial
    tester). ``auto`` falls back to TensorFlow on this line, naming it."""
    for slot, role in ((path, "converted model"), (_digest_path(path), "converted model's checksum")):
        if os.path.isdir(slot) and not os.path.islink(slot):
            raise in_the_way(slot, role, "a folder", runtime_dir_advice())


def _check_writable(path: Path) -> None:
    """The converted model's folder takes a file, or the line its write would give (``store.atomic.atomic_path``'s
    "cannot write PATH (why); advice"), said before the seconds to a minute of building and converting the model: a
    read-only FEATCACHE_RUNTIME_DIR was said only after them (~25 s; an adversarial tester). ``auto`` falls back on
    it as on the write's. Called within ``_converting_alone``, whose folders are removed again when it fails."""
    import tempfile

    try:
        os.makedirs(path.parent, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=".write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        from featcache.errors import is_no_space, no_space

        if is_no_space(exc):
            raise no_space(path, advice=runtime_dir_advice(), exc=exc) from None
        raise FeatcacheError(f"cannot write {path} ({exc.strerror}); {runtime_dir_advice()}") from None


# What a converted model's checksum covers besides its bytes: the key it is filed under. A plain SHA-256 of the
# file only proved the file was whole: another model's file copied (or linked) under this key, with its own
# checksum beside it, was used, and a random-weights cache held ImageNet features (an adversarial tester).
DIGEST_DOMAIN = b"featcache converted model v1\n"
# A checksum file holds 64 hex digits and a newline; anything longer is not one.
DIGEST_FILE_BYTES = 128
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def keyed_digest(path: Path, key: str) -> str:
    """SHA-256 over the key a converted model is filed under and the file's bytes: the checksum written beside it."""
    h = hashlib.sha256(DIGEST_DOMAIN + key.encode() + b"\n")
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _checked_conversion(path: Path, key: str) -> bytes:
    """The bytes of the conversion at ``path``, read once, whose checksum filed beside it (``keyed_digest``) they
    match, or a ``BadConversion`` (``_ConvertedRuntime.build`` converts again on it)."""
    side = _digest_path(path)
    try:
        if not (_regular(path) and _regular(side)):
            raise OSError("not a regular file")
        # bounded as the model converted is (a conversion holds its weights, as float32): a file of many GB put under
        # a conversion's name was read whole; refused unread, it is converted again
        data = read_at_most(path, MAX_FILE_BYTES, "converted model", "delete it and run again")
        want = _recorded_digest(side)
    except OSError as exc:
        raise BadConversion(f"cannot read {path} or its checksum ({type(exc).__name__}); delete them and run again") from None
    except FeatcacheError as exc:  # past the bound (read_at_most's line): a file at fault, which build converts again
        raise BadConversion(str(exc)) from None
    if _keyed(data, key) != want:
        raise BadConversion(f"{path} does not match its checksum {side.name} (changed since it was checked); "
                             "delete it and run again")
    return data


def _recorded_digest(side: Path) -> str:
    """The checksum written beside a conversion (``_digest_path``), as text; at most ``DIGEST_FILE_BYTES`` read."""
    with open(side, "rb") as f:
        return f.read(DIGEST_FILE_BYTES).decode("ascii", "replace").strip()


def _keyed(data: bytes, key: str) -> str:
    """``keyed_digest`` of bytes read."""
    return hashlib.sha256(DIGEST_DOMAIN + key.encode() + b"\n" + data).hexdigest()


def _regular(path: Path) -> bool:
    """A regular file (links followed): never open a FIFO or a device to read it (a FIFO as the checksum hung extract)."""
    import stat

    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _digest_matches(path: Path, key: str) -> bool:
    """Whether ``path`` still has the checksum written beside it when it was converted, checked and filed under ``key``."""
    side = _digest_path(path)
    if not (_regular(path) and _regular(side)):
        return False
    try:
        want = _recorded_digest(side)
        # Hashed only where a checksum is there to match and the file could be a conversion (``_checked_conversion``'s
        # bound): a 20 GB sparse file under a conversion's name, beside "deadbeef", was read whole, twice, before it
        # was converted again (195 s of "model build"; an adversarial tester, 2026-12-07). A file within the bound
        # beside 64 hex digits is still read (4 GB: 46 s), as the checksum's only test.
        if not _SHA256_HEX.fullmatch(want) or os.stat(path).st_size > MAX_FILE_BYTES:
            return False
        return want == keyed_digest(path, key)
    except OSError:
        return False


def _export_onnx(model, spec: ConversionSpec, out: Path) -> None:
    import contextlib
    import io
    import logging
    import warnings

    tf = _lazy.tensorflow()

    signature = [tf.TensorSpec([None, *spec.input_shape], tf.uint8, name="images")]
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    # tf2onnx's Gemm rewriter warns on the root logger of any float64 product (an SVM model's kernel, deploy.svmgraph:
    # "WARNING:root:For now, onnxruntime only support float32 type for Gemm rewriter", twice per conversion); it then
    # leaves the product as MatMul, which ONNX Runtime runs in float64. Quiet for the conversion only, and only it: a
    # filter on the root logger (raising root's level dropped every other thread's warnings meanwhile), and a
    # NullHandler where root has none, else logging.warning's basicConfig installs a stderr handler for good.
    root = logging.getLogger()
    not_gemm = lambda record: "Gemm rewriter" not in record.getMessage()  # noqa: E731
    null = logging.NullHandler() if not root.handlers else None
    root.addFilter(not_gemm)
    if null is not None:
        root.addHandler(null)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # tf2onnx prints its progress
            warnings.simplefilter("ignore", FutureWarning)  # Keras's numpy-2 patch of tf2onnx probes np.object
            _keras_to_onnx(model, signature, out)
    except Exception as exc:  # the converter raises many types for an op it cannot map
        detail = first_line(exc, 160)
        raise FeatcacheError(f"cannot convert {spec.what} to ONNX ({type(exc).__name__}: {detail}); "
                             f"use {tensorflow_words()}") from None
    finally:
        root.removeFilter(not_gemm)
        if null is not None:
            root.removeHandler(null)


def _keras_to_onnx(model, signature: list, out: Path) -> None:
    """What Keras's ``model.export(out, format="onnx")`` does on TensorFlow, less its one slow step that an ONNX file
    does not need. Keras wraps ``model.__call__`` in this same ``tf.function`` and hands it to tf2onnx, but first walks
    every object the model tracks for a SavedModel it then does not write (``ExportArchive._filter_and_track_resources``):
    the conversion of MobileNetV2 to its last layer took 0.71x the time at 96 px (medians 5.18 -> 3.70 s) and 0.69x at
    224 px (5.89 -> 4.16 s), to all 17 block layers 0.96x (7.33 -> 6.33 s; docs/benchmarks.md, "ONNX conversion
    without the SavedModel walk"). The outputs are the same (the same largest difference from Keras, 5.5e-5), and
    every conversion is checked against the Keras model before it is kept (``_check_conversion``). Keras's numpy-2
    patch of tf2onnx lives in a private module; a Keras without it converts through ``model.export`` as before."""
    tf = _lazy.tensorflow()
    try:
        import tf2onnx
        from keras.src.export.tf2onnx_lib import patch_tf2onnx
    except ImportError:
        model.export(str(out), format="onnx", verbose=False, input_signature=signature)
        return
    patch_tf2onnx()
    function = tf.function(model.__call__, input_signature=signature, autograph=False)
    tf2onnx.convert.from_function(function, signature, output_path=str(out))


def _export_tflite(model, spec: ConversionSpec, out: Path) -> None:
    """The Keras model as a float32 TFLite flatbuffer (no quantization: the features must stay TensorFlow's)."""
    import contextlib
    import io
    import logging

    tf = _lazy.tensorflow()

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        # It prints the SavedModel it writes on the way, and its C++ side a NodeDef warning.
        with contextlib.redirect_stdout(io.StringIO()), native_stderr_quiet():
            flat = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    except Exception as exc:  # the converter raises many types for an op it cannot map
        detail = first_line(exc, 160)
        raise FeatcacheError(f"cannot convert {spec.what} to TFLite ({type(exc).__name__}: {detail}); "
                             f"use {tensorflow_words()}") from None
    Path(out).write_bytes(flat)


def _check_conversion(model, spec: ConversionSpec, path: Path, load: Callable[[Path], Forward], label: str = "ONNX") -> None:
    """Refuse a conversion whose outputs are not Keras's, in Keras's order (before it is published)."""
    try:
        forward = load(path)
    except Exception as exc:  # an op the runtime cannot load, in its own exception types
        raise FeatcacheError(f"the {label} conversion of {spec.what} does not run ({type(exc).__name__}); "
                             f"use {tensorflow_words()}") from None
    for x in spec.probes():
        want = model(x, training=False)
        want = [np.asarray(w) for w in (want if isinstance(want, (list, tuple)) else [want])]
        try:
            got = forward(x)
        except Exception as exc:  # an op the runtime cannot run, in its own exception types
            raise FeatcacheError(f"the {label} conversion of {spec.what} does not run ({type(exc).__name__}); "
                                 f"use {given('--runtime', 'tensorflow', repr('tensorflow'))}") from None
        diffs = [float(np.abs(g - w).max()) if g.shape == w.shape else np.inf for g, w in zip(got, want)]
        if len(got) != len(want) or max(diffs) > PROBE_TOLERANCE:
            raise FeatcacheError(f"the {label} conversion of {spec.what} does not reproduce the Keras model "
                                 f"(largest difference {max(diffs, default=np.inf):.2g}); use {given('--runtime', 'tensorflow', repr('tensorflow'))}")


def _check_outputs(forward: Forward, spec: ConversionSpec, path: Path) -> None:
    """A cached file must still give one (2, D) output per layer; else it is not ours (or damaged)."""
    try:
        out = forward(spec.probes()[0])
        ok = len(out) == len(spec.layers) and all(o.ndim == 2 and len(o) == 2 and np.isfinite(o).all() for o in out)
    except Exception:  # a damaged file fails inside the runtime in its own ways
        ok = False
    if not ok:
        raise BadConversion(f"converted model {path} does not fit this model; delete it and run again")


def runtime_dir() -> Path:
    """Where converted models live (``paths.runtime_dir``), absolute so Ray workers find it."""
    return paths.runtime_dir().resolve()


def conversions_dir(name: str) -> Path:
    """The folder runtime ``name`` keeps its conversions in (``runtime_dir``), where it may convert (``auto`` and the
    converted runtimes); none for TensorFlow, which converts nothing: in a deleted current folder the default
    folder's refusal stopped a TensorFlow job it had no part in (an adversarial tester)."""
    if name == "auto":
        return _auto_dir()
    return runtime_dir() if converts(name) else Path()


def _auto_dir() -> Path:
    """``runtime_dir`` for ``auto``, or none (``Path()``) where the default folder has no home folder to be in: auto
    then runs TensorFlow saying why (``folder_problem``); a tiny predict refused there, which ran on TensorFlow
    before conversions were kept per user (a review). A FEATCACHE_RUNTIME_DIR that cannot be used is the user's own
    setting, still refused."""
    try:
        return runtime_dir()
    except FeatcacheError:
        if os.environ.get(paths.RUNTIME_DIR_ENV, "").strip():
            raise
        return Path()


def folder_problem(folder: Path) -> str | None:
    """Why ``auto`` has no folder for conversions (``_auto_dir`` gave none, ``folder``), else None: the line
    ``runtime_dir`` refuses with (a Ray worker asks again in its own environment)."""
    if Path(folder) != Path():
        return None
    try:
        return f"no folder for converted models ({runtime_dir()} was not usable when the job started)"
    except FeatcacheError as exc:
        return str(exc)


def runtime_versions() -> dict[str, str | None]:
    """Versions of the runtimes, for provenance."""
    return _versions("onnxruntime", "openvino")


def tensorflow_onednn() -> bool | None:
    """Whether TensorFlow runs its oneDNN kernels in this process; None where TensorFlow cannot say.

    TensorFlow on Linux turns them on by default only on CPUs with VNNI, BF16
    or AMX (``TF_ENABLE_ONEDNN_OPTS`` overrides it). On a Zen 4 they made its
    bare pass 1.2-1.5x faster, so every speed ratio to TensorFlow depends on
    them; the benchmarks report this beside their ratios (docs/benchmarks.md,
    "Why the ratios to TensorFlow differ by CPU").
    """
    try:
        from tensorflow.python.util import _pywrap_util_port  # private; the only place TensorFlow says it
    except ImportError:
        return None
    return bool(_pywrap_util_port.IsMklEnabled())

