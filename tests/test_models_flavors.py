"""Flavors on local paths: sklearn and python_function round trips, MLmodel fields, safety errors."""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LinearRegression, LogisticRegression

import gitml
from gitml.errors import ModelError
from gitml.models import Model, PythonModel, infer_signature
from gitml.models.modeldir import load_input_example
from gitml.models.signature import ColSpec, ModelSignature, ParamSchema, ParamSpec, Schema

ROOT = str(Path(gitml.__file__).resolve().parents[1])
X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [1, 5, 2, 7]})
Y = [0, 1, 0, 1]


@pytest.fixture(scope="module")
def clf() -> LogisticRegression:
    return LogisticRegression().fit(X, Y)


def _files(path: Path) -> dict[str, str]:
    return {
        str(p.relative_to(path)): p.read_bytes().decode("utf-8", "replace")
        for p in path.rglob("*")
        if p.is_file() and p.suffix != ".pkl"
    }


# ------------------------------------------------------------------ sklearn


@pytest.mark.parametrize("fmt", ["cloudpickle", "pickle"])
def test_sklearn_round_trip(tmp_path, clf, fmt):
    path = tmp_path / "m"
    gitml.sklearn.save_model(clf, path, serialization_format=fmt, input_example=X[:2])
    assert sorted(os.listdir(path)) == sorted(
        ["MLmodel", "model.pkl", "requirements.txt", "python_env.yaml", "conda.yaml",
         "input_example.json", "serving_input_example.json"]
    )  # fmt: skip
    native = gitml.sklearn.load_model(str(path))
    assert isinstance(native, LogisticRegression)
    assert native.predict(X).tolist() == clf.predict(X).tolist()
    model = gitml.load_model(str(path))
    assert model.predict(X).tolist() == clf.predict(X).tolist()
    assert model.unwrap_python_model() is not None
    manifest = yaml.safe_load((path / "MLmodel").read_text())
    assert manifest["flavors"]["sklearn"]["serialization_format"] == fmt
    assert manifest["flavors"]["sklearn"]["sklearn_version"]
    assert manifest["flavors"]["python_function"]["loader_module"] == "gitml.models.sklearn"
    assert manifest["flavors"]["python_function"]["env"] == {
        "conda": "conda.yaml",
        "virtualenv": "python_env.yaml",
    }
    assert re.fullmatch(r"[0-9a-f]{32}", manifest["model_uuid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", manifest["utc_time_created"])
    assert manifest["saved_input_example_info"]["type"] == "dataframe"
    assert json.loads(manifest["signature"]["inputs"]) == [
        {"type": "double", "name": "a", "required": True},
        {"type": "long", "name": "b", "required": True},
    ]
    reqs = (path / "requirements.txt").read_text().split()
    import cloudpickle
    import sklearn

    assert f"scikit-learn=={sklearn.__version__}" in reqs
    assert f"numpy=={np.__version__}" in reqs
    assert (f"cloudpickle=={cloudpickle.__version__}" in reqs) == (fmt == "cloudpickle")
    assert "pandas" not in " ".join(reqs)  # the estimator does not import pandas when loaded
    conda = yaml.safe_load((path / "conda.yaml").read_text())
    assert conda["dependencies"][-1] == {"pip": reqs}
    for name, text in _files(path).items():
        assert str(tmp_path) not in text, f"{name} stores an absolute path"


def test_sklearn_predict_fn_and_columns_by_name(tmp_path, clf):
    gitml.sklearn.save_model(
        clf, tmp_path / "m", pyfunc_predict_fn="predict_proba", input_example=X
    )
    model = gitml.load_model(tmp_path / "m")
    shuffled = X[["b", "a"]]
    assert np.allclose(model.predict(shuffled), clf.predict_proba(X))


def test_sklearn_errors(tmp_path, clf):
    with pytest.raises(
        ModelError, match="unknown serialization_format 'json': use one of cloudpickle, pickle"
    ):
        gitml.sklearn.save_model(clf, tmp_path / "a", serialization_format="json")
    with pytest.raises(ModelError, match="unknown pyfunc_predict_fn 'fit'"):
        gitml.sklearn.save_model(clf, tmp_path / "a", pyfunc_predict_fn="fit")
    with pytest.raises(ModelError, match="no predict_proba method"):
        gitml.sklearn.save_model(
            LinearRegression().fit(X, Y), tmp_path / "a", pyfunc_predict_fn="predict_proba"
        )
    with pytest.raises(
        ModelError, match="is not a scikit-learn estimator: save it with gitml.pyfunc.save_model"
    ):
        gitml.sklearn.save_model(object(), tmp_path / "a")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(ModelError, match="already exists: choose a new path or remove it first"):
        gitml.sklearn.save_model(clf, tmp_path / "full")
    bad = LogisticRegression().fit(X, Y)
    bad.hook = lambda v: v  # plain pickle cannot take a lambda
    with pytest.raises(
        ModelError, match="cannot pickle the estimator.*try serialization_format='cloudpickle'"
    ):
        gitml.sklearn.save_model(bad, tmp_path / "p", serialization_format="pickle")
    assert not (tmp_path / "p").exists(), "a failed save leaves no half-written directory"
    assert not (tmp_path / "a").exists()


def test_load_errors(tmp_path, clf):
    with pytest.raises(ModelError, match="no model at .*: the directory does not exist"):
        gitml.load_model(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="is not a model directory: it has no MLmodel file"):
        gitml.load_model(tmp_path / "empty")
    gitml.sklearn.save_model(clf, tmp_path / "m")
    with pytest.raises(
        ModelError, match="the model has no xgboost flavor \\(it has: python_function, sklearn\\)"
    ):
        gitml.models.load_model(tmp_path / "m", flavor="xgboost")
    with pytest.raises(ModelError, match="unsupported model URI scheme 's3'"):
        gitml.load_model("s3://bucket/model")
    (tmp_path / "m" / "MLmodel").write_text("flavors: [unclosed")
    with pytest.raises(ModelError, match="invalid MLmodel in"):
        gitml.load_model(tmp_path / "m")


def _tamper(path: Path, edit) -> None:
    manifest = yaml.safe_load((path / "MLmodel").read_text())
    edit(manifest)
    (path / "MLmodel").write_text(yaml.safe_dump(manifest))


def test_paths_escaping_the_model_directory_are_refused(tmp_path, clf):
    path = tmp_path / "m"
    gitml.sklearn.save_model(clf, path, serialization_format="pickle")
    outside = tmp_path / "outside.pkl"
    outside.write_bytes(pickle.dumps(clf))

    def escape(m):
        m["flavors"]["sklearn"]["pickled_model"] = "../outside.pkl"

    _tamper(path, escape)
    with pytest.raises(
        ModelError,
        match="refusing pickled_model path '../outside.pkl': it escapes the model directory",
    ):
        gitml.sklearn.load_model(str(path))

    def absolute(m):
        m["flavors"]["sklearn"]["pickled_model"] = str(outside)

    _tamper(path, absolute)
    with pytest.raises(ModelError, match="it escapes the model directory"):
        gitml.sklearn.load_model(str(path))
    # a symlink inside the directory that points outside is refused as well
    _tamper(path, lambda m: m["flavors"]["sklearn"].update(pickled_model="link.pkl"))
    os.symlink(outside, path / "link.pkl")
    with pytest.raises(ModelError, match="it escapes the model directory"):
        gitml.sklearn.load_model(str(path))


def test_unknown_flavor_is_rejected(tmp_path, clf):
    path = tmp_path / "m"
    gitml.sklearn.save_model(clf, path)
    _tamper(path, lambda m: m["flavors"]["python_function"].update(loader_module="evil.module"))
    with pytest.raises(
        ModelError,
        match="unknown flavor: no installed flavor loads models of loader_module 'evil.module'",
    ):
        gitml.load_model(path)
    assert "evil" not in sys.modules
    with pytest.raises(ModelError, match="unknown flavor 'nope'"):
        gitml.models.save_model(clf, tmp_path / "x", flavor="nope")
    with pytest.raises(ModelError, match="no flavor can save a builtins.int"):
        gitml.models.save_model(3, tmp_path / "y")


# ------------------------------------------------------------------ python_function


class AddN(PythonModel):
    def __init__(self, n: float):
        self.n = n
        self.loaded = None

    def load_context(self, context):
        with open(context.artifacts["offset"]) as f:
            self.loaded = float(f.read())

    def predict(self, context, model_input, params=None):
        scale = (params or {}).get("scale", 1.0)
        return (model_input["x"] + self.n + self.loaded) * scale


def test_python_model_with_artifacts_params_and_config(tmp_path):
    offset = tmp_path / "offset.txt"
    offset.write_text("100")
    sig = ModelSignature(
        Schema([ColSpec("double", "x")]), None, ParamSchema([ParamSpec("scale", "double", 1.0)])
    )
    gitml.pyfunc.save_model(
        AddN(1),
        tmp_path / "m",
        artifacts={"offset": str(offset)},
        signature=sig,
        model_config={"k": "v"},
    )
    offset.write_text("0")  # the model keeps its own copy
    model = gitml.pyfunc.load_model(str(tmp_path / "m"))
    df = pd.DataFrame({"x": [1, 2]})
    assert model.predict(df).tolist() == [102.0, 103.0]
    assert model.predict(df, params={"scale": 2}).tolist() == [204.0, 206.0]
    with pytest.raises(ModelError, match="param 'scale' must be double"):
        model.predict(df, params={"scale": "big"})
    conf = model.metadata.flavors["python_function"]
    assert conf["artifacts"] == {"offset": {"path": "artifacts/offset/offset.txt"}}
    assert conf["model_config"] == {"k": "v"}
    assert conf["loader_module"] == "gitml.models.pyfunc"
    native = gitml.models.load_model(tmp_path / "m", flavor="python_function")
    assert isinstance(native, AddN) and native.loaded == 100.0


def test_python_model_code_paths(tmp_path):
    pkg = tmp_path / "src" / "mylib_for_code_paths"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("def double(v):\n    return v * 2\n")
    code = (
        "import sys, gitml\n"
        f"sys.path.insert(0, {str(tmp_path / 'src')!r})\n"
        "import mylib_for_code_paths\n"
        "class M(gitml.models.PythonModel):\n"
        "    def predict(self, context, model_input, params=None):\n"
        "        return mylib_for_code_paths.double(model_input)\n"
        f"gitml.pyfunc.save_model(M(), {str(tmp_path / 'm')!r}, code_paths=[{str(pkg)!r}])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": ROOT},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "m" / "code" / "mylib_for_code_paths" / "__init__.py").exists()
    # a fresh process without the source on sys.path loads it from the model's code/
    check = f"import gitml\nm = gitml.load_model({str(tmp_path / 'm')!r})\nprint(m.predict(21))\n"
    out = subprocess.run(
        [sys.executable, "-c", check],
        env={**os.environ, "PYTHONPATH": ROOT},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "42"


class WithPredict:
    def predict(self, data):
        return np.asarray(data).sum(axis=1)


def test_plain_object_callable_and_context_free_python_model(tmp_path):
    arr = np.array([[1.0, 2.0], [3.0, 4.0]])
    gitml.models.save_model(WithPredict(), tmp_path / "obj", input_example=arr)
    model = gitml.load_model(tmp_path / "obj")
    assert model.predict(arr).tolist() == [3.0, 7.0]
    assert model.predict([[1, 1]]).tolist() == [2.0]  # ints widen to the float64 tensor
    with pytest.raises(ModelError, match="shape"):
        model.predict([[1.0, 2.0, 3.0]])

    gitml.models.save_model(
        lambda df: df["a"] * 10, tmp_path / "fn", input_example={"a": [1.0, 2.0]}
    )
    fn_model = gitml.load_model(tmp_path / "fn")
    assert fn_model.predict({"a": [3.0]}).tolist() == [30.0]
    assert "python_function" in fn_model.metadata.flavors

    class NoContext(PythonModel):
        def predict(self, model_input, params=None):
            return [len(s) for s in model_input.iloc[:, 0]]

    gitml.pyfunc.save_model(NoContext(), tmp_path / "nc", input_example=["ab", "abc"])
    assert gitml.load_model(tmp_path / "nc").predict(["x", "xyz"]) == [1, 3]


def test_pyfunc_errors(tmp_path):
    with pytest.raises(ModelError, match="needs a predict method or must be callable"):
        gitml.pyfunc.save_model(42, tmp_path / "a")
    with pytest.raises(ModelError, match="code path .* does not exist"):
        gitml.pyfunc.save_model(
            WithPredict(), tmp_path / "a", code_paths=[str(tmp_path / "missing.py")]
        )
    with pytest.raises(ModelError, match="artifact 'w': .* does not exist"):
        gitml.pyfunc.save_model(
            WithPredict(), tmp_path / "a", artifacts={"w": str(tmp_path / "missing")}
        )
    with pytest.raises(ModelError, match="invalid artifact name 'a/b'"):
        gitml.pyfunc.save_model(WithPredict(), tmp_path / "a", artifacts={"a/b": str(tmp_path)})
    with pytest.raises(
        ModelError, match="give pip_requirements or extra_pip_requirements, not both"
    ):
        gitml.pyfunc.save_model(
            WithPredict(), tmp_path / "a", pip_requirements=["x"], extra_pip_requirements=["y"]
        )
    with pytest.raises(ModelError, match="cannot save an input example of type object"):
        gitml.pyfunc.save_model(WithPredict(), tmp_path / "a", input_example=object())
    with pytest.raises(ModelError, match="signature must be a ModelSignature"):
        gitml.pyfunc.save_model(WithPredict(), tmp_path / "a", signature={"inputs": "x"})
    assert not (tmp_path / "a").exists()


# ------------------------------------------------------------------ input examples and requirements


@pytest.mark.parametrize(
    "example, kind",
    [
        (pd.DataFrame({"a": [1.0], "s": ["x"]}), "dataframe"),
        (np.arange(6.0).reshape(3, 2), "ndarray"),
        ({"a": [1, 2], "b": ["x", "y"]}, "json_object"),
        ([{"a": 1.5}], "json_object"),
    ],
)
def test_input_example_round_trip(tmp_path, example, kind):
    gitml.pyfunc.save_model(lambda d: d, tmp_path / "m", input_example=example)
    mlmodel = Model.load(str(tmp_path / "m"))
    assert mlmodel.saved_input_example_info["type"] == kind
    back = load_input_example(str(tmp_path / "m"))
    if isinstance(example, pd.DataFrame):
        pd.testing.assert_frame_equal(back, example)
    elif isinstance(example, np.ndarray):
        assert np.array_equal(back, example)
    else:
        assert back == example
    serving = json.loads((tmp_path / "m" / "serving_input_example.json").read_text())
    assert len(set(serving) & {"dataframe_split", "inputs"}) == 1
    assert mlmodel.signature.inputs == infer_signature(example).inputs


def test_requirements_override_and_extra(tmp_path):
    reqfile = tmp_path / "reqs.txt"
    reqfile.write_text("# pinned by hand\nfoo==1.0\n\nbar>=2\n")
    gitml.pyfunc.save_model(WithPredict(), tmp_path / "a", pip_requirements=str(reqfile))
    assert (tmp_path / "a" / "requirements.txt").read_text() == "foo==1.0\nbar>=2\n"
    gitml.pyfunc.save_model(WithPredict(), tmp_path / "b", extra_pip_requirements=["extra-pkg==3"])
    reqs = (tmp_path / "b" / "requirements.txt").read_text().split()
    assert reqs[-1] == "extra-pkg==3" and any(r.startswith("cloudpickle==") for r in reqs)
    with pytest.raises(ModelError, match="cannot read requirements file"):
        gitml.pyfunc.save_model(
            WithPredict(), tmp_path / "c", pip_requirements=str(tmp_path / "none.txt")
        )


def test_import_gitml_models_stays_light():
    code = (
        "import sys, gitml, gitml.models, gitml.pyfunc, gitml.sklearn, gitml.cli.models\n"
        "heavy = [m for m in ('numpy', 'pandas', 'sklearn', 'mlflow') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": ROOT},
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
