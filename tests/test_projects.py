"""gitml project: MLproject/gitml.yaml entry points, typed parameters, git URLs, environments."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import GitRepo, _init

from gitml import projects, runs
from gitml.cli import cli
from gitml.errors import ProjectError
from gitml.projects import envs, fetch, spec
from gitml.store import Store

GITML = shutil.which("gitml")

# MLflow's example project file (examples/sklearn_elasticnet_wine/MLproject), unchanged.
MLFLOW_WINE_MLPROJECT = """\
name: tutorial

python_env: python_env.yaml

entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      l1_ratio: {type: float, default: 0.1}
    command: "python train.py {alpha} {l1_ratio}"
"""
MLFLOW_WINE_PYTHON_ENV = """\
python: "3.9"
build_dependencies:
  - pip
dependencies:
  - scikit-learn
  - mlflow>=1.0
  - pandas
"""
# Our own train.py for it: the same arguments, synthetic data instead of a download.
WINE_TRAIN = """\
import sys

import numpy as np
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_squared_error

import gitml

alpha = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
l1_ratio = float(sys.argv[2]) if len(sys.argv) > 2 else 0.5
rng = np.random.default_rng(0)
X = rng.normal(size=(200, 5))
y = X @ np.array([1.0, -2.0, 0.5, 0.0, 3.0]) + rng.normal(scale=0.1, size=200)
with gitml.start_run():
    model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, random_state=42).fit(X[:150], y[:150])
    rmse = float(np.sqrt(mean_squared_error(y[150:], model.predict(X[150:]))))
    gitml.log_metric("rmse", rmse)
    print(f"Elasticnet model (alpha={alpha:f}, l1_ratio={l1_ratio:f}): rmse {rmse:.4f}")
"""

TYPED_PROJECT = """\
name: typed
entry_points:
  main:
    parameters:
      lr: float
      epochs: {type: int, default: 3}
      shuffle: {type: bool, default: true}
      label: {type: string, default: "a b"}
      data: {type: path, default: data.csv}
      source: {type: uri, default: "s3://bucket/key"}
    command: "python show_args.py {lr} {epochs} {shuffle} {label} {data} {source}"
  echo:
    parameters:
      text: string
    command: "python show_args.py {text}"
"""
SHOW_ARGS = """\
import json, os, sys
import gitml
print("ARGS " + json.dumps(sys.argv[1:]))
print("CWD " + os.getcwd())
with gitml.start_run():
    gitml.log_metric("nargs", len(sys.argv) - 1)
