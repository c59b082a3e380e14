"""push, pull, fetch against real remotes on loopback: paths, file://, git daemon, HTTP, LFS."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import GitRepo, _init, fsck, git, run_refs
from servers import (
    GitDaemon,
    HttpGit,
    LfsServer,
    SshServer,
    bare_repo,
    free_port,
    http_available,
    lfs_available,
    ssh_available,
)

from gitml import remote, runs
from gitml.cli import cli
from gitml.errors import RemoteError
from gitml.remote.transport import GitTransport, Update, resolve_remote
from gitml.store import Store, lfs_object_path, read_file_content

DEAD_PID = 2**22 + 12345  # no such process: these runs are not "running here"


@pytest.fixture(params=["git", "dulwich"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every scenario runs over the git binary and over dulwich's client."""
    monkeypatch.setenv("GITML_TRANSPORT", request.param)
    return str(request.param)


def clone(tmp_path: Path, name: str, url: str) -> GitRepo:
    r = _init(tmp_path / name)
    r.commit_files({"train.py": "print('hi')\n"}, message="baseline")
    r.git("remote", "add", "origin", url)
    return r


def new_run(repo: GitRepo, status: str = "FINISHED", pid: int = DEAD_PID, **params: object) -> str:
    store = Store.discover(str(repo.path))
    w = runs.create(store, experiment="exp", params=params or {"lr": 0.1}, pid=pid)
    w.log_metric("acc", 0.9, step=1)
    if status != "RUNNING":
        w.set_info(status=status)
    w.flush()
    return w.run_id


def tag(repo: GitRepo, run_id: str, **tags: str) -> None:
    w = runs.open_writer(Store.discover(str(repo.path)), run_id)
    w.set_tags(tags)
    w.flush()


def store_of(repo: GitRepo | Path) -> Store:
    return Store.discover(str(repo.path if isinstance(repo, GitRepo) else repo))


def remote_refs(bare: Path) -> dict[str, str]:
    return run_refs(bare)


def invoke(repo: GitRepo, *args: str) -> tuple[int, str]:
    old = os.getcwd()
    os.chdir(repo.path)
    try:
        result = CliRunner().invoke(cli, list(args))
    finally:
        os.chdir(old)
    return result.exit_code, result.output


# ---------------------------------------------------------------------- transports
@pytest.mark.parametrize("kind", ["path", "file"])
def test_push_pull_local_remote(tmp_path: Path, backend: str, kind: str) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    url = str(bare) if kind == "path" else f"file://{bare}"
    a = clone(tmp_path, "a", url)
    ids = {new_run(a), new_run(a, lr=0.2)}
    code, out = invoke(a, "push")
    assert code == 0, out
    assert "pushed 2 run(s) to origin (2 new, 0 updated)" in out
    assert set(remote_refs(bare)) == ids
    assert remote_refs(bare) == run_refs(a.path)
    code, out = invoke(a, "push", "origin")
    assert code == 0 and "nothing to push" in out
    b = clone(tmp_path, "b", url)
    code, out = invoke(b, "pull")
    assert code == 0 and "pulled 2 run(s) from origin (2 new, 0 updated)" in out, out
    assert run_refs(b.path) == run_refs(a.path)
    # the baseline commit travelled with the run
    baseline = runs.load(store_of(b), next(iter(ids))).parents[0]
    assert git("cat-file", "-t", baseline, cwd=b.path).strip() == "commit"
    code, out = invoke(b, "pull")
    assert "nothing new from origin" in out
    for where in (a.path, b.path, bare):
        fsck(where)


def test_git_daemon(tmp_path: Path, backend: str) -> None:
    root = tmp_path / "srv"
    root.mkdir()
    bare_repo(root / "runs.git")
    with GitDaemon(root) as daemon:
        a = clone(tmp_path, "a", daemon.url("runs.git"))
        rid = new_run(a)
        assert remote.push(store_of(a)).count("new") == 1
        b = clone(tmp_path, "b", daemon.url("runs.git"))
        report = remote.pull(store_of(b))
        assert [c.run_id for c in report.changes] == [rid]
        assert run_refs(b.path) == run_refs(a.path)
    fsck(root / "runs.git")
    fsck(b.path)


