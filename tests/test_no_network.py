"""featcache sends nothing anywhere: the inference runtimes' telemetry stays off (docs/install.md, "Offline use").

OpenVINO posted an "import" event to Google Analytics from a forked process the moment it was imported, and wrote
~/intel/openvino_ga_cid and ~/intel/stats; ONNX Runtime wrote a device id and an event queue under
~/.cache/Microsoft/DeveloperTools and asked for mobile.events.data.microsoft.com about 9 s after its import
(``runtimes.TELEMETRY_OFF`` says where each comes from). The runtimes' code paths run in a subprocess under
``no_network``: every request is recorded and refused, and HOME starts empty.
"""

from __future__ import annotations

import subprocess
import sys

# The tiny one-block network of tests/test_runtimes.py, random weights: auto's probe imports both converted runtimes
# (a small job, nothing cached: it ends on TensorFlow), then each converts or loads the ONNX file, compiles and runs.
# ONNX Runtime's uploader first tried 9.0-9.1 s after its import (three runs): the process lives 10.5 s past it, to
# see that try. Were it later, the files its import writes in HOME (checked below) still catch ONNX Runtime's telemetry.
# The 10.5 s count from the end of the probe's import of ONNX Runtime (``import_runtime``, timed), not from after
# auto's TensorFlow build: TensorFlow's import and the build (5-10 s) came before the count and only made it longer.
SCRIPT = """
import os, sys, time
from pathlib import Path
import numpy as np
from featcache.embedding import runtimes

imported = []
import_runtime = runtimes.import_runtime

def timed_import(name):
    module = import_runtime(name)
    if name == "onnxruntime" and not imported:
        imported.append(time.monotonic())
    return module

runtimes.import_runtime = timed_import
spec = runtimes.ConversionSpec("mobilenet_v2", "random", 32, ("block_1_expand_relu",), (28, 28))
images = np.random.default_rng(1).integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
folder = Path(sys.argv[1])
used, _, _ = runtimes.build("auto", spec, None, folder, expected_images=len(images))
assert {"onnxruntime", "openvino"} <= set(sys.modules), "auto's probe imports both"
assert imported, "auto's probe imported onnxruntime through import_runtime"
(imported,) = imported
for name in ("openvino", "onnxruntime"):
    print(name, runtimes.build(name, spec, None, folder)[1](images)[0].shape)
time.sleep(max(0.0, 10.5 - (time.monotonic() - imported)))
print("auto used", used, "; after:", {k: os.environ.get(k) for k in ("CI", "ORT_DISABLE_TELEMETRY")})
"""


def test_the_converted_runtimes_send_nothing_and_write_nothing_in_home(no_network, tmp_path):
    home, tries = no_network
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "runtimes")], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "openvino (4, 96)" in proc.stdout and "onnxruntime (4, 96)" in proc.stdout  # each ran the network
    # the switches were set for the imports only: the environment is as the process found it
    assert "auto used tensorflow ; after: {'CI': None, 'ORT_DISABLE_TELEMETRY': None}" in proc.stdout, proc.stdout
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
    found = tries() + [f"written in HOME: {name}" for name in written]
    assert not found, "\n".join(found)
