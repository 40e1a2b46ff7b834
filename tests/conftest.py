"""Shared fixtures (helpers live in tests/helpers.py).

Plumbing tests use tiny synthetic IDX files and ``--weights random``; tests
about results use the real MobileNetV2 weights from ``../shared/weights``
(or ``$FEATCACHE_WEIGHTS``) and fail, never skip, when they are missing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import FASHION_DIR, SHARED, WEIGHTS, make_fashion_dir, write_idx  # noqa: F401  (re-exported for old imports)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# No progress bars (on stderr since 2026-12-03) in the tests, subprocesses included: dozens of tests check that an
# error is one line of stderr. The tests of the bars themselves turn them on (progress_on below).
os.environ["FEATCACHE_PROGRESS"] = "off"
# Subprocesses (the CLI, scripts, Ray workers) import this checkout's featcache, not whatever an editable install
# elsewhere points at: a second clone's `pip install -e .` had the CLI tests of this one run that clone's code.
REPO = Path(__file__).resolve().parents[1]
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))


@pytest.fixture
def fashion_dir(tmp_path: Path) -> Path:
    return make_fashion_dir(tmp_path / "fmnist")


@pytest.fixture(scope="session", autouse=True)
def _shared_runtime_dir(tmp_path_factory) -> None:
    """One folder of converted models for the whole session: a conversion takes 8-20 s (a minute under load) and depends only on the model.
    The user's cache folder (XDG_CACHE_HOME) is a temporary one too, so that a test that unsets FEATCACHE_RUNTIME_DIR
    (for the default, ``paths.runtime_dir``: ``~/.cache/featcache/runtimes``) never writes to the real ~/.cache; its
    subprocesses inherit both."""
    os.environ["FEATCACHE_RUNTIME_DIR"] = str(tmp_path_factory.mktemp("runtimes"))
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("user_cache"))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch) -> None:
    """Default caches go to a temporary folder, never the repo's data/."""
    monkeypatch.setenv("FEATCACHE_HOME", str(tmp_path / "home"))


@pytest.fixture
def keras_cache(tmp_path: Path, monkeypatch) -> Path:
    """An empty Keras cache of the test's own: its ``models`` folder, where ``--weights imagenet`` is looked for and
    downloaded to. Keras fixes its home when imported, so it is set there for this process, and KERAS_HOME for
    subprocesses. Put stand-in weights in it with ``helpers.imagenet_standin``."""
    import keras.src.backend.config as config

    home = tmp_path / "keras_home"
    (home / "models").mkdir(parents=True)
    monkeypatch.setattr(config, "_KERAS_DIR", str(home))
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home / "models"


@pytest.fixture
def offline_keras(keras_cache: Path, monkeypatch):
    """``keras_cache`` (empty) on a machine with no way out: every HTTP(S) connection, this process's and its
    subprocesses', goes through a proxy on a port of this machine that is bound and never listened on, so it is
    refused at once, whatever network there is (and no name is looked up: a lookup with no DNS server may hang).
    Returns the empty ``models`` folder."""
    import socket
    import urllib.request

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # held, not listening: nothing else can take the port, a connection is refused
    proxy = f"http://127.0.0.1:{closed.getsockname()[1]}"
    for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.setattr(urllib.request, "_opener", None)  # urlopen's opener, built once: built again, with the proxy
    yield keras_cache
    closed.close()


@pytest.fixture
def no_network(tmp_path: Path, monkeypatch):
    """No way out for this test's subprocesses, and a record of every try; a fresh, empty HOME.

    The proxy variables point at a ``helpers.ProxyRecorder`` (what native code asks for through them: ONNX
    Runtime's uploader), and ``tests/netguard`` goes first on PYTHONPATH, so each Python subprocess refuses and
    records its own connections, and its forked children's, with their stacks. The variables that silence
    telemetry on a CI machine are unset (``helpers.TELEMETRY_SWITCHES``). HOME is ``tmp_path/user_home``, empty,
    with Keras's and matplotlib's folders (their caches, not telemetry) put outside it, so anything written there
    is a finding. Returns ``(home, tries)``: ``tries()`` lists the requests the proxy saw, then the refused
    connections."""
    from helpers import NETGUARD, TELEMETRY_SWITCHES, ProxyRecorder, netguard_tries

    proxy = ProxyRecorder()
    log = tmp_path / "netguard.log"
    home = tmp_path / "user_home"
    home.mkdir()
    for name in ("all_proxy", "ALL_PROXY", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", *TELEMETRY_SWITCHES):
        monkeypatch.delenv(name, raising=False)
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, proxy.url)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "localhost,127.0.0.1")  # this machine only (Ray's own connections)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(NETGUARD), os.environ["PYTHONPATH"]]))
    monkeypatch.setenv("FEATCACHE_NETGUARD_LOG", str(log))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "matplotlib"))
    yield home, lambda: [f"proxy asked for: {line}" for line in proxy.requests] + netguard_tries(log)
    proxy.close()


