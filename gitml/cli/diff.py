"""``gitml diff``: compare two runs, or a run with the workspace."""

from __future__ import annotations

from typing import Any

import click

from ._formats import cell, format_option, terminal_width, to_json, to_markdown, to_table

CHANGE_MARK = {"added": "A", "removed": "D", "modified": "M", "changed": "M", "renamed": "R",
               "copied": "C", "equal": " "}  # fmt: skip


@click.command()
@click.argument("run_a")
@click.argument("run_b", required=False)
@click.option("--only-changed/--all-keys", default=True, show_default=True,
              help="Hide params, metrics, tags, artifacts and models that are equal.")  # fmt: skip
@click.option("--stat", "stat", is_flag=True, help="Summarize code changes per file (the default).")
@click.option(
    "--code", "code", is_flag=True, help="Also print the unified diff of the code snapshots."
)
@click.option("-U", "--unified", "context", type=click.IntRange(0), default=3, show_default=True,
              help="Lines of context in the unified diff.")  # fmt: skip
@click.option("--params-file", type=click.Path(dir_okay=False), default=None,
              help="The workspace's params file when comparing with the workspace "
                   "(default: params.yaml at the repository root).")  # fmt: skip
@click.option("--wide", is_flag=True, help="Do not cut table cells to the terminal width.")
@format_option("table", "json", "md")
def diff(
    run_a: str,
    run_b: str | None,
    only_changed: bool,
    stat: bool,
    code: bool,
    context: int,
    params_file: str | None,
    wide: bool,
    format: str,
) -> None:
    """Compare RUN_A with RUN_B, or with the workspace's code and params.yaml.

    Shows params (changed, added, removed; nested keys as a.b), metrics with absolute and
    relative deltas, tags, artifacts and models (compared by content) and a summary of
    the code changes; --code adds the unified diff of the two code snapshots.
    """
    from .. import diff as diff_lib
    from ..store import Store

    result = diff_lib.diff(
        Store.discover(), run_a, run_b, all_keys=not only_changed, code=code,
        params_file=params_file, context=context,
    )  # fmt: skip
    if format == "json":
        click.echo(to_json(result))
    elif format == "md":
        click.echo(render_markdown(result), nl=False)
    else:
        click.echo(render_text(result, None if wide else terminal_width()), nl=False)


def _signed(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value * 100:+.1f}%" if percent else f"{value:+.6g}"


def _sections(result: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, headers, rows) of every table section present in ``result``."""
    la, lb = result["a"]["label"], result["b"]["label"]
    out = []
    if result.get("params") is not None:
        out.append(
            (
                "params",
                ["key", la, lb, "change"],
                [[r["key"], cell(r["a"]), cell(r["b"]), r["change"]] for r in result["params"]],
            )
        )
    if result.get("metrics") is not None:
        out.append(
            (
                "metrics",
                ["key", la, lb, "delta", "rel", "change"],
                [
                    [
                        r["key"],
                        cell(r["a"]),
                        cell(r["b"]),
                        _signed(r["delta"]),
                        _signed(r["rel_delta"], True),
                        r["change"],
                    ]
                    for r in result["metrics"]
                ],
            )
        )
    if result.get("tags") is not None:
        out.append(
            (
                "tags",
                ["key", la, lb, "change"],
                [[r["key"], cell(r["a"]), cell(r["b"]), r["change"]] for r in result["tags"]],
            )
        )
    if result.get("artifacts") is not None:
        out.append(
            (
                "artifacts",
                ["path", f"{la} bytes", f"{lb} bytes", "change"],
                [
                    [r["path"], cell(r["a_size"]), cell(r["b_size"]), r["change"]]
                    for r in result["artifacts"]
                ],
            )
        )
    if result.get("models") is not None:
        out.append(
            (
                "models",
                ["name", f"{la} flavors", f"{lb} flavors", "change"],
                [
                    [
                        r["name"],
                        ", ".join(r["a_flavors"]) if r["a_flavors"] is not None else "-",
                        ", ".join(r["b_flavors"]) if r["b_flavors"] is not None else "-",
                        r["change"] + (f" ({len(r['files'])} files)" if r["files"] else ""),
                    ]
                    for r in result["models"]
                ],
            )
        )
    return out  # fmt: skip


def _summary(code: dict[str, Any]) -> str:
    n, ins, dels = code["changed"], code["insertions"], code["deletions"]
    return (
        f"{n} file{'s' if n != 1 else ''} changed, {ins} insertion{'s' if ins != 1 else ''}(+), "
        f"{dels} deletion{'s' if dels != 1 else ''}(-)"
    )


def _stat_rows(code: dict[str, Any]) -> list[list[str]]:
    rows = []
    for f in code["files"]:
        path = f"{f['old_path']} → {f['path']}" if f["old_path"] else f["path"]
        if f["binary"]:
            counts = "binary"
        else:
            plus = f"+{f['added']}" if f["added"] else ""
            minus = f"-{f['removed']}" if f["removed"] else ""
            counts = " ".join(p for p in (plus, minus) if p)
        rows.append([CHANGE_MARK.get(f["change"], "?"), path, counts or "0"])
    return rows


def render_text(result: dict[str, Any], width: int | None) -> str:
    """The human form: a header, one table per section, the code summary, the patch."""
    lines = []
    for side in ("a", "b"):
        s = result[side]
        ident = f"  {s['run_id'][:8]}  commit {s['commit'][:12]}" if s["run_id"] else ""
        lines.append(f"{side}: {s['label']}{ident}")
    inner = None if width is None else max(width - 2, 20)
    for title, headers, rows in _sections(result):
        lines.append("")
        if not rows:
            lines.append(f"{title}: no differences")
            continue
        lines.append(f"{title}:")
        lines.extend("  " + line for line in to_table(headers, rows, inner).splitlines())
    code = result["code"]
    lines.append("")
    if not code["files"]:
        lines.append("code: no differences")
    else:
        lines.append(f"code: {_summary(code)}")
        table = to_table(["", "file", "lines"], _stat_rows(code), inner)
        lines.extend("  " + line for line in table.splitlines()[2:])  # no header for the stat
    for note in result.get("notes") or []:
        lines.append(f"note: {note}")
    text = "\n".join(lines) + "\n"
    if code.get("patch"):
        text += "\n" + code["patch"]
    return text


def render_markdown(result: dict[str, Any]) -> str:
    """GitHub-flavored Markdown: a heading and a table per section, the patch fenced."""
    a, b = result["a"], result["b"]
    lines = [f"# diff: {a['label']} → {b['label']}", ""]
    for title, headers, rows in _sections(result):
        lines.append(f"## {title}")
        lines.append("")
        lines.append(to_markdown(headers, rows) if rows else "no differences")
        lines.append("")
    code = result["code"]
    lines.append("## code")
    lines.append("")
    if code["files"]:
        lines.append(_summary(code))
        lines.append("")
        lines.append(to_markdown(["change", "file", "lines"], _stat_rows(code)))
    else:
        lines.append("no differences")
    lines.append("")
    for note in result.get("notes") or []:
        lines.append(f"> note: {note}")
        lines.append("")
    if code.get("patch"):
        lines.extend(["```diff", code["patch"].rstrip("\n"), "```", ""])
    return "\n".join(lines)
