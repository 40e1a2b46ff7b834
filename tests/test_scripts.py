"""Every script in scripts/ runs: its --help in the fast tier, a smoke run on tiny inputs in the slow one.

The smoke runs use synthetic IDX files and photos, ``--weights random`` and
tiny sizes; they check that a script exits 0 and writes what it promises,
not its figures (those are measurements, in docs/benchmarks.md). A script
added to scripts/ without an entry in SMOKE fails ``test_every_script_has_a_smoke_test``.

Most smoke runs run the script in this process (``run_script``: runpy as
``__main__``, from its folder and argv), not in a new interpreter that imports
TensorFlow again (5-8 s each) and builds its network again. In a process of
their own: every script's --help (one interpreter for all), compare_caches'
exit status 1, and (not yet tried in process) fault_cases. The scripts that
time or measure processes (bench_runtimes, bench_startup, bench_pass_memory,
bench_images) run here too: their children are processes by design.
lesson_runtimes' children, processes only to keep each lesson in its own
FEATCACHE_HOME, run in this process under the environment the script gives
each (``lessons_in_process``). bench_ray runs here too: it starts and shuts
down its own Ray instance.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO, make_class_tree, make_fashion_dir, script_in_process

SCRIPTS = REPO / "scripts"
SMOKE = {  # script -> its smoke test below
    "bench_batch_size.py": "test_bench_batch_size",
    "bench_chunk_rows.py": "test_bench_chunk_rows",
    "bench_commit_fsync.py": "test_bench_commit_fsync",
    "bench_conversion.py": "test_bench_conversion",
    "bench_curve.py": "test_bench_curve",
    "bench_feature_reads.py": "test_bench_feature_reads",
    "bench_extract.py": "test_bench_extract",
    "bench_images.py": "test_bench_images",
    "bench_layers.py": "test_bench_layers",
    "bench_ort_layouts.py": "test_bench_ort_layouts",
    "bench_ort_spinning.py": "test_bench_ort_spinning",
    "bench_pass_memory.py": "test_bench_pass_memory",
    "bench_plots.py": "test_bench_plots",
    "bench_photo_pipeline.py": "test_bench_photo_pipeline",
    "bench_ray.py": "test_bench_ray",
    "bench_runtimes.py": "test_bench_runtimes",
    "bench_startup.py": "test_bench_startup",
    "bench_svm.py": "test_bench_svm",
    "bench_xnnpack.py": "test_bench_xnnpack",
    "cli_reference.py": "test_cli_reference",
    "compare_caches.py": "test_compare_caches",
    "fault_cases.py": "test_fault_cases",
    "finetune_lesson.py": "test_finetune_lesson",
    "hymenoptera_demo.py": "test_hymenoptera_demo",
    "lesson_runtimes.py": "test_lesson_runtimes",
    "make_jpeg_folder.py": "test_make_jpeg_folder",
    "plot_learning_curve.py": "test_plot_learning_curve",
    "runtime_agreement.py": "test_runtime_agreement",
    "scratch_vs_views.py": "test_scratch_vs_views",
    "tune_heads.py": "test_tune_heads",
    "views_experiment.py": "test_views_experiment",
    "setup.sh": "test_setup_sh_parses",
    "suite_times.py": "test_suite_times",
}
TINY = ["--weights", "random"]


def run_process(name: str, *args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python scripts/NAME ARGS`` in a new interpreter; it must exit 0."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=timeout)
    assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def run_script(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python scripts/NAME ARGS`` run in this process from ``cwd`` (``helpers.script_in_process``); it must exit 0."""
    proc = script_in_process(SCRIPTS / name, *args, cwd=cwd)
    assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@contextlib.contextmanager
def lessons_in_process():
    """``python -m featcache ARGS`` run by a script through ``subprocess.run(cmd, env=ENV, stdout=FILE,
    stderr=STDOUT)`` (lesson_runtimes' children) runs as ``featcache.cli.main(ARGS)`` in this process: under exactly
    ENV (its own FEATCACHE_HOME and runtimes folder), its output into FILE, its exit status returned; any other
    command still runs as a process. The children are processes there only to keep each lesson apart (its caches,
    its conversion), which ENV does; what goes is each child's interpreter and TensorFlow import. Each still builds
    its own networks, as a fresh process would: the networks this process keeps (``runtimes._BUILT``) are set aside
    while a child runs and put back after, so the lessons' features are compared between two builds. Yields the
    argument lists run so."""
    from featcache.cli import main
    from featcache.embedding import runtimes

    real, ran = subprocess.run, []

    def run(cmd, *args, **kw):
        if args or list(cmd[:3]) != [sys.executable, "-m", "featcache"] or set(kw) != {"env", "stdout", "stderr"} \
                or kw["stderr"] is not subprocess.STDOUT:
            return real(cmd, *args, **kw)
        saved_env, saved_built = dict(os.environ), runtimes._BUILT
        runtimes._BUILT = runtimes._Built(saved_built.size)
        os.environ.clear()
        os.environ.update(kw["env"])
        try:
            with contextlib.redirect_stdout(kw["stdout"]), contextlib.redirect_stderr(kw["stdout"]):
                try:
                    code = main([str(a) for a in cmd[3:]])
                except SystemExit as exc:  # argparse's own usage errors
                    code = exc.code
        finally:
            os.environ.clear()
            os.environ.update(saved_env)
            runtimes._BUILT = saved_built
        ran.append(cmd[3:])
        return subprocess.CompletedProcess(cmd, code)

    subprocess.run = run
    try:
        yield ran
    finally:
        subprocess.run = real


