"""Model URIs: ``runs:/<run>/<name>``, ``models:/<name>/<version>``, ``models:/<name>@<alias>``, paths.

``resolve`` turns any of them into a local model directory (exporting it from git when
needed) and says where the model came from, so loaders can warn about foreign pickles.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass

from ..errors import ModelError

_VERSION = re.compile(r"^(?:[1-9][0-9]*|latest)$")


class UntrustedModelWarning(UserWarning):
    """A model made by another user or machine is being loaded (its pickle runs their code)."""


@dataclass(frozen=True)
class ModelURI:
    """A parsed model URI.

    Attributes:
        kind: ``run``, ``registry`` or ``local``.
        run: the run id, prefix or name (``run`` kind).
        name: the model name inside the run, or the registered model name.
        version: a registered version number or ``latest`` (``registry`` kind).
        alias: a registered alias (``registry`` kind).
        path: the local directory (``local`` kind).
    """

    kind: str
    run: str | None = None
    name: str | None = None
    version: str | None = None
    alias: str | None = None
    path: str | None = None

    def __str__(self) -> str:
        if self.kind == "run":
            return f"runs:/{self.run}/{self.name}"
        if self.kind == "registry":
            return (
                f"models:/{self.name}@{self.alias}"
                if self.alias
                else f"models:/{self.name}/{self.version}"
            )
        return str(self.path)


def parse(uri: str | os.PathLike[str]) -> ModelURI:
    """Parse a model URI; a clear error names the expected forms."""
    text = os.fspath(uri)
    if not isinstance(text, str) or not text.strip():
        raise ModelError(
            "empty model URI: give runs:/<run>/<name>, models:/<name>/<version>, models:/<name>@<alias> or a path"
        )
    if text.startswith("runs:"):
        rest = text[len("runs:") :].lstrip("/")
        run, _, name = rest.partition("/")
        name = name.strip("/")
        if not run or not name:
            raise ModelError(
                f"invalid model URI {text!r}: use runs:/<run>/<model name>, e.g. runs:/bold-owl-3/model"
            )
        if any(part in ("", ".", "..") for part in name.split("/")):
            raise ModelError(
                f"invalid model URI {text!r}: the model name may not contain '.' or '..' segments"
            )
        return ModelURI("run", run=run, name=name)
    if text.startswith("models:"):
        rest = text[len("models:") :].lstrip("/")
        if "@" in rest:
            name, _, alias = rest.partition("@")
            if not name or not alias or "/" in alias or "/" in name:
                raise ModelError(
                    f"invalid model URI {text!r}: use models:/<name>@<alias>, e.g. models:/churn@champion"
                )
            return ModelURI("registry", name=name, alias=alias)
        name, _, version = rest.partition("/")
        if not name or not _VERSION.match(version):
            raise ModelError(
                f"invalid model URI {text!r}: use models:/<name>/<version> (a number or 'latest') or models:/<name>@<alias>"
            )
        return ModelURI("registry", name=name, version=version)
    if text.startswith("file://"):
        text = text[len("file://") :]
    elif re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:/", text):
        scheme = text.split(":", 1)[0]
        raise ModelError(
            f"unsupported model URI scheme {scheme!r}: use runs:/, models:/, or a local path"
        )
    return ModelURI("local", path=text)


@dataclass(frozen=True)
class ResolvedModel:
    """A model available as a local directory, and where it came from."""

    uri: ModelURI
    path: str
    run_id: str | None = None
    registered_name: str | None = None
    version: int | None = None
    made_by: tuple[str, str] | None = None  # (user, host) that made it, when known


def resolve(
    uri: str | os.PathLike[str], dst_path: str | None = None, repo: str | None = None
) -> ResolvedModel:
    """Make the model at ``uri`` available as a local directory.

    Args:
        uri: a model URI or path.
        dst_path: where to export a model stored in git (default: a temporary directory
            removed at interpreter exit).
        repo: a path inside the repository (default: ``$GITML_DIR`` or the cwd).

    Returns:
        The ResolvedModel; ``path`` holds an ``MLmodel`` file.
    """
    parsed = parse(uri)
    if parsed.kind == "local":
        path = os.path.abspath(os.path.expanduser(str(parsed.path)))
        if not os.path.isdir(path):
            raise ModelError(f"no model at {parsed.path!r}: the directory does not exist")
        if not os.path.isfile(os.path.join(path, "MLmodel")):
            raise ModelError(f"{parsed.path!r} is not a model directory: it has no MLmodel file")
        return ResolvedModel(parsed, path)
    if parsed.kind == "run":
        from ..client import Client

        client = Client(repo)
        run_id = client.resolve_run(str(parsed.run))
        dest = _destination(dst_path)
        client.download_model_dir(run_id, str(parsed.name), dest)
        if not os.path.isfile(os.path.join(dest, "MLmodel")):
            raise ModelError(
                f"runs:/{parsed.run}/{parsed.name} is not a model directory: it has no MLmodel file"
            )
        run = client.get_run(run_id)
        made_by = (str(run.info.user_id or ""), str(run.extra.get("host") or ""))
        return ResolvedModel(parsed, dest, run_id=run_id, made_by=made_by)
    from . import registry

    version = registry.resolve_version(parsed, repo=repo)
    dest = _destination(dst_path)
    registry.export_version(version, dest, repo=repo)
    return ResolvedModel(
        parsed,
        dest,
        run_id=version.run_id,
        registered_name=version.name,
        version=version.version,
        made_by=version.made_by,
    )


def warn_if_foreign(model: ResolvedModel) -> None:
    """Warn when the model was made by another user or on another machine (a pulled model)."""
    if model.made_by is None:
        return
    from ..store import user_and_host

    user, host = model.made_by
    me, here = user_and_host()
    if (user and user != me) or (host and host != here):
        warnings.warn(
            f"{model.uri} was made by {user or '?'} on {host or '?'}: loading its pickle runs their code;"
            " load only models from people you trust",
            UntrustedModelWarning,
            stacklevel=3,
        )


_temp_dirs: list[str] = []


def _destination(dst_path: str | None) -> str:
    if dst_path:
        os.makedirs(dst_path, exist_ok=True)
        if os.listdir(dst_path):
            raise ModelError(f"dst_path {dst_path!r} is not empty: give an empty or new directory")
        return dst_path
    if not _temp_dirs:
        atexit.register(_cleanup)
    path = tempfile.mkdtemp(prefix="gitml-model-")
    _temp_dirs.append(path)
    return path


def _cleanup() -> None:
    for path in _temp_dirs:
        shutil.rmtree(path, ignore_errors=True)
