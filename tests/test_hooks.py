"""gitml hooks: pre-push pushes runs with `git push`, post-merge fetches them after `git pull`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import GitRepo, _init, fsck, git, run_refs
from servers import bare_repo

from gitml import hooks, runs
from gitml.cli import cli
from gitml.store import Store


def new_run(repo: GitRepo) -> str:
    w = runs.create(
        Store.discover(str(repo.path)), experiment="exp", params={"a": 1}, pid=2**22 + 7
    )
    w.set_info(status="FINISHED")
    w.flush()
    return w.run_id


def setup(tmp_path: Path, hook: str | None = None) -> tuple[GitRepo, Path]:
    bare = bare_repo(tmp_path / "remote.git", hook=hook)
    a = _init(tmp_path / "a")
    a.commit_files({"train.py": "print(1)\n"}, message="baseline")
    a.git("remote", "add", "origin", str(bare))
    return a, bare


def push(repo: GitRepo) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "push", "origin", "main"], cwd=repo.path, capture_output=True, text=True
    )


def test_install_is_idempotent_and_git_push_carries_runs(repo: GitRepo, tmp_path: Path) -> None:
    a, bare = setup(tmp_path)
    rid = new_run(a)
    store = Store.discover(str(a.path))
    assert [x.what for x in hooks.install(store)] == ["installed"]
    assert [x.what for x in hooks.install(store)] == ["unchanged"]
    out = push(a)
    assert out.returncode == 0, out.stderr
    assert "pushed 1 run(s)" in out.stderr
    assert set(run_refs(bare)) == {rid}
    assert git("rev-parse", "main", cwd=bare).strip() == a.head()
    fsck(bare)
    assert [x.what for x in hooks.uninstall(store)] == ["removed", "absent"]
    assert not (a.path / ".git" / "hooks" / "pre-push").exists()


def test_chains_existing_hooks_and_restores_them(tmp_path: Path) -> None:
    a, bare = setup(tmp_path)
    mine = a.path / ".git" / "hooks" / "pre-push"
    log = tmp_path / "hook.log"
    original = f'#!/bin/sh\necho "$1 $(cat)" >> {log}\n'
    mine.write_text(original)
    mine.chmod(0o755)
    rid = new_run(a)
    store = Store.discover(str(a.path))
    assert [x.what for x in hooks.install(store)] == ["chained"]
    assert [x.what for x in hooks.install(store)] == ["unchanged"]
    out = push(a)
    assert out.returncode == 0, out.stderr
    assert log.read_text().startswith("origin refs/heads/main ")  # the old hook saw its stdin
    assert set(run_refs(bare)) == {rid}
    assert [x.what for x in hooks.uninstall(store)] == ["restored", "absent"]
    assert mine.read_text() == original
    assert not mine.with_name("pre-push.gitml-chained").exists()


def test_a_blocking_existing_hook_still_blocks(tmp_path: Path) -> None:
    a, bare = setup(tmp_path)
    mine = a.path / ".git" / "hooks" / "pre-push"
    mine.write_text("#!/bin/sh\necho 'tests must pass first' >&2\nexit 1\n")
    mine.chmod(0o755)
    new_run(a)
    hooks.install(Store.discover(str(a.path)))
    out = push(a)
    assert out.returncode != 0 and "tests must pass first" in out.stderr
    assert run_refs(bare) == {}


def test_failing_run_push_never_blocks_git_push(tmp_path: Path) -> None:
    reject_runs = 'while read old new ref; do case "$ref" in refs/gitml/*) exit 1;; esac; done\n'
    a, bare = setup(tmp_path, hook=reject_runs)
    new_run(a)
    hooks.install(Store.discover(str(a.path)))
    out = push(a)
    assert out.returncode == 0, out.stderr
    assert "pushing runs failed (your git push goes on)" in out.stderr
    assert git("rev-parse", "main", cwd=bare).strip() == a.head()
    assert run_refs(bare) == {}


def test_respects_core_hooks_path_and_does_nothing_outside_gitml(tmp_path: Path) -> None:
    a, bare = setup(tmp_path)
    shared = tmp_path / "shared-hooks"
    a.git("config", "core.hooksPath", str(shared))
    actions = hooks.install(Store.discover(str(a.path)))
    assert actions[0].path == str(shared / "pre-push")
    assert (shared / "pre-push").exists() and not (a.path / ".git" / "hooks" / "pre-push").exists()
    # a plain repository using the same hooks folder: the hook stays silent
    plain = _init(tmp_path / "plain")
    plain.commit_files({"x": "1"})
    plain.git("config", "core.hooksPath", str(shared))
    other = bare_repo(tmp_path / "other.git")
    plain.git("remote", "add", "origin", str(other))
    out = push(plain)
    assert out.returncode == 0 and "gitml" not in out.stderr, out.stderr
    assert not (plain.path / ".git" / "gitml").exists()


def test_post_merge_fetches_runs_after_git_pull(tmp_path: Path) -> None:
    a, bare = setup(tmp_path)
    hooks.install(Store.discover(str(a.path)))
    assert push(a).returncode == 0
    b = tmp_path / "b"
    git("clone", "-q", "-b", "main", str(bare), str(b))
    b_repo = GitRepo(b)
    res = subprocess.run(
        ["gitml", "hooks", "install", "--fetch"], cwd=b, capture_output=True, text=True
    )
    assert res.returncode == 0 and "post-merge: installed" in res.stdout, res.stderr
    rid = new_run(a)
    a.commit_files({"train.py": "print(2)\n"}, message="more")
    assert push(a).returncode == 0
    out = subprocess.run(
        ["git", "pull", "-q", "origin", "main"], cwd=b, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert rid in run_refs(b_repo.path), out.stderr
    fsck(b)


def test_cli_install_uninstall(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, _bare = setup(tmp_path)
    monkeypatch.chdir(a.path)
    runner = CliRunner()
    result = runner.invoke(cli, ["hooks", "install"])
    assert result.exit_code == 0 and "pre-push: installed" in result.output
    result = runner.invoke(cli, ["hooks", "status"])
    assert "pre-push: installed" in result.output and "post-merge: absent" in result.output
    result = runner.invoke(cli, ["hooks", "uninstall"])
    assert result.exit_code == 0 and "pre-push: removed" in result.output


def test_outside_a_repository(not_a_repo: Path) -> None:
    result = CliRunner().invoke(cli, ["hooks", "install"])
    assert result.exit_code == 1 and result.output.startswith("Error: not a git repository")
