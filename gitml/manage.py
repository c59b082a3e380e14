"""Run management: metric histories, tags, renames, soft deletion and garbage collection."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import index, keys, runs
from .errors import InvalidKey, InvalidValue, RunNotFound, StoreError
from .record import RUN_REF, RunRecord
from .store import Store

DEFAULT_PRUNE = "1.hour.ago"


def metric_history(
    store: Store, run: str, key: str
) -> tuple[RunRecord, list[tuple[int, int, float]]]:
    """The run and every point ``(step, timestamp ms, value)`` of its metric ``key``.

    Raises:
        RunNotFound: no such run, or the run has no metric ``key`` (the message lists its metrics).
    """
    rec = runs.load(store, runs.resolve(store, run))
    if key not in rec.metrics:
        have = ", ".join(sorted(rec.metrics)) or "none"
        raise RunNotFound(f"run {rec.info.get('name')} has no metric {key!r}; its metrics: {have}")
    return rec, rec.history(store, key)


def parse_tag_pairs(pairs: list[str]) -> dict[str, str]:
    """``["k=v", ...]`` → ``{"k": "v"}`` (keys validated; the value may contain ``=``)."""
    tags: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise InvalidKey(f"tag {pair!r} has no value: write KEY=VALUE (e.g. stage=prod)")
        key, value = pair.split("=", 1)
        tags[keys.validate_key(key.strip(), "tag key")] = value
    return tags


def tag(store: Store, run: str, set_tags: dict[str, str], delete: Sequence[str] = ()) -> RunRecord:
    """Set and delete tags of a run in one write; returns the new version of the run.

    Raises:
        InvalidKey: a bad key, or a tag to delete that the run does not have (nothing written).
    """
    run_id = runs.resolve(store, run)
    writer = runs.open_writer(store, run_id)
    for key in delete:
        keys.validate_key(key, "tag key")
        if key not in writer.record.tags and key not in set_tags:
            have = ", ".join(sorted(writer.record.tags)) or "none"
            name = writer.record.info.get("name")
            raise InvalidKey(f"run {name} has no tag {key!r} to delete; its tags: {have}")
    writer.set_tags(set_tags)
    for key in delete:
        writer.delete_tag(key)
    if set_tags or delete:
        writer.flush()
    return writer.record


def rename(store: Store, run: str, new_name: str) -> tuple[str, str | None]:
    """Rename a run; returns (run id, old name)."""
    keys.validate_name(new_name)
    run_id = runs.resolve(store, run)
    old = runs.load(store, run_id).info.get("name")
    if old != new_name:
        runs.rename(store, run_id, new_name)
    return run_id, old


def remove(store: Store, run_args: list[str], undo: bool = False) -> list[dict[str, Any]]:
    """Soft-delete runs (``lifecycle: deleted``), or restore them with ``undo``.

    Every run is resolved before anything is written, so an unknown run changes nothing.

    Returns:
        ``[{"run_id", "name", "changed"}]``; ``changed`` is False for a run already in
        the wanted state.
    """
    from .diff import resolve_all

    ids = list(dict.fromkeys(resolve_all(store, run_args)))
    wanted = "active" if undo else "deleted"
    out = []
    for run_id in ids:
        info = runs.load(store, run_id).info
        changed = (info.get("lifecycle") or "active") != wanted
        if changed:
            runs.set_lifecycle(store, run_id, wanted)
        out.append({"run_id": run_id, "name": info.get("name"), "changed": changed})
    return out


@dataclass
class GcReport:
    """What ``gc`` did."""

    dropped: list[dict[str, Any]] = field(default_factory=list)
    killed: list[str] = field(default_factory=list)
    git: str | None = None
    steps: list[str] = field(default_factory=list)
    before_kib: int | None = None
    after_kib: int | None = None
    lfs_removed: int = 0
    lfs_freed: int = 0


def gc(
    store: Store, stale: bool = False, prune: str = DEFAULT_PRUNE, dry_run: bool = False
) -> GcReport:
    """Drop the refs of deleted runs for good, then prune and pack with git when installed.

    Args:
        store: the repository.
        stale: first mark RUNNING runs whose process is gone as KILLED.
        prune: unreachable objects older than this (a git date: ``now``,
            ``1.hour.ago``) are deleted; the grace period protects objects that a
            concurrent writer has written but not referenced yet.
        dry_run: only report the runs that would be dropped.
    """
    report = GcReport(git=shutil.which("git"))
    cutoff = None
    if report.git is not None:
        cutoff = _check_date(store, report.git, prune)
    if stale and not dry_run:
        report.killed = list(_mark_stale(store))
    for s in index.summaries(store):
        if s.get("lifecycle") != "deleted":
            continue
        ref = RUN_REF + s["run_id"]
        if dry_run or store.delete_ref(ref, s["commit"]):
            report.dropped.append({"run_id": s["run_id"], "name": s.get("name")})
    report.dropped.sort(key=lambda d: (str(d["name"]), d["run_id"]))
    if dry_run:
        return report
    index.summaries(store)  # refresh the cache without the dropped runs
    if report.git is None:
        return report
    store.wait_for_roll_up()  # one repack at a time
    report.before_kib = _object_kib(store, report.git)
    for args in (
        ["pack-refs", "--all"],
        ["repack", "-d", "-q", "-A", f"--unpack-unreachable={prune}"],
        ["prune", f"--expire={prune}"],
    ):
        run_git(store, report.git, args)
        report.steps.append("git " + " ".join(args))
    report.after_kib = _object_kib(store, report.git)
    assert cutoff is not None
    report.lfs_removed, report.lfs_freed = _prune_lfs(store, report.git, cutoff)
    return report


def _prune_lfs(store: Store, git: str, cutoff: int) -> tuple[int, int]:
    """Delete files of ``.git/lfs/objects`` that no pointer left in the repository names.

    Only after git pruned: a pointer blob of any object still in the database (reachable,
    or unreachable but younger than the prune date) keeps its file, whoever wrote it
    (gitml or git-lfs), and a file younger than the prune date is kept as well, so an
    artifact being logged right now is safe. Returns (files removed, bytes freed).
    """
    from .store import parse_lfs_pointer

    folder = os.path.join(store.commondir, "lfs", "objects")
    files: dict[str, str] = {}
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            if len(name) == 64 and all(c in "0123456789abcdef" for c in name):
                files[name] = os.path.join(dirpath, name)
    if not files:
        return 0, 0
    listing = run_git(store, git, [
        "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype) %(objectsize)",
    ])  # fmt: skip
    small = [
        line.split()[0]
        for line in listing.splitlines()
        if line.split()[1:] and line.split()[1] == "blob" and int(line.split()[2]) <= 1024
    ]
    named: set[str] = set()
    if small:
        done = subprocess.run(
            [git, f"--git-dir={store.gitdir}", "cat-file", "--batch"],
            input=("\n".join(small) + "\n").encode(), capture_output=True, check=True,
        )  # fmt: skip
        out, pos = done.stdout, 0
        while pos < len(out):
            header_end = out.index(b"\n", pos)
            size = int(out[pos:header_end].split()[2])
            pointer = parse_lfs_pointer(out[header_end + 1 : header_end + 1 + size])
            if pointer is not None:
                named.add(pointer[0])
            pos = header_end + 1 + size + 1
    removed = freed = 0
    for oid, path in files.items():
        if oid in named:
            continue
        st = os.stat(path)
        if st.st_mtime > cutoff:
            continue
        os.unlink(path)
        removed += 1
        freed += st.st_size
    return removed, freed


def _mark_stale(store: Store) -> list[str]:
    from .launch import mark_stale_killed  # layer 3, like this module; imported when used

    return [str(r) for r in mark_stale_killed(store)]


def _check_date(store: Store, git: str, date: str) -> int:
    """The date as a Unix time; refuse one git cannot parse before anything is dropped."""
    try:
        return int(run_git(
            store, git, ["-c", f"gitml.prune={date}", "config", "--type=expiry-date", "gitml.prune"]
        ).strip())  # fmt: skip
    except (StoreError, ValueError):
        raise InvalidValue(
            f"--prune {date!r} is not a date git understands; use e.g. now, 1.hour.ago, 2.weeks.ago"
        ) from None


def run_git(store: Store, git: str, args: list[str]) -> str:
    env = dict(os.environ)
    env.pop("GIT_INDEX_FILE", None)
    done = subprocess.run(
        [git, f"--git-dir={store.gitdir}", *args],
        cwd=store.root or store.gitdir, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise StoreError(f"git {args[0]} failed: {detail}; run `git {' '.join(args)}` to see why")
    return done.stdout


def _object_kib(store: Store, git: str) -> int | None:
    """Loose plus packed object size in KiB (``git count-objects -v``)."""
    try:
        text = run_git(store, git, ["count-objects", "-v"])
    except StoreError:
        return None
    fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    return int(fields.get("size", 0)) + int(fields.get("size-pack", 0))
