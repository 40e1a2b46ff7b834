"""Issue 13's case list, re-run as a set: every case of the issue, sub-case by sub-case, on the command line.

Each case builds its inputs (tiny synthetic Fashion-MNIST IDX files and photo
folders, random weights; the real weights file only for the NaN-weights
case, copied and damaged), runs the command the issue describes and prints
one row: the case, the exit code, the line the user saw (the last line of
stderr), whether a traceback appeared, whether a file of the user's changed,
and whether the case ended clean. "Clean" is what the issue asks of a fault:
the expected exit code (2 for a refusal, 0 where the fix is to work), at most
one line on stderr, no traceback, nothing of the user's changed, and the
case's own check (no PWNED file, the right counts, the right message).

    python scripts/fault_cases.py                 # every case, real subprocesses (python -m featcache ...)
    python scripts/fault_cases.py --in-process    # the same commands through featcache.cli.main in this process
    python scripts/fault_cases.py --quick         # the cases that need no network, in-process (the smoke test)
    python scripts/fault_cases.py --only 9 --only 3a

A full disk is a real tmpfs of a few MB where one can be mounted (root),
else an injected ENOSPC. Ends with "N of N clean" (exit 1 if any is not).
docs/guarantees.md maps each case to the regression test that pins it.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
# The test suite's input makers (stdlib and numpy only): the same synthetic data the regression tests use.
from helpers import flip, make_class_tree, make_fashion_dir  # noqa: E402
WEIGHTS = Path(os.environ.get("FEATCACHE_WEIGHTS", REPO.parent / "shared" / "weights" /
                              "mobilenet_v2_1.0_imagenet_no_top.weights.h5"))
TINY = ["--weights", "random", "--image-size", "32"]


# ---------------------------------------------------------------- inputs


def chunk_offset(path: Path, name: str, chunk: int = 0) -> int:
    import h5py

    with h5py.File(path, "r") as f:
        return f[name].id.get_chunk_info(chunk).byte_offset


def snapshot(*folders: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for d in folders if d.exists()
            for p in sorted(d.rglob("*")) if p.is_file()}


@contextlib.contextmanager
def tmpfs(directory: Path, size: str):
    """A tmpfs of ``size`` at ``directory`` (yields False where none can be mounted)."""
    directory.mkdir(parents=True, exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)], capture_output=True).returncode == 0
    try:
        yield ok
    finally:
        if ok:
            subprocess.run(["umount", str(directory)], capture_output=True)


def fill(directory: Path) -> None:
    """Fill a tmpfs to the last block."""
    with open(directory / "filler", "wb", buffering=0) as fh:
        with contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 4096)


NO_SPACE = ("import errno, featcache.store.atomic as a\n"
            "def full(path):\n    raise OSError(errno.ENOSPC, 'No space left on device')\n"
            "a.fsync_file = full\n")


# ---------------------------------------------------------------- running a command


@dataclass
class Run:
    argv: list[str]
    rc: int
    out: str
    err: str
    seconds: float

    @property
    def line(self) -> str:
        lines = self.err.strip().splitlines()
        return lines[-1] if lines else ""

    @property
    def traceback(self) -> bool:
        return "Traceback" in self.err or "Exception ignored" in self.err or "Fatal Python error" in self.err


@dataclass
class Ctx:
    root: Path
    in_process: bool
    synthetic: bool = False  # caches written directly instead of extracted (--quick)
    made: dict = field(default_factory=dict)

    def run(self, *argv: str, prelude: str | None = None, cwd: Path | None = None, umask: int | None = None,
            subprocess_only: bool = False, timeout: float = 600) -> Run:
        argv = [str(a) for a in argv]
        t0 = time.perf_counter()
        if self.in_process and prelude is None and not subprocess_only:
            rc, out, err = _in_process(argv, cwd or self.root, umask)
        else:
            rc, out, err = _subprocess(argv, prelude, cwd or self.root, umask, timeout)
        return Run(argv, rc, out, err, time.perf_counter() - t0)

    def once(self, key: str, make: Callable[[], object]):
        if key not in self.made:
            self.made[key] = make()
        return self.made[key]

    # Shared inputs, made on first use.
    def fashion(self) -> Path:
        return self.once("fashion", lambda: make_fashion_dir(self.root / "shared" / "fashion"))

    def cache(self) -> Path:
        def make():
            out = self.root / "shared" / "good.h5"
            if self.synthetic:  # --quick: the same layout, written directly (no network)
                out.parent.mkdir(parents=True, exist_ok=True)
                return _synthetic_cache(out, np.arange(48) % 10, 24, [f"c{i}" for i in range(10)], 32, "out_relu")
            r = self.run("extract", "--data-dir", self.fashion(), *TINY, "--out", out)
            assert r.rc == 0, r.err
            return out
        return self.once("cache", make)

    def head(self) -> Path:
        def make():
            out = self.root / "shared" / "head.npz"
            assert self.run("train", self.cache(), "--head", "logreg", "--out", out).rc == 0
            return out
        return self.once("head", make)

    def photo_cache(self) -> Path:
        def make():
            src = make_class_tree(self.root / "shared" / "photos", {"ants": 8, "bees": 8})
            out = self.root / "shared" / "photos.h5"
            r = self.run("extract", "--images", src, *TINY, "--test-fraction", "0.5", "--out", out)
            assert r.rc == 0, r.err
            return out
        return self.once("photo_cache", make)

    def photo_model(self) -> Path:
        def make():
            head = self.root / "shared" / "photo_head.npz"
            assert self.run("train", self.photo_cache(), "--head", "logreg", "--out", head).rc == 0
            out = self.root / "shared" / "photo_model.keras"
            r = self.run("export", head, "--out", out)
            assert r.rc == 0, r.err
            return out
        return self.once("photo_model", make)

    def user(self, name: str) -> Path:
        d = self.root / "cases" / name
        d.mkdir(parents=True, exist_ok=True)
        return d


def _subprocess(argv, prelude, cwd, umask, timeout):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # what a user's shell has: featcache must quiet TensorFlow itself
    cmd = [sys.executable, "-m", "featcache", *argv] if prelude is None else [
        sys.executable, "-c", f"{prelude}\nimport sys\nfrom featcache.cli import main\nsys.exit(main({argv!r}))"]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout,
                       preexec_fn=None if umask is None else (lambda: os.umask(umask)))
    return p.returncode, p.stdout, p.stderr


def _in_process(argv, cwd, umask):
    from featcache.cli import main

    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    old_cwd, old_mask = os.getcwd(), os.umask(umask) if umask is not None else None
    with tempfile.TemporaryFile() as o, tempfile.TemporaryFile() as e:
        os.dup2(o.fileno(), 1)
        os.dup2(e.fileno(), 2)
        try:
            os.chdir(cwd)
            try:
                rc = main(argv)
            except SystemExit as exc:  # argparse
                rc = exc.code if isinstance(exc.code, int) else 2
            except BaseException:  # an escaped exception is what a user would see as a traceback
                import traceback

                traceback.print_exc()
                rc = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            os.chdir(old_cwd)
            if old_mask is not None:
                os.umask(old_mask)
        o.seek(0)
        e.seek(0)
        return int(rc or 0), o.read().decode(errors="replace"), e.read().decode(errors="replace")


# ---------------------------------------------------------------- the cases

CASES: list[tuple[str, str, set[str], Callable]] = []


def case(cid: str, what: str, *needs: str):
    """Register a case; ``needs``: 'tf' (builds a network), 'root' (mounts a tmpfs), 'sub' (a process boundary)."""
    def register(fn):
        CASES.append((cid, what, set(needs), fn))
        return fn
    return register


@dataclass
class Row:
    cid: str
    what: str
    run: Run | None
    expect: int
    user_changed: bool
    check: str | None  # None: the case's own check passed; else what was wrong
    note: str = ""

    @property
    def clean(self) -> bool:
        r = self.run
        if r is None:
            return self.check is None
        lines = len(r.err.strip().splitlines())
        return r.rc == self.expect and not r.traceback and lines <= 1 and not self.user_changed and self.check is None


def verdict(ctx, cid, what, r: Run, expect: int = 2, needles=(), user: tuple[Path, ...] = (), before=None, check=None, note=""):
    problem = None
    for n in needles:
        if n not in r.err + r.out:
            problem = f"expected {n!r} in the output"
    if check is not None and problem is None:
        problem = check()
    changed = before is not None and snapshot(*user) != before
    return Row(cid, what, r, expect, changed, problem, note)


def refuse(ctx, cid, what, argv, needles=(), user=(), prelude=None, **kw):
    """A refusal: one line, exit 2, no traceback, the user's folders unchanged."""
    before = snapshot(*user)
    r = ctx.run(*argv, prelude=prelude, **kw)
    return verdict(ctx, cid, what, r, 2, needles, user, before)


