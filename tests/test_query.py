"""Tests of the filter grammar, ordering and search_runs (gitml.query)."""

from __future__ import annotations

import fnmatch
import math
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import start
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitml.errors import FilterError, GitmlError
from gitml.query import (
    Field,
    flatten,
    matches,
    parse_field,
    parse_filter,
    parse_order_by,
    select,
    sort_summaries,
    to_dataframe,
)


def run(name: str, **fields: Any) -> dict[str, Any]:
    """A run summary in the index cache's format, with overridable fields."""
    summary: dict[str, Any] = {
        "run_id": (name.encode().hex() * 32)[:32],
        "name": name,
        "experiment": "default",
        "status": "FINISHED",
        "lifecycle": "active",
        "revision": 3,
        "start_time": "2026-11-26T20:00:00.000Z",
        "end_time": "2026-11-26T20:01:30.000Z",
        "user": "ada",
        "host": "box",
        "pid": 4242,
        "parent_run": None,
        "source": {"commit": "c0ffee" * 6 + "abcd", "branch": "main", "dirty": False},
        "params": {},
        "metrics": {},
        "tags": {},
        "commit": "f" * 40,
    }
    summary.update(fields)
    return summary


def metrics(**values: float) -> dict[str, dict[str, Any]]:
    return {
        k: {"last": v, "step": 0, "timestamp": 0, "min": v, "max": v, "count": 1}
        for k, v in values.items()
    }


RUNS = [
    run(
        "bold-owl-1",
        experiment="mnist",
        params={"lr": 0.01, "optim": "adam", "epochs": 10, "bn": True, "net": {"depth": 3}},
        metrics=metrics(acc=0.95, loss=0.1),
        tags={"team": "vision", "epoch": "12", "my key": "x"},
        source={"commit": "a" * 40, "branch": "main", "dirty": True},
    ),
    run(
        "calm-fox-2",
        experiment="mnist",
        status="RUNNING",
        start_time="2026-11-26T21:00:00Z",
        end_time=None,
        params={"lr": "high", "optim": "sgd", "bn": False, "note": None},
        metrics=metrics(acc=math.nan),
        tags={},
    ),
    run(
        "eager-elk-3",
        experiment="cifar",
        status="FAILED",
        start_time="2026-11-25T10:00:00Z",
        params={"lr": 0.1, "optim": "Adam", "net.depth": 5, "layers": [1, 2]},
        metrics=metrics(acc=0.5, **{"val loss": 0.7}),
        tags={"team": "Vision", "epoch": "3"},
        lifecycle="deleted",
        user="bob",
    ),
]


def names(text: str | None, runs: list[dict[str, Any]] = RUNS, **kwargs: Any) -> list[str]:
    return sorted(s["name"] for s in select(runs, text, **kwargs))


