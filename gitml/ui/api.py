"""The read-only JSON API of ``gitml ui``: listing, run detail, histories, files, comparisons.

Every function takes an open ``Store`` and returns JSON-ready data; HTTP lives in
``gitml.ui.server``. Filtering and sorting are ``gitml.query``'s, run descriptions are
``gitml.show``'s and differences ``gitml.diff``'s.
"""

from __future__ import annotations

import json
import math
import mimetypes
import posixpath
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import diff, index, keys, query, runs, show, yamlio
from ..errors import InvalidValue, RunNotFound, StoreError
from ..record import RUN_REF, parse_iso
from ..store import MODE_TREE, Store, parse_lfs_pointer, read_file_content

SIDE_FIELDS = ("run_id", "name", "experiment", "status", "stale", "start_time", "end_time",
               "duration", "baseline")  # fmt: skip
DEFAULT_LIMIT = 100
MAX_LIMIT = 5000
LOG_LINES = 2000  # last lines of output.log in a run's detail
MAX_PATCH = 2_000_000  # characters of a code diff sent to the browser
SNIFF = 8000  # bytes looked at to tell text from binary
IMAGE_TYPES = {"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "avif"}
TEXT_TYPES = {
    "txt", "log", "md", "rst", "csv", "tsv", "yaml", "yml", "json", "jsonl", "toml", "ini",
    "cfg", "py", "sh", "r", "sql", "xml", "html", "htm", "js", "css", "tex", "ipynb",
    "mlmodel", "conf", "properties", "",
}  # fmt: skip
TEXT_CONTENT_TYPES = {"yaml": "text/yaml", "yml": "text/yaml", "md": "text/markdown",
                      "csv": "text/csv", "tsv": "text/tab-separated-values"}  # fmt: skip


# --------------------------------------------------------------------------- JSON


def _finite(value: Any) -> Any:
    """Non-finite floats as the strings ``NaN``, ``Infinity``, ``-Infinity`` (JSON has none)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def to_json(data: Any) -> bytes:
    """Strict JSON bytes of API data (non-finite floats spelled as strings)."""
    try:
        text = json.dumps(data, allow_nan=False, separators=(",", ":"), default=str)
    except ValueError:
        text = json.dumps(_finite(data), allow_nan=False, separators=(",", ":"), default=str)
    return text.encode()


# --------------------------------------------------------------------------- listing


class SummaryCache:
    """The run summaries of a repository, read again only when a run ref has moved.

    The index cache already avoids reading run objects; this also skips re-reading its
    JSON file while nothing changed (a server answers many listings between two writes).
    """

    def __init__(self) -> None:
        self._refs: dict[str, str] | None = None
        self._summaries: list[dict[str, Any]] = []

    def get(self, store: Store) -> list[dict[str, Any]]:
        """Every run's summary, deleted ones included."""
        refs = store.list_refs(RUN_REF)
        if refs != self._refs:
            self._summaries = index.summaries(store)
            self._refs = refs
        return self._summaries


def listing(
    store: Store,
    *,
    experiment: Sequence[str] = (),
    filter: str | None = None,
    sort: Sequence[str] = (),
    offset: int = 0,
    limit: int = DEFAULT_LIMIT,
    deleted: bool = False,
    cache: SummaryCache | None = None,
) -> dict[str, Any]:
    """One page of the runs table.

    Args:
        store: the repository.
        experiment: keep runs of these experiments (empty: all).
        filter: a filter in ``gitml ls``'s grammar.
        sort: ordering clauses (``metrics.acc DESC``, ``-params.lr``); newest first by default.
        offset: index of the first run of the page.
        limit: runs per page (1 to 5000).
        deleted: include deleted runs.
        cache: summaries kept between calls (a server keeps one).

    Returns:
        ``{"total", "offset", "limit", "runs": [row], "columns": {"params", "metrics",
        "tags"}, "experiments": [{"name", "runs"}]}``; the columns are those of every
        matching run, not only of the page.

    Raises:
        FilterError: a malformed filter or sort clause.
        InvalidValue: a bad offset or limit.
    """
    if offset < 0:
        raise InvalidValue(f"invalid offset {offset}: use a number >= 0")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidValue(f"invalid limit {limit}: use a number from 1 to {MAX_LIMIT}")
    predicate, ordering = query.parse_filter(filter or None), query.parse_order_by(list(sort))
    every = (cache or SummaryCache()).get(store)
    summaries = every if deleted else [s for s in every if s.get("lifecycle") != "deleted"]
    counts = Counter(str(s.get("experiment")) for s in summaries)
    found = query.select(summaries, predicate, ordering, None, list(experiment) or None)
    fields = query.data_fields(found, ["params.*", "metrics.*", "tags.*"])
    columns: dict[str, list[str]] = {"params": [], "metrics": [], "tags": []}
    for field in fields:
        columns[field.entity].append(field.key)
    return {
        "total": len(found),
        "offset": offset,
        "limit": limit,
        "runs": [run_row(s) for s in found[offset : offset + limit]],
        "columns": columns,
        "experiments": [{"name": name, "runs": n} for name, n in sorted(counts.items())],
    }


def run_row(summary: Mapping[str, Any]) -> dict[str, Any]:
    """A run as a row of the table: identity, status, times, flat params, last metric values."""
    source = summary.get("source") or {}
    start, end = parse_iso(summary.get("start_time")), parse_iso(summary.get("end_time"))
    metrics = summary.get("metrics") or {}
    return {
        "run_id": summary.get("run_id"),
        "name": summary.get("name"),
        "experiment": summary.get("experiment"),
        "status": summary.get("status"),
        "stale": summary.get("status") == "RUNNING" and runs.is_stale(dict(summary)),
        "lifecycle": summary.get("lifecycle"),
        "start_time": summary.get("start_time"),
        "end_time": summary.get("end_time"),
        "duration": (end - start) / 1000 if start is not None and end is not None else None,
        "user": summary.get("user"),
        "parent_run": summary.get("parent_run"),
        "baseline": {
            "commit": source.get("commit"),
            "branch": source.get("branch"),
            "dirty": bool(source.get("dirty")),
        },
        "params": query.flatten(summary.get("params") or {}),
        "metrics": {k: (v.get("last") if isinstance(v, dict) else v) for k, v in metrics.items()},
        "tags": summary.get("tags") or {},
    }


# --------------------------------------------------------------------------- one run


def resolve(store: Store, text: str) -> str:
    """A run id from an id, unique prefix or name (RunNotFound/AmbiguousRun otherwise)."""
    return runs.resolve(store, text)


def run_detail(
    store: Store, run: str, cache: SummaryCache | None = None
) -> dict[str, Any]:
    """Everything the run page shows: ``gitml show``'s description plus file kinds,
    flat params, model signatures, the child runs and the last lines of the output log.
    """
    info = show.describe(store, run, log_lines=LOG_LINES)
    summaries = (cache or SummaryCache()).get(store)
    info["children"] = sorted(
        (
            {k: row[k] for k in ("run_id", "name", "status", "stale", "start_time")}
            for row in map(run_row, summaries)
            if row["parent_run"] == info["id"] and row["lifecycle"] != "deleted"
        ),
        key=lambda row: (row["start_time"] or "", row["run_id"]),
    )
    rec = runs.load(store, info["id"])
    tree = store.commit_tree(rec.commit)  # type: ignore[arg-type]
    info["params_flat"] = query.flatten(rec.params)
    info["stale"] = runs.is_stale(rec.summary())
    for entry in info["artifacts"]:
        entry["kind"] = _kind(store, tree, f"artifacts/{entry['path']}")
    for model in info["models"]:
        model.update(_model_manifest(store, tree, model["name"]))
    info["environment"] = rec.info.get("environment")
    return info


def _model_manifest(store: Store, tree: str, name: str) -> dict[str, Any]:
    """Signature, creation time and flavor details of ``models/<name>/MLmodel``."""
    data = store.blob_at(tree, f"models/{name}/MLmodel")
    try:
        manifest = yamlio.loads(data) if data else None
    except Exception:  # noqa: BLE001 - an unreadable manifest is shown as missing
        manifest = None
    if not isinstance(manifest, dict):
        return {"signature": None, "created": None, "input_example": None}
    signature = manifest.get("signature")
    if isinstance(signature, dict):
        signature = {k: _json_field(signature.get(k)) for k in ("inputs", "outputs", "params")}
    example = manifest.get("saved_input_example_info")
    return {
        "signature": signature if isinstance(signature, dict) else None,
        "created": manifest.get("utc_time_created"),
        "input_example": example.get("artifact_path") if isinstance(example, dict) else None,
        "flavor_details": {
            flavor: {k: v for k, v in conf.items() if k != "env"}
            for flavor, conf in (manifest.get("flavors") or {}).items()
            if isinstance(conf, dict)
        },
    }


def _json_field(value: Any) -> Any:
    """MLmodel keeps schemas as JSON text; decode them (None stays None)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _kind(store: Store, tree: str, path: str) -> str:
    """``image``, ``text`` or ``binary``: how the run page shows a file."""
    ext = posixpath.splitext(path)[1].lower().lstrip(".")
    if posixpath.basename(path) == "MLmodel":
        return "text"
    if ext in IMAGE_TYPES:
        return "image"
    found = store.lookup(tree, path)
    if found is None or found[0] == MODE_TREE:
        return "binary"
    head = store.read_blob(found[1])[:SNIFF]
    if parse_lfs_pointer(head) is not None:
        return "text" if ext in TEXT_TYPES and ext else "binary"
    if b"\0" in head:
        return "binary"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the sniff boundary
            return "binary"
    return "text"


def metric_history(
    store: Store, run: str, key: str, max_points: int | None = None
) -> dict[str, Any]:
    """A metric's history: ``steps``, ``timestamps`` and ``values`` (null where not finite).

    With ``max_points``, a longer history is cut into ``max_points // 2`` runs of
    consecutive points and each keeps its lowest and highest point (in step order), so a
    chart of a million points keeps every spike; ``count`` stays the full count and
    ``sampled`` says how many points were sent.

    Raises:
        RunNotFound: no such run, or the run has no such metric.
        InvalidValue: ``max_points`` under 2.
    """
    if max_points is not None and max_points < 2:
        raise InvalidValue(f"invalid max_points {max_points}: use a number >= 2")
    rec = runs.load(store, runs.resolve(store, run))
    if key not in rec.metrics:
        raise RunNotFound(
            f"run {rec.info.get('name')} has no metric {key!r}; it has: "
            + (", ".join(sorted(rec.metrics)) or "none")
        )
    points = rec.history(store, key)
    points.sort(key=lambda p: (p[0], p[1]))
    count = len(points)
    out: dict[str, Any] = {"run_id": rec.run_id, "key": key, "count": count}
    if max_points is not None and count > max_points:
        kept = _min_max_buckets(count, [p[2] for p in points], max_points // 2)
        points = [points[i] for i in kept]
        out["positions"] = kept  # where each sent point sits in the whole history
    out.update({
        "sampled": len(points),
        "steps": [p[0] for p in points],
        "timestamps": [p[1] for p in points],
        "values": [p[2] if math.isfinite(p[2]) else None for p in points],
    })  # fmt: skip
    return out


def _min_max_buckets(count: int, values: list[float], buckets: int) -> list[int]:
    """Positions of the lowest and highest finite value of each of ``buckets`` slices."""
    kept: list[int] = []
    for b in range(buckets):
        start, end = b * count // buckets, (b + 1) * count // buckets
        finite = [i for i in range(start, end) if math.isfinite(values[i])] or [start]
        low = min(finite, key=values.__getitem__)
        high = max(finite, key=values.__getitem__)
        kept.extend(sorted({low, high}))
    return kept


@dataclass
class File:
    """A stored file's bytes and how to serve them."""

    data: bytes
    content_type: str
    name: str


def run_file(store: Store, run: str, path: str, top: str = "artifacts") -> File | None:
    """A file under ``artifacts/`` (or ``models/``) of a run; None when there is no such file.

    Raises:
        ArtifactError: a path that would escape the run's folder.
        RunNotFound, AmbiguousRun: no such run, or several.
    """
    clean = keys.artifact_path(path)
    if top not in ("artifacts", "models") or not clean:
        return None
    rec = runs.load(store, runs.resolve(store, run))
    tree = store.commit_tree(rec.commit)  # type: ignore[arg-type]
    found = store.lookup(tree, f"{top}/{clean}")
    if found is None or found[0] == MODE_TREE:
        return None
    try:
        data = read_file_content(store, found[1])
    except StoreError:
        return None  # an LFS object this clone does not have
    return File(data, content_type(clean, data), posixpath.basename(clean))


def content_type(path: str, data: bytes) -> str:
    """The Content-Type of a file: by extension, text as UTF-8, unknown binary as octet-stream."""
    ext = posixpath.splitext(path)[1].lower().lstrip(".")
    if ext in TEXT_CONTENT_TYPES:
        return TEXT_CONTENT_TYPES[ext] + "; charset=utf-8"
    guessed = mimetypes.guess_type(path, strict=False)[0]
    if guessed == "image/svg+xml" or (
        guessed and guessed.startswith(("image/", "audio/", "video/"))
    ):
        return guessed
    if guessed == "application/json":
        return "application/json; charset=utf-8"
    if guessed and guessed.startswith("text/"):
        return guessed + "; charset=utf-8"
    if guessed:
        return guessed
    if b"\0" not in data[:SNIFF]:
        try:
            data[:SNIFF].decode("utf-8")
            return "text/plain; charset=utf-8"
        except UnicodeDecodeError:
            pass
    return "application/octet-stream"


def output_log(store: Store, run: str) -> str | None:
    """The run's whole ``output.log`` (None without one)."""
    return show.describe(store, run, log_lines=None)["log"]  # type: ignore[no-any-return]


def baseline_diff(store: Store, run: str) -> dict[str, Any]:
    """The run's code snapshot against its baseline commit, with the unified patch.

    Returns:
        ``diff.compare_code``'s result plus ``baseline`` (commit id or None), ``notes``
        and ``patch_cut`` when the patch was cut to ``MAX_PATCH`` characters.
    """
    rec = runs.load(store, runs.resolve(store, run))
    tree = store.commit_tree(rec.commit)  # type: ignore[arg-type]
    code = store.lookup(tree, "code")
    code_tree = code[1] if code and code[0] == MODE_TREE else None
    source = rec.info.get("source") or {}
    baseline = source.get("commit")
    notes = []
    base_tree = None
    if baseline and store.has(baseline):
        base_tree = store.commit_tree(baseline)
    elif baseline:
        notes.append(f"the baseline commit {baseline[:10]} is not in this repository")
    else:
        notes.append("the run started on an unborn branch: no baseline commit")
    if code_tree is None:
        notes.append("the run has no code snapshot")
        out = {"files": [], "changed": 0, "insertions": 0, "deletions": 0, "patch": None}
    else:
        out = diff.compare_code(store, base_tree, code_tree, patch=True)
    out["baseline"] = baseline
    out["dirty"] = bool(source.get("dirty"))
    out["notes"] = notes
    return _cut_patch(out)


def _cut_patch(out: dict[str, Any]) -> dict[str, Any]:
    patch = out.get("patch")
    if isinstance(patch, str) and len(patch) > MAX_PATCH:
        out["patch"] = patch[:MAX_PATCH]
        out["patch_cut"] = f"first {MAX_PATCH} of {len(patch)} characters"
    return out


# --------------------------------------------------------------------------- comparisons


def compare(store: Store, texts: Sequence[str]) -> dict[str, Any]:
    """Params, metrics and tags of two or more runs side by side.

    Returns:
        ``{"runs": [side], "params": [row], "metrics": [row], "tags": [row],
        "metric_keys": [...]}``; a row is ``{"key", "values", "present", "changed"}``
        (``changed``: the values are not all equal, a missing value counts as different).

    Raises:
        InvalidValue: fewer than two runs.
        RunNotFound, AmbiguousRun: a run that matches no run or several.
    """
    wanted = [t for t in texts if t.strip()]
    if len(wanted) < 2:
        raise InvalidValue("compare needs at least two runs: /compare?runs=RUN_A,RUN_B")
    ids = list(dict.fromkeys(diff.resolve_all(store, wanted)))
    if len(ids) < 2:
        raise InvalidValue("compare needs two different runs; these name the same run")
    recs = [runs.load(store, run_id) for run_id in ids]
    sides = []
    for rec in recs:
        row = run_row(rec.summary())
        sides.append({k: row[k] for k in SIDE_FIELDS})
        sides[-1]["commit"] = rec.commit
    params = [query.flatten(rec.params) for rec in recs]
    metrics = [{k: v.get("last") for k, v in rec.metrics.items()} for rec in recs]
    tags: list[dict[str, Any]] = [dict(rec.tags) for rec in recs]
    return {
        "runs": sides,
        "params": _side_by_side(params),
        "metrics": _side_by_side(metrics),
        "tags": _side_by_side(tags),
        "metric_keys": sorted({k for m in metrics for k in m}),
    }


def _side_by_side(maps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for key in sorted({k for m in maps for k in m}):
        present = [key in m for m in maps]
        values = [m.get(key) for m in maps]
        changed = not all(present) or any(not diff.same_value(values[0], v) for v in values[1:])
        rows.append({"key": key, "values": values, "present": present, "changed": changed})
    return rows


def code_diff(store: Store, a: str, b: str) -> dict[str, Any]:
    """``gitml diff A B --code`` as data (schema ``gitml.diff/1``), the patch cut if huge."""
    out = diff.diff(store, a, b, code=True)
    out["code"] = _cut_patch(out["code"])
    return out


# --------------------------------------------------------------------------- models


def models(store: Store) -> dict[str, Any]:
    """The registry: every model with its number of versions, latest one and aliases."""
    from ..models import registry

    out = []
    for name in registry.list_names(store.root or store.gitdir):
        versions = registry.list_versions(name, store.root or store.gitdir)
        latest = versions[-1]
        out.append({
            "name": name,
            "versions": len(versions),
            "latest": latest.version,
            "updated": latest.created,
            "aliases": dict(sorted((a, v.version) for v in versions for a in v.aliases)),
            "flavors": list(latest.flavors),
        })  # fmt: skip
    return {"models": out}


def model(store: Store, name: str) -> dict[str, Any]:
    """Every version of model ``name``, newest first (ModelError when none is registered)."""
    from ..models import registry

    versions = registry.list_versions(name, store.root or store.gitdir)
    return {"name": name, "versions": [v.to_dict() for v in reversed(versions)]}
