"""Runs: create, write (compare-and-swap with merge), read, list, resolve, rename, delete."""

from __future__ import annotations

import math
import os
import platform
import random
import sys
import threading
import uuid
from collections.abc import Iterable
from typing import Any

from . import __version__, index, keys
from .errors import AmbiguousRun, InvalidValue, ParamConflict, RunNotFound, StoreError
from .record import FINAL_STATUSES, RUN_REF, RunRecord, TreeEditor, iso, now_ms
from .store import MODE_TREE, Store, user_and_host

_ADJECTIVES = (
    "able bold brave bright calm clever cool crisp curious daring eager fair fast fierce fond "
    "gentle glad grand happy honest jolly keen kind lively lucky merry mighty neat nimble noble "
    "plucky polite proud quick quiet rapid ready shy silent sleek smart snappy solid spry steady "
    "sunny swift tidy vivid warm wise witty young zesty"
).split()
_NOUNS = (
    "ant ape bass bat bear bee bison boar cat cod colt crab crane crow deer dove duck eagle eel "
    "elk finch fox frog gnu goat hare hawk heron ibis jay koala lark lion lynx mole moth newt "
    "owl ox panda pike puma quail ram robin seal shrew snail stork swan tapir tern toad trout "
    "wasp whale wolf wren yak zebra"
).split()

PACKAGES_OF_INTEREST = (
    "numpy", "pandas", "sklearn", "scipy", "torch", "tensorflow", "jax", "xgboost", "lightgbm",
    "catboost", "transformers", "keras",
)  # fmt: skip


def run_ref(run_id: str) -> str:
    return RUN_REF + run_id


def new_run_id() -> str:
    return uuid.uuid4().hex


_known_names: dict[str, set[str]] = {}  # repository (common dir) -> names of its runs


def generate_name(store: Store) -> str:
    """A fresh ``adjective-noun-N`` name that no run of the repository has."""
    known = _known_names.get(store.commondir)
    if known is None:
        known = _known_names[store.commondir] = {str(s.get("name")) for s in index.summaries(store)}
    rng = random.SystemRandom()
    while True:
        name = f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}-{rng.randint(1, 999)}"
        if name not in known:
            known.add(name)
            return name


def environment() -> dict[str, Any]:
    """Python, platform, gitml version and the versions of ML packages already imported."""
    packages = {}
    for name in PACKAGES_OF_INTEREST:
        module = sys.modules.get(name)
        version = getattr(module, "__version__", None) if module else None
        if isinstance(version, str):
            packages["scikit-learn" if name == "sklearn" else name] = version
    return {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "gitml": __version__,
        "packages": packages,
    }


def capture_source(store: Store, code: bool = True) -> tuple[dict[str, Any], str | None]:
    """The run's ``source`` facts and the ``code`` snapshot tree id (None without one)."""
    head, branch = store.head()
    source: dict[str, Any] = {
        "commit": head,
        "branch": branch,
        "remote_url": store.remote_url(branch),
        "dirty": False,
        "skipped": [],
    }
    tree = None
    if code and store.root is not None:
        snap = store.snapshot()
        tree, source["dirty"], source["skipped"] = snap.tree, snap.dirty, snap.skipped
    return source, tree