# --------------------------------------------------------------------------- operators


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.acc > 0.9", ["bold-owl-1"]),
        ("metrics.acc >= 0.5", ["bold-owl-1", "eager-elk-3"]),
        ("metrics.acc < 0.9", ["eager-elk-3"]),
        ("metrics.acc <= 0.95", ["bold-owl-1", "eager-elk-3"]),
        ("metrics.acc = 0.5", ["eager-elk-3"]),
        ("metrics.acc == 0.5", ["eager-elk-3"]),
        ("metrics.acc != 0.5", ["bold-owl-1"]),  # NaN matches nothing, not even !=
        ("metrics.acc <> 0.5", ["bold-owl-1"]),
        ("metrics.acc IN (0.5, 0.95)", ["bold-owl-1", "eager-elk-3"]),
        ("metrics.acc NOT IN (0.5)", ["bold-owl-1"]),
        ("metrics.acc IS NULL", []),
        ("metrics.loss IS NULL", ["calm-fox-2", "eager-elk-3"]),
        ("metrics.loss IS NOT NULL", ["bold-owl-1"]),
        ("metrics.acc > '0.9'", ["bold-owl-1"]),  # a quoted number is still a number
        ("metrics.acc > 1e-1", ["bold-owl-1", "eager-elk-3"]),
        ("metrics.acc > -1", ["bold-owl-1", "eager-elk-3"]),
        ("metrics.acc > .9", ["bold-owl-1"]),
    ],
)
def test_metric_comparisons(text: str, expected: list[str]) -> None:
    assert names(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.optim = 'adam'", ["bold-owl-1"]),
        ("params.optim != 'adam'", ["calm-fox-2", "eager-elk-3"]),
        ("params.optim LIKE 'a%'", ["bold-owl-1"]),
        ("params.optim ILIKE 'a%'", ["bold-owl-1", "eager-elk-3"]),
        ("params.optim LIKE '_gd'", ["calm-fox-2"]),
        ("params.optim LIKE '%am'", ["bold-owl-1", "eager-elk-3"]),
        ("params.optim IN ('sgd', 'Adam')", ["calm-fox-2", "eager-elk-3"]),
        ("params.optim NOT IN ('sgd', 'Adam')", ["bold-owl-1"]),
        ("params.optim < 'b'", ["bold-owl-1", "eager-elk-3"]),
        # native numbers
        ("params.lr > 0.001", ["bold-owl-1", "eager-elk-3"]),
        ("params.lr < 0.05", ["bold-owl-1"]),
        ("params.lr = 0.01", ["bold-owl-1"]),
        ("params.epochs = 10", ["bold-owl-1"]),
        ("params.epochs = 10.0", ["bold-owl-1"]),
        # a quoted literal that spells a number compares numerically with number params
        ("params.lr = '0.01'", ["bold-owl-1"]),
        ("params.lr = '1e-2'", ["bold-owl-1"]),
        ("params.lr > '0.05'", ["calm-fox-2", "eager-elk-3"]),  # 'high' > '0.05' as text
        # a str param never equals a number, and is never ordered against one
        ("params.lr = 'high'", ["calm-fox-2"]),
        ("params.lr >= 0", ["bold-owl-1", "eager-elk-3"]),
        ("params.lr != 0.01", ["calm-fox-2", "eager-elk-3"]),
        # bools
        ("params.bn = true", ["bold-owl-1"]),
        ("params.bn = FALSE", ["calm-fox-2"]),
        ("params.bn = 'True'", ["bold-owl-1"]),
        ("params.bn = 1", []),
        # null params and missing params
        ("params.note IS NULL", ["bold-owl-1", "calm-fox-2", "eager-elk-3"]),
        ("params.epochs IS NULL", ["calm-fox-2", "eager-elk-3"]),
        ("params.epochs != 3", ["bold-owl-1"]),
        # nested params, and keys that contain a dot
        ("params.net.depth = 3", ["bold-owl-1"]),
        ("params.net.depth > 1", ["bold-owl-1", "eager-elk-3"]),
        ("params.`net.depth` = 5", ["eager-elk-3"]),
        # lists compare as their JSON text
        ("params.layers = '[1, 2]'", ["eager-elk-3"]),
        ("params.layers LIKE '[1%'", ["eager-elk-3"]),
        # LIKE on a number param matches its text
        ("params.lr LIKE '0.0%'", ["bold-owl-1"]),
    ],
)
def test_param_comparisons(text: str, expected: list[str]) -> None:
    assert names(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tags.team = 'vision'", ["bold-owl-1"]),
        ("tags.team ILIKE 'VISION'", ["bold-owl-1", "eager-elk-3"]),
        ("tags.team IS NULL", ["calm-fox-2"]),
        ("tags.team IS NOT NULL", ["bold-owl-1", "eager-elk-3"]),
        ("tags.epoch > 5", ["bold-owl-1"]),  # number literal: tags holding numbers compare
        ("tags.epoch < '2'", ["bold-owl-1"]),  # text literal: text order ('12' < '2')
        ("tags.epoch < 2", []),
        ("tags.epoch = 12", ["bold-owl-1"]),
        ("tags.`my key` = 'x'", ["bold-owl-1"]),
        ('tags."my key" = "x"', ["bold-owl-1"]),
    ],
)
def test_tag_comparisons(text: str, expected: list[str]) -> None:
    assert names(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("attributes.status = 'FINISHED'", ["bold-owl-1"]),
        ("status = 'running'", ["calm-fox-2"]),  # status literals are upper-cased
        ("status IN ('FAILED', 'KILLED')", ["eager-elk-3"]),
        ("attribute.run_name = 'bold-owl-1'", ["bold-owl-1"]),
        ("attr.name LIKE '%fox%'", ["calm-fox-2"]),
        ("run.`run name` = 'calm-fox-2'", ["calm-fox-2"]),
        ("`Run Name` = 'calm-fox-2'", ["calm-fox-2"]),
        ("run_id = '" + RUNS[0]["run_id"] + "'", ["bold-owl-1"]),
        ("run_id LIKE '" + RUNS[0]["run_id"][:6] + "%'", ["bold-owl-1"]),
        ("experiment = 'cifar'", ["eager-elk-3"]),
        ("experiment_id = 'cifar'", ["eager-elk-3"]),
        ("lifecycle = 'DELETED'", ["eager-elk-3"]),
        ("lifecycle_stage = 'active'", ["bold-owl-1", "calm-fox-2"]),
        ("user = 'bob'", ["eager-elk-3"]),
        ("user_id != 'bob'", ["bold-owl-1", "calm-fox-2"]),
        ("start_time > '2026-11-26'", ["bold-owl-1", "calm-fox-2"]),
        ("start_time >= '2026-11-26T21:00:00Z'", ["calm-fox-2"]),
        ("created < '2026-11-26T00:00:00+00:00'", ["eager-elk-3"]),
        ("start_time > 1795000000000", ["bold-owl-1", "calm-fox-2", "eager-elk-3"]),
        ("end_time IS NULL", ["calm-fox-2"]),
        ("duration = 90", ["bold-owl-1"]),
        ("duration > 86400", ["eager-elk-3"]),
        ("dirty = true", ["bold-owl-1"]),
        ("attributes.dirty = 'false'", ["calm-fox-2", "eager-elk-3"]),
        ("baseline LIKE 'aaaa%'", ["bold-owl-1"]),
        ("branch = 'main'", ["bold-owl-1", "calm-fox-2", "eager-elk-3"]),
        ("revision >= 3", ["bold-owl-1", "calm-fox-2", "eager-elk-3"]),
        ("parent_run IS NULL", ["bold-owl-1", "calm-fox-2", "eager-elk-3"]),
    ],
)
def test_attribute_comparisons(text: str, expected: list[str]) -> None:
    assert names(text) == expected


