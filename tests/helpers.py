"""Test helpers, in one module: paths of the shared real assets, synthetic Fashion-MNIST IDX files, crafted image files.

Import them as ``from helpers import ...``: pytest puts tests/ on sys.path, so
this works under both ``pytest`` and ``python -m pytest`` (``from tests.conftest``
only under the latter). Fixtures stay in conftest.py.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FEATCACHE_SHARED", REPO.parent / "shared"))
WEIGHTS = Path(os.environ.get("FEATCACHE_WEIGHTS", SHARED / "weights" / "mobilenet_v2_1.0_imagenet_no_top.weights.h5"))
FASHION_DIR = Path(os.environ.get("FEATCACHE_FASHION_DIR", "/usr/share/datasets/fashion-mnist"))


def write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    header = struct.pack(">II", magic, array.shape[0]) + b"".join(struct.pack(">I", d) for d in array.shape[1:])
    with gzip.open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def make_fashion_dir(directory: Path, n_train: int = 48, n_test: int = 24, seed: int = 0) -> Path:
    """Synthetic Fashion-MNIST-shaped IDX files: each class a different bright stripe."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
        for i, y in enumerate(labels):
            images[i, 2 + 2 * y : 4 + 2 * y, :] = 250
        write_idx(directory / f"{split}-images-idx3-ubyte.gz", images, 0x803)
        write_idx(directory / f"{split}-labels-idx1-ubyte.gz", labels.astype(np.uint8), 0x801)
    return directory


def tiny_fashion_cache(root: Path, n_train: int = 48, n_test: int = 24, *, out: str = "c.h5",
                       layers: str | None = None, views: str | None = None) -> Path:
    """A cache extracted by featcache from synthetic Fashion-MNIST (``make_fashion_dir`` at ``root / "fm"``, its
    default sizes unless given) with random weights at 32 px: the real extract path, small and fast; its path
    (``root / out``). ``layers`` and ``views`` are ModelSpec's (its defaults: the final output, the original view)."""
    import featcache

    return featcache.extract(featcache.FashionMNIST(data_dir=str(make_fashion_dir(root / "fm", n_train=n_train,
                                                                                  n_test=n_test))),
                             featcache.ModelSpec(weights="random", image_size=32, layers=layers, views=views),
                             featcache.StoreSpec(out=root / out), verbose=False).path


# The root attributes extract writes that repeat a setting (embedding.runner): a reader compares each with ``settings``.
REPEATED_SETTINGS = ("backbone", "weights", "image_size", "preprocessing", "layers", "dtype", "dataset", "class_names")


def consistent_attrs(attrs: dict) -> dict:
    """``attrs`` for a cache a test writes directly (no network), made to agree with themselves as extract's do: a
    ``settings`` of the settings they repeat (and the views they name), and a fingerprint that is its hash (a reader
    refuses any other on open). A fingerprint given stays in the settings (``tag``), so caches told apart by it still
    differ; read it back from the cache (``open_cache(p).fingerprint``)."""
    from featcache.store.fingerprint import fingerprint

    settings = {k: attrs[k] for k in REPEATED_SETTINGS if k in attrs}
    if attrs.get("views"):
        settings["views"] = [f"{v}@1" for v in attrs["views"]]
    settings["tag"] = attrs.get("fingerprint")
    return {**attrs, "settings": settings, "fingerprint": fingerprint(settings)}


def flip(path: Path, offset: int, n: int = 1) -> None:
    """Invert ``n`` bytes of a file at ``offset`` (damage a cache the way a bad disk would)."""
    with open(path, "r+b") as fh:
        fh.seek(offset)
        data = fh.read(n)
        fh.seek(offset)
        fh.write(bytes(b ^ 0xFF for b in data))


# Crafting image files: class folders of tiny photos, and a huge JPEG that is small on disk.


def write_image(path: Path, rgb: np.ndarray, fmt: str | None = None, **save_args) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(rgb, dtype=np.uint8)).save(path, format=fmt, **save_args)
    return path


