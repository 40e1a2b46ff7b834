"""Any file featcache writes, whichever stage wrote it: a cache (store), a head (heads) or a model (deploy).

``verify(path)`` and ``info(path)`` are ``featcache verify`` and ``featcache info``: they tell the three kinds
apart and hand each to its stage's reader. They lived in the CLI, so the API's ``featcache.verify`` took caches
alone ("not a readable HDF5 file" of a head the CLI verified) and the API had no ``info`` (a new-user tester).
"""

from __future__ import annotations


import os
import time
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from featcache.errors import FeatcacheError, NotHDF5, command, command_word, one_line, shell_path
from featcache.store.atomic import stat_stamp
from featcache.store.reader import VerifyResult
from featcache.validate import MADE_AS_READ, check_size, check_source, made_as_read, starts_with

def what() -> str:
    """What verify and info take, each kind with the command or call that writes it (``errors.command``)."""
    return (f"a cache ({command('extract')}), a head ({command('train')}) or a model ({command('export')}, "
            f"{command('finetune')})")


def verify_what() -> str:
    """What verify takes besides: the generic line named caches, heads and models alone, though verify checks reports
    too (a new-user tester)."""
    return (f"a cache ({command('extract')}), a head ({command('train')}), a model ({command('export')}, "
            f"{command('finetune')}), a report's record (curve.json, probe.json, evaluation.json, lesson.json) or a "
            f"predictions CSV ({command('predict', '--csv', '..., csv=...')})")

if TYPE_CHECKING:
    from featcache.deploy.predict import CsvModel

# The records a report folder holds (``validate.REPORT_DIGESTS``), each beside the files it lists: curve's, probe's,
# evaluate's and the lesson's. A curve.json vouches for curve.csv too, whose rows carry their own checksums.
REPORT_RECORDS = ("curve.json", "probe.json", "evaluation.json", "lesson.json")


def zip_kind(path: str | Path) -> str | None:
    """``"head"`` or ``"model"`` for a zip file featcache wrote as one (``heads.io.file_kind``; where its record's kind
    was edited to name neither, what its network is: ``edited`` says so); None for anything
    else, which a cache's reader takes (and names, if it is no cache). Only a regular file is opened: a FIFO would
    wait forever. A damaged head or model is one line, not "not a readable HDF5 file ... pass a cache"."""
    from featcache.heads.io import UNREADABLE_ZIP, damaged_line, damaged_zip, edited, file_kind, network_kind

    p = Path(path)
    is_zip = p.is_file() and zipfile.is_zipfile(p)
    kind = file_kind(p) if is_zip else None
    if kind is None and (damage := damaged_zip(p)) is not None:
        raise FeatcacheError(damaged_line(p, damage[0]))
    if kind is None and not is_zip and p.is_file() and starts_with(p, b"PK\x03\x04"):  # 'PK\x03\x04' and then junk: a cut zip
        raise FeatcacheError(f"{p} {UNREADABLE_ZIP} (damaged or cut short); if it was a head, train it again; if a model, export it again")  # it was "not a readable HDF5 file" (an adversarial tester)
    if kind is None and is_zip and edited(p) is not None:  # its record names no kind: edited's reading of it too
        # featcache's head or model whose record's kind was edited to name neither ('xyz', or none): what its network
        # is, which verify refuses and info describes with the loaders' line (it was "another program's" zip)
        kind = network_kind(p)
    if kind is None and is_zip:  # it was "not a readable HDF5 file (file signature not found)" (a second tester)
        raise FeatcacheError(f"{p} is a zip file (a Keras model of another program?) that featcache did not write as a "
                             f"head or model; pass {what()}")
    return kind


def not_ours(path: Path, given: str, not_hdf5: NotHDF5, kinds: str | None = None) -> FeatcacheError:
    """The line info and verify give for a file that is neither a cache, a head nor a model (``not_hdf5``: what HDF5
    said of it), nor one a record vouches for. A file that never was HDF5 (a curve.csv, probe.json or .png) is said
    so: h5py's "Unable to synchronously open file (file signature not found)" read as a fault in it (a new-user
    tester); one that was is left in HDF5's words, with the kinds to pass (``kinds``, default ``what()``: info named
    caches alone; a tester)."""
    kinds = what() if kinds is None else kinds
    if not starts_with(path, b"\x89HDF\r\n\x1a\n"):
        for name in REPORT_RECORDS:  # a report's file beside a FIFO at its record's name was "none of the files
            record = path.parent / name  # featcache describes" (an adversarial tester): said what stands there
            if record != path and (stands := stands_as(record)) is not None:
                return FeatcacheError(f"{given} is vouched for by no record: {record} beside it, where featcache keeps "
                                      f"a report's record, is {stands}; if {given} is a file of that report, move "
                                      f"{record} away, then {_write_again()}")
        return FeatcacheError(f"{given} is none of the files featcache describes (not an HDF5 cache, nor a head's or "
                              f"model's zip, nor a report's file or predictions CSV featcache keeps a record of); pass "
                              f"{kinds}")
    return not_hdf5.with_hint(f"pass {kinds}")


def listed_by(path: Path) -> tuple[Path, dict[str, Any]] | None:
    """The report's record beside ``path`` that lists it (``REPORT_RECORDS``) and its document (``report_record``:
    verify checks the report with it, not read again), else None: a curve.csv, probe.png or confusion.png was "none of
    the files featcache describes" though its record vouches for it (a new-user tester)."""
    from featcache.validate import REPORT_DIGESTS

    for name in REPORT_RECORDS:
        record = path.parent / name
        doc = report_record(record) if record != path else None
        if doc is not None and (path.name in doc[REPORT_DIGESTS] or (name == "curve.json" and path.name == "curve.csv")):
            return record, doc
    return None


@dataclass(frozen=True)
class CsvRecordBeside:
    """What is beside the file a CSV leads to (``target``: ``deploy.predict.csv_target``), read once
    (``deploy.predict.read_csv_record``): its ``record`` (None: none) and the SHA-256s that record accepts
    (``digests``; None where it is damaged or edited, or there is none). verify of a CSV no record vouches for
    read the record up to three times (a review)."""

    target: Path
    record: Path | None
    digests: list[str] | None
    # What stands at the record's name where it holds no record of this CSV (``_at_record_name``), None where nothing
    # does (or the record was found): a FIFO, folder or empty file there was called "no record ... beside it"
    found: RecordNameHolds | None = None

    @property
    def damaged(self) -> Path | None:
        """The record where it is featcache's record of the CSV but vouches for nothing: its ``sha256`` is not what
        ``predict._write_record`` writes (``predict._valid_digests``), damaged or edited."""
        return self.record if self.digests is None else None


@dataclass(frozen=True)
class RecordNameHolds:
    """What stands at the name of a predictions CSV's record (``slot``: ``deploy.predict.csv_record_path``) that is
    no record of it: ``words`` say what ("a FIFO, not a record", "featcache's record of out.csv, ..."); ``in_the_way``:
    a rerun refuses to replace it (``predict._check_record_slot``), so the fix moves it away first."""

    slot: Path
    words: str
    in_the_way: bool
    fix: str | None = None  # the way out where it is no rerun: a record that cannot be read (its permissions)