# --------------------------------------------------------------------------- syntax


@pytest.mark.parametrize(
    "text",
    [
        "metrics.acc > 0.9 and params.optim = 'adam'",
        "METRICS.acc > 0.9 AND PARAMS.optim = 'adam'",
        'metric.acc > 0.9 And param.optim = "adam"',
        "metrics.`acc` > 0.9 and parameters.`optim` = 'adam'",
        'metrics."acc">0.9 and params."optim"=\'adam\'',
        "(metrics.acc > 0.9) and (params.optim = 'adam')",
        "((metrics.acc > 0.9 and ((params.optim = 'adam'))))",
        "  metrics.acc>0.9   and\tparams.optim='adam'  ",
        "metrics.acc > 0.9 and params.optim like 'adam'",
        "metrics.acc > 0.9 and params.optim in ('adam')",
    ],
)
def test_spellings_of_one_filter(text: str) -> None:
    assert names(text) == ["bold-owl-1"]


def test_and_binds_tighter_than_or() -> None:
    a_or_b_and_c = "status = 'FAILED' or metrics.acc > 0.9 and params.optim = 'sgd'"
    assert names(a_or_b_and_c) == ["eager-elk-3"]
    assert names("(status = 'FAILED' or metrics.acc > 0.9) and params.optim = 'adam'") == [
        "bold-owl-1"
    ]
    assert names("metrics.acc > 0.9 and params.optim = 'adam' or status = 'RUNNING'") == [
        "bold-owl-1",
        "calm-fox-2",
    ]


def test_string_escapes() -> None:
    runs = [run("a", params={"q": "it's"}), run("b", params={"q": 'say "hi"'})]
    assert names("params.q = 'it''s'", runs) == ["a"]
    assert names("params.q = 'it\\'s'", runs) == ["a"]
    assert names('params.q = "say \\"hi\\""', runs) == ["b"]
    assert names("params.q LIKE '%\"%'", runs) == ["b"]


def test_like_escapes_regex_characters() -> None:
    runs = [
        run("a", params={"p": "a.b"}),
        run("b", params={"p": "axb"}),
        run("c", params={"p": "(x"}),
    ]
    assert names("params.p LIKE 'a.b'", runs) == ["a"]
    assert names("params.p LIKE '(%'", runs) == ["c"]
    assert names("params.p LIKE 'a_b'", runs) == ["a", "b"]


def test_keys_with_slashes_and_dashes_need_no_quotes() -> None:
    runs = [run("a", metrics=metrics(**{"val/loss-1": 0.2}))]
    assert names("metrics.val/loss-1 < 0.3", runs) == ["a"]
    assert names("metrics.`val/loss-1` < 0.3", runs) == ["a"]


def test_empty_filter_matches_everything() -> None:
    assert names(None) == names("") == names("   ") == sorted(r["name"] for r in RUNS)


def test_parsed_predicates_are_reusable_and_cached() -> None:
    predicate = parse_filter("metrics.acc > 0.9")
    assert predicate is parse_filter("metrics.acc > 0.9")
    assert parse_filter(predicate) is predicate
    assert [predicate.matches(r) for r in RUNS] == [True, False, False]
    assert matches("params.lr > 0.05", RUNS[2])
    assert [
        f.name
        for f in parse_filter("params.a = 1 or (tags.b = 'x' and status = 'FAILED')").fields()
    ] == [
        "params.a",
        "tags.b",
        "status",
    ]


