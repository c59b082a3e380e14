"""Stable YAML encoding: sorted keys, block style, native types kept, floats round-trip."""

from __future__ import annotations

import functools
import io
import math
from typing import Any

import yaml

YAMLError = yaml.YAMLError  # what loads() raises on text that is not YAML

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _float_text(value: float) -> str:
    if math.isnan(value):
        text = ".nan"
    elif math.isinf(value):
        text = ".inf" if value > 0 else "-.inf"
    else:
        text = repr(value)
        if "." not in text and "e" not in text and "n" not in text:
            text += ".0"
        elif "e" in text and "." not in text:
            mant, exp = text.split("e")
            text = f"{mant}.0e{exp}"
    return text


def _represent_float(dumper: yaml.SafeDumper, value: float) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:float", _float_text(value))


class _StableDumper(_Dumper):  # type: ignore[misc,valid-type]
    pass


_StableDumper.add_representer(float, _represent_float)


def dumps(data: Any) -> str:
    """Encode ``data`` as YAML with sorted keys; ``loads(dumps(x)) == x`` for plain data."""
    if type(data) is dict:
        try:
            return _fast_mapping(data, "")
        except _Unplain:
            pass
    return _slow_dumps(data)


def _slow_dumps(data: Any) -> str:
    return yaml.dump(
        data,
        Dumper=_StableDumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
    )


# ------------------------------------------------------------------------ fast path
# Every write of a run dumps four small mappings; PyYAML's Python representer is most of
# that cost. These mappings are almost always plain (simple keys, numbers, simple words),
# which the code below writes byte for byte as PyYAML would (a hypothesis test holds it
# to that); anything else raises _Unplain and PyYAML writes it.
class _Unplain(Exception):
    pass


_RESOLVER = yaml.resolver.Resolver()
_EMITTER = yaml.emitter.Emitter(io.StringIO())  # only its scalar analysis is used
_STR_TAG = "tag:yaml.org,2002:str"


@functools.lru_cache(maxsize=4096)
def _plain_text(text: str) -> str:
    """``text`` as PyYAML writes it in a block mapping: plain, or single-quoted when plain
    would read back as another type (a number, a date, ``yes``) or is not allowed."""
    if not text.isascii() or not text.isprintable():
        raise _Unplain
    analysis = _EMITTER.analyze_scalar(text)
    if analysis.multiline:
        raise _Unplain
    implicit = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False)) == _STR_TAG
    if implicit and analysis.allow_block_plain and not analysis.empty:
        return text
    if analysis.allow_single_quoted:
        return "'" + text.replace("'", "''") + "'"
    raise _Unplain


def _scalar(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _plain_text(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return _float_text(value)
    if value is None:
        return "null"
    raise _Unplain


def _fast_mapping(data: dict[Any, Any], indent: str) -> str:
    if not data:
        if indent:
            raise _Unplain
        return "{}\n"
    out = []
    for key in sorted(data):
        if type(key) is not str:
            raise _Unplain
        name = _plain_text(key)
        value = data[key]
        kind = type(value)
        if kind is dict:
            out.append(f"{indent}{name}: {{}}\n" if not value
                       else f"{indent}{name}:\n{_fast_mapping(value, indent + '  ')}")  # fmt: skip
        elif kind is list:
            if not value:
                out.append(f"{indent}{name}: []\n")
            else:
                items = "".join(f"{indent}- {_scalar(v)}\n" for v in value)
                out.append(f"{indent}{name}:\n{items}")
        else:
            out.append(f"{indent}{name}: {_scalar(value)}\n")
    return "".join(out)


def loads(text: str | bytes) -> Any:
    """Decode YAML text (safe loader; the C loader when available)."""
    return yaml.load(text, Loader=_Loader)
