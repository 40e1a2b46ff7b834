"""The Ray engine: same cache as the local engine, resumable, clear errors.

One Ray cluster serves the whole module: a ``ray start --head`` (2 CPUs,
token auth), as a user runs on a head node, which this process joins as its
driver (``ray_driver``) and other drivers join by ``--address``. Ray is a
test dependency (``pip install -e '.[test,ray]'``): without it this module
fails to import, it does not skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import h5py
import pytest
import ray
from ray._raylet import Config
from helpers import assert_same_features, extract, make_fashion_dir, run_main

import featcache
from featcache.cli import main
from featcache.embedding.engines import ray_engine
from featcache.errors import FeatcacheError
from featcache.store.cache import CacheWriter, partial_path

# Random weights leave out_relu at about 1e-11: block_1_expand_relu (about 0.1) makes the cache comparisons able to fail.
LAYERS = "block_1_expand_relu,out_relu"
TINY = dict(weights="random", image_size=32, batch_size=8, layers=LAYERS, verbose=False)


def assert_same_cache(got_path: Path, want_path: Path) -> None:
    got, want = featcache.open_cache(got_path), featcache.open_cache(want_path)
    assert got.fingerprint == want.fingerprint
    assert got.class_names == want.class_names
    assert got.layers == want.layers and got.views == want.views  # ("orig",) for a cache without views
    for split in ("train", "test"):
        for layer in want.layers:  # a deep layer beside an early one is compared to its own size (out_relu: 1e-11)
            deep = layer == "out_relu" and len(want.layers) > 1
            for view in want.views:
                assert_same_features(got.features(split, layer, view=view), want.features(split, layer, view=view),
                                     floor=0 if deep else 1e-6, err_msg=f"{split} {layer} {view}")
        assert got.labels(split).tolist() == want.labels(split).tolist()
    with h5py.File(got_path, "r") as g, h5py.File(want_path, "r") as w:
        for split in ("train", "test"):
            assert g[split]["index"][:].tolist() == w[split]["index"][:].tolist()  # same row order


def descendants(root: int) -> list[tuple[int, str]]:
    """(pid, command line) of every process below ``root``."""
    table = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    children: dict[int, list[tuple[int, str]]] = {}
    for line in table.splitlines():
        parts = line.split(None, 2)
        children.setdefault(int(parts[1]), []).append((int(parts[0]), parts[2] if len(parts) > 2 else ""))
    out, todo = [], [root]
    while todo:
        for pid, args in children.get(todo.pop(), []):
            out.append((pid, args))
            todo.append(pid)
    return out


def kill_all(pids: list[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


HEAD_TAG = "FEATCACHE_TEST_RAY_HEAD"  # in the head's environment, so in its workers' (see cluster_processes)


def environ(pid: int) -> dict[bytes, bytes]:
    """The environment ``pid`` started with ({} once it is gone, a zombie, or not ours to read)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return dict(item.partition(b"=")[::2] for item in f.read().split(b"\0") if item)
    except OSError:
        return {}


def cluster_processes(head: int, tag: str) -> set[int]:
    """Every live process of the cluster `ray start` ``head`` began: its descendants, and wherever they sit in the
    process tree (reparented to init once their parent died, or started after a listing of the descendants), the
    processes whose environment carries ``HEAD_TAG=tag`` (the workers and actors: the raylet passes its environment
    on) or the node's RAY_NODE_ID (the raylet's agents, started with a clean environment but that).

    The descendants listed once missed a ray::_AutoscalingCoordinatorActor, found running, orphaned, 27 minutes after
    a whole suite: a process the raylet starts after the listing outlives the raylet (listed before a Ray Data run,
    the old kill left its detached actors and two workers the raylet started as the driver left, those still running
    under init 18 s later, 2026-12-07); and so do the raylet's agents when it is killed and they are not (as the
    environment's tag alone left them)."""
    found = {pid for pid, _ in descendants(head)}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            env = environ(int(entry.name))
            if env.get(HEAD_TAG.encode()) == tag.encode():
                found.add(int(entry.name))
    nodes = {environ(pid).get(b"RAY_NODE_ID") for pid in found} - {None}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid() and environ(int(entry.name)).get(b"RAY_NODE_ID") in nodes:
            found.add(int(entry.name))
    return {pid for pid in found if environ(pid)}  # a zombie has no environment left: it is gone already


