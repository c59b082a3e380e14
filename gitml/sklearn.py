"""The sklearn flavor's public API: ``gitml.sklearn.save_model``, ``log_model``, ``load_model``."""

from __future__ import annotations

from typing import Any

from .models.api import ModelInfo
from .models.api import load_model as _load_model
from .models.api import log_model as _log_model
from .models.sklearn import save_model


def log_model(sk_model: Any, name: str = "model", **kwargs: Any) -> ModelInfo:
    """Save a scikit-learn estimator into the active run.

    Takes the keyword arguments of :func:`save_model` plus ``run_id`` and
    ``registered_model_name``; see :func:`gitml.models.log_model`.
    """
    return _log_model(sk_model, name, flavor="sklearn", **kwargs)


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """Load the scikit-learn estimator of a model (``runs:/``, ``models:/`` or a local path)."""
    return _load_model(model_uri, dst_path=dst_path, flavor="sklearn")


__all__ = ["ModelInfo", "load_model", "log_model", "save_model"]

from .autolog.sklearn import autolog  # noqa: E402,F401
