"""The listing cache (gitml.index) stays correct: every answer equals a fresh read of the refs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import GitRepo, git

from gitml import Client, index, manage, runs
from gitml.record import RunRecord
from gitml.store import Store


def truth(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every run's summary read from its commit, with refs listed by real git."""
    store = Store.discover(os.fspath(path))
    out = git("for-each-ref", "--format=%(objectname) %(refname)", "refs/gitml/runs", cwd=path)
    summaries = []
    for line in out.splitlines():
        commit = line.split(" ", 1)[0]
        try:
            summaries.append(RunRecord.load(store, commit).summary())
        except KeyError:
            continue  # not a run commit
    return sorted(summaries, key=lambda s: s["run_id"])


def cached(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    return sorted(index.summaries(Store.discover(os.fspath(path))), key=lambda s: s["run_id"])


def cache_file(path: str | os.PathLike[str]) -> Path:
    return Path(path) / ".git" / "gitml" / "index.json"


def assert_correct(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    expected = truth(path)
    assert cached(path) == expected
    assert cached(path) == expected  # and again, from the cache it just wrote
    data = json.loads(cache_file(path).read_text())
    assert sorted(data["runs"]) == sorted(s["commit"] for s in expected)
    return expected


def make(client: Client, name: str, **params: Any) -> str:
    run_id = client.create_run(run_name=name, params=params or {"p": 1}).info.run_id
    client.log_metric(run_id, "m", 1.0)
    client.set_terminated(run_id)
    return run_id


@pytest.fixture
def client(repo: GitRepo) -> Client:
    return Client()


def test_added_runs(client: Client, repo: GitRepo) -> None:
    assert cached(repo) == [] == truth(repo)
    make(client, "a")
    assert [s["name"] for s in assert_correct(repo)] == ["a"]
    make(client, "b")
    make(client, "c")
    assert {s["name"] for s in assert_correct(repo)} == {"a", "b", "c"}


def test_warm_cache_is_not_rewritten(client: Client, repo: GitRepo) -> None:
    make(client, "a")
    assert_correct(repo)
    stamp = cache_file(repo).stat().st_mtime_ns
    os.utime(cache_file(repo), ns=(stamp - 10**9, stamp - 10**9))
    cached(repo)
    assert cache_file(repo).stat().st_mtime_ns == stamp - 10**9


def test_amended_runs(client: Client, repo: GitRepo) -> None:
    a = make(client, "a")
    make(client, "b")
    old = assert_correct(repo)
    client.log_metric(a, "m", 5.0, step=3)
    client.set_tag(a, "t", "v")
    client.rename_run(a, "renamed")
    now = assert_correct(repo)
    by_id = {s["run_id"]: s for s in now}
    assert by_id[a]["name"] == "renamed" and by_id[a]["metrics"]["m"]["last"] == 5.0
    assert by_id[a]["tags"] == {"t": "v"}
    assert {s["commit"] for s in old} != {s["commit"] for s in now}


def test_removed_runs(client: Client, repo: GitRepo) -> None:
    a = make(client, "a")
    b = make(client, "b")
    assert_correct(repo)
    manage.remove(Store.discover(), [a])
    state = {s["run_id"]: s["lifecycle"] for s in assert_correct(repo)}
    assert state == {a: "deleted", b: "active"}
    assert [s["run_id"] for s in runs.list_summaries(Store.discover())] == [b]
    manage.gc(Store.discover(), prune="now")
    assert [s["run_id"] for s in assert_correct(repo)] == [b]
    # a ref deleted by plain git, behind gitml's back
    git("update-ref", "-d", f"refs/gitml/runs/{b}", cwd=repo)
    assert assert_correct(repo) == []


def test_packed_refs(client: Client, repo: GitRepo) -> None:
    a = make(client, "a")
    make(client, "b")
    assert_correct(repo)
    git("pack-refs", "--all", cwd=repo)
    assert len(assert_correct(repo)) == 2
    client.set_tag(a, "after", "pack")  # a loose ref now shadows the packed one
    assert {s["run_id"]: s["tags"] for s in assert_correct(repo)}[a] == {"after": "pack"}


def test_fetched_from_elsewhere(client: Client, repo: GitRepo, tmp_path: Path) -> None:
    a = make(client, "a")
    assert_correct(repo)
    other = tmp_path / "other"
    git("clone", "-q", str(repo.path), str(other))
    git("fetch", "-q", str(repo.path), "refs/gitml/*:refs/gitml/*", cwd=other)
    assert [s["run_id"] for s in assert_correct(other)] == [a]
    # in the second clone: a new run, and a new version of the fetched one
    remote = Client(str(other))
    c = make(remote, "from-other")
    remote.set_tag(a, "seen", "elsewhere")
    # without "+", git takes the new run and refuses the non-fast-forward update of ``a``
    git("fetch", "-q", str(other), "refs/gitml/*:refs/gitml/*", cwd=repo, check=False)
    assert {s["name"] for s in assert_correct(repo)} == {"a", "from-other"}
    assert {s["run_id"]: s["tags"] for s in cached(repo)}[a] == {}
    git("fetch", "-q", str(other), "+refs/gitml/*:refs/gitml/*", cwd=repo)  # the newer version too
    by_id = {s["run_id"]: s for s in assert_correct(repo)}
    assert by_id[a]["tags"] == {"seen": "elsewhere"} and c in by_id
    assert cached(repo) == truth(other)


def test_cache_deleted(client: Client, repo: GitRepo) -> None:
    make(client, "a")
    make(client, "b")
    expected = assert_correct(repo)
    cache_file(repo).unlink()
    assert cached(repo) == expected
    assert cache_file(repo).exists()
    shutil.rmtree(cache_file(repo).parent)
    assert assert_correct(repo) == expected


@pytest.mark.parametrize("content", [
    b"",
    b"\x00\xff garbage",
    b'{"format": 1, "runs": {"abc',
    b"[]",
    b"null",
    b'{"format": 99, "runs": {}}',
    b'{"format": 1, "runs": []}',
    b'{"format": 1}',
])  # fmt: skip
def test_cache_corrupted_file(client: Client, repo: GitRepo, content: bytes) -> None:
    make(client, "a")
    expected = assert_correct(repo)
    cache_file(repo).write_bytes(content)
    assert assert_correct(repo) == expected


def test_cache_corrupted_entries(client: Client, repo: GitRepo) -> None:
    """Well-formed JSON whose entries are not summaries is never returned."""
    a = make(client, "a")
    b = make(client, "b")
    expected = assert_correct(repo)
    data = json.loads(cache_file(repo).read_text())
    commits = {s["run_id"]: s["commit"] for s in expected}
    data["runs"][commits[a]] = "not a summary"
    data["runs"][commits[b]] = {"name": "missing its id"}
    cache_file(repo).write_text(json.dumps(data))
    assert assert_correct(repo) == expected
    # an entry filed under the wrong commit (e.g. copied by hand) is not trusted either
    data = json.loads(cache_file(repo).read_text())
    data["runs"][commits[a]], data["runs"][commits[b]] = (
        data["runs"][commits[b]],
        data["runs"][commits[a]],
    )
    cache_file(repo).write_text(json.dumps(data))
    assert assert_correct(repo) == expected


def test_ref_to_a_non_run_commit_is_skipped(client: Client, repo: GitRepo) -> None:
    make(client, "a")
    git("update-ref", "refs/gitml/runs/" + "0" * 32, repo.head(), cwd=repo)
    names = [s["name"] for s in cached(repo)]
    assert names == ["a"]
    assert [s["name"] for s in runs.list_summaries(Store.discover())] == ["a"]


def test_cache_is_not_pushed(client: Client, repo: GitRepo) -> None:
    make(client, "a")
    cached(repo)
    status = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=repo,
                            capture_output=True, text=True).stdout  # fmt: skip
    assert "gitml" not in status  # it lives in .git/, outside the work tree
    assert all(not r.startswith("refs/gitml/index") for r in git("for-each-ref", cwd=repo).split())
