"""Tests of ``gitml ls`` and the shared output formats (gitml.cli.ls, gitml.cli._formats)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import start

from gitml.cli import cli
from gitml.cli._formats import (
    cell,
    exact_cell,
    json_safe,
    to_csv,
    to_json,
    to_markdown,
    to_table,
    truncate,
)
from gitml.cli.ls import _duration_text, field_headers
from gitml.query import Field

# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with one commit, as the current directory."""
    git = ["git", "-C", str(tmp_path), "-c", "user.name=Ada", "-c", "user.email=ada@example.com"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "train.py").write_text("print('train')\n")
    subprocess.run([*git, "add", "train.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    return tmp_path


@pytest.fixture
def runs(repo: Path) -> dict[str, str]:
    return {
        "a": start("alpha", params={"lr": 0.01, "optim": "adam", "seed": 1}, metrics={"acc": 0.91},
                   tags={"team": "x"}),
        "b": start("beta", params={"lr": 0.1, "optim": "sgd", "seed": 1}, metrics={"acc": 0.8}),
        "c": start("gamma", experiment="cifar", params={"lr": 0.001, "optim": "adam", "seed": 1},
                   metrics={"acc": 0.95, "loss": 0.2}),
    }  # fmt: skip


def ls(*args: str) -> Result:
    result = CliRunner().invoke(cli, ["ls", *args], catch_exceptions=False)
    return result


def names_in(output: str) -> list[str]:
    """The run names of a table (second column), below the header and rule lines."""
    return [line.split()[1] for line in output.strip().splitlines()[2:]]


# --------------------------------------------------------------------------- table


def test_table_lists_runs_newest_first(runs: dict[str, str]) -> None:
    result = ls("--wide")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split()[:7] == [
        "id",
        "name",
        "experiment",
        "status",
        "start",
        "duration",
        "baseline",
    ]
    assert names_in(result.output) == ["gamma", "beta", "alpha"]
    assert lines[2].startswith(runs["c"][:8])
    assert "FINISHED" in lines[2]
    head = subprocess.run(
        ["git", "rev-parse", "--short=7", "HEAD"], capture_output=True, text=True
    ).stdout
    assert head.strip() in lines[2]


def test_table_has_one_column_per_param_and_metric(runs: dict[str, str]) -> None:
    header = ls("--wide").output.splitlines()[0].split()
    assert header[7:] == ["lr", "optim", "seed", "acc", "loss"]


def test_filter_sort_limit_and_experiment(runs: dict[str, str]) -> None:
    assert names_in(ls("--filter", "params.optim = 'adam'").output) == ["gamma", "alpha"]
    assert names_in(ls("--sort", "metrics.acc").output) == ["beta", "alpha", "gamma"]
    assert names_in(ls("--sort", "metrics.acc DESC").output) == ["gamma", "alpha", "beta"]
    assert names_in(ls("--sort=-metrics.acc").output) == ["gamma", "alpha", "beta"]
    assert names_in(ls("--sort", "-metrics.acc").output) == ["gamma", "alpha", "beta"]
    assert names_in(ls("--sort", "experiment", "--sort", "-params.lr").output) == [
        "gamma",
        "beta",
        "alpha",
    ]
    assert names_in(ls("--sort", "metrics.acc", "--limit", "1").output) == ["beta"]
    assert names_in(ls("-e", "mnist").output) == ["beta", "alpha"]
    assert names_in(ls("-e", "mnist", "-e", "cifar").output) == ["gamma", "beta", "alpha"]
    assert names_in(ls("--experiment", "cifar", "--filter", "metrics.loss IS NOT NULL").output) == [
        "gamma"
    ]


def test_runs_named_on_the_command_line(runs: dict[str, str]) -> None:
    assert names_in(ls("alpha", runs["c"][:6]).output) == ["gamma", "alpha"]
    result = CliRunner().invoke(cli, ["ls", "nosuch"])
    assert result.exit_code == 1
    assert "Error: no run matches 'nosuch'" in result.output


def test_columns_globs_choose_and_order_columns(runs: dict[str, str]) -> None:
    header = ls("--columns", "metrics.*", "--wide").output.splitlines()[0].split()
    assert header[7:] == ["acc", "loss"]
    header = ls("--columns", "acc,lr", "--wide").output.splitlines()[0].split()
    assert header[7:] == ["acc", "lr"]
    header = (
        ls("--columns", "tags.*", "--columns", "optim", "--wide").output.splitlines()[0].split()
    )
    assert header[7:] == ["team", "optim"]


def test_only_changed_hides_equal_columns(runs: dict[str, str]) -> None:
    header = ls("--only-changed", "--wide").output.splitlines()[0].split()
    assert header[7:] == ["lr", "optim", "acc", "loss"]  # seed is 1 everywhere
    header = ls("--only-changed", "--wide", "-e", "mnist").output.splitlines()[0].split()
    assert header[7:] == ["lr", "optim", "acc"]


def test_deleted_runs_need_all(runs: dict[str, str], repo: Path) -> None:
    from gitml import runs as run_module
    from gitml import store

    run_module.set_lifecycle(store.Store.discover(str(repo)), runs["b"], "deleted")
    assert names_in(ls().output) == ["gamma", "alpha"]
    output = ls("--all", "--wide").output
    assert names_in(output) == ["gamma", "beta", "alpha"]
    assert output.splitlines()[0].split()[7] == "lifecycle"
    assert "deleted" in output.splitlines()[3]
    assert names_in(ls("beta").output) == ["beta"]  # named runs are listed even when deleted


def test_empty_repository_says_so(repo: Path) -> None:
    result = CliRunner().invoke(cli, ["ls"])
    assert result.exit_code == 0
    assert "No runs found" in result.output
    assert json.loads(ls("--format", "json").output) == {"schema": "gitml.ls/1", "runs": []}
    assert ls("--format", "csv").output.startswith("run_id,name,experiment,status")


def test_bad_filter_is_one_clear_line(runs: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["ls", "--filter", "metrics.acc >"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: invalid filter at column 14: expected a value after '>', found the end "
        '(at the end of "metrics.acc >")'
    )
    result = CliRunner().invoke(cli, ["ls", "--sort", "metrics.acc sideways"])
    assert result.exit_code == 1 and result.output.startswith(
        "Error: invalid --sort at column 13: expected ASC or DESC"
    )
    result = CliRunner().invoke(cli, ["ls", "--format", "xml"])
    assert result.exit_code == 2


def test_stale_running_runs_are_marked(repo: Path) -> None:
    start("done")
    code = (
        "import gitml, os, signal, time\n"
        "gitml.start_run(run_name='crashed', params={'lr': 1})\n"
        "import subprocess\n"
        "def refs():\n"
        "    out = subprocess.run(['git', 'for-each-ref', 'refs/gitml/runs'],\n"
        "                         capture_output=True, text=True).stdout\n"
        "    return len(out.splitlines())\n"
        "while refs() < 2:\n"
        "    time.sleep(0.05)  # until its first write is on its ref\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=repo)
    result = CliRunner().invoke(cli, ["ls"])
    row = next(line for line in result.output.splitlines() if "crashed" in line)
    assert "RUNNING?" in row
    assert "its process is gone" in result.output
    record = json.loads(ls("--format", "json", "crashed").output)["runs"][0]
    assert record["status"] == "RUNNING" and record["stale"] is True


def test_dirty_baseline_is_marked(repo: Path) -> None:
    (repo / "train.py").write_text("print('changed')\n")
    start("dirty-run")
    row = ls().output.splitlines()[2]
    sha = subprocess.run(
        ["git", "rev-parse", "--short=7", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert f"{sha}*" in row


# --------------------------------------------------------------------------- width


def test_wide_tables_fit_80_columns(repo: Path) -> None:
    params = {f"parameter_{i}": f"value-{i}-" + "x" * 10 for i in range(10)}
    start("a-rather-long-run-name-for-the-table", experiment="an-experiment-name", params=params,
          metrics={f"metric_{i}": i / 3 for i in range(5)})  # fmt: skip
    output = ls().output
    assert all(len(line) <= 80 for line in output.splitlines()), output
    assert "…" in output
    wide = ls("--wide").output
    assert max(len(line) for line in wide.splitlines()) > 200
    assert "…" not in wide
    assert "a-rather-long-run-name-for-the-table" in wide


def test_narrow_terminal_keeps_lines_within_width(
    runs: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for width in (40, 60, 100):
        monkeypatch.setenv("COLUMNS", str(width))
        output = ls().output
        assert all(len(line) <= width for line in output.splitlines()), (width, output)


# --------------------------------------------------------------------------- formats


def test_csv_format(runs: dict[str, str]) -> None:
    rows = list(csv.DictReader(io.StringIO(ls("--format", "csv").output)))
    assert [r["name"] for r in rows] == ["gamma", "beta", "alpha"]
    assert rows[0]["run_id"] == runs["c"]
    assert rows[0]["params.lr"] == "0.001" and rows[0]["metrics.loss"] == "0.2"
    assert rows[1]["metrics.loss"] == ""
    assert rows[0]["dirty"] == "false" and rows[0]["stale"] == "false"
    assert rows[0]["start_time"].endswith("Z")
    assert float(rows[0]["duration"]) >= 0


def test_markdown_format(runs: dict[str, str]) -> None:
    lines = ls("--format", "md").output.strip().splitlines()
    assert lines[0].startswith("| id | name | experiment | status |")
    assert lines[1].startswith("|---|")
    assert len(lines) == 5 and all(
        line.startswith("| ") and line.endswith(" |") for line in lines[2:]
    )


def test_json_format_schema(runs: dict[str, str]) -> None:
    document = json.loads(ls("--format", "json").output)
    assert document["schema"] == "gitml.ls/1"
    first = document["runs"][0]
    assert list(first) == [
        "run_id", "name", "experiment", "status", "stale", "lifecycle", "start_time",
        "end_time", "duration", "user", "baseline", "params", "metrics", "tags",
    ]  # fmt: skip
    assert first["run_id"] == runs["c"] and first["name"] == "gamma"
    assert first["params"] == {"lr": 0.001, "optim": "adam", "seed": 1}
    assert first["metrics"]["acc"]["last"] == 0.95
    assert set(first["metrics"]["acc"]) >= {"last", "step", "timestamp", "min", "max", "count"}
    assert first["baseline"]["dirty"] is False and len(first["baseline"]["commit"]) == 40
    assert document["runs"][2]["tags"] == {}  # tags only when --columns selects them
    with_tags = json.loads(ls("--format", "json", "--columns", "tags.*,acc").output)
    assert with_tags["runs"][2]["tags"] == {"team": "x"}
    assert with_tags["runs"][2]["params"] == {}


def test_json_spells_nan_as_text(repo: Path) -> None:
    start("nan-run", metrics={"loss": float("nan")})
    document = json.loads(ls("--format", "json").output)
    assert document["runs"][0]["metrics"]["loss"]["last"] == "nan"


def test_installed_entry_point(runs: dict[str, str], repo: Path) -> None:
    gitml = shutil.which("gitml")
    if gitml is None:
        pytest.skip("the gitml entry point is not installed")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([gitml, "ls", "--format", "json", "--sort", "-metrics.acc"], cwd=repo,
                         capture_output=True, text=True, env=env, check=True)  # fmt: skip
    assert [r["name"] for r in json.loads(out.stdout)["runs"]] == ["gamma", "alpha", "beta"]
    bad = subprocess.run([gitml, "ls", "--filter", "params.x ="], cwd=repo, capture_output=True,
                         text=True, env=env)  # fmt: skip
    assert bad.returncode == 1 and bad.stderr.startswith("Error: invalid filter at column 11")


def test_help_documents_every_option() -> None:
    result = CliRunner().invoke(cli, ["ls", "--help"])
    assert result.exit_code == 0
    for option in ("--experiment", "--filter", "--sort", "--limit", "--columns", "--only-changed",
                   "--format", "--all", "--wide"):  # fmt: skip
        assert option in result.output
    docs = Path(__file__).resolve().parents[1] / "docs" / "query.md"
    text = docs.read_text()
    for option in ("--experiment", "--filter", "--sort", "--limit", "--columns", "--only-changed",
                   "--format", "--all", "--wide", "gitml.ls/1"):  # fmt: skip
        assert option in text, option


# --------------------------------------------------------------------------- helpers


def test_truncate() -> None:
    assert truncate("abcdef", 6) == "abcdef"
    assert truncate("abcdef", 4) == "abc…"
    assert truncate("abcdef", 1) == "…"
    assert truncate("abcdef", 0) == ""


def test_to_table_fits_and_cuts() -> None:
    headers = ["id", "name", "a", "b", "c"]
    rows = [["1234", "a-long-name-here", "x" * 20, "y" * 20, "z"]]
    assert (
        to_table(headers, rows).splitlines()[2]
        == "1234  a-long-name-here  " + "x" * 20 + "  " + "y" * 20 + "  z"
    )
    fitted = to_table(headers, rows, width=40, min_widths=[4, 6, 6, 6, 1])
    assert all(len(line) <= 40 for line in fitted.splitlines())
    assert fitted.splitlines()[2].startswith("1234 a-long")
    narrow = to_table(headers, rows, width=20, min_widths=[4, 6, 6, 6, 1])
    assert narrow.splitlines()[0].split() == ["id", "name", "a", "…"]
    assert narrow.splitlines()[2] == "1234 a-lon… xxxxx… …"
    assert all(len(line) <= 20 for line in narrow.splitlines())


def test_csv_and_markdown_escaping() -> None:
    assert to_csv(["a", "b"], [["x,y", 'say "hi"']]) == 'a,b\n"x,y","say ""hi"""'
    assert to_markdown(["a"], [["x|y"]]).splitlines()[2] == "| x\\|y |"


def test_cells() -> None:
    assert cell(None) == "-" and exact_cell(None) == ""
    assert cell(True) == "true" and exact_cell(False) == "false"
    assert cell(0.123456789) == "0.123457" and exact_cell(0.123456789) == "0.123456789"
    assert cell(float("nan")) == "nan" and exact_cell(float("inf")) == "inf"
    assert cell([1, 2]) == "[1, 2]" and cell("a\nb") == "a b"
    assert json_safe({"x": [float("-inf"), 1.5]}) == {"x": ["-inf", 1.5]}
    assert json.loads(to_json({"v": float("nan")})) == {"v": "nan"}


def test_duration_text() -> None:
    assert [_duration_text(s) for s in (None, 0.42, 12.4, 184, 7500, 3 * 86400 + 4 * 3600)] == [
        "-", "0.4s", "12s", "3m04s", "2h05m", "3d04h",
    ]  # fmt: skip


def test_field_headers_prefix_only_ambiguous_keys() -> None:
    fields = [Field("params", "lr"), Field("params", "acc"), Field("metrics", "acc")]
    assert field_headers(fields) == ["lr", "params.acc", "metrics.acc"]


def test_listing_is_the_same_without_or_with_a_broken_cache(
    runs: dict[str, str], repo: Path
) -> None:
    expected = json.loads(ls("--format", "json").output)
    cache = repo / ".git" / "gitml" / "index.json"
    assert cache.exists()
    cache.unlink()
    assert json.loads(ls("--format", "json").output) == expected
    cache.write_text('{"format": 1, "runs": {"not": "json')
    assert json.loads(ls("--format", "json").output) == expected
    cache.write_text("[]")
    assert json.loads(ls("--format", "json").output) == expected


def test_listing_sees_runs_added_and_changed_since_the_cache(
    runs: dict[str, str], repo: Path
) -> None:
    from gitml import runs as run_module
    from gitml import store

    assert len(json.loads(ls("--format", "json").output)["runs"]) == 3
    start("delta", metrics={"acc": 0.99})
    run_module.rename(store.Store.discover(str(repo)), runs["a"], "alpha-2")
    listed = json.loads(ls("--format", "json", "--sort", "-metrics.acc").output)["runs"]
    assert [r["name"] for r in listed] == ["delta", "gamma", "alpha-2", "beta"]


def test_numbers_are_never_cut() -> None:
    from gitml.cli.ls import BASE_MIN_WIDTHS, min_widths

    headers = ["x"] * len(BASE_MIN_WIDTHS) + ["lr", "optim", "huge"]
    row = ["x"] * len(BASE_MIN_WIDTHS) + ["0.0974132", "adam-with-warmup", "1.23457e+20"]
    other = ["x"] * len(BASE_MIN_WIDTHS) + ["-", "sgd", "nan"]
    assert min_widths(headers, [row, other])[-3:] == [9, 7, 11]
    assert min_widths(["x"] * len(BASE_MIN_WIDTHS) + ["net.depth"], [row[:-2]])[-1] == 9
    table = to_table(headers, [row, other], width=45, min_widths=min_widths(headers, [row, other]))
    assert "0.0974132" in table and "…" in table


def test_runs_of_a_remote(
    runs: dict[str, str], repo: Path, tmp_path_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    origin = tmp_path_factory.mktemp("origin") / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    subprocess.run(["git", "-C", str(repo), "push", "-q", str(origin), "refs/gitml/*:refs/gitml/*",
                    "HEAD:refs/heads/main"], check=True)  # fmt: skip
    clone = tmp_path_factory.mktemp("clone") / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    monkeypatch.chdir(clone)
    assert "No runs found" in CliRunner().invoke(cli, ["ls"]).output  # nothing became local
    output = ls(
        "--remote", "origin", "--filter", "metrics.acc > 0.85", "--sort", "metrics.acc"
    ).output
    assert names_in(output) == ["alpha", "gamma"]
    document = json.loads(ls("--remote", "origin", "--format", "json", "beta").output)
    assert [(r["name"], r["here"]) for r in document["runs"]] == [("beta", "absent")]
    assert names_in(ls("--remote", "origin", runs["c"][:6], "-e", "cifar").output) == ["gamma"]


def test_dvc_style_format_flags(runs: dict[str, str]) -> None:
    as_json = json.loads(CliRunner().invoke(cli, ["exp", "show", "--json"]).output)
    assert as_json == json.loads(ls("--format", "json").output)
    assert ls("--csv").output == ls("--format", "csv").output
    assert ls("--md").output == ls("--format", "md").output
    result = CliRunner().invoke(cli, ["ls", "--yaml"])
    assert result.exit_code == 2 and "No such option" in result.output and "--yaml" in result.output
