"""Writing the parts every model directory shares: input example, environment files, MLmodel."""

from __future__ import annotations

import base64
import datetime as _dt
import json
import os
import platform
from collections.abc import Iterable
from typing import Any

from .. import yamlio
from ..errors import ModelError
from .mlmodel import Model, model_file
from .requirements import normalize_requirements
from .signature import ModelSignature, infer_signature

INPUT_EXAMPLE_FILE = "input_example.json"
SERVING_EXAMPLE_FILE = "serving_input_example.json"
REQUIREMENTS_FILE = "requirements.txt"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_FILE = "conda.yaml"
ENV_CONF = {"conda": CONDA_FILE, "virtualenv": PYTHON_ENV_FILE}


def create_dir(path: str | os.PathLike[str]) -> str:
    """Create an empty model directory; refuse a path that exists and is not an empty directory."""
    path = os.fspath(path)
    if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
        raise ModelError(
            f"model path {path!r} already exists: choose a new path or remove it first"
        )
    os.makedirs(path, exist_ok=True)
    return path


def jsonable(value: Any) -> Any:
    """Turn numpy/pandas values, bytes and dates into JSON-encodable Python values."""
    import math

    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    mod = type(value).__module__.split(".", 1)[0]
    if mod == "numpy":
        return jsonable(value.tolist())
    if mod == "pandas":
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return jsonable(value.to_dict(orient="records"))
        if isinstance(value, (pd.Series, pd.Index)):
            return jsonable(value.tolist())
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
        if value is pd.NaT or value is pd.NA:
            return None
    raise TypeError(f"cannot encode a {type(value).__name__} as JSON")


def save_input_example(model_dir: str, example: Any) -> dict[str, Any]:
    """Write the input example (and its serving-payload form); return saved_input_example_info."""
    import numpy as np
    import pandas as pd

    info: dict[str, Any] = {
        "artifact_path": INPUT_EXAMPLE_FILE,
        "serving_input_path": SERVING_EXAMPLE_FILE,
    }
    if isinstance(example, pd.Series):
        example = example.to_frame()
    if isinstance(example, pd.DataFrame):
        split = {
            "columns": [str(c) for c in example.columns],
            "data": jsonable(example.to_numpy().tolist()),
        }
        stored, serving = split, {"dataframe_split": split}
        info.update(type="dataframe", pandas_orient="split")
    elif isinstance(example, np.ndarray):
        stored = {"inputs": jsonable(example)}
        serving = stored
        info.update(type="ndarray", format="tf-serving")
    elif isinstance(example, (dict, list, tuple, str, int, float, bool)):
        stored = jsonable(example)
        serving = {"inputs": stored}
        info.update(type="json_object")
    else:
        raise ModelError(
            f"cannot save an input example of type {type(example).__name__}: use a DataFrame, array, dict or list"
        )
    try:
        for name, value in ((INPUT_EXAMPLE_FILE, stored), (SERVING_EXAMPLE_FILE, serving)):
            with open(os.path.join(model_dir, name), "w", encoding="utf-8") as f:
                json.dump(value, f)
    except TypeError as e:
        raise ModelError(f"cannot save the input example as JSON: {e}") from None
    return info


def load_input_example(model_dir: str, mlmodel: Model | None = None) -> Any:
    """Read a model's input example back (a DataFrame, an array, or JSON data); None if it has none."""
    mlmodel = mlmodel or Model.load(model_dir)
    info = mlmodel.saved_input_example_info
    if not info:
        return None
    path = model_file(model_dir, info.get("artifact_path", INPUT_EXAMPLE_FILE), "input example")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    kind = info.get("type")
    if kind == "dataframe":
        import pandas as pd

        if info.get("pandas_orient", "split") == "split":
            return pd.DataFrame(data["data"], columns=data["columns"])
        return pd.DataFrame(data)
    if kind == "ndarray":
        import numpy as np

        inputs = data.get("inputs", data) if isinstance(data, dict) else data
        if isinstance(inputs, dict):
            return {k: np.asarray(v) for k, v in inputs.items()}
        return np.asarray(inputs)
    return data


def write_environment(model_dir: str, requirements: Iterable[str]) -> None:
    """Write requirements.txt, python_env.yaml and conda.yaml (MLflow's layout)."""
    reqs = list(requirements)
    py = platform.python_version()
    with open(os.path.join(model_dir, REQUIREMENTS_FILE), "w", encoding="utf-8") as f:
        f.write("".join(r + "\n" for r in reqs))
    python_env = {
        "python": py,
        "build_dependencies": ["pip", "setuptools", "wheel"],
        "dependencies": ["-r requirements.txt"],
    }
    conda = {
        "name": "gitml-env",
        "channels": ["conda-forge"],
        "dependencies": [f"python={py}", "pip", {"pip": reqs}],
    }
    for name, data in ((PYTHON_ENV_FILE, python_env), (CONDA_FILE, conda)):
        with open(os.path.join(model_dir, name), "w", encoding="utf-8") as f:
            f.write(yamlio.dumps(data))


def finish(
    model_dir: str,
    mlmodel: Model,
    *,
    inferred_requirements: list[str],
    input_example: Any = None,
    signature: ModelSignature | None = None,
    pip_requirements: str | Iterable[str] | None = None,
    extra_pip_requirements: str | Iterable[str] | None = None,
    metadata: dict[str, Any] | None = None,
    example_predict: Any = None,
) -> Model:
    """Write the shared files and the MLmodel of a model directory a flavor has just filled.

    Args:
        model_dir: the directory.
        mlmodel: the manifest with the flavors set.
        inferred_requirements: what the flavor inferred (used unless pip_requirements is given).
        input_example: optional example input; saved, and used to infer a missing signature.
        signature: explicit signature (wins over inference); ``False`` to store none.
        pip_requirements: replace the inferred requirements (a list or a file path).
        extra_pip_requirements: add to the inferred requirements.
        metadata: free-form metadata stored in the manifest.
        example_predict: a callable giving the model's output for the example (for the output
            schema); errors from it are ignored.

    Returns:
        The manifest, as written.
    """
    if pip_requirements is not None and extra_pip_requirements is not None:
        raise ModelError("give pip_requirements or extra_pip_requirements, not both")
    if input_example is not None:
        mlmodel.saved_input_example_info = save_input_example(model_dir, input_example)
        if signature is None:
            output = None
            if example_predict is not None:
                try:
                    output = example_predict(input_example)
                except (
                    Exception
                ):  # the output schema is optional; a failing predict must not block saving
                    output = None
            try:
                signature = infer_signature(input_example, output)
            except ModelError:
                signature = infer_signature(input_example)
    if signature:
        if not isinstance(signature, ModelSignature):
            raise ModelError(
                f"signature must be a ModelSignature (see infer_signature), got {type(signature).__name__}"
            )
        mlmodel.signature = signature
    if metadata:
        mlmodel.metadata = dict(metadata)
    if pip_requirements is not None:
        reqs = normalize_requirements(pip_requirements)
    else:
        reqs = list(inferred_requirements)
        if extra_pip_requirements is not None:
            reqs += [r for r in normalize_requirements(extra_pip_requirements) if r not in reqs]
    write_environment(model_dir, reqs)
    mlmodel.model_size_bytes = _dir_size(model_dir)
    mlmodel.save(model_dir)
    return mlmodel


def _dir_size(path: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total


def python_version() -> str:
    return platform.python_version()
