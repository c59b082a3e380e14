"""The repository: git objects, trees, commits, compare-and-swap ref updates, snapshots.

This is the only module that uses dulwich for local work. Everything above it speaks
in hex object ids (``str``), slash-separated paths and plain dicts.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import os
import random
import socket
import stat
import struct
import tempfile
import threading
import time
import weakref
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dulwich.errors import NotGitRepository
from dulwich.file import FileLocked
from dulwich.objects import Blob, Commit, Tree
from dulwich.refs import DiskRefsContainer
from dulwich.repo import Repo

from .errors import NotARepository, StoreError

MODE_FILE = 0o100644
MODE_EXEC = 0o100755
MODE_LINK = 0o120000
MODE_TREE = 0o040000
MODE_GITLINK = 0o160000

LOCK_TIMEOUT = 30.0  # seconds to wait for a busy ref lock before giving up
DEFAULT_SNAPSHOT_MAX_FILE = 1 << 20  # untracked files above this size are skipped


@dataclass
class Snapshot:
    """The workspace as a tree: ``tree`` is its id, ``dirty`` whether it differs from HEAD."""

    tree: str
    dirty: bool
    skipped: list[str] = field(default_factory=list)


_TMP_COUNTER = itertools.count()  # unique temporary names for loose objects
_BACKGROUND: list[Any] = []  # pack roll-ups started by this process

# A batch of at least this many new objects is written as one pack (two files) rather
# than as loose objects (one file each): on a slow disk, file creation is the cost.
PACK_MIN_OBJECTS = 4
# When the repository holds more packs than this (git's gc.autoPackLimit default), a
# geometric ``git repack`` rolls the small ones up, so they never pile up.
PACK_LIMIT = 50
# A batch holding more than this many bytes is written out at once (then goes on), so a
# folder of large files is never all in memory.
PACK_MAX_BYTES = 32 << 20


class Store:
    """A git repository opened for gitml: its work tree root and its object and ref stores."""

    def __init__(self, root: str | None, gitdir: str):
        self.root = root
        self.gitdir = gitdir
        try:
            self.repo = Repo(gitdir if root is None else root)
        except NotGitRepository as exc:  # pragma: no cover - discover checked it
            raise NotARepository(f"{gitdir} is not a git repository; run `git init` first") from exc
        # Close pack files when the store goes (or at exit, before dulwich's own
        # finalizers would complain during interpreter shutdown).
        weakref.finalize(self, self.repo.close)
        self.commondir = self.repo.commondir()
        self.objects = self.repo.object_store
        self._objects_dir: str = self.objects.path
        # A refs container of our own without a reflog writer: superseded run versions
        # must become unreachable (DESIGN: "No reflog is written for run refs").
        self.refs = DiskRefsContainer(self.commondir, logger=None)
        self._packed: tuple[Any, dict[str, str]] | None = None
        # The open batch of each thread: another thread's writes (a checkpoint, a nested
        # run) must never land in it, or its ref could name objects not yet on disk.
        self._local = threading.local()
        self._identity: bytes | None = None
        self._config: tuple[int, Any] | None = None

    # ------------------------------------------------------------------ opening
    @classmethod
    def discover(cls, path: str | None = None) -> Store:
        """Open the repository containing ``path`` (default: ``$GITML_DIR`` or the cwd)."""
        return cls(*cls.locate(path))

    @staticmethod
    def locate(path: str | None = None) -> tuple[str | None, str]:
        """(work tree root or None when bare, git dir) of the repository containing ``path``.

        Cheap (a few stat calls, nothing opened), so callers can cache stores by git dir.
        """
        start = os.path.abspath(path or os.environ.get("GITML_DIR") or os.getcwd())
        if not os.path.exists(start):
            via = "" if path else " ($GITML_DIR)"
            raise NotARepository(f"{start}{via} does not exist; give the path of a git repository")
        here = start if os.path.isdir(start) else os.path.dirname(start)
        while True:
            dotgit = os.path.join(here, ".git")
            if os.path.isdir(dotgit):
                return here, dotgit
            if os.path.isfile(dotgit):  # a linked worktree or a submodule
                with open(dotgit) as f:
                    line = f.read().strip()
                if line.startswith("gitdir:"):
                    gitdir = os.path.normpath(os.path.join(here, line[7:].strip()))
                    return here, gitdir
            if _is_bare(here):
                return None, here
            parent = os.path.dirname(here)
            if parent == here:
                raise NotARepository(
                    f"not a git repository (or any parent up to /): {start}; "
                    "run `git init` there first, or cd into your project"
                )
            here = parent

    @property
    def gitml_dir(self) -> str:
        """``.git/gitml``: local, derived data (caches); never pushed."""
        path = os.path.join(self.commondir, "gitml")
        os.makedirs(path, exist_ok=True)
        return path

    def config(self) -> Any:
        """The config stack (repository, user, system), re-read when .git/config changes."""
        try:
            stamp = os.stat(os.path.join(self.commondir, "config")).st_mtime_ns
        except OSError:
            stamp = 0
        if self._config is None or self._config[0] != stamp:
            self._config = (stamp, self.repo.get_config_stack())
        return self._config[1]

    def config_get(self, section: str, name: str, subsection: str | None = None) -> str | None:
        key: tuple[bytes, ...] = (
            (section.encode(),) if subsection is None else (section.encode(), subsection.encode())
        )
        try:
            value = self.config().get(key, name.encode())
        except KeyError:
            return None
        return value.decode() if isinstance(value, bytes) else value

    # ------------------------------------------------------------------ objects
    def add_object(self, obj: Any) -> str:
        """Write an object as a loose object (idempotent, safe with concurrent writers).

        As git does: an existing object is success; else the compressed object goes to a
        temporary file in its fan-out folder that is then renamed into place (two writers
        of one object write identical bytes, so whichever rename lands last is right).
        No lock file, no fsync, no freshening: a few syscalls per object.
        """
        batch = self._batch
        if batch is not None:
            if obj.id not in batch:
                batch[obj.id] = obj
                self._local.size += obj.raw_length()
                if self._local.size > PACK_MAX_BYTES:  # a big folder: write what is held
                    self._batch, self._local.size = {}, 0
                    self._write_batch(batch)
            return obj.id.decode()
        return self._add_loose(obj)

    def _add_loose(self, obj: Any) -> str:
        sha = obj.id.decode()
        folder = os.path.join(self._objects_dir, sha[:2])
        path = os.path.join(folder, sha[2:])
        if os.path.exists(path):
            return sha
        _write_into_place(folder, [("obj", obj.as_legacy_object(), path)])
        return sha

    @property
    def _batch(self) -> dict[bytes, Any] | None:
        return getattr(self._local, "batch", None)

    @_batch.setter
    def _batch(self, value: dict[bytes, Any] | None) -> None:
        self._local.batch = value

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Objects added inside are written together when the block ends, as one pack.

        Reads inside the block see them. An exception drops those not written yet (a batch
        past ``PACK_MAX_BYTES`` is written as it goes; unreferenced objects are harmless).
        A small batch goes loose, and so does every batch on a machine without git
        (git is what rolls the packs up).
        """
        if self._batch is not None:  # nested: the outer block writes
            yield
            return
        self._batch, self._local.size = {}, 0
        try:
            yield
            pending, self._batch = self._batch, None
            self._write_batch(pending)
        finally:
            self._batch = None

    def _write_batch(self, pending: dict[bytes, Any]) -> None:
        # Objects already stored loose are left out; one already in a pack may be
        # written again (harmless in git, and dropped by the next roll-up): probing
        # every pack for every object would cost more than the bytes it saves.
        new = [
            obj
            for sha, obj in pending.items()
            if not os.path.exists(os.path.join(self._objects_dir, _loose_name(sha)))
        ]
        if len(new) < PACK_MIN_OBJECTS or not _git_binary():
            for obj in new:
                self._add_loose(obj)
            return
        self._add_pack(new)
        self._roll_up_packs()

    def _add_pack(self, objects: list[Any]) -> None:
        """Write ``objects`` as one pack and its index, as ``git index-pack`` would leave them.

        The pack goes in first and its index last, by rename: readers (git and dulwich)
        only see a pack once its ``.idx`` exists, so they never see half of one.
        """
        chunks = [b"PACK" + struct.pack(">II", 2, len(objects))]
        entries = []
        offset = 12
        for obj in objects:
            raw = obj.as_raw_string()
            data = _pack_header(obj.type_num, len(raw)) + zlib.compress(raw, 1)
            entries.append((obj.sha().digest(), zlib.crc32(data), offset))
            chunks.append(data)
            offset += len(data)
        body = b"".join(chunks)
        checksum = hashlib.sha1(body).digest()
        folder = os.path.join(self._objects_dir, "pack")
        base = os.path.join(folder, f"pack-{checksum.hex()}")
        _write_into_place(folder, [
            ("pack", body + checksum, base + ".pack"),
            ("idx", _pack_index(entries, checksum), base + ".idx"),
        ])  # fmt: skip

    def _roll_up_packs(self) -> None:
        """Merge the small packs once there are many, as ``git maintenance`` does.

        ``git repack --geometric=2`` rewrites only packs smaller than half of the next
        one, so its cost follows the new objects, not the size of the repository. It
        runs in the background (one at a time: its pid is kept in ``.git/gitml``), and
        readers are safe meanwhile: git and dulwich both rescan when a pack disappears.
        A failure only leaves the packs as they were.
        """
        import subprocess

        folder = os.path.join(self._objects_dir, "pack")
        try:
            with os.scandir(folder) as entries:
                count = sum(1 for e in entries if e.name.endswith(".idx"))
        except OSError:
            return
        if count <= PACK_LIMIT:
            return
        if any(proc.poll() is None for proc in _BACKGROUND) or self._roll_up_running():
            return  # one roll-up at a time
        marker = os.path.join(self.gitml_dir, "repack.pid")
        git = _git_binary()
        assert git is not None
        try:
            proc = subprocess.Popen(
                [git, "repack", "-d", "-q", "--geometric=2"],
                cwd=self.commondir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
                env={**os.environ, "GIT_DIR": self.commondir},
            )  # fmt: skip
        except OSError:
            return
        _BACKGROUND.append(proc)  # reaped at exit, not waited for
        with open(marker, "w") as f:
            f.write(f"{proc.pid}\n")

    def wait_for_roll_up(self, timeout: float = 120.0) -> None:
        """Wait until no background pack roll-up runs here (``gitml gc`` repacks itself)."""
        deadline = time.monotonic() + timeout
        while self._roll_up_running() and time.monotonic() < deadline:
            time.sleep(0.05)

    def _roll_up_running(self) -> bool:
        """Whether the roll-up named in ``.git/gitml/repack.pid`` still runs."""
        for proc in _BACKGROUND:
            proc.poll()  # reap this process's own, so a finished one is not seen alive
        try:
            with open(os.path.join(self.gitml_dir, "repack.pid")) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return False
        if any(p.pid == pid for p in _BACKGROUND):
            return any(p.pid == pid and p.returncode is None for p in _BACKGROUND)
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        try:  # a pid reused by another program is not a roll-up
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return b"repack" in f.read()
        except OSError:
            return True  # no /proc: trust the pid

    def add_blob(self, data: bytes) -> str:
        return self.add_object(Blob.from_string(data))

    def add_tree(self, entries: dict[str, tuple[int, str]]) -> str:
        tree = Tree()
        for name, (mode, sha) in entries.items():
            tree.add(name.encode(), mode, sha.encode())
        return self.add_object(tree)

    def add_commit(
        self,
        tree: str,
        parents: list[str],
        message: str,
        author_time: float,
        commit_time: float,
        identity: bytes | None = None,
    ) -> str:
        c = Commit()
        c.tree = tree.encode()
        c.parents = [p.encode() for p in parents]
        c.author = c.committer = identity or self.identity()
        c.author_time = int(author_time)
        c.commit_time = int(commit_time)
        c.author_timezone = c.commit_timezone = 0
        c.encoding = b"UTF-8"
        c.message = message.encode()
        return self.add_object(c)

    def has(self, sha: str) -> bool:
        key = sha.encode()
        batch = self._batch
        return (batch is not None and key in batch) or key in self.objects

    def missing(self, shas: Iterable[str]) -> set[str]:
        """The ids among ``shas`` that are not in the repository, with one scan of its packs.

        (``has`` rescans the pack folder on every miss, which adds up over many ids.)
        """
        from dulwich.pack import PackFileDisappeared

        packs = self.objects.packs
        out = set()
        for sha in shas:
            if os.path.exists(os.path.join(self._objects_dir, sha[:2], sha[2:])):
                continue
            key = sha.encode()
            found = False
            for pack in packs:
                try:
                    if key in pack:
                        found = True
                        break
                except PackFileDisappeared:  # rolled up meanwhile: ask the slow way
                    found = self.has(sha)
                    break
            if not found and not any(key in alt for alt in self.objects.alternates):
                out.add(sha)
        return out

    def read(self, sha: str) -> Any:
        key = sha.encode()
        batch = self._batch
        if batch is not None and key in batch:
            return batch[key]
        return self.objects[key]

    def read_blob(self, sha: str) -> bytes:
        return self.read(sha).as_raw_string()

    def read_tree(self, sha: str) -> dict[str, tuple[int, str]]:
        tree = self.read(sha)
        return {e.path.decode(): (e.mode, e.sha.decode()) for e in tree.iteritems()}

    def read_paths(self, commits: list[str], names: tuple[str, ...]) -> dict[tuple[str, str], bytes]:
        """The blobs ``<commit>:<name>`` for many commits at once (missing ones left out).

        With git installed, one ``git cat-file --batch`` reads them all (C speed, a few
        milliseconds per thousand); else dulwich reads them one by one.
        """
        import shutil
        import subprocess

        wanted = [(c, n) for c in commits for n in names]
        git = shutil.which("git")
        if git is None or len(commits) < 20:
            return self._read_paths_dulwich(wanted)
        proc = subprocess.run(
            [git, f"--git-dir={self.gitdir}", "cat-file", "--batch"],
            input="".join(f"{c}:{n}\n" for c, n in wanted).encode(),
            capture_output=True,
        )
        if proc.returncode != 0:
            return self._read_paths_dulwich(wanted)
        out: dict[tuple[str, str], bytes] = {}
        data, pos = proc.stdout, 0
        for key in wanted:
            end = data.index(b"\n", pos)
            header = data[pos:end].split()
            pos = end + 1
            if len(header) == 3 and header[1] == b"blob":
                size = int(header[2])
                out[key] = data[pos : pos + size]
                pos += size + 1
        return out

    def _read_paths_dulwich(self, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], bytes]:
        out: dict[tuple[str, str], bytes] = {}
        trees: dict[str, str] = {}
        for commit, name in wanted:
            try:
                tree = trees.get(commit) or trees.setdefault(commit, self.commit_tree(commit))
                blob = self.blob_at(tree, name)
            except KeyError:
                continue
            if blob is not None:
                out[(commit, name)] = blob
        return out

    def commit_tree(self, commit: str) -> str:
        return self.objects[commit.encode()].tree.decode()

    def commit_info(self, commit: str) -> Any:
        return self.objects[commit.encode()]

    def lookup(self, tree: str, path: str) -> tuple[int, str] | None:
        """(mode, id) of ``path`` inside ``tree``, or None."""
        mode, sha = MODE_TREE, tree
        for part in path.strip("/").split("/") if path.strip("/") else []:
            if mode != MODE_TREE:
                return None
            entries = self.objects[sha.encode()]
            try:
                m, s = entries[part.encode()]
            except KeyError:
                return None
            mode, sha = m, s.decode()
        return mode, sha

    def blob_at(self, tree: str, path: str) -> bytes | None:
        found = self.lookup(tree, path)
        if found is None or found[0] == MODE_TREE:
            return None
        return self.read_blob(found[1])

    def walk_tree(self, tree: str, prefix: str = "") -> Iterator[tuple[str, int, str]]:
        """Yield (path, mode, id) for every file below ``tree``."""
        for name, (mode, sha) in sorted(self.read_tree(tree).items()):
            path = f"{prefix}{name}"
            if mode == MODE_TREE:
                yield from self.walk_tree(sha, path + "/")
            else:
                yield path, mode, sha

    def build_tree(self, files: Iterable[tuple[str, int, str]]) -> str:
        """Write the nested trees for a flat list of (path, mode, id) and return the root id."""
        root_id, trees = self.hash_tree(files)
        for tree in trees:
            if tree.id not in self.objects:
                self.add_object(tree)
        return root_id

    def hash_tree(self, files: Iterable[tuple[str, int, str]]) -> tuple[str, list[Any]]:
        """The root id of the nested trees for (path, mode, id) and those trees, unwritten."""
        root: dict[str, Any] = {}
        for path, mode, sha in files:
            node = root
            parts = path.split("/")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = (mode, sha)
        trees: list[Any] = []
        return _nested_tree(root, trees).decode(), trees

    # ------------------------------------------------------------------ refs
    def get_ref(self, name: str) -> str | None:
        path = os.path.join(self.commondir, name)
        try:
            with open(path, "rb") as f:
                value = f.read().strip()
            if value.startswith(b"ref: "):
                target = self.refs.follow(name.encode())[1]
                return target.decode() if target else None
            return value.decode() if value else None
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return self._packed_refs().get(name)

    def list_refs(self, prefix: str) -> dict[str, str]:
        """All refs below ``prefix`` (e.g. ``refs/gitml/runs/``) → commit id. Fast: no dulwich."""
        result = {k: v for k, v in self._packed_refs().items() if k.startswith(prefix)}
        base = os.path.normpath(os.path.join(self.commondir, prefix))
        skip = len(os.path.normpath(self.commondir)) + 1
        for dirpath, _dirs, files in os.walk(base):
            name_dir = dirpath[skip:].replace(os.sep, "/")  # cheaper than relpath per ref
            for fname in files:
                if fname.endswith(".lock"):
                    continue
                try:
                    with open(os.path.join(dirpath, fname), "rb") as f:
                        value = f.read().strip().decode()
                except OSError:
                    continue
                if len(value) == 40:
                    result[f"{name_dir}/{fname}"] = value
        return result

    def create_refs(self, new: dict[str, str]) -> set[str]:
        """Create many refs at once, in ``packed-refs`` (under git's ``packed-refs.lock``).

        One file write instead of a lock, write and rename per ref: pulling 1,000 runs
        costs milliseconds here. A ref that already exists (loose or packed) is left
        alone; the names created are returned. Later updates write loose refs, which
        take precedence over packed ones, as in git.
        """
        path = os.path.join(self.commondir, "packed-refs")

        def attempt() -> set[str]:
            fd, lock = _take_lock(path)
            moved = False
            try:
                try:
                    with open(path, "rb") as f:
                        lines = f.read().splitlines()
                except FileNotFoundError:
                    lines = []
                header = lines[0] if lines and lines[0].startswith(b"#") else None
                blocks: dict[bytes, list[bytes]] = {}  # ref -> its line and peeled lines
                last = None
                for line in lines[1:] if header else lines:
                    if line.startswith(b"^") and last is not None:
                        blocks[last].append(line)
                    elif b" " in line:
                        last = line.split(b" ", 1)[1]
                        blocks[last] = [line]
                created = set()
                for name, sha in new.items():
                    ref = name.encode()
                    if ref in blocks or os.path.exists(os.path.join(self.commondir, name)):
                        continue
                    blocks[ref] = [sha.encode() + b" " + ref]
                    created.add(name)
                if created:
                    body = [header or b"# pack-refs with: peeled fully-peeled sorted "]
                    for ref in sorted(blocks):
                        body.extend(blocks[ref])
                    os.write(fd, b"\n".join(body) + b"\n")
                os.close(fd)
                fd = -1
                if created:
                    os.replace(lock, path)
                    moved = True
                return created
            finally:
                if fd != -1:
                    os.close(fd)
                if not moved:
                    os.unlink(lock)

        result: set[str] = set()

        def run() -> bool:
            result.update(attempt())
            return True

        self._locked("packed-refs", run)
        return result

    def _packed_refs(self) -> dict[str, str]:
        path = os.path.join(self.commondir, "packed-refs")
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return {}
        mtime = (st.st_mtime_ns, st.st_size, st.st_ino)
        if self._packed and self._packed[0] == mtime:
            return self._packed[1]
        refs: dict[str, str] = {}
        with open(path, "rb") as f:
            for line in f:
                if line.startswith((b"#", b"^")):
                    continue
                parts = line.strip().split(b" ", 1)
                if len(parts) == 2:
                    refs[parts[1].decode()] = parts[0].decode()
        self._packed = (mtime, refs)
        return refs

    def cas_ref(self, name: str, old: str | None, new: str) -> bool:
        """Move ``name`` from ``old`` (None: must not exist) to ``new``; False if it moved."""

        return self._locked(name, lambda: self._cas_loose(name, old, new))

    def _cas_loose(self, name: str, old: str | None, new: str) -> bool:
        """One attempt, as git does it: take ``<ref>.lock``, compare, write, rename.

        No fsync (git's default for refs either): a ref update costs a few syscalls even
        while the disk is busy; the objects it names are written before it moves.
        """
        path = os.path.join(self.commondir, *name.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, lock = _take_lock(path)
        moved = False
        try:
            try:
                current = self.get_ref(name)  # loose, else packed; stable while we hold the lock
                if current != old:
                    return False
                os.write(fd, new.encode() + b"\n")
            finally:
                os.close(fd)
            os.replace(lock, path)
            moved = True
            return True
        finally:
            if not moved:  # never touch the lock once it is renamed: it may be another's now
                os.unlink(lock)

    def delete_ref(self, name: str, old: str | None = None) -> bool:
        return self._locked(
            name,
            lambda: bool(self.refs.remove_if_equals(name.encode(), old.encode() if old else None)),
        )

    def _locked(self, name: str, attempt: Any) -> bool:
        delay = 0.002
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                return bool(attempt())
            except FileLocked:
                if time.monotonic() > deadline:
                    lock = os.path.join(self.commondir, name) + ".lock"
                    raise StoreError(
                        f"ref {name} stayed locked for {LOCK_TIMEOUT:.0f} s; if no git or gitml "
                        f"process is running, remove {lock}"
                    ) from None
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.1)

    # ------------------------------------------------------------------ identity & HEAD
    def identity(self) -> bytes:
        """The user's git identity ``Name <email>`` (git config, environment, or login@host)."""
        if self._identity is None:
            name = os.environ.get("GIT_AUTHOR_NAME") or self.config_get("user", "name")
            email = os.environ.get("GIT_AUTHOR_EMAIL") or self.config_get("user", "email")
            user = _login()
            self._identity = f"{name or user} <{email or user + '@' + socket.gethostname()}>".encode()
        return self._identity

    def head(self) -> tuple[str | None, str | None]:
        """(commit id or None on an unborn branch, branch name or None when detached)."""
        try:
            with open(os.path.join(self.gitdir, "HEAD"), "rb") as f:
                value = f.read().strip().decode()
        except FileNotFoundError:
            return None, None
        if value.startswith("ref: "):
            ref = value[5:]
            branch = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else ref
            return self.get_ref(ref), branch
        return value or None, None

    def remote_url(self, branch: str | None) -> str | None:
        """URL of the branch's remote (or ``origin``), credentials stripped."""
        remote = self.config_get("branch", "remote", branch) if branch else None
        for name in (remote, "origin"):
            if name:
                url = self.config_get("remote", "url", name)
                if url:
                    return strip_credentials(url)
        return None

    # ------------------------------------------------------------------ workspace snapshot
    def snapshot(self, max_file: int | None = None) -> Snapshot:
        """The workspace as a tree, written without touching the index, HEAD or files.

        Tracked files as they are on disk (deleted ones left out), plus untracked,
        not-ignored files up to ``max_file`` bytes each (larger ones listed in ``skipped``).
        Its new objects go to disk as one pack.
        """
        with self.batch():
            return self._snapshot(max_file)

    def _snapshot(self, max_file: int | None) -> Snapshot:
        if self.root is None:
            raise NotARepository("a bare repository has no workspace to snapshot")
        if max_file is None:
            max_file = int(os.environ.get("GITML_SNAPSHOT_MAX_FILE", DEFAULT_SNAPSHOT_MAX_FILE))
        head, _ = self.head()
        head_tree = self.commit_tree(head) if head else None
        index_path = self.repo.index_path()
        try:
            index_mtime = os.stat(index_path).st_mtime_ns
        except FileNotFoundError:
            index_mtime = 0
        entries = _read_index(index_path) if index_mtime else []
        if entries is None:  # an index format the fast reader leaves to dulwich
            entries = _dulwich_index_entries(self.repo.open_index())
        root = os.fsencode(self.root)
        files: list[tuple[str, int, str]] = []
        tracked: set[bytes] = set()
        for path, emode, esha, esize, emtime in entries:
            if path in tracked:
                continue  # the other stages of a conflicted path
            tracked.add(path)
            if emode == MODE_GITLINK and esha is not None:  # a submodule: its recorded commit
                files.append((path.decode(), MODE_GITLINK, esha))
                continue
            full = os.path.join(root, path)
            try:
                st = os.lstat(full)
            except (FileNotFoundError, NotADirectoryError):
                continue  # deleted in the workspace
            mode = _mode_of(st)
            if mode is None:
                continue
            if (
                esha is not None  # not a conflicted entry: those take the file on disk
                and emode == mode
                and esize == (st.st_size & 0xFFFFFFFF)
                and emtime == st.st_mtime_ns
                and st.st_mtime_ns < index_mtime  # not racily clean
            ):
                files.append((path.decode(), mode, esha))
                continue
            files.append((path.decode(), mode, self.add_blob(_read_content(full, st))))
        skipped: list[str] = []
        for rel, full, st in self._untracked(root, tracked):
            if st.st_size > max_file:
                skipped.append(rel)
                continue
            mode = _mode_of(st)
            if mode is None:
                continue
            files.append((rel, mode, self.add_blob(_read_content(full, st))))
        # Dirty means the snapshot differs from the baseline in any way (a changed,
        # deleted or staged file, an untracked one): compare tree ids, hashed in memory,
        # and write the trees only when they are new.
        tree, trees = self.hash_tree(files)
        if tree == head_tree:  # an untracked file left out for its size still makes it dirty
            return Snapshot(head_tree, bool(skipped), sorted(skipped))
        for t in trees:
            if t.id not in self.objects:
                self.add_object(t)
        if not files:
            tree = self.add_tree({})
        dirty = tree != head_tree if head_tree else bool(files or skipped)
        return Snapshot(tree, dirty, sorted(skipped))

    def _untracked(self, root: bytes, tracked: set[bytes]) -> Iterator[tuple[str, bytes, os.stat_result]]:
        from dulwich.ignore import IgnoreFilterManager

        ignore = IgnoreFilterManager.from_repo(self.repo, config=self.config())
        tracked_dirs = {b""}
        for p in tracked:
            while b"/" in p:
                p = p.rsplit(b"/", 1)[0]
                if p in tracked_dirs:
                    break
                tracked_dirs.add(p)
        stack = [b""]
        while stack:
            rel_dir = stack.pop()
            try:
                entries = list(os.scandir(os.path.join(root, rel_dir) if rel_dir else root))
            except OSError:
                continue
            for de in entries:
                name = de.name
                if name.lower().rstrip(b". ") == b".git":
                    continue  # a repository (a linked worktree's .git is a file): never content
                rel = rel_dir + b"/" + name if rel_dir else name
                if de.is_dir(follow_symlinks=False):
                    if rel not in tracked_dirs:
                        if ignore.is_ignored(rel.decode(errors="surrogateescape") + "/"):
                            continue
                        if os.path.exists(os.path.join(de.path, b".git")):
                            continue  # a nested repository
                    stack.append(rel)
                    continue
                if rel in tracked:
                    continue
                text = rel.decode(errors="surrogateescape")
                if ignore.is_ignored(text):
                    continue
                try:
                    st = de.stat(follow_symlinks=False)
                except OSError:
                    continue
                yield text, de.path, st


