"""``gitml metrics``, ``tag``, ``rename``, ``rm`` and ``gc``: metric histories, run management."""

from __future__ import annotations

import click

from ._formats import cell, exact_cell, format_option, render, to_json


def _store():  # type: ignore[no-untyped-def]
    from ..store import Store

    return Store.discover()


@click.command()
@click.argument("run")
@click.argument("key", required=False)
@format_option("table", "csv", "json", "md")
def metrics(run: str, key: str | None, format: str) -> None:
    """Print the history of metric KEY of RUN (without KEY: the run's metric summaries)."""
    from .. import manage, runs
    from ..record import iso

    store = _store()
    if key is None:
        rec = runs.load(store, runs.resolve(store, run))
        if format == "json":
            click.echo(to_json({"run_id": rec.run_id, "name": rec.info.get("name"),
                                "metrics": rec.metrics}))  # fmt: skip
            return
        conv = exact_cell if format == "csv" else cell
        fields = ("last", "step", "min", "max", "count")
        rows = [[k, *(conv(m.get(f)) for f in fields)] for k, m in sorted(rec.metrics.items())]
        if not rows and format in ("table", "md"):
            click.echo(f"run {rec.info.get('name')} has no metrics")
            return
        click.echo(render(format, ["key", "last", "step", "min", "max", "count"], rows))
        return
    rec, points = manage.metric_history(store, run, key)
    if format == "json":
        click.echo(to_json({
            "run_id": rec.run_id, "name": rec.info.get("name"), "key": key,
            "history": [{"step": s, "timestamp": t, "value": v} for s, t, v in points],
        }))  # fmt: skip
    elif format == "csv":
        rows = [[str(s), str(t), exact_cell(v)] for s, t, v in points]
        click.echo(render("csv", ["step", "timestamp", "value"], rows))
    else:  # table or md
        rows = [[str(s), iso(t) or "-", cell(v)] for s, t, v in points]
        click.echo(render(format, ["step", "time", "value"], rows))


@click.command()
@click.argument("run")
@click.argument("pairs", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--delete", "-d", "delete", multiple=True, metavar="KEY",
              help="Delete this tag (repeatable).")  # fmt: skip
def tag(run: str, pairs: tuple[str, ...], delete: tuple[str, ...]) -> None:
    """Set tags KEY=VALUE on RUN, delete tags with --delete; with neither, list its tags."""
    from .. import manage
    from ..errors import InvalidKey

    store = _store()
    try:
        new = manage.parse_tag_pairs(list(pairs))
    except InvalidKey as exc:  # a usage problem of the arguments: exit 2
        raise click.BadParameter(str(exc), param_hint="KEY=VALUE") from None
    rec = manage.tag(store, run, new, list(delete))
    if not new and not delete:
        if not rec.tags:
            click.echo(f"run {rec.info.get('name')} has no tags")
        for k, v in sorted(rec.tags.items()):
            click.echo(f"{k}={v}")
        return
    parts = [
        f"set {', '.join(sorted(new))}" if new else "",
        f"deleted {', '.join(delete)}" if delete else "",
    ]
    click.echo(
        f"run {rec.info.get('name')} ({rec.run_id[:8]}): " + "; ".join(p for p in parts if p)
    )


@click.command()
@click.argument("run")
@click.argument("new_name")
def rename(run: str, new_name: str) -> None:
    """Give RUN the name NEW_NAME (names may repeat; ids never change)."""
    from .. import manage

    run_id, old = manage.rename(_store(), run, new_name)
    click.echo(f"run {run_id[:8]}: {old} → {new_name}")


@click.command()
@click.argument("run_args", nargs=-1, required=True, metavar="RUN...")
@click.option("--undo", is_flag=True, help="Restore deleted runs instead.")
@click.option("--remote", metavar="REMOTE",
              help="Delete the runs on this git remote (its refs); local runs stay.")  # fmt: skip
def rm(run_args: tuple[str, ...], undo: bool, remote: str | None = None) -> None:
    """Delete runs softly: hidden from `gitml ls`, restorable with --undo until `gitml gc`.

    The deletion is an ordinary write of the run (lifecycle: deleted), so it travels with
    `gitml push`; `gitml gc` drops the refs of deleted runs for good.
    """
    from .. import manage

    if remote is not None:
        if undo:
            raise click.UsageError("--undo cannot be combined with --remote")
        from ..remote import delete_remote_runs

        for run_id in delete_remote_runs(_store(), remote, list(run_args)):
            click.echo(f"deleted run {run_id[:8]} on {remote}")
        return
    done = manage.remove(_store(), list(run_args), undo=undo)
    for item in done:
        label = f"{item['name']} ({item['run_id'][:8]})"
        if undo:
            click.echo(f"restored {label}" if item["changed"] else f"{label} was not deleted")
        elif item["changed"]:
            click.echo(f"deleted {label}; `gitml rm --undo {item['run_id'][:8]}` restores it")
        else:
            click.echo(f"{label} was already deleted")


@click.command()
@click.option(
    "--stale", is_flag=True, help="First mark RUNNING runs whose process is gone as KILLED."
)
@click.option(
    "--prune",
    "prune",
    default="1.hour.ago",
    show_default=True,
    metavar="DATE",
    help="Delete unreachable objects older than DATE (a git date; `now` for all).",
)
@click.option(
    "--dry-run", "-n", is_flag=True, help="Only list the deleted runs that would be dropped."
)
def gc(stale: bool, prune: str, dry_run: bool) -> None:
    """Drop deleted runs for good, prune unreachable objects, pack refs and objects.

    Packing and pruning use git (git pack-refs, git repack, git prune) when it is
    installed; then large files in .git/lfs/objects that no pointer names any more are
    removed. Without git only the refs of deleted runs are dropped.
    """
    from .. import manage

    report = manage.gc(_store(), stale=stale, prune=prune, dry_run=dry_run)
    for name in report.killed:
        click.echo(f"marked stale run {name[:8]} KILLED")
    verb = "would drop" if dry_run else "dropped"
    for d in report.dropped:
        click.echo(f"{verb} deleted run {d['name']} ({d['run_id'][:8]})")
    if not report.dropped:
        click.echo("no deleted runs to drop")
    if dry_run:
        return
    if report.git is None:
        click.echo("git is not installed: objects were not pruned or packed (install git, then "
                   "run `gitml gc` again)")  # fmt: skip
        return
    for step in report.steps:
        click.echo(step)
    if report.before_kib is not None and report.after_kib is not None:
        click.echo(f"objects: {report.before_kib} KiB → {report.after_kib} KiB")
    if report.lfs_removed:
        click.echo(
            f"large files: removed {report.lfs_removed} that no run refers to any more "
            f"({report.lfs_freed // 1024} KiB)"
        )