def end_cluster(head: subprocess.Popen, tag: str, deadline_s: float = 60) -> set[int]:
    """Kill the head and every process of its cluster; returns those still alive at the deadline (none expected).

    Stopped first (SIGSTOP), the head too, and listed again until no new one shows: a stopped raylet or GCS starts no
    worker meanwhile (a detached actor of Ray Data's, max_restarts=-1, is restarted on a new worker when its own dies
    first), and a stopped parent leaves its children where the listing finds them. Then killed, and listed again until
    none is left."""
    seen: set[int] = set()
    head.send_signal(signal.SIGSTOP)
    while (more := cluster_processes(head.pid, tag) - seen):
        kill_all(sorted(more), signal.SIGSTOP)
        seen |= more
    head.kill()
    head.wait()
    kill_all(sorted(seen))
    deadline = time.time() + deadline_s
    while (left := cluster_processes(head.pid, tag)) and time.time() < deadline:
        kill_all(sorted(left))
        time.sleep(0.05)
    return left


@pytest.fixture(scope="module")
def ray_head():
    """The module's one Ray cluster (`ray start --head`, 2 CPUs, token auth), as a user would run on a head node.

    The tests on Ray before ran on a private instance of this process (``start_local``: a Ray start of its own,
    10-30 s) beside this one; now this process joins the head (``ray_driver``) and the drivers of
    test_join_an_existing_cluster do by ``--address``. A private instance is still started by every run without
    an address and without a connection (``ray_engine.run``): test_scripts' bench_ray."""
    port = free_port()
    tag = f"{os.getpid()}-{port}"
    # No workers started ahead for the first driver: the raylet's 2 (--num-cpus) sat idle until killed, a process
    # importing Ray each, while this process's job (ray_driver) runs only in workers of its own runtime env (py_modules).
    env = {**os.environ, "RAY_AUTH_MODE": "token", HEAD_TAG: tag, "RAY_prestart_worker_first_driver": "0"}
    head = subprocess.Popen(
        ["ray", "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
         f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}", "--block"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    # This process's drivers (ray_driver, a run joining by --address) present the token too, as the head's do. Ray's
    # config in this process was read from the environment at its first use: read again (as Ray's own switch to token
    # auth does), or this process joins without its token and the head refuses it ("Failed to connect").
    auth = pytest.MonkeyPatch()
    auth.setenv("RAY_AUTH_MODE", "token")
    Config.initialize("")
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            assert head.poll() is None, "ray start --head exited"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)  # the head listens within seconds: a shorter poll sees it sooner
        yield f"127.0.0.1:{port}"
    finally:
        if ray.is_initialized():
            ray.shutdown()  # this process's connection (ray_driver), before the cluster goes
        auth.undo()
        Config.initialize("")
        # Killed outright, the head and every process of its cluster: on SIGTERM `ray start --block` stops its
        # processes gracefully, waiting on the detached actors Ray Data leaves (its stats and autoscaling actors), and
        # the 10 s this waited for it ran out every time (the test's teardown: 10.0-11.7 s, then SIGKILL all the same).
        # Not only the head's descendants listed once (see cluster_processes); and checked: a Ray process
        # left behind keeps burning CPU beside every later test, and a whole suite's later runs.
        left = end_cluster(head, tag)
        # `ray stop` would drop Ray's pointer to this (now gone) cluster; a later plain ray.init() would try to join it.
        pointer = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
        if pointer.is_file() and pointer.read_text().strip().endswith(f":{port}"):
            pointer.unlink()
        assert not left, f"Ray processes of the module's cluster outlived its teardown: {left}"


@pytest.fixture
def ray_driver(ray_head):
    """This process, connected to the module's cluster as its driver: an extract with ``engine="ray"`` and no address
    runs there (``ray_engine.run`` uses the connection it finds). Joined as ``--address`` joins (``ray_engine._join``:
    featcache shipped to the workers), once, and again after a test that left the cluster (test_join_an_existing_cluster
    runs its drivers unconnected)."""
    if not ray.is_initialized():
        ray_engine._join(ray, ray_head)
    return ray


def test_features_equal_the_local_engines(ray_driver, real_weights, real_fashion_dir, tmp_path, monkeypatch):
    """Real weights, real Fashion-MNIST subset: a Ray actor gives the local engine's cache, row for row.

    One actor: the order of rows from two is checked by test_join_an_existing_cluster (its re-run's 2 workers on the
    cluster's 2 CPUs); a second actor here, started beside the first, imported TensorFlow and built the network with
    the real weights once more on the same two cores."""
    args = dict(data_dir=str(real_fashion_dir), train_limit=40, test_limit=24, weights=str(real_weights), batch_size=16, verbose=False)
    monkeypatch.setenv("FEATCACHE_HOME", str(tmp_path / "local"))
    local = extract(**args)
    monkeypatch.setenv("FEATCACHE_HOME", str(tmp_path / "ray"))
    dist = extract(**args, engine="ray", workers=1)
    assert not dist.hit and dist.images == 64 and dist.to_dict()["engine"] == "ray"
    assert dist.path.name == local.path.name  # the engine is not part of the identity
    assert featcache.open_cache(dist.path).meta["complete"]
    assert_same_cache(dist.path, local.path)
    # The same settings on the other engine are a cache hit.
    assert extract(**args, engine="local").hit


