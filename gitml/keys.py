"""Validation of keys (params, metrics, tags), run names, run ids and artifact paths."""

from __future__ import annotations

import re

from .errors import ArtifactError, InvalidKey

MAX_KEY_LENGTH = 250
_KEY_CHARS = re.compile(r"^[A-Za-z0-9_\-. /]+$")
RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_HEX = re.compile(r"^[0-9a-f]+$")


def validate_key(key: object, kind: str = "key") -> str:
    """Return ``key`` if it is a valid param/metric/tag key, else raise InvalidKey.

    Keys use letters, digits, ``_ - . / space``, at most 250 characters, with no
    empty, ``.`` or ``..`` path segment and no leading ``/``.
    """
    if key.__class__ is str and key in _VALID:  # the hot path: a metric logged each step
        return key
    if not isinstance(key, str):
        raise InvalidKey(f"invalid {kind} {key!r}: keys must be strings")
    problem = _key_problem(key)
    if problem:
        raise InvalidKey(f"invalid {kind} {key!r}: {problem}")
    if len(_VALID) < 100_000:
        _VALID.add(key)
    return key


_VALID: set[str] = set()  # keys already found valid (bounded)


def _key_problem(key: str) -> str | None:
    if not key:
        return "it is empty"
    if len(key) > MAX_KEY_LENGTH:
        return f"it has {len(key)} characters, at most {MAX_KEY_LENGTH} are allowed"
    if not _KEY_CHARS.match(key):
        bad = sorted({c for c in key if not _KEY_CHARS.match(c)})
        return f"character(s) {''.join(bad)!r} not allowed (use letters, digits, _ - . / space)"
    if key.startswith("/"):
        return "it starts with '/'"
    for segment in key.split("/"):
        if segment == "":
            return "it has an empty path segment ('//' or a trailing '/')"
        if segment in (".", ".."):
            return f"it has a {segment!r} path segment"
        if is_dotgit(segment):
            return f"it has a {segment!r} path segment (git refuses '.git' in a tree)"
        if segment.strip() == "":
            return "it has a blank path segment"
    return None


def is_dotgit(name: str) -> bool:
    """Whether git refuses ``name`` as a tree entry: ``.git`` in any case, also in the
    forms Windows file systems read as ``.git`` (trailing dots or spaces, ``git~1``)."""
    lower = name.lower()
    return lower.rstrip(". ") == ".git" or lower == "git~1"


def is_valid_key(key: object) -> bool:
    return isinstance(key, str) and _key_problem(key) is None


def validate_name(name: object) -> str:
    """A run name: any non-empty single line of at most 250 characters."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidKey(f"invalid run name {name!r}: it must be a non-empty string")
    if len(name) > MAX_KEY_LENGTH or "\n" in name or "\r" in name:
        raise InvalidKey(f"invalid run name {name!r}: one line of at most 250 characters")
    return name


def validate_experiment(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or "\n" in name or len(name) > 250:
        raise InvalidKey(f"invalid experiment name {name!r}: one non-empty line of at most 250 characters")
    return name


def is_run_id(text: str) -> bool:
    return bool(RUN_ID.match(text))


def is_hex_prefix(text: str) -> bool:
    return len(text) >= 4 and bool(_HEX.match(text))


def artifact_path(path: str | None) -> str:
    """Normalize an artifact destination folder/path; reject ones escaping their folder.

    Returns '' for the root, else a clean relative POSIX path without leading/trailing '/'.
    """
    if path is None or path in ("", "."):
        return ""
    if not isinstance(path, str):
        raise ArtifactError(f"invalid artifact path {path!r}: it must be a string")
    p = path.replace("\\", "/")
    if p.startswith("/"):
        raise ArtifactError(f"invalid artifact path {path!r}: it must be relative, not absolute")
    parts = [s for s in p.split("/") if s not in ("", ".")]
    if any(s == ".." for s in parts):
        raise ArtifactError(f"invalid artifact path {path!r}: '..' would escape the artifacts folder")
    dotgit = [s for s in parts if is_dotgit(s)]
    if dotgit:
        raise ArtifactError(f"invalid artifact path {path!r}: git refuses a {dotgit[0]!r} folder in a tree")
    if any("\0" in s for s in parts):
        raise ArtifactError(f"invalid artifact path {path!r}: NUL character")
    return "/".join(parts)
