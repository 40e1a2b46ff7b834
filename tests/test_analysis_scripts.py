"""Smoke tests of the analysis scripts on a tiny cache: each runs end to end and prints what it promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import featcache

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # each starts Python with TensorFlow or scikit-learn


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory) -> Path:
    from helpers import make_fashion_dir

    root = tmp_path_factory.mktemp("scripts")
    data = make_fashion_dir(root / "fm", n_train=100, n_test=50)
    return featcache.extract(data_dir=str(data), weights="random", image_size=32, out=root / "c.h5", verbose=False).path


def script(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / name), *args], capture_output=True, text=True,
                          timeout=600, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_bench_curve(tiny_cache, tmp_path):
    out = tmp_path / "bench.json"
    script("bench_curve.py", "--cache", str(tiny_cache), "--sizes", "20,100", "--seeds", "1", "--jobs", "1",
           "--skip-e2e", "--json", str(out), cwd=tmp_path)
    report = json.loads(out.read_text())
    assert report["fits"] == 4 and set(report["summary"]) == {"logreg", "keras"}
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


def test_tune_heads(tiny_cache, tmp_path):
    proc = script("tune_heads.py", "--cache", str(tiny_cache), "--seeds", "0", "--max-epochs", "1", cwd=tmp_path)
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| Keras") or line.startswith("| logistic")]
    assert len(rows) == 9 + 2
    assert all(r.split("| ")[2].startswith("1, ") for r in rows[:9])  # every Keras variant capped at 1 epoch run
    assert rows[-1].split("| ")[2].startswith("C=0.03, ")  # the fixed-C logistic regression


def test_bench_svm(tiny_cache, tmp_path):
    proc = script("bench_svm.py", str(tiny_cache), "--layer", "out_relu", "--repeats", "1", cwd=tmp_path)
    report = json.loads(proc.stdout)
    assert report["train"] == 100 and report["test"] == 50 and len(report["variants"]) >= 3
    assert all(0 <= v["accuracy"] <= 1 for v in report["variants"].values())
