"""``gitml ui``: browse, compare and plot the repository's runs in a browser."""

from __future__ import annotations

from typing import Any

import click


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: the whole network sees your runs).")  # fmt: skip
@click.option("--port", "-p", default=5000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on (0: any free port).")  # fmt: skip
def ui(host: str, port: int) -> None:
    """Serve a read-only web app over this repository's runs until Ctrl-C or SIGTERM.

    Runs table (filter in `gitml ls`'s grammar, sorting, column chooser, live status),
    run pages (params, metric charts, artifacts, models, output log, code diff) and a
    compare page (side by side, overlaid metric curves, code diff). Prints the URL.
    """
    from ..store import Store
    from ..ui.server import serve

    store = Store.discover()

    def ready(server: Any) -> None:
        click.echo(f"gitml ui: {server.url}", nl=True)
        click.echo(f"  runs of {store.root or store.gitdir}; Ctrl-C or SIGTERM stops", err=True)
        if not server.loopback:
            click.echo(f"  warning: listening on {host}: anyone who reaches this machine can read "
                       "your runs", err=True)  # fmt: skip

    serve(store, host=host, port=port, ready=ready)