@pytest.fixture(scope="session")
def real_weights() -> Path:
    if not WEIGHTS.is_file():
        pytest.fail(f"real MobileNetV2 weights not found at {WEIGHTS}: put ../shared beside the checkout or set FEATCACHE_WEIGHTS")
    return WEIGHTS


@pytest.fixture(scope="session")
def real_fashion_dir() -> Path:
    if not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file():
        pytest.fail(f"Fashion-MNIST not found in {FASHION_DIR}: apt-get install dataset-fashion-mnist or set FEATCACHE_FASHION_DIR")
    return FASHION_DIR


@pytest.fixture(scope="session")
def hymenoptera_dir() -> Path:
    """/work/shared's hymenoptera photos (train/ and val/ of ants and bees); a failure, not a skip, where missing."""
    path = Path(os.environ.get("FEATCACHE_HYMENOPTERA", SHARED / "datasets" / "hymenoptera"))
    if not (path / "train" / "ants").is_dir():
        pytest.fail(f"hymenoptera photos not found at {path}: put ../shared beside the checkout or set FEATCACHE_HYMENOPTERA")
    return path


FILE_SECONDS = Path(__file__).with_name("file_seconds.json")


def pytest_configure(config) -> None:
    # pytest-xdist's loadfile hands out files ordered by their number of tests, which put the Ray engine's 13 tests
    # (280 s) near the end; our own longest-first order (below) is kept instead.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False
    _compile_featcache()


def _compile_featcache() -> None:
    """featcache's bytecode written once, before any test, beside its sources (``__pycache__``, git-ignored).

    Under PYTHONDONTWRITEBYTECODE (set on these machines) no process writes it, so each of the suite's hundreds of
    subprocesses (CLI runs, scripts, Ray workers) compiled the ~34,000 lines of featcache it imports again: 0.25 s of
    each heavy import here (0.73-0.77 s against 0.50-0.53 s, 2026-12-07, AMD EPYC Zen 3, load 1); compiling sources
    took 55 s of the whole suite's CPU profile (py-spy), most of it featcache's. The variable only stops writing; compiled files are read. Nothing else is written: the
    other packages ship theirs. Up to date, the check takes 20 ms."""
    import compileall

    compileall.compile_dir(Path(__file__).resolve().parents[1] / "featcache", quiet=2, workers=1)


def pytest_collection_modifyitems(config, items) -> None:
    """Real-weight tests join the slow tier; files run longest first, so two workers finish together.

    Tests on the real weights are about results, not plumbing: they belong to
    the slow tier whatever their marks say, and the fast tier (``-m "not
    slow"``) is then plumbing only: tiny inputs and random weights.

    The order: each file's seconds as last measured (``tests/file_seconds.json``,
    written by ``scripts/suite_times.py run.xml --write-seconds``); a file not
    measured yet goes first. Longest first is how a greedy scheduler gets
    close to the best split (the simulation on 2026-12-03's run: 808 s of
    work per worker against 845 s in xdist's order); the tests inside a file
    keep their order.
    """
    for item in items:
        if {"real_weights", "real_fashion_dir"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    seconds = json.loads(FILE_SECONDS.read_text()) if FILE_SECONDS.is_file() else {}
    items.sort(key=lambda item: -seconds.get(item.path.stem, float("inf")))


@pytest.fixture(scope="session")
def real_fm600(real_weights, real_fashion_dir, tmp_path_factory) -> Path:
    """The lesson's kind of cache, small: the first 600 train / 300 test Fashion-MNIST images, 96 px, real weights, out_relu.

    Extracted once per session for every module that needs it (train/evaluate,
    the layer tests' final-output-only cache, the exported models' agreement
    tests in test_export_predict): read only. A test that changed
    it would fail the session, here, at teardown.
    """
    import hashlib

    import featcache

    out = tmp_path_factory.mktemp("real_fm600") / "fm600.h5"
    with pytest.MonkeyPatch.context() as mp:  # session scope runs before the per-test FEATCACHE_HOME
        mp.setenv("FEATCACHE_HOME", str(out.parent / "home"))
        path = featcache.extract(featcache.FashionMNIST(data_dir=str(real_fashion_dir), train_limit=600, test_limit=300),
                                 featcache.ModelSpec(weights=str(real_weights)), featcache.StoreSpec(out=out), verbose=False).path
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    yield path
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"a test changed the shared cache {path}"


@pytest.fixture
def cli_words():
    """A check's messages in a command's words, as while ``featcache.cli.main`` runs one (``errors.cli_words``): for a
    test of a check's CLI line that calls it directly. Outside it a message names the API's keyword (errors.option)."""
    from featcache.errors import cli_words as words

    with words():
        yield


@pytest.fixture
def progress_on(monkeypatch):
    """Progress bars drawn, as for a user (conftest turns them off for every other test)."""
    monkeypatch.delenv("FEATCACHE_PROGRESS", raising=False)
