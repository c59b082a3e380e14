"""``gitml init`` and ``gitml show``."""

from __future__ import annotations

import json
from typing import Any

import click

from .. import yamlio
from ..store import Store
from ._formats import cell, format_option, json_safe, to_json, to_markdown, to_table


@click.command()
@click.option("--path", default=None, help="A folder inside the git repository (default: cwd).")
def init(path: str | None) -> None:
    """Check the repository and prepare gitml's local cache (writes nothing to commit)."""
    from .. import index

    store = Store.discover(path)
    runs_count = len(index.summaries(store))
    click.echo(f"gitml is ready in {store.root or store.gitdir}")
    click.echo(f"runs are stored as commits on refs/gitml/runs/* ({runs_count} so far)")
    click.echo("next: gitml run -- python train.py   or   import gitml; gitml.start_run()")


@click.command()
@click.argument("run")
@format_option("table", "json", "yaml", "md")
@click.option(
    "--log", "full_log", is_flag=True, help="Print all of output.log, not its last lines."
)
@click.option("--lines", "log_lines", type=click.IntRange(0), default=20, show_default=True,
              help="How many last lines of output.log to print.")  # fmt: skip
def show(run: str, format: str, full_log: bool, log_lines: int) -> None:
    """Show everything about one RUN (id, unique prefix or name).

    Identity, status (a RUNNING run whose process is gone is marked stale), source
    (baseline commit, branch, dirty workspace, skipped files), params, metric summaries,
    tags, artifacts with sizes, models and the last lines of output.log.
    """
    from ..show import describe

    info = describe(Store.discover(), run, log_lines=None if full_log else log_lines)
    if format == "json":
        click.echo(to_json(info))
    elif format == "yaml":
        click.echo(yamlio.dumps(info), nl=False)
    elif format == "md":
        click.echo(render_markdown(info), nl=False)
    else:
        click.echo(render_text(info), nl=False)


def _flat_params(params: dict[str, Any]) -> list[list[str]]:
    from ..diff import flatten

    return [[k, _short(v)] for k, v in sorted(flatten(params).items())]


def _sections(info: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, headers, rows) of the tables of ``gitml show``."""
    return [
        ("params", ["key", "value"], _flat_params(info["params"])),
        ("metrics", ["key", "last", "step", "min", "max", "count"],
         [[k, cell(m.get("last")), cell(m.get("step")), cell(m.get("min")), cell(m.get("max")),
           cell(m.get("count"))] for k, m in sorted(info["metrics"].items())]),
        ("tags", ["key", "value"], [[k, _short(v)] for k, v in sorted(info["tags"].items())]),
        ("artifacts", ["path", "size"],
         [[a["path"], human_size(a["size"]) + (" (LFS)" if a.get("lfs") else "")]
          for a in info["artifacts"]]),
        ("models", ["name", "flavors", "uri", "registered"],
         [[m["name"], ", ".join(m.get("flavors", [])), m["uri"], _registered(m)]
          for m in info["models"]]),
    ]  # fmt: skip


def _registered(model: dict[str, Any]) -> str:
    """``churn v1 @champion, churn v3`` for a model's registry versions."""
    return ", ".join(
        f"{r['name']} v{r['version']}" + "".join(f" @{a}" for a in r["aliases"])
        for r in model.get("registered", [])
    )


def _facts(info: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) lines of the run's identity, status and source."""
    facts = [("experiment", str(info.get("experiment")))]
    status = str(info.get("status"))
    if info.get("stale"):
        status += " (stale: its process is gone; `gitml gc --stale` marks it KILLED)"
    facts.append(("status", status))
    if info.get("lifecycle") == "deleted":
        facts.append(("lifecycle", "deleted (`gitml rm --undo` restores it; `gitml gc` drops it)"))
    facts.append(("started", str(info.get("start_time"))))
    facts.append(
        ("ended", f"{info.get('end_time') or '-'}   duration {info.get('duration') or '-'}")
    )
    facts.append(("user", f"{info.get('user')}@{info.get('host')}  pid {info.get('pid')}"))
    if info.get("command"):
        facts.append(
            ("command", f"{' '.join(map(str, info['command']))}  (exit {info.get('exit_code')})")
        )
    if info.get("parent_run"):
        facts.append(("parent run", str(info["parent_run"])))
    if info.get("description"):
        facts.append(("description", str(info["description"])))
    src = info.get("source") or {}
    dirty = " (dirty: the workspace differed from it)" if src.get("dirty") else ""
    baseline = src["commit"][:12] if src.get("commit") else "none (unborn branch)"
    facts.append(("baseline", f"{baseline}{dirty}"))
    facts.append(("branch", str(src.get("branch") or "detached HEAD")))
    if src.get("remote_url"):
        facts.append(("remote", str(src["remote_url"])))
    if src.get("skipped"):
        facts.append(("skipped", f"{', '.join(src['skipped'])} (too large for the code snapshot)"))
    facts.append(("code", (info.get("code") or "no snapshot")[:12]))
    facts.append(("commit", f"{info.get('commit')}  revision {info.get('revision')}"))
    return facts


def render_text(info: dict[str, Any]) -> str:
    """The human form of ``describe``'s result."""
    out = [f"run {info['id']}  {info['name']}"]
    out.extend(f"  {label:<11} {text}" for label, text in _facts(info))
    for title, headers, rows in _sections(info):
        out.append("")
        if rows:
            out.append(f"{title}:")
            out.extend("  " + line for line in to_table(headers, rows).splitlines())
        else:
            out.append(f"{title}: none")
    if info.get("log") is not None:
        out.append("")
        cut = info.get("log_cut")
        out.append(f"output.log ({cut}):" if cut else "output.log:")
        out.extend("  " + line for line in info["log"].splitlines())
    return "\n".join(out) + "\n"


def render_markdown(info: dict[str, Any]) -> str:
    """GitHub-flavored Markdown: the facts as a table, a table per section, the log fenced."""
    out = [f"# run {info['name']}", "", f"`{info['id']}`", ""]
    out.append(to_markdown(["", ""], [[label, text] for label, text in _facts(info)]))
    for title, headers, rows in _sections(info):
        out.extend(["", f"## {title}", ""])
        out.append(to_markdown(headers, rows) if rows else "none")
    if info.get("log") is not None:
        cut = info.get("log_cut")
        out.extend(["", f"## output.log ({cut})" if cut else "## output.log", "", "```text"])
        out.extend(info["log"].splitlines())
        out.append("```")
    return "\n".join(out) + "\n"


def human_size(size: int | None) -> str:
    """Bytes as ``512 B``, ``1.5 KiB``, ``3.2 MiB``..."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(json_safe(value))
    return text if len(text) <= 60 else text[:59] + "…"
