"""A learning curve's folder: curve.csv (rows), curve.json (settings, identity), curve.png; resume.

- ``curve.csv``: one row per (size, seed, head): accuracy and fit_seconds,
  the time of that fit alone (warm-started fits: from the previous size on;
  empty for a row repeated from another seed's fit of the same images: it had
  no fit to time, and its 0.0000 read as a fit of no seconds).
  It is rewritten atomically after every completed fit, so it is always a
  valid table of finished fits; re-running the same command skips them
  (resume), and an interrupted run never leaves a half-written row.
- ``curve.json``: the cache's metadata (fingerprint, backbone, image size,
  layer, ...) and the settings; ``complete`` turns true at the end. Under
  ``validate.REPORT_DIGESTS`` it records the SHA-256 of curve.png, written
  after it: a rerun replaces a curve.png only while it is unchanged.
- ``curve.png``: the plot (``plots.plot_learning_curves``).

Rows read back are checked (whole sizes and seeds, accuracy in [0, 1],
finite non-negative seconds): a hand-edited or damaged file is one line
naming it, never a curve built on it. Each row also carries a checksum of
its values: a row that does not match is refused, by a resume too, in one line
(as an edited curve.png is); a row a killed run never wrote is simply fitted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from featcache import paths
from featcache.errors import FeatcacheError, command, command_word, given_path, option
from featcache.progress import counted, note
from featcache.store.atomic import json_text, write_text
from featcache.store.fingerprint import fingerprint
from featcache.validate import (SEED_LIMIT, check_report_files, check_writable_dir, file_sha256, recorded_digests,
                                views_words)

if TYPE_CHECKING:
    from featcache.analysis.plots import CurveSet
    from featcache.store import Cache

CSV_FIELDS = ("size", "seed", "head", "accuracy", "fit_seconds")
# Each row's checksum, a column after the others: the first 16 hex digits of SHA-256 over the curve's key
# (``curve_key``: cache, layer, test split, views) and the row's values as written. A resume trusted curve.csv as
# it found it, so an edited or damaged accuracy (0.68 -> 0.99), or a row pasted from another curve, went into the
# curve (adversarial testers); such a row is now fitted again. curve.json's ROW_CHECKSUMS says the rows carry
# them, so a file whose column was cut off is not read as one from before checksums.
CHECKSUM = "checksum"
ROW_CHECKSUMS = "row_checksums"
# curve.json's mark that every row was fitted on its images in the order ``train --train-size N --seed S`` fits them
# (``subsets.stratified_subsets``: sorted), so a point is train's. Before it a curve fitted them in their shuffled
# order, and its points were not train's for the same images (a new-user tester: Keras 0.815 against 0.817 on the
# lesson's 4,000 images). Every head depends on the order: Keras's last rows validate and its batches follow it, the
# SVM's calibration folds are drawn over positions, and lbfgs and libsvm stop at a tolerance along an order-dependent
# path (logreg fitted cold on 500 Fashion-MNIST images: 0.8007 shuffled, 0.8010 in row order). A resume into a folder
# without the mark drops its rows and fits those it asks for again.
ROW_ORDER = "row_order"
TRAIN_ORDER = "train-classes-first"
# The mark of train's order before every class's first image came first in it (``subsets.stratified_order``): such a
# folder's rows are kept where their subset is the same under both, refitted where it is not (``run.py``).
EARLIER_TRAIN_ORDER = "train"
# curve.json's mark that the Keras head's rows validated on images of every class where Keras's last rows leave a
# class out (``heads.dense.held_out``: rows in class order, as a photo folder's are; since 2026-12-05). A resume into a
# folder without it fits those rows again (``plan.one_sided_dropped``); every other row is the same under both.
VALIDATION = "keras_validation"
EVERY_CLASS = "every-class"
# curve.json's count of the rows its curve.csv holds once the run is done (this run's grid and the rows kept from
# earlier runs), recorded when the run starts: ``unfinished`` says how far a stopped run got (since 2026-12-05).
POINTS = "points"


def curve_key(identity: dict[str, Any]) -> str:
    """What a curve's rows belong to, as a hash: the parts of its identity every run into the folder shares (new
    heads may join a folder, so head parameters are not in it; ``finished_rows`` checks those)."""
    return fingerprint({k: identity.get(k) for k in ("cache_fingerprint", "layer", "test_size", "train_views", "test_views")})


def row_checksum(values: Sequence[str], key: str = "") -> str:
    """The checksum of one row's CSV_FIELDS values, as the strings written, under the curve's ``key``."""
    import hashlib

    return hashlib.sha256(("featcache curve row\0" + key + "\0" + "\0".join(values)).encode()).hexdigest()[:16]


def _row(r: dict[str, str]) -> dict[str, Any]:
    row = {"size": int(r["size"]), "seed": int(r["seed"]), "head": r["head"],
           "accuracy": float(r["accuracy"]), "fit_seconds": None if r["fit_seconds"] == "" else float(r["fit_seconds"])}
    if row["size"] < 1 or not 0 <= row["seed"] < SEED_LIMIT or not row["head"]:
        raise ValueError(f"row {r} has a size below 1, a seed out of range or no head")
    if not 0 <= row["accuracy"] <= 1:
        raise ValueError(f"accuracy {r['accuracy']} is not between 0 and 1")
    if row["fit_seconds"] is not None and not (math.isfinite(row["fit_seconds"]) and row["fit_seconds"] >= 0):
        raise ValueError(f"fit_seconds {r['fit_seconds']} is not a time")
    return row


def read_rows(path: str | Path, key: str | None = None, checksummed: bool = False) -> list[dict[str, Any]]:
    """Rows of a ``curve.csv`` with typed, checked values. With ``key`` (``curve_key``) each row's checksum is
    checked, and ``checksummed`` (curve.json says its rows carry them) makes a missing checksum a mismatch; a
    second row for the same (head, seed, size) is one too. A mismatch is an error (a resume's too: until
    2026-12-05 it dropped the row with a warning and fitted it again, while an edited curve.png was refused; an
    adversarial tester). A killed run's rows need no such leniency: curve.csv is replaced whole after every fit."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: a spreadsheet's byte-order mark
            reader = csv.DictReader(f)
            if reader.fieldnames is None or not set(CSV_FIELDS) <= set(reader.fieldnames):
                raise ValueError(f"columns {reader.fieldnames}")
            rows, seen = [], set()
            for r in reader:
                row = _row(r)  # values that cannot be a row are refused first, checksum or not
                why = _mismatch(r, row, key, checksummed, seen)
                if why is not None:
                    raise _Mismatch(f"the row {','.join(r[k] or '' for k in CSV_FIELDS)} {why}")
                seen.add((row["head"], row["seed"], row["size"]))
                rows.append(row)
            return rows
    except FileNotFoundError:
        raise FeatcacheError(f"curve file not found: {path}; run {command('curve')} first or check the path") from None
    except IsADirectoryError:
        raise FeatcacheError(f"{path} is a folder, not a curve.csv; pass the curve.csv inside it or its folder") from None
    except _Mismatch as exc:
        raise FeatcacheError(f"{path} was changed since featcache wrote it ({exc}); delete that row (or the file) "
                             f"and re-run the same {command('curve')} {command_word()} to fit it again, or choose another {option('--out')}") from None
    except (ValueError, KeyError, TypeError, csv.Error, UnicodeDecodeError) as exc:
        raise FeatcacheError(f"{path} is not a readable curve.csv ({exc}); pass a file written by {command('curve')} "
                             f"(or re-run the curve into a new {option('--out')})") from None


