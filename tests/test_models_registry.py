"""Models in runs and the git-ref registry: log_model, runs:/ and models:/ URIs, versions, aliases."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from sklearn.linear_model import LogisticRegression

import gitml
from gitml.cli import cli
from gitml.cli.models import models as models_cli
from gitml.errors import ModelError
from gitml.models import registry
from gitml.models.uri import UntrustedModelWarning, parse

ROOT = str(Path(gitml.__file__).resolve().parents[1])
X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [1, 5, 2, 7]})
Y = [0, 1, 0, 1]


@pytest.fixture(scope="module")
def clf() -> LogisticRegression:
    return LogisticRegression().fit(X, Y)


@pytest.fixture
def logged(repo, clf):
    with gitml.start_run(run_name="train-1") as run:
        info = gitml.sklearn.log_model(clf, "model", input_example=X[:2])
    return run.run_id, info


# ------------------------------------------------------------------ URIs


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("runs:/abcd1234/model", ("run", "abcd1234", "model", None, None)),
        ("runs:/bold-owl-3/nested/model", ("run", "bold-owl-3", "nested/model", None, None)),
        ("models:/churn/3", ("registry", None, "churn", "3", None)),
        ("models:/churn/latest", ("registry", None, "churn", "latest", None)),
        ("models:/churn@champion", ("registry", None, "churn", None, "champion")),
    ],
)
def test_parse_uris(uri, expected):
    p = parse(uri)
    assert (p.kind, p.run, p.name, p.version, p.alias) == expected
    assert str(p) == uri


@pytest.mark.parametrize(
    "uri, message",
    [
        ("runs:/onlyrun", "use runs:/<run>/<model name>"),
        ("runs:/r/../x", "may not contain '.' or '..' segments"),
        ("models:/churn", "use models:/<name>/<version>"),
        ("models:/churn/0", "use models:/<name>/<version>"),
        ("models:/churn/v1", "use models:/<name>/<version>"),
        ("models:/churn@", "use models:/<name>@<alias>"),
        ("", "empty model URI"),
        ("hdfs://x/y", "unsupported model URI scheme 'hdfs'"),
    ],
)
def test_bad_uris(uri, message):
    with pytest.raises(ModelError) as exc:
        parse(uri)
    assert message in str(exc.value)


# ------------------------------------------------------------------ models in runs


def test_log_model_into_the_active_run(repo, logged, clf):
    run_id, info = logged
    assert info.model_uri == f"runs:/{run_id}/model"
    assert info.flavors == ("python_function", "sklearn")
    tree = repo.git(
        "ls-tree", "-r", "--name-only", f"refs/gitml/runs/{run_id}", "models/model"
    ).split()
    assert "models/model/MLmodel" in tree and "models/model/model.pkl" in tree
    manifest = yaml.safe_load(repo.git("show", f"refs/gitml/runs/{run_id}:models/model/MLmodel"))
    assert manifest["run_id"] == run_id and manifest["artifact_path"] == "model"
    for uri in (info.model_uri, "runs:/train-1/model", f"runs:/{run_id[:8]}/model"):
        assert gitml.load_model(uri).predict(X).tolist() == clf.predict(X).tolist()
    assert isinstance(gitml.sklearn.load_model(info.model_uri), LogisticRegression)
    assert gitml.Client().get_run(run_id).info.status == "FINISHED"
    repo.fsck()


def test_log_model_errors(repo, clf):
    with pytest.raises(
        ModelError,
        match="log_model needs a run: call it inside `with gitml.start_run\\(\\):` or pass run_id=",
    ):
        gitml.sklearn.log_model(clf, "model")
    with gitml.start_run():
        with pytest.raises(gitml.errors.InvalidKey, match="invalid model name"):
            gitml.sklearn.log_model(clf, "../up")
    with pytest.raises(gitml.errors.RunNotFound):
        gitml.sklearn.log_model(clf, "model", run_id="nosuchrun")


def test_log_model_to_a_run_by_id_and_missing_models(repo, clf):
    client = gitml.Client()
    run = client.create_run(run_name="by-id")
    client.set_terminated(run.info.run_id)
    info = gitml.pyfunc.log_model(
        lambda d: d["a"] * 2, "doubler", run_id="by-id", input_example=X[:1]
    )
    assert gitml.load_model(info.model_uri).predict(X).tolist() == [2.0, 4.0, 6.0, 8.0]
    with pytest.raises(gitml.errors.ArtifactError, match="has no model 'other'"):
        gitml.load_model("runs:/by-id/other")
    with pytest.raises(gitml.errors.RunNotFound):
        gitml.load_model("runs:/no-such-run/model")


def test_dst_path(repo, logged, tmp_path):
    _, info = logged
    dest = tmp_path / "export"
    gitml.load_model(info.model_uri, dst_path=str(dest))
    assert (dest / "MLmodel").exists()
    with pytest.raises(ModelError, match="is not empty"):
        gitml.load_model(info.model_uri, dst_path=str(dest))


def test_models_made_elsewhere_warn_on_load(repo, logged):
    run_id, info = logged
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gitml.load_model(info.model_uri)  # made here: no warning
    # rewrite the run as if it had been pulled from someone else's machine
    import gitml.runs as runs_mod
    from gitml.store import Store

    store = Store.discover()
    w = runs_mod.open_writer(store, run_id)
    w.set_info(host="someone-elses-laptop", user="mallory")
    w.flush()
    with pytest.warns(
        UntrustedModelWarning,
        match="made by mallory on someone-elses-laptop: loading its pickle runs their code",
    ):
        gitml.load_model(info.model_uri)


# ------------------------------------------------------------------ registry


def test_register_versions_and_aliases(repo, logged, clf):
    run_id, info = logged
    v1 = registry.register(info.model_uri, "churn", description="first")
    v2 = registry.register(f"runs:/{run_id}/model", "churn")
    assert (v1.version, v2.version) == (1, 2)
    assert (
        v1.run_id == run_id and v1.source == f"runs:/{run_id}/model" and v1.description == "first"
    )
    refs = repo.git(
        "for-each-ref", "--format=%(refname)", "refs/gitml/models", "refs/gitml/aliases"
    ).split()
    assert refs == ["refs/gitml/models/churn/1", "refs/gitml/models/churn/2"]
    # the version commit: the model directory plus version.yaml, parent = the run's commit
    files = repo.git("ls-tree", "--name-only", "refs/gitml/models/churn/1").split()
    assert "MLmodel" in files and "version.yaml" in files
    run_commit_then = repo.git("rev-parse", "refs/gitml/models/churn/1^").strip()
    assert repo.git("show", f"{run_commit_then}:run.yaml").count(run_id) >= 1
    assert (
        yaml.safe_load(repo.git("show", "refs/gitml/models/churn/1:version.yaml"))["version"] == 1
    )

    registry.set_alias("churn", "champion", 1)
    assert registry.aliases("churn") == {"champion": 1}
    assert gitml.load_model("models:/churn@champion").predict(X).tolist() == clf.predict(X).tolist()
    registry.set_alias("churn", "champion", "latest")
    assert registry.resolve_version("models:/churn@champion").version == 2
    assert registry.get_version("churn", "latest").aliases == ("champion",)
    assert repo.git("rev-parse", "refs/gitml/aliases/churn/champion").strip() == v2.commit
    registry.delete_alias("churn", "champion")
    assert registry.aliases("churn") == {}
    assert [v.version for v in registry.list_versions("churn")] == [1, 2]
    assert registry.list_names() == ["churn"]
    # copying a version under another name keeps its source run
    v = registry.register("models:/churn/2", "churn-prod")
    assert v.version == 1 and v.run_id == run_id
    assert repo.git("rev-parse", "refs/gitml/models/churn-prod/1^").strip() == run_commit_then
    repo.fsck()


def test_register_a_local_directory(repo, clf, tmp_path):
    gitml.sklearn.save_model(clf, tmp_path / "m")
    v = registry.register(str(tmp_path / "m"), "local-model")
    assert v.run_id is None and v.source == "local directory"
    assert gitml.load_model("models:/local-model/1").predict(X).tolist() == clf.predict(X).tolist()
    repo.fsck()


def test_registry_errors(repo, logged):
    run_id, info = logged
    with pytest.raises(ModelError, match="invalid model name 'a/b'"):
        registry.register(info.model_uri, "a/b")
    with pytest.raises(ModelError, match="run train-1 has no model 'nope'"):
        registry.register(f"runs:/{run_id}/nope", "x")
    with pytest.raises(ModelError, match="no run matches"):
        registry.register("runs:/zzzz-none/model", "x")
    with pytest.raises(ModelError, match="no registered model 'ghost' \\(none registered yet\\)"):
        gitml.load_model("models:/ghost/1")
    registry.register(info.model_uri, "churn")
    with pytest.raises(ModelError, match="churn has no version 7 \\(versions: 1\\)"):
        gitml.load_model("models:/churn/7")
    with pytest.raises(ModelError, match="churn has no alias 'prod' \\(aliases: none\\)"):
        gitml.load_model("models:/churn@prod")
    with pytest.raises(ModelError, match="invalid alias '3': it would read as a version"):
        registry.set_alias("churn", "3", 1)
    with pytest.raises(ModelError, match="invalid alias 'latest'"):
        registry.set_alias("churn", "latest", 1)
    with pytest.raises(ModelError, match="churn has no alias 'gone'"):
        registry.delete_alias("churn", "gone")
    with pytest.raises(ModelError, match="no registered model 'other' \\(registered: churn\\)"):
        registry.list_versions("other")


def test_log_model_with_registered_model_name(repo, clf):
    with gitml.start_run():
        a = gitml.sklearn.log_model(clf, "model", registered_model_name="fraud")
        b = gitml.sklearn.log_model(clf, "model2", registered_model_name="fraud")
    assert (a.registered_model_version, b.registered_model_version) == (1, 2)
    registry.set_alias("fraud", "champion", 1)
    out = CliRunner().invoke(cli, ["show", a.run_id]).output
    model_lines = [line.split() for line in out.splitlines()
                   if line.split()[:1] in (["model"], ["model2"])]  # fmt: skip
    assert model_lines[0][-3:] == ["fraud", "v1", "@champion"], out
    assert model_lines[1][-2:] == ["fraud", "v2"], out


def test_two_processes_registering_at_once_get_distinct_versions(repo, logged):
    _, info = logged
    code = (
        "import sys\n"
        "from gitml.models import registry\n"
        "sys.stdin.readline()\n"  # start together
        f"for _ in range(8): print(registry.register({info.model_uri!r}, 'race').version, flush=True)\n"
    )
    env = {**os.environ, "PYTHONPATH": ROOT}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], cwd=repo.path, env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]  # fmt: skip
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    versions = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        versions += [int(v) for v in out.split()]
    assert sorted(versions) == list(range(1, 25))
    assert [v.version for v in registry.list_versions("race")] == list(range(1, 25))
    repo.fsck()


# ------------------------------------------------------------------ CLI


def test_cli_register_alias_ls_show(repo, logged):
    run_id, info = logged
    runner = CliRunner()
    r = runner.invoke(models_cli, ["register", "runs:/train-1/model", "churn", "-d", "baseline"])
    assert r.exit_code == 0, r.output
    assert r.output == f"Registered churn version 1 (models:/churn/1) from runs:/{run_id}/model\n"
    r = runner.invoke(models_cli, ["alias", "churn", "champion", "1"])
    assert r.output == "churn@champion -> version 1 (models:/churn@champion)\n"
    r = runner.invoke(models_cli, ["ls"])
    assert r.exit_code == 0 and "churn" in r.output and "champion=1" in r.output
    r = runner.invoke(models_cli, ["ls", "churn", "--format", "json"])
    import json

    rows = json.loads(r.output)
    assert (
        rows[0]["version"] == 1
        and rows[0]["aliases"] == ["champion"]
        and rows[0]["description"] == "baseline"
    )
    r = runner.invoke(models_cli, ["ls", "churn", "--format", "csv"])
    assert r.output.splitlines()[0] == "version,aliases,created,source,description"
    r = runner.invoke(models_cli, ["show", "models:/churn@champion"])
    assert r.exit_code == 0, r.output
    assert "registered  churn version 1  aliases: champion" in r.output
    assert "inputs      a: double, b: long" in r.output
    assert "requires    " in r.output and "scikit-learn==" in r.output
    r = runner.invoke(models_cli, ["show", "runs:/train-1/model", "--format", "json"])
    assert json.loads(r.output)["run_id"] == run_id
    r = runner.invoke(models_cli, ["show", "runs:/train-1/model", "--format", "yaml"])
    assert yaml.safe_load(r.output)["flavors"]["sklearn"]["serialization_format"] == "cloudpickle"
    r = runner.invoke(models_cli, ["alias", "churn", "champion", "--delete"])
    assert r.output == "Removed alias champion of churn\n"


def test_cli_errors(repo, logged):
    runner = CliRunner()
    cases = [
        (["register", "runs:/train-1/nope", "x"], "Error: run train-1 has no model 'nope'"),
        (["alias", "ghost", "champion", "1"], "Error: no registered model 'ghost'"),
        (["show", "models:/ghost/1"], "Error: no registered model 'ghost'"),
        (["ls", "ghost"], "Error: no registered model 'ghost'"),
    ]
    for args, message in cases:
        r = runner.invoke(models_cli, args)
        assert r.exit_code == 1, (args, r.output)
        assert r.output.startswith(message), (args, r.output)
        assert "Traceback" not in r.output
    r = runner.invoke(models_cli, ["alias", "churn", "champion"])
    assert r.exit_code == 2 and "give the VERSION" in r.output
    r = runner.invoke(models_cli, ["alias", "churn", "champion", "1", "--delete"])
    assert r.exit_code == 2 and "--delete takes no VERSION" in r.output
    r = runner.invoke(models_cli, ["ls"])
    assert r.exit_code == 0 and "No registered models" in r.output


# ------------------------------------------------------------------ push / pull


def _gitml(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed ``gitml`` as a real process."""
    import shutil

    exe = shutil.which("gitml")
    cmd = [exe] if exe else [sys.executable, "-c", "from gitml.cli import main; main()"]
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.run(
        [*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_registry_travels_with_push_and_pull(repo, logged, clf, tmp_path):
    runner = CliRunner()
    for args in (["register", "runs:/train-1/model", "churn"], ["register", "runs:/train-1/model", "churn"],
                 ["alias", "churn", "champion", "1"]):  # fmt: skip
        assert runner.invoke(models_cli, args).exit_code == 0
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    repo.git("remote", "add", "origin", str(bare))
    pushed = _gitml("push", "origin", cwd=repo.path)
    assert pushed.returncode == 0, pushed.stderr
    other = tmp_path / "other"
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    subprocess.run(["git", "remote", "add", "origin", str(bare)], cwd=other, check=True)
    pulled = _gitml("pull", "origin", cwd=other)
    assert pulled.returncode == 0, pulled.stderr
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname) %(objectname)", "refs/gitml/"],
                          cwd=other, capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert refs == repo.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/gitml/")
    assert "refs/gitml/aliases/churn/champion" in refs and "refs/gitml/models/churn/2" in refs
    listed = _gitml("models", "ls", "churn", "--format", "json", cwd=other)
    import json

    rows = json.loads(listed.stdout)
    assert [(r["version"], r["aliases"]) for r in rows] == [(1, ["champion"]), (2, [])]
    (other / "in.csv").write_text("a,b\n1.0,1\n4.0,7\n")
    out = _gitml("models", "predict", "models:/churn@champion", "-i", "in.csv", cwd=other)
    assert out.returncode == 0, out.stderr
    expected = clf.predict(pd.DataFrame({"a": [1.0, 4.0], "b": [1, 7]})).tolist()
    assert json.loads(out.stdout) == {"predictions": expected}
    # the alias moved here reaches the other clone: the side that moved it since the last
    # sync wins (see docs/models.md)
    assert runner.invoke(models_cli, ["alias", "churn", "champion", "2"]).exit_code == 0
    pushed = _gitml("push", "origin", cwd=repo.path)
    assert pushed.returncode == 0, pushed.stderr
    pulled = _gitml("pull", "origin", cwd=other)
    assert pulled.returncode == 0, pulled.stderr
    shown = _gitml("models", "show", "models:/churn@champion", "--format", "json", cwd=other)
    assert json.loads(shown.stdout)["registered"]["version"] == 2, shown.stdout