def oriented_jpeg(path: Path, rgb: np.ndarray, orientation: int) -> Path:
    """A JPEG of ``rgb`` as stored, with an EXIF orientation tag (1-8) saying how to turn it for display, as phones write."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    return write_image(path, rgb, "JPEG", quality=95, exif=exif.tobytes())


def class_image(label: int, i: int, size: int = 24) -> np.ndarray:
    """A small RGB image whose colour says its class and whose noise makes it unique."""
    rng = np.random.default_rng(1000 * label + i)
    img = rng.integers(0, 40, size=(size, size, 3), dtype=np.uint8)
    img[..., label % 3] += np.uint8(150 + 30 * (label // 3) % 90)
    return img


def make_class_tree(root: Path, counts: dict[str, int], ext: str = "png", size: int = 24, offset: int = 0) -> Path:
    """``root/<class>/<class>_<i>.<ext>`` with ``counts[class]`` images each."""
    for label, (name, n) in enumerate(sorted(counts.items())):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            write_image(root / name / f"{name}_{i + offset:03d}.{ext}", class_image(label, i + offset, size))
    return root


def ppm_tree(root: Path, counts: dict[str, int], offset: int = 0) -> Path:
    """Class folders of 8x8 PPM files whose bytes are written here, byte by byte (no encoder's version can change
    them): a fixture whose split digests can be pinned (``test_images``, ``test_finetune``)."""
    for label, (name, n) in enumerate(sorted(counts.items())):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = bytes((label * 97 + (i + offset) * 31 + k * 7) % 256 for k in range(8 * 8 * 3))
            (root / name / f"{name}_{i}.ppm").write_bytes(b"P6\n8 8\n255\n" + pixels)
    return root


# featcache's image decoders before v7 (sources.images.DECODER), as they were written: a cache one made holds its
# identity in its split digests, and a test makes such a cache by extracting with it as DECODER. Pinned here, not
# read from images.DECODERS: test_images::test_the_older_decoders_featcache_knows_are_the_ones_they_were checks that
# DECODERS still holds them.
OLDER_DECODERS = {
    "v5": "featcache.decode_image:v5:pil_rgb_first_frame_exif_upright_alpha_on_white_jpeg_draft_bilinear_damaged_skipped"
          "_no_eps_float",
    "v6": "featcache.decode_image:v6:pil_rgb_first_frame_exif_upright_alpha_on_white_jpeg_draft_bilinear_damaged_skipped"
          "_no_eps_float_int32_signed",
}


def tiny_photo_cache(root: Path, counts: dict[str, int] | None = None, *, size: int = 24, ext: str = "png",
                     test_fraction: float = 0.5) -> Path:
    """A cache extracted by featcache from class folders of tiny photos (``make_class_tree`` at ``root / "photos"``:
    ``counts``, 6 ants and 6 bees unless given, of ``size`` px) split by ``test_fraction``, with random weights at
    32 px: the real extract path of a photo folder, small and fast; its path (``root / "c.h5"``)."""
    import featcache

    photos = make_class_tree(root / "photos", counts or {"ants": 6, "bees": 6}, ext=ext, size=size)
    return featcache.extract(featcache.PhotoFolder(str(photos), test_fraction=test_fraction),
                             featcache.ModelSpec(weights="random", image_size=32),
                             featcache.StoreSpec(out=root / "c.h5"), verbose=False).path


def flat_jpeg(path: Path, width: int, height: int) -> Path:
    """A valid baseline grayscale JPEG of mid-gray, ``width`` x ``height``, about 2 bits per 8x8 block on disk.

    Each block is coded as "DC difference 0, end of block" with one-bit Huffman
    codes, so a 20000x20000 image takes 1.6 MB on disk (and no time to write)
    while a decoder that expands it fully would need 400 MB.
    """

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">HH", marker, len(payload) + 2) + payload

    one_symbol = bytes([1] + [0] * 15) + b"\x00"  # one code of length 1 for symbol 0
    blocks = -(-width // 8) * -(-height // 8)
    bits = 2 * blocks
    data = bytearray(bits // 8)
    if bits % 8:
        data.append((1 << (8 - bits % 8)) - 1)  # pad the last byte with 1-bits
    out = (
        b"\xff\xd8"
        + segment(0xFFDB, b"\x00" + bytes([1] * 64))
        + segment(0xFFC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
        + segment(0xFFC4, b"\x00" + one_symbol)
        + segment(0xFFC4, b"\x10" + one_symbol)
        + segment(0xFFDA, b"\x01\x01\x00\x00\x3f\x00")
        + bytes(data)
        + b"\xff\xd9"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out)
    return path


def flat_png(path: Path, width: int, height: int) -> Path:
    """A valid black grayscale PNG, ``width`` x ``height``, compressed row by row (tiny on disk)."""
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    z = zlib.compressobj(1)
    rows = bytes((1 + width) * 256)  # 256 rows of: filter byte 0, then black pixels
    idat = b"".join(z.compress(rows[: (1 + width) * min(256, height - r)]) for r in range(0, height, 256)) + z.flush()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )
    return path


def extract(*, source=None, verbose: bool = False, **options):
    """``featcache.extract`` on the typed parts built from the CLI's flat options, as the CLI builds them.

    The tests' shorthand for ``extract(FashionMNIST(...), ModelSpec(...), StoreSpec(...), LocalEngine())``;
    ``source`` overrides the source part (an opened ``DataSource``).
    """
    import featcache
    from featcache.embedding.specs import from_options

    parts = from_options(**options)
    return featcache.extract(parts.source if source is None else source, *parts[1:], verbose=verbose)


def interrupted_extraction(out: Path, batches: int | None = 1, **options) -> Path:
    """The partial an extraction to ``out`` leaves when Ctrl-C stops it, and its path (``<out>.partial.h5``): after
    ``batches`` batches (their rows committed, the rest never written), or with ``batches=None`` once every row is
    written, just before the seal. ``options``: ``extract``'s, ``out`` aside.

    A real unfinished extraction, for the tests of what meets one: a finished cache with ``complete`` set to false
    is no partial but an edited cache, which its seal gives away (``layout.completion_problem``)."""
    import pytest

    from featcache.store import writer as writer_module
    from featcache.store.layout import partial_path

    real_write, calls = writer_module.CacheWriter.write, []

    def stopped_write(self, *a, **kw):
        calls.append(1)
        if len(calls) > batches:
            raise KeyboardInterrupt
        return real_write(self, *a, **kw)

    def stopped_finish(self, *a, **kw):
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as m:
        if batches is None:
            for cls in (writer_module.CacheWriter, writer_module.StagedWriter):  # a photo folder's finish is its own
                m.setattr(cls, "finish", stopped_finish)
        else:
            m.setattr(writer_module.CacheWriter, "write", stopped_write)
        with pytest.raises(KeyboardInterrupt):
            extract(out=out, **options)
    assert partial_path(out).is_file()
    return partial_path(out)


def assert_same_features(got, want, rel: float = 1e-4, floor: float = 1e-6, err_msg: str = "") -> None:
    """``got`` equals ``want`` to ``rel`` of the features' size, in a comparison that can fail.

    Random weights shrink MobileNetV2's features block by block (max |x| over the tiny test images at
    32 px: 0.13 at block_1_expand_relu, 1e-7 at block_13_expand_relu, 1e-11 at out_relu), so a fixed
    ``atol=1e-5`` passes any numbers there. The tolerance here scales with max |want|; features at most
    ``floor`` are refused (compare an early layer such as block_1_expand_relu; ``floor=0`` only where the
    test is about a deep layer: float32 keeps its 7 digits at 1e-11 too), and so are rows (images) that
    do not mostly differ by more than ten times the tolerance, since swapped rows would then pass.
    """
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"shapes differ: {got.shape} vs {want.shape} {err_msg}"
    scale = float(np.abs(want).max()) if want.size else 0.0
    assert scale > floor, f"features too small to compare (max |x| = {scale:.2g}, floor {floor:g}) {err_msg}"
    tol = rel * scale
    if want.ndim > 1 and len(want) > 1:
        gaps = np.abs(np.diff(want.astype(np.float64), axis=0)).reshape(len(want) - 1, -1).max(axis=1)
        # the median, not the least: a few similar images sit only 2-4x the tolerance apart (616 rows at 128 px, 401 photos at 224 px)
        gap = float(np.median(gaps))
        assert gap > 10 * tol, f"consecutive rows differ by a median {gap:.2g} only (tolerance {tol:.2g}) {err_msg}"
    np.testing.assert_allclose(got, want, rtol=rel, atol=tol, err_msg=err_msg)


def photo_extractor(weights: str, size: int, layers: tuple[str, ...] = ("out_relu",)):
    """The plain TensorFlow forward pass an extraction of RGB photos at ``size`` px runs: uint8 images -> [(N, D) per layer].

    Built through the runtime registry, as extraction builds it, so that within
    a session it is the network conftest already built for that extraction.
    """
    from featcache.embedding import runtimes

    spec = runtimes.ConversionSpec("mobilenet_v2", weights, size, tuple(layers), (size, size, 3))
    return runtimes.REGISTRY["tensorflow"].build(spec, None, Path("unused"))


# A featcache command (``python -m featcache``) stopped between two commits of its partial, by the test: its writer
# commits after batch {commit} (``CacheWriter.commit``, as it does once a second), writes {after} more batches, each
# flushed, then says so on stdout and waits for the test's signal. It waits on the writer's thread (extraction writes
# behind the forward pass, engines.local) until the command has received a signal: SIGTERM is raised on the command's
# thread, which unwinds and joins this one; SIGKILL ends all. The tests killed a run at a moment of their own, 0.5 s
# after a poll saw 256 rows committed or once it saw 16: a run had to be thousands of images (4,000 at 64 px, 600 or
# 960 at 128 px) for a fast machine not to have finished by then, and the resume and a reference embedded them all
# again, 20-40 s a test (test_images' photo resume: 401 photos at 96 px). The commits still come from the writer's own
# code, only where the test says.
_BETWEEN_COMMITS = """
import time
from featcache import cli
from featcache.store import writer
real_write, batches = writer.CacheWriter.write, []
writer.COMMIT_SECONDS = float("inf")  # no commit but the one below

