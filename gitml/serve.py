"""A REST scoring server for one model, speaking MLflow's scoring protocol.

``GET /ping``, ``/health`` (200 when the model is loaded), ``/version``; ``POST /invocations``
with ``application/json`` (``dataframe_split``, ``dataframe_records``, ``instances``,
``inputs``, optional ``params``) or ``text/csv``; answers ``{"predictions": [...]}``.
Errors are JSON ``{"error_code": ..., "message": ...}``: 400 bad payload, 404 unknown path,
411 missing length, 413 body too large, 415 other content types.

It runs on the standard library's threading HTTP server; ``workers > 1`` pre-forks
processes that share the listening socket. SIGTERM and SIGINT stop it cleanly: no new
connections, in-flight requests finish.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
import traceback
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import __version__
from .errors import GitmlError, ModelError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
DEFAULT_MAX_BODY = 64 * 1024 * 1024
DRAIN_SECONDS = 10.0
DRAIN_BYTES = 16 * 1024 * 1024  # an oversized body up to this much beyond the limit is read away


class ScoringServer(ThreadingHTTPServer):
    """An HTTP server holding a loaded model (``model``: a PyFuncModel)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        model: Any,
        max_body: int = DEFAULT_MAX_BODY,
        bind: bool = True,
    ):
        self.model = model
        self.max_body = max_body
        self.in_flight = 0
        self._lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, ScoringHandler, bind_and_activate=bind)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class ScoringHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"gitml/{__version__}"
    disable_nagle_algorithm = True
    server: ScoringServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return  # no access log: it costs throughput; errors are reported below

    # ----------------------------------------------------------------- responses
    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        reason = self.responses.get(status, ("",))[0]
        head = (
            f"HTTP/1.1 {status} {reason}\r\n"
            f"Server: {self.server_version}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n"
        )
        if self.close_connection:
            head += "Connection: close\r\n"
        self.wfile.write(head.encode("latin-1") + b"\r\n" + body)

    def _error(self, status: int, code: str, message: str) -> None:
        self._send(status, json.dumps({"error_code": code, "message": message}).encode())

    # ----------------------------------------------------------------- GET
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        if path in ("/ping", "/health"):
            self._send(200, b"\n")
        elif path == "/version":
            self._send(200, __version__.encode(), "text/plain; charset=utf-8")
        else:
            self._error(
                404,
                "ENDPOINT_NOT_FOUND",
                f"no endpoint {path}: use /ping, /health, /version or POST /invocations",
            )

    # ----------------------------------------------------------------- POST
    def do_POST(self) -> None:  # noqa: N802
        with self.server._lock:
            self.server.in_flight += 1
        try:
            self._invocations()
        finally:
            with self.server._lock:
                self.server.in_flight -= 1

    def _invocations(self) -> None:
        path = self.path.split("?", 1)[0]
        body = self._read_body()
        if body is None:
            return
        if path != "/invocations":
            self._error(404, "ENDPOINT_NOT_FOUND", f"no endpoint {path}: POST to /invocations")
            return
        content_type = self.headers.get("Content-Type", "")
        mime, _, rest = content_type.partition(";")
        mime = mime.strip().lower()
        charset = "utf-8"
        for part in rest.split(";"):
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset":
                charset = value.strip().strip('"').lower()
            elif key:
                self._error(
                    415,
                    "BAD_REQUEST",
                    f"unsupported content type parameter {key!r}: only charset is allowed",
                )
                return
        if mime not in ("application/json", "text/csv"):
            self._error(
                415, "BAD_REQUEST",
                f"unsupported content type {content_type or '(none)'!r}: send application/json or text/csv",
            )  # fmt: skip
            return
        if charset not in ("utf-8", "utf8"):
            self._error(
                415, "BAD_REQUEST", f"unsupported charset {charset!r}: the server reads UTF-8 only"
            )
            return
        self._predict(mime, body)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            self.close_connection = True
            self._error(
                411,
                "BAD_REQUEST",
                "the request has no Content-Length: send the body with its length",
            )
            return None
        try:
            length = int(length_text)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            self._error(400, "BAD_REQUEST", f"invalid Content-Length {length_text!r}")
            return None
        if length > self.server.max_body:
            # read a moderate excess away so the client can finish sending and read the
            # answer; a huge one is cut off (closing the connection) instead
            if length <= self.server.max_body + DRAIN_BYTES:
                self._discard(length)
            else:
                self.close_connection = True
            self._error(
                413,
                "BAD_REQUEST",
                f"the body has {length} bytes, more than the limit of {self.server.max_body}",
            )
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | None:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                self._error(400, "BAD_REQUEST", "malformed chunked body")
                return None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > self.server.max_body:
                self._discard(size + 2)  # this chunk and its CRLF
                total = self._discard_chunks(total)
                if total > self.server.max_body + DRAIN_BYTES:
                    self.close_connection = True
                self._error(
                    413,
                    "BAD_REQUEST",
                    f"the body is larger than the limit of {self.server.max_body} bytes",
                )
                return None
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _discard(self, n: int) -> None:
        while n > 0:
            got = len(self.rfile.read(min(n, 1 << 16)))
            if not got:
                self.close_connection = True
                return
            n -= got

    def _discard_chunks(self, total: int) -> int:
        """Skip the remaining chunks (up to the drain limit); returns the bytes seen."""
        while total <= self.server.max_body + DRAIN_BYTES:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                return total + DRAIN_BYTES + self.server.max_body + 1  # malformed: close
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return total
            total += size
            self._discard(size + 2)
        return total

    def _predict(self, mime: str, body: bytes) -> None:
        from .models.payload import parse_csv, parse_json, predictions_json

        model = self.server.model
        sig = model.metadata.signature
        schema = sig.inputs if sig is not None else None
        try:
            if mime == "text/csv":
                data, params = parse_csv(body, schema), None
            else:
                data, params = parse_json(body, schema)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                predictions = model.predict(data, params=params)
            out = predictions_json(predictions)
        except GitmlError as e:
            self._error(400, "BAD_REQUEST", str(e))
            return
        except Exception as e:  # the model's own failure: report it, keep serving
            last = traceback.format_exception_only(type(e), e)[-1].strip()
            print(f"gitml serve: prediction failed: {last}", file=sys.stderr, flush=True)
            self._error(
                400, "BAD_REQUEST",
                f"the model failed on this input ({last}); check the input matches what the model was trained on",
            )  # fmt: skip
            return
        self._send(200, out)