# 1. A head file runs code.

EVIL = ("import joblib, os\nclass E:\n    def __reduce__(self):\n        return (os.system, ('touch PWNED',))\n"
        "joblib.dump({'head': E(), 'meta': {}}, 'evil.joblib')\n")


def _evil(ctx, name: str) -> Path:
    d = ctx.user(name)
    subprocess.run([sys.executable, "-c", EVIL], cwd=d, check=True)
    return d


def _no_pwned(d: Path):
    return lambda: "PWNED exists: the head file ran code" if (d / "PWNED").exists() else None


@case("1a", "evaluate evil.joblib CACHE (a pickle whose __reduce__ runs 'touch PWNED')")
def c1a(ctx):
    d = _evil(ctx, "1a")
    r = ctx.run("evaluate", "evil.joblib", ctx.cache(), "--out", "ev", cwd=d)
    return verdict(ctx, "1a", "", r, 2, ["pickle"], check=_no_pwned(d))


@case("1b", "export evil.joblib --out m.keras")
def c1b(ctx):
    d = _evil(ctx, "1b")
    r = ctx.run("export", "evil.joblib", "--out", "m.keras", cwd=d)
    return verdict(ctx, "1b", "", r, 2, ["pickle"], check=lambda: _no_pwned(d)() or ("m.keras written" if (d / "m.keras").exists() else None))


@case("1c", "finetune evil.joblib")
def c1c(ctx):
    d = _evil(ctx, "1c")
    r = ctx.run("finetune", "evil.joblib", "--out", "m.keras", cwd=d)
    return verdict(ctx, "1c", "", r, 2, check=_no_pwned(d))


# 2. A symlink loop relabels images.


@case("2", "extract --images DIR with 'ln -s .. DIR/train/ants/up'", "tf")
def c2(ctx):
    d = ctx.user("2")
    make_class_tree(d / "data" / "train", {"ants": 6, "bees": 5})
    make_class_tree(d / "data" / "val", {"ants": 3, "bees": 3}, offset=500)  # other images than train
    os.symlink("..", d / "data" / "train" / "ants" / "up")
    r = ctx.run("extract", "--images", d / "data", *TINY, "--out", d / "c.h5")

    def counts():
        import featcache

        c = featcache.open_cache(d / "c.h5")
        got = {s: np.bincount(c.labels(s), minlength=2).tolist() for s in ("train", "test")}
        return None if got == {"train": [6, 5], "test": [3, 3]} else f"per-class counts {got}, want train [6, 5], test [3, 3]"
    return verdict(ctx, "2", "", r, 0, check=counts)


