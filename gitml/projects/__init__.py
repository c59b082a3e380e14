"""Projects: run an MLproject / gitml.yaml entry point, local or from a git URL, as a recorded run.

``run`` validates everything (the project file, the entry point, every parameter) before
anything is recorded, fetches a git project into the cache, builds the environment, then
launches the rendered command through the same wrapper as ``gitml run``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import keys
from ..errors import NotARepository, ProjectError
from ..store import Store
from . import envs, fetch, spec
from .envs import EnvBuildError
from .spec import EntryPoint, Parameter, Project

__all__ = ["EntryPoint", "Parameter", "Project", "ProjectRun", "describe", "load", "run"]

load = spec.load
TAG = "gitml.project."


@dataclass
class ProjectRun:
    """A project launch that ended: the wrapper's result plus what was run."""

    run_id: str
    name: str
    status: str
    exit_code: int
    command: str
    directory: str
    commit: str | None
    signal: int | None = None
    duration: float = 0.0
    warnings: list[str] = field(default_factory=list)


def run(
    uri: str = ".",
    entry_point: str = "main",
    parameters: dict[str, Any] | None = None,
    version: str | None = None,
    experiment: str | None = None,
    name: str | None = None,
    env_manager: str | None = None,
    store: Store | None = None,
    quiet: bool = False,
    echo: Callable[[bytes], None] | None = None,
    message: Callable[[str], None] | None = None,
    use_pty: bool | None = None,
) -> ProjectRun:
    """Run ``entry_point`` of the project at ``uri`` and record it as a run.

    Args:
        uri: a local folder (default ``.``) or a git URL; ``#subdir`` selects a sub-folder.
        entry_point: a declared entry point, or a ``.py``/``.sh`` file of the project.
        parameters: ``-P`` values (text as typed, or Python values).
        version: branch, tag or commit of a git project (fetched into the cache).
        experiment, name: of the run.
        env_manager: ``local`` (default), ``virtualenv`` or ``uv``.
        store: the repository that records the run (default: the cwd's, or the project's).
        quiet, echo, message, use_pty: passed to the launcher.

    Raises:
        ProjectError: a bad project, entry point or parameter (nothing recorded), or an
            environment that cannot be built (recorded as a FAILED run with the build log).
    """
    from ..launch import LaunchSpec, launch

    say = message or (lambda text: None)
    manager = env_manager or "local"
    if manager not in envs.MANAGERS:
        raise ProjectError(
            f"unknown --env-manager {manager!r}; use one of {', '.join(envs.MANAGERS)}"
        )
    if experiment is not None:
        keys.validate_experiment(experiment)
    if name is not None:
        keys.validate_name(name)
    for key in parameters or {}:
        keys.validate_key(key, "parameter name")
    source = fetch.resolve(uri, version)
    try:
        store = store or _store_for(source)
        project = spec.load(source.directory)
        ep = project.entry_point(entry_point)
        resolved = ep.resolve(parameters or {})
        command = ep.render(resolved)
        tags = _tags(project, ep, source, manager, store)
        if project.env_type == "docker_env":
            say(
                f"gitml: note: docker_env ({project.docker_image}) is not used; running with "
                f"--env-manager {manager}"
            )
        code = _inside(store, source.directory)
        try:
            environment = envs.prepare(project, manager, echo=say)
        except EnvBuildError as exc:
            run_name = _record_build_failure(
                store, exc, command, resolved.params, tags, experiment, name, code, source
            )
            raise ProjectError(
                f"{exc}; recorded as FAILED run {run_name}, its output.log is the build log "
                f"(`gitml show {run_name} --log`)"
            ) from None
        if environment.path:
            tags[TAG + "env"] = environment.key or ""
        extra_env = {}
        if environment.path:
            extra_env = {
                k: v for k, v in environment.variables().items() if k in ("PATH", "VIRTUAL_ENV")
            }
        if not quiet:
            say(f"gitml: project {project.name}, entry point {ep.name}: {command}")
        launch_spec = LaunchSpec(
            argv=[_shell(), "-c", command],
            name=name,
            experiment=experiment,
            tags=[f"{k}={v}" for k, v in tags.items()],
            code=code,
            quiet=quiet,
            typed_params=resolved.params,
            cwd=source.directory,
            env=extra_env,
        )
        result = launch(launch_spec, store=store, echo=echo, message=message, use_pty=use_pty)
        if not code:
            _attach_code(store, result.run_id, source)
        return ProjectRun(
            run_id=result.run_id,
            name=result.name,
            status=result.status,
            exit_code=result.exit_code,
            command=command,
            directory=source.directory,
            commit=source.commit,
            signal=result.signal,
            duration=result.duration,
            warnings=result.warnings,
        )
    finally:
        fetch.cleanup(source)