@pytest.mark.slow
def test_class_folders_equal_the_local_engines(ray_driver, tmp_path, monkeypatch):
    """Photos in class folders (JPEG and PNG, one unreadable): decode tasks read the files, same cache as local.

    With cached views (orig, flip): the actors send each view as a column of its own, and the driver must put them
    back as the local engine writes them. (A test of its own before, test_the_ray_engine_gives_the_same_views_cache
    on Fashion-MNIST with 1 worker: one more Ray run, whose actor start, TensorFlow's import and the network's
    build, was 14-17 s of it at load 5.)

    One worker: two actors started side by side, each importing TensorFlow and building the network, and took about
    twice as long on the two shared cores; the order of rows from two actors is checked by
    test_join_an_existing_cluster.

    And the embedding actor is SIGKILLed after the first batch is written: Ray restarts it and the cache is still
    exact. (A test of its own before, test_a_worker_killed_midway_is_retried, on Fashion-MNIST: its Ray run and its
    local reference were 50 s of the last full run; here the kill costs the restarted actor's start alone.)"""
    from helpers import make_class_tree

    root = make_class_tree(tmp_path / "photos", {"ants": 9, "bees": 7}, ext="jpg", size=40)
    make_class_tree(root, {"ants": 3, "bees": 2}, ext="png", size=40, offset=50)
    (root / "bees" / "broken.jpg").write_bytes(b"not an image")
    args = dict(images=str(root), test_fraction=0.25, seed=1, weights="random", image_size=32, batch_size=4, layers=LAYERS,
                views="orig,flip", verbose=False)
    monkeypatch.setenv("FEATCACHE_HOME", str(tmp_path / "local"))
    local = extract(**args)
    monkeypatch.setenv("FEATCACHE_HOME", str(tmp_path / "ray"))
    killed = []
    real_write = CacheWriter.write

    def write_then_kill(self, *a, **kw):
        real_write(self, *a, **kw)
        if not killed:
            actors = [pid for pid, cmd in descendants(os.getpid()) if "MapBatches(_Embed)" in cmd]
            assert actors, "no embedding actor found to kill"
            os.kill(actors[0], signal.SIGKILL)
            killed.append(actors[0])

    monkeypatch.setattr(CacheWriter, "write", write_then_kill)
    dist = extract(**args, engine="ray", workers=1)
    monkeypatch.setattr(CacheWriter, "write", real_write)
    assert killed and dist.path.name == local.path.name and dist.images == local.images == 21
    assert dist.skipped == local.skipped and dist.skipped[0][0] == "bees/broken.jpg"
    assert featcache.open_cache(local.path).views == ("orig", "flip")
    assert_same_cache(dist.path, local.path)
    got, want = featcache.open_cache(dist.path), featcache.open_cache(local.path)
    for split in ("train", "test"):
        assert got.paths(split) == want.paths(split)


def test_views_travel_as_one_contiguous_column_each_and_come_back_as_written():
    """An actor's (V, n, D) views go to Ray as V (n, D) slices of the array, which Ray stores without copying them
    (a strided (n, V, D) transpose it copied every batch); the driver gets each layer back as the actor made it."""
    import numpy as np

    stack = np.arange(3 * 5 * 4, dtype=np.float32).reshape(3, 5, 4)
    plain = np.arange(5 * 2, dtype=np.float32).reshape(5, 2) + 0.5
    columns = ray_engine._feature_columns({"block:1": stack, "out_relu": plain})
    assert all(c.flags.c_contiguous and len(c) == 5 for c in columns.values())
    assert all(np.shares_memory(c, stack) for key, c in columns.items() if key.startswith("view:"))
    back = ray_engine._features(dict(reversed(columns.items())), 4)  # any column order
    assert set(back) == {"block:1", "out_relu"}
    assert np.array_equal(back["block:1"], stack[:, :4]) and np.array_equal(back["out_relu"], plain[:4])


