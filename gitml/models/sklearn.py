"""The sklearn flavor: scikit-learn estimators saved with pickle or cloudpickle.

Reads MLflow's sklearn models too (pickle, cloudpickle, and skops when skops is installed).
Loading a pickle runs code from whoever saved it: load only models you trust.
"""

from __future__ import annotations

import os
import pickle
import shutil
import sys
from collections.abc import Iterable
from typing import Any

from ..errors import ModelError
from . import modeldir
from .mlmodel import Model, model_file
from .requirements import infer_requirements
from .signature import ModelSignature

FLAVOR_NAME = "sklearn"
LOADER_MODULES = ("mlflow.sklearn",)
MODEL_FILE = "model.pkl"
FORMATS = ("cloudpickle", "pickle")
PREDICT_FNS = (
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "transform",
    "score_samples",
)


def handles(model: Any) -> bool:
    """True for scikit-learn estimators (checked without importing scikit-learn)."""
    if "sklearn" not in sys.modules:
        return False
    from sklearn.base import BaseEstimator

    return isinstance(model, BaseEstimator)


def save_model(
    sk_model: Any,
    path: str | os.PathLike[str],
    *,
    serialization_format: str = "cloudpickle",
    pyfunc_predict_fn: str = "predict",
    input_example: Any = None,
    signature: ModelSignature | None = None,
    pip_requirements: str | Iterable[str] | None = None,
    extra_pip_requirements: str | Iterable[str] | None = None,
    metadata: dict[str, Any] | None = None,
    mlmodel: Model | None = None,
) -> Model:
    """Save a scikit-learn estimator to a new model directory.

    Args:
        sk_model: the fitted estimator.
        path: the directory to create (it must not exist, or be empty).
        serialization_format: ``cloudpickle`` (default) or ``pickle``.
        pyfunc_predict_fn: the method the python_function flavor calls (``predict``,
            ``predict_proba``, ...).
        input_example: example input, saved and used to infer a missing signature.
        signature: explicit signature.
        pip_requirements: requirements replacing the inferred ones.
        extra_pip_requirements: requirements added to the inferred ones.
        metadata: free-form metadata for the manifest.
        mlmodel: a manifest to fill (used by log_model to set run_id and artifact_path).

    Returns:
        The written manifest.
    """
    if serialization_format not in FORMATS:
        raise ModelError(
            f"unknown serialization_format {serialization_format!r}: use one of {', '.join(FORMATS)}"
        )
    if pyfunc_predict_fn not in PREDICT_FNS:
        raise ModelError(
            f"unknown pyfunc_predict_fn {pyfunc_predict_fn!r}: use one of {', '.join(PREDICT_FNS)}"
        )
    if not handles(sk_model):
        raise ModelError(
            f"a {type(sk_model).__name__} is not a scikit-learn estimator: save it with gitml.pyfunc.save_model"
        )
    if not callable(getattr(sk_model, pyfunc_predict_fn, None)):
        raise ModelError(
            f"the estimator has no {pyfunc_predict_fn} method: pick another pyfunc_predict_fn"
        )
    import sklearn

    path = modeldir.create_dir(path)
    try:
        if serialization_format == "cloudpickle":
            import cloudpickle

            data = cloudpickle.dumps(sk_model)
        else:
            try:
                data = pickle.dumps(sk_model, protocol=pickle.DEFAULT_PROTOCOL)
            except Exception as e:
                raise ModelError(
                    f"cannot pickle the estimator: {e}; try serialization_format='cloudpickle'"
                ) from None
        with open(os.path.join(path, MODEL_FILE), "wb") as f:
            f.write(data)
        mlmodel = mlmodel or Model()
        mlmodel.add_flavor(
            "python_function",
            loader_module=__name__,
            model_path=MODEL_FILE,
            predict_fn=pyfunc_predict_fn,
            python_version=modeldir.python_version(),
            env=dict(modeldir.ENV_CONF),
        )
        mlmodel.add_flavor(
            FLAVOR_NAME,
            pickled_model=MODEL_FILE,
            serialization_format=serialization_format,
            sklearn_version=sklearn.__version__,
            code=None,
        )
        always = ["scikit-learn"] + (
            ["cloudpickle"] if serialization_format == "cloudpickle" else []
        )
        return modeldir.finish(
            path,
            mlmodel,
            inferred_requirements=infer_requirements([data], always=always),
            input_example=input_example,
            signature=signature,
            pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements,
            metadata=metadata,
            example_predict=getattr(sk_model, pyfunc_predict_fn),
        )
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


def load_native(model_dir: str, mlmodel: Model) -> Any:
    """The estimator (flavor API)."""
    conf = mlmodel.flavors.get(FLAVOR_NAME)
    if conf is None:
        conf = {
            "pickled_model": mlmodel.pyfunc_conf.get("model_path", MODEL_FILE),
            "serialization_format": "pickle",
        }
    fmt = conf.get("serialization_format", "pickle")
    path = model_file(model_dir, conf.get("pickled_model", MODEL_FILE), "pickled_model")
    if not os.path.isfile(path):
        raise ModelError(
            f"the model file {conf.get('pickled_model')!r} is missing from {model_dir!r}"
        )
    try:
        if fmt == "skops":
            return _load_skops(path, conf)
        if fmt not in FORMATS:
            raise ModelError(
                f"unknown sklearn serialization_format {fmt!r} in MLmodel: gitml reads {', '.join(FORMATS)}, skops"
            )
        with open(path, "rb") as f:
            if fmt == "cloudpickle":
                import cloudpickle

                return cloudpickle.load(f)
            return pickle.load(f)
    except ModuleNotFoundError as e:
        raise ModelError(
            f"the model needs module {e.name!r}, which is not importable here: install it (see the model's"
            " requirements.txt), or save local modules with the model through code_paths="
        ) from None


def _load_skops(path: str, conf: dict[str, Any]) -> Any:
    try:
        import skops.io
    except ImportError:
        raise ModelError(
            "this model is saved in the skops format: pip install skops to load it"
        ) from None
    trusted = conf.get("skops_trusted_types")
    try:
        return skops.io.load(path, trusted=trusted)
    except Exception as e:  # skops refuses untrusted types with its own exception
        raise ModelError(f"skops refused to load the model: {str(e).splitlines()[0]}") from None


class _Predictor:
    def __init__(self, model: Any, predict_fn: str):
        self.model = model
        self.predict_fn = predict_fn
        fn = getattr(model, predict_fn, None)
        if not callable(fn):
            raise ModelError(
                f"the estimator has no {predict_fn} method (python_function.predict_fn in MLmodel)"
            )
        self._fn = fn

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self._fn(data)


def load_pyfunc(model_dir: str, mlmodel: Model) -> Any:
    """An object with ``predict(data, params=None)`` (flavor API)."""
    fn = mlmodel.pyfunc_conf.get("predict_fn", "predict")
    return _Predictor(load_native(model_dir, mlmodel), fn)


def _load_pyfunc(data_path: str, model_config: dict[str, Any] | None = None) -> Any:
    """MLflow's loader hook, so ``mlflow.pyfunc.load_model`` reads gitml sklearn models too."""
    model_dir = os.path.dirname(data_path) if os.path.isfile(data_path) else data_path
    return load_pyfunc(model_dir, Model.load(model_dir))


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """Load the scikit-learn estimator of a model (a URI: ``runs:/``, ``models:/`` or a path)."""
    from . import load_model as _load

    return _load(model_uri, dst_path=dst_path, flavor=FLAVOR_NAME)
