"""The model registry on git refs: numbered versions and movable aliases of named models.

- ``refs/gitml/models/<name>/<version>``: a commit whose tree is the model directory plus
  ``version.yaml``; its parent is the source run's commit. Versions never move.
- ``refs/gitml/aliases/<name>/<alias>``: points at a version's commit; moves on ``set_alias``.

A version ref is created only if absent, so two processes registering at once get
distinct numbers: the loser of a race retries with the next one.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import Any

from .. import yamlio
from ..errors import ModelError, RunNotFound
from ..store import MODE_TREE, Store, export_file, user_and_host
from .uri import ModelURI, parse

MODELS_PREFIX = "refs/gitml/models/"
ALIASES_PREFIX = "refs/gitml/aliases/"
VERSION_FILE = "version.yaml"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MAX_ATTEMPTS = 1000


@dataclass(frozen=True)
class ModelVersion:
    """One registered version, as read from its commit's ``version.yaml``."""

    name: str
    version: int
    commit: str
    source: str
    run_id: str | None
    created: str
    registered_by: str
    made_by: tuple[str, str] | None
    description: str | None
    flavors: tuple[str, ...]
    aliases: tuple[str, ...] = ()

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "uri": self.uri,
            "aliases": list(self.aliases),
            "source": self.source,
            "run_id": self.run_id,
            "created": self.created,
            "registered_by": self.registered_by,
            "description": self.description,
            "flavors": list(self.flavors),
            "commit": self.commit,
        }


def validate_name(name: object, what: str = "model name") -> str:
    """A registered model name or alias: letters, digits, ``_ . -``; at most 100 characters."""
    if (
        not isinstance(name, str)
        or not _NAME.match(name)
        or ".." in name
        or name.endswith((".lock", "."))
    ):
        raise ModelError(
            f"invalid {what} {name!r}: use letters, digits, '_', '.', '-' (at most 100, starting with a letter or digit)"
        )
    return name


def validate_alias(alias: object) -> str:
    validate_name(alias, "alias")
    assert isinstance(alias, str)
    if alias.isdigit() or alias == "latest":
        raise ModelError(
            f"invalid alias {alias!r}: it would read as a version; use a word like 'champion'"
        )
    return alias


def _store(repo: str | None) -> Store:
    return Store.discover(repo)


def _version_ref(name: str, version: int) -> str:
    return f"{MODELS_PREFIX}{name}/{version}"


def _alias_ref(name: str, alias: str) -> str:
    return f"{ALIASES_PREFIX}{name}/{alias}"


# ------------------------------------------------------------------ registering


def register(
    source: str, name: str, description: str | None = None, repo: str | None = None
) -> ModelVersion:
    """Register the model at ``source`` as the next version of ``name``.

    Args:
        source: ``runs:/<run>/<model>``, ``models:/<name>/<version>`` (copy a version) or a
            local model directory.
        name: the registered model's name.
        description: a note stored with the version.
        repo: a path inside the repository.

    Returns:
        The new ModelVersion (versions count 1, 2, ... per name).
    """
    validate_name(name)
    store = _store(repo)
    tree, parents, facts = _source_tree(store, source)
    me, here = user_and_host()
    entries = store.read_tree(tree)
    mlmodel = entries.get("MLmodel")
    if mlmodel is None or mlmodel[0] == MODE_TREE:
        raise ModelError(f"{source} is not a model directory: it has no MLmodel file")
    flavors = sorted((yamlio.loads(store.read_blob(mlmodel[1])) or {}).get("flavors") or {})
    for _attempt in range(MAX_ATTEMPTS):
        version = _next_version(store, name)
        info = {
            "format": 1,
            "name": name,
            "version": version,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "registered_by": {"user": me, "host": here},
            "description": description,
            "flavors": flavors,
            **facts,
        }
        entries[VERSION_FILE] = (0o100644, store.add_blob(yamlio.dumps(info).encode()))
        new_tree = store.add_tree(entries)
        message = f"gitml: register {name} version {version}\n\nsource: {facts['source']}\n"
        now = time.time()
        commit = store.add_commit(new_tree, parents, message, now, now)
        if store.cas_ref(_version_ref(name, version), None, commit):
            return _read_version(store, name, version, commit)
    raise ModelError(
        f"could not register {name}: {MAX_ATTEMPTS} version numbers were taken concurrently; retry"
    )


