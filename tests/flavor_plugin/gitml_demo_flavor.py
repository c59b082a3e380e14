"""A tiny third-party flavor, registered through the ``gitml.flavors`` entry point group.

It saves ``Lookup`` models (a dict from key to answer) as JSON, with no pickle at all.
"""

from __future__ import annotations

import json
import os
from typing import Any

from gitml.models import Model
from gitml.models.modeldir import create_dir, finish

FLAVOR_NAME = "lookup"


class Lookup:
    """A model answering from a table: ``predict(["a", "b"]) -> [table["a"], table["b"]]``."""

    def __init__(self, table: dict[str, Any], default: Any = None):
        self.table = dict(table)
        self.default = default


def handles(model: Any) -> bool:
    return isinstance(model, Lookup)


def save_model(model: Lookup, path: str, *, mlmodel: Model | None = None, **kwargs: Any) -> Model:
    path = create_dir(path)
    with open(os.path.join(path, "table.json"), "w") as f:
        json.dump({"table": model.table, "default": model.default}, f)
    mlmodel = mlmodel or Model()
    mlmodel.add_flavor("python_function", loader_module=__name__, data="table.json")
    mlmodel.add_flavor(FLAVOR_NAME, table="table.json", format=1)
    return finish(path, mlmodel, inferred_requirements=["gitml-demo-flavor==0.1"], **kwargs)


def load_native(model_dir: str, mlmodel: Model) -> Lookup:
    with open(os.path.join(model_dir, mlmodel.flavors[FLAVOR_NAME]["table"])) as f:
        data = json.load(f)
    return Lookup(data["table"], data["default"])


class _Predictor:
    def __init__(self, model: Lookup):
        self.model = model

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> list[Any]:
        keys = data.iloc[:, 0].tolist() if hasattr(data, "iloc") else list(data)
        return [self.model.table.get(k, self.model.default) for k in keys]


def load_pyfunc(model_dir: str, mlmodel: Model) -> _Predictor:
    return _Predictor(load_native(model_dir, mlmodel))
