"""Concurrency and crashes: parallel writers, SIGKILL mid-run, two processes in one run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from conftest import GitRepo

import gitml
from gitml import Client

MANY_RUNS = """
import sys, gitml
worker = int(sys.argv[1])
for i in range(25):
    with gitml.start_run(experiment="par", params={"worker": worker, "i": i}) as run:
        for step in range(5):
            gitml.log_metric("loss", 1.0 / (step + 1), step=step)
        gitml.set_tag("who", f"w{worker}")
"""


def test_four_processes_times_25_runs_at_once(repo: GitRepo) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", MANY_RUNS, str(w)], cwd=repo.path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        for w in range(4)
    ]
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert "Traceback" not in err and "failed" not in err, err
    refs = repo.run_refs()
    assert len(refs) == 100
    c = Client()
    seen = set()
    for rid in refs:
        run = c.get_run(rid)
        assert run.info.status == "FINISHED"
        assert run.data.metrics == {"loss": 0.2}
        assert [m.step for m in c.get_metric_history(rid, "loss")] == [0, 1, 2, 3, 4]
        assert run.data.tags == {"who": f"w{run.data.params['worker']}"}
        seen.add((run.data.params["worker"], run.data.params["i"]))
    assert seen == {(w, i) for w in range(4) for i in range(25)}
    assert len({c.get_run(rid).info.run_name for rid in refs}) == 100
    repo.fsck()


KILLED_MIDWAY = """
import time, gitml
run = gitml.start_run(name="doomed")
gitml.log_param("lr", 0.1)
print(run.info.run_id, flush=True)
step = 0
while True:
    gitml.log_metric("loss", 1.0 / (step + 1), step=step)
    step += 1
    time.sleep(0.005)
"""


def revision(rid: str) -> int:
    """The run's revision on its ref so far (0 before its first write)."""
    try:
        return Client().get_run(rid).info.revision
    except gitml.errors.RunNotFound:
        return 0


def test_sigkill_mid_run_leaves_a_readable_running_run(repo: GitRepo) -> None:
    env = {**__import__("os").environ, "GITML_CHECKPOINT_INTERVAL": "0.5"}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_MIDWAY], cwd=repo.path, env=env,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    rid = proc.stdout.readline().strip()
    deadline = time.monotonic() + 60
    while revision(rid) < 3:  # the first write, then a few checkpoints
        assert time.monotonic() < deadline, "no checkpoints within 60 s"
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    run = Client().get_run(rid)
    assert run.info.status == "RUNNING" and run.info.end_time is None
    assert run.data.params == {"lr": 0.1}
    steps = [m.step for m in Client().get_metric_history(rid, "loss")]
    assert len(steps) > 10, "at least one checkpoint with metrics was written"
    assert steps == list(range(len(steps))), "a prefix of what was logged, nothing torn"
    assert run.info.revision >= 2
    repo.fsck()
    # the crashed run is still usable: resume and finish it
    with gitml.start_run(run_id=rid):
        gitml.log_metric("loss", 0.0, step=len(steps))
    assert Client().get_run(rid).info.status == "FINISHED"


ATTACHED = """
import sys, time, gitml
metric = sys.argv[1]
with gitml.start_run() as run:
    gitml.log_param(metric + "_param", 1)
    gitml.set_tag(metric, "done")
    for step in range(150):
        gitml.log_metric(metric, float(step), step=step)
        if step % 10 == 0:
            run.writer.flush()  # many writes, so the two processes collide
        time.sleep(0.002)
"""


def test_two_processes_attached_to_one_run_both_land(repo: GitRepo) -> None:
    import os

    with gitml.start_run(name="shared", params={"lr": 0.1}) as run:
        gitml.log_metric("outer", 1.0)
        run.writer.flush()
        env = {**os.environ, "GITML_RUN_ID": run.info.run_id, "GITML_DIR": str(repo.path),
               "GITML_CHECKPOINT_INTERVAL": "0.05"}  # fmt: skip
        procs = [
            subprocess.Popen([sys.executable, "-c", ATTACHED, name], cwd=repo.path, env=env,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
            for name in ("alpha", "beta")
        ]
        for p in procs:
            _out, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
    c = Client()
    got = c.get_run(run.info.run_id)
    assert got.info.status == "FINISHED"
    assert got.data.params == {"lr": 0.1, "alpha_param": 1, "beta_param": 1}
    assert got.data.tags == {"alpha": "done", "beta": "done"}
    assert got.data.metrics == {"outer": 1.0, "alpha": 149.0, "beta": 149.0}
    for name in ("alpha", "beta"):
        assert [m.step for m in c.get_metric_history(run.info.run_id, name)] == list(range(150))
    assert len(repo.run_refs()) == 1
    repo.fsck()


FORKED = """
import os, signal, sys, time, gitml
with gitml.start_run(name="forks") as run:
    for step in range(3):
        gitml.log_metric("m", float(step), step=step)  # buffered in the parent
    pid = os.fork()
    if pid == 0:  # a worker, as multiprocessing's fork start method makes them
        try:
            gitml.log_metric("child", 1.0)
            os.kill(os.getpid(), signal.SIGTERM)  # Pool.terminate()
            time.sleep(5)
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    print(os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1, flush=True)
    mid = gitml.Client().get_run(run.info.run_id)
    print(mid.info.status, flush=True)
print(run.info.run_id)
"""


def test_a_forked_worker_logs_into_the_run_but_never_ends_it(repo: GitRepo) -> None:
    from conftest import run_python

    out = run_python(FORKED, repo.path)
    assert out.returncode == 0, out.stderr
    killed_by, mid_status, rid = out.stdout.split()
    assert killed_by == str(int(signal.SIGTERM))
    assert mid_status == "RUNNING", "a worker stopped with SIGTERM ended its parent's run"
    c = Client()
    got = c.get_run(rid)
    assert got.info.status == "FINISHED"
    assert [m.step for m in c.get_metric_history(rid, "m")] == [0, 1, 2]  # written once
    assert [m.value for m in c.get_metric_history(rid, "child")] == [1.0]
    repo.fsck()


POOL = """
import multiprocessing, sys, gitml

def work(k):
    for step in range(5):
        gitml.log_metric(f"worker_{k}", float(step), step=step)
    return k

if __name__ == "__main__":
    ctx = multiprocessing.get_context("fork")
    with gitml.start_run(name="pool") as run:
        gitml.log_param("workers", 3)
        pool = ctx.Pool(3)
        assert sorted(pool.map(work, range(3))) == [0, 1, 2]
        pool.close()
        pool.join()  # the workers leave through os._exit, after multiprocessing's finalizers
        proc = ctx.Process(target=work, args=(9,))
        proc.start()
        proc.join()
        assert proc.exitcode == 0
    print(run.info.run_id)
"""


def test_multiprocessing_workers_write_their_points_when_they_exit(repo: GitRepo) -> None:
    from conftest import run_python

    # no checkpoint in the workers' lifetime: only the flush at their exit writes
    out = run_python(POOL, repo.path, env={"GITML_CHECKPOINT_INTERVAL": "600"})
    assert out.returncode == 0, out.stderr
    rid = out.stdout.split()[-1]
    c = Client()
    got = c.get_run(rid)
    assert got.info.status == "FINISHED" and got.data.params == {"workers": 3}
    keys = {k for k in got.data.metrics if k.startswith("worker_")}
    assert len(keys) >= 2 and "worker_9" in keys, keys  # tasks may share a worker
    for key in keys:
        assert [m.step for m in c.get_metric_history(rid, key)] == list(range(5)), key
    assert "could not write" not in out.stderr
    repo.fsck()