def record_beside(path: Path) -> CsvRecordBeside:
    """``CsvRecordBeside`` of the CSV ``path``."""
    from featcache.deploy.predict import csv_target, read_csv_record

    target = csv_target(path)
    record, digests = read_csv_record(target) or (None, None)
    return CsvRecordBeside(target, record, digests, _at_record_name(target) if record is None else None)


# What ``stands_as`` says of an empty regular file.
EMPTY = "empty (0 bytes)"


def stands_as(path: Path) -> str | None:
    """What stands at ``path`` where a file of featcache's should be and none is, from its ``stat`` alone (nothing
    opened: a FIFO would wait for good): a link to a file that is gone (its target as the link holds it), a loop of
    links, a folder, a FIFO, a socket or a device (through a link, the link's target named), or an empty file
    (``EMPTY``); None for a regular file with bytes in it (a kernel-made one too), or nothing there at all, or what
    cannot be looked at (a link into a folder the user may not enter: not "gone", as it was said; a review): the
    checks that read it then say permission denied."""
    import errno
    import stat

    from featcache.validate import kind_of_mode

    if not os.path.lexists(path):
        return None
    try:
        link = os.readlink(path) if path.is_symlink() else None
    except OSError:
        link = "?"
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a loop of symbolic links"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR) and link is not None:
            return f"a link to {link}, which is gone"
        return None
    if stat.S_ISREG(st.st_mode):
        return EMPTY if st.st_size == 0 and not made_as_read(path) else None
    kind = kind_of_mode(st.st_mode)
    return kind if link is None else f"a link to {link}, {kind}"


def _at_record_name(target: Path) -> RecordNameHolds | None:
    """What stands at the record's name of the CSV ``target`` (a file, not a link: ``csv_target``'s) where the record
    read found none of it (``read_csv_record``), else None (nothing there). A FIFO, a link to /dev/zero, a folder
    or an empty file there was said to be "no record of featcache's beside it", as if nothing were there; a record
    copied with the CSV under a new name, which names the CSV it was written for, the same (an adversarial tester).
    A record vouches only for the CSV it names, as a rerun reads it (``predict._read_record``)."""
    from featcache.deploy.predict import csv_record_path, read_any_record

    slot = csv_record_path(target)
    if (denied := _not_readable(slot)) is not None:  # "a file that is not featcache's record" of one it may not read
        return RecordNameHolds(slot, denied, False, f"check its permissions, then run the same {command_word()} again")
    stands = stands_as(slot)
    if stands is not None:  # a link to /dev/zero, a FIFO, a folder: the rerun refuses each; an empty file it replaces
        return RecordNameHolds(slot, f"{stands}, not a record", stands != EMPTY)
    if not os.path.lexists(slot):
        return None
    other = read_any_record(slot)
    if other is None:  # a file of the user's, never replaced
        return RecordNameHolds(slot, "a file that is not featcache's record", True)
    name, digests = other
    if name == target.name:  # its own record, put there since read_csv_record found none: no other thing to name
        return None
    whose = f"featcache's record of {name}" if name else "featcache's record of a CSV it does not name (its csv field edited)"
    same = digests is not None and _sha256_of(target) in digests
    how = (f", copied or renamed with it ({target.name}'s SHA-256 is the one that record holds)" if same else
           f" ({target.name}'s SHA-256 is not the one it holds either)")
    # a link there is refused by a rerun, whichever record it leads to (``predict._check_record_slot``)
    return RecordNameHolds(slot, f"{whose}{how}, and a record vouches only for the CSV it names", slot.is_symlink())


def _not_readable(path: Path) -> str | None:
    """"not readable (permission denied)" where ``path`` (a link followed) is there but may not be looked at or read,
    else None; nothing is opened but a regular file (a FIFO would block)."""
    import stat

    if not os.path.lexists(path):
        return None
    try:
        st = os.stat(path)
        if stat.S_ISREG(st.st_mode):
            with open(path, "rb"):
                pass
    except PermissionError:
        return "not readable (permission denied)"
    except OSError:
        return None
    return None


def _sha256_of(path: Path) -> str | None:
    """The SHA-256 of the regular file ``path``, None where it cannot be read."""
    from featcache.validate import file_sha256

    try:
        return file_sha256(path) if path.is_file() else None
    except OSError:
        return None


def predictions_csv(path: Path) -> tuple[tuple[Path, Path, list[str] | None] | None, CsvRecordBeside | None]:
    """``(found, beside)``. ``found``: ``(csv, record, digests)`` where ``path`` is a predictions CSV with featcache's
    record beside it (``.NAME.featcache``; ``digests``: the SHA-256s that record accepts, as read, which verify checks
    the CSV against), or that hidden record itself (``digests`` None: the CSV's record is read as a rerun reads it,
    ``recorded_csv``); else None (a CSV whose record is damaged too: ``unvouched_csv_line``). ``beside``: the record
    beside ``path`` as read (``record_beside``; None where ``path`` is a record), which the lines of a CSV no record
    vouches for take rather than read it again."""
    from featcache.deploy.predict import csv_of_record

    csv = csv_of_record(path)
    if csv is not None:
        return (csv, path, None), None
    beside = record_beside(path)
    return (None if beside.digests is None else (path, beside.record, beside.digests)), beside


def check_csv_there(csv: Path, record: Path) -> None:
    """The predictions CSV ``record`` vouches for is a regular file (links followed), or one line: gone, or something
    else there now. Given the record, info opened a folder there (a traceback), or a FIFO or a link to /dev/zero,
    and waited for good; verify called a folder or a FIFO "gone" (helper-349)."""
    from featcache.deploy.predict import rerun_csv_words

    if csv.is_file():
        return
    # a link whose target is gone was "is gone", though the link is there (an adversarial tester): said, with where it led
    # (one that cannot be followed, into a folder the user may not enter, is no "None": stands_as says nothing of it)
    what = (f"is {stands_as(csv) or 'a link that cannot be followed (check its permissions)'}"
            if os.path.islink(csv) and not csv.exists() else "is gone" if not csv.exists() else
            "is a folder now" if csv.is_dir() else "is no longer a regular file (a FIFO, socket or device now)")
    raise FeatcacheError(f"{csv}, the predictions CSV its record {record} vouches for, {what}; run {rerun_csv_words()}")


def recorded_csv(csv: Path) -> tuple[Path, list[str]]:
    """The record that vouches for the predictions CSV ``csv`` (beside the file it leads to, ``csv_target``) and the
    SHA-256s it accepts, read as a rerun's ``check_csv`` reads it; where there is none, or it is damaged, the line
    saying so (``unvouched_csv_line``). Given its hidden record, verify said "ok" where this found none, the CSV
    never checked: a record whose sha256 was edited, or one beside a link whose target has none (a helper's find)."""
    beside = record_beside(csv)
    if beside.record is None or beside.digests is None:
        raise FeatcacheError(unvouched_csv_line(csv, str(csv), beside))
    return beside.record, beside.digests


# What verify found of the model a predictions CSV's record names (``check_csv_model``): the file there still has the
# content digest recorded; another digest there (exported again, or replaced); damaged; no such file at the recorded
# path nor beside the CSV; recorded without a digest (a model saved before model digests); a record that names no
# model (written before 2026-12-06). Only the first is a check made; none fails verify: the CSV is intact all the same.
MODEL_SAME, MODEL_OTHER, MODEL_DAMAGED = "same", "other", "damaged"
MODEL_NOT_FOUND, MODEL_NO_DIGEST, MODEL_UNRECORDED = "not found", "no digest", "unrecorded"
NO_MODEL_NAMED = "written by a featcache before 2026-12-06, or its model entry edited"  # why a record names none


