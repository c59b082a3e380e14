"""The run record and its tree: the storage format of DESIGN.md (version 1) in code."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import yamlio
from .store import MODE_FILE, MODE_TREE, Store

FORMAT = 1
CHUNK = 10_000  # metric points per history chunk
RUN_REF = "refs/gitml/runs/"
STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")
FINAL_STATUSES = ("FINISHED", "FAILED", "KILLED")
INFO_ORDER = (
    "format", "id", "name", "experiment", "status", "lifecycle", "revision", "start_time",
    "end_time", "user", "host", "pid", "command", "exit_code", "description", "parent_run",
    "source", "environment",
)  # fmt: skip


def now_ms() -> int:
    return int(time.time() * 1000)


def iso(ms: int | None) -> str | None:
    """Milliseconds since the epoch → ``2026-11-26T20:00:00.123Z``."""
    if ms is None:
        return None
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_iso(text: str | None) -> int | None:
    if not text:
        return None
    dt = datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")
    return int(dt.timestamp() * 1000)


def format_value(v: float) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(float(v))


def parse_tsv(text: str) -> list[tuple[int, int, float]]:
    """A history chunk → [(step, timestamp, value)]."""
    points = []
    for line in text.splitlines()[1:]:
        if line:
            s, t, v = line.split("\t")
            points.append((int(s), int(t), float(v)))
    return points


TSV_HEADER = "step\ttimestamp\tvalue\n"
SUMMARY_FILES = ("run.yaml", "params.yaml", "metrics.yaml", "tags.yaml")


class TreeEditor:
    """A tree being edited: nested dicts loaded lazily from an existing tree id."""

    def __init__(self, store: Store, sha: str | None = None):
        self.store = store
        self.sha = sha  # None once modified (or for a new tree)
        self._entries: dict[str, Any] | None = None if sha else {}

    def _load(self) -> dict[str, Any]:
        if self._entries is None:
            assert self.sha is not None
            self._entries = {}
            for name, (mode, sha) in self.store.read_tree(self.sha).items():
                self._entries[name] = TreeEditor(self.store, sha) if mode == MODE_TREE else (mode, sha)
        return self._entries

    def get(self, path: str) -> Any:
        node: Any = self
        for part in path.split("/"):
            if not isinstance(node, TreeEditor):
                return None
            node = node._load().get(part)
            if node is None:
                return None
        return node

    def set(self, path: str, value: Any) -> None:
        """Set ``path`` to ``(mode, sha)``, to a tree id via ``(MODE_TREE, sha)``, or remove it (None)."""
        parts = path.split("/")
        node = self
        chain = [node]
        for part in parts[:-1]:
            entries = node._load()
            child = entries.get(part)
            if not isinstance(child, TreeEditor):
                if value is None:
                    return
                child = TreeEditor(self.store)
                entries[part] = child
            node = child
            chain.append(node)
        entries = node._load()
        if value is None:
            if entries.pop(parts[-1], None) is None:
                return
        elif value[0] == MODE_TREE:
            entries[parts[-1]] = TreeEditor(self.store, value[1])
        else:
            entries[parts[-1]] = value
        for n in chain:
            n.sha = None

    def write(self) -> str:
        if self.sha is not None:
            return self.sha
        entries = {}
        for name, value in self._load().items():
            if isinstance(value, TreeEditor):
                sha = value.write()
                if value._entries is not None and not value._entries:
                    continue  # drop empty subtrees
                entries[name] = (MODE_TREE, sha)
            else:
                entries[name] = value
        self.sha = self.store.add_tree(entries)
        return self.sha

    def files(self, prefix: str = "") -> list[tuple[str, int, str]]:
        out = []
        for name, value in sorted(self._load().items()):
            if isinstance(value, TreeEditor):
                out.extend(value.files(f"{prefix}{name}/"))
            else:
                out.append((f"{prefix}{name}", value[0], value[1]))
        return out


@dataclass
class RunRecord:
    """One version of a run: run.yaml, params, metric summaries, tags, and its tree."""

    info: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    tree: TreeEditor | None = None
    commit: str | None = None
    parents: list[str] = field(default_factory=list)
    _chunks: dict[str, list[str]] = field(default_factory=dict)  # key -> lines of last chunk

    @property
    def run_id(self) -> str:
        return str(self.info["id"])

    # -------------------------------------------------------------- reading
    @classmethod
    def load(cls, store: Store, commit: str) -> RunRecord:
        c = store.commit_info(commit)
        tree = c.tree.decode()
        files = store.read_tree(tree)

        def yaml_of(name: str) -> Any:
            entry = files.get(name)
            return yamlio.loads(store.read_blob(entry[1])) if entry else None

        return cls(
            info=yaml_of("run.yaml") or {},
            params=yaml_of("params.yaml") or {},
            metrics=_metrics_of(store, files.get("metrics.yaml")),
            tags={str(k): str(v) for k, v in (yaml_of("tags.yaml") or {}).items()},
            tree=TreeEditor(store, tree),
            commit=commit,
            parents=[p.decode() for p in c.parents],
        )

    @classmethod
    def from_documents(cls, commit: str, docs: dict[str, bytes]) -> RunRecord:
        """A record (without its tree) from the four YAML files of a run commit."""

        def yaml_of(name: str) -> Any:
            data = docs.get(name)
            return yamlio.loads(data) if data is not None else None

        metrics = docs.get("metrics.yaml")
        fast = parse_metrics_summary(metrics) if metrics is not None else {}
        return cls(
            info=yaml_of("run.yaml") or {},
            params=yaml_of("params.yaml") or {},
            metrics=fast if fast is not None else (yaml_of("metrics.yaml") or {}),
            tags={str(k): str(v) for k, v in (yaml_of("tags.yaml") or {}).items()},
            commit=commit,
        )

    def summary(self) -> dict[str, Any]:
        """The listing summary of this version (what the index cache stores)."""
        s = {k: self.info.get(k) for k in INFO_ORDER if k not in ("format", "id", "environment")}
        s["run_id"] = self.run_id
        s["params"] = self.params
        s["metrics"] = self.metrics
        s["tags"] = self.tags
        s["commit"] = self.commit
        return s

    def history(self, store: Store, key: str) -> list[tuple[int, int, float]]:
        assert self.tree is not None
        node = self.tree.get(f"metrics/{key}")
        if not isinstance(node, TreeEditor):
            return []
        points: list[tuple[int, int, float]] = []
        n = 0
        while True:
            entry = node.get(f"@{n}.tsv")
            if not isinstance(entry, tuple):
                break
            points.extend(parse_tsv(store.read_blob(entry[1]).decode()))
            n += 1
        return points

    # -------------------------------------------------------------- writing
    def add_points(self, store: Store, key: str, points: list[tuple[int, int, float]]) -> None:
        """Append metric points: history chunk and summary."""
        assert self.tree is not None
        summ = self.metrics.get(key)
        count = summ["count"] if summ else 0
        lines = self._chunks.get(key)
        if lines is None:
            lines = []
            if count % CHUNK:
                entry = self.tree.get(f"metrics/{key}/@{count // CHUNK}.tsv")
                if isinstance(entry, tuple):
                    lines = store.read_blob(entry[1]).decode().splitlines(keepends=True)[1:]
        if not points:
            return
        touched = False  # whether ``lines`` holds points not written yet
        for step, ts, value in points:
            if count and count % CHUNK == 0:
                # the current chunk is full; write it only if this call added to it (a
                # chunk loaded from an existing run at the boundary is already complete)
                if touched:
                    self._write_chunk(store, key, count - 1, lines)
                lines = []
            lines.append(f"{step}\t{ts}\t{format_value(value)}\n")
            touched = True
            count += 1
            summ = _update_summary(summ, step, ts, value)
        self._chunks[key] = lines
        self._write_chunk(store, key, count - 1, lines)
        self.metrics[key] = summ  # type: ignore[assignment]

    def _write_chunk(self, store: Store, key: str, last_index: int, lines: list[str]) -> None:
        assert self.tree is not None
        sha = store.add_blob((TSV_HEADER + "".join(lines)).encode())
        self.tree.set(f"metrics/{key}/@{last_index // CHUNK}.tsv", (MODE_FILE, sha))

    def write(self, store: Store, message_extra: str = "") -> str:
        """Write this version as a new commit (revision already set) and return its id."""
        assert self.tree is not None
        info = {k: self.info[k] for k in INFO_ORDER if k in self.info}
        info.update({k: v for k, v in self.info.items() if k not in info})
        self.tree.set("run.yaml", (MODE_FILE, store.add_blob(yamlio.dumps(info).encode())))
        for name, data in (("params.yaml", self.params), ("metrics.yaml", self.metrics),
                           ("tags.yaml", self.tags)):  # fmt: skip
            self.tree.set(name, (MODE_FILE, store.add_blob(yamlio.dumps(data).encode())))
        tree = self.tree.write()
        start = parse_iso(info.get("start_time")) or now_ms()
        self.commit = store.add_commit(
            tree, self.parents, self.message(), start / 1000, time.time()
        )
        return self.commit

    def message(self) -> str:
        i = self.info
        lines = [f"gitml: {i.get('name')} {i.get('status')}", ""]
        lines.append(f"run {i.get('id')} in experiment {i.get('experiment')!r}")
        lines.append(f"revision {i.get('revision')}, started {i.get('start_time')}")
        if i.get("end_time"):
            lines.append(f"ended {i.get('end_time')}")
        if i.get("command"):
            lines.append("command: " + " ".join(str(a) for a in i["command"]))
        if i.get("exit_code") is not None:
            lines.append(f"exit code {i['exit_code']}")
        if self.params:
            lines.append(f"{len(self.params)} param(s), {len(self.metrics)} metric(s), {len(self.tags)} tag(s)")
        return "\n".join(lines) + "\n"


_SUMMARY_INTS = ("count", "step", "timestamp")
_SUMMARY_FLOATS = ("last", "max", "min")
_SPECIAL = {".nan": math.nan, ".inf": math.inf, "-.inf": -math.inf}


def _metrics_of(store: Store, entry: tuple[int, str] | None) -> dict[str, dict[str, Any]]:
    if entry is None:
        return {}
    data = store.read_blob(entry[1])
    fast = parse_metrics_summary(data)
    return fast if fast is not None else (yamlio.loads(data) or {})


def parse_metrics_summary(data: bytes) -> dict[str, dict[str, Any]] | None:
    """``metrics.yaml`` as gitml writes it, without a YAML parser; None if it is not.

    Listing reads one per run, and this fast path parses it several times faster than
    PyYAML: a two-level mapping, keys in block style, numbers as :mod:`yamlio` writes
    them. Anything else (quoted keys, another layout) returns None and YAML reads it.
    """
    text = data.decode("utf-8", errors="replace")
    if text.strip() == "{}":
        return {}
    out: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    for line in text.splitlines():
        if not line.startswith("  "):
            key = line[:-1]
            if not line.endswith(":") or not key or key[0] in "'\"{[&*!|>%@`#?-" or ": " in key:
                return None
            current = out[key] = {}
            continue
        field, sep, value = line[2:].partition(": ")
        if current is None or not sep:
            return None
        try:
            if field in _SUMMARY_INTS:
                current[field] = int(value)
            elif field in _SUMMARY_FLOATS:
                current[field] = _SPECIAL[value] if value in _SPECIAL else float(value)
            else:
                return None
        except ValueError:
            return None
    if any(len(summary) != 6 for summary in out.values()):
        return None
    return out


def _update_summary(summ: dict[str, Any] | None, step: int, ts: int, value: float) -> dict[str, Any]:
    if summ is None:
        return {"last": value, "step": step, "timestamp": ts, "min": value, "max": value, "count": 1}
    summ = dict(summ)
    if (step, ts) >= (summ["step"], summ["timestamp"]):
        summ.update(last=value, step=step, timestamp=ts)
    if not math.isnan(value):
        if math.isnan(summ["min"]) or value < summ["min"]:
            summ["min"] = value
        if math.isnan(summ["max"]) or value > summ["max"]:
            summ["max"] = value
    summ["count"] += 1
    return summ