class _Mismatch(ValueError):
    """A row that does not match its checksum, has none where the curve's rows do, or repeats a key."""


def _mismatch(r: dict[str, str], row: dict[str, Any], key: str | None, checksummed: bool, seen: set) -> str | None:
    if (row["head"], row["seed"], row["size"]) in seen:
        return "repeats an earlier row's head, seed and size"
    if key is None:
        return None
    given = r.get(CHECKSUM)
    if not given:
        return "has no checksum, and curve.json says its rows carry one (the column was cut?)" if checksummed else None
    if given != row_checksum([r[k] or "" for k in CSV_FIELDS], key):
        return "does not match its checksum (edited, damaged or from another curve)"
    return None


def _drop_other_order(rows: dict[tuple[str, int, int], dict[str, Any]], csv_path: Path) -> dict:
    """No rows of a folder from before ``ROW_ORDER`` (said in one line): a curve does not mix points fitted on its
    images in another order with train's; a resume fits those it asks for again. The old table is kept beside it
    (a hard link at a free ``curve.before-row-order[-N].csv``): rows this run does not ask for, perhaps hours of
    Keras or scratch fits, were deleted with the rest (a review)."""
    if rows:
        heads = sorted({k[0] for k in rows})
        kept = _keep_old_table(csv_path)
        where = f"; the old table is kept as {kept}" if kept else ""
        train_rows = option("'train --train-size N --seed S'", "featcache.train(..., train_size=N, seed=S)")
        note(f"featcache curve: note: {counted(len(rows), 'row')} of {csv_path} ({', '.join(heads)}) were fitted on their images "
              f"in another order than {train_rows} (before curve took train's rows); dropped, and "
              f"those this run asks for are fitted again{where}")
    return {}


