"""Git LFS transfer of large artifacts: the batch API over http(s), file copies for paths.

Artifacts above the LFS threshold are pointer files in the run's tree and their content
sits in ``.git/lfs/objects/<oid[0:2]>/<oid[2:4]>/<oid>`` (git-lfs's own layout). On push
the objects the remote lacks are uploaded before any ref moves; on pull the objects of
the received runs are downloaded. Path and ``file://`` remotes get a plain copy in their
``lfs/objects`` folder, where git-lfs looks for them too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import urllib.error

from .errors import RemoteError
from .store import MODE_TREE, Store, lfs_object_path, parse_lfs_pointer

Progress = Callable[[str], None]
MEDIA = "application/vnd.git-lfs+json"
BATCH = 100
LFS_DIRS = ("artifacts", "models")


# ---------------------------------------------------------------------- finding pointers
def pointers(store: Store, commits: Iterable[str]) -> dict[str, int]:
    """oid → size of every LFS pointer under ``artifacts/`` and ``models/`` of the commits."""
    blobs: dict[str, None] = {}
    seen_trees: set[str] = set()
    for commit in commits:
        try:
            root = store.commit_tree(commit)
        except KeyError:
            continue
        for top in LFS_DIRS:
            entry = store.lookup(root, top)
            if entry and entry[0] == MODE_TREE:
                _collect(store, entry[1], blobs, seen_trees)
    small = _small_blobs(store, list(blobs))
    out: dict[str, int] = {}
    for sha in small:
        ptr = parse_lfs_pointer(store.read_blob(sha))
        if ptr:
            out[ptr[0]] = ptr[1]
    return out


def _collect(store: Store, tree: str, blobs: dict[str, None], seen: set[str]) -> None:
    if tree in seen:
        return
    seen.add(tree)
    for _name, (mode, sha) in store.read_tree(tree).items():
        if mode == MODE_TREE:
            _collect(store, sha, blobs, seen)
        elif mode != 0o120000:
            blobs[sha] = None


def _small_blobs(store: Store, shas: list[str]) -> list[str]:
    """The blobs small enough to be pointers (sizes from ``git cat-file`` when installed)."""
    if not shas:
        return []
    git = shutil.which("git")
    if git and len(shas) > 20:
        p = subprocess.run(
            [git, f"--git-dir={store.gitdir}", "cat-file", "--batch-check=%(objectname) %(objectsize)"],
            input="\n".join(shas) + "\n", capture_output=True, text=True,
        )  # fmt: skip
        if p.returncode == 0:
            out = []
            for line in p.stdout.splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[1].isdigit() and int(parts[1]) <= 1024:
                    out.append(parts[0])
            return out
    return [s for s in shas if len(store.read_blob(s)) <= 1024]


def _has_local_lfs(store: Store) -> bool:
    base = os.path.join(store.commondir, "lfs", "objects")
    try:
        return any(not n.startswith(".") for n in os.listdir(base))
    except OSError:
        return False


# ---------------------------------------------------------------------- entry points
def upload_for(
    store: Store, remote: Any, commits: list[str], progress: Progress | None = None
) -> tuple[int, int]:
    """Upload the LFS objects of ``commits`` that the remote lacks; (count, bytes) sent."""
    if not _has_local_lfs(store):
        return 0, 0
    wanted = {oid: size for oid, size in pointers(store, commits).items()
              if os.path.exists(lfs_object_path(store, oid))}  # fmt: skip
    if not wanted:
        return 0, 0
    path = remote.local_path
    if path is not None:
        return _copy(store, wanted, lambda oid: lfs_object_path(store, oid),
                     lambda oid: _remote_object_path(path, oid))  # fmt: skip
    return Endpoint.for_remote(store, remote, "upload").transfer("upload", store, wanted, progress)


def download_for(
    store: Store, remote: Any, commits: list[str], progress: Progress | None = None
) -> tuple[int, int]:
    """Download the LFS objects of ``commits`` missing here; (count, bytes) received."""
    path = remote.local_path
    if path is not None and not os.path.isdir(_remote_lfs_dir(path)):
        return 0, 0  # a path remote without an LFS store has nothing to give: skip the scan
    wanted = {oid: size for oid, size in pointers(store, commits).items()
              if not os.path.exists(lfs_object_path(store, oid))}  # fmt: skip
    if not wanted:
        return 0, 0
    if path is not None:
        present = {o: s for o, s in wanted.items() if os.path.exists(_remote_object_path(path, o))}
        return _copy(store, present, lambda oid: _remote_object_path(path, oid),
                     lambda oid: lfs_object_path(store, oid))  # fmt: skip
    return Endpoint.for_remote(store, remote, "download").transfer(
        "download", store, wanted, progress
    )


def _remote_lfs_dir(path: str) -> str:
    """``lfs/objects`` of a path remote (bare, or a work tree's ``.git``)."""
    gitdir = os.path.join(path, ".git") if os.path.isdir(os.path.join(path, ".git")) else path
    return os.path.join(gitdir, "lfs", "objects")


def _remote_object_path(path: str, oid: str) -> str:
    return os.path.join(_remote_lfs_dir(path), oid[0:2], oid[2:4], oid)


def _copy(store: Store, wanted: dict[str, int], src: Callable[[str], str],
          dst: Callable[[str], str]) -> tuple[int, int]:  # fmt: skip
    n = total = 0
    for oid, size in wanted.items():
        target = dst(oid)
        if os.path.exists(target):
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".incoming-")
        os.close(fd)
        try:
            shutil.copyfile(src(oid), tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        n, total = n + 1, total + size
    return n, total


# ---------------------------------------------------------------------- the batch API
class Endpoint:
    """A Git LFS server: its URL and credentials."""

    def __init__(self, url: str, remote_label: str, gitdir: str | None = None):
        from .remote.credentials import Credentials

        self.auth = Credentials.for_url(url, gitdir)
        self.url = self.auth.clean_url.rstrip("/")
        self.remote_label = remote_label
        self.headers: dict[str, str] = {}  # from git-lfs-authenticate (ssh remotes)

    @classmethod
    def for_remote(cls, store: Store, remote: Any, operation: str = "download") -> Endpoint:
        """``remote.<name>.lfsurl``, ``lfs.url`` (git config or ``.lfsconfig``), what
        ``git-lfs-authenticate`` answers over ssh for an ssh remote, or derived."""
        url = None
        if remote.name:
            url = store.config_get("remote", "lfsurl", remote.name)
        url = url or store.config_get("lfs", "url") or _lfsconfig(store)
        if not url:
            found = ssh_authenticate(store, remote.push_url, operation)
            if found is not None:
                endpoint = cls(found[0], remote.label, store.gitdir)
                endpoint.headers = found[1]
                return endpoint
            url = derive_url(remote.push_url)
        if not url:
            raise RemoteError(
                f"LFS endpoint missing: remote {remote.label!r} ({remote.push_url}) has no Git LFS "
                "endpoint; set one with `git config lfs.url https://host/repo.git/info/lfs`"
            )
        return cls(url, remote.label, store.gitdir)

    def _request(self, method: str, url: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None, stream: Any = None) -> Any:  # fmt: skip
        import urllib.error  # only HTTP remotes need it: path remotes skip the import
        import urllib.request

        hdrs = {**self.headers, **(headers or {})}
        for attempt in range(2):
            user, password = self.auth.get()
            if user is not None and "Authorization" not in hdrs:
                token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
                hdrs["Authorization"] = f"Basic {token}"
            data = body if stream is None else stream
            req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
            if stream is not None and hasattr(stream, "seek"):
                stream.seek(0)
            try:
                resp = urllib.request.urlopen(req, timeout=300)
                self.auth.approve()
                return resp
            except urllib.error.HTTPError as exc:
                if exc.code == 401 and attempt == 0:
                    self.auth.reject()
                    if self.auth.fill():
                        continue
                if exc.code in (401, 403):
                    self.auth.reject()
                    raise RemoteError(
                        f"authentication refused by the LFS server of {self.remote_label!r} "
                        f"({self.url}, HTTP {exc.code}); check the user name and password"
                    ) from None
                if url.endswith("/objects/batch"):
                    raise self._batch_error(exc) from None
                raise RemoteError(f"LFS server {self.url} answered HTTP {exc.code} for {method} "
                                  f"{url}: {exc.reason}") from None  # fmt: skip
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise RemoteError(f"cannot reach the LFS server {self.url}: {reason}") from None
        raise RemoteError(
            f"authentication refused by the LFS server {self.url}"
        )  # pragma: no cover

    def _batch_error(self, exc: urllib.error.HTTPError) -> RemoteError:
        """A refused batch request: an LFS server answers in JSON, anything else has no LFS."""
        kind = exc.headers.get("Content-Type", "") if exc.headers else ""
        if "json" not in kind:  # a git host or web server without LFS (404, 405, 502, ...)
            return RemoteError(
                f"LFS endpoint missing: {self.url} answered HTTP {exc.code} ({exc.reason}) to the "
                "batch API, not as a Git LFS server; enable Git LFS on the server or set "
                "`git config lfs.url URL`"
            )
        try:
            said = json.loads(exc.read()).get("message") or exc.reason
        except (ValueError, AttributeError, OSError):
            said = exc.reason
        said = " ".join(str(said).split())[:200]
        return RemoteError(
            f"LFS server {self.url} refused the batch request (HTTP {exc.code}): {said}"
        )

    def batch(self, operation: str, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        body = json.dumps({"operation": operation, "transfers": ["basic"], "objects": objects,
                           "hash_algo": "sha256"}).encode()  # fmt: skip
        resp = self._request("POST", self.url + "/objects/batch", body,
                             {"Accept": MEDIA, "Content-Type": MEDIA})  # fmt: skip
        try:
            data = json.loads(resp.read())
        except ValueError:
            raise RemoteError(
                f"LFS endpoint missing: {self.url} did not answer the batch API"
            ) from None
        return list(data.get("objects") or [])

    def transfer(self, operation: str, store: Store, wanted: dict[str, int],
                 progress: Progress | None = None) -> tuple[int, int]:  # fmt: skip
        items = sorted(wanted.items())
        n = total = 0
        for start in range(0, len(items), BATCH):
            chunk = items[start : start + BATCH]
            answer = self.batch(operation, [{"oid": o, "size": s} for o, s in chunk])
            for obj in answer:
                oid, size = str(obj.get("oid")), int(obj.get("size") or 0)
                if oid not in wanted:  # only what was asked: an oid names a local path
                    continue
                if obj.get("error"):
                    err = obj["error"]
                    raise RemoteError(f"LFS server refused object {str(oid)[:12]}: "
                                      f"{err.get('message')} ({err.get('code')})")  # fmt: skip
                actions = obj.get("actions") or {}
                if operation == "upload" and "upload" in actions:
                    self._upload(store, oid, size, actions)
                elif operation == "download" and "download" in actions:
                    self._download(store, oid, actions["download"])
                else:
                    continue
                n, total = n + 1, total + size
                if progress:
                    progress(f"LFS {operation}: {n}/{len(items)} objects, {total} bytes")
        return n, total

    def _upload(self, store: Store, oid: str, size: int, actions: dict[str, Any]) -> None:
        act = actions["upload"]
        headers = dict(act.get("header") or {})
        headers.setdefault("Content-Type", "application/octet-stream")
        headers["Content-Length"] = str(size)
        with open(lfs_object_path(store, oid), "rb") as f:
            self._request("PUT", act["href"], headers=headers, stream=f).read()
        if "verify" in actions:
            ver = actions["verify"]
            hdrs = dict(ver.get("header") or {})
            hdrs.update({"Accept": MEDIA, "Content-Type": MEDIA})
            self._request(
                "POST", ver["href"], json.dumps({"oid": oid, "size": size}).encode(), hdrs
            ).read()

    def _download(self, store: Store, oid: str, act: dict[str, Any]) -> None:
        resp = self._request("GET", act["href"], headers=dict(act.get("header") or {}))
        target = lfs_object_path(store, oid)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".incoming-")
        digest = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := resp.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != oid:
                raise RemoteError(
                    f"LFS object {oid[:12]} arrived corrupted (sha256 mismatch); pull again"
                )
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def ssh_authenticate(store: Store, url: str, operation: str) -> tuple[str, dict[str, str]] | None:
    """Ask an ssh remote's host where its LFS server is, as git-lfs does:
    ``ssh [user@]host git-lfs-authenticate <path> <operation>`` answers JSON with ``href``
    and ``header``. None for a URL that is not ssh, or a host that has no such command.
    """
    import re
    import shlex

    m = re.match(r"^ssh://(?P<host>(?:[^@/]+@)?[^/:]+)(?::(?P<port>\d+))?(?P<path>/.*)$", url)
    if m is None and "://" not in url:
        m = re.match(r"^(?P<host>(?:[^@/]+@)?[^/:]+):(?P<port>)(?P<path>.+)$", url)
    if m is None:
        return None
    ssh = os.environ.get("GIT_SSH_COMMAND") or store.config_get("core", "sshCommand") or "ssh"
    args = [*shlex.split(ssh), *(["-p", m.group("port")] if m.group("port") else []),
            m.group("host"), f"git-lfs-authenticate {shlex.quote(m.group('path'))} {operation}"]  # fmt: skip
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)  # fmt: skip
        answer = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    if not isinstance(answer, dict) or not isinstance(answer.get("href"), str):
        return None
    header = answer.get("header")
    pairs = header.items() if isinstance(header, dict) else ()
    return answer["href"], {str(k): str(v) for k, v in pairs}


def derive_url(url: str) -> str | None:
    """The LFS endpoint git-lfs derives from a git URL (http(s) as is, ssh/git:// as https)."""
    import re

    if url.startswith(("http://", "https://")):
        base = url.rstrip("/")
        return base + "/info/lfs" if base.endswith(".git") else base + ".git/info/lfs"
    m = re.match(r"^(?:ssh|git)://(?:[^@/]+@)?([^/:]+)(?::\d+)?/(.*)$", url) or re.match(
        r"^(?:[^@/]+@)?([^/:]+):(.*)$", url
    )
    if m and "://" not in url or (m and url.startswith(("ssh://", "git://"))):
        host, path = m.group(1), m.group(2).strip("/")
        path = path if path.endswith(".git") else path + ".git"
        return f"https://{host}/{path}/info/lfs"
    return None


def _lfsconfig(store: Store) -> str | None:
    if store.root is None:
        return None
    path = os.path.join(store.root, ".lfsconfig")
    if not os.path.exists(path):
        return None
    from dulwich.config import ConfigFile

    try:
        value = ConfigFile.from_path(path).get((b"lfs",), b"url")
    except (KeyError, OSError, ValueError):
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
