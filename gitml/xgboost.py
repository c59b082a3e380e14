"""The xgboost flavor (Boosters and scikit-learn API models in XGBoost's own format) and its autolog."""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from collections.abc import Iterable
from typing import Any

from .autolog.xgboost import autolog
from .errors import ModelError
from .models import flavors, modeldir
from .models.api import ModelInfo
from .models.api import load_model as _load_model
from .models.api import log_model as _log_model
from .models.mlmodel import Model, model_file
from .models.signature import ModelSignature

FLAVOR_NAME = "xgboost"
LOADER_MODULES = ("mlflow.xgboost",)
FORMATS = ("ubj", "json")


def handles(model: Any) -> bool:
    """True for an ``xgboost.Booster`` or ``XGBModel`` (checked without importing xgboost)."""
    if "xgboost" not in sys.modules:
        return False
    import xgboost

    return isinstance(model, (xgboost.Booster, xgboost.XGBModel))


def save_model(
    xgb_model: Any,
    path: str | os.PathLike[str],
    *,
    model_format: str = "ubj",
    input_example: Any = None,
    signature: ModelSignature | None = None,
    pip_requirements: str | Iterable[str] | None = None,
    extra_pip_requirements: str | Iterable[str] | None = None,
    metadata: dict[str, Any] | None = None,
    mlmodel: Model | None = None,
) -> Model:
    """Save a Booster or an XGBClassifier/XGBRegressor/... to a new model directory.

    Args:
        xgb_model: the trained model.
        path: the directory to create.
        model_format: ``ubj`` (binary JSON, default) or ``json``.
        input_example, signature, pip_requirements, extra_pip_requirements, metadata,
            mlmodel: as for :func:`gitml.sklearn.save_model`.

    Returns:
        The written manifest.
    """
    if model_format not in FORMATS:
        raise ModelError(f"unknown model_format {model_format!r}: use one of {', '.join(FORMATS)}")
    if not handles(xgb_model):
        raise ModelError(
            f"a {type(xgb_model).__name__} is not an XGBoost model: save it with gitml.pyfunc.save_model"
        )
    import xgboost

    path = modeldir.create_dir(path)
    try:
        data = f"model.{model_format}"
        xgb_model.save_model(os.path.join(path, data))
        cls = type(xgb_model)
        mlmodel = mlmodel or Model()
        mlmodel.add_flavor(
            "python_function", loader_module=__name__, data=data,
            python_version=modeldir.python_version(), env=dict(modeldir.ENV_CONF),
        )  # fmt: skip
        mlmodel.add_flavor(
            FLAVOR_NAME, xgb_version=xgboost.__version__, data=data,
            model_class=f"{cls.__module__}.{cls.__qualname__}", model_format=model_format, code=None,
        )  # fmt: skip
        return modeldir.finish(
            path, mlmodel, inferred_requirements=[f"xgboost=={xgboost.__version__}"],
            input_example=input_example, signature=signature, pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements, metadata=metadata,
            example_predict=_Predictor(xgb_model).predict,
        )  # fmt: skip
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


def load_native(model_dir: str, mlmodel: Model) -> Any:
    """The Booster or scikit-learn API model (flavor API)."""
    conf = mlmodel.flavors.get(FLAVOR_NAME) or {}
    path = model_file(
        model_dir, conf.get("data") or mlmodel.pyfunc_conf.get("data", "model.ubj"), "data"
    )
    class_path = str(conf.get("model_class") or "xgboost.core.Booster")
    module, _, name = class_path.rpartition(".")
    if not module.startswith("xgboost"):
        raise ModelError(f"model_class {class_path!r} in MLmodel is not an XGBoost class")
    try:
        cls = getattr(importlib.import_module(module), name)
    except ImportError:
        raise ModelError("this model needs xgboost: pip install xgboost") from None
    model = cls()
    model.load_model(path)
    return model


class _Predictor:
    def __init__(self, model: Any):
        self.model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import xgboost

        if isinstance(self.model, xgboost.Booster):
            return self.model.inplace_predict(data)
        return self.model.predict(data)


def load_pyfunc(model_dir: str, mlmodel: Model) -> Any:
    """An object with ``predict(data, params=None)`` (flavor API)."""
    return _Predictor(load_native(model_dir, mlmodel))


def log_model(xgb_model: Any, name: str = "model", **kwargs: Any) -> ModelInfo:
    """Save an XGBoost model into the active run (keyword arguments of :func:`save_model`)."""
    return _log_model(xgb_model, name, flavor=FLAVOR_NAME, **kwargs)


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """Load the XGBoost model of a ``runs:/``, ``models:/`` URI or local path."""
    return _load_model(model_uri, dst_path=dst_path, flavor=FLAVOR_NAME)


if FLAVOR_NAME not in flavors.registry():
    flavors.register(FLAVOR_NAME, __name__)

__all__ = ["autolog", "load_model", "log_model", "save_model"]
