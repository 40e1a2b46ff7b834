import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import cli_one_line_error, write_idx

from featcache.errors import FeatcacheError
from featcache.sources import fashion_mnist
from featcache.sources.base import array_digest


def test_loads_first_n_with_class_names(fashion_dir):
    src = fashion_mnist.load(fashion_dir, train_limit=20, test_limit=10)
    assert len(src.splits["train"]) == 20 and len(src.splits["test"]) == 10
    assert src.splits["train"].read(0, 5).shape == (5, 28, 28)
    assert src.splits["train"].read(0, 5).dtype == np.uint8
    assert list(src.splits["train"].index) == list(range(20))
    assert src.class_names[0] == "t-shirt/top" and src.class_names[9] == "ankle boot"


def test_digest_changes_with_data(fashion_dir):
    a = fashion_mnist.load(fashion_dir, train_limit=20)
    b = fashion_mnist.load(fashion_dir, train_limit=21)
    assert a.digest["train"] != b.digest["train"] and a.digest["test"] == b.digest["test"]


def test_real_files(real_fashion_dir):
    src = fashion_mnist.load(real_fashion_dir)
    assert len(src.splits["train"]) == 60000 and len(src.splits["test"]) == 10000
    assert np.bincount(src.splits["train"].labels).tolist() == [6000] * 10


@pytest.mark.parametrize(
    "breakage, message",
    [
        ("missing_dir", "data directory not found"),
        ("missing_file", "lacks the Fashion-MNIST file"),
        ("truncated", "truncated or corrupt"),
        ("wrong_magic", "magic number"),
        ("not_gzip", "not a readable IDX file"),
        ("count_mismatch", "do not belong together"),
    ],
)
def test_bad_data_dir(fashion_dir, breakage, message):
    d = fashion_dir
    img = d / "train-images-idx3-ubyte.gz"
    if breakage == "missing_dir":
        d = d / "nope"
    elif breakage == "missing_file":
        img.unlink()
    elif breakage == "truncated":
        data = gzip.open(img).read()
        with gzip.open(img, "wb") as f:
            f.write(data[:-100])
    elif breakage == "wrong_magic":
        write_idx(img, np.zeros((48, 28, 28), np.uint8), 0x801 + 0x1000)
    elif breakage == "not_gzip":
        img.write_bytes(b"this is not gzip data at all")
    elif breakage == "count_mismatch":
        write_idx(img, np.zeros((47, 28, 28), np.uint8), 0x803)
    with pytest.raises(FeatcacheError, match=message):
        fashion_mnist.load(d)


def test_an_idx_file_of_no_images_is_one_line(fashion_dir, tmp_path, capsys):
    """An IDX file whose header declares 0 images ended in a TypeError traceback (the split's digest: a memoryview
    cast refuses an array with a 0 in its shape; an adversarial tester). It is not Fashion-MNIST: one line, exit 2."""
    write_idx(fashion_dir / "t10k-images-idx3-ubyte.gz", np.zeros((0, 28, 28), np.uint8), 0x803)
    write_idx(fashion_dir / "t10k-labels-idx1-ubyte.gz", np.zeros(0, np.uint8), 0x801)
    out = tmp_path / "o.h5"
    cli_one_line_error(capsys, ["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32",
                                "--out", str(out)], f"{fashion_dir / 't10k-images-idx3-ubyte.gz'} declares 0 images; ")
    assert not out.exists()
    assert array_digest(np.zeros((0, 28, 28), np.uint8)) != array_digest(np.zeros((0, 28, 27), np.uint8))


def test_limit_beyond_data(fashion_dir):
    with pytest.raises(FeatcacheError, match="^train_limit=49 is beyond the 48"):
        fashion_mnist.load(fashion_dir, train_limit=49)


def test_open_from_cuts_what_open_would_read_without_reading_again(fashion_dir, monkeypatch):
    """The lesson reads the IDX files once: its cache's source, cut from the one it read, is the source open() gives
    (the same spec and digests, hence the same cache identity)."""
    full = fashion_mnist.FashionMNIST(fashion_dir, test_limit=10).open()
    spec = fashion_mnist.FashionMNIST(fashion_dir, train_limit=20, test_limit=10)
    want = spec.open()
    monkeypatch.setattr(fashion_mnist, "read_idx", lambda *a: pytest.fail("read the IDX files again"))
    got = spec.open_from(full)
    assert (got.name, got.class_names, got.spec, got.digest, got.default_image_size) == \
        (want.name, want.class_names, want.spec, want.digest, want.default_image_size)
    for name, split in want.splits.items():
        cut = got.splits[name]
        assert np.array_equal(cut.labels, split.labels) and cut.labels.dtype == np.int64
        assert np.array_equal(cut.index, split.index) and np.array_equal(cut.read(0, len(split)), split.read(0, len(split)))
        assert cut.row_digests() == split.row_digests()
    with pytest.raises(ValueError, match="holds its first 10 images, not all"):
        fashion_mnist.FashionMNIST(fashion_dir).open_from(full)  # all the test images: more than were read


