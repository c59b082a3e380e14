"""Models benchmark: gitml side by side with MLflow, measured in the same run on this machine.

1. ``log_model`` of a small LogisticRegression with default requirement inference
   (each tool in its own fresh process; the first call and the median of the next ones).
2. A cold ``models predict`` process on a CSV file (wall time of the whole command).
3. Serving: throughput and p50/p99 latency on loopback, same model, same client load
   (keep-alive connections from separate client processes), one server worker each.

Usage: ``python bench/bench_models.py [--seconds 5] [--clients 2] [--rows 1] [--repeat 3]``.
Needs mlflow and scikit-learn (``pip install -e .[bench]``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
ENV = {
    **os.environ,
    "PYTHONPATH": ROOT,
    "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "true",
    "PYTHONWARNINGS": "ignore",
}

FIT = """
import numpy as np, pandas as pd
from sklearn.linear_model import LogisticRegression
rng = np.random.default_rng(0)
X = pd.DataFrame(rng.normal(size=(200, 4)), columns=["a", "b", "c", "d"])
y = (X["a"] + X["b"] > 0).astype(int)
clf = LogisticRegression().fit(X, y)
"""

LOG_GITML = (
    FIT
    + """
import gitml, time, json, statistics
times = []
with gitml.start_run():
    for i in range({n}):
        t = time.perf_counter()
        gitml.sklearn.log_model(clf, f"model{{i}}")
        times.append(time.perf_counter() - t)
print(json.dumps(times))
"""
)

LOG_MLFLOW = (
    FIT
    + """
import mlflow, mlflow.sklearn, time, json, logging
logging.getLogger("mlflow").setLevel(logging.ERROR)
mlflow.set_tracking_uri("sqlite:///" + {db!r})
times = []
with mlflow.start_run():
    for i in range({n}):
        t = time.perf_counter()
        mlflow.sklearn.log_model(clf, name=f"model{{i}}")
        times.append(time.perf_counter() - t)
print(json.dumps(times))
"""
)

SAVE = (
    FIT
    + """