"""


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project cache of the test's own (fetched projects and checkouts)."""
    path = tmp_path / "cache"
    monkeypatch.setenv("GITML_CACHE_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache shared by the environment tests (an environment is built once per content)."""
    return tmp_path_factory.mktemp("env-cache")


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def all_runs(repo: GitRepo) -> list[Any]:
    store = Store.discover(str(repo.path))
    return [runs.load(store, rid) for rid in repo.run_refs()]


def only_run(repo: GitRepo) -> Any:
    found = all_runs(repo)
    assert len(found) == 1, [r.info["name"] for r in found]
    return found[0]


def output_log(record: Any) -> str:
    store = Store.discover()
    data = store.blob_at(store.commit_tree(record.commit), "output.log")
    return (data or b"").decode()


def code_tree(record: Any) -> str | None:
    store = Store.discover()
    entry = store.lookup(store.commit_tree(record.commit), "code")
    return entry[1] if entry else None


def args_of(record: Any) -> list[str]:
    line = next(ln for ln in output_log(record).splitlines() if ln.startswith("ARGS "))
    return json.loads(line[5:])


def assert_refused(result: Any, *words: str) -> None:
    """Exit 1, one line ``Error: ...`` naming the problem, no traceback."""
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[-1], lines[-1]


@pytest.fixture
def typed(repo: GitRepo) -> GitRepo:
    repo.commit_files(
        {"MLproject": TYPED_PROJECT, "show_args.py": SHOW_ARGS, "data.csv": "x\n1\n"}, "typed"
    )
    return repo


# ---------------------------------------------------------------- reading project files
def test_mlproject_read_as_mlflow_reads_it(tmp_path: Path) -> None:
    (tmp_path / "MLproject").write_text(MLFLOW_WINE_MLPROJECT)
    (tmp_path / "python_env.yaml").write_text(MLFLOW_WINE_PYTHON_ENV)
    project = spec.load(str(tmp_path))
    assert project.name == "tutorial"
    assert project.env_type == "python_env"
    assert project.env_file == str(tmp_path / "python_env.yaml")
    ep = project.entry_point("main")
    assert ep.command == "python train.py {alpha} {l1_ratio}"
    assert {n: (p.type, p.default) for n, p in ep.parameters.items()} == {
        "alpha": ("float", 0.5),
        "l1_ratio": ("float", 0.1),
    }
    assert ep.render(ep.resolve({})) == "python train.py 0.5 0.1"
    assert ep.render(ep.resolve({"alpha": "0.25"})) == "python train.py 0.25 0.1"


def test_commands_match_mlflow_for_the_same_values(tmp_path: Path) -> None:
    """Our command for a project equals MLflow's own compute_command, extras included."""
    mlflow_spec = pytest.importorskip("mlflow.projects._project_spec")
    (tmp_path / "MLproject").write_text(
        TYPED_PROJECT.replace("{data} ", "").replace(" {source}", "")
    )
    (tmp_path / "data.csv").write_text("x\n")
    ours = spec.load(str(tmp_path))
    theirs = mlflow_spec.load_project(str(tmp_path))
    for entry, given in [
        ("main", {"lr": "0.1"}),
        ("main", {"lr": "1e-3", "label": "it's; rm -rf /", "epochs": "7"}),
        ("main", {"lr": "2", "extra": "x y", "more": "1"}),
        ("echo", {"text": '$(whoami) `id` "q"'}),
    ]:
        ep = ours.entry_point(entry)
        mine = ep.render(ep.resolve(given, base_dir=str(tmp_path)))
        assert mine == theirs.get_entry_point(entry).compute_command(given, None), given


def test_short_forms_defaults_and_required(tmp_path: Path) -> None:
    (tmp_path / "gitml.yaml").write_text(
        "entry_points:\n"
        "  main: python a.py\n"
        "  b:\n    parameters: {x: float, y: {default: 2}, z: {type: str, default: q}}\n"
        "    command: echo {x} {y} {z}\n"
    )
    project = spec.load(str(tmp_path))
    assert project.name == tmp_path.name and project.file.endswith("gitml.yaml")
    assert project.entry_point("main").command == "python a.py"
    ps = project.entry_point("b").parameters
    assert (ps["x"].type, ps["x"].required) == ("float", True)
    assert (ps["y"].type, ps["y"].default, ps["y"].required) == ("string", 2, False)
    assert ps["z"].type == "string"


def test_bare_py_and_sh_entry_points(tmp_path: Path) -> None:
    (tmp_path / "go.py").write_text("print(1)\n")
    (tmp_path / "go.sh").write_text("echo 1\n")
    project = spec.load(str(tmp_path))  # no project file at all
    assert project.entry_point("go.py").command == "python go.py"
    assert project.entry_point("go.sh").command.endswith(" go.sh")
    with pytest.raises(ProjectError, match="'nope.py'.*no such file"):
        project.entry_point("nope.py")
    with pytest.raises(ProjectError, match="no entry point 'train'.*none declared"):
        project.entry_point("train")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("entry_points: [1, 2]", "entry_points must be a mapping"),
        ("entry_points:\n  main: {parameters: {}}", "needs a `command`"),
        (
            "entry_points:\n  main: {command: x, parameters: {a: {type: tensor}}}",
            "unknown type 'tensor'",
        ),
        ("python_env: python_env.yaml\nconda_env: conda.yaml", "several environments"),
        ("python_env: missing.yaml", "python_env names missing.yaml, but no such file"),
        ("docker_env: {}", "docker_env needs an `image`"),
        ("name: [unclosed", "not valid YAML"),
        ("- a list", "must be a YAML mapping"),
    ],
)
def test_bad_project_files(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "MLproject").write_text(text)
    with pytest.raises(ProjectError, match=message.replace("(", r"\(").replace("[", r"\[")):
        spec.load(str(tmp_path))


def test_two_project_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "MLproject").write_text("name: a\n")
    (tmp_path / "gitml.yaml").write_text("name: b\n")
    with pytest.raises(ProjectError, match="several project files"):
        spec.load(str(tmp_path))


