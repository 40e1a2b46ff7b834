"""A cache is read only from inside its own file, and only where it agrees with itself (store.reader's open).

Each file here is a tiny cache edited with h5py the way an adversarial tester (helper-211) edited one, most of them
re-sealed with featcache's own seal (``writer._seal``): digests are not signatures (docs/guarantees.md), so what
catches such an edit is the cache's consistency with itself, checked on every open.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from helpers import fifo_unblocked, interrupted_extraction, run_main, tiny_fashion_cache

from featcache.errors import FeatcacheError


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """One small extracted cache for the module (30 train / 20 test images): each test edits its own copy."""
    return tiny_fashion_cache(tmp_path_factory.mktemp("tiny"), 30, 20)


def edited(tiny: Path, out: Path, edit, reseal: bool = True) -> Path:
    """A copy of ``tiny`` at ``out`` changed by ``edit(h5file)``, re-sealed with featcache's own seal where ``reseal``."""
    from featcache.store.writer import _seal

    shutil.copy(tiny, out)
    with h5py.File(out, "r+") as f:
        edit(f)
        if reseal:
            _seal(f)
    return out


def assert_damaged(capsys, path: Path, *needles: str, commands=("info", "verify")) -> None:
    """Each command refuses ``path`` with exit 2 and one line: damaged, with every needle."""
    for command in commands:
        proc = run_main(capsys, command, str(path))
        assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert f"{path} is damaged" in lines[0] and "re-extract it" in lines[0], lines[0]
        for needle in needles:
            assert needle in lines[0], lines[0]


def _external_link(fifo: Path):
    def edit(f):
        del f["test/labels"]
        f["test/labels"] = h5py.ExternalLink(str(fifo), "/labels")
    return edit


def _external_storage(fifo: Path):
    def edit(f):
        n = f["test/labels"].shape[0]
        del f["test/labels"]
        f.create_dataset("test/labels", (n,), "i8", external=[(str(fifo), 0, 8 * n)])
    return edit


def _virtual(fifo: Path):
    def edit(f):
        n = f["test/labels"].shape[0]
        del f["test/labels"]
        layout = h5py.VirtualLayout(shape=(n,), dtype="i8")
        layout[:] = h5py.VirtualSource(str(fifo), "labels", shape=(n,))
        f.create_virtual_dataset("test/labels", layout)
    return edit


@pytest.mark.parametrize("how, words", [(_external_link, "test/labels is an external link to another file"),
                                        (_external_storage, "test/labels keeps its data in external files"),
                                        (_virtual, "test/labels is a virtual dataset")])
def test_a_cache_reaching_outside_its_file_is_refused_before_anything_is_followed(tiny, tmp_path, capsys, how, words):
    """Regression (helper-211): a cache whose test/labels was an external link to a FIFO, a dataset stored in a
    FIFO (external raw storage) or a virtual dataset of one froze info, verify and train, in C, deaf to Ctrl-C and
    SIGTERM. Refused now by the link and storage walk every open starts with (``layout.check_inside``), which
    resolves no link and reads no data: the FIFO is never opened. Un-sealed as the tester left it: the walk comes
    before the seal's check, which reads the labels."""
    with fifo_unblocked(tmp_path / "fifo") as fifo:
        cache = edited(tiny, tmp_path / "c.h5", how(fifo), reseal=False)
        assert_damaged(capsys, cache, words, "reads nothing outside a cache")
        proc = run_main(capsys, "train", str(cache), "--head", "logreg", "--out", str(tmp_path / "h.npz"))
        assert proc.returncode == 2 and "test/labels" in proc.stderr, proc.stderr
    assert not (tmp_path / "h.npz").exists()


