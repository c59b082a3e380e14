"""``gitml ls``: list runs as a table, CSV, Markdown or JSON (schema ``gitml.ls/1``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import click

from ._formats import cell, exact_cell, format_option, render, terminal_width, to_json

JSON_SCHEMA = "gitml.ls/1"
TABLE_BASE = ["id", "name", "experiment", "status", "start", "duration", "baseline"]
BASE_MIN_WIDTHS = [8, 10, 5, 8, 11, 8, 8]  # how narrow each base column may be cut
FIELD_MIN_WIDTH = 7
MAX_NUMBER_WIDTH = 12
CSV_BASE = [
    "run_id", "name", "experiment", "status", "stale", "lifecycle", "start_time", "end_time",
    "duration", "user", "baseline", "branch", "dirty",
]  # fmt: skip
STALE_MARK = "?"


@click.command("ls")
@click.argument("runs", nargs=-1, metavar="[RUN]...")
@click.option(
    "-e",
    "--experiment",
    multiple=True,
    metavar="NAME",
    help="Only runs of this experiment (repeatable).",
)
@click.option(
    "--filter",
    "filter_",
    metavar="EXPR",
    help="Filter, e.g. \"metrics.acc > 0.9 and params.optim = 'adam'\".",
)
@click.option(
    "--sort",
    multiple=True,
    metavar="KEY",
    help="Sort by KEY (repeatable); '-KEY' or 'KEY DESC' for descending.",
)
@click.option(
    "--limit", type=click.IntRange(min=0), metavar="N", help="Show at most this many runs."
)
@click.option(
    "--columns",
    multiple=True,
    metavar="GLOB",
    help="Param/metric/tag columns to show, as globs (repeatable or comma-separated).",
)
@click.option(
    "--only-changed",
    is_flag=True,
    help="Hide params and metrics that are equal in every listed run.",
)
@format_option()
@click.option("-a", "--all", "all_", is_flag=True, help="Include deleted runs.")
@click.option("--wide", is_flag=True, help="Do not cut the table to the terminal's width.")
@click.option(
    "--remote",
    metavar="REMOTE",
    help="List the runs of this git remote (none of them become local runs).",
)
def ls(
    runs: tuple[str, ...],
    experiment: tuple[str, ...],
    filter_: str | None,
    sort: tuple[str, ...],
    limit: int | None,
    columns: tuple[str, ...],
    only_changed: bool,
    format: str,
    all_: bool,
    wide: bool,
    remote: str | None = None,
) -> None:
    """List runs, newest first, as a table, CSV, JSON or Markdown.

    Columns: id, name, experiment, status, start, duration, baseline commit (with *
    when the workspace was dirty), then one per param and metric. RUN (an id, id
    prefix or name) limits the list to these runs. RUNNING? marks a run whose process
    is gone. The filter grammar is in docs/query.md.
    """
    from ..errors import FilterError  # noqa: PLC0415
    from ..query import data_fields, list_runs, parse_order_by  # noqa: PLC0415 - fast --help

    try:
        ordering = parse_order_by(list(sort) or None)
    except FilterError as exc:  # name the option the user typed
        raise FilterError(str(exc).replace("invalid order_by", "invalid --sort", 1)) from None
    summaries = list_runs(
        runs=runs,
        experiment=list(experiment) or None,
        filter=filter_,
        order_by=ordering,
        max_results=limit,
        include_deleted=all_,
        remote=remote,
    )
    patterns = [p.strip() for item in columns for p in item.split(",") if p.strip()]
    fields = data_fields(summaries, patterns or None, only_changed)
    format = format.lower()
    if format == "json":
        click.echo(to_json(json_document(summaries, fields)))
    elif format == "csv":
        click.echo(render("csv", *csv_rows(summaries, fields)))
    else:
        _echo_table(summaries, fields, format, wide)


def _echo_table(summaries: list[dict[str, Any]], fields: list[Any], fmt: str, wide: bool) -> None:
    if not summaries and fmt == "table":
        click.echo("No runs found (gitml ls --all includes deleted runs).", err=True)
        return
    headers, rows, stale = table_rows(summaries, fields, full_times=wide or fmt == "md")
    width = None if wide or fmt == "md" else terminal_width()
    click.echo(render(fmt, headers, rows, width, min_widths(headers, rows)))
    if stale and fmt == "table":
        click.echo(
            f"{STALE_MARK} RUNNING, but its process is gone (it crashed or was killed).", err=True
        )


# --------------------------------------------------------------------------- rows


def min_widths(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    """How narrow each column may be cut: numbers are never cut (up to 12 characters)."""
    widths = list(BASE_MIN_WIDTHS)
    for i in range(len(BASE_MIN_WIDTHS), len(headers)):
        cells = [row[i] for row in rows]
        if all(_is_number(text) for text in cells):
            widest = max(max(map(len, cells), default=1), min(len(headers[i]), FIELD_MIN_WIDTH))
            widths.append(min(widest, MAX_NUMBER_WIDTH))
        else:
            widths.append(FIELD_MIN_WIDTH)
    return widths


def _is_number(text: str) -> bool:
    if text in ("-", "nan", "inf", "-inf"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def table_rows(
    summaries: Sequence[dict[str, Any]], fields: Sequence[Any], full_times: bool = False
) -> tuple[list[str], list[list[str]], bool]:
    """Headers, text rows and whether a stale run is listed, for the table and md formats."""
    from ..query import row_values  # noqa: PLC0415
    from ..runs import is_stale  # noqa: PLC0415

    deleted = any(s.get("lifecycle") == "deleted" for s in summaries)
    headers = TABLE_BASE + (["lifecycle"] if deleted else []) + field_headers(fields)
    this_year = datetime.now().year
    now_ms = int(time.time() * 1000)
    rows, any_stale = [], False
    for summary in summaries:
        stale = is_stale(summary)
        any_stale = any_stale or stale
        row = [
            str(summary.get("run_id", ""))[:8],
            cell(summary.get("name")),
            cell(summary.get("experiment")),
            str(summary.get("status", "")) + (STALE_MARK if stale else ""),
            _start_text(summary.get("start_time"), this_year, full_times),
            _duration_text(_duration(summary, now_ms, stale)),
            _baseline_text(summary.get("source") or {}),
        ]
        if deleted:
            row.append(cell(summary.get("lifecycle")))
        row.extend(cell(v) for v in row_values(summary, fields))
        rows.append(row)
    return headers, rows, any_stale


def field_headers(fields: Sequence[Any]) -> list[str]:
    """Column titles for humans: the bare key, or ``params.key`` when a key is ambiguous."""
    entities: dict[str, set[str]] = {}
    for field in fields:
        entities.setdefault(field.key, set()).add(field.entity)
    return [f.key if len(entities[f.key]) == 1 else f.name for f in fields]


def csv_rows(
    summaries: Sequence[dict[str, Any]], fields: Sequence[Any]
) -> tuple[list[str], list[list[str]]]:
    """Headers and rows for CSV: full ids, ISO times, seconds, exact values."""
    from ..query import row_values  # noqa: PLC0415

    headers = CSV_BASE + [f.name for f in fields]
    rows = []
    for summary in summaries:
        record = _identity(summary)
        base = [exact_cell(record[k]) for k in ("run_id", "name", "experiment", "status", "stale",
                                                "lifecycle", "start_time", "end_time", "duration",
                                                "user")]  # fmt: skip
        baseline = record["baseline"]
        base += [exact_cell(baseline["commit"]), exact_cell(baseline["branch"]),
                 exact_cell(baseline["dirty"])]  # fmt: skip
        rows.append(base + [exact_cell(v) for v in row_values(summary, fields)])
    return headers, rows


def json_document(summaries: Sequence[dict[str, Any]], fields: Sequence[Any]) -> dict[str, Any]:
    """The ``gitml.ls/1`` JSON document (described in docs/query.md)."""
    from ..query import flatten  # noqa: PLC0415

    runs = []
    for summary in summaries:
        record = _identity(summary)
        sources = {
            "params": flatten(summary.get("params") or {}),
            "metrics": summary.get("metrics") or {},
            "tags": summary.get("tags") or {},
        }
        for entity, values in sources.items():
            record[entity] = {
                f.key: values[f.key] for f in fields if f.entity == entity and f.key in values
            }
        runs.append(record)
    return {"schema": JSON_SCHEMA, "runs": runs}


def _identity(summary: dict[str, Any]) -> dict[str, Any]:
    from ..runs import is_stale  # noqa: PLC0415

    source = summary.get("source") or {}
    stale = is_stale(summary)
    return {
        "run_id": summary.get("run_id"),
        "name": summary.get("name"),
        "experiment": summary.get("experiment"),
        "status": summary.get("status"),
        "stale": stale,
        "lifecycle": summary.get("lifecycle"),
        "start_time": summary.get("start_time"),
        "end_time": summary.get("end_time"),
        "duration": _seconds(summary),
        "user": summary.get("user"),
        "baseline": {
            "commit": source.get("commit"),
            "branch": source.get("branch"),
            "dirty": bool(source.get("dirty")),
        },
        **({"here": summary["here"]} if "here" in summary else {}),
    }


# --------------------------------------------------------------------------- cells


def _moment(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _start_text(text: Any, this_year: int, full: bool) -> str:
    moment = _moment(text)
    if moment is None:
        return "-"
    local = moment.astimezone()
    if full:
        return local.strftime("%Y-%m-%d %H:%M:%S")
    return local.strftime("%m-%d %H:%M" if local.year == this_year else "%Y-%m-%d")


def _seconds(summary: dict[str, Any]) -> float | None:
    start, end = _moment(summary.get("start_time")), _moment(summary.get("end_time"))
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def _duration(summary: dict[str, Any], now_ms: int, stale: bool) -> float | None:
    seconds = _seconds(summary)
    if seconds is not None or summary.get("status") != "RUNNING" or stale:
        return seconds
    start = _moment(summary.get("start_time"))
    return None if start is None else max(now_ms / 1000 - start.timestamp(), 0.0)


def _duration_text(seconds: float | None) -> str:
    """``0.4s``, ``12s``, ``3m04s``, ``2h05m``, ``3d04h``."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def _baseline_text(source: dict[str, Any]) -> str:
    commit = source.get("commit")
    if not commit:
        return "-" + ("*" if source.get("dirty") else "")
    return str(commit)[:7] + ("*" if source.get("dirty") else "")
