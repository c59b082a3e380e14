"""Client: the explicit API over run ids, below the fluent ``start_run``/``log_metric``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from . import keys, runs
from .entities import FileInfo, Metric, Run
from .errors import ArtifactError, InvalidValue, RunNotFound
from .record import FINAL_STATUSES, iso, now_ms
from .store import (
    MODE_TREE,
    Store,
    add_file,
    export_file,
    lfs_threshold,
    parse_lfs_pointer,
)


class Client:
    """Explicit access to runs by id (any id, unique prefix or name is accepted).

    Args:
        repo: a path inside the git repository (default: ``$GITML_DIR`` or the cwd).
    """

    def __init__(self, repo: str | None = None):
        self._repo = repo
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.discover(self._repo)
        return self._store

    def resolve_run(self, run: str) -> str:
        """The full run id for an id, a unique prefix or a name."""
        return runs.resolve(self.store, run)

    # ------------------------------------------------------------ runs
    def create_run(
        self,
        experiment: str = "Default",
        run_name: str | None = None,
        tags: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        start_time: int | None = None,
        description: str | None = None,
    ) -> Run:
        """Create a RUNNING run now; end it with ``set_terminated``."""
        writer = runs.create(
            self.store, experiment=experiment, name=run_name, tags=tags, params=params,
            start_time=start_time, description=description, code=True,
        )  # fmt: skip
        writer.flush()
        return Run.from_record(writer.record)

    def get_run(self, run: str) -> Run:
        return Run.from_record(runs.load(self.store, self.resolve_run(run)))

    def set_terminated(
        self, run: str, status: str = "FINISHED", end_time: int | None = None
    ) -> None:
        if status not in FINAL_STATUSES:
            raise InvalidValue(
                f"unknown final status {status!r}; use one of {', '.join(FINAL_STATUSES)}"
            )
        run_id = self.resolve_run(run)
        w = runs.open_writer(self.store, run_id, owner=True)
        w.set_info(status=status, end_time=iso(end_time or now_ms()))
        w.flush()

    def delete_run(self, run: str) -> None:
        """Soft delete (``lifecycle: deleted``): hidden from listings, travels with push."""
        runs.set_lifecycle(self.store, self.resolve_run(run), "deleted")

    def restore_run(self, run: str) -> None:
        runs.set_lifecycle(self.store, self.resolve_run(run), "active")

    def rename_run(self, run: str, name: str) -> None:
        runs.rename(self.store, self.resolve_run(run), name)

    # ------------------------------------------------------------ logging
    def _write(self, run: str, fn: Any) -> None:
        w = runs.open_writer(self.store, self.resolve_run(run))
        fn(w)
        w.flush()

    def log_param(self, run: str, key: str, value: Any) -> None:
        self._write(run, lambda w: w.log_params({key: runs.native(value)}))

    def log_metric(
        self, run: str, key: str, value: float, timestamp: int | None = None, step: int = 0
    ) -> None:
        self._write(run, lambda w: w.log_metric(key, value, step, timestamp))

    def set_tag(self, run: str, key: str, value: Any) -> None:
        self._write(run, lambda w: w.set_tags({key: value}))

    def delete_tag(self, run: str, key: str) -> None:
        self._write(run, lambda w: w.delete_tag(key))

    def log_batch(
        self,
        run: str,
        metrics: Iterable[Metric] = (),
        params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
    ) -> None:
        """Log metrics, params and tags in one write."""

        def fn(w: runs.RunWriter) -> None:
            if params:
                w.log_params(runs.native(params))
            if tags:
                w.set_tags(tags)
            for m in metrics:
                w.log_metric(m.key, m.value, m.step, m.timestamp)

        self._write(run, fn)

    def log_artifact(self, run: str, local_path: str, artifact_path: str | None = None) -> None:
        self._write(run, lambda w: log_artifact_to(w, local_path, artifact_path))

    def log_artifacts(self, run: str, local_dir: str, artifact_path: str | None = None) -> None:
        self._write(run, lambda w: log_artifacts_to(w, local_dir, artifact_path))

    def log_text(self, run: str, text: str, artifact_file: str) -> None:
        self._write(run, lambda w: text_artifact(w, text, artifact_file))

    def log_dict(self, run: str, dictionary: Any, artifact_file: str) -> None:
        self._write(run, lambda w: dict_artifact(w, dictionary, artifact_file))

    def log_figure(self, run: str, figure: Any, artifact_file: str,
                   *, save_kwargs: dict[str, Any] | None = None) -> None:  # fmt: skip
        from .media import figure_bytes

        data = figure_bytes(figure, artifact_file, save_kwargs)
        self._write(run, lambda w: text_artifact(w, data, artifact_file))

    def log_image(self, run: str, image: Any, artifact_file: str | None = None,
                  *, key: str | None = None, step: int | None = None) -> None:  # fmt: skip
        from .media import image_bytes, image_path

        artifact_file = image_path(artifact_file, key, step)
        data = image_bytes(image, artifact_file)
        self._write(run, lambda w: text_artifact(w, data, artifact_file))

    def log_table(self, run: str, data: Any, artifact_file: str) -> None:
        from .media import table_json

        text = table_json(data)
        self._write(run, lambda w: text_artifact(w, text, artifact_file))

    def log_model_dir(self, run: str, local_dir: str, name: str) -> None:
        """Store a model directory at ``models/<name>/`` of the run's tree."""
        keys.validate_key(name, "model name")
        self._write(
            run, lambda w: w.set_entry(f"models/{name}", (MODE_TREE, dir_tree(w.store, local_dir)))
        )

    # ------------------------------------------------------------ reading
    def get_metric_history(self, run: str, key: str) -> list[Metric]:
        rec = runs.load(self.store, self.resolve_run(run))
        if key not in rec.metrics:
            raise RunNotFound(
                f"run {rec.info.get('name')} has no metric {key!r}; it has: "
                + (", ".join(sorted(rec.metrics)) or "none")
            )
        return [Metric(key, v, t, s) for s, t, v in rec.history(self.store, key)]

    def list_artifacts(self, run: str, path: str | None = None) -> list[FileInfo]:
        """Files and folders directly under ``artifacts/<path>`` of the run."""
        return self._list(run, "artifacts", path)

    def list_models(self, run: str) -> list[str]:
        return [f.path for f in self._list(run, "models", None) if f.is_dir]

    def _list(self, run: str, top: str, path: str | None) -> list[FileInfo]:
        rec = runs.load(self.store, self.resolve_run(run))
        sub = keys.artifact_path(path)
        tree = self.store.commit_tree(rec.commit)  # type: ignore[arg-type]
        found = self.store.lookup(tree, f"{top}/{sub}" if sub else top)
        if found is None:
            if sub:
                raise ArtifactError(f"run {rec.info.get('name')} has no artifact {sub!r}")
            return []
        if found[0] != MODE_TREE:
            return [FileInfo(sub, False, self._size(found[1]))]
        out = []
        for name, (mode, sha) in sorted(self.store.read_tree(found[1]).items()):
            rel = f"{sub}/{name}" if sub else name
            out.append(
                FileInfo(rel, mode == MODE_TREE, None if mode == MODE_TREE else self._size(sha))
            )
        return out

    def _size(self, sha: str) -> int:
        data = self.store.read_blob(sha)
        pointer = parse_lfs_pointer(data)
        return pointer[1] if pointer else len(data)

    def download_artifacts(self, run: str, path: str = "", dst_path: str | None = None) -> str:
        """Write ``artifacts/<path>`` (a file or folder) of the run to ``dst_path``; returns it."""
        return self._download(run, "artifacts", keys.artifact_path(path), dst_path)

    def download_model_dir(self, run: str, name: str, dest_dir: str) -> str:
        return self._download(run, "models", keys.artifact_path(name), dest_dir, into=True)

    def _download(self, run: str, top: str, sub: str, dst: str | None, into: bool = False) -> str:
        import tempfile

        rec = runs.load(self.store, self.resolve_run(run))
        tree = self.store.commit_tree(rec.commit)  # type: ignore[arg-type]
        found = self.store.lookup(tree, f"{top}/{sub}" if sub else top)
        if found is None:
            what = "model" if top == "models" else "artifact"
            missing = f"{what} {sub!r}" if sub else f"{what}s"
            raise ArtifactError(
                f"run {rec.info.get('name')} has no {missing}; "
                f"see `gitml show {rec.info.get('name')}`"
            )
        dst = dst or tempfile.mkdtemp(prefix="gitml-")
        if found[0] != MODE_TREE:
            target = os.path.join(dst, os.path.basename(sub))
            export_file(self.store, found[1], found[0], target)
            return target
        target = dst if into or not sub else os.path.join(dst, os.path.basename(sub))
        for rel, mode, sha in self.store.walk_tree(found[1]):
            export_file(self.store, sha, mode, os.path.join(target, *rel.split("/")))
        os.makedirs(target, exist_ok=True)
        return target

    def search_runs(self, *args: Any, **kwargs: Any) -> Any:
        from .query import search_runs

        kwargs.setdefault("repo", self._repo)
        return search_runs(*args, **kwargs)


