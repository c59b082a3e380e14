"""Output formats shared by commands: the ``--format`` option and table/csv/md/json writers."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("table", "csv", "json", "md")
ELLIPSIS = "…"
MIN_WIDTH = 4
SEPARATOR = "  "


def format_option(*choices: str, default: str = "table") -> Callable[[F], F]:
    """The ``--format`` option of a command, limited to ``choices`` (default: all four).

    Example::

        @click.command()
        @format_option("table", "json")
        def show(format: str) -> None: ...
    """
    allowed = choices or FORMATS
    shortcuts = [f for f in ("json", "csv", "md") if f in allowed]

    def remember(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            ctx.meta["gitml.format"] = param.name

    def choose(ctx: click.Context, param: click.Parameter, value: str) -> str:
        return str(ctx.meta.get("gitml.format", value))

    def decorate(fn: F) -> F:
        fn = click.option(
            "--format",
            "format",
            type=click.Choice(allowed, case_sensitive=False),
            default=default,
            show_default=True,
            callback=choose,
            help=f"Output format: {', '.join(allowed)}"
            + (f" (or {', '.join('--' + f for f in shortcuts)}, as DVC spells them)." if shortcuts else "."),
        )(fn)
        for name in shortcuts:  # dvc exp show --json / --csv / --md
            fn = click.option(f"--{name}", name, is_flag=True, is_eager=True, expose_value=False,
                              hidden=True, callback=remember)(fn)  # fmt: skip
        return fn

    return decorate


def render(
    fmt: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int | None = None,
    min_widths: Sequence[int] | None = None,
) -> str:
    """Render text cells in a table, csv or md format (json has its own writer).

    Args:
        fmt: ``table``, ``csv`` or ``md``.
        headers: column titles.
        rows: rows of text cells.
        width: fit a ``table`` into this many columns (None: no limit).
        min_widths: the narrowest each table column may be cut to when fitting.
    """
    if fmt == "csv":
        return to_csv(headers, rows)
    if fmt == "md":
        return to_markdown(headers, rows)
    return to_table(headers, rows, width, min_widths)


def terminal_width() -> int:
    """The terminal's width, or ``$COLUMNS``, or 80 when output is not a terminal."""
    return shutil.get_terminal_size((80, 24)).columns


def truncate(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` characters, ending with an ellipsis when cut."""
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + ELLIPSIS if width > 0 else ""


def _shrink(widths: list[int], mins: Sequence[int], limit: int) -> list[int]:
    """Shrink the widest columns, never below their minimum, until the total fits ``limit``."""
    widths = list(widths)
    excess = sum(widths) - limit
    while excess > 0:
        candidates = [i for i in range(len(widths)) if widths[i] > mins[i]]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: (widths[i], i))
        widths[widest] -= 1
        excess -= 1
    return widths


def _fits(widths: Sequence[int], limit: int, separator: str) -> bool:
    return sum(widths) + len(separator) * (len(widths) - 1) <= limit


def to_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int | None = None,
    min_widths: Sequence[int] | None = None,
) -> str:
    """A plain text table; with ``width``, cells are cut with an ellipsis to fit it.

    Columns are cut (widest first) down to their minimum width (``min_widths``, default
    4 characters) with a one-space separator. When even that does not fit, the rightmost
    columns are left out and a last column ``…`` says so (``--wide`` shows everything).
    """
    natural = [len(h) for h in headers]
    for i, column in enumerate(zip(*rows, strict=True)):
        natural[i] = max(natural[i], *map(len, column))
    titles, cells, separator = list(headers), rows, SEPARATOR
    if width is not None and not _fits(natural, width, separator):
        separator = " "
        floors = list(min_widths or [])[: len(natural)]
        floors += [MIN_WIDTH] * (len(natural) - len(floors))
        mins = [min(n, m) for n, m in zip(natural, floors, strict=True)]
        count = _columns_that_fit(mins, width, separator)
        if count < len(natural):
            titles = titles[:count] + [ELLIPSIS]
            cells = [[*row[:count], ELLIPSIS] for row in cells]
            natural, mins = natural[:count] + [1], mins[:count] + [1]
        natural = _shrink(natural, mins, width - len(separator) * (len(natural) - 1))
    lines = [_line(titles, natural, separator)]
    lines.append(_line(["-" * w for w in natural], natural, separator))
    lines.extend(_line(row, natural, separator) for row in cells)
    return "\n".join(lines)


def _columns_that_fit(mins: Sequence[int], width: int, separator: str) -> int:
    """How many leading columns fit at their minimum widths (with a ``…`` column if cut)."""
    count = len(mins)
    while count > 1:
        cut = [1] if count < len(mins) else []
        if _fits(list(mins[:count]) + cut, width, separator):
            break
        count -= 1
    return count


def _line(cells: Sequence[str], widths: Sequence[int], separator: str = SEPARATOR) -> str:
    return separator.join(
        (c if len(c) <= w else c[: w - 1] + ELLIPSIS).ljust(w)
        for c, w in zip(cells, widths, strict=True)
    ).rstrip()


def to_csv(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Comma-separated values with a header line (RFC 4180 quoting)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().rstrip("\n")


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavored Markdown table."""
    lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |"]
    lines.append("|" + "|".join("---" for _ in headers) + "|")
    lines.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows)
    return "\n".join(lines)


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities spelled ``"nan"``, ``"inf"``, ``"-inf"`` (as in TSV)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def to_json(document: Any) -> str:
    """Strict JSON (no NaN literals), indented, keys in the given order."""
    return json.dumps(json_safe(document), indent=2, ensure_ascii=False, allow_nan=False)


def cell(value: Any, missing: str = "-") -> str:
    """The text of a value in a human table: floats to 6 significant digits, bools lower-case."""
    kind = type(value)
    if kind is str:
        return value.replace("\n", " ") if "\n" in value else value  # type: ignore[no-any-return]
    if kind is float:
        return "nan" if value != value else f"{value:.6g}"
    if value is None:
        return missing
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if isinstance(value, (list, dict)):
        return json.dumps(json_safe(value), ensure_ascii=False)
    if isinstance(value, float):
        return cell(float(value))
    return str(value).replace("\n", " ")


def exact_cell(value: Any) -> str:
    """The text of a value in CSV: exact (``repr`` for floats), empty when missing."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else cell(value)
    return cell(value, "")