def _keep_old_table(csv_path: Path) -> Path | None:
    """A hard link to ``csv_path`` at the first free ``curve.before-row-order[-N].csv`` beside it; None where the
    file system has none (the table is then rewritten as before)."""
    import os

    for n in range(1, 1000):
        dest = csv_path.with_name(f"curve.before-row-order{'' if n == 1 else f'-{n}'}.csv")
        try:
            os.link(csv_path, dest)  # fails on an existing name: nothing of anyone's replaced
            return dest
        except FileExistsError:
            continue
        except OSError:
            return None
    return None


def write_rows(path: Path, rows: Sequence[dict[str, Any]], key: str = "", recheck: Callable[[], Any] | None = None) -> str:
    """``rows`` as curve.csv, each with its checksum under the curve's ``key`` (``curve_key``); ``recheck``: as
    ``store.atomic.atomic_path``'s, run just before the rename. Returns the SHA-256 of the bytes written."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=(*CSV_FIELDS, CHECKSUM), lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        secs = r["fit_seconds"]  # None: a row repeated from another seed's fit (plan.copy_shared), written empty
        values = {**{k: str(r[k]) for k in CSV_FIELDS}, "fit_seconds": "" if secs is None else f"{secs:.4f}"}
        w.writerow({**values, CHECKSUM: row_checksum([values[k] for k in CSV_FIELDS], key)})
    return _written(path, buf.getvalue(), recheck)


def _written(path: Path, text: str, recheck: Callable[[], Any] | None) -> str:
    """``text`` written at ``path`` (``store.atomic.write_text``); the SHA-256 of its bytes, from them: read back
    after the rename, a change another program made in that instant was taken for this run's (helper-351)."""
    write_text(path, text, recheck=recheck)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def read_meta(path: Path) -> dict[str, Any] | None:
    """A curve.json as a dict; None when missing, unreadable or not an object (e.g. ``[]``)."""
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return meta if isinstance(meta, dict) else None


def default_out(cache: Cache, layer: str, identity: dict[str, Any]) -> Path:
    m = cache.meta
    name = f"curve_{m.get('dataset', 'data')}_{m.get('backbone')}_{m.get('image_size')}px_{layer}_{fingerprint(identity)[:8]}"
    from featcache.store.layout import check_default_name, made_from

    return check_default_name(paths.runs_dir() / name, "curve folder name", made_from("data set name", m.get("dataset", "data")),
                              f"name the folder with {given_path('--out', 'DIR')}")