def check_csv_model(target: Path, made_by: CsvModel | None) -> tuple[str, Path | None]:
    """``(status, file)``: whether the model ``made_by`` names (a predictions CSV's record's, ``deploy.predict.CsvModel``)
    still has the content digest recorded, checked at its recorded path and beside the CSV (``target``: the file the
    CSV is), the first that has it; else what the first model file found there is (``MODEL_*``), or that none is."""
    from featcache.heads.io import DIGEST_KEY, check_digest

    if made_by is None:
        return MODEL_UNRECORDED, None
    found = [f for f in dict.fromkeys((Path(made_by.path), target.parent / made_by.file)) if f.is_file()]  # no FIFO opened
    if not found:
        return MODEL_NOT_FOUND, None
    if made_by.content_digest is None:
        return MODEL_NO_DIGEST, found[0]
    statuses = []
    for f in found:
        try:
            # the whole file against its digest, as verify of a model checks it; a damaged one is said as such
            checked, meta = check_digest(f, lambda _, why: FeatcacheError(why))
        except (FeatcacheError, OSError):
            # a file that never was a zip is another file, not the model damaged: "damaged or changed since it was
            # saved" was said of a text file there (a reviewer, 2026-12-06); a zip's start, cut or edited after, is
            statuses.append(MODEL_DAMAGED if starts_with(f, b"PK\x03\x04") else MODEL_OTHER)
            continue
        if checked and isinstance(meta, dict) and meta.get(DIGEST_KEY) == made_by.content_digest:
            return MODEL_SAME, f
        # None: its metadata does not read (damaged); False: a model without a digest, so not the one recorded with one
        statuses.append(MODEL_DAMAGED if checked is None else MODEL_OTHER)
    return statuses[0], found[0]


def model_words(made_by: CsvModel | None, status: str, checked: Path | None) -> str:
    """What verify says of the model that made a predictions CSV (``check_csv_model``'s ``status`` of the file
    ``checked``)."""
    if made_by is None:
        return f"its record does not name the model that made it ({NO_MODEL_NAMED}), so that cannot be checked"
    digest = f"content digest {made_by.content_digest[:12]}" if made_by.content_digest else "no content digest"
    return {
        MODEL_SAME: f"the model that made it, {checked}, still has the {digest} its record holds",
        MODEL_OTHER: f"the model file {checked} is not the one that made it (its record holds {digest}: exported "
                     "again or replaced since)",
        MODEL_DAMAGED: f"the model file {checked} is damaged or was changed since it was saved, so the model that made "
                       "it cannot be checked",
        MODEL_NOT_FOUND: f"the model that made it ({made_by.file}) is neither at {made_by.path} nor beside it, so it "
                         "cannot be checked",
        MODEL_NO_DIGEST: f"the model that made it ({made_by.file}) carried no content digest (saved before "
                         "2026-12-03), so it cannot be checked",
    }[status]


def verify_listed(path: Path) -> ReportVerifyResult | CsvVerifyResult | None:
    """``verify`` of a file that is neither a cache, a head, a model nor a record: a predictions CSV (or its hidden
    record) checked against that record, a report's file through the record that lists it; None for any other."""
    from featcache.deploy.predict import check_csv_digests, csv_model, csv_target

    t0 = time.perf_counter()
    found, beside = predictions_csv(path)
    if found is not None:
        csv, record, digests = found
        check_csv_there(csv, record)
        if digests is None:  # given the hidden record: the one that vouches for the CSV, or a line (never "ok")
            record, digests = recorded_csv(csv)
        # else the record predictions_csv read: not read and parsed a second time
        check_csv_digests(csv, record, digests)
        made_by = csv_model(record)
        status, checked = check_csv_model(csv_target(csv), made_by)
        return CsvVerifyResult(csv, record, csv.stat().st_size, time.perf_counter() - t0, made_by, status, checked)
    listed = listed_by(path)
    if listed is not None:
        return verify_report(*listed, given=path)
    if beside is not None and (line := unvouched_line(path, str(path), beside)) is not None:  # None: a record
        raise FeatcacheError(line)
    return None


def unvouched_line(path: Path, given: str, beside: CsvRecordBeside) -> str | None:
    """What verify and info say of a file that no record vouches for though one would (``unvouched_csv_line``): a
    predictions CSV in featcache's form, or any file whose record of featcache's is damaged; None for any other.
    ``beside``: the record beside ``path``, as read (``record_beside``)."""
    from featcache.deploy.predict import is_predictions_csv, read_any_record

    stray = read_any_record(path)
    if stray is not None:  # featcache's record, not at the record's name of the CSV it names (csv_of_record found none)
        return _stray_record_line(path, given, stray[0])
    if is_predictions_csv(path) or beside.damaged is not None:
        return unvouched_csv_line(path, given, beside)
    return None


def _stray_record_line(path: Path, given: str, name: str) -> str:
    """What verify and info say of featcache's record of the predictions CSV ``name`` under a name not that CSV's
    record's (copied or renamed with a CSV: 'cp .out.csv.featcache .new.csv.featcache' was "none of the files featcache
    describes"; an adversarial tester): where the CSV of its own name is a predictions CSV beside it, that CSV's line,
    as info and verify of it say it (``unvouched_csv_line``); else what it is, vouching for no file."""
    from featcache.deploy.predict import csv_record_path, is_predictions_csv, rerun_csv_words

    own = _csv_of_record_name(path)
    if own is not None and not own.is_symlink() and is_predictions_csv(own):  # a link's record is beside its target
        beside = record_beside(own)
        if beside.record is None:
            return unvouched_csv_line(own, str(own), beside)
    valid = bool(name) and Path(name).name == name and name not in (".", "..")
    whose = (f"featcache's record of the predictions CSV {name}, but not under that CSV's record's name "
             f"({csv_record_path(path.with_name(name)).name}: copied or renamed?)" if valid else
             "featcache's record of a predictions CSV it does not name (its csv field was edited)")
    return f"{given} is {whose}, so it vouches for no file; run {rerun_csv_words()} to have a CSV checked"


def unvouched_csv_line(path: Path, given: str, beside: CsvRecordBeside) -> str:
    """What verify and info say of a predictions CSV that no record of featcache's vouches for (``given``: ``path``
    as the user wrote it; ``beside``: the record beside it, as read): its record damaged or edited, or none beside
    the file it is (an older featcache's CSV, or one copied without it; info said "none of the files featcache
    describes" of it). A link's record is its target's, beside it, as predict writes it: the line named a record
    beside the link."""
    from featcache.deploy.predict import csv_record_path, rerun_csv_words

    if beside.damaged is not None:
        return (f"{beside.damaged}, featcache's record of the predictions CSV {given}, is damaged or was edited (its "
                f"sha256 field is not the one or two SHA-256s featcache writes), so {given} cannot be verified; run "
                f"{rerun_csv_words()} to have it checked")
    target = beside.target
    what = "a predictions CSV" if target == path else f"a link to {target}, a predictions CSV"
    if beside.found is not None:  # something at the record's name, which is no record of it: said what
        found = beside.found
        fix = f"run {rerun_csv_words()} to have it checked"
        fix = found.fix or (f"move {found.slot} away, then {fix}" if found.in_the_way else fix)
        return (f"{given} is {what}, but {found.slot}, where featcache keeps its record, is {found.words}, so {given} "
                f"cannot be verified; {fix}")
    return (f"{given} is {what} with no record of featcache's beside it ({csv_record_path(target).name}: an older "
            f"featcache's CSV, or one copied without it) and cannot be verified; run {rerun_csv_words()} to have it "
            "checked")


