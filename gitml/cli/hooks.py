"""``gitml hooks install|uninstall|status``: git hooks that carry runs along."""

from __future__ import annotations

import click

from ..store import Store

_SAY = {
    "installed": "installed",
    "updated": "updated",
    "unchanged": "already installed",
    "chained": "installed (your existing hook still runs first)",
    "removed": "removed",
    "restored": "removed (your previous hook is back)",
    "absent": "not installed",
}


@click.group()
def hooks() -> None:
    """Git hooks: push runs with every `git push`, fetch them after `git pull`."""


@hooks.command()
@click.option("--fetch", is_flag=True, help="Also fetch runs after every `git pull` (post-merge).")
def install(fetch: bool) -> None:
    """Install the pre-push hook (and with --fetch the post-merge hook)."""
    from .. import hooks as lib

    for action in lib.install(Store.discover(), fetch=fetch):
        click.echo(f"{action.hook}: {_SAY[action.what]} at {action.path}")


@hooks.command()
def uninstall() -> None:
    """Remove gitml's hooks and restore the hooks that were there before."""
    from .. import hooks as lib

    for action in lib.uninstall(Store.discover()):
        click.echo(f"{action.hook}: {_SAY[action.what]}")


@hooks.command()
def status() -> None:
    """Show which gitml hooks are installed, and where."""
    from .. import hooks as lib

    for action in lib.status(Store.discover()):
        click.echo(f"{action.hook}: {action.what} ({action.path})")