class RunWriter:
    """Writes one run: buffers changes and commits them with compare-and-swap and merge.

    ``owner`` writers (the process that created the run) set its final status; attached
    writers log into it but never end it. Every flush re-reads the ref; when another
    writer moved it, the pending changes are applied on top of that version.
    """

    def __init__(self, store: Store, record: RunRecord, owner: bool, created: bool = False):
        self.store = store
        self.record = record
        self.owner = owner
        self._exists = not created
        self._stale = False
        self.lock = threading.RLock()
        self.params: dict[str, Any] = {}
        self.tags: dict[str, str | None] = {}
        self.points: dict[str, list[tuple[int, int, float]]] = {}
        self.entries: list[tuple[str, tuple[int, str] | None]] = []
        self.info: dict[str, Any] = {}
        self.npoints = 0
        self.last_flush = 0.0

    @property
    def run_id(self) -> str:
        return self.record.run_id

    # ------------------------------------------------------------ buffering
    def log_params(self, params: dict[str, Any]) -> None:
        check_params(params)
        with self.lock:
            for key, value in params.items():
                old = self.params.get(key, self.record.params.get(key, _MISSING))
                if old is not _MISSING and not _same(old, value):
                    raise ParamConflict(
                        f"param {key!r} was already logged as {old!r}, cannot change it to "
                        f"{value!r}; params are fixed once logged: use a new run or a tag"
                    )
            self.params.update(params)

    def log_metric(self, key: str, value: Any, step: int = 0, timestamp: int | None = None) -> None:
        value, step = check_metric(key, value, step)
        ts = now_ms() if timestamp is None else int(timestamp)
        with self.lock:
            self.points.setdefault(key, []).append((step, ts, value))
            self.npoints += 1

    def set_tags(self, tags: dict[str, Any]) -> None:
        clean = {keys.validate_key(k, "tag key"): str(v) for k, v in tags.items()}
        with self.lock:
            self.tags.update(clean)

    def delete_tag(self, key: str) -> None:
        with self.lock:
            self.tags[keys.validate_key(key, "tag key")] = None

    def set_entry(self, path: str, value: tuple[int, str] | None) -> None:
        """Set a tree entry (file or subtree) of the run, e.g. ``artifacts/x.png``."""
        with self.lock:
            self.entries.append((path, value))

    def set_info(self, **fields: Any) -> None:
        with self.lock:
            self.info.update(fields)

    def view(self) -> RunRecord:
        """The run as it would be after the pending changes (for reads by this process)."""
        with self.lock:
            self.flush()
            return self.record

    @property
    def pending(self) -> bool:
        return bool(self.params or self.tags or self.points or self.entries or self.info) or not self._exists

    # ------------------------------------------------------------ writing
    def flush(self, force: bool = False) -> str | None:
        """Commit the pending changes; returns the run's commit id."""
        import time

        with self.lock:
            if not self.pending and not force:
                return self.record.commit
            ref = run_ref(self.run_id)
            for _attempt in range(200):
                current = self.store.get_ref(ref) if self._exists else None
                if self._exists and current is None:
                    raise RunNotFound(
                        f"run {self.run_id} was removed from this repository while it was written"
                    )
                if self._stale or (current is not None and current != self.record.commit):
                    self.record = RunRecord.load(self.store, current)  # type: ignore[arg-type]
                    self._stale = False
                rec = self.record
                with self.store.batch():  # one pack, not a file per object
                    self._apply(rec)
                    rec.info["revision"] = int(rec.info.get("revision") or 0) + 1
                    new = rec.write(self.store)
                if self.store.cas_ref(ref, current, new):
                    self._clear()
                    self._exists = True
                    self.last_flush = time.monotonic()
                    return new
                self._stale = True
                self._exists = True
                time.sleep(random.random() * 0.01)
            raise StoreError(f"could not write run {self.run_id}: too many concurrent writers")

    def _apply(self, rec: RunRecord) -> None:
        assert rec.tree is not None
        for key, value in self.params.items():
            rec.params.setdefault(key, value)
        for key, value in self.tags.items():
            if value is None:
                rec.tags.pop(key, None)
            else:
                rec.tags[key] = value
        for key, points in self.points.items():
            rec.add_points(self.store, key, points)
        for path, value in self.entries:
            rec.tree.set(path, value)
        rec.info.update(self.info)

    def _clear(self) -> None:
        self.params, self.tags, self.points, self.entries, self.info = {}, {}, {}, [], {}
        self.npoints = 0


_MISSING = object()