def write(self, *args, **kwargs):
    real_write(self, *args, **kwargs)
    batches.append(1)
    if len(batches) == {commit}:
        self.commit()
    elif len(batches) == {commit} + {after}:
        print("between commits", flush=True)
        while not cli._received:
            time.sleep(0.01)

writer.CacheWriter.write = write
"""


def stopped_between_commits(args: list[str], sig: str, *, commit: int, after: int = 2) -> tuple[int, str]:
    """``featcache ARGS`` in a new process, sent the signal named ``sig`` once its first ``commit`` batches are
    committed and ``after`` more are written and flushed, not committed: (its exit status, its stderr)."""
    import signal

    proc = run_changed(_BETWEEN_COMMITS.format(commit=commit, after=after), args)
    try:
        said = said_within(proc, 1, 300)
    finally:
        proc.send_signal(getattr(signal, sig))  # nothing, where said_within ended it
    _, err = ended(proc, 120)
    assert said == ["between commits\n"], err[-3000:]
    return proc.returncode, err


def weights_standin(payload: bytes) -> bytes:
    """Bytes for a weights file a test names but no network loads (a ModelSpec, a resolve_weights, a mocked build):
    HDF5's signature, then ``payload``. --weights PATH is refused before the build where the file carries no HDF5
    signature (backbones.check_weights_file), so bare stand-in bytes would be; ``_standin_bytes`` is the real file
    for tests that load it. The same payload length gives the same size."""
    from featcache.validate import HDF5_SIGNATURE

    return HDF5_SIGNATURE + payload


@functools.lru_cache(maxsize=4)
def _standin_bytes(seed: int) -> bytes:
    import tempfile

    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(seed)
    net = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.h5"
        with h5py.File(path, "w") as f:  # the legacy format of Keras's own ImageNet files
            legacy_h5_format.save_weights_to_hdf5_group(f, net)
        return path.read_bytes()


def imagenet_standin(models: Path, seed: int, image_size: int = 32) -> Path:
    """Stand-in ImageNet weights of MobileNetV2 in a Keras cache's ``models`` folder (the ``keras_cache``
    fixture): random weights drawn from ``seed`` (9 MB), in the legacy HDF5 format and under the name of the file
    Keras loads at ``image_size``, written over whatever is there as ``cp`` would."""
    from featcache.embedding.backbones import get_backbone

    path = models / get_backbone("mobilenet_v2").imagenet.file_name(image_size)
    path.write_bytes(_standin_bytes(seed))
    return path


def script_in_process(script: Path | str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python SCRIPT ARGS`` run in this process, as ``__main__`` (runpy), from ``cwd`` (default: here): its exit
    status, stdout and stderr as a process's. What the script changes in the process's folder, environment,
    sys.path and argv is put back; an exception it lets out (a traceback in a process) fails the test. A new
    interpreter imported Python, featcache and matplotlib again for each run (test_scripts, test_curve's replot)."""
    import io
    import runpy

    out, err = io.StringIO(), io.StringIO()
    saved = os.getcwd(), dict(os.environ), list(sys.path), sys.argv
    code: object = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        sys.argv = [str(script), *args]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:  # the interpreter's rule: None is 0, an int is itself, a message is printed and exits 1
        code = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else (err.write(str(exc.code)), 1)[1]
    finally:
        os.chdir(saved[0])
        os.environ.clear()
        os.environ.update(saved[1])
        sys.path[:], sys.argv = saved[2], saved[3]
    return subprocess.CompletedProcess([str(script), *args], code, out.getvalue(), err.getvalue())