# 3. A damaged cache is used as if it were fine.


def _damaged(ctx, name: str, damage) -> tuple[Path, Path]:
    d = ctx.user(name)
    copy = d / "cache.h5"
    shutil.copy(ctx.cache(), copy)
    damage(copy)
    return d, copy


def _features64(p: Path) -> None:
    flip(p, chunk_offset(p, "train/features/out_relu") + 1000, 64)


def _label_byte(p: Path) -> None:
    flip(p, chunk_offset(p, "train/labels") + 8 * 5)


@case("3a", "64 bytes overwritten in a feature chunk: train")
def c3a(ctx):
    d, c = _damaged(ctx, "3a", _features64)
    return refuse(ctx, "3a", "", ["train", c, "--head", "logreg", "--out", d / "h.npz"], ["checksum mismatch", "re-extract"], (d,))


@case("3b", "64 bytes overwritten in a feature chunk: extract (never a cache hit)", "tf")  # a hit needs the same settings
def c3b(ctx):
    d, c = _damaged(ctx, "3b", _features64)
    return refuse(ctx, "3b", "", ["extract", "--data-dir", ctx.fashion(), *TINY, "--out", c], ["re-extract"], (d,))


@case("3c", "64 bytes overwritten in a feature chunk: featcache verify")
def c3c(ctx):
    d, c = _damaged(ctx, "3c", _features64)
    return refuse(ctx, "3c", "", ["verify", c], ["checksum mismatch in train/features/out_relu"], (d,))


for _cid, _cmd in (("3d", "info"), ("3e", "train"), ("3f", "evaluate")):
    def _label_case(ctx, cid=_cid, cmd=_cmd):
        d, c = _damaged(ctx, cid, _label_byte)
        argv = {"info": ["info", c], "train": ["train", c, "--head", "logreg", "--out", d / "h.npz"],
                "evaluate": ["evaluate", ctx.head(), c, "--out", d / "ev"]}[cmd]
        return refuse(ctx, cid, "", argv, ["checksum mismatch in train/labels"], (d,))
    case(_cid, f"a one-byte label flip: {_cmd}")(_label_case)


