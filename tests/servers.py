"""Real git servers on loopback for the remote tests, started and stopped by the tests.

- ``bare_repo``: a bare repository reached by path or ``file://``;
- ``GitDaemon``: ``git daemon --enable=receive-pack`` on a free port (``git://``);
- ``HttpGit``: nginx + fcgiwrap + ``git http-backend`` with basic auth (smart HTTP);
- ``LfsServer``: giftless, a Git LFS batch API server with its own storage
  (installed in its own virtualenv by ``.ci/setup-servers.sh``);
- ``SshServer``: OpenSSH's ``sshd`` on a loopback port, with a host key and an
  authorized key made by the test (as root: it logs in as root).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

LFS_PYTHON = os.environ.get("GITML_LFS_SERVER_PYTHON", "/opt/gitml-lfs-server/bin/python")
HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 15.0) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def bare_repo(path: Path, hook: str | None = None) -> Path:
    """A bare repository at ``path``; ``hook`` is an optional pre-receive script body."""
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    if hook is not None:
        script = path / "hooks" / "pre-receive"
        script.write_text("#!/bin/sh\n" + hook)
        script.chmod(0o755)
    return path


def _stop(proc: subprocess.Popen | None) -> None:  # type: ignore[type-arg]
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class GitDaemon:
    """``git daemon`` serving every repository below ``root`` with push enabled."""

    def __init__(self, root: Path):
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen | None = None  # type: ignore[type-arg]

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> GitDaemon:
        self.proc = subprocess.Popen(
            ["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack",
             f"--base-path={self.root}", "--listen=127.0.0.1", f"--port={self.port}", str(self.root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_port(self.port, self.proc)
        return self

    def __exit__(self, *exc: object) -> None:
        _stop(self.proc)


def http_available() -> str | None:
    """None when nginx, fcgiwrap and git-http-backend are installed, else what is missing."""
    missing = [
        b
        for b in ("nginx", "fcgiwrap")
        if not shutil.which(b) and not os.path.exists(f"/usr/sbin/{b}")
    ]
    if not os.path.exists(HTTP_BACKEND):
        missing.append("git-http-backend")
    return ", ".join(missing) + " not installed (run .ci/setup-servers.sh)" if missing else None


class HttpGit:
    """Smart HTTP: nginx (basic auth) → fcgiwrap → ``git http-backend`` for ``root``."""

    def __init__(self, root: Path, workdir: Path, user: str = "alice", password: str = "s3cret"):
        self.root, self.dir = root, workdir
        self.user, self.password = user, password
        self.port = free_port()
        self.procs: list[subprocess.Popen] = []  # type: ignore[type-arg]

    def url(self, name: str, auth: bool = True, password: str | None = None) -> str:
        cred = f"{self.user}:{password or self.password}@" if auth else ""
        return f"http://{cred}127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> HttpGit:
        d = self.dir
        d.mkdir(parents=True, exist_ok=True)
        for sub in ("body", "fcgi", "proxy", "uwsgi", "scgi"):
            (d / sub).mkdir(exist_ok=True)
        (d / "htpasswd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        sock = d / "fcgiwrap.sock"
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        fcgiwrap = shutil.which("fcgiwrap") or "/usr/sbin/fcgiwrap"
        user = "user root root;" if os.geteuid() == 0 else ""
        (d / "nginx.conf").write_text(f"""
{user}
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 128; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  fastcgi_temp_path {d}/fcgi;
  proxy_temp_path {d}/proxy;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  client_max_body_size 0;
  server {{
    listen 127.0.0.1:{self.port};
    # git http-backend is no LFS server: answer LFS requests as such servers do (404),
    # instead of letting the backend exit on a request body it never reads (a racy 502).
    location ~ /info/lfs/ {{
      auth_basic "git";
      auth_basic_user_file {d}/htpasswd;
      return 404;
    }}
    location / {{
      auth_basic "git";
      auth_basic_user_file {d}/htpasswd;
      fastcgi_pass unix:{sock};
      fastcgi_read_timeout 300;
      fastcgi_param SCRIPT_FILENAME {HTTP_BACKEND};
      fastcgi_param GIT_PROJECT_ROOT {self.root};
      fastcgi_param GIT_HTTP_EXPORT_ALL 1;
      fastcgi_param PATH_INFO $uri;
      fastcgi_param QUERY_STRING $query_string;
      fastcgi_param REQUEST_METHOD $request_method;
      fastcgi_param CONTENT_TYPE $content_type;
      fastcgi_param CONTENT_LENGTH $content_length;
      fastcgi_param REMOTE_USER $remote_user;
      fastcgi_param REMOTE_ADDR $remote_addr;
      fastcgi_param GIT_PROTOCOL $http_git_protocol;
      fastcgi_param HTTP_GIT_PROTOCOL $http_git_protocol;
    }}
  }}
}}
""")
        self.procs.append(subprocess.Popen([fcgiwrap, "-c", "4", "-s", f"unix:{sock}"],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.procs.append(subprocess.Popen([nginx, "-e", str(d / "error.log"), "-p", str(d), "-c",
                                            str(d / "nginx.conf")],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        wait_port(self.port, self.procs[-1])
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.procs):
            _stop(proc)


def lfs_available() -> str | None:
    if not os.path.exists(LFS_PYTHON):
        return (
            f"the giftless LFS server is not installed at {LFS_PYTHON} (run .ci/setup-servers.sh)"
        )
    return None


class LfsServer:
    """giftless (a Git LFS server) on a free port, storing objects under ``workdir``."""

    KEY = "gitml-tests-signing-key-0123456789abcdef"  # signs the upload/download actions

    def __init__(self, workdir: Path):
        self.dir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None  # type: ignore[type-arg]

    def url(self, repo: str = "team/runs") -> str:
        return f"http://127.0.0.1:{self.port}/{repo}.git/info/lfs"

    @property
    def storage(self) -> Path:
        return self.dir / "storage"

    def __enter__(self) -> LfsServer:
        self.dir.mkdir(parents=True, exist_ok=True)
        cfg = self.dir / "giftless.yaml"
        cfg.write_text(
            "AUTH_PROVIDERS:\n"
            "  - factory: giftless.auth.jwt:factory\n"
            f"    options:\n      private_key: {self.KEY}\n"
            "  - giftless.auth.allow_anon:read_write\n"
            "PRE_AUTHORIZED_ACTION_PROVIDER:\n  factory: giftless.auth.jwt:factory\n"
            f"  options:\n    private_key: {self.KEY}\n"
            "LEGACY_ENDPOINTS: false\n"
            "TRANSFER_ADAPTERS:\n  basic:\n    factory: giftless.transfer.basic_streaming:factory\n"
            "    options:\n      storage_class: giftless.storage.local_storage:LocalStorage\n"
            f"      storage_options:\n        path: {self.storage}\n"
        )
        env = dict(os.environ, GIFTLESS_CONFIG_FILE=str(cfg))
        waitress = str(Path(LFS_PYTHON).parent / "waitress-serve")
        self.proc = subprocess.Popen(
            [waitress, f"--listen=127.0.0.1:{self.port}", "giftless.wsgi_entrypoint:app"],
            cwd=self.dir, env=env, stdout=subprocess.DEVNULL, stderr=open(self.dir / "log", "w"),
        )  # fmt: skip
        wait_port(self.port, self.proc, timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        _stop(self.proc)


SSHD = "/usr/sbin/sshd"


def ssh_available() -> str | None:
    """None when sshd and ssh can run a loopback server here, else why not."""
    missing = [b for b in ("ssh", "ssh-keygen") if not shutil.which(b)]
    if not os.path.exists(SSHD):
        missing.append("sshd")
    if missing:
        return ", ".join(missing) + " not installed (run .ci/setup-servers.sh)"
    if os.geteuid() != 0:
        return "sshd logs in as the user that runs it only as root"
    return None


class SshServer:
    """``sshd`` on 127.0.0.1:PORT accepting one key generated here, logging in as root.

    ``ssh_command`` is what ``GIT_SSH_COMMAND`` needs (that key, no known_hosts);
    ``url(path)`` is ``ssh://root@127.0.0.1:PORT/path``.
    """

    def __init__(self, workdir: Path, commands: Path | None = None):
        """``commands``: a folder put first on the PATH of the server's sessions."""
        self.dir = workdir
        self.port = free_port()
        self.key = workdir / "id_ed25519"
        self.commands = commands
        self.proc: subprocess.Popen | None = None  # type: ignore[type-arg]

    def url(self, path: Path | str, user: str = "root") -> str:
        return f"ssh://{user}@127.0.0.1:{self.port}{path}"

    def ssh_command(self, key: Path | None = None) -> str:
        return (f"ssh -i {key or self.key} -o StrictHostKeyChecking=no "
                "-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR "
                "-o IdentitiesOnly=yes")  # fmt: skip

    def new_key(self, name: str) -> Path:
        """Another key pair, not authorized on this server."""
        path = self.dir / name
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                       check=True)  # fmt: skip
        return path

    def __enter__(self) -> SshServer:
        d = self.dir
        d.mkdir(parents=True, exist_ok=True)
        host_key = d / "host_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)],
                       check=True)  # fmt: skip
        self.new_key(self.key.name)
        (d / "authorized_keys").write_text((d / f"{self.key.name}.pub").read_text())
        (d / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
            f"AuthorizedKeysFile {d / 'authorized_keys'}\nPidFile {d / 'sshd.pid'}\n"
            "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            "LogLevel ERROR\n"
            + (f"SetEnv PATH={self.commands}:/usr/local/bin:/usr/bin:/bin\n" if self.commands else "")
        )
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation dir
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-f", str(d / "sshd_config"), "-E", str(d / "sshd.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_port(self.port, self.proc)
        return self

    def __exit__(self, *exc: object) -> None:
        _stop(self.proc)
