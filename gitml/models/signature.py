"""Model signatures: schemas of inputs, outputs and params; inference from data; enforcement.

The JSON encoding is MLflow's, so signatures written by either tool read in the other.
numpy and pandas are imported only inside the functions that need them.
"""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import ModelError

# column types (MLflow's DataType names) -> numpy dtype names
COLUMN_TYPES = {
    "boolean": "bool",
    "integer": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "string": "object",
    "binary": "object",
    "datetime": "datetime64[ns]",
}
_MAX_EXACT_INT = 2**53  # integers of at most this magnitude are exact in a float64


@dataclass(frozen=True)
class ColSpec:
    """One column of a table input: a type (see COLUMN_TYPES), an optional name, required."""

    type: str
    name: str | None = None
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.type}
        if self.name is not None:
            d["name"] = self.name
        d["required"] = self.required
        return d


@dataclass(frozen=True)
class TensorSpec:
    """An array input: a numpy dtype name and a shape where -1 means any size."""

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": "tensor",
            "tensor-spec": {"dtype": self.dtype, "shape": list(self.shape)},
        }
        if self.name is not None:
            d["name"] = self.name
        return d


@dataclass(frozen=True)
class ParamSpec:
    """An inference parameter: name, type (a column type), default, shape (None or (-1,))."""

    name: str
    type: str
    default: Any
    shape: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "shape": list(self.shape) if self.shape is not None else None,
        }