def run_main(capsys, *args: str):
    """``featcache ARGS`` in this process (featcache.cli.main), as a CompletedProcess: exit status, stdout, stderr.

    For checks of what a command says and does; a new ``python -m featcache``
    costs an interpreter and TensorFlow's import (5-8 s) and is kept for what
    only a process shows (its real exit status, what it prints on exit, SIGKILL).
    """
    import subprocess

    from featcache.cli import main

    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    out = capsys.readouterr()
    return subprocess.CompletedProcess(["featcache", *args], code, out.out, out.err)


def cli_one_line_error(capsys, argv: list[str], message: str) -> str:
    """``featcache ARGV`` run in this process (featcache.cli.main) and refused as the standards say: exit 2, one line
    on stderr that holds ``message``, no traceback; that line."""
    from featcache.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def hdf5_checksum(data: bytes) -> int:
    """HDF5's checksum of a metadata block (H5_checksum_metadata: Bob Jenkins' lookup3 ``hashlittle``, initial value 0).

    For tests that rewrite a field of a checksummed superblock the way HDF5 itself would have written it.
    """
    mask = 0xFFFFFFFF

    def rot(x: int, k: int) -> int:
        return ((x << k) | (x >> (32 - k))) & mask

    n = len(data)
    a = b = c = (0xDEADBEEF + n) & mask
    i = 0
    while n > 12:
        a = (a + int.from_bytes(data[i : i + 4], "little")) & mask
        b = (b + int.from_bytes(data[i + 4 : i + 8], "little")) & mask
        c = (c + int.from_bytes(data[i + 8 : i + 12], "little")) & mask
        a = (a - c) & mask; a ^= rot(c, 4); c = (c + b) & mask  # noqa: E702 - lookup3's mix(), line for line
        b = (b - a) & mask; b ^= rot(a, 6); a = (a + c) & mask  # noqa: E702
        c = (c - b) & mask; c ^= rot(b, 8); b = (b + a) & mask  # noqa: E702
        a = (a - c) & mask; a ^= rot(c, 16); c = (c + b) & mask  # noqa: E702
        b = (b - a) & mask; b ^= rot(a, 19); a = (a + c) & mask  # noqa: E702
        c = (c - b) & mask; c ^= rot(b, 4); b = (b + a) & mask  # noqa: E702
        n -= 12
        i += 12
    if n == 0:
        return c
    tail = data[i:] + bytes(12 - n)  # the last 1-12 bytes; lookup3 adds only those present
    a = (a + int.from_bytes(tail[0:4], "little")) & mask
    b = (b + int.from_bytes(tail[4:8], "little")) & mask
    c = (c + int.from_bytes(tail[8:12], "little")) & mask
    c ^= b; c = (c - rot(b, 14)) & mask  # noqa: E702 - lookup3's final()
    a ^= c; a = (a - rot(c, 11)) & mask  # noqa: E702
    b ^= a; b = (b - rot(a, 25)) & mask  # noqa: E702
    c ^= b; c = (c - rot(b, 16)) & mask  # noqa: E702
    a ^= c; a = (a - rot(c, 4)) & mask  # noqa: E702
    b ^= a; b = (b - rot(a, 14)) & mask  # noqa: E702
    c ^= b; c = (c - rot(b, 24)) & mask  # noqa: E702
    return c