def test_parse_field() -> None:
    assert parse_field("metrics.acc") == Field("metrics", "acc")
    assert parse_field("params.`my key`") == Field("params", "my key")
    assert parse_field("attr.Run_Name") == Field("attributes", "run_name")
    assert parse_field("name").name == "run_name"
    assert parse_field("tag.a.b").name == "tags.a.b"
    with pytest.raises(FilterError, match="unknown attribute 'acc'"):
        parse_field("acc")


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "column", "problem"),
    [
        ("metrics.acc >", 14, "expected a value after '>'"),
        ("metrics.acc > and x = 1", 15, "expected a value after '>', found 'AND'"),
        ("metrics.acc > 0.9 and", 22, "expected a condition after AND"),
        ("metrics.acc > 0.9 or or", 22, "expected a condition after OR"),
        ("metrics.acc 0.9", 13, "expected an operator after 'metrics.acc'"),
        ("metrics.acc", 12, "expected an operator after 'metrics.acc'"),
        ("(metrics.acc > 1", 17, "expected ')' to close the '(' at column 1"),
        ("metrics.acc > 1)", 16, "expected AND, OR or the end, found ')'"),
        ("()", 2, "expected a condition after '('"),
        ("metrics.acc > 1 params.a = 2", 17, "expected AND, OR or the end"),
        ("params.a = 'open", 12, "the quoted text has no closing '"),
        ("params.a = 1 and #", 18, "unexpected character '#'"),
        ("foo = 1", 1, "unknown attribute 'foo'"),
        ("metrix.acc = 1", 1, "unknown entity 'metrix'"),
        ("attributes.foo = 1", 1, "unknown attribute 'foo'"),
        ("metrics. = 1", 1, "expected a key after 'metrics.'"),
        ("metrics.acc = 'high'", 15, "metrics.acc compares with numbers"),
        ("metrics.acc LIKE '1%'", 18, "LIKE applies to text, not to metrics.acc"),
        ("params.a LIKE 1", 15, "LIKE needs a quoted pattern"),
        ("params.a = NULL", 12, "use IS NULL or IS NOT NULL"),
        ("params.a IS 3", 13, "expected NULL or NOT NULL after IS"),
        ("params.a IS NOT 3", 17, "expected NULL after IS NOT"),
        ("params.a NOT 3", 14, "expected IN after NOT"),
        ("params.a IN 3", 13, "expected '(' after IN"),
        ("params.a IN (1 2)", 16, "expected ',' or ')' in the IN list"),
        ("params.a IN ()", 14, "expected a value after 'IN'"),
        ("start_time > 'yesterday'", 14, "start_time > compares with ms since the epoch"),
        ("dirty = 'maybe'", 9, "dirty compares with true or false"),
        ("duration > 'long'", 12, "duration compares with numbers"),
        ("= 1", 1, "expected a key such as metrics.acc"),
        ("and", 1, "expected a key such as metrics.acc, found 'AND'"),
    ],
)
def test_errors_point_at_the_problem(text: str, column: int, problem: str) -> None:
    with pytest.raises(FilterError) as info:
        parse_filter(text)
    message = str(info.value)
    assert message.startswith(f"invalid filter at column {column}: {problem}"), message
    assert "\n" not in message
    assert info.value.column == column  # type: ignore[attr-defined]
    assert isinstance(info.value, GitmlError)


def test_error_shows_the_fragment() -> None:
    with pytest.raises(FilterError, match=r'column 15: .* \(near "and params.b = 2"\)'):
        parse_filter("metrics.acc > and params.b = 2")
    with pytest.raises(FilterError, match=r'\(at the end of "metrics.acc >"\)'):
        parse_filter("metrics.acc >")


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    assert names("(" * 50 + "metrics.acc > 0.9" + ")" * 50) == ["bold-owl-1"]
    with pytest.raises(FilterError, match="column 101: parentheses nested deeper than 100"):
        parse_filter("(" * 500 + "metrics.acc > 0.9" + ")" * 500)


def test_a_filter_must_be_text() -> None:
    with pytest.raises(FilterError, match="a filter is a string"):
        parse_filter(42)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- ordering


def order(order_by: Any, runs: list[dict[str, Any]] = RUNS) -> list[str]:
    return [s["name"] for s in sort_summaries(runs, order_by)]


def test_default_order_is_newest_first() -> None:
    assert order(None) == ["calm-fox-2", "bold-owl-1", "eager-elk-3"]


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (["metrics.acc"], ["eager-elk-3", "bold-owl-1", "calm-fox-2"]),  # NaN last
        (["metrics.acc DESC"], ["bold-owl-1", "eager-elk-3", "calm-fox-2"]),
        (["-metrics.acc"], ["bold-owl-1", "eager-elk-3", "calm-fox-2"]),
        (["metrics.acc asc"], ["eager-elk-3", "bold-owl-1", "calm-fox-2"]),
        ("metrics.loss desc", ["bold-owl-1", "calm-fox-2", "eager-elk-3"]),  # missing last
        (["metrics.loss"], ["bold-owl-1", "calm-fox-2", "eager-elk-3"]),
        (["params.epochs DESC"], ["bold-owl-1", "calm-fox-2", "eager-elk-3"]),
        (["start_time ASC"], ["eager-elk-3", "bold-owl-1", "calm-fox-2"]),
        (["attributes.start_time"], ["eager-elk-3", "bold-owl-1", "calm-fox-2"]),
        (["run_name DESC"], ["eager-elk-3", "calm-fox-2", "bold-owl-1"]),
        (["experiment", "-metrics.acc"], ["eager-elk-3", "bold-owl-1", "calm-fox-2"]),
        (["tags.`my key`"], ["bold-owl-1", "calm-fox-2", "eager-elk-3"]),
        (["-params.lr"], ["calm-fox-2", "eager-elk-3", "bold-owl-1"]),  # text after numbers
        (["params.lr"], ["bold-owl-1", "eager-elk-3", "calm-fox-2"]),
        (["- metrics.acc DESC"], ["eager-elk-3", "bold-owl-1", "calm-fox-2"]),  # two negations
    ],
)
def test_order_by(order_by: Any, expected: list[str]) -> None:
    assert order(order_by) == expected


def test_order_is_stable_and_ties_fall_back_to_newest_first() -> None:
    runs = [
        run(f"r{i}", start_time=f"2026-11-26T20:00:0{i}Z", params={"g": i % 2}) for i in range(6)
    ]
    assert order(["params.g"], runs) == ["r4", "r2", "r0", "r5", "r3", "r1"]
    assert order(["-params.g"], runs) == ["r5", "r3", "r1", "r4", "r2", "r0"]


