"""Search runs: MLflow's filter grammar (plus OR and parentheses), ordering and search_runs.

The module works on run *summaries* (the dicts the index cache produces, see
``gitml.runs.list_summaries``), so filtering and sorting never read git objects.

Grammar (keywords are case-insensitive, ``AND`` binds tighter than ``OR``)::

    filter     := or_expr
    or_expr    := and_expr ("OR" and_expr)*
    and_expr   := primary ("AND" primary)*
    primary    := "(" or_expr ")" | comparison
    comparison := field op value
                | field "IS" ["NOT"] "NULL"
                | field ["NOT"] "IN" "(" value ("," value)* ")"
    op         := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=" | "LIKE" | "ILIKE"
    field      := entity "." key | entity "." quoted | attribute
    entity     := metrics | metric | params | param | parameter(s) | tags | tag
                | attributes | attribute | attr | run
    value      := 'string' | "string" | number | TRUE | FALSE

Comparison rules (the full list with examples is in docs/query.md):

- a missing value (or a null param) matches only ``IS NULL``; NaN matches nothing;
- ``!=`` is the negation of ``=`` for present values, ``NOT IN`` the negation of ``IN``;
- params compare by their native type: numbers numerically, a quoted literal that
  parses as a number compares numerically with a number param (``params.lr = '0.01'``),
  ``true``/``false`` (quoted or not) with a bool param; a number never equals a str param;
- tags are strings; a number literal compares numerically with tags holding numbers;
- metrics compare their ``last`` value with numbers;
- ``start_time``/``end_time`` compare with ms since the epoch or an ISO date string.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property, lru_cache
from typing import Any

from .errors import FilterError

__all__ = [
    "Field",
    "OrderBy",
    "Predicate",
    "data_fields",
    "flatten",
    "list_runs",
    "matches",
    "parse_field",
    "parse_filter",
    "parse_order_by",
    "row_values",
    "search_runs",
    "select",
    "sort_summaries",
    "to_dataframe",
]

Summary = Mapping[str, Any]

# --------------------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![A-Za-z0-9_.])
  | (?P<word>[A-Za-z_][A-Za-z0-9_.\-/]*)
  | (?P<op><=|>=|!=|<>|==|=|<|>)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
    """,
    re.VERBOSE,
)
_QUOTES = {"'": "string", '"': "dquoted", "`": "backquoted"}
_KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "TRUE", "FALSE"}


@dataclass(frozen=True)
class _Token:
    kind: str  # word, keyword, number, string, dquoted, backquoted, op, lparen, rparen, comma, end
    value: Any
    pos: int
    end: int


class _Syntax(Exception):
    """A problem at a position of the text being parsed (turned into a FilterError)."""

    def __init__(self, pos: int, problem: str) -> None:
        super().__init__(problem)
        self.pos = pos
        self.problem = problem


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char in _QUOTES:
            value, end = _read_quoted(text, pos)
            tokens.append(_Token(_QUOTES[char], value, pos, end))
            pos = end
            continue
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _Syntax(pos, f"unexpected character {char!r}")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_word_or_token(kind, match.group(), pos, match.end()))
        pos = match.end()
    tokens.append(_Token("end", None, len(text), len(text)))
    return tokens


def _word_or_token(kind: str, raw: str, pos: int, end: int) -> _Token:
    if kind == "word" and raw.upper() in _KEYWORDS:
        return _Token("keyword", raw.upper(), pos, end)
    if kind == "number":
        return _Token(kind, _number(raw), pos, end)
    if kind == "op":
        return _Token(kind, {"==": "=", "<>": "!="}.get(raw, raw), pos, end)
    return _Token(kind, raw, pos, end)


def _number(raw: str) -> int | float:
    if any(c in raw for c in ".eE"):
        return float(raw)
    return int(raw)


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """Read a quoted string from ``start``; ``''`` (doubled) and backslash escape a quote."""
    quote = text[start]
    out: list[str] = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
        elif char == quote and text[pos + 1 : pos + 2] == quote:
            out.append(quote)
            pos += 2
        elif char == quote:
            return "".join(out), pos + 1
        else:
            out.append(char)
            pos += 1
    raise _Syntax(start, f"the quoted text has no closing {quote}")


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "the end"
    if token.kind in ("string", "dquoted", "backquoted"):
        return repr(token.value)
    return f"'{token.value}'"


# --------------------------------------------------------------------------- fields

_ENTITIES = {
    "metrics": "metrics",
    "metric": "metrics",
    "params": "params",
    "param": "params",
    "parameter": "params",
    "parameters": "params",
    "tags": "tags",
    "tag": "tags",
    "attributes": "attributes",
    "attribute": "attributes",
    "attr": "attributes",
    "run": "attributes",
}


def _iso_ms(value: Any) -> int | None:
    """Milliseconds since the epoch of an ISO 8601 text (naive means UTC), else None."""
    if not value:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    return _iso_text_ms(str(value))


@lru_cache(maxsize=65536)
def _iso_text_ms(text: str) -> int | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(round(moment.timestamp() * 1000))


