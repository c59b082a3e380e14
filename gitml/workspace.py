"""The code a run ran, back in git: as a branch on its baseline, or in the workspace."""

from __future__ import annotations

import os
import shutil
from typing import Any

from . import runs
from .errors import InvalidValue, StoreError
from .manage import run_git
from .store import Store


def branch(store: Store, run: str, name: str, force: bool = False) -> dict[str, Any]:
    """Create git branch ``name`` holding the code a run ran (``dvc exp branch``).

    The branch's commit has the run's code snapshot as its tree and the run's baseline as
    its parent, so ``git diff <baseline> <name>`` is what the workspace had changed. A
    run started on a clean workspace gets its baseline commit itself.

    Returns:
        ``{"run_id", "run_name", "branch", "commit", "baseline", "new_commit", "moved"}``.

    Raises:
        InvalidValue: a name git refuses, a branch that exists (without ``force``), the
            checked-out branch, or a run without a code snapshot.
    """
    import time

    from dulwich.refs import check_ref_format

    ref = f"refs/heads/{name}"
    if not name or name.startswith("-") or not check_ref_format(ref.encode()):
        raise InvalidValue(
            f"{name!r} is not a valid branch name; use letters, digits and - _ . / "
            "(no spaces, '..', '~', '^', ':' or a trailing '.lock')"
        )
    run_id = runs.resolve(store, run)
    rec = runs.load(store, run_id)
    label = f"{rec.info.get('name')} ({run_id[:8]})"
    assert rec.commit is not None
    code = store.lookup(store.commit_tree(rec.commit), "code")
    baseline = (rec.info.get("source") or {}).get("commit")
    if code is None:
        hint = f"; its baseline is {baseline[:12]}: `git branch {name} {baseline[:12]}`" if baseline else ""
        raise InvalidValue(f"run {label} has no code snapshot (recorded with --no-code){hint}")
    current = store.get_ref(ref)
    if current is not None and not force:
        raise InvalidValue(
            f"branch {name!r} already exists; choose another name, or --force to move it"
        )
    if current is not None and store.head()[1] == name:
        raise InvalidValue(f"branch {name!r} is checked out; switch to another branch first")
    if baseline and store.commit_tree(baseline) == code[1]:
        commit, new_commit = baseline, False
    else:
        now = time.time()
        message = f"Code of gitml run {label}\n\ngitml-run: {run_id}\n"
        commit = store.add_commit(code[1], [baseline] if baseline else [], message, now, now)
        new_commit = True
    _set_branch(store, ref, current, commit, f"gitml branch: code of run {label}")
    return {"run_id": run_id, "run_name": rec.info.get("name"), "branch": name,
            "commit": commit, "baseline": baseline, "new_commit": new_commit,
            "moved": current is not None}  # fmt: skip


def apply(store: Store, run: str, force: bool = False) -> dict[str, Any]:
    """Put the code a run ran into the workspace (``dvc exp apply``).

    Files of the run's code snapshot are written where the workspace differs; tracked
    files the run's workspace did not have are removed. The index, HEAD and branches are
    left alone, so ``git diff`` shows the result and ``git checkout -- .`` undoes it for
    tracked files. Untracked files the run did not have are left in place.

    Returns:
        ``{"run_id", "run_name", "written", "removed", "skipped"}`` (paths).

    Raises:
        InvalidValue: a bare repository, a run without a code snapshot, or (without
            ``force``) uncommitted changes in files the run would overwrite or remove.
    """
    from .store import MODE_GITLINK, MODE_LINK, MODE_TREE

    def files(tree: str) -> dict[str, tuple[int, str]]:  # submodules are not files: left alone
        return {p: (m, sha) for p, m, sha in store.walk_tree(tree) if m != MODE_GITLINK}

    if store.root is None:
        raise InvalidValue("a bare repository has no workspace to apply a run's code to")
    run_id = runs.resolve(store, run)
    rec = runs.load(store, run_id)
    label = f"{rec.info.get('name')} ({run_id[:8]})"
    assert rec.commit is not None
    code = store.lookup(store.commit_tree(rec.commit), "code")
    if code is None or code[0] != MODE_TREE:
        raise InvalidValue(f"run {label} has no code snapshot (recorded with --no-code)")
    target = files(code[1])
    for path in target:
        if any(part in ("", ".", "..", ".git") for part in path.split("/")):
            raise InvalidValue(f"run {label} has an unsafe path in its code: {path!r}")
    head, _ = store.head()
    at_head = files(store.commit_tree(head)) if head else {}
    here = files(store.snapshot().tree)
    write = sorted(p for p, entry in target.items() if here.get(p) != entry)
    remove = sorted(p for p in here if p in at_head and p not in target)
    lost = [p for p in write + remove if p in here and here[p] != at_head.get(p)]
    if lost and not force:
        shown = ", ".join(lost[:5]) + (f" and {len(lost) - 5} more" if len(lost) > 5 else "")
        raise InvalidValue(
            f"uncommitted changes in {shown} would be overwritten; commit or stash them "
            "first, or use --force"
        )
    root = store.root
    for path in remove:
        os.unlink(os.path.join(root, path))
    for path in write:
        mode, sha = target[path]
        dest = os.path.join(root, *path.split("/"))
        if os.path.isdir(dest) and not os.path.islink(dest):
            shutil.rmtree(dest)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        data = store.read_blob(sha)
        if os.path.lexists(dest):
            os.unlink(dest)
        if mode == MODE_LINK:
            os.symlink(data, dest)
            continue
        with open(dest, "wb") as f:
            f.write(data)
        if mode & 0o111:
            os.chmod(dest, 0o755)
    skipped = list((rec.info.get("source") or {}).get("skipped") or [])
    return {"run_id": run_id, "run_name": rec.info.get("name"), "written": write,
            "removed": remove, "skipped": skipped}  # fmt: skip


def _set_branch(store: Store, ref: str, old: str | None, new: str, reason: str) -> None:
    """Point a user's branch at ``new`` if it still is at ``old``; with git, as git does
    (a reflog entry), else with a compare-and-swap of the ref."""
    git = shutil.which("git")
    if git is None:
        if not store.cas_ref(ref, old, new):
            raise StoreError(f"{ref} changed meanwhile; run the command again")
        return
    run_git(store, git, ["update-ref", "-m", reason, ref, new, old or ""])