def check_params(params: dict[str, Any]) -> None:
    """Raise InvalidKey/InvalidValue for a bad param key or a value YAML cannot keep."""
    for key, value in params.items():
        keys.validate_key(key, "param key")
        _check_param_value(key, value)


def check_metric(key: str, value: Any, step: Any = 0) -> tuple[float, int]:
    """The point's (value, step) as stored; InvalidKey/InvalidValue for bad input."""
    keys.validate_key(key, "metric key")
    number = _metric_value(key, value)
    if isinstance(step, bool) or not isinstance(step, int):
        try:
            step = int(step)
        except (TypeError, ValueError):
            raise InvalidValue(f"metric {key!r}: step must be an integer, got {step!r}") from None
    return number, step


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b and type(a) is type(b)) or (
        isinstance(a, (int, float)) and isinstance(b, (int, float))
        and not isinstance(a, bool) and not isinstance(b, bool) and a == b
    )  # fmt: skip


def _check_param_value(key: str, value: Any) -> None:
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            _check_param_value(key, v)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise InvalidValue(f"param {key!r}: nested keys must be strings, got {k!r}")
            _check_param_value(key, v)
        return
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return
    raise InvalidValue(
        f"param {key!r}: value {value!r} of type {type(value).__name__} is not a YAML value "
        "(use a str, number, bool, null, list or mapping)"
    )


def native(value: Any) -> Any:
    """numpy scalars/tuples → plain Python values for YAML."""
    if isinstance(value, tuple):
        return [native(v) for v in value]
    if isinstance(value, list):
        return [native(v) for v in value]
    if isinstance(value, dict):
        return {k: native(v) for k, v in value.items()}
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return value.item()
    return value


