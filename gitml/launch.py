"""The wrapper of ``gitml run``: a command recorded as a run, output teed, signals forwarded.

The wrapper process owns the run: it creates and writes it at once (visible as
RUNNING), starts the command in a process group of its own with ``GITML_RUN_ID``,
``GITML_DIR`` and ``GITML_PARAMS`` in its environment, copies the combined
stdout/stderr unchanged to the terminal (through a pseudo-terminal when stdout is one,
so colours are kept; through a pipe otherwise) and into a bounded ``output.log``,
checkpoints the run, forwards SIGINT/SIGTERM/SIGHUP to the command's process group,
and at the end records status, exit code, metrics files and ``--out`` artifacts.
"""

from __future__ import annotations

import dataclasses
import errno
import glob
import json
import os
import select
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import keys, params_file, runs
from .errors import GitmlError, InvalidValue, LaunchError
from .record import iso, now_ms, parse_iso
from .store import MODE_FILE, MODE_TREE, Store, add_file, lfs_threshold

DEFAULT_LOG_LIMIT = 4 * 1024 * 1024  # bytes of output.log (head + tail) before the middle is cut
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
KILL_GRACE = 10.0  # seconds a signalled command gets before its process group is SIGKILLed
DRAIN_IDLE = 0.1  # after the command exits: stop reading once its output is idle this long
DRAIN_MAX = 2.0  # ... or after this long (background processes may keep the pipe open)


@dataclass
class LaunchSpec:
    """What ``gitml run`` was asked to do (the CLI's options, unvalidated)."""

    argv: list[str]
    name: str | None = None
    experiment: str | None = None
    params: list[str] = field(default_factory=list)  # -p key=value
    params_file: str | None = None  # --params-file (default: params.yaml at the root)
    tags: list[str] = field(default_factory=list)  # --tag key=value
    metrics_files: list[str] = field(default_factory=list)
    outs: list[str] = field(default_factory=list)
    code: bool = True
    quiet: bool = False
    # for callers that resolve params themselves (``gitml project run``):
    typed_params: dict[str, Any] | None = None  # recorded as they are; no params file, no {key}
    cwd: str | None = None  # where the command runs (default: the current directory)
    env: dict[str, str] = field(default_factory=dict)  # extra variables for the command


@dataclass
class LaunchResult:
    """How the wrapped command ended and where it was recorded."""

    run_id: str
    name: str
    status: str
    exit_code: int
    signal: int | None = None  # the signal gitml received and forwarded, if any
    duration: float = 0.0
    warnings: list[str] = field(default_factory=list)
    name_is_unique: bool = True

    @property
    def show_hint(self) -> str:
        """The command that shows the run (by name, or by id when the name repeats)."""
        return f"gitml show {shlex.quote(self.name) if self.name_is_unique else self.run_id[:8]}"


