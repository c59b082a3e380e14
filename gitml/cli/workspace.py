"""``gitml branch`` and ``gitml apply``: the code a run ran, back in git."""

from __future__ import annotations

import click

from .manage import _store


@click.command()
@click.argument("run")
@click.argument("name")
@click.option("--force", "-f", is_flag=True, help="Move the branch if it exists.")
def branch(run: str, name: str, force: bool) -> None:
    """Create git branch NAME with the code RUN ran: its code snapshot as a commit on top
    of its baseline (`dvc exp branch`). Your workspace, index and HEAD are left alone.
    """
    from .. import workspace

    made = workspace.branch(_store(), run, name, force=force)
    what = "moved to" if made["moved"] else "created at"
    base = made["baseline"]
    if made["new_commit"]:
        origin = f"the code of run {made['run_name']}" + (f", on top of {base[:7]}" if base else "")
    else:
        origin = f"run {made['run_name']}'s baseline: its workspace was clean"
    click.echo(f"branch {name} {what} {made['commit'][:7]} ({origin}); "
               f"`git switch {name}` to work on it")  # fmt: skip


@click.command("apply")
@click.argument("run")
@click.option("--force", "-f", is_flag=True,
              help="Overwrite uncommitted changes in the files the run's code replaces.")  # fmt: skip
def apply_(run: str, force: bool) -> None:
    """Put the code RUN ran into the workspace (`dvc exp apply`): its files are written,
    tracked files it did not have are removed. The index and HEAD are left alone, so
    `git diff` shows the change and `git checkout -- .` undoes it.
    """
    from .. import workspace

    done = workspace.apply(_store(), run, force=force)
    written, removed = done["written"], done["removed"]
    if not written and not removed:
        click.echo(f"the workspace already has the code of run {done['run_name']}")
        return
    click.echo(f"applied the code of run {done['run_name']}: {len(written)} file(s) written, "
               f"{len(removed)} removed; `git diff` shows it")  # fmt: skip
    if done["skipped"]:
        click.echo("not in the run's snapshot (too large), left as they are: "
                   + ", ".join(done["skipped"]))  # fmt: skip
