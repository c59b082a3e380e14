"""Differences between two runs, or a run and the workspace: params, metrics, artifacts, code."""

from __future__ import annotations

import math
import os
from typing import Any

from . import runs, yamlio
from .errors import InvalidValue
from .record import RunRecord
from .store import MODE_GITLINK, MODE_TREE, Store, parse_lfs_pointer

SCHEMA = "gitml.diff/1"
WORKSPACE = "workspace"
BINARY_SNIFF = 8000  # bytes looked at for a NUL to call a file binary (as git does)


def diff(
    store: Store,
    a: str,
    b: str | None = None,
    *,
    all_keys: bool = False,
    code: bool = False,
    params_file: str | None = None,
    context: int = 3,
) -> dict[str, Any]:
    """Compare run ``a`` with run ``b``, or with the workspace when ``b`` is None.

    Args:
        store: the repository.
        a: a run id, unique id prefix or name (the old side).
        b: another run (the new side); None compares with the workspace's code and its
            params file.
        all_keys: keep the params, metrics, tags, artifacts and models that are equal.
        code: include the unified diff of the two code snapshots (``patch``).
        params_file: the workspace's params file (default ``params.yaml`` at the root).
        context: lines of context around each change of the unified diff.

    Returns:
        A JSON-ready dict (schema ``gitml.diff/1``): ``a``/``b`` sides, ``params``,
        ``metrics``, ``tags``, ``artifacts``, ``models`` (None when a side has no such
        thing, e.g. the workspace's metrics), ``code`` and ``notes``.
    """
    ids = resolve_all(store, [a] if b is None else [a, b])
    rec_a = runs.load(store, ids[0])
    notes: list[str] = []
    rec_b: RunRecord | None = None
    if b is not None:
        rec_b = runs.load(store, ids[1])
        side_b = _side(rec_b)
    else:
        rec_b = None
        side_b = {"run_id": None, "name": WORKSPACE, "commit": None, "label": WORKSPACE}
    side_a = _side(rec_a)
    if rec_b is not None and side_a["label"] == side_b["label"]:
        side_a["label"], side_b["label"] = rec_a.run_id[:8], rec_b.run_id[:8]
    tree_a = store.commit_tree(rec_a.commit)  # type: ignore[arg-type]
    out: dict[str, Any] = {"schema": SCHEMA, "a": side_a, "b": side_b}
    if rec_b is not None:
        tree_b = store.commit_tree(rec_b.commit)  # type: ignore[arg-type]
        out["params"] = compare_values(flatten(rec_a.params), flatten(rec_b.params), all_keys)
        out["metrics"] = compare_metrics(rec_a.metrics, rec_b.metrics, all_keys)
        out["tags"] = compare_values(rec_a.tags, rec_b.tags, all_keys)
        out["artifacts"] = compare_files(store, _sub(store, tree_a, "artifacts"),
                                         _sub(store, tree_b, "artifacts"), all_keys)  # fmt: skip
        out["models"] = compare_models(store, tree_a, tree_b, all_keys)
        code_b = _sub(store, tree_b, "code")
        if code_b is None:
            notes.append(f"{side_b['label']} has no code snapshot")
    else:
        if store.root is None:
            raise InvalidValue(
                "a bare repository has no workspace; give two runs: gitml diff RUN_A RUN_B"
            )
        path = params_file or os.path.join(store.root, "params.yaml")
        workspace_params = read_params_file(path)
        if workspace_params is None and params_file is not None:
            raise InvalidValue(
                f"params file {params_file} does not exist; give an existing file, or none "
                "to compare with the workspace's params.yaml"
            )
        if workspace_params is None:
            out["params"] = None
            notes.append(f"no params file {os.path.relpath(path, store.root)} in the workspace")
        else:
            out["params"] = compare_values(
                flatten(rec_a.params), flatten(workspace_params), all_keys
            )
        out["metrics"] = out["tags"] = out["artifacts"] = out["models"] = None
        code_b = store.snapshot().tree
    code_a = _sub(store, tree_a, "code")
    if code_a is None:
        notes.append(f"{side_a['label']} has no code snapshot")
    out["code"] = compare_code(store, code_a, code_b, patch=code, context=context)
    out["notes"] = notes
    return out