@case("3g", "80 random one-byte flips in the data chunks of a cache: verify, and reading the damaged dataset")
def c3g(ctx):
    import h5py

    import featcache
    from featcache.errors import FeatcacheError

    d = ctx.user("3g")
    spans = []
    with h5py.File(ctx.cache(), "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.chunks:
                for i in range(obj.id.get_num_chunks()):
                    info = obj.id.get_chunk_info(i)
                    spans.append((name, info.byte_offset, info.size))
        f.visititems(visit)
    rng = np.random.default_rng(13)
    missed = []
    for k in range(80):
        name, off, size = spans[rng.integers(len(spans))]
        copy = d / "flip.h5"
        shutil.copy(ctx.cache(), copy)
        flip(copy, off + int(rng.integers(size)))
        for what, use in (("verify", lambda: featcache.verify(copy)), ("read", lambda: _read(featcache.open_cache(copy), name))):
            try:
                use()
                missed.append(f"{what} {name}")
            except FeatcacheError:
                pass
    r = Run(["verify/read", "80 flipped copies"], 2, "", f"caught {160 - len(missed)} of 160 (80 verify, 80 reads)", 0)
    return Row("3g", "", r, 2, False, f"missed: {missed[:5]}" if missed else None)


def _read(cache, name: str) -> None:
    split, rest = name.split("/", 1)
    if rest.startswith("features/"):
        cache.features(split, rest.split("/", 1)[1])
    elif rest == "labels":
        cache.labels(split)
    elif rest == "index":
        cache.index(split)
    else:
        cache.paths(split)


# 4. A damaged partial file becomes a complete cache.


INTERRUPT_AT_FINISH = ("from featcache.store import CacheWriter\n"
                       "def stop(self, *a, **k):\n    raise KeyboardInterrupt\nCacheWriter.finish = stop\n")


@case("4", "a partial with train labels flipped at three offsets, then resumed", "tf", "sub")
def c4(ctx):
    import featcache
    from featcache.store import partial_path

    d = ctx.user("4")
    out = d / "c.h5"
    argv = ["extract", "--data-dir", ctx.fashion(), *TINY, "--out", out]
    stopped = ctx.run(*argv, prelude=INTERRUPT_AT_FINISH)
    part = partial_path(out)
    if stopped.rc != 130 or not part.exists():
        return Row("4", "", stopped, 130, False, "could not leave a partial to damage")
    base = chunk_offset(part, "train/labels")
    for offset in (0, 8 * 20 + 2, 8 * 47):
        flip(part, base + offset)
    r = ctx.run(*argv)

    def labels():
        got, want = featcache.open_cache(out), featcache.open_cache(ctx.cache())
        same = all(got.labels(s).tolist() == want.labels(s).tolist() for s in ("train", "test"))
        return None if same else "the published cache holds the partial's damaged labels"
    return verdict(ctx, "4", "", r, 0, ["did not match the source; rewritten from it"], check=labels)


# 5. A full disk.


def _full_disk_extract(ctx, cid: str, photos: bool):
    d = ctx.user(cid)
    # Sizes: a chunk of 256 rows of out_relu is 1.3 MB, so each disk takes one chunk or two and then is full.
    if photos:
        src = make_class_tree(d / "photos", {"a": 350, "b": 350}, size=16)
        where, size = ["--images", src, "--test-fraction", "0.2"], "2m"
    else:
        src = make_fashion_dir(d / "fashion", n_train=800, n_test=100)
        where, size = ["--data-dir", src], "3m"
    disk = d / "disk"
    with tmpfs(disk, size) as mounted:
        out = disk / "c.h5"
        argv = ["extract", *where, *TINY, "--out", out]
        if not mounted:
            prelude = ("import errno, h5py\nreal = h5py.Dataset.__setitem__\nn = [0]\n"
                       "def full(self, k, v):\n    n[0] += 1\n    if n[0] > 2:\n        raise OSError(errno.ENOSPC, 'No space left on device')\n"
                       "    real(self, k, v)\nh5py.Dataset.__setitem__ = full\n")
            r = ctx.run(*argv, prelude=prelude)
            note = "injected ENOSPC (no tmpfs here)"
        else:
            r = ctx.run(*argv, subprocess_only=True)  # the segfault was at exit: only a process shows it
            note = f"real {size[:-1]} MB tmpfs"
        from featcache.store import partial_path

        kept = partial_path(out).exists() and not out.exists()
        if mounted:
            subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        # "resuming ..." is a status line, on stderr and off with FEATCACHE_PROGRESS=off (as the tests run this): on
        saved = os.environ.pop("FEATCACHE_PROGRESS", None)
        try:
            again = ctx.run(*argv)
        finally:
            if saved is not None:
                os.environ["FEATCACHE_PROGRESS"] = saved
        resumed = again.rc == 0 and "resuming" in again.err

        def ok():
            if not kept:
                return "the partial was not kept"
            return None if resumed else f"re-run did not resume (exit {again.rc}: {again.line})"
        return verdict(ctx, cid, "", r, 2, ["no space left on", "choose --out elsewhere"], check=ok, note=note)


@case("5a", "a full disk while extracting Fashion-MNIST (then resumed with room)", "tf", "root")
def c5a(ctx):
    return _full_disk_extract(ctx, "5a", photos=False)


@case("5b", "a full disk while extracting photos (then resumed with room)", "tf", "root")
def c5b(ctx):
    return _full_disk_extract(ctx, "5b", photos=True)


def _full_disk_write(ctx, cid: str, argv_for):
    d = ctx.user(cid)
    disk = d / "disk"
    with tmpfs(disk, "256k") as mounted:
        if mounted:
            (disk / "mine.txt").write_text("the user's")
            fill(disk)
            before = snapshot(disk)
            r = ctx.run(*argv_for(disk))
            left = sorted(p.name for p in disk.iterdir())
            check = None if snapshot(disk) == before and left == ["filler", "mine.txt"] else f"left on the disk: {left}"
            return Row(cid, "", r, 2, False, check or (None if "no space left on" in r.err else "no 'no space left' line"),
                       "real 256 KB tmpfs, full")
        target = d / "out"
        r = ctx.run(*argv_for(target), prelude=NO_SPACE)
        check = None if not target.exists() or not any(target.iterdir()) else f"left: {list(target.iterdir())}"
        return Row(cid, "", r, 2, False, check, "injected ENOSPC (no tmpfs here)")


@case("5c", "train --out on a full disk")
def c5c(ctx):
    return _full_disk_write(ctx, "5c", lambda disk: ["train", ctx.cache(), "--head", "logreg", "--out", disk / "h.npz"])


@case("5d", "evaluate --out on a full disk (no empty folder left)")
def c5d(ctx):
    return _full_disk_write(ctx, "5d", lambda disk: ["evaluate", ctx.head(), ctx.cache(), "--out", disk / "eval"])


@case("5e", "curve --out on a full disk (no empty folder left)")
def c5e(ctx):
    return _full_disk_write(ctx, "5e", lambda disk: ["curve", ctx.cache(), "--sizes", "20", "--seeds", "1", "--heads", "logreg",
                                                     "--out", disk / "curve"])


# 6. NaN weights.


@case("6", "extract with a weights file holding NaN (the real weights, one kernel set to NaN)", "tf")
def c6(ctx):
    import h5py

    d = ctx.user("6")
    if not WEIGHTS.exists():
        return Row("6", "", None, 2, False, f"needs the real weights file ({WEIGHTS})")
    w = d / "nan.weights.h5"
    shutil.copy(WEIGHTS, w)
    with h5py.File(w, "r+") as f:
        kernels = []
        f.visititems(lambda n, o: kernels.append(n) if isinstance(o, h5py.Dataset) and o.ndim == 4 else None)
        f[kernels[0]][...] = np.nan
    out = d / "c.h5"
    return refuse(ctx, "6", "", ["extract", "--data-dir", ctx.fashion(), "--weights", w, "--image-size", "32", "--out", out],
                  [f"the weights {w} give NaN or infinite features"])


# 7. --image-size 0 and 100000.


for _cid, _size in (("7a", "0"), ("7b", "100000")):
    def _size_case(ctx, cid=_cid, size=_size):
        d = ctx.user(cid)
        return refuse(ctx, cid, "", ["extract", "--data-dir", ctx.fashion(), "--weights", "random", "--image-size", size,
                                     "--out", d / "c.h5"], ["--image-size"], (d,))
    case(_cid, f"extract --image-size {_size}")(_size_case)


# 8. Train/test leakage.


@case("8", "a head trained on the --seed 0 split of photos, evaluated on the --seed 1 split", "tf")
def c8(ctx):
    d = ctx.user("8")
    src = make_class_tree(d / "photos", {"ants": 10, "bees": 10})
    for seed in (0, 1):
        r = ctx.run("extract", "--images", src, *TINY, "--test-fraction", "0.5", "--seed", seed, "--out", d / f"s{seed}.h5")
        assert r.rc == 0, r.err
    assert ctx.run("train", d / "s0.h5", "--head", "logreg", "--out", d / "h.npz").rc == 0
    r = ctx.run("evaluate", d / "h.npz", d / "s1.h5", "--out", d / "ev")
    return verdict(ctx, "8", "", r, 0, ["were in this head's training data"],
                   note="a warning line and the overlap in the report are the clean outcome")


# 9. Tracebacks instead of one line.


@case("9a", "a cache hit on a read-only mount holding a leftover partial", "root")
def c9a(ctx):
    from featcache.store import partial_path

    d = ctx.user("9a")
    ro = d / "ro"
    with tmpfs(ro, "4m") as mounted:
        if not mounted:
            return Row("9a", "", None, 0, False, None, "skipped: cannot mount a tmpfs here (test_store.py injects the error)")
        shutil.copy(ctx.cache(), ro / "c.h5")
        partial_path(ro / "c.h5").write_bytes(b"an older run's partial")
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        before = snapshot(ro)
        r = ctx.run("extract", "--data-dir", ctx.fashion(), *TINY, "--out", ro / "c.h5")
        return verdict(ctx, "9a", "", r, 0, user=(ro,), before=before, note="a hit is exit 0; the partial stays")


def _attr(name, value=None, delete=False):
    def damage(p):
        import h5py

        with h5py.File(p, "r+") as f:
            if delete:
                del f.attrs[name]
            else:
                f.attrs[name] = value
    return damage


for _cid, _cmd in (("9b", "info"), ("9c", "train"), ("9d", "evaluate"), ("9e", "extract")):
    def _attr_case(ctx, cid=_cid, cmd=_cmd):
        d, c = _damaged(ctx, cid, _attr("class_names", "[t-shirt"))
        argv = {"info": ["info", c], "train": ["train", c, "--head", "logreg", "--out", d / "h.npz"],
                "evaluate": ["evaluate", ctx.head(), c, "--out", d / "ev"],
                "extract": ["extract", "--data-dir", ctx.fashion(), *TINY, "--out", c]}[cmd]
        return refuse(ctx, cid, "", argv, ["an attribute is unreadable", "re-extract"], (d,))
    case(_cid, f"damaged attributes (class_names not JSON): {_cmd}")(_attr_case)


@case("9f", "negative labels: info")
def c9f(ctx):
    def negative(p):
        import h5py

        with h5py.File(p, "r+") as f:
            f["train/labels"][3] = -1
    d, c = _damaged(ctx, "9f", negative)
    return refuse(ctx, "9f", "", ["info", c], ["labels outside 0..9"], (d,))


for _cid, _n in (("9g", 8), ("9h", 12)):
    def _idx_case(ctx, cid=_cid, n=_n):
        d = ctx.user(cid)
        data = make_fashion_dir(d / "data")
        raw = gzip.open(data / "train-images-idx3-ubyte.gz").read()[:n]
        with gzip.open(data / "train-images-idx3-ubyte.gz", "wb") as f:
            f.write(raw)
        return refuse(ctx, cid, "", ["extract", "--data-dir", data, *TINY, "--out", d / "c.h5"], ["train-images-idx3-ubyte.gz"], (d,))
    case(_cid, f"an IDX image file whose header is {_n} bytes")(_idx_case)


for _i, (_seed, _cmd) in enumerate([(s, c) for s in ("-1", str(2**32)) for c in ("train", "probe", "finetune")]):
    def _seed_case(ctx, cid=f"9{'ijklmn'[_i]}", seed=_seed, cmd=_cmd):
        d = ctx.user(cid)
        argv = {"train": ["train", ctx.cache(), "--head", "logreg", "--out", d / "h.npz"],
                "probe": ["probe", ctx.cache(), "--out", d / "probe"],
                "finetune": ["finetune", ctx.head(), "--out", d / "m.keras"]}[cmd] + ["--seed", seed]
        return refuse(ctx, cid, "", argv, ["--seed", "0 to 4294967295"], (d,))
    case(f"9{'ijklmn'[_i]}", f"{_cmd} --seed {_seed}")(_seed_case)


def _synthetic_cache(path: Path, y_train: np.ndarray, n_test: int = 20, classes=("ants", "bees"), width: int = 4,
                     layer: str = "out") -> Path:
    """A complete cache of separable features written directly (no network)."""
    from featcache.store import CacheWriter, SplitSpec
    from featcache.store.fingerprint import fingerprint

    # the settings its attributes repeat, and their hash as its fingerprint: a reader refuses a cache that does not
    # agree with itself (store.reader._check_settings), as extract's always do
    settings = {"class_names": list(classes), "layers": [layer], "backbone": "mobilenet_v2", "weights": "random",
                "image_size": 32, "preprocessing": "x", "dataset": "tiny"}
    attrs = {**settings, "settings": settings, "fingerprint": fingerprint(settings), "default_layer": layer}
    rng = np.random.default_rng(0)
    data = {"train": np.asarray(y_train), "test": np.arange(n_test) % len(classes)}
    w = CacheWriter(path, attrs, [SplitSpec(s, y, np.arange(len(y))) for s, y in data.items()], {layer: width}, "float32")
    w.open()
    for s, y in data.items():
        w.write(s, 0, {layer: (rng.normal(size=(len(y), width)) + 3 * y[:, None]).astype(np.float32)})
    w.finish()
    return path


@case("9o", "train on one-class training data")
def c9o(ctx):
    d = ctx.user("9o")
    c = _synthetic_cache(d / "c.h5", np.zeros(20, int))
    return refuse(ctx, "9o", "", ["train", c, "--head", "logreg", "--out", d / "h.npz"], ["at least 2 classes"], (d,))


for _cid, _head in (("9p", "logreg"), ("9q", "svm")):
    def _cv_case(ctx, cid=_cid, head=_head):
        d = ctx.user(cid)
        c = _synthetic_cache(d / "c.h5", np.arange(10) % 2)
        r = ctx.run("train", c, "--head", head, "--C", "cv", "--out", d / "h.npz")
        return verdict(ctx, cid, "", r, 0, check=lambda: None if (d / "h.npz").exists() else "no head written",
                       note="fits with fewer folds")
    case(_cid, f"train --head {_head} --C cv on 10 training images")(_cv_case)


@case("9r", "lesson --train-limit 5", "tf")  # the lesson module imports TensorFlow
def c9r(ctx):
    d = ctx.user("9r")
    return refuse(ctx, "9r", "", ["lesson", "--weights", "random", "--data-dir", ctx.fashion(), "--train-limit", "5", "--scratch-train", "40",
                                  "--test-limit", "24", "--out", d / "lesson"], ["--train-limit"])


def _rewrite_npz(good: Path, bad: Path, change) -> Path:
    """Copy the .npz head ``good`` with its JSON entry ({"meta", "state"}) changed by ``change(doc)``."""
    from featcache.heads.io import NPZ_ENTRY

    with np.load(good, allow_pickle=False) as z:
        entries = {k: z[k] for k in z.files}
    doc = json.loads(entries[NPZ_ENTRY].tobytes())
    change(doc)
    entries[NPZ_ENTRY] = np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8)
    with open(bad, "wb") as f:
        np.savez(f, **entries)
    return bad


