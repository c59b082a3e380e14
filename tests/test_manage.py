"""Tests of `gitml metrics`, `tag`, `rename`, `rm` and `gc` (gitml.manage, gitml.cli.manage)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import GitRepo, git

from gitml import Client, index, manage, runs
from gitml.cli import cli
from gitml.entities import Metric
from gitml.store import Store


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.fixture
def client(repo: GitRepo) -> Client:
    c = Client()
    for name, lr in (("alpha", 0.1), ("beta", 0.2), ("gamma", 0.3)):
        run_id = c.create_run(run_name=name, params={"lr": lr}, tags={"team": "a"}).info.run_id
        c.log_batch(run_id, [Metric("loss", 1.0 / (step + 1), 1_700_000_000_000 + step, step)
                             for step in range(4)])  # fmt: skip
        c.set_terminated(run_id)
    return c


def ref_of(name: str) -> str:
    store = Store.discover()
    return str(store.get_ref("refs/gitml/runs/" + runs.resolve(store, name)))


# --------------------------------------------------------------------------- metrics
def test_metrics_history_formats(client: Client) -> None:
    code, out = invoke("metrics", "alpha", "loss")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["step", "time", "value"]
    assert lines[2].split() == ["0", "2023-11-14T22:13:20.000Z", "1"]
    assert lines[-1].split() == ["3", "2023-11-14T22:13:20.003Z", "0.25"]
    code, out = invoke("metrics", "alpha", "loss", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["step", "timestamp", "value"]
    assert rows[3] == ["2", "1700000000002", repr(1 / 3)]
    code, out = invoke("metrics", "alpha", "loss", "--format", "json")
    doc = json.loads(out)
    assert doc["key"] == "loss" and doc["name"] == "alpha" and len(doc["history"]) == 4
    assert doc["history"][1] == {"step": 1, "timestamp": 1_700_000_000_001, "value": 0.5}


def test_metrics_summaries_and_errors(client: Client) -> None:
    code, out = invoke("metrics", "alpha")
    assert code == 0 and out.splitlines()[2].split() == ["loss", "0.25", "3", "0.25", "1", "4"]
    assert (
        json.loads(invoke("metrics", "alpha", "--format", "json")[1])["metrics"]["loss"]["count"]
        == 4
    )
    code, out = invoke("metrics", "alpha", "acc")
    assert code == 1 and out == "Error: run alpha has no metric 'acc'; its metrics: loss\n"
    code, out = invoke("metrics", "nosuch", "loss")
    assert code == 1 and out.startswith("Error: no run matches 'nosuch'")
    assert invoke("metrics", "alpha", "loss", "--format", "yaml")[0] == 2


def test_metrics_markdown_like_ls(client: Client) -> None:
    code, out = invoke("metrics", "alpha", "loss", "--format", "md")
    assert code == 0
    lines = out.splitlines()
    assert lines[:3] == ["| step | time | value |", "|---|---|---|",
                         "| 0 | 2023-11-14T22:13:20.000Z | 1 |"]  # fmt: skip
    assert len(lines) == 2 + 4
    code, out = invoke("metrics", "alpha", "--format", "md")
    assert code == 0 and out.splitlines()[2] == "| loss | 0.25 | 3 | 0.25 | 1 | 4 |"


# --------------------------------------------------------------------------- tag
def test_tag_set_delete_list(client: Client) -> None:
    code, out = invoke("tag", "alpha", "stage=prod", "note=a=b", "--delete", "team")
    assert code == 0, out
    assert out.startswith("run alpha (") and "set note, stage; deleted team" in out
    assert client.get_run("alpha").data.tags == {"stage": "prod", "note": "a=b"}
    code, out = invoke("tag", "alpha")
    assert out == "note=a=b\nstage=prod\n"
    assert invoke("tag", "beta", "-d", "team")[0] == 0
    assert invoke("tag", "beta")[1] == "run beta has no tags\n"


def test_tag_errors_write_nothing(client: Client) -> None:
    before = ref_of("alpha")
    code, out = invoke("tag", "alpha", "ok=1", "novalue")
    assert code == 2 and "tag 'novalue' has no value: write KEY=VALUE" in out
    code, out = invoke("tag", "alpha", "ok=1", "--delete", "missing")
    assert code == 1 and out == "Error: run alpha has no tag 'missing' to delete; its tags: team\n"
    code, out = invoke("tag", "alpha", "bad!key=1")
    assert code == 2 and "bad!key" in out
    assert ref_of("alpha") == before


# --------------------------------------------------------------------------- rename
def test_rename(client: Client) -> None:
    run_id = client.resolve_run("alpha")
    code, out = invoke("rename", "alpha", "first")
    assert code == 0 and out == f"run {run_id[:8]}: alpha → first\n"
    assert client.get_run(run_id).info.run_name == "first"
    code, out = invoke("rename", "first", " ")
    assert code == 1 and out.startswith("Error: invalid run name ' '")
    assert client.get_run(run_id).info.run_name == "first"


# --------------------------------------------------------------------------- rm
def test_rm_hides_and_undo_restores(client: Client) -> None:
    store = Store.discover()
    beta = client.resolve_run("beta")
    code, out = invoke("rm", "beta", "gamma")
    assert code == 0
    assert f"deleted beta ({beta[:8]}); `gitml rm --undo {beta[:8]}` restores it" in out
    assert [s["name"] for s in runs.list_summaries(store)] == ["alpha"]
    assert {s["name"] for s in runs.list_summaries(store, include_deleted=True)} == {
        "alpha",
        "beta",
        "gamma",
    }
    assert list(client.search_runs(output="list")) and [
        r.info.run_name for r in client.search_runs(output="list")
    ] == ["alpha"]
    assert client.get_run(beta).info.lifecycle_stage == "deleted"
    listed = json.loads(invoke("ls", "--format", "json")[1])["runs"]
    assert [r["name"] for r in listed] == ["alpha"]
    listed = json.loads(invoke("ls", "--all", "--format", "json")[1])["runs"]
    assert {r["name"]: r["lifecycle"] for r in listed}["beta"] == "deleted"
    code, out = invoke("rm", "beta")
    assert f"beta ({beta[:8]}) was already deleted" in out
    code, out = invoke("rm", "--undo", beta[:6])
    assert code == 0 and out == f"restored beta ({beta[:8]})\n"
    assert {s["name"] for s in runs.list_summaries(store)} == {"alpha", "beta"}
    assert "was not deleted" in invoke("rm", "--undo", "alpha")[1]


def test_rm_unknown_run_deletes_nothing(client: Client) -> None:
    code, out = invoke("rm", "alpha", "nosuch")
    assert code == 1 and out.startswith("Error: no run matches 'nosuch'")
    assert len(runs.list_summaries(Store.discover())) == 3
    assert invoke("rm")[0] == 2


# --------------------------------------------------------------------------- gc
def test_gc_drops_deleted_runs_prunes_and_packs(
    client: Client, repo: GitRepo, tmp_path: Path
) -> None:
    unique = tmp_path / "unique.bin"
    unique.write_bytes(os.urandom(4096))
    beta = client.resolve_run("beta")
    client.log_artifact(beta, str(unique))
    blob = git("hash-object", str(unique)).strip()
    assert invoke("rm", "beta")[0] == 0
    code, out = invoke("gc", "--dry-run")
    assert out.startswith(f"would drop deleted run beta ({beta[:8]})") and beta in repo.run_refs()
    code, out = invoke("gc", "--prune", "now")
    assert code == 0, out
    assert f"dropped deleted run beta ({beta[:8]})" in out
    assert "git pack-refs --all" in out and "git prune --expire=now" in out
    refs = repo.run_refs()
    assert beta not in refs and len(refs) == 2
    assert git("cat-file", "-e", blob, check=False) == "" and subprocess.run(
        ["git", "cat-file", "-e", blob], cwd=repo).returncode != 0  # fmt: skip
    repo.fsck()
    # refs are packed, and the runs stay readable and writable
    packed = (repo / ".git" / "packed-refs").read_text()
    assert all(f"refs/gitml/runs/{r}" in packed for r in refs)
    assert not (repo / ".git" / "refs" / "gitml" / "runs").exists() or not os.listdir(
        repo / ".git" / "refs" / "gitml" / "runs")  # fmt: skip
    assert git("count-objects", "-v").split("count: ")[1].startswith("0")
    assert client.get_run("alpha").data.params == {"lr": 0.1}
    assert [m.value for m in client.get_metric_history("gamma", "loss")][-1] == 0.25
    assert invoke("tag", "alpha", "after=gc")[0] == 0
    assert client.get_run("alpha").data.tags["after"] == "gc"
    assert {s["name"] for s in runs.list_summaries(Store.discover())} == {"alpha", "gamma"}
    repo.fsck()
    code, out = invoke("gc")
    assert code == 0 and "no deleted runs to drop" in out
    repo.fsck()


def test_gc_removes_large_files_only_deleted_runs_used(
    client: Client, repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    monkeypatch.setenv("GITML_LFS_THRESHOLD", "1000")
    shared, only_beta = tmp_path / "shared.bin", tmp_path / "only-beta.bin"
    shared.write_bytes(os.urandom(5000))
    only_beta.write_bytes(os.urandom(7000))
    client.log_artifact(client.resolve_run("alpha"), str(shared))
    client.log_artifact(client.resolve_run("beta"), str(shared))
    client.log_artifact(client.resolve_run("beta"), str(only_beta))
    lfs = repo / ".git" / "lfs" / "objects"

    def stored(path: Path) -> Path:
        oid = hashlib.sha256(path.read_bytes()).hexdigest()
        return lfs / oid[:2] / oid[2:4] / oid

    # a file git-lfs manages for the user's own branch: its pointer is committed there
    user_data = os.urandom(3000)
    user_oid = hashlib.sha256(user_data).hexdigest()
    (lfs / user_oid[:2] / user_oid[2:4]).mkdir(parents=True, exist_ok=True)
    (lfs / user_oid[:2] / user_oid[2:4] / user_oid).write_bytes(user_data)
    repo.commit_files({"data.bin": f"version https://git-lfs.github.com/spec/v1\n"
                                   f"oid sha256:{user_oid}\nsize 3000\n"})  # fmt: skip
    assert stored(shared).is_file() and stored(only_beta).is_file()

    assert invoke("rm", "beta")[0] == 0
    code, out = invoke("gc")  # default grace period: the files are too young to go
    assert code == 0 and "large files" not in out and stored(only_beta).is_file()
    code, out = invoke("gc", "--prune", "now")
    assert code == 0, out
    assert "large files: removed 1 that no run refers to any more (6 KiB)" in out
    assert not stored(only_beta).exists()
    assert stored(shared).read_bytes() == shared.read_bytes()  # alpha still uses it
    assert (lfs / user_oid[:2] / user_oid[2:4] / user_oid).read_bytes() == user_data
    out_dir = tmp_path / "out"
    client.download_artifacts(client.resolve_run("alpha"), "shared.bin", str(out_dir))
    assert (out_dir / "shared.bin").read_bytes() == shared.read_bytes()
    repo.fsck()


def test_gc_keeps_recent_unreachable_objects_by_default(client: Client, repo: GitRepo) -> None:
    store = Store.discover()
    young = store.add_blob(b"written by a writer that has not moved its ref yet")
    assert invoke("gc")[0] == 0
    assert store.has(young)
    assert invoke("gc", "--prune", "now")[0] == 0
    assert not Store.discover().has(young)


def test_gc_undo_race_keeps_restored_run(client: Client) -> None:
    """A run restored after the listing is not dropped (the ref delete is a compare-and-swap)."""
    store = Store.discover()
    beta = client.resolve_run("beta")
    manage.remove(store, ["beta"])
    deleted_commit = store.get_ref("refs/gitml/runs/" + beta)
    manage.remove(store, ["beta"], undo=True)
    assert not store.delete_ref("refs/gitml/runs/" + beta, deleted_commit)
    assert store.get_ref("refs/gitml/runs/" + beta) is not None


def test_gc_without_git(client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    invoke("rm", "gamma")
    nobin = tmp_path / "nobin"
    nobin.mkdir()
    path = os.environ["PATH"]
    monkeypatch.setenv("PATH", str(nobin))
    code, out = invoke("gc")
    monkeypatch.setenv("PATH", path)
    assert code == 0
    assert "dropped deleted run gamma" in out
    assert "git is not installed: objects were not pruned or packed" in out
    assert len(runs.list_summaries(Store.discover(), include_deleted=True)) == 2


def test_gc_stale(repo: GitRepo) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    store = Store.discover()
    w = runs.create(store, name="ghost", pid=proc.pid, code=False)
    w.flush()
    live = runs.create(store, name="alive", code=False)  # this process: not stale
    live.flush()
    code, out = invoke("gc", "--stale")
    assert code == 0, out
    assert f"marked stale run {w.run_id[:8]} KILLED" in out
    assert runs.load(store, w.run_id).info["status"] == "KILLED"
    assert runs.load(store, live.run_id).info["status"] == "RUNNING"


def test_subprocess(client: Client, repo: GitRepo) -> None:
    exe = shutil.which("gitml")
    assert exe
    done = subprocess.run([exe, "rm", "alpha"], cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("deleted alpha")
    done = subprocess.run([exe, "gc", "--prune", "now"], cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0 and "dropped deleted run alpha" in done.stdout
    repo.fsck()
    done = subprocess.run([exe, "metrics", "beta", "loss", "--format", "csv"], cwd=repo,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0 and done.stdout.splitlines()[0] == "step,timestamp,value"
    bad = subprocess.run([exe, "tag", "nosuch", "a=1"], cwd=repo, capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.startswith("Error: no run matches 'nosuch'")
    assert "Traceback" not in bad.stderr
    assert index.summaries(Store.discover())


# --------------------------------------------------------------------------- docs
VARIABLE = re.compile(r"[0-9a-f]{7,}|\d{4}-\d\d-\d\dT|pid |KiB|^\.\.\.$|^\d+,\d{13}")


def test_docs_compare_session_runs(tmp_path: Path) -> None:
    """docs/compare.md: the setup script and every `$ command` run, with the output shown."""
    text = (Path(__file__).parent.parent / "docs" / "compare.md").read_text()
    setup = re.search(r"```bash\n(.*?)```", text, re.S)
    assert setup
    done = subprocess.run(["bash", "-e", "-c", setup.group(1)], cwd=tmp_path, capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    demo = tmp_path / "demo"
    env = {**os.environ, "COLUMNS": "90"}
    commands = 0
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
            command, _, expected = chunk.partition("\n")
            out = subprocess.run(["bash", "-c", command], cwd=demo, env=env, capture_output=True,
                                 text=True)  # fmt: skip
            assert out.returncode == 0, f"{command}: {out.stderr}"
            lines = out.stdout.splitlines()
            for line in expected.splitlines():
                if line.strip() and not VARIABLE.search(line) and "ada@laptop" not in line:
                    assert line in lines, f"{command}: {line!r} not in\n{out.stdout}"
            commands += 1
    assert commands >= 15


def test_gc_bad_prune_date_drops_nothing(client: Client, repo: GitRepo) -> None:
    invoke("rm", "beta")
    code, out = invoke("gc", "--prune", "notadate")
    assert code == 1
    assert out == ("Error: --prune 'notadate' is not a date git understands; "
                   "use e.g. now, 1.hour.ago, 2.weeks.ago\n")  # fmt: skip
    assert len(repo.run_refs()) == 3