def last_json(stdout: str) -> dict:
    """The JSON report a benchmark prints last (possibly after text lines)."""
    start = stdout.index("{")
    return json.JSONDecoder().raw_decode(stdout[start:])[0]


def test_every_script_has_a_smoke_test():
    scripts = {p.name for p in SCRIPTS.iterdir() if p.suffix in (".py", ".sh")}
    assert scripts == set(SMOKE), f"scripts without a smoke test (add one to tests/test_scripts.py): {sorted(scripts - set(SMOKE))}"
    assert all(callable(globals().get(test)) for test in SMOKE.values())


# Every script's --help, in one interpreter (one start instead of a dozen keeps the fast tier fast).
HELP_ALL = """
import contextlib, io, json, runpy, sys
out = {}
for path in sys.argv[1:]:
    buf, code = io.StringIO(), None
    sys.argv = [path, "--help"]
    try:
        with contextlib.redirect_stdout(buf):
            runpy.run_path(path, run_name="__main__")
    except SystemExit as exc:
        code = exc.code
    except BaseException as exc:
        code = repr(exc)
    out[path] = [code, buf.getvalue()]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def helps(tmp_path_factory) -> dict[str, list]:
    paths = [str(SCRIPTS / n) for n in sorted(SMOKE) if n.endswith(".py")]
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-c", HELP_ALL, *paths], capture_output=True, text=True,
                          cwd=tmp_path_factory.mktemp("help"), env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {Path(k).name: v for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}


@pytest.mark.parametrize("name", sorted(n for n in SMOKE if n.endswith(".py")))
def test_script_help(name: str, helps):
    code, text = helps[name]
    assert code in (0, None) and text.startswith("usage:"), f"{name} --help: exit {code!r}, {text[:300]!r}"


def test_setup_sh_parses():
    assert subprocess.run(["bash", "-n", str(SCRIPTS / "setup.sh")]).returncode == 0


def test_bench_commit_fsync(tmp_path: Path):
    proc = run_script("bench_commit_fsync.py", "fsync", "--rows", "200", cwd=tmp_path)
    assert proc.stdout.startswith("fsync: ") and "for 4 commits" in proc.stdout


def test_bench_chunk_rows(tmp_path: Path):
    from featcache.store import layout

    before = layout.CHUNK_ROWS
    proc = run_script("bench_chunk_rows.py", "--rows", "300", "--width", "8", "--heights", "64,16", "--rounds", "2",
                      "--reads", "1", "--json", "out.json", cwd=tmp_path)
    report = json.loads((tmp_path / "out.json").read_text())
    assert [sorted(r) for r in report["rounds"]] == [["16", "64"]] * 2
    assert all(r[h]["chunk_rows"] == int(h) and r[h]["write_s"] > 0 and r[h]["read_s"] > 0 for r in report["rounds"] for h in r)
    assert report["summary"]["64"]["write_s_ratio"] == 1.0 and "| 16 | 0.00 |" in proc.stdout
    assert layout.CHUNK_ROWS == before  # put back: the script runs in the test's process


def test_bench_feature_reads(tmp_path: Path):
    proc = run_script("bench_feature_reads.py", "--rows", "300", "--width", "8", "--subset", "40", "--rounds", "2",
                      "--reads", "1", "--json", "out.json", cwd=tmp_path)
    report = json.loads((tmp_path / "out.json").read_text())
    assert len(report["rounds"]) == 2 and all(r["first"] > 0 and r["read_hashed"] > 0 for r in report["rounds"])
    assert set(report["summary"]) >= {"first", "again", "subset_first", "h5py", "chunks", "hash", "read_plain"}
    assert "| first | again |" in proc.stdout


def test_cli_reference(tmp_path: Path):
    run_script("cli_reference.py", "--out", str(tmp_path / "cli.md"), cwd=tmp_path)
    assert (tmp_path / "cli.md").read_text(encoding="utf-8") == (REPO / "docs" / "cli.md").read_text(encoding="utf-8")


def test_suite_times(tmp_path: Path):
    xml = tmp_path / "run.xml"
    xml.write_text('<testsuites><testsuite name="pytest">'
                   '<testcase classname="tests.test_a" name="test_x" time="1.5"/>'
                   '<testcase classname="tests.test_a" name="test_y" time="0.5"/>'
                   '<testcase classname="tests.test_b" name="test_z" time="3.0"/>'
                   '</testsuite></testsuites>', encoding="utf-8")
    report = json.loads(run_script("suite_times.py", str(xml), "--json", "--top", "1", cwd=tmp_path).stdout)
    assert report["files"] == {"test_b": {"seconds": 3.0, "tests": 1}, "test_a": {"seconds": 2.0, "tests": 2}}
    assert report["total_seconds"] == 5.0 and report["slowest"] == [{"test": "test_b::test_z", "seconds": 3.0}]
    assert "| test_b | 1 | 3.0 |" in run_script("suite_times.py", str(xml), cwd=tmp_path).stdout
    run_script("suite_times.py", str(xml), "--write-seconds", "order.json", cwd=tmp_path)
    assert json.loads((tmp_path / "order.json").read_text()) == {"test_b": 3.0, "test_a": 2.0}


def test_the_suite_runs_its_longest_files_first(request):
    # conftest orders the files by tests/file_seconds.json (what suite_times.py --write-seconds wrote), unmeasured ones first.
    seconds = json.loads((REPO / "tests" / "file_seconds.json").read_text())
    files = list(dict.fromkeys(item.path.stem for item in request.session.items))
    weights = [seconds.get(f, float("inf")) for f in files]
    assert weights == sorted(weights, reverse=True)
    assert request.config.getoption("loadscopereorder", False) is False  # xdist's own order (by number of tests) is off


# Tiny inputs, shared by the slow smoke runs of this module.


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """Synthetic Fashion-MNIST (100 train / 30 test, 10 per class), its cache of every block at 32 px, random weights."""
    import featcache

    root = tmp_path_factory.mktemp("tiny")
    data = make_fashion_dir(root / "fmnist", n_train=100, n_test=30)
    res = featcache.extract(featcache.FashionMNIST(data_dir=str(data)),
                            featcache.ModelSpec(weights="random", image_size=32, layers="blocks"),
                            featcache.StoreSpec(out=root / "tiny.h5", batch_size=32), verbose=False)
    return {"root": root, "data": data, "cache": Path(res.path)}


@pytest.mark.slow
def test_bench_curve(tiny, tmp_path: Path):
    out = tmp_path / "bench_curve.json"
    run_script("bench_curve.py", "--cache", str(tiny["cache"]), "--sizes", "20,100", "--seeds", "2", "--jobs", "1",
               "--skip-e2e", "--json", str(out), cwd=tmp_path)
    report = json.loads(out.read_text())
    assert report["fits"] == 8 and report["sizes"] == [20, 100] and set(report["summary"]) == {"logreg", "keras"}
    for head, means in report["summary"].items():  # the band docs/results.md quotes holds each mean
        assert all(report["seed_band"][head][n][0] <= mean <= report["seed_band"][head][n][1] for n, mean in means.items())
    assert out.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_bench_extract(tiny, tmp_path: Path):
    proc = run_script("bench_extract.py", *TINY, "--data-dir", str(tiny["data"]), "-n", "16", "--image-size", "32",
                      "--batch-size", "8", "--repeats", "1", "--skip-full", cwd=tmp_path)
    report = last_json(proc.stdout)
    assert report["images"] == 16 and report["pipeline_images_per_s"] > 0


@pytest.mark.slow
def test_bench_images(tmp_path: Path):
    proc = run_script("bench_images.py", *TINY, "--counts", "8", "--image-size", "32", "--batch-size", "4", cwd=tmp_path)
    report = last_json(proc.stdout)
    assert [r["photos"] for r in report["runs"]] == [8] and report["runs"][0]["pipeline_images_per_s"] > 0


@pytest.mark.slow
def test_bench_runtimes(tiny, tmp_path: Path):
    # Photos: generated from the shared photos, 8 of 12 taken (both classes: a subset by path would be all ants), both modes on a
    # converted runtime (the conversion, decoding apart); Fashion-MNIST: both modes on TensorFlow, the table's reference (1.00).
    # Each (runtime, mode) is a process of its own by design, so 5 here instead of the 7 of both runtimes on both sources.
    # --layer block_1_expand_relu: the conversion of the whole network took 19.5 s of the photo run's 42 s (8.2 s of 25 s
    # for the first block; load 4-5).
    proc = run_script("bench_runtimes.py", *TINY, "--make-photos", "12", "--images", "8", "--image-size", "32",
                      "--layer", "block_1_expand_relu", "--runtimes", "onnxruntime", "--batch", "4", "--json", "photos.json",
                      cwd=tmp_path)
    report = last_json(proc.stdout.split("\n\n", 1)[1])  # the table, then the JSON
    assert [(r["runtime"], r["mode"], r["images"]) for r in report["rows"]] == [("onnxruntime", "bare", 8), ("onnxruntime", "pipeline", 8)]
    assert report["conversion_s"] > 0 and report["decode_images_per_s"] > 0
    # peak RSS measured, not 0: a process on a cached ONNX conversion no longer imports TensorFlow (75-91 MB here,
    # 2026-12-06; it was over 100 MB with TensorFlow imported), so the bound is a live process's, not the network's
    assert all(r["images_per_s"] > 0 and r["peak_rss_mb"] > 30 and r["notes"].startswith("model build")
               for r in report["rows"]), [(r["peak_rss_mb"], r["notes"]) for r in report["rows"]]
    pipeline = report["rows"][1]  # its ratio to its own bare pass, from the back-to-back pair
    assert pipeline["pipeline_over_own_bare"] == round(pipeline["images_per_s"] / report["rows"][0]["images_per_s"], 3)
    assert "pipeline / own bare" in pipeline["notes"]
    assert re.search(r"^onnxruntime\s+bare\s+8\s+\S+\s+- ", proc.stdout, re.M)  # no TensorFlow row to compare with
    assert report["tensorflow_onednn"] is None and "oneDNN" not in proc.stdout  # nor a TensorFlow setting to name
    assert report["layer"] == "block_1_expand_relu" and json.loads((tmp_path / "photos.json").read_text()) == report
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"  # for the children; run_script puts the environment back
    proc = run_script("bench_runtimes.py", *TINY, "--fashion-dir", str(tiny["data"]), "--images", "40", "--image-size", "32",
                      "--layer", "block_1_expand_relu", "--runtimes", "tensorflow", "--batch", "8", cwd=tmp_path)
    report = last_json(proc.stdout.split("\n\n", 1)[1])
    rows = report["rows"]
    assert [(r["mode"], r["images"]) for r in rows] == [("bare", 40), ("pipeline", 40)]
    assert report["tensorflow_onednn"] is False and "TensorFlow's oneDNN kernels: off" in proc.stdout  # what the ratios are to
    assert "x TF bare" in proc.stdout and re.search(r"^tensorflow\s+bare\s+40\s+\S+\s+1\.00 ", proc.stdout, re.M)


@pytest.mark.slow
def test_bench_ort_spinning(tmp_path: Path):
    source = make_class_tree(tmp_path / "src", {"ants": 3, "bees": 3}, ext="jpg", size=40)
    proc = run_script("bench_ort_spinning.py", *TINY, "--photos", str(source), "--image-size", "32",
                      "--layer", "block_1_expand_relu", "--batch", "4", "--rounds", "2", cwd=tmp_path)
    report = last_json(proc.stdout.splitlines()[-1])
    assert report["images"] == 6 and sorted(report["median"]) == sorted(
        ["pipeline, spinning", "pipeline, no spinning", "bare, spinning", "bare, no spinning"])
    assert all(len(v) == 2 and min(v) > 0 for v in report["rounds"].values())


def test_bench_runtimes_pairs_each_repeat():
    sys.path.insert(0, str(SCRIPTS))
    try:
        from bench_runtimes import paired_ratio
    finally:
        sys.path.remove(str(SCRIPTS))
    bare = [{"images_per_s": v} for v in (100.0, 200.0, 150.0)]
    pipeline = [{"images_per_s": v} for v in (90.0, 120.0, 150.0)]  # ratios 0.9, 0.6, 1.0 -> median 0.9
    assert paired_ratio(pipeline, bare) == 0.9  # the ratio of the medians would be 120 / 150 = 0.8
    with pytest.raises(ValueError):
        paired_ratio(pipeline, bare[:2])  # unpaired runs are an error, not a shorter zip


@pytest.mark.slow
def test_bench_ort_layouts(tiny, tmp_path: Path):
    proc = run_script("bench_ort_layouts.py", *TINY, "--fashion-dir", str(tiny["data"]), "--images", "10", "--image-size", "32",
                      "--layer", "block_1_expand_relu", "--layouts", "1x1,2x1,3x1", "--batch", "4", "--rounds", "2",
                      "--pipeline", "--json", "out.json", cwd=tmp_path)
    report = last_json(proc.stdout.splitlines()[-1])
    names = ["1 run x 1 thread", "2 runs x 1 thread", "3 runs x 1 thread"]  # counted as the package counts (progress.counted)
    assert report["images"] == 10 and sorted(report["rounds"]) == sorted(names + [f"pipeline, {n}" for n in names])
    assert all(len(v) == 2 and min(v) > 0 for v in report["rounds"].values())
    assert report["ratio_to_first"][names[0]] == 1.0 and report["max_abs_difference"] < 1e-5  # the same features in every layout
    assert json.loads((tmp_path / "out.json").read_text()) == report


@pytest.mark.slow
def test_bench_batch_size(tiny, tmp_path: Path):
    proc = run_script("bench_batch_size.py", *TINY, "--fashion-dir", str(tiny["data"]), "--images", "10", "--image-size", "32",
                      "--layer", "block_1_expand_relu", "--sizes", "4,3,10", "--rounds", "2", "--json", "out.json", cwd=tmp_path)
    report = last_json(proc.stdout.splitlines()[-1])
    assert report["images"] == 10 and sorted(report["rounds"]) == ["10", "3", "4"]
    assert all(len(v) == 2 and min(v) > 0 for v in report["rounds"].values())
    assert report["ratio_to_first"]["4"] == 1.0 and report["max_abs_difference"] < 1e-5  # the batch size changes no feature
    assert json.loads((tmp_path / "out.json").read_text()) == report


@pytest.mark.slow
def test_bench_pass_memory(tmp_path: Path):
    # Each size in a process of its own (a fresh peak), by design: two small training steps. --batch 1: the child's
    # warm-up step runs one image, so a measured step of the same shape runs the training graph already traced (at
    # --batch 2 Keras traced it again for the second shape: 14.2 -> 12.3 CPU-seconds a child, load 1-7).
    run_script("bench_pass_memory.py", "--kind", "training", "--sizes", "32,48", "--batch", "1", "--unfreeze", "5",
               "--json", "out.json", cwd=tmp_path)
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["kind"] == "training" and [r["size"] for r in report["runs"]] == [32, 48]
    assert [r["batch"] for r in report["runs"]] == [1, 1]
    assert all(r["peak"] >= r["before"] > 0 for r in report["runs"]) and isinstance(report["bytes_per_pixel"], float)


@pytest.mark.slow
def test_bench_conversion(tmp_path: Path):
    # Random weights at 32 px to one early layer, one round: two conversions of the same small network
    proc = run_script("bench_conversion.py", *TINY, "--image-size", "32", "--layers", "block_1_expand_relu", "--rounds", "1",
                      "--json", "out.json", cwd=tmp_path)
    report = last_json(proc.stdout.splitlines()[-1])
    assert report["layers"] == 1 and report["build_s"] > 0 and report["import_s"] >= 0  # 0 where a test imported Keras
    assert all(len(v) == 1 and v[0] > 0 for v in report["seconds"].values()) and len(report["seconds"]) == 2
    assert report["featcache_over_keras"] == round(report["seconds"]["featcache"][0] / report["seconds"]["keras model.export"][0], 3)
    assert max(report["max_abs_difference_from_keras"].values()) < 1e-4  # both files give the Keras model's outputs
    assert json.loads((tmp_path / "out.json").read_text()) == report


@pytest.mark.slow
def test_bench_xnnpack(tiny, tmp_path: Path):
    proc = run_script("bench_xnnpack.py", *TINY, "--fashion-dir", str(tiny["data"]), "--images", "10", "--image-size", "32",
                      "--layer", "block_1_expand_relu", "--batch", "4", "--rounds", "2", "--json", "out.json", cwd=tmp_path)
    report = last_json(proc.stdout.splitlines()[-1])
    names = ["tensorflow", "onnxruntime", f"XNNPACK ({report['interpreter']})"]
    assert report["images"] == 8 and sorted(report["rounds"]) == sorted(names)  # full batches only: 2 of 4, the 2 left over not timed
    assert all(len(v) == 2 and min(v) > 0 for v in report["rounds"].values())
    assert report["ratio_to_tensorflow"]["tensorflow"] == 1.0
    assert isinstance(report["tensorflow_onednn"], bool)
    assert max(report["max_abs_difference_from_tensorflow"].values()) < 1e-5  # the same network in all three
    assert json.loads((tmp_path / "out.json").read_text()) == report


@pytest.fixture(scope="module")
def tiny_onnx(tiny, tmp_path_factory) -> str:
    """The session's runtimes folder, holding the ONNX conversion of the tiny network to block_1_expand_relu (32 px,
    random weights), made by an extract in this process, as ``featcache extract --runtime onnxruntime --layers
    block_1_expand_relu`` makes it: a script's first extract process finds it instead of importing TensorFlow,
    building the network and converting it (test_bench_startup 61 s without it, 8 s with it, load 10, 2026-12-07)."""
    import featcache
    from featcache.embedding.engines.local import LocalEngine

    res = featcache.extract(featcache.FashionMNIST(data_dir=str(tiny["data"]), train_limit=8, test_limit=8),
                            featcache.ModelSpec(weights="random", image_size=32, layers="block_1_expand_relu"),
                            featcache.StoreSpec(out=tmp_path_factory.mktemp("onnx") / "c.h5", batch_size=8),
                            LocalEngine(runtime="onnxruntime"), verbose=False)
    assert res.runtime == "onnxruntime"
    return os.environ["FEATCACHE_RUNTIME_DIR"]


def test_bench_startup(tiny, tiny_onnx: str, tmp_path: Path):
    # --layers block_1_expand_relu: the conversion tiny_onnx made in this process, so no run here converts.
    proc = run_script("bench_startup.py", *TINY, "--fashion-dir", str(tiny["data"]), "--image-size", "32",
                      "--layers", "block_1_expand_relu", "--train-limit", "8", "--test-limit", "8", "--rounds", "2",
                      "--runtime-dir", tiny_onnx, "--json", "out.json", cwd=tmp_path)
    report = json.loads((tmp_path / "out.json").read_text())
    assert "first run (conversion found)" in proc.stdout  # the fixture's conversion served the first run too
    assert list(report["runs"]) == [str(REPO)] and report["images"] == 16, proc.stdout
    assert report["layers"] == "block_1_expand_relu"
    runs = report["runs"][str(REPO)]
    assert len(runs) == 2 and all(r["runtime"] == "onnxruntime" and r["converted"] is False for r in runs), runs
    assert all(r["imported"] == {"tensorflow": False, "keras": False, "onnxruntime": True} for r in runs), runs
    assert all(r["wall_s"] > r["startup_s"] > 0 for r in runs), runs


def test_bench_startup_times_commands(tmp_path: Path):
    """``--command ARGS``: each command in a fresh process per round, in turns, with what it imported: train's and
    curve's help, which quote the heads, import no scikit-learn, SciPy or pandas (heads.facts)."""
    proc = run_script("bench_startup.py", "--command", "train --help", "--command", "curve --help", "--rounds", "2",
                      "--json", "out.json", cwd=tmp_path)
    commands = json.loads((tmp_path / "out.json").read_text())["commands"]
    assert list(commands) == ["train --help", "curve --help"], proc.stdout
    for command, by_checkout in commands.items():
        runs = by_checkout[str(REPO)]
        assert len(runs) == 2 and all(r["imported"] == [] and r["wall_s"] > 0 for r in runs), (command, runs)


