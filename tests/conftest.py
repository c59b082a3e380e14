"""Shared fixtures: real git repositories in tmp_path, git helpers, a clean tracking state."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

IDENTITY = {
    "GIT_AUTHOR_NAME": "Ada Tester",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Tester",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}
GITML_ENV = (
    "GITML_RUN_ID", "GITML_DIR", "GITML_EXPERIMENT", "GITML_PARAMS", "GITML_LFS_THRESHOLD",
    "GITML_CHECKPOINT_INTERVAL", "GITML_SNAPSHOT_MAX_FILE",
)  # fmt: skip


def git(*args: str, cwd: str | os.PathLike[str] | None = None, check: bool = True) -> str:
    """Run real ``git`` (in ``cwd``, default the current directory) and return its stdout."""
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and out.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({out.returncode}):\n{out.stderr}")
    return out.stdout


def fsck(cwd: str | os.PathLike[str] | None = None) -> None:
    """Assert that ``git fsck --strict`` finds nothing wrong (dangling objects are fine)."""
    out = subprocess.run(
        ["git", "fsck", "--strict", "--no-progress"], cwd=cwd, capture_output=True, text=True
    )
    problems = [
        line for line in (out.stdout + out.stderr).splitlines()
        if line and not line.startswith(("dangling ", "Checking", "notice:"))
    ]  # fmt: skip
    assert out.returncode == 0 and not problems, f"git fsck --strict:\n{out.stdout}{out.stderr}"


def run_refs(cwd: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """``git for-each-ref refs/gitml/runs`` as {run id: commit id}."""
    text = git("for-each-ref", "--format=%(objectname) %(refname)", "refs/gitml/runs", cwd=cwd)
    refs = {}
    for line in text.splitlines():
        sha, name = line.split(" ", 1)
        refs[name.rsplit("/", 1)[1]] = sha
    return refs


class GitRepo:
    """A git repository in a temporary folder (the current directory during the test)."""

    def __init__(self, path: Path):
        self.path = path

    def __fspath__(self) -> str:
        return str(self.path)

    def __truediv__(self, other: str) -> Path:
        return self.path / other

    def git(self, *args: str, check: bool = True) -> str:
        return git(*args, cwd=self.path, check=check)

    def fsck(self) -> None:
        fsck(self.path)

    def run_refs(self) -> dict[str, str]:
        return run_refs(self.path)

    def write_files(self, files: dict[str, str | bytes]) -> None:
        for name, content in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)

    def commit_files(self, files: dict[str, str | bytes], message: str = "update") -> str:
        """Write ``files`` (path → content), ``git add`` and commit them; returns the commit id."""
        self.write_files(files)
        self.git("add", "--", *files)
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()


def _init(path: Path) -> GitRepo:
    path.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "-b", "main", cwd=path)
    return GitRepo(path)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Git identity, no global git config, no GITML_* variables leaking into a test."""
    for key, value in IDENTITY.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig-global"))
    for key in GITML_ENV:
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(autouse=True)
def _tracking_state() -> Iterator[None]:
    """End runs a test left open and forget the last run, so tests stay independent."""
    yield
    tracking = sys.modules.get("gitml.tracking")
    if tracking is None:
        return
    while tracking.active_run() is not None:
        try:
            tracking.end_run("KILLED")
        except Exception:  # noqa: BLE001 - its repository may be gone already
            tracking._stack.set(tracking._stack.get()[:-1])
    tracking._open.clear()
    tracking._last.set(None)
    tracking._experiment.set(None)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """A git repository with one commit (``README.md``); the test runs inside it."""
    r = _init(tmp_path / "repo")
    r.commit_files({"README.md": "# project\n"}, message="initial commit")
    monkeypatch.chdir(r.path)
    return r


@pytest.fixture
def empty_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """A freshly initialized repository on an unborn branch (no commits yet)."""
    r = _init(tmp_path / "empty")
    monkeypatch.chdir(r.path)
    return r


@pytest.fixture
def not_a_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder outside any git repository (the test runs inside it)."""
    path = tmp_path / "plain"
    path.mkdir()
    monkeypatch.chdir(path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    return path


def start(
    name: str, experiment: str = "mnist", metrics: dict[str, float] | None = None, **kw: Any
) -> str:
    """Record a finished run named ``name`` (extra keywords go to ``gitml.start_run``).

    Runs started by consecutive calls get distinct start times (milliseconds), so the
    newest-first order the tests expect is never a tie.
    """
    import time

    import gitml

    time.sleep(0.002)
    with gitml.start_run(experiment=experiment, run_name=name, **kw) as active:
        for key, value in (metrics or {}).items():
            gitml.log_metric(key, value)
    return active.run_id


def run_python(code: str, cwd: str | os.PathLike[str], env: dict[str, str] | None = None,
               timeout: float = 30, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter (the test's environment plus ``env``)."""
    full = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=timeout, **kwargs)  # type: ignore[call-overload]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI (``CI=true``) a skipped test is a failure: .ci/run installs every server,
    browser and optional package the tests need, so a skip there means a missing install step."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where everything the tests need is installed: {reason}"