def _source_tree(store: Store, source: str) -> tuple[str, list[str], dict[str, Any]]:
    """(model tree id, parents of the version commit, facts for version.yaml) of a source URI."""
    from .. import runs

    parsed = parse(source)
    if parsed.kind == "run":
        try:
            run_id = runs.resolve(store, str(parsed.run))
        except RunNotFound as e:
            raise ModelError(str(e)) from None
        rec = runs.load(store, run_id)
        assert rec.commit is not None
        found = store.lookup(store.commit_tree(rec.commit), f"models/{parsed.name}")
        if found is None or found[0] != MODE_TREE:
            raise ModelError(
                f"run {rec.info.get('name')} has no model {parsed.name!r}; see `gitml show {rec.info.get('name')}`"
            )
        facts: dict[str, Any] = {
            "source": f"runs:/{run_id}/{parsed.name}",
            "run_id": run_id,
            "made_by": {"user": rec.info.get("user"), "host": rec.info.get("host")},
        }
        return found[1], [rec.commit], facts
    if parsed.kind == "registry":
        mv = resolve_version(parsed, repo=None, store=store)
        entries = store.read_tree(store.commit_tree(mv.commit))
        entries.pop(VERSION_FILE, None)
        parents = [p.decode() for p in store.commit_info(mv.commit).parents]
        facts = {
            "source": mv.source,
            "run_id": mv.run_id,
            "made_by": {"user": mv.made_by[0], "host": mv.made_by[1]} if mv.made_by else None,
            "copied_from": mv.uri,
        }
        return store.add_tree(entries), parents, facts
    from ..client import dir_tree
    from .uri import resolve

    local = resolve(str(parsed.path)).path
    me, here = user_and_host()
    facts = {"source": "local directory", "run_id": None, "made_by": {"user": me, "host": here}}
    return dir_tree(store, local), [], facts


def _next_version(store: Store, name: str) -> int:
    versions = _versions(store, name)
    return max(versions, default=0) + 1


def _versions(store: Store, name: str) -> dict[int, str]:
    prefix = f"{MODELS_PREFIX}{name}/"
    out = {}
    for ref, commit in store.list_refs(prefix).items():
        tail = ref[len(prefix) :]
        if tail.isdigit():
            out[int(tail)] = commit
    return out


# ------------------------------------------------------------------ reading


def _read_version(
    store: Store, name: str, version: int, commit: str, aliases: tuple[str, ...] = ()
) -> ModelVersion:
    data = store.blob_at(store.commit_tree(commit), VERSION_FILE)
    info: dict[str, Any] = (yamlio.loads(data) if data else None) or {}
    made = info.get("made_by") or None
    reg = info.get("registered_by") or {}
    return ModelVersion(
        name=name,
        version=version,
        commit=commit,
        source=str(info.get("source") or "unknown"),
        run_id=info.get("run_id"),
        created=str(info.get("created") or ""),
        registered_by=f"{reg.get('user', '?')}@{reg.get('host', '?')}",
        made_by=(str(made.get("user") or ""), str(made.get("host") or ""))
        if isinstance(made, dict)
        else None,
        description=info.get("description"),
        flavors=tuple(info.get("flavors") or ()),
        aliases=aliases,
    )


def list_names(repo: str | None = None) -> list[str]:
    """Names of the registered models, sorted."""
    store = _store(repo)
    names = {ref[len(MODELS_PREFIX) :].rsplit("/", 1)[0] for ref in store.list_refs(MODELS_PREFIX)}
    return sorted(n for n in names if n)


def aliases(name: str, repo: str | None = None, store: Store | None = None) -> dict[str, int]:
    """Alias -> version number for model ``name``."""
    store = store or _store(repo)
    by_commit = {c: v for v, c in _versions(store, name).items()}
    prefix = f"{ALIASES_PREFIX}{name}/"
    out = {}
    for ref, commit in store.list_refs(prefix).items():
        if commit in by_commit:
            out[ref[len(prefix) :]] = by_commit[commit]
    return dict(sorted(out.items()))