def describe(uri: str = ".", version: str | None = None) -> dict[str, Any]:
    """The project at ``uri``: name, file, environment and entry points with their parameters."""
    source = fetch.resolve(uri, version)
    try:
        project = spec.load(source.directory)
        return {
            "name": project.name,
            "uri": source.uri + (f"#{source.subdir}" if source.subdir else ""),
            "commit": source.commit,
            "file": os.path.basename(project.file) if project.file else None,
            "environment": (
                {"type": project.env_type, "image": project.docker_image}
                if project.env_type == "docker_env"
                else {
                    "type": project.env_type,
                    "file": os.path.relpath(project.env_file, project.directory),
                }
                if project.env_file
                else None
            ),
            "entry_points": {
                ep.name: {
                    "command": ep.command,
                    "parameters": {
                        p.name: {"type": p.type, "default": p.default, "required": p.required}
                        for p in ep.parameters.values()
                    },
                }
                for ep in project.entry_points.values()
            },
        }
    finally:
        fetch.cleanup(source)


# ---------------------------------------------------------------- helpers
def _store_for(source: fetch.Source) -> Store:
    """The cwd's repository; for a local project run from outside any repository, the project's."""
    try:
        return Store.discover()
    except NotARepository:
        if source.remote:
            raise
        return Store.discover(source.directory)


def _inside(store: Store, directory: str) -> bool:
    """Whether ``directory`` is inside the store's work tree (then its snapshot is the code)."""
    if store.root is None:
        return False
    root = os.path.realpath(store.root)
    here = os.path.realpath(directory)
    return here == root or here.startswith(root + os.sep)


def _tags(
    project: Project, ep: EntryPoint, source: fetch.Source, manager: str, store: Store
) -> dict[str, str]:
    uri = source.uri + (f"#{source.subdir}" if source.subdir else "")
    if not source.remote and _inside(store, source.directory):  # relative to the repository
        assert store.root is not None
        rel = os.path.relpath(os.path.realpath(source.directory), os.path.realpath(store.root))
        uri = rel.replace(os.sep, "/")
    tags = {
        TAG + "name": project.name,
        TAG + "entry_point": ep.name,
        TAG + "uri": uri,
        TAG + "env_manager": manager,
    }
    if source.version is not None:
        tags[TAG + "version"] = source.version
    if source.commit:
        tags[TAG + "commit"] = source.commit
    return tags


def _shell() -> str:
    """``bash``, as MLflow runs entry point commands, or ``sh`` where there is no bash."""
    return "bash" if shutil.which("bash") else "sh"


def _project_tree(store: Store, directory: str) -> str:
    """The project folder as a tree of the store (``.git`` left out)."""
    from ..store import add_file, lfs_threshold

    threshold = lfs_threshold(store)
    files = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for fname in sorted(filenames):
            full = os.path.join(dirpath, fname)
            if os.path.islink(full) or os.path.isfile(full):
                rel = os.path.relpath(full, directory).replace(os.sep, "/")
                files.append((rel, *add_file(store, full, threshold)))
    return store.build_tree(files) if files else store.add_tree({})


def _code_root(source: fetch.Source) -> str:
    """The folder whose files are the run's code: the whole checkout, not only the subdir."""
    return source.checkout or source.directory


def _attach_code(store: Store, run_id: str, source: fetch.Source) -> None:
    from .. import runs
    from ..store import MODE_TREE

    w = runs.open_writer(store, run_id)
    w.set_entry("code", (MODE_TREE, _project_tree(store, _code_root(source))))
    w.flush()


def _record_build_failure(
    store: Store,
    exc: EnvBuildError,
    command: str,
    params: dict[str, Any],
    tags: dict[str, str],
    experiment: str | None,
    name: str | None,
    code: bool,
    source: fetch.Source,
) -> str:
    """A FAILED run whose output.log is the environment's build log."""
    from .. import runs
    from ..record import iso, now_ms
    from ..store import MODE_FILE, MODE_TREE

    w = runs.create(
        store,
        experiment=experiment or os.environ.get("GITML_EXPERIMENT") or "Default",
        name=name,
        tags=tags,
        params=params,
        command=[_shell(), "-c", command],
        code=code,
    )
    if not code:
        w.set_entry("code", (MODE_TREE, _project_tree(store, _code_root(source))))
    w.set_entry("output.log", (MODE_FILE, store.add_blob(exc.log.encode())))
    w.set_info(status="FAILED", end_time=iso(now_ms()))
    w.flush()
    return str(w.record.info["name"])
