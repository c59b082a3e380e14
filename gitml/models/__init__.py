"""Models: flavored model directories (MLmodel), signatures, URIs, loading and the registry.

``save_model``/``log_model`` pick the flavor from the object; ``load_model`` reads it from
the model's MLmodel. numpy, pandas and scikit-learn are imported only when used.
"""

from __future__ import annotations

from .api import ModelInfo, load_model, log_model, save_model
from .flavors import ENTRY_POINT_GROUP, Flavor
from .flavors import register as register_flavor
from .loaded import PyFuncModel
from .mlmodel import Model
from .pyfunc import PythonModel, PythonModelContext
from .signature import (
    ColSpec,
    ModelSignature,
    ParamSchema,
    ParamSpec,
    Schema,
    TensorSpec,
    infer_signature,
)
from .uri import UntrustedModelWarning

__all__ = [
    "ENTRY_POINT_GROUP",
    "ColSpec",
    "Flavor",
    "Model",
    "ModelInfo",
    "ModelSignature",
    "ParamSchema",
    "ParamSpec",
    "PyFuncModel",
    "PythonModel",
    "PythonModelContext",
    "Schema",
    "TensorSpec",
    "UntrustedModelWarning",
    "infer_signature",
    "load_model",
    "log_model",
    "register_flavor",
    "save_model",
]
