"""Lazy imports: quiet ones of TensorFlow / Keras, and the names a package re-exports from modules that import
scikit-learn or h5py.

Importing TensorFlow takes seconds and prints C++ log banners on stderr;
commands that only read an HDF5 file (``info``) or reject bad input should not
pay for it, and a user error should stay one line. Importing scikit-learn (with
SciPy and pandas) takes 2-5 s on a loaded machine: building the CLI's parser,
``--help`` and an extraction need none of it (``package_names``, ``Registry``).
"""

import importlib
import json
import os
import sys
import threading
import weakref
from collections.abc import MutableMapping
from contextlib import contextmanager
from types import ModuleType
from typing import Any, Callable, Iterator, Mapping


def quiet_env() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


# The threads TensorFlow may use in this process (``limit_tensorflow_threads``), None for its own choice.
_tensorflow_threads: int | None = None


def limit_tensorflow_threads(n: int) -> None:
    """Keep TensorFlow in this process to ``n`` intra-op and ``n`` inter-op threads, without importing it.

    A Ray actor on a cached ONNX conversion never runs TensorFlow, and importing it to set its threads took each actor
    TensorFlow's import (5-7 s of CPU here). TensorFlow reads TF_NUM_INTRAOP_THREADS and TF_NUM_INTEROP_THREADS when
    its runtime starts (measured: a MobileNetV2 pass left 7 threads with them set to 1 as with its config calls, 9
    without, 2 cores). Where featcache imports it first (``_import_tensorflow_quietly``), the same numbers go in its
    config too, where they can be read back; where other code imports it first, the variables alone limit it (its
    config reads 0). One imported already and not started yet is set now; one started keeps its pools (TensorFlow
    refuses the change then)."""
    global _tensorflow_threads
    _tensorflow_threads = n
    for var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ[var] = str(n)
    _apply_tensorflow_threads()  # where TensorFlow is imported already


def _apply_tensorflow_threads() -> None:
    """``limit_tensorflow_threads``'s numbers in TensorFlow's config, where it asked for any and TensorFlow is
    imported (nothing otherwise)."""
    threading_config = getattr(getattr(sys.modules.get("tensorflow"), "config", None), "threading", None)
    if _tensorflow_threads is None or threading_config is None:
        return
    try:
        threading_config.set_intra_op_parallelism_threads(_tensorflow_threads)
        threading_config.set_inter_op_parallelism_threads(_tensorflow_threads)
    except RuntimeError:
        pass  # its runtime had started: its pools are made (with the variables, where set before it started)


def _import_tensorflow_quietly() -> None:
    """TensorFlow imported with its native banners off (``quiet_env`` and file descriptor 2 silenced), once."""
    check_not_forked_after_tensorflow()
    quiet_env()
    if "tensorflow" not in sys.modules:
        _check_temp_dir()
        # The banners come from native code at import, below Python's logging,
        # so only the file descriptor can be silenced; import errors still
        # raise (and print) normally once it is restored.
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            import tensorflow

            # Fitting many small heads (curves, probing) builds a new graph per
            # model; TF then warns about "retracing", which is expected here.
            tensorflow.get_logger().setLevel("ERROR")
            _apply_tensorflow_threads()
        except ImportError:
            pass  # another Keras backend (e.g. JAX on the GPU machine)
        except ValueError:
            pass  # TensorFlow imports Keras, which refused KERAS_BACKEND: said in one line below
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


# Set in a child forked (os.fork, multiprocessing's "fork") from a process whose TensorFlow had started running:
# TensorFlow's process-wide thread pools are not copied by fork, so the child's first op waited forever on them (an
# extraction in a multiprocessing "fork" worker hung, seen on two commits; a fresh eager context does not help, as
# measured). Only a started runtime matters: a parent that merely imported TensorFlow forks a child that runs it.
_forked_after_tensorflow = False