@pytest.mark.slow
def test_a_failing_read_is_one_clear_error_and_nothing_complete(ray_driver, fashion_dir, tmp_path):
    from featcache.sources.fashion_mnist import load

    source = load(fashion_dir)
    good = source.splits["train"].read

    def read(a, b):
        if b > 24:
            raise FeatcacheError("rows 24+ are unreadable; fix the data")
        return good(a, b)

    source.splits["train"].read = read
    out = tmp_path / "bad.h5"
    with pytest.raises(FeatcacheError, match="^rows 24\\+ are unreadable; fix the data$"):
        extract(source=source, out=out, engine="ray", workers=1, **TINY)
    assert not out.exists()
    with h5py.File(partial_path(out), "r") as f:
        assert not f.attrs.get("complete", False)
        assert int(f["train"].attrs["rows_done"]) in (0, 8, 16, 24)  # whole batches before the bad one, at most
    with pytest.raises(FeatcacheError, match="incomplete cache"):
        featcache.open_cache(partial_path(out))


@pytest.mark.slow  # starts the module's Ray cluster (10-30 s), shared with the other slow tests here
def test_more_workers_than_the_cluster_holds(ray_driver, fashion_dir, tmp_path):
    with pytest.raises(FeatcacheError, match="2 CPUs on 1 node.*; workers=3 x cpus_per_worker=1 does not fit"):
        extract(data_dir=str(fashion_dir), out=tmp_path / "x.h5", engine="ray", workers=3, cpus_per_worker=1, **TINY)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_address_fails_fast():
    t0 = time.time()
    with pytest.raises(FeatcacheError, match=r"no Ray cluster reachable at 127\.0\.0\.1:\d+ \(Connection refused\); start one with 'ray start --head'"):
        ray_engine.probe_address(f"127.0.0.1:{free_port()}")
    with pytest.raises(FeatcacheError, match="not HOST:PORT"):
        ray_engine.probe_address("10.0.0.5:head")
    # Something listens there, but it is not a Ray head (the dashboard's port, say): bounded, not Ray's minutes of retries.
    # The bound is waited out: 2 s, not the 4 s it was (the probe's answer is the same line either way).
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        with pytest.raises(FeatcacheError, match="accepts connections but no Ray cluster head .GCS. answered within 2 s"):
            ray_engine.probe_address(f"127.0.0.1:{server.getsockname()[1]}", timeout=2)
    assert time.time() - t0 < 20


