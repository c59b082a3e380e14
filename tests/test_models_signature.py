"""Signatures: inference from each kind of data, MLflow's JSON encoding, enforcement and its errors."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitml.errors import ModelError
from gitml.models.signature import (
    ColSpec,
    ModelSignature,
    ParamSchema,
    ParamSpec,
    Schema,
    TensorSpec,
    enforce_params,
    enforce_schema,
    infer_schema,
    infer_signature,
)

# ------------------------------------------------------------------ inference


def test_infer_from_dataframe_types_and_optional_columns():
    df = pd.DataFrame(
        {
            "f64": [1.5, 2.5],
            "f32": np.array([1, 2], dtype=np.float32),
            "i64": [1, 2],
            "i32": np.array([1, 2], dtype=np.int32),
            "b": [True, False],
            "s": ["x", None],
            "bin": [b"a", b"b"],
            "t": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }
    )
    schema = infer_schema(df)
    assert [(s.name, s.type, s.required) for s in schema.specs] == [
        ("f64", "double", True),
        ("f32", "float", True),
        ("i64", "long", True),
        ("i32", "integer", True),
        ("b", "boolean", True),
        ("s", "string", False),
        ("bin", "binary", True),
        ("t", "datetime", True),
    ]


def test_infer_from_numpy_array_is_a_tensor_with_free_first_dimension():
    schema = infer_schema(np.zeros((5, 3, 2), dtype=np.float32))
    assert schema.specs == [TensorSpec("float32", (-1, 3, 2))]


def test_infer_from_dict_of_scalars_lists_and_arrays():
    assert infer_schema({"a": 1.0, "b": "x"}).specs == [
        ColSpec("double", "a"),
        ColSpec("string", "b"),
    ]
    assert infer_schema({"a": [1, 2], "b": [0.5, 1.5]}).specs == [
        ColSpec("long", "a"),
        ColSpec("double", "b"),
    ]
    tensors = infer_schema({"img": np.zeros((2, 4, 4)), "mask": np.zeros((2, 4), dtype=bool)})
    assert tensors.specs == [
        TensorSpec("float64", (-1, 4, 4), "img"),
        TensorSpec("bool", (-1, 4), "mask"),
    ]


def test_infer_from_lists():
    assert infer_schema([{"a": 1, "b": "x"}]).specs == [
        ColSpec("long", "a"),
        ColSpec("string", "b"),
    ]
    assert infer_schema(["hello", "world"]).specs == [ColSpec("string")]
    assert infer_schema([[1.0, 2.0], [3.0, 4.0]]).specs == [TensorSpec("float64", (-1, 2))]
    assert infer_schema("text").specs == [ColSpec("string")]


@pytest.mark.parametrize(
    "data, message",
    [
        ([], "empty list"),
        ({}, "empty dict"),
        (pd.DataFrame({"a": [None, None]}), "column 'a': it has only missing values"),
        (pd.DataFrame({"a": [[1], [2]]}), "column 'a' (values of type list)"),
        (object(), "cannot infer a signature from a object"),
        ([1, "x"], "cannot infer a signature from a list of mixed values"),
    ],
)
def test_infer_errors_are_clear(data, message):
    with pytest.raises(ModelError, match=None) as exc:
        infer_schema(data)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_infer_signature_with_output_and_params():
    sig = infer_signature(
        pd.DataFrame({"x": [1.0]}), np.array([1, 0]), params={"k": 3, "tags": ["a", "b"]}
    )
    assert sig.outputs == Schema([TensorSpec("int64", (-1,))])
    assert sig.params == ParamSchema(
        [ParamSpec("k", "long", 3), ParamSpec("tags", "string", ["a", "b"], (-1,))]
    )


# ------------------------------------------------------------------ encoding


def test_encoding_matches_mlflow_and_round_trips():
    mlflow_types = pytest.importorskip("mlflow.types")
    from mlflow.models.signature import ModelSignature as MlflowSignature

    df = pd.DataFrame({"a": [1.0], "b": [1], "s": ["x"]})
    ours = infer_signature(df, np.array([1]), params={"k": 0.5})
    theirs = MlflowSignature.from_dict(ours.to_dict())
    assert [c.name for c in theirs.inputs.inputs] == ["a", "b", "s"]
    assert str(theirs.inputs.inputs[0].type) == str(mlflow_types.DataType.double)
    assert theirs.params.params[0].name == "k"
    back = ModelSignature.from_dict(theirs.to_dict())
    assert back == ours


_names = st.text(alphabet="abcxyz_0123", min_size=1, max_size=8)


@given(
    st.lists(
        st.tuples(
            _names,
            st.sampled_from(
                ["boolean", "integer", "long", "float", "double", "string", "binary", "datetime"]
            ),
            st.booleans(),
        ),
        min_size=1,
        max_size=6,
        unique_by=lambda t: t[0],
    )
)
def test_column_schema_json_round_trip(cols):
    schema = Schema(ColSpec(t, n, r) for n, t, r in cols)
    assert Schema.from_json(schema.to_json()) == schema
    sig = ModelSignature(schema, None, None)
    assert ModelSignature.from_dict(json.loads(json.dumps(sig.to_dict()))) == sig


@given(
    st.lists(st.integers(min_value=-1, max_value=50), max_size=4),
    st.sampled_from(["float32", "float64", "int64", "uint8", "bool"]),
)
def test_tensor_schema_json_round_trip(shape, dtype):
    schema = Schema([TensorSpec(dtype, tuple(shape))])
    assert Schema.from_json(schema.to_json()) == schema


def test_invalid_schemas_are_rejected():
    with pytest.raises(ModelError, match="mixes columns and tensors"):
        Schema([ColSpec("double", "a"), TensorSpec("float64", (-1,), "b")])
    with pytest.raises(ModelError, match="mixes named and unnamed"):
        Schema([ColSpec("double", "a"), ColSpec("double")])
    with pytest.raises(ModelError, match="names 'a' twice"):
        Schema([ColSpec("double", "a"), ColSpec("long", "a")])
    with pytest.raises(ModelError, match="at least one"):
        Schema([])
    with pytest.raises(ModelError, match="invalid signature"):
        ModelSignature.from_dict({"inputs": "not json"})


# ------------------------------------------------------------------ enforcement: columns

SCHEMA = Schema(
    [ColSpec("double", "a"), ColSpec("long", "b"), ColSpec("string", "c", required=False)]
)


def test_columns_are_reordered_by_name_and_extras_dropped_with_a_warning():
    df = pd.DataFrame({"z": [0], "c": ["x"], "b": [2], "a": [1.0]})
    with pytest.warns(UserWarning, match="dropping input column.*: z"):
        out = enforce_schema(df, SCHEMA)
    assert list(out.columns) == ["a", "b", "c"]
    assert out["a"].tolist() == [1.0] and out["b"].tolist() == [2]


def test_safe_widening():
    df = pd.DataFrame(
        {
            "a": np.array([1, 2], dtype=np.int32),
            "b": np.array([3, 4], dtype=np.int16),
            "c": ["x", "y"],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = enforce_schema(df, SCHEMA)
    assert out["a"].dtype == np.float64 and out["b"].dtype == np.int64
    # JSON numbers: an int64 column that is exact in a double is accepted for a double column
    out = enforce_schema(pd.DataFrame({"a": [1, 2**53], "b": [1, 2]}), SCHEMA)
    assert out["a"].tolist() == [1.0, float(2**53)]
    # float64 from JSON is accepted for a float32 column
    out = enforce_schema(pd.DataFrame({"x": [0.5]}), Schema([ColSpec("float", "x")]))
    assert out["x"].dtype == np.float32


def test_missing_optional_column_is_filled():
    out = enforce_schema(pd.DataFrame({"a": [1.0], "b": [1]}), SCHEMA)
    assert list(out.columns) == ["a", "b", "c"] and out["c"].isna().all()


@pytest.mark.parametrize(
    "frame, message",
    [
        (
            pd.DataFrame({"a": [1.0]}),
            "the input is missing column 'b' (the model expects columns: a, b, c)",
        ),
        (pd.DataFrame({"a": ["x"], "b": [1]}), "column 'a' has type str, the model expects double"),
        (
            pd.DataFrame({"a": [1.0], "b": [1.5]}),
            "column 'b' has type float64, the model expects long",
        ),
        (
            pd.DataFrame({"a": [1.0], "b": [None]}),
            "column 'b' has missing values but the model's signature requires it",
        ),
        (
            pd.DataFrame({"a": [2**60], "b": [1]}),
            "column 'a' has type int64 (values too large to be exact in double)",
        ),
        (
            pd.DataFrame({"a": [1.0], "b": [1], "c": [5]}),
            "column 'c' has type int64, the model expects string",
        ),
        (
            pd.DataFrame({"a": [True], "b": [1]}),
            "column 'a' has type bool, the model expects double",
        ),
    ],
)
def test_column_errors_name_the_column(frame, message):
    with pytest.raises(ModelError) as exc:
        enforce_schema(frame, SCHEMA)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_other_column_types():
    schema = Schema(
        [
            ColSpec("boolean", "b"),
            ColSpec("binary", "bin"),
            ColSpec("datetime", "t"),
            ColSpec("integer", "i"),
        ]
    )
    out = enforce_schema(
        {"b": [True], "bin": ["aGk="], "t": ["2024-01-02"], "i": [7]},
        schema,
    )
    assert out["bin"].tolist() == [b"hi"]
    assert str(out["t"].dtype).startswith("datetime64")
    assert out["i"].dtype == np.int32
    with pytest.raises(ModelError, match="column 'bin' has type string \\(not base64\\)"):
        enforce_schema({"b": [True], "bin": ["***"], "t": ["2024-01-02"], "i": [7]}, schema)
    with pytest.raises(ModelError, match="column 't' has type values that are not dates"):
        enforce_schema({"b": [True], "bin": [b"x"], "t": ["never"], "i": [7]}, schema)
    with pytest.raises(ModelError, match="column 'i' has type int64, the model expects integer"):
        enforce_schema({"b": [True], "bin": [b"x"], "t": ["2024-01-02"], "i": [2**40]}, schema)
    with pytest.raises(ModelError, match="column 'b' has type int64, the model expects boolean"):
        enforce_schema({"b": [1], "bin": [b"x"], "t": ["2024-01-02"], "i": [7]}, schema)


def test_table_input_kinds():
    expected = pd.DataFrame({"a": [1.0], "b": [2]})
    for data in (
        {"a": 1.0, "b": 2},
        [{"a": 1.0, "b": 2}],
        {"a": [1.0], "b": [2]},
        np.array([[1.0, 2]]),
    ):
        out = enforce_schema(data, Schema([ColSpec("double", "a"), ColSpec("long", "b")]))
        assert out["a"].tolist() == expected["a"].tolist()
    with pytest.raises(ModelError, match="expects 2 column"):
        enforce_schema(
            np.array([[1.0, 2, 3]]), Schema([ColSpec("double", "a"), ColSpec("long", "b")])
        )
    with pytest.raises(ModelError, match="expects a table"):
        enforce_schema(object(), SCHEMA)


def test_unnamed_columns_are_checked_by_position():
    schema = Schema([ColSpec("string")])
    out = enforce_schema(["a", "b"], schema)
    assert out.iloc[:, 0].tolist() == ["a", "b"]
    with pytest.raises(ModelError, match="has type int64, the model expects string"):
        enforce_schema(pd.DataFrame({"x": [1]}), schema)
    with pytest.raises(ModelError, match="expects 1 column"):
        enforce_schema(pd.DataFrame({"x": ["a"], "y": ["b"]}), schema)


# ------------------------------------------------------------------ enforcement: tensors


def test_tensor_enforcement():
    schema = Schema([TensorSpec("float64", (-1, 2))])
    out = enforce_schema([[1, 2], [3, 4]], schema)
    assert out.dtype == np.float64 and out.shape == (2, 2)
    out = enforce_schema(pd.DataFrame({"a": [1.0], "b": [2.0]}), schema)
    assert out.shape == (1, 2)
    with pytest.raises(
        ModelError, match=r"the input has shape \(1, 3\), the model expects \(-1, 2\)"
    ):
        enforce_schema([[1, 2, 3]], schema)
    with pytest.raises(ModelError, match="the input has dtype <U1, the model expects float64"):
        enforce_schema([["a", "b"]], schema)
    int_schema = Schema([TensorSpec("int32", (-1,))])
    assert enforce_schema([1, 2], int_schema).dtype == np.int32
    with pytest.raises(ModelError, match="dtype float64, the model expects int32"):
        enforce_schema([1.5], int_schema)


def test_named_tensors():
    schema = Schema([TensorSpec("float32", (-1, 2), "x"), TensorSpec("int64", (-1,), "y")])
    with pytest.warns(UserWarning, match="dropping input.*: extra"):
        out = enforce_schema({"x": [[1.0, 2.0]], "y": [1], "extra": [0]}, schema)
    assert set(out) == {"x", "y"} and out["x"].dtype == np.float32
    with pytest.raises(ModelError, match="missing tensor 'y'"):
        enforce_schema({"x": [[1.0, 2.0]]}, schema)
    with pytest.raises(ModelError, match="expects named tensors"):
        enforce_schema([1, 2], schema)


# ------------------------------------------------------------------ params


def test_params_defaults_conversion_and_errors():
    schema = ParamSchema(
        [
            ParamSpec("k", "long", 3),
            ParamSpec("t", "double", 0.5),
            ParamSpec("tags", "string", [], (-1,)),
        ]
    )
    assert enforce_params(None, schema) == {"k": 3, "t": 0.5, "tags": []}
    assert enforce_params({"t": 1, "tags": ["a"]}, schema) == {"k": 3, "t": 1.0, "tags": ["a"]}
    with pytest.warns(UserWarning, match="ignoring params not in the model's signature: zzz"):
        assert enforce_params({"zzz": 1}, schema)["k"] == 3
    with pytest.raises(ModelError, match="param 'k' must be long, got 'x'"):
        enforce_params({"k": "x"}, schema)
    with pytest.raises(ModelError, match="param 'tags' must be a list of string"):
        enforce_params({"tags": "a"}, schema)
    with pytest.raises(ModelError, match="params must be a mapping"):
        enforce_params(["k"], schema)  # type: ignore[arg-type]
    with pytest.warns(UserWarning, match="declares no params"):
        assert enforce_params({"k": 1}, None) is None
