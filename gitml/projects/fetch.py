"""Project sources: a local folder, or a git URL fetched into a cache and checked out."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import ProjectError

_REMOTE = re.compile(r"^(https?|ssh|git|git\+ssh|git\+https|file)://|^[\w.-]+@[\w.-]+:")
_SHA = re.compile(r"^[0-9a-f]{4,40}$")


@dataclass
class Source:
    """Where a project comes from and the folder it runs in."""

    uri: str  # as given (credentials stripped), without the #subdir
    subdir: str  # "" or a relative folder
    directory: str  # the project folder on disk (checkout + subdir, or the local folder)
    commit: str | None = None  # the commit the code is at (None: not a git checkout)
    version: str | None = None  # --version as given
    remote: bool = False  # fetched into the cache (the folder is temporary)
    checkout: str | None = None  # the temporary checkout to remove after the run


def cache_dir() -> str:
    """``$GITML_CACHE_DIR`` or ``~/.cache/gitml`` (``$XDG_CACHE_HOME`` honoured)."""
    root = os.environ.get("GITML_CACHE_DIR")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "gitml")
    return root


def split_uri(uri: str) -> tuple[str, str]:
    """``url#subdir`` → (url, subdir); the subdir may not climb out of the project."""
    uri = uri.strip().strip("'\"")
    base, _, sub = uri.partition("#")
    sub = sub.strip("/")
    if sub and any(part in ("", ".", "..") for part in sub.split("/")):
        raise ProjectError(
            f"project subdirectory {sub!r} must be a plain relative path inside the project"
        )
    return base or ".", sub


def is_remote(uri: str) -> bool:
    """A git URL to fetch (https://, ssh://, git@host:path, file://) rather than a local folder."""
    return bool(_REMOTE.match(uri))


def _local_path(uri: str) -> str:
    if uri.startswith("file://"):
        parsed = urllib.parse.urlparse(uri)
        return urllib.parse.unquote(parsed.netloc + parsed.path)
    return os.path.expanduser(uri)


def resolve(uri: str, version: str | None = None) -> Source:
    """The project folder for ``uri`` at ``version`` (fetched and checked out when needed).

    A local folder runs in place; with ``--version`` (or given as ``file://``) a local git
    repository is fetched like any git URL, so the run uses exactly that commit.
    """
    base, sub = split_uri(uri)
    from ..store import strip_credentials

    shown = strip_credentials(base)
    if not is_remote(base) and version is None:
        folder = os.path.abspath(_local_path(base))
        if not os.path.isdir(folder):
            raise ProjectError(
                f"project {base!r} is neither a folder nor a git URL "
                "(https://, ssh://, file://, git@host:path)"
            )
        directory = os.path.join(folder, sub) if sub else folder
        if not os.path.isdir(directory):
            raise ProjectError(f"project subdirectory {sub!r} not found in {folder}")
        return Source(uri=shown, subdir=sub, directory=directory, commit=_head_of(folder))
    url = base
    if not is_remote(base):
        local = os.path.abspath(_local_path(base))
        if not os.path.isdir(local):
            raise ProjectError(f"project {base!r} is neither a folder nor a git URL")
        url = local
    mirror, fresh = _mirror(url)
    commit = _resolve_version(mirror, url, version, fetch=not fresh)
    checkout = _checkout(mirror, commit)
    directory = os.path.join(checkout, sub) if sub else checkout
    if not os.path.isdir(directory):
        shutil.rmtree(checkout, ignore_errors=True)
        raise ProjectError(f"project subdirectory {sub!r} not found in {shown} at {commit[:12]}")
    return Source(
        uri=shown,
        subdir=sub,
        directory=directory,
        commit=commit,
        version=version,
        remote=True,
        checkout=checkout,
    )


def cleanup(source: Source) -> None:
    """Remove the temporary checkout of a fetched project."""
    if source.checkout:
        shutil.rmtree(source.checkout, ignore_errors=True)