def _tensorflow_started() -> bool:
    """Whether this process's TensorFlow eager context is initialised (its thread pools made), without starting it."""
    context = sys.modules.get("tensorflow.python.eager.context")
    default = getattr(context, "_context", None)
    return bool(getattr(default, "_initialized", False))


def _after_fork_in_child() -> None:
    global _forked_after_tensorflow
    _forked_after_tensorflow = _forked_after_tensorflow or _tensorflow_started()


class ForkSafeLock:
    """A ``threading.Lock`` (as a ``with`` block) found free in a process forked while another thread held it. fork
    copies the lock held and not the thread that would release it, so a worker forked (multiprocessing's "fork") as a
    thread of the parent built a loaded model's runner, or ran its XNNPACK interpreter, waited on it for good at its
    own first predict (h314's review, measured: 3 of 3 XNNPACK workers hung). What the locks guard is the one thread's
    alone in the child; a native runtime's run is not (``NativeRunLock``: such a worker is refused). ``reentrant``: a
    ``threading.RLock`` instead, as anew in the child."""

    def __init__(self, reentrant: bool = False) -> None:
        self._new = threading.RLock if reentrant else threading.Lock
        self._lock = self._new()
        _FORK_SAFE_LOCKS.add(self)

    def __enter__(self) -> "ForkSafeLock":
        self._lock.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()