@pytest.mark.parametrize(
    ("clause", "problem"),
    [
        ("metrics.acc DSC", "column 13: expected ASC or DESC, found 'DSC'"),
        ("-metrics.acc UP", "column 14: expected ASC or DESC"),
        ("acc", "column 1: unknown attribute 'acc'"),
        ("metrics.acc > 1", "column 13: expected ASC or DESC"),
    ],
)
def test_order_by_errors(clause: str, problem: str) -> None:
    with pytest.raises(FilterError, match=f"invalid order_by at {problem}"):
        parse_order_by([clause])


def test_order_by_fields() -> None:
    ordering = parse_order_by(["metrics.acc DESC", "-params.lr", "start_time"])
    assert [(f.name, d) for f, d in ordering.clauses] == [
        ("metrics.acc", True),
        ("params.lr", True),
        ("start_time", False),
    ]


# --------------------------------------------------------------------------- select


def test_select_experiments_and_limit() -> None:
    assert names(None, experiment="mnist") == ["bold-owl-1", "calm-fox-2"]
    assert names(None, experiment=["mnist", "cifar"]) == sorted(r["name"] for r in RUNS)
    found = select(RUNS, "metrics.acc > 0", order_by=["-metrics.acc"], max_results=1)
    assert [s["name"] for s in found] == ["bold-owl-1"]
    assert select(RUNS, None, max_results=0) == []
    with pytest.raises(FilterError, match="max_results"):
        select(RUNS, None, max_results=-1)


def test_flatten() -> None:
    assert flatten({"a": {"b": {"c": 1}, "d": 2}, "e": 3}) == {"a.b.c": 1, "a.d": 2, "e": 3}
    assert flatten({"a": {}, "b": [1, {"x": 1}]}) == {"a": {}, "b": [1, {"x": 1}]}
    # a literal dotted key wins over the same key built by nesting, in any order
    assert flatten({"a": {"b": 1}, "a.b": 2}) == {"a.b": 2}
    assert flatten({"a.b": 2, "a": {"b": 1}}) == {"a.b": 2}


def test_to_dataframe_columns_and_types() -> None:
    frame = to_dataframe(RUNS)
    assert list(frame.columns[:7]) == [
        "run_id", "run_name", "experiment", "status", "start_time", "end_time", "lifecycle",
    ]  # fmt: skip
    assert "params.net.depth" in frame.columns and "metrics.val loss" in frame.columns
    assert str(frame["start_time"].dt.tz) == "UTC"
    assert frame["end_time"].isna().tolist() == [False, True, False]
    assert frame["params.epochs"].tolist() == [10, None, None]  # native types kept
    assert frame["metrics.acc"].dtype == "float64"
    assert math.isnan(frame["metrics.loss"][2])
    assert frame["tags.team"].tolist() == ["vision", None, "Vision"]


def test_empty_dataframe_keeps_base_columns() -> None:
    frame = to_dataframe([])
    assert list(frame.columns) == [
        "run_id", "run_name", "experiment", "status", "start_time", "end_time", "lifecycle",
    ]  # fmt: skip
    assert len(frame) == 0


def test_import_gitml_does_not_import_pandas() -> None:
    code = "import sys, gitml, gitml.query; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- hypothesis
#
# Random runs and random filter trees; the filter text rendered from a tree must select
# exactly the runs that a plain Python predicate, evaluated over the same tree, selects.

PARAM_KEYS = ["p0", "p1", "p 2"]
METRIC_KEYS = ["m0", "m1"]
TAG_KEYS = ["t0", "t1"]
WORDS = ["adam", "Adam", "sgd", "a_b", "it's", "1", "2.5", "true", ""]

floats = st.floats(allow_infinity=False, width=32).map(float) | st.sampled_from([0.0, 1.0, 2.5])
param_values = st.one_of(
    st.integers(-3, 3), floats, st.sampled_from(WORDS), st.booleans(), st.none()
)
literals = st.one_of(
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(float),
    st.sampled_from(WORDS),
    st.booleans(),
)
gen_runs = st.lists(
    st.fixed_dictionaries(
        {
            "params": st.dictionaries(st.sampled_from(PARAM_KEYS), param_values),
            "metrics": st.dictionaries(st.sampled_from(METRIC_KEYS), floats),
            "tags": st.dictionaries(st.sampled_from(TAG_KEYS), st.sampled_from(WORDS)),
        }
    ),
    max_size=6,
)


