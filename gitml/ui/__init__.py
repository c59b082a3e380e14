"""A local, read-only web app over a repository's runs (``gitml ui``): JSON API and pages."""

from __future__ import annotations

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
