"""The fluent tracking API: start_run, log_metric, ... with the active run on a ContextVar.

Metric points, params and tags are buffered in memory and written as one commit: within
1 s of the start (so a crashed run is visible as RUNNING), at checkpoints every 10 s
(``GITML_CHECKPOINT_INTERVAL``), at the end of the run, at interpreter exit and on SIGTERM.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import sys
import threading
import time
import warnings
from contextvars import ContextVar
from typing import Any

from . import runs
from .client import (
    Client,
    check_artifact_source,
    dict_artifact,
    log_artifact_to,
    log_artifacts_to,
    text_artifact,
)
from .entities import Run, RunData, RunInfo
from .errors import ActiveRunError, GitmlError
from .record import FINAL_STATUSES, iso, now_ms
from .store import Store

FIRST_WRITE_AFTER = 0.5  # seconds: a run is visible as RUNNING within 1 s
MAX_BUFFERED_POINTS = 100_000


class ActiveRun:
    """The run being logged to; a context manager that ends it (FINISHED, or FAILED on error)."""

    def __init__(self, writer: runs.RunWriter, started: float):
        self.writer = writer
        self.started = started

    @property
    def run_id(self) -> str:
        return self.writer.run_id

    @property
    def info(self) -> RunInfo:
        return Run.from_record(self.writer.record).info

    @property
    def data(self) -> RunData:
        return Run.from_record(self.writer.view()).data

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None or (issubclass(exc_type, SystemExit) and exc.code in (0, None)):
            status = "FINISHED"  # sys.exit() / sys.exit(0) is a normal end
        elif issubclass(exc_type, KeyboardInterrupt):
            status = "KILLED"
        else:
            status = "FAILED"
        if self.run_id in _open:
            _end(self, status)

    def __repr__(self) -> str:
        return f"<ActiveRun {self.writer.record.info.get('name')} {self.run_id}>"


_stack: ContextVar[tuple[ActiveRun, ...]] = ContextVar("gitml_active_runs", default=())
_last: ContextVar[ActiveRun | None] = ContextVar("gitml_last_run", default=None)
_experiment: ContextVar[str | None] = ContextVar("gitml_experiment", default=None)

# Open runs of this process, for checkpoints, signals and exit (a registry of resources;
# which run is *active* lives in the ContextVar above).
_open: dict[str, ActiveRun] = {}
_open_lock = threading.Lock()
_stores: dict[str, Store] = {}
_exit_state: dict[str, Any] = {"exception": None, "installed": False, "forked": False}


def _after_fork_in_child() -> None:
    """A forked child (multiprocessing workers) logs into its parent's runs but never ends
    them: its copies become attached writers with empty buffers (the parent writes what it
    logged), so a worker stopped with SIGTERM (``Pool.terminate``) neither marks the run
    KILLED nor writes the parent's buffered points a second time."""
    global _open_lock
    _open_lock = threading.Lock()  # the parent's may have been held by another thread
    for run in _open.values():
        w = run.writer
        w.lock = threading.RLock()
        w._clear()
        w.owner = False
    _exit_state["forked"] = bool(_open)  # checkpoints start again on the child's first log
    mp_util = sys.modules.get("multiprocessing.util")
    if _open and mp_util is not None:
        # A multiprocessing child leaves through os._exit, after the finalizers of
        # multiprocessing.util but without atexit: flush there. Its finalizer registry is
        # cleared after this hook runs, so the finalizer is made by an after-fork callback.
        mp_util.register_after_fork(_FORK_TOKEN, _register_child_flush)


class _ForkToken:
    """An object for multiprocessing.util.register_after_fork to hold weakly."""


_FORK_TOKEN = _ForkToken()


def _register_child_flush(_token: Any) -> None:
    import multiprocessing.util

    multiprocessing.util.Finalize(None, _flush_attached, exitpriority=100)


