"""The store and the run format on disk, checked with real git: objects, refs, snapshots, LFS."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from conftest import GitRepo

import gitml
from gitml.errors import NotARepository
from gitml.store import Store, strip_credentials


def user_state(repo: GitRepo) -> dict[str, object]:
    """Everything of the user's a run must not touch: index, HEAD, branches, stash, files."""
    files = {}
    for dirpath, dirnames, filenames in os.walk(repo.path):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            full = os.path.join(dirpath, name)
            files[os.path.relpath(full, repo.path)] = (Path(full).read_bytes(), os.stat(full).st_mtime_ns)
    gitdir = repo.path / ".git"
    return {
        "index": (gitdir / "index").read_bytes() if (gitdir / "index").exists() else None,
        "HEAD": (gitdir / "HEAD").read_bytes(),
        "branches": repo.git("for-each-ref", "refs/heads", "refs/tags", "refs/stash"),
        "stash": repo.git("stash", "list"),
        "status": repo.git("status", "--porcelain", "--untracked-files=all"),
        "files": files,
    }


# ---------------------------------------------------------------- discovery
def test_discover_finds_the_root_from_a_subfolder(repo: GitRepo) -> None:
    sub = repo / "src" / "pkg"
    sub.mkdir(parents=True)
    store = Store.discover(str(sub))
    assert os.path.samefile(store.root, repo.path)  # type: ignore[arg-type]