def list_versions(name: str, repo: str | None = None) -> list[ModelVersion]:
    """All versions of ``name``, oldest first; an error if nothing is registered under it."""
    validate_name(name)
    store = _store(repo)
    versions = _versions(store, name)
    if not versions:
        raise ModelError(_unknown(store, name))
    alias_map = aliases(name, store=store)
    return [
        _read_version(store, name, v, c, tuple(a for a, av in alias_map.items() if av == v))
        for v, c in sorted(versions.items())
    ]


def _unknown(store: Store, name: str) -> str:
    known = sorted(
        {ref[len(MODELS_PREFIX) :].rsplit("/", 1)[0] for ref in store.list_refs(MODELS_PREFIX)}
    )
    hint = f" (registered: {', '.join(known)})" if known else " (none registered yet)"
    return f"no registered model {name!r}{hint}; register one with `gitml models register runs:/<run>/<model> {name}`"


def get_version(
    name: str, version: int | str, repo: str | None = None, store: Store | None = None
) -> ModelVersion:
    """Version ``version`` (a number or ``latest``) of ``name``."""
    validate_name(name)
    store = store or _store(repo)
    versions = _versions(store, name)
    if not versions:
        raise ModelError(_unknown(store, name))
    number = max(versions) if version == "latest" else _as_int(version)
    if number not in versions:
        raise ModelError(
            f"{name} has no version {version} (versions: {', '.join(map(str, sorted(versions)))})"
        )
    alias_map = aliases(name, store=store)
    return _read_version(
        store, name, number, versions[number], tuple(a for a, v in alias_map.items() if v == number)
    )


def _as_int(version: int | str) -> int:
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise ModelError(f"invalid version {version!r}: use a number or 'latest'") from None
    if number < 1:
        raise ModelError(f"invalid version {version!r}: versions start at 1")
    return number


def resolve_version(
    uri: ModelURI | str, repo: str | None = None, store: Store | None = None
) -> ModelVersion:
    """The version a ``models:/`` URI names (by number, ``latest`` or alias)."""
    parsed = parse(uri) if isinstance(uri, str) else uri
    if parsed.kind != "registry":
        raise ModelError(f"{uri} is not a models:/ URI")
    store = store or _store(repo)
    name = validate_name(parsed.name)
    if parsed.alias:
        commit = store.get_ref(_alias_ref(name, parsed.alias))
        if commit is None:
            known = aliases(name, store=store)
            listed = ", ".join(known) or "none"
            raise ModelError(
                f"{name} has no alias {parsed.alias!r} (aliases: {listed}); set one with `gitml models alias {name} {parsed.alias} VERSION`"
            )
        for version, c in _versions(store, name).items():
            if c == commit:
                return get_version(name, version, store=store)
        raise ModelError(
            f"alias {parsed.alias!r} of {name} points at a commit that is no version of {name}"
        )
    return get_version(name, str(parsed.version), store=store)


def export_version(mv: ModelVersion, dest: str, repo: str | None = None) -> str:
    """Write the model directory of a version (without version.yaml) to ``dest``."""
    store = _store(repo)
    for rel, mode, sha in store.walk_tree(store.commit_tree(mv.commit)):
        if rel == VERSION_FILE:
            continue
        export_file(store, sha, mode, os.path.join(dest, *rel.split("/")))
    return dest


# ------------------------------------------------------------------ aliases


def set_alias(name: str, alias: str, version: int | str, repo: str | None = None) -> ModelVersion:
    """Point ``alias`` of ``name`` at ``version`` (moving it if it pointed elsewhere)."""
    validate_alias(alias)
    store = _store(repo)
    mv = get_version(name, version, store=store)
    ref = _alias_ref(name, alias)
    for _attempt in range(MAX_ATTEMPTS):
        old = store.get_ref(ref)
        if old == mv.commit or store.cas_ref(ref, old, mv.commit):
            return get_version(name, mv.version, store=store)
    raise ModelError(f"alias {alias!r} of {name} keeps moving concurrently; retry")


def delete_alias(name: str, alias: str, repo: str | None = None) -> None:
    """Remove ``alias`` of ``name``; an error if it does not exist."""
    validate_name(name)
    validate_alias(alias)
    store = _store(repo)
    ref = _alias_ref(name, alias)
    old = store.get_ref(ref)
    if old is None:
        raise ModelError(
            f"{name} has no alias {alias!r} (aliases: {', '.join(aliases(name, store=store)) or 'none'})"
        )
    store.delete_ref(ref, old)
