"""The ``gitml`` command: a thin click shell over the library.

This is the one place a GitmlError becomes ``Error: <message>`` and exit code 1; usage
errors exit 2 (click's convention). Commands are imported lazily so ``gitml --help``
stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

from .. import __version__
from ..errors import GitmlError

# command name -> "module:attribute" (modules under gitml.cli)
COMMANDS = {
    "init": "core:init",
    "ls": "ls:ls",
    "show": "core:show",
    "run": "run:run",
    "diff": "diff:diff",
    "metrics": "manage:metrics",
    "tag": "manage:tag",
    "rename": "manage:rename",
    "rm": "manage:rm",
    "branch": "workspace:branch",
    "apply": "workspace:apply_",
    "gc": "manage:gc",
    "push": "remote:push",
    "pull": "remote:pull",
    "fetch": "remote:fetch",
    "hooks": "hooks:hooks",
    "models": "models:models",
    "project": "project:project",
    "ui": "ui:ui",
    "exp": "exp:exp",
}


class LazyGroup(click.Group):
    """A group whose subcommands (``table``) are imported only when they are used."""

    table = COMMANDS

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in self.table if self._available(name))

    def _available(self, name: str) -> bool:
        module = self.table[name].split(":")[0]
        return importlib.util.find_spec(f"gitml.cli.{module}") is not None

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.table or not self._available(name):
            return None
        module, attr = self.table[name].split(":")
        return getattr(importlib.import_module(f"gitml.cli.{module}"), attr)  # type: ignore[no-any-return]


class GitmlGroup(LazyGroup):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GitmlError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=GitmlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gitml")
def cli() -> None:
    """gitml: experiment tracking on git. Runs are commits on hidden refs of your repository."""


def main() -> None:
    cli(prog_name="gitml")
