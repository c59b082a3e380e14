"""Environment managers for projects: local, or virtualenv/uv environments cached by content."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import ProjectError
from .fetch import _locked, cache_dir
from .spec import Project

MANAGERS = ("local", "virtualenv", "uv")
_READY = "gitml-env.json"


class EnvBuildError(ProjectError):
    """An environment that could not be built; ``log`` holds what the build printed."""

    def __init__(self, message: str, log: str):
        super().__init__(message)
        self.log = log


@dataclass
class PythonEnv:
    """What to install: a Python version and pip requirement lines (relative to ``base``)."""

    python: str | None = None
    build_dependencies: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    base: str = "."
    origin: str = "no environment file"


@dataclass
class Environment:
    """A ready environment: variables to set for the command (empty for ``local``)."""

    manager: str
    path: str | None = None
    key: str | None = None
    built: bool = False
    build_log: str = ""

    def variables(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default ``os.environ``) with the environment's ``bin`` first on PATH."""
        env = dict(os.environ if base is None else base)
        if self.path:
            env["VIRTUAL_ENV"] = self.path
            env["PATH"] = os.pathsep.join([os.path.join(self.path, "bin"), env.get("PATH", "")])
            env.pop("PYTHONHOME", None)
        return env


def python_env(project: Project) -> PythonEnv:
    """What ``project`` needs: python_env.yaml, conda.yaml (its pip part) or requirements.txt."""
    d = project.directory
    if project.env_type == "python_env" and project.env_file:
        data = _yaml(project.env_file)
        deps = data.get("dependencies") or []
        build = data.get("build_dependencies") or []
        if not isinstance(deps, list) or not isinstance(build, list):
            raise ProjectError(
                f"{project.env_file}: dependencies and build_dependencies must be lists"
            )
        py = data.get("python")
        return PythonEnv(
            None if py is None else str(py),
            [str(b) for b in build],
            [str(x) for x in deps],
            os.path.dirname(project.env_file),
            os.path.basename(project.env_file),
        )
    if project.env_type == "conda_env" and project.env_file:
        data = _yaml(project.env_file)
        python: str | None = None
        pip_deps: list[str] = []
        conda_only: list[str] = []
        for dep in data.get("dependencies") or []:
            if isinstance(dep, dict) and isinstance(dep.get("pip"), list):
                pip_deps.extend(str(x) for x in dep["pip"])
            elif isinstance(dep, str):
                name = dep.split("=")[0].split("<")[0].split(">")[0].strip()
                if name == "python":
                    python = dep[len(name) :].lstrip("=") or None
                elif name != "pip":
                    conda_only.append(dep)
        if conda_only:
            raise ProjectError(
                f"{os.path.basename(project.env_file)} lists conda packages "
                f"({', '.join(conda_only)}) "
                "that pip cannot install; move them under `pip:` or use --env-manager local"
            )
        return PythonEnv(
            python,
            [],
            pip_deps,
            os.path.dirname(project.env_file),
            os.path.basename(project.env_file),
        )
    req = os.path.join(d, "requirements.txt")
    if os.path.isfile(req):
        return PythonEnv(None, [], ["-r requirements.txt"], d, "requirements.txt")
    return PythonEnv(base=d)


def _yaml(path: str) -> dict[str, Any]:
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except yaml.YAMLError as exc:
        raise ProjectError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ProjectError(f"{path} must be a YAML mapping")
    return data