# ---------------------------------------------------------------- git
def _git(
    *args: str, cwd: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    if shutil.which("git") is None:
        raise ProjectError("running a project from a git URL needs the `git` command; install git")
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise _GitFailed(
            proc.stderr.strip().splitlines()[-1]
            if proc.stderr.strip()
            else f"exit {proc.returncode}"
        )
    return proc


class _GitFailed(Exception):
    pass


def _head_of(folder: str) -> str | None:
    """The HEAD commit of the git work tree containing ``folder``, if any."""
    try:
        return _git("rev-parse", "--verify", "-q", "HEAD", cwd=folder).stdout.strip() or None
    except (_GitFailed, ProjectError, OSError):
        return None


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    import fcntl

    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _mirror_path(url: str) -> str:
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    name = re.sub(r"[^\w.-]+", "_", url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git"))[:40]
    return os.path.join(cache_dir(), "projects", f"{name}-{digest}.git")


def _mirror(url: str) -> tuple[str, bool]:
    """A bare mirror of ``url`` in the cache (cloned once, fetched on later runs); and whether
    it was just cloned."""
    path = _mirror_path(url)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with _locked(path + ".lock"):
        if os.path.isdir(path):
            return path, False
        tmp = tempfile.mkdtemp(prefix=".clone-", dir=os.path.dirname(path))
        try:
            _git("clone", "--quiet", "--mirror", url, tmp)
        except _GitFailed as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ProjectError(f"cannot fetch project {_shown(url)}: {exc}") from None
        os.rename(tmp, path)
    return path, True


def _shown(url: str) -> str:
    from ..store import strip_credentials

    return strip_credentials(url)


def _rev(mirror: str, version: str) -> str | None:
    proc = _git("rev-parse", "--verify", "-q", f"{version}^{{commit}}", cwd=mirror, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def _resolve_version(mirror: str, url: str, version: str | None, fetch: bool) -> str:
    """The commit for ``version`` (default: the remote's HEAD); fetches first unless the mirror
    was just cloned or ``version`` is a commit it already has."""
    pinned = version is not None and _SHA.match(version) and _rev(mirror, version)
    if fetch and not pinned:
        with _locked(mirror + ".lock"):
            try:
                _git("fetch", "--quiet", "--prune", "--tags", "--force", "origin", cwd=mirror)
            except _GitFailed as exc:
                raise ProjectError(f"cannot fetch project {_shown(url)}: {exc}") from None
    target = version or "HEAD"
    commit = _rev(mirror, target)
    if commit is None and version is not None:
        with contextlib.suppress(_GitFailed):  # a commit not reachable from any branch or tag
            _git("fetch", "--quiet", "origin", version, cwd=mirror)
            commit = _rev(mirror, "FETCH_HEAD") if _SHA.match(version) else None
    if commit is None:
        if version is None:
            raise ProjectError(f"project {_shown(url)} has no commits (its HEAD points nowhere)")
        raise ProjectError(
            f"version {version!r} not found in project {_shown(url)}; pass a branch, tag or commit "
            "that exists there"
        )
    return commit


def _checkout(mirror: str, commit: str) -> str:
    """A fresh temporary folder holding the files of ``commit``."""
    root = os.path.join(cache_dir(), "projects", "checkouts")
    os.makedirs(root, exist_ok=True)
    folder = tempfile.mkdtemp(prefix=f"{commit[:12]}-", dir=root)
    archive = subprocess.Popen(
        ["git", "archive", "--format=tar", commit],
        cwd=mirror,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    import tarfile

    assert archive.stdout is not None
    try:
        with tarfile.open(fileobj=archive.stdout, mode="r|") as tar:
            if hasattr(tarfile, "tar_filter"):
                tar.extractall(folder, filter="tar")
            else:  # Python without extraction filters; git archive writes no absolute paths
                tar.extractall(folder)
    finally:
        archive.stdout.close()
        code = archive.wait()
    if code != 0:
        shutil.rmtree(folder, ignore_errors=True)
        err = archive.stderr.read().decode(errors="replace").strip() if archive.stderr else ""
        raise ProjectError(f"cannot check out {commit[:12]}: {err or f'git archive exit {code}'}")
    return folder
