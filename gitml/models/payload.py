"""The scoring protocol's payloads (MLflow's): request bodies to model input, predictions to JSON.

JSON requests carry exactly one of ``dataframe_split``, ``dataframe_records``,
``instances`` or ``inputs``, and optionally ``params``; CSV requests are a table with a
header row. Answers are ``{"predictions": ...}``.
"""

from __future__ import annotations

import io
import json
from typing import Any

from ..errors import ModelError
from .modeldir import jsonable
from .signature import Schema

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
JSON_TYPE = "application/json"
CSV_TYPE = "text/csv"


class PayloadError(ModelError):
    """A request body that is not a valid scoring payload (HTTP 400)."""


def parse_json(
    body: bytes | str, schema: Schema | None = None, lenient: bool = False
) -> tuple[Any, dict[str, Any] | None]:
    """Decode a JSON scoring payload into (model input, params).

    Args:
        body: the request body.
        schema: the model's input schema (guides how columns are read).
        lenient: also accept a bare list of records or a ``{"columns", "data"}`` mapping
            (for input files given to ``gitml models predict``).

    Raises:
        PayloadError: invalid JSON, or not exactly one of the payload formats.
    """
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise PayloadError(f"the body is not valid JSON: {e}") from None
    if lenient and isinstance(doc, list):
        doc = {"dataframe_records": doc}
    elif (
        lenient
        and isinstance(doc, dict)
        and "columns" in doc
        and "data" in doc
        and not set(doc) & set(FORMATS)
    ):
        doc = {"dataframe_split": doc}
    if not isinstance(doc, dict):
        raise PayloadError(
            f"the JSON body must be an object with one of {', '.join(FORMATS)}; got a {type(doc).__name__}"
        )
    present = [k for k in FORMATS if k in doc]
    if len(present) != 1:
        found = ", ".join(map(str, doc)) or "nothing"
        raise PayloadError(
            f"the JSON body needs exactly one of {', '.join(FORMATS)}; it has: {found}"
        )
    unknown = [k for k in doc if k not in FORMATS and k != "params"]
    if unknown:
        raise PayloadError(
            f"unknown field(s) in the JSON body: {', '.join(map(str, unknown))} (allowed: one format key and params)"
        )
    params = doc.get("params")
    if params is not None and not isinstance(params, dict):
        raise PayloadError(f"params must be a JSON object, got {type(params).__name__}")
    key = present[0]
    value = doc[key]
    if key == "dataframe_split":
        return _frame_split(value, schema), params
    if key == "dataframe_records":
        return _frame_records(value, schema), params
    return _tensor_input(key, value, schema), params


def _frame_split(value: Any, schema: Schema | None) -> Any:
    import pandas as pd

    if not isinstance(value, dict) or "data" not in value:
        raise PayloadError(
            'dataframe_split must be an object {"columns": [...], "data": [[...], ...]}'
        )
    data = value["data"]
    columns = value.get("columns")
    if not isinstance(data, list) or (columns is not None and not isinstance(columns, list)):
        raise PayloadError(
            "dataframe_split: 'data' must be a list of rows and 'columns' a list of names"
        )
    if columns is not None and any(not isinstance(r, list) or len(r) != len(columns) for r in data):
        raise PayloadError(
            f"dataframe_split: every row of 'data' must be a list of {len(columns)} values (one per column)"
        )
    try:
        frame = pd.DataFrame(data, columns=columns, index=value.get("index"))
    except (ValueError, TypeError) as e:
        raise PayloadError(f"dataframe_split cannot be read as a table: {e}") from None
    return frame


def _frame_records(value: Any, schema: Schema | None) -> Any:
    import pandas as pd

    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise PayloadError("dataframe_records must be a list of objects, one per row")
    return pd.DataFrame(value)


def _tensor_input(key: str, value: Any, schema: Schema | None) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        return pd.DataFrame(value)  # records, for instances as for inputs (as MLflow reads them)
    if isinstance(value, dict):
        try:
            return {str(k): np.asarray(v) for k, v in value.items()}
        except ValueError as e:
            raise PayloadError(f"{key}: a value is not a regular array: {e}") from None
    if isinstance(value, list):
        try:
            arr = np.asarray(value)
        except ValueError:
            raise PayloadError(
                f"{key} is a ragged list: every row must have the same length"
            ) from None
        if arr.dtype == object:
            raise PayloadError(
                f"{key} mixes value types: give numbers, strings or booleans of one kind"
            )
        return arr
    return np.asarray([value])


def parse_csv(body: bytes | str, schema: Schema | None = None) -> Any:
    """Decode a CSV body (header row, then one row per input) into a DataFrame."""
    import pandas as pd

    dtypes = None
    if schema is not None and not schema.is_tensor and schema.has_names:
        dtypes = {
            s.name: str for s in schema.specs if getattr(s, "type", None) in ("string", "binary")
        }
    raw = body.encode() if isinstance(body, str) else body
    if not raw.strip():
        raise PayloadError("the CSV body is empty: send a header row and one row per input")
    try:
        return pd.read_csv(io.BytesIO(raw), dtype=dtypes or None)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise PayloadError(f"the body is not valid CSV: {str(e).strip().splitlines()[0]}") from None


def predictions_json(predictions: Any) -> bytes:
    """``{"predictions": ...}`` as UTF-8 JSON (DataFrames as records, arrays as lists, NaN as null)."""
    try:
        return json.dumps(
            {"predictions": jsonable(predictions)}, allow_nan=False, separators=(",", ":")
        ).encode()
    except (TypeError, ValueError) as e:
        raise ModelError(
            f"the model returned predictions that cannot be sent as JSON: {e}"
        ) from None


def read_input_file(path: str, schema: Schema | None = None) -> tuple[Any, dict[str, Any] | None]:
    """Read a ``.csv`` or ``.json`` input file for ``gitml models predict``."""
    try:
        with open(path, "rb") as f:
            body = f.read()
    except OSError as e:
        raise ModelError(f"cannot read input file {path!r}: {e.strerror}") from None
    if path.lower().endswith(".csv"):
        return parse_csv(body, schema), None
    if path.lower().endswith(".json"):
        return parse_json(body, schema, lenient=True)
    raise ModelError(f"input file {path!r}: use a .csv or .json file")
