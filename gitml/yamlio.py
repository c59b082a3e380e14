"""Stable YAML encoding: sorted keys, block style, native types kept, floats round-trip."""

from __future__ import annotations

import math
from typing import Any

import yaml

YAMLError = yaml.YAMLError  # what loads() raises on text that is not YAML

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _represent_float(dumper: yaml.SafeDumper, value: float) -> yaml.Node:
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
    return dumper.represent_scalar("tag:yaml.org,2002:float", text)


class _StableDumper(_Dumper):  # type: ignore[misc,valid-type]
    pass


_StableDumper.add_representer(float, _represent_float)


def dumps(data: Any) -> str:
    """Encode ``data`` as YAML with sorted keys; ``loads(dumps(x)) == x`` for plain data."""
    return yaml.dump(
        data,
        Dumper=_StableDumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
    )


def loads(text: str | bytes) -> Any:
    """Decode YAML text (safe loader; the C loader when available)."""
    return yaml.load(text, Loader=_Loader)
