"""predict on the fast runtimes (issue 14): the runtime choice, its fallback and errors, and the conversion cache.

Plumbing on a tiny exported model (random weights, MobileNetV2 cut after its
first block: it converts in about 2 s). That the probabilities of a real
exported model agree across runtimes is tests/test_export_predict.py's
``test_exported_model_gives_the_same_probabilities_on_every_runtime``.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from featcache.cli import main
from featcache.deploy import model as model_io
from featcache.deploy.model import ExportedModelSpec, ModelRunner
from featcache.deploy.predict import predict
from featcache.embedding import runtimes
from featcache.errors import FeatcacheError

from helpers import make_class_tree

CONVERTED = [name for name in ("onnxruntime", "openvino") if runtimes.REGISTRY[name].available()]
CLASSES = ["a", "b", "c"]


def _tiny_model(path: Path, seed: int = 0, views: tuple[str, ...] = ()) -> Path:
    """``views``: a model that embeds those views of each image and averages them (``export --views``)."""
    from featcache._lazy import keras
    from featcache.deploy.endtoend import build_end_to_end
    from featcache.deploy.export import views_model
    from featcache.deploy.model import (
        INPUT_DTYPE,
        INPUT_SHAPE,
        probabilities_model,
        save_model,
    )

    logits = build_end_to_end("mobilenet_v2", "random", 32, len(CLASSES), layer="block_1_expand_relu",
                              raw_input_shape=INPUT_SHAPE, raw_dtype=INPUT_DTYPE)
    dense = logits.get_layer("head_logits")
    rng = np.random.default_rng(seed)  # a head that tells the classes apart: probabilities far from uniform
    dense.set_weights([rng.normal(0, 3, dense.kernel.shape).astype("float32"), np.zeros(len(CLASSES), "float32")])
    keras().utils.set_random_seed(0)
    meta = {"class_names": CLASSES, "image_size": 32, "backbone": "mobilenet_v2", **({"views": list(views)} if views else {})}
    return save_model(views_model(logits, views) if views else probabilities_model(logits), path, meta)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("tiny_model")
    path = _tiny_model(tmp / "m.keras")
    rng = np.random.default_rng(1)
    images = {"rgb": rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8),
              "gray_other_size": rng.integers(0, 256, (4, 20, 26, 1), dtype=np.uint8)}
    net, _ = model_io.load_model(path)
    want = {k: np.asarray(net.predict(x, verbose=0)) for k, x in images.items()}
    return {"path": path, "images": images, "want": want}


@pytest.fixture(scope="module")
def other(tmp_path_factory) -> Path:
    """Another tiny model (another head's weights), made once for the tests that put another model where tiny's was
    (a build and save each); a test copies its bytes."""
    return _tiny_model(tmp_path_factory.mktemp("other_model") / "other.keras", seed=1)


@pytest.fixture(scope="module")
def tiny_conversion(tiny, tmp_path_factory) -> list[Path]:
    """Tiny's ONNX conversion and its checksum, made once (1-2 s each here) for the tests whose conversion is set up
    as cached (``_cached``); the tests about a conversion being made, counted or said make their own."""
    from helpers import model_conversion

    folder = tmp_path_factory.mktemp("tiny_conversion")
    runtimes.build("onnxruntime", ExportedModelSpec.of(model_io.ModelFile.read(tiny["path"])), None, folder)
    onnx_file = model_conversion(tiny["path"], folder)
    return [onnx_file, runtimes._digest_path(onnx_file)]


def _cached(tiny_conversion: list[Path], runtime_dir: Path) -> None:
    """Tiny's conversion cached in ``runtime_dir``, as a run converting it leaves it."""
    runtime_dir.mkdir(parents=True, exist_ok=True)
    for source in tiny_conversion:
        shutil.copyfile(source, runtime_dir / source.name)


@pytest.fixture
def conversions(tmp_path, monkeypatch) -> list:
    """A fresh folder of converted models; the list grows by one per ONNX conversion made."""
    monkeypatch.setenv("FEATCACHE_RUNTIME_DIR", str(tmp_path / "runtimes"))
    calls: list = []
    export = runtimes._export_onnx
    monkeypatch.setattr(runtimes, "_export_onnx", lambda *a: (calls.append(a[1].key()), export(*a))[1])
    return calls


def _one_line(exc: pytest.ExceptionInfo) -> str:
    assert "\n" not in str(exc.value)
    return str(exc.value)


@pytest.mark.slow
def test_every_runtime_gives_keras_probabilities_for_any_input(tiny, conversions):
    assert CONVERTED == ["onnxruntime", "openvino"]  # both are default dependencies (pyproject.toml)
    for name in ("tensorflow", *CONVERTED, "xnnpack"):  # xnnpack: a TFLite file of its own, input resized per shape
        runner = ModelRunner(tiny["path"], runtime=name, batch_size=2)
        assert (runner.runtime_used, runner.runtime_note) == (name, None)
        for kind, x in tiny["images"].items():  # batches of 2: the last one is short
            np.testing.assert_allclose(runner(x), tiny["want"][kind], atol=1e-5, err_msg=f"{name}, {kind}")
    assert len(conversions) == 1  # OpenVINO reads the file ONNX Runtime's build converted


@pytest.mark.slow
def test_conversion_is_keyed_by_the_files_content_not_its_path(tiny, other, conversions, tmp_path):
    ModelRunner(tiny["path"], runtime="onnxruntime")  # converted once by name...
    np.save(tmp_path / "x.npy", tiny["images"]["rgb"])
    preds = predict(tiny["path"], [tmp_path / "x.npy"])  # ...auto then takes the cached conversion, for 5 images
    assert (preds.runtime, preds.runtime_note) == ("onnxruntime", None)
    want = [[c for c, _ in p.top] for p in predict(tiny["path"], [tmp_path / "x.npy"], runtime="tensorflow")]
    assert [[c for c, _ in p.top] for p in preds] == want
    copy = shutil.copy(tiny["path"], tmp_path / "elsewhere.keras")
    ModelRunner(copy, runtime="onnxruntime")
    assert len(conversions) == 1  # a copy elsewhere is the same model
    files = sorted(p.name for p in (tmp_path / "runtimes").iterdir())
    assert files == [f"{conversions[0]}.onnx", f"{conversions[0]}.onnx.sha256"]  # nothing half-written left beside it
    other = Path(shutil.copyfile(other, tmp_path / "elsewhere.keras"))  # another model under the copy's name
    runner = ModelRunner(other, runtime="onnxruntime")
    assert len(conversions) == 2 and conversions[1] != conversions[0]
    net, _ = model_io.load_model(other)
    x = tiny["images"]["rgb"]
    np.testing.assert_allclose(runner(x), net.predict(x, verbose=0), atol=1e-5)


def test_auto_does_not_convert_for_a_few_images_and_keeps_quiet_about_it(tiny, conversions, capsys, tmp_path):
    """auto's choice of TensorFlow for a job too small to repay a conversion is no fallback: predict said
    "runtime auto: using tensorflow (5 images do not repay ...)" on every run of a few photos (a new-user tester).
    What ran is still in the result and the JSON; extract, run once per data set, still says why."""
    x = tiny["images"]["rgb"]
    np.save(tmp_path / "x.npy", x)
    preds = predict(tiny["path"], [tmp_path / "x.npy"])  # 5 images: a conversion would not pay back
    assert (preds.runtime, preds.runtime_note) == ("tensorflow", None)
    assert conversions == []
    assert main(["predict", str(tiny["path"]), str(tmp_path / "x.npy"), "--json"]) == 0
    out, err = capsys.readouterr()
    answer = json.loads(out)
    assert len(answer["predictions"]) == 5 and answer["runtime"] == "tensorflow" and answer["runtime_note"] is None
    assert err == ""
    assert main(["predict", str(tiny["path"]), str(tmp_path / "x.npy")]) == 0
    out, err = capsys.readouterr()
    assert err == "" and len(out.splitlines()) == 5


def test_auto_counts_the_forward_passes_of_a_views_model(conversions, capsys, tmp_path, monkeypatch, progress_on):
    """Regression: predict and evaluate (MODEL FOLDER) on a model of test-time views chose the runtime by its images,
    not images x views (ModelRunner passed no views to the runtime choice), so a job of enough passes to repay a
    conversion ran on TensorFlow, and one whose conversion was cached was said too small for it. Extract already
    counted passes.
    The threshold is set between this job's images and its passes."""
    if not CONVERTED:
        pytest.skip("no converted runtime installed")
    path = _tiny_model(tmp_path / "views.keras", views=("orig", "flip"))
    x = np.random.default_rng(2).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "x.npy", x)
    monkeypatch.setattr(runtimes, "AUTO_MIN_IMAGES", 2 * len(x))  # 3 images: small; 3 x 2 views: not
    assert ModelRunner(path, runtime="auto", expected_images=len(x)).runtime_used == CONVERTED[0]
    assert len(conversions) == 1
    args = ["predict", str(path), str(tmp_path / "x.npy")]
    assert main(args) == 0  # its conversion now cached: taken because the job repays it, so no "was cached" note
    err = capsys.readouterr().err.splitlines()
    assert re.fullmatch(rf"model ready on {CONVERTED[0]} in \d+\.\d s", err[1]) and len(err) == 3, err
    # the summary counts images, each run in its 2 views (extract's words)
    assert re.fullmatch(rf"predict: predicted 3 images x 2 views in .* images/s, \d+ view-images/s, runtime "
                        rf"{CONVERTED[0]}; model ready in \d+\.\d s\)", err[2]), err
    monkeypatch.setattr(runtimes, "AUTO_MIN_IMAGES", 2 * len(x) + 1)  # now too few passes: TensorFlow, or the cached one
    assert main(args) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[1].endswith("(runtime auto: its conversion was cached)"), err
    assert len(conversions) == 1
    # evaluate MODEL FOLDER: the same choice over a folder of as many photos (one per class), so counting passes
    # is checked on evaluate's own call of the runner too (without views=views there, this job was said too small)
    folder = make_class_tree(tmp_path / "photos", dict.fromkeys(CLASSES, 1), size=32)
    evaluate_args = ["evaluate", str(path), str(folder), "--out", str(tmp_path / "report")]
    monkeypatch.setattr(runtimes, "AUTO_MIN_IMAGES", 2 * len(CLASSES))
    assert main(evaluate_args) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("model ready on ")]
    assert len(err) == 1 and re.fullmatch(rf"model ready on {CONVERTED[0]} in \d+\.\d s", err[0]), err
    monkeypatch.setattr(runtimes, "AUTO_MIN_IMAGES", 2 * len(CLASSES) + 1)
    assert main([*evaluate_args[:-1], str(tmp_path / "report2")]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("model ready on ")]
    assert len(err) == 1 and err[0].endswith("(runtime auto: its conversion was cached)"), err
    assert len(conversions) == 1