def _source(summary: Summary, key: str) -> Any:
    source = summary.get("source") or {}
    return source.get(key) if isinstance(source, dict) else None


def _duration(summary: Summary) -> float | None:
    start, end = _iso_ms(summary.get("start_time")), _iso_ms(summary.get("end_time"))
    if start is None or end is None:
        return None
    return (end - start) / 1000.0


# canonical attribute -> (getter, kind)
_ATTRIBUTES: dict[str, tuple[Callable[[Summary], Any], str]] = {
    "run_id": (lambda s: s.get("run_id"), "text"),
    "run_name": (lambda s: s.get("name"), "text"),
    "experiment": (lambda s: s.get("experiment"), "text"),
    "status": (lambda s: s.get("status"), "status"),
    "lifecycle": (lambda s: s.get("lifecycle"), "lifecycle"),
    "start_time": (lambda s: _iso_ms(s.get("start_time")), "time"),
    "end_time": (lambda s: _iso_ms(s.get("end_time")), "time"),
    "duration": (_duration, "number"),
    "user": (lambda s: s.get("user"), "text"),
    "host": (lambda s: s.get("host"), "text"),
    "pid": (lambda s: s.get("pid"), "number"),
    "revision": (lambda s: s.get("revision"), "number"),
    "parent_run": (lambda s: s.get("parent_run"), "text"),
    "commit": (lambda s: s.get("commit"), "text"),
    "baseline": (lambda s: _source(s, "commit"), "text"),
    "branch": (lambda s: _source(s, "branch"), "text"),
    "dirty": (lambda s: _source(s, "dirty"), "bool"),
}
_ATTRIBUTE_ALIASES = {
    "id": "run_id",
    "name": "run_name",
    "run name": "run_name",
    "experiment_name": "experiment",
    "experiment_id": "experiment",
    "lifecycle_stage": "lifecycle",
    "created": "start_time",
    "user_id": "user",
    "parent_run_id": "parent_run",
    "source_commit": "baseline",
}


def _attribute_name(key: str) -> str | None:
    lowered = key.lower()
    if lowered in _ATTRIBUTES:
        return lowered
    return _ATTRIBUTE_ALIASES.get(lowered)


@dataclass(frozen=True)
class Field:
    """A value of a run that filters and orderings refer to: ``metrics.acc``, ``status``…

    Attributes:
        entity: ``metrics``, ``params``, ``tags`` or ``attributes``.
        key: the metric/param/tag key, or the canonical attribute name.
    """

    entity: str
    key: str

    @property
    def name(self) -> str:
        """The column name: ``params.lr``, ``metrics.acc``, ``tags.team`` or ``status``."""
        return self.key if self.entity == "attributes" else f"{self.entity}.{self.key}"

    @property
    def kind(self) -> str:
        """How values compare: metric, param, tag, or the attribute's kind."""
        if self.entity == "attributes":
            return _ATTRIBUTES[self.key][1]
        return {"metrics": "metric", "params": "param", "tags": "tag"}[self.entity]

    @cached_property
    def get(self) -> Callable[[_View], Any]:
        """``get(run)``: the field's value in a run, or None when the run does not have it."""
        key = self.key
        if self.entity == "metrics":
            return lambda run: run.metric(key)
        if self.entity == "params":
            return lambda run: run.params.get(key)
        if self.entity == "tags":
            return lambda run: (run.summary.get("tags") or {}).get(key)
        attribute = _ATTRIBUTES[key][0]
        return lambda run: attribute(run.summary)


def _make_field(entity_word: str | None, key: str, pos: int) -> Field:
    if entity_word is None:
        name = _attribute_name(key)
        if name is None:
            raise _Syntax(pos, f"unknown attribute {key!r}; {_field_hint(key)}")
        return Field("attributes", name)
    entity = _ENTITIES.get(entity_word.lower())
    if entity is None:
        raise _Syntax(
            pos, f"unknown entity {entity_word!r}; use metrics., params., tags. or attributes."
        )
    if not key:
        raise _Syntax(pos, f"expected a key after '{entity_word}.'")
    if entity == "attributes":
        name = _attribute_name(key)
        if name is None:
            raise _Syntax(pos, f"unknown attribute {key!r}; known: {', '.join(_ATTRIBUTES)}")
        return Field("attributes", name)
    return Field(entity, key)


def _field_hint(key: str) -> str:
    return (
        f"write metrics.{key}, params.{key} or tags.{key}, "
        f"or one of the attributes {', '.join(_ATTRIBUTES)}"
    )


# --------------------------------------------------------------------------- run views


class _View:
    """A summary with its params flattened on first use (filters and sorts share it)."""

    __slots__ = ("summary", "_params")

    def __init__(self, summary: Summary) -> None:
        self.summary = summary
        self._params: dict[str, Any] | None = None

    @property
    def params(self) -> dict[str, Any]:
        if self._params is None:
            self._params = flatten(self.summary.get("params") or {})
        return self._params

    def metric(self, key: str) -> float | None:
        entry = (self.summary.get("metrics") or {}).get(key)
        value = entry.get("last") if type(entry) is dict else entry
        if type(value) is float:
            return value
        if value is None or isinstance(value, bool):
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            return None