# Heads carry a content digest since 2026-12-03, so an edit is refused by it first (one line naming the file and
# 'retrain'); the checks behind it (params, class names) are pinned by tests/test_head_files.py on resealed heads.
ALTERED = "is damaged or was changed after 'featcache train' saved it"
for _cid, _what, _change, _needle in (
        ("9s", "a crafted head: an extra key in params", lambda doc: doc["meta"]["params"].update(bogus=1), ALTERED),
        ("9t", "a crafted head: class names missing", lambda doc: doc["meta"].pop("class_names"), ALTERED),
        ("9u", "a crafted head: metadata of the wrong type (a list)", lambda doc: doc.update(meta=["not", "a", "dict"]),
         "its metadata is not a JSON object")):
    def _crafted(ctx, cid=_cid, change=_change, needle=_needle):
        d = ctx.user(cid)
        bad = _rewrite_npz(ctx.head(), d / "bad.npz", change)
        return refuse(ctx, cid, "", ["evaluate", bad, ctx.cache(), "--out", d / "ev"], [needle], (d,))
    case(_cid, _what)(_crafted)


@case("9v", "a crafted head: trained on features of another width")
def c9v(ctx):
    d = ctx.user("9v")
    narrow = _synthetic_cache(d / "narrow.h5", np.arange(40) % 2, width=4)
    assert ctx.run("train", narrow, "--head", "logreg", "--out", d / "narrow.npz").rc == 0
    wide = _synthetic_cache(d / "wide.h5", np.arange(40) % 2, width=8)  # the same settings; only the width differs
    return refuse(ctx, "9v", "", ["evaluate", d / "narrow.npz", wide, "--out", d / "ev"], ["the head takes 4 features"], (d,))