def resolve_all(store: Store, texts: list[str]) -> list[str]:
    """Run ids for several ids, prefixes or names, listing the runs at most once."""
    from . import index, keys

    listing = None
    out = []
    for text in texts:
        if listing is None and not keys.is_run_id(text.strip()):
            listing = index.summaries(store)
        out.append(runs.resolve(store, text, listing))
    return out


def _side(rec: RunRecord) -> dict[str, Any]:
    return {
        "run_id": rec.run_id,
        "name": rec.info.get("name"),
        "commit": rec.commit,
        "label": str(rec.info.get("name") or rec.run_id[:8]),
    }


def _sub(store: Store, tree: str, path: str) -> str | None:
    found = store.lookup(tree, path)
    return found[1] if found and found[0] == MODE_TREE else None


def read_params_file(path: str) -> dict[str, Any] | None:
    """The mapping in a YAML params file; None when the file does not exist."""
    import yaml

    try:
        with open(path, "rb") as f:
            data = yamlio.loads(f.read())
    except FileNotFoundError:
        return None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidValue(
            f"{path} is not valid YAML ({first}); fix it or pass --params-file"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidValue(
            f"{path} must hold a YAML mapping of params, not a {type(data).__name__}"
        )
    return data


# ---------------------------------------------------------------- values
def flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings → one level with dotted keys: ``{"a": {"b": 1}}`` → ``{"a.b": 1}``."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, full + "."))
        else:
            out[full] = value
    return out


def same_value(x: Any, y: Any) -> bool:
    """Equality by native type: numbers numerically (``1 == 1.0``), NaN == NaN, bools apart."""
    if isinstance(x, bool) or isinstance(y, bool):
        return type(x) is type(y) and x == y
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
            return True
        return x == y
    if isinstance(x, (int, float)) != isinstance(y, (int, float)):
        return False
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(same_value(p, q) for p, q in zip(x, y, strict=True))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(same_value(x[k], y[k]) for k in x)
    return bool(type(x) is type(y) and x == y)


_MISSING = object()


def _change(old: Any, new: Any) -> str:
    if old is _MISSING:
        return "added"
    if new is _MISSING:
        return "removed"
    return "equal" if same_value(old, new) else "changed"


def compare_values(
    a: dict[str, Any], b: dict[str, Any], all_keys: bool = False
) -> list[dict[str, Any]]:
    """Rows ``{key, a, b, change}`` (change: added, removed, changed, equal) sorted by key."""
    rows = []
    for key in sorted(set(a) | set(b)):
        old, new = a.get(key, _MISSING), b.get(key, _MISSING)
        change = _change(old, new)
        if change == "equal" and not all_keys:
            continue
        rows.append({
            "key": key,
            "a": None if old is _MISSING else old,
            "b": None if new is _MISSING else new,
            "change": change,
        })  # fmt: skip
    return rows


def compare_metrics(
    a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]], all_keys: bool = False
) -> list[dict[str, Any]]:
    """Rows ``{key, a, b, delta, rel_delta, change}`` comparing the metrics' last values.

    ``delta`` is ``b - a``; ``rel_delta`` is ``delta / |a|`` (None when ``a`` is 0 or
    not finite).
    """
    rows = []
    for key in sorted(set(a) | set(b)):
        old = a[key]["last"] if key in a else _MISSING
        new = b[key]["last"] if key in b else _MISSING
        change = _change(old, new)
        if change == "equal" and not all_keys:
            continue
        delta: float | None = None
        rel: float | None = None
        if isinstance(old, (int, float)) and isinstance(new, (int, float)):
            delta = new - old
            if math.isnan(delta):
                delta = None
            elif old != 0 and math.isfinite(old) and math.isfinite(delta):
                rel = delta / abs(old)
        rows.append({
            "key": key,
            "a": None if old is _MISSING else old,
            "b": None if new is _MISSING else new,
            "delta": delta,
            "rel_delta": rel,
            "change": change,
        })  # fmt: skip
    return rows


# ---------------------------------------------------------------- files and models
def _files(store: Store, tree: str | None) -> dict[str, tuple[int, str]]:
    return {path: (mode, sha) for path, mode, sha in store.walk_tree(tree)} if tree else {}


