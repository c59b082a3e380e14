"""HTTP credentials: from the URL, ``GITML_USERNAME``/``GITML_PASSWORD``, or git's helpers.

When ``git`` is installed, ``git credential fill`` asks the user's credential helpers
(after a first anonymous 401), ``approve`` stores what worked and ``reject`` forgets
what the server refused, exactly as ``git`` itself does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from urllib.parse import unquote, urlsplit, urlunsplit


class Credentials:
    """User name and password for one http(s) URL, and where they came from."""

    def __init__(self, url: str, gitdir: str | None = None):
        self.gitdir = gitdir
        parts = urlsplit(url)
        self.user: str | None = unquote(parts.username) if parts.username else None
        self.password: str | None = unquote(parts.password) if parts.password else None
        self.source = "url" if self.user is not None else None
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        self.clean_url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        if self.user is None and os.environ.get("GITML_USERNAME") is not None:
            self.user = os.environ["GITML_USERNAME"]
            self.password = os.environ.get("GITML_PASSWORD", "")
            self.source = "env"

    @classmethod
    def for_url(cls, url: str, gitdir: str | None = None) -> Credentials:
        """Credentials for ``url``; ``gitdir`` is the repository whose config names helpers."""
        return cls(url, gitdir)

    def get(self) -> tuple[str | None, str | None]:
        return self.user, self.password

    def fill(self) -> bool:
        """Ask git's credential helpers (once); True when they gave something new to try."""
        if self.source in ("url", "env", "helper") or not shutil.which("git"):
            return False
        got = _credential("fill", {"url": self.clean_url}, self.gitdir)
        if not got or "username" not in got:
            return False
        self.user, self.password = got["username"], got.get("password", "")
        self.source = "helper"
        return True

    def approve(self) -> None:
        if self.source == "helper":
            _credential("approve", self._fields(), self.gitdir)

    def reject(self) -> None:
        if self.source == "helper":
            _credential("reject", self._fields(), self.gitdir)

    def _fields(self) -> dict[str, str]:
        return {"url": self.clean_url, "username": self.user or "", "password": self.password or ""}


def _credential(action: str, fields: dict[str, str], gitdir: str | None) -> dict[str, str] | None:
    text = "".join(f"{k}={v}\n" for k, v in fields.items()) + "\n"
    env = dict(os.environ)
    env.setdefault("GIT_TERMINAL_PROMPT", "1" if sys.stdin.isatty() else "0")
    try:
        where = [f"--git-dir={gitdir}"] if gitdir else []
        p = subprocess.run(["git", *where, "credential", action], input=text, capture_output=True,
                           text=True, env=env, timeout=120)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    if p.returncode != 0:
        return None
    out = {}
    for line in p.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key] = value
    return out
