"""The README and docs/: the Python example runs, and every command is documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from gitml.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = "\n".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))


def _commands() -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    ctx = click.Context(cli)
    for name in sorted(COMMANDS):
        cmd = cli.get_command(ctx, name)
        if cmd is None:
            continue
        out.append((name,))
        if isinstance(cmd, click.Group):
            out.extend((name, sub) for sub in cmd.list_commands(ctx))
    return out


def test_every_command_is_registered() -> None:
    assert len(_commands()) >= len(COMMANDS), "a command listed in gitml.cli.COMMANDS is missing"


@pytest.mark.parametrize("path", _commands(), ids=" ".join)
def test_every_command_is_documented(path: tuple[str, ...]) -> None:
    text = "gitml " + " ".join(path)
    assert re.search(rf"{re.escape(text)}\b", DOCS), f"`{text}` is not shown anywhere in docs/"


def test_readme_python_example_runs(repo: object, tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert blocks, "README.md has no Python example"
    for code in blocks:
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                timeout=60)  # fmt: skip
        assert result.returncode == 0, result.stderr
    assert "0.93" in result.stdout
    refs = subprocess.run(["git", "for-each-ref", "refs/gitml/runs"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    assert len(refs.splitlines()) == 1


def test_readme_opens_with_the_two_commands() -> None:
    head = (ROOT / "README.md").read_text()[:2500]
    assert "pip install -e '.[sklearn]' && bash examples/quickstart.sh" in head
    assert "pip install -e '.[test]' && pytest" in head
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -e '.[test]' && pytest" in ci


def test_quickstart_script_runs(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    result = subprocess.run(["bash", str(ROOT / "examples" / "quickstart.sh")], capture_output=True,
                            text=True, timeout=300, env={**__import__("os").environ, "TMPDIR": str(tmp_path)})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "gitml diff slow fast" in result.stdout
    assert re.search(r"lr\s+0\.001\s+0\.1\s+changed", result.stdout), result.stdout
    assert len(re.findall(r"refs/gitml/runs/[0-9a-f]{32}", result.stdout)) == 2