def report_file_info(path: Path, given: str) -> dict[str, Any] | None:
    """What ``info`` says of a predictions CSV with its record beside it, that record, or a report's file whose record
    lists it and is sealed (``info``'s document: ``kind``, ``record``, ``about``: its line); a CSV or file whose record
    is damaged or missing raises the line saying so (``unvouched_line``); None for any other file. info said "error:
    ... is a file of the report" and exit 2 of a report's confusion.png or a predictions CSV, files of ours as they
    should be (a new-user tester)."""
    found, beside = predictions_csv(path)
    if found is not None:
        csv, record, digests = found
        check_csv_there(csv, record)  # before it is opened: a FIFO there waited for good
        if digests is None:  # its hidden record: verify's line where none vouches for the CSV
            digests = recorded_csv(csv)[1]
        return _predictions_info(given, csv, record, record == path, digests)
    listed = listed_by(path)
    if listed is not None:
        record, doc = listed
        record_seal_check(record, doc)  # a record edited vouches for nothing: verify's line
        problem = report_problem(record, doc)
        return {"path": given, "kind": "report file", "record": str(record), "matches_record": problem is None,
                "problem": problem,
                "about": _lines(f"{given} is a file of the report {record} records (open it as it is); "
                                f"{_verify_words(record)} checks it and the report's other files", _problem_line(problem))}
    if beside is not None and (line := unvouched_line(path, given, beside)) is not None:  # None: a record (found above)
        raise FeatcacheError(line)
    return None


def _predictions_info(given: str, csv: Path, record: Path, is_record: bool, digests: list[str] | None) -> dict[str, Any]:
    """``report_file_info`` of a predictions CSV (``is_record``: of its record ``record``): what it holds, counted here,
    when it was last modified (the CSV's time), whether its SHA-256 is one its record accepts (``digests``; info called an
    edited CSV a predictions CSV without a word of it: a new-user tester), and the model that made it, as its record
    names it (a record of before 2026-12-06 holds the CSV's name and SHA-256 alone)."""
    import csv as csv_module
    from datetime import datetime

    from featcache.deploy.predict import csv_model
    from featcache.progress import counted

    with open(csv, newline="", encoding="utf-8", errors="replace") as f:  # a row per image after the header (write_csv);
        rows = max(sum(1 for _ in csv_module.reader(f)) - 1, 0)  # read as CSV: a quoted name may hold a newline
    # the file's own time: an edit or a plain cp moves it, and the record keeps none, so it is not called "written"
    # (that said the time of a user's edit as predict's; two testers)
    modified = datetime.fromtimestamp(csv.stat().st_mtime).astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")
    what = (f"featcache's record of the predictions CSV {csv} (its SHA-256)" if is_record else
            f"a predictions CSV (open it as it is; its SHA-256 is recorded in {record.name} beside it)")
    made_by = csv_model(record)
    matches = digests is None or _csv_matches(csv, record, digests)  # read whole above to count its rows: as cheap again
    check = (f"{_verify_words(csv)} checks it against that record" if matches else
             f"changed since featcache wrote it (its SHA-256 is not the one {record.name} records beside it; "
             f"{_verify_words(csv)} says so)")
    return {"path": given, "kind": "predictions record" if is_record else "predictions CSV", "record": str(record),
            "csv": str(csv), "rows": rows, "modified": modified, "matches_record": matches,
            "model": made_by.to_record() if made_by is not None else None,
            "about": _lines(f"{given} is {what}: {counted(rows, 'prediction')}, last modified {modified}; {check}",
                            _made_by_words(made_by))}


def _csv_matches(csv: Path, record: Path, digests: list[str]) -> bool:
    """Whether the predictions CSV's SHA-256 is one its record accepts: verify's check (``check_csv_digests``), asked."""
    from featcache.deploy.predict import check_csv_digests

    try:
        check_csv_digests(csv, record, digests)
    except FeatcacheError:
        return False
    return True


def _verify_words(path: object) -> str:
    """The verify of ``path`` that info's "about" line suggests, in the caller's words (``errors.command``), its path
    a word to paste (``shell_path``: 'featcache verify my dir/curve.json' was two words, as every suggested path is
    one since 782d464)."""
    return command("verify", shell_path(str(path)), repr(str(path)))


def _made_by_words(made_by: CsvModel | None) -> str:
    """info's line of the model that made a predictions CSV, as its record names it."""
    from featcache.validate import views_words

    if made_by is None:
        return f"made by a model its record does not name ({NO_MODEL_NAMED})"
    digest = f"content digest {made_by.content_digest}" if made_by.content_digest else "no content digest"
    return (f"made by the model {made_by.file} ({made_by.path}; {digest}), views {views_words(made_by.views)}, "
            f"run on {made_by.runtime}")


def report_problem(record: Path, doc: dict[str, Any]) -> str | None:
    """What verify would refuse in the report ``record`` (its ``doc`` as read) records, in verify's words; None where
    it is whole. info said of an edited evaluation.txt, a picture copied over confusion.png, an edited row of
    curve.csv and an unfinished curve only that they are the report's, where verify refuses each (helper-349 and
    helper-348). The files are a report's (a table, a picture, a few KB to a few MB): hashed at once."""
    try:
        verify_report(record, doc)
    except FeatcacheError as exc:
        return str(exc)
    return None


def _problem_line(problem: str | None) -> str | None:
    return None if problem is None else f"verify refuses it now: {problem}"


def _lines(*lines: str | None) -> str:
    """info's "about" text: its lines (None: none), each on one line whatever names it holds (``errors.one_line``), as
    info's other lines show them: joined first and split after by info, a file or folder name holding a newline was
    printed as two lines (an adversarial tester)."""
    return "\n".join(one_line(line) for line in lines if line is not None)


def report_record_info(path: Path, given: str, doc: dict[str, Any]) -> dict[str, Any]:
    """What ``info`` says of a report's record whose own digest matches (``record_seal_check``; an edited one is
    verify's line): what it is, and an evaluation's head, cache and accuracy, which it holds (it said "error: ... is
    a report's record" and exit 2 of a valid evaluation.json; a new-user tester)."""
    from featcache.validate import REPORT_DIGESTS

    record_seal_check(path, doc, given)
    problem = report_problem(path, doc)
    info = {"path": given, "kind": "report record", "record": given, "files": sorted(doc[REPORT_DIGESTS]),
            "matches_record": problem is None, "problem": problem}
    about = [f"{given} is a report's record (JSON: open it as it is); {_verify_words(given)} checks the report's files against it"]
    if path.name == "evaluation.json":
        # a model's names its model and folder (records since 2026-12-06 have no head, cache and split: a brief)
        scored = ("model", "folder") if _of_a_model(doc) else ("head", "cache", "split")
        info.update({k: doc.get(k) for k in (*scored, "layer", "accuracy")})
        if _of_a_model(doc):  # the photos scored, under evaluate's and extract's key: info --json had no count (a brief)
            info["images"] = doc["folder"].get("images")
            # what an SVM head's model's shares are, under evaluate's key (None: probabilities, or a report made before
            # 2026-12-06): info said neither of a report whose misclassified photos show "share 0.333" (a brief)
            info["values_words"] = doc.get("values_words")
        accuracy = doc.get("accuracy")
        if isinstance(accuracy, (int, float)) and not isinstance(accuracy, bool):
            about.append(f"{_evaluation_words(doc)}: accuracy {accuracy:.4f}")
            if isinstance(info.get("values_words"), str):
                about.append(_values_words_line(info["values_words"]))
            about.extend(_evaluation_warnings(doc))
    return {**info, "about": _lines(*about, _problem_line(problem))}