def _flush_attached() -> None:
    """Write what this forked child logged (its writers are attached: nothing ends)."""
    with _open_lock:
        open_runs = list(_open.values())
    for run in open_runs:
        try:
            if run.writer.pending:
                run.writer.flush()
        except Exception as exc:  # noqa: BLE001 - a worker's exit must not fail on it
            warnings.warn(f"gitml: could not write run {run.run_id} at exit: {exc}", stacklevel=1)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _store() -> Store:
    root, gitdir = Store.locate()
    cached = _stores.get(gitdir)
    if cached is None or not os.path.isdir(gitdir):
        _stores[gitdir] = cached = Store(root, gitdir)
    return cached


def set_experiment(name: str) -> str:
    """Make ``name`` the experiment of the runs started from now on in this context."""
    from .keys import validate_experiment

    _experiment.set(validate_experiment(name))
    return name


def start_run(
    run_id: str | None = None,
    experiment: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: dict[str, Any] | None = None,
    description: str | None = None,
    params: dict[str, Any] | None = None,
    name: str | None = None,
) -> ActiveRun:
    """Start a run (or resume ``run_id``, or attach to the run of ``gitml run``).

    Args:
        run_id: resume this run (id, prefix or name) instead of creating one.
        experiment: experiment name (default: ``set_experiment``, ``$GITML_EXPERIMENT``, "Default").
        run_name / name: the run's name (default: a generated ``adjective-noun-N``).
        nested: start a child of the active run instead of refusing.
        tags, description, params: recorded at once.
    """
    stack = _stack.get()
    if stack and not nested:
        raise ActiveRunError(
            f"run {stack[-1].writer.record.info.get('name')} ({stack[-1].run_id}) is already "
            "active; end it with gitml.end_run() or pass nested=True"
        )
    store = _store()
    name = name if name is not None else run_name
    attached = os.environ.get("GITML_RUN_ID")
    started = time.monotonic()
    if run_id is None and attached and not stack and attached not in _open:
        try:  # set by `gitml run`: a full id; by hand: any id prefix or name
            writer = runs.open_writer(store, runs.resolve(store, attached), owner=False)
        except GitmlError as exc:
            raise type(exc)(
                f"GITML_RUN_ID={attached} names no single run of {store.root or store.gitdir} "
                f"({exc}); unset GITML_RUN_ID to start a new run"
            ) from None
        run = ActiveRun(writer, started)
        _configure(writer, params, tags, description, name)
    elif run_id is not None:
        rid = runs.resolve(store, run_id)
        if rid in _open:
            raise ActiveRunError(f"run {rid} is already active in this process")
        writer = runs.open_writer(store, rid, owner=True)
        writer.set_info(status="RUNNING", end_time=None, pid=os.getpid())
        run = ActiveRun(writer, started)
        _configure(writer, params, tags, description, name)
    else:
        exp = (
            experiment
            if experiment is not None
            else (_experiment.get() or os.environ.get("GITML_EXPERIMENT") or "Default")
        )
        writer = runs.create(
            store, experiment=exp, name=name, tags=tags, params=params, description=description,
            parent_run=stack[-1].run_id if stack else None,
        )  # fmt: skip
        run = ActiveRun(writer, started)
    _stack.set(stack + (run,))
    with _open_lock:
        _open[run.run_id] = run
    _install_handlers()
    _Checkpointer.ensure()
    return run


def _configure(w: runs.RunWriter, params: Any, tags: Any, description: Any, name: Any) -> None:
    if params:
        w.log_params(runs.native(params))
    if tags:
        w.set_tags(tags)
    if description is not None:
        w.set_info(description=description)
    if name:
        w.set_info(name=name)


def end_run(status: str = "FINISHED") -> None:
    """End the active run (no-op when none is active)."""
    if status not in FINAL_STATUSES:
        raise ActiveRunError(
            f"end_run status must be one of {', '.join(FINAL_STATUSES)}, not {status!r}"
        )
    stack = _stack.get()
    if stack:
        _end(stack[-1], status)


def _end(run: ActiveRun, status: str) -> None:
    w = run.writer
    with w.lock:
        if w.owner:
            w.set_info(status=status, end_time=iso(now_ms()))
        w.flush(force=w.owner)
    with _open_lock:
        _open.pop(run.run_id, None)
    stack = _stack.get()
    if run in stack:
        _stack.set(tuple(r for r in stack if r is not run))
    _last.set(run)