class NativeRunLock(ForkSafeLock):
    """The lock around one native runtime's run (an XNNPACK interpreter, an OpenVINO infer request): one call at a
    time. In a process forked while a thread of the parent held it, that runtime was mid-run: its native state there
    is the parent's half-done run (the request's state, work handed to pool threads that fork did not copy), so the
    child is refused at once, in one line, as TensorFlow's is, on that runtime: a runner it keeps or builds anew
    (``check_not_forked_mid_run``), and in its own children too. Run anyway, it failed or hung: in 11 runs of
    test_export_predict's six forked-worker scripts in one process, 4 OpenVINO workers failed (an exception in the
    request's ``get_input_tensor``) and 2 XNNPACK workers hung; forked from a process of its own, 1 OpenVINO worker of
    11 hung, 0 XNNPACK of 8; a new OpenVINO runner built in the worker hung 2 of 6 (h344's review; 2026-12-07, AMD EPYC
    Zen 3, load 1-3). Forked while the runtime was idle, the child runs (the parent's probabilities). ``what``: the
    runtime's name."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def __enter__(self) -> "NativeRunLock":
        check_not_forked_mid_run(self.what)
        super().__enter__()
        return self


# The fix both fork refusals name first (check_not_forked_mid_run, check_not_forked_after_tensorflow).
_START_FRESH = "start the process with multiprocessing.get_context('spawn') (or 'forkserver')"

# The native runtimes a thread of this process's parent (or of an earlier ancestor) was running when it was forked:
# the state is the process's, not one runner's (a runner built anew in the child hung as the kept one did).
_MID_RUN_AT_FORK: set[str] = set()


def check_not_forked_mid_run(what: str) -> None:
    """One line, at once, where runtime ``what`` would fail or hang: this process was forked mid-run on it."""
    if what in _MID_RUN_AT_FORK:
        from featcache.errors import FeatcacheError

        raise FeatcacheError(f"featcache cannot run a model on {what} in a process forked while another thread of its "
                             f"parent was running it (the run would fail or wait forever); {_START_FRESH}, or fork "
                             "while no prediction runs")


_FORK_SAFE_LOCKS: "weakref.WeakSet[ForkSafeLock]" = weakref.WeakSet()


def _free_fork_safe_locks() -> None:
    """In a forked child, which runs one thread: every ``ForkSafeLock`` anew; a native runtime whose run lock was
    held is remembered (``_MID_RUN_AT_FORK``, kept by this child's own children)."""
    for lock in list(_FORK_SAFE_LOCKS):
        if isinstance(lock, NativeRunLock) and lock._lock.locked():
            _MID_RUN_AT_FORK.add(lock.what)
        lock._lock = lock._new()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
    os.register_at_fork(after_in_child=_free_fork_safe_locks)


def check_not_forked_after_tensorflow() -> None:
    """One line, at once, where TensorFlow would hang: this process was forked after TensorFlow started. Asked by
    every import of TensorFlow or Keras here, and by what runs a function traced before the fork (a loaded model's
    kept runner, ``deploy.model.ModelRunner``), which imports neither again."""
    if _forked_after_tensorflow:
        from featcache.errors import FeatcacheError

        raise FeatcacheError("featcache cannot run TensorFlow in a process forked after TensorFlow started (it would "
                             f"wait forever); {_START_FRESH}, or fork before the first extraction, prediction or training")


def _check_temp_dir() -> None:
    """One line where no temporary folder is usable, before TensorFlow's import asks for one (absl's test folder,
    ``tempfile.gettempdir``): with every candidate full, read-only or under ``ulimit -f 0``, its FileNotFoundError
    "No usable temporary directory" was a traceback (an adversarial tester)."""
    import tempfile

    try:
        tempfile.gettempdir()
    except FileNotFoundError as exc:
        from featcache.errors import FeatcacheError

        raise FeatcacheError(f"{exc.strerror or 'No usable temporary directory'} (each is full, read-only, or past a "
                             "file size limit such as ulimit -f), and TensorFlow needs one; set TMPDIR to a folder you "
                             "can write to, with room, and re-run") from None


def tensorflow() -> ModuleType:
    """TensorFlow, imported quietly: every import of it goes through here or ``keras``. A run on a cached
    conversion that needed TensorFlow alone (XNNPACK's ``tf.lite``, the GPU check) imported it bare once Keras was no
    longer imported first (helper-270's change), and its "oneDNN custom operations are on" banners reached the
    terminal (test_runtimes::test_xnnpack_keeps_tflites_native_log_lines_off_the_terminal). ImportError where it is
    not installed, as a plain import."""
    _import_tensorflow_quietly()
    import tensorflow as tf

    return tf


def keras() -> ModuleType:
    _import_tensorflow_quietly()
    try:
        import keras as _keras
    except (ImportError, ValueError) as exc:  # KERAS_BACKEND=jax without jax, or a name Keras does not know
        raise _backend_error(exc) from None
    return _keras


def keras_home() -> str:
    """Keras's home folder as Keras fixes it when imported (keras/src/backend/config.py, Keras 3): ``KERAS_HOME``,
    else ``~/.keras``, else ``/tmp/.keras`` where the home folder is not writable; Keras's own once it is imported."""
    config = sys.modules.get("keras.src.backend.config")
    if config is not None and hasattr(config, "keras_home"):
        return config.keras_home()
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    base = os.path.expanduser("~")
    return os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")


def keras_backend() -> str:
    """The backend Keras runs on (``keras.backend.backend()``), without importing Keras where it is not imported yet.

    Importing Keras imports TensorFlow: 19.5-20.8 s of a 20-22 s start of an extraction whose ONNX conversion was
    cached (load 9), which needs neither (issue 14: "a second extraction starts in seconds"). Keras reads its
    backend when it is imported (keras/src/backend/config.py, Keras 3): ``KERAS_BACKEND`` where set and not empty,
    else the ``backend`` of ``keras.json`` in its home (``keras_home``), else ``tensorflow``; read the same way
    here. Once Keras is imported, it is asked."""
    config = sys.modules.get("keras.src.backend.config")
    if "keras" in sys.modules and config is not None and hasattr(config, "backend"):
        return config.backend()
    chosen = os.environ.get("KERAS_BACKEND")
    if chosen:
        return chosen
    try:
        with open(os.path.expanduser(os.path.join(keras_home(), "keras.json"))) as f:
            config_file = json.load(f)
    except (OSError, ValueError):  # none, or not JSON: Keras then keeps its default too
        return "tensorflow"
    backend = config_file.get("backend", "tensorflow") if isinstance(config_file, dict) else "tensorflow"
    return backend if isinstance(backend, str) else "tensorflow"


# The distributions a module may be installed by, where their names differ from the module's: TensorFlow's CPU-only
# and platform builds (``tensorflow-cpu`` here). Others are found through ``packages_distributions``.
_DISTRIBUTIONS = {"tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel",
                                 "tensorflow-macos", "tensorflow-aarch64")}