def test_predict_says_which_runtime_ran_and_why_auto_took_a_cached_conversion(tiny, conversions, capsys, tmp_path,
                                                                             progress_on, tiny_conversion):
    """Regression (a new-user tester): predict of 2 images was silent for 27 s while it loaded the model, its text
    output never said which runtime ran (only --json did), and auto's choice of a cached conversion for a few
    images was said nowhere. Status lines as extract's: what it prepares, then what runs it, how soon, and why."""
    np.save(tmp_path / "x.npy", tiny["images"]["rgb"])
    args = ["predict", str(tiny["path"]), str(tmp_path / "x.npy")]
    assert main(args) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"predicting 5 images with {tiny['path']}; preparing the model on runtime auto ..."
    assert re.fullmatch(r"model ready on tensorflow in \d+\.\d s", err[1]) and len(err) == 3, err
    assert re.fullmatch(r"predict: predicted 5 images in \d+\.\d s \(\d+ images/s, runtime tensorflow; model ready "
                        r"in \d+\.\d s\)", err[2]), err  # and how fast, as extract's summary says it
    _cached(tiny_conversion, tmp_path / "runtimes")  # its conversion, cached
    assert main(args) == 0
    err = capsys.readouterr().err.splitlines()
    assert re.fullmatch(r"model ready on onnxruntime in \d+\.\d s \(runtime auto: its conversion was cached\)",
                        err[1]) and len(err) == 3, err
    assert main([*args, "--runtime", "openvino"]) == 0  # asked for by name: no reason to give
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("preparing the model on runtime openvino ...")
    assert re.fullmatch(r"model ready on openvino in \d+\.\d s", err[1]), err