def reseal_head(path: Path) -> Path:
    """Give the head file at ``path`` the content digest of what it now holds, as someone who edits a head and knows
    the format would: the digest catches damage and plain edits, it is no signature. Tests of the checks behind it
    (crafted params, arrays, layers) edit a head, then reseal it so those checks are what refuses it."""
    import zipfile

    from featcache.heads.io import DIGEST_KEY, _entry, _is_npz, _npy_bytes, _read_doc, content_digest

    with zipfile.ZipFile(path) as zf:
        npz = _is_npz(zf)
        doc = _read_doc(zf, npz)
        meta = doc.get("meta") if npz and isinstance(doc, dict) else doc
        if not isinstance(meta, dict):  # no metadata to hold a digest: the loader refuses the file as it is
            return path
        meta[DIGEST_KEY] = content_digest(zf, doc, npz)
        others = [(info, zf.read(info)) for info in zf.infolist() if info.filename != _entry(npz)]
    body = json.dumps(doc).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for info, data in others:
            zf.writestr(info, data)
        zf.writestr(_entry(npz), _npy_bytes(np.frombuffer(body, dtype=np.uint8)) if npz else body)
    return path


def reseal_model(path: Path) -> Path:
    """``reseal_head`` for a model file (export, finetune): its featcache.json is a .keras head's, under the same
    digest (``heads.io.content_digest``). Tests of the field checks behind the digest edit a model, then reseal it."""
    return reseal_head(path)


def meta_only_model(path: Path, **meta) -> Path:
    """A file with featcache's model metadata (this format, its digest made) and no network: what is checked before
    TensorFlow loads. ``meta`` adds to or replaces the fields."""
    import zipfile

    from featcache.deploy.model import FORMAT_VERSION, KIND
    from featcache.heads.io import META_ENTRY

    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(META_ENTRY, json.dumps({"kind": KIND, "format_version": FORMAT_VERSION, "class_names": ["ants", "bees"],
                                            "image_size": 32, **meta}))
    return reseal_model(path)