def active_run() -> ActiveRun | None:
    stack = _stack.get()
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    """The run that was last active in this context (ended or not), freshly read."""
    run = active_run() or _last.get()
    if run is None:
        return None
    if run.run_id in _open:
        run.writer.flush()  # a run younger than its first write is not stored yet
    return Client().get_run(run.run_id)


def _require(check: Any = None) -> runs.RunWriter:
    """The active run's writer; starts a run when none is active, as MLflow does.

    ``check`` (a callable raising GitmlError) validates the call's input first, so a
    bad key or value never starts (and writes) a run.
    """
    run = active_run()
    if run is None:
        if check is not None:
            check()
        run = start_run()
    elif _exit_state["forked"]:
        _exit_state["forked"] = False
        _Checkpointer.ensure()
    return run.writer


def _check_metrics(metrics: dict[str, Any], step: Any) -> None:
    for key, value in metrics.items():
        runs.check_metric(key, value, 0 if step is None else step)


def _check_tags(tag_keys: Any) -> None:
    from .keys import validate_key

    for key in tag_keys:
        validate_key(key, "tag key")


def _check_artifact_file(artifact_file: str) -> None:
    from .errors import ArtifactError
    from .keys import artifact_path as clean_path

    if not clean_path(artifact_file):
        raise ArtifactError("artifact_file must name a file, e.g. 'notes/summary.txt'")


# -------------------------------------------------------------------- logging
def log_param(key: str, value: Any) -> Any:
    params = {key: runs.native(value)}
    _require(lambda: runs.check_params(params)).log_params(params)
    return value


def log_params(params: dict[str, Any]) -> None:
    clean = runs.native(dict(params))
    _require(lambda: runs.check_params(clean)).log_params(clean)


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | None = None
) -> None:
    w = _require(lambda: _check_metrics({key: value}, step))
    w.log_metric(key, value, 0 if step is None else step, timestamp)
    if w.npoints >= MAX_BUFFERED_POINTS:
        w.flush()


def log_metrics(
    metrics: dict[str, float], step: int | None = None, timestamp: int | None = None
) -> None:
    _check_metrics(metrics, step)  # all or nothing: no point is kept when one is bad
    w = _require()
    ts = timestamp if timestamp is not None else now_ms()
    for key, value in metrics.items():
        w.log_metric(key, value, 0 if step is None else step, ts)


def set_tag(key: str, value: Any) -> None:
    _require(lambda: _check_tags([key])).set_tags({key: value})


def set_tags(tags: dict[str, Any]) -> None:
    _require(lambda: _check_tags(tags)).set_tags(dict(tags))


def delete_tag(key: str) -> None:
    _require(lambda: _check_tags([key])).delete_tag(key)


def log_artifact(local_path: str, artifact_path: str | None = None) -> None:
    """Store a file under ``artifacts/<artifact_path>/`` of the active run."""
    log_artifact_to(
        _require(lambda: check_artifact_source(local_path, artifact_path)),
        local_path,
        artifact_path,
    )


def log_artifacts(local_dir: str, artifact_path: str | None = None) -> None:
    """Store a folder's files under ``artifacts/<artifact_path>/`` of the active run."""
    log_artifacts_to(
        _require(lambda: check_artifact_source(local_dir, artifact_path, folder=True)),
        local_dir,
        artifact_path,
    )


def log_text(text: str, artifact_file: str) -> None:
    text_artifact(_require(lambda: _check_artifact_file(artifact_file)), text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str) -> None:
    """Store a dict as JSON (or YAML when ``artifact_file`` ends in .yaml/.yml)."""
    dict_artifact(_require(lambda: _check_artifact_file(artifact_file)), dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str, *, save_kwargs: dict[str, Any] | None = None) -> None:
    """Store a matplotlib or plotly figure as ``artifact_file`` (png, svg, pdf, html...)."""
    from .media import figure_bytes

    _check_artifact_file(artifact_file)
    data = figure_bytes(figure, artifact_file, save_kwargs)
    text_artifact(_require(), data, artifact_file)