# ---------------------------------------------------------------------- the output log
class BoundedLog:
    """Captured output kept within ``limit`` bytes: its head and its tail, the middle cut.

    Bytes are kept as they came (binary output is safe); when the middle is cut,
    ``getvalue`` puts a line saying how much was cut where it was.
    """

    def __init__(self, limit: int = DEFAULT_LOG_LIMIT):
        self.limit = max(int(limit), 1024)
        self.head_max = self.limit // 4
        self.tail_max = self.limit - self.head_max
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def write(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_max - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 2 * self.tail_max:
                del self.tail[: len(self.tail) - self.tail_max]

    @property
    def cut(self) -> int:
        """Bytes left out of ``getvalue`` (0 when everything is kept)."""
        return max(0, self.total - self.head_max - self.tail_max)

    def getvalue(self) -> bytes:
        if not self.cut:
            return bytes(self.head + self.tail)
        head = bytes(self.head)
        tail = bytes(self.tail[-self.tail_max :])
        # cut at line boundaries when a line ends near the edge, for a readable log
        nl = head.rfind(b"\n")
        if nl >= len(head) // 2:
            head = head[: nl + 1]
        nl = tail.find(b"\n")
        if 0 <= nl < len(tail) // 2:
            tail = tail[nl + 1 :]
        cut = self.total - len(head) - len(tail)
        marker = (
            f"[gitml: {cut:,} bytes cut from the middle of the output "
            f"({self.total:,} bytes in all); "
            f"output.log keeps the first {len(head):,} and the last {len(tail):,} bytes; "
            "GITML_LOG_LIMIT raises the limit]\n"
        ).encode()
        sep = b"" if not head or head.endswith(b"\n") else b"\n"
        return head + sep + marker + tail


def log_limit() -> int:
    value = os.environ.get("GITML_LOG_LIMIT")
    if not value:
        return DEFAULT_LOG_LIMIT
    try:
        return int(value)
    except ValueError:
        raise InvalidValue(f"GITML_LOG_LIMIT={value!r} is not a number of bytes") from None


# ---------------------------------------------------------------------- preparing
@dataclass
class Prepared:
    """A validated launch: the final argv, params and tags (nothing written yet)."""

    argv: list[str]
    params: dict[str, Any]
    tags: dict[str, str]
    experiment: str
    metrics_files: list[str]
    default_metrics: dict[str, tuple[int, int] | None]
    params_source: str | None


def prepare(store: Store, spec: LaunchSpec, cwd: str | None = None) -> Prepared:
    """Validate everything a run needs before anything is written.

    Raises:
        GitmlError: a bad ``-p``/``--tag``, params file, name or experiment; no command.
    """
    cwd = cwd or spec.cwd or os.getcwd()
    if not spec.argv:
        raise LaunchError("no command to run; use: gitml run [OPTIONS] -- COMMAND [ARGS]...")
    experiment = spec.experiment
    if experiment is None:
        experiment = os.environ.get("GITML_EXPERIMENT") or "Default"
    keys.validate_experiment(experiment)
    if spec.name is not None:
        keys.validate_name(spec.name)
    base: dict[str, Any] = {}
    source = None
    if spec.typed_params is not None:
        base = dict(spec.typed_params)
    elif spec.params_file:
        source = os.path.join(cwd, spec.params_file)
        base = params_file.load_file(source)
    elif store.root is not None:
        default = os.path.join(store.root, params_file.DEFAULT_PARAMS_FILE)
        if os.path.isfile(default):
            source = default
            base = params_file.load_file(default)
    for key in base:
        keys.validate_key(key, f"param key (in {source})")
    overrides = params_file.parse_assignments(spec.params, "-p")
    params = params_file.apply_overrides(base, overrides)
    _validate_params(store, params)
    tags = {k: v for k, v in params_file.parse_assignments(spec.tags, "--tag")}
    default_metrics: dict[str, tuple[int, int] | None] = {}
    if store.root is not None:
        for name in params_file.DEFAULT_METRICS_FILES:
            path = os.path.join(store.root, name)
            default_metrics[path] = _stat_key(path)
    metrics_files = [os.path.join(cwd, f) for f in spec.metrics_files]
    for out in spec.outs:
        if not out.strip():
            raise InvalidValue("--out needs a path, a folder or a glob pattern")
    return Prepared(
        argv=list(spec.argv)
        if spec.typed_params is not None
        else params_file.substitute(list(spec.argv), params),
        params=params,
        tags=tags,
        experiment=experiment,
        metrics_files=metrics_files,
        default_metrics=default_metrics,
        params_source=source,
    )


def _validate_params(store: Store, params: dict[str, Any]) -> None:
    """Check keys and values as the run's writer will, before anything is written."""
    from .record import RunRecord

    runs.RunWriter(store, RunRecord(info={"id": "0" * 32}), owner=False).log_params(
        runs.native(params)
    )


def _stat_key(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


# ---------------------------------------------------------------------- running
Echo = Callable[[bytes], None]


def grid(spec: LaunchSpec, axes: list[str]) -> list[LaunchSpec]:
    """One spec per combination of ``key=v1,v2,...`` values (``gitml run --grid``), in order,
    the last key varying fastest; each is named ``<name>-<n>`` when the spec has a name.

    Raises:
        InvalidValue: an axis that is not ``key=v1,v2,...``, a key given twice or also
            given with ``-p``, or an empty value.
    """
    import itertools

    parsed = params_file.parse_assignments(axes, "--grid")
    keys_seen = [k for k, _ in parsed]
    fixed = {k for k, _ in params_file.parse_assignments(spec.params, "-p")}
    for key in keys_seen:
        if keys_seen.count(key) > 1:
            raise InvalidValue(f"--grid {key} is given twice; list its values once: {key}=a,b,c")
        if key in fixed:
            raise InvalidValue(f"{key} is both a -p param and a --grid axis; keep one")
    values = []
    for key, text in parsed:
        items = [v.strip() for v in text.split(",")]
        if not text.strip() or any(not v for v in items):
            raise InvalidValue(f"--grid {key}={text!r} has an empty value; use {key}=a,b,c")
        values.append(items)
    out = []
    for n, combo in enumerate(itertools.product(*values), start=1):
        extra = [f"{k}={v}" for k, v in zip(keys_seen, combo, strict=True)]
        out.append(dataclasses.replace(
            spec, params=[*spec.params, *extra],
            name=f"{spec.name}-{n}" if spec.name else None,
        ))  # fmt: skip
    return out


def launch(
    spec: LaunchSpec,
    store: Store | None = None,
    echo: Echo | None = None,
    message: Callable[[str], None] | None = None,
    use_pty: bool | None = None,
) -> LaunchResult:
    """Run ``spec.argv`` as a recorded run and return how it ended.

    Args:
        spec: the command and options.
        store: the repository (default: discovered from ``$GITML_DIR`` or the cwd).
        echo: where the command's output is copied live (default: this process's stdout).
        message: where gitml's own lines go (default: stderr).
        use_pty: run the command on a pseudo-terminal (default: when stdout is a terminal).

    Raises:
        GitmlError: invalid options (nothing is written), or a command that cannot be
            started (``LaunchError``, after recording the run as FAILED with the reason).
    """
    store = store or Store.discover()
    prepared = prepare(store, spec)
    wrapper = _Wrapper(store, spec, prepared, echo, message, use_pty)
    return wrapper.run()


def _default_echo() -> Echo:
    out = sys.stdout.buffer

    def echo(data: bytes) -> None:
        out.write(data)
        out.flush()

    return echo


def _stdout_is_tty() -> bool:
    try:
        return os.isatty(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        return False


class _Wrapper:
    """One wrapped command: the run's writer, the child process, the output pump."""

    def __init__(
        self,
        store: Store,
        spec: LaunchSpec,
        prepared: Prepared,
        echo: Echo | None,
        message: Callable[[str], None] | None,
        use_pty: bool | None,
    ):
        self.store = store
        self.spec = spec
        self.prepared = prepared
        self.echo: Echo | None = None if spec.quiet else (echo or _default_echo())
        self.message = message or (lambda text: print(text, file=sys.stderr, flush=True))
        self.use_pty = _stdout_is_tty() if use_pty is None else use_pty
        self.log = BoundedLog(log_limit())
        self.child: Any = None
        self._master_fd: int | None = None
        self.signals: list[int] = []
        self.first_signal_at: float | None = None
        self.warnings: list[str] = []
        self.interval = float(os.environ.get("GITML_CHECKPOINT_INTERVAL", "10"))
        self.logged_total = -1

    # ------------------------------------------------------------ the whole run
    def run(self) -> LaunchResult:
        previous = self._install_signals()
        try:
            return self._run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _run(self) -> LaunchResult:
        p = self.prepared
        parent = os.environ.get("GITML_RUN_ID")
        self.writer = runs.create(
            self.store,
            experiment=p.experiment,
            name=self.spec.name,
            tags=p.tags,
            params=p.params,
            command=p.argv,
            code=self.spec.code,
            pid=os.getpid(),
            parent_run=parent if parent and keys.is_run_id(parent) else None,
        )
        self.writer.flush()
        info = self.writer.record.info
        self.run_id, self.name = self.writer.run_id, str(info["name"])
        started = time.monotonic()
        if not self.spec.quiet:
            self.message(
                f"gitml: recording run {self.name} ({self.run_id[:8]}) "
                f"in experiment {p.experiment!r}"
            )
        if self.signals:  # interrupted before the command started
            return self._finish(started, None, "KILLED", 128 + self.signals[0])
        try:
            fd = self._start()
        except OSError as exc:
            reason = _start_error(p.argv[0], exc)
            self.log.write(f"gitml: {reason}\n".encode())
            code = 126 if isinstance(exc, PermissionError) or exc.errno == errno.ENOEXEC else 127
            result = self._finish(started, None, "FAILED", code)
            raise LaunchError(
                f"{reason}; recorded as FAILED run {self.name} (`{result.show_hint}`)"
            ) from None
        if self.signals:
            self._forward(self.signals[-1])
        try:
            self._pump(fd)
            rc = self.child.wait()
        except BaseException:  # gitml itself failed: stop the command, record what we have
            self._forward(signal.SIGTERM)
            rc = self.child.wait()
            self._finish(started, rc, "FAILED", rc if rc >= 0 else 128 - rc)
            raise
        if self.signals:
            status, code = "KILLED", rc if rc >= 0 else 128 - rc
        elif rc < 0:
            status, code = "KILLED", 128 - rc
        else:
            status, code = ("FINISHED" if rc == 0 else "FAILED"), rc
        return self._finish(started, rc, status, code)

    # ------------------------------------------------------------ the child
    def _start(self) -> int:
        env = dict(os.environ)
        env["GITML_RUN_ID"] = self.run_id
        env["GITML_DIR"] = self.store.root or self.store.gitdir
        env["GITML_PARAMS"] = json.dumps(self.prepared.params, separators=(",", ":"))
        env.pop("GITML_EXPERIMENT", None)
        env.update(self.spec.env)
        if self.use_pty:
            master, slave = _open_pty()
            self._master_fd = master
            try:
                self.child = _popen(self.prepared.argv, env, slave, slave, self.spec.cwd)
            except BaseException:
                os.close(master)
                raise
            finally:
                os.close(slave)
            return master
        env.setdefault("PYTHONUNBUFFERED", "1")  # Python children stream through the pipe live
        read_end, write_end = os.pipe()
        try:
            self.child = _popen(self.prepared.argv, env, write_end, write_end, self.spec.cwd)
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        return read_end

    def _pump(self, fd: int) -> None:
        """Copy the command's output to the terminal and the log until it ends."""
        exited_at: float | None = None
        last_data = time.monotonic()
        last_checkpoint = time.monotonic()
        try:
            while True:
                try:
                    ready, _, _ = select.select([fd], [], [], 0.05)
                except InterruptedError:  # pragma: no cover - PEP 475 retries
                    ready = []
                now = time.monotonic()
                if ready:
                    try:
                        data = os.read(fd, 1 << 16)
                    except OSError as exc:
                        if exc.errno != errno.EIO:  # EIO: the pty's other side is closed
                            raise
                        data = b""
                    if not data:
                        break
                    last_data = now
                    self.log.write(data)
                    self._echo(data)
                if exited_at is None and self.child.poll() is not None:
                    exited_at = now
                if exited_at is not None and (
                    now - last_data > DRAIN_IDLE or now - exited_at > DRAIN_MAX
                ):
                    break  # background processes of the command still hold the output open
                if self.first_signal_at is not None and now - self.first_signal_at > _grace():
                    self._forward(signal.SIGKILL)
                    self.first_signal_at = None
                if now - last_checkpoint >= self.interval:
                    self._checkpoint()
                    last_checkpoint = time.monotonic()
        finally:
            os.close(fd)

    def _echo(self, data: bytes) -> None:
        if self.echo is None:
            return
        try:
            self.echo(data)
        except (OSError, ValueError):  # stdout closed (`gitml run ... | head`): keep recording
            self.echo = None

    def _checkpoint(self) -> None:
        try:
            self._set_log()
            self.writer.flush()
        except GitmlError as exc:
            self._warn(f"checkpoint of run {self.name} failed: {exc}")

    def _set_log(self) -> None:
        if self.log.total != self.logged_total:
            self.writer.set_entry(
                "output.log", (MODE_FILE, self.store.add_blob(self.log.getvalue()))
            )
            self.logged_total = self.log.total

    # ------------------------------------------------------------ signals
    def _install_signals(self) -> dict[int, Any]:
        previous: dict[int, Any] = {}
        if threading.current_thread() is not threading.main_thread():
            return previous
        for sig in FORWARDED_SIGNALS:
            previous[sig] = signal.signal(sig, self._on_signal)
        previous[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, self._on_winch)
        return previous

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.signals.append(signum)
        if self.first_signal_at is None:
            self.first_signal_at = time.monotonic()
        # a third interrupt means "now": no more grace
        self._forward(signal.SIGKILL if len(self.signals) >= 3 else signum)

    def _on_winch(self, signum: int, frame: Any) -> None:
        if self._master_fd is not None and self.child is not None:
            _copy_winsize(self._master_fd)
            self._forward(signal.SIGWINCH)

    def _forward(self, signum: int) -> None:
        child = self.child
        if child is None or child.returncode is not None:
            return
        try:
            os.killpg(child.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    # ------------------------------------------------------------ the end
    def _finish(self, started: float, rc: int | None, status: str, code: int) -> LaunchResult:
        duration = time.monotonic() - started
        w = self.writer
        self._collect_metrics()
        self._collect_outs()
        self._set_log()
        w.set_info(status=status, exit_code=code, end_time=iso(now_ms()))
        w.flush(force=True)
        return LaunchResult(
            run_id=self.run_id,
            name=self.name,
            status=status,
            exit_code=code,
            signal=self.signals[0] if self.signals else None,
            duration=duration,
            warnings=self.warnings,
            name_is_unique=self.spec.name is None or self._name_is_unique(),
        )

    def _name_is_unique(self) -> bool:
        from . import index

        return sum(1 for s in index.summaries(self.store) if s.get("name") == self.name) <= 1

    def _warn(self, text: str) -> None:
        self.warnings.append(text)
        self.message(f"gitml: warning: {text}")

    def _collect_metrics(self) -> None:
        files = [os.path.abspath(f) for f in self.prepared.metrics_files]
        for path, before in self.prepared.default_metrics.items():
            after = _stat_key(path)
            if after is not None and after != before and os.path.abspath(path) not in files:
                files.append(path)
        for path in files:
            if not os.path.exists(path):
                self._warn(f"metrics file {_rel(path)} was not written by the command")
                continue
            try:
                data = params_file.load_file(path, "metrics file")
            except GitmlError as exc:
                self._warn(f"{exc}; its metrics were not recorded")
                continue
            metrics, skipped = params_file.flatten_metrics(data)
            ts = now_ms()
            for key, value in metrics.items():
                self.writer.log_metric(key, value, 0, ts)
            if skipped:
                self._warn(
                    f"{_rel(path)}: not numbers or not valid keys, skipped: {', '.join(skipped)}"
                )

    def _collect_outs(self) -> None:
        cwd = os.path.abspath(self.spec.cwd or os.getcwd())  # where the command ran
        threshold = lfs_threshold(self.store) if self.spec.outs else 0
        for out in self.spec.outs:
            pattern = os.path.join(cwd, out)
            matches = (
                sorted(glob.glob(pattern, recursive=True))
                if glob.has_magic(pattern)
                else ([pattern] if os.path.lexists(pattern) else [])
            )
            if not matches:
                self._warn(f"--out {out} matched nothing; no artifact recorded for it")
                continue
            for path in matches:
                try:
                    dest = _artifact_dest(path, cwd)
                    if os.path.isdir(path) and not os.path.islink(path):
                        from .client import dir_tree

                        self.writer.set_entry(
                            f"artifacts/{dest}", (MODE_TREE, dir_tree(self.store, path))
                        )
                    else:
                        self.writer.set_entry(
                            f"artifacts/{dest}", add_file(self.store, path, threshold)
                        )
                except (GitmlError, OSError) as exc:
                    self._warn(f"--out {_rel(path)} could not be stored: {exc}")


def _artifact_dest(path: str, cwd: str) -> str:
    """Where an output lands under ``artifacts/``: its path relative to the cwd, else its name."""
    rel = os.path.relpath(os.path.abspath(path), cwd).replace(os.sep, "/")
    if rel.startswith("../") or rel == "..":
        rel = os.path.basename(os.path.abspath(path))
    try:
        return keys.artifact_path(rel) or os.path.basename(os.path.abspath(path))
    except GitmlError:
        return keys.artifact_path(os.path.basename(os.path.abspath(path)))  # '.git': refused


def _rel(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover - another drive
        return path
    return path if rel.startswith("..") else rel


def _grace() -> float:
    try:
        return float(os.environ.get("GITML_KILL_GRACE", KILL_GRACE))
    except ValueError:
        return KILL_GRACE


def _start_error(program: str, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        if os.sep in program:
            return f"cannot run {program!r}: no such file"
        return (
            f"cannot run {program!r}: command not found (check the spelling, PATH, or install it)"
        )
    if isinstance(exc, PermissionError):
        if os.path.isdir(program):
            return f"cannot run {program!r}: it is a directory"
        return f"cannot run {program!r}: permission denied (not executable; `chmod +x {program}`?)"
    if exc.errno == errno.ENOEXEC:
        return (
            f"cannot run {program!r}: not a program "
            "(a script needs a #! line, or run it with its interpreter)"
        )
    return f"cannot run {program!r}: {exc.strerror or exc}"


# ---------------------------------------------------------------------- process plumbing
def _popen(
    argv: list[str], env: dict[str, str], stdout: int, stderr: int, cwd: str | None = None
) -> Any:
    import subprocess

    return subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,  # LaunchSpec.cwd (gitml project run: the project folder)
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,  # its own process group: signals go to it and its children
        preexec_fn=_parent_death_signal(),
    )


def _parent_death_signal() -> Callable[[], None] | None:
    """Linux: a pre-exec hook making the command get SIGTERM if gitml itself dies (SIGKILL).

    Without it the command would run on, orphaned, its output going nowhere. libc is
    loaded here, in gitml, so the hook does one system call between fork and exec.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - no libc symbol table
        return None

    def hook() -> None:  # pragma: no cover - runs in the child
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    return hook


def _open_pty() -> tuple[int, int]:
    """A pseudo-terminal whose output bytes pass unchanged (no ``\\n`` → ``\\r\\n``)."""
    import pty
    import termios

    master, slave = pty.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    _copy_winsize(slave)
    return master, slave


def _copy_winsize(fd: int) -> None:
    import fcntl
    import termios

    try:
        size = fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, size)
    except (OSError, AttributeError, ValueError):
        pass


# ---------------------------------------------------------------------- stale runs
def mark_stale_killed(store: Store) -> list[str]:
    """Mark KILLED every RUNNING run whose recorded process on this host is gone.

    Such a run was left by a ``gitml run`` (or a Python process) killed with SIGKILL.
    Its end time is its last write. Returns the ids of the runs marked.
    """
    marked = []
    for summary in runs.list_summaries(store, include_deleted=True):
        if not runs.is_stale(summary):
            continue
        w = runs.open_writer(store, summary["run_id"], owner=True)
        if not runs.is_stale(w.record.summary()):  # it moved on since the listing
            continue
        assert w.record.commit is not None
        last_write = int(store.commit_info(w.record.commit).commit_time) * 1000
        start = parse_iso(w.record.info.get("start_time")) or last_write
        w.set_info(status="KILLED", end_time=iso(max(start, last_write)))
        w.flush()
        marked.append(summary["run_id"])
    return marked
