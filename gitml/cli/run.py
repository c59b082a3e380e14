"""``gitml run``: record any command as a run."""

from __future__ import annotations

import os
import signal
import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ..launch import LaunchResult, LaunchSpec


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option(
    "-n", "--name", default=None, help="Name of the run (default: a generated adjective-noun-N)."
)
@click.option("-e", "--experiment", default=None,
              help="Experiment of the run (default: $GITML_EXPERIMENT or Default).")  # fmt: skip
@click.option("-p", "--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A parameter (repeatable); VALUE is read as a YAML scalar (0.01 is a float). "
                   "Overrides the params file; substituted into {KEY} in the command.")  # fmt: skip
@click.option("--params-file", default=None, metavar="FILE",
              help="YAML, JSON or TOML file of parameters (default: params.yaml at the repository "
                   "root when present).")  # fmt: skip
@click.option("--metrics-file", "metrics_files", multiple=True, metavar="FILE",
              help="YAML/JSON/TOML file of metrics the command writes (repeatable; default: "
                   "metrics.yaml/metrics.json at the root when the command creates or changes "
                   "them).")  # fmt: skip
@click.option("--out", "outs", multiple=True, metavar="PATH",
              help="A file, folder or glob the command writes, stored as artifacts at the end "
                   "(repeatable; also for failed runs).")  # fmt: skip
@click.option(
    "--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag of the run (repeatable)."
)
@click.option("--grid", "grid", multiple=True, metavar="KEY=V1,V2,...",
              help="Run the command once per combination of these values (repeatable: the "
                   "grid of every axis), one run each, named NAME-1, NAME-2...")  # fmt: skip
@click.option("--no-code", is_flag=True, help="Do not record the snapshot of the workspace.")
@click.option("-q", "--quiet", is_flag=True,
              help="Do not copy the output to the terminal (it is still recorded).")  # fmt: skip
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def run(
    name: str | None,
    experiment: str | None,
    params: tuple[str, ...],
    params_file: str | None,
    metrics_files: tuple[str, ...],
    outs: tuple[str, ...],
    tags: tuple[str, ...],
    grid: tuple[str, ...],
    no_code: bool,
    quiet: bool,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND and record it as a run: code, params, output, metrics, outputs, exit code.

    \b
    Example:
      gitml run -n lr-sweep-1 -e mnist -p lr=0.01 -- python train.py --lr {lr}

    Exits with the command's exit code. Ctrl-C and SIGTERM are passed on to the command;
    the run is then KILLED. With --grid, each combination is a run of its own, one after
    the other; gitml exits 1 when any of them failed, and an interrupt stops the sweep.
    """
    from ..launch import LaunchSpec, launch
    from ..launch import grid as expand

    if not command:
        raise click.UsageError("missing COMMAND; use: gitml run [OPTIONS] -- COMMAND [ARGS]...")
    spec = LaunchSpec(
        argv=list(command),
        name=name,
        experiment=experiment,
        params=list(params),
        params_file=params_file,
        tags=list(tags),
        metrics_files=list(metrics_files),
        outs=list(outs),
        code=not no_code,
        quiet=quiet,
    )
    specs = expand(spec, list(grid)) if grid else [spec]
    results = []
    for one in specs:
        result = launch(one, message=lambda text: click.echo(text, err=True))
        results.append(result)
        how = f"exit {result.exit_code}"
        if result.signal is not None:
            how = f"{signal.Signals(result.signal).name} passed on, exit {result.exit_code}"
        click.echo(
            f"gitml: run {result.name} {result.status} ({how}, {_seconds(result.duration)}); "
            f"see `{result.show_hint}`",
            err=True,
        )
        if result.signal is not None:
            break  # an interrupt stops a sweep
    if grid:
        _sweep_summary(specs, results, len(grid))
        if result.signal is None:
            sys.exit(1 if any(r.exit_code for r in results) else 0)
    if result.signal is not None and _is_real_process():
        # die of the same signal, so a calling shell or script sees the interrupt
        sys.stdout.flush()
        signal.signal(result.signal, signal.SIG_DFL)
        os.kill(os.getpid(), result.signal)
    sys.exit(result.exit_code)


def _sweep_summary(specs: list[LaunchSpec], results: list[LaunchResult], axes: int) -> None:
    """The table of a --grid sweep: each run, its grid values, how it ended."""
    from tabulate import tabulate

    rows = []
    for one, result in zip(specs, results, strict=False):
        values = " ".join(one.params[-axes:])
        rows.append([result.name, values, result.status, result.exit_code])
    if len(results) < len(specs):
        rows += [["(not run)", " ".join(one.params[-axes:]), "", ""] for one in specs[len(results):]]
    click.echo(tabulate(rows, headers=["run", "grid", "status", "exit"], tablefmt="simple"),
               err=True)  # fmt: skip


def _seconds(duration: float) -> str:
    from ..show import format_duration

    return format_duration(duration) or "0.0s"


def _is_real_process() -> bool:
    """False under click's test runner, whose streams are not the process's own."""
    try:
        return sys.stdout.fileno() >= 0
    except (AttributeError, OSError, ValueError):
        return False
