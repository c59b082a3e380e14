"""A loaded model behind one interface: ``PyFuncModel.predict(data, params)`` with its signature enforced."""

from __future__ import annotations

import os
import sys
from typing import Any

from ..errors import ModelError
from . import flavors
from .mlmodel import Model, model_file
from .signature import enforce_params, enforce_schema


class PyFuncModel:
    """A model loaded through its python_function flavor.

    Attributes:
        metadata: the model's MLmodel manifest.
        model_dir: the local directory it was loaded from.
    """

    def __init__(self, impl: Any, metadata: Model, model_dir: str):
        self._impl = impl
        self.metadata = metadata
        self.model_dir = model_dir

    @property
    def signature(self) -> Any:
        return self.metadata.signature

    @property
    def loader_module(self) -> str:
        return str(self.metadata.pyfunc_conf.get("loader_module"))

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Predict on ``data`` after checking it against the model's signature.

        Args:
            data: a DataFrame, array, dict, list or scalar (what the model takes).
            params: inference parameters, checked against the signature's params.

        Raises:
            ModelError: the input does not match the signature (the message names the column).
        """
        sig = self.metadata.signature
        if sig is not None and sig.inputs is not None:
            data = enforce_schema(data, sig.inputs)
        if sig is not None and (sig.params is not None or params):
            params = enforce_params(params, sig.params)
        return self._impl.predict(data, params)

    def unwrap_python_model(self) -> Any:
        """The underlying object (the PythonModel, the estimator, ...)."""
        return getattr(self._impl, "model", self._impl)

    def __repr__(self) -> str:
        flavors_ = ", ".join(self.metadata.flavors)
        return f"<PyFuncModel loader_module={self.loader_module!r} flavors=[{flavors_}]>"


def add_code_paths(model_dir: str, mlmodel: Model) -> None:
    """Put the model's ``code/`` directory (if any) on ``sys.path`` for its pickles to import."""
    for conf in mlmodel.flavors.values():
        code = conf.get("code") if isinstance(conf, dict) else None
        if code:
            path = model_file(model_dir, code, "code")
            if os.path.isdir(path) and path not in sys.path:
                sys.path.insert(0, path)


def load_pyfunc_dir(model_dir: str) -> PyFuncModel:
    """Load the model in a local directory as a PyFuncModel."""
    mlmodel = Model.load(model_dir)
    conf = mlmodel.pyfunc_conf
    loader = conf.get("loader_module")
    if not loader:
        raise ModelError("invalid MLmodel: python_function has no loader_module")
    flavor = flavors.for_loader_module(str(loader))
    if flavor is None:
        raise ModelError(
            f"unknown flavor: no installed flavor loads models of loader_module {loader!r}"
            f" (install the package that provides it; entry point group {flavors.ENTRY_POINT_GROUP})"
        )
    add_code_paths(model_dir, mlmodel)
    return PyFuncModel(flavor.load_pyfunc(model_dir, mlmodel), mlmodel, model_dir)


def load_native_dir(model_dir: str, flavor_name: str) -> Any:
    """Load the native object of flavor ``flavor_name`` from a local model directory."""
    mlmodel = Model.load(model_dir)
    if flavor_name not in mlmodel.flavors:
        raise ModelError(
            f"the model has no {flavor_name} flavor (it has: {', '.join(mlmodel.flavors) or 'none'}):"
            " load it with gitml.pyfunc.load_model or its own flavor"
        )
    flavor = flavors.get(flavor_name)
    add_code_paths(model_dir, mlmodel)
    return flavor.load_native(model_dir, mlmodel)