@st.composite
def comparisons(draw: st.DrawFn) -> tuple[str, ...]:
    entity = draw(st.sampled_from(["params", "metrics", "tags"]))
    key = draw(
        st.sampled_from({"params": PARAM_KEYS, "metrics": METRIC_KEYS, "tags": TAG_KEYS}[entity])
    )
    ops = ["=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN", "IS NULL", "IS NOT NULL"]
    if entity != "metrics":
        ops += ["LIKE", "ILIKE"]
    op = draw(st.sampled_from(ops))
    if op in ("IS NULL", "IS NOT NULL"):
        return ("cmp", entity, key, op, None)
    if entity == "metrics":
        value_strategy: st.SearchStrategy[Any] = st.floats(
            allow_nan=False, allow_infinity=False, width=32
        ).map(float) | st.integers(-3, 3)
    elif op in ("LIKE", "ILIKE"):
        value_strategy = st.sampled_from(["a%", "%a%", "_dam", "%", "A_a%", "1", "%'%"])
    else:
        value_strategy = literals
    if op in ("IN", "NOT IN"):
        return (
            "cmp",
            entity,
            key,
            op,
            tuple(draw(st.lists(value_strategy, min_size=1, max_size=3))),
        )
    return ("cmp", entity, key, op, draw(value_strategy))


trees = st.recursive(
    comparisons(),
    lambda children: st.tuples(
        st.sampled_from(["and", "or"]), st.lists(children, min_size=2, max_size=3)
    ),
    max_leaves=8,
)


def render_literal(value: Any, draw: st.DrawFn) -> str:
    if isinstance(value, bool):
        return draw(st.sampled_from(["true", "TRUE", "True"] if value else ["false", "FALSE"]))
    if isinstance(value, (int, float)):
        return repr(value)
    if draw(st.booleans()):
        return "'" + value.replace("'", "''") + "'"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_field(entity: str, key: str, draw: st.DrawFn) -> str:
    aliases = {
        "params": ["params", "param", "PARAMS"],
        "metrics": ["metrics", "metric"],
        "tags": ["tags", "tag"],
    }
    prefix = draw(st.sampled_from(aliases[entity]))
    style = (
        draw(st.sampled_from(["bare", "backquoted", "dquoted"])) if " " not in key else "backquoted"
    )
    quoted = {"bare": key, "backquoted": f"`{key}`", "dquoted": f'"{key}"'}[style]
    return f"{prefix}.{quoted}"


def render(tree: tuple[Any, ...], draw: st.DrawFn, parent: str | None = None) -> str:
    if tree[0] == "cmp":
        _, entity, key, op, value = tree
        field = render_field(entity, key, draw)
        spelled_op = draw(st.sampled_from([op, op.lower()]))
        if value is None:
            text = f"{field} {spelled_op}"
        elif isinstance(value, tuple):
            text = (
                f"{field} {spelled_op} (" + ", ".join(render_literal(v, draw) for v in value) + ")"
            )
        else:
            space = draw(st.sampled_from([" ", ""])) if op[0] in "=!<>" else " "
            text = f"{field}{space}{spelled_op} {render_literal(value, draw)}"
        return f"({text})" if draw(st.integers(0, 5)) == 0 else text
    kind, children = tree
    joiner = " " + draw(st.sampled_from([kind, kind.upper(), kind.title()])) + " "
    text = joiner.join(render(child, draw, kind) for child in children)
    needs_parens = parent == "and" and kind == "or"
    return f"({text})" if needs_parens or (parent and draw(st.booleans())) else text


# the reference semantics, written plainly from docs/query.md


def ref_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return None if math.isnan(value) else value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def ref_pair(entity: str, lhs: Any, rhs: Any) -> tuple[Any, Any] | None:
    if isinstance(lhs, bool):
        if isinstance(rhs, bool):
            return lhs, rhs
        if isinstance(rhs, str) and rhs.lower() in ("true", "false"):
            return lhs, rhs.lower() == "true"
        return None
    if isinstance(lhs, (int, float)):
        number = ref_number(rhs)
        return None if number is None else (lhs, number)
    if isinstance(rhs, bool) and entity == "tags":
        rhs = "true" if rhs else "false"
    if isinstance(rhs, str):
        return lhs, rhs
    if entity == "tags" and ref_number(lhs) is not None and not isinstance(rhs, bool):
        return ref_number(lhs), rhs
    return None


def ref_like(lhs: Any, pattern: str, ignore_case: bool) -> bool:
    if isinstance(lhs, bool):
        text = "true" if lhs else "false"
    elif isinstance(lhs, (int, float)):
        text = repr(lhs)
    else:
        text = lhs
    glob = pattern.replace("%", "*").replace("_", "?")
    if ignore_case:
        return fnmatch.fnmatchcase(text.lower(), glob.lower())
    return fnmatch.fnmatchcase(text, glob)


def ref_compare(entity: str, lhs: Any, op: str, rhs: Any) -> bool:
    if op == "IS NULL":
        return lhs is None
    if op == "IS NOT NULL":
        return lhs is not None
    if lhs is None or (isinstance(lhs, float) and math.isnan(lhs)):
        return False
    if op in ("IN", "NOT IN"):
        hit = any(ref_compare(entity, lhs, "=", item) for item in rhs)
        return hit if op == "IN" else not hit
    if op in ("LIKE", "ILIKE"):
        return ref_like(lhs, rhs, op == "ILIKE")
    pair = ref_pair(entity, lhs, rhs)
    if op == "!=":
        return not (pair is not None and pair[0] == pair[1])
    if pair is None:
        return False
    a, b = pair
    return {"=": a == b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def ref_eval(tree: tuple[Any, ...], generated: dict[str, Any]) -> bool:
    if tree[0] == "cmp":
        _, entity, key, op, value = tree
        lhs = generated[entity].get(key)
        return ref_compare(entity, lhs, op, value)
    kind, children = tree
    results = [ref_eval(child, generated) for child in children]
    return all(results) if kind == "and" else any(results)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gen_runs, trees, st.data())