def _nested_tree(node: dict[str, Any], out: list[Any]) -> bytes:
    """Build (without writing) the tree of a nested dict; appends every tree to ``out``."""
    tree = Tree()
    for name, value in node.items():
        if isinstance(value, dict):
            tree.add(name.encode(), MODE_TREE, _nested_tree(value, out))
        else:
            tree.add(name.encode(), value[0], value[1].encode())
    out.append(tree)
    return tree.id  # type: ignore[no-any-return]


_INDEX_ENTRY = struct.Struct(">10L20sH")  # ctime, mtime (s, ns), dev, ino, mode, uid, gid, size


def _read_index(path: str) -> list[tuple[bytes, int, str | None, int, int]] | None:
    """The entries of a version 2 or 3 git index: (path, mode, id or None if conflicted,
    size, mtime in ns). None for other versions (dulwich reads those).

    dulwich's reader builds an object per entry; this one is ~10x faster, which is most of
    the cost of a snapshot of a large, clean workspace.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    if len(data) < 12 or data[:4] != b"DIRC":
        return None
    version, count = struct.unpack_from(">LL", data, 4)
    if version not in (2, 3):
        return None
    unpack = _INDEX_ENTRY.unpack_from
    out: list[tuple[bytes, int, str | None, int, int]] = []
    offset = 12
    try:
        for _ in range(count):
            fields = unpack(data, offset)
            flags = fields[11]
            header = 64 if flags & 0x4000 else 62  # extended flags (version 3)
            end = data.index(b"\0", offset + header)
            name = data[offset + header : end]
            sha = fields[10].hex() if not (flags >> 12) & 3 else None  # stage > 0: conflicted
            out.append((name, fields[6], sha, fields[9], fields[2] * 1_000_000_000 + fields[3]))
            offset += ((header + len(name) + 8) // 8) * 8
    except (struct.error, ValueError):
        return None  # let dulwich report what is wrong with it
    return out


def _dulwich_index_entries(index: Any) -> list[tuple[bytes, int, str | None, int, int]]:
    out: list[tuple[bytes, int, str | None, int, int]] = []
    for path, entry in index.items():
        sha = getattr(entry, "sha", None)
        if sha is None:  # a conflicted entry
            out.append((path, 0, None, 0, 0))
            continue
        mtime = entry.mtime
        if isinstance(mtime, tuple):
            mtime_ns = mtime[0] * 1_000_000_000 + mtime[1]
        else:
            mtime_ns = int(round(mtime * 1_000_000_000))
        out.append((path, entry.mode, sha.decode(), entry.size, mtime_ns))
    return out


def _loose_name(sha: bytes) -> str:
    return f"{sha[:2].decode()}/{sha[2:].decode()}"


def _pack_header(type_num: int, size: int) -> bytes:
    """A pack entry's header: the type and the inflated size, as a little-endian varint."""
    byte = (type_num << 4) | (size & 0x0F)
    size >>= 4
    out = bytearray()
    while size:
        out.append(byte | 0x80)
        byte = size & 0x7F
        size >>= 7
    out.append(byte)
    return bytes(out)


