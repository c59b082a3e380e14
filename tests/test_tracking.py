"""The fluent tracking API through ``import gitml``, checked against real git."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import GitRepo, run_python

import gitml
from gitml.errors import (
    ActiveRunError,
    AmbiguousRun,
    ArtifactError,
    InvalidKey,
    InvalidValue,
    ParamConflict,
    RunNotFound,
)

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")


def ref(rid: str) -> str:
    return f"refs/gitml/runs/{rid}"


# ---------------------------------------------------------------- the issue's sample
def test_issue_sample(repo: GitRepo) -> None:
    (repo / "confusion.png").write_bytes(PNG)
    with gitml.start_run(name="baseline", experiment="mnist", tags={"team": "vision"}) as run:
        gitml.log_params({"lr": 0.01, "layers": [64, 32], "optim": {"name": "adam", "beta": 0.9}})
        for step in range(1000):
            gitml.log_metric("loss", 1 / (step + 1), step=step)
        gitml.log_metrics({"acc": 0.93, "f1": 0.91})
        gitml.set_tag("note", "first try")
        gitml.log_artifact("confusion.png")
    got = gitml.get_run(run.info.run_id)
    assert got.data.metrics["acc"] == 0.93
    assert got.data.metrics["loss"] == 1 / 1000
    assert got.data.params == {"lr": 0.01, "layers": [64, 32], "optim": {"name": "adam", "beta": 0.9}}
    assert got.data.tags == {"team": "vision", "note": "first try"}
    assert got.info.status == "FINISHED" and got.info.run_name == "baseline"
    assert got.info.experiment == "mnist"
    rid = run.info.run_id
    assert repo.run_refs() == {rid: got.info.commit}
    assert repo.git("show", f"{ref(rid)}:params.yaml") == (
        "layers:\n- 64\n- 32\nlr: 0.01\noptim:\n  beta: 0.9\n  name: adam\n"
    )
    blob = subprocess.run(["git", "show", f"{ref(rid)}:artifacts/confusion.png"], capture_output=True)
    assert blob.stdout == PNG
    assert repo.git("log", "-1", "--format=%P", ref(rid)).strip() == repo.head()
    assert repo.git("log", "-1", "--format=%s", ref(rid)).strip() == "gitml: baseline FINISHED"
    history = repo.git("show", f"{ref(rid)}:metrics/loss/@0.tsv").splitlines()
    assert history[0] == "step\ttimestamp\tvalue" and len(history) == 1001
    assert history[1].split("\t")[0] == "0" and history[1].split("\t")[2] == "1.0"
    assert not (repo.path / ".git" / "logs" / "refs" / "gitml").exists(), "no reflog for run refs"
    assert repo.git("status", "--porcelain") == "?? confusion.png\n"
    repo.fsck()


# ---------------------------------------------------------------- run lifecycle
def test_with_block_ends_finished_and_exception_ends_failed(repo: GitRepo) -> None:
    with gitml.start_run() as ok:
        assert gitml.active_run() is ok
    assert gitml.active_run() is None
    with pytest.raises(ZeroDivisionError):
        with gitml.start_run() as bad:
            1 / 0  # noqa: B018
    assert gitml.get_run(ok.info.run_id).info.status == "FINISHED"
    failed = gitml.get_run(bad.info.run_id)
    assert failed.info.status == "FAILED" and failed.info.end_time is not None
    assert gitml.active_run() is None


@pytest.mark.parametrize("status", ["FINISHED", "FAILED", "KILLED"])
def test_end_run_with_status(repo: GitRepo, status: str) -> None:
    run = gitml.start_run()
    gitml.end_run(status)
    assert gitml.active_run() is None
    got = gitml.get_run(run.info.run_id)
    assert got.info.status == status and got.info.end_time >= got.info.start_time  # type: ignore[operator]
    gitml.end_run()  # nothing active: a no-op


@pytest.mark.parametrize(("code", "status"), [(None, "FINISHED"), (0, "FINISHED"), (2, "FAILED"), ("bye", "FAILED")])
def test_sys_exit_in_the_with_block(repo: GitRepo, code: object, status: str) -> None:
    with pytest.raises(SystemExit):
        with gitml.start_run() as run:
            sys.exit(code)
    assert gitml.get_run(run.info.run_id).info.status == status


def test_end_run_rejects_unknown_status(repo: GitRepo) -> None:
    gitml.start_run()
    with pytest.raises(ActiveRunError, match="'DONE'"):
        gitml.end_run("DONE")
    assert gitml.active_run() is not None


def test_nested_runs_link_their_parent(repo: GitRepo) -> None:
    with gitml.start_run(name="parent") as parent:
        with pytest.raises(ActiveRunError, match="nested=True"):
            gitml.start_run()
        with gitml.start_run(name="child", nested=True) as child:
            assert gitml.active_run() is child
            gitml.log_metric("x", 1)
        assert gitml.active_run() is parent
    got = gitml.get_run(child.info.run_id)
    assert got.info.parent_run_id == parent.info.run_id
    assert f"parent_run: {parent.info.run_id}" in repo.git("show", f"{ref(child.info.run_id)}:run.yaml")
    assert gitml.get_run(parent.info.run_id).info.parent_run_id is None


def test_resume_by_id_prefix_or_name(repo: GitRepo) -> None:
    with gitml.start_run(name="resumable", params={"lr": 0.1}) as run:
        gitml.log_metric("loss", 1.0, step=0)
    rid = run.info.run_id
    for handle in (rid, rid[:6], "resumable"):
        with gitml.start_run(run_id=handle, params={"lr": 0.1}) as again:
            assert again.info.run_id == rid
            assert gitml.get_run(rid).info.status == "RUNNING"
            gitml.log_metric("loss", 0.5, step=1)
    got = gitml.get_run(rid)
    assert got.info.status == "FINISHED" and got.info.revision >= 4
    assert [m.value for m in gitml.Client().get_metric_history(rid, "loss")] == [1.0, 0.5, 0.5, 0.5]
    assert len(repo.run_refs()) == 1


def test_active_run_last_active_run_and_set_experiment(repo: GitRepo) -> None:
    assert gitml.active_run() is None and gitml.last_active_run() is None
    assert gitml.set_experiment("vision") == "vision"
    with gitml.start_run() as run:
        assert gitml.active_run() is run
        assert gitml.last_active_run().info.run_id == run.info.run_id  # type: ignore[union-attr]
        seen: list[object] = []
        t = threading.Thread(target=lambda: seen.append(gitml.active_run()))
        t.start()
        t.join()
        assert seen == [None], "the active run lives in a ContextVar, not module state"
    last = gitml.last_active_run()
    assert last is not None and last.info.run_id == run.info.run_id
    assert last.info.status == "FINISHED" and last.info.experiment == "vision"
    with gitml.start_run(experiment="other") as other:
        pass
    assert gitml.get_run(other.info.run_id).info.experiment == "other"
    with pytest.raises(InvalidKey, match="experiment"):
        gitml.set_experiment("")


def test_start_run_records_description_params_and_tags(repo: GitRepo) -> None:
    with gitml.start_run(description="try adam", params={"a": 1}, tags={"t": 2}) as run:
        assert gitml.params() == {"a": 1}
    got = gitml.get_run(run.info.run_id)
    assert got.extra["description"] == "try adam"
    assert got.data.params == {"a": 1} and got.data.tags == {"t": "2"}


def test_logging_without_a_run_starts_one(repo: GitRepo) -> None:
    gitml.log_metric("m", 1.0)
    run = gitml.active_run()
    assert run is not None
    gitml.end_run()
    assert gitml.get_run(run.info.run_id).data.metrics == {"m": 1.0}


def test_bad_input_without_a_run_starts_no_run(repo: GitRepo) -> None:
    for call in (
        lambda: gitml.log_param("../x", 1),
        lambda: gitml.log_params({"ok": 1, "a//b": 2}),
        lambda: gitml.log_param("p", object()),
        lambda: gitml.log_metric("m", "abc"),
        lambda: gitml.log_metric("m", 1.0, step="x"),  # type: ignore[arg-type]
        lambda: gitml.log_metrics({"ok": 1.0, "bad": None}),  # type: ignore[dict-item]
        lambda: gitml.set_tag("", "v"),
        lambda: gitml.set_tags({"t": 1, "../t": 2}),
        lambda: gitml.delete_tag("a//b"),
        lambda: gitml.log_artifact("missing.txt"),
        lambda: gitml.log_artifact(".", "x"),
        lambda: gitml.log_artifacts("nodir"),
        lambda: gitml.log_text("x", "../out.txt"),
        lambda: gitml.log_dict({}, "/abs.json"),
    ):
        with pytest.raises(gitml.GitmlError):
            call()
        assert gitml.active_run() is None
    time.sleep(0.7)  # longer than the first write delay
    assert repo.run_refs() == {}


def test_log_metrics_with_one_bad_value_logs_none(repo: GitRepo) -> None:
    with gitml.start_run() as run:
        with pytest.raises(InvalidValue, match="'bad'"):
            gitml.log_metrics({"good": 1.0, "bad": "x"})  # type: ignore[dict-item]
        gitml.log_metric("other", 2.0)
    assert gitml.get_run(run.info.run_id).data.metrics == {"other": 2.0}


# ---------------------------------------------------------------- params, metrics, tags
def test_params_keep_native_types(repo: GitRepo) -> None:
    values = {"i": 3, "f": 0.5, "b": True, "s": "adam", "n": None, "l": [1, "two", 3.0],
              "t": (4, 5), "d": {"x": {"y": False}}, "big": 2**40, "sci": 1e-8, "str1": "1"}  # fmt: skip
    with gitml.start_run() as run:
        gitml.log_params(values)
        gitml.log_param("single", 7)
    got = gitml.get_run(run.info.run_id).data.params
    expected = {**values, "t": [4, 5], "single": 7}
    assert got == expected
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in expected.items()}


def test_relogging_a_param(repo: GitRepo) -> None:
    with gitml.start_run() as run:
        gitml.log_param("lr", 0.1)
        gitml.log_param("lr", 0.1)  # same value: fine
        gitml.log_params({"lr": 0.1, "epochs": 3})
        with pytest.raises(ParamConflict) as err:
            gitml.log_param("lr", 0.2)
        assert "'lr'" in str(err.value) and "0.1" in str(err.value) and "0.2" in str(err.value)
        with pytest.raises(ParamConflict):
            gitml.log_param("epochs", True)  # a bool is not the int 3
    assert gitml.get_run(run.info.run_id).data.params == {"lr": 0.1, "epochs": 3}
    # the conflict is also seen against what is already stored
    with gitml.start_run(run_id=run.info.run_id):
        gitml.log_param("lr", 0.1)
        with pytest.raises(ParamConflict):
            gitml.log_param("lr", 1)


def test_metrics_step_timestamp_nan_inf(repo: GitRepo) -> None:
    with gitml.start_run() as run:
        gitml.log_metric("loss", 2.0, step=0, timestamp=1_000)
        gitml.log_metric("loss", math.nan, step=1, timestamp=2_000)
        gitml.log_metric("loss", math.inf, step=2, timestamp=3_000)
        gitml.log_metric("loss", -math.inf, step=3, timestamp=4_000)
        gitml.log_metric("loss", 0.5, step=4, timestamp=5_000)
        gitml.log_metrics({"acc": 0.9, "f1": 1}, step=7)
    rid = run.info.run_id
    hist = gitml.Client().get_metric_history(rid, "loss")
    assert [(m.step, m.timestamp) for m in hist] == [(0, 1000), (1, 2000), (2, 3000), (3, 4000), (4, 5000)]
    vals = [m.value for m in hist]
    assert vals[0] == 2.0 and math.isnan(vals[1]) and vals[2:] == [math.inf, -math.inf, 0.5]
    tsv = repo.git("show", f"{ref(rid)}:metrics/loss/@0.tsv")
    assert tsv == ("step\ttimestamp\tvalue\n0\t1000\t2.0\n1\t2000\tnan\n2\t3000\tinf\n"
                   "3\t4000\t-inf\n4\t5000\t0.5\n")  # fmt: skip
    summary = gitml.Client().get_run(rid)
    assert summary.data.metrics == {"loss": 0.5, "acc": 0.9, "f1": 1.0}
    import yaml

    stored = yaml.safe_load(repo.git("show", f"{ref(rid)}:metrics.yaml"))
    assert stored["loss"] == {"last": 0.5, "step": 4, "timestamp": 5000, "min": -math.inf,
                              "max": math.inf, "count": 5}  # fmt: skip
    assert stored["acc"]["step"] == 7 and stored["acc"]["timestamp"] == stored["f1"]["timestamp"]


def test_last_is_the_highest_step_not_the_latest_logged(repo: GitRepo) -> None:
    with gitml.start_run() as run:
        gitml.log_metric("m", 5.0, step=10)
        gitml.log_metric("m", 1.0, step=3)
    assert gitml.get_run(run.info.run_id).data.metrics["m"] == 5.0


def test_numpy_values_are_accepted(repo: GitRepo) -> None:
    np = pytest.importorskip("numpy")
    with gitml.start_run() as run:
        gitml.log_metric("m", np.float32(0.25), step=np.int64(2))
        gitml.log_param("p", np.int64(3))
    got = gitml.get_run(run.info.run_id)
    assert got.data.metrics == {"m": 0.25} and got.data.params == {"p": 3}
    assert type(got.data.params["p"]) is int


def test_tags_set_and_delete(repo: GitRepo) -> None:
    with gitml.start_run(tags={"a": "1"}) as run:
        gitml.set_tag("b", 2)
        gitml.set_tags({"c": "three", "d": 4.5})
        gitml.delete_tag("a")
    assert gitml.get_run(run.info.run_id).data.tags == {"b": "2", "c": "three", "d": "4.5"}
    assert repo.git("show", f"{ref(run.info.run_id)}:tags.yaml") == "b: '2'\nc: three\nd: '4.5'\n"


def test_artifacts_dict_and_text(repo: GitRepo) -> None:
    repo.write_files({"plots/a.png": PNG, "plots/sub/b.txt": "b\n", "report.txt": "r\n"})
    with gitml.start_run() as run:
        gitml.log_artifact("report.txt")
        gitml.log_artifact("report.txt", "docs/final")
        gitml.log_artifacts("plots")
        gitml.log_artifacts("plots", "again")
        gitml.log_dict({"b": [1, 2], "a": 1}, "config.json")
        gitml.log_dict({"b": [1, 2], "a": 1}, "cfg/config.yaml")
        gitml.log_text("hello ✓", "notes/readme.txt")
    rid = run.info.run_id
    files = repo.git("ls-tree", "-r", "--name-only", f"{ref(rid)}:artifacts").split()
    assert sorted(files) == ["a.png", "again/a.png", "again/sub/b.txt", "cfg/config.yaml",
                             "config.json", "docs/final/report.txt", "notes/readme.txt",
                             "report.txt", "sub/b.txt"]  # fmt: skip
    assert json.loads(repo.git("show", f"{ref(rid)}:artifacts/config.json")) == {"a": 1, "b": [1, 2]}
    assert repo.git("show", f"{ref(rid)}:artifacts/cfg/config.yaml") == "a: 1\nb:\n- 1\n- 2\n"
    assert repo.git("show", f"{ref(rid)}:artifacts/notes/readme.txt") == "hello ✓"
    repo.fsck()


# ---------------------------------------------------------------- names and resolution
def test_generated_names_are_unique_and_given_names_may_repeat(repo: GitRepo) -> None:
    names = []
    for _ in range(30):
        with gitml.start_run() as run:
            pass
        names.append(run.info.run_name)
    assert len(set(names)) == 30
    assert all(len(n.split("-")) == 3 and n.split("-")[2].isdigit() for n in names)
    for _ in range(2):
        with gitml.start_run(name="same"):
            pass
    with pytest.raises(AmbiguousRun) as err:
        gitml.Client().get_run("same")
    message = str(err.value)
    assert "'same' matches 2 runs" in message and "\n" not in message
    assert message.endswith("name one by an id prefix")
    for rid in [r for r, _ in repo.run_refs().items() if gitml.get_run(r).info.run_name == "same"]:
        assert rid[:8] in message


def test_resolution_by_id_prefix_and_name(repo: GitRepo) -> None:
    with gitml.start_run(name="alpha") as run:
        pass
    rid = run.info.run_id
    client = gitml.Client()
    assert client.resolve_run(rid) == rid
    assert client.resolve_run(rid[:4]) == rid
    assert client.resolve_run("alpha") == rid
    with pytest.raises(RunNotFound, match="at least 4"):
        client.resolve_run(rid[:3])
    with pytest.raises(RunNotFound, match="gitml ls"):
        client.resolve_run("nosuchrun")


def test_ambiguous_prefix_lists_candidates(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    from gitml import runs

    crafted = iter(["abcd1111" + "0" * 24, "abcd2222" + "0" * 24])
    monkeypatch.setattr(runs, "new_run_id", lambda: next(crafted))
    for name in ("first", "second"):
        with gitml.start_run(name=name):
            pass
    before = repo.run_refs()
    with pytest.raises(AmbiguousRun) as err:
        gitml.Client().get_run("abcd")
    message = str(err.value)
    assert "'abcd' matches 2 runs" in message and "\n" not in message
    assert "abcd1111 first" in message and "abcd2222 second" in message
    assert message.endswith("use a longer id prefix")
    with pytest.raises(AmbiguousRun):
        gitml.start_run(run_id="abcd")
    assert gitml.active_run() is None and repo.run_refs() == before
    assert gitml.Client().get_run("abcd2").info.run_name == "second"


# ---------------------------------------------------------------- history chunks
def test_metric_history_chunks_and_only_the_last_changes(repo: GitRepo) -> None:
    from gitml import runs
    from gitml.store import Store

    store = Store.discover()
    w = runs.create(store, name="long")
    for step in range(15_000):
        w.log_metric("loss", step * 0.5, step=step, timestamp=1000 + step)
    first = w.flush()
    r = ref(w.run_id)
    chunk0 = repo.git("rev-parse", f"{r}:metrics/loss/@0.tsv").strip()
    chunk1 = repo.git("rev-parse", f"{r}:metrics/loss/@1.tsv").strip()
    assert len(repo.git("show", f"{r}:metrics/loss/@0.tsv").splitlines()) == 10_001
    assert len(repo.git("show", f"{r}:metrics/loss/@1.tsv").splitlines()) == 5_001
    for step in range(15_000, 15_010):
        w.log_metric("loss", 1.0, step=step, timestamp=1000 + step)
    second = w.flush()
    assert second != first
    assert repo.git("rev-parse", f"{r}:metrics/loss/@0.tsv").strip() == chunk0
    assert repo.git("rev-parse", f"{r}:metrics/loss/@1.tsv").strip() != chunk1
    changed = repo.git("diff", "--name-only", first, second).split()
    assert changed == ["metrics.yaml", "metrics/loss/@1.tsv", "run.yaml"]
    assert len(gitml.Client().get_metric_history(w.run_id, "loss")) == 15_010
    repo.fsck()


def test_history_exactly_at_a_chunk_boundary_survives_a_new_writer(repo: GitRepo) -> None:
    from gitml import runs
    from gitml.store import Store

    store = Store.discover()
    w = runs.create(store)
    for step in range(10_000):
        w.log_metric("m", 1.0, step=step, timestamp=step)
    w.flush()
    again = runs.open_writer(store, w.run_id)  # e.g. a resumed run or another process
    again.log_metric("m", 2.0, step=10_000, timestamp=10_000)
    again.flush()
    r = ref(w.run_id)
    assert len(repo.git("show", f"{r}:metrics/m/@0.tsv").splitlines()) == 10_001
    assert repo.git("show", f"{r}:metrics/m/@1.tsv") == "step\ttimestamp\tvalue\n10000\t10000\t2.0\n"
    assert len(gitml.Client().get_metric_history(w.run_id, "m")) == 10_001


# ---------------------------------------------------------------- bad input: clear errors, nothing written
@pytest.mark.parametrize("key", ["../x", "", "k" * 300, "a//b"])
def test_invalid_keys_are_rejected_before_anything_is_written(repo: GitRepo, key: str) -> None:
    with gitml.start_run() as run:
        gitml.log_param("ok", 1)
        before = gitml.get_run(run.info.run_id).info.commit
        for call in (
            lambda: gitml.log_param(key, 1),
            lambda: gitml.log_params({"fine": 1, key: 2}),
            lambda: gitml.log_metric(key, 1.0),
            lambda: gitml.set_tag(key, "v"),
            lambda: gitml.delete_tag(key),
        ):
            with pytest.raises(InvalidKey) as err:
                call()
            assert repr(key)[:30].rstrip("'") in str(err.value) and "\n" not in str(err.value)
        assert repo.run_refs()[run.info.run_id] == before
    got = gitml.get_run(run.info.run_id)
    assert got.data.params == {"ok": 1} and got.data.metrics == {} and got.data.tags == {}


def test_start_run_with_bad_input_writes_nothing(repo: GitRepo) -> None:
    for kwargs in ({"tags": {"a//b": 1}}, {"params": {"../x": 1}}, {"name": ""},
                   {"experiment": ""}, {"params": {"p": object()}}):  # fmt: skip
        with pytest.raises(gitml.GitmlError):
            gitml.start_run(**kwargs)  # type: ignore[arg-type]
        assert gitml.active_run() is None
    time.sleep(0.7)  # longer than the first write delay
    assert repo.run_refs() == {}


@pytest.mark.parametrize("value", ["0.5", "abc", None, [1.0], True, b"1"])
def test_non_numeric_metric_values(repo: GitRepo, value: object) -> None:
    with gitml.start_run() as run:
        with pytest.raises(InvalidValue) as err:
            gitml.log_metric("acc", value)  # type: ignore[arg-type]
        assert "'acc'" in str(err.value) and "not a number" in str(err.value)
    assert gitml.get_run(run.info.run_id).data.metrics == {}


def test_artifact_errors(repo: GitRepo) -> None:
    (repo / "f.txt").write_text("x")
    with gitml.start_run() as run:
        with pytest.raises(ArtifactError, match="'missing.txt' is missing"):
            gitml.log_artifact("missing.txt")
        with pytest.raises(ArtifactError, match="missing or not a folder"):
            gitml.log_artifacts("nodir")
        with pytest.raises(ArtifactError, match="escape"):
            gitml.log_artifact("f.txt", "../outside")
        with pytest.raises(ArtifactError, match="absolute"):
            gitml.log_artifact("f.txt", "/etc")
        with pytest.raises(ArtifactError, match="escape"):
            gitml.log_text("x", "../../x.txt")
        with pytest.raises(ArtifactError, match="escape"):
            gitml.log_dict({}, "a/../../x.json")
        with pytest.raises(ArtifactError, match="folder"):
            gitml.log_artifact(".")
    assert gitml.Client().list_artifacts(run.info.run_id) == []


def test_unknown_run_to_resume(repo: GitRepo) -> None:
    with pytest.raises(RunNotFound, match="'deadbeef'"):
        gitml.start_run(run_id="deadbeef")
    assert gitml.active_run() is None and repo.run_refs() == {}


# ---------------------------------------------------------------- processes: exit, signals, visibility
CHILD = """
import os, sys, time, gitml
run = gitml.start_run(name=sys.argv[1] if len(sys.argv) > 1 else None)
gitml.log_param("p", 1)
gitml.log_metric("m", 0.5, step=3)
print(run.info.run_id, flush=True)
"""


def test_interpreter_exit_ends_an_open_run(repo: GitRepo) -> None:
    out = run_python(CHILD, repo.path)
    assert out.returncode == 0, out.stderr
    got = gitml.get_run(out.stdout.strip())
    assert got.info.status == "FINISHED"
    assert got.data.metrics == {"m": 0.5} and got.data.params == {"p": 1}


def test_uncaught_exception_at_exit_ends_failed(repo: GitRepo) -> None:
    out = run_python(CHILD + "raise SystemExit('boom') if False else 1/0\n", repo.path)
    assert out.returncode == 1 and "ZeroDivisionError" in out.stderr
    assert gitml.get_run(out.stdout.strip()).info.status == "FAILED"


def test_sigterm_ends_the_run_killed(repo: GitRepo) -> None:
    proc = subprocess.Popen([sys.executable, "-c", CHILD + "time.sleep(30)\n"], cwd=repo.path,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    rid = proc.stdout.readline().strip()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == -signal.SIGTERM
    got = gitml.get_run(rid)
    assert got.info.status == "KILLED" and got.info.end_time is not None
    assert got.data.metrics == {"m": 0.5}
    repo.fsck()


@pytest.mark.parametrize("in_with", [False, True])
def test_sigint_ends_the_run_killed(repo: GitRepo, in_with: bool) -> None:
    body = CHILD + "time.sleep(30)\n"
    if in_with:
        body = CHILD + "with run:\n    time.sleep(30)\n"
    proc = subprocess.Popen([sys.executable, "-c", body], cwd=repo.path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    rid = proc.stdout.readline().strip()
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=20)
    assert "KeyboardInterrupt" in err
    got = gitml.get_run(rid)
    assert got.info.status == "KILLED" and got.info.end_time is not None
    assert got.data.metrics == {"m": 0.5}
    repo.fsck()


def test_run_is_visible_running_within_one_second(repo: GitRepo) -> None:
    proc = subprocess.Popen([sys.executable, "-c", CHILD + "time.sleep(30)\n"], cwd=repo.path,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        rid = proc.stdout.readline().strip()
        started = time.monotonic()
        while not repo.run_refs() and time.monotonic() - started < 5:
            time.sleep(0.05)
        waited = time.monotonic() - started
        assert rid in repo.run_refs(), "the run never appeared"
        assert waited < 1.0, f"the run appeared after {waited:.2f} s"
        assert "status: RUNNING" in repo.git("show", f"{ref(rid)}:run.yaml")
    finally:
        proc.kill()
        proc.wait()


def test_attach_through_gitml_run_id_and_gitml_dir(repo: GitRepo, tmp_path: Path) -> None:
    with gitml.start_run(name="wrapper", params={"lr": 0.1}) as run:
        gitml.log_metric("outer", 1.0)
        gitml.get_run(run.info.run_id)  # written now
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        code = (
            "import gitml\n"
            "with gitml.start_run() as r:\n"
            "    assert gitml.params() == {'lr': 0.1}, gitml.params()\n"
            "    gitml.log_metric('inner', 2.0)\n"
            "    gitml.set_tag('child', 'yes')\n"
            "    print(r.info.run_id)\n"
        )
        out = run_python(code, elsewhere, env={"GITML_RUN_ID": run.info.run_id,
                                               "GITML_DIR": str(repo.path)})  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == run.info.run_id
        mid = gitml.Client().get_run(run.info.run_id)
        assert mid.info.status == "RUNNING", "an attached process never ends the run"
        gitml.log_metric("outer", 3.0, step=1)
    got = gitml.get_run(run.info.run_id)
    assert got.info.status == "FINISHED"
    assert got.data.metrics == {"outer": 3.0, "inner": 2.0} and got.data.tags == {"child": "yes"}
    assert len(repo.run_refs()) == 1
    repo.fsck()


def test_attach_by_name_and_an_unknown_gitml_run_id(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    with gitml.start_run(name="outer") as outer:
        pass
    monkeypatch.setenv("GITML_RUN_ID", "outer")
    with gitml.start_run() as inner:
        gitml.log_metric("late", 1.0)
    assert inner.run_id == outer.run_id
    got = gitml.get_run(outer.run_id)
    assert got.data.metrics == {"late": 1.0} and got.info.status == "FINISHED"
    monkeypatch.setenv("GITML_RUN_ID", "nosuchrun")
    with pytest.raises(RunNotFound, match="GITML_RUN_ID=nosuchrun names no single run of .*unset GITML_RUN_ID"):
        gitml.start_run()
    assert len(repo.run_refs()) == 1


def test_generated_names_avoid_the_names_of_each_repository(repo: GitRepo, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache of known names is per repository: a second repository's names count too."""
    from gitml import runs

    with gitml.start_run():
        pass
    other = tmp_path / "other"
    other.mkdir()
    import subprocess as sp

    sp.run(["git", "init", "-q", str(other)], check=True)
    monkeypatch.setattr(runs.random, "SystemRandom", _Fixed)
    monkeypatch.chdir(other)
    gitml.Client().create_run(run_name="calm-owl-7")
    assert runs.generate_name(gitml.Client().store) == "calm-owl-8"