def blob_size(store: Store, sha: str) -> int:
    """A stored file's size (an LFS pointer's recorded size)."""
    data = store.read_blob(sha)
    pointer = parse_lfs_pointer(data)
    return pointer[1] if pointer else len(data)


def compare_files(
    store: Store, tree_a: str | None, tree_b: str | None, all_keys: bool = False
) -> list[dict[str, Any]]:
    """Rows ``{path, change, a_size, b_size, a_id, b_id}``: files compared by content (blob id)."""
    if tree_a == tree_b and not all_keys:
        return []
    fa, fb = _files(store, tree_a), _files(store, tree_b)
    rows = []
    for path in sorted(set(fa) | set(fb)):
        old, new = fa.get(path), fb.get(path)
        if old is None:
            change = "added"
        elif new is None:
            change = "removed"
        else:
            change = "equal" if old == new else "changed"
        if change == "equal" and not all_keys:
            continue
        rows.append({
            "path": path,
            "change": change,
            "a_size": blob_size(store, old[1]) if old else None,
            "b_size": blob_size(store, new[1]) if new else None,
            "a_id": old[1] if old else None,
            "b_id": new[1] if new else None,
        })  # fmt: skip
    return rows


def _models(store: Store, tree: str) -> dict[str, str]:
    top = _sub(store, tree, "models")
    if top is None:
        return {}
    return {name: sha for name, (mode, sha) in store.read_tree(top).items() if mode == MODE_TREE}


def _flavors(store: Store, model_tree: str) -> list[str]:
    manifest = store.blob_at(model_tree, "MLmodel")
    if manifest is None:
        return []
    try:
        data = yamlio.loads(manifest) or {}
    except Exception:  # noqa: BLE001 - an unreadable manifest has no flavors to show
        return []
    return sorted(data.get("flavors") or {}) if isinstance(data, dict) else []


def compare_models(
    store: Store, tree_a: str, tree_b: str, all_keys: bool = False
) -> list[dict[str, Any]]:
    """Rows ``{name, change, a_flavors, b_flavors, files}``; ``files`` lists changed files."""
    ma, mb = _models(store, tree_a), _models(store, tree_b)
    rows = []
    for name in sorted(set(ma) | set(mb)):
        old, new = ma.get(name), mb.get(name)
        change = "added" if old is None else "removed" if new is None else (
            "equal" if old == new else "changed")  # fmt: skip
        if change == "equal" and not all_keys:
            continue
        files = compare_files(store, old, new) if change == "changed" else []
        rows.append({
            "name": name,
            "change": change,
            "a_flavors": _flavors(store, old) if old else None,
            "b_flavors": _flavors(store, new) if new else None,
            "files": [{"path": f["path"], "change": f["change"]} for f in files],
        })  # fmt: skip
    return rows


# ---------------------------------------------------------------- code
def _is_binary(data: bytes) -> bool:
    return b"\0" in data[:BINARY_SNIFF]


def _content(store: Store, entry: Any) -> bytes | None:
    """A tree entry's bytes (None for a submodule, whose commit is not in this repository)."""
    if entry is None or entry.sha is None:
        return b""
    if entry.mode == MODE_GITLINK:
        return None
    return store.read_blob(entry.sha.decode())


def _line_counts(old: list[bytes], new: list[bytes]) -> tuple[int, int]:
    import difflib

    added = removed = 0
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += i2 - i1
            added += j2 - j1
    return added, removed


