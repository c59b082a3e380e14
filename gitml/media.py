"""Figures, images and tables as artifact bytes: MLflow's ``log_figure``, ``log_image``
and ``log_table``.

Nothing here imports matplotlib, plotly, numpy or PIL: the objects are recognized by
what they can do (``savefig``, ``to_html``, ``__array__``, ``save``), so a user who never
logs an image never pays for those imports.
"""

from __future__ import annotations

import io
import json
import math
import posixpath
import struct
import zlib
from typing import Any

from .errors import InvalidValue


def figure_bytes(figure: Any, artifact_file: str, save_kwargs: dict[str, Any] | None = None) -> bytes:
    """A matplotlib or plotly figure, encoded as ``artifact_file``'s extension says.

    matplotlib: any format ``savefig`` writes (png, svg, pdf, jpg...). plotly: ``.html``
    (self-contained), or an image format through plotly's ``to_image`` (kaleido).

    Raises:
        InvalidValue: not a figure, or an extension the figure cannot be written as.
    """
    ext = posixpath.splitext(artifact_file)[1].lower().lstrip(".")
    if not ext:
        raise InvalidValue(f"artifact_file {artifact_file!r} needs an extension, e.g. 'plot.png'")
    if hasattr(figure, "savefig"):  # matplotlib
        buffer = io.BytesIO()
        try:
            figure.savefig(buffer, format=ext, **(save_kwargs or {}))
        except ValueError as exc:
            raise InvalidValue(f"matplotlib cannot write {artifact_file!r}: {exc}") from None
        return buffer.getvalue()
    if hasattr(figure, "to_html"):  # plotly
        if ext in ("html", "htm"):
            return str(figure.to_html(**(save_kwargs or {}))).encode()
        try:
            return bytes(figure.to_image(format=ext, **(save_kwargs or {})))
        except Exception as exc:  # noqa: BLE001 - plotly needs kaleido for images
            raise InvalidValue(
                f"plotly cannot write {artifact_file!r} ({exc}); log it as '.html' instead"
            ) from None
    raise InvalidValue(
        f"log_figure takes a matplotlib or plotly figure, not {type(figure).__name__}"
    )


def image_bytes(image: Any, artifact_file: str) -> bytes:
    """A PIL image or a numpy array (H×W, H×W×1, H×W×3 or H×W×4; integers 0–255 or floats
    0–1, as MLflow takes them) as PNG; other extensions need PIL.

    Raises:
        InvalidValue: another object, a shape or value range that is no image, or a
            format other than PNG for an array without PIL installed.
    """
    ext = posixpath.splitext(artifact_file)[1].lower().lstrip(".")
    if hasattr(image, "save") and hasattr(image, "mode"):  # PIL
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG" if ext in ("jpg", "jpeg") else (ext or "png").upper())
        return buffer.getvalue()
    if not hasattr(image, "__array__"):
        raise InvalidValue(
            f"log_image takes a numpy array or a PIL image, not {type(image).__name__}"
        )
    import numpy as np  # an array was given, so numpy is there

    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InvalidValue(
            f"an image array has the shape (height, width) or (height, width, 1, 3 or 4), "
            f"not {array.shape}"
        )
    if array.dtype.kind == "f":
        if array.size and not (np.nanmin(array) >= 0 and np.nanmax(array) <= 1):
            raise InvalidValue("a float image array takes values from 0 to 1")
        array = np.round(np.nan_to_num(array) * 255)
    elif array.dtype.kind in "iu":
        if array.size and not (array.min() >= 0 and array.max() <= 255):
            raise InvalidValue("an integer image array takes values from 0 to 255")
    elif array.dtype.kind != "b":
        raise InvalidValue(f"an image array holds numbers, not {array.dtype}")
    array = array.astype(np.uint8) * (255 if array.dtype.kind == "b" else 1)
    if ext not in ("png", ""):
        try:
            from PIL import Image
        except ImportError:
            raise InvalidValue(
                f"{artifact_file!r}: arrays are written as PNG without Pillow; "
                "name the file '.png' or `pip install pillow`"
            ) from None
        return image_bytes(Image.fromarray(array), artifact_file)
    return _png(array.tobytes(), array.shape[1], array.shape[0], 1 if array.ndim == 2 else array.shape[2])


def image_path(artifact_file: str | None, key: str | None, step: int | None) -> str:
    """Where ``log_image`` stores an image: ``artifact_file``, or ``images/<key>/step-N.png``.

    Raises:
        InvalidValue: both or neither of ``artifact_file`` and ``key``; a step that is not
            a whole number.
    """
    if (artifact_file is None) == (key is None):
        raise InvalidValue("log_image needs artifact_file (e.g. 'sample.png') or key (with step)")
    if artifact_file is not None:
        if step is not None:
            raise InvalidValue("log_image: step goes with key, not with artifact_file")
        return artifact_file
    if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
        raise InvalidValue(f"log_image: step must be a whole number >= 0, not {step!r}")
    return f"images/{key}/step-{step or 0:06d}.png"


def _png(pixels: bytes, width: int, height: int, channels: int) -> bytes:
    """A PNG of 8-bit rows (gray, RGB or RGBA), without filters."""
    color = {1: 0, 3: 2, 4: 6}[channels]
    stride = width * channels
    raw = b"".join(b"\0" + pixels[y * stride : (y + 1) * stride] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))  # fmt: skip


def table_json(data: Any) -> str:
    """A dict of columns or a pandas DataFrame as MLflow's table JSON:
    ``{"columns": [...], "data": [[...], ...]}``.

    Raises:
        InvalidValue: another object, or columns of different lengths.
    """
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # a DataFrame
        columns = [str(c) for c in data.columns]
        rows = data.to_dict(orient="split")["data"]
    elif isinstance(data, dict):
        columns = [str(c) for c in data]
        values = [
            [v] if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__") else list(v)
            for v in data.values()
        ]
        lengths = {len(v) for v in values}
        if len(lengths) > 1:
            raise InvalidValue(
                "log_table: every column needs as many values; got lengths "
                + ", ".join(f"{c}={len(v)}" for c, v in zip(columns, values, strict=True))
            )
        rows = [list(row) for row in zip(*values, strict=True)]
    else:
        raise InvalidValue(f"log_table takes a dict of columns or a pandas DataFrame, not {type(data).__name__}")
    return json.dumps({"columns": columns, "data": [[_plain(v) for v in row] for row in rows]})


def _plain(value: Any) -> Any:
    """A JSON-ready cell: numpy scalars unwrapped, NaN and infinities as null."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