def test_bad_engine_options_are_one_clear_line(fashion_dir, capsys, monkeypatch):
    base = ["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32"]
    cases = [
        (["--engine", "ray", "--workers", "0"], "argument --workers: 0 must be at least 1"),
        (["--workers", "2"], "--workers applies only to --engine ray"),
    ]
    for extra, message in cases:
        try:
            rc = main(base + extra)
        except SystemExit as exit_:  # argparse's own usage errors
            rc = exit_.code
        assert rc == 2
        err = capsys.readouterr().err
        assert message in err.strip().splitlines()[-1] and "Traceback" not in err
    with pytest.raises(FeatcacheError, match="^workers=0 must be at least 1$"):
        extract(data_dir=str(fashion_dir), engine="ray", workers=0, **TINY)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert main(base + ["--engine", "ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pip install 'featcache[ray]'" in err


def test_a_private_instance_is_sized_by_the_cores_and_auto_needs_a_cluster_before_any_file(fashion_dir, tmp_path, capsys,
                                                                                            monkeypatch):
    """--workers 2 --cpus-per-worker 8 ran on 2 cores (start_local sized Ray to what was asked: --workers 1000, 1000
    actors); --address auto with no cluster failed ~23 s later, leaving <out>.partial.h5 and no fix (an adversarial
    tester). Both are refused by the engine's check, before the partial file; Ray is never started here."""
    import ray._private.services as services

    import featcache.validate as validate

    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as in a fresh process (the module's instance aside)
    monkeypatch.setattr(validate, "usable_cores", lambda: 2)
    started = []
    monkeypatch.setattr(ray_engine, "start_local", lambda n: started.append(n))

    def no_cluster(addr):
        raise ConnectionError("Could not find any running Ray instance.")

    monkeypatch.setattr(services, "canonicalize_bootstrap_address_or_die", no_cluster)
    out = tmp_path / "c.h5"
    base = ["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32", "--out", str(out), "--engine", "ray"]
    for extra, message in [(["--workers", "2", "--cpus-per-worker", "8"], "--workers 2 x --cpus-per-worker 8 is 16 CPUs, more than "
                            "the 2 cores of this machine featcache may use; ask for at most 2 in all (e.g. --workers 2 "
                            "--cpus-per-worker 1), or pass --address of a Ray cluster"),
                           (["--workers", "1000"], "--workers 1000 x --cpus-per-worker 1 is 1000 CPUs"),
                           (["--workers", "3"], "--workers 3 x --cpus-per-worker 1 is 3 CPUs"),
                           (["--address", "auto"], "--address auto finds no Ray cluster running on this machine (none recorded "
                            "by 'ray start', no RAY_ADDRESS); start one with 'ray start --head'")]:
        assert main(base + extra) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
        assert not out.exists() and not partial_path(out).exists()
    assert started == []
    ray_engine.check_options(None, workers=2)  # what fits is taken
    ray_engine.check_options(None, workers=1, cpus_per_worker=2)
    with pytest.raises(FeatcacheError, match="^workers=4 x cpus_per_worker=1 is 4 CPUs"):  # run() guards it too
        ray_engine.run([object()], None, None, None, workers=4)
    assert started == []


@pytest.mark.slow
def test_an_unreachable_address_from_the_command_line_is_one_line(fashion_dir, capsys, monkeypatch):
    # In this process, as a fresh one sees it (this one may hold the module's Ray connection): the address is probed
    # before any connection (a python -m featcache of its own before: 2.6 s of interpreter and imports).
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    base = ["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32"]
    proc = run_main(capsys, *base, "--engine", "ray", "--address", f"127.0.0.1:{free_port()}")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "no Ray cluster reachable" in proc.stderr


@contextlib.contextmanager
def fresh_interpreter_warnings():
    """The warnings a fresh ``python -m featcache`` would print on stderr, recorded (pytest's own filters turn them into
    its summary, never stderr): a command run in this process that must be quiet says nothing there either."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", category)  # Python's default filters
        yield caught


@pytest.mark.slow
def test_join_an_existing_cluster_and_resume_after_sigkill_of_the_driver(ray_head, tmp_path, capfd, monkeypatch):
    """--address: the driver joins a running cluster, ships featcache to it, writes the cache locally. Its first run is
    SIGKILLed midway; the re-run embeds only the missing rows, quietly, with features as an uninterrupted local run's.

    Two tests before, each with a driver process of its own: test_join_an_existing_cluster (68 s of the last slow
    tier) and test_resume_after_sigkill_of_the_driver (77 s), whose killed driver started a private Ray instance and
    whose re-run started one more actor in this process, beside a local reference each. Here the joining driver's run
    is the re-run: one Ray start, one actor start (TensorFlow's import, the network's build), one driver process and
    one local reference less; the token check runs in this process (its probe is a process of its own all the same).

    The re-run joins from this process (featcache.cli.main, left unconnected first): its own `python -m featcache`
    was an interpreter and TensorFlow's import. What it writes is read at the file descriptors (capfd: Ray's native
    lines too) and the warnings a fresh interpreter prints are recorded, so its quiet claim is the process's. The
    killed driver stays a process: SIGKILL is the claim.

    And the killed driver's process is the fresh one that two more claims need (a test of its own before,
    test_actors_keep_their_share_of_threads_and_the_local_engine_never_imports_ray: 13.6 s of the last whole suite,
    its interpreter and TensorFlow's import). What each embedding actor runs first, limit_threads (in a plain process
    here: no Ray worker needed to check it), keeps TensorFlow and ONNX Runtime to its share of threads, importing
    neither (it imported Keras and TensorFlow in every actor, one that runs ONNX Runtime too). And a local
    extract never imports Ray: ray_engine's module imports none (Ray is imported in its functions), so importing
    limit_threads first leaves that check as it was; any Ray module after the local extract fails it. That local
    extract is the uninterrupted reference, and the driver's build of the network (runtimes' memo) follows it."""
    if ray.is_initialized():  # this process's connection to the module's cluster (ray_driver): its job's actors
        ray.shutdown()  # leave the cluster's 2 CPUs with it, and the re-run here joins by --address as a new driver
    data = make_fashion_dir(tmp_path / "d", n_train=80, n_test=16)  # 12 batches: the kill lands after the 4th (below)
    out = tmp_path / "cluster.h5"
    args = ["extract", "--data-dir", str(data), "--weights", "random", "--image-size", "64", "--batch-size", "8",
            "--layers", LAYERS, "--out", str(out), "--engine", "ray", "--address", ray_head, "--json"]
    ref = tmp_path / "ref.h5"
    local = ["extract", "--data-dir", str(data), "--weights", "random", "--image-size", "64", "--batch-size", "8",
             "--layers", LAYERS, "--out", str(ref)]
    code = (
        "import os, sys\n"
        "from featcache.embedding.engines.ray_engine import limit_threads\n"
        "limit_threads(1)\n"
        "print('imported', sorted(m for m in ('tensorflow', 'keras', 'onnxruntime') if m in sys.modules), flush=True)\n"
        "from featcache._lazy import tensorflow\n"
        "tf = tensorflow()\n"
        "from featcache.embedding.runtimes import REGISTRY\n"
        "print('threads', tf.config.threading.get_intra_op_parallelism_threads(), "
        "tf.config.threading.get_inter_op_parallelism_threads(), os.environ['TF_NUM_INTRAOP_THREADS'], "
        "os.environ['TF_NUM_INTEROP_THREADS'], os.environ['OMP_NUM_THREADS'], REGISTRY['onnxruntime'].threads, "
        "flush=True)\n"
        "import featcache\n"
        "from featcache.cli import main\n"
        f"assert main({local!r}) == 0\n"
        f"assert featcache.open_cache({str(ref)!r}).meta['complete']\n"
        "print('ray', sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')), flush=True)\n"
        # The Ray run's first 2 batches committed, 2 more written and not committed, then it waits for its SIGKILL (as
        # helpers.stopped_between_commits stops a local run): the kill lands midway on the writer's word, not on a
        # poll of the partial file that had to outrun the run (400 training images at 64 px were its margin).
        "from featcache.store import writer\n"
        "real_write, written = writer.CacheWriter.write, []\n"
        "writer.COMMIT_SECONDS = float('inf')  # no commit but the one below\n"
        "def write(self, *a, **kw):\n"
        "    real_write(self, *a, **kw)\n"
        "    written.append(1)\n"
        "    if len(written) == 2:\n"
        "        self.commit()\n"
        "    elif len(written) == 4:\n"
        "        print('between commits', flush=True)\n"
        "        import time\n"
        "        while True:\n"
        "            time.sleep(1)\n"
        "writer.CacheWriter.write = write\n"
        f"raise SystemExit(main({[*args, '--workers', '1']!r}))\n"  # as `python -m featcache` runs it
    )
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    with open(tmp_path / "driver.out", "w") as said, open(tmp_path / "driver.err", "w") as err:
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=said, stderr=err)
    deadline = time.time() + 240
    try:
        while time.time() < deadline and proc.poll() is None and "between commits" not in (tmp_path / "driver.out").read_text():
            time.sleep(0.05)
    finally:
        driver_processes = [pid for pid, _ in descendants(proc.pid)]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kill_all(driver_processes)  # anything the killed driver started (the cluster's processes are the head's)
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "driver.err").read_text()  # killed, not ended
    said = [line for line in (tmp_path / "driver.out").read_text().splitlines() if line.startswith(("imported ", "threads ", "ray "))]
    # Nothing imported to limit them (an actor on ONNX Runtime needs no TensorFlow); TensorFlow's config once featcache
    # imports it, and the variables it reads at its start where other code imports it first; ONNX Runtime's threads
    # (it reads no environment variable); a local extract imported no Ray
    assert said == ["imported []", "threads 1 1 1 1 1 1", "ray []"]
    assert not out.exists(), "a killed run must not leave a file that looks complete"
    with h5py.File(partial_path(out), "r") as f:
        done = int(f["train"].attrs["rows_done"])
    assert done == 16  # the 2 batches committed; the 2 written after them are not kept
    # Two actors on the cluster's 2 CPUs: rows from both come back in order.
    with fresh_interpreter_warnings() as warned:
        proc = run_main(capfd, *args, "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "" and [str(w.message) for w in warned] == []  # quiet
    assert json.loads(proc.stdout)["images"] == 96 - done
    assert not ray.is_initialized()  # the joining run left the cluster, as its process's exit did
    assert_same_cache(out, ref)
    # The head wants its token: a clear line, not a hang. In this process, as a fresh one would see it (one connected
    # to Ray would be refused --address first): the check comes before any Ray connection.
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    result = run_main(capfd, *args, "--workers", "2")
    assert result.returncode == 2 and "requires token authentication; set RAY_AUTH_MODE=token" in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_decoding_tasks_are_no_more_than_the_batches_and_each_batch_is_a_block():
    """A new-user tester: 40 photos in one batch printed Ray's raw warning that its pool of decoding tasks "is set
    to 2, but the operator only received 1 input(s)"; and from_items packs items in fewer blocks than batches, one
    task decoding them in turn. The pool is sized by the batches, each batch a block of its own."""
    from types import SimpleNamespace

    from featcache.embedding.batches import Batch

    asked = {}

    class Dataset:
        def map_batches(self, fn, compute=None, **kw):
            asked.setdefault("pools", []).append(compute)
            return self

    fake = SimpleNamespace(put=lambda x: x, data=SimpleNamespace(
        from_items=lambda items, **kw: asked.update(items=len(items), **kw) or Dataset(),
        TaskPoolStrategy=lambda size: ("tasks", size), ActorPoolStrategy=lambda size: ("actors", size)))
    for batches, tasks in (([Batch("train", 0, 40)], 1), ([Batch("train", i, i + 4) for i in range(0, 40, 4)], 4)):
        asked.clear()
        ray_engine._dataset(fake, batches, read=None, make_embed=None, workers=2, per=1)
        assert asked["items"] == asked["override_num_blocks"] == len(batches)
        assert asked["pools"] == [("tasks", tasks), ("actors", 2)]


def test_ray_reports_its_start_up_apart_from_the_embeddings_time(monkeypatch):
    """'extract --engine ray' said 62 images/s for 1,400 images in 22.6 s, of which ~19 s was Ray starting its
    cluster and actors (each building the network): Ray looked 5x slower than local (a new-user tester). The driver
    takes the first rows' arrival, less the seconds their actor spent embedding them, as the start-up's end."""
    import types

    import numpy as np

    from featcache.embedding.batches import Batch

    # A clock of its own: a real 0.4 s sleep checked to within 0.1 s could fail on a loaded 2-core machine (a reviewer)
    now = [100.0]
    monkeypatch.setattr(ray_engine, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))

    class Dataset:
        def iter_batches(self, **kw):
            now[0] += 0.4  # the actors starting
            yield {"row": np.arange(4), ray_engine.EMBED_SECONDS: np.full(4, 0.025), "feat:x": np.zeros((4, 2))}
            now[0] += 0.1
            yield {"row": np.arange(4, 8), ray_engine.EMBED_SECONDS: np.full(4, 0.025), "feat:x": np.ones((4, 2))}

    written = []
    began = ray_engine._drain(Dataset(), [Batch("train", 0, 4), Batch("train", 4, 8)], lambda b, f: written.append(b))
    # 0.4 s waited, 0.1 s of it the first batch's embedding (its arrival, 100.4, was the start-up's end before)
    assert len(written) == 2 and began == pytest.approx(100.3)

    actor = object.__new__(ray_engine._Embed)  # what an actor returns besides the features: its rows' seconds
    actor.embed = lambda x: (now.__setitem__(0, now[0] + 0.05), {"out_relu": np.zeros((len(x), 3), np.float32)})[1]
    out = actor({"row": np.arange(5), "image": np.zeros((5, 2, 2, 3), np.uint8)})
    assert out[ray_engine.EMBED_SECONDS] == pytest.approx(np.full(5, 0.01))


@pytest.fixture
def start_up(monkeypatch):
    """``start_up(s)``: an engine's start-up of ``s`` seconds as extract and its bar see it, the clocks they read
    (time.perf_counter, time.monotonic) moved on by ``s``, not waited out (a time.sleep(1.5) was 1.5 s of each test
    below). Every reader of those clocks sees the same jump, as it saw the sleep: the start-up counted in a total or a
    rate shows in it as before."""
    ahead = [0.0]
    perf_counter, monotonic = time.perf_counter, time.monotonic
    monkeypatch.setattr(time, "perf_counter", lambda: perf_counter() + ahead[0])
    monkeypatch.setattr(time, "monotonic", lambda: monotonic() + ahead[0])
    return lambda seconds: ahead.__setitem__(0, ahead[0] + seconds)


def test_extract_leaves_an_engines_start_up_out_of_its_seconds_and_images_per_second(fashion_dir, tmp_path, capsys,
                                                                                      monkeypatch, start_up):
    """An engine's start-up (Ray's, returned by its run) is said apart, as the model build is, in the text and
    --json; the seconds and images/s are the embedding's alone. The local engine has none: its numbers as before."""
    from featcache.embedding.engines.local import LocalEngine
    from featcache.embedding.specs import from_options
    from featcache.embedding.runner import _report

    class SlowStart:  # as Ray: a start-up inside run, before the first batch
        runtime = "tensorflow"

        def check(self) -> None:
            pass

        def run(self, *args) -> float:
            start_up(1.5)
            t0 = time.perf_counter()
            LocalEngine().run(*args)
            self.embedding = time.perf_counter() - t0
            return 1.5

    monkeypatch.setenv("FEATCACHE_HOME", str(tmp_path / "slow"))
    engine = SlowStart()
    options = {k: v for k, v in TINY.items() if k != "verbose"}
    parts = from_options(data_dir=str(fashion_dir), **options)
    res = featcache.extract(parts.source, parts.model, parts.store, engine)
    assert res.engine_startup_seconds == 1.5 and abs(res.seconds - engine.embedding) < 0.3
    assert res.to_dict()["engine_startup_seconds"] == 1.5 and res.images_per_s == res.images / res.seconds
    assert res.to_dict()["engine"] == "SlowStart"  # an engine of the caller's, without a name: its class's
    _report(res)
    line = capsys.readouterr().out
    assert f"in {res.seconds:.1f} s ({res.images_per_s:.0f} images/s" in line
    assert "; model build " in line and " s, engine start-up 1.5 s)" in line
    monkeypatch.setenv("FEATCACHE_HOME", str(tmp_path / "local"))
    local = featcache.extract(*from_options(data_dir=str(fashion_dir), **options))
    assert local.engine_startup_seconds == 0 and local.to_dict()["engine_startup_seconds"] == 0
    assert local.to_dict()["engine"] == "local" and featcache.extract(*from_options(data_dir=str(fashion_dir),
                                                                                  **options)).engine is None  # a hit
    _report(local)
    assert "engine start-up" not in capsys.readouterr().out