def _evaluation_words(doc: dict[str, Any]) -> str:
    """What an evaluation.json scored: a head on a cache's split, or (its "model" and "folder" records, evaluate
    MODEL FOLDER's) a model on a photo folder; info called the model a head and the folder a "folder split"
    (a reviewer)."""
    from featcache.progress import counted

    model, folder = doc.get("model"), doc.get("folder")
    if _of_a_model(doc):
        images = folder.get("images")
        count = f" ({counted(images, 'image')})" if isinstance(images, int) and not isinstance(images, bool) else ""
        return f"an evaluation of the model {model.get('path')} on the folder {folder.get('path')}{count}"
    return (f"an evaluation of the head {doc.get('head')} on the {doc.get('split')} split of {doc.get('cache')} "
            f"(layer {doc.get('layer')})")


def _values_words_line(words: str) -> str:
    """An SVM head's model's numbers, in predict's words of them (``cli.predict``'s note): its output where they are
    its decision alone (``deploy.model.ONE_VOTE``), else what its numbers are."""
    from featcache.deploy.model import ONE_VOTE

    said = f"its output is {words}" if words == ONE_VOTE else f"the numbers are {words}"
    return f"the model is an SVM head's model: {said}"


def _of_a_model(doc: dict[str, Any]) -> bool:
    """Whether an evaluation.json is evaluate MODEL FOLDER's: its "model" and "folder" records."""
    return isinstance(doc.get("model"), dict) and isinstance(doc.get("folder"), dict)


def _evaluation_warnings(doc: dict[str, Any]) -> list[str]:
    """The note and the line on scored images that were training images, as evaluate printed them and its report
    recorded them: info said "accuracy 1.0000" of a model scored on its own training photos without the warning
    (a reviewer)."""
    from featcache.analysis.evaluate import leakage_line

    lines = [f"note: {doc['note']}"] if isinstance(doc.get("note"), str) and doc["note"] else []
    overlap = doc.get("overlap")
    if isinstance(overlap, dict) and isinstance(overlap.get("seen"), int) and overlap["seen"] > 0:
        lines.append(leakage_line(overlap, "model" if _of_a_model(doc) else "head"))
    return lines


def check_any_file(path: Path) -> None:
    """What is not a file of any kind, named for all three kinds: a cache's reader said "cache not found: x.keras;
    run 'featcache extract' first" of a missing head, and "a folder, not a cache" (a session's note). A missing
    cache's name (``store.layout.is_cache_name``: ``.h5`` or ``.hdf5``, any case), or one being extracted, is left to
    the cache's reader, whose lines say how to make or finish one (a missing x.hdf5 was "not found: x.hdf5; check the
    path", where x.h5 was "cache not found ...; run 'featcache extract' first": only .h5 was compared)."""
    import os

    from featcache.heads.io import check_regular_file
    from featcache.store.layout import is_cache_name, partial_exists

    if (line := _in_place_of_ours(path)) is not None:
        raise FeatcacheError(line)
    if path.is_dir():
        # a report's folder (evaluate --out ev): verify takes its record, which checks every file (an adversarial tester)
        records = [path / name for name in REPORT_RECORDS if (path / name).is_file()]
        if records:
            raise FeatcacheError(f"{path} is a report's folder; pass its record, {records[0]}, to check the report, or "
                                 f"one of its files")
        raise FeatcacheError(f"{path} is a folder; pass {what()}")
    if path.is_file() and made_as_read(path):  # /proc/self/status was "is empty (0 bytes)" by its size (h309)
        raise FeatcacheError(f"{path} is {MADE_AS_READ}; pass {what()}")
    if path.is_file() and path.stat().st_size == 0:  # "not a readable HDF5 file (file signature not found)" before
        raise FeatcacheError(f"{path} is empty (0 bytes); pass {what()}")
    if is_cache_name(path) or partial_exists(path):
        return
    if os.path.islink(path) and not path.exists():  # a link to nothing: "point it at a cache" said the reader
        raise FeatcacheError(f"{path} is a symbolic link to nothing (or a loop of links); point it at {what()}")
    if not path.exists():
        raise FeatcacheError(f"not found: {path}; check the path (verify and info take {what()})")
    check_regular_file(path, "input", f"pass {what()}", "check the path")  # a FIFO (would wait forever), no permission


def _in_place_of_ours(path: Path) -> str | None:
    """The line for what stands at the name of a file featcache keeps a record of, where that is no regular file
    (``stands_as``: a FIFO, folder, device, link to nothing): a file a report's record lists, a report's record, a
    predictions CSV's record (an empty one too: a rerun replaces it), or a predictions CSV its record beside it names
    (``check_csv_there``'s line); else None. Each was the line of any such path ("is not a regular file (a FIFO,
    socket or device); pass a cache ..."; an adversarial tester). Records are read only where they are regular
    files (``report_record``, ``read_csv_record``): nothing that would block is opened."""
    from featcache.deploy.predict import read_csv_record, rerun_csv_words

    if path.name in ("", ".", ".."):  # '/', '.', './': folders; a record's name made of them was a ValueError (a review)
        return None
    stands = stands_as(path)
    if stands is None:
        return None
    if stands == EMPTY and path.name in REPORT_RECORDS and path.parent.is_dir():  # no record: "pass a cache" was said
        return (f"{path} is empty (0 bytes), not a report's record (featcache writes {path.name} whole, last); move it "
                f"away, then {_write_again()}")
    if stands != EMPTY:  # an emptied file of a report or CSV is one changed since, which the checks below say
        if (listed := listed_by(path)) is not None:  # as verify of its record says it (``_verified_files``)
            return f"{path}, a file of the report {listed[0]} records, is {stands} now; move it away, then {_write_again()}"
        if path.name in REPORT_RECORDS:
            return (f"{path} is {stands}, not a report's record (featcache writes {path.name} as a regular file); move "
                    f"it away, then {_write_again()}")
        if (found := read_csv_record(path)) is not None:
            try:
                check_csv_there(path, found[0])
            except FeatcacheError as exc:
                return str(exc)
    csv = _csv_of_record_name(path)
    if csv is not None:  # the rerun replaces an empty record, and refuses anything else there (_check_record_slot)
        fix = f"run {rerun_csv_words()} to have {csv} checked"
        return (f"{path} is {stands}, where featcache's record of the predictions CSV {csv} should be; "
                f"{fix if stands == EMPTY else f'move it away, then {fix}'}")
    return None