@case("9w", "curve resuming a folder whose curve.json holds []")
def c9w(ctx):
    d = ctx.user("9w")
    argv = ["curve", ctx.cache(), "--sizes", "20", "--seeds", "1", "--heads", "logreg", "--out", d / "cv"]
    assert ctx.run(*argv).rc == 0
    (d / "cv" / "curve.json").write_text("[]")
    return refuse(ctx, "9w", "", argv, ["curve.json"], (d,))


# 10. User files overwritten, private modes, default names.


@case("10a", "train --out existing.keras (a file of the user's)")
def c10a(ctx):
    d = ctx.user("10a")
    (d / "existing.keras").write_bytes(b"the user's own model")
    return refuse(ctx, "10a", "", ["train", ctx.cache(), "--head", "keras", "--epochs", "1", "--out", d / "existing.keras"],
                  ["--force"], (d,))


@case("10b", "export --out existing.keras (a file of the user's)")
def c10b(ctx):
    d = ctx.user("10b")
    (d / "existing.keras").write_bytes(b"the user's own model")
    return refuse(ctx, "10b", "", ["export", ctx.head(), "--out", d / "existing.keras"], ["--force"], (d,))


@case("10c", "train twice to the same --out: featcache's own head is replaced")
def c10c(ctx):
    d = ctx.user("10c")
    argv = ["train", ctx.cache(), "--head", "logreg", "--out", d / "h.npz"]
    first = ctx.run(*argv)
    r = ctx.run(*argv)
    return verdict(ctx, "10c", "", r, 0, check=lambda: None if first.rc == 0 else f"first train exited {first.rc}")