def assert_verify_ok(capsys, path, kind: str) -> None:
    """'featcache verify FILE' on an intact head or model (format 2): an ok line, and --json saying the same."""

    from featcache.cli import main

    from featcache.progress import size_text

    assert main(["verify", str(path)]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"ok: {path} is intact ({kind}, format 2): ") and "content digest matches" in out, out
    assert main(["verify", str(path), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["ok"] is True and got["kind"] == kind and got["content_digest"] is True
    # the bytes read, said as every size in a message is said (verify had a KB/MB rule of its own)
    assert f"): {size_text(got['bytes_read'])} read, content digest matches" in out, out
    import featcache  # the API's verify takes heads and models as the CLI does (it said "not a readable HDF5 file")

    api = featcache.verify(path).to_dict()
    assert {**api, "seconds": None} == {**got, "seconds": None}, (api, got)


def saved_meanwhile(monkeypatch, module, name: str, path: Path, text: str) -> None:
    """Make ``module.name`` (a step of a command's work) first save ``text`` at ``path`` as a user would during the
    run, then do its work: the tests that a file put at an output during a run is never replaced."""
    real = getattr(module, name)

    def step(*args, **kwargs):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, step)


def as_head_of_before_written_by(path):
    """Rewrite the head at ``path`` as featcache wrote heads before 2026-12-05: without ``written_by`` (train now
    records it for every head, null for a user's), as an older lesson's row left it."""
    from featcache.heads.io import WRITTEN_BY, load_head, save_head

    head, meta = load_head(path)
    assert WRITTEN_BY in meta
    save_head(head, path, {k: v for k, v in meta.items() if k != WRITTEN_BY}, force=True)


@contextlib.contextmanager
def tmpfs(directory, options: str):
    """A tmpfs mounted at ``directory`` (as test_store does: needs root), unmounted after; skips where it cannot mount."""
    import pytest

    directory.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield directory
    finally:
        subprocess.run(["umount", str(directory)], capture_output=True)


def fill(disk) -> None:
    """Fill a small tmpfs to its last block."""
    with contextlib.suppress(OSError), open(disk / "fill", "wb") as f:
        while True:
            f.write(b"\0" * 4096)
            f.flush()


# No network: the ``no_network`` fixture (conftest.py) and what it records.

# Loaded by the subprocesses of a test that uses ``no_network``: refuses and records their Python-level connections.
NETGUARD = REPO / "tests" / "netguard"
# Variables that silence a library's telemetry where they are set (a CI job, an opt-out): unset under ``no_network``,
# as on a user's machine, or a test that no request is made would pass on code that makes one. CI, TF_BUILD and
# JENKINS_URL: openvino_telemetry's OptInChecker._run_in_ci; GITHUB_ACTIONS, GITLAB_CI and ORT_DISABLE_TELEMETRY:
# ONNX Runtime's (names in its library); RAY_USAGE_STATS_ENABLED: Ray's usage statistics.
TELEMETRY_SWITCHES = ("CI", "TF_BUILD", "JENKINS_URL", "GITHUB_ACTIONS", "GITLAB_CI", "ORT_DISABLE_TELEMETRY",
                      "RAY_USAGE_STATS_ENABLED")


class ProxyRecorder:
    """An HTTP(S) proxy on this machine that passes nothing: it reads each request's first line (``CONNECT
    host:443 HTTP/1.1``), keeps it, and closes the connection. Code that honours the proxy variables (urllib,
    requests, libcurl: ONNX Runtime's native uploader) is seen here by the host it wanted, before any name is
    looked up."""

    def __init__(self) -> None:
        import socket
        import threading

        self.requests: list[str] = []
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self._server.settimeout(0.2)  # so the loop sees close() (a blocked accept is not woken by it)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._open = True
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import socket

        while self._open:
            try:
                conn, _ = self._server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    first = conn.recv(4096).split(b"\r\n", 1)[0]
                except OSError:
                    first = b""
            self.requests.append(first.decode("latin-1") or "a connection that sent nothing")

    def close(self) -> None:
        self._open = False
        self._thread.join(5)
        self._server.close()


def netguard_tries(log: Path) -> list[str]:
    """The connections ``tests/netguard/sitecustomize.py`` refused, one string each (target, process, stack)."""
    if not log.is_file():
        return []
    return [entry.strip() for entry in log.read_text().split("=== ")[1:]]


def nested_folders(top: Path, levels: int, name: str = "d") -> Path:
    """``top``/d/d/.../d, ``levels`` deep, made one level at a time from a descriptor (``os.makedirs`` recurses)."""
    top.mkdir(parents=True, exist_ok=True)
    fd = os.open(top, os.O_RDONLY)
    try:
        for _ in range(levels):
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)
    return top.joinpath(*[name] * levels)


def unnest(top: Path, name: str = "d") -> None:
    """Removes ``nested_folders``'s tree below ``top``: each level moved up beside it first (``shutil.rmtree``, and
    pytest's clean-up of old temporary folders with it, recurses once per level)."""
    pieces, i = [top / name], 0
    while (pieces[-1] / name).is_dir():
        i += 1
        os.rename(pieces[-1] / name, top / f"{name}.{i}")
        pieces.append(top / f"{name}.{i}")
    for piece in pieces:
        shutil.rmtree(piece)


@contextlib.contextmanager
def fifo_unblocked(fifo: Path, after: float = 15.0):
    """A FIFO at ``fifo``, opened read-write and closed again every half second from ``after`` seconds on, by another
    process, while the test runs: a reader blocked opening it (the code before this fix, in C with the GIL held, deaf
    to signals; HDF5 opens it more than once) then reads an empty file and returns, so the test fails instead of
    hanging. ``<>`` (read-write) never blocks on Linux, whether anyone reads or not."""
    os.mkfifo(fifo)
    opener = subprocess.Popen(["sh", "-c", f"sleep {after}; while :; do : <> \"$0\"; sleep 0.5; done", str(fifo)])
    try:
        yield fifo
    finally:
        opener.kill()
        opener.wait()


def keras_weights_reaching_out(fifo: Path, storage: bool):
    """A change for a test's rewrite of a .keras file entry by entry (``change(name, data)``: the entry's new bytes):
    the first dataset of its model.weights.h5 made an external link to ``fifo`` (``storage``: a dataset of its shape
    keeping its data in ``fifo``, external raw storage)."""
    import io

    import h5py

    def change(name, data):
        if name != "model.weights.h5":
            return data
        buf = io.BytesIO(data)
        with h5py.File(buf, "r+") as f:
            names = []
            f.visititems(lambda n, obj: names.append(n) if isinstance(obj, h5py.Dataset) else None)
            ds = f[names[0]]
            shape, dtype = ds.shape, ds.dtype
            del f[names[0]]
            if storage:
                f.create_dataset(names[0], shape, dtype, external=[(str(fifo), 0, int(np.prod(shape)) * dtype.itemsize)])
            else:
                f[names[0]] = h5py.ExternalLink(str(fifo), "/w")
        return buf.getvalue()
    return change


# Another featcache holding the lock of argv[1] (a conversion's ``<key>.onnx``), until the test stops it (Ctrl-Z).
_HOLD_LOCK = """
import sys, time
from pathlib import Path
from featcache.store.lock import exclusive_lock
with exclusive_lock(Path(sys.argv[1]), wait_message="unused"):
    print("held", flush=True)
    time.sleep(600)
"""


