"""Git hooks that carry runs along: ``pre-push`` pushes them, ``post-merge`` fetches them.

The scripts live in the top-level ``hooks/`` folder (shipped in the wheel as
``gitml/_hooks``). Installing respects ``core.hooksPath``, keeps a hook that is already
there by chaining to it (renamed ``<hook>.gitml-chained``), is idempotent, and
uninstalling puts back what was there.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import GitmlError
from .store import Store

MARKER = "# gitml-hook:"
CHAINED = ".gitml-chained"
HOOKS = {"pre-push": "pushes runs with every git push", "post-merge": "fetches runs after git pull"}


@dataclass
class Action:
    """What happened to one hook file."""

    hook: str
    path: str
    what: str  # installed, updated, unchanged, chained, removed, restored, absent


def hooks_dir(store: Store) -> Path:
    """Where git looks for hooks: ``core.hooksPath`` (relative to the work tree) or ``.git/hooks``."""
    configured = store.config_get("core", "hooksPath")
    if configured:
        path = Path(os.path.expanduser(configured))
        if not path.is_absolute():
            path = Path(store.root or store.gitdir) / path
        return path
    return Path(store.commondir) / "hooks"


def script(name: str) -> str:
    """The hook script ``name`` with this interpreter filled in."""
    here = Path(__file__).parent
    for candidate in (here / "_hooks" / name, here.parent / "hooks" / name):
        if candidate.is_file():
            return candidate.read_text().replace("@GITML_PYTHON@", sys.executable)
    raise GitmlError(
        f"the {name} hook script is missing from this gitml installation; reinstall gitml"
    )


def is_ours(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return MARKER in f.read(400)
    except OSError:
        return False


def install(store: Store, fetch: bool = False) -> list[Action]:
    """Put ``pre-push`` (and with ``fetch`` ``post-merge``) in place; chain existing hooks."""
    directory = hooks_dir(store)
    directory.mkdir(parents=True, exist_ok=True)
    store.gitml_dir  # noqa: B018 - marks the repository as gitml-enabled for the hooks
    actions = []
    for name in ["pre-push"] + (["post-merge"] if fetch else []):
        path = directory / name
        text = script(name)
        what = "installed"
        if path.exists() or path.is_symlink():
            if is_ours(path):
                if path.read_text() == text and os.access(path, os.X_OK):
                    actions.append(Action(name, str(path), "unchanged"))
                    continue
                what = "updated"
            else:
                chained = path.with_name(name + CHAINED)
                if chained.exists():
                    raise GitmlError(
                        f"{path} is not gitml's hook but {chained.name} exists too; "
                        "merge them by hand, then run `gitml hooks install` again"
                    )
                os.replace(path, chained)
                what = "chained"
        tmp = path.with_name(f".{name}.gitml-tmp")
        tmp.write_text(text)
        tmp.chmod(0o755)
        os.replace(tmp, path)
        actions.append(Action(name, str(path), what))
    return actions


def uninstall(store: Store) -> list[Action]:
    """Remove gitml's hooks and put chained hooks back where they were."""
    directory = hooks_dir(store)
    actions = []
    for name in HOOKS:
        path = directory / name
        chained = path.with_name(name + CHAINED)
        if not is_ours(path):
            actions.append(Action(name, str(path), "absent"))
            continue
        path.unlink()
        if chained.exists() or chained.is_symlink():
            os.replace(chained, path)
            actions.append(Action(name, str(path), "restored"))
        else:
            actions.append(Action(name, str(path), "removed"))
    return actions


def status(store: Store) -> list[Action]:
    directory = hooks_dir(store)
    out = []
    for name in HOOKS:
        path = directory / name
        chained = path.with_name(name + CHAINED).exists()
        what = ("installed (chained)" if chained else "installed") if is_ours(path) else "absent"
        out.append(Action(name, str(path), what))
    return out
