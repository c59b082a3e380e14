"""Benchmark of listing and searching runs: search_runs vs MLflow's file store, and gitml ls.

Usage::

    python bench/bench_query.py                 # 200 / 1,000 / 10,000 runs
    python bench/bench_query.py --large 0       # skip the 10,000-run repository
    python bench/bench_query.py --workdir DIR   # keep generated repositories in DIR

What is measured (runs have 10 params and 5 metrics):

- ``gitml.search_runs`` over 200 runs, in-process (index cache warm, pandas imported),
  against ``mlflow.search_runs`` over 200 runs in an MLflow file store, same filter and
  ordering, both as pandas DataFrames, measured in this same process;
- ``gitml ls`` as a whole process (interpreter start included) over 1,000 runs with a warm
  cache, a deleted cache, and a fresh clone (refs fetched with git, no cache);
- ``gitml ls`` over 10,000 runs with a warm cache;
- with DVC installed (``DVC=/path/to/dvc`` or on PATH), ``dvc exp show`` over 100 saved
  experiments (10 params, 5 metrics each) against ``gitml ls`` over 100 such runs.

Targets (issue 4): search_runs < 0.05 s; ls 1,000 warm < 0.5 s, cold < 1.5 s; 10,000 warm
< 1.5 s. Generated repositories are kept in ``--workdir`` and reused when present.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

FILTER = "metrics.m0 > 0.5"
ORDER_BY = ["metrics.m1 DESC"]
GIT = ["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com"]


# --------------------------------------------------------------------------- timing


EXTRA: list[tuple[float, float]] = []  # (best wall time, median CPU time) of each measure


def _cpu() -> float:
    """CPU seconds used by this process and its finished children."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def median_time(
    action: Callable[[], Any], repeat: int, prepare: Callable[[], Any] | None = None
) -> float:
    """The median wall time of ``action`` over ``repeat`` calls (``prepare`` untimed).

    The best wall time and the median CPU time (insensitive to other load on the
    machine) are kept in EXTRA for the report.
    """
    times, cpu = [], []
    for _ in range(repeat):
        if prepare:
            prepare()
        start, start_cpu = time.perf_counter(), _cpu()
        action()
        times.append(time.perf_counter() - start)
        cpu.append(_cpu() - start_cpu)
    EXTRA.append((min(times), statistics.median(cpu)))
    return statistics.median(times)


def gitml_command() -> list[str]:
    """The installed entry point next to this interpreter (no version-manager shim)."""
    script = Path(sys.executable).with_name("gitml")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from gitml.cli import main; main()"]


def run_ls(repo: Path, *args: str) -> None:
    subprocess.run([*gitml_command(), "ls", *args], cwd=repo, check=True, stdout=subprocess.DEVNULL)


# --------------------------------------------------------------------------- gitml repos


def _write_runs(args: tuple[str, int, int, int]) -> int:
    """Worker: write ``count`` runs numbered from ``first`` into the repository at ``path``."""
    path, first, count, _ = args
    from gitml import record, runs, store

    repository = store.Store.discover(path)
    base = record.now_ms() - 10_000_000
    for number in range(first, first + count):
        start = base + number * 1000
        rng = random.Random(number)  # the same values as the MLflow runs of the same number
        writer = runs.create(
            repository,
            experiment=f"exp-{number % 3}",
            name=f"run-{number}",
            params={f"p{j}": round(rng.random(), 4) for j in range(10)},
            start_time=start,
            code=False,
        )
        for j in range(5):
            writer.log_metric(f"m{j}", rng.random(), step=0)
        writer.set_info(status="FINISHED", end_time=record.iso(start + rng.randint(1, 600_000)))
        writer.flush()
    return count


