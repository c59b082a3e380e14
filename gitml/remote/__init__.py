"""Sharing runs through any git remote: push, pull, fetch, listing and removal there."""

from __future__ import annotations

from .sync import Change, Report, delete_remote_runs, fetch, list_remote_runs, pull, push
from .transport import Remote, configured_remotes, resolve_remote

__all__ = [
    "Change",
    "Remote",
    "Report",
    "configured_remotes",
    "delete_remote_runs",
    "fetch",
    "list_remote_runs",
    "pull",
    "push",
    "resolve_remote",
]
