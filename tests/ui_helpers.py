"""Helpers of the ``gitml ui`` tests: a generated repository and a real server process."""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import signal
import struct
import subprocess
import time
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conftest import IDENTITY, git


def png(width: int = 8, height: int = 8) -> bytes:
    """A real PNG image: a red-to-blue gradient."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(
        b"\0" + b"".join(bytes((255 * x // width, 64, 255 * y // height)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = png()
MLMODEL = """\
artifact_path: model
flavors:
  python_function:
    loader_module: gitml.pyfunc
    python_version: 3.11.7
  sklearn:
    sklearn_version: 1.5.0
model_uuid: 0f0e0d0c
run_id: null
signature:
  inputs: '[{"type": "double", "name": "x", "required": true}, {"type": "string", "name":
    "city", "required": false}]'
  outputs: '[{"type": "long", "required": true}]'
  params: null
utc_time_created: '2026-01-01 00:00:00.000000'
"""
LOSS_POINTS = 12


def env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a server process: the test's, with a git identity."""
    out = {**os.environ, **IDENTITY, "GIT_CONFIG_NOSYSTEM": "1"}
    for key in ("GITML_RUN_ID", "GITML_DIR"):
        out.pop(key, None)
    out.update(extra or {})
    return out


def make_repo(path: Path) -> dict[str, str]:
    """A repository with four runs (one deleted); returns {name: run id}.

    - ``alpha`` (mnist): lr 0.1, adam; loss (12 points) and acc histories, a NaN metric;
      artifacts config.yaml, plots/curve.png, data.bin, notes.txt; a model with a
      signature; an output.log; dirty code (train.py changed).
    - ``beta`` (mnist): lr 0.01, adam; loss only.
    - ``gamma/γ 1`` (cifar): lr 0.001, sgd; no metrics, no artifacts.
    - ``ghost``: deleted.
    """
    from gitml import runs
    from gitml.client import Client, text_artifact
    from gitml.record import iso
    from gitml.store import MODE_FILE, Store

    path.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=path)
    (path / "train.py").write_text("lr = 0.1\nprint('training')\n")
    git("add", "train.py", cwd=path)
    git("commit", "-q", "-m", "init", cwd=path)
    (path / "train.py").write_text("lr = 0.1\nprint('training harder')\n")
    store = Store.discover(str(path))
    ids: dict[str, str] = {}
    base = 1_767_225_600_000  # 2026-01-01T00:00:00Z

    def finish(w: runs.RunWriter, status: str = "FINISHED") -> None:
        w.set_info(status=status, end_time=iso(base + 60_000))
        w.flush()
        ids[str(w.view().info["name"])] = w.run_id

    w = runs.create(store, experiment="mnist", name="alpha", params={"lr": 0.1, "optim": "adam"},
                    tags={"team": "vision"}, start_time=base + 3000, pid=0)  # fmt: skip
    for step in range(LOSS_POINTS):
        w.log_metric("loss", 1.0 / (step + 1), step=step, timestamp=base + step)
        w.log_metric("acc", step / LOSS_POINTS, step=step, timestamp=base + step)
    w.log_metric("weird", 2.0, step=0, timestamp=base)
    w.log_metric("weird", math.nan, step=1, timestamp=base + 1)
    text_artifact(w, "a: 1\nb: [1, 2]\n", "config.yaml")
    text_artifact(w, "some notes\n", "notes.txt")
    w.set_entry("artifacts/plots/curve.png", (MODE_FILE, store.add_blob(PNG)))
    w.set_entry("artifacts/data.bin", (MODE_FILE, store.add_blob(b"\x00\x01\x02binary")))
    w.set_entry("output.log", (MODE_FILE, store.add_blob(b"epoch 1\nepoch 2\ndone\n")))
    finish(w)
    model_dir = path.parent / "model-src"
    model_dir.mkdir()
    (model_dir / "MLmodel").write_text(MLMODEL)
    (model_dir / "model.pkl").write_bytes(b"\x80\x04N.")
    Client(str(path)).log_model_dir(ids["alpha"], str(model_dir), "model")

    w = runs.create(store, experiment="mnist", name="beta", params={"lr": 0.01, "optim": "adam"},
                    tags={"team": "vision"}, start_time=base + 2000, pid=0)  # fmt: skip
    for step in range(5):
        w.log_metric("loss", 2.0 / (step + 1), step=step, timestamp=base + step)
    finish(w)

    gamma = {"lr": 0.001, "optim": "sgd"}
    w = runs.create(store, experiment="cifar", name="gamma/γ 1", params=gamma,
                    start_time=base + 1000, pid=0)  # fmt: skip
    finish(w, "FAILED")

    w = runs.create(
        store, experiment="mnist", name="ghost", params={"lr": 0.5}, start_time=base, pid=0
    )
    finish(w)
    runs.set_lifecycle(store, ids["ghost"], "deleted")
    return ids


class UI:
    """A ``gitml ui --port 0`` process serving ``cwd``; ``base`` is its URL."""

    def __init__(
        self, cwd: Path, extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()
    ):
        self.proc = subprocess.Popen(
            ["gitml", "ui", "--port", "0", *args], cwd=cwd, env=env(extra_env),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"http://\S+", line)
        if not match:
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
            raise AssertionError(f"gitml ui printed no URL: {line!r} {err}")
        self.base = match.group(0)
        parts = urlsplit(self.base)
        self.host, self.port = parts.hostname or "127.0.0.1", int(parts.port or 80)

    def get(
        self, path: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """A raw request (the path is sent as written: no normalization of ``..``)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, headers=headers or {})
            response = conn.getresponse()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            conn.close()

    def json(self, path: str) -> tuple[int, Any]:
        status, headers, body = self.get(path)
        assert headers["content-type"].startswith("application/json"), headers
        return status, json.loads(body)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        """Stop the server with ``sig``; returns its exit code and stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            _, err = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return self.proc.returncode, err


def wait_until(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
