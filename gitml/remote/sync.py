"""push, pull, fetch: which side of each ``refs/gitml/*`` ref wins, and moving it there.

The revision rule of DESIGN.md: a run's versions do not descend from one another, so
the version with the higher ``revision`` wins and is written with the other side's old
commit as the expected value; equal revisions with different commits are *diverged*
and refused unless ``force``. A run still RUNNING on this host is never overwritten by
a pull. Model versions and aliases have no revision: a different commit on each side
is diverged too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .. import yamlio
from ..errors import RemoteError, RunNotFound
from ..record import RUN_REF
from ..store import Store, strip_credentials, user_and_host
from .transport import (
    PREFIX,
    Progress,
    Remote,
    Transport,
    Update,
    open_transport,
    resolve_remote,
    write_refs,
)  # fmt: skip

RETRIES = 3


@dataclass
class Change:
    """One ref that moved (or would): ``kind`` is new, updated or deleted."""

    ref: str
    old: str | None
    new: str | None
    kind: str

    @property
    def run_id(self) -> str | None:
        return self.ref[len(RUN_REF) :] if self.ref.startswith(RUN_REF) else None


@dataclass
class Report:
    """What a push, pull or fetch did."""

    remote: str
    changes: list[Change] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (ref, reason)
    lfs_objects: int = 0
    lfs_bytes: int = 0
    remote_total: int = 0
    backend: str = ""

    @property
    def runs(self) -> list[Change]:
        return [c for c in self.changes if c.run_id]

    def count(self, kind: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind)


# ---------------------------------------------------------------------- reading versions
def run_info(store: Store, commit: str) -> dict[str, Any]:
    """The run.yaml of a run commit (empty for anything else)."""
    try:
        data = store.blob_at(store.commit_tree(commit), "run.yaml")
    except KeyError:
        return {}
    info = yamlio.loads(data) if data else None
    return info if isinstance(info, dict) else {}


def revision(store: Store, commit: str) -> int:
    try:
        return int(run_info(store, commit).get("revision") or 0)
    except (TypeError, ValueError):
        return 0


def running_here(info: dict[str, Any]) -> bool:
    """A RUNNING run whose process lives on this host (its writer must not be overwritten)."""
    if info.get("status") != "RUNNING" or info.get("host") != user_and_host()[1]:
        return False
    try:
        os.kill(int(info.get("pid") or 0), 0)
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except (PermissionError, OSError):
        return True
    return int(info.get("pid") or 0) > 0


def _label(store: Store, ref: str, commit: str | None) -> str:
    if ref.startswith(RUN_REF):
        name = run_info(store, commit).get("name") if commit and store.has(commit) else None
        rid = ref[len(RUN_REF) :]
        return f"run {rid[:8]}" + (f" ({name})" if name else "")
    return ref[len(PREFIX) :]


def _decide(
    store: Store, ref: str, mine: str, theirs: str, force: bool, side: str,
    base: str | None = None,
) -> str:
    """'take' (``mine``, the sending side, wins), 'keep' (``theirs`` is newer) or 'diverged'.

    Runs are ordered by their revision. Model versions and aliases have none: they are
    decided against ``base``, the value both sides held after their last sync (kept in
    ``.git/gitml/sync/``): the side still at ``base`` is the one that did not move.
    """
    if not ref.startswith(RUN_REF):
        if force:
            return "take"
        if base is not None and theirs == base:
            return "take"
        if base is not None and mine == base:
            return "keep"
        return "diverged"
    a, b = revision(store, mine), revision(store, theirs)
    if a > b:
        return "take"
    if a < b:
        return "keep"
    return "take" if force else "diverged"


# ---------------------------------------------------------------------- sync state
def _sync_path(store: Store, remote: Remote) -> str:
    import hashlib

    key = hashlib.sha1(strip_credentials(remote.url).encode()).hexdigest()[:16]
    return os.path.join(store.gitml_dir, "sync", f"{key}.json")


def _sync_bases(store: Store, remote: Remote) -> dict[str, str]:
    """Model and alias refs → the value both sides held after the last sync with ``remote``."""
    import json

    try:
        with open(_sync_path(store, remote), encoding="utf-8") as f:
            data = json.load(f)
        return {str(k): str(v) for k, v in data.get("refs", {}).items()}
    except (OSError, ValueError, AttributeError):
        return {}  # never synced (or a damaged file): every difference is diverged


def _save_sync_bases(store: Store, remote: Remote, here: dict[str, str],
                     there: dict[str, str]) -> None:  # fmt: skip
    """Remember the model and alias refs on which both sides now agree."""
    import json
    import tempfile

    bases = _sync_bases(store, remote)
    for ref in set(here) | set(there) | set(bases):
        if ref.startswith(RUN_REF) or not ref.startswith(PREFIX):
            continue
        if here.get(ref) is not None and here.get(ref) == there.get(ref):
            bases[ref] = here[ref]
        elif here.get(ref) is None and there.get(ref) is None:
            bases.pop(ref, None)
    path = _sync_path(store, remote)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".sync-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"remote": strip_credentials(remote.url), "refs": bases}, f, indent=1,
                  sort_keys=True)  # fmt: skip
    os.replace(tmp, path)


def _diverged_error(
    store: Store, remote: Remote, refs: list[tuple[str, str]], verb: str
) -> RemoteError:
    names = ", ".join(_label(store, ref, sha) for ref, sha in refs[:5])
    more = f" and {len(refs) - 5} more" if len(refs) > 5 else ""
    runs_only = all(ref.startswith(RUN_REF) for ref, _sha in refs)
    why = ("same revision, different content" if runs_only else
           "changed on both sides since they last agreed")  # fmt: skip
    command = "push" if verb == "pushed" else "pull"
    side = "this side's version" if command == "push" else "the remote's version"
    return RemoteError(
        f"diverged: {names}{more} {'differs' if len(refs) == 1 else 'differ'} here and on "
        f"{remote.label!r} ({why}); "
        f"nothing was {verb}; use `gitml {command} --force` to take {side}"
    )


# ---------------------------------------------------------------------- selection
def _select(local: dict[str, str], run_ids: Iterable[str] | None) -> dict[str, str]:
    if run_ids is None:
        return local
    out = {}
    for rid in run_ids:
        ref = RUN_REF + rid
        if ref not in local:
            raise RunNotFound(f"no run {rid} here; run `gitml ls` to see the runs")
        out[ref] = local[ref]
    return out


# ---------------------------------------------------------------------- push
def push(
    store: Store,
    remote: str | None = None,
    run_ids: Iterable[str] | None = None,
    force: bool = False,
    progress: Progress | None = None,
    lfs: bool = True,
) -> Report:
    """Send runs (default: every ``refs/gitml/*`` ref) to ``remote`` by the revision rule."""
    target = resolve_remote(store, remote)
    transport = open_transport(store, target, progress)
    wanted = list(run_ids) if run_ids is not None else None
    report = Report(target.label, backend=transport.backend)
    bases = _sync_bases(store, target)
    for attempt in range(RETRIES):
        selected = _select(store.list_refs(PREFIX), wanted)  # again on retry: refs move here too
        theirs = transport.list()
        report.remote_total = sum(1 for r in theirs if r.startswith(RUN_REF))
        differing = {r: s for r, s in theirs.items() if r in selected and selected[r] != s}
        absent = store.missing(differing.values())
        missing = {r: s for r, s in differing.items() if s in absent}
        if missing:
            transport.fetch(missing)
        updates, skipped, diverged = [], [], []
        for ref, mine in sorted(selected.items()):
            other = theirs.get(ref)
            if other == mine:
                continue
            if other is None:
                updates.append(Update(ref, None, mine))
                continue
            verdict = _decide(store, ref, mine, other, force, "push", bases.get(ref))
            if verdict == "take":
                updates.append(Update(ref, other, mine))
            elif verdict == "keep":
                skipped.append(
                    (ref, f"{target.label} has a newer version; run `gitml pull {target.label}`")
                )
            else:
                diverged.append((ref, mine))
        if diverged:
            raise _diverged_error(store, target, diverged, "pushed")
        report.skipped = skipped
        if not updates:
            _save_sync_bases(store, target, selected, theirs)
            return report
        if lfs:
            from .. import lfs as lfs_mod

            n, size = lfs_mod.upload_for(store, target, [u.new for u in updates if u.new], progress)
            report.lfs_objects, report.lfs_bytes = report.lfs_objects + n, report.lfs_bytes + size
        # every local ref that differs is pushed, none refused: one glob refspec does it
        everything = run_ids is None and not skipped
        status = transport.push(updates, atomic=True, all_refs=everything)
        stale = [u for u in updates if status.get(u.ref) and _is_stale(status[u.ref])]
        rejected = [(u, status[u.ref]) for u in updates if status.get(u.ref) and u not in stale]
        real = [(u, why) for u, why in rejected if "atomic" not in str(why)]
        if real:
            u, why = real[0]
            more = f" (and {len(real) - 1} more refs)" if len(real) > 1 else ""
            landed = sum(1 for x in updates if status.get(x.ref) is None)  # a non-atomic server
            done = f"the other {landed} ref(s) were pushed" if landed else "nothing was pushed"
            raise RemoteError(
                f"remote {target.label!r} rejected {_label(store, u.ref, u.new)}{more}: {why}; "
                f"{done} (ask the remote's owner, or check its hooks)"
            )
        if stale and attempt < RETRIES - 1:
            time.sleep(0.05 * (attempt + 1))
            continue  # someone else pushed meanwhile: list again and decide again
        if stale or rejected:
            raise RemoteError(
                f"remote {target.label!r} kept changing while pushing; nothing was pushed; "
                "try again"
            )
        if everything and lfs:
            # the glob sends each local ref as git reads it, maybe moved (a running run's
            # checkpoint) or created since it was listed: upload the LFS objects of those too
            pushed = {u.ref: u.new for u in updates}
            now = store.list_refs(PREFIX)
            moved = [sha for ref, sha in now.items() if sha != pushed.get(ref, selected.get(ref))]
            if moved:
                n, size = lfs_mod.upload_for(store, target, moved, progress)
                report.lfs_objects, report.lfs_bytes = (
                    report.lfs_objects + n,
                    report.lfs_bytes + size,
                )
        report.changes = [Change(u.ref, u.old, u.new, "new" if u.old is None else "updated")
                          for u in updates]  # fmt: skip
        after = {**theirs, **{u.ref: u.new for u in updates if u.new}}
        _save_sync_bases(store, target, selected, after)
        return report
    return report  # pragma: no cover


def _is_stale(reason: str | None) -> bool:
    low = (reason or "").lower()
    return "stale" in low or "atomic" in low or "fetch first" in low or "non-fast-forward" in low


# ---------------------------------------------------------------------- pull / fetch
def pull(
    store: Store,
    remote: str | None = None,
    run_ids: Iterable[str] | None = None,
    force: bool = False,
    progress: Progress | None = None,
    lfs: bool = True,
) -> Report:
    """Bring ``refs/gitml/*`` (all, or the named runs) from ``remote`` by the revision rule.

    ``run_ids`` are ids, unique id prefixes or names of the remote's runs. With ``lfs``
    the LFS objects of the received runs are downloaded too (``fetch`` skips them).
    """
    from .. import index

    target = resolve_remote(store, remote)
    transport = open_transport(store, target, progress)
    report = Report(target.label, backend=transport.backend)
    theirs = transport.list()
    report.remote_total = sum(1 for r in theirs if r.startswith(RUN_REF))
    if run_ids is not None:
        theirs = _remote_selection(store, transport, theirs, list(run_ids))
    local = store.list_refs(PREFIX)
    differing = {r: s for r, s in theirs.items() if local.get(r) != s}
    absent = store.missing(differing.values())
    missing = {r: s for r, s in differing.items() if s in absent}
    ahead = _ReadAhead.start(target, [s for r, s in missing.items() if r.startswith(RUN_REF)])
    if missing:
        transport.fetch(missing)
        still = store.missing(missing.values())
        lost = [r for r, s in missing.items() if s in still]
        if lost:  # moved on the remote while fetching: take what the remote has now
            again = transport.list()
            transport.fetch({r: again[r] for r in lost if r in again})
            for r in lost:
                if r in again and store.has(again[r]):
                    differing[r] = again[r]
                else:
                    differing.pop(r, None)
    writes: list[Change] = []
    diverged = []
    bases = _sync_bases(store, target)
    for ref, other in sorted(differing.items()):
        mine = local.get(ref)
        if mine is None:
            writes.append(Change(ref, None, other, "new"))
            continue
        if ref.startswith(RUN_REF) and running_here(run_info(store, mine)):
            report.skipped.append((ref, "still running here; it is pushed when it ends"))
            continue
        verdict = _decide(store, ref, other, mine, force, "pull", bases.get(ref))
        if verdict == "take":
            writes.append(Change(ref, mine, other, "updated"))
        elif verdict == "keep":
            report.skipped.append((ref, f"newer here; run `gitml push {target.label}`"))
        else:
            diverged.append((ref, other))
    if diverged:
        raise _diverged_error(store, target, diverged, "pulled")
    received = [c.new for c in writes if c.new]
    if lfs:
        from .. import lfs as lfs_mod

        pending = _lfs_pending(store)
        if received or pending:
            try:
                report.lfs_objects, report.lfs_bytes = lfs_mod.download_for(
                    store, target, received + sorted(pending), progress
                )
            except RemoteError as exc:  # no run moved yet: say how to take them without LFS
                raise RemoteError(
                    f"{exc}; nothing was pulled (`gitml fetch` takes the runs without their "
                    "LFS content)"
                ) from None
            _lfs_pending(store, clear=True)
    elif received:
        _lfs_pending(store, add=received)
    done = write_refs(store, [(c.ref, c.old, c.new) for c in writes if c.new])
    for change, ok in zip(writes, done, strict=True):
        if ok:
            report.changes.append(change)
        else:
            report.skipped.append((change.ref, "changed here while pulling; pull again"))
    written = {c.ref: c.new for c in report.changes if c.new}
    _save_sync_bases(store, target, {**local, **written}, theirs)
    if report.changes:
        index.summaries(store, known=ahead.result())  # refresh the listing cache
    return report


class _ReadAhead:
    """Summaries of the runs a pull takes, read from a remote on this machine while git
    fetches their objects: the second core parses YAML instead of waiting for the fetch.
    Anything that goes wrong only means the listing cache reads them locally afterwards.
    """

    MIN_RUNS = 100  # below this, the thread costs more than it saves

    def __init__(self) -> None:
        self.thread: Any = None
        self.found: dict[str, Any] = {}

    @classmethod
    def start(cls, target: Any, commits: list[str]) -> _ReadAhead:
        import threading

        ahead = cls()
        path = target.local_path
        if path is None or len(commits) < cls.MIN_RUNS:
            return ahead

        def read() -> None:
            from .. import index

            try:
                ahead.found = index.read_summaries(Store(*Store.locate(path)), commits)
            except Exception:  # noqa: BLE001 - a remote we cannot read ahead: read locally
                ahead.found = {}

        ahead.thread = threading.Thread(target=read, name="gitml-read-ahead", daemon=True)
        ahead.thread.start()
        return ahead

    def result(self) -> dict[str, Any]:
        if self.thread is not None:
            self.thread.join(timeout=60)
        return self.found if self.thread is None or not self.thread.is_alive() else {}


def _lfs_pending(store: Store, add: list[str] | None = None, clear: bool = False) -> set[str]:
    """Run commits fetched without their LFS content (``fetch``), for the next ``pull``."""
    path = os.path.join(store.gitml_dir, "lfs-pending")
    try:
        with open(path) as f:
            pending = {line.strip() for line in f if line.strip()}
    except FileNotFoundError:
        pending = set()
    if clear:
        if os.path.exists(path):
            os.unlink(path)
        return set()
    if add:
        with open(path, "a") as f:
            f.writelines(f"{c}\n" for c in add if c not in pending)
    return pending


def fetch(store: Store, remote: str | None = None, run_ids: Iterable[str] | None = None,
          force: bool = False, progress: Progress | None = None) -> Report:  # fmt: skip
    """Like :func:`pull` without downloading LFS objects (git refs and objects only)."""
    return pull(store, remote, run_ids, force=force, progress=progress, lfs=False)


def _remote_selection(store: Store, transport: Transport, theirs: dict[str, str],
                      wanted: list[str]) -> dict[str, str]:  # fmt: skip
    summaries = None
    out = {}
    for text in wanted:
        ids = [
            r
            for r in theirs
            if r.startswith(RUN_REF) and r[len(RUN_REF) :].startswith(text.lower())
        ]
        if len(ids) != 1:
            if summaries is None:
                summaries = _remote_summaries(store, transport, theirs)
            ids = [s["ref"] for s in summaries if s.get("name") == text] or ids
        if not ids:
            raise RunNotFound(
                f"remote {transport.remote.label!r} has no run {text!r}; "
                f"run `gitml ls --remote {transport.remote.label}` to see its runs"
            )
        if len(ids) > 1:
            raise RunNotFound(
                f"{text!r} matches {len(ids)} runs on {transport.remote.label!r}; use a longer id prefix"
            )
        out[ids[0]] = theirs[ids[0]]
    return out


def _remote_summaries(
    store: Store, transport: Transport, theirs: dict[str, str]
) -> list[dict[str, Any]]:
    from .. import index
    from ..record import RunRecord

    runs = {r: s for r, s in theirs.items() if r.startswith(RUN_REF)}
    absent = store.missing(runs.values())
    missing = {r: s for r, s in runs.items() if s in absent}
    if missing:
        transport.fetch(missing)  # objects only: no local ref changes
    known = {s["commit"]: s for s in index.summaries(store)}
    local = store.list_refs(RUN_REF)
    out = []
    for ref, sha in sorted(runs.items()):
        summary = dict(known.get(sha) or RunRecord.load(store, sha).summary())
        summary["ref"] = ref
        summary["commit"] = sha
        mine = local.get(ref)
        summary["here"] = "same" if mine == sha else ("absent" if mine is None else "differs")
        out.append(summary)
    return out


# ---------------------------------------------------------------------- remote listing & removal
def list_remote_runs(store: Store, remote: str | None = None,
                     progress: Progress | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Summaries of the remote's runs (objects fetched, local refs untouched), newest first.

    Each summary has the keys of the listing cache plus ``ref`` and ``here`` (``same``,
    ``absent`` or ``differs``: how this repository's version compares).
    """
    target = resolve_remote(store, remote)
    transport = open_transport(store, target, progress)
    out = _remote_summaries(store, transport, transport.list())
    out.sort(key=lambda s: (s.get("start_time") or "", s["run_id"]), reverse=True)
    return out


def delete_remote_runs(store: Store, remote: str | None, run_ids: Iterable[str],
                       progress: Progress | None = None) -> list[str]:  # fmt: skip
    """Delete runs (ids, prefixes or names of the remote's runs) on the remote; local runs stay."""
    target = resolve_remote(store, remote)
    transport = open_transport(store, target, progress)
    theirs = transport.list()
    chosen = _remote_selection(store, transport, theirs, list(run_ids))
    updates = [Update(ref, sha, None) for ref, sha in chosen.items()]
    status = transport.push(updates, atomic=True)
    bad = [(u.ref, why) for u in updates if (why := status.get(u.ref))]
    if bad:
        ref, why = bad[0]
        raise RemoteError(
            f"remote {target.label!r} refused to delete {ref}: {why}; nothing was deleted"
        )
    return [ref[len(RUN_REF) :] for ref in chosen]
