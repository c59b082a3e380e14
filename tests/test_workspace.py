"""Tests of `gitml branch` and `gitml apply` (gitml.workspace, gitml.cli.workspace)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import GitRepo, git

from gitml import runs
from gitml.cli import cli
from gitml.store import Store


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


# --------------------------------------------------------------------------- branch
def test_branch_holds_the_code_a_run_ran(repo: GitRepo) -> None:
    import gitml

    (repo / "README.md").write_text("# changed by the experiment\n")
    (repo / "train.py").write_text("print('new script')\n")
    with gitml.start_run(name="tweak") as run:
        pass
    before = (repo.git("status", "--porcelain"), repo.git("rev-parse", "HEAD"),
              (repo / ".git" / "index").read_bytes())  # fmt: skip
    code, out = invoke("branch", "tweak", "exp/tweak")
    assert code == 0, out
    tip = repo.git("rev-parse", "exp/tweak").strip()
    assert out.startswith(f"branch exp/tweak created at {tip[:7]} (the code of run tweak, on top")
    assert repo.git("rev-parse", "exp/tweak^").strip() == before[1].strip()  # the baseline
    assert repo.git("show", "exp/tweak:train.py") == "print('new script')\n"
    assert repo.git("show", "exp/tweak:README.md") == "# changed by the experiment\n"
    assert f"gitml-run: {run.info.run_id}" in repo.git("log", "-1", "--format=%B", "exp/tweak")
    assert "gitml branch: code of run tweak" in repo.git("reflog", "exp/tweak")
    after = (repo.git("status", "--porcelain"), repo.git("rev-parse", "HEAD"),
             (repo / ".git" / "index").read_bytes())  # fmt: skip
    assert after == before, "the workspace, HEAD and index are left alone"
    repo.fsck()


def test_branch_of_a_clean_run_is_its_baseline_and_exp_names_work(repo: GitRepo) -> None:
    import gitml

    with gitml.start_run(name="clean"):
        pass
    code, out = invoke("exp", "branch", "clean", "from-clean")
    assert code == 0 and "its workspace was clean" in out, out
    assert repo.git("rev-parse", "from-clean") == repo.git("rev-parse", "HEAD")
    code, out = invoke("exp", "show")
    assert code == 0 and "clean" in out and "FINISHED" in out
    assert invoke("exp", "remove", "clean")[0] == 0
    assert "clean" not in invoke("exp", "show")[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tweak", "bad..name"], "'bad..name' is not a valid branch name"),
        (["tweak", "-x"], "No such option"),
        (["tweak", "existing"], "branch 'existing' already exists; choose another name, or --force"),
        (["tweak", "main", "--force"], "branch 'main' is checked out; switch to another branch"),
        (["nosuch", "x"], "no run matches 'nosuch'"),
        (["bare", "x"], "has no code snapshot (recorded with --no-code); its baseline is"),
    ],
)
def test_branch_errors_change_nothing(repo: GitRepo, args: list[str], message: str) -> None:
    import gitml

    (repo / "train.py").write_text("x = 1\n")
    with gitml.start_run(name="tweak"):
        pass
    runs.create(Store.discover(), name="bare", code=False).flush()
    repo.git("branch", "existing")
    refs = repo.git("for-each-ref", "refs/heads")
    code, out = invoke("branch", *args)
    assert code == (2 if "option" in message else 1), out
    assert message in out and "Traceback" not in out
    assert repo.git("for-each-ref", "refs/heads") == refs


def test_branch_force_moves_an_existing_branch(repo: GitRepo) -> None:
    import gitml

    (repo / "train.py").write_text("x = 2\n")
    with gitml.start_run(name="tweak"):
        pass
    repo.git("branch", "existing")
    code, out = invoke("branch", "tweak", "existing", "--force")
    assert code == 0 and out.startswith("branch existing moved to"), out
    assert repo.git("show", "existing:train.py") == "x = 2\n"


# --------------------------------------------------------------------------- apply
def test_apply_puts_a_runs_code_in_the_workspace(repo: GitRepo) -> None:
    import gitml

    repo.commit_files({"train.py": "lr = 0.1\n", "old.py": "gone in the run\n",
                       "run.sh": "#!/bin/sh\necho hi\n"})  # fmt: skip
    (repo / "train.py").write_text("lr = 0.5\n")
    (repo / "new.py").write_text("added by the run\n")
    (repo / "old.py").unlink()
    (repo / "run.sh").chmod(0o755)
    with gitml.start_run(name="exp"):
        pass
    repo.git("checkout", "-q", "--", ".")  # back to the committed code
    repo.git("update-index", "--chmod=-x", "run.sh")
    (repo / "run.sh").chmod(0o644)
    (repo / "new.py").unlink()
    (repo / "notes.txt").write_text("mine, untracked\n")
    index_before = (repo / ".git" / "index").read_bytes()
    head_before = repo.head()
    code, out = invoke("exp", "apply", "exp")
    assert code == 0, out
    assert out.startswith("applied the code of run exp: 3 file(s) written, 1 removed")
    assert (repo / "train.py").read_text() == "lr = 0.5\n"
    assert (repo / "new.py").read_text() == "added by the run\n"
    assert not (repo / "old.py").exists()
    assert os.access(repo / "run.sh", os.X_OK)
    assert (repo / "notes.txt").read_text() == "mine, untracked\n"  # left in place
    assert (repo / ".git" / "index").read_bytes() == index_before and repo.head() == head_before
    code, out = invoke("apply", "exp")
    assert code == 0 and out.startswith("the workspace already has the code of run exp")


def test_apply_refuses_to_overwrite_uncommitted_work(repo: GitRepo) -> None:
    import gitml

    repo.commit_files({"train.py": "lr = 0.1\n"})
    (repo / "train.py").write_text("lr = 0.5\n")
    with gitml.start_run(name="exp"):
        pass
    (repo / "train.py").write_text("lr = 0.9  # my work in progress\n")
    code, out = invoke("apply", "exp")
    assert code == 1 and "uncommitted changes in train.py would be overwritten" in out
    assert (repo / "train.py").read_text() == "lr = 0.9  # my work in progress\n"
    code, out = invoke("apply", "exp", "--force")
    assert code == 0 and (repo / "train.py").read_text() == "lr = 0.5\n"


def test_apply_errors(repo: GitRepo) -> None:
    runs.create(Store.discover(), name="bare", code=False).flush()
    code, out = invoke("apply", "bare")
    assert code == 1 and "has no code snapshot (recorded with --no-code)" in out
    code, out = invoke("apply", "nosuch")
    assert code == 1 and "no run matches 'nosuch'" in out
    code, out = invoke("apply")
    assert code == 2 and "Missing argument 'RUN'" in out


def test_apply_leaves_submodules_alone(repo: GitRepo, tmp_path: Path) -> None:
    import gitml

    lib = tmp_path / "lib"
    git("init", "-q", "-b", "main", str(lib))
    (lib / "lib.py").write_text("x = 1\n")
    git("add", ".", cwd=lib)
    git("commit", "-qm", "lib", cwd=lib)
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "vendor/lib")
    repo.git("commit", "-qm", "add a submodule")
    (repo / "README.md").write_text("# tweaked\n")
    with gitml.start_run(name="with-sub"):
        pass
    repo.git("checkout", "-q", "--", "README.md")
    code, out = invoke("apply", "with-sub")
    assert code == 0, out
    assert out.startswith("applied the code of run with-sub: 1 file(s) written, 0 removed")
    assert (repo / "README.md").read_text() == "# tweaked\n"
    assert (repo / "vendor" / "lib" / "lib.py").read_text() == "x = 1\n"
    code, out = invoke("branch", "with-sub", "sub-branch")
    assert code == 0, out
    assert repo.git("ls-tree", "sub-branch", "vendor/lib").split()[1] == "commit"


def test_installed_command_branches_and_applies(repo: GitRepo) -> None:
    import shutil
    import subprocess

    import gitml

    exe = shutil.which("gitml")
    assert exe is not None, "the gitml entry point is installed by `pip install -e .`"
    (repo / "README.md").write_text("# from the run\n")
    with gitml.start_run(name="cli-run"):
        pass
    repo.git("checkout", "-q", "--", "README.md")
    done = subprocess.run([exe, "exp", "branch", "cli-run", "from-cli"], cwd=repo.path,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0 and done.stdout.startswith("branch from-cli created at"), done
    done = subprocess.run([exe, "exp", "apply", "cli-run"], cwd=repo.path, capture_output=True,
                          text=True)  # fmt: skip
    assert done.returncode == 0 and (repo / "README.md").read_text() == "# from the run\n"
    done = subprocess.run([exe, "branch", "cli-run", "from-cli"], cwd=repo.path,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr == (
        "Error: branch 'from-cli' already exists; choose another name, or --force to move it\n"
    )


def test_apply_in_a_bare_repository_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bare = tmp_path / "bare.git"
    git("init", "-q", "--bare", str(bare))
    monkeypatch.chdir(bare)
    code, out = invoke("apply", "anything")
    assert code == 1 and "a bare repository has no workspace to apply a run's code to" in out


def test_apply_refuses_a_code_tree_with_an_unsafe_path(repo: GitRepo) -> None:
    """A run pulled from someone else could carry a crafted tree: nothing leaves the workspace."""
    from gitml.store import MODE_FILE, MODE_TREE

    store = Store.discover()
    blob = store.add_blob(b"owned\n")
    inner = store.add_tree({"evil.txt": (MODE_FILE, blob)})
    crafted = store.add_tree({"..": (MODE_TREE, inner), "ok.txt": (MODE_FILE, blob)})
    w = runs.create(store, name="crafted", code=False)
    w.set_entry("code", (MODE_TREE, crafted))
    w.flush()
    code, out = invoke("apply", "crafted")
    assert code == 1 and "has an unsafe path in its code: '../evil.txt'" in out, out
    assert not (repo.path.parent / "evil.txt").exists() and not (repo.path / "ok.txt").exists()