def test_generated_filters_match_the_reference_predicate(
    generated: list[dict[str, Any]], tree: tuple[Any, ...], data: st.DataObject
) -> None:
    text = render(tree, data.draw)
    summaries = [
        run(f"r{i}", params=g["params"], metrics=metrics(**g["metrics"]), tags=g["tags"])
        for i, g in enumerate(generated)
    ]
    predicate = parse_filter(text)
    got = [predicate.matches(s) for s in summaries]
    expected = [ref_eval(tree, g) for g in generated]
    assert got == expected, text


@settings(max_examples=200, deadline=None)
@given(
    gen_runs,
    st.lists(
        st.tuples(st.sampled_from(["params.p0", "metrics.m0", "tags.t0"]), st.booleans()),
        min_size=1,
        max_size=3,
    ),
)
def test_generated_orderings_sort_as_python(
    generated: list[dict[str, Any]], clauses: list[tuple[str, bool]]
) -> None:
    summaries = [
        run(f"r{i:02d}", params=g["params"], metrics=metrics(**g["metrics"]), tags=g["tags"])
        for i, g in enumerate(generated)
    ]
    order_by = [f"{key} {'DESC' if desc else 'ASC'}" for key, desc in clauses]
    got = [s["name"] for s in sort_summaries(summaries, order_by)]

    def value(summary: dict[str, Any], key: str) -> Any:
        entity, _, name = key.partition(".")
        found = summary[entity].get(name)
        return found["last"] if entity == "metrics" and found is not None else found

    def rank(v: Any) -> tuple[int, Any] | None:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        if isinstance(v, bool):
            return (1, v)
        return (0, v) if isinstance(v, (int, float)) else (2, v)

    # reference: the default order, then one stable pass per clause, last clause first
    expected = sorted(summaries, key=lambda s: s["run_id"])  # equal start times
    for key, desc in reversed(clauses):
        present = [s for s in expected if rank(value(s, key)) is not None]
        missing = [s for s in expected if rank(value(s, key)) is None]
        present.sort(key=lambda s: rank(value(s, key)), reverse=desc)
        expected = present + missing
    assert got == [s["name"] for s in expected]


# --------------------------------------------------------------------------- search_runs
#
# End to end: real runs written by gitml.start_run into a git repository in tmp_path.