def test_runtime_agreement(tiny, tmp_path: Path):
    proc = run_script("runtime_agreement.py", *TINY, "--fashion-dir", str(tiny["data"]), "--images", "70", "--image-size", "32",
                      "--layers", "block_1_expand_relu", "--runtimes", "onnxruntime", "--batch-size", "32",
                      "--save-every", "32", "--json", "out.json", cwd=tmp_path)
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["images"] == report["images_done"] == 70  # the first 70 of the 100 training images, a short last batch
    worst = report["runtimes"]["onnxruntime"]["block_1_expand_relu"]
    assert 0 <= worst["max_abs_diff"] < 1e-5 and 0 <= worst["image"] < 70  # the same tiny network on both
    assert report["layer_max"]["block_1_expand_relu"] > 0
    assert "onnxruntime  block_1_expand_relu" in proc.stdout


@pytest.mark.slow
def test_bench_photo_pipeline(tmp_path: Path):
    source = make_class_tree(tmp_path / "src", {"ants": 3, "bees": 3}, ext="jpg", size=40)
    proc = run_script("bench_photo_pipeline.py", *TINY, "--photos", str(source), "--image-size", "32",
                      "--layer", "block_1_expand_relu", "--batch", "4", "--rounds", "2", "--json", "out.json", cwd=tmp_path)
    report = last_json(proc.stdout.splitlines()[-1])
    cores = os.cpu_count() or 1
    layouts = ["featcache: 1 run x default threads"]
    threads = "1 thread" if cores == 2 else f"{cores - 1} threads"  # counted as the package counts: no "thread(s)"
    layouts += [f"{cores} runs x 1 thread", f"1 run x {threads}, decoding has a core"] if cores > 1 else []
    assert report["images"] == 6 and sorted(report["median"]) == sorted(f"{k}, {n}" for n in layouts for k in ("bare", "pipeline", "ratio"))
    for n in layouts:
        bare, pipeline = report["rounds"][f"bare, {n}"], report["rounds"][f"pipeline, {n}"]
        assert len(bare) == len(pipeline) == 2 and all(r["images_per_s"] > 0 for r in bare + pipeline)
        assert all(r["decode_cpu_ms"] == 0 for r in bare) and all(r["decode_cpu_ms"] > 0 for r in pipeline)  # decoding counted where it ran
        ratios = [r["pipeline_over_bare"] for r in report["rounds"][f"ratio, {n}"]]
        assert ratios == [round(p["images_per_s"] / b["images_per_s"], 3) for p, b in zip(pipeline, bare)]
        assert f"{n}: bare" in proc.stdout
    assert json.loads((tmp_path / "out.json").read_text()) == report