def _pack_index(entries: list[tuple[bytes, int, int]], pack_checksum: bytes) -> bytes:
    """A version 2 pack index for (binary id, crc32, offset) entries, as git writes it."""
    entries = sorted(entries)
    fanout = [0] * 256
    for sha, _crc, _offset in entries:
        fanout[sha[0]] += 1
    total = 0
    for i in range(256):
        total += fanout[i]
        fanout[i] = total
    offsets: list[int] = []
    large: list[int] = []
    for _sha, _crc, offset in entries:
        if offset < 0x80000000:
            offsets.append(offset)
        else:  # offsets past 2 GiB go to the 64-bit table
            offsets.append(0x80000000 | len(large))
            large.append(offset)
    n = len(entries)
    body = b"".join([
        b"\377tOc", struct.pack(">I", 2), struct.pack(">256I", *fanout),
        b"".join(sha for sha, _crc, _offset in entries),
        struct.pack(f">{n}I", *(crc for _sha, crc, _offset in entries)),
        struct.pack(f">{n}I", *offsets), struct.pack(f">{len(large)}Q", *large),
        pack_checksum,
    ])  # fmt: skip
    return body + hashlib.sha1(body).digest()


def _write_into_place(folder: str, files: list[tuple[str, bytes, str]]) -> None:
    """Write each (kind, data, path) to a temporary file, then rename them into place in
    order, as git does: a reader sees each file whole or not at all. Read-only files;
    ``folder`` is made when missing; temporary files (``tmp_<kind>_*``, which git's prune
    also removes) never stay behind.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    temps: list[str] = []
    try:
        for kind, data, _path in files:
            tmp = os.path.join(folder, f"tmp_{kind}_{os.getpid()}_{next(_TMP_COUNTER)}")
            try:
                fd = os.open(tmp, flags, 0o444)
            except FileNotFoundError:
                os.makedirs(folder, exist_ok=True)
                fd = os.open(tmp, flags, 0o444)
            temps.append(tmp)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        for tmp, (_kind, _data, path) in zip(temps, files, strict=True):
            os.replace(tmp, path)
    except BaseException:
        for tmp in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)
        raise


@functools.lru_cache(maxsize=1)
def _git_binary() -> str | None:
    """The git that rolls packs up: installed and 2.32 or newer (``repack --geometric``);
    without one, writes stay loose so packs never pile up."""
    import shutil
    import subprocess

    git = shutil.which("git")
    if git is None:
        return None
    try:
        out = subprocess.run([git, "version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return git if _version_at_least(out, (2, 32)) else None


def _version_at_least(text: str, wanted: tuple[int, int]) -> bool:
    """Whether ``git version 2.39.5`` (any vendor suffix) is at least ``wanted``."""
    import re

    found = re.search(r"(\d+)\.(\d+)", text)
    return found is not None and (int(found.group(1)), int(found.group(2))) >= wanted


def _take_lock(path: str) -> tuple[int, str]:
    """Create ``<path>.lock`` exclusively, as git does; FileLocked when another holds it."""
    lock = path + ".lock"
    try:
        return os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), lock
    except FileExistsError:
        raise FileLocked(path, lock) from None


def _mode_of(st: os.stat_result) -> int | None:
    if stat.S_ISLNK(st.st_mode):
        return MODE_LINK
    if stat.S_ISREG(st.st_mode):
        return MODE_EXEC if st.st_mode & 0o111 else MODE_FILE
    return None


def _read_content(path: bytes, st: os.stat_result) -> bytes:
    if stat.S_ISLNK(st.st_mode):
        return os.readlink(path)
    with open(path, "rb") as f:
        return f.read()


def _is_bare(path: str) -> bool:
    return (
        os.path.isfile(os.path.join(path, "HEAD"))
        and os.path.isdir(os.path.join(path, "objects"))
        and os.path.isdir(os.path.join(path, "refs"))
    )


@functools.lru_cache(maxsize=1)
def _login() -> str:
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def strip_credentials(url: str) -> str:
    """``https://user:token@host/x`` → ``https://host/x`` (scp-like ``user@host:`` kept)."""
    if "://" in url:
        scheme, rest = url.split("://", 1)
        hostpart, sep, path = rest.partition("/")
        if "@" in hostpart:
            userinfo, host = hostpart.rsplit("@", 1)
            if scheme in ("http", "https") or ":" in userinfo:
                hostpart = host
        return f"{scheme}://{hostpart}{sep}{path}"
    return url