def _csv_of_record_name(path: Path) -> Path | None:
    """The regular file beside ``path`` whose record's name ``path`` is (``.NAME.featcache``: NAME), else None."""
    from featcache.deploy.predict import csv_record_path

    name = path.name
    if not (name.startswith(".") and name.endswith(".featcache")) or len(name) <= len("..featcache"):
        return None
    csv = path.with_name(name[1:-len(".featcache")])
    return csv if csv.name not in (".", "..") and csv_record_path(csv) == path and csv.is_file() else None


@dataclass(frozen=True)
class FileVerifyResult:
    """What ``verify`` checked of a head or model file: its content digest, over ``bytes_read`` bytes."""

    path: Path
    kind: str  # "head" or "model"
    format_version: int
    bytes_read: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "ok": True, "kind": self.kind, "format_version": self.format_version,
                "content_digest": True, "bytes_read": self.bytes_read, "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class CsvVerifyResult:
    """What ``verify`` checked of a predictions CSV (``featcache predict --csv``): its SHA-256 against its record."""

    path: Path
    record: Path  # the hidden .NAME.featcache beside it
    bytes_read: int
    seconds: float
    model: CsvModel | None = None  # the model that made it, as its record names it (None: a record of before 2026-12-06)
    model_check: str = MODEL_UNRECORDED  # what was found of that model (check_csv_model's MODEL_*)
    model_file: Path | None = None  # the model file checked

    @property
    def model_line(self) -> str:
        """What verify says of the model that made the CSV (``model_words``)."""
        return model_words(self.model, self.model_check, self.model_file)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "ok": True, "kind": "predictions csv", "record": str(self.record),
                "bytes_read": self.bytes_read, "seconds": round(self.seconds, 3),
                "model": self.model.to_record() if self.model is not None else None, "model_check": self.model_check,
                "model_file": str(self.model_file) if self.model_file is not None else None}


@dataclass(frozen=True)
class ReportVerifyResult:
    """What ``verify`` checked of a report's record (evaluation.json, probe.json, curve.json, lesson.json): its own
    seal and the SHA-256 of each file it lists beside it (and a curve's checksummed rows)."""

    path: Path
    files: tuple[str, ...]  # the report's files checked against the record, by name
    seconds: float
    given: Path | None = None  # the report's file verify was given, checked through this record (``listed_by``)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "ok": True, "kind": "report", "files": list(self.files),
                "seconds": round(self.seconds, 3), **({"given": str(self.given)} if self.given is not None else {})}


def report_record(path: Path) -> dict[str, Any] | None:
    """The document of a report's record (a JSON file that lists its report's files' digests), else None. Small
    files only: a record is a few KB, and anything else given here is not one."""
    import json

    from featcache.validate import REPORT_DIGESTS

    if path.suffix.lower() != ".json" or not path.is_file() or path.stat().st_size > 64 * 2**20:
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get(REPORT_DIGESTS), dict) else None


def record_seal_check(path: Path, doc: dict[str, Any], given: str | None = None) -> None:
    """A report's record ``doc`` (read from ``path``, named ``given`` where the user wrote it otherwise) sealed as
    featcache sealed it (its own digest), or the line saying it was changed: verify's check, and info's."""
    from featcache.validate import RECORD_DIGEST, record_seal

    name = given or path
    # A record listing its files' digests but not its own is refused, as a rerun over it refuses it
    # (validate.recorded_digests): taken as "written before seals", one with its numbers edited and its digest
    # deleted passed (a tester). Records were sealed a few hours after they first listed digests (2026-12-03).
    if RECORD_DIGEST not in doc:
        raise FeatcacheError(f"{name} has no digest of its own: it was changed since featcache wrote it (or written on "
                             f"2026-12-03 before records were sealed); {_write_again()}")
    if doc[RECORD_DIGEST] != record_seal(doc):
        raise FeatcacheError(f"{name} was changed since featcache wrote it (its own digest does not match); "
                             f"{_write_again()}")


def _write_again() -> str:
    """The fix of a report changed since featcache wrote it, in the caller's words (``command_word``): "run the command
    that wrote the report again" was said to Python callers too, who ran a call (a brief, helper-297)."""
    return f"run the {command_word()} that wrote the report again"


def _is_file_name(name: str) -> bool:
    """Whether a report's record lists ``name`` as a file beside it: a bare name, no path."""
    return Path(name).name == name and name not in ("", ".", "..")


def _check_not_killed_midway(path: Path, doc: dict[str, Any]) -> None:
    """One line where a featcache run writing the report ``path`` records was killed midway: its files are then
    half old, half new (a file "changed since featcache wrote it" was the line, blaming the user; helper-351), and the
    command that wrote the report puts the old one back first."""
    from featcache.paths import killed_midway
    from featcache.validate import REPORT_DIGESTS

    names = [str(n) for n in doc[REPORT_DIGESTS] if _is_file_name(str(n))]
    extra = ["curve.csv"] if path.name == "curve.json" else []
    pid = killed_midway([path, *(path.parent / n for n in [*names, *extra])])
    if pid is not None:
        raise FeatcacheError(f"{path.parent} holds a report that a featcache run (pid {pid}) was killed while "
                             f"writing: its files are part old, part new; {_write_again()}: it puts the old report back "
                             "first, then writes the new one")


def _verified_files(path: Path, doc: dict[str, Any]) -> list[str]:
    """``verify_report``'s check of the files the report ``path`` records (``doc``), one line at the first that is
    not as featcache wrote it; the names checked."""
    from featcache.validate import REPORT_DIGESTS, file_sha256

    names = []
    for name, digest in doc[REPORT_DIGESTS].items():
        f = path.parent / str(name)
        if not _is_file_name(str(name)):  # only files beside it (a tester: /etc/passwd)
            raise FeatcacheError(f"{path} lists {name!r}, which is no file of a report beside it; "
                                 f"{_write_again()}")
        if os.path.lexists(f) and not f.is_file():
            raise FeatcacheError(f"{f}, a file of the report {path.name} records, is not a regular file now; "
                                 f"{_write_again()}")
        if not f.is_file():
            raise FeatcacheError(f"{f}, a file of the report {path.name} records, is gone; "
                                 f"{_write_again()}")
        if file_sha256(f) != digest:
            raise FeatcacheError(f"{f} was changed since featcache wrote it (its SHA-256 is not the one {path.name} "
                                 f"records); {_write_again()}")
        names.append(str(name))
    if path.name == "curve.json":
        from featcache.analysis.curve.folder import load_curve, unfinished

        rows = 0
        if (path.parent / "curve.csv").is_file():  # its rows carry their own checksums
            rows = len(load_curve(path.parent / "curve.csv").rows)
            names.append("curve.csv")
        why = unfinished(path, doc, rows)  # intact, but not a whole curve: not ok (its damage said first, above)
        if why is not None:
            raise FeatcacheError(why)
    return names


