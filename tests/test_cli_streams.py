"""Which stream each command's lines go to: status and progress on stderr, results on stdout (docs/cli.md).

Regression (a new-user tester): extract's "extracting N images ... preparing the network", "hashing N files",
"skipped ...", train's "training a ... head ...", curve's "learning curve: ...", probe's "probing ..." went to
stdout, so 'featcache extract ... > log' kept them among the results and '| grep' read them as results. One test
per command family pins the split; status lines are drawn as for a user (progress_on: conftest turns them off).
"""

from __future__ import annotations

import json

import pytest
from helpers import make_class_tree, make_fashion_dir, run_main, tiny_fashion_cache

import featcache


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A tiny Fashion-MNIST cache through an untrained MobileNetV2 at 32 px (plumbing only)."""
    return tiny_fashion_cache(tmp_path_factory.mktemp("streams"), n_train=60, n_test=30)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_extract_says_its_status_on_stderr_and_its_result_on_stdout(tmp_path, capsys, progress_on):
    data = make_fashion_dir(tmp_path / "fm", n_train=24, n_test=12)
    out = tmp_path / "c.h5"
    args = ["extract", "--data-dir", str(data), "--weights", "random", "--image-size", "32", "--out", str(out)]
    proc = run_main(capsys, *args)
    assert proc.returncode == 0, proc.stderr
    assert "extracting 36 images" in proc.stderr and "network ready" in proc.stderr
    [line] = _lines(proc.stdout)  # the result alone
    assert line.startswith("extracted 36 images") and line.endswith(f"-> {out}")
    proc = run_main(capsys, *args, "--json")  # a cache hit: the JSON alone on stdout
    assert json.loads(proc.stdout)["path"] == str(out)


def test_extract_of_photos_says_hashing_and_skipped_on_stderr(tmp_path, capsys, progress_on):
    root = make_class_tree(tmp_path / "photos", {"ants": 4, "bees": 4}, size=16)
    (root / "ants" / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "c.h5"
    proc = run_main(capsys, "extract", "--images", str(root), "--test-fraction", "0.5", "--weights", "random",
                    "--image-size", "32", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "hashing 9 files" in proc.stderr and "skipped 1 file (unreadable)," in proc.stderr
    [line] = _lines(proc.stdout)
    assert line.startswith("extracted 8 images") and line.endswith(f"-> {out}") and "hashing" not in proc.stdout


def test_train_and_evaluate_say_their_status_on_stderr(cache, tmp_path, capsys, progress_on):
    head = tmp_path / "h.npz"
    proc = run_main(capsys, "train", str(cache), "--head", "logreg", "--out", str(head))
    assert proc.returncode == 0, proc.stderr
    assert "training a logreg head on 60 cached images" in proc.stderr
    [line] = _lines(proc.stdout)
    assert line.startswith("test accuracy ") and line.endswith(f"-> {head}")
    proc = run_main(capsys, "evaluate", str(head), str(cache), "--out", str(tmp_path / "ev"))
    # what it scores, as train says what it fits (evaluate said nothing; verbose is the API's since 2026-12-06)
    assert proc.returncode == 0 and proc.stderr == "scoring the logreg head on 30 test images, layer out_relu ...\n"
    assert proc.stdout.startswith("head ") and "confusion matrix plot: " in proc.stdout


def test_curve_and_probe_say_their_plan_on_stderr(cache, tmp_path, capsys, progress_on):
    proc = run_main(capsys, "curve", str(cache), "--sizes", "20", "--seeds", "1", "--heads", "logreg",
                    "--out", str(tmp_path / "curve"))
    assert proc.returncode == 0, proc.stderr
    # one point: "1 point", not "1 points" (a new-user tester)
    assert "learning curve: 1 point (0 already in " in proc.stderr and "learning curve" not in proc.stdout
    assert sorted(line.split()[0] for line in _lines(proc.stdout)) == ["logreg", "wrote"]
    proc = run_main(capsys, "probe", str(cache), "--heads", "logreg", "--out", str(tmp_path / "probe"))
    assert proc.returncode == 0, proc.stderr
    assert "probing 1 layer x 1 head on " in proc.stderr and "probing" not in proc.stdout
    assert "best layer: " in proc.stdout and "wrote " in proc.stdout


def test_info_and_verify_print_results_alone(cache, capsys, progress_on):
    for command in ("info", "verify"):
        proc = run_main(capsys, command, str(cache))
        assert proc.returncode == 0 and proc.stderr == "" and str(cache) in proc.stdout, command


def test_export_and_predict_print_results_alone(cache, tmp_path, capsys, progress_on):
    head = tmp_path / "h.npz"
    featcache.train(cache, "logreg", out=head)
    model = tmp_path / "m.keras"
    proc = run_main(capsys, "export", str(head), "--out", str(model))
    assert proc.returncode == 0, proc.stderr
    assert _lines(proc.stdout)[0].startswith("exported logreg head") and str(model) in proc.stdout
    image = tmp_path / "x.npy"
    import numpy as np

    np.save(image, np.zeros((2, 28, 28), dtype=np.uint8))
    proc = run_main(capsys, "predict", str(model), str(image))
    assert proc.returncode == 0, proc.stderr
    assert [line.split(": ")[0] for line in _lines(proc.stdout)] == [f"{image}[0]", f"{image}[1]"]