def flatten(mapping: Mapping[str, Any], prefix: str = "", sep: str = ".") -> dict[str, Any]:
    """Flatten nested mappings into one level, joining keys with ``sep``.

    ``{"opt": {"lr": 0.1}, "a.b": 1}`` becomes ``{"opt.lr": 0.1, "a.b": 1}``. Keys may
    themselves contain ``sep``; when two paths flatten to the same key, a key written
    literally wins over one built by nesting. An empty nested mapping is kept as ``{}``.

    Args:
        mapping: the nested mapping (params as stored in params.yaml).
        prefix: a prefix for every key (used by the recursion).
        sep: the separator between levels.

    Returns:
        A new flat dict.
    """
    if not prefix and not any(type(value) is dict for value in mapping.values()):
        return dict(mapping)  # the common case: nothing nested
    flat: dict[str, Any] = {}
    nested: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            nested.append((f"{prefix}{key}", value))
        else:
            flat[f"{prefix}{key}"] = value
    for key, value in nested:
        for sub_key, sub_value in flatten(value, f"{key}{sep}", sep).items():
            flat.setdefault(sub_key, sub_value)
    return flat


# --------------------------------------------------------------------------- comparisons


def _as_number(value: Any) -> int | float | None:
    """A number from a number or a text spelling one (NaN excluded), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and math.isnan(value) else value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return None if math.isnan(number) else number
    return None


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _text(value: Any) -> str:
    """The text LIKE matches a non-text value against: YAML-like scalars, JSON for lists."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, sort_keys=True, default=str)


def _pair(lhs: Any, rhs: Any, kind: str) -> tuple[Any, Any] | None:
    """Bring a run's value and a literal to comparable values, or None if they are not."""
    if isinstance(lhs, bool):
        if isinstance(rhs, bool):
            return lhs, rhs
        if isinstance(rhs, str) and rhs.lower() in ("true", "false"):
            return lhs, rhs.lower() == "true"
        return None
    if isinstance(lhs, (int, float)):
        number = _as_number(rhs)
        return None if number is None else (lhs, number)
    if isinstance(lhs, str):
        if isinstance(rhs, str):
            return lhs, rhs
        if kind == "tag":
            number = _as_number(lhs)
            return None if number is None or isinstance(rhs, bool) else (number, rhs)
        return None
    if isinstance(rhs, str):
        return _text(lhs), rhs
    return None


_ORDERING = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _equal(lhs: Any, rhs: Any, kind: str) -> bool:
    pair = _pair(lhs, rhs, kind)
    return pair is not None and pair[0] == pair[1]


