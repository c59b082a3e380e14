"""Everything about one run, as a plain dict (what ``gitml show`` prints)."""

from __future__ import annotations

from typing import Any

from . import runs, yamlio
from .errors import StoreError
from .record import INFO_ORDER, parse_iso
from .store import MODE_TREE, Store, parse_lfs_pointer, read_file_content

SCHEMA = "gitml.show/1"


def describe(store: Store, run: str, log_lines: int | None = 20) -> dict[str, Any]:
    """Identity, status, source, params, metric summaries, tags, artifacts, models, log tail.

    Args:
        store: the repository.
        run: a run id, unique id prefix or name.
        log_lines: how many last lines of ``output.log`` to keep (None: all of it).

    Returns:
        A JSON-ready dict (schema ``gitml.show/1``): run.yaml's fields plus ``stale``,
        ``commit``, ``duration``, ``params``, ``metrics``, ``tags``, ``artifacts``
        (path, size, lfs), ``models`` (name, flavors, uri), ``code`` (snapshot tree id)
        and ``log`` (None without an output.log) with ``log_cut`` when it was cut.
    """
    rec = runs.load(store, runs.resolve(store, run))
    info: dict[str, Any] = {"schema": SCHEMA}
    info.update((k, rec.info[k]) for k in INFO_ORDER if k in rec.info)
    info.update(rec.info)
    summary = rec.summary()
    info["stale"] = runs.is_stale(summary)
    info["commit"] = rec.commit
    start, end = parse_iso(info.get("start_time")), parse_iso(info.get("end_time"))
    info["duration"] = format_duration((end - start) / 1000) if start and end else None
    info["params"] = rec.params
    info["metrics"] = rec.metrics
    info["tags"] = rec.tags
    tree = store.commit_tree(rec.commit)  # type: ignore[arg-type]
    info["artifacts"] = files_with_sizes(store, tree, "artifacts")
    code = store.lookup(tree, "code")
    info["code"] = code[1] if code and code[0] == MODE_TREE else None
    info["models"] = []
    models = store.lookup(tree, "models")
    if models and models[0] == MODE_TREE:
        for name, (mode, sha) in sorted(store.read_tree(models[1]).items()):
            if mode != MODE_TREE:
                continue
            manifest = store.blob_at(sha, "MLmodel")
            flavors = sorted((yamlio.loads(manifest) or {}).get("flavors", {})) if manifest else []
            info["models"].append(
                {"name": name, "flavors": flavors, "uri": f"runs:/{rec.run_id}/{name}"}
            )
    if info["models"]:
        registered = registered_from(store, rec.run_id)
        for model in info["models"]:
            model["registered"] = registered.get(model["name"], [])
    found = store.lookup(tree, "output.log")
    info["log"] = None
    if found is not None and found[0] != MODE_TREE:
        try:
            log = read_file_content(store, found[1])
        except StoreError as exc:  # an LFS object that is not in this clone
            log = f"({exc})".encode()
        text = log.decode(errors="replace")
        lines = text.splitlines()
        if log_lines is not None and len(lines) > log_lines:
            info["log_cut"] = f"last {log_lines} of {len(lines)} lines; --log for all"
            text = "\n".join(lines[-log_lines:])
        info["log"] = text
    return info


def files_with_sizes(store: Store, tree: str, top: str) -> list[dict[str, Any]]:
    found = store.lookup(tree, top)
    if not found or found[0] != MODE_TREE:
        return []
    out = []
    for path, _mode, sha in store.walk_tree(found[1]):
        data = store.read_blob(sha)
        pointer = parse_lfs_pointer(data)
        out.append(
            {"path": path, "size": pointer[1] if pointer else len(data), "lfs": bool(pointer)}
        )
    return out


def format_duration(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def registered_from(store: Store, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """Model name in the run -> the registry versions made from it (name, version, aliases)."""
    from .models import registry

    out: dict[str, list[dict[str, Any]]] = {}
    repo = store.root or store.gitdir
    prefix = f"runs:/{run_id}/"
    for name in registry.list_names(repo):
        for v in registry.list_versions(name, repo):
            if v.run_id == run_id and v.source.startswith(prefix):
                out.setdefault(v.source[len(prefix) :], []).append(
                    {"name": v.name, "version": v.version, "aliases": list(v.aliases)}
                )
    return out