def test_parameter_types(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    base = str(tmp_path)

    def conv(ptype: str, value: Any) -> Any:
        return spec.Parameter("p", ptype).convert(value, "main", base)

    assert conv("float", "1e-3") == 0.001 and conv("float", 2) == 2.0
    assert conv("int", "42") == 42 and conv("int", 7) == 7
    assert [conv("bool", v) for v in ("true", "False", "1", "no", True)] == [
        True,
        False,
        True,
        False,
        True,
    ]
    assert conv("string", 3) == "3"
    assert conv("path", "f.txt") == str(tmp_path / "f.txt")
    assert conv("path", f"file://{tmp_path}/f.txt") == str(tmp_path / "f.txt")
    assert conv("uri", "s3://b/k") == "s3://b/k"
    for ptype, value, message in [
        ("float", "abc", "must be a float, got 'abc'"),
        ("float", "nan", "must be a float"),
        ("int", "1.5", "must be an int, got '1.5'"),
        ("bool", "maybe", "must be a bool"),
        ("path", "missing.csv", "no such file or directory: missing.csv"),
        ("path", "s3://bucket/x", "must be a local path"),
        ("uri", "just-a-name", "must be a URI"),
    ]:
        with pytest.raises(ProjectError, match=f"parameter 'p' of entry point 'main'.*{message}"):
            conv(ptype, value)


def test_values_are_shell_quoted_and_extras_appended(tmp_path: Path) -> None:
    (tmp_path / "MLproject").write_text(
        "entry_points:\n  main:\n    parameters: {s: string}\n    command: echo {s}\n"
    )
    ep = spec.load(str(tmp_path)).entry_point("main")
    resolved = ep.resolve({"s": "a b; touch pwned", "n_trees": "10", "name": "x y"})
    assert ep.render(resolved) == "echo 'a b; touch pwned' --n_trees 10 --name 'x y'"
    assert resolved.params == {"s": "a b; touch pwned", "n_trees": 10, "name": "x y"}


def test_undeclared_placeholder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "MLproject").write_text(
        "entry_points:\n  main:\n    command: python t.py {alpha}\n"
    )
    ep = spec.load(str(tmp_path)).entry_point("main")
    with pytest.raises(ProjectError, match=r"uses \{alpha\}.*declare it under `parameters:`"):
        ep.render(ep.resolve({}))


def test_split_uri_and_remote_detection() -> None:
    assert fetch.split_uri("https://h/r.git#examples/wine") == ("https://h/r.git", "examples/wine")
    assert fetch.split_uri(".") == (".", "")
    assert fetch.split_uri("#sub") == (".", "sub")
    with pytest.raises(ProjectError, match="plain relative path"):
        fetch.split_uri("https://h/r.git#../x")
    assert all(
        fetch.is_remote(u) for u in ("https://h/r", "ssh://h/r", "git@h:o/r.git", "file:///x")
    )
    assert not any(fetch.is_remote(u) for u in (".", "../proj", "/abs/path"))


# ---------------------------------------------------------------- running by path
def test_run_local_project_records_params_tags_and_baseline(typed: GitRepo) -> None:
    result = invoke("project", "run", "-P", "lr=0.01", "-P", "epochs=5", "--name", "first")
    assert result.exit_code == 0, result.output
    rec = only_run(typed)
    assert rec.info["name"] == "first" and rec.info["status"] == "FINISHED"
    assert rec.params == {
        "lr": 0.01,
        "epochs": 5,
        "shuffle": True,
        "label": "a b",
        "data": "data.csv",
        "source": "s3://bucket/key",
    }
    assert args_of(rec) == [
        "0.01",
        "5",
        "True",
        "a b",
        str(typed.path / "data.csv"),
        "s3://bucket/key",
    ]
    assert rec.metrics["nargs"]["last"] == 6  # the entry point logged through the API, same run
    head = typed.head()
    assert rec.parents == [head] and rec.info["source"]["commit"] == head
    assert rec.tags == {
        "gitml.project.name": "typed",
        "gitml.project.entry_point": "main",
        "gitml.project.uri": ".",
        "gitml.project.commit": head,
        "gitml.project.env_manager": "local",
    }
    assert rec.info["command"] == ["bash", "-c", rec.info["command"][2]]
    assert "python show_args.py 0.01 5 True 'a b'" in rec.info["command"][2]
    typed.fsck()