def test_make_jpeg_folder(tmp_path: Path):
    source = make_class_tree(tmp_path / "src", {"ants": 2, "bees": 1}, ext="jpg", size=40)
    proc = run_script("make_jpeg_folder.py", "--out", str(tmp_path / "out"), "--count", "5", "--from", str(source),
                      "--long-side", "60", cwd=tmp_path)
    files = sorted((tmp_path / "out").rglob("*.jpg"))
    # Classes in turn (ants_000, bees_000, ants_001, bees_000, ants_000): each file in its source's class folder.
    assert [f.parent.name for f in sorted(files, key=lambda f: f.name)] == ["ants", "bees", "ants", "bees", "ants"]
    assert "wrote 5 JPEGs" in proc.stdout
    from PIL import Image

    assert all(max(Image.open(f).size) == 60 for f in files)


@pytest.mark.slow
def test_bench_layers(tiny, tmp_path: Path):
    proc = run_script("bench_layers.py", *TINY, "--data-dir", str(tiny["data"]), "-n", "16", "--image-size", "32",
                      "--batch-size", "8", "--repeats", "1", cwd=tmp_path)
    report = last_json(proc.stdout)
    assert report["extraction"]["images"] == 24
    assert report["end_to_end"]["truncated"]["layer"] == "block_13_expand_relu"
    assert report["end_to_end"]["params_ratio"] < 1


