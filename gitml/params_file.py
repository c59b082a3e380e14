"""Parameters and metrics files of wrapped commands: loading, ``-p`` overrides, placeholders."""

from __future__ import annotations

import datetime
import json
import math
import os
import re
from typing import Any

from . import keys
from .errors import InvalidKey, InvalidValue

DEFAULT_PARAMS_FILE = "params.yaml"
DEFAULT_METRICS_FILES = ("metrics.yaml", "metrics.json")

_EXPONENT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
# ``{key}`` where key uses key characters (no spaces: ``{ x }`` in a command is left alone)
_PLACEHOLDER = re.compile(r"\{\{([A-Za-z0-9_\-./]+)\}\}|\{([A-Za-z0-9_\-./]+)\}")


def load_file(path: str, what: str = "params file") -> dict[str, Any]:
    """A YAML, JSON or TOML file (by extension; YAML otherwise) holding a mapping.

    Raises:
        InvalidValue: the file is missing, unreadable, malformed or not a mapping.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise InvalidValue(f"{what} {path} does not exist; check the path") from None
    except OSError as exc:
        raise InvalidValue(f"{what} {path} cannot be read: {exc.strerror}") from None
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".json":
            value = json.loads(data)
        elif ext == ".toml":
            value = _toml_loads(data.decode())
        else:
            from . import yamlio

            value = yamlio.loads(data)
    except Exception as exc:  # noqa: BLE001 - each parser has its own error class
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidValue(
            f"{what} {path} is not valid {ext.lstrip('.').upper() or 'YAML'}: {first}"
        ) from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidValue(
            f"{what} {path} must hold a mapping of names to values, not a {type(value).__name__}"
        )
    return _plain(value)


def _toml_loads(text: str) -> Any:
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise InvalidValue("reading TOML needs Python 3.11 or `pip install tomli`") from None
    return tomllib.loads(text)


def _plain(value: Any) -> Any:
    """Dates and times (YAML and TOML read them natively) become ISO strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return value


def parse_value(text: str) -> Any:
    """A ``-p`` value as a YAML scalar: ``0.01`` → float, ``true`` → bool, ``[1, 2]`` → list.

    Text that YAML reads as something else (a date, a malformed flow) stays a string;
    an empty value is the empty string.
    """
    if text == "":
        return ""
    from . import yamlio

    try:
        value = yamlio.loads(text)
    except Exception:  # noqa: BLE001 - not YAML: keep the text
        return text
    if isinstance(value, (datetime.date, datetime.time)):
        return text
    if isinstance(value, str) and _EXPONENT.match(value):
        return float(value)  # YAML 1.1 reads 1e-3 as a string; it is meant as a number
    if value is not None and not isinstance(value, (bool, int, float, str, list, dict)):
        return text
    return _plain(value)


def parse_assignments(
    items: tuple[str, ...] | list[str], what: str = "-p"
) -> list[tuple[str, str]]:
    """``key=value`` strings → [(key, value)] with the keys validated."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidValue(f"{what} {item!r} must look like key=value")
        keys.validate_key(key.strip(), "tag key" if what == "--tag" else "param key")
        out.append((key.strip(), value))
    return out


def apply_overrides(base: dict[str, Any], overrides: list[tuple[str, str]]) -> dict[str, Any]:
    """``base`` with each ``key=value`` set; ``a.b=1`` reaches into a nested mapping ``a``.

    A dotted key sets a nested value when the file has a mapping at its first segment
    (``train.lr`` in ``train: {lr: 0.1}``); otherwise it is a key of its own.
    """
    params = json.loads(json.dumps(base, default=str))  # deep copy of plain data
    for key, text in overrides:
        value = parse_value(text)
        parts = key.split(".")
        node = params
        if len(parts) > 1 and isinstance(params.get(parts[0]), dict):
            for part in parts[:-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node[parts[-1]] = value
        else:
            params[key] = value
    return params


def lookup(params: dict[str, Any], key: str) -> tuple[bool, Any]:
    """(found, value) of ``key`` in ``params``, trying ``a.b`` as a nested path too."""
    if key in params:
        return True, params[key]
    node: Any = params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def format_value(value: Any) -> str:
    """A param as command-line text: strings as they are, everything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return json.dumps(value, separators=(",", ":"))


def substitute(argv: list[str], params: dict[str, Any]) -> list[str]:
    """Replace ``{key}`` with the param's value in every argument.

    ``{{key}}`` stays a literal ``{key}``; braces around anything that is not a param
    (``awk '{print}'``, ``find -exec {} ;``) are left untouched.
    """

    def repl(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            found, _ = lookup(params, m.group(1))
            return "{" + m.group(1) + "}" if found else m.group(0)
        found, value = lookup(params, m.group(2))
        return format_value(value) if found else m.group(0)

    return [_PLACEHOLDER.sub(repl, arg) for arg in argv]


def flatten_metrics(data: dict[str, Any], prefix: str = "") -> tuple[dict[str, float], list[str]]:
    """Numbers of a (nested) metrics mapping as ``{"eval.acc": 0.9}``, and the keys skipped.

    Booleans, strings and lists are not metrics and are skipped; so are invalid keys.
    """
    out: dict[str, float] = {}
    skipped: list[str] = []
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            sub, sub_skipped = flatten_metrics(v, key + ".")
            out.update(sub)
            skipped.extend(sub_skipped)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            try:
                keys.validate_key(key, "metric key")
            except InvalidKey:
                skipped.append(key)
                continue
            out[key] = float(v)
        else:
            skipped.append(key)
    return out, skipped