@case("10d", "outputs take the user's normal mode (umask 022 -> 0644, not 0600): head, evaluation, curve")
def c10d(ctx):
    d = ctx.user("10d")
    runs = [ctx.run("train", ctx.cache(), "--head", "logreg", "--out", d / "h.npz", umask=0o022),
            ctx.run("evaluate", d / "h.npz", ctx.cache(), "--out", d / "ev", umask=0o022),
            ctx.run("curve", ctx.cache(), "--sizes", "20", "--seeds", "1", "--heads", "logreg", "--out", d / "cv", umask=0o022)]
    bad = {str(p.relative_to(d)): oct(p.stat().st_mode & 0o777) for p in d.rglob("*") if p.is_file() and p.stat().st_mode & 0o777 != 0o644}
    r = next((x for x in runs if x.rc), runs[-1])
    return Row("10d", "", r, 0, False, f"modes {bad}" if bad else None)


@case("10e", "train --C 0.03, then train --C cv, both to the default name")
def c10e(ctx):
    home = Path(os.environ["FEATCACHE_HOME"])  # the default names are under it (main sets it for every case)
    before = set(home.rglob("*.npz"))
    a = ctx.run("train", ctx.cache(), "--head", "logreg", "--C", "0.03")
    b = ctx.run("train", ctx.cache(), "--head", "logreg", "--C", "cv")
    heads = sorted(p.name for p in set(home.rglob("*.npz")) - before)
    return verdict(ctx, "10e", "", b, 0, check=lambda: None if a.rc == 0 and len(heads) == 2 else f"heads written: {heads}")


# 11. Smaller ones.


@case("11a", "predict on a 2-class model with its own defaults (--top-k)", "tf")
def c11a(ctx):
    img = sorted((ctx.root / "shared" / "photos" / "ants").glob("*.png"))[0] if ctx.photo_model() else None
    r = ctx.run("predict", ctx.photo_model(), img)
    return verdict(ctx, "11a", "", r, 0, check=lambda: None if r.out.count(":") >= 1 else "no prediction printed")


@case("11b", "predict DIR --csv FILE", "tf")
def c11b(ctx):
    d = ctx.user("11b")
    r = ctx.run("predict", ctx.photo_model(), ctx.root / "shared" / "photos" / "bees", "--csv", d / "p.csv")
    return verdict(ctx, "11b", "", r, 0, check=lambda: None if (d / "p.csv").exists() and
                   len((d / "p.csv").read_text().splitlines()) == 9 else "no CSV of 8 rows")


@case("11c", "curve resuming a hand-edited accuracy of 7.5")
def c11c(ctx):
    d = ctx.user("11c")
    argv = ["curve", ctx.cache(), "--sizes", "20", "--seeds", "1", "--heads", "logreg", "--out", d / "cv"]
    assert ctx.run(*argv).rc == 0
    csv = d / "cv" / "curve.csv"
    lines = csv.read_text().splitlines()
    cols = lines[0].split(",")
    row = lines[1].split(",")
    row[cols.index("accuracy")] = "7.5"
    csv.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
    return refuse(ctx, "11c", "", argv, ["7.5"], (d,))


@case("11d", "a second writer behind a frozen one (--lock-timeout 1)", "sub")
def c11d(ctx):
    d = ctx.user("11d")
    out = d / "c.h5"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom pathlib import Path\n"
                               "from featcache.store.lock import exclusive_lock\n"
                               f"with exclusive_lock(Path({str(out)!r})):\n    print('held', flush=True)\n    time.sleep(120)\n"],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        holder.stdout.readline()
        return refuse(ctx, "11d", "", ["extract", "--data-dir", ctx.fashion(), *TINY, "--out", out, "--lock-timeout", "1"],
                      [f"process {holder.pid}", "--lock-timeout"])
    finally:
        holder.kill()
        holder.wait()


@case("11e", "lesson --out FILE: refused before any work", "tf")
def c11e(ctx):
    d = ctx.user("11e")
    (d / "notes.txt").write_text("mine")
    data = make_fashion_dir(d / "data", n_train=100)
    row = refuse(ctx, "11e", "", ["lesson", "--weights", "random", "--data-dir", data, "--train-limit", "60", "--scratch-train", "60",
                                  "--test-limit", "24", "--out", d / "notes.txt"],
                 ["is a file, not a folder"], (d,))
    if row.run.seconds > 30:
        row.check = f"refused only after {row.run.seconds:.0f} s"
    return row


@case("11f", "extract --out a file of the user's, and --out a folder: no 'delete the file' advice")
def c11f(ctx):
    d = ctx.user("11f")
    (d / "notes.h5").write_bytes(b"the user's own bytes")
    (d / "folder.h5").mkdir()
    rows = [refuse(ctx, "11f", "", ["extract", "--data-dir", ctx.fashion(), *TINY, "--out", d / name], [], (d,))
            for name in ("notes.h5", "folder.h5")]
    bad = [r.run.line for r in rows if "delete" in r.run.line]
    row = next((r for r in rows if not r.clean), rows[0])
    row.check = row.check or (f"advises deleting: {bad}" if bad else None)
    return row


@case("11g", "extract --images with a mistyped folder: a sentence that reads")
def c11g(ctx):
    d = ctx.user("11g")
    return refuse(ctx, "11g", "", ["extract", "--images", d / "phtos", *TINY], ["not found"])


@case("11h", "extract with stdout redirected: plain progress lines, no TensorFlow start-up lines, no lock file left", "tf", "sub")
def c11h(ctx):
    d = ctx.user("11h")
    r = ctx.run("extract", "--data-dir", ctx.fashion(), *TINY, "--out", d / "c.h5", subprocess_only=True)
    problems = [what for what, bad in (("\\r or colour codes in the log", "\r" in r.out or "\x1b" in r.out),
                                       ("stderr not empty", r.err.strip() != ""),
                                       ("a lock file left", any(d.glob("*.lock")))) if bad]
    return verdict(ctx, "11h", "", r, 0, check=lambda: "; ".join(problems) or None)