def test_the_bar_and_the_summary_say_one_rate_after_an_engines_slow_start(fashion_dir, tmp_path, capsys, monkeypatch,
                                                                          progress_on, start_up):
    """'--engine ray' on 700 images drew '700/700 [=====] - 17s total, 40 images/s' and then said 'extracted 700 images
    in 2.4 s (291 images/s, ...; engine start-up 16.4 s)': the bar counted Ray's start-up (a reviewer, 2026-12-05).
    The bar's last line leaves the engine's start-up out, as the summary does."""
    import re

    from featcache.embedding.engines.local import LocalEngine
    from featcache.embedding.specs import from_options

    class SlowStart:  # as Ray: a start-up inside run, before the first batch
        runtime = "tensorflow"

        def check(self) -> None:
            pass

        def run(self, *args) -> float:
            start_up(1.5)
            LocalEngine().run(*args)
            return 1.5

    monkeypatch.setenv("FEATCACHE_HOME", str(tmp_path / "slow"))
    options = {k: v for k, v in TINY.items() if k != "verbose"}
    parts = from_options(data_dir=str(fashion_dir), **options)
    res = featcache.extract(parts.source, parts.model, parts.store, SlowStart(), verbose=True)
    last = capsys.readouterr().err.strip().splitlines()[-1]
    bar = re.search(rf"{res.images}/{res.images} \[=+\] - (\d+)s total, (\d+) images/s", last)
    assert bar, last
    # The old bar: 1.5 s more in its total (2 s or more), so its rate under half the summary's for an embedding under
    # 1.5 s; the bounds leave room for a loaded machine's scheduling between the two clocks.
    assert res.seconds < 1.5 and int(bar[1]) <= 1
    assert abs(int(bar[2]) - res.images_per_s) <= 0.25 * res.images_per_s