class _Fixed:
    """A stand-in random source: calm-owl-7, then calm-owl-8."""

    def __init__(self) -> None:
        self.n = 0

    def choice(self, seq: list[str]) -> str:
        return {"ant": "owl"}.get(seq[0], "calm")

    def randint(self, a: int, b: int) -> int:
        self.n += 1
        return 6 + self.n


# ---------------------------------------------------------------- the docs and the example run
ROOT = Path(__file__).resolve().parent.parent


def test_getting_started_snippet_runs(repo: GitRepo) -> None:
    text = (ROOT / "docs" / "getting-started.md").read_text()
    snippet = text.split("```python\n", 1)[1].split("```", 1)[0]
    out = run_python(snippet, repo.path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "0.93"
    rid = next(iter(repo.run_refs()))
    assert repo.git("show", f"{ref(rid)}:artifacts/notes.txt") == "all good"


def test_example_training_script(repo: GitRepo) -> None:
    pytest.importorskip("sklearn")
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "train.py"), "--epochs", "3",
                          "--name", "example"], cwd=repo.path, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    run = gitml.get_run("example")
    assert run.info.status == "FINISHED" and run.info.experiment == "digits"
    assert run.data.params["epochs"] == 3 and run.data.params["data"]["name"] == "digits"
    assert 0.8 < run.data.metrics["acc"] <= 1.0
    assert [m.step for m in gitml.Client().get_metric_history("example", "test_loss")] == [0, 1, 2]
    assert {f.path for f in gitml.Client().list_artifacts("example")} == {
        "confusion_matrix.json", "report.txt"}  # fmt: skip
    assert "scikit-learn" in run.extra["environment"]["packages"]
