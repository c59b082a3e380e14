"""``gitml ui``: the JSON API, pages and command, over HTTP against a real server process."""

from __future__ import annotations

import json
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from click.testing import CliRunner
from conftest import IDENTITY, GitRepo, git
from ui_helpers import LOSS_POINTS, MLMODEL, PNG, UI, make_repo

from gitml import query
from gitml.cli import cli
from gitml.errors import FilterError


@pytest.fixture(scope="module")
def repo_ids(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("ui") / "repo"
    with pytest.MonkeyPatch.context() as mp:
        for key, value in IDENTITY.items():
            mp.setenv(key, value)
        mp.setenv("GIT_CONFIG_GLOBAL", str(path.parent / "gitconfig"))
        ids = make_repo(path)
    return path, ids


@pytest.fixture(scope="module")
def ui(repo_ids: tuple[Path, dict[str, str]]) -> Iterator[UI]:
    server = UI(repo_ids[0])
    yield server
    code, err = server.stop()
    assert code == 0, err
    assert "Traceback" not in err


@pytest.fixture
def ids(repo_ids: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return repo_ids[1]


def runs_of(ui: UI, **params: object) -> dict:
    pairs = []
    for key, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((key, item))
    status, data = ui.json(f"/api/runs?{urlencode(pairs)}")
    assert status == 200, data
    return data


def names(data: dict) -> list[str]:
    return [run["name"] for run in data["runs"]]


# --------------------------------------------------------------------------- listing


def test_health(ui: UI) -> None:
    status, data = ui.json("/api/health")
    assert status == 200 and data["ok"] is True


def test_listing_newest_first_without_deleted_runs(ui: UI) -> None:
    data = runs_of(ui)
    assert data["total"] == 3
    assert names(data) == ["alpha", "beta", "gamma/γ 1"]
    assert data["columns"] == {"params": ["lr", "optim"], "metrics": ["acc", "loss", "weird"],
                               "tags": ["team"]}  # fmt: skip
    assert data["experiments"] == [{"name": "cifar", "runs": 1}, {"name": "mnist", "runs": 2}]
    alpha = data["runs"][0]
    assert alpha["status"] == "FINISHED" and alpha["stale"] is False
    assert alpha["params"] == {"lr": 0.1, "optim": "adam"}
    assert alpha["metrics"]["loss"] == pytest.approx(1 / LOSS_POINTS)
    assert alpha["metrics"]["weird"] == "NaN"  # JSON has no NaN: spelled as text
    assert alpha["duration"] == pytest.approx(57.0)
    assert alpha["baseline"]["dirty"] is True and len(alpha["baseline"]["commit"]) == 40


def test_listing_deleted_on_request(ui: UI) -> None:
    data = runs_of(ui, deleted="1")
    assert data["total"] == 4 and "ghost" in names(data)


def test_listing_by_experiment(ui: UI) -> None:
    assert names(runs_of(ui, experiment="cifar")) == ["gamma/γ 1"]
    assert names(runs_of(ui, experiment=["cifar", "mnist"])) == ["alpha", "beta", "gamma/γ 1"]
    data = runs_of(ui, experiment="nope")
    assert data["total"] == 0 and data["runs"] == []
    assert len(data["experiments"]) == 2  # the selector still lists every experiment


def test_listing_filter(ui: UI) -> None:
    assert names(runs_of(ui, filter="params.lr < 0.05")) == ["beta", "gamma/γ 1"]
    assert names(runs_of(ui, filter="metrics.loss IS NULL")) == ["gamma/γ 1"]
    assert names(runs_of(ui, filter="params.optim = 'adam' and metrics.acc > 0.5")) == ["alpha"]
    data = runs_of(ui, filter="params.lr > 1")
    assert data["total"] == 0
    # columns are those of the matching runs
    assert runs_of(ui, filter="status = 'FAILED'")["columns"]["metrics"] == []


def test_listing_filter_error_is_query_message(ui: UI) -> None:
    bad = "metrics.acc >"
    with pytest.raises(FilterError) as expected:
        query.parse_filter(bad)
    status, data = ui.json(f"/api/runs?{urlencode({'filter': bad})}")
    assert status == 400
    assert data == {"error_code": "INVALID_FILTER", "message": str(expected.value)}
    status, data = ui.json(f"/api/runs?{urlencode({'sort': 'nosuch.key'})}")
    assert status == 400 and data["error_code"] == "INVALID_FILTER"
    assert "unknown entity 'nosuch'" in data["message"]


def test_listing_sort(ui: UI) -> None:
    assert names(runs_of(ui, sort="params.lr")) == ["gamma/γ 1", "beta", "alpha"]
    assert names(runs_of(ui, sort="params.lr DESC")) == ["alpha", "beta", "gamma/γ 1"]
    assert names(runs_of(ui, sort="-params.`lr`")) == ["alpha", "beta", "gamma/γ 1"]
    # missing values last whichever the direction
    assert names(runs_of(ui, sort="metrics.loss")) == ["alpha", "beta", "gamma/γ 1"]
    assert names(runs_of(ui, sort="metrics.loss DESC")) == ["beta", "alpha", "gamma/γ 1"]
    assert names(runs_of(ui, sort="run_name DESC")) == ["gamma/γ 1", "beta", "alpha"]
    assert names(runs_of(ui, sort=["params.optim", "params.lr"])) == ["beta", "alpha", "gamma/γ 1"]


def test_listing_paging(ui: UI) -> None:
    first = runs_of(ui, limit=2, sort="params.lr")
    assert first["total"] == 3 and first["offset"] == 0 and first["limit"] == 2
    assert names(first) == ["gamma/γ 1", "beta"]
    second = runs_of(ui, limit=2, offset=2, sort="params.lr")
    assert names(second) == ["alpha"] and second["total"] == 3
    assert runs_of(ui, offset=10)["runs"] == []


@pytest.mark.parametrize(
    ("query_text", "fragment"),
    [("limit=0", "invalid limit 0"), ("limit=abc", "invalid limit 'abc'"),
     ("offset=-1", "invalid offset -1"), ("limit=100000", "invalid limit 100000")],
)  # fmt: skip
def test_listing_bad_paging(ui: UI, query_text: str, fragment: str) -> None:
    status, data = ui.json(f"/api/runs?{query_text}")
    assert status == 400 and data["error_code"] == "BAD_REQUEST"
    assert fragment in data["message"]


# --------------------------------------------------------------------------- one run


def test_run_detail(ui: UI, ids: dict[str, str]) -> None:
    for text in ("alpha", ids["alpha"], ids["alpha"][:6]):
        status, data = ui.json(f"/api/runs/{quote(text)}")
        assert status == 200 and data["id"] == ids["alpha"]
    assert data["name"] == "alpha" and data["experiment"] == "mnist"
    assert data["params_flat"] == {"lr": 0.1, "optim": "adam"}
    assert data["metrics"]["loss"]["count"] == LOSS_POINTS
    assert data["metrics"]["weird"]["last"] == "NaN" and data["metrics"]["weird"]["min"] == 2.0
    assert data["tags"] == {"team": "vision"}
    assert data["source"]["dirty"] is True
    kinds = {a["path"]: a["kind"] for a in data["artifacts"]}
    assert kinds == {"config.yaml": "text", "data.bin": "binary", "notes.txt": "text",
                     "plots/curve.png": "image"}  # fmt: skip
    assert data["log"] == "epoch 1\nepoch 2\ndone\n"
    [model] = data["models"]
    assert model["name"] == "model" and model["flavors"] == ["python_function", "sklearn"]
    assert model["signature"]["inputs"] == [
        {"type": "double", "name": "x", "required": True},
        {"type": "string", "name": "city", "required": False},
    ]
    assert model["signature"]["outputs"] == [{"type": "long", "required": True}]


def test_run_detail_by_name_with_slash_and_unicode(ui: UI, ids: dict[str, str]) -> None:
    status, data = ui.json(f"/api/runs/{quote('gamma/γ 1', safe='')}")
    assert status == 200 and data["id"] == ids["gamma/γ 1"]
    assert data["metrics"] == {} and data["artifacts"] == [] and data["log"] is None
    status, _, body = ui.get(f"/runs/{quote('gamma/γ 1', safe='')}")
    assert status == 200 and b'src="/static/run.js"' in body


def test_missing_run_is_404(ui: UI) -> None:
    status, data = ui.json("/api/runs/nosuchrun")
    assert status == 404 and data["error_code"] == "NOT_FOUND"
    assert "no run matches 'nosuchrun'" in data["message"]
    status, headers, body = ui.get("/runs/nosuchrun")
    assert status == 404 and headers["content-type"].startswith("text/html")
    assert b"404" in body and b"Back to the runs" in body
    status, _, body = ui.get("/no/such/page")
    assert status == 404 and b"404" in body
    status, data = ui.json("/api/nosuch")
    assert status == 404 and data["error_code"] == "ENDPOINT_NOT_FOUND"


def test_metric_history(ui: UI, ids: dict[str, str]) -> None:
    status, data = ui.json(f"/api/runs/{ids['alpha']}/metric?key=loss")
    assert status == 200 and data["count"] == LOSS_POINTS
    assert data["steps"] == list(range(LOSS_POINTS))
    assert data["values"] == pytest.approx([1 / (s + 1) for s in range(LOSS_POINTS)])
    status, data = ui.json("/api/runs/alpha/metric?key=weird")
    assert data["values"] == [2.0, None]  # NaN is a gap
    status, data = ui.json("/api/runs/alpha/metric?key=nope")
    assert status == 404 and "has no metric 'nope'; it has: acc, loss, weird" in data["message"]
    status, data = ui.json("/api/runs/alpha/metric")
    assert status == 400 and "?key=KEY" in data["message"]


def test_long_history_is_sampled_and_children_are_listed(repo: GitRepo) -> None:
    import gitml

    with gitml.start_run(run_name="sweep") as parent:
        for step in range(10_000):
            value = 100.0 if step == 7_777 else (-5.0 if step == 123 else 1.0 / (step + 1))
            gitml.log_metric("loss", value, step=step)
        for name in ("trial-a", "trial-b"):
            with gitml.start_run(run_name=name, nested=True):
                gitml.log_param("lr", 0.1)
    with gitml.start_run(run_name="other"):
        pass
    server = UI(repo.path)
    try:
        pid = parent.info.run_id
        status, data = server.json(f"/api/runs/{pid}/metric?key=loss&max_points=500")
        assert status == 200 and data["count"] == 10_000
        assert data["sampled"] == len(data["values"]) <= 500
        assert data["steps"] == sorted(data["steps"]) and data["steps"][0] == 0
        assert data["steps"][-1] >= 9_980  # the last stretch is kept
        assert max(data["values"]) == 100.0 and min(data["values"]) == -5.0  # spikes survive
        assert [data["steps"][i] for i in range(3)] == [data["positions"][i] for i in range(3)]
        status, full = server.json(f"/api/runs/{pid}/metric?key=loss&max_points=20000")
        assert full["sampled"] == full["count"] == 10_000 and "positions" not in full
        for bad in ("1", "abc", "-4"):
            status, err = server.json(f"/api/runs/{pid}/metric?key=loss&max_points={bad}")
            assert status == 400 and "max_points" in err["message"], err

        status, detail = server.json(f"/api/runs/{pid}")
        assert status == 200
        assert [c["name"] for c in detail["children"]] == ["trial-a", "trial-b"]
        assert {c["status"] for c in detail["children"]} == {"FINISHED"}
        status, child = server.json(f"/api/runs/{detail['children'][0]['run_id']}")
        assert child["parent_run"] == pid and child["children"] == []
    finally:
        code, err = server.stop()
    assert code == 0 and "Traceback" not in err


def _double(x: object) -> object:
    return x


def test_models_registry_api(repo: GitRepo) -> None:
    import gitml
    from gitml.models import registry

    with gitml.start_run(run_name="trainer") as run:
        gitml.pyfunc.log_model(_double, "model", registered_model_name="churn")
        gitml.pyfunc.log_model(_double, "model2", registered_model_name="churn")
    registry.set_alias("churn", "champion", 1)
    server = UI(repo.path)
    try:
        status, data = server.json("/api/models")
        assert status == 200
        assert data["models"] == [{
            "name": "churn", "versions": 2, "latest": 2, "updated": data["models"][0]["updated"],
            "aliases": {"champion": 1}, "flavors": ["python_function"],
        }]  # fmt: skip
        status, data = server.json("/api/models/churn")
        assert status == 200 and [v["version"] for v in data["versions"]] == [2, 1]
        first = data["versions"][1]
        assert first["aliases"] == ["champion"] and first["uri"] == "models:/churn/1"
        assert first["run_id"] == run.info.run_id and first["source"].endswith("/model")
        status, err = server.json("/api/models/nosuch")
        assert status == 404 and "no registered model 'nosuch'" in err["message"]
        assert "registered: churn" in err["message"]
        status, _, body = server.get("/models")
        assert status == 200 and b'src="/static/models.js"' in body
        status, detail = server.json(f"/api/runs/{run.info.run_id}")
        by_name = {m["name"]: m["registered"] for m in detail["models"]}
        assert by_name == {
            "model": [{"name": "churn", "version": 1, "aliases": ["champion"]}],
            "model2": [{"name": "churn", "version": 2, "aliases": []}],
        }
    finally:
        code, err_text = server.stop()
    assert code == 0 and "Traceback" not in err_text


def test_models_api_of_an_empty_registry(repo: GitRepo) -> None:
    server = UI(repo.path)
    try:
        assert server.json("/api/models") == (200, {"models": []})
    finally:
        server.stop()


# --------------------------------------------------------------------------- files


def test_artifact_image_text_and_download(ui: UI, ids: dict[str, str]) -> None:
    status, headers, body = ui.get(f"/api/runs/{ids['alpha']}/artifacts/plots/curve.png")
    assert status == 200 and headers["content-type"] == "image/png" and body == PNG
    assert headers["content-disposition"].startswith("inline")
    assert "sandbox" in headers["content-security-policy"]
    status, headers, body = ui.get("/api/runs/alpha/artifacts/config.yaml")
    assert status == 200 and headers["content-type"] == "text/yaml; charset=utf-8"
    assert body == b"a: 1\nb: [1, 2]\n"
    status, headers, body = ui.get("/api/runs/alpha/artifacts/notes.txt")
    assert headers["content-type"] == "text/plain; charset=utf-8" and body == b"some notes\n"
    status, headers, body = ui.get("/api/runs/alpha/artifacts/data.bin?download=1")
    assert status == 200 and headers["content-type"] == "application/octet-stream"
    assert headers["content-disposition"] == "attachment; filename*=UTF-8''data.bin"
    assert body == b"\x00\x01\x02binary"
    assert headers["x-content-type-options"] == "nosniff"


def test_model_file(ui: UI) -> None:
    status, headers, body = ui.get("/api/runs/alpha/models/model/MLmodel")
    assert status == 200 and body.decode() == MLMODEL
    assert headers["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    "path",
    ["../run.yaml", "..%2Frun.yaml", "plots/../../run.yaml", "%2E%2E/params.yaml",
     "..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd"],
)  # fmt: skip
def test_artifact_paths_escaping_the_run_are_rejected(ui: UI, path: str) -> None:
    status, data = ui.json(f"/api/runs/alpha/artifacts/{path}")
    assert status == 400 and data["error_code"] == "BAD_REQUEST"
    assert "invalid artifact path" in data["message"]


def test_missing_artifact_is_404(ui: UI) -> None:
    for path in ("nope.txt", "plots", "plots/nope.png"):
        status, data = ui.json(f"/api/runs/alpha/artifacts/{path}")
        assert status == 404 and data["error_code"] == "NOT_FOUND"
    status, data = ui.json("/api/runs/nosuchrun/artifacts/config.yaml")
    assert status == 404


def test_output_log(ui: UI) -> None:
    status, headers, body = ui.get("/api/runs/alpha/log")
    assert status == 200 and body == b"epoch 1\nepoch 2\ndone\n"
    status, data = ui.json("/api/runs/beta/log")
    assert status == 404 and "has no output log" in data["message"]


def test_code_diff_against_baseline(ui: UI) -> None:
    status, data = ui.json("/api/runs/alpha/code-diff")
    assert status == 200 and data["dirty"] is True
    assert [(f["path"], f["change"], f["added"], f["removed"]) for f in data["files"]] == [
        ("train.py", "modified", 1, 1)
    ]
    assert "-print('training')\n+print('training harder')\n" in data["patch"]


# --------------------------------------------------------------------------- compare


def test_compare_two_runs(ui: UI, ids: dict[str, str]) -> None:
    status, data = ui.json("/api/compare?runs=alpha,beta")
    assert status == 200
    assert [r["name"] for r in data["runs"]] == ["alpha", "beta"]
    params = {row["key"]: row for row in data["params"]}
    assert params["lr"] == {
        "key": "lr",
        "values": [0.1, 0.01],
        "present": [True, True],
        "changed": True,
    }
    assert params["optim"]["changed"] is False
    metrics = {row["key"]: row for row in data["metrics"]}
    assert metrics["acc"]["present"] == [True, False] and metrics["acc"]["changed"] is True
    assert data["metric_keys"] == ["acc", "loss", "weird"]
    assert data["tags"] == [{"key": "team", "values": ["vision", "vision"], "present": [True, True],
                             "changed": False}]  # fmt: skip


def test_compare_three_runs_repeated_parameter(ui: UI, ids: dict[str, str]) -> None:
    status, data = ui.json(f"/api/compare?runs=alpha&runs={ids['beta'][:8]},{quote('gamma/γ 1')}")
    assert status == 200 and len(data["runs"]) == 3
    optim = next(row for row in data["params"] if row["key"] == "optim")
    assert optim["values"] == ["adam", "adam", "sgd"] and optim["changed"] is True


@pytest.mark.parametrize(
    ("query_text", "status", "fragment"),
    [("runs=alpha", 400, "at least two runs"), ("", 400, "at least two runs"),
     ("runs=alpha,alpha", 400, "two different runs"), ("runs=alpha,nosuch", 404, "no run matches")],
)  # fmt: skip
def test_compare_errors(ui: UI, query_text: str, status: int, fragment: str) -> None:
    got, data = ui.json(f"/api/compare?{query_text}")
    assert got == status and fragment in data["message"]


def test_code_diff_between_runs(ui: UI) -> None:
    status, data = ui.json("/api/diff?a=alpha&b=beta")
    assert status == 200 and data["schema"] == "gitml.diff/1"
    assert data["code"]["files"] == [] and data["code"]["patch"] == ""
    assert [row["key"] for row in data["params"]] == ["lr"]
    status, data = ui.json("/api/diff?a=alpha")
    assert status == 400 and "give two runs" in data["message"]


# --------------------------------------------------------------------------- pages, static, safety


def test_pages_and_static_assets(ui: UI) -> None:
    for path, marker in (("/", b"runs.js"), ("/compare?runs=alpha,beta", b"compare.js")):
        status, headers, body = ui.get(path)
        assert status == 200 and marker in body
        assert "default-src 'self'" in headers["content-security-policy"]
    status, headers, body = ui.get("/static/vendor/uplot/uPlot.iife.min.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    assert b"uPlot" in body
    status, _, body = ui.get("/static/vendor/uplot/LICENSE")
    assert status == 200 and b"MIT License" in body
    status, _, _ = ui.get("/static/../api.py")
    assert status == 404
    status, _, _ = ui.get("/static/..%2F..%2Fui%2Fapi.py")
    assert status == 404
    status, headers, body = ui.get("/static/style.css", method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 100


def test_read_only_and_loopback_names_only(ui: UI) -> None:
    for method in ("POST", "PUT", "DELETE"):
        status, _, body = ui.get("/api/runs", method=method)
        assert status == 405 and b"read-only" in body
    status, _, body = ui.get("/api/runs", headers={"Host": "attacker.example:80"})
    assert status == 403
    status, _, _ = ui.get("/api/runs", headers={"Host": f"localhost:{ui.port}"})
    assert status == 200


def test_empty_repository(tmp_path: Path) -> None:
    git("init", "-q", "-b", "main", cwd=tmp_path)
    server = UI(tmp_path)
    try:
        status, data = server.json("/api/runs")
        assert status == 200
        assert data == {"total": 0, "offset": 0, "limit": 100, "runs": [],
                        "columns": {"params": [], "metrics": [], "tags": []},
                        "experiments": []}  # fmt: skip
        status, _, _ = server.get("/")
        assert status == 200
    finally:
        code, err = server.stop(signal.SIGINT)
    assert code == 0 and "Traceback" not in err


# --------------------------------------------------------------------------- the command


def test_command_prints_url_binds_loopback_and_stops_on_sigint(
    repo_ids: tuple[Path, dict[str, str]],
) -> None:
    server = UI(repo_ids[0])
    assert server.base.startswith("http://127.0.0.1:") and server.port > 0
    status, _ = server.json("/api/runs")
    assert status == 200
    code, err = server.stop(signal.SIGINT)
    assert code == 0 and "Traceback" not in err and "Ctrl-C" in err
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


def test_command_outside_a_repository(not_a_repo: Path) -> None:
    result = CliRunner().invoke(cli, ["ui", "--port", "0"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_command_port_in_use(repo: object) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["ui", "--port", str(port)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port} (Address already in use); "
        "choose another --port or --host"
    ]


def test_command_usage_errors(repo: object) -> None:
    result = CliRunner().invoke(cli, ["ui", "--port", "70000"])
    assert result.exit_code == 2 and "70000 is not in the range 0<=x<=65535" in result.output
    result = CliRunner().invoke(cli, ["ui", "--help"])
    assert result.exit_code == 0 and "--host" in result.output and "read-only" in result.output


def test_api_json_is_strict(ui: UI) -> None:
    # NaN and infinities never reach the browser as bare NaN (JSON.parse rejects them)
    _, _, body = ui.get("/api/runs/alpha")
    doc = json.loads(body, parse_constant=lambda name: pytest.fail(f"bare {name} in the JSON"))
    assert doc["metrics"]["weird"]["last"] == "NaN"  # spelled as docs/ui.md says
    assert doc["metrics"]["weird"]["max"] == 2.0


def test_parallel_requests(ui: UI, ids: dict[str, str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    paths = [
        "/api/runs?sort=params.lr",
        f"/api/runs/{ids['alpha']}",
        "/api/runs/alpha/metric?key=loss",
        "/api/runs/alpha/artifacts/plots/curve.png",
        "/api/compare?runs=alpha,beta",
        "/static/runs.js",
    ] * 8
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda path: ui.get(path)[0], paths))
    assert statuses == [200] * len(paths)


def test_ambiguous_run_name(repo: object) -> None:
    from gitml import runs
    from gitml.store import Store

    store = Store.discover()
    for _ in range(2):
        writer = runs.create(store, name="twin", pid=0)
        writer.flush()
    server = UI(Path.cwd())
    try:
        status, data = server.json("/api/runs/twin")
        assert status == 400 and data["error_code"] == "BAD_REQUEST"
        assert data["message"].startswith("'twin' matches 2 runs: ")
        status, _, body = server.get("/runs/twin")  # the page shows the API's message
        assert status == 200 and b"run.js" in body
    finally:
        server.stop()