def content_key(manager: str, spec: PythonEnv) -> str:
    """A hash of everything the environment is built from (requirement files' contents included)."""
    h = hashlib.sha256()
    h.update(
        json.dumps([manager, spec.python, spec.build_dependencies, spec.dependencies]).encode()
    )
    for line in spec.build_dependencies + spec.dependencies:
        for path in _local_files(line, spec.base):
            h.update(path.encode())
            with open(path, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()[:20]


def _local_files(line: str, base: str, depth: int = 0) -> list[str]:
    """Files a requirement line refers to (``-r``/``-c`` files, local wheels and archives)."""
    line = line.split(" #")[0].strip()
    for flag in ("-r", "--requirement", "-c", "--constraint"):
        if line.startswith(flag + " ") or line.startswith(flag + "="):
            path = os.path.join(base, line[len(flag) + 1 :].strip())
            if not os.path.isfile(path):
                return []
            out = [path]
            if depth < 5:
                with open(path, encoding="utf-8", errors="replace") as f:
                    for sub in f:
                        out += _local_files(sub, os.path.dirname(path), depth + 1)
            return out
    path = os.path.join(base, line)
    return [path] if line and os.path.isfile(path) else []


def prepare(project: Project, manager: str, echo: Any = None) -> Environment:
    """The environment to run ``project`` in, built (or taken from the cache) for ``manager``.

    Raises:
        EnvBuildError: the environment could not be built (its log is attached).
    """
    if manager not in MANAGERS:
        raise ProjectError(
            f"unknown environment manager {manager!r}; use one of {', '.join(MANAGERS)}"
        )
    if manager == "local":
        return Environment("local")
    spec = python_env(project)
    key = content_key(manager, spec)
    path = os.path.join(cache_dir(), "envs", f"{manager}-{key}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with _locked(path + ".lock"):
        if os.path.isfile(os.path.join(path, _READY)):
            return Environment(manager, path, key)
        if os.path.exists(path):  # a build that was interrupted
            shutil.rmtree(path, ignore_errors=True)
        if echo:
            echo(
                f"gitml: building {manager} environment {key} from {spec.origin} "
                "(cached for later runs)"
            )
        log: list[str] = []
        try:
            _build(manager, spec, path, log)
        except EnvBuildError:
            shutil.rmtree(path, ignore_errors=True)
            raise
        with open(os.path.join(path, _READY), "w") as f:
            json.dump(
                {
                    "manager": manager,
                    "python": spec.python,
                    "dependencies": spec.dependencies,
                    "built": time.time(),
                },
                f,
            )
        return Environment(manager, path, key, built=True, build_log="".join(log))


def _build(manager: str, spec: PythonEnv, path: str, log: list[str]) -> None:
    if manager == "uv":
        uv = shutil.which("uv")
        if uv is None:
            raise EnvBuildError(
                "the uv environment manager needs the `uv` command; install uv or use "
                "--env-manager virtualenv",
                "uv: command not found\n",
            )
        create = [uv, "venv", "--quiet", path] + (["--python", spec.python] if spec.python else [])
        _step(create, spec.base, log, "create the environment")
        install = [uv, "pip", "install", "--python", os.path.join(path, "bin", "python")]
    else:
        _step(
            [_interpreter(spec.python, log), "-m", "venv", path],
            spec.base,
            log,
            "create the environment",
        )
        install = [
            os.path.join(path, "bin", "python"),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
        ]
    for deps in (spec.build_dependencies, spec.dependencies):
        args = [a for line in deps for a in _split(line)]
        if args:
            _step(install + args, spec.base, log, "install " + " ".join(deps))


def _split(line: str) -> list[str]:
    import shlex

    line = line.split(" #")[0].strip()
    if not line or line.startswith("#"):
        return []
    if line.startswith(("-", "--")):
        return shlex.split(line)
    return [line]


def _interpreter(version: str | None, log: list[str]) -> str:
    """A Python executable of ``version`` (default and matching: the one running gitml)."""
    here = ".".join(map(str, sys.version_info[:3]))
    if version is None or here == version or here.startswith(version + "."):
        return sys.executable
    short = ".".join(version.split(".")[:2])
    found = shutil.which(f"python{short}")
    if found:
        out = subprocess.run(
            [found, "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
        )
        got = out.stdout.strip()
        if got == version or got.startswith(version + ".") or version == short:
            return found
    msg = (
        f"python {version} (asked by the project's environment file) is not installed here "
        f"(this is {here}); install it, use --env-manager uv, or run with --env-manager local"
    )
    log.append(msg + "\n")
    raise EnvBuildError(msg, "".join(log))


def _step(cmd: list[str], cwd: str, log: list[str], what: str) -> None:
    log.append("$ " + " ".join(cmd) + "\n")
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONNOUSERSITE="1")
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        log.append(f"{exc}\n")
        raise EnvBuildError(f"could not {what}: {exc}", "".join(log)) from None
    log.append(proc.stdout)
    if proc.returncode != 0:
        last = [ln for ln in proc.stdout.strip().splitlines() if ln.strip()][-1:] or [
            f"exit {proc.returncode}"
        ]
        raise EnvBuildError(
            f"could not build the environment: {what} failed ({last[0].strip()})",
            "".join(log),
        )
