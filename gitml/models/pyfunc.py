"""The python_function flavor: any object with ``predict``, a callable, or a PythonModel.

The object is serialized with cloudpickle. Loading runs code from whoever saved the
model: load only models you trust.
"""

from __future__ import annotations

import inspect
import os
import shutil
from collections.abc import Iterable
from typing import Any

from ..errors import ModelError
from ..keys import validate_key
from . import modeldir
from .mlmodel import PYFUNC_FLAVOR, Model, model_file
from .requirements import infer_requirements
from .signature import ModelSignature

FLAVOR_NAME = PYFUNC_FLAVOR
LOADER_MODULES = ("mlflow.pyfunc.model",)
PYTHON_MODEL_FILE = "python_model.pkl"
CODE_DIR = "code"
ARTIFACTS_DIR = "artifacts"


class PythonModelContext:
    """What ``load_context`` and ``predict`` receive: local artifact paths and the model config."""

    def __init__(
        self, artifacts: dict[str, str] | None = None, model_config: dict[str, Any] | None = None
    ):
        self.artifacts = dict(artifacts or {})
        self.model_config = dict(model_config or {})

    def __repr__(self) -> str:
        return (
            f"PythonModelContext(artifacts={self.artifacts!r}, model_config={self.model_config!r})"
        )


class PythonModel:
    """Base class of custom models: override ``predict`` (and ``load_context`` if needed).

    Example:
        >>> class AddN(PythonModel):
        ...     def __init__(self, n): self.n = n
        ...     def predict(self, context, model_input, params=None): return model_input + self.n
    """

    def load_context(self, context: PythonModelContext) -> None:
        """Called once after loading, with the model's artifacts; load heavy state here."""

    def predict(
        self, context: PythonModelContext, model_input: Any, params: dict[str, Any] | None = None
    ) -> Any:
        """Return predictions for ``model_input``."""
        raise NotImplementedError(
            "PythonModel subclasses must implement predict(context, model_input, params=None)"
        )


def handles(model: Any) -> bool:
    """Any object with a ``predict`` method, or any callable."""
    return callable(getattr(model, "predict", None)) or callable(model)


def save_model(
    python_model: Any,
    path: str | os.PathLike[str],
    *,
    artifacts: dict[str, str] | None = None,
    code_paths: Iterable[str] | None = None,
    input_example: Any = None,
    signature: ModelSignature | None = None,
    pip_requirements: str | Iterable[str] | None = None,
    extra_pip_requirements: str | Iterable[str] | None = None,
    metadata: dict[str, Any] | None = None,
    model_config: dict[str, Any] | None = None,
    mlmodel: Model | None = None,
) -> Model:
    """Save a python model (PythonModel, object with ``predict``, or callable) to a new directory.

    Args:
        python_model: the model.
        path: the directory to create (it must not exist, or be empty).
        artifacts: name -> local file or directory copied into the model; at load time
            ``context.artifacts[name]`` is its local path.
        code_paths: local files or directories copied under ``code/`` and put on
            ``sys.path`` when the model is loaded (for modules the model imports).
        input_example: example input, saved and used to infer a missing signature.
        signature: explicit signature.
        pip_requirements: requirements replacing the inferred ones.
        extra_pip_requirements: requirements added to the inferred ones.
        metadata: free-form metadata for the manifest.
        model_config: configuration handed to the model as ``context.model_config``.
        mlmodel: a manifest to fill (used by log_model to set run_id and artifact_path).

    Returns:
        The written manifest.
    """
    import cloudpickle

    if not handles(python_model):
        raise ModelError(
            f"cannot save a {type(python_model).__name__} as python_function: it needs a predict method or must be callable"
        )
    path = modeldir.create_dir(path)
    try:
        conf: dict[str, Any] = {
            "loader_module": __name__,
            "python_model": PYTHON_MODEL_FILE,
            "cloudpickle_version": cloudpickle.__version__,
            "python_version": modeldir.python_version(),
            "env": dict(modeldir.ENV_CONF),
        }
        if code_paths:
            conf["code"] = _copy_code_paths(path, code_paths)
        if artifacts:
            conf["artifacts"] = _copy_artifacts(path, artifacts)
        if model_config:
            conf["model_config"] = dict(model_config)
        try:
            data = cloudpickle.dumps(python_model)
        except Exception as e:
            raise ModelError(f"cannot pickle the model with cloudpickle: {e}") from None
        with open(os.path.join(path, PYTHON_MODEL_FILE), "wb") as f:
            f.write(data)
        mlmodel = mlmodel or Model()
        mlmodel.add_flavor(FLAVOR_NAME, **conf)
        impl = _Wrapper(
            python_model,
            PythonModelContext(
                {
                    k: os.path.join(path, v["path"])
                    for k, v in (conf.get("artifacts") or {}).items()
                },
                model_config,
            ),
        )
        if isinstance(python_model, PythonModel) or _is_mlflow_python_model(python_model):
            try:
                python_model.load_context(impl.context)
            except Exception:  # only needed for the example's output schema
                pass
        return modeldir.finish(
            path,
            mlmodel,
            inferred_requirements=infer_requirements([data], always=["cloudpickle"]),
            input_example=input_example,
            signature=signature,
            pip_requirements=pip_requirements,
            extra_pip_requirements=extra_pip_requirements,
            metadata=metadata,
            example_predict=lambda x: impl.predict(x),
        )
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