@contextlib.contextmanager
def stopped_lock_holder(path: Path, alarm: int = 180):
    """A featcache process holding ``path``'s lock (a conversion's: ``<key>.onnx``), stopped as by Ctrl-Z (SIGSTOP):
    it never lets go; the process (``subprocess.Popen``). The test's waits are bounded by an alarm of ``alarm``
    seconds (the waits tested are under a second or two; building TensorFlow's network takes seconds), which fails
    the test: the old code waited for such a holder for ever."""
    import signal
    import sys

    import pytest

    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(path)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    before = signal.signal(signal.SIGALRM, lambda *a: pytest.fail("waited without end for a stopped featcache's lock"))
    try:
        assert holder.stdout.readline() == "held\n"
        os.kill(holder.pid, signal.SIGSTOP)
        signal.alarm(alarm)
        yield holder
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)
        holder.kill()
        holder.wait()
        holder.stdout.close()


def refused_while_converting(capsys, argv: list, api_call, onnx: Path, holder_pid: int) -> None:
    """A run of a model file (``argv``: predict's or evaluate's command line) and its Python call (``api_call(0.3)``,
    with ``lock_timeout=0.3``) while a stopped process holds the conversion lock of ``onnx``: each refused in one
    line naming the holder's pid, the lock file and the option in the caller's words, after ``--lock-timeout`` 0.3 s
    and after ``runtimes.CONVERSION_WAIT_SECONDS`` (the caller sets it to 0.4) without it."""
    import pytest

    import featcache

    def what(seconds: str) -> str:
        return (f"another featcache, process {holder_pid}, is converting the same model and did not finish within "
                f"{seconds} s (lock {onnx}.lock); wait for it (a longer ")

    for flags, seconds in (("--lock-timeout", "0.3"), "0.3"), ((), "0.4"):
        got = run_main(capsys, *argv, *flags)
        assert got.returncode == 2 and got.stderr.count("\n") == 1 and got.stdout == "", got
        assert got.stderr.startswith(f"featcache {argv[0]}: error: {what(seconds)}--lock-timeout), "), got.stderr
        assert got.stderr.rstrip().endswith("or use --runtime tensorflow"), got.stderr
    with pytest.raises(featcache.FeatcacheError) as raised:
        api_call(0.3)
    assert str(raised.value).startswith(f"{what('0.3')}lock_timeout), "), raised.value


def model_conversion(model: Path, runtime_dir: Path) -> Path:
    """Where a converted runtime (onnxruntime) keeps its conversion of the model file ``model`` in ``runtime_dir``
    (``<key>.onnx``, ``runtimes.converted_model``): the path whose lock a converting predict or evaluate takes."""
    from featcache.deploy.model import ExportedModelSpec, ModelFile

    return Path(runtime_dir) / f"{ExportedModelSpec.of(ModelFile.read(model)).key()}.onnx"


# A featcache command as the program (``python -m featcache``), or a program calling the API, in a child process,
# after CODE has changed a step of it; the child imports featcache from this checkout and these helpers
# (``stub_model_runs``).
_CHANGED_RUN = """
import os, runpy, sys, threading
from featcache.sources import images
{code}
{program}
"""
_AS_THE_CLI = "sys.argv = ['featcache', *sys.argv[1:]]\nrunpy.run_module('featcache', run_name='__main__')"


