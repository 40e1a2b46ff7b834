"""A predictions CSV's record names the model that made it (its file, path, content digest, the runtime and views):
info shows it, verify says whether the model file still has that digest (at its recorded path or beside the CSV)
or that it cannot check. A record of before (the CSV's name and SHA-256 alone) still reads in both."""

from __future__ import annotations

import json

from helpers import class_image, meta_only_model, run_main, write_image
from test_cli_faults import fake_model  # noqa: F401  (the fixture: predict's plumbing without TensorFlow)

import featcache
from featcache.heads.io import stored_digest


def _predicted(tmp_path, model, capsys):
    """predict of one photo into out/p.csv; (the CSV, its record)."""
    folder = tmp_path / "photos"
    write_image(folder / "a.png", class_image(0, 0, 16))
    out = tmp_path / "out" / "p.csv"
    out.parent.mkdir()
    said = run_main(capsys, "predict", str(model), str(folder), "--csv", str(out))
    assert said.returncode == 0, said.stderr
    return out, out.with_name(".p.csv.featcache")


def _verify_line(capsys, csv) -> str:
    said = run_main(capsys, "verify", str(csv))
    assert said.returncode == 0, said.stderr  # the CSV is intact whatever became of the model
    line = said.stdout.strip()
    assert line.startswith(f"ok: {csv} is intact (a predictions CSV): its SHA-256 is the one its record "
                           ".p.csv.featcache holds; "), line
    return line


def test_info_and_verify_of_a_predictions_csv_name_the_model_that_made_it(tmp_path, fake_model, capsys):  # noqa: F811
    """info showed a CSV's rows and time but not the model (its record held the CSV's name and digest alone)."""
    out, record = _predicted(tmp_path, fake_model, capsys)
    digest = stored_digest(fake_model)
    assert json.loads(record.read_text())["model"] == {"file": "m.keras", "path": str(fake_model), "content_digest": digest,
                                                       "runtime": "stub", "views": ["orig"]}
    for given in (out, record):
        said = run_main(capsys, "info", str(given))
        assert said.returncode == 0, said.stderr
        assert (f"made by the model m.keras ({fake_model}; content digest {digest}), views orig, run on stub"
                in said.stdout.splitlines()), said.stdout
        assert featcache.info(given)["model"]["content_digest"] == digest
    assert f"the model that made it, {fake_model}, still has the content digest {digest[:12]} its record holds" in (
        _verify_line(capsys, out))
    result = featcache.verify(out).to_dict()
    assert (result["model_check"], result["model_file"]) == ("same", str(fake_model))


def test_verify_says_whether_the_model_named_still_has_its_digest(tmp_path, fake_model, capsys):  # noqa: F811
    """Where it was, or beside the CSV (moved together); replaced by another model, damaged, or gone: said so, exit 0."""
    out, _ = _predicted(tmp_path, fake_model, capsys)
    digest = stored_digest(fake_model)
    original = fake_model.read_bytes()
    meta_only_model(fake_model, image_size=16, class_names=["ants", "wasps"])  # exported again: another model
    assert f"the model file {fake_model} is not the one that made it (its record holds content digest {digest[:12]}" in (
        _verify_line(capsys, out))
    beside = out.with_name("m.keras")
    beside.write_bytes(original)  # the model that made it, moved beside the CSV: found there
    assert f"the model that made it, {beside}, still has the content digest" in _verify_line(capsys, out)
    beside.unlink()
    data = bytearray(original)
    data[len(data) // 2] ^= 0xFF
    fake_model.write_bytes(bytes(data))
    assert f"the model file {fake_model} is damaged or was changed since it was saved" in _verify_line(capsys, out)
    fake_model.unlink()
    assert f"the model that made it (m.keras) is neither at {fake_model} nor beside it, so it cannot be checked" in (
        _verify_line(capsys, out))
    assert featcache.verify(out).to_dict()["model_check"] == "not found"


def test_a_csv_whose_record_names_no_model_still_reads(tmp_path, fake_model, capsys):  # noqa: F811
    """A record written before the record named the model (the CSV's name and SHA-256 alone) is read as before: info
    and verify say it names no model, exit 0; a rerun records it."""
    out, record = _predicted(tmp_path, fake_model, capsys)
    doc = json.loads(record.read_text())
    del doc["model"]
    record.write_text(json.dumps(doc))
    said = run_main(capsys, "info", str(out))
    assert said.returncode == 0 and "made by a model its record does not name" in said.stdout, said.stderr
    assert featcache.info(out)["model"] is None
    assert "its record does not name the model that made it (written by a featcache before" in _verify_line(capsys, out)
    assert featcache.verify(out).to_dict()["model_check"] == "unrecorded"
    record.write_text(json.dumps({**doc, "model": {"file": "../m.keras", "path": "/m.keras"}}))  # edited: named none
    assert featcache.info(out)["model"] is None and featcache.verify(out).to_dict()["model_check"] == "unrecorded"
    said = run_main(capsys, "predict", str(fake_model), str(tmp_path / "photos"), "--csv", str(out))
    assert said.returncode == 0 and "kept" not in said.stderr, said.stderr  # still featcache's CSV: replaced
    assert json.loads(record.read_text())["model"]["file"] == "m.keras"


def test_a_file_that_is_no_model_is_another_and_a_relative_recorded_path_names_none(tmp_path, fake_model, capsys,  # noqa: F811
                                                                                  monkeypatch):
    """Regression (a reviewer, 2026-12-06): a file that never was a zip at the recorded model path was "damaged or was
    changed since it was saved", where "not the one that made it" is right (a zip cut or edited is still damaged);
    and a relative path in an edited record was resolved against the working folder of whoever ran verify, finding a
    model there. The record's path is absolute, as predict writes it: a relative one names no model."""
    out, record = _predicted(tmp_path, fake_model, capsys)
    original = fake_model.read_bytes()
    fake_model.write_text("notes, not a model\n")
    assert featcache.verify(out).to_dict()["model_check"] == "other"
    assert f"the model file {fake_model} is not the one that made it (its record holds content digest" in (
        _verify_line(capsys, out))
    fake_model.write_bytes(original[: len(original) // 2])  # the model, cut short: damaged, as before
    assert featcache.verify(out).to_dict()["model_check"] == "damaged"
    fake_model.write_bytes(original)
    doc = json.loads(record.read_text())
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    (elsewhere / "m.keras").write_bytes(original)
    record.write_text(json.dumps({**doc, "model": {**doc["model"], "path": "m.keras"}}))
    monkeypatch.chdir(elsewhere)  # was: found there, "the model that made it, m.keras, still has ..."
    assert featcache.info(out)["model"] is None and featcache.verify(out).to_dict()["model_check"] == "unrecorded"
