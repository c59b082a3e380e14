"""Benchmark of ``gitml diff``: comparing two runs as a whole process (target < 0.3 s).

Usage::

    python bench/bench_diff.py                 # 1,000 runs in the repository
    python bench/bench_diff.py --runs 100      # a smaller repository
    python bench/bench_diff.py --workdir DIR   # keep the generated repository in DIR

The repository holds ``--runs`` runs (10 params, 5 metrics of 1,000 points each, two
artifacts) over a code tree of 300 files in 30 folders. The two runs compared differ in
params, metrics, tags, an artifact and their code (a file changed, added, removed and
renamed). Measured, interpreter start included, median of ``--repeat`` runs:

- ``gitml diff A B`` (the default: params, metrics, tags, artifacts, models, code --stat);
- ``gitml diff A B --code`` (with the unified diff) and ``--format json``;
- ``gitml diff A`` (against the workspace: a snapshot of the work tree plus params.yaml);

next to two floors: ``python -c pass`` (interpreter start) and ``git diff --stat -M`` of
the same two code snapshots.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 0.3
GIT = ["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com"]


def timings(argv: list[str], cwd: Path, repeat: int) -> tuple[float, float, float]:
    """(median wall, best wall, median CPU) seconds of ``argv`` over ``repeat`` runs.

    CPU time (user + system of the child) is what a busy machine disturbs least.
    """
    import resource

    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()}")
    return statistics.median(walls), min(walls), statistics.median(cpus)


def build(path: Path, count: int) -> None:
    """A repository with a code tree and ``count`` runs; the last two are compared."""
    import gitml  # noqa: F401 - imported here so --help stays instant
    from gitml import runs
    from gitml.store import MODE_FILE, Store

    path.mkdir(parents=True)
    subprocess.run([*GIT, "init", "-q", "-b", "main", str(path)], check=True)
    for d in range(30):
        folder = path / f"pkg{d}"
        folder.mkdir()
        for f in range(10):
            lines = "".join(f"def f{d}_{f}_{i}(x):\n    return x * {i}\n\n" for i in range(60))
            (folder / f"mod{f}.py").write_text(lines)
    subprocess.run([*GIT, "add", "-A"], cwd=path, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "code"], cwd=path, check=True)
    os.chdir(path)
    store = Store.discover(str(path))

    def make(name: str, seed: int) -> str:
        w = runs.create(store, name=name, experiment="bench",
                        params={f"p{i}": seed * 0.1 + i for i in range(9)}
                        | {"opt": {"name": "adam", "lr": 0.001 * (seed % 7 + 1)}},
                        tags={"stage": "dev" if seed % 2 else "prod"})  # fmt: skip
        for k in range(5):
            for step in range(1000):
                w.log_metric(
                    f"m{k}", (seed + step) % 97 / 97, step=step, timestamp=1_700_000_000_000 + step
                )
        w.set_entry(
            "artifacts/report.txt", (MODE_FILE, store.add_blob(f"report {seed}\n".encode()))
        )
        w.set_entry("artifacts/shared.bin", (MODE_FILE, store.add_blob(b"\x00" * 4096)))
        w.set_info(status="FINISHED")
        w.flush()
        return w.run_id

    for i in range(max(count - 2, 0)):
        make(f"run-{i}", i)
    make("run-a", 1000)
    # the code of run b: a file changed, one added, one removed, one renamed
    changed = path / "pkg0" / "mod0.py"
    changed.write_text(changed.read_text().replace("return x * 5\n", "return x * 50\n"))
    (path / "pkg1" / "new.py").write_text("NEW = 1\n")
    (path / "pkg2" / "mod0.py").unlink()
    (path / "pkg3" / "mod0.py").rename(path / "pkg3" / "renamed.py")
    make("run-b", 1001)
    (path / "params.yaml").write_text("p0: 5\nopt: {name: sgd, lr: 0.01}\n")


def code_trees(path: Path) -> tuple[str, str]:
    from gitml import runs
    from gitml.store import Store

    store = Store.discover(str(path))
    trees = []
    for name in ("run-a", "run-b"):
        rec = runs.load(store, runs.resolve(store, name))
        found = store.lookup(store.commit_tree(rec.commit), "code")  # type: ignore[arg-type]
        assert found is not None
        trees.append(found[1])
    return trees[0], trees[1]


def main() -> None:
    from _bytecode import compile_gitml

    compile_gitml()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=1000, help="runs in the repository (default 1000)"
    )
    parser.add_argument("--repeat", type=int, default=9, help="timed runs per figure (median)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the repository here")
    args = parser.parse_args()
    gitml = shutil.which("gitml") or sys.exit("the gitml command is not installed")
    base = args.workdir or Path(tempfile.mkdtemp(prefix="gitml-bench-diff-"))
    repo = base / f"diff-{args.runs}"
    if not repo.exists():
        start = time.perf_counter()
        build(repo, args.runs)
        print(f"built {repo} with {args.runs} runs in {time.perf_counter() - start:.1f} s")
    subprocess.run([gitml, "ls", "--limit", "1"], cwd=repo, stdout=subprocess.DEVNULL, check=True)
    tree_a, tree_b = code_trees(repo)
    rows = [
        ("python -c pass (interpreter start)", [sys.executable, "-c", "pass"]),
        ("git diff --stat -M (code only)", ["git", "diff", "--stat", "-M", tree_a, tree_b]),
        ("gitml diff A B", [gitml, "diff", "run-a", "run-b"]),
        ("gitml diff A B --code", [gitml, "diff", "run-a", "run-b", "--code"]),
        ("gitml diff A B --format json", [gitml, "diff", "run-a", "run-b", "--format", "json"]),
        ("gitml diff A (vs workspace)", [gitml, "diff", "run-a"]),
    ]
    print(f"\n{args.runs} runs, 300-file code tree, median of {args.repeat}; target < {TARGET} s\n")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.1f} on {os.cpu_count()} CPUs (wall times grow with load)")
    print(f"{'command':<38} {'median s':>8} {'best s':>7} {'cpu s':>6} {'median/target':>13}")
    for label, argv in rows:
        median, best, cpu = timings(argv, repo, args.repeat)
        ratio = f"{median / TARGET:.2f}x" if label.startswith("gitml") else ""
        print(f"{label:<38} {median:8.3f} {best:7.3f} {cpu:6.3f} {ratio:>13}")
    if args.workdir is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