def log_image(
    image: Any, artifact_file: str | None = None, *, key: str | None = None, step: int | None = None
) -> None:
    """Store a numpy array (0–255 integers or 0–1 floats) or a PIL image as ``artifact_file``,
    or, as MLflow's ``key``/``step`` form, as ``images/<key>/step-<step>.png`` (a series)."""
    from .media import image_bytes, image_path

    artifact_file = image_path(artifact_file, key, step)
    _check_artifact_file(artifact_file)
    data = image_bytes(image, artifact_file)
    text_artifact(_require(), data, artifact_file)


def log_table(data: Any, artifact_file: str) -> None:
    """Store a dict of columns or a DataFrame as MLflow's table JSON (``artifact_file``)."""
    from .media import table_json

    _check_artifact_file(artifact_file)
    text = table_json(data)
    text_artifact(_require(), text, artifact_file)


def get_run(run_id: str) -> Run:
    """A run by id, unique prefix or name (the active run's pending data is written first)."""
    for run in list(_open.values()):
        if run.run_id == run_id or run.writer.record.info.get("name") == run_id:
            run.writer.flush()
    return Client().get_run(run_id)


def params() -> dict[str, Any]:
    """The parameters of this run: from ``gitml run -p`` (``GITML_PARAMS``) or the active run."""
    env = os.environ.get("GITML_PARAMS")
    if env:
        try:
            return dict(json.loads(env))
        except ValueError:
            pass
    run = active_run()
    if run is not None:
        return {**run.writer.record.params, **run.writer.params}
    return {}


# -------------------------------------------------------------------- checkpoints
class _Checkpointer(threading.Thread):
    """One daemon thread per process: first write within 1 s, then every interval."""

    _instance: _Checkpointer | None = None

    def __init__(self) -> None:
        super().__init__(name="gitml-checkpoint", daemon=True)
        self.interval = float(os.environ.get("GITML_CHECKPOINT_INTERVAL", "10"))
        self.failed: set[str] = set()

    @classmethod
    def ensure(cls) -> None:
        if cls._instance is None or not cls._instance.is_alive():
            cls._instance = cls()
            cls._instance.start()

    def run(self) -> None:
        while True:
            time.sleep(0.1)
            now = time.monotonic()
            with _open_lock:
                open_runs = list(_open.values())
            for run in open_runs:
                w = run.writer
                due = (w.last_flush == 0 and now - run.started >= FIRST_WRITE_AFTER) or (
                    w.last_flush and now - w.last_flush >= self.interval and w.pending
                )
                if not due:
                    continue
                try:
                    w.flush()
                except Exception as exc:  # noqa: BLE001 - never kill the user's program
                    if run.run_id not in self.failed:
                        self.failed.add(run.run_id)
                        warnings.warn(
                            f"gitml: checkpoint of run {run.run_id} failed: {exc}", stacklevel=1
                        )


# -------------------------------------------------------------------- exit and signals
def _install_handlers() -> None:
    if _exit_state["installed"]:
        return
    _exit_state["installed"] = True
    atexit.register(_at_exit)
    previous_hook = sys.excepthook

    def hook(exc_type: Any, exc: Any, tb: Any) -> None:
        _exit_state["exception"] = exc_type
        previous_hook(exc_type, exc, tb)

    sys.excepthook = hook
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGTERM)

        def on_term(signum: int, frame: Any) -> None:
            _end_all("KILLED")
            if callable(previous):
                previous(signum, frame)
            else:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                os.kill(os.getpid(), signal.SIGTERM)

        if previous in (signal.SIG_DFL, None) or callable(previous):
            signal.signal(signal.SIGTERM, on_term)


def _end_all(status: str) -> None:
    with _open_lock:
        open_runs = list(_open.values())
    for run in reversed(open_runs):
        try:
            _end(run, status)
        except GitmlError as exc:
            print(f"gitml: could not end run {run.run_id}: {exc}", file=sys.stderr)


def _at_exit() -> None:
    exc = _exit_state["exception"]
    if exc is None:
        status = "FINISHED"
    elif issubclass(exc, KeyboardInterrupt):
        status = "KILLED"
    else:
        status = "FAILED"
    _end_all(status)