@pytest.mark.slow
def test_bench_ray(tiny, tmp_path: Path):
    # Raised TypeError after the photo-decoding change and nothing noticed (issue 12): this is its regression test.
    # One Ray run (--workers 1, not 1,2): each starts a fresh Ray instance (10-30 s). --overhead-runs 1: each run of the
    # trivial mapper through Ray starts an actor that imports TensorFlow (17-19 s each at load 6). In this process (Ray
    # is started and shut down inside the script; no test leaves it running): a new interpreter imported TensorFlow
    # again for the local run (14 s of its 92 s at load 6). --image-size 32, not the source's 96: the local run's and the
    # Ray actor's network builds and passes at a ninth of the pixels (Ray's start and its actors' TensorFlow imports
    # remain the cost: ray_engine's).
    import ray

    assert not ray.is_initialized(), "a test left Ray running in this process"
    proc = run_script("bench_ray.py", *TINY, "--data-dir", str(tiny["data"]), "-n", "16", "--batch-size", "8", "--workers", "1",
                      "--overhead-runs", "1", "--image-size", "32", cwd=tmp_path)
    report = last_json(proc.stdout)
    assert [r["engine"] for r in report["runs"]] == ["local", "ray, 1 worker"]
    assert all(r["images"] == 24 and r["whole_call_images_per_s"] > 0 for r in report["runs"])
    assert report["trivial_mapper"]["batches"] == 3 and report["trivial_mapper"]["ray_ms_per_batch"] > 0


