"""Project files: MLproject / gitml.yaml entry points, typed parameters and their commands."""

from __future__ import annotations

import math
import os
import shlex
import string
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from ..errors import ProjectError

PROJECT_FILES = ("mlproject", "gitml.yaml")
TYPES = ("string", "float", "int", "bool", "path", "uri")
ENV_FIELDS = ("python_env", "conda_env", "docker_env")
_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")


@dataclass
class Parameter:
    """One typed parameter of an entry point; required when it has no default."""

    name: str
    type: str = "string"
    default: Any = None

    @property
    def required(self) -> bool:
        return self.default is None

    def convert(self, value: Any, entry: str, base_dir: str) -> Any:
        """The value as its native type (path: absolute), or a ProjectError naming the parameter."""
        text = _text(value)
        where = f"parameter {self.name!r} of entry point {entry!r}"
        if self.type == "string":
            return text
        if self.type == "float":
            try:
                number = float(text)
            except ValueError:
                raise ProjectError(f"{where} must be a float, got {text!r}") from None
            if math.isnan(number):
                raise ProjectError(f"{where} must be a float, got {text!r}")
            return number
        if self.type == "int":
            try:
                return int(text)
            except ValueError:
                raise ProjectError(f"{where} must be an int, got {text!r}") from None
        if self.type == "bool":
            low = text.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ProjectError(f"{where} must be a bool (true/false), got {text!r}")
        if self.type == "uri":
            if not urllib.parse.urlparse(text).scheme:
                raise ProjectError(
                    f"{where} must be a URI with a scheme (s3://, https://, file:///...), "
                    f"got {text!r}"
                )
            return text
        # path: a local file or folder that exists; relative to where gitml was started
        parsed = urllib.parse.urlparse(text)
        if parsed.scheme == "file" and not parsed.netloc:
            text = urllib.parse.unquote(parsed.path)
        elif parsed.scheme and len(parsed.scheme) > 1:
            raise ProjectError(
                f"{where} must be a local path, got the URI {text!r}; "
                "download it first or declare the parameter as type uri"
            )
        path = os.path.abspath(os.path.join(base_dir, os.path.expanduser(text)))
        if not os.path.exists(path):
            raise ProjectError(f"{where}: no such file or directory: {text}")
        return path


def _text(value: Any) -> str:
    """A value as text for the command line: as given, or ``str()`` of a default (as MLflow)."""
    return value if isinstance(value, str) else str(value)


