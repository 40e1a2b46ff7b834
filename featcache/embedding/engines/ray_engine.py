"""Ray engine: the same extraction, spread over the CPUs of a Ray cluster.

The batches still to do become a Ray Dataset; Ray Data tasks call the
source's reader (decoding), a fixed pool of actors embeds (each actor builds
the network once, in its constructor), and the results stream back to this
process in plan order, where ``write`` puts them into the one HDF5 cache.
So the cache, its fingerprint and its resumability are exactly the local
engine's: only the batches not yet committed are planned, and a killed run
keeps every batch written before it died.

Without an address a private Ray instance is started on this machine and
shut down afterwards; with one, this process joins that cluster as its
driver. Ray is optional (``pip install 'featcache[ray]'``) and imported only
here.
"""

from __future__ import annotations

import copy
import logging
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, ClassVar, Iterator, Sequence

import numpy as np

from featcache.embedding.batches import Batch
from featcache.embedding.engines import DEFAULT_RUNTIME, check_runtime
from featcache.errors import FeatcacheError, command_word, example, first_line, for_process, given, option
from featcache.progress import counted, say

INSTALL_HINT = "pip install 'featcache[ray]'"
DEFAULT_PORT = 6379  # what `ray start --head` listens on unless told otherwise
CONNECT_TIMEOUT_S = 10.0  # bound on reaching the cluster; Ray's own connect retries for minutes
# Embedding actors when --workers is not given: one, as the local engine runs one network; more is a choice the
# user makes for the cluster at hand (each actor builds the network and holds its own pass).
DEFAULT_WORKERS = 1


def _resume_hint() -> str:
    """What to do after a failed Ray run (a Ray worker or actor state that means "a process or node died", not a bug
    in featcache), in the caller's words (``command_word``: extract is the one command that runs Ray)."""
    return f"the batches written so far are kept: re-run the same {command_word('extract')} to resume"


def require() -> ModuleType:
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401  (Ray Data comes with the ray[data] extra)
    except ImportError:
        raise FeatcacheError(f"{option('--engine ray', 'RayEngine')} needs Ray (with Ray Data), which is not installed; {INSTALL_HINT}") from None
    return ray


@dataclass(frozen=True)
class RayEngine:
    """Ray Data tasks decode, ``workers`` actors of ``cpus_per_worker`` CPUs embed with ``runtime``.

    On a private Ray instance on this machine, or on the cluster at
    ``address`` (``HOST:PORT`` of its head, or ``auto``). Needs
    ``pip install 'featcache[ray]'``; Ray is imported only when it runs.
    """

    name: ClassVar[str] = "ray"  # what extract's result names (ExtractResult.engine, --json "engine")
    address: str | None = None
    workers: int | None = None  # default: DEFAULT_WORKERS
    cpus_per_worker: int | None = None  # default: the smallest node's CPUs shared among the workers
    runtime: str = DEFAULT_RUNTIME

    def __post_init__(self):
        workers, cpus = check_counts(self.workers, self.cpus_per_worker)
        object.__setattr__(self, "workers", workers)  # 2.0 kept as 2 (check_counts)
        object.__setattr__(self, "cpus_per_worker", cpus)
        if self.address is not None and (not isinstance(self.address, str) or not self.address):
            raise FeatcacheError(f"{option('--address')} must be HOST:PORT of a Ray head (got {self.address!r})")
        check_runtime(self.runtime)

    def check(self) -> None:
        check_options(self.address, self.workers, self.cpus_per_worker)

    def run(self, batches: Sequence[Batch], read: Callable, make_embed: Callable, write: Callable) -> float | None:
        return run(batches, read, make_embed, write, address=self.address, workers=self.workers, cpus_per_worker=self.cpus_per_worker)


def check_counts(workers: Any, cpus_per_worker: Any) -> tuple[int | None, int | None]:
    """``workers`` and ``cpus_per_worker`` (None: not given) as whole numbers, in the typed settings' rule
    (``validate.positive_int``): an int in the API (NumPy's too, stored as the int Ray's actor pool takes), a
    command's text read as its number; text through the API, a float (2.0 too: ``validate.whole_float``) and bools
    refused, in the line every count gives (it had a check of its own; a brief, 2026-12-06)."""
    from featcache.validate import positive_int

    return tuple(None if value is None else positive_int(value, flag, example="2")  # type: ignore[return-value]
                 for flag, value in (("--workers", workers), ("--cpus-per-worker", cpus_per_worker)))