@pytest.mark.slow
def test_bench_svm(tiny, tmp_path: Path):
    proc = run_script("bench_svm.py", str(tiny["cache"]), "--layer", "block_13_expand_relu", "--repeats", "1", cwd=tmp_path)
    report = last_json(proc.stdout)
    assert report["train"] == 100 and report["test"] == 30 and len(report["variants"]) >= 3
    assert all(0 <= row["accuracy"] <= 1 for row in report["variants"].values())


@pytest.mark.slow
def test_compare_caches(tiny, tmp_path: Path):
    proc = run_script("compare_caches.py", str(tiny["cache"]), str(tiny["cache"]), cwd=tmp_path)
    assert "block_13_expand_relu" in proc.stdout and "out_relu" in proc.stdout


@pytest.mark.slow
def test_compare_caches_fails_on_a_difference(tiny, tmp_path: Path):
    import featcache

    # another image size (float16 was the difference: random weights' out_relu is below its range, refused since)
    other = featcache.extract(featcache.FashionMNIST(data_dir=str(tiny["data"])), featcache.ModelSpec(weights="random", image_size=40),
                              featcache.StoreSpec(out=tmp_path / "other.h5", batch_size=32), verbose=False)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, str(SCRIPTS / "compare_caches.py"), str(other.path), str(tiny["cache"]), "--atol", "0"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr


