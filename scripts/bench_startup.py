#!/usr/bin/env python3
"""Benchmark: how long ``featcache extract`` takes to start when its converted model is already cached (issue 14).

Issue 14 asks that "a second extraction starts in seconds". Each run is a fresh ``python3 -m featcache extract
--runtime R --json`` of a few Fashion-MNIST images into a new cache, so only the start differs from one run to the
next: the process's wall time, the ``startup_seconds`` extract reports (the network's preparation: finding and
loading the cached conversion, or building the Keras model), and whether the process imported TensorFlow or Keras
at all (``sys.modules`` at its exit). One conversion is made first, unmeasured, into ``--runtime-dir``, and every
run after it loads that one.

Several checkouts (``--checkouts``, e.g. an older clone and this one) run in turns, the order alternating each
round, so a change of load hits them alike; each run's ``PYTHONPATH`` is its checkout. The one conversion serves
them all where their conversion keys agree (the key names the converter versions): a run that converts is flagged.

    python scripts/bench_startup.py --weights ../shared/weights/mobilenet_v2_1.0_imagenet_no_top.weights.h5 \\
        --checkouts /tmp/old-clone,. --rounds 3

With ``--command ARGS`` (repeatable) it times those commands instead, the same way: each a fresh ``python3 -m
featcache ARGS`` per checkout, in turns, its wall time, exit status and which heavy modules it imported
(scikit-learn, SciPy, matplotlib, ...). ``{out}`` in ARGS is a new path in a scratch folder for each run (an
extract's --out, an evaluate's --out), so no run finds another's output:

    python scripts/bench_startup.py --checkouts /tmp/old-clone,. --command 'train --help' --command 'curve --help' \\
        --command 'extract --images /tmp/jpegs --test-fraction 0.2 --weights W --image-size 96 --out {out}'
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# The heavy modules a run reports whether it imported.
HEAVY = ("tensorflow", "keras", "onnxruntime", "sklearn", "scipy", "pandas", "matplotlib", "h5py")
# Runs the CLI as ``python -m featcache`` does, then writes which of the heavy modules the process imported.
_RUN = """
import json, sys
out = sys.argv.pop(1)
MODULES = json.loads(sys.argv.pop(1))
sys.argv[0] = "featcache"
code = 0
try:
    from featcache.cli import main
    code = main()
finally:
    with open(out, "w") as f:
        json.dump({m: m in sys.modules for m in MODULES}, f)
raise SystemExit(code)
"""


def extract_args(a: argparse.Namespace, out: Path) -> list[str]:
    return ["extract", "--data-dir", str(a.fashion_dir), "--weights", a.weights, "--image-size", str(a.image_size),
            "--train-limit", str(a.train_limit), "--test-limit", str(a.test_limit), "--runtime", a.runtime,
            *(["--layers", a.layers] if a.layers else []), "--out", str(out), "--json"]


def run_cli(checkout: Path, args: list[str], a: argparse.Namespace, scratch: Path, n: int,
            modules: tuple[str, ...]) -> tuple[subprocess.CompletedProcess, float, dict]:
    """``featcache ARGS`` in a fresh process on ``checkout``'s code: the process, its wall seconds, which of
    ``modules`` it imported."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "FEATCACHE_RUNTIME_DIR": str(a.runtime_dir),
           "FEATCACHE_PROGRESS": "off", "TF_CPP_MIN_LOG_LEVEL": "2"}
    seen = scratch / f"modules{n}.json"
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _RUN, str(seen), json.dumps(modules), *args],
                          capture_output=True, text=True, env=env, cwd=scratch)
    return proc, time.perf_counter() - t, json.loads(seen.read_text())