class Schema:
    """An ordered list of ColSpec or of TensorSpec (never a mix)."""

    def __init__(self, specs: Iterable[ColSpec | TensorSpec]):
        self.specs: list[ColSpec | TensorSpec] = list(specs)
        if not self.specs:
            raise ModelError("a schema needs at least one column or tensor")
        kinds = {type(s) for s in self.specs}
        if len(kinds) > 1:
            raise ModelError("a schema mixes columns and tensors: use one kind")
        names = [s.name for s in self.specs]
        if any(n is None for n in names) and any(n is not None for n in names):
            raise ModelError("a schema mixes named and unnamed entries: name all of them or none")
        dup = {n for n in names if n is not None and names.count(n) > 1}
        if dup:
            raise ModelError(f"a schema names {sorted(dup)[0]!r} twice")

    @property
    def is_tensor(self) -> bool:
        return isinstance(self.specs[0], TensorSpec)

    @property
    def has_names(self) -> bool:
        return self.specs[0].name is not None

    def names(self) -> list[str]:
        return [s.name for s in self.specs if s.name is not None]

    def to_json(self) -> str:
        return json.dumps([s.to_dict() for s in self.specs])

    @classmethod
    def from_json(cls, text: str | list[Any]) -> Schema:
        items = json.loads(text) if isinstance(text, str) else text
        if not isinstance(items, list):
            raise ModelError("invalid signature: a schema must be a JSON list")
        specs: list[ColSpec | TensorSpec] = []
        for item in items:
            if not isinstance(item, dict) or "type" not in item:
                raise ModelError(f"invalid signature entry {item!r}: it needs a 'type'")
            if item["type"] == "tensor":
                ts = item.get("tensor-spec") or {}
                specs.append(
                    TensorSpec(str(ts.get("dtype")), tuple(ts.get("shape") or ()), item.get("name"))
                )
            else:
                # complex MLflow types (Array, Object, ...) are kept as their JSON text
                t = item["type"]
                specs.append(
                    ColSpec(
                        t if isinstance(t, str) else json.dumps(t, sort_keys=True),
                        item.get("name"),
                        bool(item.get("required", True)),
                    )
                )
        return cls(specs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and self.specs == other.specs

    def __repr__(self) -> str:
        return f"Schema({self.specs!r})"


class ParamSchema:
    """The inference parameters a model accepts, with their defaults."""

    def __init__(self, params: Iterable[ParamSpec]):
        self.params = list(params)

    def to_json(self) -> str:
        return json.dumps([p.to_dict() for p in self.params])

    @classmethod
    def from_json(cls, text: str | list[Any]) -> ParamSchema:
        items = json.loads(text) if isinstance(text, str) else text
        return cls(
            ParamSpec(
                i["name"],
                i["type"],
                i.get("default"),
                tuple(i["shape"]) if i.get("shape") else None,
            )
            for i in items
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParamSchema) and self.params == other.params

    def __repr__(self) -> str:
        return f"ParamSchema({self.params!r})"


@dataclass
class ModelSignature:
    """What a model takes and returns: input schema, output schema, params schema."""

    inputs: Schema | None = None
    outputs: Schema | None = None
    params: ParamSchema | None = None

    def to_dict(self) -> dict[str, Any]:
        """MLflow's encoding: each part a JSON string (or None)."""
        return {
            "inputs": self.inputs.to_json() if self.inputs else None,
            "outputs": self.outputs.to_json() if self.outputs else None,
            "params": self.params.to_json() if self.params else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSignature:
        try:
            return cls(
                Schema.from_json(data["inputs"]) if data.get("inputs") else None,
                Schema.from_json(data["outputs"]) if data.get("outputs") else None,
                ParamSchema.from_json(data["params"]) if data.get("params") else None,
            )
        except (ValueError, KeyError, TypeError) as e:
            raise ModelError(f"invalid signature in MLmodel: {e}") from None


# --------------------------------------------------------------------------- inference


def infer_signature(
    model_input: Any, model_output: Any = None, params: dict[str, Any] | None = None
) -> ModelSignature:
    """Infer a signature from example data.

    Args:
        model_input: a pandas DataFrame or Series, a numpy array, a dict (of scalars, lists or
            arrays), a list (of dicts, scalars or lists) or a scalar.
        model_output: the model's output on that input, if known.
        params: example inference parameters (name -> value); their values become defaults.

    Returns:
        The inferred ModelSignature.

    Raises:
        ModelError: for data whose type cannot be inferred, naming the column.
    """
    return ModelSignature(
        infer_schema(model_input),
        infer_schema(model_output) if model_output is not None else None,
        _infer_params(params) if params else None,
    )


def infer_schema(data: Any) -> Schema:
    """Infer a Schema from example data (see infer_signature for the accepted kinds)."""
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        if data.shape[1] == 0:
            raise ModelError("cannot infer a signature from a DataFrame without columns")
        return Schema(
            ColSpec(_column_type(data[c], str(c)), str(c), not bool(data[c].isna().any()))
            for c in data.columns
        )
    if isinstance(data, pd.Series):
        return Schema(
            [ColSpec(_column_type(data, str(data.name or "0")), None, not bool(data.isna().any()))]
        )
    if isinstance(data, np.ndarray):
        if data.dtype.kind in "USO" and data.ndim == 1:
            return Schema([ColSpec(_column_type(pd.Series(data), "0"))])
        return Schema([_tensor_spec(data)])
    if isinstance(data, dict):
        if not data:
            raise ModelError("cannot infer a signature from an empty dict")
        if all(isinstance(v, np.ndarray) and v.ndim > 1 for v in data.values()):
            return Schema(_tensor_spec(v, str(k)) for k, v in data.items())
        return infer_schema(_frame_from_dict(data))
    if isinstance(data, (list, tuple)):
        if not data:
            raise ModelError("cannot infer a signature from an empty list")
        if all(isinstance(x, dict) for x in data):
            return infer_schema(pd.DataFrame(list(data)))
        if all(isinstance(x, (str, bytes)) for x in data):
            return Schema([ColSpec(_column_type(pd.Series(list(data), dtype=object), "0"))])
        try:
            arr = np.asarray(data)
        except ValueError as e:
            raise ModelError(f"cannot infer a signature from this list: {e}") from None
        if arr.dtype == object or arr.dtype.kind in "US":  # numbers and strings mixed
            raise ModelError(
                "cannot infer a signature from a list of mixed values: pass signature="
            )
        return Schema([_tensor_spec(arr)])
    if isinstance(data, (str, bytes, bool, int, float)):
        return (
            infer_schema([data])
            if isinstance(data, (str, bytes))
            else Schema([ColSpec(_column_type(pd.Series([data]), "0"))])
        )
    raise ModelError(
        f"cannot infer a signature from a {type(data).__name__}: pass a DataFrame, array, dict or list,"
        " or give signature= explicitly"
    )


def _frame_from_dict(data: dict[str, Any]) -> Any:
    import pandas as pd

    if all(not isinstance(v, (list, tuple)) and getattr(v, "ndim", 0) == 0 for v in data.values()):
        return pd.DataFrame([data])
    try:
        return pd.DataFrame(data)
    except ValueError as e:
        raise ModelError(f"cannot read the dict as a table: {e}") from None


def _tensor_spec(arr: Any, name: str | None = None) -> TensorSpec:
    if arr.dtype.kind in "OUS":
        raise ModelError(
            f"cannot infer a tensor type for {name or 'the array'} of dtype {arr.dtype}: use numeric arrays"
        )
    shape = (-1, *arr.shape[1:]) if arr.ndim else ()
    return TensorSpec(arr.dtype.name, tuple(int(s) for s in shape), name)


def _column_type(s: Any, name: str) -> str:
    import pandas as pd

    kind = s.dtype.kind
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return (
            "integer"
            if s.dtype.itemsize <= 4 and not (kind == "u" and s.dtype.itemsize == 4)
            else "long"
        )
    if kind == "f":
        return "float" if s.dtype.itemsize <= 4 else "double"
    if kind == "M":
        return "datetime"
    if pd.api.types.is_string_dtype(s.dtype) and kind != "O":
        return "string"
    values = s.dropna()
    if len(values) == 0:
        raise ModelError(f"cannot infer a type for column {name!r}: it has only missing values")
    kinds = {type(v) for v in values}
    if all(issubclass(k, str) for k in kinds):
        return "string"
    if all(issubclass(k, (bytes, bytearray)) for k in kinds):
        return "binary"
    if all(issubclass(k, bool) for k in kinds):
        return "boolean"
    if all(issubclass(k, int) and not issubclass(k, bool) for k in kinds):
        return "long"
    if all(issubclass(k, (int, float)) and not issubclass(k, bool) for k in kinds):
        return "double"
    names = ", ".join(sorted(k.__name__ for k in kinds))
    raise ModelError(
        f"cannot infer a type for column {name!r} (values of type {names}): pass signature="
    )


def _param_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes):
        return "binary"
    raise ModelError(
        f"cannot infer a param type for {value!r}: use bool, int, float, str or a list of them"
    )


def _infer_params(params: dict[str, Any]) -> ParamSchema:
    specs = []
    for name, value in params.items():
        if isinstance(value, (list, tuple)):
            types = {_param_type(v) for v in value}
            if len(types) != 1:
                raise ModelError(f"param {name!r}: a list param needs values of one type")
            specs.append(ParamSpec(str(name), types.pop(), list(value), (-1,)))
        else:
            specs.append(ParamSpec(str(name), _param_type(value), value))
    return ParamSchema(specs)


# --------------------------------------------------------------------------- enforcement


def enforce_schema(data: Any, schema: Schema) -> Any:
    """Check ``data`` against ``schema`` and return it in the form the model expects.

    Columns are matched by name and reordered; extra columns are dropped with a warning;
    types are widened when no information is lost (int32 -> int64, int -> double, ...).

    Raises:
        ModelError: a missing column, a missing value in a required column, a type that cannot
            be converted safely, or a wrong tensor shape; the message names the column.
    """
    if schema.is_tensor:
        return _enforce_tensors(data, schema)
    return _enforce_columns(data, schema)


def _to_frame(data: Any, schema: Schema) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, dict):
        return _frame_from_dict(data)
    if isinstance(data, (list, tuple)) and data and all(isinstance(x, dict) for x in data):
        return pd.DataFrame(list(data))
    if isinstance(data, (list, tuple, np.ndarray)):
        arr = np.asarray(data, dtype=object if not isinstance(data, np.ndarray) else None)
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1) if len(schema.specs) == 1 else arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != len(schema.specs):
            raise ModelError(
                f"the model expects {len(schema.specs)} column(s) ({_describe(schema)});"
                f" the input has shape {arr.shape}"
            )
        frame = pd.DataFrame(arr, columns=schema.names() or None)
        return frame.infer_objects() if arr.dtype == object else frame
    if isinstance(data, (str, bytes, int, float, bool)):
        return pd.DataFrame({0: [data]})
    raise ModelError(
        f"the model expects a table ({_describe(schema)}), got a {type(data).__name__}"
    )


