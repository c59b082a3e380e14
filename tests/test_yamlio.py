"""Stable YAML encoding (gitml.yamlio): round-trips with hypothesis, sorted keys, floats."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitml import yamlio

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def _same(a: object, b: object) -> bool:
    """Equal with types kept (True is not 1, 1.0 is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)  # type: ignore[attr-defined]
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))  # type: ignore[arg-type]
    return a == b


@given(st.dictionaries(st.text(max_size=20), VALUES, max_size=6))
def test_round_trip_keeps_values_and_types(data: dict[str, object]) -> None:
    assert _same(yamlio.loads(yamlio.dumps(data)), data)


@given(st.dictionaries(st.text(max_size=20), VALUES, max_size=6))
def test_encoding_is_stable(data: dict[str, object]) -> None:
    text = yamlio.dumps(data)
    assert yamlio.dumps(yamlio.loads(text)) == text


@given(st.floats(allow_nan=False))
def test_floats_stay_floats_and_exact(x: float) -> None:
    back = yamlio.loads(yamlio.dumps({"x": x}))["x"]
    assert isinstance(back, float) and back == x


def test_nan_and_infinities() -> None:
    back = yamlio.loads(yamlio.dumps({"n": math.nan, "p": math.inf, "m": -math.inf}))
    assert math.isnan(back["n"]) and back["p"] == math.inf and back["m"] == -math.inf


def test_strings_that_look_like_other_types_stay_strings() -> None:
    data = {"a": "1", "b": "true", "c": "null", "d": "2026-01-01", "e": "1e3", "f": "0x10", "g": ""}
    assert yamlio.loads(yamlio.dumps(data)) == data


def test_keys_sorted_block_style() -> None:
    text = yamlio.dumps({"b": 1, "a": {"y": [1, 2], "x": "s"}})
    assert text == "a:\n  x: s\n  y:\n  - 1\n  - 2\nb: 1\n"


def test_unicode_kept_readable() -> None:
    assert "héllo ✓" in yamlio.dumps({"k": "héllo ✓"})


KEYS = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_\-. /]{0,20}", fullmatch=True).filter(
    lambda k: k == k.strip() and "//" not in k
)
SUMMARY = st.fixed_dictionaries({
    "last": st.floats(), "min": st.floats(), "max": st.floats(),
    "step": st.integers(min_value=-(2**40), max_value=2**40),
    "timestamp": st.integers(min_value=0, max_value=2**45),
    "count": st.integers(min_value=1, max_value=10**9),
})  # fmt: skip


@given(st.dictionaries(KEYS | st.sampled_from(["1", "yes", "null", "1.5", "~", "true", "nan"]),
                       SUMMARY, max_size=5))  # fmt: skip
def test_fast_metrics_summary_reader_agrees_with_yaml(metrics: dict) -> None:
    from gitml.record import parse_metrics_summary

    data = yamlio.dumps(metrics).encode()
    fast = parse_metrics_summary(data)
    reference = yamlio.loads(data)
    assert fast is None or _same(fast, reference) or _nan_equal(fast, reference)
    keys_lines = [line for line in data.decode().splitlines() if not line.startswith(" ")]
    if metrics and not any(line[0] in "'\"-" for line in keys_lines):
        assert fast is not None, "gitml's own metrics.yaml with plain keys takes the fast path"


def _nan_equal(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for key in a:
        for field, x in a[key].items():
            y = b[key][field]
            if type(x) is not type(y) or not (x == y or (math.isnan(x) and math.isnan(y))):
                return False
    return True


TRICKY = st.sampled_from([
    "", "yes", "No", "on", "null", "~", "1", "1.5", "-x", "- a", "a: b", "a #b", "#c", "it's",
    "2026-11-26T20:00:00.123Z", "0.01", "1e5", "0x1f", "12:30:00", "---", "...x", " lead",
    "trail ", "a:", "?x", "!x", "&a", "*a", "%x", "@x", "`x", "|x", ">x", "[x]", "{x}", "a,b",
    "<<", "=", ".nan", ".inf", "0056996903df4d04a8379d809052b359", "x/y", "my key", "é",
])  # fmt: skip
TEXTS = TRICKY | st.text(max_size=12)
DATA = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXTS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXTS, inner, max_size=4),
    max_leaves=15,
)


@given(st.dictionaries(TEXTS, DATA, max_size=6))
def test_fast_writer_is_byte_for_byte_pyyaml(data: dict) -> None:
    # the fast path writes what PyYAML writes, or steps aside for PyYAML
    assert yamlio.dumps(data) == yamlio._slow_dumps(data)


def _same_value(a: object, b: object) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)  # type: ignore[union-attr]
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)  # type: ignore[arg-type]
    return a == b


@settings(max_examples=500)
@given(st.dictionaries(TEXTS, DATA, max_size=6))
def test_fast_reader_reads_what_pyyaml_reads(data: dict) -> None:
    import yaml

    text = yamlio.dumps(data)
    assert _same_value(yamlio.loads(text), yaml.load(text, Loader=yamlio._Loader))


@settings(max_examples=1000)
@given(st.text(alphabet="ab1.:-' #\n{}[]", max_size=40))
def test_fast_reader_never_disagrees_with_pyyaml_on_any_text(text: str) -> None:
    import yaml

    try:
        expected = yaml.load(text, Loader=yamlio._Loader)
    except yaml.YAMLError:
        with pytest.raises(yamlio._Unplain):  # not YAML: the fast reader invents nothing
            yamlio._fast_load(text)
        return
    try:
        got = yamlio._fast_load(text)
    except yamlio._Unplain:
        return
    assert _same_value(got, expected)