@pytest.mark.parametrize("how", [_external_link, _external_storage])
def test_a_partial_reaching_outside_its_file_is_refused_then_set_aside_never_followed_nor_deleted(
        fashion_dir, tmp_path, capsys, how):
    """Regression (helper-214): an interrupted extraction's partial whose test labels were an external link to a FIFO
    was opened read-write by the resume, the FIFO opened and written to (blocking in C until someone read it: here
    the opener after 5 s ends it), and the partial deleted as "damaged": someone's file gone. The partial's look
    walks its link table as a reader does: refused in one line, left byte for byte; --force moves it aside."""
    out = tmp_path / "q.h5"
    part = interrupted_extraction(out, data_dir=str(fashion_dir), weights="random", image_size=32, verbose=False)
    args = ["extract", "--data-dir", str(fashion_dir), "--weights", "random", "--image-size", "32", "--out", str(out)]
    with fifo_unblocked(tmp_path / "fifo", after=5) as fifo:
        with h5py.File(part, "r+") as f:
            how(fifo)(f)
        before = part.read_bytes()
        proc = run_main(capsys, *args)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert f"{part} is in the way of featcache's partial file" in proc.stderr and "test/labels" in proc.stderr
        assert "pass --force to move it aside" in proc.stderr, proc.stderr
        assert part.read_bytes() == before and not out.exists()
        proc = run_main(capsys, *args, "--force")
        assert proc.returncode == 0, proc.stderr
    moved = [p for p in tmp_path.iterdir() if p.name.startswith(f"{part.name}.outside-")]
    assert len(moved) == 1 and moved[0].read_bytes() == before, sorted(p.name for p in tmp_path.iterdir())
    assert f"moved to {moved[0]}" in proc.stderr and not part.exists(), proc.stderr
    assert run_main(capsys, "verify", str(out)).returncode == 0


def test_a_soft_link_re_sealed_is_refused(tiny, tmp_path, capsys):
    """Regression (helper-211's list of what featcache never writes): test/labels made a soft link to another dataset
    of the same labels, the cache re-sealed, passed every check and was read; the walk refuses any link but a hard one."""
    def edit(f):
        f["test/labels_kept"] = f["test/labels"][()]
        del f["test/labels"]
        f["test/labels"] = h5py.SoftLink("/test/labels_kept")
    cache = edited(tiny, tmp_path / "c.h5", edit)
    assert_damaged(capsys, cache, "test/labels is a soft link")


def _json_attr(name: str, change):
    def edit(f):
        f.attrs[name] = json.dumps(change(json.loads(f.attrs[name])))
    return edit


def _flip_view_added(f) -> None:
    """A "flip" view named in the attributes, its datasets copies of the original's, the settings left without views."""
    f.attrs["views"] = json.dumps(["orig", "flip"])
    for split in ("train", "test"):
        for layer in json.loads(f.attrs["layers"]):
            orig = f[f"{split}/features/{layer}"]
            f.create_dataset(f"{split}/views/flip/{layer}", data=orig[()], chunks=orig.chunks, fletcher32=True)


@pytest.mark.parametrize("edit, words", [
    (_json_attr("class_names", lambda names: [names[1], names[0], *names[2:]]), "attribute 'class_names' says otherwise"),
    (lambda f: f.attrs.__setitem__("image_size", 64), "attribute 'image_size' says otherwise"),
    (lambda f: _flip_view_added(f), "attribute 'views' names other views"),
    (_json_attr("settings", lambda s: {**s, "image_size": 64}), "fingerprint is not the hash of its settings"),
])
def test_attributes_re_sealed_against_the_settings_are_refused(tiny, tmp_path, capsys, edit, words):
    """Regression (helper-211, re-sealed with featcache's seal): swapped class_names was a cache hit whose heads
    carried the wrong names; image_size 64 under settings of 32 built an exported model of the wrong size; views
    named in the attributes only gave heads recording views never cached; settings edited under the old
    fingerprint were used. Each attribute that repeats a setting must equal it, and the fingerprint must be the
    settings' hash."""
    cache = edited(tiny, tmp_path / "c.h5", edit)
    assert_damaged(capsys, cache, words)
    proc = run_main(capsys, "train", str(cache), "--head", "logreg", "--out", str(tmp_path / "h.npz"))
    assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    assert not (tmp_path / "h.npz").exists()


