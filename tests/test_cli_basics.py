"""The ``gitml`` command's basics: --version, init, show, errors, help text of every command."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import GitRepo

import gitml
from gitml.cli import COMMANDS, cli

GITML = shutil.which("gitml")


def invoke(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), prog_name="gitml")


def real(*args: str, cwd: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    assert GITML, "the gitml command is not installed"
    return subprocess.run([GITML, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def assert_clean_error(result: object, *words: str) -> None:
    """Exit 1, one line ``Error: ...`` naming the problem, no traceback."""
    code = getattr(result, "exit_code", None)
    if code is None:
        code = result.returncode  # type: ignore[attr-defined]
    stderr = result.stderr  # type: ignore[attr-defined]
    assert code == 1, (code, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr
    for word in words:
        assert word in lines[0]


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and result.output == f"gitml, version {gitml.__version__}\n"


def test_version_and_help_of_the_installed_command(tmp_path: Path) -> None:
    start = time.monotonic()
    out = real("--version", cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == f"gitml, version {gitml.__version__}"
    out = real("--help", cwd=tmp_path)
    assert out.returncode == 0 and "init" in out.stdout and "show" in out.stdout
    assert time.monotonic() - start < 5


def test_init_writes_nothing_to_commit(repo: GitRepo) -> None:
    before = repo.git("status", "--porcelain", "--ignored")
    result = invoke("init")
    assert result.exit_code == 0, result.output
    assert "gitml is ready in" in result.output and "0 so far" in result.output
    assert repo.git("status", "--porcelain", "--ignored") == before
    assert repo.run_refs() == {}


def test_init_counts_runs(repo: GitRepo) -> None:
    for _ in range(2):
        gitml.Client().create_run()
    assert "(2 so far)" in invoke("init").output


def test_show_a_run(repo: GitRepo) -> None:
    (repo / "plot.png").write_bytes(b"png")
    with gitml.start_run(name="shown", experiment="exp", params={"lr": 0.01},
                         tags={"team": "vision"}) as run:  # fmt: skip
        gitml.log_metric("loss", 0.5, step=3)
        gitml.log_artifact("plot.png")
    rid = run.info.run_id
    for handle in ("shown", rid, rid[:6]):
        result = invoke("show", handle)
        assert result.exit_code == 0, result.output
        text = result.output
        assert text.startswith(f"run {rid}  shown\n")
        for needle in ("experiment  exp", "status      FINISHED", "lr", "0.01", "loss", "team",
                       "vision", "plot.png", repo.head()[:12], "dirty", "main"):  # fmt: skip
            assert needle in text, needle
    data = json.loads(invoke("show", "shown", "--format", "json").output)
    assert data["params"] == {"lr": 0.01} and data["metrics"]["loss"]["step"] == 3
    assert data["artifacts"] == [{"path": "plot.png", "size": 3, "lfs": False}]
    assert "status: FINISHED" in invoke("show", "shown", "--format", "yaml").output


def test_show_a_run_on_an_unborn_branch(empty_repo: GitRepo) -> None:
    with gitml.start_run(name="first"):
        pass
    text = invoke("show", "first").output
    assert "baseline    none (unborn branch)\n" in text


def test_show_through_the_installed_command(repo: GitRepo) -> None:
    with gitml.start_run(name="subproc") as run:
        gitml.log_param("p", 1)
    out = real("show", "subproc", cwd=repo.path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"run {run.info.run_id}  subproc")
    out = real("show", "nosuchrun", cwd=repo.path)
    assert_clean_error(out, "'nosuchrun'", "gitml ls")


def test_show_unknown_and_ambiguous_runs(repo: GitRepo) -> None:
    for _ in range(2):
        gitml.Client().create_run(run_name="twin")
    before = repo.run_refs()
    assert_clean_error(invoke("show", "nosuchrun"), "no run matches 'nosuchrun'", "gitml ls")
    result = invoke("show", "twin")
    assert_clean_error(result, "'twin' matches 2 runs")
    for rid in before:
        assert rid[:8] in result.stderr
    assert_clean_error(invoke("show", "abc"), "at least 4")
    assert repo.run_refs() == before


def test_outside_a_repository(not_a_repo: Path) -> None:
    for args in (["init"], ["show", "x"]):
        assert_clean_error(invoke(*args), "not a git repository", "git init")
    assert_clean_error(real("show", "x", cwd=not_a_repo), "not a git repository", "git init")
    assert not (not_a_repo / ".git").exists()


def test_usage_errors_exit_2(repo: GitRepo) -> None:
    assert invoke("show").exit_code == 2
    assert invoke("show", "x", "--format", "xml").exit_code == 2
    assert invoke("no-such-command").exit_code == 2


def _commands() -> list[tuple[str, click.Command]]:
    found = []
    for name, target in sorted(COMMANDS.items()):
        module, attr = target.split(":")
        if importlib.util.find_spec(f"gitml.cli.{module}") is None:
            continue  # not written yet
        found.append((name, getattr(importlib.import_module(f"gitml.cli.{module}"), attr)))
    return found


@pytest.mark.parametrize("name, command", _commands(), ids=[n for n, _ in _commands()])
def test_every_command_has_help_text(name: str, command: click.Command) -> None:
    def walk(path: list[str], cmd: click.Command) -> None:
        assert (cmd.help or "").strip(), f"`gitml {' '.join(path)}` has no help text"
        result = invoke(*path, "--help")
        assert result.exit_code == 0, result.output
        assert f"Usage: gitml {' '.join(path)}" in result.output
        if isinstance(cmd, click.Group):
            for sub_name, sub in cmd.commands.items():
                walk([*path, sub_name], sub)
        for param in cmd.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"option {param.opts} of `gitml {' '.join(path)}` has no help"

    walk([name], command)