def _describe(schema: Schema) -> str:
    return ", ".join(
        f"{s.name}: {getattr(s, 'type', None) or getattr(s, 'dtype', '')}"
        if s.name
        else str(getattr(s, "type", ""))
        for s in schema.specs
    )


def _enforce_columns(data: Any, schema: Schema) -> Any:
    import pandas as pd

    frame = _to_frame(data, schema)
    specs = [s for s in schema.specs if isinstance(s, ColSpec)]
    if not schema.has_names:
        if frame.shape[1] != len(specs):
            raise ModelError(
                f"the model expects {len(specs)} column(s) ({_describe(schema)}), the input has {frame.shape[1]}"
            )
        return pd.DataFrame(
            {
                c: _convert_column(frame.iloc[:, i], spec, str(c))
                for i, (c, spec) in enumerate(zip(frame.columns, specs, strict=True))
            },
            index=frame.index,
        )
    columns = {str(c): c for c in frame.columns}
    missing = [s.name for s in specs if s.name not in columns and s.required]
    if missing:
        expected = ", ".join(s.name or "" for s in specs)
        raise ModelError(
            f"the input is missing column {missing[0]!r} (the model expects columns: {expected})"
        )
    extra = [str(c) for c in frame.columns if str(c) not in {s.name for s in specs}]
    if extra:
        warnings.warn(
            f"dropping input column(s) not in the model's signature: {', '.join(extra)}",
            UserWarning,
            stacklevel=4,
        )
    converted = {}
    for spec in specs:
        assert spec.name is not None
        if spec.name in columns:
            converted[spec.name] = _convert_column(frame[columns[spec.name]], spec, spec.name)
        else:
            converted[spec.name] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    return pd.DataFrame(converted, index=frame.index)