@pytest.mark.slow
def test_lesson_runtimes(tiny, tmp_path: Path):
    # Two lessons, each in its own home; --tolerance 1: a smoke run checks the table is written, not its figures.
    # The lessons run in this process (lessons_in_process), each under the environment the script gives it.
    with lessons_in_process() as ran:
        run_script("lesson_runtimes.py", *TINY, "--data-dir", str(tiny["data"]), "--work", str(tmp_path / "w"),
                   "--tolerance", "1", "--", "--train-limit", "100", "--test-limit", "30", "--scratch-train", "100",
                   "--scratch-epochs", "1", "--no-views", cwd=tmp_path)
    assert [(a[0], a[a.index("--runtime") + 1]) for a in ran] == [("lesson", "tensorflow"), ("lesson", "auto")]
    report = json.loads((tmp_path / "w" / "lesson_runtimes.json").read_text())
    assert [r["runtime"] for r in report["runs"]] == ["tensorflow", "auto"] and len(report["rows"]) == 5
    assert all(r["extraction"]["extracted_now"] for r in report["runs"])  # each run extracted its own cache
    assert report["feature_max_abs_diff"]["lesson"][0] <= 1e-4
    assert "| Approach | Accuracy, tensorflow |" in (tmp_path / "w" / "lesson_runtimes.md").read_text()


@pytest.mark.slow
def test_finetune_lesson(tiny, tmp_path: Path):
    # --only 1: the lesson's 5-epoch head keeps this short (config 0's early-stopped head ran past 600 s at load 20).
    out = tmp_path / "finetune.json"
    proc = run_script("finetune_lesson.py", *TINY, "--data-dir", str(tiny["data"]), "--train-limit", "40", "--test-limit", "20",
                      "--image-size", "32", "--only", "1", "--epochs", "1", "--batch-size", "8", "--json", str(out), cwd=tmp_path)
    runs = json.loads(out.read_text())["runs"]
    assert len(runs) == 1 and 0 <= runs[0]["test_accuracy"] <= 1
    assert "| lesson recipe, lesson head" in proc.stdout


@pytest.mark.slow
def test_hymenoptera_demo(tmp_path: Path):
    photos = tmp_path / "photos"
    make_class_tree(photos / "train", {"ants": 6, "bees": 6})
    make_class_tree(photos / "val", {"ants": 3, "bees": 3}, offset=100)
    out = tmp_path / "rows.json"
    proc = run_script("hymenoptera_demo.py", *TINY, "--images", str(photos), "--sizes", "32", "--scratch-size", "32",
                      "--scratch-epochs", "1", "--json", str(out), cwd=tmp_path)
    rows = json.loads(out.read_text())
    assert [r["train_images"] for r in rows] == [12, 12] and [r["val_images"] for r in rows] == [6, 6]
    assert "| model | input |" in proc.stdout
    # what it does, on stderr as it goes (45 s went without a line, then raw dicts; a new-user tester)
    assert "... features at 32 px" in proc.stderr and "val accuracy" in proc.stderr and "{" not in proc.stderr
    assert "... a CNN from scratch on 12 photos at 32 px, 1 epoch" in proc.stderr and "extracted 18 images" not in proc.stdout