def run_changed(code: str, args: list[str], program: str = _AS_THE_CLI) -> subprocess.Popen:
    """``featcache ARGS`` started as the program after ``code`` ran (``images``, ``os``, ``sys``, ``threading`` are
    imported for it); its stdout and stderr are pipes, as text. ``program``: Python run after ``code`` in place of
    the command (a program calling the API, without the CLI's exit timer), ``args`` its ``sys.argv[1:]``."""
    path = os.pathsep.join([str(REPO), str(REPO / "tests")])
    return subprocess.Popen([sys.executable, "-c", _CHANGED_RUN.format(code=code, program=program), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": path})


def ended(proc: subprocess.Popen, seconds: float) -> tuple[str, str]:
    """stdout and stderr of ``proc`` once it has ended, or a failure if it has not within ``seconds`` (killed then)."""
    import pytest

    try:
        return proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"still running after {seconds:.0f} s: it hangs")


def said_within(proc: subprocess.Popen, lines: int, seconds: float) -> list[str]:
    """The next ``lines`` lines ``proc`` writes on stdout, or a failure if they have not all come within ``seconds``
    (killed then): a bound on one step of what a process does, where ``ended``'s would count its whole exit too."""
    import pytest

    said: list[str] = []
    reader = threading.Thread(target=lambda: said.extend(proc.stdout.readline() for _ in range(lines)), daemon=True)
    reader.start()
    reader.join(seconds)
    if reader.is_alive():
        proc.kill()
        reader.join()  # at its end of file now: one reader of stdout at a time
        _, err = proc.communicate()
        pytest.fail(f"said {said} of {lines} lines after {seconds:.0f} s: it hangs\n{err[-2000:]}")
    return said


def stub_model_runs(set_attr, *, run=None, runtime_used: str = "stub", runtime_note: str | None = None) -> None:
    """predict's network stubbed out, for its plumbing without TensorFlow: loading, the ModelRunner (its record of
    the file, its check after scoring that the file is still the one run; ``runtime_used`` and ``runtime_note`` what
    it says it ran on), and the run: ``run`` (``run_model(net, x, bs)``'s stand-in), by default every image 0.25 of
    the first class and 0.75 of the second (each image's answer known). ``set_attr``: ``monkeypatch.setattr``, or
    ``setattr`` in a child (``run_changed``)."""
    from types import SimpleNamespace

    from featcache.deploy import model as model_mod

    set_attr(model_mod, "load_model", lambda p: (object(), {}))
    set_attr(model_mod, "ModelRunner", lambda p, *a, **k: SimpleNamespace(
        runtime_used=runtime_used, runtime_note=runtime_note, meta=model_mod.read_meta(p), check_unchanged=lambda: None))
    set_attr(model_mod, "run_model", run or (lambda net, x, bs=64: np.stack(
        [np.full(len(x), 0.25), np.full(len(x), 0.75)], axis=1)))


# Runs the CLI in a fresh process (``python -m featcache``), then writes which of TensorFlow and Keras it imported.
CLI_IMPORTS = """
import json, sys
out, watched = sys.argv.pop(1), json.loads(sys.argv.pop(1))
code = 0
try:
    from featcache.cli import main
    code = main(sys.argv[1:])
finally:
    with open(out, "w") as f:
        json.dump(sorted(m for m in watched if m in sys.modules), f)
raise SystemExit(code)
"""
# What a command that runs none of them must not import: TensorFlow and Keras (20 s at load 9 on a cached conversion;
# issue 14), scikit-learn with SciPy and pandas (4.6 s of building the CLI's parser at load 12), matplotlib.
HEAVY = ("tensorflow", "keras", "sklearn", "scipy", "pandas", "matplotlib")


def cli_imports(tmp_path: Path, *args: str, modules: Sequence[str] = HEAVY) -> tuple[subprocess.CompletedProcess, list[str]]:
    """``featcache ARGS`` in a fresh process in ``tmp_path``: (the process, which of ``modules`` it imported).
    A run that needs none of them must not pay their import (``HEAVY``)."""
    seen = tmp_path / f"imported{len(list(tmp_path.glob('imported*')))}.json"
    proc = subprocess.run([sys.executable, "-c", CLI_IMPORTS, str(seen), json.dumps(list(modules)), *args],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    return proc, json.loads(seen.read_text())


def parse_python(source: str) -> ast.Module:
    """``ast.parse``, again where CPython 3.11's AST constructor says "AST constructor recursion depth mismatch": its
    depth count is one per interpreter, and another thread building an AST meanwhile (3.11's tracebacks parse the line
    for their carets) upsets it (CPython gh-106905). test_layering's parse of featcache's sources failed so once, in a
    whole run at -n 3 (2026-12-07); the sources were sound."""
    for _ in range(2):
        try:
            return ast.parse(source)
        except SystemError as exc:
            if "AST constructor recursion depth mismatch" not in str(exc):
                raise
    return ast.parse(source)


# The end of a script run as ``python -c``: a multiprocessing "fork" worker runs its ``work()`` and says "ran", "refused"
# (a FeatcacheError: its line and seconds), "failed" (another exception, its traceback's end), "died" (its exit code)
# or "hung" (its join bounded at 60 s; TensorFlow run in a process forked after it started waited for ever:
# tests/test_forked_child.py).
IN_A_FORKED_WORKER = """
import multiprocessing, time
import featcache

def child(queue):
    start = time.monotonic()
    try:
        work()
        queue.put(("ran", "", time.monotonic() - start))
    except featcache.FeatcacheError as exc:
        queue.put(("refused", str(exc), time.monotonic() - start))
    except BaseException:  # said here: the worker's own stderr is the parent's, which a test may not see
        import traceback
        queue.put(("failed", traceback.format_exc()[-2000:].replace("\\n", " | "), time.monotonic() - start))

context = multiprocessing.get_context("fork")
queue = context.Queue()
worker = context.Process(target=child, args=(queue,))
worker.start()
worker.join(60)
if worker.is_alive():
    worker.kill()
    print("hung")
else:
    try:
        outcome, message, seconds = queue.get(timeout=10)
    except Exception:  # queue.Empty: it died before a word (a signal, os._exit)
        outcome, message, seconds = "died", f"exit code {worker.exitcode}", 0
    print(outcome)
    print(message)
    print(seconds)
"""


def refused_at_once_in_a_forked_worker(proc: subprocess.CompletedProcess, started: float) -> None:
    """``IN_A_FORKED_WORKER``'s worker was refused at once, in the line naming the fix."""
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "refused", f"the forked worker {lines[0]} (after {time.monotonic() - started:.0f} s)"
    assert "forked after TensorFlow started" in lines[1] and "get_context('spawn')" in lines[1]
    assert float(lines[2]) < 5  # at once, before any TensorFlow work