@pytest.mark.parametrize("connected, address, said", [
    (False, None, "starting Ray on this machine, then 2 embedding actors building the network (seconds to a minute) ..."),
    (False, "10.0.0.5:6379", "joining the Ray cluster at 10.0.0.5:6379, then starting 2 embedding actors building the network ..."),
    (True, None, "starting 2 embedding actors building the network on the Ray cluster this process is connected to ..."),
])
def test_a_ray_run_says_what_it_starts_before_the_wait(connected, address, said, monkeypatch, capsys, progress_on):
    """A new-user tester (2026-12-07): after "network ready" a Ray run was 21-25 s without a word (Ray's start, its
    actors' imports and builds), then a bar whose first line said 22 s. The line comes first, as extract's status
    lines do (within ``status_lines``); here the start stops at once, so no Ray is started."""
    from featcache.embedding.batches import Batch
    from featcache.progress import status_lines

    def stop(*args, **kwargs):
        raise featcache.FeatcacheError("stopped before Ray")

    monkeypatch.setattr(ray, "is_initialized", lambda: connected)
    monkeypatch.setattr(ray_engine, "start_local", stop)
    monkeypatch.setattr(ray_engine, "_join", stop)
    monkeypatch.setattr(ray_engine, "plan_cpus", stop)
    monkeypatch.setattr(ray, "shutdown", lambda: None)  # a connection of this process's own stays
    with status_lines(), pytest.raises(featcache.FeatcacheError, match="stopped before Ray"):
        ray_engine.run([Batch("train", 0, 4)], None, None, None, address=address, workers=2)
    assert capsys.readouterr().err.splitlines() == [said]
    with pytest.raises(featcache.FeatcacheError, match="stopped before Ray"):  # said only within status_lines
        ray_engine.run([Batch("train", 0, 4)], None, None, None, address=address, workers=2)
    assert capsys.readouterr().err == ""