def gitml_repo(workdir: Path, count: int, workers: int) -> Path:
    """A git repository holding ``count`` runs (reused when it already has them)."""
    path = workdir / f"gitml-{count}"
    marker = path / ".git" / "bench-complete"
    if marker.exists():
        return path
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    (path / "train.py").write_text("print('train')\n")
    subprocess.run([*GIT, "-C", str(path), "add", "train.py"], check=True)
    subprocess.run([*GIT, "-C", str(path), "commit", "-q", "-m", "init"], check=True)
    started = time.perf_counter()
    chunk = -(-count // workers)
    jobs = [(str(path), i, min(chunk, count - i), i) for i in range(0, count, chunk)]
    with ProcessPoolExecutor(workers) as pool:
        written = sum(pool.map(_write_runs, jobs))
    print(f"  wrote {written} runs in {time.perf_counter() - started:.1f} s ({path})")
    marker.write_text("done\n")
    return path


def fresh_clone(source: Path, target: Path) -> Path:
    """A new repository that fetched the source's branch and run refs with git (no cache)."""
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(["git", "init", "-q", str(target)], check=True)
    subprocess.run(
        ["git", "-C", str(target), "fetch", "-q", str(source),
         "refs/heads/*:refs/remotes/origin/*", "refs/gitml/*:refs/gitml/*"],
        check=True,
    )  # fmt: skip
    return target


def delete_cache(repo: Path) -> None:
    cache = repo / ".git" / "gitml" / "index.json"
    if cache.exists():
        cache.unlink()


# --------------------------------------------------------------------------- MLflow


def mlflow_store(workdir: Path, count: int) -> tuple[Any, str]:
    """An MLflow file store with ``count`` runs like gitml's; returns (mlflow, experiment id)."""
    warnings.filterwarnings("ignore")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps it opt-in
    import mlflow
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    root = workdir / f"mlruns-{count}"
    mlflow.set_tracking_uri(root.resolve().as_uri())
    client = MlflowClient()
    found = client.get_experiment_by_name("bench")
    if found is not None:
        return mlflow, found.experiment_id
    started = time.perf_counter()
    experiment_id = client.create_experiment("bench")
    for number in range(count):
        rng = random.Random(number)
        run = client.create_run(experiment_id, run_name=f"run-{number}")
        now = int(time.time() * 1000)
        client.log_batch(
            run.info.run_id,
            params=[Param(f"p{j}", str(round(rng.random(), 4))) for j in range(10)],
            metrics=[Metric(f"m{j}", rng.random(), now, 0) for j in range(5)],
        )
        client.set_terminated(run.info.run_id)
    print(f"  wrote {count} MLflow runs in {time.perf_counter() - started:.1f} s ({root})")
    return mlflow, experiment_id


# --------------------------------------------------------------------------- benchmarks


def bench_search(workdir: Path, count: int, workers: int) -> dict[str, float]:
    import gitml

    repo = gitml_repo(workdir, count, workers)
    gitml.search_runs(repo=str(repo))  # builds the cache, imports pandas
    frame = gitml.search_runs(repo=str(repo), filter=FILTER, order_by=ORDER_BY)
    ours = median_time(
        lambda: gitml.search_runs(repo=str(repo), filter=FILTER, order_by=ORDER_BY), 20
    )
    figures = {"gitml search_runs": ours}
    try:
        mlflow, experiment_id = mlflow_store(workdir, count)
    except ImportError:
        print("  mlflow is not installed: MLflow figures skipped")
        return figures
    theirs_frame = mlflow.search_runs([experiment_id], filter_string=FILTER, order_by=ORDER_BY)
    theirs = median_time(
        lambda: mlflow.search_runs([experiment_id], filter_string=FILTER, order_by=ORDER_BY), 10
    )
    print(f"  rows found: gitml {len(frame)}, MLflow {len(theirs_frame)} (same data)")
    figures["MLflow file store search_runs"] = theirs
    return figures


def bench_ls(workdir: Path, count: int, workers: int, cold: bool) -> dict[str, float]:
    repo = gitml_repo(workdir, count, workers)
    run_ls(repo)  # warm the cache
    figures = {f"gitml ls, {count:,} runs, warm cache": median_time(lambda: run_ls(repo), 5)}
    if cold:
        figures[f"gitml ls, {count:,} runs, cache deleted"] = median_time(
            lambda: run_ls(repo), 3, prepare=lambda: delete_cache(repo)
        )
        clone = workdir / f"clone-{count}"
        figures[f"gitml ls, {count:,} runs, fresh clone"] = median_time(
            lambda: run_ls(clone), 3, prepare=lambda: fresh_clone(repo, clone)
        )
        figures[f"gitml ls --format json, {count:,} runs, warm"] = median_time(
            lambda: run_ls(repo, "--format", "json"), 5
        )
    return figures


def find_dvc() -> str | None:
    return os.environ.get("DVC") or shutil.which("dvc")


def bench_dvc_show(workdir: Path, count: int, workers: int) -> dict[str, float]:
    """``dvc exp show`` over ``count`` saved experiments against ``gitml ls`` over as many
    runs, both warm, both whole processes (DVC from ``$DVC`` or PATH; skipped without)."""
    dvc = find_dvc()
    if dvc is None or count <= 0:
        print("dvc exp show: DVC not installed (set DVC=/path/to/dvc); skipped")
        return {}
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    path = workdir / f"dvc-{count}"
    marker = path / ".git" / "bench-complete"
    if not marker.exists():
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        start = time.perf_counter()
        git_env = {**env, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x",
                   "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@x"}  # fmt: skip
        subprocess.run(["git", "init", "-q"], cwd=path, check=True)
        subprocess.run([dvc, "init", "-q"], cwd=path, check=True, env=env)
        (path / "dvc.yaml").write_text("params:\n- params.yaml\nmetrics:\n- metrics.json\n")
        rng = random.Random(7)

        def write(i: int) -> None:
            params = "".join(f"p{j}: {i * 10 + j}\n" for j in range(10))
            (path / "params.yaml").write_text(params)
            metrics = ", ".join(f'"m{j}": {rng.random():.6f}' for j in range(5))
            (path / "metrics.json").write_text("{" + metrics + "}\n")

        write(0)
        subprocess.run(["git", "add", "-A"], cwd=path, check=True, env=git_env)
        subprocess.run(["git", "commit", "-qm", "baseline"], cwd=path, check=True, env=git_env)
        for i in range(1, count + 1):
            write(i)
            subprocess.run([dvc, "exp", "save", "-q", "-n", f"exp-{i}"], cwd=path, check=True,
                           env=git_env, capture_output=True)  # fmt: skip
        marker.write_text("ok\n")
        print(f"  saved {count} DVC experiments in {time.perf_counter() - start:.1f} s")
    show = [dvc, "exp", "show", "--no-pager", "--json"]
    subprocess.run(show, cwd=path, check=True, env=env, capture_output=True)  # warm-up
    figures = {
        f"DVC exp show, {count:,} experiments, warm": median_time(
            lambda: subprocess.run(show, cwd=path, check=True, env=env, capture_output=True), 3
        )
    }
    repo = gitml_repo(workdir, count, workers)
    run_ls(repo)
    figures[f"gitml ls, {count:,} runs, warm cache"] = median_time(lambda: run_ls(repo), 5)
    return figures


def report(figures: dict[str, float]) -> None:
    targets = {
        "gitml search_runs": 0.05,
        "gitml ls, 1,000 runs, warm cache": 0.5,
        "gitml ls, 1,000 runs, cache deleted": 1.5,
        "gitml ls, 1,000 runs, fresh clone": 1.5,
        "gitml ls, 10,000 runs, warm cache": 1.5,
    }
    print(f"\nload average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'measure':48} {'median s':>9} {'best s':>8} {'CPU s':>8} {'target':>8}")
    for (name, seconds), (best, cpu) in zip(figures.items(), EXTRA, strict=True):
        target = targets.get(name)
        mark = "" if target is None else ("ok" if seconds < target else "SLOW")
        shown = "" if target is None else f"< {target}"
        print(f"{name:48} {seconds:9.4f} {best:8.4f} {cpu:8.4f} {shown:>8} {mark}")
    ours, theirs = figures.get("gitml search_runs"), figures.get("MLflow file store search_runs")
    if ours and theirs:
        print(
            f"\nsearch_runs, 200 runs: gitml {theirs / ours:.1f}x faster than MLflow's file store"
        )
    warm, cold = (
        figures.get("gitml ls, 1,000 runs, warm cache"),
        figures.get("gitml ls, 1,000 runs, fresh clone"),
    )
    if warm and cold:
        print(f"gitml ls 1,000 runs: fresh clone costs {cold / warm:.1f}x a warm listing")
    large = figures.get("gitml ls, 10,000 runs, warm cache")
    if warm and large:
        print(f"gitml ls warm: 10,000 runs cost {large / warm:.1f}x 1,000 runs")
    for name, seconds in figures.items():
        if name.startswith("DVC exp show, "):
            count = name.split(", ")[1].split()[0]
            ours = figures.get(f"gitml ls, {count} runs, warm cache")
            if ours:
                print(f"gitml ls over {count} runs: {seconds / ours:.1f}x faster than "
                      f"`dvc exp show` over as many experiments")  # fmt: skip


def main() -> None:
    from _bytecode import compile_gitml

    compile_gitml()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="keep repositories here")
    parser.add_argument("--small", type=int, default=200, help="runs for search_runs")
    parser.add_argument("--medium", type=int, default=1000, help="runs for ls warm/cold")
    parser.add_argument("--large", type=int, default=10000, help="runs for ls warm (0: skip)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--dvc", type=int, default=100,
                        help="DVC experiments for `dvc exp show` (0: skip; needs DVC)")  # fmt: skip
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="gitml-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"bench_query: runs of 10 params and 5 metrics, in {workdir}")
    figures: dict[str, float] = {}
    figures.update(bench_search(workdir, args.small, args.workers))
    figures.update(bench_ls(workdir, args.medium, args.workers, cold=True))
    if args.large:
        figures.update(bench_ls(workdir, args.large, args.workers, cold=False))
    figures.update(bench_dvc_show(workdir, args.dvc, args.workers))
    report(figures)


if __name__ == "__main__":
    main()
