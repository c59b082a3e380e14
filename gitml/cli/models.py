"""``gitml models``: serve, predict, register, alias, ls, show."""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import click

from ..errors import GitmlError
from ._formats import format_option, render, terminal_width, to_json


class _ModelsGroup(click.Group):
    """Also usable on its own (tests, embedding): a GitmlError is ``Error: ...`` and exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with _warnings_as_lines():
                return super().invoke(ctx)
        except GitmlError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show Python warnings (an untrusted model, dropped columns) as ``Warning: ...`` lines."""
    original = warnings.showwarning

    def show(
        message: Any, category: Any, filename: Any, lineno: Any, file: Any = None, line: Any = None
    ) -> None:
        click.echo(f"Warning: {message}", err=True)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = original


@click.group(cls=_ModelsGroup)
def models() -> None:
    """Models: serve and predict, the registry of named versions and aliases."""


@models.command()
@click.argument("model_uri")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for all)."
)
@click.option(
    "--port",
    "-p",
    default=5000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port (0: any free port).",
)
@click.option(
    "--workers",
    "-w",
    default=1,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Processes sharing the socket.",
)
@click.option(
    "--max-body",
    default=64 * 1024 * 1024,
    show_default=True,
    type=click.IntRange(1),
    help="Largest request body in bytes (larger: 413).",
)
def serve(model_uri: str, host: str, port: int, workers: int, max_body: int) -> None:
    """Serve MODEL_URI over HTTP with MLflow's scoring protocol (POST /invocations).

    MODEL_URI is runs:/<run>/<name>, models:/<name>/<version>, models:/<name>@<alias> or a path.
    """
    from ..serve import describe_bind
    from ..serve import serve as run_server

    def ready(bound: int) -> None:
        click.echo(
            f"Serving {model_uri} on {describe_bind(host, bound)} (workers: {workers}; Ctrl-C or SIGTERM stops)",
            err=True,
        )

    run_server(model_uri, host=host, port=port, workers=workers, max_body=max_body, ready=ready)


@models.command()
@click.argument("model_uri")
@click.option(
    "--input",
    "-i",
    "input_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="A .csv or .json input file.",
)
@click.option(
    "--output",
    "-o",
    "output_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Write predictions here (default: stdout).",
)
def predict(model_uri: str, input_path: str, output_path: str | None) -> None:
    """Predict with MODEL_URI on an input file; prints {"predictions": [...]}.

    A .json input is a scoring payload (dataframe_split, dataframe_records, instances or
    inputs, optional params), a list of records, or {"columns", "data"}.
    """
    from ..models.describe import predict_file

    out = predict_file(model_uri, input_path)
    if output_path:
        with open(output_path, "wb") as f:
            f.write(out + b"\n")
    else:
        click.echo(out.decode())


@models.command()
@click.argument("source")
@click.argument("name")
@click.option("--description", "-d", default=None, help="A note stored with the version.")
def register(source: str, name: str, description: str | None) -> None:
    """Register SOURCE (runs:/<run>/<model>, models:/..., or a path) as the next version of NAME."""
    from ..models.registry import register as do_register

    mv = do_register(source, name, description=description)
    click.echo(f"Registered {mv.name} version {mv.version} ({mv.uri}) from {mv.source}")


@models.command()
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.argument("version", required=False)
@click.option("--delete", is_flag=True, help="Remove ALIAS instead of setting it.")
def alias(name: str, alias_name: str, version: str | None, delete: bool) -> None:
    """Point ALIAS of model NAME at VERSION (a number or 'latest'), or remove it with --delete."""
    from ..models import registry

    if delete:
        if version is not None:
            raise click.UsageError("--delete takes no VERSION")
        registry.delete_alias(name, alias_name)
        click.echo(f"Removed alias {alias_name} of {name}")
        return
    if version is None:
        raise click.UsageError("give the VERSION the alias points at (or --delete)")
    mv = registry.set_alias(name, alias_name, version)
    click.echo(f"{name}@{alias_name} -> version {mv.version} (models:/{name}@{alias_name})")


@models.command(name="ls")
@click.argument("name", required=False)
@format_option()
def ls_(name: str | None, format: str) -> None:  # noqa: A002 - the option's name
    """List registered models, or the versions of model NAME."""
    from ..models.describe import registry_rows

    rows = registry_rows(name)
    if format == "json":
        click.echo(to_json(rows))
        return
    if not rows:
        click.echo(
            "No registered models; register one with `gitml models register runs:/<run>/<model> NAME`.",
            err=True,
        )
        return
    if name:
        headers = ["version", "aliases", "created", "source", "description"]
        cells = [
            [
                str(r["version"]),
                ",".join(r["aliases"]),
                r["created"],
                r["source"],
                r["description"] or "",
            ]
            for r in rows
        ]
    else:
        headers = ["name", "versions", "latest", "aliases", "created", "source"]
        cells = [
            [r["name"], str(r["versions"]), str(r["latest"]),
             ",".join(f"{a}={v}" for a, v in r["aliases"].items()), r["created"], r["source"]]
            for r in rows
        ]  # fmt: skip
    click.echo(render(format, headers, cells, terminal_width() if format == "table" else None))


@models.command()
@click.argument("model_uri")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "yaml", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
def show(model_uri: str, fmt: str) -> None:
    """Show a model: flavors, signature, requirements, run and registry facts."""
    from .. import yamlio
    from ..models.describe import describe, render_text

    info = describe(model_uri)
    if fmt == "json":
        click.echo(json.dumps(info, indent=2, default=str))
    elif fmt == "yaml":
        click.echo(yamlio.dumps(info), nl=False)
    else:
        click.echo(render_text(info), nl=False)