def verify_report(path: Path, doc: dict[str, Any], given: Path | None = None) -> ReportVerifyResult:
    """A report as featcache wrote it: the record's seal, each file it lists there and unchanged, a curve's rows
    with their checksums. ``info`` and ``verify`` refused a curve.json or lesson.json although each records what
    vouches for its report (a new-user tester). ``given``: the report's file verify was given (``listed_by``)."""
    t0 = time.perf_counter()
    record_seal_check(path, doc)
    try:
        names = _verified_files(path, doc)
    except FeatcacheError:
        _check_not_killed_midway(path, doc)  # a killed run's half-written report is said so, not the user's change
        raise
    return ReportVerifyResult(path, tuple(names), time.perf_counter() - t0, given)


def verify(path: str | Path) -> VerifyResult | FileVerifyResult | ReportVerifyResult | CsvVerifyResult:
    """Check the file at ``path`` as ``featcache verify`` does: a cache's every chunk and digests
    (``store.reader.verify``), a head's or model's content digest, a report's record and the files it lists (given
    one of those files, through its record), or a predictions CSV against its record. Raises a FeatcacheError naming
    the damage.
    A file saved before 2026-12-03 has no digest and cannot be verified: that is an error too."""
    path = check_source(path, "path", what())
    check_any_file(path)
    with one_file(path, "verified"):
        return _verify(path)


def _stamp(path: Path) -> tuple[int, ...] | None:
    """Which file is at ``path`` now, and which version of it (``store.atomic.stat_stamp``, ctime included: a file
    rewritten in place with its mtime set back is another); None where there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return stat_stamp(st)


@contextmanager
def one_file(path: Path, doing: str) -> Iterator[None]:
    """The checks made inside, each of which opens ``path`` again (its kind, size, record, content digest, what the
    loaders check past it), were all of one file: the one there before them, unchanged after them, else
    ``deploy.model.changed_meanwhile``'s line (``doing``: "verified", "read"), in place of the checks' own answer.
    A file replaced between two of them was said in parts of each: verify's "ok: intact" of a model whose digest was
    checked in the file there first and whose training-image digests in the one put there then, and info's "digest
    checked" beside the record of the head put there after the check (helper-311's brief)."""
    from featcache.deploy.model import changed_meanwhile

    before = _stamp(path)
    try:
        yield
    except FeatcacheError:  # a refusal of the file put there meanwhile, or of a mix of both: not the file's fault
        if _stamp(path) != before:
            raise FeatcacheError(changed_meanwhile(path, doing)) from None
        raise
    if _stamp(path) != before:
        raise FeatcacheError(changed_meanwhile(path, doing))


def _verify(path: Path) -> VerifyResult | FileVerifyResult | ReportVerifyResult | CsvVerifyResult:
    """``verify``'s checks of the file at ``path`` (checked as a source), within ``one_file``."""
    doc = report_record(path)
    if doc is not None:
        return verify_report(path, doc)
    kind = zip_kind(path)
    if kind is None:
        from featcache.store.reader import verify as verify_cache

        try:
            return verify_cache(path)
        except NotHDF5 as exc:  # verify takes heads and models too: "pass a cache" alone sent a new user elsewhere
            not_hdf5 = exc  # outside the handler: a line of the checks below must not chain onto this one
        listed = verify_listed(path)
        if listed is not None:
            return listed
        raise not_ours(path, str(path), not_hdf5, verify_what())
    t0 = time.perf_counter()
    check_loadable_size(path, kind)
    # A record whose kind says one thing and the network another is refused by every loader before its digest is
    # checked: verify said "ok: intact (model)" of a head whose kind was edited to a model's, its digest remade
    from featcache.heads.io import edited

    if (why := edited(path)) is not None:
        raise why
    checked, meta = _checked_meta(path, kind)
    if not checked:  # nothing checked is no "ok": verify of an unchecked cache is refused too (an adversarial tester)
        from featcache.deploy.model import reexport
        from featcache.heads.io import retrain

        raise FeatcacheError(f"{path} is a {kind} of format {meta.get('format_version', 1)} without a content digest "
                             "(saved before 2026-12-03, or its digest was removed) and cannot be verified; "
                             f"{retrain() if kind == 'head' else reexport()} to have it checked")
    _check_loads(path, kind, meta)
    return FileVerifyResult(path, kind, int(meta.get("format_version", 1)), path.stat().st_size, time.perf_counter() - t0)


def check_loadable_size(path: Path, kind: str) -> None:
    """A head or model (``kind``) past the size of any featcache writes is refused, as its loaders refuse it unread
    (``heads.io.MAX_FILE_BYTES``): verify said "ok: intact (model), 4096 MB read" of a model padded to 4 GiB that
    predict refuses, since its content digest covers its entries and not bytes put before them (helper-299)."""
    from featcache.deploy.model import model_file
    from featcache.heads.io import MAX_FILE_BYTES, head_file

    check_size(path, MAX_FILE_BYTES, kind, f"pass {head_file() if kind == 'head' else model_file()}")