# ---------------------------------------------------------------- artifact helpers
def check_artifact_source(local_path: str, artifact_path: str | None, folder: bool = False) -> str:
    """Raise ArtifactError unless ``local_path`` is a file (a folder) and ``artifact_path``
    stays inside the artifacts folder; returns the normalized ``artifact_path``."""
    if folder and not os.path.isdir(local_path):
        raise ArtifactError(f"artifact folder {local_path!r} is missing or not a folder")
    if not folder and not os.path.isfile(local_path):
        kind = "a folder (use log_artifacts)" if os.path.isdir(local_path) else "missing"
        raise ArtifactError(f"artifact {local_path!r} is {kind}")
    if not folder and keys.is_dotgit(os.path.basename(local_path)):
        raise ArtifactError(f"artifact {local_path!r}: git refuses a file named '.git' in a tree")
    return keys.artifact_path(artifact_path)


def log_artifact_to(w: runs.RunWriter, local_path: str, artifact_path: str | None) -> None:
    dest = check_artifact_source(local_path, artifact_path)
    name = os.path.basename(local_path)
    target = f"artifacts/{dest}/{name}" if dest else f"artifacts/{name}"
    w.set_entry(target, add_file(w.store, local_path, lfs_threshold(w.store)))


def log_artifacts_to(w: runs.RunWriter, local_dir: str, artifact_path: str | None) -> None:
    dest = check_artifact_source(local_dir, artifact_path, folder=True)
    base = f"artifacts/{dest}" if dest else "artifacts"
    # file by file, so the folder's files join what the run already has there
    for rel, mode, sha in dir_files(w.store, local_dir):
        w.set_entry(f"{base}/{rel}", (mode, sha))