def test_an_unlisted_view_is_one_refusal_for_verify_and_train(tiny, tmp_path, capsys):
    """Regression (helper-211): a view group the attributes do not list, added and re-sealed, was taken silently by
    train and called "rewritten or moved since extraction" by verify. One rule on every open, one line for both."""
    def edit(f):
        n, width = f["test/features/out_relu"].shape
        f.create_dataset("test/views/shift:+2,-2/out_relu", data=np.ones((n, width), np.float32),
                         chunks=(min(64, n), width), fletcher32=True)
    cache = edited(tiny, tmp_path / "c.h5", edit)
    lines = set()
    for command in ("verify", "train"):
        args = [command, str(cache)] + (["--head", "logreg", "--out", str(tmp_path / "h.npz")] if command == "train" else [])
        proc = run_main(capsys, *args)
        assert proc.returncode == 2, proc.stderr
        lines.add(proc.stderr.strip().split("error: ", 1)[-1])
    assert len(lines) == 1, lines
    line = lines.pop()
    assert "test/views/shift:+2,-2, which its attributes do not list" in line and "rewritten" not in line, line


def _replaced(name: str, make):
    """An edit putting ``make(f, name)`` where ``name`` was: another kind of HDF5 object at a name featcache writes."""
    def edit(f):
        del f[name]
        make(f, name)
    return edit


def _group(f, name):
    f.create_group(name)


def _dataset(f, name):
    f.create_dataset(name, data=np.zeros(3))


def _scalar(f, name):
    f.create_dataset(name, data=np.int64(0))


@pytest.mark.parametrize("name, make, words", [
    ("test/labels", _group, "test/labels is a group, where featcache writes one value per image"),
    ("test/index", _group, "test/index is a group"),
    ("test/labels", _scalar, "test/labels is a dataset of no dimension"),
    ("test/features/out_relu", _group, "test/features/out_relu is a group, where featcache writes a layer's features"),
    ("test/features", _dataset, "test/features is a dataset, where featcache writes a group of layers"),
    ("test", _dataset, "test is a dataset, where featcache writes a split's group")])
def test_an_object_of_another_kind_at_a_name_featcache_writes_is_one_line(tiny, tmp_path, capsys, name, make, words):
    """Regression (helper-255, h5py edits): a group put where a split's labels, index or a layer's features were (a
    dataset where its features group was, labels of no dimension) crashed info, verify, train and probe with
    Python's AttributeError ("'Group' object has no attribute 'ndim'") or IndexError, a traceback and exit 1. Each
    is one damaged line naming the object, on every open (featcache's own seal cannot re-seal such a file)."""
    cache = edited(tiny, tmp_path / "c.h5", _replaced(name, make), reseal=False)
    assert_damaged(capsys, cache, words, commands=("info", "verify", "train"))


def test_an_intact_cache_still_opens(tiny, capsys):
    """The checks refuse edits only: the cache as extracted is verified intact and its info shown."""
    for command in ("verify", "info"):
        proc = run_main(capsys, command, str(tiny))
        assert proc.returncode == 0, proc.stderr


def test_a_weights_file_reaching_outside_itself_is_refused_before_keras_loads_it(fashion_dir, tmp_path, capsys):
    """Regression (helper-211's brief: every HDF5 file read from a user's path): Keras follows an external link of a
    ``--weights`` file when it loads it, and a FIFO behind one blocked extract in C as it did info for a cache. The
    same walk (``validate.outside_storage``) refuses it in one line, before the network is built; nothing is written."""
    with fifo_unblocked(tmp_path / "fifo") as fifo:
        weights = tmp_path / "w.weights.h5"
        with h5py.File(weights, "w") as f:
            f["layers/conv/vars/0"] = h5py.ExternalLink(str(fifo), "/x")
        proc = run_main(capsys, "extract", "--data-dir", str(fashion_dir), "--weights", str(weights),
                        "--image-size", "32", "--out", str(tmp_path / "c.h5"))
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"--weights {weights} reaches outside its file" in lines[0], proc.stderr
    assert "layers/conv/vars/0 is an external link" in lines[0], lines[0]
    assert not (tmp_path / "c.h5").exists()


def _del_test(f):
    del f["test"]


def _add_group(f):
    f.create_group("zzz")


def _add_dataset(f):
    f.create_dataset("zzz", data=np.zeros(3))


_UNKNOWN = "at its top, where featcache writes only its splits: train, test"


@pytest.mark.parametrize("edit, reseal, words", [
    (_add_group, False, f"it holds an unknown group 'zzz' {_UNKNOWN}"),  # featcache's seal cannot seal an empty split
    (_add_dataset, False, f"it holds an unknown dataset 'zzz' {_UNKNOWN}"),
    (_add_dataset, True, f"it holds an unknown dataset 'zzz' {_UNKNOWN}"),
    (_del_test, False, "its split 'test' is missing; featcache wrote the splits train, test"),
    (_del_test, True, "its split 'test' is missing; featcache wrote the splits train, test")])
