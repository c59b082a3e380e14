"""The lightgbm flavor (Boosters as LightGBM text, scikit-learn API models pickled) and its autolog."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable
from typing import Any

from .autolog.lightgbm import autolog
from .errors import ModelError
from .models import flavors, modeldir
from .models.api import ModelInfo
from .models.api import load_model as _load_model
from .models.api import log_model as _log_model
from .models.mlmodel import Model, model_file
from .models.signature import ModelSignature

FLAVOR_NAME = "lightgbm"
LOADER_MODULES = ("mlflow.lightgbm",)
BOOSTER_FILE = "model.lgb"
PICKLE_FILE = "model.pkl"


def handles(model: Any) -> bool:
    """True for a ``lightgbm.Booster`` or ``LGBMModel`` (checked without importing lightgbm)."""
    if "lightgbm" not in sys.modules:
        return False
    import lightgbm

    return isinstance(model, (lightgbm.Booster, lightgbm.LGBMModel))


def save_model(
    lgb_model: Any,
    path: str | os.PathLike[str],
    *,
    input_example: Any = None,
    signature: ModelSignature | None = None,
    pip_requirements: str | Iterable[str] | None = None,
    extra_pip_requirements: str | Iterable[str] | None = None,
    metadata: dict[str, Any] | None = None,
    mlmodel: Model | None = None,
) -> Model:
    """Save a Booster (LightGBM's text format) or an LGBMClassifier/... (cloudpickle) to a new directory.

    Args:
        lgb_model: the trained model.
        path: the directory to create.
        input_example, signature, pip_requirements, extra_pip_requirements, metadata,
            mlmodel: as for :func:`gitml.sklearn.save_model`.

    Returns:
        The written manifest.
    """
    if not handles(lgb_model):
        raise ModelError(
            f"a {type(lgb_model).__name__} is not a LightGBM model: save it with gitml.pyfunc.save_model"
        )
    import lightgbm

    path = modeldir.create_dir(path)
    try:
        always = [f"lightgbm=={lightgbm.__version__}"]
        if isinstance(lgb_model, lightgbm.Booster):
            data = BOOSTER_FILE
            lgb_model.save_model(os.path.join(path, data))
        else:
            import cloudpickle

            data = PICKLE_FILE
            with open(os.path.join(path, data), "wb") as f:
                cloudpickle.dump(lgb_model, f)
            always.append(f"cloudpickle=={cloudpickle.__version__}")
        cls = type(lgb_model)
        mlmodel = mlmodel or Model()
        mlmodel.add_flavor(
            "python_function", loader_module=__name__, data=data,
            python_version=modeldir.python_version(), env=dict(modeldir.ENV_CONF),
        )  # fmt: skip
        mlmodel.add_flavor(
            FLAVOR_NAME, lgb_version=lightgbm.__version__, data=data,
            model_class=f"{cls.__module__}.{cls.__qualname__}", code=None,
        )  # fmt: skip
        return modeldir.finish(
            path, mlmodel, inferred_requirements=always, input_example=input_example, signature=signature,
            pip_requirements=pip_requirements, extra_pip_requirements=extra_pip_requirements,
            metadata=metadata, example_predict=lgb_model.predict,
        )  # fmt: skip
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


def load_native(model_dir: str, mlmodel: Model) -> Any:
    """The Booster or scikit-learn API model (flavor API)."""
    conf = mlmodel.flavors.get(FLAVOR_NAME) or {}
    data = str(conf.get("data") or mlmodel.pyfunc_conf.get("data", BOOSTER_FILE))
    path = model_file(model_dir, data, "data")
    try:
        import lightgbm
    except ImportError:
        raise ModelError("this model needs lightgbm: pip install lightgbm") from None
    if data.endswith(".pkl"):
        import cloudpickle

        with open(path, "rb") as f:
            return cloudpickle.load(f)
    return lightgbm.Booster(model_file=path)


class _Predictor:
    def __init__(self, model: Any):
        self.model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.model.predict(data)


def load_pyfunc(model_dir: str, mlmodel: Model) -> Any:
    """An object with ``predict(data, params=None)`` (flavor API)."""
    return _Predictor(load_native(model_dir, mlmodel))


def log_model(lgb_model: Any, name: str = "model", **kwargs: Any) -> ModelInfo:
    """Save a LightGBM model into the active run (keyword arguments of :func:`save_model`)."""
    return _log_model(lgb_model, name, flavor=FLAVOR_NAME, **kwargs)


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """Load the LightGBM model of a ``runs:/``, ``models:/`` URI or local path."""
    return _load_model(model_uri, dst_path=dst_path, flavor=FLAVOR_NAME)


if FLAVOR_NAME not in flavors.registry():
    flavors.register(FLAVOR_NAME, __name__)

__all__ = ["autolog", "load_model", "log_model", "save_model"]
