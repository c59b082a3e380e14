"""``gitml project run`` and ``gitml project show``: MLproject / gitml.yaml entry points."""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

import click


@click.group()
def project() -> None:
    """Run a project's entry points (MLproject or gitml.yaml) as recorded runs."""


@project.command("run", context_settings={"show_default": True})
@click.argument("uri", default=".", required=False)
@click.option(
    "-e",
    "--entry-point",
    "entry",
    default="main",
    metavar="ENTRY",
    help="Entry point of the project file, or a .py/.sh file of the project.",
)
@click.option(
    "-P",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A parameter (repeatable); checked against its declared type. Values not "
    "declared are appended to the command as --KEY VALUE.",
)
@click.option(
    "--version",
    "version",
    default=None,
    metavar="REF",
    help="Branch, tag or commit of a git project (fetched into the cache).",
)
@click.option("--experiment", default=None, help="Experiment of the run (default: Default).")
@click.option("-n", "--name", default=None, help="Name of the run (default: generated).")
@click.option(
    "--env-manager",
    type=click.Choice(["local", "virtualenv", "uv"]),
    default="local",
    help="Run in the current environment, or in one built from the project's "
    "python_env.yaml/requirements (cached by content).",
)
@click.option("-q", "--quiet", is_flag=True, help="Do not copy the output to the terminal.")
def run(
    uri: str,
    entry: str,
    params: tuple[str, ...],
    version: str | None,
    experiment: str | None,
    name: str | None,
    env_manager: str,
    quiet: bool,
) -> None:
    """Run ENTRY of the project at URI (a folder, default `.`, or a git URL, `#subdir`
    allowed) and record it as a run.

    \b
    Examples:
      gitml project run . -P alpha=0.5
      gitml project run https://github.com/org/repo#examples/wine --version v1.2 -P alpha=0.1

    Every parameter is checked before anything is recorded. Exits with the command's
    exit code.
    """
    from ..projects import run as run_project

    values = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} must look like KEY=VALUE", param_hint="-P")
        values[key.strip()] = value
    result = run_project(
        uri,
        entry,
        values,
        version=version,
        experiment=experiment,
        name=name,
        env_manager=env_manager,
        quiet=quiet,
        message=lambda text: click.echo(text, err=True),
    )
    how = f"exit {result.exit_code}"
    if result.signal is not None:
        how = f"{signal.Signals(result.signal).name} passed on, exit {result.exit_code}"
    click.echo(
        f"gitml: run {result.name} {result.status} ({how}); see `gitml show {result.name}`",
        err=True,
    )
    if result.signal is not None and _is_real_process():
        sys.stdout.flush()
        signal.signal(result.signal, signal.SIG_DFL)
        os.kill(os.getpid(), result.signal)
    sys.exit(result.exit_code)


@project.command("show")
@click.argument("uri", default=".", required=False)
@click.option(
    "--version", default=None, metavar="REF", help="Branch, tag or commit of a git project."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
def show(uri: str, version: str | None, fmt: str) -> None:
    """Print the entry points of the project at URI and their parameters."""
    from ..projects import describe

    info = describe(uri, version)
    if fmt == "json":
        click.echo(json.dumps(info, indent=2))
    else:
        click.echo(render(info), nl=False)


def render(info: dict[str, Any]) -> str:
    """The text form of ``describe``: one block per entry point."""
    out = [f"project {info['name']}  ({info['file'] or 'no project file'})"]
    out.append(
        f"  source       {info['uri']}" + (f" at {info['commit'][:12]}" if info["commit"] else "")
    )
    env = info["environment"]
    if env:
        out.append(f"  environment  {env['type']}: {env.get('file') or env.get('image')}")
    if not info["entry_points"]:
        out.append("  entry points: none declared (run a .py or .sh file with -e)")
    for name, ep in info["entry_points"].items():
        out.append("")
        out.append(f"entry point {name}")
        out.append(f"  command  {ep['command']}")
        for pname, p in ep["parameters"].items():
            default = "required" if p["required"] else f"default {p['default']!r}"
            out.append(f"  -P {pname}  {p['type']}, {default}")
    return "\n".join(out) + "\n"


def _is_real_process() -> bool:
    try:
        return sys.stdout.fileno() >= 0
    except (AttributeError, OSError, ValueError):
        return False