def test_a_group_added_at_the_top_or_a_split_deleted_is_said_for_what_it_is(tiny, tmp_path, capsys, edit, reseal, words):
    """Regression (helper-255, h5py edits): ``f.create_group("zzz")`` on a finished cache, or ``del f["test"]``, was
    "completion digest mismatch: its 'complete' or a split's rows_done changed" (every group at its top was taken for
    a split). The splits a cache holds are those its settings record (one data digest each): anything else is said
    as itself, re-sealed with featcache's own seal too."""
    cache = edited(tiny, tmp_path / "c.h5", edit, reseal=reseal)
    assert_damaged(capsys, cache, words, commands=("info", "verify", "train"))


@pytest.mark.parametrize("names", [["features_digest"], ["provenance_digest"], ["provenance_digest", "features_digest"],
                                   ["completion_digest"], ["dataset_digests"], ["completion_digest", "dataset_digests"]])
def test_a_deleted_seal_digest_is_said_missing_not_a_content_change(tiny, tmp_path, capsys, names):
    """Regression (helper-255): ``del f.attrs["features_digest"]`` was "content digest mismatch: its labels, index,
    paths or settings changed", none of which had: the content digest records that the seal wrote it, and the line
    now names the attribute deleted (the provenance digest's and both alike). Regression (helper-266's brief): a
    deleted ``completion_digest`` or ``dataset_digests``, which the provenance digest covers, was "provenance digest
    mismatch: how it was made (versions, runtime, weights path, source, dates) changed"; it is named missing too
    (``layout.deleted_seal_attributes``: made again from the file, they give the sealed provenance digest)."""
    def edit(f):
        for name in names:
            del f.attrs[name]

    cache = edited(tiny, tmp_path / "c.h5", edit, reseal=False)
    quoted = " and ".join(repr(n) for n in names)
    assert_damaged(capsys, cache, f"attribute{'s' if len(names) > 1 else ''} {quoted}", "missing", "sealed with",
                   commands=("info", "verify", "train"))
    said = run_main(capsys, "verify", str(cache)).stderr
    assert "content digest mismatch" not in said and "provenance digest mismatch" not in said, said


def test_a_deleted_dataset_digests_is_proved_by_one_read_of_the_features_per_version_of_the_file(tiny, tmp_path,
                                                                                                  monkeypatch):
    """Regression (helper-281's brief): naming a deleted ``dataset_digests`` missing reads every feature value
    (``layout.deleted_seal_attributes``; 4.6 s for a 1.4 GB cache, about 33 s for 10 GB), and each open of the same
    unchanged file in a process read them all again (a notebook's open_cache, then train, then probe of it). Each
    version of the file is read once: opened again, the same line from no read; changed (a chmod moves its
    status-change time), read again."""
    import os

    from featcache.store import layout, open_cache

    cache = edited(tiny, tmp_path / "c.h5", lambda f: f.attrs.__delitem__("dataset_digests"), reseal=False)
    hashed: list[str] = []
    real = layout.dataset_digest
    monkeypatch.setattr(layout, "dataset_digest", lambda ds, name: hashed.append(name) or real(ds, name))
    lines = []
    for _ in range(3):
        with pytest.raises(FeatcacheError, match="attribute 'dataset_digests' is missing: it was sealed with one") as exc:
            open_cache(cache)
        lines.append(str(exc.value))
    with h5py.File(cache, "r") as f:
        datasets = layout.feature_datasets(f)
    assert len(set(lines)) == 1 and sorted(hashed) == sorted(datasets), hashed  # each dataset read once, three opens
    os.chmod(cache, 0o640)
    with pytest.raises(FeatcacheError, match="attribute 'dataset_digests' is missing") as exc:
        open_cache(cache)
    assert str(exc.value) == lines[0] and sorted(hashed) == sorted(datasets * 2), hashed