_LOCATE = """
import json, sys
from pathlib import Path
import featcache._lazy
from featcache.errors import FeatcacheError
from featcache.sources import fashion_mnist
from featcache.sources.base import array_digest

def offline():
    raise OSError("no network here")

featcache._lazy.keras = offline  # the download locate() tries last
fashion_mnist.SEARCH_PATH[:] = [Path(p) for p in json.loads(sys.argv[1])]
try:
    print("found", fashion_mnist.locate())
except FeatcacheError as exc:
    print("error", exc)
"""


def _unprivileged(script: str, *args: str):
    """``python -c script *args`` in a process that file permissions bind: root without DAC override (setpriv), as
    a user is, so a folder of mode 000 cannot be looked into; this checkout first on its path."""
    import os
    import subprocess
    import sys

    unprivileged = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] if os.geteuid() == 0 else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([*unprivileged, sys.executable, "-c", script, *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_an_unreadable_place_among_the_search_path_is_passed_over(tmp_path, fashion_dir):
    """Regression (an adversarial tester): with ~/.keras unreadable (chmod 000), Fashion-MNIST installed in
    /usr/share/datasets/fashion-mnist was not found: looking into ~/.keras raised EACCES (a traceback). The place is
    passed over; where none holds the files, the line says which could not be read."""
    keras_home = tmp_path / "home" / ".keras"
    (keras_home / "datasets" / "fashion-mnist").mkdir(parents=True)
    keras_home.chmod(0)
    try:
        found, missing = (_unprivileged(_LOCATE, json.dumps([str(keras_home / "datasets" / "fashion-mnist"), str(place)]))
                          for place in (fashion_dir, tmp_path / "nowhere"))
    finally:
        keras_home.chmod(0o755)
    assert found.returncode == 0 and found.stdout.strip() == f"found {fashion_dir}", (found.stdout, found.stderr[-2000:])
    assert missing.stdout.strip() == (f"error Fashion-MNIST not found locally ({keras_home / 'datasets' / 'fashion-mnist'} "
                                      f"could not be read (Permission denied)) and could not be downloaded; "
                                      f"{fashion_mnist.install_hint()}"), (missing.stdout, missing.stderr[-2000:])


_LOCATE_GIVEN = """
import sys
import featcache
from featcache.sources import fashion_mnist
from featcache.sources.base import array_digest

for call in (lambda d: fashion_mnist.locate(data_dir=d), lambda d: featcache.FashionMNIST(data_dir=d)):
    for d in sys.argv[1:]:
        try:
            call(d)
            print("found", d)
        except Exception as exc:
            print(type(exc).__name__, exc)
"""


def test_a_data_dir_given_that_cannot_be_read_is_one_line_through_the_api(tmp_path, fashion_dir):
    """Regression (a review): ``locate(data_dir=...)`` and ``FashionMNIST(data_dir=...)`` of a folder that cannot be
    looked into (chmod 000), or one below it, raised the stat's raw PermissionError through the API (the CLI said
    "FILE: permission denied", naming no option). Now a FeatcacheError in one line naming the keyword (the CLI's
    flag) and what to do; the same folder readable again is found."""
    below = fashion_dir / "sub"
    below.mkdir()
    fashion_dir.chmod(0)
    try:
        ran = _unprivileged(_LOCATE_GIVEN, str(fashion_dir), str(below))
        cli = _unprivileged("import sys; from featcache.cli import main; sys.exit(main(sys.argv[1:]))", "extract",
                            "--data-dir", str(below), "--out", str(tmp_path / "c.h5"))
    finally:
        fashion_dir.chmod(0o755)
    fix = "check its permissions and those of the folders above it, or pass a folder holding the four Fashion-MNIST IDX .gz files"
    assert ran.stdout.splitlines() == [f"FeatcacheError data_dir {d} could not be read (Permission denied); {fix}"
                                       for d in (fashion_dir, below)] * 2, (ran.stdout, ran.stderr[-2000:])
    assert cli.returncode == 2 and cli.stderr == f"featcache extract: error: --data-dir {below} could not be read (Permission denied); {fix}\n", cli.stderr[-2000:]
    assert fashion_mnist.locate(data_dir=fashion_dir) == fashion_dir
