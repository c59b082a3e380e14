"""Benchmark: gitml push/pull of 1,000 runs vs plain `git push`/`git fetch` of the same refs.

Workloads (issue 5): (a) 1,000 small runs (10 params, 5 metrics, no artifacts);
(b) 1,000 runs with a 100 KiB random artifact each. Each is pushed to a fresh bare
repository and pulled into a fresh repository, by the installed `gitml` command and by
plain git with `refs/gitml/*` refspecs, in the same run. Also: a push with nothing new,
and a push of one new run among 1,000.

    python bench/bench_remote.py [--runs 1000] [--workdir /tmp/gitml-bench-remote]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path


def sh(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)


def timed(*args: str, cwd: Path | None = None, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(args, cwd=cwd, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t)
    return best


def make_runs(repo: Path, n: int, artifact: int) -> None:
    code = f"""
import os, sys
from gitml.store import Store
from gitml import runs
from gitml.client import log_artifact_to
s = Store.discover()
for i in range({n}):
    w = runs.create(s, experiment="bench", params={{f"p{{j}}": i * 10 + j for j in range(10)}})
    for j in range(5):
        w.log_metric(f"m{{j}}", i * 0.1 + j)
    if {artifact}:
        with open("art.bin", "wb") as f:
            f.write(os.urandom({artifact}))
        log_artifact_to(w, "art.bin", None)
    w.set_info(status="FINISHED")
    w.flush()
"""
    subprocess.run(["python", "-c", code], cwd=repo, check=True)


def fresh_bare(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    sh("git", "init", "-q", "--bare", str(path))
    return path


def fresh_repo(path: Path, remote: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    sh("git", "init", "-q", str(path))
    sh("git", "remote", "add", "origin", str(remote), cwd=path)
    return path


def workload(root: Path, name: str, n: int, artifact: int, repeat: int = 3) -> dict[str, float]:
    src = root / f"{name}-src"
    shutil.rmtree(src, ignore_errors=True)
    sh("git", "init", "-q", str(src))
    (src / "train.py").write_text("print('train')\n")
    (src / ".gitignore").write_text("art.bin\n")
    sh("git", "add", ".", cwd=src)
    sh("git", "-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "baseline", cwd=src)
    t = time.perf_counter()
    make_runs(src, n, artifact)
    print(f"[{name}] created {n} runs in {time.perf_counter() - t:.1f} s", flush=True)
    sh("git", "repack", "-adq", cwd=src)  # as after `gitml gc`: the common state of a repository
    # Full transfers are measured `repeat` times into fresh targets, plain git and gitml
    # interleaved so that both meet the same disk; the medians are reported.
    samples: dict[str, list[float]] = {k: [] for k in ("git push", "git fetch", "gitml push",
                                                        "gitml pull")}  # fmt: skip
    subprocess.run(["git", "remote", "remove", "origin"], cwd=src, capture_output=True)
    for _ in range(repeat):
        bare = fresh_bare(root / f"{name}-git.git")
        samples["git push"].append(timed(
            "git", "push", "-q", "--no-verify", str(bare), "refs/gitml/*:refs/gitml/*", cwd=src
        ))  # fmt: skip
        dst = fresh_repo(root / f"{name}-git-dst", bare)
        samples["git fetch"].append(
            timed("git", "fetch", "-q", "origin", "refs/gitml/*:refs/gitml/*", cwd=dst)
        )
        bare = fresh_bare(root / f"{name}-gitml.git")
        subprocess.run(["git", "remote", "remove", "origin"], cwd=src, capture_output=True)
        sh("git", "remote", "add", "origin", str(bare), cwd=src)
        samples["gitml push"].append(timed("gitml", "push", cwd=src))
        dst = fresh_repo(root / f"{name}-gitml-dst", bare)
        samples["gitml pull"].append(timed("gitml", "pull", cwd=dst))
    out = {k: statistics.median(v) for k, v in samples.items()}
    out["gitml push (nothing new)"] = timed("gitml", "push", cwd=src, repeat=3)
    out["gitml pull (nothing new)"] = timed("gitml", "pull", cwd=dst, repeat=3)
    make_runs(src, 1, artifact)
    out["gitml push (1 new of 1,001)"] = timed("gitml", "push", cwd=src)
    return out


def main() -> None:
    from _bytecode import compile_gitml

    compile_gitml()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--workdir", default="/tmp/gitml-bench-remote")
    parser.add_argument("--repeat", type=int, default=3, help="full transfers per tool (median)")
    args = parser.parse_args()
    root = Path(args.workdir)
    root.mkdir(parents=True, exist_ok=True)
    env_transport = os.environ.get("GITML_TRANSPORT", "git")
    results = {
        "a": workload(root, "small", args.runs, 0, args.repeat),
        "b": workload(root, "artifacts", args.runs, 100 * 1024, args.repeat),
    }
    print(f"\ntransport: {env_transport}; {args.runs} runs; median of {args.repeat} full transfers; best of 3 for no-op commands")
    print(f"{'measure':32} {'(a) small':>11} {'(b) 100 KiB':>12}")
    for key in results["a"]:
        print(f"{key:32} {results['a'][key]:10.3f}s {results['b'][key]:11.3f}s")
    for w in ("a", "b"):
        r = results[w]
        print(f"({w}) push ratio gitml/git: {r['gitml push'] / r['git push']:.2f}x   "
              f"pull ratio gitml/git fetch: {r['gitml pull'] / r['git fetch']:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