@dataclass(frozen=True)
class CurveFolder:
    """The folder of one learning curve and its files."""

    path: Path
    key: str = ""  # curve_key of the curve written here: its rows' checksums are under it
    # the SHA-256 of curve.csv and curve.json as this run last wrote them (``write``): the run's lock keeps other
    # featcache runs out, not other programs, and a table the user saved over curve.csv during the fits was replaced
    # by the next fit's (an adversarial tester)
    written: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def csv(self) -> Path:
        return self.path / "curve.csv"

    @property
    def json(self) -> Path:
        return self.path / "curve.json"

    @property
    def png(self) -> Path:
        return self.path / "curve.png"

    def make_parent(self) -> None:
        """The folder the curve's folder and its lock (``<folder>.lock``) go in."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FeatcacheError(f"cannot write in {self.path.parent} ({exc.strerror}); choose a writable {option('--out')}") from None

    def check_writable(self) -> None:
        check_writable_dir(self.path, "--out")

    def check_outputs(self, known: dict[str, str] | None = None) -> dict[str, str]:
        """Before anything here is read: curve.csv, curve.json and curve.png replace only a curve featcache wrote.

        Then ``finished_rows`` vouches for a curve.csv, with a line of its own
        for a damaged one; without one, a curve.json or curve.png beside no
        curve.json featcache wrote is the user's (notes, a picture). A
        curve.png is replaced only while it has the SHA-256 curve.json records
        (a picture of the user's copied over it was replaced; an adversarial
        tester); a curve.json from before it recorded one is taken as before.
        curve.csv is not in that record: it is rewritten after every fit, and
        its rows carry checksums. Returns the curve.png's digest when it may be
        replaced (``validate.check_report_files``), for curve.json to record
        again until a new plot is drawn.

        ``known``: after the fits, the digests this run found replaceable at its start (the first call's result):
        the folder is this run's, and curve.json on disk is not asked again. Read from there, a curve.json removed
        during the run made a picture the user saved as curve.png one of a report from before digests, replaced
        without a word (helper-349).
        """
        if known is not None:
            return check_report_files([self.png], lambda: True, digests=lambda: known, recorded=[self.png])
        return check_report_files([self.csv, self.json, self.png],
                                  lambda: self.csv.exists() or isinstance((read_meta(self.json) or {}).get("identity"), dict),
                                  digests=lambda: recorded_digests(self.json), recorded=[self.png])

    def finished_rows(self, identity: dict[str, Any]) -> dict[tuple[str, int, int], dict[str, Any]]:
        """Finished rows here that belong to a curve of ``identity``; refuses a folder holding another curve."""
        if not self.csv.exists():
            return {}
        meta = read_meta(self.json)
        old = meta.get("identity") if meta else None
        if not isinstance(old, dict) or not isinstance(old.get("heads", {}), dict):
            raise FeatcacheError(f"{self.csv} exists but has no readable curve.json beside it; choose another {option('--out')} or delete {self.csv}")
        diff = [k for k in ("cache_fingerprint", "layer", "test_size") if old.get(k) != identity[k]]
        diff += [_views_differ(k, old.get(k), identity.get(k)) for k in ("train_views", "test_views")
                 if old.get(k) != identity.get(k)]
        from featcache.analysis.curve.spec import identity_params

        before = identity_params(old.get("heads", {}))  # a folder written before run-only parameters were left out
        diff += [f"{h} parameters" for h, p in identity["heads"].items() if h in before and before[h] != p]
        if diff:
            raise FeatcacheError(f"{self.path} holds a learning curve with other settings ({', '.join(diff)}); "
                                 f"choose another {option('--out')} or delete {self.csv}")
        # a row that does not match is refused, not fitted again: the user's edit is not replaced without a word
        found = read_rows(self.csv, curve_key(identity), checksummed=bool(meta.get(ROW_CHECKSUMS)))
        rows = {(r["head"], r["seed"], r["size"]): r for r in found}
        if meta.get(ROW_ORDER) not in (TRAIN_ORDER, EARLIER_TRAIN_ORDER):
            rows = _drop_other_order(rows, self.csv)
        return rows

    def in_earlier_order(self) -> bool:
        """Whether curve.json marks the rows as fitted in train's order before every class came first in it
        (``EARLIER_TRAIN_ORDER``): ``plan.changed_subsets_dropped`` then keeps those whose subset is unchanged."""
        meta = read_meta(self.json) if self.json.exists() else None
        return isinstance(meta, dict) and meta.get(ROW_ORDER) == EARLIER_TRAIN_ORDER

    def validated_before_every_class(self) -> bool:
        """Whether curve.json lacks the ``VALIDATION`` mark: its Keras rows held out Keras's last rows whatever their
        classes (``plan.one_sided_dropped`` then fits again those where that left a class out)."""
        meta = read_meta(self.json) if self.json.exists() else None
        return isinstance(meta, dict) and meta.get(VALIDATION) != EVERY_CLASS

    def earlier_params(self) -> dict[str, dict[str, Any]]:
        """Each head's parameters as curve.json records them (after ``finished_rows`` checked it): they vouch for kept rows."""
        meta = read_meta(self.json) if self.json.exists() else None
        heads = ((meta or {}).get("identity") or {}).get("heads")
        return dict(heads) if isinstance(heads, dict) else {}

    def write(self, rows: Sequence[dict[str, Any]], meta: dict[str, Any] | None = None) -> None:
        """The table first, then the settings (whose heads' parameters cover every row the table holds).

        Each replaces only the file this run last wrote there (or none: a file removed is written again); one
        changed by another program meanwhile is left as it is and the run stops (``_check_unchanged``).
        """
        self.written[self.csv.name] = write_rows(self.csv, rows, self.key, recheck=lambda: self._check_unchanged(self.csv))
        if meta is not None:
            self.written[self.json.name] = _written(self.json, json_text({**meta, ROW_CHECKSUMS: True}),
                                                    lambda: self._check_unchanged(self.json))

    def _check_unchanged(self, path: Path) -> None:
        before = self.written.get(path.name)
        if before is None or not os.path.lexists(path):
            return
        try:  # a regular file only: a FIFO put there would block the read
            same = path.is_file() and not path.is_symlink() and file_sha256(path) == before
        except OSError:
            same = False
        if same:
            return
        # curve.csv's rows are vouched for by curve.json: with the record gone they are refused, so they go with it
        then = ("move it away and run the same" if path == self.csv else
                f"move it away, and {self.csv.name} with it (its rows belong to the record it replaced), then run the same")
        raise FeatcacheError(f"{path} was changed by another program while the curve ran, so it was left as it is and "
                             f"the run stopped; {then} {command('curve')} {command_word()} again"
                             + (" (the points it no longer holds are fitted again)" if path == self.csv else ""))


def unfinished(json_path: Path, meta: dict[str, Any], rows: int) -> str | None:
    """Why the curve whose curve.json (at ``json_path``) reads ``meta`` is not a finished curve, for ``verify``, with
    ``rows`` the rows its curve.csv holds; None when it is. A run stopped midway keeps its finished rows (the same
    command resumes it) beside a curve.json of ``complete: false``, and verify called it intact, exit 0 (an
    adversarial tester: 12 of 36 points passed a script gating on verify)."""
    if meta.get("complete") is not False:
        return None
    total = meta.get(POINTS)
    done = f"{rows} of {total} points" if isinstance(total, int) and not isinstance(total, bool) else counted(rows, "point")
    return (f"{json_path} is an unfinished curve ({done} fitted: its run was stopped before the end); re-run the "
            f"same {command('curve')} {command_word()} to finish it")


def load_curve(path: str | Path, label: str | None = None) -> CurveSet:
    """A ``plots.CurveSet`` from a curve.csv (or its folder) and the curve.json beside it."""
    from featcache.analysis.plots import CurveSet, describe

    path = Path(path)
    if path.is_dir():
        path = path / "curve.csv"
    meta = read_meta(path.with_suffix(".json")) or {}
    identity = meta.get("identity")
    # Checked when curve.json is there to say what the rows belong to (a curve.csv alone is read as it is)
    rows = read_rows(path, key=curve_key(identity) if isinstance(identity, dict) else None,
                     checksummed=bool(meta.get(ROW_CHECKSUMS)))
    return CurveSet(label if label is not None else (describe(meta) or path.parent.name), rows, meta)


def title_for(meta: dict[str, Any]) -> str:
    from featcache.analysis.plots import describe

    data = meta.get("dataset") or "data"
    return f"{data}: test accuracy vs training images ({describe(meta)}, test n={meta.get('test_size')})"


def _views_differ(key: str, here: Any, asked: Any) -> str:
    """``train views orig,flip here, orig asked``: which views the folder's curve has and which were asked, where a
    bare "other settings (train_views, test_views)" named neither (an adversarial tester). An identity leaves the
    views out when they are the original alone (``CurveSpec.identity``)."""
    def words(views: Any) -> str:
        return views_words([str(v) for v in views] if isinstance(views, (list, tuple)) and views else ["orig"], ",")

    return f"{key.replace('_', ' ')} {words(here)} here, {words(asked)} asked"