def _convert_column(s: Any, spec: ColSpec, name: str) -> Any:
    """Return column ``s`` converted to ``spec.type`` when that loses nothing, else raise."""
    import numpy as np
    import pandas as pd

    t = spec.type
    if t not in COLUMN_TYPES:
        return s  # a complex type (Array, Object, Any): passed through unchecked
    has_na = bool(s.isna().any())
    if has_na and spec.required:
        raise ModelError(
            f"column {name!r} has missing values but the model's signature requires it ({t})"
        )
    kind = s.dtype.kind

    def bad(found: str | None = None) -> ModelError:
        return ModelError(
            f"column {name!r} has type {found or s.dtype}, the model expects {t}: convert the input"
            " (only lossless widening is applied)"
        )

    if t in ("integer", "long"):
        target = np.dtype(COLUMN_TYPES[t])
        if kind in "iu":
            if np.can_cast(s.dtype, target, "safe"):
                return s.astype(target)
            if kind == "i" or (kind == "u" and t == "long"):  # int64 -> int32 or uint64 -> int64
                lo, hi = np.iinfo(target).min, np.iinfo(target).max
                if len(s) == 0 or (s.min() >= lo and s.max() <= hi):
                    return s.astype(target)
            raise bad()
        if kind == "O":
            values = s.dropna()
            if all(
                isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
                for v in values
            ):
                return s if has_na else s.astype(target)
            raise bad(_value_types(values))
        if kind == "f":
            if has_na:
                raise bad(f"{s.dtype} with missing values")
            info = np.iinfo(target)
            if len(s) == 0 or (
                (s == np.floor(s)).all() and s.min() >= info.min and s.max() <= info.max
            ):
                return s.astype(target)  # integral floats (e.g. from a float array) convert exactly
        raise bad()
    if t in ("float", "double"):
        target = np.dtype(COLUMN_TYPES[t])
        if kind == "f":
            if t == "float" and s.dtype.itemsize > 4:
                finite = s[np.isfinite(s)]
                if len(finite) and (finite.abs().max() > np.finfo(np.float32).max):
                    raise bad(f"{s.dtype} (values beyond float32's range)")
            return s.astype(target)
        if kind in "iu":
            limit = _MAX_EXACT_INT if t == "double" else 2**24
            exact = s.dtype.itemsize <= (4 if t == "double" else 2)  # always exact in the target
            if len(s) == 0 or exact or s.abs().max() <= limit:
                return s.astype(target)
            raise bad(f"{s.dtype} (values too large to be exact in {t})")
        if kind == "O":
            values = s.dropna()
            if all(
                isinstance(v, (int, float, np.integer, np.floating))
                and not isinstance(v, (bool, np.bool_))
                for v in values
            ):
                return pd.to_numeric(s).astype(target)
            raise bad(_value_types(values))
        raise bad()
    if t == "boolean":
        if kind == "b":
            return s
        if kind == "O" and all(isinstance(v, (bool, np.bool_)) for v in s.dropna()):
            return s
        raise bad()
    if t == "string":
        if pd.api.types.is_string_dtype(s.dtype) and kind != "O":
            return s
        if kind == "O":
            values = s.dropna()
            if all(isinstance(v, str) for v in values):
                return s
            raise bad(_value_types(values))
        raise bad()
    if t == "binary":
        values = s.dropna()
        if all(isinstance(v, (bytes, bytearray)) for v in values):
            return s
        if all(isinstance(v, str) for v in values):  # JSON carries bytes as base64
            try:
                return s.map(
                    lambda v: base64.b64decode(v, validate=True) if isinstance(v, str) else v
                )
            except ValueError:
                raise bad("string (not base64)") from None
        raise bad(_value_types(values))
    if t == "datetime":
        if kind == "M":
            return s
        if kind == "O" or pd.api.types.is_string_dtype(s.dtype):
            try:
                return pd.to_datetime(s)
            except (ValueError, TypeError):
                raise bad("values that are not dates") from None
        raise bad()
    return s