def test_predict_and_evaluate_on_a_cached_conversion_import_neither_tensorflow_nor_keras(tiny, conversions, tmp_path,
                                                                                         tiny_conversion):
    """Regression (issue 14): predict and evaluate of an exported model whose conversion was cached imported Keras
    and TensorFlow anyway (the converters' versions in the conversion's key, Keras's backend), 20 s of a start
    at load 9 for a model that runs without them. Now neither is imported, by name and under ``auto``, and the
    probabilities are Keras's. predict imports no scikit-learn, SciPy, pandas or matplotlib either (helpers.HEAVY: the
    CLI's parser imported scikit-learn, 4.6 s at load 12); nor does evaluate, but matplotlib for its plot: it ran
    scikit-learn's metrics, whose import was 1.5-2.9 s of a 5-8 s evaluate (helper-282; analysis.evaluate.metrics
    counts them itself now)."""
    from helpers import HEAVY, cli_imports, make_class_tree

    _cached(tiny_conversion, tmp_path / "runtimes")  # its conversion, cached
    np.save(tmp_path / "x.npy", tiny["images"]["rgb"])
    for runtime in ("onnxruntime", "auto"):
        proc, imported = cli_imports(tmp_path, "predict", str(tiny["path"]), str(tmp_path / "x.npy"), "--runtime",
                                     runtime, "--json", "--top-k", str(len(CLASSES)))
        assert proc.returncode == 0 and imported == [], (runtime, imported, proc.stderr[-2000:])
        got = json.loads(proc.stdout)
        assert got["runtime"] == "onnxruntime", got
        probs = [{p["class"]: p["probability"] for p in row["top"]} for row in got["predictions"]]
        np.testing.assert_allclose([[row[c] for c in CLASSES] for row in probs], tiny["want"]["rgb"], atol=1e-4)
    make_class_tree(tmp_path / "photos", {c: 2 for c in CLASSES}, size=32)
    proc, imported = cli_imports(tmp_path, "evaluate", str(tiny["path"]), str(tmp_path / "photos"), "--runtime",
                                 "onnxruntime", "--json", modules=tuple(m for m in HEAVY if m != "matplotlib"))
    assert proc.returncode == 0 and imported == [], (imported, proc.stderr[-2000:])
    assert conversions == []


