"""Interoperability with MLflow (a test extra): each tool loads the other's model directories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("mlflow")
import mlflow  # noqa: E402
import mlflow.pyfunc  # noqa: E402
import mlflow.sklearn  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

import gitml  # noqa: E402
from gitml.errors import ModelError  # noqa: E402

X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [1, 5, 2, 7]})
Y = [0, 1, 0, 1]


@pytest.fixture(autouse=True)
def _allow_pickles(monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")


@pytest.fixture(scope="module")
def clf() -> LogisticRegression:
    return LogisticRegression().fit(X, Y)


@pytest.mark.parametrize("fmt", ["pickle", "cloudpickle", "skops"])
def test_gitml_loads_mlflow_sklearn_models(tmp_path, clf, fmt):
    if fmt == "skops":
        pytest.importorskip("skops")
    path = str(tmp_path / "m")
    mlflow.sklearn.save_model(clf, path, serialization_format=fmt, input_example=X[:2])
    model = gitml.load_model(path)
    assert model.predict(X).tolist() == clf.predict(X).tolist()
    assert (
        model.predict(X[["b", "a"]]).tolist() == clf.predict(X).tolist()
    )  # MLflow's signature enforced
    with pytest.raises(ModelError, match="missing column 'b'"):
        model.predict(X[["a"]])
    assert isinstance(gitml.sklearn.load_model(path), LogisticRegression)


class Doubler(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["factor"]) as f:
            self.factor = float(f.read())

    def predict(self, context, model_input, params=None):
        return model_input * self.factor


def test_gitml_loads_mlflow_python_models(tmp_path):
    factor = tmp_path / "factor.txt"
    factor.write_text("2")
    path = str(tmp_path / "m")
    mlflow.pyfunc.save_model(
        path, python_model=Doubler(), artifacts={"factor": str(factor)}, input_example=X[:2]
    )
    model = gitml.load_model(path)
    out = model.predict(X)
    assert out["a"].tolist() == [2.0, 4.0, 6.0, 8.0]
    assert model.unwrap_python_model().factor == 2.0


def test_mlflow_loads_gitml_sklearn_models(tmp_path, clf):
    path = str(tmp_path / "m")
    gitml.sklearn.save_model(clf, path, serialization_format="pickle", input_example=X[:2])
    assert mlflow.sklearn.load_model(path).predict(X).tolist() == clf.predict(X).tolist()
    pyfunc = mlflow.pyfunc.load_model(path)  # calls gitml.models.sklearn._load_pyfunc
    assert list(pyfunc.predict(X)) == clf.predict(X).tolist()
    assert pyfunc.metadata.signature.inputs.input_names() == ["a", "b"]


def test_mlflow_loads_gitml_python_models(tmp_path):
    path = str(tmp_path / "m")
    gitml.pyfunc.save_model(lambda df: df["a"] + 1, path, input_example=X[:2])
    pyfunc = mlflow.pyfunc.load_model(path)  # calls gitml.models.pyfunc._load_pyfunc
    assert list(pyfunc.predict(X)) == [2.0, 3.0, 4.0, 5.0]


def test_mlmodel_fields_read_by_mlflow(tmp_path, clf):
    from mlflow.models import Model as MlflowModel

    path = str(tmp_path / "m")
    gitml.sklearn.save_model(clf, path, input_example=X[:2])
    m = MlflowModel.load(path)
    assert set(m.flavors) == {"python_function", "sklearn"}
    assert m.saved_input_example_info["type"] == "dataframe"
    assert len(m.model_uuid) == 32
    ex = m.load_input_example(path)
    pd.testing.assert_frame_equal(ex, X[:2].reset_index(drop=True))
    assert np.array_equal(mlflow.pyfunc.load_model(path).predict(ex), clf.predict(X[:2]))