@lru_cache(maxsize=1024)
def _like_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(f"{body}\\Z", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _test(op: str, lhs: Any, rhs: Any, kind: str) -> bool:
    """Evaluate ``lhs op rhs`` for a present, non-NaN run value."""
    if op == "=":
        return _equal(lhs, rhs, kind)
    if op == "!=":
        return not _equal(lhs, rhs, kind)
    if op == "IN":
        return any(_equal(lhs, item, kind) for item in rhs)
    if op == "NOT IN":
        return not any(_equal(lhs, item, kind) for item in rhs)
    if op in ("LIKE", "ILIKE"):
        return _like_regex(rhs, op == "ILIKE").match(_text(lhs)) is not None
    pair = _pair(lhs, rhs, kind)
    if pair is None:
        return False
    try:
        return bool(_ORDERING[op](pair[0], pair[1]))
    except TypeError:
        return False


# --------------------------------------------------------------------------- predicates


class Predicate:
    """A parsed filter: call ``matches(summary)`` to test a run summary."""

    def matches(self, summary: Summary) -> bool:
        """Whether the run summary satisfies the filter."""
        return self.test(_View(summary))

    def test(self, run: _View) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    def fields(self) -> list[Field]:
        """The fields the filter refers to, in order of appearance."""
        return []


class MatchAll(Predicate):
    """The empty filter: every run matches."""

    def test(self, run: _View) -> bool:
        return True

    def __repr__(self) -> str:
        return "MatchAll()"


@dataclass(frozen=True, eq=True)
class Comparison(Predicate):
    """``field op value``; ``value`` is a tuple for IN / NOT IN, None for IS [NOT] NULL."""

    field: Field
    op: str
    value: Any = None

    def test(self, run: _View) -> bool:
        lhs = self.field.get(run)
        if self.op == "IS NULL":
            return lhs is None
        if self.op == "IS NOT NULL":
            return lhs is not None
        if lhs is None or _is_nan(lhs):
            return False
        return _test(self.op, lhs, self.value, self.field.kind)

    def fields(self) -> list[Field]:
        return [self.field]


@dataclass(frozen=True, eq=True)
class And(Predicate):
    """All parts match."""

    parts: tuple[Predicate, ...]

    def test(self, run: _View) -> bool:
        return all(part.test(run) for part in self.parts)

    def fields(self) -> list[Field]:
        return [f for part in self.parts for f in part.fields()]


@dataclass(frozen=True, eq=True)
class Or(Predicate):
    """At least one part matches."""

    parts: tuple[Predicate, ...]

    def test(self, run: _View) -> bool:
        return any(part.test(run) for part in self.parts)

    def fields(self) -> list[Field]:
        return [f for part in self.parts for f in part.fields()]


# --------------------------------------------------------------------------- parser


MAX_NESTING = 100


class _Parser:
    """Recursive descent over the tokens of one filter."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        return self.token.kind == "keyword" and self.token.value in words

    def parse(self) -> Predicate:
        if self.token.kind == "end":
            return MatchAll()
        predicate = self.or_expr()
        if self.token.kind != "end":
            raise _Syntax(
                self.token.pos, f"expected AND, OR or the end, found {_describe(self.token)}"
            )
        return predicate

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.at_keyword("OR"):
            self.advance()
            self.expect_condition("OR")
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_expr(self) -> Predicate:
        parts = [self.primary()]
        while self.at_keyword("AND"):
            self.advance()
            self.expect_condition("AND")
            parts.append(self.primary())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def expect_condition(self, after: str) -> None:
        if self.token.kind in ("end", "rparen") or self.at_keyword("AND", "OR"):
            raise _Syntax(self.token.pos, f"expected a condition after {after}")

    def primary(self) -> Predicate:
        if self.token.kind == "lparen":
            opening = self.advance()
            self.expect_condition("'('")
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise _Syntax(opening.pos, f"parentheses nested deeper than {MAX_NESTING}")
            inner = self.or_expr()
            self.depth -= 1
            if self.token.kind != "rparen":
                raise _Syntax(
                    self.token.pos,
                    f"expected ')' to close the '(' at column {opening.pos + 1}, "
                    f"found {_describe(self.token)}",
                )
            self.advance()
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        start = self.token
        field = self.field()
        after = self.text[start.pos : self.tokens[self.index - 1].end]
        token = self.token
        if token.kind == "op":
            self.advance()
            return Comparison(field, token.value, self.value(field, token.value))
        if self.at_keyword("LIKE", "ILIKE"):
            self.advance()
            return Comparison(field, token.value, self.value(field, token.value))
        if self.at_keyword("IS"):
            return self.null_test(field)
        if self.at_keyword("IN", "NOT"):
            return self.membership(field)
        raise _Syntax(token.pos, f"expected an operator after {after!r}, found {_describe(token)}")

    def field(self) -> Field:
        token = self.token
        if token.kind == "word":
            self.advance()
            nxt = self.token
            if token.value.endswith(".") and nxt.kind in ("backquoted", "dquoted"):
                if nxt.pos == token.end:
                    self.advance()
                    return _make_field(token.value[:-1], nxt.value, token.pos)
            entity, dot, key = token.value.partition(".")
            return _make_field(entity if dot else None, key if dot else entity, token.pos)
        if token.kind in ("backquoted", "dquoted"):
            self.advance()
            return _make_field(None, token.value, token.pos)
        if token.kind == "end":
            raise _Syntax(token.pos, "expected a condition such as metrics.acc > 0.9")
        raise _Syntax(token.pos, f"expected a key such as metrics.acc, found {_describe(token)}")

    def null_test(self, field: Field) -> Predicate:
        self.advance()  # IS
        negate = self.at_keyword("NOT")
        if negate:
            self.advance()
        if not self.at_keyword("NULL"):
            expected = "NULL after IS NOT" if negate else "NULL or NOT NULL after IS"
            raise _Syntax(self.token.pos, f"expected {expected}, found {_describe(self.token)}")
        self.advance()
        return Comparison(field, "IS NOT NULL" if negate else "IS NULL")

    def membership(self, field: Field) -> Predicate:
        op = "IN"
        if self.at_keyword("NOT"):
            self.advance()
            if not self.at_keyword("IN"):
                raise _Syntax(
                    self.token.pos, f"expected IN after NOT, found {_describe(self.token)}"
                )
            op = "NOT IN"
        self.advance()  # IN
        if self.token.kind != "lparen":
            raise _Syntax(self.token.pos, f"expected '(' after {op}, found {_describe(self.token)}")
        self.advance()
        values = [self.value(field, op)]
        while self.token.kind == "comma":
            self.advance()
            values.append(self.value(field, op))
        if self.token.kind != "rparen":
            raise _Syntax(
                self.token.pos,
                f"expected ',' or ')' in the {op} list, found {_describe(self.token)}",
            )
        self.advance()
        return Comparison(field, op, tuple(values))

    def value(self, field: Field, op: str) -> Any:
        token = self.token
        if token.kind in ("string", "dquoted", "number") or self.at_keyword("TRUE", "FALSE"):
            self.advance()
            literal = token.value if token.kind != "keyword" else token.value == "TRUE"
            return _check_value(field, op, literal, token)
        if self.at_keyword("NULL"):
            raise _Syntax(token.pos, f"use IS NULL or IS NOT NULL instead of {op} NULL")
        raise _Syntax(token.pos, f"expected a value after {op!r}, found {_describe(token)}")


def _check_value(field: Field, op: str, literal: Any, token: _Token) -> Any:
    """Convert a literal for the field's kind, or raise where it cannot apply."""
    kind = field.kind
    where = f"{field.name} {op}"
    if op in ("LIKE", "ILIKE"):
        if kind in ("metric", "number", "time", "bool"):
            raise _Syntax(token.pos, f"{op} applies to text, not to {field.name}")
        if not isinstance(literal, str):
            raise _Syntax(token.pos, f"{op} needs a quoted pattern such as '%adam%'")
        return literal
    if kind in ("metric", "number"):
        number = _as_number(literal)
        if number is None:
            raise _Syntax(
                token.pos, f"{field.name} compares with numbers, found {_describe(token)}"
            )
        return number
    if kind == "time":
        return _time_literal(literal, where, token)
    if kind == "bool":
        if isinstance(literal, bool):
            return literal
        if isinstance(literal, str) and literal.lower() in ("true", "false"):
            return literal.lower() == "true"
        raise _Syntax(
            token.pos, f"{field.name} compares with true or false, found {_describe(token)}"
        )
    if kind == "tag" and isinstance(literal, bool):
        return "true" if literal else "false"
    if kind in ("text", "status", "lifecycle"):
        text = _literal_text(literal, token)
        return text.upper() if kind == "status" else text.lower() if kind == "lifecycle" else text
    return literal


def _literal_text(literal: Any, token: _Token) -> str:
    if isinstance(literal, str):
        return literal
    if isinstance(literal, bool):
        return "true" if literal else "false"
    return str(literal)


def _time_literal(literal: Any, where: str, token: _Token) -> int:
    if isinstance(literal, (int, float)) and not isinstance(literal, bool):
        return int(literal)
    if isinstance(literal, str):
        ms = _iso_text_ms(literal.strip())
        if ms is not None:
            return ms
    raise _Syntax(
        token.pos,
        f"{where} compares with ms since the epoch or an ISO date like '2026-11-26T20:00:00Z', "
        f"found {_describe(token)}",
    )


def _printable(fragment: str) -> str:
    """A fragment of a filter on one line: blanks collapsed, control characters escaped."""
    text = " ".join(fragment.split())
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _filter_error(text: str, error: _Syntax, what: str = "filter") -> FilterError:
    near = _printable(text[error.pos : error.pos + 24])
    tail = _printable(text[-30:]) if len(text) <= 30 else "…" + _printable(text[-29:])
    where = f'near "{near}"' if near else f'at the end of "{tail}"'
    message = f"invalid {what} at column {error.pos + 1}: {error.problem} ({where})"
    exc = FilterError(message)
    exc.column = error.pos + 1  # type: ignore[attr-defined]
    exc.text = text  # type: ignore[attr-defined]
    return exc


def parse_filter(text: str | Predicate | None) -> Predicate:
    """Parse a filter expression into a predicate.

    Args:
        text: e.g. ``"metrics.acc > 0.9 and params.optim = 'adam'"``; None or blank
            matches every run; a Predicate is returned as it is.

    Returns:
        A Predicate whose ``matches(summary)`` tests a run summary.

    Raises:
        FilterError: the text is malformed; the message gives the column and the
            fragment where parsing stopped.
    """
    if text is None:
        return MatchAll()
    if isinstance(text, Predicate):
        return text
    if not isinstance(text, str):
        raise FilterError(
            f"invalid filter {text!r}: a filter is a string such as 'metrics.acc > 0.9'"
        )
    return _parse_cached(text)


@lru_cache(maxsize=256)
def _parse_cached(text: str) -> Predicate:
    try:
        return _Parser(text).parse()
    except _Syntax as error:
        raise _filter_error(text, error) from None


def matches(filter: str | Predicate | None, summary: Summary) -> bool:
    """Whether a run summary satisfies a filter (a text or a parsed predicate)."""
    return parse_filter(filter).matches(summary)


def parse_field(text: str) -> Field:
    """Parse one field reference such as ``metrics.acc``, ``params.`my key``` or ``status``.

    Raises:
        FilterError: the text names no field.
    """
    try:
        parser = _Parser(text)
        field = parser.field()
        if parser.token.kind != "end":
            raise _Syntax(parser.token.pos, f"unexpected {_describe(parser.token)} after the key")
        return field
    except _Syntax as error:
        raise _filter_error(text, error, "key") from None


# --------------------------------------------------------------------------- ordering


class _Reversed:
    """Wraps a sort key so that it sorts in the opposite direction."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: _Reversed) -> bool:
        return bool(other.key < self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and bool(self.key == other.key)

    __hash__ = None  # type: ignore[assignment]


def _rank(value: Any) -> tuple[int, Any] | None:
    """A sort key putting numbers, then bools, then texts, then other values in order."""
    if value is None or _is_nan(value):
        return None
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (2, value)
    return (3, _text(value))


def _clause_key(value: Any, descending: bool) -> tuple[Any, ...]:
    """One clause's part of a sort key: present values in order, missing ones last."""
    ranked = _rank(value)
    if ranked is None:
        return (1,)
    if not descending:
        return (0, ranked)
    rank, inner = ranked
    if rank <= 1:  # numbers and bools: negate instead of wrapping (much faster to compare)
        return (0, (-rank, -inner))
    return (0, (-rank, _Reversed(inner)))


@dataclass(frozen=True)
class OrderBy:
    """A parsed ``order_by`` list: fields with a direction each.

    Missing values (and NaN) sort last whichever the direction; the sort is stable.
    """

    clauses: tuple[tuple[Field, bool], ...]  # (field, descending)

    def key(self, run: _View | Summary) -> tuple[Any, ...]:
        """The sort key of a run (a summary or a view)."""
        view = run if isinstance(run, _View) else _View(run)
        return tuple(_clause_key(field.get(view), descending) for field, descending in self.clauses)

    def fields(self) -> list[Field]:
        """The fields sorted on."""
        return [field for field, _ in self.clauses]


def _parse_clause(text: str) -> tuple[Field, bool]:
    stripped = text.strip()
    descending = False
    offset = len(text) - len(text.lstrip())
    if stripped[:1] in ("-", "+"):
        descending = stripped[0] == "-"
        offset += 1
    body = text[offset:]
    try:
        parser = _Parser(body)
        field = parser.field()
        if parser.token.kind == "word" and parser.token.value.upper() in ("ASC", "DESC"):
            descending = descending != (parser.advance().value.upper() == "DESC")
        if parser.token.kind != "end":
            raise _Syntax(
                parser.token.pos, f"expected ASC or DESC, found {_describe(parser.token)}"
            )
        return field, descending
    except _Syntax as error:
        raise _filter_error(text, _Syntax(error.pos + offset, error.problem), "order_by") from None


def parse_order_by(order_by: str | Sequence[str] | OrderBy | None) -> OrderBy:
    """Parse MLflow-style ordering clauses.

    Args:
        order_by: a list such as ``["metrics.acc DESC", "params.lr"]``; a leading ``-``
            (``"-metrics.acc"``) also means descending. A single string is one clause.

    Returns:
        An OrderBy whose ``key`` sorts runs as asked.

    Raises:
        FilterError: a clause is malformed.
    """
    if isinstance(order_by, OrderBy):
        return order_by
    if order_by is None:
        return OrderBy(())
    clauses = [order_by] if isinstance(order_by, str) else list(order_by)
    return OrderBy(tuple(_parse_clause(clause) for clause in clauses if clause.strip()))


_DEFAULT_ORDER = OrderBy(
    ((Field("attributes", "start_time"), True), (Field("attributes", "run_id"), False))
)


def sort_summaries(
    summaries: Iterable[Summary], order_by: str | Sequence[str] | OrderBy | None = None
) -> list[Summary]:
    """Sort run summaries: by ``order_by``, ties (and no order_by) newest first, then by id.

    Args:
        summaries: run summaries.
        order_by: clauses as for parse_order_by.

    Returns:
        A new sorted list.
    """
    return [view.summary for view in _sorted_views([_View(s) for s in summaries], order_by)]


def _sorted_views(
    views: list[_View], order_by: str | Sequence[str] | OrderBy | None
) -> list[_View]:
    ordering = parse_order_by(order_by)
    combined = OrderBy(ordering.clauses + _DEFAULT_ORDER.clauses)
    return sorted(views, key=combined.key)


# --------------------------------------------------------------------------- search


def select(
    summaries: Iterable[Summary],
    filter: str | Predicate | None = None,
    order_by: str | Sequence[str] | OrderBy | None = None,
    max_results: int | None = None,
    experiment: str | Sequence[str] | None = None,
) -> list[Summary]:
    """Filter, sort and cut a list of run summaries (the pure core of search_runs).

    Args:
        summaries: run summaries.
        filter: a filter expression or a parsed predicate.
        order_by: ordering clauses; by default newest first.
        max_results: keep at most this many runs.
        experiment: keep runs of this experiment (or of any of these experiments).

    Returns:
        The matching summaries, in order.
    """
    predicate = parse_filter(filter)
    ordering = parse_order_by(order_by)
    if max_results is not None and max_results < 0:
        raise FilterError(f"invalid max_results {max_results}: use a number >= 0")
    wanted = _experiments(experiment)
    views = [
        view
        for view in map(_View, summaries)
        if (wanted is None or view.summary.get("experiment") in wanted) and predicate.test(view)
    ]
    views = _sorted_views(views, ordering)
    if max_results is not None:
        views = views[:max_results]
    return [view.summary for view in views]


def _experiments(experiment: str | Sequence[str] | None) -> set[str] | None:
    if experiment is None:
        return None
    if isinstance(experiment, str):
        return {experiment}
    return {str(name) for name in experiment}


def load_summaries(
    repo: Any = None, experiment: str | Sequence[str] | None = None, include_deleted: bool = False
) -> list[dict[str, Any]]:
    """Read run summaries from the repository's index cache.

    Args:
        repo: a ``gitml.store.Store``, a path inside a repository, or None for the
            current directory.
        experiment: an experiment name (or names) to keep.
        include_deleted: include runs whose lifecycle is deleted.
    """
    from . import runs, store  # noqa: PLC0415 - layer 1-3 modules, loaded on use

    repository = repo if isinstance(repo, store.Store) else store.Store.discover(repo)
    return runs.list_summaries(repository, experiment=experiment, include_deleted=include_deleted)


def search_runs(
    experiment: str | Sequence[str] | None = None,
    filter: str | None = None,
    order_by: Sequence[str] | str | None = None,
    max_results: int | None = None,
    output: str = "pandas",
    include_deleted: bool = False,
    repo: Any = None,
    *,
    filter_string: str | None = None,
    experiment_names: Sequence[str] | None = None,
    output_format: str | None = None,
) -> Any:
    """Search the repository's runs, as MLflow's ``search_runs``.

    Args:
        experiment: an experiment name or a list of names; None for all.
        filter: a filter such as ``"metrics.acc > 0.9 and params.optim = 'adam'"``.
        order_by: clauses such as ``["metrics.acc DESC", "params.lr"]``; by default
            newest first.
        max_results: return at most this many runs.
        output: ``"pandas"`` for a DataFrame with MLflow's columns (``run_id``,
            ``run_name``, ``experiment``, ``status``, ``start_time``, ``end_time``,
            ``lifecycle``, ``params.*``, ``metrics.*``, ``tags.*``) or ``"list"`` for
            ``gitml.entities.Run`` objects.
        include_deleted: include runs deleted with ``gitml rm``.
        repo: a ``gitml.store.Store`` or a path in the repository; default: the
            current directory.
        filter_string: MLflow's name for ``filter``.
        experiment_names: MLflow's name for ``experiment``.
        output_format: MLflow's name for ``output``.

    Returns:
        A pandas DataFrame or a list of runs.

    Raises:
        FilterError: a malformed filter or order_by.
    """
    filter = filter if filter is not None else filter_string
    experiment = experiment if experiment is not None else experiment_names
    output = output_format or output
    if output not in ("pandas", "list"):
        raise FilterError(f"invalid output {output!r}: use 'pandas' or 'list'")
    predicate, ordering = parse_filter(filter), parse_order_by(order_by)
    summaries = load_summaries(repo, experiment, include_deleted)
    found = select(summaries, predicate, ordering, max_results, experiment)
    if output == "list":
        return _as_runs(found, repo)
    return to_dataframe(found)


def _as_runs(summaries: list[Summary], repo: Any) -> list[Any]:
    """Runs as ``gitml.entities.Run`` when the core offers it, else the summaries."""
    try:
        from .entities import Run  # noqa: PLC0415
    except ImportError:
        return list(summaries)
    build = getattr(Run, "from_summary", None)
    if build is None:
        return list(summaries)
    return [build(summary) for summary in summaries]


def list_runs(
    runs: Sequence[str] = (),
    experiment: str | Sequence[str] | None = None,
    filter: str | None = None,
    order_by: Sequence[str] | str | OrderBy | None = None,
    max_results: int | None = None,
    include_deleted: bool = False,
    repo: Any = None,
    remote: str | None = None,
) -> list[dict[str, Any]]:
    """Run summaries for listing (``gitml ls``): selected, filtered, sorted and cut.

    Args:
        runs: run ids, id prefixes or names to list; empty for all runs. Runs named
            here are listed even when deleted.
        experiment, filter, order_by, max_results: as for search_runs.
        include_deleted: include deleted runs.
        repo: a ``gitml.store.Store`` or a path in the repository.
        remote: list the runs of this git remote instead (read there, nothing becomes
            a local run); ``runs`` then match the remote's ids, id prefixes and names.

    Raises:
        FilterError: a malformed filter or order_by.
        RunNotFound, AmbiguousRun: a name in ``runs`` matches no run or several.
        RemoteError: the remote cannot be read.
    """
    from . import runs as run_module  # noqa: PLC0415
    from . import store  # noqa: PLC0415

    predicate, ordering = parse_filter(filter), parse_order_by(order_by)
    repository = repo if isinstance(repo, store.Store) else store.Store.discover(repo)
    if remote is not None:
        summaries = _remote_summaries(repository, remote, runs, include_deleted)
    elif runs:
        wanted = {run_module.resolve(repository, text) for text in runs}
        summaries = [
            s for s in run_module.list_summaries(repository, include_deleted=True)
            if s.get("run_id") in wanted
        ]  # fmt: skip
    else:
        summaries = run_module.list_summaries(repository, include_deleted=include_deleted)
    return select(summaries, predicate, ordering, max_results, experiment)  # type: ignore[return-value]


def _remote_summaries(
    repository: Any, remote: str, runs: Sequence[str], include_deleted: bool
) -> list[dict[str, Any]]:
    from .remote import list_remote_runs  # noqa: PLC0415

    summaries = list_remote_runs(repository, remote)
    if runs:  # named runs are listed even when deleted, as for local runs
        return [s for s in summaries if any(_is_named(s, text) for text in runs)]
    return [s for s in summaries if include_deleted or s.get("lifecycle") != "deleted"]


def _is_named(summary: Summary, text: str) -> bool:
    run_id = str(summary.get("run_id", ""))
    prefix = len(text) >= 4 and all(c in "0123456789abcdef" for c in text)
    return summary.get("name") == text or (prefix and run_id.startswith(text))


def data_fields(
    summaries: Sequence[Summary],
    patterns: Sequence[str] | None = None,
    only_changed: bool = False,
) -> list[Field]:
    """The param/metric (and, when patterns ask, tag) columns to show for some runs.

    Args:
        summaries: the runs listed.
        patterns: glob patterns (``params.*``, ``metrics.acc``, ``lr``) matched against
            column names and bare keys; the columns come in the order of the patterns.
            Without patterns: every param, then every metric, each sorted by key.
        only_changed: leave out columns whose value is the same in every run (when at
            least two runs are listed).
    """
    views = [_View(s) for s in summaries]
    fields = _all_fields(views, with_tags=bool(patterns))
    if patterns:
        fields = _matching(fields, patterns)
    if only_changed and len(views) > 1:
        fields = [f for f in fields if _changes(f, views)]
    return fields


def _all_fields(views: Sequence[_View], with_tags: bool) -> list[Field]:
    params: dict[str, None] = {}
    metrics: dict[str, None] = {}
    tags: dict[str, None] = {}
    for view in views:
        params.update(dict.fromkeys(view.params))
        metrics.update(dict.fromkeys(view.summary.get("metrics") or {}))
        if with_tags:
            tags.update(dict.fromkeys(view.summary.get("tags") or {}))
    return (
        [Field("params", k) for k in sorted(params)]
        + [Field("metrics", k) for k in sorted(metrics)]
        + [Field("tags", k) for k in sorted(tags)]
    )


def _matching(fields: list[Field], patterns: Sequence[str]) -> list[Field]:
    import fnmatch  # noqa: PLC0415

    chosen: list[tuple[int, int, Field]] = []
    for position, field in enumerate(fields):
        for rank, pattern in enumerate(patterns):
            if fnmatch.fnmatchcase(field.name, pattern) or fnmatch.fnmatchcase(field.key, pattern):
                chosen.append((rank, position, field))
                break
    return [field for _, _, field in sorted(chosen, key=lambda c: (c[0], c[1]))]


def _changes(field: Field, views: Sequence[_View]) -> bool:
    first = _same_key(field.get(views[0]))
    return any(_same_key(field.get(view)) != first for view in views[1:])


def _same_key(value: Any) -> Any:
    return None if value is None else (type(value).__name__, _text(value))


def row_values(summary: Summary, fields: Sequence[Field]) -> list[Any]:
    """The values of some fields in one run (None where the run has none)."""
    view = _View(summary)
    return [field.get(view) for field in fields]


BASE_COLUMNS = ["run_id", "run_name", "experiment", "status", "start_time", "end_time", "lifecycle"]


def to_dataframe(summaries: Sequence[Summary]) -> Any:
    """A pandas DataFrame of run summaries with MLflow's column names.

    Params are flattened (``params.opt.lr``) and keep their native types, metrics give
    their last value (NaN when a run lacks one), times are UTC-aware datetimes.
    """
    import pandas as pd  # noqa: PLC0415 - pandas is loaded only when asked for

    rows = [_row(_View(summary)) for summary in summaries]
    groups: dict[str, set[str]] = {"params": set(), "metrics": set(), "tags": set()}
    for row in rows:
        for column in row:
            group = groups.get(column.partition(".")[0])
            if group is not None:
                group.add(column)
    data: dict[str, Any] = {}
    for column in BASE_COLUMNS:
        values = [row[column] for row in rows]
        if column.endswith("_time"):
            data[column] = pd.to_datetime(
                pd.Series(values, dtype=object), utc=True, format="ISO8601"
            )
        else:
            data[column] = pd.Series(values, dtype=object)
    for column in sorted(groups["params"]) + sorted(groups["tags"]):
        data[column] = pd.Series([row.get(column) for row in rows], dtype=object)
    for column in sorted(groups["metrics"]):
        data[column] = pd.Series([row.get(column, math.nan) for row in rows], dtype="float64")
    order = (
        BASE_COLUMNS + sorted(groups["params"]) + sorted(groups["metrics"]) + sorted(groups["tags"])
    )
    return pd.DataFrame(data, columns=order)


def _row(view: _View) -> dict[str, Any]:
    summary = view.summary
    row: dict[str, Any] = {
        "run_id": summary.get("run_id"),
        "run_name": summary.get("name"),
        "experiment": summary.get("experiment"),
        "status": summary.get("status"),
        "start_time": summary.get("start_time"),
        "end_time": summary.get("end_time"),
        "lifecycle": summary.get("lifecycle"),
    }
    for key, value in view.params.items():
        row[f"params.{key}"] = value
    for key in summary.get("metrics") or {}:
        value = view.metric(key)
        row[f"metrics.{key}"] = math.nan if value is None else value
    for key, value in (summary.get("tags") or {}).items():
        row[f"tags.{key}"] = value
    return row
