"""Stable YAML encoding: sorted keys, block style, native types kept, floats round-trip."""

from __future__ import annotations

import functools
import io
import math
import re
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
# First characters of PyYAML's implicit (non-string) scalars: digits, signs, '.', '<',
# '=', '~' and the letters of true/false/yes/no/on/off/null
_IMPLICIT_FIRST = frozenset(
    ch for ch, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items() if ch is not None
)


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
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return yaml.load(text, Loader=_Loader)
    try:
        return _fast_load(text)
    except _Unplain:
        return yaml.load(text, Loader=_Loader)


# The reading side of the fast path: the block mappings written above (plain or
# single-quoted scalars, ``- item`` lists of scalars, ``{}``/``[]``), read into the same
# values PyYAML would give (a hypothesis test holds it to that); anything else, PyYAML.
_KEY = r"'(?:[^']|'')*'|[A-Za-z0-9_./-](?:[A-Za-z0-9_./ -]*[A-Za-z0-9_./-])?"
_VALUE = r"'(?:[^']|'')*'|\{\}|\[\]|[A-Za-z0-9_.+/-](?:[A-Za-z0-9_.:+/ -]*[A-Za-z0-9_.+/-])?"
_LINE = re.compile(rf"( *)(?:- ({_VALUE})|({_KEY}):(?: ({_VALUE}))?)\Z")
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
_FLOAT = re.compile(r"-?(?:[0-9]+\.[0-9]*(?:e[-+][0-9]+)?|\.inf|\.nan)\Z|\.inf\Z|\.nan\Z")
_TAG = "tag:yaml.org,2002:"


def _fast_scalar(text: str) -> Any:
    if text[0] == "'":
        return text[1:-1].replace("''", "'")
    if text == "{}":
        return {}
    if text == "[]":
        return []
    return _plain_value(text)


@functools.lru_cache(maxsize=8192)
def _plain_value(text: str) -> Any:
    """A plain scalar's value (immutable, so cached: keys and common values repeat)."""
    if ": " in text or " #" in text or text[0] in "-?:" and (len(text) == 1 or text[1] == " "):
        raise _Unplain  # a comment, a nested mapping or sequence, or an indicator: PyYAML's
    if _INT.match(text):  # what the int resolver reads the same way, without asking it
        return int(text)
    if text[0] not in _IMPLICIT_FIRST:  # no implicit type starts so: a string
        return text
    tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
    if tag == _STR_TAG:
        return text
    if tag == _TAG + "int" and _INT.match(text):
        return int(text)
    if tag == _TAG + "float" and _FLOAT.match(text):
        return {".nan": math.nan, ".inf": math.inf, "-.inf": -math.inf}.get(text) or float(text)
    if tag == _TAG + "bool" and text in ("true", "false"):
        return text == "true"
    if tag == _TAG + "null" and text == "null":
        return None
    raise _Unplain


def _fast_load(text: str) -> Any:
    if text == "{}\n":
        return {}
    if not text.endswith("\n") or "\t" in text or "#" in text and "'" not in text:
        raise _Unplain
    root: dict[str, Any] = {}
    # stack of (indent, container); a key waiting for its block is (indent, dict, key)
    stack: list[tuple[int, Any]] = [(0, root)]
    pending: tuple[int, dict[str, Any], str] | None = None
    for line in text[:-1].split("\n"):
        m = _LINE.match(line)
        if m is None:
            raise _Unplain
        spaces, item, key, value = m.groups()
        indent = len(spaces)
        if pending is not None:
            p_indent, p_dict, p_key = pending
            pending = None
            if item is not None and indent == p_indent:
                p_dict[p_key] = []
                stack.append((indent, p_dict[p_key]))
            elif key is not None and indent == p_indent + 2:
                p_dict[p_key] = {}
                stack.append((indent, p_dict[p_key]))
            else:
                raise _Unplain
        while stack and (stack[-1][0] > indent or (stack[-1][0] == indent and item is None
                                                    and isinstance(stack[-1][1], list))):  # fmt: skip
            stack.pop()
        if not stack or stack[-1][0] != indent:
            raise _Unplain
        container = stack[-1][1]
        if item is not None:
            if not isinstance(container, list):
                raise _Unplain
            container.append(_fast_scalar(item))
            continue
        if not isinstance(container, dict):
            raise _Unplain
        name = key[1:-1].replace("''", "'") if key[0] == "'" else key
        if key[0] != "'" and type(_plain_value(key)) is not str:
            raise _Unplain
        if name in container:
            raise _Unplain
        if value is None:
            container[name] = None  # replaced by the block that follows
            pending = (indent, container, name)
        else:
            container[name] = _fast_scalar(value)
    if pending is not None:
        raise _Unplain
    return root
