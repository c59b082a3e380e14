"""The HTTP server of ``gitml ui``: static pages, the JSON API under ``/api``, clean shutdown.

Routes (all GET/HEAD; the app is read-only)::

    /                                   runs table
    /runs/<run>                         run page (404 page when no run matches)
    /compare?runs=A,B[,C...]            compare page
    /static/<file>                      HTML/CSS/JS and the vendored chart library
    /api/health                         {"ok": true, "version"}
    /api/runs?experiment=&filter=&sort=&offset=&limit=&deleted=
    /api/runs/<run>                     run detail
    /api/runs/<run>/metric?key=K[&max_points=N]  one metric's history (min/max-sampled)
    /api/runs/<run>/artifacts/<path>    a file of the run (``?download=1``: as attachment)
    /api/runs/<run>/models/<path>       a file of a logged model
    /api/runs/<run>/log                 the whole output.log as text
    /api/runs/<run>/code-diff           code snapshot vs the baseline commit
    /api/compare?runs=A,B[,C...]        params/metrics/tags side by side
    /api/diff?a=A&b=B                   ``gitml diff A B --code`` as JSON
    /api/models                         registered models (versions, latest, aliases)
    /api/models/<name>                  every version of one model

API errors are JSON ``{"error_code", "message"}``: 400 bad request (a malformed filter,
a path escaping the run), 404 unknown run/file/endpoint, 405 other methods.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from .. import __version__
from ..errors import (
    AmbiguousRun,
    ArtifactError,
    FilterError,
    GitmlError,
    InvalidKey,
    InvalidValue,
    ModelError,
    RunNotFound,
)
from ..store import Store
from . import DEFAULT_HOST, DEFAULT_PORT, api

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
PAGES = {"/": "index.html", "/compare": "compare.html", "/models": "models.html"}
STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".md": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",
}
LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1"}
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'"
)
FILE_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"


class UIServer(ThreadingHTTPServer):
    """A threading HTTP server over one repository (``store``)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], store: Store) -> None:
        self.store = store
        self.lock = threading.Lock()  # one reader of the object store at a time
        self.summaries = api.SummaryCache()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, UIHandler)
        self.loopback = address[0] in LOOPBACK_NAMES or address[0].startswith("127.")

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        host = str(self.server_address[0])
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}/"