def installed_version(module: str) -> str | None:
    """The version of the installed package that provides ``module`` (its metadata: what ``module.__version__``
    says for a release), None where none is installed, without importing it: importing Keras and TensorFlow to read
    their ``__version__`` cost an extraction with a cached conversion nearly all of its start (``keras_backend``)."""
    from importlib import metadata

    names = _DISTRIBUTIONS.get(module, (module,))
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    for name in metadata.packages_distributions().get(module, []):  # another distribution's name (0.1-0.3 s)
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _backend_error(exc: Exception) -> Exception:
    """One line for a Keras that cannot load its backend; it was a traceback (an adversarial tester)."""
    from featcache.errors import FeatcacheError

    backend = os.environ.get("KERAS_BACKEND")
    if not backend:
        return FeatcacheError(f"Keras cannot be imported ({exc}); reinstall it with 'bash scripts/setup.sh'")
    return FeatcacheError(f"Keras cannot load the backend KERAS_BACKEND={backend} ({exc}); install that backend, "
                          "or unset KERAS_BACKEND to run on TensorFlow")


@contextmanager
def native_stderr_quiet() -> Iterator[None]:
    """File descriptor 2 to /dev/null while native code logs what a user cannot act on (TFLite's "Created
    TensorFlow Lite XNNPACK delegate", the converter's "NodeDef mentions attribute Truncate": a new user asked).
    Python's own errors still raise and are shown once it is restored."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def package_names(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A package's module ``__getattr__`` (PEP 562) for the names it re-exports: each of ``homes`` (name -> the module
    that defines it) is imported from there when first asked for, then kept as the package's own attribute.

    A package that imported them at its top made every import of one of its light modules import them all:
    ``featcache.heads.io`` imported scikit-learn through ``featcache.heads``, ``featcache.store.atomic`` h5py
    through ``featcache.store``; so the CLI's parser took 4.6 s at load 12 to build (``featcache --help`` 6 s at
    load 25, a new user) for help texts that needed none of it."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(homes[name]), name)
        namespace[name] = value  # asked once: later lookups find it as any attribute
        return value

    return __getattr__


class Registry(MutableMapping):
    """A name -> class mapping whose classes are imported when first looked up: ``{"svm": "featcache.heads.svm:SVMHead"}``.

    Its names (``list``, ``in``, ``join``) cost no import; a class's module is imported at ``registry[name]``,
    ``.get``, ``.values()`` or ``.items()``. A class set into it (a test's head, ``monkeypatch.setitem``) is kept as
    given. Where the names alone are needed (choices, metavars, "one of: ...") nothing heavy is imported."""

    def __init__(self, homes: Mapping[str, str]) -> None:
        self._entries: dict[str, Any] = dict(homes)  # a "module:Class" string until looked up, then the class
        self._loaded: set[str] = set()

    def __getitem__(self, name: str) -> Any:
        value = self._entries[name]
        if name not in self._loaded:
            module, _, attr = value.partition(":")
            value = self._entries[name] = getattr(importlib.import_module(module), attr)
            self._loaded.add(name)
        return value

    def __setitem__(self, name: str, value: Any) -> None:
        self._entries[name] = value
        self._loaded.add(name)

    def __delitem__(self, name: str) -> None:
        del self._entries[name]
        self._loaded.discard(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def loaded(self, name: str) -> bool:
        """Whether ``name``'s class is held (looked up, or set in as a class), not yet its module's name to import."""
        return name in self._loaded

    def __repr__(self) -> str:
        return f"Registry({list(self._entries)})"