import gitml, mlflow.sklearn
gitml.sklearn.save_model(clf, {gitml_dir!r}, input_example=X[:2])
mlflow.sklearn.save_model(clf, {mlflow_dir!r}, input_example=X[:2])
X.head(20).to_csv({csv!r}, index=False)
"""
)


def run_py(code: str, cwd: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=ENV, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{out.stderr[-3000:]}")
    return out.stdout


def gitml_cmd() -> list[str]:
    exe = shutil.which("gitml")
    return [exe] if exe else [sys.executable, "-c", "from gitml.cli import main; main()"]


def mlflow_cmd() -> list[str]:
    exe = shutil.which("mlflow")
    return [exe] if exe else [sys.executable, "-m", "mlflow"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------- 1. log_model


def bench_log_model(work: str, repeat: int) -> dict[str, list[float]]:
    repo = os.path.join(work, "repo")
    os.makedirs(repo)
    subprocess.run(["git", "init", "-q", repo], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            repo,
            "-c",
            "user.name=b",
            "-c",
            "user.email=b@b",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "init",
        ],
        check=True,
    )
    n = repeat + 1
    gitml_times = json.loads(run_py(LOG_GITML.format(n=n), repo).strip().splitlines()[-1])
    mlflow_dir = os.path.join(work, "mlflow-log")
    os.makedirs(mlflow_dir)
    mlflow_times = json.loads(
        run_py(LOG_MLFLOW.format(n=n, db=os.path.join(mlflow_dir, "db.sqlite")), mlflow_dir)
        .strip()
        .splitlines()[-1]
    )
    return {"gitml": gitml_times, "mlflow": mlflow_times}


# ---------------------------------------------------------------------- 2. cold predict


def timed(cmd: list[str], cwd: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+sys) of a command and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_predict(
    work: str, gitml_dir: str, mlflow_dir: str, csv: str, repeat: int
) -> dict[str, list[tuple[float, float]]]:
    g = [
        timed(
            [
                *gitml_cmd(),
                "models",
                "predict",
                gitml_dir,
                "-i",
                csv,
                "-o",
                os.path.join(work, "g.json"),
            ],
            work,
        )
        for _ in range(repeat)
    ]
    m = [
        timed(
            [
                *mlflow_cmd(),
                "models",
                "predict",
                "-m",
                mlflow_dir,
                "-i",
                csv,
                "-t",
                "csv",
                "--env-manager",
                "local",
                "-o",
                os.path.join(work, "m.json"),
            ],
            work,
        )  # fmt: skip
        for _ in range(repeat)
    ]
    # the floor: a bare interpreter importing what unpickling the model needs anyway
    floor = [
        timed([sys.executable, "-c", "import pandas, sklearn.linear_model, cloudpickle"], work)
        for _ in range(repeat)
    ]
    return {"gitml": g, "mlflow": m, "floor": floor}


# ---------------------------------------------------------------------- 3. serving


def _client(port: int, body: bytes, seconds: float, start: float, queue: mp.Queue) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    while time.time() < start:
        time.sleep(0.001)
    end = time.perf_counter() + seconds
    lat, errors = [], 0
    while time.perf_counter() < end:
        t = time.perf_counter()
        conn.request("POST", "/invocations", body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        lat.append(time.perf_counter() - t)
        if resp.status != 200:
            errors += 1
    conn.close()
    queue.put((lat, errors))


def _wait_ready(port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"server exited early: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
            )
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("server did not become ready")


def bench_serve(
    cmd: list[str], port: int, body: bytes, seconds: float, clients: int
) -> dict[str, float]:
    proc = subprocess.Popen(
        cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        _wait_ready(port, proc)
        # warm-up
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(50):
            conn.request(
                "POST", "/invocations", body=body, headers={"Content-Type": "application/json"}
            )
            r = conn.getresponse()
            payload = r.read()
            if r.status != 200:
                raise SystemExit(f"server answered {r.status}: {payload[:300]!r}")
        conn.close()
        queue: mp.Queue = mp.Queue()
        start = time.time() + 0.5
        procs = [
            mp.Process(target=_client, args=(port, body, seconds, start, queue))
            for _ in range(clients)
        ]
        for p in procs:
            p.start()
        results = [queue.get() for _ in procs]
        for p in procs:
            p.join()
    finally:
        os.killpg(proc.pid, 15)  # the server and any workers it started
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
    lat = sorted(x for r in results for x in r[0])
    return {
        "requests": len(lat),
        "errors": sum(r[1] for r in results),
        "rps": len(lat) / seconds,
        "p50_ms": 1000 * lat[len(lat) // 2],
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))],
    }


# ---------------------------------------------------------------------- report


def ratio(a: float, b: float) -> str:
    return f"{b / a:.1f}x" if a > 0 else "-"


def main() -> None:
    from _bytecode import compile_gitml

    compile_gitml()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0, help="duration of each serving run")
    ap.add_argument(
        "--clients", type=int, default=2, help="client processes (one keep-alive connection each)"
    )
    ap.add_argument("--rows", type=int, default=1, help="rows per scoring request")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions of the timed steps")
    ap.add_argument("--skip-serve", action="store_true")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="gitml-bench-")
    try:
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; work dir {work}\n")
        logs = bench_log_model(work, args.repeat)
        g_first, m_first = logs["gitml"][0], logs["mlflow"][0]
        g_med, m_med = statistics.median(logs["gitml"][1:]), statistics.median(logs["mlflow"][1:])
        print(
            f"load average {os.getloadavg()[0]:.1f} (wall times on a loaded machine are inflated; CPU times are not)\n"
        )
        print("1. sklearn log_model of a LogisticRegression (default requirement inference)")
        print(
            f"   first call   gitml {g_first:7.3f} s   mlflow {m_first:7.3f} s   gitml faster {ratio(g_first, m_first)}"
        )
        print(
            f"   next calls   gitml {g_med:7.3f} s   mlflow {m_med:7.3f} s   gitml faster {ratio(g_med, m_med)}  (median of {args.repeat})"
        )

        gitml_dir, mlflow_dir, csv = (
            os.path.join(work, n) for n in ("gitml-model", "mlflow-model", "in.csv")
        )
        run_py(SAVE.format(gitml_dir=gitml_dir, mlflow_dir=mlflow_dir, csv=csv), work)
        pred = bench_predict(work, gitml_dir, mlflow_dir, csv, args.repeat)
        med = {
            k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
            for k, v in pred.items()
        }
        (gw, gc), (mw, mc), (fw, fc) = med["gitml"], med["mlflow"], med["floor"]
        print(
            f"\n2. cold `models predict` process on a 20-row CSV (median of {args.repeat} runs; CPU = user+sys)"
        )
        print(f"   wall   gitml {gw:7.3f} s   mlflow {mw:7.3f} s   gitml faster {ratio(gw, mw)}")
        print(f"   CPU    gitml {gc:7.3f} s   mlflow {mc:7.3f} s   gitml faster {ratio(gc, mc)}")
        print(f"   floor  `python -c 'import pandas, sklearn.linear_model, cloudpickle'`: wall {fw:.3f} s, CPU {fc:.3f} s"
              f" (gitml's own share: wall {gw - fw:+.3f} s, CPU {gc - fc:+.3f} s)")  # fmt: skip

        if not args.skip_serve:
            import pandas as pd

            frame = pd.read_csv(csv).head(args.rows)
            body = json.dumps(
                {"dataframe_split": {"columns": list(frame.columns), "data": frame.values.tolist()}}
            ).encode()
            port = free_port()
            gs = bench_serve(
                [*gitml_cmd(), "models", "serve", gitml_dir, "--port", str(port)],
                port,
                body,
                args.seconds,
                args.clients,
            )
            port = free_port()
            ms = bench_serve([*mlflow_cmd(), "models", "serve", "-m", mlflow_dir, "-p", str(port), "-h", "127.0.0.1",
                              "--env-manager", "local", "-w", "1"], port, body, args.seconds, args.clients)  # fmt: skip
            print(
                f"\n3. serving {args.rows}-row dataframe_split requests, {args.clients} keep-alive clients, {args.seconds:g} s, 1 worker"
            )
            for name, r in (("gitml", gs), ("mlflow", ms)):
                print(
                    f"   {name:6} {r['rps']:8.0f} req/s   p50 {r['p50_ms']:6.2f} ms   p99 {r['p99_ms']:6.2f} ms   errors {r['errors']}"
                )
            print(f"   throughput gitml/mlflow {gs['rps'] / ms['rps']:.1f}x   p50 mlflow/gitml {ratio(gs['p50_ms'], ms['p50_ms'])}"
                  f"   p99 mlflow/gitml {ratio(gs['p99_ms'], ms['p99_ms'])}")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
