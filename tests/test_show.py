"""Tests of ``gitml show`` (gitml.show, gitml.cli.core) on real repositories."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import GitRepo

from gitml import Client, runs
from gitml.cli import cli
from gitml.show import describe, format_duration
from gitml.store import MODE_FILE, Store

LOG = "".join(f"log line {i}\n" for i in range(1, 31))


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def full_run(repo: GitRepo, tmp_path: Path) -> str:
    """A finished run with params, metrics, tags, artifacts, a model and an output.log."""
    (repo / "untracked.txt").write_text("dirty\n")
    client = Client()
    run = client.create_run(run_name="full", params={"lr": 0.01, "opt": {"name": "adam"}},
                            tags={"stage": "dev"}, description="a test run")  # fmt: skip
    run_id = run.info.run_id
    for step, value in enumerate([0.9, 0.5, 0.7]):
        client.log_metric(run_id, "loss", value, step=step)
    art = tmp_path / "report.txt"
    art.write_text("x" * 2048)
    client.log_artifact(run_id, str(art), "reports")
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors:\n  python_function: {}\n  sklearn: {}\n")
    client.log_model_dir(run_id, str(model), "clf")
    store = Store.discover()
    w = runs.open_writer(store, run_id)
    w.set_entry("output.log", (MODE_FILE, store.add_blob(LOG.encode())))
    w.flush()
    client.set_terminated(run_id)
    return run_id


def test_describe(full_run: str) -> None:
    info = describe(Store.discover(), "full")
    assert info["schema"] == "gitml.show/1"
    assert info["id"] == full_run and info["name"] == "full" and info["status"] == "FINISHED"
    assert info["stale"] is False and info["duration"] is not None
    assert info["source"]["dirty"] is True and info["source"]["branch"] == "main"
    assert info["params"] == {"lr": 0.01, "opt": {"name": "adam"}}
    assert info["metrics"]["loss"]["last"] == 0.7 and info["metrics"]["loss"]["min"] == 0.5
    assert info["tags"] == {"stage": "dev"}
    assert info["artifacts"] == [{"path": "reports/report.txt", "size": 2048, "lfs": False}]
    assert info["models"] == [{"name": "clf", "flavors": ["python_function", "sklearn"],
                               "uri": f"runs:/{full_run}/clf", "registered": []}]  # fmt: skip
    assert info["log"].splitlines() == [f"log line {i}" for i in range(11, 31)]
    assert info["log_cut"] == "last 20 of 30 lines; --log for all"
    assert info["code"] and len(info["code"]) == 40
    assert describe(Store.discover(), "full", log_lines=None)["log"] == LOG


def test_text(full_run: str) -> None:
    out = CliRunner().invoke(cli, ["show", "full"]).output
    assert out.startswith(f"run {full_run}  full\n")
    assert "  status      FINISHED\n" in out
    assert "(dirty: the workspace differed from it)" in out
    assert "  branch      main\n" in out
    assert "opt.name  adam" in out  # nested params flattened
    assert "loss  0.7   2     0.5  0.9  3" in out
    assert "reports/report.txt  2.0 KiB" in out
    assert "clf   python_function, sklearn" in out
    assert "output.log (last 20 of 30 lines; --log for all):" in out
    assert "log line 10\n" not in out and "log line 30\n" in out
    full = CliRunner().invoke(cli, ["show", "full", "--log"]).output
    assert "  log line 1\n" in full and "--log for all" not in full
    few = CliRunner().invoke(cli, ["show", "full", "--lines", "2"]).output
    assert "last 2 of 30 lines" in few and "log line 28\n" not in few


def test_json_yaml_md(full_run: str) -> None:
    doc = json.loads(CliRunner().invoke(cli, ["show", full_run[:6], "--format", "json"]).output)
    assert doc["schema"] == "gitml.show/1" and doc["id"] == full_run
    assert doc["metrics"]["loss"]["count"] == 3
    ydoc = yaml.safe_load(CliRunner().invoke(cli, ["show", "full", "--format", "yaml"]).output)
    assert ydoc["id"] == full_run and ydoc["artifacts"][0]["size"] == 2048
    assert {k: v for k, v in ydoc.items()} == doc
    md = CliRunner().invoke(cli, ["show", "full", "--format", "md"]).output
    assert md.startswith("# run full\n")
    assert "| status | FINISHED |" in md and "## params" in md and "| opt.name | adam |" in md
    assert "```text\nlog line 11\n" in md


def test_stale_deleted_and_bare_run(repo: GitRepo) -> None:
    store = Store.discover()
    w = runs.create(store, name="ghost", pid=dead_pid(), code=False)
    w.flush()
    info = describe(store, "ghost")
    assert info["status"] == "RUNNING" and info["stale"] is True
    assert info["log"] is None and info["artifacts"] == [] and info["code"] is None
    out = CliRunner().invoke(cli, ["show", "ghost"]).output
    assert "RUNNING (stale: its process is gone; `gitml gc --stale` marks it KILLED)" in out
    assert "params: none" in out and "output.log" not in out
    runs.set_lifecycle(store, w.run_id, "deleted")
    out = CliRunner().invoke(cli, ["show", "ghost"]).output
    assert "lifecycle   deleted (`gitml rm --undo` restores it" in out


def test_nan_metric_in_json(repo: GitRepo) -> None:
    client = Client()
    run_id = client.create_run(run_name="nan").info.run_id
    client.log_metric(run_id, "m", float("nan"))
    doc = json.loads(CliRunner().invoke(cli, ["show", "nan", "--format", "json"]).output)
    assert doc["metrics"]["m"]["last"] == "nan"
    ydoc = yaml.safe_load(CliRunner().invoke(cli, ["show", "nan", "--format", "yaml"]).output)
    assert ydoc["metrics"]["m"]["last"] != ydoc["metrics"]["m"]["last"]  # a real NaN


def test_errors(repo: GitRepo) -> None:
    result = CliRunner().invoke(cli, ["show", "nosuch"])
    assert result.exit_code == 1
    assert (
        result.output == "Error: no run matches 'nosuch'; run `gitml ls` to see run ids and names\n"
    )
    assert CliRunner().invoke(cli, ["show", "x", "--format", "csv"]).exit_code == 2
    assert CliRunner().invoke(cli, ["show"]).exit_code == 2


def test_subprocess(full_run: str, repo: GitRepo) -> None:
    exe = shutil.which("gitml")
    assert exe
    done = subprocess.run([exe, "show", "full", "--format", "json"], cwd=repo, capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["id"] == full_run
    bad = subprocess.run([exe, "show", "nosuch"], cwd=repo, capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.startswith("Error: no run matches")


def test_format_duration() -> None:
    assert format_duration(None) is None
    assert format_duration(1.25) == "1.2s"
    assert format_duration(125) == "2m05s"
    assert format_duration(7300) == "2h01m"


def test_skipped_files_and_lfs_artifact(repo: GitRepo, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("GITML_SNAPSHOT_MAX_FILE", "100")
    monkeypatch.setenv("GITML_LFS_THRESHOLD", "1000")
    (repo / "big.csv").write_text("x" * 500)
    client = Client()
    run_id = client.create_run(run_name="lfs").info.run_id
    art = tmp_path / "weights.bin"
    art.write_bytes(b"w" * 5000)
    client.log_artifact(run_id, str(art))
    info = describe(Store.discover(), "lfs")
    assert info["source"]["skipped"] == ["big.csv"]
    assert info["artifacts"] == [{"path": "weights.bin", "size": 5000, "lfs": True}]
    out = CliRunner().invoke(cli, ["show", "lfs"]).output
    assert "  skipped     big.csv (too large for the code snapshot)" in out
    assert "weights.bin  4.9 KiB (LFS)" in out