@pytest.fixture
def repo(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A git repository with one commit, as the current directory."""
    git = ["git", "-C", str(tmp_path), "-c", "user.name=Ada", "-c", "user.email=ada@example.com"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "train.py").write_text("print('train')\n")
    subprocess.run([*git, "add", "train.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def three_runs(repo: Any) -> dict[str, str]:
    return {
        "a": start(
            "a",
            params={"lr": 0.01, "optim": "adam", "net": {"depth": 2}},
            metrics={"acc": 0.91},
            tags={"team": "x"},
        ),
        "b": start("b", params={"lr": 0.1, "optim": "sgd"}, metrics={"acc": 0.8}),
        "c": start(
            "c",
            experiment="cifar",
            params={"lr": 0.001, "optim": "adam"},
            metrics={"acc": 0.95, "loss": 0.2},
        ),
    }


def test_search_runs_dataframe(three_runs: dict[str, str]) -> None:
    import gitml

    frame = gitml.search_runs(filter="params.optim = 'adam'", order_by=["metrics.acc DESC"])
    assert frame["run_name"].tolist() == ["c", "a"]
    assert frame["run_id"].tolist() == [three_runs["c"], three_runs["a"]]
    assert list(frame.columns) == [
        "run_id", "run_name", "experiment", "status", "start_time", "end_time", "lifecycle",
        "params.lr", "params.net.depth", "params.optim", "metrics.acc", "metrics.loss", "tags.team",
    ]  # fmt: skip
    assert frame["status"].tolist() == ["FINISHED", "FINISHED"]
    assert str(frame["start_time"].dt.tz) == "UTC" and str(frame["end_time"].dt.tz) == "UTC"
    assert frame["params.lr"].tolist() == [0.001, 0.01]
    assert frame["params.net.depth"].tolist() == [None, 2]
    assert frame["metrics.loss"].isna().tolist() == [False, True]


def test_search_runs_experiments_limit_and_default_order(three_runs: dict[str, str]) -> None:
    import gitml

    assert gitml.search_runs()["run_name"].tolist() == ["c", "b", "a"]  # newest first
    assert gitml.search_runs(experiment="mnist")["run_name"].tolist() == ["b", "a"]
    assert gitml.search_runs(experiment=["mnist", "cifar"], max_results=2)["run_name"].tolist() == [
        "c",
        "b",
    ]
    assert gitml.search_runs(experiment_names=["cifar"], filter_string="metrics.acc > 0.9")[
        "run_name"
    ].tolist() == ["c"]
    assert gitml.search_runs(order_by=["params.lr"])["run_name"].tolist() == ["c", "a", "b"]


def test_search_runs_list_output(three_runs: dict[str, str]) -> None:
    import gitml

    found = gitml.search_runs(filter="params.lr > 0.005", order_by=["-params.lr"], output="list")
    assert [r.info.run_name for r in found] == ["b", "a"]
    assert isinstance(found[0], gitml.Run)
    assert found[1].data.metrics["acc"] == 0.91


def test_search_runs_empty_result_has_base_columns(three_runs: dict[str, str]) -> None:
    import gitml

    frame = gitml.search_runs(filter="metrics.acc > 2")
    assert len(frame) == 0
    assert list(frame.columns) == [
        "run_id", "run_name", "experiment", "status", "start_time", "end_time", "lifecycle",
    ]  # fmt: skip


def test_search_runs_hides_deleted_runs_unless_asked(three_runs: dict[str, str], repo: Any) -> None:
    import gitml
    from gitml import runs, store

    runs.set_lifecycle(store.Store.discover(str(repo)), three_runs["b"], "deleted")
    assert gitml.search_runs()["run_name"].tolist() == ["c", "a"]
    frame = gitml.search_runs(include_deleted=True, filter="lifecycle = 'deleted'")
    assert frame["run_name"].tolist() == ["b"]


def test_search_runs_sees_new_runs_and_status(three_runs: dict[str, str]) -> None:
    import gitml

    assert len(gitml.search_runs()) == 3
    with pytest.raises(RuntimeError):
        with gitml.start_run(experiment="mnist", run_name="boom"):
            raise RuntimeError("fails")
    assert gitml.search_runs(filter="status = 'FAILED'")["run_name"].tolist() == ["boom"]


def test_search_runs_from_another_directory(
    three_runs: dict[str, str], repo: Any, tmp_path_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gitml

    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    assert len(gitml.search_runs(repo=str(repo))) == 3
    with pytest.raises(GitmlError):
        gitml.search_runs()


def test_search_runs_errors(three_runs: dict[str, str]) -> None:
    import gitml

    with pytest.raises(FilterError, match="column 14: expected a value after '>', found '>'"):
        gitml.search_runs(filter="metrics.acc >> 1")
    with pytest.raises(FilterError, match="invalid order_by"):
        gitml.search_runs(order_by=["metrics.acc sideways"])
    with pytest.raises(FilterError, match="output"):
        gitml.search_runs(output="excel")


ALPHABET = st.sampled_from(
    list("metrics.params.tags.attr`\"'()=!<>, \t-_%09.eE")
    + ["AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "status", "acc", "'x'", " "]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(ALPHABET, max_size=25).map("".join) | st.text(max_size=40))
def test_any_text_parses_or_raises_filter_error(text: str) -> None:
    try:
        predicate = parse_filter(text)
    except FilterError as error:
        assert str(error).startswith("invalid filter at column ")
        assert 1 <= error.column <= len(text) + 1  # type: ignore[attr-defined]
        assert "\n" not in str(error) and "\r" not in str(error)
        return
    for summary in RUNS:  # a parsed filter never fails on a run
        assert predicate.matches(summary) in (True, False)


@settings(max_examples=300, deadline=None)
@given(st.lists(ALPHABET, max_size=8).map("".join) | st.text(max_size=20))
def test_any_order_by_parses_or_raises_filter_error(text: str) -> None:
    try:
        ordering = parse_order_by([text])
    except FilterError as error:
        assert str(error).startswith("invalid order_by at column ")
        return
    assert len(sort_summaries(RUNS, ordering)) == len(RUNS)


# --------------------------------------------------------------------------- docs

DOCS = Path(__file__).resolve().parents[1] / "docs" / "query.md"


def test_documented_error_messages_are_the_real_ones() -> None:
    lines = DOCS.read_text().splitlines()
    checked = 0
    for command, output in zip(lines, lines[1:], strict=False):
        if command.startswith("$ gitml ls --filter ") and output.startswith("Error: "):
            text = shlex.split(command)[-1]
            with pytest.raises(FilterError) as info:
                parse_filter(text)
            assert f"Error: {info.value}" == output
            checked += 1
    assert checked >= 3


def test_documented_filters_parse() -> None:
    snippets = re.findall(r"`([^`\n]+)`", DOCS.read_text())
    starts = ("metrics.", "params.", "tags.", "status", "start_time", "duration", "dirty", "run_id",
              "attr.")  # fmt: skip
    filters = [
        s
        for s in snippets
        if s.startswith(starts) and re.search(r"[=<>]| LIKE | IS ", s) and "<key>" not in s
    ]
    filters = [
        f.replace("a OR b AND c", "status = 'A' OR status = 'B' AND status = 'C'") for f in filters
    ]
    assert len(filters) >= 15
    for text in filters:
        parse_filter(text)


def test_documented_python_example_runs(three_runs: dict[str, str]) -> None:
    code = re.search(r"```python\n(import gitml\n.*?)```", DOCS.read_text(), re.S)
    assert code is not None
    namespace: dict[str, Any] = {}
    exec(code.group(1), namespace)
    assert namespace["df"]["run_name"].tolist() == ["a"]