def test_entry_point_logs_into_the_same_run(repo: GitRepo) -> None:
    repo.commit_files(
        {
            "gitml.yaml": "name: logs\nentry_points:\n  main:\n"
            "    parameters: {n: {type: int, default: 3}}\n"
            "    command: python log.py {n}\n",
            "log.py": "import sys, gitml\nn = int(sys.argv[1])\nwith gitml.start_run() as run:\n"
            "    gitml.log_param('inside', 'yes')\n"
            "    for i in range(n):\n        gitml.log_metric('loss', 1.0 / (i + 1), step=i)\n"
            "    print('RUN', run.run_id)\n",
        }
    )
    assert invoke("project", "run", "-P", "n=4").exit_code == 0
    rec = only_run(repo)
    assert rec.params == {"n": 4, "inside": "yes"}
    assert rec.metrics["loss"]["count"] == 4 and rec.metrics["loss"]["last"] == 0.25
    assert f"RUN {rec.run_id}" in output_log(rec)


def test_failing_entry_point_is_failed_with_its_exit_code(repo: GitRepo) -> None:
    repo.commit_files({"fail.sh": "echo about to fail\nexit 3\n"})
    result = invoke("project", "run", "-e", "fail.sh")
    assert result.exit_code == 3
    rec = only_run(repo)
    assert rec.info["status"] == "FAILED" and rec.info["exit_code"] == 3
    assert "about to fail" in output_log(rec)
    assert rec.tags["gitml.project.entry_point"] == "fail.sh"


def test_project_in_a_subdirectory(repo: GitRepo) -> None:
    repo.commit_files(
        {
            "examples/wine/MLproject": MLFLOW_WINE_MLPROJECT,
            "examples/wine/python_env.yaml": MLFLOW_WINE_PYTHON_ENV,
            "examples/wine/train.py": "import os, sys; print('IN', os.getcwd(), sys.argv[1:])\n",
        }
    )
    assert invoke("project", "run", "examples/wine", "-P", "alpha=0.7").exit_code == 0
    rec = only_run(repo)
    assert f"IN {repo.path / 'examples/wine'} ['0.7', '0.1']" in output_log(rec)
    assert rec.tags["gitml.project.uri"] == "examples/wine"
    assert invoke("project", "run", ".#examples/wine").exit_code == 0


# ---------------------------------------------------------------- validation: nothing recorded
@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["-P", "lr=notafloat"], ["parameter 'lr'", "must be a float, got 'notafloat'"]),
        ([], ["needs a value for 'lr'", "-P lr=..."]),
        (["-P", "lr=1", "-P", "epochs=2.5"], ["parameter 'epochs'", "must be an int"]),
        (["-P", "lr=1", "-P", "shuffle=perhaps"], ["parameter 'shuffle'", "bool"]),
        (
            ["-P", "lr=1", "-P", "data=missing.csv"],
            ["parameter 'data'", "no such file or directory"],
        ),
        (["-P", "lr=1", "-P", "source=nota-uri"], ["parameter 'source'", "must be a URI"]),
        (["-e", "train", "-P", "lr=1"], ["no entry point 'train'", "main, echo"]),
        (["-e", "missing.py"], ["'missing.py'", "no such file"]),
        (["-P", "lr=1", "-P", "bad key!=1"], ["parameter name", "bad key!"]),
        (["-P", "lr=1", "--name", ""], ["name"]),
        (["-P", "lr=1", "--version", "v9"], ["version 'v9' not found"]),
        (["no/such/folder"], ["neither a folder nor a git URL"]),
        (["-P", "lr=1", ".#nosub"], ["subdirectory 'nosub' not found"]),
    ],
)
def test_validation_errors_create_no_run(typed: GitRepo, args: list[str], words: list[str]) -> None:
    before = typed.git("for-each-ref").strip()
    result = invoke("project", "run", *args)
    assert_refused(result, *words)
    assert typed.git("for-each-ref").strip() == before  # no run ref, nothing written
    assert not typed.git("for-each-ref", "refs/gitml").strip()


def test_bad_param_syntax_is_a_usage_error(typed: GitRepo) -> None:
    result = CliRunner().invoke(cli, ["project", "run", "-P", "lr"])
    assert result.exit_code == 2 and "KEY=VALUE" in result.output
    assert not typed.run_refs()


