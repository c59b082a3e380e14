"""Tests of ``gitml diff`` (gitml.diff, gitml.cli.diff) on real repositories."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import GitRepo, git

from gitml import Client
from gitml import diff as diff_lib
from gitml.cli import cli
from gitml.store import Store

BASE_FILES = {
    "train.py": "import sys\n\nlr = 0.1\nepochs = 3\nprint(lr)\n",
    "old.py": "def old():\n    return 1\n",
    "moved.py": "".join(f"line {i}\n" for i in range(40)),
    "edited_move.py": "".join(f"row {i}\n" for i in range(30)),
}


def make_run(
    client: Client,
    name: str,
    params: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
    tags: dict[str, str] | None = None,
) -> str:
    """A FINISHED run of the workspace as it is now."""
    run = client.create_run(run_name=name, params=params, tags=tags)
    for key, value in (metrics or {}).items():
        client.log_metric(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id)
    return run.info.run_id


@pytest.fixture
def two_runs(repo: GitRepo) -> tuple[Client, str, str]:
    """Run ``a`` on the committed files; run ``b`` after a change, add, removal and renames."""
    repo.commit_files(BASE_FILES, message="code")
    client = Client()
    a = make_run(
        client,
        "alpha",
        params={"lr": 0.1, "opt": {"name": "adam", "beta": 0.9}, "seed": 1},
        metrics={"acc": 0.5, "loss": 2.0, "zero": 0.0, "gone": 1.0},
        tags={"stage": "dev", "x": "1"},
    )
    (repo / "train.py").write_text("import sys\n\nlr = 0.2\nepochs = 3\nprint(lr)\nprint('done')\n")
    (repo / "new.py").write_text("NEW = True\n")
    os.remove(repo / "old.py")
    os.rename(repo / "moved.py", repo / "pkg_moved.py")
    text = (repo / "edited_move.py").read_text().replace("row 5\n", "row five\n")
    os.remove(repo / "edited_move.py")
    (repo / "renamed_edit.py").write_text(text)
    b = make_run(
        client,
        "beta",
        params={"lr": 0.2, "opt": {"name": "adam", "beta": 0.95}, "batch": 32},
        metrics={"acc": 0.75, "loss": 1.0, "zero": 1.0, "new": 3.0},
        tags={"stage": "prod", "x": "1"},
    )
    return client, a, b


def code_tree(client: Client, run: str) -> str:
    store = client.store
    tree = store.commit_tree(store.get_ref(f"refs/gitml/runs/{run}"))  # type: ignore[arg-type]
    found = store.lookup(tree, "code")
    assert found is not None
    return found[1]


def checkout(repo: GitRepo, tree: str, work: Path) -> Path:
    """A new repository at ``work`` (borrowing ``repo``'s objects) with ``tree`` checked out."""
    git("init", "-q", str(work))
    (work / ".git" / "objects" / "info" / "alternates").write_text(
        str(repo / ".git" / "objects") + "\n"
    )
    git("read-tree", tree, cwd=work)
    git("checkout-index", "-a", "-u", cwd=work)
    return work


# --------------------------------------------------------------------------- library
def test_params_metrics_tags(two_runs: tuple[Client, str, str]) -> None:
    client, a, b = two_runs
    d = diff_lib.diff(client.store, "alpha", "beta")
    assert d["schema"] == "gitml.diff/1"
    assert (d["a"]["name"], d["b"]["name"]) == ("alpha", "beta")
    params = {r["key"]: (r["a"], r["b"], r["change"]) for r in d["params"]}
    assert params == {
        "lr": (0.1, 0.2, "changed"),
        "opt.beta": (0.9, 0.95, "changed"),
        "seed": (1, None, "removed"),
        "batch": (None, 32, "added"),
    }  # opt.name is equal: hidden by default
    metrics = {r["key"]: r for r in d["metrics"]}
    assert metrics["acc"]["delta"] == pytest.approx(0.25)
    assert metrics["acc"]["rel_delta"] == pytest.approx(0.5)
    assert metrics["loss"]["rel_delta"] == pytest.approx(-0.5)
    assert metrics["zero"]["delta"] == 1.0 and metrics["zero"]["rel_delta"] is None
    assert metrics["gone"]["change"] == "removed" and metrics["gone"]["delta"] is None
    assert metrics["new"]["change"] == "added"
    assert [(r["key"], r["change"]) for r in d["tags"]] == [("stage", "changed")]


def test_all_keys_keeps_equal_ones(two_runs: tuple[Client, str, str]) -> None:
    client, a, b = two_runs
    d = diff_lib.diff(client.store, a, b, all_keys=True)
    params = {r["key"]: r["change"] for r in d["params"]}
    assert params["opt.name"] == "equal"
    assert {r["key"]: r["change"] for r in d["tags"]}["x"] == "equal"


def test_code_changes_match_git(two_runs: tuple[Client, str, str], repo: GitRepo) -> None:
    client, a, b = two_runs
    d = diff_lib.diff(client.store, a, b)
    files = {f["path"]: f for f in d["code"]["files"]}
    assert files["train.py"]["change"] == "modified"
    assert (files["train.py"]["added"], files["train.py"]["removed"]) == (2, 1)
    assert files["new.py"]["change"] == "added" and files["new.py"]["added"] == 1
    assert files["old.py"]["change"] == "removed" and files["old.py"]["removed"] == 2
    assert files["pkg_moved.py"]["change"] == "renamed"
    assert files["pkg_moved.py"]["old_path"] == "moved.py"
    assert (files["pkg_moved.py"]["added"], files["pkg_moved.py"]["removed"]) == (0, 0)
    assert files["renamed_edit.py"]["change"] == "renamed"
    assert files["renamed_edit.py"]["old_path"] == "edited_move.py"
    assert (files["renamed_edit.py"]["added"], files["renamed_edit.py"]["removed"]) == (1, 1)
    # the same numbers as real git's rename-aware numstat of the two snapshots
    numstat = git("diff", "--numstat", "-M", code_tree(client, a), code_tree(client, b), cwd=repo)
    expected = {}
    for line in numstat.splitlines():
        added, removed, path = line.split("\t")
        if "=>" in path:
            path = path.split("=> ")[1].rstrip("}")
        expected[path] = (int(added), int(removed))
    assert {p: (f["added"], f["removed"]) for p, f in files.items()} == expected
    assert d["code"]["insertions"] == sum(v[0] for v in expected.values())
    assert d["code"]["deletions"] == sum(v[1] for v in expected.values())
    assert d["code"]["patch"] is None


def test_patch_applies_with_git(
    two_runs: tuple[Client, str, str], repo: GitRepo, tmp_path: Path
) -> None:
    """`git apply` of the --code patch onto snapshot a gives exactly snapshot b."""
    client, a, b = two_runs
    patch = diff_lib.diff(client.store, a, b, code=True)["code"]["patch"]
    assert "rename from moved.py\nrename to pkg_moved.py\n" in patch
    assert "deleted file mode 100644" in patch and "new file mode 100644" in patch
    work = checkout(repo, code_tree(client, a), tmp_path / "apply")
    (tmp_path / "p.diff").write_text(patch)
    git("apply", "--index", str(tmp_path / "p.diff"), cwd=work)
    assert git("write-tree", cwd=work).strip() == code_tree(client, b)


def test_no_newline_and_binary_and_mode(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit_files({"a.txt": "one\ntwo", "blob.bin": b"\x00\x01\x02", "run.sh": "echo hi\n"})
    client = Client()
    a = make_run(client, "a")
    (repo / "a.txt").write_text("one\nTWO")
    (repo / "blob.bin").write_bytes(b"\x00\x01\x03")
    os.chmod(repo / "run.sh", 0o755)
    b = make_run(client, "b")
    d = diff_lib.diff(client.store, a, b, code=True)
    files = {f["path"]: f for f in d["code"]["files"]}
    assert files["blob.bin"]["binary"] and files["blob.bin"]["added"] is None
    assert (files["a.txt"]["added"], files["a.txt"]["removed"]) == (1, 1)
    assert (files["run.sh"]["old_mode"], files["run.sh"]["new_mode"]) == ("100644", "100755")
    patch = d["code"]["patch"]
    assert "\\ No newline at end of file" in patch
    assert "Binary files a/blob.bin and b/blob.bin differ" in patch
    assert "old mode 100644\nnew mode 100755" in patch
    work = checkout(repo, code_tree(client, a), tmp_path / "apply")
    (tmp_path / "p.diff").write_text(patch)
    # a binary change without its content cannot be applied; everything else can
    git("apply", "--index", "--exclude=blob.bin", str(tmp_path / "p.diff"), cwd=work)
    tree = git("ls-tree", "-r", git("write-tree", cwd=work).strip(), cwd=work)
    assert "100755 blob" in tree.split("run.sh")[0].splitlines()[-1]
    assert (work / "a.txt").read_text() == "one\nTWO"


def test_artifacts_and_models(repo: GitRepo, tmp_path: Path) -> None:
    client = Client()
    files = tmp_path / "files"
    files.mkdir()
    for name, text in {"same.txt": "same", "changed.txt": "v1", "removed.txt": "bye"}.items():
        (files / name).write_text(text)
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors:\n  python_function: {}\n  sklearn: {}\n")
    (model / "model.pkl").write_bytes(b"v1")
    a = make_run(client, "a")
    for name in ("same.txt", "changed.txt", "removed.txt"):
        client.log_artifact(a, str(files / name))
    client.log_model_dir(a, str(model), "model")
    client.log_model_dir(a, str(model), "kept")
    b = make_run(client, "b")
    (files / "changed.txt").write_text("v2")
    (files / "added.txt").write_text("hello")
    for name in ("same.txt", "changed.txt", "added.txt"):
        client.log_artifact(b, str(files / name))
    (model / "model.pkl").write_bytes(b"v2!")
    client.log_model_dir(b, str(model), "model")
    client.log_model_dir(b, str(model), "extra")
    d = diff_lib.diff(client.store, a, b)
    arts = {r["path"]: r for r in d["artifacts"]}
    assert set(arts) == {"changed.txt", "removed.txt", "added.txt"}
    assert arts["changed.txt"]["change"] == "changed"
    assert (arts["changed.txt"]["a_size"], arts["changed.txt"]["b_size"]) == (2, 2)
    assert arts["changed.txt"]["a_id"] != arts["changed.txt"]["b_id"]
    assert arts["removed.txt"]["change"] == "removed" and arts["added.txt"]["b_size"] == 5
    models = {r["name"]: r for r in d["models"]}
    assert models["model"]["change"] == "changed"
    assert models["model"]["files"] == [{"path": "model.pkl", "change": "changed"}]
    assert models["model"]["b_flavors"] == ["python_function", "sklearn"]
    assert models["kept"]["change"] == "removed" and models["extra"]["change"] == "added"
    full = diff_lib.diff(client.store, a, b, all_keys=True)
    assert {r["path"]: r["change"] for r in full["artifacts"]}["same.txt"] == "equal"


def test_workspace_diff(two_runs: tuple[Client, str, str], repo: GitRepo) -> None:
    client, a, b = two_runs
    (repo / "params.yaml").write_text("lr: 0.3\nopt:\n  name: sgd\n  beta: 0.9\nseed: 1\n")
    (repo / "train.py").write_text("changed\n")
    d = diff_lib.diff(client.store, b)
    assert d["b"]["name"] == "workspace" and d["b"]["run_id"] is None
    params = {r["key"]: (r["a"], r["b"], r["change"]) for r in d["params"]}
    assert params == {
        "lr": (0.2, 0.3, "changed"),
        "opt.beta": (0.95, 0.9, "changed"),
        "opt.name": ("adam", "sgd", "changed"),
        "seed": (None, 1, "added"),
        "batch": (32, None, "removed"),
    }
    assert d["metrics"] is None and d["artifacts"] is None
    files = {f["path"]: f["change"] for f in d["code"]["files"]}
    assert files == {"train.py": "modified", "params.yaml": "added"}
    # no params file: the params section is left out with a note, not shown as all removed
    os.remove(repo / "params.yaml")
    d = diff_lib.diff(client.store, b)
    assert d["params"] is None and any("params.yaml" in n for n in d["notes"])
    # a params file elsewhere
    other = repo / "conf.yaml"
    other.write_text("lr: 0.2\nopt: {name: adam, beta: 0.95}\nbatch: 32\n")
    assert diff_lib.diff(client.store, b, params_file=str(other))["params"] == []


def test_same_names_labelled_by_id(repo: GitRepo) -> None:
    client = Client()
    a = make_run(client, "twin", params={"p": 1})
    b = make_run(client, "twin", params={"p": 2})
    d = diff_lib.diff(client.store, a, b)
    assert (d["a"]["label"], d["b"]["label"]) == (a[:8], b[:8])


def test_run_without_code_snapshot(repo: GitRepo) -> None:
    from gitml import runs

    store = Store.discover()
    w = runs.create(store, name="nocode", code=False)
    w.flush()
    client = Client()
    b = make_run(client, "withcode")
    d = diff_lib.diff(store, "nocode", b)
    assert any("nocode has no code snapshot" in n for n in d["notes"])
    assert {f["path"] for f in d["code"]["files"]} == {"README.md"}


def test_identical_runs(repo: GitRepo) -> None:
    client = Client()
    a = make_run(client, "a", params={"p": 1}, metrics={"m": 1.0})
    b = make_run(client, "b", params={"p": 1.0}, metrics={"m": 1.0})
    d = diff_lib.diff(client.store, a, b)
    assert d["params"] == [] and d["metrics"] == [] and d["code"]["files"] == []


def test_same_value() -> None:
    same = diff_lib.same_value
    assert same(1, 1.0) and same(float("nan"), float("nan"))
    assert not same(True, 1) and not same("1", 1) and not same(None, 0)
    assert same([1, {"a": 2}], [1.0, {"a": 2}]) and not same([1], [1, 2])
    assert diff_lib.flatten({"a": {"b": {"c": 1}}, "d": {}, "e": [1]}) == {
        "a.b.c": 1,
        "d": {},
        "e": [1],
    }


# --------------------------------------------------------------------------- CLI
def test_cli_table(two_runs: tuple[Client, str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    result = CliRunner().invoke(cli, ["diff", "alpha", "beta"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("a: alpha  ")
    assert "params:" in out and "opt.beta" in out and "removed" in out
    assert "+0.25" in out and "+50.0%" in out and "-50.0%" in out
    assert "code: 5 files changed" in out
    assert "R  moved.py → pkg_moved.py" in out
    assert "M  train.py" in out and "+2 -1" in out
    assert "artifacts: no differences" in out
    assert "diff --git" not in out
    coded = CliRunner().invoke(cli, ["diff", "alpha", "beta", "--code", "-U", "1"])
    assert "diff --git a/train.py b/train.py" in coded.output
    assert "@@ -2,4 +2,5 @@" in coded.output  # one line of context: one hunk
    full = CliRunner().invoke(cli, ["diff", "alpha", "beta", "--all-keys"])
    assert "opt.name" in full.output and "equal" in full.output
    assert "opt.name" not in out


def test_cli_json_and_md(two_runs: tuple[Client, str, str]) -> None:
    client, a, b = two_runs
    result = CliRunner().invoke(cli, ["diff", a[:6], b, "--format", "json", "--code"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["schema"] == "gitml.diff/1" and doc["a"]["run_id"] == a
    assert doc["code"]["patch"].startswith("diff --git")
    md = CliRunner().invoke(cli, ["diff", "alpha", "beta", "--format", "md", "--code"]).output
    assert md.startswith("# diff: alpha → beta")
    assert "## params" in md and "| lr | 0.1 | 0.2 | changed |" in md
    assert "| R | moved.py → pkg_moved.py | 0 |" in md
    assert "```diff\ndiff --git" in md


def test_cli_workspace(two_runs: tuple[Client, str, str], repo: GitRepo) -> None:
    (repo / "params.yaml").write_text("lr: 0.5\n")
    out = CliRunner().invoke(cli, ["diff", "beta"]).output
    assert "b: workspace" in out and "0.5" in out and "metrics:" not in out
    (repo / "params.yaml").write_text("lr: [unclosed\n")
    bad = CliRunner().invoke(cli, ["diff", "beta"])
    assert bad.exit_code == 1
    assert bad.output.startswith("Error: ") and "params.yaml is not valid YAML" in bad.output
    (repo / "params.yaml").write_text("- a list\n")
    bad = CliRunner().invoke(cli, ["diff", "beta"])
    assert bad.exit_code == 1 and "must hold a YAML mapping" in bad.output
    # a params file named explicitly must exist (the default params.yaml may be absent)
    bad = CliRunner().invoke(cli, ["diff", "beta", "--params-file", "nope.yaml"])
    assert bad.exit_code == 1 and "\n" not in bad.output.rstrip("\n")
    assert bad.output.startswith("Error: params file nope.yaml does not exist")


def test_cli_errors(two_runs: tuple[Client, str, str]) -> None:
    result = CliRunner().invoke(cli, ["diff", "alpha", "nosuchrun"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: no run matches 'nosuchrun'; run `gitml ls` to see run ids and names\n"
    )
    assert CliRunner().invoke(cli, ["diff"]).exit_code == 2
    assert CliRunner().invoke(cli, ["diff", "alpha", "beta", "--format", "csv"]).exit_code == 2


def test_cli_subprocess(two_runs: tuple[Client, str, str], repo: GitRepo) -> None:
    exe = shutil.which("gitml")
    assert exe, "the gitml entry point is installed"
    done = subprocess.run([exe, "diff", "alpha", "beta", "--format", "json"], cwd=repo,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {f["change"] for f in json.loads(done.stdout)["code"]["files"]} == {
        "modified", "added", "removed", "renamed"}  # fmt: skip
    bad = subprocess.run([exe, "diff", "zzzz"], cwd=repo, capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.startswith("Error: no run matches 'zzzz'")
    assert "Traceback" not in bad.stderr


def test_bare_repository(two_runs: tuple[Client, str, str], repo: GitRepo, tmp_path: Path,
                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """In a bare clone, two runs compare; the workspace form is a clear error."""
    bare = tmp_path / "bare.git"
    git("init", "-q", "--bare", str(bare))
    git("push", "-q", str(bare), "refs/gitml/*:refs/gitml/*", "main", cwd=repo)
    monkeypatch.chdir(bare)
    result = CliRunner().invoke(cli, ["diff", "alpha", "beta", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["code"]["changed"] == 5
    result = CliRunner().invoke(cli, ["diff", "alpha"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: a bare repository has no workspace; give two runs: gitml diff RUN_A RUN_B\n"
    )