def _yaml_scalar(text: str) -> Any:
    """An extra ``-P`` value as a YAML scalar (``0.1`` → float), as ``gitml run -p`` reads it."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if value is None or isinstance(value, (bool, int, float, str)) else text


@dataclass
class Resolved:
    """Validated parameters: ``params`` to record (native values, defaults included, extras as
    YAML scalars), ``texts`` to substitute into the command, ``extra`` to append."""

    params: dict[str, Any] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class EntryPoint:
    """A named command template with typed parameters."""

    name: str
    command: str
    parameters: dict[str, Parameter] = field(default_factory=dict)

    def resolve(self, given: dict[str, Any], base_dir: str | None = None) -> Resolved:
        """Validate ``given`` (every check happens here, before anything runs or is recorded).

        Args:
            given: the ``-P`` values (text, or native values from Python).
            base_dir: where relative ``path`` values start (default: the cwd).
        """
        base = base_dir or os.getcwd()
        missing = [p.name for p in self.parameters.values() if p.required and p.name not in given]
        if missing:
            names = ", ".join(repr(n) for n in missing)
            flags = " ".join(f"-P {n}=..." for n in missing)
            raise ProjectError(
                f"entry point {self.name!r} needs a value for {names} (no default); pass {flags}"
            )
        out = Resolved()
        for p in self.parameters.values():
            value = given[p.name] if p.name in given else p.default
            native = p.convert(value, self.name, base)
            out.params[p.name] = value if p.type == "path" else native
            out.texts[p.name] = native if p.type == "path" else _text(value)
        for key, value in given.items():
            if key not in self.parameters:
                out.extra[key] = _text(value)
                out.params[key] = _yaml_scalar(_text(value))
        return out

    def render(self, resolved: Resolved) -> str:
        """The shell command: values shell-quoted into the template, extras as ``--key value``."""
        quoted = {k: shlex.quote(v) for k, v in resolved.texts.items()}
        try:
            command = self.command.format(**quoted)
        except KeyError as exc:
            raise ProjectError(
                f"entry point {self.name!r}: its command uses {{{exc.args[0]}}}, which is not one "
                f"of its parameters ({', '.join(self.parameters) or 'none'}); declare it under "
                "`parameters:` in the project file"
            ) from None
        except (IndexError, ValueError) as exc:
            raise ProjectError(
                f"entry point {self.name!r}: its command is not a valid template ({exc}); "
                "write a literal brace as {{ or }}"
            ) from None
        parts = [command] + [
            f"--{shlex.quote(k)} {shlex.quote(v)}" for k, v in resolved.extra.items()
        ]
        return " ".join(parts)

    def placeholders(self) -> list[str]:
        return [f for _, f, _, _ in string.Formatter().parse(self.command) if f]


@dataclass
class Project:
    """A project directory: its name, environment declaration and entry points."""

    directory: str
    name: str
    file: str | None = None
    entry_points: dict[str, EntryPoint] = field(default_factory=dict)
    env_type: str | None = None  # python_env, conda_env, docker_env or None
    env_file: str | None = None  # python_env.yaml / conda.yaml (absolute), when declared or present
    docker_image: str | None = None

    def entry_point(self, name: str) -> EntryPoint:
        """The entry point ``name``, or a bare ``.py``/``.sh`` file of the project."""
        if name in self.entry_points:
            return self.entry_points[name]
        ext = os.path.splitext(name)[1]
        if ext in (".py", ".sh"):
            path = os.path.normpath(os.path.join(self.directory, name))
            if not os.path.isfile(path):
                raise ProjectError(f"entry point {name!r}: no such file in the project ({path})")
            runner = "python" if ext == ".py" else os.environ.get("SHELL") or "bash"
            return EntryPoint(name, f"{runner} {shlex.quote(name)}")
        known = ", ".join(self.entry_points) or "none declared"
        raise ProjectError(
            f"no entry point {name!r} in project {self.name!r} (entry points: {known}); "
            "pass -e with one of them or with a .py/.sh file of the project"
        )


def find_project_file(directory: str) -> str | None:
    """``MLproject`` (any case, as MLflow looks for it) or ``gitml.yaml`` in ``directory``."""
    found = [f for f in sorted(os.listdir(directory)) if f.lower() in PROJECT_FILES]
    if len(found) > 1:
        raise ProjectError(
            f"{directory} has several project files ({', '.join(found)}); keep one of them"
        )
    return os.path.join(directory, found[0]) if found else None


def load(directory: str) -> Project:
    """Read the project in ``directory`` (without a project file: only file entry points)."""
    import yaml

    if not os.path.isdir(directory):
        raise ProjectError(f"project directory not found: {directory}")
    directory = os.path.abspath(directory)
    path = find_project_file(directory)
    data: Any = {}
    if path is not None:
        try:
            with open(path, encoding="utf-8") as f:
                data = yaml.safe_load(f) or {}
        except yaml.YAMLError as exc:
            raise ProjectError(f"{path} is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ProjectError(f"{path} must be a YAML mapping with `name` and `entry_points`")
    fname = os.path.basename(path) if path else "the project"
    project = Project(
        directory=directory, name=str(data.get("name") or os.path.basename(directory)), file=path
    )
    eps = data.get("entry_points") or {}
    if not isinstance(eps, dict):
        raise ProjectError(
            f"{fname}: entry_points must be a mapping of name → {{parameters, command}}"
        )
    for ep_name, ep in eps.items():
        project.entry_points[str(ep_name)] = _entry_point(str(ep_name), ep, fname)
    _environment(project, data, fname)
    return project


def _entry_point(name: str, data: Any, fname: str) -> EntryPoint:
    if isinstance(data, str):  # `main: python train.py` shorthand
        data = {"command": data}
    if not isinstance(data, dict) or not isinstance(data.get("command"), str):
        raise ProjectError(f"{fname}: entry point {name!r} needs a `command` string")
    params: dict[str, Parameter] = {}
    raw = data.get("parameters") or {}
    if not isinstance(raw, dict):
        raise ProjectError(f"{fname}: parameters of entry point {name!r} must be a mapping")
    for pname, spec in raw.items():
        pname = str(pname)
        if isinstance(spec, str):  # `alpha: float`, as MLflow reads it
            ptype, default = spec, None
        elif isinstance(spec, dict):
            ptype, default = spec.get("type", "string"), spec.get("default")
        elif spec is None:
            ptype, default = "string", None
        else:
            raise ProjectError(
                f"{fname}: parameter {pname!r} of entry point {name!r} must be a type name or a "
                "mapping with `type` and `default`"
            )
        ptype = {"str": "string", "integer": "int", "boolean": "bool", "number": "float"}.get(
            ptype, ptype
        )
        if ptype not in TYPES:
            raise ProjectError(
                f"{fname}: parameter {pname!r} of entry point {name!r} has unknown type {ptype!r}; "
                f"use one of {', '.join(TYPES)}"
            )
        params[pname] = Parameter(pname, ptype, default)
    return EntryPoint(name, data["command"], params)


def _environment(project: Project, data: dict[str, Any], fname: str) -> None:
    declared = [f for f in ENV_FIELDS if data.get(f) is not None]
    if len(declared) > 1:
        raise ProjectError(
            f"{fname} declares several environments ({', '.join(declared)}); keep one"
        )
    if declared == ["docker_env"]:
        docker = data["docker_env"]
        if not isinstance(docker, dict) or not docker.get("image"):
            raise ProjectError(f"{fname}: docker_env needs an `image`")
        project.env_type, project.docker_image = "docker_env", str(docker["image"])
        return
    if declared:
        field_name = declared[0]
        path = os.path.join(project.directory, str(data[field_name]))
        if not os.path.isfile(path):
            raise ProjectError(
                f"{fname}: {field_name} names {data[field_name]}, but no such file exists"
            )
        project.env_type, project.env_file = field_name, path
        return
    for field_name, default in (("python_env", "python_env.yaml"), ("conda_env", "conda.yaml")):
        path = os.path.join(project.directory, default)
        if os.path.isfile(path):
            project.env_type, project.env_file = field_name, path
            return
