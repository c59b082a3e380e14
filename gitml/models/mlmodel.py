"""The MLmodel manifest: the YAML file at the root of every model directory (MLflow's fields)."""

from __future__ import annotations

import datetime as _dt
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

from .. import yamlio
from ..errors import ModelError
from .signature import ModelSignature

MLMODEL_FILE = "MLmodel"
PYFUNC_FLAVOR = "python_function"

# fields this class models; every other top-level field of a manifest is kept as is
_KNOWN = {
    "flavors",
    "signature",
    "saved_input_example_info",
    "utc_time_created",
    "model_uuid",
    "run_id",
    "artifact_path",
    "metadata",
    "model_size_bytes",
}


@dataclass
class Model:
    """An MLmodel manifest.

    Attributes:
        flavors: flavor name -> its configuration (``python_function`` among them).
        signature: the model's input/output/params schema, if known.
        saved_input_example_info: where the input example lives and how it is encoded.
        utc_time_created: creation time, ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC (MLflow's form).
        model_uuid: a random 32-hex id of this model.
        run_id: the run that logged the model, if any.
        artifact_path: the model's name inside its run.
        metadata: free-form user metadata.
        extra: other top-level fields (kept on a round trip, e.g. ``mlflow_version``).
    """

    flavors: dict[str, dict[str, Any]] = field(default_factory=dict)
    signature: ModelSignature | None = None
    saved_input_example_info: dict[str, Any] | None = None
    utc_time_created: str = field(
        default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    )
    model_uuid: str = field(default_factory=lambda: uuid.uuid4().hex)
    run_id: str | None = None
    artifact_path: str | None = None
    metadata: dict[str, Any] | None = None
    model_size_bytes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def add_flavor(self, name: str, **conf: Any) -> Model:
        """Add (or replace) a flavor's configuration; returns self for chaining."""
        self.flavors[name] = dict(conf)
        return self

    @property
    def pyfunc_conf(self) -> dict[str, Any]:
        """The ``python_function`` configuration, or an error if the model has none."""
        conf = self.flavors.get(PYFUNC_FLAVOR)
        if conf is None:
            raise ModelError(
                f"the model has no {PYFUNC_FLAVOR} flavor (flavors: {', '.join(self.flavors) or 'none'}):"
                " load it with its own flavor's load_model"
            )
        return conf

    def to_dict(self) -> dict[str, Any]:
        """The manifest as plain data, in MLflow's field names."""
        out: dict[str, Any] = dict(self.extra)
        out["flavors"] = self.flavors
        out["utc_time_created"] = self.utc_time_created
        out["model_uuid"] = self.model_uuid
        if self.run_id is not None:
            out["run_id"] = self.run_id
        if self.artifact_path is not None:
            out["artifact_path"] = self.artifact_path
        if self.signature is not None:
            out["signature"] = self.signature.to_dict()
        if self.saved_input_example_info is not None:
            out["saved_input_example_info"] = self.saved_input_example_info
        if self.metadata:
            out["metadata"] = self.metadata
        if self.model_size_bytes is not None:
            out["model_size_bytes"] = self.model_size_bytes
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Model:
        """Read a manifest from plain data (as written by gitml or MLflow)."""
        if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
            raise ModelError("invalid MLmodel: it needs a 'flavors' mapping")
        sig = data.get("signature")
        model = cls(
            flavors={str(k): dict(v or {}) for k, v in data["flavors"].items()},
            signature=ModelSignature.from_dict(sig) if sig else None,
            saved_input_example_info=data.get("saved_input_example_info"),
            run_id=data.get("run_id"),
            artifact_path=data.get("artifact_path"),
            metadata=data.get("metadata"),
            model_size_bytes=data.get("model_size_bytes"),
            extra={k: v for k, v in data.items() if k not in _KNOWN},
        )
        if data.get("utc_time_created") is not None:
            model.utc_time_created = str(data["utc_time_created"])
        if data.get("model_uuid"):
            model.model_uuid = str(data["model_uuid"])
        return model

    def save(self, model_dir: str) -> str:
        """Write ``MLmodel`` into ``model_dir``; returns the file's path."""
        path = os.path.join(model_dir, MLMODEL_FILE)
        with open(path, "w", encoding="utf-8") as f:
            f.write(yamlio.dumps(self.to_dict()))
        return path

    @classmethod
    def load(cls, model_dir: str) -> Model:
        """Read ``<model_dir>/MLmodel`` (``model_dir`` may also be the MLmodel file itself)."""
        path = model_dir if os.path.isfile(model_dir) else os.path.join(model_dir, MLMODEL_FILE)
        if not os.path.isfile(path):
            raise ModelError(
                f"no MLmodel file in {model_dir!r}: point at a model directory (one that has an MLmodel file)"
            )
        try:
            with open(path, "rb") as f:
                data = yamlio.loads(f.read())
        except Exception as e:  # yaml errors carry multi-line text
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ModelError(f"invalid MLmodel in {model_dir!r}: {first}") from None
        return cls.from_dict(data)


def model_file(model_dir: str, relative: str, what: str = "file") -> str:
    """Join ``relative`` (from a manifest) to ``model_dir``, refusing paths that escape it.

    Args:
        model_dir: the model directory.
        relative: a path read from the manifest.
        what: what the path is, for the error message.

    Returns:
        The joined path.

    Raises:
        ModelError: if ``relative`` is absolute or leaves the model directory.
    """
    if not isinstance(relative, str) or not relative:
        raise ModelError(f"invalid MLmodel: the {what} path is missing")
    rel = relative.replace("\\", "/")
    root = os.path.realpath(model_dir)
    full = os.path.realpath(os.path.join(root, rel))
    if os.path.isabs(rel) or os.path.commonpath([root, full]) != root:
        raise ModelError(
            f"refusing {what} path {relative!r}: it escapes the model directory (the MLmodel is corrupt or hostile)"
        )
    return full
