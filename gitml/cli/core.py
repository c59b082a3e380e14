"""``gitml init`` and ``gitml show``."""

from __future__ import annotations

import json
from typing import Any

import click

from .. import yamlio
from ..store import Store


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
@click.option("--format", "fmt", type=click.Choice(["text", "yaml", "json"]), default="text",
              show_default=True, help="Output format.")  # fmt: skip
@click.option("--log", "full_log", is_flag=True, help="Print all of output.log, not its last lines.")
def show(run: str, fmt: str, full_log: bool) -> None:
    """Show everything about one RUN (id, unique prefix or name)."""
    from ..show import describe

    info = describe(Store.discover(), run, log_lines=None if full_log else 20)
    if fmt == "json":
        click.echo(json.dumps(info, indent=2, default=str))
    elif fmt == "yaml":
        click.echo(yamlio.dumps(info), nl=False)
    else:
        click.echo(render_text(info), nl=False)


def render_text(info: dict[str, Any]) -> str:
    from tabulate import tabulate

    out = []
    stale = " (stale: its process is gone; `gitml gc --stale` marks it KILLED)" if info.get("stale") else ""
    out.append(f"run {info['id']}  {info['name']}")
    out.append(f"  experiment  {info['experiment']}")
    out.append(f"  status      {info['status']}{stale}")
    if info.get("lifecycle") == "deleted":
        out.append("  lifecycle   deleted (`gitml rm --undo` restores it)")
    out.append(f"  started     {info.get('start_time')}   ended {info.get('end_time') or '-'}"
               f"   duration {info.get('duration') or '-'}")  # fmt: skip
    out.append(f"  user        {info.get('user')}@{info.get('host')} pid {info.get('pid')}")
    if info.get("command"):
        out.append(f"  command     {' '.join(map(str, info['command']))}  (exit {info.get('exit_code')})")
    if info.get("parent_run"):
        out.append(f"  parent run  {info['parent_run']}")
    if info.get("description"):
        out.append(f"  description {info['description']}")
    src = info.get("source") or {}
    dirty = " (dirty)" if src.get("dirty") else ""
    out.append(f"  baseline    {(src.get('commit') or 'none (unborn branch)')[:12]}{dirty}"
               f" on {src.get('branch') or 'detached HEAD'}")  # fmt: skip
    if src.get("remote_url"):
        out.append(f"  remote      {src['remote_url']}")
    if src.get("skipped"):
        out.append(f"  skipped     {', '.join(src['skipped'])} (too large for the code snapshot)")
    for title, rows, headers in (
        ("params", [[k, _short(v)] for k, v in info["params"].items()], ["key", "value"]),
        ("metrics", [[k, m["last"], m["step"], m["min"], m["max"], m["count"]]
                     for k, m in info["metrics"].items()],
         ["key", "last", "step", "min", "max", "count"]),
        ("tags", [[k, v] for k, v in info["tags"].items()], ["key", "value"]),
        ("artifacts", [[a["path"], a["size"]] for a in info["artifacts"]], ["path", "bytes"]),
        ("models", [[m["name"], ", ".join(m.get("flavors", []))] for m in info["models"]],
         ["name", "flavors"]),
    ):  # fmt: skip
        out.append("")
        if rows:
            out.append(f"{title}:")
            out.extend("  " + line for line in tabulate(rows, headers=headers).splitlines())
        else:
            out.append(f"{title}: none")
    if info.get("log") is not None:
        out.append("")
        cut = info.get("log_cut")
        out.append(f"output.log ({cut}):" if cut else "output.log:")
        out.extend("  " + line for line in info["log"].splitlines())
    return "\n".join(out) + "\n"


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 60 else text[:59] + "…"