def one_run(checkout: Path, a: argparse.Namespace, scratch: Path, n: int) -> dict:
    """One extract in a fresh process on ``checkout``'s code: wall seconds, what it reported, what it imported."""
    proc, wall, imported = run_cli(checkout, extract_args(a, scratch / f"c{n}.h5"), a, scratch, n,
                                   ("tensorflow", "keras", "onnxruntime"))
    if proc.returncode != 0:
        raise SystemExit(f"extract on {checkout} failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    res = json.loads(proc.stdout)
    return {"wall_s": round(wall, 2), "startup_s": res.get("startup_seconds"), "seconds": res.get("seconds"),
            "runtime": res.get("runtime"), "converted": res.get("converted"),
            "imported": imported, "load": round(os.getloadavg()[0], 1)}


def command_run(checkout: Path, command: str, a: argparse.Namespace, scratch: Path, n: int) -> dict:
    """``featcache COMMAND`` (``{out}``: a new path for this run) in a fresh process: wall seconds, exit status, the
    heavy modules it imported."""
    args = [w.replace("{out}", str(scratch / f"out{n}")) for w in shlex.split(command)]
    proc, wall, imported = run_cli(checkout, args, a, scratch, n, HEAVY)
    if proc.returncode != 0:
        raise SystemExit(f"{command!r} on {checkout} failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    try:  # a command run with --json: the seconds it reports (an extract's own, without the start)
        said = json.loads(proc.stdout).get("seconds")
    except (ValueError, AttributeError):
        said = None
    return {"wall_s": round(wall, 2), "seconds": said, "imported": sorted(m for m, yes in imported.items() if yes),
            "load": round(os.getloadavg()[0], 1)}


def time_commands(checkouts: list[Path], a: argparse.Namespace, scratch: Path) -> dict:
    """Each of ``--command`` on each checkout, in turns (the order alternating each round): its runs and median."""
    runs: dict[str, dict[str, list[dict]]] = {cmd: {str(c): [] for c in checkouts} for cmd in a.command}
    n = 0
    for r in range(a.rounds):
        for cmd in a.command:
            for c in (checkouts if r % 2 == 0 else checkouts[::-1]):
                run = command_run(c, cmd, a, scratch, n)
                n += 1
                runs[cmd][str(c)].append(run)
                own = f" (it says {run['seconds']:.2f} s)" if isinstance(run["seconds"], (int, float)) else ""
                print(f"round {r + 1} {cmd!r} on {c}: wall {run['wall_s']} s{own}, imported {', '.join(run['imported']) or 'none'}, "
                      f"load {run['load']}", flush=True)
    print()
    for cmd, by in runs.items():
        for c, v in by.items():
            print(f"{cmd!r} on {c}: {', '.join(str(x['wall_s']) for x in v)} s, median "
                  f"{statistics.median(x['wall_s'] for x in v):.2f} s")
    return {"commands": runs, "cores": os.cpu_count(), "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weights", help="the extract's weights (required without --command)")
    p.add_argument("--command", action="append", metavar="ARGS",
                   help="time 'featcache ARGS' instead of the extract, repeatable; {out} is a new path for each run")
    p.add_argument("--checkouts", default=str(REPO), help="comma-separated checkouts to compare (default: this one)")
    p.add_argument("--fashion-dir", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    p.add_argument("--runtime", default="onnxruntime", help="onnxruntime, openvino, xnnpack or auto")
    p.add_argument("--image-size", type=int, default=96)
    p.add_argument("--layers", help="as extract --layers (default: extract's, the final layer); an early one, e.g. "
                                    "block_1_expand_relu, converts in seconds (the smoke test's)")
    p.add_argument("--train-limit", type=int, default=64)
    p.add_argument("--test-limit", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--runtime-dir", type=Path, help="where the conversion is kept (default: a temporary folder)")
    p.add_argument("--json", type=Path, help="also write the results here")
    a = p.parse_args()
    checkouts = [Path(c).resolve() for c in a.checkouts.split(",") if c]
    if a.command:
        with tempfile.TemporaryDirectory(prefix="bench_startup.") as tmp:
            a.runtime_dir = (a.runtime_dir or Path(tmp) / "runtimes").resolve()
            report = time_commands(checkouts, a, Path(tmp))
        if a.json:
            a.json.write_text(json.dumps(report, indent=1))
        return
    if a.weights is None:
        p.error("--weights is required to time the extract (or give --command)")
    a.weights = a.weights if a.weights in ("imagenet", "random") else str(Path(a.weights).resolve())
    with tempfile.TemporaryDirectory(prefix="bench_startup.") as tmp:
        scratch = Path(tmp)
        a.runtime_dir = (a.runtime_dir or scratch / "runtimes").resolve()
        t = time.perf_counter()
        first = one_run(checkouts[0], a, scratch, 0)  # converts, unless the folder holds the conversion already
        print(f"first run (conversion {'made' if first['converted'] else 'found'}): {time.perf_counter() - t:.1f} s",
              flush=True)
        runs: dict[str, list[dict]] = {str(c): [] for c in checkouts}
        n = 1
        for r in range(a.rounds):
            for c in (checkouts if r % 2 == 0 else checkouts[::-1]):
                run = one_run(c, a, scratch, n)
                n += 1
                runs[str(c)].append(run)
                print(f"round {r + 1} {c}: wall {run['wall_s']} s, startup {run['startup_s']} s on {run['runtime']}"
                      f"{' (CONVERTED)' if run['converted'] else ''}, imported {run['imported']}, load {run['load']}",
                      flush=True)
    report = {"runtime": a.runtime, "image_size": a.image_size, "layers": a.layers, "images": a.train_limit + a.test_limit,
              "cores": os.cpu_count(), "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "runs": runs,
              "median_wall_s": {c: statistics.median(x["wall_s"] for x in v) for c, v in runs.items()},
              "median_startup_s": {c: statistics.median(x["startup_s"] for x in v) for c, v in runs.items()}}
    print()
    for c in runs:
        print(f"{c}: median wall {report['median_wall_s'][c]:.2f} s, median startup_seconds "
              f"{report['median_startup_s'][c]:.2f} s")
    if a.json:
        a.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