@case("11i", "evaluate lists the misclassified images with their paths (and --json)", "tf")
def c11i(ctx):
    d = ctx.user("11i")
    head = ctx.root / "shared" / "photo_head.npz"
    ctx.photo_model()
    r = ctx.run("evaluate", head, ctx.photo_cache(), "--out", d / "ev", "--json")

    def listed():
        doc = json.loads(r.out)
        wrong = doc.get("misclassified")
        return None if isinstance(wrong, list) and all("path" in w for w in wrong) and "misclassified" in \
            (d / "ev" / "evaluation.txt").read_text() else "no misclassified list with paths"
    return verdict(ctx, "11i", "", r, 0, check=listed)


# The last stop's leftovers.


@case("L1", "evaluate --out FILE (a file where a folder is expected)")
def cL1(ctx):
    d = ctx.user("L1")
    (d / "notes.txt").write_text("mine")
    return refuse(ctx, "L1", "", ["evaluate", ctx.head(), ctx.cache(), "--out", d / "notes.txt"], ["is a file, not a folder"], (d,))


@case("L2", "Ctrl-C while the console script imports featcache.cli (simulated on importing argparse)", "sub")
def cL2(ctx):
    prelude = ("import sys\nclass Interrupt:\n    def find_spec(self, name, path=None, target=None):\n"
               "        if name == 'argparse':\n            raise KeyboardInterrupt\nsys.meta_path.insert(0, Interrupt())\n")
    r = ctx.run("info", "x.h5", prelude=prelude)
    return verdict(ctx, "L2", "", r, 130, ["interrupted while starting"])


@case("L3", "extract --images over damaged TIFFs: skipped and listed, no libtiff or Pillow lines", "tf")
def cL3(ctx):
    from PIL import Image

    d = ctx.user("L3")
    src = make_class_tree(d / "photos", {"a": 4, "b": 4})
    for comp in ("tiff_lzw", "tiff_deflate"):
        p = src / "a" / f"{comp}.tif"
        Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(p, compression=comp)
        data = bytearray(p.read_bytes())
        for i in range(len(data) // 3, len(data) // 3 + 40):
            data[i] ^= 0xFF
        p.write_bytes(bytes(data))
    (src / "b" / "cut.tif").write_bytes((src / "a" / "tiff_lzw.tif").read_bytes()[:300])
    r = ctx.run("extract", "--images", src, *TINY, "--test-fraction", "0.25", "--out", d / "c.h5")
    return verdict(ctx, "L3", "", r, 0, ["damaged TIFF"],
                   check=lambda: "libtiff/Pillow text reached the user" if r.err.strip() else None)


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--in-process", action="store_true", help="run the commands through featcache.cli.main in this process")
    ap.add_argument("--quick", action="store_true", help="only the cases that build no network, in-process (the smoke test)")
    ap.add_argument("--only", action="append", default=[], help="case ids or prefixes (repeatable), e.g. 9 or 3a")
    ap.add_argument("--workdir", help="keep the inputs and outputs here (default: a temporary folder, removed)")
    args = ap.parse_args(argv)
    chosen = [c for c in CASES if (not args.only or {c[0], c[0].rstrip("abcdefghijklmnopqrstuvwxyz")} & set(args.only))
              and not (args.quick and c[2] & {"tf", "root", "sub"})]
    with contextlib.ExitStack() as stack:
        root = Path(args.workdir) if args.workdir else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fault_cases.")))
        root.mkdir(parents=True, exist_ok=True)
        os.environ["FEATCACHE_HOME"] = str(root.resolve() / "home")  # default outputs here, never in the caller's ./data
        # and its converted models, never in the caller's ~/.cache (paths.runtime_dir's default)
        os.environ["FEATCACHE_RUNTIME_DIR"] = str(root.resolve() / "home" / "runtimes")
        ctx = Ctx(root.resolve(), args.in_process or args.quick, synthetic=args.quick)
        rows = []
        print(f"{'case':5} {'exit':>4} {'tb':3} {'user':4} {'clean':5} {'s':>5}  what / the line the user saw")
        for cid, what, needs, fn in chosen:
            t0 = time.perf_counter()
            try:
                row = fn(ctx)
            except Exception as exc:  # the harness itself failed: the case is not shown clean
                row = Row(cid, what, None, 0, False, f"harness: {type(exc).__name__}: {exc}")
            row.what = what
            rows.append(row)
            r = row.run
            print(f"{cid:5} {'' if r is None else r.rc:>4} {'yes' if r and r.traceback else 'no':3} "
                  f"{'CHG' if row.user_changed else 'ok':4} {'yes' if row.clean else 'NO':5} {time.perf_counter() - t0:5.1f}  {what}"
                  + (f" [{row.note}]" if row.note else ""), flush=True)
            print(f"{'':30}$ featcache {' '.join(r.argv)}" if r else "", flush=True)
            print(f"{'':30}> {r.line if r else ''}" + (f"\n{'':30}! {row.check}" if row.check else ""), flush=True)
        clean = sum(r.clean for r in rows)
        print(f"{clean} of {len(rows)} clean" + ("" if clean == len(rows) else
              ": not clean " + ", ".join(r.cid for r in rows if not r.clean)))
    return 0 if clean == len(rows) else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