def _copy_code_paths(model_dir: str, code_paths: Iterable[str]) -> str:
    dest = os.path.join(model_dir, CODE_DIR)
    os.makedirs(dest, exist_ok=True)
    for src in code_paths:
        src = os.fspath(src)
        name = os.path.basename(os.path.normpath(src))
        target = os.path.join(dest, name)
        if os.path.exists(target):
            raise ModelError(f"two code paths are named {name!r}: rename one")
        if os.path.isdir(src):
            shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif os.path.isfile(src):
            shutil.copy2(src, target)
        else:
            raise ModelError(
                f"code path {src!r} does not exist: give existing files or directories"
            )
    return CODE_DIR


def _copy_artifacts(model_dir: str, artifacts: dict[str, str]) -> dict[str, dict[str, str]]:
    out = {}
    for name, src in artifacts.items():
        validate_key(name, "artifact name")
        if "/" in name:
            raise ModelError(f"invalid artifact name {name!r}: use one word, without '/'")
        src = os.fspath(src)
        base = os.path.basename(os.path.normpath(src))
        rel = f"{ARTIFACTS_DIR}/{name}/{base}"
        target = os.path.join(model_dir, ARTIFACTS_DIR, name, base)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.isdir(src):
            shutil.copytree(src, target)
        elif os.path.isfile(src):
            shutil.copy2(src, target)
        else:
            raise ModelError(
                f"artifact {name!r}: {src!r} does not exist (artifacts are local files or directories)"
            )
        out[name] = {"path": rel}
    return out


def _is_mlflow_python_model(obj: Any) -> bool:
    return any(
        c.__name__ == "PythonModel" and c.__module__.startswith("mlflow.")
        for c in type(obj).__mro__
    )


def _accepts_params(fn: Any) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return "params" in sig.parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()
    )


class _Wrapper:
    """Gives any saved python model the ``predict(data, params=None)`` form."""

    def __init__(self, model: Any, context: PythonModelContext):
        self.model = model
        self.context = context
        predict = getattr(model, "predict", None)
        self._fn = predict if callable(predict) else model
        self._with_context = False
        if isinstance(model, PythonModel) or _is_mlflow_python_model(model):
            try:
                positional = [
                    p.name
                    for p in inspect.signature(self._fn).parameters.values()
                    if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "params"
                ]
            except (TypeError, ValueError):
                positional = ["context", "model_input"]
            self._with_context = len(positional) >= 2 or positional[:1] == ["context"]
        self._params = _accepts_params(self._fn)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        args = (self.context, data) if self._with_context else (data,)
        if self._params:
            return self._fn(*args, params=params)
        return self._fn(*args)


def _load_object(model_dir: str, mlmodel: Model) -> tuple[Any, PythonModelContext]:
    import cloudpickle

    conf = mlmodel.pyfunc_conf
    pkl = model_file(model_dir, conf.get("python_model", PYTHON_MODEL_FILE), "python_model")
    if conf.get("compression"):
        raise ModelError(
            f"this model's python_model is compressed ({conf['compression']}): gitml reads uncompressed pickles only"
        )
    try:
        with open(pkl, "rb") as f:
            obj = cloudpickle.load(f)
    except FileNotFoundError:
        raise ModelError(
            f"the model file {conf.get('python_model')!r} is missing from {model_dir!r}"
        ) from None
    except ModuleNotFoundError as e:
        raise ModelError(
            f"the model needs module {e.name!r}, which is not importable here: install it (see the model's"
            " requirements.txt), or save local modules with the model through code_paths="
        ) from None
    artifacts = {
        name: model_file(
            model_dir, spec["path"] if isinstance(spec, dict) else spec, f"artifact {name!r}"
        )
        for name, spec in (conf.get("artifacts") or {}).items()
    }
    context = PythonModelContext(artifacts, conf.get("model_config"))
    if _is_mlflow_python_model(obj):
        context = _mlflow_context(artifacts, conf.get("model_config"))
    if hasattr(obj, "load_context"):
        obj.load_context(context)
    return obj, context


def _mlflow_context(artifacts: dict[str, str], model_config: dict[str, Any] | None) -> Any:
    try:
        from mlflow.pyfunc import PythonModelContext as MlflowContext

        return MlflowContext(artifacts=artifacts, model_config=model_config or {})
    except Exception:  # a newer or older mlflow: our context has the same attributes
        return PythonModelContext(artifacts, model_config)


def load_native(model_dir: str, mlmodel: Model) -> Any:
    """The saved object itself (flavor API)."""
    return _load_object(model_dir, mlmodel)[0]


def load_pyfunc(model_dir: str, mlmodel: Model) -> Any:
    """An object with ``predict(data, params=None)`` (flavor API)."""
    return _Wrapper(*_load_object(model_dir, mlmodel))


def _load_pyfunc(data_path: str, model_config: dict[str, Any] | None = None) -> Any:
    """MLflow's loader hook, so ``mlflow.pyfunc.load_model`` reads gitml python models too."""
    model_dir = os.path.dirname(data_path) if os.path.isfile(data_path) else data_path
    return load_pyfunc(model_dir, Model.load(model_dir))


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """Load any model as a generic python_function model (see ``gitml.models.load_model``)."""
    from . import load_model as _load

    return _load(model_uri, dst_path=dst_path)
