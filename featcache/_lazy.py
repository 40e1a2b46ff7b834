"""Quiet, lazy imports of TensorFlow / Keras.

Importing TensorFlow takes seconds and prints C++ log banners on stderr;
commands that only read an HDF5 file (``info``) or reject bad input should not
pay for it, and a user error should stay one line.
"""

import os
import sys
from contextlib import contextmanager
from types import ModuleType
from typing import Iterator


def quiet_env() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def keras() -> ModuleType:
    quiet_env()
    if "tensorflow" not in sys.modules:
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
        except ImportError:
            pass  # another Keras backend (e.g. JAX on the GPU machine)
        except ValueError:
            pass  # TensorFlow imports Keras, which refused KERAS_BACKEND: said in one line below
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
    try:
        import keras as _keras
    except (ImportError, ValueError) as exc:  # KERAS_BACKEND=jax without jax, or a name Keras does not know
        raise _backend_error(exc) from None
    return _keras


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