def test_a_deleted_seal_digest_with_its_cache_edited_too_is_still_a_mismatch(tiny, tmp_path, capsys):
    """A ``completion_digest`` deleted from a cache whose ``rows_done`` was edited too is not named missing: made again
    from the edited file it does not give the sealed provenance digest, so nothing proves it was only deleted; the
    provenance digest's own line stands."""
    def edit(f):
        del f.attrs["completion_digest"]
        f["test"].attrs["rows_done"] = 3

    cache = edited(tiny, tmp_path / "c.h5", edit, reseal=False)
    assert_damaged(capsys, cache, "provenance digest mismatch", commands=("info", "verify", "train"))


def _root_attribute(f):
    f.attrs["note"] = "checked by Ana"


def _split_attribute(f):
    f["train"].attrs["note"] = "checked by Ana"


def _features_group_attribute(f):
    f["train/features"].attrs["note"] = "checked by Ana"


def _feature_dataset_attribute(f):
    f["test/features/out_relu"].attrs["scale"] = 2.0


def _row_dataset_attribute(f):
    f["train/labels"].attrs["note"] = "checked by Ana"


@pytest.mark.parametrize("edit, words", [(_root_attribute, "the root attribute 'note'"),
                                         (_split_attribute, "the attribute 'note' of train"),
                                         # helper-276: an attribute below a split (a group's, a dataset's) was
                                         # covered by no digest either, and verify called the cache intact
                                         (_features_group_attribute, "the attribute 'note' of train/features"),
                                         (_feature_dataset_attribute, "the attribute 'scale' of test/features/out_relu"),
                                         (_row_dataset_attribute, "the attribute 'note' of train/labels")])
def test_an_attribute_featcache_does_not_write_fails_verify_and_is_ignored_by_readers(tiny, tmp_path, capsys, edit,
                                                                                      words):
    """Regression (helper-266's brief): a root attribute featcache does not write, added to a sealed cache
    (``f.attrs["note"] = ...``), made every reader refuse it, "provenance digest mismatch: how it was made ...
    changed", though none reads it; one added to a split was covered by no digest and ``verify`` called the file
    intact. As for an object in a split: verify, which vouches for the whole file, refuses naming it; info and train,
    which never read it (nor show it: ``info --json``), go on. An attribute featcache does write, added, is still the
    provenance digest's mismatch (the next test)."""
    cache = edited(tiny, tmp_path / "c.h5", edit, reseal=False)
    assert_damaged(capsys, cache, f"it holds {words}, an attribute featcache does not write, so verify cannot vouch "
                   "for it; other commands never read it", commands=("verify",))
    shown = run_main(capsys, "info", "--json", str(cache))
    assert shown.returncode == 0 and "checked by Ana" not in shown.stdout, (shown.stdout, shown.stderr)
    proc = run_main(capsys, "train", str(cache), "--head", "logreg", "--out", str(tmp_path / "h.npz"))
    assert proc.returncode == 0 and (tmp_path / "h.npz").is_file(), proc.stderr


def _sealed_before_provenance_digests(f):
    """``f`` as a cache sealed before 2026-12-02: no provenance, features, per-dataset or completion digest, its
    content digest made without their marks (test_store's older cache)."""
    from featcache.store.layout import content_digest

    for name in ("provenance_digest", "features_digest", "dataset_digests", "completion_digest"):
        del f.attrs[name]
    f.attrs["content_digest"] = content_digest(f)


def test_a_root_attribute_featcache_does_not_write_fails_verify_on_a_cache_sealed_before_provenance_digests(
        tiny, tmp_path, capsys):
    """Regression (helper-281's brief): on a cache sealed before provenance digests (2026-12-02), which no digest of
    its root attributes covers, a root attribute featcache does not write (``f.attrs["note"]``) passed ``verify``
    as intact, where one on a newer cache is refused and one on its splits was too. Now as on a newer cache: verify
    refuses it in the same words; info (``--json`` too) and train never read or show it, and go on."""
    older = edited(tiny, tmp_path / "older.h5", _sealed_before_provenance_digests, reseal=False)
    assert run_main(capsys, "verify", str(older)).returncode == 0  # the older cache itself is intact
    cache = edited(older, tmp_path / "c.h5", _root_attribute, reseal=False)
    assert_damaged(capsys, cache, "it holds the root attribute 'note', an attribute featcache does not write, so verify "
                   "cannot vouch for it; other commands never read it", commands=("verify",))
    shown = run_main(capsys, "info", "--json", str(cache))
    assert shown.returncode == 0 and "checked by Ana" not in shown.stdout, (shown.stdout, shown.stderr)
    proc = run_main(capsys, "train", str(cache), "--head", "logreg", "--out", str(tmp_path / "h.npz"))
    assert proc.returncode == 0 and (tmp_path / "h.npz").is_file(), proc.stderr