@pytest.mark.skipif(http_available() is not None, reason=str(http_available()))
def test_smart_http_basic_auth(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "srv"
    root.mkdir()
    bare = bare_repo(root / "runs.git")
    with HttpGit(root, tmp_path / "nginx") as http:
        a = clone(tmp_path, "a", http.url("runs.git"))
        rid = new_run(a)
        # wrong password: one clear line, nothing written on either side
        a.git("remote", "set-url", "origin", http.url("runs.git", password="wrong"))
        with pytest.raises(RemoteError, match="authentication refused") as exc:
            remote.push(store_of(a))
        assert "\n" not in str(exc.value)
        assert remote_refs(bare) == {}
        # the right password, from the environment this time
        a.git("remote", "set-url", "origin", http.url("runs.git", auth=False))
        monkeypatch.setenv("GITML_USERNAME", http.user)
        monkeypatch.setenv("GITML_PASSWORD", http.password)
        assert remote.push(store_of(a)).count("new") == 1
        assert set(remote_refs(bare)) == {rid}
        monkeypatch.delenv("GITML_USERNAME")
        monkeypatch.delenv("GITML_PASSWORD")
        b = clone(tmp_path, "b", http.url("runs.git"))  # credentials in the URL
        assert [c.run_id for c in remote.pull(store_of(b)).changes] == [rid]
        assert remote.push(store_of(b)).changes == []
    fsck(bare)
    fsck(b.path)


@pytest.mark.skipif(http_available() is not None, reason=str(http_available()))
def test_http_credentials_from_git_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITML_TRANSPORT", "dulwich")  # our own `git credential fill` path
    root = tmp_path / "srv"
    root.mkdir()
    bare = bare_repo(root / "runs.git")
    with HttpGit(root, tmp_path / "nginx") as http:
        a = clone(tmp_path, "a", http.url("runs.git", auth=False))
        store_file = tmp_path / "creds"
        store_file.write_text(f"http://{http.user}:{http.password}@127.0.0.1:{http.port}\n")
        a.git("config", "credential.helper", f"store --file={store_file}")
        rid = new_run(a)
        assert remote.push(store_of(a)).count("new") == 1
        assert set(remote_refs(bare)) == {rid}


def test_unreachable_and_unconfigured(tmp_path: Path, backend: str) -> None:
    a = clone(tmp_path, "a", f"git://127.0.0.1:{free_port()}/nothing.git")
    new_run(a)
    with pytest.raises(RemoteError, match="cannot reach remote 'origin'") as exc:
        remote.push(store_of(a))
    assert "\n" not in str(exc.value)
    with pytest.raises(
        RemoteError, match=r"remote 'backup' is not configured; this repository has: origin"
    ):
        remote.push(store_of(a), "backup")
    code, out = invoke(a, "push", "backup")
    assert code == 1 and "Traceback" not in out and out.count("\n") == 1
    assert out.startswith("Error: 'backup' is neither a run here nor a configured remote "
                          "(remotes: origin)")  # fmt: skip


def test_a_word_that_is_neither_remote_nor_run(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    a = clone(tmp_path, "a", str(bare))
    new_run(a)
    remote.push(store_of(a))
    for verb in ("pull", "fetch"):
        code, out = invoke(a, verb, "backup")
        assert code == 1 and out.count("\n") == 1, out
        assert out.startswith("Error: 'backup' is neither a configured remote (remotes: origin) "
                              "nor a run of origin")  # fmt: skip
    code, out = invoke(a, "pull", "origin", "nosuchrun")
    assert code == 1 and "remote 'origin' has no run 'nosuchrun'" in out


def test_pre_receive_hook_rejects(tmp_path: Path, backend: str) -> None:
    bare = bare_repo(tmp_path / "remote.git", hook="echo 'no runs here' >&2\nexit 1\n")
    a = clone(tmp_path, "a", str(bare))
    rid = new_run(a)
    before = run_refs(a.path)
    with pytest.raises(RemoteError, match="rejected") as exc:
        remote.push(store_of(a))
    assert "\n" not in str(exc.value)
    assert remote_refs(bare) == {}
    assert run_refs(a.path) == before and rid in before
    fsck(bare)


@pytest.mark.skipif(ssh_available() is not None, reason=str(ssh_available()))
def test_ssh_round_trip(tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with SshServer(tmp_path / "sshd") as sshd:
        bare = bare_repo(tmp_path / "remote.git")
        a, b = clone(tmp_path, "a", sshd.url(bare)), clone(tmp_path, "b", sshd.url(bare))
        rid = new_run(a)
        # a key the server does not know: one line, nothing written on either side
        monkeypatch.setenv("GIT_SSH_COMMAND", sshd.ssh_command(sshd.new_key("stranger")))
        before = run_refs(a.path)
        with pytest.raises(RemoteError, match="authentication refused by remote 'origin'") as exc:
            remote.push(store_of(a))
        assert "\n" not in str(exc.value) and "Permission denied" in str(exc.value)
        assert remote_refs(bare) == {} and run_refs(a.path) == before
        monkeypatch.setenv("GIT_SSH_COMMAND", sshd.ssh_command())
        assert remote.push(store_of(a)).count("new") == 1
        assert remote_refs(bare) == run_refs(a.path)
        assert [c.run_id for c in remote.pull(store_of(b)).changes] == [rid]
        tag(b, rid, via="ssh")
        assert remote.push(store_of(b)).count("updated") == 1
        assert remote.pull(store_of(a)).count("updated") == 1
        assert runs.load(store_of(a), rid).tags == {"via": "ssh"}
        code, out = invoke(a, "push")
        assert code == 0 and "nothing to push" in out
    for where in (a.path, b.path, bare):
        fsck(where)


@pytest.mark.skipif(ssh_available() is not None, reason=str(ssh_available()))
def test_ssh_cli_subprocess(tmp_path: Path) -> None:
    with SshServer(tmp_path / "sshd") as sshd:
        bare = bare_repo(tmp_path / "remote.git")
        a, b = clone(tmp_path, "a", sshd.url(bare)), clone(tmp_path, "b", sshd.url(bare))
        rid = new_run(a)
        env = dict(os.environ, GIT_SSH_COMMAND=sshd.ssh_command())
        out = subprocess.run(["gitml", "push"], cwd=a.path, env=env, capture_output=True, text=True)
        assert out.returncode == 0 and "pushed 1 run(s)" in out.stdout, out.stderr
        out = subprocess.run(["gitml", "pull"], cwd=b.path, env=env, capture_output=True, text=True)
        assert out.returncode == 0 and rid[:8] in out.stdout, out.stderr
        assert run_refs(b.path) == run_refs(a.path) == remote_refs(bare)
    # the server is gone: one line, exit 1
    out = subprocess.run(["gitml", "pull"], cwd=b.path, env=env, capture_output=True, text=True)
    assert out.returncode == 1 and out.stderr.count("\n") == 1, out.stderr
    assert out.stderr.startswith("Error: cannot reach remote 'origin'") and "refused" in out.stderr


def test_unreachable_names_the_real_cause(tmp_path: Path, backend: str) -> None:
    a = clone(tmp_path, "a", str(tmp_path / "missing.git"))
    new_run(a)
    with pytest.raises(RemoteError) as exc:
        remote.push(store_of(a))
    assert str(exc.value).startswith("cannot reach remote 'origin'")
    assert "missing.git" in str(exc.value).split(":", 1)[1], "the cause, not only the URL"
    if backend == "git":
        assert "does not appear to be a git repository" in str(exc.value)


def test_update_hook_rejects(tmp_path: Path, backend: str) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    hook = bare / "hooks" / "update"
    hook.write_text('#!/bin/sh\ncase "$1" in refs/gitml/*) echo "no runs: $1" >&2; exit 1;; esac\n')
    hook.chmod(0o755)
    a = clone(tmp_path, "a", str(bare))
    new_run(a)
    code, out = invoke(a, "push")
    assert code == 1 and out.count("\n") == 1, out
    assert out.startswith("Error: remote 'origin' rejected run ") and "hook declined" in out, out
    assert remote_refs(bare) == {}
    fsck(bare)


def test_server_without_atomic_push(tmp_path: Path, backend: str) -> None:
    """A server that does not advertise atomic pushes still gets the runs, ref by ref."""
    bare = bare_repo(tmp_path / "remote.git")
    git("config", "receive.advertiseAtomic", "false", cwd=bare)
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    rid, other = new_run(a), new_run(a)
    assert remote.push(store_of(a)).count("new") == 2
    remote.pull(store_of(b))
    tag(b, rid, seen="yes")
    assert remote.push(store_of(b)).count("updated") == 1
    assert remote_refs(bare) == run_refs(b.path) and other in remote_refs(bare)
    # a hook refusing one ref: the message says what landed
    hook = bare / "hooks" / "update"
    hook.write_text(f'#!/bin/sh\ncase "$1" in *{rid}) exit 1;; esac\n')
    hook.chmod(0o755)
    tag(b, rid, seen="twice")
    fresh = new_run(b)
    with pytest.raises(RemoteError, match="rejected run") as exc:
        remote.push(store_of(b))
    if backend == "git":  # dulwich's local push runs the hooks before it writes anything
        assert "the other 1 ref(s) were pushed" in str(exc.value)
        assert remote_refs(bare)[fresh] == run_refs(b.path)[fresh]
    assert remote_refs(bare)[rid] != run_refs(b.path)[rid]
    fsck(bare)


# ---------------------------------------------------------------------- exchanging runs
def test_two_clones_exchange_both_ways(tmp_path: Path, backend: str) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    ra, rb = new_run(a), new_run(b)
    remote.push(store_of(a))
    remote.push(store_of(b))
    remote.pull(store_of(a))
    remote.pull(store_of(b))
    assert run_refs(a.path) == run_refs(b.path) == remote_refs(bare)
    assert set(run_refs(a.path)) == {ra, rb}
    # a run tagged after it was pushed reaches the other clone on the next push/pull
    tag(b, ra, reviewed="yes")
    report = remote.push(store_of(b))
    assert [(c.run_id, c.kind) for c in report.changes] == [(ra, "updated")]
    report = remote.pull(store_of(a))
    assert [(c.run_id, c.kind) for c in report.changes] == [(ra, "updated")]
    assert runs.load(store_of(a), ra).tags == {"reviewed": "yes"}
    # the older side never overwrites the newer one
    assert remote.pull(store_of(b)).changes == []
    for where in (a.path, b.path, bare):
        fsck(where)


def test_running_run_that_went_on_updates_the_other_side(tmp_path: Path, backend: str) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    rid = new_run(a, status="RUNNING")
    remote.push(store_of(a))
    remote.pull(store_of(b))
    w = runs.open_writer(store_of(a), rid, owner=True)
    w.log_metric("acc", 0.95, step=2)
    w.set_info(status="FINISHED")
    w.flush()
    assert remote.push(store_of(a)).count("updated") == 1
    assert remote.pull(store_of(b)).count("updated") == 1
    rec = runs.load(store_of(b), rid)
    assert rec.info["status"] == "FINISHED" and rec.metrics["acc"]["count"] == 2


def test_running_here_is_never_overwritten_by_pull(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    rid = new_run(a, status="RUNNING", pid=os.getpid())  # this process: running here
    remote.push(store_of(a))
    remote.pull(store_of(b))
    tag(b, rid, note="seen")
    tag(b, rid, note="seen twice")
    remote.push(store_of(b))
    before = run_refs(a.path)[rid]
    report = remote.pull(store_of(a))
    assert report.changes == [] and "still running here" in report.skipped[0][1]
    assert run_refs(a.path)[rid] == before


def test_diverged_refused_then_forced(tmp_path: Path, backend: str) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    rid = new_run(a)
    other = new_run(a)
    remote.push(store_of(a))
    remote.pull(store_of(b))
    tag(a, rid, who="a")
    tag(b, rid, who="b")  # same revision, different content
    tag(b, other, fine="yes")
    remote.push(store_of(a))
    remote_before = remote_refs(bare)
    code, out = invoke(b, "push")
    assert code == 1 and out.startswith("Error: diverged: run ") and "--force" in out, out
    assert out.count("\n") == 1
    assert remote_refs(bare) == remote_before  # nothing was pushed, not even the other run
    with pytest.raises(RemoteError, match="diverged") as exc:
        remote.pull(store_of(b))
    assert "nothing was pulled; use `gitml pull --force` to take the remote's version" in str(
        exc.value
    )
    assert runs.load(store_of(b), rid).tags == {"who": "b"}  # nothing lost locally
    code, out = invoke(b, "push", "--force")
    assert code == 0, out
    assert remote_refs(bare)[rid] == run_refs(b.path)[rid]
    code, out = invoke(a, "pull", "--force")
    assert code == 0 and runs.load(store_of(a), rid).tags == {"who": "b"}
    for where in (a.path, b.path, bare):
        fsck(where)


def test_concurrent_pushes_of_different_runs_both_land(tmp_path: Path, backend: str) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    ids_a = {new_run(a) for _ in range(5)}
    ids_b = {new_run(b) for _ in range(5)}
    env = dict(os.environ)
    procs = [subprocess.Popen(["gitml", "push"], cwd=r.path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for r in (a, b)]  # fmt: skip
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert set(remote_refs(bare)) == ids_a | ids_b
    fsck(bare)


def test_threads_push_concurrently_library(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    clones = [clone(tmp_path, f"c{i}", str(bare)) for i in range(3)]
    ids = {new_run(c) for c in clones}
    errors: list[BaseException] = []

    def go(c: GitRepo) -> None:
        try:
            remote.push(store_of(c))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(c,)) for c in clones]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and set(remote_refs(bare)) == ids


def test_selected_runs_experiments_and_model_refs(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    a = clone(tmp_path, "a", str(bare))
    r1, r2 = new_run(a), new_run(a)
    code, out = invoke(a, "push", "origin", r1[:8])
    assert code == 0 and set(remote_refs(bare)) == {r1}
    a.git("update-ref", "refs/gitml/models/clf/1", run_refs(a.path)[r2])
    code, out = invoke(a, "push")
    assert code == 0 and "1 model ref(s)" in out, out
    assert git("rev-parse", "refs/gitml/models/clf/1", cwd=bare).strip() == run_refs(a.path)[r2]
    b = clone(tmp_path, "b", str(bare))
    code, out = invoke(b, "pull", "origin", r2[:6])
    assert code == 0 and set(run_refs(b.path)) == {r2}
    code, out = invoke(b, "fetch")
    assert code == 0 and set(run_refs(b.path)) == {r1, r2}
    assert b.git("rev-parse", "refs/gitml/models/clf/1").strip() == run_refs(a.path)[r2]


def test_moved_alias_travels_and_both_moved_is_diverged(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    r1, r2, r3 = new_run(a), new_run(a), new_run(a)
    commits = run_refs(a.path)
    alias = "refs/gitml/aliases/clf/champion"
    a.git("update-ref", alias, commits[r1])
    remote.push(store_of(a))
    remote.pull(store_of(b))
    # moved in one clone since the last sync: it wins both ways, no --force needed
    a.git("update-ref", alias, commits[r2])
    code, out = invoke(a, "push")
    assert code == 0, out
    assert git("rev-parse", alias, cwd=bare).strip() == commits[r2]
    code, out = invoke(b, "pull")
    assert code == 0, out
    assert b.git("rev-parse", alias).strip() == commits[r2]
    # a clone that did not move it is never pulled back: a pull leaves a local move alone
    a.git("update-ref", alias, commits[r3])
    code, out = invoke(a, "pull")
    assert code == 0 and a.git("rev-parse", alias).strip() == commits[r3], out
    # moved on both sides since they last agreed: diverged, nothing written, --force takes
    b.git("update-ref", alias, commits[r1])
    code, out = invoke(b, "push")
    assert code == 0, out  # b moved it, the remote did not: b's value lands
    code, out = invoke(a, "push")
    assert code == 1 and out.count("\n") == 1, out
    assert out.startswith("Error: diverged: aliases/clf/champion differs here and on 'origin'")
    assert "changed on both sides" in out and "gitml push --force" in out
    assert git("rev-parse", alias, cwd=bare).strip() == commits[r1]
    code, out = invoke(a, "push", "--force")
    assert code == 0 and git("rev-parse", alias, cwd=bare).strip() == commits[r3]
    fsck(bare)


def test_deleted_runs_travel_as_deleted(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    kept, gone = new_run(a), new_run(a)
    remote.push(store_of(a))
    assert set(remote_refs(bare)) == {kept, gone}
    runs.set_lifecycle(store_of(a), gone, "deleted")
    remote.push(store_of(a))
    remote.pull(store_of(b))
    assert runs.load(store_of(b), gone).info["lifecycle"] == "deleted"


def test_list_and_delete_remote_runs(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    r1, r2 = new_run(a), new_run(a)
    remote.push(store_of(a))
    listed = remote.list_remote_runs(store_of(b), "origin")
    assert {s["run_id"] for s in listed} == {r1, r2}
    assert all(s["here"] == "absent" for s in listed)
    assert run_refs(b.path) == {}  # listing fetched nothing into refs
    name = listed[0]["name"]
    deleted = remote.delete_remote_runs(store_of(b), "origin", [name])
    assert deleted == [listed[0]["run_id"]]
    assert set(remote_refs(bare)) == {r1, r2} - set(deleted)
    assert set(run_refs(a.path)) == {r1, r2}  # local runs stay
    fsck(bare)


def test_plain_git_fetch_reads_identically(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    a = clone(tmp_path, "a", str(bare))
    rid = new_run(a, lr=0.5)
    other = new_run(a, lr=0.7)
    tag(a, rid, stage="best")
    remote.push(store_of(a))
    fresh = tmp_path / "fresh"
    git("clone", "-q", str(bare), str(fresh))
    git("fetch", "-q", "origin", "refs/gitml/*:refs/gitml/*", cwd=fresh)
    fsck(fresh)
    commands = [["ls"], ["show", rid], ["show", other, "--format", "json"]]
    if (Path(__file__).parents[1] / "gitml" / "cli" / "diff.py").exists():
        commands.append(["diff", rid, other])
    for args in commands:
        outs = [subprocess.run(["gitml", *args], cwd=where, capture_output=True, text=True)
                for where in (a.path, fresh)]  # fmt: skip
        assert outs[0].returncode == 0, outs[0].stderr
        assert outs[0].stdout == outs[1].stdout, args


def test_full_push_with_new_updated_unchanged_foreign_and_model_refs(
    tmp_path: Path, backend: str
) -> None:
    """One push of everything (a glob refspec over git): each kind of ref lands right."""
    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    same, changed = new_run(a), new_run(a)
    remote.push(store_of(a))
    foreign = new_run(b)
    remote.push(store_of(b))  # the remote has a run that a lacks
    tag(a, changed, stage="final")
    fresh = new_run(a)
    a.git("update-ref", "refs/gitml/models/clf/1", run_refs(a.path)[same])
    a.git("update-ref", "refs/gitml/aliases/clf/champion", run_refs(a.path)[same])
    before = remote_refs(bare)
    report = remote.push(store_of(a))
    kinds = {c.ref.rsplit("/", 1)[-1] if c.run_id else c.ref: c.kind for c in report.changes}
    assert kinds == {
        changed: "updated",
        fresh: "new",
        "refs/gitml/models/clf/1": "new",
        "refs/gitml/aliases/clf/champion": "new",
    }
    after = remote_refs(bare)
    assert after[same] == before[same] and after[foreign] == before[foreign]
    assert after[changed] == run_refs(a.path)[changed] != before[changed]
    assert after[fresh] == run_refs(a.path)[fresh]
    for ref in ("refs/gitml/models/clf/1", "refs/gitml/aliases/clf/champion"):
        assert git("rev-parse", ref, cwd=bare) == a.git("rev-parse", ref)
    assert remote.push(store_of(a)).changes == []
    fsck(bare)


def test_push_skips_a_run_the_remote_has_newer_and_sends_the_rest(
    tmp_path: Path, backend: str
) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    rid = new_run(a)
    remote.push(store_of(a))
    remote.pull(store_of(b))
    tag(b, rid, newer="yes")
    remote.push(store_of(b))
    newer = remote_refs(bare)[rid]
    other = new_run(a)
    code, out = invoke(a, "push")
    assert code == 0, out
    assert "pushed 1 run(s) to origin (1 new, 0 updated)" in out
    assert f"skipped run {rid[:8]}" in out and "gitml pull origin" in out, out
    assert remote_refs(bare)[rid] == newer, "an older version never overwrites a newer one"
    assert remote_refs(bare)[other] == run_refs(a.path)[other]


def _git_transport(repo: GitRepo) -> GitTransport:
    store = store_of(repo)
    return GitTransport(store, resolve_remote(store, "origin"), "git")


def test_glob_push_lease_refuses_a_moved_ref_and_writes_nothing(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    rid = new_run(a)
    remote.push(store_of(a))
    remote.pull(store_of(b))
    seen = remote_refs(bare)[rid]
    tag(b, rid, by="b")
    remote.push(store_of(b))  # the remote moved after a listed it
    tag(a, rid, by="a")
    tag(a, rid, by="a again")
    fresh = new_run(a)
    before = remote_refs(bare)
    ref = "refs/gitml/runs/"
    updates = [Update(ref + rid, seen, run_refs(a.path)[rid]), Update(ref + fresh, None,
               run_refs(a.path)[fresh])]  # fmt: skip
    status = _git_transport(a).push(updates, atomic=True, all_refs=True)
    assert "stale" in str(status[ref + rid]), status
    assert status[ref + fresh], "atomic: the new run is refused with it"
    assert remote_refs(bare) == before
    # through push(): it lists again, sees the newer revision and takes it with its lease
    report = remote.push(store_of(a))
    assert {c.run_id: c.kind for c in report.changes} == {rid: "updated", fresh: "new"}
    assert remote_refs(bare) == run_refs(a.path)
    fsck(bare)


def test_glob_push_never_overwrites_a_ref_it_was_not_asked_to_update(tmp_path: Path) -> None:
    """The glob matches every local ref: a ref the remote has newer is still not forced."""
    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    rid = new_run(a)
    remote.push(store_of(a))
    remote.pull(store_of(b))
    tag(b, rid, newer="yes")
    remote.push(store_of(b))
    a.git("update-ref", "refs/gitml/models/clf/1", run_refs(a.path)[rid])
    b.git("update-ref", "refs/gitml/models/clf/1", run_refs(b.path)[rid])
    remote.push(store_of(b))
    before = remote_refs(bare)
    fresh = new_run(a)
    update = Update("refs/gitml/runs/" + fresh, None, run_refs(a.path)[fresh])
    status = _git_transport(a).push([update], atomic=True, all_refs=True)
    assert status[update.ref], status
    assert remote_refs(bare) == before
    assert git("rev-parse", "refs/gitml/models/clf/1", cwd=bare) == b.git(
        "rev-parse", "refs/gitml/models/clf/1"
    )


def test_pulled_refs_are_packed_and_stay_consistent(tmp_path: Path, backend: str) -> None:
    """New refs from a pull go to packed-refs in one write; later updates, deletion and
    git itself agree with them."""
    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    b.git("tag", "-a", "v1", "-m", "release")
    b.git("pack-refs", "--all")  # an existing packed-refs with a peeled tag
    ids = [new_run(a) for _ in range(3)]
    remote.push(store_of(a))
    assert remote.pull(store_of(b)).count("new") == 3
    packed = (b.path / ".git" / "packed-refs").read_text()
    assert all(f"refs/gitml/runs/{rid}" in packed for rid in ids)
    assert not (b.path / ".git" / "packed-refs.lock").exists()
    assert b.git("rev-parse", "v1^{commit}").strip() == b.head()
    assert run_refs(b.path) == run_refs(a.path) == remote_refs(bare)
    tag(b, ids[0], local="yes")  # a loose ref now shadows the packed one
    tag(a, ids[1], remote="yes")
    remote.push(store_of(a))
    assert remote.pull(store_of(b)).count("updated") == 1  # compare-and-swap on a packed ref
    assert runs.load(store_of(b), ids[1]).tags == {"remote": "yes"}
    assert runs.load(store_of(b), ids[0]).tags == {"local": "yes"}
    runs.set_lifecycle(store_of(b), ids[2], "deleted")
    code, out = invoke(b, "gc")
    assert code == 0, out
    assert (
        ids[2] not in run_refs(b.path)
        and ids[2] not in (b.path / ".git" / "packed-refs").read_text()
    )
    code, out = invoke(b, "ls")
    assert ids[0][:8] in out and ids[1][:8] in out and ids[2][:8] not in out
    fsck(b.path)


def test_concurrent_pulls_into_one_repository(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    ids = {new_run(a) for _ in range(20)}
    remote.push(store_of(a))
    reports: list[remote.Report] = []
    errors: list[BaseException] = []

    def go() -> None:
        try:
            reports.append(remote.pull(store_of(b)))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(not r.skipped for r in reports), [r.skipped for r in reports]
    assert set(run_refs(b.path)) == ids and run_refs(b.path) == run_refs(a.path)
    fsck(b.path)


# ---------------------------------------------------------------------- LFS
def _lfs_run(repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, bytes]:
    from gitml.client import log_artifact_to

    monkeypatch.setenv("GITML_LFS_THRESHOLD", "1000")
    data = os.urandom(5000)
    path = tmp_path / "weights.bin"
    path.write_bytes(data)
    store = store_of(repo)
    w = runs.create(store, experiment="exp", pid=DEAD_PID)
    log_artifact_to(w, str(path), None)
    w.set_info(status="FINISHED")
    w.flush()
    return w.run_id, data


def _artifact(repo: GitRepo, rid: str) -> bytes:
    store = store_of(repo)
    rec = runs.load(store, rid)
    assert rec.tree is not None
    entry = rec.tree.get("artifacts/weights.bin")
    return read_file_content(store, entry[1])


def test_lfs_through_a_path_remote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    rid, data = _lfs_run(a, tmp_path, monkeypatch)
    report = remote.push(store_of(a))
    assert report.lfs_objects == 1 and report.lfs_bytes == 5000
    oid = __import__("hashlib").sha256(data).hexdigest()
    assert (bare / "lfs" / "objects" / oid[:2] / oid[2:4] / oid).read_bytes() == data
    assert remote.fetch(store_of(b)).lfs_objects == 0  # fetch leaves LFS content on the remote
    assert not os.path.exists(lfs_object_path(store_of(b), oid))
    report = remote.pull(store_of(b), run_ids=[rid])  # the refs are here; pull brings the content
    assert report.changes == [] and report.lfs_objects == 1 and _artifact(b, rid) == data
    b2 = clone(tmp_path, "b2", str(bare))
    report = remote.pull(store_of(b2))
    assert report.lfs_objects == 1
    assert _artifact(b2, rid) == data


@pytest.mark.skipif(lfs_available() is not None, reason=str(lfs_available()))
def test_lfs_batch_api_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "srv"
    root.mkdir()
    bare = bare_repo(root / "runs.git")
    with GitDaemon(root) as daemon, LfsServer(tmp_path / "lfs") as lfs:
        a = clone(tmp_path, "a", daemon.url("runs.git"))
        b = clone(tmp_path, "b", daemon.url("runs.git"))
        for r in (a, b):
            r.git("config", "lfs.url", lfs.url())
        rid, data = _lfs_run(a, tmp_path, monkeypatch)
        report = remote.push(store_of(a))
        assert report.lfs_objects == 1
        stored = [p for p in lfs.storage.rglob("*") if p.is_file()]
        assert [p.read_bytes() for p in stored] == [data]
        assert remote.push(store_of(a)).changes == []
        report = remote.pull(store_of(b))
        assert report.lfs_objects == 1 and _artifact(b, rid) == data
    fsck(bare)


@pytest.mark.skipif(lfs_available() is not None, reason=str(lfs_available()))
@pytest.mark.skipif(ssh_available() is not None, reason=str(ssh_available()))
def test_lfs_over_ssh_through_git_lfs_authenticate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ssh remote's host names its LFS server: `git-lfs-authenticate <path> <operation>`
    answers the href and headers, as GitHub and GitLab do over ssh."""
    commands = tmp_path / "server-bin"
    commands.mkdir()
    calls = tmp_path / "authenticate.log"
    with LfsServer(tmp_path / "lfs") as lfs:
        script = commands / "git-lfs-authenticate"
        script.write_text(
            "#!/bin/sh\n"
            f'echo "$@" >> {calls}\n'
            f"printf '{{\"href\": \"{lfs.url()}\", \"header\": {{\"X-Via\": \"ssh\"}}}}'\n"
        )
        script.chmod(0o755)
        with SshServer(tmp_path / "sshd", commands=commands) as sshd:
            monkeypatch.setenv("GIT_SSH_COMMAND", sshd.ssh_command())
            bare = bare_repo(tmp_path / "remote.git")
            a, b = clone(tmp_path, "a", sshd.url(bare)), clone(tmp_path, "b", sshd.url(bare))
            rid, data = _lfs_run(a, tmp_path, monkeypatch)
            report = remote.push(store_of(a))
            assert report.lfs_objects == 1 and report.lfs_bytes == 5000
            stored = [p for p in lfs.storage.rglob("*") if p.is_file()]
            assert [p.read_bytes() for p in stored] == [data]
            report = remote.pull(store_of(b))
            assert report.lfs_objects == 1 and _artifact(b, rid) == data
    assert calls.read_text().splitlines() == [f"{bare} upload", f"{bare} download"]
    fsck(bare)


@pytest.mark.skipif(ssh_available() is not None, reason=str(ssh_available()))
def test_ssh_remote_without_git_lfs_authenticate_falls_back_to_https(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitml.lfs import derive_url, ssh_authenticate

    with SshServer(tmp_path / "sshd") as sshd:  # no git-lfs-authenticate on this host
        monkeypatch.setenv("GIT_SSH_COMMAND", sshd.ssh_command())
        bare = bare_repo(tmp_path / "remote.git")
        a = clone(tmp_path, "a", sshd.url(bare))
        assert ssh_authenticate(store_of(a), sshd.url(bare), "upload") is None
        _lfs_run(a, tmp_path, monkeypatch)
        with pytest.raises(RemoteError, match=r"cannot reach the LFS server https://127\.0\.0\.1/"):
            remote.push(store_of(a))
        assert remote_refs(bare) == {}, "no run is pushed without its LFS content"
    assert ssh_authenticate(store_of(a), "https://host/x.git", "upload") is None  # not ssh
    assert derive_url("git@host.example:team/runs") == "https://host.example/team/runs.git/info/lfs"


@pytest.mark.skipif(lfs_available() is not None, reason=str(lfs_available()))
def test_refs_that_move_during_the_lfs_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While LFS objects upload, a pushed run is tagged and a new run logs a large artifact:
    the push lists again instead of failing, and no ref lands without its LFS content."""
    from gitml.client import log_artifact_to

    monkeypatch.setenv("GITML_TRANSPORT", "git")  # the glob refspec path
    root = tmp_path / "srv"
    root.mkdir()
    bare = bare_repo(root / "runs.git")
    with GitDaemon(root) as daemon, LfsServer(tmp_path / "lfs") as lfs:
        a = clone(tmp_path, "a", daemon.url("runs.git"))
        a.git("config", "lfs.url", lfs.url())
        pushed = new_run(a)
        remote.push(store_of(a))
        rid, _data = _lfs_run(a, tmp_path, monkeypatch)
        late = tmp_path / "late.bin"
        late.write_bytes(os.urandom(3000))
        moved: list[str] = []

        def progress(line: str) -> None:
            if line.startswith("LFS upload") and not moved:
                moved.append(line)
                tag(a, pushed, late="yes")  # equal on both sides when listed, newer now
                w = runs.open_writer(store_of(a), rid)
                log_artifact_to(w, str(late), None)  # a second LFS object, after the upload
                w.flush()

        report = remote.push(store_of(a), progress=progress)
        assert moved, "the upload reported progress"
        assert remote_refs(bare) == run_refs(a.path)
        assert {c.run_id for c in report.changes} >= {pushed, rid}
        stored = {p.read_bytes() for p in lfs.storage.rglob("*") if p.is_file()}
        assert late.read_bytes() in stored and len(stored) == 2
        assert remote.push(store_of(a)).changes == []
    fsck(bare)


@pytest.mark.skipif(http_available() is not None, reason=str(http_available()))
def test_lfs_endpoint_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "srv"
    root.mkdir()
    bare = bare_repo(root / "runs.git")
    with HttpGit(root, tmp_path / "nginx") as http:
        a = clone(tmp_path, "a", http.url("runs.git"))
        _lfs_run(a, tmp_path, monkeypatch)
        with pytest.raises(RemoteError, match="LFS endpoint missing") as exc:
            remote.push(store_of(a))
        assert "\n" not in str(exc.value)
        assert remote_refs(bare) == {}  # no ref moved without its content


def test_lfs_endpoint_that_is_no_lfs_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain web server at lfs.url (answers POST with 501, in HTML): endpoint missing."""
    import http.server

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        root = tmp_path / "srv"
        root.mkdir()
        bare = bare_repo(root / "runs.git")
        with GitDaemon(root) as daemon:
            a = clone(tmp_path, "a", daemon.url("runs.git"))
            a.git("config", "lfs.url", f"http://127.0.0.1:{server.server_address[1]}/info/lfs")
            rid, _data = _lfs_run(a, tmp_path, monkeypatch)
            before = run_refs(a.path)
            code, out = invoke(a, "push")
            assert code == 1 and out.count("\n") == 1, out
            assert out.startswith("Error: LFS endpoint missing: ") and "HTTP 501" in out, out
            assert "git config lfs.url" in out
            assert remote_refs(bare) == {} and run_refs(a.path) == before and rid in before
            # pulling such runs: nothing moves, and fetch is named as the way without LFS
            a.git("config", "--unset", "lfs.url")
            remote.push(store_of(a), lfs=False)
            b = clone(tmp_path, "b", daemon.url("runs.git"))
            b.git("config", "lfs.url", f"http://127.0.0.1:{server.server_address[1]}/info/lfs")
            code, out = invoke(b, "pull")
            assert code == 1 and out.count("\n") == 1 and "LFS endpoint missing" in out, out
            assert "nothing was pulled (`gitml fetch` takes the runs without" in out
            assert run_refs(b.path) == {}
            code, out = invoke(b, "fetch")
            assert code == 0 and set(run_refs(b.path)) == {rid}, out
    finally:
        server.shutdown()
        server.server_close()


def test_cli_subprocess_push_pull(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    rid = new_run(a)
    out = subprocess.run(["gitml", "push", "--progress"], cwd=a.path, capture_output=True,
                         text=True)  # fmt: skip
    assert out.returncode == 0 and "pushed 1 run(s)" in out.stdout, out.stderr
    lines = out.stderr.splitlines()  # not a terminal: each phase once, with its totals
    assert any(line.startswith("Writing objects: 100%") for line in lines), out.stderr
    assert all("done" in line for line in lines if "%" in line), out.stderr
    out = subprocess.run(
        ["gitml", "pull", "--progress"], cwd=b.path, capture_output=True, text=True
    )
    assert out.returncode == 0 and rid[:8] in out.stdout, out.stderr
    out = subprocess.run(["gitml", "push", "nowhere"], cwd=b.path, capture_output=True, text=True)
    assert (
        out.returncode == 1 and out.stderr.startswith("Error: ") and "Traceback" not in out.stderr
    )


def test_cli_ls_and_rm_remote(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    r1, r2 = new_run(a), new_run(a)
    remote.push(store_of(a))
    code, out = invoke(b, "ls", "--remote", "origin")
    assert code == 0 and r1[:8] in out and r2[:8] in out, out
    assert run_refs(b.path) == {}
    code, out = invoke(b, "rm", "--remote", "origin", r1[:8])
    assert code == 0 and f"deleted run {r1[:8]} on origin" in out, out
    assert set(remote_refs(bare)) == {r2}
    code, out = invoke(b, "ls", "--remote", "nowhere")
    assert code == 1 and "remote 'nowhere' is not configured; this repository has: origin" in out


def test_dvc_style_exp_push_and_pull_all(tmp_path: Path) -> None:
    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    rid = new_run(a)
    code, out = invoke(a, "exp", "push", "origin", "-A")
    assert code == 0 and "pushed 1 run(s)" in out, out
    code, out = invoke(b, "exp", "pull", "origin", "-A")
    assert code == 0 and f"run {rid[:8]}" in out, out
    assert run_refs(b.path) == run_refs(a.path)
    code, out = invoke(b, "pull", "-A", rid[:8])
    assert code == 2 and "--all cannot be combined with RUN names" in out
    code, out = invoke(b, "fetch", "--all")
    assert code == 0 and "nothing new from origin" in out


def test_many_runs_from_a_path_remote_come_through_fetch_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitml import index
    from gitml.remote import sync

    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    made = {new_run(a, lr=i) for i in range(60)}  # more than 50 refs: `git fetch-pack --stdin`
    remote.push(store_of(a))
    read_from: list[str] = []
    original = index.read_summaries

    def spy(store: Store, commits: list[str]) -> dict[str, object]:
        read_from.append(store.gitdir)
        return original(store, commits)

    monkeypatch.setattr(index, "read_summaries", spy)
    monkeypatch.setattr(sync._ReadAhead, "MIN_RUNS", 50)
    report = remote.pull(store_of(b))
    assert {c.ref.rsplit("/", 1)[-1] for c in report.changes} == made
    assert run_refs(b.path) == run_refs(a.path)
    assert {runs.load(store_of(b), rid).params["lr"] for rid in made} == set(range(60))
    # the listing cache was read ahead from the remote while git fetched, and only there
    assert read_from == [str(bare)], read_from
    monkeypatch.setattr(index, "read_summaries", original)
    cached = {s["run_id"]: s for s in index.summaries(store_of(b))}
    commits = list(run_refs(b.path).values())
    assert cached == {s["run_id"]: s for s in original(store_of(b), commits).values()}
    fsck(b.path)


def test_a_remote_that_cannot_be_read_ahead_still_fills_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitml import index
    from gitml.remote import sync

    bare = bare_repo(tmp_path / "remote.git")
    a, b = clone(tmp_path, "a", str(bare)), clone(tmp_path, "b", str(bare))
    made = {new_run(a, lr=i) for i in range(5)}
    remote.push(store_of(a))
    original = index.read_summaries

    def failing_on_the_remote(store: Store, commits: list[str]) -> dict[str, object]:
        if store.gitdir == str(bare):
            raise OSError("unreadable")
        return original(store, commits)

    monkeypatch.setattr(index, "read_summaries", failing_on_the_remote)
    monkeypatch.setattr(sync._ReadAhead, "MIN_RUNS", 1)
    remote.pull(store_of(b))
    assert {s["run_id"] for s in index.summaries(store_of(b))} == made