def test_auto_falls_back_when_no_fast_runtime_is_installed(tiny, conversions, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    monkeypatch.setitem(sys.modules, "openvino", None)
    runner = ModelRunner(tiny["path"], runtime="auto", expected_images=10_000)
    assert runner.runtime_used == "tensorflow"
    assert "pip install onnxruntime" in runner.runtime_note and "pip install openvino" in runner.runtime_note
    np.testing.assert_allclose(runner(tiny["images"]["rgb"]), tiny["want"]["rgb"], atol=1e-6)
    assert conversions == []


def test_runtime_errors_are_one_line(tiny, conversions, monkeypatch, capsys, tmp_path):
    np.save(tmp_path / "x.npy", tiny["images"]["rgb"])
    assert main(["predict", str(tiny["path"]), str(tmp_path / "x.npy"), "--runtime", "tensorrt"]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown runtime 'tensorrt'" in err and "onnxruntime" in err and len(err.splitlines()) == 1
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(FeatcacheError) as exc:
        predict(tiny["path"], [tmp_path / "x.npy"], runtime="openvino")
    assert str(exc.value).startswith("runtime='openvino': ") and "pip install openvino" in _one_line(exc)  # the keyword
    monkeypatch.setattr(runtimes, "_export_onnx", lambda *a: (_ for _ in ()).throw(FeatcacheError("cannot convert model m.keras to ONNX (X); use --runtime tensorflow")))
    with pytest.raises(FeatcacheError) as exc:
        ModelRunner(tiny["path"], runtime="onnxruntime")
    assert "use --runtime tensorflow" in _one_line(exc)
    runner = ModelRunner(tiny["path"], runtime="auto", expected_images=10_000)  # auto says why and runs on
    assert runner.runtime_used == "tensorflow" and "cannot convert model m.keras" in runner.runtime_note
    assert not (tmp_path / "runtimes").exists() or not list((tmp_path / "runtimes").iterdir())


def test_a_model_file_replaced_while_converting_is_converted_from_the_bytes_hashed(tiny, other, conversions, tmp_path):
    """A conversion is cached under the model's SHA-256: made from the file read again after it was hashed, a file
    replaced in between was cached under the first one's key (then refused by hashing the file once more after the
    load). The network is loaded from the bytes hashed now (deploy.model.ModelFile): what is cached under the key
    runs those bytes' model, whatever is at the path since; a spec without them reads the file and refuses another."""
    path = Path(shutil.copy(tiny["path"], tmp_path / "m.keras"))
    spec = ExportedModelSpec.of(model_io.ModelFile.read(path))
    path.write_bytes(other.read_bytes())  # another model there now
    _, forward, _ = runtimes.build("onnxruntime", spec, None, tmp_path / "runtimes")
    x = tiny["images"]["rgb"]
    np.testing.assert_allclose(forward(x)[0], tiny["want"]["rgb"], atol=1e-5)
    assert conversions == [spec.key()]
    bare = ExportedModelSpec(spec.path, spec.digest, spec.image_size, spec.n_classes)  # no bytes: the file read again
    with pytest.raises(FeatcacheError) as exc:
        bare.build_keras()
    assert "changed while it was read (it is no longer the file read at the start)" in _one_line(exc)


def test_tensorflow_runner_gives_keras_probabilities_after_its_warm_up(tiny):
    """ModelRunner traces its forward function when built (one image of the model's size, as extraction's Mapper
    does): the outputs of every input kind after it are Keras's, to 1e-6, the open signature still open (a gray
    image of another size after the RGB warm-up), batches short or whole."""
    runner = ModelRunner(tiny["path"], runtime="tensorflow", batch_size=2)
    for kind, x in tiny["images"].items():
        for batch in (1, 2, len(x)):
            np.testing.assert_allclose(runner(x, batch), tiny["want"][kind], atol=1e-6, rtol=0, err_msg=f"{kind}, {batch}")


def test_predict_bar_leaves_the_models_preparation_out_of_its_rate(tiny, progress_on, monkeypatch, capsys):
    """predict's bar started before the model loaded and counted its preparation (TensorFlow's import, the load, a
    conversion) as images' time: 153 photos said '12s total, 13 images/s' after 'model ready ... in 6.4 s', against
    27 images/s for their decoding and passes, and extract's images/s leaves its model build out (a new-user tester:
    predict at half extract's speed, 2026-12-06). A preparation of 2 s (a slow load) is left out of the total."""
    init = ModelRunner.__init__

    def slow_init(self, *a, **k):
        init(self, *a, **k)
        time.sleep(2.0)

    monkeypatch.setattr(ModelRunner, "__init__", slow_init)
    x = np.concatenate([tiny["images"]["rgb"]] * 2)  # 10 images, batches of 2: a bar
    preds = predict(tiny["path"], x, batch_size=2, runtime="tensorflow", verbose=True)
    assert len(preds) == 10
    last = [line for line in capsys.readouterr().err.splitlines() if line.startswith("10/10")][-1]
    seconds = int(re.search(r"- (\d+)s total, ", last).group(1))
    assert seconds < 2, last


@pytest.mark.skipif("openvino" not in CONVERTED, reason="openvino is not installed")
def test_predict_from_threads_at_once_on_one_loaded_model_on_openvino(tiny, conversions, monkeypatch, tmp_path,
                                                                     tiny_conversion):
    """Regression (h305, an adversarial tester): predict(loaded, images, runtime='openvino') from threads at once on
    one load_model result shares its runner, whose one OpenVINO infer request refused a second call while it ran one
    ("RuntimeError: Infer Request is busy", a traceback in 2 of 5 threads on a real model). The real request runs
    each call; the wrapper only holds each call a moment, so calls that overlap (the old runner's) are seen every
    time, not by chance. Each thread gets Keras's probabilities."""
    import threading

    import featcache

    compile_real = runtimes.OpenVinoRuntime.compile
    most = [0]  # the most calls one request was given at once
    count = threading.Lock()

    class HeldRequest:
        def __init__(self, request):
            self.request, self.running = request, 0

        def infer(self, inputs):
            with count:
                self.running += 1
                most[0] = max(most[0], self.running)
            time.sleep(0.05)
            try:
                return self.request.infer(inputs)
            finally:
                with count:
                    self.running -= 1

    class HeldModel:
        def __init__(self, compiled):
            self.compiled, self.outputs = compiled, compiled.outputs

        def create_infer_request(self):
            return HeldRequest(self.compiled.create_infer_request())

    _cached(tiny_conversion, tmp_path / "runtimes")  # OpenVINO runs ONNX Runtime's conversion: made once
    monkeypatch.setattr(runtimes.OpenVinoRuntime, "compile", lambda self, path: HeldModel(compile_real(self, path)))
    loaded = featcache.load_model(tiny["path"])
    images, want = list(tiny["images"]["rgb"]), tiny["want"]["rgb"]
    got: dict[int, np.ndarray] = {}
    errors: list[str] = []
    predict(loaded, images[:1], runtime="openvino", batch_size=1)  # the runner, built once, that the threads share
    start = threading.Barrier(4)

    def run(i: int) -> None:
        start.wait()
        try:
            got[i] = predict(loaded, images, runtime="openvino", batch_size=1).probabilities
        except Exception as exc:  # noqa: BLE001 - the finding is any exception at all
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and most[0] == 1, (errors, most)
    assert sorted(got) == [0, 1, 2, 3]
    for probabilities in got.values():
        np.testing.assert_allclose(probabilities, want, atol=1e-4)


def test_a_second_predict_on_the_same_bytes_loads_no_network_again(tiny, other, tmp_path, monkeypatch):
    """Each predict and evaluate on TensorFlow loaded its model with Keras (3.2 s for a 32 px MobileNetV2 model) and
    traced it (1.7 s), the same bytes again and again in one process (a notebook, the test suite). The compiled
    forward is kept under the SHA-256 of the bytes it was loaded from (runtimes._model_key): a second predict, of a
    copy elsewhere too, loads nothing and gives the same probabilities; a file replaced with another model under the
    same name is another digest, loaded again, its own probabilities; a file replaced after a kept forward ran is
    still refused (check_unchanged). Fails on the code before: a load per predict."""
    other_model = other
    other_want = model_io.load_model(other_model)[0].predict(tiny["images"]["rgb"], verbose=0)
    runtimes.forget_built()
    loads = []
    real_network = model_io._network
    monkeypatch.setattr(model_io, "_network", lambda *a, **k: loads.append(a[0]) or real_network(*a, **k))
    x = tiny["images"]["rgb"]
    first = predict(tiny["path"], x, runtime="tensorflow")
    np.testing.assert_allclose(first.probabilities, tiny["want"]["rgb"], atol=1e-6, rtol=0)
    assert len(loads) == 1
    copy = Path(shutil.copy(tiny["path"], tmp_path / "copy.keras"))
    again = predict(copy, x, runtime="tensorflow")
    np.testing.assert_array_equal(again.probabilities, first.probabilities)
    assert len(loads) == 1  # the same bytes: nothing loaded
    copy.write_bytes(other_model.read_bytes())  # another model under the copy's name
    replaced = predict(copy, x, runtime="tensorflow")
    assert len(loads) == 2 and loads[-1] == copy
    np.testing.assert_allclose(replaced.probabilities, other_want, atol=1e-6, rtol=0)
    init = ModelRunner.__init__

    def then_replaced(self, *a, **k):  # the kept forward taken, then the file replaced before the images run
        init(self, *a, **k)
        copy.write_bytes(tiny["path"].read_bytes())

    monkeypatch.setattr(ModelRunner, "__init__", then_replaced)
    with pytest.raises(FeatcacheError) as exc:
        predict(copy, x, runtime="tensorflow")
    assert "changed while" in _one_line(exc) and len(loads) == 2
    runtimes.forget_built()  # freed: built again
    predict(copy, x, runtime="tensorflow")
    assert len(loads) == 3
