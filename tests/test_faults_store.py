"""Fault injection on the store, through the command line: each fault is one line on stderr, exit 2, no traceback,
and no file of the user's changed (issue 13: damaged caches and partials, a full disk)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
from helpers import assert_same_features, flip, make_class_tree, make_fashion_dir, run_main, tiny_fashion_cache

import featcache
from featcache.store import CacheWriter, partial_path

REPO = Path(__file__).resolve().parents[1]
TINY = dict(weights="random", image_size=32)  # ModelSpec(**TINY): an untrained network at 32 px (plumbing only)


def run_cli(*args: str, code: str | None = None) -> subprocess.CompletedProcess:
    """``python -m featcache ARGS``, or ``code`` (a prelude injecting a fault) followed by the CLI."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "featcache", *args] if code is None else [
        sys.executable, "-c", f"{code}\nimport sys\nfrom featcache.cli import main\nsys.exit(main({list(args)!r}))"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_one_line(proc: subprocess.CompletedProcess, *needles: str) -> None:
    err = proc.stderr.strip()
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "\n" not in err and "Traceback" not in err and "Exception ignored" not in err, err
    for needle in needles:
        assert needle in err, err


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A tiny good cache and a head trained on it; each test damages copies in its own folder."""
    root = tmp_path_factory.mktemp("faults")
    cache = tiny_fashion_cache(root, out="good.h5")
    featcache.train(cache, "logreg", out=root / "head.npz", verbose=False)
    return {"data": root / "fm", "cache": cache, "head": root / "head.npz"}


def chunk_offset(path: Path, name: str, chunk: int = 0) -> int:
    with h5py.File(path, "r") as f:
        return f[name].id.get_chunk_info(chunk).byte_offset


def feature_bytes(p: Path) -> None:
    flip(p, chunk_offset(p, "train/features/out_relu") + 1000, 64)  # 64 bytes, as in issue 13


def label_byte(p: Path) -> None:
    flip(p, chunk_offset(p, "train/labels") + 8 * 5)


def class_names_not_json(p: Path) -> None:
    with h5py.File(p, "r+") as f:
        f.attrs["class_names"] = "[t-shirt"


def layers_missing(p: Path) -> None:
    with h5py.File(p, "r+") as f:
        del f.attrs["layers"]


def negative_labels(p: Path) -> None:
    with h5py.File(p, "r+") as f:
        f["train/labels"][3] = -1


def truncated(p: Path) -> None:
    with open(p, "r+b") as fh:
        fh.truncate(os.path.getsize(p) // 2)


DAMAGES = {
    "feature bytes": (feature_bytes, "checksum mismatch in train/features/out_relu"),
    "a label byte": (label_byte, "checksum mismatch in train/labels"),
    "class_names not JSON": (class_names_not_json, "an attribute is unreadable"),
    "layers missing": (layers_missing, "attribute 'layers' is missing"),
    "negative labels": (negative_labels, "train/labels holds labels outside 0..9"),
    "truncated": (truncated, "is damaged"),
}
# What each command reads: info does not read features (verify and train do).
COMMANDS = {
    "info": lambda made, c: ["info", str(c)],
    "verify": lambda made, c: ["verify", str(c)],
    "extract": lambda made, c: ["extract", "--data-dir", str(made["data"]), "--weights", "random", "--image-size", "32", "--out", str(c)],
}


def _damaged_copy(made, tmp_path: Path, damage) -> Path:
    copy = tmp_path / "user" / "cache.h5"
    copy.parent.mkdir()
    shutil.copy(made["cache"], copy)
    damage(copy)
    return copy


# A few in the fast tier, each in a process of its own (`python -m featcache`: the real exit status, nothing printed at exit),
# one per command; every other pair in the full run, in this process (featcache.cli.main: 3 s less each).
FAST = {("feature bytes", "verify"), ("feature bytes", "extract"), ("a label byte", "info"), ("class_names not JSON", "info")}
CASES = [pytest.param(kind, command, marks=() if (kind, command) in FAST else pytest.mark.slow)
         for kind in DAMAGES for command in COMMANDS if (kind, command) != ("feature bytes", "info")]  # info reads no features


@pytest.mark.parametrize("kind, command", CASES)
def test_a_damaged_cache_is_one_line(made, tmp_path, kind, command, capsys):
    damage, why = DAMAGES[kind]
    copy = _damaged_copy(made, tmp_path, damage)
    before = snapshot(copy.parent)
    argv = COMMANDS[command](made, copy)
    proc = run_cli(*argv) if (kind, command) in FAST else run_main(capsys, *argv)
    assert_one_line(proc, str(copy), why if kind != "truncated" or command != "info" else "is damaged", "re-extract")
    assert snapshot(copy.parent) == before, "a damaged cache must be left as it was, and nothing written beside it"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["feature bytes", "a label byte", "class_names not JSON"])
def test_train_and_evaluate_refuse_a_damaged_cache(made, tmp_path, kind, capsys):
    damage, why = DAMAGES[kind]
    # One kind in processes of their own (train's and evaluate's real exit status), the others in this one.
    run = run_cli if kind == "a label byte" else lambda *argv: run_main(capsys, *argv)
    copy = _damaged_copy(made, tmp_path, damage)
    head = tmp_path / "user" / "head.npz"
    shutil.copy(made["head"], head)
    before = snapshot(copy.parent)
    assert_one_line(run("train", str(copy), "--head", "logreg", "--out", str(tmp_path / "user" / "new.npz")), why)
    if kind != "feature bytes":  # evaluate reads the test split; these two damage the train split's rows or the attributes
        assert_one_line(run("evaluate", str(head), str(copy), "--out", str(tmp_path / "user" / "eval")), why)
    assert snapshot(copy.parent) == before


def interrupted_partial(made, out: Path, monkeypatch) -> Path:
    """The partial file an extraction to ``out`` leaves when interrupted just before it publishes the cache."""

    def interrupted(self, *a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(CacheWriter, "finish", interrupted)
    with pytest.raises(KeyboardInterrupt):
        featcache.extract(featcache.FashionMNIST(data_dir=str(made["data"])), featcache.ModelSpec(**TINY),
                          featcache.StoreSpec(out=out), verbose=False)
    monkeypatch.undo()
    return partial_path(out)


def resume_as_clean(made, out: Path, capsys) -> str:
    """``featcache extract`` again into ``out``: it must succeed with the module's clean cache's rows, verified; what it
    said on stderr (a partial's repairs are notes there, not results)."""
    proc = run_main(capsys, *COMMANDS["extract"](made, out), "--batch-size", "16")
    assert proc.returncode == 0, proc.stderr
    got, want = featcache.open_cache(out), featcache.open_cache(made["cache"])
    for split in ("train", "test"):
        assert got.labels(split).tolist() == want.labels(split).tolist()
        # out_relu only (the module's cache): about 1e-11 with random weights, so compared to its own size.
        assert_same_features(got.features(split), want.features(split), floor=0, err_msg=split)
    assert run_main(capsys, "verify", str(out)).returncode == 0
    return proc.stderr


@pytest.mark.slow
def test_a_damaged_partial_is_repaired_from_the_source_on_resume(made, tmp_path, monkeypatch, capsys):
    """Issue 13 item 4: labels flipped at three offsets of a partial file never reach the published cache."""
    out = tmp_path / "resumed.h5"
    part = interrupted_partial(made, out, monkeypatch)
    base = chunk_offset(part, "train/labels")
    for offset in (0, 8 * 20 + 2, 8 * 47):
        flip(part, base + offset)
    said = resume_as_clean(made, out, capsys)
    assert "the partial's train labels did not match the source; rewritten from it" in said


@pytest.mark.slow
@pytest.mark.parametrize("libver", ["v108", "earliest"])  # featcache's format; an older featcache's partial
def test_a_partial_whose_chunks_reach_past_its_recorded_end_starts_over(made, tmp_path, monkeypatch, capsys, libver):
    """Seen once after SIGKILLing a Ray driver: the chunk index was on disk, the superblock's end of allocation not yet.

    The resume then rewrote that chunk in place and HDF5 failed mid-run ("addr overflow", a traceback). Reproduced
    here by moving the recorded end one byte back, inside the last chunk (in a checksummed superblock, with the
    checksum HDF5 would have written); the partial must start over, the cache exact.
    """
    import struct

    from helpers import hdf5_checksum

    from featcache.store import layout

    out = tmp_path / "resumed.h5"
    monkeypatch.setattr(layout, "LIBVER", libver)
    part = interrupted_partial(made, out, monkeypatch)
    raw = bytearray(part.read_bytes())
    version, at = raw[8], {0: 40, 2: 28}[raw[8]]  # superblock v0: end of allocation at byte 40; v2: at 28, checksum at 44
    assert version == {"earliest": 0, "v108": 2}[libver] and struct.unpack_from("<Q", raw, at)[0] == len(raw)
    struct.pack_into("<Q", raw, at, len(raw) - 1)
    if version == 2:
        struct.pack_into("<I", raw, 44, hdf5_checksum(bytes(raw[:44])))
    part.write_bytes(bytes(raw))
    said = resume_as_clean(made, out, capsys)
    assert "has data past the file's recorded end" in said and "starting it over" in said


def test_no_space_while_saving_a_head_is_one_line_and_writes_nothing(made, tmp_path, capsys, monkeypatch):
    """The fault injected in this process (run_main): what is checked is the command's status, its line and the
    files, nothing of a process's own; a ``-c`` process of its own imported featcache and scikit-learn again."""
    import errno

    from featcache.store import atomic

    user = tmp_path / "user"
    user.mkdir()
    shutil.copy(made["cache"], user / "cache.h5")
    before = snapshot(user)

    def full(path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "fsync_file", full)
    proc = run_main(capsys, "train", str(user / "cache.h5"), "--head", "logreg", "--out", str(user / "head.npz"))
    assert_one_line(proc, "no space left on", f"writing {user / 'head.npz'}", "choose --out elsewhere")
    assert snapshot(user) == before


@pytest.mark.slow
def test_a_full_disk_while_extracting_is_one_line_and_resumes(tmp_path, capsys, monkeypatch):
    """A 3 MB tmpfs: extraction used to end in a segfault (exit 139) after a dozen 'Exception ignored' tracebacks.

    The failing run is a process (its exit status; a segfault must not take the tests down); the resume and the
    verify run in this one (run_main): each new interpreter imported TensorFlow again, ~8 s of CPU."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root); test_store.py injects ENOSPC instead")
    try:
        data = make_fashion_dir(tmp_path / "data", n_train=800, n_test=100)
        args = ["extract", "--data-dir", str(data), "--weights", "random", "--image-size", "32", "--out", str(disk / "c.h5")]
        proc = run_cli(*args)
        assert_one_line(proc, f"no space left on {disk} writing {partial_path(disk / 'c.h5')}; free ", "MB or choose --out elsewhere")
        assert partial_path(disk / "c.h5").exists() and not (disk / "c.h5").exists()
        assert not (disk / "c.h5.lock").exists()
        subprocess.run(["mount", "-o", "remount,size=20m", str(disk)], check=True)
        monkeypatch.delenv("FEATCACHE_PROGRESS", raising=False)  # "resuming" is a status line, drawn with the bars
        proc = run_main(capsys, *args)
        assert proc.returncode == 0 and "resuming" in proc.stderr, proc.stderr
        assert run_main(capsys, "verify", str(disk / "c.h5")).returncode == 0
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def file_size_limit(nbytes: int) -> str:
    """A prelude for ``run_cli``: files of this process stop at ``nbytes`` (EFBIG; Python ignores SIGXFSZ)."""
    return f"import resource\nresource.setrlimit(resource.RLIMIT_FSIZE, ({nbytes}, resource.RLIM_INFINITY))"


@contextlib.contextmanager
def file_size_limit_here(nbytes: int):
    """``file_size_limit`` in this process, for the ``with`` block: its soft limit, put back after (Python ignores
    SIGXFSZ, so a write past it is EFBIG, as in a process started under ``ulimit -f``)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_a_file_size_limit_is_one_line_and_a_rerun_finishes(tmp_path, capsys):
    """EFBIG (ulimit -f here; a FAT32 drive's 4 GB per file) was not taken for a full disk: HDF5's tracebacks, and a
    partial the next run called unreadable and started over; a head write ended in a traceback (an adversarial tester).

    The runs are processes: the limit is the process's, and the rerun's one moved-aside line is read from a clean
    stderr (run_main's would hold this process's other output). The verify between them, whose exit status alone is
    checked, runs in this one (run_main): a process of its own was an interpreter and an import for one status."""
    data = make_fashion_dir(tmp_path / "data", n_train=200, n_test=50)
    out = tmp_path / "c.h5"
    args = ["extract", "--data-dir", str(data), "--weights", "random", "--image-size", "32", "--out", str(out)]
    proc = run_cli(*args, code=file_size_limit(100_000))
    assert_one_line(proc, f"file size limit reached writing {partial_path(out)} on ", "choose --out on another file system")
    assert partial_path(out).exists() and not out.exists()
    # With the limit gone the run finishes. Here HDF5 cannot open the partial (its superblock records an end past the
    # limit): such a file may as well be a user's cut-short HDF5 file, so it is moved aside and said, never deleted.
    proc = run_cli(*args)
    moved = [p for p in tmp_path.iterdir() if p.name.startswith(partial_path(out).name + ".unreadable-")]
    assert proc.returncode == 0 and len(moved) == 1, proc.stdout + proc.stderr
    assert f"it was moved to {moved[0]}" in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert run_main(capsys, "verify", str(out)).returncode == 0 and not partial_path(out).exists()
    head = tmp_path / "heads" / "h.npz"
    proc = run_cli("train", str(out), "--head", "logreg", "--out", str(head), code=file_size_limit(4096))  # a head: ~50 KB
    assert_one_line(proc, f"file size limit reached writing {head} on ")
    assert not head.parent.exists() or not any(head.parent.iterdir())  # no head, no temporary left


def test_a_file_size_limit_while_laying_out_the_partial_leaves_no_temporary(tmp_path):
    """The partial is laid out under a hidden temporary name: at 8 KB (ulimit -f 8) the layout failed, HDF5's close
    failed again the same way, and the unlink after it never ran, leaving ``.c.h5.partial.h5.<tag>.h5`` (0600, 8 KB)
    beside --out (an adversarial tester; a nearly full disk did the same)."""
    photos = make_class_tree(tmp_path / "photos", {"cat": 6, "dog": 6})
    out = tmp_path / "out" / "c.h5"
    out.parent.mkdir()
    proc = run_cli("extract", "--images", str(photos), "--test-fraction", "0.3", "--weights", "random", "--image-size",
                   "32", "--out", str(out), code=file_size_limit(8192))
    assert_one_line(proc, f"file size limit reached writing {partial_path(out)} on ")
    assert sorted(p.name for p in out.parent.iterdir()) == [], list(out.parent.iterdir())


@pytest.mark.parametrize("source", ["photos", "fashion"])
def test_an_out_folder_made_read_only_mid_run_names_it_and_out(tmp_path, capsys, monkeypatch, source):
    """--out's folder made read-only as extract published the cache (chmod 555 mid-run, an adversarial tester) was
    "<.c.h5.<tag>.h5>: permission denied", featcache's hidden temporary file (a photo folder's regrouped copy), or
    its partial (a Fashion-MNIST cache's rename): train, export and predict name the folder and --out. The fault is
    what the system does in such a folder (EACCES creating or renaming there): root ignores a chmod."""
    import errno
    import tempfile

    from featcache.store import atomic

    data = (make_class_tree(tmp_path / "photos", {"cat": 6, "dog": 6}) if source == "photos"
            else make_fashion_dir(tmp_path / "fm"))
    out = tmp_path / "out" / "c.h5"
    args = ["extract", *(["--images", str(data), "--test-fraction", "0.3"] if source == "photos" else
                         ["--data-dir", str(data)]), "--weights", "random", "--image-size", "32", "--out", str(out)]
    real_mkstemp, real_replace = tempfile.mkstemp, os.replace

    def mkstemp(dir=None, prefix=None, suffix=None, **kw):
        if Path(dir) == out.parent and ".partial" not in prefix:  # the regrouped copy, once every row is staged
            raise PermissionError(errno.EACCES, "Permission denied", os.path.join(dir, f"{prefix}x1y2z3w4{suffix}"))
        return real_mkstemp(dir=dir, prefix=prefix, suffix=suffix, **kw)

    def replace(src, dst):
        if Path(dst) == out:
            raise PermissionError(errno.EACCES, "Permission denied", str(src), None, str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(atomic.os, "replace", replace)
    proc = run_main(capsys, *args)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1] == (
        f"featcache extract: error: cannot write in {out.parent} (Permission denied); choose a writable --out"), proc.stderr
    assert partial_path(out).exists() and not out.exists()  # the rows kept: the same command finishes them


def test_extracts_full_disk_and_lock_lines_name_its_storespec_in_a_python_call(tmp_path):
    """extract takes no ``out=``: under a file size limit (as a full disk) its line told a Python call "choose out on
    another file system", and a folder at its lock file's name "choose another --out" (helper-198's review). Here
    the API's words are StoreSpec's field; the CLI's line stays --out (the test above).

    The call runs in this process under the limit (``file_size_limit_here``): what is checked is the error the call
    raises, not anything of a process (its exit, its streams); a ``-c`` process of its own was an interpreter and a
    TensorFlow import (5-8 s) for that one message."""
    data = make_fashion_dir(tmp_path / "data", n_train=200, n_test=50)
    out = tmp_path / "c.h5"
    with pytest.raises(featcache.FeatcacheError) as exc, file_size_limit_here(100_000):
        featcache.extract(featcache.FashionMNIST(data_dir=str(data)), featcache.ModelSpec(**TINY),
                          featcache.StoreSpec(out=out), verbose=False)
    said = str(exc.value)
    assert said.startswith(f"file size limit reached writing {partial_path(out)} on "), said
    assert said.endswith("; choose StoreSpec(out=...) on another file system"), said
    lock = tmp_path / "e.h5.lock"
    lock.mkdir()
    with pytest.raises(featcache.FeatcacheError) as exc:
        featcache.extract(featcache.FashionMNIST(data_dir=str(data)), featcache.ModelSpec(**TINY),
                          featcache.StoreSpec(out=tmp_path / "e.h5"), verbose=False)
    assert str(exc.value) == (f"{lock} is in the way of featcache's lock file (it is a folder); move it away, or choose "
                              "another StoreSpec(out=...)")
    assert lock.is_dir() and not any(lock.iterdir()) and not (tmp_path / "e.h5").exists()


def test_a_partial_copied_or_renamed_away_says_no_rerun_finishes_it_under_that_name(made, tmp_path, monkeypatch, capsys):
    """`cp q.h5.partial.h5 copy.h5; train copy.h5` said "re-run the same 'featcache extract' command to finish it",
    which never finishes copy.h5 (an adversarial tester). The partial names the cache it becomes: one read under
    another name says it is a copy, of which cache, and what does finish it. At its own name the advice stands."""
    partial = interrupted_partial(made, tmp_path / "q.h5", monkeypatch)
    copy = tmp_path / "copy.h5"
    shutil.copy(partial, copy)
    proc = run_main(capsys, "train", str(copy), "--head", "logreg", "--out", str(tmp_path / "h.npz"))
    said = ("no rerun resumes it under this name; to resume it, move it back to q.h5.partial.h5 beside q.h5 and re-run "
            "the extract command that writes q.h5, with --force where q.h5 holds a cache of other settings")
    assert_one_line(proc, f"{copy} is an incomplete cache: an unfinished extraction of q.h5, copied or renamed: {said}; "
                          "or extract again")
    # info says the same (reader.resume_words): it said "re-run the same extract command to resume" (an adversarial tester)
    proc = run_main(capsys, "info", str(copy))
    assert proc.returncode == 0 and f"NO (running or interrupted; {said})" in proc.stdout
    with pytest.raises(featcache.FeatcacheError, match=r"q\.h5\.partial\.h5 is an incomplete cache \(extraction was interrupted\); re-run"):
        featcache.open_cache(partial)


@pytest.mark.parametrize("put, when", [
    ("a user's HDF5 file", "before the seal"), ("another featcache cache", "before the seal"), ("nothing", "before the seal"),
    ("a user's HDF5 file", "as the seal's room is reserved"), ("a user's HDF5 file", "after the seal's room"),
    ("nothing", "after the seal's room"), ("a user's HDF5 file", "after the seal"),
])
def test_a_partial_replaced_or_removed_during_the_extraction_is_never_sealed_nor_published(made, tmp_path, monkeypatch,
                                                                                           capsys, put, when):
    """Regression (an adversarial tester, 2026-12-07): a user's HDF5 file, or a copy of another cache, moved over the
    partial while extract ran was sealed where it stood and published at --out, exit 0 (verify then called the
    other cache intact under these settings; the rows extracted were gone with the file it replaced); a partial
    removed was a traceback (exit 1). The seal reopens the partial by its name: the file found there must be the one
    written, at each step: before the seal, as its room is reserved (``_reserve_room``, which would grow another
    file), before HDF5 reopens it (whose open and close would cut another file's bytes past its end: the user's
    file here has 100,000 of them), and before the sealed partial is published."""
    from featcache.store import writer

    out = tmp_path / "c.h5"
    partial = partial_path(out)
    other = tmp_path / "other.h5"
    if put == "a user's HDF5 file":
        with h5py.File(other, "w") as f:
            f["mydata"] = list(range(10))
        with open(other, "ab") as f:
            f.write(b"\0" * 100_000)
    elif put == "another featcache cache":
        shutil.copy(made["cache"], other)
    before = other.read_bytes() if other.exists() else None

    def swap() -> None:
        os.replace(other, partial) if before is not None else partial.unlink()

    def then_swap(real):
        return lambda *a, **kw: (real(*a, **kw), swap())[0]

    if when == "before the seal":
        monkeypatch.setattr(writer.CacheWriter, "_check_done", then_swap(writer.CacheWriter._check_done))
    elif when == "as the seal's room is reserved":
        real_room = writer._reserve_room
        monkeypatch.setattr(writer, "_reserve_room", lambda *a, **kw: (swap(), real_room(*a, **kw))[1])
    elif when == "after the seal's room":
        monkeypatch.setattr(writer, "_reserve_room", then_swap(writer._reserve_room))
    else:
        monkeypatch.setattr(writer.CacheWriter, "_seal_partial", then_swap(writer.CacheWriter._seal_partial))
    args = ["extract", "--data-dir", str(made["data"]), "--weights", "random", "--image-size", "32", "--out", str(out)]
    proc = run_main(capsys, *args)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    # its one line, last (a copy of this very cache was said first: it holds these features, at another name)
    error = proc.stderr.strip().splitlines()[-1]
    if before is not None:
        assert error == (f"featcache extract: error: {partial} was replaced by another program during the extraction, so "
                         "it was left untouched and no cache was published; move it away (it is not this run's) and run "
                         "the same command again"), proc.stderr
        assert partial.read_bytes() == before  # not grown, cut, sealed or written: the file put there, byte for byte
    else:
        assert error == (f"featcache extract: error: {partial} was moved or removed by another program during the "
                         "extraction, so no cache was published; run the same command again (it starts over)"), proc.stderr
        assert not partial.exists()
    assert not out.exists()
    if when != "before the seal":
        return
    # the next run judges what is there as any partial: a file featcache did not put there is named and left
    monkeypatch.undo()
    if before is not None:
        proc = run_main(capsys, *args)
        assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith(
            f"featcache extract: error: {partial} is in the way of featcache's partial file"), proc.stderr
        assert partial.read_bytes() == before
        partial.unlink()  # moved away, as the line says
    assert run_main(capsys, *args).returncode == 0 and featcache.open_cache(out).meta["complete"]


def test_a_photo_folders_partial_replaced_during_the_extraction_is_left_and_the_cache_published(tmp_path, monkeypatch,
                                                                                                 capsys):
    """A photo folder's cache is a copy of the rows read from the partial it has open, so a file moved over the
    partial's name meanwhile changes nothing of it; that file is left where it is (it was removed as the partial)."""
    from featcache.store import writer

    photos = make_class_tree(tmp_path / "photos", {"cat": 6, "dog": 6})
    out = tmp_path / "c.h5"
    user = tmp_path / "user.h5"
    with h5py.File(user, "w") as f:
        f["mydata"] = list(range(10))
    before = user.read_bytes()
    real = writer.StagedWriter._check_done
    monkeypatch.setattr(writer.StagedWriter, "_check_done", lambda self: (real(self), os.replace(user, partial_path(out)))[0])
    proc = run_main(capsys, "extract", "--images", str(photos), "--test-fraction", "0.3", "--weights", "random",
                    "--image-size", "32", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert partial_path(out).read_bytes() == before
    cache = featcache.open_cache(out)
    assert cache.meta["complete"] and sum(len(cache.labels(s)) for s in ("train", "test")) == 12