class UIHandler(BaseHTTPRequestHandler):
    """Routes a request to a page, a static file or an API function."""

    protocol_version = "HTTP/1.1"
    server_version = f"gitml-ui/{__version__}"
    server: UIServer
    head_only = False
    _held: list[tuple[int, bytes, str, dict[str, str] | None]] | None = None

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return  # quiet: a browser makes many requests

    # ----------------------------------------------------------------- responses
    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        if self._held is not None:  # answering under the store lock: send after releasing it
            self._held.append((status, body, content_type, headers))
            return
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-cache")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not self.head_only:
            self.wfile.write(body)

    def _json(self, data: Any, status: int = 200) -> None:
        self._send(status, api.to_json(data), "application/json")

    def _error(self, status: int, code: str, message: str) -> None:
        self._json({"error_code": code, "message": message}, status)

    def _page(self, name: str, status: int = 200) -> None:
        with open(os.path.join(STATIC_DIR, name), "rb") as f:
            body = f.read()
        self._send(status, body, STATIC_TYPES[".html"], {"Content-Security-Policy": PAGE_CSP})

    def _not_found_page(self) -> None:
        self._page("404.html", 404)

    # ----------------------------------------------------------------- methods
    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self.head_only = True
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        if not self._host_allowed():
            self._error(403, "FORBIDDEN", "this server answers only to localhost names")
            return
        parts = urlsplit(self.path)
        path, params = parts.path, parse_qs(parts.query, keep_blank_values=True)
        try:
            if path == "/api" or path.startswith("/api/"):
                self._api(path[4:], params)
            elif path.startswith("/static/"):
                self._static(path[len("/static/") :])
            elif path in PAGES:
                self._page(PAGES[path])
            elif path.startswith("/runs/") and path.count("/") == 2 and len(path) > 6:
                self._run_page(unquote(path[6:]))
            else:
                self._not_found_page()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _method_not_allowed(self) -> None:
        self.close_connection = True
        self._error(405, "METHOD_NOT_ALLOWED", "gitml ui is read-only: use GET")

    do_POST = do_PUT = do_DELETE = do_PATCH = _method_not_allowed  # noqa: N815

    def _host_allowed(self) -> bool:
        """On loopback, answer only to loopback names (DNS rebinding protection)."""
        if not self.server.loopback:
            return True
        host = self.headers.get("Host", "")
        if host.startswith("["):
            name = host[1 : host.find("]")] if "]" in host else host
        else:
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        return not host or name.lower() in LOOPBACK_NAMES or name.startswith("127.")

    # ----------------------------------------------------------------- pages
    def _run_page(self, run: str) -> None:
        try:
            with self.server.lock:
                api.resolve(self.server.store, run)
        except RunNotFound:
            self._not_found_page()
            return
        except AmbiguousRun:
            pass  # the page shows the candidates the API lists
        self._page("run.html")

    def _static(self, rel: str) -> None:
        parts = [unquote(p) for p in rel.split("/")]
        if any(p in ("", ".", "..") or "/" in p or "\\" in p or "\0" in p for p in parts):
            self._not_found_page()
            return
        full = os.path.join(STATIC_DIR, *parts)
        if not os.path.isfile(full):
            self._not_found_page()
            return
        with open(full, "rb") as f:
            body = f.read()
        ext = os.path.splitext(full)[1].lower()
        kind = STATIC_TYPES.get(ext, "application/octet-stream")
        self._send(200, body, kind)

    # ----------------------------------------------------------------- API
    def _api(self, path: str, params: dict[str, list[str]]) -> None:
        segments = [unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []
        self._held = []
        try:
            with self.server.lock:
                self._route(segments, params)
        except FilterError as exc:
            self._fail(400, "INVALID_FILTER", str(exc))
        except (InvalidValue, InvalidKey, ArtifactError, AmbiguousRun) as exc:
            self._fail(400, "BAD_REQUEST", str(exc))
        except RunNotFound as exc:
            self._fail(404, "NOT_FOUND", str(exc))
        except GitmlError as exc:
            self._fail(500, "ERROR", str(exc))
        except Exception as exc:  # noqa: BLE001 - report, keep serving
            traceback.print_exc(file=sys.stderr)
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            self._fail(500, "INTERNAL_ERROR", f"the server failed: {last}")
        held, self._held = self._held, None
        for response in held:  # a slow client never holds the lock
            self._send(*response)

    def _fail(self, status: int, code: str, message: str) -> None:
        """Answer with an error instead of anything held so far."""
        self._held = []
        self._error(status, code, message)

    def _route(self, seg: list[str], params: dict[str, list[str]]) -> None:
        store = self.server.store
        if seg == ["health"]:
            self._json({"ok": True, "version": __version__, "root": store.root})
        elif seg == ["runs"]:
            self._json(api.listing(
                store,
                experiment=_all(params, "experiment"),
                filter=_one(params, "filter"),
                sort=[s for s in params.get("sort", []) if s.strip()],
                offset=_int(params, "offset", 0),
                limit=_int(params, "limit", api.DEFAULT_LIMIT),
                deleted=_one(params, "deleted") in ("1", "true", "yes"),
                cache=self.server.summaries,
            ))  # fmt: skip
        elif len(seg) == 2 and seg[0] == "runs":
            self._json(api.run_detail(store, seg[1], cache=self.server.summaries))
        elif len(seg) == 3 and seg[0] == "runs" and seg[2] == "metric":
            key = _one(params, "key")
            if not key:
                raise InvalidValue("give the metric: /api/runs/RUN/metric?key=KEY")
            most = _int(params, "max_points", 0)
            self._json(api.metric_history(store, seg[1], key, max_points=most or None))
        elif len(seg) >= 3 and seg[0] == "runs" and seg[2] in ("artifacts", "models"):
            self._file(seg[1], "/".join(seg[3:]), seg[2], _one(params, "download") == "1")
        elif seg[:1] == ["runs"] and len(seg) == 3 and seg[2] == "log":
            log = api.output_log(store, seg[1])
            if log is None:
                self._error(404, "NOT_FOUND", f"run {seg[1]} has no output log")
            else:
                self._send(200, log.encode(), "text/plain; charset=utf-8")
        elif seg[:1] == ["runs"] and len(seg) == 3 and seg[2] == "code-diff":
            self._json(api.baseline_diff(store, seg[1]))
        elif seg == ["compare"]:
            texts = [t for item in params.get("runs", []) for t in item.split(",")]
            self._json(api.compare(store, texts))
        elif seg == ["models"]:
            self._json(api.models(store))
        elif len(seg) == 2 and seg[0] == "models":
            try:
                self._json(api.model(store, seg[1]))
            except ModelError as exc:  # an unknown (or impossible) model name
                self._error(404, "NOT_FOUND", str(exc))
        elif seg == ["diff"]:
            a, b = _one(params, "a"), _one(params, "b")
            if not a or not b:
                raise InvalidValue("give two runs: /api/diff?a=RUN_A&b=RUN_B")
            self._json(api.code_diff(store, a, b))
        else:
            self._error(404, "ENDPOINT_NOT_FOUND", f"no endpoint /api/{'/'.join(seg)}")

    def _file(self, run: str, path: str, top: str, download: bool) -> None:
        found = api.run_file(self.server.store, run, path, top)
        if found is None:
            self._error(404, "NOT_FOUND", f"run {run} has no file {top}/{path}")
            return
        disposition = "attachment" if download else "inline"
        headers = {
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(found.name)}",
            "Content-Security-Policy": FILE_CSP,
        }
        self._send(200, found.data, found.content_type, headers)


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def _all(params: dict[str, list[str]], name: str) -> list[str]:
    return [v for item in params.get(name, []) for v in item.split(",") if v]


def _int(params: dict[str, list[str]], name: str, default: int) -> int:
    text = _one(params, name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise InvalidValue(f"invalid {name} {text!r}: use a whole number") from None


# --------------------------------------------------------------------------- running


def make_server(store: Store, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> UIServer:
    """A bound, listening UIServer over ``store`` (call ``serve_forever``).

    Raises:
        InvalidValue: the address cannot be bound (in use, not an address of this machine).
    """
    try:
        return UIServer((host, port), store)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InvalidValue(
            f"cannot listen on {host}:{port} ({reason}); choose another --port or --host"
        ) from None


def serve(
    store: Store,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    ready: Callable[[UIServer], None] | None = None,
) -> None:
    """Serve the UI until SIGINT or SIGTERM, then close the socket and return.

    Args:
        store: the repository to show.
        host: address to bind (127.0.0.1 unless told otherwise).
        port: port to bind; 0 picks a free one.
        ready: called with the listening server (e.g. to print its URL).
    """
    from ..shutdown import on_signals

    server = make_server(store, host, port)
    with on_signals(server):
        try:
            if ready is not None:
                ready(server)
            server.serve_forever(poll_interval=0.2)
        finally:
            server.server_close()
