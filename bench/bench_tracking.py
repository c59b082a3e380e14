"""Tracking benchmark: gitml against MLflow's file store, measured side by side in one run.

Usage: ``python bench/bench_tracking.py [--repeat N]`` (needs the ``bench`` extra: mlflow).

Workloads (each measured in a fresh subprocess, in a fresh git repository or a fresh
``file:`` tracking directory under a temporary folder):

* ``import``: the time of ``import gitml`` / ``import mlflow`` inside a new interpreter;
* ``big``: one run with 20 params and 5 metrics x 1,000 steps logged point by point;
* ``small``: 200 small runs (5 params, 3 metrics) created one after another.

The median of ``--repeat`` measurements is reported for each, with the ratio MLflow/gitml.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

TARGETS = {"import": ("< 0.1 s", None), "big": ("≥ 20×", 20.0), "small": ("≥ 4×", 4.0)}


# ---------------------------------------------------------------- workloads (run in a child)
def work_import(tool: str) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    __import__(tool)
    return time.perf_counter() - start, time.process_time() - cpu


def work_big(tool: str) -> tuple[float, float]:
    lib = _open(tool)
    start, cpu = time.perf_counter(), time.process_time()
    with lib.start_run():
        lib.log_params({f"param_{i}": i * 0.5 for i in range(20)})
        for step in range(1000):
            for k in range(5):
                lib.log_metric(f"metric_{k}", step * 0.001 + k, step=step)
    return time.perf_counter() - start, time.process_time() - cpu


def work_small(tool: str) -> tuple[float, float]:
    lib = _open(tool)
    start, cpu = time.perf_counter(), time.process_time()
    for r in range(200):
        with lib.start_run():
            lib.log_params({f"p{i}": r + i for i in range(5)})
            lib.log_metric("acc", 0.5 + r / 1000)
            lib.log_metric("loss", 1.0 / (r + 1))
            lib.log_metric("f1", 0.25)
    return time.perf_counter() - start, time.process_time() - cpu


def _open(tool: str):  # type: ignore[no-untyped-def]
    if tool == "mlflow":
        import mlflow

        mlflow.set_tracking_uri("file://" + os.path.abspath("mlruns"))
        return mlflow
    import gitml

    gitml.start_run, gitml.log_metric  # noqa: B018 - load the lazy API now, as `import mlflow` does
    return gitml


WORKLOADS = {"import": work_import, "big": work_big, "small": work_small}


# ---------------------------------------------------------------- driver
_SCRATCH: list[tempfile.TemporaryDirectory] = []  # type: ignore[type-arg]


def measure(tool: str, workload: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the measuring process) of one workload in a child."""
    # Folders are removed only at the end: on this kind of disk, deleting thousands of
    # files stalls the writes that follow, which would tax whichever tool runs next.
    scratch = tempfile.TemporaryDirectory(prefix=f"bench-{tool}-")
    _SCRATCH.append(scratch)
    tmp = scratch.name
    if tool == "gitml":
        env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.com",
               "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@example.com"}
        subprocess.run(["git", "init", "-q"], cwd=tmp, check=True)
        with open(os.path.join(tmp, "train.py"), "w") as f:
            f.write("print('training')\n")
        subprocess.run(["git", "add", "train.py"], cwd=tmp, check=True, env=env)
        subprocess.run(["git", "commit", "-qm", "init"], cwd=tmp, check=True, env=env)
    else:
        env = dict(os.environ)
    env.pop("GITML_RUN_ID", None)
    env["MLFLOW_ENABLE_ASYNC_LOGGING"] = "false"
    env["MLFLOW_ALLOW_FILE_STORE"] = "true"
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--worker", tool, workload],
        cwd=tmp, env=env, capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{tool} {workload} failed:\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), float(result["cpu"])


def main() -> None:
    from _bytecode import compile_gitml

    compile_gitml()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="measurements per figure (median)")
    parser.add_argument("--only", choices=sorted(WORKLOADS), action="append", help="workload(s)")
    parser.add_argument("--worker", nargs=2, metavar=("TOOL", "WORKLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        tool, workload = args.worker
        wall, cpu = WORKLOADS[workload](tool)
        print(json.dumps({"seconds": wall, "cpu": cpu}))
        return

    import mlflow

    import gitml

    print(f"gitml {gitml.__version__}, mlflow {mlflow.__version__} (file store), "
          f"python {sys.version.split()[0]}, median of {args.repeat}")
    print(f"{'workload':<44}{'gitml':>9}{'mlflow':>9}{'ratio':>8}{'cpu ratio':>11}  target")
    labels = {
        "import": "import (in a fresh interpreter)",
        "big": "1 run: 20 params, 5 metrics x 1,000 steps",
        "small": "200 runs: 5 params, 3 metrics each",
    }
    ok = True
    for workload in args.only or list(WORKLOADS):
        g, m = [], []
        for _ in range(args.repeat):  # interleaved, so both tools meet the same machine
            g.append(measure("gitml", workload))
            m.append(measure("mlflow", workload))
        gw, mw = statistics.median(x[0] for x in g), statistics.median(x[0] for x in m)
        gc, mc = statistics.median(x[1] for x in g), statistics.median(x[1] for x in m)
        ratio = mw / gw
        text, needed = TARGETS[workload]
        met = gw < 0.1 if needed is None else ratio >= needed
        ok = ok and met
        print(f"{labels[workload]:<44}{gw:>8.3f}s{mw:>8.3f}s{ratio:>7.1f}×{mc / gc:>10.1f}×  "
              f"{text} {'ok' if met else 'MISSED'}")
    try:
        load = f" (load average {os.getloadavg()[0]:.1f}, {os.cpu_count() or 0} CPUs)"
    except OSError:
        load = ""
    print(f"wall-clock medians; 'cpu ratio' compares CPU time, which a busy machine skews less{load}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