def test_discover_honours_gitml_dir(repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITML_DIR", str(repo.path))
    monkeypatch.chdir(tmp_path)
    assert os.path.samefile(Store.discover().root, repo.path)  # type: ignore[arg-type]


def test_not_a_repository_suggests_git_init(not_a_repo: Path) -> None:
    with pytest.raises(NotARepository) as err:
        Store.discover()
    assert "not a git repository" in str(err.value) and "git init" in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(gitml.GitmlError, match="git init"):
        gitml.start_run()


# ---------------------------------------------------------------- objects and refs
def test_a_missing_folder_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(NotARepository, match="nowhere does not exist; give the path"):
        Store.discover(str(tmp_path / "nowhere"))
    monkeypatch.setenv("GITML_DIR", str(tmp_path / "gone"))
    with pytest.raises(NotARepository, match=r"gone \(\$GITML_DIR\) does not exist"):
        Store.discover()


def test_discover_from_a_file_inside_the_repository(repo: GitRepo) -> None:
    assert Store.discover(str(repo / "README.md")).root == str(repo.path)


def test_objects_and_trees_are_read_by_git(repo: GitRepo) -> None:
    store = Store.discover()
    blob = store.add_blob(b"hello\n")
    (repo / "h.txt").write_text("hello\n")
    assert blob == repo.git("hash-object", "h.txt").strip()
    assert repo.git("cat-file", "-p", blob) == "hello\n"
    tree = store.build_tree([("a/b.txt", 0o100644, blob), ("c.txt", 0o100644, blob)])
    assert repo.git("ls-tree", "-r", "--name-only", tree).split() == ["a/b.txt", "c.txt"]
    assert store.blob_at(tree, "a/b.txt") == b"hello\n"
    assert store.lookup(tree, "a/missing") is None
    assert [p for p, _, _ in store.walk_tree(tree)] == ["a/b.txt", "c.txt"]
    commit = store.add_commit(tree, [repo.head()], "msg\n", 1_700_000_000, 1_700_000_000)
    assert repo.git("log", "-1", "--format=%P %s", commit).strip() == f"{repo.head()} msg"
    repo.fsck()


def test_a_batch_is_one_pack_git_verifies_and_reads(repo: GitRepo) -> None:
    store = Store.discover()
    packs = repo.path / ".git" / "objects" / "pack"
    before = set(os.listdir(packs)) if packs.exists() else set()
    with store.batch():
        blobs = [store.add_blob(f"value {i}\n".encode() * (i + 1)) for i in range(6)]
        assert store.read_blob(blobs[2]) == b"value 2\n" * 3, "readable inside the batch"
        tree = store.build_tree([(f"d/{i}.txt", 0o100644, b) for i, b in enumerate(blobs)])
        commit = store.add_commit(tree, [repo.head()], "batch\n", 0, 0)
        assert repo.git("cat-file", "-t", commit, check=False) == "", "nothing on disk yet"
    added = sorted(set(os.listdir(packs)) - before)
    assert [name.rsplit(".", 1)[1] for name in added] == ["idx", "pack"]
    verified = repo.git("verify-pack", "-v", str(packs / added[0]))
    assert "non delta: 9 objects" in verified  # 6 blobs, 2 trees, 1 commit
    assert repo.git("show", f"{commit}:d/5.txt") == "value 5\n" * 6
    assert Store.discover().read_blob(blobs[5]) == b"value 5\n" * 6
    assert store.blob_at(tree, "d/0.txt") == b"value 0\n"
    repo.git("update-ref", "refs/heads/batch", commit)
    repo.fsck()


def test_a_failed_batch_writes_nothing(repo: GitRepo) -> None:
    store = Store.discover()
    objects = repo.path / ".git" / "objects"
    before = sorted(str(p) for p in objects.rglob("*"))
    with pytest.raises(ZeroDivisionError):
        with store.batch():
            for i in range(10):
                store.add_blob(f"doomed {i}".encode())
            1 / 0  # noqa: B018
    assert sorted(str(p) for p in objects.rglob("*")) == before


def test_a_batch_holds_only_its_own_threads_objects(repo: GitRepo) -> None:
    import threading

    store = Store.discover()
    opened, written = threading.Event(), threading.Event()

    def in_batch() -> None:
        with store.batch():
            store.add_blob(b"the batch's own\n")
            opened.set()
            written.wait(30)

    worker = threading.Thread(target=in_batch)
    worker.start()
    opened.wait(30)
    other = store.add_blob(b"another thread's object\n")  # e.g. a nested run's flush
    assert repo.git("cat-file", "-p", other) == "another thread's object\n", "on disk at once"
    written.set()
    worker.join(30)
    assert Store.discover().read_blob(store.add_blob(b"the batch's own\n")) == b"the batch's own\n"


def test_missing_finds_loose_and_packed_objects_in_one_scan(repo: GitRepo) -> None:
    store = Store.discover()
    loose = store.add_blob(b"loose\n")
    with store.batch():
        packed = [store.add_blob(f"packed {i}\n".encode()) for i in range(5)]
    absent = "0123456789abcdef0123456789abcdef01234567"
    assert store.missing([loose, *packed, absent, repo.head()]) == {absent}
    assert store.missing([]) == set()


def test_a_small_batch_goes_loose(repo: GitRepo) -> None:
    store = Store.discover()
    with store.batch():
        blob = store.add_blob(b"alone\n")
    assert (repo.path / ".git" / "objects" / blob[:2] / blob[2:]).is_file()


def test_many_packs_are_rolled_up(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    from gitml import store as store_module

    monkeypatch.setattr(store_module, "PACK_LIMIT", 5)
    store = Store.discover()
    packs = repo.path / ".git" / "objects" / "pack"
    written = []
    for n in range(12):
        with store.batch():
            written += [store.add_blob(f"run {n} object {i}".encode()) for i in range(4)]
        for proc in store_module._BACKGROUND:  # one roll-up at a time: wait for it here
            assert proc.wait(timeout=60) == 0
    assert len(store_module._BACKGROUND) >= 2
    assert len(list(packs.glob("*.idx"))) <= 5, sorted(os.listdir(packs))
    listed = repo.git("cat-file", "--batch-check", "--batch-all-objects").split("\n")
    assert set(written) <= {line.split()[0] for line in listed if line}
    assert [Store.discover().read_blob(sha) for sha in written[:2]] == [
        b"run 0 object 0", b"run 0 object 1"
    ]
    repo.fsck()


def test_cas_ref_is_compare_and_swap_without_reflog(repo: GitRepo) -> None:
    store = Store.discover()
    head = repo.head()
    tree = store.commit_tree(head)
    c1 = store.add_commit(tree, [head], "one\n", 0, 0)
    c2 = store.add_commit(tree, [head], "two\n", 0, 0)
    name = "refs/gitml/runs/" + "ab" * 16
    assert store.cas_ref(name, None, c1)
    assert not store.cas_ref(name, None, c2), "must not exist yet"
    assert not store.cas_ref(name, c2, c1), "wrong expected value"
    assert store.cas_ref(name, c1, c2)
    assert store.get_ref(name) == c2 == repo.git("rev-parse", name).strip()
    assert store.list_refs("refs/gitml/runs/") == {name: c2}
    assert not (repo.path / ".git" / "logs" / "refs" / "gitml").exists()
    repo.git("pack-refs", "--all")
    assert store.get_ref(name) == c2 and store.list_refs("refs/gitml/") == {name: c2}
    assert store.delete_ref(name, c2)
    assert store.get_ref(name) is None
    repo.fsck()


def test_create_refs_writes_packed_refs_git_reads(repo: GitRepo) -> None:
    store = Store.discover()
    head = repo.head()
    tree = store.commit_tree(head)
    commits = [store.add_commit(tree, [head], f"{i}\n", 0, 0) for i in range(3)]
    repo.git("tag", "-a", "v1", "-m", "annotated")  # a peeled line that must survive
    repo.git("pack-refs", "--all")
    loose = "refs/gitml/runs/" + "cd" * 16
    assert store.cas_ref(loose, None, commits[0])
    names = {"refs/gitml/runs/" + f"{i:032x}": c for i, c in enumerate(commits)}
    created = store.create_refs({**names, loose: commits[1]})
    assert created == set(names), "an existing (loose) ref is left alone"
    assert store.get_ref(loose) == commits[0]
    for name, sha in names.items():
        assert repo.git("rev-parse", name).strip() == sha == store.get_ref(name)
    assert repo.git("rev-parse", "v1^{commit}").strip() == head
    assert store.create_refs(names) == set(), "creating again changes nothing"
    name, sha = next(iter(names.items()))
    assert store.cas_ref(name, sha, commits[2])  # an update goes loose and wins over packed
    assert repo.git("rev-parse", name).strip() == commits[2]
    assert store.delete_ref(name, commits[2]) and store.get_ref(name) is None, "packed value gone too"
    assert not (repo.path / ".git" / "packed-refs.lock").exists()
    repo.fsck()


@pytest.mark.parametrize(
    "url, clean",
    [
        ("https://user:s3cret@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://ghp_token@github.com/o/r.git", "https://github.com/o/r.git"),
        ("http://u:p@host:8080/r", "http://host:8080/r"),
        ("ssh://git@host/r.git", "ssh://git@host/r.git"),
        ("ssh://git:pw@host/r.git", "ssh://host/r.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("/srv/repos/r.git", "/srv/repos/r.git"),
    ],
)
def test_strip_credentials(url: str, clean: str) -> None:
    assert strip_credentials(url) == clean


# ---------------------------------------------------------------- source capture
def test_clean_workspace_snapshot_is_the_baseline_tree(repo: GitRepo) -> None:
    before = user_state(repo)
    with gitml.start_run() as run:
        pass
    rid = run.info.run_id
    src = gitml.get_run(rid).extra["source"]
    assert src == {"commit": repo.head(), "branch": "main", "remote_url": None, "dirty": False,
                   "skipped": []}  # fmt: skip
    assert repo.git("rev-parse", f"refs/gitml/runs/{rid}:code").strip() == repo.git(
        "rev-parse", "HEAD^{tree}").strip()  # fmt: skip
    assert user_state(repo) == before
    repo.fsck()


def test_dirty_workspace_snapshot_leaves_index_head_stash_and_files_alone(repo: GitRepo) -> None:
    repo.commit_files({"train.py": "print('v1')\n", ".gitignore": "*.ckpt\nbuild/\n",
                       "old.txt": "old\n"})  # fmt: skip
    repo.git("remote", "add", "origin", "https://alice:tok3n@example.com/team/proj.git")
    (repo / "train.py").write_text("print('v2')\n")  # modified, not staged
    (repo / "staged.py").write_text("x = 1\n")
    repo.git("add", "staged.py")  # staged, new
    (repo / "old.txt").unlink()  # deleted
    (repo / "notes.md").write_text("untracked\n")  # untracked, not ignored
    (repo / "data").mkdir()
    (repo / "data" / "small.csv").write_text("a,b\n1,2\n")
    (repo / "data" / "big.bin").write_bytes(b"x" * 5000)  # above the cap below
    (repo / "model.ckpt").write_bytes(b"ignored")
    (repo / "build").mkdir()
    (repo / "build" / "out.o").write_bytes(b"ignored")
    repo.write_files({"stashme.txt": "s\n"})
    repo.git("stash", "push", "-u", "-q", "--", "stashme.txt")
    os.environ["GITML_SNAPSHOT_MAX_FILE"] = "1000"
    try:
        before = user_state(repo)
        with gitml.start_run() as run:
            gitml.log_metric("m", 1.0)
    finally:
        del os.environ["GITML_SNAPSHOT_MAX_FILE"]
    assert user_state(repo) == before, "a run changed the user's index, HEAD, stash or files"
    rid = run.info.run_id
    src = gitml.get_run(rid).extra["source"]
    assert src["dirty"] is True
    assert src["branch"] == "main" and src["commit"] == repo.head()
    assert src["remote_url"] == "https://example.com/team/proj.git"
    assert src["skipped"] == ["data/big.bin"]
    code = repo.git("ls-tree", "-r", "--name-only", f"refs/gitml/runs/{rid}:code").split()
    assert code == [".gitignore", "README.md", "data/small.csv", "notes.md", "staged.py", "train.py"]
    assert repo.git("show", f"refs/gitml/runs/{rid}:code/train.py") == "print('v2')\n"
    assert "tok3n" not in repo.git("show", f"refs/gitml/runs/{rid}:run.yaml")
    repo.fsck()


def test_staged_change_alone_counts_as_dirty(repo: GitRepo) -> None:
    (repo / "README.md").write_text("changed\n")
    repo.git("add", "README.md")
    snap = Store.discover().snapshot()
    assert snap.dirty
    assert repo.git("cat-file", "-p", f"{snap.tree}:README.md") == "changed\n"


def test_an_untracked_file_too_large_for_the_snapshot_still_makes_it_dirty(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITML_SNAPSHOT_MAX_FILE", "10")
    (repo / "big.bin").write_bytes(b"x" * 100)
    snap = Store.discover().snapshot()
    assert snap.skipped == ["big.bin"] and snap.dirty
    assert snap.tree == repo.git("rev-parse", "HEAD^{tree}").strip()  # the file is left out


def test_snapshot_in_a_linked_worktree_leaves_out_its_git_file(
    repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wt = tmp_path / "worktree"
    repo.git("worktree", "add", "-q", str(wt))
    monkeypatch.chdir(wt)
    with gitml.start_run(name="in-worktree") as run:
        pass
    src = gitml.get_run(run.info.run_id).extra["source"]
    assert src["dirty"] is False and src["commit"] == repo.head()
    code = repo.git("ls-tree", "--name-only", f"refs/gitml/runs/{run.info.run_id}:code").split()
    assert ".git" not in code and "README.md" in code
    repo.fsck()


def test_unborn_branch_run_has_no_parent(empty_repo: GitRepo) -> None:
    (empty_repo / "train.py").write_text("print(1)\n")
    before = user_state(empty_repo)
    with gitml.start_run() as run:
        gitml.log_param("a", 1)
    rid = run.info.run_id
    ref = f"refs/gitml/runs/{rid}"
    assert empty_repo.git("log", "-1", "--format=%P", ref).strip() == ""
    src = gitml.get_run(rid).extra["source"]
    assert src["commit"] is None and src["branch"] == "main" and src["dirty"] is True
    assert empty_repo.git("show", f"{ref}:code/train.py") == "print(1)\n"
    assert user_state(empty_repo) == before
    empty_repo.git("rev-parse", "--verify", "-q", "HEAD", check=False)
    empty_repo.fsck()


def test_detached_head(repo: GitRepo) -> None:
    first = repo.head()
    repo.commit_files({"a.py": "a\n"})
    repo.git("checkout", "-q", "--detach", first)
    with gitml.start_run() as run:
        pass
    src = gitml.get_run(run.info.run_id).extra["source"]
    assert src["commit"] == first and src["branch"] is None and src["dirty"] is False
    assert repo.git("log", "-1", "--format=%P", f"refs/gitml/runs/{run.info.run_id}").strip() == first
    assert (repo.path / ".git" / "HEAD").read_text().strip() == first


# ---------------------------------------------------------------- large artifacts (LFS layout)
def test_large_artifact_goes_to_the_lfs_layout(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITML_LFS_THRESHOLD", "100")
    big = os.urandom(1000)
    (repo / "weights.bin").write_bytes(big)
    (repo / "small.txt").write_text("tiny\n")
    with gitml.start_run() as run:
        gitml.log_artifact("weights.bin")
        gitml.log_artifact("small.txt")
    ref = f"refs/gitml/runs/{run.info.run_id}"
    oid = hashlib.sha256(big).hexdigest()
    pointer = repo.git("show", f"{ref}:artifacts/weights.bin")
    assert pointer == f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize 1000\n"
    stored = repo.path / ".git" / "lfs" / "objects" / oid[0:2] / oid[2:4] / oid
    assert stored.read_bytes() == big
    assert repo.git("show", f"{ref}:artifacts/small.txt") == "tiny\n"
    out = gitml.Client().download_artifacts(run.info.run_id, "weights.bin", str(repo / "dl"))
    assert Path(out).read_bytes() == big
    sizes = {f.path: f.file_size for f in gitml.Client().list_artifacts(run.info.run_id)}
    assert sizes == {"small.txt": 5, "weights.bin": 1000}
    repo.fsck()


def test_read_paths_in_one_batch_matches_dulwich(repo: GitRepo) -> None:
    store = Store.discover()
    head = repo.head()
    commits = []
    for i in range(25):  # at least 20: the batch goes through `git cat-file --batch`
        blob = store.add_blob(f"run {i}\n".encode())
        tree = store.build_tree([("run.yaml", 0o100644, blob), ("bin.dat", 0o100644, store.add_blob(b"\0\n" * i))])
        commits.append(store.add_commit(tree, [head], f"{i}\n", 0, 0))
    names = ("run.yaml", "bin.dat", "missing.yaml")
    batch = store.read_paths(commits, names)
    assert batch == store._read_paths_dulwich([(c, n) for c in commits for n in names])
    assert batch[(commits[3], "run.yaml")] == b"run 3\n"
    assert batch[(commits[7], "bin.dat")] == b"\0\n" * 7
    assert (commits[0], "missing.yaml") not in batch and len(batch) == 50


@pytest.mark.parametrize(
    ("text", "ok"),
    [("git version 2.39.5\n", True), ("git version 2.32.0.windows.1", True),
     ("git version 2.25.1", False), ("git version 1.9", False), ("", False)],
)  # fmt: skip
def test_packs_need_a_git_that_rolls_them_up(text: str, ok: bool) -> None:
    from gitml.store import _version_at_least

    assert _version_at_least(text, (2, 32)) is ok


def test_without_such_a_git_a_batch_goes_loose(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitml import store as store_module

    monkeypatch.setattr(store_module, "_git_binary", lambda: None)
    store = Store.discover()
    with store.batch():
        blobs = [store.add_blob(f"loose {i}".encode()) for i in range(8)]
    objects = repo.path / ".git" / "objects"
    assert all((objects / b[:2] / b[2:]).is_file() for b in blobs)


def test_gc_waits_for_a_running_roll_up_only(repo: GitRepo) -> None:
    import subprocess
    import time

    store = Store.discover()
    marker = repo.path / ".git" / "gitml" / "repack.pid"
    roll_up = subprocess.Popen(["sh", "-c", "sleep 0.6", "git-repack"])
    marker.parent.mkdir(exist_ok=True)
    marker.write_text(f"{roll_up.pid}\n")
    start = time.monotonic()
    store.wait_for_roll_up(timeout=30)  # an exited child is a zombie: its cmdline is empty
    assert time.monotonic() - start >= 0.4, "returned while the roll-up still ran"
    assert roll_up.wait(timeout=5) == 0
    marker.write_text(f"{os.getpid()}\n")  # a live pid that is no roll-up (reused)
    start = time.monotonic()
    store.wait_for_roll_up(timeout=30)
    assert time.monotonic() - start < 1
    marker.write_text("garbage\n")
    store.wait_for_roll_up(timeout=30)  # an unreadable marker is no roll-up


def test_a_big_batch_is_written_as_it_goes(
    repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitml import store as store_module

    monkeypatch.setattr(store_module, "PACK_MAX_BYTES", 2000)
    folder = tmp_path / "outputs"
    folder.mkdir()
    for i in range(12):
        (folder / f"part-{i:02d}.bin").write_bytes(os.urandom(600))
    packs = repo.path / ".git" / "objects" / "pack"
    before = set(packs.glob("*.pack")) if packs.exists() else set()
    with gitml.start_run() as run:
        gitml.log_artifacts(str(folder), "outputs")
    added = set(packs.glob("*.pack")) - before
    assert len(added) >= 3, "a folder of 7 KiB in batches of 2 KB makes several packs"
    c = gitml.Client()
    listed = c.list_artifacts(run.info.run_id, "outputs")
    assert sorted(a.path for a in listed) == [f"outputs/part-{i:02d}.bin" for i in range(12)]
    out = Path(c.download_artifacts(run.info.run_id, "outputs/part-07.bin", str(tmp_path / "d")))
    assert out.read_bytes() == (folder / "part-07.bin").read_bytes()
    repo.fsck()