def test_validation_error_through_the_installed_command(typed: GitRepo) -> None:
    """MLflow accepts alpha=notafloat and leaves a RUNNING run; gitml refuses before recording."""
    assert GITML is not None
    out = subprocess.run(
        [GITML, "project", "run", "-P", "lr=notafloat"], capture_output=True, text=True
    )
    assert out.returncode == 1
    assert out.stderr.strip() == (
        "Error: parameter 'lr' of entry point 'main' must be a float, got 'notafloat'"
    )
    assert not typed.run_refs()


# ---------------------------------------------------------------- running from a git URL
@pytest.fixture
def upstream(tmp_path: Path) -> dict[str, Any]:
    """A project repository with two tagged versions giving different results."""
    up = _init(tmp_path / "upstream")
    files = {
        "proj/MLproject": "name: scaled\nentry_points:\n  main:\n    parameters:\n"
        "      x: {type: float, default: 2}\n    command: python score.py {x}\n",
        "proj/score.py": "import sys, gitml\nFACTOR = 10\nwith gitml.start_run():\n"
        "    gitml.log_metric('score', FACTOR * float(sys.argv[1]))\n",
    }
    v1 = up.commit_files(files, "v1")
    up.git("tag", "v1")
    v2 = up.commit_files({"proj/score.py": files["proj/score.py"].replace("10", "100")}, "v2")
    up.git("tag", "v2")
    return {"repo": up, "v1": v1, "v2": v2, "url": f"file://{up.path}#proj"}


def test_git_url_at_two_versions(repo: GitRepo, upstream: dict[str, Any], _cache: Path) -> None:
    up: GitRepo = upstream["repo"]
    for version in ("v1", "v2"):
        result = invoke("project", "run", upstream["url"], "--version", version, "-P", "x=3")
        assert result.exit_code == 0, result.output
    recs = sorted(all_runs(repo), key=lambda r: r.info["start_time"])
    assert [r.metrics["score"]["last"] for r in recs] == [30.0, 300.0]
    for rec, version in zip(recs, ("v1", "v2"), strict=True):
        commit = upstream[version]
        assert rec.tags["gitml.project.commit"] == commit
        assert rec.tags["gitml.project.version"] == version
        assert rec.tags["gitml.project.uri"] == upstream["url"]
        # the run's code is exactly the project's tree at that commit
        assert code_tree(rec) == up.git("rev-parse", f"{commit}^{{tree}}").strip()
        assert rec.parents == [repo.head()]  # the baseline stays the recording repository's HEAD
    repo.fsck()
    # the fetched project lives in the cache; the temporary checkouts are gone
    assert len(list((_cache / "projects").glob("*.git"))) == 1
    assert not list((_cache / "projects" / "checkouts").iterdir())


def test_git_url_by_commit_branch_and_default(repo: GitRepo, upstream: dict[str, Any]) -> None:
    path = str(upstream["repo"].path)
    assert invoke("project", "run", f"{path}#proj", "--version", upstream["v1"][:10]).exit_code == 0
    assert invoke("project", "run", f"{path}#proj", "--version", "main").exit_code == 0
    assert invoke("project", "run", f"file://{path}#proj").exit_code == 0  # the remote's HEAD
    scores = sorted(r.metrics["score"]["last"] for r in all_runs(repo))
    assert scores == [20.0, 200.0, 200.0]
    # a new commit upstream is fetched on the next run of the branch
    upstream["repo"].commit_files(
        {
            "proj/score.py": "import gitml\nwith gitml.start_run():\n"
            "    gitml.log_metric('score', -1)\n"
        },
        "v3",
    )
    assert invoke("project", "run", f"file://{path}#proj", "--version", "main").exit_code == 0
    assert sorted(r.metrics["score"]["last"] for r in all_runs(repo))[0] == -1


def test_git_url_errors_create_no_run(
    repo: GitRepo, upstream: dict[str, Any], tmp_path: Path
) -> None:
    assert_refused(
        invoke("project", "run", upstream["url"], "--version", "nope"), "version 'nope' not found"
    )
    assert_refused(
        invoke("project", "run", f"file://{tmp_path}/nothing-here"), "cannot fetch project"
    )
    assert_refused(
        invoke("project", "run", upstream["url"], "-P", "x=abc"), "parameter 'x'", "float"
    )
    assert not repo.run_refs()