def _value_types(values: Any) -> str:
    return "/".join(sorted({type(v).__name__ for v in values})) or "empty"


def _enforce_tensors(data: Any, schema: Schema) -> Any:
    import numpy as np
    import pandas as pd

    specs = [s for s in schema.specs if isinstance(s, TensorSpec)]
    if not schema.has_names:
        spec = specs[0]
        if isinstance(data, pd.DataFrame):
            data = data.to_numpy()
        elif isinstance(data, dict) and len(data) == 1:
            data = next(iter(data.values()))
        try:
            arr = np.asarray(data)
        except ValueError as e:
            raise ModelError(
                f"the input is not an array the model can take ({spec.dtype}): {e}"
            ) from None
        return _convert_tensor(arr, spec, "the input")
    if isinstance(data, pd.DataFrame):
        data = {str(c): data[c].to_numpy() for c in data.columns}
    if not isinstance(data, dict):
        raise ModelError(
            f"the model expects named tensors ({', '.join(schema.names())}), got a {type(data).__name__}"
        )
    missing = [s.name for s in specs if s.name not in data]
    if missing:
        raise ModelError(
            f"the input is missing tensor {missing[0]!r} (the model expects: {', '.join(schema.names())})"
        )
    extra = [k for k in data if k not in set(schema.names())]
    if extra:
        warnings.warn(
            f"dropping input(s) not in the model's signature: {', '.join(map(str, extra))}",
            UserWarning,
            stacklevel=4,
        )
    return {s.name: _convert_tensor(np.asarray(data[s.name]), s, repr(s.name)) for s in specs}