def test_an_attribute_featcache_writes_added_after_the_seal_is_still_refused(tiny, tmp_path, capsys):
    """``runtimes`` (which info shows: the runtimes that made a resumed cache's rows) added to a sealed cache is no
    unknown attribute to leave out: every reader refuses it as the provenance digest's mismatch."""
    cache = edited(tiny, tmp_path / "c.h5", lambda f: f.attrs.__setitem__("runtimes", json.dumps(["openvino"])),
                   reseal=False)
    assert_damaged(capsys, cache, "provenance digest mismatch", commands=("info", "verify", "train"))


@pytest.mark.parametrize("where, make, kind", [("train/extra", _dataset, "a dataset"), ("test/notes", _group, "a group")])
def test_an_object_featcache_does_not_write_in_a_split_fails_verify_and_is_ignored_by_readers(
        tiny, tmp_path, capsys, where, make, kind):
    """Regression (helper-255): ``train/extra`` added as a dataset was read by nothing and ``verify`` said "intact
    ... 8 datasets". verify vouches for the whole file, so it refuses one line naming the object; train and info,
    which never read it and whose reads are checked, go on (docs/guarantees.md)."""
    cache = edited(tiny, tmp_path / "c.h5", lambda f: make(f, where), reseal=False)
    assert_damaged(capsys, cache, f"it holds {where}, {kind} featcache does not write, so verify cannot vouch for it",
                   commands=("verify",))
    assert run_main(capsys, "info", str(cache)).returncode == 0
    proc = run_main(capsys, "train", str(cache), "--head", "logreg", "--out", str(tmp_path / "h.npz"))
    assert proc.returncode == 0 and (tmp_path / "h.npz").is_file(), proc.stderr


def test_features_rewritten_in_another_dtype_are_said_by_info_as_by_verify(tiny, tmp_path, capsys):
    """Regression (helper-255): a cache's float32 features rewritten as float16 (chunked, with Fletcher-32, as the
    writer makes them) were refused by verify ("rewritten or moved") and train, while ``info`` said nothing, exit 0.
    Every open compares each features dataset's type with the cache's ``dtype`` attribute: one line, read nothing."""
    def edit(f):
        name = "test/features/out_relu"
        values = f[name][()]
        del f[name]
        f.create_dataset(name, data=values.astype(np.float16), chunks=(min(64, len(values)), values.shape[1]),
                         fletcher32=True)

    cache = edited(tiny, tmp_path / "c.h5", edit, reseal=False)
    assert_damaged(capsys, cache, "test/features/out_relu holds float16 values, where its attribute 'dtype' says float32",
                   commands=("info", "verify", "train"))


@pytest.mark.parametrize("make", ["fashion", "fashion_views", "photos"])
def test_every_attribute_featcache_writes_is_one_layout_knows(make, tmp_path):
    """``layout.ROOT_ATTRS`` and ``SPLIT_ATTRS`` name every attribute extract writes: one it wrote outside them would
    be taken for a user's own once another is added (``unsealed_attributes`` leaves them all out together, and the
    cache would be the provenance mismatch again), and ``verify`` refuses any split attribute outside ``SPLIT_ATTRS``.
    Checked on caches extract made (a review: the two lists were written by hand, no test held them to the writer)."""
    import h5py

    from featcache.store.layout import ROOT_ATTRS, SPLIT_ATTRS, split_names
    from helpers import tiny_fashion_cache, tiny_photo_cache

    cache = (tiny_photo_cache(tmp_path) if make == "photos"
             else tiny_fashion_cache(tmp_path, views="orig,flip" if make == "fashion_views" else None))
    with h5py.File(cache, "r") as f:
        assert set(f.attrs) - ROOT_ATTRS == set()
        splits = split_names(f)
        assert splits and all(set(f[s].attrs) <= set(SPLIT_ATTRS) for s in splits)
