"""An older lesson's unmarked heads are told by their content too, not only by modification times (a reviewer, R8).

Kept apart from tests/test_lesson.py (being edited by others this session); the mtime side is
test_lesson.py::test_an_older_lessons_unmarked_head_is_still_its_to_replace.
"""

from __future__ import annotations

import json
import os

import pytest
from helpers import as_head_of_before_written_by

from featcache.errors import FeatcacheError


def test_an_older_lessons_head_copied_with_new_times_is_still_its_own(tmp_path):
    """A lesson folder copied with 'cp -r' gives its heads times after lesson.json's: the lesson refused its own
    heads as the user's (a reviewer, R8). The row's test accuracy and fit time, which the head's metadata records
    too, tell it; a head the user trained at that name since, of the same fit but another fit time, is still refused."""
    import featcache
    from featcache.recipes import lesson as lesson_mod
    from test_cli_faults import tiny_cache

    cache = featcache.open_cache(tiny_cache(tmp_path / "a.h5"))
    out = tmp_path / "o"
    head = out / "heads" / "logreg_cv.npz"
    head.parent.mkdir(parents=True)
    res = featcache.train(cache, "logreg", C=0.5, out=head)
    as_head_of_before_written_by(head)  # what an older lesson's row left (no mark)
    table = out / "lesson.json"
    row = {"approach": "logreg", "head_file": str(head), "test_accuracy": res.accuracy, "training_seconds": res.fit_seconds}
    table.write_text(json.dumps({"rows": [row], "lesson_reported": {}}))
    os.utime(head, ns=(table.stat().st_mtime_ns + 10**9,) * 2)  # as a copy leaves it: newer than lesson.json
    lesson_mod.check_outputs(out)  # was: "holds logreg_cv.npz, which is not part of a report featcache wrote"
    # the user's head saved there since: the same fit, another fit time (set apart, as a clock would)
    again = featcache.train(cache, "logreg", C=0.5, out=head, force=True)
    as_head_of_before_written_by(head)  # even as a head of before, its fit time tells it
    if round(again.fit_seconds, 3) == round(res.fit_seconds, 3):
        row["training_seconds"] = res.fit_seconds + 0.5
        table.write_text(json.dumps({"rows": [row], "lesson_reported": {}}))
    os.utime(head, ns=(table.stat().st_mtime_ns + 10**9,) * 2)
    with pytest.raises(FeatcacheError, match="holds logreg_cv.npz, which is not part of a report featcache wrote"):
        lesson_mod.check_outputs(out)
    # a row without those numbers (or not numbers) tells nothing: the times decide, as before
    table.write_text(json.dumps({"rows": [{"approach": "logreg", "head_file": str(head), "test_accuracy": "x"}],
                                 "lesson_reported": {}}))
    os.utime(head, ns=(table.stat().st_mtime_ns + 10**9,) * 2)
    with pytest.raises(FeatcacheError, match="not part of a report featcache wrote"):
        lesson_mod.check_outputs(out)
