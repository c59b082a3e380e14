"""``gitml exp``: DVC's experiment command names for the same gitml commands."""

from __future__ import annotations

import click

from . import LazyGroup

# dvc exp <name> -> "module:attribute" of the gitml command that does the job
EXP_COMMANDS = {
    "run": "run:run",
    "show": "ls:ls",
    "list": "ls:ls",
    "diff": "diff:diff",
    "push": "remote:push",
    "pull": "remote:pull",
    "remove": "manage:rm",
    "branch": "workspace:branch",
    "apply": "workspace:apply_",
}


class ExpGroup(LazyGroup):
    table = EXP_COMMANDS


@click.group(cls=ExpGroup)
def exp() -> None:
    """DVC's names for gitml's commands: `exp run` is `gitml run`, `exp show` is
    `gitml ls` (and so is `exp list`), `exp diff` is `gitml diff`, `exp push`/`exp pull` are `gitml push`/
    `gitml pull`, `exp remove` is `gitml rm`, `exp branch` is `gitml branch`, `exp apply`
    is `gitml apply`.
    """