def check_options(address: str | None = None, workers: int | None = None, cpus_per_worker: int | None = None) -> None:
    """Validate the engine's options and reach the cluster, before any data or model work."""
    from featcache.validate import check_worker_cpus

    workers, cpus_per_worker = check_counts(workers, cpus_per_worker)
    ray = require()
    if address is not None:
        if ray.is_initialized():
            raise FeatcacheError(f"this process is already connected to Ray; drop {option('--address')} (that connection is used)")
        probe_address(address)
    elif not ray.is_initialized():  # a private instance on this machine: sized by its cores, never by what is asked
        check_worker_cpus(workers or DEFAULT_WORKERS, cpus_per_worker)


def probe_address(address: str, timeout: float | None = None) -> None:
    """Fail in at most ~``timeout`` s when ``address`` is not a reachable Ray cluster.

    ``ray.init`` itself keeps retrying an unreachable or wrong address for
    minutes; a TCP connect and then a GCS handshake in a child process (which
    can be killed) bound that.
    """
    timeout = CONNECT_TIMEOUT_S if timeout is None else timeout
    fix = (f"start one with 'ray start --head' and pass its address (HOST:{DEFAULT_PORT} by default), or drop "
           f"{option('--address')} to use this machine")
    if address == "auto":
        # The cluster "auto" names (RAY_ADDRESS, or the one 'ray start' recorded on this machine), found as ray.init finds
        # it and then probed as any address: ray.init("auto") failed only in run(), ~23 s later, after the partial file
        # was made, and without the fix (an adversarial tester).
        try:
            from ray._private.services import canonicalize_bootstrap_address_or_die
        except ImportError:
            return  # another Ray: ray.init("auto") says what it finds
        try:
            found = canonicalize_bootstrap_address_or_die("auto")
        except (ConnectionError, ValueError, OSError):
            raise FeatcacheError(f"{given('--address', 'auto', repr('auto'))} finds no Ray cluster running on this machine (none recorded by 'ray start', "
                                 f"no RAY_ADDRESS); {fix}") from None
        return probe_address(found, timeout)
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", str(DEFAULT_PORT))
    if not host or not port.isdigit():
        raise FeatcacheError(f"{given('--address', repr(address))} is not HOST:PORT; pass the head node's address, e.g. "
                             f"{example('--address', f'10.0.0.5:{DEFAULT_PORT}')}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        reason = "timed out" if isinstance(exc, socket.timeout) else (exc.strerror or type(exc).__name__)
        raise FeatcacheError(f"no Ray cluster reachable at {address} ({reason}); {fix}") from None
    if address.startswith("ray://"):
        return  # a Ray Client server: ray.init bounds its own retries
    probe = (
        "import sys\n"
        "try:\n    from ray._raylet import GcsClient\nexcept ImportError:\n    print('ok'); sys.exit()  # no probe in this Ray version\n"
        "try:\n    GcsClient(address=sys.argv[1]); print('ok')\n"
        "except Exception as exc:\n    print(type(exc).__name__)\n"
    )
    env = {**os.environ, "RAY_py_gcs_connect_timeout_s": str(max(1, int(timeout / 3)))}
    try:
        proc = subprocess.run([sys.executable, "-c", probe, hostport], capture_output=True, text=True, timeout=timeout, env=env)
        answer = (proc.stdout.strip().splitlines() or ["no answer"])[-1]
    except subprocess.TimeoutExpired:
        answer = "timeout"
    if answer == "AuthenticationError":
        raise FeatcacheError(
            f"the Ray cluster at {address} requires token authentication; set RAY_AUTH_MODE=token and make its token "
            "available here (~/.ray/auth_token or RAY_AUTH_TOKEN), see docs/ray.md"
        )
    if answer != "ok":
        raise FeatcacheError(
            f"{address} accepts connections but no Ray cluster head (GCS) answered within {timeout:.0f} s; "
            f"pass the address 'ray start --head' printed (port {DEFAULT_PORT} by default, not the dashboard's 8265)"
        )


@contextmanager
def _quiet_backend() -> Iterator[None]:
    """Ray's C++ side logs to stderr below Python's logging (e.g. an "E" line about
    actor restarts on every run); keep it to fatal errors unless the user set
    RAY_BACKEND_LOG_LEVEL, and hide the line announcing that while Ray starts."""
    if "RAY_BACKEND_LOG_LEVEL" in os.environ:
        yield
        return
    os.environ["RAY_BACKEND_LOG_LEVEL"] = "fatal"
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield  # errors still raise, as exceptions
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
        del os.environ["RAY_BACKEND_LOG_LEVEL"]


@contextmanager
def _keep_sigterm() -> Iterator[None]:
    """``ray.init`` installs its own SIGTERM handler (a stack dump, then ``sys.exit``); a handler that was set
    before (the one featcache's command line sets while a command runs: SIGTERM ends it as Ctrl-C does, one
    line, exit 143; or the calling program's own) is put back.

    A review found ``--engine ray`` killed with SIGTERM exiting 15 with Ray's dump and no featcache line.
    (The default handler is left to Ray, as before: nobody chose it.)
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if callable(before):
            signal.signal(signal.SIGTERM, before)


def _worker_env() -> dict[str, str]:
    """Environment the workers need to compute what this process would (same Keras backend, quiet TF)."""
    env = {"TF_CPP_MIN_LOG_LEVEL": "2"}
    if "KERAS_BACKEND" in os.environ:
        env["KERAS_BACKEND"] = os.environ["KERAS_BACKEND"]
    return env


def start_local(num_cpus: int) -> ModuleType:
    """A private, quiet Ray instance on this machine (no dashboard)."""
    ray = require()
    package_root = str(Path(__file__).resolve().parents[2])
    pythonpath = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    with _quiet_backend(), _keep_sigterm():
        ray.init(
            address="local",  # always a new instance, never one `ray start` left running here
            num_cpus=num_cpus,
            include_dashboard=False,
            logging_level=logging.ERROR,
            log_to_driver=False,
            # Workers import this very featcache, wherever the driver found it.
            runtime_env={"env_vars": {**_worker_env(), "PYTHONPATH": pythonpath}},
        )
    return ray


def _join(ray, address: str) -> None:
    import featcache

    try:
        with _quiet_backend(), _keep_sigterm():
            ray.init(
                address=address,
                logging_level=logging.ERROR,
                log_to_driver=False,
                # Ship this featcache's code to the cluster; its nodes need only
                # the dependencies (tensorflow, keras, h5py, ...), see docs/ray.md.
                runtime_env={"py_modules": [str(Path(featcache.__file__).parent)], "env_vars": _worker_env()},
            )
    except (ConnectionError, RuntimeError, ray.exceptions.RayError) as exc:
        raise FeatcacheError(f"cannot join the Ray cluster at {address} ({first_line(exc, 200)}); check {option('--address')} and "
                             "docs/ray.md") from None


def _node_cpus(ray) -> list[int]:
    return [int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n.get("Alive")]


def plan_cpus(ray: ModuleType, workers: int, cpus_per_worker: int | None) -> int:
    """CPUs per actor: as asked, else the smallest node's CPUs shared among the workers; must fit."""
    nodes = _node_cpus(ray)
    per = cpus_per_worker or max(1, min(nodes, default=1) // workers)
    if sum(nodes) < workers * per or max(nodes, default=0) < per:
        raise FeatcacheError(
            f"the Ray cluster has {counted(sum(nodes), 'CPU')} on {counted(len(nodes), 'node')} (largest {max(nodes, default=0)}); "
            f"{given('--workers', str(workers))} x {given('--cpus-per-worker', str(per))} does not fit: ask for fewer"
        )
    return per


def limit_threads(n: int) -> None:
    """Keep TensorFlow and ONNX Runtime in this process to ``n`` threads: its share of the node, not all cores.

    Neither is imported here: an actor imports only what its runtime runs (``_lazy.limit_tensorflow_threads``)."""
    os.environ["OMP_NUM_THREADS"] = str(n)
    from featcache import _lazy
    from featcache.embedding import runtimes

    _lazy.limit_tensorflow_threads(n)
    # ONNX Runtime reads none of those variables: by default it takes every core of the node in every actor.
    runtimes.REGISTRY["onnxruntime"] = runtimes.OnnxRuntime(threads=n)
    runtimes.REGISTRY["xnnpack"] = runtimes.XnnpackRuntime(threads=n)


def _decode(rows: dict[str, np.ndarray], read_ref: list) -> dict[str, np.ndarray]:
    """Ray task: a few planned batches -> what ``read`` gives for them, one row per image."""
    import ray

    # The reader (with e.g. Fashion-MNIST's raw arrays) was put in the object
    # store once; numpy arrays in it are mapped, not copied, on each node.
    read = ray.get(read_ref[0])
    parts, pos = [], []
    for split, start, stop, row in zip(rows["split"], rows["start"], rows["stop"], rows["row"]):
        parts.append(_columns(read(Batch(str(split), int(start), int(stop)))))
        pos.append(np.arange(int(row), int(row) + int(stop) - int(start), dtype=np.int64))
    return {"row": np.concatenate(pos), **{key: np.concatenate([p[key] for p in parts]) for key in parts[0]}}


def _columns(x: np.ndarray | dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A read's output as dataset columns: an array is "image"; a dict (images with per-row extras) gives "in:<key>"."""
    return {f"in:{k}": v for k, v in x.items()} if isinstance(x, dict) else {"image": x}


def _read_output(batch: dict[str, np.ndarray]) -> np.ndarray | dict[str, np.ndarray]:
    """``_columns`` undone: what ``read`` returned, for the embed function."""
    given = {k[3:]: v for k, v in batch.items() if k.startswith("in:")}
    return given or batch["image"]


class _Embed:
    """Ray actor: builds the network once, then embeds batch after batch."""

    def __init__(self, make_embed: Callable, threads: int):
        limit_threads(threads)
        self.embed = make_embed()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        t0 = time.perf_counter()
        columns = _feature_columns(self.embed(_read_output(batch)))
        # each row's share of the batch's seconds, a duration (no clock shared with the driver): _drain takes the
        # first batch's out of the time it waited, which leaves the start-up
        seconds = np.full(len(batch["row"]), (time.perf_counter() - t0) / max(len(batch["row"]), 1))
        return {"row": batch["row"], EMBED_SECONDS: seconds, **columns}


EMBED_SECONDS = "embed_seconds"  # the column of each row's share of its batch's embedding time (``_Embed``)


def _feature_columns(feats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A batch's features as Ray Data columns, which hold one row per image: a layer's (n, D) as ``feat:<layer>``,
    a (V, n, D) stack of views as one (n, D) column per view, ``view:<v>:<layer>`` (``_features`` undoes it).

    Each column is a slice of the array, C-contiguous, which Ray stores as it is; the views moved second, (n, V, D),
    were a strided view that Ray copied every batch to make it C-contiguous (its ArrowTensorArray.from_numpy).
    """
    columns = {}
    for name, f in feats.items():
        if f.ndim == 3:
            columns.update({f"view:{v}:{name}": part for v, part in enumerate(f)})
        else:
            columns[f"feat:{name}"] = f
    return columns


def _features(columns: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """The first ``n`` rows of ``_feature_columns``'s columns as ``write`` takes them: (n, D), or (V, n, D) per layer."""
    out: dict[str, np.ndarray] = {}
    views: dict[str, dict[int, np.ndarray]] = {}
    for key, f in columns.items():
        kind, _, rest = key.partition(":")
        if kind == "feat":
            out[rest] = f[:n]
        else:
            v, _, name = rest.partition(":")
            views.setdefault(name, {})[int(v)] = f[:n]
    out.update({name: np.stack([by_view[v] for v in sorted(by_view)]) for name, by_view in views.items()})
    return out


@contextmanager
def _data_context(ray) -> Iterator[None]:
    """Ordered, quiet Ray Data settings for the datasets built and run inside."""
    ctx = ray.data.DataContext.get_current()
    saved = ctx.execution_options, ctx.enable_progress_bars, ctx.print_on_execution_start, ctx.raise_original_map_exception
    log = logging.getLogger("ray.data")
    level = log.level
    ctx.execution_options = copy.deepcopy(ctx.execution_options)
    ctx.execution_options.preserve_order = True  # results in plan order, so write() can commit batch by batch
    ctx.enable_progress_bars = False  # featcache shows its own
    ctx.print_on_execution_start = False
    ctx.raise_original_map_exception = True  # a FeatcacheError in a task stays one (see run)
    log.setLevel(logging.CRITICAL)  # failures are raised, and reported by featcache in one line
    try:
        yield
    finally:
        ctx.execution_options, ctx.enable_progress_bars, ctx.print_on_execution_start, ctx.raise_original_map_exception = saved
        log.setLevel(level)


def run(
    batches: Sequence[Batch],
    read: Callable[[Batch], np.ndarray],
    make_embed: Callable[[], Callable[[np.ndarray], dict[str, np.ndarray]]],
    write: Callable[[Batch, dict[str, np.ndarray]], None],
    *,
    address: str | None = None,
    workers: int | None = None,
    cpus_per_worker: int | None = None,
) -> float | None:
    """Decode in Ray tasks, embed in ``workers`` actors, ``write`` here in batch order. Returns the start-up's
    seconds: starting or joining Ray and its actors, each building the network, until the first batch's embedding
    began (None: no batches). extract reports it apart from the embedding's images/s, as the model build: 1,400
    images in 22.6 s said 62 images/s, of which ~19 s was Ray starting (a new-user tester)."""
    if not batches:
        return None
    t_start = time.perf_counter()
    ray = require()
    workers = workers or DEFAULT_WORKERS
    started = not ray.is_initialized()
    # Said before it (a status line of extract's): Ray's start and its actors' were 21-25 s after "network ready"
    # without a word, then a bar whose first line said 22 s (a new-user tester, 2026-12-07)
    actors = f"{counted(workers, 'embedding actor')} building the network"
    if started and address is None:
        from featcache.validate import check_worker_cpus, usable_cores

        check_worker_cpus(workers, cpus_per_worker)  # as check() does: never more actors than the cores hold
        say(f"starting Ray on this machine, then {actors} (seconds to a minute) ...")
        start_local(usable_cores())
    elif started:
        say(f"joining the Ray cluster at {address}, then starting {actors} ...")
        _join(ray, address)
    else:
        say(f"starting {actors} on the Ray cluster this process is connected to ...")
    try:
        per = plan_cpus(ray, workers, cpus_per_worker)
        with _data_context(ray):
            # the tasks and actors say their lines in the caller's words (a command's), which a process starts without
            first = _drain(_dataset(ray, batches, for_process(read), for_process(make_embed), workers, per), batches, write)
        return max(first - t_start, 0.0)
    except Exception as exc:
        cause = _featcache_cause(exc)
        if cause is exc:
            raise
        if cause is not None:  # raised in a task or actor; Ray appends its own lines to the message
            raise FeatcacheError(first_line(cause)) from None
        if isinstance(exc, (ray.exceptions.RayError, ray.data.exceptions.UserCodeException)):
            raise FeatcacheError(f"the Ray run failed ({type(exc).__name__}: {first_line(exc, 200)}); {_resume_hint()}") from None
        raise
    finally:
        if started:
            ray.shutdown()


def _dataset(ray, batches: Sequence[Batch], read, make_embed, workers: int, per: int):
    items, row = [], 0
    for b in batches:
        items.append({"split": b.split, "start": b.start, "stop": b.stop, "row": row})
        row += len(b)
    # One block per batch (from_items may pack several in one, run by one task), and no more decoding tasks than
    # batches: Ray warned on stderr that its pool of 2 x workers "only received 1 input(s)" (a new-user tester, 40
    # photos in one batch, saw the raw warning among featcache's lines)
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    # Decoding reserves no CPU, so the actor pool holding every CPU can never
    # starve it (a deadlock); its concurrency is capped instead.
    ds = ds.map_batches(
        _decode, batch_size=1, fn_kwargs={"read_ref": [ray.put(read)]},
        compute=ray.data.TaskPoolStrategy(size=min(2 * workers, len(items))), num_cpus=0,
    )
    return ds.map_batches(
        _Embed, batch_size=max(len(b) for b in batches),
        fn_constructor_kwargs={"make_embed": make_embed, "threads": per},
        compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=per,
    )


def _drain(ds, batches: Sequence[Batch], write) -> float:
    """Collect the streamed rows and hand them to ``write`` one planned batch at a time. Returns when (``perf_counter``)
    the first rows' embedding began: their arrival, less the seconds their actor took to embed them."""
    began = None
    todo = iter(batches)
    current = next(todo)
    parts: dict[str, list[np.ndarray]] = {}
    held = 0
    expected = 0
    for out in ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=1):
        if began is None:
            began = time.perf_counter() - float(np.sum(out.get(EMBED_SECONDS, 0.0)))
        rows = out["row"]
        if len(rows) and (rows[0] != expected or rows[-1] != expected + len(rows) - 1):
            raise RuntimeError(f"Ray returned rows out of order (expected row {expected}, got {rows[0]})")
        expected += len(rows)
        for key, value in out.items():
            if key.startswith(("feat:", "view:")):
                parts.setdefault(key, []).append(value)
        held += len(rows)
        while current is not None and held >= len(current):
            n = len(current)
            joined = {key: np.concatenate(chunks) for key, chunks in parts.items()}
            write(current, _features(joined, n))
            parts = {key: [f[n:]] for key, f in joined.items()}
            held -= n
            current = next(todo, None)
    if current is not None:
        raise RuntimeError(f"Ray returned {expected} rows, fewer than planned")
    return began


def _featcache_cause(exc: BaseException) -> FeatcacheError | None:
    """The FeatcacheError behind ``exc`` (e.g. an unreadable file in a task), if any.

    Ray re-raises a task's exception as ``RayTaskError(<its class>)``, which
    is an instance of both and prints the remote traceback; the original,
    with its one-line message, is its ``cause``.
    """
    found = None
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, FeatcacheError):
            found = e
        e = getattr(e, "cause", None) or e.__cause__
    return found