def test_project_show(repo: GitRepo, upstream: dict[str, Any]) -> None:
    repo.commit_files(
        {"MLproject": MLFLOW_WINE_MLPROJECT, "python_env.yaml": MLFLOW_WINE_PYTHON_ENV}
    )
    result = invoke("project", "show")
    assert result.exit_code == 0
    assert "project tutorial  (MLproject)" in result.output
    assert "environment  python_env: python_env.yaml" in result.output
    assert "command  python train.py {alpha} {l1_ratio}" in result.output
    assert "-P alpha  float, default 0.5" in result.output
    result = invoke("project", "show", upstream["url"], "--version", "v1", "--format", "json")
    info = json.loads(result.output)
    assert info["name"] == "scaled" and info["commit"] == upstream["v1"]
    assert info["entry_points"]["main"]["parameters"]["x"] == {
        "type": "float",
        "default": 2,
        "required": False,
    }
    assert not repo.run_refs()


# ---------------------------------------------------------------- MLflow's example, unchanged
def test_mlflow_example_project_runs_unchanged(repo: GitRepo) -> None:
    pytest.importorskip("sklearn")
    repo.commit_files(
        {
            "MLproject": MLFLOW_WINE_MLPROJECT,
            "python_env.yaml": MLFLOW_WINE_PYTHON_ENV,
            "train.py": WINE_TRAIN,
        }
    )
    assert GITML is not None
    out = subprocess.run(
        [GITML, "project", "run", ".", "-P", "alpha=0.01"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "Elasticnet model (alpha=0.010000, l1_ratio=0.100000)" in out.stdout
    assert invoke("project", "run").exit_code == 0  # the defaults
    recs = sorted(all_runs(repo), key=lambda r: r.params["alpha"])
    assert [r.params for r in recs] == [
        {"alpha": 0.01, "l1_ratio": 0.1},
        {"alpha": 0.5, "l1_ratio": 0.1},
    ]
    assert recs[0].metrics["rmse"]["last"] < recs[1].metrics["rmse"]["last"]
    assert all(
        r.info["status"] == "FINISHED" and r.tags["gitml.project.name"] == "tutorial" for r in recs
    )


# ---------------------------------------------------------------- environments
def _wheel(folder: Path) -> Path:
    """A tiny pure-Python wheel built by hand (nothing downloaded)."""
    path = folder / "hello_pkg-1.0-py3-none-any.whl"
    dist = "hello_pkg-1.0.dist-info"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello_pkg/__init__.py", "VALUE = 'hello from a local wheel'\n")
        z.writestr(f"{dist}/METADATA", "Metadata-Version: 2.1\nName: hello-pkg\nVersion: 1.0\n")
        z.writestr(
            f"{dist}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        z.writestr(f"{dist}/RECORD", "")
    return path


PRINT_ENV = """\
import sys
try:
    import hello_pkg
    v = hello_pkg.VALUE
except ImportError:
    v = None
print('PREFIX', sys.prefix)
print('VALUE', v)
"""


def test_virtualenv_from_an_empty_requirements_file_and_a_local_wheel(
    repo: GitRepo, env_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITML_CACHE_DIR", str(env_cache))
    (repo.path / "dist").mkdir()
    _wheel(repo.path / "dist")
    repo.commit_files(
        {
            "python_env.yaml": f'python: "{sys.version_info[0]}.{sys.version_info[1]}"\n'
            "build_dependencies: [pip]\ndependencies:\n  - -r requirements.txt\n"
            "  - ./dist/hello_pkg-1.0-py3-none-any.whl\n",
            "requirements.txt": "",  # an empty requirements file
            "MLproject": "name: wheel\npython_env: python_env.yaml\n"
            "entry_points:\n  main:\n    command: python env.py\n",
            "env.py": PRINT_ENV,
            "dist/hello_pkg-1.0-py3-none-any.whl": (
                repo.path / "dist/hello_pkg-1.0-py3-none-any.whl"
            ).read_bytes(),
        }
    )
    first = invoke("project", "run", "--env-manager", "virtualenv")
    assert first.exit_code == 0, first.output
    assert "building virtualenv environment" in first.output
    rec = only_run(repo)
    assert "VALUE hello from a local wheel" in output_log(rec)
    prefix = next(ln for ln in output_log(rec).splitlines() if ln.startswith("PREFIX ")).split(
        " ", 1
    )[1]
    assert prefix.startswith(str(env_cache / "envs" / "virtualenv-")) and prefix != sys.prefix
    assert rec.tags["gitml.project.env_manager"] == "virtualenv" and rec.tags["gitml.project.env"]
    # built once: the next run with the same content reuses it
    second = invoke("project", "run", "--env-manager", "virtualenv")
    assert second.exit_code == 0 and "building" not in second.output
    assert all(f"PREFIX {prefix}" in output_log(r) for r in all_runs(repo))
    # the same project in the current environment does not see the package
    assert invoke("project", "run").exit_code == 0
    assert sum("VALUE None" in output_log(r) for r in all_runs(repo)) == 1


def test_environment_that_cannot_be_built_is_a_failed_run(
    repo: GitRepo, env_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITML_CACHE_DIR", str(env_cache))
    repo.commit_files(
        {
            "python_env.yaml": "dependencies:\n  - ./missing/pkg-1.0-py3-none-any.whl\n",
            "MLproject": "name: broken\nentry_points:\n  main:\n"
            "    parameters: {a: {type: int, default: 1}}\n"
            "    command: python -c 'print(1)'\n",
        }
    )
    result = invoke("project", "run", "--env-manager", "virtualenv", "--name", "broken-env")
    assert_refused(result, "could not build the environment", "recorded as FAILED run broken-env")
    rec = only_run(repo)
    assert rec.info["status"] == "FAILED" and rec.params == {"a": 1}
    assert rec.tags["gitml.project.name"] == "broken"
    log = output_log(rec)
    assert "-m venv" in log and "pkg-1.0-py3-none-any.whl" in log  # pip's own complaint is kept
    assert not list((env_cache / "envs").glob("*/gitml-env.json")) or all(
        "missing" not in p.read_text() for p in (env_cache / "envs").glob("*/gitml-env.json")
    )


def test_unavailable_python_version_is_a_failed_run(repo: GitRepo) -> None:
    repo.commit_files({"python_env.yaml": 'python: "2.6.1"\n', "a.py": "print(1)\n"})
    result = invoke("project", "run", "-e", "a.py", "--env-manager", "virtualenv")
    assert_refused(result, "python 2.6.1", "--env-manager local")
    rec = only_run(repo)
    assert rec.info["status"] == "FAILED" and "python 2.6.1" in output_log(rec)


@pytest.mark.skipif(
    shutil.which("uv") is None, reason="uv is not installed (the test extra has it)"
)
def test_uv_from_an_empty_requirements_file_and_a_local_wheel(
    repo: GitRepo, env_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITML_CACHE_DIR", str(env_cache))
    monkeypatch.setenv("UV_OFFLINE", "1")  # nothing may be downloaded
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))  # and nothing is cached yet
    (repo.path / "dist").mkdir()
    wheel = _wheel(repo.path / "dist")
    repo.commit_files(
        {
            "python_env.yaml": f'python: "{sys.version_info[0]}.{sys.version_info[1]}"\n'
            "dependencies:\n  - -r requirements.txt\n  - ./dist/hello_pkg-1.0-py3-none-any.whl\n",
            "requirements.txt": "",
            "MLproject": "name: uvwheel\npython_env: python_env.yaml\n"
            "entry_points:\n  main:\n    command: python env.py\n",
            "env.py": PRINT_ENV,
            "dist/hello_pkg-1.0-py3-none-any.whl": wheel.read_bytes(),
        }
    )
    first = invoke("project", "run", "--env-manager", "uv")
    assert first.exit_code == 0, first.output
    assert "building uv environment" in first.output
    rec = only_run(repo)
    assert rec.info["status"] == "FINISHED"
    assert "VALUE hello from a local wheel" in output_log(rec)
    prefix = next(ln for ln in output_log(rec).splitlines() if ln.startswith("PREFIX ")).split(
        " ", 1
    )[1]
    assert prefix.startswith(str(env_cache / "envs" / "uv-")) and prefix != sys.prefix
    assert rec.tags["gitml.project.env_manager"] == "uv"
    assert prefix.endswith(rec.tags["gitml.project.env"])
    second = invoke("project", "run", "--env-manager", "uv")  # the same content: reused
    assert second.exit_code == 0 and "building" not in second.output
    assert all(f"PREFIX {prefix}" in output_log(r) for r in all_runs(repo))


@pytest.mark.skipif(
    shutil.which("uv") is None, reason="uv is not installed (the test extra has it)"
)
def test_uv_environment_that_cannot_be_built_is_a_failed_run(
    repo: GitRepo, env_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITML_CACHE_DIR", str(env_cache))
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    repo.commit_files(
        {"python_env.yaml": "dependencies:\n  - ./missing/pkg-1.0-py3-none-any.whl\n",
         "a.py": "print(1)\n"}
    )  # fmt: skip
    result = invoke("project", "run", "-e", "a.py", "--env-manager", "uv", "--name", "uv-broken")
    assert_refused(result, "could not build the environment", "recorded as FAILED run uv-broken")
    rec = only_run(repo)
    assert rec.info["status"] == "FAILED"
    log = output_log(rec)
    assert "uv venv" in log and "pkg-1.0-py3-none-any.whl" in log  # uv's own complaint is kept


def test_uv_missing_is_a_clear_error(
    repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"  # a PATH without uv (git and python still there)
    bin_dir.mkdir()
    for name, target in (("git", shutil.which("git")), ("python", sys.executable)):
        assert target
        (bin_dir / name).symlink_to(target)
    monkeypatch.setenv("PATH", str(bin_dir))
    repo.commit_files({"a.py": "print(1)\n"})
    assert_refused(
        invoke("project", "run", "-e", "a.py", "--env-manager", "uv"), "needs the `uv` command"
    )
    assert only_run(repo).info["status"] == "FAILED"


def test_environment_key_follows_content(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("")
    project = spec.load(str(tmp_path))
    key = envs.content_key("virtualenv", envs.python_env(project))
    assert key == envs.content_key("virtualenv", envs.python_env(spec.load(str(tmp_path))))
    assert key != envs.content_key("uv", envs.python_env(project))
    (tmp_path / "requirements.txt").write_text("numpy\n")
    assert key != envs.content_key("virtualenv", envs.python_env(spec.load(str(tmp_path))))


def test_conda_yaml_pip_part_is_used_and_conda_packages_refused(tmp_path: Path) -> None:
    (tmp_path / "conda.yaml").write_text(
        "dependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - ./a.whl\n"
    )
    env = envs.python_env(spec.load(str(tmp_path)))
    assert (env.python, env.dependencies) == ("3.11", ["./a.whl"])
    (tmp_path / "conda.yaml").write_text("dependencies:\n  - cudatoolkit=11\n")
    with pytest.raises(ProjectError, match="conda packages \\(cudatoolkit=11\\)"):
        envs.python_env(spec.load(str(tmp_path)))


def test_docker_env_runs_locally_with_a_note(repo: GitRepo) -> None:
    repo.commit_files(
        {
            "MLproject": "name: d\ndocker_env: {image: python:3.11}\nentry_points:\n"
            '  main: {command: "echo in-docker-project"}\n'
        }
    )
    result = invoke("project", "run")
    assert result.exit_code == 0 and "docker_env (python:3.11) is not used" in result.output
    assert "in-docker-project" in output_log(only_run(repo))


def test_python_api(repo: GitRepo) -> None:
    repo.commit_files(
        {
            "MLproject": MLFLOW_WINE_MLPROJECT,
            "python_env.yaml": MLFLOW_WINE_PYTHON_ENV,
            "train.py": "import sys; print(sys.argv[1:])\n",
        }
    )
    done = projects.run(".", parameters={"alpha": 0.2}, experiment="wine", quiet=True)
    assert done.status == "FINISHED" and done.command == "python train.py 0.2 0.1"
    rec = only_run(repo)
    assert rec.info["experiment"] == "wine" and rec.params == {"alpha": 0.2, "l1_ratio": 0.1}
    assert projects.describe(".")["entry_points"]["main"]["parameters"]["alpha"]["type"] == "float"


def test_run_from_outside_any_repository_records_in_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = _init(tmp_path / "proj")
    proj.commit_files({"go.sh": "echo hi\n"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert invoke("project", "run", str(proj.path), "-e", "go.sh").exit_code == 0
    assert len(proj.run_refs()) == 1


def test_help_texts() -> None:
    for args in (["project"], ["project", "run"], ["project", "show"]):
        result = invoke(*args, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output
    text = textwrap.dedent(invoke("project", "run", "--help").output)
    for option in ("--version", "--experiment", "--env-manager", "-P", "-e"):
        assert option in text
    assert os.path.exists(Path(__file__).parent.parent / "docs" / "projects.md")