def dir_files(store: Store, local_dir: str) -> list[tuple[str, int, str]]:
    """Store a local folder's files: [(relative path, mode, blob id)], LFS above the threshold."""
    threshold = lfs_threshold(store)
    files = []
    with store.batch():  # a pack for the folder, not a file per file
        for dirpath, dirnames, filenames in os.walk(local_dir):
            # a folder that is (or holds) a git checkout: its files, not its repository
            dirnames[:] = sorted(d for d in dirnames if not keys.is_dotgit(d))
            for fname in sorted(f for f in filenames if not keys.is_dotgit(f)):
                full = os.path.join(dirpath, fname)
                rel = os.path.relpath(full, local_dir).replace(os.sep, "/")
                if os.path.islink(full) or os.path.isfile(full):
                    files.append((rel, *add_file(store, full, threshold)))
    return files


def dir_tree(store: Store, local_dir: str) -> str:
    """Store a local folder as a tree (files above the LFS threshold as pointers)."""
    with store.batch():
        files = dir_files(store, local_dir)
        return store.build_tree(files) if files else store.add_tree({})


def text_artifact(w: runs.RunWriter, text: str | bytes, artifact_file: str) -> None:
    dest = keys.artifact_path(artifact_file)
    if not dest:
        raise ArtifactError("artifact_file must name a file, e.g. 'notes/summary.txt'")
    data = text.encode() if isinstance(text, str) else text
    from .store import MODE_FILE

    w.set_entry(f"artifacts/{dest}", (MODE_FILE, w.store.add_blob(data)))


def dict_artifact(w: runs.RunWriter, obj: Any, artifact_file: str) -> None:
    if artifact_file.endswith((".yaml", ".yml")):
        from . import yamlio

        text = yamlio.dumps(runs.native(obj))
    else:
        text = json.dumps(runs.native(obj), indent=2, sort_keys=True)
    text_artifact(w, text, artifact_file)
