"""Overhead of ``gitml run -- true`` over plain ``true`` (and ``dvc exp run``, when installed).

A repository of 2,000 tracked files with 20 of them modified; median of 10 runs each.
Target: at most 0.3 s of overhead. ``DVC=/path/to/dvc`` (or ``dvc`` on PATH) adds
``dvc exp run`` on a one-stage pipeline running ``true`` in a copy of the same repository.

Usage: python bench/bench_run.py [--runs 10] [--files 2000] [--modified 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TARGET = 0.3


def sh(*args: str, cwd: str) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)


def commit(path: str, message: str) -> None:
    sh(
        "git",
        "-c",
        "user.name=bench",
        "-c",
        "user.email=b@e",
        "commit",
        "-q",
        "-m",
        message,
        cwd=path,
    )


def make_repo(path: str, files: int, modified: int) -> None:
    os.makedirs(path)
    sh("git", "init", "-q", "-b", "main", cwd=path)
    for i in range(files):
        d = os.path.join(path, f"pkg{i // 50:02d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"mod{i:04d}.py"), "w") as f:
            f.write(f"# module {i}\n" + "x = 1\n" * (i % 40))
    with open(os.path.join(path, ".gitignore"), "w") as f:
        f.write("*.pyc\n__pycache__/\n")
    sh("git", "add", "-A", cwd=path)
    commit(path, "init")
    time.sleep(1.1)  # let the index stop being "racily clean"
    sh("git", "status", "--porcelain", cwd=path)  # refresh its stat data, as a user's would be
    for i in range(modified):
        with open(os.path.join(path, f"pkg{i:02d}", f"mod{i * 50:04d}.py"), "a") as f:
            f.write("y = 2\n")


CPU: dict[str, list[float]] = {}  # argv[0] -> CPU seconds (user + sys) of each run


def timed(argv: list[str], cwd: str, runs: int, env: dict[str, str] | None = None) -> list[float]:
    """Wall-clock seconds of each run; CPU seconds (all child processes) go to ``CPU``."""
    out = []
    full = {**os.environ, **(env or {})}
    cpu = CPU.setdefault(" ".join(argv[:2]), [])
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.run(argv, cwd=cwd, env=full, capture_output=True)
        out.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stderr.decode()}")
    return out


def gitml_command() -> str | None:
    """The installed entry point next to this interpreter (a version manager's shim on
    PATH would add its own start-up time to every measurement)."""
    beside = os.path.join(os.path.dirname(sys.executable), "gitml")
    return beside if os.access(beside, os.X_OK) else shutil.which("gitml")


def find_dvc() -> str | None:
    explicit = os.environ.get("DVC")
    if explicit:
        return explicit
    return shutil.which("dvc")


def bench_dvc(dvc: str, src: str, work: str, runs: int) -> list[float] | None:
    path = os.path.join(work, "dvc-repo")
    shutil.copytree(src, path, symlinks=True)
    env = {"DVC_NO_ANALYTICS": "1"}
    try:
        subprocess.run(
            [dvc, "init", "-q"],
            cwd=path,
            check=True,
            capture_output=True,
            env={**os.environ, **env},
        )
        with open(os.path.join(path, "dvc.yaml"), "w") as f:
            f.write("stages:\n  train:\n    cmd: 'true'\n")
        sh("git", "add", "dvc.yaml", ".dvc", ".dvcignore", cwd=path)
        commit(path, "dvc")
        for i in range(20):  # the same 20 modifications as the gitml repository
            with open(os.path.join(path, f"pkg{i:02d}", f"mod{i * 50:04d}.py"), "a") as f:
                f.write("z = 3\n")
        timed([dvc, "exp", "run", "-q"], path, 1, env)  # warm-up (caches, site-packages)
        return timed([dvc, "exp", "run", "-q"], path, runs, env)
    except (subprocess.CalledProcessError, SystemExit) as exc:
        print(f"dvc exp run could not be measured: {exc}", file=sys.stderr)
        return None


def main() -> None:
    from _bytecode import compile_gitml

    compile_gitml()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--modified", type=int, default=20)
    args = ap.parse_args()
    gitml = gitml_command()
    if gitml is None:
        raise SystemExit("the gitml command is not installed (pip install -e .)")
    with tempfile.TemporaryDirectory(prefix="gitml-bench-") as work:
        repo = os.path.join(work, "repo")
        make_repo(repo, args.files, args.modified)
        env = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@e"}
        timed([gitml, "run", "--", "true"], repo, 1, env)  # warm-up: first snapshot, caches
        plain = statistics.median(timed(["true"], repo, args.runs))
        wrapped_all = timed([gitml, "run", "--", "true"], repo, args.runs, env)
        wrapped = statistics.median(wrapped_all)
        python = statistics.median(timed([sys.executable, "-c", "pass"], repo, args.runs))
        overhead = wrapped - plain
        cpu = statistics.median(CPU[f"{gitml} run"][1:])
        load = os.getloadavg()[0]
        print(f"repository: {args.files} tracked files, {args.modified} modified; "
              f"median of {args.runs}; load {load:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
        print(f"plain `true`                 {plain * 1000:8.1f} ms")
        pcpu = statistics.median(CPU[f"{sys.executable} -c"])
        print(f"python -c pass (floor)       {python * 1000:8.1f} ms  (CPU {pcpu * 1000:.1f} ms)")
        print(f"gitml run -- true            {wrapped * 1000:8.1f} ms  "
              f"(min {min(wrapped_all) * 1000:.1f}, max {max(wrapped_all) * 1000:.1f}; "
              f"CPU {cpu * 1000:.1f} ms)")  # fmt: skip
        verdict = "OK" if overhead <= TARGET else "OVER TARGET"
        print(f"gitml run overhead           {overhead * 1000:8.1f} ms  "
              f"(target <= {TARGET * 1000:.0f} ms: {verdict})")  # fmt: skip
        if load > (os.cpu_count() or 1):
            print("  (the machine is busy: wall-clock figures are inflated; CPU time is steadier)")
        dvc = find_dvc()
        if dvc is None:
            print("dvc exp run                  not installed (set DVC=/path/to/dvc)")
            return
        dvc_times = bench_dvc(dvc, repo, work, args.runs)
        if dvc_times:
            d = statistics.median(dvc_times)
            dcpu = statistics.median(CPU[f"{dvc} exp"][1:])
            print(f"dvc exp run (one stage)      {d * 1000:8.1f} ms  (CPU {dcpu * 1000:.1f} ms)")
            print(f"ratio dvc exp run / gitml run  {d / wrapped:6.1f}x wall, {dcpu / cpu:.1f}x CPU")


if __name__ == "__main__":
    main()
