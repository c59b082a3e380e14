"""The listing cache: run commit id → summary, kept in ``.git/gitml/index.json``.

Derived data only: safe to delete, rebuilt incrementally by comparing each run ref's
commit id with the cached ones, never pushed, never the source of truth.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

from .record import RUN_REF, SUMMARY_FILES, RunRecord
from .store import Store
from .yamlio import YAMLError

CACHE_FORMAT = 1


def _path(store: Store) -> str:
    return os.path.join(store.gitml_dir, "index.json")


def _read(store: Store) -> dict[str, Any]:
    try:
        with open(_path(store), encoding="utf-8") as f:
            data = json.load(f)
        if data.get("format") == CACHE_FORMAT and isinstance(data.get("runs"), dict):
            return data["runs"]  # type: ignore[no-any-return]
    except (OSError, ValueError, AttributeError):
        pass  # missing or corrupt: rebuilt below
    return {}


def _write(store: Store, runs: dict[str, Any]) -> None:
    directory = store.gitml_dir
    fd, tmp = tempfile.mkstemp(prefix=".index-", dir=directory)
    try:
        text = json.dumps({"format": CACHE_FORMAT, "runs": runs}, separators=(",", ":"))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)  # one write: json.dump streams thousands of small writes
        os.replace(tmp, _path(store))
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _valid(summary: Any, commit: str) -> bool:
    return (
        isinstance(summary, dict)
        and summary.get("commit") == commit
        and isinstance(summary.get("run_id"), str)
    )


def read_summaries(store: Store, commits: list[str]) -> dict[str, Any]:
    """The summaries of run commits, read in one batch; non-run or damaged commits left out."""
    fresh: dict[str, Any] = {}
    docs = store.read_paths(commits, SUMMARY_FILES)
    for commit in commits:
        found = {n: docs[(commit, n)] for n in SUMMARY_FILES if (commit, n) in docs}
        if "run.yaml" not in found:
            continue  # a ref to something that is not a run commit: skip it
        try:
            fresh[commit] = RunRecord.from_documents(commit, found).summary()
        except (KeyError, ValueError, TypeError, AttributeError, YAMLError):
            continue  # damaged run files: listed once they are readable
    return fresh


def summaries(store: Store, known: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The summary of every run ref, from the cache where the commit id matches.

    Runs missing from the cache are taken from ``known`` (summaries already read, e.g.
    from the remote a pull takes them from) or read in one batch (``Store.read_paths``).
    """
    refs = store.list_refs(RUN_REF)
    cached = _read(store)
    missing = [c for c in dict.fromkeys(refs.values()) if not _valid(cached.get(c), c)]
    fresh = {c: known[c] for c in missing if known and _valid(known.get(c), c)}
    unread = [c for c in missing if c not in fresh]
    if unread:
        fresh.update(read_summaries(store, unread))
    out: list[dict[str, Any]] = []
    for commit in refs.values():
        summary = fresh.get(commit) or cached.get(commit)
        if summary is not None and _valid(summary, commit):
            fresh[commit] = summary
            out.append(summary)
    if missing or len(fresh) != len(cached):
        _write(store, {c: fresh[c] for c in refs.values() if c in fresh})
    return out