def _convert_tensor(arr: Any, spec: TensorSpec, what: str) -> Any:
    import numpy as np

    target = np.dtype(spec.dtype)
    if arr.dtype != target:
        ok = np.can_cast(arr.dtype, target, "safe") and not (
            arr.dtype.kind in "iu"
            and target.kind == "f"
            and arr.dtype.itemsize * 2 > target.itemsize
        )
        if not ok and arr.dtype.kind in "iu" and target.kind == "f":
            ok = arr.size == 0 or np.abs(arr).max() <= (
                _MAX_EXACT_INT if target.itemsize >= 8 else 2**24
            )
        if (
            not ok and arr.dtype.kind == "f" and target.kind == "f"
        ):  # JSON numbers arrive as float64
            ok = (
                arr.size == 0
                or not np.isfinite(arr).all()
                or np.abs(arr).max() <= np.finfo(target).max
            )
        if not ok and arr.dtype.kind in "iu" and target.kind in "iu":
            info = np.iinfo(target)
            ok = arr.size == 0 or (arr.min() >= info.min and arr.max() <= info.max)
        if not ok:
            raise ModelError(
                f"{what} has dtype {arr.dtype}, the model expects {target}: convert it (only lossless widening is applied)"
            )
        arr = arr.astype(target)
    if spec.shape:
        if arr.ndim != len(spec.shape) or any(
            want != -1 and want != got for want, got in zip(spec.shape, arr.shape, strict=True)
        ):
            raise ModelError(
                f"{what} has shape {tuple(arr.shape)}, the model expects {tuple(spec.shape)} (-1 = any size)"
            )
    return arr


def enforce_params(
    params: dict[str, Any] | None, schema: ParamSchema | None
) -> dict[str, Any] | None:
    """Validate inference params against the model's params schema and fill in defaults.

    Params the schema does not know are dropped with a warning (all of them when the model
    declares no params). A value of the wrong type is a ModelError naming the param.
    """
    if schema is None:
        if params:
            warnings.warn(
                f"ignoring params {', '.join(params)}: the model's signature declares no params",
                UserWarning,
                stacklevel=3,
            )
        return None
    if params is not None and not isinstance(params, dict):
        raise ModelError(
            f"params must be a mapping of name to value, got a {type(params).__name__}"
        )
    params = dict(params or {})
    known = {p.name for p in schema.params}
    extra = [k for k in params if k not in known]
    if extra:
        warnings.warn(
            f"ignoring params not in the model's signature: {', '.join(extra)}",
            UserWarning,
            stacklevel=3,
        )
    out = {}
    for spec in schema.params:
        if spec.name not in params:
            out[spec.name] = spec.default
            continue
        value = params[spec.name]
        if spec.shape is not None:
            if not isinstance(value, (list, tuple)):
                raise ModelError(
                    f"param {spec.name!r} must be a list of {spec.type}, got {value!r}"
                )
            out[spec.name] = [_convert_param(v, spec) for v in value]
        else:
            out[spec.name] = _convert_param(value, spec)
    return out


def _convert_param(value: Any, spec: ParamSpec) -> Any:
    t = spec.type
    ok = (
        (t == "boolean" and isinstance(value, bool))
        or (t in ("integer", "long") and isinstance(value, int) and not isinstance(value, bool))
        or (
            t in ("float", "double")
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
        )
        or (t == "string" and isinstance(value, str))
        or (t == "binary" and isinstance(value, (bytes, str)))
        or t not in COLUMN_TYPES
    )
    if not ok:
        raise ModelError(f"param {spec.name!r} must be {t}, got {value!r}")
    if t in ("float", "double"):
        return float(value)
    return value