def make_server(
    model: Any, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, max_body: int = DEFAULT_MAX_BODY
) -> ScoringServer:
    """A bound, listening ScoringServer for a loaded model (call ``serve_forever``)."""
    try:
        return ScoringServer((host, port), model, max_body)
    except OSError as e:
        raise ModelError(
            f"cannot listen on {host}:{port}: {e.strerror}; choose another --port"
        ) from None


def serve(
    model_uri: str,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    workers: int = 1,
    max_body: int = DEFAULT_MAX_BODY,
    ready: Any = None,
) -> None:
    """Load the model at ``model_uri`` and serve it until SIGTERM/SIGINT.

    Args:
        model_uri: ``runs:/``, ``models:/`` or a local path.
        host: address to bind (127.0.0.1 unless told otherwise).
        port: port to bind (0 picks a free one).
        workers: processes serving the same socket (pre-forked after loading the model).
        max_body: largest accepted request body in bytes (larger is 413).
        ready: called with the bound port once the server accepts connections.
    """
    from .models.api import load_model

    if workers < 1:
        raise ModelError(f"--workers must be at least 1, got {workers}")
    if max_body < 1:
        raise ModelError(f"--max-body must be positive, got {max_body}")
    model = load_model(model_uri)
    server = make_server(model, host, port, max_body)
    if ready is not None:
        ready(server.port)
    if workers == 1:
        _run_until_signal(server)
    else:
        _prefork(server, workers)


def _run_until_signal(server: ScoringServer) -> None:
    from .shutdown import on_signals

    with on_signals(server):
        try:
            server.serve_forever(poll_interval=0.2)
        finally:
            server.socket.close()  # no new connections
            deadline = time.monotonic() + DRAIN_SECONDS
            while server.in_flight and time.monotonic() < deadline:
                time.sleep(0.01)


def _prefork(server: ScoringServer, workers: int) -> None:
    children: set[int] = set()
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # child: serve on the inherited socket
            children.clear()
            code = 0
            try:
                _run_until_signal(server)
            except BaseException:  # noqa: BLE001 - a child must never return into the parent's code
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        children.add(pid)

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    # every worker wakes up for a new connection and one wins it; a blocking accept would
    # leave the others stuck in accept(), deaf to shutdown
    server.socket.setblocking(False)
    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for _ in range(workers):
            spawn()
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            children.discard(pid)
            if not stopping:
                print(
                    f"gitml serve: worker {pid} exited ({status}); starting another",
                    file=sys.stderr,
                    flush=True,
                )
                time.sleep(0.1)
                spawn()
    finally:
        server.socket.close()
        for s, handler in old.items():
            signal.signal(s, handler)


def describe_bind(host: str, port: int) -> str:
    """``http://host:port`` (IPv6 hosts in brackets)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def free_port(host: str = DEFAULT_HOST) -> int:
    """A port that is free right now on ``host`` (for tests and benchmarks)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