@pytest.mark.slow
def test_plot_learning_curve(tiny, tmp_path: Path):
    import featcache

    curve = featcache.learning_curve(tiny["cache"], [20, 100], seeds=1, heads=("logreg",), out=tmp_path / "curve",
                                     plot=False, verbose=False)
    png = tmp_path / "replot.png"
    run_script("plot_learning_curve.py", str(curve.out), "--label", "tiny", "--out", str(png), cwd=tmp_path)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # A name too long for the file system is one line, exit 2 (an OSError traceback; a tester)
    import importlib.util

    spec = importlib.util.spec_from_file_location("plot_learning_curve", SCRIPTS / "plot_learning_curve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([str(tmp_path / ("a" * 300))]) == 2


@pytest.mark.slow
def test_scratch_vs_views(tiny, tmp_path: Path):
    import featcache

    scratch = featcache.learning_curve(tiny["cache"], [20], seeds=1, heads=("logreg",), baseline="scratch",
                                       baseline_sizes=[20, 100], baseline_params={"epochs": 1}, out=tmp_path / "s",
                                       plot=False, verbose=False)
    views = featcache.learning_curve(tiny["cache"], [20, 100], seeds=1, heads=("logreg",), out=tmp_path / "v",
                                     plot=False, verbose=False)
    png, out = tmp_path / "f.png", tmp_path / "f.json"
    proc = run_script("scratch_vs_views.py", str(scratch.out), str(views.out), "--out", str(png), "--json", str(out),
                     cwd=tmp_path)
    report = json.loads(out.read_text())
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "| from-scratch CNN" in proc.stdout
    assert sorted(map(int, report["scratch_summary"])) == [20, 100] and sorted(map(int, report["views_summary"])) == [20, 100]


@pytest.mark.slow
def test_tune_heads(tiny, tmp_path: Path):
    proc = run_script("tune_heads.py", "--cache", str(tiny["cache"]), "--seeds", "0", "--max-epochs", "1", cwd=tmp_path)
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| Keras") or line.startswith("| logistic")]
    assert len(rows) == 9 + 2
    assert all(r.split("| ")[2].startswith("1, ") for r in rows[:9])  # every Keras variant capped at 1 epoch run
    assert rows[-1].split("| ")[2].startswith("C=0.03, ")  # the fixed-C logistic regression


@pytest.mark.slow
def test_views_experiment(tmp_path: Path):
    """Both parts on tiny inputs: every view embedded for both splits, five settings per head, a chosen one."""
    data = make_fashion_dir(tmp_path / "fmnist", n_train=60, n_test=30)
    photos = tmp_path / "photos"
    make_class_tree(photos / "train", {"ants": 5, "bees": 5})
    make_class_tree(photos / "val", {"ants": 2, "bees": 2}, offset=100)
    out = tmp_path / "views.json"
    proc = run_script("views_experiment.py", *TINY, "--fashion-dir", str(data), "--train-limit", "60", "--test-limit", "30",
                      "--photos", str(photos), "--photo-size", "32", "--fashion-layer", "block_1_expand_relu",
                      "--photo-layer", "block_1_expand_relu", "--work-dir", str(tmp_path / "work"), "--json", str(out),
                      cwd=tmp_path)
    res = json.loads(out.read_text())
    for part, n_views in (("fashion", 6), ("hymenoptera", 7)):
        assert set(res[part]["extract_seconds"]["train"]) == set(res[part]["extract_seconds"]["test"])
        assert len(res[part]["extract_seconds"]["train"]) == n_views
        for head, rows in res[part]["heads"].items():
            assert len(rows) == 5 and all(0 <= r["test_accuracy"] <= 1 for r in rows)
            assert res[part]["chosen"][head] in [r["setting"] for r in rows]
    assert (res["hymenoptera"]["train_images"], res["hymenoptera"]["test_images"]) == (10, 4)
    assert res["fashion"]["layer"] == res["hymenoptera"]["layer"] == "block_1_expand_relu"
    assert "| head | setting |" in proc.stdout


@pytest.mark.slow
def test_fault_cases(tmp_path):
    """--quick: every issue 13 case that builds no network, in-process (about 30 s on 2 loaded cores), all clean."""
    proc = run_process("fault_cases.py", "--quick", "--workdir", str(tmp_path / "w"), cwd=tmp_path)
    last = proc.stdout.strip().splitlines()[-1]
    n = int(last.split(" of ")[1].split()[0])
    assert last == f"{n} of {n} clean" and n >= 35, proc.stdout[-4000:]


def test_bench_plots(tmp_path):
    """scripts/bench_plots.py: two cases timed and counted, their PNGs kept, and a folder compared with itself."""
    out = tmp_path / "pngs"
    proc = script_in_process(SCRIPTS / "bench_plots.py", "--cases", "curve_no_title,confusion_10", "--repeats", "1", "--out", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert [r["case"] for r in report] == ["curve_no_title", "confusion_10"]
    assert all(r["seconds"] > 0 and r["draws"] >= 1 and r["png_bytes"] == (out / f"{r['case']}.png").stat().st_size
               for r in report)
    same = script_in_process(SCRIPTS / "bench_plots.py", "--compare", str(out), str(out))
    assert same.returncode == 0 and same.stdout.split() == ["confusion_10", "same", "curve_no_title", "same"]
    assert script_in_process(SCRIPTS / "bench_plots.py", "--cases", "nothing").returncode == 2
