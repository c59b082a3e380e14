"""The scoring server as a real process (`gitml models serve`), driven over HTTP on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import gitml
from gitml.models import PythonModel
from gitml.models.signature import ColSpec, ModelSignature, ParamSchema, ParamSpec, Schema

ROOT = str(Path(gitml.__file__).resolve().parents[1])


def gitml_command() -> list[str]:
    """The installed ``gitml`` entry point, or the same CLI through this interpreter."""
    exe = shutil.which("gitml")
    return [exe] if exe else [sys.executable, "-c", "from gitml.cli import main; main()"]


class Scale(PythonModel):
    def predict(self, context, model_input, params=None):
        if (model_input["a"] < 0).any():
            raise ValueError("negative a")
        scale = params["scale"]
        return pd.DataFrame({"y": model_input["a"] * scale + model_input["b"]})


SIG = ModelSignature(
    Schema([ColSpec("double", "a"), ColSpec("long", "b")]),
    Schema([ColSpec("double", "y")]),
    ParamSchema([ParamSpec("scale", "double", 1.0)]),
)


class Server:
    """A `gitml models serve` process on a free port, with helpers to talk to it."""

    def __init__(self, uri: str, *args: str, cwd: str | None = None):
        env = {**os.environ, "PYTHONPATH": ROOT, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [*gitml_command(), "models", "serve", uri, "--port", "0", *args],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.banner = self._read_line(timeout=60)
        match = re.search(r"http://127\.0\.0\.1:(\d+)", self.banner)
        assert match, (
            f"no banner: {self.banner!r} {self.proc.stderr.read() if self.proc.poll() is not None else ''}"
        )
        self.port = int(match.group(1))

    def _read_line(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        buf = b""
        while not buf.endswith(b"\n"):
            ready, _, _ = select.select(
                [self.proc.stderr], [], [], max(deadline - time.monotonic(), 0)
            )
            if not ready:
                raise AssertionError(f"server gave no banner within {timeout} s")
            chunk = os.read(self.proc.stderr.fileno(), 1)
            if not chunk:
                break
            buf += chunk
        return buf.decode()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
    ):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        hdrs = dict(headers or {})
        if content_type is not None:
            hdrs["Content-Type"] = content_type
        conn.request(
            method, path, body=body.encode() if isinstance(body, str) else body, headers=hdrs
        )
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, resp.getheader("Content-Type"), data

    def invoke(self, payload, content_type="application/json"):
        body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
        status, ctype, data = self.request("POST", "/invocations", body, content_type)
        return status, json.loads(data)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        finally:
            self.proc.stdout.close()
            self.proc.stderr.close()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("serve") / "scale"
    gitml.pyfunc.save_model(Scale(), path, signature=SIG, code_paths=[__file__])  # Scale lives here
    return str(path)


@pytest.fixture(scope="module")
def server(model_dir):
    s = Server(model_dir, "--max-body", "20000")
    yield s
    assert s.stop() == 0


# ------------------------------------------------------------------ protocol


def test_health_and_version(server):
    assert server.banner.startswith(
        f"Serving {server.proc.args[3]} on http://127.0.0.1:"
    )  # binds loopback by default
    for path in ("/ping", "/health"):
        status, _, body = server.request("GET", path, content_type=None)
        assert (status, body) == (200, b"\n")
    status, ctype, body = server.request("GET", "/version", content_type=None)
    assert (status, body.decode()) == (200, gitml.__version__)


@pytest.mark.parametrize(
    "payload",
    [
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 2], [3.0, 4]]}},
        {"dataframe_split": {"columns": ["b", "a"], "data": [[2, 1.0], [4, 3.0]], "index": [7, 8]}},
        {"dataframe_records": [{"a": 1.0, "b": 2}, {"b": 4, "a": 3}]},
        {"instances": [{"a": 1.0, "b": 2}, {"a": 3.0, "b": 4}]},
        {"inputs": {"a": [1.0, 3.0], "b": [2, 4]}},
        {"inputs": [[1.0, 2], [3.0, 4]]},
        {"inputs": [{"a": 1.0, "b": 2}, {"a": 3.0, "b": 4}]},
    ],
)
def test_every_json_format(server, payload):
    status, body = server.invoke(payload)
    assert status == 200, body
    assert body == {"predictions": [{"y": 3.0}, {"y": 7.0}]}


def test_mlflow_scoring_client_works_unchanged(server):
    """MLflow's own scoring client and serving-input converter talk to gitml's server."""
    pytest.importorskip("mlflow")
    import numpy as np
    from mlflow.models.utils import convert_input_example_to_serving_input
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    client = ScoringServerClient("127.0.0.1", server.port)
    client.wait_server_ready(timeout=10)
    frame = pd.DataFrame({"b": [2, 4], "a": [1.0, 3.0]})
    expected = {"predictions": [{"y": 3.0}, {"y": 7.0}]}
    assert client.invoke(frame) == expected
    assert client.invoke(frame, params={"scale": 2.0}) == {"predictions": [{"y": 4.0}, {"y": 10.0}]}
    assert client.invoke(np.array([[1.0, 2], [3.0, 4]])) == expected
    status, body = server.invoke(convert_input_example_to_serving_input(frame))
    assert (status, body) == (200, expected)


def test_params_and_charset(server):
    payload = {"dataframe_records": [{"a": 1.0, "b": 2}], "params": {"scale": 10}}
    status, _, data = server.request(
        "POST", "/invocations", json.dumps(payload), "application/json; charset=utf-8"
    )
    assert status == 200 and json.loads(data) == {"predictions": [{"y": 12.0}]}


def test_csv(server):
    status, body = server.invoke("b,a\n2,1.0\n4,3.0\n", "text/csv")
    assert (status, body) == (200, {"predictions": [{"y": 3.0}, {"y": 7.0}]})
    status, body = server.invoke("a,b\n1.5,1\n", "text/csv; charset=UTF-8")
    assert (status, body) == (200, {"predictions": [{"y": 2.5}]})


def test_keep_alive_and_chunked_bodies(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    body = json.dumps({"inputs": {"a": [1.0], "b": [1]}})
    for _ in range(20):  # one connection, many requests
        conn.request(
            "POST", "/invocations", body=body, headers={"Content-Type": "application/json"}
        )
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read()) == {"predictions": [{"y": 2.0}]}
    conn.request("POST", "/invocations", body=iter([body[:5].encode(), body[5:].encode()]),
                 headers={"Content-Type": "application/json"}, encode_chunked=True)  # fmt: skip
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read()) == {"predictions": [{"y": 2.0}]}
    conn.close()


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "body, message",
    [
        ("{not json", "the body is not valid JSON"),
        ("[1, 2]", "the JSON body must be an object with one of dataframe_split"),
        (
            {"x": 1},
            "needs exactly one of dataframe_split, dataframe_records, instances, inputs; it has: x",
        ),
        ({"inputs": [1], "instances": [1]}, "needs exactly one of"),
        ({"inputs": [[1.0, 2]], "extra": 1}, "unknown field(s) in the JSON body: extra"),
        ({"inputs": [[1.0, 2]], "params": [1]}, "params must be a JSON object"),
        (
            {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0]]}},
            "every row of 'data' must be a list of 2 values",
        ),
        ({"dataframe_split": [1]}, "dataframe_split must be an object"),
        ({"dataframe_records": {"a": 1}}, "dataframe_records must be a list of objects"),
        ({"inputs": [[1, 2], [3]]}, "inputs is a ragged list"),
        (
            {"dataframe_records": [{"a": 1.0}]},
            "the input is missing column 'b' (the model expects columns: a, b)",
        ),
        (
            {"dataframe_records": [{"a": "x", "b": 1}]},
            "column 'a' has type str, the model expects double",
        ),
        (
            {"dataframe_records": [{"a": 1.0, "b": 1}], "params": {"scale": "big"}},
            "param 'scale' must be double, got 'big'",
        ),
        (
            {"dataframe_records": [{"a": -1.0, "b": 1}]},
            "the model failed on this input (ValueError: negative a)",
        ),
    ],
)
def test_bad_payloads_are_400_with_a_json_error(server, body, message):
    status, answer = server.invoke(body)
    assert status == 400
    assert answer["error_code"] == "BAD_REQUEST"
    assert message in answer["message"], answer["message"]


def test_bad_csv_is_400(server):
    status, answer = server.invoke("", "text/csv")
    assert status == 400 and "the CSV body is empty" in answer["message"]
    status, answer = server.invoke('a,b\n"1,2\n', "text/csv")
    assert status == 400 and "not valid CSV" in answer["message"]


@pytest.mark.parametrize(
    "content_type, message",
    [
        ("text/plain", "unsupported content type 'text/plain': send application/json or text/csv"),
        ("application/xml", "unsupported content type"),
        (None, "unsupported content type '(none)'"),
        ("application/json; charset=latin-1", "unsupported charset 'latin-1'"),
        ("application/json; format=pandas-split", "unsupported content type parameter 'format'"),
    ],
)
def test_other_content_types_are_415(server, content_type, message):
    status, ctype, data = server.request(
        "POST", "/invocations", '{"inputs": [[1.0, 2]]}', content_type
    )
    assert status == 415 and ctype == "application/json"
    answer = json.loads(data)
    assert answer["error_code"] == "BAD_REQUEST" and message in answer["message"]


def test_oversized_body_is_413(server):
    body = json.dumps({"inputs": {"a": [1.0] * 5000, "b": [1] * 5000}})
    assert len(body) > 20000
    status, answer = server.invoke(body)
    assert status == 413 and "more than the limit of 20000" in answer["message"]
    # chunked bodies are limited too
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request(
        "POST",
        "/invocations",
        body=iter([body.encode()]),
        headers={"Content-Type": "application/json"},
        encode_chunked=True,
    )
    resp = conn.getresponse()
    assert resp.status == 413
    resp.read()
    # a moderately oversized body is read away: the same connection keeps working
    small = json.dumps({"inputs": {"a": [1.0], "b": [0]}})
    conn.request("POST", "/invocations", body=small, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read()) == {"predictions": [{"y": 1.0}]}
    conn.close()


def test_unknown_paths_are_404_and_missing_length_411(server):
    status, _, data = server.request("GET", "/nope", content_type=None)
    assert status == 404 and json.loads(data)["error_code"] == "ENDPOINT_NOT_FOUND"
    status, _, data = server.request("POST", "/predict", "{}")
    assert status == 404 and "POST to /invocations" in json.loads(data)["message"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(
            b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n"
        )
        reply = s.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 411") and "Content-Length" in reply


# ------------------------------------------------------------------ lifecycle


def test_sigterm_finishes_cleanly(model_dir):
    s = Server(model_dir)
    assert s.invoke({"inputs": {"a": [1.0], "b": [1]}})[0] == 200
    assert s.stop() == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", s.port), timeout=2).close()


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry))
    return kids


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc to see worker processes")
def test_workers_share_the_socket(model_dir):
    s = Server(model_dir, "--workers", "3")
    try:
        deadline = time.monotonic() + 10
        while len(_children(s.proc.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = _children(s.proc.pid)
        assert len(workers) == 3
        for i in range(30):
            assert s.invoke({"inputs": {"a": [float(i)], "b": [0]}}) == (
                200,
                {"predictions": [{"y": float(i)}]},
            )
        # a worker that dies is replaced
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 10
        while (
            workers[0] in _children(s.proc.pid) or len(_children(s.proc.pid)) < 3
        ) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_children(s.proc.pid)) == 3
        assert s.invoke({"inputs": {"a": [1.0], "b": [1]}})[0] == 200
    finally:
        assert s.stop() == 0
    assert not [w for w in workers if os.path.exists(f"/proc/{w}")], "workers outlive the server"


def test_serve_a_registered_model_from_a_repository(repo):
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [1, 5, 2, 7]})
    clf = LogisticRegression().fit(X, [0, 1, 0, 1])
    with gitml.start_run():
        gitml.sklearn.log_model(clf, "model", input_example=X[:2], registered_model_name="churn")
    gitml.models.registry.set_alias("churn", "champion", 1)
    s = Server("models:/churn@champion", cwd=str(repo.path))
    try:
        status, body = s.invoke(
            {"dataframe_split": {"columns": ["b", "a"], "data": [[1, 1.0], [7, 4.0]]}}
        )
        assert status == 200 and body == {"predictions": clf.predict(X.iloc[[0, 3]]).tolist()}
        status, body = s.invoke("a,b\n1.0,1\n", "text/csv")
        assert status == 200 and body == {"predictions": clf.predict(X[:1]).tolist()}
    finally:
        assert s.stop() == 0


def test_serve_errors_exit_1_with_one_line(tmp_path):
    out = subprocess.run([*gitml_command(), "models", "serve", str(tmp_path / "none")],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT}, timeout=60)  # fmt: skip
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        f"Error: no model at {str(tmp_path / 'none')!r}: the directory does not exist"
    ]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        gitml.pyfunc.save_model(lambda x: x, tmp_path / "m")
        out = subprocess.run([*gitml_command(), "models", "serve", str(tmp_path / "m"), "--port", str(port)],
                             capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT}, timeout=60)  # fmt: skip
    assert out.returncode == 1
    assert (
        f"Error: cannot listen on 127.0.0.1:{port}" in out.stderr
        and "choose another --port" in out.stderr
    )