def _checked_meta(path: Path, kind: str) -> tuple[bool, dict[str, Any]]:
    """``(checked, meta)``: a head's or model's metadata, its content digest checked first, as every load does."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the note of a file without a digest: said in the answer instead
        if kind == "head":
            from featcache.heads.io import check_content, read_head_meta

            return bool(check_content(path)), read_head_meta(path) or {}
        from featcache.deploy.model import check_content as check_model, check_meta, check_network_width, read_meta

        checked, meta = check_model(path)  # the metadata as its digest checked it: not hashed again by read_meta
        if meta is None:
            meta = read_meta(path)
        else:
            check_meta(path, meta)  # its fields, as read_meta checks them (a kind removed was shown as a model's)
        check_network_width(path, meta)  # its class names against its network's outputs, as the loaders check them
        return bool(checked), meta


def _check_loads(path: Path, kind: str, meta: dict[str, Any]) -> None:
    """What the loaders check of a head or model past its content digest (which is no signature), checked by verify
    as they check it, so "ok: intact" is never a file they refuse: an .npz head resealed around a pickled object
    array was "intact" to verify and refused by evaluate (an adversarial tester, helper-274). A head:
    ``heads.io.check_head_loads``; a model: its training-image digests as 'evaluate MODEL FOLDER' reads them
    (``deploy.model.train_digests``; its network is Keras's to read, which verify leaves to the loaders)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a head saved with another scikit-learn: the loaders' note, not verify's
        if kind == "head":
            from featcache.heads.io import check_head_loads

            check_head_loads(path)
        else:
            from featcache.deploy.model import train_digests

            train_digests(path, meta)


def _checked_record(path: Path, kind: str) -> tuple[bool, dict[str, Any]]:
    """``(checked, record)`` of a file whose record's kind was edited (``heads.io.edited``): its content digest
    checked as a ``kind`` (what its network is) is checked, and its record as stored (``heads.io.read_record``); the
    record's fields are not checked as a ``kind``'s, since its kind is not (a model's check refuses the kind itself)."""
    from featcache.heads.io import read_record

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no digest: said in the answer
        if kind == "head":
            from featcache.heads.io import check_content

            checked = check_content(path)
        else:
            from featcache.deploy.model import check_content as check_model

            checked, _ = check_model(path)
    record = read_record(path)
    return bool(checked), record if isinstance(record, dict) else {}


# What info shows of a head or model file, in this order (the rest is in --json). ``averaged`` (what a head's
# test views averaged) and a model's head views were recorded but shown nowhere, --json included (a new-user tester);
# a Keras head's epochs run and any head's fit seconds neither ("epochs 200" of a fit that stopped at 37; the same).
FILE_FIELDS = ("head", "head_path", "preset", "params", "layer", "backbone", "image_size", "weights_source", "dataset",
               "class_names", "train_images", "train_size", "seed", "train_views", "test_views", "averaged", "views", "scores",
               "head_test_views", "test_accuracy", "test_accuracy_orig", "test_overlap", "train_digest_count",
               "views_test_accuracy", "epochs_run", "validation_rows", "fit_seconds", "cache_fingerprint", "finetune", "featcache_version",
               "format_version", "created")
# A model's count of its head's training-image digests (deploy.model.write_model; None: it keeps none)
DIGEST_COUNT = "train_digest_count"
# What info --json of a model printed its head's fit as before it took the head's names (deploy.model.HEAD_FIT_FIELDS:
# params, train_views), printed too until featcache 0.3; the text shows the head's names alone.
MODEL_NAMES_BEFORE = ("head_params", "head_train_views")


def _validation_images(info: dict[str, Any]) -> int | None:
    """How many of a Keras head's ``train_images`` its fit held out for validation (its ``validation_split``), or
    None: none held out. ``train_images`` counts the images the head was given, those held out included: info said
    87 of a head fitted on 69 (a reviewer); its text now says both."""
    from featcache.heads.dense import fitted_images

    n, params = info.get("train_images"), info.get("params")
    split = params.get("validation_split") if isinstance(params, dict) else None
    if not (isinstance(n, int) and not isinstance(n, bool) and isinstance(split, (int, float))
            and not isinstance(split, bool) and 0 < split < 1):
        return None
    return n - fitted_images(n, split)


def info(path: str | Path) -> dict[str, Any]:
    """What ``featcache info --json`` prints of ``path``: a complete cache's summary, an unfinished one's attributes
    and progress, or what a head or model was trained on and scored (``kind``: head or model), or what a report's
    record or file, or a predictions CSV or its record, is (``about``: ``report_record_info``, ``report_file_info``).

    A path whose extraction has not finished is described by its partial (``<path>.partial.h5``), named in
    ``partial``, with how far it got."""
    from featcache.store.layout import partial_path
    from featcache.store.reader import read_attrs

    checked = check_source(path, "path", what())
    given = path if isinstance(path, str) else str(checked)  # "path" as the user wrote it (./h.npz), as before
    path = checked
    check_any_file(path)
    partial = partial_path(path)
    if not path.exists() and partial.exists():
        try:
            return _shown({"path": given, "partial": str(partial), **read_attrs(partial, peek=True)})
        except FeatcacheError:
            pass  # a partial that cannot be described: read_attrs(path) says it is not finished and how to finish it
    with one_file(path, "read"):  # not around the partial's: a run writes it, and info shows how far it got
        return _info(path, given)


def _info(path: Path, given: str) -> dict[str, Any]:
    """``info``'s description of the file at ``path`` (``given``: as the caller wrote it), within ``one_file``."""
    from featcache.store.reader import open_cache, read_attrs

    try:
        meta = read_attrs(path, peek=True)
    except NotHDF5 as exc:
        not_hdf5 = exc  # outside the handler: a damaged head's line must not chain onto this one (a review)
    else:  # an incomplete file is worth describing too: that is how a user finds out
        return _shown(open_cache(path).summary() if meta.get("complete") else {"path": given, **meta})
    if (doc := report_record(path)) is not None:  # "none of the files featcache describes" of it (a tester)
        return report_record_info(path, given, doc)
    kind = zip_kind(path)
    if kind is None and (described := report_file_info(path, given)) is not None:
        return described
    if kind is None:
        raise not_ours(path, given, not_hdf5)
    return describe_file(given, kind)  # a head or a model: what it holds (info refused it; a new user had no way)


def _shown(summary: dict[str, Any]) -> dict[str, Any]:
    """A cache's summary less what is there for featcache's own checks (its settings, its content digest), with the
    files that are no rows said as extract --json says them (``decode.left_out_json``): the cache's one ``skipped``
    attribute holds a photo's copies counted once too, which info --json listed as skipped files (a brief)."""
    from featcache.sources.decode import left_out_json, left_out_parts

    summary.pop("settings", None)
    summary.pop("content_digest", None)
    left_out = summary.get("skipped")
    if isinstance(left_out, list) and all(isinstance(x, (list, tuple)) and len(x) == 2 for x in left_out):
        summary.update(left_out_json(**left_out_parts(summary["skipped"])))
    return summary


def describe_file(path: str | Path, kind: str) -> dict[str, Any]:
    """A head's or model's metadata, its content digest checked first (as every load does): what it was trained on,
    with which settings, and how it scored. Where the digest checks, what the loaders check past it too
    (``_check_loads``, as verify runs it): a file they refuse is refused in their line, as verify refuses it."""
    from featcache.heads.io import TEST_ACCURACY, edited, model_test_accuracy, network_kind, with_current_names

    check_loadable_size(Path(path), kind)  # info describes no file the loaders refuse unread
    why = edited(Path(path))  # the loaders' rule: they refuse such a file, info says what it holds
    if why is None:
        checked, meta = _checked_meta(Path(path), kind)
        # "digest checked: as saved" is no word for a file the loaders refuse past its digest: info said it, exit 0, of
        # a head resealed around a pickle verify refuses; and of an old head without a digest (format 1) whose a0.npy
        # is a pickled object array, which evaluate and load_head refuse (an adversarial tester): checked either way
        _check_loads(Path(path), kind, meta)
    else:  # described as what its network is (a head's record edited to a model's was "(a model)", not a word more)
        kind = network_kind(Path(path)) or kind
        checked, meta = _checked_record(Path(path), kind)
    meta = with_current_names(meta)  # an older model's single_view_test_accuracy, under today's name
    before = {}
    if kind == "model":  # what it scores, which a model records under other names: info showed none (a new-user tester)
        from featcache.deploy.model import head_fit_of

        # --json's names of before, with the same values until featcache 0.3 (docs/commands.md's table)
        before = {k: meta[k] for k in MODEL_NAMES_BEFORE if meta.get(k) is not None}
        # its head's fit under the head's names (params, train_images, train_size, seed, train_views): info showed
        # head_params and head_train_views alone, not what docs/commands.md says it shows (a new-user tester)
        meta = {**head_fit_of(meta, {}), TEST_ACCURACY: model_test_accuracy(meta)}
    info = {"path": str(path), "kind": kind, "content_digest_checked": checked,
            **{k: meta[k] for k in FILE_FIELDS if meta.get(k) is not None}, **before}
    if kind == "model":  # how many training photos evaluate can tell (deploy.model.write_model), none said too:
        info[DIGEST_COUNT] = meta.get(DIGEST_COUNT)  # info did not show it (a brief)
    if why is not None:  # the loaders' line: what the record says, what the file holds, the fix
        info["record_edited"] = str(why)
    held = _validation_images(info)
    if held is not None:
        info["validation_images"] = held
    if isinstance(info.get("params"), dict) and isinstance(info.get("head"), str):
        from featcache.heads import unused_params

        unused = unused_params(info["head"], info["params"])  # recorded all the same (the head's own)
        # a --train-size subset was drawn with the seed: "seed: not used" read as the whole run's (a tester)
        info["unused_params"] = [p for p in unused if not (p == "seed" and info.get("train_size") is not None)]
    return info