def compare_code(
    store: Store, tree_a: str | None, tree_b: str | None, patch: bool = False, context: int = 3
) -> dict[str, Any]:
    """The code snapshots compared with rename detection.

    Returns:
        ``{"files": [{path, old_path, change, added, removed, binary, old_mode, new_mode,
        old_id, new_id}],
        "changed": n, "insertions": n, "deletions": n, "patch": str | None}``; ``change`` is
        added, removed, modified, renamed or copied; ``added``/``removed`` count lines
        (None for binary files).
    """
    from dulwich.diff_tree import (
        CHANGE_ADD,
        CHANGE_COPY,
        CHANGE_DELETE,
        CHANGE_RENAME,
        RenameDetector,
        tree_changes,
    )

    names = {CHANGE_ADD: "added", CHANGE_DELETE: "removed", CHANGE_RENAME: "renamed",
             CHANGE_COPY: "copied"}  # fmt: skip
    files: list[dict[str, Any]] = []
    chunks: list[tuple[str, str]] = []
    if tree_a != tree_b:
        changes = tree_changes(
            store.objects,
            tree_a.encode() if tree_a else None,  # type: ignore[arg-type]
            tree_b.encode() if tree_b else None,  # type: ignore[arg-type]
            rename_detector=RenameDetector(store.objects),
        )
        for ch in changes:
            change = names.get(ch.type, "modified")
            old_path = ch.old.path.decode(errors="replace") if ch.old and ch.old.path else None
            new_path = ch.new.path.decode(errors="replace") if ch.new and ch.new.path else None
            old_data, new_data = _content(store, ch.old), _content(store, ch.new)
            binary = (old_data is None or new_data is None
                      or _is_binary(old_data) or _is_binary(new_data))  # fmt: skip
            old_lines: list[bytes] = []
            new_lines: list[bytes] = []
            added = removed = None
            if not binary:
                assert old_data is not None and new_data is not None
                old_lines = old_data.splitlines(keepends=True)
                new_lines = new_data.splitlines(keepends=True)
                added, removed = _line_counts(old_lines, new_lines)
            entry = {
                "path": new_path or old_path,
                "old_path": old_path if change in ("renamed", "copied") else None,
                "change": change,
                "added": added,
                "removed": removed,
                "binary": binary,
                "old_mode": f"{ch.old.mode:06o}" if ch.old and ch.old.mode else None,
                "new_mode": f"{ch.new.mode:06o}" if ch.new and ch.new.mode else None,
                "old_id": ch.old.sha.decode() if ch.old and ch.old.sha else None,
                "new_id": ch.new.sha.decode() if ch.new and ch.new.sha else None,
            }
            files.append(entry)
            if patch:
                text = _patch(entry, old_path, new_path, old_lines, new_lines, context)
                chunks.append((str(entry["path"]), text))
    files.sort(key=lambda f: f["path"])
    return {
        "files": files,
        "changed": len(files),
        "insertions": sum(f["added"] or 0 for f in files),
        "deletions": sum(f["removed"] or 0 for f in files),
        "patch": "".join(text for _path, text in sorted(chunks)) if patch else None,
    }


def _patch(
    entry: dict[str, Any],
    old_path: str | None,
    new_path: str | None,
    old_lines: list[bytes],
    new_lines: list[bytes],
    context: int,
) -> str:
    """One file's part of a git-style unified diff."""
    import difflib

    a = str(old_path or new_path)
    b = str(new_path or old_path)
    change = entry["change"]
    head = [f"diff --git a/{a} b/{b}\n"]
    if change == "added":
        head.append(f"new file mode {entry['new_mode']}\n")
    elif change == "removed":
        head.append(f"deleted file mode {entry['old_mode']}\n")
    elif entry["old_mode"] != entry["new_mode"]:
        head.append(f"old mode {entry['old_mode']}\nnew mode {entry['new_mode']}\n")
    if change in ("renamed", "copied"):
        verb = "rename" if change == "renamed" else "copy"
        head.append(f"{verb} from {old_path}\n{verb} to {new_path}\n")
    if entry["old_id"] != entry["new_id"]:
        zero = "0" * 7
        ids = f"{(entry['old_id'] or zero)[:7]}..{(entry['new_id'] or zero)[:7]}"
        same_mode = (
            change in ("modified", "renamed", "copied") and entry["old_mode"] == entry["new_mode"]
        )
        head.append(f"index {ids} {entry['new_mode']}\n" if same_mode else f"index {ids}\n")
    if entry["binary"]:
        if entry["old_id"] != entry["new_id"]:
            head.append(f"Binary files {'a/' + a if change != 'added' else '/dev/null'} and "
                        f"{'b/' + b if change != 'removed' else '/dev/null'} differ\n")  # fmt: skip
        return "".join(head)
    if old_lines == new_lines:
        return "".join(head)
    old_text = [line.decode(errors="replace") for line in old_lines]
    new_text = [line.decode(errors="replace") for line in new_lines]
    body = difflib.unified_diff(
        old_text, new_text,
        "/dev/null" if change == "added" else f"a/{a}",
        "/dev/null" if change == "removed" else f"b/{b}",
        n=context, lineterm="\n",
    )  # fmt: skip
    for line in body:
        head.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(head)
