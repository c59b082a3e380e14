"""The python_function flavor's public API: ``gitml.pyfunc.save_model``, ``log_model``, ``load_model``."""

from __future__ import annotations

from typing import Any

from .models.api import ModelInfo
from .models.api import load_model as _load_model
from .models.api import log_model as _log_model
from .models.loaded import PyFuncModel
from .models.pyfunc import PythonModel, PythonModelContext, save_model
from .models.signature import ModelSignature, infer_signature


def log_model(python_model: Any, name: str = "model", **kwargs: Any) -> ModelInfo:
    """Save ``python_model`` (PythonModel, object with ``predict``, or callable) into the active run.

    Takes the keyword arguments of :func:`save_model` plus ``run_id`` and
    ``registered_model_name``; see :func:`gitml.models.log_model`.
    """
    return _log_model(python_model, name, flavor="python_function", **kwargs)


def load_model(model_uri: str, dst_path: str | None = None) -> PyFuncModel:
    """Load any model as a PyFuncModel: ``predict(data, params=None)`` with its signature enforced."""
    return _load_model(model_uri, dst_path=dst_path)


__all__ = [
    "ModelInfo",
    "ModelSignature",
    "PyFuncModel",
    "PythonModel",
    "PythonModelContext",
    "infer_signature",
    "load_model",
    "log_model",
    "save_model",
]
