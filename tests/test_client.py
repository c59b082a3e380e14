"""The explicit Client API over run ids, against real git repositories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import GitRepo

import gitml
from gitml import Client, Metric
from gitml.errors import ArtifactError, InvalidKey, InvalidValue, ParamConflict, RunNotFound


def test_create_log_terminate_and_read(repo: GitRepo) -> None:
    c = Client()
    run = c.create_run(experiment="exp", run_name="explicit", tags={"k": "v"}, params={"a": 1},
                       description="by hand")  # fmt: skip
    rid = run.info.run_id
    assert run.info.status == "RUNNING" and run.info.run_name == "explicit"
    assert repo.run_refs() == {rid: run.info.commit}
    c.log_param(rid, "b", [1, 2])
    c.log_metric(rid, "loss", 0.5, timestamp=1_000, step=1)
    c.log_batch(rid, metrics=[Metric("loss", 0.25, 2_000, 2), Metric("acc", 0.9, 2_000, 2)],
                params={"c": "x"}, tags={"t": 3})  # fmt: skip
    c.set_tag(rid, "gone", "soon")
    c.delete_tag(rid, "gone")
    c.set_terminated(rid, "FAILED", end_time=run.info.start_time + 5_000)  # type: ignore[operator]
    got = c.get_run(rid)
    assert got.info.status == "FAILED"
    assert got.info.end_time == run.info.start_time + 5_000  # type: ignore[operator]
    assert got.info.experiment == "exp" and got.info.experiment_id == "exp"
    assert got.data.params == {"a": 1, "b": [1, 2], "c": "x"}
    assert got.data.metrics == {"loss": 0.25, "acc": 0.9}
    assert got.data.tags == {"k": "v", "t": "3"}
    assert got.extra["description"] == "by hand"
    assert c.get_metric_history(rid, "loss") == [Metric("loss", 0.5, 1_000, 1),
                                                 Metric("loss", 0.25, 2_000, 2)]  # fmt: skip
    assert c.get_run("explicit").info.run_id == rid == c.get_run(rid[:5]).info.run_id
    repo.fsck()


def test_each_write_is_one_commit_on_the_baseline(repo: GitRepo) -> None:
    c = Client()
    rid = c.create_run().info.run_id
    for i in range(3):
        c.log_metric(rid, "m", float(i), step=i)
    r = f"refs/gitml/runs/{rid}"
    assert repo.git("rev-list", "--count", r).strip() == "2", "run commit + baseline only"
    assert repo.git("log", "-1", "--format=%P", r).strip() == repo.head()
    assert "revision: 4" in repo.git("show", f"{r}:run.yaml")
    author = repo.git("log", "-1", "--format=%an <%ae>", r).strip()
    assert author == "Ada Tester <ada@example.com>"


def test_artifacts_list_and_download(repo: GitRepo, tmp_path: Path) -> None:
    repo.write_files({"out/model.txt": "weights\n", "out/plots/roc.csv": "x,y\n", "one.txt": "1\n"})
    os.chmod(repo / "out" / "model.txt", 0o755)
    c = Client()
    rid = c.create_run().info.run_id
    c.log_artifact(rid, "one.txt")
    c.log_artifacts(rid, "out", "results")
    listed = c.list_artifacts(rid)
    assert [(f.path, f.is_dir, f.file_size) for f in listed] == [("one.txt", False, 2),
                                                                 ("results", True, None)]  # fmt: skip
    assert [f.path for f in c.list_artifacts(rid, "results")] == ["results/model.txt",
                                                                  "results/plots"]  # fmt: skip
    dest = tmp_path / "dl"
    folder = c.download_artifacts(rid, "results", str(dest))
    assert Path(folder, "plots", "roc.csv").read_text() == "x,y\n"
    assert os.access(Path(folder, "model.txt"), os.X_OK)
    whole = c.download_artifacts(rid, dst_path=str(tmp_path / "all"))
    assert sorted(p.relative_to(whole).as_posix() for p in Path(whole).rglob("*") if p.is_file()) == [
        "one.txt", "results/model.txt", "results/plots/roc.csv"]  # fmt: skip
    single = c.download_artifacts(rid, "one.txt", str(tmp_path / "single"))
    assert Path(single).read_text() == "1\n"
    with pytest.raises(ArtifactError, match="no artifact 'nope'"):
        c.download_artifacts(rid, "nope")
    with pytest.raises(ArtifactError, match="escape"):
        c.download_artifacts(rid, "../run.yaml")
    with pytest.raises(ArtifactError, match="no artifact"):
        c.list_artifacts(rid, "nope")


def test_delete_restore_and_rename(repo: GitRepo) -> None:
    from gitml import runs
    from gitml.store import Store

    c = Client()
    rid = c.create_run(run_name="old").info.run_id
    c.rename_run(rid, "new")
    assert c.get_run("new").info.run_id == rid
    with pytest.raises(RunNotFound):
        c.get_run("old")
    c.delete_run("new")
    assert c.get_run(rid).info.lifecycle_stage == "deleted"
    assert rid in repo.run_refs(), "deletion is a write that travels, the ref stays"
    assert "lifecycle: deleted" in repo.git("show", f"refs/gitml/runs/{rid}:run.yaml")
    store = Store.discover()
    assert [s["run_id"] for s in runs.list_summaries(store)] == []
    assert [s["run_id"] for s in runs.list_summaries(store, include_deleted=True)] == [rid]
    c.restore_run(rid)
    assert c.get_run(rid).info.lifecycle_stage == "active"
    with pytest.raises(InvalidKey):
        c.rename_run(rid, "")


def test_client_errors_write_nothing(repo: GitRepo) -> None:
    c = Client()
    rid = c.create_run(params={"p": 1}).info.run_id
    before = repo.run_refs()
    with pytest.raises(ParamConflict):
        c.log_param(rid, "p", 2)
    with pytest.raises(InvalidKey):
        c.log_metric(rid, "a//b", 1.0)
    with pytest.raises(gitml.GitmlError, match="not a number"):
        c.log_batch(rid, metrics=[Metric("ok", 1.0, 0, 0), Metric("bad", "x", 0, 0)])  # type: ignore[arg-type]
    with pytest.raises(ArtifactError, match="missing"):
        c.log_artifact(rid, "nothing-here.bin")
    with pytest.raises(RunNotFound, match="no metric 'nope'; it has: none"):
        c.get_metric_history(rid, "nope")
    with pytest.raises(RunNotFound, match="'zzzz'"):
        c.log_metric("zzzz", "m", 1.0)
    with pytest.raises(ArtifactError, match=r"has no artifacts; see `gitml show"):
        c.download_artifacts(rid)
    with pytest.raises(ArtifactError, match=r"has no artifact 'x.bin'; see `gitml show"):
        c.download_artifacts(rid, "x.bin")
    with pytest.raises(InvalidValue, match="unknown final status 'DONE'; use one of FINISHED"):
        c.set_terminated(rid, "DONE")
    assert repo.run_refs() == before


def test_client_for_another_repository(repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rid = Client().create_run(run_name="remote-ish").info.run_id
    monkeypatch.chdir(tmp_path)
    c = Client(str(repo.path))
    assert c.get_run("remote-ish").info.run_id == rid
    c.log_metric(rid, "m", 1.0)
    assert Client(str(repo.path / ".")).get_run(rid).data.metrics == {"m": 1.0}


def test_a_folder_holding_a_git_checkout_is_logged_without_its_repository(
    repo: GitRepo, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    (model / ".git").mkdir(parents=True)
    (model / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (model / "sub" / ".git").mkdir(parents=True)
    (model / "weights.bin").write_bytes(b"w")
    (model / "sub" / "cfg.json").write_text("{}")
    c = Client()
    rid = c.create_run().info.run_id
    c.log_artifacts(rid, str(model), "m")
    c.log_model_dir(rid, str(model), "clone")
    with pytest.raises(ArtifactError, match="'.git'"):
        c.log_artifact(rid, str(model / "weights.bin"), "x/.git")
    with pytest.raises(InvalidKey, match="'.git'"):
        c.log_metric(rid, ".git", 1.0)
    files = repo.git("ls-tree", "-r", "--name-only", f"refs/gitml/runs/{rid}").split()
    assert "artifacts/m/weights.bin" in files and "artifacts/m/sub/cfg.json" in files
    assert "models/clone/weights.bin" in files
    assert not [f for f in files if ".git/" in f]
    repo.fsck()