def user_and_host() -> tuple[str, str]:
    return _login(), socket.gethostname()


# ---------------------------------------------------------------------- files and LFS
DEFAULT_LFS_THRESHOLD = 20 * 1024 * 1024
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1\n"


def lfs_threshold(store: Store) -> int:
    """Artifact size above which content goes to the LFS layout (env, git config, 20 MB)."""
    value = os.environ.get("GITML_LFS_THRESHOLD") or store.config_get("gitml", "lfsThreshold")
    if value:
        try:
            return int(value)
        except ValueError:
            raise StoreError(f"gitml.lfsThreshold {value!r} is not a number of bytes") from None
    return DEFAULT_LFS_THRESHOLD


def lfs_object_path(store: Store, oid: str) -> str:
    return os.path.join(store.commondir, "lfs", "objects", oid[0:2], oid[2:4], oid)


def add_file(store: Store, path: str, threshold: int) -> tuple[int, str]:
    """Store a file: a blob, or above ``threshold`` an LFS pointer blob plus the LFS object."""
    st = os.lstat(path)
    mode = _mode_of(st)
    if mode is None:
        raise StoreError(f"{path} is not a regular file or symlink")
    if mode == MODE_LINK or st.st_size <= threshold:
        return mode, store.add_blob(_read_content(os.fsencode(path), st))
    import hashlib

    digest = hashlib.sha256()
    lfs_dir = os.path.join(store.commondir, "lfs", "objects")
    os.makedirs(lfs_dir, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=lfs_dir, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        oid = digest.hexdigest()
        target = lfs_object_path(store, oid)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.exists(target):
            os.unlink(tmp)
        else:
            os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    pointer = LFS_POINTER_PREFIX + f"oid sha256:{oid}\nsize {st.st_size}\n".encode()
    return mode, store.add_blob(pointer)


def parse_lfs_pointer(data: bytes) -> tuple[str, int] | None:
    """(oid, size) if ``data`` is a Git LFS pointer file."""
    if not data.startswith(LFS_POINTER_PREFIX) or len(data) > 1024:
        return None
    fields = dict(
        line.split(" ", 1) for line in data.decode(errors="replace").splitlines()[1:] if " " in line
    )
    oid = fields.get("oid", "")
    if not oid.startswith("sha256:"):
        return None
    try:
        return oid[7:], int(fields.get("size", "0"))
    except ValueError:
        return None


def read_file_content(store: Store, sha: str) -> bytes:
    """A stored file's content, following an LFS pointer to the local LFS object."""
    data = store.read_blob(sha)
    pointer = parse_lfs_pointer(data)
    if pointer is None:
        return data
    path = lfs_object_path(store, pointer[0])
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise StoreError(
            f"LFS object {pointer[0][:12]} is not in this clone; run `gitml pull` to fetch it"
        ) from None


def export_file(store: Store, sha: str, mode: int, dest: str) -> None:
    """Write a stored file to ``dest`` (LFS pointers resolved, large objects copied by stream)."""
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    data = store.read_blob(sha)
    if mode == MODE_LINK:
        if os.path.lexists(dest):
            os.unlink(dest)
        os.symlink(data, dest)
        return
    pointer = parse_lfs_pointer(data)
    if pointer is not None:
        import shutil

        src = lfs_object_path(store, pointer[0])
        if not os.path.exists(src):
            raise StoreError(
                f"LFS object {pointer[0][:12]} is not in this clone; run `gitml pull` to fetch it"
            )
        shutil.copyfile(src, dest)
    else:
        with open(dest, "wb") as f:
            f.write(data)
    if mode == MODE_EXEC:
        os.chmod(dest, 0o755)