def _metric_value(key: str, value: Any) -> float:
    if isinstance(value, bool) or isinstance(value, (str, bytes)):
        raise InvalidValue(f"metric {key!r}: value {value!r} is not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidValue(f"metric {key!r}: value {value!r} is not a number") from None


# ---------------------------------------------------------------- creating
def create(
    store: Store,
    *,
    experiment: str = "Default",
    name: str | None = None,
    tags: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    description: str | None = None,
    parent_run: str | None = None,
    command: list[str] | None = None,
    code: bool = True,
    start_time: int | None = None,
    pid: int | None = None,
    owner: bool = True,
) -> RunWriter:
    """Create a run (not written yet: call ``flush``). Validates everything first."""
    keys.validate_experiment(experiment)
    if name is not None:
        keys.validate_name(name)
    for k in tags or {}:
        keys.validate_key(k, "tag key")
    user, host = user_and_host()
    run_id = new_run_id()
    source, code_tree = capture_source(store, code=code)
    info: dict[str, Any] = {
        "format": 1,
        "id": run_id,
        "name": name or generate_name(store),
        "experiment": experiment,
        "status": "RUNNING",
        "lifecycle": "active",
        "revision": 0,
        "start_time": iso(start_time or now_ms()),
        "end_time": None,
        "user": user,
        "host": host,
        "pid": pid if pid is not None else os.getpid(),
        "command": command,
        "exit_code": None,
        "description": description,
        "parent_run": parent_run,
        "source": source,
        "environment": environment(),
    }
    tree = TreeEditor(store)
    if code_tree:
        tree.set("code", (MODE_TREE, code_tree))
    record = RunRecord(info=info, tree=tree, parents=[source["commit"]] if source["commit"] else [])
    writer = RunWriter(store, record, owner=owner, created=True)
    if params:
        writer.log_params(native(params))
    if tags:
        writer.set_tags(tags)
    return writer


def open_writer(store: Store, run_id: str, owner: bool = False) -> RunWriter:
    """A writer for an existing run (attached unless ``owner``)."""
    commit = store.get_ref(run_ref(run_id))
    if commit is None:
        raise RunNotFound(f"no run {run_id}; run `gitml ls` to see the runs")
    return RunWriter(store, RunRecord.load(store, commit), owner=owner)


# ---------------------------------------------------------------- reading
def load(store: Store, run_id: str) -> RunRecord:
    commit = store.get_ref(run_ref(run_id))
    if commit is None:
        raise RunNotFound(f"no run {run_id}; run `gitml ls` to see the runs")
    return RunRecord.load(store, commit)


def list_summaries(
    store: Store,
    experiment: str | Iterable[str] | None = None,
    include_deleted: bool = False,
) -> list[dict[str, Any]]:
    """Summaries of the runs (newest first), optionally of some experiments only."""
    wanted = {experiment} if isinstance(experiment, str) else set(experiment) if experiment else None
    out = [
        s for s in index.summaries(store)
        if (include_deleted or s.get("lifecycle") != "deleted")
        and (wanted is None or s.get("experiment") in wanted)
    ]  # fmt: skip
    out.sort(key=lambda s: (s.get("start_time") or "", s["run_id"]), reverse=True)
    return out


def resolve(store: Store, text: str, summaries: list[dict[str, Any]] | None = None) -> str:
    """A run id from an id, a unique id prefix (≥ 4 characters) or a name.

    ``summaries`` (from ``index.summaries``) saves a listing when resolving several runs.
    """
    text = text.strip()
    if keys.is_run_id(text) and store.get_ref(run_ref(text)):
        return text
    candidates = _matches(index.summaries(store) if summaries is None else summaries, text)
    if len(candidates) == 1:
        return str(candidates[0]["run_id"])
    if not candidates:
        hint = " (a prefix needs at least 4 characters)" if len(text) < 4 else ""
        raise RunNotFound(f"no run matches {text!r}{hint}; run `gitml ls` to see run ids and names")
    listed = ", ".join(f"{c['run_id'][:8]} {c.get('name')} ({c.get('start_time')})" for c in candidates[:10])
    more = f" and {len(candidates) - 10} more" if len(candidates) > 10 else ""
    raise AmbiguousRun(
        f"{text!r} matches {len(candidates)} runs: {listed}{more}; "
        + ("name one by an id prefix" if any(c.get("name") == text for c in candidates)
           else "use a longer id prefix")  # fmt: skip
    )


def _matches(summaries: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    by_name = [s for s in summaries if s.get("name") == text]
    by_id = [s for s in summaries if keys.is_hex_prefix(text) and s["run_id"].startswith(text)]
    seen: dict[str, dict[str, Any]] = {}
    for s in by_id + by_name:
        seen[s["run_id"]] = s
    return sorted(seen.values(), key=lambda s: s.get("start_time") or "")


def is_stale(summary: dict[str, Any]) -> bool:
    """A RUNNING run whose recorded process on this host is gone."""
    if summary.get("status") != "RUNNING":
        return False
    pid = summary.get("pid")
    if not pid or summary.get("host") != user_and_host()[1]:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


# ---------------------------------------------------------------- managing
def set_status(store: Store, run_id: str, status: str, exit_code: int | None = None) -> None:
    if status not in FINAL_STATUSES + ("RUNNING",):
        raise InvalidValue(f"unknown status {status!r}; use one of RUNNING, FINISHED, FAILED, KILLED")
    w = open_writer(store, run_id, owner=True)
    fields: dict[str, Any] = {"status": status, "end_time": iso(now_ms()) if status != "RUNNING" else None}
    if exit_code is not None:
        fields["exit_code"] = exit_code
    w.set_info(**fields)
    w.flush()


def rename(store: Store, run_id: str, name: str) -> None:
    keys.validate_name(name)
    w = open_writer(store, run_id)
    w.set_info(name=name)
    w.flush()


def set_lifecycle(store: Store, run_id: str, lifecycle: str) -> None:
    w = open_writer(store, run_id)
    w.set_info(lifecycle=lifecycle)
    w.flush()
