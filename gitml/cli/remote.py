"""``gitml push``, ``gitml pull`` and ``gitml fetch``: runs through any git remote."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from ..store import Store


def _progress_option(f: Callable[..., None]) -> Callable[..., None]:
    return click.option("--progress/--no-progress", default=None,
                        help="Show transfer progress on stderr (default: when it is a terminal).")(f)  # fmt: skip


def _progress(flag: bool | None) -> Callable[[str], None] | None:
    if flag is None:
        flag = sys.stderr.isatty()
    if not flag:
        return None
    tty = sys.stderr.isatty()

    def show(line: str) -> None:
        if not tty and "%" in line and "done" not in line:
            return  # a log gets each phase once, when it is done, not every percent
        click.echo(("\r\x1b[K" + line) if tty else line, err=True, nl=not tty)

    return show


def _split(store: Store, args: tuple[str, ...]) -> tuple[str | None, list[str]]:
    """``[REMOTE] [RUN...]``: the first word is the remote when it names one (or is a URL)."""
    from ..remote.transport import _looks_like_url, configured_remotes

    if args and (args[0] in configured_remotes(store) or _looks_like_url(args[0])):
        return args[0], list(args[1:])
    return None, list(args)


def _finish(progress: Callable[[str], None] | None) -> None:
    if progress is not None and sys.stderr.isatty():
        click.echo("", err=True)


def _names(report_changes: list, store: Store) -> str:  # type: ignore[type-arg]
    from ..remote.sync import _label

    shown = [_label(store, c.ref, c.new) for c in report_changes[:10]]
    more = f", and {len(report_changes) - 10} more" if len(report_changes) > 10 else ""
    return ", ".join(shown) + more


def _skipped(store: Store, skipped: list[tuple[str, str]]) -> None:
    from ..remote.sync import _label

    for ref, why in skipped[:20]:
        click.echo(f"skipped {_label(store, ref, store.get_ref(ref))}: {why}")
    if len(skipped) > 20:
        click.echo(f"skipped {len(skipped) - 20} more")


@click.command()
@click.argument("args", nargs=-1, metavar="[REMOTE] [RUN]...")
@click.option("-e", "--experiment", multiple=True, help="Push the runs of this experiment.")
@click.option("--all", "-A", "all_", is_flag=True,
              help="Push every run and model ref (the default; -A as in `dvc exp push -A`).")
@click.option(
    "--force", is_flag=True, help="Overwrite diverged runs on the remote with this side's."
)
@_progress_option
def push(args: tuple[str, ...], experiment: tuple[str, ...], all_: bool, force: bool,
         progress: bool | None) -> None:  # fmt: skip
    """Send runs to a git remote (default origin): all, the named RUNs, or an experiment's.

    Runs travel as refs/gitml/* with their baseline commits; LFS artifacts go to the
    remote's LFS endpoint. A second push sends nothing.
    """
    from .. import remote as remote_mod
    from .. import runs
    from ..errors import RemoteError, RunNotFound

    store = Store.discover()
    where, words = _split(store, args)
    run_ids: list[str] | None = None
    if words or experiment:
        if all_:
            raise click.UsageError("--all cannot be combined with RUN names or --experiment")
        run_ids = []
        for i, word in enumerate(words):
            try:
                run_ids.append(runs.resolve(store, word))
            except RunNotFound:
                if i == 0 and where is None:  # neither a run nor a remote: say which remotes exist
                    remotes = ", ".join(sorted(remote_mod.configured_remotes(store))) or "none"
                    raise RemoteError(
                        f"{word!r} is neither a run here nor a configured remote (remotes: "
                        f"{remotes}); run `gitml ls` to see the runs, `git remote -v` the remotes"
                    ) from None
                raise
        if experiment:
            run_ids += [s["run_id"] for s in runs.list_summaries(store, experiment=list(experiment),
                                                                include_deleted=True)]  # fmt: skip
        if not run_ids:
            click.echo(f"no runs in experiment {', '.join(experiment)}: nothing to push")
            return
    show = _progress(progress)
    report = remote_mod.push(store, where, run_ids, force=force, progress=show)
    _finish(show)
    if not report.changes:
        click.echo(f"nothing to push: {report.remote} is up to date")
    else:
        runs_changed = report.runs
        others = len(report.changes) - len(runs_changed)
        parts = [f"{report.count('new')} new", f"{report.count('updated')} updated"]
        extra = f" and {others} model ref(s)" if others else ""
        click.echo(f"pushed {len(runs_changed)} run(s){extra} to {report.remote} ({', '.join(parts)})"
                   + (f": {_names(runs_changed, store)}" if runs_changed else ""))  # fmt: skip
        if report.lfs_objects:
            click.echo(f"uploaded {report.lfs_objects} LFS object(s), {report.lfs_bytes} bytes")
    _skipped(store, report.skipped)


def _pull_like(lfs: bool) -> Callable[..., None]:
    def command(args: tuple[str, ...], all_: bool, force: bool, progress: bool | None) -> None:
        from .. import remote as remote_mod
        from ..errors import RemoteError, RunNotFound

        store = Store.discover()
        where, words = _split(store, args)
        if all_ and words:
            raise click.UsageError("--all cannot be combined with RUN names")
        show = _progress(progress)
        fn = remote_mod.pull if lfs else remote_mod.fetch
        try:
            report = fn(store, where, words or None, force=force, progress=show)
        except RunNotFound as exc:
            if where is None and repr(words[0]) in str(exc):  # meant as a remote, maybe
                remotes = ", ".join(sorted(remote_mod.configured_remotes(store))) or "none"
                raise RemoteError(
                    f"{words[0]!r} is neither a configured remote (remotes: {remotes}) nor a "
                    "run of origin; run `gitml ls --remote origin` to see its runs"
                ) from None
            raise
        _finish(show)
        verb = "pulled" if lfs else "fetched"
        if not report.changes:
            click.echo(f"nothing new from {report.remote}")
        else:
            runs_changed = report.runs
            others = len(report.changes) - len(runs_changed)
            extra = f" and {others} model ref(s)" if others else ""
            click.echo(f"{verb} {len(runs_changed)} run(s){extra} from {report.remote} "
                       f"({report.count('new')} new, {report.count('updated')} updated)"
                       + (f": {_names(runs_changed, store)}" if runs_changed else ""))  # fmt: skip
        if report.lfs_objects:
            click.echo(f"downloaded {report.lfs_objects} LFS object(s), {report.lfs_bytes} bytes")
        _skipped(store, report.skipped)

    return command


_args = click.argument("args", nargs=-1, metavar="[REMOTE] [RUN]...")
_force = click.option("--force", is_flag=True, help="Take the remote's version of diverged runs.")
_all = click.option("--all", "-A", "all_", is_flag=True,
                    help="Every run and model ref of the remote (the default; -A as in DVC).")  # fmt: skip

pull = click.command(
    "pull",
    help="Bring runs (all, or the named RUNs: ids, prefixes or names of the remote's runs) "
    "from a git remote (default origin), with their LFS artifacts.",
)(_args(_all(_force(_progress_option(_pull_like(lfs=True))))))

fetch = click.command(
    "fetch",
    help="Like pull, but git refs and objects only: LFS artifacts stay on the remote "
    "until `gitml pull`.",
)(_args(_all(_force(_progress_option(_pull_like(lfs=False))))))
